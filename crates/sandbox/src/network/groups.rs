//! Groups: who is in them (with admin flags), their subject, description, settings and
//! invite code, and the fan-out of group messages. A group message carries one
//! `skmsg` (the content, encrypted with the sender's key) for everyone, plus a
//! `pkmsg`/`msg` per device that still needs the sender key; the server gives every
//! member device (the sender's other devices included) the `skmsg` and its own
//! `pkmsg`/`msg`, as `from=<group> participant=<sending device>`. Groups address
//! members by phone number (`addressing_mode="pn"`).

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, Server};

use super::queue::Delivery;
use super::route::Routed;
use super::{Network, State, now_secs};
use crate::conn::ConnCommand;

/// A member's rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Member,
    Admin,
    SuperAdmin,
}

/// One group, members as bare phone-number JIDs.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// The user part of the group JID, e.g. `120363000000000001`.
    pub(crate) id: String,
    pub(crate) subject: String,
    pub(crate) subject_by: Jid,
    pub(crate) subject_at: u64,
    /// `(description id, text)`.
    pub(crate) description: Option<(String, String)>,
    pub(crate) creator: Jid,
    pub(crate) created: u64,
    pub(crate) participants: Vec<(Jid, Role)>,
    pub(crate) announcement: bool,
    pub(crate) locked: bool,
    pub(crate) invite: String,
    /// Counts invite revocations and notifications, for fresh codes and ids.
    pub(crate) generation: u64,
    /// The group's picture (a JPEG) and its id, once an admin set one.
    pub(crate) picture: Option<(u64, Vec<u8>)>,
}

impl Group {
    pub(crate) fn jid(&self) -> Jid {
        Jid::new(&self.id, Server::Group)
    }

    pub(crate) fn role_of(&self, user: &Jid) -> Option<Role> {
        self.participants.iter().find(|(p, _)| p.user == user.user).map(|(_, r)| *r)
    }

    /// `<group id subject creation creator s_t s_o addressing_mode><participant/>…</group>`,
    /// the shape the client parses for create, query, participating and invite info.
    pub(crate) fn node(&self) -> Node {
        let mut children: Vec<Node> = self
            .participants
            .iter()
            .map(|(jid, role)| {
                let p = NodeBuilder::new("participant").attr("jid", jid.clone());
                match role {
                    Role::Member => p.build(),
                    Role::Admin => p.attr("type", "admin").build(),
                    Role::SuperAdmin => p.attr("type", "superadmin").build(),
                }
            })
            .collect();
        if let Some((id, text)) = &self.description {
            let body = NodeBuilder::new("body").string_content(text.clone()).build();
            children.push(NodeBuilder::new("description").attr("id", id.clone()).children([body]).build());
        }
        if self.locked {
            children.push(NodeBuilder::new("locked").build());
        }
        if self.announcement {
            children.push(NodeBuilder::new("announcement").build());
        }
        NodeBuilder::new("group")
            .attr("id", self.id.clone())
            .attr("subject", self.subject.clone())
            .attr("s_t", self.subject_at.to_string())
            .attr("s_o", self.subject_by.clone())
            .attr("creation", self.created.to_string())
            .attr("creator", self.creator.clone())
            .attr("addressing_mode", "pn")
            .attr("size", self.participants.len().to_string())
            .children(children)
            .build()
    }
}

impl Network {
    /// Creates a group of `creator` (superadmin) and `members` (unknown users are
    /// skipped). Returns its `<group>` node.
    pub(crate) fn create_group(&self, creator: &Jid, subject: &str, members: &[Jid]) -> Option<Node> {
        let mut state = self.lock();
        let creator = state.pn_user(creator)?;
        state.issued_groups += 1;
        let now = now_secs();
        let id = format!("120363{:012}", state.issued_groups);
        let mut participants = vec![(creator.clone(), Role::SuperAdmin)];
        for member in members {
            if let Some(pn) = state.pn_user(member).filter(|pn| participants.iter().all(|(p, _)| p != pn)) {
                participants.push((pn, Role::Member));
            }
        }
        let group = Group {
            invite: invite_code(&id, 0),
            id: id.clone(),
            subject: subject.to_owned(),
            subject_by: creator.clone(),
            subject_at: now,
            description: None,
            creator,
            created: now,
            participants,
            announcement: false,
            locked: false,
            generation: 0,
            picture: None,
        };
        let node = group.node();
        state.groups.insert(id, group);
        Some(node)
    }

    /// Runs `f` on the group `jid` names, if it exists.
    /// The picture of the group whose JID's user part is `group`, if it has one.
    pub(crate) fn group_picture(&self, group: &str) -> Option<Vec<u8>> {
        self.lock().groups.get(group)?.picture.as_ref().map(|(_, jpeg)| jpeg.clone())
    }

    pub(crate) fn with_group<T>(&self, jid: &Jid, f: impl FnOnce(&mut Group) -> T) -> Option<T> {
        self.lock().groups.get_mut(jid.user.as_str()).map(f)
    }

    /// The groups `user` is a member of, as `<group>` nodes.
    pub(crate) fn groups_of(&self, user: &Jid) -> Vec<Node> {
        let state = self.lock();
        let Some(pn) = state.pn_user(user) else { return Vec::new() };
        state.groups.values().filter(|g| g.role_of(&pn).is_some()).map(Group::node).collect()
    }

    /// The bare phone-number JID of a user, if the network knows them.
    pub(crate) fn pn_user_of(&self, jid: &Jid) -> Option<Jid> {
        self.lock().pn_user(jid)
    }

    /// The group whose current invite code is `code`.
    pub(crate) fn group_by_invite(&self, code: &str) -> Option<Jid> {
        self.lock().groups.values().find(|g| g.invite == code).map(Group::jid)
    }

    /// A `<message to=group>` from `sender`: a copy for every member device but the
    /// sending one, then the server ack.
    pub(super) fn route_group_message(&self, sender: &Jid, group: &Jid, node: &Node, id: &str) -> Routed {
        let now = now_secs();
        let mut routed = Routed::default();
        let ack = NodeBuilder::new("ack")
            .attr("class", "message")
            .attr("id", id.to_owned())
            .attr("from", group.clone())
            .attr("t", now.to_string());
        let mut state = self.lock();
        let members: Vec<Jid> = match state.groups.get(group.user.as_str()) {
            // In an announcement group only admins send; the others are refused as
            // non-members are.
            Some(g) if g.announcement && g.role_of(sender) == Some(Role::Member) => return nack(routed, ack, "403"),
            Some(g) if g.role_of(sender).is_some() => g.participants.iter().map(|(p, _)| p.clone()).collect(),
            // Not a member (any more), or no such group.
            Some(_) => return nack(routed, ack, "403"),
            None => return nack(routed, ack, "404"),
        };
        // The per-device sender-key distributions, by phone-number device JID.
        let mut own: Vec<(Jid, Vec<Node>)> = Vec::new();
        if let Some(participants) = node.get_optional_child("participants") {
            for target in participants.get_children_by_tag("to") {
                let device = target.attrs().optional_jid("jid").and_then(|d| state.companion_pn(&d));
                if let Some(device) = device {
                    own.push((device, target.children().unwrap_or_default().to_vec()));
                }
            }
        }
        let shared: Vec<Node> =
            node.children().unwrap_or_default().iter().filter(|c| c.tag != "participants").cloned().collect();
        let notify = state.account_of(sender).map(|a| a.name.clone()).unwrap_or_default();
        let kind = node.attrs().optional_string("type").map_or_else(|| "text".to_owned(), |s| s.into_owned());
        let mut devices: Vec<Jid> = members.iter().flat_map(|m| state.companions_of(m)).collect();
        // A resend after a retry receipt names the one device that asked for it, and
        // carries its ciphertext straight under <message>.
        if let Some(target) = node.attrs().optional_jid("participant") {
            let target = state.companion_pn(&target);
            devices.retain(|d| Some(d) == target.as_ref());
        }
        devices.retain(|d| d != sender);
        for device in devices {
            let encs = own.iter().find(|(d, _)| *d == device).map(|(_, e)| e.clone()).unwrap_or_default();
            let copy = NodeBuilder::new("message")
                .attr("from", group.clone())
                .attr("participant", sender.clone())
                .attr("id", id.to_owned())
                .attr("t", now.to_string())
                .attr("type", kind.clone())
                .attr("notify", notify.clone())
                .attr("addressing_mode", "pn")
                // Session encs (the sender key) before the skmsg that needs it.
                .children(encs.into_iter().chain(shared.iter().cloned()))
                .build();
            routed.deliveries.extend(state.enqueue(&device, copy));
        }
        routed.reply.push(ack.build());
        routed
    }
}

impl Network {
    /// Tells every member device of `group` (but `author`'s device, which made the
    /// change) and the devices of `also` (e.g. removed users) about a change:
    /// `<notification type="w:gp2" from=group participant=author><action…/></notification>`.
    /// The stanzas are queued and written to live connections in the background.
    pub(crate) fn notify_group(&self, group: &Jid, author: &Jid, action: Node, also: &[Jid]) {
        let mut state = self.lock();
        let Some(g) = state.groups.get_mut(group.user.as_str()) else { return };
        g.generation += 1;
        let id = format!("gp2-{}-{}", g.id, g.generation);
        let mut devices = state.group_devices(group.user.as_str());
        devices.extend(also.iter().flat_map(|u| state.companions_of(u)));
        devices.dedup();
        let author_pn = state.companion_pn(author).unwrap_or_else(|| author.clone());
        let notification = NodeBuilder::new("notification")
            .attr("type", "w:gp2")
            .attr("from", group.clone())
            .attr("participant", author_pn.clone())
            .attr("id", id)
            .attr("t", now_secs().to_string())
            .children([action])
            .build();
        let deliveries: Vec<Delivery> = devices
            .into_iter()
            .filter(|d| *d != author_pn)
            .filter_map(|d| state.enqueue(&d, notification.clone()))
            .collect();
        drop(state);
        tokio::spawn(async move {
            for (handle, stanza) in deliveries {
                // A connection that closed meanwhile finds it in its queue later.
                let _ = handle.tx.send(ConnCommand::Deliver(stanza)).await;
            }
        });
    }
}

fn nack(mut routed: Routed, ack: NodeBuilder, code: &str) -> Routed {
    routed.reply.push(ack.attr("error", code.to_owned()).build());
    routed
}

/// A stable-looking invite code; `generation` changes it on revoke.
pub(crate) fn invite_code(group: &str, generation: u64) -> String {
    let digest = ring_free_hash(&format!("{group}/{generation}"));
    format!("SBX{digest:016X}")
}

fn ring_free_hash(text: &str) -> u64 {
    // FNV-1a: enough to make codes differ; they are not secrets in a sandbox.
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

impl State {
    /// The device JIDs of every member of `group` (for notifications).
    pub(super) fn group_devices(&self, group: &str) -> Vec<Jid> {
        let Some(g) = self.groups.get(group) else { return Vec::new() };
        g.participants.iter().flat_map(|(p, _)| self.companions_of(p)).collect()
    }
}

#[cfg(test)]
pub(super) mod tests {
    use wacore::iq::groups::GroupInfoResponse;
    use wacore::protocol::ProtocolNode as _;

    use super::*;
    use crate::phone_number::PhoneNumber;

    fn network_of(users: &[&str]) -> Network {
        let network = Network::default();
        for user in users {
            network.create_account(PhoneNumber::from_digits(user).unwrap(), (*user).to_owned()).unwrap();
        }
        network
    }

    pub(in crate::network) fn test_companion() -> super::super::account::Companion {
        let signed_prekey = super::super::SignedPreKey { id: 1, public: [0; 32], signature: Vec::new() };
        let keys = super::super::SignalKeys {
            registration_id: 1,
            identity: [0; 32],
            signed_prekey,
            one_time_prekeys: Default::default(),
        };
        super::super::account::Companion {
            key_index: 1,
            noise_public: [0; 32],
            keys,
            signed_identity: Vec::new(),
            platform: "test".into(),
        }
    }

    #[test]
    fn the_client_parses_the_group_node() {
        let network = network_of(&["15550001", "15550002"]);
        let node = network
            .create_group(&Jid::pn("15550001").with_device(1), "Friends", &[Jid::pn("15550002"), Jid::pn("1999")])
            .unwrap();
        let parsed = GroupInfoResponse::try_from_node(&node).unwrap();
        assert_eq!(parsed.id.server, Server::Group);
        assert!(parsed.id.user.starts_with("120363"), "{}", parsed.id);
        assert_eq!(parsed.subject.as_str(), "Friends");
        let members: Vec<(String, bool)> =
            parsed.participants.iter().map(|p| (p.jid.user.to_string(), p.participant_type.is_admin())).collect();
        assert_eq!(
            members,
            [("15550001".to_owned(), true), ("15550002".to_owned(), false)],
            "unknown users are skipped"
        );
    }

    #[test]
    fn sends_need_membership_and_a_retry_resend_reaches_one_device() {
        let network = network_of(&["15550001", "15550002", "15550003"]);
        let node = network.create_group(&Jid::pn("15550001"), "Friends", &[Jid::pn("15550002")]).unwrap();
        let group = Jid::group(node.attrs().optional_string("id").unwrap().as_ref());
        let error_of = |sender: &str, to: &Jid| {
            let routed = network.route_message(
                &Jid::pn(sender).with_device(1),
                &NodeBuilder::new("message").attr("id", "m1").attr("to", to.clone()).build(),
            );
            routed.reply[0].attrs().optional_string("error").map(|e| e.into_owned())
        };
        assert_eq!(error_of("15550001", &group), None);
        assert_eq!(error_of("15550003", &group).as_deref(), Some("403"));
        assert_eq!(error_of("15550001", &Jid::group("120363999")).as_deref(), Some("404"));
        network.with_group(&group, |g| g.announcement = true);
        assert_eq!(error_of("15550002", &group).as_deref(), Some("403"), "members may not send");
        assert_eq!(error_of("15550001", &group), None, "admins may");
        network.with_group(&group, |g| g.announcement = false);
        assert_eq!(error_of("15550002", &group), None);

        // Device 1 of each member is linked; a retry resend goes to the named one only.
        for user in ["15550001", "15550002"] {
            network.lock().account_of_mut(&Jid::pn(user)).unwrap().companions.insert(1, test_companion());
        }
        let bob = Jid::pn("15550002").with_device(1);
        let resend = NodeBuilder::new("message")
            .attr("id", "m2")
            .attr("to", group.clone())
            .attr("participant", bob.clone())
            .children([NodeBuilder::new("enc").attr("type", "msg").build()])
            .build();
        network.route_message(&Jid::pn("15550001").with_device(1), &resend);
        assert_eq!(network.pending(&bob), 1);
        let queued = network.drain(&bob, crate::conn::ConnId(1));
        let copy = queued.iter().find(|n| n.attrs().optional_string("id").as_deref() == Some("m2")).unwrap();
        assert_eq!(copy.attrs().optional_jid("from"), Some(group));
        assert_eq!(copy.attrs().optional_string("participant").as_deref(), Some("15550001:1@s.whatsapp.net"));
        assert_eq!(network.pending(&Jid::pn("15550001").with_device(1)), 0, "not back to the sender");
    }
}

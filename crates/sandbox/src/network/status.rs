//! Status broadcasts: a `<message to="status@broadcast">` is a group message whose
//! members are whoever the poster chose. Its `<participants>` names them, as devices
//! (`<to jid="…:1@lid">` with a `pkmsg`/`msg` carrying the sender key) and as bare
//! users (`<to jid="…@lid"/>`, who already hold the key). The server gives every
//! device of those users (the poster's other devices included) the shared `skmsg`
//! and its own ciphertext, as `from="status@broadcast" participant=<posting device>`.

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use super::route::Routed;
use super::{Network, now_secs};

impl Network {
    pub(super) fn route_status_message(&self, sender: &Jid, to: &Jid, node: &Node, id: &str) -> Routed {
        let now = now_secs();
        let mut routed = Routed::default();
        let mut state = self.lock();
        let mut users: Vec<Jid> = Vec::new();
        let mut own: Vec<(Jid, Vec<Node>)> = Vec::new();
        if let Some(participants) = node.get_optional_child("participants") {
            for target in participants.get_children_by_tag("to") {
                let Some(jid) = target.attrs().optional_jid("jid") else { continue };
                if let Some(user) = state.pn_user(&jid).filter(|u| !users.contains(u)) {
                    users.push(user);
                }
                let encs = target.children().unwrap_or_default();
                if let Some(device) = state.companion_pn(&jid).filter(|_| !encs.is_empty()) {
                    own.push((device, encs.to_vec()));
                }
            }
        }
        let mut devices: Vec<Jid> = users.iter().flat_map(|u| state.companions_of(u)).collect();
        // A resend after a retry receipt names the one device that asked for it, and
        // carries its ciphertext straight under <message>.
        if let Some(target) = node.attrs().optional_jid("participant") {
            devices = state.companion_pn(&target).into_iter().collect();
        }
        devices.retain(|d| d != sender);
        // `<meta status_setting>` is the poster's privacy, for the server only.
        let shared: Vec<Node> = node
            .children()
            .unwrap_or_default()
            .iter()
            .filter(|c| c.tag != "participants" && c.tag != "meta")
            .cloned()
            .collect();
        let notify = state.account_of(sender).map(|a| a.name.clone()).unwrap_or_default();
        let kind = node.attrs().optional_string("type").map_or_else(|| "text".to_owned(), |s| s.into_owned());
        for device in devices {
            let encs = own.iter().find(|(d, _)| *d == device).map(|(_, e)| e.clone()).unwrap_or_default();
            let copy = NodeBuilder::new("message")
                .attr("from", to.clone())
                .attr("participant", sender.clone())
                .attr("id", id.to_owned())
                .attr("t", now.to_string())
                .attr("type", kind.clone())
                .attr("notify", notify.clone())
                .children(encs.into_iter().chain(shared.iter().cloned()))
                .build();
            routed.deliveries.extend(state.enqueue(&device, copy));
        }
        let ack = NodeBuilder::new("ack")
            .attr("class", "message")
            .attr("id", id.to_owned())
            .attr("from", to.clone())
            .attr("t", now.to_string());
        routed.reply.push(ack.build());
        routed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phone_number::PhoneNumber;

    #[test]
    fn a_status_reaches_the_devices_of_the_users_it_names_only() {
        let network = Network::default();
        for user in ["15550001", "15550002", "15550003"] {
            network.create_account(PhoneNumber::from_digits(user).unwrap(), user.to_owned()).unwrap();
            network
                .lock()
                .account_of_mut(&Jid::pn(user))
                .unwrap()
                .companions
                .insert(1, super::super::groups::tests::test_companion());
        }
        let bob_lid = network.account(&PhoneNumber::from_digits("15550002").unwrap()).unwrap().lid;
        let bob_device: Jid = bob_lid.replace('@', ":1@").parse().unwrap();
        let enc = |kind: &'static str| NodeBuilder::new("enc").attr("type", kind).build();
        let status = NodeBuilder::new("message")
            .attr("id", "S1")
            .attr("to", Jid::status_broadcast())
            .attr("type", "text")
            .children([
                NodeBuilder::new("participants")
                    .children([
                        NodeBuilder::new("to").attr("jid", bob_device).children([enc("pkmsg")]).build(),
                        NodeBuilder::new("to").attr("jid", Jid::pn("15550001")).build(),
                    ])
                    .build(),
                NodeBuilder::new("meta").attr("status_setting", "contacts").build(),
                enc("skmsg"),
            ])
            .build();
        let alice = Jid::pn("15550001").with_device(1);
        let routed = network.route_message(&alice, &status);
        assert_eq!(routed.reply[0].attrs().optional_string("error"), None);

        let bob = Jid::pn("15550002").with_device(1);
        let queued = network.drain(&bob, crate::conn::ConnId(1));
        assert_eq!(queued.len(), 1);
        let copy = &queued[0];
        assert_eq!(copy.attrs().optional_jid("from"), Some(Jid::status_broadcast()));
        assert_eq!(copy.attrs().optional_jid("participant"), Some(alice.clone()));
        let tags: Vec<String> = copy
            .children()
            .unwrap()
            .iter()
            .map(|c| format!("{}:{}", c.tag, c.attrs().optional_string("type").unwrap_or_default()))
            .collect();
        assert_eq!(tags, ["enc:pkmsg", "enc:skmsg"], "its own sender key first, no meta");
        assert_eq!(network.pending(&Jid::pn("15550003").with_device(1)), 0, "not named, gets nothing");
        assert_eq!(network.pending(&alice), 0, "not back to the poster");
    }
}

//! Routing of 1:1 messages and receipts between devices, the way WhatsApp's server does
//! it: the sender encrypts once per recipient device (`<participants><to jid>`), the
//! server hands each device its own copy, acks the sender, and relays the receipts the
//! recipients send back. The world is phone-number addressed: LIDs in stanzas are
//! mapped to the account's phone-number JID.

use wacore_binary::builder::NodeBuilder;
use wacore_binary::jid::JidExt as _;
use wacore_binary::{Jid, Node};

use super::queue::{Delivery, Settle};
use super::{Network, State, now_secs};

/// What routing one stanza produced.
#[derive(Default)]
pub(crate) struct Routed {
    /// For the sending connection itself (acks, presence answers).
    pub(crate) reply: Vec<Node>,
    /// For other connections that are live now (the rest waits in queues).
    pub(crate) deliveries: Vec<Delivery>,
}

/// Receipt types that only tell the server "this device has it"; the peer never sees
/// them (DSM copies answer with `sender`, a device's own reads with `*-self`).
const LOCAL_RECEIPTS: [&str; 5] = ["sender", "peer_msg", "read-self", "played-self", "hist_sync"];

impl Network {
    /// A `<message>` from `sender`: one copy per addressed device, then the server ack.
    pub(crate) fn route_message(&self, sender: &Jid, node: &Node) -> Routed {
        let mut attrs = node.attrs();
        let (Some(id), Some(to)) = (attrs.optional_string("id"), attrs.optional_jid("to")) else {
            tracing::debug!("message without id or to, dropped");
            return Routed::default();
        };
        let id = id.into_owned();
        let now = now_secs();
        let mut routed = Routed::default();
        let ack = NodeBuilder::new("ack").attr("class", "message").attr("id", id.clone()).attr("from", to.clone());
        if to.is_group() {
            return self.route_group_message(sender, &to, node, &id);
        }
        if to.is_status_broadcast() {
            return self.route_status_message(sender, &to, node, &id);
        }
        let mut state = self.lock();
        let fan_out = node.get_optional_child("participants").is_some();
        if fan_out && !state.seen.first_time(&sender.user, &id) {
            tracing::info!(%sender, %id, "message sent again under the same id: acknowledged, not delivered twice");
            routed.reply.push(ack.attr("t", now.to_string()).build());
            return routed;
        }
        let chat = state.pn_user(&to);
        // Everything besides the per-device ciphertexts goes to every device as is.
        let shared: Vec<Node> = node
            .children()
            .unwrap_or_default()
            .iter()
            .filter(|c| c.tag != "participants" && c.tag != "enc")
            .cloned()
            .collect();
        let mut copies: Vec<(Jid, Vec<Node>)> = Vec::new();
        if let Some(participants) = node.get_optional_child("participants") {
            for target in participants.get_children_by_tag("to") {
                if let Some(device) = target.attrs().optional_jid("jid") {
                    copies.push((device, target.children().unwrap_or_default().to_vec()));
                }
            }
        } else {
            // A retry resend: one ciphertext straight under <message>, for `to` only.
            copies.push((to.clone(), node.get_children_by_tag("enc").cloned().collect()));
        }
        let notify = state.account_of(sender).map(|a| a.name.clone()).unwrap_or_default();
        let recipient_attr = node.attrs().optional_jid("recipient");
        for (device, encs) in copies {
            // The simulated phones never connect, so nothing is kept for them.
            let Some(device) = state.companion_pn(&device).filter(|d| d != sender) else { continue };
            let mut copy = NodeBuilder::new("message")
                .attr("from", sender.clone())
                .attr("id", id.clone())
                .attr("t", now.to_string())
                .attr("type", attrs_or(node, "type", "text"))
                .attr("notify", notify.clone());
            if let Some(edit) = node.attrs().optional_string("edit") {
                copy = copy.attr("edit", edit.into_owned());
            }
            // A copy for the sender's own other device names the chat it belongs to.
            let recipient = recipient_attr.clone().or_else(|| chat.clone().filter(|c| c.user != sender.user));
            if let Some(recipient) = recipient.filter(|_| device.user == sender.user) {
                copy = copy.attr("recipient", recipient);
            }
            let copy = copy.children(encs.into_iter().chain(shared.iter().cloned())).build();
            routed.deliveries.extend(state.enqueue(&device, copy));
        }
        routed.reply.push(ack.attr("t", now.to_string()).build());
        routed
    }

    /// A `<receipt>` from `sender`: settles the messages it names in the sender's queue
    /// and relays it to the devices of the message's author.
    pub(crate) fn route_receipt(&self, sender: &Jid, node: &Node) -> Routed {
        let mut attrs = node.attrs();
        let (Some(id), Some(to)) = (attrs.optional_string("id"), attrs.optional_jid("to")) else {
            return Routed::default();
        };
        let id = id.into_owned();
        let kind = attrs.optional_string("type").map(|s| s.into_owned());
        let participant = attrs.optional_jid("participant");
        let mut ids = vec![id.clone()];
        if let Some(list) = node.get_optional_child("list") {
            ids.extend(
                list.get_children_by_tag("item").filter_map(|i| i.attrs().optional_string("id")).map(Into::into),
            );
        }
        self.settle(sender, Settle::Messages(&ids));
        let mut routed = Routed::default();
        let mut ack = NodeBuilder::new("ack").attr("class", "receipt").attr("id", id.clone()).attr("from", to.clone());
        if let Some(kind) = &kind {
            ack = ack.attr("type", kind.clone());
        }
        routed.reply.push(ack.build());
        if kind.as_deref().is_some_and(|k| LOCAL_RECEIPTS.contains(&k)) {
            return routed;
        }
        // Receipts for group messages and statuses name the message's author.
        let shared_chat = to.is_group() || to.is_status_broadcast();
        let author = if shared_chat { participant.clone() } else { participant.clone().or(Some(to.clone())) };
        let Some(author) = author else { return routed };
        let mut relay = if shared_chat {
            NodeBuilder::new("receipt").attr("from", to.clone()).attr("participant", sender.clone())
        } else {
            NodeBuilder::new("receipt").attr("from", sender.clone())
        };
        relay = relay.attr("id", id);
        // `inactive` is a delivery by a client that is not in the foreground; senders
        // show it as delivered, so it is relayed as a plain delivery.
        if let Some(kind) = kind.filter(|k| k != "inactive") {
            relay = relay.attr("type", kind);
        }
        let t = node.attrs().optional_string("t").map_or_else(|| now_secs().to_string(), |t| t.into_owned());
        relay = relay.attr("t", t);
        if let Some(recipient) = node.attrs().optional_jid("recipient") {
            relay = relay.attr("recipient", recipient);
        }
        // Children (`<list>`, and a retry's `<retry>`, `<registration>`, `<keys>`) go as is.
        let relay = relay.children(node.children().unwrap_or_default().iter().cloned()).build();
        let mut state = self.lock();
        let retry_target = state.companion_pn(&author).filter(|_| relay_is_retry(&relay));
        let targets = match retry_target {
            // A retry asks the one device that sent the message to send it again.
            Some(device) => vec![device],
            None => state.companions_of(&author),
        };
        for device in targets.into_iter().filter(|d| d != sender) {
            routed.deliveries.extend(state.enqueue(&device, relay.clone()));
        }
        routed
    }

    /// An `<ack>` from a device: it has the stanza, which leaves its queue.
    pub(crate) fn route_ack(&self, sender: &Jid, node: &Node) {
        let mut attrs = node.attrs();
        let (Some(class), Some(id)) = (attrs.optional_string("class"), attrs.optional_string("id")) else {
            return;
        };
        if class == "message" {
            self.settle(sender, Settle::Messages(&[id.into_owned()]));
            return;
        }
        let kind = attrs.optional_string("type");
        let from = attrs.optional_jid("to");
        let settle = Settle::Other { tag: &class, id: &id, kind: kind.as_deref(), from: from.as_ref() };
        self.settle(sender, settle);
    }
}

fn relay_is_retry(node: &Node) -> bool {
    node.attrs().optional_string("type").as_deref() == Some("retry")
}

fn attrs_or(node: &Node, key: &str, default: &str) -> String {
    node.attrs().optional_string(key).map_or_else(|| default.to_owned(), |s| s.into_owned())
}

impl State {
    /// The bare phone-number JID of the user `jid` names (PN or LID form), if known.
    pub(super) fn pn_user(&self, jid: &Jid) -> Option<Jid> {
        self.account_of(jid).map(|a| a.pn_jid())
    }

    /// The phone-number JID of a linked companion device, if `jid` names one.
    pub(super) fn companion_pn(&self, jid: &Jid) -> Option<Jid> {
        let account = self.account_of(jid)?;
        account.companions.contains_key(&jid.device).then(|| account.pn_jid().with_device(jid.device))
    }

    /// Every linked companion of the user `jid` names.
    pub(super) fn companions_of(&self, jid: &Jid) -> Vec<Jid> {
        let Some(account) = self.account_of(jid) else { return Vec::new() };
        account.companions.keys().map(|id| account.pn_jid().with_device(*id)).collect()
    }
}

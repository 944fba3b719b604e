//! Store and forward: every stanza for a device (message, receipt, notification) waits
//! in that device's queue until the device acknowledges it, with a `<receipt>` for a
//! message or an `<ack>` for the rest. A device that is connected and past its offline
//! drain gets new stanzas at once; anything still unacknowledged when it reconnects is
//! sent again with `offline="1"`, which is what the client expects from WhatsApp.

use std::collections::VecDeque;

use wacore_binary::{Jid, Node, NodeContent};

use super::{Network, State};
use crate::conn::{ConnHandle, ConnId};

/// One stanza waiting for a device's acknowledgement.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    pub(crate) node: Node,
    /// The connection it was last written to; a newer connection gets it again.
    sent_on: Option<ConnId>,
}

impl Queued {
    fn attr(&self, key: &str) -> Option<String> {
        self.node.attrs().optional_string(key).map(|s| s.into_owned())
    }
}

/// What a device acknowledged, as read from its `<receipt>` or `<ack>`.
pub(crate) enum Settle<'a> {
    /// Messages with these ids (a receipt of any type, or `<ack class="message">`).
    Messages(&'a [String]),
    /// One stanza of another class: `<ack class id [type] [to]>`; `to` names the
    /// stanza's `from`, which tells apart receipts for one id from several devices.
    Other { tag: &'a str, id: &'a str, kind: Option<&'a str>, from: Option<&'a Jid> },
}

/// A stanza to write to a live connection now.
pub(crate) type Delivery = (ConnHandle, Node);

impl State {
    /// Queues `node` for `device`; returns it with the connection to write it to if the
    /// device is live now.
    pub(super) fn enqueue(&mut self, device: &Jid, mut node: Node) -> Option<Delivery> {
        if node.tag == "message" && self.garble_next.remove(device) {
            garble(&mut node);
        }
        let held = node.tag == "receipt" && self.hold_receipts.contains(device);
        let live = self.live_handle(device).filter(|_| !held);
        let queue = self.queues.entry(device.clone()).or_default();
        queue.push_back(Queued { node: node.clone(), sent_on: live.as_ref().map(|h| h.id) });
        live.map(|handle| (handle, node))
    }
}

/// Flips a bit in each ciphertext of a message, as a corrupted transmission would:
/// the recipient's client cannot decrypt it and asks the sender to retry.
fn garble(message: &mut Node) {
    let Some(NodeContent::Nodes(children)) = message.content.as_mut() else { return };
    for enc in children.iter_mut().filter(|c| c.tag == "enc") {
        if let Some(NodeContent::Bytes(bytes)) = enc.content.as_mut()
            && let Some(last) = bytes.last_mut()
        {
            *last ^= 0x01;
        }
    }
}

impl Network {
    /// The device finished logging in on connection `conn`: returns every stanza it has
    /// not seen on this connection, marked `offline`, and from now on delivers live.
    pub(crate) fn drain(&self, device: &Jid, conn: ConnId) -> Vec<Node> {
        let mut state = self.lock();
        state.live.insert(device.clone(), conn);
        state.hold_receipts.remove(device);
        let Some(queue) = state.queues.get_mut(device) else { return Vec::new() };
        queue
            .iter_mut()
            .filter(|q| q.sent_on != Some(conn))
            .map(|q| {
                q.sent_on = Some(conn);
                let mut node = q.node.clone();
                node.attrs.insert("offline", "1");
                node
            })
            .collect()
    }

    /// Drops what `device` acknowledged from its queue.
    pub(crate) fn settle(&self, device: &Jid, settle: Settle<'_>) {
        let mut state = self.lock();
        let Some(queue) = state.queues.get_mut(device) else { return };
        settle_queue(queue, &settle);
    }

    /// How many stanzas wait for `device` (delivered or not).
    pub(crate) fn pending(&self, device: &Jid) -> usize {
        self.lock().queues.get(device).map_or(0, VecDeque::len)
    }
}

fn settle_queue(queue: &mut VecDeque<Queued>, settle: &Settle<'_>) {
    match settle {
        Settle::Messages(ids) => {
            queue.retain(|q| !(q.node.tag == "message" && q.attr("id").is_some_and(|id| ids.contains(&id))));
        }
        Settle::Other { tag, id, kind, from } => {
            // Only the first match: two receipts of one type for one id differ only by
            // sender, and an ack may not name it.
            let matches = |q: &Queued| {
                q.node.tag == *tag
                    && q.attr("id").as_deref() == Some(*id)
                    && (*tag != "receipt" || q.attr("type").as_deref() == *kind)
                    && from.is_none_or(|from| q.node.attrs().optional_jid("from").as_ref() == Some(from))
            };
            if let Some(position) = queue.iter().position(matches) {
                queue.remove(position);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use wacore_binary::builder::NodeBuilder;

    use super::*;

    fn queued(tag: &'static str, id: &str, kind: Option<&str>, from: &str) -> Queued {
        let mut node = NodeBuilder::new(tag).attr("id", id).attr("from", from.parse::<Jid>().unwrap());
        if let Some(kind) = kind {
            node = node.attr("type", kind);
        }
        Queued { node: node.build(), sent_on: None }
    }

    #[test]
    fn receipts_settle_messages_and_acks_settle_one_receipt() {
        let mut queue: VecDeque<Queued> = [
            queued("message", "m1", Some("text"), "1555:1@s.whatsapp.net"),
            queued("message", "m2", Some("text"), "1555:1@s.whatsapp.net"),
            queued("receipt", "m9", None, "1666:1@s.whatsapp.net"),
            queued("receipt", "m9", None, "1666:2@s.whatsapp.net"),
            queued("receipt", "m9", Some("read"), "1666:1@s.whatsapp.net"),
        ]
        .into();
        settle_queue(&mut queue, &Settle::Messages(&["m1".to_owned(), "m9".to_owned()]));
        assert_eq!(queue.len(), 4, "a message id does not settle receipts");
        let from: Jid = "1666:2@s.whatsapp.net".parse().unwrap();
        settle_queue(&mut queue, &Settle::Other { tag: "receipt", id: "m9", kind: None, from: Some(&from) });
        let left: Vec<_> = queue.iter().map(|q| (q.node.tag.to_string(), q.attr("from"), q.attr("type"))).collect();
        assert_eq!(
            left,
            [
                ("message".into(), Some("1555:1@s.whatsapp.net".into()), Some("text".into())),
                ("receipt".into(), Some("1666:1@s.whatsapp.net".into()), None),
                ("receipt".into(), Some("1666:1@s.whatsapp.net".into()), Some("read".into())),
            ]
        );
    }
}

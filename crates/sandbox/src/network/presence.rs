//! Presence and chat states: ephemeral, so they only reach devices that are live
//! now and are never queued, as on WhatsApp.

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use super::route::Routed;
use super::{Network, State, now_secs};
use crate::conn::ConnHandle;

impl Network {
    /// `<presence type="available|unavailable|subscribe|unsubscribe">` from `sender`.
    pub(crate) fn route_presence(&self, sender: &Jid, node: &Node) -> Routed {
        let mut attrs = node.attrs();
        let kind = attrs.optional_string("type").map(|s| s.into_owned()).unwrap_or_default();
        let to = attrs.optional_jid("to");
        let mut state = self.lock();
        let mut routed = Routed::default();
        match (kind.as_str(), to) {
            ("available" | "unavailable", _) => {
                let user = sender.user.to_string();
                let available = kind == "available";
                if available {
                    state.available.insert(user.clone());
                } else {
                    state.available.remove(&user);
                }
                let update = presence_of(&sender.to_non_ad(), available);
                let watchers: Vec<Jid> = state.subscribers.get(&user).into_iter().flatten().cloned().collect();
                routed.deliveries =
                    watchers.iter().filter_map(|d| state.live_handle(d)).map(|h| (h, update.clone())).collect();
            }
            ("subscribe", Some(to)) => {
                let Some(target) = state.pn_user(&to) else { return routed };
                state.subscribers.entry(target.user.to_string()).or_default().insert(sender.clone());
                let available = state.available.contains(target.user.as_str());
                routed.reply.push(presence_of(&target, available));
            }
            ("unsubscribe", Some(to)) => {
                if let Some(target) = state.pn_user(&to) {
                    state.subscribers.entry(target.user.to_string()).or_default().remove(sender);
                }
            }
            _ => tracing::debug!(%kind, "presence ignored"),
        }
        routed
    }

    /// `<chatstate to><composing|paused/></chatstate>`: relayed to the peer's live devices.
    pub(crate) fn route_chatstate(&self, sender: &Jid, node: &Node) -> Routed {
        let Some(to) = node.attrs().optional_jid("to") else { return Routed::default() };
        let state = self.lock();
        let relay = NodeBuilder::new("chatstate")
            .attr("from", sender.to_non_ad())
            .children(node.children().unwrap_or_default().iter().cloned())
            .build();
        Routed { reply: Vec::new(), deliveries: state.to_live_companions(&to, sender, &relay) }
    }
}

impl Network {
    /// A device went offline. When it was its user's last connected device and the
    /// user was available, subscribers learn that the user is now unavailable.
    pub(crate) fn device_left(&self, device: &Jid) -> Vec<(ConnHandle, Node)> {
        let mut state = self.lock();
        let user = device.user.to_string();
        if state.online.keys().any(|d| d.user == device.user) || !state.available.remove(&user) {
            return Vec::new();
        }
        let update = presence_of(&device.to_non_ad(), false);
        let watchers: Vec<Jid> = state.subscribers.get(&user).into_iter().flatten().cloned().collect();
        watchers.iter().filter_map(|d| state.live_handle(d)).map(|h| (h, update.clone())).collect()
    }
}

impl State {
    /// `node` for every connected device of `to` but `sender`: what reaches only those
    /// online now (chat states, call offers), never queued.
    pub(super) fn to_live_companions(&self, to: &Jid, sender: &Jid, node: &Node) -> Vec<(ConnHandle, Node)> {
        self.companions_of(to)
            .iter()
            .filter(|d| *d != sender)
            .filter_map(|d| self.live_handle(d))
            .map(|h| (h, node.clone()))
            .collect()
    }

    /// The connection of a device that is past its offline drain.
    pub(super) fn live_handle(&self, device: &Jid) -> Option<ConnHandle> {
        let id = self.live.get(device)?;
        self.online.get(device).filter(|h| h.id == *id).cloned()
    }
}

/// `<presence from [type="unavailable" last]>`, the shape the client parses.
fn presence_of(user: &Jid, available: bool) -> Node {
    let presence = NodeBuilder::new("presence").attr("from", user.clone());
    if available {
        presence.build()
    } else {
        presence.attr("type", "unavailable").attr("last", now_secs().to_string()).build()
    }
}

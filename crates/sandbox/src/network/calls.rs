//! Calls: signalling only. A `<call>` stanza from a device (an offer, a reject, a
//! terminate…) goes to the devices of the user it names that are connected now, with
//! the caller's identity stamped on it as WhatsApp's server does; the sender gets the
//! server's `<ack class="call">`. Nothing is queued for a device that is offline (a
//! call rings now or not at all) and no relay or media is simulated.

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use super::route::Routed;
use super::{Network, now_secs};

/// The app version the sandbox names as the caller's (whatsapp-rust only shows it).
const CALLER_VERSION: &str = "2.25.37.76";

impl Network {
    /// `<call to id><offer|reject|terminate call-id call-creator …/></call>` from `sender`.
    pub(crate) fn route_call(&self, sender: &Jid, node: &Node) -> Routed {
        let mut attrs = node.attrs();
        let (Some(id), Some(to)) = (attrs.optional_string("id"), attrs.optional_jid("to")) else {
            tracing::debug!("call without id or to, dropped");
            return Routed::default();
        };
        let id = id.into_owned();
        let action = node.children().and_then(|c| c.first()).map(|c| c.tag.to_string()).unwrap_or_default();
        let mut routed = Routed::default();
        routed.reply.push(
            NodeBuilder::new("ack")
                .attr("class", "call")
                .attr("type", action)
                .attr("id", id.clone())
                .attr("from", to.clone())
                .build(),
        );
        let state = self.lock();
        let notify = state.account_of(sender).map(|a| a.name.clone()).unwrap_or_default();
        let relay = NodeBuilder::new("call")
            .attr("from", sender.clone())
            .attr("id", id)
            .attr("t", now_secs().to_string())
            .attr("notify", notify)
            .attr("platform", "android")
            .attr("version", CALLER_VERSION)
            .children(node.children().unwrap_or_default().iter().cloned())
            .build();
        routed.deliveries = state.to_live_companions(&to, sender, &relay);
        routed
    }
}

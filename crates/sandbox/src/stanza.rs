//! Builders for the nodes the server sends on its own initiative (not IQ answers).

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, Server};

/// `s.whatsapp.net`, the server's own JID, as the real server writes it (a JID, not a string).
pub(crate) fn server_jid() -> Jid {
    Jid::new("", Server::Pn)
}

/// `<success t lid/>`: login accepted. The client reads only `t` (clock skew) and `lid`.
pub(crate) fn success(now: u64, lid: &Jid) -> Node {
    NodeBuilder::new("success").attr("t", now.to_string()).attr("lid", lid.clone()).build()
}

/// `<failure reason/>`: login refused. 401 makes the client log out for good.
pub(crate) fn failure(reason: u16) -> Node {
    NodeBuilder::new("failure").attr("reason", reason.to_string()).attr("location", "sandbox").build()
}

/// `<stream:error code/>`; 515 asks the client to reconnect at once (after pairing).
pub(crate) fn stream_error(code: u16) -> Node {
    NodeBuilder::new("stream:error").attr("code", code.to_string()).build()
}

/// `<failure reason="402" code expire/>`: the number is banned for `expire_secs`.
pub(crate) fn temporary_ban(code: u16, expire_secs: u64) -> Node {
    NodeBuilder::new("failure")
        .attr("reason", "402")
        .attr("code", code.to_string())
        .attr("expire", expire_secs.to_string())
        .attr("location", "sandbox")
        .build()
}

/// The phone unlinked this device.
pub(crate) fn device_removed() -> Node {
    let conflict = NodeBuilder::new("conflict").attr("type", "device_removed").build();
    NodeBuilder::new("stream:error").attr("code", "401").children([conflict]).build()
}

/// `<stream:error><conflict type="replaced"/></stream:error>`: another connection
/// logged in as the same device.
pub(crate) fn replaced() -> Node {
    let conflict = NodeBuilder::new("conflict").attr("type", "replaced").build();
    NodeBuilder::new("stream:error").children([conflict]).build()
}

/// `<ib><offline count/></ib>`: the end of the offline queue. Until it arrives the
/// client holds back readiness (up to 60 s) and every send.
pub(crate) fn offline_done(count: usize) -> Node {
    let offline = NodeBuilder::new("offline").attr("count", count.to_string()).build();
    NodeBuilder::new("ib").children([offline]).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_jid_displays_as_the_client_expects() {
        assert_eq!(server_jid().to_string(), "s.whatsapp.net");
    }
}

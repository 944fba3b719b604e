//! The small startup and housekeeping IQs.

use wacore_binary::Jid;
use wacore_binary::builder::NodeBuilder;

use super::{Answer, Context, IqError, Request, result, result_with};
use crate::network::now_secs;

/// Keepalive `w:p`: the client pings when idle; `t` feeds its clock-skew estimate.
pub(super) fn ping(request: &Request<'_>) -> Answer {
    let mut pong = result(request);
    pong.attrs.insert("t", now_secs().to_string());
    Ok(vec![pong])
}

/// `<active/>` or `<passive/>`. After `<active/>` the session sends the offline queue
/// and its end marker (see `conn::session`).
pub(super) fn passive(request: &Request<'_>) -> Answer {
    Ok(vec![result(request)])
}

/// A/B experiment props: none, so every experiment takes the client's default.
pub(super) fn ab_props(request: &Request<'_>) -> Answer {
    let props = NodeBuilder::new("props").attr("protocol", "1").attr("hash", "sandbox").build();
    Ok(vec![result_with(request, [props])])
}

/// Nobody is blocked (blocking is not modelled yet).
pub(super) fn blocklist(request: &Request<'_>) -> Answer {
    if request.is_set {
        return Ok(vec![result(request)]);
    }
    Ok(vec![result_with(request, [NodeBuilder::new("list").build()])])
}

/// Privacy settings: everything visible to everyone, read receipts on.
pub(super) fn privacy(request: &Request<'_>) -> Answer {
    if request.is_set {
        return Ok(vec![result(request)]);
    }
    let settings = [
        ("last", "all"),
        ("online", "all"),
        ("profile", "all"),
        ("status", "all"),
        ("groupadd", "all"),
        ("readreceipts", "all"),
        ("calladd", "all"),
    ];
    let categories = settings
        .into_iter()
        .map(|(name, value)| NodeBuilder::new("category").attr("name", name).attr("value", value).build());
    Ok(vec![result_with(request, [NodeBuilder::new("privacy").children(categories).build()])])
}

/// Multi-device management. A logged-in client uses it to log itself out.
pub(super) fn md(context: &Context<'_>, request: &Request<'_>) -> Answer {
    let Some(remove) = request.node.get_optional_child("remove-companion-device") else {
        return Err(IqError::NOT_IMPLEMENTED);
    };
    let target = remove.attrs().optional_jid("jid").ok_or(IqError::BAD_REQUEST)?;
    // A companion may only remove itself; removing others is the phone's job.
    if !same_device(&target, context.device) {
        return Err(IqError { code: 403, text: "forbidden" });
    }
    context.network.unlink(context.device).map_err(|_| IqError::NOT_FOUND)?;
    tracing::info!(device = %context.device, "device logged itself out");
    Ok(vec![result(request)])
}

fn same_device(a: &Jid, b: &Jid) -> bool {
    a.user == b.user && a.device == b.device && a.server == b.server
}

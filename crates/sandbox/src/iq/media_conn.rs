//! `w:m`: the media servers' route and auth token. The one host is the sandbox
//! itself; clients build `https://{hostname}/mms/...` from it (their HTTP client
//! must send that to the sandbox over plain HTTP, as `SandboxHttpClient` does).

use wacore_binary::builder::NodeBuilder;

use super::{Answer, Context, IqError, Request, result_with};
use crate::media::{AUTH_TTL_SECS, ROUTE_TTL_SECS};

pub(super) fn answer(context: &Context<'_>, request: &Request<'_>) -> Answer {
    if !request.is_set || request.node.get_optional_child("media_conn").is_none() {
        return Err(IqError::BAD_REQUEST);
    }
    let media = context.media;
    let host = NodeBuilder::new("host").attr("hostname", media.host().to_owned()).attr("type", "primary").build();
    let conn = NodeBuilder::new("media_conn")
        .attr("auth", media.auth().to_owned())
        .attr("ttl", ROUTE_TTL_SECS.to_string())
        .attr("auth_ttl", AUTH_TTL_SECS.to_string())
        .attr("max_buckets", "12")
        .children([host])
        .build();
    Ok(vec![result_with(request, [conn])])
}

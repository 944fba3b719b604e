//! `w:profile:picture`: group pictures. A member allowed to edit the group's info (an
//! admin, or anyone while the group is not locked) sets one (`<picture type="image">`
//! with the JPEG's bytes; `target` the group) or removes it (no child). Anyone asks
//! for one (`<picture type="preview|image" query="url"/>`; `target` the group or a
//! user). Users have no pictures in the sandbox: asking for one answers as WhatsApp
//! does for someone without a picture.

use wacore_binary::NodeContent;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::jid::JidExt as _;

use super::{Answer, Context, IqError, Request, result_with};
use crate::network::Role;

const NOT_ALLOWED: IqError = IqError { code: 401, text: "not-authorized" };

pub(super) fn answer(context: &Context<'_>, request: &Request<'_>) -> Answer {
    let target = request.node.attrs().optional_jid("target").ok_or(IqError::BAD_REQUEST)?;
    if !request.is_set {
        let picture = match target.is_group() {
            true => context.network.with_group(&target, |g| g.picture.as_ref().map(|(id, _)| *id)).flatten(),
            false => None,
        };
        let node = match picture {
            Some(id) => NodeBuilder::new("picture")
                .attr("id", id.to_string())
                .attr("type", "image")
                .attr("url", format!("https://{}/pp/{}/{id}", context.media.host(), target.user))
                .attr("direct_path", format!("/pp/{}/{id}", target.user))
                .build(),
            None => NodeBuilder::new("picture")
                .children([NodeBuilder::new("error").attr("code", "404").attr("text", "item-not-found").build()])
                .build(),
        };
        return Ok(vec![result_with(request, [node])]);
    }
    if !target.is_group() {
        return Err(IqError::NOT_IMPLEMENTED);
    }
    let me = context.network.pn_user_of(context.device).ok_or(IqError::BAD_REQUEST)?;
    let jpeg = request.node.get_optional_child("picture").map(|p| match &p.content {
        Some(NodeContent::Bytes(bytes)) => bytes.clone(),
        _ => Vec::new(),
    });
    if jpeg.as_ref().is_some_and(|bytes| !bytes.starts_with(&[0xFF, 0xD8, 0xFF])) {
        return Err(IqError::BAD_REQUEST);
    }
    let id = context
        .network
        .with_group(&target, |g| {
            let allowed = match g.role_of(&me) {
                Some(Role::Member) => !g.locked,
                Some(_) => true,
                None => false,
            };
            if !allowed {
                return Err(NOT_ALLOWED);
            }
            g.generation += 1;
            let id = g.generation;
            g.picture = jpeg.map(|bytes| (id, bytes));
            Ok(id)
        })
        .ok_or(IqError::NOT_FOUND)??;
    Ok(vec![result_with(request, [NodeBuilder::new("picture").attr("id", id.to_string()).build()])])
}

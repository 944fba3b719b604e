//! `usync`: the user directory. Answers the device, contact (is-on-WhatsApp) and LID
//! protocols for sandbox accounts; other protocols are left out of the answer, which
//! the client reads as "nothing to report" (a `<business>` node, for instance, would
//! make every user a business).

use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

use super::{Answer, Context, IqError, Request, result_with};
use crate::network::UserDevices;

pub(super) fn answer(context: &Context<'_>, request: &Request<'_>) -> Answer {
    let usync = request.node.get_optional_child("usync").ok_or(IqError::BAD_REQUEST)?;
    let protocols: Vec<&str> = usync
        .get_optional_child("query")
        .and_then(|q| q.children())
        .unwrap_or_default()
        .iter()
        .map(|p| p.tag.as_ref())
        .collect();
    let users: Vec<Node> = usync
        .get_optional_child("list")
        .map(|list| list.get_children_by_tag("user").map(|user| answer_user(context, user, &protocols)).collect())
        .unwrap_or_default();
    let mut echoed = NodeBuilder::new("usync");
    for key in ["sid", "mode", "context", "index", "last"] {
        if let Some(value) = usync.attrs.get(key) {
            echoed = echoed.attr(key, value.clone());
        }
    }
    let reply = echoed.children([NodeBuilder::new("list").children(users).build()]).build();
    Ok(vec![result_with(request, [reply])])
}

fn answer_user(context: &Context<'_>, user: &Node, protocols: &[&str]) -> Node {
    let asked_jid = user.attrs().optional_jid("jid");
    let contact = user.get_optional_child("contact").and_then(|c| c.content_as_string());
    let found = match (&asked_jid, &contact) {
        (Some(jid), _) => context.network.user(jid),
        (None, Some(number)) => context.network.user_by_phone(number),
        (None, None) => None,
    };
    // A contact query names no JID; answer with the number's phone-number JID.
    let jid = asked_jid.clone().or_else(|| found.as_ref().map(|u| u.pn.clone())).or_else(|| {
        let digits: String = contact.as_deref().unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
        (!digits.is_empty()).then(|| Jid::pn(digits))
    });
    let children = protocols.iter().filter_map(|protocol| match *protocol {
        "devices" => Some(devices(found.as_ref())),
        "contact" => Some(NodeBuilder::new("contact").attr("type", if found.is_some() { "in" } else { "out" }).build()),
        "lid" => Some(lid(found.as_ref())),
        _ => None,
    });
    let builder = NodeBuilder::new("user");
    let builder = match jid {
        Some(jid) => builder.attr("jid", jid),
        None => builder,
    };
    builder.children(children.collect::<Vec<_>>()).build()
}

fn devices(user: Option<&UserDevices>) -> Node {
    let Some(user) = user else {
        let error = NodeBuilder::new("error").attr("code", "404").attr("text", "not-found").build();
        return NodeBuilder::new("devices").children([error]).build();
    };
    let list = user.devices.iter().map(|(id, key_index)| {
        let device = NodeBuilder::new("device").attr("id", id.to_string());
        match key_index {
            Some(index) => device.attr("key-index", index.to_string()).build(),
            None => device.build(),
        }
    });
    let key_index_list =
        NodeBuilder::new("key-index-list").attr("ts", user.key_index_ts.to_string()).bytes(user.key_index_list.clone());
    NodeBuilder::new("devices")
        .children([NodeBuilder::new("device-list").children(list.collect::<Vec<_>>()).build(), key_index_list.build()])
        .build()
}

fn lid(user: Option<&UserDevices>) -> Node {
    match user {
        Some(user) => NodeBuilder::new("lid").attr("val", user.lid.clone()).build(),
        None => NodeBuilder::new("lid").build(),
    }
}

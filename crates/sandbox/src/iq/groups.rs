//! `w:g2`: groups. Requests to `g.us` create, list, leave and join; requests to a
//! group JID query or change that group. Answers carry the children the client
//! requires (`<group>`, `<add>`…, `<invite code>`); setters answer with an empty
//! result, as WhatsApp does. Changes are announced to members as `w:gp2` notifications.

use wacore_binary::builder::NodeBuilder;
use wacore_binary::jid::JidExt as _;
use wacore_binary::{Jid, Node, NodeContent};

use super::{Answer, Context, IqError, Request, result, result_with};
use crate::network::{Role, invite_code, now_secs};

const FORBIDDEN: IqError = IqError { code: 403, text: "forbidden" };
const CONFLICT: IqError = IqError { code: 409, text: "conflict" };
const NOT_MEMBER: IqError = IqError { code: 401, text: "not-authorized" };

pub(super) fn answer(context: &Context<'_>, request: &Request<'_>) -> Answer {
    let to = request.node.attrs().optional_jid("to").ok_or(IqError::BAD_REQUEST)?;
    let action = request.node.children().and_then(|c| c.first()).ok_or(IqError::BAD_REQUEST)?;
    if !to.is_group() {
        return Err(IqError::BAD_REQUEST);
    }
    if to.user.is_empty() {
        return match (action.tag.as_ref(), request.is_set) {
            ("create", true) => create(context, request, action),
            ("participating", false) => {
                let groups = context.network.groups_of(context.device);
                Ok(vec![result_with(request, [NodeBuilder::new("groups").children(groups).build()])])
            }
            ("leave", true) => leave(context, request, action),
            ("invite", true) => join(context, request, action),
            ("invite", false) => {
                let code = attr(action, "code").ok_or(IqError::BAD_REQUEST)?;
                let group = context.network.group_by_invite(&code).ok_or(IqError::NOT_FOUND)?;
                let node = context.network.with_group(&group, |g| g.node()).ok_or(IqError::NOT_FOUND)?;
                Ok(vec![result_with(request, [node])])
            }
            _ => Err(IqError::NOT_IMPLEMENTED),
        };
    }
    let me = context.network.pn_user_of(context.device).ok_or(IqError::BAD_REQUEST)?;
    let role = context.network.with_group(&to, |g| g.role_of(&me)).ok_or(IqError::NOT_FOUND)?;
    let Some(role) = role else { return Err(NOT_MEMBER) };
    let admin = role != Role::Member;
    match (action.tag.as_ref(), request.is_set) {
        ("query", false) => {
            let node = context.network.with_group(&to, |g| g.node()).ok_or(IqError::NOT_FOUND)?;
            Ok(vec![result_with(request, [node])])
        }
        ("add" | "remove" | "promote" | "demote", true) if admin => participants(context, request, &to, action),
        ("invite", _) if admin => {
            let code = context
                .network
                .with_group(&to, |g| {
                    if request.is_set {
                        g.generation += 1;
                        g.invite = invite_code(&g.id, g.generation);
                    }
                    g.invite.clone()
                })
                .ok_or(IqError::NOT_FOUND)?;
            Ok(vec![result_with(request, [NodeBuilder::new("invite").attr("code", code).build()])])
        }
        ("subject", true) => {
            let locked = context.network.with_group(&to, |g| g.locked).unwrap_or(false);
            if locked && !admin {
                return Err(FORBIDDEN);
            }
            let text = text_of(action);
            let now = now_secs();
            context.network.with_group(&to, |g| {
                g.subject = text.clone();
                g.subject_by = me.clone();
                g.subject_at = now;
            });
            let notice = NodeBuilder::new("subject")
                .attr("subject", text)
                .attr("s_o", me.clone())
                .attr("s_t", now.to_string())
                .build();
            context.network.notify_group(&to, context.device, notice, &[]);
            Ok(vec![result(request)])
        }
        ("description", true) => {
            let id = attr(action, "id").unwrap_or_default();
            let body = action.get_optional_child("body").map(text_of);
            let deleted = attr(action, "delete").as_deref() == Some("true") || body.is_none();
            let prev = attr(action, "prev");
            // `prev` names the description the change replaces; a stale one conflicts.
            let current = context.network.with_group(&to, |g| g.description.as_ref().map(|(id, _)| id.clone()));
            if prev.is_some() && current.flatten() != prev {
                return Err(CONFLICT);
            }
            context
                .network
                .with_group(&to, |g| g.description = (!deleted).then(|| (id.clone(), body.unwrap_or_default())));
            context.network.notify_group(&to, context.device, action.clone(), &[]);
            Ok(vec![result(request)])
        }
        ("locked" | "unlocked" | "announcement" | "not_announcement", true) if admin => {
            let tag = action.tag.to_string();
            context.network.with_group(&to, |g| match tag.as_str() {
                "locked" => g.locked = true,
                "unlocked" => g.locked = false,
                "announcement" => g.announcement = true,
                _ => g.announcement = false,
            });
            context.network.notify_group(&to, context.device, NodeBuilder::new(static_tag(&tag)).build(), &[]);
            Ok(vec![result(request)])
        }
        (_, true) if !admin => Err(FORBIDDEN),
        _ => Err(IqError::NOT_IMPLEMENTED),
    }
}

fn create(context: &Context<'_>, request: &Request<'_>, action: &Node) -> Answer {
    let subject = attr(action, "subject").unwrap_or_default();
    let members: Vec<Jid> = action
        .get_children_by_tag("participant")
        .filter_map(|p| {
            let mut attrs = p.attrs();
            // A LID participant comes with its phone number when the client knows it.
            attrs.optional_jid("phone_number").or_else(|| attrs.optional_jid("jid"))
        })
        .collect();
    let group = context.network.create_group(context.device, &subject, &members).ok_or(IqError::BAD_REQUEST)?;
    let jid: Jid =
        format!("{}@g.us", attr(&group, "id").unwrap_or_default()).parse().map_err(|_| IqError::BAD_REQUEST)?;
    let create = NodeBuilder::new("create").children([group.clone()]).build();
    context.network.notify_group(&jid, context.device, create, &[]);
    Ok(vec![result_with(request, [group])])
}

/// add / remove / promote / demote: `<action><participant jid [error]/>…</action>`.
fn participants(context: &Context<'_>, request: &Request<'_>, group: &Jid, action: &Node) -> Answer {
    let tag = action.tag.to_string();
    let mut answered = Vec::new();
    let mut changed = Vec::new();
    for p in action.get_children_by_tag("participant") {
        let Some(jid) = p.attrs().optional_jid("jid") else { continue };
        let pn = p.attrs().optional_jid("phone_number").or_else(|| Some(jid.clone()));
        let user = pn.and_then(|pn| context.network.pn_user_of(&pn));
        let outcome = match user {
            None => Err("404"),
            Some(user) => context
                .network
                .with_group(group, |g| {
                    let position = g.participants.iter().position(|(m, _)| m.user == user.user);
                    match (tag.as_str(), position) {
                        ("add", Some(_)) => Err("409"),
                        ("add", None) => {
                            g.participants.push((user.clone(), Role::Member));
                            Ok(user.clone())
                        }
                        (_, None) => Err("404"),
                        ("remove", Some(i)) => {
                            g.participants.remove(i);
                            Ok(user.clone())
                        }
                        ("promote", Some(i)) => {
                            g.participants[i].1 = Role::Admin;
                            Ok(user.clone())
                        }
                        (_, Some(i)) => {
                            g.participants[i].1 = Role::Member;
                            Ok(user.clone())
                        }
                    }
                })
                .unwrap_or(Err("404")),
        };
        let node = NodeBuilder::new("participant").attr("jid", jid);
        answered.push(match outcome {
            Ok(user) => {
                changed.push(user);
                node.build()
            }
            Err(code) => node.attr("error", code).build(),
        });
    }
    if !changed.is_empty() {
        let notice = NodeBuilder::new(static_tag(&tag))
            .children(changed.iter().map(|u| NodeBuilder::new("participant").attr("jid", u.clone()).build()))
            .build();
        // Removed users hear about it too; they are no longer members.
        let also = if tag == "remove" { changed.clone() } else { Vec::new() };
        context.network.notify_group(group, context.device, notice, &also);
    }
    Ok(vec![result_with(request, [NodeBuilder::new(static_tag(&tag)).children(answered).build()])])
}

fn leave(context: &Context<'_>, request: &Request<'_>, action: &Node) -> Answer {
    let me = context.network.pn_user_of(context.device).ok_or(IqError::BAD_REQUEST)?;
    for g in action.get_children_by_tag("group") {
        let Some(id) = attr(g, "id") else { continue };
        let Ok(jid) = (if id.contains('@') { id.parse::<Jid>() } else { format!("{id}@g.us").parse() }) else {
            continue;
        };
        let left = context.network.with_group(&jid, |g| {
            let before = g.participants.len();
            g.participants.retain(|(m, _)| m.user != me.user);
            before != g.participants.len()
        });
        if left == Some(true) {
            let notice = NodeBuilder::new("remove")
                .children([NodeBuilder::new("participant").attr("jid", me.clone()).build()])
                .build();
            context.network.notify_group(&jid, context.device, notice, &[]);
        }
    }
    Ok(vec![result(request)])
}

fn join(context: &Context<'_>, request: &Request<'_>, action: &Node) -> Answer {
    let code = attr(action, "code").ok_or(IqError::BAD_REQUEST)?;
    let me = context.network.pn_user_of(context.device).ok_or(IqError::BAD_REQUEST)?;
    let group = context.network.group_by_invite(&code).ok_or(IqError::NOT_FOUND)?;
    let joined = context.network.with_group(&group, |g| {
        let new = g.role_of(&me).is_none();
        if new {
            g.participants.push((me.clone(), Role::Member));
        }
        new
    });
    if joined == Some(true) {
        let notice = NodeBuilder::new("add")
            .attr("reason", "invite")
            .children([NodeBuilder::new("participant").attr("jid", me).build()])
            .build();
        context.network.notify_group(&group, context.device, notice, &[]);
    }
    // Here the attribute is `jid`, not `id`.
    Ok(vec![result_with(request, [NodeBuilder::new("group").attr("jid", group).build()])])
}

fn attr(node: &Node, key: &str) -> Option<String> {
    node.attrs().optional_string(key).map(|s| s.into_owned())
}

fn text_of(node: &Node) -> String {
    match &node.content {
        Some(NodeContent::String(s)) => s.to_string(),
        Some(NodeContent::Bytes(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// Node tags must be `'static`; these are the actions echoed back.
fn static_tag(tag: &str) -> &'static str {
    match tag {
        "add" => "add",
        "remove" => "remove",
        "promote" => "promote",
        "demote" => "demote",
        "locked" => "locked",
        "unlocked" => "unlocked",
        "announcement" => "announcement",
        _ => "not_announcement",
    }
}

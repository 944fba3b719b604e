//! Groups, managed live through a connected session.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::groups::{Group as EngineGroup, GroupChange};
use wagate_types::{ChatId, ChatKind};

use super::params::{parse_person, session_name};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path, Query};
use crate::time_format::opt_rfc3339;

/// A WhatsApp group, as WhatsApp describes it now.
#[derive(Serialize, ToSchema)]
pub struct Group {
    #[schema(example = "120363025246125244@g.us")]
    jid: String,
    subject: String,
    description: Option<String>,
    /// Who created it, when WhatsApp says.
    owner: Option<String>,
    created_at: Option<String>,
    /// Only admins may send.
    announce: bool,
    /// Only admins may change the subject, description and picture.
    locked: bool,
    participants: Vec<Member>,
}

#[derive(Serialize, ToSchema)]
pub struct Member {
    /// E.164 when WhatsApp names them by phone number, else their JID.
    #[schema(example = "+4915110000001")]
    id: String,
    jid: String,
    admin: bool,
    super_admin: bool,
}

impl From<EngineGroup> for Group {
    fn from(g: EngineGroup) -> Self {
        Self {
            jid: g.chat.to_string(),
            subject: g.subject,
            description: g.description,
            owner: g.owner.map(|o| shown(&o)),
            created_at: opt_rfc3339(g.created_at),
            announce: g.announce,
            locked: g.locked,
            participants: g
                .participants
                .into_iter()
                .map(|p| Member {
                    id: shown(&p.chat),
                    jid: p.chat.to_string(),
                    admin: p.admin,
                    super_admin: p.super_admin,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct GroupList {
    data: Vec<Group>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionParam {
    /// The session; `default` when left out. It must be connected.
    session: Option<String>,
}

/// The groups the session's number is in.
#[utoipa::path(get, operation_id = "list_groups", path = "/api/v1/groups", tag = "groups", params(SessionParam),
    responses((status = 200, description = "OK", body = GroupList), (status = 404, description = "No such session", body = Problem),
              (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<SessionParam>,
) -> ApiResult<axum::Json<GroupList>> {
    let session = session_name(params.session.as_deref())?;
    let groups = gw.groups(&caller.tenant, &session).await?;
    Ok(axum::Json(GroupList { data: groups.into_iter().map(Group::from).collect() }))
}

/// A group to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    session: Option<String>,
    #[schema(example = "Saturday football")]
    subject: String,
    /// Phone numbers or JIDs of the people to add (at least one).
    #[schema(example = json!(["+4915110000001"]))]
    participants: Vec<String>,
}

/// Creates a group with the session's number as admin.
#[utoipa::path(post, operation_id = "create_group", path = "/api/v1/groups", tag = "groups", request_body = NewGroup,
    responses((status = 201, description = "Created", body = Group), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid, or WhatsApp refused it", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<NewGroup>,
) -> ApiResult<(StatusCode, axum::Json<Group>)> {
    let session = session_name(body.session.as_deref())?;
    let subject = subject(&body.subject)?;
    if body.participants.is_empty() {
        return Err(ApiError::invalid_field("participants", "name at least one person to add"));
    }
    let people = people(&gw, "participants", &body.participants)?;
    let group = gw.create_group(&caller.tenant, &session, &subject, &people).await?;
    Ok((StatusCode::CREATED, axum::Json(group.into())))
}

/// One group, fresh from WhatsApp.
#[utoipa::path(get, operation_id = "get_group", path = "/api/v1/groups/{group}", tag = "groups",
    params(("group" = String, Path, description = "The group's JID"), SessionParam),
    responses((status = 200, description = "OK", body = Group), (status = 403, description = "Not a member", body = Problem),
              (status = 404, description = "No such session or group", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    Query(params): Query<SessionParam>,
) -> ApiResult<axum::Json<Group>> {
    let session = session_name(params.session.as_deref())?;
    let group = group_jid(&group)?;
    Ok(axum::Json(gw.group(&caller.tenant, &session, &group).await?.into()))
}

/// Changes to a group's settings; leave out what stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    session: Option<String>,
    subject: Option<String>,
    /// The new description; an empty string removes it.
    description: Option<String>,
    /// Only admins may send.
    announce: Option<bool>,
    /// Only admins may change the subject, description and picture.
    locked: Option<bool>,
}

/// Changes a group's subject, description or settings (the session must be an admin).
#[utoipa::path(patch, operation_id = "update_group", path = "/api/v1/groups/{group}", tag = "groups", request_body = GroupUpdate,
    params(("group" = String, Path, description = "The group's JID")),
    responses((status = 200, description = "The group afterwards", body = Group), (status = 403, description = "Not an admin", body = Problem),
              (status = 404, description = "No such session or group", body = Problem), (status = 422, description = "A field is invalid", body = Problem),
              (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    Json(body): Json<GroupUpdate>,
) -> ApiResult<axum::Json<Group>> {
    let session = session_name(body.session.as_deref())?;
    let group = group_jid(&group)?;
    let mut changes = Vec::new();
    if let Some(text) = &body.subject {
        changes.push(GroupChange::Subject(subject(text)?));
    }
    if let Some(text) = &body.description {
        if text.chars().count() > Gateway::MAX_GROUP_DESCRIPTION {
            let limit = Gateway::MAX_GROUP_DESCRIPTION;
            return Err(ApiError::invalid_field("description", format!("must be at most {limit} characters")));
        }
        changes.push(GroupChange::Description(Some(text.clone()).filter(|t| !t.trim().is_empty())));
    }
    changes.extend(body.announce.map(GroupChange::Announce));
    changes.extend(body.locked.map(GroupChange::Locked));
    if changes.is_empty() {
        return Err(ApiError::invalid_field("body", "change at least one of subject, description, announce, locked"));
    }
    Ok(axum::Json(gw.change_group(&caller.tenant, &session, &group, &changes).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantAction {
    Add,
    Remove,
    Promote,
    Demote,
}

/// People to add, remove, promote to admin or demote.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParticipantsChange {
    session: Option<String>,
    action: ParticipantAction,
    /// Phone numbers or JIDs.
    participants: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ParticipantResult {
    jid: String,
    ok: bool,
    /// WhatsApp's reason when it refused this person (403: their privacy settings,
    /// 409: already a member…).
    error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ParticipantResults {
    data: Vec<ParticipantResult>,
}

/// Adds, removes, promotes or demotes members (the session must be an admin).
#[utoipa::path(post, operation_id = "change_group_participants", path = "/api/v1/groups/{group}/participants", tag = "groups",
    request_body = ParticipantsChange, params(("group" = String, Path, description = "The group's JID")),
    responses((status = 200, description = "What became of each", body = ParticipantResults), (status = 403, description = "Not an admin", body = Problem),
              (status = 404, description = "No such session or group", body = Problem), (status = 422, description = "A field is invalid", body = Problem),
              (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn participants(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    Json(body): Json<ParticipantsChange>,
) -> ApiResult<axum::Json<ParticipantResults>> {
    let session = session_name(body.session.as_deref())?;
    let group = group_jid(&group)?;
    if body.participants.is_empty() {
        return Err(ApiError::invalid_field("participants", "name at least one person"));
    }
    let people = people(&gw, "participants", &body.participants)?;
    let change = match body.action {
        ParticipantAction::Add => GroupChange::Add(people),
        ParticipantAction::Remove => GroupChange::Remove(people),
        ParticipantAction::Promote => GroupChange::Promote(people),
        ParticipantAction::Demote => GroupChange::Demote(people),
    };
    let outcomes = gw.change_participants(&caller.tenant, &session, &group, &change).await?;
    let data = outcomes
        .into_iter()
        .map(|o| ParticipantResult { jid: o.chat.to_string(), ok: o.error.is_none(), error: o.error })
        .collect();
    Ok(axum::Json(ParticipantResults { data }))
}

/// A group's invite.
#[derive(Serialize, ToSchema)]
pub struct Invite {
    code: String,
    #[schema(example = "https://chat.whatsapp.com/AbCdEfGhIjK")]
    link: String,
}

impl Invite {
    fn of(code: String) -> Self {
        Self { link: format!("https://chat.whatsapp.com/{code}"), code }
    }
}

/// The group's invite code and link (the session must be an admin).
#[utoipa::path(get, operation_id = "get_group_invite", path = "/api/v1/groups/{group}/invite", tag = "groups",
    params(("group" = String, Path, description = "The group's JID"), SessionParam),
    responses((status = 200, description = "OK", body = Invite), (status = 403, description = "Not an admin", body = Problem),
              (status = 404, description = "No such session or group", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn invite(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    Query(params): Query<SessionParam>,
) -> ApiResult<axum::Json<Invite>> {
    let session = session_name(params.session.as_deref())?;
    let group = group_jid(&group)?;
    Ok(axum::Json(Invite::of(gw.group_invite(&caller.tenant, &session, &group, false).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    session: Option<String>,
}

/// Revokes the invite link; returns the new one.
#[utoipa::path(post, operation_id = "revoke_group_invite", path = "/api/v1/groups/{group}/invite/revoke", tag = "groups",
    request_body = SessionBody, params(("group" = String, Path, description = "The group's JID")),
    responses((status = 200, description = "The new invite", body = Invite), (status = 403, description = "Not an admin", body = Problem),
              (status = 404, description = "No such session or group", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn revoke_invite(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    Json(body): Json<SessionBody>,
) -> ApiResult<axum::Json<Invite>> {
    let session = session_name(body.session.as_deref())?;
    let group = group_jid(&group)?;
    Ok(axum::Json(Invite::of(gw.group_invite(&caller.tenant, &session, &group, true).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Join {
    session: Option<String>,
    /// The invite code, or the whole `https://chat.whatsapp.com/…` link.
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct Joined {
    jid: String,
}

/// Joins a group by invite.
#[utoipa::path(post, operation_id = "join_group", path = "/api/v1/groups/join", tag = "groups", request_body = Join,
    responses((status = 200, description = "Joined", body = Joined), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "Not a valid invite, or WhatsApp refused it", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn join(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<Join>,
) -> ApiResult<axum::Json<Joined>> {
    let session = session_name(body.session.as_deref())?;
    let code = body.code.trim().trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid_field("code", "is not an invite code or link"));
    }
    let group = gw.join_group(&caller.tenant, &session, code).await?;
    Ok(axum::Json(Joined { jid: group.to_string() }))
}

/// Leaves a group.
#[utoipa::path(post, operation_id = "leave_group", path = "/api/v1/groups/{group}/leave", tag = "groups",
    request_body = SessionBody, params(("group" = String, Path, description = "The group's JID")),
    responses((status = 204, description = "Left"), (status = 404, description = "No such session or group", body = Problem),
              (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn leave(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    Json(body): Json<SessionBody>,
) -> ApiResult<StatusCode> {
    let session = session_name(body.session.as_deref())?;
    let group = group_jid(&group)?;
    gw.leave_group(&caller.tenant, &session, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn subject(text: &str) -> ApiResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > Gateway::MAX_GROUP_SUBJECT {
        let limit = Gateway::MAX_GROUP_SUBJECT;
        return Err(ApiError::invalid_field("subject", format!("must be 1 to {limit} characters")));
    }
    Ok(text.to_owned())
}

pub(super) fn group_jid(input: &str) -> ApiResult<ChatId> {
    match ChatId::parse(input) {
        Ok(chat) if chat.kind() == ChatKind::Group => Ok(chat),
        _ => Err(ApiError::invalid_field("group", "must be a group JID (…@g.us)")),
    }
}

/// People's addresses from phone numbers or JIDs; every bad one is named.
fn people(gw: &Gateway, field: &str, inputs: &[String]) -> ApiResult<Vec<ChatId>> {
    let mut found = Vec::with_capacity(inputs.len());
    let mut bad = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        match parse_person(gw, input) {
            Ok(chat) => found.push(chat),
            Err(why) => bad.push(format!("{field}[{i}]: {why}")),
        }
    }
    if !bad.is_empty() {
        return Err(ApiError::invalid_field(field, bad.join("; ")));
    }
    Ok(found)
}

/// E.164 for people named by phone number, else the JID.
fn shown(chat: &ChatId) -> String {
    chat.phone().map_or_else(|| chat.to_string(), |p| p.to_string())
}

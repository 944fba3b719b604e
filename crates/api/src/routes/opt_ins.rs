//! Opt-ins of a session's contacts: listed, read with their audit trail, and set by
//! API clients for lists imported from elsewhere.

use std::sync::Arc;

use axum::extract::{Extension, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::consent::{MAX_SET, OptInHistory};
use wagate_store::{OptInChangeRecord, OptInRecord};
use wagate_types::OptInStatus;

use super::params::{person, session_name};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path, Query};
use crate::time_format::rfc3339;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OptInParams {
    /// Only contacts with this status.
    status: Option<OptInStatus>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A contact's opt-in with a session.
#[derive(Serialize, ToSchema)]
pub struct OptIn {
    /// E.164 for phone numbers, else the JID.
    #[schema(example = "+4915110000112")]
    contact: String,
    status: OptInStatus,
    changed_at: String,
}

impl From<OptInRecord> for OptIn {
    fn from(r: OptInRecord) -> Self {
        Self { contact: r.contact, status: r.status, changed_at: rfc3339(r.changed_at) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct OptInPage {
    /// By contact.
    data: Vec<OptIn>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// A contact's opt-in and how it came to be.
#[derive(Serialize, ToSchema)]
pub struct OptInWithHistory {
    #[serde(flatten)]
    opt_in: OptIn,
    /// Every change, oldest first.
    history: Vec<OptInChange>,
}

/// One change of an opt-in.
#[derive(Serialize, ToSchema)]
pub struct OptInChange {
    status: OptInStatus,
    /// `first_message` (wrote for the first time and was asked), `reply` (answered the
    /// prompt), `keyword` (STOP, START, …) or `api`.
    #[schema(example = "reply")]
    how: String,
    /// The API key that made an `api` change (`api_key:<id>`); null for the contact.
    by: Option<String>,
    /// What the contact wrote, or the note the API client gave.
    note: Option<String>,
    at: String,
}

impl From<OptInHistory> for OptInWithHistory {
    fn from(h: OptInHistory) -> Self {
        let change = |c: OptInChangeRecord| OptInChange {
            status: c.status,
            how: c.how,
            by: c.actor,
            note: c.note,
            at: rfc3339(c.at),
        };
        Self { opt_in: OptIn::from(h.opt_in), history: h.changes.into_iter().map(change).collect() }
    }
}

/// An opt-in set by an API client.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetOptIn {
    status: OptInStatus,
    /// Kept in the audit trail: where the consent came from.
    #[schema(example = "signed the paper form at the shop, 2026-11-30")]
    note: Option<String>,
}

/// Opt-ins of many contacts at once, for an imported list.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetOptIns {
    /// Phone numbers (any common form) or JIDs, up to 5000.
    #[schema(example = json!(["+4915110000112", "+4915110000113"]))]
    contacts: Vec<String>,
    status: OptInStatus,
    note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SetOptInsResult {
    /// Contacts whose opt-in was set.
    updated: u64,
    /// Messages that waited for these contacts' answer and now go out.
    released: u64,
    /// Messages that waited for them and ended as `opted_out`.
    opted_out: u64,
}

const NOTE_MAX: usize = 1000;

fn check_note(note: Option<&str>) -> ApiResult<()> {
    match note {
        Some(note) if note.chars().count() > NOTE_MAX => {
            Err(ApiError::invalid_field("note", "must be at most 1000 characters"))
        }
        _ => Ok(()),
    }
}

fn actor(caller: &Caller) -> String {
    format!("api_key:{}", caller.key_id)
}

/// Lists a session's opt-ins by contact.
#[utoipa::path(get, operation_id = "list_opt_ins", path = "/api/v1/sessions/{name}/opt-ins", tag = "opt-in",
    params(("name" = String, Path, description = "The session's name"), OptInParams),
    responses((status = 200, description = "OK", body = OptInPage), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Query(params): Query<OptInParams>,
) -> ApiResult<axum::Json<OptInPage>> {
    let session = session_name(Some(&name))?;
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 1000"));
    }
    let found = gw.opt_ins(&caller.tenant, &session, params.status, params.cursor.as_deref(), limit).await?;
    let next_cursor = (found.len() == limit as usize).then(|| found.last().map(|o| o.contact.clone())).flatten();
    Ok(axum::Json(OptInPage { data: found.into_iter().map(OptIn::from).collect(), next_cursor }))
}

/// Sets the opt-in of many contacts at once (an imported list), all or none. Each
/// change is kept in the contact's audit trail with the API key that made it.
#[utoipa::path(post, operation_id = "set_opt_ins", path = "/api/v1/sessions/{name}/opt-ins", tag = "opt-in",
    params(("name" = String, Path, description = "The session's name")), request_body = SetOptIns,
    responses((status = 200, description = "Set", body = SetOptInsResult), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid; nothing was set", body = Problem)))]
pub async fn set_many(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(body): Json<SetOptIns>,
) -> ApiResult<axum::Json<SetOptInsResult>> {
    let session = session_name(Some(&name))?;
    if body.contacts.is_empty() || body.contacts.len() > MAX_SET {
        return Err(ApiError::invalid_field("contacts", "give between 1 and 5000 contacts"));
    }
    check_note(body.note.as_deref())?;
    let mut people = Vec::with_capacity(body.contacts.len());
    for (i, contact) in body.contacts.iter().enumerate() {
        people.push(person(&gw, &format!("contacts[{i}]"), contact)?);
    }
    people.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    people.dedup();
    let moved =
        gw.set_opt_ins(&caller.tenant, &session, &people, body.status, body.note.as_deref(), &actor(&caller)).await?;
    Ok(axum::Json(SetOptInsResult {
        updated: people.len() as u64,
        released: moved.released,
        opted_out: moved.opted_out,
    }))
}

/// A contact's opt-in with the session and its audit trail.
#[utoipa::path(get, operation_id = "get_opt_in", path = "/api/v1/sessions/{name}/opt-ins/{contact}", tag = "opt-in",
    params(("name" = String, Path, description = "The session's name"), ("contact" = String, Path, description = "A phone number or a JID")),
    responses((status = 200, description = "OK", body = OptInWithHistory), (status = 404, description = "No such session, or no opt-in of this contact", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path((name, contact)): Path<(String, String)>,
) -> ApiResult<axum::Json<OptInWithHistory>> {
    let session = session_name(Some(&name))?;
    let chat = person(&gw, "contact", &contact)?;
    Ok(axum::Json(gw.opt_in(&caller.tenant, &session, &chat).await?.into()))
}

/// Sets a contact's opt-in (consent given elsewhere, or withdrawn). `yes` releases
/// messages waiting for their answer; `no` ends them as `opted_out`.
#[utoipa::path(put, operation_id = "set_opt_in", path = "/api/v1/sessions/{name}/opt-ins/{contact}", tag = "opt-in",
    params(("name" = String, Path, description = "The session's name"), ("contact" = String, Path, description = "A phone number or a JID")),
    request_body = SetOptIn,
    responses((status = 200, description = "Set", body = OptInWithHistory), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid; nothing was set", body = Problem)))]
pub async fn set(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path((name, contact)): Path<(String, String)>,
    Json(body): Json<SetOptIn>,
) -> ApiResult<axum::Json<OptInWithHistory>> {
    let session = session_name(Some(&name))?;
    let chat = person(&gw, "contact", &contact)?;
    check_note(body.note.as_deref())?;
    let people = [chat];
    gw.set_opt_ins(&caller.tenant, &session, &people, body.status, body.note.as_deref(), &actor(&caller)).await?;
    Ok(axum::Json(gw.opt_in(&caller.tenant, &session, &people[0]).await?.into()))
}

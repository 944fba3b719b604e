//! Online status: the session's own, and that of the contacts it follows.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::presence::Seen;

use super::params::{person, session_name};
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::extract::{Json, Path, Query};
use crate::time_format::{opt_rfc3339, rfc3339};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnPresence {
    /// `true` shows the number online to its contacts, `false` offline (WhatsApp then
    /// also sends read receipts only when the phone is in use).
    available: bool,
}

/// Shows the session's number online or offline.
#[utoipa::path(post, operation_id = "set_session_presence", path = "/api/v1/sessions/{name}/presence", tag = "sessions",
    request_body = OwnPresence, params(("name" = String, Path)),
    responses((status = 204, description = "Done"), (status = 404, description = "No such session", body = Problem),
              (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn set_own(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(body): Json<OwnPresence>,
) -> ApiResult<StatusCode> {
    let session = session_name(Some(&name))?;
    gw.set_presence(&caller.tenant, &session, body.available).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Follow {
    /// The session that follows; `default` when left out. It must be connected.
    session: Option<String>,
}

/// Asks WhatsApp to report when the contact comes online or goes offline; read it with
/// `GET …/presence`. WhatsApp reports only while the session stays connected: follow
/// again after a reconnect.
#[utoipa::path(post, operation_id = "follow_contact_presence", path = "/api/v1/contacts/{contact}/presence/subscribe", tag = "contacts",
    request_body = Follow, params(("contact" = String, Path, description = "A phone number or a JID")),
    responses((status = 202, description = "Asked"), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "Not a person", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn follow(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(contact): Path<String>,
    Json(body): Json<Follow>,
) -> ApiResult<StatusCode> {
    let session = session_name(body.session.as_deref())?;
    let chat = person(&gw, "contact", &contact)?;
    gw.follow_presence(&caller.tenant, &session, &chat).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A contact's presence as WhatsApp last reported it.
#[derive(Serialize, ToSchema)]
pub struct Presence {
    available: bool,
    /// When they were last online, if they share it.
    last_seen_at: Option<String>,
    /// When WhatsApp reported this.
    reported_at: String,
}

impl From<Seen> for Presence {
    fn from(seen: Seen) -> Self {
        Self {
            available: seen.available,
            last_seen_at: opt_rfc3339(seen.last_seen),
            reported_at: rfc3339(seen.reported_at),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionParam {
    /// The session; `default` when left out.
    session: Option<String>,
}

/// What WhatsApp last reported of a followed contact's presence.
#[utoipa::path(get, operation_id = "get_contact_presence", path = "/api/v1/contacts/{contact}/presence", tag = "contacts",
    params(("contact" = String, Path, description = "A phone number or a JID"), SessionParam),
    responses((status = 200, description = "OK", body = Presence),
              (status = 404, description = "No such session, or nothing reported yet", body = Problem),
              (status = 422, description = "Not a person", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(contact): Path<String>,
    Query(params): Query<SessionParam>,
) -> ApiResult<axum::Json<Presence>> {
    let session = session_name(params.session.as_deref())?;
    let chat = person(&gw, "contact", &contact)?;
    Ok(axum::Json(gw.presence(&caller.tenant, &session, &chat).await?.into()))
}

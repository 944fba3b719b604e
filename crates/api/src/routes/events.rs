//! The event log, read by polling. Events are kept in order with increasing ids; ask
//! for those after the last id you saw.

use std::sync::Arc;

use axum::extract::{Extension, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::events::{STREAM_ONLY, is_known_filter, is_stream_filter};
use wagate_store::{EventFilter, EventRecord};

use super::params::session_name;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::Query;
use crate::time_format::rfc3339;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// Only events after this id: the last id you handled (0 or left out: from the start).
    since: Option<u64>,
    /// Only this session's events.
    session: Option<String>,
    /// Comma-separated event types; `message.*` stands for every `message.` type, `*` for all.
    #[param(example = "message.received,poll.vote")]
    types: Option<String>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
}

/// One thing that happened.
#[derive(Serialize, ToSchema)]
pub struct Event {
    /// Increasing per tenant, without gaps.
    id: u64,
    /// One of the types of the README's event catalogue (`message.received`,
    /// `message.status`, `session.status`, `presence.updated`, `call.incoming`,
    /// `campaign.progress`…).
    #[serde(rename = "type")]
    #[schema(example = "message.received")]
    kind: String,
    /// The session it happened to (its name at the time).
    session: Option<String>,
    created_at: String,
    /// What happened; its shape depends on the type (see the README's event catalogue).
    data: Value,
}

impl From<EventRecord> for Event {
    fn from(e: EventRecord) -> Self {
        Self { id: e.id, kind: e.kind, session: e.session, created_at: rfc3339(e.created_at), data: e.data }
    }
}

#[derive(Serialize, ToSchema)]
pub struct EventPage {
    /// Oldest first.
    data: Vec<Event>,
    /// The id to pass as `since` next: the last event's here, or `since` again when
    /// there was none.
    next_since: u64,
}

/// Reads events after an id, oldest first: poll with the `next_since` of the last answer.
#[utoipa::path(get, operation_id = "list_events", path = "/api/v1/events", tag = "events", params(EventParams),
    responses((status = 200, description = "OK", body = EventPage), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<EventParams>,
) -> ApiResult<axum::Json<EventPage>> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 1000"));
    }
    let kinds = event_types(params.types.as_deref(), Carrier::Log)?;
    let session = params.session.as_deref().map(|s| session_name(Some(s))).transpose()?;
    let after = params.since.unwrap_or(0);
    let filter = EventFilter { after, kinds, limit, ..EventFilter::default() };
    let events = gw.events(&caller.tenant, session.as_ref(), filter).await?;
    let next_since = events.last().map_or(after, |e| e.id);
    Ok(axum::Json(EventPage { data: events.into_iter().map(Event::from).collect(), next_since }))
}

/// What reads the events: the log (`GET /events`, webhooks) or a live stream, which
/// also carries the stream-only types.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Carrier {
    Log,
    Stream,
}

/// The type filter: empty or `*` means every type.
pub(super) fn event_types(types: Option<&str>, carrier: Carrier) -> ApiResult<Vec<String>> {
    let Some(types) = types else { return Ok(Vec::new()) };
    let mut kinds = Vec::new();
    for kind in types.split(',').map(str::trim) {
        if carrier == Carrier::Log && STREAM_ONLY.contains(&kind) {
            return Err(stream_only("types", kind));
        }
        let known = match carrier {
            Carrier::Log => is_known_filter(kind),
            Carrier::Stream => is_stream_filter(kind),
        };
        if !known {
            return Err(ApiError::invalid_field("types", format!("'{kind}' is not an event type")));
        }
        if kind == "*" {
            return Ok(Vec::new());
        }
        kinds.push(kind.to_owned());
    }
    Ok(kinds)
}

/// The answer to asking the log for what only live streams carry.
pub(super) fn stream_only(field: &str, kind: &str) -> ApiError {
    ApiError::invalid_field(
        field,
        format!(
            "'{kind}' is never stored or sent to webhooks: QR codes are login secrets and go only to the live \
             streams (/api/v1/events/stream, /api/v1/events/ws)"
        ),
    )
}

//! Webhooks: endpoints that get the event log, signed and retried from the database;
//! their delivery log and dead letters, redelivery of one event, replay from an id.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::events::STREAM_ONLY;
use wagate_core::webhooks::WebhookRequest;
use wagate_store::{AttemptLog, DeadLetter, WebhookChange, WebhookRecord};
use wagate_types::SessionName;

use super::params::{present, session_name};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path, Query};
use crate::time_format::{opt_rfc3339, rfc3339};

/// An endpoint to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where events are POSTed (http or https). Private addresses only when the
    /// server's `[webhooks]` allow-list names them.
    #[schema(example = "https://example.com/wagate/events")]
    url: String,
    /// Only this session's events; every session's when left out.
    session: Option<String>,
    /// Event types: `*`, `message.*`, `poll.vote`, …; `["*"]` when left out.
    events: Option<Vec<String>>,
    /// The signing secret (`whsec_` + base64, or any 16–128 characters); generated
    /// when left out. Shown only in this answer.
    secret: Option<String>,
    /// Extra headers sent with every delivery.
    headers: Option<BTreeMap<String, String>>,
    description: Option<String>,
}

/// A change; fields left out are kept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    url: Option<String>,
    /// `null`: every session.
    #[serde(default, deserialize_with = "present")]
    session: Option<Option<String>>,
    events: Option<Vec<String>>,
    headers: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    /// `true` enables a disabled endpoint again and forgets its failures.
    enabled: Option<bool>,
}

/// An endpoint; its secret is shown only when it is created.
#[derive(Serialize, ToSchema)]
pub struct Webhook {
    id: String,
    url: String,
    /// The session whose events it gets; null: every session.
    session_id: Option<String>,
    events: Vec<String>,
    headers: BTreeMap<String, String>,
    description: Option<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    /// The last event delivered (or dead-lettered).
    last_event_id: u64,
    /// Failed attempts at the next event, and when it is tried again.
    failed_attempts: u32,
    next_attempt_at: String,
    /// When the current run of failures began; null while deliveries succeed.
    failing_since: Option<String>,
    created_at: String,
    updated_at: String,
    /// Only in the answer to the creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl From<WebhookRecord> for Webhook {
    fn from(r: WebhookRecord) -> Self {
        Self {
            id: r.id,
            url: r.url,
            session_id: r.session_id.map(|s| s.to_string()),
            events: r.events,
            headers: r.headers,
            description: r.description,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            last_event_id: r.cursor,
            failed_attempts: r.head_attempts,
            next_attempt_at: rfc3339(r.next_attempt_at),
            failing_since: opt_rfc3339(r.failing_since),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
            secret: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    data: Vec<Webhook>,
}

/// One delivery attempt.
#[derive(Serialize, ToSchema)]
pub struct Attempt {
    event_id: u64,
    /// 1 for the first try; 0 for a redelivery on request.
    attempt: u32,
    /// Null when no answer came.
    status_code: Option<u16>,
    latency_ms: u64,
    error: Option<String>,
    at: String,
}

impl From<AttemptLog> for Attempt {
    fn from(a: AttemptLog) -> Self {
        Self {
            event_id: a.event_id,
            attempt: a.attempt,
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error,
            at: rfc3339(a.at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AttemptList {
    /// Newest first.
    data: Vec<Attempt>,
}

/// An event given up on after the last retry.
#[derive(Serialize, ToSchema)]
pub struct DeadLetterView {
    event_id: u64,
    attempts: u32,
    last_error: Option<String>,
    at: String,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(d: DeadLetter) -> Self {
        Self { event_id: d.event_id, attempts: d.attempts, last_error: d.last_error, at: rfc3339(d.at) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeadLetterList {
    data: Vec<DeadLetterView>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// 1–1000 (default 100).
    limit: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRef {
    event_id: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayFrom {
    /// Deliveries start again at this event (and go on in order from it).
    from_event_id: u64,
}

fn check_secret(secret: &str) -> ApiResult<()> {
    let length = secret.chars().count();
    if !(16..=128).contains(&length) || secret.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid_field("secret", "must be 16 to 128 characters without spaces"));
    }
    Ok(())
}

fn check_headers(headers: &BTreeMap<String, String>) -> ApiResult<()> {
    if headers.len() > 20 {
        return Err(ApiError::invalid_field("headers", "at most 20 headers"));
    }
    for (name, value) in headers {
        let reserved = name.to_ascii_lowercase();
        if reserved.starts_with("webhook-")
            || ["content-type", "content-length", "host", "x-webhook-signature"].contains(&reserved.as_str())
        {
            return Err(ApiError::invalid_field(&format!("headers.{name}"), "is set by the server"));
        }
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || axum::http::HeaderValue::from_str(value).is_err()
        {
            return Err(ApiError::invalid_field(&format!("headers.{name}"), "is not a valid HTTP header"));
        }
    }
    Ok(())
}

/// A webhook gets the log; what only live streams carry is refused by name (`*` and
/// `session.*` simply do not include it).
fn check_events(events: &[String]) -> ApiResult<()> {
    match events.iter().find(|e| STREAM_ONLY.contains(&e.as_str())) {
        Some(kind) => Err(super::events::stream_only("events", kind)),
        None => Ok(()),
    }
}

fn session(name: Option<&str>) -> ApiResult<Option<SessionName>> {
    name.map(|n| session_name(Some(n))).transpose()
}

/// Creates an endpoint. It gets the events that happen from now on; its secret is in
/// this answer only.
#[utoipa::path(post, operation_id = "create_webhook", path = "/api/v1/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, description = "Created", body = Webhook), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid; nothing was stored", body = Problem)))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<NewWebhook>,
) -> ApiResult<(StatusCode, axum::Json<Webhook>)> {
    if let Some(secret) = &body.secret {
        check_secret(secret)?;
    }
    let headers = body.headers.unwrap_or_default();
    check_headers(&headers)?;
    if let Some(events) = &body.events {
        check_events(events)?;
    }
    let request = WebhookRequest {
        url: body.url,
        session: session(body.session.as_deref())?,
        events: body.events.unwrap_or_else(|| vec!["*".to_owned()]),
        secret: body.secret,
        headers,
        description: body.description,
    };
    let record = gw.create_webhook(&caller.tenant, request).await?;
    let secret = record.secret.clone();
    let mut view = Webhook::from(record);
    view.secret = Some(secret);
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// Lists the endpoints.
#[utoipa::path(get, operation_id = "list_webhooks", path = "/api/v1/webhooks", tag = "webhooks",
    responses((status = 200, description = "OK", body = WebhookList)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<axum::Json<WebhookList>> {
    let hooks = gw.webhooks(&caller.tenant).await?;
    Ok(axum::Json(WebhookList { data: hooks.into_iter().map(Webhook::from).collect() }))
}

/// One endpoint and how its deliveries go.
#[utoipa::path(get, operation_id = "get_webhook", path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 200, description = "OK", body = Webhook), (status = 404, description = "No such webhook", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Webhook>> {
    Ok(axum::Json(gw.webhook(&caller.tenant, &id).await?.into()))
}

/// Changes an endpoint.
#[utoipa::path(patch, operation_id = "update_webhook", path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")), request_body = WebhookUpdate,
    responses((status = 200, description = "Changed", body = Webhook), (status = 404, description = "No such webhook or session", body = Problem),
              (status = 422, description = "A field is invalid; nothing changed", body = Problem)))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<WebhookUpdate>,
) -> ApiResult<axum::Json<Webhook>> {
    if let Some(headers) = &body.headers {
        check_headers(headers)?;
    }
    if let Some(events) = &body.events {
        check_events(events)?;
    }
    let session = match body.session {
        Some(name) => Some(session(name.as_deref())?),
        None => None,
    };
    let change = WebhookChange {
        events: body.events,
        headers: body.headers,
        description: body.description,
        enabled: body.enabled,
        ..WebhookChange::default()
    };
    Ok(axum::Json(gw.update_webhook(&caller.tenant, &id, body.url, session, change).await?.into()))
}

/// Deletes an endpoint with its delivery log.
#[utoipa::path(delete, operation_id = "delete_webhook", path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such webhook", body = Problem)))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    gw.delete_webhook(&caller.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log: every attempt with its status code, latency and error.
#[utoipa::path(get, operation_id = "list_webhook_deliveries", path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id"), LogParams),
    responses((status = 200, description = "OK", body = AttemptList), (status = 404, description = "No such webhook", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn deliveries(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
) -> ApiResult<axum::Json<AttemptList>> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 1000"));
    }
    let log = gw.webhook_attempts(&caller.tenant, &id, limit).await?;
    Ok(axum::Json(AttemptList { data: log.into_iter().map(Attempt::from).collect() }))
}

/// Events given up on after the last retry.
#[utoipa::path(get, operation_id = "list_webhook_dead_letters", path = "/api/v1/webhooks/{id}/dead-letters", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")),
    responses((status = 200, description = "OK", body = DeadLetterList), (status = 404, description = "No such webhook", body = Problem)))]
pub async fn dead_letters(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<DeadLetterList>> {
    let dead = gw.webhook_dead_letters(&caller.tenant, &id).await?;
    Ok(axum::Json(DeadLetterList { data: dead.into_iter().map(DeadLetterView::from).collect() }))
}

/// Delivers one event again now (with its `webhook-id`); a success takes it off the
/// dead letters.
#[utoipa::path(post, operation_id = "redeliver_webhook_event", path = "/api/v1/webhooks/{id}/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")), request_body = EventRef,
    responses((status = 200, description = "Tried; the attempt says how it went", body = Attempt),
              (status = 404, description = "No such webhook or event", body = Problem)))]
pub async fn redeliver(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<EventRef>,
) -> ApiResult<axum::Json<Attempt>> {
    Ok(axum::Json(gw.redeliver(&caller.tenant, &id, body.event_id).await?.into()))
}

/// Delivers again from an event on, in order.
#[utoipa::path(post, operation_id = "replay_webhook", path = "/api/v1/webhooks/{id}/replay", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")), request_body = ReplayFrom,
    responses((status = 200, description = "Replaying", body = Webhook), (status = 404, description = "No such webhook", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn replay(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<ReplayFrom>,
) -> ApiResult<axum::Json<Webhook>> {
    if body.from_event_id == 0 {
        return Err(ApiError::invalid_field("from_event_id", "event ids start at 1"));
    }
    Ok(axum::Json(gw.replay_webhook(&caller.tenant, &id, body.from_event_id).await?.into()))
}

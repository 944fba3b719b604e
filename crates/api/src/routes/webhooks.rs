//! Webhooks: endpoints that get the event log, signed and retried from the database;
//! their delivery log and dead letters, redelivery of one event, replay from an id.
//! Header values, like the secret, are written by clients and never answered.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::events::STREAM_ONLY;
use wagate_core::webhooks::{MAX_HEADERS, WebhookRequest};
use wagate_store::{AttemptLog, DeadLetter, HeaderChanges, WebhookChange, WebhookRecord};
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
    /// Where events are POSTed (http or https). The host must resolve, and to public
    /// addresses unless the server's `[webhooks]` allow-list names it or its network;
    /// otherwise `422` names `url` with the reason.
    #[schema(example = "https://example.com/wagate/events")]
    url: String,
    /// Only this session's events; every session's when left out.
    session: Option<String>,
    /// Event types: `*`, `message.*`, `poll.vote`, …; `["*"]` when left out.
    events: Option<Vec<String>>,
    /// The signing secret (`whsec_` + base64, or any 16–128 characters); generated
    /// when left out. Shown only in this answer.
    secret: Option<String>,
    /// Extra headers sent with every delivery (at most 20). Their values are never
    /// shown again: answers show each as `********`.
    #[schema(example = json!({"Authorization": "Bearer 3f9a…"}))]
    headers: Option<BTreeMap<String, String>>,
    description: Option<String>,
}

/// A change; fields left out are kept.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    /// Checked as at creation.
    url: Option<String>,
    /// `null`: every session.
    #[serde(default, deserialize_with = "present")]
    session: Option<Option<String>>,
    events: Option<Vec<String>>,
    /// Changes to the headers, by name (any case): a value sets or replaces that
    /// header, `null` removes it, and headers not named are kept with their values.
    #[schema(example = json!({"Authorization": "Bearer 7c1d…", "X-Old": null}))]
    headers: Option<BTreeMap<String, Option<String>>>,
    #[serde(default, deserialize_with = "present")]
    description: Option<Option<String>>,
    /// `true` enables a disabled endpoint again and forgets its failures.
    enabled: Option<bool>,
}

/// An endpoint; its secret is shown only when it is created, its header values never.
#[derive(Serialize, ToSchema)]
pub struct Webhook {
    id: String,
    url: String,
    /// The session whose events it gets; null: every session.
    session_id: Option<String>,
    events: Vec<String>,
    /// The extra headers by name; each value shows as `********` (deliveries carry the
    /// real one).
    #[schema(example = json!({"Authorization": "********"}))]
    headers: BTreeMap<String, String>,
    description: Option<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    /// The last event delivered (or dead-lettered).
    last_event_id: u64,
    /// Failed attempts at the next event, and when it is tried again (within a minute
    /// while the endpoint fails).
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
            headers: r.headers.into_keys().map(|name| (name, REDACTED.to_owned())).collect(),
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

/// A page of the delivery log.
#[derive(Serialize, ToSchema)]
pub struct AttemptList {
    /// Newest first.
    data: Vec<Attempt>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    next_cursor: Option<String>,
}

/// An event given up on after failing for 32 hours.
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

/// A page of dead letters.
#[derive(Serialize, ToSchema)]
pub struct DeadLetterList {
    /// Oldest event first.
    data: Vec<DeadLetterView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogParams {
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl LogParams {
    fn limit(&self) -> ApiResult<u32> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::invalid_field("limit", "must be between 1 and 1000"));
        }
        Ok(limit)
    }

    /// The cursor's text, as [`encode_cursor`] wrote it.
    fn cursor(&self) -> ApiResult<Option<String>> {
        let Some(cursor) = &self.cursor else { return Ok(None) };
        let invalid = || ApiError::invalid_field("cursor", "is not a cursor this API returned");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        String::from_utf8(bytes).map(Some).map_err(|_| invalid())
    }
}

fn encode_cursor(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// How a header value is shown.
const REDACTED: &str = "********";

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

/// Checks headers to set (`Some`) or remove (`None`), by name.
fn check_headers<'a>(headers: impl IntoIterator<Item = (&'a String, Option<&'a String>)>) -> ApiResult<()> {
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in headers {
        let field = format!("headers.{name}");
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("webhook-")
            || ["content-type", "content-length", "host", "x-webhook-signature"].contains(&lower.as_str())
        {
            return Err(ApiError::invalid_field(&field, "is set by the server"));
        }
        if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || value.is_some_and(|v| axum::http::HeaderValue::from_str(v).is_err())
        {
            return Err(ApiError::invalid_field(&field, "is not a valid HTTP header"));
        }
        if value.is_some_and(|v| v == REDACTED) {
            return Err(ApiError::invalid_field(
                &field,
                "is the placeholder answers show instead of the value: leave the header out to keep its value",
            ));
        }
        if seen.contains(&lower) {
            return Err(ApiError::invalid_field(&field, "is named twice (header names are not case-sensitive)"));
        }
        seen.push(lower);
    }
    if seen.len() > MAX_HEADERS {
        return Err(ApiError::invalid_field("headers", format!("at most {MAX_HEADERS} headers")));
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
/// this answer only, and header values in none.
#[utoipa::path(post, operation_id = "create_webhook", path = "/api/v1/webhooks", tag = "webhooks", request_body = NewWebhook,
    responses((status = 201, description = "Created", body = Webhook), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid, or the URL's host does not resolve or is at an address webhooks may not call; nothing was stored", body = Problem)))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<NewWebhook>,
) -> ApiResult<(StatusCode, axum::Json<Webhook>)> {
    if let Some(secret) = &body.secret {
        check_secret(secret)?;
    }
    let headers = body.headers.unwrap_or_default();
    check_headers(headers.iter().map(|(name, value)| (name, Some(value))))?;
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

/// Changes an endpoint. Headers change by name: the ones not named keep their values.
#[utoipa::path(patch, operation_id = "update_webhook", path = "/api/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id")), request_body = WebhookUpdate,
    responses((status = 200, description = "Changed", body = Webhook), (status = 404, description = "No such webhook or session", body = Problem),
              (status = 422, description = "A field is invalid, or the new URL's host does not resolve or is at an address webhooks may not call; nothing changed", body = Problem)))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<WebhookUpdate>,
) -> ApiResult<axum::Json<Webhook>> {
    let headers: HeaderChanges = body.headers.unwrap_or_default();
    check_headers(headers.iter().map(|(name, value)| (name, value.as_ref())))?;
    if let Some(events) = &body.events {
        check_events(events)?;
    }
    let session = match body.session {
        Some(name) => Some(session(name.as_deref())?),
        None => None,
    };
    let change = WebhookChange {
        events: body.events,
        headers,
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

/// The delivery log, newest first, a page at a time: every attempt with its status
/// code, latency and error.
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
    let limit = params.limit()?;
    let before = params.cursor()?;
    if before.as_deref().is_some_and(|b| uuid::Uuid::parse_str(b).is_err()) {
        return Err(ApiError::invalid_field("cursor", "is not a cursor this API returned"));
    }
    let log = gw.webhook_attempts(&caller.tenant, &id, before.as_deref(), limit).await?;
    let next_cursor = (log.len() == limit as usize).then(|| log.last().map(|a| encode_cursor(&a.id))).flatten();
    Ok(axum::Json(AttemptList { data: log.into_iter().map(|a| a.log.into()).collect(), next_cursor }))
}

/// Events given up on after failing for 32 hours, oldest first, a page at a time.
#[utoipa::path(get, operation_id = "list_webhook_dead_letters", path = "/api/v1/webhooks/{id}/dead-letters", tag = "webhooks",
    params(("id" = String, Path, description = "The webhook's id"), LogParams),
    responses((status = 200, description = "OK", body = DeadLetterList), (status = 404, description = "No such webhook", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn dead_letters(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(params): Query<LogParams>,
) -> ApiResult<axum::Json<DeadLetterList>> {
    let limit = params.limit()?;
    let after = match params.cursor()? {
        Some(text) => {
            text.parse().map_err(|_| ApiError::invalid_field("cursor", "is not a cursor this API returned"))?
        }
        None => 0,
    };
    let dead = gw.webhook_dead_letters(&caller.tenant, &id, after, limit).await?;
    let next_cursor =
        (dead.len() == limit as usize).then(|| dead.last().map(|d| encode_cursor(&d.event_id.to_string()))).flatten();
    Ok(axum::Json(DeadLetterList { data: dead.into_iter().map(DeadLetterView::from).collect(), next_cursor }))
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

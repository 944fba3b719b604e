use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use wagate_core::messages::{ListRequest, MessageContent, SendRequest};
use wagate_core::{Gateway, MessageRecord};
use wagate_store::Idempotency;
use wagate_types::{Direction, IdempotencyKey, MessageId, MessageStatus, Priority, Recipient, SessionName};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Path, Query, invalid_body, too_large};
use crate::time_format::{opt_rfc3339, rfc3339};

/// A message and where it is in its life: one sent through wagate (`outbound`) or one
/// a session received (`inbound`, status `received`).
#[derive(Serialize, ToSchema)]
pub struct Message {
    id: String,
    /// The session that sends (or received) it.
    session: String,
    direction: Direction,
    /// The chat's WhatsApp JID: the other person's, or the group's.
    #[schema(example = "9611234567@s.whatsapp.net")]
    chat: String,
    /// Outbound: the recipient, E.164 for people, the JID for groups and others.
    /// Inbound: the receiving session's own number (E.164), empty if the session did
    /// not know its number yet.
    #[schema(example = "+9611234567")]
    to: String,
    /// Inbound only: who wrote it (in a group, the participant): E.164 when WhatsApp
    /// names the sender by phone number, else the JID (e.g. `…@lid`). Null for outbound.
    #[schema(example = "+4915123456789")]
    from: Option<String>,
    /// Inbound only: the name the sender set on their own phone, if WhatsApp passed it on.
    #[schema(example = "Ann")]
    push_name: Option<String>,
    /// What the message carries: `text`.
    kind: String,
    text: Option<String>,
    status: MessageStatus,
    priority: Priority,
    /// The id WhatsApp knows the message by.
    wa_id: String,
    /// Send attempts so far.
    attempts: u32,
    /// Why the last attempt failed.
    error: Option<String>,
    send_at: Option<String>,
    /// When wagate stored it: accepted (outbound) or received (inbound).
    created_at: String,
    queued_at: Option<String>,
    /// Outbound: when the WhatsApp server acknowledged it. Inbound: when the sender
    /// sent it, by WhatsApp's clock.
    sent_at: Option<String>,
    delivered_at: Option<String>,
    read_at: Option<String>,
    played_at: Option<String>,
    failed_at: Option<String>,
    cancelled_at: Option<String>,
}

impl From<MessageRecord> for Message {
    fn from(r: MessageRecord) -> Self {
        let text = r.content.get("text").and_then(|t| t.as_str()).map(str::to_owned);
        Self {
            id: r.id.to_string(),
            session: r.session_name.to_string(),
            direction: r.direction,
            chat: r.chat.to_string(),
            to: r.recipient,
            from: r.sender.map(|jid| jid.phone().map_or_else(|| jid.to_string(), |phone| phone.to_string())),
            push_name: r.push_name,
            kind: r.kind,
            text,
            status: r.status,
            priority: r.priority,
            wa_id: r.wa_id.to_string(),
            attempts: r.attempts,
            error: r.error,
            send_at: opt_rfc3339(r.send_at),
            created_at: rfc3339(r.created_at),
            queued_at: opt_rfc3339(r.queued_at),
            sent_at: opt_rfc3339(r.sent_at),
            delivered_at: opt_rfc3339(r.delivered_at),
            read_at: opt_rfc3339(r.read_at),
            played_at: opt_rfc3339(r.played_at),
            failed_at: opt_rfc3339(r.failed_at),
            cancelled_at: opt_rfc3339(r.cancelled_at),
        }
    }
}

/// A message to send.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    /// The sending session; `default` when left out.
    #[schema(example = "default")]
    session: Option<String>,
    /// A phone number in any common form (`+961 1 234 567`, `00961…`, or national with
    /// the configured default country) or a JID (`…@s.whatsapp.net`, `…@g.us`, `…@lid`).
    #[schema(example = "+961 1 234 567")]
    to: String,
    /// The text to send.
    #[schema(example = "Your order #42 has shipped.")]
    text: String,
    /// Queue order within the session: `high` goes before `normal` before `low`.
    priority: Option<Priority>,
    /// Send no earlier than this time (RFC 3339). The message is `scheduled` until then.
    send_at: Option<String>,
}

fn content_is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("application/json") || (v.starts_with("application/") && v.ends_with("+json"))
    })
}

fn parse_send(gw: &Gateway, body: SendMessage) -> ApiResult<SendRequest> {
    let session = SessionName::parse(body.session.as_deref().unwrap_or("default"))
        .map_err(|e| ApiError::invalid_field("session", e.to_string()))?;
    let to = Recipient::parse(&body.to, gw.config.default_country)
        .map_err(|e| ApiError::invalid_field("to", e.to_string()))?;
    if body.text.trim().is_empty() {
        return Err(ApiError::invalid_field("text", "must not be empty"));
    }
    if body.text.chars().count() > MessageContent::MAX_TEXT {
        return Err(ApiError::invalid_field(
            "text",
            format!("must be at most {} characters", MessageContent::MAX_TEXT),
        ));
    }
    let send_at = body
        .send_at
        .as_deref()
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|_| ApiError::invalid_field("send_at", "must be an RFC 3339 time like 2030-01-31T09:00:00Z"))
        })
        .transpose()?;
    Ok(SendRequest {
        session,
        to,
        content: MessageContent::Text(body.text),
        priority: body.priority.unwrap_or(Priority::Normal),
        send_at,
        idempotency: None,
    })
}

/// Accepts a message for sending. It is stored before this answers, then sent by its
/// session in queue order, throttled. Sessions that are not connected keep it queued.
///
/// With an `Idempotency-Key` header, repeating the same request returns the same
/// message instead of sending twice; the same key with a different body is refused.
#[utoipa::path(post, operation_id = "send_message", path = "/api/v1/messages", tag = "messages", request_body = SendMessage,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries of this request safe")),
    responses((status = 202, description = "Accepted: stored and queued", body = Message), (status = 400, description = "Malformed request", body = Problem), (status = 404, body = Problem, description = "no such session"),
              (status = 413, description = "Body too large", body = Problem), (status = 415, description = "Body is not JSON", body = Problem), (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn send(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        _ => ApiError::malformed(rejection.body_text()),
    })?;
    if !content_is_json(&headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))?;
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key =
                v.to_str().ok().and_then(|s| IdempotencyKey::parse(s).ok()).ok_or_else(|| {
                    ApiError::invalid_field("Idempotency-Key", "must be 1-255 visible ASCII characters")
                })?;
            // serde_json sorts object keys, so the hash ignores key order and spacing.
            let request_hash = hex::encode(Sha256::digest(value.to_string().as_bytes()));
            Some(Idempotency { key, request_hash })
        }
    };
    let parsed: SendMessage = serde_json::from_value(value).map_err(|e| invalid_body(&e.to_string()))?;
    let mut request = parse_send(&gw, parsed)?;
    request.idempotency = idempotency;
    let accepted = gw.send_message(&caller.tenant, request).await?;
    let location = format!("/api/v1/messages/{}", accepted.message.id);
    let mut response =
        (StatusCode::ACCEPTED, [(header::LOCATION, location)], axum::Json(Message::from(accepted.message)))
            .into_response();
    if accepted.replayed {
        response.headers_mut().insert("idempotent-replayed", header::HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this session's messages.
    session: Option<String>,
    status: Option<MessageStatus>,
    /// `outbound` (sent through wagate) or `inbound` (received by a session).
    direction: Option<Direction>,
    /// Only this chat: a phone number or JID.
    chat: Option<String>,
    /// Only messages created at or after this time (RFC 3339).
    since: Option<String>,
    /// Page size, 1–200; 50 when left out.
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of messages, newest first.
#[derive(Serialize, ToSchema)]
pub struct MessagePage {
    data: Vec<Message>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Lists messages, sent and received, newest first, a page at a time.
#[utoipa::path(get, operation_id = "list_messages", path = "/api/v1/messages", tag = "messages", params(ListParams),
    responses((status = 200, description = "OK", body = MessagePage), (status = 404, description = "Not found", body = Problem), (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ListParams>,
) -> ApiResult<axum::Json<MessagePage>> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 200"));
    }
    let session = params
        .session
        .as_deref()
        .map(|s| SessionName::parse(s).map_err(|e| ApiError::invalid_field("session", e.to_string())))
        .transpose()?;
    let chat = params
        .chat
        .as_deref()
        .map(|c| {
            Recipient::parse(c, gw.config.default_country)
                .map(|r| r.chat)
                .map_err(|e| ApiError::invalid_field("chat", e.to_string()))
        })
        .transpose()?;
    let since = params
        .since
        .as_deref()
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| ApiError::invalid_field("since", "must be an RFC 3339 time"))
        })
        .transpose()?;
    let before = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let request =
        ListRequest { session, status: params.status, direction: params.direction, chat, since, before, limit };
    let records = gw.list_messages(&caller.tenant, request).await?;
    let next_cursor = (records.len() == limit as usize).then(|| records.last().map(|r| encode_cursor(r.id))).flatten();
    Ok(axum::Json(MessagePage { data: records.into_iter().map(Message::from).collect(), next_cursor }))
}

fn encode_cursor(id: MessageId) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

fn decode_cursor(cursor: &str) -> ApiResult<MessageId> {
    let invalid = || ApiError::invalid_field("cursor", "is not a cursor this API returned");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    MessageId::parse(&text).map_err(|_| invalid())
}

fn message_id(id: &str) -> ApiResult<MessageId> {
    MessageId::parse(id).map_err(|_| ApiError::not_found(format!("message {id} not found")))
}

/// One message with its status and timestamps.
#[utoipa::path(get, operation_id = "get_message", path = "/api/v1/messages/{id}", tag = "messages", params(("id" = String, Path)),
    responses((status = 200, description = "OK", body = Message), (status = 404, description = "Not found", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Message>> {
    Ok(axum::Json(gw.message(&caller.tenant, message_id(&id)?).await?.into()))
}

/// Cancels a message that is still `queued` or `scheduled`. Received messages cannot be
/// cancelled (409, code `inbound_message`).
#[utoipa::path(delete, operation_id = "cancel_message", path = "/api/v1/messages/{id}", tag = "messages", params(("id" = String, Path)),
    responses((status = 200, description = "OK", body = Message), (status = 404, description = "Not found", body = Problem),
              (status = 409, body = Problem, description = "already on its way or done, or a received message")))]
pub async fn cancel(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Message>> {
    Ok(axum::Json(gw.cancel_message(&caller.tenant, message_id(&id)?).await?.into()))
}

/// Queues a `failed` or `cancelled` message again, with the same WhatsApp id. Received
/// messages cannot be resent (409, code `inbound_message`).
#[utoipa::path(post, operation_id = "resend_message", path = "/api/v1/messages/{id}/resend", tag = "messages", params(("id" = String, Path)),
    responses((status = 202, description = "Accepted: stored and queued", body = Message), (status = 404, description = "Not found", body = Problem), (status = 409, description = "Conflict with the current state, or a received message", body = Problem)))]
pub async fn resend(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, axum::Json<Message>)> {
    let record = gw.resend_message(&caller.tenant, message_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(record.into())))
}

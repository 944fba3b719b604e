use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Extension, FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::messages::{Accepted, ListRequest};
use wagate_store::Idempotency;
use wagate_types::{Direction, IdempotencyKey, MessageId, MessageStatus, Recipient, SessionName};

use super::message_view::Message;
use super::send_body::{SendMessage, parse_send};
use super::send_form::{self, SendUpload};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path, Query, invalid_body, too_large};

fn content_is_json(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).and_then(|v| v.split(';').next()).is_some_and(|v| {
        let v = v.trim();
        v.eq_ignore_ascii_case("application/json") || (v.starts_with("application/") && v.ends_with("+json"))
    })
}

/// Accepts a message for sending. It is stored before this answers, then sent by its
/// session in queue order, throttled. Sessions that are not connected keep it queued.
///
/// The body carries `to` and exactly one content: `text`, `image`, `video`, `audio`,
/// `document`, `sticker` (each with `url` or base64 `data`), `location`, `contact`,
/// `poll` or `reaction`; optionally `reply_to` (a stored message of the same chat to
/// quote) and `mentions`. A file can also be uploaded as `multipart/form-data`: a
/// `file` part, `kind` naming what it is sent as, and the other fields as form fields.
/// Files are fetched, checked and stored before the answer: a bad file is refused and
/// nothing is queued.
///
/// With an `Idempotency-Key` header, repeating the same request returns the same
/// message instead of sending twice; the same key with a different body (or file) is refused.
#[utoipa::path(post, operation_id = "send_message", path = "/api/v1/messages", tag = "messages",
    request_body(content((SendMessage = "application/json"), (SendUpload = "multipart/form-data"))),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries of this request safe")),
    responses((status = 202, description = "Accepted: stored and queued", body = Message), (status = 400, description = "Malformed request", body = Problem), (status = 404, body = Problem, description = "no such session"),
              (status = 413, description = "Body or file too large", body = Problem), (status = 415, description = "Body is neither JSON nor a multipart form", body = Problem),
              (status = 422, description = "A field is invalid: no content or two, a bad file, an unknown message to quote or react to", body = Problem)))]
pub async fn send(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    request: Request,
) -> ApiResult<Response> {
    let idempotency_key = idempotency_key(&headers)?;
    let (mut request, request_hash) = if content_is_multipart(&headers) {
        let multipart = Multipart::from_request(request, &gw).await.map_err(|r| ApiError::malformed(r.body_text()))?;
        let form = send_form::read(multipart).await?;
        (parse_send(&gw, form.body, Some(form.upload))?, form.request_hash)
    } else if content_is_json(&headers) {
        let body = Bytes::from_request(request, &gw).await.map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => too_large(),
            _ => ApiError::malformed(rejection.body_text()),
        })?;
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))?;
        // serde_json sorts object keys, so the hash ignores key order and spacing.
        let request_hash = hex::encode(Sha256::digest(value.to_string().as_bytes()));
        let parsed: SendMessage = serde_json::from_value(value).map_err(|e| invalid_body(&e.to_string()))?;
        (parse_send(&gw, parsed, None)?, request_hash)
    } else {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON (Content-Type: application/json) or as multipart/form-data with a file",
        ));
    };
    request.idempotency = idempotency_key.map(|key| Idempotency { key, request_hash });
    let accepted = gw.send_message(&caller.tenant, request).await?;
    Ok(accepted_response(accepted))
}

/// The `Idempotency-Key` header, if given.
pub(super) fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<IdempotencyKey>> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().ok().and_then(|s| IdempotencyKey::parse(s).ok());
    key.map(Some).ok_or_else(|| ApiError::invalid_field("Idempotency-Key", "must be 1-255 visible ASCII characters"))
}

/// 202 with the message and where it lives; marked when replayed for an `Idempotency-Key`.
pub(super) fn accepted_response(accepted: Accepted) -> Response {
    let location = format!("/api/v1/messages/{}", accepted.message.id);
    let mut response =
        (StatusCode::ACCEPTED, [(header::LOCATION, location)], axum::Json(Message::from(accepted.message)))
            .into_response();
    if accepted.replayed {
        response.headers_mut().insert("idempotent-replayed", header::HeaderValue::from_static("true"));
    }
    response
}

fn content_is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
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

pub(super) fn encode_cursor(id: MessageId) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

pub(super) fn decode_cursor(cursor: &str) -> ApiResult<MessageId> {
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

/// New text for a sent message.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditMessage {
    /// The new text (of a text message) or caption (of an image, video or document).
    #[schema(example = "Your order #42 ships tomorrow.")]
    text: String,
}

/// Edits a sent message's text, or a media message's caption. Queues an `edit` message
/// that carries the change to WhatsApp and answers 202 with that `edit` message; the
/// original shows the new text and `edited_at` at once. Only messages wagate sent that
/// reached WhatsApp (`sent`, `delivered`, `read`, `played`) and were not revoked can be
/// edited (else 409, code `not_editable`).
#[utoipa::path(patch, operation_id = "edit_message", path = "/api/v1/messages/{id}", tag = "messages", params(("id" = String, Path)),
    request_body = EditMessage,
    responses((status = 202, description = "Accepted: the `edit` message, queued", body = Message), (status = 404, description = "Not found", body = Problem),
              (status = 409, description = "Received, not sent yet, revoked, or without text", body = Problem), (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn edit(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Json(body): Json<EditMessage>,
) -> ApiResult<Response> {
    let accepted = gw.edit_message(&caller.tenant, message_id(&id)?, body.text).await?;
    Ok(accepted_response(accepted))
}

/// Deletes a sent message for everyone. Queues a `revoke` message and answers 202 with
/// it; the original shows `revoked_at` (and no text) at once. Same rules as editing
/// (409, code `not_editable`).
#[utoipa::path(post, operation_id = "revoke_message", path = "/api/v1/messages/{id}/revoke", tag = "messages", params(("id" = String, Path)),
    responses((status = 202, description = "Accepted: the `revoke` message, queued", body = Message), (status = 404, description = "Not found", body = Problem),
              (status = 409, description = "Received, not sent yet, or already revoked", body = Problem)))]
pub async fn revoke(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let accepted = gw.revoke_message(&caller.tenant, message_id(&id)?).await?;
    Ok(accepted_response(accepted))
}

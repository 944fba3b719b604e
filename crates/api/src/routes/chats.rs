//! Chats: a session's conversations with their newest message and unread count, and
//! marking a chat read. A chat's history is `GET /api/v1/messages?chat=…`.

use std::sync::Arc;

use axum::extract::{Extension, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_store::ChatSummary;
use wagate_types::{ChatId, ChatKind, MessageId, Recipient};

use super::message_view::Message;
use super::messages::{decode_cursor, encode_cursor};
use super::params::session_name;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path, Query};
use crate::time_format::opt_rfc3339;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChatParams {
    /// The session; `default` when left out.
    session: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One conversation.
#[derive(Serialize, ToSchema)]
pub struct Chat {
    /// The chat's WhatsApp address: the person's or the group's.
    #[schema(example = "4915110000001@s.whatsapp.net")]
    chat: String,
    /// E.164, when the chat is a person's phone number.
    #[schema(example = "+4915110000001")]
    phone: Option<String>,
    /// The name the person set on their phone, once they wrote.
    name: Option<String>,
    is_group: bool,
    /// Received messages not marked read (reactions, votes, edits and deletions do not count).
    unread: u64,
    /// When the newest message was sent (received ones: by the sender's clock) or accepted.
    last_message_at: Option<String>,
    last_message: Message,
}

impl From<ChatSummary> for Chat {
    fn from(c: ChatSummary) -> Self {
        let at = c.last_message.sent_at.or(Some(c.last_message.created_at));
        Self {
            phone: c.chat.phone().map(|p| p.to_string()),
            is_group: c.chat.kind() == ChatKind::Group,
            chat: c.chat.to_string(),
            name: c.name,
            unread: c.unread,
            last_message_at: opt_rfc3339(at),
            last_message: Message::from(c.last_message),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ChatPage {
    /// Newest activity first.
    data: Vec<Chat>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Lists a session's chats, the one with the newest message first.
#[utoipa::path(get, operation_id = "list_chats", path = "/api/v1/chats", tag = "chats", params(ChatParams),
    responses((status = 200, description = "OK", body = ChatPage), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ChatParams>,
) -> ApiResult<axum::Json<ChatPage>> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 200"));
    }
    let session = session_name(params.session.as_deref())?;
    let before = params.cursor.as_deref().map(decode_cursor).transpose()?;
    let chats = gw.chats(&caller.tenant, &session, before, limit).await?;
    let next_cursor = (chats.len() == limit as usize).then(|| chats.last().map(|c| encode_cursor(c.last_message.id)));
    Ok(axum::Json(ChatPage { data: chats.into_iter().map(Chat::from).collect(), next_cursor: next_cursor.flatten() }))
}

/// Which messages to mark read.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// The session; `default` when left out. It must be connected.
    session: Option<String>,
    /// Only up to this received message (its id); all unread ones when left out.
    up_to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReadResult {
    /// How many messages were marked read now.
    marked: u64,
}

/// Marks a chat's received messages read: the senders see blue ticks.
#[utoipa::path(post, operation_id = "mark_chat_read", path = "/api/v1/chats/{chat}/read", tag = "chats", request_body = ReadRequest,
    params(("chat" = String, Path, description = "A phone number or a JID")),
    responses((status = 200, description = "OK", body = ReadResult), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn read(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(chat): Path<String>,
    Json(body): Json<ReadRequest>,
) -> ApiResult<axum::Json<ReadResult>> {
    let session = session_name(body.session.as_deref())?;
    let chat: ChatId = Recipient::parse(&chat, gw.config.default_country)
        .map(|r| r.chat)
        .map_err(|e| ApiError::invalid_field("chat", e.to_string()))?;
    let up_to = body
        .up_to
        .as_deref()
        .map(|id| MessageId::parse(id).map_err(|_| ApiError::invalid_field("up_to", "is not a message id")))
        .transpose()?;
    let marked = gw.mark_chat_read(&caller.tenant, &session, &chat, up_to).await?;
    Ok(axum::Json(ReadResult { marked }))
}

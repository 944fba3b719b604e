//! `POST /api/v1/status`: a status (story) post, accepted and sent like a message.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use wagate_core::Gateway;
use wagate_core::status::StatusPost;
use wagate_store::Idempotency;
use wagate_types::Recipient;

use super::message_view::Message;
use super::messages::{accepted_response, idempotency_key};
use super::send_body::{CaptionedMedia, Problems, SendMessage, parse_send};
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::extract::{Json, invalid_body};

/// A status: `text` (with `background` and `font`), `image` or `video`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostStatus {
    /// The posting session; `default` when left out.
    #[schema(example = "default")]
    session: Option<String>,
    /// A text status, up to 700 characters.
    #[schema(example = "Open until 9 pm today")]
    text: Option<String>,
    /// A text status's background: `#RRGGBB` or `#AARRGGBB` (default `#1E6E4F`).
    #[schema(example = "#1E6E4F")]
    background: Option<String>,
    /// A text status's font, by WhatsApp's number: 0 (default), 1, 2, 6, 7, 8, 9 or 10.
    font: Option<i32>,
    /// A picture status, with an optional caption.
    image: Option<CaptionedMedia>,
    /// A video status, with an optional caption.
    video: Option<CaptionedMedia>,
    /// Who may see it: phone numbers or JIDs. Left out: everyone who wrote to the session.
    #[schema(example = json!(["+4915110000002"]))]
    audience: Option<Vec<String>>,
}

/// The background of a text status when none is given (WhatsApp's dark green).
const DEFAULT_BACKGROUND: u32 = 0xFF1E_6E4F;

/// Posts a status (story). It is stored before this answers and sent by the session
/// like a message (to `status@broadcast`): follow it with `GET /api/v1/messages/{id}`.
/// With an `Idempotency-Key` header, repeating the request returns the same post.
#[utoipa::path(post, operation_id = "post_status", path = "/api/v1/status", tag = "messages", request_body = PostStatus,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries of this request safe")),
    responses((status = 202, description = "Accepted: stored and queued", body = Message), (status = 400, description = "Malformed request", body = Problem),
              (status = 404, description = "No such session", body = Problem), (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn post(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    Json(value): Json<serde_json::Value>,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    // serde_json sorts object keys, so the hash ignores key order and spacing.
    let request_hash = hex::encode(Sha256::digest(value.to_string().as_bytes()));
    let body: PostStatus = serde_json::from_value(value).map_err(|e| invalid_body(&e.to_string()))?;

    let mut problems = Problems::default();
    let is_text = body.text.is_some();
    if let Some(text) = &body.text
        && text.chars().count() > Gateway::MAX_STATUS_TEXT
    {
        problems.add("text", format!("must be at most {} characters", Gateway::MAX_STATUS_TEXT));
    }
    if !is_text && (body.background.is_some() || body.font.is_some()) {
        problems.add(if body.font.is_some() { "font" } else { "background" }, "belongs to a text status");
    }
    let background_argb = match body.background.as_deref() {
        None => DEFAULT_BACKGROUND,
        Some(colour) => argb(colour).unwrap_or_else(|| {
            problems.add("background", "must be a colour like #1E6E4F or #FF1E6E4F");
            DEFAULT_BACKGROUND
        }),
    };
    let font = body.font.unwrap_or(0);
    if !StatusPost::FONTS.contains(&font) {
        problems.add("font", format!("must be one of {:?}", StatusPost::FONTS));
    }
    let mut audience = Vec::new();
    for (i, person) in body.audience.iter().flatten().enumerate() {
        match Recipient::parse(person, gw.config.default_country) {
            Ok(r) if matches!(r.chat.kind(), wagate_types::ChatKind::User | wagate_types::ChatKind::Lid) => {
                audience.push(r.chat)
            }
            Ok(_) => problems.add(&format!("audience[{i}]"), format!("'{person}' is not a person")),
            Err(e) => problems.add(&format!("audience[{i}]"), e.to_string()),
        }
    }
    if body.audience.as_ref().is_some_and(Vec::is_empty) {
        problems.add("audience", "must name someone, or be left out for everyone who wrote to the session");
    }
    let mut seen = std::collections::HashSet::new();
    audience.retain(|chat| seen.insert(chat.clone()));
    problems.into_result()?;

    let message = SendMessage::status(body.session, body.text, body.image, body.video);
    let mut request = parse_send(&gw, message, None)?;
    request.status = Some(StatusPost { audience, background_argb, font });
    request.idempotency = key.map(|key| Idempotency { key, request_hash });
    let accepted = gw.post_status(&caller.tenant, request).await?;
    Ok(accepted_response(accepted))
}

/// `#RRGGBB` (opaque) or `#AARRGGBB` as 0xAARRGGBB.
fn argb(colour: &str) -> Option<u32> {
    let hex = colour.strip_prefix('#')?;
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    match hex.len() {
        6 => u32::from_str_radix(hex, 16).ok().map(|rgb| 0xFF00_0000 | rgb),
        8 => u32::from_str_radix(hex, 16).ok(),
        _ => None,
    }
}

//! `POST /messages` as `multipart/form-data`: a file uploaded as the `file` part, and
//! the other fields as form fields.

use std::collections::BTreeMap;

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use wagate_core::media::{MediaKind, MediaSource};
use wagate_core::media_send::NewMedia;
use wagate_types::Priority;

use super::send_body::SendMessage;
use crate::error::{ApiError, ApiResult};
use crate::extract::too_large;

/// A media message with the file uploaded.
#[derive(ToSchema)]
#[allow(dead_code)] // Describes the form for OpenAPI; the form is read part by part.
pub struct SendUpload {
    /// The sending session; `default` when left out.
    session: Option<String>,
    /// A phone number or JID, as in a JSON request.
    to: String,
    /// What the file is sent as: `image`, `video`, `audio`, `document` or `sticker`.
    #[schema(example = "document")]
    kind: String,
    /// The file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Images, videos, documents.
    caption: Option<String>,
    /// Audio: `true` sends a voice note.
    ptt: Option<bool>,
    /// Documents: the name the recipient sees; the uploaded file's name when left out.
    filename: Option<String>,
    /// Documents: the type the recipient's phone opens it as.
    mimetype: Option<String>,
    /// The id of a stored message in the same chat to quote.
    reply_to: Option<String>,
    /// People named with `@`: phone numbers or JIDs, separated by commas.
    mentions: Option<String>,
    /// `high`, `normal` or `low`.
    priority: Option<Priority>,
    /// Send no earlier than this time (RFC 3339).
    send_at: Option<String>,
    /// Show "typing…" (or "recording audio…") for this long first, 0–20 000 ms.
    typing_ms: Option<u32>,
}

const FIELDS: [&str; 12] = [
    "session",
    "to",
    "kind",
    "caption",
    "ptt",
    "filename",
    "mimetype",
    "reply_to",
    "mentions",
    "priority",
    "send_at",
    "typing_ms",
];

/// The form read: the request without its file, the file, and the hash of both for
/// `Idempotency-Key` (form fields and the file's bytes).
pub struct Form {
    pub body: SendMessage,
    pub upload: NewMedia,
    pub request_hash: String,
}

fn form_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::malformed(format!("the multipart form could not be read: {}", e.body_text()))
    }
}

pub async fn read(mut multipart: Multipart) -> ApiResult<Form> {
    let mut fields = BTreeMap::new();
    let mut file = None;
    while let Some(field) = multipart.next_field().await.map_err(form_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "file" {
            let filename = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(str::to_owned);
            let bytes = field.bytes().await.map_err(form_error)?;
            file = Some((bytes, filename, content_type));
        } else if FIELDS.contains(&name.as_str()) {
            fields.insert(name, field.text().await.map_err(form_error)?);
        } else {
            return Err(ApiError::invalid_field(&name, "is not a field of this form"));
        }
    }
    let (bytes, filename, content_type) =
        file.ok_or_else(|| ApiError::invalid_field("file", "the form has no file part"))?;
    let mut hasher = Sha256::new();
    for (name, value) in &fields {
        hasher.update(format!("{}:{name}={}:{value};", name.len(), value.len()).as_bytes());
    }
    hasher.update(b"file=");
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());

    let text = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
    let kind_name = text("kind").ok_or_else(|| ApiError::invalid_field("kind", "is required with a file"))?;
    let kind = MediaKind::parse(&kind_name)
        .ok_or_else(|| ApiError::invalid_field("kind", "must be image, video, audio, document or sticker"))?;
    let typing_ms = text("typing_ms")
        .map(|t| t.trim().parse::<u32>().map_err(|_| ApiError::invalid_field("typing_ms", "must be a number of ms")))
        .transpose()?;
    let ptt = match text("ptt").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ApiError::invalid_field("ptt", "must be true or false")),
    };
    let priority = text("priority")
        .map(|p| serde_json::from_value(serde_json::Value::String(p)))
        .transpose()
        .map_err(|_| ApiError::invalid_field("priority", "must be high, normal or low"))?;
    let mentions =
        text("mentions").map(|m| m.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect());
    let body = SendMessage {
        session: text("session"),
        reply_to: text("reply_to"),
        mentions,
        priority,
        send_at: text("send_at"),
        typing_ms,
        ..SendMessage::to(text("to").ok_or_else(|| ApiError::invalid_field("to", "is required"))?)
    };
    let upload = NewMedia {
        kind,
        source: MediaSource::Upload { bytes, filename, content_type },
        caption: text("caption"),
        ptt,
        filename: text("filename"),
        mimetype: text("mimetype"),
    };
    Ok(Form { body, upload, request_hash })
}

//! Media files: what was sent, and what sessions received.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use wagate_core::Gateway;
use wagate_core::media_files::is_attachment;

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::extract::Path;

/// A media file's bytes, by the `media_id` a message shows. A received file not
/// downloaded yet is downloaded now, which needs its session connected (503 otherwise).
#[utoipa::path(get, operation_id = "get_media", path = "/api/v1/media/{id}", tag = "messages", params(("id" = String, Path)),
    responses((status = 200, description = "The file, with its Content-Type", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, description = "Not found", body = Problem),
              (status = 503, description = "Received media not downloaded yet, and its session is not connected", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (stored, bytes) = gw.media_file(&caller.tenant, &id).await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let content_type =
        HeaderValue::from_str(&stored.mimetype).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(stored.size));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if is_attachment(stored.kind) {
        let name = stored.filename.as_deref().unwrap_or("file");
        // The plain form for old clients (quotes and non-ASCII replaced), RFC 5987 for the rest.
        let plain: String =
            name.chars().map(|c| if c.is_ascii_graphic() && c != '"' || c == ' ' { c } else { '_' }).collect();
        let encoded: String = name
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let value = format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}");
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

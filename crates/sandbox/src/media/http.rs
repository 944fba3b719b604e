//! The media hosts' HTTP routes, on the sandbox's own listener.
//!
//! - `POST /mms/{type}/{token}?auth=A&token=T[&resume=1][&file_offset=N]`: the body is
//!   the encrypted blob; `T` must be base64url(SHA-256(body)). Answers
//!   `{"url","direct_path"}`; with `resume=1` (no body; clients send it before blobs
//!   of 5 MiB or more) `{"resume":"complete",url,direct_path}` if the blob is already
//!   stored, else `{"resume":"0"}`.
//! - `GET {direct_path}?auth=A&token=T`: the blob. The direct path has its own query
//!   (`?ccb=…&oh=…`) and the client appends `?auth=…` to it, so both `?` and `&`
//!   separate parameters here.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::{MediaStore, UploadRefusal};
use crate::server::Shared;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/mms/{kind}/{token}", post(upload)).route("/v/{*rest}", get(download))
}

/// The parameters of a URL whose query may contain more than one `?`.
struct Params(Vec<(String, String)>);

impl Params {
    fn of(uri: &Uri) -> Self {
        let pairs = uri
            .query()
            .unwrap_or_default()
            .split(['&', '?'])
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (key.to_owned(), value.to_owned())
            })
            .collect();
        Self(pairs)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    tracing::debug!(%status, reason, "media request refused");
    (status, [(header::CONTENT_TYPE, "application/json")], json!({ "error": reason }).to_string()).into_response()
}

fn authorized(media: &MediaStore, params: &Params) -> bool {
    params.get("auth") == Some(media.auth())
}

async fn upload(
    State(shared): State<Arc<Shared>>,
    Path((kind, token)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = &shared.media;
    let params = Params::of(&uri);
    if !authorized(media, &params) {
        return refuse(StatusCode::UNAUTHORIZED, "bad auth");
    }
    if params.get("token") != Some(token.as_str()) {
        return refuse(StatusCode::BAD_REQUEST, "the token in the path and the query differ");
    }
    let stored = |direct_path: String| json!({ "url": media.url_of(&direct_path), "direct_path": direct_path });
    if params.get("resume") == Some("1") {
        let answer = match media.find_token(&token) {
            Some(direct_path) => {
                let mut answer = stored(direct_path);
                answer["resume"] = json!("complete");
                answer
            }
            None => json!({ "resume": "0" }),
        };
        return axum::Json(answer).into_response();
    }
    // Partial uploads are never kept, so nothing can be resumed from an offset.
    if params.get("file_offset").is_some_and(|offset| offset != "0") {
        return refuse(StatusCode::BAD_REQUEST, "no partial upload to resume");
    }
    let max = media.max_blob();
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "blob too large");
    }
    let body = match read_limited(body, max, declared.unwrap_or(0) as usize).await {
        Ok(Some(body)) => body,
        Ok(None) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, "blob too large"),
        Err(error) => {
            tracing::debug!(%error, "upload body broke off");
            return refuse(StatusCode::BAD_REQUEST, "upload body broke off");
        }
    };
    match media.put(&kind, &token, body) {
        Ok(direct_path) => {
            tracing::debug!(%direct_path, kind, "media stored");
            axum::Json(stored(direct_path)).into_response()
        }
        Err(UploadRefusal::TooLarge) => refuse(StatusCode::PAYLOAD_TOO_LARGE, "blob too large"),
        Err(UploadRefusal::StoreFull) => refuse(StatusCode::INSUFFICIENT_STORAGE, "media store full"),
        Err(UploadRefusal::TokenMismatch) => refuse(StatusCode::BAD_REQUEST, "token is not the SHA-256 of the body"),
    }
}

/// The whole body, or `None` as soon as it grows past `max` (the rest is not read).
async fn read_limited(mut body: Body, max: usize, hint: usize) -> Result<Option<Bytes>, axum::Error> {
    let mut buffer = Vec::with_capacity(hint.min(max));
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(data) = frame?.into_data() else { continue };
        if buffer.len() + data.len() > max {
            return Ok(None);
        }
        buffer.extend_from_slice(&data);
    }
    Ok(Some(Bytes::from(buffer)))
}

async fn download(State(shared): State<Arc<Shared>>, Path(rest): Path<String>, uri: Uri) -> Response {
    let media = &shared.media;
    let params = Params::of(&uri);
    if !authorized(media, &params) {
        return refuse(StatusCode::UNAUTHORIZED, "bad auth");
    }
    let path = format!("/v/{rest}");
    match media.get(&path, params.get("oh"), params.get("token")) {
        Some(bytes) => ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response(),
        None => refuse(StatusCode::NOT_FOUND, "no such media"),
    }
}

//! `X-API-Key: <key>` or `Authorization: Bearer <key>` on every route but health and docs.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use wagate_core::Gateway;

use crate::error::ApiError;

pub use wagate_core::auth::Caller;

pub async fn require_key(
    State(gateway): State<Arc<Gateway>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = presented_key(request.headers()).ok_or_else(|| {
        ApiError::unauthorized("send your API key in the X-API-Key header or as Authorization: Bearer <key>")
    })?;
    let caller = gateway
        .auth
        .authenticate(key)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this API key is not valid or has been revoked"))?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(key) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(key.trim()).filter(|k| !k.is_empty());
    }
    let auth = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim()).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("authorization", "Bearer wag_1".parse().unwrap());
        assert_eq!(presented_key(&h), Some("wag_1"));
        h.insert("authorization", "bearer  wag_2 ".parse().unwrap());
        assert_eq!(presented_key(&h), Some("wag_2"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(presented_key(&h), None);
        h.insert("x-api-key", "wag_3".parse().unwrap());
        assert_eq!(presented_key(&h), Some("wag_3"));
    }
}

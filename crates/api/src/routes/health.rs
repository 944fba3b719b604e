use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use wagate_core::Gateway;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`; `degraded` when the database answers but takes no writes (nothing can be
    /// accepted until it does); `unavailable` when it does not answer.
    #[schema(example = "ok")]
    status: &'static str,
    version: &'static str,
    /// What keeps the database from taking writes: `storage_full`,
    /// `storage_read_only` or `storage_unavailable`; absent when it takes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    storage: Option<&'static str>,
}

/// Whether the server and its database answer, and whether the database takes writes
/// (checked at most every 2 s by writing a few pages). Needs no API key.
#[utoipa::path(get, operation_id = "health", path = "/api/v1/health", tag = "health", security(()),
    responses((status = 200, description = "The server answers and the database takes writes", body = Health),
        (status = 503, description = "The database does not answer or takes no writes", body = Health)))]
pub async fn health(State(gateway): State<Arc<Gateway>>) -> (StatusCode, Json<Health>) {
    let version = env!("CARGO_PKG_VERSION");
    let answer = |status, storage| Json(Health { status, version, storage });
    match gateway.store.storage_fault().await {
        Ok(None) => (StatusCode::OK, answer("ok", None)),
        Ok(Some(fault)) => {
            tracing::warn!(code = fault.code(), "health check: {}", fault.describe());
            (StatusCode::SERVICE_UNAVAILABLE, answer("degraded", Some(fault.code())))
        }
        Err(e) => {
            tracing::warn!(error = %e, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, answer("unavailable", Some("storage_unavailable")))
        }
    }
}

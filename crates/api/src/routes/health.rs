use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use wagate_core::Gateway;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    status: &'static str,
    version: &'static str,
}

/// Whether the server and its database answer. Needs no API key.
#[utoipa::path(get, operation_id = "health", path = "/api/v1/health", tag = "health", security(()),
    responses((status = 200, description = "OK", body = Health), (status = 503, description = "Not possible right now", body = Health)))]
pub async fn health(State(gateway): State<Arc<Gateway>>) -> (StatusCode, Json<Health>) {
    let version = env!("CARGO_PKG_VERSION");
    match gateway.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(Health { status: "ok", version })),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, Json(Health { status: "unavailable", version }))
        }
    }
}

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wagate_core::sessions::Qr;
use wagate_core::{Gateway, SessionRecord};
use wagate_types::{PhoneNumber, SessionName, SessionStatus};

use super::session_settings::Settings;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path};
use crate::time_format::{opt_rfc3339, rfc3339};

/// A linked WhatsApp number.
#[derive(Serialize, ToSchema)]
pub struct Session {
    #[schema(example = "support")]
    name: String,
    status: SessionStatus,
    /// Why the session is in this status, when that needs saying.
    status_reason: Option<String>,
    /// The linked phone number, E.164.
    #[schema(example = "+9611234567")]
    phone: Option<String>,
    /// The WhatsApp profile name of the linked number.
    push_name: Option<String>,
    /// When the session was last connected.
    last_seen_at: Option<String>,
    settings: Settings,
    created_at: String,
    updated_at: String,
}

impl From<SessionRecord> for Session {
    fn from(r: SessionRecord) -> Self {
        Self {
            name: r.name.to_string(),
            status: r.status,
            status_reason: r.status_reason,
            phone: r.phone,
            push_name: r.push_name,
            last_seen_at: opt_rfc3339(r.last_seen_at),
            settings: Settings::of(r.settings),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// 1–64 characters: a-z, 0-9, `-`, `_`.
    #[schema(example = "support")]
    name: String,
    settings: Option<Settings>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSession {
    settings: Option<Settings>,
}

#[derive(Serialize, ToSchema)]
pub struct QrCode {
    /// The text to encode as a QR code and scan with WhatsApp on the phone
    /// (Settings → Linked devices → Link a device).
    qr: String,
    expires_at: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairCodeRequest {
    /// The phone number to link, in any common form.
    #[schema(example = "+961 3 123 456")]
    phone: String,
}

#[derive(Serialize, ToSchema)]
pub struct PairCode {
    /// Type this on the phone: WhatsApp → Linked devices → Link with phone number.
    #[schema(example = "ABCD1234")]
    code: String,
}

fn session_name(name: &str) -> ApiResult<SessionName> {
    // A name that cannot exist names no session.
    SessionName::parse(name).map_err(|_| ApiError::not_found(format!("session '{name}' not found")))
}

/// The tenant's sessions, by name.
#[utoipa::path(get, operation_id = "list_sessions", path = "/api/v1/sessions", tag = "sessions",
    responses((status = 200, description = "OK", body = Vec<Session>), (status = 401, description = "Missing or invalid API key", body = Problem)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<axum::Json<Vec<Session>>> {
    let sessions = gw.sessions.list(&caller.tenant).await?;
    Ok(axum::Json(sessions.into_iter().map(Session::from).collect()))
}

/// Creates a session and starts linking it: fetch its QR code next.
#[utoipa::path(post, operation_id = "create_session", path = "/api/v1/sessions", tag = "sessions", request_body = CreateSession,
    responses((status = 201, description = "Created", body = Session), (status = 409, body = Problem, description = "the name is taken"),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<CreateSession>,
) -> ApiResult<Response> {
    let name = SessionName::parse(&body.name).map_err(|e| ApiError::invalid_field("name", e.to_string()))?;
    let mut settings = gw.config.session_defaults.clone();
    if let Some(s) = body.settings {
        s.apply(&mut settings)?;
    }
    let record = gw.sessions.create(&caller.tenant, &name, &settings).await?;
    let location = format!("/api/v1/sessions/{name}");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], axum::Json(Session::from(record))).into_response())
}

/// One session with its status.
#[utoipa::path(get, operation_id = "get_session", path = "/api/v1/sessions/{name}", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, description = "OK", body = Session), (status = 404, description = "Not found", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Session>> {
    let record = gw.sessions.get(&caller.tenant, &session_name(&name)?).await?;
    Ok(axum::Json(record.into()))
}

/// Changes a session's settings; they apply from the next send.
#[utoipa::path(patch, operation_id = "update_session", path = "/api/v1/sessions/{name}", tag = "sessions", params(("name" = String, Path)),
    request_body = UpdateSession,
    responses((status = 200, description = "OK", body = Session), (status = 404, description = "Not found", body = Problem), (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn update(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(body): Json<UpdateSession>,
) -> ApiResult<axum::Json<Session>> {
    let name = session_name(&name)?;
    let current = gw.sessions.get(&caller.tenant, &name).await?;
    let mut settings = current.settings;
    if let Some(s) = body.settings {
        s.apply(&mut settings)?;
    }
    let record = gw.sessions.update_settings(&caller.tenant, &name, settings).await?;
    Ok(axum::Json(record.into()))
}

/// Stops the session, unlinks nothing on the phone, and deletes the session, its
/// credentials and its messages.
#[utoipa::path(delete, operation_id = "delete_session", path = "/api/v1/sessions/{name}", tag = "sessions", params(("name" = String, Path)),
    responses((status = 204, description = "Done"), (status = 404, description = "Not found", body = Problem)))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    gw.sessions.delete(&caller.tenant, &session_name(&name)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn current_qr(gw: &Gateway, caller: &Caller, name: &str) -> ApiResult<Qr> {
    Ok(gw.sessions.qr(&caller.tenant, &session_name(name)?).await?)
}

/// The QR code to scan now. QR codes rotate: fetch again after `expires_at`.
#[utoipa::path(get, operation_id = "get_qr", path = "/api/v1/sessions/{name}/qr", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, description = "OK", body = QrCode), (status = 404, description = "Not found", body = Problem),
              (status = 409, body = Problem, description = "already connected, or logged out"),
              (status = 503, body = Problem, description = "no QR code yet")))]
pub async fn qr(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<QrCode>> {
    let qr = current_qr(&gw, &caller, &name).await?;
    Ok(axum::Json(QrCode { qr: qr.code, expires_at: rfc3339(qr.expires_at) }))
}

/// The QR code as a PNG image.
#[utoipa::path(get, operation_id = "get_qr_png", path = "/api/v1/sessions/{name}/qr.png", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, description = "OK", content_type = "image/png", body = Vec<u8>), (status = 404, description = "Not found", body = Problem),
              (status = 409, description = "Conflict with the current state", body = Problem), (status = 503, description = "Not possible right now", body = Problem)))]
pub async fn qr_png(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let qr = current_qr(&gw, &caller, &name).await?;
    let png = crate::routes::qr_image::png(&qr.code)?;
    Ok(([(header::CONTENT_TYPE, "image/png"), (header::CACHE_CONTROL, "no-store")], png).into_response())
}

/// The QR code as an SVG image.
#[utoipa::path(get, operation_id = "get_qr_svg", path = "/api/v1/sessions/{name}/qr.svg", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, description = "OK", content_type = "image/svg+xml", body = String), (status = 404, description = "Not found", body = Problem),
              (status = 409, description = "Conflict with the current state", body = Problem), (status = 503, description = "Not possible right now", body = Problem)))]
pub async fn qr_svg(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<Response> {
    let qr = current_qr(&gw, &caller, &name).await?;
    let svg = crate::routes::qr_image::svg(&qr.code)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-store")], svg).into_response())
}

/// Links by phone number instead of QR: returns a code to type on the phone.
#[utoipa::path(post, operation_id = "request_pair_code", path = "/api/v1/sessions/{name}/pair-code", tag = "sessions", params(("name" = String, Path)),
    request_body = PairCodeRequest,
    responses((status = 200, description = "OK", body = PairCode), (status = 404, description = "Not found", body = Problem), (status = 409, description = "Conflict with the current state", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem), (status = 503, description = "Not possible right now", body = Problem)))]
pub async fn pair_code(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(body): Json<PairCodeRequest>,
) -> ApiResult<axum::Json<PairCode>> {
    let name = session_name(&name)?;
    let phone = PhoneNumber::parse(&body.phone, gw.config.default_country)
        .map_err(|e| ApiError::invalid_field("phone", e.to_string()))?;
    let code = gw.sessions.pair_code(&caller.tenant, &name, &phone).await?;
    Ok(axum::Json(PairCode { code }))
}

/// Restarts the session: it reconnects with its credentials, or shows a new QR code.
#[utoipa::path(post, operation_id = "restart_session", path = "/api/v1/sessions/{name}/restart", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, description = "OK", body = Session), (status = 404, description = "Not found", body = Problem)))]
pub async fn restart(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Session>> {
    let record = gw.sessions.restart(&caller.tenant, &session_name(&name)?).await?;
    Ok(axum::Json(record.into()))
}

/// Unlinks the number and deletes its credentials; the session stays, `logged_out`,
/// and its queued messages wait for the next link.
#[utoipa::path(post, operation_id = "logout_session", path = "/api/v1/sessions/{name}/logout", tag = "sessions", params(("name" = String, Path)),
    responses((status = 200, description = "OK", body = Session), (status = 404, description = "Not found", body = Problem)))]
pub async fn logout(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<Session>> {
    let record = gw.sessions.logout(&caller.tenant, &session_name(&name)?).await?;
    Ok(axum::Json(record.into()))
}

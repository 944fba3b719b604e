//! The admin API under `/sandbox`: what a test or a developer does "on the phone".
//! Errors are RFC 9457 problem details, like wagate's own API.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::error::SandboxError;
use crate::network::Fault;
use crate::phone::link_code::LinkCodeError;
use crate::phone_number::PhoneNumber;
use crate::server::{Shared, parse_device};

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/accounts", post(create_account).get(list_accounts))
        .route("/accounts/{phone}", get(get_account))
        .route("/groups/{jid}/picture", get(group_picture))
        .route("/accounts/{phone}/scan", post(scan))
        .route("/accounts/{phone}/pair-code", post(pair_code))
        .route("/devices/{jid}/fault", post(fault))
        .merge(crate::contacts::routes())
}

#[derive(Deserialize)]
struct NewAccount {
    phone: String,
    name: String,
}

#[derive(Deserialize)]
struct Scan {
    qr: String,
}

#[derive(Deserialize)]
struct PairCode {
    code: String,
}

async fn create_account(
    State(shared): State<Arc<Shared>>,
    body: Result<Json<NewAccount>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let phone = PhoneNumber::parse(&body.phone).map_err(SandboxError::from)?;
    let account = shared.network.create_account(phone, body.name)?;
    Ok((StatusCode::CREATED, Json(account)).into_response())
}

async fn list_accounts(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.network.accounts()).into_response()
}

async fn get_account(State(shared): State<Arc<Shared>>, Path(phone): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(shared.network.account(&path_phone(&phone)?)?).into_response())
}

/// A group's picture as set by an admin (a JPEG), or 404.
async fn group_picture(State(shared): State<Arc<Shared>>, Path(jid): Path<String>) -> Response {
    match shared.network.group_picture(jid.split('@').next().unwrap_or_default()) {
        Some(jpeg) => ([(header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response(),
        None => {
            ApiError { status: StatusCode::NOT_FOUND, code: "not_found", detail: format!("group {jid} has no picture") }
                .into_response()
        }
    }
}

async fn scan(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: Result<Json<Scan>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let device = shared.network.scan_qr(&path_phone(&phone)?, &body.qr).await?;
    Ok(Json(device).into_response())
}

async fn pair_code(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: Result<Json<PairCode>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let device = shared.network.enter_pair_code(&path_phone(&phone)?, &body.code).await?;
    Ok(Json(device).into_response())
}

async fn fault(
    State(shared): State<Arc<Shared>>,
    Path(jid): Path<String>,
    body: Result<Json<Fault>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(fault) = body?;
    shared.network.inject_fault(&parse_device(&jid)?, fault).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A number in a path may be written `+15550001`, `%2B15550001` or `15550001`.
pub(crate) fn path_phone(raw: &str) -> Result<PhoneNumber, SandboxError> {
    let phone = if raw.starts_with('+') { PhoneNumber::parse(raw) } else { PhoneNumber::from_digits(raw) };
    Ok(phone?)
}

/// One error shape for every admin route.
pub(crate) struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl From<SandboxError> for ApiError {
    fn from(error: SandboxError) -> Self {
        use SandboxError as E;
        let (status, code) = match &error {
            E::InvalidPhoneNumber(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"),
            E::AccountExists(_) => (StatusCode::CONFLICT, "account_exists"),
            E::AccountNotFound(_) => (StatusCode::NOT_FOUND, "account_not_found"),
            E::InvalidQr(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_qr"),
            E::QrNotWaiting => (StatusCode::NOT_FOUND, "qr_not_waiting"),
            E::QrKeyMismatch => (StatusCode::UNPROCESSABLE_ENTITY, "qr_key_mismatch"),
            E::CompanionGone => (StatusCode::GONE, "companion_gone"),
            E::PairingRejected(_) => (StatusCode::BAD_GATEWAY, "pairing_rejected"),
            E::PairingTimeout => (StatusCode::GATEWAY_TIMEOUT, "pairing_timeout"),
            E::NoPairCodeWaiting => (StatusCode::NOT_FOUND, "no_pair_code_waiting"),
            E::LinkCode(LinkCodeError::BadCode(_)) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_pair_code"),
            E::LinkCode(LinkCodeError::CodeMismatch) => (StatusCode::UNPROCESSABLE_ENTITY, "pair_code_mismatch"),
            E::LinkCode(_) => (StatusCode::BAD_GATEWAY, "pairing_rejected"),
            E::InvalidDevice(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_device"),
            E::DeviceNotFound(_) => (StatusCode::NOT_FOUND, "device_not_found"),
            E::DeviceOffline(_) => (StatusCode::CONFLICT, "device_offline"),
            E::ContactNotFound(_) => (StatusCode::NOT_FOUND, "contact_not_found"),
            E::ContactOffline(_) => (StatusCode::CONFLICT, "contact_offline"),
            E::ContactTimeout => (StatusCode::GATEWAY_TIMEOUT, "contact_timeout"),
            E::ContactFailed(_) => (StatusCode::BAD_GATEWAY, "contact_failed"),
            E::InvalidContact(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_contact"),
            E::InvalidChat(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_chat"),
            E::InvalidMessage(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_message"),
            E::NoMedia { .. } => (StatusCode::NOT_FOUND, "no_media"),
            E::Bind { .. } | E::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = ?error, "admin request failed");
            "internal error; see the sandbox log".to_owned()
        } else {
            error.to_string()
        };
        Self { status, code, detail }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = match rejection {
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        Self { status, code: "invalid_body", detail: rejection.body_text() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
    }
}

//! `/sandbox/contacts`: create simulated contacts and drive them.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::NewContact;
use super::outgoing::SendBody;
use crate::admin::{ApiError, path_phone};
use crate::server::Shared;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/contacts", post(create).get(list))
        .route("/contacts/{phone}/online", post(online))
        .route("/contacts/{phone}/messages", post(send).get(received))
        .route("/contacts/{phone}/messages/{id}/media", get(super::media::media_route))
        .route("/contacts/{phone}/messages/{id}/edit", post(edit))
        .route("/contacts/{phone}/messages/{id}/revoke", post(revoke))
        .route("/contacts/{phone}/read", post(read))
        .route("/contacts/{phone}/receipts", get(receipts))
        .route("/contacts/{phone}/reactions", post(react))
        .route("/contacts/{phone}/votes", post(vote))
        .route("/contacts/{phone}/status", post(status))
        .route("/contacts/{phone}/calls", post(call))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Online {
    online: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Edit {
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Read {
    chat: String,
    ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct React {
    chat: String,
    id: String,
    /// Empty: the reaction is taken back.
    emoji: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vote {
    poll_id: String,
    /// Option names; none withdraws the vote.
    options: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Status {
    text: String,
    to: Vec<String>,
    #[serde(default)]
    background_argb: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    to: String,
    #[serde(default)]
    video: bool,
}

async fn create(
    State(shared): State<Arc<Shared>>,
    body: Result<Json<NewContact>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let contact = super::create(&shared, body).await?;
    Ok((StatusCode::CREATED, Json(contact)).into_response())
}

async fn list(State(shared): State<Arc<Shared>>) -> Response {
    Json(super::list(&shared).await).into_response()
}

async fn online(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: Result<Json<Online>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    Ok(Json(super::set_online(&shared, &path_phone(&phone)?, body.online).await?).into_response())
}

async fn send(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: Result<Json<SendBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let phone = path_phone(&phone)?;
    let to = body.to.clone();
    let outgoing = body.decode()?;
    Ok(sent(super::send::send(&shared, &phone, &to, outgoing).await?))
}

async fn edit(
    State(shared): State<Arc<Shared>>,
    Path((phone, id)): Path<(String, String)>,
    body: Result<Json<Edit>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    Ok(sent(super::send::edit(&shared, &path_phone(&phone)?, &id, &body.text).await?))
}

/// Takes no body: the path names all there is.
async fn revoke(
    State(shared): State<Arc<Shared>>,
    Path((phone, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    Ok(sent(super::send::revoke(&shared, &path_phone(&phone)?, &id).await?))
}

async fn received(State(shared): State<Arc<Shared>>, Path(phone): Path<String>) -> Result<Response, ApiError> {
    Ok(Json(super::received(&shared, &path_phone(&phone)?)?).into_response())
}

/// The receipts the contact got for what it sent: `[{"id", "type"}]`, oldest first.
async fn receipts(State(shared): State<Arc<Shared>>, Path(phone): Path<String>) -> Result<Response, ApiError> {
    let list = super::receipts(&shared, &path_phone(&phone)?)?;
    let list: Vec<_> = list.into_iter().map(|(id, kind)| serde_json::json!({ "id": id, "type": kind })).collect();
    Ok(Json(list).into_response())
}

async fn read(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: Result<Json<Read>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    super::read(&shared, &path_phone(&phone)?, &body.chat, &body.ids).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `201 {"id": …}`: what the contact sent, by its WhatsApp message id.
fn sent(id: String) -> Response {
    (StatusCode::CREATED, Json(json!({ "id": id }))).into_response()
}

async fn react(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: Result<Json<React>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    Ok(sent(super::interactions::react(&shared, &path_phone(&phone)?, &body.chat, &body.id, &body.emoji).await?))
}

async fn vote(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: Result<Json<Vote>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    Ok(sent(super::interactions::vote(&shared, &path_phone(&phone)?, &body.poll_id, &body.options).await?))
}

async fn status(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: Result<Json<Status>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let phone = path_phone(&phone)?;
    Ok(sent(super::interactions::post_status(&shared, &phone, &body.text, &body.to, body.background_argb).await?))
}

/// `201 {"call_id": …}`: the call rings the callee's connected devices.
async fn call(
    State(shared): State<Arc<Shared>>,
    Path(phone): Path<String>,
    body: Result<Json<Call>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body?;
    let call_id = super::calls::call(&shared, &path_phone(&phone)?, &body.to, body.video).await?;
    Ok((StatusCode::CREATED, Json(json!({ "call_id": call_id }))).into_response())
}

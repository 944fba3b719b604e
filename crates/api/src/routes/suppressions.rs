//! The tenant's suppression list: numbers no session ever sends to, whatever their
//! opt-in says. Messages to them end as `opted_out`.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_store::SuppressionRecord;
use wagate_types::PhoneNumber;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path, Query};
use crate::time_format::rfc3339;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SuppressionParams {
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A number on the suppression list.
#[derive(Serialize, ToSchema)]
pub struct Suppression {
    /// E.164.
    #[schema(example = "+4915110000113")]
    phone: String,
    reason: Option<String>,
    /// The API key that put it there (`api_key:<id>`).
    by: Option<String>,
    created_at: String,
}

impl From<SuppressionRecord> for Suppression {
    fn from(r: SuppressionRecord) -> Self {
        Self { phone: r.phone, reason: r.reason, by: r.actor, created_at: rfc3339(r.created_at) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SuppressionPage {
    /// By number.
    data: Vec<Suppression>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suppress {
    #[schema(example = "asked by phone not to be contacted")]
    reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Suppressed {
    #[serde(flatten)]
    suppression: Suppression,
    /// Waiting messages to the number that ended as `opted_out` now.
    messages_ended: u64,
}

fn phone(gw: &Gateway, input: &str) -> ApiResult<PhoneNumber> {
    PhoneNumber::parse(input, gw.config.default_country).map_err(|e| ApiError::invalid_field("phone", e.to_string()))
}

/// Lists the suppression list by number.
#[utoipa::path(get, operation_id = "list_suppressions", path = "/api/v1/suppressions", tag = "opt-in", params(SuppressionParams),
    responses((status = 200, description = "OK", body = SuppressionPage), (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<SuppressionParams>,
) -> ApiResult<axum::Json<SuppressionPage>> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 1000"));
    }
    let found = gw.suppressions(&caller.tenant, params.cursor.as_deref(), limit).await?;
    let next_cursor = (found.len() == limit as usize).then(|| found.last().map(|s| s.phone.clone())).flatten();
    Ok(axum::Json(SuppressionPage { data: found.into_iter().map(Suppression::from).collect(), next_cursor }))
}

/// Whether a number is on the suppression list.
#[utoipa::path(get, operation_id = "get_suppression", path = "/api/v1/suppressions/{phone}", tag = "opt-in",
    params(("phone" = String, Path, description = "A phone number")),
    responses((status = 200, description = "On the list", body = Suppression), (status = 404, description = "Not on the list", body = Problem),
              (status = 422, description = "Not a phone number", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(input): Path<String>,
) -> ApiResult<axum::Json<Suppression>> {
    let phone = phone(&gw, &input)?;
    Ok(axum::Json(gw.suppression(&caller.tenant, &phone).await?.into()))
}

/// Puts a number on the suppression list; what waits for it ends as `opted_out`.
/// Putting it there again keeps the first entry.
#[utoipa::path(put, operation_id = "suppress", path = "/api/v1/suppressions/{phone}", tag = "opt-in",
    params(("phone" = String, Path, description = "A phone number")), request_body = Suppress,
    responses((status = 200, description = "On the list", body = Suppressed), (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn put(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(input): Path<String>,
    Json(body): Json<Suppress>,
) -> ApiResult<axum::Json<Suppressed>> {
    let phone = phone(&gw, &input)?;
    if body.reason.as_deref().is_some_and(|r| r.chars().count() > 1000) {
        return Err(ApiError::invalid_field("reason", "must be at most 1000 characters"));
    }
    let actor = format!("api_key:{}", caller.key_id);
    let (entry, ended) = gw.suppress(&caller.tenant, &phone, body.reason.as_deref(), &actor).await?;
    Ok(axum::Json(Suppressed { suppression: entry.into(), messages_ended: ended }))
}

/// Takes a number off the suppression list.
#[utoipa::path(delete, operation_id = "unsuppress", path = "/api/v1/suppressions/{phone}", tag = "opt-in",
    params(("phone" = String, Path, description = "A phone number")),
    responses((status = 204, description = "Off the list"), (status = 404, description = "Not on the list", body = Problem),
              (status = 422, description = "Not a phone number", body = Problem)))]
pub async fn delete(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(input): Path<String>,
) -> ApiResult<StatusCode> {
    let phone = phone(&gw, &input)?;
    gw.unsuppress(&caller.tenant, &phone).await?;
    Ok(StatusCode::NO_CONTENT)
}

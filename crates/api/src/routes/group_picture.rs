//! A group's picture: where it is, set one (any picture, made a square JPEG), remove it.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::media::MediaSource;

use super::groups::group_jid;
use super::params::session_name;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path, Query};

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionParam {
    /// The session that asks WhatsApp; `default` when left out. It must be connected.
    session: Option<String>,
}

/// Where a group's picture is.
#[derive(Serialize, ToSchema)]
pub struct GroupPicture {
    /// A short-lived WhatsApp address of the picture; null when the group has none.
    url: Option<String>,
}

/// The picture to set: by `url` (fetched by the server) or `data` (base64).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPicture {
    session: Option<String>,
    #[schema(example = "https://example.com/logo.png")]
    url: Option<String>,
    data: Option<String>,
}

/// Where the group's picture is, asked from WhatsApp.
#[utoipa::path(get, operation_id = "get_group_picture", path = "/api/v1/groups/{group}/picture", tag = "groups",
    params(("group" = String, Path, description = "The group's JID"), SessionParam),
    responses((status = 200, description = "OK", body = GroupPicture), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "Not a group JID", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    Query(params): Query<SessionParam>,
) -> ApiResult<axum::Json<GroupPicture>> {
    let session = session_name(params.session.as_deref())?;
    let group = group_jid(&group)?;
    Ok(axum::Json(GroupPicture { url: gw.group_picture(&caller.tenant, &session, &group).await? }))
}

/// Sets the group's picture: any picture (JPEG, PNG, WebP, GIF), made the largest
/// centred square, at most 640×640, as a JPEG. Admins may always; members while the
/// group is not `locked`.
#[utoipa::path(put, operation_id = "set_group_picture", path = "/api/v1/groups/{group}/picture", tag = "groups",
    request_body = SetPicture, params(("group" = String, Path, description = "The group's JID")),
    responses((status = 204, description = "Set"), (status = 404, description = "No such session", body = Problem),
              (status = 413, description = "The picture is too large", body = Problem), (status = 422, description = "Not a picture, or WhatsApp refused", body = Problem),
              (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn set(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    Json(body): Json<SetPicture>,
) -> ApiResult<StatusCode> {
    let session = session_name(body.session.as_deref())?;
    let group = group_jid(&group)?;
    let source = match (body.url, body.data) {
        (Some(url), None) => MediaSource::Url(url),
        (None, Some(data)) => MediaSource::Base64(data),
        _ => return Err(ApiError::invalid_field("picture", "give the picture as `url` or as `data`, one of them")),
    };
    gw.set_group_picture(&caller.tenant, &session, &group, Some(source)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the group's picture.
#[utoipa::path(delete, operation_id = "remove_group_picture", path = "/api/v1/groups/{group}/picture", tag = "groups",
    params(("group" = String, Path, description = "The group's JID"), SessionParam),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "Not a group JID", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn remove(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(group): Path<String>,
    Query(params): Query<SessionParam>,
) -> ApiResult<StatusCode> {
    let session = session_name(params.session.as_deref())?;
    let group = group_jid(&group)?;
    gw.set_group_picture(&caller.tenant, &session, &group, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

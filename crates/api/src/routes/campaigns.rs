//! Campaigns: one message to many recipients, spread over one or several sessions,
//! with progress, pause, resume and cancel, and each recipient's result.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::campaign_progress::Progress;
use wagate_core::campaigns::{Campaign, CampaignRequest, MAX_RECIPIENTS};
use wagate_store::{CampaignRecord, RecipientRecord};
use wagate_types::{CampaignStatus, MessageStatus, Priority, Recipient, SessionName};

use super::send_body::{
    AudioBody, CaptionedMedia, ContactBody, DocumentBody, LocationBody, PollBody, Problems, SendMessage, StickerBody,
    parse_send,
};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path, Query};
use crate::time_format::{opt_rfc3339, rfc3339};

/// A campaign to create.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    #[schema(example = "November sale")]
    name: String,
    /// The sessions it is spread over; `["default"]` when left out.
    #[schema(example = json!(["sales-1", "sales-2"]))]
    sessions: Option<Vec<String>>,
    message: CampaignMessage,
    /// Recipients with their `{{variables}}`.
    recipients: Option<Vec<NewRecipient>>,
    /// Or as CSV: a header row with a `phone` (or `to`) column; every other column is a
    /// variable. Both may be given.
    #[schema(example = "phone,name\n+4915110000001,Ann\n+4915110000002,Bob\n")]
    recipients_csv: Option<String>,
    /// When to start (RFC 3339); now when left out.
    start_at: Option<String>,
    /// Queue order against the sessions' other messages; `low` when left out.
    priority: Option<Priority>,
}

/// The message every recipient gets: one content, as `POST /messages` takes it, where
/// `{{name}}` stands for the recipient's variable `name` in any text.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignMessage {
    #[schema(example = "Hi {{name}}, 20% off everything until Sunday!")]
    text: Option<String>,
    image: Option<CaptionedMedia>,
    video: Option<CaptionedMedia>,
    audio: Option<AudioBody>,
    document: Option<DocumentBody>,
    sticker: Option<StickerBody>,
    location: Option<LocationBody>,
    contact: Option<ContactBody>,
    poll: Option<PollBody>,
    typing_ms: Option<u32>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecipient {
    /// A phone number in any common form, or a JID.
    #[schema(example = "+4915110000001")]
    to: String,
    #[serde(default)]
    #[schema(example = json!({ "name": "Ann" }))]
    variables: Map<String, Value>,
}

/// A campaign and how far it got.
#[derive(Serialize, ToSchema)]
pub struct CampaignView {
    id: String,
    name: String,
    status: CampaignStatus,
    sessions: Vec<String>,
    /// The message template.
    kind: String,
    message: Value,
    priority: Priority,
    start_at: String,
    created_at: String,
    completed_at: Option<String>,
    progress: Progress,
}

impl From<Campaign> for CampaignView {
    fn from(c: Campaign) -> Self {
        let r = c.record;
        let p = Progress::of(&r, &c.counts, c.eta);
        Self {
            id: r.id,
            name: r.name,
            status: r.status,
            sessions: c.sessions,
            kind: r.kind,
            message: r.content,
            priority: r.priority,
            start_at: rfc3339(r.start_at),
            created_at: rfc3339(r.created_at),
            completed_at: opt_rfc3339(r.completed_at),
            progress: p,
        }
    }
}

/// A campaign in a list.
#[derive(Serialize, ToSchema)]
pub struct CampaignSummary {
    id: String,
    name: String,
    status: CampaignStatus,
    total: u64,
    created_at: String,
}

impl From<CampaignRecord> for CampaignSummary {
    fn from(r: CampaignRecord) -> Self {
        Self { id: r.id, name: r.name, status: r.status, total: r.total, created_at: rfc3339(r.created_at) }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CampaignPage {
    /// Newest first.
    data: Vec<CampaignSummary>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecipientParams {
    /// Only recipients whose message has this status.
    status: Option<MessageStatus>,
    /// Page size, 1–1000 (default 100).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One recipient and what became of their message.
#[derive(Serialize, ToSchema)]
pub struct RecipientView {
    to: String,
    variables: Value,
    /// `pending` (not in a queue yet) or the message's status.
    status: String,
    message_id: Option<String>,
    error: Option<String>,
    error_code: Option<String>,
}

impl From<RecipientRecord> for RecipientView {
    fn from(r: RecipientRecord) -> Self {
        let status = match (r.state.as_str(), r.status) {
            (_, Some(status)) => status.to_string(),
            (state, None) => state.to_owned(),
        };
        Self {
            to: r.recipient,
            variables: r.variables,
            status,
            message_id: r.message_id.map(|id| id.to_string()),
            error: r.error,
            error_code: r.error_code,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RecipientPage {
    /// In list order.
    data: Vec<RecipientView>,
    next_cursor: Option<String>,
}

/// Reads the CSV list: a header with `phone` or `to`, the other columns variables.
fn csv_recipients(csv_text: &str, problems: &mut Problems) -> Vec<NewRecipient> {
    let mut reader =
        csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            problems.add("recipients_csv", format!("not CSV: {e}"));
            return Vec::new();
        }
    };
    let Some(to_column) = headers.iter().position(|h| h.eq_ignore_ascii_case("phone") || h.eq_ignore_ascii_case("to"))
    else {
        problems.add("recipients_csv", "the header row needs a `phone` (or `to`) column");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (line, row) in reader.records().enumerate() {
        match row {
            Ok(row) => {
                let mut variables = Map::new();
                for (i, value) in row.iter().enumerate() {
                    if i != to_column
                        && let Some(name) = headers.get(i)
                    {
                        variables.insert(name.to_owned(), Value::from(value));
                    }
                }
                out.push(NewRecipient { to: row.get(to_column).unwrap_or_default().to_owned(), variables });
            }
            Err(e) => problems.add(&format!("recipients_csv (row {})", line + 2), e.to_string()),
        }
    }
    out
}

fn parse(gw: &Gateway, body: NewCampaign) -> ApiResult<CampaignRequest> {
    let mut problems = Problems::default();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        problems.add("name", "must be 1 to 200 characters");
    }
    let mut sessions = Vec::new();
    for (i, s) in body.sessions.unwrap_or_else(|| vec!["default".into()]).iter().enumerate() {
        match SessionName::parse(s) {
            Ok(name) => sessions.push(name),
            Err(e) => problems.add(&format!("sessions[{i}]"), e.to_string()),
        }
    }
    if sessions.is_empty() {
        problems.add("sessions", "name at least one session");
    }
    let start_at = body.start_at.as_deref().and_then(|s| {
        OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| problems.add("start_at", "must be an RFC 3339 time like 2030-01-31T09:00:00Z"))
            .ok()
    });
    let mut listed: Vec<(String, NewRecipient)> = Vec::new();
    for (i, r) in body.recipients.unwrap_or_default().into_iter().enumerate() {
        listed.push((format!("recipients[{i}].to"), r));
    }
    if let Some(csv_text) = &body.recipients_csv {
        for (i, r) in csv_recipients(csv_text, &mut problems).into_iter().enumerate() {
            listed.push((format!("recipients_csv (row {})", i + 2), r));
        }
    }
    if listed.is_empty() {
        problems.add("recipients", "give at least one recipient, in `recipients` or `recipients_csv`");
    }
    if listed.len() > MAX_RECIPIENTS {
        problems.add("recipients", format!("at most {MAX_RECIPIENTS} recipients"));
    }
    let mut recipients = Vec::with_capacity(listed.len());
    let mut bad = 0;
    for (field, r) in listed {
        match Recipient::parse(&r.to, gw.config.default_country) {
            Ok(to) => recipients.push((to, r.variables)),
            // The first few are enough to fix a list.
            Err(e) => {
                bad += 1;
                if bad <= 20 {
                    problems.add(&field, e.to_string());
                }
            }
        }
    }
    let m = body.message;
    let as_send = SendMessage {
        text: m.text,
        image: m.image,
        video: m.video,
        audio: m.audio,
        document: m.document,
        sticker: m.sticker,
        location: m.location,
        contact: m.contact,
        poll: m.poll,
        typing_ms: m.typing_ms,
        ..SendMessage::to("status@broadcast".into())
    };
    let message = parse_send(gw, as_send, None).map_err(|e| e.within("message"));
    let message = match (problems.into_result(), message) {
        (Ok(()), Ok(message)) => message,
        (Err(e), _) | (Ok(()), Err(e)) => return Err(e),
    };
    Ok(CampaignRequest {
        name,
        sessions,
        content: message.content,
        typing_ms: message.typing_ms,
        priority: body.priority.unwrap_or(Priority::Low),
        start_at,
        recipients,
    })
}

/// Creates a campaign: the whole list is stored at once (a recipient listed twice gets
/// one message), then fed into the sessions' queues from `start_at` on, spread over
/// the sessions and sent at each one's pace, caps, quiet hours and opt-in.
#[utoipa::path(post, operation_id = "create_campaign", path = "/api/v1/campaigns", tag = "campaigns", request_body = NewCampaign,
    responses((status = 201, description = "Created", body = CampaignView), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid; nothing was stored", body = Problem)))]
pub async fn create(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<NewCampaign>,
) -> ApiResult<(StatusCode, axum::Json<CampaignView>)> {
    let request = parse(&gw, body)?;
    let campaign = gw.create_campaign(&caller.tenant, request).await?;
    Ok((StatusCode::CREATED, axum::Json(campaign.into())))
}

/// Lists campaigns, newest first.
#[utoipa::path(get, operation_id = "list_campaigns", path = "/api/v1/campaigns", tag = "campaigns", params(PageParams),
    responses((status = 200, description = "OK", body = CampaignPage), (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<PageParams>,
) -> ApiResult<axum::Json<CampaignPage>> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 200"));
    }
    let found = gw.campaigns(&caller.tenant, params.cursor.as_deref(), limit).await?;
    let next_cursor = (found.len() == limit as usize).then(|| found.last().map(|c| c.id.clone())).flatten();
    Ok(axum::Json(CampaignPage { data: found.into_iter().map(CampaignSummary::from).collect(), next_cursor }))
}

/// A campaign with its progress.
#[utoipa::path(get, operation_id = "get_campaign", path = "/api/v1/campaigns/{id}", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses((status = 200, description = "OK", body = CampaignView), (status = 404, description = "No such campaign", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CampaignView>> {
    Ok(axum::Json(gw.campaign(&caller.tenant, &id).await?.into()))
}

async fn change(
    gw: &Gateway,
    caller: &Caller,
    id: &str,
    status: CampaignStatus,
) -> ApiResult<axum::Json<CampaignView>> {
    Ok(axum::Json(gw.set_campaign_status(&caller.tenant, id, status).await?.into()))
}

/// Pauses a campaign: nothing more goes out; messages not taken by a session yet go
/// back to the list.
#[utoipa::path(post, operation_id = "pause_campaign", path = "/api/v1/campaigns/{id}/pause", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses((status = 200, description = "Paused", body = CampaignView), (status = 404, description = "No such campaign", body = Problem),
              (status = 409, description = "The campaign ended", body = Problem)))]
pub async fn pause(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CampaignView>> {
    change(&gw, &caller, &id, CampaignStatus::Paused).await
}

/// Resumes a paused campaign.
#[utoipa::path(post, operation_id = "resume_campaign", path = "/api/v1/campaigns/{id}/resume", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses((status = 200, description = "Running", body = CampaignView), (status = 404, description = "No such campaign", body = Problem),
              (status = 409, description = "The campaign ended", body = Problem)))]
pub async fn resume(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CampaignView>> {
    change(&gw, &caller, &id, CampaignStatus::Running).await
}

/// Cancels a campaign for good: what was not sent yet is `cancelled`.
#[utoipa::path(post, operation_id = "cancel_campaign", path = "/api/v1/campaigns/{id}/cancel", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id")),
    responses((status = 200, description = "Cancelled", body = CampaignView), (status = 404, description = "No such campaign", body = Problem),
              (status = 409, description = "The campaign ended", body = Problem)))]
pub async fn cancel(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CampaignView>> {
    change(&gw, &caller, &id, CampaignStatus::Cancelled).await
}

/// Each recipient and what became of their message, in list order.
#[utoipa::path(get, operation_id = "list_campaign_recipients", path = "/api/v1/campaigns/{id}/recipients", tag = "campaigns",
    params(("id" = String, Path, description = "The campaign's id"), RecipientParams),
    responses((status = 200, description = "OK", body = RecipientPage), (status = 404, description = "No such campaign", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn recipients(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    Query(params): Query<RecipientParams>,
) -> ApiResult<axum::Json<RecipientPage>> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 1000"));
    }
    let after = params
        .cursor
        .as_deref()
        .map(|c| c.parse::<i64>().map_err(|_| ApiError::invalid_field("cursor", "is not a cursor from this list")))
        .transpose()?;
    let found = gw.campaign_recipients(&caller.tenant, &id, params.status, after, limit).await?;
    let next_cursor = (found.len() == limit as usize).then(|| found.last().map(|r| r.position.to_string())).flatten();
    Ok(axum::Json(RecipientPage { data: found.into_iter().map(RecipientView::from).collect(), next_cursor }))
}

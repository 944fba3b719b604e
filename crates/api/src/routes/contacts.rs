//! Contacts: who is on WhatsApp, and the people sessions talk with.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use wagate_core::Gateway;
use wagate_core::contacts::ContactListRequest;
use wagate_store::{ContactCursor, ContactSummary};
use wagate_types::{ChatId, PhoneNumber, SessionId};

use super::params::{person, session_name};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Json, Path, Query};
use crate::time_format::rfc3339;

/// Numbers to look up.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The session that asks WhatsApp; `default` when left out. It must be connected.
    #[schema(example = "default")]
    session: Option<String>,
    /// Phone numbers in any common form (1 to 500).
    #[schema(example = json!(["+49 151 10000001", "+4915110000999"]))]
    phones: Vec<String>,
}

/// Whether one number has a WhatsApp account.
#[derive(Serialize, ToSchema)]
pub struct CheckResult {
    /// The number as given.
    input: String,
    /// The number in E.164.
    #[schema(example = "+4915110000001")]
    phone: String,
    on_whatsapp: bool,
    /// The account's WhatsApp address, to send to; null when there is no account.
    #[schema(example = "4915110000001@s.whatsapp.net")]
    jid: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CheckResults {
    /// One result per number asked, in the same order.
    data: Vec<CheckResult>,
}

/// Asks WhatsApp which numbers have an account.
#[utoipa::path(post, operation_id = "check_contacts", path = "/api/v1/contacts/check", tag = "contacts", request_body = CheckRequest,
    responses((status = 200, description = "OK", body = CheckResults), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A number is invalid", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn check(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<CheckRequest>,
) -> ApiResult<axum::Json<CheckResults>> {
    let session = session_name(body.session.as_deref())?;
    if body.phones.is_empty() || body.phones.len() > Gateway::MAX_CHECK {
        return Err(ApiError::invalid_field("phones", format!("give 1 to {} numbers", Gateway::MAX_CHECK)));
    }
    let mut phones = Vec::with_capacity(body.phones.len());
    let mut bad = Vec::new();
    for (i, input) in body.phones.iter().enumerate() {
        match PhoneNumber::parse(input, gw.config.default_country) {
            Ok(phone) => phones.push(phone),
            Err(e) => bad.push(format!("phones[{i}] '{input}': {e}")),
        }
    }
    if !bad.is_empty() {
        return Err(ApiError::invalid_field("phones", bad.join("; ")));
    }
    let answers = gw.check_numbers(&caller.tenant, &session, &phones).await?;
    let data = body
        .phones
        .into_iter()
        .zip(answers)
        .map(|(input, a)| CheckResult {
            input,
            phone: a.phone.to_string(),
            on_whatsapp: a.on_whatsapp,
            jid: a.chat.map(|c| c.to_string()),
        })
        .collect();
    Ok(axum::Json(CheckResults { data }))
}

/// Someone who wrote to a session, with the conversation so far.
#[derive(Serialize, ToSchema)]
pub struct Contact {
    session: String,
    /// Their WhatsApp address.
    #[schema(example = "4915110000001@s.whatsapp.net")]
    jid: String,
    /// E.164, when WhatsApp named them by phone number.
    #[schema(example = "+4915110000001")]
    phone: Option<String>,
    /// The name they set on their own phone.
    push_name: Option<String>,
    first_seen_at: String,
    /// When they last wrote, by WhatsApp's clock.
    last_message_at: String,
    messages_received: u64,
    messages_sent: u64,
}

impl From<ContactSummary> for Contact {
    fn from(c: ContactSummary) -> Self {
        Self {
            session: c.session_name.to_string(),
            jid: c.jid.to_string(),
            phone: c.phone,
            push_name: c.push_name,
            first_seen_at: rfc3339(c.first_seen_at),
            last_message_at: rfc3339(c.last_message_at),
            messages_received: c.messages_received,
            messages_sent: c.messages_sent,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this session's contacts.
    session: Option<String>,
    /// Part of a name, number or address, any case.
    search: Option<String>,
    /// Page size, 1–200 (default 50).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of contacts, newest conversation first.
#[derive(Serialize, ToSchema)]
pub struct ContactPage {
    data: Vec<Contact>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Lists the people who wrote to your sessions, newest conversation first.
#[utoipa::path(get, operation_id = "list_contacts", path = "/api/v1/contacts", tag = "contacts", params(ListParams),
    responses((status = 200, description = "OK", body = ContactPage), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "A field is invalid", body = Problem)))]
pub async fn list(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ListParams>,
) -> ApiResult<axum::Json<ContactPage>> {
    let limit = params.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid_field("limit", "must be between 1 and 200"));
    }
    let request = ContactListRequest {
        session: params.session.as_deref().map(|s| session_name(Some(s))).transpose()?,
        search: params.search,
        after: params.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    };
    let found = gw.contacts(&caller.tenant, request).await?;
    let next_cursor = (found.len() == limit as usize).then(|| found.last().map(encode_cursor)).flatten();
    Ok(axum::Json(ContactPage { data: found.into_iter().map(Contact::from).collect(), next_cursor }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionParam {
    /// The session; `default` when left out.
    session: Option<String>,
}

/// One contact of a session, by phone number or WhatsApp address.
#[utoipa::path(get, operation_id = "get_contact", path = "/api/v1/contacts/{contact}", tag = "contacts",
    params(("contact" = String, Path, description = "A phone number or a JID"), SessionParam),
    responses((status = 200, description = "OK", body = Contact), (status = 404, description = "Not found", body = Problem),
              (status = 422, description = "Not a phone number or JID", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(contact): Path<String>,
    Query(params): Query<SessionParam>,
) -> ApiResult<axum::Json<Contact>> {
    let session = session_name(params.session.as_deref())?;
    let chat = person(&gw, "contact", &contact)?;
    Ok(axum::Json(gw.contact(&caller.tenant, &session, &chat).await?.into()))
}

/// Where a profile picture is.
#[derive(Serialize, ToSchema)]
pub struct Picture {
    /// A short-lived WhatsApp address of the picture; null when there is none or it is
    /// hidden from this account.
    url: Option<String>,
}

/// The profile picture of a person (or group), asked from WhatsApp.
#[utoipa::path(get, operation_id = "get_contact_picture", path = "/api/v1/contacts/{contact}/picture", tag = "contacts",
    params(("contact" = String, Path, description = "A phone number or a JID"), SessionParam),
    responses((status = 200, description = "OK", body = Picture), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "Not a phone number or JID", body = Problem), (status = 503, description = "The session is not connected", body = Problem)))]
pub async fn picture(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(contact): Path<String>,
    Query(params): Query<SessionParam>,
) -> ApiResult<axum::Json<Picture>> {
    let session = session_name(params.session.as_deref())?;
    let chat = person(&gw, "contact", &contact)?;
    Ok(axum::Json(Picture { url: gw.profile_picture(&caller.tenant, &session, &chat).await? }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Only this session's contacts.
    session: Option<String>,
    /// Part of a name, number or address, any case.
    search: Option<String>,
}

/// All matching contacts as a CSV file (UTF-8 with a byte-order mark, so spreadsheets
/// show every script correctly).
#[utoipa::path(get, operation_id = "export_contacts", path = "/api/v1/contacts.csv", tag = "contacts", params(ExportParams),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String), (status = 404, description = "No such session", body = Problem)))]
pub async fn export(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<ExportParams>,
) -> ApiResult<impl IntoResponse> {
    const PAGE: u32 = 1_000;
    let session = params.session.as_deref().map(|s| session_name(Some(s))).transpose()?;
    let mut csv = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let header = [
        "session",
        "jid",
        "phone",
        "push_name",
        "first_seen_at",
        "last_message_at",
        "messages_received",
        "messages_sent",
    ];
    csv.write_record(header).map_err(internal)?;
    let mut after = None;
    loop {
        let request =
            ContactListRequest { session: session.clone(), search: params.search.clone(), after, limit: PAGE };
        let page = gw.contacts(&caller.tenant, request).await?;
        for c in &page {
            csv.write_record([
                c.session_name.as_str(),
                c.jid.as_str(),
                c.phone.as_deref().unwrap_or(""),
                c.push_name.as_deref().unwrap_or(""),
                &rfc3339(c.first_seen_at),
                &rfc3339(c.last_message_at),
                &c.messages_received.to_string(),
                &c.messages_sent.to_string(),
            ])
            .map_err(internal)?;
        }
        if page.len() < PAGE as usize {
            break;
        }
        after = page.last().map(ContactSummary::cursor);
    }
    let body = csv.into_inner().map_err(|e| internal(e.into_error()))?;
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
        (header::CONTENT_DISPOSITION, "attachment; filename=\"contacts.csv\""),
    ];
    Ok((headers, body))
}

fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
    ApiError::from(wagate_core::Error::Internal(anyhow::Error::new(e).context("write contacts CSV")))
}

fn encode_cursor(c: &ContactSummary) -> String {
    let at = c.last_message_at.unix_timestamp_nanos() / 1_000_000;
    URL_SAFE_NO_PAD.encode(format!("{at}|{}|{}", c.session_id, c.jid))
}

fn decode_cursor(cursor: &str) -> ApiResult<ContactCursor> {
    let invalid = || ApiError::invalid_field("cursor", "is not a cursor this API returned");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '|');
    let (Some(at), Some(session), Some(jid)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let at: i128 = at.parse().map_err(|_| invalid())?;
    Ok(ContactCursor {
        last_message_at: OffsetDateTime::from_unix_timestamp_nanos(at * 1_000_000).map_err(|_| invalid())?,
        session_id: SessionId(session.parse().map_err(|_| invalid())?),
        jid: ChatId::parse(jid).map_err(|_| invalid())?,
    })
}

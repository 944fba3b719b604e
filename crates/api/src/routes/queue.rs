//! `GET /api/v1/sessions/{name}/queue`: what waits to go out, and when.

use std::sync::Arc;

use axum::extract::{Extension, State};
use serde::Serialize;
use utoipa::ToSchema;
use wagate_core::Gateway;
use wagate_core::queue::Queue;
use wagate_types::{FailureCode, MessageStatus, Priority};

use super::params::session_name;
use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::extract::Path;
use crate::time_format::rfc3339;

/// A session's queue, as the dispatcher will work through it.
#[derive(Serialize, ToSchema)]
pub struct QueueView {
    session: String,
    /// Messages waiting (queued, scheduled, or being sent).
    depth: u64,
    /// How much of each cap is used now (`limit` null: no cap).
    caps: CapsUsed,
    /// The first 100 waiting messages in the order they are expected to go.
    messages: Vec<Waiting>,
}

#[derive(Serialize, ToSchema)]
pub struct CapsUsed {
    per_minute: CapUse,
    per_hour: CapUse,
    per_day: CapUse,
}

#[derive(Serialize, ToSchema)]
pub struct CapUse {
    limit: Option<u32>,
    /// Sends in the last minute, hour or day.
    used: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Waiting {
    id: String,
    to: String,
    status: MessageStatus,
    priority: Priority,
    /// When it is expected to go: its due time, an average pause after the one before,
    /// and the caps and quiet hours played forward. An estimate, not a promise.
    estimated_send_at: String,
    /// Why it waits, when something holds it (the session not connected, logged out or
    /// banned, an opt-in not answered, quiet hours, caps, a retry after an error).
    error_code: Option<FailureCode>,
    error: Option<String>,
}

impl From<Queue> for QueueView {
    fn from(q: Queue) -> Self {
        let mut waiting = q.waiting;
        waiting.sort_by_key(|(_, at)| *at);
        let messages = waiting.into_iter().map(|(m, at)| Waiting {
            id: m.id.to_string(),
            to: m.recipient,
            status: m.status,
            priority: m.priority,
            estimated_send_at: rfc3339(at),
            error_code: m.error_code,
            error: m.error,
        });
        let use_of = |limit, used| CapUse { limit, used };
        Self {
            session: String::new(),
            depth: q.depth,
            caps: CapsUsed {
                per_minute: use_of(q.settings.cap_per_minute, q.sent_last_minute),
                per_hour: use_of(q.settings.cap_per_hour, q.sent_last_hour),
                per_day: use_of(q.settings.cap_per_day, q.sent_last_day),
            },
            messages: messages.collect(),
        }
    }
}

/// What waits in the session's queue and when each message is expected to go.
#[utoipa::path(get, operation_id = "get_session_queue", path = "/api/v1/sessions/{name}/queue", tag = "sessions",
    params(("name" = String, Path, description = "The session's name")),
    responses((status = 200, description = "OK", body = QueueView), (status = 404, description = "No such session", body = Problem),
              (status = 422, description = "Not a session name", body = Problem)))]
pub async fn get(
    State(gw): State<Arc<Gateway>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> ApiResult<axum::Json<QueueView>> {
    let name = session_name(Some(&name))?;
    let mut view = QueueView::from(gw.queue(&caller.tenant, &name).await?);
    view.session = name.to_string();
    Ok(axum::Json(view))
}

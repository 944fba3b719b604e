//! Campaigns: one message, `{{variables}}` filled in per recipient, to a list of
//! recipients through one or several sessions. The campaign and its whole list are
//! stored at once; the feeder then moves recipients into the queues of the sessions
//! running here, keeping each session's backlog of campaign messages small (so pausing
//! takes effect at once and other messages are not stuck behind a campaign), and the
//! dispatchers send them at each session's pace. Each recipient's message is created in
//! the transaction that takes them off the list: a restart goes on where it stopped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use regex::Regex;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};
use wagate_store::{
    CampaignCounts, CampaignRecord, NewCampaign, NewMessage, NewRecipient, PendingRecipient, RecipientRecord, Store,
};
use wagate_types::{
    CampaignStatus, MessageId, MessageStatus, Origin, Priority, Recipient, SessionName, SessionStatus, TenantId,
    WaMessageId,
};

use crate::campaign_progress::{self, Told};
use crate::content::{NewContent, plain_json, with_typing};
use crate::sessions::{Runtime, Sessions};
use crate::{Error, Gateway, Result, media_send};

/// Most campaign messages a session's queue holds at once; topped up when half gone.
pub const BACKLOG: u64 = 100;

/// How many recipients a session takes in its turn.
const TURN: u64 = 10;

/// Most recipients one campaign may have.
pub const MAX_RECIPIENTS: usize = 100_000;

/// A campaign as a client asks for it, checked field by field.
#[derive(Debug)]
pub struct CampaignRequest {
    pub name: String,
    pub sessions: Vec<SessionName>,
    pub content: NewContent,
    pub typing_ms: u32,
    pub priority: Priority,
    /// `None`: now.
    pub start_at: Option<OffsetDateTime>,
    pub recipients: Vec<(Recipient, Map<String, Value>)>,
}

/// A campaign and where its recipients are.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub record: CampaignRecord,
    /// The names of its sessions (the id of one deleted since).
    pub sessions: Vec<String>,
    pub counts: CampaignCounts,
    /// How long the rest should take at the sessions' average pace; `None` when done
    /// or not running.
    pub eta: Option<Duration>,
}

fn placeholder() -> &'static Regex {
    static PLACEHOLDER: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    PLACEHOLDER.get_or_init(|| Regex::new(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}").expect("a valid pattern"))
}

/// The `{{variables}}` a template uses, in its strings at any depth.
pub fn variables_of(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(template, &mut |text| {
        for capture in placeholder().captures_iter(text) {
            let name = capture[1].to_owned();
            if !found.contains(&name) {
                found.push(name);
            }
        }
    });
    found
}

fn walk(value: &Value, visit: &mut impl FnMut(&str)) {
    match value {
        Value::String(text) => visit(text),
        Value::Array(items) => items.iter().for_each(|v| walk(v, visit)),
        Value::Object(map) => map.values().for_each(|v| walk(v, visit)),
        _ => {}
    }
}

/// The template with each `{{name}}` replaced by the recipient's value (numbers and
/// booleans as written; a missing one left empty).
pub fn fill(template: &Value, variables: &Value) -> Value {
    match template {
        Value::String(text) => Value::String(
            placeholder()
                .replace_all(text, |c: &regex::Captures| match variables.get(&c[1]) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                })
                .into_owned(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, variables)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), fill(v, variables))).collect()),
        other => other.clone(),
    }
}

impl Gateway {
    /// Checks and stores a campaign with its whole list; the feeder starts on it at
    /// `start_at`. A recipient listed twice gets one message (the first listing's
    /// variables).
    pub async fn create_campaign(&self, tenant: &TenantId, request: CampaignRequest) -> Result<Campaign> {
        let mut sessions = Vec::new();
        for name in &request.sessions {
            let id = self.sessions.id_of(tenant, name).await?;
            if !sessions.contains(&id) {
                sessions.push(id);
            }
        }
        let kind = request.content.kind().to_owned();
        let content = match request.content {
            NewContent::Reaction { .. } => {
                return Err(Error::Invalid {
                    field: "message".into(),
                    message: "a reaction needs a message to react to; a campaign cannot send one".into(),
                });
            }
            NewContent::Media(media) => {
                let first = request.sessions.first().ok_or_else(|| Error::Invalid {
                    field: "sessions".into(),
                    message: "name at least one session".into(),
                })?;
                let images = self.sessions.get(tenant, first).await?.settings.images;
                media_send::ingest(&self.media, tenant, media, images).await?
            }
            other => plain_json(&other, None),
        };
        let content = with_typing(content, request.typing_ms);
        let needed = variables_of(&content);
        let given = request.recipients.len();
        let mut seen = HashSet::new();
        let mut recipients = Vec::with_capacity(request.recipients.len());
        for (i, (to, variables)) in request.recipients.into_iter().enumerate() {
            if let Some(missing) = needed.iter().find(|name| !variables.contains_key(*name)) {
                return Err(Error::Invalid {
                    field: format!("recipients[{i}].variables"),
                    message: format!("no value for {{{{{missing}}}}}, which the message uses"),
                });
            }
            let recipient = to.phone.as_ref().map_or_else(|| to.chat.to_string(), ToString::to_string);
            if seen.insert(recipient.clone()) {
                recipients.push(NewRecipient { recipient, chat: to.chat, variables: Value::Object(variables) });
            }
        }
        let now = OffsetDateTime::now_utc();
        let duplicates = (given - recipients.len()) as u64;
        let campaign = NewCampaign {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.clone(),
            name: request.name,
            kind,
            content,
            sessions,
            priority: request.priority,
            start_at: request.start_at.unwrap_or(now).max(now),
            created_at: now,
            recipients,
            duplicates,
        };
        let record = self.store.create_campaign(&campaign).await.context("store a campaign")?;
        info!(campaign = %record.id, total = record.total, "campaign created");
        self.campaigns.wake();
        self.campaign_view(record).await
    }

    pub async fn campaign(&self, tenant: &TenantId, id: &str) -> Result<Campaign> {
        let record = self
            .store
            .campaign(tenant, id)
            .await
            .context("read a campaign")?
            .ok_or_else(|| Error::NotFound(format!("campaign {id}")))?;
        self.campaign_view(record).await
    }

    /// The campaign's recipients in list order after position `after`, with their
    /// messages; `status` narrows them to messages in that status.
    pub async fn campaign_recipients(
        &self,
        tenant: &TenantId,
        id: &str,
        status: Option<MessageStatus>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<RecipientRecord>> {
        self.store
            .campaign(tenant, id)
            .await
            .context("read a campaign")?
            .ok_or_else(|| Error::NotFound(format!("campaign {id}")))?;
        Ok(self.store.campaign_recipients(id, status, after, limit).await.context("list campaign recipients")?)
    }

    pub async fn campaigns(&self, tenant: &TenantId, before: Option<&str>, limit: u32) -> Result<Vec<CampaignRecord>> {
        Ok(self.store.campaigns(tenant, before, limit).await.context("list campaigns")?)
    }

    /// Pauses, resumes or cancels a campaign. A campaign that ended (cancelled or
    /// completed) stays as it is.
    pub async fn set_campaign_status(&self, tenant: &TenantId, id: &str, status: CampaignStatus) -> Result<Campaign> {
        let current = self.campaign(tenant, id).await?.record;
        if matches!(current.status, CampaignStatus::Cancelled | CampaignStatus::Completed) {
            return Err(Error::Conflict(format!("the campaign is {}", current.status)));
        }
        let record = self
            .store
            .set_campaign_status(tenant, id, status, OffsetDateTime::now_utc())
            .await
            .context("change a campaign")?
            .ok_or_else(|| Error::NotFound(format!("campaign {id}")))?;
        self.campaigns.wake();
        // Told here, resuming too: a pause and a resume between two rounds of the feeder
        // would leave it thinking the campaign never stopped, and it would not tell.
        crate::campaign_progress::tell(&self.store, &self.sessions, &record).await?;
        self.campaign_view(record).await
    }

    async fn campaign_view(&self, record: CampaignRecord) -> Result<Campaign> {
        let counts = self.store.campaign_counts(&record.id).await.context("count a campaign")?;
        let eta = crate::campaign_progress::eta(&record, &counts, &self.sessions);
        let mut sessions = Vec::with_capacity(record.sessions.len());
        for id in &record.sessions {
            let found = self.store.session_by_id(*id).await.context("read a campaign's session")?;
            sessions.push(found.map_or_else(|| id.to_string(), |s| s.name.to_string()));
        }
        Ok(Campaign { record, sessions, counts, eta })
    }
}

/// The feeder: one task that tops up the queues of the sessions running here from the
/// running campaigns.
pub struct Campaigns {
    wake: Arc<Notify>,
    cancel: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Campaigns {
    pub fn spawn(store: Store, sessions: Sessions) -> Self {
        let wake = sessions.campaign_wake();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(store, sessions, wake.clone(), cancel.clone()));
        Self { wake, cancel, task: Mutex::new(Some(task)) }
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops feeding; what is in the queues stays there.
    pub async fn stop(&self) {
        self.cancel.cancel();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

async fn run(store: Store, sessions: Sessions, wake: Arc<Notify>, cancel: CancellationToken) {
    let mut told = Told::default();
    loop {
        let wait = match feed_all(&store, &sessions, &mut told).await {
            Ok(wait) => wait,
            Err(e) => {
                error!(error = %e, "could not feed campaigns");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
            () = cancel.cancelled() => return,
        }
    }
}

/// One round over the running campaigns; returns how long to wait before the next one
/// unless woken (a message sent, a campaign created or changed).
async fn feed_all(store: &Store, sessions: &Sessions, told: &mut Told) -> anyhow::Result<Duration> {
    let now = OffsetDateTime::now_utc();
    let campaigns = store.runnable_campaigns(now).await.context("read running campaigns")?;
    told.keep_only(&campaigns.iter().map(|c| c.id.as_str()).collect::<Vec<_>>());
    for campaign in &campaigns {
        // A start is told before feeding, so before its first message can go out (and
        // before a pause the API may tell right after it).
        if !told.knows(&campaign.id) {
            campaign_progress::tell_if_due(store, sessions, told, campaign).await?;
        }
        // Each session with room takes a few at a time, in turn, so the list spreads
        // over the sessions.
        let mut room = Vec::new();
        for id in &campaign.sessions {
            let Some(rt) = sessions.runtime(*id) else { continue };
            if rt.live.borrow().status != SessionStatus::Connected {
                continue;
            }
            let backlog = store.campaign_backlog(*id).await.context("count a session's campaign backlog")?;
            if backlog <= BACKLOG / 2 {
                room.push((rt, BACKLOG - backlog));
            }
        }
        loop {
            let mut fed_round = 0;
            for (rt, left) in room.iter_mut().filter(|(_, left)| *left > 0) {
                let take = u32::try_from((*left).min(TURN)).unwrap_or(0);
                let fed = store
                    .feed_campaign(&campaign.id, rt.id, take, &|r| message_for(campaign, rt, r))
                    .await
                    .context("feed a campaign")?;
                if fed > 0 {
                    debug!(campaign = %campaign.id, session = %rt.name, fed, "campaign messages queued");
                    rt.wake.notify_one();
                }
                *left -= fed.min(*left);
                fed_round += fed;
            }
            if fed_round == 0 {
                break;
            }
        }
        if store.campaign_done(&campaign.id).await.context("check a campaign")? {
            let completed = store
                .set_campaign_status(&campaign.tenant, &campaign.id, CampaignStatus::Completed, now)
                .await
                .context("complete a campaign")?;
            // `None`: paused or cancelled meanwhile, which the API told.
            if let Some(completed) = completed {
                info!(campaign = %campaign.id, "campaign completed");
                campaign_progress::tell(store, sessions, &completed).await?;
            }
        } else {
            campaign_progress::tell_if_due(store, sessions, told, campaign).await?;
        }
    }
    // While campaigns run, sends wake the feeder; the poll covers sessions coming back
    // and campaigns starting.
    let next_start = store.next_campaign_start().await.context("read the next campaign start")?;
    let until_start = next_start.map(|at| Duration::try_from(at - now).unwrap_or(Duration::ZERO));
    let poll = if campaigns.is_empty() { Duration::from_secs(30) } else { Duration::from_secs(2) };
    Ok(until_start.filter(|d| !d.is_zero()).map_or(poll, |d| d.min(poll)))
}

fn message_for(campaign: &CampaignRecord, rt: &Runtime, recipient: &PendingRecipient) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        tenant: campaign.tenant.clone(),
        session_id: rt.id,
        session_name: rt.name.clone(),
        chat: recipient.chat.clone(),
        recipient: recipient.recipient.clone(),
        kind: campaign.kind.clone(),
        content: fill(&campaign.content, &recipient.variables),
        wa_id: WaMessageId::generate(),
        priority: campaign.priority,
        send_at: None,
        created_at: OffsetDateTime::now_utc(),
        idempotency: None,
        origin: Some(Origin::Campaign),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn variables_are_found_and_filled_anywhere_in_the_message() {
        let template = json!({ "text": "Hi {{name}}, your code is {{ code }}. Bye {{name}}!", "image": { "caption": "{{city}}" } });
        let mut found = variables_of(&template);
        found.sort();
        assert_eq!(found, ["city", "code", "name"], "each once");
        let filled = fill(&template, &json!({ "name": "Ann", "code": 42, "city": "بيروت" }));
        assert_eq!(filled, json!({ "text": "Hi Ann, your code is 42. Bye Ann!", "image": { "caption": "بيروت" } }));
        assert_eq!(fill(&json!({ "text": "{{missing}}x" }), &json!({})), json!({ "text": "x" }));
        assert!(variables_of(&json!({ "text": "{{ not a name }} {x}" })).is_empty());
    }
}

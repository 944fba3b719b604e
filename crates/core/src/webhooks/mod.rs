//! Webhooks: deliveries of the event log, signed the Standard Webhooks way (plus
//! `X-Webhook-Signature` for older receivers), retried at least once a minute for more
//! than a day, then dead-lettered; an endpoint that keeps failing for days is disabled
//! with a `webhook.disabled` event. State lives in the database, so a restart goes on
//! where it stopped and a redelivery keeps its `webhook-id`.
//!
//! This module holds what clients ask of endpoints and how a delivery is signed;
//! [`deliver`] the tasks that deliver, [`link`] the kept-alive connections they post on,
//! [`retry`] what follows a failure.

mod deliver;
mod link;
pub mod retry;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use rand::RngExt;
use serde_json::{Value, json};
use sha2::Sha256;
use time::OffsetDateTime;
use tokio::sync::watch;
use tracing::warn;
use wagate_store::{
    AttemptLog, DeadLetter, EventRecord, LoggedAttempt, NewWebhook, WebhookChange, WebhookRecord, merge_headers,
};
use wagate_types::{SessionName, TenantId};

pub use self::deliver::Webhooks;
use crate::events::is_known_filter;
use crate::media::AllowList;
use crate::{Error, Gateway, Result};

/// The most extra headers an endpoint has.
pub const MAX_HEADERS: usize = 20;

/// Settings of the deliverer.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Private addresses webhooks may call (tests, internal receivers).
    pub allow: AllowList,
    pub timeout: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self { allow: AllowList::default(), timeout: Duration::from_secs(10) }
    }
}

/// An endpoint as a client asks for it. Its `Debug` leaves out the secret and the
/// header values.
#[derive(Clone)]
pub struct WebhookRequest {
    pub url: String,
    pub session: Option<SessionName>,
    pub events: Vec<String>,
    /// `None`: one is generated.
    pub secret: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub description: Option<String>,
}

impl std::fmt::Debug for WebhookRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRequest")
            .field("url", &self.url)
            .field("session", &self.session)
            .field("events", &self.events)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("description", &self.description)
            .finish()
    }
}

/// Tells endpoint tasks that events were written.
#[derive(Clone)]
pub struct EventBus(Arc<watch::Sender<u64>>);

impl Default for EventBus {
    fn default() -> Self {
        Self(Arc::new(watch::Sender::new(0)))
    }
}

impl EventBus {
    pub fn written(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// A new secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("whsec_{}", BASE64.encode(bytes))
}

/// The key a secret stands for: the base64 after `whsec_`, or the secret's own bytes.
fn key_of(secret: &str) -> Vec<u8> {
    secret.strip_prefix("whsec_").and_then(|b| BASE64.decode(b).ok()).unwrap_or_else(|| secret.as_bytes().to_vec())
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// The signature headers of one delivery: `webhook-signature` is `v1,` and the base64
/// HMAC-SHA256 of `id.timestamp.body`; `X-Webhook-Signature` is `sha256=` and the hex
/// HMAC-SHA256 of the body.
pub fn signatures(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> (String, String) {
    let key = key_of(secret);
    let stamp = timestamp.to_string();
    let standard = hmac(&key, &[id.as_bytes(), b".", stamp.as_bytes(), b".", body]);
    (format!("v1,{}", BASE64.encode(standard)), format!("sha256={}", hex::encode(hmac(&key, &[body]))))
}

/// The JSON a delivery carries: the event as `GET /api/v1/events` shows it.
pub fn payload(event: &EventRecord) -> Value {
    json!({
        "id": event.id,
        "type": event.kind,
        "session": event.session,
        "created_at": crate::content::rfc3339(event.created_at),
        "data": event.data,
    })
}

/// The `webhook-id` of an event: the same for every attempt.
pub fn delivery_id(event_id: u64) -> String {
    format!("evt_{event_id}")
}

impl Gateway {
    /// Stores an endpoint; returns it with its secret (shown only now).
    pub async fn create_webhook(&self, tenant: &TenantId, request: WebhookRequest) -> Result<WebhookRecord> {
        check_events(&request.events)?;
        check_url(&request.url)?;
        let session_id = match &request.session {
            Some(name) => Some(self.sessions.id_of(tenant, name).await?),
            None => None,
        };
        self.webhooks.check_address(&request.url).await.map_err(|why| invalid("url", why))?;
        let hook = NewWebhook {
            id: uuid::Uuid::now_v7().to_string(),
            tenant: tenant.clone(),
            url: request.url.trim().to_owned(),
            session_id,
            events: request.events,
            secret: request.secret.unwrap_or_else(new_secret),
            headers: request.headers,
            description: request.description,
            created_at: OffsetDateTime::now_utc(),
        };
        let record = self.store.create_webhook(&hook).await.context("store a webhook")?;
        self.webhooks.changed();
        Ok(record)
    }

    pub async fn webhook(&self, tenant: &TenantId, id: &str) -> Result<WebhookRecord> {
        self.store
            .webhook(tenant, id)
            .await
            .context("read a webhook")?
            .ok_or_else(|| Error::NotFound(format!("webhook {id}")))
    }

    pub async fn webhooks(&self, tenant: &TenantId) -> Result<Vec<WebhookRecord>> {
        Ok(self.store.webhooks(tenant).await.context("list webhooks")?)
    }

    pub async fn update_webhook(
        &self,
        tenant: &TenantId,
        id: &str,
        url: Option<String>,
        session: Option<Option<SessionName>>,
        mut change: WebhookChange,
    ) -> Result<WebhookRecord> {
        if let Some(events) = &change.events {
            check_events(events)?;
        }
        if let Some(url) = &url {
            check_url(url)?;
        }
        // The cheap checks first: the endpoint, its headers, the session; then DNS.
        let current = self.webhook(tenant, id).await?;
        if merge_headers(&current.headers, &change.headers).len() > MAX_HEADERS {
            return Err(invalid("headers", format!("at most {MAX_HEADERS} headers")));
        }
        change.session_id = match session {
            Some(Some(name)) => Some(Some(self.sessions.id_of(tenant, &name).await?)),
            Some(None) => Some(None),
            None => None,
        };
        if let Some(url) = url {
            self.webhooks.check_address(&url).await.map_err(|why| invalid("url", why))?;
            change.url = Some(url.trim().to_owned());
        }
        let record = self
            .store
            .update_webhook(tenant, id, &change, OffsetDateTime::now_utc())
            .await
            .context("change a webhook")?
            .ok_or_else(|| Error::NotFound(format!("webhook {id}")))?;
        self.webhooks.changed();
        Ok(record)
    }

    pub async fn delete_webhook(&self, tenant: &TenantId, id: &str) -> Result<()> {
        if !self.store.delete_webhook(tenant, id).await.context("delete a webhook")? {
            return Err(Error::NotFound(format!("webhook {id}")));
        }
        self.webhooks.changed();
        Ok(())
    }

    /// Starts the endpoint's deliveries again at event `from`.
    pub async fn replay_webhook(&self, tenant: &TenantId, id: &str, from: u64) -> Result<WebhookRecord> {
        if !self.store.replay_webhook(tenant, id, from, OffsetDateTime::now_utc()).await.context("replay")? {
            return Err(Error::NotFound(format!("webhook {id}")));
        }
        self.webhooks.changed();
        self.webhook(tenant, id).await
    }

    /// Delivers one event to the endpoint now, outside its order (a dead letter, say);
    /// the attempt goes to the log.
    pub async fn redeliver(&self, tenant: &TenantId, id: &str, event_id: u64) -> Result<AttemptLog> {
        let hook = self.webhook(tenant, id).await?;
        let event = self
            .store
            .event(tenant, event_id)
            .await
            .context("read an event")?
            .ok_or_else(|| Error::NotFound(format!("event {event_id}")))?;
        let log = self.webhooks.deliver(&mut self.webhooks.poster(), &hook, &event, 0).await;
        if let Some(error) = &log.error {
            warn!(webhook = %hook.id, event = event_id, status = ?log.status_code, %error, "a redelivery failed");
        }
        self.store.webhook_attempted(&hook.id, &log).await.context("log a redelivery")?;
        Ok(log)
    }

    /// A page of the endpoint's delivery log, newest first, before the attempt
    /// `before` (the last of the previous page).
    pub async fn webhook_attempts(
        &self,
        tenant: &TenantId,
        id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<LoggedAttempt>> {
        let hook = self.webhook(tenant, id).await?;
        Ok(self.store.webhook_attempts(&hook.id, before, limit).await.context("read the delivery log")?)
    }

    /// A page of the endpoint's dead letters, oldest event first, after event `after`.
    pub async fn webhook_dead_letters(
        &self,
        tenant: &TenantId,
        id: &str,
        after: u64,
        limit: u32,
    ) -> Result<Vec<DeadLetter>> {
        let hook = self.webhook(tenant, id).await?;
        Ok(self.store.webhook_dead_letters(&hook.id, after, limit).await.context("read the dead letters")?)
    }
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid { field: field.into(), message: message.into() }
}

fn check_events(events: &[String]) -> Result<()> {
    if events.is_empty() {
        return Err(invalid("events", "name at least one event type, or \"*\""));
    }
    match events.iter().find(|e| !is_known_filter(e)) {
        Some(bad) => Err(invalid("events", format!("'{bad}' is not an event type (nor `prefix.*` or `*`)"))),
        None => Ok(()),
    }
}

/// An http(s) URL with a host. Where it points is checked when it is given (see
/// [`Webhooks::check_address`]) and again whenever a delivery opens a connection.
fn check_url(url: &str) -> Result<()> {
    let parsed = url::Url::parse(url.trim()).map_err(|e| invalid("url", format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(invalid("url", "must be an http or https URL with a host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signatures_follow_standard_webhooks_and_the_sha256_header() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let (standard, _) = signatures(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(standard, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn delivery_ids_name_the_event_and_secrets_are_new_each_time() {
        assert_eq!(delivery_id(42), "evt_42");
        assert!(new_secret().starts_with("whsec_"));
        assert_ne!(new_secret(), new_secret());
    }
}

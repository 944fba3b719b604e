//! A running session's engine events, persisted in the order they came: connection
//! states (with `session.status` events), presence,
//! group changes; received media fetched in the background. Receipts, like received
//! messages, are committed through the session's inbox before the engine reports them.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};
use wagate_engine::EngineEvent;
use wagate_store::{SessionState, Store};
use wagate_types::SessionStatus;

use crate::sessions::{Live, Qr, Runtime};
use crate::streams::QrShown;

/// Persists the engine's events in the order they came, then publishes the new state.
/// On cancellation, events already queued are still saved. Received messages are not
/// among what this task stores: the engine committed them through the session's inbox
/// before reporting them.
pub(crate) async fn run_events(rt: Arc<Runtime>, store: Store, mut events: mpsc::Receiver<EngineEvent>) {
    loop {
        let event = tokio::select! {
            biased;
            event = events.recv() => event,
            () = rt.cancel.cancelled() => {
                while let Ok(event) = events.try_recv() {
                    apply(&rt, &store, event).await;
                }
                return;
            }
        };
        match event {
            Some(event) => apply(&rt, &store, event).await,
            None => return,
        }
    }
}

#[tracing::instrument(skip_all, fields(session = %rt.name))]
async fn apply(rt: &Runtime, store: &Store, event: EngineEvent) {
    let now = OffsetDateTime::now_utc();
    let state = |status, reason: Option<String>| SessionState {
        status,
        reason,
        phone: None,
        push_name: None,
        last_seen_at: None,
    };
    let (new_state, qr) = match event {
        EngineEvent::Qr { code, expires_at } => (state(SessionStatus::QrReady, None), Some(Qr { code, expires_at })),
        EngineEvent::Connected { phone, push_name } => {
            info!(phone = %phone, "connected");
            let connected = SessionState {
                status: SessionStatus::Connected,
                reason: None,
                phone: Some(phone.to_string()),
                push_name,
                last_seen_at: Some(now),
            };
            (connected, None)
        }
        EngineEvent::Disconnected { reason, retrying } => {
            let status = if retrying { SessionStatus::Reconnecting } else { SessionStatus::Stopped };
            (state(status, Some(reason)), None)
        }
        EngineEvent::LoggedOut { reason } => (state(SessionStatus::LoggedOut, Some(reason)), None),
        EngineEvent::Stopped { reason } => (state(SessionStatus::Stopped, Some(reason)), None),
        EngineEvent::Banned { until, reason } => {
            let until = until.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            warn!(%until, %reason, "banned");
            (state(SessionStatus::Banned, Some(format!("{reason}; reconnects at {until}"))), None)
        }
        EngineEvent::Presence { chat, available, last_seen } => {
            let seen = crate::presence::Seen { available, last_seen, reported_at: now };
            // WhatsApp repeats presence often; only a change is worth an event.
            if rt.presence.record(chat.clone(), seen) {
                let event = crate::events::presence_updated((rt.id, rt.name.clone()), &chat, available, last_seen);
                record(rt, store, event, now, "a presence change").await;
            }
            return;
        }
        EngineEvent::IncomingCall { call_id, from, video, at } => {
            info!(%from, video, "incoming call");
            let event = crate::events::call_incoming((rt.id, rt.name.clone()), &call_id, &from, video, at);
            record(rt, store, event, now, "an incoming call").await;
            return;
        }
        EngineEvent::GroupChanged { group, by, change, at } => {
            let event = crate::events::group_changed((rt.id, rt.name.clone()), &group, by.as_ref(), &change, at);
            record(rt, store, event, now, "a group change").await;
            return;
        }
        EngineEvent::Incoming(message) => {
            // Already committed through the session's inbox before the engine reported it.
            debug!(wa_id = %message.wa_id, chat = %message.chat, "message received");
            if let (Some(_), Some(media)) = (message.content.media(), rt.media.get()) {
                let job = crate::media_files::Download {
                    store: store.clone(),
                    media: media.clone(),
                    session: rt.handle.clone(),
                    tenant: rt.tenant.clone(),
                    session_id: rt.id,
                };
                // In the background: a large file must not hold up the session's events.
                tokio::spawn(job.received(*message));
            }
            return;
        }
    };
    if let Err(e) = store.set_session_state(rt.id, &new_state, now).await {
        error!(error = %e, "could not save the session state");
    }
    // What the API shows follows the stored state at once; the event and the marks on
    // waiting messages come after.
    let changed = rt.live.borrow().status != new_state.status;
    let shown = qr.as_ref().map(|qr| QrShown {
        tenant: rt.tenant.clone(),
        session_id: rt.id,
        session: rt.name.clone(),
        code: qr.code.clone(),
        expires_at: qr.expires_at,
        at: now,
    });
    rt.live.send_replace(Live { status: new_state.status, qr });
    // Live streams only: a QR code is a login secret and never goes to the log.
    if let Some(shown) = shown {
        rt.qr_bus.shown(shown);
    }
    if changed {
        let event = crate::events::session_status(
            (rt.id, rt.name.clone()),
            new_state.status,
            new_state.reason.as_deref(),
            new_state.phone.as_deref(),
            now,
        );
        match store.record_events(&rt.tenant, &[event], now).await {
            Ok(()) => rt.bus.written(),
            Err(e) => error!(error = %e, "could not record the session's status"),
        }
    }
}

/// Writes one event of the session's and wakes the readers of the log.
async fn record(rt: &Runtime, store: &Store, event: wagate_store::NewEvent, now: OffsetDateTime, what: &str) {
    match store.record_events(&rt.tenant, &[event], now).await {
        Ok(()) => rt.bus.written(),
        Err(e) => error!(error = %e, "could not record {what}"),
    }
}

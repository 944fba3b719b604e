//! The per-session send loop: while the session is connected, take the next due
//! message, wait out the throttle gap, send it with its stored WhatsApp id, and
//! record how it went. Failures retry with backoff up to a limit.

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use time::OffsetDateTime;
use tracing::{debug, error, warn};
use wagate_engine::{SendError, Typing};
use wagate_store::{AttemptResult, ClaimRules, MessageRecord, Store};
use wagate_types::{FailureCode, Origin, Priority, SessionStatus};

use crate::clock::Clock;
use crate::events::status_events;
use crate::media::MediaStore;
use crate::media_send::{self, is_media};
use crate::messages::{outgoing, plain_content};
use crate::pacing::{LOOK_BACK, Pacing};
use crate::sessions::{MediaSlot, Runtime};

#[derive(Debug, Clone, PartialEq)]
pub struct DispatchConfig {
    /// Attempts before a message is `failed`.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time.
    pub retry_base: Duration,
    /// Longest wait between retries.
    pub retry_max: Duration,
    /// Longest a send may take before it counts as failed.
    pub send_timeout: Duration,
    /// How long a claimed message belongs to this process; after a crash it is due
    /// again once this runs out.
    pub lease: Duration,
    /// How often an idle dispatcher looks for work another node may have queued.
    pub idle_poll: Duration,
    /// What pauses, caps, quiet hours and due times are read from and waited on.
    pub clock: Clock,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(600),
            send_timeout: Duration::from_secs(60),
            lease: Duration::from_secs(120),
            idle_poll: Duration::from_secs(30),
            clock: Clock::system(),
        }
    }
}

/// Runs until the session's runtime is cancelled. A send in flight is finished first.
pub(crate) async fn run(rt: Arc<Runtime>, store: Store, media: MediaSlot, config: DispatchConfig) {
    let clock = &config.clock;
    let mut live = rt.live.subscribe();
    let mut not_before: Option<OffsetDateTime> = None;
    // After a failed claim (a database that takes no writes, say): the wait before the
    // next try, growing while it keeps failing.
    let mut claim_backoff = CLAIM_RETRY_FIRST;
    loop {
        tokio::select! {
            connected = live.wait_for(|l| l.status == SessionStatus::Connected) => {
                if connected.is_err() { return }
            }
            () = rt.cancel.cancelled() => return,
        }
        if let Some(at) = not_before {
            tokio::select! {
                () = clock.sleep_until(at) => {}
                () = rt.cancel.cancelled() => return,
            }
        }
        let now = clock.now();
        if let Some((why, until)) = paced_until(&rt, &store, now).await {
            debug!(session = %rt.name, %until, %why, "waiting for the session's caps or quiet hours");
            rt.set_hold(Some((why, until)));
            tokio::select! {
                () = clock.sleep_until(until) => {}
                () = rt.wake.notified() => {}
                () = rt.cancel.cancelled() => return,
            }
            continue;
        }
        let (rules, held_until) = claim_rules(&rt, &store, now).await;
        rt.set_hold(None);
        let claimed = store.claim_next_where(rt.id, now, now + config.lease, &rules).await;
        if claimed.is_ok() {
            claim_backoff = CLAIM_RETRY_FIRST;
        }
        match claimed {
            Ok(Some(message)) => {
                let result = attempt(&rt, &store, &message, media.get(), &config).await;
                let reached_whatsapp = !matches!(
                    result,
                    AttemptResult::NotAttempted | AttemptResult::Held { .. } | AttemptResult::OptedOut { .. }
                );
                record(&store, &message, &result, config.lease).await;
                rt.bus.written();
                if message.origin == Some(Origin::Campaign) {
                    rt.campaign_wake.notify_one();
                }
                if reached_whatsapp {
                    not_before = Some(clock.now() + throttle_gap(&rt));
                }
            }
            Ok(None) => idle(&rt, &store, &config, held_until).await,
            Err(e) => {
                error!(session = %rt.name, error = %e, retry_in = ?claim_backoff, "could not take the next message");
                // A message accepted meanwhile shows the database takes writes again.
                tokio::select! {
                    () = clock.sleep(claim_backoff) => {}
                    () = rt.wake.notified() => {}
                    () = rt.cancel.cancelled() => return,
                }
                claim_backoff = (claim_backoff * 2).min(CLAIM_RETRY_MAX);
            }
        }
    }
}

#[tracing::instrument(skip_all, fields(session = %rt.name, message_id = %message.id))]
async fn attempt(
    rt: &Runtime,
    store: &Store,
    message: &MessageRecord,
    media: Option<&MediaStore>,
    config: &DispatchConfig,
) -> AttemptResult {
    let now = config.clock.now();
    if matches!(message.kind.as_str(), "edit" | "revoke")
        && let Err(e) = crate::updates::apply_to_original(store, message).await
    {
        warn!(error = %e, "could not apply the change to the original message");
    }
    if let Some(ended) = crate::opt_in::check(rt, store, message).await {
        return ended;
    }
    if let Some(ended) = crate::number_gate::check(rt, store, message).await {
        return ended;
    }
    let content = if is_media(&message.kind) {
        match media {
            Some(media) => media_send::engine_content(media, message).await,
            None => Err("this gateway has no media store".to_owned()),
        }
        .map_err(|error| (FailureCode::MediaError, error))
    } else {
        plain_content(message).map_err(|error| (FailureCode::Invalid, error))
    };
    let outgoing = match content {
        Ok(content) => outgoing(message, content),
        Err((code, error)) => return AttemptResult::Failed { at: now, error, code },
    };
    show_typing(rt, message, &config.clock).await;
    let sent = tokio::time::timeout(config.send_timeout, rt.handle.send(&outgoing)).await;
    let (code, error) = match sent {
        Ok(Ok(ack)) => {
            debug!("sent");
            return AttemptResult::Sent { at: ack.at };
        }
        Ok(Err(SendError::NotConnected)) => return AttemptResult::NotAttempted,
        Ok(Err(SendError::Permanent { code, text })) => return AttemptResult::Failed { at: now, error: text, code },
        Ok(Err(SendError::Temporary { code, text })) => (code, text),
        Err(_) => (FailureCode::Timeout, format!("no answer from WhatsApp within {}s", config.send_timeout.as_secs())),
    };
    if message.attempts >= config.max_attempts {
        warn!(attempts = message.attempts, %code, %error, "giving up");
        let error = format!("gave up after {} attempts: {error}", message.attempts);
        AttemptResult::Failed { at: now, error, code }
    } else {
        let wait = backoff(config, message.attempts);
        debug!(attempts = message.attempts, ?wait, %code, %error, "will retry");
        AttemptResult::Retry { at: now + wait, error, code }
    }
}

/// Records the result, retrying a failing database (a full disk, say) until the
/// message's lease runs out: a lost update leaves the message `sending` until then, and
/// then it is sent again under the same WhatsApp id.
async fn record(store: &Store, message: &MessageRecord, result: &AttemptResult, lease: Duration) {
    let give_up = tokio::time::Instant::now() + lease;
    let mut delay = Duration::from_millis(100);
    loop {
        match store.finish_attempt_telling(message.id, result, OffsetDateTime::now_utc(), &status_events).await {
            Ok(()) => return,
            Err(e) => error!(message_id = %message.id, error = %e, "could not record a send attempt"),
        }
        if tokio::time::Instant::now() + delay > give_up {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// Waits for new work: a wake-up from an accept, the next due time, or a poll. Due
/// messages that the lanes' caps or their recipients' spacing hold back wait until
/// `held_until`.
async fn idle(rt: &Runtime, store: &Store, config: &DispatchConfig, held_until: Option<OffsetDateTime>) {
    let now = config.clock.now();
    let mut wait = config.idle_poll;
    match store.next_due_at(rt.id).await {
        Ok(Some(due)) if due > now => wait = wait.min((due - now).try_into().unwrap_or(Duration::ZERO)),
        Ok(Some(_)) => {
            let until = held_until.map_or(HELD_POLL, |at| (at - now).try_into().unwrap_or(Duration::ZERO));
            wait = wait.min(until.max(Duration::from_millis(10)));
        }
        Ok(None) => {}
        Err(e) => error!(session = %rt.name, error = %e, "could not find the next due message"),
    }
    let mut live = rt.live.subscribe();
    tokio::select! {
        () = config.clock.sleep(wait) => {}
        () = rt.wake.notified() => {}
        _ = live.wait_for(|l| l.status != SessionStatus::Connected) => {}
        () = rt.cancel.cancelled() => {}
    }
}

/// The first wait after a failed claim, and the longest.
const CLAIM_RETRY_FIRST: Duration = Duration::from_secs(1);
const CLAIM_RETRY_MAX: Duration = Duration::from_secs(30);

/// How long an idle dispatcher waits when due messages are held back for a reason it
/// cannot time (another node's lease, say).
const HELD_POLL: Duration = Duration::from_secs(1);

/// Which due messages to pass over now: lanes at their caps, recipients sent to within
/// the spacing; and the earliest time one of them may go.
async fn claim_rules(rt: &Runtime, store: &Store, now: OffsetDateTime) -> (ClaimRules, Option<OffsetDateTime>) {
    let settings = rt.settings();
    let mut rules = ClaimRules::default();
    let mut held_until: Option<OffsetDateTime> = None;
    let mut hold = |at: OffsetDateTime| held_until = Some(held_until.map_or(at, |h| h.min(at)));
    for priority in Priority::ALL {
        let caps = settings.lanes.of(*priority);
        if caps.is_free() {
            continue;
        }
        match store.recent_sends_of(rt.id, *priority, now - LOOK_BACK).await {
            Ok(sent) => {
                let free = Pacing::of_lane(caps).earliest(now, &sent);
                if free > now {
                    rules.skip_priorities.push(*priority);
                    hold(free);
                }
            }
            Err(e) => {
                error!(session = %rt.name, error = %e, "could not read a lane's sends; holding it back");
                rules.skip_priorities.push(*priority);
                hold(now + Duration::from_secs(60));
            }
        }
    }
    if let Some(seconds) = settings.recipient_spacing_seconds.filter(|s| *s > 0) {
        let spacing = Duration::from_secs(u64::from(seconds));
        rules.recipient_spacing = Some(spacing);
        match store.spacing_ends_at(rt.id, now, spacing).await {
            Ok(Some(at)) => hold(at),
            Ok(None) => {}
            Err(e) => error!(session = %rt.name, error = %e, "could not read when the spacing ends"),
        }
    }
    (rules, held_until)
}

/// When the session's caps or quiet hours let it send next, if that is later than
/// `now`, and which of them holds it.
async fn paced_until(rt: &Runtime, store: &Store, now: OffsetDateTime) -> Option<(FailureCode, OffsetDateTime)> {
    let settings = rt.settings();
    if Pacing::of(&settings, None).is_free() {
        return None;
    }
    let first_send = if settings.warmup.is_empty() {
        None
    } else {
        match store.first_send(rt.id).await {
            Ok(first) => first,
            Err(e) => {
                error!(session = %rt.name, error = %e, "could not read the first send; holding back a minute");
                return Some((FailureCode::CapReached, now + Duration::from_secs(60)));
            }
        }
    };
    let pacing = Pacing::of(&settings, first_send);
    let sent = match store.recent_sends(rt.id, now - LOOK_BACK).await {
        Ok(sent) => sent,
        Err(e) => {
            error!(session = %rt.name, error = %e, "could not read the recent sends; holding back a minute");
            return Some((FailureCode::CapReached, now + Duration::from_secs(60)));
        }
    };
    pacing.hold(now, &sent)
}

fn throttle_gap(rt: &Runtime) -> Duration {
    let settings = rt.settings();
    let (min, max) = (settings.throttle_min_ms, settings.throttle_max_ms.max(settings.throttle_min_ms));
    Duration::from_millis(if max == 0 { 0 } else { rand::rng().random_range(min..=max) })
}

/// Exponential backoff with ±20% jitter, so retries of many messages spread out.
fn backoff(config: &DispatchConfig, attempts: u32) -> Duration {
    let exp = config.retry_base.saturating_mul(1 << attempts.saturating_sub(1).min(20));
    let capped = exp.min(config.retry_max);
    capped.mul_f64(rand::rng().random_range(0.8..=1.2))
}

/// Shows "typing…" (for a voice note "recording audio…") for as long as the message
/// asked, right before it goes out. Only a show: if WhatsApp does not take it, the
/// message goes anyway.
async fn show_typing(rt: &Runtime, message: &MessageRecord, clock: &Clock) {
    let mut ms = crate::content::typing_ms(&message.content);
    if ms == 0 && rt.settings().simulate_typing {
        ms = typing_time(message);
    }
    if ms == 0 {
        return;
    }
    let voice = message.kind == "audio" && message.content["audio"]["ptt"].as_bool() == Some(true);
    let state = if voice { Typing::Recording } else { Typing::Composing };
    if let Err(e) = rt.handle.typing(&message.chat, state).await {
        debug!(error = %e, "could not show typing");
        return;
    }
    clock.sleep(Duration::from_millis(u64::from(ms))).await;
}

/// How long a person takes to type a message's text or caption: 50 ms a character,
/// one to six seconds; nothing for messages without words.
fn typing_time(message: &MessageRecord) -> u32 {
    let content = &message.content;
    let text = content["text"].as_str().or_else(|| content[message.kind.as_str()]["caption"].as_str());
    text.map_or(0, |t| (t.chars().count() as u32).saturating_mul(50).clamp(1_000, 6_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let config = DispatchConfig {
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(10),
            ..Default::default()
        };
        let first = backoff(&config, 1);
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200), "{first:?}");
        let third = backoff(&config, 3);
        assert!(third >= Duration::from_millis(3200) && third <= Duration::from_millis(4800), "{third:?}");
        assert!(backoff(&config, 30) <= Duration::from_secs(12));
    }
}

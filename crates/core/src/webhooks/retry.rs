//! What follows a failed delivery. While an endpoint fails, the event at its head is
//! tried again at least once a minute, so a receiver that comes back gets what waited
//! within a minute; how long the event has failed (not how many attempts that took)
//! decides when it goes to the dead letters, and how long the endpoint has failed
//! when it is disabled.

use std::time::Duration;

use time::OffsetDateTime;
use wagate_store::WebhookRecord;

/// Pauses before the retries of an event: the first, the second, and every later one.
/// Jitter only shortens them, so an attempt is never more than a minute after the one
/// before.
pub const RETRY_PAUSES: [Duration; 3] = [Duration::from_secs(5), Duration::from_secs(30), Duration::from_secs(60)];

/// The share of a pause that jitter may take off, so endpoints that failed together do
/// not retry together.
pub const JITTER: f64 = 0.2;

/// An event that has failed for this long since its first failed attempt goes to the
/// dead letters, and the next event follows.
pub const DEAD_LETTER_AFTER: Duration = Duration::from_secs(32 * 3600);

/// An endpoint failing for this long without one success is disabled.
pub const DISABLE_AFTER: Duration = Duration::from_secs(5 * 24 * 3600);

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// The same event again at this time.
    Retry(OffsetDateTime),
    /// The event goes to the dead letters; the next one is tried at once.
    DeadLetter,
    /// The endpoint is disabled.
    Disable,
}

/// What follows an attempt at the endpoint's head event that failed at `at`, given the
/// endpoint as it was before that attempt; `jitter` in `0.0..=1.0` picks how much of
/// [`JITTER`] is taken off the pause.
pub fn after_failure(hook: &WebhookRecord, at: OffsetDateTime, jitter: f64) -> AfterFailure {
    let since = |start: Option<OffsetDateTime>| Duration::try_from(at - start.unwrap_or(at)).unwrap_or(Duration::ZERO);
    if since(hook.failing_since) >= DISABLE_AFTER {
        return AfterFailure::Disable;
    }
    if since(hook.head_failing_since) >= DEAD_LETTER_AFTER {
        return AfterFailure::DeadLetter;
    }
    let base = RETRY_PAUSES[(hook.head_attempts as usize).min(RETRY_PAUSES.len() - 1)];
    AfterFailure::Retry(at + base.mul_f64(1.0 - JITTER * jitter.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;
    use wagate_types::TenantId;

    use super::*;

    fn endpoint(start: OffsetDateTime) -> WebhookRecord {
        WebhookRecord {
            id: "w".into(),
            tenant: TenantId::default_tenant(),
            url: "https://example.com/hook".into(),
            session_id: None,
            events: vec!["*".into()],
            secret: "whsec_x".into(),
            headers: BTreeMap::new(),
            description: None,
            enabled: true,
            disabled_reason: None,
            cursor: 0,
            head_attempts: 0,
            head_failing_since: None,
            next_attempt_at: start,
            failing_since: None,
            created_at: start,
            updated_at: start,
        }
    }

    /// Plays failures forward as the deliverer records them, until one is not a retry;
    /// answers the times of the attempts and what ended them.
    fn fail_until_not_retried(hook: &mut WebhookRecord, jitter: f64) -> (Vec<OffsetDateTime>, AfterFailure) {
        let mut attempts = vec![hook.next_attempt_at];
        loop {
            let at = hook.next_attempt_at;
            match after_failure(hook, at, jitter) {
                AfterFailure::Retry(next) => {
                    hook.head_attempts += 1;
                    hook.head_failing_since.get_or_insert(at);
                    hook.failing_since.get_or_insert(at);
                    hook.next_attempt_at = next;
                    attempts.push(next);
                }
                other => return (attempts, other),
            }
        }
    }

    #[test]
    fn a_failing_event_is_tried_at_least_every_minute_and_dead_lettered_after_32_hours() {
        let start = datetime!(2030-01-01 00:00:00 UTC);
        for jitter in [0.0, 0.5, 1.0] {
            let mut hook = endpoint(start);

            let (attempts, end) = fail_until_not_retried(&mut hook, jitter);

            assert_eq!(end, AfterFailure::DeadLetter);
            let gaps: Vec<Duration> = attempts.windows(2).map(|w| Duration::try_from(w[1] - w[0]).unwrap()).collect();
            assert!(gaps.iter().all(|g| *g <= Duration::from_secs(60)), "never more than a minute apart");
            assert!(gaps[0] <= Duration::from_secs(5) && gaps[1] <= Duration::from_secs(30), "{:?}", &gaps[..2]);
            assert!(gaps[2..].iter().all(|g| *g >= Duration::from_secs(48)), "at most one a minute, less 20%");
            let given_up = *attempts.last().unwrap() - start;
            assert!(given_up >= DEAD_LETTER_AFTER && given_up < DEAD_LETTER_AFTER + Duration::from_secs(60));
        }
    }

    #[test]
    fn the_next_event_gets_its_own_time_and_the_endpoint_is_disabled_after_five_days() {
        let start = datetime!(2030-01-01 00:00:00 UTC);
        let mut hook = endpoint(start);
        let mut dead_letters = 0;
        loop {
            match fail_until_not_retried(&mut hook, 1.0).1 {
                AfterFailure::DeadLetter => {
                    // As the store records it: the cursor moves on, the run goes on.
                    dead_letters += 1;
                    hook.cursor += 1;
                    hook.head_attempts = 0;
                    hook.head_failing_since = None;
                }
                AfterFailure::Disable => break,
                AfterFailure::Retry(_) => unreachable!(),
            }
        }
        assert_eq!(dead_letters, 3, "32 h each within 5 days");
        let disabled = hook.next_attempt_at - start;
        assert!(disabled >= DISABLE_AFTER && disabled < DISABLE_AFTER + Duration::from_secs(60), "{disabled}");
    }
}

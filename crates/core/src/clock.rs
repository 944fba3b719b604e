//! The dispatcher's clock: the system's, or a manual one that tests move forward, so
//! an hour of sending (pauses, caps, quiet hours, scheduled messages) runs in a
//! moment and every time in it is exact.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;

/// What the dispatcher reads the time from and waits on.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<ManualClock>>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Clock::Manual" } else { "Clock::System" })
    }
}

impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still until `ManualClock::advance_to`.
    pub fn manual(clock: Arc<ManualClock>) -> Self {
        Self(Some(clock))
    }

    pub fn now(&self) -> OffsetDateTime {
        match &self.0 {
            None => OffsetDateTime::now_utc(),
            Some(manual) => manual.now(),
        }
    }

    /// Waits until `at` by this clock.
    pub async fn sleep_until(&self, at: OffsetDateTime) {
        match &self.0 {
            None => {
                let wait = Duration::try_from(at - OffsetDateTime::now_utc()).unwrap_or(Duration::ZERO);
                tokio::time::sleep(wait).await;
            }
            Some(manual) => manual.sleep_until(at).await,
        }
    }

    pub async fn sleep(&self, wait: Duration) {
        self.sleep_until(self.now() + wait).await;
    }
}

/// A clock moved by hand. It knows who sleeps on it and until when, so a test can move
/// it to the next wake-up once everything waits (see [`ManualClock::next_wake`]).
pub struct ManualClock {
    now: watch::Sender<OffsetDateTime>,
    sleepers: Mutex<Vec<(u64, OffsetDateTime)>>,
    next_id: Mutex<u64>,
}

impl ManualClock {
    pub fn starting_at(at: OffsetDateTime) -> Arc<Self> {
        Arc::new(Self { now: watch::Sender::new(at), sleepers: Mutex::new(Vec::new()), next_id: Mutex::new(0) })
    }

    pub fn now(&self) -> OffsetDateTime {
        *self.now.borrow()
    }

    /// Moves the clock forward to `at` (never back), waking whoever slept until then.
    pub fn advance_to(&self, at: OffsetDateTime) {
        self.now.send_if_modified(|now| {
            let later = at > *now;
            if later {
                *now = at;
            }
            later
        });
    }

    /// The earliest time someone sleeps until, if anyone sleeps.
    pub fn next_wake(&self) -> Option<OffsetDateTime> {
        self.sleepers.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(_, at)| *at).min()
    }

    async fn sleep_until(&self, at: OffsetDateTime) {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            *next += 1;
            *next
        };
        self.sleepers.lock().unwrap_or_else(|p| p.into_inner()).push((id, at));
        // Leaves the list even when the sleep is cancelled (a select! took another branch).
        let _gone = Gone { clock: self, id };
        let mut now = self.now.subscribe();
        let _ = now.wait_for(|now| *now >= at).await;
    }
}

struct Gone<'a> {
    clock: &'a ManualClock,
    id: u64,
}

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.clock.sleepers.lock().unwrap_or_else(|p| p.into_inner()).retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_moved_past_their_time() {
        let start = datetime!(2030-01-01 00:00:00 UTC);
        let manual = ManualClock::starting_at(start);
        let clock = Clock::manual(manual.clone());
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move {
                clock.sleep(Duration::from_secs(10)).await;
                clock.now()
            }
        });
        while manual.next_wake().is_none() {
            tokio::task::yield_now().await;
        }
        assert_eq!(manual.next_wake(), Some(start + Duration::from_secs(10)));
        manual.advance_to(start + Duration::from_secs(5));
        assert!(!sleeper.is_finished());
        manual.advance_to(start + Duration::from_secs(12));
        assert_eq!(sleeper.await.unwrap(), start + Duration::from_secs(12));
        assert_eq!(manual.next_wake(), None, "the sleeper left");
        manual.advance_to(start);
        assert_eq!(clock.now(), start + Duration::from_secs(12), "never back");
    }
}

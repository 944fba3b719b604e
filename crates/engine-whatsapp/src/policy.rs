//! When to connect again after WhatsApp closed a session's connection, by reason.
//!
//! whatsapp-rust itself reconnects at once after a 515 (restart required) and with
//! jittered Fibonacci backoff after a dropped connection. It stops for good after a
//! 440 (another connection replaced this one), a 401 (unlinked) and a temporary ban;
//! for 440 and bans wagate decides here whether and when to start it again.

use std::collections::VecDeque;
use std::time::Duration;

use rand::RngExt;
use tokio::time::Instant;

/// How often a session may take its connection back after being replaced.
///
/// Two clients with the same credentials throw each other out; reconnecting at once
/// every time is a storm that gets a number noticed. Each replacement within `window`
/// doubles the wait, and no more than `max_per_window` reconnects happen per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplacedPolicy {
    pub window: Duration,
    pub max_per_window: usize,
    pub first_delay: Duration,
}

impl Default for ReplacedPolicy {
    fn default() -> Self {
        Self { window: Duration::from_secs(60), max_per_window: 3, first_delay: Duration::from_secs(5) }
    }
}

/// The reconnects a session made after being replaced, newest last.
#[derive(Debug)]
pub(crate) struct ReplacedBackoff {
    policy: ReplacedPolicy,
    reconnects: VecDeque<Instant>,
}

impl ReplacedBackoff {
    pub(crate) fn new(policy: ReplacedPolicy) -> Self {
        Self { policy, reconnects: VecDeque::new() }
    }

    /// How long to wait, from `now`, before reconnecting after a replacement. The
    /// reconnect is counted as made at the end of that wait.
    pub(crate) fn next_delay(&mut self, now: Instant) -> Duration {
        let ReplacedPolicy { window, max_per_window, first_delay } = self.policy;
        while self.reconnects.front().is_some_and(|t| now.saturating_duration_since(*t) >= window) {
            self.reconnects.pop_front();
        }
        let recent = u32::try_from(self.reconnects.len()).unwrap_or(u32::MAX);
        let backoff = first_delay.saturating_mul(2u32.saturating_pow(recent)).min(window);
        let jittered = backoff.mul_f64(rand::rng().random_range(1.0..=1.2));
        // With the window full, the earliest moment is when its oldest reconnect leaves it.
        let window_frees_at = self
            .reconnects
            .len()
            .checked_sub(max_per_window.max(1))
            .and_then(|i| self.reconnects.get(i))
            .map(|t| *t + window);
        let at = window_frees_at.map_or(now + jittered, |free| (now + jittered).max(free));
        self.reconnects.push_back(at);
        at.saturating_duration_since(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ReplacedPolicy {
        ReplacedPolicy { window: Duration::from_secs(60), max_per_window: 3, first_delay: Duration::from_secs(5) }
    }

    #[test]
    fn each_replacement_in_the_window_waits_longer() {
        let mut backoff = ReplacedBackoff::new(policy());
        let start = Instant::now();
        let first = backoff.next_delay(start);
        assert!((Duration::from_secs(5)..=Duration::from_secs(6)).contains(&first), "{first:?}");
        let second = backoff.next_delay(start + first);
        assert!((Duration::from_secs(10)..=Duration::from_secs(12)).contains(&second), "{second:?}");
    }

    #[test]
    fn never_more_reconnects_per_window_than_allowed() {
        let mut backoff = ReplacedBackoff::new(policy());
        let start = Instant::now();
        let mut now = start;
        let mut reconnects = Vec::new();
        // A peer that replaces the session the moment it is back, for ten minutes.
        while now < start + Duration::from_secs(600) {
            now += backoff.next_delay(now);
            reconnects.push(now);
        }
        for (i, t) in reconnects.iter().enumerate() {
            let in_window = reconnects[i..].iter().take_while(|u| **u < *t + Duration::from_secs(60)).count();
            assert!(in_window <= 3, "{in_window} reconnects within a minute from {:?}", *t - start);
        }
        assert!(reconnects.len() >= 10, "it keeps trying: {} reconnects in ten minutes", reconnects.len());
    }

    #[test]
    fn a_quiet_window_starts_over() {
        let mut backoff = ReplacedBackoff::new(policy());
        let start = Instant::now();
        backoff.next_delay(start);
        backoff.next_delay(start + Duration::from_secs(10));
        let later = backoff.next_delay(start + Duration::from_secs(300));
        assert!(later <= Duration::from_secs(6), "{later:?}");
    }
}

//! When a session may send next, beyond the random pause between two sends: caps per
//! minute, hour and day, and quiet hours in the session's time zone. Pure: it gets the
//! times of the session's recent sends and a candidate time, and answers the earliest
//! time at or after it that keeps every rule, so it is tested on a simulated clock.

use std::time::Duration;

use jiff::civil::Time;
use jiff::tz::TimeZone;
use time::OffsetDateTime;
use wagate_store::{LaneCaps, QuietHours, SessionSettings};
use wagate_types::FailureCode;

/// The longest window a cap looks back over; sends older than this never matter.
pub const LOOK_BACK: Duration = Duration::from_secs(24 * 3600);

/// A session's caps and quiet hours.
#[derive(Debug, Clone, Default)]
pub struct Pacing {
    /// At most `n` sends in any `window`.
    caps: Vec<(Duration, u32)>,
    quiet: Option<Quiet>,
    /// Daily caps from the day of the first send on, and that first send.
    warmup: Vec<u32>,
    first_send: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
struct Quiet {
    start: Time,
    end: Time,
    zone: TimeZone,
}

impl Pacing {
    /// The session's rules; a quiet-hours setting that does not read (checked when it
    /// is set) is left out rather than stopping the session. `first_send`: when the
    /// session's first message went out, for the warm-up (`None`: none yet).
    pub fn of(settings: &SessionSettings, first_send: Option<OffsetDateTime>) -> Self {
        let caps = LaneCaps {
            per_minute: settings.cap_per_minute,
            per_hour: settings.cap_per_hour,
            per_day: settings.cap_per_day,
        };
        let quiet = settings.quiet_hours.as_ref().and_then(|q| quiet_of(q).ok());
        Self { quiet, warmup: settings.warmup.clone(), first_send, ..Self::of_lane(&caps) }
    }

    /// Caps alone, as a priority lane has them.
    pub fn of_lane(caps: &LaneCaps) -> Self {
        let caps = [
            (Duration::from_secs(60), caps.per_minute),
            (Duration::from_secs(3600), caps.per_hour),
            (LOOK_BACK, caps.per_day),
        ]
        .into_iter()
        .filter_map(|(window, cap)| cap.map(|n| (window, n.max(1))))
        .collect();
        Self { caps, ..Self::default() }
    }

    /// Whether there is anything to keep: without caps or quiet hours, no history is needed.
    pub fn is_free(&self) -> bool {
        self.caps.is_empty() && self.quiet.is_none() && self.warmup.is_empty()
    }

    /// The warm-up's cap for a day's sends at `at`, if it still holds.
    fn warmup_cap(&self, at: OffsetDateTime) -> Option<u32> {
        let day = self.first_send.map_or(0, |first| (at - first).whole_days().max(0));
        usize::try_from(day).ok().and_then(|day| self.warmup.get(day)).map(|cap| (*cap).max(1))
    }

    /// Whether a send now must wait, until when, and why: quiet hours, or a cap.
    pub fn hold(&self, now: OffsetDateTime, sent: &[OffsetDateTime]) -> Option<(FailureCode, OffsetDateTime)> {
        let until = self.earliest(now, sent);
        if until <= now {
            return None;
        }
        let quiet = self.quiet.as_ref().is_some_and(|q| q.ends_after(now).is_some());
        Some((if quiet { FailureCode::QuietHours } else { FailureCode::CapReached }, until))
    }

    /// The earliest time at or after `candidate` when one more send keeps every cap and
    /// falls outside quiet hours. `sent`: the session's send times of the last day,
    /// oldest first.
    pub fn earliest(&self, candidate: OffsetDateTime, sent: &[OffsetDateTime]) -> OffsetDateTime {
        let mut at = candidate;
        // Each rule can only push the time later; a few rounds settle it.
        for _ in 0..16 {
            let before = at;
            let warmup = self.warmup_cap(at).map(|cap| (LOOK_BACK, cap));
            for &(window, cap) in self.caps.iter().chain(warmup.iter()) {
                let in_window: Vec<&OffsetDateTime> = sent.iter().filter(|s| **s > at - window && **s <= at).collect();
                if in_window.len() >= cap as usize {
                    // Wait until enough of them have left the window.
                    at = *in_window[in_window.len() - cap as usize] + window;
                }
            }
            if let Some(quiet) = &self.quiet
                && let Some(end) = quiet.ends_after(at)
            {
                at = end;
            }
            if at == before {
                break;
            }
        }
        at
    }
}

impl Quiet {
    /// When the quiet period `at` falls in ends, or `None` when `at` is not quiet.
    fn ends_after(&self, at: OffsetDateTime) -> Option<OffsetDateTime> {
        let instant = jiff::Timestamp::from_nanosecond(at.unix_timestamp_nanos()).ok()?;
        let local = instant.to_zoned(self.zone.clone());
        let now = local.time();
        let quiet = if self.start <= self.end {
            now >= self.start && now < self.end
        } else {
            now >= self.start || now < self.end
        };
        if !quiet {
            return None;
        }
        let mut end_date = local.date();
        if self.start > self.end && now >= self.start {
            end_date = end_date.tomorrow().ok()?;
        }
        let end = end_date.to_datetime(self.end).to_zoned(self.zone.clone()).ok()?;
        OffsetDateTime::from_unix_timestamp_nanos(end.timestamp().as_nanosecond()).ok()
    }
}

/// Checks quiet hours: `HH:MM` times that differ and an IANA time zone name; the error
/// says what is wrong.
pub fn check_quiet_hours(quiet: &QuietHours) -> Result<(), String> {
    quiet_of(quiet).map(|_| ())
}

/// Whether `at` falls within the daily hours `hours` (read like quiet hours); hours that
/// do not read (checked when they were set) hold never.
pub fn within_hours(hours: &QuietHours, at: OffsetDateTime) -> bool {
    quiet_of(hours).is_ok_and(|h| h.ends_after(at).is_some())
}

fn quiet_of(quiet: &QuietHours) -> Result<Quiet, String> {
    let time = |field: &str, text: &str| {
        Time::strptime("%H:%M", text).map_err(|_| format!("{field} must be a time like 22:00, not '{text}'"))
    };
    let start = time("start", &quiet.start)?;
    let end = time("end", &quiet.end)?;
    if start == end {
        return Err("start and end must differ".into());
    }
    let zone = TimeZone::get(&quiet.time_zone)
        .map_err(|_| format!("time_zone '{}' is not a known time zone (such as Asia/Beirut)", quiet.time_zone))?;
    Ok(Quiet { start, end, zone })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn settings() -> SessionSettings {
        SessionSettings { throttle_min_ms: 8_000, throttle_max_ms: 22_000, ..SessionSettings::default() }
    }

    fn quiet(start: &str, end: &str) -> Option<QuietHours> {
        Some(QuietHours { start: start.into(), end: end.into(), time_zone: "Asia/Beirut".into() })
    }

    #[test]
    fn a_cap_waits_until_the_oldest_send_leaves_its_window() {
        let pacing = Pacing::of(&SessionSettings { cap_per_minute: Some(3), ..settings() }, None);
        let t = datetime!(2030-01-01 12:00:00 UTC);
        let sent = [t, t + time::Duration::seconds(10), t + time::Duration::seconds(20)];
        let now = t + time::Duration::seconds(30);
        assert_eq!(pacing.earliest(now, &sent), t + time::Duration::seconds(60), "the first leaves the minute");
        assert_eq!(pacing.earliest(now, &sent[1..]), now, "two in the minute: free");
        assert_eq!(Pacing::of(&settings(), None).earliest(now, &sent), now, "no caps, no wait");
    }

    #[test]
    fn quiet_hours_hold_sends_until_they_end_in_the_sessions_time_zone() {
        // Beirut is UTC+2 in January: 22:00–08:00 local is 20:00–06:00 UTC.
        let pacing = Pacing::of(&SessionSettings { quiet_hours: quiet("22:00", "08:00"), ..settings() }, None);
        let late = datetime!(2030-01-01 21:30:00 UTC);
        assert_eq!(pacing.earliest(late, &[]), datetime!(2030-01-02 06:00:00 UTC), "to 08:00 the next day");
        let early = datetime!(2030-01-02 03:00:00 UTC);
        assert_eq!(pacing.earliest(early, &[]), datetime!(2030-01-02 06:00:00 UTC), "to 08:00 the same day");
        let day = datetime!(2030-01-02 10:00:00 UTC);
        assert_eq!(pacing.earliest(day, &[]), day);
        let lunch = Pacing::of(&SessionSettings { quiet_hours: quiet("12:00", "13:30"), ..settings() }, None);
        assert_eq!(lunch.earliest(day, &[]), datetime!(2030-01-02 11:30:00 UTC));
    }

    #[test]
    fn a_warm_up_grows_the_daily_cap_from_the_first_send() {
        let first = datetime!(2030-01-01 09:00:00 UTC);
        let pacing = Pacing::of(&SessionSettings { warmup: vec![2, 4], ..settings() }, Some(first));
        let day = |n: i64, h: i64| first + time::Duration::days(n) + time::Duration::hours(h);
        let two = [day(0, 1), day(0, 2)];
        assert_eq!(pacing.earliest(day(0, 3), &two), day(1, 1), "2 on the first day: the next when one leaves the day");
        let four = [day(1, 1), day(1, 2), day(1, 3), day(1, 4)];
        assert_eq!(pacing.earliest(day(1, 5), &four[..3]), day(1, 5), "4 on the second day");
        assert_eq!(pacing.earliest(day(1, 5), &four), day(2, 1), "the fifth waits");
        let many: Vec<OffsetDateTime> = (1..=20).map(|m| day(2, 0) + time::Duration::minutes(m)).collect();
        assert_eq!(pacing.earliest(day(2, 1), &many), day(2, 1), "after the warm-up, no daily cap");
        let fresh = Pacing::of(&SessionSettings { warmup: vec![1], ..settings() }, None);
        assert_eq!(fresh.earliest(day(0, 0), &[]), day(0, 0), "a number that never sent may start");
    }

    #[test]
    fn bad_quiet_hours_are_refused_with_the_reason() {
        let check = |start: &str, end: &str, zone: &str| {
            check_quiet_hours(&QuietHours { start: start.into(), end: end.into(), time_zone: zone.into() })
        };
        assert!(check("22:00", "08:00", "Asia/Beirut").is_ok());
        assert!(check("25:00", "08:00", "Asia/Beirut").unwrap_err().contains("start"));
        assert!(check("22:00", "8", "Asia/Beirut").unwrap_err().contains("end"));
        assert!(check("22:00", "22:00", "Asia/Beirut").unwrap_err().contains("differ"));
        assert!(check("22:00", "08:00", "Mars/Olympus").unwrap_err().contains("time zone"));
    }

    /// One simulated hour of a busy session on an 8–22 s window with caps and quiet
    /// hours: the dispatcher's loop (draw a pause, then ask the pacing) on a clock
    /// that only moves forward.
    #[test]
    fn a_simulated_hour_keeps_the_window_the_caps_and_the_quiet_hours() {
        let settings = SessionSettings {
            cap_per_minute: Some(3),
            cap_per_hour: Some(100),
            quiet_hours: quiet("21:40", "21:50"),
            ..settings()
        };
        let pacing = Pacing::of(&settings, None);
        // 21:00 Beirut; quiet from 21:40 to 21:50 local.
        let start = datetime!(2030-01-01 19:00:00 UTC);
        let (quiet_from, quiet_to) = (datetime!(2030-01-01 19:40:00 UTC), datetime!(2030-01-01 19:50:00 UTC));
        let mut seed: u64 = 42;
        let mut draw = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            8_000 + (seed >> 33) % 14_001
        };
        let mut sent: Vec<OffsetDateTime> = Vec::new();
        let mut held = 0;
        let mut at = start;
        while at < start + time::Duration::hours(1) {
            let candidate = at + time::Duration::milliseconds(draw() as i64);
            let next = pacing.earliest(candidate, &sent);
            if next > candidate {
                held += 1;
            }
            let gap = next - at;
            assert!(gap >= time::Duration::seconds(8), "a gap of {gap} is under the window");
            assert!(
                gap <= time::Duration::seconds(22) || next > candidate,
                "a gap of {gap} over the window, though nothing held it"
            );
            assert!(!(next >= quiet_from && next < quiet_to), "a send at {next} in quiet hours");
            sent.push(next);
            at = next;
        }
        for (i, s) in sent.iter().enumerate() {
            let in_minute = sent[..=i].iter().filter(|t| **t > *s - time::Duration::minutes(1)).count();
            assert!(in_minute <= 3, "{in_minute} sends in the minute up to {s}");
            let in_hour = sent[..=i].iter().filter(|t| **t > *s - time::Duration::hours(1)).count();
            assert!(in_hour <= 100, "{in_hour} sends in the hour up to {s}");
        }
        assert!(held > 0, "the caps or quiet hours held some sends back");
        assert!(sent.iter().any(|s| *s >= quiet_to), "sending went on after the quiet hours");
        assert!(sent.len() >= 100, "the hour cap is reached: {} sends", sent.len());
    }
}

//! A session's settings as the API shows and changes them: every field optional on
//! a change, checked before anything is kept.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wagate_core::SessionSettings;
use wagate_core::auto_reply::compile;
use wagate_core::pacing::check_quiet_hours;
use wagate_store::{AutoReplyRule, AutoReplySettings, ImageSettings, LaneCaps, Lanes, OptInSettings, QuietHours};
use wagate_types::{OptInMode, TextMatch};

use super::params::present;
use crate::error::{ApiError, ApiResult};

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Left out when changing: kept as it is.
    throttle: Option<Throttle>,
    /// How this session's pictures are prepared; `null`: the gateway's `[media]`
    /// settings. Left out when changing: kept as it is.
    #[serde(default, deserialize_with = "present")]
    images: Option<Option<Images>>,
    /// Ask WhatsApp whether a number has an account before the first send to it
    /// (answers kept a week, a "no" a day); sends to numbers without one fail as
    /// `not_on_whatsapp` instead of going nowhere. Left out when changing: kept.
    check_numbers: Option<bool>,
    /// At most this many sends in any minute, hour and day (each `null`: no cap).
    /// Messages over a cap wait. Left out when changing: kept.
    caps: Option<Caps>,
    /// Hours in which nothing is sent (messages wait for their end); `null`: none.
    /// Left out when changing: kept.
    #[serde(default, deserialize_with = "present")]
    quiet_hours: Option<Option<Quiet>>,
    /// A new number's daily caps, growing: the first holds for the 24 hours from its
    /// first send, the next for the 24 hours after, …; none after the last (`[]`: no
    /// warm-up). Left out when changing: kept.
    #[schema(example = json!([20, 40, 80, 150, 300]))]
    warmup: Option<Vec<u32>>,
    /// Whether contacts are asked before anything is sent to them, and what they are
    /// told. Left out when changing: kept.
    opt_in: Option<OptIn>,
    /// Answers to received messages, by rule; replaced whole when given. Left out
    /// when changing: kept.
    auto_reply: Option<AutoReply>,
    /// At least this many seconds between two sends to the same recipient (`null`:
    /// no spacing); messages to someone just written to wait, others go first. Left
    /// out when changing: kept.
    #[serde(default, deserialize_with = "present")]
    #[schema(example = 60)]
    recipient_spacing_seconds: Option<Option<u32>>,
    /// Caps of each priority lane on top of the session's, so transactional messages
    /// (`high`) keep going while bulk ones (`low`) are held to theirs. Replaced whole
    /// when given; left out when changing: kept.
    lanes: Option<LanesBody>,
    /// Show "typing…" before each text for as long as a person takes to type it (50 ms
    /// a character, 1–6 s), unless the message sets its own `typing_ms`. Left out
    /// when changing: kept.
    simulate_typing: Option<bool>,
}

/// Caps per priority lane; a lane left out has none.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LanesBody {
    #[serde(default)]
    high: Option<Caps>,
    #[serde(default)]
    normal: Option<Caps>,
    #[serde(default)]
    low: Option<Caps>,
}

impl LanesBody {
    fn check(&self) -> ApiResult<()> {
        for (lane, caps) in [("high", &self.high), ("normal", &self.normal), ("low", &self.low)] {
            if let Some(caps) = caps {
                caps.check(&format!("settings.lanes.{lane}"))?;
            }
        }
        Ok(())
    }

    fn stored(self) -> Lanes {
        let caps = |c: Option<Caps>| {
            c.map_or_else(LaneCaps::default, |c| LaneCaps {
                per_minute: c.per_minute,
                per_hour: c.per_hour,
                per_day: c.per_day,
            })
        };
        Lanes { high: caps(self.high), normal: caps(self.normal), low: caps(self.low) }
    }

    fn shown(lanes: &Lanes) -> Self {
        let caps = |c: &LaneCaps| {
            (!c.is_free()).then_some(Caps { per_minute: c.per_minute, per_hour: c.per_hour, per_day: c.per_day })
        };
        Self { high: caps(&lanes.high), normal: caps(&lanes.normal), low: caps(&lanes.low) }
    }
}

impl Caps {
    fn check(&self, field: &str) -> ApiResult<()> {
        for (name, cap) in [("per_minute", self.per_minute), ("per_hour", self.per_hour), ("per_day", self.per_day)] {
            if cap == Some(0) {
                return Err(ApiError::invalid_field(
                    &format!("{field}.{name}"),
                    "must be at least 1, or null for no cap",
                ));
            }
        }
        Ok(())
    }
}

/// Auto-replies: the first matching rule (highest `priority` first, then in order)
/// answers a received message, else `default_reply` if set. People only, unless
/// `groups`; within `active_hours` (`null`: always; may span midnight, e.g. 18:00–09:00
/// for an out-of-office answer); one contact at most once per `cooldown_seconds`.
/// A message within 3 s of the session's last auto-reply to that chat (another bot's
/// answer) or past 10 auto-replies to it in an hour is not answered, so two bots never
/// loop. The prompt and answers of opt-in come first.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoReply {
    #[serde(default)]
    rules: Vec<Rule>,
    #[serde(default)]
    default_reply: Option<String>,
    #[serde(default)]
    #[schema(example = 3600)]
    cooldown_seconds: u64,
    #[serde(default)]
    active_hours: Option<Quiet>,
    #[serde(default)]
    groups: bool,
}

/// One rule: `exact` (the whole text), `contains`, `starts_with` or `regex` (Rust
/// regex syntax, matched case-insensitively on the text without diacritics).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(rename = "match")]
    matching: TextMatch,
    #[schema(example = "price")]
    pattern: String,
    #[schema(example = "Our prices: https://example.com/prices")]
    reply: String,
    /// Higher first; equal ones in order.
    #[serde(default)]
    priority: i32,
}

/// Most rules a session may have.
const MAX_RULES: usize = 100;

impl AutoReply {
    fn check(&self) -> ApiResult<()> {
        let field = |name: &str| format!("settings.auto_reply.{name}");
        if self.rules.len() > MAX_RULES {
            return Err(ApiError::invalid_field(&field("rules"), "at most 100 rules"));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.pattern.trim().is_empty() || rule.pattern.chars().count() > 1000 {
                return Err(ApiError::invalid_field(
                    &field(&format!("rules[{i}].pattern")),
                    "must be 1 to 1000 characters",
                ));
            }
            if rule.matching == TextMatch::Regex
                && let Err(e) = compile(&rule.pattern)
            {
                return Err(ApiError::invalid_field(
                    &field(&format!("rules[{i}].pattern")),
                    format!("not a regex: {e}"),
                ));
            }
            if !reply_ok(&rule.reply) {
                return Err(ApiError::invalid_field(
                    &field(&format!("rules[{i}].reply")),
                    "must be 1 to 4096 characters",
                ));
            }
        }
        if self.default_reply.as_deref().is_some_and(|r| !reply_ok(r)) {
            return Err(ApiError::invalid_field(&field("default_reply"), "must be 1 to 4096 characters, or null"));
        }
        if self.cooldown_seconds > 30 * 24 * 3600 {
            return Err(ApiError::invalid_field(&field("cooldown_seconds"), "must be at most 2592000 (30 days)"));
        }
        if let Some(q) = &self.active_hours {
            check_quiet_hours(&q.stored()).map_err(|why| ApiError::invalid_field(&field("active_hours"), why))?;
        }
        Ok(())
    }
}

fn reply_ok(text: &str) -> bool {
    !text.trim().is_empty() && text.chars().count() <= 4096
}

/// Opt-in: with `required`, a contact's first message brings the prompt; they answer
/// 1/YES/نعم or 2/NO/لا, and STOP or START at any time. Only contacts who said yes
/// are sent to: messages to a contact who has not answered yet wait, the rest end as
/// `opted_out`. The texts default to English and Arabic.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptIn {
    mode: OptInMode,
    /// Sent to a new contact's first message; `null`: the default.
    #[serde(default)]
    prompt: Option<String>,
    /// Sent when a contact agrees or sends START; `null`: the default.
    #[serde(default)]
    on_yes: Option<String>,
    /// Sent when a contact declines or sends STOP; `null`: the default.
    #[serde(default)]
    on_no: Option<String>,
}

/// Longest opt-in text.
const OPT_IN_TEXT_MAX: usize = 4096;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Caps {
    #[serde(default)]
    #[schema(example = 6)]
    per_minute: Option<u32>,
    #[serde(default)]
    #[schema(example = 120)]
    per_hour: Option<u32>,
    #[serde(default)]
    #[schema(example = 1000)]
    per_day: Option<u32>,
}

/// A daily stretch without sends in a time zone; `22:00` to `08:00` spans midnight.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quiet {
    #[schema(example = "22:00")]
    start: String,
    #[schema(example = "08:00")]
    end: String,
    #[schema(example = "Asia/Beirut")]
    time_zone: String,
}

impl Quiet {
    fn stored(&self) -> QuietHours {
        QuietHours { start: self.start.clone(), end: self.end.clone(), time_zone: self.time_zone.clone() }
    }

    fn shown(q: QuietHours) -> Self {
        Self { start: q.start, end: q.end, time_zone: q.time_zone }
    }
}

/// How pictures sent as `image` are prepared.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Images {
    /// The longest side of a re-encoded picture, 64–4096 pixels.
    #[schema(example = 1280)]
    max_side: u32,
    /// JPEG quality, 1–100.
    #[schema(example = 78)]
    jpeg_quality: u8,
    /// `false`: pictures go as given (they must still be JPEG, PNG, WebP or GIF).
    reencode: bool,
}

impl Settings {
    /// Changes `settings` by what was given; every field is checked first.
    pub fn apply(self, settings: &mut SessionSettings) -> ApiResult<()> {
        if let Some(Some(images)) = &self.images {
            if !(64..=4096).contains(&images.max_side) {
                return Err(ApiError::invalid_field("settings.images.max_side", "must be between 64 and 4096"));
            }
            if !(1..=100).contains(&images.jpeg_quality) {
                return Err(ApiError::invalid_field("settings.images.jpeg_quality", "must be between 1 and 100"));
            }
        }
        if let Some(caps) = &self.caps {
            caps.check("settings.caps")?;
        }
        if let Some(lanes) = &self.lanes {
            lanes.check()?;
        }
        if let Some(Some(seconds)) = self.recipient_spacing_seconds
            && !(1..=7 * 24 * 3600).contains(&seconds)
        {
            return Err(ApiError::invalid_field(
                "settings.recipient_spacing_seconds",
                "must be between 1 and 604800 (a week), or null",
            ));
        }
        if let Some(warmup) = &self.warmup
            && (warmup.len() > 90 || warmup.contains(&0))
        {
            return Err(ApiError::invalid_field("settings.warmup", "up to 90 daily caps, each at least 1"));
        }
        if let Some(auto) = &self.auto_reply {
            auto.check()?;
        }
        if let Some(opt_in) = &self.opt_in {
            for (field, text) in [("prompt", &opt_in.prompt), ("on_yes", &opt_in.on_yes), ("on_no", &opt_in.on_no)] {
                if let Some(text) = text
                    && (text.trim().is_empty() || text.chars().count() > OPT_IN_TEXT_MAX)
                {
                    return Err(ApiError::invalid_field(
                        &format!("settings.opt_in.{field}"),
                        "must be 1 to 4096 characters, or null for the default",
                    ));
                }
            }
        }
        let quiet_hours = match self.quiet_hours {
            Some(Some(q)) => {
                let q = QuietHours { start: q.start, end: q.end, time_zone: q.time_zone };
                check_quiet_hours(&q).map_err(|why| ApiError::invalid_field("settings.quiet_hours", why))?;
                Some(Some(q))
            }
            Some(None) => Some(None),
            None => None,
        };
        if let Some(caps) = self.caps {
            (settings.cap_per_minute, settings.cap_per_hour, settings.cap_per_day) =
                (caps.per_minute, caps.per_hour, caps.per_day);
        }
        if let Some(quiet) = quiet_hours {
            settings.quiet_hours = quiet;
        }
        if let Some(warmup) = self.warmup {
            settings.warmup = warmup;
        }
        if let Some(spacing) = self.recipient_spacing_seconds {
            settings.recipient_spacing_seconds = spacing;
        }
        if let Some(lanes) = self.lanes {
            settings.lanes = lanes.stored();
        }
        if let Some(on) = self.simulate_typing {
            settings.simulate_typing = on;
        }
        if let Some(a) = self.auto_reply {
            settings.auto_reply = AutoReplySettings {
                rules: a
                    .rules
                    .into_iter()
                    .map(|r| AutoReplyRule {
                        matching: r.matching,
                        pattern: r.pattern,
                        reply: r.reply,
                        priority: r.priority,
                    })
                    .collect(),
                default_reply: a.default_reply,
                cooldown_seconds: a.cooldown_seconds,
                active_hours: a.active_hours.map(|q| q.stored()),
                groups: a.groups,
            };
        }
        if let Some(o) = self.opt_in {
            settings.opt_in = OptInSettings { mode: o.mode, prompt: o.prompt, on_yes: o.on_yes, on_no: o.on_no };
        }
        if let Some(throttle) = self.throttle {
            throttle.apply(settings)?;
        }
        if let Some(check) = self.check_numbers {
            settings.check_numbers = check;
        }
        if let Some(images) = self.images {
            settings.images = images.map(|i| ImageSettings {
                max_side: i.max_side,
                jpeg_quality: i.jpeg_quality,
                reencode: i.reencode,
            });
        }
        Ok(())
    }
}

/// The pause between two sends of a session: random between the two bounds, so
/// sending looks like a person typing. `0`/`0` sends as fast as WhatsApp takes it.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    #[schema(example = 8000)]
    min_delay_ms: u64,
    #[schema(example = 22000)]
    max_delay_ms: u64,
}

/// Longest pause between two sends that a session may ask for: one hour.
const MAX_DELAY_MS: u64 = 3_600_000;

impl Throttle {
    fn apply(self, settings: &mut SessionSettings) -> ApiResult<()> {
        if self.min_delay_ms > self.max_delay_ms {
            return Err(ApiError::invalid_field(
                "settings.throttle.min_delay_ms",
                "must not be larger than max_delay_ms",
            ));
        }
        if self.max_delay_ms > MAX_DELAY_MS {
            return Err(ApiError::invalid_field(
                "settings.throttle.max_delay_ms",
                "must be at most 3600000 (one hour)",
            ));
        }
        settings.throttle_min_ms = self.min_delay_ms;
        settings.throttle_max_ms = self.max_delay_ms;
        Ok(())
    }
}

impl Settings {
    /// The settings as stored, every field given.
    pub fn of(settings: SessionSettings) -> Self {
        Settings {
            throttle: Some(Throttle { min_delay_ms: settings.throttle_min_ms, max_delay_ms: settings.throttle_max_ms }),
            images: Some(settings.images.map(|i| Images {
                max_side: i.max_side,
                jpeg_quality: i.jpeg_quality,
                reencode: i.reencode,
            })),
            check_numbers: Some(settings.check_numbers),
            caps: Some(Caps {
                per_minute: settings.cap_per_minute,
                per_hour: settings.cap_per_hour,
                per_day: settings.cap_per_day,
            }),
            quiet_hours: Some(settings.quiet_hours.map(|q| Quiet {
                start: q.start,
                end: q.end,
                time_zone: q.time_zone,
            })),
            warmup: Some(settings.warmup),
            recipient_spacing_seconds: Some(settings.recipient_spacing_seconds),
            lanes: Some(LanesBody::shown(&settings.lanes)),
            simulate_typing: Some(settings.simulate_typing),
            auto_reply: Some(AutoReply {
                rules: settings
                    .auto_reply
                    .rules
                    .into_iter()
                    .map(|r| Rule { matching: r.matching, pattern: r.pattern, reply: r.reply, priority: r.priority })
                    .collect(),
                default_reply: settings.auto_reply.default_reply,
                cooldown_seconds: settings.auto_reply.cooldown_seconds,
                active_hours: settings.auto_reply.active_hours.map(Quiet::shown),
                groups: settings.auto_reply.groups,
            }),
            opt_in: Some(OptIn {
                mode: settings.opt_in.mode,
                prompt: settings.opt_in.prompt,
                on_yes: settings.opt_in.on_yes,
                on_no: settings.opt_in.on_no,
            }),
        }
    }
}

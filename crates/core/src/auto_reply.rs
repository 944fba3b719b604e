//! Auto-replies: a session answers received messages by rule (exact, contains,
//! starts-with, regex; case and diacritics never matter), the highest priority first,
//! else with its default reply. They answer people only unless the session asks for
//! groups too, within their active hours, at most once per contact per cooldown, and
//! never in a loop with another bot: a message that comes within seconds of the
//! session's last auto-reply to that chat, or past the hourly limit, is not answered.
//!
//! Like the opt-in, the decision is pure and runs inside the transaction that stores the
//! received message, so the answer is queued exactly once with it.

use std::time::Duration;

use regex::RegexBuilder;
use wagate_store::{AutoReplies, AutoReplySettings, MessageRecord, Response, SessionSettings};
use wagate_types::{ChatKind, Origin, TextMatch};

use crate::fold::fold;
use crate::opt_in::{answer, contact_of};
use crate::pacing::within_hours;

/// A message this soon after the session's last auto-reply to the chat is another
/// bot's answer (people take longer to read and type): it gets no answer.
pub const TOO_QUICK: Duration = Duration::from_secs(3);

/// At most this many auto-replies to one chat in an hour, whatever the cooldown.
pub const HOURLY_LIMIT: u32 = 10;

/// Largest compiled regex a rule may have.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// Whether a received message is one the session's auto-replies look at.
pub fn wants(settings: &SessionSettings, stored: &MessageRecord) -> bool {
    let auto = &settings.auto_reply;
    if auto.rules.is_empty() && auto.default_reply.is_none() {
        return false;
    }
    if matches!(stored.kind.as_str(), "reaction" | "poll_vote" | "edit" | "revoke") {
        return false;
    }
    let from_self = stored.sender.as_ref().and_then(|s| s.phone()).is_some_and(|p| p.as_str() == stored.recipient);
    let chat_ok = match stored.chat.kind() {
        ChatKind::User | ChatKind::Lid => true,
        ChatKind::Group => auto.groups,
        ChatKind::Broadcast | ChatKind::Newsletter => false,
    };
    chat_ok && !from_self
}

/// The reply the rules give `text` (the message's text or caption), or the default.
pub fn reply_for<'a>(auto: &'a AutoReplySettings, text: Option<&str>) -> Option<&'a str> {
    let folded = text.map(fold);
    let mut rules: Vec<_> = auto.rules.iter().enumerate().collect();
    rules.sort_by_key(|(i, r)| (std::cmp::Reverse(r.priority), *i));
    let matched = folded.as_deref().and_then(|text| {
        rules.into_iter().map(|(_, r)| r).find(|rule| {
            let pattern = fold(&rule.pattern);
            match rule.matching {
                TextMatch::Exact => text == pattern,
                TextMatch::Contains => !pattern.is_empty() && text.contains(&pattern),
                TextMatch::StartsWith => !pattern.is_empty() && text.starts_with(&pattern),
                TextMatch::Regex => compile(&rule.pattern).is_ok_and(|re| re.is_match(text)),
            }
        })
    });
    matched.map(|r| r.reply.as_str()).or(auto.default_reply.as_deref())
}

/// A rule's regex as matched: case-insensitive, size-limited.
pub fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    RegexBuilder::new(pattern).case_insensitive(true).size_limit(REGEX_SIZE_LIMIT).build()
}

/// The auto-reply a received message gets, given the session's auto-replies to its
/// chat so far.
pub fn respond(settings: &SessionSettings, stored: &MessageRecord, history: Option<AutoReplies>) -> Response {
    let auto = &settings.auto_reply;
    if !wants(settings, stored) {
        return Response::default();
    }
    let now = stored.created_at;
    if auto.active_hours.as_ref().is_some_and(|hours| !within_hours(hours, now)) {
        return Response::default();
    }
    let history = history.unwrap_or_default();
    let last = history.last_at.max(history.last_sent_at);
    let since = |at: time::OffsetDateTime| Duration::try_from(now - at).unwrap_or(Duration::ZERO);
    let cooldown = Duration::from_secs(auto.cooldown_seconds);
    if history.last_hour >= HOURLY_LIMIT || last.is_some_and(|at| since(at) < TOO_QUICK.max(cooldown)) {
        return Response::default();
    }
    let text = ["text", "image", "video", "document"].iter().find_map(|kind| match *kind {
        "text" => stored.content.get("text").and_then(|t| t.as_str()),
        kind => stored.content.get(kind)?.get("caption")?.as_str(),
    });
    let Some(reply) = reply_for(auto, text) else { return Response::default() };
    let recipient = contact_of(&stored.chat).unwrap_or_else(|| stored.chat.to_string());
    let message = answer(stored, recipient, reply, Origin::AutoReply);
    Response { opt_in: None, replies: vec![message] }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use time::OffsetDateTime;
    use time::macros::datetime;
    use wagate_store::{AutoReplyRule, QuietHours};
    use wagate_types::{
        ChatId, Direction, MessageId, MessageStatus, Priority, SessionId, SessionName, TenantId, WaMessageId,
    };

    use super::*;

    fn rule(matching: TextMatch, pattern: &str, reply: &str, priority: i32) -> AutoReplyRule {
        AutoReplyRule { matching, pattern: pattern.into(), reply: reply.into(), priority }
    }

    fn settings() -> SessionSettings {
        let auto_reply = AutoReplySettings {
            rules: vec![
                rule(TextMatch::Contains, "price", "Prices: example.com/prices", 0),
                rule(TextMatch::Exact, "hi", "Hello! How can we help?", 0),
                rule(TextMatch::StartsWith, "order", "Send your order number", 0),
                rule(TextMatch::Regex, r"\b(refund|return)s?\b", "Refunds: example.com/refunds", 0),
                rule(TextMatch::Contains, "السعر", "الأسعار: example.com/prices", 0),
                rule(TextMatch::Contains, "urgent", "Calling you now", 5),
            ],
            default_reply: Some("Thanks, we will answer soon".into()),
            ..AutoReplySettings::default()
        };
        SessionSettings { auto_reply, ..SessionSettings::default() }
    }

    const NOW: OffsetDateTime = datetime!(2030-01-01 10:00:00 UTC);

    fn received(chat: &str, content: Value) -> MessageRecord {
        let chat = ChatId::parse(chat).unwrap();
        let kind = content.as_object().and_then(|o| o.keys().next().cloned()).unwrap_or_default();
        MessageRecord {
            id: MessageId::new(),
            tenant: TenantId::default_tenant(),
            session_id: SessionId::new(),
            session_name: SessionName::parse("default").unwrap(),
            direction: Direction::Inbound,
            sender: Some(chat.clone()),
            chat,
            recipient: "+4915110000001".into(),
            push_name: None,
            kind,
            content,
            wa_id: WaMessageId::generate(),
            origin: None,
            status: MessageStatus::Received,
            priority: Priority::Normal,
            send_at: None,
            next_attempt_at: NOW,
            attempts: 0,
            error: None,
            error_code: None,
            created_at: NOW,
            queued_at: None,
            sent_at: Some(NOW),
            delivered_at: None,
            read_at: None,
            played_at: None,
            failed_at: None,
            cancelled_at: None,
        }
    }

    fn answer(settings: &SessionSettings, stored: &MessageRecord, history: AutoReplies) -> Option<String> {
        let response = respond(settings, stored, Some(history));
        response.replies.first().map(|m| m.content["text"].as_str().unwrap().to_owned())
    }

    #[test]
    fn rules_match_by_kind_priority_and_order_ignoring_case_and_diacritics() {
        let auto = &settings().auto_reply;
        for (text, reply) in [
            ("What's the PRICE?", "Prices: example.com/prices"),
            ("Hi", "Hello! How can we help?"),
            ("hi there", "Thanks, we will answer soon"),
            ("Order 1234", "Send your order number"),
            ("my order", "Thanks, we will answer soon"),
            ("Can I get a REFUND?", "Refunds: example.com/refunds"),
            ("refundable?", "Thanks, we will answer soon"),
            ("كم السِّعر؟", "الأسعار: example.com/prices"),
            ("URGENT: price now", "Calling you now"),
            ("Café", "Thanks, we will answer soon"),
        ] {
            assert_eq!(reply_for(auto, Some(text)), Some(reply), "{text:?}");
        }
        assert_eq!(reply_for(auto, None), Some("Thanks, we will answer soon"), "a picture gets the default");
        let without_default = AutoReplySettings { default_reply: None, ..auto.clone() };
        assert_eq!(reply_for(&without_default, Some("nothing matches")), None);
    }

    #[test]
    fn people_are_answered_groups_only_when_asked_and_never_the_session_itself() {
        let mut settings = settings();
        let ann = received("4915110000002@s.whatsapp.net", json!({ "text": "price?" }));
        let reply = respond(&settings, &ann, None).replies.remove(0);
        assert_eq!((reply.origin, reply.recipient.as_str()), (Some(Origin::AutoReply), "+4915110000002"));
        assert_eq!(reply.chat, ann.chat);

        let group = received("120363025246125244@g.us", json!({ "text": "price?" }));
        assert!(respond(&settings, &group, None).replies.is_empty());
        settings.auto_reply.groups = true;
        assert_eq!(respond(&settings, &group, None).replies[0].recipient, "120363025246125244@g.us");

        let own = received("4915110000001@s.whatsapp.net", json!({ "text": "price?" }));
        assert!(respond(&settings, &own, None).replies.is_empty(), "the linked phone's own message");
        let reaction = received("4915110000002@s.whatsapp.net", json!({ "reaction": { "emoji": "👍" } }));
        assert!(respond(&settings, &reaction, None).replies.is_empty());
        let captioned = received("4915110000002@s.whatsapp.net", json!({ "image": { "caption": "Price of this?" } }));
        assert_eq!(answer(&settings, &captioned, AutoReplies::default()).unwrap(), "Prices: example.com/prices");
    }

    #[test]
    fn cooldown_hourly_limit_quick_answers_and_active_hours_hold_replies_back() {
        let mut settings = settings();
        let ann = received("4915110000002@s.whatsapp.net", json!({ "text": "hi" }));
        let ago = |secs: i64| Some(NOW - time::Duration::seconds(secs));
        let answered = |history| answer(&settings, &ann, history).is_some();
        assert!(answered(AutoReplies { last_at: ago(60), last_sent_at: ago(59), last_hour: 1 }));
        assert!(!answered(AutoReplies { last_at: ago(2), last_sent_at: None, last_hour: 1 }), "a bot's quick answer");
        assert!(!answered(AutoReplies { last_at: ago(60), last_sent_at: ago(1), last_hour: 1 }), "quick after sending");
        assert!(!answered(AutoReplies { last_at: ago(3000), last_sent_at: ago(3000), last_hour: HOURLY_LIMIT }));

        settings.auto_reply.cooldown_seconds = 3600;
        let answered = |history| answer(&settings, &ann, history).is_some();
        assert!(!answered(AutoReplies { last_at: ago(1800), last_sent_at: ago(1800), last_hour: 1 }));
        assert!(answered(AutoReplies { last_at: ago(3601), last_sent_at: ago(3601), last_hour: 0 }));

        // 10:00 UTC is 12:00 in Beirut.
        let hours = |start: &str, end: &str| {
            Some(QuietHours { start: start.into(), end: end.into(), time_zone: "Asia/Beirut".into() })
        };
        settings.auto_reply.active_hours = hours("09:00", "17:00");
        assert!(answer(&settings, &ann, AutoReplies::default()).is_some());
        settings.auto_reply.active_hours = hours("18:00", "09:00");
        assert!(answer(&settings, &ann, AutoReplies::default()).is_none(), "out-of-office only after hours");
    }
}

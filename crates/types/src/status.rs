use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ParseError;

/// Declares a string-backed enum with the same spelling in JSON and in the database.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(input: &str) -> Result<Self, ParseError> {
                match input {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseError::new(format!(
                        "'{input}' is not one of: {}",
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Why a send failed (or why its last attempt did), for programs to act on; `error`
    /// has the words. Temporary ones are retried with backoff up to the retry limit.
    FailureCode {
        /// The number has no WhatsApp account (found by the number check, or said by
        /// WhatsApp). Permanent.
        NotOnWhatsapp = "not_on_whatsapp",
        /// WhatsApp refused the message (not a member of the group, blocked, …). Permanent.
        Refused = "refused",
        /// WhatsApp asked to slow down. Temporary.
        RateLimited = "rate_limited",
        /// WhatsApp did not acknowledge the message in time. Temporary.
        Timeout = "timeout",
        /// The connection or WhatsApp's server failed. Temporary.
        Network = "network",
        /// The file could not be uploaded, or is gone.
        MediaError = "media_error",
        /// The message cannot be built as stored (a bad poll, a wrong address). Permanent.
        Invalid = "invalid",
        /// The session was unlinked from its phone: what waits goes once it is linked
        /// again (set on waiting messages, which stay queued).
        LoggedOut = "logged_out",
        /// WhatsApp banned the number for a while: what waits goes when the ban ends
        /// (set on waiting messages, which stay queued).
        Banned = "banned",
        /// The session is not connected right now (starting, reconnecting, waiting for
        /// a QR scan, stopped): what waits goes once it is (set on waiting messages).
        NotConnected = "not_connected",
        /// The recipient has not answered the opt-in prompt yet: the message waits for
        /// a YES (and ends `opted_out` on a NO).
        OptInPending = "opt_in_pending",
        /// The session is in its quiet hours: what waits goes when they end (shown on
        /// waiting messages while it lasts).
        QuietHours = "quiet_hours",
        /// The session (or the message's priority lane) sent as much as its caps per
        /// minute, hour or day allow: what waits goes as sends leave the window (shown
        /// on waiting messages while it lasts).
        CapReached = "cap_reached",
    }
}

string_enum! {
    /// Where a message is in its life. Outbound messages move forward through
    /// `scheduled → queued → sending → sent → delivered → read → played`, or end in
    /// `failed`, `cancelled` or `opted_out`.
    MessageStatus {
        /// Accepted with a `send_at` in the future.
        Scheduled = "scheduled",
        /// Waiting for its turn in the session's queue.
        Queued = "queued",
        /// Handed to WhatsApp, waiting for the server's acknowledgement.
        Sending = "sending",
        /// Acknowledged by the WhatsApp server.
        Sent = "sent",
        /// Arrived on the recipient's phone.
        Delivered = "delivered",
        /// Read by the recipient.
        Read = "read",
        /// A voice note or video played by the recipient.
        Played = "played",
        /// Gave up after the retry limit or a permanent error; `error` says why.
        Failed = "failed",
        /// Cancelled by an API client while it waited.
        Cancelled = "cancelled",
        /// Not sent because the recipient opted out.
        OptedOut = "opted_out",
        /// An inbound message, stored as it arrived.
        Received = "received",
    }
}

impl MessageStatus {
    /// Whether the message still waits to be sent and can be cancelled.
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Scheduled | Self::Queued)
    }

    /// Whether a client may ask for the message to be sent again.
    pub fn can_resend(self) -> bool {
        matches!(self, Self::Failed | Self::Cancelled)
    }
}

string_enum! {
    /// A session's connection to WhatsApp.
    SessionStatus {
        /// Starting up or connecting with stored credentials.
        Starting = "starting",
        /// Waiting for a phone to scan the QR code (or enter the pair code).
        QrReady = "qr_ready",
        /// Linked and online: messages go out.
        Connected = "connected",
        /// Lost the connection and trying again; messages wait.
        Reconnecting = "reconnecting",
        /// Unlinked from the phone; needs a new QR scan.
        LoggedOut = "logged_out",
        /// Temporarily banned by WhatsApp; reconnects by itself when the ban ends
        /// (`status_reason` says when).
        Banned = "banned",
        /// Not running; `status_reason` says why.
        Stopped = "stopped",
    }
}

string_enum! {
    /// Which way a message went.
    Direction {
        Outbound = "outbound",
        Inbound = "inbound",
    }
}

string_enum! {
    /// Queue order within a session: higher first, then oldest first.
    Priority {
        Low = "low",
        Normal = "normal",
        High = "high",
    }
}

impl Priority {
    pub fn rank(self) -> i16 {
        match self {
            Self::Low => 0,
            Self::Normal => 1,
            Self::High => 2,
        }
    }

    pub fn from_rank(rank: i16) -> Self {
        match rank {
            i16::MIN..=0 => Self::Low,
            1 => Self::Normal,
            _ => Self::High,
        }
    }
}

string_enum! {
    /// Whether a contact agreed to get messages from a session.
    OptInStatus {
        /// Wrote to the session and was asked; no answer yet. Messages to them wait.
        Pending = "pending",
        /// Agreed: messages go out.
        Yes = "yes",
        /// Declined or unsubscribed: messages to them end as `opted_out` until they
        /// send START.
        No = "no",
    }
}

string_enum! {
    /// Whether a session asks its contacts before sending to them.
    OptInMode {
        /// Messages go to anyone.
        Off = "off",
        /// Messages go only to contacts who said yes.
        Required = "required",
    }
}

string_enum! {
    /// Who put an outbound message in the queue, when it was not an API client.
    Origin {
        /// The opt-in prompt or a confirmation of an answer to it.
        OptIn = "opt_in",
        /// An auto-reply rule.
        AutoReply = "auto_reply",
        /// A campaign.
        Campaign = "campaign",
    }
}

string_enum! {
    /// How an auto-reply rule's pattern meets a message's text; case and diacritics
    /// never matter.
    TextMatch {
        /// The whole text is the pattern.
        Exact = "exact",
        Contains = "contains",
        StartsWith = "starts_with",
        /// A regular expression (Rust `regex` syntax) found anywhere in the text.
        Regex = "regex",
    }
}

string_enum! {
    /// Where a campaign is.
    CampaignStatus {
        /// Feeding its recipients into its sessions' queues (once `start_at` came).
        Running = "running",
        /// Stopped for now; messages not taken by a session yet went back to the list.
        Paused = "paused",
        /// Stopped for good; what was not sent is `cancelled`.
        Cancelled = "cancelled",
        /// Every recipient's message was sent or ended.
        Completed = "completed",
    }
}

string_enum! {
    /// What a receipt from the recipient says.
    ReceiptKind {
        Delivered = "delivered",
        Read = "read",
        Played = "played",
    }
}

impl ReceiptKind {
    pub fn status(self) -> MessageStatus {
        match self {
            Self::Delivered => MessageStatus::Delivered,
            Self::Read => MessageStatus::Read,
            Self::Played => MessageStatus::Played,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_through_its_text() {
        for s in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(s.as_str()).unwrap(), *s);
            assert_eq!(serde_json::to_string(s).ok(), Some(format!("\"{s}\"")));
        }
        for s in SessionStatus::ALL {
            assert_eq!(SessionStatus::parse(s.as_str()).unwrap(), *s);
        }
        assert!(MessageStatus::parse("lost").is_err());
    }

    #[test]
    fn priority_ranks_round_trip() {
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), *p);
        }
    }
}

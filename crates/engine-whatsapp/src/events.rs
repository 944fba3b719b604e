//! What whatsapp-rust reports, in wagate's words. The handler runs inline on the
//! client's event bus, so it only translates and queues; the session's pump hands the
//! events on to wagate in order. Receipts are the exception: they are committed before
//! the handler returns (`receipts.rs`).

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use time::OffsetDateTime;
use tracing::warn;
use wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use wacore::types::call::{CallAction, IncomingCall};
use wacore::types::events::{Event, EventHandler, InboundMessage};
use wacore::types::presence::ReceiptType;
use wacore_binary::{Jid, JidExt as _};
use wagate_engine::{Content, Context, EngineEvent, GroupChange, IncomingMessage, Receipt};
use wagate_types::{ChatId, PhoneNumber, ReceiptKind, WaMessageId};
use whatsapp_rust::{Client, InboundDurabilityHook};

use crate::StoredCredentials;
use crate::incoming::{Parsed, parse};
use crate::refs::{Me, Viewpoint};
use crate::session::{Ending, Shared};
use crate::votes;

/// Receives the client's events for one session.
pub(crate) struct Forwarder {
    pub(crate) shared: Weak<Shared>,
}

impl EventHandler for Forwarder {
    fn handle_event(&self, event: Arc<Event>) {
        let Some(shared) = self.shared.upgrade() else { return };
        let now = OffsetDateTime::now_utc();
        match &*event {
            Event::PairingQrCode(qr) => {
                shared.reached();
                shared.emit(EngineEvent::Qr { code: qr.code.clone(), expires_at: now + qr.timeout });
            }
            Event::Connected(_) => {
                shared.reached();
                let Some(client) = shared.client() else { return };
                let Some(pn) = client.pn() else { return };
                let phone = PhoneNumber::from_stored(format!("+{}", pn.user));
                let push_name = Some(client.push_name()).filter(|n| !n.is_empty());
                shared.emit(EngineEvent::Connected { phone, push_name });
            }
            Event::Disconnected(disconnected) => {
                shared.acks.abandon_all();
                if !shared.stopping() {
                    let reason = format!("connection lost ({:?}); reconnecting", disconnected.reason);
                    shared.emit(EngineEvent::Disconnected { reason, retrying: true });
                }
            }
            Event::LoggedOut(logged_out) => {
                let reason = format!("the phone unlinked this device ({:?})", logged_out.reason);
                shared.ended(Ending::LoggedOut(reason));
            }
            Event::StreamReplaced(_) => shared.ended(Ending::Replaced),
            Event::TemporaryBan(ban) => {
                let seconds = ban.expire.num_seconds();
                let until = now + time::Duration::seconds(seconds);
                shared.ended(Ending::Banned { until, code: format!("{:?}", ban.code) });
            }
            Event::ClientOutdated(_) => {
                shared.ended(Ending::Failed("WhatsApp refused this client version as outdated".into()));
            }
            Event::ConnectFailure(failure) => {
                let message = failure.message.as_deref().unwrap_or("no details");
                shared.ended(Ending::Failed(format!(
                    "WhatsApp refused the connection ({:?}: {message})",
                    failure.reason
                )));
            }
            Event::PairingQrCodesExhausted(_) => shared.ended(Ending::QrExhausted),
            Event::ServerAck(ack) if ack.class.as_deref() == Some("message") => {
                let outcome = match &ack.error {
                    Some(code) => Err(code.clone()),
                    None => Ok(ack.timestamp.and_then(|t| from_millis(t.timestamp_millis()))),
                };
                shared.acks.resolve(&ack.id, outcome);
            }
            Event::Receipt(receipt) => {
                let Some(kind) = receipt_kind(&receipt.r#type) else { return };
                let wa_ids: Vec<WaMessageId> =
                    receipt.message_ids.iter().map(|id| WaMessageId::from_stored(id.to_string())).collect();
                if !wa_ids.is_empty() {
                    let at = from_millis(receipt.timestamp.timestamp_millis()).unwrap_or(now);
                    crate::receipts::commit_before_ack(&shared, Receipt { wa_ids, kind, at });
                }
            }
            Event::Presence(update) => shared.emit(EngineEvent::Presence {
                chat: ChatId::from_stored(update.from.to_non_ad().to_string()),
                available: !update.unavailable,
                last_seen: update.last_seen.and_then(|t| from_millis(t.timestamp_millis())),
            }),
            Event::GroupUpdate(update) => {
                if let Some(change) = group_change(&update.action) {
                    shared.emit(EngineEvent::GroupChanged {
                        group: ChatId::from_stored(update.group_jid.to_non_ad().to_string()),
                        by: update.participant.as_ref().map(|p| person(p, update.participant_pn.as_ref())),
                        change,
                        at: from_millis(update.timestamp.timestamp_millis()).unwrap_or(now),
                    });
                }
            }
            Event::IncomingCall(call) => {
                if let Some(event) = incoming_call(call, now) {
                    shared.emit(event);
                }
            }
            // Received messages are reported by the inbox hook, once committed.
            _ => {}
        }
    }
}

/// A call that rings the session, in wagate's terms: whatsapp-rust reports every
/// `<call>` action (offer, accept, terminate, transport…) as an `IncomingCall`; only a
/// 1:1 offer is a call ringing us. Offers replayed after being offline come as
/// `MissedCall` instead and are not told.
fn incoming_call(call: &IncomingCall, now: OffsetDateTime) -> Option<EngineEvent> {
    let CallAction::Offer { call_id, caller_pn, is_video, group_jid: None, .. } = &call.action else { return None };
    Some(EngineEvent::IncomingCall {
        call_id: call_id.clone(),
        from: person(&call.from, caller_pn.as_ref()),
        video: *is_video,
        at: from_millis(call.timestamp.timestamp_millis()).unwrap_or(now),
    })
}

/// A group notification's change in wagate's terms; `None` for what wagate does not
/// report (ephemeral timers, membership approval and the like).
fn group_change(action: &GroupNotificationAction) -> Option<GroupChange> {
    let people = |participants: &[GroupParticipantInfo]| {
        participants.iter().map(|p| person(&p.jid, p.phone_number.as_ref())).collect()
    };
    Some(match action {
        GroupNotificationAction::Add { participants, .. } => GroupChange::Add(people(participants)),
        GroupNotificationAction::Remove { participants, .. } => GroupChange::Remove(people(participants)),
        GroupNotificationAction::Promote { participants } => GroupChange::Promote(people(participants)),
        GroupNotificationAction::Demote { participants } => GroupChange::Demote(people(participants)),
        GroupNotificationAction::Subject { subject, .. } => GroupChange::Subject(subject.clone()),
        GroupNotificationAction::Description { description, .. } => GroupChange::Description(description.clone()),
        GroupNotificationAction::Locked { .. } => GroupChange::Locked(true),
        GroupNotificationAction::Unlocked => GroupChange::Locked(false),
        GroupNotificationAction::Announce => GroupChange::Announce(true),
        GroupNotificationAction::NotAnnounce => GroupChange::Announce(false),
        _ => return None,
    })
}

/// Commits received messages through wagate's inbox before the client acknowledges
/// them to WhatsApp, then reports them. A failed commit leaves them unacknowledged:
/// WhatsApp redelivers.
pub(crate) struct InboxHook {
    pub(crate) shared: Weak<Shared>,
}

#[async_trait]
impl InboundDurabilityHook for InboxHook {
    async fn on_messages(&self, client: Arc<Client>, batch: &[InboundMessage]) -> anyhow::Result<()> {
        let shared = self.shared.upgrade().ok_or_else(|| anyhow::anyhow!("the session is gone"))?;
        let me = Me::of(&client);
        let mut messages = Vec::with_capacity(batch.len());
        for inbound in batch {
            if let Some(message) = incoming(&client, shared.credentials(), &me, inbound).await {
                messages.push(message);
            }
        }
        if messages.is_empty() {
            return Ok(());
        }
        shared.inbox.commit(&messages).await.map_err(|e| anyhow::anyhow!("inbound messages not committed: {e}"))?;
        for message in messages {
            shared.emit(EngineEvent::Incoming(Box::new(message)));
        }
        Ok(())
    }
}

/// The message in wagate's terms; `None` for what wagate does not keep (our own
/// messages echoed from the phone, protocol messages without content, votes that do
/// not open).
async fn incoming(
    client: &Client,
    credentials: &StoredCredentials,
    me: &Me,
    inbound: &InboundMessage,
) -> Option<IncomingMessage> {
    let info = &inbound.info;
    let source = &info.source;
    if source.is_from_me {
        return None;
    }
    let sender = person(&source.sender, source.sender_alt.as_ref());
    let group = source.is_group || source.chat.is_group();
    let chat = if group { ChatId::from_stored(source.chat.to_non_ad().to_string()) } else { sender.clone() };
    let view = Viewpoint {
        me: me.clone(),
        chat_jid: if group { source.chat.to_non_ad() } else { source.sender.to_non_ad() },
        chat: chat.clone(),
        sender_jid: source.sender.to_non_ad(),
        sender: sender.clone(),
    };
    let (content, context) = match parse(&inbound.message, &view)? {
        Parsed::Message(content, context) => (content, context),
        Parsed::Vote(vote) => match votes::open(client, credentials, me, &vote, &view.chat_jid, &view.sender_jid).await
        {
            Ok(option_hashes) => (Content::PollVote { poll: vote.poll, option_hashes }, Context::default()),
            Err(reason) => {
                warn!(id = %info.id, %reason, "a poll vote was skipped");
                return None;
            }
        },
    };
    let at = from_millis(info.timestamp.timestamp_millis()).unwrap_or_else(OffsetDateTime::now_utc);
    Some(IncomingMessage {
        wa_id: WaMessageId::from_stored(info.id.to_string()),
        chat,
        sender,
        push_name: Some(info.push_name.clone()).filter(|n| !n.is_empty()),
        at,
        content,
        context,
    })
}

/// A person's chat address, by phone number when WhatsApp told us it.
fn person(jid: &Jid, alt: Option<&Jid>) -> ChatId {
    let by_phone = match alt {
        Some(alt) if jid.is_lid() && alt.is_pn() => alt,
        _ => jid,
    };
    ChatId::from_stored(by_phone.to_non_ad().to_string())
}

fn receipt_kind(kind: &ReceiptType) -> Option<ReceiptKind> {
    match kind {
        // `inactive`: delivered to a phone whose app is in the background.
        ReceiptType::Delivered | ReceiptType::Inactive => Some(ReceiptKind::Delivered),
        ReceiptType::Read => Some(ReceiptKind::Read),
        ReceiptType::Played => Some(ReceiptKind::Played),
        _ => None,
    }
}

fn from_millis(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()
}

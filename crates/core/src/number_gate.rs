//! The number check before a send. With a session's `check_numbers` on, a message to a
//! phone number goes out only if WhatsApp says the number has an account; otherwise it
//! fails with the code `not_on_whatsapp` without being sent. Answers are kept per session: a yes
//! for a week, a no for a day (people join WhatsApp), so only a first send asks.

use time::{Duration, OffsetDateTime};
use tracing::{debug, warn};
use wagate_engine::EngineError;
use wagate_store::{AttemptResult, MessageRecord, NumberCheckRecord, Store};
use wagate_types::{ChatKind, FailureCode};

use crate::sessions::Runtime;

/// How long a yes is trusted.
const YES_FOR: Duration = Duration::days(7);
/// How long a no is trusted.
const NO_FOR: Duration = Duration::days(1);

/// `None` when the message may go; else how its attempt ends now.
pub(crate) async fn check(rt: &Runtime, store: &Store, message: &MessageRecord) -> Option<AttemptResult> {
    if !rt.settings().check_numbers || message.chat.kind() != ChatKind::User {
        return None;
    }
    // Changes to earlier messages go where those went.
    if matches!(message.kind.as_str(), "reaction" | "edit" | "revoke") {
        return None;
    }
    let phone = message.chat.phone()?;
    let now = OffsetDateTime::now_utc();
    let known = match store.number_check(rt.id, &phone).await {
        Ok(known) => known,
        Err(e) => {
            warn!(error = %e, "could not read the number check");
            None
        }
    };
    let fresh = known.filter(|k| now - k.checked_at < if k.on_whatsapp { YES_FOR } else { NO_FOR });
    let answer = match fresh {
        Some(answer) => answer,
        None => match rt.handle.check_numbers(std::slice::from_ref(&phone)).await {
            Ok(answers) => {
                let found = answers.into_iter().find(|a| a.phone == phone);
                let answer = NumberCheckRecord {
                    on_whatsapp: found.as_ref().is_some_and(|a| a.on_whatsapp),
                    jid: found.and_then(|a| a.chat),
                    checked_at: now,
                };
                if let Err(e) = store.record_number_check(rt.id, &phone, &answer).await {
                    warn!(error = %e, "could not keep the number check");
                }
                debug!(on_whatsapp = answer.on_whatsapp, "number checked");
                answer
            }
            Err(EngineError::NotConnected) => return Some(AttemptResult::NotAttempted),
            // Asking failed: send without the check rather than hold the message back.
            Err(e) => {
                warn!(error = %e, "could not check the number; sending anyway");
                return None;
            }
        },
    };
    (!answer.on_whatsapp).then(|| AttemptResult::Failed {
        at: now,
        error: format!("{phone} has no WhatsApp account"),
        code: FailureCode::NotOnWhatsapp,
    })
}

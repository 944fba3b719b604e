//! What a whatsapp-rust error means for wagate's caller. WhatsApp's own refusals (an
//! IQ `<error code=… text=…>` anywhere in the error's chain) are the caller's problem
//! and keep WhatsApp's code; a lost connection or an unanswered request is a passing
//! unavailability; only the rest is a failure of wagate's own.

use std::error::Error as StdError;

use wagate_engine::EngineError;
use whatsapp_rust::ErrorChainExt as _;

pub(crate) fn classify(error: &(dyn StdError + 'static)) -> EngineError {
    if let Some(refused) = error.server_rejection() {
        return EngineError::Refused { code: refused.code, text: refused.text.to_owned() };
    }
    if error.is_transport_unavailable() {
        return EngineError::NotConnected;
    }
    if error.is_timeout() {
        return EngineError::Unavailable("WhatsApp did not answer in time; try again".into());
    }
    EngineError::Failed(chain(error))
}

/// The error and its causes, as one line.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let next_text = next.to_string();
        // thiserror's `#[error("{0}")]` repeats the cause in the outer message.
        if !text.ends_with(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        cause = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use whatsapp_rust::IqError;

    use super::*;

    #[test]
    fn a_server_error_is_whatsapps_refusal_with_its_code() {
        let error = IqError::ServerError { code: 400, text: "bad-request".into(), error_type: None, backoff: None };
        match classify(&error) {
            EngineError::Refused { code, text } => assert_eq!((code, text.as_str()), (400, "bad-request")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_refusal_inside_another_error_is_still_a_refusal() {
        let inner = IqError::ServerError { code: 404, text: "item-not-found".into(), error_type: None, backoff: None };
        let error = whatsapp_rust::pair_code::PairError::RequestFailed(inner);
        assert!(matches!(classify(&error), EngineError::Refused { code: 404, .. }));
    }

    #[test]
    fn no_connection_and_no_answer_are_not_failures_of_wagate() {
        assert!(matches!(classify(&IqError::NotConnected), EngineError::NotConnected));
        assert!(matches!(classify(&IqError::Timeout), EngineError::Unavailable(_)));
        assert!(matches!(classify(&IqError::InternalChannelClosed), EngineError::NotConnected));
    }

    #[test]
    fn anything_else_is_a_failure_with_its_causes() {
        let error = IqError::DuplicateRequestId("7".into());
        match classify(&error) {
            EngineError::Failed(text) => assert!(text.contains("already in flight"), "{text}"),
            other => panic!("{other:?}"),
        }
    }
}

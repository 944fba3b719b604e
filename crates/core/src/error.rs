use wagate_types::MessageStatus;

/// What a service call can end in, in terms the API maps to HTTP once.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    /// The request clashes with what exists (a name taken, a status that forbids it).
    #[error("{0}")]
    Conflict(String),
    /// A message is not in a status that allows the operation.
    #[error("the message is {0}")]
    WrongStatus(MessageStatus),
    /// The operation is for messages wagate sends, and this one was received.
    #[error("the message was received, not sent: only outbound messages can be cancelled or resent")]
    Inbound,
    /// An `Idempotency-Key` came back with a different request.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    /// A field of the request names something that does not fit (an unknown message
    /// to quote, a file that cannot be fetched…). Nothing was stored.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// A file is larger than wagate takes.
    #[error("the file is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The message cannot be edited or revoked: received, not sent yet, or revoked.
    #[error("{0}")]
    NotEditable(String),
    /// WhatsApp refused what the session asked (not a group admin, no such group…);
    /// `code` is WhatsApp's own.
    #[error("WhatsApp refused it ({code}): {message}")]
    Refused { code: u16, message: String },
    /// The operation needs something the session does not have right now.
    #[error("{0}")]
    Unavailable(String),
    /// The database cannot store or read what the operation needs right now (a full
    /// disk, a database that refuses writes or does not answer). Nothing was changed;
    /// the same request succeeds once the fault is gone.
    #[error("{}", .0.describe())]
    Storage(wagate_store::StorageFault),
    /// The server is shutting down.
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl Error {
    /// An unexpected failure, unless a storage fault lies behind it.
    pub fn internal(e: anyhow::Error) -> Self {
        match wagate_store::fault_in(e.as_ref()) {
            Some(fault) => {
                tracing::warn!(error = format!("{e:#}"), "storage fault");
                Self::Storage(fault)
            }
            None => Self::Internal(e),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_owned(), message: message.into() }
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

impl From<wagate_store::StoreError> for Error {
    fn from(e: wagate_store::StoreError) -> Self {
        match e {
            wagate_store::StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            other => match other.fault() {
                Some(fault) => {
                    tracing::warn!(error = %other, "storage fault");
                    Self::Storage(fault)
                }
                None => Self::Internal(anyhow::Error::new(other)),
            },
        }
    }
}

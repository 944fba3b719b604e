//! Every error leaves wagate as RFC 9457 problem details, built here and only here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use wagate_core::Error as CoreError;

/// An RFC 9457 problem document (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:wagate:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// A stable machine-readable code, e.g. `invalid_field`.
    pub code: String,
    /// Field-level problems of a request body or query.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An error an API handler returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), errors: Vec::new(), retry_after: None }
    }

    /// 422 for one field of the request.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", format!("{field}: {message}"));
        e.errors.push(FieldError { field: field.to_owned(), message });
        e
    }

    /// 422 for several fields of the request at once.
    pub fn invalid_fields(errors: Vec<FieldError>) -> Self {
        let detail = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        let mut e = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", detail);
        e.errors = errors;
        e
    }

    /// The same error with its field names put under `parent` (`text` → `message.text`).
    pub fn within(mut self, parent: &str) -> Self {
        if self.errors.is_empty() {
            return self;
        }
        for error in &mut self.errors {
            error.field = format!("{parent}.{}", error.field);
        }
        self.detail = self.errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
        self
    }

    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_request", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 507 for a full disk, 503 for a database that refuses writes or does not answer;
    /// either way nothing changed and the same request works once the fault is gone.
    pub fn storage(fault: wagate_core::StorageFault) -> Self {
        use wagate_core::StorageFault;
        let status = match fault {
            StorageFault::Full => StatusCode::INSUFFICIENT_STORAGE,
            StorageFault::ReadOnly | StorageFault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut e =
            Self::new(status, fault.code(), format!("{}; nothing was changed, try again later", fault.describe()));
        e.retry_after = Some(30);
        e
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::NotFound(what) => Self::not_found(format!("{what} not found")),
            CoreError::Conflict(why) => Self::new(StatusCode::CONFLICT, "conflict", why),
            CoreError::WrongStatus(status) => {
                Self::new(StatusCode::CONFLICT, "wrong_status", format!("not possible while the message is {status}"))
            }
            CoreError::Inbound => Self::new(
                StatusCode::CONFLICT,
                "inbound_message",
                "the message was received, not sent: only outbound messages can be cancelled or resent",
            ),
            CoreError::IdempotencyKeyReused => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used with a different request body",
            ),
            CoreError::Invalid { field, message } => Self::invalid_field(&field, message),
            CoreError::TooLarge { limit } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "media_too_large",
                format!("the file is larger than the limit of {limit} bytes"),
            ),
            CoreError::NotEditable(why) => Self::new(StatusCode::CONFLICT, "not_editable", why),
            CoreError::Unavailable(why) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", why),
            CoreError::Refused { code, message } => {
                let status = match code {
                    401 | 403 => StatusCode::FORBIDDEN,
                    404 => StatusCode::NOT_FOUND,
                    409 => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                Self::new(status, "whatsapp_refused", format!("WhatsApp refused it ({code}): {message}"))
            }
            CoreError::Storage(fault) => Self::storage(fault),
            CoreError::ShuttingDown => {
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "shutting_down",
                    "the server is shutting down; try again",
                );
                e.retry_after = Some(5);
                e
            }
            CoreError::Internal(e) => {
                // The client learns that something broke, the log learns what.
                tracing::error!(error = format!("{e:#}"), "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; it has been logged",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("urn:wagate:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
            errors: self.errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

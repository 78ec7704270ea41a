//! The API's error type and its JSON form.
//!
//! Handlers and middleware return [`ApiError`]; its response carries the status and the error in
//! the response extensions, with no body yet. The error-rendering middleware (which knows the
//! request id) turns it into the JSON document clients see:
//! `{code, message, details?, requestId, timestamp, retryable}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A machine-readable error code; each maps to one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The request is malformed or names an unknown value (400).
    InvalidRequest,
    /// No such route (404).
    NotFound,
    /// The route exists but not for this method (405).
    MethodNotAllowed,
    /// `If-None-Match` matched on a method that cannot answer 304 (412).
    PreconditionFailed,
    /// The request body is over the limit (413).
    PayloadTooLarge,
    /// The request body is not JSON (415).
    UnsupportedMediaType,
    /// The client sent too many requests (429).
    RateLimitExceeded,
    /// Something failed inside the server; no details are given (500).
    InternalError,
    /// The server is not ready (recipe data not loaded yet) or is shutting down (503).
    Unavailable,
    /// The request did not complete within the request timeout (504).
    Timeout,
}

impl ErrorCode {
    /// The HTTP status of this code.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// Whether the same request may succeed if sent again later.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::RateLimitExceeded
                | ErrorCode::Unavailable
                | ErrorCode::Timeout
                | ErrorCode::InternalError
        )
    }

    /// The code for a bare error status produced below the handlers (by axum's method router or
    /// a tower-http layer) that carries no [`ApiError`].
    pub fn for_status(status: StatusCode) -> ErrorCode {
        match status {
            StatusCode::NOT_FOUND => ErrorCode::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
            StatusCode::PRECONDITION_FAILED => ErrorCode::PreconditionFailed,
            StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimitExceeded,
            StatusCode::SERVICE_UNAVAILABLE => ErrorCode::Unavailable,
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => ErrorCode::Timeout,
            s if s.is_client_error() => ErrorCode::InvalidRequest,
            _ => ErrorCode::InternalError,
        }
    }
}

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiError {
    /// What kind of error.
    pub code: ErrorCode,
    /// A sentence for people: what was wrong and what is expected.
    pub message: String,
    /// Structured details (e.g. `{"parameter": "gpu"}`), when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<serde_json::Value>>,
    /// Extra response headers (e.g. `Retry-After`, `Allow`).
    #[serde(skip)]
    pub headers: Vec<(&'static str, HeaderValue)>,
}

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            details: None,
            headers: Vec::new(),
        }
    }

    /// Adds structured details.
    pub fn with_details(mut self, details: serde_json::Value) -> ApiError {
        self.details = Some(Box::new(details));
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: HeaderValue) -> ApiError {
        self.headers.push((name, value));
        self
    }

    /// The fixed answer for anything that went wrong inside: no internals leak to clients.
    pub fn internal() -> ApiError {
        ApiError::new(
            ErrorCode::InternalError,
            "the server failed to handle the request; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.code.status().into_response();
        for (name, value) in &self.headers {
            response.headers_mut().insert(*name, value.clone());
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// The most characters of a client's input that an error message repeats.
const EXCERPT_LEN: usize = 64;

/// `text` cut to its first 64 characters, with `…` when longer: messages stay readable and
/// their size does not grow with the input.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_LEN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The JSON document of an error, as sent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDocument<'a> {
    /// See [`ApiError::code`].
    pub code: ErrorCode,
    /// See [`ApiError::message`].
    pub message: &'a str,
    /// See [`ApiError::details`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<&'a serde_json::Value>,
    /// The request id (as in the `X-Request-Id` response header).
    pub request_id: &'a str,
    /// When the error was answered (RFC 3339, UTC).
    pub timestamp: String,
    /// Whether the same request may succeed later.
    pub retryable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_back_from_its_status() {
        for code in [
            ErrorCode::NotFound,
            ErrorCode::MethodNotAllowed,
            ErrorCode::PreconditionFailed,
            ErrorCode::PayloadTooLarge,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::RateLimitExceeded,
            ErrorCode::InternalError,
            ErrorCode::Unavailable,
            ErrorCode::Timeout,
            ErrorCode::InvalidRequest,
        ] {
            assert_eq!(ErrorCode::for_status(code.status()), code, "{code:?}");
        }
    }

    #[test]
    fn codes_serialize_in_screaming_snake_case() {
        let json = serde_json::to_string(&ErrorCode::RateLimitExceeded).unwrap();
        assert_eq!(json, "\"RATE_LIMIT_EXCEEDED\"");
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A configuration value cannot work.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The metrics cannot be set up.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
    /// The recipe data cannot be loaded.
    #[error("cannot load recipe data: {0}")]
    Recipes(#[from] eidos_recipes::LoadError),
    /// The recipe loader itself failed.
    #[error("recipe loader failed: {0}")]
    Loader(String),
}

//! Request ids: a valid incoming `X-Request-Id` is kept, anything else is replaced by a fresh
//! UUID (tower-http's `SetRequestId` does the generating and `PropagateRequestId` the echoing);
//! every log line of the request carries the id through a tracing span.

use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::RequestId;
use tracing::Instrument;

/// The request id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id accepted from a client.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether a client-supplied request id is kept: 1 to 128 characters of letters, digits and
/// `-_.:+=/`, so it is safe in logs and headers.
pub fn is_valid_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+=/".contains(b))
}

/// Removes an invalid (or repeated) `X-Request-Id` so that a fresh one is generated.
pub async fn drop_invalid(mut request: Request, next: Next) -> Response {
    let headers = request.headers_mut();
    let mut values = headers.get_all(&X_REQUEST_ID).iter();
    let keep = match (values.next(), values.next()) {
        (Some(value), None) => is_valid_request_id(value.as_bytes()),
        (None, _) => true,
        (Some(_), Some(_)) => false,
    };
    if !keep {
        headers.remove(&X_REQUEST_ID);
    }
    next.run(request).await
}

/// The request id of a request, once `SetRequestId` has run.
pub fn request_id_of(request: &Request) -> String {
    request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Runs the rest of the stack inside a span that carries the request id, so every log line
/// written while handling the request names it.
pub async fn span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!("request", request_id = %request_id_of(&request));
    next.run(request).instrument(span).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_ids() {
        for id in [
            "abc",
            "3f2c1a9e-1b2c-4d5e-8f90-0123456789ab",
            "job-42.step:1",
            "a/b+c=",
        ] {
            assert!(is_valid_request_id(id.as_bytes()), "{id}");
        }
    }

    #[test]
    fn rejects_ids_unsafe_for_logs() {
        let long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        for id in [
            "",
            "with space",
            "new\nline",
            "quote\"",
            "ünïcode",
            long.as_str(),
        ] {
            assert!(!is_valid_request_id(id.as_bytes()), "{id:?}");
        }
    }
}

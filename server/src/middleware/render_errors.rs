//! Turns every error response into the API's JSON error document, whether it came from a
//! handler ([`ApiError`]) or from a layer below (axum's 405, tower-http's 413 and timeout).

use super::request_id::request_id_of;
use crate::error::{ApiError, ErrorCode, ErrorDocument};

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::time::SystemTime;

/// Renders error responses as JSON with the request id and a timestamp.
pub async fn render(request: Request, next: Next) -> Response {
    let request_id = request_id_of(&request);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_owned());
    let mut response = next.run(request).await;
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let error = response
        .extensions_mut()
        .remove::<ApiError>()
        .unwrap_or_else(|| from_bare_status(status, &method, &path, route.as_deref()));
    let document = ErrorDocument {
        code: error.code,
        message: &error.message,
        details: error.details.as_deref(),
        request_id: &request_id,
        timestamp: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        retryable: error.code.retryable(),
    };
    let body = match serde_json::to_vec(&document) {
        Ok(body) => body,
        // Serializing strings and a JSON value cannot fail; keep a valid answer regardless.
        Err(_) => br#"{"code":"INTERNAL_ERROR","message":"error","requestId":"","timestamp":"","retryable":true}"#.to_vec(),
    };
    let headers = response.headers_mut();
    headers.remove(CONTENT_LENGTH);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    *response.body_mut() = Body::from(body);
    response
}

/// The error for a status produced without an [`ApiError`]. `route` is the route template the
/// request matched, if any.
fn from_bare_status(
    status: StatusCode,
    method: &Method,
    path: &str,
    route: Option<&str>,
) -> ApiError {
    let code = ErrorCode::for_status(status);
    let message = match code {
        ErrorCode::NotFound => format!("no route for {path}; GET / lists the routes"),
        // axum writes the `Allow` header outside this layer (route layers wrap each method's
        // handler, not the method router), so the methods come from the route table, which a
        // test keeps equal to the header for every route.
        ErrorCode::MethodNotAllowed => match route.and_then(crate::routes::allowed_methods) {
            Some(allowed) => format!(
                "method {method} is not allowed on {path}; allowed: {}",
                allowed.join(", ")
            ),
            None => format!(
                "method {method} is not allowed on {path}; the Allow header lists the methods"
            ),
        },
        ErrorCode::PayloadTooLarge => {
            "the request body is larger than the server's body limit".to_owned()
        }
        ErrorCode::Timeout => {
            "the request did not complete within the server's request timeout".to_owned()
        }
        ErrorCode::InternalError => return ApiError::internal(),
        _ => status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_owned(),
    };
    ApiError::new(code, message)
}

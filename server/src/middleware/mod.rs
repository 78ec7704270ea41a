//! The middleware stack, outermost first:
//! metrics → request id → error rendering → panic recovery → rate limiting → request logging →
//! timeout → body limit → handler.
//!
//! Error rendering is not a policy of its own: it turns whatever error the layers below produce
//! into the JSON document, and sits right inside the request-id layer because the document names
//! the request id. The rate limiter's header half sits outside panic recovery (see
//! [`rate_limit`]).

pub mod logging;
pub mod metrics;
pub mod panic;
pub mod rate_limit;
pub mod render_errors;
pub mod request_id;

use crate::config::ServerConfig;
use crate::state::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use rate_limit::RateLimiter;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

/// Wraps every route of `router` (fallback included) in the middleware stack.
pub fn apply(
    router: Router,
    state: &AppState,
    config: &ServerConfig,
    limiter: Option<RateLimiter>,
) -> Router {
    let metrics = state.metrics().clone();
    let stack = ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            metrics::record,
        ))
        .layer(axum::middleware::from_fn(request_id::drop_invalid))
        .layer(SetRequestIdLayer::new(
            request_id::X_REQUEST_ID.clone(),
            MakeRequestUuid,
        ))
        .layer(PropagateRequestIdLayer::new(
            request_id::X_REQUEST_ID.clone(),
        ))
        .layer(axum::middleware::from_fn(request_id::span))
        .layer(axum::middleware::from_fn(render_errors::render))
        .layer(axum::middleware::from_fn(rate_limit::publish_headers))
        .layer(CatchPanicLayer::custom(panic::PanicResponder::new(metrics)))
        .layer(axum::middleware::from_fn_with_state(
            limiter,
            rate_limit::enforce,
        ))
        .layer(logging::layer())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            config.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(DefaultBodyLimit::max(config.body_limit));
    router.layer(stack)
}

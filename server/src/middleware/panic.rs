//! Panic recovery: tower-http's `CatchPanic` turns a panicking handler into a 500 with the
//! API's error document (no panic message leaks to the client), logs the panic and counts it.
//! The connection and the process keep serving.

use crate::error::ApiError;
use crate::metrics::Metrics;
use axum::response::{IntoResponse, Response};
use std::any::Any;
use tower_http::catch_panic::ResponseForPanic;

/// Answers a caught panic.
#[derive(Debug, Clone)]
pub struct PanicResponder {
    metrics: Metrics,
}

impl PanicResponder {
    /// A responder counting into `metrics`.
    pub fn new(metrics: Metrics) -> PanicResponder {
        PanicResponder { metrics }
    }
}

impl ResponseForPanic for PanicResponder {
    type ResponseBody = axum::body::Body;

    fn response_for_panic(&mut self, panic: Box<dyn Any + Send + 'static>) -> Response {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        self.metrics.panic_recoveries.inc();
        tracing::error!(panic = message, "handler panicked; answered 500");
        ApiError::internal().into_response()
    }
}

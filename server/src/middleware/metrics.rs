//! Outermost layer: counts every request by method, route template and status, times it, and
//! tracks how many are in flight.

use crate::metrics::{method_label, Metrics, UNMATCHED_PATH};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::IntGauge;
use std::time::Instant;

/// Records the request in the metrics.
pub async fn record(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    // The route template, never the raw path: label cardinality stays bounded.
    let path = request.extensions().get::<MatchedPath>().cloned();
    let path = path.as_ref().map_or(UNMATCHED_PATH, MatchedPath::as_str);
    let _in_flight = InFlight::enter(&metrics.in_flight);
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .request_duration
        .with_label_values(&[method, path])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests_total
        .with_label_values(&[method, path, response.status().as_str()])
        .inc();
    response
}

/// Holds one unit of the in-flight gauge; released on drop, also when the client goes away and
/// the request future is dropped.
struct InFlight<'a>(&'a IntGauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a IntGauge) -> InFlight<'a> {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

//! Prometheus metrics of the server, in a registry of its own (so several servers in one process,
//! as in tests, do not share counters).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The server's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `eidos_http_requests_total{method,path,status}`.
    pub requests_total: IntCounterVec,
    /// `eidos_http_request_duration_seconds{method,path}`.
    pub request_duration: HistogramVec,
    /// `eidos_http_requests_in_flight`.
    pub in_flight: IntGauge,
    /// `eidos_rate_limit_rejects_total`.
    pub rate_limit_rejects: IntCounter,
    /// `eidos_panic_recoveries_total`.
    pub panic_recoveries: IntCounter,
}

/// Metrics that cannot be registered (a programming error: duplicate or malformed names).
#[derive(Debug, thiserror::Error)]
#[error("cannot register metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// Latency buckets in seconds: the API answers in well under a millisecond, so the buckets start
/// low; the top ones catch timeouts.
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl Metrics {
    /// Creates and registers the metrics, plus the standard `process_*` metrics.
    pub fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        let requests_total = IntCounterVec::new(
            Opts::new(
                "eidos_http_requests_total",
                "HTTP requests answered, by method, route template and status.",
            ),
            &["method", "path", "status"],
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "eidos_http_request_duration_seconds",
                "Time from receiving a request head to producing its response head.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            &["method", "path"],
        )?;
        let in_flight = IntGauge::new(
            "eidos_http_requests_in_flight",
            "HTTP requests being handled now.",
        )?;
        let rate_limit_rejects = IntCounter::new(
            "eidos_rate_limit_rejects_total",
            "Requests refused with 429 by the per-client rate limit.",
        )?;
        let panic_recoveries = IntCounter::new(
            "eidos_panic_recoveries_total",
            "Handler panics caught and answered with 500.",
        )?;
        registry.register(Box::new(requests_total.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(rate_limit_rejects.clone()))?;
        registry.register(Box::new(panic_recoveries.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Metrics {
            registry,
            requests_total,
            request_duration,
            in_flight,
            rate_limit_rejects,
            panic_recoveries,
        })
    }

    /// The metrics in the Prometheus text exposition format.
    pub fn render(&self) -> Result<String, MetricsError> {
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        // The text encoder writes only UTF-8.
        Ok(String::from_utf8_lossy(&buffer).into_owned())
    }
}

/// The `method` label: the standard methods by name, anything else as `OTHER`, so that clients
/// cannot grow the label set.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// The `path` label of a request no route matched.
pub const UNMATCHED_PATH: &str = "unmatched";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_all_metric_families() {
        let metrics = Metrics::new().unwrap();
        metrics
            .requests_total
            .with_label_values(&["GET", "/health", "200"])
            .inc();
        metrics
            .request_duration
            .with_label_values(&["GET", "/health"])
            .observe(0.001);
        let text = metrics.render().unwrap();
        for name in [
            "eidos_http_requests_total{method=\"GET\",path=\"/health\",status=\"200\"} 1",
            "eidos_http_request_duration_seconds_bucket",
            "eidos_http_requests_in_flight 0",
            "eidos_rate_limit_rejects_total 0",
            "eidos_panic_recoveries_total 0",
            "process_resident_memory_bytes",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }

    #[test]
    fn unknown_methods_share_one_label() {
        let method = axum::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&method), "OTHER");
    }
}

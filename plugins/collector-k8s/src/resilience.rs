//! Retries with backoff and a circuit breaker, as a tower layer in kube's client stack.
//!
//! It sits at the HTTP level (outermost in the stack) rather than around each API call because
//! only there is the `Retry-After` header of a `429` visible: kube turns error responses into a
//! `Status` without headers. Every request the client makes goes through it, so every call is
//! covered without repeating the logic.
//!
//! - A transient failure (connection error, timeout, `429`, `500`, `502`, `503`, `504`) is retried
//!   at most [`Backoff::max_retries`] times, after `base · 2^n` plus a random `0..=jitter` (n = 0
//!   for the first retry), or after the `Retry-After` seconds the server asked for.
//! - Every failed attempt counts towards the [`Breaker`]; a success resets it. Once
//!   [`Breaker::threshold`] attempts in a row have failed, the breaker opens: the request fails with
//!   [`BreakerOpen`] and no later request leaves the process during this run.

use http::{HeaderMap, Request, Response, StatusCode};
use kube::client::Body;
use rand::Rng;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceExt};

/// How long to wait before each retry, and how many retries to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first retry (doubled for each later one).
    pub base: Duration,
    /// The most random delay added to each wait.
    pub jitter: Duration,
    /// The most retries of one request.
    pub max_retries: u32,
}

impl Default for Backoff {
    /// 100 ms · 2^n + 0–100 ms, at most 3 retries.
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            jitter: Duration::from_millis(100),
            max_retries: 3,
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (0 for the first), jitter included.
    pub fn delay(&self, retry: u32) -> Duration {
        let exponential = self.base.saturating_mul(2u32.saturating_pow(retry));
        let jitter_ms = u64::try_from(self.jitter.as_millis()).unwrap_or(u64::MAX);
        let jitter = Duration::from_millis(rand::rng().random_range(0..=jitter_ms));
        exponential.saturating_add(jitter)
    }
}

/// Counts consecutive failed requests and opens after [`Breaker::threshold`] of them.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    consecutive: AtomicU32,
    last_failure: Mutex<String>,
}

impl Breaker {
    /// A closed breaker that opens after `threshold` consecutive failures.
    pub fn new(threshold: u32) -> Self {
        Breaker {
            threshold: threshold.max(1),
            consecutive: AtomicU32::new(0),
            last_failure: Mutex::new(String::new()),
        }
    }

    /// How many consecutive failures open it.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// The error to fail with while the breaker is open.
    pub fn open_error(&self) -> Option<BreakerOpen> {
        let failures = self.consecutive.load(Ordering::SeqCst);
        (failures >= self.threshold).then(|| BreakerOpen {
            failures,
            last: self
                .last_failure
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default(),
        })
    }

    fn record_success(&self) {
        if self.consecutive.load(Ordering::SeqCst) < self.threshold {
            self.consecutive.store(0, Ordering::SeqCst);
        }
    }

    fn record_failure(&self, what: String) {
        if let Ok(mut last) = self.last_failure.lock() {
            *last = what;
        }
        self.consecutive.fetch_add(1, Ordering::SeqCst);
    }
}

/// The circuit breaker is open: too many requests in a row failed, and no more are made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "circuit breaker open after {failures} consecutive failed requests to the Kubernetes API \
     server (last: {last}); no further requests are made in this run"
)]
pub struct BreakerOpen {
    /// How many consecutive requests had failed.
    pub failures: u32,
    /// The last failure, described.
    pub last: String,
}

/// The tower layer that adds [`Resilient`] to a client stack.
#[derive(Debug, Clone)]
pub struct ResilienceLayer {
    backoff: Backoff,
    breaker: Arc<Breaker>,
}

impl ResilienceLayer {
    /// Retries as `backoff` says, counting failures in `breaker`.
    pub fn new(backoff: Backoff, breaker: Arc<Breaker>) -> Self {
        ResilienceLayer { backoff, breaker }
    }
}

impl<S> Layer<S> for ResilienceLayer {
    type Service = Resilient<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Resilient {
            inner,
            backoff: self.backoff,
            breaker: Arc::clone(&self.breaker),
        }
    }
}

/// A service that retries transient failures of `inner` and trips a shared breaker.
#[derive(Debug, Clone)]
pub struct Resilient<S> {
    inner: S,
    backoff: Backoff,
    breaker: Arc<Breaker>,
}

impl<S, B> Service<Request<Body>> for Resilient<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness of the inner service is awaited per attempt, on a clone.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let inner = self.inner.clone();
        let backoff = self.backoff;
        let breaker = Arc::clone(&self.breaker);
        Box::pin(send_with_retries(inner, backoff, breaker, request))
    }
}

async fn send_with_retries<S, B>(
    mut inner: S,
    backoff: Backoff,
    breaker: Arc<Breaker>,
    request: Request<Body>,
) -> Result<Response<B>, BoxError>
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<BoxError>,
{
    let mut request = request;
    let mut retry = 0;
    loop {
        if let Some(open) = breaker.open_error() {
            return Err(open.into());
        }
        let spare = clone_request(&request);
        let target = format!("{} {}", request.method(), request.uri().path());
        let ready: Result<&mut S, BoxError> = inner.ready().await.map_err(Into::into);
        let outcome = match ready {
            Ok(service) => service.call(request).await.map_err(Into::into),
            Err(e) => Err(e),
        };
        let (failure, retry_after) = match &outcome {
            Ok(response) if is_transient(response.status()) => (
                format!("{target}: {}", response.status()),
                retry_after(response.headers()),
            ),
            Ok(_) => {
                breaker.record_success();
                return outcome;
            }
            Err(e) => (format!("{target}: {e}"), None),
        };
        tracing::debug!(%failure, retry, "transient failure from the Kubernetes API server");
        breaker.record_failure(failure);
        if let Some(open) = breaker.open_error() {
            return Err(open.into());
        }
        let Some(next) = spare else {
            return outcome;
        };
        if retry >= backoff.max_retries {
            return outcome;
        }
        tokio::time::sleep(retry_after.unwrap_or_else(|| backoff.delay(retry))).await;
        retry += 1;
        request = next;
    }
}

/// Whether an HTTP status is worth retrying.
pub fn is_transient(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` in delay-seconds form. (The HTTP-date form is not used by the API server; it
/// falls back to the backoff.)
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// A copy of `request` for a retry, or `None` when its body cannot be replayed.
fn clone_request(request: &Request<Body>) -> Option<Request<Body>> {
    let body = request.body().try_clone()?;
    let mut copy = Request::new(body);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn delays_double_from_100ms_with_at_most_100ms_of_jitter() {
        let backoff = Backoff::default();
        for retry in 0..3 {
            let floor = Duration::from_millis(100 * 2u64.pow(retry));
            for _ in 0..200 {
                let d = backoff.delay(retry);
                assert!(
                    d >= floor && d <= floor + Duration::from_millis(100),
                    "{d:?}"
                );
            }
        }
        // The jitter is random, not a constant.
        let samples: std::collections::BTreeSet<_> = (0..50).map(|_| backoff.delay(0)).collect();
        assert!(samples.len() > 5, "{samples:?}");
    }

    #[test]
    fn retry_after_reads_delay_seconds_and_ignores_anything_else() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            http::header::RETRY_AFTER,
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers), None);
    }

    fn status_service(
        statuses: Vec<u16>,
        calls: Arc<AtomicUsize>,
    ) -> impl Service<
        Request<Body>,
        Response = Response<()>,
        Error = BoxError,
        Future = impl Future<Output = Result<Response<()>, BoxError>> + Send,
    > + Clone
           + Send
           + 'static {
        let statuses = Arc::new(statuses);
        tower::service_fn(move |_req: Request<Body>| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let code = statuses.get(n).copied().unwrap_or(200);
            async move {
                let mut r = Response::new(());
                *r.status_mut() = StatusCode::from_u16(code)?;
                Ok::<_, BoxError>(r)
            }
        })
    }

    /// A service answering `statuses` in turn (then 200), with `Retry-After: 1` on each 429, that
    /// records when each attempt arrived on tokio's clock.
    fn timed_service(
        statuses: Vec<u16>,
        arrivals: Arc<Mutex<Vec<tokio::time::Instant>>>,
    ) -> impl Service<
        Request<Body>,
        Response = Response<()>,
        Error = BoxError,
        Future = impl Future<Output = Result<Response<()>, BoxError>> + Send,
    > + Clone
           + Send
           + 'static {
        let statuses = Arc::new(statuses);
        tower::service_fn(move |_req: Request<Body>| {
            let n = {
                let mut arrivals = arrivals.lock().unwrap();
                arrivals.push(tokio::time::Instant::now());
                arrivals.len() - 1
            };
            let code = statuses.get(n).copied().unwrap_or(200);
            async move {
                let mut r = Response::new(());
                *r.status_mut() = StatusCode::from_u16(code)?;
                if code == 429 {
                    r.headers_mut()
                        .insert(http::header::RETRY_AFTER, "1".parse()?);
                }
                Ok::<_, BoxError>(r)
            }
        })
    }

    /// The gaps between consecutive attempts.
    fn gaps(arrivals: &Mutex<Vec<tokio::time::Instant>>) -> Vec<Duration> {
        let arrivals = arrivals.lock().unwrap();
        arrivals.windows(2).map(|w| w[1] - w[0]).collect()
    }

    // On a paused clock tokio advances time exactly by each sleep, so these waits are what the
    // retry loop asked for, whatever the machine's load.
    #[tokio::test(start_paused = true)]
    async fn retries_wait_exactly_the_backoff_delays() {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let no_jitter = Backoff {
            jitter: Duration::ZERO,
            ..Backoff::default()
        };
        let mut svc = ResilienceLayer::new(no_jitter, Arc::new(Breaker::new(10)))
            .layer(timed_service(vec![503, 503, 503], Arc::clone(&arrivals)));
        assert_eq!(svc.call(get()).await.unwrap().status(), 200);
        assert_eq!(
            gaps(&arrivals),
            [100, 200, 400].map(Duration::from_millis),
            "100 ms, then doubled for each retry"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn jittered_waits_stay_within_their_bounds() {
        for _ in 0..20 {
            let arrivals = Arc::new(Mutex::new(Vec::new()));
            let mut svc = ResilienceLayer::new(Backoff::default(), Arc::new(Breaker::new(10)))
                .layer(timed_service(vec![503, 503], Arc::clone(&arrivals)));
            assert_eq!(svc.call(get()).await.unwrap().status(), 200);
            let gaps = gaps(&arrivals);
            assert_eq!(gaps.len(), 2);
            for (gap, floor) in gaps.iter().zip([100, 200]) {
                let floor = Duration::from_millis(floor);
                assert!(
                    *gap >= floor && *gap <= floor + Duration::from_millis(100),
                    "{gaps:?}"
                );
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_waits_its_retry_after_instead_of_the_backoff() {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let mut svc = ResilienceLayer::new(Backoff::default(), Arc::new(Breaker::new(10)))
            .layer(timed_service(vec![429], Arc::clone(&arrivals)));
        assert_eq!(svc.call(get()).await.unwrap().status(), 200);
        assert_eq!(gaps(&arrivals), [Duration::from_secs(1)]);
    }

    fn fast() -> Backoff {
        Backoff {
            base: Duration::from_millis(1),
            jitter: Duration::from_millis(1),
            max_retries: 3,
        }
    }

    fn get() -> Request<Body> {
        Request::get("/version")
            .body(Body::from(Vec::new()))
            .unwrap()
    }

    #[tokio::test]
    async fn a_500_then_success_is_retried_and_resets_the_breaker() {
        let calls = Arc::new(AtomicUsize::new(0));
        let breaker = Arc::new(Breaker::new(5));
        let mut svc = ResilienceLayer::new(fast(), Arc::clone(&breaker))
            .layer(status_service(vec![500, 502], Arc::clone(&calls)));
        let response = svc.call(get()).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(breaker.consecutive.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let calls = Arc::new(AtomicUsize::new(0));
        let breaker = Arc::new(Breaker::new(5));
        let mut svc = ResilienceLayer::new(fast(), Arc::clone(&breaker))
            .layer(status_service(vec![403, 404], Arc::clone(&calls)));
        assert_eq!(svc.call(get()).await.unwrap().status(), 403);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn gives_up_after_three_retries_with_the_last_response() {
        let calls = Arc::new(AtomicUsize::new(0));
        let breaker = Arc::new(Breaker::new(10));
        let mut svc = ResilienceLayer::new(fast(), Arc::clone(&breaker))
            .layer(status_service(vec![503; 10], Arc::clone(&calls)));
        assert_eq!(svc.call(get()).await.unwrap().status(), 503);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn the_breaker_opens_on_the_fifth_failure_and_stops_all_calls() {
        let calls = Arc::new(AtomicUsize::new(0));
        let breaker = Arc::new(Breaker::new(5));
        let mut svc = ResilienceLayer::new(fast(), Arc::clone(&breaker))
            .layer(status_service(vec![503; 100], Arc::clone(&calls)));
        // First call: 4 attempts, all failing, breaker still closed.
        assert_eq!(svc.call(get()).await.unwrap().status(), 503);
        // Second call: its first attempt is the fifth failure.
        let err = svc.call(get()).await.unwrap_err();
        let open = err.downcast_ref::<BreakerOpen>().expect("a BreakerOpen");
        assert_eq!(open.failures, 5);
        assert!(open.last.contains("503"), "{open}");
        assert_eq!(calls.load(Ordering::SeqCst), 5);
        // Later calls never reach the server.
        assert!(svc.call(get()).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 5);
    }
}

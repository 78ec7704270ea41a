//! Per-client rate limiting: a token bucket per peer IP address (governor's GCRA, which is
//! equivalent to a token bucket), refilled at `rate` tokens per second up to `burst`.
//!
//! Two layers work together so that *every* response carries the `X-RateLimit-*` headers, even a
//! 500 produced by the panic layer that sits between them:
//! - [`publish_headers`] (outside panic recovery) gives the request a slot and writes the
//!   headers from it onto whatever response comes back;
//! - [`enforce`] (inside panic recovery) takes a token, records the decision in the slot and
//!   answers 429 when the bucket is empty.
//!
//! Probes and metrics (routes whose [`RouteInfo::rate_limited`](crate::routes::RouteInfo) is
//! false) pass untouched: they take no token and carry no `X-RateLimit-*` headers, so a kubelet
//! or a Prometheus scrape from a busy client's address is never refused, and never costs that
//! client anything.

use crate::error::{ApiError, ErrorCode};
use crate::metrics::Metrics;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::Quota;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type KeyedLimiter = governor::RateLimiter<
    IpAddr,
    DefaultKeyedStateStore<IpAddr>,
    DefaultClock,
    StateInformationMiddleware,
>;

/// The per-client limiter, shared by all connections.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    inner: Arc<Limiter>,
}

#[derive(Debug)]
struct Limiter {
    buckets: KeyedLimiter,
    burst: u32,
    refill_interval: Duration,
    metrics: Metrics,
}

/// The outcome for one request, as the headers state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The bucket size.
    pub limit: u32,
    /// Tokens left after this request.
    pub remaining: u32,
    /// Whole seconds until the bucket is full again.
    pub reset_secs: u64,
    /// When refused: whole seconds until a token is available.
    pub retry_after_secs: Option<u64>,
}

/// Where [`enforce`] leaves its decision for [`publish_headers`].
#[derive(Debug, Clone, Default)]
struct DecisionSlot(Arc<Mutex<Option<Decision>>>);

impl RateLimiter {
    /// A limiter refilling `rate` tokens per second (> 0) into buckets of `burst` (>= 1).
    pub fn new(rate: f64, burst: u32, metrics: Metrics) -> Option<RateLimiter> {
        let burst_nz = NonZeroU32::new(burst)?;
        if !rate.is_finite() || rate <= 0.0 {
            return None;
        }
        let refill_interval = Duration::try_from_secs_f64(1.0 / rate).ok()?;
        let quota = Quota::with_period(refill_interval)?.allow_burst(burst_nz);
        let buckets =
            governor::RateLimiter::keyed(quota).with_middleware::<StateInformationMiddleware>();
        Some(RateLimiter {
            inner: Arc::new(Limiter {
                buckets,
                burst,
                refill_interval,
                metrics,
            }),
        })
    }

    /// Takes a token from `client`'s bucket.
    pub fn check(&self, client: IpAddr) -> Decision {
        let limiter = &self.inner;
        match limiter.buckets.check_key(&client) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let refill = limiter
                    .refill_interval
                    .mul_f64(f64::from(limiter.burst - remaining.min(limiter.burst)));
                Decision {
                    limit: limiter.burst,
                    remaining,
                    reset_secs: ceil_secs(refill),
                    retry_after_secs: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let full = wait
                    + limiter
                        .refill_interval
                        .mul_f64(f64::from(limiter.burst.saturating_sub(1)));
                Decision {
                    limit: limiter.burst,
                    remaining: 0,
                    reset_secs: ceil_secs(full),
                    retry_after_secs: Some(ceil_secs(wait).max(1)),
                }
            }
        }
    }

    /// Forgets clients whose buckets are full again, so memory stays bounded by recent clients.
    pub fn forget_idle_clients(&self) {
        self.inner.buckets.retain_recent();
        self.inner.buckets.shrink_to_fit();
    }

    /// How many clients are tracked.
    pub fn tracked_clients(&self) -> usize {
        self.inner.buckets.len()
    }
}

fn ceil_secs(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

/// The client key: the peer's IP address (not the port: one client opens many connections).
fn client_of(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// Outer half: writes `X-RateLimit-*` (and `Retry-After` on refusal) onto every response; writes
/// nothing when rate limiting is off (there is no limit to state).
pub async fn publish_headers(mut request: Request, next: Next) -> Response {
    let slot = DecisionSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    let decision = slot.0.lock().ok().and_then(|guard| *guard);
    if let Some(decision) = decision {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(decision.limit));
        headers.insert(
            "x-ratelimit-remaining",
            HeaderValue::from(decision.remaining),
        );
        headers.insert("x-ratelimit-reset", HeaderValue::from(decision.reset_secs));
        if let Some(retry_after) = decision.retry_after_secs {
            headers.insert("retry-after", HeaderValue::from(retry_after));
        }
    }
    response
}

/// Whether `request` goes to a route that counts against the rate limit (requests no route
/// matched do count).
fn counts(request: &Request) -> bool {
    request
        .extensions()
        .get::<MatchedPath>()
        .is_none_or(|path| crate::routes::is_rate_limited(path.as_str()))
}

/// Inner half: takes a token or answers 429; passes everything when rate limiting is off, and
/// probes and metrics always.
pub async fn enforce(
    State(limiter): State<Option<RateLimiter>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = limiter.filter(|_| counts(&request)) else {
        return next.run(request).await;
    };
    let client = client_of(&request);
    let decision = limiter.check(client);
    if let Some(slot) = request.extensions().get::<DecisionSlot>() {
        if let Ok(mut guard) = slot.0.lock() {
            *guard = Some(decision);
        }
    }
    match decision.retry_after_secs {
        None => next.run(request).await,
        Some(retry_after) => {
            limiter.inner.metrics.rate_limit_rejects.inc();
            tracing::info!(%client, retry_after, "rate limit exceeded");
            ApiError::new(
                ErrorCode::RateLimitExceeded,
                format!(
                    "too many requests from {client}: the limit is {} requests at once, refilled at {:.3} per second; retry after {retry_after} s",
                    limiter.inner.burst,
                    1.0 / limiter.inner.refill_interval.as_secs_f64(),
                ),
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: f64, burst: u32) -> RateLimiter {
        RateLimiter::new(rate, burst, Metrics::new().unwrap()).unwrap()
    }

    #[test]
    fn burst_then_refusal_with_retry_after() {
        let limiter = limiter(0.1, 3);
        let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let remaining: Vec<u32> = (0..3).map(|_| limiter.check(client).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limiter.check(client);
        assert_eq!(refused.remaining, 0);
        let retry = refused.retry_after_secs.expect("4th request refused");
        assert!((1..=10).contains(&retry), "retry after {retry}");
        assert!(refused.reset_secs >= retry);
    }

    #[test]
    fn clients_have_separate_buckets() {
        let limiter = limiter(0.1, 1);
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert!(limiter.check(a).retry_after_secs.is_none());
        assert!(limiter.check(a).retry_after_secs.is_some());
        assert!(limiter.check(b).retry_after_secs.is_none());
        assert_eq!(limiter.tracked_clients(), 2);
    }

    #[test]
    fn invalid_parameters_give_no_limiter() {
        let metrics = Metrics::new().unwrap();
        assert!(RateLimiter::new(0.0, 10, metrics.clone()).is_none());
        assert!(RateLimiter::new(10.0, 0, metrics.clone()).is_none());
        assert!(RateLimiter::new(f64::INFINITY, 10, metrics).is_none());
    }
}

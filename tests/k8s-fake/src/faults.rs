//! Fault injection and the request log of the fake server.

use k8s_openapi::api::core::v1::Pod;
use std::time::Instant;

/// A failure the fake server injects, consumed as requests arrive.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer the next `times` requests whose path starts with `path` with `status` and a
    /// `Status` body (`u32::MAX` times: always). `retry_after` adds a `Retry-After` header (seconds).
    Status {
        /// Path prefix the fault applies to (`/` for every request).
        path: String,
        /// The HTTP status to answer with.
        status: u16,
        /// How many requests it applies to.
        times: u32,
        /// `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// Answer the next `times` requests with this `method` whose path starts with `path` with
    /// `status` (e.g. `409` on the next `PUT` of a ConfigMap).
    Method {
        /// The HTTP method (`GET`, `POST`, `PUT` …).
        method: String,
        /// Path prefix the fault applies to.
        path: String,
        /// The HTTP status to answer with.
        status: u16,
        /// How many requests it applies to (`u32::MAX`: always).
        times: u32,
    },
    /// Answer the next `times` list requests (pods, ConfigMaps) that carry a continue token with `410 Gone`
    /// (reason `Expired`), as a real server does once the token's resourceVersion is compacted.
    /// `replace_pods` first swaps in a new pod set, as if pods had churned in the meantime.
    ExpireContinue {
        /// How many continue tokens to expire.
        times: u32,
        /// The pods the cluster holds from then on, if they change.
        replace_pods: Option<Vec<Pod>>,
    },
}

impl Fault {
    /// `status` on every request under `path`, forever.
    pub fn always(path: &str, status: u16) -> Self {
        Fault::Status {
            path: path.to_owned(),
            status,
            times: u32::MAX,
            retry_after: None,
        }
    }

    /// `status` on the next `times` requests under `path`.
    pub fn times(path: &str, status: u16, times: u32) -> Self {
        Fault::Status {
            path: path.to_owned(),
            status,
            times,
            retry_after: None,
        }
    }

    /// `status` on the next `times` `method` requests under `path`.
    pub fn on(method: &str, path: &str, status: u16, times: u32) -> Self {
        Fault::Method {
            method: method.to_owned(),
            path: path.to_owned(),
            status,
            times,
        }
    }

    /// `429 Too Many Requests` with `Retry-After: seconds` on the next request under `path`.
    pub fn throttle(path: &str, seconds: u64) -> Self {
        Fault::Status {
            path: path.to_owned(),
            status: 429,
            times: 1,
            retry_after: Some(seconds),
        }
    }
}

/// One request the fake server answered.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The status answered.
    pub status: u16,
    /// When the request arrived.
    pub at: Instant,
}

impl RequestRecord {
    /// The value of a query parameter (not percent-decoded; the tokens the fake issues need none).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.as_deref()?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then_some(v)
        })
    }
}

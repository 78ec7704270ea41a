//! The routes of the API.

pub mod cache;
pub mod etag;
pub mod meta;
pub mod recipe;
pub mod strict_json;
pub mod validate;

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use axum::http::Uri;
use axum::routing::{get, post};
use axum::Router;

/// A route and what it is for, as `GET /` lists them.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RouteInfo {
    /// The methods served.
    pub methods: &'static [&'static str],
    /// The path.
    pub path: &'static str,
    /// What it answers.
    pub description: &'static str,
    /// Whether requests to it count against the client's rate limit. Probes and metrics do not:
    /// a kubelet or Prometheus sharing an address with a busy client must never get 429.
    #[serde(skip)]
    pub rate_limited: bool,
}

/// Every route of the API.
pub const ROUTES: &[RouteInfo] = &[
    RouteInfo {
        methods: &["GET"],
        path: "/",
        description: "service name, version and routes",
        rate_limited: true,
    },
    RouteInfo {
        methods: &["GET", "POST"],
        path: "/v1/recipe",
        description:
            "the recipe for a query (GET parameters or POST body) or a snapshot (POST body)",
        rate_limited: true,
    },
    RouteInfo {
        methods: &["POST"],
        path: "/v1/validate",
        description: "the validation report of a snapshot (POST body) against its recipe",
        rate_limited: true,
    },
    RouteInfo {
        methods: &["GET"],
        path: "/health",
        description: "liveness: 200 while the process serves",
        rate_limited: false,
    },
    RouteInfo {
        methods: &["GET"],
        path: "/ready",
        description: "readiness: 200 once recipe data is loaded, 503 before and during shutdown",
        rate_limited: false,
    },
    RouteInfo {
        methods: &["GET"],
        path: "/metrics",
        description: "Prometheus metrics (text format)",
        rate_limited: false,
    },
    RouteInfo {
        methods: &["GET"],
        path: "/openapi.yaml",
        description: "the OpenAPI 3 document of this API",
        rate_limited: true,
    },
];

/// The route serving `path` (a route template, as axum's `MatchedPath` gives it).
pub fn route_info(path: &str) -> Option<&'static RouteInfo> {
    ROUTES.iter().find(|route| route.path == path)
}

/// Whether requests to `path` count against the client's rate limit (unknown paths do).
pub fn is_rate_limited(path: &str) -> bool {
    route_info(path).is_none_or(|route| route.rate_limited)
}

/// The methods `path` answers, as its `Allow` header lists them (`HEAD` wherever `GET`).
pub fn allowed_methods(path: &str) -> Option<Vec<&'static str>> {
    let route = route_info(path)?;
    let mut methods = Vec::with_capacity(route.methods.len() + 1);
    for &method in route.methods {
        methods.push(method);
        if method == "GET" {
            methods.push("HEAD");
        }
    }
    Some(methods)
}

/// The routes, without middleware.
pub fn router(state: AppState) -> Router {
    let router = Router::new()
        .route("/", get(meta::index))
        .route(
            "/v1/recipe",
            get(recipe::get_recipe).post(recipe::post_recipe),
        )
        .route("/v1/validate", post(validate::post_validate))
        .route("/health", get(meta::health))
        .route("/ready", get(meta::ready))
        .route("/metrics", get(meta::metrics))
        .route("/openapi.yaml", get(meta::openapi));
    // Only the crate's own tests can make a handler panic or stall: a shipped binary has no such
    // route (see the panic-containment test in lib.rs).
    #[cfg(test)]
    let router = router.route("/__test/panic", get(deliberate_panic)).route(
        "/__test/sleep",
        get(|| async {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            "slept"
        }),
    );
    router.fallback(not_found).with_state(state)
}

#[cfg(test)]
async fn deliberate_panic() -> &'static str {
    panic!("deliberate test panic with secret internals")
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no route for {}; GET / lists the routes", uri.path()),
    )
}

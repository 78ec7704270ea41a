//! The routes of the API.

pub mod cache;
pub mod etag;
pub mod meta;
pub mod recipe;
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
}

/// Every route of the API.
pub const ROUTES: &[RouteInfo] = &[
    RouteInfo {
        methods: &["GET"],
        path: "/",
        description: "service name, version and routes",
    },
    RouteInfo {
        methods: &["GET", "POST"],
        path: "/v1/recipe",
        description:
            "the recipe for a query (GET parameters or POST body) or a snapshot (POST body)",
    },
    RouteInfo {
        methods: &["POST"],
        path: "/v1/validate",
        description: "the validation report of a snapshot (POST body) against its recipe",
    },
    RouteInfo {
        methods: &["GET"],
        path: "/health",
        description: "liveness: 200 while the process serves",
    },
    RouteInfo {
        methods: &["GET"],
        path: "/ready",
        description: "readiness: 200 once recipe data is loaded, 503 before and during shutdown",
    },
    RouteInfo {
        methods: &["GET"],
        path: "/metrics",
        description: "Prometheus metrics (text format)",
    },
    RouteInfo {
        methods: &["GET"],
        path: "/openapi.yaml",
        description: "the OpenAPI 3 document of this API",
    },
];

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

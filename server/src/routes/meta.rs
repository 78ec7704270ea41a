//! The service's own routes: index, health, readiness, metrics, OpenAPI document.

use super::ROUTES;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// The OpenAPI document of this API, kept in the repository's docs/.
pub const OPENAPI_YAML: &str = include_str!("../../../docs/openapi.yaml");

/// `GET /`: what this service is.
pub async fn index() -> Json<serde_json::Value> {
    Json(json!({
        "service": "eidos",
        "version": env!("CARGO_PKG_VERSION"),
        "routes": ROUTES,
    }))
}

/// `GET /health`: alive.
pub async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /ready`: whether to send traffic here.
pub async fn ready(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    if state.is_shutting_down() {
        Err(ApiError::new(
            ErrorCode::Unavailable,
            "the server is shutting down",
        ))
    } else if state.store().is_none() {
        Err(ApiError::new(
            ErrorCode::Unavailable,
            "the recipe data is not loaded yet",
        ))
    } else {
        Ok(Json(json!({ "status": "ready" })))
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.metrics().render().map_err(|error| {
        tracing::error!(%error, "cannot render metrics");
        ApiError::internal()
    })?;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response())
}

/// `GET /openapi.yaml`: the API description.
pub async fn openapi() -> Response {
    ([(CONTENT_TYPE, "application/yaml")], OPENAPI_YAML).into_response()
}

//! `POST /v1/validate`: checks a snapshot (the body) against the recipe it implies, URL
//! parameters overriding the derived query, and answers the validation report. The answer is
//! 200 whatever the verdict: the verdict is in the body (`summary.overall`).

use super::recipe::{body_error, duplicate_key, invalid_body, query_error, require_json};
use super::strict_json;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use eidos_plugin_api::model::SNAPSHOT_KIND;
use eidos_plugin_api::Snapshot;
use eidos_recipes::validate::{self, FailOn};
use eidos_recipes::Query;
use serde_json::{json, Value};

/// The URL parameter that makes missing or skipped required constraints fail the run.
const FAIL_ON: &str = "fail-on";

/// `POST /v1/validate[?os=&osv=&kernel=&service=&k8s=&gpu=&intent=&fail-on=missing,skipped]`
/// with a snapshot as JSON body.
pub async fn post_validate(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(body_error)?;
    let (overrides, fail_on) = parameters(raw.as_deref())?;
    let snapshot = snapshot_from_body(&body)?;
    let store = state.store().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unavailable,
            "the recipe data is not loaded yet; retry shortly",
        )
        .with_header("retry-after", HeaderValue::from_static("1"))
    })?;
    let query = overrides.or(&Query::from_snapshot(&snapshot));
    let recipe = store.build(&query);
    let constraints =
        validate::constraints_from_recipe(&recipe, Some(&store.provenance(&query)), "recipe")
            .map_err(|error| {
                tracing::error!(%error, "the recipe data holds an invalid constraint");
                ApiError::internal()
            })?;
    let mut report = validate::validate(&snapshot, &constraints, fail_on);
    report.request = Some(recipe.request);
    report.matched_rules = recipe.matched_rules;
    let body = serde_json::to_vec(&report).map_err(|error| {
        tracing::error!(%error, "cannot serialize a validation report");
        ApiError::internal()
    })?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

/// The recipe query overrides and `fail-on` from the URL.
fn parameters(raw: Option<&str>) -> Result<(Query, FailOn), ApiError> {
    let mut fail_on = FailOn::default();
    let mut pairs = Vec::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if name.trim().eq_ignore_ascii_case(FAIL_ON) {
            for item in value.split(',').filter(|v| !v.trim().is_empty()) {
                fail_on.add(item).map_err(|message| {
                    ApiError::new(ErrorCode::InvalidRequest, message)
                        .with_details(json!({ "parameter": FAIL_ON }))
                })?;
            }
        } else {
            pairs.push((name.into_owned(), value.into_owned()));
        }
    }
    let query = Query::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(query_error)?;
    Ok((
        Query {
            context: true,
            ..query
        },
        fail_on,
    ))
}

/// The snapshot in the body: JSON with no key named twice in any object, `"kind": "Snapshot"`.
fn snapshot_from_body(body: &[u8]) -> Result<Snapshot, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid_body(
            "the request body is empty; expected a snapshot (JSON, \"kind\": \"Snapshot\")",
        ));
    }
    let not_json = |error: serde_json::Error| {
        invalid_body(&format!("the request body is not valid JSON: {error}"))
    };
    // As for `POST /v1/recipe`: serde_json would keep the last of two readings under one key, and
    // which one counts is not for the server to guess.
    if let Some(duplicate) = strict_json::find_duplicate_key(body).map_err(not_json)? {
        return Err(duplicate_key(&duplicate));
    }
    let value: Value = serde_json::from_slice(body).map_err(not_json)?;
    if value.get("kind").and_then(Value::as_str) != Some(SNAPSHOT_KIND) {
        return Err(invalid_body(
            "the request body must be a snapshot: a JSON object with \"kind\": \"Snapshot\"",
        ));
    }
    serde_json::from_value(value).map_err(|error| {
        invalid_body(&format!(
            "the request body is not a valid snapshot: {error}"
        ))
    })
}

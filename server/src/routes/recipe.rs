//! `/v1/recipe`: the recipe for a query given as GET parameters, or as a POST body that is a
//! query object or a snapshot.

use super::etag;
use super::strict_json::{self, DuplicateKey};
use crate::error::{excerpt, ApiError, ErrorCode};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use eidos_plugin_api::Snapshot;
use eidos_recipes::{Query, QueryError};
use serde_json::{json, Value};

/// How long clients and caches may reuse a recipe.
pub const CACHE_CONTROL_VALUE: &str = "public, max-age=300";

/// `GET /v1/recipe?os=&osv=&kernel=&service=&k8s=&gpu=&intent=&context=`.
pub async fn get_recipe(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = query_from_url(raw.as_deref())?;
    answer(&state, &method, &headers, &query)
}

/// `POST /v1/recipe` with a JSON query object, or a snapshot (`"kind": "Snapshot"`). URL
/// parameters, if any, override what the body says (as flags do for `eidos recipe --snapshot`).
pub async fn post_recipe(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(body_error)?;
    let overrides = query_from_url(raw.as_deref())?;
    let query = overrides.or(&query_from_body(&body)?);
    answer(&state, &method, &headers, &query)
}

fn answer(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
) -> Result<Response, ApiError> {
    let store = state.store().ok_or_else(|| {
        ApiError::new(
            ErrorCode::Unavailable,
            "the recipe data is not loaded yet; retry shortly",
        )
        .with_header("retry-after", HeaderValue::from_static("1"))
    })?;
    let rendered = state
        .recipes()
        .get_or_build(store, query)
        .map_err(|error| {
            tracing::error!(%error, "cannot serialize a recipe");
            ApiError::internal()
        })?;
    let tag = rendered.etag.as_str();
    let tag_header = HeaderValue::from_str(tag).map_err(|_| ApiError::internal())?;
    let cache = (CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL_VALUE));
    if etag::if_none_match_matches(headers, tag) {
        if method == Method::GET || method == Method::HEAD {
            return Ok((StatusCode::NOT_MODIFIED, [(ETAG, tag_header), cache]).into_response());
        }
        return Err(ApiError::new(
            ErrorCode::PreconditionFailed,
            format!("If-None-Match matches the current recipe {tag}; conditional requests are answered with 304 only for GET"),
        ));
    }
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (ETAG, tag_header),
            cache,
        ],
        rendered.body_now(),
    )
        .into_response())
}

fn query_from_url(raw: Option<&str>) -> Result<Query, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    Query::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(query_error)
}

/// A query object's fields go through [`Query::from_pairs`], so GET and POST validate and
/// normalize the same way; a snapshot is derived as `eidos recipe --snapshot` derives it. A key
/// given twice is refused (as GET refuses a parameter given twice), and so is a snapshot that says
/// nothing a recipe can use (the CLI exits 2 for it).
fn query_from_body(body: &[u8]) -> Result<Query, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid_body(
            "the request body is empty; expected a JSON query object or a snapshot",
        ));
    }
    let not_json = |error: serde_json::Error| {
        invalid_body(&format!("the request body is not valid JSON: {error}"))
    };
    if let Some(duplicate) = strict_json::find_duplicate_key(body).map_err(not_json)? {
        return Err(duplicate_key(&duplicate));
    }
    let value: Value = serde_json::from_slice(body).map_err(not_json)?;
    let Value::Object(fields) = value else {
        return Err(invalid_body(
            "the request body must be a JSON object: a query or a snapshot",
        ));
    };
    if fields.get("kind").and_then(Value::as_str) == Some(eidos_plugin_api::model::SNAPSHOT_KIND) {
        let snapshot: Snapshot =
            serde_json::from_value(Value::Object(fields)).map_err(|error| {
                invalid_body(&format!(
                    "the request body is not a valid snapshot: {error}"
                ))
            })?;
        return Query::try_from_snapshot(&snapshot).map_err(|error| {
            invalid_body(&format!(
                "cannot derive a query from the snapshot in the request body: {error}"
            ))
        });
    }
    // Strict types (strings, and a boolean for `context`) so a body means exactly one thing.
    let mut pairs = Vec::with_capacity(fields.len());
    for (name, value) in &fields {
        let text = match (name.as_str(), value) {
            ("context", Value::Bool(flag)) => flag.to_string(),
            ("context", other) => return Err(wrong_type(name, other, "true or false")),
            (_, Value::String(text)) => text.clone(),
            (_, other)
                if eidos_recipes::parameter_names()
                    .iter()
                    .any(|known| known == name) =>
            {
                return Err(wrong_type(
                    name,
                    other,
                    "a string (write versions as \"1.33\")",
                ))
            }
            // Unknown names: let the query parser name the allowed ones.
            (_, other) => other.to_string(),
        };
        pairs.push((name.clone(), text));
    }
    Query::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(query_error)
}

fn wrong_type(name: &str, value: &Value, expected: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!(
            "invalid {name} {}: expected {expected}",
            excerpt(&value.to_string())
        ),
    )
    .with_details(json!({ "parameter": name }))
}

/// The refusal of a body that names `duplicate` twice in one object.
pub(super) fn duplicate_key(duplicate: &DuplicateKey) -> ApiError {
    let key = excerpt(&duplicate.key);
    let error = ApiError::new(
        ErrorCode::InvalidRequest,
        format!("the request body gives the key {key:?} more than once; each key may appear once"),
    );
    if duplicate.top_level {
        error.with_details(json!({ "parameter": key }))
    } else {
        error
    }
}

pub(super) fn query_error(error: QueryError) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, error.to_string())
        .with_details(json!({ "parameter": error.parameter() }))
}

pub(super) fn invalid_body(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidRequest, message)
}

pub(super) fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the request body is larger than the server's body limit",
        )
    } else {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("cannot read the request body: {}", rejection.body_text()),
        )
    }
}

/// Accepts `application/json`, any `+json` type, or no content type at all.
pub(super) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("unsupported content type {essence:?}: expected application/json"),
        ))
    }
}

//! Every endpoint and error code, request ids, caching headers, metrics labels.

use super::harness::{client, config, expect_error, metric_value, TestServer};
use serde_json::{json, Value};

const RECIPE: &str = "/v1/recipe?os=ubuntu&gpu=h100&service=eks";

fn reference_snapshot_json() -> Value {
    serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML)
        .expect("the reference snapshot is YAML")
}

#[tokio::test]
async fn index_names_the_service_and_every_route() {
    let server = TestServer::start(config()).await;
    let response = client().get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["service"], "eidos");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    let paths: Vec<&str> = body["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    for path in [
        "/",
        "/v1/recipe",
        "/health",
        "/ready",
        "/metrics",
        "/openapi.yaml",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
        // Every listed route is really served.
        let status = client()
            .get(server.url(path))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn health_and_ready_answer_200_once_loaded() {
    let server = TestServer::start(config()).await;
    let health: Value = client()
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health, json!({"status": "ok"}));
    let ready: Value = client()
        .get(server.url("/ready"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready, json!({"status": "ready"}));
    let head = client().head(server.url("/health")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn openapi_document_is_served_verbatim() {
    let server = TestServer::start(config()).await;
    let response = client()
        .get(server.url("/openapi.yaml"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let text = response.text().await.unwrap();
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml"))
            .unwrap();
    assert_eq!(text, on_disk);
    let doc: Value = serde_yaml::from_str(&text).expect("valid YAML");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/",
        "/v1/recipe",
        "/health",
        "/ready",
        "/metrics",
        "/openapi.yaml",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} not documented");
    }
    server.stop().await;
}

#[tokio::test]
async fn get_recipe_answers_the_document_with_caching_headers() {
    let server = TestServer::start(config()).await;
    let response = client().get(server.url(RECIPE)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "public, max-age=300");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\"") && etag.ends_with('"'), "{etag}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request"]["os"], "ubuntu");
    assert_eq!(body["request"]["gpu"], "h100");
    assert_eq!(body["request"]["service"], "eks");
    assert!(body["generatedAt"].is_string());
    assert!(
        !body["matchedRules"].as_array().unwrap().is_empty(),
        "{body}"
    );
    assert!(!body["measurements"].as_array().unwrap().is_empty());

    // Built again later (another generatedAt), the tag is the same: it covers the content.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let again = client().get(server.url(RECIPE)).send().await.unwrap();
    assert_eq!(again.headers()["etag"], etag.as_str());

    // A different query has a different tag.
    let other = client()
        .get(server.url("/v1/recipe?gpu=a100"))
        .send()
        .await
        .unwrap();
    assert_ne!(other.headers()["etag"], etag.as_str());

    // If-None-Match → 304 with no body, same tag and caching headers.
    let cached = client()
        .get(server.url(RECIPE))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"], etag.as_str());
    assert_eq!(cached.headers()["cache-control"], "public, max-age=300");
    assert!(cached.bytes().await.unwrap().is_empty());

    // A stale tag gets the full answer.
    let stale = client()
        .get(server.url(RECIPE))
        .header("if-none-match", "W/\"0\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn no_parameters_give_the_base_recipe() {
    let server = TestServer::start(config()).await;
    let response = client().get(server.url("/v1/recipe")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert!(!body["measurements"].as_array().unwrap().is_empty());
    server.stop().await;
}

#[tokio::test]
async fn post_query_is_the_same_recipe_as_get() {
    let server = TestServer::start(config()).await;
    let get = client().get(server.url(RECIPE)).send().await.unwrap();
    let get_tag = get.headers()["etag"].clone();
    let post = client()
        .post(server.url("/v1/recipe"))
        .json(&json!({"os": "Ubuntu", "gpu": "H100", "service": "eks"}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);
    assert_eq!(post.headers()["etag"], get_tag, "same content, same tag");
    assert_eq!(post.headers()["cache-control"], "public, max-age=300");
    let body: Value = post.json().await.unwrap();
    assert_eq!(body["request"]["gpu"], "h100", "normalized like GET");
    server.stop().await;
}

#[tokio::test]
async fn post_snapshot_derives_the_query_and_url_parameters_override_it() {
    let server = TestServer::start(config()).await;
    let snapshot = reference_snapshot_json();
    let response = client()
        .post(server.url("/v1/recipe"))
        .json(&snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["request"]["gpu"], "h100", "{}", body["request"]);
    assert_eq!(body["request"]["service"], "eks", "{}", body["request"]);
    assert!(body["request"]["kernel"].is_string(), "{}", body["request"]);

    let overridden = client()
        .post(server.url("/v1/recipe?gpu=h200&intent=training"))
        .json(&snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(overridden.status(), 200);
    let body: Value = overridden.json().await.unwrap();
    assert_eq!(body["request"]["gpu"], "h200");
    assert_eq!(body["request"]["intent"], "training");
    assert_eq!(body["request"]["service"], "eks", "the rest still derived");
    server.stop().await;
}

#[tokio::test]
async fn invalid_values_name_the_parameter_and_the_allowed_values() {
    let server = TestServer::start(config()).await;
    let body = expect_error(
        client()
            .get(server.url("/v1/recipe?gpu=h9000"))
            .send()
            .await
            .unwrap(),
        400,
        "INVALID_REQUEST",
    )
    .await;
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("gpu") && message.contains("h9000"),
        "{message}"
    );
    assert!(
        message.contains("h100") && message.contains("a100"),
        "allowed values listed: {message}"
    );
    assert_eq!(body["details"]["parameter"], "gpu");
    assert_eq!(body["retryable"], false);

    let body = expect_error(
        client()
            .get(server.url("/v1/recipe?colour=blue"))
            .send()
            .await
            .unwrap(),
        400,
        "INVALID_REQUEST",
    )
    .await;
    assert_eq!(body["details"]["parameter"], "colour");
    assert!(
        body["message"].as_str().unwrap().contains("gpu"),
        "allowed names listed: {body}"
    );

    // The same checks apply to POST bodies.
    let post = client()
        .post(server.url("/v1/recipe"))
        .json(&json!({"intent": "mining"}))
        .send()
        .await
        .unwrap();
    let body = expect_error(post, 400, "INVALID_REQUEST").await;
    assert_eq!(body["details"]["parameter"], "intent");
    let post = client()
        .post(server.url("/v1/recipe"))
        .json(&json!({"k8s": 1.33}))
        .send()
        .await
        .unwrap();
    let body = expect_error(post, 400, "INVALID_REQUEST").await;
    assert_eq!(body["details"]["parameter"], "k8s");
    server.stop().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_reason() {
    let server = TestServer::start(config()).await;
    for (body, needle) in [
        ("{not json", "not valid JSON"),
        ("[1,2]", "JSON object"),
        ("", "empty"),
        (
            r#"{"kind":"Snapshot","measurements":"nope"}"#,
            "not a valid snapshot",
        ),
    ] {
        let response = client()
            .post(server.url("/v1/recipe"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let error = expect_error(response, 400, "INVALID_REQUEST").await;
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{body:?}: {error}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn routing_errors_are_json() {
    let server = TestServer::start(config()).await;
    let body = expect_error(
        client()
            .get(server.url("/v2/nothing"))
            .send()
            .await
            .unwrap(),
        404,
        "NOT_FOUND",
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("/v2/nothing"));

    let response = client()
        .delete(server.url("/v1/recipe"))
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    let body = expect_error(response, 405, "METHOD_NOT_ALLOWED").await;
    assert!(
        body["message"].as_str().unwrap().contains("DELETE"),
        "{body}"
    );

    let response = client().post(server.url("/health")).send().await.unwrap();
    expect_error(response, 405, "METHOD_NOT_ALLOWED").await;
    server.stop().await;
}

#[tokio::test]
async fn wrong_content_type_is_415_and_conditional_post_is_412() {
    let server = TestServer::start(config()).await;
    let response = client()
        .post(server.url("/v1/recipe"))
        .header("content-type", "text/plain")
        .body("gpu=h100")
        .send()
        .await
        .unwrap();
    expect_error(response, 415, "UNSUPPORTED_MEDIA_TYPE").await;

    let etag = client()
        .get(server.url("/v1/recipe?gpu=h100"))
        .send()
        .await
        .unwrap()
        .headers()["etag"]
        .clone();
    let response = client()
        .post(server.url("/v1/recipe"))
        .header("if-none-match", etag)
        .json(&json!({"gpu": "h100"}))
        .send()
        .await
        .unwrap();
    expect_error(response, 412, "PRECONDITION_FAILED").await;
    server.stop().await;
}

#[tokio::test]
async fn request_ids_are_kept_when_valid_generated_otherwise_and_logged() {
    let server = TestServer::start(config()).await;
    let given = "ci-job-4711.step:2";
    let response = client()
        .get(server.url("/v2/missing"))
        .header("x-request-id", given)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], given);
    let body = expect_error(response, 404, "NOT_FOUND").await;
    assert_eq!(body["requestId"], given);

    for bad in ["has space", &"x".repeat(200)] {
        let response = client()
            .get(server.url("/health"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(id, bad);
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "replaced by a UUID: {id}"
        );
    }
    let response = client().get(server.url("/health")).send().await.unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");

    // Log lines of those requests carry their ids.
    let logged_id = "log-trace-check-8e1f";
    client()
        .get(server.url(RECIPE))
        .header("x-request-id", logged_id)
        .send()
        .await
        .unwrap();
    let logs = super::harness::captured_logs();
    let lines: Vec<&str> = logs.lines().filter(|l| l.contains(logged_id)).collect();
    assert!(
        lines.iter().any(|l| l.contains("request answered")
            && l.contains("/v1/recipe")
            && l.contains("\"status\":200")),
        "no request log line with the id: {lines:?}"
    );
    assert!(
        logs.lines().any(|l| l.contains(&generated)),
        "generated id logged"
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_pass_promtool_format() {
    let server = TestServer::start(config()).await;
    client().get(server.url(RECIPE)).send().await.unwrap();
    client()
        .get(server.url("/v1/recipe?gpu=a100"))
        .send()
        .await
        .unwrap();
    client()
        .get(server.url("/v1/recipe?gpu=bogus"))
        .send()
        .await
        .unwrap();
    client()
        .get(server.url("/no/such/path/123"))
        .send()
        .await
        .unwrap();
    client()
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            server.url("/health"),
        )
        .send()
        .await
        .unwrap();
    let response = client().get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let sample = |s: &str| metric_value(&text, s);
    assert_eq!(
        sample(r#"eidos_http_requests_total{method="GET",path="/v1/recipe",status="200"}"#),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(r#"eidos_http_requests_total{method="GET",path="/v1/recipe",status="400"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(r#"eidos_http_requests_total{method="GET",path="unmatched",status="404"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(r#"eidos_http_requests_total{method="OTHER",path="/health",status="405"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(r#"eidos_http_request_duration_seconds_count{method="GET",path="/v1/recipe"}"#),
        Some(3.0)
    );
    // The /metrics request itself is in flight while rendering.
    assert_eq!(sample("eidos_http_requests_in_flight"), Some(1.0));
    assert_eq!(sample("eidos_rate_limit_rejects_total"), Some(0.0));
    assert_eq!(sample("eidos_panic_recoveries_total"), Some(0.0));
    assert!(sample("process_resident_memory_bytes").is_some_and(|v| v > 0.0));
    assert!(
        !text.contains("/no/such/path"),
        "raw paths never become labels"
    );
    assert!(!text.contains("gpu=a100"));
    server.stop().await;
}

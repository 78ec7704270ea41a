//! What one client can make the server hold: version texts are capped, so the recipe cache's keys
//! and documents stay small, and the cache stays within its byte budget (its eviction is tested
//! beside it, in routes/cache.rs; scripts/bench-serve-memory.sh measures the process).

use super::harness::{client, config, expect_error, TestServer};
use eidos_recipes::version::MAX_VERSION_LEN;
use serde_json::json;

/// A kernel release of `len` characters that is valid but for its length.
fn kernel_of_len(len: usize) -> String {
    let prefix = "6.8.0-1-";
    format!("{prefix}{}", "a".repeat(len - prefix.len()))
}

#[tokio::test]
async fn an_overlong_version_text_is_400_naming_the_field() {
    let server = TestServer::start(config()).await;
    let http = client();
    let long = kernel_of_len(MAX_VERSION_LEN + 1);
    for field in ["osv", "kernel", "k8s"] {
        let get = http
            .get(server.url("/v1/recipe"))
            .query(&[(field, long.as_str())])
            .send()
            .await
            .unwrap();
        let post = http
            .post(server.url("/v1/recipe"))
            .json(&json!({ field: long }))
            .send()
            .await
            .unwrap();
        for response in [get, post] {
            let body = expect_error(response, 400, "INVALID_REQUEST").await;
            assert_eq!(body["details"]["parameter"], field, "{body}");
            let message = body["message"].as_str().unwrap();
            assert!(
                message.contains(field) && message.contains("too long"),
                "{message}"
            );
            assert!(
                message.contains(&MAX_VERSION_LEN.to_string()),
                "the limit is named: {message}"
            );
            assert!(message.len() < 300, "the text is not echoed: {message}");
        }
    }
    // The attack: a 346 KB kernel text is refused the same way, and nothing is cached.
    let attack = kernel_of_len(346_000);
    let response = http
        .post(server.url("/v1/recipe"))
        .json(&json!({"kernel": attack, "gpu": "h100"}))
        .send()
        .await
        .unwrap();
    let body = expect_error(response, 400, "INVALID_REQUEST").await;
    assert_eq!(body["details"]["parameter"], "kernel");
    assert!(server.state.recipes().is_empty(), "nothing was cached");
    server.stop().await;
}

#[tokio::test]
async fn the_longest_allowed_version_text_is_served_and_cached_within_budget() {
    let server = TestServer::start(config()).await;
    let http = client();
    for i in 0..20 {
        let kernel = format!("{}{i:02}", kernel_of_len(MAX_VERSION_LEN - 2));
        assert_eq!(kernel.len(), MAX_VERSION_LEN);
        let response = http
            .get(server.url("/v1/recipe"))
            .query(&[("kernel", kernel.as_str()), ("gpu", "h100")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["request"]["kernel"], kernel.as_str());
    }
    let cache = server.state.recipes();
    assert_eq!(cache.len(), 20);
    assert!(cache.bytes() <= cache.budget());
    server.stop().await;
}

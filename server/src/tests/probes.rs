//! Probes and metrics are never rate limited, and never count against a client's budget.

use super::harness::{client, config, expect_error, metric_value, TestServer};
use crate::routes::ROUTES;
use crate::ServerConfig;

/// One token every 100 s: nothing refills while a test runs.
fn limited(burst: u32) -> ServerConfig {
    ServerConfig {
        rate_limit: 0.01,
        rate_burst: burst,
        ..config()
    }
}

const PROBES: [&str; 3] = ["/health", "/ready", "/metrics"];

#[tokio::test]
async fn probes_and_scrapes_from_a_throttled_address_still_answer() {
    let server = TestServer::start(limited(2)).await;
    let http = client();
    for _ in 0..2 {
        let response = http
            .get(server.url("/v1/recipe?gpu=h100"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let refused = http
        .get(server.url("/v1/recipe?gpu=h100"))
        .send()
        .await
        .unwrap();
    expect_error(refused, 429, "RATE_LIMIT_EXCEEDED").await;

    for path in PROBES {
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            let response = http
                .request(method.clone(), server.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{method} {path}");
            for header in ["x-ratelimit-limit", "x-ratelimit-remaining", "retry-after"] {
                assert!(
                    !response.headers().contains_key(header),
                    "{method} {path} carries {header}: it took no token"
                );
            }
        }
    }
    // The API itself stays limited for this client.
    let refused = http.get(server.url("/")).send().await.unwrap();
    expect_error(refused, 429, "RATE_LIMIT_EXCEEDED").await;

    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric_value(&metrics, "eidos_rate_limit_rejects_total"),
        Some(2.0)
    );
    server.stop().await;
}

#[tokio::test]
async fn probes_and_scrapes_take_no_token() {
    const BURST: u32 = 3;
    let server = TestServer::start(limited(BURST)).await;
    let http = client();
    for _ in 0..20 {
        for path in PROBES {
            let response = http.get(server.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
        }
    }
    // The whole burst is still there.
    for remaining in (0..BURST).rev() {
        let response = http.get(server.url("/v1/recipe")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
    }
    server.stop().await;
}

#[test]
fn only_probes_and_metrics_are_exempt() {
    let exempt: Vec<&str> = ROUTES
        .iter()
        .filter(|route| !route.rate_limited)
        .map(|route| route.path)
        .collect();
    assert_eq!(exempt, PROBES);
    assert!(crate::routes::is_rate_limited("/v1/recipe"));
    assert!(crate::routes::is_rate_limited("/no/such/route"));
}

//! Readiness, panics, timeouts and the graceful drain.

use super::harness::{
    client, config, expect_error, metric_value, raw_request, read_response, wait_until, TestServer,
    PATIENCE,
};
use eidos_recipes::RecipeStore;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// A POST of a query whose body arrives in two parts: the head and `{"gpu":` now, the rest when
/// the test says. The request is in flight in between.
const SLOW_BODY_FIRST: &[u8] = br#"{"gpu":"#;
const SLOW_BODY_REST: &[u8] = br#""h100","service":"eks"}"#;

fn slow_post_head(addr: std::net::SocketAddr) -> String {
    format!(
        "POST /v1/recipe HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        SLOW_BODY_FIRST.len() + SLOW_BODY_REST.len()
    )
}

#[tokio::test]
async fn ready_is_503_until_the_store_is_loaded() {
    let (server, give_store) = TestServer::start_unloaded(config()).await;
    let health = client().get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200, "alive while loading");
    let body = expect_error(
        client().get(server.url("/ready")).send().await.unwrap(),
        503,
        "UNAVAILABLE",
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("not loaded"));
    assert_eq!(body["retryable"], true);
    let recipe = client()
        .get(server.url("/v1/recipe?gpu=h100"))
        .send()
        .await
        .unwrap();
    assert_eq!(recipe.headers()["retry-after"], "1");
    expect_error(recipe, 503, "UNAVAILABLE").await;

    give_store.send(RecipeStore::embedded().unwrap()).unwrap();
    wait_until("/ready answers 200 once the store is given", || async {
        let response = client().get(server.url("/ready")).send().await.unwrap();
        response.status() == 200
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn ready_is_503_from_the_moment_shutdown_begins() {
    let server = TestServer::start(config()).await;
    assert_eq!(
        client()
            .get(server.url("/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The state flag `run` sets first thing on a shutdown signal (asserted below).
    server.state.begin_shutdown();
    let body = expect_error(
        client().get(server.url("/ready")).send().await.unwrap(),
        503,
        "UNAVAILABLE",
    )
    .await;
    assert!(body["message"].as_str().unwrap().contains("shutting down"));
    assert_eq!(
        client()
            .get(server.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.stop().await;

    let server = TestServer::start(config()).await;
    let state = server.state.clone();
    assert!(!state.is_shutting_down());
    server.stop().await;
    assert!(
        state.is_shutting_down(),
        "run() marks the state on shutdown"
    );
}

#[tokio::test]
async fn a_handler_panic_is_contained() {
    let config = super::harness::config();
    let config = crate::ServerConfig {
        rate_limit: 1000.0,
        rate_burst: 1000,
        ..config
    };
    let server = TestServer::start(config).await;
    let http = client();
    let response = http
        .get(server.url("/__test/panic"))
        .header("x-request-id", "panic-probe-1")
        .send()
        .await
        .unwrap();
    assert!(
        response.headers().contains_key("x-ratelimit-limit"),
        "rate-limit headers on the 500 too"
    );
    let body = expect_error(response, 500, "INTERNAL_ERROR").await;
    let text = body.to_string();
    assert!(
        !text.contains("secret") && !text.contains("panicked"),
        "no internals leak: {text}"
    );
    assert_eq!(body["requestId"], "panic-probe-1");

    // The same client (connection pool) and the process keep being served.
    for _ in 0..3 {
        assert_eq!(
            http.get(server.url("/health"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric_value(&metrics, "eidos_panic_recoveries_total"),
        Some(1.0)
    );
    assert_eq!(
        metric_value(
            &metrics,
            r#"eidos_http_requests_total{method="GET",path="/__test/panic",status="500"}"#
        ),
        Some(1.0)
    );
    let logs = super::harness::captured_logs();
    assert!(
        logs.lines().any(|l| l.contains("panic-probe-1")
            && l.contains("handler panicked")
            && l.contains("secret internals")),
        "the panic is logged for operators, with the request id"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_slow_handler_times_out_with_504() {
    let config = crate::ServerConfig {
        request_timeout: Duration::from_millis(300),
        ..config()
    };
    let server = TestServer::start(config).await;
    // The handler sleeps 3 s, then answers 200 "slept": a 504 can only come from the timeout,
    // which answered while the handler was still sleeping.
    let response = client()
        .get(server.url("/__test/sleep"))
        .send()
        .await
        .unwrap();
    let body = expect_error(response, 504, "TIMEOUT").await;
    assert_eq!(body["retryable"], true);
    server.stop().await;
}

#[tokio::test]
async fn a_slow_upload_times_out_with_504() {
    let config = crate::ServerConfig {
        request_timeout: Duration::from_millis(300),
        ..config()
    };
    let server = TestServer::start(config).await;
    // The rest of the body is never sent: any answer is the timeout's.
    let mut stream = raw_request(server.addr, &slow_post_head(server.addr), SLOW_BODY_FIRST).await;
    let (status, text) = read_response(&mut stream).await;
    assert_eq!(status, 504, "{text}");
    assert!(text.contains("\"code\":\"TIMEOUT\""), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn graceful_drain_finishes_in_flight_requests_and_refuses_new_connections() {
    const IN_FLIGHT: usize = 5;
    let mut server = TestServer::start(config()).await;
    let addr = server.addr;
    let mut streams = Vec::new();
    for _ in 0..IN_FLIGHT {
        streams.push(raw_request(addr, &slow_post_head(addr), SLOW_BODY_FIRST).await);
    }
    // The server has read the heads: the requests are being handled.
    wait_until("every slow request is in flight", || async {
        server.in_flight() == IN_FLIGHT as i64
    })
    .await;

    server.begin_stop();
    wait_until("the listener is closed", || async {
        tokio::net::TcpStream::connect(addr).await.is_err()
    })
    .await;
    assert!(server.state.is_shutting_down());
    assert!(
        !server.task.is_finished(),
        "still draining the in-flight requests"
    );
    assert_eq!(server.in_flight(), IN_FLIGHT as i64);

    for stream in &mut streams {
        stream.write_all(SLOW_BODY_REST).await.unwrap();
    }
    for stream in &mut streams {
        let (status, text) = read_response(stream).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("\"gpu\":\"h100\""), "{text}");
    }
    let report = server.task.await.unwrap().unwrap();
    assert_eq!(report.abandoned_connections, 0);
}

#[tokio::test]
async fn drain_gives_up_at_the_shutdown_timeout() {
    let config = crate::ServerConfig {
        shutdown_timeout: Duration::from_millis(300),
        request_timeout: Duration::from_secs(3600),
        ..config()
    };
    let mut server = TestServer::start(config).await;
    let _stalled = raw_request(server.addr, &slow_post_head(server.addr), SLOW_BODY_FIRST).await;
    wait_until("the stalled request is in flight", || async {
        server.in_flight() == 1
    })
    .await;
    let started = Instant::now();
    server.begin_stop();
    // The stalled request never completes (its timeout is an hour): `run` returning at all is the
    // shutdown timeout giving up on it.
    let report = tokio::time::timeout(PATIENCE, &mut server.task)
        .await
        .expect("run returns after the shutdown timeout")
        .unwrap()
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "waited for the stalled request first"
    );
    assert_eq!(report.abandoned_connections, 1);
}

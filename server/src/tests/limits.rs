//! Rate limiting, body and header limits, idle connections.

use super::harness::{
    client, client_from, config, expect_error, metric_value, raw_request, read_response, TestServer,
};
use crate::ServerConfig;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

fn limited(rate: f64, burst: u32) -> ServerConfig {
    ServerConfig {
        rate_limit: rate,
        rate_burst: burst,
        ..config()
    }
}

#[tokio::test]
async fn the_burst_plus_first_request_is_429_with_retry_after() {
    const BURST: u32 = 5;
    // One token every 10 s: no refill can happen during the test.
    let server = TestServer::start(limited(0.1, BURST)).await;
    let http = client();
    for expected_remaining in (0..BURST).rev() {
        let response = http
            .get(server.url("/v1/recipe?gpu=h100"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers["x-ratelimit-limit"], BURST.to_string().as_str());
        assert_eq!(
            headers["x-ratelimit-remaining"],
            expected_remaining.to_string().as_str()
        );
        let reset: u64 = headers["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset <= 10 * u64::from(BURST), "{reset}");
        assert!(!headers.contains_key("retry-after"));
    }
    let refused = http.get(server.url("/")).send().await.unwrap();
    let headers = refused.headers().clone();
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry_after), "{retry_after}");
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert_eq!(headers["x-ratelimit-limit"], "5");
    let body = expect_error(refused, 429, "RATE_LIMIT_EXCEEDED").await;
    assert_eq!(body["retryable"], true);

    // Another client address has its own bucket; it also reads the reject counter.
    let other = client_from([127, 0, 0, 2]);
    let metrics = other.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200, "another client is not limited");
    let text = metrics.text().await.unwrap();
    assert_eq!(
        metric_value(&text, "eidos_rate_limit_rejects_total"),
        Some(1.0)
    );
    assert_eq!(
        metric_value(
            &text,
            r#"eidos_http_requests_total{method="GET",path="/",status="429"}"#
        ),
        Some(1.0)
    );
    server.stop().await;
}

#[tokio::test]
async fn tokens_refill_at_the_configured_rate() {
    // 20 per second: a token every 50 ms.
    let server = TestServer::start(limited(20.0, 1)).await;
    let http = client();
    assert_eq!(
        http.get(server.url("/")).send().await.unwrap().status(),
        200
    );
    let refused = http.get(server.url("/")).send().await.unwrap();
    assert_eq!(refused.status(), 429);
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        http.get(server.url("/")).send().await.unwrap().status(),
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn rate_limit_zero_disables_limiting_and_its_headers() {
    let server = TestServer::start(limited(0.0, 1)).await;
    let http = client();
    for _ in 0..20 {
        let response = http.get(server.url("/health")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(!response.headers().contains_key("x-ratelimit-limit"));
    }
    server.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let server = TestServer::start(ServerConfig {
        body_limit: 1024,
        ..config()
    })
    .await;
    // Declared length over the limit: refused before the body is read.
    let big = format!(r#"{{"os":"ubuntu","pad":"{}"}}"#, "x".repeat(4096));
    let response = client()
        .post(server.url("/v1/recipe"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    let body = expect_error(response, 413, "PAYLOAD_TOO_LARGE").await;
    assert_eq!(body["retryable"], false);

    // Chunked, no declared length: refused while reading.
    let head = format!(
        "POST /v1/recipe HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        server.addr
    );
    let chunk = format!("{:x}\r\n{big}\r\n0\r\n\r\n", big.len());
    let mut stream = raw_request(server.addr, &head, chunk.as_bytes()).await;
    let (status, text) = read_response(&mut stream).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("PAYLOAD_TOO_LARGE"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn oversized_request_heads_are_431() {
    let server = TestServer::start(ServerConfig {
        max_header_bytes: 8192,
        ..config()
    })
    .await;
    let response = client()
        .get(server.url("/health"))
        .header("x-padding", "p".repeat(16 * 1024))
        .send()
        .await;
    match response {
        Ok(response) => assert_eq!(response.status(), 431),
        // hyper may close the connection right after answering; the write can fail first.
        Err(error) => assert!(error.is_request(), "{error}"),
    }
    assert_eq!(
        client()
            .get(server.url("/health"))
            .header("x-small", "ok")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    server.stop().await;
}

#[tokio::test]
async fn idle_and_slow_head_connections_are_closed() {
    let server = TestServer::start(ServerConfig {
        header_read_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    // Connected, sends nothing.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Sends half a request head and stalls.
    let mut slow = raw_request(server.addr, "GET /health HTTP/1.1\r\nHost: x\r\n", b"").await;
    let started = Instant::now();
    for stream in [&mut idle, &mut slow] {
        let mut buffer = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut buffer)).await;
        assert!(read.is_ok(), "closed by the server");
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    server.stop().await;
}

//! The real server checked by real third-party tooling:
//! - `promtool check metrics` (Debian package `prometheus`) lints `/metrics`;
//! - schemathesis (PyPI) generates requests from the served OpenAPI document (positive and
//!   negative cases, every check it has) and finds zero failures.
//!
//! Without the tools these tests print why and pass, except when `CI=true`: there a missing tool
//! fails the test, so CI cannot silently skip it.

use eidos_server::{Server, ServerConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Finds `tool`, or decides what a missing tool means here.
fn require(tool: &str, install: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "{tool} is not installed but CI=true: install it ({install})"
        );
        eprintln!("SKIPPED: {tool} is not installed ({install}); this check did not run");
    }
    found
}

/// Starts the server on a runtime of its own; returns its address and a stopper.
fn start(
    config: ServerConfig,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let server = Server::bind(config).await.expect("bind");
            let state = server.state().clone();
            let addr = server.local_addr();
            let run = tokio::spawn(server.run(async {
                let _ = stop_rx.await;
            }));
            while !state.is_ready() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            addr_tx.send(addr).unwrap();
            run.await.unwrap().expect("clean shutdown");
        });
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server ready");
    (addr, stop_tx, thread)
}

fn loopback(rate_limit: f64) -> ServerConfig {
    ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        rate_limit,
        ..ServerConfig::default()
    }
}

fn get(url: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::get(url)
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .text()
            .await
            .unwrap()
    })
}

#[test]
fn promtool_accepts_the_metrics_after_traffic_of_every_kind() {
    if !require("promtool", "apt-get install prometheus") {
        return;
    }
    let (addr, stop, thread) = start(loopback(100.0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        for path in [
            "/",
            "/health",
            "/ready",
            "/v1/recipe?gpu=h100",
            "/v1/recipe?gpu=zz",
            "/nope",
            "/openapi.yaml",
        ] {
            client
                .get(format!("http://{addr}{path}"))
                .send()
                .await
                .unwrap();
        }
        client
            .delete(format!("http://{addr}/v1/recipe"))
            .send()
            .await
            .unwrap();
    });
    let metrics = get(&format!("http://{addr}/metrics"));
    for family in [
        "eidos_http_requests_total",
        "eidos_http_request_duration_seconds",
        "eidos_http_requests_in_flight",
        "eidos_rate_limit_rejects_total",
        "eidos_panic_recoveries_total",
        "process_resident_memory_bytes",
    ] {
        assert!(
            metrics.contains(&format!("# TYPE {family} ")),
            "{family} missing"
        );
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success() && output.stdout.is_empty() && output.stderr.is_empty(),
        "promtool found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = stop.send(());
    thread.join().unwrap();
}

#[test]
fn schemathesis_finds_no_failure_against_the_served_openapi_document() {
    if !require("schemathesis", "pip install schemathesis") {
        return;
    }
    // Rate limiting off: schemathesis sends hundreds of requests from one address.
    let (addr, stop, thread) = start(loopback(0.0));
    let report_dir = tempfile::tempdir().unwrap();
    let output = Command::new("schemathesis")
        .args([
            "run",
            &format!("http://{addr}/openapi.yaml"),
            "--url",
            &format!("http://{addr}"),
        ])
        .args(["--checks", "all", "--max-examples", "30", "--seed", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .current_dir(report_dir.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{text}"
    );
    assert!(
        text.contains("7 selected"),
        "all seven operations tested:\n{text}"
    );
    let _ = stop.send(());
    thread.join().unwrap();
}

//! Starting a server on `127.0.0.1:0` and talking to it.

use crate::{Server, ServerConfig, ShutdownReport};
use eidos_recipes::RecipeStore;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: crate::state::AppState,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<ShutdownReport, crate::ServerError>>,
}

/// Test defaults: loopback, rate limiting off (tests that need it turn it on).
pub fn config() -> ServerConfig {
    ServerConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        rate_limit: 0.0,
        ..ServerConfig::default()
    }
}

impl TestServer {
    /// Starts a server with the embedded recipe data and waits until it is ready.
    pub async fn start(config: ServerConfig) -> TestServer {
        init_log_capture();
        let server = Server::bind(config).await.expect("bind");
        let addr = server.local_addr();
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        let test = TestServer {
            addr,
            state,
            stop: Some(stop),
            task,
        };
        test.wait_ready().await;
        test
    }

    /// Starts a server whose recipe store arrives when the returned sender sends it.
    pub async fn start_unloaded(
        config: ServerConfig,
    ) -> (TestServer, oneshot::Sender<Arc<RecipeStore>>) {
        init_log_capture();
        let server = Server::bind(config).await.expect("bind");
        let addr = server.local_addr();
        let state = server.state().clone();
        let (stop, stopped) = oneshot::channel();
        let (give_store, store) = oneshot::channel::<Arc<RecipeStore>>();
        let load = async move {
            let store = store.await.expect("the test sends a store");
            Ok(Ok(store))
        };
        let task = tokio::spawn(server.serve_with_store(load, async {
            let _ = stopped.await;
        }));
        (
            TestServer {
                addr,
                state,
                stop: Some(stop),
                task,
            },
            give_store,
        )
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn wait_ready(&self) {
        wait_until("the server is ready", || async { self.state.is_ready() }).await;
    }

    /// Requests being handled now (the `eidos_http_requests_in_flight` gauge).
    pub fn in_flight(&self) -> i64 {
        self.state.metrics().in_flight.get()
    }

    /// Sends the shutdown signal.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Sends the shutdown signal and waits for the drain to finish.
    pub async fn stop(mut self) -> ShutdownReport {
        self.begin_stop();
        self.task
            .await
            .expect("server task")
            .expect("clean shutdown")
    }
}

/// How long [`wait_until`] waits before it declares a condition never met. Only a guard against a
/// test hanging for ever: a waiting test goes on as soon as its condition holds, so a slow machine
/// makes it slower, never wrong.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `condition` until it holds; panics naming `what` after [`PATIENCE`].
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {PATIENCE:?} for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A plain client (no connection reuse between tests).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A client whose connections come from another loopback address (another "client address").
pub fn client_from(ip: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .local_address(std::net::IpAddr::from(ip))
        .build()
        .expect("client")
}

/// Asserts the API's error document and returns it.
pub async fn expect_error(
    response: reqwest::Response,
    status: u16,
    code: &str,
) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let request_id = response
        .headers()
        .get("x-request-id")
        .expect("x-request-id on an error")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("application/json")
    );
    let body: serde_json::Value = response.json().await.expect("JSON error body");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["requestId"], request_id.as_str(), "{body}");
    assert!(
        body["timestamp"]
            .as_str()
            .is_some_and(|t| humantime::parse_rfc3339(t).is_ok()),
        "{body}"
    );
    assert!(body["retryable"].is_boolean(), "{body}");
    body
}

/// A raw connection: the request head (and optionally part of a body) is written, the rest is
/// up to the test.
pub async fn raw_request(addr: SocketAddr, head: &str, body_part: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(body_part).await.expect("write body part");
    stream.flush().await.expect("flush");
    stream
}

/// Reads a whole response from a `Connection: close` exchange; returns (status, text).
pub async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut bytes = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut bytes))
        .await
        .expect("response within 20 s")
        .expect("read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

/// The value of a metric sample line (`name{labels} value`), if present.
pub fn metric_value(text: &str, sample: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(sample) && line[sample.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

/// Everything logged by every server in this test process (JSON lines with span fields).
pub fn captured_logs() -> String {
    let buffer = LOGS.get_or_init(Default::default).lock().unwrap();
    String::from_utf8_lossy(&buffer).into_owned()
}

static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();

#[derive(Clone, Copy)]
struct CaptureWriter;

impl Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.get_or_init(Default::default)
            .lock()
            .unwrap()
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_log_capture() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(|| CaptureWriter)
            .try_init();
    });
}

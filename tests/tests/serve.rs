//! End-to-end tests of `eidos serve`: the real binary, real signals, real HTTP over loopback.
//! HTTP is spoken by hand over `std::net::TcpStream` (HTTP/1.1, `Connection: close`) because the
//! drain test must hold requests half-sent, which ordinary clients cannot do.

use eidos_e2e::{eidos, reference_snapshot, wait_for, wait_until, Hermetic, PluginDir, PATIENCE};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running `eidos serve`, with its stderr collected in the background.
struct Served {
    child: Child,
    /// The command, kept for its private HOME.
    _cmd: Hermetic,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl Served {
    /// Starts `eidos serve --addr 127.0.0.1:0 ARGS…` and waits until it is ready.
    fn start(args: &[&str]) -> Served {
        let mut cmd = eidos(&[]);
        cmd.args(["serve", "--addr", "127.0.0.1:0"]).args(args);
        Self::start_with(cmd)
    }

    fn start_with(mut cmd: Hermetic) -> Served {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start eidos serve");
        let (lines_tx, lines_rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        // The bound address is in the "listening" log line (port 0 → the kernel's choice).
        let deadline = Instant::now() + PATIENCE;
        let addr = loop {
            let line = lines_rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("a 'listening' log line");
            if let Some(addr) = listening_addr(&line) {
                break addr;
            }
        };
        let served = Served {
            child,
            _cmd: cmd,
            addr,
            stderr: lines_rx,
        };
        served.wait_ready();
        served
    }

    fn wait_ready(&self) {
        wait_until("eidos serve is ready", || {
            http(self.addr, "GET", "/ready", &[], b"").is_ok_and(|r| r.status == 200)
        });
    }

    /// The server's `eidos_http_requests_in_flight` gauge (the scrape asking counts itself).
    fn in_flight(&self) -> u64 {
        let answer = http(self.addr, "GET", "/metrics", &[], b"").unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        answer
            .body
            .lines()
            .find_map(|line| line.strip_prefix("eidos_http_requests_in_flight "))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no in-flight gauge in {}", answer.body))
    }

    /// Waits until `more` requests beyond `baseline` are in flight.
    fn wait_in_flight(&self, baseline: u64, more: usize) {
        wait_until(&format!("{more} more requests in flight"), || {
            self.in_flight() == baseline + more as u64
        });
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    fn wait_exit(&mut self) -> ExitStatus {
        wait_for("eidos serve exits", || self.child.try_wait().unwrap())
    }

    fn logs(&self) -> String {
        let mut text = String::new();
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_millis(200)) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in a `listening addr=…` log line, plain or JSON.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    if !line.contains("listening") {
        return None;
    }
    let start = line.find("addr")? + "addr".len();
    let rest = line[start..].trim_start_matches(['=', '"', ':']);
    let end = rest
        .find(|c: char| c == '"' || c.is_whitespace())
        .unwrap_or(rest.len());
    let addr: SocketAddr = rest[..end].parse().ok()?;
    // 0.0.0.0 (from PORT) is reached through loopback.
    Some(if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    })
}

#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

fn parse_answer(bytes: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// One request over a fresh connection.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, std::io::Error> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    Ok(parse_answer(&bytes))
}

const BODY_FIRST: &[u8] = br#"{"gpu":"#;
const BODY_REST: &[u8] = br#""h100","service":"eks"}"#;

/// A POST whose body is only half sent: the request is in flight until [`finish`] is called.
fn start_slow_post(addr: SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /v1/recipe HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        BODY_FIRST.len() + BODY_REST.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(BODY_FIRST).unwrap();
    stream
}

fn finish(mut stream: TcpStream) -> Answer {
    stream.write_all(BODY_REST).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    parse_answer(&bytes)
}

#[test]
fn sigterm_drains_in_flight_requests_refuses_new_connections_and_exits_0() {
    const IN_FLIGHT: usize = 5;
    let mut served = Served::start(&[]);
    let addr = served.addr;
    let baseline = served.in_flight();
    let slow: Vec<TcpStream> = (0..IN_FLIGHT).map(|_| start_slow_post(addr)).collect();
    served.wait_in_flight(baseline, IN_FLIGHT);

    served.signal("TERM");
    // The listener closes: new connections are refused, while the process keeps draining. A
    // connection caught in the accept backlog as the listener closes is reset, never served:
    // that is the close happening; keep asking until connections are refused.
    let error =
        wait_for(
            "connections are refused after SIGTERM",
            || match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => None,
                Err(error) => Some(error),
                Ok(_) => None,
            },
        );
    assert_eq!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "{error}"
    );
    assert!(
        served.child.try_wait().unwrap().is_none(),
        "exited before the in-flight requests finished"
    );

    for stream in slow {
        let answer = finish(stream);
        assert_eq!(answer.status, 200, "{answer:?}");
        let recipe: serde_json::Value = serde_json::from_str(&answer.body).expect("recipe JSON");
        assert_eq!(recipe["request"]["gpu"], "h100");
    }
    let status = served.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status after a clean drain");
    let logs = served.logs();
    assert!(logs.contains("SIGTERM received"), "{logs}");
}

#[test]
fn sigint_also_stops_the_server_cleanly() {
    let mut served = Served::start(&[]);
    served.signal("INT");
    assert_eq!(served.wait_exit().code(), Some(0));
}

#[test]
fn the_shutdown_timeout_bounds_the_drain() {
    let mut served = Served::start(&["--shutdown-timeout", "500ms", "--request-timeout", "1h"]);
    let baseline = served.in_flight();
    // Never finished: only the shutdown timeout can end the drain.
    let _stalled = start_slow_post(served.addr);
    served.wait_in_flight(baseline, 1);
    let started = Instant::now();
    served.signal("TERM");
    let status = served.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "waited for the stalled request"
    );
    assert!(served.logs().contains("shutdown timeout reached"));
}

#[test]
fn environment_variables_configure_the_server() {
    // PORT picks the port on all interfaces; EIDOS_* set the rate limit.
    let mut cmd = eidos(&[]);
    cmd.args(["serve"])
        .env("EIDOS_RATE_LIMIT", "0.1")
        .env("EIDOS_RATE_BURST", "3")
        .env("PORT", "0");
    let served = Served::start_with(cmd);
    // Readiness probes take no token; the API requests count down to 0.
    let mut remaining = None;
    loop {
        let answer = http(served.addr, "GET", "/v1/recipe?gpu=h100", &[], b"").unwrap();
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.header("x-ratelimit-limit"), Some("3"));
        let left: u32 = answer
            .header("x-ratelimit-remaining")
            .unwrap()
            .parse()
            .unwrap();
        if let Some(before) = remaining {
            assert_eq!(left + 1, before, "one token per request");
        }
        remaining = Some(left);
        if left == 0 {
            break;
        }
    }
    let refused = http(served.addr, "GET", "/", &[], b"").unwrap();
    assert_eq!(refused.status, 429);
    assert!(refused.header("retry-after").is_some());
    assert!(
        refused.body.contains("RATE_LIMIT_EXCEEDED"),
        "{}",
        refused.body
    );
}

#[test]
fn json_logs_carry_the_request_id() {
    let served = {
        let mut cmd = eidos(&[]);
        cmd.args(["--log-json", "serve", "--addr", "127.0.0.1:0"]);
        Served::start_with(cmd)
    };
    let answer = http(
        served.addr,
        "GET",
        "/v1/recipe?gpu=h100",
        &[("X-Request-Id", "e2e-json-log-1")],
        b"",
    )
    .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-request-id"), Some("e2e-json-log-1"));
    let logs = served.logs();
    let line = logs
        .lines()
        .find(|l| l.contains("e2e-json-log-1"))
        .unwrap_or_else(|| panic!("no log line with the request id:\n{logs}"));
    let entry: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(entry["fields"]["status"], 200, "{entry}");
    assert_eq!(entry["span"]["route"], "/v1/recipe", "{entry}");
}

#[test]
fn bad_configuration_is_a_usage_error() {
    for (args, needle) in [
        (&["--rate-limit", "-1"][..], "rate limit"),
        (&["--rate-burst", "0"][..], "rate burst"),
        (&["--request-timeout", "soon"][..], "expected"),
        (
            &["--recipes", "/nonexistent/recipes"][..],
            "/nonexistent/recipes",
        ),
        (&["--addr", "not-an-address"][..], "not-an-address"),
    ] {
        let out = eidos_e2e::run(eidos(&[]).arg("serve").args(args));
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn invalid_recipe_data_is_refused_at_startup() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.yaml"), "measurements: [[[").unwrap();
    let out = eidos_e2e::run(
        eidos(&[])
            .args(["serve", "--addr", "127.0.0.1:0", "--recipes"])
            .arg(dir.path()),
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("base.yaml"),
        "names the file: {}",
        out.stderr
    );
}

#[test]
fn an_address_in_use_is_a_runtime_failure() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = eidos_e2e::run(eidos(&[]).args(["serve", "--addr", &addr]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains(&addr), "{}", out.stderr);
}

/// The document `eidos recipe --format json` prints, with `generatedAt` removed.
fn cli_recipe(args: &[&str]) -> serde_json::Value {
    let plugins = PluginDir::with(&["serializer_json"]);
    let out = eidos_e2e::run(
        eidos(&[plugins.path()])
            .args(["recipe", "--format", "json"])
            .args(args),
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut doc = out.json();
    doc.as_object_mut().unwrap().remove("generatedAt");
    doc
}

fn api_recipe(answer: &Answer) -> serde_json::Value {
    assert_eq!(answer.status, 200, "{answer:?}");
    let mut doc: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    doc.as_object_mut().unwrap().remove("generatedAt");
    doc
}

#[test]
fn the_api_answers_the_same_document_as_eidos_recipe() {
    let served = Served::start(&[]);
    let get = http(
        served.addr,
        "GET",
        "/v1/recipe?os=ubuntu&gpu=h100&service=eks&context=true",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(
        api_recipe(&get),
        cli_recipe(&[
            "--os",
            "ubuntu",
            "--gpu",
            "h100",
            "--service",
            "eks",
            "--context"
        ])
    );

    // A snapshot: the API derives the same query as `eidos recipe --snapshot`.
    let snapshot: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(reference_snapshot()).unwrap()).unwrap();
    let body = serde_json::to_vec(&snapshot).unwrap();
    let post = http(
        served.addr,
        "POST",
        "/v1/recipe?intent=training",
        &[("Content-Type", "application/json")],
        &body,
    )
    .unwrap();
    let snapshot_path = reference_snapshot();
    assert_eq!(
        api_recipe(&post),
        cli_recipe(&[
            "--snapshot",
            snapshot_path.to_str().unwrap(),
            "--intent",
            "training"
        ])
    );
}

#[test]
fn a_recipes_dir_replaces_the_built_in_data() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("base.yaml"),
        "measurements:\n  - type: os\n    subtypes:\n      - subtype: sysctl\n        data: {/proc/sys/vm/swappiness: \"42\"}\n",
    )
    .unwrap();
    let served = Served::start(&["--recipes", dir.path().to_str().unwrap()]);
    let doc = api_recipe(&http(served.addr, "GET", "/v1/recipe?gpu=h100", &[], b"").unwrap());
    assert_eq!(
        doc["measurements"],
        serde_json::json!([{"type": "os", "subtypes": [{"subtype": "sysctl", "data": {"/proc/sys/vm/swappiness": "42"}}]}]),
        "only the directory's data: {doc}"
    );
}

#[test]
fn the_config_file_configures_the_server_below_flags_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[serve]\naddr = \"127.0.0.1:0\"\nrate-limit = 1\nrate-burst = 4\n",
    )
    .unwrap();
    let mut cmd = eidos(&[]);
    cmd.arg("--config").arg(&cfg).arg("serve");
    let served = Served::start_with(cmd);
    assert_eq!(
        served.addr.ip().to_string(),
        "127.0.0.1",
        "serve.addr from the file"
    );
    let answer = http(served.addr, "GET", "/", &[], b"").unwrap();
    assert_eq!(
        answer.header("x-ratelimit-limit"),
        Some("4"),
        "serve.rate-burst from the file"
    );
    drop(served);

    let mut cmd = eidos(&[]);
    cmd.arg("--config")
        .arg(&cfg)
        .env("EIDOS_RATE_BURST", "6")
        .args(["serve", "--rate-limit", "0"]);
    let served = Served::start_with(cmd);
    let answer = http(served.addr, "GET", "/", &[], b"").unwrap();
    assert_eq!(
        answer.header("x-ratelimit-limit"),
        None,
        "--rate-limit 0 beats the file and disables limiting"
    );
}

#[test]
fn overlays_are_served_on_top_of_the_data_and_validated() {
    let overlay = tempfile::tempdir().unwrap();
    std::fs::write(
        overlay.path().join("acme.yaml"),
        "overlays:\n  - key: {gpu: h100}\n    measurements:\n      - type: acme-nic\n        subtypes:\n          - subtype: eth0\n            data: {mtu: 9000}\n",
    )
    .unwrap();
    let served = Served::start(&["--overlays", overlay.path().to_str().unwrap()]);
    let doc = api_recipe(&http(served.addr, "GET", "/v1/recipe?gpu=h100", &[], b"").unwrap());
    let types: Vec<&str> = doc["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"os"),
        "the built-in data is still there: {types:?}"
    );
    assert_eq!(types.last(), Some(&"acme-nic"), "{doc}");
    // The same document as the CLI with the same overlay.
    assert_eq!(
        doc,
        cli_recipe(&[
            "--gpu",
            "h100",
            "--overlays",
            overlay.path().to_str().unwrap()
        ])
    );

    // POST /v1/validate checks the vendor's reading, and names the layer that set it.
    let snapshot = serde_json::json!({
        "kind": "Snapshot",
        "apiVersion": "snapshot.dgxc.io/v1",
        "measurements": [
            {"type": "GPU", "subtypes": [{"subtype": "smi", "data": {"gpu.model": "NVIDIA H100 80GB HBM3"}}]},
            {"type": "acme-nic", "subtypes": [{"subtype": "eth0", "data": {"mtu": 1500}}]}
        ]
    });
    let answer = http(
        served.addr,
        "POST",
        "/v1/validate",
        &[("Content-Type", "application/json")],
        &serde_json::to_vec(&snapshot).unwrap(),
    )
    .unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    let report: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    let mtu = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "acme-nic")
        .unwrap_or_else(|| panic!("no acme-nic result: {report}"));
    assert_eq!(mtu["status"], "failed", "{mtu}");
    assert_eq!(mtu["actual"], 1500, "{mtu}");
    let file = overlay.path().join("acme.yaml");
    assert_eq!(
        mtu["source"],
        format!("{} (gpu=h100)", file.display()),
        "{mtu}"
    );
}

#[test]
fn a_bad_overlay_is_refused_at_startup_naming_it() {
    let out = eidos_e2e::run(eidos(&[]).args(["serve", "--overlays", "/nonexistent/overlay"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("/nonexistent/overlay") && out.stderr.contains("--overlays"),
        "{}",
        out.stderr
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acme.yaml"), "overlays: [[[").unwrap();
    let out = eidos_e2e::run(
        eidos(&[])
            .args(["serve", "--addr", "127.0.0.1:0", "--overlays"])
            .arg(dir.path()),
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("acme.yaml"), "{}", out.stderr);
}

//! `POST /v1/validate`: the report for a snapshot, 200 whatever the verdict, overrides and
//! `fail-on` from the URL, errors as the API's error JSON.

use super::harness::{client, config, expect_error, TestServer};
use serde_json::{json, Value};

/// A hand-made node: Ubuntu 24.04, an EKS cluster and an H100, with IP forwarding off (required)
/// and swappiness as given (advice).
fn node(swappiness: &str) -> Value {
    json!({
        "kind": "Snapshot",
        "apiVersion": "snapshot.dgxc.io/v1",
        "measurements": [
            {"type": "OS", "subtypes": [
                {"subtype": "release", "data": {"ID": "ubuntu", "VERSION_ID": "24.04"}},
                {"subtype": "sysctl", "data": {"/proc/sys/vm/swappiness": swappiness, "/proc/sys/net/ipv4/ip_forward": "0", "/proc/sys/vm/max_map_count": 262144}}
            ]},
            {"type": "K8s", "subtypes": [{"subtype": "server", "data": {"version": "v1.33.5-eks-3025e55"}}]},
            {"type": "GPU", "subtypes": [{"subtype": "smi", "data": {"gpu.model": "NVIDIA H100 80GB HBM3"}}]}
        ]
    })
}

async fn post(server: &TestServer, query: &str, body: &Value) -> reqwest::Response {
    client()
        .post(server.url(&format!("/v1/validate{query}")))
        .json(body)
        .send()
        .await
        .unwrap()
}

fn result<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("{key} in {report}"))
}

#[tokio::test]
async fn a_failing_node_is_200_with_the_verdict_in_the_body() {
    let server = TestServer::start(config()).await;
    let response = post(&server, "", &node("60")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["kind"], "ValidationReport");
    assert_eq!(
        report["summary"]["overall"], "fail",
        "{}",
        report["summary"]
    );
    assert_eq!(report["request"]["gpu"], "h100");
    assert_eq!(report["request"]["service"], "eks");
    let swappiness = result(&report, "/proc/sys/vm/swappiness");
    assert_eq!(swappiness["status"], "failed");
    assert_eq!(swappiness["severity"], "recommended");
    assert_eq!(swappiness["expected"], "0");
    assert_eq!(swappiness["actual"], "60");
    assert_eq!(swappiness["source"], "base.yaml");
    assert!(swappiness["context"].is_string(), "{swappiness}");
    assert_eq!(
        result(&report, "/proc/sys/vm/max_map_count")["status"],
        "passed"
    );
    // The systemd collector's readings are not in the snapshot: skipped, saying why.
    let skipped = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "systemd")
        .unwrap();
    assert_eq!(skipped["status"], "skipped");
    assert!(
        skipped["reason"].as_str().unwrap().contains("not run"),
        "{skipped}"
    );
    assert_eq!(report["results"][0]["status"], "failed", "failures first");
    server.stop().await;
}

#[tokio::test]
async fn url_parameters_override_the_query_and_fail_on_counts_missing_and_skipped() {
    let server = TestServer::start(config()).await;
    let report: Value = post(&server, "?gpu=h200&intent=training", &node("0"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["request"]["gpu"], "h200");
    assert_eq!(report["request"]["intent"], "training");
    assert_eq!(
        report["request"]["service"], "eks",
        "the rest still derived"
    );
    let lenient = report["summary"]["requiredFailed"].as_u64().unwrap();
    let strict: Value = post(&server, "?fail-on=missing,skipped", &node("0"))
        .await
        .json()
        .await
        .unwrap();
    let summary = &strict["summary"];
    assert_eq!(summary["overall"], "fail");
    assert!(
        summary["requiredFailed"].as_u64().unwrap() > lenient,
        "missing and skipped count: {summary}"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_are_400_error_documents_naming_the_problem() {
    let server = TestServer::start(config()).await;
    let table: Vec<(&str, String, &str, Option<&str>)> = vec![
        ("", "{not json".to_owned(), "not valid JSON", None),
        ("", "".to_owned(), "empty", None),
        (
            "",
            json!({"gpu": "h100"}).to_string(),
            "must be a snapshot",
            None,
        ),
        (
            "",
            json!({"kind": "Snapshot", "measurements": "nope"}).to_string(),
            "not a valid snapshot",
            None,
        ),
        ("?gpu=h900", node("0").to_string(), "gpu", Some("gpu")),
        (
            "?fail-on=failed",
            node("0").to_string(),
            "expected missing or skipped",
            Some("fail-on"),
        ),
        (
            "?color=red",
            node("0").to_string(),
            "unknown parameter",
            Some("color"),
        ),
    ];
    for (query, body, needle, parameter) in table {
        let response = client()
            .post(server.url(&format!("/v1/validate{query}")))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let error = expect_error(response, 400, "INVALID_REQUEST").await;
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{query} {body}: {error}"
        );
        if let Some(parameter) = parameter {
            assert_eq!(error["details"]["parameter"], parameter, "{error}");
        }
    }
    let get = client()
        .get(server.url("/v1/validate"))
        .send()
        .await
        .unwrap();
    expect_error(get, 405, "METHOD_NOT_ALLOWED").await;
    server.stop().await;
}

#[tokio::test]
async fn a_snapshot_that_gives_a_reading_twice_is_400_as_for_the_recipe_endpoint() {
    let server = TestServer::start(config()).await;
    // serde_json would keep the last reading (60, a failure); the first says 0 (a pass). Which one
    // the node has is not for the server to guess.
    let node = node("0").to_string();
    let twice = node.replacen(
        r#""/proc/sys/vm/swappiness":"0""#,
        r#""/proc/sys/vm/swappiness":"0","/proc/sys/vm/swappiness":"60""#,
        1,
    );
    assert_ne!(twice, node, "the reading was doubled");
    for body in [
        twice,
        node.replacen(
            r#""kind":"Snapshot""#,
            r#""kind":"Snapshot","kind":"Snapshot""#,
            1,
        ),
    ] {
        let response = client()
            .post(server.url("/v1/validate"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let error = expect_error(response, 400, "INVALID_REQUEST").await;
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("more than once")
                && (message.contains("\"/proc/sys/vm/swappiness\"")
                    || message.contains("\"kind\"")),
            "{body}: {message}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn overlay_layers_add_vendor_constraints_on_top_of_the_data() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let acme = |mtu: u32| {
        format!(
            "overlays:\n  - key: {{gpu: h100}}\n    measurements:\n      - type: acme-nic\n        subtypes:\n          - subtype: eth0\n            data: {{mtu: {mtu}}}\n"
        )
    };
    std::fs::write(first.path().join("acme.yaml"), acme(9000)).unwrap();
    std::fs::write(second.path().join("acme.yaml"), acme(1500)).unwrap();
    let mut node = node("0");
    node["measurements"].as_array_mut().unwrap().push(
        json!({"type": "ACME-NIC", "subtypes": [{"subtype": "eth0", "data": {"mtu": 9000}}]}),
    );
    for (layers, status, winner) in [
        (vec![first.path(), second.path()], "failed", second.path()),
        (vec![second.path(), first.path()], "passed", first.path()),
    ] {
        let server = TestServer::start(crate::ServerConfig {
            overlay_dirs: layers.iter().map(|p| p.to_path_buf()).collect(),
            ..config()
        })
        .await;
        let report: Value = post(&server, "", &node).await.json().await.unwrap();
        let mtu = result(&report, "mtu");
        assert_eq!(mtu["type"], "acme-nic", "{mtu}");
        assert_eq!(mtu["status"], status, "{mtu}");
        let file = winner.join("acme.yaml");
        assert_eq!(mtu["source"], format!("{} (gpu=h100)", file.display()));
        // The built-in data is still checked.
        assert_eq!(
            result(&report, "/proc/sys/vm/swappiness")["source"],
            "base.yaml"
        );
        server.stop().await;
    }
}

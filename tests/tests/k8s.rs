//! End-to-end: `eidos snapshot --collectors k8s`, the real binary loading the real `k8s` plugin,
//! against the fake Kubernetes API server of `eidos-k8s-fake`.
//!
//! The server is a fake because no real Kubernetes API server can run on the machines that test
//! eidos; it speaks the protocol the collector uses (HTTP on loopback, a generated kubeconfig,
//! `k8s-openapi` objects, real pagination, `Status` errors) and injects faults on demand.

use eidos_e2e::{eidos, run, Hermetic, PluginDir};
use eidos_k8s_fake::{reference_like_cluster, FakeApiServer, Fault};
use serde_json::Value;
use std::path::Path;

const PLUGINS: &[&str] = &["collector_k8s", "serializer_json", "serializer_yaml"];

/// `eidos` with no kubeconfig reachable except what the test passes.
/// (`eidos` already clears `KUBECONFIG`, `KUBERNETES_SERVICE_HOST` and `NODE_NAME`.)
fn eidos_isolated(dir: &PluginDir, home: &Path) -> Hermetic {
    let mut cmd = eidos(&[dir.path()]);
    cmd.env("HOME", home);
    cmd
}

fn subtype<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    doc["measurements"]
        .as_array()?
        .iter()
        .find(|m| m["type"] == "k8s")?["subtypes"]
        .as_array()?
        .iter()
        .find(|s| s["subtype"] == name)
}

#[test]
fn snapshot_of_a_fake_cluster_through_the_real_binary_and_plugin() {
    let server = FakeApiServer::start(reference_like_cluster()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(work.path()).unwrap();
    let dir = PluginDir::with(PLUGINS);
    let out = run(eidos_isolated(&dir, work.path())
        .env("NODE_NAME", "ip-10-0-1-17.ec2.internal")
        .args([
            "snapshot",
            "--collectors",
            "k8s",
            "--format",
            "yaml",
            "--set",
        ])
        .arg(format!("k8s.kubeconfig={}", kubeconfig.display())));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let yaml: serde_yaml::Value = serde_yaml::from_str(&out.stdout).unwrap();
    let doc: Value = serde_json::to_value(yaml).unwrap();
    assert_eq!(doc["metadata"]["collectors"]["k8s"]["status"], "ok");
    assert_eq!(doc["metadata"]["complete"], true);
    let names: Vec<&str> = doc["measurements"][0]["subtypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subtype"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["server", "image", "policy", "node"]);
    assert_eq!(
        subtype(&doc, "server").unwrap()["data"]["version"],
        "v1.30.14-eks-3025e55"
    );
    assert_eq!(
        subtype(&doc, "image").unwrap()["data"]["gpu-operator-validator"],
        "v25.3.0"
    );
    // The policy survives the YAML serializer as text, lists included, exactly as the
    // reference snapshot has them.
    let reference: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(eidos_e2e::reference_snapshot()).unwrap())
            .unwrap();
    let reference: Value = serde_json::to_value(reference).unwrap();
    let reference_policy = reference["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "K8s")
        .unwrap()["subtypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subtype"] == "policy")
        .unwrap()["data"]
        .clone();
    let policy = &subtype(&doc, "policy").unwrap()["data"];
    for key in [
        "daemonsets.tolerations",
        "driver.manager.env",
        "kataManager.config.runtimeClasses",
        "driver.upgradePolicy.maxUnavailable",
        "driver.startupProbe.failureThreshold",
        "cdi.enabled",
        "driver.certConfig.name",
    ] {
        assert_eq!(policy[key], reference_policy[key], "{key}");
        assert!(policy[key].is_string(), "{key}");
    }
    assert_eq!(
        subtype(&doc, "node").unwrap()["data"]["nvidia.com/gpu.product"],
        "NVIDIA-H100-80GB-HBM3"
    );
    assert!(server.requests_to("/api/v1/pods").len() == 1);
}

#[test]
fn forbidden_clusterpolicies_is_a_warning_in_the_snapshot_metadata() {
    let server = FakeApiServer::start(reference_like_cluster()).unwrap();
    server.inject(Fault::always("/apis/nvidia.com/v1/clusterpolicies", 403));
    let work = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(work.path()).unwrap();
    let dir = PluginDir::with(PLUGINS);
    let out = run(eidos_isolated(&dir, work.path())
        .env("KUBECONFIG", &kubeconfig)
        .args(["snapshot", "--collectors", "k8s", "--format", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let report = &doc["metadata"]["collectors"]["k8s"];
    assert_eq!(report["status"], "ok");
    let warning = report["warnings"][0].as_str().unwrap();
    assert!(warning.contains("`list` on `clusterpolicies`"), "{warning}");
    assert!(subtype(&doc, "policy").is_none());
    assert!(subtype(&doc, "image").is_some());
}

#[test]
fn without_any_kubernetes_configuration_the_collector_is_not_applicable() {
    let home = tempfile::tempdir().unwrap();
    let dir = PluginDir::with(PLUGINS);
    let out = run(eidos_isolated(&dir, home.path()).args([
        "snapshot",
        "--collectors",
        "k8s",
        "--format",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let report = &doc["metadata"]["collectors"]["k8s"];
    assert_eq!(report["status"], "not-applicable");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .contains("no Kubernetes configuration"),
        "{report}"
    );
    assert_eq!(doc["metadata"]["complete"], true);
}

#[test]
fn a_failing_api_server_trips_the_breaker_and_fails_the_run() {
    let server = FakeApiServer::start(reference_like_cluster()).unwrap();
    server.inject(Fault::always("/", 503));
    let work = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(work.path()).unwrap();
    let dir = PluginDir::with(PLUGINS);
    let out = run(eidos_isolated(&dir, work.path())
        .env("KUBECONFIG", &kubeconfig)
        .args(["snapshot", "--collectors", "k8s", "--format", "json"]));
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("circuit breaker open"),
        "{}",
        out.stderr
    );
    assert_eq!(server.requests().len(), 5);
}

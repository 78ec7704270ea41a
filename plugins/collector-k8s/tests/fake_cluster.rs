//! The `k8s` collector against the fake Kubernetes API server (`eidos-k8s-fake`).
//!
//! A real API server cannot run on the machines that test eidos, so these tests use a
//! protocol-faithful fake: real HTTP on loopback, a generated kubeconfig, objects serialized from
//! `k8s-openapi` types, real `limit`/`continue` pagination, `Status` error bodies, and injected
//! faults. The collector under test is the real one, with its real kube client.

use eidos_k8s_fake::{
    pod, reference_like_cluster, synthetic_pods, FakeApiServer, FakeCluster, Fault,
};
use eidos_plugin_api::{
    CancelToken, CollectContext, CollectError, Collection, Measurement, Outcome, Reading,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Run {
    result: Result<Outcome, CollectError>,
    elapsed: Duration,
}

/// Runs the collector with `options`, a `HOME` with no kubeconfig, and `extra_env`.
fn run_with(
    options: &[(&str, &str)],
    extra_env: &[(&str, &str)],
    timeout: Duration,
    cancel: &AtomicBool,
) -> Run {
    let home = tempfile::tempdir().unwrap();
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("HOME".into(), home.path().display().to_string());
    for (k, v) in extra_env {
        env.insert((*k).into(), (*v).into());
    }
    let options: BTreeMap<String, String> = options
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let ctx = CollectContext::new(&options, Path::new("/"), timeout, CancelToken::new(cancel));
    let started = Instant::now();
    let result = eidos_collector_k8s::collect_with_env(&ctx, &|k| env.get(k).cloned());
    Run {
        result,
        elapsed: started.elapsed(),
    }
}

/// A fake server for `cluster` and a kubeconfig pointing at it.
fn serve(cluster: FakeCluster) -> (FakeApiServer, tempfile::TempDir, String) {
    let server = FakeApiServer::start(cluster).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(dir.path()).unwrap();
    (server, dir, kubeconfig.display().to_string())
}

fn collect(kubeconfig: &str, extra: &[(&str, &str)]) -> Run {
    let flag = AtomicBool::new(false);
    let mut options = vec![("kubeconfig", kubeconfig)];
    options.extend_from_slice(extra);
    run_with(&options, &[], Duration::from_secs(30), &flag)
}

fn collected(run: Run) -> (Measurement, Vec<String>) {
    match run.result {
        Ok(Outcome::Collected(Collection {
            mut measurements,
            warnings,
        })) => {
            assert_eq!(measurements.len(), 1);
            let m = measurements.remove(0);
            assert_eq!(m.kind, "k8s");
            (m, warnings)
        }
        other => panic!("expected a collection, got {other:?}"),
    }
}

fn text(m: &Measurement, subtype: &str, key: &str) -> String {
    match m.subtype(subtype).map(|s| s.data.get(key)) {
        Some(Some(Reading::Str(s))) => s.clone(),
        other => panic!("{subtype}.{key}: {other:?}"),
    }
}

fn reference_k8s(subtype: &str) -> serde_yaml::Mapping {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
    let k8s = doc["measurements"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "K8s")
        .unwrap();
    k8s["subtypes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["subtype"] == subtype)
        .unwrap()["data"]
        .as_mapping()
        .unwrap()
        .clone()
}

#[test]
fn server_subtype_matches_the_reference_shape() {
    let (_server, _dir, kc) = serve(reference_like_cluster());
    let (m, warnings) = collected(collect(&kc, &[]));
    assert!(warnings.is_empty(), "{warnings:?}");
    let names: Vec<_> = m.subtypes.iter().map(|s| s.subtype.as_str()).collect();
    assert_eq!(
        names,
        ["server", "image", "policy"],
        "no node without NODE_NAME"
    );
    let server = m.subtype("server").unwrap();
    let reference = reference_k8s("server");
    let keys: Vec<&str> = server.data.keys().map(String::as_str).collect();
    let reference_keys: Vec<&str> = reference.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(keys, reference_keys);
    for (k, v) in &reference {
        assert_eq!(text(&m, "server", k.as_str().unwrap()), v.as_str().unwrap());
    }
}

#[test]
fn image_subtype_has_every_container_and_init_container_image() {
    let (_server, _dir, kc) = serve(reference_like_cluster());
    let (m, _) = collected(collect(&kc, &[]));
    let image = m.subtype("image").unwrap();
    let got: Vec<(&str, &str)> = image
        .data
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        [
            ("amazon-k8s-cni", "v1.19.2-eksbuild.1"),
            ("amazon-k8s-cni-init", "v1.19.2-eksbuild.1"),
            ("aws-network-policy-agent", "v1.1.6-eksbuild.1"),
            ("coredns", "v1.11.4-eksbuild.2"),
            ("dcgm-exporter", "4.1.1-4.0.4-ubuntu22.04"),
            ("eidos", "latest"),
            ("gpu-operator", "v25.3.0"),
            ("gpu-operator-validator", "v25.3.0"),
            ("k8s-device-plugin", "v0.17.1"),
            (
                "operator",
                "sha256:4f1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0"
            ),
            ("redis", "7.4.2"),
        ]
    );
    // Every name that is also in the reference snapshot has the reference's tag.
    let reference = reference_k8s("image");
    let mut compared = 0;
    for (name, tag) in &got {
        if let Some(expected) = reference.get(*name) {
            assert_eq!(Some(*tag), expected.as_str(), "{name}");
            compared += 1;
        }
    }
    assert!(
        compared >= 8,
        "only {compared} images shared with the reference"
    );
}

#[test]
fn policy_subtype_is_flattened_like_the_reference() {
    let (_server, _dir, kc) = serve(reference_like_cluster());
    let (m, _) = collected(collect(&kc, &[]));
    let policy = m.subtype("policy").unwrap();
    let reference = reference_k8s("policy");
    let mut compared = 0;
    for (key, value) in &policy.data {
        let Reading::Str(value) = value else {
            panic!("{key} is not text: {value:?}")
        };
        if let Some(expected) = reference.get(key.as_str()) {
            assert_eq!(Some(value.as_str()), expected.as_str(), "{key}");
            compared += 1;
        }
    }
    assert!(
        compared >= 80,
        "only {compared} keys shared with the reference"
    );
    assert_eq!(
        text(&m, "policy", "daemonsets.tolerations"),
        r#"[{"effect":"NoSchedule","operator":"Exists"},{"effect":"NoExecute","operator":"Exists"}]"#
    );
    assert_eq!(
        text(
            &m,
            "policy",
            "daemonsets.labels.app.kubernetes.io/managed-by"
        ),
        "gpu-operator"
    );
    assert_eq!(
        text(&m, "policy", "driver.startupProbe.failureThreshold"),
        "120"
    );
    assert_eq!(text(&m, "policy", "driver.certConfig.name"), "");
    assert!(
        !policy
            .data
            .keys()
            .any(|k| k.starts_with("metadata") || k.starts_with("status")),
        "only the spec is flattened"
    );
}

#[test]
fn node_subtype_comes_from_node_name_or_the_node_option() {
    let (server, _dir, kc) = serve(reference_like_cluster());
    let flag = AtomicBool::new(false);
    let by_env = run_with(
        &[("kubeconfig", &kc)],
        &[("NODE_NAME", "ip-10-0-1-17.ec2.internal")],
        Duration::from_secs(30),
        &flag,
    );
    let (m, warnings) = collected(by_env);
    assert!(warnings.is_empty(), "{warnings:?}");
    let node = m.subtype("node").unwrap();
    let expect = [
        ("allocatable.nvidia.com/gpu", "8"),
        ("architecture", "arm64"),
        ("containerRuntimeVersion", "containerd://1.7.27"),
        ("feature.node.kubernetes.io/cpu-model.vendor_id", "ARM"),
        (
            "feature.node.kubernetes.io/kernel-version.full",
            "6.8.0-1024-aws",
        ),
        ("feature.node.kubernetes.io/pci-10de.present", "true"),
        ("kernelVersion", "6.8.0-1024-aws"),
        ("kubeletVersion", "v1.30.6-eks-a737599"),
        ("name", "ip-10-0-1-17.ec2.internal"),
        ("nvidia.com/cuda.driver.major", "570"),
        ("nvidia.com/gpu.count", "8"),
        ("nvidia.com/gpu.present", "true"),
        ("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"),
        ("nvidia.com/mig.strategy", "single"),
        ("operatingSystem", "linux"),
        ("osImage", "Ubuntu 22.04.5 LTS"),
    ];
    let got: Vec<(&str, &str)> = node
        .data
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
        .collect();
    assert_eq!(got, expect, "other labels (kubernetes.io/…) are left out");
    assert_eq!(
        server
            .requests_to("/api/v1/nodes/ip-10-0-1-17.ec2.internal")
            .len(),
        1
    );

    // The option wins over the environment; an unknown node is a warning, not a failure.
    let by_option = run_with(
        &[("kubeconfig", &kc), ("node", "no-such-node")],
        &[("NODE_NAME", "ip-10-0-1-17.ec2.internal")],
        Duration::from_secs(30),
        &flag,
    );
    let (m, warnings) = collected(by_option);
    assert!(m.subtype("node").is_none());
    assert!(m.subtype("image").is_some());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("no-such-node"), "{warnings:?}");
}

#[test]
fn pods_are_listed_in_pages_of_500_following_continue_tokens() {
    let mut cluster = reference_like_cluster();
    cluster.pods = synthetic_pods(1_234, 2, 40);
    let (server, _dir, kc) = serve(cluster);
    let (m, _) = collected(collect(&kc, &[]));
    let image = m.subtype("image").unwrap();
    assert_eq!(image.data.len(), 40);
    assert_eq!(text(&m, "image", "app-39"), "v1.39.0");

    let lists = server.requests_to("/api/v1/pods");
    assert_eq!(lists.len(), 3, "{lists:?}");
    assert!(lists.iter().all(|r| r.param("limit") == Some("500")));
    assert_eq!(lists[0].param("continue"), None);
    assert!(lists[1].param("continue").is_some());
    assert!(lists[2].param("continue").is_some());
    assert_ne!(lists[1].param("continue"), lists[2].param("continue"));
    assert!(lists.iter().all(|r| r.status == 200));
}

#[test]
fn an_expired_continue_token_restarts_the_listing_cleanly() {
    let mut cluster = reference_like_cluster();
    let old: Vec<_> = (0..1_200)
        .map(|i| {
            pod(
                "apps",
                &format!("old-{i:04}"),
                &["example.invalid/old-app:1"],
                &[],
            )
        })
        .collect();
    cluster.pods = old;
    let (server, _dir, kc) = serve(cluster);
    // Between the first and second page, the pods churn and the token is compacted away.
    let new: Vec<_> = (0..700)
        .map(|i| {
            pod(
                "apps",
                &format!("new-{i:04}"),
                &["example.invalid/new-app:2"],
                &[],
            )
        })
        .collect();
    server.inject(Fault::ExpireContinue {
        times: 1,
        replace_pods: Some(new),
    });
    let (m, _) = collected(collect(&kc, &[]));
    let image = m.subtype("image").unwrap();
    let names: Vec<&str> = image.data.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["new-app"],
        "the first pass's images are discarded on restart"
    );
    let lists = server.requests_to("/api/v1/pods");
    let statuses: Vec<u16> = lists.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 410, 200, 200]);
    assert!(lists[1].param("continue").is_some());
    assert_eq!(
        lists[2].param("continue"),
        None,
        "the restart begins without a token"
    );
}

#[test]
fn a_429_waits_for_retry_after() {
    let (server, _dir, kc) = serve(reference_like_cluster());
    server.inject(Fault::throttle("/version", 1));
    let (m, warnings) = collected(collect(&kc, &[]));
    assert!(warnings.is_empty());
    assert_eq!(text(&m, "server", "version"), "v1.30.14-eks-3025e55");
    let calls = server.requests_to("/version");
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].status, 429);
    assert_eq!(calls[1].status, 200);
    let waited = calls[1].at - calls[0].at;
    // The backoff alone would have waited at most 200 ms.
    assert!(waited >= Duration::from_millis(1000), "{waited:?}");
}

#[test]
fn two_503s_then_success_is_retried_with_backoff() {
    let (server, _dir, kc) = serve(reference_like_cluster());
    server.inject(Fault::times("/api/v1/pods", 503, 2));
    let (m, warnings) = collected(collect(&kc, &[]));
    assert!(warnings.is_empty());
    assert_eq!(text(&m, "image", "gpu-operator"), "v25.3.0");
    let calls = server.requests_to("/api/v1/pods");
    let statuses: Vec<u16> = calls.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
    // Lower bounds only: a wait is never shorter than the backoff asks, but a loaded machine can
    // make any wait longer. The exact waits are checked on a paused clock in `resilience.rs`.
    let first = calls[1].at - calls[0].at;
    let second = calls[2].at - calls[1].at;
    assert!(first >= Duration::from_millis(100), "{first:?}");
    assert!(second >= Duration::from_millis(200), "{second:?}");
}

#[test]
fn the_breaker_opens_after_five_consecutive_failures_and_stops_calling() {
    let (server, _dir, kc) = serve(reference_like_cluster());
    server.inject(Fault::always("/", 503));
    let run = collect(&kc, &[]);
    let err = run.result.unwrap_err().to_string();
    assert!(err.contains("circuit breaker open"), "{err}");
    assert!(err.contains("5 consecutive failed requests"), "{err}");
    assert!(err.contains("503"), "{err}");
    assert_eq!(
        server.requests().len(),
        5,
        "no request after the breaker opened"
    );
}

#[test]
fn forbidden_clusterpolicies_is_a_warning_naming_the_permission() {
    let (server, _dir, kc) = serve(reference_like_cluster());
    server.inject(Fault::always("/apis/nvidia.com/v1/clusterpolicies", 403));
    let (m, warnings) = collected(collect(&kc, &[]));
    assert!(m.subtype("policy").is_none());
    assert!(m.subtype("server").is_some() && m.subtype("image").is_some());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert!(w.contains("`list` on `clusterpolicies`"), "{w}");
    assert!(w.contains("\"nvidia.com\""), "{w}");
    assert!(w.contains("forbidden"), "{w}");
    // 403 is an answer, not a transient failure: asked once.
    assert_eq!(
        server
            .requests_to("/apis/nvidia.com/v1/clusterpolicies")
            .len(),
        1
    );
}

#[test]
fn forbidden_pods_leaves_images_out_with_a_warning() {
    let (server, _dir, kc) = serve(reference_like_cluster());
    server.inject(Fault::always("/api/v1/pods", 403));
    let (m, warnings) = collected(collect(&kc, &[]));
    assert!(m.subtype("image").is_none());
    assert!(m.subtype("policy").is_some());
    assert!(warnings[0].contains("`list` on `pods`"), "{warnings:?}");
}

#[test]
fn no_clusterpolicy_crd_leaves_policy_out_with_a_note() {
    let mut cluster = reference_like_cluster();
    cluster.cluster_policies = None;
    let (server, _dir, kc) = serve(cluster);
    let (m, warnings) = collected(collect(&kc, &[]));
    assert!(m.subtype("policy").is_none());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("not installed"), "{warnings:?}");
    let calls = server.requests_to("/apis/nvidia.com/v1/clusterpolicies");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, 404);
}

#[test]
fn no_configuration_anywhere_is_not_applicable() {
    let flag = AtomicBool::new(false);
    let run = run_with(&[], &[], Duration::from_secs(5), &flag);
    match run.result {
        Ok(Outcome::NotApplicable(reason)) => {
            assert!(reason.contains("no Kubernetes configuration"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // KUBECONFIG naming a file makes it applicable.
    let (_server, _dir, kc) = serve(reference_like_cluster());
    let run = run_with(&[], &[("KUBECONFIG", &kc)], Duration::from_secs(30), &flag);
    collected(run);
}

#[test]
fn a_named_kubeconfig_that_does_not_exist_is_an_error_naming_it() {
    let flag = AtomicBool::new(false);
    let run = run_with(
        &[("kubeconfig", "/nonexistent/eidos-kubeconfig")],
        &[],
        Duration::from_secs(5),
        &flag,
    );
    let err = run.result.unwrap_err().to_string();
    assert!(err.contains("/nonexistent/eidos-kubeconfig"), "{err}");
}

#[test]
fn the_context_option_selects_the_context() {
    let server = FakeApiServer::start(reference_like_cluster()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kc = server
        .write_kubeconfig_with_current(dir.path(), "elsewhere")
        .unwrap()
        .display()
        .to_string();
    let (m, _) = collected(collect(&kc, &[("context", "fake")]));
    assert!(m.subtype("server").is_some());
    let err = collect(&kc, &[("context", "missing")])
        .result
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing"), "{err}");
}

/// How long the fake asks the collector to wait after a `429` in the tests below: far longer than
/// any machine needs to notice a cancellation or a timeout, so finishing before it is over
/// proves the wait was cut short.
const RETRY_AFTER: Duration = Duration::from_secs(30);

#[test]
fn cancellation_stops_a_waiting_collector_promptly() {
    let (server, _dir, kc) = serve(reference_like_cluster());
    server.inject(Fault::throttle("/version", RETRY_AFTER.as_secs()));
    let server = Arc::new(server);
    let flag = Arc::new(AtomicBool::new(false));
    let (setter, watched) = (Arc::clone(&flag), Arc::clone(&server));
    // Cancel once the collector has been told to wait, not after a guessed delay.
    let cancel_at = std::thread::spawn(move || {
        let give_up = Instant::now() + RETRY_AFTER;
        while watched.requests_to("/version").is_empty() {
            assert!(Instant::now() < give_up, "the collector never asked");
            std::thread::sleep(Duration::from_millis(5));
        }
        setter.store(true, Ordering::Relaxed);
        Instant::now()
    });
    let run = run_with(&[("kubeconfig", &kc)], &[], Duration::from_secs(600), &flag);
    let finished = Instant::now();
    let cancelled_at = cancel_at.join().unwrap();
    assert_eq!(run.result.unwrap_err(), CollectError::Cancelled);
    let lag = finished.saturating_duration_since(cancelled_at);
    assert!(lag < RETRY_AFTER, "stopped {lag:?} after cancellation");
    assert_eq!(
        server.requests_to("/version").len(),
        1,
        "no retry after cancellation"
    );
}

#[test]
fn the_host_timeout_bounds_the_run() {
    let (server, _dir, kc) = serve(reference_like_cluster());
    server.inject(Fault::throttle("/version", RETRY_AFTER.as_secs()));
    let flag = AtomicBool::new(false);
    let run = run_with(
        &[("kubeconfig", &kc)],
        &[],
        Duration::from_millis(700),
        &flag,
    );
    let err = run.result.unwrap_err().to_string();
    assert!(err.contains("timeout"), "{err}");
    // Whether the timeout came during the 429's wait or before the first answer, the run ended
    // without sitting the wait out.
    assert!(run.elapsed < RETRY_AFTER, "{:?}", run.elapsed);
    assert!(server.requests_to("/version").len() <= 1);
}

#[test]
fn a_part_still_failing_after_three_retries_is_left_out_and_the_rest_collected() {
    let (server, _dir, kc) = serve(reference_like_cluster());
    server.inject(Fault::times("/api/v1/pods", 503, 4));
    let (m, warnings) = collected(collect(&kc, &[]));
    assert!(m.subtype("image").is_none());
    assert!(m.subtype("server").is_some() && m.subtype("policy").is_some());
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("image left out"), "{warnings:?}");
    assert!(warnings[0].contains("503"), "{warnings:?}");
    assert_eq!(
        server.requests_to("/api/v1/pods").len(),
        4,
        "1 try + 3 retries"
    );
}

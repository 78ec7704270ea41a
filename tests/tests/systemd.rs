//! End to end: the built `eidos` with the built systemd collector, against a real systemd user
//! manager on a private session bus (the `eidos-systemd-harness` crate; needs root and `unshare`).
//! eidos finds the bus the way an operator's shell would: `--set systemd.bus=session` and the
//! session bus address in its environment.

use eidos_e2e::{eidos, run, wait_until, PluginDir, Run};
use eidos_systemd_harness::{node_units, UserSystemd, CONTAINERD, DOCKER, KUBELET};
use serde_json::Value;

const PLUGINS: &[&str] = &["collector_systemd", "serializer_json", "serializer_yaml"];

fn snapshot(harness: &UserSystemd, dir: &PluginDir, extra: &[&str]) -> Run {
    let mut cmd = eidos(&[dir.path()]);
    cmd.args([
        "snapshot",
        "--collectors",
        "systemd",
        "--set",
        "systemd.bus=session",
    ])
    .args(extra)
    .env_remove("DBUS_SESSION_BUS_ADDRESS")
    .env_remove("XDG_RUNTIME_DIR");
    for (key, value) in harness.session_env() {
        cmd.env(key, value);
    }
    run(&mut cmd)
}

fn unit<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let measurement = doc["measurements"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["type"] == "systemd"))
        .unwrap_or_else(|| panic!("no systemd measurement in {doc}"));
    let subtype = measurement["subtypes"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["subtype"] == name))
        .unwrap_or_else(|| panic!("no subtype {name}"));
    &subtype["data"]
}

#[test]
fn snapshot_reads_a_real_systemd_over_the_session_bus() {
    let harness = UserSystemd::start(&node_units()).unwrap();
    let dir = PluginDir::with(PLUGINS);
    let out = snapshot(&harness, &dir, &["--format", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(
        doc["metadata"]["collectors"]["systemd"]["status"], "ok",
        "{doc}"
    );

    let containerd = unit(&doc, CONTAINERD);
    assert_eq!(containerd["ActiveState"], "active");
    assert_eq!(containerd["SubState"], "running");
    assert_eq!(
        containerd["Description"],
        "containerd container runtime (eidos test double)"
    );
    assert_eq!(containerd["LimitNOFILE"].as_u64(), Some(1_048_576));
    assert_eq!(containerd["MemoryMax"].as_u64(), Some(u64::MAX));
    assert_eq!(containerd["Documentation"], "[https://containerd.io]");
    assert_eq!(containerd["CanStart"], true);

    let docker = unit(&doc, DOCKER);
    assert_eq!(docker["LoadState"], "loaded");
    assert_eq!(docker["ActiveState"], "inactive");
    assert_eq!(docker["UnitFileState"], "disabled");

    let kubelet = unit(&doc, KUBELET);
    assert_eq!(kubelet["LoadState"], "not-found");
    assert_eq!(kubelet["ActiveState"], "inactive");

    // What eidos loaded only to answer, systemd lets go of again.
    wait_until("systemd unloads kubelet and docker", || {
        !harness.is_loaded(KUBELET).unwrap() && !harness.is_loaded(DOCKER).unwrap()
    });
}

#[test]
fn yaml_snapshot_keeps_exact_integers_and_the_go_tools_array_form() {
    let harness = UserSystemd::start(&node_units()).unwrap();
    let dir = PluginDir::with(PLUGINS);
    let out = snapshot(
        &harness,
        &dir,
        &[
            "--format",
            "yaml",
            "--set",
            &format!("systemd.units={CONTAINERD}"),
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("      LimitNOFILE: 1048576\n"),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("      MemoryMax: 18446744073709551615\n"));
    assert!(out.stdout.contains("      Names: '[containerd.service]'\n"));
    let doc: serde_yaml::Value = serde_yaml::from_str(&out.stdout).unwrap();
    let data = &doc["measurements"][0]["subtypes"][0]["data"];
    assert_eq!(data["MemoryMax"].as_u64(), Some(u64::MAX));
    assert_eq!(data["ActiveState"].as_str(), Some("active"));
}

#[test]
fn no_bus_at_the_given_address_is_not_applicable_and_not_a_failure() {
    let dir = PluginDir::with(PLUGINS);
    let missing = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", missing.path().join("bus").display());
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "systemd",
        "--set",
        &format!("systemd.bus={address}"),
        "--format",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let record = &doc["metadata"]["collectors"]["systemd"];
    assert_eq!(record["status"], "not-applicable", "{doc}");
    assert!(
        record["reason"].as_str().unwrap().contains(&address),
        "{record}"
    );
    assert_eq!(doc["measurements"], Value::Array(Vec::new()));
}

#[test]
fn a_unit_name_without_a_type_is_refused_with_the_option_named() {
    let dir = PluginDir::with(PLUGINS);
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "systemd",
        "--set",
        "systemd.units=kubelet",
    ]));
    assert_eq!(
        out.code,
        Some(2),
        "a bad option value is a usage error: {}",
        out.stderr
    );
    assert!(out.stderr.contains("option units"), "{}", out.stderr);
    assert!(out.stderr.contains("\"kubelet\""), "{}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "nothing half-written: {}",
        out.stdout
    );
}

//! End-to-end tests of `eidos diff` and `eidos fleet report`: the built binary with the built
//! collector and serializer plugins (whose manifests declare the volatile keys), snapshots of this
//! machine and of a real systemd, the Go tool's reference snapshot changed in known ways, the
//! JSON Patch applied by an independent implementation (Python's `jsonpatch`), and bad inputs.

use eidos_e2e::{eidos, reference_snapshot, run, PluginDir, Run};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

fn plugins() -> PluginDir {
    PluginDir::with(&[
        "collector_os",
        "collector_systemd",
        "collector_example",
        "serializer_json",
        "serializer_yaml",
        "serializer_table",
    ])
}

fn eidos_run(dir: &PluginDir, args: &[&str]) -> Run {
    run(eidos(&[dir.path()]).args(args))
}

/// The reference snapshot (the Go tool's format) as a JSON value.
fn reference() -> Value {
    serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap()
}

/// The data map of `kind/subtype` in a snapshot document.
fn data<'a>(
    doc: &'a mut Value,
    kind: &str,
    subtype: &str,
) -> &'a mut serde_json::Map<String, Value> {
    doc["measurements"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["type"].as_str().unwrap().eq_ignore_ascii_case(kind))
        .unwrap()["subtypes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["subtype"] == subtype)
        .unwrap()["data"]
        .as_object_mut()
        .unwrap()
}

fn write_json(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(doc).unwrap()).unwrap();
    path
}

fn write_yaml(dir: &Path, name: &str, doc: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_yaml::to_string(doc).unwrap()).unwrap();
    path
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn two_snapshots_of_this_machine_in_a_row_do_not_drift_but_their_volatile_readings_do() {
    let dir = plugins();
    let work = tempfile::tempdir().unwrap();
    let take = |name: &str| {
        let path = work.path().join(name);
        let out = eidos_run(
            &dir,
            &["snapshot", "--collectors", "os,example", "-o", s(&path)],
        );
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        path
    };
    let (first, second) = (take("first.yaml"), take("second.yaml"));
    let out = eidos_run(&dir, &["diff", s(&first), s(&second), "-f", "json"]);
    let report = out.json();
    assert_eq!(out.code, Some(0), "no drift: {report:#}\n{}", out.stderr);
    assert_eq!(report["kind"], "SnapshotDiff");
    assert_eq!(report["summary"]["drift"], false);
    assert!(report["summary"]["ignored"].as_u64().unwrap() > 0);
    // Every pattern the built collectors declare parses (a bad one would be warned about).
    assert!(
        !out.stderr.contains("invalid volatile key pattern"),
        "{}",
        out.stderr
    );
    let origins: Vec<&Value> = report["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["origin"]["name"])
        .collect();
    for collector in ["os", "systemd", "example"] {
        assert!(origins.contains(&&json!(collector)), "{origins:?}");
    }

    // The declared volatile readings are what kept them apart: a new UUID on every read at least.
    let out = eidos_run(
        &dir,
        &[
            "diff",
            s(&first),
            s(&second),
            "-f",
            "json",
            "--include-volatile",
        ],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let changed: Vec<String> = out.json()["changes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| {
            let place = format!(
                "{}/{}",
                c["type"].as_str().unwrap(),
                c["subtype"].as_str().unwrap()
            );
            c["changed"]
                .as_object()
                .unwrap()
                .keys()
                .map(move |k| format!("{place}/{k}"))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        changed.contains(&"os/sysctl//proc/sys/kernel/random/uuid".to_owned()),
        "{changed:?}"
    );
    assert!(out.stderr.contains("drift:"), "{}", out.stderr);
}

#[test]
fn a_diff_lists_added_removed_and_changed_readings_and_exits_3() {
    let dir = plugins();
    let work = tempfile::tempdir().unwrap();
    let mut new = reference();
    data(&mut new, "os", "sysctl").insert("/proc/sys/net/core/bpf_jit_harden".into(), json!("2"));
    data(&mut new, "os", "sysctl").insert("/proc/sys/vm/swappiness".into(), json!("10"));
    data(&mut new, "os", "grub").remove("iommu");
    data(&mut new, "gpu", "smi").insert("driver".into(), json!("580.65.06"));
    // Volatile in the systemd collector's manifest: not drift.
    data(&mut new, "systemd", "containerd.service").insert("MainPID".into(), json!("4242"));
    new["metadata"]["measurement-timestamp"] = json!("2026-04-01T00:00:00Z");
    let new = write_yaml(work.path(), "new.yaml", &new);
    let old = reference_snapshot();

    let out = eidos_run(&dir, &["diff", s(&old), s(&new), "-f", "json"]);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let report = out.json();
    assert_eq!(
        report["summary"],
        json!({"drift": true, "added": 1, "removed": 1, "changed": 2, "collectors": 0,
               "ignored": report["summary"]["ignored"]})
    );
    let groups: Vec<(&str, &str)> = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["type"].as_str().unwrap(), c["subtype"].as_str().unwrap()))
        .collect();
    assert_eq!(groups, [("gpu", "smi"), ("os", "grub"), ("os", "sysctl")]);
    assert_eq!(report["changes"][1]["removed"], json!({"iommu": "pt"}));
    assert_eq!(
        report["changes"][2]["changed"]["/proc/sys/vm/swappiness"],
        json!({"old": "60", "new": "10"})
    );
    assert_eq!(report["old"]["node"], "ip-10-0-71-203.ec2.internal");
    assert_eq!(report["new"]["taken"], "2026-04-01T00:00:00Z");

    // The table, for people; YAML for tools, the same report.
    let out = eidos_run(&dir, &["diff", s(&old), s(&new), "-f", "table"]);
    assert_eq!(out.code, Some(3));
    assert!(
        out.stdout.contains("/proc/sys/vm/swappiness"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.trim_end().ends_with(&format!(
            "DRIFT: 1 added, 1 removed, 2 changed, 0 collector(s) differ ({} reading(s) ignored)",
            report["summary"]["ignored"]
        )),
        "{}",
        out.stdout
    );
    let out = eidos_run(&dir, &["diff", s(&old), s(&new), "-f", "yaml"]);
    let yaml: Value = serde_yaml::from_str(&out.stdout).unwrap();
    assert_eq!(yaml, report);

    // --ignore takes the rest out; then there is no drift.
    let out = eidos_run(
        &dir,
        &[
            "diff",
            s(&old),
            s(&new),
            "-f",
            "json",
            "--ignore",
            "os/*/*",
            "--ignore",
            "GPU/smi/driver",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stdout);
}

#[test]
fn a_collector_that_did_not_run_is_one_line_not_its_readings() {
    let dir = plugins();
    let work = tempfile::tempdir().unwrap();
    let mut new = reference();
    new["measurements"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "GPU");
    new["metadata"]["collectors"] = json!({"gpu": {"status": "not-applicable",
        "reason": "no NVIDIA driver", "duration-ms": 1.0, "plugin-version": "0.1.0"}});
    let new = write_json(work.path(), "new.json", &new);
    let out = eidos_run(
        &dir,
        &["diff", s(&reference_snapshot()), s(&new), "-f", "json"],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["changes"], json!([]));
    assert_eq!(
        report["collectors"],
        json!([{"collector": "gpu", "old": "ran", "new": "not-applicable",
                "newReason": "no NVIDIA driver", "readings": 11}])
    );
}

#[test]
fn the_json_patch_applied_by_python_jsonpatch_turns_old_into_new() {
    let dir = plugins();
    let work = tempfile::tempdir().unwrap();
    let old = reference();
    let mut new = old.clone();
    // Changes in maps, in arrays (an element inserted before others, one removed), in metadata,
    // in a type name's case and in value kinds: the patch must carry every one of them.
    new["metadata"]["measurement-timestamp"] = json!("2027-01-01T00:00:00Z");
    new["metadata"]["zone"] = json!("eu-west-1a");
    data(&mut new, "systemd", "containerd.service").insert("MainPID".into(), json!("7"));
    data(&mut new, "systemd", "containerd.service").insert("LimitNOFILE".into(), json!(1024));
    data(&mut new, "os", "kmod").remove("autofs4");
    let measurements = new["measurements"].as_array_mut().unwrap();
    measurements[0]["subtypes"].as_array_mut().unwrap().insert(
        0,
        json!({"subtype": "nvidia-persistenced.service", "data": {"ActiveState": "active"}}),
    );
    measurements[0]["subtypes"]
        .as_array_mut()
        .unwrap()
        .remove(2);
    measurements[2]["type"] = json!("k8s");
    measurements.push(json!({"type": "example", "subtypes": [{"subtype": "uptime", "data": {"seconds": u64::MAX}}]}));
    let old_path = reference_snapshot();
    let new_path = write_yaml(work.path(), "new.yaml", &new);

    let out = eidos_run(
        &dir,
        &["diff", s(&old_path), s(&new_path), "-f", "json-patch"],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let patch = out.json();
    assert!(
        patch.as_array().is_some_and(|ops| !ops.is_empty()),
        "{patch}"
    );
    let patch_path = write_json(work.path(), "patch.json", &patch);
    let old_json = write_json(work.path(), "old.json", &old);

    // An independent implementation applies it to OLD's document.
    let script = "import json, sys, jsonpatch\n\
        doc = json.load(open(sys.argv[1]))\n\
        patch = jsonpatch.JsonPatch(json.load(open(sys.argv[2])))\n\
        json.dump(patch.apply(doc), sys.stdout)\n";
    let applied = Command::new("python3")
        .args(["-c", script, s(&old_json), s(&patch_path)])
        .output()
        .expect("python3 runs");
    assert!(
        applied.status.success(),
        "python jsonpatch failed (scripts/test.sh installs it): {}",
        String::from_utf8_lossy(&applied.stderr)
    );
    let applied: Value = serde_json::from_slice(&applied.stdout).unwrap();
    assert_eq!(applied, new);

    // The same documents in JSON give the same patch; identical documents an empty one, exit 0.
    let new_json = write_json(work.path(), "new.json", &new);
    let out = eidos_run(
        &dir,
        &["diff", s(&old_json), s(&new_json), "-f", "json-patch"],
    );
    assert_eq!(out.json(), patch);
    let out = eidos_run(
        &dir,
        &["diff", s(&old_json), s(&old_path), "-f", "json-patch"],
    );
    assert_eq!(
        (out.code, out.json()),
        (Some(0), json!([])),
        "{}",
        out.stderr
    );
}

#[test]
fn diff_reads_standard_input_and_refuses_bad_input_with_exit_2() {
    let dir = plugins();
    let work = tempfile::tempdir().unwrap();
    let old = reference_snapshot();
    let mut cmd = eidos(&[dir.path()]);
    cmd.args(["diff", s(&old), "-", "-f", "json"]);
    let child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.as_ref().unwrap();
        stdin
            .write_all(eidos_test_fixtures::H100_EKS_GO_YAML.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["new"]["source"], "-");

    let notes = work.path().join("notes.txt");
    std::fs::write(&notes, "kind: Recipe\napiVersion: v1\n").unwrap();
    // Nested 5,000 flow levels deep: libyaml's scanning time grows with the square of that, so
    // such text is depth-checked before it is parsed.
    let deep = work.path().join("deep.yaml");
    let brackets = 5000;
    std::fs::write(
        &deep,
        format!(
            "kind: Snapshot\napiVersion: snapshot.dgxc.io/v1\nmeasurements: {}{}\n",
            "[".repeat(brackets),
            "]".repeat(brackets)
        ),
    )
    .unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["diff", s(&old), s(&notes)],
            "notes.txt is not a valid snapshot",
        ),
        (
            &["diff", s(&deep), s(&old)],
            "deep.yaml is not a valid snapshot: nested more than 64 levels deep (at line 3)",
        ),
        (
            &["diff", s(&old), s(&deep), "-f", "json-patch"],
            "deep.yaml is not a valid snapshot: nested more than 64 levels deep (at line 3)",
        ),
        (
            &["diff", s(&old), "/nonexistent/new.yaml"],
            "cannot read the snapshot /nonexistent/new.yaml",
        ),
        (
            &["diff", s(&old), s(&old), "--ignore", "os/sysctl"],
            "--ignore: invalid key path \"os/sysctl\"",
        ),
        (&["diff", "-", "-"], "cannot both be standard input"),
        (
            &["diff", s(&old), s(&old), "-f", "xml"],
            "unknown format \"xml\"",
        ),
    ];
    for (args, message) in cases {
        let out = eidos_run(&dir, args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(
            out.stdout.is_empty(),
            "{args:?}: nothing half-written: {}",
            out.stdout
        );
    }
}

#[test]
fn a_restarted_unit_of_a_real_systemd_is_not_drift() {
    use eidos_systemd_harness::{node_units, UserSystemd, CONTAINERD};
    let harness = UserSystemd::start(&node_units()).unwrap();
    let dir = plugins();
    let work = tempfile::tempdir().unwrap();
    let take = |name: &str| {
        let path = work.path().join(name);
        let mut cmd = eidos(&[dir.path()]);
        cmd.args([
            "snapshot",
            "--collectors",
            "systemd",
            "--set",
            "systemd.bus=session",
            "-o",
            s(&path),
        ])
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("XDG_RUNTIME_DIR");
        for (key, value) in harness.session_env() {
            cmd.env(key, value);
        }
        let out = run(&mut cmd);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        path
    };
    let before = take("before.yaml");
    let pid = harness.property(CONTAINERD, "MainPID").unwrap();
    harness.systemctl(&["restart", CONTAINERD]).unwrap();
    eidos_e2e::wait_until("containerd runs again under a new PID", || {
        harness
            .property(CONTAINERD, "MainPID")
            .is_ok_and(|p| p != pid && p != "0")
    });
    let after = take("after.yaml");

    let out = eidos_run(&dir, &["diff", s(&before), s(&after), "-f", "json"]);
    assert_eq!(out.code, Some(0), "{:#}\n{}", out.json(), out.stderr);
    // Not for want of differences: the PID and the times moved.
    let out = eidos_run(
        &dir,
        &[
            "diff",
            s(&before),
            s(&after),
            "-f",
            "json",
            "--include-volatile",
        ],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let report = out.json();
    let containerd = report["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["subtype"] == CONTAINERD)
        .unwrap_or_else(|| panic!("{report:#}"));
    assert!(
        containerd["changed"]["MainPID"].is_object(),
        "{containerd:#}"
    );
    harness.stop().unwrap();
}

/// Writes a fleet of `n` nodes made from the reference snapshot, each with its own name, host
/// name, PIDs and times; returns the directory.
fn fleet_dir(n: usize, plant: impl Fn(usize, &mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..n {
        let mut doc = reference();
        let name = format!("gpu-node-{i:03}");
        doc["metadata"]["source-node"] = json!(name);
        doc["metadata"]["measurement-timestamp"] =
            json!(format!("2026-03-11T14:{:02}:00Z", i % 60));
        data(&mut doc, "os", "sysctl").insert("/proc/sys/kernel/hostname".into(), json!(name));
        data(&mut doc, "os", "sysctl").insert(
            "/proc/sys/fs/file-nr".into(),
            json!(format!("{}\t0\t9", 2000 + i)),
        );
        let unit = data(&mut doc, "systemd", "kubelet.service");
        unit.insert("MainPID".into(), json!((3000 + i).to_string()));
        unit.insert(
            "ActiveEnterTimestamp".into(),
            json!(1_773_232_805_114_203u64 + i as u64),
        );
        plant(i, &mut doc);
        if i % 2 == 0 {
            write_yaml(dir.path(), &format!("{name}.yaml"), &doc);
        } else {
            write_json(dir.path(), &format!("{name}.json"), &doc);
        }
    }
    dir
}

fn plant_outliers(i: usize, doc: &mut Value) {
    match i {
        7 => {
            data(doc, "os", "sysctl").insert("/proc/sys/vm/swappiness".into(), json!("1"));
        }
        11 | 23 => {
            data(doc, "gpu", "smi").insert("driver".into(), json!("550.54.15"));
        }
        19 => {
            doc["measurements"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["type"] != "GPU");
            doc["metadata"]["collectors"] = json!({"gpu": {"status": "failed",
                "reason": "NVML: unknown error", "duration-ms": 4.0, "plugin-version": "0.1.0"}});
        }
        _ => {}
    }
}

#[test]
fn a_fleet_report_finds_the_planted_outliers_and_nothing_else() {
    let dir = plugins();
    let fleet = fleet_dir(30, plant_outliers);
    std::fs::write(
        fleet.path().join("README.txt"),
        "snapshots of the H100 pool\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(reference_snapshot(), fleet.path().join("elsewhere.yaml")).unwrap();
    std::fs::write(fleet.path().join(".hidden.yaml"), "not read").unwrap();

    let out = eidos_run(
        &dir,
        &["fleet", "report", "--from", s(fleet.path()), "-f", "json"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["kind"], "FleetReport");
    assert_eq!(
        report["summary"],
        json!({"nodes": 30, "configurations": 4, "driftingKeys": 2, "driftingCollectors": 1,
               "outliers": 4, "unreadable": 2})
    );
    let keys: Vec<(&str, &Value, &Value)> = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["path"].as_str().unwrap(),
                &k["majority"],
                &k["minorities"],
            )
        })
        .collect();
    assert_eq!(keys[0].0, "gpu/smi/driver");
    assert_eq!(*keys[0].1, json!({"value": "570.133.20", "nodes": 27}));
    assert_eq!(
        *keys[0].2,
        json!([{"value": "550.54.15", "nodes": 2, "outliers": ["gpu-node-011", "gpu-node-023"]}])
    );
    assert_eq!(keys[1].0, "os/sysctl//proc/sys/vm/swappiness");
    assert_eq!(
        *keys[1].2,
        json!([{"value": "1", "nodes": 1, "outliers": ["gpu-node-007"]}])
    );
    assert_eq!(
        report["collectors"],
        json!([{"collector": "gpu", "majority": {"value": "ran", "nodes": 29},
                "minorities": [{"value": "failed", "nodes": 1, "outliers": ["gpu-node-019"]}],
                "deviating": 1}])
    );
    let unreadable: Vec<&str> = report["unreadable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["source"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(unreadable, ["README.txt", "elsewhere.yaml"]);
    assert!(
        out.stderr.contains("README.txt"),
        "warned by name: {}",
        out.stderr
    );
    assert!(out.stderr.contains("symbolic link"), "{}", out.stderr);

    // For people: the summary line first.
    let out = eidos_run(
        &dir,
        &["fleet", "report", "--from", s(fleet.path()), "-f", "table"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with(
            "30 node(s), 4 configuration(s), 2 drifting key(s), 1 drifting collector(s), 4 outlier node(s), 2 unreadable input(s) skipped\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("gpu-node-011, gpu-node-023"),
        "{}",
        out.stdout
    );

    // --fail-on drift: exit 3 with the report written; --strict: exit 1 naming the file.
    let out = eidos_run(
        &dir,
        &[
            "fleet",
            "report",
            "--from",
            s(fleet.path()),
            "-f",
            "json",
            "--fail-on",
            "drift",
        ],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert_eq!(out.json()["summary"]["driftingKeys"], 2);
    let out = eidos_run(
        &dir,
        &["fleet", "report", "--from", s(fleet.path()), "--strict"],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("--strict") && out.stderr.contains("README.txt"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

#[test]
fn identical_nodes_are_one_configuration_only_with_the_collectors_volatile_keys() {
    let fleet = fleet_dir(6, |_, _| {});
    let out = eidos_run(
        &plugins(),
        &[
            "fleet",
            "report",
            "--from",
            s(fleet.path()),
            "-f",
            "json",
            "--fail-on",
            "drift",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    assert_eq!(out.json()["summary"]["configurations"], 1);
    // Without the systemd and os collectors on the search path, nobody declares their PIDs,
    // times and counters volatile: every node differs.
    let bare = PluginDir::with(&["serializer_json"]);
    let out = eidos_run(
        &bare,
        &[
            "fleet",
            "report",
            "--from",
            s(fleet.path()),
            "-f",
            "json",
            "--fail-on",
            "drift",
        ],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["summary"]["configurations"], 6);
    let paths: Vec<&str> = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "os/sysctl//proc/sys/fs/file-nr",
            "systemd/kubelet.service/ActiveEnterTimestamp",
            "systemd/kubelet.service/MainPID"
        ]
    );
}

#[test]
fn fleet_validation_gives_each_node_a_verdict_and_fail_on_invalid_exits_3() {
    let dir = plugins();
    let fleet = fleet_dir(4, |_, _| {});
    let out = eidos_run(
        &dir,
        &[
            "fleet",
            "report",
            "--from",
            s(fleet.path()),
            "-f",
            "json",
            "--validate",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let report = out.json();
    // The verdict is the one `eidos validate` gives the same snapshot.
    let node_file = fleet.path().join("gpu-node-000.yaml");
    let single = eidos_run(
        &dir,
        &["validate", "--snapshot", s(&node_file), "-f", "json"],
    );
    let expected = &single.json()["summary"];
    let node = &report["nodes"][0];
    assert_eq!(node["name"], "gpu-node-000");
    assert_eq!(node["validation"]["overall"], expected["overall"]);
    assert_eq!(
        node["validation"]["requiredFailed"],
        expected["requiredFailed"]
    );
    assert_eq!(node["validation"]["failed"], expected["failed"]);
    let failing = if expected["overall"] == "fail" { 4 } else { 0 };
    assert_eq!(report["summary"]["invalid"], failing);
    let out = eidos_run(
        &dir,
        &[
            "fleet",
            "report",
            "--from",
            s(fleet.path()),
            "-f",
            "json",
            "--validate",
            "--fail-on",
            "invalid",
        ],
    );
    assert_eq!(
        out.code,
        Some(if failing > 0 { 3 } else { 0 }),
        "{}",
        out.stderr
    );

    for (args, message) in [
        (
            &["fleet", "report", "--from", "/nonexistent/fleet"][..],
            "cannot list the snapshot directory /nonexistent/fleet",
        ),
        (
            &[
                "fleet",
                "report",
                "--from",
                s(fleet.path()),
                "--fail-on",
                "invalid",
            ],
            "--fail-on invalid needs --validate",
        ),
        (
            &["fleet", "report", "--from", "cm://Not_A_Namespace"],
            "invalid ConfigMap address",
        ),
        (
            &[
                "fleet",
                "report",
                "--from",
                s(fleet.path()),
                "--ignore",
                "gpu",
            ],
            "--ignore: invalid key path",
        ),
    ] {
        let out = eidos_run(&dir, args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
}

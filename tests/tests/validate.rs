//! End-to-end tests of `eidos validate`: the built binary with the built os collector and
//! serializer plugins, real snapshots of this machine, hand-made snapshots with known wrong
//! values, bad inputs, and the JUnit XML read back by a real JUnit consumer (`junitparser`).

use eidos_e2e::{eidos, reference_snapshot, run, PluginDir, Run};
use serde_json::{json, Value};
use std::process::Command;

fn plugins() -> PluginDir {
    PluginDir::with(&[
        "collector_os",
        "serializer_json",
        "serializer_yaml",
        "serializer_table",
        "serializer_junit",
    ])
}

/// `eidos validate ARGS` with the environment variables it reads cleared.
fn validate(dir: &PluginDir, args: &[&str]) -> Run {
    run(eidos(&[dir.path()])
        .env_remove("EIDOS_RECIPES")
        .env_remove("EIDOS_FORMAT")
        .env_remove("EIDOS_COLLECTORS")
        .arg("validate")
        .args(args))
}

fn eidos_json(dir: &PluginDir, args: &[&str]) -> Value {
    let out = run(eidos(&[dir.path()])
        .env_remove("EIDOS_RECIPES")
        .env_remove("EIDOS_FORMAT")
        .args(args));
    assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
    out.json()
}

fn results(report: &Value) -> &Vec<Value> {
    report["results"].as_array().expect("a results list")
}

/// The statuses a report's results have, in order.
fn statuses(report: &Value) -> Vec<String> {
    results(report)
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn this_machine_validated_against_its_recipe_with_the_real_os_collector() {
    let dir = plugins();
    let out = validate(&dir, &["--collectors", "os", "--format", "json"]);
    let report = out.json();
    let summary = &report["summary"];
    assert!(
        matches!(out.code, Some(0) | Some(3)),
        "a verdict, not an error: {}",
        out.stderr
    );
    assert_eq!(
        out.code == Some(3),
        summary["overall"] == "fail",
        "exit 3 exactly when the verdict is fail: {summary}"
    );
    assert_eq!(report["kind"], "ValidationReport");
    let total = summary["total"].as_u64().unwrap();
    assert!(total > 10, "the base recipe alone has more: {summary}");
    assert_eq!(results(&report).len() as u64, total);
    let count = |status: &str| summary[status].as_u64().unwrap();
    assert_eq!(
        count("passed") + count("failed") + count("missing") + count("skipped"),
        total
    );

    // The values checked are this machine's: a snapshot taken the same way holds them.
    let snapshot = eidos_json(
        &dir,
        &["snapshot", "--collectors", "os", "--format", "json"],
    );
    let reading = |subtype: &str, key: &str| -> Option<Value> {
        snapshot["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["type"] == "os")?["subtypes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subtype"] == subtype)?["data"]
            .get(key)
            .cloned()
    };
    let mut os_checked = 0;
    for r in results(&report) {
        let status = r["status"].as_str().unwrap();
        if r["type"] == "os" {
            assert_ne!(status, "skipped", "the os collector ran: {r}");
            if status == "passed" || status == "failed" {
                os_checked += 1;
                let key = r["key"].as_str().unwrap();
                // Volatile kernel counters aside, what was checked is what the node reports.
                if !key.starts_with("/proc/sys/kernel/random") && !key.contains("/fs/") {
                    assert_eq!(
                        Some(r["actual"].clone()),
                        reading(r["subtype"].as_str().unwrap(), key),
                        "{r}"
                    );
                }
            }
            if status == "missing" {
                assert!(r["actual"].is_null(), "{r}");
            }
        } else {
            // Only the os collector ran: every other type is skipped, saying why.
            assert_eq!(status, "skipped", "{r}");
            assert!(r["reason"].as_str().unwrap().contains("was not run"), "{r}");
        }
        for field in ["subtype", "key", "severity", "operator", "source"] {
            assert!(r[field].is_string(), "{field} in {r}");
        }
        assert!(
            r.get("context").is_some() && r.get("actual").is_some(),
            "{r}"
        );
    }
    assert!(os_checked > 0, "some os constraint was checked: {summary}");
    // Failures first, then missing, skipped, passed.
    let order: Vec<u8> = statuses(&report)
        .iter()
        .map(|s| match s.as_str() {
            "failed" => 0,
            "missing" => 1,
            "skipped" => 2,
            _ => 3,
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
}

/// A satisfying snapshot value for a recipe value (plain values as they are; operators by a
/// value inside their range).
fn satisfying(value: &Value) -> Option<Value> {
    let Some(text) = value.as_str() else {
        return Some(value.clone());
    };
    let t = text.trim();
    if t == "absent" {
        return None;
    }
    if t == "present" {
        return Some(json!("here"));
    }
    if let Some(rest) = t.strip_prefix("!=") {
        return Some(json!(format!("not-{}", rest.trim())));
    }
    if let Some(rest) = t.strip_prefix("one of") {
        let first = rest
            .trim()
            .trim_start_matches('[')
            .split([',', ']'])
            .next()?;
        return Some(json!(first.trim()));
    }
    if t.starts_with(['<', '>', '=', '~', '^']) {
        let parts: Vec<&str> = t.split(',').map(str::trim).collect();
        let inclusive = parts.iter().find_map(|p| {
            ["<=", ">=", "=", "~", "^"]
                .iter()
                .find_map(|op| p.strip_prefix(op))
        });
        if let Some(bound) = inclusive {
            return Some(json!(bound.trim()));
        }
        if let Some(bound) = parts.iter().find_map(|p| p.strip_prefix('>')) {
            let bound = bound.trim();
            let mut numbers: Vec<u64> = bound.split('.').filter_map(|n| n.parse().ok()).collect();
            if let Some(last) = numbers.last_mut() {
                *last += 1;
            }
            let text: Vec<String> = numbers.iter().map(u64::to_string).collect();
            return Some(json!(text.join(".")));
        }
        return Some(json!("0"));
    }
    Some(value.clone())
}

/// A snapshot whose readings are the recipe's own values, plus `extra` readings.
fn snapshot_from_recipe(recipe: &Value, extra: &[(&str, &str, &str, Value)]) -> Value {
    let mut measurements: Vec<Value> = Vec::new();
    let mut put = |kind: &str, subtype: &str, key: &str, value: Value| {
        let m = match measurements.iter().position(|m| m["type"] == kind) {
            Some(i) => i,
            None => {
                measurements.push(json!({"type": kind, "subtypes": []}));
                measurements.len() - 1
            }
        };
        let subtypes = measurements[m]["subtypes"].as_array_mut().unwrap();
        let s = match subtypes.iter().position(|s| s["subtype"] == subtype) {
            Some(i) => i,
            None => {
                subtypes.push(json!({"subtype": subtype, "data": {}}));
                subtypes.len() - 1
            }
        };
        subtypes[s]["data"][key] = value;
    };
    for m in recipe["measurements"].as_array().unwrap() {
        for s in m["subtypes"].as_array().unwrap() {
            for (key, value) in s["data"].as_object().unwrap() {
                if let Some(v) = satisfying(value) {
                    put(
                        m["type"].as_str().unwrap(),
                        s["subtype"].as_str().unwrap(),
                        key,
                        v,
                    );
                }
            }
        }
    }
    // The node's identity wins over the recipe's bounds (`>= 1.32` would give the server
    // version "1.32", which names no service).
    for (kind, subtype, key, value) in extra {
        put(kind, subtype, key, value.clone());
    }
    json!({"kind": "Snapshot", "apiVersion": "snapshot.dgxc.io/v1", "metadata": {"source-node": "hand-made"}, "measurements": measurements})
}

fn set(snapshot: &mut Value, kind: &str, subtype: &str, key: &str, value: Value) {
    let m = snapshot["measurements"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["type"] == kind)
        .unwrap();
    let s = m["subtypes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["subtype"] == subtype)
        .unwrap();
    s["data"][key] = value;
}

/// What makes the query eks + h100 + Ubuntu 24.04: os-release, kernel, server version, GPU model.
fn identity() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        ("os", "release", "ID", json!("ubuntu")),
        ("os", "release", "VERSION_ID", json!("24.04")),
        (
            "os",
            "sysctl",
            "/proc/sys/kernel/osrelease",
            json!("6.8.0-1028-aws"),
        ),
        ("k8s", "server", "version", json!("v1.33.5-eks-3025e55")),
        ("gpu", "smi", "gpu.model", json!("NVIDIA H100 80GB HBM3")),
        ("gpu", "smi", "driver", json!("580.82.07")),
    ]
}

/// A hand-made node configured exactly as its recipe says passes (exit 0); the same node with
/// three known wrong values fails exactly those three (exit 3), and the report says what was
/// expected, what was found, why it matters and which recipe file set it.
#[test]
fn a_hand_made_snapshot_with_known_wrong_values_gives_exactly_those_failures_and_exit_3() {
    let dir = plugins();
    let temp = tempfile::tempdir().unwrap();
    let seed = temp.path().join("seed.json");
    std::fs::write(
        &seed,
        snapshot_from_recipe(&json!({"measurements": []}), &identity()).to_string(),
    )
    .unwrap();
    let recipe = eidos_json(
        &dir,
        &[
            "recipe",
            "--snapshot",
            seed.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(recipe["request"]["service"], "eks", "{}", recipe["request"]);
    assert_eq!(recipe["request"]["gpu"], "h100");
    let good = snapshot_from_recipe(&recipe, &identity());
    let good_path = temp.path().join("good.json");
    std::fs::write(&good_path, good.to_string()).unwrap();
    let out = validate(
        &dir,
        &[
            "--snapshot",
            good_path.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.code, Some(0), "{}\n{}", out.stderr, out.stdout);
    let report = out.json();
    assert_eq!(
        report["summary"]["overall"], "pass",
        "{}",
        report["summary"]
    );
    assert_eq!(report["summary"]["failed"], 0);
    assert_eq!(
        report["request"],
        recipe["request"]
            .clone()
            .as_object()
            .map(|r| {
                let mut r = r.clone();
                r.insert("context".into(), json!(true));
                Value::Object(r)
            })
            .unwrap()
    );

    let mut bad = good.clone();
    set(
        &mut bad,
        "os",
        "sysctl",
        "/proc/sys/net/ipv4/ip_forward",
        json!("0"),
    );
    set(&mut bad, "os", "kmod", "nvidia", json!(false));
    set(
        &mut bad,
        "systemd",
        "containerd.service",
        "ActiveState",
        json!("inactive"),
    );
    let bad_path = temp.path().join("bad.yaml");
    std::fs::write(&bad_path, serde_yaml::to_string(&bad).unwrap()).unwrap();
    let out = validate(
        &dir,
        &["--snapshot", bad_path.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(out.stderr.contains("validation failed"), "{}", out.stderr);
    let report = out.json();
    let failed: Vec<(&str, &str, &Value, &Value)> = results(&report)
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| {
            (
                r["subtype"].as_str().unwrap(),
                r["key"].as_str().unwrap(),
                &r["expected"],
                &r["actual"],
            )
        })
        .collect();
    assert_eq!(
        failed,
        [
            ("kmod", "nvidia", &json!(true), &json!(false)),
            (
                "sysctl",
                "/proc/sys/net/ipv4/ip_forward",
                &json!("1"),
                &json!("0")
            ),
            (
                "containerd.service",
                "ActiveState",
                &json!("active"),
                &json!("inactive")
            ),
        ]
    );
    let first = &results(&report)[0];
    assert_eq!(first["source"], "base.yaml");
    assert_eq!(first["operator"], "equals");
    assert_eq!(first["severity"], "required");
    assert!(
        first["context"].as_str().is_some_and(|c| !c.is_empty()),
        "{first}"
    );
    assert_eq!(report["summary"]["requiredFailed"], 3);
    assert_eq!(report["summary"]["overall"], "fail");

    // The table: failures first, the summary line last; --quiet: only the summary line.
    let out = validate(
        &dir,
        &["--snapshot", bad_path.to_str().unwrap(), "-f", "table"],
    );
    assert_eq!(out.code, Some(3));
    let forwarding = out.stdout.find("ip_forward").expect("an ip_forward row");
    assert!(
        forwarding < out.stdout.find("passed").expect("a passed row"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("FAIL: 3 failed (3 required)"),
        "{}",
        out.stdout
    );
    let out = validate(&dir, &["--snapshot", bad_path.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.code, Some(3));
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    assert!(
        out.stdout
            .starts_with("FAIL: 3 failed (3 required), 0 missing, 0 skipped"),
        "{}",
        out.stdout
    );

    // A --constraint replaces the recipe's value on its path and adds new checks.
    let out = validate(
        &dir,
        &[
            "--snapshot",
            bad_path.to_str().unwrap(),
            "--format",
            "json",
            "--constraint",
            "os/sysctl//proc/sys/net/ipv4/ip_forward=<= 1",
            "--constraint",
            "gpu/smi/driver=>= 570",
            "--constraint",
            "os/kmod/efa=absent",
        ],
    );
    let report = out.json();
    let find = |key: &str| {
        results(&report)
            .iter()
            .find(|r| r["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(find("/proc/sys/net/ipv4/ip_forward")["status"], "passed");
    assert_eq!(
        find("/proc/sys/net/ipv4/ip_forward")["source"],
        "--constraint"
    );
    assert_eq!(find("driver")["status"], "passed");
    assert_eq!(find("efa")["status"], "failed", "the eks recipe loads efa");
    assert_eq!(report["summary"]["requiredFailed"], 3);

    // Missing keys: incomplete (exit 0) unless --fail-on missing (exit 3).
    let mut sparse = good.clone();
    let sysctl = sparse["measurements"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|m| m["type"] == "os")
        .unwrap()["subtypes"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|s| s["subtype"] == "sysctl")
        .unwrap();
    sysctl["data"]
        .as_object_mut()
        .unwrap()
        .remove("/proc/sys/net/ipv4/ip_forward");
    let sparse_path = temp.path().join("sparse.json");
    std::fs::write(&sparse_path, sparse.to_string()).unwrap();
    let out = validate(&dir, &["--snapshot", sparse_path.to_str().unwrap(), "-q"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with("INCOMPLETE: 0 failed (0 required), 1 missing"),
        "{}",
        out.stdout
    );
    let out = validate(
        &dir,
        &[
            "--snapshot",
            sparse_path.to_str().unwrap(),
            "-q",
            "--fail-on",
            "missing",
        ],
    );
    assert_eq!(out.code, Some(3), "{}", out.stdout);
    assert!(
        out.stdout
            .starts_with("FAIL: 0 failed (1 required), 1 missing"),
        "{}",
        out.stdout
    );

    // A recipe written earlier by `eidos recipe` checks the same way, its file as the source.
    let recipe_path = temp.path().join("recipe.yaml");
    let written = run(eidos(&[dir.path()]).env_remove("EIDOS_RECIPES").args([
        "recipe",
        "--snapshot",
        seed.to_str().unwrap(),
        "-o",
        recipe_path.to_str().unwrap(),
    ]));
    assert_eq!(written.code, Some(0), "{}", written.stderr);
    let out = validate(
        &dir,
        &[
            "--snapshot",
            bad_path.to_str().unwrap(),
            "--recipe",
            recipe_path.to_str().unwrap(),
            "-f",
            "json",
        ],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let report = out.json();
    assert_eq!(report["summary"]["requiredFailed"], 3);
    assert_eq!(results(&report)[0]["source"], recipe_path.to_str().unwrap());
}

#[test]
fn bad_inputs_exit_2_naming_the_input() {
    let dir = plugins();
    let temp = tempfile::tempdir().unwrap();
    let recipe_file = temp.path().join("a-recipe.yaml");
    let written = run(eidos(&[dir.path()]).env_remove("EIDOS_RECIPES").args([
        "recipe",
        "--gpu",
        "h100",
        "-o",
        recipe_file.to_str().unwrap(),
    ]));
    assert_eq!(written.code, Some(0), "{}", written.stderr);
    let snapshot_file = temp.path().join("a-snapshot.yaml");
    std::fs::write(
        &snapshot_file,
        "kind: Snapshot\napiVersion: snapshot.dgxc.io/v1\nmeasurements: []\n",
    )
    .unwrap();
    let recipe = recipe_file.to_str().unwrap();
    let snapshot = snapshot_file.to_str().unwrap();
    let table: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec!["--snapshot", recipe],
            vec![format!("{recipe} is not a valid snapshot")],
        ),
        (
            vec!["--snapshot", "/nonexistent/node.yaml"],
            vec!["cannot read the snapshot /nonexistent/node.yaml".to_owned()],
        ),
        (
            vec!["--snapshot", snapshot, "--recipe", snapshot],
            vec![
                format!("{snapshot} is not a recipe document"),
                "it is a Snapshot document".to_owned(),
            ],
        ),
        (
            vec![
                "--snapshot",
                snapshot,
                "--constraint",
                "gpu/smi/driver=>= lots",
            ],
            vec![
                "--constraint".to_owned(),
                "gpu/smi/driver=>= lots".to_owned(),
                "non-numeric component".to_owned(),
            ],
        ),
        (
            vec![
                "--snapshot",
                snapshot,
                "--constraint",
                "gpu/smi/driver=one of 570",
            ],
            vec![
                "gpu/smi/driver=one of 570".to_owned(),
                "in brackets".to_owned(),
            ],
        ),
        (
            vec!["--snapshot", snapshot, "--constraint", "swappiness=0"],
            vec![
                "invalid key path \"swappiness\"".to_owned(),
                "TYPE/SUBTYPE/KEY".to_owned(),
            ],
        ),
        (
            vec!["--snapshot", snapshot, "--fail-on", "failed"],
            vec!["failed".to_owned(), "--fail-on".to_owned()],
        ),
        (
            vec!["--snapshot", snapshot, "--format", "docx"],
            vec!["docx".to_owned()],
        ),
        (
            vec!["--snapshot", snapshot, "--recipe", recipe, "--gpu", "h200"],
            vec!["--recipe FILE fixes the recipe".to_owned()],
        ),
    ];
    for (args, messages) in table {
        let out = validate(&dir, &args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        for message in messages {
            assert!(
                out.stderr.contains(&message),
                "{args:?}: {message:?} in {}",
                out.stderr
            );
        }
        assert!(out.stdout.is_empty(), "nothing written: {}", out.stdout);
    }
}

/// Whether `python3 -c 'import junitparser'` works; under `CI=true` a missing junitparser is a
/// failure, not a skip.
fn junitparser_available() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import junitparser"])
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "junitparser is not installed but CI=true: pip install junitparser"
        );
        eprintln!("SKIPPED: junitparser is not installed (pip install junitparser); this check did not run");
    }
    found
}

/// Reads a JUnit XML file with junitparser and prints what it understood as JSON.
const READ_JUNIT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for suite in xml:
    cases = []
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        texts = [r.text or "" for r in case.result]
        messages = [r.message or "" for r in case.result]
        cases.append({"classname": case.classname, "name": case.name, "results": kinds, "texts": texts, "messages": messages})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures, "skipped": suite.skipped, "cases": cases})
print(json.dumps(suites))
"#;

#[test]
fn junit_output_is_read_by_a_real_junit_consumer() {
    if !junitparser_available() {
        return;
    }
    let dir = plugins();
    let temp = tempfile::tempdir().unwrap();
    let snapshot = temp.path().join("node.json");
    // An os-only node with two wrong values (swappiness is advice, forwarding required); the
    // other collectors were not run.
    let node = json!({"kind": "Snapshot", "apiVersion": "snapshot.dgxc.io/v1", "measurements": [
        {"type": "os", "subtypes": [
            {"subtype": "sysctl", "data": {"/proc/sys/vm/swappiness": "60", "/proc/sys/net/ipv4/ip_forward": "0", "/proc/sys/vm/max_map_count": "262144"}},
            {"subtype": "kmod", "data": {"nvidia": true, "overlay": true}}
        ]}
    ]});
    std::fs::write(&snapshot, node.to_string()).unwrap();
    let xml = temp.path().join("report.xml");
    let out = validate(
        &dir,
        &[
            "--snapshot",
            snapshot.to_str().unwrap(),
            "-o",
            xml.to_str().unwrap(),
            "--quiet",
        ],
    );
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    assert!(
        out.stdout.starts_with("FAIL: "),
        "--quiet with --output prints the summary: {}",
        out.stdout
    );
    let json_out = validate(
        &dir,
        &["--snapshot", snapshot.to_str().unwrap(), "-f", "json"],
    );
    let report = json_out.json();

    let parsed = Command::new("python3")
        .args(["-c", READ_JUNIT, xml.to_str().unwrap()])
        .output()
        .expect("python3");
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    let suites: Value = serde_json::from_slice(&parsed.stdout).unwrap();
    let suites = suites.as_array().unwrap();
    // One testsuite per measurement type, one testcase per constraint.
    let kinds: Vec<&str> = suites.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let mut expected_kinds: Vec<&str> = Vec::new();
    for r in results(&report) {
        let kind = r["type"].as_str().unwrap();
        if !expected_kinds.contains(&kind) {
            expected_kinds.push(kind);
        }
    }
    assert_eq!(kinds, expected_kinds);
    let cases: Vec<&Value> = suites
        .iter()
        .flat_map(|s| s["cases"].as_array().unwrap())
        .collect();
    assert_eq!(cases.len(), results(&report).len());
    for result in results(&report) {
        let classname = format!(
            "{}.{}",
            result["type"].as_str().unwrap(),
            result["subtype"].as_str().unwrap()
        );
        let matching: Vec<&&Value> = cases
            .iter()
            .filter(|c| c["classname"] == classname.as_str() && c["name"] == result["key"])
            .collect();
        assert_eq!(matching.len(), 1, "one testcase for {result}");
        let expected: Vec<&str> = match result["status"].as_str().unwrap() {
            "failed" => vec!["Failure"],
            "missing" | "skipped" => vec!["Skipped"],
            _ => vec![],
        };
        assert_eq!(
            matching[0]["results"],
            json!(expected),
            "{} for {result}",
            matching[0]
        );
    }
    let swappiness = cases
        .iter()
        .find(|c| c["name"] == "/proc/sys/vm/swappiness")
        .unwrap();
    let text = swappiness["texts"][0].as_str().unwrap();
    assert!(
        text.contains("expected: 0") && text.contains("actual: 60"),
        "{text}"
    );
    assert!(text.contains("context: "), "{text}");
    let os = suites.iter().find(|s| s["name"] == "os").unwrap();
    assert_eq!(
        os["failures"],
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == "os" && r["status"] == "failed")
            .count()
    );
    let skipped = cases
        .iter()
        .find(|c| {
            c["messages"][0]
                .as_str()
                .is_some_and(|m| m.starts_with("skipped:"))
        })
        .unwrap();
    assert!(
        skipped["messages"][0]
            .as_str()
            .unwrap()
            .contains("collector was not run"),
        "{skipped}"
    );
    // Written for validation reports only: a snapshot is refused.
    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "os", "-f", "junit"]));
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains("validation reports only"),
        "{}",
        out.stderr
    );
}

/// The in-repo snapshot of a healthy H100 EKS node (the original tool's format): the recipe is
/// derived from it (eks, h100), every measurement type is checked, and the exit code follows the
/// verdict.
#[test]
fn the_h100_eks_fixture_snapshot_is_validated_through_the_binary() {
    let dir = plugins();
    let fixture = reference_snapshot();
    let out = validate(
        &dir,
        &["--snapshot", fixture.to_str().unwrap(), "-f", "json"],
    );
    let report = out.json();
    let summary = &report["summary"];
    assert_eq!(report["request"]["service"], "eks", "{}", report["request"]);
    assert_eq!(report["request"]["gpu"], "h100");
    assert_eq!(summary["skipped"], 0, "{summary}");
    assert_eq!(
        out.code,
        Some(if summary["overall"] == "fail" { 3 } else { 0 }),
        "{summary}\n{}",
        out.stderr
    );
    for kind in ["os", "systemd", "k8s", "gpu"] {
        assert!(
            results(&report)
                .iter()
                .any(|r| r["type"] == kind && r["status"] == "passed"),
            "some {kind} constraint passes on a healthy node"
        );
    }
    eprintln!("H100 EKS fixture: {summary}");
}

//! End-to-end tests of the plugin host: the built `eidos` binary with the built plugins and the
//! fixture plugins (a panicking one, a hanging one, one from a future plugin API, a failing one, and
//! a shared library that is not a plugin), each in a private plugin directory.

use eidos_e2e::{eidos, run, PluginDir};
use serde_json::Value;

const BASE: &[&str] = &[
    "collector_os",
    "serializer_json",
    "serializer_yaml",
    "serializer_table",
];

/// The base plugins plus fixture libraries installed under plugin file names.
fn dir_with_fixtures(fixtures: &[(&str, &str)]) -> PluginDir {
    let dir = PluginDir::with(BASE);
    for (lib, name) in fixtures {
        dir.add_library(lib, &format!("libeidos_collector_{name}.so"));
    }
    dir
}

fn status(doc: &Value, collector: &str) -> String {
    doc["metadata"]["collectors"][collector]["status"]
        .as_str()
        .unwrap_or("<none>")
        .to_owned()
}

#[test]
fn snapshot_of_this_machine_as_json_through_the_plugins() {
    let dir = PluginDir::with(BASE);
    let out =
        run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "os", "--format", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["kind"], "Snapshot");
    assert_eq!(doc["apiVersion"], "snapshot.dgxc.io/v1");
    assert_eq!(status(&doc, "os"), "ok");
    assert_eq!(doc["metadata"]["complete"], true);
    assert_eq!(
        doc["metadata"]["collectors"]["os"]["plugin-version"],
        "0.1.0"
    );
    assert!(doc["metadata"]["measurement-timestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let os = &doc["measurements"][0];
    assert_eq!(os["type"], "os");
    let sysctl = os["subtypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subtype"] == "sysctl")
        .unwrap();
    let real = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(sysctl["data"]["/proc/sys/kernel/osrelease"], real.trim());
    assert!(
        out.stdout.starts_with("{\n  \"kind\""),
        "two-space JSON expected"
    );
}

#[test]
fn yaml_is_the_default_and_table_is_readable() {
    let dir = PluginDir::with(BASE);
    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "os"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc: serde_yaml::Value = serde_yaml::from_str(&out.stdout).unwrap();
    assert_eq!(doc["kind"].as_str(), Some("Snapshot"));

    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "os", "-f", "table"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("TYPE") && out.stdout.contains("sysctl"));
    // Piped, a table has no width limit; io_safety.rs checks the terminal's width.
}

#[test]
fn unknown_collector_format_and_options_are_usage_errors_listing_what_exists() {
    let dir = PluginDir::with(BASE);
    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "os,gpux"]));
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("unknown collector \"gpux\": available collectors are facts, os"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    let out = run(eidos(&[dir.path()]).args(["snapshot", "--format", "xml"]));
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("available formats are json, table, yaml, yml"),
        "{}",
        out.stderr
    );

    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "os",
        "--set",
        "systemd.bus=session",
    ]));
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("collector \"systemd\" is not selected (selected: os)"),
        "{}",
        out.stderr
    );

    let out = run(eidos(&[dir.path()]).args(["snapshot", "--set", "os.rot=/host"]));
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("known options: root"), "{}", out.stderr);

    let out = run(eidos(&[dir.path()]).args(["snapshot", "--timeout", "soon"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
}

#[test]
fn a_panicking_collector_fails_the_run_and_best_effort_keeps_the_rest() {
    let dir = dir_with_fixtures(&[("fixture_plugin_panic", "panicky")]);
    let out =
        run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "panicky,os", "-f", "json"]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("collector panicky failed: plugin panicked: fixture panic"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "fail-fast writes nothing");
    assert!(
        !out.stderr.contains("RUST_BACKTRACE"),
        "no raw panic output: {}",
        out.stderr
    );

    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "panicky,os",
        "-f",
        "json",
        "--best-effort",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(status(&doc, "panicky"), "failed");
    assert_eq!(status(&doc, "os"), "ok");
    assert_eq!(doc["metadata"]["complete"], false);
    assert!(doc["metadata"]["collectors"]["panicky"]["reason"]
        .as_str()
        .unwrap()
        .contains("fixture panic"));
}

#[test]
fn a_hanging_collector_times_out_without_holding_up_the_run() {
    let dir = dir_with_fixtures(&[("fixture_plugin_hang", "hang")]);
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "hang,os",
        "--timeout",
        "300ms",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("collector hang timed out: no answer within 300ms"),
        "{}",
        out.stderr
    );
    // The fixture sleeps for an hour; the run must not wait for it.
    assert!(out.elapsed.as_secs() < 60, "took {:?}", out.elapsed);

    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "hang,os",
        "--timeout",
        "300ms",
        "-f",
        "json",
        "--best-effort",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(status(&doc, "hang"), "timed-out");
    assert_eq!(status(&doc, "os"), "ok");
    assert_eq!(doc["metadata"]["complete"], false);
}

#[test]
fn fail_fast_cancels_the_others_and_names_the_failure() {
    let dir = dir_with_fixtures(&[
        ("fixture_plugin_fail", "fail"),
        ("fixture_plugin_hang", "hang"),
    ]);
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "hang,fail",
        "--timeout",
        "120s",
    ]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("collector fail failed: fixture failure: device not ready"),
        "{}",
        out.stderr
    );
    assert!(
        out.elapsed.as_secs() < 60,
        "fail-fast waited for the hanging collector: {:?}",
        out.elapsed
    );
}

#[test]
fn not_applicable_is_never_a_failure() {
    let dir = dir_with_fixtures(&[("fixture_plugin_fail", "fail")]);
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "fail,os",
        "--set",
        "fail.mode=not-applicable",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(status(&doc, "fail"), "not-applicable");
    assert_eq!(
        doc["metadata"]["collectors"]["fail"]["reason"],
        "fixture says it does not apply"
    );
    assert_eq!(doc["metadata"]["complete"], true);
}

#[test]
fn output_files_are_written_whole_or_not_at_all() {
    let dir = dir_with_fixtures(&[("fixture_plugin_fail", "fail")]);
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("snap.json");

    let ok = run(eidos(&[dir.path()])
        .args(["snapshot", "--collectors", "os", "-o"])
        .arg(&file));
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    assert!(ok.stdout.is_empty(), "data goes to the file only");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        written["kind"], "Snapshot",
        "json chosen from the .json extension"
    );

    std::fs::write(&file, "previous snapshot").unwrap();
    let failed = run(eidos(&[dir.path()])
        .args(["snapshot", "--collectors", "os,fail", "-o"])
        .arg(&file));
    assert_eq!(failed.code, Some(1));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "previous snapshot",
        "a failed run must not touch the file"
    );

    let missing = out_dir.path().join("nope/snap.yaml");
    let failed = run(eidos(&[dir.path()])
        .args(["snapshot", "--collectors", "os", "-o"])
        .arg(&missing));
    assert_eq!(failed.code, Some(1));
    assert!(failed.stderr.contains("cannot write"), "{}", failed.stderr);
    let leftovers: Vec<_> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        vec![std::ffi::OsString::from("snap.json")],
        "no temporary files left behind"
    );
}

#[test]
fn plugins_list_reports_loaded_shadowed_and_refused_and_the_host_survives_each() {
    let first = PluginDir::with(BASE);
    let second = PluginDir::with(&["collector_os"]);
    first.add_library("fixture_plugin_future_api", "libeidos_collector_future.so");
    first.add_library("fixture_not_a_plugin", "libeidos_collector_bogus.so");
    first.add_library("eidos_collector_os", "libeidos_collector_other.so");
    first.add_file("libeidos_collector_junk.so", b"this is not an ELF file");

    let out =
        run(eidos(&[first.path(), second.path()]).args(["plugins", "list", "--format", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let entries = out.json();
    let entries = entries.as_array().unwrap();
    let find = |path: &std::path::Path| {
        entries
            .iter()
            .find(|e| e["path"] == path.to_str().unwrap())
            .unwrap_or_else(|| panic!("{path:?} not listed"))
    };
    let os = find(&first.path().join("libeidos_collector_os.so"));
    assert_eq!(os["status"], "loaded");
    assert_eq!(os["version"], "0.1.0");
    assert_eq!(os["apiVersion"], "1.2.0");
    assert_eq!(os["kind"], "collector");
    let json = find(&first.path().join("libeidos_serializer_json.so"));
    assert_eq!(json["formats"], serde_json::json!(["json"]));

    let shadowed = find(&second.path().join("libeidos_collector_os.so"));
    assert_eq!(
        shadowed["status"]["shadowed"]["by"],
        first
            .path()
            .join("libeidos_collector_os.so")
            .to_str()
            .unwrap()
    );

    let refused = |file: &str| {
        find(&first.path().join(file))["status"]["refused"]["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let future = refused("libeidos_collector_future.so");
    assert!(
        future.contains("built against plugin API 2.0.0; this eidos expects plugin API 1.2.0"),
        "{future}"
    );
    assert!(future.contains("libeidos_collector_future.so"), "{future}");
    assert!(refused("libeidos_collector_bogus.so").contains("is not an eidos plugin"));
    assert!(refused("libeidos_collector_other.so")
        .contains("declares collector \"os\", but its file name says collector \"other\""));
    assert!(refused("libeidos_collector_junk.so")
        .contains("libeidos_collector_junk.so is not a loadable shared library: not an ELF file"));

    let table = run(eidos(&[first.path(), second.path()]).args(["plugins", "list"]));
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    assert!(
        table.stdout.contains("NAME")
            && table.stdout.contains("shadowed by")
            && table.stdout.contains("refused:")
    );

    // Refused plugins never stop a snapshot of the good ones, and selecting one is a clear error.
    let out = run(eidos(&[first.path()]).args(["snapshot", "--collectors", "os", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = run(eidos(&[first.path()]).args(["snapshot", "--collectors", "future"]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("plugin API 2.0.0"), "{}", out.stderr);
    // By default every collector that loads runs; refused ones are skipped with a warning.
    let out = run(eidos(&[first.path()]).args(["snapshot", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let ran: Vec<_> = doc["metadata"]["collectors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(ran, ["os"]);
    assert!(out.stderr.contains("plugin refused"), "{}", out.stderr);
}

#[test]
fn plugin_path_environment_is_searched_after_the_flags() {
    let flag_dir = PluginDir::with(&["serializer_json"]);
    let env_dir = PluginDir::with(&["collector_os", "serializer_json"]);
    let out = run(eidos(&[flag_dir.path()])
        .env("EIDOS_PLUGIN_PATH", env_dir.path())
        .args(["plugins", "list", "--format", "json"]));
    let entries = out.json();
    let env_json = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["path"]
                == env_dir
                    .path()
                    .join("libeidos_serializer_json.so")
                    .to_str()
                    .unwrap()
        })
        .unwrap()
        .clone();
    assert!(env_json["status"]["shadowed"].is_object(), "{env_json}");
    let out = run(eidos(&[flag_dir.path()])
        .env("EIDOS_PLUGIN_PATH", env_dir.path())
        .args(["snapshot", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

#[test]
fn version_help_and_completion() {
    let out = run(eidos(&[]).arg("--version"));
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout.starts_with("eidos 0.1.0 (commit "),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains(", built 20"), "{}", out.stdout);

    let out = run(eidos(&[]).arg("--help"));
    assert!(out.stdout.contains("Exit codes:") && out.stdout.contains("2  usage error"));

    for shell in ["bash", "zsh", "fish"] {
        let out = run(eidos(&[]).args(["completion", shell]));
        assert_eq!(out.code, Some(0));
        assert!(out.stdout.contains("snapshot"), "{shell}");
    }
    let out = run(eidos(&[]).args(["completion", "tcsh"]));
    assert_eq!(out.code, Some(2));
}

#[test]
fn a_bad_option_value_is_a_usage_error_in_both_modes() {
    let dir = dir_with_fixtures(&[("fixture_plugin_fail", "fail")]);
    for extra in [&[][..], &["--best-effort"][..]] {
        let out = run(eidos(&[dir.path()])
            .args([
                "snapshot",
                "--collectors",
                "os,fail",
                "--set",
                "fail.delay-ms=soon",
                "-f",
                "json",
            ])
            .args(extra));
        assert_eq!(out.code, Some(2), "{extra:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("collector fail: invalid value \"soon\" for option delay-ms: expected a number of milliseconds"),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "nothing written");
    }
}

#[test]
fn debug_names_every_misnamed_plugin_file_and_why_it_was_skipped() {
    use std::os::unix::fs::PermissionsExt;
    let dir = PluginDir::with(BASE);
    // The guide's own example of a misnamed vendor library (no `libeidos_` prefix, no "eidos" at
    // all), and a library with a name that breaks the convention.
    dir.add_library("eidos_collector_os", "libacme_nic_collector.so");
    dir.add_library("eidos_collector_os", "libeidos_collector_Acme.so");
    for name in ["eidos-collector-Acme", "acme-collector", "helper"] {
        let file = dir.add_file(name, b"#!/bin/sh\necho {}\n");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir.add_file("README.txt", b"notes");
    let list = ["plugins", "list", "-f", "json"];

    let quiet = run(eidos(&[dir.path()]).args(list));
    assert_eq!(quiet.code, Some(0), "{}", quiet.stderr);
    assert!(
        !quiet.stderr.contains("not loaded as a plugin"),
        "only --debug reports skipped files: {}",
        quiet.stderr
    );
    let names: Vec<String> = quiet
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.to_lowercase().contains("acme")),
        "{names:?}"
    );

    let out = run(eidos(&[dir.path()]).arg("--debug").args(list));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for (file, why) in [
        (
            "libacme_nic_collector.so",
            "the name does not start with libeidos_",
        ),
        (
            "libeidos_collector_Acme.so",
            "\"Acme\" is not a valid plugin name",
        ),
        (
            "eidos-collector-Acme",
            "is not a valid executable collector name",
        ),
        (
            "acme-collector",
            "an executable that is not named as an executable collector",
        ),
    ] {
        let path = dir.path().join(file).display().to_string();
        let line = out
            .stderr
            .lines()
            .find(|l| l.contains("not loaded as a plugin") && l.contains(&path))
            .unwrap_or_else(|| panic!("{file} is not reported:\n{}", out.stderr));
        assert!(line.contains(why), "{file}: {line}");
    }
    for unrelated in ["README.txt", "helper"] {
        let path = dir.path().join(unrelated).display().to_string();
        assert!(
            !out.stderr.lines().any(|l| l.contains(&path)),
            "{unrelated} does not look like a plugin: {}",
            out.stderr
        );
    }
}

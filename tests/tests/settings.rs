//! End-to-end tests of settings resolved once: what `eidos config show` reports is what the
//! commands do; the output format's precedence; errors that name their source; collectors that run
//! only when asked for; `--require`; per-collector timeouts; `--help` headings.

use eidos_e2e::{eidos, run, PluginDir, Run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every variable eidos reads, cleared, with a private HOME so that no developer's config file or
/// environment changes the results.
struct Env {
    home: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn eidos(&self, dirs: &[&Path]) -> Command {
        let mut cmd = eidos(dirs);
        for var in [
            "EIDOS_FORMAT",
            "EIDOS_COLLECTORS",
            "EIDOS_REQUIRE",
            "EIDOS_TIMEOUT",
            "EIDOS_RECIPES",
            "EIDOS_ADDR",
            "PORT",
            "EIDOS_RATE_LIMIT",
            "EIDOS_RATE_BURST",
            "EIDOS_REQUEST_TIMEOUT",
            "EIDOS_SHUTDOWN_TIMEOUT",
            "EIDOS_BODY_LIMIT",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.home.path());
        cmd
    }
}

fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn serializers() -> PluginDir {
    PluginDir::with(&["serializer_json", "serializer_yaml"])
}

/// The `config show -f json` row for `key`: (value, source).
fn shown(out: &Run, key: &str) -> (String, String) {
    let rows = out.json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("{key} missing: {}", out.stdout))
        .clone();
    (
        row["value"].as_str().unwrap().to_owned(),
        row["source"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn config_show_reports_the_address_serve_uses_and_where_it_came_from() {
    let env = Env::new();
    let (_c, cfg) = config("[serve]\n\naddr = \"127.0.0.1:7000\"\n");
    let show = |port: Option<&str>| {
        let mut cmd = env.eidos(&[]);
        cmd.arg("--config").arg(&cfg);
        if let Some(p) = port {
            cmd.env("PORT", p);
        }
        let out = run(cmd.args(["config", "show", "-f", "json"]));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        shown(&out, "serve.addr")
    };
    assert_eq!(
        show(Some("39999")),
        ("0.0.0.0:39999".to_owned(), "env PORT".to_owned())
    );
    assert_eq!(
        show(None),
        (
            "127.0.0.1:7000".to_owned(),
            format!("file {}:3", cfg.display())
        )
    );
    // serve reads the same value: a bad PORT stops it, naming the variable, before it listens.
    let out = run(env
        .eidos(&[])
        .arg("--config")
        .arg(&cfg)
        .env("PORT", "eighty")
        .arg("serve"));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("PORT: invalid value \"eighty\""),
        "{}",
        out.stderr
    );
}

#[test]
fn an_output_extension_beats_the_config_files_format_but_not_an_explicit_one() {
    let env = Env::new();
    let dir = serializers();
    let (_c, cfg) = config("format = \"json\"\n");
    let out_dir = tempfile::tempdir().unwrap();
    let recipe = |name: &str, extra: &[&str], format_var: Option<&str>| -> String {
        let path = out_dir.path().join(name);
        let mut cmd = env.eidos(&[dir.path()]);
        cmd.arg("--config")
            .arg(&cfg)
            .args(["recipe", "--gpu", "h100", "-o"])
            .arg(&path);
        cmd.args(extra);
        if let Some(f) = format_var {
            cmd.env("EIDOS_FORMAT", f);
        }
        let out = run(&mut cmd);
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
        std::fs::read_to_string(&path).unwrap()
    };
    let is_json = |text: &str| text.trim_start().starts_with('{');
    assert!(
        !is_json(&recipe("out.yaml", &[], None)),
        "-o out.yaml wrote JSON"
    );
    assert!(!is_json(&recipe("out.yml", &[], None)));
    assert!(
        is_json(&recipe("out.txt", &[], None)),
        "the file's format is lost"
    );
    assert!(is_json(&recipe("explicit.yaml", &["-f", "json"], None)));
    assert!(is_json(&recipe("env.yaml", &[], Some("json"))));
    // Without a config file, .json still picks JSON.
    let path = out_dir.path().join("plain.json");
    let out = run(env
        .eidos(&[dir.path()])
        .args(["recipe", "--gpu", "h100", "-o"])
        .arg(&path));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(is_json(&std::fs::read_to_string(&path).unwrap()));
}

#[test]
fn help_texts_state_the_same_format_rule() {
    let env = Env::new();
    for command in ["snapshot", "recipe"] {
        let out = run(env.eidos(&[]).args([command, "--help"]));
        assert_eq!(out.code, Some(0));
        let help = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.contains("(default: by --output's extension (.json, .yaml, .yml), else the config file's format, else yaml)"),
            "{command}: {help}"
        );
    }
}

#[test]
fn a_missing_host_root_names_the_variable() {
    let env = Env::new();
    let dir = PluginDir::with(&["collector_os", "serializer_yaml"]);
    let out = run(env
        .eidos(&[dir.path()])
        .env("EIDOS_HOST_ROOT", "/nonexistent")
        .args(["snapshot", "--collectors", "os"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "EIDOS_HOST_ROOT: invalid value \"/nonexistent\": expected an existing directory"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("option root"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn a_bad_variable_or_file_value_names_its_source() {
    let env = Env::new();
    let dir = PluginDir::with(&["collector_os", "serializer_yaml"]);
    let out = run(env.eidos(&[dir.path()]).env("EIDOS_TIMEOUT", "soon").args([
        "snapshot",
        "--collectors",
        "os",
    ]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("EIDOS_TIMEOUT: invalid value \"soon\""),
        "{}",
        out.stderr
    );
    let (_c, cfg) = config("format = \"yaml\"\n\ntimeout = \"soon\"\n");
    let out = run(env.eidos(&[dir.path()]).arg("--config").arg(&cfg).args([
        "snapshot",
        "--collectors",
        "os",
    ]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "config file {}:3: key `timeout`: invalid value \"soon\"",
            cfg.display()
        )),
        "{}",
        out.stderr
    );
    let out =
        run(env
            .eidos(&[dir.path()])
            .args(["snapshot", "--collectors", "os", "--timeout", "soon"]));
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("--timeout"), "{}", out.stderr);
}

#[test]
fn an_io_error_is_printed_once() {
    let env = Env::new();
    let out = run(env
        .eidos(&[])
        .args(["--config", "/nonexistent/eidos.toml", "config", "show"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let io = "No such file or directory (os error 2)";
    assert_eq!(out.stderr.matches(io).count(), 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("cannot read config file /nonexistent/eidos.toml: No such file"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_toml_error_on_a_huge_line_quotes_a_short_excerpt() {
    let env = Env::new();
    let (_c, cfg) = config(&format!("format = \"{}\" oops\n", "y".repeat(200_000)));
    let out = run(env
        .eidos(&[])
        .arg("--config")
        .arg(&cfg)
        .args(["config", "show"]));
    assert_eq!(
        out.code,
        Some(2),
        "{}",
        &out.stderr[..out.stderr.len().min(300)]
    );
    assert!(
        out.stderr.len() < 1024,
        "{} bytes of error",
        out.stderr.len()
    );
    assert!(
        out.stderr.contains(&format!("{}:1", cfg.display())),
        "{}",
        out.stderr
    );
}

fn example_and_os() -> PluginDir {
    PluginDir::with(&["collector_os", "collector_example", "serializer_json"])
}

fn collectors_run(out: &Run) -> Vec<String> {
    out.json()["metadata"]["collectors"]
        .as_object()
        .unwrap_or_else(|| panic!("{}", out.stderr))
        .keys()
        .cloned()
        .collect()
}

#[test]
fn the_example_collector_runs_only_when_asked_for() {
    let env = Env::new();
    let dir = example_and_os();
    let out = run(env.eidos(&[dir.path()]).args(["snapshot", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(collectors_run(&out), ["os"]);
    assert!(
        !out.json()["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["type"] == "example"),
        "example measurements in a default snapshot"
    );
    let out =
        run(env
            .eidos(&[dir.path()])
            .args(["snapshot", "-f", "json", "--collectors", "example"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(collectors_run(&out), ["example"]);
    let out =
        run(env
            .eidos(&[dir.path()])
            .args(["snapshot", "-f", "json", "--require", "example"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(collectors_run(&out), ["os", "example"]);
    let (_c, cfg) = config("default-collectors = [\"example\"]\n");
    let out = run(env
        .eidos(&[dir.path()])
        .arg("--config")
        .arg(&cfg)
        .args(["snapshot", "-f", "json"]));
    assert_eq!(collectors_run(&out), ["example"]);
    // Listing plugins still shows it.
    let out = run(env.eidos(&[dir.path()]).args(["plugins", "list"]));
    assert!(out.stdout.contains("example"), "{}", out.stdout);
}

fn with_fixtures() -> PluginDir {
    let dir = PluginDir::with(&["collector_os", "serializer_json", "serializer_yaml"]);
    dir.add_library("fixture_plugin_fail", "libeidos_collector_fail.so");
    dir.add_library("fixture_plugin_hang", "libeidos_collector_hang.so");
    dir
}

#[test]
fn a_required_collector_that_is_not_applicable_fails_the_run_even_with_best_effort() {
    let env = Env::new();
    let dir = with_fixtures();
    let out_dir = tempfile::tempdir().unwrap();
    let target = out_dir.path().join("snap.json");
    let snapshot = |extra: &[&str]| {
        let _ = std::fs::remove_file(&target);
        run(env
            .eidos(&[dir.path()])
            .args([
                "snapshot",
                "--collectors",
                "os,fail",
                "--set",
                "fail.mode=not-applicable",
                "-o",
            ])
            .arg(&target)
            .args(extra))
    };
    // Not required: not applicable is fine.
    let out = snapshot(&[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // Required, fail-fast: exit 1, nothing written.
    let out = snapshot(&["--require", "fail"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("required collector fail not applicable"),
        "{}",
        out.stderr
    );
    assert!(!target.exists());
    // Required, best effort: the snapshot is written, and the run still exits 1.
    let out = snapshot(&["--require", "fail", "--best-effort"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("required collector fail not applicable"),
        "{}",
        out.stderr
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(written["metadata"]["collectors"]["os"]["status"], "ok");
    // The config file's require says the same.
    let (_c, cfg) = config("require = [\"fail\"]\n");
    let out = run(env.eidos(&[dir.path()]).arg("--config").arg(&cfg).args([
        "snapshot",
        "--collectors",
        "os,fail",
        "--set",
        "fail.mode=not-applicable",
        "--best-effort",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
}

#[test]
fn a_required_collector_that_fails_or_times_out_fails_the_run_and_joins_the_selection() {
    let env = Env::new();
    let dir = with_fixtures();
    // fail is not in --collectors, but required: it runs, fails, and the run exits 1.
    let out = run(env.eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "os",
        "--require",
        "fail",
        "--best-effort",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert_eq!(collectors_run(&out), ["os", "fail"]);
    assert!(
        out.stderr.contains("required collector fail failed"),
        "{}",
        out.stderr
    );
    // Timed out.
    let out = run(env.eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "os",
        "--require",
        "hang",
        "--best-effort",
        "--timeout",
        "hang=200ms",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("required collector hang timed out: no answer within 200ms"),
        "{}",
        out.stderr
    );
    // Without --require, best effort exits 0.
    let out = run(env.eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "os,fail",
        "--best-effort",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // An unknown required collector is a usage error.
    let out = run(env
        .eidos(&[dir.path()])
        .args(["snapshot", "--require", "gpu"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown collector \"gpu\" (required)"),
        "{}",
        out.stderr
    );
    // A name from the config file is reported with the file and line.
    let (_c, cfg) = config("\ndefault-collectors = [\"os\", \"gpux\"]\n");
    let out = run(env
        .eidos(&[dir.path()])
        .arg("--config")
        .arg(&cfg)
        .arg("snapshot"));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "unknown collector \"gpux\" from file {}:2",
            cfg.display()
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn per_collector_timeouts_come_from_flags_variables_and_the_file() {
    let env = Env::new();
    let dir = with_fixtures();
    let hang = |cmd: &mut Command, extra: &[&str]| {
        let out = run(cmd
            .args([
                "snapshot",
                "--collectors",
                "os,hang",
                "--best-effort",
                "-f",
                "json",
            ])
            .args(extra));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let doc = out.json();
        (
            doc["metadata"]["collectors"]["hang"]["reason"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            doc["metadata"]["collectors"]["os"]["status"].clone(),
        )
    };
    let (reason, os) = hang(
        &mut env.eidos(&[dir.path()]),
        &["--timeout", "10s,hang=150ms"],
    );
    assert_eq!(reason, "no answer within 150ms");
    assert_eq!(os, "ok");
    let (reason, _) = hang(
        &mut env.eidos(&[dir.path()]),
        &["--timeout", "10s", "--timeout", "hang=250ms"],
    );
    assert_eq!(reason, "no answer within 250ms");
    let (reason, _) = hang(
        env.eidos(&[dir.path()])
            .env("EIDOS_TIMEOUT", "hang=350ms, 10s"),
        &[],
    );
    assert_eq!(reason, "no answer within 350ms");
    let (_c, cfg) = config("timeout = \"10s\"\n[timeouts]\nhang = \"300ms\"\n");
    let (reason, _) = hang(env.eidos(&[dir.path()]).arg("--config").arg(&cfg), &[]);
    assert_eq!(reason, "no answer within 300ms");
    // config show lists it, from the file and its line.
    let out = run(env
        .eidos(&[])
        .arg("--config")
        .arg(&cfg)
        .args(["config", "show", "-f", "json"]));
    assert_eq!(
        shown(&out, "timeouts.hang"),
        ("300ms".to_owned(), format!("file {}:3", cfg.display()))
    );
    assert_eq!(shown(&out, "timeout").0, "10s");
}

#[test]
fn help_lists_each_commands_own_options_before_the_global_ones() {
    let env = Env::new();
    for args in [
        &["recipe"][..],
        &["snapshot"],
        &["serve"],
        &["plugins", "list"],
    ] {
        let out = run(env.eidos(&[]).args(args).arg("--help"));
        assert_eq!(out.code, Some(0));
        let help = &out.stdout;
        let own = help.find("Options:").unwrap_or_else(|| panic!("{help}"));
        let global = help
            .find("Global options:")
            .unwrap_or_else(|| panic!("{help}"));
        assert!(own < global, "{args:?}: {help}");
        assert!(help[global..].contains("--debug"), "{help}");
        assert!(help[global..].contains("--plugin-dir"), "{help}");
        assert!(!help[..global].contains("--debug"), "{help}");
    }
    let out = run(env.eidos(&[]).args(["recipe", "--help"]));
    let global = out.stdout.find("Global options:").unwrap();
    assert!(out.stdout[..global].contains("--osv"));
}

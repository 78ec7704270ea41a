//! End-to-end tests of executable collectors (`eidos-collector-NAME` programs) and of the built-in
//! static `facts` collector: the Python and shell examples under `plugins/` run through the real
//! binary, and every hostile fixture under `tests/fixtures/exec` is contained and reported.

use eidos_e2e::{eidos, run, workspace_root, PluginDir, Run};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A plugin directory with the JSON serializer and copies of the given executables (paths relative
/// to the workspace root), each installed `0755` under its own file name.
fn plugin_dir(executables: &[&str]) -> PluginDir {
    let dir = PluginDir::with(&["serializer_json"]);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for relative in executables {
        let source = workspace_root().join(relative);
        let name = source.file_name().unwrap().to_str().unwrap().to_owned();
        let target = dir.add_file(&name, &std::fs::read(&source).unwrap());
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

fn fixture(name: &str) -> String {
    format!("tests/fixtures/exec/eidos-collector-{name}")
}

const PYTHON: &str = "plugins/exec-python/eidos-collector-py-example";
const SHELL: &str = "plugins/exec-shell/eidos-collector-sh-example";

fn snapshot(dir: &Path, args: &[&str]) -> Run {
    run(eidos(&[dir])
        .args(["snapshot", "--format", "json"])
        .args(args))
}

/// `eidos snapshot` of the Python example collector alone, asked to read `keys`.
fn py_example_reading(dir: &Path, keys: &str) -> Run {
    snapshot(
        dir,
        &[
            "--collectors",
            "py-example",
            "--set",
            &format!("py-example.keys={keys}"),
        ],
    )
}

fn collector<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["metadata"]["collectors"][name]
}

/// Whether the process `pid` is gone: no such process, or a zombie waiting for its (new) parent.
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn the_python_and_shell_examples_are_listed_locked_and_run_end_to_end() {
    let dir = plugin_dir(&[PYTHON, SHELL]);
    let list = run(eidos(&[dir.path()]).args(["plugins", "list", "-f", "json"]));
    assert_eq!(list.code, Some(0), "{}", list.stderr);
    let entries = list.json();
    for (name, file) in [("py-example", PYTHON), ("sh-example", SHELL)] {
        let entry = entries
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {entries}"));
        assert_eq!(entry["status"], "loaded", "{entry}");
        assert_eq!(entry["kind"], "collector");
        assert_eq!(entry["apiVersion"], "1.2.0");
        assert_eq!(entry["sha256"].as_str().unwrap().len(), 64);
        assert_eq!(
            entry["path"].as_str().unwrap(),
            dir.path()
                .join(Path::new(file).file_name().unwrap())
                .to_str()
                .unwrap()
        );
    }

    let out = snapshot(
        dir.path(),
        &[
            "--collectors",
            "py-example,sh-example",
            "--set",
            "py-example.keys=kernel/ostype",
            "--debug",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    for name in ["py-example", "sh-example"] {
        assert_eq!(collector(&doc, name)["status"], "ok", "{doc}");
        assert_eq!(collector(&doc, name)["plugin-version"], "0.1.0");
    }
    let measurement = |kind: &str| {
        doc["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} measurement: {doc}"))
            .clone()
    };
    let py = measurement("py-example");
    assert_eq!(
        py["subtypes"][0]["data"],
        serde_json::json!({"kernel.ostype": "Linux"}),
        "the option reached the Python collector"
    );
    let sh = measurement("sh-example");
    assert_eq!(sh["subtypes"][0]["data"]["ostype"], "Linux");
    // Standard error is the collector's log: each line re-emitted, on a line of its own, with the
    // field `collector=NAME`.
    assert!(
        out.stderr.lines().any(|l| l.contains(" INFO ")
            && l.contains("reading /proc/sys/kernel")
            && l.contains("collector=sh-example")),
        "{}",
        out.stderr
    );

    // `plugins lock` pins the executables by hash; a changed file is then refused.
    let lock_file = dir.path().join("plugins.lock");
    let lock = run(eidos(&[dir.path()])
        .args(["plugins", "lock", "-o"])
        .arg(&lock_file));
    assert_eq!(lock.code, Some(0), "{}", lock.stderr);
    let text = std::fs::read_to_string(&lock_file).unwrap();
    assert!(
        text.contains("file = \"eidos-collector-sh-example\""),
        "{text}"
    );
    assert!(
        !text.contains("name = \"facts\""),
        "built-ins are not locked: {text}"
    );
    let shell = dir.path().join("eidos-collector-sh-example");
    let changed = std::fs::read_to_string(&shell).unwrap() + "\n# changed\n";
    std::fs::write(&shell, changed).unwrap();
    let out = run(eidos(&[dir.path()])
        .args(["--plugin-lock"])
        .arg(&lock_file)
        .args(["snapshot", "--format", "json", "--collectors", "sh-example"]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("does not match the plugin lock: hash mismatch"),
        "{}",
        out.stderr
    );
}

#[test]
fn options_are_checked_before_an_executable_collector_runs() {
    let dir = plugin_dir(&[SHELL, &fixture("fork")]);
    let pidfile = dir.path().join("never-written");
    let out = snapshot(
        dir.path(),
        &[
            "--collectors",
            "fork,sh-example",
            "--set",
            &format!("fork.pidfile={}", pidfile.display()),
            "--set",
            "sh-example.colour=blue",
        ],
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("collector \"sh-example\" has no option \"colour\" (it takes no options)"),
        "{}",
        out.stderr
    );
    assert!(!pidfile.exists(), "no collector ran");
}

#[test]
fn a_hanging_collector_times_out_and_its_whole_process_group_is_killed() {
    let dir = plugin_dir(&[SHELL, &fixture("hang")]);
    let pidfile = dir.path().join("hang.pid");
    let out = snapshot(
        dir.path(),
        &[
            "--collectors",
            "hang,sh-example",
            "--best-effort",
            "--timeout",
            "hang=1s",
            "--set",
            &format!("hang.pidfile={}", pidfile.display()),
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(collector(&doc, "hang")["status"], "timed-out", "{doc}");
    assert_eq!(collector(&doc, "sh-example")["status"], "ok", "{doc}");
    assert_eq!(doc["metadata"]["complete"], false);
    assert!(
        out.elapsed < std::time::Duration::from_secs(60),
        "the run waited for the hanging collector's child instead of killing it"
    );
    let child = read_pid(&pidfile);
    // The run returned only after killing the group: the child is gone already, not eventually.
    assert!(
        gone(child),
        "the hanging collector's child {child} survived the run"
    );
}

#[test]
fn a_flood_of_output_is_cut_at_the_limit_and_reported() {
    let dir = plugin_dir(&[&fixture("flood")]);
    let out = snapshot(dir.path(), &["--collectors", "flood", "--timeout", "60s"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let flood = dir.path().join("eidos-collector-flood");
    assert!(
        out.stderr.contains(&format!(
            "collector flood failed: executable collector {}: its answer is larger than the limit of 16777216 bytes; it was stopped",
            flood.display()
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "nothing is written without --best-effort");
}

#[test]
fn garbage_a_failing_exit_and_a_crash_are_failures_naming_the_executable() {
    let dir = plugin_dir(&[
        SHELL,
        &fixture("garbage"),
        &fixture("exit1"),
        &fixture("crash"),
    ]);
    let out = snapshot(
        dir.path(),
        &[
            "--collectors",
            "garbage,exit1,crash,sh-example",
            "--best-effort",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let reason = |name: &str| {
        let report = collector(&doc, name);
        assert_eq!(report["status"], "failed", "{name}: {report}");
        let reason = report["reason"].as_str().unwrap().to_owned();
        let path = dir.path().join(format!("eidos-collector-{name}"));
        assert!(
            reason.starts_with(&format!("executable collector {}: ", path.display())),
            "{reason}"
        );
        reason
    };
    let garbage = reason("garbage");
    assert!(
        garbage.contains("its answer is not a collect response in JSON")
            && garbage.contains("it began: \"Hello! I am definitely not JSON.\""),
        "{garbage}"
    );
    assert!(
        reason("exit1")
            .ends_with("it exited with exit code 1 (its last log line: error: sensor offline)"),
        "{doc}"
    );
    assert!(
        reason("crash").contains("it was killed by SIGSEGV (signal 11)"),
        "{doc}"
    );
    assert_eq!(collector(&doc, "sh-example")["status"], "ok");
    assert_eq!(doc["metadata"]["complete"], false);
}

#[test]
fn without_best_effort_a_failure_cancels_a_running_executable_and_kills_it() {
    let dir = plugin_dir(&[&fixture("exit1"), &fixture("hang")]);
    let pidfile = dir.path().join("hang.pid");
    let out = snapshot(
        dir.path(),
        &[
            "--collectors",
            "hang,exit1",
            "--timeout",
            "60s",
            "--set",
            &format!("hang.pidfile={}", pidfile.display()),
        ],
    );
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("collector exit1 failed") && out.stderr.contains("sensor offline"),
        "{}",
        out.stderr
    );
    assert!(
        out.elapsed < std::time::Duration::from_secs(50),
        "the hanging collector was cancelled, not waited for"
    );
    // The hanging collector may have been cancelled before it wrote its pid file.
    if pidfile.exists() {
        let child = read_pid(&pidfile);
        assert!(
            gone(child),
            "the cancelled collector's child {child} survived"
        );
    }
}

#[test]
fn a_child_left_behind_by_a_collector_that_answered_is_killed() {
    let dir = plugin_dir(&[&fixture("fork")]);
    let pidfile = dir.path().join("fork.pid");
    let out = snapshot(
        dir.path(),
        &[
            "--collectors",
            "fork",
            "--set",
            &format!("fork.pidfile={}", pidfile.display()),
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(collector(&out.json(), "fork")["status"], "ok");
    let child = read_pid(&pidfile);
    assert!(gone(child), "the collector's child {child} outlived it");
    // And the child held the collector's output open: the run did not wait for it.
    assert!(out.elapsed < std::time::Duration::from_secs(60));
}

#[test]
fn an_executable_writable_by_others_is_refused_like_a_library() {
    let dir = plugin_dir(&[SHELL]);
    let shell = dir.path().join("eidos-collector-sh-example");
    std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = snapshot(dir.path(), &["--collectors", "sh-example"]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "{} is writable by group and others",
            shell.display()
        )),
        "{}",
        out.stderr
    );
}

/// A facts directory (mode 0755) with the given files.
fn facts_dir(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = tmp.path().join("facts.d");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    (tmp, dir)
}

#[test]
fn static_facts_join_the_snapshot_and_malformed_files_are_warnings_naming_them() {
    let (_tmp, facts) = facts_dir(&[
        (
            "acme.yaml",
            "type: acme-nic\nsubtypes:\n  - subtype: eth0\n    data:\n      mtu: 9000\n",
        ),
        ("broken.json", "{\"type\": "),
        ("slash.yaml", "type: acme/nic\nsubtypes: []\n"),
    ]);
    let dir = plugin_dir(&[SHELL]);
    // By flag, with every collector found: facts runs because its directory exists.
    let out = run(eidos(&[dir.path()])
        .args(["snapshot", "--format", "json", "--facts-dir"])
        .arg(&facts));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(collector(&doc, "facts")["status"], "ok", "{doc}");
    assert_eq!(collector(&doc, "sh-example")["status"], "ok", "{doc}");
    let warning = format!(
        "facts file {} skipped: malformed JSON",
        facts.join("broken.json").display()
    );
    // A type that recipe data could never name is refused too.
    let slash = format!(
        "facts file {} skipped: measurement 1: invalid measurement type \"acme/nic\"",
        facts.join("slash.yaml").display()
    );
    let warnings = collector(&doc, "facts")["warnings"].as_array().unwrap();
    assert!(
        warnings.len() == 2
            && warnings[0].as_str().unwrap().starts_with(&warning)
            && warnings[1].as_str().unwrap().starts_with(&slash),
        "{doc}"
    );
    assert!(out.stderr.contains(&warning), "{}", out.stderr);
    assert!(out.stderr.contains(&slash), "{}", out.stderr);
    let nic = doc["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "acme-nic")
        .unwrap_or_else(|| panic!("{doc}"));
    assert_eq!(nic["subtypes"][0]["data"]["mtu"], 9000);

    // By environment variable; `plugins list` shows the built-in collector and its directory.
    let list = run(eidos(&[dir.path()])
        .env("EIDOS_FACTS_DIR", &facts)
        .args(["plugins", "list", "-f", "json"]));
    let entries = list.json();
    let entry = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "facts")
        .unwrap_or_else(|| panic!("{entries}"));
    assert_eq!(entry["builtin"], true);
    assert_eq!(entry["path"], facts.to_str().unwrap());
    assert_eq!(entry["status"], "loaded");
}

#[test]
fn without_its_directory_facts_runs_only_when_named_and_is_not_applicable() {
    let dir = plugin_dir(&[SHELL]);
    let out = snapshot(dir.path(), &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert!(collector(&doc, "facts").is_null(), "{doc}");
    let out = snapshot(dir.path(), &["--collectors", "facts"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let report = collector(&out.json(), "facts").clone();
    assert_eq!(report["status"], "not-applicable", "{report}");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .starts_with("there is no facts directory "),
        "{report}"
    );
}

#[test]
fn a_plugin_file_named_facts_is_shadowed_by_the_built_in_collector() {
    let dir = plugin_dir(&[SHELL]);
    let body = std::fs::read_to_string(workspace_root().join(SHELL))
        .unwrap()
        .replace("sh-example", "facts");
    let file = dir.add_file("eidos-collector-facts", body.as_bytes());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    let list = run(eidos(&[dir.path()]).args(["plugins", "list", "-f", "json"]));
    let entries = list.json();
    let shadowed = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == file.to_str().unwrap())
        .unwrap_or_else(|| panic!("{entries}"));
    assert_eq!(
        shadowed["status"],
        serde_json::json!({"shadowed": {"by": "(built-in)"}})
    );
}

/// The log line (of eidos's standard error) that holds `text`.
fn log_line<'a>(stderr: &'a str, text: &str) -> &'a str {
    stderr
        .lines()
        .find(|l| l.contains(text))
        .unwrap_or_else(|| panic!("no log line with {text:?} in:\n{stderr}"))
}

#[test]
fn a_warning_on_an_executables_stderr_is_re_emitted_as_a_warning_with_its_name() {
    let dir = plugin_dir(&[PYTHON]);
    let out = py_example_reading(dir.path(), "kernel/no-such-key");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let line = log_line(&out.stderr, "cannot read kernel/no-such-key");
    assert!(
        line.contains(" WARN ") && line.contains("collector=py-example"),
        "{line}"
    );
}

#[test]
fn an_executable_collector_can_report_not_applicable() {
    let dir = plugin_dir(&[PYTHON, SHELL]);
    let root = tempfile::tempdir().unwrap();
    let out = run(eidos(&[dir.path()])
        .env("EIDOS_HOST_ROOT", root.path())
        .args(["snapshot", "--format", "json"])
        .args(["--collectors", "py-example,sh-example"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    for (name, reason) in [
        (
            "py-example",
            format!("{}/proc/sys does not exist", root.path().display()),
        ),
        (
            "sh-example",
            format!(
                "{}/proc/sys/kernel/osrelease is not readable",
                root.path().display()
            ),
        ),
    ] {
        let report = collector(&doc, name);
        assert_eq!(report["status"], "not-applicable", "{doc}");
        assert_eq!(report["reason"], reason.as_str(), "{doc}");
    }
    assert!(
        !doc["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["type"] == "py-example" || m["type"] == "sh-example"),
        "{doc}"
    );
}

#[test]
fn an_invalid_option_reported_by_an_executable_is_a_usage_error() {
    let dir = plugin_dir(&[PYTHON]);
    let out = py_example_reading(dir.path(), "/etc/shadow");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "collector py-example: option keys: '/etc/shadow' is not a path below /proc/sys"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn plugins_describe_shows_an_executable_and_the_types_of_its_options() {
    let dir = plugin_dir(&[&fixture("typed")]);
    let file = dir.path().join("eidos-collector-typed");
    let out = run(eidos(&[dir.path()]).args(["plugins", "describe", "typed", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let sha256 = sha256_of(&file);
    assert_eq!(
        doc,
        serde_json::json!({
            "name": "typed",
            "kind": "collector",
            "version": "0.0.1",
            "apiVersion": "1.2.0",
            "description": "typed options fixture",
            "path": file.to_str().unwrap(),
            "sha256": sha256,
            "status": "loaded",
            "options": [
                {"key": "count", "type": "integer", "default": "3", "description": "how many"},
                {"key": "mode", "type": "one-of", "values": ["fast", "slow"], "default": "fast", "description": "how"},
                {"key": "ranfile", "type": "string", "description": "a file it writes when it runs"}
            ]
        })
    );
    let table = run(eidos(&[dir.path()]).args(["plugins", "describe", "typed"]));
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.strip_prefix("file:").map(str::trim) == file.to_str())
            && table.stdout.lines().any(|l| l
                .split_whitespace()
                .eq(["mode", "one-of:", "fast,", "slow", "fast", "how"])),
        "{}",
        table.stdout
    );
}

/// The SHA-256 of a file, as `eidos plugins list` computes it (through `sha256sum`, a tool of the
/// test machine, so that the expected value does not come from eidos itself).
fn sha256_of(file: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(file)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn a_bad_value_for_a_typed_option_of_an_executable_exits_2_before_it_runs() {
    let dir = plugin_dir(&[&fixture("typed")]);
    let ranfile = dir.path().join("ran");
    let set_ranfile = format!("typed.ranfile={}", ranfile.display());
    for (bad, message) in [
        ("typed.count=lots", "count"),
        ("typed.mode=medium", "fast, slow"),
    ] {
        let out = snapshot(
            dir.path(),
            &["--collectors", "typed", "--set", &set_ranfile, "--set", bad],
        );
        assert_eq!(out.code, Some(2), "{bad}: {}", out.stderr);
        assert!(
            out.stderr.contains("typed") && out.stderr.contains(message),
            "{bad}: {}",
            out.stderr
        );
        assert!(!ranfile.exists(), "{bad}: the collector ran");
    }
    let out = snapshot(
        dir.path(),
        &[
            "--collectors",
            "typed",
            "--set",
            &set_ranfile,
            "--set",
            "typed.count=5",
            "--set",
            "typed.mode=slow",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(collector(&out.json(), "typed")["status"], "ok");
    assert!(ranfile.exists(), "good values: the collector ran");
}

/// `eidos plugins list -f json` over `dirs`: each file's status, by path.
fn statuses(dirs: &[&Path]) -> Vec<(String, Value)> {
    let out = run(eidos(dirs).args(["plugins", "list", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].as_str().unwrap().to_owned(), e["status"].clone()))
        .collect()
}

fn status_of(statuses: &[(String, Value)], file: &Path) -> Value {
    statuses
        .iter()
        .find(|(path, _)| path == file.to_str().unwrap())
        .unwrap_or_else(|| panic!("{} not listed: {statuses:?}", file.display()))
        .1
        .clone()
}

#[test]
fn an_executable_and_a_library_of_the_same_name_shadow_each_other_in_discovery_order() {
    // The shell example, renamed `os`.
    let os_script = std::fs::read_to_string(workspace_root().join(SHELL))
        .unwrap()
        .replace("sh-example", "os");
    let add_executable = |dir: &PluginDir| {
        let file = dir.add_file("eidos-collector-os", os_script.as_bytes());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        file
    };
    let shadowed_by = |by: &Path| serde_json::json!({"shadowed": {"by": by.to_str().unwrap()}});

    // In one directory, files are taken in name order: `eidos-collector-os` first.
    let both = plugin_dir(&[]);
    let library = both.add_builtin("collector_os");
    let executable = add_executable(&both);
    let list = statuses(&[both.path()]);
    assert_eq!(status_of(&list, &executable), "loaded");
    assert_eq!(status_of(&list, &library), shadowed_by(&executable));
    let out = snapshot(both.path(), &["--collectors", "os"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(collector(&out.json(), "os")["plugin-version"], "0.1.0");
    assert!(
        out.json()["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["type"] == "os" && m["subtypes"][0]["subtype"] == "kernel"),
        "the executable ran: {}",
        out.stdout
    );

    // Across directories, the earlier directory wins, whichever kind of file it holds.
    let libraries = plugin_dir(&[]);
    let library = libraries.add_builtin("collector_os");
    let executables = plugin_dir(&[]);
    let executable = add_executable(&executables);
    let list = statuses(&[libraries.path(), executables.path()]);
    assert_eq!(status_of(&list, &library), "loaded");
    assert_eq!(status_of(&list, &executable), shadowed_by(&library));
    let list = statuses(&[executables.path(), libraries.path()]);
    assert_eq!(status_of(&list, &executable), "loaded");
    assert_eq!(status_of(&list, &library), shadowed_by(&executable));
}

#[test]
fn the_config_file_key_facts_dir_names_the_facts_directory() {
    let (_tmp, facts) = facts_dir(&[(
        "acme.yaml",
        "type: acme-nic\nsubtypes:\n  - subtype: eth0\n    data:\n      mtu: 9000\n",
    )]);
    let dir = plugin_dir(&[]);
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("config.toml");
    std::fs::write(
        &file,
        format!("facts-dir = {:?}\n", facts.to_str().unwrap()),
    )
    .unwrap();
    let facts_from = |env: Option<&Path>| {
        let mut cmd = eidos(&[dir.path()]);
        // The test harness points EIDOS_FACTS_DIR at a missing directory; the file is below it.
        cmd.env_remove("EIDOS_FACTS_DIR");
        if let Some(env) = env {
            cmd.env("EIDOS_FACTS_DIR", env);
        }
        let out = run(cmd.arg("--config").arg(&file).args([
            "snapshot",
            "--format",
            "json",
            "--collectors",
            "facts",
        ]));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        collector(&out.json(), "facts").clone()
    };
    assert_eq!(facts_from(None)["status"], "ok");
    // The environment wins over the file.
    let missing = config.path().join("missing");
    let report = facts_from(Some(&missing));
    assert_eq!(report["status"], "not-applicable", "{report}");
    assert_eq!(
        report["reason"],
        format!("there is no facts directory {}", missing.display())
    );
}

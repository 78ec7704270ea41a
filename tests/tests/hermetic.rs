//! The e2e helper `eidos()` runs the binary in an environment the developer's cannot change: a
//! private empty HOME, no `EIDOS_*`, `XDG_*`, `KUBECONFIG`, `PORT`, `NODE_NAME` or `RUST_LOG`.
//!
//! The proof runs this test binary again as a child process whose environment is hostile (a config
//! file in its HOME and in its XDG config directory, `EIDOS_*` settings, a kubeconfig, a log
//! filter), as a developer's shell might be; the child checks that eidos behaves as it does on a
//! clean machine, and that the same command without the helper would not. Setting the variables
//! in this process instead would race with the other tests' threads.

use eidos_e2e::{eidos, eidos_bin, run, PluginDir};
use std::path::Path;
use std::process::Command;

/// Set (to the hostile HOME) only in the child process.
const CHILD_MARKER: &str = "EIDOS_E2E_HOSTILE_HOME";

fn plugins() -> PluginDir {
    PluginDir::with(&["collector_os", "serializer_json", "serializer_yaml"])
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_hostile_developer_environment_does_not_reach_eidos() {
    let hostile = tempfile::tempdir().unwrap();
    let home = hostile.path().join("home");
    let xdg = hostile.path().join("xdg");
    // Both would make every snapshot JSON, and time out every collector.
    let config = "format = \"json\"\ntimeout = \"1ns\"\n";
    write(&home.join(".config/eidos/config.toml"), config);
    write(&xdg.join("eidos/config.toml"), config);
    let kubeconfig = hostile.path().join("kubeconfig");
    write(&kubeconfig, "this is not a kubeconfig\n");

    let out = run(Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_runs_eidos_in_the_hostile_environment",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MARKER, &home)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &xdg)
        .env("EIDOS_FORMAT", "json")
        .env("EIDOS_COLLECTORS", "no-such-collector")
        .env("EIDOS_TIMEOUT", "1ns")
        .env("EIDOS_HOST_ROOT", "/nonexistent/eidos-root")
        .env("EIDOS_PLUGIN_LOCK", "/nonexistent/eidos-plugins.lock")
        .env("KUBECONFIG", &kubeconfig)
        .env("NODE_NAME", "someone-elses-node")
        .env("PORT", "1")
        .env("RUST_LOG", "trace"));
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("hostile environment checked"),
        "the child test did not run:\n{}",
        out.stdout
    );
}

/// Part of the test above: does nothing unless that test started this process.
#[test]
fn child_runs_eidos_in_the_hostile_environment() {
    let Some(hostile_home) = std::env::var_os(CHILD_MARKER) else {
        return;
    };
    let dir = plugins();

    // Without the helper, the environment changes the result: the proof can fail.
    let mut plain = Command::new(eidos_bin());
    plain
        .env("EIDOS_NO_DEFAULT_PLUGIN_DIRS", "true")
        .arg("--plugin-dir")
        .arg(dir.path())
        .arg("snapshot");
    let leaked = run(&mut plain);
    assert!(
        leaked.code != Some(0) || leaked.stdout.starts_with('{'),
        "the hostile environment did not change a plain run: {leaked:?}"
    );

    // With it: a private, empty HOME, and the defaults of a clean machine.
    let mut cmd = eidos(&[dir.path()]);
    cmd.arg("snapshot");
    assert_ne!(cmd.home(), Path::new(&hostile_home));
    assert_eq!(std::fs::read_dir(cmd.home()).unwrap().count(), 0);
    let out = run(&mut cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc: serde_yaml::Value = serde_yaml::from_str(&out.stdout).unwrap();
    assert!(!out.stdout.starts_with('{'), "YAML, the default format");
    assert_eq!(doc["kind"], "Snapshot");
    let collectors = doc["metadata"]["collectors"].as_mapping().unwrap();
    assert_eq!(collectors.len(), 1, "{collectors:?}");
    assert_eq!(doc["metadata"]["collectors"]["os"]["status"], "ok");
    assert!(!out.stderr.contains("TRACE"), "{}", out.stderr);
    println!("hostile environment checked");
}

#[test]
fn every_run_gets_its_own_home() {
    let (a, b) = (eidos(&[]), eidos(&[]));
    assert_ne!(a.home(), b.home());
    let home = a.home().to_path_buf();
    assert!(home.is_dir());
    drop(a);
    assert!(!home.exists(), "removed with its command");
}

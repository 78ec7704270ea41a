//! End-to-end tests of the configuration file and its precedence: flags > environment > file >
//! defaults; unknown keys and wrong types; `eidos config show`.

use eidos_e2e::{eidos, run, PluginDir};
use std::path::PathBuf;

fn plugins() -> PluginDir {
    let dir = PluginDir::with(&[
        "collector_os",
        "serializer_json",
        "serializer_yaml",
        "serializer_table",
    ]);
    dir.add_library("fixture_plugin_fail", "libeidos_collector_fail.so");
    dir.add_library("fixture_plugin_hang", "libeidos_collector_hang.so");
    dir
}

fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn format_collectors_and_options_come_from_the_file_below_env_and_flags() {
    let dir = plugins();
    let (_c, cfg) = config(
        "format = \"json\"\ndefault-collectors = [\"os\", \"fail\"]\n[collectors.fail]\nmode = \"not-applicable\"\n",
    );
    let out = run(eidos(&[dir.path()])
        .arg("--config")
        .arg(&cfg)
        .arg("snapshot"));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let ran: Vec<_> = doc["metadata"]["collectors"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(ran, ["os", "fail"]);
    assert_eq!(
        doc["metadata"]["collectors"]["fail"]["status"],
        "not-applicable"
    );

    // The environment beats the file; a flag beats both.
    let out = run(eidos(&[dir.path()])
        .env("EIDOS_CONFIG", &cfg)
        .env("EIDOS_FORMAT", "yaml")
        .arg("snapshot"));
    assert!(out.stdout.starts_with("kind: Snapshot"), "{}", out.stderr);
    let out = run(eidos(&[dir.path()])
        .env("EIDOS_CONFIG", &cfg)
        .env("EIDOS_FORMAT", "yaml")
        .args(["snapshot", "-f", "json"]));
    assert!(out.stdout.starts_with('{'));
    // --set beats the file's option.
    let out = run(eidos(&[dir.path()]).arg("--config").arg(&cfg).args([
        "snapshot",
        "--set",
        "fail.mode=fail",
    ]));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("collector fail failed"),
        "{}",
        out.stderr
    );
    // --collectors beats default-collectors.
    let out = run(eidos(&[dir.path()]).arg("--config").arg(&cfg).args([
        "snapshot",
        "--collectors",
        "os",
    ]));
    assert_eq!(
        out.json()["metadata"]["collectors"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn the_timeout_and_plugin_dirs_come_from_the_file() {
    let dir = plugins();
    let (_c, cfg) = config(&format!(
        "timeout = \"200ms\"\nplugin-dirs = [{:?}]\n",
        dir.path().to_str().unwrap()
    ));
    let out = run(eidos(&[])
        .arg("--config")
        .arg(&cfg)
        .args(["snapshot", "--collectors", "hang"]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("no answer within 200ms"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_default_location_follows_the_platform_config_dir() {
    let dir = plugins();
    let xdg = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(xdg.path().join("eidos")).unwrap();
    std::fs::write(xdg.path().join("eidos/config.toml"), "format = \"json\"\n").unwrap();
    let out = run(eidos(&[dir.path()])
        .env("XDG_CONFIG_HOME", xdg.path())
        .args(["snapshot", "--collectors", "os"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.starts_with('{'),
        "the default config file was not read"
    );
}

#[test]
fn unknown_keys_wrong_types_and_bad_options_name_the_file_and_key() {
    let dir = plugins();
    for (text, expected) in [
        ("formt = \"json\"\n", "unknown field `formt`"),
        (
            "timeout = 5\n",
            "invalid type: integer `5`, expected a string",
        ),
        ("[serve]\nrate-limit = \"fast\"\n", "expected f64"),
        ("[serve]\nrate-burst = -1\n", "expected u32"),
        (
            "timeout = \"soon\"\n",
            ":1: key `timeout`: invalid value \"soon\"",
        ),
        (
            "[collectors.os]\nrot = \"/host\"\n",
            "[collectors.os] has unknown option \"rot\" (known options: root, sysctl-interfaces)",
        ),
    ] {
        let (_c, cfg) = config(text);
        let out = run(eidos(&[dir.path()]).arg("--config").arg(&cfg).args([
            "snapshot",
            "--collectors",
            "os",
        ]));
        assert_eq!(out.code, Some(2), "{text}: {}", out.stderr);
        assert!(
            out.stderr.contains(cfg.to_str().unwrap()),
            "{text}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(expected), "{text}: {}", out.stderr);
    }
    let out = run(eidos(&[dir.path()]).args(["--config", "/nonexistent/config.toml", "snapshot"]));
    assert_eq!(out.code, Some(2));
    assert!(out
        .stderr
        .contains("cannot read config file /nonexistent/config.toml"));
}

#[test]
fn config_show_prints_each_value_and_its_source() {
    let (_c, cfg) = config("format = \"json\"\ntimeout = \"7s\"\n[collectors.systemd]\nunits = [\"a.service\", \"b.service\"]\n[serve]\nrate-limit = 5\n");
    let out = run(eidos(&[])
        .arg("--config")
        .arg(&cfg)
        .env("EIDOS_TIMEOUT", "9s")
        .args(["config", "show", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let settings = out.json();
    let get = |key: &str| {
        settings
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("{key} missing"))
            .clone()
    };
    let file = format!("file {}:1", cfg.display());
    assert!(get("format")["value"].as_str().unwrap().starts_with("json"));
    assert_eq!(get("format")["source"], file.as_str());
    assert_eq!(get("timeout")["value"], "9s");
    assert_eq!(get("timeout")["source"], "env EIDOS_TIMEOUT");
    assert_eq!(
        get("collectors.systemd.units")["value"],
        "a.service,b.service"
    );
    assert_eq!(get("serve.rate-limit")["value"], "5");
    assert_eq!(get("serve.rate-burst")["source"], "default");
    assert_eq!(get("config")["source"], "flag --config");
    assert_eq!(
        get("collectors.systemd.units")["source"],
        format!("file {}:4", cfg.display()).as_str()
    );
}

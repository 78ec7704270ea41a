//! Typed collector options (plugin API 1.2), end to end: the host checks every value against the
//! type the collector declares before any collector runs, reports every problem at once naming
//! `COLLECTOR.KEY`, the value and what was expected, and exits 2 without collecting anything.

use eidos_e2e::{eidos, run, PluginDir};

/// The example and os collectors (typed options), the `fail` fixture (untyped options, and it
/// fails as soon as it runs), and the JSON serializer.
fn plugins() -> PluginDir {
    let dir = PluginDir::with(&["collector_example", "collector_os", "serializer_json"]);
    dir.add_library("fixture_plugin_fail", "libeidos_collector_fail.so");
    dir
}

#[test]
fn every_bad_option_value_is_reported_at_once_and_no_collector_runs() {
    let dir = plugins();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "[collectors.os]\nroot = 5\nsysctl-interfaces = [\"yes\"]\n",
    )
    .unwrap();
    let out = run(eidos(&[dir.path()])
        .arg("--config")
        .arg(&config)
        .args(["snapshot", "--collectors", "example,os,fail", "-f", "json"])
        .args(["--set", "example.uptime=maybe", "--set", "fail.mode=x"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing is written: {}", out.stdout);
    let config = config.display();
    for want in [
        "3 collector option errors:".to_owned(),
        "example.uptime: invalid value \"maybe\" (from --set): expected a boolean: one of true, 1, \
         yes, on, false, 0, no, off (any case)"
            .to_owned(),
        format!(
            "os.root: invalid value 5 (from file {config}:2): expected text (the config file gave \
             an integer)"
        ),
        format!(
            "os.sysctl-interfaces: invalid value [\"yes\"] (from file {config}:3): expected a \
             boolean"
        ),
    ] {
        assert!(out.stderr.contains(&want), "missing {want:?}:\n{}", out.stderr);
    }
    // The `fail` collector fails whenever it runs: its message would show that it did.
    assert!(
        !out.stderr.contains("fixture failure"),
        "a collector ran: {}",
        out.stderr
    );
}

#[test]
fn typed_values_from_the_config_file_reach_the_collector() {
    let dir = plugins();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(&config, "[collectors.example]\nuptime = false\n").unwrap();
    let out = run(eidos(&[dir.path()]).arg("--config").arg(&config).args([
        "snapshot",
        "--collectors",
        "example",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let subtypes = doc["measurements"][0]["subtypes"].as_array().unwrap();
    assert!(
        subtypes.iter().all(|s| s["subtype"] != "uptime"),
        "uptime = false (a TOML boolean) was ignored: {doc}"
    );
    assert!(subtypes.iter().any(|s| s["subtype"] == "loadavg"));

    // Unset, the declared default (true) applies in the plugin.
    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "example", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("\"uptime\""), "{}", out.stdout);
}

#[test]
fn plugins_describe_shows_a_plugin_with_its_typed_options_in_each_format() {
    let dir = plugins();
    let out = run(eidos(&[dir.path()]).args(["plugins", "describe", "example", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["name"], "example");
    assert_eq!(doc["kind"], "collector");
    assert_eq!(doc["status"], "loaded");
    let api =
        std::fs::read_to_string(eidos_e2e::workspace_root().join("plugin-api/Cargo.toml")).unwrap();
    assert!(
        api.contains(&format!("\nversion = {}\n", doc["apiVersion"])),
        "{doc}"
    );
    assert_eq!(doc["sha256"].as_str().map(str::len), Some(64), "{doc}");
    assert!(doc["path"]
        .as_str()
        .unwrap()
        .ends_with("libeidos_collector_example.so"));
    assert_eq!(
        doc["options"],
        serde_json::json!([{
            "key": "uptime",
            "type": "bool",
            "default": "true",
            "description": "also read /proc/uptime"
        }])
    );

    let out = run(eidos(&[dir.path()]).args(["plugins", "describe", "fail", "-f", "yaml"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc: serde_yaml::Value = serde_yaml::from_str(&out.stdout).unwrap();
    assert_eq!(doc["options"][0]["key"], "delay-ms");
    assert_eq!(
        doc["options"][0]["type"], "string",
        "untyped options are text"
    );

    let out = run(eidos(&[dir.path()]).args(["plugins", "describe", "os"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("kind:          collector"),
        "{}",
        out.stdout
    );
    let row = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("sysctl-interfaces"))
        .unwrap_or_else(|| panic!("no option row: {}", out.stdout));
    let cells: Vec<&str> = row.split_whitespace().take(3).collect();
    assert_eq!(cells, ["sysctl-interfaces", "bool", "false"]);

    let out = run(eidos(&[dir.path()]).args(["plugins", "describe", "acme-nic"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("no plugin named \"acme-nic\": found example, facts, fail, json, os"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_plugins_tracing_events_reach_the_host_log_tagged_with_the_collector() {
    let dir = plugins();
    let snapshot = ["snapshot", "--collectors", "example", "-f", "json"];
    let out = run(eidos(&[dir.path()]).args(snapshot));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        !out.stderr.contains("reading the uptime"),
        "a debug event without --debug: {}",
        out.stderr
    );

    let out = run(eidos(&[dir.path()]).arg("--debug").args(snapshot));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("reading the uptime"))
        .unwrap_or_else(|| panic!("the plugin's event is missing: {}", out.stderr));
    assert!(
        line.contains("collector=\"example\"") || line.contains("collector=example"),
        "{line}"
    );

    let out = run(eidos(&[dir.path()])
        .args(["--debug", "--log-json"])
        .args(snapshot));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let event: serde_json::Value = out
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("reading the uptime"))
        })
        .unwrap_or_else(|| panic!("no JSON event from the plugin: {}", out.stderr));
    assert_eq!(event["level"], "DEBUG");
    assert_eq!(event["fields"]["collector"], "example");
    assert!(event["fields"]["message"]
        .as_str()
        .unwrap()
        .contains("path="));
}

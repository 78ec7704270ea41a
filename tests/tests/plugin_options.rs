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

/// `key = "VALUE"` from the first line of the workspace file at `relative` that sets `key`.
fn manifest_value(relative: &str, key: &str) -> String {
    let text = std::fs::read_to_string(eidos_e2e::workspace_root().join(relative)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no {key} in {relative}"))
        .to_owned()
}

/// The cells of a row of the options table (columns are two or more spaces apart).
fn cells(row: &str) -> Vec<String> {
    row.trim()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn plugins_describe_shows_a_plugin_with_its_typed_options_in_each_format() {
    let dir = plugins();
    let describe = |name: &str, format: &str| {
        let out = run(eidos(&[dir.path()]).args(["plugins", "describe", name, "-f", format]));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out.stdout
    };
    let api_version = manifest_value("plugin-api/Cargo.toml", "version");
    let version = manifest_value("plugins/collector-example/Cargo.toml", "version");
    let path = dir.path().join("libeidos_collector_example.so");

    let doc: serde_json::Value = serde_json::from_str(&describe("example", "json")).unwrap();
    let sha256 = doc["sha256"].as_str().unwrap_or_default().to_owned();
    assert_eq!(sha256.len(), 64, "{doc}");
    assert!(sha256.bytes().all(|b| b.is_ascii_hexdigit()), "{doc}");
    assert_eq!(
        doc,
        serde_json::json!({
            "name": "example",
            "kind": "collector",
            "version": version,
            "apiVersion": api_version,
            "description": "load average and uptime (the plugin guide's example)",
            "path": path.to_str().unwrap(),
            "sha256": sha256,
            "status": "loaded",
            "options": [{
                "key": "uptime",
                "type": "bool",
                "default": "true",
                "description": "also read /proc/uptime"
            }],
            "volatileKeys": ["example/loadavg/*", "example/uptime/*"]
        })
    );

    // YAML says the same, field for field.
    let yaml: serde_yaml::Value = serde_yaml::from_str(&describe("example", "yaml")).unwrap();
    assert_eq!(serde_json::to_value(yaml).unwrap(), doc);

    // The table: every field, then the options.
    let table = describe("example", "table");
    let expected = format!(
        "name:           example\n\
         kind:           collector\n\
         version:        {version}\n\
         api version:    {api_version}\n\
         description:    load average and uptime (the plugin guide's example)\n\
         file:           {}\n\
         sha256:         {sha256}\n\
         status:         loaded\n\
         volatile keys:  example/loadavg/*, example/uptime/*\n\
         \n \
         OPTION  TYPE  DEFAULT  HELP\n \
         uptime  bool  true     also read /proc/uptime\n",
        path.display()
    );
    assert_eq!(table, expected);

    // A collector with several options, and both key lists: each option is one row that says
    // what the JSON says, and each label is set off from its value.
    let os: serde_json::Value = serde_json::from_str(&describe("os", "json")).unwrap();
    let table = describe("os", "table");
    for label in ["volatile keys:  ", "sensitive keys: ", "description:    "] {
        assert!(
            table.lines().any(|l| l.starts_with(label)),
            "{label:?}: {table}"
        );
    }
    let (_, rows) = table
        .split_once("\n\n")
        .unwrap_or_else(|| panic!("no options table: {table}"));
    let rows: Vec<Vec<String>> = rows.lines().map(cells).collect();
    assert_eq!(rows[0], ["OPTION", "TYPE", "DEFAULT", "HELP"]);
    let options = os["options"].as_array().unwrap();
    assert_eq!(rows.len() - 1, options.len(), "{table}");
    for (row, option) in rows[1..].iter().zip(options) {
        assert_eq!(
            *row,
            [
                option["key"].as_str().unwrap(),
                option["type"].as_str().unwrap(),
                option["default"].as_str().unwrap_or("-"),
                option["description"].as_str().unwrap(),
            ],
            "{table}"
        );
    }
    assert_eq!(rows[2][..3], ["sysctl-interfaces", "bool", "false"]);

    // An untyped (1.1-style) option is text, in YAML too.
    let doc: serde_yaml::Value = serde_yaml::from_str(&describe("fail", "yaml")).unwrap();
    assert_eq!(doc["description"], "test fixture that fails");
    assert_eq!(doc["version"], "0.1.0");
    assert_eq!(doc["options"][0]["key"], "delay-ms");
    assert_eq!(
        doc["options"][0]["type"], "string",
        "untyped options are text"
    );

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

#[test]
fn the_host_caps_a_plugins_log_events_in_number_and_length() {
    // The fixture answers with 500 warnings, the first 100 kB long, without the export layer's
    // own cap: the host keeps 201 events (the plugin API's 200 and the plugin's own "dropped"
    // notice) of at most 2048 bytes each (eidos-cli/src/host/plugin_logs.rs).
    let dir = PluginDir::with(&["serializer_json"]);
    dir.add_library("fixture_plugin_chatty", "libeidos_collector_chatty.so");
    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "chatty", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.json()["measurements"][0]["subtypes"][0]["data"]["events"],
        500
    );

    let kept: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("chatty event "))
        .collect();
    assert_eq!(kept.len(), 200, "events 1 to 200 besides the long one");
    assert!(kept[199].contains("chatty event 200"), "{}", kept[199]);
    assert!(
        kept.iter().all(|l| l.contains("chatty")),
        "each names the collector"
    );
    assert!(
        out.stderr
            .contains("299 further log events from the plugin dropped"),
        "{}",
        &out.stderr[out.stderr.len().saturating_sub(2000)..]
    );
    let long: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("long xxxx"))
        .collect();
    assert_eq!(long.len(), 1);
    assert!(
        long[0].len() < 2048 + 200,
        "the long message is cut to 2048 bytes: {} bytes",
        long[0].len()
    );
    assert!(long[0].contains("xxx…"), "the cut is marked");
    assert!(
        out.stderr.len() < 100_000,
        "all the log lines together: {} bytes",
        out.stderr.len()
    );
}

#[test]
fn a_plugin_declaring_a_default_its_own_type_refuses_is_refused_at_load_naming_the_option() {
    use std::os::unix::fs::PermissionsExt;
    let dir = PluginDir::with(&["serializer_json"]);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // An executable collector, the cheapest plugin to declare any manifest: `count` is an integer
    // whose default is not one; `mode`'s default is fine.
    let script = r#"#!/bin/sh
if [ "${1-}" = "--manifest" ]; then
  echo '{"name":"bad-default","kind":"collector","version":"0.1.0","apiVersion":"1.2.0",'
  echo ' "description":"declares a default its own type refuses",'
  echo ' "options":[{"key":"count","description":"how many","type":"integer","default":"many"},'
  echo '  {"key":"mode","description":"how","type":"one-of","values":["fast","slow"],"default":"fast"}]}'
  exit 0
fi
cat >/dev/null
echo '{"status":"ok","measurements":[{"type":"bad-default","subtypes":[]}]}'
"#;
    let file = dir.add_file("eidos-collector-bad-default", script.as_bytes());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    let reason = "collector \"bad-default\": option \"count\" (integer) declares the default \
                  \"many\", but expects a whole number such as 10 or -3";

    let out = run(eidos(&[dir.path()]).args(["plugins", "list", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let entries = out.json();
    let entry = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "bad-default")
        .unwrap_or_else(|| panic!("not listed: {entries}"));
    let refused = entry["status"]["refused"]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("not refused: {entry}"));
    assert!(refused.contains(reason), "{refused}");
    assert!(!refused.contains("\"mode\""), "{refused}");

    let out =
        run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "bad-default", "-f", "json"]));
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stderr.contains(reason), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

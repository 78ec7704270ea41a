//! End-to-end tests of the example collector (`plugins/collector-example`) that
//! `docs/plugin-development.md` walks through: installed into a private plugin directory, listed by
//! the real `eidos plugins list`, run by the real `eidos snapshot --collectors example`, with its
//! option, the host root and "not applicable" seen from outside. A last test keeps the guide and
//! the example in step: every code block the guide says comes from the example must appear in it
//! word for word.

use eidos_e2e::{eidos, run, workspace_root, PluginDir};
use serde_json::Value;
use std::path::Path;

/// The example plus the serializers a snapshot needs.
fn plugin_dir() -> PluginDir {
    PluginDir::with(&[
        "collector_example",
        "serializer_json",
        "serializer_yaml",
        "serializer_table",
    ])
}

/// The subtype `name` of the `example` measurement in a snapshot document.
fn subtype<'a>(doc: &'a Value, name: &str) -> Option<&'a Value> {
    let measurement = doc["measurements"]
        .as_array()
        .expect("a measurements list")
        .iter()
        .find(|m| m["type"] == "example")?;
    measurement["subtypes"]
        .as_array()?
        .iter()
        .find(|s| s["subtype"] == name)
}

#[test]
fn plugins_list_shows_the_example_as_a_loaded_collector_with_its_version() {
    let dir = plugin_dir();
    let out = run(eidos(&[dir.path()]).args(["plugins", "list", "--format", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let entries = out.json();
    let example = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "example")
        .unwrap_or_else(|| panic!("example not listed: {entries}"));
    assert_eq!(example["kind"], "collector");
    assert_eq!(example["status"], "loaded");
    assert_eq!(example["version"], "0.1.0");
    assert_eq!(example["apiVersion"], plugin_api_version());
    assert_eq!(
        example["description"],
        "load average and uptime (the plugin guide's example)"
    );
    assert_eq!(
        example["path"],
        dir.path()
            .join("libeidos_collector_example.so")
            .to_str()
            .unwrap()
    );

    let table = run(eidos(&[dir.path()]).args(["plugins", "list"]));
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    let row = table
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("example "))
        .unwrap_or_else(|| panic!("no example row:\n{}", table.stdout));
    assert!(row.contains("collector") && row.contains("loaded"), "{row}");
}

#[test]
fn snapshot_collects_this_machines_load_average_and_uptime() {
    let dir = plugin_dir();
    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "example", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let report = &doc["metadata"]["collectors"]["example"];
    assert_eq!(report["status"], "ok", "{report}");
    assert_eq!(report["plugin-version"], "0.1.0");
    assert_eq!(doc["metadata"]["complete"], true);

    let load = subtype(&doc, "loadavg").expect("a loadavg subtype");
    for key in ["load-1m", "load-5m", "load-15m"] {
        let text = load["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{key}: {load}"));
        assert!(text.parse::<f64>().is_ok(), "{key} = {text:?}");
    }
    for key in ["runnable", "scheduling-entities", "last-pid"] {
        assert!(
            load["data"][key].is_u64(),
            "{key} is not an integer: {load}"
        );
    }
    let uptime = subtype(&doc, "uptime").expect("an uptime subtype");
    let seconds = uptime["data"]["seconds"].as_u64().expect("whole seconds");
    let real: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (seconds as f64) <= real && real - (seconds as f64) < 60.0,
        "{seconds} vs {real}"
    );
}

#[test]
fn the_option_is_passed_through_and_unknown_keys_and_bad_values_are_refused() {
    let dir = plugin_dir();
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "example",
        "--set",
        "example.uptime=false",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert!(subtype(&doc, "loadavg").is_some());
    assert!(subtype(&doc, "uptime").is_none(), "uptime=false ignored");

    // The same option from the configuration file, and `--set` winning over it.
    let config = tempfile::tempdir().unwrap();
    let config_file = config.path().join("config.toml");
    std::fs::write(&config_file, "[collectors.example]\nuptime = false\n").unwrap();
    let out = run(eidos(&[dir.path()])
        .arg("--config")
        .arg(&config_file)
        .args(["snapshot", "--collectors", "example", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        subtype(&out.json(), "uptime").is_none(),
        "config file ignored"
    );
    let out = run(eidos(&[dir.path()])
        .arg("--config")
        .arg(&config_file)
        .args(["snapshot", "--collectors", "example", "-f", "json"])
        .args(["--set", "example.uptime=true"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(subtype(&out.json(), "uptime").is_some(), "--set must win");

    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "example",
        "--set",
        "example.colour=red",
    ]));
    assert_eq!(out.code, Some(2), "an unknown key is a usage error");
    assert!(
        out.stderr
            .contains("collector \"example\" has no option \"colour\" (known options: uptime)"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "example",
        "--set",
        "example.uptime=maybe",
    ]));
    assert_eq!(
        out.code,
        Some(2),
        "a bad option value is a usage error: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "example.uptime: invalid value \"maybe\" (from --set): expected a boolean: \
             one of true, 1, yes, on, false, 0, no, off (any case)"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn the_host_root_decides_what_is_read_and_a_root_without_proc_is_not_applicable() {
    let dir = plugin_dir();
    let fake = tempfile::tempdir().unwrap();
    std::fs::create_dir(fake.path().join("proc")).unwrap();
    std::fs::write(
        fake.path().join("proc/loadavg"),
        "3.14 2.72 1.41 7/4321 9223372036854775807\n",
    )
    .unwrap();
    let out = run(eidos(&[dir.path()])
        .env("EIDOS_HOST_ROOT", fake.path())
        .args(["snapshot", "--collectors", "example", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let load = &subtype(&doc, "loadavg").unwrap()["data"];
    assert_eq!(load["load-1m"], "3.14");
    assert_eq!(load["runnable"], 7);
    assert_eq!(load["scheduling-entities"], 4321);
    assert!(
        out.stdout.contains("\"last-pid\": 9223372036854775807"),
        "integers are written exactly: {}",
        out.stdout
    );
    // No /proc/uptime under this root: kept going, with a warning on stderr and in the metadata.
    assert!(subtype(&doc, "uptime").is_none());
    let warnings = &doc["metadata"]["collectors"]["example"]["warnings"];
    assert!(
        warnings[0].as_str().unwrap().starts_with("uptime left out"),
        "{warnings}"
    );
    assert!(out.stderr.contains("uptime left out"), "{}", out.stderr);

    let empty = tempfile::tempdir().unwrap();
    let out = run(eidos(&[dir.path()])
        .env("EIDOS_HOST_ROOT", empty.path())
        .args(["snapshot", "--collectors", "example", "-f", "json"]));
    assert_eq!(
        out.code,
        Some(0),
        "not applicable is never a failure: {}",
        out.stderr
    );
    let doc = out.json();
    let report = &doc["metadata"]["collectors"]["example"];
    assert_eq!(report["status"], "not-applicable");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .contains("proc/loadavg does not exist"),
        "{report}"
    );
    assert_eq!(doc["metadata"]["complete"], true);
}

/// The version in `plugin-api/Cargo.toml`: the plugin API this workspace builds plugins against.
fn plugin_api_version() -> String {
    let manifest = std::fs::read_to_string(workspace_root().join("plugin-api/Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("a version line in plugin-api/Cargo.toml")
        .to_owned()
}

/// The fenced code blocks of a Markdown file that follow a `<!-- from PATH -->` marker line, as
/// `(PATH, code)`.
fn blocks_marked_from(markdown: &str) -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        let Some(path) = line
            .trim()
            .strip_prefix("<!-- from ")
            .and_then(|rest| rest.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines.next().unwrap_or_default();
        assert!(fence.starts_with("```"), "no code block after {line:?}");
        let code: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        blocks.push((path.to_owned(), code.join("\n")));
    }
    blocks
}

#[test]
fn every_code_block_the_guide_takes_from_the_example_is_in_it_word_for_word() {
    let root = workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/plugin-development.md")).unwrap();
    let blocks = blocks_marked_from(&guide);
    assert!(blocks.len() >= 3, "only {} marked blocks", blocks.len());
    for (path, code) in blocks {
        assert!(
            path.starts_with("plugins/collector-example/"),
            "marked block from outside the example: {path}"
        );
        let source = std::fs::read_to_string(root.join(Path::new(&path)))
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            source.contains(&code),
            "this block of docs/plugin-development.md is not in {path} word for word:\n{code}"
        );
    }
}

#[test]
fn the_guide_shows_the_whole_collector_in_order() {
    let root = workspace_root();
    let guide = std::fs::read_to_string(root.join("docs/plugin-development.md")).unwrap();
    let source_path = "plugins/collector-example/src/lib.rs";
    let source = std::fs::read_to_string(root.join(source_path)).unwrap();
    let shown: Vec<String> = blocks_marked_from(&guide)
        .into_iter()
        .filter(|(path, _)| path == source_path)
        .flat_map(|(_, code)| code.lines().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    // Every line of the collector (everything before its tests, except the crate's own doc
    // comment and blank lines) must appear in the guide's blocks, in the same order.
    let collector = source
        .split("#[cfg(test)]")
        .next()
        .expect("the source before its tests");
    let mut next = 0;
    for line in collector
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("//!"))
    {
        match shown[next..].iter().position(|s| s == line) {
            Some(offset) => next += offset + 1,
            None => panic!(
                "docs/plugin-development.md does not show this line of {source_path} \
                 (or not in order): {line:?}"
            ),
        }
    }
}

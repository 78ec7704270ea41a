//! The plugin API compatibility promise (docs/plugin-api-compatibility.md), tested with the real
//! `eidos`: a collector built against an earlier plugin API version of the same major still loads
//! and runs, and so does one built against a later minor version.
//!
//! The earlier version is real code, not a flag: `tests/compat/plugin-api-1.0.0` is a frozen copy of
//! the contract as released at plugin API 1.0.0, and `tests/compat/collector-api-1.0` a collector
//! built against it the way a vendor builds one, outside this workspace with its own lock file.
//! The later version, `tests/compat/plugin-api-next-minor`, is a rehearsal: the 1.0.0 contract plus
//! the kinds of addition the policy allows in a minor release (optional fields in the manifest, the
//! request and the response), declared as the next minor; `tests/compat/collector-next-minor` is
//! built against it.
//!
//! The tests build those crates with cargo (offline when the dependencies are already in cargo's
//! cache, which `cargo build --workspace` guarantees) into `target/compat`, so that later runs are
//! incremental, install each library in a private plugin directory and run the current `eidos`.
//!
//! The other half of the promise, that a plugin declaring a future major version is refused with a
//! message naming both versions, is tested in `host.rs`
//! (`plugins_list_reports_loaded_shadowed_and_refused_and_the_host_survives_each`).

use eidos_e2e::{build_dir, doc_code_block, eidos, run, workspace_root, PluginDir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The frozen API release the legacy fixture is built against.
const OLD_API_VERSION: &str = "1.0.0";
/// The frozen API release the 1.1 fixture is built against.
const API_1_1_VERSION: &str = "1.1.0";
/// The version the rehearsal of the next minor API declares.
const NEXT_MINOR_API_VERSION: &str = "1.3.0";

/// Builds the fixture crate in `tests/compat/<crate_dir>` (outside the workspace, into
/// `target/compat`) and returns the path of its library `lib<lib_name>.so`.
fn build_fixture(crate_dir: &str, lib_name: &str) -> PathBuf {
    let manifest = workspace_root()
        .join("tests/compat")
        .join(crate_dir)
        .join("Cargo.toml");
    build_crate(&manifest, true, lib_name)
}

/// The directory fixture crates are built into.
fn compat_target_dir() -> PathBuf {
    build_dir()
        .parent()
        .expect("the target directory")
        .join("compat")
}

/// Builds the crate at `manifest` outside the workspace into `target/compat` (with `--locked` when
/// it has a lock file of its own) and returns the path of its library `lib<lib_name>.so`.
fn build_crate(manifest: &Path, locked: bool, lib_name: &str) -> PathBuf {
    let target_dir = compat_target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let build = |offline: bool| {
        let mut cmd = Command::new(&cargo);
        cmd.arg("build");
        if locked {
            cmd.arg("--locked");
        }
        cmd.arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(&target_dir)
            // The outer cargo's settings for this workspace must not leak into that build.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR");
        if offline {
            cmd.arg("--offline");
        }
        run(&mut cmd)
    };
    let offline = build(true);
    if offline.code != Some(0) {
        // Only when cargo's cache lacks a dependency (the workspace moved on): fetch it.
        let online = build(false);
        assert_eq!(
            online.code,
            Some(0),
            "building {} failed.\noffline:\n{}\nonline:\n{}",
            manifest.display(),
            offline.stderr,
            online.stderr
        );
    }
    let library = target_dir.join(format!("debug/lib{lib_name}.so"));
    assert!(library.is_file(), "{} was not built", library.display());
    library
}

/// The collector built against the frozen plugin API 1.0.0, built once per test run.
fn legacy_plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_fixture("collector-api-1.0", "compat_collector_api_1_0"))
}

/// The collector built against the frozen plugin API 1.1.0, built once per test run.
fn api_1_1_plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_fixture("collector-api-1.1", "compat_collector_api_1_1"))
}

/// The placeholder path of the guide's snippet for depending on a checkout of this repository.
const GUIDE_CHECKOUT_PATH: &str = "/src/eidos/plugin-api";

/// The dependency line docs/plugin-development.md gives for building against a checkout of the
/// eidos repository (section 2), taken from the guide itself so that the two cannot drift, with
/// its placeholder path replaced by this checkout's `plugin-api/`.
fn guide_checkout_dependency() -> String {
    let snippet = doc_code_block("docs/plugin-development.md", "toml", GUIDE_CHECKOUT_PATH);
    let line = snippet.trim();
    assert!(
        !line.contains('\n') && line.starts_with("eidos-plugin-api = {"),
        "the guide's checkout snippet must be one dependency line: {snippet}"
    );
    assert!(
        line.contains(", version = \""),
        "the guide's checkout snippet must keep a version, so that cargo refuses a checkout of \
         another major version: {line}"
    );
    line.replace(
        &format!("{GUIDE_CHECKOUT_PATH:?}"),
        &format!("{:?}", workspace_root().join("plugin-api")),
    )
}

/// The same 1.1 source, unchanged, built against the current `plugin-api/`: a crate manifest in
/// `target/compat` whose library is the fixture's `src/lib.rs` and whose `eidos-plugin-api` is this
/// checkout's, depended on exactly as the guide's snippet for a checkout says. Built once per test
/// run.
fn api_1_1_source_on_current_api() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = workspace_root();
        let dir = compat_target_dir().join("collector-api-1.1-source-on-current");
        std::fs::create_dir_all(&dir).expect("creating the crate directory");
        let manifest = dir.join("Cargo.toml");
        let text = format!(
            "[package]\nname = \"compat-collector-api-1-1-on-current\"\nversion = \"1.1.3\"\n\
             edition = \"2021\"\npublish = false\n\n[lib]\nname = \"compat_collector_api_1_1_on_current\"\n\
             crate-type = [\"cdylib\"]\npath = {:?}\n\n[dependencies]\n{}\n\n\
             [workspace]\n",
            root.join("tests/compat/collector-api-1.1/src/lib.rs"),
            guide_checkout_dependency(),
        );
        std::fs::write(&manifest, text).expect("writing the crate manifest");
        build_crate(&manifest, false, "compat_collector_api_1_1_on_current")
    })
}

/// The collector built against the rehearsal of the next minor API, built once per test run.
fn next_minor_plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build_fixture("collector-next-minor", "compat_collector_next_minor"))
}

/// A plugin directory with the JSON serializer and the legacy collector.
fn plugin_dir() -> PluginDir {
    let dir = PluginDir::with(&["serializer_json"]);
    std::fs::copy(
        legacy_plugin(),
        dir.path().join("libeidos_collector_legacy.so"),
    )
    .expect("installing the legacy plugin");
    dir
}

fn host_api_version() -> String {
    let manifest = std::fs::read_to_string(workspace_root().join("plugin-api/Cargo.toml")).unwrap();
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("a version line in plugin-api/Cargo.toml")
        .to_owned()
}

#[test]
fn the_fixture_really_is_built_from_the_frozen_contract() {
    let frozen = workspace_root().join("tests/compat/plugin-api-1.0.0/Cargo.toml");
    let text = std::fs::read_to_string(&frozen).unwrap();
    assert!(
        text.contains(&format!("\nversion = \"{OLD_API_VERSION}\"\n")),
        "{} must declare {OLD_API_VERSION}",
        frozen.display()
    );
    let lock =
        std::fs::read_to_string(workspace_root().join("tests/compat/collector-api-1.0/Cargo.lock"))
            .unwrap();
    assert!(
        lock.contains(&format!(
            "name = \"eidos-plugin-api\"\nversion = \"{OLD_API_VERSION}\"\n"
        )),
        "the fixture's lock file must pin the frozen contract"
    );
    // The host and the fixture must share the major version for the promise to apply; a new major
    // is allowed to refuse 1.x plugins, and then this test must be rewritten deliberately.
    let host = host_api_version();
    assert_eq!(
        host.split('.').next(),
        OLD_API_VERSION.split('.').next(),
        "the host is at plugin API {host}: a new major no longer promises to load {OLD_API_VERSION} \
         plugins (see docs/plugin-api-compatibility.md)"
    );
}

#[test]
fn a_plugin_built_against_plugin_api_1_0_is_listed_as_loaded() {
    let dir = plugin_dir();
    let out = run(eidos(&[dir.path()]).args(["plugins", "list", "--format", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let entries = out.json();
    let legacy = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "legacy")
        .unwrap_or_else(|| panic!("legacy not listed: {entries}"));
    assert_eq!(legacy["status"], "loaded", "{legacy}");
    assert_eq!(legacy["apiVersion"], OLD_API_VERSION);
    assert_eq!(legacy["version"], "1.0.7");
    assert_eq!(
        legacy["description"],
        "test fixture built against plugin API 1.0.0"
    );
}

#[test]
fn a_plugin_built_against_plugin_api_1_0_runs_with_options_and_exact_readings() {
    let dir = plugin_dir();
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "legacy",
        "--set",
        "legacy.marker=from the current host",
        "--timeout",
        "7s",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let report = &doc["metadata"]["collectors"]["legacy"];
    assert_eq!(report["status"], "ok", "{report}");
    assert_eq!(report["plugin-version"], "1.0.7");
    assert_eq!(
        report["warnings"],
        serde_json::json!(["legacy fixture warning"])
    );

    let measurement = doc["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "legacy")
        .unwrap_or_else(|| panic!("no legacy measurement: {doc}"));
    let subtype = |name: &str| -> &Value {
        &measurement["subtypes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subtype"] == name)
            .unwrap_or_else(|| panic!("no {name} subtype: {measurement}"))["data"]
    };
    let readings = subtype("readings");
    assert_eq!(readings["u64-max"].as_u64(), Some(u64::MAX));
    assert_eq!(readings["i64-min"].as_i64(), Some(i64::MIN));
    assert_eq!(readings["flag"], true);
    assert_eq!(readings["ratio"], 0.25);
    assert_eq!(readings["zero-text"], "0");
    assert_eq!(readings["marker"], "from the current host");
    assert_eq!(readings["api-version"], OLD_API_VERSION);
    assert_eq!(readings["timeout-ms"], 7000);
    assert!(
        out.stdout.contains("\"u64-max\": 18446744073709551615"),
        "u64::MAX must be written exactly"
    );
    let real = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(subtype("host")["osrelease"], real.trim());
}

#[test]
fn a_plugin_built_against_plugin_api_1_0_can_be_not_applicable_and_keeps_its_declared_options() {
    let dir = plugin_dir();
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "legacy",
        "--set",
        "legacy.mode=not-applicable",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let report = &doc["metadata"]["collectors"]["legacy"];
    assert_eq!(report["status"], "not-applicable");
    assert_eq!(report["reason"], "legacy fixture asked not to apply");

    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "legacy",
        "--set",
        "legacy.colour=red",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("known options: marker, mode"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_1_1_fixture_really_is_built_from_the_frozen_1_1_contract() {
    let frozen = workspace_root().join("tests/compat/plugin-api-1.1.0/Cargo.toml");
    let text = std::fs::read_to_string(&frozen).unwrap();
    assert!(
        text.contains(&format!("\nversion = \"{API_1_1_VERSION}\"\n")),
        "{} must declare {API_1_1_VERSION}",
        frozen.display()
    );
    let lock =
        std::fs::read_to_string(workspace_root().join("tests/compat/collector-api-1.1/Cargo.lock"))
            .unwrap();
    assert!(
        lock.contains(&format!(
            "name = \"eidos-plugin-api\"\nversion = \"{API_1_1_VERSION}\"\n"
        )),
        "the fixture's lock file must pin the frozen 1.1 contract"
    );
}

/// Runs a snapshot of the `compat11` collector installed from `library`, with `args`.
fn compat11_snapshot(library: &Path, args: &[&str]) -> eidos_e2e::Run {
    let dir = PluginDir::with(&["serializer_json"]);
    std::fs::copy(library, dir.path().join("libeidos_collector_compat11.so"))
        .expect("installing the 1.1 plugin");
    run(eidos(&[dir.path()])
        .args(["snapshot", "--collectors", "compat11", "-f", "json"])
        .args(args))
}

/// What the 1.1 fixture's source must do, whichever plugin API it was built against: declared
/// options, exact readings, a warning, and its own option error as a usage error (exit 2).
fn check_compat11(library: &Path, api_version: &str) {
    let out = compat11_snapshot(
        library,
        &[
            "--set",
            "compat11.marker=from the current host",
            "--set",
            "compat11.count=42",
            "--set",
            "compat11.verbose=yes",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let report = &doc["metadata"]["collectors"]["compat11"];
    assert_eq!(report["status"], "ok", "{report}");
    assert_eq!(report["plugin-version"], "1.1.3");
    assert_eq!(
        report["warnings"],
        serde_json::json!(["compat11 fixture warning"])
    );
    assert_eq!(doc["measurements"][0]["type"], "compat11");
    let readings = &doc["measurements"][0]["subtypes"][0]["data"];
    assert_eq!(readings["marker"], "from the current host");
    assert_eq!(readings["count"], 42);
    assert_eq!(readings["verbose"], true);
    assert_eq!(readings["u64-max"].as_u64(), Some(u64::MAX));
    assert_eq!(readings["api-version"], api_version);
    assert_eq!(doc["measurements"][1]["type"], "os");

    // Untyped options pass any text; the collector's own check is a usage error since 1.1.
    let out = compat11_snapshot(library, &["--set", "compat11.count=many"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("invalid value \"many\" for option count: expected a whole number"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_plugin_built_against_plugin_api_1_1_loads_and_runs_with_its_option_errors_as_usage_errors() {
    let dir = PluginDir::with(&["serializer_json"]);
    std::fs::copy(
        api_1_1_plugin(),
        dir.path().join("libeidos_collector_compat11.so"),
    )
    .unwrap();
    let out = run(eidos(&[dir.path()]).args(["plugins", "describe", "compat11", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["status"], "loaded", "{doc}");
    assert_eq!(doc["apiVersion"], API_1_1_VERSION);
    assert_eq!(doc["options"][1]["key"], "count");
    assert_eq!(
        doc["options"][1]["type"], "string",
        "1.1 options are untyped text"
    );

    check_compat11(api_1_1_plugin(), API_1_1_VERSION);

    // It also writes an `os` measurement, as the os collector does: the host warns.
    dir.add_builtin("collector_os");
    let out =
        run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "os,compat11", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("collectors os, compat11 all write measurement type \"os\""),
        "{}",
        out.stderr
    );
}

#[test]
fn the_guides_checkout_snippet_is_the_dependency_line_the_1_1_source_is_built_with() {
    let line = guide_checkout_dependency();
    let path = format!("{:?}", workspace_root().join("plugin-api"));
    assert_eq!(
        line,
        format!(
            "eidos-plugin-api = {{ path = {path}, version = \"{}\" }}",
            host_api_version().rsplit_once('.').unwrap().0
        ),
        "the guide's snippet for a checkout"
    );
}

#[test]
fn plugin_source_written_for_1_1_compiles_unchanged_against_the_current_api_and_runs() {
    let library = api_1_1_source_on_current_api();
    check_compat11(library, &host_api_version());
}

#[test]
fn a_plugin_built_against_a_later_minor_api_loads_and_runs_and_its_extra_fields_are_ignored() {
    let host = host_api_version();
    let minor = |v: &str| -> u64 { v.split('.').nth(1).and_then(|m| m.parse().ok()).unwrap() };
    assert!(
        minor(NEXT_MINOR_API_VERSION) > minor(&host),
        "plugin-api/ is at {host}: move tests/compat/plugin-api-next-minor to a later minor"
    );
    let dir = PluginDir::with(&["serializer_json"]);
    std::fs::copy(
        next_minor_plugin(),
        dir.path().join("libeidos_collector_newer.so"),
    )
    .expect("installing the newer plugin");

    let out = run(eidos(&[dir.path()]).args(["plugins", "list", "--format", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let entries = out.json();
    let newer = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "newer")
        .unwrap_or_else(|| panic!("newer not listed: {entries}"));
    assert_eq!(newer["status"], "loaded", "{newer}");
    assert_eq!(newer["apiVersion"], NEXT_MINOR_API_VERSION);
    assert_eq!(newer["version"], "2.3.4");

    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "newer",
        "--set",
        "newer.marker=older host",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["metadata"]["collectors"]["newer"]["status"], "ok");
    let readings = &doc["measurements"][0]["subtypes"][0]["data"];
    assert_eq!(doc["measurements"][0]["type"], "newer");
    assert_eq!(readings["api-version"], NEXT_MINOR_API_VERSION);
    assert_eq!(readings["marker"], "older host");
    assert_eq!(readings["u64-max"].as_u64(), Some(u64::MAX));
    assert!(
        !out.stdout.contains("notes") && !out.stdout.contains("rehearsal"),
        "fields the host does not know must not leak into the snapshot: {}",
        out.stdout
    );
}

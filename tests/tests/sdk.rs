//! The plugin SDK as a vendor gets it: `eidos-plugin-api` packages and builds on its own, and the
//! SDK archive of `scripts/sdk.sh` builds the example collector offline, unpacked in a directory
//! with no eidos checkout beside it and with an empty cargo home, into a library the built `eidos`
//! loads and runs. The guide's "Create the crate" snippet for the archive is the one the archive's
//! example uses, and the guide's Rust version is the crate's `rust-version`.
//!
//! These tests run cargo (offline: the dependencies are in cargo's cache after
//! `cargo build --workspace`), so they take minutes, not seconds.

use eidos_e2e::{build_dir, eidos, run, workspace_root, PluginDir};
use std::path::{Path, PathBuf};
use std::process::Command;

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // The outer cargo's settings for this workspace must not leak into these builds.
    cmd.env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("RUSTFLAGS");
    cmd
}

/// `key = "VALUE"` from the first line of `manifest` that sets `key`.
fn manifest_value(manifest: &str, key: &str) -> String {
    let text = std::fs::read_to_string(workspace_root().join(manifest)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_else(|| panic!("no {key} in {manifest}"))
        .to_owned()
}

fn api_version() -> String {
    manifest_value("plugin-api/Cargo.toml", "version")
}

/// `1.2` for API `1.2.0`: what a plugin asks for.
fn api_minor() -> String {
    let version = api_version();
    version.rsplit_once('.').unwrap().0.to_owned()
}

fn guide() -> String {
    std::fs::read_to_string(workspace_root().join("docs/plugin-development.md")).unwrap()
}

/// A scratch directory under `target/`, emptied first.
fn scratch(name: &str) -> PathBuf {
    let dir = build_dir().parent().unwrap().join("sdk-test").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_plugin_api_crate_packages_and_builds_on_its_own() {
    let target = scratch("package");
    let out = run(cargo()
        .current_dir(workspace_root())
        .args([
            "package",
            "-p",
            "eidos-plugin-api",
            "--offline",
            "--allow-dirty",
        ])
        .arg("--target-dir")
        .arg(&target));
    assert_eq!(
        out.code,
        Some(0),
        "cargo package (which builds the packaged crate alone) failed:\n{}",
        out.stderr
    );
    let unpacked = target
        .join("package")
        .join(format!("eidos-plugin-api-{}", api_version()));
    let manifest = std::fs::read_to_string(unpacked.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("workspace"), "{manifest}");
    let rust_version = manifest_value("Cargo.toml", "rust-version");
    assert!(
        manifest.contains(&format!("rust-version = \"{rust_version}\"")),
        "the packaged crate must declare rust-version: {manifest}"
    );
}

#[test]
fn the_guide_names_the_crates_rust_version() {
    let rust_version = manifest_value("Cargo.toml", "rust-version");
    let plugin_api =
        std::fs::read_to_string(workspace_root().join("plugin-api/Cargo.toml")).unwrap();
    assert!(plugin_api.contains("rust-version.workspace = true"));
    assert!(
        guide().contains(&format!("a Rust toolchain ({rust_version} or later)")),
        "docs/plugin-development.md must name rust-version {rust_version}"
    );
}

/// Runs `scripts/sdk.sh` and returns the archive.
fn build_archive(out: &Path) -> PathBuf {
    let result = run(Command::new(workspace_root().join("scripts/sdk.sh"))
        .arg("--out")
        .arg(out)
        .env(
            "CARGO",
            std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
        )
        .env_remove("CARGO_TARGET_DIR"));
    assert_eq!(
        result.code,
        Some(0),
        "scripts/sdk.sh failed:\n{}",
        result.stderr
    );
    let archive = PathBuf::from(result.stdout.trim());
    assert!(archive.is_file(), "{}", result.stdout);
    archive
}

#[test]
fn the_sdk_archive_builds_the_example_offline_in_a_bare_directory_and_eidos_loads_it() {
    let work = scratch("archive");
    let archive = build_archive(&work.join("out"));
    let name = format!("eidos-plugin-sdk-{}", api_version());
    assert_eq!(
        archive.file_name().unwrap().to_string_lossy(),
        format!("{name}.tar.gz")
    );

    // Unpacked where nothing of the checkout is beside or above it.
    let bare = tempfile::tempdir().unwrap();
    let out = run(Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(bare.path()));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let sdk = bare.path().join(&name);
    for part in [
        "eidos-plugin-api/Cargo.toml",
        "collector-example/src/lib.rs",
        "collector-example/Cargo.lock",
        "vendor/abi_stable",
        ".cargo/config.toml",
        "docs/plugin-development.md",
        "README.md",
    ] {
        assert!(sdk.join(part).exists(), "{part} missing from the archive");
    }

    // The guide's snippet for the archive is the dependency line the archive's example uses.
    let line = format!(
        "eidos-plugin-api = {{ path = \"../eidos-plugin-api\", version = \"{}\" }}",
        api_minor()
    );
    let example_manifest =
        std::fs::read_to_string(sdk.join("collector-example/Cargo.toml")).unwrap();
    assert!(example_manifest.contains(&line), "{example_manifest}");
    assert!(guide().contains(&line), "the guide must show {line}");

    // An empty cargo home: nothing cached, no registry index; only the archive's vendor/.
    let home = tempfile::tempdir().unwrap();
    let out = run(cargo()
        .current_dir(sdk.join("collector-example"))
        .env("CARGO_HOME", home.path())
        .args(["build", "--offline", "--locked"]));
    assert_eq!(
        out.code,
        Some(0),
        "building the SDK's example failed:\n{}",
        out.stderr
    );
    let library = sdk.join("collector-example/target/debug/libeidos_collector_example.so");
    assert!(library.is_file(), "{} was not built", library.display());

    let dir = PluginDir::with(&["serializer_json"]);
    std::fs::copy(&library, dir.path().join("libeidos_collector_example.so")).unwrap();
    let out = run(eidos(&[dir.path()]).args(["plugins", "describe", "example", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["status"], "loaded", "{doc}");
    assert_eq!(doc["apiVersion"], api_version());
    assert_eq!(doc["options"][0]["type"], "bool");

    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "example", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["metadata"]["collectors"]["example"]["status"], "ok");
    assert_eq!(doc["measurements"][0]["type"], "example");
    assert_eq!(doc["measurements"][0]["subtypes"][0]["subtype"], "loadavg");
}

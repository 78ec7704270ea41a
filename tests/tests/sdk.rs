//! The plugin SDK as a vendor gets it: `eidos-plugin-api` packages and builds on its own, and the
//! SDK archive of `scripts/sdk.sh` builds the example collector offline, unpacked in a directory
//! with no eidos checkout beside it and with an empty cargo home, into a library the built `eidos`
//! loads and runs. The guide's "Create the crate" snippet for the archive is the one the archive's
//! example uses, and the guide's Rust version is the crate's `rust-version`.
//!
//! These tests run cargo (offline: the dependencies are in cargo's cache after
//! `cargo build --workspace`), so they take minutes, not seconds.

use eidos_e2e::{
    build_dir, doc_code_block, doc_code_blocks, eidos, run, workspace_root, PluginDir,
};
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

/// The guide's one-line snippet for depending on the crate from the SDK archive (section 2: the
/// one-line ```` ```toml ```` block naming `../eidos-plugin-api`; the full `Cargo.toml` further on
/// names it too).
fn guide_archive_dependency() -> String {
    let found: Vec<String> = doc_code_blocks("docs/plugin-development.md", "toml")
        .into_iter()
        .map(|b| b.trim().to_owned())
        .filter(|b| !b.contains('\n') && b.contains("path = \"../eidos-plugin-api\""))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "the guide must have one snippet for the SDK archive: {found:?}"
    );
    found[0].clone()
}

/// The example's `Cargo.toml` as `scripts/sdk.sh` writes it into the archive: the script's
/// here-document, with the versions the script fills in.
fn example_manifest_from_script() -> String {
    let script = std::fs::read_to_string(workspace_root().join("scripts/sdk.sh")).unwrap();
    let start = "cat > \"$root/collector-example/Cargo.toml\" <<TOML\n";
    let body = script
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once("\nTOML\n"))
        .unwrap_or_else(|| {
            panic!("scripts/sdk.sh no longer writes the example manifest as {start:?}")
        })
        .0;
    format!("{body}\n")
        .replace("${api_minor}", &api_minor())
        .replace(
            "${rust_version}",
            &manifest_value("Cargo.toml", "rust-version"),
        )
}

/// Whether every key of `part` is in `whole` with the same value (tables compared key by key).
fn toml_subset(part: &toml::Value, whole: &toml::Value, at: &str) -> Result<(), String> {
    match (part, whole) {
        (toml::Value::Table(part), toml::Value::Table(whole)) => {
            for (key, value) in part {
                let here = format!("{at}.{key}");
                let other = whole.get(key).ok_or_else(|| format!("{here} is missing"))?;
                toml_subset(value, other, &here)?;
            }
            Ok(())
        }
        _ if part == whole => Ok(()),
        _ => Err(format!(
            "{at}: the guide has {part}, the SDK example {whole}"
        )),
    }
}

#[test]
fn the_guides_cargo_toml_is_the_sdk_examples_manifest_less_what_only_the_sdk_needs() {
    let guide_block = doc_code_block("docs/plugin-development.md", "toml", "[package]");
    let guide: toml::Value = toml::from_str(&guide_block)
        .unwrap_or_else(|e| panic!("the guide's Cargo.toml does not parse: {e}\n{guide_block}"));
    let example: toml::Value = toml::from_str(&example_manifest_from_script()).unwrap();
    // Everything the guide shows is in the example, with the same value; the example only adds
    // what a published crate or the SDK's own layout needs (rust-version, license, description,
    // an empty [workspace]).
    toml_subset(&guide, &example, "Cargo.toml").unwrap();
    let added = |table: &str| -> Vec<String> {
        let of = |v: &toml::Value| -> Vec<String> {
            v.get(table)
                .and_then(toml::Value::as_table)
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default()
        };
        let shown = of(&guide);
        let mut added: Vec<String> = of(&example)
            .into_iter()
            .filter(|k| !shown.contains(k))
            .collect();
        added.sort();
        added
    };
    assert_eq!(
        added("package"),
        ["description", "license", "publish", "rust-version"]
    );
    let example_tables: Vec<&String> = example.as_table().unwrap().keys().collect();
    let guide_tables: Vec<&String> = guide.as_table().unwrap().keys().collect();
    let extra: Vec<&&String> = example_tables
        .iter()
        .filter(|t| !guide_tables.contains(t))
        .collect();
    assert_eq!(extra, [&&"workspace".to_owned()]);
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

    // The guide's snippet for the archive, taken from the guide, is the dependency line the
    // archive's example (built below) uses, and asks for this API's minor version.
    let line = guide_archive_dependency();
    assert_eq!(
        line,
        format!(
            "eidos-plugin-api = {{ path = \"../eidos-plugin-api\", version = \"{}\" }}",
            api_minor()
        )
    );
    let example_manifest =
        std::fs::read_to_string(sdk.join("collector-example/Cargo.toml")).unwrap();
    assert!(
        example_manifest.lines().any(|l| l == line),
        "the SDK's example must depend on the crate as the guide says ({line}):\n{example_manifest}"
    );
    assert_eq!(
        example_manifest,
        example_manifest_from_script(),
        "the archive's example manifest is the one scripts/sdk.sh writes"
    );

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

//! End-to-end tests of curated plugin sets: lock files written by `eidos plugins lock` and enforced
//! with `--plugin-lock` / `EIDOS_PLUGIN_LOCK` / the config file, and the ownership and permission
//! checks applied to every plugin file and directory. Includes the hostile cases: a tampered plugin,
//! an unlisted plugin, a group-writable file, a world-writable directory.

use eidos_e2e::{eidos, run, PluginDir};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const BASE: &[&str] = &["collector_os", "serializer_json", "serializer_yaml"];

fn lock_for(dir: &PluginDir) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let lock = tmp.path().join("plugins.lock");
    let out = run(eidos(&[dir.path()])
        .args(["plugins", "lock", "-o"])
        .arg(&lock));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    (tmp, lock)
}

fn statuses(dir: &Path, extra: &[&str]) -> Vec<(String, Value)> {
    let out = run(eidos(&[dir])
        .args(extra)
        .args(["plugins", "list", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // The plugin files: the built-in facts collector has no file (and is never refused).
    out.json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["builtin"] != true)
        .map(|e| {
            (
                e["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
                e["status"].clone(),
            )
        })
        .collect()
}

fn reason(statuses: &[(String, Value)], file: &str) -> String {
    let status = &statuses
        .iter()
        .find(|(f, _)| f == file)
        .unwrap_or_else(|| panic!("{file} not listed"))
        .1;
    status["refused"]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("{file} not refused: {status}"))
        .to_owned()
}

#[test]
fn a_lock_pins_names_versions_and_hashes_and_the_locked_set_runs() {
    let dir = PluginDir::with(BASE);
    let (_tmp, lock) = lock_for(&dir);
    let text = std::fs::read_to_string(&lock).unwrap();
    let parsed: toml_like::Lock = toml_like::parse(&text);
    assert_eq!(
        parsed.files,
        [
            "libeidos_collector_os.so",
            "libeidos_serializer_json.so",
            "libeidos_serializer_yaml.so"
        ]
    );
    let os_bytes = std::fs::read(dir.path().join("libeidos_collector_os.so")).unwrap();
    assert!(
        text.contains(&toml_like::sha256_hex(&os_bytes)),
        "lock must carry the file's SHA-256:\n{text}"
    );
    assert!(text.contains("api-version = \"1.2.0\"") && text.contains("version = \"0.1.0\""));

    let out = run(eidos(&[dir.path()]).arg("--plugin-lock").arg(&lock).args([
        "snapshot",
        "--collectors",
        "os",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.json()["metadata"]["collectors"]["os"]["status"], "ok");
}

#[test]
fn a_tampered_plugin_is_refused_by_hash() {
    let dir = PluginDir::with(BASE);
    let (_tmp, lock) = lock_for(&dir);
    let path = dir.path().join("libeidos_collector_os.so");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let list = statuses(dir.path(), &["--plugin-lock", lock.to_str().unwrap()]);
    let why = reason(&list, "libeidos_collector_os.so");
    assert!(why.contains("hash mismatch (locked sha256 "), "{why}");
    let out = run(eidos(&[dir.path()]).arg("--plugin-lock").arg(&lock).args([
        "snapshot",
        "--collectors",
        "os",
    ]));
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("hash mismatch"), "{}", out.stderr);
}

#[test]
fn an_unlisted_plugin_is_refused_and_the_listed_ones_still_load() {
    let dir = PluginDir::with(BASE);
    let (_tmp, lock) = lock_for(&dir);
    dir.add_builtin("serializer_table");
    let list = statuses(dir.path(), &["--plugin-lock", lock.to_str().unwrap()]);
    assert!(
        reason(&list, "libeidos_serializer_table.so").contains("is not in the plugin lock"),
        "{list:?}"
    );
    assert_eq!(
        list.iter().filter(|(_, s)| s == "loaded").count(),
        3,
        "{list:?}"
    );

    // The same lock through the environment and through the config file.
    let out = run(eidos(&[dir.path()])
        .env("EIDOS_PLUGIN_LOCK", &lock)
        .args(["snapshot", "-f", "table"]));
    assert_eq!(
        out.code,
        Some(2),
        "table is not in the lock, so it is not an available format"
    );
    assert!(
        out.stderr.contains("available formats are json, yaml, yml"),
        "{}",
        out.stderr
    );
    let cfg = dir
        .path()
        .parent()
        .unwrap()
        .join(format!("cfg-{}.toml", std::process::id()));
    std::fs::write(
        &cfg,
        format!("plugin-lock = {:?}\n", lock.to_str().unwrap()),
    )
    .unwrap();
    let list = statuses(dir.path(), &["--config", cfg.to_str().unwrap()]);
    std::fs::remove_file(&cfg).unwrap();
    assert!(reason(&list, "libeidos_serializer_table.so").contains("not in the plugin lock"));
}

#[test]
fn a_version_that_differs_from_the_lock_is_refused() {
    let dir = PluginDir::with(BASE);
    let (_tmp, lock) = lock_for(&dir);
    let text = std::fs::read_to_string(&lock).unwrap().replacen(
        "version = \"0.1.0\"",
        "version = \"0.0.9\"",
        1,
    );
    std::fs::write(&lock, text).unwrap();
    let list = statuses(dir.path(), &["--plugin-lock", lock.to_str().unwrap()]);
    let refused: Vec<_> = list
        .iter()
        .filter(|(_, s)| s["refused"].is_object())
        .collect();
    assert_eq!(refused.len(), 1, "{list:?}");
    let why = refused[0].1["refused"]["reason"].as_str().unwrap();
    assert!(
        why.contains("version mismatch (locked \"0.0.9\", plugin says \"0.1.0\")"),
        "{why}"
    );
}

#[test]
fn a_malformed_or_missing_lock_is_a_usage_error() {
    let dir = PluginDir::with(BASE);
    let out = run(eidos(&[dir.path()]).args([
        "--plugin-lock",
        "/nonexistent/plugins.lock",
        "plugins",
        "list",
    ]));
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("cannot read plugin lock /nonexistent/plugins.lock"),
        "{}",
        out.stderr
    );
}

#[test]
fn group_writable_files_and_world_writable_directories_are_refused_unless_allowed() {
    let dir = PluginDir::with(BASE);
    let file = dir.path().join("libeidos_serializer_yaml.so");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o775)).unwrap();
    let list = statuses(dir.path(), &[]);
    let why = reason(&list, "libeidos_serializer_yaml.so");
    assert!(
        why.contains("is writable by group (mode 0775); fix with: chmod go-w"),
        "{why}"
    );
    assert_eq!(list.iter().filter(|(_, s)| s == "loaded").count(), 2);

    let out = run(eidos(&[dir.path()]).args([
        "--allow-insecure-plugins",
        "plugins",
        "list",
        "-f",
        "json",
    ]));
    assert_eq!(out.code, Some(0));
    assert!(out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == "loaded"));
    assert!(out.stderr.contains("development only"), "{}", out.stderr);

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let list = statuses(dir.path(), &[]);
    for (file, status) in &list {
        let why = status["refused"]["reason"]
            .as_str()
            .unwrap_or_else(|| panic!("{file} loaded from a world-writable dir"));
        assert!(
            why.contains("is writable by group and others (mode 0777)"),
            "{why}"
        );
    }
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A plugin directory at `sub` (directories created 0755) under a fresh private directory.
fn nested_plugins(sub: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(sub);
    std::fs::create_dir_all(&dir).unwrap();
    for d in dir.ancestors().take_while(|d| d.starts_with(tmp.path())) {
        chmod(d, 0o755);
    }
    for p in BASE {
        std::fs::copy(
            eidos_e2e::built_library(&format!("eidos_{p}")),
            dir.join(format!("libeidos_{p}.so")),
        )
        .unwrap();
    }
    (tmp, dir)
}

#[test]
fn a_symlink_into_a_world_writable_directory_is_refused() {
    let (tmp, open) = nested_plugins("open");
    chmod(&open, 0o777);
    let safe = tmp.path().join("safe");
    std::fs::create_dir(&safe).unwrap();
    chmod(&safe, 0o755);
    let file = "libeidos_collector_os.so";
    std::os::unix::fs::symlink(open.join(file), safe.join(file)).unwrap();
    let list = statuses(&safe, &[]);
    let why = reason(&list, file);
    assert!(
        why.contains(&format!(
            "{} is writable by group and others (mode 0777)",
            open.display()
        )),
        "{why}"
    );
    // Through a directory nobody else can write, to a file in one nobody else can write: loaded.
    chmod(&open, 0o755);
    assert_eq!(statuses(&safe, &[])[0].1, "loaded");
}

#[test]
fn a_world_writable_grandparent_is_refused_and_a_sticky_root_owned_one_is_accepted() {
    let (tmp, dir) = nested_plugins("g/p");
    let grandparent = tmp.path().join("g");
    chmod(&grandparent, 0o777);
    let list = statuses(&dir, &[]);
    assert_eq!(list.len(), BASE.len());
    for (file, _) in &list {
        let why = reason(&list, file);
        assert!(
            why.contains(&format!(
                "{} is writable by group and others (mode 0777)",
                grandparent.display()
            )),
            "{why}"
        );
    }
    if !is_root() {
        eprintln!("NOT RUN: the sticky case needs a root-owned directory");
        return;
    }
    // Like /tmp: root-owned and sticky, so nobody else can rename the plugin directory away.
    chmod(&grandparent, 0o1777);
    let list = statuses(&dir, &[]);
    assert!(list.iter().all(|(_, s)| s == "loaded"), "{list:?}");
    // The plugin's own directory may never be world-writable, sticky or not.
    chmod(&dir, 0o1777);
    let list = statuses(&dir, &[]);
    assert!(
        reason(&list, "libeidos_collector_os.so")
            .contains("is writable by group and others (mode 1777)"),
        "{list:?}"
    );
}

/// Whether the tests run as root: `/proc/self` is owned by the process's effective user.
fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[test]
fn a_lock_lists_the_hash_of_the_bytes_that_were_loaded() {
    let dir = PluginDir::with(BASE);
    let out = run(eidos(&[dir.path()]).args(["plugins", "list", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let (_tmp, lock) = lock_for(&dir);
    let text = std::fs::read_to_string(&lock).unwrap();
    for entry in out.json().as_array().unwrap() {
        if entry["builtin"] == true {
            continue;
        }
        let path = entry["path"].as_str().unwrap();
        let listed = entry["sha256"].as_str().unwrap();
        assert_eq!(listed, toml_like::sha256_hex(&std::fs::read(path).unwrap()));
        assert!(text.contains(listed), "{path} not locked with {listed}");
    }
}

#[test]
fn a_lock_listing_a_file_twice_or_too_large_is_a_usage_error_naming_it() {
    let dir = PluginDir::with(BASE);
    let (_tmp, lock) = lock_for(&dir);
    let text = std::fs::read_to_string(&lock).unwrap();
    let first = text.find("[[plugin]]").unwrap();
    let second = text[first + 1..].find("[[plugin]]").unwrap() + first + 1;
    let doubled = format!("{text}\n{}", &text[first..second]);
    std::fs::write(&lock, &doubled).unwrap();
    let line = doubled
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("file = \"libeidos_collector_os.so\""))
        .nth(1)
        .expect("the duplicate")
        .0
        + 1;
    let out = run(eidos(&[dir.path()])
        .arg("--plugin-lock")
        .arg(&lock)
        .args(["plugins", "list"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "plugin lock {} is invalid: file \"libeidos_collector_os.so\" is listed twice (line {line})",
            lock.display()
        )),
        "{}",
        out.stderr
    );

    let mut big = text.clone();
    big.push_str(&"#".repeat(1024 * 1024));
    std::fs::write(&lock, big).unwrap();
    let out = run(eidos(&[dir.path()])
        .arg("--plugin-lock")
        .arg(&lock)
        .args(["plugins", "list"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "plugin lock {} is larger than the limit of 1048576 bytes (1 MiB)",
            lock.display()
        )),
        "{}",
        out.stderr
    );
}

/// Just enough TOML and SHA-256 for these assertions, kept independent of the code under test.
mod toml_like {
    pub struct Lock {
        pub files: Vec<String>,
    }

    pub fn parse(text: &str) -> Lock {
        let files = text
            .lines()
            .filter_map(|l| l.strip_prefix("file = \""))
            .map(|l| l.trim_end_matches('"').to_owned())
            .collect();
        Lock { files }
    }

    pub fn sha256_hex(bytes: &[u8]) -> String {
        let out = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(bytes)?;
                child.wait_with_output()
            })
            .expect("sha256sum (coreutils)");
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    }
}

//! End-to-end tests of the plugin manifest cache: a second `eidos diff` takes the collectors'
//! declared volatile keys from the manifests the first one remembered, without loading the
//! libraries, and still ignores them; a replaced or rewritten plugin file is loaded again; under a
//! plugin lock, a record is used only for the bytes the lock pins.

use eidos_e2e::{eidos, reference_snapshot, run, PluginDir, Run};
use serde_json::Value;
use std::path::{Path, PathBuf};

const SYSTEMD: &str = "libeidos_collector_systemd.so";

/// A plugin directory, a cache directory shared by the runs (each run has its own `HOME`), and
/// two snapshots a containerd restart apart: only readings the systemd collector declares
/// volatile differ.
struct Setup {
    plugins: PluginDir,
    cache: tempfile::TempDir,
    work: tempfile::TempDir,
    old: PathBuf,
    new: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let plugins = PluginDir::with(&["collector_os", "collector_systemd", "serializer_json"]);
        let cache = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        let mut doc: Value = serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
        let containerd = doc["measurements"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|m| m["type"].as_str().unwrap().eq_ignore_ascii_case("systemd"))
            .unwrap()["subtypes"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|s| s["subtype"] == "containerd.service")
            .unwrap()["data"]
            .as_object_mut()
            .unwrap();
        containerd.insert("MainPID".into(), "2001".into());
        containerd.insert("ExecMainPID".into(), "2001".into());
        let new = work.path().join("after-restart.json");
        std::fs::write(&new, serde_json::to_vec(&doc).unwrap()).unwrap();
        Setup {
            plugins,
            cache,
            work,
            old: reference_snapshot(),
            new,
        }
    }

    /// `eidos --debug [global] diff OLD NEW -f json [extra]`, with the shared cache directory.
    fn diff_with(&self, global: &[&str], extra: &[&str]) -> Run {
        let mut cmd = eidos(&[self.plugins.path()]);
        cmd.env("XDG_CACHE_HOME", self.cache.path())
            .arg("--debug")
            .args(global)
            .arg("diff")
            .arg(&self.old)
            .arg(&self.new)
            .args(["-f", "json"])
            .args(extra);
        run(&mut cmd)
    }

    /// `eidos --debug [global] diff OLD NEW -f json`.
    fn diff(&self, global: &[&str]) -> Run {
        self.diff_with(global, &[])
    }

    fn systemd(&self) -> PathBuf {
        self.plugins.path().join(SYSTEMD)
    }
}

/// The log lines about the plugin file `file` that say `what`.
fn lines<'a>(run: &'a Run, file: &str, what: &str) -> Vec<&'a str> {
    run.stderr
        .lines()
        .filter(|l| l.contains(file) && l.contains(what))
        .collect()
}

const FROM_CACHE: &str = "plugin manifest from the manifest cache";
const LOADED: &str = "plugin loaded";

/// Asserts that `run` exited 0 (the restart is no drift) with systemd's manifest from the cache
/// and the library not loaded.
fn assert_from_cache(run: &Run) {
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(lines(run, SYSTEMD, FROM_CACHE).len(), 1, "{}", run.stderr);
    assert!(lines(run, SYSTEMD, LOADED).is_empty(), "{}", run.stderr);
    assert!(
        !run.stderr.contains("WARN"),
        "no warning expected:\n{}",
        run.stderr
    );
}

/// Asserts that `run` loaded the systemd library (no cached manifest used).
fn assert_loaded(run: &Run) {
    assert!(lines(run, SYSTEMD, FROM_CACHE).is_empty(), "{}", run.stderr);
    assert_eq!(lines(run, SYSTEMD, LOADED).len(), 1, "{}", run.stderr);
}

#[test]
fn a_second_diff_takes_the_volatile_keys_from_the_cache_until_the_plugin_file_changes() {
    let setup = Setup::new();

    // The first run loads the collectors and remembers their manifests.
    let first = setup.diff(&[]);
    assert_eq!(first.code, Some(0), "{:#}\n{}", first.json(), first.stderr);
    assert_loaded(&first);
    assert_eq!(
        lines(&first, SYSTEMD, "plugin manifest remembered").len(),
        1,
        "{}",
        first.stderr
    );
    let entries = std::fs::read_dir(setup.cache.path().join("eidos/manifests"))
        .unwrap()
        .count();
    assert_eq!(
        entries, 3,
        "one entry per collector library, one for the serializer that wrote the report"
    );

    // The second takes them from the cache: the readings the cached manifest declares volatile
    // are still ignored (exit 0), ...
    let second = setup.diff(&[]);
    assert_from_cache(&second);
    assert_eq!(
        lines(&second, "libeidos_collector_os.so", FROM_CACHE).len(),
        1
    );
    assert_eq!(second.json()["summary"]["drift"], false);
    // ... and they are what keeps the runs apart.
    let volatile = setup.diff_with(&[], &["--include-volatile"]);
    assert_eq!(volatile.code, Some(3), "{}", volatile.stderr);

    // The file rewritten in place (same inode) by another collector's bytes: loaded again, and
    // refused (its manifest names another collector), so the volatile keys are gone: drift.
    std::fs::copy(
        setup.plugins.path().join("libeidos_collector_os.so"),
        setup.systemd(),
    )
    .unwrap();
    let rewritten = setup.diff(&[]);
    assert_eq!(rewritten.code, Some(3), "{}", rewritten.stderr);
    assert!(lines(&rewritten, SYSTEMD, FROM_CACHE).is_empty());
    assert!(
        rewritten.stderr.contains("plugin refused") && rewritten.stderr.contains(SYSTEMD),
        "{}",
        rewritten.stderr
    );

    // The real library back under the name (renamed over it: a new inode): loaded, remembered,
    // then cached again.
    let fresh = setup.work.path().join(SYSTEMD);
    std::fs::copy(eidos_e2e::built_library("eidos_collector_systemd"), &fresh).unwrap();
    std::fs::rename(&fresh, setup.systemd()).unwrap();
    let replaced = setup.diff(&[]);
    assert_eq!(replaced.code, Some(0), "{}", replaced.stderr);
    assert_loaded(&replaced);
    assert_from_cache(&setup.diff(&[]));
}

#[test]
fn under_a_lock_a_cached_manifest_counts_only_for_the_locked_bytes() {
    let setup = Setup::new();
    let lock = setup.work.path().join("plugins.lock");
    let out = run(eidos(&[setup.plugins.path()])
        .args(["plugins", "lock", "-o"])
        .arg(&lock));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let with_lock = |lock: &Path| setup.diff(&["--plugin-lock", lock.to_str().unwrap()]);

    let first = with_lock(&lock);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert_loaded(&first);
    assert_from_cache(&with_lock(&lock));

    // A lock that pins other bytes for the systemd collector: the record is not used, the file
    // is loaded and refused by the lock (hash mismatch), and its volatile keys do not count.
    let text = std::fs::read_to_string(&lock).unwrap();
    let systemd_hash = text
        .split("[[plugin]]")
        .find(|entry| entry.contains(SYSTEMD))
        .and_then(|entry| entry.lines().find(|l| l.starts_with("sha256")))
        .and_then(|line| line.split('"').nth(1))
        .expect("the lock pins the systemd collector")
        .to_owned();
    let other = setup.work.path().join("other.lock");
    std::fs::write(&other, text.replace(&systemd_hash, &"0".repeat(64))).unwrap();
    let mismatch = with_lock(&other);
    assert_eq!(mismatch.code, Some(3), "{}", mismatch.stderr);
    assert!(lines(&mismatch, SYSTEMD, FROM_CACHE).is_empty());
    assert!(
        mismatch.stderr.contains("hash mismatch"),
        "{}",
        mismatch.stderr
    );
    // The os collector's record still counts under that lock.
    assert_eq!(
        lines(&mismatch, "libeidos_collector_os.so", FROM_CACHE).len(),
        1,
        "{}",
        mismatch.stderr
    );
}

/// Without a lock, a library loaded before takes its SHA-256 from the record of the same file
/// instead of hashing it again, and the hash is the same as a fresh hashing gives.
#[test]
fn a_library_loaded_before_takes_its_hash_from_the_record_and_it_is_the_same() {
    const JSON: &str = "libeidos_serializer_json.so";
    const RECORDED: &str = "plugin hash from the manifest cache";
    let setup = Setup::new();
    let first = setup.diff(&[]);
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    assert!(lines(&first, JSON, RECORDED).is_empty(), "{}", first.stderr);
    let second = setup.diff(&[]);
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert_eq!(lines(&second, JSON, RECORDED).len(), 1, "{}", second.stderr);

    let json_sha256 = |out: &Run| -> String {
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let list: Value = serde_json::from_str(&out.stdout).unwrap();
        let entry = list
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"].as_str().is_some_and(|p| p.ends_with(JSON)))
            .unwrap_or_else(|| panic!("{list:#}"));
        entry["sha256"].as_str().unwrap().to_owned()
    };
    // `plugins list` with the records, and with no cache at all (its own empty HOME).
    let recorded = run(eidos(&[setup.plugins.path()])
        .env("XDG_CACHE_HOME", setup.cache.path())
        .args(["--debug", "plugins", "list", "-f", "json"]));
    assert_eq!(
        lines(&recorded, JSON, RECORDED).len(),
        1,
        "{}",
        recorded.stderr
    );
    let hashed =
        run(eidos(&[setup.plugins.path()]).args(["--debug", "plugins", "list", "-f", "json"]));
    assert!(
        lines(&hashed, JSON, RECORDED).is_empty(),
        "{}",
        hashed.stderr
    );
    assert_eq!(json_sha256(&recorded), json_sha256(&hashed));
    assert_eq!(json_sha256(&hashed).len(), 64);
}

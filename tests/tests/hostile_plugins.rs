//! End-to-end tests of broken and hostile plugin files: a plugin cut short, plugins with bytes
//! flipped, a well-formed library that kills the process that loads it. Each is refused with a
//! reason naming the file, the other plugins keep working, and the host never dies.

use eidos_e2e::{built_library, eidos, eidos_bin, run, PluginDir, Run};
use proptest::prelude::*;
use serde_json::Value;
use std::path::Path;

const BASE: &[&str] = &["collector_os", "serializer_json", "serializer_yaml"];
/// The damaged file keeps the example plugin's own name, so that undamaged it would load: every
/// refusal below is the damage's doing.
const DAMAGED: &str = "libeidos_collector_example.so";
/// A collector name that a default snapshot runs (the example collector is opt-in).
const VENDOR: &str = "libeidos_collector_vendor.so";

fn example_bytes() -> Vec<u8> {
    std::fs::read(built_library("eidos_collector_example")).unwrap()
}

/// `eidos plugins list -f json` over `dir`: the run, and each file's status by file name.
fn list(dir: &Path) -> (Run, Vec<(String, Value)>) {
    let out = run(eidos(&[dir]).args(["plugins", "list", "-f", "json"]));
    let statuses = match out.code {
        Some(0) => out
            .json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["builtin"] != true)
            .map(|e| {
                let path = e["path"].as_str().unwrap();
                let name = path.rsplit('/').next().unwrap().to_owned();
                (name, e["status"].clone())
            })
            .collect(),
        _ => Vec::new(),
    };
    (out, statuses)
}

/// Asserts the host survived, every base plugin loaded, and returns the vendor file's status.
fn survived(dir: &PluginDir) -> Value {
    let (out, statuses) = list(dir.path());
    assert_eq!(
        out.code,
        Some(0),
        "the host must survive (exit {:?}): {}",
        out.code,
        out.stderr
    );
    for (file, status) in &statuses {
        if file != DAMAGED {
            assert_eq!(status, "loaded", "{file}: {status}");
        }
    }
    assert_eq!(statuses.len(), BASE.len() + 1, "{statuses:?}");
    statuses
        .into_iter()
        .find(|(f, _)| f == DAMAGED)
        .map(|(_, s)| s)
        .unwrap()
}

/// The refusal reason of a status, which must name the file.
fn refusal(status: &Value, dir: &PluginDir) -> String {
    let why = status["refused"]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("not refused: {status}"))
        .to_owned();
    let path = dir.path().join(DAMAGED);
    assert!(why.contains(path.to_str().unwrap()), "{why}");
    why
}

#[test]
fn a_truncated_plugin_is_refused_by_name_and_the_others_still_work() {
    // The reproduction from the report: `head -c 100000 libeidos_collector_example.so`.
    let dir = PluginDir::with(BASE);
    dir.add_file(DAMAGED, &example_bytes());
    assert_eq!(survived(&dir), "loaded", "undamaged, the file loads");
    dir.add_file(DAMAGED, &example_bytes()[..100_000]);
    let why = refusal(&survived(&dir), &dir);
    assert!(
        why.contains("is not a loadable shared library: truncated or corrupt ELF file"),
        "{why}"
    );

    // A snapshot of every collector skips it with a warning naming it; one asking for it fails.
    // The example collector is opt-in (a default snapshot never opens it), so the same damaged
    // bytes also stand under a vendor's name, which a default snapshot does open.
    dir.add_file(VENDOR, &example_bytes()[..100_000]);
    let out = run(eidos(&[dir.path()]).args(["snapshot", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.json()["metadata"]["collectors"]["os"]["status"], "ok");
    assert!(out.stderr.contains(VENDOR), "{}", out.stderr);
    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "example"]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("truncated or corrupt"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_truncated_serializer_in_a_default_plugin_directory_is_refused_by_name() {
    // The report's second case: the broken file in a default directory (the one beside the
    // executable) broke `eidos recipe --format json` with SIGBUS.
    let home = tempfile::tempdir().unwrap();
    let bin = home.path().join("bin");
    std::fs::create_dir_all(bin.join("plugins")).unwrap();
    std::fs::copy(eidos_bin(), bin.join("eidos")).unwrap();
    let json = std::fs::read(built_library("eidos_serializer_json")).unwrap();
    std::fs::write(
        bin.join("plugins/libeidos_serializer_json.so"),
        &json[..100_000],
    )
    .unwrap();
    std::fs::copy(
        built_library("eidos_serializer_yaml"),
        bin.join("plugins/libeidos_serializer_yaml.so"),
    )
    .unwrap();
    let recipe = |format: &str| {
        let mut cmd = std::process::Command::new(bin.join("eidos"));
        cmd.env_clear()
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .args(["recipe", "--format", format]);
        run(&mut cmd)
    };
    let out = recipe("json");
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("plugins/libeidos_serializer_json.so")
            && out.stderr.contains("truncated or corrupt"),
        "{}",
        out.stderr
    );
    let out = recipe("yaml");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// A small deterministic generator, so that each seed names one exact corruption.
fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

#[test]
fn plugins_with_flipped_bytes_are_refused_by_name_and_the_others_still_work() {
    let original = example_bytes();
    // The first 64 KiB hold the headers and what the dynamic loader reads: symbols, names,
    // hashes, relocations.
    let span = original.len().min(64 * 1024) as u64;
    for seed in 1..=6u64 {
        let mut next = xorshift(seed);
        let mut bytes = original.clone();
        for _ in 0..64 {
            let at = (next() % span) as usize;
            bytes[at] ^= (next() % 255 + 1) as u8;
        }
        let dir = PluginDir::with(BASE);
        dir.add_file(DAMAGED, &bytes);
        let why = refusal(&survived(&dir), &dir);
        eprintln!("seed {seed}: {why}");
    }
}

#[test]
fn a_library_that_crashes_when_loaded_is_refused_and_the_host_survives() {
    let dir = PluginDir::with(BASE);
    dir.add_library("fixture_crash_on_load", DAMAGED);
    let why = refusal(&survived(&dir), &dir);
    assert!(
        why.contains("loading it crashed a probe process (killed by SIGABRT (signal 6))"),
        "{why}"
    );
    // Through every command that opens it (under a vendor's name: the example is opt-in).
    dir.add_library("fixture_crash_on_load", VENDOR);
    let out = run(eidos(&[dir.path()]).args(["snapshot", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("crashed a probe process"),
        "{}",
        out.stderr
    );
}

/// One way to damage a plugin file.
#[derive(Debug, Clone)]
enum Damage {
    /// Keep only this fraction (per mille) of the file.
    Truncate(u32),
    /// XOR bytes at these positions (per million of the file's length).
    Flip(Vec<(u32, u8)>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0u32..1000).prop_map(Damage::Truncate),
        proptest::collection::vec((0u32..1_000_000, 1u8..=255), 1..32).prop_map(Damage::Flip),
    ]
}

proptest! {
    // Each case runs the real binary once; 24 cases bound the time to seconds.
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random truncations and bit flips of a real built plugin never take the host down: the file
    /// is refused with its name, or (when the damage hit bytes nobody reads) loads cleanly. A
    /// truncated file is always refused.
    #[test]
    fn damaged_plugins_never_take_the_host_down(damage in damage()) {
        let original = example_bytes();
        let bytes = match &damage {
            Damage::Truncate(per_mille) => original[..original.len() * *per_mille as usize / 1000].to_vec(),
            Damage::Flip(flips) => {
                let mut bytes = original.clone();
                for (at, xor) in flips {
                    let i = (bytes.len() as u64 * u64::from(*at) / 1_000_000) as usize;
                    bytes[i] ^= xor;
                }
                bytes
            }
        };
        let dir = PluginDir::with(BASE);
        dir.add_file(DAMAGED, &bytes);
        let status = survived(&dir);
        if status != "loaded" || matches!(damage, Damage::Truncate(_)) {
            refusal(&status, &dir);
        }
    }
}

/// The probe cache (`host/probe_cache.rs`) remembers libraries by the hash of their bytes: a file
/// that loaded before and is then replaced, under the same name and path, by a library that crashes
/// whoever loads it must be probed again and refused, never loaded into the host on the strength of
/// the old entry.
#[test]
fn a_probe_cache_entry_never_vouches_for_other_bytes_under_the_same_name() {
    let dir = PluginDir::with(BASE);
    dir.add_file(DAMAGED, &example_bytes());
    let cache_home = tempfile::tempdir().unwrap();
    let list_with_cache = || {
        let mut cmd = eidos(&[dir.path()]);
        cmd.env("XDG_CACHE_HOME", cache_home.path())
            .args(["plugins", "list", "-f", "json"]);
        run(&mut cmd)
    };
    let first = list_with_cache();
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let probed = cache_home.path().join("eidos/probed");
    let entries = std::fs::read_dir(&probed)
        .unwrap_or_else(|e| panic!("{}: {e}", probed.display()))
        .count();
    assert_eq!(entries, BASE.len() + 1, "one entry per library probed");

    // A second run finds every library in the cache: nothing new is written.
    let second = list_with_cache();
    assert_eq!(second.code, Some(0), "{}", second.stderr);
    assert_eq!(std::fs::read_dir(&probed).unwrap().count(), entries);

    std::fs::copy(
        built_library("fixture_crash_on_load"),
        dir.path().join(DAMAGED),
    )
    .unwrap();
    let third = list_with_cache();
    assert_eq!(
        third.code,
        Some(0),
        "the host must survive: {}",
        third.stderr
    );
    let statuses = third.json();
    let swapped = statuses
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"].as_str().unwrap().ends_with(DAMAGED))
        .unwrap();
    let why = swapped["status"]["refused"]["reason"]
        .as_str()
        .unwrap_or_default();
    assert!(why.contains("crashed a probe process"), "{swapped}");
}

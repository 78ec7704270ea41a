//! Rules the Rust sources of eidos's own plugins (`plugins/`) keep, checked by reading them:
//!
//! - no plugin builds a `CollectContext` (or the `CancelToken` one needs) by hand: the export
//!   layer builds it for a run, and `eidos_plugin_api::testing::TestContext` (feature
//!   `test-support`) for a plugin's unit tests, declared option defaults included; a hand-built
//!   context skips those defaults and drifts from what a real run hands the collector;
//! - no plugin runs a program (`std::process::Command`): collectors read files and talk protocols.
//!
//! The fields of `CollectContext` are private, so a struct literal cannot compile outside
//! `plugin-api`; the constructors are what is left to look for.

use eidos_e2e::workspace_root;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            let path = entry.path();
            if kind.is_dir() && entry.file_name() != "target" {
                pending.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `path:line: text` for each line of the plugins' sources that contains one of `patterns`.
fn lines_with(patterns: &[&str]) -> Vec<String> {
    let root = workspace_root();
    let files = rust_files(&root.join("plugins"));
    assert!(
        files.len() > 10,
        "the plugins' sources were not found: {files:?}"
    );
    let mut hits = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            if patterns.iter().any(|p| line.contains(p)) {
                let shown = file.strip_prefix(&root).unwrap_or(&file).display();
                hits.push(format!("{shown}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    hits
}

#[test]
fn no_plugin_builds_a_collect_context_by_hand() {
    let hits = lines_with(&["CollectContext::new", "CancelToken::new"]);
    assert!(
        hits.is_empty(),
        "use eidos_plugin_api::testing::TestContext instead:\n{}",
        hits.join("\n")
    );
}

#[test]
fn no_plugin_runs_a_program() {
    let hits = lines_with(&["process::Command", "Command::new"]);
    assert!(
        hits.is_empty(),
        "collector plugins never shell out:\n{}",
        hits.join("\n")
    );
}

//! Support for the end-to-end tests: find the built `eidos` and plugin libraries, assemble a
//! private plugin directory, and run the real binary against it.
//!
//! The binary and plugins must be built first (`cargo build --workspace`); the README's test
//! command does that.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory holding the built binary and libraries (e.g. `target/debug`), found from the
/// running test executable (`target/debug/deps/…`), so that `CARGO_TARGET_DIR` and profiles work.
pub fn build_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe.parent().expect("the deps directory");
    deps.parent().expect("the profile directory").to_path_buf()
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The shared snapshot fixture in the original Go tool's format (an H100 EKS node), a file in
/// the repository.
pub fn reference_snapshot() -> PathBuf {
    eidos_test_fixtures::h100_eks_go_path()
}

/// The built `eidos` binary.
pub fn eidos_bin() -> PathBuf {
    let path = build_dir().join("eidos");
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` before the tests",
        path.display()
    );
    path
}

/// A built library by its cargo library name (e.g. `eidos_collector_os`, `fixture_plugin_panic`).
pub fn built_library(lib_name: &str) -> PathBuf {
    let path = build_dir().join(format!("lib{lib_name}.so"));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace` before the tests",
        path.display()
    );
    path
}

/// A temporary plugin directory that tests fill with chosen plugins.
pub struct PluginDir {
    dir: tempfile::TempDir,
}

impl Default for PluginDir {
    fn default() -> Self {
        Self::new()
    }
}

impl PluginDir {
    /// An empty plugin directory.
    pub fn new() -> Self {
        PluginDir {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// A directory with the given built-in plugins, e.g. `&["collector_os", "serializer_json"]`.
    pub fn with(plugins: &[&str]) -> Self {
        let dir = Self::new();
        for p in plugins {
            dir.add_builtin(p);
        }
        dir
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies a built eidos plugin (`collector_os`, `serializer_json` …) in under its own name.
    pub fn add_builtin(&self, plugin: &str) -> PathBuf {
        self.add_library(&format!("eidos_{plugin}"), &format!("libeidos_{plugin}.so"))
    }

    /// Copies a built library (by cargo library name) in under the given file name.
    pub fn add_library(&self, lib_name: &str, file_name: &str) -> PathBuf {
        let target = self.dir.path().join(file_name);
        std::fs::copy(built_library(lib_name), &target).expect("copying a plugin library");
        target
    }

    /// Writes a file with arbitrary contents (e.g. a "library" that is not one).
    pub fn add_file(&self, file_name: &str, contents: &[u8]) -> PathBuf {
        let target = self.dir.path().join(file_name);
        std::fs::write(&target, contents).expect("writing a file");
        target
    }
}

/// The result of running `eidos`.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Run {
    /// Standard output parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// `eidos` with only the given plugin directories (default directories off), and a clean
/// environment for the variables eidos reads.
pub fn eidos(plugin_dirs: &[&Path]) -> Command {
    let mut cmd = Command::new(eidos_bin());
    cmd.env_remove("EIDOS_PLUGIN_PATH")
        .env_remove("EIDOS_HOST_ROOT")
        .env_remove("EIDOS_CONFIG")
        .env_remove("EIDOS_PLUGIN_LOCK")
        .env_remove("RUST_LOG")
        .env("EIDOS_NO_DEFAULT_PLUGIN_DIRS", "true");
    for dir in plugin_dirs {
        cmd.arg("--plugin-dir").arg(dir);
    }
    cmd
}

/// Runs a command to completion and captures its output.
pub fn run(cmd: &mut Command) -> Run {
    let started = Instant::now();
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

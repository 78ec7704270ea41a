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

/// The fenced code blocks of language `lang` (```` ```toml ````) in the Markdown file at
/// `relative` from the workspace root, in order, each without the fence's indentation (a block
/// inside a list item is indented), so that a test can build with or compare against the very text
/// a document shows.
pub fn doc_code_blocks(relative: &str, lang: &str) -> Vec<String> {
    let path = workspace_root().join(relative);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut blocks = Vec::new();
    let mut open: Option<(usize, String)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if trimmed.strip_prefix("```") == Some(lang) {
                    open = Some((indent, String::new()));
                }
            }
            Some((fence_indent, block)) => {
                if trimmed == "```" {
                    blocks.push(std::mem::take(block));
                    open = None;
                } else {
                    let cut = line
                        .char_indices()
                        .take_while(|(i, c)| *i < *fence_indent && *c == ' ')
                        .count();
                    block.push_str(&line[cut..]);
                    block.push('\n');
                }
            }
        }
    }
    assert!(
        open.is_none(),
        "{}: a ```{lang} block is not closed",
        path.display()
    );
    blocks
}

/// The one ```` ```LANG ```` block of the Markdown file at `relative` that contains `marker`;
/// fails unless there is exactly one.
pub fn doc_code_block(relative: &str, lang: &str, marker: &str) -> String {
    let mut found: Vec<String> = doc_code_blocks(relative, lang)
        .into_iter()
        .filter(|b| b.contains(marker))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{relative} must have exactly one ```{lang} block containing {marker:?}: {found:?}"
    );
    found.remove(0)
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

/// A command whose environment cannot be changed by the developer's: it has its own empty `HOME`
/// (a temporary directory, removed when the command is dropped) and none of the variables eidos,
/// its plugins or its libraries read from the environment. Use it like a [`Command`] (it
/// dereferences to one); variables a test sets afterwards are kept.
#[derive(Debug)]
pub struct Hermetic {
    cmd: Command,
    home: tempfile::TempDir,
}

impl Hermetic {
    /// The command's private `HOME`.
    pub fn home(&self) -> &Path {
        self.home.path()
    }
}

impl std::ops::Deref for Hermetic {
    type Target = Command;
    fn deref(&self) -> &Command {
        &self.cmd
    }
}

impl std::ops::DerefMut for Hermetic {
    fn deref_mut(&mut self) -> &mut Command {
        &mut self.cmd
    }
}

/// Variables read by eidos or the libraries it uses that do not start with `EIDOS_` or `XDG_`
/// (those are all removed).
const INHERITED_SETTINGS: &[&str] = &[
    "KUBECONFIG",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "PORT",
    "NODE_NAME",
    "RUST_LOG",
    "DBUS_SYSTEM_BUS_ADDRESS",
    "DBUS_SESSION_BUS_ADDRESS",
    "NO_COLOR",
    "COLUMNS",
];

/// Whether `name` is a variable [`hermetic`] keeps away from the child.
pub fn is_setting(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with("EIDOS_") || name.starts_with("XDG_") || INHERITED_SETTINGS.contains(&&*name)
}

/// `program` run in a hermetic environment: see [`Hermetic`].
pub fn hermetic(program: impl AsRef<std::ffi::OsStr>) -> Hermetic {
    let home = tempfile::Builder::new()
        .prefix("eidos-e2e-home-")
        .tempdir()
        .expect("a temporary HOME");
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if is_setting(&name) {
            cmd.env_remove(name);
        }
    }
    cmd.env("HOME", home.path());
    // The built-in facts collector's default directory is the machine's /etc/eidos/facts.d: point
    // it at a directory that does not exist, inside the private HOME.
    cmd.env("EIDOS_FACTS_DIR", home.path().join("facts.d"));
    Hermetic { cmd, home }
}

/// `eidos` with only the given plugin directories (default directories off), in a hermetic
/// environment ([`hermetic`]).
pub fn eidos(plugin_dirs: &[&Path]) -> Hermetic {
    let mut cmd = hermetic(eidos_bin());
    cmd.env("EIDOS_NO_DEFAULT_PLUGIN_DIRS", "true");
    for dir in plugin_dirs {
        cmd.arg("--plugin-dir").arg(dir);
    }
    cmd
}

/// How long [`wait_for`] waits before it declares a condition never met. Only a guard against a
/// test hanging for ever: a waiting test goes on as soon as its condition holds, so a slow machine
/// makes it slower, never wrong.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Polls `probe` until it gives a value; panics naming `what` after [`PATIENCE`].
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `condition` until it holds; panics naming `what` after [`PATIENCE`].
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    wait_for(what, || condition().then_some(()))
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

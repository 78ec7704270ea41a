//! Where plugins are looked for, and which files are plugins.
//!
//! A plugin file is a shared library named `libeidos_collector_NAME.so` or
//! `libeidos_serializer_NAME.so` (`.dylib` on macOS). Kind and name come from the file name, so
//! that a shadowed plugin is never loaded at all: the first file of a kind and name along the search
//! path wins, and later ones are reported as shadowed.
//!
//! An executable file named `eidos-collector-NAME` is a collector too (`exec.rs`); it shares the
//! search order and the shadowing with library collectors of the same name (within one directory,
//! files are taken in file-name order, so `eidos-collector-x` comes before `libeidos_collector_x.so`).

use eidos_plugin_api::PluginKind;
use std::path::{Path, PathBuf};

/// The file-name prefix of every plugin library.
pub const FILE_PREFIX: &str = "libeidos_";

/// The shared-library suffix on this platform.
pub const FILE_SUFFIX: &str = if cfg!(target_os = "macos") {
    ".dylib"
} else {
    ".so"
};

/// The system-wide plugin directory.
pub const SYSTEM_DIR: &str = "/usr/lib/eidos/plugins";

/// Why a directory is on the search path (shown by `eidos plugins list --debug` and in errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirSource {
    /// A `--plugin-dir` flag.
    Flag,
    /// The `EIDOS_PLUGIN_PATH` environment variable.
    Env,
    /// `plugin-dirs` in the config file.
    Config,
    /// The directory of the `eidos` executable, or its `plugins/` subfolder.
    Executable,
    /// The user's data directory (`…/eidos/plugins`).
    User,
    /// The system directory.
    System,
}

/// One directory on the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDir {
    /// The directory.
    pub path: PathBuf,
    /// Where it came from.
    pub source: DirSource,
}

/// What goes into the search path.
#[derive(Debug, Clone, Default)]
pub struct SearchPathSpec {
    /// `--plugin-dir` flags, in order.
    pub flag_dirs: Vec<PathBuf>,
    /// The value of `EIDOS_PLUGIN_PATH` (colon-separated), if set.
    pub env_path: Option<String>,
    /// `plugin-dirs` from the config file.
    pub config_dirs: Vec<PathBuf>,
    /// The running executable (its directory and `plugins/` subfolder are searched).
    pub executable: Option<PathBuf>,
    /// The user data directory for plugins.
    pub user_dir: Option<PathBuf>,
    /// Whether to search only the flag and environment directories (curated plugin sets).
    pub only_explicit: bool,
}

impl SearchPathSpec {
    /// The spec for this process: the given flags, the environment, the executable's location and
    /// the platform's user data directory.
    pub fn from_environment(
        flag_dirs: Vec<PathBuf>,
        config_dirs: Vec<PathBuf>,
        only_explicit: bool,
    ) -> Self {
        SearchPathSpec {
            flag_dirs,
            env_path: std::env::var("EIDOS_PLUGIN_PATH").ok(),
            config_dirs,
            executable: std::env::current_exe().ok(),
            user_dir: directories::ProjectDirs::from("", "", "eidos")
                .map(|dirs| dirs.data_dir().join("plugins")),
            only_explicit,
        }
    }

    /// The directories to search, in order, without duplicates.
    pub fn dirs(&self) -> Vec<SearchDir> {
        let mut dirs: Vec<SearchDir> = Vec::new();
        let mut push = |path: PathBuf, source: DirSource| {
            if !path.as_os_str().is_empty() && !dirs.iter().any(|d| d.path == path) {
                dirs.push(SearchDir { path, source });
            }
        };
        for dir in &self.flag_dirs {
            push(dir.clone(), DirSource::Flag);
        }
        for dir in self.env_path.as_deref().unwrap_or("").split(':') {
            push(PathBuf::from(dir), DirSource::Env);
        }
        for dir in &self.config_dirs {
            push(dir.clone(), DirSource::Config);
        }
        if self.only_explicit {
            return dirs;
        }
        if let Some(exe_dir) = self.executable.as_deref().and_then(Path::parent) {
            push(exe_dir.to_path_buf(), DirSource::Executable);
            push(exe_dir.join("plugins"), DirSource::Executable);
        }
        if let Some(user) = &self.user_dir {
            push(user.clone(), DirSource::User);
        }
        push(PathBuf::from(SYSTEM_DIR), DirSource::System);
        dirs
    }
}

/// A plugin file found on the search path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The library file.
    pub path: PathBuf,
    /// The kind its name declares.
    pub kind: PluginKind,
    /// The plugin name its file name declares (with `_` as in the file name).
    pub name: String,
    /// The earlier file of the same kind and name that wins over this one, if any.
    pub shadowed_by: Option<PathBuf>,
}

impl Candidate {
    /// Whether the file is an executable collector (`eidos-collector-NAME`) rather than a library.
    pub fn is_executable(&self) -> bool {
        self.path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(super::exec::parse_file_name)
            .is_some()
    }
}

/// Parses a plugin file name into its kind and name, or `None` if it is not a plugin file name.
pub fn parse_file_name(file_name: &str) -> Option<(PluginKind, String)> {
    let stem = file_name
        .strip_prefix(FILE_PREFIX)?
        .strip_suffix(FILE_SUFFIX)?;
    let (kind, name) = stem.split_once('_')?;
    let kind = PluginKind::parse(kind)?;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    valid.then(|| (kind, name.to_owned()))
}

/// Why a file that looks like a plugin is not one by the naming convention; `None` for files that
/// do not look like plugins at all. Every shared library in a plugin directory looks like one (a
/// vendor's `libacme_nic_collector.so` is a plugin misnamed far more often than a stray library),
/// and so does a file named `eidos-collector-…` with a name an executable collector cannot have.
/// Only `--debug` shows these, so a false alarm costs a log line.
pub fn near_miss(file_name: &str) -> Option<String> {
    let looks_like_library = file_name.ends_with(FILE_SUFFIX) || file_name.contains(".so.");
    if !looks_like_library {
        return file_name.starts_with(super::exec::FILE_PREFIX).then(|| {
            format!("{file_name:?} is not a valid executable collector name ({EXEC_CONVENTION})")
        });
    }
    let convention = format!(
        "expected {FILE_PREFIX}collector_NAME{FILE_SUFFIX} or {FILE_PREFIX}serializer_NAME{FILE_SUFFIX}, NAME in lower-case letters, digits and _"
    );
    let why = if !file_name.ends_with(FILE_SUFFIX) {
        format!("a versioned library name ({convention})")
    } else if !file_name.starts_with(FILE_PREFIX) {
        format!("the name does not start with {FILE_PREFIX} ({convention})")
    } else {
        let stem = &file_name[FILE_PREFIX.len()..file_name.len() - FILE_SUFFIX.len()];
        match stem.split_once('_') {
            Some((kind, name)) if PluginKind::parse(kind).is_some() => {
                if name.is_empty() {
                    format!("no plugin name after the kind ({convention})")
                } else {
                    format!("{name:?} is not a valid plugin name ({convention})")
                }
            }
            _ => format!(
                "the kind after {FILE_PREFIX} is neither collector nor serializer ({convention})"
            ),
        }
    };
    Some(why)
}

/// How an executable collector must be named, for [`near_miss`] and [`executable_near_miss`].
const EXEC_CONVENTION: &str =
    "expected eidos-collector-NAME, NAME in lower-case letters, digits, - and _, starting with a letter or digit";

/// Why an executable file with `collector` in its name (other than a valid `eidos-collector-NAME`
/// or a library) is not an executable collector; `None` for any other file. Reads the entry's own
/// metadata (a link is not followed, and a FIFO is never opened) only for such names.
pub fn executable_near_miss(file_name: &str, path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    if !file_name.to_ascii_lowercase().contains("collector") {
        return None;
    }
    let meta = std::fs::symlink_metadata(path).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then(|| {
        format!("an executable that is not named as an executable collector ({EXEC_CONVENTION})")
    })
}

/// The file name a plugin of this kind and name must have.
#[cfg(test)]
pub fn file_name_for(kind: PluginKind, name: &str) -> String {
    format!(
        "{FILE_PREFIX}{}_{}{FILE_SUFFIX}",
        kind.as_str(),
        name.replace('-', "_")
    )
}

/// Normalizes a plugin name as given by a user or a manifest to its file-name form.
pub fn normalize_name(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// Lists the plugin files in `dirs`, in search order; within a directory, files are sorted by name.
/// Missing or unreadable directories are skipped (logged at debug level).
pub fn discover(dirs: &[SearchDir]) -> Vec<Candidate> {
    let mut found: Vec<Candidate> = Vec::new();
    for dir in dirs {
        let entries = match std::fs::read_dir(&dir.path) {
            Ok(entries) => entries,
            Err(e) => {
                tracing::debug!(dir = %dir.path.display(), error = %e, "plugin directory skipped");
                continue;
            }
        };
        let mut files: Vec<(String, PathBuf)> = entries
            .flatten()
            .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
            .collect();
        files.sort();
        for (file_name, path) in files {
            let Some((kind, name)) = parse_file_name(&file_name).or_else(|| {
                super::exec::parse_file_name(&file_name).map(|n| (PluginKind::Collector, n))
            }) else {
                if let Some(why) =
                    near_miss(&file_name).or_else(|| executable_near_miss(&file_name, &path))
                {
                    tracing::debug!(file = %path.display(), "not loaded as a plugin: {why}");
                }
                continue;
            };
            if !path.is_file() {
                tracing::debug!(file = %path.display(), "not loaded as a plugin: not a regular file");
                continue;
            }
            let shadowed_by = found
                .iter()
                .find(|c| c.kind == kind && c.name == name && c.shadowed_by.is_none())
                .map(|c| c.path.clone());
            found.push(Candidate {
                path,
                kind,
                name,
                shadowed_by,
            });
        }
    }
    found
}

/// A folder a plugin directory carries beside its plugins (such as `recipes/`), for the command
/// layer to use; the host does not look inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionFolder {
    /// The folder (`DIR/NAME`).
    pub path: PathBuf,
    /// The plugin directory that carries it.
    pub dir: SearchDir,
}

/// The folder called `name` in each of `dirs` that has one (a real directory, not a link), in
/// search order. With `check`, a folder that someone else could change (see
/// [`super::security::check_directory`]) is left out with a warning, as a plugin file in such a
/// place is refused.
pub fn companion_folders(dirs: &[SearchDir], name: &str, check: bool) -> Vec<CompanionFolder> {
    let mut found = Vec::new();
    for dir in dirs {
        let path = dir.path.join(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                tracing::warn!(folder = %path.display(), "not a directory (links are not followed): ignored");
                continue;
            }
            Err(_) => continue,
        }
        if check {
            if let Err(reason) = super::security::check_directory(&path) {
                tracing::warn!(folder = %path.display(), "refusing a plugin directory's folder: {reason}");
                continue;
            }
        }
        found.push(CompanionFolder {
            path,
            dir: dir.clone(),
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(name), b"").unwrap();
    }

    #[test]
    fn file_names_declare_kind_and_name() {
        let so = FILE_SUFFIX;
        assert_eq!(
            parse_file_name(&format!("libeidos_collector_os{so}")),
            Some((PluginKind::Collector, "os".into()))
        );
        assert_eq!(
            parse_file_name(&format!("libeidos_serializer_json{so}")),
            Some((PluginKind::Serializer, "json".into()))
        );
        assert_eq!(
            parse_file_name(&format!("libeidos_collector_acme_nic{so}")),
            Some((PluginKind::Collector, "acme_nic".into()))
        );
        for not_plugin in [
            format!("libeidos_plugin_api{so}"),
            "libeidos_collector_os.rlib".to_owned(),
            format!("libfixture_plugin_panic{so}"),
            format!("libeidos_collector_{so}"),
            format!("libeidos_collector_OS{so}"),
            "eidos".to_owned(),
        ] {
            assert_eq!(parse_file_name(&not_plugin), None, "{not_plugin}");
        }
        assert_eq!(
            file_name_for(PluginKind::Collector, "acme-nic"),
            format!("libeidos_collector_acme_nic{so}")
        );
    }

    #[test]
    fn files_that_look_like_plugins_but_break_the_convention_say_why() {
        let so = FILE_SUFFIX;
        for (file, why) in [
            (
                format!("libeidos_collector_Acme{so}"),
                "\"Acme\" is not a valid plugin name",
            ),
            (
                format!("libeidos_collector_acme-nic{so}"),
                "\"acme-nic\" is not a valid",
            ),
            (
                format!("libeidos_collector_{so}"),
                "no plugin name after the kind",
            ),
            (
                format!("libeidos_exporter_x{so}"),
                "neither collector nor serializer",
            ),
            (
                format!("eidos_collector_x{so}"),
                "does not start with libeidos_",
            ),
            (
                format!("libeidos_collector_x{so}.1"),
                "a versioned library name",
            ),
        ] {
            let got = near_miss(&file).unwrap_or_else(|| panic!("{file} not flagged"));
            assert!(got.contains(why), "{file}: {got}");
            assert!(got.contains("libeidos_collector_NAME"), "{got}");
        }
        // Any shared library: a vendor's plugin without eidos in its name, as the guide warns.
        for file in [format!("libacme_nic_collector{so}"), format!("libssl{so}")] {
            let got = near_miss(&file).unwrap_or_else(|| panic!("{file} not flagged"));
            assert!(got.contains("does not start with libeidos_"), "{got}");
        }
        let got = near_miss("eidos-collector-Acme").expect("an invalid executable collector name");
        assert!(got.contains("expected eidos-collector-NAME"), "{got}");
        for unrelated in ["README.txt", "eidos.toml", "collector.conf"] {
            assert_eq!(near_miss(unrelated), None, "{unrelated}");
        }
    }

    #[test]
    fn executables_named_like_collectors_are_flagged_and_nothing_else() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, mode: u32| {
            let path = dir.path().join(name);
            std::fs::write(&path, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        };
        let flagged = file("acme-collector", 0o755);
        let got = executable_near_miss("acme-collector", &flagged).expect("flagged");
        assert!(got.contains("expected eidos-collector-NAME"), "{got}");
        let not_executable = file("acme-collector.toml", 0o644);
        assert_eq!(
            executable_near_miss("acme-collector.toml", &not_executable),
            None
        );
        let unrelated = file("helper", 0o755);
        assert_eq!(executable_near_miss("helper", &unrelated), None);
        assert_eq!(
            executable_near_miss("gone-collector", &dir.path().join("gone-collector")),
            None
        );
    }

    #[test]
    fn companion_folders_are_reported_in_search_order_and_checked() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = |name: &str| SearchDir {
            path: tmp.path().join(name),
            source: DirSource::Flag,
        };
        let (a, b, c, d, e) = (dir("a"), dir("b"), dir("c"), dir("d"), dir("e"));
        for (d, mode) in [(&a, 0o755), (&b, 0o755), (&c, 0o777), (&e, 0o755)] {
            std::fs::create_dir_all(d.path.join("recipes")).unwrap();
            std::fs::set_permissions(&d.path, std::fs::Permissions::from_mode(0o755)).unwrap();
            std::fs::set_permissions(
                d.path.join("recipes"),
                std::fs::Permissions::from_mode(mode),
            )
            .unwrap();
        }
        // d has none; e's is a link to a's, which is not followed.
        std::fs::remove_dir(e.path.join("recipes")).unwrap();
        std::os::unix::fs::symlink(a.path.join("recipes"), e.path.join("recipes")).unwrap();
        let dirs = [b.clone(), a.clone(), c.clone(), d, e];
        let paths = |check| {
            companion_folders(&dirs, "recipes", check)
                .into_iter()
                .map(|f| f.path)
                .collect::<Vec<_>>()
        };
        // c's folder is writable by anyone: left out, unless the checks are off.
        assert_eq!(
            paths(true),
            [b.path.join("recipes"), a.path.join("recipes")]
        );
        assert_eq!(
            paths(false),
            [
                b.path.join("recipes"),
                a.path.join("recipes"),
                c.path.join("recipes")
            ]
        );
    }

    #[test]
    fn search_order_is_flags_env_executable_user_system() {
        let spec = SearchPathSpec {
            flag_dirs: vec!["/f1".into(), "/f2".into()],
            env_path: Some("/e1::/e2".into()),
            config_dirs: vec!["/c1".into()],
            executable: Some("/opt/eidos/bin/eidos".into()),
            user_dir: Some("/home/u/.local/share/eidos/plugins".into()),
            only_explicit: false,
        };
        let dirs: Vec<_> = spec.dirs().into_iter().map(|d| d.path).collect();
        let expected: Vec<PathBuf> = [
            "/f1",
            "/f2",
            "/e1",
            "/e2",
            "/c1",
            "/opt/eidos/bin",
            "/opt/eidos/bin/plugins",
            "/home/u/.local/share/eidos/plugins",
            SYSTEM_DIR,
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(dirs, expected);

        let explicit = SearchPathSpec {
            only_explicit: true,
            ..spec
        };
        assert_eq!(explicit.dirs().len(), 5);
    }

    #[test]
    fn the_first_plugin_of_a_kind_and_name_wins_and_later_ones_are_shadowed() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let os = file_name_for(PluginKind::Collector, "os");
        touch(&a, &os);
        touch(&b, &os);
        touch(&b, &file_name_for(PluginKind::Serializer, "os"));
        touch(&b, "README.txt");
        let dirs = vec![
            SearchDir {
                path: a.clone(),
                source: DirSource::Flag,
            },
            SearchDir {
                path: tmp.path().join("missing"),
                source: DirSource::Env,
            },
            SearchDir {
                path: b.clone(),
                source: DirSource::Env,
            },
        ];
        let found = discover(&dirs);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].path, a.join(&os));
        assert_eq!(found[0].shadowed_by, None);
        let shadowed = found.iter().find(|c| c.path == b.join(&os)).unwrap();
        assert_eq!(shadowed.shadowed_by.as_deref(), Some(a.join(&os).as_path()));
        let serializer = found
            .iter()
            .find(|c| c.kind == PluginKind::Serializer)
            .unwrap();
        assert_eq!(
            serializer.shadowed_by, None,
            "kinds do not shadow each other"
        );
    }
}

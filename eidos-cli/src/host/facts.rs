//! The built-in `facts` collector: static measurements from a drop-in directory.
//!
//! Each `*.json`, `*.yaml` or `*.yml` file in the directory (default [`DEFAULT_DIR`]) holds one
//! measurement or a list of them, in the snapshot's measurement model (`type`, `subtypes`, each
//! subtype's `data`). Files are read in name order. A file that cannot be used (malformed, too
//! large, not a regular file, a symbolic link leading out of the directory, or failing the plugin
//! ownership and permission rules of `security.rs`) is skipped with a warning naming it; the others
//! still count. Without the directory the collector is not applicable.

use super::files::{read_capped, ReadError};
use super::security::open_plugin;
use eidos_plugin_api::wire::CollectResponse;
use eidos_plugin_api::{Manifest, Measurement, PluginKind, PLUGIN_API_VERSION};
use std::path::{Path, PathBuf};

/// The collector's name.
pub const NAME: &str = "facts";

/// The facts directory when no flag, variable or config file names one.
pub const DEFAULT_DIR: &str = "/etc/eidos/facts.d";

/// The largest facts file read (1 MiB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The most facts files read; later ones (in name order) are skipped with a warning.
pub const MAX_FILES: usize = 256;

/// The built-in facts collector for one directory.
#[derive(Debug, Clone)]
pub struct FactsCollector {
    dir: PathBuf,
    check: bool,
}

impl FactsCollector {
    /// The collector for `dir`; `check` applies the plugin ownership and permission rules to each
    /// file (off only with `--allow-insecure-plugins`).
    pub fn new(dir: PathBuf, check: bool) -> Self {
        FactsCollector { dir, check }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether its directory exists (the collector joins the default selection only then).
    pub fn dir_exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// What it says about itself in `eidos plugins list`.
    pub fn manifest(&self) -> Manifest {
        Manifest {
            name: NAME.to_owned(),
            kind: PluginKind::Collector,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            api_version: PLUGIN_API_VERSION.to_owned(),
            description: format!(
                "Static facts: measurements from *.json and *.yaml files in {}",
                self.dir.display()
            ),
            formats: Vec::new(),
            options: Vec::new(),
            volatile_keys: Vec::new(),
            sensitive_keys: Vec::new(),
        }
    }

    /// Reads every facts file.
    pub fn collect(&self) -> CollectResponse {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return CollectResponse::NotApplicable {
                    reason: format!("there is no facts directory {}", self.dir.display()),
                }
            }
            Err(e) => {
                return CollectResponse::error(format!(
                    "cannot read the facts directory {}: {e}",
                    self.dir.display()
                ))
            }
        };
        let real_dir = match std::fs::canonicalize(&self.dir) {
            Ok(dir) => dir,
            Err(e) => {
                return CollectResponse::error(format!(
                    "cannot resolve the facts directory {}: {e}",
                    self.dir.display()
                ))
            }
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.starts_with('.') && format_of(n).is_some())
            .collect();
        names.sort();
        let mut warnings = Vec::new();
        if names.len() > MAX_FILES {
            warnings.push(format!(
                "{} facts files in {}; only the first {MAX_FILES} (by name) are read",
                names.len(),
                self.dir.display()
            ));
            names.truncate(MAX_FILES);
        }
        let mut measurements = Vec::new();
        for name in names {
            let path = self.dir.join(&name);
            match self.read_file(&path, &real_dir) {
                Ok(found) => measurements.extend(found),
                Err(reason) => {
                    warnings.push(format!("facts file {} skipped: {reason}", path.display()))
                }
            }
        }
        CollectResponse::Ok {
            measurements,
            warnings,
        }
    }

    /// The measurements in one file.
    fn read_file(&self, path: &Path, real_dir: &Path) -> Result<Vec<Measurement>, String> {
        let opened = open_plugin(path, self.check).map_err(|e| e.to_string())?;
        if opened.real_path.parent() != Some(real_dir) {
            return Err(format!(
                "it leads to {}, outside the facts directory",
                opened.real_path.display()
            ));
        }
        let bytes = read_capped(&opened.file, MAX_FILE_BYTES).map_err(|e| match e {
            ReadError::TooLarge { limit } => {
                format!("it is larger than the limit of {limit} bytes (1 MiB)")
            }
            ReadError::Io(e) => e.to_string(),
        })?;
        let text = String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))?;
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        parse(&text, format_of(file_name).unwrap_or(Format::Yaml))
    }
}

/// A facts file's syntax, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
}

fn format_of(file_name: &str) -> Option<Format> {
    let (_, ext) = file_name.rsplit_once('.')?;
    match ext {
        "json" => Some(Format::Json),
        "yaml" | "yml" => Some(Format::Yaml),
        _ => None,
    }
}

/// Parses a facts file: one measurement, or a list of them.
fn parse(text: &str, format: Format) -> Result<Vec<Measurement>, String> {
    let value: serde_json::Value = match format {
        Format::Json => serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?,
        Format::Yaml => crate::input::from_untrusted_yaml(text)?,
    };
    let items = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(_) => vec![value],
        _ => {
            return Err(
                "expected a measurement (type, subtypes) or a list of measurements".to_owned(),
            )
        }
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let measurement: Measurement = serde_json::from_value(item)
                .map_err(|e| format!("measurement {}: {e}", index + 1))?;
            if measurement.kind.trim().is_empty() {
                return Err(format!("measurement {}: its type is empty", index + 1));
            }
            // Only a type that recipe data can name can ever be checked by `eidos validate`.
            eidos_recipes::measurement_type(&measurement.kind)
                .map_err(|e| format!("measurement {}: {e}", index + 1))?;
            if let Some(empty) = measurement
                .subtypes
                .iter()
                .position(|s| s.subtype.trim().is_empty())
            {
                return Err(format!(
                    "measurement {} ({}): subtype {} has no name",
                    index + 1,
                    measurement.kind,
                    empty + 1
                ));
            }
            Ok(measurement)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A private facts directory (mode 0755 all the way down from a 0755 temporary directory).
    fn facts_dir() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        chmod(tmp.path(), 0o755);
        let dir = tmp.path().join("facts.d");
        std::fs::create_dir(&dir).unwrap();
        chmod(&dir, 0o755);
        (tmp, dir)
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        chmod(&path, 0o644);
        path
    }

    fn ok(response: CollectResponse) -> (Vec<Measurement>, Vec<String>) {
        match response {
            CollectResponse::Ok {
                measurements,
                warnings,
            } => (measurements, warnings),
            other => panic!("expected ok, got {other:?}"),
        }
    }

    #[test]
    fn json_and_yaml_files_hold_one_or_many_measurements_read_in_name_order() {
        let (_tmp, dir) = facts_dir();
        write(
            &dir,
            "10-nic.yaml",
            "type: acme-nic\nsubtypes:\n  - subtype: eth0\n    data:\n      mtu: 9000\n",
        );
        write(
            &dir,
            "20-site.json",
            r#"[{"type":"site","subtypes":[{"subtype":"rack","data":{"row":"B"}}]},
                {"type":"site","subtypes":[{"subtype":"power","data":{"feeds":2}}]}]"#,
        );
        write(&dir, "README.md", "not a facts file");
        let (measurements, warnings) = ok(FactsCollector::new(dir, true).collect());
        assert_eq!(warnings, Vec::<String>::new());
        let kinds: Vec<_> = measurements.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, ["acme-nic", "site", "site"]);
        let eth0 = measurements[0].subtype("eth0").unwrap();
        assert_eq!(serde_json::to_value(&eth0.data["mtu"]).unwrap(), 9000);
    }

    #[test]
    fn malformed_files_are_warnings_naming_the_file_and_the_rest_still_counts() {
        let (_tmp, dir) = facts_dir();
        write(&dir, "a.json", "{not json");
        let b = write(&dir, "b.yaml", "- subtypes: []\n");
        write(&dir, "c.yaml", "42\n");
        write(&dir, "d.yml", "type: ok\nsubtypes: []\n");
        let (measurements, warnings) = ok(FactsCollector::new(dir.clone(), true).collect());
        assert_eq!(measurements.len(), 1);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(
            warnings[0].starts_with(&format!(
                "facts file {} skipped: malformed JSON",
                dir.join("a.json").display()
            )),
            "{warnings:?}"
        );
        assert!(
            warnings[1].contains(&b.display().to_string())
                && warnings[1].contains("measurement 1: missing field `type`"),
            "{warnings:?}"
        );
        assert!(
            warnings[2].contains("expected a measurement"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_type_that_recipe_data_cannot_name_is_refused_naming_the_file() {
        let (_tmp, dir) = facts_dir();
        let slash = write(
            &dir,
            "a.yaml",
            "type: acme/nic\nsubtypes:\n  - subtype: eth0\n    data: {mtu: 9000}\n",
        );
        let space = write(&dir, "b.json", r#"{"type":"acme nic","subtypes":[]}"#);
        write(&dir, "c.yaml", "type: Acme-NIC.v2\nsubtypes: []\n");
        let (measurements, warnings) = ok(FactsCollector::new(dir, true).collect());
        let kinds: Vec<_> = measurements.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, ["Acme-NIC.v2"], "{warnings:?}");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        for (warning, file, kind) in [
            (&warnings[0], &slash, "acme/nic"),
            (&warnings[1], &space, "acme nic"),
        ] {
            assert!(
                warning.contains(&file.display().to_string())
                    && warning
                        .contains(&format!("measurement 1: invalid measurement type {kind:?}")),
                "{warning}"
            );
        }
    }

    #[test]
    fn a_missing_directory_is_not_applicable() {
        let tmp = tempfile::tempdir().unwrap();
        let facts = FactsCollector::new(tmp.path().join("none"), true);
        assert!(!facts.dir_exists());
        assert!(matches!(
            facts.collect(),
            CollectResponse::NotApplicable { reason } if reason.contains("no facts directory")
        ));
    }

    #[test]
    fn fifos_big_files_links_out_and_writable_files_are_skipped() {
        let (tmp, dir) = facts_dir();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("fifo.json"),
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let big = format!(
            "type: big\nsubtypes: []\n#{}\n",
            "x".repeat(MAX_FILE_BYTES as usize)
        );
        write(&dir, "big.yaml", &big);
        let outside = write(tmp.path(), "outside.yaml", "type: secret\nsubtypes: []\n");
        std::os::unix::fs::symlink(&outside, dir.join("link.yaml")).unwrap();
        let inside = write(&dir, "inside.yaml.txt", "type: inside\nsubtypes: []\n");
        std::os::unix::fs::symlink(&inside, dir.join("alias.yaml")).unwrap();
        let open = write(&dir, "open.yaml", "type: open\nsubtypes: []\n");
        chmod(&open, 0o666);

        let (measurements, warnings) = ok(FactsCollector::new(dir.clone(), true).collect());
        let kinds: Vec<_> = measurements.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, ["inside"], "a link within the directory is read");
        let about = |name: &str| {
            warnings
                .iter()
                .find(|w| w.contains(&dir.join(name).display().to_string()))
                .unwrap_or_else(|| panic!("no warning about {name}: {warnings:?}"))
                .clone()
        };
        assert!(about("fifo.json").contains("not a regular file"));
        assert!(about("big.yaml").contains("larger than the limit"));
        assert!(about("link.yaml").contains("outside the facts directory"));
        assert!(about("open.yaml").contains("writable by group and others"));
        assert_eq!(warnings.len(), 4, "{warnings:?}");

        // Without the ownership checks a writable file is read; a link out still is not.
        let (measurements, _) = ok(FactsCollector::new(dir, false).collect());
        assert!(measurements.iter().any(|m| m.kind == "open"));
        assert!(!measurements.iter().any(|m| m.kind == "secret"));
    }
}

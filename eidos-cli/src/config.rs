//! The configuration file: defaults for every command, below flags and environment variables.
//!
//! TOML at the platform config directory (Linux: `~/.config/eidos/config.toml`), or `--config FILE`
//! / `EIDOS_CONFIG`. Precedence: flags > environment > file > built-in defaults. Unknown keys and
//! wrong types are errors naming the file, the line, the key and the expected type.
//!
//! ```toml
//! format = "json"                       # default output format
//! default-collectors = ["os", "systemd"]
//! timeout = "10s"                       # per-collector timeout
//! plugin-dirs = ["/opt/vendor/eidos"]   # searched after --plugin-dir and EIDOS_PLUGIN_PATH
//! plugin-lock = "/etc/eidos/plugins.lock"
//! recipes = "/etc/eidos/recipes"        # recipe data directory
//!
//! [collectors.systemd]                  # per-collector options, as --set systemd.KEY=VALUE
//! units = ["containerd.service", "kubelet.service"]
//!
//! [serve]
//! addr = "0.0.0.0:8080"
//! rate-limit = 100
//! rate-burst = 200
//! request-timeout = "10s"
//! shutdown-timeout = "30s"
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `[serve]` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServeSection {
    /// Listen address.
    pub addr: Option<String>,
    /// Requests per second per client (0 disables rate limiting).
    pub rate_limit: Option<u32>,
    /// Burst size per client.
    pub rate_burst: Option<u32>,
    /// Per-request timeout.
    pub request_timeout: Option<String>,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_timeout: Option<String>,
}

/// A collector option value in the file: a string, number, boolean, or list of strings (joined
/// with commas, as `--set` takes them).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum OptionValue {
    /// Text.
    Text(String),
    /// A whole number.
    Integer(i64),
    /// A boolean.
    Bool(bool),
    /// A list of strings.
    List(Vec<String>),
}

impl OptionValue {
    /// The value as `--set` would carry it.
    pub fn as_setting(&self) -> String {
        match self {
            OptionValue::Text(s) => s.clone(),
            OptionValue::Integer(i) => i.to_string(),
            OptionValue::Bool(b) => b.to_string(),
            OptionValue::List(items) => items.join(","),
        }
    }
}

/// The file's contents.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    /// Default output format.
    pub format: Option<String>,
    /// Collectors run when `--collectors` is not given.
    pub default_collectors: Option<Vec<String>>,
    /// Per-collector timeout, e.g. "5s".
    pub timeout: Option<String>,
    /// Extra plugin directories.
    pub plugin_dirs: Option<Vec<PathBuf>>,
    /// The plugin lock to enforce.
    pub plugin_lock: Option<PathBuf>,
    /// The recipe data directory.
    pub recipes: Option<PathBuf>,
    /// Per-collector options.
    #[serde(default)]
    pub collectors: BTreeMap<String, BTreeMap<String, OptionValue>>,
    /// `eidos serve` settings.
    #[serde(default)]
    pub serve: ServeSection,
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Named explicitly but unreadable.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Malformed, an unknown key, or a wrong type.
    #[error("config file {path}{location}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// `:LINE` where known.
        location: String,
        /// What is wrong.
        message: String,
    },
}

/// Where a configuration value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag.
    Flag,
    /// An environment variable.
    Env(&'static str),
    /// The configuration file.
    File(PathBuf),
    /// The built-in default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag => f.write_str("flag"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Default => f.write_str("default"),
        }
    }
}

/// The loaded configuration: the file's contents and where it was found.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file's contents (empty when there is no file).
    pub file: ConfigFile,
    /// The file, if one was read.
    pub path: Option<PathBuf>,
}

/// The default config file location for this platform.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "eidos").map(|d| d.config_dir().join("config.toml"))
}

impl Config {
    /// Loads the configuration: `explicit` (from `--config` or `EIDOS_CONFIG`) must exist; the
    /// default location is used only if a file is there.
    pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match explicit {
            Some(p) => p.to_owned(),
            None => match default_path() {
                Some(p) if p.is_file() => p,
                _ => return Ok(Config::default()),
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        let file = parse(&text, &path)?;
        Ok(Config {
            file,
            path: Some(path),
        })
    }

    /// The source to report for a value that came from the file.
    pub fn file_source(&self) -> Source {
        self.path.clone().map_or(Source::Default, Source::File)
    }

    /// The per-collector timeout from the file, validated.
    pub fn timeout(&self) -> Result<Option<Duration>, ConfigError> {
        self.file
            .timeout
            .as_deref()
            .map(|t| self.duration("timeout", t))
            .transpose()
    }

    /// Parses a duration value of `key`, naming the file and key on error.
    pub fn duration(&self, key: &str, text: &str) -> Result<Duration, ConfigError> {
        crate::cli::parse_duration(text).map_err(|e| ConfigError::Invalid {
            path: self.path.clone().unwrap_or_default(),
            location: String::new(),
            message: format!(
                "key `{key}`: expected a duration such as 5s or 500ms, got {text:?}: {e}"
            ),
        })
    }
}

/// Parses the file's text, turning TOML errors into one line naming the file, line and key.
pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let (location, snippet) = match e.span() {
            Some(span) => {
                let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
                let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
                (format!(":{line_no}"), format!(" (at `{line}`)"))
            }
            None => (String::new(), String::new()),
        };
        ConfigError::Invalid {
            path: path.to_owned(),
            location,
            message: format!("{}{snippet}", e.message().trim()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> ConfigFile {
        parse(text, Path::new("/etc/eidos/config.toml")).unwrap()
    }

    fn parse_err(text: &str) -> String {
        parse(text, Path::new("/etc/eidos/config.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn every_documented_key_parses() {
        let file = parse_ok(
            r#"
format = "json"
default-collectors = ["os", "systemd"]
timeout = "10s"
plugin-dirs = ["/opt/vendor/eidos"]
plugin-lock = "/etc/eidos/plugins.lock"
recipes = "/etc/eidos/recipes"
[collectors.systemd]
units = ["containerd.service", "kubelet.service"]
bus = "session"
[collectors.gpu]
serials = true
[serve]
addr = "0.0.0.0:8080"
rate-limit = 100
rate-burst = 200
request-timeout = "10s"
shutdown-timeout = "30s"
"#,
        );
        assert_eq!(file.format.as_deref(), Some("json"));
        assert_eq!(
            file.collectors["systemd"]["units"].as_setting(),
            "containerd.service,kubelet.service"
        );
        assert_eq!(file.collectors["gpu"]["serials"].as_setting(), "true");
        assert_eq!(file.serve.rate_limit, Some(100));
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_file_line_key_and_expected_type() {
        let err = parse_err("format = \"json\"\nformt = \"yaml\"\n");
        assert!(
            err.starts_with("config file /etc/eidos/config.toml:2: unknown field `formt`"),
            "{err}"
        );
        assert!(err.contains("expected one of"), "{err}");

        let err = parse_err("timeout = 5\n");
        assert!(
            err.contains(":1:") && err.contains("invalid type: integer `5`, expected a string"),
            "{err}"
        );
        assert!(err.contains("timeout = 5"), "{err}");

        let err = parse_err("[serve]\nrate-limit = \"fast\"\n");
        assert!(err.contains(":2:") && err.contains("expected u32"), "{err}");

        let err = parse_err("[serve]\nport = 1\n");
        assert!(err.contains("unknown field `port`"), "{err}");

        let config = Config {
            file: parse_ok("timeout = \"soon\"\n"),
            path: Some("/c.toml".into()),
        };
        let err = config.timeout().unwrap_err().to_string();
        assert!(
            err.contains("/c.toml") && err.contains("key `timeout`"),
            "{err}"
        );
    }

    #[test]
    fn an_explicit_missing_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/eidos.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot read config file /nonexistent/eidos.toml"),
            "{err}"
        );
    }
}

//! The configuration file: its location, its reading, and its parsing into [`ConfigFile`].
//!
//! TOML at the platform config directory (Linux: `~/.config/eidos/config.toml`), or `--config FILE`
//! / `EIDOS_CONFIG`. Its values sit below flags and environment variables; the one place that
//! layers them is [`crate::settings`]. Unknown keys and wrong types are errors naming the file, the
//! line, the key and the expected type. Every value keeps its position, so that a value that parses
//! but is wrong (a duration such as `"soon"`) is reported with its line too.
//!
//! ```toml
//! format = "json"                       # output format when neither --format nor -o's extension says
//! default-collectors = ["os", "systemd"]
//! require = ["gpu"]                     # these collectors must succeed, even with --best-effort
//! timeout = "10s"                       # per-collector timeout
//! plugin-dirs = ["/opt/vendor/eidos"]   # searched after --plugin-dir and EIDOS_PLUGIN_PATH
//! plugin-lock = "/etc/eidos/plugins.lock"
//! recipes = "/etc/eidos/recipes"        # recipe data directory (replaces the built-in data)
//! overlays = ["/etc/eidos/overlays.d/acme"]  # overlay layers on top of the recipe data
//! host-root = "/host"                   # where the node's filesystem is mounted
//! facts-dir = "/etc/eidos/facts.d"      # static facts read by the built-in facts collector
//!
//! [timeouts]                            # per-collector timeouts, beside the global one
//! k8s = "60s"
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
//! body-limit = 1048576
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The `[serve]` section.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServeSection {
    /// Listen address.
    pub addr: Option<Spanned<String>>,
    /// Requests per second per client (0 disables rate limiting).
    pub rate_limit: Option<Spanned<f64>>,
    /// Burst size per client.
    pub rate_burst: Option<Spanned<u32>>,
    /// Per-request timeout.
    pub request_timeout: Option<Spanned<String>>,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_timeout: Option<Spanned<String>>,
    /// Largest accepted request body, in bytes.
    pub body_limit: Option<Spanned<u64>>,
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

/// The file's contents, each value with its position in the text.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    /// Default output format.
    pub format: Option<Spanned<String>>,
    /// Collectors run when `--collectors` is not given.
    pub default_collectors: Option<Spanned<Vec<String>>>,
    /// Collectors that must succeed.
    pub require: Option<Spanned<Vec<String>>>,
    /// Per-collector timeout, e.g. "5s".
    pub timeout: Option<Spanned<String>>,
    /// Timeouts for named collectors, beside the global one.
    #[serde(default)]
    pub timeouts: BTreeMap<String, Spanned<String>>,
    /// Extra plugin directories.
    pub plugin_dirs: Option<Spanned<Vec<PathBuf>>>,
    /// The plugin lock to enforce.
    pub plugin_lock: Option<Spanned<PathBuf>>,
    /// The recipe data directory.
    pub recipes: Option<Spanned<PathBuf>>,
    /// Overlay layers on top of the recipe data, in order.
    pub overlays: Option<Spanned<Vec<PathBuf>>>,
    /// The host root passed to collectors.
    pub host_root: Option<Spanned<PathBuf>>,
    /// The static facts directory (the built-in `facts` collector).
    pub facts_dir: Option<Spanned<PathBuf>>,
    /// Per-collector options.
    #[serde(default)]
    pub collectors: BTreeMap<String, BTreeMap<String, Spanned<OptionValue>>>,
    /// `eidos serve` settings.
    #[serde(default)]
    pub serve: ServeSection,
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Named explicitly but unreadable, not UTF-8, or larger than
    /// [`CONFIG_MAX_BYTES`](crate::input::CONFIG_MAX_BYTES).
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
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

/// A configuration file that was read: its path, its contents, and where its lines start.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file's contents (empty when there is no file).
    pub file: ConfigFile,
    /// The file, if one was read.
    pub path: Option<PathBuf>,
    /// Byte offset of each line's start, for turning positions into line numbers.
    line_starts: Vec<usize>,
}

/// The default config file location for this platform.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "eidos").map(|d| d.config_dir().join("config.toml"))
}

/// Reads the config file's text. Every read of a config file goes through here.
pub fn read_text(path: &Path) -> Result<String, ConfigError> {
    Ok(crate::input::read_capped_text(
        path,
        crate::input::CONFIG_MAX_BYTES,
        "config file",
    )?)
}

impl Config {
    /// Reads and parses the file at `path`; `None` is the empty configuration.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        match path {
            None => Ok(Config::default()),
            Some(path) => Config::from_text(&read_text(path)?, path),
        }
    }

    /// Parses `text` as the file at `path`.
    pub fn from_text(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let file = parse(text, path)?;
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Ok(Config {
            file,
            path: Some(path.to_owned()),
            line_starts,
        })
    }

    /// The 1-based line of a byte position in the file.
    pub fn line(&self, span: &Range<usize>) -> usize {
        self.line_starts
            .partition_point(|&start| start <= span.start)
    }
}

/// The longest excerpt of a line an error message quotes.
pub const MAX_EXCERPT: usize = 80;

/// A short excerpt of `line` around byte `column`: at most [`MAX_EXCERPT`] characters, with `…`
/// where it was cut, so that an error about a huge line stays one readable line.
pub fn excerpt(line: &str, column: usize) -> String {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    if chars.len() <= MAX_EXCERPT {
        return line.trim().to_owned();
    }
    let at = chars.partition_point(|&(i, _)| i < column);
    let start = at.saturating_sub(MAX_EXCERPT / 2);
    let end = (start + MAX_EXCERPT).min(chars.len());
    let start = end.saturating_sub(MAX_EXCERPT);
    let text: String = chars[start..end].iter().map(|&(_, c)| c).collect();
    format!(
        "{}{}{}",
        if start > 0 { "…" } else { "" },
        text,
        if end < chars.len() { "…" } else { "" }
    )
}

/// The line number and a capped excerpt of the line at byte `offset` of `text`.
pub fn locate(text: &str, offset: usize) -> (usize, String) {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line_no = text[..line_start].matches('\n').count() + 1;
    (
        line_no,
        excerpt(&text[line_start..line_end], offset - line_start),
    )
}

/// Parses the file's text, turning TOML errors into one line naming the file, line and key, with
/// a capped excerpt of the offending line.
pub fn parse(text: &str, path: &Path) -> Result<ConfigFile, ConfigError> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let (location, snippet) = match e.span() {
            Some(span) => {
                let (line_no, line) = locate(text, span.start);
                (format!(":{line_no}"), format!(" (at `{line}`)"))
            }
            None => (String::new(), String::new()),
        };
        let message = e.message().trim();
        // toml's messages are short, but one that quotes the input could be long.
        let message = if message.chars().count() > 4 * MAX_EXCERPT {
            excerpt(message, 0)
        } else {
            message.to_owned()
        };
        ConfigError::Invalid {
            path: path.to_owned(),
            location,
            message: format!("{message}{snippet}"),
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
require = ["gpu"]
timeout = "10s"
plugin-dirs = ["/opt/vendor/eidos"]
plugin-lock = "/etc/eidos/plugins.lock"
recipes = "/etc/eidos/recipes"
overlays = ["/etc/eidos/overlays.d/acme"]
host-root = "/host"
[timeouts]
k8s = "60s"
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
body-limit = 1048576
"#,
        );
        assert_eq!(
            file.format.as_ref().map(|f| f.get_ref().as_str()),
            Some("json")
        );
        assert_eq!(
            file.collectors["systemd"]["units"].get_ref().as_setting(),
            "containerd.service,kubelet.service"
        );
        assert_eq!(
            file.collectors["gpu"]["serials"].get_ref().as_setting(),
            "true"
        );
        assert_eq!(file.serve.rate_limit.map(|r| *r.get_ref()), Some(100.0));
        assert_eq!(file.timeouts["k8s"].get_ref(), "60s");
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

        let err = parse_err("[serve]\nrate-burst = \"fast\"\n");
        assert!(err.contains(":2:") && err.contains("expected u32"), "{err}");

        let err = parse_err("[serve]\nport = 1\n");
        assert!(err.contains("unknown field `port`"), "{err}");
    }

    #[test]
    fn an_error_on_a_huge_line_quotes_a_short_excerpt_around_the_error() {
        let huge = format!("format = \"{}\" x\n", "a".repeat(200_000));
        let err = parse_err(&huge);
        assert!(
            err.len() < 400,
            "{} bytes: {}",
            err.len(),
            &err[..400.min(err.len())]
        );
        assert!(err.contains(":1:") && err.contains('…'), "{err}");
        // The excerpt is taken around the error, so it shows what is wrong.
        assert!(err.contains("\" x"), "{err}");
    }

    #[test]
    fn excerpts_keep_short_lines_and_cut_long_ones_on_character_boundaries() {
        assert_eq!(excerpt("  a = 1  ", 3), "a = 1");
        let long = "é".repeat(500);
        let cut = excerpt(&long, 400);
        assert_eq!(cut.chars().filter(|&c| c == 'é').count(), MAX_EXCERPT);
        assert!(cut.starts_with('…') && cut.ends_with('…'));
        assert_eq!(locate("a\nbb\nccc", 3), (2, "bb".to_owned()));
        assert_eq!(locate("a\nbb\n", 99), (3, String::new()));
    }

    #[test]
    fn positions_turn_into_line_numbers() {
        let config = Config::from_text(
            "format = \"json\"\n\n[serve]\naddr = \"x\"\n",
            Path::new("/c.toml"),
        )
        .unwrap();
        let format = config.file.format.as_ref().unwrap();
        assert_eq!(config.line(&format.span()), 1);
        let addr = config.file.serve.addr.as_ref().unwrap();
        assert_eq!(config.line(&addr.span()), 4);
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

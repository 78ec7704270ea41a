//! Every setting, resolved once: flags > environment > config file > built-in defaults.
//!
//! The command line is parsed into plain [`Flags`] (what was typed, nothing more); [`Settings::resolve`]
//! layers them over the environment and the config file into one [`Settings`] value, each value
//! with the [`Source`] it came from. Every command and `eidos config show` read that value, so what
//! `config show` prints is what the commands do. A value that cannot be used is an error naming
//! where it came from: the flag, the variable, or the file and line.
//!
//! Environment variables are read here, not by clap, so that an error can name the variable.

use crate::config::{self, Config, ConfigError};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// The default per-collector timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The format written when nothing says otherwise.
pub const DEFAULT_FORMAT: &str = "yaml";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag (its name, e.g. `--timeout`).
    Flag(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// The configuration file, at a line.
    File {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
    },
    /// The extension of `--output FILE`.
    OutputExtension,
    /// The built-in default.
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::File { path, line } => write!(f, "file {}:{line}", path.display()),
            Source::OutputExtension => f.write_str("--output extension"),
            Source::Default => f.write_str("default"),
        }
    }
}

impl Source {
    /// How an error names the place a value of `key` came from.
    fn naming(&self, key: &str) -> String {
        match self {
            Source::Flag(flag) => (*flag).to_owned(),
            Source::Env(var) => (*var).to_owned(),
            Source::File { path, line } => {
                format!("config file {}:{line}: key `{key}`", path.display())
            }
            Source::OutputExtension => "the --output file's extension".to_owned(),
            Source::Default => format!("the default {key}"),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub source: Source,
}

impl<T> Setting<T> {
    /// A value from `source`.
    pub fn new(value: T, source: Source) -> Self {
        Setting { value, source }
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config file could not be read or parsed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A value that does not parse or is out of range.
    #[error("{origin}: invalid value {value:?}: {expected}")]
    Invalid {
        /// The flag, variable, or file, line and key.
        origin: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: String,
    },
}

fn invalid(source: &Source, key: &str, value: &str, expected: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        origin: source.naming(key),
        // A value can be huge (a 200 KB line); the message quotes its start only.
        value: config::excerpt(value, 0),
        expected: expected.into(),
    }
}

/// One `--timeout` item: `D` for every collector, or `NAME=D` for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutItem {
    /// The collector, or `None` for the global timeout.
    pub collector: Option<String>,
    /// The time it gets.
    pub duration: Duration,
}

/// Parses a duration such as `500ms`, `5s` or `1m`; zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (expected a duration such as 500ms, 5s, 1m)"))?;
    if d.is_zero() {
        return Err("a duration must be more than zero".to_owned());
    }
    Ok(d)
}

/// Parses one timeout item: `5s` or `k8s=60s`.
pub fn parse_timeout_item(text: &str) -> Result<TimeoutItem, String> {
    match text.split_once('=') {
        None => Ok(TimeoutItem {
            collector: None,
            duration: parse_duration(text)?,
        }),
        Some((name, d)) => {
            let name = name.trim();
            if name.is_empty() {
                return Err("expected D or NAME=D, e.g. 5s or k8s=60s".to_owned());
            }
            Ok(TimeoutItem {
                collector: Some(name.to_owned()),
                duration: parse_duration(d).map_err(|e| format!("{name}: {e}"))?,
            })
        }
    }
}

/// The `eidos serve` flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServeFlags {
    /// `--addr`.
    pub addr: Option<SocketAddr>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--rate-limit`.
    pub rate_limit: Option<f64>,
    /// `--rate-burst`.
    pub rate_burst: Option<u32>,
    /// `--request-timeout`.
    pub request_timeout: Option<Duration>,
    /// `--shutdown-timeout`.
    pub shutdown_timeout: Option<Duration>,
    /// `--body-limit`.
    pub body_limit: Option<usize>,
}

/// What was typed on the command line, before any layering. Fields a command does not have stay
/// empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--plugin-dir`, in order.
    pub plugin_dirs: Vec<PathBuf>,
    /// `--no-default-plugin-dirs`.
    pub no_default_plugin_dirs: bool,
    /// `--plugin-lock`.
    pub plugin_lock: Option<PathBuf>,
    /// `--allow-insecure-plugins`.
    pub allow_insecure_plugins: bool,
    /// `--format`.
    pub format: Option<String>,
    /// `--collectors`.
    pub collectors: Option<Vec<String>>,
    /// `--require`.
    pub require: Option<Vec<String>>,
    /// `--timeout` items, in order (a later item for the same target wins).
    pub timeout: Vec<TimeoutItem>,
    /// `--recipes`.
    pub recipes: Option<PathBuf>,
    /// `--overlays`, in order.
    pub overlays: Vec<PathBuf>,
    /// `--facts-dir`.
    pub facts_dir: Option<PathBuf>,
    /// `eidos serve`'s flags.
    pub serve: ServeFlags,
}

/// Timeouts from one layer (flags, environment or file): a global one and per-collector ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeoutLayer {
    /// The layer's timeout for every collector.
    pub global: Option<Setting<Duration>>,
    /// The layer's timeouts for named collectors.
    pub per_collector: BTreeMap<String, Setting<Duration>>,
}

/// The timeouts of every layer, highest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeouts {
    layers: Vec<TimeoutLayer>,
}

impl Timeouts {
    /// The timeout for collectors without their own.
    pub fn global(&self) -> Setting<Duration> {
        self.layers
            .iter()
            .find_map(|l| l.global.clone())
            .unwrap_or_else(|| Setting::new(DEFAULT_TIMEOUT, Source::Default))
    }

    /// The timeout for `collector`: the highest layer that sets one for it or for every collector
    /// wins; within a layer the collector's own value beats the global one.
    pub fn for_collector(&self, collector: &str) -> Setting<Duration> {
        self.layers
            .iter()
            .find_map(|l| {
                l.per_collector
                    .get(collector)
                    .or(l.global.as_ref())
                    .cloned()
            })
            .unwrap_or_else(|| Setting::new(DEFAULT_TIMEOUT, Source::Default))
    }

    /// Every collector named in some layer.
    pub fn named(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .layers
            .iter()
            .flat_map(|l| l.per_collector.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// `eidos serve`'s settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeSettings {
    /// Listen address.
    pub addr: Setting<SocketAddr>,
    /// Requests per second per client; 0 disables rate limiting.
    pub rate_limit: Setting<f64>,
    /// Burst per client.
    pub rate_burst: Setting<u32>,
    /// Per-request time limit.
    pub request_timeout: Setting<Duration>,
    /// Drain time on shutdown.
    pub shutdown_timeout: Setting<Duration>,
    /// Largest request body.
    pub body_limit: Setting<usize>,
}

/// Every setting, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The config file read (`None`: none was read; the source says why).
    pub config: Setting<Option<PathBuf>>,
    /// The output format when one is set by flag, variable or file.
    pub format: Option<Setting<String>>,
    /// The collectors to run (empty: every collector that is not opt-in).
    pub collectors: Setting<Vec<String>>,
    /// Collectors that must succeed.
    pub require: Setting<Vec<String>>,
    /// Collector timeouts.
    pub timeouts: Timeouts,
    /// Plugin directories from flags, `EIDOS_PLUGIN_PATH` and the file, in search order.
    pub plugin_dirs: Vec<Setting<PathBuf>>,
    /// Search only the directories above.
    pub no_default_plugin_dirs: Setting<bool>,
    /// The plugin lock in force.
    pub plugin_lock: Option<Setting<PathBuf>>,
    /// Skip the plugin ownership and permission checks (flag only).
    pub allow_insecure_plugins: bool,
    /// The recipe data directory (`None`: the built-in data).
    pub recipes: Option<Setting<PathBuf>>,
    /// Overlay layers on top of the recipe data, in the order they apply: the config file's,
    /// then `EIDOS_OVERLAYS`', then `--overlays` (a later layer wins a tie, so a flag beats the
    /// environment, which beats the file).
    pub overlays: Vec<Setting<PathBuf>>,
    /// The host root passed to collectors.
    pub host_root: Setting<PathBuf>,
    /// The directory the built-in `facts` collector reads.
    pub facts_dir: Setting<PathBuf>,
    /// Collector options from the file's `[collectors.NAME]` tables.
    pub collector_options: BTreeMap<String, BTreeMap<String, Setting<String>>>,
    /// `eidos serve`'s settings.
    pub serve: ServeSettings,
}

/// Looks up an environment variable.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<OsString>;

/// The process environment.
pub fn process_env(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// Reads environment variables, refusing values that are not UTF-8 by name.
struct Env<'a>(EnvLookup<'a>);

impl Env<'_> {
    fn get(&self, var: &'static str) -> Result<Option<Setting<String>>, SettingsError> {
        match (self.0)(var) {
            None => Ok(None),
            Some(v) => match v.into_string() {
                Ok(s) => Ok(Some(Setting::new(s, Source::Env(var)))),
                Err(raw) => Err(invalid(
                    &Source::Env(var),
                    var,
                    &raw.to_string_lossy(),
                    "not valid UTF-8",
                )),
            },
        }
    }

    /// A variable parsed with `parse`, its error naming the variable.
    fn parsed<T>(
        &self,
        var: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<Setting<T>>, SettingsError> {
        match self.get(var)? {
            None => Ok(None),
            Some(s) => parse(&s.value)
                .map(|v| Some(Setting::new(v, s.source.clone())))
                .map_err(|e| invalid(&s.source, var, &s.value, e)),
        }
    }
}

/// A comma-separated list, trimmed, empty items dropped.
fn list(text: &str) -> Result<Vec<String>, String> {
    Ok(text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect())
}

fn boolish(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" => Ok(true),
        "" | "0" | "false" | "no" | "off" | "n" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    text.trim()
        .parse()
        .map_err(|e| format!("{e} (expected HOST:PORT, e.g. 127.0.0.1:8080 or [::]:8080)"))
}

fn parse_rate_limit(value: f64) -> Result<f64, String> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err("expected requests per second >= 0 (0 disables rate limiting)".to_owned())
    }
}

fn parse_number<T: std::str::FromStr>(text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.trim().parse().map_err(|e: T::Err| e.to_string())
}

/// The first of a flag, a variable, a file value and a default.
fn first<T>(
    flag: Option<Setting<T>>,
    env: Option<Setting<T>>,
    file: Option<Setting<T>>,
) -> Option<Setting<T>> {
    flag.or(env).or(file)
}

fn flag<T>(value: Option<T>, name: &'static str) -> Option<Setting<T>> {
    value.map(|v| Setting::new(v, Source::Flag(name)))
}

/// Values of the config file, with their sources.
struct File<'a> {
    config: &'a Config,
}

impl File<'_> {
    fn source(&self, span: Range<usize>) -> Source {
        Source::File {
            path: self.config.path.clone().unwrap_or_default(),
            line: self.config.line(&span),
        }
    }

    fn value<T: Clone>(&self, value: &Option<Spanned<T>>) -> Option<Setting<T>> {
        value
            .as_ref()
            .map(|v| Setting::new(v.get_ref().clone(), self.source(v.span())))
    }

    /// A value parsed with `parse`, its error naming the file, line and key.
    fn parsed<T, U>(
        &self,
        key: &str,
        value: &Option<Spanned<T>>,
        parse: impl Fn(&T) -> Result<U, String>,
    ) -> Result<Option<Setting<U>>, SettingsError>
    where
        T: std::fmt::Display,
    {
        let Some(v) = value else { return Ok(None) };
        let source = self.source(v.span());
        parse(v.get_ref())
            .map(|u| Some(Setting::new(u, source.clone())))
            .map_err(|e| invalid(&source, key, &v.get_ref().to_string(), e))
    }
}

impl Settings {
    /// Resolves every setting for this process: reads the config file (the one `--config` or
    /// `EIDOS_CONFIG` names, else the default location when a file is there) and layers it under
    /// the environment and `flags`.
    pub fn load(flags: &Flags) -> Result<Settings, SettingsError> {
        Settings::load_with(flags, &process_env, config::default_path().as_deref())
    }

    /// [`Settings::load`] with the environment and the default config path given.
    pub fn load_with(
        flags: &Flags,
        env: EnvLookup<'_>,
        default_config: Option<&Path>,
    ) -> Result<Settings, SettingsError> {
        let location = config_location(flags, env, default_config)?;
        let config = Config::load(location.value.as_deref())?;
        Settings::resolve(flags, env, &config, location)
    }

    /// Layers `flags`, the environment and `config` (read from `location`).
    pub fn resolve(
        flags: &Flags,
        env: EnvLookup<'_>,
        config: &Config,
        location: Setting<Option<PathBuf>>,
    ) -> Result<Settings, SettingsError> {
        let env = Env(env);
        let file = File { config };
        let f = &config.file;

        let format = first(
            flag(flags.format.clone(), "--format"),
            env.get("EIDOS_FORMAT")?,
            file.value(&f.format),
        );
        let collectors = first(
            flag(flags.collectors.clone(), "--collectors"),
            env.parsed("EIDOS_COLLECTORS", list)?,
            file.value(&f.default_collectors),
        )
        .unwrap_or_else(|| Setting::new(Vec::new(), Source::Default));
        let require = first(
            flag(flags.require.clone(), "--require"),
            env.parsed("EIDOS_REQUIRE", list)?,
            file.value(&f.require),
        )
        .unwrap_or_else(|| Setting::new(Vec::new(), Source::Default));
        let timeouts = Timeouts {
            layers: vec![
                timeout_layer(
                    flags
                        .timeout
                        .iter()
                        .map(|t| (t.clone(), Source::Flag("--timeout"))),
                ),
                match env.get("EIDOS_TIMEOUT")? {
                    None => TimeoutLayer::default(),
                    Some(s) => {
                        let items = s
                            .value
                            .split(',')
                            .map(|item| {
                                parse_timeout_item(item)
                                    .map(|t| (t, s.source.clone()))
                                    .map_err(|e| invalid(&s.source, "timeout", &s.value, e))
                            })
                            .collect::<Result<Vec<_>, _>>()?;
                        timeout_layer(items)
                    }
                },
                file_timeouts(&file)?,
            ],
        };

        let mut plugin_dirs: Vec<Setting<PathBuf>> = flags
            .plugin_dirs
            .iter()
            .map(|d| Setting::new(d.clone(), Source::Flag("--plugin-dir")))
            .collect();
        if let Some(path) = env.get("EIDOS_PLUGIN_PATH")? {
            plugin_dirs.extend(
                path.value
                    .split(':')
                    .filter(|d| !d.is_empty())
                    .map(|d| Setting::new(PathBuf::from(d), path.source.clone())),
            );
        }
        if let Some(dirs) = file.value(&f.plugin_dirs) {
            plugin_dirs.extend(
                dirs.value
                    .into_iter()
                    .map(|d| Setting::new(d, dirs.source.clone())),
            );
        }
        let no_default_plugin_dirs = first(
            flag(
                flags.no_default_plugin_dirs.then_some(true),
                "--no-default-plugin-dirs",
            ),
            env.parsed("EIDOS_NO_DEFAULT_PLUGIN_DIRS", boolish)?,
            None,
        )
        .unwrap_or_else(|| Setting::new(false, Source::Default));
        let plugin_lock = first(
            flag(flags.plugin_lock.clone(), "--plugin-lock"),
            env.get("EIDOS_PLUGIN_LOCK")?
                .map(|s| Setting::new(PathBuf::from(s.value), s.source)),
            file.value(&f.plugin_lock),
        );
        let recipes = first(
            flag(flags.recipes.clone(), "--recipes"),
            env.get("EIDOS_RECIPES")?
                .map(|s| Setting::new(PathBuf::from(s.value), s.source)),
            file.value(&f.recipes),
        );
        let mut overlays: Vec<Setting<PathBuf>> = Vec::new();
        if let Some(dirs) = file.value(&f.overlays) {
            overlays.extend(
                dirs.value
                    .into_iter()
                    .map(|d| Setting::new(d, dirs.source.clone())),
            );
        }
        if let Some(path) = env.get("EIDOS_OVERLAYS")? {
            overlays.extend(
                path.value
                    .split(':')
                    .filter(|d| !d.is_empty())
                    .map(|d| Setting::new(PathBuf::from(d), path.source.clone())),
            );
        }
        overlays.extend(
            flags
                .overlays
                .iter()
                .map(|d| Setting::new(d.clone(), Source::Flag("--overlays"))),
        );
        let host_root = first(
            None,
            env.get("EIDOS_HOST_ROOT")?
                .map(|s| Setting::new(PathBuf::from(s.value), s.source)),
            file.value(&f.host_root),
        )
        .unwrap_or_else(|| Setting::new(PathBuf::from("/"), Source::Default));
        let facts_dir = first(
            flag(flags.facts_dir.clone(), "--facts-dir"),
            env.get("EIDOS_FACTS_DIR")?
                .map(|s| Setting::new(PathBuf::from(s.value), s.source)),
            file.value(&f.facts_dir),
        )
        .unwrap_or_else(|| {
            Setting::new(
                PathBuf::from(crate::host::facts::DEFAULT_DIR),
                Source::Default,
            )
        });
        let collector_options = f
            .collectors
            .iter()
            .map(|(collector, table)| {
                let options = table
                    .iter()
                    .map(|(key, value)| {
                        (
                            key.clone(),
                            Setting::new(value.get_ref().as_setting(), file.source(value.span())),
                        )
                    })
                    .collect();
                (collector.clone(), options)
            })
            .collect();

        Ok(Settings {
            config: location,
            format,
            collectors,
            require,
            timeouts,
            plugin_dirs,
            no_default_plugin_dirs,
            plugin_lock,
            allow_insecure_plugins: flags.allow_insecure_plugins,
            recipes,
            overlays,
            host_root,
            facts_dir,
            collector_options,
            serve: serve_settings(&flags.serve, &env, &file)?,
        })
    }

    /// The format to write to `output`: an explicit `--format` or `EIDOS_FORMAT` first; else the
    /// output file's extension when it names a format (`.json`, `.yaml`, `.yml`), since the file
    /// named on this command line is more specific than the config file; else the config file's
    /// `format`; else YAML.
    pub fn output_format(&self, output: Option<&Path>) -> Setting<String> {
        if let Some(format) = &self.format {
            if !matches!(format.source, Source::File { .. }) {
                return format.clone();
            }
        }
        if let Some(ext) = output.and_then(format_of_extension) {
            return Setting::new(ext.to_owned(), Source::OutputExtension);
        }
        self.format
            .clone()
            .unwrap_or_else(|| Setting::new(DEFAULT_FORMAT.to_owned(), Source::Default))
    }

    /// The host root, checked to be a directory; the error names where it came from.
    pub fn checked_host_root(&self) -> Result<&Path, SettingsError> {
        let root = &self.host_root;
        if root.value.is_dir() {
            Ok(&root.value)
        } else {
            Err(invalid(
                &root.source,
                "host-root",
                &root.value.display().to_string(),
                "expected an existing directory (the node's root filesystem)",
            ))
        }
    }
}

/// The format an output file's extension names, if any.
pub fn format_of_extension(output: &Path) -> Option<&'static str> {
    let ext = output.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "json" => Some("json"),
        "yaml" | "yml" => Some("yaml"),
        _ => None,
    }
}

/// Where the config file is: `--config`, else `EIDOS_CONFIG` (both must exist), else the default
/// location when a file is there.
fn config_location(
    flags: &Flags,
    env: EnvLookup<'_>,
    default_config: Option<&Path>,
) -> Result<Setting<Option<PathBuf>>, SettingsError> {
    if let Some(path) = &flags.config {
        return Ok(Setting::new(Some(path.clone()), Source::Flag("--config")));
    }
    if let Some(s) = Env(env).get("EIDOS_CONFIG")? {
        return Ok(Setting::new(Some(PathBuf::from(s.value)), s.source));
    }
    Ok(Setting::new(
        default_config
            .filter(|p| p.is_file())
            .map(Path::to_path_buf),
        Source::Default,
    ))
}

fn timeout_layer(items: impl IntoIterator<Item = (TimeoutItem, Source)>) -> TimeoutLayer {
    let mut layer = TimeoutLayer::default();
    for (item, source) in items {
        let setting = Setting::new(item.duration, source);
        match item.collector {
            None => layer.global = Some(setting),
            Some(name) => {
                layer.per_collector.insert(name, setting);
            }
        }
    }
    layer
}

fn file_timeouts(file: &File<'_>) -> Result<TimeoutLayer, SettingsError> {
    let f = &file.config.file;
    let global = file.parsed("timeout", &f.timeout, |t: &String| parse_duration(t))?;
    let mut per_collector = BTreeMap::new();
    for (name, value) in &f.timeouts {
        let key = format!("timeouts.{name}");
        if let Some(s) = file.parsed(&key, &Some(value.clone()), |t: &String| parse_duration(t))? {
            per_collector.insert(name.clone(), s);
        }
    }
    Ok(TimeoutLayer {
        global,
        per_collector,
    })
}

fn serve_settings(
    flags: &ServeFlags,
    env: &Env<'_>,
    file: &File<'_>,
) -> Result<ServeSettings, SettingsError> {
    let s = &file.config.file.serve;
    let defaults = eidos_server::ServerConfig::default();
    // --addr, then --port (all interfaces), then the same two variables, then the file.
    let port_addr = |port: u16| SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let addr = flag(flags.addr, "--addr")
        .or_else(|| flag(flags.port.map(port_addr), "--port"))
        .map(Ok)
        .or_else(|| env.parsed("EIDOS_ADDR", parse_addr).transpose())
        .or_else(|| {
            env.parsed("PORT", parse_number::<u16>)
                .map(|p| p.map(|p| Setting::new(port_addr(p.value), p.source)))
                .transpose()
        })
        .transpose()?;
    let addr = match addr {
        Some(a) => a,
        None => file
            .parsed("serve.addr", &s.addr, |t: &String| parse_addr(t))?
            .unwrap_or_else(|| Setting::new(defaults.addr, Source::Default)),
    };
    let rate_limit = match flag(flags.rate_limit, "--rate-limit") {
        Some(r) => Some(r),
        None => env.parsed("EIDOS_RATE_LIMIT", |t| {
            parse_number::<f64>(t).and_then(parse_rate_limit)
        })?,
    };
    let rate_limit = match rate_limit {
        Some(r) => r,
        None => file
            .parsed("serve.rate-limit", &s.rate_limit, |v: &f64| {
                parse_rate_limit(*v)
            })?
            .unwrap_or_else(|| Setting::new(defaults.rate_limit, Source::Default)),
    };
    let rate_burst = first(
        flag(flags.rate_burst, "--rate-burst"),
        env.parsed("EIDOS_RATE_BURST", parse_number::<u32>)?,
        file.value(&s.rate_burst),
    )
    .unwrap_or_else(|| Setting::new(defaults.rate_burst, Source::Default));
    let duration = |flag_value: Option<Duration>,
                    flag_name: &'static str,
                    var: &'static str,
                    key: &str,
                    value: &Option<Spanned<String>>,
                    default: Duration|
     -> Result<Setting<Duration>, SettingsError> {
        Ok(first(
            flag(flag_value, flag_name),
            env.parsed(var, parse_duration)?,
            file.parsed(key, value, |t: &String| parse_duration(t))?,
        )
        .unwrap_or_else(|| Setting::new(default, Source::Default)))
    };
    let request_timeout = duration(
        flags.request_timeout,
        "--request-timeout",
        "EIDOS_REQUEST_TIMEOUT",
        "serve.request-timeout",
        &s.request_timeout,
        defaults.request_timeout,
    )?;
    let shutdown_timeout = duration(
        flags.shutdown_timeout,
        "--shutdown-timeout",
        "EIDOS_SHUTDOWN_TIMEOUT",
        "serve.shutdown-timeout",
        &s.shutdown_timeout,
        defaults.shutdown_timeout,
    )?;
    let positive_size = |n: u64| -> Result<usize, String> {
        match usize::try_from(n) {
            Ok(0) | Err(_) => Err("expected a number of bytes above zero".to_owned()),
            Ok(n) => Ok(n),
        }
    };
    let body_limit = first(
        flag(flags.body_limit, "--body-limit"),
        env.parsed("EIDOS_BODY_LIMIT", |t| {
            parse_number::<u64>(t).and_then(positive_size)
        })?,
        file.parsed("serve.body-limit", &s.body_limit, |n: &u64| {
            positive_size(*n)
        })?,
    )
    .unwrap_or_else(|| Setting::new(defaults.body_limit, Source::Default));
    Ok(ServeSettings {
        addr,
        rate_limit,
        rate_burst,
        request_timeout,
        shutdown_timeout,
        body_limit,
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fuzz;

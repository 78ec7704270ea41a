//! `eidos serve`: the recipe engine as an HTTP API. A thin wrapper: flags and environment to an
//! [`eidos_server::ServerConfig`], a tokio runtime, SIGTERM/SIGINT as the shutdown signal.

use crate::cli::parse_duration;
use crate::config::Config;
use crate::error::{CliError, CliResult};
use clap::Args;
use eidos_server::{ServerConfig, ServerError, DEFAULT_PORT};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// `eidos serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
Every flag can also be set through the environment variable shown; flags win. Without --addr
the server listens on 0.0.0.0 at $PORT (default 8080), as container platforms expect.

On SIGTERM or SIGINT: /ready turns 503, new connections are refused, in-flight requests get up
to --shutdown-timeout to finish, then eidos exits 0.")]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 or [::]:8080 (default: serve.addr in the config
    /// file, else 0.0.0.0 at --port).
    #[arg(long, env = "EIDOS_ADDR", value_name = "HOST:PORT")]
    pub addr: Option<SocketAddr>,
    /// Port on all interfaces, when --addr is not given (beats the config file's serve.addr;
    /// default 8080).
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// Requests per second allowed per client address; 0 disables rate limiting (default: the
    /// config file's serve.rate-limit, else 100).
    #[arg(
        long,
        env = "EIDOS_RATE_LIMIT",
        value_name = "PER_SECOND",
        allow_negative_numbers = true
    )]
    pub rate_limit: Option<f64>,
    /// Requests a client may send at once before being limited (default: serve.rate-burst, else
    /// 200).
    #[arg(long, env = "EIDOS_RATE_BURST", value_name = "REQUESTS")]
    pub rate_burst: Option<u32>,
    /// Longest time a request may take, body upload included, e.g. 10s, 500ms (default:
    /// serve.request-timeout, else 10s).
    #[arg(long, env = "EIDOS_REQUEST_TIMEOUT", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Time in-flight requests get to finish after SIGTERM/SIGINT (default:
    /// serve.shutdown-timeout, else 30s).
    #[arg(long, env = "EIDOS_SHUTDOWN_TIMEOUT", value_parser = parse_duration)]
    pub shutdown_timeout: Option<Duration>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "EIDOS_BODY_LIMIT", default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub body_limit: usize,
    /// Serve the recipe data in this directory instead of the built-in data (default: the config
    /// file's recipes).
    #[arg(long, env = "EIDOS_RECIPES", value_name = "DIR")]
    pub recipes: Option<PathBuf>,
}

impl ServeArgs {
    /// The server configuration: each value from its flag or environment variable, else the
    /// config file (`[serve]`, and `recipes`), else the server's default.
    pub fn config(&self, file: &Config) -> Result<ServerConfig, CliError> {
        let defaults = ServerConfig::default();
        let serve = &file.file.serve;
        let file_name = || {
            file.path
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let addr = match (self.addr, self.port, &serve.addr) {
            (Some(addr), _, _) => addr,
            (None, Some(port), _) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
            (None, None, Some(text)) => text.parse().map_err(|e| {
                CliError::usage(anyhow::anyhow!(
                    "config file {}: key `serve.addr`: expected HOST:PORT, got {text:?}: {e}",
                    file_name()
                ))
            })?,
            (None, None, None) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_PORT)),
        };
        let duration = |flag: Option<Duration>,
                        key: &str,
                        text: &Option<String>,
                        default: Duration| match (flag, text) {
            (Some(d), _) => Ok(d),
            (None, Some(t)) => file.duration(key, t).map_err(CliError::usage),
            (None, None) => Ok(default),
        };
        Ok(ServerConfig {
            addr,
            rate_limit: self
                .rate_limit
                .or(serve.rate_limit.map(f64::from))
                .unwrap_or(defaults.rate_limit),
            rate_burst: self
                .rate_burst
                .or(serve.rate_burst)
                .unwrap_or(defaults.rate_burst),
            request_timeout: duration(
                self.request_timeout,
                "serve.request-timeout",
                &serve.request_timeout,
                defaults.request_timeout,
            )?,
            shutdown_timeout: duration(
                self.shutdown_timeout,
                "serve.shutdown-timeout",
                &serve.shutdown_timeout,
                defaults.shutdown_timeout,
            )?,
            body_limit: self.body_limit,
            recipes_dir: self.recipes.clone().or_else(|| file.file.recipes.clone()),
            ..defaults
        })
    }
}

/// Serves until SIGTERM or SIGINT, then drains and returns.
pub fn run(args: &ServeArgs, file: &Config) -> CliResult {
    let config = args.config(file)?;
    // Refuse bad values before anything starts.
    config.validate().map_err(CliError::usage)?;
    if let Some(dir) = &config.recipes_dir {
        if !dir.is_dir() {
            return Err(CliError::usage(anyhow::anyhow!(
                "--recipes {}: not a directory",
                dir.display()
            )));
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("eidos-serve")
        .build()
        .map_err(|e| CliError::runtime(anyhow::anyhow!("cannot start the async runtime: {e}")))?;
    let outcome = runtime.block_on(eidos_server::run(config, eidos_server::shutdown_signal()));
    // Do not wait for blocking tasks still running (a recipe load stuck on a slow or hostile
    // file system): dropping the runtime would wait for them, and the process would outlive
    // its own shutdown. The process exits right after, which ends those threads.
    runtime.shutdown_background();
    let report = outcome.map_err(|error| match error {
        ServerError::Config(_) | ServerError::Recipes(_) => CliError::usage(error),
        other => CliError::runtime(other),
    })?;
    if report.abandoned_connections > 0 {
        tracing::warn!(
            connections = report.abandoned_connections,
            "shutdown timeout reached with requests still running"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn addr_wins_over_port_and_defaults_match_the_server() {
        let wrapper =
            Wrapper::try_parse_from(["serve", "--addr", "127.0.0.1:9000", "--port", "1"]).unwrap();
        let none = Config::default();
        assert_eq!(
            wrapper.args.config(&none).unwrap().addr,
            "127.0.0.1:9000".parse().unwrap()
        );
        let wrapper = Wrapper::try_parse_from(["serve", "--port", "9100"]).unwrap();
        let config = wrapper.args.config(&none).unwrap();
        assert_eq!(config.addr, "0.0.0.0:9100".parse().unwrap());
        let defaults = ServerConfig::default();
        assert_eq!(config.rate_limit, defaults.rate_limit);
        assert_eq!(config.rate_burst, defaults.rate_burst);
        assert_eq!(config.request_timeout, defaults.request_timeout);
        assert_eq!(config.shutdown_timeout, defaults.shutdown_timeout);
        assert_eq!(config.body_limit, defaults.body_limit);
    }

    #[test]
    fn the_config_file_fills_what_flags_leave_unset() {
        let file = Config {
            file: crate::config::parse(
                "recipes = \"/srv/recipes\"\n[serve]\naddr = \"127.0.0.1:9300\"\nrate-limit = 7\nrate-burst = 9\nrequest-timeout = \"3s\"\n",
                std::path::Path::new("/etc/eidos.toml"),
            )
            .unwrap(),
            path: Some("/etc/eidos.toml".into()),
        };
        let from_file = Wrapper::try_parse_from(["serve"])
            .unwrap()
            .args
            .config(&file)
            .unwrap();
        assert_eq!(from_file.rate_limit, 7.0);
        assert_eq!(from_file.rate_burst, 9);
        assert_eq!(from_file.request_timeout, Duration::from_secs(3));
        assert_eq!(
            from_file.shutdown_timeout,
            ServerConfig::default().shutdown_timeout
        );
        assert_eq!(from_file.recipes_dir, Some(PathBuf::from("/srv/recipes")));
        if std::env::var_os("PORT").is_none() {
            assert_eq!(from_file.addr, "127.0.0.1:9300".parse().unwrap());
        }
        let flags =
            Wrapper::try_parse_from(["serve", "--rate-limit", "0", "--request-timeout", "1s"])
                .unwrap();
        let from_flags = flags.args.config(&file).unwrap();
        assert_eq!(from_flags.rate_limit, 0.0);
        assert_eq!(from_flags.request_timeout, Duration::from_secs(1));
        assert_eq!(from_flags.rate_burst, 9);
    }

    #[test]
    fn bad_values_are_refused_by_clap() {
        assert!(Wrapper::try_parse_from(["serve", "--rate-limit", "lots"]).is_err());
        assert!(Wrapper::try_parse_from(["serve", "--request-timeout", "0s"]).is_err());
        assert!(Wrapper::try_parse_from(["serve", "--addr", "localhost"]).is_err());
    }
}

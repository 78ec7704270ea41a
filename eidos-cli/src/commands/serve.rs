//! `eidos serve`: the recipe engine as an HTTP API. A thin wrapper: the resolved settings to an
//! [`eidos_server::ServerConfig`], a tokio runtime, SIGTERM/SIGINT as the shutdown signal.

use super::Context;
use crate::error::{CliError, CliResult};
use crate::settings::{parse_duration, ServeFlags, Settings};
use clap::Args;
use eidos_server::{ServerConfig, ServerError};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What `eidos serve` does, in its help.
pub const ABOUT: &str = "Serve the recipe engine as an HTTP API";

/// `eidos serve`.
#[derive(Debug, Args)]
#[command(about = ABOUT, long_about = None)]
#[command(after_help = "\
Each value comes from its flag, else its environment variable, else the config file's [serve]
section, else the default: `eidos config show` prints what is in force and where it came from.
Without --addr (or EIDOS_ADDR) the server listens on 0.0.0.0 at --port or $PORT, as container
platforms expect, and only then at the config file's serve.addr.

On SIGTERM or SIGINT: /ready turns 503, new connections are refused, in-flight requests get up
to --shutdown-timeout to finish, then eidos exits 0.")]
pub struct ServeArgs {
    /// Address to listen on, e.g. 127.0.0.1:8080 or [::]:8080 [env: EIDOS_ADDR; config:
    /// serve.addr] (default: 0.0.0.0:8080).
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<SocketAddr>,
    /// Port on all interfaces, when --addr is not given [env: PORT] (beats the config file's
    /// serve.addr; default 8080).
    #[arg(long)]
    pub port: Option<u16>,
    /// Requests per second allowed per client address; 0 disables rate limiting [env:
    /// EIDOS_RATE_LIMIT; config: serve.rate-limit] (default 100).
    #[arg(long, value_name = "PER_SECOND", allow_negative_numbers = true)]
    pub rate_limit: Option<f64>,
    /// Requests a client may send at once before being limited [env: EIDOS_RATE_BURST; config:
    /// serve.rate-burst] (default 200).
    #[arg(long, value_name = "REQUESTS")]
    pub rate_burst: Option<u32>,
    /// Longest time a request may take, body upload included, e.g. 10s, 500ms [env:
    /// EIDOS_REQUEST_TIMEOUT; config: serve.request-timeout] (default 10s).
    #[arg(long, value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Time in-flight requests get to finish after SIGTERM/SIGINT [env: EIDOS_SHUTDOWN_TIMEOUT;
    /// config: serve.shutdown-timeout] (default 30s).
    #[arg(long, value_parser = parse_duration)]
    pub shutdown_timeout: Option<Duration>,
    /// Largest accepted request body, in bytes [env: EIDOS_BODY_LIMIT; config: serve.body-limit]
    /// (default 1048576).
    #[arg(long, value_name = "BYTES")]
    pub body_limit: Option<usize>,
    /// Serve the recipe data in this directory instead of the built-in data [env: EIDOS_RECIPES;
    /// config: recipes].
    #[arg(long, value_name = "DIR")]
    pub recipes: Option<PathBuf>,
    /// Add the overlay files in this directory on top of the recipe data served (repeatable; a
    /// later one wins a tie) [env: EIDOS_OVERLAYS, colon-separated; config: overlays].
    #[arg(long = "overlays", value_name = "DIR")]
    pub overlays: Vec<PathBuf>,
}

impl ServeArgs {
    /// The flags as typed, for [`Settings`] to layer.
    pub fn flags(&self) -> ServeFlags {
        ServeFlags {
            addr: self.addr,
            port: self.port,
            rate_limit: self.rate_limit,
            rate_burst: self.rate_burst,
            request_timeout: self.request_timeout,
            shutdown_timeout: self.shutdown_timeout,
            body_limit: self.body_limit,
        }
    }
}

/// The server configuration the settings describe.
pub fn server_config(settings: &Settings) -> ServerConfig {
    let serve = &settings.serve;
    ServerConfig {
        addr: serve.addr.value,
        rate_limit: serve.rate_limit.value,
        rate_burst: serve.rate_burst.value,
        request_timeout: serve.request_timeout.value,
        shutdown_timeout: serve.shutdown_timeout.value,
        body_limit: serve.body_limit.value,
        recipes_dir: settings.recipes.as_ref().map(|r| r.value.clone()),
        overlay_dirs: settings.overlays.iter().map(|o| o.value.clone()).collect(),
        ..ServerConfig::default()
    }
}

/// Serves until SIGTERM or SIGINT, then drains and returns.
pub fn run(ctx: &Context) -> CliResult {
    let config = server_config(&ctx.settings);
    // Refuse bad values before anything starts.
    config.validate().map_err(CliError::usage)?;
    if let Some(dir) = &config.recipes_dir {
        if !dir.is_dir() {
            let source = ctx.settings.recipes.as_ref().map(|r| r.source.to_string());
            return Err(CliError::usage(anyhow::anyhow!(
                "recipes {} ({}): not a directory",
                dir.display(),
                source.unwrap_or_default()
            )));
        }
    }
    for overlay in &ctx.settings.overlays {
        if !overlay.value.is_dir() {
            return Err(CliError::usage(anyhow::anyhow!(
                "overlays {} ({}): not a directory",
                overlay.value.display(),
                overlay.source
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
    use crate::config::Config;
    use crate::settings::{Setting, Source};
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn config(args: &[&str], file: &Config) -> ServerConfig {
        let flags = crate::settings::Flags {
            serve: Wrapper::try_parse_from(args).unwrap().args.flags(),
            ..Default::default()
        };
        let settings = Settings::resolve(
            &flags,
            &|_| None,
            file,
            Setting::new(file.path.clone(), Source::Default),
        )
        .unwrap();
        server_config(&settings)
    }

    #[test]
    fn addr_wins_over_port_and_defaults_match_the_server() {
        let none = Config::default();
        let got = config(&["serve", "--addr", "127.0.0.1:9000", "--port", "1"], &none);
        assert_eq!(got.addr, "127.0.0.1:9000".parse().unwrap());
        let got = config(&["serve", "--port", "9100"], &none);
        assert_eq!(got.addr, "0.0.0.0:9100".parse().unwrap());
        let defaults = ServerConfig::default();
        let got = config(&["serve"], &none);
        assert_eq!(got.addr, defaults.addr);
        assert_eq!(got.rate_limit, defaults.rate_limit);
        assert_eq!(got.rate_burst, defaults.rate_burst);
        assert_eq!(got.request_timeout, defaults.request_timeout);
        assert_eq!(got.shutdown_timeout, defaults.shutdown_timeout);
        assert_eq!(got.body_limit, defaults.body_limit);
    }

    #[test]
    fn the_config_file_fills_what_flags_leave_unset() {
        let file = Config::from_text(
            "recipes = \"/srv/recipes\"\n[serve]\naddr = \"127.0.0.1:9300\"\nrate-limit = 7\nrate-burst = 9\nrequest-timeout = \"3s\"\n",
            std::path::Path::new("/etc/eidos.toml"),
        )
        .unwrap();
        let from_file = config(&["serve"], &file);
        assert_eq!(from_file.rate_limit, 7.0);
        assert_eq!(from_file.rate_burst, 9);
        assert_eq!(from_file.request_timeout, Duration::from_secs(3));
        assert_eq!(
            from_file.shutdown_timeout,
            ServerConfig::default().shutdown_timeout
        );
        assert_eq!(from_file.recipes_dir, Some(PathBuf::from("/srv/recipes")));
        assert_eq!(from_file.addr, "127.0.0.1:9300".parse().unwrap());
        let from_flags = config(
            &["serve", "--rate-limit", "0", "--request-timeout", "1s"],
            &file,
        );
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

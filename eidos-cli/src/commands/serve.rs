//! `eidos serve`: the recipe engine as an HTTP API. A thin wrapper: flags and environment to an
//! [`eidos_server::ServerConfig`], a tokio runtime, SIGTERM/SIGINT as the shutdown signal.

use crate::cli::parse_duration;
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
    /// Address to listen on, e.g. 127.0.0.1:8080 or [::]:8080.
    #[arg(long, env = "EIDOS_ADDR", value_name = "HOST:PORT")]
    pub addr: Option<SocketAddr>,
    /// Port on all interfaces, when --addr is not given.
    #[arg(long, env = "PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Requests per second allowed per client address; 0 disables rate limiting.
    #[arg(
        long,
        env = "EIDOS_RATE_LIMIT",
        default_value_t = 100.0,
        value_name = "PER_SECOND",
        allow_negative_numbers = true
    )]
    pub rate_limit: f64,
    /// Requests a client may send at once before being limited.
    #[arg(
        long,
        env = "EIDOS_RATE_BURST",
        default_value_t = 200,
        value_name = "REQUESTS"
    )]
    pub rate_burst: u32,
    /// Longest time a request may take, body upload included (e.g. 10s, 500ms).
    #[arg(long, env = "EIDOS_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Time in-flight requests get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "EIDOS_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub shutdown_timeout: Duration,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "EIDOS_BODY_LIMIT", default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub body_limit: usize,
    /// Serve the recipe data in this directory instead of the built-in data.
    #[arg(long, env = "EIDOS_RECIPES", value_name = "DIR")]
    pub recipes: Option<PathBuf>,
}

impl ServeArgs {
    /// The server configuration these arguments describe.
    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            addr: self
                .addr
                .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::UNSPECIFIED, self.port))),
            rate_limit: self.rate_limit,
            rate_burst: self.rate_burst,
            request_timeout: self.request_timeout,
            shutdown_timeout: self.shutdown_timeout,
            body_limit: self.body_limit,
            recipes_dir: self.recipes.clone(),
            ..ServerConfig::default()
        }
    }
}

/// Serves until SIGTERM or SIGINT, then drains and returns.
pub fn run(args: &ServeArgs) -> CliResult {
    let config = args.config();
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
    let report = runtime
        .block_on(eidos_server::run(config, eidos_server::shutdown_signal()))
        .map_err(|error| match error {
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
        assert_eq!(
            wrapper.args.config().addr,
            "127.0.0.1:9000".parse().unwrap()
        );
        let wrapper = Wrapper::try_parse_from(["serve", "--port", "9100"]).unwrap();
        let config = wrapper.args.config();
        assert_eq!(config.addr, "0.0.0.0:9100".parse().unwrap());
        let defaults = ServerConfig::default();
        assert_eq!(config.rate_limit, defaults.rate_limit);
        assert_eq!(config.rate_burst, defaults.rate_burst);
        assert_eq!(config.request_timeout, defaults.request_timeout);
        assert_eq!(config.shutdown_timeout, defaults.shutdown_timeout);
        assert_eq!(config.body_limit, defaults.body_limit);
    }

    #[test]
    fn bad_values_are_refused_by_clap() {
        assert!(Wrapper::try_parse_from(["serve", "--rate-limit", "lots"]).is_err());
        assert!(Wrapper::try_parse_from(["serve", "--request-timeout", "0s"]).is_err());
        assert!(Wrapper::try_parse_from(["serve", "--addr", "localhost"]).is_err());
    }
}

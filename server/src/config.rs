//! How the server is configured.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Everything `eidos serve` lets an operator set. [`ServerConfig::default`] gives the documented
/// defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Where to listen (default `0.0.0.0:8080`).
    pub addr: SocketAddr,
    /// Requests per second allowed per client address (token refill rate); `0` disables rate
    /// limiting (default 100).
    pub rate_limit: f64,
    /// Requests a client may send at once before being limited (bucket size, default 200).
    pub rate_burst: u32,
    /// The longest a request may take, body upload included (default 10 s).
    pub request_timeout: Duration,
    /// How long in-flight requests get to finish after a shutdown signal (default 30 s).
    pub shutdown_timeout: Duration,
    /// Largest accepted request body in bytes (default 1 MiB).
    pub body_limit: usize,
    /// Largest accepted request head (request line and headers) in bytes (default 16 KiB).
    pub max_header_bytes: usize,
    /// How long a connection may take to send a request head, and how long a kept-alive
    /// connection may sit idle between requests (default 15 s).
    pub header_read_timeout: Duration,
    /// A directory of recipe YAML files to serve instead of the embedded data.
    pub recipes_dir: Option<PathBuf>,
    /// Overlay layers added on top of the recipe data, in order (a later one wins a tie; see
    /// [`eidos_recipes::RecipeStore::with_layers`]).
    pub overlay_dirs: Vec<PathBuf>,
}

/// The default port, also used when only `PORT` is not set.
pub const DEFAULT_PORT: u16 = 8080;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, DEFAULT_PORT)),
            rate_limit: 100.0,
            rate_burst: 200,
            request_timeout: Duration::from_secs(10),
            shutdown_timeout: Duration::from_secs(30),
            body_limit: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            header_read_timeout: Duration::from_secs(15),
            recipes_dir: None,
            overlay_dirs: Vec::new(),
        }
    }
}

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The rate is negative, not a number, or too small to express.
    #[error("invalid rate limit {0}: expected a number of requests per second >= 0 (0 disables rate limiting)")]
    RateLimit(f64),
    /// The burst is zero while rate limiting is on.
    #[error("invalid rate burst 0: expected at least 1 when rate limiting is on")]
    RateBurst,
    /// A timeout of zero.
    #[error("invalid {0}: expected a duration greater than zero")]
    ZeroTimeout(&'static str),
    /// A size limit of zero.
    #[error("invalid {0}: expected a size greater than zero")]
    ZeroSize(&'static str),
}

impl ServerConfig {
    /// Checks that every value can work; the server refuses to start otherwise.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.rate_limit.is_finite()
            || self.rate_limit < 0.0
            || (self.rate_limit > 0.0 && 1.0 / self.rate_limit > 1e9)
        {
            return Err(ConfigError::RateLimit(self.rate_limit));
        }
        if self.rate_limit > 0.0 && self.rate_burst == 0 {
            return Err(ConfigError::RateBurst);
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout("request timeout"));
        }
        if self.header_read_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout("header read timeout"));
        }
        if self.body_limit == 0 {
            return Err(ConfigError::ZeroSize("body limit"));
        }
        if self.max_header_bytes == 0 {
            return Err(ConfigError::ZeroSize("max header size"));
        }
        Ok(())
    }

    /// Whether rate limiting is on.
    pub fn rate_limiting_enabled(&self) -> bool {
        self.rate_limit > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_documented_values() {
        let config = ServerConfig::default();
        assert_eq!(config.validate(), Ok(()));
        assert_eq!(config.addr.port(), 8080);
        assert_eq!(config.rate_limit, 100.0);
        assert_eq!(config.rate_burst, 200);
        assert_eq!(config.shutdown_timeout, Duration::from_secs(30));
    }

    #[test]
    fn rejects_values_that_cannot_work() {
        let bad = |f: fn(&mut ServerConfig)| {
            let mut config = ServerConfig::default();
            f(&mut config);
            config.validate().unwrap_err()
        };
        assert_eq!(bad(|c| c.rate_limit = -1.0), ConfigError::RateLimit(-1.0));
        assert!(matches!(
            bad(|c| c.rate_limit = f64::NAN),
            ConfigError::RateLimit(_)
        ));
        assert_eq!(bad(|c| c.rate_burst = 0), ConfigError::RateBurst);
        assert!(matches!(
            bad(|c| c.request_timeout = Duration::ZERO),
            ConfigError::ZeroTimeout(_)
        ));
        assert!(matches!(
            bad(|c| c.body_limit = 0),
            ConfigError::ZeroSize(_)
        ));
    }

    #[test]
    fn rate_limit_zero_disables_and_ignores_burst() {
        let config = ServerConfig {
            rate_limit: 0.0,
            rate_burst: 0,
            ..ServerConfig::default()
        };
        assert_eq!(config.validate(), Ok(()));
        assert!(!config.rate_limiting_enabled());
    }
}

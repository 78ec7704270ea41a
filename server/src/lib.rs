//! The eidos HTTP API: the recipe engine behind axum, with the middleware an operator expects
//! behind a load balancer (metrics, request ids, panic recovery, per-client rate limiting,
//! structured request logs, timeouts, body and header limits, graceful drain).
//!
//! `eidos serve` is a thin wrapper around [`run`]; tests start a [`Server`] on `127.0.0.1:0`.
//!
//! ```no_run
//! # async fn example() -> Result<(), eidos_server::ServerError> {
//! let config = eidos_server::ServerConfig::default();
//! eidos_server::run(config, eidos_server::shutdown_signal()).await?;
//! # Ok(()) }
//! ```

pub mod config;
pub mod error;
pub mod metrics;
pub mod middleware;
pub mod routes;
pub mod serve;
pub mod state;

pub use config::{ConfigError, ServerConfig, DEFAULT_PORT};
pub use error::{ApiError, ErrorCode, ServerError};
pub use routes::meta::OPENAPI_YAML;
pub use serve::{shutdown_signal, Server, ShutdownReport};

use std::future::Future;

/// Binds `config.addr` and serves until `shutdown` completes, then drains (see [`Server::run`]).
pub async fn run(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<ShutdownReport, ServerError> {
    Server::bind(config).await?.run(shutdown).await
}

#[cfg(test)]
mod tests;

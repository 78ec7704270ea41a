//! Listening, connections and graceful shutdown, on hyper directly (through hyper-util's
//! graceful-shutdown watcher) because `axum::serve` exposes neither header limits, header/idle
//! timeouts nor a bounded drain.

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::metrics::Metrics;
use crate::middleware::{self, rate_limit::RateLimiter};
use crate::routes;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request};
use axum::Router;
use eidos_recipes::RecipeStore;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tower::Service;

/// How often idle clients are dropped from the rate limiter.
const FORGET_IDLE_CLIENTS_EVERY: Duration = Duration::from_secs(60);

/// A bound, not yet serving, server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: ServerConfig,
    state: AppState,
    limiter: Option<RateLimiter>,
    router: Router,
}

/// How shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Connections still open when the shutdown timeout ran out (their requests were cut off).
    pub abandoned_connections: usize,
}

impl Server {
    /// Validates `config` and binds its address. Serving starts with [`Server::run`].
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        config.validate()?;
        let metrics = Metrics::new()?;
        let state = AppState::new(metrics.clone());
        let limiter = if config.rate_limiting_enabled() {
            let limiter = RateLimiter::new(config.rate_limit, config.rate_burst, metrics).ok_or(
                ServerError::Config(crate::config::ConfigError::RateLimit(config.rate_limit)),
            )?;
            Some(limiter)
        } else {
            None
        };
        let router = middleware::apply(
            routes::router(state.clone()),
            &state,
            &config,
            limiter.clone(),
        );
        let listener =
            TcpListener::bind(config.addr)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.addr,
                    source,
                })?;
        let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.addr,
            source,
        })?;
        Ok(Server {
            listener,
            local_addr,
            config,
            state,
            limiter,
            router,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The shared state (readiness, metrics).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, loading the recipe data in the background meanwhile
    /// (`/ready` is 503 until it is loaded). On shutdown: `/ready` turns 503, the listener is
    /// closed (new connections are refused), in-flight requests get up to the shutdown timeout
    /// to finish, kept-alive connections are closed after their current request.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<ShutdownReport, ServerError> {
        let recipes_dir = self.config.recipes_dir.clone();
        let overlay_dirs = self.config.overlay_dirs.clone();
        let load = tokio::task::spawn_blocking(move || {
            let data = match recipes_dir {
                Some(dir) => RecipeStore::load_dir(&dir).map(Arc::new),
                None => RecipeStore::embedded(),
            }?;
            if overlay_dirs.is_empty() {
                return Ok(data);
            }
            data.with_layers(&overlay_dirs).map(Arc::new)
        });
        self.serve_with_store(load, shutdown).await
    }

    /// [`Server::run`] with the recipe store coming from `load`.
    pub(crate) async fn serve_with_store<L>(
        self,
        load: L,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<ShutdownReport, ServerError>
    where
        L: Future<
                Output = Result<
                    Result<Arc<RecipeStore>, eidos_recipes::LoadError>,
                    tokio::task::JoinError,
                >,
            > + Send,
    {
        let Server {
            listener,
            local_addr,
            config,
            state,
            limiter,
            router,
        } = self;
        tracing::info!(addr = %local_addr, "listening");
        let graceful = GracefulShutdown::new();
        let open_connections = Arc::new(AtomicUsize::new(0));
        let janitor = limiter.map(|limiter| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(FORGET_IDLE_CLIENTS_EVERY);
                loop {
                    tick.tick().await;
                    limiter.forget_idle_clients();
                }
            })
        });
        tokio::pin!(shutdown);
        tokio::pin!(load);
        let mut loading = true;
        let outcome = loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => serve_connection(stream, peer, &router, &config, &graceful, &open_connections),
                    Err(error) => {
                        // Typically out of file descriptors: back off instead of spinning.
                        tracing::warn!(%error, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                loaded = &mut load, if loading => {
                    loading = false;
                    match loaded {
                        Ok(Ok(store)) => {
                            state.set_store(store);
                            tracing::info!("recipe data loaded; ready");
                        }
                        Ok(Err(error)) => break Err(ServerError::Recipes(error)),
                        Err(error) => break Err(ServerError::Loader(error.to_string())),
                    }
                },
                () = &mut shutdown => break Ok(()),
            }
        };
        state.begin_shutdown();
        drop(listener);
        if let Some(janitor) = janitor {
            janitor.abort();
        }
        outcome?;
        tracing::info!(
            open_connections = open_connections.load(Ordering::SeqCst),
            timeout_s = config.shutdown_timeout.as_secs_f64(),
            "shutting down: not accepting, draining"
        );
        let abandoned_connections =
            match tokio::time::timeout(config.shutdown_timeout, graceful.shutdown()).await {
                Ok(()) => 0,
                Err(_) => {
                    let abandoned = open_connections.load(Ordering::SeqCst);
                    tracing::warn!(
                        connections = abandoned,
                        "shutdown timeout reached; abandoning the requests still running"
                    );
                    abandoned
                }
            };
        tracing::info!("stopped");
        Ok(ShutdownReport {
            abandoned_connections,
        })
    }
}

fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: &Router,
    config: &ServerConfig,
    graceful: &GracefulShutdown,
    open_connections: &Arc<AtomicUsize>,
) {
    // Small JSON answers: do not let Nagle delay them.
    let _ = stream.set_nodelay(true);
    let router = router.clone();
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().call(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_header_size(config.max_header_bytes)
        .keep_alive(true);
    let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
    let open = OpenConnection::enter(open_connections);
    tokio::spawn(async move {
        let _open = open;
        if let Err(error) = connection.await {
            tracing::debug!(%peer, %error, "connection ended with an error");
        }
    });
}

/// Counts a connection as open until dropped (when its task ends or is dropped).
struct OpenConnection(Arc<AtomicUsize>);

impl OpenConnection {
    fn enter(count: &Arc<AtomicUsize>) -> OpenConnection {
        count.fetch_add(1, Ordering::SeqCst);
        OpenConnection(Arc::clone(count))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                    _ = int.recv() => tracing::info!("SIGINT received"),
                }
                return;
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "cannot watch SIGTERM; only Ctrl-C stops the server");
            }
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

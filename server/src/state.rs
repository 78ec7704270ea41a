//! What the handlers share: the recipe store (once loaded), readiness, metrics.

use crate::metrics::Metrics;
use crate::routes::cache::RecipeCache;
use eidos_recipes::RecipeStore;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Shared application state; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: OnceLock<Arc<RecipeStore>>,
    shutting_down: AtomicBool,
    metrics: Metrics,
    recipes: RecipeCache,
}

impl AppState {
    /// A state with no recipe store yet (not ready).
    pub fn new(metrics: Metrics) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                store: OnceLock::new(),
                shutting_down: AtomicBool::new(false),
                metrics,
                recipes: RecipeCache::default(),
            }),
        }
    }

    /// Installs the loaded recipe store; the first one wins.
    pub fn set_store(&self, store: Arc<RecipeStore>) {
        let _ = self.inner.store.set(store);
    }

    /// The recipe store, once loaded.
    pub fn store(&self) -> Option<&Arc<RecipeStore>> {
        self.inner.store.get()
    }

    /// Marks the server as shutting down: `/ready` answers 503 from now on.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// Whether the server should receive traffic: store loaded and not shutting down.
    pub fn is_ready(&self) -> bool {
        self.store().is_some() && !self.is_shutting_down()
    }

    /// Rendered recipes by query.
    pub fn recipes(&self) -> &RecipeCache {
        &self.inner.recipes
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}

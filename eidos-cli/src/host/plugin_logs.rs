//! Re-emitting a plugin's log events through the host's logger, tagged `collector=NAME`.
//!
//! The plugin caps what it sends (plugin API 1.2), but a plugin is not trusted to: the host keeps
//! at most [`MAX_EVENTS`] events per run and cuts each message to [`MAX_EVENT_BYTES`].

use eidos_plugin_api::logs::{truncate, LogEvent};

/// The most events re-emitted per collector run.
pub const MAX_EVENTS: usize = eidos_plugin_api::logs::MAX_EVENTS + 1;
/// The longest message re-emitted, in bytes.
pub const MAX_EVENT_BYTES: usize = eidos_plugin_api::logs::MAX_EVENT_BYTES;

/// Emits `events` from collector `collector` at their own levels (an unknown level is `info`), so
/// that `--debug`, `RUST_LOG` and `--log-json` apply to them as to the host's own events.
pub fn emit(collector: &str, events: Vec<LogEvent>) {
    let total = events.len();
    for mut event in events.into_iter().take(MAX_EVENTS) {
        truncate(&mut event.message, MAX_EVENT_BYTES);
        truncate(&mut event.target, 200);
        let (message, target) = (event.message, event.target);
        match event.level.as_str() {
            "error" => tracing::error!(collector, plugin_target = %target, "{message}"),
            "warn" => tracing::warn!(collector, plugin_target = %target, "{message}"),
            "debug" => tracing::debug!(collector, plugin_target = %target, "{message}"),
            "trace" => tracing::trace!(collector, plugin_target = %target, "{message}"),
            _ => tracing::info!(collector, plugin_target = %target, "{message}"),
        }
    }
    if total > MAX_EVENTS {
        tracing::warn!(
            collector,
            "{} further log events from the plugin dropped",
            total - MAX_EVENTS
        );
    }
}

//! A plugin's `tracing` events, carried back to the host (plugin API 1.2).
//!
//! A plugin library has its own copy of `tracing` with no subscriber, so its log calls went
//! nowhere. The export layer now installs a [`Capture`] subscriber for the duration of each
//! `collect` call (on the calling thread), and the events come back in the collect reply's `logs`
//! field; the host re-emits them through its own logger with `collector=NAME`. Only events at or
//! above the level the host asks for are kept, at most [`MAX_EVENTS`] per run and
//! [`MAX_EVENT_BYTES`] each. Spans are not recorded.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span;
use tracing::{Event, Level, Metadata, Subscriber};

/// The most events one collect call carries back; later ones are counted, not kept.
pub const MAX_EVENTS: usize = 200;
/// The longest message (fields included) an event carries, in bytes; longer ones are cut.
pub const MAX_EVENT_BYTES: usize = 2048;

/// One log event from a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    /// `error`, `warn`, `info`, `debug` or `trace`.
    pub level: String,
    /// The event's target (usually the plugin's module path).
    #[serde(default)]
    pub target: String,
    /// The message, followed by the event's other fields as `key=value`.
    pub message: String,
}

/// Parses a level name as the request's `logLevel` carries it.
pub fn parse_level(name: &str) -> Option<LevelFilter> {
    name.parse().ok()
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut with `…`.
pub fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max.saturating_sub('…'.len_utf8());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

/// The subscriber the export layer installs while a collector runs.
#[derive(Debug)]
pub struct Capture {
    max: LevelFilter,
    events: Mutex<Vec<LogEvent>>,
    dropped: AtomicUsize,
}

impl Capture {
    /// Keeps events at `max` and above.
    pub fn new(max: LevelFilter) -> Self {
        Capture {
            max,
            events: Mutex::new(Vec::new()),
            dropped: AtomicUsize::new(0),
        }
    }

    /// The events kept, and one more saying how many were dropped when the cap was reached.
    pub fn take(&self) -> Vec<LogEvent> {
        let mut events = match self.events.lock() {
            Ok(mut guard) => std::mem::take(&mut *guard),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            events.push(LogEvent {
                level: "warn".to_owned(),
                target: "eidos_plugin_api".to_owned(),
                message: format!(
                    "{dropped} more log events dropped (at most {MAX_EVENTS} per run)"
                ),
            });
        }
        events
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.rest, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.rest, " {}={value}", field.name());
        }
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "error",
        Level::WARN => "warn",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl Subscriber for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.max
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max)
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut events = match self.events.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if events.len() >= MAX_EVENTS {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut message = fields.message;
        message.push_str(&fields.rest);
        truncate(&mut message, MAX_EVENT_BYTES);
        events.push(LogEvent {
            level: level_name(event.metadata().level()).to_owned(),
            target: event.metadata().target().to_owned(),
            message,
        });
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// Runs `f` with a [`Capture`] at `max` as this thread's subscriber; returns its result and the
/// events captured. `None` (a host that does not read logs) runs `f` without capturing.
pub fn capture<T>(max: Option<LevelFilter>, f: impl FnOnce() -> T) -> (T, Vec<LogEvent>) {
    let Some(max) = max.filter(|m| *m != LevelFilter::OFF) else {
        return (f(), Vec::new());
    };
    let capture = std::sync::Arc::new(Capture::new(max));
    let result = tracing::subscriber::with_default(std::sync::Arc::clone(&capture), f);
    (result, capture.take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_at_the_asked_level_are_kept_with_fields_and_capped() {
        let ((), events) = capture(Some(LevelFilter::INFO), || {
            tracing::info!(device = "nic0", speed = 100, "link up");
            tracing::debug!("not kept at info");
            tracing::warn!("{}", "é".repeat(MAX_EVENT_BYTES));
        });
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].level, "info");
        assert_eq!(events[0].message, "link up device=nic0 speed=100");
        assert!(events[0].target.contains("logs"), "{}", events[0].target);
        assert!(events[1].message.len() <= MAX_EVENT_BYTES);
        assert!(events[1].message.ends_with('…'));

        let ((), events) = capture(Some(LevelFilter::DEBUG), || {
            for i in 0..MAX_EVENTS + 5 {
                tracing::debug!(i, "event");
            }
        });
        assert_eq!(events.len(), MAX_EVENTS + 1);
        assert_eq!(
            events[MAX_EVENTS].message,
            format!("5 more log events dropped (at most {MAX_EVENTS} per run)")
        );

        let ((), events) = capture(None, || tracing::error!("no capture"));
        assert!(events.is_empty());
    }
}

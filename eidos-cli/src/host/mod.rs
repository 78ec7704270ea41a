//! The plugin host: finding plugin libraries and executable collectors, loading them safely, and
//! calling them; and the built-in static-facts collector.

pub mod collect;
pub mod discovery;
pub mod elf;
pub mod exec;
pub mod facts;
pub mod files;
pub mod loader;
pub mod lock;
pub mod manifest_cache;
pub mod options;
pub mod output;
pub mod plugin_logs;
pub mod private_cache;
pub mod probe;
pub mod probe_cache;
pub mod registry;
pub mod sealed;
pub mod security;

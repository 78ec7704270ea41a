//! The plugin host: finding plugin libraries, loading them safely, and calling them.

pub mod collect;
pub mod discovery;
pub mod elf;
pub mod files;
pub mod loader;
pub mod lock;
pub mod options;
pub mod output;
pub mod probe;
pub mod probe_cache;
pub mod registry;
pub mod sealed;
pub mod security;

//! The snapshot comparison core: what eidos does with snapshots once they exist.
//!
//! Commands stay thin: the CLI (`eidos diff`, `eidos fleet report`, `eidos redact`) and the server
//! parse their inputs, call into this crate, and render what it returns.

pub mod redact;

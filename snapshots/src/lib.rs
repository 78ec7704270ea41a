//! The snapshot comparison core: what eidos does with snapshots once they exist.
//!
//! Commands stay thin: the CLI (`eidos diff`, `eidos fleet report`, `eidos redact`) and the server
//! parse their inputs, call into this crate, and render what it returns.
//!
//! - [`compare`]: what a comparison looks at (collector presence, readings by type, subtype and
//!   key) and how values compare.
//! - [`ignore`]: the readings a comparison leaves out (collectors' volatile keys, `--ignore`).
//! - [`diff`]: two snapshots: added, removed and changed readings; the RFC 6902 patch.
//! - [`fleet`]: many snapshots: configurations, majority and minority values, outliers.
//! - [`redact`]: one snapshot made fit to leave the site: sensitive values replaced by
//!   consistent pseudonyms, reversibly with the private map.
//! - [`verdict`]: each fleet node's validation verdict against its own recipe.

pub mod compare;
pub mod diff;
pub mod fleet;
pub mod ignore;
pub mod redact;
pub mod verdict;

/// The hash map of this crate's internal tables (the fleet's interning tables, the ignore
/// matcher's memo): foldhash, seeded per process, instead of SipHash, which was a tenth of a
/// fleet report's profile.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

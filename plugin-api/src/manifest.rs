//! What a plugin says about itself.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether a plugin collects measurements or writes documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    /// Produces measurements (`eidos snapshot --collectors NAME`).
    Collector,
    /// Writes a document in one or more formats (`--format NAME`).
    Serializer,
}

impl PluginKind {
    /// The name used in file names and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Collector => "collector",
            PluginKind::Serializer => "serializer",
        }
    }

    /// Parses `collector` or `serializer`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "collector" => Some(PluginKind::Collector),
            "serializer" => Some(PluginKind::Serializer),
            _ => None,
        }
    }
}

impl fmt::Display for PluginKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One option a collector accepts (`--set NAME.KEY=VALUE`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionSpec {
    /// The key, e.g. `bus`.
    pub key: String,
    /// One line of help, e.g. what values it takes.
    pub description: String,
    /// The value's type; `None` for an untyped option, which takes any text (every option of a
    /// plugin built before 1.2). Added in plugin API 1.2.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub value_type: Option<crate::options::OptionType>,
    /// For a `one-of` option: the words it accepts. Added in plugin API 1.2.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// The value the collector uses when the option is not set, as it would be given on `--set`.
    /// Added in plugin API 1.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A plugin's self-description, returned by its `manifest` entry point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The plugin's name (`os`, `json` …); unique per kind.
    pub name: String,
    /// Collector or serializer.
    pub kind: PluginKind,
    /// The plugin's own version.
    pub version: String,
    /// The plugin API version it was built against.
    pub api_version: String,
    /// One line saying what it does.
    pub description: String,
    /// For serializers: the format names it writes (`--format`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub formats: Vec<String>,
    /// For collectors: the options it accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<OptionSpec>,
    /// For collectors: key patterns (`TYPE/SUBTYPE/KEY`, `*` matches any run of characters) whose
    /// values change between runs on an unchanged node (timestamps, PIDs, counters). Drift
    /// comparison ignores them by default. Added in plugin API 1.2; absent from older manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volatile_keys: Vec<String>,
    /// For collectors: key patterns (same syntax) whose values identify a site, a node or a person
    /// (addresses, host names, serial numbers). Redaction replaces them. Added in plugin API 1.2;
    /// absent from older manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensitive_keys: Vec<String>,
}

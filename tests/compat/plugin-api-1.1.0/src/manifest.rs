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
}

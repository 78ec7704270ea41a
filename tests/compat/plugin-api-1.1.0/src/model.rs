//! The measurement model shared by collectors, serializers, the recipe engine and the server.
//!
//! A [`Snapshot`] is the document the original Go eidos writes (`kind: Snapshot`,
//! `apiVersion: snapshot.dgxc.io/v1`). Reading one and writing it back loses nothing: integers stay
//! exact (`u64::MAX` included), booleans stay booleans, strings such as `"0"` stay strings, and maps
//! keep their order.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The `kind` of a snapshot document.
pub const SNAPSHOT_KIND: &str = "Snapshot";
/// The `apiVersion` of a snapshot document.
pub const SNAPSHOT_API_VERSION: &str = "snapshot.dgxc.io/v1";

/// One value read from a node. Untagged: it is written as the bare YAML/JSON scalar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Reading {
    /// A boolean (`true`/`false`), e.g. a loaded kernel module.
    Bool(bool),
    /// A signed integer that fits in `i64`.
    Int(i64),
    /// An unsigned integer above `i64::MAX` (systemd's "infinity" is `u64::MAX`).
    Uint(u64),
    /// A floating-point number.
    Float(f64),
    /// Text. Numbers read from text files stay text (`"0"`), as the Go tool wrote them.
    Str(String),
}

impl Reading {
    /// The reading as text, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Reading::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reading::Bool(b) => write!(f, "{b}"),
            Reading::Int(i) => write!(f, "{i}"),
            Reading::Uint(u) => write!(f, "{u}"),
            Reading::Float(x) => write!(f, "{x}"),
            Reading::Str(s) => f.write_str(s),
        }
    }
}

impl From<bool> for Reading {
    fn from(v: bool) -> Self {
        Reading::Bool(v)
    }
}
impl From<String> for Reading {
    fn from(v: String) -> Self {
        Reading::Str(v)
    }
}
impl From<&str> for Reading {
    fn from(v: &str) -> Self {
        Reading::Str(v.to_owned())
    }
}
impl From<u64> for Reading {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(Reading::Uint(v), Reading::Int)
    }
}
impl From<u32> for Reading {
    fn from(v: u32) -> Self {
        Reading::Int(i64::from(v))
    }
}
impl From<i64> for Reading {
    fn from(v: i64) -> Self {
        Reading::Int(v)
    }
}
impl From<i32> for Reading {
    fn from(v: i32) -> Self {
        Reading::Int(i64::from(v))
    }
}
impl From<f64> for Reading {
    fn from(v: f64) -> Self {
        Reading::Float(v)
    }
}

/// A named group of readings inside a measurement (e.g. `grub`, `containerd.service`, `server`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Subtype {
    /// The subtype's name.
    pub subtype: String,
    /// The readings, key → value, in a stable order.
    #[serde(default)]
    pub data: IndexMap<String, Reading>,
    /// Optional explanations, key → one line of text (recipes carry them; snapshots usually not).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub context: IndexMap<String, String>,
}

impl Subtype {
    /// An empty subtype with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Subtype {
            subtype: name.into(),
            ..Default::default()
        }
    }

    /// Adds (or replaces) a reading; returns `self` for chaining.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Reading>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    /// Adds (or replaces) a reading.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Reading>) {
        self.data.insert(key.into(), value.into());
    }

    /// Sorts the readings by key, so that output does not depend on collection order.
    pub fn sort(&mut self) {
        self.data.sort_keys();
        self.context.sort_keys();
    }
}

/// The measurement types eidos itself produces. Other names (from vendor plugins) are allowed in
/// documents; these are the ones the recipe engine understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MeasurementType {
    /// Operating system: kernel command line, modules, sysctl, os-release.
    Os,
    /// systemd units.
    SystemD,
    /// Kubernetes: server, images, ClusterPolicy, node.
    K8s,
    /// GPUs.
    Gpu,
}

impl MeasurementType {
    /// Every known type, in the order eidos writes them.
    pub const ALL: [MeasurementType; 4] = [
        MeasurementType::Os,
        MeasurementType::SystemD,
        MeasurementType::K8s,
        MeasurementType::Gpu,
    ];

    /// The name eidos writes (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            MeasurementType::Os => "os",
            MeasurementType::SystemD => "systemd",
            MeasurementType::K8s => "k8s",
            MeasurementType::Gpu => "gpu",
        }
    }

    /// Parses a type name case-insensitively (`OS`, `SystemD`, `K8s`, `GPU` as the Go tool writes
    /// them, or eidos's lower-case names).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for MeasurementType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// All the readings of one type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Measurement {
    /// The type name, kept as written so that a document round-trips; compare with
    /// [`Measurement::is`] or [`Measurement::known_type`], which ignore case.
    #[serde(rename = "type")]
    pub kind: String,
    /// The subtypes, in order.
    #[serde(default)]
    pub subtypes: Vec<Subtype>,
}

impl Measurement {
    /// A measurement of a known type.
    pub fn new(kind: MeasurementType, subtypes: Vec<Subtype>) -> Self {
        Measurement {
            kind: kind.as_str().to_owned(),
            subtypes,
        }
    }

    /// The known type this measurement is, if any (case-insensitive).
    pub fn known_type(&self) -> Option<MeasurementType> {
        MeasurementType::parse(&self.kind)
    }

    /// Whether this measurement is of the given type (case-insensitive).
    pub fn is(&self, kind: MeasurementType) -> bool {
        self.kind.eq_ignore_ascii_case(kind.as_str())
    }

    /// The subtype with the given name.
    pub fn subtype(&self, name: &str) -> Option<&Subtype> {
        self.subtypes.iter().find(|s| s.subtype == name)
    }
}

/// How one collector fared in a snapshot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CollectorStatus {
    /// It returned measurements.
    Ok,
    /// It does not apply to this node (no GPU, no cluster, no systemd). Never a failure.
    NotApplicable,
    /// It returned an error (or panicked).
    Failed,
    /// It did not answer within the timeout.
    TimedOut,
    /// It was cancelled because another collector failed first (fail-fast mode).
    Cancelled,
}

impl CollectorStatus {
    /// The name written in documents.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorStatus::Ok => "ok",
            CollectorStatus::NotApplicable => "not-applicable",
            CollectorStatus::Failed => "failed",
            CollectorStatus::TimedOut => "timed-out",
            CollectorStatus::Cancelled => "cancelled",
        }
    }
}

/// The per-collector record in a snapshot's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CollectorReport {
    /// The outcome.
    pub status: CollectorStatus,
    /// Why it was not applicable, or what failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Warnings the collector reported while still succeeding (e.g. a missing RBAC permission).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// The version of the plugin that ran.
    pub plugin_version: String,
}

/// Snapshot metadata. Field order is alphabetical, as the Go tool writes it; keys this version does
/// not know are kept in `extra`, so that a document round-trips.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Metadata {
    /// Per-collector status, by collector name (written by eidos, absent in Go snapshots).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub collectors: IndexMap<String, CollectorReport>,
    /// Whether every selected collector succeeded or was not applicable (absent in Go snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
    /// When the snapshot was taken (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_timestamp: Option<String>,
    /// The version of the tool that wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_version: Option<String>,
    /// The node's host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_node: Option<String>,
    /// Keys this version does not know, kept as they were.
    #[serde(flatten)]
    pub extra: IndexMap<String, serde_json::Value>,
}

/// A node snapshot: the document `eidos snapshot` writes and `eidos recipe --snapshot` reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always [`SNAPSHOT_KIND`].
    pub kind: String,
    /// Always [`SNAPSHOT_API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Who, where, when, and how each collector fared.
    #[serde(default)]
    pub metadata: Metadata,
    /// The measurements, one per type.
    #[serde(default)]
    pub measurements: Vec<Measurement>,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            kind: SNAPSHOT_KIND.to_owned(),
            api_version: SNAPSHOT_API_VERSION.to_owned(),
            metadata: Metadata::default(),
            measurements: Vec::new(),
        }
    }
}

impl Snapshot {
    /// The first measurement of the given type (case-insensitive).
    pub fn measurement(&self, kind: MeasurementType) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.is(kind))
    }

    /// A reading by type, subtype and key.
    pub fn reading(&self, kind: MeasurementType, subtype: &str, key: &str) -> Option<&Reading> {
        self.measurement(kind)?.subtype(subtype)?.data.get(key)
    }
}

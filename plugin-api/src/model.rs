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
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Read straight from the scalar the format hands over. (A derived untagged enum would buffer
/// each value and try the variants in turn, formatting an error message for every miss: most of
/// the cost of reading a large fleet of snapshots.) Accepts exactly what the variants accept:
/// booleans, integers (those above `i64::MAX` as [`Reading::Uint`]), floats and text.
impl<'de> Deserialize<'de> for Reading {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ReadingVisitor)
    }
}

struct ReadingVisitor;

impl serde::de::Visitor<'_> for ReadingVisitor {
    type Value = Reading;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean, a number or text")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Reading, E> {
        Ok(Reading::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Reading, E> {
        Ok(Reading::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Reading, E> {
        Ok(Reading::from(v))
    }
    fn visit_i128<E: serde::de::Error>(self, v: i128) -> Result<Reading, E> {
        if let Ok(i) = i64::try_from(v) {
            Ok(Reading::Int(i))
        } else if let Ok(u) = u64::try_from(v) {
            Ok(Reading::Uint(u))
        } else {
            Err(E::invalid_value(
                serde::de::Unexpected::Other("an integer beyond 64 bits"),
                &self,
            ))
        }
    }
    fn visit_u128<E: serde::de::Error>(self, v: u128) -> Result<Reading, E> {
        match u64::try_from(v) {
            Ok(u) => Ok(Reading::from(u)),
            Err(_) => Err(E::invalid_value(
                serde::de::Unexpected::Other("an integer beyond 64 bits"),
                &self,
            )),
        }
    }
    fn visit_f64<E>(self, v: f64) -> Result<Reading, E> {
        Ok(Reading::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Reading, E> {
        Ok(Reading::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Reading, E> {
        Ok(Reading::Str(v))
    }
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
impl From<usize> for Reading {
    fn from(v: usize) -> Self {
        // usize is at most 64 bits wide on every platform eidos builds for.
        u64::try_from(v).map_or_else(|_| Reading::Str(v.to_string()), Reading::from)
    }
}
impl From<isize> for Reading {
    fn from(v: isize) -> Self {
        i64::try_from(v).map_or_else(|_| Reading::Str(v.to_string()), Reading::Int)
    }
}

/// 128-bit integers (byte counters, IDs): an `Int` or `Uint` when the value fits in 64 bits, as
/// for the narrower widths; beyond that, its exact decimal text as a `Str`, never rounded or cut
/// (the snapshot format has no wider integer, and a float would lose digits), as `usize` and
/// `isize` do on a platform wider than 64 bits.
impl From<i128> for Reading {
    fn from(v: i128) -> Self {
        if let Ok(i) = i64::try_from(v) {
            Reading::Int(i)
        } else if let Ok(u) = u64::try_from(v) {
            Reading::Uint(u)
        } else {
            Reading::Str(v.to_string())
        }
    }
}
/// See the `i128` conversion.
impl From<u128> for Reading {
    fn from(v: u128) -> Self {
        u64::try_from(v).map_or_else(|_| Reading::Str(v.to_string()), Reading::from)
    }
}

/// Integer widths that always fit in `i64`.
macro_rules! reading_from_small_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Reading {
            fn from(v: $t) -> Self {
                Reading::Int(i64::from(v))
            }
        }
    )*};
}
reading_from_small_int!(i8, i16, i32, u8, u16, u32);

impl From<i64> for Reading {
    fn from(v: i64) -> Self {
        Reading::Int(v)
    }
}
impl From<f32> for Reading {
    fn from(v: f32) -> Self {
        Reading::Float(f64::from(v))
    }
}
/// `None` becomes the empty string, as the original Go tool writes a value it could not read.
impl<T: Into<Reading>> From<Option<T>> for Reading {
    fn from(v: Option<T>) -> Self {
        v.map_or_else(|| Reading::Str(String::new()), Into::into)
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
    #[serde(default, deserialize_with = "readings")]
    pub data: IndexMap<String, Reading>,
    /// Optional explanations, key → one line of text (recipes carry them; snapshots usually not).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub context: IndexMap<String, String>,
}

/// Reads a subtype's readings: the entries first, then the map built at its final size. Neither
/// JSON nor YAML says how many entries a map has, and the map grown entry by entry re-indexed
/// every key several times over (a twentieth of the CPU time of reading a fleet of snapshots). A
/// key written twice keeps its first place and its last value, as inserting one by one does.
fn readings<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<IndexMap<String, Reading>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = IndexMap<String, Reading>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut access: A,
        ) -> Result<Self::Value, A::Error> {
            // A hint from the format is trusted only so far: it sizes, it does not allocate.
            let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
            while let Some(entry) = access.next_entry::<String, Reading>()? {
                entries.push(entry);
            }
            let mut map = IndexMap::with_capacity(entries.len());
            map.extend(entries);
            Ok(map)
        }
    }
    deserializer.deserialize_map(Entries)
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

/// So that every look-up by type ([`Measurement::new`], [`Measurement::is`],
/// [`Snapshot::measurement`]) takes a built-in type and a vendor's type name (`"acme-nic"`) alike.
impl AsRef<str> for MeasurementType {
    fn as_ref(&self) -> &str {
        self.as_str()
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
    /// A measurement of a built-in type (`MeasurementType::Os`) or of any other type name
    /// (`"acme-nic"`; vendors prefix theirs, see the plugin guide).
    pub fn new(kind: impl AsRef<str>, subtypes: Vec<Subtype>) -> Self {
        Measurement {
            kind: kind.as_ref().to_owned(),
            subtypes,
        }
    }

    /// The known type this measurement is, if any (case-insensitive).
    pub fn known_type(&self) -> Option<MeasurementType> {
        MeasurementType::parse(&self.kind)
    }

    /// Whether this measurement is of the given type, built-in or named (case-insensitive).
    pub fn is(&self, kind: impl AsRef<str>) -> bool {
        self.kind.eq_ignore_ascii_case(kind.as_ref())
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
    /// The first measurement of the given type, built-in or named (case-insensitive).
    pub fn measurement(&self, kind: impl AsRef<str>) -> Option<&Measurement> {
        let kind = kind.as_ref();
        self.measurements.iter().find(|m| m.is(kind))
    }

    /// A reading by type (built-in or named), subtype and key.
    pub fn reading(&self, kind: impl AsRef<str>, subtype: &str, key: &str) -> Option<&Reading> {
        self.measurement(kind)?.subtype(subtype)?.data.get(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shared fixture in the original Go tool's format.
    fn reference() -> &'static str {
        eidos_test_fixtures::H100_EKS_GO_YAML
    }

    #[test]
    fn a_subtypes_readings_read_as_the_map_reads_them_a_key_written_twice_included() {
        let data = r#"{"b": 1, "a": "x", "b": 3, "c": true}"#;
        let subtype: Subtype =
            serde_json::from_str(&format!(r#"{{"subtype": "s", "data": {data}}}"#)).unwrap();
        let map: IndexMap<String, Reading> = serde_json::from_str(data).unwrap();
        assert_eq!(subtype.data, map);
        let keys: Vec<&str> = subtype.data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(subtype.data["b"], Reading::Int(3));
        let yaml: Subtype = serde_yaml::from_str("subtype: s\ndata:\n  z: 1\n  y: two\n").unwrap();
        assert_eq!(
            yaml.data.keys().map(String::as_str).collect::<Vec<_>>(),
            ["z", "y"]
        );
        let empty: Subtype = serde_yaml::from_str("subtype: s\n").unwrap();
        assert!(empty.data.is_empty());
        let err = serde_json::from_str::<Subtype>(r#"{"subtype": "s", "data": [1]}"#).unwrap_err();
        assert!(err.to_string().contains("expected a map"), "{err}");
    }

    #[test]
    fn readings_keep_their_kind_from_yaml_and_json_and_refuse_what_is_not_a_scalar() {
        let yaml: IndexMap<String, Reading> = serde_yaml::from_str(
            "b: true\ni: -3\nz: 0\nbig: 18446744073709551615\nf: 1.5\ns: '0'\nt: text\n",
        )
        .unwrap();
        let json: IndexMap<String, Reading> = serde_json::from_str(
            r#"{"b":true,"i":-3,"z":0,"big":18446744073709551615,"f":1.5,"s":"0","t":"text"}"#,
        )
        .unwrap();
        let expected: IndexMap<String, Reading> = [
            ("b", Reading::Bool(true)),
            ("i", Reading::Int(-3)),
            ("z", Reading::Int(0)),
            ("big", Reading::Uint(u64::MAX)),
            ("f", Reading::Float(1.5)),
            ("s", Reading::from("0")),
            ("t", Reading::from("text")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(yaml, expected);
        assert_eq!(json, expected);
        for bad in ["v: null\n", "v: [1]\n", "v: {a: 1}\n"] {
            let err = serde_yaml::from_str::<IndexMap<String, Reading>>(bad).unwrap_err();
            assert!(
                err.to_string().contains("a boolean, a number or text"),
                "{bad}: {err}"
            );
        }
        assert!(serde_json::from_str::<Reading>("null").is_err());
    }

    #[test]
    fn reference_snapshot_round_trips_through_yaml_without_loss() {
        let text = reference();
        let snap: Snapshot = serde_yaml::from_str(text).unwrap();
        let written = serde_yaml::to_string(&snap).unwrap();
        let original: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
        let again: serde_yaml::Value = serde_yaml::from_str(&written).unwrap();
        assert_eq!(original, again, "yaml round trip changed the document");
        // Key order is kept, not just the set of keys.
        let keys = |v: &serde_yaml::Value| -> Vec<String> {
            v["measurements"][0]["subtypes"][0]["data"]
                .as_mapping()
                .unwrap()
                .keys()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(keys(&original), keys(&again));
        let reparsed: Snapshot = serde_yaml::from_str(&written).unwrap();
        assert_eq!(snap, reparsed);
    }

    #[test]
    fn reference_snapshot_keeps_types_exactly() {
        let snap: Snapshot = serde_yaml::from_str(reference()).unwrap();
        let systemd = |k: &str| snap.reading(MeasurementType::SystemD, "containerd.service", k);
        assert_eq!(systemd("BlockIOWeight"), Some(&Reading::Uint(u64::MAX)));
        assert_eq!(systemd("CPUAccounting"), Some(&Reading::Bool(true)));
        assert_eq!(
            systemd("CPUSchedulingPolicy"),
            Some(&Reading::Str("0".into()))
        );
        assert_eq!(systemd("CoredumpFilter"), Some(&Reading::Int(51)));
        // A quoted negative number stays text; an unquoted big one stays an integer.
        assert_eq!(
            systemd("OOMScoreAdjust"),
            Some(&Reading::Str("-999".into()))
        );
        assert_eq!(
            systemd("CPUUsageNSec"),
            Some(&Reading::Int(84_211_905_331_000))
        );
        assert_eq!(
            snap.reading(MeasurementType::Os, "sysctl", "/proc/sys/fs/file-nr"),
            Some(&Reading::Str("21888\t0\t9223372036854775807".into()))
        );
        assert_eq!(
            snap.reading(MeasurementType::Gpu, "smi", "cuda-version"),
            Some(&Reading::Str("12.8".into()))
        );
        assert_eq!(
            snap.reading(MeasurementType::Gpu, "smi", "gpu-count"),
            Some(&Reading::Int(8))
        );
        assert_eq!(
            snap.reading(MeasurementType::Os, "kmod", "autofs4"),
            Some(&Reading::Bool(true))
        );
        assert_eq!(snap.metadata.snapshot_version.as_deref(), Some("0.7.1"));
    }

    #[test]
    fn reference_snapshot_round_trips_through_json() {
        let snap: Snapshot = serde_yaml::from_str(reference()).unwrap();
        let json = serde_json::to_string(&snap).unwrap();
        assert!(json.contains("\"BlockIOWeight\":18446744073709551615"));
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(snap, back);
    }

    #[test]
    fn measurement_types_match_case_insensitively() {
        for (name, kind) in [
            ("OS", MeasurementType::Os),
            ("SystemD", MeasurementType::SystemD),
            ("K8s", MeasurementType::K8s),
            ("GPU", MeasurementType::Gpu),
            ("gpu", MeasurementType::Gpu),
        ] {
            assert_eq!(MeasurementType::parse(name), Some(kind));
        }
        assert_eq!(MeasurementType::parse("network"), None);
    }

    #[test]
    fn vendor_type_names_build_and_find_measurements_like_built_in_ones() {
        let snap = Snapshot {
            measurements: vec![
                Measurement::new(MeasurementType::Os, vec![Subtype::new("a").with("k", 1)]),
                Measurement::new("acme-nic", vec![Subtype::new("port0").with("mtu", 9000u16)]),
                Measurement::new(String::from("acme-fan"), vec![]),
            ],
            ..Snapshot::default()
        };
        assert_eq!(snap.measurements[1].kind, "acme-nic");
        assert_eq!(
            snap.reading("ACME-NIC", "port0", "mtu"),
            Some(&Reading::Int(9000))
        );
        assert_eq!(
            snap.reading(MeasurementType::Os, "a", "k"),
            Some(&Reading::Int(1))
        );
        assert!(snap.measurement(MeasurementType::Gpu).is_none());
        assert!(snap.measurement("acme-fan").is_some());
        assert!(snap.measurement("acme-none").is_none());
    }

    #[test]
    fn readings_convert_from_every_integer_width_and_options() {
        assert_eq!(Reading::from(-8i8), Reading::Int(-8));
        assert_eq!(Reading::from(255u8), Reading::Int(255));
        assert_eq!(Reading::from(-16i16), Reading::Int(-16));
        assert_eq!(Reading::from(u16::MAX), Reading::Int(65535));
        assert_eq!(Reading::from(usize::MAX), Reading::Uint(u64::MAX));
        assert_eq!(Reading::from(isize::MIN), Reading::Int(i64::MIN));
        assert_eq!(Reading::from(0.5f32), Reading::Float(0.5));
        assert_eq!(Reading::from(-5i128), Reading::Int(-5));
        assert_eq!(Reading::from(i128::from(i64::MIN)), Reading::Int(i64::MIN));
        assert_eq!(Reading::from(i128::from(u64::MAX)), Reading::Uint(u64::MAX));
        assert_eq!(Reading::from(7u128), Reading::Int(7));
        assert_eq!(Reading::from(u128::from(u64::MAX)), Reading::Uint(u64::MAX));
        // Beyond 64 bits: the exact digits, as text.
        assert_eq!(
            Reading::from(u128::MAX),
            Reading::Str("340282366920938463463374607431768211455".into())
        );
        assert_eq!(
            Reading::from(i128::from(i64::MIN) - 1),
            Reading::Str("-9223372036854775809".into())
        );
        assert_eq!(
            Reading::from(Some(1u128 << 64)),
            Reading::Str("18446744073709551616".into())
        );
        assert_eq!(Reading::from(Some(3u8)), Reading::Int(3));
        assert_eq!(Reading::from(Some("x")), Reading::Str("x".into()));
        assert_eq!(Reading::from(None::<u64>), Reading::Str(String::new()));
        // Existing calls keep inferring: an unsuffixed literal is still an i32.
        assert_eq!(Subtype::new("s").with("n", 5).data["n"], Reading::Int(5));
    }

    #[test]
    fn unknown_metadata_keys_are_kept() {
        let text = "kind: Snapshot\napiVersion: snapshot.dgxc.io/v1\nmetadata:\n  zone: a\n  source-node: n1\nmeasurements: []\n";
        let snap: Snapshot = serde_yaml::from_str(text).unwrap();
        assert_eq!(
            snap.metadata.extra.get("zone"),
            Some(&serde_json::json!("a"))
        );
        let out = serde_yaml::to_string(&snap).unwrap();
        assert!(out.contains("zone: a"), "{out}");
    }

    proptest::proptest! {
        #[test]
        fn readings_round_trip_through_yaml_and_json(
            n in proptest::prelude::any::<u64>(),
            i in proptest::prelude::any::<i64>(),
            b in proptest::prelude::any::<bool>(),
            s in "[a-zA-Z0-9 ._-]{0,12}",
        ) {
            let sub = Subtype::new("x").with("n", n).with("i", i).with("b", b).with("s", s.as_str());
            let yaml = serde_yaml::to_string(&sub).unwrap();
            let back: Subtype = serde_yaml::from_str(&yaml).unwrap();
            proptest::prop_assert_eq!(&back, &sub);
            let json = serde_json::to_string(&sub).unwrap();
            let back: Subtype = serde_json::from_str(&json).unwrap();
            proptest::prop_assert_eq!(back, sub);
        }
    }
}

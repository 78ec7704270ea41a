//! What two snapshots are compared on: each collector's presence, and the readings at
//! `type / subtype / key` that the ignore rules leave in.
//!
//! - Types compare without regard to case (`OS` is `os`, as the Go tool writes it), subtypes and
//!   keys exactly. A type or subtype written twice counts once, the first time (as
//!   [`Snapshot::measurement`] reads it).
//! - Values compare by kind: integers, booleans and text exactly, floating-point numbers as
//!   written; a value whose kind changed (`"5"` to `5`) changed.
//! - Metadata is not compared, except how each collector fared: the time the snapshot was taken,
//!   durations, plugin and tool versions, warnings and reasons never count as drift.
//! - A collector that did not run on one side (not applicable, failed, not selected) is one
//!   difference of its own ([`Presence`]), not a removal of each of its readings.

use crate::ignore::Matcher;
use eidos_plugin_api::model::CollectorStatus;
use eidos_plugin_api::{Measurement, Reading, Snapshot, Subtype};
use serde::Serialize;
use std::fmt;

/// Whether a collector's readings are in a snapshot, and if not, why.
///
/// A collector and the measurement type it writes share a name (`os`, `gpu` …), as eidos's own
/// collectors do: a type with a measurement [`Ran`](Presence::Ran); one without is whatever the
/// snapshot's metadata says about the collector of that name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Presence {
    /// Its readings are there (possibly none, if it recorded none).
    Ran,
    /// It reported that it does not apply to the node.
    NotApplicable,
    /// It failed.
    Failed,
    /// It did not finish in time.
    TimedOut,
    /// It was cancelled after another collector failed.
    Cancelled,
    /// No record of it: not selected, or a snapshot that keeps no per-collector record (the Go
    /// tool's).
    NotRun,
}

impl Presence {
    /// The name written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Ran => "ran",
            Presence::NotApplicable => "not-applicable",
            Presence::Failed => "failed",
            Presence::TimedOut => "timed-out",
            Presence::Cancelled => "cancelled",
            Presence::NotRun => "not-run",
        }
    }

    fn of_status(status: CollectorStatus) -> Presence {
        match status {
            CollectorStatus::Ok => Presence::Ran,
            CollectorStatus::NotApplicable => Presence::NotApplicable,
            CollectorStatus::Failed => Presence::Failed,
            CollectorStatus::TimedOut => Presence::TimedOut,
            CollectorStatus::Cancelled => Presence::Cancelled,
        }
    }

    /// Every presence, in the order of [`Presence::code`].
    const ALL: [Presence; 6] = [
        Presence::Ran,
        Presence::NotApplicable,
        Presence::Failed,
        Presence::TimedOut,
        Presence::Cancelled,
        Presence::NotRun,
    ];

    /// A one-byte code (for [`crate::fleet`]'s encoding).
    pub(crate) fn code(self) -> u8 {
        Presence::ALL.iter().position(|&p| p == self).unwrap_or(0) as u8
    }

    /// The presence of a code written by [`Presence::code`].
    pub(crate) fn from_code(code: u8) -> Option<Presence> {
        Presence::ALL.get(usize::from(code)).copied()
    }
}

impl fmt::Display for Presence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether two readings are the same value: same kind and equal, floating-point numbers as
/// written (by their bits, so `-0.0` is not `0.0`, and any NaN is NaN).
pub fn same_value(a: &Reading, b: &Reading) -> bool {
    match (a, b) {
        (Reading::Bool(x), Reading::Bool(y)) => x == y,
        (Reading::Int(x), Reading::Int(y)) => x == y,
        (Reading::Uint(x), Reading::Uint(y)) => x == y,
        (Reading::Str(x), Reading::Str(y)) => x == y,
        (Reading::Float(x), Reading::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        _ => false,
    }
}

/// One snapshot as a comparison sees it: its types in name order, each with its presence and
/// its compared readings.
#[derive(Debug, Clone, Default)]
pub struct View<'a> {
    /// The types, by lower-case name, sorted.
    pub types: Vec<TypeView<'a>>,
    /// How many readings the ignore rules left out.
    pub ignored: usize,
}

/// One type of a [`View`].
#[derive(Debug, Clone)]
pub struct TypeView<'a> {
    /// The type name in lower case.
    pub name: String,
    /// Whether the collector's readings are there.
    pub presence: Presence,
    /// Why not, as the snapshot says (not compared).
    pub reason: Option<&'a str>,
    /// The subtypes, sorted by name (empty unless [`Presence::Ran`]).
    pub subtypes: Vec<SubtypeView<'a>>,
}

impl TypeView<'_> {
    /// How many readings are compared in this type.
    pub fn readings(&self) -> usize {
        self.subtypes.iter().map(|s| s.readings.len()).sum()
    }
}

/// One subtype of a [`TypeView`].
#[derive(Debug, Clone)]
pub struct SubtypeView<'a> {
    /// The subtype name.
    pub name: &'a str,
    /// The readings the ignore rules leave in, sorted by key.
    pub readings: Vec<(&'a str, &'a Reading)>,
}

impl<'a> View<'a> {
    /// The view of `snapshot`, leaving out what `matcher` ignores.
    pub fn new(snapshot: &'a Snapshot, matcher: &mut Matcher<'_>) -> View<'a> {
        // Sorted by name, stably, so that of a name written twice the first is kept.
        let mut measurements: Vec<(String, &'a Measurement)> = snapshot
            .measurements
            .iter()
            .map(|m| (m.kind.to_ascii_lowercase(), m))
            .collect();
        measurements.sort_by(|a, b| a.0.cmp(&b.0));
        measurements.dedup_by(|later, first| later.0 == first.0);

        let mut ignored = 0;
        let mut types: Vec<TypeView<'a>> = Vec::with_capacity(measurements.len());
        for (name, measurement) in measurements {
            let mut named: Vec<&'a Subtype> = measurement.subtypes.iter().collect();
            named.sort_by(|a, b| a.subtype.cmp(&b.subtype));
            named.dedup_by(|later, first| later.subtype == first.subtype);
            let subtypes = named
                .into_iter()
                .map(|subtype| {
                    let (readings, left_out) = matcher
                        .subtype(&name, &subtype.subtype)
                        .kept_in_key_order(&subtype.data);
                    ignored += left_out;
                    SubtypeView {
                        name: &subtype.subtype,
                        readings,
                    }
                })
                .collect();
            types.push(TypeView {
                name,
                presence: Presence::Ran,
                reason: None,
                subtypes,
            });
        }
        let measured = types.len();
        for (collector, report) in &snapshot.metadata.collectors {
            let name = collector.to_ascii_lowercase();
            if types[..measured]
                .binary_search_by(|t| t.name.as_str().cmp(&name))
                .is_ok()
            {
                continue;
            }
            types.push(TypeView {
                name,
                presence: Presence::of_status(report.status),
                reason: report.reason.as_deref(),
                subtypes: Vec::new(),
            });
        }
        types.sort_by(|a, b| a.name.cmp(&b.name));
        // Collector names differing only in case: the first record.
        types.dedup_by(|later, first| later.name == first.name);
        View { types, ignored }
    }

    /// The type named `name` (lower case).
    pub fn get(&self, name: &str) -> Option<&TypeView<'a>> {
        self.types
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.types[i])
    }

    /// The presence of type `name` (lower case): [`Presence::NotRun`] when the snapshot does not
    /// mention it.
    pub fn presence(&self, name: &str) -> Presence {
        self.get(name).map_or(Presence::NotRun, |t| t.presence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignore::{IgnoreRules, Origin};
    use eidos_plugin_api::model::CollectorReport;
    use eidos_recipes::validate::KeyPattern;

    fn snapshot() -> Snapshot {
        let mut s = Snapshot::default();
        s.measurements.push(Measurement {
            kind: "OS".into(),
            subtypes: vec![
                Subtype::new("sysctl").with("b", "2").with("a", "1"),
                Subtype::new("grub").with("quiet", ""),
                Subtype::new("sysctl").with("a", "shadowed"),
            ],
        });
        s.measurements.push(Measurement {
            kind: "os".into(),
            subtypes: vec![Subtype::new("shadowed")],
        });
        s.metadata.collectors.insert(
            "gpu".into(),
            CollectorReport {
                status: CollectorStatus::NotApplicable,
                reason: Some("no GPU".into()),
                warnings: vec![],
                duration_ms: 1.0,
                plugin_version: "1".into(),
            },
        );
        s.metadata.collectors.insert(
            "os".into(),
            CollectorReport {
                status: CollectorStatus::Ok,
                reason: None,
                warnings: vec![],
                duration_ms: 1.0,
                plugin_version: "1".into(),
            },
        );
        s
    }

    #[test]
    fn a_view_sorts_folds_case_keeps_the_first_and_records_presence() {
        let s = snapshot();
        let rules = IgnoreRules::new();
        let view = View::new(&s, &mut rules.matcher());
        let names: Vec<&str> = view.types.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["gpu", "os"]);
        let os = view.get("os").unwrap();
        assert_eq!(os.presence, Presence::Ran);
        let subtypes: Vec<&str> = os.subtypes.iter().map(|s| s.name).collect();
        assert_eq!(subtypes, ["grub", "sysctl"]);
        let sysctl: Vec<(&str, String)> = os.subtypes[1]
            .readings
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        assert_eq!(sysctl, [("a", "1".to_owned()), ("b", "2".to_owned())]);
        let gpu = view.get("gpu").unwrap();
        assert_eq!(gpu.presence, Presence::NotApplicable);
        assert_eq!(gpu.reason, Some("no GPU"));
        assert_eq!(view.presence("k8s"), Presence::NotRun);
    }

    #[test]
    fn ignored_readings_are_left_out_and_counted() {
        let s = snapshot();
        let mut rules = IgnoreRules::new();
        rules.add(KeyPattern::parse("os/sysctl/b").unwrap(), Origin::Flag);
        let view = View::new(&s, &mut rules.matcher());
        assert_eq!(view.ignored, 1);
        assert_eq!(view.get("os").unwrap().readings(), 2);
    }

    #[test]
    fn values_compare_by_kind() {
        use Reading::*;
        assert!(same_value(&Uint(u64::MAX), &Uint(u64::MAX)));
        assert!(!same_value(&Int(i64::MAX), &Int(i64::MAX - 1)));
        assert!(!same_value(&Str("5".into()), &Int(5)));
        assert!(!same_value(&Int(5), &Float(5.0)));
        assert!(same_value(&Float(0.1), &Float(0.1)));
        assert!(!same_value(&Float(0.0), &Float(-0.0)));
        assert!(same_value(&Float(f64::NAN), &Float(f64::NAN)));
        assert!(!same_value(&Bool(true), &Str("true".into())));
    }

    #[test]
    fn presence_codes_round_trip() {
        for p in Presence::ALL {
            assert_eq!(Presence::from_code(p.code()), Some(p));
        }
        assert_eq!(Presence::from_code(99), None);
    }
}

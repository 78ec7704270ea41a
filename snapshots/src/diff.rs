//! `eidos diff`: what changed between two snapshots, grouped by type and subtype, and the
//! complete RFC 6902 JSON Patch from one document to the other.

use crate::compare::{same_value, Presence, SubtypeView, TypeView, View};
use crate::ignore::{IgnoreRules, Rule};
use eidos_plugin_api::{Reading, Snapshot};
use indexmap::IndexMap;
use serde::Serialize;

/// The `kind` of a diff report document.
pub const DIFF_KIND: &str = "SnapshotDiff";

/// One side of a comparison, as the report names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Side {
    /// Where the snapshot was read from (a file, `-`).
    pub source: String,
    /// The node it describes (`source-node`), if it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// When it was taken (`measurement-timestamp`), if it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken: Option<String>,
}

impl Side {
    /// The side for `snapshot`, read from `source`.
    pub fn of(source: impl Into<String>, snapshot: &Snapshot) -> Side {
        Side {
            source: source.into(),
            node: snapshot.metadata.source_node.clone(),
            taken: snapshot.metadata.measurement_timestamp.clone(),
        }
    }
}

/// The counts of a diff.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffSummary {
    /// Whether anything differs (readings or collectors).
    pub drift: bool,
    /// Readings only NEW has.
    pub added: usize,
    /// Readings only OLD has.
    pub removed: usize,
    /// Readings whose value changed.
    pub changed: usize,
    /// Collectors that ran on one side and not the other, or fared differently.
    pub collectors: usize,
    /// Readings the ignore rules left out (both sides together).
    pub ignored: usize,
}

/// A collector that ran on one side and not on the other, or that did not run on either for
/// different reasons. Its readings are not compared key by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectorChange {
    /// The collector (and measurement type) name.
    pub collector: String,
    /// How it fared in OLD.
    pub old: Presence,
    /// How it fared in NEW.
    pub new: Presence,
    /// Why it did not run in OLD, as OLD says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_reason: Option<String>,
    /// Why it did not run in NEW, as NEW says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_reason: Option<String>,
    /// How many of its readings the side where it ran holds (not listed one by one).
    pub readings: usize,
}

/// A value before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// In OLD.
    pub old: Reading,
    /// In NEW.
    pub new: Reading,
}

/// The differences in one subtype.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubtypeChanges {
    /// The type, in lower case.
    #[serde(rename = "type")]
    pub kind: String,
    /// The subtype.
    pub subtype: String,
    /// Readings only NEW has, by key.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub added: IndexMap<String, Reading>,
    /// Readings only OLD has, by key.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub removed: IndexMap<String, Reading>,
    /// Readings whose value changed, by key.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub changed: IndexMap<String, Change>,
}

impl SubtypeChanges {
    fn new(kind: &str, subtype: &str) -> Self {
        SubtypeChanges {
            kind: kind.to_owned(),
            subtype: subtype.to_owned(),
            added: IndexMap::new(),
            removed: IndexMap::new(),
            changed: IndexMap::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// What `eidos diff` reports (`kind: SnapshotDiff`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    /// Always [`DIFF_KIND`].
    pub kind: &'static str,
    /// The old snapshot.
    pub old: Side,
    /// The new snapshot.
    pub new: Side,
    /// The counts and the verdict.
    pub summary: DiffSummary,
    /// Collectors that ran on one side only, or fared differently.
    pub collectors: Vec<CollectorChange>,
    /// The reading differences, by type then subtype, each sorted by name.
    pub changes: Vec<SubtypeChanges>,
    /// The patterns that were ignored, and where each came from.
    pub ignored: Vec<Rule>,
}

/// Compares OLD with NEW under `rules`.
pub fn diff(old: (&Snapshot, Side), new: (&Snapshot, Side), rules: &IgnoreRules) -> DiffReport {
    let mut matcher = rules.matcher();
    let old_view = View::new(old.0, &mut matcher);
    let new_view = View::new(new.0, &mut matcher);
    let mut report = DiffReport {
        kind: DIFF_KIND,
        old: old.1,
        new: new.1,
        summary: DiffSummary {
            ignored: old_view.ignored + new_view.ignored,
            ..DiffSummary::default()
        },
        collectors: Vec::new(),
        changes: Vec::new(),
        ignored: rules.rules().to_vec(),
    };
    for (a, b) in merge(&old_view.types, &new_view.types, |t| t.name.as_str()) {
        let name = a.or(b).map(|t| t.name.as_str()).unwrap_or_default();
        let presence = |t: Option<&TypeView<'_>>| t.map_or(Presence::NotRun, |t| t.presence);
        let (pa, pb) = (presence(a), presence(b));
        match (a, b) {
            (Some(a), Some(b)) if pa == Presence::Ran && pb == Presence::Ran => {
                diff_type(name, a, b, &mut report.changes);
            }
            _ if pa == pb => {}
            _ => {
                let ran = if pa == Presence::Ran { a } else { b };
                let reason = |t: Option<&TypeView<'_>>| t.and_then(|t| t.reason).map(str::to_owned);
                report.collectors.push(CollectorChange {
                    collector: name.to_owned(),
                    old: pa,
                    new: pb,
                    old_reason: reason(a),
                    new_reason: reason(b),
                    readings: ran.map_or(0, TypeView::readings),
                });
            }
        }
    }
    let s = &mut report.summary;
    for c in &report.changes {
        s.added += c.added.len();
        s.removed += c.removed.len();
        s.changed += c.changed.len();
    }
    s.collectors = report.collectors.len();
    s.drift = s.added + s.removed + s.changed + s.collectors > 0;
    report
}

fn diff_type(kind: &str, old: &TypeView<'_>, new: &TypeView<'_>, out: &mut Vec<SubtypeChanges>) {
    let empty = |name| SubtypeView {
        name,
        readings: Vec::new(),
    };
    for (a, b) in merge(&old.subtypes, &new.subtypes, |s| s.name) {
        let name = a.or(b).map(|s| s.name).unwrap_or_default();
        let (a, b) = (
            a.cloned().unwrap_or_else(|| empty(name)),
            b.cloned().unwrap_or_else(|| empty(name)),
        );
        let mut changes = SubtypeChanges::new(kind, name);
        for (x, y) in merge(&a.readings, &b.readings, |r| r.0) {
            match (x, y) {
                (Some((key, x)), Some((_, y))) if !same_value(x, y) => {
                    changes.changed.insert(
                        (*key).to_owned(),
                        Change {
                            old: (*x).clone(),
                            new: (*y).clone(),
                        },
                    );
                }
                (Some((key, x)), None) => {
                    changes.removed.insert((*key).to_owned(), (*x).clone());
                }
                (None, Some((key, y))) => {
                    changes.added.insert((*key).to_owned(), (*y).clone());
                }
                _ => {}
            }
        }
        if !changes.is_empty() {
            out.push(changes);
        }
    }
}

/// Walks two lists sorted by `key` side by side: each key once, with the item of each list that
/// has it.
fn merge<'x, T, K: Ord>(
    a: &'x [T],
    b: &'x [T],
    key: impl Fn(&'x T) -> K,
) -> impl Iterator<Item = (Option<&'x T>, Option<&'x T>)> {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || match (a.get(i), b.get(j)) {
        (None, None) => None,
        (Some(x), None) => {
            i += 1;
            Some((Some(x), None))
        }
        (None, Some(y)) => {
            j += 1;
            Some((None, Some(y)))
        }
        (Some(x), Some(y)) => match key(x).cmp(&key(y)) {
            std::cmp::Ordering::Less => {
                i += 1;
                Some((Some(x), None))
            }
            std::cmp::Ordering::Greater => {
                j += 1;
                Some((None, Some(y)))
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
                Some((Some(x), Some(y)))
            }
        },
    })
}

/// The RFC 6902 JSON Patch that turns `old` into `new`: complete (every difference, no ignore
/// rules), with array indices that refer to the documents as they are, applied in order.
pub fn json_patch(old: &serde_json::Value, new: &serde_json::Value) -> serde_json::Value {
    let patch = json_patch::diff(old, new);
    // A patch is a list of plain operations: it always encodes.
    serde_json::to_value(patch).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignore::Origin;
    use eidos_plugin_api::model::{CollectorReport, CollectorStatus};
    use eidos_plugin_api::Subtype;
    use eidos_recipes::validate::KeyPattern;

    fn reference() -> Snapshot {
        serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap()
    }

    fn run(old: &Snapshot, new: &Snapshot, rules: &IgnoreRules) -> DiffReport {
        diff(
            (old, Side::of("old", old)),
            (new, Side::of("new", new)),
            rules,
        )
    }

    fn data_mut<'a>(s: &'a mut Snapshot, kind: &str, subtype: &str) -> &'a mut Subtype {
        s.measurements
            .iter_mut()
            .find(|m| m.kind.eq_ignore_ascii_case(kind))
            .unwrap()
            .subtypes
            .iter_mut()
            .find(|x| x.subtype == subtype)
            .unwrap()
    }

    #[test]
    fn a_snapshot_has_no_drift_against_itself_nor_against_its_lower_case_twin() {
        let old = reference();
        let report = run(&old, &old, &IgnoreRules::new());
        assert!(!report.summary.drift, "{report:?}");
        // The same document as eidos writes type names: no drift either.
        let mut lower = old.clone();
        for m in &mut lower.measurements {
            m.kind = m.kind.to_ascii_lowercase();
        }
        lower.metadata.measurement_timestamp = Some("2030-01-01T00:00:00Z".into());
        lower.metadata.snapshot_version = Some("9.9.9".into());
        assert!(!run(&old, &lower, &IgnoreRules::new()).summary.drift);
    }

    #[test]
    fn added_removed_and_changed_readings_are_grouped_by_type_and_subtype() {
        let old = reference();
        let mut new = old.clone();
        let sysctl = data_mut(&mut new, "os", "sysctl");
        sysctl.insert("/proc/sys/net/core/bpf_jit_harden", "0");
        sysctl.data.shift_remove("/proc/sys/fs/aio-nr");
        data_mut(&mut new, "gpu", "smi").insert("driver", "580.65.06");
        data_mut(&mut new, "systemd", "kubelet.service").insert("LimitNOFILE", 1024u64);
        let report = run(&old, &new, &IgnoreRules::new());
        let s = report.summary;
        assert_eq!((s.added, s.removed, s.changed, s.collectors), (1, 1, 2, 0));
        assert!(s.drift);
        let groups: Vec<(&str, &str)> = report
            .changes
            .iter()
            .map(|c| (c.kind.as_str(), c.subtype.as_str()))
            .collect();
        assert_eq!(
            groups,
            [
                ("gpu", "smi"),
                ("os", "sysctl"),
                ("systemd", "kubelet.service")
            ]
        );
        let os = &report.changes[1];
        assert_eq!(
            os.added.get("/proc/sys/net/core/bpf_jit_harden"),
            Some(&Reading::from("0"))
        );
        assert_eq!(
            os.removed.get("/proc/sys/fs/aio-nr"),
            Some(&Reading::from("5120"))
        );
        let limit = &report.changes[2].changed["LimitNOFILE"];
        assert_eq!(limit.old, Reading::Int(1_048_576));
        assert_eq!(limit.new, Reading::Int(1024));
    }

    #[test]
    fn ignore_rules_hide_what_they_match_and_only_that() {
        let old = reference();
        let mut new = old.clone();
        data_mut(&mut new, "systemd", "containerd.service").insert("MainPID", "999");
        data_mut(&mut new, "systemd", "docker.service").insert("ActiveEnterTimestamp", 5u64);
        data_mut(&mut new, "os", "grub").insert("iommu", "off");
        let mut rules = IgnoreRules::new();
        rules.add_volatile(
            "systemd",
            &["systemd/*/MainPID".into(), "systemd/*/*Timestamp".into()],
        );
        let report = run(&old, &new, &rules);
        assert_eq!(
            report.summary.changed + report.summary.added,
            1,
            "{report:?}"
        );
        assert_eq!(report.changes[0].subtype, "grub");
        assert!(report.summary.ignored > 0);
        rules.add(KeyPattern::parse("os/grub/*").unwrap(), Origin::Flag);
        assert!(!run(&old, &new, &rules).summary.drift);
    }

    #[test]
    fn a_collector_that_did_not_run_on_one_side_is_one_change_not_a_list_of_removals() {
        let old = reference();
        let mut new = old.clone();
        new.measurements
            .retain(|m| !m.kind.eq_ignore_ascii_case("gpu"));
        new.metadata.collectors.insert(
            "gpu".into(),
            CollectorReport {
                status: CollectorStatus::Failed,
                reason: Some("NVML: driver not loaded".into()),
                warnings: vec![],
                duration_ms: 3.0,
                plugin_version: "0.1.0".into(),
            },
        );
        let report = run(&old, &new, &IgnoreRules::new());
        assert!(report.changes.is_empty(), "{report:?}");
        assert_eq!(report.collectors.len(), 1);
        let c = &report.collectors[0];
        assert_eq!(
            (c.collector.as_str(), c.old, c.new),
            ("gpu", Presence::Ran, Presence::Failed)
        );
        assert_eq!(c.new_reason.as_deref(), Some("NVML: driver not loaded"));
        assert_eq!(c.readings, 11);
        // Not applicable on both sides for different reasons' texts: no drift; for different
        // outcomes: drift.
        let mut b = new.clone();
        b.metadata.collectors["gpu"].reason = Some("other words".into());
        assert!(!run(&new, &b, &IgnoreRules::new()).summary.drift);
        b.metadata.collectors["gpu"].status = CollectorStatus::TimedOut;
        assert_eq!(run(&new, &b, &IgnoreRules::new()).summary.collectors, 1);
    }

    #[test]
    fn the_json_patch_turns_old_into_new_whole() {
        let old: serde_json::Value =
            serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
        let mut new = old.clone();
        new["metadata"]["measurement-timestamp"] = "2030-01-01T00:00:00Z".into();
        new["measurements"][1]["subtypes"][0]["data"]["iommu"] = "pt".into();
        new["measurements"][3]["subtypes"]
            .as_array_mut()
            .unwrap()
            .insert(
                0,
                serde_json::json!({"subtype": "gpu-0", "data": {"uuid": "GPU-1"}}),
            );
        let patch = json_patch(&old, &new);
        let ops = patch.as_array().unwrap();
        assert!(ops
            .iter()
            .any(|op| op["path"] == "/metadata/measurement-timestamp"));
        let mut applied = old.clone();
        let patch: json_patch::Patch = serde_json::from_value(patch).unwrap();
        json_patch::patch(&mut applied, &patch).unwrap();
        assert_eq!(applied, new);
        assert_eq!(json_patch(&old, &old), serde_json::json!([]));
    }
}

//! Tables for drift reports: `eidos diff` (`kind: SnapshotDiff`) and `eidos fleet report`
//! (`kind: FleetReport`).

use super::{cut, escape, fit, text};
use comfy_table::{presets, Table};
use eidos_plugin_api::{SerializeError, SerializeOptions};
use serde_json::Value;

/// The `kind` of a diff report.
pub const DIFF_KIND: &str = "SnapshotDiff";
/// The `kind` of a fleet report.
pub const FLEET_KIND: &str = "FleetReport";
/// At most this many outlier names are shown in a cell; the JSON report has them all.
const MAX_NAMES: usize = 10;

fn unsupported(format: &str, reason: &str) -> SerializeError {
    SerializeError::Unsupported {
        format: format.to_owned(),
        reason: reason.to_owned(),
    }
}

fn count(v: Option<&Value>, name: &str) -> u64 {
    v.and_then(|v| v.get(name))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// A reading's value as a cell: `(absent)` for null or missing.
fn value_cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(absent)".to_owned(),
        v => cut(&text(v)),
    }
}

fn side(v: Option<&Value>) -> String {
    let mut out = text(v.and_then(|s| s.get("source")));
    let node = text(v.and_then(|s| s.get("node")));
    let taken = text(v.and_then(|s| s.get("taken")));
    let details: Vec<String> = [("node ", node), ("taken ", taken)]
        .into_iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(label, t)| format!("{label}{t}"))
        .collect();
    if !details.is_empty() {
        out.push_str(&format!(" ({})", details.join(", ")));
    }
    out
}

/// `eidos diff`: the two sides, one row per changed reading grouped by type and subtype, the
/// collectors that ran on one side only, then the verdict line.
pub fn diff_table(
    document: &Value,
    format: &str,
    options: &SerializeOptions,
) -> Result<Vec<u8>, SerializeError> {
    let summary = document
        .get("summary")
        .ok_or_else(|| unsupported(format, "the diff report has no `summary`"))?;
    let changes = document
        .get("changes")
        .and_then(Value::as_array)
        .ok_or_else(|| unsupported(format, "the diff report has no `changes` list"))?;
    let mut out = format!(
        "OLD: {}\nNEW: {}\n",
        side(document.get("old")),
        side(document.get("new"))
    );
    if !changes.is_empty() {
        let mut table = Table::new();
        table
            .load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED)
            .set_header(["CHANGE", "TYPE/SUBTYPE", "KEY", "OLD", "NEW"]);
        fit(&mut table, options);
        for group in changes {
            let place = format!("{}/{}", text(group.get("type")), text(group.get("subtype")));
            let entries = |name: &str| {
                group
                    .get(name)
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
            };
            for (key, change) in entries("changed") {
                table.add_row([
                    "changed".to_owned(),
                    place.clone(),
                    escape(key),
                    value_cell(change.get("old")),
                    value_cell(change.get("new")),
                ]);
            }
            for (key, value) in entries("added") {
                table.add_row([
                    "added".to_owned(),
                    place.clone(),
                    escape(key),
                    value_cell(None),
                    value_cell(Some(value)),
                ]);
            }
            for (key, value) in entries("removed") {
                table.add_row([
                    "removed".to_owned(),
                    place.clone(),
                    escape(key),
                    value_cell(Some(value)),
                    value_cell(None),
                ]);
            }
        }
        out.push_str(&table.to_string());
        out.push('\n');
    }
    let collectors = document.get("collectors").and_then(Value::as_array);
    if let Some(collectors) = collectors.filter(|c| !c.is_empty()) {
        out.push_str(
            "\nCollectors that did not run on both sides (their readings not compared):\n",
        );
        for c in collectors {
            let outcome = |side: &str| {
                let reason = text(c.get(format!("{side}Reason")));
                let presence = text(c.get(side));
                if reason.is_empty() {
                    presence
                } else {
                    format!("{presence} ({reason})")
                }
            };
            out.push_str(&format!(
                "  {}: {} in OLD, {} in NEW; {} reading(s)\n",
                text(c.get("collector")),
                outcome("old"),
                outcome("new"),
                count(Some(c), "readings")
            ));
        }
    }
    let drift = summary
        .get("drift")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    out.push_str(&format!(
        "\n{}: {} added, {} removed, {} changed, {} collector(s) differ ({} reading(s) ignored)\n",
        if drift { "DRIFT" } else { "NO DRIFT" },
        count(Some(summary), "added"),
        count(Some(summary), "removed"),
        count(Some(summary), "changed"),
        count(Some(summary), "collectors"),
        count(Some(summary), "ignored"),
    ));
    Ok(out.into_bytes())
}

/// Up to [`MAX_NAMES`] names, then how many more.
fn names(list: Option<&Value>) -> String {
    let all: Vec<String> = list
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|n| text(Some(n)))
        .collect();
    let mut shown = all
        .iter()
        .take(MAX_NAMES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > MAX_NAMES {
        shown.push_str(&format!(" … ({} more)", all.len() - MAX_NAMES));
    }
    shown
}

/// `eidos fleet report`: the summary line, then one row per value of each drifting collector and
/// reading (the majority first, then each minority with its nodes), the configurations, nodes
/// failing validation, unreadable inputs and warnings.
pub fn fleet_table(
    document: &Value,
    format: &str,
    options: &SerializeOptions,
) -> Result<Vec<u8>, SerializeError> {
    let line = document
        .get("summaryLine")
        .and_then(Value::as_str)
        .ok_or_else(|| unsupported(format, "the fleet report has no `summaryLine`"))?;
    let mut out = format!("{}\n", escape(line));
    let collectors = document.get("collectors").and_then(Value::as_array);
    let keys = document.get("keys").and_then(Value::as_array);
    let rows: Vec<(String, &Value)> = collectors
        .into_iter()
        .flatten()
        .map(|c| (format!("collector {}", text(c.get("collector"))), c))
        .chain(keys.into_iter().flatten().map(|k| (text(k.get("path")), k)))
        .collect();
    if !rows.is_empty() {
        let mut table = Table::new();
        table
            .load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED)
            .set_header(["READING", "VALUE", "NODES", "OUTLIERS"]);
        fit(&mut table, options);
        for (what, entry) in rows {
            let majority = entry.get("majority");
            table.add_row([
                cut(&what),
                format!(
                    "{} (majority)",
                    value_cell(majority.and_then(|m| m.get("value")))
                ),
                count(majority, "nodes").to_string(),
                String::new(),
            ]);
            for m in entry
                .get("minorities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                table.add_row([
                    String::new(),
                    value_cell(m.get("value")),
                    count(Some(m), "nodes").to_string(),
                    names(m.get("outliers")),
                ]);
            }
        }
        out.push('\n');
        out.push_str(&table.to_string());
        out.push('\n');
    }
    let configurations = document.get("configurations").and_then(Value::as_array);
    if let Some(configurations) = configurations.filter(|c| c.len() > 1) {
        out.push_str("\nConfigurations (nodes identical once ignored readings are left out):\n");
        for c in configurations {
            out.push_str(&format!(
                "  {}: {} node(s): {}\n",
                count(Some(c), "id"),
                count(Some(c), "nodes"),
                names(c.get("members"))
            ));
        }
    }
    let nodes = document.get("nodes").and_then(Value::as_array);
    let failing: Vec<&Value> = nodes
        .into_iter()
        .flatten()
        .filter(|n| {
            n.get("validation")
                .and_then(|v| v.get("overall"))
                .and_then(Value::as_str)
                == Some("fail")
        })
        .collect();
    if !failing.is_empty() {
        out.push_str("\nNodes failing validation against their recipe:\n");
        for n in failing.iter().take(MAX_NAMES * 5) {
            let v = n.get("validation");
            out.push_str(&format!(
                "  {}: {} required constraint(s) failed ({} failed in all)\n",
                text(n.get("name")),
                count(v, "requiredFailed"),
                count(v, "failed")
            ));
        }
        if failing.len() > MAX_NAMES * 5 {
            out.push_str(&format!("  … ({} more)\n", failing.len() - MAX_NAMES * 5));
        }
    }
    let unreadable = document.get("unreadable").and_then(Value::as_array);
    if let Some(unreadable) = unreadable.filter(|u| !u.is_empty()) {
        out.push_str("\nSkipped (not snapshots):\n");
        for u in unreadable {
            out.push_str(&format!(
                "  {}: {}\n",
                text(u.get("source")),
                text(u.get("reason"))
            ));
        }
    }
    let warnings = document.get("warnings").and_then(Value::as_array);
    if let Some(warnings) = warnings.filter(|w| !w.is_empty()) {
        out.push_str("\nWarnings:\n");
        for w in warnings {
            out.push_str(&format!("  {}\n", text(Some(w))));
        }
    }
    Ok(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(doc: &Value, width: Option<u16>) -> String {
        let options = SerializeOptions::default().with_width(width);
        let out = if doc["kind"] == DIFF_KIND {
            diff_table(doc, "table", &options)
        } else {
            fleet_table(doc, "table", &options)
        };
        String::from_utf8(out.unwrap()).unwrap()
    }

    fn diff_doc() -> Value {
        serde_json::json!({
            "kind": "SnapshotDiff",
            "old": {"source": "old.yaml", "node": "n1", "taken": "2026-01-01T00:00:00Z"},
            "new": {"source": "new.yaml"},
            "summary": {"drift": true, "added": 1, "removed": 1, "changed": 1, "collectors": 1, "ignored": 42},
            "collectors": [{"collector": "gpu", "old": "ran", "new": "not-applicable", "newReason": "no driver", "readings": 11}],
            "changes": [{
                "type": "os", "subtype": "sysctl",
                "added": {"/proc/sys/kernel/numa_balancing": "0"},
                "removed": {"/proc/sys/fs/aio-nr": "5120"},
                "changed": {"/proc/sys/vm/swappiness": {"old": "60", "new": "10"}}
            }],
            "ignored": []
        })
    }

    #[test]
    fn a_diff_shows_sides_rows_by_subtype_collectors_and_the_verdict() {
        let out = render(&diff_doc(), Some(100));
        assert!(
            out.starts_with("OLD: old.yaml (node n1, taken 2026-01-01T00:00:00Z)\nNEW: new.yaml\n"),
            "{out}"
        );
        let at = |needle: &str| {
            out.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {out}"))
        };
        let rows = [
            at("| changed   os/sysctl"),
            at("| added     os/sysctl"),
            at("| removed   os/sysctl"),
        ];
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{out}");
        assert!(
            out.contains("swappiness") && out.contains("(absent)"),
            "{out}"
        );
        assert!(
            out.contains("gpu: ran in OLD, not-applicable (no driver) in NEW; 11 reading(s)"),
            "{out}"
        );
        assert!(
            out.trim_end().ends_with(
                "DRIFT: 1 added, 1 removed, 1 changed, 1 collector(s) differ (42 reading(s) ignored)"
            ),
            "{out}"
        );
        assert!(out.lines().all(|l| l.chars().count() <= 100), "{out}");
    }

    #[test]
    fn no_drift_is_one_verdict_line_after_the_sides() {
        let doc = serde_json::json!({
            "kind": "SnapshotDiff", "old": {"source": "a"}, "new": {"source": "b"},
            "summary": {"drift": false, "ignored": 3}, "collectors": [], "changes": []
        });
        let out = render(&doc, None);
        assert_eq!(
            out,
            "OLD: a\nNEW: b\n\nNO DRIFT: 0 added, 0 removed, 0 changed, 0 collector(s) differ (3 reading(s) ignored)\n"
        );
    }

    #[test]
    fn a_fleet_report_starts_with_its_summary_and_lists_values_and_outliers() {
        let many: Vec<String> = (0..15).map(|i| format!("node-{i:02}")).collect();
        let doc = serde_json::json!({
            "kind": "FleetReport",
            "summaryLine": "100 node(s), 3 configuration(s), 1 drifting key(s), 1 drifting collector(s), 16 outlier node(s)",
            "collectors": [{"collector": "gpu", "majority": {"value": "ran", "nodes": 99},
                "minorities": [{"value": "not-applicable", "nodes": 1, "outliers": ["cpu-1"]}], "deviating": 1}],
            "keys": [{"path": "gpu/smi/driver", "majority": {"value": "570.133.20", "nodes": 84},
                "minorities": [{"value": "550.54.15", "nodes": 15, "outliers": many}], "deviating": 15}],
            "configurations": [{"id": 1, "nodes": 84, "members": ["a"]}, {"id": 2, "nodes": 15, "members": many}],
            "nodes": [{"name": "x", "validation": {"overall": "fail", "requiredFailed": 2, "failed": 3}}],
            "unreadable": [{"source": "dir/notes.txt", "reason": "not a snapshot: malformed YAML"}],
            "warnings": ["node y has 2 snapshots (a, b); each is counted, named after its input"]
        });
        let out = render(&doc, None);
        assert!(out.starts_with("100 node(s), 3 configuration(s)"), "{out}");
        let at = |needle: &str| {
            out.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {out}"))
        };
        assert!(at("collector gpu") < at("gpu/smi/driver"), "{out}");
        assert!(out.contains("570.133.20 (majority)"), "{out}");
        assert!(out.contains("node-00, node-01"), "{out}");
        assert!(out.contains("node-09 … (5 more)"), "{out}");
        assert!(!out.contains("node-10"), "{out}");
        assert!(
            out.contains("x: 2 required constraint(s) failed (3 failed in all)"),
            "{out}"
        );
        assert!(
            out.contains("dir/notes.txt: not a snapshot: malformed YAML"),
            "{out}"
        );
        assert!(out.contains("node y has 2 snapshots"), "{out}");
    }

    #[test]
    fn reports_without_their_parts_are_refused() {
        let err = diff_table(
            &serde_json::json!({"kind": DIFF_KIND}),
            "table",
            &SerializeOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no `summary`"), "{err}");
        let err = fleet_table(
            &serde_json::json!({"kind": FLEET_KIND}),
            "table",
            &SerializeOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("no `summaryLine`"), "{err}");
    }
}

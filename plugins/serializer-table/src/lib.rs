//! The `table` serializer plugin: one row per reading (type, subtype, key, value).
//!
//! On a terminal (the host passes its width) comfy-table lays the table out to fit, and values
//! longer than [`MAX_VALUE_CHARS`] are cut and end with a marker. Written to a file or a pipe the
//! table has no width limit: no cell is wrapped or cut, so that every line can be searched whole.
//! Control characters in any cell (a collected name could hold a terminal escape sequence) are
//! shown escaped (`\u{1b}`), never written raw.
//!
//! A validation report (`kind: ValidationReport`) is written as one row per constraint (status,
//! reading, expected, actual), failures first, then missing, skipped and passed, followed by why
//! each failure matters and the summary line. Drift reports (`kind: SnapshotDiff`,
//! `kind: FleetReport`) have layouts of their own ([`drift`]).

mod drift;

use comfy_table::{presets, ContentArrangement, Table};
use eidos_plugin_api::{SerializeError, SerializeOptions, Serializer};
use serde_json::Value;

/// The width used when a terminal reports none.
const FALLBACK_WIDTH: u16 = 80;
/// On a terminal, values longer than this many characters are cut and end with [`CUT_MARKER`].
const MAX_VALUE_CHARS: usize = 160;
/// What ends a value that was cut.
const CUT_MARKER: &str = " …[cut]";

/// Writes the measurements of a document as a table.
pub struct TableSerializer;

impl Serializer for TableSerializer {
    const NAME: &'static str = "table";
    const DESCRIPTION: &'static str = "a table of readings (type, subtype, key, value) for people";
    const FORMATS: &'static [&'static str] = &["table"];

    fn serialize(document: &Value, format: &str) -> Result<Vec<u8>, SerializeError> {
        Self::serialize_with(
            document,
            format,
            &SerializeOptions::default().with_width(Some(FALLBACK_WIDTH)),
        )
    }

    fn serialize_with(
        document: &Value,
        format: &str,
        options: &SerializeOptions,
    ) -> Result<Vec<u8>, SerializeError> {
        match document.get("kind").and_then(Value::as_str) {
            Some(REPORT_KIND) => return report_table(document, format, options),
            Some(drift::DIFF_KIND) => return drift::diff_table(document, format, options),
            Some(drift::FLEET_KIND) => return drift::fleet_table(document, format, options),
            _ => {}
        }
        let measurements = document
            .get("measurements")
            .and_then(Value::as_array)
            .ok_or_else(|| SerializeError::Unsupported {
                format: format.to_owned(),
                reason: "the document has no `measurements` list".to_owned(),
            })?;
        let mut table = Table::new();
        table
            .load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED)
            .set_header(["TYPE", "SUBTYPE", "KEY", "VALUE"]);
        fit(&mut table, options);
        let value_cell = |value: Option<&Value>| {
            let shown = text(value);
            if options.width.is_some() {
                cut(&shown)
            } else {
                shown
            }
        };
        for measurement in measurements {
            let kind = text(measurement.get("type"));
            let subtypes = measurement.get("subtypes").and_then(Value::as_array);
            for subtype in subtypes.into_iter().flatten() {
                let name = text(subtype.get("subtype"));
                let data = subtype.get("data").and_then(Value::as_object);
                for (key, value) in data.into_iter().flatten() {
                    table.add_row([
                        kind.clone(),
                        name.clone(),
                        escape(key),
                        value_cell(Some(value)),
                    ]);
                }
            }
        }
        let mut out = table.to_string().into_bytes();
        out.push(b'\n');
        Ok(out)
    }
}

/// The `kind` of a validation report document.
const REPORT_KIND: &str = "ValidationReport";

/// The order results are listed in: failures first, then missing, skipped, passed.
fn status_rank(status: &str) -> u8 {
    match status {
        "failed" => 0,
        "missing" => 1,
        "skipped" => 2,
        "passed" => 4,
        _ => 3,
    }
}

/// A validation report: one row per constraint (failures first), then why each failure matters
/// and why constraints were not checked, then the summary line.
fn report_table(
    document: &Value,
    format: &str,
    options: &SerializeOptions,
) -> Result<Vec<u8>, SerializeError> {
    let unsupported = |reason: &str| SerializeError::Unsupported {
        format: format.to_owned(),
        reason: reason.to_owned(),
    };
    let results = document
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| unsupported("the validation report has no `results` list"))?;
    let summary = document
        .get("summary")
        .and_then(Value::as_object)
        .ok_or_else(|| unsupported("the validation report has no `summary`"))?;
    let mut rows: Vec<&Value> = results.iter().collect();
    rows.sort_by_key(|r| {
        let status = r.get("status").and_then(Value::as_str).unwrap_or_default();
        (
            status_rank(status),
            u8::from(status == "failed" && advice(r)),
        )
    });
    let mut table = Table::new();
    table
        .load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED)
        .set_header(["STATUS", "READING", "EXPECTED", "ACTUAL"]);
    fit(&mut table, options);
    let mut why: Vec<String> = Vec::new();
    let mut unchecked: Vec<(String, usize)> = Vec::new();
    for r in rows {
        let status = text(r.get("status"));
        let reading = format!(
            "{}/{}/{}",
            text(r.get("type")),
            text(r.get("subtype")),
            text(r.get("key"))
        );
        let actual = match (status.as_str(), r.get("actual")) {
            ("missing", _) => "(absent)".to_owned(),
            ("skipped", _) => "(not collected)".to_owned(),
            (_, None | Some(Value::Null)) => "(absent)".to_owned(),
            (_, value) => text(value),
        };
        let reason = text(r.get("reason"));
        match status.as_str() {
            "failed" => {
                let mut line = format!(
                    "{reading} ({}, {}): {}",
                    text(r.get("severity")),
                    text(r.get("source")),
                    text(r.get("context"))
                );
                if !reason.is_empty() {
                    line.push_str(&format!(" [{reason}]"));
                }
                why.push(line);
            }
            "missing" | "skipped" if !reason.is_empty() => {
                let note = if status == "missing" {
                    format!("missing: {}", text(r.get("type")))
                } else {
                    format!("skipped: {reason}")
                };
                match unchecked.iter_mut().find(|(n, _)| *n == note) {
                    Some((_, count)) => *count += 1,
                    None => unchecked.push((note, 1)),
                }
            }
            _ => {}
        }
        let status = if advice(r) {
            format!("{status}*")
        } else {
            status
        };
        table.add_row([
            status,
            cut(&reading),
            cut(&text(r.get("expected"))),
            cut(&actual),
        ]);
    }
    let mut out = table.to_string();
    out.push('\n');
    if results.iter().any(advice) {
        out.push_str("* recommended: advice, never fails the run\n");
    }
    if !why.is_empty() {
        out.push_str("\nWhy the failures matter:\n");
        for line in &why {
            out.push_str(&format!("  {line}\n"));
        }
    }
    if !unchecked.is_empty() {
        out.push_str("\nNot checked:\n");
        for (note, count) in &unchecked {
            let note = match note.strip_prefix("missing: ") {
                Some(kind) => format!("the {kind} collector ran but did not record these keys"),
                None => note.trim_start_matches("skipped: ").to_owned(),
            };
            out.push_str(&format!("  {count} constraint(s): {note}\n"));
        }
    }
    let count = |name: &str| summary.get(name).and_then(Value::as_u64).unwrap_or(0);
    out.push_str(&format!(
        "\n{}: {} failed ({} required), {} missing, {} skipped, {} passed ({} constraints)\n",
        text(summary.get("overall")).to_ascii_uppercase(),
        count("failed"),
        count("requiredFailed"),
        count("missing"),
        count("skipped"),
        count("passed"),
        count("total"),
    ));
    Ok(out.into_bytes())
}

/// Whether a result is only advice (`severity: recommended`).
fn advice(r: &Value) -> bool {
    r.get("severity").and_then(Value::as_str) == Some("recommended")
}

/// Lays a table out to the terminal's width when the host gave one; unbounded otherwise, so that
/// nothing written to a file or a pipe is wrapped.
fn fit(table: &mut Table, options: &SerializeOptions) {
    match options.width {
        Some(width) => table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width),
        None => table.set_content_arrangement(ContentArrangement::Disabled),
    };
}

/// A JSON value as a table cell: strings bare, everything else as JSON; control characters
/// escaped.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => escape(s),
        Some(other) => escape(&other.to_string()),
    }
}

/// `text` with every control character (C0, DEL, C1) and every bidirectional-text control written
/// as an escape (`\t`, `\n`, `\r`, else `\u{…}`), so that a collected name cannot move the
/// cursor, change colours or reorder what a terminal shows.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || is_bidi_control(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// The Unicode characters that change the display order of text (marks, embeddings, overrides,
/// isolates).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{61c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Cuts `value` to [`MAX_VALUE_CHARS`] characters, marking the cut.
fn cut(value: &str) -> String {
    if value.chars().count() <= MAX_VALUE_CHARS {
        return value.to_owned();
    }
    let kept: String = value
        .chars()
        .take(MAX_VALUE_CHARS - CUT_MARKER.chars().count())
        .collect();
    format!("{kept}{CUT_MARKER}")
}

eidos_plugin_api::export_serializer!(TableSerializer);

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        serde_json::json!({
            "kind": "Snapshot",
            "measurements": [{
                "type": "os",
                "subtypes": [{
                    "subtype": "sysctl",
                    "data": {
                        "/proc/sys/kernel/osrelease": "6.8.0-1024-aws",
                        "/proc/sys/net/ipv4/ip_local_reserved_ports": "x".repeat(400),
                        "big": 18446744073709551615u64,
                        "flag": true
                    }
                }]
            }]
        })
    }

    #[test]
    fn one_row_per_reading_within_80_columns_with_long_values_cut() {
        let out = String::from_utf8(TableSerializer::serialize(&doc(), "table").unwrap()).unwrap();
        for line in out.lines() {
            assert!(line.chars().count() <= 80, "line wider than 80: {line:?}");
        }
        assert!(out.contains("TYPE") && out.contains("VALUE"));
        assert!(out.contains("18446744073709551615"));
        assert!(out.contains("6.8.0-1024-aws"));
        assert!(out.contains("[cut]"), "{out}");
        assert!(!out.contains(&"x".repeat(200)));
    }

    fn report() -> Value {
        serde_json::json!({
            "kind": "ValidationReport",
            "summary": {"overall": "fail", "total": 4, "passed": 1, "failed": 2, "missing": 1, "skipped": 0, "requiredFailed": 1},
            "results": [
                {"type": "os", "subtype": "sysctl", "key": "/proc/sys/vm/max_map_count", "status": "passed", "severity": "required", "operator": ">=", "expected": ">= 262144", "actual": "262144", "context": "maps", "source": "base.yaml"},
                {"type": "gpu", "subtype": "smi", "key": "driver-version", "status": "missing", "severity": "required", "operator": ">=", "expected": ">= 570", "actual": null, "context": "driver", "source": "base.yaml", "reason": "not recorded"},
                {"type": "os", "subtype": "sysctl", "key": "/proc/sys/vm/swappiness", "status": "failed", "severity": "recommended", "operator": "equals", "expected": "0", "actual": "60", "context": "no swapping", "source": "base.yaml"},
                {"type": "systemd", "subtype": "containerd.service", "key": "LimitNOFILE", "status": "failed", "severity": "required", "operator": "equals", "expected": 18446744073709551615u64, "actual": 1024, "context": "open files", "source": "base.yaml"}
            ]
        })
    }

    #[test]
    fn a_report_lists_failures_first_then_missing_then_passed_and_the_summary() {
        let out =
            String::from_utf8(TableSerializer::serialize(&report(), "table").unwrap()).unwrap();
        for line in out.lines() {
            assert!(line.chars().count() <= 80, "line wider than 80: {line:?}");
        }
        let at = |needle: &str| {
            out.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {out}"))
        };
        // Rows: required failures, then advice, then missing, then passed.
        let rows = [
            at("| failed    systemd/containerd.service"),
            at("| failed*   os/sysctl//proc/sys/vm/swappines"),
            at("| missing   gpu/smi/driver-version"),
            at("| passed    os/sysctl//proc/sys/vm/max_map"),
        ];
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "{out}");
        assert!(out.contains("failed*"), "{out}");
        assert!(out.contains("* recommended"), "{out}");
        assert!(out.contains("(absent)"), "{out}");
        assert!(
            out.contains(
                "systemd/containerd.service/LimitNOFILE (required, base.yaml): open files"
            ),
            "why a failure matters: {out}"
        );
        assert!(
            out.contains("1 constraint(s): the gpu collector ran but did not record"),
            "{out}"
        );
        assert!(
            out.trim_end().ends_with(
                "FAIL: 2 failed (1 required), 1 missing, 0 skipped, 1 passed (4 constraints)"
            ),
            "{out}"
        );
    }

    #[test]
    fn a_document_without_measurements_is_refused() {
        let err = TableSerializer::serialize(&serde_json::json!({"a": 1}), "table").unwrap_err();
        assert!(err.to_string().contains("no `measurements`"), "{err}");
    }

    #[test]
    fn control_characters_in_names_and_values_are_escaped() {
        let doc = serde_json::json!({
            "measurements": [{
                "type": "os\u{9b}",
                "subtypes": [{
                    "subtype": "sysctl\u{7}",
                    "data": {
                        "/proc/sys/\u{1b}]0;owned\u{7}\u{1b}[2J": "a\tb\r\n\u{202e}c\u{7f}"
                    }
                }]
            }]
        });
        for width in [None, Some(200)] {
            let options = SerializeOptions::default().with_width(width);
            let out = TableSerializer::serialize_with(&doc, "table", &options).unwrap();
            let out = String::from_utf8(out).unwrap();
            let raw: Vec<char> = out
                .chars()
                .filter(|&c| (c.is_control() && c != '\n') || is_bidi_control(c))
                .collect();
            assert!(raw.is_empty(), "raw control characters {raw:?} in {out}");
            assert!(
                out.contains("/proc/sys/\\u{1b}]0;owned\\u{7}\\u{1b}[2J"),
                "{out}"
            );
            assert!(out.contains("a\\tb\\r\\n\\u{202e}c\\u{7f}"), "{out}");
            assert!(
                out.contains("os\\u{9b}") && out.contains("sysctl\\u{7}"),
                "{out}"
            );
        }
    }

    #[test]
    fn without_a_width_nothing_is_wrapped_or_cut() {
        let long_key = format!("/proc/sys/net/ipv4/{}", "very_long_setting_name_".repeat(6));
        let doc = serde_json::json!({
            "measurements": [{
                "type": "os",
                "subtypes": [{"subtype": "sysctl", "data": {
                    long_key.clone(): "y".repeat(400)
                }}]
            }]
        });
        let out =
            TableSerializer::serialize_with(&doc, "table", &SerializeOptions::default()).unwrap();
        let out = String::from_utf8(out).unwrap();
        let row = out
            .lines()
            .find(|l| l.contains(&long_key))
            .unwrap_or_else(|| panic!("the key is not whole on one line: {out}"));
        assert!(row.contains(&"y".repeat(400)), "{row}");
        assert!(!out.contains("[cut]"));

        let narrow = SerializeOptions::default().with_width(Some(60));
        let out = TableSerializer::serialize_with(&doc, "table", &narrow).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.lines().all(|l| l.chars().count() <= 60), "{out}");
    }
}

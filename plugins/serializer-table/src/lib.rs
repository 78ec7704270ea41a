//! The `table` serializer plugin: one row per reading (type, subtype, key, value), laid out by
//! comfy-table to fit an 80-column terminal. Long values are cut and end with a marker.

use comfy_table::{presets, ContentArrangement, Table};
use eidos_plugin_api::{SerializeError, Serializer};
use serde_json::Value;

/// The total table width.
const WIDTH: u16 = 80;
/// Values longer than this many characters are cut and end with [`CUT_MARKER`].
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
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(WIDTH)
            .set_header(["TYPE", "SUBTYPE", "KEY", "VALUE"]);
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
                        key.clone(),
                        cut(&text(Some(value))),
                    ]);
                }
            }
        }
        let mut out = table.to_string().into_bytes();
        out.push(b'\n');
        Ok(out)
    }
}

/// A JSON value as a table cell: strings bare, everything else as JSON.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
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

    #[test]
    fn a_document_without_measurements_is_refused() {
        let err = TableSerializer::serialize(&serde_json::json!({"a": 1}), "table").unwrap_err();
        assert!(err.to_string().contains("no `measurements`"), "{err}");
    }
}

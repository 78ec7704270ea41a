//! The `yaml` serializer plugin: writes any eidos document as YAML (serde_yaml). Strings that would
//! read back as another type (`"0"`, `"true"`, `"1.0"`) are quoted, so a snapshot round-trips.

use eidos_plugin_api::{SerializeError, Serializer};

/// Writes documents as YAML.
pub struct Yaml;

impl Serializer for Yaml {
    const NAME: &'static str = "yaml";
    const DESCRIPTION: &'static str = "YAML";
    const FORMATS: &'static [&'static str] = &["yaml", "yml"];

    fn serialize(document: &serde_json::Value, _format: &str) -> Result<Vec<u8>, SerializeError> {
        serde_yaml::to_string(document)
            .map(String::into_bytes)
            .map_err(|e| SerializeError::Failed(e.to_string()))
    }
}

eidos_plugin_api::export_serializer!(Yaml);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_types_and_order_through_a_round_trip() {
        let doc: serde_json::Value = serde_json::from_str(
            r#"{"z":18446744073709551615,"a":{"zero":"0","t":"true","f":"1.0","b":false,"e":""}}"#,
        )
        .unwrap();
        let out = String::from_utf8(Yaml::serialize(&doc, "yaml").unwrap()).unwrap();
        assert!(out.starts_with("z: 18446744073709551615\na:\n"), "{out}");
        let back: serde_json::Value = serde_yaml::from_str(&out).unwrap();
        assert_eq!(back, doc);
    }
}

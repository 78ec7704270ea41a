//! The `json` serializer plugin: writes any eidos document as JSON, indented by two spaces, with a
//! trailing newline. Map order and exact integers come through unchanged.

use eidos_plugin_api::{SerializeError, Serializer};

/// Writes documents as pretty-printed JSON.
pub struct Json;

impl Serializer for Json {
    const NAME: &'static str = "json";
    const DESCRIPTION: &'static str = "JSON, indented by two spaces";
    const FORMATS: &'static [&'static str] = &["json"];

    fn serialize(document: &serde_json::Value, _format: &str) -> Result<Vec<u8>, SerializeError> {
        let mut out = serde_json::to_vec_pretty(document)
            .map_err(|e| SerializeError::Failed(e.to_string()))?;
        out.push(b'\n');
        Ok(out)
    }
}

eidos_plugin_api::export_serializer!(Json);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_two_space_indented_json_with_exact_integers_and_order() {
        let doc: serde_json::Value =
            serde_json::from_str(r#"{"z":18446744073709551615,"a":{"b":"0","c":true}}"#).unwrap();
        let out = String::from_utf8(Json::serialize(&doc, "json").unwrap()).unwrap();
        assert_eq!(
            out,
            "{\n  \"z\": 18446744073709551615,\n  \"a\": {\n    \"b\": \"0\",\n    \"c\": true\n  }\n}\n"
        );
    }
}

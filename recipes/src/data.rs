//! The recipe file format and its validation.
//!
//! `base.yaml` holds `measurements:`; every other file holds `overlays:`, a list of
//! `{key, description?, measurements}`. A measurement is `{type, subtypes: [{subtype, data,
//! context?, severity?}]}`. Its type is one eidos's collectors write (os, systemd, k8s, gpu; any
//! case) or a vendor's (`acme-nic`: see [`measurement_type`]); types are kept in lower case, as
//! validation compares them without regard to case. Every value must be a valid constraint (a
//! plain value or an operator, see [`crate::validate::Expectation`]).

use crate::key::OverlayKey;
use crate::model::{RecipeMeasurement, RecipeSubtype, Severity};
use crate::validate::Expectation;
use eidos_plugin_api::{MeasurementType, Reading};
use indexmap::IndexMap;
use serde::Deserialize;
use std::collections::HashSet;

/// `base.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BaseFile {
    measurements: Vec<RawMeasurement>,
}

/// Any other recipe file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverlayFile {
    overlays: Vec<RawOverlay>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverlay {
    key: UniqueMap<String>,
    #[serde(default)]
    description: Option<String>,
    measurements: Vec<RawMeasurement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeasurement {
    #[serde(rename = "type")]
    kind: String,
    subtypes: Vec<RawSubtype>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubtype {
    subtype: String,
    data: UniqueMap<Reading>,
    #[serde(default)]
    context: UniqueMap<String>,
    #[serde(default)]
    severity: UniqueMap<Severity>,
}

/// A mapping that refuses a key written twice (YAML parsers keep the last one silently, which
/// hides mistakes in hand-edited data).
#[derive(Debug)]
struct UniqueMap<V>(IndexMap<String, V>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<V> {
            type Value = UniqueMap<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Self::Value, A::Error> {
                let mut map = IndexMap::with_capacity(access.size_hint().unwrap_or(0));
                while let Some((key, value)) = access.next_entry::<String, V>()? {
                    if map.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    map.insert(key, value);
                }
                Ok(UniqueMap(map))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

impl<V> Default for UniqueMap<V> {
    fn default() -> Self {
        UniqueMap(IndexMap::new())
    }
}

/// One overlay as read from a file, validated.
#[derive(Debug)]
pub(crate) struct OverlayData {
    /// What the overlay requires of a query.
    pub key: OverlayKey,
    /// An optional one-line description.
    pub description: Option<String>,
    /// The values it sets.
    pub measurements: Vec<RecipeMeasurement>,
}

/// How deeply mappings and sequences may nest in a recipe file. The format itself needs 8
/// levels; anything far deeper is refused before it is parsed in full (see [`crate::nesting`]).
pub const MAX_NESTING: usize = 64;

/// Deserializes recipe YAML, refusing excessive nesting first.
fn from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    crate::nesting::check_depth(text, MAX_NESTING).map_err(|too_deep| {
        format!(
            "nested more than {MAX_NESTING} levels deep (at line {}): recipe files may nest mappings and sequences at most {MAX_NESTING} levels",
            too_deep.line
        )
    })?;
    serde_yaml::from_str(text).map_err(|e| format!("malformed YAML: {e}"))
}

/// Parses and validates `base.yaml` text.
pub(crate) fn parse_base(text: &str) -> Result<Vec<RecipeMeasurement>, String> {
    let file: BaseFile = from_yaml(text)?;
    convert_measurements(file.measurements)
}

/// Parses and validates an overlay file's text.
pub(crate) fn parse_overlays(text: &str) -> Result<Vec<OverlayData>, String> {
    let file: OverlayFile = from_yaml(text)?;
    file.overlays
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let at = |reason: String| format!("overlay #{} ({:?}): {reason}", index + 1, raw.key.0);
            let key = OverlayKey::parse(&raw.key.0).map_err(at)?;
            if let Some(d) = &raw.description {
                check_one_line("description", d).map_err(at)?;
            }
            let measurements = convert_measurements(raw.measurements).map_err(at)?;
            Ok(OverlayData {
                key,
                description: raw.description,
                measurements,
            })
        })
        .collect()
}

/// The longest measurement type name.
pub const MAX_TYPE_LEN: usize = 64;

/// A measurement type as recipe data may name it, normalized to lower case: one of eidos's own
/// types, or a vendor's (a collector plugin may write any type): 1 to [`MAX_TYPE_LEN`] ASCII
/// letters, digits, `-`, `_` and `.`, starting with a letter or digit. A type never holds `/`,
/// which ends the type in a `TYPE/SUBTYPE/KEY` path.
pub fn measurement_type(name: &str) -> Result<String, String> {
    if let Some(known) = MeasurementType::parse(name) {
        return Ok(known.as_str().to_owned());
    }
    let valid = !name.is_empty()
        && name.len() <= MAX_TYPE_LEN
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        return Ok(name.to_ascii_lowercase());
    }
    let known: Vec<_> = MeasurementType::ALL.iter().map(|t| t.as_str()).collect();
    Err(format!(
        "invalid measurement type {:?}: expected one of {} or a vendor type such as acme-nic (1 to {MAX_TYPE_LEN} letters, digits, '-', '_' or '.', starting with a letter or digit)",
        crate::query::excerpt(name),
        known.join(", ")
    ))
}

fn convert_measurements(raw: Vec<RawMeasurement>) -> Result<Vec<RecipeMeasurement>, String> {
    let mut out: Vec<RecipeMeasurement> = Vec::with_capacity(raw.len());
    for m in raw {
        let kind = measurement_type(&m.kind)?;
        if out.iter().any(|seen| seen.kind == kind) {
            return Err(format!("measurement type {kind} is listed twice"));
        }
        let mut subtypes: Vec<RecipeSubtype> = Vec::with_capacity(m.subtypes.len());
        // Names seen so far: a set, so that a long list is checked in linear time.
        let mut names: HashSet<String> = HashSet::with_capacity(m.subtypes.len());
        for s in m.subtypes {
            let name = s.subtype.trim();
            if name.is_empty() {
                return Err(format!("{kind}: a subtype has an empty name"));
            }
            if !names.insert(name.to_owned()) {
                return Err(format!("{kind}/{name}: subtype is listed twice"));
            }
            let (data, context, severity) = (s.data.0, s.context.0, s.severity.0);
            for (key, value) in &data {
                Expectation::parse(value).map_err(|reason| {
                    format!(
                        "{kind}/{name}: value of {key:?} is not a valid constraint: {reason} (expected a plain value, or {})",
                        crate::validate::OPERATOR_FORMS
                    )
                })?;
            }
            for key in severity.keys() {
                if !data.contains_key(key) {
                    return Err(format!(
                        "{kind}/{name}: severity for {key:?}, which has no value in data"
                    ));
                }
            }
            for (key, line) in &context {
                if !data.contains_key(key) {
                    return Err(format!(
                        "{kind}/{name}: context for {key:?}, which has no value in data"
                    ));
                }
                check_one_line(&format!("{kind}/{name}: context for {key:?}"), line)?;
            }
            subtypes.push(RecipeSubtype {
                subtype: name.to_owned(),
                data,
                context,
                severity,
            });
        }
        out.push(RecipeMeasurement { kind, subtypes });
    }
    Ok(out)
}

fn check_one_line(what: &str, text: &str) -> Result<(), String> {
    if text.trim().is_empty() || text.trim().contains('\n') {
        Err(format!("{what} must be one non-empty line"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_parses_with_types_normalized_and_scalars_kept() {
        let base = parse_base(
            "measurements:\n  - type: OS\n    subtypes:\n      - subtype: kmod\n        data:\n          nvidia: true\n          hugepages: \"5128\"\n          max: 262144\n        context:\n          nvidia: the driver\n",
        )
        .unwrap();
        assert_eq!(base[0].kind, "os");
        let kmod = &base[0].subtypes[0];
        assert_eq!(kmod.data["nvidia"], Reading::Bool(true));
        assert_eq!(kmod.data["hugepages"], Reading::Str("5128".into()));
        assert_eq!(kmod.data["max"], Reading::Int(262144));
        assert_eq!(kmod.context["nvidia"], "the driver");
    }

    #[test]
    fn operators_stay_as_written_and_severity_is_kept() {
        let base = parse_base(
            "measurements:\n  - type: gpu\n    subtypes:\n      - subtype: smi\n        data:\n          driver-version: \">= 570\"\n          cuda-version: \">=12.8, <13\"\n          persistence: present\n          mode: one of [open, proprietary]\n        severity:\n          cuda-version: recommended\n          driver-version: required\n",
        )
        .unwrap();
        let smi = &base[0].subtypes[0];
        assert_eq!(smi.data["driver-version"], Reading::Str(">= 570".into()));
        assert_eq!(smi.data["cuda-version"], Reading::Str(">=12.8, <13".into()));
        assert_eq!(smi.severity_of("cuda-version"), Severity::Recommended);
        assert_eq!(smi.severity_of("driver-version"), Severity::Required);
        assert_eq!(smi.severity_of("persistence"), Severity::Required);
    }

    #[test]
    fn a_key_written_twice_in_one_mapping_is_malformed() {
        let err = parse_base(
            "measurements:\n  - type: os\n    subtypes:\n      - subtype: sysctl\n        data:\n          a: \"1\"\n          a: \"2\"\n",
        )
        .unwrap_err();
        assert!(
            err.contains("malformed YAML") && err.contains("duplicate"),
            "{err}"
        );
    }

    #[test]
    fn version_keys_keep_their_text() {
        // YAML would read 22.10 as the float 22.1; the key must stay 22.10.
        let overlays =
            parse_overlays("overlays:\n  - key: {osv: 22.10, k8s: 1.30}\n    measurements: []\n")
                .unwrap();
        assert_eq!(overlays[0].key.to_string(), "osv=22.10, k8s=1.30");
    }

    #[test]
    fn invalid_data_is_rejected_with_a_reason() {
        let m =
            |body: &str| format!("overlays:\n  - key: {{gpu: h100}}\n    measurements:\n{body}");
        let table: &[(String, &str)] = &[
            ("overlays: [".into(), "malformed YAML"),
            ("measurements: []\n".into(), "malformed YAML: unknown field `measurements`"),
            (m("      - type: acme/nic\n        subtypes: []\n"), "invalid measurement type \"acme/nic\": expected one of os, systemd, k8s, gpu or a vendor type"),
            (m("      - type: \"\"\n        subtypes: []\n"), "invalid measurement type \"\""),
            (m("      - type: -nic\n        subtypes: []\n"), "starting with a letter or digit"),
            (m(&format!("      - type: {}\n        subtypes: []\n", "n".repeat(65))), "1 to 64 letters"),
            (m("      - type: acme-nic\n        subtypes: []\n      - type: ACME-NIC\n        subtypes: []\n"), "measurement type acme-nic is listed twice"),
            (m("      - type: os\n        subtypes: []\n      - type: OS\n        subtypes: []\n"), "listed twice"),
            (m("      - type: os\n        subtypes:\n          - subtype: a\n            data: {x: 1}\n            context: {y: why}\n"), "context for \"y\", which has no value"),
            (m("      - type: os\n        subtypes:\n          - subtype: a\n            data: {x: 1}\n            context: {x: \"two\\nlines\"}\n"), "must be one non-empty line"),
            (m("      - type: os\n        subtypes:\n          - subtype: a\n            data: {x: 1}\n          - subtype: a\n            data: {x: 2}\n"), "subtype is listed twice"),
            ("overlays:\n  - key: {gpu: h900}\n    measurements: []\n".into(), "overlay #1 ({\"gpu\": \"h900\"}): key field gpu: unknown value"),
            ("overlays:\n  - key: {k8s: \"1.2.3.4\"}\n    measurements: []\n".into(), "more than three numeric components"),
            ("overlays:\n  - key: {}\n    measurements: []\n".into(), "overlay key is empty"),
            ("overlays:\n  - key: {k8s: \">=2, <1\"}\n    measurements: []\n".into(), "overlay #1 ({\"k8s\": \">=2, <1\"}): key field k8s: range \">=2, <1\" can never match"),
            (format!("overlays: {}1{}", "[".repeat(70), "]".repeat(70)), "nested more than 64 levels deep (at line 1)"),
            (m("      - type: gpu\n        subtypes:\n          - subtype: smi\n            data: {driver: \">= soon\"}\n"), "gpu/smi: value of \"driver\" is not a valid constraint: \">= soon\": version has a non-numeric component"),
            (m("      - type: gpu\n        subtypes:\n          - subtype: smi\n            data: {driver: \"one of 570, 580\"}\n"), "expected the values in brackets"),
            (m("      - type: gpu\n        subtypes:\n          - subtype: smi\n            data: {driver: \"!=\"}\n"), "(expected a plain value, or an operator: \">= 1.2\""),
            (m("      - type: gpu\n        subtypes:\n          - subtype: smi\n            data: {driver: \"1\"}\n            severity: {driver: optional}\n"), "unknown variant `optional`, expected `required` or `recommended`"),
            (m("      - type: gpu\n        subtypes:\n          - subtype: smi\n            data: {driver: \"1\"}\n            severity: {cuda: recommended}\n"), "severity for \"cuda\", which has no value in data"),
        ];
        for (text, message) in table {
            let err = parse_overlays(text).unwrap_err();
            assert!(err.contains(message), "{text}\n→ {err}");
        }
    }

    /// `x: {a: {a: …}}` nested 100,000 deep took 44 s to refuse before the nesting check; with it,
    /// the parser stops after the limit. (Timing is measured by the `load` benchmark; here it
    /// is enough that the error is the nesting one, not the deserializer's recursion limit.)
    #[test]
    fn deeply_nested_yaml_is_refused_by_the_nesting_check() {
        let depth = 100_000;
        let text = format!("x: {}1{}\n", "{a: ".repeat(depth), "}".repeat(depth));
        let err = parse_base(&text).unwrap_err();
        assert!(err.starts_with("nested more than 64 levels deep"), "{err}");
        let err = parse_overlays(&format!("overlays:\n{}1\n", "- ".repeat(depth))).unwrap_err();
        assert!(err.starts_with("nested more than 64 levels deep"), "{err}");
    }
}

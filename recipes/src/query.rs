//! The recipe query: parsing from `name=value` pairs, validation and normalization.

use crate::version::Version;
use crate::vocab::{self, Field, FieldKind};
use serde::{Deserialize, Serialize};

/// A validated recipe query. Every field is normalized (lower case; versions as parsed, without
/// a leading `v`; `any`/empty → `None`).
///
/// A query deserialized from JSON is not validated yet: call [`Query::validated`] before use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Query {
    /// Operating system (ubuntu, rhel, cos, amzn …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    /// Operating system version (`22.04`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osv: Option<String>,
    /// Kernel release (`6.8.0-1028-aws`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// Kubernetes service (eks, gke, aks, oke, self-managed …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Kubernetes version (`1.33`, `v1.30.14-eks-3025e55`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s: Option<String>,
    /// GPU model (h100, h200, gb200, b200, a100, l40s …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu: Option<String>,
    /// Workload intent (training, inference).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    /// Whether to include the per-value explanations.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub context: bool,
}

/// A query parameter that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// An unknown parameter name.
    #[error("unknown parameter {name:?}: expected one of {}", allowed.join(", "))]
    UnknownParameter {
        /// The name given (its first 64 characters and `…` when longer).
        name: String,
        /// The parameter names accepted.
        allowed: Vec<String>,
    },
    /// A value that is not allowed for its parameter.
    #[error("invalid {name} {value:?}: {reason}")]
    InvalidValue {
        /// The parameter.
        name: String,
        /// The value given (its first 64 characters and `…` when longer).
        value: String,
        /// Why, including the allowed values where there is a list.
        reason: String,
    },
}

impl QueryError {
    /// The parameter this error is about.
    pub fn parameter(&self) -> &str {
        match self {
            QueryError::UnknownParameter { name, .. } | QueryError::InvalidValue { name, .. } => {
                name
            }
        }
    }
}

/// The most characters of a client's name or value that an error repeats: a message stays
/// readable, and an answer's size does not grow with the input.
const EXCERPT_LEN: usize = 64;

/// `text`, cut to [`EXCERPT_LEN`] characters with `…` when longer.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_LEN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// The name of the `context` parameter.
const CONTEXT: &str = "context";

/// Every parameter name [`Query::from_pairs`] accepts.
pub fn parameter_names() -> Vec<String> {
    Field::ALL
        .iter()
        .map(|f| f.name().to_owned())
        .chain(std::iter::once(CONTEXT.to_owned()))
        .collect()
}

impl Query {
    /// A query from `name=value` pairs (`os`, `osv`, `kernel`, `service`, `k8s`, `gpu`, `intent`,
    /// `context`), as CLI flags or HTTP query parameters give them. Names and values are
    /// case-insensitive; `any` or an empty value leaves a field unspecified. A parameter given
    /// twice is an error. `context` takes true/false, 1/0, yes/no or on/off (empty: false).
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Query, QueryError> {
        let mut query = Query::default();
        let mut seen: Vec<&'static str> = Vec::new();
        for (name, value) in pairs {
            let canonical = if name.trim().eq_ignore_ascii_case(CONTEXT) {
                CONTEXT
            } else {
                Field::parse(name.trim())
                    .ok_or_else(|| QueryError::UnknownParameter {
                        name: excerpt(name),
                        allowed: parameter_names(),
                    })?
                    .name()
            };
            if seen.contains(&canonical) {
                return Err(QueryError::InvalidValue {
                    name: canonical.to_owned(),
                    value: excerpt(value),
                    reason: "given more than once".to_owned(),
                });
            }
            seen.push(canonical);
            match Field::parse(canonical) {
                Some(field) => *query.field_mut(field) = Some(value.to_owned()),
                None => query.context = parse_bool(value)?,
            }
        }
        query.validated()
    }

    /// This query checked and normalized: enum values lower case and known, versions parsed,
    /// `any`/empty dropped. Errors name the field and, for enums, list the allowed values.
    pub fn validated(mut self) -> Result<Query, QueryError> {
        for field in Field::ALL {
            let slot = self.field_mut(field);
            if let Some(value) = slot.take() {
                *slot =
                    normalize_field(field, &value).map_err(|reason| QueryError::InvalidValue {
                        name: field.name().to_owned(),
                        value: excerpt(&value),
                        reason,
                    })?;
            }
        }
        Ok(self)
    }

    /// This query with every valid field normalized and invalid ones kept as given (they then
    /// match no overlay). For building from a query that was not validated.
    pub(crate) fn normalized_leniently(mut self) -> Query {
        for field in Field::ALL {
            let slot = self.field_mut(field);
            if let Some(value) = slot.take() {
                *slot = normalize_field(field, &value).unwrap_or(Some(value));
            }
        }
        self
    }

    /// The value of a field.
    pub fn field(&self, field: Field) -> Option<&str> {
        match field {
            Field::Os => self.os.as_deref(),
            Field::Osv => self.osv.as_deref(),
            Field::Kernel => self.kernel.as_deref(),
            Field::Service => self.service.as_deref(),
            Field::K8s => self.k8s.as_deref(),
            Field::Gpu => self.gpu.as_deref(),
            Field::Intent => self.intent.as_deref(),
        }
    }

    fn field_mut(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::Os => &mut self.os,
            Field::Osv => &mut self.osv,
            Field::Kernel => &mut self.kernel,
            Field::Service => &mut self.service,
            Field::K8s => &mut self.k8s,
            Field::Gpu => &mut self.gpu,
            Field::Intent => &mut self.intent,
        }
    }

    /// Fills every field this query leaves unspecified from `other` (flags over a snapshot).
    pub fn or(mut self, other: &Query) -> Query {
        for field in Field::ALL {
            let slot = self.field_mut(field);
            if slot.is_none() {
                *slot = other.field(field).map(str::to_owned);
            }
        }
        self.context |= other.context;
        self
    }
}

/// A field's value normalized (`None` when unspecified), or why it is invalid.
fn normalize_field(field: Field, value: &str) -> Result<Option<String>, String> {
    if vocab::is_unspecified(value) {
        return Ok(None);
    }
    match field.kind() {
        FieldKind::Enum(allowed) => vocab::normalize_enum(value, allowed).map(Some),
        FieldKind::Version(what) => vocab::parse_version(value, what)
            .map(|v| Some(v.to_string()))
            .map_err(|e| e.to_string()),
    }
}

fn parse_bool(value: &str) -> Result<bool, QueryError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(QueryError::InvalidValue {
            name: CONTEXT.to_owned(),
            value: excerpt(value),
            reason: "expected true or false".to_owned(),
        }),
    }
}

/// A query with its values parsed for matching. Built leniently: a value that does not parse
/// counts as unspecified (validated queries never have one).
#[derive(Debug, Default)]
pub(crate) struct ParsedQuery<'q> {
    pub enums: [Option<&'q str>; 7],
    pub versions: [Option<Version>; 7],
}

impl<'q> ParsedQuery<'q> {
    pub fn new(query: &'q Query) -> ParsedQuery<'q> {
        let mut parsed = ParsedQuery::default();
        for (i, field) in Field::ALL.into_iter().enumerate() {
            let Some(value) = query.field(field).filter(|v| !vocab::is_unspecified(v)) else {
                continue;
            };
            match field.kind() {
                FieldKind::Enum(_) => parsed.enums[i] = Some(value.trim()),
                FieldKind::Version(what) => {
                    parsed.versions[i] = vocab::parse_version(value, what).ok()
                }
            }
        }
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_normalized() {
        let q = Query::from_pairs([
            ("OS", "Ubuntu"),
            ("osv", "24.04"),
            ("kernel", "6.8.0-1028-AWS"),
            ("service", "EKS"),
            ("k8s", "v1.30.14-eks-3025e55"),
            ("gpu", "H100"),
            ("intent", "any"),
            ("context", "yes"),
        ])
        .unwrap();
        assert_eq!(
            q,
            Query {
                os: Some("ubuntu".into()),
                osv: Some("24.04".into()),
                kernel: Some("6.8.0-1028-aws".into()),
                service: Some("eks".into()),
                k8s: Some("1.30.14-eks-3025e55".into()),
                gpu: Some("h100".into()),
                intent: None,
                context: true,
            }
        );
    }

    #[test]
    fn no_pairs_is_the_empty_query() {
        let q = Query::from_pairs([]).unwrap();
        assert_eq!(q, Query::default());
        let q = Query::from_pairs([("gpu", ""), ("os", "ANY")]).unwrap();
        assert_eq!(q, Query::default());
    }

    #[test]
    fn errors_name_the_parameter_and_what_is_allowed() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (&[("gpu", "h900")], "gpu", "invalid gpu \"h900\": expected one of a100, l4, l40s, h100, h200, b200, gb200 (or any)"),
            (&[("service", "ec2")], "service", "expected one of eks, gke, aks, oke, self-managed"),
            (&[("osv", "-1.0")], "osv", "os version cannot contain negative numbers: -1.0"),
            (&[("k8s", "1.2.3.4")], "k8s", "kubernetes version has more than three numeric components"),
            (&[("kernel", "six")], "kernel", "kernel version has a non-numeric component"),
            (&[("context", "maybe")], "context", "expected true or false"),
            (&[("colour", "red")], "colour", "unknown parameter \"colour\": expected one of os, osv, kernel, service, k8s, gpu, intent, context"),
            (&[("gpu", "h100"), ("GPU", "h200")], "gpu", "given more than once"),
        ];
        for (pairs, param, message) in cases {
            let err = Query::from_pairs(pairs.iter().copied()).unwrap_err();
            assert_eq!(err.parameter(), *param, "{pairs:?}");
            assert!(err.to_string().contains(message), "{pairs:?}: {err}");
        }
    }

    #[test]
    fn overlong_versions_are_refused_naming_the_field_without_echoing_the_text() {
        for field in ["osv", "kernel", "k8s"] {
            let value = format!("6.8.0-1{}", "x".repeat(crate::version::MAX_VERSION_LEN));
            let err = Query::from_pairs([(field, value.as_str())]).unwrap_err();
            assert_eq!(err.parameter(), field);
            let message = err.to_string();
            assert!(message.contains("too long"), "{message}");
            assert!(message.len() < 250, "{message}");
        }
        let longest = format!("6.8.0-1{}", "x".repeat(crate::version::MAX_VERSION_LEN - 7));
        assert!(Query::from_pairs([("kernel", longest.as_str())]).is_ok());
        let err = Query::from_pairs([(&*"y".repeat(10_000), "1")]).unwrap_err();
        assert!(err.to_string().len() < 250, "{err}");
    }

    #[test]
    fn json_bodies_deserialize_and_validate() {
        let q: Query =
            serde_json::from_str(r#"{"gpu":"H200","k8s":"v1.33","context":true}"#).unwrap();
        let q = q.validated().unwrap();
        assert_eq!(q.gpu.as_deref(), Some("h200"));
        assert_eq!(q.k8s.as_deref(), Some("1.33"));
        assert!(serde_json::from_str::<Query>(r#"{"gpus":"h200"}"#).is_err());
        let bad: Query = serde_json::from_str(r#"{"intent":"mining"}"#).unwrap();
        assert_eq!(bad.validated().unwrap_err().parameter(), "intent");
    }

    #[test]
    fn explicit_values_win_over_derived_ones() {
        let flags = Query {
            gpu: Some("h200".into()),
            ..Default::default()
        };
        let derived = Query {
            gpu: Some("h100".into()),
            service: Some("eks".into()),
            ..Default::default()
        };
        let q = flags.or(&derived);
        assert_eq!(q.gpu.as_deref(), Some("h200"));
        assert_eq!(q.service.as_deref(), Some("eks"));
    }
}

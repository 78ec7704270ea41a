//! Which readings are sensitive: the collectors' declared key patterns, the operator's
//! `--redact-also` and `--redact-keep`, and keys named like secrets.

use super::detectors::{self, Kind};
use eidos_recipes::validate::{KeyPathError, KeyPattern};
use serde::{Deserialize, Serialize};

/// The version of the redaction rules (detectors, pseudonym shapes, what is scanned). It changes
/// whenever a change would make the same input and key give different output.
pub const RULES_VERSION: u32 = 2;

/// What is redacted beyond the detectors, which always run.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    sensitive: Vec<(String, KeyPattern)>,
    also: Vec<(String, KeyPattern)>,
    keep: Vec<(String, KeyPattern)>,
}

/// A pattern that does not parse, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {error}")]
pub struct RulesError {
    /// Where the pattern came from (`--redact-keep`, `the collector os's sensitiveKeys` …).
    pub origin: String,
    /// What is wrong with it.
    pub error: KeyPathError,
}

fn parse_all(patterns: &[String], origin: &str) -> Result<Vec<(String, KeyPattern)>, RulesError> {
    let mut out: Vec<(String, KeyPattern)> = patterns
        .iter()
        .map(|p| {
            KeyPattern::parse(p)
                .map(|k| (p.clone(), k))
                .map_err(|error| RulesError {
                    origin: origin.to_owned(),
                    error,
                })
        })
        .collect::<Result<_, _>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

impl Rules {
    /// Rules from the collectors' sensitive key patterns (each list with a name for messages)
    /// and the operator's `--redact-also` and `--redact-keep` patterns.
    pub fn new<'a>(
        declared: impl IntoIterator<Item = (&'a str, &'a [String])>,
        also: &[String],
        keep: &[String],
    ) -> Result<Rules, RulesError> {
        let mut sensitive = Vec::new();
        for (collector, patterns) in declared {
            sensitive.extend(parse_all(
                patterns,
                &format!("the {collector} collector's sensitiveKeys"),
            )?);
        }
        sensitive.sort_by(|a, b| a.0.cmp(&b.0));
        sensitive.dedup_by(|a, b| a.0 == b.0);
        Ok(Rules {
            sensitive,
            also: parse_all(also, "--redact-also")?,
            keep: parse_all(keep, "--redact-keep")?,
        })
    }

    /// Whether the reading is left exactly as it is (`--redact-keep`, unless `--redact-also`
    /// names it too: when both match, it is redacted).
    pub fn keeps(&self, kind: &str, subtype: &str, key: &str) -> bool {
        self.keep.iter().any(|(_, p)| p.matches(kind, subtype, key))
            && !self.also.iter().any(|(_, p)| p.matches(kind, subtype, key))
    }

    /// Whether the reading's whole value is replaced: a declared or `--redact-also` pattern
    /// names it, or its key ends in a secret's name (`password`, `token` …).
    pub fn is_sensitive(&self, kind: &str, subtype: &str, key: &str) -> bool {
        self.also
            .iter()
            .chain(&self.sensitive)
            .any(|(_, p)| p.matches(kind, subtype, key))
            || detectors::names_a_secret(key)
    }

    /// What the metadata records about these rules.
    pub fn record(&self, key_given: bool) -> Record {
        let texts = |v: &[(String, KeyPattern)]| v.iter().map(|(t, _)| t.clone()).collect();
        Record {
            redacted: true,
            tool: format!("eidos {}", env!("CARGO_PKG_VERSION")),
            rules_version: RULES_VERSION,
            key: if key_given { "given" } else { "random" }.to_owned(),
            detectors: Kind::DETECTORS.iter().map(|d| (*d).to_owned()).collect(),
            sensitive_keys: texts(&self.sensitive),
            also: texts(&self.also),
            keep: texts(&self.keep),
            map_id: String::new(),
            previous: None,
        }
    }

    /// The rules a record describes, for reversing (only `keep` and `also` matter there).
    pub fn from_record(record: &Record) -> Result<Rules, RulesError> {
        Rules::new(
            [("recorded", record.sensitive_keys.as_slice())],
            &record.also,
            &record.keep,
        )
    }
}

/// The `metadata.redaction` record of a redacted snapshot: that it was redacted, by which tool
/// and rules, with which kind of key (never the key), and which map reverses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Record {
    /// Always `true`.
    pub redacted: bool,
    /// `eidos VERSION`.
    pub tool: String,
    /// [`RULES_VERSION`].
    pub rules_version: u32,
    /// `given` (`--redact-key`: pseudonyms are stable across runs) or `random` (a per-run key).
    pub key: String,
    /// The detectors that ran over every value.
    pub detectors: Vec<String>,
    /// The collectors' sensitive key patterns.
    pub sensitive_keys: Vec<String>,
    /// `--redact-also` patterns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
    /// `--redact-keep` patterns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
    /// Names the mapping that reverses this document (a keyed digest of its entries); a map with
    /// another id was written for another document.
    pub map_id: String,
    /// The record of an earlier redaction of the same document, when it was redacted twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Box<serde_json::Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn declared_also_keep_and_secret_named_keys() {
        let declared = strings(&["os/sysctl//proc/sys/kernel/hostname", "gpu/*/serial"]);
        let rules = Rules::new(
            [("os", declared.as_slice())],
            &strings(&["k8s/node/nvidia.com/gpu.*"]),
            &strings(&["gpu/gpu-0/serial", "k8s/node/*"]),
        )
        .unwrap();
        assert!(rules.is_sensitive("OS", "sysctl", "/proc/sys/kernel/hostname"));
        assert!(rules.is_sensitive("gpu", "gpu-1", "serial"));
        assert!(rules.keeps("gpu", "gpu-0", "serial"));
        assert!(!rules.keeps("gpu", "gpu-1", "serial"));
        // Named by both: redacted.
        assert!(rules.is_sensitive("k8s", "node", "nvidia.com/gpu.product"));
        assert!(!rules.keeps("k8s", "node", "nvidia.com/gpu.product"));
        assert!(rules.keeps("k8s", "node", "kubeletVersion"));
        assert!(rules.is_sensitive("os", "grub", "rootpassword"));
        assert!(rules.is_sensitive("os", "grub", "kube.token"));
        assert!(!rules.is_sensitive("os", "grub", "console"));
        let record = rules.record(true);
        assert_eq!(record.key, "given");
        assert_eq!(record.sensitive_keys.len(), 2);
    }

    #[test]
    fn a_bad_pattern_names_its_origin() {
        let err = Rules::new([], &[], &strings(&["hostname"])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--redact-keep: invalid key path"),
            "{err}"
        );
        let bad = strings(&["os/x"]);
        let err = Rules::new([("vendor", bad.as_slice())], &[], &[]).unwrap_err();
        assert!(
            err.to_string().contains("vendor collector's sensitiveKeys"),
            "{err}"
        );
    }
}

//! The mapping from pseudonyms back to originals: what `--redact-map FILE` holds and what
//! `eidos redact --reverse` reads. It contains every original value, so it never leaves the site.

use super::detectors::Kind;
use super::pseudonyms::RedactKey;
use serde::{Deserialize, Serialize};

/// The `kind` of a mapping document.
pub const MAP_KIND: &str = "RedactionMap";
/// The `apiVersion` of a mapping document.
pub const MAP_API_VERSION: &str = "eidos.dgxc.io/v1";

/// One pseudonym and the original it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What was found (decides how the original is restored: a number becomes a number again).
    pub kind: Kind,
    /// The original text (for a number, its JSON form).
    pub original: String,
    /// What replaced it.
    pub pseudonym: String,
}

/// A mapping document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// Always [`MAP_KIND`].
    pub kind: String,
    /// Always [`MAP_API_VERSION`].
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// The id the redacted document's `metadata.redaction.map-id` carries.
    #[serde(rename = "map-id")]
    pub map_id: String,
    /// The entries, sorted by kind and original.
    pub entries: Vec<Entry>,
}

/// Why a mapping file was refused.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// Not JSON, or not shaped like a mapping.
    #[error("not a redaction map: {0}")]
    Malformed(String),
    /// Another kind of document.
    #[error("not a redaction map: kind is {0:?}, expected {MAP_KIND:?}")]
    WrongKind(String),
    /// Two entries share a pseudonym, so the document cannot be restored unambiguously.
    #[error("the redaction map is damaged: pseudonym {0:?} is listed twice")]
    Duplicate(String),
}

impl Mapping {
    /// A mapping of `entries` (sorted here), its id keyed by `key`.
    pub fn new(mut entries: Vec<Entry>, key: &RedactKey) -> Mapping {
        entries.sort_by(|a, b| (a.kind, &a.original).cmp(&(b.kind, &b.original)));
        let mut parts: Vec<&[u8]> = vec![b"map-id"];
        for e in &entries {
            parts.push(e.pseudonym.as_bytes());
            parts.push(e.original.as_bytes());
        }
        let digest = key.mac(&parts);
        let map_id = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Mapping {
            kind: MAP_KIND.to_owned(),
            api_version: MAP_API_VERSION.to_owned(),
            map_id,
            entries,
        }
    }

    /// The mapping as pretty JSON with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings and a unit enum always serializes.
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Parses a mapping file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Mapping, MapError> {
        let map: Mapping =
            serde_json::from_slice(bytes).map_err(|e| MapError::Malformed(e.to_string()))?;
        if map.kind != MAP_KIND {
            return Err(MapError::WrongKind(map.kind));
        }
        let mut seen = std::collections::HashSet::new();
        for e in &map.entries {
            if !seen.insert(e.pseudonym.as_str()) {
                return Err(MapError::Duplicate(e.pseudonym.clone()));
            }
        }
        Ok(map)
    }
}

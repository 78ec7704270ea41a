//! The JSON documents that cross the ABI boundary.
//!
//! Every document is versioned by the plugin API version and tolerant of fields it does not know, so
//! that a minor release can add fields without breaking plugins built earlier.

use crate::model::Measurement;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the host asks of a collector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectRequest {
    /// The host's plugin API version.
    pub api_version: String,
    /// The collector's options (`--set NAME.KEY=VALUE`, or the config file), already checked
    /// against the keys the collector declared.
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The host root prefix under which node files are read (`/` normally, `/host` in a pod).
    pub host_root: String,
    /// How long the host will wait, in milliseconds; collectors use it for their own I/O timeouts.
    pub timeout_ms: u64,
}

/// What a collector answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum CollectResponse {
    /// Measurements were collected.
    Ok {
        /// The measurements.
        measurements: Vec<Measurement>,
        /// Problems that did not stop collection.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// The collector does not apply to this node.
    NotApplicable {
        /// Why, in words an operator understands.
        reason: String,
    },
    /// Collection failed.
    Error {
        /// What went wrong.
        message: String,
        /// The failure is a bad option value (a usage error for the caller, exit code 2). Added in
        /// plugin API 1.1; plugins built earlier never set it.
        #[serde(
            default,
            rename = "invalidOption",
            skip_serializing_if = "std::ops::Not::not"
        )]
        invalid_option: bool,
    },
}

impl CollectResponse {
    /// A failure described by `message` (not an option error).
    pub fn error(message: impl Into<String>) -> Self {
        CollectResponse::Error {
            message: message.into(),
            invalid_option: false,
        }
    }
}

/// What the host asks of a serializer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SerializeRequest {
    /// The host's plugin API version.
    pub api_version: String,
    /// One of the format names the serializer declared.
    pub format: String,
    /// The document to write: a snapshot, a recipe, or another eidos document.
    pub document: serde_json::Value,
    /// The width in columns of the terminal the output is shown on; absent when it goes to a file
    /// or a pipe, where formats for people should not wrap lines. Added in plugin API 1.2; hosts
    /// built earlier never send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u16>,
}

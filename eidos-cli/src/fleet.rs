//! Where the CLI meets the fleet library: `cm://` outputs and inputs.
//!
//! The plugin host knows nothing of Kubernetes; commands call these helpers when an output or
//! input is a `cm://` address.

use crate::error::{CliError, CliResult};
use eidos_fleet::address::{is_cm, CmAddress};
use eidos_fleet::{Access, StoreError};
use std::path::Path;

/// The `cm://` address `path` names, if it is one (a malformed one is a usage error).
pub fn cm_address(path: Option<&Path>) -> CliResult<Option<CmAddress>> {
    let Some(text) = path.and_then(Path::to_str).filter(|t| is_cm(t)) else {
        return Ok(None);
    };
    CmAddress::parse(text, &eidos_k8s_client::process_env)
        .map(Some)
        .map_err(CliError::usage)
}

/// The formats a ConfigMap may hold: the ones every snapshot reader parses.
pub const STORED_FORMATS: &[&str] = &["yaml", "yml", "json"];

/// Refuses a format no snapshot reader could read back from a ConfigMap (a usage error).
pub fn check_stored_format(format: &str) -> CliResult {
    if STORED_FORMATS.contains(&format.to_ascii_lowercase().as_str()) {
        Ok(())
    } else {
        Err(crate::usage_error!(
            "format {format:?} cannot be stored in a ConfigMap: snapshots there are read back, \
             so use yaml or json"
        ))
    }
}

/// How to reach the API server for a command with collector options: the `k8s` collector's
/// `kubeconfig` and `context` options (`--set k8s.kubeconfig=…`, or `[collectors.k8s]` in the
/// configuration file), else `KUBECONFIG` (which `--kubeconfig` sets), `~/.kube/config`, the pod's
/// service account.
pub fn access(ctx: &crate::commands::Context, set: &[String]) -> Access {
    let option = |key: &str| -> Option<String> {
        let prefix = format!("k8s.{key}=");
        set.iter()
            .rev()
            .find_map(|item| item.trim().strip_prefix(&prefix).map(str::to_owned))
            .or_else(|| {
                ctx.settings
                    .collector_options
                    .get("k8s")
                    .and_then(|table| table.get(key))
                    .map(|v| v.value.as_setting())
            })
            .filter(|v| !v.trim().is_empty())
    };
    Access {
        kubeconfig: option("kubeconfig"),
        context: option("context"),
    }
}

/// Writes a rendered snapshot to `address`, labelled with `node`.
pub fn write(access: &Access, address: &CmAddress, bytes: &[u8], node: Option<&str>) -> CliResult {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        CliError::runtime(anyhow::anyhow!(
            "{address}: the rendered snapshot is not UTF-8 text ({e}); use --format yaml or json"
        ))
    })?;
    let written = eidos_fleet::blocking::write_snapshot(access, address, text, node)
        .map_err(CliError::runtime)?;
    tracing::info!(
        %address,
        created = written.created,
        compressed = written.compressed,
        attempts = written.attempts,
        "snapshot written"
    );
    Ok(())
}

/// Reads the snapshot text at `address` (the environment's Kubernetes configuration).
pub fn read(address: &CmAddress) -> Result<String, StoreError> {
    eidos_fleet::blocking::read_snapshot(&Access::default(), address)
}

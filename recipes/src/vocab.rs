//! The query fields and the values each one accepts, shared by query parsing and overlay keys.

use crate::version::{Version, VersionError};

/// Operating systems (the os-release `ID`).
pub const OS_VALUES: &[&str] = &["ubuntu", "rhel", "rocky", "cos", "amzn", "debian", "sles"];
/// Kubernetes services.
pub const SERVICE_VALUES: &[&str] = &["eks", "gke", "aks", "oke", "self-managed"];
/// GPU models.
pub const GPU_VALUES: &[&str] = &["a100", "l4", "l40s", "h100", "h200", "b200", "gb200"];
/// Workload intents.
pub const INTENT_VALUES: &[&str] = &["training", "inference"];

/// One of the fields a query (and an overlay key) can state, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// `os`
    Os,
    /// `osv`
    Osv,
    /// `kernel`
    Kernel,
    /// `service`
    Service,
    /// `k8s`
    K8s,
    /// `gpu`
    Gpu,
    /// `intent`
    Intent,
}

/// What kind of value a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One of a fixed list of names.
    Enum(&'static [&'static str]),
    /// A version; the text names it in errors.
    Version(&'static str),
}

impl Field {
    /// Every field, in the order they are written.
    pub const ALL: [Field; 7] = [
        Field::Os,
        Field::Osv,
        Field::Kernel,
        Field::Service,
        Field::K8s,
        Field::Gpu,
        Field::Intent,
    ];

    /// The field's name as a parameter and a key.
    pub fn name(self) -> &'static str {
        match self {
            Field::Os => "os",
            Field::Osv => "osv",
            Field::Kernel => "kernel",
            Field::Service => "service",
            Field::K8s => "k8s",
            Field::Gpu => "gpu",
            Field::Intent => "intent",
        }
    }

    /// The field with this (case-insensitive) name.
    pub fn parse(name: &str) -> Option<Field> {
        Self::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// What the field takes.
    pub fn kind(self) -> FieldKind {
        match self {
            Field::Os => FieldKind::Enum(OS_VALUES),
            Field::Service => FieldKind::Enum(SERVICE_VALUES),
            Field::Gpu => FieldKind::Enum(GPU_VALUES),
            Field::Intent => FieldKind::Enum(INTENT_VALUES),
            Field::Osv => FieldKind::Version("os version"),
            Field::Kernel => FieldKind::Version("kernel version"),
            Field::K8s => FieldKind::Version("kubernetes version"),
        }
    }
}

/// Whether a value means "unspecified" (`any`, empty, white space).
pub fn is_unspecified(value: &str) -> bool {
    let value = value.trim();
    value.is_empty() || value.eq_ignore_ascii_case("any")
}

/// Normalizes an enum value: lower case, and one of `allowed`; otherwise the reason, listing them.
pub fn normalize_enum(value: &str, allowed: &[&str]) -> Result<String, String> {
    let lower = value.trim().to_ascii_lowercase();
    if allowed.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(format!("expected one of {} (or any)", allowed.join(", ")))
    }
}

/// Parses a version value for `field`'s kind.
pub fn parse_version(value: &str, what: &'static str) -> Result<Version, VersionError> {
    Version::parse_as(&value.to_ascii_lowercase(), what)
}

//! Deriving a query from a node snapshot: os and osv from os-release, the kernel from sysctl or
//! the boot image, k8s version and service from the Kubernetes server version, gpu from the GPU
//! model name. Values that cannot be recognised are left unspecified.

use crate::query::Query;
use crate::vocab::{self, Field, FieldKind, GPU_VALUES, OS_VALUES};
use eidos_plugin_api::{MeasurementType, Reading, Snapshot};

/// A snapshot from which no query field at all could be derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the snapshot says nothing a recipe can use: no os-release, kernel release, Kubernetes server version or GPU model in it")]
pub struct DeriveError;

impl Query {
    /// The query a snapshot implies (os, osv, kernel, service, k8s, gpu); fields it cannot
    /// derive are left unspecified.
    pub fn from_snapshot(snapshot: &Snapshot) -> Query {
        let text = |kind, subtype: &str, key: &str| {
            snapshot
                .reading(kind, subtype, key)
                .and_then(Reading::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        };
        let os = text(MeasurementType::Os, "release", "ID")
            .map(str::to_ascii_lowercase)
            .filter(|id| OS_VALUES.contains(&id.as_str()));
        let osv = text(MeasurementType::Os, "release", "VERSION_ID").map(str::to_owned);
        let kernel = text(MeasurementType::Os, "sysctl", "/proc/sys/kernel/osrelease")
            .map(str::to_owned)
            .or_else(|| {
                text(MeasurementType::Os, "grub", "BOOT_IMAGE")
                    .and_then(|image| image.rsplit('/').next())
                    .and_then(|file| file.strip_prefix("vmlinuz-"))
                    .map(str::to_owned)
            });
        let k8s = text(MeasurementType::K8s, "server", "version").map(str::to_owned);
        let service = k8s
            .as_deref()
            .and_then(service_from_version)
            .map(str::to_owned);
        let gpu = gpu_model(snapshot)
            .and_then(gpu_from_model)
            .map(str::to_owned);
        let query = Query {
            os,
            osv: valid_version(osv, Field::Osv),
            kernel: valid_version(kernel, Field::Kernel),
            service,
            k8s: valid_version(k8s, Field::K8s),
            gpu,
            intent: None,
            context: false,
        };
        // Every field was checked above; this only normalizes.
        query.normalized_leniently()
    }

    /// Like [`Query::from_snapshot`], but an error when nothing at all could be derived.
    pub fn try_from_snapshot(snapshot: &Snapshot) -> Result<Query, DeriveError> {
        let query = Query::from_snapshot(snapshot);
        if Field::ALL.iter().all(|f| query.field(*f).is_none()) {
            Err(DeriveError)
        } else {
            Ok(query)
        }
    }
}

/// Keeps a derived version only if it parses, logging what was dropped.
fn valid_version(value: Option<String>, field: Field) -> Option<String> {
    let value = value?;
    let FieldKind::Version(what) = field.kind() else {
        return Some(value);
    };
    match vocab::parse_version(&value, what) {
        Ok(v) => Some(v.to_string()),
        Err(e) => {
            tracing::warn!("snapshot: {e}; {} left unspecified", field.name());
            None
        }
    }
}

/// The Kubernetes service a server version names (`v1.30.14-eks-3025e55` → eks).
pub fn service_from_version(version: &str) -> Option<&'static str> {
    let v = version.to_ascii_lowercase();
    if v.contains("-eks") {
        Some("eks")
    } else if v.contains("-gke") {
        Some("gke")
    } else if v.contains("-aks") {
        Some("aks")
    } else if v.contains("-oke") {
        Some("oke")
    } else if v.contains("+k3s") || v.contains("+rke2") {
        Some("self-managed")
    } else {
        None
    }
}

/// The GPU model name in a snapshot: the Go tool's `smi` `gpu.model`, or a `model`/`product-name`
/// key in any GPU subtype.
fn gpu_model(snapshot: &Snapshot) -> Option<&str> {
    let gpu = snapshot.measurement(MeasurementType::Gpu)?;
    gpu.subtypes.iter().find_map(|s| {
        [
            "gpu.model",
            "model",
            "gpu.product-name",
            "product-name",
            "name",
        ]
        .iter()
        .find_map(|k| s.data.get(*k).and_then(Reading::as_str))
    })
}

/// The GPU a model name denotes ("NVIDIA H100 80GB HBM3" → h100, "NVIDIA A100-SXM4-80GB" → a100).
pub fn gpu_from_model(model: &str) -> Option<&'static str> {
    let lower = model.to_ascii_lowercase();
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(|word| GPU_VALUES.iter().copied().find(|g| *g == word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::{Measurement, Subtype};

    #[test]
    fn gpu_models_map_to_gpu_names() {
        for (model, gpu) in [
            ("NVIDIA H100 80GB HBM3", Some("h100")),
            ("NVIDIA H100 NVL", Some("h100")),
            ("NVIDIA H200", Some("h200")),
            ("NVIDIA GB200", Some("gb200")),
            ("NVIDIA B200", Some("b200")),
            ("NVIDIA A100-SXM4-80GB", Some("a100")),
            ("NVIDIA L40S", Some("l40s")),
            ("NVIDIA L4", Some("l4")),
            ("Tesla T4", None),
            ("NVIDIA GH200 480GB", None),
        ] {
            assert_eq!(gpu_from_model(model), gpu, "{model}");
        }
    }

    #[test]
    fn services_come_from_server_versions() {
        for (version, service) in [
            ("v1.30.14-eks-3025e55", Some("eks")),
            ("v1.31.6-gke.1020000", Some("gke")),
            ("v1.33.5+k3s1", Some("self-managed")),
            ("v1.32.1", None),
        ] {
            assert_eq!(service_from_version(version), service, "{version}");
        }
    }

    fn snapshot(measurements: Vec<Measurement>) -> Snapshot {
        Snapshot {
            measurements,
            ..Default::default()
        }
    }

    #[test]
    fn the_reference_snapshot_gives_eks_h100() {
        let snap: Snapshot = serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
        let q = Query::try_from_snapshot(&snap).unwrap();
        assert_eq!(
            q,
            Query {
                kernel: Some("6.8.0-1031-aws".into()),
                service: Some("eks".into()),
                k8s: Some("1.30.14-eks-3025e55".into()),
                gpu: Some("h100".into()),
                ..Default::default()
            }
        );
    }

    #[test]
    fn eidos_gpu_collector_subtypes_are_read() {
        // The summary leaves gpu.model out when GPUs differ; each GPU's subtype still names it.
        let snap = snapshot(vec![Measurement::new(
            MeasurementType::Gpu,
            vec![
                Subtype::new("smi")
                    .with("driver", "570.133.20")
                    .with("gpu-count", 2u32),
                Subtype::new("gpu0")
                    .with("index", 0u32)
                    .with("model", "NVIDIA H200"),
                Subtype::new("gpu1")
                    .with("index", 1u32)
                    .with("model", "NVIDIA H200 NVL"),
            ],
        )]);
        assert_eq!(Query::from_snapshot(&snap).gpu.as_deref(), Some("h200"));
    }

    #[test]
    fn os_release_and_boot_image_are_used() {
        let snap = snapshot(vec![Measurement::new(
            MeasurementType::Os,
            vec![
                Subtype::new("grub").with("BOOT_IMAGE", "/boot/vmlinuz-6.8.0-1028-aws"),
                Subtype::new("release")
                    .with("ID", "ubuntu")
                    .with("VERSION_ID", "24.04"),
            ],
        )]);
        let q = Query::from_snapshot(&snap);
        assert_eq!(q.os.as_deref(), Some("ubuntu"));
        assert_eq!(q.osv.as_deref(), Some("24.04"));
        assert_eq!(q.kernel.as_deref(), Some("6.8.0-1028-aws"));
    }

    #[test]
    fn unrecognised_values_are_left_unspecified() {
        let snap = snapshot(vec![
            Measurement::new(
                MeasurementType::Os,
                vec![Subtype::new("release")
                    .with("ID", "plan9")
                    .with("VERSION_ID", "four")],
            ),
            Measurement::new(
                MeasurementType::Gpu,
                vec![Subtype::new("smi").with("gpu.model", "Tesla T4")],
            ),
        ]);
        assert_eq!(Query::from_snapshot(&snap), Query::default());
        assert_eq!(Query::try_from_snapshot(&snap), Err(DeriveError));
        assert_eq!(
            Query::try_from_snapshot(&Snapshot::default()),
            Err(DeriveError)
        );
    }
}

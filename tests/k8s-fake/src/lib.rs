//! A **fake** Kubernetes API server for eidos's tests and benchmarks.
//!
//! It is a fake because no real Kubernetes API server (nor etcd, nor a container runtime to run
//! one) can be installed on the machines that build and test eidos. It is written to be faithful
//! to the protocol where the `k8s` collector depends on it:
//!
//! - plain HTTP/1.1 on `127.0.0.1:0`, reached through a generated kubeconfig (see
//!   [`FakeApiServer::write_kubeconfig`]);
//! - `GET /version`, the discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/nvidia.com/v1`);
//! - `GET /api/v1/pods` (all namespaces) with the real `limit`/`continue` semantics: objects in
//!   key order (`namespace/name`), an opaque continue token bound to the list's resourceVersion,
//!   `remainingItemCount`, and `410 Gone` with reason `Expired` for an expired token;
//! - `GET /api/v1/nodes/NAME`, with a `404` `Status` for an unknown node;
//! - `GET /apis/nvidia.com/v1/clusterpolicies`; when the CRD is not installed the path answers
//!   like the real server does for an unknown group: `404` with the plain-text body
//!   `404 page not found`;
//! - ConfigMaps under `/api/v1/namespaces/NS/configmaps`: get, list (label selector, `limit`,
//!   `continue`), create, update with `resourceVersion` and `409 Conflict` (see `configmaps.rs`);
//! - error bodies are `Status` objects (`kind: Status`, `reason`, `code`), `429` carries
//!   `Retry-After`.
//!
//! Objects are serialized from `k8s-openapi` types once, when the cluster is built, so that the
//! JSON on the wire is what a real server would send for those objects. Fault injection
//! ([`Fault`]) makes the failure paths testable: expired continue tokens, throttling, transient
//! `503`s, `403`/`404` answers, and a server that always fails.

mod cluster;
mod configmaps;
mod faults;
mod server;

pub use cluster::{
    cluster_policy_like_a_real_one, node_like_a_gpu_node, pod, reference_like_cluster,
    synthetic_pods, version_info, FakeCluster,
};
pub use configmaps::MAX_CONFIGMAP_BYTES;
pub use faults::{Fault, RequestRecord};
pub use server::FakeApiServer;

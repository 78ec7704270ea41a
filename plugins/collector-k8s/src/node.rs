//! The `node` subtype: the node this agent runs on, as the API server describes it.

use eidos_plugin_api::Subtype;
use k8s_openapi::api::core::v1::Node;
use kube::Api;

/// Label prefixes kept in the subtype (GPU Operator / GPU Feature Discovery, and Node Feature
/// Discovery).
pub const LABEL_PREFIXES: [&str; 2] = ["nvidia.com/", "feature.node.kubernetes.io/"];

/// Reads the node called `name`.
pub async fn read_node(client: &kube::Client, name: &str) -> Result<Subtype, kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    Ok(node_subtype(&api.get(name).await?))
}

/// The `node` subtype of `node`: `name`, `kubeletVersion`, `containerRuntimeVersion`, `osImage`,
/// `kernelVersion`, `operatingSystem`, `architecture`, `allocatable.nvidia.com/gpu` (when the
/// device plugin advertises GPUs) and the labels under [`LABEL_PREFIXES`], keys sorted.
pub fn node_subtype(node: &Node) -> Subtype {
    let mut subtype = Subtype::new("node");
    if let Some(name) = &node.metadata.name {
        subtype.insert("name", name.clone());
    }
    if let Some(info) = node.status.as_ref().and_then(|s| s.node_info.as_ref()) {
        subtype.insert("kubeletVersion", info.kubelet_version.clone());
        subtype.insert(
            "containerRuntimeVersion",
            info.container_runtime_version.clone(),
        );
        subtype.insert("osImage", info.os_image.clone());
        subtype.insert("kernelVersion", info.kernel_version.clone());
        subtype.insert("operatingSystem", info.operating_system.clone());
        subtype.insert("architecture", info.architecture.clone());
    }
    if let Some(gpus) = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get("nvidia.com/gpu"))
    {
        subtype.insert("allocatable.nvidia.com/gpu", gpus.0.clone());
    }
    for (key, value) in node.metadata.labels.iter().flatten() {
        if LABEL_PREFIXES.iter().any(|p| key.starts_with(p)) {
            subtype.insert(key.clone(), value.clone());
        }
    }
    subtype.sort();
    subtype
}

//! The objects the fake server serves, built from `k8s-openapi` types.

use k8s_openapi::api::core::v1::{
    Container, ContainerStatus, EnvVar, Node, NodeSpec, NodeStatus, NodeSystemInfo, Pod,
    PodCondition, PodSpec, PodStatus, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::version::Info;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The state of a fake cluster: what `/version`, `/api/v1/pods`, `/api/v1/nodes/NAME` and the
/// ClusterPolicy list answer.
#[derive(Debug, Clone)]
pub struct FakeCluster {
    /// `/version`.
    pub version: Info,
    /// The pods, in any order; the server sorts them by `namespace/name` like etcd's key order.
    pub pods: Vec<Pod>,
    /// The nodes, by name.
    pub nodes: Vec<Node>,
    /// The ClusterPolicy objects; `None` means the CRD is not installed (the path is a 404).
    pub cluster_policies: Option<Vec<Value>>,
}

impl FakeCluster {
    /// An empty cluster with the given version, no pods, no nodes, and no GPU Operator CRD.
    pub fn empty() -> Self {
        FakeCluster {
            version: version_info(),
            pods: Vec::new(),
            nodes: Vec::new(),
            cluster_policies: None,
        }
    }
}

/// The `/version` of an EKS 1.30 control plane, as in the reference snapshot.
pub fn version_info() -> Info {
    Info {
        major: "1".into(),
        minor: "30+".into(),
        git_version: "v1.30.14-eks-3025e55".into(),
        git_commit: "3025e55a2e1fbd1a0a4b6c5b8d0c6c1e8a9f0b11".into(),
        git_tree_state: "clean".into(),
        build_date: "2025-09-01T18:21:32Z".into(),
        go_version: "go1.24.9".into(),
        compiler: "gc".into(),
        platform: "linux/arm64".into(),
        ..Default::default()
    }
}

/// A running pod in `namespace` with the given container and init-container images, filled in
/// the way a real pod is (owner, labels, resources, env, status), so that its JSON has a
/// realistic size.
pub fn pod(namespace: &str, name: &str, images: &[&str], init_images: &[&str]) -> Pod {
    let container = |i: usize, image: &str| Container {
        name: format!("c{i}"),
        image: Some(image.to_owned()),
        image_pull_policy: Some("IfNotPresent".into()),
        env: Some(vec![
            EnvVar {
                name: "NODE_NAME".into(),
                value: None,
                value_from: None,
            },
            EnvVar {
                name: "LOG_LEVEL".into(),
                value: Some("info".into()),
                value_from: None,
            },
        ]),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), Quantity("100m".into())),
                ("memory".to_owned(), Quantity("128Mi".into())),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".to_owned(),
                Quantity("512Mi".into()),
            )])),
            ..Default::default()
        }),
        termination_message_path: Some("/dev/termination-log".into()),
        termination_message_policy: Some("File".into()),
        ..Default::default()
    };
    let statuses = images
        .iter()
        .enumerate()
        .map(|(i, image)| ContainerStatus {
            name: format!("c{i}"),
            image: (*image).to_owned(),
            image_id: format!("{image}@sha256:{:064x}", i + 1),
            ready: true,
            restart_count: 0,
            started: Some(true),
            ..Default::default()
        })
        .collect();
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            uid: Some(format!(
                "{:08x}-0000-4000-8000-{:012x}",
                name.len(),
                fnv(name)
            )),
            resource_version: Some("1000".into()),
            labels: Some(BTreeMap::from([
                ("app.kubernetes.io/name".to_owned(), name.to_owned()),
                (
                    "pod-template-hash".to_owned(),
                    format!("{:x}", fnv(namespace)),
                ),
            ])),
            owner_references: Some(vec![OwnerReference {
                api_version: "apps/v1".into(),
                kind: "ReplicaSet".into(),
                name: format!("{name}-rs"),
                uid: format!("{:032x}", fnv(name)),
                controller: Some(true),
                block_owner_deletion: Some(true),
            }]),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: images
                .iter()
                .enumerate()
                .map(|(i, im)| container(i, im))
                .collect(),
            init_containers: (!init_images.is_empty()).then(|| {
                init_images
                    .iter()
                    .enumerate()
                    .map(|(i, im)| container(100 + i, im))
                    .collect()
            }),
            node_name: Some("ip-10-0-1-17.ec2.internal".into()),
            service_account_name: Some("default".into()),
            restart_policy: Some("Always".into()),
            dns_policy: Some("ClusterFirst".into()),
            scheduler_name: Some("default-scheduler".into()),
            termination_grace_period_seconds: Some(30),
            ..Default::default()
        }),
        status: Some(PodStatus {
            phase: Some("Running".into()),
            pod_ip: Some("10.0.1.23".into()),
            host_ip: Some("10.0.1.17".into()),
            qos_class: Some("Burstable".into()),
            conditions: Some(vec![PodCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            container_statuses: Some(statuses),
            ..Default::default()
        }),
    }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `count` pods of `containers` containers each, using `distinct_images` different image names
/// (each with one tag), spread over 50 namespaces: the benchmark's cluster.
pub fn synthetic_pods(count: usize, containers: usize, distinct_images: usize) -> Vec<Pod> {
    let distinct = distinct_images.max(1);
    (0..count)
        .map(|p| {
            let images: Vec<String> = (0..containers)
                .map(|c| {
                    let i = (p * containers + c) % distinct;
                    format!("registry.example.invalid/team{}/app-{i}:v1.{i}.0", i % 7)
                })
                .collect();
            let refs: Vec<&str> = images.iter().map(String::as_str).collect();
            pod(
                &format!("ns-{:02}", p % 50),
                &format!("pod-{p:06}"),
                &refs,
                &[],
            )
        })
        .collect()
}

/// A GPU node as the GPU Operator and Node Feature Discovery label it.
pub fn node_like_a_gpu_node(name: &str) -> Node {
    let labels = [
        ("kubernetes.io/arch", "arm64"),
        ("kubernetes.io/hostname", name),
        ("node.kubernetes.io/instance-type", "p5.48xlarge"),
        ("nvidia.com/gpu.count", "8"),
        ("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"),
        ("nvidia.com/gpu.present", "true"),
        ("nvidia.com/cuda.driver.major", "570"),
        ("nvidia.com/mig.strategy", "single"),
        (
            "feature.node.kubernetes.io/kernel-version.full",
            "6.8.0-1024-aws",
        ),
        ("feature.node.kubernetes.io/pci-10de.present", "true"),
        ("feature.node.kubernetes.io/cpu-model.vendor_id", "ARM"),
    ];
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            resource_version: Some("1000".into()),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            provider_id: Some("aws:///us-east-1a/i-0123456789abcdef0".into()),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            allocatable: Some(BTreeMap::from([
                ("cpu".to_owned(), Quantity("191450m".into())),
                ("memory".to_owned(), Quantity("2027264944Ki".into())),
                ("nvidia.com/gpu".to_owned(), Quantity("8".into())),
            ])),
            node_info: Some(NodeSystemInfo {
                architecture: "arm64".into(),
                boot_id: "b0b0b0b0-0000-4000-8000-000000000001".into(),
                container_runtime_version: "containerd://1.7.27".into(),
                kernel_version: "6.8.0-1024-aws".into(),
                kube_proxy_version: "v1.30.6-eks-a737599".into(),
                kubelet_version: "v1.30.6-eks-a737599".into(),
                machine_id: "ec2aaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
                operating_system: "linux".into(),
                os_image: "Ubuntu 22.04.5 LTS".into(),
                system_uuid: "ec2aaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

/// A ClusterPolicy (`nvidia.com/v1`) shaped like the one the GPU Operator's Helm chart installs:
/// nested objects, env lists, tolerations, label maps whose keys contain dots and slashes,
/// booleans, integers and strings. Values match the reference snapshot.
pub fn cluster_policy_like_a_real_one() -> Value {
    json!({
        "apiVersion": "nvidia.com/v1",
        "kind": "ClusterPolicy",
        "metadata": {
            "name": "cluster-policy",
            "uid": "5d0c4b8e-6f0e-4d7a-9a3b-2f6f1e0c9a11",
            "resourceVersion": "51234",
            "generation": 3,
            "creationTimestamp": "2025-03-20T10:11:12Z",
            "labels": {"app.kubernetes.io/component": "gpu-operator"},
            "annotations": {"meta.helm.sh/release-name": "gpu-operator"}
        },
        "spec": {
            "operator": {
                "defaultRuntime": "docker",
                "runtimeClass": "nvidia",
                "initContainer": {
                    "image": "cuda",
                    "repository": "nvcr.io/nvidia",
                    "version": "12.8.1-base-ubi9",
                    "imagePullPolicy": "IfNotPresent"
                }
            },
            "daemonsets": {
                "labels": {
                    "app.kubernetes.io/managed-by": "gpu-operator",
                    "helm.sh/chart": "gpu-operator-v25.3.0"
                },
                "priorityClassName": "system-node-critical",
                "updateStrategy": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "1"},
                "tolerations": [
                    {"effect": "NoSchedule", "operator": "Exists"},
                    {"effect": "NoExecute", "operator": "Exists"}
                ]
            },
            "driver": {
                "enabled": true,
                "image": "driver",
                "repository": "nvcr.io/nvidia",
                "version": "570.133.20",
                "imagePullPolicy": "IfNotPresent",
                "kernelModuleType": "auto",
                "usePrecompiled": false,
                "useNvidiaDriverCRD": false,
                "certConfig": {"name": ""},
                "licensingConfig": {"configMapName": "", "nlsEnabled": true},
                "rdma": {"enabled": true, "useHostMofed": false},
                "startupProbe": {
                    "failureThreshold": 120,
                    "initialDelaySeconds": 60,
                    "periodSeconds": 10,
                    "timeoutSeconds": 60
                },
                "upgradePolicy": {
                    "autoUpgrade": true,
                    "maxParallelUpgrades": 1,
                    "maxUnavailable": "25%",
                    "drain": {"enable": false, "force": false, "deleteEmptyDir": false, "timeoutSeconds": 300},
                    "podDeletion": {"force": false, "deleteEmptyDir": false, "timeoutSeconds": 300},
                    "waitForCompletion": {"timeoutSeconds": 0}
                },
                "manager": {
                    "image": "k8s-driver-manager",
                    "repository": "nvcr.io/nvidia/cloud-native",
                    "version": "v0.8.0",
                    "imagePullPolicy": "IfNotPresent",
                    "env": [
                        {"name": "ENABLE_GPU_POD_EVICTION", "value": "true"},
                        {"name": "ENABLE_AUTO_DRAIN", "value": "false"},
                        {"name": "DRAIN_USE_FORCE", "value": "false"},
                        {"name": "DRAIN_POD_SELECTOR_LABEL", "value": ""},
                        {"name": "DRAIN_TIMEOUT_SECONDS", "value": "0s"},
                        {"name": "DRAIN_DELETE_EMPTYDIR_DATA", "value": "false"}
                    ]
                }
            },
            "toolkit": {
                "enabled": true,
                "image": "container-toolkit",
                "repository": "nvcr.io/nvidia/k8s",
                "version": "v1.17.5-ubuntu20.04",
                "imagePullPolicy": "IfNotPresent",
                "installDir": "/usr/local/nvidia",
                "env": [
                    {"name": "ACCEPT_NVIDIA_VISIBLE_DEVICES_ENVVAR_WHEN_UNPRIVILEGED", "value": "false"},
                    {"name": "ACCEPT_NVIDIA_VISIBLE_DEVICES_AS_VOLUME_MOUNTS", "value": "true"}
                ]
            },
            "devicePlugin": {
                "enabled": true,
                "image": "k8s-device-plugin",
                "repository": "nvcr.io/nvidia",
                "version": "v0.17.1",
                "imagePullPolicy": "IfNotPresent",
                "env": [
                    {"name": "DP_DISABLE_HEALTHCHECKS", "value": "109"},
                    {"name": "DEVICE_LIST_STRATEGY", "value": "volume-mounts"}
                ]
            },
            "dcgmExporter": {
                "enabled": true,
                "image": "dcgm-exporter",
                "repository": "nvcr.io/nvidia/k8s",
                "version": "4.1.1-4.0.4-ubuntu22.04",
                "imagePullPolicy": "IfNotPresent",
                "config": {"name": "dcgm-exporter"},
                "serviceMonitor": {"enabled": true, "honorLabels": false, "interval": "60s"},
                "env": [
                    {"name": "DCGM_EXPORTER_LISTEN", "value": ":9400"},
                    {"name": "DCGM_EXPORTER_KUBERNETES", "value": "true"},
                    {"name": "DCGM_EXPORTER_COLLECTORS", "value": "/etc/dcgm-exporter/dcp-metrics-included.csv"}
                ]
            },
            "mig": {"strategy": "single"},
            "migManager": {
                "enabled": true,
                "config": {"name": "default-mig-parted-config", "default": "all-disabled"},
                "gpuClientsConfig": {"name": ""},
                "env": [{"name": "WITH_REBOOT", "value": "false"}]
            },
            "kataManager": {
                "enabled": false,
                "config": {
                    "artifactsDir": "/opt/nvidia-gpu-operator/artifacts/runtimeclasses",
                    "runtimeClasses": [
                        {"artifacts": {"pullSecret": "", "url": "nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-535.54.03"}, "name": "kata-nvidia-gpu", "nodeSelector": {}},
                        {"artifacts": {"pullSecret": "", "url": "nvcr.io/nvidia/cloud-native/kata-gpu-artifacts:ubuntu22.04-535.86.10-snp"}, "name": "kata-nvidia-gpu-snp", "nodeSelector": {"nvidia.com/cc.capable": "true"}}
                    ]
                }
            },
            "hostPaths": {"driverInstallDir": "/run/nvidia/driver", "rootFS": "/"},
            "psa": {"enabled": false},
            "cdi": {"enabled": false, "default": false},
            "nodeStatusExporter": {"enabled": false}
        },
        "status": {"namespace": "gpu-operator", "state": "ready"}
    })
}

/// A small cluster resembling the one the reference snapshot was taken on: an EKS 1.30 control
/// plane, GPU Operator pods (with init containers), one GPU node, and a ClusterPolicy.
pub fn reference_like_cluster() -> FakeCluster {
    let pods = vec![
        pod(
            "gpu-operator",
            "gpu-operator-6b8f9c7d5-x2x4z",
            &["nvcr.io/nvidia/gpu-operator:v25.3.0"],
            &[],
        ),
        pod(
            "gpu-operator",
            "nvidia-device-plugin-daemonset-abcde",
            &["nvcr.io/nvidia/k8s-device-plugin:v0.17.1"],
            &["nvcr.io/nvidia/cloud-native/gpu-operator-validator:v25.3.0"],
        ),
        pod(
            "gpu-operator",
            "nvidia-dcgm-exporter-fghij",
            &["nvcr.io/nvidia/k8s/dcgm-exporter:4.1.1-4.0.4-ubuntu22.04"],
            &["nvcr.io/nvidia/cloud-native/gpu-operator-validator:v25.3.0"],
        ),
        pod(
            "kube-system",
            "aws-node-klmno",
            &[
                "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.19.2-eksbuild.1",
                "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon/aws-network-policy-agent:v1.1.6-eksbuild.1",
            ],
            &["602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni-init:v1.19.2-eksbuild.1"],
        ),
        pod(
            "kube-system",
            "coredns-787cb67946-pqrst",
            &["602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:v1.11.4-eksbuild.2"],
            &[],
        ),
        pod("monitoring", "redis-0", &["redis:7.4.2"], &[]),
        pod(
            "eidos",
            "eidos-agent-uvwxy",
            &["ghcr.io/nvidia/eidos"],
            &[],
        ),
        pod(
            "skyhook",
            "skyhook-operator-5c9d-zzzzz",
            &["nvcr.io/nvidia/skyhook/operator@sha256:4f1b2c3d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeeff0"],
            &[],
        ),
    ];
    FakeCluster {
        version: version_info(),
        pods,
        nodes: vec![node_like_a_gpu_node("ip-10-0-1-17.ec2.internal")],
        cluster_policies: Some(vec![cluster_policy_like_a_real_one()]),
    }
}

//! The Kubernetes objects that run eidos on a cluster's GPU nodes (`eidos agent manifests`),
//! built from `k8s-openapi` types and printed as one multi-document YAML stream.
//!
//! Secure by default: the host's root is mounted read-only, the pod runs as a non-root user with
//! every capability dropped, a read-only root filesystem, the runtime's default seccomp profile
//! and no privilege escalation; it is never privileged and does not share the host's network,
//! PID or IPC namespaces. RBAC grants exactly what eidos calls: the `k8s` collector's reads
//! (cluster-wide) and the ConfigMap writer's `get`, `create`, `update` (its namespace only).
//! docs/fleet.md explains each choice and what to change for more.

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, HostPathVolumeSource, Namespace, NodeAffinity, NodeSelector,
    NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector, PodSecurityContext, PodSpec,
    PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile, SecurityContext, ServiceAccount,
    Toleration, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The object names (ServiceAccount, roles, DaemonSet, Job) and the `app.kubernetes.io/name`.
pub const APP: &str = "eidos";
/// Where the host's root is mounted in the container.
pub const HOST_ROOT: &str = "/host";
/// The system D-Bus socket, on the host and in the container.
pub const DBUS_SOCKET: &str = "/run/dbus/system_bus_socket";
/// The health endpoint's port (agent mode).
pub const HEALTH_PORT: i32 = 8080;
/// The non-root user and group the container runs as (the conventional "nonroot" id).
pub const RUN_AS: i64 = 65532;
/// The node label the NVIDIA GPU Operator's feature discovery sets on GPU nodes.
pub const GPU_NODE_LABEL: &str = "nvidia.com/gpu.present";
/// The taint key GPU node pools commonly carry.
pub const GPU_TAINT: &str = "nvidia.com/gpu";

/// How eidos runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A DaemonSet: `eidos agent run` on every GPU node, a snapshot every interval.
    DaemonSet,
    /// A Job: one `eidos snapshot` on one node, once.
    Job,
}

/// What the manifests say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The namespace everything lives in (and the snapshots are written to).
    pub namespace: String,
    /// The container image.
    pub image: String,
    /// DaemonSet or Job.
    pub mode: Mode,
    /// Job mode: the node to run on (default: any GPU node).
    pub node: Option<String>,
    /// DaemonSet mode: the agent's interval, as `eidos agent run --interval` takes it.
    pub interval: String,
}

impl Options {
    /// The defaults: namespace `eidos`, image `eidos:VERSION`, a DaemonSet every hour.
    pub fn defaults(version: &str) -> Self {
        Options {
            namespace: APP.to_owned(),
            image: format!("{APP}:{version}"),
            mode: Mode::DaemonSet,
            node: None,
            interval: "1h".to_owned(),
        }
    }
}

fn labels(component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), APP.to_owned()),
        (
            "app.kubernetes.io/component".to_owned(),
            component.to_owned(),
        ),
    ])
}

fn meta(name: &str, namespace: Option<&str>, component: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels(component)),
        ..ObjectMeta::default()
    }
}

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| (*s).to_owned()).collect())
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: strings(groups),
        resources: strings(resources),
        verbs: verbs.iter().map(|s| (*s).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

/// The name of the cluster-scoped ClusterRole and binding: `eidos-collector`, suffixed with the
/// namespace when it is not the default one, so that two installations do not share them.
fn cluster_name(namespace: &str) -> String {
    if namespace == APP {
        format!("{APP}-collector")
    } else {
        format!("{APP}-collector-{namespace}")
    }
}

/// The cluster-wide reads of the `k8s` collector, and nothing else.
fn collector_role(namespace: &str) -> ClusterRole {
    ClusterRole {
        metadata: meta(&cluster_name(namespace), None, "rbac"),
        rules: Some(vec![
            // `server`: GET /version.
            PolicyRule {
                non_resource_urls: strings(&["/version"]),
                verbs: vec!["get".to_owned()],
                ..PolicyRule::default()
            },
            // `image`: every pod's images, all namespaces (paginated list).
            rule(&[""], &["pods"], &["list"]),
            // `node`: this node.
            rule(&[""], &["nodes"], &["get"]),
            // `policy`: the GPU Operator's ClusterPolicy.
            rule(&["nvidia.com"], &["clusterpolicies"], &["list"]),
        ]),
        aggregation_rule: None,
    }
}

/// The ConfigMap writer's calls in its namespace: read the current object, create it, replace it.
fn writer_role(namespace: &str) -> Role {
    Role {
        metadata: meta(&format!("{APP}-snapshot-writer"), Some(namespace), "rbac"),
        rules: Some(vec![rule(
            &[""],
            &["configmaps"],
            &["get", "create", "update"],
        )]),
    }
}

fn subject(namespace: &str) -> Subject {
    Subject {
        kind: "ServiceAccount".to_owned(),
        name: APP.to_owned(),
        namespace: Some(namespace.to_owned()),
        api_group: None,
    }
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    }
}

fn quantities(cpu: &str, memory: &str) -> Option<BTreeMap<String, Quantity>> {
    Some(BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu.to_owned())),
        ("memory".to_owned(), Quantity(memory.to_owned())),
    ]))
}

/// The format the pods store snapshots in. JSON, because a fleet report reads thousands of them
/// and JSON parses about ten times faster than YAML (see docs/fleet.md); given on the command
/// line so that no configuration file or `EIDOS_FORMAT` in the image can change it.
pub const STORED_FORMAT: &str = "json";

/// The snapshot's address: one ConfigMap per node, named after it (Kubernetes expands
/// `$(NODE_NAME)` in the arguments from the container's environment).
fn output(namespace: &str) -> String {
    format!("cm://{namespace}/{APP}-$(NODE_NAME)")
}

fn container(options: &Options) -> Container {
    let out = output(&options.namespace);
    let (args, ports, liveness) = match options.mode {
        Mode::DaemonSet => (
            vec![
                "agent".to_owned(),
                "run".to_owned(),
                "--interval".to_owned(),
                options.interval.clone(),
                "--format".to_owned(),
                STORED_FORMAT.to_owned(),
                "--output".to_owned(),
                out,
                "--health-addr".to_owned(),
                format!("0.0.0.0:{HEALTH_PORT}"),
                "--best-effort".to_owned(),
            ],
            Some(vec![ContainerPort {
                name: Some("health".to_owned()),
                container_port: HEALTH_PORT,
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            }]),
            Some(Probe {
                http_get: Some(HTTPGetAction {
                    path: Some("/healthz".to_owned()),
                    port: IntOrString::String("health".to_owned()),
                    ..HTTPGetAction::default()
                }),
                period_seconds: Some(60),
                timeout_seconds: Some(5),
                failure_threshold: Some(3),
                ..Probe::default()
            }),
        ),
        Mode::Job => (
            vec![
                "snapshot".to_owned(),
                "--format".to_owned(),
                STORED_FORMAT.to_owned(),
                "--output".to_owned(),
                out,
                "--best-effort".to_owned(),
            ],
            None,
            None,
        ),
    };
    Container {
        name: APP.to_owned(),
        image: Some(options.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: strings(&["eidos"]),
        args: Some(args),
        env: Some(vec![
            EnvVar {
                name: "NODE_NAME".to_owned(),
                value: None,
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        api_version: Some("v1".to_owned()),
                        field_path: "spec.nodeName".to_owned(),
                    }),
                    ..EnvVarSource::default()
                }),
            },
            env("EIDOS_HOST_ROOT", HOST_ROOT),
            env(
                "DBUS_SYSTEM_BUS_ADDRESS",
                &format!("unix:path={DBUS_SOCKET}"),
            ),
        ]),
        ports,
        liveness_probe: liveness,
        resources: Some(ResourceRequirements {
            requests: quantities("50m", "64Mi"),
            limits: quantities("500m", "256Mi"),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            privileged: Some(false),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: strings(&["ALL"]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "host-root".to_owned(),
                mount_path: HOST_ROOT.to_owned(),
                read_only: Some(true),
                mount_propagation: Some("HostToContainer".to_owned()),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "dbus".to_owned(),
                mount_path: DBUS_SOCKET.to_owned(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "tmp".to_owned(),
                mount_path: "/tmp".to_owned(),
                ..VolumeMount::default()
            },
        ]),
        termination_message_policy: Some("FallbackToLogsOnError".to_owned()),
        ..Container::default()
    }
}

fn host_path(name: &str, path: &str, kind: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        host_path: Some(HostPathVolumeSource {
            path: path.to_owned(),
            type_: Some(kind.to_owned()),
        }),
        ..Volume::default()
    }
}

fn pod_spec(options: &Options) -> PodSpec {
    let affinity = options.node.as_ref().map(|node| Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_fields: Some(vec![NodeSelectorRequirement {
                        key: "metadata.name".to_owned(),
                        operator: "In".to_owned(),
                        values: Some(vec![node.clone()]),
                    }]),
                    match_expressions: None,
                }],
            }),
            ..NodeAffinity::default()
        }),
        ..Affinity::default()
    });
    PodSpec {
        service_account_name: Some(APP.to_owned()),
        automount_service_account_token: Some(true),
        restart_policy: Some(
            match options.mode {
                Mode::DaemonSet => "Always",
                Mode::Job => "Never",
            }
            .to_owned(),
        ),
        node_selector: Some(BTreeMap::from([(
            GPU_NODE_LABEL.to_owned(),
            "true".to_owned(),
        )])),
        affinity,
        tolerations: Some(vec![Toleration {
            key: Some(GPU_TAINT.to_owned()),
            operator: Some("Exists".to_owned()),
            ..Toleration::default()
        }]),
        host_network: Some(false),
        host_pid: Some(false),
        host_ipc: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".to_owned(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        termination_grace_period_seconds: Some(30),
        containers: vec![container(options)],
        volumes: Some(vec![
            host_path("host-root", "/", "Directory"),
            host_path("dbus", DBUS_SOCKET, "Socket"),
            Volume {
                name: "tmp".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource {
                    medium: None,
                    size_limit: Some(Quantity("16Mi".to_owned())),
                }),
                ..Volume::default()
            },
        ]),
        ..PodSpec::default()
    }
}

fn workload(options: &Options) -> Result<String, serde_yaml::Error> {
    let ns = Some(options.namespace.as_str());
    let selector = labels("agent");
    match options.mode {
        Mode::DaemonSet => serde_yaml::to_string(&DaemonSet {
            metadata: meta(APP, ns, "agent"),
            spec: Some(DaemonSetSpec {
                selector: LabelSelector {
                    match_labels: Some(selector.clone()),
                    match_expressions: None,
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(selector),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(pod_spec(options)),
                },
                ..DaemonSetSpec::default()
            }),
            status: None,
        }),
        Mode::Job => serde_yaml::to_string(&Job {
            metadata: meta(&format!("{APP}-snapshot"), ns, "snapshot"),
            spec: Some(JobSpec {
                backoff_limit: Some(2),
                active_deadline_seconds: Some(600),
                ttl_seconds_after_finished: Some(86400),
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels("snapshot")),
                        ..ObjectMeta::default()
                    }),
                    spec: Some(pod_spec(options)),
                },
                ..JobSpec::default()
            }),
            status: None,
        }),
    }
}

/// The manifests as one YAML stream: Namespace, ServiceAccount, the collector's ClusterRole and
/// binding, the writer's Role and binding, then the DaemonSet or Job.
pub fn render(options: &Options) -> Result<String, serde_yaml::Error> {
    let ns = options.namespace.as_str();
    let mut namespace_labels = labels("namespace");
    // hostPath volumes are what the Pod Security "baseline" level forbids; everything else in
    // the pod meets "restricted".
    namespace_labels.insert(
        "pod-security.kubernetes.io/enforce".to_owned(),
        "privileged".to_owned(),
    );
    let documents = [
        serde_yaml::to_string(&Namespace {
            metadata: ObjectMeta {
                name: Some(ns.to_owned()),
                labels: Some(namespace_labels),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        })?,
        serde_yaml::to_string(&ServiceAccount {
            metadata: meta(APP, Some(ns), "agent"),
            automount_service_account_token: Some(true),
            ..ServiceAccount::default()
        })?,
        serde_yaml::to_string(&collector_role(ns))?,
        serde_yaml::to_string(&ClusterRoleBinding {
            metadata: meta(&cluster_name(ns), None, "rbac"),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_owned(),
                kind: "ClusterRole".to_owned(),
                name: cluster_name(ns),
            },
            subjects: Some(vec![subject(ns)]),
        })?,
        serde_yaml::to_string(&writer_role(ns))?,
        serde_yaml::to_string(&RoleBinding {
            metadata: meta(&format!("{APP}-snapshot-writer"), Some(ns), "rbac"),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_owned(),
                kind: "Role".to_owned(),
                name: format!("{APP}-snapshot-writer"),
            },
            subjects: Some(vec![subject(ns)]),
        })?,
        workload(options)?,
    ];
    let mut out = String::new();
    for doc in documents {
        out.push_str("---\n");
        out.push_str(&doc);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Vec<serde_yaml::Value> {
        text.split("---\n")
            .filter(|d| !d.trim().is_empty())
            .map(|d| serde_yaml::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn the_committed_defaults_are_what_the_command_prints() {
        let version = env!("CARGO_PKG_VERSION");
        let daemonset = render(&Options::defaults(version)).unwrap();
        assert_eq!(
            daemonset,
            include_str!("../../deploy/daemonset.yaml"),
            "deploy/daemonset.yaml is stale: regenerate it with \
             `eidos agent manifests > deploy/daemonset.yaml`"
        );
        let job = render(&Options {
            mode: Mode::Job,
            ..Options::defaults(version)
        })
        .unwrap();
        assert_eq!(
            job,
            include_str!("../../deploy/job.yaml"),
            "deploy/job.yaml is stale: regenerate it with \
             `eidos agent manifests --mode job > deploy/job.yaml`"
        );
    }

    #[test]
    fn the_pod_is_locked_down_and_never_privileged() {
        let text = render(&Options::defaults("1.0.0")).unwrap();
        let all = docs(&text);
        let kinds: Vec<&str> = all.iter().map(|d| d["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "Namespace",
                "ServiceAccount",
                "ClusterRole",
                "ClusterRoleBinding",
                "Role",
                "RoleBinding",
                "DaemonSet"
            ]
        );
        let pod = &all[6]["spec"]["template"]["spec"];
        let c = &pod["containers"][0];
        let sc = &c["securityContext"];
        assert_eq!(sc["privileged"], false);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["capabilities"]["drop"][0], "ALL");
        assert!(sc["capabilities"].get("add").is_none());
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(pod["hostNetwork"], false);
        assert_eq!(pod["nodeSelector"][GPU_NODE_LABEL], "true");
        let host = c["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["mountPath"] == HOST_ROOT)
            .unwrap();
        assert_eq!(host["readOnly"], true);
        assert!(c["resources"]["limits"]["memory"].is_string());
        let env: Vec<&str> = c["env"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(env.contains(&"NODE_NAME") && env.contains(&"EIDOS_HOST_ROOT"));
        assert!(!text.contains("privileged: true"));
    }

    #[test]
    fn rbac_grants_exactly_the_calls_eidos_makes() {
        let all = docs(&render(&Options::defaults("1.0.0")).unwrap());
        let verbs = |doc: &serde_yaml::Value| -> Vec<String> {
            doc["rules"]
                .as_sequence()
                .unwrap()
                .iter()
                .map(|r| {
                    let what = r["resources"]
                        .as_sequence()
                        .or(r["nonResourceURLs"].as_sequence())
                        .unwrap()[0]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    let verbs: Vec<&str> = r["verbs"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap())
                        .collect();
                    format!("{what}:{}", verbs.join(","))
                })
                .collect()
        };
        assert_eq!(
            verbs(&all[2]),
            [
                "/version:get",
                "pods:list",
                "nodes:get",
                "clusterpolicies:list"
            ]
        );
        assert_eq!(verbs(&all[4]), ["configmaps:get,create,update"]);
        assert_eq!(all[4]["metadata"]["namespace"], "eidos");
    }

    #[test]
    fn a_job_for_one_node_pins_it_by_name() {
        let text = render(&Options {
            mode: Mode::Job,
            node: Some("gpu-node-7".into()),
            namespace: "audit".into(),
            ..Options::defaults("1.0.0")
        })
        .unwrap();
        let all = docs(&text);
        let job = &all[6];
        assert_eq!(job["kind"], "Job");
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        let term = &pod["affinity"]["nodeAffinity"]
            ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0];
        assert_eq!(term["matchFields"][0]["values"][0], "gpu-node-7");
        // Cluster-scoped names do not clash with the default installation's.
        assert_eq!(all[2]["metadata"]["name"], "eidos-collector-audit");
        assert_eq!(all[3]["roleRef"]["name"], "eidos-collector-audit");
        let args: Vec<&str> = pod["containers"][0]["args"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "snapshot",
                "--format",
                "json",
                "--output",
                "cm://audit/eidos-$(NODE_NAME)",
                "--best-effort"
            ]
        );
    }
}

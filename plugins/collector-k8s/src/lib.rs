//! The `k8s` collector plugin: reads the cluster a node belongs to through the Kubernetes API.
//!
//! Subtypes, in order:
//! - `server`: `version`, `platform`, `goVersion` from `/version`;
//! - `image`: every container and init-container image in every namespace, `name → tag`
//!   (see [`images`] for the rule when a name has several tags);
//! - `policy`: the GPU Operator's `ClusterPolicy` spec, flattened into dotted keys ([`policy`]);
//! - `node`: the node named by `--set k8s.node=NAME` or `NODE_NAME` ([`node`]).
//!
//! The client configuration comes from the usual places ([`source`]); with none, the collector is
//! not applicable. A forbidden (`403`) part is left out with a warning naming the RBAC permission
//! it needs; a missing ClusterPolicy CRD (`404`) leaves `policy` out with a note. Transient
//! failures are retried and a circuit breaker stops a run against a failing server ([`resilience`]).
//!
//! The collector runs on a host thread; it drives kube on a current-thread tokio runtime of its
//! own, bounded by the host's timeout and stopped within [`CANCEL_POLL`] of a cancellation.

pub mod images;
pub mod node;
pub mod policy;
pub mod resilience;

/// Where the client configuration comes from (shared with the CLI's fleet commands).
pub use eidos_k8s_client::source;

use eidos_plugin_api::{
    CollectContext, CollectError, Collection, Collector, Measurement, MeasurementType, OptionDecl,
    Outcome, Subtype,
};
use resilience::{Backoff, Breaker, BreakerOpen, ResilienceLayer};
use std::sync::Arc;
use std::time::Duration;

/// How often the collector looks at the host's cancellation flag while waiting on the network.
pub const CANCEL_POLL: Duration = Duration::from_millis(50);
/// Consecutive failed requests that open the circuit breaker.
pub const BREAKER_THRESHOLD: u32 = 5;

/// Collects the Kubernetes measurement.
pub struct K8sCollector;

impl Collector for K8sCollector {
    const NAME: &'static str = "k8s";
    const DESCRIPTION: &'static str =
        "Kubernetes server version, container images, GPU Operator ClusterPolicy and node";
    const OPTION_SPECS: &'static [OptionDecl] = &[
        OptionDecl::string(
            "kubeconfig",
            "kubeconfig file to use (default: KUBECONFIG, ~/.kube/config, then the pod's service account)",
        ),
        OptionDecl::string("context", "kubeconfig context to use (default: the current context)"),
        OptionDecl::string(
            "node",
            "node to describe in the `node` subtype (default: the NODE_NAME environment variable)",
        ),
    ];

    /// The node's name and the labels that name a host or an NVLink clique (which carries the
    /// cluster's UUID). Registry hosts never reach the snapshot (image keys are the last path
    /// component), and the redaction detectors find any that appear in text.
    const SENSITIVE_KEYS: &'static [&'static str] = &[
        "k8s/node/name",
        "k8s/node/*hostname*",
        "k8s/node/nvidia.com/gpu.clique",
    ];
    fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
        let env = |name: &str| std::env::var(name).ok();
        collect_with_env(ctx, &env)
    }
}

/// [`K8sCollector::collect`] with the environment read through `env`.
pub fn collect_with_env(
    ctx: &CollectContext<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Outcome, CollectError> {
    for key in ["kubeconfig", "context", "node"] {
        if ctx.option(key).is_some_and(|v| v.trim().is_empty()) {
            return Err(CollectError::InvalidOption {
                key: key.into(),
                value: String::new(),
                expected: "a non-empty value".into(),
            });
        }
    }
    let Some(source) = source::locate(ctx.option("kubeconfig"), env) else {
        return Ok(Outcome::not_applicable(
            "no Kubernetes configuration found (no k8s.kubeconfig option, no KUBECONFIG file, \
             no ~/.kube/config, not running in a pod)",
        ));
    };
    let node = ctx
        .option("node")
        .map(str::to_owned)
        .or_else(|| env("NODE_NAME").filter(|n| !n.trim().is_empty()));
    ctx.check_cancelled()?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CollectError::failed(format!("starting the collector's runtime: {e}")))?;
    runtime.block_on(bounded(ctx, async {
        let mut config = source::load(&source, ctx.option("context"))
            .await
            .map_err(CollectError::failed)?;
        eidos_k8s_client::configure(&mut config);
        let breaker = Arc::new(Breaker::new(BREAKER_THRESHOLD));
        let client = build_client(config, Backoff::default(), Arc::clone(&breaker))?;
        gather(&client, node.as_deref()).await
    }))
}

/// A kube client whose every request goes through the retry/breaker layer.
pub fn build_client(
    config: kube::Config,
    backoff: Backoff,
    breaker: Arc<Breaker>,
) -> Result<kube::Client, CollectError> {
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|e| CollectError::failed(format!("building the Kubernetes client: {e}")))?;
    Ok(builder
        .with_layer(&tower::buffer::BufferLayer::new(64))
        .with_layer(&ResilienceLayer::new(backoff, breaker))
        .build())
}

/// Runs `work` until it finishes, the host's timeout passes, or the host cancels.
async fn bounded<T>(
    ctx: &CollectContext<'_>,
    work: impl std::future::Future<Output = Result<T, CollectError>>,
) -> Result<T, CollectError> {
    let work = std::pin::pin!(work);
    let deadline = tokio::time::sleep(ctx.remaining());
    let mut deadline = std::pin::pin!(deadline);
    let mut poll = tokio::time::interval(CANCEL_POLL);
    let mut work = work;
    loop {
        tokio::select! {
            result = &mut work => return result,
            _ = &mut deadline => {
                return Err(CollectError::failed(format!(
                    "the Kubernetes API server did not answer within the collector's timeout of {:?}",
                    ctx.timeout()
                )))
            }
            _ = poll.tick() => ctx.check_cancelled()?,
        }
    }
}

/// How a failed API call is handled.
enum Failure {
    /// `403`: leave the part out with a warning naming the permission.
    Forbidden(String),
    /// `404`.
    NotFound(String),
    /// Still failing after the retries (`5xx`, `429`, connection errors, timeouts): leave the part
    /// out with a warning and go on; the breaker ends the run if the server keeps failing.
    Unavailable(String),
    /// The breaker is open, or the server rejected the request itself: the collector fails.
    Fatal(String),
}

fn classify(error: &kube::Error, what: &str) -> Failure {
    match error {
        kube::Error::Api(status) if status.code == 403 => {
            Failure::Forbidden(status.message.clone())
        }
        kube::Error::Api(status) if status.code == 404 => Failure::NotFound(status.message.clone()),
        kube::Error::Api(status) => {
            let message = format!(
                "{what}: the API server answered {} {}: {}",
                status.code, status.reason, status.message
            );
            if resilience::is_transient(
                http::StatusCode::from_u16(status.code).unwrap_or(http::StatusCode::OK),
            ) {
                Failure::Unavailable(format!("{message} (after retries)"))
            } else {
                Failure::Fatal(message)
            }
        }
        kube::Error::Service(e) => match e.downcast_ref::<BreakerOpen>() {
            Some(open) => Failure::Fatal(format!("{what}: {open}")),
            None => Failure::Unavailable(format!("{what}: {e} (after retries)")),
        },
        kube::Error::HyperError(e) => Failure::Unavailable(format!("{what}: {e} (after retries)")),
        other => Failure::Fatal(format!("{what}: {other}")),
    }
}

/// Reads every subtype. Forbidden, absent or unavailable parts become warnings; an open breaker
/// or an error the server will not change its mind about fails the run.
pub async fn gather(client: &kube::Client, node: Option<&str>) -> Result<Outcome, CollectError> {
    let mut subtypes: Vec<Subtype> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();

    match client.apiserver_version().await {
        Ok(info) => {
            let mut s = Subtype::new("server")
                .with("version", info.git_version)
                .with("platform", info.platform)
                .with("goVersion", info.go_version);
            s.sort();
            subtypes.push(s);
        }
        Err(e) => match classify(&e, "reading /version") {
            Failure::Forbidden(m) | Failure::NotFound(m) => warnings.push(format!(
                "server left out: {m} (RBAC: `get` on the non-resource URL /version)"
            )),
            Failure::Unavailable(m) => warnings.push(format!("server left out: {m}")),
            Failure::Fatal(m) => return Err(CollectError::Failed(m)),
        },
    }

    match images::list_images(client, images::PAGE_SIZE).await {
        Ok(table) => subtypes.push(table.into_subtype()),
        Err(e) => match classify(&e, "listing pods in all namespaces") {
            Failure::Forbidden(m) => warnings.push(format!(
                "image left out: {m} (RBAC: a ClusterRole allowing `list` on `pods` in API group \"\")"
            )),
            Failure::Unavailable(m) => warnings.push(format!("image left out: {m}")),
            Failure::NotFound(m) | Failure::Fatal(m) => return Err(CollectError::Failed(m)),
        },
    }

    match policy::read_cluster_policy(client).await {
        Ok(policy::PolicyRead::Found {
            subtype,
            name,
            count,
        }) => {
            if count > 1 {
                warnings.push(format!(
                    "{count} ClusterPolicy objects exist; policy reports {name:?}, the first by name"
                ));
            }
            subtypes.push(subtype);
        }
        Ok(policy::PolicyRead::NoObjects) => warnings.push(
            "policy left out: the ClusterPolicy CRD is installed but no ClusterPolicy exists"
                .into(),
        ),
        Err(e) => match classify(&e, "listing clusterpolicies.nvidia.com") {
            Failure::NotFound(_) => warnings.push(
                "policy left out: the ClusterPolicy CRD (clusterpolicies.nvidia.com/v1) is not \
                 installed; the NVIDIA GPU Operator is not deployed in this cluster"
                    .into(),
            ),
            Failure::Forbidden(m) => warnings.push(format!(
                "policy left out: {m} (RBAC: a ClusterRole allowing `list` on `clusterpolicies` \
                 in API group \"nvidia.com\")"
            )),
            Failure::Unavailable(m) => warnings.push(format!("policy left out: {m}")),
            Failure::Fatal(m) => return Err(CollectError::Failed(m)),
        },
    }

    if let Some(name) = node {
        match node::read_node(client, name).await {
            Ok(s) => subtypes.push(s),
            Err(e) => match classify(&e, &format!("reading node {name:?}")) {
                Failure::NotFound(_) => warnings.push(format!(
                    "node left out: no node named {name:?} (check NODE_NAME or k8s.node)"
                )),
                Failure::Forbidden(m) => warnings.push(format!(
                    "node left out: {m} (RBAC: a ClusterRole allowing `get` on `nodes` in API group \"\")"
                )),
                Failure::Unavailable(m) => warnings.push(format!("node left out: {m}")),
                Failure::Fatal(m) => return Err(CollectError::Failed(m)),
            },
        }
    }

    Ok(Outcome::Collected(Collection {
        measurements: vec![Measurement::new(MeasurementType::K8s, subtypes)],
        warnings,
    }))
}

eidos_plugin_api::export_collector!(K8sCollector);

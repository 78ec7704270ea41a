//! eidos on a Kubernetes cluster.
//!
//! - [`address`]: `cm://NAMESPACE/NAME` (one snapshot in a ConfigMap) and
//!   `cm://NAMESPACE?selector=LABELS` (a namespace's snapshots).
//! - [`store`]: write a snapshot to a ConfigMap, read one, list a namespace's.
//! - [`listing`]: a namespace's snapshots as an iterator, listed a page ahead on a thread of
//!   its own (memory bounded whatever the number of nodes).
//! - [`agent`]: the long-running node agent (`eidos agent run`): each round's collection runs in a
//!   child process, so that a hung or crashing collector costs one round, never the agent.
//! - [`manifests`]: the Kubernetes objects that deploy it (`eidos agent manifests`).
//!
//! The client configuration is found as the `k8s` collector finds it ([`eidos_k8s_client`]).
//! Nothing here knows about plugins; the CLI wires it in.

pub mod address;
pub mod agent;
pub mod error;
pub mod listing;
pub mod manifests;
pub mod store;

pub use address::{AddressError, CmAddress, CmSelection};
pub use error::StoreError;
pub use store::{for_each_snapshot, list_snapshots, read_snapshot, write_snapshot};

/// How to reach the API server: an explicit kubeconfig (else `KUBECONFIG`, `~/.kube/config`, the
/// pod's service account) and context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// A kubeconfig file named on the command line or in the configuration.
    pub kubeconfig: Option<String>,
    /// The kubeconfig context to use (default: the current one).
    pub context: Option<String>,
}

/// A client for `access`; `target` names what it is for in errors.
pub async fn connect(access: &Access, target: &str) -> Result<kube::Client, StoreError> {
    let config = eidos_k8s_client::load_config(
        access.kubeconfig.as_deref(),
        access.context.as_deref(),
        &eidos_k8s_client::process_env,
    )
    .await?
    .ok_or_else(|| StoreError::NoConfig {
        target: target.to_owned(),
    })?;
    kube::Client::try_from(config).map_err(|e| StoreError::Client(e.to_string()))
}

/// Blocking forms of the store's calls, for callers without an async runtime (each call runs
/// one of its own on the current thread).
pub mod blocking {
    use super::{connect, store, Access, CmAddress, StoreError};

    fn block_on<T>(
        work: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Runtime)?;
        let result = runtime.block_on(work);
        runtime.shutdown_background();
        result
    }

    /// [`store::write_snapshot`] with a client for `access`.
    pub fn write_snapshot(
        access: &Access,
        address: &CmAddress,
        text: &str,
        node: Option<&str>,
    ) -> Result<store::Written, StoreError> {
        block_on(async {
            let client = connect(access, &address.to_string()).await?;
            store::write_snapshot(&client, address, text, node).await
        })
    }

    /// [`store::read_snapshot`] with a client for `access`.
    pub fn read_snapshot(access: &Access, address: &CmAddress) -> Result<String, StoreError> {
        block_on(async {
            let client = connect(access, &address.to_string()).await?;
            store::read_snapshot(&client, address).await
        })
    }
}

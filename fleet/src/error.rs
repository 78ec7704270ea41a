//! What can go wrong talking to the API server about snapshots, in words an operator can act on.

/// A failed ConfigMap operation. Every variant is a runtime failure (exit 1) for the CLI; a
/// malformed address is an [`AddressError`](crate::address::AddressError) instead (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No Kubernetes configuration anywhere.
    #[error(
        "no Kubernetes configuration found for {target} (no --kubeconfig, no KUBECONFIG file, \
         no ~/.kube/config, not running in a pod)"
    )]
    NoConfig {
        /// The address that needed one.
        target: String,
    },
    /// The configuration exists but cannot be used.
    #[error("Kubernetes configuration: {0}")]
    Config(#[from] eidos_k8s_client::source::SourceError),
    /// The client could not be built from the configuration (TLS material, proxy).
    #[error("building the Kubernetes client: {0}")]
    Client(String),
    /// `403`: RBAC does not allow the call.
    #[error(
        "{target}: forbidden: the identity in use may not `{verb}` `configmaps` in namespace \
         {namespace:?} (RBAC: a Role allowing `{verb}` on `configmaps` in API group \"\"); \
         the server said: {message}"
    )]
    Forbidden {
        /// The address.
        target: String,
        /// The RBAC verb that was refused (`get`, `list`, `create`, `update`).
        verb: &'static str,
        /// The namespace.
        namespace: String,
        /// The server's message.
        message: String,
    },
    /// `404`: the ConfigMap (or its namespace) does not exist.
    #[error("{target}: not found: {message}")]
    NotFound {
        /// The address.
        target: String,
        /// The server's message.
        message: String,
    },
    /// The API server could not be reached or did not answer in time.
    #[error("{target}: the Kubernetes API server is unreachable: {message}")]
    Unreachable {
        /// The address.
        target: String,
        /// What the connection attempt said.
        message: String,
    },
    /// `422`: the server refused the object.
    #[error("{target}: the API server refused the ConfigMap (422 Invalid): {message}")]
    Invalid {
        /// The address.
        target: String,
        /// The server's message.
        message: String,
    },
    /// Every attempt to update hit a `409` conflict (another writer kept changing it).
    #[error(
        "{target}: still in conflict after {attempts} attempts (another writer keeps changing \
         it); nothing was written"
    )]
    Conflict {
        /// The address.
        target: String,
        /// How many times it was tried.
        attempts: u32,
    },
    /// Another API error.
    #[error("{target}: the API server answered {code} {reason}: {message}")]
    Api {
        /// The address.
        target: String,
        /// HTTP status.
        code: u16,
        /// The `Status` reason.
        reason: String,
        /// The server's message.
        message: String,
    },
    /// The snapshot does not fit in a ConfigMap, even compressed.
    #[error(
        "{target}: the snapshot is {size} bytes ({compressed} gzip-compressed), more than a \
         ConfigMap holds ({limit} bytes); nothing was written. Collect less (--collectors) or \
         use a more compact format (--format json)"
    )]
    TooLarge {
        /// The address.
        target: String,
        /// The snapshot's size as text.
        size: usize,
        /// Its size gzip-compressed.
        compressed: usize,
        /// What a ConfigMap holds.
        limit: usize,
    },
    /// The ConfigMap exists but was not written by eidos: it is never overwritten.
    #[error(
        "{target}: the ConfigMap exists and is not an eidos snapshot (no label {label}); \
         refusing to overwrite it"
    )]
    NotASnapshot {
        /// The address.
        target: String,
        /// The label it lacks.
        label: String,
    },
    /// The ConfigMap holds no snapshot under the documented key, or an unreadable one.
    #[error("{target}: {reason}")]
    BadContent {
        /// The address.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// The async runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Maps a kube error of a call that needed RBAC `verb` on `target` to a [`StoreError`].
pub(crate) fn classify(
    error: kube::Error,
    target: &str,
    namespace: &str,
    verb: &'static str,
) -> StoreError {
    let target = target.to_owned();
    match error {
        kube::Error::Api(status) => match status.code {
            403 => StoreError::Forbidden {
                target,
                verb,
                namespace: namespace.to_owned(),
                message: status.message,
            },
            404 => StoreError::NotFound {
                target,
                message: status.message,
            },
            422 => StoreError::Invalid {
                target,
                message: status.message,
            },
            code => StoreError::Api {
                target,
                code,
                reason: status.reason,
                message: status.message,
            },
        },
        kube::Error::HyperError(e) => StoreError::Unreachable {
            target,
            message: chain(&e),
        },
        kube::Error::Service(e) => StoreError::Unreachable {
            target,
            message: chain(e.as_ref()),
        },
        other => StoreError::Api {
            target,
            code: 0,
            reason: "ClientError".into(),
            message: chain(&other),
        },
    }
}

/// An error and its causes on one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    text
}

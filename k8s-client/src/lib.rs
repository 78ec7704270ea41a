//! The Kubernetes client setup eidos uses everywhere it talks to an API server: the `k8s`
//! collector plugin and the fleet commands (`cm://` snapshots, the agent).
//!
//! - [`source`]: where the configuration comes from (an explicit kubeconfig, `KUBECONFIG`,
//!   `~/.kube/config`, the pod's service account), in that order.
//! - [`configure`]: the connection limits every eidos client runs with. TLS is kube's rustls
//!   stack, verifying the server against the kubeconfig's or the service account's CA.
//!
//! Retries are left to each user: the collector adds its retry and circuit-breaker layer, the
//! fleet code retries only what it must (a `409` conflict on update).

pub mod source;

use std::time::Duration;

/// The longest one HTTP attempt may wait for a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest one HTTP attempt may wait for data.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Applies eidos's connection limits to `config`: bounded connect and read waits, and no retries
/// of kube's own (callers decide what is retried).
pub fn configure(config: &mut kube::Config) {
    config.default_retry = false;
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
}

/// Finds and loads the client configuration: `explicit` (a kubeconfig file) first, then the
/// environment as [`source::locate`] reads it, with `context` selected; [`configure`]d.
/// `Ok(None)` when there is no configuration anywhere.
pub async fn load_config(
    explicit: Option<&str>,
    context: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<kube::Config>, source::SourceError> {
    let Some(found) = source::locate(explicit, env) else {
        return Ok(None);
    };
    let mut config = source::load(&found, context).await?;
    configure(&mut config);
    Ok(Some(config))
}

/// Reads an environment variable of this process (the `env` argument most callers pass).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_explicit_kubeconfig_is_loaded_with_the_limits_applied() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:9\n\
             contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: team\n\
             current-context: c\nusers:\n- name: u\n  user:\n    token: t\n",
        )
        .unwrap();
        let none = |_: &str| None;
        let config = load_config(path.to_str(), None, &none)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(config.cluster_url.to_string(), "http://127.0.0.1:9/");
        assert_eq!(config.default_namespace, "team");
        assert_eq!(config.connect_timeout, Some(CONNECT_TIMEOUT));
        assert_eq!(config.read_timeout, Some(READ_TIMEOUT));
        assert!(!config.default_retry);
    }

    #[tokio::test]
    async fn no_configuration_anywhere_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap().to_owned();
        let env = move |name: &str| (name == "HOME").then(|| home.clone());
        assert!(load_config(None, None, &env).await.unwrap().is_none());
    }
}

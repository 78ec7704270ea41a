//! Where the client configuration comes from.
//!
//! In order: an explicit kubeconfig (the collector's `kubeconfig` option, the CLI's
//! `--kubeconfig`); `KUBECONFIG`; `~/.kube/config`; the in-cluster service account
//! (`KUBERNETES_SERVICE_HOST`). When none of them exists there is no cluster to talk to (the
//! collector is then not applicable). A source that exists but cannot be used (unreadable file, unknown context) is an error, not
//! "not applicable": the operator asked for a cluster and should hear why it was not reached.

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Config;
use std::path::{Path, PathBuf};

/// Where the configuration was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A kubeconfig file named explicitly.
    File(PathBuf),
    /// The existing files `KUBECONFIG` lists (merged, first wins, as kubectl does), or
    /// `~/.kube/config`.
    Files(Vec<PathBuf>),
    /// The pod's service account.
    InCluster,
}

/// Finds the configuration source, or `None` when there is none. `env` reads an environment
/// variable (a parameter so that tests do not have to change the process's environment).
pub fn locate(option: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Option<Source> {
    if let Some(path) = option {
        return Some(Source::File(PathBuf::from(path)));
    }
    let kubeconfig_env = env("KUBECONFIG").unwrap_or_default();
    let listed: Vec<PathBuf> = std::env::split_paths(&kubeconfig_env)
        .filter(|p| !p.as_os_str().is_empty() && p.is_file())
        .collect();
    if !listed.is_empty() {
        return Some(Source::Files(listed));
    }
    if let Some(home) = env("HOME").filter(|h| !h.is_empty()) {
        let default = Path::new(&home).join(".kube/config");
        if default.is_file() {
            return Some(Source::Files(vec![default]));
        }
    }
    if env("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty()) {
        return Some(Source::InCluster);
    }
    None
}

/// Why a configuration source could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A kubeconfig could not be read or used.
    #[error("kubeconfig {where_}: {source}")]
    Kubeconfig {
        /// Which kubeconfig.
        where_: String,
        /// What went wrong.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The in-cluster configuration could not be loaded.
    #[error("in-cluster configuration: {0}")]
    InCluster(#[from] kube::config::InClusterError),
    /// A context was asked for, but the configuration is the pod's service account.
    #[error(
        "k8s.context={0} was given, but no kubeconfig was found (only the pod's service account, \
         which has no contexts); give k8s.kubeconfig or KUBECONFIG as well"
    )]
    ContextWithoutKubeconfig(String),
}

/// Loads the client configuration from `source`, selecting `context` when given.
pub async fn load(source: &Source, context: Option<&str>) -> Result<Config, SourceError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        cluster: None,
        user: None,
    };
    match source {
        Source::File(path) => {
            let wrap = |source| SourceError::Kubeconfig {
                where_: path.display().to_string(),
                source,
            };
            let kubeconfig = Kubeconfig::read_from(path).map_err(wrap)?;
            Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(wrap)
        }
        Source::Files(paths) => {
            let where_ = paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let wrap = |source| SourceError::Kubeconfig {
                where_: where_.clone(),
                source,
            };
            let mut merged = Kubeconfig::default();
            for path in paths {
                merged = merged
                    .merge(Kubeconfig::read_from(path).map_err(wrap)?)
                    .map_err(wrap)?;
            }
            Config::from_custom_kubeconfig(merged, &options)
                .await
                .map_err(wrap)
        }
        Source::InCluster => match context {
            Some(context) => Err(SourceError::ContextWithoutKubeconfig(context.to_owned())),
            None => Ok(Config::incluster()?),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[tokio::test]
    async fn a_context_with_only_the_service_account_is_an_error_naming_it() {
        let err = load(&Source::InCluster, Some("prod")).await.unwrap_err();
        assert!(err.to_string().contains("k8s.context=prod"), "{err}");
    }

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    #[test]
    fn nothing_anywhere_is_none() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        assert_eq!(locate(None, &env(&[("HOME", h)])), None);
        assert_eq!(
            locate(
                None,
                &env(&[("HOME", h), ("KUBECONFIG", "/nonexistent/kubeconfig")])
            ),
            None
        );
    }

    #[test]
    fn sources_in_order() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path().to_str().unwrap();
        assert_eq!(
            locate(
                None,
                &env(&[("HOME", h), ("KUBERNETES_SERVICE_HOST", "10.0.0.1")])
            ),
            Some(Source::InCluster)
        );
        std::fs::create_dir(home.path().join(".kube")).unwrap();
        std::fs::write(home.path().join(".kube/config"), "").unwrap();
        assert_eq!(
            locate(
                None,
                &env(&[("HOME", h), ("KUBERNETES_SERVICE_HOST", "10.0.0.1")])
            ),
            Some(Source::Files(vec![home.path().join(".kube/config")]))
        );
        assert_eq!(
            locate(Some("/x/kubeconfig"), &env(&[("HOME", h)])),
            Some(Source::File("/x/kubeconfig".into()))
        );
    }
}

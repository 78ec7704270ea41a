//! Runs the fake Kubernetes API server (a fake: see the library's documentation) with a synthetic
//! cluster, for benchmarks: `k8s-fake-server --pods 50000 --containers 3 --images 500 --kubeconfig DIR`.
//! `--configmaps N --snapshot FILE [--namespace NS]` also stores N eidos snapshot ConfigMaps
//! (`eidos-node-00000` …, labelled like eidos writes them) holding FILE's text;
//! `--node-placeholder TEXT` replaces TEXT in each one by its node's name (`node-00000` …), so
//! that every ConfigMap is a different node.
//! Writes `DIR/kubeconfig`, prints `ready URL` on stdout, and serves until stdin is closed.

use eidos_k8s_fake::{reference_like_cluster, synthetic_pods, FakeApiServer};
use std::io::Read;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut pods = 50_000usize;
    let mut containers = 3usize;
    let mut images = 500usize;
    let mut dir: Option<PathBuf> = None;
    let mut config_maps = 0usize;
    let mut snapshot: Option<PathBuf> = None;
    let mut namespace = "eidos".to_owned();
    let mut placeholder: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--pods" => pods = value()?.parse()?,
            "--containers" => containers = value()?.parse()?,
            "--images" => images = value()?.parse()?,
            "--kubeconfig" => dir = Some(PathBuf::from(value()?)),
            "--configmaps" => config_maps = value()?.parse()?,
            "--snapshot" => snapshot = Some(PathBuf::from(value()?)),
            "--namespace" => namespace = value()?,
            "--node-placeholder" => placeholder = Some(value()?),
            other => anyhow::bail!(
                "unknown argument {other:?}; expected --pods N --containers N --images N \
                 --kubeconfig DIR [--configmaps N --snapshot FILE --namespace NS \
                 --node-placeholder TEXT]"
            ),
        }
    }
    let dir = dir.ok_or_else(|| anyhow::anyhow!("--kubeconfig DIR is required"))?;
    let mut cluster = reference_like_cluster();
    cluster.pods = synthetic_pods(pods, containers, images);
    let server = FakeApiServer::start(cluster)?;
    if config_maps > 0 {
        let path = snapshot.ok_or_else(|| anyhow::anyhow!("--configmaps needs --snapshot FILE"))?;
        let text = std::fs::read_to_string(&path)?;
        for i in 0..config_maps {
            let node = format!("node-{i:05}");
            let text = match &placeholder {
                Some(p) => text.replace(p.as_str(), &node),
                None => text.clone(),
            };
            server.insert_config_map(snapshot_config_map(&namespace, &node, &text));
        }
    }
    let path = server.write_kubeconfig(&dir)?;
    println!("ready {} {}", server.url(), path.display());
    // Serve until whoever started us closes our stdin.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    eprintln!("served {} requests", server.requests().len());
    Ok(())
}

/// A ConfigMap as `eidos snapshot --output cm://NS/eidos-NODE` writes it.
fn snapshot_config_map(
    namespace: &str,
    node: &str,
    text: &str,
) -> k8s_openapi::api::core::v1::ConfigMap {
    use std::collections::BTreeMap;
    k8s_openapi::api::core::v1::ConfigMap {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(format!("eidos-{node}")),
            namespace: Some(namespace.to_owned()),
            labels: Some(BTreeMap::from([
                ("eidos.dgxc.io/kind".to_owned(), "snapshot".to_owned()),
                ("eidos.dgxc.io/node".to_owned(), node.to_owned()),
                (
                    "app.kubernetes.io/managed-by".to_owned(),
                    "eidos".to_owned(),
                ),
            ])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("snapshot".to_owned(), text.to_owned())])),
        ..Default::default()
    }
}

//! Runs the fake Kubernetes API server (a fake: see the library's documentation) with a synthetic
//! cluster, for benchmarks: `k8s-fake-server --pods 50000 --containers 3 --images 500 --kubeconfig DIR`.
//! Writes `DIR/kubeconfig`, prints `ready URL` on stdout, and serves until stdin is closed.

use eidos_k8s_fake::{reference_like_cluster, synthetic_pods, FakeApiServer};
use std::io::Read;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut pods = 50_000usize;
    let mut containers = 3usize;
    let mut images = 500usize;
    let mut dir: Option<PathBuf> = None;
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
            other => anyhow::bail!(
                "unknown argument {other:?}; expected --pods N --containers N --images N --kubeconfig DIR"
            ),
        }
    }
    let dir = dir.ok_or_else(|| anyhow::anyhow!("--kubeconfig DIR is required"))?;
    let mut cluster = reference_like_cluster();
    cluster.pods = synthetic_pods(pods, containers, images);
    let server = FakeApiServer::start(cluster)?;
    let path = server.write_kubeconfig(&dir)?;
    println!("ready {} {}", server.url(), path.display());
    // Serve until whoever started us closes our stdin.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    eprintln!("served {} requests", server.requests().len());
    Ok(())
}

//! `eidos agent run` and `eidos agent manifests`.
//!
//! The agent never loads a plugin itself: each round runs `eidos snapshot --output cm://…` as a
//! child process of this same binary ([`std::env::current_exe`]), with the agent's global and
//! collector flags, so that a hung or crashing collector costs one round and never the agent.

use crate::cli::{CollectArgs, GlobalArgs};
use crate::error::{CliError, CliResult};
use crate::settings::parse_duration;
use crate::usage_error;
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use eidos_fleet::agent::{self, AgentConfig};
use eidos_fleet::manifests::{self, Mode, Options};
use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

/// `eidos agent run --help`, after the options.
pub const RUN_AFTER_HELP: &str = "\
Each round runs `eidos snapshot --output ADDRESS` (this binary, with the collector options given
here) in a child process; a round that fails or overruns --round-timeout is logged and retried
after 10s, 20s, 40s … (never more than --interval). SIGTERM or SIGINT ends the agent cleanly,
killing a round in progress. GET /healthz on --health-addr answers 200 while the loop turns.

Examples:
  NODE_NAME=node-1 eidos agent run --interval 1h --output 'cm://eidos/eidos-$(NODE_NAME)'
  eidos agent run --interval 10m --output cm://eidos/gpu-7 --health-addr 0.0.0.0:8080";

/// What `eidos agent run` does, in its help.
pub const RUN_ABOUT: &str =
    "Take a snapshot into a ConfigMap every interval, until SIGTERM (what the DaemonSet runs)";

/// `eidos agent run`.
#[derive(Debug, Args)]
#[command(about = RUN_ABOUT, long_about = None)]
pub struct AgentRunArgs {
    /// Which collectors each round runs and how (as for `eidos snapshot`).
    #[command(flatten)]
    pub collect: CollectArgs,
    /// The wait between rounds, e.g. 10m, 1h.
    #[arg(long, value_name = "D", default_value = "1h", value_parser = parse_duration)]
    pub interval: Duration,
    /// Where each snapshot goes; $(NODE_NAME) in NAME is replaced by the NODE_NAME environment
    /// variable.
    #[arg(
        long,
        short = 'o',
        value_name = "cm://NAMESPACE/NAME",
        default_value = "cm://eidos/eidos-$(NODE_NAME)"
    )]
    pub output: String,
    /// Format of the stored snapshot (yaml or json) [env: EIDOS_FORMAT] (default: the config
    /// file's format, else yaml).
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// The most one round may take; its processes are then killed and the round counts as
    /// failed.
    #[arg(long, value_name = "D", default_value = "10m", value_parser = parse_duration)]
    pub round_timeout: Duration,
    /// Serve GET /healthz on this address, e.g. 0.0.0.0:8080 (default: no health endpoint).
    #[arg(long, value_name = "ADDR:PORT")]
    pub health_addr: Option<SocketAddr>,
    /// Stop after N rounds (default: run until stopped); exits 1 when the last round failed.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: Option<u64>,
}

/// `--mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// `eidos agent run` on every GPU node.
    Daemonset,
    /// One `eidos snapshot` on one node.
    Job,
}

/// What `eidos agent manifests` does, in its help.
pub const MANIFESTS_ABOUT: &str = "Print the Kubernetes manifests (Namespace, ServiceAccount, RBAC, DaemonSet or Job) as one YAML stream, for `kubectl apply -f -`";

/// `eidos agent manifests`.
#[derive(Debug, Args)]
#[command(about = MANIFESTS_ABOUT, long_about = None)]
pub struct ManifestsArgs {
    /// The namespace for eidos and its snapshots.
    #[arg(long, short = 'n', default_value = manifests::APP)]
    pub namespace: String,
    /// The container image (default: eidos:VERSION; build it with deploy/Dockerfile).
    #[arg(long)]
    pub image: Option<String>,
    /// A DaemonSet (every GPU node, every --interval) or a Job (one snapshot).
    #[arg(long, value_enum, default_value_t = ModeArg::Daemonset)]
    pub mode: ModeArg,
    /// With --mode job: the node to snapshot (default: any GPU node).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// With --mode daemonset: the agent's interval.
    #[arg(long, value_name = "D", default_value = "1h")]
    pub interval: String,
}

/// The child command line of one round.
fn round_args(global: &GlobalArgs, args: &AgentRunArgs, output: &str) -> Vec<OsString> {
    let mut out = global.to_args();
    out.push("snapshot".into());
    out.extend(args.collect.to_args());
    if let Some(format) = &args.format {
        out.push("--format".into());
        out.push(format.into());
    }
    out.push("--output".into());
    out.push(output.into());
    out
}

/// Runs `eidos agent run`.
pub fn run(global: &GlobalArgs, args: &AgentRunArgs) -> CliResult {
    // Checked (and $(NODE_NAME) expanded) once, before the first round: a bad address is a usage
    // error now, not a failed round every interval.
    let address = eidos_fleet::CmAddress::parse(&args.output, &eidos_k8s_client::process_env)
        .map_err(CliError::usage)?;
    if let Some(format) = &args.format {
        crate::fleet::check_stored_format(format)?;
    }
    let program = std::env::current_exe()
        .context("finding the eidos binary for the agent's rounds")
        .map_err(CliError::runtime)?;
    let config = AgentConfig {
        program,
        args: round_args(global, args, &address.to_string()),
        interval: args.interval,
        round_timeout: args.round_timeout,
        rounds: args.rounds,
    };
    tracing::info!(
        output = %address,
        interval = %humantime::format_duration(args.interval),
        "agent starting"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .map_err(CliError::runtime)?;
    let result = runtime.block_on(async {
        let shutdown = shutdown_signal().map_err(CliError::runtime)?;
        agent::run(&config, args.health_addr, shutdown)
            .await
            .map_err(CliError::runtime)
    });
    runtime.shutdown_background();
    let health = result?;
    tracing::info!(
        rounds = health.rounds,
        successes = health.successes,
        "agent stopped"
    );
    Ok(())
}

/// Completes on SIGTERM (what Kubernetes sends to stop a pod) or SIGINT.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
    })
}

/// Runs `eidos agent manifests`.
pub fn manifests(args: &ManifestsArgs) -> CliResult {
    let mode = match args.mode {
        ModeArg::Daemonset => Mode::DaemonSet,
        ModeArg::Job => Mode::Job,
    };
    // The namespace must be one a cm:// address can name.
    eidos_fleet::CmSelection::parse(&format!("cm://{}", args.namespace)).map_err(|_| {
        usage_error!(
            "invalid --namespace {:?}: expected a DNS-1123 label (at most 63 lowercase letters, \
             digits and '-')",
            args.namespace
        )
    })?;
    if args.node.is_some() && mode != Mode::Job {
        return Err(usage_error!(
            "--node goes with --mode job (a DaemonSet runs on every GPU node)"
        ));
    }
    if let Some(node) = &args.node {
        if node.trim().is_empty() || node.len() > 253 {
            return Err(usage_error!(
                "invalid --node {node:?}: expected a node's name"
            ));
        }
    }
    if mode == Mode::DaemonSet {
        parse_duration(&args.interval)
            .map_err(|e| usage_error!("invalid --interval {:?}: {e}", args.interval))?;
    }
    let mut options = Options::defaults(env!("CARGO_PKG_VERSION"));
    options.namespace.clone_from(&args.namespace);
    options.mode = mode;
    options.node.clone_from(&args.node);
    options.interval.clone_from(&args.interval);
    if let Some(image) = &args.image {
        if image.trim().is_empty() || image.contains(char::is_whitespace) {
            return Err(usage_error!(
                "invalid --image {image:?}: expected an image reference"
            ));
        }
        options.image.clone_from(image);
    }
    let text = manifests::render(&options)
        .context("rendering the manifests")
        .map_err(CliError::runtime)?;
    crate::host::output::emit(text.as_bytes(), None).map_err(CliError::runtime)
}

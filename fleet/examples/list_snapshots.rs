//! Benchmark helper (scripts/bench-fleet.py): lists every eidos snapshot ConfigMap of a namespace,
//! a page of 500 at a time, and reads each into the fleet report's grouping while the next pages
//! are listed — the path `eidos fleet report --from cm://NAMESPACE` takes (the streaming listing
//! and `gather_stream` on one worker thread per core), without the plugin host and the rendering.
//! Prints how many snapshots it read, how many were unreadable and the configurations found.
//!
//! `list_snapshots KUBECONFIG NAMESPACE`

use eidos_fleet::listing::{self, Listed};
use eidos_fleet::store::{PAGE_SIZE, SNAPSHOT_SELECTOR};
use eidos_fleet::Access;
use eidos_plugin_api::Snapshot;
use eidos_snapshots::fleet::{gather_stream, GatherOptions, Read};
use eidos_snapshots::ignore::IgnoreRules;

/// The allocator `eidos` itself uses, so that the figures are the fleet report's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// JSON when the text starts with `{`, YAML otherwise, as the CLI's reader decides.
fn parse(text: &str) -> Result<Snapshot, String> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(kubeconfig), Some(namespace)) = (args.next(), args.next()) else {
        return Err("usage: list_snapshots KUBECONFIG NAMESPACE".into());
    };
    let access = Access {
        kubeconfig: Some(kubeconfig),
        context: None,
    };
    let listing = listing::list(&access, &namespace, SNAPSHOT_SELECTOR, PAGE_SIZE)?;
    let outcome = listing.outcome();
    let mut rules = IgnoreRules::new();
    rules.add_node_identity();
    let options = GatherOptions {
        rules: &rules,
        validator: None,
        strict: false,
        threads: std::thread::available_parallelism().map_or(1, usize::from),
    };
    let report = gather_stream(
        listing,
        |listed: &Listed| format!("cm://{namespace}/{}", listed.name),
        |listed: &Listed| {
            let text = listed.text().map_err(|e| e.to_string())?;
            Ok(Read {
                snapshot: parse(&text)?,
                fallback_name: listed.name.clone(),
            })
        },
        &options,
        |_, _| {},
    )?;
    outcome.check()?;
    println!(
        "snapshots {} unreadable {} configurations {}",
        report.summary.nodes, report.summary.unreadable, report.summary.configurations
    );
    Ok(())
}

//! Benchmark helper (scripts/bench-fleet.py): lists every eidos snapshot ConfigMap of a namespace,
//! a page of 500 at a time, and parses each into a snapshot, as a fleet report does; prints how
//! many it read and the measurements they hold.
//!
//! `list_snapshots KUBECONFIG NAMESPACE`

use eidos_fleet::store::{for_each_snapshot, PAGE_SIZE, SNAPSHOT_SELECTOR};
use eidos_fleet::{connect, Access};
use eidos_plugin_api::Snapshot;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(kubeconfig), Some(namespace)) = (args.next(), args.next()) else {
        return Err("usage: list_snapshots KUBECONFIG NAMESPACE".into());
    };
    let access = Access {
        kubeconfig: Some(kubeconfig),
        context: None,
    };
    let client = connect(&access, &namespace).await?;
    let mut snapshots = 0usize;
    let mut measurements = 0usize;
    let mut failures = 0usize;
    for_each_snapshot(
        &client,
        &namespace,
        SNAPSHOT_SELECTOR,
        PAGE_SIZE,
        |_, text| match text
            .ok()
            .and_then(|t| serde_yaml::from_str::<Snapshot>(&t).ok())
        {
            Some(snapshot) => {
                snapshots += 1;
                measurements += snapshot.measurements.len();
            }
            None => failures += 1,
        },
    )
    .await?;
    println!("snapshots {snapshots} measurements {measurements} unreadable {failures}");
    Ok(())
}

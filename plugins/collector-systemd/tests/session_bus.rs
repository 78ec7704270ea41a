//! `--set systemd.bus=session` against the harness's real systemd. The session bus is found
//! through `DBUS_SESSION_BUS_ADDRESS`, which a test can only set for its whole process; this file
//! is its own test binary and holds this one test, so no other test thread reads the environment.

use eidos_collector_systemd::SystemdCollector;
use eidos_plugin_api::{CancelToken, CollectContext, Collector, Outcome, Reading};
use eidos_systemd_harness::{node_units, UserSystemd, CONTAINERD};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[test]
fn the_session_option_reads_the_bus_named_by_the_environment() {
    let harness = UserSystemd::start(&node_units()).unwrap();
    for (key, value) in harness.session_env() {
        std::env::set_var(key, value);
    }
    let options = BTreeMap::from([
        ("bus".to_owned(), "session".to_owned()),
        ("units".to_owned(), CONTAINERD.to_owned()),
    ]);
    let flag = AtomicBool::new(false);
    let ctx = CollectContext::new(
        &options,
        Path::new("/"),
        Duration::from_secs(10),
        CancelToken::new(&flag),
    );
    let Ok(Outcome::Collected(collection)) = SystemdCollector::collect(&ctx) else {
        panic!("no collection");
    };
    let containerd = collection.measurements[0].subtype(CONTAINERD).unwrap();
    assert_eq!(
        containerd.data["ActiveState"],
        Reading::Str("active".into())
    );

    // The same option with the bus gone from the environment's address: not applicable.
    let gone = harness.directory().join("gone/bus");
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        format!("unix:path={}", gone.display()),
    );
    let ctx = CollectContext::new(
        &options,
        Path::new("/"),
        Duration::from_secs(10),
        CancelToken::new(&flag),
    );
    let outcome = SystemdCollector::collect(&ctx).unwrap();
    assert!(
        matches!(&outcome, Outcome::NotApplicable(reason) if reason.contains("gone/bus")),
        "{outcome:?}"
    );
}

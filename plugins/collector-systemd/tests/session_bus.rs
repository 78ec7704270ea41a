//! `--set systemd.bus=session` against the harness's real systemd. The session bus is found
//! through `DBUS_SESSION_BUS_ADDRESS`, which a test can only set for its whole process; this file
//! is its own test binary and holds this one test, so no other test thread reads the environment.

use eidos_collector_systemd::SystemdCollector;
use eidos_plugin_api::testing::TestContext;
use eidos_plugin_api::{Outcome, Reading};
use eidos_systemd_harness::{node_units, UserSystemd, CONTAINERD};
use std::time::Duration;

#[test]
fn the_session_option_reads_the_bus_named_by_the_environment() {
    let harness = UserSystemd::start(&node_units()).unwrap();
    for (key, value) in harness.session_env() {
        std::env::set_var(key, value);
    }
    let test = TestContext::for_collector::<SystemdCollector>()
        .option("bus", "session")
        .option("units", CONTAINERD)
        .timeout(Duration::from_secs(10));
    let Ok(Outcome::Collected(collection)) = test.collect::<SystemdCollector>() else {
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
    let outcome = test.collect::<SystemdCollector>().unwrap();
    assert!(
        matches!(&outcome, Outcome::NotApplicable(reason) if reason.contains("gone/bus")),
        "{outcome:?}"
    );
}

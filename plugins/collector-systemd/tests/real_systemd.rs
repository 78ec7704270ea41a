//! The collector against a real systemd user manager on a private D-Bus bus (see the
//! `eidos-systemd-harness` crate). These tests need root and `unshare`; they fail, never skip,
//! where the harness cannot run.

use eidos_collector_systemd::SystemdCollector;
use eidos_plugin_api::testing::TestContext;
use eidos_plugin_api::{CollectError, Collection, Measurement, Outcome, Reading, Subtype};
use eidos_systemd_harness::{
    node_units, BareBus, UserSystemd, BROKEN, CONTAINERD, CONTAINERD_NOFILE, DOCKER, KUBELET,
};
use std::time::{Duration, Instant};

fn collect_with(
    options: &[(&str, &str)],
    timeout: Duration,
    cancelled: bool,
) -> Result<Outcome, CollectError> {
    let mut test = TestContext::for_collector::<SystemdCollector>().timeout(timeout);
    for (key, value) in options {
        test = test.option(*key, *value);
    }
    if cancelled {
        test = test.cancelled();
    }
    test.collect::<SystemdCollector>()
}

fn collect(options: &[(&str, &str)]) -> Result<Outcome, CollectError> {
    collect_with(options, Duration::from_secs(10), false)
}

fn collected(outcome: Result<Outcome, CollectError>) -> Collection {
    match outcome {
        Ok(Outcome::Collected(collection)) => collection,
        other => panic!("expected a collection, got {other:?}"),
    }
}

fn unit<'a>(measurement: &'a Measurement, name: &str) -> &'a Subtype {
    measurement
        .subtype(name)
        .unwrap_or_else(|| panic!("no subtype {name}"))
}

fn text<'a>(subtype: &'a Subtype, key: &str) -> &'a str {
    match subtype.data.get(key) {
        Some(Reading::Str(s)) => s,
        other => panic!("{}: {key} is {other:?}, not text", subtype.subtype),
    }
}

/// Waits (briefly) for systemd to garbage-collect a unit it loaded only to answer a question.
fn eventually_unloaded(harness: &UserSystemd, unit: &str) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        if !harness.is_loaded(unit).unwrap() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn reads_the_default_units_from_a_real_systemd() {
    let harness = UserSystemd::start(&node_units()).unwrap();
    let collection = collected(collect(&[("bus", harness.bus_address())]));
    assert!(collection.warnings.is_empty(), "{:?}", collection.warnings);
    let [measurement] = collection.measurements.as_slice() else {
        panic!("{:?}", collection.measurements)
    };
    assert_eq!(measurement.kind, "systemd");
    let names: Vec<_> = measurement
        .subtypes
        .iter()
        .map(|s| s.subtype.as_str())
        .collect();
    assert_eq!(names, [CONTAINERD, DOCKER, KUBELET]);

    let containerd = unit(measurement, CONTAINERD);
    assert_eq!(text(containerd, "ActiveState"), "active");
    assert_eq!(text(containerd, "SubState"), "running");
    assert_eq!(text(containerd, "LoadState"), "loaded");
    assert_eq!(
        text(containerd, "Description"),
        "containerd container runtime (eidos test double)"
    );
    assert_eq!(
        containerd.data["LimitNOFILE"],
        Reading::Int(i64::try_from(CONTAINERD_NOFILE).unwrap())
    );
    assert_eq!(
        containerd.data["LimitNOFILESoft"],
        containerd.data["LimitNOFILE"]
    );
    // systemd's "infinity" stays the exact u64 maximum.
    assert_eq!(containerd.data["MemoryMax"], Reading::Uint(u64::MAX));
    assert_eq!(containerd.data["CanStart"], Reading::Bool(true));
    assert_eq!(containerd.data["Transient"], Reading::Bool(false));
    // Arrays and structures read as the Go tool printed them.
    assert_eq!(text(containerd, "Documentation"), "[https://containerd.io]");
    assert_eq!(
        text(containerd, "Environment"),
        "[EIDOS_HARNESS=1 SECOND=two]"
    );
    assert_eq!(text(containerd, "Names"), "[containerd.service]");
    let exec = text(containerd, "ExecStart");
    assert!(
        exec.starts_with("[[/") && exec.contains("sleep infinity] false "),
        "{exec}"
    );
    assert_eq!(text(containerd, "Job"), "[0 /]");
    // MainPID agrees with systemctl (both in systemd's PID namespace).
    let main_pid = harness.property(CONTAINERD, "MainPID").unwrap();
    assert_eq!(
        containerd.data["MainPID"],
        Reading::Int(main_pid.parse().unwrap())
    );
    assert!(main_pid.parse::<i64>().unwrap() > 0);
    // Both interfaces, every property, sorted by name.
    assert_eq!(text(containerd, "Id"), CONTAINERD);
    assert!(containerd.data.contains_key("ExecMainStartTimestamp"));
    assert!(containerd.data.len() > 250, "{}", containerd.data.len());
    let keys: Vec<_> = containerd.data.keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);

    let docker = unit(measurement, DOCKER);
    assert_eq!(text(docker, "LoadState"), "loaded");
    assert_eq!(text(docker, "ActiveState"), "inactive");
    assert_eq!(text(docker, "UnitFileState"), "disabled");
    assert_eq!(
        text(docker, "Description"),
        "Docker Application Container Engine (eidos test double)"
    );

    let kubelet = unit(measurement, KUBELET);
    assert_eq!(text(kubelet, "LoadState"), "not-found");
    assert_eq!(text(kubelet, "ActiveState"), "inactive");
    assert_eq!(
        text(kubelet, "LoadError"),
        "[org.freedesktop.systemd1.NoSuchUnit Unit kubelet.service not found.]"
    );
    assert!(
        kubelet.data.contains_key("ExecStart"),
        "Service properties of a not-found unit"
    );

    // The JSON a serializer writes keeps the exact integers.
    let json = serde_json::to_string(measurement).unwrap();
    assert!(
        json.contains("\"MemoryMax\":18446744073709551615"),
        "{json}"
    );
    assert!(json.contains("\"LimitNOFILE\":1048576"));
}

#[test]
fn units_systemd_does_not_hold_are_not_left_loaded() {
    let harness = UserSystemd::start(&node_units()).unwrap();
    assert!(!harness.is_loaded(DOCKER).unwrap());
    assert!(!harness.is_loaded(KUBELET).unwrap());
    for _ in 0..3 {
        let collection = collected(collect(&[("bus", harness.bus_address())]));
        assert_eq!(collection.measurements[0].subtypes.len(), 3);
    }
    assert!(
        eventually_unloaded(&harness, DOCKER),
        "docker.service stayed loaded"
    );
    assert!(
        eventually_unloaded(&harness, KUBELET),
        "kubelet.service stayed loaded"
    );
    // What systemd held before, it still holds, in the same state.
    assert!(harness.is_loaded(CONTAINERD).unwrap());
    assert_eq!(
        harness.property(CONTAINERD, "ActiveState").unwrap(),
        "active"
    );
}

#[test]
fn a_failed_unit_reads_as_failed_and_a_refused_name_is_a_warning() {
    let harness = UserSystemd::start(&node_units()).unwrap();
    let units = format!("{BROKEN},template@.service");
    let collection = collected(collect(&[
        ("bus", harness.bus_address()),
        ("units", &units),
    ]));
    let measurement = &collection.measurements[0];
    let broken = unit(measurement, BROKEN);
    assert_eq!(text(broken, "ActiveState"), "failed");
    assert_eq!(text(broken, "SubState"), "failed");
    assert_eq!(text(broken, "Result"), "exit-code");
    assert_eq!(broken.data["ExecMainStatus"], Reading::Int(1));
    // systemd refuses a template name without an instance; that unit alone is left out.
    assert_eq!(measurement.subtypes.len(), 1);
    assert_eq!(collection.warnings.len(), 1, "{:?}", collection.warnings);
    assert!(
        collection.warnings[0].starts_with("template@.service left out:"),
        "{:?}",
        collection.warnings
    );
}

#[test]
fn no_bus_at_the_address_is_not_applicable() {
    let dir = tempfile::tempdir().unwrap();
    let address = format!("unix:path={}", dir.path().join("no-bus-here").display());
    match collect(&[("bus", &address)]) {
        Ok(Outcome::NotApplicable(reason)) => {
            assert!(reason.contains("no D-Bus message bus at"), "{reason}");
            assert!(reason.contains("no-bus-here"), "{reason}");
        }
        other => panic!("expected not applicable, got {other:?}"),
    }
}

#[test]
fn a_bus_without_systemd_is_not_applicable() {
    let bus = BareBus::start();
    match collect(&[("bus", bus.address())]) {
        Ok(Outcome::NotApplicable(reason)) => {
            assert!(
                reason.contains("systemd is not on the D-Bus message bus"),
                "{reason}"
            );
            assert!(reason.contains("org.freedesktop.systemd1"), "{reason}");
        }
        other => panic!("expected not applicable, got {other:?}"),
    }
}

#[test]
fn a_bus_that_never_answers_fails_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("silent");
    // Accepts connections and never says a word: the D-Bus handshake cannot complete.
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let address = format!("unix:path={}", socket.display());
    let started = Instant::now();
    let outcome = collect_with(&[("bus", &address)], Duration::from_millis(300), false);
    let elapsed = started.elapsed();
    drop(listener);
    match outcome {
        Err(CollectError::Failed(message)) => {
            assert!(message.contains("did not answer within"), "{message}")
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[test]
fn cancelling_while_waiting_on_the_bus_stops_the_run_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("silent");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let address = format!("unix:path={}", socket.display());
    let test = TestContext::for_collector::<SystemdCollector>()
        .option("bus", address)
        .timeout(Duration::from_secs(60));
    let started = Instant::now();
    let outcome = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            test.cancel();
        });
        test.collect::<SystemdCollector>()
    });
    let elapsed = started.elapsed();
    drop(listener);
    assert_eq!(outcome, Err(CollectError::Cancelled));
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[test]
fn a_cancelled_run_stops_before_asking_systemd() {
    let bus = BareBus::start();
    let outcome = collect_with(&[("bus", bus.address())], Duration::from_secs(5), true);
    assert_eq!(outcome, Err(CollectError::Cancelled));
}

#[test]
fn a_bad_option_names_the_option() {
    let err = collect(&[("units", "kubelet")]).unwrap_err();
    assert!(
        err.to_string().contains("option units") && err.to_string().contains("containerd.service"),
        "{err}"
    );
    let err = collect(&[("bus", "not an address")]).unwrap_err();
    assert!(err.to_string().contains("option bus"), "{err}");
}

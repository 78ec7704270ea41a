//! The harness itself: it brings up a real systemd user manager with the test units, and it
//! leaves no process behind however the test ends.

use eidos_systemd_harness::{
    node_units, processes_in_namespace, UserSystemd, BROKEN, CONTAINERD, DOCKER, KUBELET,
};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wait_until_empty(namespace: &str) -> Vec<u32> {
    let started = Instant::now();
    loop {
        let left = processes_in_namespace(namespace);
        if left.is_empty() || started.elapsed() > Duration::from_secs(10) {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn starts_systemd_with_the_node_units_and_stops_every_process() {
    let harness = UserSystemd::start(&node_units()).unwrap();
    assert_eq!(
        harness.property(CONTAINERD, "ActiveState").unwrap(),
        "active"
    );
    assert_eq!(
        harness.property(CONTAINERD, "LimitNOFILE").unwrap(),
        "1048576"
    );
    assert_eq!(harness.property(BROKEN, "ActiveState").unwrap(), "failed");
    assert!(harness.systemd_is_on_the_bus());
    assert!(
        !harness.is_loaded(DOCKER).unwrap(),
        "docker was never started"
    );
    assert!(
        !harness.is_loaded(KUBELET).unwrap(),
        "kubelet is not installed"
    );
    let processes = harness.processes();
    // At least dbus-daemon, systemd --user and containerd's sleep, besides the namespace's init.
    assert!(processes.len() >= 4, "{processes:?}\n{}", harness.log());
    let namespace = harness.namespace().to_owned();
    harness.stop().unwrap();
    assert_eq!(processes_in_namespace(&namespace), Vec::<u32>::new());
}

#[test]
fn a_test_that_panics_still_tears_the_harness_down() {
    let (tx, rx) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let harness = UserSystemd::start(&node_units()).unwrap();
        tx.send(harness.namespace().to_owned()).unwrap();
        panic!("a failing assertion while the harness runs");
    })
    .join();
    assert!(outcome.is_err(), "the thread was meant to panic");
    let namespace = rx.recv().unwrap();
    assert_eq!(processes_in_namespace(&namespace), Vec::<u32>::new());
}

#[test]
fn a_test_process_killed_outright_leaves_nothing_behind() {
    let mut holder = Command::new(env!("CARGO_BIN_EXE_eidos-hold-user-systemd"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut namespace = None;
    let mut directory = None;
    let mut ready = false;
    for line in BufReader::new(holder.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(ns) = line.strip_prefix("namespace=") {
            namespace = Some(ns.to_owned());
        }
        if let Some(dir) = line.strip_prefix("directory=") {
            directory = Some(dir.to_owned());
        }
        if line == "ready" {
            ready = true;
            break;
        }
    }
    assert!(ready, "the holder did not come up");
    let namespace = namespace.unwrap();
    assert!(processes_in_namespace(&namespace).len() >= 4);
    holder.kill().unwrap(); // SIGKILL: no destructor runs in the holder.
    holder.wait().unwrap();
    assert_eq!(wait_until_empty(&namespace), Vec::<u32>::new());
    // A process killed outright cannot remove its temporary directory; this test does.
    std::fs::remove_dir_all(directory.unwrap()).unwrap();
}

//! Measures the collector against a real systemd (the test harness's user manager, as root):
//! wall time of one collection of the three default units (containerd running, docker installed
//! but not loaded, kubelet not installed), and the size of the measurement it returns.
//!
//! ```text
//! cargo run --release -p eidos-collector-systemd --example bench_real_systemd [RUNS]
//! ```

use eidos_collector_systemd::SystemdCollector;
use eidos_plugin_api::testing::TestContext;
use eidos_plugin_api::Outcome;
use eidos_systemd_harness::{node_units, UserSystemd};
use std::time::{Duration, Instant};

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let harness = match UserSystemd::start(&node_units()) {
        Ok(harness) => harness,
        Err(e) => {
            eprintln!("bench_real_systemd: {e}");
            std::process::exit(1);
        }
    };
    let test = TestContext::for_collector::<SystemdCollector>()
        .option("bus", harness.bus_address())
        .timeout(Duration::from_secs(10));
    let collect = || test.collect::<SystemdCollector>();

    // One warm-up run, which also gives the measurement to size.
    let Ok(Outcome::Collected(collection)) = collect() else {
        eprintln!("bench_real_systemd: the collector did not collect");
        std::process::exit(1);
    };
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let outcome = collect();
        times.push(started.elapsed());
        if !matches!(outcome, Ok(Outcome::Collected(_))) {
            eprintln!("bench_real_systemd: a run failed: {outcome:?}");
            std::process::exit(1);
        }
    }
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    let measurement = &collection.measurements[0];
    let readings: usize = measurement.subtypes.iter().map(|s| s.data.len()).sum();
    let json = serde_json::to_string(measurement).unwrap_or_default();
    println!("runs: {runs}");
    println!(
        "wall time per collection of 3 units: median {:.2} ms, p10 {:.2} ms, p90 {:.2} ms, min {:.2} ms, max {:.2} ms",
        ms(at(0.5)),
        ms(at(0.1)),
        ms(at(0.9)),
        ms(times[0]),
        ms(times[times.len() - 1])
    );
    for subtype in &measurement.subtypes {
        println!("  {}: {} readings", subtype.subtype, subtype.data.len());
    }
    println!("readings: {readings}");
    phases(harness.bus_address(), runs);
    println!("measurement as compact JSON: {} bytes", json.len());
    if let Err(e) = harness.stop() {
        eprintln!("bench_real_systemd: {e}");
        std::process::exit(1);
    }
}

/// Median time of each step of a collection, to see where the time goes.
fn phases(address: &str, runs: usize) {
    use eidos_collector_systemd::systemd::{Systemd, UNIT_INTERFACE};
    const SERVICE: &str = "org.freedesktop.systemd1.Service";
    let units = ["containerd.service", "docker.service", "kubelet.service"];
    let mut connect = Vec::new();
    let mut per_unit: Vec<[Vec<Duration>; 3]> = units.iter().map(|_| Default::default()).collect();
    for _ in 0..runs {
        let address: zbus::Address = address.parse().expect("the harness's address");
        zruntime::block_on(async {
            let started = Instant::now();
            let systemd = Systemd::connect(address, Duration::from_secs(10))
                .await
                .expect("connect");
            connect.push(started.elapsed());
            for (unit, times) in units.iter().zip(per_unit.iter_mut()) {
                let started = Instant::now();
                let path = systemd.unit_path(unit).await.expect("unit path");
                times[0].push(started.elapsed());
                let started = Instant::now();
                systemd
                    .properties(unit, &path, UNIT_INTERFACE)
                    .await
                    .expect("Unit");
                times[1].push(started.elapsed());
                let started = Instant::now();
                systemd
                    .properties(unit, &path, SERVICE)
                    .await
                    .expect("Service");
                times[2].push(started.elapsed());
            }
        });
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        ms(v[v.len() / 2])
    };
    println!("median per step:");
    println!("  connect + NameHasOwner: {:.2} ms", median(&mut connect));
    for (unit, times) in units.iter().zip(per_unit.iter_mut()) {
        println!(
            "  {unit}: unit path {:.2} ms, Unit GetAll {:.2} ms, Service GetAll {:.2} ms",
            median(&mut times[0]),
            median(&mut times[1]),
            median(&mut times[2])
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

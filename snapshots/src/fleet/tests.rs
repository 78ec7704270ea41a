use super::*;
use crate::ignore::Origin;
use eidos_plugin_api::model::{CollectorReport, CollectorStatus};
use eidos_plugin_api::Subtype;
use eidos_recipes::validate::KeyPattern;

fn reference() -> Snapshot {
    serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap()
}

/// The reference snapshot as node `name`, with node-specific values as a real node has them.
fn node(name: &str, n: u64) -> Snapshot {
    let mut s = reference();
    s.metadata.source_node = Some(name.to_owned());
    subtype(&mut s, "os", "sysctl").insert("/proc/sys/kernel/hostname", name);
    subtype(&mut s, "systemd", "kubelet.service").insert("MainPID", (1000 + n).to_string());
    s
}

fn subtype<'a>(s: &'a mut Snapshot, kind: &str, name: &str) -> &'a mut Subtype {
    s.measurements
        .iter_mut()
        .find(|m| m.kind.eq_ignore_ascii_case(kind))
        .unwrap()
        .subtypes
        .iter_mut()
        .find(|x| x.subtype == name)
        .unwrap()
}

/// The node-specific values above are ignored, as the CLI's defaults do.
fn rules() -> IgnoreRules {
    let mut rules = IgnoreRules::new();
    rules.add_node_identity();
    rules.add_volatile("systemd", &["systemd/*/MainPID".to_owned()]);
    rules
}

fn report_of(nodes: &[Snapshot], rules: &IgnoreRules) -> FleetReport {
    let mut fleet = Fleet::new();
    let mut matcher = rules.matcher();
    for (i, s) in nodes.iter().enumerate() {
        let name = s.metadata.source_node.clone().unwrap();
        fleet.add(
            i,
            name.clone(),
            format!("{name}.yaml"),
            Profile::of(s, &mut matcher),
            None,
        );
    }
    fleet.report(rules)
}

fn not_applicable_gpu(s: &mut Snapshot) {
    s.measurements
        .retain(|m| !m.kind.eq_ignore_ascii_case("gpu"));
    s.metadata.collectors.insert(
        "gpu".into(),
        CollectorReport {
            status: CollectorStatus::NotApplicable,
            reason: Some("no NVIDIA driver".into()),
            warnings: vec![],
            duration_ms: 1.0,
            plugin_version: "0.1.0".into(),
        },
    );
}

#[test]
fn identical_nodes_form_one_configuration_whatever_their_names_and_pids() {
    let nodes: Vec<Snapshot> = (0..5).map(|i| node(&format!("n{i}"), i)).collect();
    let report = report_of(&nodes, &rules());
    assert_eq!(report.summary.nodes, 5);
    assert_eq!(report.summary.configurations, 1);
    assert!(!report.summary.drift(), "{:?}", report.keys);
    assert_eq!(
        report.configurations[0].members,
        ["n0", "n1", "n2", "n3", "n4"]
    );
    // Without the ignore rules, the hostname and the PID make every node its own configuration.
    let bare = report_of(&nodes, &IgnoreRules::new());
    assert_eq!(bare.summary.configurations, 5);
    let paths: Vec<&str> = bare.keys.iter().map(|k| k.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "os/sysctl//proc/sys/kernel/hostname",
            "systemd/kubelet.service/MainPID"
        ]
    );
}

#[test]
fn planted_outliers_are_found_exactly_and_sorted_by_how_many_deviate() {
    let mut nodes: Vec<Snapshot> = (0..10).map(|i| node(&format!("n{i:02}"), i)).collect();
    // One node with a hand-set sysctl; two with an older driver; one whose GPU collector did not
    // apply (its GPU readings must not be listed one by one).
    subtype(&mut nodes[3], "os", "sysctl").insert("/proc/sys/vm/swappiness", "10");
    for i in [5, 8] {
        subtype(&mut nodes[i], "gpu", "smi").insert("driver", "550.54.15");
    }
    not_applicable_gpu(&mut nodes[7]);
    let report = report_of(&nodes, &rules());
    let s = report.summary;
    assert_eq!(
        (
            s.nodes,
            s.configurations,
            s.drifting_keys,
            s.drifting_collectors,
            s.outliers
        ),
        (10, 4, 2, 1, 4)
    );
    let driver = &report.keys[0];
    assert_eq!(driver.path, "gpu/smi/driver");
    assert_eq!(driver.majority.value, Some(Reading::from("570.133.20")));
    assert_eq!(driver.majority.nodes, 7, "nodes whose GPU collector ran");
    assert_eq!(driver.minorities.len(), 1);
    assert_eq!(driver.minorities[0].outliers, ["n05", "n08"]);
    assert_eq!(driver.deviating, 2);
    let swappiness = &report.keys[1];
    assert_eq!(swappiness.path, "os/sysctl//proc/sys/vm/swappiness");
    assert_eq!(swappiness.majority.value, Some(Reading::from("60")));
    assert_eq!(swappiness.majority.nodes, 9);
    assert_eq!(swappiness.minorities[0].value, Some(Reading::from("10")));
    assert_eq!(swappiness.minorities[0].outliers, ["n03"]);
    let gpu = &report.collectors[0];
    assert_eq!(gpu.collector, "gpu");
    assert_eq!(gpu.majority.value, Presence::Ran);
    assert_eq!(gpu.minorities[0].value, Presence::NotApplicable);
    assert_eq!(gpu.minorities[0].outliers, ["n07"]);
    assert_eq!(report.configurations[0].nodes, 6);
    let n05 = report.nodes.iter().find(|n| n.name == "n05").unwrap();
    let n08 = report.nodes.iter().find(|n| n.name == "n08").unwrap();
    assert_eq!(n05.configuration, n08.configuration);
    assert_ne!(n05.configuration, 1);
    assert!(report
        .summary_line
        .starts_with("10 node(s), 4 configuration(s), 2 drifting key(s)"));
}

#[test]
fn a_missing_subtype_shows_its_keys_absent_on_the_nodes_that_lack_it() {
    let mut nodes: Vec<Snapshot> = (0..3).map(|i| node(&format!("n{i}"), i)).collect();
    let os = nodes[1]
        .measurements
        .iter_mut()
        .find(|m| m.kind == "OS")
        .unwrap();
    os.subtypes.retain(|s| s.subtype != "grub");
    let report = report_of(&nodes, &rules());
    assert!(!report.keys.is_empty());
    for k in &report.keys {
        assert_eq!(k.subtype, "grub");
        assert_eq!(k.minorities[0].value, None);
        assert_eq!(k.minorities[0].outliers, ["n1"]);
    }
}

#[test]
fn go_type_names_and_ours_are_the_same_configuration() {
    let go = node("a", 0);
    let mut ours = node("b", 1);
    for m in &mut ours.measurements {
        m.kind = m.kind.to_ascii_lowercase();
    }
    assert_eq!(report_of(&[go, ours], &rules()).summary.configurations, 1);
}

#[test]
fn two_inputs_of_one_node_are_both_counted_and_named_apart() {
    let nodes = [node("n1", 0), node("n1", 1), node("n2", 2)];
    let report = report_of(&nodes, &rules());
    let names: Vec<&str> = report.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["n1 (n1.yaml)", "n1 (n1.yaml)", "n2"]);
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("node n1 has 2 snapshots"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn ties_are_broken_by_the_first_node_name() {
    let mut nodes: Vec<Snapshot> = (0..4).map(|i| node(&format!("n{i}"), i)).collect();
    for i in [0, 3] {
        subtype(&mut nodes[i], "os", "grub").insert("iommu", "pt");
    }
    for i in [1, 2] {
        subtype(&mut nodes[i], "os", "grub").insert("iommu", "off");
    }
    let report = report_of(&nodes, &rules());
    assert_eq!(report.keys[0].majority.value, Some(Reading::from("pt")));
    assert_eq!(report.keys[0].minorities[0].outliers, ["n1", "n2"]);
}

/// Options for the gather tests: no validation, three workers.
fn gather_options(rules: &IgnoreRules, strict: bool) -> GatherOptions<'_> {
    GatherOptions {
        rules,
        validator: None,
        strict,
        threads: 3,
    }
}

#[test]
fn gather_reads_on_threads_skips_what_is_not_a_snapshot_and_stops_when_strict() {
    let inputs: Vec<usize> = (0..40).collect();
    let read = |&i: &usize| -> Result<Read, String> {
        if i % 13 == 5 {
            return Err("not a snapshot".to_owned());
        }
        let mut s = node(&format!("n{i:02}"), i as u64);
        if i == 20 {
            subtype(&mut s, "os", "grub").insert("iommu", "off");
        }
        if i == 30 {
            s.metadata.source_node = None;
        }
        Ok(Read {
            snapshot: s,
            fallback_name: format!("file-{i}"),
        })
    };
    let rules = rules();
    let options = gather_options(&rules, false);
    let mut calls = 0;
    let report = gather(
        &inputs,
        |i| format!("in/{i}"),
        read,
        &options,
        |done, total| {
            calls += 1;
            assert!(done <= total && total == 40);
        },
    )
    .unwrap();
    assert_eq!(calls, 40);
    assert_eq!(report.summary.unreadable, 3);
    let sources: Vec<&str> = report
        .unreadable
        .iter()
        .map(|u| u.source.as_str())
        .collect();
    assert_eq!(sources, ["in/5", "in/18", "in/31"]);
    assert_eq!(report.summary.nodes, 37);
    assert_eq!(report.keys.len(), 1);
    assert_eq!(report.keys[0].minorities[0].outliers, ["n20"]);
    assert!(report
        .nodes
        .iter()
        .any(|n| n.name == "file-30" && n.source == "in/30"));

    let strict = GatherOptions {
        strict: true,
        ..options
    };
    let err = gather(&inputs, |i| format!("in/{i}"), read, &strict, |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("not a snapshot"), "{err}");
    assert!(err.to_string().starts_with("in/5:"), "{err}");
}

#[test]
fn strict_names_the_first_unreadable_input_in_order_even_when_a_later_one_fails_sooner() {
    let inputs: Vec<usize> = (0..8).collect();
    let read = |&i: &usize| -> Result<Read, String> {
        match i {
            // The first bad input is slow to read; a later one fails at once on another thread.
            2 => {
                std::thread::sleep(std::time::Duration::from_millis(200));
                Err("slow and broken".to_owned())
            }
            3 => Err("quick and broken".to_owned()),
            _ => Ok(Read {
                snapshot: node(&format!("n{i}"), i as u64),
                fallback_name: String::new(),
            }),
        }
    };
    let rules = rules();
    let options = gather_options(&rules, true);
    let err = gather(&inputs, |i| format!("in/{i}"), read, &options, |_, _| {}).unwrap_err();
    assert_eq!(err.to_string(), "in/2: slow and broken");
}

use std::sync::atomic::{AtomicUsize, Ordering};

/// An input that counts how many of its kind are alive at once (now, most).
struct Counted {
    n: usize,
    live: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Counted {
    fn new(n: usize, live: &Arc<(AtomicUsize, AtomicUsize)>) -> Counted {
        let now = live.0.fetch_add(1, Ordering::SeqCst) + 1;
        live.1.fetch_max(now, Ordering::SeqCst);
        Counted {
            n,
            live: live.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.live.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn a_stream_of_inputs_is_pulled_as_workers_are_free_and_never_held_whole() {
    let live = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let inputs = {
        let live = live.clone();
        (0..2000).map(move |n| Counted::new(n, &live))
    };
    let read = |c: &Counted| -> Result<Read, String> {
        if c.n == 1500 {
            return Err("broken".to_owned());
        }
        Ok(Read {
            snapshot: node(&format!("n{:04}", c.n), c.n as u64),
            fallback_name: String::new(),
        })
    };
    let rules = rules();
    let options = gather_options(&rules, false);
    let mut last = (0, None);
    let report = gather_stream(
        inputs,
        |c| format!("in/{}", c.n),
        read,
        &options,
        |done, total| last = (done, total),
    )
    .unwrap();
    assert_eq!(report.summary.nodes, 1999);
    assert_eq!(report.unreadable[0].source, "in/1500");
    // A `map` over a range knows its length.
    assert_eq!(last, (2000, Some(2000)));
    // Each worker holds the input it reads, no more: a stream of 2,000 is never collected.
    let most = live.1.load(Ordering::SeqCst);
    assert!(most <= 3, "{most} inputs alive at once");
    assert_eq!(live.0.load(Ordering::SeqCst), 0);

    // A stream of unknown length says so; strict still names the first bad input in order.
    let inputs = (0..50).filter(|_| true);
    let strict = GatherOptions {
        strict: true,
        ..options
    };
    let read = |&i: &usize| -> Result<Read, String> {
        if i == 7 || i == 9 {
            return Err(format!("bad {i}"));
        }
        Ok(Read {
            snapshot: node(&format!("n{i}"), i as u64),
            fallback_name: String::new(),
        })
    };
    let mut totals = Vec::new();
    let err = gather_stream(
        inputs,
        |i| format!("in/{i}"),
        read,
        &strict,
        |_, total| totals.push(total),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "in/7: bad 7");
    assert!(totals.iter().all(Option::is_none), "{totals:?}");
}

#[test]
fn validation_gives_each_node_its_verdict_and_counts_the_failures() {
    use eidos_recipes::validate::{self, Expectation, FailOn};
    let store = eidos_recipes::RecipeStore::embedded().unwrap();
    let validator = Validator::new(store.clone(), FailOn::default());
    // A node configured exactly as its recipe says, and one with a required value broken.
    let query = eidos_recipes::Query::from_snapshot(&reference());
    let constraints =
        validate::constraints_from_recipe(&store.build(&query), None, "recipe").unwrap();
    let mut healthy = validate::snapshot_satisfying(&constraints);
    for (key, value) in [("ID", "ubuntu"), ("VERSION_ID", "24.04")] {
        let release = healthy.measurements.iter_mut().find(|m| m.kind == "os");
        if let Some(os) = release {
            if let Some(r) = os.subtypes.iter_mut().find(|s| s.subtype == "release") {
                r.data.entry(key.to_owned()).or_insert(value.into());
            }
        }
    }
    healthy.metadata.source_node = Some("good".into());
    let required = constraints
        .iter()
        .find(|c| {
            c.severity == eidos_recipes::Severity::Required
                && matches!(c.expectation, Expectation::Equals(_))
        })
        .unwrap();
    let mut broken = healthy.clone();
    broken.metadata.source_node = Some("bad".into());
    let path = &required.path;
    subtype(&mut broken, &path.kind, &path.subtype).insert(path.key.clone(), "not-this-value");
    let good = validator.verdict(&healthy).unwrap();
    let bad = validator.verdict(&broken).unwrap();
    assert!(!good.failed(), "{good:?}");
    assert!(bad.failed() && bad.required_failed == 1, "{bad:?}");

    let inputs = [healthy, broken];
    let rules = rules();
    let options = GatherOptions {
        rules: &rules,
        validator: Some(&validator),
        strict: false,
        threads: 2,
    };
    let report = gather(
        &inputs,
        |s| s.metadata.source_node.clone().unwrap(),
        |s| {
            Ok(Read {
                snapshot: s.clone(),
                fallback_name: String::new(),
            })
        },
        &options,
        |_, _| {},
    )
    .unwrap();
    let node = |name: &str| report.nodes.iter().find(|n| n.name == name).unwrap();
    assert_eq!(node("bad").validation.as_ref(), Some(&bad));
    assert_eq!(node("good").validation.as_ref(), Some(&good));
    assert_eq!(report.summary.invalid, Some(1));
}

#[test]
fn flag_patterns_take_keys_out_of_the_comparison() {
    let mut nodes: Vec<Snapshot> = (0..3).map(|i| node(&format!("n{i}"), i)).collect();
    subtype(&mut nodes[2], "os", "grub").insert("iommu", "off");
    let mut rules = rules();
    assert_eq!(report_of(&nodes, &rules).summary.drifting_keys, 1);
    rules.add(KeyPattern::parse("os/grub/iommu").unwrap(), Origin::Flag);
    assert_eq!(report_of(&nodes, &rules).summary.drifting_keys, 0);
}

proptest::proptest! {
    /// Whatever the readings, a profile's parts decode to the view they were made from.
    #[test]
    fn parts_decode_to_what_was_encoded(
        ints in proptest::collection::vec(proptest::prelude::any::<i64>(), 0..4),
        uint in proptest::prelude::any::<u64>(),
        float in proptest::prelude::any::<f64>(),
        text in "\\PC{0,16}",
        flag in proptest::prelude::any::<bool>(),
    ) {
        let mut sub = Subtype::new("s").with("u", uint).with("f", float).with("t", text.as_str()).with("b", flag);
        for (i, v) in ints.iter().enumerate() {
            sub.insert(format!("i{i}"), *v);
        }
        let mut s = Snapshot::default();
        s.measurements.push(eidos_plugin_api::Measurement { kind: "X".into(), subtypes: vec![sub.clone()] });
        let rules = IgnoreRules::new();
        let profile = Profile::of(&s, &mut rules.matcher());
        proptest::prop_assert_eq!(profile.parts.len(), 2);
        match Part::decode(&profile.parts[1]) {
            Some(Part::Subtype { kind, subtype, readings }) => {
                proptest::prop_assert_eq!(kind, "x");
                proptest::prop_assert_eq!(subtype, "s");
                proptest::prop_assert_eq!(readings.len(), sub.data.len());
                for (k, v) in &readings {
                    proptest::prop_assert!(same_value(v, &sub.data[k]), "{} {:?}", k, v);
                }
            }
            _ => proptest::prop_assert!(false, "not a subtype part"),
        }
        let ran = matches!(
            Part::decode(&profile.parts[0]),
            Some(Part::Presence { presence: Presence::Ran, .. })
        );
        proptest::prop_assert!(ran, "the presence part");
    }
}

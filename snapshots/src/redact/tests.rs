use super::*;
use eidos_plugin_api::{Measurement, MeasurementType, Subtype};
use proptest::prelude::*;

fn key() -> RedactKey {
    RedactKey::given("unit test key").unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// The sensitive keys the built-in collectors declare that the Go fixture has.
fn rules() -> Rules {
    let os = strings(&["os/sysctl//proc/sys/kernel/hostname"]);
    let gpu = strings(&["gpu/*/serial", "gpu/*/uuid"]);
    Rules::new([("os", os.as_slice()), ("gpu", gpu.as_slice())], &[], &[]).unwrap()
}

fn go_snapshot() -> Snapshot {
    serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap()
}

fn yaml(s: &Snapshot) -> String {
    serde_yaml::to_string(s).unwrap()
}

#[test]
fn the_go_snapshot_loses_its_node_name_and_partition_uuid_and_comes_back_exactly() {
    let original = go_snapshot();
    let out = redact(&original, &rules(), &key());
    let text = yaml(&out.snapshot);
    for secret in [
        "ip-10-0-71-203",
        "5c1e0a43-8d2f-4b6e-9f31-27a0c8e4d915",
        "ec2.internal",
    ] {
        assert!(!text.contains(secret), "{secret} survived:\n{text}");
    }
    // One pseudonym for the node, wherever it appears; the prefix word before a UUID stays.
    let node = out.snapshot.metadata.source_node.clone().unwrap();
    assert_eq!(node.matches('.').count(), 2, "{node}");
    assert_eq!(
        out.snapshot
            .reading(MeasurementType::Os, "sysctl", "/proc/sys/kernel/hostname")
            .and_then(Reading::as_str),
        Some(node.as_str())
    );
    let root = out
        .snapshot
        .reading(MeasurementType::Os, "grub", "root")
        .and_then(Reading::as_str)
        .unwrap();
    assert!(root.starts_with("PARTUUID=") && root.len() == 45, "{root}");
    // Non-sensitive readings are untouched, types included.
    assert_eq!(
        out.snapshot.reading(
            MeasurementType::SystemD,
            "containerd.service",
            "BlockIOWeight"
        ),
        Some(&Reading::Uint(u64::MAX))
    );
    assert_eq!(
        out.snapshot
            .reading(MeasurementType::Gpu, "smi", "gpu.vbios-version"),
        Some(&Reading::Str("96.00.74.00.1C".into()))
    );
    let back = reverse(&out.snapshot, &out.mapping).unwrap();
    assert_eq!(back, original);
    assert_eq!(yaml(&back), yaml(&original));
}

#[test]
fn output_depends_on_the_input_and_key_only_and_never_holds_the_key() {
    let original = go_snapshot();
    let a = redact(&original, &rules(), &key());
    let b = redact(&original, &rules(), &key());
    assert_eq!(yaml(&a.snapshot), yaml(&b.snapshot));
    assert_eq!(a.mapping, b.mapping);
    let other = redact(&original, &rules(), &RedactKey::given("other").unwrap());
    assert_ne!(
        a.snapshot.metadata.source_node,
        other.snapshot.metadata.source_node
    );
    let text = yaml(&a.snapshot);
    assert!(!text.contains("unit test key"));
    let record: Record =
        serde_json::from_value(a.snapshot.metadata.extra[RECORD_KEY].clone()).unwrap();
    assert!(record.redacted);
    assert_eq!(record.key, "given");
    assert_eq!(record.rules_version, RULES_VERSION);
    assert_eq!(record.map_id, a.mapping.map_id);
    assert!(record.sensitive_keys.contains(&"gpu/*/serial".to_owned()));
    let random = redact(&original, &rules(), &RedactKey::random());
    assert!(yaml(&random.snapshot).contains("key: random"));
}

fn snapshot_with(subtypes: Vec<Subtype>) -> Snapshot {
    let mut s = Snapshot::default();
    s.metadata.source_node = Some("gpu-node-17.dc3.acme.example".into());
    s.measurements
        .push(Measurement::new(MeasurementType::Gpu, subtypes));
    s
}

#[test]
fn keys_subtypes_warnings_and_numbers_are_covered_and_keep_keeps() {
    let mut snap = snapshot_with(vec![
        Subtype::new("gpu-0")
            .with("serial", 1_650_000_000_002_u64)
            .with("uuid", "GPU-3f2a1b4c-1111-4000-8000-00000000abcd")
            .with("peer.10.20.30.40", "up")
            .with("note", "scheduled on gpu-node-17 by ops@acme.example"),
        Subtype::new("mnt-3f2a1b4c-2222-4000-8000-00000000abcd.mount").with("keep.me", "10.9.9.9"),
    ]);
    snap.metadata.extra.insert(
        "zone".into(),
        serde_json::json!({"gpu-node-17": ["10.1.1.1"]}),
    );
    snap.metadata.collectors.insert(
        "gpu".into(),
        eidos_plugin_api::model::CollectorReport {
            status: eidos_plugin_api::model::CollectorStatus::Ok,
            reason: None,
            warnings: vec!["cannot reach 172.16.5.4".into()],
            duration_ms: 1.0,
            plugin_version: "0.1.0".into(),
        },
    );
    let keep = strings(&["gpu/*/keep.me"]);
    let gpu = strings(&["gpu/*/serial", "gpu/*/uuid"]);
    let rules = Rules::new([("gpu", gpu.as_slice())], &[], &keep).unwrap();
    let out = redact(&snap, &rules, &key());
    let text = serde_json::to_string(&out.snapshot).unwrap();
    for secret in [
        "1650000000002",
        "3f2a1b4c-1111",
        "3f2a1b4c-2222",
        "10.20.30.40",
        "gpu-node-17",
        "acme",
        "ops@",
        "172.16.5.4",
        "10.1.1.1",
    ] {
        assert!(!text.contains(secret), "{secret} survived: {text}");
    }
    assert!(text.contains("10.9.9.9"), "a kept reading is kept: {text}");
    let gpu0 = &out.snapshot.measurements[0].subtypes[0];
    assert!(matches!(gpu0.data.get("serial"), Some(Reading::Str(s)) if s.starts_with("redacted-")));
    assert!(gpu0.data["uuid"].as_str().unwrap().starts_with("GPU-"));
    let back = reverse(&out.snapshot, &out.mapping).unwrap();
    assert_eq!(back, snap);
    assert_eq!(
        back.measurements[0].subtypes[0].data["serial"],
        Reading::Int(1_650_000_000_002)
    );
}

/// The pseudonym `out`'s map gives `original`.
fn pseudonym_of<'m>(out: &'m Redacted, original: &str) -> &'m str {
    out.mapping
        .entries
        .iter()
        .find(|e| e.original == original)
        .map(|e| e.pseudonym.as_str())
        .unwrap_or_else(|| panic!("no pseudonym for {original}: {:#?}", out.mapping))
}

fn resolver(node: &str) -> Snapshot {
    let mut s = snapshot_with(vec![Subtype::new("resolv")
        .with("search", "SEARCH=dc3.acme.example")
        .with("proxy", "NO_PROXY=.acme.example,localhost")
        .with("peer", "peer gpu-node-18.dc3.acme.example is up")
        .with("ldap", "_ldap._tcp.acme.example")]);
    s.metadata.source_node = Some(node.into());
    s
}

#[test]
fn the_nodes_domain_and_its_neighbours_are_redacted_consistently_across_nodes() {
    let original = resolver("gpu-node-17.dc3.acme.example");
    let rules = Rules::new([], &[], &[]).unwrap();
    let out = redact(&original, &rules, &key());
    let text = serde_json::to_string(&out.snapshot).unwrap();
    for secret in ["acme", "dc3", "gpu-node-18", "gpu-node-17", "_ldap"] {
        assert!(!text.contains(secret), "{secret} survived: {text}");
    }
    assert!(text.contains("localhost"), "{text}");
    // Shapes kept: a host's pseudonym ends in its domain's.
    let domain = pseudonym_of(&out, "dc3.acme.example");
    assert_eq!(domain.matches('.').count(), 2, "{domain}");
    let node = out.snapshot.metadata.source_node.clone().unwrap();
    assert!(node.ends_with(&format!(".{domain}")), "{node} / {domain}");
    let neighbour = pseudonym_of(&out, "gpu-node-18.dc3.acme.example");
    assert!(neighbour.ends_with(&format!(".{domain}")), "{neighbour}");
    let apex = pseudonym_of(&out, "acme.example");
    assert!(domain.ends_with(&format!(".{apex}")), "{domain} / {apex}");
    assert_eq!(reverse(&out.snapshot, &out.mapping).unwrap(), original);

    // Another node, same key: the same domain gets the same pseudonym.
    let other = redact(&resolver("gpu-node-18.dc3.acme.example"), &rules, &key());
    assert_eq!(pseudonym_of(&other, "dc3.acme.example"), domain);
    assert_eq!(pseudonym_of(&other, "acme.example"), apex);
    assert_eq!(
        other.snapshot.metadata.source_node.as_deref(),
        Some(neighbour)
    );
}

#[test]
fn host_names_are_found_whatever_their_case_and_come_back_byte_for_byte() {
    let original = snapshot_with(vec![Subtype::new("s")
        .with("kernel", "HOSTNAME=GPU-NODE-17")
        .with("mail", "page ops@ACME.example or Ops@Acme.Example")
        .with("fqdn", "GPU-NODE-17.Dc3.acme.example")
        .with("short", "on gpu-node-17")
        .with("domain", "acme.example")]);
    let rules = Rules::new([], &[], &[]).unwrap();
    let out = redact(&original, &rules, &key());
    let text = serde_json::to_string(&out.snapshot).unwrap();
    let lowered = text.to_ascii_lowercase();
    for secret in ["gpu-node-17", "acme", "dc3"] {
        assert!(!lowered.contains(secret), "{secret} survived: {text}");
    }
    // The lower-cased form decides; the pseudonym takes the original's case per label.
    let short = pseudonym_of(&out, "gpu-node-17");
    assert_eq!(
        pseudonym_of(&out, "GPU-NODE-17"),
        short.to_ascii_uppercase()
    );
    let domain = pseudonym_of(&out, "acme.example");
    let data = &out.snapshot.measurements[0].subtypes[0].data;
    let mail = data["mail"].as_str().unwrap().to_ascii_lowercase();
    assert_eq!(mail.matches(&format!("@{domain}")).count(), 2, "{mail}");
    let fqdn = data["fqdn"].as_str().unwrap();
    assert!(
        fqdn.to_ascii_lowercase().starts_with(&format!("{short}.")),
        "{fqdn}"
    );
    let labels: Vec<&str> = fqdn.split('.').collect();
    assert_eq!(labels[0], short.to_ascii_uppercase(), "{fqdn}");
    assert!(
        labels[1].starts_with('H') && labels[1][1..] == labels[1][1..].to_ascii_lowercase(),
        "{fqdn}"
    );
    assert_eq!(labels[2..].join("."), domain, "{fqdn}");
    let back = reverse(&out.snapshot, &out.mapping).unwrap();
    assert_eq!(back, original);
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        serde_json::to_string(&original).unwrap()
    );
}

#[test]
fn reversing_needs_a_redacted_document_and_its_own_map() {
    let original = go_snapshot();
    assert!(matches!(
        reverse(&original, &redact(&original, &rules(), &key()).mapping),
        Err(ReverseError::NotRedacted)
    ));
    let a = redact(&original, &rules(), &key());
    let other = redact(&snapshot_with(vec![]), &rules(), &key());
    let err = reverse(&a.snapshot, &other.mapping).unwrap_err();
    assert!(matches!(err, ReverseError::WrongMap { .. }), "{err}");
}

#[test]
fn a_document_redacted_twice_reverses_in_two_steps() {
    let original = go_snapshot();
    let once = redact(&original, &rules(), &key());
    let twice = redact(
        &once.snapshot,
        &rules(),
        &RedactKey::given("second").unwrap(),
    );
    let record = &twice.snapshot.metadata.extra[RECORD_KEY];
    assert_eq!(record["previous"]["map-id"], once.mapping.map_id.as_str());
    let step = reverse(&twice.snapshot, &twice.mapping).unwrap();
    assert_eq!(step, once.snapshot);
    assert_eq!(reverse(&step, &once.mapping).unwrap(), original);
}

/// A value of each detected kind, embedded in lower-case filler (which can contain none of them).
fn secret() -> impl Strategy<Value = (String, String)> {
    let ipv4 = (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254)
        .prop_filter("not loopback", |(a, ..)| *a != 127)
        .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}"));
    let ipv6 = proptest::array::uniform8(any::<u16>())
        .prop_filter("an address", |s| s[0] != 0)
        .prop_map(|s| std::net::Ipv6Addr::from(s).to_string());
    let mac = proptest::array::uniform6(any::<u8>())
        .prop_filter("not a special address", |b| {
            b.iter().any(|&x| x != 0) && b.iter().any(|&x| x != 0xff)
        })
        .prop_map(|b| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        });
    let uuid = proptest::array::uniform16(any::<u8>())
        .prop_filter("not nil", |b| b.iter().any(|&x| x != 0))
        .prop_map(|b| {
            let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            )
        });
    let email = "[a-z]{2,8}[0-9]{1,3}".prop_map(|u| format!("{u}@corp9.example.com"));
    let password = "[A-Z][a-z0-9]{4,10}[0-9]".prop_map(|p| p.to_string());
    let hex = "[0-9a-f]{31,60}".prop_map(|h| format!("7{h}"));
    let base64 = "[A-Z][a-z][0-9][A-Za-z0-9]{37,50}"
        .prop_filter("random-looking", |t| {
            t.chars().collect::<std::collections::BTreeSet<_>>().len() >= 26
        })
        .prop_map(|t| t.to_string());
    prop_oneof![
        ipv4.prop_map(|v| (v.clone(), v)),
        ipv6.prop_map(|v| (v.clone(), v)),
        mac.prop_map(|v| (v.clone(), v)),
        uuid.prop_map(|v| (v.clone(), v)),
        email.prop_map(|v| (v.clone(), v)),
        password.prop_map(|p| (format!("password={p}"), p)),
        hex.prop_map(|v| (v.clone(), v)),
        base64.prop_map(|v| (v.clone(), v)),
        "node[0-9]{2,4}".prop_map(|n| (format!("{n}.dc7.acme.example"), n)),
        // Under a known domain, in any case.
        "[A-Za-z][a-z0-9]{2,6}[0-9]".prop_map(|n| (format!("{n}.DC7.acme.example"), n)),
        ("[a-z]{2,6}[0-9]", "[a-z]{3,6}[0-9]", "(:[0-9]{2,5})?").prop_map(|(h, d, port)| {
            let host = format!("{h}.{d}.example");
            (format!("{host}{port}/team/app:1.2"), host)
        }),
        ("reg[a-z]{3,6}[0-9]", "[0-9]{2,5}").prop_map(|(h, port)| (format!("{h}:{port}/app"), h)),
        ("[a-z]{2,6}[0-9]", "[a-z]{3,6}[0-9]").prop_map(|(h, d)| {
            let host = format!("{h}.{d}.example");
            (format!("https://{host}/x?y=1"), host)
        }),
        "[A-Za-z0-9]{6,12}[0-9]".prop_map(|t| (format!("token={t}"), t)),
        "[A-Za-z0-9._~+/-]{7,30}[0-9]".prop_map(|t| (format!("Bearer {t}"), t)),
        "[A-Za-z0-9]{6,12}[0-9]".prop_map(|t| (format!("PASSWORD = {t}"), t)),
    ]
}

fn filler() -> impl Strategy<Value = String> {
    "[a-z ,;]{0,12}".prop_map(|s| s.to_string())
}

proptest! {
    /// Whatever surrounds them, no detected original survives anywhere in the document, and the
    /// document comes back exactly.
    #[test]
    fn no_original_substring_survives(
        items in proptest::collection::vec((filler(), secret(), filler()), 1..6),
    ) {
        let text: String = items
            .iter()
            .map(|(a, (s, _), b)| format!("{a} {s} {b}"))
            .collect::<Vec<_>>()
            .join(" ");
        // Host names are redacted where the document names them: here under a sensitive key.
        let mut hosts = Subtype::new("hosts");
        for (i, (_, (s, _), _)) in items.iter().enumerate() {
            if s.contains(".dc7.") {
                hosts.insert(format!("host-{i}"), s.as_str());
            }
        }
        let snap = snapshot_with(vec![Subtype::new("s").with("free", text.as_str()), hosts]);
        let also = strings(&["gpu/hosts/*"]);
        let rules = Rules::new([], &also, &[]).unwrap();
        let out = redact(&snap, &rules, &key());
        let written = serde_json::to_string(&out.snapshot).unwrap();
        for (_, (_, original), _) in &items {
            prop_assert!(!written.contains(original.as_str()), "{} survived in {}", original, written);
        }
        prop_assert_eq!(reverse(&out.snapshot, &out.mapping).unwrap(), snap);
    }

    /// Redacting twice with the same redactor equals redacting once.
    #[test]
    fn redacting_twice_equals_redacting_once(
        items in proptest::collection::vec((filler(), secret(), filler()), 1..6),
    ) {
        let text: String = items
            .iter()
            .map(|(a, (s, _), b)| format!("{a} {s} {b}"))
            .collect::<Vec<_>>()
            .join(" ");
        let k = key();
        let known = ["node12.dc7.acme.example", "dc7.acme.example", "acme.example"];
        let mut r = Redactor::new(&k, KnownNames::new(known.map(str::to_owned)));
        let once = r.redact_text(&text);
        let twice = r.redact_text(&once);
        prop_assert_eq!(&twice, &once);
        let whole = r.redact_whole(&once);
        let whole_twice = r.redact_whole(&whole);
        prop_assert_eq!(whole, whole_twice);
    }
}

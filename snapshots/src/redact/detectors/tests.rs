use super::*;

fn found<'a>(text: &'a str, known: &KnownNames) -> Vec<(Kind, &'a str)> {
    find(text, known)
        .into_iter()
        .map(|s| (s.kind, &text[s.start..s.end]))
        .collect()
}

fn none() -> KnownNames {
    KnownNames::default()
}

#[test]
fn each_detector_finds_its_shape_in_running_text() {
    let table: &[(&str, &[(Kind, &str)])] = &[
        ("addr 10.0.71.203/16 up", &[(Kind::Ipv4, "10.0.71.203")]),
        (
            "https://192.168.1.10:6443/api",
            &[(Kind::Ipv4, "192.168.1.10")],
        ),
        (
            "ip=10.0.0.5::10.0.0.1:255.255.255.0:eth0",
            &[(Kind::Ipv4, "10.0.0.5"), (Kind::Ipv4, "10.0.0.1")],
        ),
        ("end of 8.8.4.4.", &[(Kind::Ipv4, "8.8.4.4")]),
        (
            "[fe80::1c2:3ff:fe44:5566]:22",
            &[(Kind::Ipv6, "fe80::1c2:3ff:fe44:5566")],
        ),
        (
            "via 2600:1f18:abcd::5, ok",
            &[(Kind::Ipv6, "2600:1f18:abcd::5")],
        ),
        (
            "mapped ::ffff:10.1.2.3 here",
            &[(Kind::Ipv6, "::ffff:10.1.2.3")],
        ),
        (
            "ether 0c:42:a1:00:11:22 brd",
            &[(Kind::Mac, "0c:42:a1:00:11:22")],
        ),
        ("MAC=0C-42-A1-00-11-22", &[(Kind::Mac, "0C-42-A1-00-11-22")]),
        (
            "root=PARTUUID=5c1e0a43-8d2f-4b6e-9f31-27a0c8e4d915 ro",
            &[(Kind::Uuid, "5c1e0a43-8d2f-4b6e-9f31-27a0c8e4d915")],
        ),
        (
            "GPU-3f2a1b4c-0000-4000-8000-00000000abcd",
            &[(Kind::Uuid, "3f2a1b4c-0000-4000-8000-00000000abcd")],
        ),
        (
            "mail ops.team+gpu@corp.example.com now",
            &[(Kind::Email, "ops.team+gpu@corp.example.com")],
        ),
        (
            "machine 4f1c2a9be07d4d3c9a8e6b5f0c1d2e3f end",
            &[(Kind::HexToken, "4f1c2a9be07d4d3c9a8e6b5f0c1d2e3f")],
        ),
        (
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            &[(
                Kind::HexToken,
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            )],
        ),
        (
            "key AKzq93Hf0sLw7XbN2pQeR5tYu8Vm1cJg4DiE6oZa== end",
            &[(
                Kind::Base64Token,
                "AKzq93Hf0sLw7XbN2pQeR5tYu8Vm1cJg4DiE6oZa==",
            )],
        ),
        (
            "nfsroot=x password=hunter2 quiet",
            &[(Kind::Secret, "hunter2")],
        ),
        ("--token=abc.def-123,next", &[(Kind::Secret, "abc.def-123")]),
        ("DB_PASSWORD=\"two words\"", &[(Kind::Secret, "two words")]),
        (
            "Authorization: Bearer eyJhbGciOi",
            &[(Kind::Secret, "eyJhbGciOi")],
        ),
        ("{\"apiKey\": \"k-123\"}", &[(Kind::Secret, "k-123")]),
    ];
    for (text, want) in table {
        assert_eq!(found(text, &none()), *want, "{text}");
    }
}

#[test]
fn things_that_only_look_like_addresses_are_left_alone() {
    for text in [
        "570.86.15",
        "96.00.74.00.1C",
        "1.2.3.4.5",
        "v1.30.14-eks-3025e55",
        "10:00:00",
        "2026-03-11T14:02:37Z",
        "0.0.0.0",
        "127.0.0.1",
        "255.255.255.0",
        "::1",
        "::",
        "00:00:00:00:00:00",
        "ff:ff:ff:ff:ff:ff",
        "00000000-0000-0000-0000-000000000000",
        "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.570.86.15",
        "ManagedOOMMemoryPressureLimitPercent",
        "linux/arm64",
        "nvidia.com/gpu.present=true",
        "tokens=5 passwordless=yes",
        "21888\t0\t9223372036854775807",
        "18446744073709551615",
        "NVIDIA H100 80GB HBM3",
    ] {
        assert_eq!(found(text, &none()), [], "{text}");
    }
}

#[test]
fn known_names_are_found_at_name_boundaries_only() {
    let known = KnownNames::new([
        "ip-10-0-71-203.ec2.internal".to_owned(),
        "ip-10-0-71-203".to_owned(),
        "localhost".to_owned(),
        "ab".to_owned(),
    ]);
    assert_eq!(
        known.names(),
        ["ip-10-0-71-203", "ip-10-0-71-203.ec2.internal"]
    );
    assert_eq!(
        found("node ip-10-0-71-203.ec2.internal is Ready", &known),
        [(Kind::Hostname, "ip-10-0-71-203.ec2.internal")]
    );
    assert_eq!(
        found("--hostname-override=ip-10-0-71-203 x", &known),
        [(Kind::Hostname, "ip-10-0-71-203")]
    );
    assert_eq!(
        found("ip-10-0-71-203.other.example", &known),
        [(Kind::Hostname, "ip-10-0-71-203")]
    );
    assert_eq!(found("xip-10-0-71-203 ip-10-0-71-2030", &known), []);
}

#[test]
fn registry_and_url_hosts_that_are_not_public() {
    let hosts = |text: &str| {
        let mut out = Vec::new();
        network_hosts(text, &mut out);
        out
    };
    assert_eq!(
        hosts("--pod-infra-container-image=602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5"),
        ["602401143452.dkr.ecr.us-west-2.amazonaws.com"]
    );
    assert_eq!(
        hosts("registry.corp.example:5000/team/app:1.2"),
        ["registry.corp.example"]
    );
    assert_eq!(
        hosts("see https://git.corp.example.com/x"),
        ["git.corp.example.com"]
    );
    for public in [
        "nvcr.io/nvidia/driver:570",
        "docker.io/library/busybox",
        "feature.node.kubernetes.io/cpu-model.vendor_id",
        "nvidia.com/gpu.product",
        "https://github.com/NVIDIA/x",
        "https://www.debian.org/support",
        "https://bugs.launchpad.net/ubuntu/",
        "/proc/sys/net/ipv4/ip_forward",
        "linux/arm64",
        "libnvidia-ml.so.1/x",
    ] {
        assert_eq!(hosts(public), Vec::<String>::new(), "{public}");
    }
}

#[test]
fn spans_never_overlap_and_the_longest_wins() {
    let text = "x ::ffff:10.1.2.3 y";
    let spans = find(text, &none());
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].kind, Kind::Ipv6);
}

#[test]
fn an_address_after_a_word_and_a_dot_is_still_one() {
    assert_eq!(
        found("peer.10.20.30.40", &none()),
        [(Kind::Ipv4, "10.20.30.40")]
    );
    assert_eq!(
        found("10.20.30.40.peer", &none()),
        [(Kind::Ipv4, "10.20.30.40")]
    );
    assert_eq!(
        found("x10.20.30.40 1.10.20.30.40 10.20.30.40y", &none()),
        []
    );
}

#[test]
fn hostile_repetitions_stay_linear() {
    // Each would be quadratic if every name scanned to the end of the text.
    let many = "password=".repeat(200_000);
    let spans = find(&many, &none());
    assert_eq!(spans.len(), 1);
    assert_eq!((spans[0].start, spans[0].end), (9, many.len()));
    let colons = ":".repeat(1_000_000);
    assert!(find(&colons, &none()).is_empty());
    // Every match of a known domain looks back over at most one DNS name's length.
    let known = KnownNames::new(["acme.example".to_owned()]);
    let domains = "acme.example.".repeat(100_000);
    let spans = find(&domains, &known);
    assert!(!spans.is_empty());
    assert!(spans.iter().all(|s| s.end - s.start <= 253));
    let bearers = "Bearer ".repeat(200_000);
    assert!(find(&bearers, &none()).is_empty());
}

#[test]
fn names_under_a_known_domain_are_found_whole_and_without_regard_to_case() {
    let known = KnownNames::new([
        "GPU-NODE-17.dc3.ACME.example".to_owned(),
        "gpu-node-17".to_owned(),
        "dc3.acme.example".to_owned(),
        "acme.example".to_owned(),
        "amazonaws.com".to_owned(),
    ]);
    assert_eq!(
        known.names(),
        [
            "acme.example",
            "amazonaws.com",
            "dc3.acme.example",
            "gpu-node-17",
            "gpu-node-17.dc3.acme.example"
        ]
    );
    let table: &[(&str, &[(Kind, &str)])] = &[
        (
            "peer gpu-node-18.dc3.acme.example up",
            &[(Kind::Hostname, "gpu-node-18.dc3.acme.example")],
        ),
        (
            "SEARCH=dc3.acme.example",
            &[(Kind::Hostname, "dc3.acme.example")],
        ),
        (
            "NO_PROXY=.ACME.example",
            &[(Kind::Hostname, "ACME.example")],
        ),
        ("GPU-NODE-17 booted", &[(Kind::Hostname, "GPU-NODE-17")]),
        (
            "srv _ldap._tcp.Acme.Example",
            &[(Kind::Hostname, "_ldap._tcp.Acme.Example")],
        ),
        // A public name under a known domain stays.
        ("eks.amazonaws.com/nodegroup", &[]),
        ("notacme.example xacme.example", &[]),
    ];
    for (text, want) in table {
        assert_eq!(&found(text, &known), want, "{text}");
    }
}

#[test]
fn parent_domains_stop_at_two_labels_and_skip_public_ones() {
    let parents: Vec<&str> = parent_domains("gpu-node-17.dc3.acme.example").collect();
    assert_eq!(parents, ["dc3.acme.example", "acme.example"]);
    assert_eq!(parent_domains("node.example").count(), 0);
    assert_eq!(parent_domains("node").count(), 0);
    let parents: Vec<&str> = parent_domains("a.b.nvidia.com").collect();
    assert_eq!(parents, Vec::<&str>::new());
}

#[test]
fn common_secret_forms_are_found() {
    let table: &[(&str, &[(Kind, &str)])] = &[
        ("PASSWORD = hunter2x", &[(Kind::Secret, "hunter2x")]),
        ("db_password : s3cr3t", &[(Kind::Secret, "s3cr3t")]),
        ("auth=dXNlcjpwYXNz", &[(Kind::Secret, "dXNlcjpwYXNz")]),
        (
            "root=/dev/md0 rd.luks.key=/keys/root.bin quiet",
            &[(Kind::Secret, "/keys/root.bin")],
        ),
        (
            "curl -H 'Bearer eyJhbGciOi.J9x' https://x",
            &[(Kind::Secret, "eyJhbGciOi.J9x")],
        ),
        (
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            &[(Kind::Secret, "dXNlcjpwYXNzd29yZA==")],
        ),
        ("-H basic dXNlcjpwYXNz", &[(Kind::Secret, "dXNlcjpwYXNz")]),
        // Words after the schemes' names are left alone.
        ("Basic configuration and bearer tokens", &[]),
        ("author=John monkey=banana", &[]),
    ];
    for (text, want) in table {
        assert_eq!(&found(text, &none()), want, "{text}");
    }
}

#[test]
fn a_registry_on_a_port_needs_no_dot() {
    let hosts = |text: &str| {
        let mut out = Vec::new();
        network_hosts(text, &mut out);
        out
    };
    assert_eq!(hosts("image: MyRegistry:5000/team/app:1.2"), ["myregistry"]);
    assert_eq!(hosts("http://buildhost:8080/x"), ["buildhost"]);
    assert_eq!(hosts("localhost:5000/app"), Vec::<String>::new());
    assert_eq!(hosts("linux/arm64 myregistry/app"), Vec::<String>::new());
    // A registry named like a word does not take that word out of public names.
    let known = KnownNames::new(["registry".to_owned()]);
    assert_eq!(
        found("registry:5000/app and registry.k8s.io/pause:3.9", &known),
        [(Kind::Hostname, "registry")]
    );
}

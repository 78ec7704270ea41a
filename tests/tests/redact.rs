//! End-to-end: `eidos redact` and `eidos snapshot --redact`, the real binary with the real
//! collectors' declared sensitive keys, over a corpus: this machine's os snapshot, the k8s fake's
//! cluster, the fake NVML's GPUs, and the in-repo snapshot in the Go tool's format. Each document
//! is seeded with known secrets in every field kind (values, keys, subtype names, metadata); after
//! redaction none of them, nor the documents' own identities, appears anywhere in the raw output
//! bytes, pseudonyms are the same everywhere (across documents too, with one key), and `--reverse`
//! gives the input back exactly.

use eidos_e2e::{built_library, eidos, reference_snapshot, run, PluginDir};
use eidos_k8s_fake::{reference_like_cluster, FakeApiServer};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const PLUGINS: &[&str] = &[
    "collector_os",
    "collector_k8s",
    "collector_gpu",
    "collector_systemd",
    "serializer_json",
    "serializer_yaml",
];
const KEY: &str = "corpus-test-key-7f3a";

/// The seeded node: named in the metadata, in free text (short and full), in a warning.
const HOST: &str = "acme-gpu-07.dc1.acme-corp.example";
const SHORT: &str = "acme-gpu-07";
const UUID: &str = "3b9f6f1e-2c4d-4e8a-9b1c-5d6e7f8a9b0c";

/// Every seeded secret, one or more per field kind.
const SEEDED: &[&str] = &[
    HOST,
    SHORT,
    "acme-corp",
    UUID,
    "10.44.3.2",
    "192.168.77.14",
    "fd12:3456:789a::17",
    "2600:1f18:4a5b:6c00::2a",
    "0c:42:a1:9e:55:20",
    "ops.oncall",
    "registry.acme-corp",
    "s3cr3tT0k3nValue9",
    "Hunter2Password7",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Zk9xQ2Lm7TpR4vW8yB1nC6dF3gH5jK0sA9eU2iO7",
    "rack-r12-paris",
];

/// Adds the seeded secrets to `doc`: a subtype whose name holds a UUID, readings of every kind
/// (one under a key holding an address), a warning, and an unknown metadata key.
fn seed(doc: &mut Value) {
    doc["metadata"]["source-node"] = json!(HOST);
    doc["metadata"]["site"] = json!({ "contact": "ops.oncall@acme-corp.example", "node": HOST });
    if let Some(collectors) = doc["metadata"]
        .get_mut("collectors")
        .and_then(Value::as_object_mut)
    {
        for report in collectors.values_mut() {
            // In the order eidos writes a report's fields, so that the input is as eidos writes it.
            let mut ordered = serde_json::Map::new();
            for field in [
                "status",
                "reason",
                "warnings",
                "duration-ms",
                "plugin-version",
            ] {
                let value = match field {
                    "warnings" => Some(json!(["cannot reach 10.44.3.2 from acme-gpu-07"])),
                    _ => report.get(field).cloned(),
                };
                if let Some(value) = value {
                    ordered.insert(field.to_owned(), value);
                }
            }
            *report = Value::Object(ordered);
        }
    }
    let subtype = json!({
        "subtype": format!("mnt-{UUID}.mount"),
        "data": {
            "peer.10.44.3.2": "up",
            "addr6": "fd12:3456:789a::17 via 2600:1f18:4a5b:6c00::2a",
            "link": "link/ether 0c:42:a1:9e:55:20 brd ff:ff:ff:ff:ff:ff",
            "contact": "page ops.oncall@acme-corp.example",
            "image": "registry.acme-corp.example:5000/ml/trainer:v3",
            "Environment": "[HTTPS_PROXY=http://192.168.77.14:3128 API_TOKEN=s3cr3tT0k3nValue9]",
            "cmdline": format!("root=UUID={UUID} password=Hunter2Password7 quiet"),
            "machine-id": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "authorized-key": "ssh-ed25519 Zk9xQ2Lm7TpR4vW8yB1nC6dF3gH5jK0sA9eU2iO7 ops",
            "seen-on": format!("scheduled on {SHORT} ({HOST})"),
            "rack": "rack-r12-paris",
            "plain": "stays as it is",
        }
    });
    doc["measurements"][0]["subtypes"]
        .as_array_mut()
        .expect("a measurement with subtypes")
        .push(subtype);
}

struct Corpus {
    _work: tempfile::TempDir,
    dir: PluginDir,
    /// (name, seeded input file, originals that must vanish besides the seeded ones)
    docs: Vec<(&'static str, PathBuf, Vec<String>)>,
}

fn text_at<'a>(doc: &'a Value, kind: &str, subtype: &str, key: &str) -> Option<&'a str> {
    doc["measurements"]
        .as_array()?
        .iter()
        .filter(|m| {
            m["type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(kind))
        })
        .flat_map(|m| m["subtypes"].as_array().into_iter().flatten())
        .find(|s| s["subtype"] == subtype)?["data"][key]
        .as_str()
}

fn write_json(path: &Path, doc: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(doc).unwrap()).unwrap();
}

fn corpus() -> Corpus {
    let work = tempfile::tempdir().unwrap();
    let dir = PluginDir::with(PLUGINS);
    let mut docs = Vec::new();

    // 1. This machine's os collector.
    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "os", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut os = out.json();
    let mut natural = Vec::new();
    for key in [
        "/proc/sys/kernel/random/boot_id",
        "/proc/sys/kernel/random/uuid",
    ] {
        if let Some(v) = text_at(&os, "os", "sysctl", key) {
            natural.push(v.to_owned());
        }
    }
    seed(&mut os);
    let path = work.path().join("os.json");
    write_json(&path, &os);
    docs.push(("os", path, natural));

    // 2. The k8s fake's cluster.
    let server = FakeApiServer::start(reference_like_cluster()).unwrap();
    let kubeconfig = server.write_kubeconfig(work.path()).unwrap();
    let node = "ip-10-0-1-17.ec2.internal";
    let out = run(eidos(&[dir.path()])
        .env("HOME", work.path())
        .env("NODE_NAME", node)
        .args(["snapshot", "--collectors", "k8s", "-f", "json", "--set"])
        .arg(format!("k8s.kubeconfig={}", kubeconfig.display())));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut k8s = out.json();
    assert_eq!(text_at(&k8s, "k8s", "node", "name"), Some(node));
    seed(&mut k8s);
    let path = work.path().join("k8s.json");
    write_json(&path, &k8s);
    docs.push((
        "k8s",
        path,
        vec![node.to_owned(), "ip-10-0-1-17".to_owned()],
    ));

    // 3. The fake NVML's GPUs, serial numbers included.
    let out = run(eidos(&[dir.path()])
        .env("FAKE_NVML_GPU_COUNT", "2")
        .args(["snapshot", "--collectors", "gpu", "-f", "json", "--set"])
        .arg(format!(
            "gpu.nvml={}",
            built_library("fixture_fake_nvml").display()
        ))
        .args(["--set", "gpu.serials=true"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut gpu = out.json();
    let mut natural = Vec::new();
    for sub in ["gpu-0", "gpu-1"] {
        for key in ["uuid", "serial"] {
            let v =
                text_at(&gpu, "gpu", sub, key).unwrap_or_else(|| panic!("{sub}/{key}: {gpu:#}"));
            natural.push(v.to_owned());
        }
    }
    seed(&mut gpu);
    let path = work.path().join("gpu.json");
    write_json(&path, &gpu);
    docs.push(("gpu", path, natural));

    // 4. The Go tool's snapshot.
    let text = std::fs::read_to_string(reference_snapshot()).unwrap();
    let mut go: Value =
        serde_json::to_value(serde_yaml::from_str::<serde_yaml::Value>(&text).unwrap()).unwrap();
    seed(&mut go);
    let path = work.path().join("go.json");
    write_json(&path, &go);
    docs.push((
        "go",
        path,
        vec![
            "ip-10-0-71-203".into(),
            "5c1e0a43-8d2f-4b6e-9f31-27a0c8e4d915".into(),
        ],
    ));
    drop(server);
    Corpus {
        _work: work,
        dir,
        docs,
    }
}

fn map_entries(path: &Path) -> Vec<Value> {
    let map: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(map["kind"], "RedactionMap");
    map["entries"].as_array().unwrap().clone()
}

fn pseudonym_of(entries: &[Value], original: &str) -> String {
    entries
        .iter()
        .find(|e| e["original"] == original)
        .unwrap_or_else(|| panic!("{original} is not in the map"))["pseudonym"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Order-sensitive text of a JSON document (IndexMap equality ignores order).
fn canonical(doc: &Value) -> String {
    serde_json::to_string(doc).unwrap()
}

#[test]
fn no_original_survives_in_the_raw_output_pseudonyms_agree_and_reverse_restores_the_input() {
    let corpus = corpus();
    let out_dir = tempfile::tempdir().unwrap();
    let mut host_pseudonyms = Vec::new();
    for (name, input, natural) in &corpus.docs {
        let redacted = out_dir.path().join(format!("{name}.redacted.json"));
        let map = out_dir.path().join(format!("{name}.map.json"));
        let out = run(eidos(&[corpus.dir.path()])
            .env("EIDOS_REDACT_KEY", KEY)
            .arg("redact")
            .arg(input)
            .args(["--redact-also", "*/mnt-*/rack", "-f", "json", "-o"])
            .arg(&redacted)
            .arg("--redact-map")
            .arg(&map));
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
        assert_eq!(
            out.stdout, "",
            "{name}: the map or the document reached stdout"
        );
        let mode = std::fs::metadata(&map).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name}: the map's mode");

        // The raw bytes, not the parsed structure.
        let raw = String::from_utf8(std::fs::read(&redacted).unwrap()).unwrap();
        for secret in SEEDED
            .iter()
            .copied()
            .chain(natural.iter().map(String::as_str))
        {
            assert!(
                !raw.contains(secret),
                "{name}: {secret:?} survived redaction:\n{raw}"
            );
        }
        assert!(!raw.contains(KEY), "{name}: the key is in the output");
        let doc: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(doc["metadata"]["redaction"]["redacted"], true);
        assert_eq!(doc["metadata"]["redaction"]["key"], "given");
        let sensitive = doc["metadata"]["redaction"]["sensitive-keys"].to_string();
        // The sensitive keys declared by the collectors the document names (the Go tool's has
        // all four types).
        let declared: &[&str] = match *name {
            "os" => &["os/sysctl//proc/sys/kernel/hostname"],
            "k8s" => &["k8s/node/name"],
            "gpu" => &["gpu/*/serial"],
            _ => &[
                "os/grub/ip",
                "k8s/node/name",
                "gpu/*/uuid",
                "systemd/*/InvocationID",
            ],
        };
        for pattern in declared {
            assert!(
                sensitive.contains(pattern),
                "{name}: {pattern} not used: {sensitive}"
            );
        }

        // One pseudonym per original, wherever it appears.
        let entries = map_entries(&map);
        let host = pseudonym_of(&entries, HOST);
        let short = pseudonym_of(&entries, SHORT);
        assert_eq!(doc["metadata"]["source-node"], host.as_str());
        assert_eq!(doc["metadata"]["site"]["node"], host.as_str());
        assert!(host.starts_with(&format!("{short}.")), "{host} / {short}");
        assert_eq!(host.matches('.').count(), HOST.matches('.').count());
        let sub = doc["measurements"][0]["subtypes"]
            .as_array()
            .unwrap()
            .last()
            .unwrap();
        let uuid = pseudonym_of(&entries, UUID);
        assert_eq!(sub["subtype"], format!("mnt-{uuid}.mount"));
        assert_eq!(
            sub["data"]["seen-on"],
            format!("scheduled on {short} ({host})")
        );
        assert_eq!(
            sub["data"]["cmdline"]
                .as_str()
                .unwrap()
                .split(' ')
                .next()
                .unwrap(),
            format!("root=UUID={uuid}")
        );
        assert_eq!(sub["data"]["plain"], "stays as it is");
        let ip = pseudonym_of(&entries, "10.44.3.2");
        assert!(
            ip.starts_with("10.") && sub["data"].get(format!("peer.{ip}")).is_some(),
            "{sub:#}"
        );
        host_pseudonyms.push(host);

        // --reverse gives the input back exactly.
        let out = run(eidos(&[corpus.dir.path()])
            .args(["redact", "--reverse", "-f", "json", "--redact-map"])
            .arg(&map)
            .arg(&redacted));
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
        let original: Value = serde_json::from_slice(&std::fs::read(input).unwrap()).unwrap();
        assert_eq!(
            canonical(&out.json()),
            canonical(&original),
            "{name}: reverse differs"
        );
    }
    // The same key gives the same pseudonym in every document.
    host_pseudonyms.dedup();
    assert_eq!(host_pseudonyms.len(), 1, "{host_pseudonyms:?}");
}

#[test]
fn snapshot_redact_is_the_same_as_redacting_the_snapshot_and_reverses_to_the_same_bytes() {
    let dir = PluginDir::with(&["collector_os", "serializer_yaml", "serializer_json"]);
    let work = tempfile::tempdir().unwrap();
    let plain = work.path().join("plain.yaml");
    let out = run(eidos(&[dir.path()])
        .env("NODE_NAME", HOST)
        .args(["snapshot", "--collectors", "os", "-o"])
        .arg(&plain));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let redacted = work.path().join("redacted.yaml");
    let map = work.path().join("map.json");
    let out = run(eidos(&[dir.path()])
        .args(["redact", "--redact-key", KEY])
        .arg(&plain)
        .arg("-o")
        .arg(&redacted)
        .arg("--redact-map")
        .arg(&map));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = std::fs::read_to_string(&redacted).unwrap();
    assert!(!text.contains(SHORT), "{text}");
    // The same input and key give the same bytes.
    let again = run(eidos(&[dir.path()])
        .args(["redact", "--redact-key", KEY, "-f", "yaml"])
        .arg(&plain));
    assert_eq!(again.stdout, text);
    // Reversal of a file eidos wrote gives back its bytes.
    let back = work.path().join("back.yaml");
    let out = run(eidos(&[dir.path()])
        .args(["redact", "--reverse", "--redact-map"])
        .arg(&map)
        .arg(&redacted)
        .arg("-o")
        .arg(&back));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&plain).unwrap()
    );

    // `snapshot --redact` with the same key names the node as `redact` did.
    let out = run(eidos(&[dir.path()]).env("NODE_NAME", HOST).args([
        "snapshot",
        "--collectors",
        "os",
        "-f",
        "json",
        "--redact",
        "--redact-key",
        KEY,
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let live = out.json();
    let redacted: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(
        live["metadata"]["source-node"].as_str(),
        redacted["metadata"]["source-node"].as_str()
    );
    assert!(!out.stdout.contains(HOST));
    // Without a key, two runs cannot be linked.
    let a = run(eidos(&[dir.path()]).env("NODE_NAME", HOST).args([
        "snapshot",
        "--collectors",
        "os",
        "-f",
        "json",
        "--redact",
    ]));
    let b = run(eidos(&[dir.path()]).env("NODE_NAME", HOST).args([
        "snapshot",
        "--collectors",
        "os",
        "-f",
        "json",
        "--redact",
    ]));
    assert_ne!(
        a.json()["metadata"]["source-node"],
        b.json()["metadata"]["source-node"]
    );
    assert_eq!(a.json()["metadata"]["redaction"]["key"], "random");
}

#[test]
fn bad_redaction_requests_are_usage_errors_and_write_nothing() {
    let dir = PluginDir::with(&["collector_os", "serializer_yaml", "serializer_json"]);
    let work = tempfile::tempdir().unwrap();
    let input = reference_snapshot();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--redact-map".into(), "-".into()],
            "cannot be standard output",
        ),
        (
            vec!["--redact-map".into(), "/dev/null".into()],
            "not a regular file",
        ),
        (
            vec!["--redact-keep".into(), "hostname".into()],
            "--redact-keep: invalid key path",
        ),
        (
            vec!["--redact-key".into(), " ".into()],
            "the redaction key is empty",
        ),
        (vec!["--reverse".into()], "--redact-map"),
        (
            vec![
                "--reverse".into(),
                "--redact-map".into(),
                input.display().to_string(),
            ],
            "not a redaction map",
        ),
    ];
    for (args, message) in cases {
        let out_file = work.path().join("out.yaml");
        let out = run(eidos(&[dir.path()])
            .arg("redact")
            .arg(&input)
            .args(&args)
            .arg("-o")
            .arg(&out_file));
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert!(!out_file.exists(), "{args:?}: output written");
    }
    // A plain snapshot is not a redacted one.
    let map = work.path().join("m.json");
    let out = run(eidos(&[dir.path()])
        .args(["redact", "--redact-key", "k", "-o"])
        .arg(work.path().join("r.yaml"))
        .arg("--redact-map")
        .arg(&map)
        .arg(&input));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = run(eidos(&[dir.path()])
        .args(["redact", "--reverse", "--redact-map"])
        .arg(&map)
        .arg(&input));
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("not redacted by eidos"),
        "{}",
        out.stderr
    );
    // Flags that need --redact.
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "os",
        "--redact-map",
        "m.json",
    ]));
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("need --redact"), "{}", out.stderr);
}

/// A redacted pair still diffs as the original pair does: the same readings change, a value that
/// is not sensitive keeps its old and new values, a sensitive one changes between two pseudonyms
/// (neither the original), and two redactions of one snapshot with one key do not drift at all.
#[test]
fn a_redacted_pair_diffs_like_the_original_pair() {
    let dir = PluginDir::with(PLUGINS);
    let tmp = tempfile::tempdir().unwrap();
    let old: Value =
        serde_yaml::from_str(&std::fs::read_to_string(reference_snapshot()).unwrap()).unwrap();
    let mut new = old.clone();
    for m in new["measurements"].as_array_mut().unwrap() {
        for s in m["subtypes"].as_array_mut().unwrap() {
            if s["subtype"] == "sysctl" {
                s["data"]["/proc/sys/vm/swappiness"] = json!("1");
                s["data"]["/proc/sys/kernel/hostname"] = json!("ip-10-0-99-17.ec2.internal");
            }
        }
    }
    let (old_path, new_path) = (tmp.path().join("old.json"), tmp.path().join("new.json"));
    write_json(&old_path, &old);
    write_json(&new_path, &new);
    let redact = |input: &Path, output: &Path| {
        let out = run(eidos(&[dir.path()]).args([
            "redact",
            input.to_str().unwrap(),
            "--redact-key",
            KEY,
            "--format",
            "json",
            "--output",
            output.to_str().unwrap(),
        ]));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    };
    let (old_red, new_red) = (
        tmp.path().join("old.red.json"),
        tmp.path().join("new.red.json"),
    );
    redact(&old_path, &old_red);
    redact(&new_path, &new_red);
    let diff = |a: &Path, b: &Path| {
        let out = run(eidos(&[dir.path()]).args([
            "diff",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--format",
            "json",
        ]));
        (
            out.code,
            serde_json::from_str::<Value>(&out.stdout).unwrap_or(Value::Null),
            out.stderr,
        )
    };
    let changed = |report: &Value| -> Vec<(String, Value, Value)> {
        let mut all = Vec::new();
        for change in report["changes"].as_array().unwrap() {
            for (key, values) in change["changed"].as_object().unwrap() {
                all.push((key.clone(), values["old"].clone(), values["new"].clone()));
            }
            assert!(
                change["added"].as_object().is_none_or(|m| m.is_empty()),
                "{change}"
            );
            assert!(
                change["removed"].as_object().is_none_or(|m| m.is_empty()),
                "{change}"
            );
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    };

    let (code, plain, stderr) = diff(&old_path, &new_path);
    assert_eq!(code, Some(3), "{stderr}");
    let (code, redacted, stderr) = diff(&old_red, &new_red);
    assert_eq!(code, Some(3), "{stderr}");
    let (plain, redacted) = (changed(&plain), changed(&redacted));
    let keys = |c: &[(String, Value, Value)]| c.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys(&plain),
        ["/proc/sys/kernel/hostname", "/proc/sys/vm/swappiness"]
    );
    assert_eq!(keys(&redacted), keys(&plain));
    assert_eq!(redacted[1], plain[1], "swappiness is not sensitive");
    let (_, old_host, new_host) = &redacted[0];
    assert_ne!(old_host, new_host);
    for host in [old_host, new_host] {
        let host = host.as_str().unwrap();
        assert!(!host.contains("ip-10-0-"), "{host} is not redacted");
    }

    let again = tmp.path().join("old.red-again.json");
    redact(&old_path, &again);
    let (code, _, stderr) = diff(&old_red, &again);
    assert_eq!(code, Some(0), "one key, one redaction: {stderr}");
}

/// Runs `cmd` with standard input read from `file`.
fn run_with_stdin(cmd: &mut std::process::Command, file: &Path) -> eidos_e2e::Run {
    let stdin = std::fs::File::open(file).unwrap();
    let out = cmd
        .stdin(stdin)
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    eidos_e2e::Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: std::time::Duration::ZERO,
    }
}

/// `eidos redact -` reads standard input and writes what `eidos redact FILE` writes.
#[test]
fn redact_reads_standard_input() {
    let dir = PluginDir::with(&["collector_os", "serializer_yaml", "serializer_json"]);
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("in.json");
    let mut doc: Value =
        serde_yaml::from_str(&std::fs::read_to_string(reference_snapshot()).unwrap()).unwrap();
    seed(&mut doc);
    write_json(&input, &doc);
    let from_file = run(eidos(&[dir.path()])
        .args(["redact", "--redact-key", KEY, "-f", "json"])
        .arg(&input));
    assert_eq!(from_file.code, Some(0), "{}", from_file.stderr);
    let map = work.path().join("map.json");
    let from_stdin = run_with_stdin(
        eidos(&[dir.path()])
            .args([
                "redact",
                "--redact-key",
                KEY,
                "-f",
                "json",
                "-",
                "--redact-map",
            ])
            .arg(&map),
        &input,
    );
    assert_eq!(from_stdin.code, Some(0), "{}", from_stdin.stderr);
    assert_eq!(from_stdin.stdout, from_file.stdout);
    for secret in [HOST, SHORT, "acme-corp", "10.44.3.2"] {
        assert!(!from_stdin.stdout.contains(secret), "{secret} survived");
    }
    // And back, from standard input too.
    let redacted = work.path().join("redacted.json");
    std::fs::write(&redacted, &from_stdin.stdout).unwrap();
    let back = run_with_stdin(
        eidos(&[dir.path()])
            .args(["redact", "--reverse", "-f", "json", "-", "--redact-map"])
            .arg(&map),
        &redacted,
    );
    assert_eq!(back.code, Some(0), "{}", back.stderr);
    assert_eq!(canonical(&back.json()), canonical(&doc));
}

/// `--redact-keep` leaves the readings it names exactly as they are; the others are still redacted.
#[test]
fn redact_keep_keeps_what_it_names_and_nothing_else() {
    let dir = PluginDir::with(&["collector_os", "serializer_yaml", "serializer_json"]);
    let input = reference_snapshot();
    let original: Value = serde_yaml::from_str(&std::fs::read_to_string(&input).unwrap()).unwrap();
    let root = text_at(&original, "OS", "grub", "root")
        .expect("the Go fixture has os/grub/root")
        .to_owned();
    assert!(root.starts_with("PARTUUID="), "{root}");
    let plain = run(eidos(&[dir.path()])
        .args(["redact", "--redact-key", KEY, "-f", "json"])
        .arg(&input));
    assert_eq!(plain.code, Some(0), "{}", plain.stderr);
    assert!(
        !plain.stdout.contains(&root[9..]),
        "redacted without --redact-keep"
    );
    let kept = run(eidos(&[dir.path()])
        .args(["redact", "--redact-key", KEY, "-f", "json"])
        .args(["--redact-keep", "os/grub/root"])
        .arg(&input));
    assert_eq!(kept.code, Some(0), "{}", kept.stderr);
    let doc = kept.json();
    assert_eq!(text_at(&doc, "OS", "grub", "root"), Some(root.as_str()));
    assert!(
        !kept.stdout.contains("ip-10-0-71-203"),
        "the rest is still redacted"
    );
    assert!(
        kept.stdout.contains("os/grub/root"),
        "the record names the pattern"
    );
}

/// The map is 0600 under `snapshot --redact --redact-map` too, even over a readable old file.
#[test]
fn snapshot_redact_writes_a_private_map() {
    let dir = PluginDir::with(&["collector_os", "serializer_yaml", "serializer_json"]);
    let work = tempfile::tempdir().unwrap();
    let map = work.path().join("map.json");
    std::fs::write(&map, "old").unwrap();
    std::fs::set_permissions(&map, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(eidos(&[dir.path()])
        .env("NODE_NAME", HOST)
        .args(["snapshot", "--collectors", "os", "-f", "json", "--redact"])
        .arg("--redact-map")
        .arg(&map));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mode = std::fs::metadata(&map).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let entries = map_entries(&map);
    assert!(entries.iter().any(|e| e["original"] == HOST), "{entries:?}");
    assert!(!out.stdout.contains(HOST));
}

/// A map that would overwrite the input or the output is refused before anything is written,
/// however the path is spelt (a `./` spelling, a hard link, standard input from the file).
#[test]
fn a_map_over_the_input_or_the_output_is_refused_and_nothing_is_written() {
    let dir = PluginDir::with(&["collector_os", "serializer_yaml", "serializer_json"]);
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("s.json");
    let doc: Value =
        serde_yaml::from_str(&std::fs::read_to_string(reference_snapshot()).unwrap()).unwrap();
    write_json(&input, &doc);
    let before = std::fs::read(&input).unwrap();
    let link = work.path().join("link.json");
    std::fs::hard_link(&input, &link).unwrap();
    let out_file = work.path().join("out.yaml");
    let dotted_out = work.path().join(".").join("out.yaml");
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(work.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let files = listing();
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec![
                input.as_os_str(),
                "--redact-map".as_ref(),
                input.as_os_str(),
            ],
            "is the snapshot being redacted",
        ),
        (
            vec![input.as_os_str(), "--redact-map".as_ref(), link.as_os_str()],
            "is the snapshot being redacted",
        ),
        (
            vec![
                input.as_os_str(),
                "-o".as_ref(),
                out_file.as_os_str(),
                "--redact-map".as_ref(),
                dotted_out.as_os_str(),
            ],
            "name the same file",
        ),
    ];
    for (args, message) in cases {
        let out = run(eidos(&[dir.path()])
            .args(["redact", "--redact-key", KEY])
            .args(&args));
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
        assert_eq!(out.stdout, "", "{args:?}");
        assert_eq!(std::fs::read(&input).unwrap(), before, "{args:?}");
        assert_eq!(listing(), files, "{args:?}");
    }
    // Standard input that is the map's file.
    let out = run_with_stdin(
        eidos(&[dir.path()])
            .args(["redact", "--redact-key", KEY, "-", "--redact-map"])
            .arg(&link),
        &input,
    );
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("is the snapshot being redacted"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);
    // `snapshot --redact` with the map on the output.
    let out = run(eidos(&[dir.path()])
        .args(["snapshot", "--collectors", "os", "--redact", "-o"])
        .arg(&out_file)
        .arg("--redact-map")
        .arg(&dotted_out));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("name the same file"), "{}", out.stderr);
    assert_eq!(listing(), files);
    // Reversal may not write the restored document over the map it reads.
    let map = work.path().join("map.json");
    let redacted = work.path().join("r.json");
    let out = run(eidos(&[dir.path()])
        .args(["redact", "-f", "json", "-o"])
        .arg(&redacted)
        .arg("--redact-map")
        .arg(&map)
        .arg(&input));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let saved = std::fs::read(&map).unwrap();
    let out = run(eidos(&[dir.path()])
        .args(["redact", "--reverse", "-f", "json", "--redact-map"])
        .arg(&map)
        .arg(&redacted)
        .arg("-o")
        .arg(&map));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(std::fs::read(&map).unwrap(), saved);
}

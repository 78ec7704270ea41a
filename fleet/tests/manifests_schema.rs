//! Every manifest `eidos agent manifests` can print, validated offline against the Kubernetes
//! 1.33 OpenAPI schemas by `kubernetes-validate` (PyPI; scripts/test.sh installs it; its schemas
//! ship inside the package, so no network is used). Strict: an unknown field fails.

use eidos_fleet::manifests::{render, Mode, Options};
use std::io::Write;
use std::process::{Command, Stdio};

/// The Kubernetes version the manifests are checked against.
const KUBERNETES: &str = "1.33.0";

/// Whether `kubernetes-validate` runs; under `CI=true` a missing one is a failure, not a skip.
fn validator_available() -> bool {
    let found = Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "kubernetes-validate is not installed but CI=true: pip install kubernetes-validate"
        );
        eprintln!(
            "SKIPPED: kubernetes-validate is not installed (pip install kubernetes-validate); \
             this check did not run"
        );
    }
    found
}

/// Runs the validator on `yaml`; `Ok` with its output when every document passed.
fn validate(yaml: &str) -> Result<String, String> {
    let mut child = Command::new("kubernetes-validate")
        .args(["--strict", "--no-warn", "-k", KUBERNETES, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn every_manifest_validates_against_the_kubernetes_schemas() {
    if !validator_available() {
        return;
    }
    let defaults = Options::defaults("1.2.3");
    let cases = [
        ("daemonset", defaults.clone()),
        (
            "job",
            Options {
                mode: Mode::Job,
                ..defaults.clone()
            },
        ),
        (
            "job on one node, own namespace and image",
            Options {
                mode: Mode::Job,
                node: Some("ip-10-0-1-17.ec2.internal".into()),
                namespace: "gpu-audit".into(),
                image: "registry.example/eidos@sha256:0123".into(),
                ..defaults.clone()
            },
        ),
        (
            "committed deploy/daemonset.yaml",
            Options::defaults(env!("CARGO_PKG_VERSION")),
        ),
    ];
    for (what, options) in cases {
        let yaml = render(&options).unwrap();
        let report = validate(&yaml).unwrap_or_else(|e| panic!("{what}: {e}"));
        // One line per object: the validator saw all seven.
        assert_eq!(report.matches(" passed ").count(), 7, "{what}: {report}");
    }
    for file in ["daemonset.yaml", "job.yaml"] {
        let path = format!("{}/../deploy/{file}", env!("CARGO_MANIFEST_DIR"));
        let yaml = std::fs::read_to_string(&path).unwrap();
        validate(&yaml).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
}

#[test]
fn the_validator_does_reject_a_broken_manifest() {
    if !validator_available() {
        return;
    }
    // The check above is worth something only if this fails: a field the schema does not have.
    let yaml = render(&Options::defaults("1.2.3")).unwrap().replace(
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: true\n          readOnlyRootFS: true",
    );
    let err = validate(&yaml).unwrap_err();
    assert!(err.contains("readOnlyRootFS"), "{err}");
}

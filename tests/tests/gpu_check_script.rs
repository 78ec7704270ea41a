//! Tests of `scripts/gpu-check.sh` itself, run against a staged folder of the built binary and
//! plugins, with the fake NVML (`tests/fixtures/fake-nvml`) standing in for the driver and a fake
//! `nvidia-smi` (`tests/fixtures/fake-nvidia-smi`) that agrees with it. They prove the script's
//! comparison, its mismatch detection, its python-less reader and its no-GPU exit; whether eidos
//! agrees with the real nvidia-smi is what the script checks on a GPU machine.

use eidos_e2e::{build_dir, built_library, hermetic, run, workspace_root, Run};
use std::path::Path;

/// A stage folder as scripts/stage-gpu-check.sh makes it, with links to the built files.
fn stage() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "eidos",
        "libeidos_collector_gpu.so",
        "libeidos_serializer_json.so",
        "libeidos_serializer_yaml.so",
    ] {
        let built = build_dir().join(file);
        assert!(
            built.is_file(),
            "{} missing: build the workspace first",
            built.display()
        );
        std::os::unix::fs::symlink(&built, dir.path().join(file)).unwrap();
    }
    std::fs::copy(
        workspace_root().join("scripts/gpu-check.sh"),
        dir.path().join("gpu-check.sh"),
    )
    .unwrap();
    dir
}

fn gpu_check(stage: &Path, env: &[(&str, &str)]) -> Run {
    let fake_smi = workspace_root().join("tests/fixtures/fake-nvidia-smi");
    let path = format!(
        "{}:{}",
        fake_smi.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The script runs eidos: it gets the hermetic environment eidos gets in every e2e test.
    let mut cmd = hermetic("bash");
    cmd.arg(stage.join("gpu-check.sh"))
        .arg(stage)
        .env("PATH", path)
        .env("GPU_CHECK_RUNS", "2")
        .env("GPU_CHECK_NVML", built_library("fixture_fake_nvml"))
        .env("FAKE_NVML_GPU_COUNT", "2")
        .env_remove("GPU_CHECK_NO_PYTHON")
        .env_remove("FAKE_SMI_MISMATCH")
        .env_remove("FAKE_SMI_NO_DRIVER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

#[test]
fn agreeing_fields_pass_and_both_timings_are_printed() {
    let dir = stage();
    let out = gpu_check(dir.path(), &[]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    for line in [
        "ok    driver                           580.159.04",
        "ok    cuda-version                     13.0",
        "ok    gpu-count (nvidia-smi -q -x)     2",
        "ok    gpu-1 uuid                       GPU-00000000-fake-4000-8000-000000000001",
        "ok    gpu-1 persistence-mode           Enabled",
        "ok    gpu-0 mig-mode.current           Disabled",
        "eidos snapshot --collectors gpu --format json   median ",
        "nvidia-smi -q -x                                 median ",
        "ratio eidos / nvidia-smi",
        "eidos without NVML (gpu not applicable)          median ",
        "gpu-check: PASSED",
    ] {
        assert!(
            out.stdout.contains(line),
            "missing {line:?} in\n{}",
            out.stdout
        );
    }
    assert!(!out.stdout.contains("FAIL "), "{}", out.stdout);
}

#[test]
fn a_field_that_differs_from_nvidia_smi_fails_the_check() {
    let dir = stage();
    let out = gpu_check(dir.path(), &[("FAKE_SMI_MISMATCH", "1")]);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "FAIL  gpu-1 persistence-mode           nvidia-smi: Disabled   eidos: Enabled"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("FAILED: 1 field(s) differ"),
        "{}",
        out.stdout
    );
}

#[test]
fn without_python_the_yaml_reader_gives_the_same_verdict() {
    let dir = stage();
    let out = gpu_check(dir.path(), &[("GPU_CHECK_NO_PYTHON", "1")]);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("reader: awk (yaml)"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "ok    gpu-0 uuid                       GPU-00000000-fake-4000-8000-000000000000"
        ),
        "{}",
        out.stdout
    );
    let out = gpu_check(
        dir.path(),
        &[("GPU_CHECK_NO_PYTHON", "1"), ("FAKE_SMI_MISMATCH", "1")],
    );
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn no_gpu_is_reported_as_not_run_never_as_passed() {
    let dir = stage();
    let missing = dir.path().join("no-such-dir/libnvidia-ml.so.1");
    let out = gpu_check(
        dir.path(),
        &[
            ("FAKE_SMI_NO_DRIVER", "1"),
            ("GPU_CHECK_NVML", missing.to_str().unwrap()),
        ],
    );
    assert_eq!(out.code, Some(2), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("eidos reports gpu not-applicable"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("NOT RUN"), "{}", out.stdout);
    assert!(!out.stdout.contains("PASSED"), "{}", out.stdout);

    // nvidia-smi cannot see a GPU but eidos collects one: that is a failure, not "not run".
    let out = gpu_check(dir.path(), &[("FAKE_SMI_NO_DRIVER", "1")]);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
}

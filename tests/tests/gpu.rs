//! End-to-end tests of the gpu collector through the built `eidos` binary: on this machine (no
//! NVIDIA driver) it is "not applicable" with NVML's reason and the snapshot succeeds; pointed at
//! a library that is not NVML it says so; pointed at the fake NVML fixture (`tests/fixtures/
//! fake-nvml`, the NVML C API answering with values recorded on an H200) it writes the GPU
//! measurement. The real NVML on a GPU is checked by `scripts/gpu-check.sh`.

use eidos_e2e::{built_library, eidos, run, PluginDir};
use serde_json::Value;
use std::path::Path;

const PLUGINS: &[&str] = &["collector_gpu", "serializer_json", "serializer_yaml"];

fn gpu_report(doc: &Value) -> &Value {
    &doc["metadata"]["collectors"]["gpu"]
}

fn subtype<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "gpu")
        .and_then(|m| {
            m["subtypes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["subtype"] == name)
        })
        .unwrap_or_else(|| panic!("no gpu subtype {name} in {doc:#}"))
}

/// The default library (`libnvidia-ml.so.1`). Where no NVIDIA driver is installed (this machine,
/// CI) the collector is not applicable with the loader's reason; on a node with a driver it
/// collects. Either way the snapshot exits 0.
#[test]
fn snapshot_without_an_nvidia_driver_records_gpu_as_not_applicable_with_nvmls_reason() {
    let dir = PluginDir::with(PLUGINS);
    let out = run(eidos(&[dir.path()]).args(["snapshot", "--collectors", "gpu", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["metadata"]["complete"], true);
    if Path::new("/dev/nvidiactl").exists() {
        assert_eq!(gpu_report(&doc)["status"], "ok", "{doc:#}");
        return;
    }
    assert_eq!(gpu_report(&doc)["status"], "not-applicable", "{doc:#}");
    let reason = gpu_report(&doc)["reason"].as_str().unwrap();
    assert!(
        reason.contains("libnvidia-ml.so.1") && reason.contains("could not be loaded"),
        "{reason}"
    );
    assert_eq!(doc["measurements"], serde_json::json!([]));
}

#[test]
fn a_library_that_is_not_nvml_is_not_applicable() {
    let dir = PluginDir::with(PLUGINS);
    let not_nvml = built_library("fixture_not_a_plugin");
    let out = run(eidos(&[dir.path()])
        .args(["snapshot", "--collectors", "gpu", "-f", "json", "--set"])
        .arg(format!("gpu.nvml={}", not_nvml.display())));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(gpu_report(&doc)["status"], "not-applicable");
    let reason = gpu_report(&doc)["reason"].as_str().unwrap();
    assert!(reason.contains("is not an NVML library"), "{reason}");
}

#[test]
fn the_fake_nvml_gives_a_gpu_measurement_with_go_compatible_summary_keys() {
    let dir = PluginDir::with(PLUGINS);
    let fake = built_library("fixture_fake_nvml");
    let out = run(eidos(&[dir.path()])
        .env("FAKE_NVML_GPU_COUNT", "3")
        .args(["snapshot", "--collectors", "gpu", "-f", "json", "--set"])
        .arg(format!("gpu.nvml={}", fake.display()))
        .args(["--set", "gpu.serials=true"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(gpu_report(&doc)["status"], "ok", "{doc:#}");
    let warnings = gpu_report(&doc)["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 3, "one failed field per GPU: {warnings:?}");

    let smi = &subtype(&doc, "smi")["data"];
    assert_eq!(smi["driver"], "580.159.04");
    assert_eq!(smi["cuda-version"], "13.0");
    assert_eq!(smi["gpu-count"], 3);
    assert_eq!(smi["gpu.model"], "NVIDIA H200");
    assert_eq!(smi["gpu.product-architecture"], "Hopper");
    assert_eq!(smi["gpu.persistence-mode"], "Enabled");
    let gpu2 = &subtype(&doc, "gpu-2")["data"];
    assert_eq!(gpu2["uuid"], "GPU-00000000-fake-4000-8000-000000000002");
    assert_eq!(gpu2["serial"], "1650000000002");
    assert_eq!(gpu2["mig-mode.current"], "Disabled");

    // YAML keeps the CUDA version a string, as the Go tool wrote it.
    let out = run(eidos(&[dir.path()])
        .args(["snapshot", "--collectors", "gpu", "-f", "yaml", "--set"])
        .arg(format!("gpu.nvml={}", fake.display())));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("cuda-version: '13.0'"),
        "{}",
        out.stdout
    );
}

/// Eight GPUs whose every NVML call takes 1 ms and whose GPU 5 has fallen off the bus (its memory
/// query fails), set through the fake's environment: the snapshot lists the GPUs in index order,
/// each with its own values, and only GPU 5 lacks its memory, with a warning that names it.
#[test]
fn eight_gpus_come_out_in_index_order_and_a_failing_gpu_warns_for_itself_only() {
    let dir = PluginDir::with(PLUGINS);
    let fake = built_library("fixture_fake_nvml");
    let out = run(eidos(&[dir.path()])
        .env("FAKE_NVML_GPU_COUNT", "8")
        .env("FAKE_NVML_LATENCY_US", "1000")
        .env("FAKE_NVML_FAIL_GPU", "5")
        .args(["snapshot", "--collectors", "gpu", "-f", "json", "--set"])
        .arg(format!("gpu.nvml={}", fake.display())));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(gpu_report(&doc)["status"], "ok", "{doc:#}");

    let gpu = doc["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "gpu")
        .unwrap();
    let names: Vec<_> = gpu["subtypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subtype"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["smi", "gpu-0", "gpu-1", "gpu-2", "gpu-3", "gpu-4", "gpu-5", "gpu-6", "gpu-7"]
    );
    for index in 0..8 {
        let data = &subtype(&doc, &format!("gpu-{index}"))["data"];
        assert_eq!(data["index"], index);
        assert_eq!(
            data["uuid"],
            format!("GPU-00000000-fake-4000-8000-00000000000{index}")
        );
        assert_eq!(
            data.get("memory-total-mib").is_some(),
            index != 5,
            "GPU {index}: {data}"
        );
    }
    let warnings: Vec<_> = gpu_report(&doc)["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .filter(|w| !w.contains("power-limit-default-watts"))
        .collect();
    assert_eq!(
        warnings,
        ["GPU 5: memory-total-mib left out: device fell off the bus or has otherwise become inacessible"]
    );
}

#[test]
fn a_bad_gpu_option_fails_the_snapshot_naming_the_option() {
    let dir = PluginDir::with(PLUGINS);
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "gpu",
        "--set",
        "gpu.serials=maybe",
    ]));
    assert_eq!(
        out.code,
        Some(2),
        "a bad option value is a usage error: {}",
        out.stderr
    );
    assert!(out.stderr.contains("serials"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

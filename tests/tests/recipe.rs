//! End-to-end tests of `eidos recipe`: the built binary with the built serializer plugins, the
//! recipe data built into it or a directory of recipe files, flags and the reference snapshot
//! from an H100 EKS node.

use eidos_e2e::{eidos, reference_snapshot, run, PluginDir, Run};
use serde_json::Value;
use std::path::Path;

fn plugins() -> PluginDir {
    PluginDir::with(&["serializer_json", "serializer_yaml"])
}

/// `eidos recipe ARGS` with the recipe command's own environment variables cleared.
fn recipe(dir: &PluginDir, args: &[&str]) -> Run {
    run(recipe_command(dir).args(args))
}

fn recipe_command(dir: &PluginDir) -> std::process::Command {
    let mut cmd = eidos(&[dir.path()]);
    cmd.env_remove("EIDOS_RECIPES")
        .env_remove("EIDOS_FORMAT")
        .arg("recipe");
    cmd
}

/// A recipe directory whose base sets swappiness to `value`.
fn recipe_dir(value: &str) -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("base.yaml"),
        format!("measurements:\n  - type: os\n    subtypes:\n      - subtype: sysctl\n        data: {{/proc/sys/vm/swappiness: \"{value}\"}}\n"),
    )
    .unwrap();
    data
}

fn swappiness(out: &Run) -> Value {
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    subtype(&out.json(), "os", "sysctl")["data"]["/proc/sys/vm/swappiness"].clone()
}

#[test]
fn recipe_data_and_format_come_from_flag_then_environment_then_config_file() {
    let dir = plugins();
    let (from_flag, from_env, from_file) = (recipe_dir("1"), recipe_dir("2"), recipe_dir("3"));
    let temp = tempfile::tempdir().unwrap();
    let config = temp.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "format = \"json\"\nrecipes = {:?}\n",
            from_file.path().to_str().unwrap()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let file_only = run(recipe_command(&dir).args(["--config", config]));
    assert_eq!(
        swappiness(&file_only),
        "3",
        "config file: recipes and format (json)"
    );
    let env = run(recipe_command(&dir)
        .env("EIDOS_RECIPES", from_env.path())
        .args(["--config", config]));
    assert_eq!(swappiness(&env), "2");
    let flag = run(recipe_command(&dir)
        .env("EIDOS_RECIPES", from_env.path())
        .args([
            "--config",
            config,
            "--recipes",
            from_flag.path().to_str().unwrap(),
        ]));
    assert_eq!(swappiness(&flag), "1");
    let yaml = run(recipe_command(&dir)
        .env("EIDOS_FORMAT", "yaml")
        .args(["--config", config]));
    assert_eq!(yaml.code, Some(0), "{}", yaml.stderr);
    assert!(
        yaml.stdout.starts_with("payloadVersion:"),
        "{}",
        yaml.stdout
    );
}

/// The subtype `name` of measurement `kind` in a recipe document.
fn subtype<'a>(doc: &'a Value, kind: &str, name: &str) -> &'a Value {
    doc["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == kind)
        .and_then(|m| {
            m["subtypes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["subtype"] == name)
        })
        .unwrap_or_else(|| panic!("no {kind}/{name} in {doc:#}"))
}

fn rules(doc: &Value) -> Vec<String> {
    doc["matchedRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

fn has_context(doc: &Value) -> bool {
    doc["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["subtypes"].as_array().unwrap())
        .any(|s| s.get("context").is_some())
}

#[test]
fn no_flags_gives_the_base_recipe_as_yaml() {
    let dir = plugins();
    let out = recipe(&dir, &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc: Value = serde_yaml::from_str(&out.stdout).unwrap();
    assert_eq!(doc["payloadVersion"], "v1");
    assert_eq!(doc["request"], serde_json::json!({}));
    assert!(rules(&doc).is_empty());
    assert!(doc["generatedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(subtype(&doc, "os", "kmod")["data"]["nvidia"], true);
    assert!(!has_context(&doc), "context only when asked");
}

#[test]
fn flags_select_overlays_case_insensitively_and_context_is_opt_in() {
    let dir = plugins();
    let out = recipe(&dir, &["--gpu", "H100", "--service", "EKS", "-f", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(
        doc["request"],
        serde_json::json!({"service": "eks", "gpu": "h100"})
    );
    let applied = rules(&doc);
    assert!(
        applied.iter().any(|r| r.starts_with("service=eks ")),
        "{applied:?}"
    );
    assert!(
        applied.iter().any(|r| r.starts_with("gpu=h100 ")),
        "{applied:?}"
    );
    assert_eq!(subtype(&doc, "os", "kmod")["data"]["efa"], true);
    assert!(!has_context(&doc));

    let out = recipe(
        &dir,
        &[
            "--gpu",
            "h100",
            "--service",
            "eks",
            "--context",
            "-f",
            "json",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let kmod = subtype(&doc, "os", "kmod");
    assert!(kmod["context"]["efa"].as_str().unwrap().len() > 10);
    assert_eq!(doc["request"]["context"], true);
}

#[test]
fn the_reference_snapshot_derives_the_query_and_flags_override_it() {
    let dir = plugins();
    let snapshot = reference_snapshot();
    let snapshot = snapshot.to_str().unwrap();
    let out = recipe(&dir, &["--snapshot", snapshot, "-f", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(
        doc["request"],
        serde_json::json!({
            "kernel": "6.8.0-1031-aws",
            "service": "eks",
            "k8s": "1.30.14-eks-3025e55",
            "gpu": "h100",
        })
    );
    assert!(rules(&doc).iter().any(|r| r.starts_with("service=eks ")));

    let out = recipe(
        &dir,
        &[
            "--snapshot",
            snapshot,
            "--gpu",
            "gb200",
            "--intent",
            "training",
            "-f",
            "json",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(doc["request"]["gpu"], "gb200", "the flag wins");
    assert_eq!(
        doc["request"]["service"], "eks",
        "the rest is still derived"
    );
    assert_eq!(doc["request"]["intent"], "training");
    assert!(rules(&doc).iter().any(|r| r.starts_with("gpu=gb200 ")));
    assert!(!rules(&doc).iter().any(|r| r.starts_with("gpu=h100 ")));
}

#[test]
fn a_snapshot_can_come_from_standard_input() {
    let dir = plugins();
    let file = std::fs::File::open(reference_snapshot()).unwrap();
    // Not through `run`, which gives the child an empty standard input.
    let out = recipe_command(&dir)
        .args(["--snapshot", "-", "-f", "json"])
        .stdin(file)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["request"]["service"], "eks");
    assert_eq!(doc["request"]["gpu"], "h100");
}

#[test]
fn a_json_snapshot_works_like_a_yaml_one() {
    let dir = plugins();
    let text = std::fs::read_to_string(reference_snapshot()).unwrap();
    let value: Value = serde_yaml::from_str(&text).unwrap();
    let temp = tempfile::tempdir().unwrap();
    let json = temp.path().join("snapshot.json");
    std::fs::write(&json, serde_json::to_string(&value).unwrap()).unwrap();
    let out = recipe(&dir, &["--snapshot", json.to_str().unwrap(), "-f", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.json()["request"]["gpu"], "h100");
}

#[test]
fn a_recipe_directory_replaces_the_built_in_data() {
    let dir = plugins();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("base.yaml"),
        "measurements:\n  - type: OS\n    subtypes:\n      - subtype: sysctl\n        data: {/proc/sys/vm/swappiness: \"10\"}\n",
    )
    .unwrap();
    std::fs::write(
        data.path().join("site.yaml"),
        "overlays:\n  - key: {k8s: \">=1.30, <1.32\"}\n    description: our site\n    measurements:\n      - type: os\n        subtypes:\n          - subtype: sysctl\n            data: {/proc/sys/vm/swappiness: \"1\"}\n",
    )
    .unwrap();
    let recipes = data.path().to_str().unwrap();
    let out = recipe(
        &dir,
        &["--recipes", recipes, "--k8s", "v1.31.2", "-f", "json"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(rules(&doc), ["k8s=(>=1.30, <1.32) (site.yaml): our site"]);
    assert_eq!(doc["measurements"].as_array().unwrap().len(), 1);
    assert_eq!(
        subtype(&doc, "os", "sysctl")["data"]["/proc/sys/vm/swappiness"],
        "1"
    );

    let out = recipe(&dir, &["--recipes", recipes, "--k8s", "1.33", "-f", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        subtype(&out.json(), "os", "sysctl")["data"]["/proc/sys/vm/swappiness"],
        "10"
    );
}

#[test]
fn output_goes_to_a_file_in_the_format_its_extension_names() {
    let dir = plugins();
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("recipe.json");
    let out = recipe(&dir, &["--gpu", "a100", "-o", path.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(doc["request"]["gpu"], "a100");
}

/// Runs `eidos recipe ARGS` expecting a usage error: exit 2, nothing on stdout, and stderr
/// containing every one of `expected`.
fn assert_usage_error(dir: &PluginDir, args: &[&str], expected: &[&str]) {
    let out = recipe(dir, args);
    assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "{args:?} wrote to stdout: {}",
        out.stdout
    );
    for text in expected {
        assert!(
            out.stderr.contains(text),
            "{args:?}: {:?} not in {}",
            text,
            out.stderr
        );
    }
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn bad_input_is_a_usage_error_that_says_what_was_expected() {
    let dir = plugins();
    assert_usage_error(
        &dir,
        &["--gpu", "h900"],
        &[
            "invalid value \"h900\" for --gpu",
            "a100, l4, l40s, h100, h200, b200, gb200",
        ],
    );
    assert_usage_error(
        &dir,
        &["--service", "ec2"],
        &["--service", "eks, gke, aks, oke, self-managed"],
    );
    assert_usage_error(
        &dir,
        &["--osv", "-1.0"],
        &["os version cannot contain negative numbers: -1.0"],
    );
    assert_usage_error(
        &dir,
        &["--k8s", "1.2.3.4"],
        &["--k8s", "more than three numeric components"],
    );
    assert_usage_error(
        &dir,
        &["--kernel", "six"],
        &["--kernel", "non-numeric component \"six\""],
    );
    assert_usage_error(&dir, &["--format", "xml"], &["xml"]);
    assert_usage_error(&dir, &["--colour", "red"], &["--colour"]);

    let temp = tempfile::tempdir().unwrap();
    let missing = temp.path().join("missing.yaml");
    assert_usage_error(
        &dir,
        &["--snapshot", missing.to_str().unwrap()],
        &["cannot read the snapshot", "missing.yaml"],
    );
    let not_snapshot = temp.path().join("recipe.yaml");
    std::fs::write(&not_snapshot, "kind: Recipe\napiVersion: v1\n").unwrap();
    assert_usage_error(
        &dir,
        &["--snapshot", not_snapshot.to_str().unwrap()],
        &[
            "recipe.yaml is not a valid snapshot",
            "expected \"Snapshot\"",
        ],
    );
    let broken = temp.path().join("broken.yaml");
    std::fs::write(&broken, "kind: Snapshot\nmeasurements: [\n").unwrap();
    assert_usage_error(
        &dir,
        &["--snapshot", broken.to_str().unwrap()],
        &["broken.yaml", "malformed YAML"],
    );
    let empty = temp.path().join("empty.yaml");
    std::fs::write(
        &empty,
        "kind: Snapshot\napiVersion: snapshot.dgxc.io/v1\nmeasurements: []\n",
    )
    .unwrap();
    assert_usage_error(
        &dir,
        &["--snapshot", empty.to_str().unwrap()],
        &["cannot derive a query from", "empty.yaml"],
    );

    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("base.yaml"), "measurements: []\n").unwrap();
    std::fs::write(
        data.path().join("bad.yaml"),
        "overlays:\n  - key: {gpu: h900}\n    measurements: []\n",
    )
    .unwrap();
    assert_usage_error(
        &dir,
        &["--recipes", data.path().to_str().unwrap()],
        &["invalid recipe data", "bad.yaml", "unknown value \"h900\""],
    );
    assert_usage_error(
        &dir,
        &[
            "--recipes",
            Path::new("/nonexistent/recipes").to_str().unwrap(),
        ],
        &["cannot read the recipe directory"],
    );
}

#[test]
fn a_failed_write_leaves_nothing_and_exits_1() {
    let dir = plugins();
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("no/such/dir/recipe.yaml");
    let out = recipe(&dir, &["-o", path.to_str().unwrap()]);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("cannot write"), "{}", out.stderr);
    assert!(!path.exists());
}

/// The full loop on this machine: `eidos snapshot` through the real os collector, then
/// `eidos recipe --snapshot` on what it wrote. The kernel (and os-release, where it names a known
/// distribution) must come through as the query.
#[test]
fn a_snapshot_eidos_wrote_here_feeds_eidos_recipe() {
    let dir = PluginDir::with(&["collector_os", "serializer_json", "serializer_yaml"]);
    let temp = tempfile::tempdir().unwrap();
    let snapshot = temp.path().join("snapshot.yaml");
    let out = run(eidos(&[dir.path()]).args([
        "snapshot",
        "--collectors",
        "os",
        "-o",
        snapshot.to_str().unwrap(),
    ]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let out = recipe(
        &dir,
        &["--snapshot", snapshot.to_str().unwrap(), "-f", "json"],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let request = &out.json()["request"];
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let kernel = kernel.trim().to_ascii_lowercase();
    assert_eq!(
        request["kernel"]
            .as_str()
            .map(|k| k.trim_start_matches('v')),
        Some(kernel.as_str())
    );
    let os_release = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let id = os_release
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .map(|v| v.trim_matches('"').to_ascii_lowercase());
    let known = ["ubuntu", "rhel", "rocky", "cos", "amzn", "debian", "sles"];
    match id {
        Some(id) if known.contains(&id.as_str()) => assert_eq!(request["os"], id.as_str()),
        _ => assert!(request.get("os").is_none(), "{request}"),
    }
}

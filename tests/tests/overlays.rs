//! End-to-end tests of recipe overlay layers (issue 15, "Vendor recipe data"): a vendor's overlay
//! with a measurement type of its own, checked by `eidos validate` against a snapshot holding that
//! type; layer order (`--overlays`, `EIDOS_OVERLAYS`, config `overlays`, plugin directories'
//! `recipes/` folders); `--recipes` still replacing the built-in data; and the provenance of each
//! value naming its layer.

use eidos_e2e::{eidos, run, PluginDir, Run};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn plugins() -> PluginDir {
    PluginDir::with(&["serializer_json", "serializer_yaml"])
}

/// A directory holding `files` (relative path, text).
fn layer(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// An overlay file setting `acme-nic / eth0 / mtu` for H100 nodes.
fn acme_mtu(mtu: u32) -> String {
    format!(
        "overlays:\n  - key: {{gpu: h100}}\n    description: ACME NICs carry jumbo frames\n    measurements:\n      - type: acme-nic\n        subtypes:\n          - subtype: eth0\n            data: {{mtu: {mtu}}}\n            context: {{mtu: RDMA over the ACME NIC needs jumbo frames.}}\n"
    )
}

/// An H100 node whose ACME NIC reports `mtu`.
fn snapshot(dir: &Path, mtu: u32) -> PathBuf {
    let doc = json!({
        "kind": "Snapshot",
        "apiVersion": "snapshot.dgxc.io/v1",
        "measurements": [
            {"type": "OS", "subtypes": [{"subtype": "release", "data": {"ID": "ubuntu", "VERSION_ID": "24.04"}}]},
            {"type": "GPU", "subtypes": [{"subtype": "smi", "data": {"gpu.model": "NVIDIA H100 80GB HBM3"}}]},
            {"type": "acme-nic", "subtypes": [{"subtype": "eth0", "data": {"mtu": mtu}}]}
        ]
    });
    let path = dir.join(format!("node-{mtu}.json"));
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    path
}

/// `eidos ARGS` over `plugins`, with the recipe variables cleared.
fn eidos_run(plugins: &PluginDir, args: &[&str]) -> Run {
    run(eidos(&[plugins.path()])
        .env_remove("EIDOS_RECIPES")
        .env_remove("EIDOS_OVERLAYS")
        .args(args))
}

/// The report's result for `acme-nic / eth0 / mtu`.
fn mtu_result(report: &Value) -> Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "acme-nic" && r["key"] == "mtu")
        .unwrap_or_else(|| panic!("no acme-nic mtu result in {report}"))
        .clone()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_vendor_overlay_is_validated_against_a_snapshot_holding_its_type() {
    let plugins = plugins();
    let acme = layer(&[("acme.yaml", &acme_mtu(9000))]);
    let nodes = tempfile::tempdir().unwrap();
    let file = acme.path().join("acme.yaml");

    let bad = snapshot(nodes.path(), 1500);
    let args = [
        "validate",
        "-f",
        "json",
        "--overlays",
        s(acme.path()),
        "--snapshot",
        s(&bad),
    ];
    let out = eidos_run(&plugins, &args);
    assert_eq!(
        out.code,
        Some(3),
        "a required vendor value failed: {}",
        out.stderr
    );
    let report = out.json();
    let mtu = mtu_result(&report);
    assert_eq!(mtu["status"], "failed", "{mtu}");
    assert_eq!(mtu["expected"], 9000, "{mtu}");
    assert_eq!(mtu["actual"], 1500, "{mtu}");
    assert_eq!(mtu["source"], format!("{} (gpu=h100)", file.display()));
    assert_eq!(mtu["context"], "RDMA over the ACME NIC needs jumbo frames.");
    let rules: Vec<&str> = report["matchedRules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    // Applied by specificity, then layer: after the built-in overlay with the same key, before
    // the more specific built-in ones.
    let rule = format!(
        "gpu=h100 ({}): ACME NICs carry jumbo frames",
        file.display()
    );
    let ours = rules
        .iter()
        .position(|r| *r == rule)
        .unwrap_or_else(|| panic!("{rule} not in {rules:?}"));
    let builtin = rules
        .iter()
        .position(|r| r.starts_with("gpu=h100 (overlays/"));
    assert!(builtin.is_some_and(|b| b < ours), "{rules:?}");
    assert!(
        rules[ours + 1..]
            .iter()
            .all(|r| r.split(" (").next().unwrap().contains(", ")),
        "only more specific keys come after it: {rules:?}"
    );
    // The built-in data is still checked, its values still from the built-in files.
    let swappiness = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "/proc/sys/vm/swappiness")
        .unwrap();
    assert_eq!(swappiness["source"], "base.yaml");

    let good = snapshot(nodes.path(), 9000);
    let args = [
        "validate",
        "-f",
        "json",
        "--overlays",
        s(acme.path()),
        "--snapshot",
        s(&good),
    ];
    let out = eidos_run(&plugins, &args);
    assert_eq!(
        mtu_result(&out.json())["status"],
        "passed",
        "{}",
        out.stderr
    );

    // Without the overlay, nothing asks about the vendor's reading.
    let out = eidos_run(&plugins, &["validate", "-f", "json", "--snapshot", s(&bad)]);
    let report = out.json();
    assert!(
        !report["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "acme-nic"),
        "{report}"
    );
}

#[test]
fn later_layers_win_ties_flags_over_environment_over_config() {
    let plugins = plugins();
    let a = layer(&[("acme.yaml", &acme_mtu(1111))]);
    let b = layer(&[("acme.yaml", &acme_mtu(2222))]);
    let c = layer(&[("acme.yaml", &acme_mtu(3333))]);
    let mtu_of = |out: Run| -> Value {
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        let doc = out.json();
        let nic = doc["measurements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["type"] == "acme-nic")
            .unwrap_or_else(|| panic!("no acme-nic in {doc}"))
            .clone();
        nic["subtypes"][0]["data"]["mtu"].clone()
    };
    let recipe = ["recipe", "-f", "json", "--gpu", "h100"];
    let with = |layers: &[&Path]| {
        let mut args: Vec<&str> = recipe.to_vec();
        for l in layers {
            args.extend(["--overlays", s(l)]);
        }
        eidos_run(&plugins, &args)
    };
    assert_eq!(mtu_of(with(&[a.path(), b.path()])), 2222);
    assert_eq!(mtu_of(with(&[b.path(), a.path()])), 1111);

    // Config file, then EIDOS_OVERLAYS, then the flags.
    let config = layer(&[(
        "config.toml",
        &format!("overlays = [{:?}]\n", a.path().display().to_string()),
    )]);
    let config_file = config.path().join("config.toml");
    let base = |extra: &[&str]| {
        let mut cmd = eidos(&[plugins.path()]);
        cmd.env_remove("EIDOS_RECIPES")
            .arg("--config")
            .arg(&config_file)
            .args(recipe)
            .args(extra);
        cmd
    };
    assert_eq!(mtu_of(run(&mut base(&[]))), 1111);
    let mut env = base(&[]);
    env.env(
        "EIDOS_OVERLAYS",
        format!("{}:{}", c.path().display(), b.path().display()),
    );
    assert_eq!(mtu_of(run(&mut env)), 2222);
    let mut flag = base(&["--overlays", s(c.path())]);
    flag.env("EIDOS_OVERLAYS", b.path());
    assert_eq!(mtu_of(run(&mut flag)), 3333);

    // `eidos config show` lists every layer with its source, in order.
    let mut show = eidos(&[plugins.path()]);
    let show = run(show
        .env("EIDOS_OVERLAYS", b.path())
        .arg("--config")
        .arg(&config_file)
        .args(["config", "show", "-f", "json"]));
    assert_eq!(show.code, Some(0), "{}", show.stderr);
    let rows: Vec<String> = show
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["key"] == "overlays")
        .map(|r| r["value"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        rows,
        [
            a.path().display().to_string(),
            b.path().display().to_string()
        ]
    );
}

#[test]
fn overlays_go_on_top_of_the_data_that_recipes_replaces() {
    let plugins = plugins();
    let data = layer(&[(
        "base.yaml",
        "measurements:\n  - type: os\n    subtypes:\n      - subtype: sysctl\n        data: {/proc/sys/vm/swappiness: \"42\"}\n",
    )]);
    let acme = layer(&[
        ("base.yaml", "measurements:\n  - type: acme-nic\n    subtypes:\n      - subtype: eth0\n        data: {speed: \">= 100\"}\n"),
        ("acme.yaml", &acme_mtu(9000)),
    ]);
    let out = eidos_run(
        &plugins,
        &[
            "recipe",
            "-f",
            "json",
            "--gpu",
            "h100",
            "--recipes",
            s(data.path()),
            "--overlays",
            s(acme.path()),
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!(
        doc["measurements"],
        json!([
            {"type": "os", "subtypes": [{"subtype": "sysctl", "data": {"/proc/sys/vm/swappiness": "42"}}]},
            {"type": "acme-nic", "subtypes": [{"subtype": "eth0", "data": {"speed": ">= 100", "mtu": 9000}}]}
        ]),
        "--recipes data, then the layer's values for every node, then its H100 overlay"
    );
    let vendor_base = acme.path().join("base.yaml");
    assert_eq!(
        doc["matchedRules"][0],
        format!("every node ({})", vendor_base.display())
    );
}

#[test]
fn a_plugin_directorys_recipes_folder_is_layered_below_the_overlays() {
    let plugins = plugins();
    std::fs::create_dir(plugins.path().join("recipes")).unwrap();
    let shipped = plugins.path().join("recipes/acme.yaml");
    std::fs::write(&shipped, acme_mtu(9000)).unwrap();
    let nodes = tempfile::tempdir().unwrap();
    let node = snapshot(nodes.path(), 9000);

    let out = eidos_run(
        &plugins,
        &["validate", "-f", "json", "--snapshot", s(&node)],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mtu = mtu_result(&out.json());
    assert_eq!(mtu["status"], "passed", "{mtu}");
    assert_eq!(mtu["source"], format!("{} (gpu=h100)", shipped.display()));

    // An operator's overlay wins a tie with the plugin's data.
    let site = layer(&[("site.yaml", &acme_mtu(4000))]);
    let args = [
        "validate",
        "-f",
        "json",
        "--snapshot",
        s(&node),
        "--overlays",
        s(site.path()),
    ];
    let out = eidos_run(&plugins, &args);
    assert_eq!(out.code, Some(3), "{}", out.stderr);
    let mtu = mtu_result(&out.json());
    assert_eq!(mtu["expected"], 4000, "{mtu}");

    // A folder others may write is refused (as a plugin there would be), with a warning.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        plugins.path().join("recipes"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let out = eidos_run(
        &plugins,
        &["validate", "-f", "json", "--snapshot", s(&node)],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("writable by"), "{}", out.stderr);
    let report = out.json();
    assert!(
        !report["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["type"] == "acme-nic"),
        "{report}"
    );
}

#[test]
fn bad_overlays_exit_2_naming_the_layer_and_the_file() {
    let plugins = plugins();
    let broken = layer(&[("acme.yaml", "overlays:\n  - key: {gpu: h100}\n    measurements:\n      - type: acme/nic\n        subtypes: []\n")]);
    let out = eidos_run(&plugins, &["recipe", "--overlays", s(broken.path())]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    let file = broken.path().join("acme.yaml");
    assert!(
        out.stderr.contains(&file.display().to_string())
            && out.stderr.contains("--overlays")
            && out.stderr.contains("invalid measurement type \"acme/nic\""),
        "{}",
        out.stderr
    );
    let missing = broken.path().join("missing");
    let out = run(eidos(&[plugins.path()])
        .env("EIDOS_OVERLAYS", &missing)
        .args(["recipe"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains(&missing.display().to_string())
            && out.stderr.contains("EIDOS_OVERLAYS"),
        "{}",
        out.stderr
    );
}

/// A plugin directory (mode 0755) carrying `recipes/acme.yaml` (the ACME MTU for H100 nodes), and
/// the shell example collector when `with_collector`.
fn vendor_dir(with_collector: bool) -> PluginDir {
    use std::os::unix::fs::PermissionsExt;
    let vendor = PluginDir::new();
    std::fs::set_permissions(vendor.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(vendor.path().join("recipes")).unwrap();
    std::fs::write(vendor.path().join("recipes/acme.yaml"), acme_mtu(9000)).unwrap();
    if with_collector {
        let script = std::fs::read(
            eidos_e2e::workspace_root().join("plugins/exec-shell/eidos-collector-sh-example"),
        )
        .unwrap();
        let file = vendor.add_file("eidos-collector-sh-example", &script);
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    vendor
}

/// `eidos validate -f json --snapshot NODE EXTRA…` over the plugin directories `dirs`.
fn validate_over(dirs: &[&Path], extra: &[&str], node: &Path) -> Run {
    run(eidos(dirs)
        .env_remove("EIDOS_RECIPES")
        .env_remove("EIDOS_OVERLAYS")
        .args(["validate", "-f", "json", "--snapshot", s(node)])
        .args(extra))
}

/// Whether a validation report checked anything of type `acme-nic`.
fn checks_acme(report: &Value) -> bool {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["type"] == "acme-nic")
}

#[test]
fn a_plugin_directorys_recipes_are_layered_only_when_one_of_its_plugins_is_accepted() {
    let plugins = plugins();
    let nodes = tempfile::tempdir().unwrap();
    let node = snapshot(nodes.path(), 9000);
    // A directory with recipe data and no plugin: its data is not layered.
    let bare = vendor_dir(false);
    let out = validate_over(&[plugins.path(), bare.path()], &[], &node);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!checks_acme(&out.json()), "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "no plugin of {} is accepted",
            bare.path().display()
        )),
        "{}",
        out.stderr
    );

    // With a collector that loads, it is.
    let vendor = vendor_dir(true);
    let out = validate_over(&[plugins.path(), vendor.path()], &[], &node);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        mtu_result(&out.json())["status"],
        "passed",
        "{}",
        out.stdout
    );

    // Under a lock that does not list the directory's collector, it is not.
    let locks = tempfile::tempdir().unwrap();
    let lock_of = |dirs: &[&Path], name: &str| {
        let file = locks.path().join(name);
        let out = run(eidos(dirs).args(["plugins", "lock", "-o"]).arg(&file));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        file
    };
    let without_vendor = lock_of(&[plugins.path()], "without.lock");
    let with_vendor = lock_of(&[plugins.path(), vendor.path()], "with.lock");
    let out = validate_over(
        &[plugins.path(), vendor.path()],
        &["--plugin-lock", s(&without_vendor)],
        &node,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(!checks_acme(&out.json()), "{}", out.stdout);
    assert!(
        out.stderr.contains("is not in the plugin lock")
            && out.stderr.contains(&format!(
                "no plugin of {} is accepted",
                vendor.path().display()
            )),
        "{}",
        out.stderr
    );
    let out = validate_over(
        &[plugins.path(), vendor.path()],
        &["--plugin-lock", s(&with_vendor)],
        &node,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        mtu_result(&out.json())["status"],
        "passed",
        "{}",
        out.stdout
    );
}

#[test]
fn files_and_folders_in_a_plugin_directorys_recipes_get_the_plugin_ownership_checks() {
    use std::os::unix::fs::PermissionsExt;
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let plugins = plugins();
    let nodes = tempfile::tempdir().unwrap();
    let node = snapshot(nodes.path(), 9000);
    let vendor = vendor_dir(true);
    let recipes = vendor.path().join("recipes");
    let acme = recipes.join("acme.yaml");
    // Whether the vendor's data was layered, and the warnings.
    let layered = || {
        let out = validate_over(&[plugins.path(), vendor.path()], &[], &node);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        (checks_acme(&out.json()), out.stderr)
    };
    chmod(&acme, 0o644);
    let (checked, stderr) = layered();
    assert!(checked, "a private file is read: {stderr}");

    // A file anyone may write: the whole folder is left out, with a warning naming the file.
    chmod(&acme, 0o666);
    let (checked, stderr) = layered();
    assert!(!checked, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "ignoring the recipe data of plugin directory {}",
            vendor.path().display()
        )) && stderr.contains(&format!(
            "{} is writable by group and others",
            acme.display()
        )),
        "{stderr}"
    );
    chmod(&acme, 0o644);

    // A subfolder anyone may write, even with a private file in it.
    let sub = recipes.join("site");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("extra.yaml"), "overlays: []\n").unwrap();
    chmod(&sub, 0o777);
    let (checked, stderr) = layered();
    assert!(!checked, "{stderr}");
    assert!(
        stderr.contains(&format!("{} is writable by", sub.display())),
        "{stderr}"
    );
    chmod(&sub, 0o755);

    // A link to a file in a place others may write is checked where it leads.
    let open = tempfile::tempdir().unwrap();
    chmod(open.path(), 0o777);
    let outside = open.path().join("planted.yaml");
    std::fs::write(&outside, "overlays: []\n").unwrap();
    chmod(&outside, 0o644);
    std::os::unix::fs::symlink(&outside, sub.join("link.yaml")).unwrap();
    let (checked, stderr) = layered();
    assert!(!checked, "{stderr}");
    assert!(
        stderr.contains(&format!("{} is writable by", open.path().display())),
        "{stderr}"
    );
    std::fs::remove_file(sub.join("link.yaml")).unwrap();

    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata(&acme).unwrap().uid() != 0 {
        eprintln!("NOT RUN: the ownership half needs root (chown)");
        return;
    }
    // A file owned by another user, in a private folder.
    std::os::unix::fs::chown(sub.join("extra.yaml"), Some(4242), Some(4242)).unwrap();
    let (checked, stderr) = layered();
    assert!(!checked, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{} is owned by uid 4242",
            sub.join("extra.yaml").display()
        )),
        "{stderr}"
    );
    std::os::unix::fs::chown(sub.join("extra.yaml"), Some(0), Some(0)).unwrap();
    let (checked, stderr) = layered();
    assert!(checked, "all private again: {stderr}");
}

#[test]
fn broken_recipe_data_in_a_plugin_directory_is_a_warning_and_the_rest_still_applies() {
    let plugins = plugins();
    let nodes = tempfile::tempdir().unwrap();
    let node = snapshot(nodes.path(), 9000);
    let vendor = vendor_dir(true);
    let broken = vendor.path().join("recipes/zz-broken.yaml");
    std::fs::write(
        &broken,
        "overlays:\n  - key: {gpu: h100}\n    measurements:\n      - type: acme/nic\n        subtypes: []\n",
    )
    .unwrap();
    let site = layer(&[("site.yaml", &acme_mtu(9000))]);
    let out = validate_over(
        &[plugins.path(), vendor.path()],
        &["--overlays", s(site.path())],
        &node,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "ignoring the recipe data of plugin directory {}: {}: ",
            vendor.path().display(),
            broken.display()
        )) && out.stderr.contains("invalid measurement type \"acme/nic\""),
        "{}",
        out.stderr
    );
    // The operator's own overlay still applies; the vendor's good file went with its folder.
    let mtu = mtu_result(&out.json());
    assert_eq!(mtu["status"], "passed", "{mtu}");
    assert_eq!(
        mtu["source"],
        format!("{} (gpu=h100)", site.path().join("site.yaml").display())
    );
    let out = run(eidos(&[plugins.path(), vendor.path()]).args(["recipe", "--gpu", "h100"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("ignoring the recipe data"),
        "{}",
        out.stderr
    );
}

//! End-to-end test of the air-gapped distribution: `scripts/dist.sh` packs the built binary, a
//! chosen plugin set, its lock, SHA256SUMS and INSTALL.md; the tarball is unpacked into a temporary
//! directory and the installed eidos runs under the installed lock, with no network and no flags
//! but the lock; an extra, unlisted plugin dropped into the install is refused.

use eidos_e2e::{build_dir, built_library, run, workspace_root};
use std::process::Command;

#[test]
fn the_tarball_installs_offline_and_enforces_its_own_lock() {
    let out_dir = tempfile::tempdir().unwrap();
    let made = run(Command::new("bash")
        .arg(workspace_root().join("scripts/dist.sh"))
        .args([
            "--no-build",
            "--plugins",
            "collector_os,serializer_json,serializer_yaml",
            "--build-dir",
        ])
        .arg(build_dir())
        .arg("--out")
        .arg(out_dir.path()));
    assert_eq!(made.code, Some(0), "{}", made.stderr);
    let tarball = made.stdout.trim().to_owned();
    assert!(tarball.ends_with(".tar.gz"), "{tarball}");

    let install = tempfile::tempdir().unwrap();
    let untar = run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(install.path()));
    assert_eq!(untar.code, Some(0), "{}", untar.stderr);
    let root = std::fs::read_dir(install.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for file in [
        "bin/eidos",
        "plugins.lock",
        "SHA256SUMS",
        "INSTALL.md",
        "bin/plugins/libeidos_collector_os.so",
    ] {
        assert!(root.join(file).is_file(), "{file} missing from the tarball");
    }
    let sums = run(Command::new("sha256sum")
        .arg("-c")
        .arg("SHA256SUMS")
        .current_dir(&root));
    assert_eq!(sums.code, Some(0), "{}{}", sums.stdout, sums.stderr);

    let installed = |args: &[&str]| {
        let mut cmd = Command::new(root.join("bin/eidos"));
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", install.path())
            .env("EIDOS_PLUGIN_LOCK", root.join("plugins.lock"))
            .args(args);
        run(&mut cmd)
    };
    let snap = installed(&["snapshot", "--collectors", "os", "--format", "json"]);
    assert_eq!(snap.code, Some(0), "{}", snap.stderr);
    assert_eq!(snap.json()["metadata"]["collectors"]["os"]["status"], "ok");

    // A plugin that is not in the shipped lock is refused, even inside the install.
    std::fs::copy(
        built_library("eidos_serializer_table"),
        root.join("bin/plugins/libeidos_serializer_table.so"),
    )
    .unwrap();
    let list = installed(&["plugins", "list", "--format", "json"]);
    assert_eq!(list.code, Some(0), "{}", list.stderr);
    let entries = list.json();
    let entries = entries.as_array().unwrap();
    let table = entries
        .iter()
        .find(|e| e["name"] == "table")
        .expect("the extra plugin is listed");
    assert!(table["status"]["refused"]["reason"]
        .as_str()
        .unwrap()
        .contains("is not in the plugin lock"));
    let loaded: Vec<_> = entries
        .iter()
        .filter(|e| e["status"] == "loaded" && e["builtin"] != true)
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(loaded, ["os", "json", "yaml"]);
    let refused_format = installed(&["snapshot", "--collectors", "os", "--format", "table"]);
    assert_eq!(refused_format.code, Some(2));
}

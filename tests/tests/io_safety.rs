//! End-to-end tests of how eidos treats the files it writes and reads (issue 18): `--output` never
//! replaces a device, a FIFO or `/dev/stdout`; output files honour the umask and keep a replaced
//! file's mode; input snapshots are size-capped; a hostile host root never stops `--best-effort`
//! from writing; tables are not wrapped when piped and fit the terminal when on one.
//!
//! The device tests run in a private mount namespace with a tmpfs over `/dev` holding device nodes
//! made for the test (never the real `/dev`); they need root, as eidos on a node has.

use eidos_e2e::{eidos, eidos_bin, run, PluginDir, Run};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

const PLUGINS: &[&str] = &[
    "collector_os",
    "serializer_json",
    "serializer_yaml",
    "serializer_table",
];

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0)
}

/// Gives `cmd` (a wrapper such as `sh` or `unshare` that runs eidos) the environment changes the
/// `eidos` command `template` has.
fn copy_environment(template: &Command, cmd: &mut Command) {
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
}

/// `eidos recipe` with the recipe command's own variables cleared.
fn recipe(dir: &PluginDir) -> eidos_e2e::Hermetic {
    let mut cmd = eidos(&[dir.path()]);
    cmd.env_remove("EIDOS_RECIPES")
        .env_remove("EIDOS_FORMAT")
        .arg("recipe");
    cmd
}

/// Runs `script` with `sh` in a private mount namespace, where `/dev` is a fresh tmpfs holding
/// `null`, `full` and a `stdout` link, with `$EIDOS` set to the `eidos` command line (binary and
/// the test's plugin directory) and the environment `eidos()` sets.
fn in_private_dev(dir: &PluginDir, script: &str) -> Run {
    let template = eidos(&[dir.path()]);
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"]);
    cmd.arg(format!(
        "set -u\n\
         mount -t tmpfs eidos-test-dev /dev || exit 99\n\
         mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/full c 1 7 || exit 99\n\
         ln -s /proc/self/fd/1 /dev/stdout\n\
         EIDOS=\"$0 --plugin-dir $1\"\n\
         {script}"
    ));
    cmd.arg(eidos_bin()).arg(dir.path());
    copy_environment(&template, &mut cmd);
    cmd.env_remove("EIDOS_RECIPES").env_remove("EIDOS_FORMAT");
    run(&mut cmd)
}

#[test]
fn output_to_a_device_or_dev_stdout_writes_into_it_and_never_replaces_it() {
    if !is_root() {
        eprintln!("skipped: device nodes in a private /dev need root");
        return;
    }
    let dir = PluginDir::with(PLUGINS);
    let out = in_private_dev(
        &dir,
        r#"
        $EIDOS recipe --gpu h100 -o /dev/null; echo "recipe-null $? $(stat -c %F /dev/null)"
        $EIDOS snapshot --collectors os -o /dev/null; echo "snapshot-null $? $(stat -c %F /dev/null)"
        $EIDOS plugins lock -o /dev/null; echo "lock-null $? $(stat -c %F /dev/null)"
        $EIDOS recipe --gpu h100 -o /dev/full 2>/dev/stdout | tr '\n' ' '; echo
        echo "recipe-full $($EIDOS recipe --gpu h100 -o /dev/full 2>/dev/null; echo $?) $(stat -c %F /dev/full)"
        echo "recipe-stdout $($EIDOS recipe --gpu h100 -f json -o /dev/stdout | wc -c) $(stat -c %F /dev/stdout)"
        echo "left $(ls -A /dev | tr '\n' ' ')"
        "#,
    );
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let line = |tag: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(tag))
            .unwrap_or_else(|| panic!("no {tag} line in:\n{}\n{}", out.stdout, out.stderr))
            .to_owned()
    };
    for tag in ["recipe-null", "snapshot-null", "lock-null"] {
        assert_eq!(line(tag), format!("{tag} 0 character special file"));
    }
    assert_eq!(line("recipe-full"), "recipe-full 1 character special file");
    assert!(
        out.stdout.contains("cannot write /dev/full") && out.stdout.contains("No space left"),
        "{}",
        out.stdout
    );
    let stdout = line("recipe-stdout");
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    assert!(
        fields[1].parse::<usize>().unwrap() > 100,
        "the recipe went through the pipe: {stdout}"
    );
    assert_eq!(fields[2..], ["symbolic", "link"], "{stdout}");
    assert_eq!(
        line("left"),
        "left full null stdout ",
        "no temporary file in /dev"
    );
}

#[test]
fn output_to_a_fifo_without_a_reader_fails_at_once() {
    let dir = PluginDir::with(PLUGINS);
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let out = run(recipe(&dir).args(["--gpu", "h100", "-o"]).arg(&fifo));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("nothing is reading from it"),
        "{}",
        out.stderr
    );
    let kind = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(kind.is_fifo(), "the FIFO is still one");
}

#[test]
fn output_to_dev_stdout_appended_to_a_file_keeps_what_was_there() {
    let dir = PluginDir::with(PLUGINS);
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    std::fs::write(&log, "earlier line\n").unwrap();
    let template = recipe(&dir);
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("log=$1; shift; exec \"$@\" >> \"$log\"")
        .arg("sh")
        .arg(&log)
        .arg(template.get_program())
        .args(template.get_args())
        .args(["--gpu", "h100", "-f", "json", "-o", "/dev/stdout"]);
    copy_environment(&template, &mut cmd);
    let out = run(&mut cmd);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.starts_with("earlier line\n{") && text.contains("\"measurements\""),
        "{text}"
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn new_output_files_honour_the_umask_and_replaced_ones_keep_their_mode() {
    let dir = PluginDir::with(PLUGINS);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("recipe.yaml");
    let with_umask = |umask: &str| {
        let template = recipe(&dir);
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("umask {umask}; exec \"$@\""))
            .arg("sh")
            .arg(template.get_program())
            .args(template.get_args())
            .args(["--gpu", "h100", "-o"])
            .arg(&file);
        copy_environment(&template, &mut cmd);
        let out = run(&mut cmd);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    };
    with_umask("027");
    assert_eq!(mode(&file), 0o640, "0666 & !027");
    std::fs::remove_file(&file).unwrap();
    with_umask("077");
    assert_eq!(mode(&file), 0o600, "0666 & !077");

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o604)).unwrap();
    with_umask("022");
    assert_eq!(mode(&file), 0o604, "a replaced file keeps its mode");
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .contains("measurements"));
}

#[test]
fn a_snapshot_larger_than_64_mib_is_a_usage_error_naming_the_file_and_the_limit() {
    let dir = PluginDir::with(PLUGINS);
    let out = run(recipe(&dir).args(["--snapshot", "/dev/zero"]));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the snapshot /dev/zero is larger than the limit of 64 MiB"),
        "{}",
        out.stderr
    );

    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.yaml");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(64 * 1024 * 1024 + 1)
        .unwrap();
    let out = run(recipe(&dir).arg("--snapshot").arg(&big));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("larger than the limit of 64 MiB"));

    // So is the configuration file, at 1 MiB.
    let out = run(recipe(&dir).env("EIDOS_CONFIG", "/dev/zero"));
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("config file /dev/zero is larger than the limit of 1 MiB"),
        "{}",
        out.stderr
    );

    // Standard input is capped the same way.
    let out = recipe(&dir)
        .args(["--snapshot", "-"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the snapshot (standard input) is larger than the limit of 64 MiB"),
        "{stderr}"
    );
}

#[test]
fn a_hostile_host_root_leaves_files_out_with_warnings_and_best_effort_writes() {
    let dir = PluginDir::with(PLUGINS);
    let root = tempfile::tempdir().unwrap();
    let at = |rel: &str| root.path().join(rel);
    std::fs::create_dir_all(at("proc/sys/vm")).unwrap();
    std::fs::create_dir_all(at("etc")).unwrap();
    std::fs::write(at("proc/sys/vm/swappiness"), "60\n").unwrap();
    std::fs::write(at("etc/os-release"), "ID=ubuntu\nVERSION_ID=\"24.04\"\n").unwrap();
    // 1 GiB, sparse: without a cap the read alone takes a gigabyte.
    std::fs::File::create(at("proc/cmdline"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    std::os::unix::fs::symlink("/dev/zero", at("proc/modules")).unwrap();
    let made = Command::new("mkfifo")
        .arg(at("proc/sys/vm/fifo"))
        .status()
        .unwrap();
    assert!(made.success());

    let out = run(eidos(&[dir.path()])
        .args([
            "snapshot",
            "--collectors",
            "os",
            "--best-effort",
            "-f",
            "json",
        ])
        .arg(format!("--set=os.root={}", root.path().display())));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let subtypes: Vec<&str> = doc["measurements"][0]["subtypes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subtype"].as_str().unwrap())
        .collect();
    assert_eq!(subtypes, ["sysctl", "release"]);
    assert!(
        out.stderr.contains("grub left out") && out.stderr.contains("larger than 1024 KiB"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("kmod left out") && out.stderr.contains("outside the host root"),
        "{}",
        out.stderr
    );
}

/// The sysctl keys of the recipe for an H100, from its JSON.
fn sysctl_keys(dir: &PluginDir) -> Vec<String> {
    let out = run(recipe(dir).args(["--gpu", "h100", "-f", "json"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    let mut keys = Vec::new();
    for m in doc["measurements"].as_array().unwrap() {
        for s in m["subtypes"].as_array().unwrap() {
            if s["subtype"] == "sysctl" {
                keys.extend(s["data"].as_object().unwrap().keys().cloned());
            }
        }
    }
    assert!(!keys.is_empty(), "the recipe has sysctl settings");
    keys
}

#[test]
fn a_piped_table_is_not_wrapped() {
    let dir = PluginDir::with(PLUGINS);
    let keys = sysctl_keys(&dir);
    let out = run(recipe(&dir).args(["--gpu", "h100", "-f", "table"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for key in &keys {
        assert!(
            out.stdout.lines().any(|l| l.contains(key.as_str())),
            "{key} is not whole on one line:\n{}",
            out.stdout
        );
    }
    // COLUMNS only speaks for a terminal.
    let out = run(recipe(&dir)
        .env("COLUMNS", "40")
        .args(["--gpu", "h100", "-f", "table"]));
    assert!(keys
        .iter()
        .all(|k| out.stdout.lines().any(|l| l.contains(k.as_str()))));
}

/// Runs `cmd` with its standard output on a pseudo-terminal `columns` wide; returns its output.
fn on_a_terminal(cmd: &mut Command, columns: u16) -> String {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 50,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the given integers; the name, termios and size
    // arguments are null or point to valid values.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(slave);
    // The command keeps the slave's copy it was given until told otherwise: close it, so that the
    // terminal ends when the child does.
    cmd.stdout(Stdio::null());
    let mut text = Vec::new();
    let mut master = std::fs::File::from(master);
    // Read until the terminal closes (EIO once the child and every copy of the slave are gone).
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    String::from_utf8_lossy(&text).replace("\r\n", "\n")
}

#[test]
fn a_table_on_a_terminal_fits_its_width_or_columns() {
    let dir = PluginDir::with(PLUGINS);
    let keys = sysctl_keys(&dir);
    let longest = keys.iter().map(|k| k.chars().count()).max().unwrap();
    for (columns, env) in [(40u16, None), (100, Some("30"))] {
        let mut cmd = recipe(&dir);
        cmd.args(["--gpu", "h100", "-f", "table"]);
        cmd.env_remove("COLUMNS");
        if let Some(value) = env {
            cmd.env("COLUMNS", value);
        }
        let text = on_a_terminal(&mut cmd, columns);
        let width = env.map_or(columns as usize, |v| v.parse().unwrap());
        assert!(text.contains("TYPE"), "{text}");
        assert!(
            text.lines().all(|l| l.chars().count() <= width),
            "wider than {width}:\n{text}"
        );
        assert!(
            longest > width / 2,
            "the keys are long enough to need the width"
        );
        assert!(
            text.lines().any(|l| l.chars().count() > width - 10),
            "the table uses the width:\n{text}"
        );
    }
}

//! The `os` collector plugin: reads the kernel command line (`grub`), loaded kernel modules (`kmod`),
//! every readable sysctl under `/proc/sys` (`sysctl`) and `/etc/os-release` (`release`).
//!
//! Per-interface network sysctls (`net/ipv{4,6}/{conf,neigh}/IFACE/…`) are read only for `all` and
//! `default` unless `--set os.sysctl-interfaces=true`: a node with a veth per pod has hundreds of
//! interfaces, whose entries would dominate the snapshot and differ on every node.
//!
//! Every path is read under the host root (`--set os.root=/host`, else the host's `EIDOS_HOST_ROOT`,
//! else `/`), so that a pod with the node's filesystem mounted at `/host` reports the node. Nothing
//! is executed: these are plain file reads.

mod cmdline;
mod modules;
pub mod read;
mod release;
mod sysctl;

use eidos_plugin_api::{
    CollectContext, CollectError, Collection, Collector, Measurement, MeasurementType, OptionDecl,
    Outcome,
};
use read::FileError;
use std::path::{Path, PathBuf};

pub use cmdline::parse_cmdline;
pub use modules::parse_modules;
pub use release::parse_os_release;

/// Entries under `/proc/sys` that are counters or per-read values, not settings: they change from
/// one run to the next on a node whose configuration did not (two snapshots a second apart differ
/// in them). Drift comparison (`eidos diff`, `eidos fleet report`) leaves them out unless asked.
pub const VOLATILE_SYSCTLS: &[&str] = &[
    // Allocated handles, inodes, dentries and AIO requests.
    "os/sysctl//proc/sys/fs/file-nr",
    "os/sysctl//proc/sys/fs/inode-nr",
    "os/sysctl//proc/sys/fs/inode-state",
    "os/sysctl//proc/sys/fs/dentry-state",
    "os/sysctl//proc/sys/fs/aio-nr",
    "os/sysctl//proc/sys/fs/dquot-nr",
    "os/sysctl//proc/sys/fs/quota/*",
    // The last PID handed out, open pseudo-terminals.
    "os/sysctl//proc/sys/kernel/ns_last_pid",
    "os/sysctl//proc/sys/kernel/pty/nr",
    // A new UUID on every read, the boot's ID, the entropy pool's fill.
    "os/sysctl//proc/sys/kernel/random/uuid",
    "os/sysctl//proc/sys/kernel/random/boot_id",
    "os/sysctl//proc/sys/kernel/random/entropy_avail",
    // Connections tracked now.
    "os/sysctl//proc/sys/net/netfilter/nf_conntrack_count",
];

/// Collects the operating-system measurement.
pub struct OsCollector;

impl Collector for OsCollector {
    const NAME: &'static str = "os";
    const DESCRIPTION: &'static str = "kernel command line, kernel modules, sysctl and os-release";
    const OPTION_SPECS: &'static [OptionDecl] = &[
        OptionDecl::string(
            "root",
            "directory the node's root filesystem is mounted at (default: the host root, usually /)",
        ),
        OptionDecl::bool(
            "sysctl-interfaces",
            "also read per-interface net conf/neigh sysctls (otherwise only all and default)",
        )
        .with_default("false"),
    ];
    const VOLATILE_KEYS: &'static [&'static str] = VOLATILE_SYSCTLS;

    /// The node's names and boot identity, and kernel command-line values that carry secrets or
    /// network configuration (`ip=` names the node's address, gateway and host name).
    const SENSITIVE_KEYS: &'static [&'static str] = &[
        "os/sysctl//proc/sys/kernel/hostname",
        "os/sysctl//proc/sys/kernel/domainname",
        "os/sysctl//proc/sys/kernel/random/boot_id",
        "os/sysctl//proc/sys/kernel/random/uuid",
        "os/grub/ip",
        "os/grub/nfsroot",
        "os/grub/*password*",
        "os/grub/*token*",
        "os/grub/*secret*",
    ];
    fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
        let root: PathBuf = match ctx.option("root") {
            Some(r) => PathBuf::from(r),
            None => ctx.host_root().to_path_buf(),
        };
        if !root.is_dir() {
            return Err(CollectError::InvalidOption {
                key: "root".into(),
                value: root.display().to_string(),
                expected: "an existing directory".into(),
            });
        }
        collect_under(&root, ctx)
    }
}

/// Reads all four subtypes under `root`. A subtype whose source file is missing is left out with a
/// warning; an unreadable `/proc/cmdline` or `/proc/sys` is an error.
///
/// The root may be hostile: each file is read only if it is a regular file inside the root (through
/// symbolic links) and at most [`read::MAX_FILE_BYTES`]; anything else leaves its subtype out with
/// a warning naming the file, and the others are still collected.
pub fn collect_under(root: &Path, ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
    let mut warnings = Vec::new();
    let mut subtypes = Vec::new();

    match read::read_under(root, "/proc/cmdline") {
        Ok(cmdline) => subtypes.push(parse_cmdline(&cmdline)),
        Err(e) if e.is_suspect() => warnings.push(format!("grub left out: {e}")),
        Err(e) => return Err(CollectError::failed(e.to_string())),
    }
    ctx.check_cancelled()?;

    match read::read_under(root, "/proc/modules") {
        Ok(text) => subtypes.push(parse_modules(&text)),
        Err(e @ FileError::NotFound(_)) => warnings.push(format!(
            "kmod left out: {e} (kernel built without module support?)"
        )),
        Err(e) if e.is_suspect() => warnings.push(format!("kmod left out: {e}")),
        Err(e) => return Err(CollectError::failed(e.to_string())),
    }
    ctx.check_cancelled()?;

    let per_interface = ctx.option_bool("sysctl-interfaces")?.unwrap_or(false);
    let sysctl_dir = read::resolve(root, "/proc/sys")
        .map_err(|e| CollectError::failed(format!("cannot read the sysctl tree: {e}")))?;
    let (sysctl, sysctl_warnings) = sysctl::read_sysctl(&sysctl_dir, per_interface, ctx)?;
    subtypes.push(sysctl);
    warnings.extend(sysctl_warnings);

    let mut release = None;
    let mut release_problems = Vec::new();
    for candidate in ["/etc/os-release", "/usr/lib/os-release"] {
        match read::read_under(root, candidate) {
            Ok(text) => {
                release = Some(parse_os_release(&text));
                break;
            }
            Err(e) if e.is_suspect() || matches!(e, FileError::NotFound(_)) => {
                release_problems.push(e.to_string());
            }
            Err(e) => return Err(CollectError::failed(e.to_string())),
        }
    }
    match release {
        Some(subtype) => subtypes.push(subtype),
        None => warnings.push(format!("release left out: {}", release_problems.join("; "))),
    }

    Ok(Outcome::Collected(Collection {
        measurements: vec![Measurement::new(MeasurementType::Os, subtypes)],
        warnings,
    }))
}

eidos_plugin_api::export_collector!(OsCollector);

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::testing::TestContext;
    use eidos_plugin_api::Reading;
    use std::collections::BTreeMap;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn run(root: &Path, options: &BTreeMap<String, String>) -> Result<Outcome, CollectError> {
        let mut test = TestContext::for_collector::<OsCollector>().host_root(root);
        for (key, value) in options {
            test = test.option(key, value);
        }
        test.collect::<OsCollector>()
    }

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "proc/cmdline",
            "BOOT_IMAGE=/boot/vmlinuz-6.8.0-1024-aws ro nokaslr hugepagesz=2M panic=-1\n",
        );
        write(
            root,
            "proc/modules",
            "nvidia 1 0 - Live 0x0\nnvidia_uvm 2 0 - Live 0x0 (O)\n",
        );
        write(root, "proc/sys/vm/swappiness", "60\n");
        write(root, "proc/sys/kernel/osrelease", "6.8.0-1024-aws\n");
        write(
            root,
            "etc/os-release",
            "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\n",
        );
        dir
    }

    #[test]
    fn reads_all_four_subtypes_from_a_fixture_host_root() {
        let dir = fixture();
        let Outcome::Collected(c) = run(dir.path(), &BTreeMap::new()).unwrap() else {
            panic!()
        };
        let m = &c.measurements[0];
        assert!(m.is(MeasurementType::Os));
        let names: Vec<_> = m.subtypes.iter().map(|s| s.subtype.as_str()).collect();
        assert_eq!(names, ["grub", "kmod", "sysctl", "release"]);
        assert_eq!(
            m.subtype("grub").unwrap().data["nokaslr"],
            Reading::Str(String::new())
        );
        assert_eq!(
            m.subtype("grub").unwrap().data["panic"],
            Reading::Str("-1".into())
        );
        assert_eq!(
            m.subtype("kmod").unwrap().data["nvidia_uvm"],
            Reading::Bool(true)
        );
        assert_eq!(
            m.subtype("sysctl").unwrap().data["/proc/sys/vm/swappiness"],
            Reading::Str("60".into())
        );
        assert_eq!(
            m.subtype("release").unwrap().data["VERSION_ID"],
            Reading::Str("22.04".into())
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn the_root_option_overrides_the_host_root() {
        let dir = fixture();
        let mut options = BTreeMap::new();
        options.insert("root".to_owned(), dir.path().display().to_string());
        let Outcome::Collected(c) = run(Path::new("/nonexistent-host-root"), &options).unwrap()
        else {
            panic!()
        };
        assert_eq!(c.measurements[0].subtypes.len(), 4);
    }

    #[test]
    fn a_missing_modules_file_is_a_warning_and_a_missing_root_an_error() {
        let dir = fixture();
        std::fs::remove_file(dir.path().join("proc/modules")).unwrap();
        let Outcome::Collected(c) = run(dir.path(), &BTreeMap::new()).unwrap() else {
            panic!()
        };
        assert!(c.measurements[0].subtype("kmod").is_none());
        assert!(c.warnings[0].contains("kmod left out"), "{:?}", c.warnings);

        let err = run(Path::new("/nonexistent-host-root"), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("existing directory"), "{err}");
    }

    #[test]
    fn reads_this_machines_real_proc() {
        let Outcome::Collected(c) = run(Path::new("/"), &BTreeMap::new()).unwrap() else {
            panic!()
        };
        let m = &c.measurements[0];
        let sysctl = m.subtype("sysctl").unwrap();
        let real = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        assert_eq!(
            sysctl.data["/proc/sys/kernel/osrelease"],
            Reading::Str(real.trim().to_owned())
        );
        assert!(
            sysctl.data.len() > 100,
            "only {} sysctl entries",
            sysctl.data.len()
        );
        let grub = m.subtype("grub").unwrap();
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap();
        let first = cmdline.split_whitespace().next().unwrap();
        assert!(grub.data.contains_key(first.split('=').next().unwrap()));
        let release = m.subtype("release").unwrap();
        assert!(release.data.contains_key("ID"));
    }

    fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }

    /// Collects from `root` and returns the subtypes' names and the warnings.
    fn collect_names(root: &Path) -> (Vec<String>, Vec<String>) {
        let Outcome::Collected(c) = run(root, &BTreeMap::new()).unwrap() else {
            panic!()
        };
        let names = c.measurements[0]
            .subtypes
            .iter()
            .map(|s| s.subtype.clone())
            .collect();
        (names, c.warnings)
    }

    #[test]
    fn a_huge_cmdline_is_a_warning_and_the_rest_is_collected() {
        let dir = fixture();
        // 1 GiB, sparse: only the cap keeps the read small.
        let file = std::fs::File::create(dir.path().join("proc/cmdline")).unwrap();
        file.set_len(1 << 30).unwrap();
        let (names, warnings) = collect_names(dir.path());
        assert_eq!(names, ["kmod", "sysctl", "release"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with("grub left out: ")
                && warnings[0].contains("proc/cmdline is larger than 1024 KiB"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_fifo_or_a_link_to_a_device_is_refused_without_blocking() {
        let dir = fixture();
        std::fs::remove_file(dir.path().join("proc/cmdline")).unwrap();
        mkfifo(&dir.path().join("proc/cmdline"));
        std::fs::remove_file(dir.path().join("proc/modules")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("proc/modules")).unwrap();
        mkfifo(&dir.path().join("proc/sys/vm/fifo"));
        std::fs::remove_file(dir.path().join("etc/os-release")).unwrap();
        std::os::unix::fs::symlink("/etc/os-release", dir.path().join("etc/os-release")).unwrap();

        let (names, warnings) = collect_names(dir.path());
        assert_eq!(names, ["sysctl"]);
        let text = warnings.join("\n");
        assert!(
            text.contains("grub left out: ") && text.contains("cmdline is not a regular file"),
            "{text}"
        );
        assert!(
            text.contains("kmod left out: ") && text.contains("outside the host root"),
            "{text}"
        );
        assert!(text.contains("release left out: "), "{text}");
    }

    #[test]
    fn a_proc_sys_outside_the_root_is_an_error_and_a_huge_entry_a_warning() {
        let dir = fixture();
        let big = std::fs::File::create(dir.path().join("proc/sys/vm/huge")).unwrap();
        big.set_len(8 << 20).unwrap();
        let (names, warnings) = collect_names(dir.path());
        assert_eq!(names, ["grub", "kmod", "sysctl", "release"]);
        assert!(
            warnings.len() == 1 && warnings[0].starts_with("sysctl /proc/sys/vm/huge left out: "),
            "{warnings:?}"
        );

        std::fs::remove_dir_all(dir.path().join("proc/sys")).unwrap();
        std::os::unix::fs::symlink("/proc/sys", dir.path().join("proc/sys")).unwrap();
        let err = run(dir.path(), &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("outside the host root"), "{err}");
    }
}

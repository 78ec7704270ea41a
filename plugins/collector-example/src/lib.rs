//! The example collector of `docs/plugin-development.md`: the node's load average
//! (`/proc/loadavg`) and, unless `--set example.uptime=false`, how long it has been up
//! (`/proc/uptime`).
//!
//! It is the guide's walk-through as a real crate, kept small on purpose: one option, one
//! "not applicable" case, one warning, errors that name the file, a cancellation check, and readings
//! that keep their exact values. It only reads two world-readable files under the host root, so it
//! is harmless wherever eidos finds it.

use eidos_plugin_api::tracing;
use eidos_plugin_api::{
    CollectContext, CollectError, Collector, Measurement, OptionDecl, Outcome, Subtype,
};

/// The measurement type this collector writes. A vendor collector picks its own type name.
pub const MEASUREMENT_TYPE: &str = "example";

/// Reads the load average and the uptime.
pub struct ExampleCollector;

impl Collector for ExampleCollector {
    const NAME: &'static str = "example";
    const DESCRIPTION: &'static str = "load average and uptime (the plugin guide's example)";
    const OPTION_SPECS: &'static [OptionDecl] =
        &[OptionDecl::bool("uptime", "also read /proc/uptime").with_default("true")];
    // Every reading here moves from one run to the next on an untouched node: drift comparison
    // (`eidos diff`, `eidos fleet report`) leaves them out unless asked.
    const VOLATILE_KEYS: &'static [&'static str] = &["example/loadavg/*", "example/uptime/*"];

    fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
        // Read options before doing any work. The host has checked the value against the declared
        // type; `option_bool` applies the declared default when the option is not set.
        let with_uptime = ctx.option_bool("uptime")?.unwrap_or(true);

        let loadavg_path = ctx.host_path("/proc/loadavg");
        let loadavg_text = match std::fs::read_to_string(&loadavg_path) {
            Ok(text) => text,
            // No /proc under the host root: this node is not one this collector can read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Outcome::not_applicable(format!(
                    "{} does not exist (no Linux /proc under the host root)",
                    loadavg_path.display()
                )));
            }
            Err(e) => {
                return Err(CollectError::failed(format!(
                    "reading {}: {e}",
                    loadavg_path.display()
                )));
            }
        };
        let loadavg = parse_loadavg(&loadavg_text).ok_or_else(|| {
            CollectError::failed(format!(
                "{}: unexpected contents {:?}, expected \
                 \"LOAD1 LOAD5 LOAD15 RUNNABLE/TOTAL LAST_PID\"",
                loadavg_path.display(),
                loadavg_text.trim_end()
            ))
        })?;
        let mut subtypes = vec![loadavg];
        let mut warnings = Vec::new();

        // Between steps: stop early if the host gave up on us (timeout, or another collector
        // failed first).
        ctx.check_cancelled()?;

        if with_uptime {
            let uptime_path = ctx.host_path("/proc/uptime");
            // Ordinary `tracing` calls: the export macro carries them back to the host, which shows
            // them with `collector=example` at the level the operator asked for (`--debug`).
            tracing::debug!(path = %uptime_path.display(), "reading the uptime");
            // The uptime is a bonus: if it cannot be read, say so and keep the load average.
            match std::fs::read_to_string(&uptime_path).map(|text| parse_uptime(&text)) {
                Ok(Some(uptime)) => subtypes.push(uptime),
                Ok(None) => warnings.push(format!(
                    "uptime left out: {} has unexpected contents",
                    uptime_path.display()
                )),
                Err(e) => warnings.push(format!(
                    "uptime left out: reading {}: {e}",
                    uptime_path.display()
                )),
            }
        }

        Ok(Outcome::with_warnings(
            vec![Measurement::new(MEASUREMENT_TYPE, subtypes)],
            warnings,
        ))
    }
}

/// Parses `/proc/loadavg` (`0.52 0.58 0.59 2/1234 56789`) into the `loadavg` subtype. The three
/// load averages stay text exactly as the kernel wrote them; the counts become integers. `None` if
/// the text does not have that shape.
pub fn parse_loadavg(text: &str) -> Option<Subtype> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [load1, load5, load15, tasks, last_pid] = fields.as_slice() else {
        return None;
    };
    for load in [load1, load5, load15] {
        load.parse::<f64>().ok()?;
    }
    let (runnable, total) = tasks.split_once('/')?;
    Some(
        Subtype::new("loadavg")
            .with("load-1m", *load1)
            .with("load-5m", *load5)
            .with("load-15m", *load15)
            .with("runnable", runnable.parse::<u64>().ok()?)
            .with("scheduling-entities", total.parse::<u64>().ok()?)
            .with("last-pid", last_pid.parse::<u64>().ok()?),
    )
}

/// Parses `/proc/uptime` (`12345.67 23456.78`) into the `uptime` subtype: whole seconds since
/// boot, as an exact integer. `None` if the text does not have that shape.
pub fn parse_uptime(text: &str) -> Option<Subtype> {
    let first = text.split_whitespace().next()?;
    let (whole, fraction) = first.split_once('.').unwrap_or((first, ""));
    if !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(Subtype::new("uptime").with("seconds", whole.parse::<u64>().ok()?))
}

eidos_plugin_api::export_collector!(ExampleCollector);

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::testing::TestContext;
    use eidos_plugin_api::{Collection, Reading};
    use std::path::Path;

    /// A host root with the two files this collector reads.
    fn host_root(loadavg: Option<&str>, uptime: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("proc")).unwrap();
        if let Some(text) = loadavg {
            std::fs::write(dir.path().join("proc/loadavg"), text).unwrap();
        }
        if let Some(text) = uptime {
            std::fs::write(dir.path().join("proc/uptime"), text).unwrap();
        }
        dir
    }

    /// Runs the collector the way the host does, with the given options and cancellation flag.
    fn collect_with(
        root: &Path,
        options: &[(&str, &str)],
        cancelled: bool,
    ) -> Result<Outcome, CollectError> {
        let mut test = TestContext::for_collector::<ExampleCollector>().host_root(root);
        for (key, value) in options {
            test = test.option(*key, *value);
        }
        if cancelled {
            test = test.cancelled();
        }
        test.collect::<ExampleCollector>()
    }

    fn collected(outcome: Outcome) -> Collection {
        match outcome {
            Outcome::Collected(c) => c,
            other => panic!("expected measurements, got {other:?}"),
        }
    }

    #[test]
    fn reads_both_files_with_exact_values() {
        let root = host_root(
            Some("0.52 0.58 0.59 2/1234 4194304\n"),
            Some("12345.67 23456.78\n"),
        );
        let c = collected(collect_with(root.path(), &[], false).unwrap());
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let m = &c.measurements[0];
        assert_eq!(m.kind, "example");
        let load = m.subtype("loadavg").unwrap();
        assert_eq!(load.data["load-1m"], Reading::Str("0.52".into()));
        assert_eq!(load.data["load-15m"], Reading::Str("0.59".into()));
        assert_eq!(load.data["runnable"], Reading::Int(2));
        assert_eq!(load.data["scheduling-entities"], Reading::Int(1234));
        assert_eq!(load.data["last-pid"], Reading::Int(4_194_304));
        assert_eq!(
            m.subtype("uptime").unwrap().data["seconds"],
            Reading::Int(12345)
        );
    }

    #[test]
    fn the_uptime_option_turns_uptime_off_and_a_bad_value_is_an_error_naming_it() {
        let root = host_root(Some("0.00 0.01 0.05 1/80 99\n"), Some("5.00 9.00\n"));
        let c = collected(collect_with(root.path(), &[("uptime", "false")], false).unwrap());
        let names: Vec<_> = c.measurements[0]
            .subtypes
            .iter()
            .map(|s| s.subtype.as_str())
            .collect();
        assert_eq!(names, ["loadavg"]);

        let err = collect_with(root.path(), &[("uptime", "maybe")], false).unwrap_err();
        assert_eq!(
            err,
            CollectError::InvalidOption {
                key: "uptime".into(),
                value: "maybe".into(),
                expected: eidos_plugin_api::options::bool_expected(),
            }
        );
    }

    #[test]
    fn no_proc_under_the_host_root_is_not_applicable() {
        let root = host_root(None, None);
        match collect_with(root.path(), &[], false).unwrap() {
            Outcome::NotApplicable(reason) => {
                assert!(reason.contains("proc/loadavg does not exist"), "{reason}")
            }
            other => panic!("expected not applicable, got {other:?}"),
        }
    }

    #[test]
    fn a_missing_uptime_is_a_warning_and_a_garbled_loadavg_an_error() {
        let root = host_root(Some("0.52 0.58 0.59 2/1234 56789\n"), None);
        let c = collected(collect_with(root.path(), &[], false).unwrap());
        assert_eq!(c.measurements[0].subtypes.len(), 1);
        assert!(
            c.warnings[0].starts_with("uptime left out: reading "),
            "{:?}",
            c.warnings
        );

        let root = host_root(Some("not a load average\n"), None);
        let err = collect_with(root.path(), &[], false).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("proc/loadavg: unexpected contents"),
            "{message}"
        );
        assert!(message.contains("\"not a load average\""), "{message}");
    }

    #[test]
    fn a_cancelled_run_stops_with_cancelled() {
        let root = host_root(Some("0.52 0.58 0.59 2/1234 56789\n"), Some("1.0 1.0\n"));
        assert_eq!(
            collect_with(root.path(), &[], true).unwrap_err(),
            CollectError::Cancelled
        );
    }

    #[test]
    fn parsers_refuse_text_of_the_wrong_shape() {
        for bad in [
            "",
            "0.1 0.2 0.3 1/2",
            "0.1 0.2 0.3 1/2 3 4",
            "x 0.2 0.3 1/2 3",
            "0.1 0.2 0.3 12 3",
            "0.1 0.2 0.3 1/2 -3",
        ] {
            assert_eq!(parse_loadavg(bad), None, "{bad:?}");
        }
        assert_eq!(parse_uptime(""), None);
        assert_eq!(parse_uptime("12.3x 4"), None);
        assert_eq!(
            parse_uptime("18446744073709551615.00 0").unwrap().data["seconds"],
            Reading::Uint(u64::MAX)
        );
    }

    #[test]
    fn reads_this_machines_real_proc() {
        let c = collected(collect_with(Path::new("/"), &[], false).unwrap());
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let load = c.measurements[0].subtype("loadavg").unwrap();
        let real = std::fs::read_to_string("/proc/loadavg").unwrap();
        let real_last_pid = real.split_whitespace().nth(4).unwrap();
        // The last PID moves while the test runs; it can only grow or wrap, never be absent.
        assert!(matches!(load.data["last-pid"], Reading::Int(n) if n > 0));
        assert!(real_last_pid.parse::<u64>().is_ok());
        let Reading::Int(seconds) = c.measurements[0].subtype("uptime").unwrap().data["seconds"]
        else {
            panic!("uptime seconds is not an integer")
        };
        let real_uptime: f64 = std::fs::read_to_string("/proc/uptime")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((seconds as f64) <= real_uptime && real_uptime - (seconds as f64) < 60.0);
    }
}

//! The `systemd` collector plugin: reads the properties of chosen systemd units over D-Bus.
//!
//! For every unit (`--set systemd.units=a.service,b.service`, default containerd, docker and
//! kubelet) it writes one subtype named after the unit, holding every property of the unit's
//! `org.freedesktop.systemd1.Unit` interface and of its type's interface
//! (`org.freedesktop.systemd1.Service` for a service), sorted by name. See [`render`] for how
//! values become readings, and [`systemd`] for how a unit that is not loaded is read without
//! leaving it loaded. A unit that is not installed is reported as systemd reports it
//! (`LoadState: not-found`), not as an error.
//!
//! The bus is the system bus unless `--set systemd.bus=session` or `--set systemd.bus=ADDRESS`
//! says otherwise. No bus there, or no systemd on it, makes the collector "not applicable".
//! All D-Bus traffic runs on zbus's own small runtime on the host's collector thread, bounded by
//! the host's timeout. The host's cancellation is honoured between the steps of a collection
//! (connecting, finding the units, reading them) and, while a step waits on D-Bus, within
//! 10 ms. Nothing is executed.

pub mod render;
pub mod settings;
pub mod systemd;
mod wait;

use eidos_plugin_api::{
    CollectContext, CollectError, Collection, Collector, Measurement, MeasurementType, OptionDecl,
    Outcome, Subtype,
};
use settings::{Settings, UnitName};
use std::time::Duration;
use systemd::{Systemd, SystemdError, UNIT_INTERFACE};
use wait::{join_all, until_cancelled};
use zbus::OwnedObjectPath;

/// How often a collection waiting on D-Bus looks at the host's cancellation flag.
const CANCEL_CHECK_PERIOD: Duration = Duration::from_millis(10);

/// Unit properties that change while a unit runs or each time it restarts, on a node whose
/// configuration did not change: when things happened, which processes run, what they use. Drift
/// comparison (`eidos diff`, `eidos fleet report`) leaves them out unless asked.
///
/// The `Exec*` command lines are among them: systemd reports each with the PIDs and times of its
/// last run (`[[/usr/bin/containerd [...] false 1773232804981350 ... 1342 0 0]]`). A changed unit
/// file or drop-in still shows, in `FragmentPath`, `DropInPaths` and the properties it sets.
pub const VOLATILE_PROPERTIES: &[&str] = &[
    // When the unit last changed state, in wall-clock and monotonic microseconds.
    "systemd/*/*Timestamp",
    "systemd/*/*TimestampMonotonic",
    // Which processes run now, how the last one ended, and the command lines with their last
    // run's PIDs and times.
    "systemd/*/MainPID",
    "systemd/*/ControlPID",
    "systemd/*/ExecMain*",
    "systemd/*/ExecStart*",
    "systemd/*/ExecStop*",
    "systemd/*/ExecReload*",
    "systemd/*/ExecCondition*",
    "systemd/*/InvocationID",
    // The unit's cgroup is made anew on each start, with a new ID.
    "systemd/*/ControlGroupId",
    "systemd/*/NRestarts",
    // What the unit uses now: memory, CPU time, tasks, I/O and network counters.
    "systemd/*/MemoryCurrent",
    "systemd/*/MemoryPeak",
    "systemd/*/MemoryAvailable",
    "systemd/*/MemorySwapCurrent",
    "systemd/*/MemorySwapPeak",
    "systemd/*/MemoryZSwapCurrent",
    "systemd/*/CPUUsageNSec",
    "systemd/*/TasksCurrent",
    "systemd/*/IORead*",
    "systemd/*/IOWrite*",
    "systemd/*/IPIngress*",
    "systemd/*/IPEgress*",
    "systemd/*/EffectiveCPUs",
    "systemd/*/EffectiveMemoryNodes",
    // The job systemd runs on the unit at this moment, if any.
    "systemd/*/Job",
];

/// Collects the systemd measurement.
pub struct SystemdCollector;

impl Collector for SystemdCollector {
    const NAME: &'static str = "systemd";
    const DESCRIPTION: &'static str =
        "properties of systemd units (containerd, docker, kubelet by default), read over D-Bus";
    const OPTION_SPECS: &'static [OptionDecl] = &[
        OptionDecl::list("units", "the units to read")
            .with_default("containerd.service,docker.service,kubelet.service"),
        OptionDecl::string(
            "bus",
            "system, session, or a D-Bus address such as unix:path=/run/dbus/system_bus_socket",
        )
        .with_default("system"),
    ];
    const VOLATILE_KEYS: &'static [&'static str] = VOLATILE_PROPERTIES;

    /// A unit's invocation ID identifies one run of it on one node. Secrets in `Environment`
    /// lines (`TOKEN=…`) are found by the redaction detectors wherever they are.
    const SENSITIVE_KEYS: &'static [&'static str] = &["systemd/*/InvocationID"];
    fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
        let settings = Settings::parse(ctx.option("units"), ctx.option("bus"))?;
        let address = settings
            .bus
            .address(ctx.host_root())
            .map_err(|e| CollectError::failed(format!("finding the D-Bus address: {e}")))?;
        ctx.check_cancelled()?;
        let budget = ctx.remaining();
        if budget.is_zero() {
            return Err(CollectError::failed(
                "no time left to ask systemd (the host's timeout has passed)",
            ));
        }
        zruntime::block_on(async {
            let runtime = zruntime::SharedRuntime::current()
                .map_err(|e| CollectError::failed(format!("starting the D-Bus runtime: {e}")))?;
            let work = runtime.timeout(budget, read_units(address, &settings.units, budget, ctx));
            match until_cancelled(&runtime, CANCEL_CHECK_PERIOD, || ctx.is_cancelled(), work).await
            {
                None => Err(CollectError::Cancelled),
                Some(Err(_timed_out)) => Err(CollectError::failed(format!(
                    "systemd did not answer within {budget:?}"
                ))),
                Some(Ok(outcome)) => outcome,
            }
        })
    }
}

/// Reads every unit over one connection. The requests for all units go out together: first
/// every unit's object path, then every unit's properties, so that a collection costs a few
/// round trips to systemd rather than a few per unit. The host's cancellation is checked before
/// each of the two steps (and watched by the caller while they wait).
async fn read_units(
    address: zbus::Address,
    units: &[UnitName],
    timeout: Duration,
    ctx: &CollectContext<'_>,
) -> Result<Outcome, CollectError> {
    let systemd = match Systemd::connect(address, timeout).await {
        Ok(systemd) => systemd,
        Err(e) if e.means_no_systemd() => return Ok(Outcome::not_applicable(e.to_string())),
        Err(e) => return Err(CollectError::failed(e)),
    };
    ctx.check_cancelled()?;
    let paths = join_all(units.iter().map(|unit| systemd.unit_path(unit.as_str()))).await;
    ctx.check_cancelled()?;
    let reads = join_all(
        units
            .iter()
            .zip(paths)
            .map(|(unit, path)| read_unit(&systemd, unit, path)),
    )
    .await;

    let mut subtypes = Vec::with_capacity(units.len());
    let mut warnings = Vec::new();
    for (unit, read) in units.iter().zip(reads) {
        match read {
            Ok((subtype, unit_warnings)) => {
                subtypes.push(subtype);
                warnings.extend(unit_warnings);
            }
            Err(e) if e.means_no_systemd() => return Ok(Outcome::not_applicable(e.to_string())),
            Err(e) if e.is_about_one_unit() => {
                tracing::warn!(unit = unit.as_str(), error = %e, "unit left out");
                warnings.push(format!("{} left out: {e}", unit.as_str()));
            }
            Err(e) => return Err(CollectError::failed(e)),
        }
    }
    Ok(Outcome::Collected(Collection {
        measurements: vec![Measurement::new(MeasurementType::SystemD, subtypes)],
        warnings,
    }))
}

/// Reads one unit found at `path`: its `Unit` properties and, where systemd has them, its
/// type's properties (both requests at once).
async fn read_unit(
    systemd: &Systemd,
    unit: &UnitName,
    path: Result<OwnedObjectPath, SystemdError>,
) -> Result<(Subtype, Vec<String>), SystemdError> {
    let name = unit.as_str();
    let path = path?;
    let [common, specific]: [_; 2] = join_all(
        [UNIT_INTERFACE, unit.type_interface()]
            .map(|interface| systemd.properties(name, &path, interface)),
    )
    .await
    .try_into()
    .map_err(|_| SystemdError::Internal("two requests gave a different number of answers"))?;

    let mut subtype = Subtype::new(name);
    let mut warnings = Vec::new();
    for (key, value) in common? {
        subtype.insert(key, value);
    }
    match specific {
        Ok(readings) => {
            for (key, value) in readings {
                subtype.data.entry(key).or_insert(value);
            }
        }
        Err(e) if e.is_about_one_unit() => warnings.push(format!(
            "{name}: {} properties left out: {e}",
            unit.type_interface()
        )),
        Err(e) => return Err(e),
    }
    subtype.sort();
    Ok((subtype, warnings))
}

eidos_plugin_api::export_collector!(SystemdCollector);

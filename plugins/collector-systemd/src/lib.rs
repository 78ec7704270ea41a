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
//! the host's timeout; the host's cancellation is honoured between units. Nothing is executed.

pub mod render;
pub mod settings;
pub mod systemd;

use eidos_plugin_api::{
    CollectContext, CollectError, Collection, Collector, Measurement, MeasurementType, Outcome,
    Subtype,
};
use settings::{Settings, UnitName};
use std::time::Duration;
use systemd::{Systemd, SystemdError, UNIT_INTERFACE};

/// Collects the systemd measurement.
pub struct SystemdCollector;

impl Collector for SystemdCollector {
    const NAME: &'static str = "systemd";
    const DESCRIPTION: &'static str =
        "properties of systemd units (containerd, docker, kubelet by default), read over D-Bus";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        (
            "units",
            "comma-separated units to read (default: containerd.service,docker.service,kubelet.service)",
        ),
        (
            "bus",
            "system (default), session, or a D-Bus address such as unix:path=/run/dbus/system_bus_socket",
        ),
    ];

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
            runtime
                .timeout(budget, read_units(address, &settings.units, budget, ctx))
                .await
                .unwrap_or_else(|_| {
                    Err(CollectError::failed(format!(
                        "systemd did not answer within {budget:?}"
                    )))
                })
        })
    }
}

/// Reads every unit over one connection, stopping between units if the host cancels.
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
    let mut subtypes = Vec::with_capacity(units.len());
    let mut warnings = Vec::new();
    for unit in units {
        ctx.check_cancelled()?;
        match read_unit(&systemd, unit).await {
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

/// Reads one unit: its `Unit` properties and, where systemd has them, its type's properties.
async fn read_unit(
    systemd: &Systemd,
    unit: &UnitName,
) -> Result<(Subtype, Vec<String>), SystemdError> {
    let name = unit.as_str();
    let path = systemd.unit_path(name).await?;
    let mut subtype = Subtype::new(name);
    let mut warnings = Vec::new();
    for (key, value) in systemd.properties(name, &path, UNIT_INTERFACE).await? {
        subtype.insert(key, value);
    }
    match systemd.properties(name, &path, unit.type_interface()).await {
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

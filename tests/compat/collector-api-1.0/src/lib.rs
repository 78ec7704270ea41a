//! Fixture: a collector written against plugin API 1.0.0 that uses every part of that contract the
//! host has to honour: its name, description, version and declared options in the manifest; an
//! option value and the host root in the request; readings of every kind with exact values; a
//! warning; and "not applicable" (`--set legacy.mode=not-applicable`).

use eidos_plugin_api::{
    CollectContext, CollectError, Collection, Collector, Measurement, Outcome, Subtype,
};

/// The collector built against the older contract.
pub struct Legacy;

impl Collector for Legacy {
    const NAME: &'static str = "legacy";
    const DESCRIPTION: &'static str = "test fixture built against plugin API 1.0.0";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        ("marker", "text echoed back in the measurement"),
        ("mode", "collect (default) or not-applicable"),
    ];

    fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
        if ctx.option("mode") == Some("not-applicable") {
            return Ok(Outcome::not_applicable("legacy fixture asked not to apply"));
        }
        ctx.check_cancelled()?;
        let osrelease_path = ctx.host_path("/proc/sys/kernel/osrelease");
        let osrelease = std::fs::read_to_string(&osrelease_path).map_err(|e| {
            CollectError::failed(format!("reading {}: {e}", osrelease_path.display()))
        })?;
        let timeout_ms = u64::try_from(ctx.timeout().as_millis()).unwrap_or(u64::MAX);
        let readings = Subtype::new("readings")
            .with("u64-max", u64::MAX)
            .with("i64-min", i64::MIN)
            .with("flag", true)
            .with("ratio", 0.25)
            .with("zero-text", "0")
            .with("marker", ctx.option("marker").unwrap_or("unset"))
            .with("api-version", eidos_plugin_api::PLUGIN_API_VERSION)
            .with("timeout-ms", timeout_ms);
        let host = Subtype::new("host").with("osrelease", osrelease.trim());
        Ok(Outcome::Collected(Collection {
            measurements: vec![Measurement {
                kind: "legacy".to_owned(),
                subtypes: vec![readings, host],
            }],
            warnings: vec!["legacy fixture warning".to_owned()],
        }))
    }
}

eidos_plugin_api::export_collector!(Legacy);

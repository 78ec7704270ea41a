//! Fixture: a collector built against a later minor plugin API than the host's. Its manifest and its
//! answers carry fields the host does not know, and the request it gets lacks a field its contract
//! has; the host must load it, run it and ignore what it does not know.

use eidos_plugin_api::{CollectContext, CollectError, Collector, Measurement, Outcome, Subtype};

/// The collector built against the newer contract.
pub struct Newer;

impl Collector for Newer {
    const NAME: &'static str = "newer";
    const DESCRIPTION: &'static str = "test fixture built against a later minor plugin API";
    const OPTIONS: &'static [(&'static str, &'static str)] =
        &[("marker", "text echoed back in the measurement")];

    fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
        ctx.check_cancelled()?;
        let readings = Subtype::new("readings")
            .with("api-version", eidos_plugin_api::PLUGIN_API_VERSION)
            .with("marker", ctx.option("marker").unwrap_or("unset"))
            .with("u64-max", u64::MAX);
        Ok(Outcome::one(Measurement {
            kind: "newer".to_owned(),
            subtypes: vec![readings],
        }))
    }
}

eidos_plugin_api::export_collector!(Newer);

//! Fixture: a collector written against plugin API 1.1.0, using the parts of that Rust interface a
//! plugin's source relies on and that must keep compiling with every later 1.x: `OPTIONS` as
//! `(key, help)` pairs, `ctx.option()` and `ctx.bool_option()`, `CollectError::InvalidOption` (a
//! usage error since 1.1), the `Collection` and `Measurement` struct literals, `Measurement::new`
//! with a `MeasurementType`, `Subtype` readings, and a warning.

use eidos_plugin_api::{
    CollectContext, CollectError, Collection, Collector, Measurement, MeasurementType, Outcome,
    Subtype,
};

/// The collector built against the 1.1.0 contract.
pub struct Compat11;

impl Collector for Compat11 {
    const NAME: &'static str = "compat11";
    const DESCRIPTION: &'static str = "test fixture written against plugin API 1.1.0";
    const OPTIONS: &'static [(&'static str, &'static str)] = &[
        ("marker", "text echoed back in the measurement"),
        (
            "count",
            "a whole number, checked by the collector (default 1)",
        ),
        ("verbose", "true or false (default false)"),
    ];

    fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
        let count: i64 = match ctx.option("count") {
            None => 1,
            Some(text) => text.parse().map_err(|_| CollectError::InvalidOption {
                key: "count".to_owned(),
                value: text.to_owned(),
                expected: "a whole number".to_owned(),
            })?,
        };
        let verbose = ctx.bool_option("verbose", false)?;
        ctx.check_cancelled()?;
        let readings = Subtype::new("readings")
            .with("marker", ctx.option("marker").unwrap_or("unset"))
            .with("count", count)
            .with("verbose", verbose)
            .with("u64-max", u64::MAX)
            .with("api-version", eidos_plugin_api::PLUGIN_API_VERSION);
        let os = Measurement::new(
            MeasurementType::Os,
            vec![Subtype::new("compat11").with("written-by", "compat11")],
        );
        Ok(Outcome::Collected(Collection {
            measurements: vec![
                Measurement {
                    kind: "compat11".to_owned(),
                    subtypes: vec![readings],
                },
                os,
            ],
            warnings: vec!["compat11 fixture warning".to_owned()],
        }))
    }
}

eidos_plugin_api::export_collector!(Compat11);

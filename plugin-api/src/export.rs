//! The glue behind [`crate::export_collector!`] and [`crate::export_serializer!`]: turns a plain Rust
//! implementation into the ABI entry points, converting JSON at the boundary and turning panics into
//! errors so that a plugin can never unwind into (or abort) the host.

use crate::abi::PluginModule;
use crate::collector::{CancelToken, CollectContext, CollectError, Collector, Outcome};
use crate::manifest::{Manifest, OptionSpec, PluginKind};
use crate::serializer::{SerializeOptions, Serializer};
use crate::wire::{CollectReply, CollectRequest, CollectResponse, SerializeRequest};
use abi_stable::std_types::{RErr, ROk, RResult, RStr, RString, RVec};
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Once;
use std::time::Duration;

/// The symbol abi_stable looks up in a plugin library (`abi_stable::library::ROOT_MODULE_LOADER_NAME`,
/// checked by a test).
pub const ROOT_MODULE_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

thread_local! {
    static PANIC_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per plugin library, a panic hook that records where a panic happened instead of
/// printing to the host's stderr: the host reports the panic as the plugin's error.
fn install_quiet_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()));
            PANIC_LOCATION.with(|cell| *cell.borrow_mut() = location);
        }));
    });
}

/// Runs `f`, turning a panic into `Err` with the panic message and location.
pub fn guard<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_quiet_panic_hook();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-text panic payload".to_owned());
        let location = PANIC_LOCATION.with(|cell| cell.borrow_mut().take());
        match location {
            Some(at) => format!("plugin panicked: {message} (at {at})"),
            None => format!("plugin panicked: {message}"),
        }
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> RString {
    // Serializing these plain data types cannot fail; keep a readable fallback all the same.
    serde_json::to_string(value)
        .unwrap_or_else(|e| {
            format!(r#"{{"status":"error","message":"plugin could not encode its answer: {e}"}}"#)
        })
        .into()
}

/// The options collector `C` declares, as manifest entries: its untyped `OPTIONS` (those not also
/// declared typed), then its typed `OPTION_SPECS`.
pub fn option_specs<C: Collector>() -> Vec<OptionSpec> {
    let typed = C::OPTION_SPECS;
    C::OPTIONS
        .iter()
        .filter(|(key, _)| !typed.iter().any(|d| d.key == *key))
        .map(|(key, description)| OptionSpec::untyped(*key, *description))
        .chain(typed.iter().map(|d| d.to_spec()))
        .collect()
}

/// The manifest of collector `C`, as JSON.
pub fn collector_manifest<C: Collector>(version: &str) -> RString {
    let manifest = Manifest {
        name: C::NAME.to_owned(),
        kind: PluginKind::Collector,
        version: version.to_owned(),
        api_version: crate::PLUGIN_API_VERSION.to_owned(),
        description: C::DESCRIPTION.to_owned(),
        formats: Vec::new(),
        options: option_specs::<C>(),
        volatile_keys: C::VOLATILE_KEYS.iter().map(|k| (*k).to_owned()).collect(),
        sensitive_keys: C::SENSITIVE_KEYS.iter().map(|k| (*k).to_owned()).collect(),
    };
    to_json(&manifest)
}

/// The manifest of serializer `S`, as JSON.
pub fn serializer_manifest<S: Serializer>(version: &str) -> RString {
    let manifest = Manifest {
        name: S::NAME.to_owned(),
        kind: PluginKind::Serializer,
        version: version.to_owned(),
        api_version: crate::PLUGIN_API_VERSION.to_owned(),
        description: S::DESCRIPTION.to_owned(),
        formats: S::FORMATS.iter().map(|f| (*f).to_owned()).collect(),
        options: Vec::new(),
        volatile_keys: Vec::new(),
        sensitive_keys: Vec::new(),
    };
    to_json(&manifest)
}

/// Decodes a collect request, runs collector `C`, and encodes its answer.
pub fn run_collector<C: Collector>(request: RStr<'_>, cancelled: &AtomicBool) -> RString {
    let response = match serde_json::from_str::<CollectRequest>(request.as_str()) {
        Err(e) => CollectResponse::error(format!("malformed collect request: {e}")),
        Ok(req) => {
            let root = Path::new(&req.host_root);
            let specs = option_specs::<C>();
            let ctx = CollectContext::new(
                &req.options,
                root,
                Duration::from_millis(req.timeout_ms),
                CancelToken::new(cancelled),
            )
            .with_option_specs(&specs);
            let level = req.log_level.as_deref().and_then(crate::logs::parse_level);
            let (outcome, logs) = crate::logs::capture(level, || guard(|| C::collect(&ctx)));
            let response = match outcome {
                Err(panic) => CollectResponse::error(panic),
                Ok(Err(e)) => CollectResponse::Error {
                    invalid_option: matches!(e, CollectError::InvalidOption { .. }),
                    message: e.to_string(),
                },
                Ok(Ok(Outcome::NotApplicable(reason))) => CollectResponse::NotApplicable { reason },
                Ok(Ok(Outcome::Collected(c))) => CollectResponse::Ok {
                    measurements: c.measurements,
                    warnings: c.warnings,
                },
            };
            return to_json(&CollectReply { response, logs });
        }
    };
    to_json(&response)
}

/// Decodes a serialize request and runs serializer `S`.
pub fn run_serializer<S: Serializer>(request: RStr<'_>) -> RResult<RVec<u8>, RString> {
    let req = match serde_json::from_str::<SerializeRequest>(request.as_str()) {
        Ok(req) => req,
        Err(e) => return RErr(format!("malformed serialize request: {e}").into()),
    };
    if !S::FORMATS.contains(&req.format.as_str()) {
        return RErr(format!("{} does not write format {:?}", S::NAME, req.format).into());
    }
    let options = SerializeOptions::default().with_width(req.width);
    match guard(|| S::serialize_with(&req.document, &req.format, &options)) {
        Err(panic) => RErr(panic.into()),
        Ok(Err(e)) => RErr(e.to_string().into()),
        Ok(Ok(bytes)) => ROk(bytes.into()),
    }
}

/// The `collect` entry point of a serializer plugin: always an error.
pub fn not_a_collector(name: &str) -> RString {
    to_json(&CollectResponse::error(format!(
        "{name} is a serializer, not a collector"
    )))
}

/// The `serialize` entry point of a collector plugin: always an error.
pub fn not_a_serializer(name: &str) -> RResult<RVec<u8>, RString> {
    RErr(format!("{name} is a collector, not a serializer").into())
}

/// The manifest entry point type.
pub type ManifestFn = extern "C" fn() -> RString;
/// The collect entry point type.
pub type CollectFn = extern "C" fn(RStr<'_>, &AtomicBool) -> RString;
/// The serialize entry point type.
pub type SerializeFn = extern "C" fn(RStr<'_>) -> RResult<RVec<u8>, RString>;

/// Builds the root module from the three entry points.
pub fn root_module(
    manifest: ManifestFn,
    collect: CollectFn,
    serialize: SerializeFn,
) -> crate::abi::PluginModuleRef {
    use abi_stable::prefix_type::PrefixTypeTrait;
    PluginModule {
        manifest,
        collect,
        serialize,
    }
    .leak_into_prefix()
}

/// Builds a root module that claims a future API major version (test fixtures only).
pub fn future_root_module(
    manifest: ManifestFn,
    collect: CollectFn,
    serialize: SerializeFn,
) -> crate::abi::future_api::FutureModuleRef {
    use abi_stable::prefix_type::PrefixTypeTrait;
    crate::abi::future_api::FutureModule {
        manifest,
        collect,
        serialize,
    }
    .leak_into_prefix()
}

/// Exports a root module: the `#[no_mangle]` library header abi_stable's loader looks for. This is
/// what `#[abi_stable::export_root_module]` expands to, written with `$crate` paths so that plugin
/// crates need no direct dependency on abi_stable.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_root_module {
    ($module_ref:ty, $build:expr) => {
        fn __eidos_build_root_module() -> $module_ref {
            $build
        }

        #[no_mangle]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::abi_stable::library::LibHeader = {
            extern "C" fn __eidos_erased_root_module() -> $crate::abi_stable::library::RootModuleResult {
                $crate::abi_stable::library::__call_root_module_loader(__eidos_build_root_module)
            }
            // SAFETY: the constructor returns the root module of type `$module_ref`, which is what
            // `from_constructor` requires (the same contract `#[export_root_module]` relies on).
            unsafe {
                $crate::abi_stable::library::LibHeader::from_constructor::<$module_ref>(
                    __eidos_erased_root_module,
                    $crate::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    };
}

/// Turns a [`crate::Collector`] implementation into a loadable eidos plugin.
///
/// Put `eidos_plugin_api::export_collector!(MyCollector);` once in a `cdylib` crate. The plugin's
/// version is the crate's `CARGO_PKG_VERSION`.
#[macro_export]
macro_rules! export_collector {
    ($collector:ty) => {
        $crate::__export_collector_as!(
            $collector,
            $crate::abi::PluginModuleRef,
            $crate::export::root_module
        );
    };
}

/// The entry points of a collector plugin, exported under the given root module type and builder
/// (the real one, or the future-API fixture's).
#[doc(hidden)]
#[macro_export]
macro_rules! __export_collector_as {
    ($collector:ty, $module_ref:ty, $build:path) => {
        extern "C" fn __eidos_manifest() -> $crate::abi_stable::std_types::RString {
            $crate::export::collector_manifest::<$collector>(env!("CARGO_PKG_VERSION"))
        }
        extern "C" fn __eidos_collect(
            request: $crate::abi_stable::std_types::RStr<'_>,
            cancelled: &::std::sync::atomic::AtomicBool,
        ) -> $crate::abi_stable::std_types::RString {
            $crate::export::run_collector::<$collector>(request, cancelled)
        }
        extern "C" fn __eidos_serialize(
            _request: $crate::abi_stable::std_types::RStr<'_>,
        ) -> $crate::abi_stable::std_types::RResult<
            $crate::abi_stable::std_types::RVec<u8>,
            $crate::abi_stable::std_types::RString,
        > {
            $crate::export::not_a_serializer(<$collector as $crate::Collector>::NAME)
        }
        $crate::__export_root_module!(
            $module_ref,
            $build(__eidos_manifest, __eidos_collect, __eidos_serialize)
        );
    };
}

/// Turns a [`crate::Serializer`] implementation into a loadable eidos plugin.
///
/// Put `eidos_plugin_api::export_serializer!(MySerializer);` once in a `cdylib` crate.
#[macro_export]
macro_rules! export_serializer {
    ($serializer:ty) => {
        extern "C" fn __eidos_manifest() -> $crate::abi_stable::std_types::RString {
            $crate::export::serializer_manifest::<$serializer>(env!("CARGO_PKG_VERSION"))
        }
        extern "C" fn __eidos_collect(
            _request: $crate::abi_stable::std_types::RStr<'_>,
            _cancelled: &::std::sync::atomic::AtomicBool,
        ) -> $crate::abi_stable::std_types::RString {
            $crate::export::not_a_collector(<$serializer as $crate::Serializer>::NAME)
        }
        extern "C" fn __eidos_serialize(
            request: $crate::abi_stable::std_types::RStr<'_>,
        ) -> $crate::abi_stable::std_types::RResult<
            $crate::abi_stable::std_types::RVec<u8>,
            $crate::abi_stable::std_types::RString,
        > {
            $crate::export::run_serializer::<$serializer>(request)
        }
        $crate::__export_root_module!(
            $crate::abi::PluginModuleRef,
            $crate::export::root_module(__eidos_manifest, __eidos_collect, __eidos_serialize)
        );
    };
}

/// Like [`export_collector!`], but declares plugin API 2.0.0: a fixture for the host's test that a
/// plugin from a future API major version is refused. Not for real plugins.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_future_api_collector {
    ($collector:ty) => {
        $crate::__export_collector_as!(
            $collector,
            $crate::abi::future_api::FutureModuleRef,
            $crate::export::future_root_module
        );
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Measurement, MeasurementType, Subtype};

    #[test]
    fn root_module_symbol_matches_abi_stable() {
        assert_eq!(
            ROOT_MODULE_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }

    struct Panicky;
    impl Collector for Panicky {
        const NAME: &'static str = "panicky";
        const DESCRIPTION: &'static str = "panics";
        fn collect(_: &CollectContext<'_>) -> Result<Outcome, CollectError> {
            panic!("boom {}", 42)
        }
    }

    struct Fine;
    impl Collector for Fine {
        const NAME: &'static str = "fine";
        const DESCRIPTION: &'static str = "works";
        const OPTIONS: &'static [(&'static str, &'static str)] = &[("x", "an option")];
        fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
            let sub = Subtype::new("s").with("x", ctx.option("x").unwrap_or("unset"));
            Ok(Outcome::one(Measurement::new(
                MeasurementType::Os,
                vec![sub],
            )))
        }
    }

    fn request(options: &[(&str, &str)]) -> String {
        serde_json::to_string(&CollectRequest {
            api_version: crate::PLUGIN_API_VERSION.into(),
            options: options
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            host_root: "/".into(),
            timeout_ms: 1000,
            log_level: None,
        })
        .unwrap()
    }

    #[test]
    fn a_panic_becomes_an_error_response_with_message_and_location() {
        let flag = AtomicBool::new(false);
        let out = run_collector::<Panicky>(RStr::from_str(&request(&[])), &flag);
        let resp: CollectResponse = serde_json::from_str(out.as_str()).unwrap();
        match resp {
            CollectResponse::Error { message, .. } => {
                assert!(message.contains("plugin panicked: boom 42"), "{message}");
                assert!(message.contains("export.rs"), "{message}");
            }
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_collector_gets_its_options_and_answers_ok() {
        let flag = AtomicBool::new(false);
        let out = run_collector::<Fine>(RStr::from_str(&request(&[("x", "42")])), &flag);
        let resp: CollectResponse = serde_json::from_str(out.as_str()).unwrap();
        let CollectResponse::Ok { measurements, .. } = resp else {
            panic!("{resp:?}")
        };
        assert_eq!(measurements[0].subtypes[0].data["x"], "42".into());
    }

    #[test]
    fn a_malformed_request_is_an_error_not_a_panic() {
        let flag = AtomicBool::new(false);
        let out = run_collector::<Fine>(RStr::from_str("{not json"), &flag);
        assert!(
            out.as_str().contains("malformed collect request"),
            "{}",
            out.as_str()
        );
    }

    struct Declares;
    impl Collector for Declares {
        const NAME: &'static str = "declares";
        const DESCRIPTION: &'static str = "declares volatile and sensitive keys";
        const VOLATILE_KEYS: &'static [&'static str] = &["declares/*/uptime"];
        const SENSITIVE_KEYS: &'static [&'static str] = &["declares/net/addr*", "declares/id/*"];
        fn collect(_: &CollectContext<'_>) -> Result<Outcome, CollectError> {
            Ok(Outcome::not_applicable("never runs"))
        }
    }

    #[test]
    fn manifest_carries_declared_volatile_and_sensitive_keys() {
        let json = collector_manifest::<Declares>("1.0.0");
        let m: Manifest = serde_json::from_str(json.as_str()).unwrap();
        assert_eq!(m.volatile_keys, ["declares/*/uptime"]);
        assert_eq!(m.sensitive_keys, ["declares/net/addr*", "declares/id/*"]);
        let raw: serde_json::Value = serde_json::from_str(json.as_str()).unwrap();
        assert_eq!(raw["volatileKeys"][0], "declares/*/uptime");
        assert_eq!(raw["sensitiveKeys"][1], "declares/id/*");
    }

    #[test]
    fn a_manifest_without_the_1_2_key_lists_declares_none_and_writes_none() {
        let m: Manifest =
            serde_json::from_str(collector_manifest::<Fine>("1.0.0").as_str()).unwrap();
        assert!(m.volatile_keys.is_empty() && m.sensitive_keys.is_empty());
        assert!(!collector_manifest::<Fine>("1.0.0")
            .as_str()
            .contains("Keys"));
        let old = r#"{"name":"old","kind":"collector","version":"1.0.0","apiVersion":"1.0.0","description":"d"}"#;
        let m: Manifest = serde_json::from_str(old).unwrap();
        assert!(m.volatile_keys.is_empty() && m.sensitive_keys.is_empty());
    }

    #[test]
    fn manifest_lists_options_and_api_version() {
        let m: Manifest =
            serde_json::from_str(collector_manifest::<Fine>("9.9.9").as_str()).unwrap();
        assert_eq!(m.name, "fine");
        assert_eq!(m.version, "9.9.9");
        assert_eq!(m.api_version, crate::PLUGIN_API_VERSION);
        assert_eq!(m.options[0].key, "x");
    }

    struct Typed;
    impl Collector for Typed {
        const NAME: &'static str = "typed";
        const DESCRIPTION: &'static str = "typed options";
        const OPTIONS: &'static [(&'static str, &'static str)] =
            &[("old", "untyped"), ("depth", "declared twice")];
        const OPTION_SPECS: &'static [crate::OptionDecl] = &[
            crate::OptionDecl::integer("depth", "how deep").with_default("2"),
            crate::OptionDecl::duration("wait", "how long"),
        ];
        fn collect(ctx: &CollectContext<'_>) -> Result<Outcome, CollectError> {
            let depth = ctx.option_integer("depth")?.unwrap_or(-1);
            let wait = ctx
                .option_duration("wait")?
                .map_or(0, |d| d.as_millis() as i64);
            Ok(Outcome::one(Measurement::new(
                "typed",
                vec![Subtype::new("s").with("depth", depth).with("wait", wait)],
            )))
        }
    }

    #[test]
    fn typed_options_reach_the_manifest_and_their_defaults_apply_in_the_plugin() {
        let m: Manifest =
            serde_json::from_str(collector_manifest::<Typed>("1.0.0").as_str()).unwrap();
        let keys: Vec<_> = m.options.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["old", "depth", "wait"]);
        assert_eq!(m.options[0].value_type, None);
        assert_eq!(m.options[1].value_type, Some(crate::OptionType::Integer));
        assert_eq!(m.options[1].default.as_deref(), Some("2"));

        let flag = AtomicBool::new(false);
        let answer = |options: &[(&str, &str)]| -> CollectResponse {
            let out = run_collector::<Typed>(RStr::from_str(&request(options)), &flag);
            serde_json::from_str(out.as_str()).unwrap()
        };
        let CollectResponse::Ok { measurements, .. } = answer(&[("wait", "1s")]) else {
            panic!()
        };
        assert_eq!(measurements[0].subtypes[0].data["depth"], 2.into());
        assert_eq!(measurements[0].subtypes[0].data["wait"], 1000.into());
        // A host older than 1.2 does not check types: the plugin still refuses a bad value.
        match answer(&[("depth", "deep")]) {
            CollectResponse::Error {
                message,
                invalid_option,
            } => {
                assert!(invalid_option);
                assert!(
                    message.contains("\"deep\"") && message.contains("whole number"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    struct Chatty;
    impl Collector for Chatty {
        const NAME: &'static str = "chatty";
        const DESCRIPTION: &'static str = "logs";
        fn collect(_: &CollectContext<'_>) -> Result<Outcome, CollectError> {
            tracing::info!(port = 3, "probing");
            tracing::debug!("detail");
            Err(CollectError::failed("gave up"))
        }
    }

    #[test]
    fn log_events_come_back_with_the_answer_at_the_level_the_host_asks_for() {
        let flag = AtomicBool::new(false);
        let mut req: CollectRequest = serde_json::from_str(&request(&[])).unwrap();
        req.log_level = Some("info".into());
        let out =
            run_collector::<Chatty>(RStr::from_str(&serde_json::to_string(&req).unwrap()), &flag);
        let reply: CollectReply = serde_json::from_str(out.as_str()).unwrap();
        assert!(matches!(reply.response, CollectResponse::Error { .. }));
        assert_eq!(reply.logs.len(), 1, "{:?}", reply.logs);
        assert_eq!(reply.logs[0].message, "probing port=3");
        assert_eq!(reply.logs[0].level, "info");
        // A host before 1.2 asks for no logs and reads a plain response.
        let out = run_collector::<Chatty>(RStr::from_str(&request(&[])), &flag);
        assert!(!out.as_str().contains("logs"), "{}", out.as_str());
        let _: CollectResponse = serde_json::from_str(out.as_str()).unwrap();
    }

    #[test]
    fn a_reply_keeps_exact_readings_through_the_flattened_response() {
        let reply = CollectReply {
            response: CollectResponse::Ok {
                measurements: vec![Measurement::new(
                    "x",
                    vec![Subtype::new("s")
                        .with("max", u64::MAX)
                        .with("min", i64::MIN)
                        .with("f", 0.25)],
                )],
                warnings: vec![],
            },
            logs: vec![],
        };
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<CollectReply>(&json).unwrap(), reply);
    }
}

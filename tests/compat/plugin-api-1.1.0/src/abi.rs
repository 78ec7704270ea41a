//! The stable ABI between the host and a plugin library.
//!
//! The surface is deliberately tiny: one `abi_stable` prefix-type root module holding three
//! `extern "C"` entry points whose arguments and results are versioned JSON documents (see
//! [`crate::wire`]) or plain bytes. The contract grows inside those documents (fields added with
//! serde defaults), not here: abi_stable's layout check lets a plugin's root module have more fields
//! than the host's but never fewer, so a host with an appended entry point would refuse every plugin
//! built before it. The root module therefore stays as it is for a whole major version (see
//! `docs/plugin-api-compatibility.md`). abi_stable checks, when the host loads a library, that the
//! library was built against a compatible `eidos-plugin-api` (same major version) and that the root
//! module's layout matches.
//!
//! Plugin authors never use this module: the [`crate::export_collector!`] and
//! [`crate::export_serializer!`] macros build the root module.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings,
    sabi_types::VersionStrings,
    std_types::{RResult, RStr, RString, RVec},
    StableAbi,
};
use std::sync::atomic::AtomicBool;

/// The root module every eidos plugin library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// Returns the plugin's [`crate::Manifest`] as JSON.
    pub manifest: extern "C" fn() -> RString,

    /// Runs a collector: takes a [`crate::wire::CollectRequest`] as JSON and a flag the host sets to
    /// cancel; returns a [`crate::wire::CollectResponse`] as JSON. Serializer plugins answer with an
    /// error response.
    pub collect: extern "C" fn(request: RStr<'_>, cancelled: &AtomicBool) -> RString,

    /// Runs a serializer: takes a [`crate::wire::SerializeRequest`] as JSON; returns the bytes to
    /// write, or an error message. Collector plugins answer with an error.
    #[sabi(last_prefix_field)]
    pub serialize: extern "C" fn(request: RStr<'_>) -> RResult<RVec<u8>, RString>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "eidos_plugin";
    const NAME: &'static str = "eidos plugin";
    // The eidos-plugin-api crate version, captured where this impl is compiled, i.e. the API
    // version a plugin was built against.
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// Fixtures for the host's own tests: a root module that claims a future API major version.
/// Nothing outside eidos's test suite should use this.
#[doc(hidden)]
pub mod future_api {
    use super::*;

    /// Same entry points as [`PluginModule`], declared as API 2.0.0.
    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = FutureModuleRef)))]
    #[sabi(missing_field(panic))]
    pub struct FutureModule {
        /// See [`PluginModule::manifest`].
        pub manifest: extern "C" fn() -> RString,
        /// See [`PluginModule::collect`].
        pub collect: extern "C" fn(request: RStr<'_>, cancelled: &AtomicBool) -> RString,
        /// See [`PluginModule::serialize`].
        #[sabi(last_prefix_field)]
        pub serialize: extern "C" fn(request: RStr<'_>) -> RResult<RVec<u8>, RString>,
    }

    impl RootModule for FutureModuleRef {
        declare_root_module_statics! {FutureModuleRef}
        const BASE_NAME: &'static str = "eidos_plugin";
        const NAME: &'static str = "eidos plugin";
        const VERSION_STRINGS: VersionStrings = VersionStrings::new("2.0.0");
    }
}

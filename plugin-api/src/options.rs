//! Typed collector options (plugin API 1.2): how a collector declares the type and default of each
//! option, and the one parser the host and the plugin both use to read a value.
//!
//! A collector lists its typed options in [`crate::Collector::OPTION_SPECS`]; the export macro puts
//! them in the manifest as [`crate::OptionSpec`]s with a [`OptionType`], and the host checks every
//! value against them before any collector runs. Options declared the 1.0/1.1 way
//! ([`crate::Collector::OPTIONS`], key and help only) stay untyped: any text is passed through.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The spellings a boolean option accepts, matched ignoring ASCII case and whitespace around the
/// value: the first four mean `true`, the last four `false`.
pub const BOOL_SPELLINGS: [&str; 8] = ["true", "1", "yes", "on", "false", "0", "no", "off"];

/// Reads a boolean spelled as one of [`BOOL_SPELLINGS`] (any ASCII case, whitespace around it
/// ignored).
pub fn parse_bool(text: &str) -> Option<bool> {
    let position = BOOL_SPELLINGS
        .iter()
        .position(|s| s.eq_ignore_ascii_case(text.trim()))?;
    Some(position < 4)
}

/// What a boolean option's error says it expected: exactly [`BOOL_SPELLINGS`].
pub fn bool_expected() -> String {
    format!("a boolean: one of {} (any case)", BOOL_SPELLINGS.join(", "))
}

/// The type of a typed option, as a collector declares it in Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// A boolean, spelled as one of [`BOOL_SPELLINGS`].
    Bool,
    /// A whole number (64-bit, signed).
    Integer,
    /// A duration such as `500ms`, `5s` or `1m 30s`.
    Duration,
    /// Any text.
    String,
    /// A list of strings: a TOML array in the config file, comma-separated on `--set`.
    List,
    /// One of a fixed set of words (matched exactly).
    OneOf(&'static [&'static str]),
}

/// One typed option a collector declares in [`crate::Collector::OPTION_SPECS`].
///
/// Built with the `const` constructors, so that it can sit in a constant:
///
/// ```
/// use eidos_plugin_api::OptionDecl;
/// const SPECS: &[OptionDecl] = &[
///     OptionDecl::bool("uptime", "include the uptime").with_default("true"),
///     OptionDecl::one_of("bus", "the D-Bus to read", &["system", "session"]).with_default("system"),
///     OptionDecl::list("units", "the units to read"),
/// ];
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionDecl {
    /// The key (`--set NAME.KEY=VALUE`).
    pub key: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// The value's type.
    pub kind: OptionKind,
    /// The value used when the option is not set, written as it would be given on `--set`; `None`
    /// for "unset".
    pub default: Option<&'static str>,
}

impl OptionDecl {
    /// An option of `kind` without a default.
    pub const fn new(key: &'static str, help: &'static str, kind: OptionKind) -> Self {
        OptionDecl {
            key,
            help,
            kind,
            default: None,
        }
    }

    /// A boolean option.
    pub const fn bool(key: &'static str, help: &'static str) -> Self {
        Self::new(key, help, OptionKind::Bool)
    }

    /// A whole-number option.
    pub const fn integer(key: &'static str, help: &'static str) -> Self {
        Self::new(key, help, OptionKind::Integer)
    }

    /// A duration option.
    pub const fn duration(key: &'static str, help: &'static str) -> Self {
        Self::new(key, help, OptionKind::Duration)
    }

    /// A text option.
    pub const fn string(key: &'static str, help: &'static str) -> Self {
        Self::new(key, help, OptionKind::String)
    }

    /// A list-of-strings option.
    pub const fn list(key: &'static str, help: &'static str) -> Self {
        Self::new(key, help, OptionKind::List)
    }

    /// An option that takes one of `values`.
    pub const fn one_of(
        key: &'static str,
        help: &'static str,
        values: &'static [&'static str],
    ) -> Self {
        Self::new(key, help, OptionKind::OneOf(values))
    }

    /// The same option with a default value (written as on `--set`).
    pub const fn with_default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }

    /// The manifest entry for this option.
    pub fn to_spec(&self) -> crate::OptionSpec {
        let (value_type, values) = match self.kind {
            OptionKind::Bool => (OptionType::Bool, Vec::new()),
            OptionKind::Integer => (OptionType::Integer, Vec::new()),
            OptionKind::Duration => (OptionType::Duration, Vec::new()),
            OptionKind::String => (OptionType::String, Vec::new()),
            OptionKind::List => (OptionType::List, Vec::new()),
            OptionKind::OneOf(values) => (
                OptionType::OneOf,
                values.iter().map(|v| (*v).to_owned()).collect(),
            ),
        };
        crate::OptionSpec {
            key: self.key.to_owned(),
            description: self.help.to_owned(),
            value_type: Some(value_type),
            values,
            default: self.default.map(str::to_owned),
        }
    }
}

/// The type of an option in the manifest (`"type"` of an option entry). Absent for options
/// declared untyped (every plugin built before 1.2), which take any text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptionType {
    /// See [`OptionKind::Bool`].
    Bool,
    /// See [`OptionKind::Integer`].
    Integer,
    /// See [`OptionKind::Duration`].
    Duration,
    /// See [`OptionKind::String`].
    String,
    /// See [`OptionKind::List`].
    List,
    /// See [`OptionKind::OneOf`]; the words are in the entry's `values`.
    OneOf,
    /// A type from a later plugin API this version does not know; its values are passed through as
    /// text, as for an untyped option.
    #[serde(other)]
    Unknown,
}

impl OptionType {
    /// The name written in the manifest and shown by `eidos plugins describe`.
    pub fn as_str(self) -> &'static str {
        match self {
            OptionType::Bool => "bool",
            OptionType::Integer => "integer",
            OptionType::Duration => "duration",
            OptionType::String => "string",
            OptionType::List => "list",
            OptionType::OneOf => "one-of",
            OptionType::Unknown => "unknown",
        }
    }
}

/// A checked option value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypedValue {
    /// A boolean.
    Bool(bool),
    /// A whole number.
    Integer(i64),
    /// A duration.
    Duration(Duration),
    /// Text (a string, one of a fixed set, or an untyped option).
    String(String),
    /// A list of strings.
    List(Vec<String>),
}

/// Splits a list value as `--set` carries it: comma-separated, each item trimmed, empty items
/// dropped.
pub fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl crate::OptionSpec {
    /// An untyped option (the 1.0/1.1 way: key and help only).
    pub fn untyped(key: impl Into<String>, description: impl Into<String>) -> Self {
        crate::OptionSpec {
            key: key.into(),
            description: description.into(),
            value_type: None,
            values: Vec::new(),
            default: None,
        }
    }

    /// What a value of this option must look like, in words (for error messages).
    pub fn expected(&self) -> String {
        match self.value_type {
            None | Some(OptionType::Unknown) | Some(OptionType::String) => "text".to_owned(),
            Some(OptionType::Bool) => bool_expected(),
            Some(OptionType::Integer) => "a whole number such as 10 or -3".to_owned(),
            Some(OptionType::Duration) => "a duration such as 500ms, 5s or 1m".to_owned(),
            Some(OptionType::List) => {
                "a list of strings (a TOML array, or comma-separated on --set)".to_owned()
            }
            Some(OptionType::OneOf) => format!("one of: {}", self.values.join(", ")),
        }
    }

    /// The type's name for listings: `bool`, `one-of`, … or `string` for an untyped option.
    pub fn type_name(&self) -> &'static str {
        self.value_type.map_or("string", OptionType::as_str)
    }

    /// Reads `text` as a value of this option; `Err` says what was expected.
    pub fn parse(&self, text: &str) -> Result<TypedValue, String> {
        let fail = || Err(self.expected());
        match self.value_type {
            None | Some(OptionType::Unknown) | Some(OptionType::String) => {
                Ok(TypedValue::String(text.to_owned()))
            }
            Some(OptionType::Bool) => {
                parse_bool(text).map_or_else(fail, |b| Ok(TypedValue::Bool(b)))
            }
            Some(OptionType::Integer) => text
                .trim()
                .parse::<i64>()
                .map_or_else(|_| fail(), |i| Ok(TypedValue::Integer(i))),
            Some(OptionType::Duration) => humantime::parse_duration(text.trim())
                .map_or_else(|_| fail(), |d| Ok(TypedValue::Duration(d))),
            Some(OptionType::List) => Ok(TypedValue::List(split_list(text))),
            Some(OptionType::OneOf) => {
                if self.values.iter().any(|v| v == text) {
                    Ok(TypedValue::String(text.to_owned()))
                } else {
                    fail()
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OptionSpec;

    #[test]
    fn booleans_accept_exactly_the_listed_spellings_in_any_case() {
        for (text, want) in [
            ("true", true),
            ("YES", true),
            ("On", true),
            ("1", true),
            ("false", false),
            ("No", false),
            ("off", false),
            ("0", false),
        ] {
            assert_eq!(parse_bool(text), Some(want), "{text}");
        }
        for bad in ["", "y", "enabled", "2", "truee"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
        let expected = bool_expected();
        for spelling in BOOL_SPELLINGS {
            assert!(expected.contains(spelling), "{expected}");
        }
    }

    #[test]
    fn each_type_parses_its_values_and_says_what_it_expected() {
        let spec = |decl: OptionDecl| decl.to_spec();
        let int = spec(OptionDecl::integer("n", ""));
        assert_eq!(int.parse(" -3 "), Ok(TypedValue::Integer(-3)));
        assert!(int.parse("3.5").unwrap_err().contains("whole number"));
        let dur = spec(OptionDecl::duration("d", ""));
        assert_eq!(
            dur.parse("1m 30s"),
            Ok(TypedValue::Duration(Duration::from_secs(90)))
        );
        assert!(dur.parse("soon").unwrap_err().contains("duration"));
        let list = spec(OptionDecl::list("l", ""));
        assert_eq!(
            list.parse("a, b,,c"),
            Ok(TypedValue::List(vec!["a".into(), "b".into(), "c".into()]))
        );
        let bus = spec(OptionDecl::one_of("bus", "", &["system", "session"]));
        assert_eq!(
            bus.parse("session"),
            Ok(TypedValue::String("session".into()))
        );
        assert_eq!(bus.parse("user").unwrap_err(), "one of: system, session");
        let untyped = OptionSpec::untyped("x", "");
        assert_eq!(untyped.parse("7"), Ok(TypedValue::String("7".into())));
        assert_eq!(untyped.type_name(), "string");
    }

    #[test]
    fn specs_round_trip_and_an_unknown_type_from_a_later_api_is_text() {
        let spec = OptionDecl::one_of("bus", "which bus", &["system", "session"])
            .with_default("system")
            .to_spec();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(
            json,
            r#"{"key":"bus","description":"which bus","type":"one-of","values":["system","session"],"default":"system"}"#
        );
        assert_eq!(serde_json::from_str::<OptionSpec>(&json).unwrap(), spec);
        // A 1.0/1.1 manifest entry: no type, no default.
        let old: OptionSpec = serde_json::from_str(r#"{"key":"x","description":"d"}"#).unwrap();
        assert_eq!(old, OptionSpec::untyped("x", "d"));
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"key":"x","description":"d"}"#
        );
        // A type a later minor adds.
        let newer: OptionSpec =
            serde_json::from_str(r#"{"key":"x","description":"d","type":"float"}"#).unwrap();
        assert_eq!(newer.value_type, Some(OptionType::Unknown));
        assert_eq!(newer.parse("0.5"), Ok(TypedValue::String("0.5".into())));
    }
}

//! Collector options: `--set NAME.KEY=VALUE`, checked against what each selected collector declares.

use crate::config::OptionValue;
use crate::settings::Setting as Sourced;
use eidos_plugin_api::{Manifest, OptionSpec, OptionType};
use std::collections::BTreeMap;

/// One parsed `--set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The collector name.
    pub collector: String,
    /// The option key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// A `--set` that is malformed or does not fit the selected collectors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// Not of the form NAME.KEY=VALUE.
    #[error("--set {0:?}: expected NAME.KEY=VALUE, e.g. systemd.bus=session")]
    Malformed(String),
    /// For a collector that is not selected.
    #[error("--set {given:?}: collector {collector:?} is not selected (selected: {})", selected.join(", "))]
    NotSelected {
        /// The whole argument.
        given: String,
        /// The collector named.
        collector: String,
        /// The selected collectors.
        selected: Vec<String>,
    },
    /// A key the collector does not declare.
    #[error(
        "--set {given:?}: collector {collector:?} has no option {key:?} ({})",
        known_keys(known)
    )]
    UnknownKey {
        /// The whole argument.
        given: String,
        /// The collector.
        collector: String,
        /// The key given.
        key: String,
        /// The keys it declares.
        known: Vec<String>,
    },
}

fn known_keys(known: &[String]) -> String {
    if known.is_empty() {
        "it takes no options".to_owned()
    } else {
        format!("known options: {}", known.join(", "))
    }
}

/// Parses one `NAME.KEY=VALUE`.
pub fn parse_setting(text: &str) -> Result<Setting, OptionError> {
    let malformed = || OptionError::Malformed(text.to_owned());
    let (target, value) = text.split_once('=').ok_or_else(malformed)?;
    let (collector, key) = target.split_once('.').ok_or_else(malformed)?;
    if collector.is_empty() || key.is_empty() {
        return Err(malformed());
    }
    Ok(Setting {
        collector: collector.to_owned(),
        key: key.to_owned(),
        value: value.to_owned(),
    })
}

/// A collector option value before it is checked, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Given {
    /// The value: text from `--set`, or a typed TOML value from the config file.
    pub value: OptionValue,
    /// Where it came from, for messages: `--set` or `file PATH:LINE`.
    pub origin: String,
}

/// Every option problem of a run, reported together (exit code 2, nothing collected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_errors(.0))]
pub struct OptionErrors(pub Vec<String>);

fn render_errors(errors: &[String]) -> String {
    match errors {
        [one] => one.clone(),
        many => format!(
            "{} collector option errors:\n  {}",
            many.len(),
            many.join("\n  ")
        ),
    }
}

/// The value a collector receives (the wire carries text), checked against the option's declared
/// type. `Err` says what was expected.
///
/// Untyped options (plugins built before plugin API 1.2) take any value, converted to text as
/// before (a TOML list is joined with commas). A typed option takes text that parses as its type,
/// or the TOML value of that type (a boolean for `bool`, an integer for `integer`, an array for
/// `list`); any other TOML type is an error, never a silent conversion.
pub fn check_value(spec: &OptionSpec, value: &OptionValue) -> Result<String, String> {
    let typed = match spec.value_type {
        None | Some(OptionType::Unknown) => return Ok(value.as_setting()),
        Some(t) => t,
    };
    let mismatch = || {
        Err(format!(
            "{} (the config file gave {})",
            spec.expected(),
            value.toml_type()
        ))
    };
    let text = match (typed, value) {
        (_, OptionValue::Text(text)) => text.clone(),
        (OptionType::Bool, OptionValue::Bool(b)) => b.to_string(),
        (OptionType::Integer, OptionValue::Integer(i)) => i.to_string(),
        (OptionType::List, OptionValue::List(items)) => {
            if let Some(bad) = items.iter().find(|i| i.contains(',')) {
                return Err(format!(
                    "list items without commas (the list is passed comma-separated), got {:?}",
                    crate::config::excerpt(bad, 0)
                ));
            }
            items.join(",")
        }
        _ => return mismatch(),
    };
    spec.parse(&text)?;
    Ok(text)
}

/// Resolves the options of the selected collectors: the config file's `[collectors.NAME]` tables,
/// overridden by `--set NAME.KEY=VALUE` (a later `--set` of the same key wins), each value checked
/// against what the collector declares. Every problem is collected, so that one run reports them
/// all. Tables for collectors that are not selected are ignored (with a warning when no installed
/// collector has that name).
pub fn resolve_all(
    file: &BTreeMap<String, BTreeMap<String, Sourced<OptionValue>>>,
    settings: &[String],
    selected: &[&Manifest],
    available: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, OptionErrors> {
    let mut errors = Vec::new();
    let mut given: BTreeMap<String, BTreeMap<String, Given>> = BTreeMap::new();
    for (collector, table) in file {
        let Some(manifest) = selected.iter().find(|m| m.name == *collector) else {
            if !available.contains(collector) {
                if let Some(first) = table.values().next() {
                    tracing::warn!(
                        "{}: [collectors.{collector}] names no installed collector",
                        first.source
                    );
                }
            }
            continue;
        };
        for (key, value) in table {
            if !manifest.options.iter().any(|o| o.key == *key) {
                errors.push(format!(
                    "{}: [collectors.{collector}] has unknown option {key:?} ({})",
                    value.source,
                    known_keys(
                        &manifest
                            .options
                            .iter()
                            .map(|o| o.key.clone())
                            .collect::<Vec<_>>()
                    )
                ));
                continue;
            }
            given.entry(collector.clone()).or_default().insert(
                key.clone(),
                Given {
                    value: value.value.clone(),
                    origin: value.source.to_string(),
                },
            );
        }
    }
    for text in settings {
        match check_setting(text, selected) {
            Err(e) => errors.push(e.to_string()),
            Ok(setting) => {
                given.entry(setting.collector).or_default().insert(
                    setting.key,
                    Given {
                        value: OptionValue::Text(setting.value),
                        origin: "--set".to_owned(),
                    },
                );
            }
        }
    }
    let mut resolved: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (collector, values) in given {
        let Some(manifest) = selected.iter().find(|m| m.name == collector) else {
            continue;
        };
        for (key, given) in values {
            let Some(spec) = manifest.options.iter().find(|o| o.key == key) else {
                continue;
            };
            match check_value(spec, &given.value) {
                Ok(text) => {
                    resolved
                        .entry(collector.clone())
                        .or_default()
                        .insert(key, text);
                }
                Err(expected) => errors.push(format!(
                    "{collector}.{key}: invalid value {} (from {}): expected {expected}",
                    shown(&given.value),
                    given.origin
                )),
            }
        }
    }
    if errors.is_empty() {
        Ok(resolved)
    } else {
        Err(OptionErrors(errors))
    }
}

/// A value as an error message quotes it: text quoted and capped, other TOML values as written.
fn shown(value: &OptionValue) -> String {
    match value {
        OptionValue::Text(text) => format!("{:?}", crate::config::excerpt(text, 0)),
        OptionValue::List(items) => format!("{items:?}"),
        other => other.as_setting(),
    }
}

/// Checks the defaults a plugin declares for its typed options against their own types, when the
/// plugin is loaded: a default that does not parse would otherwise fail the collector at run time
/// whenever the option is left unset. `Err` names every such option, its default and what its type
/// expects.
pub fn check_declared_defaults(manifest: &Manifest) -> Result<(), String> {
    let bad: Vec<String> = manifest
        .options
        .iter()
        .filter_map(|spec| {
            let default = spec.default.as_deref()?;
            let expected = spec.parse(default).err()?;
            Some(format!(
                "option {:?} ({}) declares the default {:?}, but expects {expected}",
                spec.key,
                spec.type_name(),
                crate::config::excerpt(default, 0)
            ))
        })
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad.join("; "))
    }
}

/// Parses one `--set` and checks that it names a selected collector and one of its keys.
fn check_setting(text: &str, selected: &[&Manifest]) -> Result<Setting, OptionError> {
    let setting = parse_setting(text)?;
    let Some(manifest) = selected.iter().find(|m| m.name == setting.collector) else {
        return Err(OptionError::NotSelected {
            given: text.to_owned(),
            collector: setting.collector,
            selected: selected.iter().map(|m| m.name.clone()).collect(),
        });
    };
    if !manifest.options.iter().any(|o| o.key == setting.key) {
        return Err(OptionError::UnknownKey {
            given: text.to_owned(),
            collector: setting.collector,
            key: setting.key,
            known: manifest.options.iter().map(|o| o.key.clone()).collect(),
        });
    }
    Ok(setting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::{OptionDecl, PluginKind};

    /// `--set` settings alone.
    fn resolve(
        settings: &[String],
        selected: &[&Manifest],
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, OptionErrors> {
        resolve_all(&BTreeMap::new(), settings, selected, &[])
    }

    fn manifest(name: &str, keys: &[&str]) -> Manifest {
        Manifest {
            name: name.into(),
            kind: PluginKind::Collector,
            version: "1.0.0".into(),
            api_version: "1.0.0".into(),
            description: String::new(),
            formats: vec![],
            options: keys.iter().map(|k| OptionSpec::untyped(*k, "")).collect(),
            volatile_keys: vec![],
            sensitive_keys: vec![],
        }
    }

    #[test]
    fn declared_defaults_must_fit_their_own_types() {
        let mut acme = manifest("acme-nic", &["note"]);
        acme.options.extend([
            OptionDecl::integer("ports", "").with_default("4").to_spec(),
            OptionDecl::bool("verbose", "")
                .with_default("yes")
                .to_spec(),
            OptionDecl::one_of("bus", "", &["system", "session"])
                .with_default("system")
                .to_spec(),
            OptionDecl::duration("wait", "").to_spec(),
        ]);
        assert_eq!(check_declared_defaults(&acme), Ok(()));

        acme.options.extend([
            OptionDecl::integer("count", "")
                .with_default("many")
                .to_spec(),
            OptionDecl::one_of("mode", "", &["fast", "slow"])
                .with_default("quick")
                .to_spec(),
        ]);
        assert_eq!(
            check_declared_defaults(&acme),
            Err(
                "option \"count\" (integer) declares the default \"many\", but expects a whole \
                 number such as 10 or -3; option \"mode\" (one-of) declares the default \
                 \"quick\", but expects one of: fast, slow"
                    .to_owned()
            )
        );
    }

    #[test]
    fn settings_parse_and_group_by_collector() {
        let systemd = manifest("systemd", &["bus", "units"]);
        let os = manifest("os", &["root"]);
        let got = resolve(
            &[
                "systemd.bus=session".into(),
                "os.root=/host".into(),
                "systemd.units=a=b.service".into(),
            ],
            &[&systemd, &os],
        )
        .unwrap();
        assert_eq!(got["systemd"]["bus"], "session");
        assert_eq!(got["systemd"]["units"], "a=b.service");
        assert_eq!(got["os"]["root"], "/host");
    }

    #[test]
    fn malformed_unselected_and_unknown_settings_are_errors_naming_what_is_known() {
        let os = manifest("os", &["root"]);
        let gpu = manifest("gpu", &[]);
        for bad in ["os", "os=1", ".root=1", "os.=1"] {
            assert_eq!(
                resolve(&[bad.into()], &[&os]).unwrap_err().to_string(),
                OptionError::Malformed(bad.into()).to_string(),
                "{bad}"
            );
        }
        let err = resolve(&["systemd.bus=session".into()], &[&os]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--set \"systemd.bus=session\": collector \"systemd\" is not selected (selected: os)"
        );
        let err = resolve(&["os.rot=/host".into()], &[&os]).unwrap_err();
        assert!(
            err.to_string()
                .contains("has no option \"rot\" (known options: root)"),
            "{err}"
        );
        let err = resolve(&["gpu.x=1".into()], &[&gpu]).unwrap_err();
        assert!(err.to_string().contains("it takes no options"), "{err}");
    }

    fn typed(name: &str) -> Manifest {
        let mut m = manifest(name, &["legacy"]);
        m.options.extend(
            [
                OptionDecl::bool("flag", ""),
                OptionDecl::integer("count", ""),
                OptionDecl::duration("wait", ""),
                OptionDecl::string("name", ""),
                OptionDecl::list("units", ""),
                OptionDecl::one_of("bus", "", &["system", "session"]),
            ]
            .iter()
            .map(OptionDecl::to_spec),
        );
        m
    }

    fn from_file(
        entries: &[(&str, &str, OptionValue)],
    ) -> BTreeMap<String, BTreeMap<String, Sourced<OptionValue>>> {
        let mut file: BTreeMap<String, BTreeMap<String, Sourced<OptionValue>>> = BTreeMap::new();
        for (line, (collector, key, value)) in entries.iter().enumerate() {
            file.entry((*collector).into()).or_default().insert(
                (*key).into(),
                Sourced::new(
                    value.clone(),
                    crate::settings::Source::File {
                        path: "/etc/eidos.toml".into(),
                        line: line + 1,
                    },
                ),
            );
        }
        file
    }

    #[test]
    fn typed_values_from_the_file_and_set_are_checked_and_passed_as_text() {
        let m = typed("acme");
        let file = from_file(&[
            ("acme", "flag", OptionValue::Bool(true)),
            ("acme", "count", OptionValue::Integer(3)),
            (
                "acme",
                "units",
                OptionValue::List(vec!["a.service".into(), "b.service".into()]),
            ),
            ("acme", "legacy", OptionValue::Integer(5)),
            ("acme", "name", OptionValue::Text("from file".into())),
            ("other", "x", OptionValue::Integer(1)),
        ]);
        let got = resolve_all(
            &file,
            &[
                "acme.wait=1m 30s".into(),
                "acme.bus=session".into(),
                "acme.name=n1".into(),
            ],
            &[&m],
            &["acme".into(), "other".into()],
        )
        .unwrap();
        let acme = &got["acme"];
        assert_eq!(acme["flag"], "true");
        assert_eq!(acme["count"], "3");
        assert_eq!(acme["units"], "a.service,b.service");
        assert_eq!(
            acme["legacy"], "5",
            "an untyped option takes any TOML value, as before"
        );
        assert_eq!(acme["wait"], "1m 30s");
        assert_eq!(acme["bus"], "session");
        assert_eq!(acme["name"], "n1", "--set wins over the file");
        assert!(!got.contains_key("other"));
    }

    #[test]
    fn every_option_error_is_reported_together_naming_collector_key_value_and_expectation() {
        let m = typed("acme");
        let os = manifest("os", &["root"]);
        let file = from_file(&[
            ("acme", "name", OptionValue::Integer(7)),
            ("acme", "colour", OptionValue::Text("red".into())),
            ("acme", "units", OptionValue::List(vec!["a,b".into()])),
            ("acme", "flag", OptionValue::Integer(1)),
        ]);
        let err = resolve_all(
            &file,
            &[
                "acme.count=many".into(),
                "acme.wait=soon".into(),
                "acme.bus=user".into(),
                "gpu.x=1".into(),
                "broken".into(),
            ],
            &[&m, &os],
            &["acme".into(), "os".into()],
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("9 collector option errors:\n"), "{text}");
        for want in [
            "file /etc/eidos.toml:2: [collectors.acme] has unknown option \"colour\"",
            "acme.name: invalid value 7 (from file /etc/eidos.toml:1): expected text (the config file gave an integer)",
            "acme.units: invalid value [\"a,b\"] (from file /etc/eidos.toml:3): expected list items without commas",
            "acme.flag: invalid value 1 (from file /etc/eidos.toml:4): expected a boolean: one of true, 1, yes, on, false, 0, no, off",
            "acme.count: invalid value \"many\" (from --set): expected a whole number",
            "acme.wait: invalid value \"soon\" (from --set): expected a duration",
            "acme.bus: invalid value \"user\" (from --set): expected one of: system, session",
            "collector \"gpu\" is not selected",
            "--set \"broken\": expected NAME.KEY=VALUE",
        ] {
            assert!(text.contains(want), "missing {want:?} in:\n{text}");
        }
    }

    #[test]
    fn a_value_from_a_later_api_type_passes_as_text() {
        let mut m = manifest("acme", &[]);
        m.options.push(
            serde_json::from_str(r#"{"key":"ratio","description":"","type":"float"}"#).unwrap(),
        );
        let got = resolve_all(&BTreeMap::new(), &["acme.ratio=0.5".into()], &[&m], &[]).unwrap();
        assert_eq!(got["acme"]["ratio"], "0.5");
    }
}

//! Collector options: `--set NAME.KEY=VALUE`, checked against what each selected collector declares.

use eidos_plugin_api::Manifest;
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

/// Groups settings by collector, checking each against the selected collectors' manifests. A later
/// setting of the same key wins.
pub fn resolve(
    settings: &[String],
    selected: &[&Manifest],
) -> Result<BTreeMap<String, BTreeMap<String, String>>, OptionError> {
    let mut by_collector: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for text in settings {
        let setting = parse_setting(text)?;
        let Some(manifest) = selected.iter().find(|m| m.name == setting.collector) else {
            return Err(OptionError::NotSelected {
                given: text.clone(),
                collector: setting.collector,
                selected: selected.iter().map(|m| m.name.clone()).collect(),
            });
        };
        if !manifest.options.iter().any(|o| o.key == setting.key) {
            return Err(OptionError::UnknownKey {
                given: text.clone(),
                collector: setting.collector,
                key: setting.key,
                known: manifest.options.iter().map(|o| o.key.clone()).collect(),
            });
        }
        by_collector
            .entry(setting.collector)
            .or_default()
            .insert(setting.key, setting.value);
    }
    Ok(by_collector)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::{OptionSpec, PluginKind};

    fn manifest(name: &str, keys: &[&str]) -> Manifest {
        Manifest {
            name: name.into(),
            kind: PluginKind::Collector,
            version: "1.0.0".into(),
            api_version: "1.0.0".into(),
            description: String::new(),
            formats: vec![],
            options: keys
                .iter()
                .map(|k| OptionSpec {
                    key: (*k).into(),
                    description: String::new(),
                })
                .collect(),
            volatile_keys: vec![],
            sensitive_keys: vec![],
        }
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
            assert!(
                matches!(
                    resolve(&[bad.into()], &[&os]),
                    Err(OptionError::Malformed(_))
                ),
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
}

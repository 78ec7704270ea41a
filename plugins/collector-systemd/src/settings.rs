//! The collector's options: which units to read and which bus to read them from.

use eidos_plugin_api::CollectError;
use std::path::Path;
use std::str::FromStr;
use zbus::Address;

/// The units read when `units` is not set: what a GPU node's container stack runs on.
pub const DEFAULT_UNITS: [&str; 3] = ["containerd.service", "docker.service", "kubelet.service"];

/// The unit types systemd knows, by unit-name suffix, with the D-Bus interface of each type.
const UNIT_TYPES: [(&str, &str); 11] = [
    ("service", "org.freedesktop.systemd1.Service"),
    ("socket", "org.freedesktop.systemd1.Socket"),
    ("target", "org.freedesktop.systemd1.Target"),
    ("device", "org.freedesktop.systemd1.Device"),
    ("mount", "org.freedesktop.systemd1.Mount"),
    ("automount", "org.freedesktop.systemd1.Automount"),
    ("swap", "org.freedesktop.systemd1.Swap"),
    ("timer", "org.freedesktop.systemd1.Timer"),
    ("path", "org.freedesktop.systemd1.Path"),
    ("slice", "org.freedesktop.systemd1.Slice"),
    ("scope", "org.freedesktop.systemd1.Scope"),
];

/// The longest unit name systemd accepts (`UNIT_NAME_MAX`).
const UNIT_NAME_MAX: usize = 255;

/// Which message bus to talk to systemd on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusChoice {
    /// The system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket under the host root).
    System,
    /// The session bus (`DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`).
    Session,
    /// An explicit D-Bus address, e.g. `unix:path=/run/dbus/system_bus_socket`.
    Address(String),
}

impl BusChoice {
    /// The D-Bus address this choice stands for. The system bus of a node whose filesystem is
    /// mounted under `host_root` (a pod with the node at `/host`) is the node's own socket there.
    pub fn address(&self, host_root: &Path) -> Result<Address, zbus::Error> {
        match self {
            BusChoice::Session => Address::session(),
            BusChoice::System if host_root == Path::new("/") => Address::system(),
            BusChoice::System => {
                system_bus_under(host_root, std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok())
            }
            BusChoice::Address(address) => Address::from_str(address),
        }
    }
}

/// The system bus of a node mounted at `host_root`: `from_env` (the value of
/// `DBUS_SYSTEM_BUS_ADDRESS`) when set, else the standard socket under the root.
fn system_bus_under(host_root: &Path, from_env: Option<String>) -> Result<Address, zbus::Error> {
    match from_env {
        Some(address) => Address::from_str(&address),
        None => Address::from_str(&format!(
            "unix:path={}",
            host_root.join("run/dbus/system_bus_socket").display()
        )),
    }
}

/// One unit to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitName {
    name: String,
    type_interface: &'static str,
}

impl UnitName {
    /// The full unit name, e.g. `containerd.service`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The D-Bus interface of the unit's type, e.g. `org.freedesktop.systemd1.Service`.
    pub fn type_interface(&self) -> &'static str {
        self.type_interface
    }
}

impl FromStr for UnitName {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name.is_empty() {
            return Err("an empty unit name".into());
        }
        if name.len() > UNIT_NAME_MAX {
            return Err(format!("{name:?} is longer than {UNIT_NAME_MAX} bytes"));
        }
        if name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
        {
            return Err(format!("{name:?} contains whitespace or '/'"));
        }
        let suffix = name.rsplit_once('.');
        match suffix {
            Some((stem, suffix)) if !stem.is_empty() => UNIT_TYPES
                .iter()
                .find(|(known, _)| *known == suffix)
                .map(|(_, interface)| UnitName {
                    name: name.to_owned(),
                    type_interface: interface,
                })
                .ok_or_else(|| format!("{name:?} does not end in a unit type such as .service")),
            _ => Err(format!(
                "{name:?} does not end in a unit type such as .service"
            )),
        }
    }
}

/// Everything the options say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The units to read, in the order given, without repeats.
    pub units: Vec<UnitName>,
    /// The bus to read them from.
    pub bus: BusChoice,
}

impl Settings {
    /// Reads the `units` and `bus` options (each `None` when unset).
    pub fn parse(units: Option<&str>, bus: Option<&str>) -> Result<Self, CollectError> {
        Ok(Settings {
            units: parse_units(units)?,
            bus: parse_bus(bus)?,
        })
    }
}

fn parse_units(value: Option<&str>) -> Result<Vec<UnitName>, CollectError> {
    let Some(value) = value else {
        return DEFAULT_UNITS
            .iter()
            .map(|name| UnitName::from_str(name).map_err(CollectError::failed))
            .collect();
    };
    let invalid = |why: String| CollectError::InvalidOption {
        key: "units".into(),
        value: value.to_owned(),
        expected: format!(
            "comma-separated unit names such as containerd.service,kubelet.service ({why})"
        ),
    };
    let mut units: Vec<UnitName> = Vec::new();
    for name in value.split(',').map(str::trim) {
        let unit = UnitName::from_str(name).map_err(invalid)?;
        if !units.contains(&unit) {
            units.push(unit);
        }
    }
    Ok(units)
}

fn parse_bus(value: Option<&str>) -> Result<BusChoice, CollectError> {
    match value.map(str::trim) {
        None | Some("system") => Ok(BusChoice::System),
        Some("session") => Ok(BusChoice::Session),
        Some(address) => match Address::from_str(address) {
            Ok(_) => Ok(BusChoice::Address(address.to_owned())),
            Err(e) => Err(CollectError::InvalidOption {
                key: "bus".into(),
                value: address.to_owned(),
                expected: format!(
                    "system, session or a D-Bus address such as unix:path=/run/dbus/system_bus_socket ({e})"
                ),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(settings: &Settings) -> Vec<&str> {
        settings.units.iter().map(UnitName::as_str).collect()
    }

    #[test]
    fn defaults_are_the_container_stack_on_the_system_bus() {
        let s = Settings::parse(None, None).unwrap();
        assert_eq!(names(&s), DEFAULT_UNITS);
        assert_eq!(s.bus, BusChoice::System);
        assert!(s
            .units
            .iter()
            .all(|u| u.type_interface() == "org.freedesktop.systemd1.Service"));
    }

    #[test]
    fn units_are_split_trimmed_and_deduplicated() {
        let s = Settings::parse(Some(" a.service, b.socket ,a.service"), None).unwrap();
        assert_eq!(names(&s), ["a.service", "b.socket"]);
        assert_eq!(
            s.units[1].type_interface(),
            "org.freedesktop.systemd1.Socket"
        );
    }

    #[test]
    fn bad_unit_names_name_the_option_and_what_was_expected() {
        for bad in [
            "kubelet",
            "",
            "a.service,,b.service",
            "x.bogus",
            ".service",
            "a b.service",
        ] {
            let err = Settings::parse(Some(bad), None).unwrap_err();
            let CollectError::InvalidOption {
                key,
                value,
                expected,
            } = &err
            else {
                panic!("{bad:?}: {err:?}")
            };
            assert_eq!(key, "units");
            assert_eq!(value, bad);
            assert!(expected.contains("containerd.service"), "{expected}");
        }
    }

    #[test]
    fn bus_accepts_system_session_and_addresses() {
        assert_eq!(parse_bus(Some("session")).unwrap(), BusChoice::Session);
        assert_eq!(
            parse_bus(Some("unix:path=/tmp/x/bus")).unwrap(),
            BusChoice::Address("unix:path=/tmp/x/bus".into())
        );
        let err = parse_bus(Some("nonsense")).unwrap_err();
        assert!(
            matches!(&err, CollectError::InvalidOption { key, .. } if key == "bus"),
            "{err:?}"
        );
        assert!(err.to_string().contains("unix:path="), "{err}");
    }

    #[test]
    fn the_system_bus_of_a_mounted_host_is_under_its_root() {
        let address = system_bus_under(Path::new("/host"), None).unwrap();
        assert_eq!(
            address.to_string(),
            "unix:path=/host/run/dbus/system_bus_socket"
        );
        let explicit = system_bus_under(Path::new("/host"), Some("unix:path=/x".into())).unwrap();
        assert_eq!(explicit.to_string(), "unix:path=/x");
    }
}

//! Key paths: one reading of a snapshot named on a command line, `TYPE/SUBTYPE/KEY`.
//!
//! The type and the subtype end at the first and the second `/`; the key is **everything after
//! the second `/`**, taken literally, slashes and dots included. Dots are never separators, so
//! dotted subtypes and keys need no quoting:
//!
//! | path | type | subtype | key |
//! | --- | --- | --- | --- |
//! | `os/sysctl//proc/sys/vm/swappiness` | os | sysctl | `/proc/sys/vm/swappiness` |
//! | `systemd/containerd.service/LimitNOFILE` | systemd | containerd.service | `LimitNOFILE` |
//! | `gpu/smi/driver.version` | gpu | smi | `driver.version` |
//! | `k8s/image/nvcr.io/nvidia/driver` | k8s | image | `nvcr.io/nvidia/driver` |
//!
//! The type is compared without regard to case (`GPU` is `gpu`, as the Go tool writes it); the
//! subtype and the key exactly. A subtype cannot contain `/` (none of eidos's collectors write
//! one). Where a path is followed by `=VALUE` (`--constraint`), the path ends at the first `=`, so
//! a key cannot contain `=` (none of eidos's collectors write one either).

use std::fmt;

/// A parsed `TYPE/SUBTYPE/KEY` path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPath {
    /// The measurement type, lower case.
    pub kind: String,
    /// The subtype, as written.
    pub subtype: String,
    /// The key, as written (may contain `/` and `.`).
    pub key: String,
}

/// Why a key path was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key path {path:?}: {reason} (expected TYPE/SUBTYPE/KEY, e.g. os/sysctl//proc/sys/vm/swappiness or systemd/containerd.service/ActiveState)")]
pub struct KeyPathError {
    /// The text given.
    pub path: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl KeyPath {
    /// A path from its three parts (the type is lower-cased).
    pub fn new(kind: &str, subtype: &str, key: &str) -> KeyPath {
        KeyPath {
            kind: kind.to_ascii_lowercase(),
            subtype: subtype.to_owned(),
            key: key.to_owned(),
        }
    }

    /// Parses `TYPE/SUBTYPE/KEY`; see the module documentation.
    pub fn parse(text: &str) -> Result<KeyPath, KeyPathError> {
        let fail = |reason| KeyPathError {
            path: text.to_owned(),
            reason,
        };
        let (kind, rest) = text.split_once('/').ok_or_else(|| fail("no '/' in it"))?;
        let (subtype, key) = rest
            .split_once('/')
            .ok_or_else(|| fail("it names a type and a subtype but no key"))?;
        if kind.trim().is_empty() {
            return Err(fail("the type is empty"));
        }
        if kind.trim() != kind || subtype.trim() != subtype {
            return Err(fail("the type or subtype has surrounding white space"));
        }
        if subtype.is_empty() {
            return Err(fail("the subtype is empty"));
        }
        if key.is_empty() {
            return Err(fail("the key is empty"));
        }
        Ok(KeyPath::new(kind, subtype, key))
    }

    /// Whether this path names the reading `key` of `subtype` in a measurement of type `kind`.
    pub fn names(&self, kind: &str, subtype: &str, key: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind) && self.subtype == subtype && self.key == key
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.subtype, self.key)
    }
}

impl std::str::FromStr for KeyPath {
    type Err = KeyPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyPath::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_dotted_subtypes_and_keys_with_slashes_and_dots() {
        let table = [
            (
                "os/sysctl//proc/sys/vm/swappiness",
                ("os", "sysctl", "/proc/sys/vm/swappiness"),
            ),
            ("gpu/smi/driver.version", ("gpu", "smi", "driver.version")),
            (
                "systemd/containerd.service/LimitNOFILE",
                ("systemd", "containerd.service", "LimitNOFILE"),
            ),
            (
                "SystemD/containerd.service/ActiveState",
                ("systemd", "containerd.service", "ActiveState"),
            ),
            (
                "k8s/image/nvcr.io/nvidia/driver",
                ("k8s", "image", "nvcr.io/nvidia/driver"),
            ),
            (
                "k8s/policy/driver.kernelModuleType",
                ("k8s", "policy", "driver.kernelModuleType"),
            ),
            ("os/grub/panic", ("os", "grub", "panic")),
        ];
        for (text, (kind, subtype, key)) in table {
            let path = KeyPath::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                (path.kind.as_str(), path.subtype.as_str(), path.key.as_str()),
                (kind, subtype, key),
                "{text}"
            );
            assert!(path.names(kind, subtype, key));
            // Display gives back a path that parses to the same thing.
            assert_eq!(KeyPath::parse(&path.to_string()).unwrap(), path);
        }
    }

    #[test]
    fn bad_paths_say_what_is_missing() {
        let table = [
            ("swappiness", "no '/'"),
            ("os/sysctl", "no key"),
            ("os/sysctl/", "the key is empty"),
            ("os//swappiness", "the subtype is empty"),
            ("/sysctl/x", "the type is empty"),
            (" os/sysctl/x", "white space"),
        ];
        for (text, reason) in table {
            let err = KeyPath::parse(text).unwrap_err().to_string();
            assert!(err.contains(reason), "{text}: {err}");
            assert!(err.contains("TYPE/SUBTYPE/KEY"), "{err}");
        }
    }

    proptest::proptest! {
        /// Any key (slashes, dots and all) after a slash-free type and subtype comes back intact.
        #[test]
        fn the_key_is_everything_after_the_second_slash(
            kind in "[a-zA-Z0-9]{1,8}",
            subtype in "[a-zA-Z0-9._-]{1,12}",
            key in "[a-zA-Z0-9./_-]{1,24}",
        ) {
            let path = KeyPath::parse(&format!("{kind}/{subtype}/{key}")).unwrap();
            proptest::prop_assert_eq!(path.kind, kind.to_ascii_lowercase());
            proptest::prop_assert_eq!(path.subtype, subtype);
            proptest::prop_assert_eq!(path.key, key);
        }
    }
}

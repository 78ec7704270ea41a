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
//!
//! A [`KeyPattern`] is a key path with `*` wildcards (`systemd/*/ExecMainPID`), for naming many
//! readings at once: collectors' volatile and sensitive keys, `--ignore`.

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

/// A key path whose parts may hold `*`, which matches any run of characters (none included):
/// `systemd/*/ExecMainPID`, `os/sysctl//proc/sys/kernel/random/*`, `gpu/gpu-*/uuid`.
///
/// It is split like a [`KeyPath`] (the key is everything after the second `/`, so a `*` in the key
/// also matches across `/`). The type matches without regard to case, the subtype and the key
/// exactly. Collectors declare their volatile and sensitive keys in this syntax, and `--ignore`,
/// `eidos redact --redact-keep` and `--redact-also` take it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPattern {
    /// The type pattern, lower case.
    kind: String,
    /// The subtype pattern, as written.
    subtype: String,
    /// The key pattern, as written.
    key: String,
    /// Where the key pattern's `*` are, for matching keys by one comparison where it can.
    key_shape: Shape,
}

/// Where a pattern's `*` are: the shapes key patterns mostly have (`MainPID`, `*Timestamp`,
/// `ExecMain*`) match by one comparison. A diff matches every key of a snapshot against every
/// pattern of its subtype, and the general scan was most of building the comparison's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Shape {
    /// No `*`.
    Literal,
    /// One `*`, at the start.
    Suffix,
    /// One `*`, at the end.
    Prefix,
    /// Any other.
    General,
}

impl Shape {
    /// The shape of `pattern`.
    fn of(pattern: &str) -> Shape {
        match (pattern.matches('*').count(), pattern.as_bytes()) {
            (0, _) => Shape::Literal,
            (1, [b'*', ..]) => Shape::Suffix,
            (1, [.., b'*']) => Shape::Prefix,
            _ => Shape::General,
        }
    }

    /// Whether `text` matches `pattern`, of this shape, as [`wildcard_match`] without case folding
    /// would answer.
    fn matches(self, pattern: &[u8], text: &[u8]) -> bool {
        match self {
            Shape::Literal => pattern == text,
            Shape::Suffix => text.ends_with(&pattern[1..]),
            Shape::Prefix => text.starts_with(&pattern[..pattern.len() - 1]),
            Shape::General => wildcard_match(pattern, text, false),
        }
    }
}

impl KeyPattern {
    /// Parses `TYPE/SUBTYPE/KEY` with `*` wildcards in any part; the rules of [`KeyPath::parse`]
    /// apply (three non-empty parts, no white space around the type and the subtype).
    pub fn parse(text: &str) -> Result<KeyPattern, KeyPathError> {
        let path = KeyPath::parse(text)?;
        Ok(KeyPattern {
            kind: path.kind,
            subtype: path.subtype,
            key_shape: Shape::of(&path.key),
            key: path.key,
        })
    }

    /// Whether the reading `key` of `subtype` in a measurement of type `kind` matches.
    pub fn matches(&self, kind: &str, subtype: &str, key: &str) -> bool {
        self.kind_and_subtype_match(kind, subtype) && self.key_matches(key)
    }

    /// Whether the type and subtype parts match (a matcher that checks many keys of one subtype
    /// asks this once, then [`KeyPattern::key_matches`] per key).
    pub fn kind_and_subtype_match(&self, kind: &str, subtype: &str) -> bool {
        wildcard_match(self.kind.as_bytes(), kind.as_bytes(), true)
            && wildcard_match(self.subtype.as_bytes(), subtype.as_bytes(), false)
    }

    /// Whether the key part matches `key`.
    pub fn key_matches(&self, key: &str) -> bool {
        self.key_shape.matches(self.key.as_bytes(), key.as_bytes())
    }
}

impl fmt::Display for KeyPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.subtype, self.key)
    }
}

impl std::str::FromStr for KeyPattern {
    type Err = KeyPathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyPattern::parse(s)
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of bytes and everything else
/// itself (ASCII letters in either case when `fold_case`; the pattern is lower case then). Greedy with one backtrack point (the last `*`), so linear in practice and at worst
/// `pattern.len() * text.len()` steps; no recursion. Bytes, not characters: `*` never stops inside
/// a UTF-8 sequence in a way that matters, since literal parts compare whole.
fn wildcard_match(pattern: &[u8], text: &[u8], fold_case: bool) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was, and the text position it has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len()
            && (pattern[p] == text[t] || fold_case && pattern[p] == text[t].to_ascii_lowercase())
        {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            // Let the last `*` swallow one more byte and try again after it.
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
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

    #[test]
    fn patterns_match_with_stars_in_any_part() {
        let table = [
            (
                "systemd/*/ExecMainPID",
                "SystemD",
                "kubelet.service",
                "ExecMainPID",
                true,
            ),
            (
                "systemd/*/ExecMainPID",
                "systemd",
                "kubelet.service",
                "ExecMainPIDs",
                false,
            ),
            (
                "systemd/*/*Timestamp",
                "systemd",
                "a.service",
                "ActiveEnterTimestamp",
                true,
            ),
            (
                "systemd/*/*Timestamp",
                "systemd",
                "a.service",
                "ActiveEnterTimestampMonotonic",
                false,
            ),
            (
                "systemd/*/*Timestamp*",
                "systemd",
                "a.service",
                "ActiveEnterTimestampMonotonic",
                true,
            ),
            (
                "os/sysctl//proc/sys/kernel/random/*",
                "os",
                "sysctl",
                "/proc/sys/kernel/random/uuid",
                true,
            ),
            (
                "os/sysctl//proc/sys/kernel/random/*",
                "os",
                "sysctl",
                "/proc/sys/kernel/randomize_va_space",
                false,
            ),
            (
                "os/sysctl/*file-nr",
                "os",
                "sysctl",
                "/proc/sys/fs/file-nr",
                true,
            ),
            ("gpu/gpu-*/uuid", "GPU", "gpu-7", "uuid", true),
            ("gpu/gpu-*/uuid", "gpu", "smi", "uuid", false),
            ("*/*/*", "anything", "at", "all", true),
            ("a*b*c/s/k", "axxbyyc", "s", "k", true),
            ("a*b*c/s/k", "axxbyyd", "s", "k", false),
            ("example/loadavg/load*", "example", "loadavg", "load", true),
        ];
        for (pattern, kind, subtype, key, expected) in table {
            let p = KeyPattern::parse(pattern).unwrap();
            assert_eq!(
                p.matches(kind, subtype, key),
                expected,
                "{pattern} vs {kind}/{subtype}/{key}"
            );
            assert_eq!(KeyPattern::parse(&p.to_string()).unwrap(), p);
        }
        let err = KeyPattern::parse("systemd/*").unwrap_err().to_string();
        assert!(err.contains("TYPE/SUBTYPE/KEY"), "{err}");
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

        /// A pattern without `*` matches exactly its own text; a `*` put in place of any part of a
        /// key still matches it.
        #[test]
        fn wildcards_agree_with_plain_equality(
            key in "[a-zA-Z0-9./_-]{1,24}",
            other in "[a-zA-Z0-9./_-]{1,24}",
            cut in 0usize..24,
            len in 0usize..24,
        ) {
            let plain = KeyPattern::parse(&format!("t/s/{key}")).unwrap();
            proptest::prop_assert_eq!(plain.matches("t", "s", &other), key == other);
            let start = cut.min(key.len());
            let end = (start + len).min(key.len());
            let starred = format!("{}*{}", &key[..start], &key[end..]);
            let pattern = KeyPattern::parse(&format!("t/s/{starred}")).unwrap();
            proptest::prop_assert!(pattern.matches("t", "s", &key), "{starred} vs {key}");
        }
    }

    #[test]
    fn patterns_glob_each_part_and_ignore_the_types_case() {
        let p = KeyPattern::parse("gpu/gpu-*/serial").unwrap();
        assert!(p.matches("GPU", "gpu-0", "serial"));
        assert!(p.matches("gpu", "gpu-12", "serial"));
        assert!(!p.matches("gpu", "smi", "serial"));
        assert!(!p.matches("gpu", "gpu-0", "serial-number"));
        let p = KeyPattern::parse("os/sysctl//proc/sys/kernel/*name").unwrap();
        assert!(p.matches("os", "sysctl", "/proc/sys/kernel/hostname"));
        assert!(p.matches("os", "sysctl", "/proc/sys/kernel/domainname"));
        assert!(!p.matches("os", "sysctl", "/proc/sys/kernel/hostname2"));
        let p = KeyPattern::parse("*/*/*password*").unwrap();
        assert!(p.matches("os", "grub", "rootpassword"));
        assert!(p.matches("x", "y", "password"));
        assert!(!p.matches("x", "y", "passwd"));
        // Without a star a pattern names one reading, like a key path.
        let p = KeyPattern::parse("k8s/node/name").unwrap();
        assert!(p.matches("K8s", "node", "name") && !p.matches("k8s", "node", "names"));
        assert_eq!(p.to_string(), "k8s/node/name");
        assert!(KeyPattern::parse("k8s/node").is_err());
    }

    proptest::proptest! {
        /// `*` matches any run: a pattern made by starring out parts of a key matches that key.
        #[test]
        fn starring_out_a_run_still_matches(
            prefix in "[a-z./-]{0,8}",
            middle in "[a-z./*-]{0,8}",
            suffix in "[a-z./-]{0,8}",
        ) {
            let key = format!("{prefix}{middle}{suffix}");
            let pattern = format!("{prefix}*{suffix}");
            proptest::prop_assert!(wildcard_match(pattern.as_bytes(), key.as_bytes(), false));
            proptest::prop_assert!(wildcard_match(b"*", key.as_bytes(), false));
            proptest::prop_assert_eq!(wildcard_match(key.replace('*', "").as_bytes(), key.as_bytes(), false), !key.contains('*'));
        }

        /// The shortcuts for keys answer as the general scan does, for every shape of pattern.
        #[test]
        fn key_shortcuts_agree_with_the_general_scan(
            pattern in "[ab*]{1,6}",
            text in "[ab*]{0,8}",
        ) {
            proptest::prop_assert_eq!(
                Shape::of(&pattern).matches(pattern.as_bytes(), text.as_bytes()),
                wildcard_match(pattern.as_bytes(), text.as_bytes(), false),
                "{} vs {}", pattern, text
            );
        }
    }
}

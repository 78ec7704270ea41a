//! Versions with precision: `1`, `1.2` or `1.2.3`, an optional leading `v`, and whatever follows
//! the numbers kept as pre-release (`-…`) and build (`+…`) text.
//!
//! Real nodes report versions that are not strict semver (`24.04`, `6.8.0-1028-aws`,
//! `v1.30.14-eks-3025e55`, `580.159.04`), so parsing is done here and only the numbers are handed
//! to the `semver` crate, for ordering and range requirements.

use std::cmp::Ordering;
use std::fmt;

/// The longest version text accepted, in characters (surrounding white space included). Real
/// versions are a few dozen characters; the cap keeps free text from clients bounded.
pub const MAX_VERSION_LEN: usize = 256;

/// The most digits a version number may have (`999999999` at most, leading zeros included).
pub const MAX_NUMBER_DIGITS: usize = 9;

/// A parsed version: one to three numbers plus optional pre-release and build text.
///
/// Two versions are equal when they were written the same way (`24.04` ≠ `24.4`); use
/// [`Version::cmp_numbers`] to order them by value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    numbers: [u64; 3],
    /// Digits each number was written with, so that `24.04` displays as written.
    widths: [u8; 3],
    precision: u8,
    pre: String,
    build: String,
}

/// Why a version string was rejected. `what` names the version in messages ("os version").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The text is longer than [`MAX_VERSION_LEN`]; the text itself is not repeated.
    #[error("{what} is too long: {len} characters, at most {MAX_VERSION_LEN} allowed")]
    TooLong {
        /// The kind of version.
        what: &'static str,
        /// Characters given.
        len: usize,
    },
    /// Nothing (or only `v`) was given.
    #[error("{what} is empty")]
    Empty {
        /// The kind of version.
        what: &'static str,
    },
    /// A number was negative.
    #[error("{what} cannot contain negative numbers: {input}")]
    Negative {
        /// The kind of version.
        what: &'static str,
        /// The text given.
        input: String,
    },
    /// More than three numbers.
    #[error("{what} has more than three numeric components (expected 1, 1.2 or 1.2.3): {input}")]
    TooManyComponents {
        /// The kind of version.
        what: &'static str,
        /// The text given.
        input: String,
    },
    /// A component that is not a number.
    #[error(
        "{what} has a non-numeric component {component:?} (expected 1, 1.2 or 1.2.3): {input}"
    )]
    NonNumeric {
        /// The kind of version.
        what: &'static str,
        /// The offending component.
        component: String,
        /// The text given.
        input: String,
    },
    /// A number of more than [`MAX_NUMBER_DIGITS`] digits.
    #[error("{what} has a number too large (at most {MAX_NUMBER_DIGITS} digits): {input}")]
    TooLarge {
        /// The kind of version.
        what: &'static str,
        /// The text given.
        input: String,
    },
    /// A `-` or `+` with nothing after it, or a character not allowed in the suffix.
    #[error("{what} has an invalid suffix {suffix:?} (letters, digits, '.', '-', '_' and '~' only, not empty): {input}")]
    InvalidSuffix {
        /// The kind of version.
        what: &'static str,
        /// The suffix.
        suffix: String,
        /// The text given.
        input: String,
    },
}

impl Version {
    /// Parses `text` as a generic "version" (see [`Version::parse_as`]).
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        Self::parse_as(text, "version")
    }

    /// Parses `text`; `what` names the version in error messages ("kubernetes version").
    /// Surrounding white space is ignored; text longer than [`MAX_VERSION_LEN`] is refused.
    pub fn parse_as(text: &str, what: &'static str) -> Result<Version, VersionError> {
        let len = text.chars().count();
        if len > MAX_VERSION_LEN {
            return Err(VersionError::TooLong { what, len });
        }
        let input = text.trim();
        let err_input = || input.to_owned();
        let body = input
            .strip_prefix('v')
            .or_else(|| input.strip_prefix('V'))
            .unwrap_or(input);
        if body.is_empty() {
            return Err(VersionError::Empty { what });
        }
        let split = body.find(['-', '+']).unwrap_or(body.len());
        let (numeric, suffix) = body.split_at(split);
        if suffix.starts_with('-') && (numeric.is_empty() || numeric.ends_with('.')) {
            return Err(VersionError::Negative {
                what,
                input: err_input(),
            });
        }
        let mut numbers = [0u64; 3];
        let mut widths = [0u8; 3];
        let mut precision = 0u8;
        for (index, component) in numeric.split('.').enumerate() {
            if index >= 3 {
                return Err(VersionError::TooManyComponents {
                    what,
                    input: err_input(),
                });
            }
            if component.is_empty() || !component.bytes().all(|b| b.is_ascii_digit()) {
                return Err(VersionError::NonNumeric {
                    what,
                    component: component.to_owned(),
                    input: err_input(),
                });
            }
            let too_large = || VersionError::TooLarge {
                what,
                input: err_input(),
            };
            if component.len() > MAX_NUMBER_DIGITS {
                return Err(too_large());
            }
            numbers[index] = component.parse().map_err(|_| too_large())?;
            widths[index] = u8::try_from(component.len()).map_err(|_| too_large())?;
            precision += 1;
        }
        let (pre, build) = split_suffix(suffix);
        for part in [pre, build].into_iter().flatten() {
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '~');
            if part.is_empty() || !part.chars().all(allowed) {
                return Err(VersionError::InvalidSuffix {
                    what,
                    suffix: suffix.to_owned(),
                    input: err_input(),
                });
            }
        }
        Ok(Version {
            numbers,
            widths,
            precision,
            pre: pre.unwrap_or_default().to_owned(),
            build: build.unwrap_or_default().to_owned(),
        })
    }

    /// How many numbers were given (1, 2 or 3).
    pub fn precision(&self) -> usize {
        usize::from(self.precision)
    }

    /// The major number.
    pub fn major(&self) -> u64 {
        self.numbers[0]
    }

    /// The minor number, if given.
    pub fn minor(&self) -> Option<u64> {
        (self.precision >= 2).then_some(self.numbers[1])
    }

    /// The patch number, if given.
    pub fn patch(&self) -> Option<u64> {
        (self.precision >= 3).then_some(self.numbers[2])
    }

    /// The pre-release text after `-` (empty if none): `1028-aws` in `6.8.0-1028-aws`.
    pub fn pre(&self) -> &str {
        &self.pre
    }

    /// The build text after `+` (empty if none): `k3s1` in `v1.33.5+k3s1`.
    pub fn build(&self) -> &str {
        &self.build
    }

    /// The same numbers without pre-release or build text.
    pub fn numbers_only(&self) -> Version {
        Version {
            pre: String::new(),
            build: String::new(),
            ..self.clone()
        }
    }

    /// Whether this version, read as a pattern, matches `other` by precision: every number given
    /// here equals `other`'s, which must state at least as many numbers (`1.33` matches `1.33`,
    /// `1.33.0` and `1.33.5-eks-1`; `1.33.5` does not match `1.33`). A pre-release or build given
    /// here must also equal `other`'s; otherwise `other`'s suffix is ignored.
    pub fn matches(&self, other: &Version) -> bool {
        let n = self.precision();
        other.precision >= self.precision
            && self.numbers[..n] == other.numbers[..n]
            && (self.pre.is_empty() || self.pre == other.pre)
            && (self.build.is_empty() || self.build == other.build)
    }

    /// Orders by numbers only, missing numbers counting as 0 and suffixes ignored (`1.33` equals
    /// `1.33.0` and `1.33.0-eks`).
    pub fn cmp_numbers(&self, other: &Version) -> Ordering {
        self.numbers.cmp(&other.numbers)
    }

    /// The numbers as a strict semver version, missing numbers as 0, without any suffix.
    pub fn to_semver(&self) -> semver::Version {
        semver::Version::new(self.numbers[0], self.numbers[1], self.numbers[2])
    }
}

/// Splits `-pre+build` into its parts; `None` where a part is absent.
fn split_suffix(suffix: &str) -> (Option<&str>, Option<&str>) {
    if let Some(rest) = suffix.strip_prefix('-') {
        match rest.split_once('+') {
            Some((pre, build)) => (Some(pre), Some(build)),
            None => (Some(rest), None),
        }
    } else if let Some(build) = suffix.strip_prefix('+') {
        (None, Some(build))
    } else {
        (None, None)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for i in 0..self.precision() {
            if i > 0 {
                f.write_str(".")?;
            }
            let width = usize::from(self.widths[i]);
            write!(f, "{:0width$}", self.numbers[i])?;
        }
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_versions_real_nodes_report() {
        type Case<'a> = (&'a str, usize, [u64; 3], &'a str, &'a str, &'a str);
        let cases: &[Case] = &[
            ("24.04", 2, [24, 4, 0], "", "", "24.04"),
            ("22.04", 2, [22, 4, 0], "", "", "22.04"),
            (
                "6.8.0-1028-aws",
                3,
                [6, 8, 0],
                "1028-aws",
                "",
                "6.8.0-1028-aws",
            ),
            (
                "v1.30.14-eks-3025e55",
                3,
                [1, 30, 14],
                "eks-3025e55",
                "",
                "1.30.14-eks-3025e55",
            ),
            ("v1.33.5+k3s1", 3, [1, 33, 5], "", "k3s1", "1.33.5+k3s1"),
            ("v1.33", 2, [1, 33, 0], "", "", "1.33"),
            ("570.133.20", 3, [570, 133, 20], "", "", "570.133.20"),
            ("580.159.04", 3, [580, 159, 4], "", "", "580.159.04"),
            ("13.0", 2, [13, 0, 0], "", "", "13.0"),
            ("1", 1, [1, 0, 0], "", "", "1"),
            (" V2.5-rc.1+b7 ", 2, [2, 5, 0], "rc.1", "b7", "2.5-rc.1+b7"),
        ];
        for &(text, precision, numbers, pre, build, shown) in cases {
            let v = Version::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(v.precision(), precision, "{text}");
            assert_eq!(v.numbers, numbers, "{text}");
            assert_eq!(v.pre(), pre, "{text}");
            assert_eq!(v.build(), build, "{text}");
            assert_eq!(v.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn rejects_bad_versions_with_specific_errors() {
        let err = |t: &str| Version::parse_as(t, "os version").unwrap_err().to_string();
        assert_eq!(
            err("-1.0"),
            "os version cannot contain negative numbers: -1.0"
        );
        assert_eq!(
            err("1.-2"),
            "os version cannot contain negative numbers: 1.-2"
        );
        assert_eq!(err(""), "os version is empty");
        assert_eq!(err("  "), "os version is empty");
        assert_eq!(err("v"), "os version is empty");
        assert!(err("1.2.3.4").contains("more than three numeric components"));
        assert!(err("1.x").contains("non-numeric component \"x\""));
        assert!(err("jammy").contains("non-numeric component \"jammy\""));
        assert!(err("1..2").contains("non-numeric component \"\""));
        assert!(err("1.2.").contains("non-numeric component \"\""));
        assert!(err("99999999999999999999").contains("too large"));
        assert!(err("1.0000000001").contains("at most 9 digits"));
        assert!(Version::parse("999999999.000000000.1").is_ok());
        let long = format!("6.8.0-{}", "a".repeat(MAX_VERSION_LEN));
        assert_eq!(
            err(&long),
            format!(
                "os version is too long: {} characters, at most 256 allowed",
                long.len()
            ),
            "the text is not echoed"
        );
        let longest = format!("6.8.0-{}", "a".repeat(MAX_VERSION_LEN - 6));
        assert!(Version::parse(&longest).is_ok());
        assert!(err("1.2-").contains("invalid suffix"));
        assert!(err("1.2+").contains("invalid suffix"));
        assert!(err("1.2-a b").contains("invalid suffix"));
    }

    #[test]
    fn matches_by_precision() {
        let v = |t: &str| Version::parse(t).unwrap();
        assert!(v("1.33").matches(&v("1.33")));
        assert!(v("1.33").matches(&v("1.33.0")));
        assert!(v("1.33").matches(&v("v1.33.5-eks-113cf36")));
        assert!(v("1").matches(&v("1.33.5")));
        assert!(!v("1.33.5").matches(&v("1.33")));
        assert!(!v("1.33").matches(&v("1.34")));
        assert!(!v("1.3").matches(&v("1.33")));
        assert!(
            v("24.04").matches(&v("24.4")),
            "leading zeros do not matter"
        );
        assert!(v("6.8.0-1028-aws").matches(&v("6.8.0-1028-aws")));
        assert!(!v("6.8.0-1028-aws").matches(&v("6.8.0-1030-aws")));
        assert!(!v("1.33.5+k3s1").matches(&v("1.33.5")));
    }

    #[test]
    fn orders_by_numbers_only() {
        let v = |t: &str| Version::parse(t).unwrap();
        assert_eq!(v("1.33").cmp_numbers(&v("1.33.0-eks")), Ordering::Equal);
        assert_eq!(v("1.9").cmp_numbers(&v("1.10")), Ordering::Less);
        assert_eq!(
            v("580.159.04").cmp_numbers(&v("570.133.20")),
            Ordering::Greater
        );
        assert_eq!(
            v("v1.30.14-eks-3025e55").to_semver(),
            semver::Version::new(1, 30, 14)
        );
    }

    fn version_strategy() -> impl Strategy<Value = Version> {
        (
            1u8..=3,
            prop::array::uniform3(0u64..100_000),
            prop::array::uniform3(0u8..3),
            "([a-z0-9][a-z0-9.~_-]{0,8})?",
            "([a-z0-9][a-z0-9.~_-]{0,8})?",
        )
            .prop_map(|(precision, numbers, pads, pre, build)| {
                let n = usize::from(precision);
                let mut text = String::new();
                for i in 0..n {
                    if i > 0 {
                        text.push('.');
                    }
                    text.push_str(&"0".repeat(usize::from(pads[i])));
                    text.push_str(&numbers[i].to_string());
                }
                if !pre.is_empty() {
                    text.push('-');
                    text.push_str(&pre);
                }
                if !build.is_empty() {
                    text.push('+');
                    text.push_str(&build);
                }
                Version::parse(&text).expect("generated versions are valid")
            })
    }

    /// The first version past every version `pattern` matches: its last number plus one.
    fn upper_bound(pattern: &Version) -> Version {
        let mut next = pattern.numbers_only();
        let last = pattern.precision() - 1;
        next.numbers[last] += 1;
        for i in last + 1..3 {
            next.numbers[i] = 0;
        }
        next
    }

    proptest! {
        #[test]
        fn display_then_parse_gives_the_same_version(v in version_strategy(), prefix_v in any::<bool>()) {
            let text = if prefix_v { format!("v{v}") } else { v.to_string() };
            prop_assert_eq!(Version::parse(&text).unwrap(), v);
        }

        #[test]
        fn matching_agrees_with_ordering(pattern in version_strategy(), candidate in version_strategy()) {
            let pattern = pattern.numbers_only();
            let in_interval = pattern.cmp_numbers(&candidate) != Ordering::Greater
                && candidate.cmp_numbers(&upper_bound(&pattern)) == Ordering::Less;
            // Within [pattern, next) with enough precision ⇔ a match.
            prop_assert_eq!(
                pattern.matches(&candidate),
                in_interval && candidate.precision() >= pattern.precision()
            );
            // Matching never contradicts the semver order of the numbers.
            if pattern.matches(&candidate) {
                prop_assert!(pattern.to_semver() <= candidate.to_semver());
                prop_assert!(candidate.to_semver() < upper_bound(&pattern).to_semver());
            }
        }

        #[test]
        fn a_version_matches_itself_and_its_longer_forms(v in version_strategy(), extra in 0u64..50) {
            prop_assert!(v.matches(&v));
            if v.precision() < 3 {
                let longer = Version::parse(&format!("{}.{extra}", v.numbers_only())).unwrap();
                prop_assert!(v.numbers_only().matches(&longer));
                prop_assert!(!longer.matches(&v.numbers_only()));
            }
        }
    }
}

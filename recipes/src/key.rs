//! Overlay keys: the query fields an overlay requires, and matching a query against them.

use crate::query::ParsedQuery;
use crate::version::Version;
use crate::vocab::{self, Field, FieldKind};
use indexmap::IndexMap;
use semver::{Comparator, Op, Prerelease, VersionReq};
use std::fmt;

/// What an overlay key requires of a version field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VersionSpec {
    /// Matches by precision (see [`Version::matches`]).
    Exact(Version),
    /// A semver range over the numbers (`>=1.30`, `>=6.8, <6.9`); the query's suffix is ignored
    /// and its missing numbers count as 0.
    Range(VersionReq),
}

impl VersionSpec {
    /// Parses an exact version or, when the text starts with an operator (`>= > <= < = ~ ^`) or
    /// lists several comparators separated by commas, a range.
    pub fn parse(text: &str, what: &'static str) -> Result<VersionSpec, String> {
        let text = text.trim();
        let is_range = text.starts_with(['<', '>', '=', '~', '^']) || text.contains(',');
        if !is_range {
            return vocab::parse_version(text, what)
                .map(VersionSpec::Exact)
                .map_err(|e| e.to_string());
        }
        let comparators = text
            .split(',')
            .map(|part| parse_comparator(part.trim(), what))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(VersionSpec::Range(VersionReq { comparators }))
    }

    /// Whether `version` satisfies this spec.
    pub fn matches(&self, version: &Version) -> bool {
        match self {
            VersionSpec::Exact(pattern) => pattern.matches(version),
            VersionSpec::Range(req) => req.matches(&version.to_semver()),
        }
    }

    /// Whether some version satisfies this spec (`>=2, <1` is a range no version satisfies).
    pub fn can_match(&self) -> bool {
        match self {
            VersionSpec::Exact(_) => true,
            VersionSpec::Range(req) => range_can_match(req),
        }
    }

    /// How precisely this spec pins a version: the numbers of an exact version, 0 for a range.
    pub fn precision(&self) -> usize {
        match self {
            VersionSpec::Exact(v) => v.precision(),
            VersionSpec::Range(_) => 0,
        }
    }
}

/// Whether some version (numbers only, as queries are matched) satisfies every comparator.
///
/// Each comparator admits an interval of versions in their numeric order, and an intersection of
/// intervals is empty unless it holds the greatest of their lowest members; so it is enough to
/// test that one version.
fn range_can_match(req: &VersionReq) -> bool {
    let lowest: Option<Vec<semver::Version>> = req.comparators.iter().map(lowest_match).collect();
    match lowest.and_then(|all| all.into_iter().max()) {
        Some(candidate) => req.matches(&candidate),
        // No comparator matches anything above u64::MAX, or there are no comparators at all.
        None => req.comparators.is_empty(),
    }
}

/// The lowest version a comparator admits (`None` when it admits none: `>` the largest number).
fn lowest_match(c: &Comparator) -> Option<semver::Version> {
    let (minor, patch) = (c.minor.unwrap_or(0), c.patch.unwrap_or(0));
    Some(match (c.op, c.minor, c.patch) {
        (Op::Less | Op::LessEq, _, _) => semver::Version::new(0, 0, 0),
        (Op::Greater, Some(_), Some(p)) => semver::Version::new(c.major, minor, p.checked_add(1)?),
        (Op::Greater, Some(m), None) => semver::Version::new(c.major, m.checked_add(1)?, 0),
        (Op::Greater, None, _) => semver::Version::new(c.major.checked_add(1)?, 0, 0),
        // >=, =, ~, ^ (and wildcards): the version as written, missing numbers 0.
        _ => semver::Version::new(c.major, minor, patch),
    })
}

fn parse_comparator(text: &str, what: &'static str) -> Result<Comparator, String> {
    const OPS: [(&str, Op); 7] = [
        (">=", Op::GreaterEq),
        ("<=", Op::LessEq),
        (">", Op::Greater),
        ("<", Op::Less),
        ("=", Op::Exact),
        ("~", Op::Tilde),
        ("^", Op::Caret),
    ];
    let Some((op, rest)) = OPS
        .iter()
        .find_map(|(sym, op)| text.strip_prefix(sym).map(|rest| (*op, rest)))
    else {
        return Err(format!(
            "range comparator {text:?} needs an operator (>=, >, <=, <, =, ~ or ^) before the {what}"
        ));
    };
    let version = vocab::parse_version(rest, what).map_err(|e| e.to_string())?;
    if !version.pre().is_empty() || !version.build().is_empty() {
        return Err(format!(
            "range comparator {text:?} compares numbers only: drop the suffix after the {what}"
        ));
    }
    Ok(Comparator {
        op,
        major: version.major(),
        minor: version.minor(),
        patch: version.patch(),
        pre: Prerelease::EMPTY,
    })
}

impl fmt::Display for VersionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSpec::Exact(v) => v.fmt(f),
            VersionSpec::Range(req) => write!(f, "({req})"),
        }
    }
}

/// One requirement of an overlay key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Condition {
    /// An enum field must equal this (normalized) value.
    Is(String),
    /// A version field must satisfy this spec.
    Version(VersionSpec),
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::Is(v) => f.write_str(v),
            Condition::Version(spec) => spec.fmt(f),
        }
    }
}

/// The fields an overlay requires, in field order. Fields it leaves out match anything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OverlayKey {
    conditions: Vec<(Field, Condition)>,
}

impl OverlayKey {
    /// Parses a key mapping (`service: eks`, `k8s: ">=1.30"`). Names are case-insensitive;
    /// enum values must be known; versions must parse; at least one field is required.
    pub fn parse(raw: &IndexMap<String, String>) -> Result<OverlayKey, String> {
        let mut conditions = Vec::with_capacity(raw.len());
        for (name, value) in raw {
            let field = Field::parse(name).ok_or_else(|| {
                let names: Vec<_> = Field::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown key field {name:?}: expected one of {}",
                    names.join(", ")
                )
            })?;
            if conditions.iter().any(|(f, _)| *f == field) {
                return Err(format!("key field {:?} is given twice", field.name()));
            }
            if vocab::is_unspecified(value) {
                return Err(format!(
                    "key field {name}: {value:?} matches anything; leave the field out instead"
                ));
            }
            let condition = match field.kind() {
                FieldKind::Enum(allowed) => vocab::normalize_enum(value, allowed)
                    .map(Condition::Is)
                    .map_err(|reason| {
                        format!("key field {name}: unknown value {value:?}: {reason}")
                    })?,
                FieldKind::Version(what) => {
                    let spec = VersionSpec::parse(value, what)
                        .map_err(|reason| format!("key field {name}: {reason}"))?;
                    if !spec.can_match() {
                        return Err(format!(
                            "key field {name}: range {value:?} can never match: no {what} satisfies all of its comparators"
                        ));
                    }
                    Condition::Version(spec)
                }
            };
            conditions.push((field, condition));
        }
        if conditions.is_empty() {
            return Err(
                "overlay key is empty: values that always apply belong in base.yaml".to_owned(),
            );
        }
        conditions.sort_by_key(|(field, _)| *field);
        Ok(OverlayKey { conditions })
    }

    /// The key of values that apply to every node: an overlay layer's `base.yaml`. The least
    /// specific key of all (no field), so those values apply before any keyed overlay's.
    pub(crate) fn always() -> OverlayKey {
        OverlayKey {
            conditions: Vec::new(),
        }
    }

    /// Whether a query satisfies every condition. A required field the query leaves unspecified
    /// does not match.
    pub(crate) fn matches(&self, query: &ParsedQuery<'_>) -> bool {
        self.conditions.iter().all(|(field, condition)| {
            let index = *field as usize;
            match condition {
                Condition::Is(want) => query.enums[index] == Some(want.as_str()),
                Condition::Version(spec) => query.versions[index]
                    .as_ref()
                    .is_some_and(|v| spec.matches(v)),
            }
        })
    }

    /// How specific the key is: the number of fields, then how many version numbers it pins.
    /// Overlays are applied from the least to the most specific.
    pub fn specificity(&self) -> (usize, usize) {
        let pinned = self
            .conditions
            .iter()
            .map(|(_, c)| match c {
                Condition::Version(spec) => spec.precision(),
                Condition::Is(_) => 0,
            })
            .sum();
        (self.conditions.len(), pinned)
    }

    /// The conditions, in field order.
    pub fn conditions(&self) -> &[(Field, Condition)] {
        &self.conditions
    }
}

impl fmt::Display for OverlayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (field, condition)) in self.conditions.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={condition}", field.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;

    fn key(pairs: &[(&str, &str)]) -> Result<OverlayKey, String> {
        let raw = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        OverlayKey::parse(&raw)
    }

    fn query(pairs: &[(&str, &str)]) -> Query {
        Query::from_pairs(pairs.iter().copied()).unwrap()
    }

    /// Matching table: key, query, expected.
    #[test]
    fn matching_table() {
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let table: &[(Pairs, Pairs, bool)] = &[
            // wildcards: fields the key leaves out match anything
            (
                &[("service", "eks")],
                &[("service", "eks"), ("gpu", "h100")],
                true,
            ),
            (&[("service", "eks")], &[("service", "gke")], false),
            // a required field the query leaves unspecified does not match
            (&[("service", "eks")], &[], false),
            (
                &[("service", "eks"), ("gpu", "h100")],
                &[("service", "eks")],
                false,
            ),
            (&[("Service", "EKS")], &[("service", "eks")], true),
            // precision
            (&[("k8s", "1.33")], &[("k8s", "1.33")], true),
            (&[("k8s", "1.33")], &[("k8s", "1.33.0")], true),
            (&[("k8s", "1.33")], &[("k8s", "v1.33.5-eks-113cf36")], true),
            (&[("k8s", "1.33.5")], &[("k8s", "1.33")], false),
            (&[("k8s", "1.33")], &[("k8s", "1.34")], false),
            (&[("k8s", "1")], &[("k8s", "1.30.14")], true),
            (&[("osv", "24.04")], &[("osv", "24.04")], true),
            (&[("osv", "24.04")], &[("osv", "22.04")], false),
            // ranges
            (
                &[("k8s", ">=1.30")],
                &[("k8s", "v1.30.14-eks-3025e55")],
                true,
            ),
            (&[("k8s", ">=1.30")], &[("k8s", "1.29.9")], false),
            (&[("k8s", ">=1.30")], &[], false),
            (
                &[("kernel", ">=6.8, <6.9")],
                &[("kernel", "6.8.0-1028-aws")],
                true,
            ),
            (&[("kernel", ">=6.8, <6.9")], &[("kernel", "6.9.1")], false),
            (
                &[("kernel", ">=6.8, <6.9")],
                &[("kernel", "6.5.0-1022-aws")],
                false,
            ),
            (&[("kernel", "<6")], &[("kernel", "5.15.0-1051-aws")], true),
            (&[("k8s", "~1.31")], &[("k8s", "1.31.4")], true),
            (&[("k8s", "=1.31")], &[("k8s", "1.32.0")], false),
        ];
        for (k, q, expected) in table {
            let parsed_key = key(k).unwrap();
            let q = query(q);
            assert_eq!(
                parsed_key.matches(&ParsedQuery::new(&q)),
                *expected,
                "key {k:?} against query {q:?}"
            );
        }
    }

    #[test]
    fn bad_keys_are_rejected_with_reasons() {
        let table: &[(&[(&str, &str)], &str)] = &[
            (&[], "overlay key is empty"),
            (
                &[("gpu", "h900")],
                "key field gpu: unknown value \"h900\": expected one of",
            ),
            (&[("region", "us")], "unknown key field \"region\""),
            (
                &[("k8s", "1.x")],
                "kubernetes version has a non-numeric component",
            ),
            (
                &[("osv", "-1.0")],
                "os version cannot contain negative numbers: -1.0",
            ),
            (&[("k8s", ">=1.30, 1.32")], "needs an operator"),
            (&[("kernel", ">=6.8.0-aws")], "compares numbers only"),
            (&[("gpu", "any")], "matches anything"),
            (&[("gpu", "h100"), ("GPU", "h200")], "given twice"),
            (
                &[("k8s", ">=2, <1")],
                "key field k8s: range \">=2, <1\" can never match: no kubernetes version satisfies",
            ),
            (&[("kernel", ">6.8, <=6.8.9")], "can never match"),
            (&[("kernel", "<0")], "can never match"),
            (&[("osv", ">18446744073709551615")], "at most 9 digits"),
        ];
        for (k, message) in table {
            let err = key(k).unwrap_err();
            assert!(err.contains(message), "{k:?}: {err}");
        }
    }

    #[test]
    fn ranges_that_some_version_satisfies_are_accepted() {
        for range in [
            ">=1.30, <1.31",
            ">1.30.0, <=1.30.1",
            "<=0",
            ">=2, <2.0.1",
            "~1.31, >=1.31.5",
            "^0.2.3, <0.2.4",
            "=1.31, >1.31.8",
            ">=6.8, <6.9",
        ] {
            let spec = VersionSpec::parse(range, "version").unwrap();
            assert!(spec.can_match(), "{range}");
        }
        // `>6.8` is 6.9 and above, as in semver: `>6.8, <6.9` is a mistake this catches.
        for range in [
            ">6.8, <6.9",
            ">1.30, <=1.30.9",
            "~1.31, >=1.32",
            "^0.2.3, >=0.3",
            "=1.31, <1.31",
            ">=6.9, <6.8.20",
        ] {
            let spec = VersionSpec::parse(range, "version").unwrap();
            assert!(!spec.can_match(), "{range}");
        }
    }

    #[test]
    fn specificity_counts_fields_then_pinned_numbers() {
        let s = |k: &[(&str, &str)]| key(k).unwrap().specificity();
        assert!(s(&[("gpu", "h100")]) < s(&[("gpu", "h100"), ("service", "eks")]));
        assert!(s(&[("k8s", "1.33")]) < s(&[("k8s", "1.33.5")]));
        assert!(s(&[("k8s", ">=1.33")]) < s(&[("k8s", "1")]));
    }

    #[test]
    fn keys_display_in_field_order() {
        let k = key(&[
            ("gpu", "H100"),
            ("service", "eks"),
            ("k8s", ">= 1.30, <1.34"),
        ])
        .unwrap();
        assert_eq!(k.to_string(), "service=eks, k8s=(>=1.30, <1.34), gpu=h100");
    }

    proptest::proptest! {
        /// A one-sided range agrees with the numeric order of the versions.
        #[test]
        fn ranges_agree_with_ordering(
            bound in (0u64..5, 0u64..5, 0u64..5),
            version in (0u64..5, 0u64..5, 0u64..5),
            op in proptest::sample::select(vec![">=", ">", "<=", "<"]),
        ) {
            let b = Version::parse(&format!("{}.{}.{}", bound.0, bound.1, bound.2)).unwrap();
            let v = Version::parse(&format!("{}.{}.{}-suffix", version.0, version.1, version.2)).unwrap();
            let spec = VersionSpec::parse(&format!("{op}{b}"), "version").unwrap();
            let order = v.cmp_numbers(&b);
            let expected = match op {
                ">=" => order.is_ge(),
                ">" => order.is_gt(),
                "<=" => order.is_le(),
                _ => order.is_lt(),
            };
            proptest::prop_assert_eq!(spec.matches(&v), expected, "{} {} {}", v, op, b);
        }

        /// A range can match exactly when some version satisfies it (checked against every
        /// version with numbers up to one past the largest written).
        #[test]
        fn can_match_agrees_with_a_search(
            comparators in proptest::collection::vec(
                (
                    proptest::sample::select(vec![">=", ">", "<=", "<", "=", "~", "^"]),
                    0u64..4,
                    proptest::option::of((0u64..4, proptest::option::of(0u64..4))),
                ),
                1..4,
            ),
        ) {
            let text: Vec<String> = comparators
                .iter()
                .map(|(op, major, rest)| match rest {
                    None => format!("{op}{major}"),
                    Some((minor, None)) => format!("{op}{major}.{minor}"),
                    Some((minor, Some(patch))) => format!("{op}{major}.{minor}.{patch}"),
                })
                .collect();
            let text = text.join(", ");
            let spec = VersionSpec::parse(&text, "version").unwrap();
            let found = (0..6u64).any(|a| {
                (0..6u64).any(|b| {
                    (0..6u64).any(|c| {
                        spec.matches(&Version::parse(&format!("{a}.{b}.{c}")).unwrap())
                    })
                })
            });
            proptest::prop_assert_eq!(spec.can_match(), found, "{}", text);
        }
    }
}

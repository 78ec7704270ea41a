//! Constraints: what a recipe value (or a `--constraint PATH=VALUE`) requires of a snapshot
//! reading, and the type-aware comparison behind it.
//!
//! A plain value means "equal": integers numerically (`"262144"` equals `262144`), booleans by
//! meaning (`true`, `"true"`, `"yes"`, `"on"`, `1`), versions by the recipe engine's precision
//! rules (`6.8` matches `6.8.0-1028-aws`), other text exactly. A text value can instead hold an
//! operator: the comparators of the engine's range syntax (`>=`, `<=`, `>`, `<`, `=`, `~`, `^`,
//! and comma-joined ranges like `">=6.8, <6.9"`) on versions and numbers, `!= VALUE`,
//! `one of [a, b]`, `present` and `absent`.

use super::keypath::{KeyPath, KeyPathError};
use crate::key::VersionSpec;
use crate::model::Severity;
use crate::version::Version;
use eidos_plugin_api::Reading;
use std::borrow::Cow;

/// The operator forms a value may take, for error messages.
pub const OPERATOR_FORMS: &str = "an operator: \">= 1.2\", \"<= 8\", \"> 1\", \"< 2\", \"= 1.31\", \"~1.31\", \"^1\", a range such as \">=6.8, <6.9\", \"!= VALUE\", \"one of [a, b]\", \"present\" or \"absent\"";

/// What a constraint requires of a reading.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// Equal to this value (type-aware, see the module documentation).
    Equals(Reading),
    /// Not equal to this value (type-aware).
    NotEquals(Reading),
    /// Within a range of versions or numbers.
    Range(Range),
    /// Equal to one of these values (type-aware).
    OneOf(Vec<Reading>),
    /// The key is there, whatever its value.
    Present,
    /// The key is not there.
    Absent,
}

/// A comparator list (`>= 570`, `">=6.8, <6.9"`), read both as versions (by the recipe engine's
/// [`VersionSpec`]) and, where every bound is an integer, as integers (so that negative numbers
/// and numbers read from text compare numerically).
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// The operator symbol when there is one comparator, else `range`.
    operator: &'static str,
    versions: Option<VersionSpec>,
    numbers: Option<Vec<(&'static str, i128)>>,
}

/// The comparators of the engine's range syntax, longest first.
const COMPARATORS: [&str; 7] = [">=", "<=", ">", "<", "=", "~", "^"];

/// The outcome of checking one reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The reading satisfies the constraint.
    Pass,
    /// It does not; with a reason where "not equal" would not say enough.
    Fail(Option<String>),
    /// The key is absent and the constraint needs a value.
    Missing,
}

impl Expectation {
    /// Reads a recipe value (or the VALUE of `--constraint`). Non-text values and text without
    /// an operator are plain values; text that starts with an operator must be a valid one.
    pub fn parse(value: &Reading) -> Result<Expectation, String> {
        let Reading::Str(text) = value else {
            return Ok(Expectation::Equals(value.clone()));
        };
        let t = text.trim();
        if t == "present" {
            return Ok(Expectation::Present);
        }
        if t == "absent" {
            return Ok(Expectation::Absent);
        }
        if let Some(rest) = t.strip_prefix("!=") {
            let rest = rest.trim();
            if rest.is_empty() {
                return Err(format!("{t:?} has no value after !="));
            }
            return Ok(Expectation::NotEquals(Reading::Str(rest.to_owned())));
        }
        if let Some(rest) = t.strip_prefix("one of") {
            return parse_list(rest.trim())
                .map(Expectation::OneOf)
                .map_err(|reason| format!("{t:?}: {reason}"));
        }
        if t.starts_with(['<', '>', '=', '~', '^']) {
            return Range::parse(t).map(Expectation::Range);
        }
        Ok(Expectation::Equals(value.clone()))
    }

    /// The operator's name as reports show it: `equals`, `!=`, `>=` (or another comparator),
    /// `range`, `one of`, `present`, `absent`.
    pub fn operator(&self) -> &'static str {
        match self {
            Expectation::Equals(_) => "equals",
            Expectation::NotEquals(_) => "!=",
            Expectation::Range(r) => r.operator,
            Expectation::OneOf(_) => "one of",
            Expectation::Present => "present",
            Expectation::Absent => "absent",
        }
    }

    /// Checks a reading (`None`: the key is absent).
    pub fn check(&self, actual: Option<&Reading>) -> Verdict {
        let Some(actual) = actual else {
            return match self {
                Expectation::Absent => Verdict::Pass,
                Expectation::Present => Verdict::Fail(Some("the key is absent".to_owned())),
                _ => Verdict::Missing,
            };
        };
        let pass = |ok: bool| {
            if ok {
                Verdict::Pass
            } else {
                Verdict::Fail(None)
            }
        };
        match self {
            Expectation::Equals(expected) => pass(equals(expected, actual)),
            Expectation::NotEquals(expected) => pass(!equals(expected, actual)),
            Expectation::OneOf(items) => pass(items.iter().any(|item| equals(item, actual))),
            Expectation::Range(range) => range.check(actual),
            Expectation::Present => Verdict::Pass,
            Expectation::Absent => Verdict::Fail(Some("the key is present".to_owned())),
        }
    }
}

/// `[a, b, c]` → the items, as text.
fn parse_list(text: &str) -> Result<Vec<Reading>, String> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or("expected the values in brackets: one of [a, b]")?;
    let items: Vec<Reading> = inner
        .split(',')
        .map(|item| Reading::Str(item.trim().to_owned()))
        .collect();
    if items
        .iter()
        .any(|item| item.as_str().is_some_and(str::is_empty))
    {
        return Err("a value in the list is empty".to_owned());
    }
    Ok(items)
}

impl Range {
    fn parse(text: &str) -> Result<Range, String> {
        let parts: Vec<(&'static str, &str)> = text
            .split(',')
            .map(|part| {
                let part = part.trim();
                COMPARATORS
                    .iter()
                    .find_map(|op| part.strip_prefix(op).map(|rest| (*op, rest.trim())))
                    .ok_or_else(|| {
                        format!("{part:?} in {text:?} needs a comparator (>=, <=, >, <, =, ~ or ^)")
                    })
            })
            .collect::<Result<_, _>>()?;
        let numbers: Option<Vec<(&'static str, i128)>> = parts
            .iter()
            .map(|(op, operand)| {
                let numeric = !matches!(*op, "~" | "^");
                numeric
                    .then(|| parse_integer(operand))
                    .flatten()
                    .map(|n| (*op, n))
            })
            .collect();
        let versions = VersionSpec::parse(text, "version");
        let versions = match (versions, &numbers) {
            (Ok(spec), _) => Some(spec),
            (Err(_), Some(_)) => None,
            (Err(reason), None) => return Err(format!("{text:?}: {reason}")),
        };
        let operator = match parts.as_slice() {
            [(op, _)] => *op,
            _ => "range",
        };
        Ok(Range {
            operator,
            versions,
            numbers,
        })
    }

    fn check(&self, actual: &Reading) -> Verdict {
        let pass = |ok: bool| {
            if ok {
                Verdict::Pass
            } else {
                Verdict::Fail(None)
            }
        };
        if let (Some(bounds), Some(n)) = (&self.numbers, as_integer(actual)) {
            return pass(bounds.iter().all(|(op, bound)| compare(op, n, *bound)));
        }
        if matches!(actual, Reading::Bool(_)) {
            return Verdict::Fail(Some(format!(
                "{actual} is a boolean, not a version or a number"
            )));
        }
        match &self.versions {
            Some(spec) => match Version::parse(&text(actual)) {
                Ok(version) => pass(spec.matches(&version)),
                Err(_) => Verdict::Fail(Some(format!("{:?} is not a version", text(actual)))),
            },
            None => Verdict::Fail(Some(format!("{actual} is not an integer"))),
        }
    }
}

fn compare(op: &str, value: i128, bound: i128) -> bool {
    match op {
        ">=" => value >= bound,
        "<=" => value <= bound,
        ">" => value > bound,
        "<" => value < bound,
        _ => value == bound,
    }
}

fn parse_integer(text: &str) -> Option<i128> {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn as_integer(r: &Reading) -> Option<i128> {
    match r {
        Reading::Int(i) => Some(i128::from(*i)),
        Reading::Uint(u) => Some(i128::from(*u)),
        Reading::Str(s) => parse_integer(s),
        Reading::Bool(_) | Reading::Float(_) => None,
    }
}

fn as_float(r: &Reading) -> Option<f64> {
    match r {
        Reading::Float(f) => Some(*f),
        // Precision loss above 2^53 is acceptable: this path is only taken beside a float.
        Reading::Int(i) => Some(*i as f64),
        Reading::Uint(u) => Some(*u as f64),
        Reading::Str(s) => s.trim().parse().ok(),
        Reading::Bool(_) => None,
    }
}

/// A reading's truth value: `true`/`yes`/`on`/`1` and `false`/`no`/`off`/`0` (any case).
fn as_bool(r: &Reading) -> Option<bool> {
    match r {
        Reading::Bool(b) => Some(*b),
        Reading::Int(0) => Some(false),
        Reading::Int(1) => Some(true),
        Reading::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn is_bool_word(r: &Reading) -> bool {
    r.as_str()
        .is_some_and(|s| matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "false"))
}

fn text(r: &Reading) -> Cow<'_, str> {
    match r {
        Reading::Str(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    }
}

/// Type-aware equality of an expected value and a reading (see the module documentation).
pub fn equals(expected: &Reading, actual: &Reading) -> bool {
    if expected == actual {
        return true;
    }
    let boolean = |r: &Reading| matches!(r, Reading::Bool(_)) || is_bool_word(r);
    if boolean(expected) || boolean(actual) {
        return as_bool(expected)
            .zip(as_bool(actual))
            .is_some_and(|(e, a)| e == a);
    }
    if let (Some(e), Some(a)) = (as_integer(expected), as_integer(actual)) {
        return e == a;
    }
    if matches!(expected, Reading::Float(_)) || matches!(actual, Reading::Float(_)) {
        return as_float(expected)
            .zip(as_float(actual))
            .is_some_and(|(e, a)| e == a);
    }
    let (e, a) = (text(expected), text(actual));
    if e == a {
        return true;
    }
    match (Version::parse(&e), Version::parse(&a)) {
        (Ok(pattern), Ok(version)) => pattern.matches(&version),
        _ => false,
    }
}

/// One check: a reading, what it must satisfy, and what the report says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// The reading it is about.
    pub path: KeyPath,
    /// The value as written (plain value or operator text).
    pub expected: Reading,
    /// What it requires.
    pub expectation: Expectation,
    /// Whether a failure fails the run.
    pub severity: Severity,
    /// Why it matters (the recipe's one-line context), when known.
    pub context: Option<String>,
    /// Provenance: the recipe file and rule that set it, or `--constraint`.
    pub source: String,
}

/// A `--constraint PATH=VALUE` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// No `=` between path and value.
    #[error("invalid constraint {0:?}: expected PATH=VALUE, e.g. os/sysctl//proc/sys/vm/swappiness=0 or 'gpu/smi/driver-version=>= 570'")]
    NoValue(String),
    /// The path does not parse.
    #[error(transparent)]
    Path(#[from] KeyPathError),
    /// The value is not a valid plain value or operator.
    #[error("invalid constraint {text:?}: {reason} (expected a plain value, or {forms})", forms = OPERATOR_FORMS)]
    Value {
        /// The whole argument.
        text: String,
        /// Why the value is rejected.
        reason: String,
    },
}

/// The source of constraints given on the command line (or in an API request).
pub const AD_HOC_SOURCE: &str = "--constraint";

impl Constraint {
    /// Parses `PATH=VALUE` (the path ends at the first `=`). The constraint is required.
    pub fn parse_arg(text: &str) -> Result<Constraint, ConstraintError> {
        let (path, value) = text
            .split_once('=')
            .ok_or_else(|| ConstraintError::NoValue(text.to_owned()))?;
        let path = KeyPath::parse(path)?;
        let expected = Reading::Str(value.to_owned());
        let expectation =
            Expectation::parse(&expected).map_err(|reason| ConstraintError::Value {
                text: text.to_owned(),
                reason,
            })?;
        if value.trim().is_empty() {
            return Err(ConstraintError::Value {
                text: text.to_owned(),
                reason: "the value is empty".to_owned(),
            });
        }
        Ok(Constraint {
            path,
            expected,
            expectation,
            severity: Severity::Required,
            context: Some("given on the command line".to_owned()),
            source: AD_HOC_SOURCE.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Reading {
        Reading::Str(text.to_owned())
    }

    fn check(expected: Reading, actual: Option<Reading>) -> Verdict {
        Expectation::parse(&expected)
            .unwrap_or_else(|e| panic!("{expected:?}: {e}"))
            .check(actual.as_ref())
    }

    /// Every operator on every kind of value: (expected as written, actual reading, passes).
    #[test]
    fn operators_on_every_value_kind() {
        use Reading::{Bool, Float, Int, Uint};
        let table: Vec<(Reading, Reading, bool)> = vec![
            // plain values: integers numerically, whatever side is text
            (s("262144"), Int(262144), true),
            (Int(262144), s("262144"), true),
            (s("262144"), Int(65530), false),
            (Uint(u64::MAX), s("18446744073709551615"), true),
            (Uint(u64::MAX), Uint(u64::MAX), true),
            (s("-1"), s("-1"), true),
            (s("-999"), Int(-999), true),
            (s("0"), Int(1), false),
            // booleans by meaning
            (Bool(true), Bool(true), true),
            (Bool(true), s("true"), true),
            (s("true"), Bool(true), true),
            (s("true"), s("True"), true),
            (Bool(true), s("yes"), true),
            (Bool(true), Int(1), true),
            (Bool(false), s("0"), true),
            (Bool(true), Bool(false), false),
            (s("false"), Bool(true), false),
            (Bool(true), s("active"), false),
            // floats
            (Float(0.5), s("0.5"), true),
            (Float(0.5), Float(0.25), false),
            // versions by precision
            (s("6.8"), s("6.8.0-1028-aws"), true),
            (s("6.8"), s("6.9.0-1028-aws"), false),
            (s("6.8.0-1028-aws"), s("6.8.0-1028-aws"), true),
            (s("6.8.0-1028-aws"), s("6.8.0-1030-aws"), false),
            (s("1.33"), s("v1.33.5-eks-3025e55"), true),
            (s("1.33.5"), s("v1.33.5-eks-3025e55"), true),
            (s("1.33.6"), s("v1.33.5-eks-3025e55"), false),
            (s("580.82.07"), s("580.82.07"), true),
            (s("580.82"), s("580.82.07"), true),
            (s("580"), s("580.82.07"), true),
            (s("570.133.20"), s("580.82.07"), false),
            (s("24.04"), s("24.04"), true),
            // other text exactly
            (s("active"), s("active"), true),
            (s("active"), s("Active"), false),
            (s("2M"), s("2M"), true),
            (s("2M"), s("1G"), false),
            // !=
            (s("!= inactive"), s("active"), true),
            (s("!= active"), s("active"), false),
            (s("!= 0"), Int(0), false),
            (s("!= 0"), Int(1), true),
            (s("!= 570"), s("580.82.07"), true),
            (s("!= false"), Bool(true), true),
            // comparators on versions
            (s(">= 570"), s("580.82.07"), true),
            (s(">= 580.82.07"), s("580.82.07"), true),
            (s("> 580.82.07"), s("580.82.07"), false),
            (s("< 580"), s("570.133.20"), true),
            (s("<= 570.133"), s("570.133.20"), true),
            (s("<= 570.133.19"), s("570.133.20"), false),
            (s(">=6.8, <6.9"), s("6.8.0-1028-aws"), true),
            (s(">=6.8, <6.9"), s("6.9.1"), false),
            (s(">= 1.30"), s("v1.33.5-eks-3025e55"), true),
            (s("< 1.30"), s("v1.33.5-eks-3025e55"), false),
            (s("~1.33"), s("v1.33.5-eks-3025e55"), true),
            (s("~1.32"), s("v1.33.5-eks-3025e55"), false),
            (s("^1"), s("v1.33.5-eks-3025e55"), true),
            (s("^6"), s("6.8.0-1028-aws"), true),
            (s("=1.33"), s("v1.33.5-eks-3025e55"), true),
            (s("=6.8"), s("6.8.0-1028-aws"), true),
            // comparators on numbers, read as text or as integers
            (s(">= 262144"), s("262144"), true),
            (s(">= 262144"), Int(65530), false),
            (s("> 1048576"), Uint(u64::MAX), true),
            (s(">= -1000, <= -900"), Int(-999), true),
            (s(">= -1000, <= -900"), s("0"), false),
            (s("= 0"), s("0"), true),
            (s("<10"), Int(60), false),
            // one of
            (s("one of [open, proprietary]"), s("open"), true),
            (s("one of [open, proprietary]"), s("auto"), false),
            (s("one of [1.32, 1.33]"), s("v1.33.5-eks-3025e55"), true),
            (s("one of [1, 2]"), Int(2), true),
            (s("one of [true]"), Bool(true), true),
            (s("one of [570, 580]"), s("580.82.07"), true),
            (s("one of [6.5, 6.8]"), s("6.8.0-1028-aws"), true),
            // present and absent on present keys
            (s("present"), s("anything"), true),
            (s("present"), Bool(false), true),
            (s("absent"), Int(0), false),
        ];
        for (expected, actual, passes) in table {
            let verdict = check(expected.clone(), Some(actual.clone()));
            assert_eq!(
                verdict == Verdict::Pass,
                passes,
                "{expected:?} against {actual:?}: {verdict:?}"
            );
        }
    }

    #[test]
    fn absent_keys_are_missing_except_for_present_and_absent() {
        for expected in [
            s("1"),
            s(">= 1"),
            s("!= 1"),
            s("one of [a]"),
            Reading::Int(1),
        ] {
            assert_eq!(check(expected, None), Verdict::Missing);
        }
        assert_eq!(check(s("absent"), None), Verdict::Pass);
        assert!(matches!(check(s("present"), None), Verdict::Fail(Some(_))));
    }

    #[test]
    fn comparisons_with_values_of_the_wrong_kind_fail_and_say_why() {
        let table = [
            (s(">= 570"), s("not-a-driver"), "is not a version"),
            (s(">= 570"), Reading::Bool(true), "is a boolean"),
            (s(">= -5"), s("5.5"), "is not an integer"),
        ];
        for (expected, actual, reason) in table {
            match check(expected.clone(), Some(actual)) {
                Verdict::Fail(Some(why)) => assert!(why.contains(reason), "{why}"),
                other => panic!("{expected:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn operators_are_named_and_values_stay_as_written() {
        let table = [
            (s("1"), "equals"),
            (Reading::Bool(true), "equals"),
            (s("!= 1"), "!="),
            (s(">= 1.30"), ">="),
            (s("<1"), "<"),
            (s("~1.31"), "~"),
            (s("^1"), "^"),
            (s("= 1"), "="),
            (s(">=6.8, <6.9"), "range"),
            (s("one of [a, b]"), "one of"),
            (s("present"), "present"),
            (s(" absent "), "absent"),
        ];
        for (value, operator) in table {
            assert_eq!(
                Expectation::parse(&value).unwrap().operator(),
                operator,
                "{value:?}"
            );
        }
    }

    #[test]
    fn invalid_operators_are_rejected_with_a_reason() {
        let table = [
            (">= soon", "non-numeric component"),
            (">=6.8, 6.9", "needs a comparator"),
            (">= 6.8.0-1028-aws", "compares numbers only"),
            (">= ", "is empty"),
            ("!=", "no value after !="),
            ("one of a, b", "in brackets"),
            ("one of [a, ]", "is empty"),
            ("~ -1", "negative"),
        ];
        for (text, reason) in table {
            let err = Expectation::parse(&s(text)).unwrap_err();
            assert!(err.contains(reason), "{text}: {err}");
        }
    }

    #[test]
    fn command_line_constraints_parse_path_then_value() {
        let c = Constraint::parse_arg("os/sysctl//proc/sys/vm/swappiness=<= 10").unwrap();
        assert_eq!(c.path.key, "/proc/sys/vm/swappiness");
        assert_eq!(c.expectation.operator(), "<=");
        assert_eq!(c.expected, s("<= 10"));
        assert_eq!(c.severity, Severity::Required);
        assert_eq!(c.source, AD_HOC_SOURCE);
        let c = Constraint::parse_arg("k8s/server/version=>=1.30").unwrap();
        assert_eq!(c.expectation.operator(), ">=");
        let c = Constraint::parse_arg("gpu/smi/driver.version=580.82.07").unwrap();
        assert_eq!(c.path.subtype, "smi");
        assert_eq!(c.expectation, Expectation::Equals(s("580.82.07")));
        for (text, message) in [
            ("os/sysctl/x", "expected PATH=VALUE"),
            ("sysctl=1", "invalid key path"),
            ("os/kmod/nvidia=>= lots", "non-numeric component"),
            ("os/kmod/nvidia=", "the value is empty"),
        ] {
            let err = Constraint::parse_arg(text).unwrap_err().to_string();
            assert!(err.contains(message), "{text}: {err}");
        }
    }
}

//! Which readings a comparison leaves out: key patterns (`TYPE/SUBTYPE/KEY` with `*`), each
//! with where it came from.
//!
//! Collectors declare the readings that change between runs on an unchanged node (their manifest's
//! `volatileKeys`), the user adds patterns with `--ignore`, and `eidos fleet report` adds the
//! readings that name the node itself ([`NODE_IDENTITY`]). A comparison checks each reading it
//! meets through a [`Matcher`], which remembers its answers: the same few hundred keys come back
//! in every snapshot of a fleet.

use crate::FastMap as HashMap;
use eidos_plugin_api::Reading;
use eidos_recipes::validate::{KeyPathError, KeyPattern};
use indexmap::IndexMap;
use serde::Serialize;

/// Readings that differ from node to node by nature, because they name the node or its parts:
/// `eidos fleet report` leaves them out (a node is named by its snapshot's `source-node`).
pub const NODE_IDENTITY: &[&str] = &[
    "os/sysctl//proc/sys/kernel/hostname",
    "k8s/node/name",
    "gpu/*/uuid",
    "gpu/*/serial",
];

/// Where an ignore pattern came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "from", content = "name")]
pub enum Origin {
    /// A collector's manifest (`volatileKeys`), by collector name.
    Collector(String),
    /// The command line (`--ignore`).
    Flag,
    /// eidos itself: [`NODE_IDENTITY`] in a fleet report.
    NodeIdentity,
}

/// One pattern and its origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// The pattern, as `TYPE/SUBTYPE/KEY`.
    #[serde(serialize_with = "as_text")]
    pub pattern: KeyPattern,
    /// Where it came from.
    pub origin: Origin,
}

fn as_text<S: serde::Serializer>(pattern: &KeyPattern, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(pattern)
}

/// A pattern a collector declared that is not a valid key pattern (the collector is at fault;
/// the host warns and goes on without it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("collector {collector} declares an invalid volatile key pattern: {error}")]
pub struct BadDeclaration {
    /// The collector.
    pub collector: String,
    /// What is wrong with the pattern.
    pub error: KeyPathError,
}

/// The patterns a comparison ignores.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// No patterns: every reading is compared.
    pub fn new() -> Self {
        IgnoreRules::default()
    }

    /// Adds one pattern.
    pub fn add(&mut self, pattern: KeyPattern, origin: Origin) {
        if !self.rules.iter().any(|r| r.pattern == pattern) {
            self.rules.push(Rule { pattern, origin });
        }
    }

    /// Adds a collector's declared volatile keys; a pattern that does not parse is left out and
    /// returned, for the caller to warn about.
    pub fn add_volatile(&mut self, collector: &str, patterns: &[String]) -> Vec<BadDeclaration> {
        let mut bad = Vec::new();
        for text in patterns {
            match KeyPattern::parse(text) {
                Ok(pattern) => self.add(pattern, Origin::Collector(collector.to_owned())),
                Err(error) => bad.push(BadDeclaration {
                    collector: collector.to_owned(),
                    error,
                }),
            }
        }
        bad
    }

    /// Adds [`NODE_IDENTITY`].
    pub fn add_node_identity(&mut self) {
        for text in NODE_IDENTITY {
            // The constant's patterns are checked by a test; one that did not parse is skipped.
            if let Ok(pattern) = KeyPattern::parse(text) {
                self.add(pattern, Origin::NodeIdentity);
            }
        }
    }

    /// The patterns, in the order they were added.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether the reading `kind/subtype/key` is ignored (uncached; see [`IgnoreRules::matcher`]).
    pub fn ignores(&self, kind: &str, subtype: &str, key: &str) -> bool {
        self.rules
            .iter()
            .any(|r| r.pattern.matches(kind, subtype, key))
    }

    /// A matcher that remembers its answers.
    pub fn matcher(&self) -> Matcher<'_> {
        Matcher {
            rules: self,
            subtypes: HashMap::default(),
        }
    }
}

/// Answers "is this reading ignored?" for one thread, remembering each answer: per subtype, the
/// patterns that can match there, and per key the answer.
#[derive(Debug)]
pub struct Matcher<'a> {
    rules: &'a IgnoreRules,
    /// By `kind \0 subtype` (kind in lower case).
    subtypes: HashMap<String, SubtypeMatcher<'a>>,
}

/// The patterns that match a subtype's type and name, and the answers so far for its keys.
#[derive(Debug, Default)]
pub struct SubtypeMatcher<'a> {
    patterns: Vec<&'a KeyPattern>,
    keys: HashMap<String, bool>,
    last: KeyOrder,
}

/// What a matcher remembers of the last key list it ordered for its subtype: the keys as the
/// snapshot listed them, how many the rules ignore, and the positions of the others in key order.
/// The snapshots of one fleet list a subtype's keys in the same order, so the next one usually
/// needs neither a look-up per key nor a sort (they were a fifth of a fleet report's CPU time).
#[derive(Debug, Default)]
struct KeyOrder {
    keys: Vec<String>,
    ignored: usize,
    kept_in_key_order: Vec<usize>,
}

impl SubtypeMatcher<'_> {
    /// Whether `key` is ignored in this subtype.
    pub fn ignores(&mut self, key: &str) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        if let Some(&answer) = self.keys.get(key) {
            return answer;
        }
        let answer = self.patterns.iter().any(|p| p.key_matches(key));
        self.keys.insert(key.to_owned(), answer);
        answer
    }

    /// Whether no key of this subtype can be ignored.
    pub fn ignores_nothing(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The readings of `data` that are not ignored, sorted by key, and how many are ignored.
    pub fn kept_in_key_order<'d>(
        &mut self,
        data: &'d IndexMap<String, Reading>,
    ) -> (Vec<(&'d str, &'d Reading)>, usize) {
        let same_keys = self.last.keys.len() == data.len()
            && self.last.keys.iter().zip(data.keys()).all(|(a, b)| a == b);
        if !same_keys {
            let mut ignored = 0;
            let mut kept = Vec::with_capacity(data.len());
            for (i, key) in data.keys().enumerate() {
                if self.ignores(key) {
                    ignored += 1;
                } else {
                    kept.push(i);
                }
            }
            // The keys of one map are distinct: sorting needs no tie-break.
            let keys: Vec<&str> = data.keys().map(String::as_str).collect();
            kept.sort_unstable_by(|&a, &b| keys[a].cmp(keys[b]));
            self.last = KeyOrder {
                keys: data.keys().cloned().collect(),
                ignored,
                kept_in_key_order: kept,
            };
        }
        let readings = self
            .last
            .kept_in_key_order
            .iter()
            .filter_map(|&i| data.get_index(i))
            .map(|(key, value)| (key.as_str(), value))
            .collect();
        (readings, self.last.ignored)
    }
}

impl<'a> Matcher<'a> {
    /// The matcher for the keys of `subtype` in a measurement of type `kind` (any case).
    pub fn subtype(&mut self, kind: &str, subtype: &str) -> &mut SubtypeMatcher<'a> {
        let mut id = kind.to_ascii_lowercase();
        id.push('\0');
        id.push_str(subtype);
        let rules = self.rules;
        self.subtypes.entry(id).or_insert_with(|| SubtypeMatcher {
            patterns: rules
                .rules
                .iter()
                .map(|r| &r.pattern)
                .filter(|p| p.kind_and_subtype_match(kind, subtype))
                .collect(),
            keys: HashMap::default(),
            last: KeyOrder::default(),
        })
    }

    /// Whether the reading `kind/subtype/key` is ignored.
    pub fn ignores(&mut self, kind: &str, subtype: &str, key: &str) -> bool {
        self.subtype(kind, subtype).ignores(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str]) -> IgnoreRules {
        let mut rules = IgnoreRules::new();
        for p in patterns {
            rules.add(KeyPattern::parse(p).unwrap(), Origin::Flag);
        }
        rules
    }

    #[test]
    fn the_matcher_answers_as_the_patterns_do_and_remembers() {
        let rules = rules(&[
            "systemd/*/*Timestamp",
            "os/sysctl//proc/sys/fs/file-nr",
            "GPU/gpu-*/uuid",
        ]);
        let mut matcher = rules.matcher();
        let table = [
            ("SystemD", "kubelet.service", "ActiveEnterTimestamp", true),
            ("systemd", "kubelet.service", "ActiveState", false),
            ("os", "sysctl", "/proc/sys/fs/file-nr", true),
            ("os", "sysctl", "/proc/sys/fs/file-max", false),
            ("os", "grub", "/proc/sys/fs/file-nr", false),
            ("gpu", "gpu-3", "uuid", true),
            ("gpu", "smi", "uuid", false),
        ];
        for _ in 0..2 {
            for (kind, subtype, key, expected) in table {
                assert_eq!(
                    matcher.ignores(kind, subtype, key),
                    expected,
                    "{kind}/{subtype}/{key}"
                );
                assert_eq!(rules.ignores(kind, subtype, key), expected);
            }
        }
        assert!(matcher.subtype("os", "grub").ignores_nothing());
    }

    /// Remembering the last key list changes no answer: the kept readings in key order and the
    /// ignored count are what filtering and sorting give, whether the keys come in the order
    /// seen last, in another order, or are other keys.
    #[test]
    fn kept_readings_in_key_order_are_the_filtered_sorted_readings_whatever_was_seen_before() {
        let rules = rules(&["systemd/*/*Timestamp", "systemd/*/MainPID"]);
        let map = |keys: &[&str]| -> IndexMap<String, Reading> {
            keys.iter()
                .enumerate()
                .map(|(i, k)| ((*k).to_owned(), Reading::Int(i as i64)))
                .collect()
        };
        let expected = |data: &IndexMap<String, Reading>| {
            let mut kept: Vec<(String, Reading)> = data
                .iter()
                .filter(|(k, _)| !rules.ignores("systemd", "a.service", k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            kept.sort_by(|a, b| a.0.cmp(&b.0));
            (
                kept,
                data.len()
                    - data
                        .iter()
                        .filter(|(k, _)| !rules.ignores("systemd", "a.service", k))
                        .count(),
            )
        };
        let mut matcher = rules.matcher();
        let lists: [&[&str]; 6] = [
            &["Zeta", "MainPID", "Alpha", "ActiveEnterTimestamp", "Mid"],
            &["Zeta", "MainPID", "Alpha", "ActiveEnterTimestamp", "Mid"],
            &["Alpha", "Zeta", "Mid", "MainPID", "ActiveEnterTimestamp"],
            &["Zeta", "MainPID", "Alpha", "ActiveEnterTimestamp", "Other"],
            &["Zeta"],
            &[],
        ];
        for keys in lists {
            let data = map(keys);
            let (kept, ignored) = matcher
                .subtype("SystemD", "a.service")
                .kept_in_key_order(&data);
            let kept: Vec<(String, Reading)> = kept
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect();
            assert_eq!((kept, ignored), expected(&data), "{keys:?}");
        }
    }

    #[test]
    fn declared_patterns_that_do_not_parse_are_returned_not_added() {
        let mut rules = IgnoreRules::new();
        let bad = rules.add_volatile(
            "acme",
            &["acme/*/uptime".to_owned(), "acme-uptime".to_owned()],
        );
        assert_eq!(rules.rules().len(), 1);
        assert_eq!(bad.len(), 1);
        let text = bad[0].to_string();
        assert!(
            text.contains("acme") && text.contains("acme-uptime"),
            "{text}"
        );
        // The same pattern twice is kept once.
        rules.add_volatile("acme", &["acme/*/uptime".to_owned()]);
        assert_eq!(rules.rules().len(), 1);
    }

    #[test]
    fn node_identity_patterns_parse_and_name_the_node() {
        let mut rules = IgnoreRules::new();
        rules.add_node_identity();
        assert_eq!(rules.rules().len(), NODE_IDENTITY.len());
        assert!(rules.ignores("OS", "sysctl", "/proc/sys/kernel/hostname"));
        assert!(rules.ignores("k8s", "node", "name"));
        assert!(!rules.ignores("k8s", "node", "kubeletVersion"));
    }
}

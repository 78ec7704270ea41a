//! `eidos fleet report`: many nodes' snapshots grouped into configurations, and per reading the
//! majority value, every minority value and the nodes that have it (the outliers).
//!
//! Each snapshot is boiled down, on a worker thread, to a [`Profile`]: one byte string per
//! collector presence and per subtype (its compared readings, encoded). Nodes share most of these
//! byte strings, so they are stored once ([`Fleet`] interns them) and a node is a list of
//! numbers; nodes with the same list have the same configuration. Memory grows with the number of
//! distinct subtypes in the fleet, not with the number of nodes times their size, and grouping is
//! exact (byte strings compare whole; no hash decides equality).

use crate::compare::{same_value, Presence, View};
use crate::ignore::{IgnoreRules, Matcher, Rule};
use crate::verdict::{NodeVerdict, Validator, ValidatorError};
use crate::FastMap as HashMap;
use eidos_plugin_api::{Reading, Snapshot};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

/// The `kind` of a fleet report document.
pub const FLEET_KIND: &str = "FleetReport";

/// One node's configuration as compared: encoded presence and subtype parts, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    parts: Vec<Vec<u8>>,
}

/// The tag of a presence part.
const PRESENCE: u8 = b'P';
/// The tag of a subtype part.
const SUBTYPE: u8 = b'S';

impl Profile {
    /// The profile of `snapshot`, leaving out what `matcher` ignores.
    pub fn of(snapshot: &Snapshot, matcher: &mut Matcher<'_>) -> Profile {
        let view = View::new(snapshot, matcher);
        let mut parts = Vec::new();
        for t in &view.types {
            let mut p = vec![PRESENCE];
            put_str(&mut p, &t.name);
            p.push(t.presence.code());
            parts.push(p);
            for s in &t.subtypes {
                let mut p = Vec::with_capacity(64 + s.readings.len() * 32);
                p.push(SUBTYPE);
                put_str(&mut p, &t.name);
                put_str(&mut p, s.name);
                for (key, value) in &s.readings {
                    put_str(&mut p, key);
                    put_value(&mut p, value);
                }
                parts.push(p);
            }
        }
        Profile { parts }
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // A string longer than 4 GiB cannot come from a snapshot (they are capped far below).
    out.extend_from_slice(&u32::try_from(s.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, value: &Reading) {
    match value {
        Reading::Bool(b) => out.extend_from_slice(&[0, u8::from(*b)]),
        Reading::Int(i) => {
            out.push(1);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Reading::Uint(u) => {
            out.push(2);
            out.extend_from_slice(&u.to_le_bytes());
        }
        Reading::Float(x) => {
            out.push(3);
            // Every NaN is the same value (see `same_value`).
            let bits = if x.is_nan() {
                f64::NAN.to_bits()
            } else {
                x.to_bits()
            };
            out.extend_from_slice(&bits.to_le_bytes());
        }
        Reading::Str(s) => {
            out.push(4);
            put_str(out, s);
        }
    }
}

/// Reads back what [`Profile::of`] wrote.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<[u8; 8]> {
        self.take(8)?.try_into().ok()
    }
    fn str(&mut self) -> Option<&'a str> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        std::str::from_utf8(self.take(usize::try_from(len).ok()?)?).ok()
    }
    fn value(&mut self) -> Option<Reading> {
        Some(match self.u8()? {
            0 => Reading::Bool(self.u8()? != 0),
            1 => Reading::Int(i64::from_le_bytes(self.u64()?)),
            2 => Reading::Uint(u64::from_le_bytes(self.u64()?)),
            3 => Reading::Float(f64::from_bits(u64::from_le_bytes(self.u64()?))),
            4 => Reading::Str(self.str()?.to_owned()),
            _ => return None,
        })
    }
}

/// A part, decoded.
enum Part {
    Presence {
        kind: String,
        presence: Presence,
    },
    Subtype {
        kind: String,
        subtype: String,
        readings: Vec<(String, Reading)>,
    },
}

impl Part {
    fn decode(bytes: &[u8]) -> Option<Part> {
        let mut c = Cursor(bytes);
        match c.u8()? {
            PRESENCE => {
                let kind = c.str()?.to_owned();
                let presence = Presence::from_code(c.u8()?)?;
                Some(Part::Presence { kind, presence })
            }
            SUBTYPE => {
                let kind = c.str()?.to_owned();
                let subtype = c.str()?.to_owned();
                let mut readings = Vec::new();
                while !c.0.is_empty() {
                    let key = c.str()?.to_owned();
                    readings.push((key, c.value()?));
                }
                Some(Part::Subtype {
                    kind,
                    subtype,
                    readings,
                })
            }
            _ => None,
        }
    }
}

/// One input of a fleet report that could not be read as a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// The input (a file, a ConfigMap).
    pub source: String,
    /// Why.
    pub reason: String,
}

/// A node as it was added.
#[derive(Debug, Clone)]
struct NodeRecord {
    name: String,
    source: String,
    config: u32,
    verdict: Option<NodeVerdict>,
}

/// Nodes as they are added, grouped into configurations.
#[derive(Debug, Default)]
pub struct Fleet {
    /// Every distinct part, once; a part's number is its index.
    parts: Vec<Arc<[u8]>>,
    part_ids: HashMap<Arc<[u8]>, u32>,
    /// Every distinct configuration (a sorted list of part numbers), once.
    configs: Vec<Arc<[u32]>>,
    config_ids: HashMap<Arc<[u32]>, u32>,
    /// The nodes, by input position (`None`: not added, or unreadable).
    nodes: Vec<Option<NodeRecord>>,
    unreadable: Vec<(usize, Unreadable)>,
}

impl Fleet {
    /// An empty fleet.
    pub fn new() -> Self {
        Fleet::default()
    }

    /// Adds the node read from input `index` (its position in the inputs, which orders the
    /// report when names tie).
    pub fn add(
        &mut self,
        index: usize,
        name: String,
        source: String,
        profile: Profile,
        verdict: Option<NodeVerdict>,
    ) {
        let mut ids: Vec<u32> = profile
            .parts
            .into_iter()
            .map(|bytes| match self.part_ids.get(bytes.as_slice()) {
                Some(&id) => id,
                None => {
                    let id = self.parts.len() as u32;
                    let bytes: Arc<[u8]> = bytes.into();
                    self.parts.push(bytes.clone());
                    self.part_ids.insert(bytes, id);
                    id
                }
            })
            .collect();
        ids.sort_unstable();
        let config = match self.config_ids.get(ids.as_slice()) {
            Some(&id) => id,
            None => {
                let id = self.configs.len() as u32;
                let ids: Arc<[u32]> = ids.into();
                self.configs.push(ids.clone());
                self.config_ids.insert(ids, id);
                id
            }
        };
        if self.nodes.len() <= index {
            self.nodes.resize(index + 1, None);
        }
        self.nodes[index] = Some(NodeRecord {
            name,
            source,
            config,
            verdict,
        });
    }

    /// Records input `index` as unreadable.
    pub fn add_unreadable(&mut self, index: usize, unreadable: Unreadable) {
        self.unreadable.push((index, unreadable));
    }

    /// The report: configurations, and the readings and collectors that drift.
    pub fn report(self, rules: &IgnoreRules) -> FleetReport {
        Analysis::new(self).report(rules)
    }
}

/// How a node fared against its recipe, and the node's name and configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeEntry {
    /// The node's name: its snapshot's `source-node`, else the input's name; an input's name is
    /// added in parentheses where two inputs name the same node.
    pub name: String,
    /// The input it was read from.
    pub source: String,
    /// The number of its configuration (1 is the most common).
    pub configuration: usize,
    /// Its validation verdict (with `--validate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<NodeVerdict>,
}

/// A group of nodes that are identical after the ignore rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Configuration {
    /// Its number: 1 is the configuration with the most nodes.
    pub id: usize,
    /// How many nodes have it.
    pub nodes: usize,
    /// Their names, sorted.
    pub members: Vec<String>,
}

/// A value and how many nodes have it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Majority<V> {
    /// The value (`null`: the reading is absent).
    pub value: V,
    /// How many nodes have it.
    pub nodes: usize,
}

/// A value fewer nodes have than the majority's, and which.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Minority<V> {
    /// The value (`null`: the reading is absent).
    pub value: V,
    /// How many nodes have it.
    pub nodes: usize,
    /// Their names, sorted.
    pub outliers: Vec<String>,
}

/// A reading that is not the same on every node whose collector ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyDrift {
    /// `TYPE/SUBTYPE/KEY`.
    pub path: String,
    /// The type, in lower case.
    #[serde(rename = "type")]
    pub kind: String,
    /// The subtype.
    pub subtype: String,
    /// The key.
    pub key: String,
    /// The most common value.
    pub majority: Majority<Option<Reading>>,
    /// Every other value, most common first.
    pub minorities: Vec<Minority<Option<Reading>>>,
    /// How many nodes do not have the majority value.
    pub deviating: usize,
}

/// A collector that did not fare the same on every node.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectorDrift {
    /// The collector (and measurement type).
    pub collector: String,
    /// How most nodes fared.
    pub majority: Majority<Presence>,
    /// Every other outcome, most common first.
    pub minorities: Vec<Minority<Presence>>,
    /// How many nodes did not fare as most did.
    pub deviating: usize,
}

/// The counts of a fleet report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetSummary {
    /// Nodes read.
    pub nodes: usize,
    /// Distinct configurations among them.
    pub configurations: usize,
    /// Readings that drift.
    pub drifting_keys: usize,
    /// Collectors that did not fare the same everywhere.
    pub drifting_collectors: usize,
    /// Nodes that deviate from the majority somewhere.
    pub outliers: usize,
    /// Inputs that were not snapshots (skipped).
    pub unreadable: usize,
    /// Nodes whose validation verdict is `fail` (with `--validate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<usize>,
}

impl FleetSummary {
    /// Whether there is drift to report: a reading or a collector that differs.
    pub fn drift(&self) -> bool {
        self.drifting_keys + self.drifting_collectors > 0
    }

    /// The summary line people read first.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} node(s), {} configuration(s), {} drifting key(s), {} drifting collector(s), {} outlier node(s)",
            self.nodes,
            self.configurations,
            self.drifting_keys,
            self.drifting_collectors,
            self.outliers
        );
        if let Some(invalid) = self.invalid {
            line.push_str(&format!(", {invalid} failing validation"));
        }
        if self.unreadable > 0 {
            line.push_str(&format!(
                ", {} unreadable input(s) skipped",
                self.unreadable
            ));
        }
        line
    }
}

/// What `eidos fleet report` reports (`kind: FleetReport`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetReport {
    /// Always [`FLEET_KIND`].
    pub kind: &'static str,
    /// The counts.
    pub summary: FleetSummary,
    /// The summary as one line (what the table shows first).
    pub summary_line: String,
    /// Collectors that did not fare the same on every node, most deviating first.
    pub collectors: Vec<CollectorDrift>,
    /// Readings that drift, most deviating first.
    pub keys: Vec<KeyDrift>,
    /// The configurations, most common first.
    pub configurations: Vec<Configuration>,
    /// Every node read, by name.
    pub nodes: Vec<NodeEntry>,
    /// Inputs that were not snapshots, skipped.
    pub unreadable: Vec<Unreadable>,
    /// Things worth knowing that are not drift (two inputs naming the same node).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The patterns that were ignored, and where each came from.
    pub ignored: Vec<Rule>,
}

/// The fleet, with names settled and configurations numbered, for building the report.
struct Analysis {
    fleet: Fleet,
    /// Node names, by node position (only nodes that were added).
    names: Vec<String>,
    /// Node positions per configuration, sorted by name.
    members: Vec<Vec<usize>>,
    warnings: Vec<String>,
}

impl Analysis {
    fn new(fleet: Fleet) -> Analysis {
        let mut names = vec![String::new(); fleet.nodes.len()];
        let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, node) in fleet.nodes.iter().enumerate() {
            if let Some(node) = node {
                by_name.entry(node.name.as_str()).or_default().push(i);
            }
        }
        let mut warnings = Vec::new();
        for (name, positions) in &by_name {
            if let [only] = positions.as_slice() {
                names[*only] = (*name).to_owned();
                continue;
            }
            let sources: Vec<&str> = positions
                .iter()
                .filter_map(|&i| fleet.nodes[i].as_ref().map(|n| n.source.as_str()))
                .collect();
            warnings.push(format!(
                "node {name} has {} snapshots ({}); each is counted, named after its input",
                positions.len(),
                sources.join(", ")
            ));
            for (&i, source) in positions.iter().zip(&sources) {
                names[i] = format!("{name} ({source})");
            }
        }
        let mut members = vec![Vec::new(); fleet.configs.len()];
        for (i, node) in fleet.nodes.iter().enumerate() {
            if let Some(node) = node {
                members[node.config as usize].push(i);
            }
        }
        for m in &mut members {
            m.sort_by(|&a, &b| names[a].cmp(&names[b]));
        }
        Analysis {
            fleet,
            names,
            members,
            warnings,
        }
    }

    fn names_of(&self, configs: &[u32]) -> Vec<String> {
        let mut out: Vec<&str> = configs
            .iter()
            .flat_map(|&c| {
                self.members[c as usize]
                    .iter()
                    .map(|&i| self.names[i].as_str())
            })
            .collect();
        out.sort_unstable();
        out.into_iter().map(str::to_owned).collect()
    }

    /// Splits `groups` (a value and the configurations that have it) into the majority and the
    /// minorities, most nodes first; ties go to the value whose first node sorts first. `None`
    /// for no groups.
    fn rank<V: Clone>(
        &self,
        groups: Vec<(V, Vec<u32>)>,
    ) -> Option<(Majority<V>, Vec<Minority<V>>, usize)> {
        // Counting and the first name are cheap; the full (sorted) name lists are built only for
        // the minorities, which are small where it matters (a fleet of 10,000 and a few outliers).
        let mut ranked: Vec<(V, Vec<u32>, usize, Option<&str>)> = groups
            .into_iter()
            .map(|(v, configs)| {
                let count = configs
                    .iter()
                    .map(|&c| self.members[c as usize].len())
                    .sum();
                let first = configs
                    .iter()
                    .filter_map(|&c| self.members[c as usize].first())
                    .map(|&i| self.names[i].as_str())
                    .min();
                (v, configs, count, first)
            })
            .collect();
        ranked.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.3.cmp(&b.3)));
        let mut iter = ranked.into_iter();
        let (value, _, nodes, _) = iter.next()?;
        let majority = Majority { value, nodes };
        let minorities: Vec<Minority<V>> = iter
            .map(|(value, configs, nodes, _)| Minority {
                value,
                nodes,
                outliers: self.names_of(&configs),
            })
            .collect();
        let deviating = minorities.iter().map(|m| m.nodes).sum();
        Some((majority, minorities, deviating))
    }

    fn report(self, rules: &IgnoreRules) -> FleetReport {
        let parts: Vec<Option<Part>> = self.fleet.parts.iter().map(|p| Part::decode(p)).collect();
        // Per type: for each configuration, its presence and its subtype parts.
        let mut types: BTreeMap<&str, TypeIndex> = BTreeMap::new();
        for (c, config) in self.fleet.configs.iter().enumerate() {
            for &id in config.iter() {
                match &parts[id as usize] {
                    Some(Part::Presence { kind, presence }) => {
                        types
                            .entry(kind)
                            .or_default()
                            .presence
                            .insert(c as u32, *presence);
                    }
                    Some(Part::Subtype { kind, subtype, .. }) => {
                        types
                            .entry(kind)
                            .or_default()
                            .subtypes
                            .entry(subtype)
                            .or_default()
                            .push((c as u32, id));
                    }
                    None => {}
                }
            }
        }
        let all_configs: Vec<u32> = (0..self.fleet.configs.len() as u32).collect();
        let mut collectors = Vec::new();
        let mut keys = Vec::new();
        for (kind, index) in &types {
            // How each configuration fared with this collector.
            let mut by_presence: BTreeMap<Presence, Vec<u32>> = BTreeMap::new();
            for &c in &all_configs {
                let p = index.presence.get(&c).copied().unwrap_or(Presence::NotRun);
                by_presence.entry(p).or_default().push(c);
            }
            let ran = by_presence.get(&Presence::Ran).cloned().unwrap_or_default();
            if by_presence.len() < 2 {
                // The same everywhere: nothing to report.
            } else if let Some((majority, minorities, deviating)) =
                self.rank(by_presence.into_iter().collect())
            {
                collectors.push(CollectorDrift {
                    collector: (*kind).to_owned(),
                    majority,
                    minorities,
                    deviating,
                });
            }
            for (subtype, blocks) in &index.subtypes {
                keys.extend(self.subtype_drift(kind, subtype, blocks, &ran, &parts));
            }
        }
        collectors.sort_by(|a, b| {
            b.deviating
                .cmp(&a.deviating)
                .then(a.collector.cmp(&b.collector))
        });
        keys.sort_by(|a, b| {
            b.deviating
                .cmp(&a.deviating)
                .then_with(|| a.path.cmp(&b.path))
        });

        let mut order: Vec<usize> = (0..self.fleet.configs.len()).collect();
        order.sort_by(|&a, &b| {
            let (ma, mb) = (&self.members[a], &self.members[b]);
            mb.len().cmp(&ma.len()).then_with(|| {
                ma.first()
                    .map(|&i| &self.names[i])
                    .cmp(&mb.first().map(|&i| &self.names[i]))
            })
        });
        let mut number = vec![0; self.fleet.configs.len()];
        let configurations: Vec<Configuration> = order
            .iter()
            .enumerate()
            .map(|(rank, &c)| {
                number[c] = rank + 1;
                Configuration {
                    id: rank + 1,
                    nodes: self.members[c].len(),
                    members: self.members[c]
                        .iter()
                        .map(|&i| self.names[i].clone())
                        .collect(),
                }
            })
            .collect();
        let mut nodes: Vec<NodeEntry> = self
            .fleet
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = n.as_ref()?;
                Some(NodeEntry {
                    name: self.names[i].clone(),
                    source: n.source.clone(),
                    configuration: number[n.config as usize],
                    validation: n.verdict.clone(),
                })
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));

        let mut outliers: Vec<&str> = collectors
            .iter()
            .flat_map(|c| c.minorities.iter().flat_map(|m| m.outliers.iter()))
            .chain(
                keys.iter()
                    .flat_map(|k| k.minorities.iter().flat_map(|m| m.outliers.iter())),
            )
            .map(String::as_str)
            .collect();
        outliers.sort_unstable();
        outliers.dedup();
        let validated = nodes.iter().any(|n| n.validation.is_some());
        let mut unreadable = self.fleet.unreadable;
        unreadable.sort_by_key(|(i, _)| *i);
        let summary = FleetSummary {
            nodes: nodes.len(),
            configurations: configurations.len(),
            drifting_keys: keys.len(),
            drifting_collectors: collectors.len(),
            outliers: outliers.len(),
            unreadable: unreadable.len(),
            invalid: validated.then(|| {
                nodes
                    .iter()
                    .filter(|n| n.validation.as_ref().is_some_and(NodeVerdict::failed))
                    .count()
            }),
        };
        FleetReport {
            kind: FLEET_KIND,
            summary,
            summary_line: summary.line(),
            collectors,
            keys,
            configurations,
            nodes,
            unreadable: unreadable.into_iter().map(|(_, u)| u).collect(),
            warnings: self.warnings,
            ignored: rules.rules().to_vec(),
        }
    }

    /// The drifting readings of one subtype, among the configurations whose collector ran.
    fn subtype_drift(
        &self,
        kind: &str,
        subtype: &str,
        blocks: &[(u32, u32)],
        ran: &[u32],
        parts: &[Option<Part>],
    ) -> Vec<KeyDrift> {
        // Configurations that ran the collector but have no such subtype: every key is absent.
        let with: std::collections::HashSet<u32, foldhash::fast::RandomState> =
            blocks.iter().map(|&(c, _)| c).collect();
        let absent: Vec<u32> = ran.iter().copied().filter(|c| !with.contains(c)).collect();
        // The distinct parts, each with the configurations that have it.
        let mut by_part: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for &(c, id) in blocks {
            by_part.entry(id).or_default().push(c);
        }
        let readings_of = |id: u32| match &parts[id as usize] {
            Some(Part::Subtype { readings, .. }) => readings.as_slice(),
            _ => &[],
        };
        let mut all_keys: Vec<&str> = by_part
            .keys()
            .flat_map(|&id| readings_of(id).iter().map(|(k, _)| k.as_str()))
            .collect();
        all_keys.sort_unstable();
        all_keys.dedup();
        if by_part.len() + usize::from(!absent.is_empty()) < 2 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for key in all_keys {
            let mut groups: Vec<(Option<Reading>, Vec<u32>)> = Vec::new();
            let mut add = |value: Option<&Reading>, configs: &[u32]| {
                let found = groups.iter_mut().find(|(v, _)| match (v.as_ref(), value) {
                    (Some(a), Some(b)) => same_value(a, b),
                    (None, None) => true,
                    _ => false,
                });
                match found {
                    Some((_, cs)) => cs.extend_from_slice(configs),
                    None => groups.push((value.cloned(), configs.to_vec())),
                }
            };
            for (&id, configs) in &by_part {
                let readings = readings_of(id);
                let value = readings
                    .binary_search_by(|(k, _)| k.as_str().cmp(key))
                    .ok()
                    .map(|i| &readings[i].1);
                add(value, configs);
            }
            if !absent.is_empty() {
                add(None, &absent);
            }
            if groups.len() < 2 {
                continue;
            }
            let Some((majority, minorities, deviating)) = self.rank(groups) else {
                continue;
            };
            out.push(KeyDrift {
                path: format!("{kind}/{subtype}/{key}"),
                kind: kind.to_owned(),
                subtype: subtype.to_owned(),
                key: key.to_owned(),
                majority,
                minorities,
                deviating,
            });
        }
        out
    }
}

/// Per type: each configuration's presence, and per subtype the (configuration, part) pairs.
#[derive(Default)]
struct TypeIndex<'a> {
    presence: HashMap<u32, Presence>,
    subtypes: BTreeMap<&'a str, Vec<(u32, u32)>>,
}

/// One input, read: a snapshot and the name it gives its node.
#[derive(Debug)]
pub struct Read {
    /// The snapshot.
    pub snapshot: Snapshot,
    /// The input's name, for a snapshot whose `source-node` is empty.
    pub fallback_name: String,
}

/// Why a fleet could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// `strict`: an input was not a snapshot.
    #[error("{}: {}", .0.source, .0.reason)]
    Unreadable(Unreadable),
    /// Validation could not run (the recipe data is at fault).
    #[error(transparent)]
    Validator(#[from] ValidatorError),
}

/// How [`gather`] works.
pub struct GatherOptions<'a> {
    /// What to ignore.
    pub rules: &'a IgnoreRules,
    /// Validate each node against its own recipe.
    pub validator: Option<&'a Validator>,
    /// Stop at the first input that is not a snapshot.
    pub strict: bool,
    /// Worker threads (at least one).
    pub threads: usize,
}

/// What a worker hands back for one input.
type Outcome = Result<(Profile, String, Option<NodeVerdict>), String>;

/// Reads every input with `read` on `options.threads` threads, and groups the nodes. `source`
/// names an input in the report; `progress` is called on this thread with (done, total) as
/// inputs are finished.
pub fn gather<T: Sync>(
    inputs: &[T],
    source: impl Fn(&T) -> String + Sync,
    read: impl Fn(&T) -> Result<Read, String> + Sync,
    options: &GatherOptions<'_>,
    mut progress: impl FnMut(usize, usize),
) -> Result<FleetReport, GatherError> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let threads = options.threads.clamp(1, inputs.len().max(1));
    let mut fleet = Fleet::new();
    let work = |tx: mpsc::SyncSender<(usize, Result<Outcome, ValidatorError>)>| {
        let mut matcher = options.rules.matcher();
        while !stop.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = inputs.get(i) else { break };
            let outcome = match read(input) {
                Err(reason) => Ok(Err(reason)),
                Ok(read) => {
                    let profile = Profile::of(&read.snapshot, &mut matcher);
                    let name = match read.snapshot.metadata.source_node.as_deref() {
                        Some(n) if !n.trim().is_empty() => n.to_owned(),
                        _ => read.fallback_name,
                    };
                    match options
                        .validator
                        .map(|v| v.verdict(&read.snapshot))
                        .transpose()
                    {
                        Ok(verdict) => Ok(Ok((profile, name, verdict))),
                        Err(e) => Err(e),
                    }
                }
            };
            if tx.send((i, outcome)).is_err() {
                break;
            }
        }
    };
    let result = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(threads * 4);
        for _ in 0..threads {
            let tx = tx.clone();
            let work = &work;
            scope.spawn(move || work(tx));
        }
        drop(tx);
        let mut done = 0;
        // `--strict` names the first unreadable input in input order, whichever worker finished
        // first: inputs are claimed in order, so once input `i` fails every input before it has
        // been claimed and is still reported here after `stop` is set.
        let mut first_unreadable: Option<(usize, Unreadable)> = None;
        for (i, outcome) in rx {
            done += 1;
            progress(done, inputs.len());
            match outcome {
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(GatherError::Validator(e));
                }
                Ok(Ok((profile, name, verdict))) => {
                    fleet.add(i, name, source(&inputs[i]), profile, verdict);
                }
                Ok(Err(reason)) => {
                    let unreadable = Unreadable {
                        source: source(&inputs[i]),
                        reason,
                    };
                    if !options.strict {
                        fleet.add_unreadable(i, unreadable);
                    } else if first_unreadable.as_ref().is_none_or(|(j, _)| i < *j) {
                        stop.store(true, Ordering::Relaxed);
                        first_unreadable = Some((i, unreadable));
                    }
                }
            }
        }
        match first_unreadable {
            Some((_, unreadable)) => Err(GatherError::Unreadable(unreadable)),
            None => Ok(()),
        }
    });
    result?;
    Ok(fleet.report(options.rules))
}

#[cfg(test)]
mod tests;

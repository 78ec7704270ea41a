//! Redaction: a snapshot that can leave the site.
//!
//! Every sensitive value is replaced by a consistent, keyed pseudonym that keeps its shape (an
//! IPv4 stays an IPv4 in the same private block, a host name keeps its dots, a UUID stays a UUID).
//! What is sensitive:
//!
//! - readings named by the collectors' declared `sensitiveKeys` patterns, by `--redact-also`,
//!   or whose key ends in a secret's name (`password`, `token` …): the whole value is replaced;
//! - anything the [`detectors`] find in **any** text of the document, whatever its key: readings,
//!   keys, subtype names, context, metadata (warnings and reasons included).
//!
//! `--redact-keep` patterns leave a reading (key and value) exactly as it is.
//!
//! Redaction runs in three passes over the document: the names it knows (node name, host names
//! under sensitive keys, registry and URL hosts) are gathered first, so that they are found
//! everywhere; then every original is collected, so that pseudonyms are handed out in sorted
//! order and never equal another original; then the document is rewritten. The output depends
//! only on the input, the rules and the key.

pub mod detectors;
pub mod mapping;
pub mod pseudonyms;
pub mod rules;
mod walk;

pub use detectors::{Kind, KnownNames, Span};
pub use mapping::{Entry, MapError, Mapping, MAP_API_VERSION, MAP_KIND};
pub use pseudonyms::{KeyError, RedactKey};
pub use rules::{Record, Rules, RulesError, RULES_VERSION};

use aho_corasick::{AhoCorasick, MatchKind};
use eidos_plugin_api::{Reading, Snapshot};
use std::collections::{BTreeSet, HashMap, HashSet};
use walk::Visit;

/// The metadata key of the redaction record.
pub const RECORD_KEY: &str = "redaction";

/// A redacted snapshot and the mapping that reverses it.
#[derive(Debug, Clone)]
pub struct Redacted {
    /// The snapshot, with `metadata.redaction` saying how it was redacted.
    pub snapshot: Snapshot,
    /// Pseudonym → original, for `--redact-map`.
    pub mapping: Mapping,
}

/// Why a document could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum ReverseError {
    /// The document has no `metadata.redaction` record.
    #[error("the snapshot was not redacted by eidos (it has no metadata.redaction record)")]
    NotRedacted,
    /// The record is not one this version reads.
    #[error("the snapshot's metadata.redaction record is malformed: {0}")]
    BadRecord(String),
    /// The map was written for another document.
    #[error("the redaction map {map} was written for another document (the snapshot names map {document})")]
    WrongMap {
        /// The map's id.
        map: String,
        /// The id the document names.
        document: String,
    },
}

/// Keyed pseudonyms for one document (or one series of texts): each original gets one pseudonym,
/// no pseudonym is an original or appears in a kept value, and a known pseudonym is never
/// replaced again (redacting twice equals redacting once).
#[derive(Debug)]
pub struct Redactor<'k> {
    key: &'k RedactKey,
    known: KnownNames,
    forward: HashMap<(Kind, String), String>,
    backward: HashMap<String, (Kind, String)>,
    /// Every original in the document, lower-cased.
    originals: HashSet<String>,
    kept: Vec<String>,
}

impl<'k> Redactor<'k> {
    /// A redactor with `key` that also finds the host names in `known`.
    pub fn new(key: &'k RedactKey, known: KnownNames) -> Redactor<'k> {
        Redactor {
            key,
            known,
            forward: HashMap::new(),
            backward: HashMap::new(),
            originals: HashSet::new(),
            kept: Vec::new(),
        }
    }

    /// The host names this redactor finds in text.
    pub fn known(&self) -> &KnownNames {
        &self.known
    }

    /// The pseudonym of `original`, handed out on first use.
    pub fn pseudonym(&mut self, kind: Kind, original: &str) -> String {
        if let Some(p) = self.forward.get(&(kind, original.to_owned())) {
            return p.clone();
        }
        if self.backward.contains_key(original) {
            // Already a pseudonym: redacting again changes nothing.
            return original.to_owned();
        }
        let mut counter = 0u32;
        let chosen = loop {
            let candidate = pseudonyms::pseudonym(self.key, kind, original, counter);
            // 64 tries: the chance of that many collisions in a row is nil; the bound only
            // keeps a pathological input from looping.
            if self.acceptable(kind, original, &candidate) || counter == 64 {
                break candidate;
            }
            counter += 1;
        };
        self.forward
            .insert((kind, original.to_owned()), chosen.clone());
        self.backward
            .insert(chosen.clone(), (kind, original.to_owned()));
        chosen
    }

    /// A pseudonym must be new, differ from every original and not contain its own, appear in no
    /// kept value, and be found again as the same kind (so that a second pass leaves it alone).
    fn acceptable(&self, kind: Kind, original: &str, candidate: &str) -> bool {
        // Case-insensitively: known names are found without regard to case.
        let lowered = candidate.to_ascii_lowercase();
        if self.backward.contains_key(candidate)
            || lowered.contains(&original.to_ascii_lowercase())
            || self
                .originals
                .iter()
                .any(|o| o.len() >= 6 && lowered.contains(o.as_str()))
            || self.originals.contains(&lowered)
            || self.kept.iter().any(|k| k.contains(candidate))
        {
            return false;
        }
        match kind {
            Kind::Ipv4
            | Kind::Ipv6
            | Kind::Mac
            | Kind::Uuid
            | Kind::HexToken
            | Kind::Base64Token => {
                let spans = detectors::find(candidate, &KnownNames::default());
                spans.len() == 1
                    && spans[0].start == 0
                    && spans[0].end == candidate.len()
                    && spans[0].kind == kind
            }
            _ => true,
        }
    }

    /// `text` with every detected value replaced.
    pub fn redact_text(&mut self, text: &str) -> String {
        let spans = detectors::find(text, &self.known);
        self.replace_spans(text, &spans)
    }

    fn replace_spans(&mut self, text: &str, spans: &[Span]) -> String {
        if spans.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + 16);
        let mut at = 0;
        for span in spans {
            out.push_str(&text[at..span.start]);
            let p = self.pseudonym(span.kind, &text[span.start..span.end]);
            out.push_str(&p);
            at = span.end;
        }
        out.push_str(&text[at..]);
        out
    }

    /// How a whole sensitive value is replaced: `None` for an empty value.
    fn whole_value_plan(&self, value: &str) -> Option<WholePlan> {
        if value.is_empty() || detectors::STOP_NAMES.contains(&value.to_ascii_lowercase().as_str())
        {
            return None;
        }
        if value.parse::<std::net::Ipv4Addr>().is_ok() {
            return Some(WholePlan::Whole(Kind::Ipv4));
        }
        if value.parse::<std::net::Ipv6Addr>().is_ok() {
            return Some(WholePlan::Whole(Kind::Ipv6));
        }
        let spans = detectors::find(value, &self.known);
        if let [span] = spans.as_slice() {
            if span.end == value.len() {
                if span.start == 0 {
                    return Some(WholePlan::Whole(span.kind));
                }
                // A short word before one value: `GPU-<uuid>`, `PARTUUID=<uuid>`.
                let prefix = &value[..span.start];
                let word = prefix.trim_end_matches(['-', ':', '=', '_']);
                if word.len() <= 12
                    && prefix.len() - word.len() <= 1
                    && word.bytes().all(|c| c.is_ascii_alphabetic())
                {
                    return Some(WholePlan::Suffix(*span));
                }
            }
        }
        if detectors::is_host_name(value) {
            return Some(WholePlan::Whole(Kind::Hostname));
        }
        Some(WholePlan::Whole(Kind::Value))
    }

    /// `value` (a sensitive reading) replaced whole, keeping a short prefix word.
    pub fn redact_whole(&mut self, value: &str) -> String {
        match self.whole_value_plan(value) {
            None => value.to_owned(),
            Some(WholePlan::Whole(kind)) => self.pseudonym(kind, value),
            Some(WholePlan::Suffix(span)) => self.replace_spans(value, &[span]),
        }
    }

    /// The mapping of every pseudonym handed out.
    pub fn mapping(&self) -> Mapping {
        let entries = self
            .backward
            .iter()
            .map(|(pseudonym, (kind, original))| Entry {
                kind: *kind,
                original: original.clone(),
                pseudonym: pseudonym.clone(),
            })
            .collect();
        Mapping::new(entries, self.key)
    }
}

#[derive(Debug, Clone, Copy)]
enum WholePlan {
    Whole(Kind),
    Suffix(Span),
}

/// Redacts `snapshot` by `rules` with `key`. The result depends only on these three.
pub fn redact(snapshot: &Snapshot, rules: &Rules, key: &RedactKey) -> Redacted {
    let mut doc = snapshot.clone();
    let previous = doc.metadata.extra.shift_remove(RECORD_KEY);

    // Pass 1: the names to find everywhere.
    let mut names = NameGatherer {
        rules,
        names: BTreeSet::new(),
        probe: Redactor::new(key, KnownNames::default()),
    };
    walk::walk(&mut doc, &mut names);
    let mut redactor = Redactor::new(key, KnownNames::new(names.names));

    // Pass 2: every original, so that no pseudonym equals one; pseudonyms in sorted order.
    let mut collector = Collector {
        rules,
        redactor: &redactor,
        found: BTreeSet::new(),
        kept: Vec::new(),
    };
    walk::walk(&mut doc, &mut collector);
    let (found, kept) = (collector.found, collector.kept);
    redactor.originals = found.iter().map(|(_, o)| o.to_ascii_lowercase()).collect();
    redactor.kept = kept;
    for (kind, original) in &found {
        redactor.pseudonym(*kind, original);
    }

    // Pass 3: rewrite.
    walk::walk(
        &mut doc,
        &mut Rewriter {
            rules,
            redactor: &mut redactor,
        },
    );
    let mapping = redactor.mapping();
    let mut record = rules.record(key.is_given());
    record.map_id.clone_from(&mapping.map_id);
    record.previous = previous.map(Box::new);
    // A record of strings, numbers and lists always converts.
    let record = serde_json::to_value(&record).unwrap_or_default();
    doc.metadata.extra.insert(RECORD_KEY.to_owned(), record);
    Redacted {
        snapshot: doc,
        mapping,
    }
}

/// Restores the document `mapping` was written for: every pseudonym goes back to its original and
/// the redaction record is removed (or the earlier one restored).
pub fn reverse(snapshot: &Snapshot, mapping: &Mapping) -> Result<Snapshot, ReverseError> {
    let mut doc = snapshot.clone();
    let raw = doc
        .metadata
        .extra
        .shift_remove(RECORD_KEY)
        .ok_or(ReverseError::NotRedacted)?;
    let record: Record =
        serde_json::from_value(raw).map_err(|e| ReverseError::BadRecord(e.to_string()))?;
    if record.map_id != mapping.map_id {
        return Err(ReverseError::WrongMap {
            map: mapping.map_id.clone(),
            document: record.map_id,
        });
    }
    let (numbers, texts): (Vec<&Entry>, Vec<&Entry>) =
        mapping.entries.iter().partition(|e| e.kind == Kind::Number);
    let mut restorer = Restorer {
        numbers: numbers
            .iter()
            .map(|e| (e.pseudonym.clone(), e.original.clone()))
            .collect(),
        pseudonyms: texts.iter().map(|e| e.pseudonym.clone()).collect(),
        originals: texts.iter().map(|e| e.original.clone()).collect(),
        matcher: None,
    };
    if !restorer.pseudonyms.is_empty() {
        restorer.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&restorer.pseudonyms)
            .ok();
    }
    walk::walk(&mut doc, &mut restorer);
    if let Some(previous) = record.previous {
        doc.metadata.extra.insert(RECORD_KEY.to_owned(), *previous);
    }
    Ok(doc)
}

/// Pass 1: node name, host names under sensitive keys, registry and URL hosts.
struct NameGatherer<'r, 'k> {
    rules: &'r Rules,
    names: BTreeSet<String>,
    probe: Redactor<'k>,
}

impl NameGatherer<'_, '_> {
    /// A host name (lower-cased) and, for a full name, its first label (the short name) and its
    /// parent domains down to two labels.
    fn add_host(&mut self, name: &str) {
        let name = name.to_ascii_lowercase();
        if let Some((short, _)) = name.split_once('.') {
            if short.bytes().any(|c| c.is_ascii_alphabetic()) {
                self.names.insert(short.to_owned());
            }
        }
        self.add_domains(&name);
    }

    /// A name and its parent domains down to two labels.
    fn add_domains(&mut self, name: &str) {
        self.names
            .extend(detectors::parent_domains(name).map(str::to_owned));
        self.names.insert(name.to_owned());
    }
}

impl Visit for NameGatherer<'_, '_> {
    fn text(&mut self, text: &mut String) {
        let mut hosts = Vec::new();
        detectors::network_hosts(text, &mut hosts);
        for host in hosts {
            self.add_domains(&host);
        }
    }

    fn source_node(&mut self, name: &mut String) {
        if detectors::is_host_name(name) {
            self.add_host(&name.clone());
        }
        self.text(name);
    }

    fn reading(&mut self, kind: &str, subtype: &str, key: &str, value: &mut Reading) {
        let Reading::Str(text) = value else { return };
        if self.rules.keeps(kind, subtype, key) {
            return;
        }
        if self.rules.is_sensitive(kind, subtype, key)
            && matches!(
                self.probe.whole_value_plan(text),
                Some(WholePlan::Whole(Kind::Hostname))
            )
        {
            self.add_host(&text.clone());
        }
        self.text(text);
    }

    fn keeps(&self, kind: &str, subtype: &str, key: &str) -> bool {
        self.rules.keeps(kind, subtype, key)
    }
}

/// Pass 2: every original and every kept text.
struct Collector<'r, 'a, 'k> {
    rules: &'r Rules,
    redactor: &'a Redactor<'k>,
    found: BTreeSet<(Kind, String)>,
    kept: Vec<String>,
}

impl Collector<'_, '_, '_> {
    fn spans_of(&mut self, text: &str, spans: &[Span]) {
        for s in spans {
            self.found.insert((s.kind, text[s.start..s.end].to_owned()));
        }
    }
}

impl Visit for Collector<'_, '_, '_> {
    fn text(&mut self, text: &mut String) {
        let spans = detectors::find(text, self.redactor.known());
        self.spans_of(text, &spans);
    }

    fn source_node(&mut self, name: &mut String) {
        self.whole(name);
    }

    fn reading(&mut self, kind: &str, subtype: &str, key: &str, value: &mut Reading) {
        if self.rules.keeps(kind, subtype, key) {
            self.kept.push(value.to_string());
            return;
        }
        let sensitive = self.rules.is_sensitive(kind, subtype, key);
        match value {
            Reading::Str(text) if sensitive => self.whole(text),
            Reading::Str(text) => self.text(text),
            Reading::Int(_) | Reading::Uint(_) | Reading::Float(_) if sensitive => {
                self.found.insert((Kind::Number, number_text(value)));
            }
            _ => {}
        }
    }

    fn kept_key(&mut self, key: &str) {
        self.kept.push(key.to_owned());
    }

    fn keeps(&self, kind: &str, subtype: &str, key: &str) -> bool {
        self.rules.keeps(kind, subtype, key)
    }
}

impl Collector<'_, '_, '_> {
    fn whole(&mut self, text: &str) {
        match self.redactor.whole_value_plan(text) {
            None => {}
            Some(WholePlan::Whole(kind)) => {
                self.found.insert((kind, text.to_owned()));
            }
            Some(WholePlan::Suffix(span)) => self.spans_of(text, &[span]),
        }
    }
}

/// A number's JSON text (what the map records, so that reversing restores its type).
fn number_text(value: &Reading) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Pass 3: the rewrite.
struct Rewriter<'r, 'a, 'k> {
    rules: &'r Rules,
    redactor: &'a mut Redactor<'k>,
}

impl Visit for Rewriter<'_, '_, '_> {
    fn text(&mut self, text: &mut String) {
        *text = self.redactor.redact_text(text);
    }

    fn source_node(&mut self, name: &mut String) {
        *name = self.redactor.redact_whole(name);
    }

    fn reading(&mut self, kind: &str, subtype: &str, key: &str, value: &mut Reading) {
        if self.rules.keeps(kind, subtype, key) {
            return;
        }
        let sensitive = self.rules.is_sensitive(kind, subtype, key);
        match value {
            Reading::Str(text) if sensitive => *text = self.redactor.redact_whole(text),
            Reading::Str(text) => *text = self.redactor.redact_text(text),
            Reading::Int(_) | Reading::Uint(_) | Reading::Float(_) if sensitive => {
                let p = self.redactor.pseudonym(Kind::Number, &number_text(value));
                *value = Reading::Str(p);
            }
            _ => {}
        }
    }

    fn keeps(&self, kind: &str, subtype: &str, key: &str) -> bool {
        self.rules.keeps(kind, subtype, key)
    }
}

/// Reversal: pseudonyms back to originals.
struct Restorer {
    numbers: HashMap<String, String>,
    pseudonyms: Vec<String>,
    originals: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl Visit for Restorer {
    fn text(&mut self, text: &mut String) {
        let Some(matcher) = &self.matcher else { return };
        let bytes = text.as_bytes();
        let mut out = String::new();
        let mut at = 0;
        for m in matcher.find_iter(text.as_str()) {
            let glued = (m.start() > 0 && bytes[m.start() - 1].is_ascii_alphanumeric())
                || bytes.get(m.end()).is_some_and(u8::is_ascii_alphanumeric);
            if glued {
                continue;
            }
            out.push_str(&text[at..m.start()]);
            out.push_str(&self.originals[m.pattern().as_usize()]);
            at = m.end();
        }
        if at > 0 {
            out.push_str(&text[at..]);
            *text = out;
        }
    }

    fn source_node(&mut self, name: &mut String) {
        self.text(name);
    }

    fn reading(&mut self, _: &str, _: &str, _: &str, value: &mut Reading) {
        if let Reading::Str(text) = value {
            if let Some(original) = self.numbers.get(text.as_str()) {
                if let Ok(number) = serde_json::from_str::<Reading>(original) {
                    *value = number;
                    return;
                }
            }
            self.text(text);
        }
    }

    fn keeps(&self, _: &str, _: &str, _: &str) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;

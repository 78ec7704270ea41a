//! One walk over every piece of text in a snapshot, shared by the redaction passes and reversal,
//! so that they all see the same places in the same order.
//!
//! Left alone: `kind`, `apiVersion`, measurement types and the names of collectors in the
//! metadata (eidos's own vocabulary), booleans, and numbers outside sensitive readings.

use eidos_plugin_api::{Reading, Snapshot};
use indexmap::IndexMap;

/// What a pass does at each place.
pub(super) trait Visit {
    /// Free text: subtype names, keys, context, metadata strings (warnings and reasons included).
    fn text(&mut self, text: &mut String);
    /// `metadata.source-node`: the node's name, a whole value.
    fn source_node(&mut self, name: &mut String);
    /// A reading's value, with where it sits (the subtype and key as they were before the walk).
    fn reading(&mut self, kind: &str, subtype: &str, key: &str, value: &mut Reading);
    /// The key of a reading that [`Visit::keeps`] leaves alone.
    fn kept_key(&mut self, _key: &str) {}
    /// Whether the reading (its key and value) is left exactly as it is.
    fn keeps(&self, kind: &str, subtype: &str, key: &str) -> bool;
}

/// Visits every place in `doc`, in document order.
pub(super) fn walk(doc: &mut Snapshot, v: &mut impl Visit) {
    let meta = &mut doc.metadata;
    if let Some(node) = &mut meta.source_node {
        v.source_node(node);
    }
    for text in [&mut meta.measurement_timestamp, &mut meta.snapshot_version]
        .into_iter()
        .flatten()
    {
        v.text(text);
    }
    for report in meta.collectors.values_mut() {
        if let Some(reason) = &mut report.reason {
            v.text(reason);
        }
        for w in &mut report.warnings {
            v.text(w);
        }
        v.text(&mut report.plugin_version);
    }
    let extra = std::mem::take(&mut meta.extra);
    meta.extra = extra
        .into_iter()
        .map(|(mut k, mut value)| {
            v.text(&mut k);
            json(&mut value, v);
            (k, value)
        })
        .collect();
    for m in &mut doc.measurements {
        let kind = m.kind.as_str();
        for s in &mut m.subtypes {
            let subtype = s.subtype.clone();
            v.text(&mut s.subtype);
            let data = std::mem::take(&mut s.data);
            s.data = data
                .into_iter()
                .map(|(key, mut value)| {
                    v.reading(kind, &subtype, &key, &mut value);
                    (new_key(v, kind, &subtype, key), value)
                })
                .collect::<IndexMap<_, _>>();
            let context = std::mem::take(&mut s.context);
            s.context = context
                .into_iter()
                .map(|(key, mut text)| {
                    if !v.keeps(kind, &subtype, &key) {
                        v.text(&mut text);
                    }
                    (new_key(v, kind, &subtype, key), text)
                })
                .collect();
        }
    }
}

/// A reading's key after the pass: untouched when kept.
fn new_key(v: &mut impl Visit, kind: &str, subtype: &str, mut key: String) -> String {
    if v.keeps(kind, subtype, &key) {
        v.kept_key(&key);
    } else {
        v.text(&mut key);
    }
    key
}

/// Every string and object key inside a JSON value (the metadata's unknown keys).
fn json(value: &mut serde_json::Value, v: &mut impl Visit) {
    match value {
        serde_json::Value::String(s) => v.text(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|i| json(i, v)),
        serde_json::Value::Object(map) => {
            let entries = std::mem::take(map);
            *map = entries
                .into_iter()
                .map(|(mut k, mut item)| {
                    v.text(&mut k);
                    json(&mut item, v);
                    (k, item)
                })
                .collect();
        }
        _ => {}
    }
}

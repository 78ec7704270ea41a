//! Snapshots kept in ConfigMaps: write one, read one, list a namespace's.
//!
//! The layout, which every reader relies on:
//! - the snapshot (YAML or JSON text, as written) is under the key [`SNAPSHOT_KEY`] — in `data`
//!   as text when it fits in a ConfigMap, else gzip-compressed in `binaryData`;
//! - labels [`LABEL_KIND`]`=`[`KIND_SNAPSHOT`] (what it is, [`SNAPSHOT_SELECTOR`] finds them all),
//!   `app.kubernetes.io/managed-by=eidos`, and [`LABEL_NODE`] with the node's name (when it is a
//!   valid label value; the annotation [`ANNOTATION_NODE`] always has it in full).
//!
//! A write creates the ConfigMap, or replaces it with the `resourceVersion` it read, so that a
//! concurrent change is never lost silently: a `409` re-reads and tries again, at most
//! [`CONFLICT_ATTEMPTS`] times. A ConfigMap without eidos's kind label is never overwritten.
//! A snapshot too large for a ConfigMap even compressed is an error; nothing is truncated.

use crate::address::{is_label_value, CmAddress};
use crate::error::{classify, StoreError};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use k8s_openapi::ByteString;
use kube::api::{ListParams, PostParams};
use kube::{Api, Resource as _};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::ops::ControlFlow;

/// The key the snapshot is stored under, in `data` (text) or `binaryData` (gzip).
pub const SNAPSHOT_KEY: &str = "snapshot";
/// The label that says what a ConfigMap holds.
pub const LABEL_KIND: &str = "eidos.dgxc.io/kind";
/// [`LABEL_KIND`]'s value on a snapshot.
pub const KIND_SNAPSHOT: &str = "snapshot";
/// The label with the node's name.
pub const LABEL_NODE: &str = "eidos.dgxc.io/node";
/// The annotation with the node's name (labels hold at most 63 characters; names up to 253).
pub const ANNOTATION_NODE: &str = "eidos.dgxc.io/node";
/// The standard label naming the tool that manages an object.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The label selector that finds every eidos snapshot.
pub const SNAPSHOT_SELECTOR: &str = "eidos.dgxc.io/kind=snapshot";
/// What a ConfigMap holds: the API server refuses one whose keys and values add up to more than
/// 1 MiB.
pub const CONFIGMAP_MAX_BYTES: usize = 1024 * 1024;
/// How many times a write is tried when it keeps hitting `409 Conflict`.
pub const CONFLICT_ATTEMPTS: u32 = 5;
/// ConfigMaps asked for per list request.
pub const PAGE_SIZE: u32 = 500;
/// The most text a compressed snapshot may expand to (64 MiB, the CLI's snapshot limit): a gzip
/// bomb stops there.
pub const EXPANDED_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// How the snapshot was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encoded {
    /// As text in `data`.
    Text(String),
    /// Gzip-compressed in `binaryData`.
    Gzip(Vec<u8>),
}

/// Chooses the encoding of `text`: JSON without the whitespace between its tokens
/// ([`without_json_whitespace`]), any other text as it is; as text when that fits in `limit`
/// bytes (key included), else gzip when that fits, else [`StoreError::TooLarge`].
pub fn encode(text: &str, limit: usize, target: &str) -> Result<Encoded, StoreError> {
    let text = without_json_whitespace(text);
    let text = text.as_ref();
    if SNAPSHOT_KEY.len() + text.len() <= limit {
        return Ok(Encoded::Text(text.to_owned()));
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::BadContent {
            target: target.to_owned(),
            reason: format!("compressing the snapshot: {e}"),
        })?;
    if SNAPSHOT_KEY.len() + compressed.len() <= limit {
        return Ok(Encoded::Gzip(compressed));
    }
    Err(StoreError::TooLarge {
        target: target.to_owned(),
        size: text.len(),
        compressed: compressed.len(),
        limit,
    })
}

/// `text` without the whitespace between its tokens when it is a JSON document, else `text` as
/// it is (YAML, and anything that fails to parse as JSON).
///
/// The JSON serializer indents for people; in a ConfigMap the indentation is a third of the
/// bytes, and every list of the namespace carries it, escaped (`\n` and spaces inside a JSON
/// string): a fleet report of 10,000 nodes reads 250 MB instead of 370 MB. Only whitespace
/// outside strings goes; every token is kept byte for byte (numbers are not reformatted, as a
/// parse and a new rendering would do), so the document read back is the one written.
pub fn without_json_whitespace(text: &str) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let starts_like_json = text.trim_start().starts_with(['{', '[']);
    if !starts_like_json || serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if matches!(c, ' ' | '\t' | '\n' | '\r') {
            // Whitespace between tokens: JSON has no other kind outside strings.
            continue;
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// The snapshot text a ConfigMap holds under [`SNAPSHOT_KEY`] (gzip expanded, at most
/// [`EXPANDED_MAX_BYTES`]).
pub fn snapshot_text(config_map: &ConfigMap, target: &str) -> Result<String, StoreError> {
    if let Some(text) = config_map.data.as_ref().and_then(|d| d.get(SNAPSHOT_KEY)) {
        return Ok(text.clone());
    }
    match config_map
        .binary_data
        .as_ref()
        .and_then(|d| d.get(SNAPSHOT_KEY))
    {
        Some(ByteString(bytes)) => expand(bytes, target),
        None => Err(no_snapshot(target)),
    }
}

/// The error for a ConfigMap without the key [`SNAPSHOT_KEY`].
fn no_snapshot(target: &str) -> StoreError {
    StoreError::BadContent {
        target: target.to_owned(),
        reason: format!(
            "the ConfigMap holds no snapshot (no key {SNAPSHOT_KEY:?} in data or binaryData)"
        ),
    }
}

/// The text of a gzip-compressed snapshot, at most [`EXPANDED_MAX_BYTES`].
fn expand(bytes: &[u8], target: &str) -> Result<String, StoreError> {
    let bad = |reason: String| StoreError::BadContent {
        target: target.to_owned(),
        reason,
    };
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(EXPANDED_MAX_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| bad(format!("binaryData.{SNAPSHOT_KEY} is not valid gzip: {e}")))?;
    if text.len() as u64 > EXPANDED_MAX_BYTES {
        return Err(bad(format!(
            "binaryData.{SNAPSHOT_KEY} expands to more than {EXPANDED_MAX_BYTES} bytes"
        )));
    }
    String::from_utf8(text)
        .map_err(|e| bad(format!("binaryData.{SNAPSHOT_KEY} is not UTF-8 text: {e}")))
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The ConfigMap was created (else replaced).
    pub created: bool,
    /// The snapshot went into `binaryData`, gzip-compressed.
    pub compressed: bool,
    /// Attempts made (more than one after conflicts).
    pub attempts: u32,
}

/// The ConfigMap holding `encoded` for `node`, on top of `existing`'s metadata when replacing.
fn build(
    address: &CmAddress,
    encoded: &Encoded,
    node: Option<&str>,
    existing: Option<ObjectMeta>,
) -> ConfigMap {
    let mut metadata = existing.unwrap_or_default();
    metadata.name = Some(address.name.clone());
    metadata.namespace = Some(address.namespace.clone());
    metadata.managed_fields = None;
    let labels = metadata.labels.get_or_insert_with(BTreeMap::new);
    labels.insert(LABEL_KIND.into(), KIND_SNAPSHOT.into());
    labels.insert(LABEL_MANAGED_BY.into(), "eidos".into());
    let annotations = metadata.annotations.get_or_insert_with(BTreeMap::new);
    match node {
        Some(node) => {
            annotations.insert(ANNOTATION_NODE.into(), node.to_owned());
            if is_label_value(node) {
                labels.insert(LABEL_NODE.into(), node.to_owned());
            } else {
                labels.remove(LABEL_NODE);
            }
        }
        None => {
            annotations.remove(ANNOTATION_NODE);
            labels.remove(LABEL_NODE);
        }
    }
    let (data, binary_data) = match encoded {
        Encoded::Text(text) => (
            Some(BTreeMap::from([(SNAPSHOT_KEY.to_owned(), text.clone())])),
            None,
        ),
        Encoded::Gzip(bytes) => (
            None,
            Some(BTreeMap::from([(
                SNAPSHOT_KEY.to_owned(),
                ByteString(bytes.clone()),
            )])),
        ),
    };
    ConfigMap {
        metadata,
        data,
        binary_data,
        immutable: None,
    }
}

/// Writes `text` (a rendered snapshot) to `address`, labelled with `node`.
pub async fn write_snapshot(
    client: &kube::Client,
    address: &CmAddress,
    text: &str,
    node: Option<&str>,
) -> Result<Written, StoreError> {
    let target = address.to_string();
    let encoded = encode(text, CONFIGMAP_MAX_BYTES, &target)?;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &address.namespace);
    let ns = address.namespace.as_str();
    let compressed = matches!(encoded, Encoded::Gzip(_));
    for attempt in 1..=CONFLICT_ATTEMPTS {
        let existing = api
            .get_opt(&address.name)
            .await
            .map_err(|e| classify(e, &target, ns, "get"))?;
        let result = match existing {
            None => {
                let object = build(address, &encoded, node, None);
                api.create(&PostParams::default(), &object)
                    .await
                    .map(|_| true)
                    .map_err(|e| (e, "create"))
            }
            Some(existing) => {
                let is_ours = existing
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_KIND))
                    .is_some_and(|k| k == KIND_SNAPSHOT);
                if !is_ours {
                    return Err(StoreError::NotASnapshot {
                        target,
                        label: format!("{LABEL_KIND}={KIND_SNAPSHOT}"),
                    });
                }
                // The resourceVersion read stays in the metadata: the server refuses the
                // replacement with 409 if the object changed since.
                let object = build(address, &encoded, node, Some(existing.metadata));
                api.replace(&address.name, &PostParams::default(), &object)
                    .await
                    .map(|_| false)
                    .map_err(|e| (e, "update"))
            }
        };
        match result {
            Ok(created) => {
                return Ok(Written {
                    created,
                    compressed,
                    attempts: attempt,
                })
            }
            Err((kube::Error::Api(status), verb)) if status.code == 409 => {
                tracing::debug!(%target, attempt, verb, "conflict: {}; reading again", status.message);
            }
            Err((e, verb)) => return Err(classify(e, &target, ns, verb)),
        }
    }
    Err(StoreError::Conflict {
        target,
        attempts: CONFLICT_ATTEMPTS,
    })
}

/// Reads the snapshot text at `address`.
pub async fn read_snapshot(
    client: &kube::Client,
    address: &CmAddress,
) -> Result<String, StoreError> {
    let target = address.to_string();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &address.namespace);
    let config_map = api
        .get(&address.name)
        .await
        .map_err(|e| classify(e, &target, &address.namespace, "get"))?;
    snapshot_text(&config_map, &target)
}

/// How many times a list whose continue token expired (`410 Gone`) starts over before it fails.
pub const LIST_RESTARTS: u32 = 3;

/// Calls `each(name, stored)` for every ConfigMap in `namespace` that `selector` matches, a page
/// of `page_size` at a time (following continue tokens), so that memory holds one page, not the
/// namespace; `each` returning [`ControlFlow::Break`] ends the list early. Each snapshot is
/// passed as it arrived ([`Stored`]), for the reader to decode: one that cannot be decoded is
/// that reader's error, never the list's.
///
/// A continue token expires when the list takes longer than the API server keeps its snapshot
/// (`410 Gone`, reason `Expired`, typically after five to fifteen minutes). The list then starts
/// over from the first page, at most [`LIST_RESTARTS`] times, with a warning; ConfigMaps already
/// passed to `each` are skipped by name, so none is passed twice.
pub async fn for_each_snapshot(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
    page_size: u32,
    mut each: impl FnMut(String, Stored) -> ControlFlow<()>,
) -> Result<usize, StoreError> {
    let target = format!("cm://{namespace}?selector={selector}");
    let list = kube::core::Request::new(ConfigMap::url_path(&(), Some(namespace)));
    let first = ListParams::default()
        .labels(selector)
        .limit(page_size.max(1));
    let mut params = first.clone();
    // The names passed to `each` (a few bytes a node), so that a restarted list skips them.
    let mut passed: HashSet<String> = HashSet::new();
    let mut restarts = 0;
    loop {
        let page = match list_page(client, &list, &params).await {
            Ok(page) => page,
            Err(kube::Error::Api(status))
                if status.code == 410
                    && params.continue_token.is_some()
                    && restarts < LIST_RESTARTS =>
            {
                restarts += 1;
                tracing::warn!(
                    %target,
                    restarts,
                    "the list's continue token expired ({}: {}); listing again from the start, \
                     skipping the {} ConfigMap(s) already read",
                    status.reason,
                    status.message,
                    passed.len()
                );
                params = first.clone();
                continue;
            }
            Err(e) => return Err(classify(e, &target, namespace, "list")),
        };
        let next = page.metadata.continue_.filter(|c| !c.is_empty());
        for item in page.items {
            let name = item.metadata.name.clone().unwrap_or_default();
            if !passed.insert(name.clone()) {
                continue;
            }
            let stored = Stored::of_item(format!("cm://{namespace}/{name}"), item);
            if each(name, stored).is_break() {
                return Ok(passed.len());
            }
        }
        match next {
            Some(token) => params.continue_token = Some(token),
            None => return Ok(passed.len()),
        }
    }
}

/// One page of a ConfigMap list, read only as far as listing needs: the names, the continue
/// token, each `data` value as text, and each `binaryData` value still as the JSON string it
/// arrived as (base64 and gzip are decoded by the reader, on every core).
///
/// A `data` value is unescaped here, in the one pass that finds where it ends: kept as raw JSON
/// for the reader instead, the text was scanned twice (here to find its end, there to unescape
/// it), and that second pass cost more CPU than it moved off this thread.
#[derive(serde::Deserialize)]
struct RawPage {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Vec<RawItem>,
}

/// One ConfigMap of a [`RawPage`].
#[derive(serde::Deserialize)]
struct RawItem {
    #[serde(default)]
    metadata: RawItemMeta,
    #[serde(default)]
    data: Option<BTreeMap<String, DataValue>>,
    #[serde(default, rename = "binaryData")]
    binary_data: Option<BTreeMap<String, Box<RawValue>>>,
}

/// A `data` value of a [`RawItem`]: its text, or what else it was. The API server only ever
/// sends strings there; anything else is that ConfigMap's error, never the page's.
#[derive(Debug)]
struct DataValue(Result<String, &'static str>);

impl<'de> serde::Deserialize<'de> for DataValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = DataValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a ConfigMap data value")
            }
            fn visit_str<E>(self, v: &str) -> Result<DataValue, E> {
                Ok(DataValue(Ok(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<DataValue, E> {
                Ok(DataValue(Ok(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<DataValue, E> {
                Ok(DataValue(Err("a boolean")))
            }
            fn visit_i64<E>(self, _: i64) -> Result<DataValue, E> {
                Ok(DataValue(Err("a number")))
            }
            fn visit_u64<E>(self, _: u64) -> Result<DataValue, E> {
                Ok(DataValue(Err("a number")))
            }
            fn visit_f64<E>(self, _: f64) -> Result<DataValue, E> {
                Ok(DataValue(Err("a number")))
            }
            fn visit_unit<E>(self) -> Result<DataValue, E> {
                Ok(DataValue(Err("null")))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DataValue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(DataValue(Err("an array")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DataValue, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(DataValue(Err("an object")))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

/// What a [`RawItem`]'s metadata is read for.
#[derive(serde::Deserialize, Default)]
struct RawItemMeta {
    #[serde(default)]
    name: Option<String>,
}

/// Lists one page, as `Api::list` does, into a [`RawPage`].
async fn list_page(
    client: &kube::Client,
    list: &kube::core::Request,
    params: &ListParams,
) -> Result<RawPage, kube::Error> {
    let mut request = list.list(params).map_err(kube::Error::BuildRequest)?;
    request.extensions_mut().insert("list");
    client.request::<RawPage>(request).await
}

/// A listed ConfigMap's snapshot: text, or compressed as it arrived; [`Stored::text`] gives the
/// text.
#[derive(Debug)]
pub struct Stored {
    /// How errors name the ConfigMap (`cm://NAMESPACE/NAME`).
    target: String,
    /// `data.snapshot`: its text, or what else the value was.
    text: Option<Result<String, &'static str>>,
    /// `binaryData.snapshot`: a JSON string of base64-encoded gzip.
    gzip: Option<Box<RawValue>>,
}

impl Stored {
    /// What a list gives for a ConfigMap named by `target` whose `data` holds `text` under
    /// [`SNAPSHOT_KEY`], or nothing (for callers and tests that have the text at hand).
    pub fn of_text(target: impl Into<String>, text: Option<&str>) -> Stored {
        Stored {
            target: target.into(),
            text: text.map(|t| Ok(t.to_owned())),
            gzip: None,
        }
    }

    /// The snapshot of a listed ConfigMap, named by `target` in errors.
    fn of_item(target: String, item: RawItem) -> Stored {
        Stored {
            target,
            text: item
                .data
                .and_then(|mut d| d.remove(SNAPSHOT_KEY))
                .map(|v| v.0),
            gzip: item.binary_data.and_then(|mut d| d.remove(SNAPSHOT_KEY)),
        }
    }

    /// The snapshot text (gzip expanded, at most [`EXPANDED_MAX_BYTES`]), or why the ConfigMap
    /// holds none.
    pub fn text(&self) -> Result<std::borrow::Cow<'_, str>, StoreError> {
        let bad = |reason: String| StoreError::BadContent {
            target: self.target.clone(),
            reason,
        };
        match &self.text {
            Some(Ok(text)) => return Ok(std::borrow::Cow::Borrowed(text)),
            Some(Err(what)) => {
                return Err(bad(format!("data.{SNAPSHOT_KEY} is {what}, not a string")))
            }
            None => {}
        }
        let Some(raw) = &self.gzip else {
            return Err(no_snapshot(&self.target));
        };
        let ByteString(bytes) = serde_json::from_str(raw.get())
            .map_err(|e| bad(format!("binaryData.{SNAPSHOT_KEY} is not base64: {e}")))?;
        expand(&bytes, &self.target).map(std::borrow::Cow::Owned)
    }
}

/// Every snapshot in `namespace` that `selector` matches, as `(name, text)` pairs in name order
/// (see [`for_each_snapshot`] to hold one page at a time instead).
pub async fn list_snapshots(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
) -> Result<Vec<(String, Result<String, StoreError>)>, StoreError> {
    let mut out = Vec::new();
    for_each_snapshot(client, namespace, selector, PAGE_SIZE, |name, stored| {
        out.push((name, stored.text().map(std::borrow::Cow::into_owned)));
        ControlFlow::Continue(())
    })
    .await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_snapshots_are_text_large_ones_gzip_and_too_large_ones_an_error() {
        assert_eq!(
            encode("kind: Snapshot\n", 100, "cm://a/b").unwrap(),
            Encoded::Text("kind: Snapshot\n".into())
        );
        // Repetitive text compresses far below the limit.
        let text = "key: value\n".repeat(100);
        let Encoded::Gzip(bytes) = encode(&text, 200, "cm://a/b").unwrap() else {
            panic!("expected gzip");
        };
        let cm = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                SNAPSHOT_KEY.to_owned(),
                ByteString(bytes),
            )])),
            ..ConfigMap::default()
        };
        assert_eq!(snapshot_text(&cm, "cm://a/b").unwrap(), text);
        // Text that does not compress (every line different) cannot fit.
        let text: String = (0..2000).map(|i| format!("k{i}: {}\n", i * 7919)).collect();
        let err = encode(&text, 1000, "cm://a/b").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("--collectors"), "{message}");
        assert!(message.contains("--format json"), "{message}");
        assert!(message.contains("nothing was written"), "{message}");
    }

    #[test]
    fn json_is_stored_without_whitespace_between_tokens_and_reads_back_as_the_same_document() {
        let pretty = "{\n  \"kind\": \"Snapshot\",\n  \"measurements\": [\n    {\n      \
            \"type\": \"OS\",\n      \"data\": {\"a b\": \"two  spaces\\tand \\\"quoted\\\" \\\\\",\n\
            \t\t\"n\": -1.50e3, \"u\": 18446744073709551615, \"x\": [ true , null ],\r\n\
            \"ü\": \"\\u00fc }\"}\n    }\n  ]\n}\n";
        let Encoded::Text(stored) = encode(pretty, CONFIGMAP_MAX_BYTES, "cm://a/b").unwrap() else {
            panic!("expected text");
        };
        assert_eq!(
            stored,
            "{\"kind\":\"Snapshot\",\"measurements\":[{\"type\":\"OS\",\"data\":{\"a b\":\
             \"two  spaces\\tand \\\"quoted\\\" \\\\\",\"n\":-1.50e3,\"u\":18446744073709551615,\
             \"x\":[true,null],\"ü\":\"\\u00fc }\"}}]}"
        );
        let parsed = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
        assert_eq!(parsed(&stored), parsed(pretty));
        // YAML, and text that only looks like JSON, are stored as they are.
        for text in [
            "kind: Snapshot\nmeasurements: []\n",
            "{kind: Snapshot}\n",
            "[1, 2\n",
        ] {
            assert_eq!(
                encode(text, CONFIGMAP_MAX_BYTES, "cm://a/b").unwrap(),
                Encoded::Text(text.to_owned())
            );
        }
    }

    #[test]
    fn a_page_gives_each_configmap_its_text_and_a_value_that_is_no_string_is_that_ones_error() {
        let page = r#"{"metadata": {"continue": "t"}, "items": [
            {"metadata": {"name": "a"}, "data": {"snapshot": "{\"k\": \"tab\\there \u00fc\"}\n"}},
            {"metadata": {"name": "b"}, "data": {"snapshot": 5, "other": "x"}},
            {"metadata": {"name": "c"}, "data": {"snapshot": {"a": [1, {"b": null}]}}},
            {"metadata": {"name": "d"}, "data": {"snapshot": [true]}},
            {"metadata": {"name": "e"}, "data": {"snapshot": null}},
            {"metadata": {"name": "f"}, "binaryData": {"snapshot": "H4sIAAAAAAAAA8vJzwEATbHtGAMAAAA="}}
        ]}"#;
        let page: RawPage = serde_json::from_str(page).unwrap();
        assert_eq!(page.metadata.continue_.as_deref(), Some("t"));
        let texts: Vec<Result<String, String>> = page
            .items
            .into_iter()
            .map(|item| {
                let target = format!("cm://ns/{}", item.metadata.name.as_deref().unwrap_or(""));
                Stored::of_item(target, item)
                    .text()
                    .map(|t| t.into_owned())
                    .map_err(|e| e.to_string())
            })
            .collect();
        assert_eq!(texts[0].as_deref(), Ok("{\"k\": \"tab\\there ü\"}\n"));
        for (i, what) in [
            (1, "a number"),
            (2, "an object"),
            (3, "an array"),
            (4, "null"),
        ] {
            let err = texts[i].as_ref().unwrap_err();
            assert!(
                err.contains(&format!("data.snapshot is {what}, not a string")),
                "{err}"
            );
            assert!(err.contains("cm://ns/"), "{err}");
        }
        assert_eq!(texts[5].as_deref(), Ok("lol"));
    }

    #[test]
    fn a_configmap_without_the_key_or_with_broken_gzip_is_explained() {
        let empty = ConfigMap::default();
        let err = snapshot_text(&empty, "cm://a/b").unwrap_err().to_string();
        assert!(err.contains("no key \"snapshot\""), "{err}");
        let broken = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                SNAPSHOT_KEY.to_owned(),
                ByteString(b"not gzip".to_vec()),
            )])),
            ..ConfigMap::default()
        };
        let err = snapshot_text(&broken, "cm://a/b").unwrap_err().to_string();
        assert!(err.contains("not valid gzip"), "{err}");
    }

    #[test]
    fn labels_name_the_kind_and_the_node() {
        let address = CmAddress {
            namespace: "eidos".into(),
            name: "n".into(),
        };
        let cm = build(&address, &Encoded::Text("x".into()), Some("node-1"), None);
        let labels = cm.metadata.labels.unwrap();
        assert_eq!(labels[LABEL_KIND], KIND_SNAPSHOT);
        assert_eq!(labels[LABEL_NODE], "node-1");
        let long = "n".repeat(100);
        let cm = build(&address, &Encoded::Text("x".into()), Some(&long), None);
        assert!(!cm.metadata.labels.unwrap().contains_key(LABEL_NODE));
        assert_eq!(cm.metadata.annotations.unwrap()[ANNOTATION_NODE], long);
    }
}

//! ConfigMaps, as the API server stores and serves them: get, list (label selector, `limit`,
//! `continue`), create, and update guarded by `resourceVersion`.
//!
//! Faithful where eidos depends on it:
//! - every write takes the next `resourceVersion` of the whole store (etcd's revision), and an
//!   update whose `metadata.resourceVersion` is not the stored one is a `409 Conflict`; an update
//!   without one is unconditional, as for real ConfigMaps;
//! - create of an existing name is `409 AlreadyExists`; update of a missing one is `404`;
//! - a ConfigMap whose `data` and `binaryData` (keys and values, binary values counted decoded)
//!   add up to more than 1 MiB, or whose name is not a DNS-1123 subdomain, is `422 Invalid`;
//! - lists are in name order, paginated with an opaque continue token and `remainingItemCount`;
//!   label selectors take the equality-based and existence forms (`k=v`, `k==v`, `k!=v`, `k`,
//!   `!k`, comma-separated); the set-based forms (`in`, `notin`) are refused with `400`, which is
//!   a limit of the fake, not of the protocol.
//!
//! Every namespace exists (the fake has no Namespace objects).

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// What a ConfigMap may hold (keys and values of `data` and `binaryData`).
pub const MAX_CONFIGMAP_BYTES: usize = 1024 * 1024;

/// One stored ConfigMap.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub labels: BTreeMap<String, String>,
    pub resource_version: u64,
    /// The object as served (with `kind`, `apiVersion`, `resourceVersion`, `uid` …).
    pub json: String,
}

/// The ConfigMaps, keyed `namespace/name` (etcd's key order).
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub objects: BTreeMap<String, Stored>,
    /// The store's revision: the last `resourceVersion` handed out.
    pub revision: u64,
    /// Bumped when continue tokens are expired (compaction).
    pub epoch: u64,
}

/// An answer: HTTP status and JSON body.
pub(crate) type Answer = (u16, String);

/// A `Status` body.
pub(crate) fn status_body(code: u16, reason: &str, message: &str, details: Value) -> String {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    if !details.is_null() {
        body["details"] = details;
    }
    body.to_string()
}

fn not_found(name: &str) -> Answer {
    (
        404,
        status_body(
            404,
            "NotFound",
            &format!("configmaps \"{name}\" not found"),
            json!({"name": name, "kind": "configmaps"}),
        ),
    )
}

fn invalid(name: &str, field: &str, detail: &str) -> Answer {
    (
        422,
        status_body(
            422,
            "Invalid",
            &format!("ConfigMap \"{name}\" is invalid: {field}: {detail}"),
            json!({"name": name, "kind": "ConfigMap",
                   "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}]}),
        ),
    )
}

fn bad_request(message: &str) -> Answer {
    (400, status_body(400, "BadRequest", message, Value::Null))
}

fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

fn is_dns_subdomain(text: &str) -> bool {
    !text.is_empty() && text.len() <= 253 && text.split('.').all(is_dns_label)
}

/// One requirement of a label selector.
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    Absent(String),
}

impl Requirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::Absent(k) => !labels.contains_key(k),
        }
    }
}

fn parse_selector(selector: &str) -> Result<Vec<Requirement>, String> {
    let mut out = Vec::new();
    for part in selector.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.contains('(') || part.contains(" in ") || part.contains(" notin ") {
            return Err(format!(
                "the fake API server does not implement set-based selectors: {part:?}"
            ));
        }
        let requirement = if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotEquals(k.trim().to_owned(), v.trim().to_owned())
        } else if let Some((k, v)) = part.split_once("==") {
            Requirement::Equals(k.trim().to_owned(), v.trim().to_owned())
        } else if let Some((k, v)) = part.split_once('=') {
            Requirement::Equals(k.trim().to_owned(), v.trim().to_owned())
        } else if let Some(k) = part.strip_prefix('!') {
            Requirement::Absent(k.trim().to_owned())
        } else {
            Requirement::Exists(part.to_owned())
        };
        let key = match &requirement {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::Exists(k)
            | Requirement::Absent(k) => k,
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return Err(format!("unable to parse requirement: {part:?}"));
        }
        out.push(requirement);
    }
    Ok(out)
}

/// Size of `data` and `binaryData` as the API server counts it.
fn payload_size(cm: &ConfigMap) -> usize {
    let text: usize = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    let binary: usize = cm
        .binary_data
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.0.len())
        .sum();
    text + binary
}

impl Store {
    /// Stores `cm` (already validated) at the next revision; returns the served JSON.
    fn put(&mut self, namespace: &str, mut cm: ConfigMap, created: Option<String>) -> String {
        self.revision += 1;
        let name = cm.metadata.name.clone().unwrap_or_default();
        cm.metadata.namespace = Some(namespace.to_owned());
        cm.metadata.resource_version = Some(self.revision.to_string());
        cm.metadata.managed_fields = None;
        if cm.metadata.uid.is_none() {
            cm.metadata.uid = Some(format!("00000000-0000-4000-8000-{:012x}", self.revision));
        }
        if let Some(created) = created {
            cm.metadata.creation_timestamp = serde_json::from_value(json!(created)).ok();
        }
        let json = serde_json::to_string(&cm).unwrap_or_default();
        self.objects.insert(
            format!("{namespace}/{name}"),
            Stored {
                labels: cm.metadata.labels.clone().unwrap_or_default(),
                resource_version: self.revision,
                json: json.clone(),
            },
        );
        json
    }

    /// Inserts a ConfigMap directly (seeding a test or benchmark).
    pub fn insert(&mut self, cm: ConfigMap) {
        let namespace = cm.metadata.namespace.clone().unwrap_or_default();
        self.put(&namespace, cm, Some("2026-01-01T00:00:00Z".into()));
    }

    /// `GET .../configmaps/NAME`.
    pub fn get(&self, namespace: &str, name: &str) -> Answer {
        match self.objects.get(&format!("{namespace}/{name}")) {
            Some(stored) => (200, stored.json.clone()),
            None => not_found(name),
        }
    }

    fn parse_body(body: &[u8]) -> Result<ConfigMap, Answer> {
        serde_json::from_slice(body)
            .map_err(|e| bad_request(&format!("the body is not a ConfigMap: {e}")))
    }

    fn validate(namespace: &str, cm: &ConfigMap) -> Result<String, Answer> {
        let name = cm.metadata.name.clone().unwrap_or_default();
        if name.is_empty() {
            return Err(invalid(
                &name,
                "metadata.name",
                "Required value: name or generateName is required",
            ));
        }
        if !is_dns_subdomain(&name) {
            return Err(invalid(&name, "metadata.name", "Invalid value: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"));
        }
        if cm
            .metadata
            .namespace
            .as_deref()
            .is_some_and(|n| n != namespace)
        {
            return Err(bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let size = payload_size(cm);
        if size > MAX_CONFIGMAP_BYTES {
            return Err(invalid(
                &name,
                "[]",
                &format!("Too long: may not be more than {MAX_CONFIGMAP_BYTES} bytes"),
            ));
        }
        Ok(name)
    }

    /// `POST .../configmaps`.
    pub fn create(&mut self, namespace: &str, body: &[u8]) -> Answer {
        let cm = match Self::parse_body(body) {
            Ok(cm) => cm,
            Err(answer) => return answer,
        };
        let name = match Self::validate(namespace, &cm) {
            Ok(name) => name,
            Err(answer) => return answer,
        };
        if cm
            .metadata
            .resource_version
            .as_deref()
            .is_some_and(|v| !v.is_empty())
        {
            return bad_request("resourceVersion should not be set on objects to be created");
        }
        if self.objects.contains_key(&format!("{namespace}/{name}")) {
            return (
                409,
                status_body(
                    409,
                    "AlreadyExists",
                    &format!("configmaps \"{name}\" already exists"),
                    json!({"name": name, "kind": "configmaps"}),
                ),
            );
        }
        (
            201,
            self.put(namespace, cm, Some("2026-01-01T00:00:00Z".into())),
        )
    }

    /// `PUT .../configmaps/NAME`.
    pub fn update(&mut self, namespace: &str, name: &str, body: &[u8]) -> Answer {
        let cm = match Self::parse_body(body) {
            Ok(cm) => cm,
            Err(answer) => return answer,
        };
        if cm.metadata.name.as_deref() != Some(name) {
            return bad_request("the name of the object does not match the name on the URL");
        }
        if let Err(answer) = Self::validate(namespace, &cm) {
            return answer;
        }
        let Some(current) = self.objects.get(&format!("{namespace}/{name}")) else {
            return not_found(name);
        };
        let sent = cm.metadata.resource_version.clone().unwrap_or_default();
        if !sent.is_empty() && sent != current.resource_version.to_string() {
            return (
                409,
                status_body(
                    409,
                    "Conflict",
                    &format!(
                        "Operation cannot be fulfilled on configmaps \"{name}\": the object has \
                         been modified; please apply your changes to the latest version and try again"
                    ),
                    json!({"name": name, "kind": "configmaps"}),
                ),
            );
        }
        let created = serde_json::from_str::<ConfigMap>(&current.json)
            .ok()
            .and_then(|c| c.metadata.creation_timestamp)
            .and_then(|t| serde_json::to_value(t).ok())
            .and_then(|v| v.as_str().map(str::to_owned));
        (200, self.put(namespace, cm, created))
    }

    /// `GET .../configmaps?labelSelector=&limit=&continue=`.
    pub fn list(
        &self,
        namespace: &str,
        selector: Option<&str>,
        limit: Option<usize>,
        token: Option<&str>,
    ) -> Answer {
        let requirements = match parse_selector(selector.unwrap_or_default()) {
            Ok(r) => r,
            Err(message) => return bad_request(&message),
        };
        let prefix = format!("{namespace}/");
        let start = match token {
            None => prefix.clone(),
            Some(token) => match crate::server::decode_continue(token) {
                None => return bad_request("continue key is not valid"),
                Some((epoch, _)) if epoch != self.epoch => {
                    return (
                        410,
                        status_body(410, "Expired", crate::server::EXPIRED_MESSAGE, Value::Null),
                    )
                }
                // Just after the last key served.
                Some((_, last)) => format!("{last}\0"),
            },
        };
        let mut matching = self
            .objects
            .range(start..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(_, s)| requirements.iter().all(|r| r.matches(&s.labels)));
        // The page's objects first, then the answer built once at its full size: a page of
        // snapshots is many megabytes, and benchmarks share the machine with this server.
        let mut items: Vec<&str> = Vec::new();
        let mut last_key = None;
        for (key, stored) in matching.by_ref() {
            items.push(&stored.json);
            last_key = Some(key);
            if limit.is_some_and(|l| items.len() >= l) {
                break;
            }
        }
        let remaining = matching.count();
        let mut metadata = format!("{{\"resourceVersion\":\"{}\"", self.revision);
        if remaining > 0 {
            if let Some(last) = last_key {
                let _ = write!(
                    metadata,
                    ",\"continue\":\"{}\",\"remainingItemCount\":{remaining}",
                    crate::server::encode_continue(self.epoch, last)
                );
            }
        }
        metadata.push('}');
        let head = format!("{{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{metadata},\"items\":[");
        let size = head.len() + items.iter().map(|i| i.len() + 1).sum::<usize>() + 2;
        let mut body = String::with_capacity(size);
        body.push_str(&head);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(item);
        }
        body.push_str("]}");
        (200, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str, labels: &[(&str, &str)]) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()},
            "data": {"k": "v"}
        }))
        .unwrap()
    }

    #[test]
    fn updates_need_the_current_resource_version() {
        let mut store = Store::default();
        let (code, body) = store.create("ns", &cm("a", &[]));
        assert_eq!(code, 201);
        let created: ConfigMap = serde_json::from_str(&body).unwrap();
        assert_eq!(store.create("ns", &cm("a", &[])).0, 409);
        let mut stale = created.clone();
        stale.metadata.resource_version = Some("999".into());
        assert_eq!(
            store
                .update("ns", "a", &serde_json::to_vec(&stale).unwrap())
                .0,
            409
        );
        assert_eq!(
            store
                .update("ns", "a", &serde_json::to_vec(&created).unwrap())
                .0,
            200
        );
        // The version read before the update is stale now.
        assert_eq!(
            store
                .update("ns", "a", &serde_json::to_vec(&created).unwrap())
                .0,
            409
        );
        assert_eq!(store.update("ns", "b", &cm("b", &[])).0, 404);
    }

    #[test]
    fn lists_filter_by_labels_and_page() {
        let mut store = Store::default();
        for i in 0..5 {
            let kind = if i % 2 == 0 { "snapshot" } else { "other" };
            store.create("ns", &cm(&format!("c{i}"), &[("kind", kind)]));
        }
        store.create("other-ns", &cm("c9", &[("kind", "snapshot")]));
        let page = |token: Option<&str>| -> Value {
            serde_json::from_str(&store.list("ns", Some("kind=snapshot"), Some(2), token).1)
                .unwrap()
        };
        let first = page(None);
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        assert_eq!(first["metadata"]["remainingItemCount"], 1);
        let token = first["metadata"]["continue"].as_str().unwrap().to_owned();
        let second = page(Some(&token));
        assert_eq!(second["items"][0]["metadata"]["name"], "c4");
        assert!(second["metadata"].get("continue").is_none());
        assert_eq!(store.list("ns", Some("kind in (a)"), None, None).0, 400);
        let absent: Value =
            serde_json::from_str(&store.list("ns", Some("!kind"), None, None).1).unwrap();
        assert_eq!(absent["items"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn too_large_or_badly_named_configmaps_are_invalid() {
        let mut store = Store::default();
        let big = serde_json::to_vec(&json!({
            "metadata": {"name": "big"}, "data": {"k": "x".repeat(MAX_CONFIGMAP_BYTES)}
        }))
        .unwrap();
        assert_eq!(store.create("ns", &big).0, 422);
        assert_eq!(store.create("ns", &cm("Bad_Name", &[])).0, 422);
    }
}

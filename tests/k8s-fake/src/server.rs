//! The HTTP side of the fake API server.

use crate::cluster::FakeCluster;
use crate::configmaps;
use crate::faults::{Fault, RequestRecord};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The bearer token the generated kubeconfig carries and the server demands.
const TOKEN: &str = "eidos-fake-token";

/// A running fake API server on `127.0.0.1`; stops when dropped.
pub struct FakeApiServer {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    state: Mutex<Served>,
    faults: Mutex<Vec<Fault>>,
    log: Mutex<Vec<RequestRecord>>,
}

/// The cluster, pre-serialized the way the server sends it.
struct Served {
    version: String,
    /// `(namespace/name, JSON)`, sorted by key like etcd.
    pods: Vec<(String, String)>,
    resource_version: u64,
    nodes: BTreeMap<String, String>,
    cluster_policies: Option<Vec<String>>,
    config_maps: configmaps::Store,
}

/// The largest request body the fake reads (the real server's limit is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn serialize_pods(pods: &[Pod]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = pods
        .iter()
        .map(|p| {
            let key = format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap_or_default(),
                p.metadata.name.as_deref().unwrap_or_default()
            );
            let json = serde_json::to_string(p).unwrap_or_default();
            (key, json)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

impl FakeApiServer {
    /// Serializes `cluster` and starts serving it on a free loopback port, on a thread of its own
    /// (so that blocking callers, like a collector on a host thread, can use it).
    pub fn start(cluster: FakeCluster) -> std::io::Result<Self> {
        let served = Served {
            version: serde_json::to_string(&cluster.version).unwrap_or_default(),
            pods: serialize_pods(&cluster.pods),
            resource_version: 1000,
            nodes: cluster
                .nodes
                .iter()
                .map(|n| {
                    (
                        n.metadata.name.clone().unwrap_or_default(),
                        serde_json::to_string(n).unwrap_or_default(),
                    )
                })
                .collect(),
            cluster_policies: cluster
                .cluster_policies
                .map(|ps| ps.iter().map(|p| p.to_string()).collect()),
            config_maps: configmaps::Store::default(),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(served),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name("k8s-fake".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = stopped => {}
                    }
                });
                runtime.shutdown_background();
            })?;
        Ok(FakeApiServer {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a fault; faults are consulted in the order they were added.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared.faults).push(fault);
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.log).clone()
    }

    /// The requests answered so far whose path is exactly `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Stores a ConfigMap (in its `metadata.namespace`) as if it had been created.
    pub fn insert_config_map(&self, config_map: ConfigMap) {
        lock(&self.shared.state).config_maps.insert(config_map);
    }

    /// The ConfigMap `namespace/name`, as the server would serve it.
    pub fn config_map(&self, namespace: &str, name: &str) -> Option<ConfigMap> {
        let state = lock(&self.shared.state);
        let (code, body) = state.config_maps.get(namespace, name);
        (code == 200)
            .then(|| serde_json::from_str(&body).ok())
            .flatten()
    }

    /// Every ConfigMap in `namespace`, in name order.
    pub fn config_maps(&self, namespace: &str) -> Vec<ConfigMap> {
        let state = lock(&self.shared.state);
        let prefix = format!("{namespace}/");
        state
            .config_maps
            .objects
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter_map(|(_, s)| serde_json::from_str(&s.json).ok())
            .collect()
    }

    /// Writes a kubeconfig with two contexts: `fake` (the current one, pointing here) and
    /// `elsewhere` (a closed loopback port); returns its path.
    pub fn write_kubeconfig(&self, dir: &Path) -> std::io::Result<PathBuf> {
        self.write_kubeconfig_with_current(dir, "fake")
    }

    /// Like [`FakeApiServer::write_kubeconfig`], with `current` as the current context.
    pub fn write_kubeconfig_with_current(
        &self,
        dir: &Path,
        current: &str,
    ) -> std::io::Result<PathBuf> {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n\
             - name: fake\n  cluster:\n    server: {url}\n\
             - name: elsewhere\n  cluster:\n    server: http://127.0.0.1:9\n\
             contexts:\n\
             - name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\n\
             - name: elsewhere\n  context:\n    cluster: elsewhere\n    user: fake\n\
             current-context: {current}\n\
             users:\n- name: fake\n  user:\n    token: {TOKEN}\n",
            url = self.url()
        );
        let path = dir.join("kubeconfig");
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A `Status` object, as the API server writes errors.
fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, body.to_string())
}

fn json_response(code: StatusCode, body: String) -> Response {
    let mut response = (code, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn reason_for(code: u16) -> (&'static str, &'static str) {
    match code {
        401 => ("Unauthorized", "Unauthorized"),
        403 => (
            "Forbidden",
            "forbidden: User \"system:serviceaccount:eidos:eidos\" cannot perform this request",
        ),
        404 => (
            "NotFound",
            "the server could not find the requested resource",
        ),
        409 => ("Conflict", "the object has been modified"),
        410 => ("Expired", "the resource version is too old"),
        422 => ("Invalid", "the object is invalid"),
        429 => (
            "TooManyRequests",
            "the server has received too many requests and has asked us to try again later",
        ),
        500 => (
            "InternalError",
            "an error on the server has prevented the request from succeeding",
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
        ),
        504 => (
            "Timeout",
            "the server was unable to return a response in the time allotted",
        ),
        _ => ("Unknown", "injected failure"),
    }
}

/// The message a real API server gives for a `list` RBAC denial of `resource` in `group`.
fn forbidden_list(resource: &str, group: &str) -> String {
    let qualified = if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    };
    format!(
        "{qualified} is forbidden: User \"system:serviceaccount:eidos:eidos\" cannot list resource \
         \"{resource}\" in API group \"{group}\" at the cluster scope"
    )
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let at = Instant::now();
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    let body = axum::body::to_bytes(request.into_body(), MAX_BODY).await;
    let response = match body {
        _ if !authorized => status(401, "Unauthorized", "Unauthorized"),
        Err(_) => status(
            413,
            "RequestEntityTooLarge",
            "the request body is larger than the server accepts",
        ),
        Ok(body) => answer(&shared, &method, &path, query.as_deref(), &body),
    };
    lock(&shared.log).push(RequestRecord {
        method,
        path,
        query,
        status: response.status().as_u16(),
        at,
    });
    response
}

/// Takes the first matching status fault, if any.
fn injected(shared: &Shared, method: &str, path: &str) -> Option<Response> {
    let mut faults = lock(&shared.faults);
    let index = faults.iter().position(|f| match f {
        Fault::Status { path: p, times, .. } => *times > 0 && path.starts_with(p.as_str()),
        Fault::Method {
            method: m,
            path: p,
            times,
            ..
        } => *times > 0 && m == method && path.starts_with(p.as_str()),
        Fault::ExpireContinue { .. } => false,
    })?;
    let (code, times, retry_after) = match &mut faults[index] {
        Fault::Status {
            status,
            times,
            retry_after,
            ..
        } => (*status, times, *retry_after),
        Fault::Method { status, times, .. } => (*status, times, None),
        Fault::ExpireContinue { .. } => return None,
    };
    if *times != u32::MAX {
        *times -= 1;
    }
    if faults_exhausted(&faults[index]) {
        faults.remove(index);
    }
    drop(faults);
    let (reason, message) = reason_for(code);
    let message = if code == 403 && path.ends_with("/clusterpolicies") {
        forbidden_list("clusterpolicies", "nvidia.com")
    } else if code == 403 && path == "/api/v1/pods" {
        forbidden_list("pods", "")
    } else if let Some(message) = configmap_fault_message(code, method, path) {
        message
    } else {
        message.to_owned()
    };
    let mut response = status(code, reason, &message);
    if let Some(seconds) = retry_after {
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    Some(response)
}

fn faults_exhausted(fault: &Fault) -> bool {
    matches!(
        fault,
        Fault::Status { times: 0, .. }
            | Fault::Method { times: 0, .. }
            | Fault::ExpireContinue { times: 0, .. }
    )
}

/// `(namespace, Some(name))` for `/api/v1/namespaces/NS/configmaps[/NAME]`.
fn configmap_path(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once('/')?;
    match rest.strip_prefix("configmaps")? {
        "" => Some((namespace, None)),
        name => {
            let name = name.strip_prefix('/')?;
            (!name.is_empty() && !name.contains('/')).then_some((namespace, Some(name)))
        }
    }
}

/// The messages a real server gives for injected failures of ConfigMap calls.
fn configmap_fault_message(code: u16, method: &str, path: &str) -> Option<String> {
    let (namespace, name) = configmap_path(path)?;
    let verb = match (method, name) {
        ("GET", Some(_)) => "get",
        ("GET", None) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("DELETE", _) => "delete",
        _ => "patch",
    };
    let subject = match name {
        Some(name) => format!("configmaps \"{name}\""),
        None => "configmaps".to_owned(),
    };
    Some(match code {
        403 => format!(
            "{subject} is forbidden: User \"system:serviceaccount:eidos:eidos\" cannot {verb} \
             resource \"configmaps\" in API group \"\" in the namespace \"{namespace}\""
        ),
        409 => format!(
            "Operation cannot be fulfilled on {subject}: the object has been modified; please \
             apply your changes to the latest version and try again"
        ),
        422 => format!(
            "ConfigMap {:?} is invalid: injected failure",
            name.unwrap_or_default()
        ),
        _ => return None,
    })
}

fn answer_configmaps(
    shared: &Shared,
    method: &str,
    namespace: &str,
    name: Option<&str>,
    params: &BTreeMap<String, String>,
    body: &[u8],
) -> Response {
    let (code, text) = {
        if method == "GET"
            && name.is_none()
            && params.contains_key("continue")
            && expire_continue(shared)
        {
            return status(410, "Expired", EXPIRED_MESSAGE);
        }
        let mut state = lock(&shared.state);
        let store = &mut state.config_maps;
        match (method, name) {
            ("GET", Some(name)) => store.get(namespace, name),
            ("PUT", Some(name)) => store.update(namespace, name, body),
            ("POST", None) => store.create(namespace, body),
            ("GET", None) => {
                let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
                    None | Some(Ok(0)) => None,
                    Some(Ok(n)) => Some(n),
                    Some(Err(_)) => {
                        return status(400, "BadRequest", "limit must be a non-negative integer")
                    }
                };
                store.list(
                    namespace,
                    params.get("labelSelector").map(String::as_str),
                    limit,
                    params
                        .get("continue")
                        .map(String::as_str)
                        .filter(|t| !t.is_empty()),
                )
            }
            _ => (
                405,
                configmaps::status_body(
                    405,
                    "MethodNotAllowed",
                    "the fake serves get, list, create and update of configmaps",
                    serde_json::Value::Null,
                ),
            ),
        }
    };
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        text,
    )
}

fn answer(shared: &Shared, method: &str, path: &str, query: Option<&str>, body: &[u8]) -> Response {
    if let Some(response) = injected(shared, method, path) {
        return response;
    }
    if let Some((namespace, name)) = configmap_path(path) {
        let params: BTreeMap<String, String> =
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect();
        return answer_configmaps(shared, method, namespace, name, &params, body);
    }
    if method != "GET" {
        return status(405, "MethodNotAllowed", "the fake serves GET only");
    }
    let params: BTreeMap<&str, &str> = query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    match path {
        "/version" => json_response(StatusCode::OK, lock(&shared.state).version.clone()),
        "/api" => json_response(
            StatusCode::OK,
            json!({"kind": "APIVersions", "versions": ["v1"],
                   "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
            .to_string(),
        ),
        "/api/v1" => json_response(StatusCode::OK, core_resources().to_string()),
        "/apis" => json_response(StatusCode::OK, api_groups(shared).to_string()),
        "/apis/nvidia.com/v1" if lock(&shared.state).cluster_policies.is_some() => {
            json_response(StatusCode::OK, nvidia_resources().to_string())
        }
        "/api/v1/pods" => list_pods(shared, &params),
        "/apis/nvidia.com/v1/clusterpolicies" => list_cluster_policies(shared),
        _ => match path.strip_prefix("/api/v1/nodes/") {
            Some(name) if !name.contains('/') => get_node(shared, name),
            _ => page_not_found(),
        },
    }
}

/// What the real server answers for a path no API serves (e.g. a CRD that is not installed).
fn page_not_found() -> Response {
    let mut response = (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn core_resources() -> serde_json::Value {
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {"name": "nodes", "singularName": "node", "namespaced": false, "kind": "Node",
             "verbs": ["get", "list", "watch"]},
            {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod",
             "verbs": ["get", "list", "watch"]}
        ]
    })
}

fn nvidia_resources() -> serde_json::Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "nvidia.com/v1",
        "resources": [
            {"name": "clusterpolicies", "singularName": "clusterpolicy", "namespaced": false,
             "kind": "ClusterPolicy", "verbs": ["get", "list", "watch"]}
        ]
    })
}

fn api_groups(shared: &Shared) -> serde_json::Value {
    let mut groups = vec![json!({
        "name": "apps",
        "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}
    })];
    if lock(&shared.state).cluster_policies.is_some() {
        groups.push(json!({
            "name": "nvidia.com",
            "versions": [{"groupVersion": "nvidia.com/v1", "version": "v1"}],
            "preferredVersion": {"groupVersion": "nvidia.com/v1", "version": "v1"}
        }));
    }
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn get_node(shared: &Shared, name: &str) -> Response {
    match lock(&shared.state).nodes.get(name) {
        Some(json) => json_response(StatusCode::OK, json.clone()),
        None => {
            let mut body = json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("nodes \"{name}\" not found"), "reason": "NotFound",
                "details": {"name": name, "kind": "nodes"}, "code": 404
            })
            .to_string();
            body.push('\n');
            json_response(StatusCode::NOT_FOUND, body)
        }
    }
}

fn list_cluster_policies(shared: &Shared) -> Response {
    let state = lock(&shared.state);
    let Some(policies) = &state.cluster_policies else {
        return page_not_found();
    };
    let body = format!(
        "{{\"apiVersion\":\"nvidia.com/v1\",\"kind\":\"ClusterPolicyList\",\"metadata\":{{\"resourceVersion\":\"{}\"}},\"items\":[{}]}}",
        state.resource_version,
        policies.join(",")
    );
    json_response(StatusCode::OK, body)
}

/// An opaque continue token: hex of `resourceVersion` and the last key served.
pub(crate) fn encode_continue(resource_version: u64, last_key: &str) -> String {
    format!("{resource_version}\n{last_key}")
        .bytes()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub(crate) fn decode_continue(token: &str) -> Option<(u64, String)> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (rv, key) = text.split_once('\n')?;
    Some((rv.parse().ok()?, key.to_owned()))
}

pub(crate) const EXPIRED_MESSAGE: &str =
    "The provided continue parameter is too old to display a consistent \
    list result. You can start a new list without the continue parameter, or use the continue \
    token in this response to retrieve the remainder of the results. Continuing with the provided \
    token results in an inconsistent list - objects that were created, modified, or deleted \
    between the time the first chunk was returned and now may show up in the list.";

/// Takes an `ExpireContinue` fault, applying its pod replacement.
fn expire_continue(shared: &Shared) -> bool {
    let mut faults = lock(&shared.faults);
    let Some(index) = faults
        .iter()
        .position(|f| matches!(f, Fault::ExpireContinue { times, .. } if *times > 0))
    else {
        return false;
    };
    if let Fault::ExpireContinue {
        times,
        replace_pods,
    } = &mut faults[index]
    {
        *times -= 1;
        let mut state = lock(&shared.state);
        // Compaction: every token issued so far is now too old.
        state.resource_version += 1;
        state.config_maps.epoch += 1;
        if let Some(pods) = replace_pods.take() {
            state.pods = serialize_pods(&pods);
        }
    }
    if faults_exhausted(&faults[index]) {
        faults.remove(index);
    }
    true
}

fn list_pods(shared: &Shared, params: &BTreeMap<&str, &str>) -> Response {
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => None,
        Some(Ok(0)) => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return status(400, "BadRequest", "limit must be a non-negative integer"),
    };
    let token = params.get("continue").filter(|t| !t.is_empty());
    if token.is_some() && expire_continue(shared) {
        return status(410, "Expired", EXPIRED_MESSAGE);
    }
    let state = lock(&shared.state);
    let start = match token {
        None => 0,
        Some(token) => match decode_continue(token) {
            None => return status(400, "BadRequest", "continue key is not valid"),
            Some((rv, _)) if rv != state.resource_version => {
                return status(410, "Expired", EXPIRED_MESSAGE)
            }
            Some((_, last)) => state
                .pods
                .partition_point(|(k, _)| k.as_str() <= last.as_str()),
        },
    };
    let end = limit.map_or(state.pods.len(), |l| (start + l).min(state.pods.len()));
    let page = &state.pods[start..end];
    let size: usize = page.iter().map(|(_, j)| j.len() + 1).sum();
    let mut body = String::with_capacity(size + 256);
    let _ = write!(
        body,
        "{{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{{\"resourceVersion\":\"{}\"",
        state.resource_version
    );
    if end < state.pods.len() {
        let last = page.last().map_or("", |(k, _)| k.as_str());
        let _ = write!(
            body,
            ",\"continue\":\"{}\",\"remainingItemCount\":{}",
            encode_continue(state.resource_version, last),
            state.pods.len() - end
        );
    }
    body.push_str("},\"items\":[");
    for (i, (_, json)) in page.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(json);
    }
    body.push_str("]}");
    drop(state);
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = encode_continue(1001, "gpu-operator/pod-1");
        assert_eq!(
            decode_continue(&token),
            Some((1001, "gpu-operator/pod-1".to_owned()))
        );
        assert_eq!(decode_continue("zz"), None);
        assert_eq!(decode_continue("abc"), None);
    }
}

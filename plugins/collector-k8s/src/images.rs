//! The `image` subtype: every container image running in the cluster, as `name → tag`.
//!
//! Pods are listed across all namespaces in pages of [`PAGE_SIZE`] and each page is reduced to
//! image names before the next is requested, so memory depends on the number of distinct images,
//! not on the number of pods. Only the image fields of each pod are deserialized.
//!
//! # Several tags for one name
//!
//! The snapshot keeps one value per image name. When a name runs with several tags (a rolling
//! upgrade, or two registries' images sharing a last path component), the reported one is the
//! **highest in natural version order** (runs of digits compare as numbers, so `v1.10.0` is above
//! `v1.9.3`), and a tag always ranks above a digest. The rule depends only on the set of tags, not
//! on the order pods are listed in. The other tags are named in the subtype's `context`.

use eidos_plugin_api::Subtype;
use kube::api::ListParams;
use serde::Deserialize;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Pods per list request.
pub const PAGE_SIZE: u32 = 500;
/// How many times an expired listing is started over before giving up.
pub const MAX_RESTARTS: u32 = 3;

/// The parts of an image reference the snapshot keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// The last path component, without tag or digest (`nvcr.io/nvidia/k8s/dcgm-exporter:4.1` →
    /// `dcgm-exporter`).
    pub name: &'a str,
    /// The tag; else the digest (`sha256:…`); else `latest`, the tag a runtime pulls by default.
    pub version: &'a str,
}

/// Splits an image reference (`[registry[:port]/]path/name[:tag][@digest]`).
pub fn parse_image(reference: &str) -> Option<ImageRef<'_>> {
    let reference = reference.trim();
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (reference, None),
    };
    let last = rest.rsplit('/').next().unwrap_or(rest);
    let (name, tag) = match last.split_once(':') {
        Some((name, tag)) => (name, Some(tag)),
        None => (last, None),
    };
    if name.is_empty() {
        return None;
    }
    let version = tag
        .filter(|t| !t.is_empty())
        .or(digest.filter(|d| !d.is_empty()))
        .unwrap_or("latest");
    Some(ImageRef { name, version })
}

fn is_digest(version: &str) -> bool {
    version.contains(':')
}

/// Natural version order: digit runs compare numerically, other runs as text; tags rank above
/// digests.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (is_digest(a), is_digest(b)) {
        (false, true) => return Ordering::Greater,
        (true, false) => return Ordering::Less,
        _ => {}
    }
    let (mut x, mut y) = (a, b);
    loop {
        match (x.is_empty(), y.is_empty()) {
            (true, true) => return a.cmp(b),
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let (cx, rx) = split_run(x);
        let (cy, ry) = split_run(y);
        let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
        let order = if digits(cx) && digits(cy) {
            let (tx, ty) = (cx.trim_start_matches('0'), cy.trim_start_matches('0'));
            tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
        } else {
            cx.cmp(cy)
        };
        if order != Ordering::Equal {
            return order;
        }
        x = rx;
        y = ry;
    }
}

/// The leading run of digits or of non-digits, and the rest.
fn split_run(s: &str) -> (&str, &str) {
    let digit = s.as_bytes().first().is_some_and(u8::is_ascii_digit);
    let end = s
        .bytes()
        .position(|c| c.is_ascii_digit() != digit)
        .unwrap_or(s.len());
    s.split_at(end)
}

/// The distinct image names seen so far and their tags.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImageTable {
    tags: BTreeMap<String, BTreeSet<String>>,
}

impl ImageTable {
    /// Records one image reference (ignored when it has no name).
    pub fn add(&mut self, reference: &str) {
        if let Some(image) = parse_image(reference) {
            match self.tags.get_mut(image.name) {
                Some(set) => {
                    if !set.contains(image.version) {
                        set.insert(image.version.to_owned());
                    }
                }
                None => {
                    self.tags.insert(
                        image.name.to_owned(),
                        BTreeSet::from([image.version.to_owned()]),
                    );
                }
            }
        }
    }

    /// How many distinct names were seen.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    /// Whether no image was seen.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The `image` subtype: name → chosen tag, sorted by name; other tags in `context`.
    pub fn into_subtype(self) -> Subtype {
        let mut subtype = Subtype::new("image");
        for (name, versions) in self.tags {
            let mut sorted: Vec<String> = versions.into_iter().collect();
            sorted.sort_by(|a, b| compare_versions(b, a));
            let mut rest = sorted.into_iter();
            let Some(chosen) = rest.next() else { continue };
            let others: Vec<String> = rest.collect();
            if !others.is_empty() {
                subtype.context.insert(
                    name.clone(),
                    format!(
                        "several tags in use; the highest is reported, also running: {}",
                        others.join(", ")
                    ),
                );
            }
            subtype.insert(name, chosen);
        }
        subtype
    }
}

/// One page of `GET /api/v1/pods`, reduced to what this subtype reads.
#[derive(Debug, Deserialize)]
struct PodPage {
    #[serde(default)]
    metadata: PageMeta,
    #[serde(default)]
    items: Vec<PodImages>,
}

#[derive(Debug, Default, Deserialize)]
struct PageMeta {
    #[serde(rename = "continue", default)]
    continue_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PodImages {
    #[serde(default)]
    spec: Option<PodImageSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodImageSpec {
    #[serde(default)]
    containers: Vec<ContainerImage>,
    #[serde(default)]
    init_containers: Vec<ContainerImage>,
}

#[derive(Debug, Deserialize)]
struct ContainerImage {
    #[serde(default)]
    image: Option<String>,
}

fn is_expired(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 410)
}

/// Lists every pod in the cluster page by page and returns the images they run. An expired
/// continue token (`410 Gone`) starts the listing over from the first page, discarding what the
/// interrupted pass had gathered, at most [`MAX_RESTARTS`] times.
pub async fn list_images(client: &kube::Client, page_size: u32) -> Result<ImageTable, kube::Error> {
    let mut restarts = 0;
    'listing: loop {
        let mut table = ImageTable::default();
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(page_size);
            if let Some(token) = &token {
                params = params.continue_token(token);
            }
            let request = kube::core::Request::new("/api/v1/pods")
                .list(&params)
                .map_err(kube::Error::BuildRequest)?;
            let page = match client.request::<PodPage>(request).await {
                Ok(page) => page,
                Err(e) if is_expired(&e) && token.is_some() && restarts < MAX_RESTARTS => {
                    restarts += 1;
                    tracing::info!(restarts, "pod list continue token expired; listing again");
                    continue 'listing;
                }
                Err(e) => return Err(e),
            };
            for pod in page.items {
                if let Some(spec) = pod.spec {
                    for container in spec.init_containers.iter().chain(&spec.containers) {
                        if let Some(image) = &container.image {
                            table.add(image);
                        }
                    }
                }
            }
            token = page.metadata.continue_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(table);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::Reading;

    #[test]
    fn parses_the_reference_forms() {
        let p = |r| parse_image(r).map(|i| (i.name, i.version));
        assert_eq!(
            p("nvcr.io/nvidia/k8s/dcgm-exporter:4.1.1-4.0.4-ubuntu22.04"),
            Some(("dcgm-exporter", "4.1.1-4.0.4-ubuntu22.04"))
        );
        assert_eq!(p("redis:7.4.2"), Some(("redis", "7.4.2")));
        assert_eq!(p("ghcr.io/nvidia/eidos"), Some(("eidos", "latest")));
        assert_eq!(
            p("localhost:5000/team/app:v2"),
            Some(("app", "v2")),
            "a registry port is not a tag"
        );
        assert_eq!(p("localhost:5000/team/app"), Some(("app", "latest")));
        assert_eq!(
            p("nvcr.io/nvidia/op@sha256:abc123"),
            Some(("op", "sha256:abc123"))
        );
        assert_eq!(
            p("nvcr.io/nvidia/op:v1.2@sha256:abc123"),
            Some(("op", "v1.2")),
            "a tag wins over a digest"
        );
        assert_eq!(p(""), None);
        assert_eq!(p("registry.example/"), None);
    }

    #[test]
    fn natural_version_order() {
        use Ordering::*;
        assert_eq!(compare_versions("v1.10.0", "v1.9.3"), Greater);
        assert_eq!(compare_versions("v25.3.0", "v25.3.0"), Equal);
        assert_eq!(compare_versions("1.2", "1.2.1"), Less);
        assert_eq!(compare_versions("v1.2", "sha256:ffff"), Greater);
        // Numerically equal but different text: still a strict, antisymmetric order.
        assert_eq!(compare_versions("007", "7"), Less);
        assert_eq!(compare_versions("7", "007"), Greater);
    }

    #[test]
    fn several_tags_keep_the_highest_whatever_the_order() {
        let refs = [
            "nvcr.io/nvidia/gpu-operator:v24.9.2",
            "nvcr.io/nvidia/gpu-operator:v25.3.0",
            "mirror.example/nvidia/gpu-operator:v24.10.1",
            "nvcr.io/nvidia/gpu-operator@sha256:0123",
        ];
        let mut forward = ImageTable::default();
        refs.iter().for_each(|r| forward.add(r));
        let mut backward = ImageTable::default();
        refs.iter().rev().for_each(|r| backward.add(r));
        assert_eq!(forward, backward);
        let subtype = forward.into_subtype();
        assert_eq!(subtype.data["gpu-operator"], Reading::from("v25.3.0"));
        let note = &subtype.context["gpu-operator"];
        assert!(note.ends_with("v24.10.1, v24.9.2, sha256:0123"), "{note}");
    }
}

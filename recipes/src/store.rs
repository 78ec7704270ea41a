//! The recipe store: loading and validating recipe files, and building recipes from them.

use crate::data::{self, OverlayData};
use crate::key::OverlayKey;
use crate::merge;
use crate::model::RecipeMeasurement as Measurement;
use crate::query::{ParsedQuery, Query};
use crate::timestamp;
use crate::validate::Provenance;
use crate::walk;
use crate::{LoadError, Recipe};
use std::collections::hash_map::{Entry, HashMap};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The `payloadVersion` of recipe documents this engine writes.
pub const PAYLOAD_VERSION: &str = "v1";

/// The name of the base file at the root of a recipe directory.
pub const BASE_FILE: &str = "base.yaml";

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_recipes.rs"));
}

/// One overlay, ready to apply.
#[derive(Debug, Clone)]
struct Overlay {
    key: OverlayKey,
    /// The `matchedRules` line, made once at load.
    rule: String,
    /// Where its values come from, for validation reports: `FILE (KEY)`.
    source: String,
    measurements: Vec<Measurement>,
}

/// The immutable, shareable set of recipe data: a base and overlays, validated and sorted in
/// the order they apply (least specific first; ties in layer order, then file order).
#[derive(Debug)]
pub struct RecipeStore {
    base: Vec<Measurement>,
    overlays: Vec<Overlay>,
}

/// The recipe files of one directory: (name shown in errors, path relative to the directory,
/// text), in path order.
type DirFiles = Vec<(String, String, String)>;

/// The files of one layer, parsed: its base (if it has one) and its overlays in file order.
struct ParsedFiles {
    base: Option<Vec<Measurement>>,
    overlays: Vec<Overlay>,
}

impl RecipeStore {
    /// The store built from the recipe data compiled into the binary (parsed once per process).
    pub fn embedded() -> Result<Arc<RecipeStore>, LoadError> {
        static STORE: OnceLock<Result<Arc<RecipeStore>, LoadError>> = OnceLock::new();
        STORE
            .get_or_init(|| {
                let files = embedded::FILES
                    .iter()
                    .map(|(path, text)| (format!("<embedded>/{path}"), (*path).to_owned(), *text));
                Self::from_files(files, "<embedded>").map(Arc::new)
            })
            .clone()
    }

    /// A store from a directory of recipe YAML files, validated in full: `base.yaml` at its root
    /// and overlay files (`*.yaml`, `*.yml`) at any depth below it, applied in path order. Hidden
    /// files and directories (`.git`, `.github` …) and other files are ignored; links to
    /// directories are not followed (each is logged as a warning). A recipe file that is not a
    /// regular file (a FIFO, a device) or is larger than [`MAX_FILE_BYTES`] is refused.
    pub fn load_dir(dir: &Path) -> Result<RecipeStore, LoadError> {
        let files = read_dir_files(dir, None)?;
        Self::from_files(
            files
                .iter()
                .map(|(shown, rel, text)| (shown.clone(), rel.clone(), text.as_str())),
            &dir.display().to_string(),
        )
    }

    /// This store's data with overlay layers on top, in order (a later layer wins over an earlier
    /// one). Each layer is a directory read as [`RecipeStore::load_dir`] reads one (same files,
    /// same limits, same checks) with two differences: its `base.yaml` is optional, and holds
    /// values for every node, applied on top of the data below before any keyed overlay; and its
    /// overlay keys need only be unique within the layer.
    ///
    /// Values are applied from the least to the most specific key, whatever their layer; between
    /// keys of equal specificity, the later layer wins (and within a layer, the later file). A
    /// layer's rules and value sources name its files by their full path, so a recipe's
    /// `matchedRules` and a validation report's sources tell the layers apart.
    pub fn with_layers<P: AsRef<Path>>(&self, layers: &[P]) -> Result<RecipeStore, LoadError> {
        self.layered(layers.iter().map(AsRef::as_ref), None)
    }

    /// This store's data with one overlay layer on top, read as [`RecipeStore::with_layers`]
    /// reads one, except that `check` is asked about every folder the layer's recipe files sit in
    /// (the layer's root, and each folder between it and a file) and about every recipe file,
    /// before anything is read from it. The first refusal fails the whole layer, naming the file
    /// or folder: a layer with some of its files left out could set different values than its
    /// author wrote (an overlay missing, a less specific value winning).
    pub fn with_checked_layer(
        &self,
        dir: &Path,
        check: &dyn Fn(&Path, LayerEntry) -> Result<(), String>,
    ) -> Result<RecipeStore, LoadError> {
        self.layered(std::iter::once(dir), Some(check))
    }

    fn layered<'p>(
        &self,
        layers: impl Iterator<Item = &'p Path>,
        check: Option<EntryCheck<'_>>,
    ) -> Result<RecipeStore, LoadError> {
        let mut overlays = self.overlays.clone();
        for dir in layers {
            let files = read_dir_files(dir, check)?;
            let parsed = parse_files(
                files
                    .iter()
                    .map(|(shown, rel, text)| (shown.clone(), rel.clone(), text.as_str())),
                Naming::FullPath,
            )?;
            if let Some(base) = parsed.base {
                let file = dir.join(BASE_FILE).display().to_string();
                overlays.push(Overlay {
                    key: OverlayKey::always(),
                    rule: format!("every node ({file})"),
                    source: file,
                    measurements: base,
                });
            }
            overlays.extend(parsed.overlays);
        }
        // Stable: equal specificity keeps the order built above, layer by layer, file by file.
        overlays.sort_by_key(|o| o.key.specificity());
        Ok(RecipeStore {
            base: self.base.clone(),
            overlays,
        })
    }

    /// Loads from (name shown in errors, path relative to the data root, text), in apply order.
    pub(crate) fn from_files<'t>(
        files: impl IntoIterator<Item = (String, String, &'t str)>,
        root: &str,
    ) -> Result<RecipeStore, LoadError> {
        let parsed = parse_files(files, Naming::Relative)?;
        let base = parsed.base.ok_or_else(|| LoadError {
            file: root.to_owned(),
            reason: format!("no {BASE_FILE}: a recipe directory needs a {BASE_FILE} at its root"),
        })?;
        let mut overlays = parsed.overlays;
        // Stable: equal specificity keeps file order.
        overlays.sort_by_key(|o| o.key.specificity());
        Ok(RecipeStore { base, overlays })
    }

    /// The recipe for `query`. A query that has not been validated (one deserialized from JSON)
    /// has its valid fields normalized; a value that does not parse is kept as given and matches no
    /// overlay. Call [`Query::validated`] first to reject such queries instead.
    pub fn build(&self, query: &Query) -> Recipe {
        let request = query.clone().normalized_leniently();
        let parsed = ParsedQuery::new(&request);
        let with_context = request.context;
        let mut measurements = merge::copy_base(&self.base, with_context);
        let mut matched_rules = Vec::new();
        for overlay in &self.overlays {
            if overlay.key.matches(&parsed) {
                merge::merge(&mut measurements, &overlay.measurements, with_context);
                matched_rules.push(overlay.rule.clone());
            }
        }
        Recipe {
            payload_version: PAYLOAD_VERSION.to_owned(),
            builder_version: env!("CARGO_PKG_VERSION").to_owned(),
            generated_at: timestamp::now_rfc3339(),
            request,
            matched_rules,
            measurements,
        }
    }

    /// Which file and rule set each value of the recipe for `query` (as [`RecipeStore::build`]
    /// merges them): `base.yaml`, or `FILE (KEY)` of the last overlay that set it.
    pub fn provenance(&self, query: &Query) -> Provenance {
        let request = query.clone().normalized_leniently();
        let parsed = ParsedQuery::new(&request);
        let mut provenance = Provenance::default();
        provenance.record(&self.base, BASE_FILE);
        for overlay in &self.overlays {
            if overlay.key.matches(&parsed) {
                provenance.record(&overlay.measurements, &overlay.source);
            }
        }
        provenance
    }

    /// How many overlays the store holds.
    pub fn overlay_count(&self) -> usize {
        self.overlays.len()
    }

    /// The `matchedRules` line of every overlay, in the order they apply.
    pub fn rules(&self) -> impl Iterator<Item = &str> {
        self.overlays.iter().map(|o| o.rule.as_str())
    }
}

/// What a layer's check (see [`RecipeStore::with_checked_layer`]) is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerEntry {
    /// A folder holding recipe files (or the layer's root).
    Folder,
    /// A recipe file (possibly a link to one), before it is opened.
    File,
}

/// A check asked about a layer's folders and files; `Err` says why one may not be read.
type EntryCheck<'a> = &'a dyn Fn(&Path, LayerEntry) -> Result<(), String>;

/// Reads the recipe files below `dir` (see [`RecipeStore::load_dir`]). With a `check`, it is
/// asked about the root, every folder on the way to a recipe file (each once) and each recipe
/// file, before any file is read.
fn read_dir_files(dir: &Path, check: Option<EntryCheck<'_>>) -> Result<DirFiles, LoadError> {
    let refused = |path: &Path, reason: String| LoadError {
        file: path.display().to_string(),
        reason,
    };
    let found = walk::recipe_files(dir).map_err(|e| LoadError {
        file: e.path.display().to_string(),
        reason: e.reason,
    })?;
    if let Some(check) = check {
        check(dir, LayerEntry::Folder).map_err(|r| refused(dir, r))?;
        let mut checked = std::collections::HashSet::new();
        for file in &found.files {
            // The folders between the root (checked above) and the file, outermost first.
            let mut folders: Vec<&Path> = file
                .path
                .ancestors()
                .skip(1)
                .take_while(|a| *a != dir && a.starts_with(dir))
                .collect();
            folders.reverse();
            for folder in folders {
                if checked.insert(folder.to_path_buf()) {
                    check(folder, LayerEntry::Folder).map_err(|r| refused(folder, r))?;
                }
            }
            check(&file.path, LayerEntry::File).map_err(|r| refused(&file.path, r))?;
        }
    }
    for link in &found.skipped_links {
        tracing::warn!(
            link = %link.display(),
            "recipe data: not following a link to a directory"
        );
    }
    let mut files = Vec::with_capacity(found.files.len());
    for file in found.files {
        let text = read_recipe_file(&file.path).map_err(|reason| LoadError {
            file: file.path.display().to_string(),
            reason,
        })?;
        files.push((file.path.display().to_string(), file.rel, text));
    }
    Ok(files)
}

/// How rules and value sources name a file.
#[derive(Clone, Copy)]
enum Naming {
    /// By its path relative to the data root (`overlays/gpu.yaml`): the data in use.
    Relative,
    /// By its full path: an overlay layer, so that it cannot be mistaken for the data below.
    FullPath,
}

/// Parses one layer's files: (name shown in errors, path relative to the layer's root, text).
/// Two overlays with the same key are an error.
fn parse_files<'t>(
    files: impl IntoIterator<Item = (String, String, &'t str)>,
    naming: Naming,
) -> Result<ParsedFiles, LoadError> {
    let mut base = None;
    let mut overlays: Vec<Overlay> = Vec::new();
    // Every key seen so far and the file it came from: duplicates are found in linear time.
    let mut keys: HashMap<OverlayKey, String> = HashMap::new();
    for (shown, rel, text) in files {
        let fail = |reason: String| LoadError {
            file: shown.clone(),
            reason,
        };
        if text.len() > MAX_FILE_BYTES {
            return Err(fail(too_large()));
        }
        let name = match naming {
            Naming::Relative => &rel,
            Naming::FullPath => &shown,
        };
        if rel == BASE_FILE {
            base = Some(data::parse_base(text).map_err(fail)?);
            continue;
        }
        for overlay in data::parse_overlays(text).map_err(fail)? {
            match keys.entry(overlay.key.clone()) {
                Entry::Occupied(other) => {
                    return Err(fail(format!(
                        "two overlays have the same key {{{}}}: here and in {}",
                        overlay.key,
                        other.get()
                    )));
                }
                Entry::Vacant(slot) => {
                    slot.insert(shown.clone());
                }
            }
            overlays.push(ready(name, overlay));
        }
    }
    Ok(ParsedFiles { base, overlays })
}

/// An overlay from the file named `file`, with its rule line and value source.
fn ready(file: &str, o: OverlayData) -> Overlay {
    let mut rule = format!("{} ({file})", o.key);
    if let Some(d) = &o.description {
        rule.push_str(": ");
        rule.push_str(d.trim());
    }
    Overlay {
        source: format!("{file} ({})", o.key),
        key: o.key,
        rule,
        measurements: o.measurements,
    }
}

/// The largest recipe file loaded, in bytes. Real recipe files are a few kilobytes; this bounds
/// the memory and time one file can take.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

fn too_large() -> String {
    format!(
        "larger than {} MiB, the limit for a recipe file",
        MAX_FILE_BYTES / (1024 * 1024)
    )
}

/// Reads one recipe file, never blocking on it and never reading more than [`MAX_FILE_BYTES`]
/// (plus one byte, to tell that it is larger). The walk refused non-regular files already; the
/// file is opened without blocking and checked again through its descriptor, in case it was
/// replaced by a FIFO or a device in the meantime.
fn read_recipe_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read: {e}"))?;
    let metadata = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !metadata.is_file() {
        return Err("not a regular file: recipe files must be regular files".to_owned());
    }
    let mut bytes = Vec::with_capacity(
        usize::try_from(metadata.len())
            .unwrap_or(0)
            .min(MAX_FILE_BYTES + 1),
    );
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::Reading;

    fn query(pairs: &[(&str, &str)]) -> Query {
        Query::from_pairs(pairs.iter().copied()).unwrap()
    }

    /// Writes `files` (relative path, text) into a fresh directory.
    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const BASE: &str = "measurements:\n  - type: os\n    subtypes:\n      - subtype: sysctl\n        data: {a: \"1\", b: \"1\"}\n        context: {a: base a, b: base b}\n";

    fn overlay(key: &str, value: &str) -> String {
        format!(
            "  - key: {{{key}}}\n    measurements:\n      - type: os\n        subtypes:\n          - subtype: sysctl\n            data: {{a: \"{value}\"}}\n            context: {{a: set by {value}}}\n"
        )
    }

    fn value_of_a(recipe: &Recipe) -> &Reading {
        &recipe.measurements[0].subtypes[0].data["a"]
    }

    #[test]
    fn the_store_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<RecipeStore>();
        let store = RecipeStore::embedded().unwrap();
        let q = query(&[("gpu", "h200")]);
        let expected = store.build(&q).measurements;
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let (store, q) = (Arc::clone(&store), q.clone());
                std::thread::spawn(move || store.build(&q).measurements)
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), expected);
        }
    }

    #[test]
    fn the_embedded_data_loads_and_is_shared() {
        let one = RecipeStore::embedded().unwrap();
        let two = RecipeStore::embedded().unwrap();
        assert!(Arc::ptr_eq(&one, &two), "parsed once per process");
        assert!(one.overlay_count() > 0);
    }

    #[test]
    fn every_embedded_value_carries_a_context_line() {
        let store = RecipeStore::embedded().unwrap();
        let mut all = vec![("base.yaml".to_owned(), &store.base)];
        all.extend(
            store
                .overlays
                .iter()
                .map(|o| (o.rule.clone(), &o.measurements)),
        );
        for (source, measurements) in all {
            for m in measurements {
                for s in &m.subtypes {
                    for key in s.data.keys() {
                        assert!(
                            s.context.contains_key(key),
                            "{source}: {}/{}/{key} has no context line",
                            m.kind,
                            s.subtype
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn no_query_gives_the_base_without_context() {
        let store = RecipeStore::embedded().unwrap();
        let recipe = store.build(&Query::default());
        assert!(recipe.matched_rules.is_empty());
        assert_eq!(recipe.payload_version, PAYLOAD_VERSION);
        assert_eq!(recipe.request, Query::default());
        let mut expected = store.base.clone();
        for s in expected.iter_mut().flat_map(|m| m.subtypes.iter_mut()) {
            s.context.clear();
        }
        assert_eq!(recipe.measurements, expected);
    }

    #[test]
    fn a_typical_query_applies_overlays_and_keeps_context_when_asked() {
        let store = RecipeStore::embedded().unwrap();
        let recipe = store.build(&query(&[
            ("gpu", "h100"),
            ("service", "eks"),
            ("context", "true"),
        ]));
        assert!(
            recipe
                .matched_rules
                .iter()
                .any(|r| r.starts_with("service=eks ")),
            "{:?}",
            recipe.matched_rules
        );
        assert!(
            recipe
                .matched_rules
                .iter()
                .any(|r| r.starts_with("gpu=h100 ")),
            "{:?}",
            recipe.matched_rules
        );
        let os = recipe.measurements.iter().find(|m| m.kind == "os").unwrap();
        let kmod = os.subtype("kmod").unwrap();
        assert_eq!(kmod.data["efa"], Reading::Bool(true));
        assert!(kmod.context.contains_key("efa"));
        assert!(kmod.context.contains_key("nvidia"));
    }

    #[test]
    fn overlays_apply_least_specific_first_and_ties_in_file_order() {
        let dir = dir_with(&[
            ("base.yaml", BASE),
            (
                "a.yaml",
                &format!(
                    "overlays:\n{}{}{}",
                    overlay("gpu: h100, service: eks", "both"),
                    overlay("gpu: h100", "gpu"),
                    overlay("k8s: \">=1.30\"", "range"),
                ),
            ),
            (
                "b.yaml",
                &format!("overlays:\n{}", overlay("service: eks", "service")),
            ),
            (
                "c/nested.yaml",
                &format!("overlays:\n{}", overlay("k8s: \"1.30\"", "pinned")),
            ),
        ]);
        let store = RecipeStore::load_dir(dir.path()).unwrap();
        type Row<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a [&'a str]);
        let table: &[Row] = &[
            (&[], "1", &[]),
            (&[("gpu", "h100")], "gpu", &["gpu=h100 (a.yaml)"]),
            (
                &[("gpu", "h100"), ("service", "eks")],
                "both",
                &[
                    "gpu=h100 (a.yaml)",
                    "service=eks (b.yaml)",
                    "service=eks, gpu=h100 (a.yaml)",
                ],
            ),
            (
                &[("service", "eks"), ("context", "1")],
                "service",
                &["service=eks (b.yaml)"],
            ),
            (&[("k8s", "1.31.2")], "range", &["k8s=(>=1.30) (a.yaml)"]),
            (
                &[("k8s", "1.30.2")],
                "pinned",
                &["k8s=(>=1.30) (a.yaml)", "k8s=1.30 (c/nested.yaml)"],
            ),
        ];
        for (pairs, winner, rules) in table {
            let recipe = store.build(&query(pairs));
            assert_eq!(
                value_of_a(&recipe),
                &Reading::Str((*winner).into()),
                "{pairs:?}"
            );
            assert_eq!(&recipe.matched_rules, rules, "{pairs:?}");
            let sysctl = &recipe.measurements[0].subtypes[0];
            if recipe.request.context {
                assert_eq!(sysctl.context["a"], format!("set by {winner}"));
                assert_eq!(sysctl.context["b"], "base b");
            } else {
                assert!(sysctl.context.is_empty(), "{pairs:?}");
            }
        }
    }

    #[test]
    fn hidden_entries_and_other_files_are_ignored() {
        let dir = dir_with(&[
            ("base.yaml", BASE),
            (".github/workflows/check.yml", "on: push\n"),
            (".draft.yaml", "not: an overlay file\n"),
            ("README.md", "# our recipes\n"),
            (
                "sites/a.yml",
                &format!("overlays:\n{}", overlay("gpu: h100", "a")),
            ),
        ]);
        let store = RecipeStore::load_dir(dir.path()).unwrap();
        assert_eq!(
            store.rules().collect::<Vec<_>>(),
            ["gpu=h100 (sites/a.yml)"]
        );
    }

    #[test]
    fn loading_errors_name_the_file_and_the_reason() {
        type Row<'a> = (Vec<(&'a str, String)>, &'a str, &'a str);
        let table: Vec<Row> = vec![
            (vec![("x.yaml", "overlays: []".into())], "", "no base.yaml"),
            (
                vec![("base.yaml", "measurements: [".into())],
                "base.yaml",
                "malformed YAML",
            ),
            (
                vec![(
                    "base.yaml",
                    "measurements:\n  - type: disk/0\n    subtypes: []\n".into(),
                )],
                "base.yaml",
                "invalid measurement type \"disk/0\"",
            ),
            (
                vec![
                    ("base.yaml", BASE.into()),
                    (
                        "a.yaml",
                        format!("overlays:\n{}", overlay("gpu: h100, service: eks", "x")),
                    ),
                    (
                        "b.yaml",
                        format!("overlays:\n{}", overlay("service: EKS, gpu: H100", "y")),
                    ),
                ],
                "b.yaml",
                "two overlays have the same key {service=eks, gpu=h100}: here and in",
            ),
            (
                vec![
                    ("base.yaml", BASE.into()),
                    (
                        "a.yaml",
                        format!("overlays:\n{}", overlay("k8s: \"1.a\"", "x")),
                    ),
                ],
                "a.yaml",
                "kubernetes version has a non-numeric component",
            ),
            (
                vec![
                    ("base.yaml", BASE.into()),
                    (
                        "a.yaml",
                        format!("overlays:\n{}", overlay("os: windows", "x")),
                    ),
                ],
                "a.yaml",
                "unknown value \"windows\": expected one of ubuntu",
            ),
        ];
        for (files, file, reason) in table {
            let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
            let dir = dir_with(&files);
            let err = RecipeStore::load_dir(dir.path()).unwrap_err();
            assert!(err.file.ends_with(file), "{files:?}: {err}");
            assert!(err.reason.contains(reason), "{files:?}: {err}");
        }
        let missing = RecipeStore::load_dir(Path::new("/nonexistent/recipes")).unwrap_err();
        assert_eq!(missing.file, "/nonexistent/recipes");
        assert!(
            missing
                .reason
                .starts_with("cannot read the recipe directory: "),
            "{missing}"
        );
        let file = dir_with(&[("base.yaml", BASE)]);
        let err = RecipeStore::load_dir(&file.path().join("base.yaml")).unwrap_err();
        assert_eq!(err.reason, "not a directory");
    }

    /// A FIFO, a socket or a link to a FIFO named like a recipe file is refused by name before
    /// anything opens it (opening a FIFO blocks until a writer comes: `eidos recipe` hung). A
    /// FIFO under another name is ignored like any other file.
    #[test]
    fn non_regular_recipe_files_are_refused_without_being_opened() {
        fn fifo(path: &Path) {
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(
                unsafe { libc::mkfifo(c.as_ptr(), 0o644) },
                0,
                "mkfifo {path:?}"
            );
        }
        let dir = dir_with(&[("base.yaml", BASE)]);
        fifo(&dir.path().join("notes.txt"));
        RecipeStore::load_dir(dir.path()).expect("a FIFO that is no recipe file is ignored");
        fifo(&dir.path().join("site.yaml"));
        let err = load_with_watchdog(dir.path()).unwrap_err();
        assert!(err.file.ends_with("/site.yaml"), "{err}");
        assert_eq!(err.reason, "is a FIFO: recipe files must be regular files");

        let dir = dir_with(&[("base.yaml", BASE)]);
        let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock.yml")).unwrap();
        let err = load_with_watchdog(dir.path()).unwrap_err();
        assert_eq!(
            err.reason, "is a socket: recipe files must be regular files",
            "{err}"
        );

        let dir = dir_with(&[("base.yaml", BASE)]);
        fifo(&dir.path().join(".hidden-fifo"));
        std::os::unix::fs::symlink(
            dir.path().join(".hidden-fifo"),
            dir.path().join("linked.yaml"),
        )
        .unwrap();
        let err = load_with_watchdog(dir.path()).unwrap_err();
        assert!(err.file.ends_with("/linked.yaml"), "{err}");
        assert_eq!(
            err.reason,
            "links to a FIFO: recipe files must be regular files"
        );
    }

    /// Loads `dir` on another thread and fails the test (instead of hanging) if that takes more
    /// than a minute.
    fn load_with_watchdog(dir: &Path) -> Result<RecipeStore, LoadError> {
        let (tx, rx) = std::sync::mpsc::channel();
        let dir = dir.to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(RecipeStore::load_dir(&dir));
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("loading the recipe directory blocked")
    }

    /// Even a FIFO that the walk saw as a regular file (replaced in between) does not block the
    /// read: it is opened without blocking and refused through its descriptor.
    #[test]
    fn reading_never_blocks_on_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.yaml");
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(read_recipe_file(&path));
        });
        let result = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("reading a FIFO blocked");
        assert_eq!(
            result.unwrap_err(),
            "not a regular file: recipe files must be regular files"
        );
    }

    #[test]
    fn a_recipe_file_over_the_size_limit_is_refused_naming_the_limit() {
        let big = format!("{BASE}# {}\n", "x".repeat(MAX_FILE_BYTES));
        let dir = dir_with(&[("base.yaml", BASE), ("big.yaml", &big)]);
        let err = RecipeStore::load_dir(dir.path()).unwrap_err();
        assert!(err.file.ends_with("/big.yaml"), "{err}");
        assert_eq!(err.reason, "larger than 4 MiB, the limit for a recipe file");
        let at_limit = format!("overlays: []\n#{}\n", "x".repeat(MAX_FILE_BYTES - 15));
        assert_eq!(at_limit.len(), MAX_FILE_BYTES);
        let dir = dir_with(&[("base.yaml", BASE), ("full.yaml", &at_limit)]);
        RecipeStore::load_dir(dir.path()).expect("a file of exactly the limit loads");
        // Text that did not come from a file (the embedded data) is held to the same limit.
        let err = RecipeStore::from_files(
            [("big".to_owned(), BASE_FILE.to_owned(), big.as_str())],
            "test",
        )
        .unwrap_err();
        assert_eq!(err.file, "big");
    }

    /// A link loop and links to directories are not followed (so they cost nothing), and the
    /// store still loads what is really there.
    #[test]
    fn links_to_directories_are_not_followed() {
        let dir = dir_with(&[
            ("base.yaml", BASE),
            (
                "sites/a.yaml",
                &format!("overlays:\n{}", overlay("gpu: h100", "a")),
            ),
        ]);
        std::os::unix::fs::symlink(dir.path(), dir.path().join("sites/loop")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("sites"), dir.path().join("again")).unwrap();
        let store = RecipeStore::load_dir(dir.path()).unwrap();
        assert_eq!(
            store.rules().collect::<Vec<_>>(),
            ["gpu=h100 (sites/a.yaml)"]
        );
        let found = walk::recipe_files(dir.path()).unwrap();
        let mut skipped = found.skipped_links.clone();
        skipped.sort();
        assert_eq!(
            skipped,
            [dir.path().join("again"), dir.path().join("sites/loop")]
        );
    }

    /// 10 links a level, 8 levels, each to the next level's directory: following them meant
    /// 10^8 paths (over a minute). Each real file is read once.
    #[test]
    fn a_fan_out_of_directory_links_reads_each_file_once() {
        let root = dir_with(&[("base.yaml", BASE)]);
        for level in 0..=8 {
            let dir = root.path().join(format!("level{level}"));
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(
                dir.join("o.yaml"),
                format!(
                    "overlays:\n{}",
                    overlay(&format!("k8s: \"1.{level}\""), "x")
                ),
            )
            .unwrap();
        }
        for level in 0..8 {
            for link in 0..10 {
                std::os::unix::fs::symlink(
                    root.path().join(format!("level{}", level + 1)),
                    root.path().join(format!("level{level}/next{link}")),
                )
                .unwrap();
            }
        }
        let found = walk::recipe_files(root.path()).unwrap();
        assert_eq!(found.files.len(), 10, "base.yaml and one file a level");
        assert_eq!(found.skipped_links.len(), 80);
        let store = RecipeStore::load_dir(root.path()).unwrap();
        assert_eq!(store.overlay_count(), 9);
    }

    /// "At any depth": 20 directories deep loads (more than 8 levels used to be refused).
    #[test]
    fn a_tree_twenty_directories_deep_loads() {
        let deep = format!("{}/deep.yaml", vec!["d"; 20].join("/"));
        let dir = dir_with(&[
            ("base.yaml", BASE),
            (
                &deep,
                &format!("overlays:\n{}", overlay("gpu: h100", "deep")),
            ),
        ]);
        let store = RecipeStore::load_dir(dir.path()).unwrap();
        assert_eq!(
            store.rules().collect::<Vec<_>>(),
            [format!("gpu=h100 ({deep})")]
        );
    }

    /// Links to regular files are read (a Kubernetes ConfigMap volume is made of links into a
    /// hidden directory), and take the link's own path.
    #[test]
    fn links_to_files_are_read_under_their_own_name() {
        let dir = dir_with(&[
            ("..data/base.yaml", BASE),
            (
                "..data/site.yaml",
                &format!("overlays:\n{}", overlay("gpu: h100", "a")),
            ),
        ]);
        for name in ["base.yaml", "site.yaml"] {
            std::os::unix::fs::symlink(dir.path().join("..data").join(name), dir.path().join(name))
                .unwrap();
        }
        let store = RecipeStore::load_dir(dir.path()).unwrap();
        assert_eq!(store.rules().collect::<Vec<_>>(), ["gpu=h100 (site.yaml)"]);
    }

    #[test]
    fn an_unvalidated_query_is_normalized_or_matches_nothing() {
        let store = RecipeStore::embedded().unwrap();
        let raw: Query = serde_json::from_str(r#"{"gpu":"H100","k8s":"x.y"}"#).unwrap();
        let recipe = store.build(&raw);
        assert_eq!(recipe.request.gpu.as_deref(), Some("h100"));
        assert_eq!(recipe.request.k8s.as_deref(), Some("x.y"), "kept as given");
        assert!(recipe.matched_rules.iter().all(|r| !r.contains("k8s")));
        let raw: Query = serde_json::from_str(r#"{"gpu":"h900"}"#).unwrap();
        assert!(
            store.build(&raw).matched_rules.is_empty(),
            "an unknown gpu matches nothing"
        );
        let raw: Query = serde_json::from_str(r#"{"gpu":"H100"}"#).unwrap();
        let recipe = store.build(&raw);
        assert_eq!(recipe.request.gpu.as_deref(), Some("h100"));
        assert!(!recipe.matched_rules.is_empty());
    }

    /// The built-in data covers what the issue asks for: each of these queries applies an
    /// overlay whose key names exactly these values, and changes the recipe.
    #[test]
    fn the_built_in_data_has_overlays_for_each_service_gpu_release_and_intent() {
        let store = RecipeStore::embedded().unwrap();
        let base = store.build(&Query::default());
        let table: &[(&[(&str, &str)], &str)] = &[
            (&[("service", "eks")], "service=eks "),
            (&[("service", "gke")], "service=gke "),
            (&[("service", "aks")], "service=aks "),
            (&[("service", "oke")], "service=oke "),
            (&[("service", "self-managed")], "service=self-managed "),
            (&[("gpu", "h100")], "gpu=h100 "),
            (&[("gpu", "h200")], "gpu=h200 "),
            (&[("gpu", "gb200")], "gpu=gb200 "),
            (&[("gpu", "b200")], "gpu=b200 "),
            (&[("gpu", "a100")], "gpu=a100 "),
            (&[("gpu", "l40s")], "gpu=l40s "),
            (&[("gpu", "l4")], "gpu=l4 "),
            (
                &[("os", "ubuntu"), ("osv", "22.04")],
                "os=ubuntu, osv=22.04 ",
            ),
            (
                &[("os", "ubuntu"), ("osv", "24.04")],
                "os=ubuntu, osv=24.04 ",
            ),
            (&[("intent", "training")], "intent=training "),
            (&[("intent", "inference")], "intent=inference "),
        ];
        for (pairs, rule) in table {
            let recipe = store.build(&query(pairs));
            assert!(
                recipe.matched_rules.iter().any(|r| r.starts_with(rule)),
                "{pairs:?}: {:?}",
                recipe.matched_rules
            );
            assert_ne!(
                recipe.measurements, base.measurements,
                "{pairs:?} changes nothing"
            );
        }
    }

    #[test]
    fn built_in_version_ranges_pick_the_right_overlay() {
        let store = RecipeStore::embedded().unwrap();
        let find = |recipe: &Recipe, kind: &str, sub: &str, key: &str| {
            recipe
                .measurements
                .iter()
                .find(|m| m.kind == kind)
                .and_then(|m| m.subtype(sub))
                .and_then(|s| s.data.get(key))
                .cloned()
        };
        let new_kernel = store.build(&query(&[
            ("intent", "training"),
            ("kernel", "6.8.0-1024-aws"),
        ]));
        assert_eq!(
            find(&new_kernel, "k8s", "policy", "driver.kernelModuleType"),
            Some(Reading::Str("one of [auto, open]".into()))
        );
        assert_eq!(find(&new_kernel, "os", "kmod", "nvidia_peermem"), None);
        let old_kernel = store.build(&query(&[
            ("intent", "training"),
            ("kernel", "5.4.0-1103-aws"),
        ]));
        assert_eq!(
            find(&old_kernel, "os", "kmod", "nvidia_peermem"),
            Some(Reading::Bool(true))
        );
        let k8s_131 = store.build(&query(&[("k8s", "v1.31.4-eks-1")]));
        assert!(find(&k8s_131, "os", "grub", "systemd.unified_cgroup_hierarchy").is_some());
        let k8s_130 = store.build(&query(&[("k8s", "v1.30.14-eks-3025e55")]));
        assert!(find(&k8s_130, "os", "grub", "systemd.unified_cgroup_hierarchy").is_none());
    }

    #[test]
    fn the_reference_node_gets_its_eks_h100_recipe() {
        let store = RecipeStore::embedded().unwrap();
        let q = query(&[
            ("kernel", "6.8.0-1024-aws"),
            ("service", "eks"),
            ("k8s", "v1.30.14-eks-3025e55"),
            ("gpu", "h100"),
        ]);
        let recipe = store.build(&q);
        let keys: Vec<_> = recipe
            .matched_rules
            .iter()
            .map(|r| r.split(" (").next().unwrap_or_default())
            .collect();
        // Single-field overlays first, in file order (overlays/gpu.yaml before overlays/service.yaml).
        assert_eq!(keys, ["gpu=h100", "service=eks", "service=eks, gpu=h100"]);
    }

    /// A vendor's `base.yaml` in a layer: a value for `acme-nic`, and `a` for every node.
    const VENDOR_BASE: &str = "measurements:\n  - type: acme-nic\n    subtypes:\n      - subtype: eth0\n        data: {mtu: 9000}\n  - type: OS\n    subtypes:\n      - subtype: sysctl\n        data: {a: \"vendor\"}\n";

    fn source(store: &RecipeStore, q: &Query, kind: &str, key: &str) -> String {
        let sub = if kind == "os" { "sysctl" } else { "eth0" };
        store
            .provenance(q)
            .source(&crate::validate::KeyPath::new(kind, sub, key))
            .unwrap_or_else(|| panic!("no source for {kind}/{sub}/{key}"))
            .to_owned()
    }

    #[test]
    fn layers_add_vendor_types_and_ties_go_to_the_later_layer() {
        let data = dir_with(&[
            ("base.yaml", BASE),
            (
                "o.yaml",
                &format!("overlays:\n{}", overlay("gpu: h100", "data")),
            ),
        ]);
        let first = dir_with(&[
            ("base.yaml", VENDOR_BASE),
            (
                "v.yaml",
                &format!("overlays:\n{}", overlay("gpu: h100", "first")),
            ),
        ]);
        let second = dir_with(&[(
            "sub/w.yml",
            &format!("overlays:\n{}", overlay("gpu: h100", "second")),
        )]);
        let store = RecipeStore::load_dir(data.path()).unwrap();
        let layered = store.with_layers(&[first.path(), second.path()]).unwrap();

        // No query: the data's base, then the vendor base (every node) on top.
        let q = query(&[]);
        let recipe = layered.build(&q);
        assert_eq!(value_of_a(&recipe), &Reading::Str("vendor".into()));
        let nic = recipe.measurements.iter().find(|m| m.kind == "acme-nic");
        let nic = nic.expect("the vendor type is in the recipe");
        assert_eq!(nic.subtypes[0].data["mtu"], Reading::Int(9000));
        let vendor_base = first.path().join("base.yaml").display().to_string();
        assert_eq!(source(&layered, &q, "acme-nic", "mtu"), vendor_base);
        assert_eq!(source(&layered, &q, "os", "a"), vendor_base);
        assert_eq!(source(&layered, &q, "os", "b"), "base.yaml");
        assert_eq!(
            recipe.matched_rules,
            [format!("every node ({vendor_base})")]
        );

        // Three overlays with the same key: the data's, then the first layer's, then the second's.
        let q = query(&[("gpu", "h100")]);
        let recipe = layered.build(&q);
        assert_eq!(value_of_a(&recipe), &Reading::Str("second".into()));
        let second_file = second.path().join("sub/w.yml").display().to_string();
        assert_eq!(
            source(&layered, &q, "os", "a"),
            format!("{second_file} (gpu=h100)")
        );
        let first_file = first.path().join("v.yaml").display().to_string();
        assert_eq!(
            recipe.matched_rules,
            [
                format!("every node ({vendor_base})"),
                "gpu=h100 (o.yaml)".to_owned(),
                format!("gpu=h100 ({first_file})"),
                format!("gpu=h100 ({second_file})"),
            ]
        );

        // In the other order, the first layer wins.
        let swapped = store.with_layers(&[second.path(), first.path()]).unwrap();
        assert_eq!(
            value_of_a(&swapped.build(&q)),
            &Reading::Str("first".into())
        );
        // The store below is unchanged.
        assert_eq!(value_of_a(&store.build(&q)), &Reading::Str("data".into()));
    }

    #[test]
    fn specificity_beats_layer_order() {
        let data = dir_with(&[
            ("base.yaml", BASE),
            (
                "o.yaml",
                &format!(
                    "overlays:\n{}",
                    overlay("gpu: h100, service: eks", "specific")
                ),
            ),
        ]);
        let layer = dir_with(&[
            ("base.yaml", VENDOR_BASE),
            (
                "v.yaml",
                &format!("overlays:\n{}", overlay("gpu: h100", "layer")),
            ),
        ]);
        let store = RecipeStore::load_dir(data.path())
            .unwrap()
            .with_layers(&[layer.path()])
            .unwrap();
        let q = query(&[("gpu", "h100"), ("service", "eks")]);
        assert_eq!(
            value_of_a(&store.build(&q)),
            &Reading::Str("specific".into())
        );
        assert_eq!(
            source(&store, &q, "os", "a"),
            "o.yaml (service=eks, gpu=h100)"
        );
        // A layer's keyed overlay beats the layer's (and the data's) values for every node.
        let q = query(&[("gpu", "h100")]);
        assert_eq!(value_of_a(&store.build(&q)), &Reading::Str("layer".into()));
    }

    #[test]
    fn a_checked_layer_asks_about_each_folder_once_and_each_file_before_reading() {
        let store = RecipeStore::load_dir(dir_with(&[("base.yaml", BASE)]).path()).unwrap();
        let ok = format!("overlays:\n{}", overlay("gpu: h100", "x"));
        let layer = dir_with(&[
            ("a/b/one.yaml", &ok),
            ("a/b/two.yml", &ok.replace("h100", "a100")),
            ("a/three.yaml", &ok.replace("h100", "gb200")),
            ("empty/README", "not recipe data"),
        ]);
        let root = layer.path();
        let asked = std::sync::Mutex::new(Vec::new());
        let record = |path: &Path, entry: LayerEntry| {
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            asked.lock().unwrap().push((rel, entry));
            Ok(())
        };
        let layered = store.with_checked_layer(root, &record).unwrap();
        assert_eq!(layered.overlay_count(), 3);
        use LayerEntry::{File, Folder};
        let expected: Vec<(String, LayerEntry)> = [
            ("", Folder),
            ("a", Folder),
            ("a/b", Folder),
            ("a/b/one.yaml", File),
            ("a/b/two.yml", File),
            ("a/three.yaml", File),
        ]
        .iter()
        .map(|(p, e)| (p.to_string(), *e))
        .collect();
        assert_eq!(*asked.lock().unwrap(), expected);

        // One refusal fails the whole layer, naming the file or folder and the reason.
        let refuse = |bad: &'static str| {
            move |path: &Path, _: LayerEntry| {
                if path.ends_with(bad) {
                    Err("writable by others".to_owned())
                } else {
                    Ok(())
                }
            }
        };
        for bad in ["a/b/two.yml", "a/b"] {
            let err = store.with_checked_layer(root, &refuse(bad)).unwrap_err();
            assert_eq!(err.file, root.join(bad).display().to_string());
            assert_eq!(err.reason, "writable by others");
        }
    }

    #[test]
    fn a_layer_is_checked_as_recipe_data_is() {
        let store = RecipeStore::load_dir(dir_with(&[("base.yaml", BASE)]).path()).unwrap();
        let twice = format!(
            "overlays:\n{}{}",
            overlay("gpu: h100", "x"),
            overlay("gpu: h100", "y")
        );
        let too_deep = format!("overlays: {}1{}", "[".repeat(70), "]".repeat(70));
        let too_big = "#".repeat(MAX_FILE_BYTES + 1);
        let table: &[(&str, &str, &str)] = &[
            (
                "v.yaml",
                &twice,
                "two overlays have the same key {gpu=h100}",
            ),
            ("v.yaml", &too_deep, "nested more than 64 levels deep"),
            ("v.yaml", &too_big, "larger than 4 MiB"),
            (
                "v.yaml",
                "overlays:\n  - key: {}\n    measurements: []\n",
                "overlay key is empty",
            ),
            (
                "base.yaml",
                "measurements:\n  - type: acme/nic\n    subtypes: []\n",
                "invalid measurement type",
            ),
            ("base.yaml", "overlays: []\n", "unknown field `overlays`"),
        ];
        for (file, text, message) in table {
            let layer = dir_with(&[(file, text)]);
            let err = store.with_layers(&[layer.path()]).unwrap_err();
            assert_eq!(err.file, layer.path().join(file).display().to_string());
            assert!(err.reason.contains(message), "{file}: {err}");
        }
        let missing = dir_with(&[]).path().join("nope");
        assert!(store.with_layers(&[missing]).is_err());
        // An empty layer adds nothing.
        let empty = dir_with(&[]);
        let layered = store.with_layers(&[empty.path()]).unwrap();
        assert_eq!(layered.overlay_count(), store.overlay_count());
    }

    proptest::proptest! {
        /// Whatever overlays exist, the value a build gives is the base's when nothing matches,
        /// else that of the matching overlay that is most specific and, among equals, written
        /// last; and matchedRules lists the matches in that order.
        #[test]
        fn the_most_specific_last_written_match_wins(
            keys in proptest::collection::vec(
                (0usize..3, 0usize..3, 0usize..4),
                1..12,
            ),
            q in (0usize..3, 0usize..3, 0usize..3),
        ) {
            const GPU: [Option<&str>; 3] = [None, Some("h100"), Some("h200")];
            const SERVICE: [Option<&str>; 3] = [None, Some("eks"), Some("gke")];
            const K8S: [Option<&str>; 4] = [None, Some("\"1.30\""), Some("\"1.30.2\""), Some("\">=1.30\"")];
            let mut text = String::from("overlays:\n");
            let mut written = Vec::new();
            for (g, s, k) in keys {
                let parts: Vec<String> = [("gpu", GPU[g]), ("service", SERVICE[s]), ("k8s", K8S[k])]
                    .iter()
                    .filter_map(|(f, v)| v.map(|v| format!("{f}: {v}")))
                    .collect();
                if parts.is_empty() || written.contains(&parts) {
                    continue;
                }
                text.push_str(&overlay(&parts.join(", "), &format!("o{}", written.len())));
                written.push(parts);
            }
            proptest::prop_assume!(!written.is_empty());
            let store = RecipeStore::from_files(
                [
                    ("base".to_owned(), BASE_FILE.to_owned(), BASE),
                    ("o".to_owned(), "o.yaml".to_owned(), text.as_str()),
                ],
                "test",
            )
            .unwrap();
            let query_k8s = ["1.30.2", "1.31", "1.29.9"][q.2];
            let mut pairs = vec![("k8s", query_k8s)];
            pairs.extend(GPU[q.0].map(|g| ("gpu", g)));
            pairs.extend(SERVICE[q.1].map(|s| ("service", s)));
            let query = Query::from_pairs(pairs).unwrap();
            let parsed = ParsedQuery::new(&query);

            // The model: the overlays in written order (index), those that match, sorted by
            // (specificity, index); the last one wins.
            let raw = data::parse_overlays(&text).unwrap();
            let mut matching: Vec<(usize, &OverlayData)> =
                raw.iter().enumerate().filter(|(_, o)| o.key.matches(&parsed)).collect();
            matching.sort_by_key(|(i, o)| (o.key.specificity(), *i));
            let expected_value = matching
                .last()
                .map_or("1".to_owned(), |(i, _)| format!("o{i}"));
            let expected_rules: Vec<String> =
                matching.iter().map(|(_, o)| format!("{} (o.yaml)", o.key)).collect();

            let recipe = store.build(&query);
            proptest::prop_assert_eq!(value_of_a(&recipe), &Reading::Str(expected_value));
            proptest::prop_assert_eq!(recipe.matched_rules, expected_rules);
        }
    }
}

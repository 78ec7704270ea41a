//! `eidos redact` and `eidos snapshot --redact`: a snapshot that can leave the site.
//!
//! The engine (detectors, pseudonyms, the mapping) is `eidos_snapshots::redact`; this module reads
//! the inputs, gathers the collectors' declared sensitive keys from their manifests, and writes
//! the document (through the serializers) and the mapping (0600, atomically, never to standard
//! output).

use super::recipe::{output_error, read_snapshot};
use super::Context;
use crate::error::{CliError, CliResult};
use crate::host::output;
use crate::host::registry::Registry;
use crate::input::{read_capped, SNAPSHOT_MAX_BYTES};
use crate::usage_error;
use anyhow::Context as _;
use clap::Args;
use eidos_plugin_api::{PluginKind, Snapshot};
use eidos_snapshots::redact::{self, Mapping, RedactKey, Rules};
use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// What `eidos redact --help` ends with.
pub const AFTER_HELP: &str = "\
Without --redact-key each run uses a fresh random key: its pseudonyms match no other run's. Give
the same key (or EIDOS_REDACT_KEY, which keeps it out of process listings) on every node whose
redacted snapshots are to be compared.

Examples:
  eidos redact node.yaml -o node-redacted.yaml --redact-map node.map.json
  eidos snapshot --redact -o node-redacted.yaml
  eidos redact --reverse --redact-map node.map.json node-redacted.yaml";

/// Redaction options shared by `eidos snapshot --redact` and `eidos redact`.
#[derive(Debug, Args, Clone, Default)]
pub struct RedactOptions {
    /// Secret that keys the pseudonyms: the same key gives the same pseudonyms on every node and
    /// in every run (default: a random key per run) [env: EIDOS_REDACT_KEY].
    #[arg(
        long,
        value_name = "SECRET",
        env = "EIDOS_REDACT_KEY",
        hide_env_values = true
    )]
    pub redact_key: Option<String>,
    /// Leave the readings matching TYPE/SUBTYPE/KEY (`*` matches any run) exactly as they are
    /// (repeatable), e.g. 'k8s/image/*'.
    #[arg(long, value_name = "PATTERN")]
    pub redact_keep: Vec<String>,
    /// Also replace the whole value of the readings matching TYPE/SUBTYPE/KEY (repeatable), e.g.
    /// 'k8s/node/nvidia.com/gpu.machine'. Wins over --redact-keep.
    #[arg(long, value_name = "PATTERN")]
    pub redact_also: Vec<String>,
    /// Write the mapping (pseudonym → original) to FILE, created with mode 0600 and replaced
    /// atomically; never to standard output, the input or the --output file. Keep it on site: it
    /// undoes the redaction.
    #[arg(long, value_name = "FILE")]
    pub redact_map: Option<PathBuf>,
}

impl RedactOptions {
    /// Whether an option that only means something with `--redact` was given.
    pub fn any_pattern_or_map(&self) -> bool {
        !self.redact_keep.is_empty() || !self.redact_also.is_empty() || self.redact_map.is_some()
    }
}

/// What `eidos redact` does, in its help.
pub const ABOUT: &str = "Write a snapshot that can leave the site: host names, addresses, UUIDs, serials and secrets replaced by consistent pseudonyms (or, with --reverse, restore one from its map)";

/// `eidos redact`.
#[derive(Debug, Args)]
#[command(about = ABOUT, long_about = None)]
pub struct RedactArgs {
    /// The snapshot (YAML or JSON, eidos's or the Go tool's); `-` reads standard input.
    #[arg(value_name = "FILE|-")]
    pub input: PathBuf,
    /// How to redact.
    #[command(flatten)]
    pub options: RedactOptions,
    /// Restore the original document from a redacted one and the --redact-map written with it.
    #[arg(long, requires = "redact_map", conflicts_with_all = ["redact_key", "redact_keep", "redact_also"])]
    pub reverse: bool,
    /// Output format, by the names serializer plugins declare [env: EIDOS_FORMAT] (default: by
    /// --output's extension (.json, .yaml, .yml), else the config file's format, else yaml).
    #[arg(long, short = 'f')]
    pub format: Option<String>,
    /// Write to FILE instead of standard output (a regular file is replaced atomically; a device
    /// or FIFO is written in place).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The largest mapping file `--reverse` reads (a map holds each original once; 64 MiB as for
/// snapshots).
const MAP_MAX_BYTES: u64 = SNAPSHOT_MAX_BYTES;

/// Runs `eidos redact`.
pub fn run(ctx: &Context, args: &RedactArgs) -> CliResult {
    // Before anything is read: a map written over the input or the output would destroy it, and
    // a restored document written over the map would lose it.
    if let Some(map) = &args.options.redact_map {
        match args.output.as_deref() {
            Some(out) if args.reverse && same_file(map, out) => {
                return Err(usage_error!(
                    "--output {} is the redaction map being read: name another file",
                    out.display()
                ))
            }
            _ if args.reverse => {}
            output => check_map_path(map, Some(&args.input), output)?,
        }
    }
    let mut registry = ctx.registry()?;
    let format = ctx.output_format(&mut registry, args.output.as_deref())?;
    let snapshot = read_snapshot(&args.input)?;
    let document = if args.reverse {
        // clap makes --reverse require --redact-map.
        let Some(map_path) = &args.options.redact_map else {
            return Err(usage_error!("--reverse needs --redact-map FILE"));
        };
        let bytes =
            read_capped(map_path, MAP_MAX_BYTES, "the redaction map").map_err(CliError::usage)?;
        let mapping = Mapping::parse(&bytes)
            .with_context(|| format!("{}", map_path.display()))
            .map_err(CliError::usage)?;
        redact::reverse(&snapshot, &mapping)
            .with_context(|| format!("cannot restore {}", shown(&args.input)))
            .map_err(CliError::usage)?
    } else {
        let out = apply(
            &mut registry,
            &snapshot,
            &args.options,
            Some(&args.input),
            args.output.as_deref(),
        )?;
        out.snapshot
    };
    let document = serde_json::to_value(&document)
        .context("encoding the snapshot")
        .map_err(CliError::runtime)?;
    let bytes = output::render(&mut registry, document, &format, args.output.as_deref())
        .map_err(output_error)?;
    output::emit(&bytes, args.output.as_deref()).map_err(output_error)
}

fn shown(path: &Path) -> String {
    if path == Path::new("-") {
        "(standard input)".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Redacts `snapshot` (read from `input`, if from a file or `-`) with `options` and writes the
/// mapping where `--redact-map` says (before the document is written to `output`, so that no
/// redacted document exists whose map could not be kept).
pub fn apply(
    registry: &mut Registry,
    snapshot: &Snapshot,
    options: &RedactOptions,
    input: Option<&Path>,
    output: Option<&Path>,
) -> CliResult<redact::Redacted> {
    if let Some(map) = &options.redact_map {
        check_map_path(map, input, output)?;
    }
    let key = match &options.redact_key {
        Some(secret) => RedactKey::given(secret).map_err(CliError::usage)?,
        None => RedactKey::random(),
    };
    let rules = rules(registry, snapshot, options)?;
    let started = std::time::Instant::now();
    let out = redact::redact(snapshot, &rules, &key);
    tracing::debug!(
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        pseudonyms = out.mapping.entries.len(),
        "redacted"
    );
    if let Some(map) = &options.redact_map {
        write_private(map, &out.mapping.to_json())
            .with_context(|| format!("cannot write the redaction map {}", map.display()))
            .map_err(CliError::runtime)?;
    }
    Ok(out)
}

/// The rules: the sensitive keys the document's collectors declare (by the names in its metadata
/// and its measurement types, for snapshots of the Go tool), and the operator's patterns.
fn rules(
    registry: &mut Registry,
    snapshot: &Snapshot,
    options: &RedactOptions,
) -> CliResult<Rules> {
    let mut names: BTreeSet<String> = snapshot.metadata.collectors.keys().cloned().collect();
    names.extend(
        snapshot
            .measurements
            .iter()
            .map(|m| m.kind.to_ascii_lowercase()),
    );
    let mut declared = Vec::new();
    for name in names {
        match registry.manifest(PluginKind::Collector, &name) {
            Some(Ok(manifest)) => declared.push((name, manifest.sensitive_keys)),
            Some(Err(e)) => {
                tracing::warn!("collector {name}: its sensitive keys are unknown ({e}); the detectors still run")
            }
            None => tracing::debug!(
                "no collector {name} installed: only the detectors and --redact-also cover its readings"
            ),
        }
    }
    Rules::new(
        declared.iter().map(|(n, k)| (n.as_str(), k.as_slice())),
        &options.redact_also,
        &options.redact_keep,
    )
    .map_err(CliError::usage)
}

/// Refuses a `--redact-map` that would overwrite the snapshot being redacted (`input`, standard
/// input for `-`) or the document being written (`output`, standard output when absent), or that
/// is no regular file: the map is written first, so either mistake would destroy the document.
pub fn check_map_path(map: &Path, input: Option<&Path>, output: Option<&Path>) -> CliResult {
    check_map_target(map)?;
    if let Some(input) = input {
        let same = if input == Path::new("-") {
            std::fs::metadata(map)
                .is_ok_and(|meta| same_stat(rustix::fs::fstat(std::io::stdin()), &meta))
        } else {
            same_file(map, input)
        };
        if same {
            return Err(usage_error!(
                "--redact-map {} is the snapshot being redacted: writing the map would destroy \
                 it; name a file of its own",
                map.display()
            ));
        }
    }
    if let Some(output) = output.filter(|o| *o != Path::new("-")) {
        if same_file(map, output) {
            return Err(usage_error!(
                "--redact-map and --output name the same file {}: name a file of its own for the map",
                map.display()
            ));
        }
    }
    Ok(())
}

/// Whether `a` and `b` are one file: by device and inode where both exist (hard links, symbolic
/// links and `./` spellings included), else by their paths with the folder resolved.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return x.dev() == y.dev() && x.ino() == y.ino();
    }
    a == b || resolved(a).is_some_and(|x| resolved(b).is_some_and(|y| x == y))
}

/// `path` with its folder made canonical (the file itself need not exist).
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(path.file_name()?))
}

/// Whether `stat` (of an open stream) is the file `meta` describes.
fn same_stat(stat: rustix::io::Result<rustix::fs::Stat>, meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    stat.is_ok_and(|st| st.st_dev == meta.dev() && st.st_ino == meta.ino())
}

/// The map goes to a regular file only: `-`, a device (`/dev/stdout`), a FIFO or a directory are
/// refused, so the originals never reach a terminal or a pipe by mistake.
fn check_map_target(path: &Path) -> CliResult {
    if path == Path::new("-") {
        return Err(usage_error!(
            "--redact-map cannot be standard output: the map holds every original value; name a file"
        ));
    }
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => Err(usage_error!(
            "--redact-map {} is not a regular file: the map is only written to a file (mode 0600)",
            path.display()
        )),
        // `/dev/stdout`, `/proc/self/fd/1` and the like, when standard output is a file.
        Ok(meta) if is_standard_stream(&meta) => Err(usage_error!(
            "--redact-map {} is standard output or standard error: the map holds every original \
             value; name a file of its own",
            path.display()
        )),
        _ => Ok(()),
    }
}

/// Whether `meta` describes the file standard output or standard error is.
fn is_standard_stream(meta: &std::fs::Metadata) -> bool {
    same_stat(rustix::fs::fstat(std::io::stdout()), meta)
        || same_stat(rustix::fs::fstat(std::io::stderr()), meta)
}

/// Writes `bytes` to a new file with mode 0600 in `path`'s directory, then renames it over `path`.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".eidos-map-")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_map_is_private_and_replaces_an_old_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.json");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"{}\n").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_map_never_goes_to_standard_output_or_a_device() {
        for target in ["-", "/dev/stdout", "/dev/null"] {
            let err = check_map_target(Path::new(target)).unwrap_err();
            assert!(err.usage, "{target}");
        }
        let dir = tempfile::tempdir().unwrap();
        assert!(check_map_target(dir.path()).is_err());
        assert!(check_map_target(&dir.path().join("new.json")).is_ok());
    }

    #[test]
    fn the_map_never_names_the_input_or_the_output() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("s.json");
        std::fs::write(&input, "{}").unwrap();
        let link = dir.path().join("link.json");
        std::fs::hard_link(&input, &link).unwrap();
        let dotted = dir.path().join(".").join("s.json");
        let new = dir.path().join("new.json");
        let new_dotted = dir.path().join("sub").join("..").join("new.json");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for (map, input, output) in [
            (&input, Some(&input), None),
            (&link, Some(&input), None),
            (&dotted, Some(&input), None),
            (&input, None, Some(&link)),
            (&new, Some(&input), Some(&new_dotted)),
        ] {
            let err = check_map_path(
                map,
                input.map(PathBuf::as_path),
                output.map(PathBuf::as_path),
            )
            .unwrap_err();
            assert!(err.usage, "{map:?} {input:?} {output:?}");
        }
        let other = dir.path().join("map.json");
        assert!(check_map_path(&other, Some(&input), Some(&new)).is_ok());
        assert!(check_map_path(&other, Some(Path::new("-")), None).is_ok());
    }
}

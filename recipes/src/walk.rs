//! Finding the recipe files below a data directory.
//!
//! Shared by the loader (`RecipeStore::load_dir`) and by `build.rs` (which includes this file
//! with `#[path]`), so that the files embedded at build time and those loaded at run time are
//! found by the same rules:
//! - `*.yaml` and `*.yml` files at any depth, in the order of their paths relative to the root;
//! - hidden entries (`.git`, `.github`, `.draft.yaml` …) and other files are ignored;
//! - links to directories are not followed (each one is reported in [`Found::skipped_links`]),
//!   so that neither link loops nor many links to the same directory multiply the work; links to
//!   regular files are read (a Kubernetes ConfigMap volume is made of such links);
//! - a recipe file that is not a regular file (a FIFO, a socket, a device) is refused, before
//!   anything opens it: opening a FIFO would block until a writer comes.
//!
//! Only the directory entries' types are looked at here (no file is opened).

use std::path::{Path, PathBuf};
use walkdir::WalkDir;

/// One recipe file found below the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecipeFile {
    /// The path relative to the root, `/`-separated (`overlays/gpu.yaml`).
    pub rel: String,
    /// The path to open (the root joined with `rel`).
    pub path: PathBuf,
}

/// What a walk found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// The recipe files, sorted by `rel`.
    pub files: Vec<RecipeFile>,
    /// Links to directories, which were not followed.
    pub skipped_links: Vec<PathBuf>,
}

/// Why a walk failed: the path at fault and the reason.
#[derive(Debug)]
pub(crate) struct WalkError {
    /// The file or directory at fault.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

/// Whether a file name is that of a recipe file.
fn is_recipe_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// What kind of non-regular, non-directory file `file_type` is, in words.
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_char_device() {
        "a character device"
    } else {
        "not a regular file"
    }
}

/// Walks `root` (which must be a directory, or a link to one) for recipe files.
pub(crate) fn recipe_files(root: &Path) -> Result<Found, WalkError> {
    let mut found = Found::default();
    let walk = WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0 || !entry.file_name().as_encoded_bytes().starts_with(b".")
        });
    for entry in walk {
        let entry = entry.map_err(|error| {
            let what = if error.depth() == 0 {
                "cannot read the recipe directory"
            } else {
                "cannot read"
            };
            WalkError {
                path: error.path().unwrap_or(root).to_path_buf(),
                reason: match error.io_error() {
                    Some(io) => format!("{what}: {io}"),
                    None => format!("{what}: {error}"),
                },
            }
        })?;
        let path = entry.path();
        let file_type = entry.file_type();
        if entry.depth() == 0 {
            if !file_type.is_dir() {
                return Err(WalkError {
                    path: path.to_path_buf(),
                    reason: "not a directory".to_owned(),
                });
            }
            continue;
        }
        if file_type.is_dir() {
            continue;
        }
        let regular = if file_type.is_symlink() {
            // Where the link leads, without opening it.
            match std::fs::metadata(path) {
                Ok(target) if target.is_dir() => {
                    found.skipped_links.push(path.to_path_buf());
                    continue;
                }
                _ if !is_recipe_name(path) => continue,
                Ok(target) if target.is_file() => true,
                Ok(target) => {
                    return Err(WalkError {
                        path: path.to_path_buf(),
                        reason: format!(
                            "links to {}: recipe files must be regular files",
                            kind_of(target.file_type())
                        ),
                    })
                }
                Err(error) => {
                    return Err(WalkError {
                        path: path.to_path_buf(),
                        reason: format!("cannot follow the link: {error}"),
                    })
                }
            }
        } else {
            file_type.is_file()
        };
        if !is_recipe_name(path) {
            continue;
        }
        if !regular {
            return Err(WalkError {
                path: path.to_path_buf(),
                reason: format!(
                    "is {}: recipe files must be regular files",
                    kind_of(file_type)
                ),
            });
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        found.files.push(RecipeFile {
            rel,
            path: path.to_path_buf(),
        });
    }
    found.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(found)
}

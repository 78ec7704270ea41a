//! Embeds every recipe file under `data/` into the crate: writes `$OUT_DIR/embedded_recipes.rs`
//! with a sorted list of (path relative to `data/`, contents via `include_str!`).

use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        // Hidden entries are skipped, as RecipeStore::load_dir does.
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Path::new("data");
    println!("cargo:rerun-if-changed=data");
    let mut files = Vec::new();
    collect(data, &mut files)?;
    let mut entries: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(data).unwrap_or(p);
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let path = format!("data/{rel}");
            (rel, path)
        })
        .collect();
    entries.sort();
    let mut code = String::from("/// Recipe files embedded at build time: (path under data/, text).\npub(crate) static FILES: &[(&str, &str)] = &[\n");
    for (rel, path) in &entries {
        code.push_str(&format!(
            "    ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/\", {path:?}))),\n"
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("embedded_recipes.rs");
    std::fs::write(out, code)?;
    Ok(())
}

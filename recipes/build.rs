//! Embeds every recipe file under `data/` into the crate: writes `$OUT_DIR/embedded_recipes.rs`
//! with a sorted list of (path relative to `data/`, contents via `include_str!`). The files are
//! found by the same walk as `RecipeStore::load_dir` uses (`src/walk.rs`).

use std::path::{Path, PathBuf};

#[path = "src/walk.rs"]
mod walk;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = Path::new("data");
    println!("cargo:rerun-if-changed=data");
    let found =
        walk::recipe_files(data).map_err(|e| format!("{}: {}", e.path.display(), e.reason))?;
    for link in &found.skipped_links {
        println!(
            "cargo:warning=recipe data: not following the link to a directory {}",
            link.display()
        );
    }
    let mut code = String::from("/// Recipe files embedded at build time: (path under data/, text).\npub(crate) static FILES: &[(&str, &str)] = &[\n");
    for file in &found.files {
        let (rel, path) = (&file.rel, format!("data/{}", file.rel));
        code.push_str(&format!(
            "    ({rel:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/\", {path:?}))),\n"
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("embedded_recipes.rs");
    std::fs::write(out, code)?;
    Ok(())
}

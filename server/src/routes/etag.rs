//! Entity tags of recipes and `If-None-Match` evaluation.
//!
//! A recipe document differs between two builds only in `generatedAt`, so the tag is computed
//! over everything else and is *weak* (`W/"…"`): same content, not the same bytes. It is a pure
//! function of the document's content, so every replica of the same build agrees on it.

use axum::http::HeaderValue;
use eidos_recipes::Recipe;
use serde::Serialize;
use std::io::Write;
use xxhash_rust::xxh3::Xxh3;

/// The weak entity tag of a recipe.
pub fn of_recipe(recipe: &Recipe) -> String {
    #[derive(Serialize)]
    struct Content<'a> {
        payload_version: &'a str,
        builder_version: &'a str,
        request: &'a eidos_recipes::Query,
        matched_rules: &'a [String],
        measurements: &'a [eidos_recipes::RecipeMeasurement],
    }
    let content = Content {
        payload_version: &recipe.payload_version,
        builder_version: &recipe.builder_version,
        request: &recipe.request,
        matched_rules: &recipe.matched_rules,
        measurements: &recipe.measurements,
    };
    let mut hasher = HashWriter(Xxh3::new());
    // Writing into a hasher cannot fail, and serializing plain data cannot either; should it
    // ever, the tag still covers what was written.
    let _ = serde_json::to_writer(&mut hasher, &content);
    format!("W/\"{:032x}\"", hasher.0.digest128())
}

struct HashWriter(Xxh3);

impl Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, as RFC 9110 prescribes for
/// this header): `*`, or any listed tag with the same opaque value.
pub fn if_none_match_matches(header: &HeaderValue, etag: &str) -> bool {
    let Ok(header) = header.to_str() else {
        return false;
    };
    let ours = opaque(etag);
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || opaque(tag) == ours)
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_comparison_and_lists() {
        let etag = r#"W/"abc""#;
        for header in [r#"W/"abc""#, r#""abc""#, "*", r#""x", W/"abc""#] {
            assert!(
                if_none_match_matches(&HeaderValue::from_static(header), etag),
                "{header}"
            );
        }
        for header in [r#""abd""#, r#"W/"ab""#, ""] {
            assert!(
                !if_none_match_matches(&HeaderValue::from_static(header), etag),
                "{header}"
            );
        }
    }
}

//! Entity tags of recipes and `If-None-Match` evaluation.
//!
//! A recipe document differs between two builds only in `generatedAt`, so the tag is computed
//! over everything else and is *weak* (`W/"…"`): same content, not the same bytes. It is a pure
//! function of the document's content, so every replica of the same build agrees on it.

use axum::http::HeaderMap;
use eidos_recipes::Recipe;
use headers::{ETag, HeaderMapExt, IfNoneMatch};
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

/// Whether the request's `If-None-Match` matches `etag` (weak comparison, as RFC 9110 prescribes
/// for this header): `*`, or any listed tag with the same opaque value. The header is parsed by
/// the `headers` crate (quoted tags may contain commas; several header lines form one list); a
/// malformed header is ignored, as if absent.
pub fn if_none_match_matches(headers: &HeaderMap, etag: &str) -> bool {
    let Ok(ours) = etag.parse::<ETag>() else {
        return false;
    };
    headers
        .typed_get::<IfNoneMatch>()
        .is_some_and(|condition| !condition.precondition_passes(&ours))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header::IF_NONE_MATCH;
    use axum::http::HeaderValue;

    fn matches(lines: &[&str], etag: &str) -> bool {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(IF_NONE_MATCH, HeaderValue::from_str(line).unwrap());
        }
        if_none_match_matches(&headers, etag)
    }

    #[test]
    fn weak_comparison_lists_and_star() {
        let etag = r#"W/"abc""#;
        for header in [
            r#"W/"abc""#,
            r#""abc""#,
            "*",
            r#""x", W/"abc""#,
            r#""x",W/"abc""#,
        ] {
            assert!(matches(&[header], etag), "{header}");
        }
        for header in [r#""abd""#, r#"W/"ab""#, "", r#"W/"abc"x"#, "abc"] {
            assert!(!matches(&[header], etag), "{header}");
        }
        assert!(!matches(&[], etag), "no header");
        assert!(matches(&[r#""x""#, r#"W/"abc""#], etag), "several lines");
    }

    #[test]
    fn tags_may_contain_commas() {
        let etag = r#"W/"a,b""#;
        assert!(matches(&[r#""a,b""#], etag));
        assert!(matches(&[r#""x", W/"a,b", "y""#], etag));
        // Split on every comma, `"a` and `b"` are no tags, and `"a,b"` must not match `"a"`.
        assert!(!matches(&[r#""a", "b""#], etag));
        assert!(!matches(&[r#""a,b""#], r#"W/"a""#));
        assert!(!matches(&[r#""a,b,c""#], etag));
    }

    #[test]
    fn malformed_tags_neither_panic_nor_match() {
        let etag = r#"W/"abc""#;
        // White space inside quotes trips a debug assertion in `headers` (see Cargo.toml).
        for header in [
            r#""a b", W/"abc""#,
            "\"a\tb\"",
            r#""unterminated, W/"abc""#,
            r#"W/"abc" junk"#,
        ] {
            let _ = matches(&[header], etag);
        }
        assert!(!matches(&[r#""unterminated, W/"abc""#], etag));
        assert!(!matches(&[r#""a b""#], etag));
    }
}

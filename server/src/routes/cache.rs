//! Rendered recipes, memoized per normalized query.
//!
//! The store is immutable, so a query's recipe never changes while the server runs; only
//! `generatedAt` differs between builds. A cached entry holds the serialized document split
//! around that value, plus its ETag, and each answer splices in the current time: the client gets
//! exactly what a fresh build would give, without the build. The cache is bounded (the version
//! fields are free text): when full it starts over, which keeps it simple and its memory capped.

use super::etag;
use eidos_recipes::{Query, Recipe, RecipeStore};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// Most queries remembered at once.
pub const CAPACITY: usize = 4096;

/// The JSON key whose value is spliced per answer.
const GENERATED_AT_KEY: &[u8] = br#""generatedAt":"#;

/// One recipe, ready to send.
#[derive(Debug)]
pub struct Rendered {
    /// The weak ETag of the content.
    pub etag: String,
    /// The document up to and including `"generatedAt":`.
    head: Vec<u8>,
    /// The document after the `generatedAt` value.
    tail: Vec<u8>,
}

impl Rendered {
    /// Serializes `recipe` and splits it around its `generatedAt` value.
    pub fn new(recipe: &Recipe) -> Result<Rendered, serde_json::Error> {
        let document = serde_json::to_vec(recipe)?;
        let value = serde_json::to_vec(&recipe.generated_at)?;
        // Inside JSON strings quotes are escaped, so the first unescaped `"generatedAt":` is the
        // top-level key, and its value is the serialized `generated_at` that follows.
        let key_end = find(&document, GENERATED_AT_KEY)
            .map(|at| at + GENERATED_AT_KEY.len())
            .filter(|&end| document[end..].starts_with(&value))
            .ok_or_else(|| {
                <serde_json::Error as serde::de::Error>::custom(
                    "recipe document has no generatedAt",
                )
            })?;
        Ok(Rendered {
            etag: etag::of_recipe(recipe),
            head: document[..key_end].to_vec(),
            tail: document[key_end + value.len()..].to_vec(),
        })
    }

    /// The document with `generatedAt` set to now (RFC 3339, seconds, UTC: the engine's format).
    pub fn body_now(&self) -> Vec<u8> {
        let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        self.body_at(&now)
    }

    /// The document with the given `generatedAt`.
    pub fn body_at(&self, generated_at: &str) -> Vec<u8> {
        let mut body =
            Vec::with_capacity(self.head.len() + generated_at.len() + 2 + self.tail.len());
        body.extend_from_slice(&self.head);
        body.push(b'"');
        body.extend_from_slice(generated_at.as_bytes());
        body.push(b'"');
        body.extend_from_slice(&self.tail);
        body
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Rendered recipes by query.
#[derive(Debug, Default)]
pub struct RecipeCache {
    entries: RwLock<HashMap<Query, Arc<Rendered>>>,
}

impl RecipeCache {
    /// The rendered recipe for `query`, built on first use.
    pub fn get_or_build(
        &self,
        store: &RecipeStore,
        query: &Query,
    ) -> Result<Arc<Rendered>, serde_json::Error> {
        if let Ok(entries) = self.entries.read() {
            if let Some(rendered) = entries.get(query) {
                return Ok(Arc::clone(rendered));
            }
        }
        let rendered = Arc::new(Rendered::new(&store.build(query))?);
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(query.clone(), Arc::clone(&rendered));
        }
        Ok(rendered)
    }

    /// How many queries are cached.
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |entries| entries.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Query {
        Query::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn a_cached_answer_is_the_fresh_build_with_the_current_time() {
        let store = RecipeStore::embedded().unwrap();
        let cache = RecipeCache::default();
        for pairs in [
            &[][..],
            &[("gpu", "h100"), ("service", "eks")],
            &[("gpu", "gb200"), ("context", "true")],
        ] {
            let query = query(pairs);
            let fresh = store.build(&query);
            let rendered = cache.get_or_build(&store, &query).unwrap();
            let body = rendered.body_at(&fresh.generated_at);
            assert_eq!(body, serde_json::to_vec(&fresh).unwrap(), "{pairs:?}");
            assert_eq!(rendered.etag, etag::of_recipe(&fresh));
        }
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn the_spliced_time_has_the_engines_format() {
        let store = RecipeStore::embedded().unwrap();
        let rendered = RecipeCache::default()
            .get_or_build(&store, &Query::default())
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&rendered.body_now()).unwrap();
        let ours = doc["generatedAt"].as_str().unwrap();
        let engines = store.build(&Query::default()).generated_at;
        assert_eq!(ours.len(), engines.len(), "{ours} vs {engines}");
        assert!(
            ours.ends_with('Z') && humantime::parse_rfc3339(ours).is_ok(),
            "{ours}"
        );
        let age = SystemTime::now()
            .duration_since(humantime::parse_rfc3339(ours).unwrap())
            .unwrap_or_default();
        assert!(age.as_secs() < 5, "current time");
    }

    #[test]
    fn the_cache_stays_bounded() {
        let store = RecipeStore::embedded().unwrap();
        let cache = RecipeCache::default();
        for patch in 0..(CAPACITY + 10) {
            let k8s = format!("1.30.{patch}");
            cache
                .get_or_build(&store, &query(&[("k8s", &k8s)]))
                .unwrap();
        }
        assert!(cache.len() <= CAPACITY);
        assert!(!cache.is_empty());
    }
}

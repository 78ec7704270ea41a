//! Rendered recipes, memoized per normalized query.
//!
//! The store is immutable, so a query's recipe never changes while the server runs; only
//! `generatedAt` differs between builds. A cached entry holds the serialized document split
//! around that value, plus its ETag, and each answer splices in the current time: the client gets
//! exactly what a fresh build would give, without the build.
//!
//! The version fields are free text (up to 256 characters each), so clients choose how many
//! distinct queries there are: the cache is bounded by bytes, not entries. It is a
//! `quick_cache` (S3-FIFO): the budget is enforced on every insert (never overshot, unlike caches
//! that evict in the background), and a flood of one-off queries passes through its small
//! probationary queue without evicting the recipes that clients keep asking for. Concurrent
//! misses for one query build it once.

use super::etag;
use eidos_recipes::{Query, Recipe, RecipeStore};
use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// The bytes the cache may hold (rendered documents, their keys and bookkeeping): 16 MiB, a few
/// hundred recipes with explanations, more without.
pub const BUDGET_BYTES: u64 = 16 * 1024 * 1024;

/// Shards of the cache: each holds an equal part of the budget, so an entry must fit in one part
/// (a rendered recipe is tens of KiB; a part of the default budget is 2 MiB).
const SHARDS: usize = 8;

/// What an entry costs beyond its strings: the `Arc`, the struct, the table slot.
const ENTRY_OVERHEAD_BYTES: u64 = 256;

/// A typical entry, to size the tables up front.
const TYPICAL_ENTRY_BYTES: u64 = 16 * 1024;

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

    /// The heap bytes this entry holds.
    fn bytes(&self) -> usize {
        self.etag.capacity() + self.head.capacity() + self.tail.capacity()
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

/// Weighs an entry by the bytes it holds.
#[derive(Debug, Clone, Copy)]
struct ByteWeight;

impl Weighter<Query, Arc<Rendered>> for ByteWeight {
    fn weight(&self, query: &Query, rendered: &Arc<Rendered>) -> u64 {
        let key: usize = eidos_recipes::vocab::Field::ALL
            .iter()
            .filter_map(|&field| query.field(field))
            .map(str::len)
            .sum();
        u64::try_from(key + rendered.bytes()).map_or(u64::MAX, |bytes| bytes + ENTRY_OVERHEAD_BYTES)
    }
}

type Entries = Cache<
    Query,
    Arc<Rendered>,
    ByteWeight,
    DefaultHashBuilder,
    DefaultLifecycle<Query, Arc<Rendered>>,
>;

/// Rendered recipes by query, within a byte budget.
pub struct RecipeCache {
    entries: Entries,
    budget: u64,
}

impl Default for RecipeCache {
    fn default() -> Self {
        RecipeCache::with_budget(BUDGET_BYTES, SHARDS)
    }
}

impl fmt::Debug for RecipeCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecipeCache")
            .field("entries", &self.len())
            .field("bytes", &self.bytes())
            .field("budget", &self.budget)
            .finish()
    }
}

impl RecipeCache {
    /// A cache holding at most `budget` bytes, split evenly over `shards` (a power of two).
    pub fn with_budget(budget: u64, shards: usize) -> RecipeCache {
        let estimated_items = usize::try_from(budget / TYPICAL_ENTRY_BYTES).unwrap_or(usize::MAX);
        let options = OptionsBuilder::new()
            .estimated_items_capacity(estimated_items.max(1))
            .weight_capacity(budget)
            .shards(shards)
            .build();
        let entries = match options {
            Ok(options) => Cache::with_options(
                options,
                ByteWeight,
                DefaultHashBuilder::default(),
                DefaultLifecycle::default(),
            ),
            // Only a zero shard count is refused; fall back to the library's own sharding.
            Err(_) => Cache::with_weighter(estimated_items.max(1), budget, ByteWeight),
        };
        RecipeCache { entries, budget }
    }

    /// The rendered recipe for `query`, built on first use.
    pub fn get_or_build(
        &self,
        store: &RecipeStore,
        query: &Query,
    ) -> Result<Arc<Rendered>, serde_json::Error> {
        self.entries
            .get_or_insert_with(query, || Rendered::new(&store.build(query)).map(Arc::new))
    }

    /// How many queries are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes held, as the budget counts them.
    pub fn bytes(&self) -> u64 {
        self.entries.weight()
    }

    /// The most bytes the cache may hold.
    pub fn budget(&self) -> u64 {
        self.budget
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
        assert!(cache.bytes() > 0 && cache.bytes() <= cache.budget());
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
    fn the_byte_budget_evicts_and_is_never_exceeded() {
        let store = RecipeStore::embedded().unwrap();
        let one = RecipeCache::default()
            .get_or_build(&store, &query(&[("gpu", "h100"), ("context", "true")]))
            .unwrap()
            .bytes() as u64;
        // Room for about 32 such entries (quick_cache keeps 3% of the budget for entries seen
        // once; that part must hold one entry for a newcomer to be able to prove itself).
        let budget = 32 * (one + 1024);
        let cache = RecipeCache::with_budget(budget, 1);
        let long_kernel = |i: usize| format!("6.8.0-{i}-{}", "k".repeat(200));
        for i in 0..128 {
            let kernel = long_kernel(i);
            let pairs = [
                ("gpu", "h100"),
                ("context", "true"),
                ("kernel", kernel.as_str()),
            ];
            let rendered = cache.get_or_build(&store, &query(&pairs)).unwrap();
            assert_eq!(
                rendered.body_at("t"),
                Rendered::new(&store.build(&query(&pairs)))
                    .unwrap()
                    .body_at("t"),
                "an answer is right whether cached or not"
            );
            assert!(
                cache.bytes() <= budget,
                "{} > {budget} after {i}",
                cache.bytes()
            );
        }
        assert!(
            (1..128).contains(&cache.len()),
            "evicted but not emptied: {} entries",
            cache.len()
        );
        // A popular query (asked again every few requests) survives a flood of one-off queries
        // many times the budget; a plain first-in-first-out cache would drop it.
        let popular = query(&[("gpu", "h200")]);
        let first = cache.get_or_build(&store, &popular).unwrap();
        for i in 128..1024 {
            let kernel = long_kernel(i);
            cache
                .get_or_build(&store, &query(&[("kernel", kernel.as_str())]))
                .unwrap();
            if i % 4 == 0 {
                cache.get_or_build(&store, &popular).unwrap();
            }
        }
        let again = cache.get_or_build(&store, &popular).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "the popular entry was evicted");
    }

    #[test]
    fn the_default_budget_is_16_mib() {
        let cache = RecipeCache::default();
        assert_eq!(cache.budget(), 16 * 1024 * 1024);
        assert_eq!(cache.bytes(), 0);
    }
}

//! JSON bodies read strictly: an object that names a key twice is refused.
//!
//! RFC 8259 leaves duplicate names to the implementation, and `serde_json` keeps the last one,
//! so `{"gpu":"h100","gpu":"h200"}` would silently mean h200 while `?gpu=h100&gpu=h200` is an
//! error. [`find_duplicate_key`] walks the document once, without building it, and reports the
//! first key that an object repeats, at any depth (key strings are compared after unescaping, so
//! `"gpu"` and `"\u0067pu"` are the same key).

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

/// A key that one JSON object names twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKey {
    /// The key, unescaped.
    pub key: String,
    /// Whether the object is the document itself (not one nested in it).
    pub top_level: bool,
}

/// The first duplicate key in `body`, if any. Malformed JSON is serde_json's error.
pub fn find_duplicate_key(body: &[u8]) -> Result<Option<DuplicateKey>, serde_json::Error> {
    let found = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let walked = Node {
        depth: 0,
        found: &found,
    }
    .deserialize(&mut deserializer)
    .and_then(|()| deserializer.end());
    match (walked, found.into_inner()) {
        (_, Some(duplicate)) => Ok(Some(duplicate)),
        (Ok(()), None) => Ok(None),
        (Err(error), None) => Err(error),
    }
}

/// One value of the document, `depth` levels down; a duplicate is left in `found`.
#[derive(Clone, Copy)]
struct Node<'a> {
    depth: usize,
    found: &'a RefCell<Option<DuplicateKey>>,
}

impl Node<'_> {
    fn child(self) -> Self {
        Node {
            depth: self.depth + 1,
            ..self
        }
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(self.child())?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<(), A::Error> {
        let mut keys = HashSet::new();
        while let Some(key) = entries.next_key::<String>()? {
            if keys.contains(&key) {
                *self.found.borrow_mut() = Some(DuplicateKey {
                    key,
                    top_level: self.depth == 0,
                });
                return Err(de::Error::custom("duplicate key"));
            }
            keys.insert(key);
            entries.next_value_seed(self.child())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate(body: &str) -> Option<DuplicateKey> {
        find_duplicate_key(body.as_bytes()).unwrap()
    }

    #[test]
    fn unique_keys_at_every_depth_pass() {
        for body in [
            r#"{}"#,
            r#"{"gpu":"h100","k8s":"1.33","context":true,"n":null,"x":-1.5e3}"#,
            r#"{"a":{"a":{"a":[{"a":1},{"a":2}]}}}"#,
            r#"[{"a":1},{"a":1}]"#,
            r#""text""#,
        ] {
            assert_eq!(duplicate(body), None, "{body}");
        }
    }

    #[test]
    fn the_first_repeated_key_is_named_with_its_level() {
        assert_eq!(
            duplicate(r#"{"gpu":"h100","k8s":"1.33","gpu":"h200"}"#),
            Some(DuplicateKey {
                key: "gpu".into(),
                top_level: true
            })
        );
        assert_eq!(
            duplicate(r#"{"kind":"Snapshot","measurements":[{"type":"OS","type":"GPU"}]}"#),
            Some(DuplicateKey {
                key: "type".into(),
                top_level: false
            })
        );
        assert_eq!(
            duplicate(r#"{"gpu":"h100","\u0067pu":"h200"}"#).map(|d| d.key),
            Some("gpu".into()),
            "compared after unescaping"
        );
    }

    #[test]
    fn malformed_json_is_an_error() {
        for body in ["{", r#"{"a":1} trailing"#, "", r#"{"a":}"#] {
            assert!(find_duplicate_key(body.as_bytes()).is_err(), "{body:?}");
        }
    }
}

//! Reading YAML from untrusted sources in time proportional to its size.
//!
//! The YAML scanner behind `serde_yaml` (libyaml, through `unsafe-libyaml`) spends time
//! proportional to the current flow nesting depth on every token, so a document nested `n`
//! levels deep (`x: {a: {a: …}}`) takes time proportional to n² — minutes for a few hundred
//! kilobytes — before the deserializer's own recursion limit rejects it. [`check_depth`] runs the
//! same parser event by event and stops at the first collection nested deeper than the limit, so
//! the work it does is bounded by (input size × limit), and the text handed to `serde_yaml` after
//! it is known to be shallow.
//!
//! That check is a second parse. [`from_untrusted_yaml`] skips it when the text cannot be costly:
//! libyaml's flow level rises only at a `[` or `{` character, so the scanner's extra work is at
//! most (size × number of those characters), and below [`UNCHECKED_SCANNER_WORK`] it is small
//! whatever the nesting. A snapshot written as block YAML has a few dozen such characters (inside
//! quoted values) and is parsed once.
//!
//! The check uses libyaml's event API directly (the only way to stop parsing early; `serde_yaml`
//! collects a whole document's events first), which is an unsafe C-style API: the unsafe code is
//! confined to [`Parser`] below.

use std::mem::MaybeUninit;

/// Where a document first nests deeper than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooDeep {
    /// The 1-based line of the collection that went over the limit.
    pub line: u64,
}

/// Why YAML from an untrusted source was not read.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// A collection nests deeper than the limit (found by the depth check, which runs only on
    /// text that could be costly to scan; see [`from_untrusted_yaml`]).
    #[error("nested more than {limit} levels deep (at line {line}); at most {limit} levels of mappings and sequences are read")]
    TooDeep {
        /// The limit that was passed.
        limit: usize,
        /// The 1-based line of the collection that went over it.
        line: u64,
    },
    /// The text is not YAML, or not YAML of the expected shape.
    #[error("malformed YAML: {0}")]
    Malformed(#[from] serde_yaml::Error),
}

/// Work (size × flow-level rises) up to which libyaml's scanner is left to run without the depth
/// check: at most about this many simple-key visits, a few tens of milliseconds at worst.
pub const UNCHECKED_SCANNER_WORK: usize = 1 << 24;

/// Whether scanning `text` costs little however deeply it nests: its size times its number of
/// `[` and `{` characters (the only places libyaml's flow level rises) is at most
/// [`UNCHECKED_SCANNER_WORK`].
pub fn scanning_is_cheap(text: &str) -> bool {
    let rises = text.bytes().filter(|b| matches!(b, b'[' | b'{')).count();
    text.len().saturating_mul(rises) <= UNCHECKED_SCANNER_WORK
}

/// Deserializes YAML that may be hostile (a snapshot, a facts file) in time proportional to its
/// size: unless [`scanning_is_cheap`], the text is first checked to nest at most `limit` levels
/// deep. (Cheap text is not depth-checked; `serde_yaml`'s own recursion limit still refuses a
/// document nested beyond 128 levels.)
pub fn from_untrusted_yaml<T: serde::de::DeserializeOwned>(
    text: &str,
    limit: usize,
) -> Result<T, YamlError> {
    if !scanning_is_cheap(text) {
        check_depth(text, limit).map_err(|TooDeep { line }| YamlError::TooDeep { limit, line })?;
    }
    Ok(serde_yaml::from_str(text)?)
}

/// Checks that no collection in `text` is nested more than `limit` levels deep (the top-level
/// collection is level 1). Text that does not parse passes: the deserializer reports the syntax
/// error, and it stops at the same place this check stopped, within the limit.
pub fn check_depth(text: &str, limit: usize) -> Result<(), TooDeep> {
    let mut parser = Parser::new(text.as_bytes());
    let mut depth = 0usize;
    loop {
        match parser.next() {
            None | Some(Step::End) => return Ok(()),
            Some(Step::Open { line }) => {
                depth += 1;
                if depth > limit {
                    return Err(TooDeep { line: line + 1 });
                }
            }
            Some(Step::Close) => depth = depth.saturating_sub(1),
            Some(Step::Other) => {}
        }
    }
}

/// One parser event, as far as nesting is concerned.
enum Step {
    /// A sequence or mapping starts, on this 0-based line.
    Open { line: u64 },
    /// A sequence or mapping ends.
    Close,
    /// Any other event.
    Other,
    /// The end of the stream.
    End,
}

/// A libyaml parser over a borrowed byte string.
struct Parser<'input> {
    /// Boxed because libyaml keeps a pointer to the parser inside itself (its read handler's
    /// data), so it must not move once the input is set.
    sys: Box<MaybeUninit<unsafe_libyaml::yaml_parser_t>>,
    /// Whether `sys` was initialized (and so must be deleted).
    initialized: bool,
    /// Whether parsing failed (libyaml must not be called again but to delete it).
    failed: bool,
    _input: std::marker::PhantomData<&'input [u8]>,
}

impl<'input> Parser<'input> {
    fn new(input: &'input [u8]) -> Parser<'input> {
        let mut sys = Box::new(MaybeUninit::<unsafe_libyaml::yaml_parser_t>::uninit());
        let raw = sys.as_mut_ptr();
        // SAFETY: `raw` points to memory owned by the box, which never moves; initialization
        // fills in the whole struct (it fails only when it cannot allocate, and then `next`
        // is never called on it). The input outlives the parser ('input).
        let initialized = unsafe {
            if unsafe_libyaml::yaml_parser_initialize(raw).fail {
                false
            } else {
                unsafe_libyaml::yaml_parser_set_encoding(raw, unsafe_libyaml::YAML_UTF8_ENCODING);
                unsafe_libyaml::yaml_parser_set_input_string(
                    raw,
                    input.as_ptr(),
                    input.len() as u64,
                );
                true
            }
        };
        Parser {
            sys,
            initialized,
            failed: false,
            _input: std::marker::PhantomData,
        }
    }

    /// The next event, or `None` on a syntax error (or when the parser could not start).
    fn next(&mut self) -> Option<Step> {
        if !self.initialized || self.failed {
            return None;
        }
        let raw = self.sys.as_mut_ptr();
        let mut event = MaybeUninit::<unsafe_libyaml::yaml_event_t>::uninit();
        // SAFETY: the parser is initialized with live input and has not failed (after a failure
        // `failed` is set and it is not called again); a successful `yaml_parser_parse` fills
        // `event`, which is read and then deleted exactly once.
        unsafe {
            if unsafe_libyaml::yaml_parser_parse(raw, event.as_mut_ptr()).fail {
                self.failed = true;
                return None;
            }
            let event = event.as_mut_ptr();
            let step = match (*event).type_ {
                unsafe_libyaml::YAML_SEQUENCE_START_EVENT
                | unsafe_libyaml::YAML_MAPPING_START_EVENT => Step::Open {
                    line: (*event).start_mark.line,
                },
                unsafe_libyaml::YAML_SEQUENCE_END_EVENT
                | unsafe_libyaml::YAML_MAPPING_END_EVENT => Step::Close,
                unsafe_libyaml::YAML_STREAM_END_EVENT => Step::End,
                _ => Step::Other,
            };
            unsafe_libyaml::yaml_event_delete(event);
            Some(step)
        }
    }
}

impl Drop for Parser<'_> {
    fn drop(&mut self) {
        if self.initialized {
            // SAFETY: initialized and not yet deleted; deleted once here.
            unsafe { unsafe_libyaml::yaml_parser_delete(self.sys.as_mut_ptr()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_flow(depth: usize) -> String {
        let mut text = String::from("x: ");
        for _ in 0..depth {
            text.push_str("{a: ");
        }
        text.push('1');
        for _ in 0..depth {
            text.push('}');
        }
        text.push('\n');
        text
    }

    #[test]
    fn shallow_documents_pass_and_deep_ones_are_stopped_at_their_line() {
        // x: is level 1, each {a: one more.
        assert_eq!(check_depth(&nested_flow(9), 10), Ok(()));
        assert_eq!(check_depth(&nested_flow(10), 10), Err(TooDeep { line: 1 }));
        let block = "a:\n  b:\n    c:\n      d: 1\n";
        assert_eq!(check_depth(block, 4), Ok(()));
        assert_eq!(check_depth(block, 3), Err(TooDeep { line: 4 }));
        let sequences = "- - - - 1\n";
        assert_eq!(check_depth(sequences, 3), Err(TooDeep { line: 1 }));
    }

    #[test]
    fn brackets_inside_scalars_do_not_count() {
        let text = "a: \"{{{{{{{{{{[[[[[[\"\nb: '}}}}]]]]'\nc: |\n  {{{{{{{{{{\nd: x{{{{{{{{\n";
        assert_eq!(check_depth(text, 1), Ok(()));
    }

    #[test]
    fn text_that_does_not_parse_is_left_to_the_deserializer() {
        assert_eq!(check_depth("a: [1, 2\nb: {", 5), Ok(()));
        assert_eq!(check_depth("", 1), Ok(()));
        assert_eq!(check_depth("\u{0}\u{1}", 1), Ok(()));
    }

    /// A flow document `depth` levels deep, padded with a comment to `size` bytes.
    fn padded_flow(depth: usize, size: usize) -> String {
        let mut text = nested_flow(depth);
        text.push('#');
        while text.len() < size {
            text.push('x');
        }
        text.push('\n');
        text
    }

    #[test]
    fn scanning_is_cheap_below_the_work_bound_and_costly_above_it() {
        // Block YAML without flow collections: cheap at any size.
        assert!(scanning_is_cheap(&"a: b\n".repeat(1 << 20)));
        assert!(scanning_is_cheap(eidos_test_fixtures::H100_EKS_GO_YAML));
        // 1,000 rises in 16 KiB is exactly the bound; one more byte is over it.
        let at_bound = padded_flow(1000, (UNCHECKED_SCANNER_WORK / 1000) - 1);
        assert_eq!(at_bound.len(), UNCHECKED_SCANNER_WORK / 1000);
        assert!(scanning_is_cheap(&at_bound));
        assert!(!scanning_is_cheap(&format!("{at_bound} ")));
    }

    #[test]
    fn untrusted_yaml_nested_deeply_is_refused_by_the_check_before_it_is_parsed() {
        // Costly to scan: checked, and refused at the line where it went too deep.
        let deep = padded_flow(5000, 1 << 16);
        assert!(!scanning_is_cheap(&deep));
        let err = from_untrusted_yaml::<serde_json::Value>(&deep, 64).unwrap_err();
        assert!(
            matches!(err, YamlError::TooDeep { limit: 64, line: 1 }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "nested more than 64 levels deep (at line 1); at most 64 levels of mappings and sequences are read"
        );
        // Costly but shallow (thousands of one-level flow maps): checked, and read.
        let shallow = format!("x:\n{}", "- {a: 1}\n".repeat(3000));
        assert!(!scanning_is_cheap(&shallow));
        let value: serde_json::Value = from_untrusted_yaml(&shallow, 64).unwrap();
        assert_eq!(value["x"][2999]["a"], 1);
        // Cheap and deep: left to serde_yaml, whose recursion limit refuses it.
        let err = from_untrusted_yaml::<serde_json::Value>(&nested_flow(200), 64).unwrap_err();
        assert!(matches!(err, YamlError::Malformed(_)), "{err}");
    }

    #[test]
    fn multiple_documents_are_each_checked() {
        assert_eq!(
            check_depth("a: 1\n---\nb: {c: {d: 1}}\n", 2),
            Err(TooDeep { line: 3 })
        );
    }
}

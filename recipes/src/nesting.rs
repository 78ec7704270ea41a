//! A nesting-depth check run on YAML text before it is deserialized.
//!
//! The YAML scanner behind `serde_yaml` (libyaml, through `unsafe-libyaml`) spends time
//! proportional to the current flow nesting depth on every token, so a document nested `n`
//! levels deep (`x: {a: {a: …}}`) takes time proportional to n² — minutes for a few hundred
//! kilobytes — before the deserializer's own recursion limit rejects it. This check runs the same
//! parser event by event and stops at the first collection nested deeper than the limit, so the
//! work it does is bounded by (input size × limit), and the text handed to `serde_yaml` after it
//! is known to be shallow.
//!
//! It uses libyaml's event API directly (the only way to stop parsing early; `serde_yaml`
//! collects a whole document's events first), which is an unsafe C-style API: the unsafe code is
//! confined to [`Parser`] below.

use std::mem::MaybeUninit;

/// Where a document first nests deeper than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep {
    /// The 1-based line of the collection that went over the limit.
    pub line: u64,
}

/// Checks that no collection in `text` is nested more than `limit` levels deep (the top-level
/// collection is level 1). Text that does not parse passes: the deserializer reports the syntax
/// error, and it stops at the same place this check stopped, within the limit.
pub(crate) fn check_depth(text: &str, limit: usize) -> Result<(), TooDeep> {
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

    #[test]
    fn multiple_documents_are_each_checked() {
        assert_eq!(
            check_depth("a: 1\n---\nb: {c: {d: 1}}\n", 2),
            Err(TooDeep { line: 3 })
        );
    }
}

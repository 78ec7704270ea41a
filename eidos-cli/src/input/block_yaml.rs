//! A fast reader for the plain block-style YAML that snapshots are written in, with serde_yaml as
//! the judge of everything else.
//!
//! serde_yaml reads about 25 MB/s: two snapshots of the reference's size (75 KB) took most of an
//! `eidos diff`, and a fleet of YAML snapshots spent most of its time there. Snapshots use a small
//! part of YAML: block mappings and sequences, and plain and quoted scalars, which may be folded
//! over lines. This reader handles exactly that part, ten times faster, and
//! **declines** (returns `None`) whatever lies outside it; the caller then reads the text with
//! serde_yaml, so anchors, tags, flow collections, block scalars, tabs, several documents and
//! every malformed input get serde_yaml's reading and serde_yaml's error messages.
//!
//! What it accepts, it reads as serde_yaml would: a value handed to the target type goes through
//! the same visitor calls. Quoted scalars are text; plain ones are null, booleans, integers or
//! text by serde_yaml's own rules, applied here only where they are plain to see (`true`, `42`,
//! `-7`, a word); any other plain scalar a type asks for (`1.5`, `0x1F`, `1e3`, a scalar read as a
//! number or an enum) is handed to serde_yaml alone. Any error on the way is a decline, never an
//! answer: only readings serde_yaml would also make come out of here. The differential tests below
//! hold the two readers against each other.

use super::YAML_MAX_NESTING;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The most lines the fast reader takes (its line table is then at most 6 MiB).
const MAX_LINES: usize = 1 << 18;

/// Reads `text` as a `T` when it lies within the block-style subset and reads without error;
/// `None` otherwise (the caller reads it with serde_yaml).
pub fn from_block_yaml<T: DeserializeOwned>(text: &str) -> Option<T> {
    // The line table costs 24 bytes a line: a text of empty lines is left to serde_yaml, which
    // streams it, rather than made into 24 times its size here. (A snapshot has a few thousand.)
    let lines = text.bytes().filter(|&b| b == b'\n').count();
    if lines >= MAX_LINES || !printable(text) {
        return None;
    }
    let node = Parser::new(text).document()?;
    T::deserialize(NodeDe(&node)).ok()
}

/// Whether every character of `text` is one libyaml takes as printable and not as a line break of
/// its own: no tabs, carriage returns or other control characters, no byte-order mark, no
/// NEL/LS/PS breaks. (Tabs and `\r` are legal YAML, but outside the subset.) Checked on the UTF-8
/// bytes: each refused character above ASCII has one encoding, found by its first two bytes.
fn printable(text: &str) -> bool {
    let bytes = text.as_bytes();
    // What may start a refused character: a control byte, or the first byte of the refused
    // characters above ASCII. Checked 32 bytes at a time without branching (the compiler
    // vectorizes it); only a chunk holding such a byte is looked at closely.
    let suspect =
        |b: u8| (b < 0x20 && b != b'\n') | (b == 0x7f) | (b == 0xc2) | (b == 0xe2) | (b == 0xef);
    bytes.chunks(32).enumerate().all(|(n, chunk)| {
        if !chunk.iter().fold(false, |any, &b| any | suspect(b)) {
            return true;
        }
        (n * 32..n * 32 + chunk.len()).all(|i| match bytes[i] {
            0x00..=0x09 | 0x0b..=0x1f | 0x7f => false,
            // U+0080..U+009F (C1 controls, NEL among them).
            0xc2 => !matches!(bytes.get(i + 1), Some(0x80..=0x9f)),
            // U+2028 and U+2029 (line and paragraph separators).
            0xe2 => !matches!(bytes.get(i + 1..i + 3), Some([0x80, 0xa8 | 0xa9])),
            // U+FEFF (byte-order mark), U+FFFE and U+FFFF.
            0xef => !matches!(
                bytes.get(i + 1..i + 3),
                Some([0xbb, 0xbf] | [0xbf, 0xbe | 0xbf])
            ),
            _ => true,
        })
    })
}

/// A node of the document.
#[derive(Debug, PartialEq)]
enum Node<'a> {
    /// A scalar: its text (quotes, escapes and folding resolved) and whether it was plain.
    Scalar { text: Cow<'a, str>, plain: bool },
    /// A sequence.
    Seq(Vec<Node<'a>>),
    /// A mapping, in document order; keys are scalars.
    Map(Vec<(Node<'a>, Node<'a>)>),
}

impl<'a> Node<'a> {
    fn plain(text: impl Into<Cow<'a, str>>) -> Self {
        Node::Scalar {
            text: text.into(),
            plain: true,
        }
    }

    fn quoted(text: Cow<'a, str>) -> Self {
        Node::Scalar { text, plain: false }
    }
}

/// One line: its indentation (spaces) and the rest.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

impl Line<'_> {
    /// Empty, or only a comment.
    fn is_blank(&self) -> bool {
        self.text.is_empty() || self.text.starts_with('#')
    }
}

/// Whether a line's text starts a sequence entry.
fn is_entry(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Whether a plain scalar may not start `text` here: YAML's indicators, except `-`, `?` and `:`
/// followed by a non-space (which start plain scalars, as serde_yaml writes `-x` or `:x`), and
/// what would be a document marker at the start of a line.
fn starts_with_indicator(text: &str) -> bool {
    let indicator_then_space = |c: char| {
        text.strip_prefix(c)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    };
    text.starts_with([
        ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`',
    ]) || ['-', '?', ':'].into_iter().any(indicator_then_space)
        || text.starts_with("---")
        || text.starts_with("...")
}

/// Where `first` followed by `second` first occurs in `text` (a byte scan: `str::find` sets up a
/// substring search per call, a tenth of the reading time for two-byte needles on short lines).
fn find_pair(text: &str, first: u8, second: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = bytes[from..].iter().position(|&b| b == second) {
        let at = from + i;
        if at > 0 && bytes[at - 1] == first {
            return Some(at - 1);
        }
        from = at + 1;
    }
    None
}

/// Whether `text` holds a comment start (` #`).
fn has_comment(text: &str) -> bool {
    find_pair(text, b' ', b'#').is_some()
}

/// `text` without a trailing comment (` #…`) and trailing spaces.
fn without_comment(text: &str) -> &str {
    let end = find_pair(text, b' ', b'#').unwrap_or(text.len());
    text[..end].trim_end_matches(' ')
}

/// A cursor over the lines of the text.
struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        let lines = text
            .split('\n')
            .map(|line| {
                let text = line.trim_start_matches(' ');
                Line {
                    indent: line.len() - text.len(),
                    text,
                }
            })
            .collect();
        Parser { lines, pos: 0 }
    }

    /// The next line that is not blank, without moving past it.
    fn peek(&mut self) -> Option<Line<'a>> {
        while let Some(line) = self.lines.get(self.pos) {
            if !line.is_blank() {
                return Some(*line);
            }
            self.pos += 1;
        }
        None
    }

    /// The whole document: one block mapping or sequence, then nothing but blank lines. (A first
    /// line that is a directive or a document marker is no key, and declines the document.)
    fn document(&mut self) -> Option<Node<'a>> {
        let first = self.peek()?;
        let node = self.block(first.indent, 0)?;
        self.peek().is_none().then_some(node)
    }

    /// The block that starts on the current line, at `indent`.
    fn block(&mut self, indent: usize, depth: usize) -> Option<Node<'a>> {
        if depth > YAML_MAX_NESTING {
            return None;
        }
        let line = self.peek()?;
        if is_entry(line.text) {
            self.sequence(indent, depth)
        } else {
            self.mapping(indent, depth)
        }
    }

    /// A block mapping whose keys sit at `indent`.
    fn mapping(&mut self, indent: usize, depth: usize) -> Option<Node<'a>> {
        let mut entries = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent || is_entry(line.text) {
                return None;
            }
            let (key, rest) = key(line.text)?;
            let value = self.value(indent, rest, depth)?;
            entries.push((key, value));
        }
        (!entries.is_empty()).then_some(Node::Map(entries))
    }

    /// The value of a mapping entry whose key sits at `indent`; `rest` is what follows the key's
    /// `:` on its line.
    fn value(&mut self, indent: usize, rest: &'a str, depth: usize) -> Option<Node<'a>> {
        if rest.is_empty() || rest.starts_with('#') {
            self.pos += 1;
            return match self.peek() {
                Some(next) if next.indent > indent => self.block(next.indent, depth + 1),
                Some(next) if next.indent == indent && is_entry(next.text) => {
                    self.sequence(indent, depth + 1)
                }
                _ => Some(Node::plain("")),
            };
        }
        self.inline(rest, indent)
    }

    /// A block sequence whose `-` sit at `indent`.
    fn sequence(&mut self, indent: usize, depth: usize) -> Option<Node<'a>> {
        let mut items = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent < indent || (line.indent == indent && !is_entry(line.text)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let after_dash = &line.text[1..];
            let rest = after_dash.trim_start_matches(' ');
            if rest.is_empty() || rest.starts_with('#') {
                self.pos += 1;
                items.push(match self.peek() {
                    Some(next) if next.indent > indent => self.block(next.indent, depth + 1)?,
                    _ => Node::plain(""),
                });
                continue;
            }
            if is_entry(rest) || key(rest).is_some() {
                // A sequence or mapping that starts on the entry's line: its entries or keys sit
                // where this one does.
                let column = indent + 1 + (after_dash.len() - rest.len());
                self.lines[self.pos] = Line {
                    indent: column,
                    text: rest,
                };
                items.push(self.block(column, depth + 1)?);
            } else {
                items.push(self.inline(rest, indent)?);
            }
        }
        Some(Node::Seq(items))
    }

    /// A scalar (or `[]`, `{}`) that starts at `text` on the current line, inside a block at
    /// `indent`: its continuation lines must be indented further.
    fn inline(&mut self, text: &'a str, indent: usize) -> Option<Node<'a>> {
        if text.starts_with('\'') || text.starts_with('"') {
            return self.quoted(text, indent).map(Node::quoted);
        }
        match without_comment(text) {
            "[]" => {
                self.pos += 1;
                return Some(Node::Seq(Vec::new()));
            }
            "{}" => {
                self.pos += 1;
                return Some(Node::Map(Vec::new()));
            }
            _ => {}
        }
        let first = plain_text(text, false)?;
        // A comment ends the scalar: no line may continue it.
        let mut commented = has_comment(text);
        self.pos += 1;
        // Continuation lines fold into one line, a space for each break.
        let mut folded: Option<String> = None;
        while let Some(line) = self.lines.get(self.pos) {
            if line.text.is_empty() {
                // Empty lines end the scalar when what follows is outside it; inside it they
                // would be line breaks of its text, which is left to serde_yaml.
                match self.lines[self.pos..].iter().find(|l| !l.text.is_empty()) {
                    Some(next) if next.indent > indent => return None,
                    _ => break,
                }
            }
            if line.indent <= indent {
                break;
            }
            if commented || line.text.starts_with('#') {
                return None;
            }
            commented = has_comment(line.text);
            let more = plain_text(line.text, true)?;
            let folded = folded.get_or_insert_with(|| first.to_owned());
            folded.push(' ');
            folded.push_str(more);
            self.pos += 1;
        }
        Some(match folded {
            Some(text) => Node::plain(text),
            None => Node::plain(first),
        })
    }

    /// A quoted scalar starting at `text` (its opening quote) on the current line, possibly
    /// folded over the following lines, which must be indented beyond `indent`. Moves past its
    /// last line, which must hold nothing after the closing quote but a comment.
    fn quoted(&mut self, text: &'a str, indent: usize) -> Option<Cow<'a, str>> {
        let double = text.starts_with('"');
        let body = &text[1..];
        // Text without escapes, folds or doubled quotes on one line is borrowed as it stands.
        if let Some(end) = simple_quoted_end(body, double) {
            let after = &body[end + 1..];
            if !only_comment(after) {
                return None;
            }
            self.pos += 1;
            return Some(Cow::Borrowed(&body[..end]));
        }
        let mut out = String::new();
        // Escaped characters (`\ ` too) are text, never folded away.
        let mut kept = 0;
        let mut line = body;
        loop {
            match scan_quoted(line, double, &mut out, &mut kept)? {
                Scan::Closed(after) => {
                    if !only_comment(after) {
                        return None;
                    }
                    self.pos += 1;
                    return Some(Cow::Owned(out));
                }
                Scan::Open { escaped_break } => {
                    if !escaped_break {
                        // Spaces before a fold are not part of the text.
                        out.truncate(out.trim_end_matches(' ').len().max(kept));
                    }
                    self.pos += 1;
                    let mut empty = 0;
                    let next = loop {
                        let next = self.lines.get(self.pos)?;
                        if !next.text.is_empty() {
                            break *next;
                        }
                        empty += 1;
                        self.pos += 1;
                    };
                    if next.indent <= indent || (escaped_break && empty > 0) {
                        return None;
                    }
                    if !escaped_break {
                        if empty == 0 {
                            out.push(' ');
                        } else {
                            out.extend(std::iter::repeat_n('\n', empty));
                        }
                    }
                    line = next.text;
                }
            }
        }
    }
}

/// The end of a quoted scalar's body (the index of its closing quote) when the body holds no
/// escape, no doubled quote and closes on this line.
fn simple_quoted_end(body: &str, double: bool) -> Option<usize> {
    if double {
        let end = body.find(['"', '\\'])?;
        (body.as_bytes()[end] == b'"').then_some(end)
    } else {
        let end = body.find('\'')?;
        (!body[end + 1..].starts_with('\'')).then_some(end)
    }
}

/// What a scan of one line of a quoted scalar found.
enum Scan<'a> {
    /// The closing quote, and what follows it on the line.
    Closed(&'a str),
    /// The end of the line; `escaped_break` when it ended in `\` (double-quoted).
    Open { escaped_break: bool },
}

/// Appends one line of a quoted scalar's text to `out`, resolving escapes (double) or doubled
/// quotes (single); `None` for an escape outside the subset. `kept` is set to the length of `out`
/// after each escape.
fn scan_quoted<'a>(
    line: &'a str,
    double: bool,
    out: &mut String,
    kept: &mut usize,
) -> Option<Scan<'a>> {
    let mut chars = line.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' if !double => {
                if line[i + 1..].starts_with('\'') {
                    chars.next();
                    out.push('\'');
                } else {
                    return Some(Scan::Closed(&line[i + 1..]));
                }
            }
            '"' if double => return Some(Scan::Closed(&line[i + 1..])),
            '\\' if double => {
                let Some((_, e)) = chars.next() else {
                    return Some(Scan::Open {
                        escaped_break: true,
                    });
                };
                let hex = |chars: &mut std::str::CharIndices<'_>, n: usize| {
                    let mut code = 0u32;
                    for _ in 0..n {
                        code = code * 16 + chars.next()?.1.to_digit(16)?;
                    }
                    char::from_u32(code)
                };
                out.push(match e {
                    '0' => '\0',
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    't' => '\t',
                    'n' => '\n',
                    'v' => '\u{b}',
                    'f' => '\u{c}',
                    'r' => '\r',
                    'e' => '\u{1b}',
                    ' ' => ' ',
                    '"' => '"',
                    '\\' => '\\',
                    'N' => '\u{85}',
                    '_' => '\u{a0}',
                    'L' => '\u{2028}',
                    'P' => '\u{2029}',
                    'x' => hex(&mut chars, 2)?,
                    'u' => hex(&mut chars, 4)?,
                    'U' => hex(&mut chars, 8)?,
                    _ => return None,
                });
                *kept = out.len();
            }
            c => out.push(c),
        }
    }
    Some(Scan::Open {
        escaped_break: false,
    })
}

/// Whether what follows a closing quote is nothing, or a comment.
fn only_comment(after: &str) -> bool {
    let rest = after.trim_start_matches(' ');
    rest.is_empty() || (rest.len() < after.len() && rest.starts_with('#'))
}

/// The text of a plain scalar on one line (`continued`: a continuation line), or `None` when the
/// line holds more than a plain scalar can (a `: `, a start that YAML reads otherwise).
fn plain_text(text: &str, continued: bool) -> Option<&str> {
    let text = without_comment(text);
    if text.is_empty()
        || (!continued && starts_with_indicator(text))
        || (continued && text.starts_with(['-', '#', '?', ':']))
        || find_pair(text, b':', b' ').is_some()
        || text.ends_with(':')
    {
        return None;
    }
    Some(text)
}

/// The key of a mapping entry that starts `text`, and what follows its `:`; `None` when `text` is
/// not such an entry within the subset.
fn key(text: &str) -> Option<(Node<'_>, &str)> {
    let (key, after) = if text.starts_with('\'') || text.starts_with('"') {
        let double = text.starts_with('"');
        let body = &text[1..];
        let mut out = String::new();
        let Scan::Closed(after) = scan_quoted(body, double, &mut out, &mut 0)? else {
            return None;
        };
        let raw = &body[..body.len() - after.len() - 1];
        let text = if raw == out {
            Cow::Borrowed(raw)
        } else {
            Cow::Owned(out)
        };
        (Node::quoted(text), after.strip_prefix(':')?)
    } else {
        if starts_with_indicator(text) {
            return None;
        }
        let bytes = text.as_bytes();
        let colon = (0..bytes.len())
            .find(|&i| bytes[i] == b':' && matches!(bytes.get(i + 1), None | Some(b' ')))?;
        let key = &text[..colon];
        if key.is_empty() || key.ends_with([' ', ':']) || has_comment(key) {
            return None;
        }
        (Node::plain(key), &text[colon + 1..])
    };
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    Some((key, after.trim_start_matches(' ')))
}

/// Why the fast reader declined while handing values to the target type. Never shown: a decline
/// sends the text to serde_yaml.
#[derive(Debug)]
struct Declined;

impl fmt::Display for Declined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("outside the block-style subset")
    }
}

impl std::error::Error for Declined {}

impl de::Error for Declined {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Declined
    }
}

/// Hands a node to the target type as serde_yaml would hand the same YAML.
struct NodeDe<'de>(&'de Node<'de>);

/// A plain scalar serde_yaml would read as null.
fn plain_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

/// A plain scalar whose reading by serde_yaml is plain to see.
enum Plain<'t> {
    Null,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Text(&'t str),
}

/// What serde_yaml reads the plain scalar `text` as, where that is plain to see; `None` for the
/// rest (numbers with signs, points, exponents or radix prefixes, leading zeros, words that spell
/// a keyword in other cases), which serde_yaml reads itself.
fn classify(text: &str) -> Option<Plain<'_>> {
    if plain_null(text) {
        return Some(Plain::Null);
    }
    match text {
        "true" | "True" | "TRUE" => return Some(Plain::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Plain::Bool(false)),
        _ => {}
    }
    let bytes = text.as_bytes();
    let decimal = |digits: &[u8]| {
        !digits.is_empty()
            && digits.len() <= 20
            && digits.iter().all(u8::is_ascii_digit)
            && (digits[0] != b'0' || digits.len() == 1)
    };
    if decimal(bytes) {
        return text.parse().ok().map(Plain::Uint);
    }
    if let Some(digits) = text.strip_prefix('-') {
        if decimal(digits.as_bytes()) && digits != "0" {
            return text.parse().ok().map(Plain::Int);
        }
        return None;
    }
    let first_is_letter = bytes.first().is_some_and(u8::is_ascii_alphabetic);
    // Every other word is text to serde_yaml: no integer starts with a letter, and the only
    // floats that do (`inf`, `nan`, `infinity`) it refuses as numbers.
    let keyword = ["null", "true", "false", "inf", "infinity", "nan"]
        .iter()
        .any(|k| text.eq_ignore_ascii_case(k));
    (first_is_letter && !keyword).then_some(Plain::Text(text))
}

impl<'de> NodeDe<'de> {
    /// The plain scalar's text, for serde_yaml to read alone; `Declined` for anything else.
    fn plain_alone(&self) -> Result<&'de str, Declined> {
        match self.0 {
            // Alone, text that starts like an indicator would be read as one: `-` (a key may be
            // `-`) as a sequence, `---` as a document marker.
            Node::Scalar { text, plain: true } if !starts_with_indicator(text) => Ok(text),
            _ => Err(Declined),
        }
    }
}

/// Hands a plain scalar to serde_yaml alone, for the given `deserialize_*` method.
macro_rules! through_serde_yaml {
    ($($method:ident $(($($arg:ident: $ty:ty),*))?),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($($arg: $ty,)*)? visitor: V) -> Result<V::Value, Declined> {
                let text = self.plain_alone()?;
                de::Deserializer::$method(serde_yaml::Deserializer::from_str(text), $($($arg,)*)? visitor)
                    .map_err(|_| Declined)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = Declined;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Scalar { text, plain: false } => visitor.visit_str(text),
            Node::Scalar { text, plain: true } => match classify(text) {
                Some(Plain::Null) => visitor.visit_unit(),
                Some(Plain::Bool(b)) => visitor.visit_bool(b),
                Some(Plain::Uint(n)) => visitor.visit_u64(n),
                Some(Plain::Int(n)) => visitor.visit_i64(n),
                Some(Plain::Text(t)) => visitor.visit_str(t),
                None => de::Deserializer::deserialize_any(
                    serde_yaml::Deserializer::from_str(self.plain_alone()?),
                    visitor,
                )
                .map_err(|_| Declined),
            },
            Node::Seq(items) => visitor.visit_seq(Items(items.iter())),
            Node::Map(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Scalar { text, .. } => visitor.visit_str(text),
            _ => Err(Declined),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Scalar { text, plain: true } if plain_null(text) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Seq(items) => visitor.visit_seq(Items(items.iter())),
            // serde_yaml reads an empty plain scalar (`key:`) as an empty sequence.
            Node::Scalar { text, plain: true } if text.is_empty() => {
                visitor.visit_seq(Items([].iter()))
            }
            _ => Err(Declined),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        let entries: &'de [(Node<'de>, Node<'de>)] = match self.0 {
            Node::Map(entries) => entries,
            // serde_yaml reads an empty plain scalar (`key:`) as an empty mapping.
            Node::Scalar { text, plain: true } if text.is_empty() => &[],
            _ => return Err(Declined),
        };
        visitor.visit_map(Entries {
            entries: entries.iter(),
            value: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Declined> {
        self.deserialize_map(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Declined> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Declined> {
        match self.0 {
            Node::Scalar { text, .. } if !text.is_empty() => visitor.visit_enum(UnitVariant(text)),
            _ => Err(Declined),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Declined> {
        visitor.visit_unit()
    }

    through_serde_yaml! {
        deserialize_bool, deserialize_i8, deserialize_i16, deserialize_i32, deserialize_i64,
        deserialize_i128, deserialize_u8, deserialize_u16, deserialize_u32, deserialize_u64,
        deserialize_u128, deserialize_f32, deserialize_f64, deserialize_char, deserialize_unit,
        deserialize_bytes, deserialize_byte_buf,
        deserialize_unit_struct(name: &'static str),
        deserialize_tuple(len: usize),
        deserialize_tuple_struct(name: &'static str, len: usize),
    }
}

/// The items of a sequence.
struct Items<'de>(std::slice::Iter<'de, Node<'de>>);

impl<'de> de::SeqAccess<'de> for Items<'de> {
    type Error = Declined;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Declined> {
        self.0
            .next()
            .map(|node| seed.deserialize(NodeDe(node)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The entries of a mapping.
struct Entries<'de> {
    entries: std::slice::Iter<'de, (Node<'de>, Node<'de>)>,
    value: Option<&'de Node<'de>>,
}

impl<'de> de::MapAccess<'de> for Entries<'de> {
    type Error = Declined;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Declined> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(NodeDe(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Declined> {
        seed.deserialize(NodeDe(self.value.take().ok_or(Declined)?))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum written as a scalar: a unit variant, by name.
struct UnitVariant<'de>(&'de str);

impl<'de> de::EnumAccess<'de> for UnitVariant<'de> {
    type Error = Declined;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Declined> {
        let variant = seed.deserialize(de::value::StrDeserializer::<Declined>::new(self.0))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'de> {
    type Error = Declined;

    fn unit_variant(self) -> Result<(), Declined> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, Declined> {
        Err(Declined)
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, Declined> {
        Err(Declined)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Declined> {
        Err(Declined)
    }
}

#[cfg(test)]
mod tests;

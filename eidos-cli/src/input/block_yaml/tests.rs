//! The fast reader against serde_yaml: on the fixtures, on each construct of the subset, on what
//! it must leave to serde_yaml, and on generated and damaged documents (proptest).

use super::*;
use eidos_plugin_api::Snapshot;
use proptest::prelude::*;
use std::path::Path;

/// Reads `text` both ways as a `T`; fails the test if the fast reader answers differently from
/// serde_yaml, or answers where serde_yaml refuses. Returns whether the fast reader answered.
fn agrees<T>(text: &str) -> bool
where
    T: DeserializeOwned + PartialEq + fmt::Debug,
{
    let fast = from_block_yaml::<T>(text);
    let slow = serde_yaml::from_str::<T>(text);
    match (fast, slow) {
        (None, _) => false,
        (Some(fast), Ok(slow)) => {
            assert_eq!(fast, slow, "the two readers differ on:\n{text}");
            true
        }
        (Some(fast), Err(e)) => {
            panic!("the fast reader read what serde_yaml refuses ({e}):\n{text}\nas {fast:?}")
        }
    }
}

/// Reads `text` both ways as YAML values, JSON values and (when it is one) a snapshot; returns
/// whether the fast reader answered as a YAML value.
fn agrees_every_way(text: &str) -> bool {
    let answered = agrees::<serde_yaml::Value>(text);
    agrees::<serde_json::Value>(text);
    agrees::<Snapshot>(text);
    answered
}

fn read(text: &str) -> serde_yaml::Value {
    assert!(agrees_every_way(text), "the fast reader declined:\n{text}");
    serde_yaml::from_str(text).unwrap()
}

fn declined(text: &str) {
    assert!(
        from_block_yaml::<serde_yaml::Value>(text).is_none(),
        "the fast reader should leave this to serde_yaml:\n{text}"
    );
    // serde_yaml's reading stands (or its refusal), whatever it is.
    agrees_every_way(text);
}

/// Every YAML file under `dir`, recursively.
fn yaml_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn every_fixture_reads_as_serde_yaml_reads_it_and_every_snapshot_fast() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in ["tests/fixtures", "recipes/data"] {
        yaml_files(&root.join(dir), &mut files);
    }
    assert!(files.len() >= 5, "{files:?}");
    let mut snapshots = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let answered = agrees_every_way(&text);
        if serde_yaml::from_str::<Snapshot>(&text).is_ok_and(|s| s.kind == "Snapshot") {
            assert!(
                answered,
                "the fast reader declined the snapshot {}",
                path.display()
            );
            snapshots += 1;
        }
    }
    assert!(snapshots >= 1, "{snapshots}");
}

#[test]
fn eidos_written_snapshots_read_fast_and_the_same() {
    let snapshot: Snapshot = serde_yaml::from_str(eidos_test_fixtures::H100_EKS_GO_YAML).unwrap();
    let written = serde_yaml::to_string(&snapshot).unwrap();
    assert!(agrees_every_way(&written));
    assert_eq!(from_block_yaml::<Snapshot>(&written), Some(snapshot));
}

#[test]
fn plain_scalars_are_typed_as_serde_yaml_types_them() {
    let text = "\
null: [null, ~, Null, NULL, '', nul]
bools: [true, True, TRUE, false, tRUE]
";
    // Flow sequences are outside the subset; the same scalars in block style are inside.
    declined(text);
    let mut block = String::from("v:\n");
    for scalar in [
        "null",
        "~",
        "Null",
        "NULL",
        "nULL",
        "true",
        "True",
        "TRUE",
        "tRUE",
        "false",
        "yes",
        "no",
        "on",
        "off",
        "y",
        "0",
        "7",
        "42",
        "007",
        "-0",
        "-7",
        "+7",
        "1.5",
        "-1.5",
        ".5",
        "1e3",
        "1E-3",
        ".inf",
        "-.inf",
        ".nan",
        "inf",
        "nan",
        "infinity",
        "Infinity",
        "0x1F",
        "0o17",
        "0b101",
        "-0x1F",
        "18446744073709551615",
        "-9223372036854775808",
        "12:30",
        "2026-03-11",
        "2026-03-11T14:02:37Z",
        "0.7.1",
        "10.0.0.1",
        "v1",
        "a b c",
        "a#b",
        "a:b",
        "http://x/y",
        "x]",
        "x}",
        "x,y",
        "é",
        "日本",
        "--x",
        "-x",
    ] {
        block.push_str(&format!("- {scalar}\n"));
    }
    let value = read(&block);
    assert_eq!(value["v"][5], serde_yaml::Value::Bool(true));
    assert_eq!(value["v"][15], serde_yaml::Value::from(0u64));
    // Beyond 64 bits no YAML value holds an integer, and a reading refuses it: with serde_yaml's
    // message, which is the one the user sees.
    let snapshot = "kind: Snapshot\napiVersion: snapshot.dgxc.io/v1\nmeasurements:\n- type: os\n  subtypes:\n  - subtype: s\n    data:\n      a: 18446744073709551616\n      b: -9223372036854775809\n      c: 99999999999999999999\n";
    assert!(!agrees::<Snapshot>(snapshot));
    let err = crate::input::parse_snapshot(snapshot.as_bytes()).unwrap_err();
    assert!(
        err.contains("data.a: invalid value: an integer beyond 64 bits"),
        "{err}"
    );
}

#[test]
fn quoted_scalars_are_text_with_escapes_and_folds_resolved() {
    read(
        "\
a: 'it''s'
b: \"tab\\there \\\"quoted\\\" \\\\ \\x41\\u00e9\\U0001F600 \\0\\a\\b\\v\\f\\r\\e\\N\\_\\L\\P\"
c: '42'
d: \"true\"
e: ''
f: \"\"
g: 'a # not a comment'
h: 'x' # a comment
'quoted key': 1
\"double \\\"key\\\"\": 2
'it''s a key': 3
",
    );
    // Folded over lines, as serde_yaml writes long text.
    let value = read(
        "\
k: 'one two
  three   
  four'
l: 'para

  graph


  end'
m: \"joined\\
  here \\
  and  
  folded\"
n: \"escaped space\\ 
  kept\"
",
    );
    assert_eq!(value["k"], "one two three four");
    assert_eq!(value["l"], "para\ngraph\n\nend");
    assert_eq!(value["m"], "joinedhere and folded");
    assert_eq!(value["n"], "escaped space  kept");
}

#[test]
fn block_structure_reads_in_every_layout_the_writers_use() {
    // serde_yaml's layout: sequences at the key's indentation.
    read(
        "\
kind: Snapshot
apiVersion: snapshot.dgxc.io/v1
measurements:
- type: os
  subtypes:
  - subtype: grub
    data:
      quiet: ''
      BOOT_IMAGE: /boot/vmlinuz
  - subtype: empty
    data: {}
- type: gpu
  subtypes: []
",
    );
    // The Go tool's layout: sequences indented under the key, comments, blank lines.
    read(
        "\
# a comment
kind: Snapshot   # trailing comment

measurements:
    -   type: SystemD
        subtypes:
            - subtype: a.service
              data:
                  After: '[a b]'
                  Pid:
                  Nested:
                    - - x
",
    );
    read(
        "\
list:
  -
    a: 1
  - # empty entry with a comment
  - plain
    folded
    over lines
  - - nested
  -   spaced: value
      more: 2
top: last
",
    );
}

#[test]
fn what_lies_outside_the_subset_is_left_to_serde_yaml() {
    for text in [
        "---\na: 1\n",
        "a: 1\n---\nb: 2\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: &x 1\nb: *x\n",
        "a: !tag 1\n",
        "a: [1, 2]\n",
        "a: {b: 1}\n",
        "a: |\n  text\n",
        "a: >\n  text\n",
        "a:\tb\n",
        "\ta: b\n",
        "a: b\r\n",
        "? a\n: b\n",
        "a: b: c\n",
        "a: b\n  c: d\n",
        "a: b # c\n  d\n",
        "a: 'open\n",
        "a: 'x'y\n",
        "a: \"\\q\"\n",
        "a: \"\\ud800\"\n",
        "a:\n - 1\n  - 2\n",
        "a: 1\n - 2\n",
        "- a\nb: 1\n",
        "just a scalar\n",
        "",
        "# only a comment\n",
        "a: 'x\nb: y'\n",
        "a: plain\n\n  continued\n",
        "a: \u{feff}x\n",
        "a: x\u{85}y\n",
        "a: x\u{1}y\n",
        "a: -\n",
        "a: @x\n",
        "a: `x\n",
    ] {
        declined(text);
    }
}

#[test]
fn every_ascii_character_in_every_place_reads_the_same_or_is_declined() {
    // Each printable ASCII character, and pairs of them, where a scalar, a key, a continuation
    // line or a quoted text starts, ends or goes on.
    let chars: Vec<char> = (' '..='~').collect();
    let mut pieces: Vec<String> = chars.iter().map(char::to_string).collect();
    for a in &chars {
        for b in ['-', ' ', ':', '#', '\'', 'x'] {
            pieces.push(format!("{a}{b}"));
        }
    }
    for p in &pieces {
        for text in [
            format!("k: {p}\n"),
            format!("k: {p}x\n"),
            format!("k: x{p}\n"),
            format!("{p}: v\n"),
            format!("{p}x: v\n"),
            format!("k: a\n  {p}\n"),
            format!("k: a\n  {p}b\n"),
            format!("- {p}\n- a\n  {p}\n"),
            format!("k: 'a\n  {p}'\n"),
            format!("k: \"a\n  {p}\"\n"),
            format!("k:\n  {p}\n"),
            format!("k: v\n{p}\n"),
            format!("- {p}: v\n"),
            format!("- {p}\n"),
            format!("k: {p} {p}\n"),
            format!("k: '{p}'\n"),
            format!("k: \"{p}\"\n"),
            format!("'{p}': v\n"),
            format!("k:\n- {p}\n"),
        ] {
            agrees_every_way(&text);
        }
    }
}

#[test]
fn nesting_beyond_the_limit_is_left_to_serde_yaml() {
    let mut deep = String::new();
    for depth in 0..=YAML_MAX_NESTING + 1 {
        deep.push_str(&" ".repeat(depth));
        deep.push_str("k:\n");
    }
    declined(&deep);
    let mut shallow = String::new();
    for depth in 0..YAML_MAX_NESTING / 2 {
        shallow.push_str(&" ".repeat(depth));
        shallow.push_str("k:\n");
    }
    read(&shallow);
}

#[test]
fn a_text_of_too_many_lines_is_left_to_serde_yaml() {
    declined(&format!("{}a: 1\n", "\n".repeat(MAX_LINES)));
    read(&format!("{}a: 1\n", "\n".repeat(1000)));
}

/// The characters the byte-wise check in [`printable`] stands for.
fn refused(c: char) -> bool {
    (c < ' ' && c != '\n')
        || matches!(
            c,
            '\u{7f}'..='\u{9f}' | '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
        )
}

/// Text for generated documents: a mix of ordinary words, what YAML reads specially, and what
/// forces quoting.
fn nasty_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_./-]{0,12}",
        "[0-9+.eE-]{1,6}",
        prop::sample::select(vec![
            "", "~", "null", "true", "False", "yes", "0x1F", "1.5", ".inf", "-0", "007", "12:30",
            "- x", "? x", "a: b", "a #b", "#x", "'", "\"", "''", "[x", "{x", "&a", "*a", "!t", "|",
            ">", "%", "@", "`", "---", "...", " lead", "trail ", "é日本", "\\",
        ])
        .prop_map(str::to_owned),
        "[ -~]{0,30}",
        "[a-z ]{60,120}",
        "\\PC{0,12}",
        "[a-z\\n\\t ]{0,20}",
    ]
}

/// YAML value trees of `text` leaves (besides nulls, booleans and integers), and mappings keyed by
/// `key`, each collection holding at least `least` items.
fn trees(
    text: BoxedStrategy<serde_yaml::Value>,
    key: BoxedStrategy<String>,
    least: usize,
) -> impl Strategy<Value = serde_yaml::Value> {
    use serde_yaml::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        text,
    ];
    leaf.prop_recursive(5, 80, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), least..6).prop_map(Value::Sequence),
            prop::collection::vec((key.clone(), inner), least..6).prop_map(|entries| {
                Value::Mapping(
                    entries
                        .into_iter()
                        .map(|(k, v)| (Value::String(k), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// A YAML value tree of generated text, numbers and booleans.
fn any_tree() -> impl Strategy<Value = serde_yaml::Value> {
    let text = prop_oneof![
        (-1e6f64..1e6).prop_map(serde_yaml::Value::from),
        nasty_text().prop_map(serde_yaml::Value::String),
    ];
    trees(text.boxed(), nasty_text().boxed(), 0)
}

/// A single-line string without characters that make serde_yaml write a block scalar.
fn tame_text() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,40}", "[a-z ]{60,160}", "[a-zé日 ]{0,20}"]
}

/// A key serde_yaml writes as a simple key (a longer one it writes as `? KEY`).
fn tame_key() -> impl Strategy<Value = String> {
    prop_oneof!["[ -~]{0,40}", "[a-z ]{60,100}", "[a-zé日 ]{0,20}"]
}

/// A YAML value tree that serde_yaml writes within the fast reader's subset.
fn tame_tree() -> impl Strategy<Value = serde_yaml::Value> {
    let text = tame_text().prop_map(serde_yaml::Value::String);
    trees(text.boxed(), tame_key().boxed(), 1)
}

/// A document-level mapping holding `tree`, as serde_yaml writes it.
fn written(tree: serde_yaml::Value) -> String {
    let mut root = serde_yaml::Mapping::new();
    root.insert("root".into(), tree);
    serde_yaml::to_string(&root).unwrap()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(300),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// Short documents of the characters YAML gives meaning to: read the same, or declined.
    #[test]
    fn short_documents_of_yaml_characters_read_the_same_or_are_declined(
        chars in prop::collection::vec(
            prop::sample::select(vec![
                'a', 'b', '0', '1', ' ', ' ', ' ', '\n', '\n', ':', ':', '-', '-', '#', '\'', '"',
                '?', '[', ']', '{', '}', ',', '&', '*', '!', '|', '>', '%', '@', '`', '.', '\\',
                'é',
            ]),
            0..40,
        )
    ) {
        let text: String = chars.into_iter().collect();
        agrees_every_way(&text);
    }

    /// The byte scan for a two-byte needle finds what `str::find` finds.
    #[test]
    fn find_pair_finds_what_find_finds(text in "[ #:a]{0,12}") {
        prop_assert_eq!(find_pair(&text, b' ', b'#'), text.find(" #"));
        prop_assert_eq!(find_pair(&text, b':', b' '), text.find(": "));
    }

    /// The byte-wise check refuses exactly the characters it stands for.
    #[test]
    fn printable_refuses_exactly_the_refused_characters(
        chars in prop::collection::vec(
            prop_oneof![
                any::<char>(),
                prop::sample::select(vec![
                    '\u{80}', '\u{85}', '\u{9f}', '\u{a0}', '\u{2027}', '\u{2028}', '\u{2029}',
                    '\u{202a}', '\u{feff}', '\u{fefe}', '\u{fffd}', '\u{fffe}', '\u{ffff}',
                    '\t', '\r', '\u{7f}', '\n', 'a',
                ]),
            ],
            0..80,
        )
    ) {
        let text: String = chars.iter().collect();
        prop_assert_eq!(printable(&text), !chars.iter().any(|&c| refused(c)), "{:?}", text);
    }

    /// Whatever serde_yaml writes, the fast reader reads as serde_yaml does, or declines.
    #[test]
    fn generated_documents_read_the_same_or_are_declined(tree in any_tree()) {
        agrees_every_way(&written(tree));
    }

    /// What serde_yaml writes of single-line text, the fast reader reads itself (the subset
    /// covers serde_yaml's own output).
    #[test]
    fn generated_single_line_documents_read_fast(tree in tame_tree()) {
        let text = written(tree);
        prop_assert!(agrees_every_way(&text), "declined:\n{}", text);
    }

    /// The Go tool's fixture with characters inserted, removed or replaced: the fast reader never
    /// reads what serde_yaml refuses, and never reads it differently.
    #[test]
    fn damaged_documents_read_the_same_or_are_declined(
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), 0..3u8, prop::sample::select(vec![
                " ", "  ", "\n", "\n  ", "-", "- ", ":", ": ", "#", " #", "'", "''", "\"", "\\",
                "[", "]", "{", "}", "&", "*", "!", "|", ">", "?", ",", "0", "x", "é", "\t",
            ])),
            1..4,
        )
    ) {
        let mut text = eidos_test_fixtures::H100_EKS_GO_YAML.to_owned();
        for (at, how, piece) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            match how {
                0 => text.insert_str(i, piece),
                1 => {
                    let end = (i + piece.len()).min(text.len());
                    let mut end = end;
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(i..end, "");
                }
                _ => {
                    let mut end = (i + 1).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    text.replace_range(i..end, piece);
                }
            }
        }
        agrees_every_way(&text);
    }
}

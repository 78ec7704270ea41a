//! Turns D-Bus property values into readings.
//!
//! Scalars keep their type: every integer becomes an exact integer reading (`u64::MAX`, systemd's
//! "infinity", stays 18446744073709551615), booleans stay booleans, strings, object paths and
//! signatures become strings. Containers become one line of text in the shape the original Go
//! tool printed, which operators already read and compare:
//!
//! - arrays and structures: their elements separated by single spaces inside `[` `]`
//!   (`[network.target local-fs.target]`, an empty array `[]`, the `(bs)` pair `false,""` as
//!   `[false ]`); byte arrays list their bytes as decimal numbers;
//! - dictionaries: `map[key:value ...]`, sorted by key;
//! - a variant inside a container: the value it holds.

use eidos_plugin_api::Reading;
use std::fmt::Write as _;
use zbus::Variant;

/// The reading for one property value.
pub fn to_reading(value: &Variant<'_>) -> Reading {
    match value {
        Variant::Bool(b) => Reading::Bool(*b),
        Variant::U8(n) => Reading::from(u32::from(*n)),
        Variant::I16(n) => Reading::from(i32::from(*n)),
        Variant::U16(n) => Reading::from(u32::from(*n)),
        Variant::I32(n) => Reading::from(*n),
        Variant::U32(n) => Reading::from(*n),
        Variant::I64(n) => Reading::from(*n),
        Variant::U64(n) => Reading::from(*n),
        Variant::F64(x) => Reading::Float(*x),
        Variant::Str(s) => Reading::Str(s.as_str().to_owned()),
        Variant::Variant(inner) => to_reading(inner),
        other => Reading::Str(to_text(other)),
    }
}

/// The one-line text form of any value (see the module documentation).
pub fn to_text(value: &Variant<'_>) -> String {
    let mut out = String::new();
    write_text(value, &mut out);
    out
}

fn write_text(value: &Variant<'_>, out: &mut String) {
    // `write!` into a `String` cannot fail; the results are ignored on purpose.
    match value {
        Variant::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Variant::U8(n) => {
            let _ = write!(out, "{n}");
        }
        Variant::I16(n) => {
            let _ = write!(out, "{n}");
        }
        Variant::U16(n) => {
            let _ = write!(out, "{n}");
        }
        Variant::I32(n) => {
            let _ = write!(out, "{n}");
        }
        Variant::U32(n) => {
            let _ = write!(out, "{n}");
        }
        Variant::I64(n) => {
            let _ = write!(out, "{n}");
        }
        Variant::U64(n) => {
            let _ = write!(out, "{n}");
        }
        Variant::F64(x) => {
            let _ = write!(out, "{x}");
        }
        Variant::Str(s) => out.push_str(s.as_str()),
        Variant::Signature(s) => {
            let _ = write!(out, "{s}");
        }
        Variant::ObjectPath(p) => out.push_str(p.as_str()),
        Variant::Variant(inner) => write_text(inner, out),
        Variant::Array(array) => write_sequence(array.inner(), out),
        Variant::Structure(structure) => write_sequence(structure.fields(), out),
        Variant::Dict(dict) => {
            let mut entries: Vec<(String, String)> =
                dict.iter().map(|(k, v)| (to_text(k), to_text(v))).collect();
            entries.sort();
            out.push_str("map[");
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                out.push_str(v);
            }
            out.push(']');
        }
        #[cfg(unix)]
        Variant::Fd(fd) => {
            let _ = write!(out, "{fd}");
        }
    }
}

fn write_sequence(items: &[Variant<'_>], out: &mut String) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_text(item, out);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use zbus::{ObjectPath, Structure};

    #[test]
    fn integers_stay_exact_and_typed() {
        assert_eq!(to_reading(&Variant::U64(u64::MAX)), Reading::Uint(u64::MAX));
        assert_eq!(
            to_reading(&Variant::U64(1_048_576)),
            Reading::Int(1_048_576)
        );
        assert_eq!(
            to_reading(&Variant::U32(u32::MAX)),
            Reading::Int(4_294_967_295)
        );
        assert_eq!(to_reading(&Variant::I32(-1)), Reading::Int(-1));
        assert_eq!(to_reading(&Variant::I64(i64::MIN)), Reading::Int(i64::MIN));
        assert_eq!(to_reading(&Variant::U8(255)), Reading::Int(255));
        assert_eq!(to_reading(&Variant::I16(-3)), Reading::Int(-3));
        assert_eq!(to_reading(&Variant::U16(7)), Reading::Int(7));
        assert_eq!(to_reading(&Variant::F64(0.5)), Reading::Float(0.5));
    }

    #[test]
    fn booleans_and_strings_keep_their_type() {
        assert_eq!(to_reading(&Variant::Bool(false)), Reading::Bool(false));
        assert_eq!(to_reading(&Variant::from("0")), Reading::Str("0".into()));
        let path = ObjectPath::try_from("/org/freedesktop/systemd1/job/7").unwrap();
        assert_eq!(
            to_reading(&Variant::ObjectPath(path)),
            Reading::Str("/org/freedesktop/systemd1/job/7".into())
        );
        let boxed = Variant::Variant(Box::new(Variant::U64(3)));
        assert_eq!(to_reading(&boxed), Reading::Int(3));
    }

    #[test]
    fn string_arrays_print_like_the_go_tool() {
        let after = Variant::from(vec!["network.target", "local-fs.target"]);
        assert_eq!(
            to_reading(&after),
            Reading::Str("[network.target local-fs.target]".into())
        );
        let empty = Variant::from(Vec::<String>::new());
        assert_eq!(to_text(&empty), "[]");
    }

    #[test]
    fn structures_and_nested_arrays_print_like_the_go_tool() {
        // AppArmorProfile is (bs): false and an empty string.
        let pair = Structure::builder()
            .add_field(false)
            .add_field("")
            .build()
            .unwrap();
        assert_eq!(to_text(&Variant::Structure(pair)), "[false ]");

        // Job is (uo).
        let job = Structure::builder()
            .add_field(0u32)
            .add_field(ObjectPath::try_from("/").unwrap())
            .build()
            .unwrap();
        assert_eq!(to_text(&Variant::Structure(job)), "[0 /]");

        // ExecStart is a(sasbttttuii); one entry, as the reference snapshot shows it.
        let exec = Structure::builder()
            .add_field("/usr/bin/containerd")
            .add_field(vec!["/usr/bin/containerd"])
            .add_field(false)
            .add_field(1_754_471_111_884_832u64)
            .add_field(240_758_742u64)
            .add_field(0u64)
            .add_field(0u64)
            .add_field(38_444u32)
            .add_field(0i32)
            .add_field(0i32)
            .build()
            .unwrap();
        let mut entries = zbus::Array::new(exec.signature());
        entries.append(Variant::Structure(exec)).unwrap();
        let array = Variant::Array(entries);
        assert_eq!(
            to_text(&array),
            "[[/usr/bin/containerd [/usr/bin/containerd] false 1754471111884832 240758742 0 0 38444 0 0]]"
        );
    }

    #[test]
    fn byte_arrays_list_decimal_bytes() {
        let id = Variant::from(vec![93u8, 102, 166]);
        assert_eq!(to_text(&id), "[93 102 166]");
    }

    #[test]
    fn dictionaries_are_sorted_by_key() {
        let mut map = HashMap::new();
        map.insert("b".to_owned(), 2u32);
        map.insert("a".to_owned(), 1u32);
        assert_eq!(to_text(&Variant::from(map)), "map[a:1 b:2]");
    }
}

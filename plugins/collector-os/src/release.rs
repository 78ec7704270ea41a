//! `/etc/os-release` as the `release` subtype.

use eidos_plugin_api::Subtype;

/// Parses os-release: `KEY=value` lines, values optionally in single or double quotes with
/// backslash escapes inside double quotes; comments and blank lines are skipped. Keys keep the
/// file's order.
pub fn parse_os_release(text: &str) -> Subtype {
    let mut sub = Subtype::new("release");
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((key, raw)) = line.split_once('=') {
            sub.insert(key.trim(), unquote(raw.trim()));
        }
    }
    sub
}

fn unquote(raw: &str) -> String {
    let bytes = raw.as_bytes();
    if raw.len() >= 2 && bytes[0] == b'\'' && bytes[raw.len() - 1] == b'\'' {
        return raw[1..raw.len() - 1].to_owned();
    }
    if raw.len() >= 2 && bytes[0] == b'"' && bytes[raw.len() - 1] == b'"' {
        let mut out = String::new();
        let mut chars = raw[1..raw.len() - 1].chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else {
                out.push(c);
            }
        }
        return out;
    }
    raw.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::Reading;

    #[test]
    fn quotes_escapes_comments_and_order() {
        let sub = parse_os_release(
            "# comment\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\nPRETTY='Ubuntu 24.04'\nX=\"a \\\"q\\\"\"\n\n",
        );
        let keys: Vec<_> = sub.data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["NAME", "VERSION_ID", "ID", "PRETTY", "X"]);
        assert_eq!(sub.data["VERSION_ID"], Reading::Str("24.04".into()));
        assert_eq!(sub.data["PRETTY"], Reading::Str("Ubuntu 24.04".into()));
        assert_eq!(sub.data["X"], Reading::Str("a \"q\"".into()));
    }
}

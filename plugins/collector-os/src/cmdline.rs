//! The kernel command line (`/proc/cmdline`) as the `grub` subtype.

use eidos_plugin_api::Subtype;

/// Parses a kernel command line: `key=value` gives `key → value`, a bare flag gives `flag → ""`.
/// Double quotes group a value with spaces (`key="a b"`). A repeated key keeps its last value, as
/// the kernel does for most parameters. Arguments after a lone `--` belong to init and are left out.
pub fn parse_cmdline(text: &str) -> Subtype {
    let mut sub = Subtype::new("grub");
    for token in split_args(text) {
        if token == "--" {
            break;
        }
        match token.split_once('=') {
            Some((key, value)) => sub.insert(key, value.trim_matches('"')),
            None => sub.insert(token, ""),
        }
    }
    sub.sort();
    sub
}

/// Splits on whitespace, except inside double quotes.
fn split_args(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                current.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !current.is_empty() {
                    args.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        args.push(current);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use eidos_plugin_api::Reading;

    #[test]
    fn flags_values_quotes_repeats_and_init_arguments() {
        let sub = parse_cmdline(
            "BOOT_IMAGE=/boot/vmlinuz ro quiet dyndbg=\"file a.c +p\" console=tty0 console=ttyS0 -- --init-flag x=y\n",
        );
        assert_eq!(sub.data["BOOT_IMAGE"], Reading::Str("/boot/vmlinuz".into()));
        assert_eq!(sub.data["ro"], Reading::Str(String::new()));
        assert_eq!(sub.data["dyndbg"], Reading::Str("file a.c +p".into()));
        assert_eq!(sub.data["console"], Reading::Str("ttyS0".into()));
        assert!(!sub.data.contains_key("x"));
        assert!(!sub.data.contains_key("--init-flag"));
        let keys: Vec<_> = sub.data.keys().cloned().collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }
}

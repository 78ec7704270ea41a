//! Loaded kernel modules (`/proc/modules`) as the `kmod` subtype.

use eidos_plugin_api::Subtype;

/// Parses `/proc/modules`: the first field of each line is a loaded module, recorded as `true`.
pub fn parse_modules(text: &str) -> Subtype {
    let mut sub = Subtype::new("kmod");
    for name in text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
    {
        sub.insert(name, true);
    }
    sub.sort();
    sub
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_names_a_module() {
        let sub =
            parse_modules("nvidia_uvm 1 0 - Live 0x0 (PO)\nnvidia 2 1 nvidia_uvm, Live 0x0\n\n");
        let keys: Vec<_> = sub.data.keys().map(String::as_str).collect();
        assert_eq!(keys, ["nvidia", "nvidia_uvm"]);
        assert_eq!(sub.data["nvidia"], true.into());
    }
}

//! `cm://` addresses: a snapshot kept in a ConfigMap (`cm://NAMESPACE/NAME`), or the snapshots
//! of a namespace chosen by labels (`cm://NAMESPACE?selector=LABELS`).
//!
//! The name may contain `$(NODE_NAME)`, replaced by the `NODE_NAME` environment variable (the
//! node's name from the downward API in a pod). Kubernetes expands `$(NODE_NAME)` in a container's
//! arguments itself; eidos expands it too, so that the same address works in a shell (quoted) and
//! in a pod spec. No other variable is expanded.

/// The scheme every ConfigMap address starts with.
pub const SCHEME: &str = "cm://";
/// The one variable a name may contain.
pub const NODE_NAME_VARIABLE: &str = "$(NODE_NAME)";

/// Whether `text` is meant as a ConfigMap address (it starts with `cm://`); such text is never a
/// file name.
pub fn is_cm(text: &str) -> bool {
    text.starts_with(SCHEME)
}

/// A malformed `cm://` address (a usage error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ConfigMap address {address:?}: {reason} (expected {expected})")]
pub struct AddressError {
    /// The address as given.
    pub address: String,
    /// What is wrong with it.
    pub reason: String,
    /// The form that was expected.
    pub expected: &'static str,
}

/// One ConfigMap: `cm://NAMESPACE/NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmAddress {
    /// The namespace (a DNS-1123 label).
    pub namespace: String,
    /// The ConfigMap's name (a DNS-1123 subdomain), `$(NODE_NAME)` expanded.
    pub name: String,
}

const OBJECT_FORM: &str = "cm://NAMESPACE/NAME";
const LIST_FORM: &str = "cm://NAMESPACE or cm://NAMESPACE?selector=LABELS";

impl CmAddress {
    /// Parses `cm://NAMESPACE/NAME`, expanding `$(NODE_NAME)` through `env`.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, AddressError> {
        let error = |reason: String| AddressError {
            address: text.to_owned(),
            reason,
            expected: OBJECT_FORM,
        };
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| error("it does not start with cm://".into()))?;
        let (namespace, name) = rest
            .split_once('/')
            .ok_or_else(|| error("there is no /NAME after the namespace".into()))?;
        check_namespace(namespace).map_err(error)?;
        let name = expand(name, env).map_err(error)?;
        check_name(&name).map_err(error)?;
        Ok(CmAddress {
            namespace: namespace.to_owned(),
            name,
        })
    }
}

impl std::fmt::Display for CmAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.namespace, self.name)
    }
}

/// The snapshots of one namespace: `cm://NAMESPACE` (every eidos snapshot there) or
/// `cm://NAMESPACE?selector=LABELS` (a Kubernetes label selector, e.g. `pool=h100`; eidos's own
/// [`SNAPSHOT_SELECTOR`](crate::store::SNAPSHOT_SELECTOR) is always added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmSelection {
    /// The namespace.
    pub namespace: String,
    /// The label selector to send, eidos's snapshot label included.
    pub selector: String,
}

impl CmSelection {
    /// Parses `cm://NAMESPACE[?selector=LABELS]`.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let error = |reason: String| AddressError {
            address: text.to_owned(),
            reason,
            expected: LIST_FORM,
        };
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| error("it does not start with cm://".into()))?;
        let (namespace, query) = match rest.split_once('?') {
            Some((namespace, query)) => (namespace, Some(query)),
            None => (rest, None),
        };
        check_namespace(namespace).map_err(error)?;
        let mut selector = crate::store::SNAPSHOT_SELECTOR.to_owned();
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            if key != "selector" {
                return Err(error(format!(
                    "unknown parameter {key:?} (only selector=LABELS)"
                )));
            }
            if value.trim().is_empty() {
                return Err(error("the selector is empty".into()));
            }
            selector.push(',');
            selector.push_str(value.trim());
        }
        Ok(CmSelection {
            namespace: namespace.to_owned(),
            selector,
        })
    }
}

/// Replaces `$(NODE_NAME)`; any other `$(` is refused rather than left in a name.
fn expand(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if !name.contains(NODE_NAME_VARIABLE) {
        if name.contains("$(") {
            return Err(format!("only {NODE_NAME_VARIABLE} is expanded in a name"));
        }
        return Ok(name.to_owned());
    }
    let node = env("NODE_NAME")
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("the name uses {NODE_NAME_VARIABLE} but NODE_NAME is not set"))?;
    let expanded = name.replace(NODE_NAME_VARIABLE, &node);
    if expanded.contains("$(") {
        return Err(format!("only {NODE_NAME_VARIABLE} is expanded in a name"));
    }
    Ok(expanded)
}

/// A DNS-1123 label: 1–63 of `a-z`, `0-9`, `-`, starting and ending alphanumeric.
fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

fn check_namespace(namespace: &str) -> Result<(), String> {
    if namespace.is_empty() {
        return Err("the namespace is empty".into());
    }
    if !is_dns_label(namespace) {
        return Err(format!(
            "namespace {namespace:?} is not a DNS-1123 label (at most 63 lowercase letters, \
             digits and '-', starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

/// A ConfigMap name: a DNS-1123 subdomain (dot-separated labels, at most 253 characters).
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > 253 || !name.split('.').all(is_dns_label) {
        return Err(format!(
            "name {name:?} is not a DNS-1123 subdomain (at most 253 lowercase letters, digits, \
             '-' and '.')"
        ));
    }
    Ok(())
}

/// Whether `value` can be a label value (at most 63 of `A-Za-z0-9-_.`, alphanumeric at both
/// ends), e.g. a node's name in a label.
pub fn is_label_value(value: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && alnum(value.chars().next())
        && alnum(value.chars().last())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn node_env(name: &str) -> Option<String> {
        (name == "NODE_NAME").then(|| "ip-10-0-1-17.ec2.internal".to_owned())
    }

    #[test]
    fn an_address_names_a_namespace_and_a_configmap() {
        let a = CmAddress::parse("cm://eidos/node-a", &no_env).unwrap();
        assert_eq!(a.namespace, "eidos");
        assert_eq!(a.name, "node-a");
        assert_eq!(a.to_string(), "cm://eidos/node-a");
    }

    #[test]
    fn node_name_is_expanded_from_the_environment() {
        let a = CmAddress::parse("cm://eidos/eidos-$(NODE_NAME)", &node_env).unwrap();
        assert_eq!(a.name, "eidos-ip-10-0-1-17.ec2.internal");
        let err = CmAddress::parse("cm://eidos/eidos-$(NODE_NAME)", &no_env).unwrap_err();
        assert!(err.reason.contains("NODE_NAME is not set"), "{err}");
        let err = CmAddress::parse("cm://eidos/eidos-$(HOSTNAME)", &node_env).unwrap_err();
        assert!(err.reason.contains("only $(NODE_NAME)"), "{err}");
    }

    #[test]
    fn malformed_addresses_say_what_is_wrong_and_what_was_expected() {
        for (text, reason) in [
            ("cm://eidos", "no /NAME"),
            ("cm:///name", "namespace is empty"),
            ("cm://eidos/", "name is empty"),
            ("cm://Eidos/a", "DNS-1123 label"),
            ("cm://eidos/a/b", "DNS-1123 subdomain"),
            ("cm://eidos/A", "DNS-1123 subdomain"),
            ("cm://eidos/a..b", "DNS-1123 subdomain"),
            ("file.yaml", "does not start with cm://"),
        ] {
            let err = CmAddress::parse(text, &no_env).unwrap_err();
            assert!(err.reason.contains(reason), "{text}: {err}");
            assert!(
                err.to_string().contains("expected cm://NAMESPACE/NAME"),
                "{err}"
            );
        }
        let long = format!("cm://eidos/{}", "a".repeat(254));
        assert!(CmAddress::parse(&long, &no_env).is_err());
        let long_ns = format!("cm://{}/a", "a".repeat(64));
        assert!(CmAddress::parse(&long_ns, &no_env).is_err());
    }

    #[test]
    fn a_selection_always_includes_the_snapshot_label() {
        let all = CmSelection::parse("cm://eidos").unwrap();
        assert_eq!(all.namespace, "eidos");
        assert_eq!(all.selector, crate::store::SNAPSHOT_SELECTOR);
        let some = CmSelection::parse("cm://eidos?selector=pool%3Dh100,zone!=a").unwrap();
        assert_eq!(
            some.selector,
            format!("{},pool=h100,zone!=a", crate::store::SNAPSHOT_SELECTOR)
        );
        assert!(CmSelection::parse("cm://eidos?labels=a").is_err());
        assert!(CmSelection::parse("cm://eidos?selector=").is_err());
        assert!(CmSelection::parse("cm://Bad").is_err());
    }

    #[test]
    fn label_values_are_checked() {
        assert!(is_label_value("node-1.example"));
        assert!(!is_label_value(&"a".repeat(64)));
        assert!(!is_label_value("-a"));
        assert!(!is_label_value(""));
    }
}

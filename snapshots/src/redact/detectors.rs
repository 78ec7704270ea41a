//! The built-in detectors: where, in one piece of text, a value that identifies a site, a node or
//! a person sits, whatever key the text belongs to.
//!
//! Each detector returns candidate [`Span`]s; [`find`] keeps the leftmost, then the longest, of
//! overlapping ones. Spans start and end at ASCII characters, so they are always valid `str`
//! boundaries. Every span is bounded by characters that cannot continue it (no letter or digit
//! right before or after), which is also what [`super::reverse`] relies on.

use aho_corasick::AhoCorasick;
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

/// What a detected (or declared sensitive) value is; it decides the pseudonym's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A hardware address: six or more two-digit hex groups (`aa:bb:cc:dd:ee:ff`).
    Mac,
    /// A UUID (`8-4-4-4-12` hex digits).
    Uuid,
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// An e-mail address.
    Email,
    /// A host name or domain: one the document names elsewhere, or a registry or URL host.
    Hostname,
    /// The value of a `password=`, `token=` … assignment, or the credential after `Bearer` or
    /// `Basic`.
    Secret,
    /// A run of 32 or more hex digits (machine IDs, digests, keys).
    HexToken,
    /// A long high-entropy run of base64 characters (keys, tokens).
    Base64Token,
    /// A whole value under a sensitive key that has none of the shapes above.
    Value,
    /// A number under a sensitive key.
    Number,
}

impl Kind {
    /// The detectors that run over every value, by the names the metadata records.
    pub const DETECTORS: &'static [&'static str] = &[
        "mac",
        "uuid",
        "ipv4",
        "ipv6",
        "email",
        "hostname",
        "registry-host",
        "url-host",
        "secret-assignment",
        "http-credential",
        "hex-token",
        "base64-token",
    ];
}

/// A detected value: bytes `start..end` of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Where it starts (a byte offset).
    pub start: usize,
    /// Where it ends (exclusive).
    pub end: usize,
    /// What it is.
    pub kind: Kind,
}

/// Assignment names whose value is a secret (matched without regard to case, at the end of the
/// name before `=` or `:`): `password=`, `--token=`, `DB_SECRET=`, `apiKey:`, `auth:`,
/// `rd.luks.key=` …
pub const SECRET_NAMES: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "accesskey",
    "access_key",
    "access-key",
    "secretkey",
    "secret_key",
    "secret-key",
    "privatekey",
    "private_key",
    "private-key",
    "credential",
    "credentials",
    "authorization",
    "auth",
    "cryptkey",
    ".key",
];

/// Hosts that identify no site: public registries and the domains of label and API namespaces
/// (`nvidia.com/gpu.product`, `feature.node.kubernetes.io/…`). A registry or URL host in this list,
/// or under one of [`PUBLIC_DOMAINS`], is not redacted.
pub const PUBLIC_HOSTS: &[&str] = &[
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "nvcr.io",
    "ghcr.io",
    "quay.io",
    "gcr.io",
    "k8s.gcr.io",
    "registry.k8s.io",
    "public.ecr.aws",
    "mcr.microsoft.com",
    "registry.access.redhat.com",
    "registry.redhat.io",
    "github.com",
    "eks.amazonaws.com",
];

/// Domains whose every subdomain is public (project namespaces, not hosts of a site).
/// Operating-system vendors are here because os-release names their web sites.
pub const PUBLIC_DOMAINS: &[&str] = &[
    "kubernetes.io",
    "k8s.io",
    "x-k8s.io",
    "nvidia.com",
    "debian.org",
    "ubuntu.com",
    "canonical.com",
    "launchpad.net",
    "redhat.com",
    "fedoraproject.org",
    "centos.org",
    "rockylinux.org",
    "almalinux.org",
    "suse.com",
    "opensuse.org",
    "aws.amazon.com",
    "microsoft.com",
];

/// Values that identify nothing: never searched for as names, and left as they are even under a
/// sensitive key (`/proc/sys/kernel/domainname` is `(none)` on most nodes).
pub const STOP_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "localdomain",
    "unknown",
    "none",
    "(none)",
    "true",
    "false",
    "yes",
    "no",
    "null",
];

/// The host names and domains the document names (node name, kernel host name, registry hosts,
/// their parent domains …): found in every piece of text, at name boundaries, without regard to
/// case (DNS names are case-insensitive). A match of a domain (a name with a dot) takes in the
/// labels before it, so every name under a known domain is found whole (`gpu-node-18.dc3.` before
/// `acme.example`).
#[derive(Debug, Default)]
pub struct KnownNames {
    names: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl KnownNames {
    /// A matcher for `names`, lower-cased (names shorter than 3 characters or in the stop list
    /// are left out).
    pub fn new(names: impl IntoIterator<Item = String>) -> KnownNames {
        let mut names: Vec<String> = names
            .into_iter()
            .map(|n| n.to_ascii_lowercase())
            .filter(|n| n.len() >= 3 && !STOP_NAMES.contains(&n.as_str()))
            .collect();
        names.sort();
        names.dedup();
        let matcher = if names.is_empty() {
            None
        } else {
            // Standard (overlapping) matching: a longer name that fails its boundary check must
            // not hide a shorter one at the same place; `find` picks among the survivors.
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&names)
                .ok()
        };
        KnownNames { names, matcher }
    }

    /// The names, lower-cased and sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn spans(&self, text: &str, out: &mut Vec<Span>) {
        let Some(matcher) = &self.matcher else { return };
        let bytes = text.as_bytes();
        for m in matcher.find_overlapping_iter(text) {
            let before = m.start().checked_sub(1).map(|i| bytes[i]);
            let after = bytes.get(m.end()).copied();
            if before.is_some_and(continues_name) || after.is_some_and(continues_name) {
                continue;
            }
            let whole = labels_before(bytes, m.start(), m.end())..labels_after(bytes, m.end());
            // A known name inside a public one stays: `eks.amazonaws.com` under a known
            // `amazonaws.com`, `registry.k8s.io` when a registry is called `registry`.
            if whole != (m.start()..m.end()) && is_public_host(&text[whole.clone()]) {
                continue;
            }
            // A domain takes in the labels before it; a short name stays a short name
            // (`node7.other.example` holds the short name `node7`).
            let domain = self.names[m.pattern().as_usize()].contains('.');
            let start = if domain { whole.start } else { m.start() };
            out.push(Span {
                start,
                end: m.end(),
                kind: Kind::Hostname,
            });
        }
    }
}

/// Where the name ending in the domain at `at..end` starts: the labels joined by dots right
/// before it (`_` included, as in `_ldap._tcp.`), up to a DNS name's 253 characters (which also
/// keeps a hostile run of repeated domains linear).
fn labels_before(bytes: &[u8], mut at: usize, end: usize) -> usize {
    const MAX_NAME: usize = 253;
    while at >= 2 && bytes[at - 1] == b'.' && continues_name(bytes[at - 2]) {
        let mut start = at - 1;
        while start > 0 && continues_name(bytes[start - 1]) && end - start < MAX_NAME {
            start -= 1;
        }
        if end - start >= MAX_NAME {
            break;
        }
        at = start;
    }
    at
}

/// Where the dotted name that goes on at `at` ends: the labels joined by dots right after it, up
/// to a DNS name's 253 characters.
fn labels_after(bytes: &[u8], mut at: usize) -> usize {
    let limit = (at + 253).min(bytes.len());
    while at + 1 < limit && bytes[at] == b'.' && continues_name(bytes[at + 1]) {
        let mut end = at + 1;
        while end < limit && continues_name(bytes[end]) {
            end += 1;
        }
        at = end;
    }
    at
}

/// The parent domains of `host` down to two labels (`dc3.acme.example` and `acme.example` for
/// `gpu-node-17.dc3.acme.example`), public ones left out: a single label is a top-level domain,
/// which identifies no site and would match everywhere.
pub fn parent_domains(host: &str) -> impl Iterator<Item = &str> {
    host.match_indices('.')
        .map(move |(i, _)| &host[i + 1..])
        .filter(|d| d.contains('.') && is_domain(d) && !is_public_host(d))
}

/// A character that would make a host name longer (so a match next to it is part of another
/// word): letters, digits, `-` and `_`.
fn continues_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// Every detected value in `text`, left to right, none overlapping.
pub fn find(text: &str, known: &KnownNames) -> Vec<Span> {
    let mut spans = Vec::new();
    let bytes = text.as_bytes();
    // Cheap gates first: most values are short words or numbers.
    if bytes.iter().any(|&c| c == b':' || c == b'-') {
        hardware_addresses(bytes, &mut spans);
        uuids(bytes, &mut spans);
        ipv6(text, &mut spans);
    }
    if bytes.contains(&b'.') {
        ipv4(bytes, &mut spans);
    }
    if bytes.contains(&b'@') {
        emails(bytes, &mut spans);
    }
    known.spans(text, &mut spans);
    if bytes.len() >= 32 {
        hex_tokens(bytes, &mut spans);
        base64_tokens(bytes, &mut spans);
    }
    if bytes.contains(&b'=') || bytes.contains(&b':') {
        secret_assignments(bytes, &mut spans);
    }
    if bytes.len() >= 14 && bytes.contains(&b' ') {
        http_credentials(bytes, &mut spans);
    }
    choose(spans)
}

/// The leftmost, then longest, of overlapping spans (ties: the kind listed first in [`Kind`]).
fn choose(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(a.kind.cmp(&b.kind))
    });
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        if out.last().is_none_or(|last| span.start >= last.end) {
            out.push(span);
        }
    }
    out
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

/// Whether `bytes[i]` (if any) is a letter or digit, which would glue a value to a longer word.
fn alnum_at(bytes: &[u8], i: Option<usize>) -> bool {
    i.and_then(|i| bytes.get(i))
        .is_some_and(|c| c.is_ascii_alphanumeric())
}

/// Hardware addresses: six or more groups of two hex digits joined by one separator, `:` or `-`.
fn hardware_addresses(bytes: &[u8], out: &mut Vec<Span>) {
    let mut i = 0;
    while i + 17 <= bytes.len() {
        let starts = is_hex(bytes[i])
            && is_hex(bytes[i + 1])
            && matches!(bytes[i + 2], b':' | b'-')
            && (i == 0 || !(is_hex(bytes[i - 1]) || bytes[i - 1] == bytes[i + 2]));
        if !starts || alnum_at(bytes, i.checked_sub(1)) {
            i += 1;
            continue;
        }
        let sep = bytes[i + 2];
        let mut groups = 1;
        let mut end = i + 2;
        while end + 2 < bytes.len()
            && bytes[end] == sep
            && is_hex(bytes[end + 1])
            && is_hex(bytes[end + 2])
        {
            groups += 1;
            end += 3;
        }
        let glued = bytes
            .get(end)
            .is_some_and(|&c| is_hex(c) || c.is_ascii_alphanumeric());
        if groups >= 6 && !glued && !all_same_byte(&bytes[i..end], sep) {
            out.push(Span {
                start: i,
                end,
                kind: Kind::Mac,
            });
        }
        i = end.max(i + 1);
    }
}

/// `00:00:…` and `ff:ff:…` (no address, broadcast) identify nothing.
fn all_same_byte(text: &[u8], sep: u8) -> bool {
    let digits: Vec<u8> = text
        .iter()
        .filter(|&&c| c != sep)
        .map(u8::to_ascii_lowercase)
        .collect();
    digits.iter().all(|&c| c == b'0') || digits.iter().all(|&c| c == b'f')
}

/// UUIDs: `8-4-4-4-12` hex digits; the nil UUID is left alone.
fn uuids(bytes: &[u8], out: &mut Vec<Span>) {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut i = 0;
    while i + 36 <= bytes.len() {
        if !is_hex(bytes[i]) || alnum_at(bytes, i.checked_sub(1)) {
            i += 1;
            continue;
        }
        let mut at = i;
        let mut ok = true;
        for (n, len) in GROUPS.iter().enumerate() {
            if !bytes[at..at + len].iter().all(|&c| is_hex(c)) {
                ok = false;
                break;
            }
            at += len;
            if n < 4 {
                if bytes[at] != b'-' {
                    ok = false;
                    break;
                }
                at += 1;
            }
        }
        if ok && !alnum_at(bytes, Some(at)) && !bytes[i..at].iter().all(|&c| c == b'0' || c == b'-')
        {
            out.push(Span {
                start: i,
                end: at,
                kind: Kind::Uuid,
            });
            i = at;
        } else {
            i += 1;
        }
    }
}

/// IPv4 addresses that identify nothing: unspecified, loopback, broadcast, and netmasks.
pub fn ignored_ipv4(addr: Ipv4Addr) -> bool {
    let n = u32::from(addr);
    let inverse = !n;
    addr.is_unspecified() || addr.is_loopback() || (inverse & inverse.wrapping_add(1)) == 0
}

/// IPv4 addresses: four decimal octets (no leading zeros), not part of a longer dotted number
/// (`1.2.3.4.5` is a version, not an address).
fn ipv4(bytes: &[u8], out: &mut Vec<Span>) {
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            end += 1;
        }
        i = end;
        // `x10.0.0.1` and `1.10.0.0.1` are not addresses; `peer.10.0.0.1` is.
        let glued_before = start > 0
            && (bytes[start - 1].is_ascii_alphanumeric()
                || (bytes[start - 1] == b'.' && start > 1 && bytes[start - 2].is_ascii_digit()));
        let mut stop = end;
        while stop > start && bytes[stop - 1] == b'.' {
            stop -= 1;
        }
        // `10.0.0.1x` is not an address; `10.0.0.1.peer` has one.
        let glued_after = stop == end && alnum_at(bytes, Some(end));
        if glued_before || glued_after {
            continue;
        }
        let Ok(text) = std::str::from_utf8(&bytes[start..stop]) else {
            continue;
        };
        if text.split('.').count() != 4 {
            continue;
        }
        if let Ok(addr) = text.parse::<Ipv4Addr>() {
            if !ignored_ipv4(addr) {
                out.push(Span {
                    start,
                    end: stop,
                    kind: Kind::Ipv4,
                });
            }
        }
    }
}

/// IPv6 addresses (any form std parses, IPv4-mapped included); `::` and `::1` are left alone.
fn ipv6(text: &str, out: &mut Vec<Span>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if !(is_hex(c) || c == b':') {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut colons = 0;
        while end < bytes.len() && (is_hex(bytes[end]) || bytes[end] == b':' || bytes[end] == b'.')
        {
            colons += usize::from(bytes[end] == b':');
            end += 1;
        }
        i = end;
        // The longest address text is 45 characters (`ffff:…:ffff:255.255.255.255`).
        if colons < 2
            || end - start > 45
            || alnum_at(bytes, start.checked_sub(1))
            || alnum_at(bytes, Some(end))
        {
            continue;
        }
        // A trailing separator belongs to the text around the address ("addr fe80::1." or "…:").
        let mut stop = end;
        for _ in 0..2 {
            if let Some(span) = parse_ipv6(text, start, stop) {
                out.push(span);
                break;
            }
            if stop > start && matches!(bytes[stop - 1], b'.' | b':') {
                stop -= 1;
            } else {
                break;
            }
        }
    }
}

fn parse_ipv6(text: &str, start: usize, end: usize) -> Option<Span> {
    let addr: Ipv6Addr = text.get(start..end)?.parse().ok()?;
    if addr.is_unspecified() || addr.is_loopback() {
        return None;
    }
    Some(Span {
        start,
        end,
        kind: Kind::Ipv6,
    })
}

/// E-mail addresses: `local@domain.tld`.
fn emails(bytes: &[u8], out: &mut Vec<Span>) {
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    for (at, _) in bytes.iter().enumerate().filter(|(_, &c)| c == b'@') {
        let mut start = at;
        while start > 0 && local(bytes[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < bytes.len() && domain(bytes[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if start == at || end <= at + 1 {
            continue;
        }
        let Ok(host) = std::str::from_utf8(&bytes[at + 1..end]) else {
            continue;
        };
        if is_domain(host) {
            out.push(Span {
                start,
                end,
                kind: Kind::Email,
            });
        }
    }
}

/// A dotted DNS name whose last label is alphabetic (`corp.example.com`, not `libc.so.6`).
pub fn is_domain(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| is_label(l))
        && labels
            .last()
            .is_some_and(|l| l.len() >= 2 && l.bytes().all(|c| c.is_ascii_alphabetic()))
}

/// One DNS label: letters, digits and inner hyphens, 1–63 characters.
fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// A whole value that has the shape of a host name (one or more labels, at least one letter).
pub fn is_host_name(value: &str) -> bool {
    value.len() <= 253
        && value.split('.').all(is_label)
        && value.bytes().any(|c| c.is_ascii_alphabetic())
}

/// Whether `host` identifies no site (see [`PUBLIC_HOSTS`] and [`PUBLIC_DOMAINS`]).
pub fn is_public_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    PUBLIC_HOSTS.contains(&host.as_str())
        || PUBLIC_DOMAINS
            .iter()
            .any(|d| host == *d || host.strip_suffix(d).is_some_and(|h| h.ends_with('.')))
}

/// The registry hosts of image references (`registry.corp.example:5000/team/app:1.2`) and the
/// hosts of URLs (`https://git.corp.example/…`) in `text` that are not public. The pre-pass adds
/// them to the document's [`KnownNames`], so they are replaced wherever they appear.
pub fn network_hosts(text: &str, out: &mut Vec<String>) {
    if !text.contains('/') {
        return;
    }
    let bytes = text.as_bytes();
    let host_char = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut i = 0;
    while i < bytes.len() {
        if !host_char(bytes[i]) || (i > 0 && host_char(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < bytes.len() && host_char(bytes[end]) {
            end += 1;
        }
        i = end.max(i + 1);
        let before = start.checked_sub(1).map(|p| bytes[p]);
        let url = start >= 3 && &bytes[start - 3..start] == b"://";
        // An image reference's registry is its first path component: nothing path-like before.
        let image = !matches!(before, Some(b'/' | b':' | b'.' | b'_' | b'@'));
        let mut after = end;
        if bytes.get(after) == Some(&b':') {
            let digits = bytes[after + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits > 0 {
                after += 1 + digits;
            }
        }
        let followed_by_path = bytes.get(after) == Some(&b'/');
        if !(url || (image && followed_by_path)) {
            continue;
        }
        let host = &text[start..end];
        // A registry on a port needs no dot (`myregistry:5000/app`); anything else does, or a
        // path like `linux/arm64` would name a host.
        let ported = after > end;
        let single = ported
            && is_host_name(host)
            && !host.contains('.')
            && !STOP_NAMES.contains(&host.to_ascii_lowercase().as_str());
        if (is_domain(host) || single) && !is_public_host(host) {
            out.push(host.to_ascii_lowercase());
        }
    }
}

/// Runs of 32 or more hex digits (machine and boot IDs, digests, keys).
fn hex_tokens(bytes: &[u8], out: &mut Vec<Span>) {
    let mut i = 0;
    while i < bytes.len() {
        if !is_hex(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_hex(bytes[i]) {
            i += 1;
        }
        if i - start >= 32
            && !alnum_at(bytes, start.checked_sub(1))
            && !alnum_at(bytes, Some(i))
            && bytes[start..i].iter().any(u8::is_ascii_digit)
        {
            out.push(Span {
                start,
                end: i,
                kind: Kind::HexToken,
            });
        }
    }
}

fn base64_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'_' | b'-')
}

/// Long base64 runs that look random: 32 or more characters (padding aside) with upper case,
/// lower case and digits, and at least 4 bits of entropy per character (words and paths have
/// less).
fn base64_tokens(bytes: &[u8], out: &mut Vec<Span>) {
    let mut i = 0;
    while i < bytes.len() {
        if !base64_char(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && base64_char(bytes[i]) {
            i += 1;
        }
        let run = &bytes[start..i];
        let mut end = i;
        while end < bytes.len() && end - i < 2 && bytes[end] == b'=' {
            end += 1;
        }
        i = end.max(i);
        if run.len() >= 32
            && run.iter().any(u8::is_ascii_uppercase)
            && run.iter().any(u8::is_ascii_lowercase)
            && run.iter().any(u8::is_ascii_digit)
            && entropy(run) >= 4.0
            && !alnum_at(bytes, Some(end))
        {
            out.push(Span {
                start,
                end,
                kind: Kind::Base64Token,
            });
        }
    }
}

/// Shannon entropy of `bytes`, in bits per byte.
fn entropy(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether a key or assignment name ends in a secret's name (`password`, `DB_TOKEN`, `apiKey` …).
pub fn names_a_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAMES.iter().any(|s| lower.ends_with(s))
}

/// The credential after the word `Bearer` or `Basic` (an HTTP `Authorization` value written
/// anywhere, as in `curl -H 'Bearer eyJ…'`): a run of token characters of 8 or more that is not a
/// plain word (it has a digit, a sign, or a capital after its first letter), so that "Basic
/// configuration" is left alone.
fn http_credentials(bytes: &[u8], out: &mut Vec<Span>) {
    static SCHEMES: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["bearer ", "basic "])
            .ok()
    });
    let Some(schemes) = SCHEMES.as_ref() else {
        return;
    };
    let token = |c: u8| c.is_ascii_alphanumeric() || b"-._~+/".contains(&c);
    for m in schemes.find_iter(bytes) {
        if alnum_at(bytes, m.start().checked_sub(1)) {
            continue;
        }
        let mut start = m.end();
        while bytes.get(start) == Some(&b' ') {
            start += 1;
        }
        let mut end = start;
        while end < bytes.len() && token(bytes[end]) {
            end += 1;
        }
        while end < bytes.len() && end - start >= 8 && bytes[end] == b'=' {
            end += 1;
        }
        let run = &bytes[start..end];
        if run.len() < 8 || alnum_at(bytes, Some(end)) {
            continue;
        }
        let plain_word =
            run.iter().all(u8::is_ascii_alphabetic) && run[1..].iter().all(u8::is_ascii_lowercase);
        if !plain_word {
            out.push(Span {
                start,
                end,
                kind: Kind::Secret,
            });
        }
    }
}

/// Values of `NAME=value` and `NAME: value` where NAME ends in a secret's name. The value runs to
/// white space, a quote, `,`, `;`, `&` or the end; a quoted value to its closing quote; after
/// `Bearer` or `Basic`, the next word is the value.
fn secret_assignments(bytes: &[u8], out: &mut Vec<Span>) {
    static NAMES: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
        AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(SECRET_NAMES)
            .ok()
    });
    let Some(names) = NAMES.as_ref() else { return };
    // A value already taken covers any name inside it (`password=token=…`): skipping those keeps
    // this linear however many names a hostile value repeats.
    let mut covered = 0;
    for m in names.find_overlapping_iter(bytes) {
        if m.start() < covered {
            continue;
        }
        let mut at = m.end();
        // `name=`, `name:`, `"name":` (JSON-like), `NAME = value`, then optional blanks.
        if matches!(bytes.get(at), Some(b'"' | b'\'')) {
            at += 1;
        }
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
        match bytes.get(at) {
            Some(b'=' | b':') => at += 1,
            _ => continue,
        }
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
        if let Some(span) = secret_value(bytes, at) {
            covered = span.end;
            out.push(span);
        }
    }
}

fn secret_value(bytes: &[u8], mut at: usize) -> Option<Span> {
    let ends = |c: u8| {
        c.is_ascii_whitespace()
            || matches!(c, b'"' | b'\'' | b',' | b';' | b'&' | b')' | b']' | b'}')
    };
    let quote = bytes.get(at).copied().filter(|c| matches!(c, b'"' | b'\''));
    if let Some(q) = quote {
        at += 1;
        let len = bytes[at..].iter().position(|&c| c == q)?;
        return (len > 0).then_some(Span {
            start: at,
            end: at + len,
            kind: Kind::Secret,
        });
    }
    for scheme in [&b"bearer "[..], b"basic "] {
        if bytes.len() >= at + scheme.len()
            && bytes[at..at + scheme.len()].eq_ignore_ascii_case(scheme)
        {
            at += scheme.len();
        }
    }
    let len = bytes[at.min(bytes.len())..]
        .iter()
        .position(|&c| ends(c))
        .unwrap_or(bytes.len() - at.min(bytes.len()));
    (len > 0).then_some(Span {
        start: at,
        end: at + len,
        kind: Kind::Secret,
    })
}

#[cfg(test)]
mod tests;

//! Keyed, shape-keeping pseudonyms.
//!
//! A pseudonym is computed from the key and the original alone (HMAC-SHA256 of the kind, the
//! original and a collision counter; for an address in a private IPv4 block, a keyed permutation
//! of its host bits), so the same original gets the same pseudonym in every run and on every node
//! that uses the same key. Without the key nothing links a pseudonym to its original,
//! however few originals are possible (there are only 2³² IPv4 addresses).

use super::detectors::Kind;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The secret pseudonyms are computed with.
///
/// Given (`--redact-key`): the same input gives the same output, on every node, so a fleet's
/// redacted snapshots still diff and group. Random (no key given): a fresh key per run, never
/// written anywhere, so two runs' pseudonyms cannot be linked.
#[derive(Clone)]
pub struct RedactKey {
    bytes: Vec<u8>,
    given: bool,
}

/// Why a key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is empty (or only white space).
    #[error("the redaction key is empty: give a secret, e.g. 32 random characters shared by the nodes whose snapshots are compared")]
    Empty,
}

impl RedactKey {
    /// A key given by the operator (any non-empty text; its bytes are the HMAC key).
    pub fn given(secret: &str) -> Result<RedactKey, KeyError> {
        if secret.trim().is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(RedactKey {
            bytes: secret.as_bytes().to_vec(),
            given: true,
        })
    }

    /// A fresh random key (32 bytes from the operating system's generator).
    pub fn random() -> RedactKey {
        let mut bytes = vec![0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        RedactKey {
            bytes,
            given: false,
        }
    }

    /// Whether the operator gave the key (the metadata says `given` or `random`, never the key).
    pub fn is_given(&self) -> bool {
        self.given
    }

    /// HMAC-SHA256 of `parts`, each length-prefixed so that no two part lists collide.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.bytes) else {
            unreachable!("HMAC takes keys of any length")
        };
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// `n` pseudo-random bytes for (`kind`, `original`, `counter`).
    fn stream(&self, kind: &str, original: &str, counter: u32, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 32);
        let mut block = 0u32;
        while out.len() < n {
            out.extend_from_slice(&self.mac(&[
                kind.as_bytes(),
                original.as_bytes(),
                &counter.to_be_bytes(),
                &block.to_be_bytes(),
            ]));
            block += 1;
        }
        out.truncate(n);
        out
    }
}

impl std::fmt::Debug for RedactKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        f.debug_struct("RedactKey")
            .field("given", &self.given)
            .finish_non_exhaustive()
    }
}

/// The pseudonym of `original` (a value of `kind`); `counter` > 0 only after a collision.
pub fn pseudonym(key: &RedactKey, kind: Kind, original: &str, counter: u32) -> String {
    match kind {
        Kind::Ipv4 => match original.parse::<Ipv4Addr>() {
            Ok(addr) => ipv4(key, addr, original, counter).to_string(),
            Err(_) => opaque(key, "value", original, counter),
        },
        Kind::Ipv6 => match original.parse::<Ipv6Addr>() {
            Ok(addr) => ipv6(addr, &key.stream("ipv6", original, counter, 16)).to_string(),
            Err(_) => opaque(key, "value", original, counter),
        },
        Kind::Mac => mac(original, &key.stream("mac", original, counter, 32)),
        Kind::Uuid => uuid(original, &key.stream("uuid", original, counter, 16)),
        Kind::Hostname => host_name(key, original, counter),
        Kind::Email => {
            let (local, domain) = original.rsplit_once('@').unwrap_or((original, "invalid"));
            let local = hex(&key.stream("email", local, counter, 4));
            format!("user-{local}@{}", host_name(key, domain, counter))
        }
        Kind::HexToken => same_shape(
            original,
            &key.stream("hex", original, counter, original.len()),
            HEX,
        ),
        Kind::Base64Token => {
            let body = original.trim_end_matches('=');
            let stream = key.stream("base64", original, counter, body.len());
            let mut out = same_shape(body, &stream, ALNUM);
            out.push_str(&original[body.len()..]);
            out
        }
        Kind::Secret => opaque(key, "secret", original, counter),
        Kind::Value | Kind::Number => opaque(key, "value", original, counter),
    }
}

const HEX: &[u8] = b"0123456789abcdef";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `redacted-` and 12 hex digits: for secrets and values that have no shape to keep.
fn opaque(key: &RedactKey, kind: &str, original: &str, counter: u32) -> String {
    format!("redacted-{}", hex(&key.stream(kind, original, counter, 6)))
}

/// An IPv4 address in the same block as the original: 10/8, 172.16/12, 192.168/16, 100.64/10
/// (shared address space) and 169.254/16 (link-local) keep their block; any other address becomes
/// one in 240/4 (reserved, never routed), so a pseudonym is never someone's real address.
///
/// Inside a private block the host bits go through a keyed permutation ([`permute`]), so two
/// different addresses never get the same pseudonym, on one node or across a fleet redacted with
/// one key (a /16 has only 65 536 addresses: random picks would collide among a few hundred). An
/// address outside them has 32 bits for 240/4's 28 and gets a keyed random one.
fn ipv4(key: &RedactKey, addr: Ipv4Addr, original: &str, counter: u32) -> Ipv4Addr {
    let o = addr.octets();
    let (prefix, bits): (u32, u32) = match o {
        [10, ..] => (0x0a00_0000, 8),
        [172, b, ..] if (16..=31).contains(&b) => (0xac10_0000, 12),
        [192, 168, ..] => (0xc0a8_0000, 16),
        [100, b, ..] if (64..=127).contains(&b) => (0x6440_0000, 10),
        [169, 254, ..] => (0xa9fe_0000, 16),
        _ => {
            let r = key.stream("ipv4", original, counter, 4);
            let r = u32::from_be_bytes([r[0], r[1], r[2], r[3]]);
            return Ipv4Addr::from(0xf000_0000 | (r >> 4));
        }
    };
    let host_bits = 32 - bits;
    let host = u32::from(addr) & (u32::MAX >> bits);
    Ipv4Addr::from(prefix | permute(key, prefix, host_bits, host, counter))
}

/// A keyed permutation of the `bits`-bit numbers (`bits` even, at most 32): a balanced Feistel
/// network of four rounds whose round function is HMAC-SHA256 under the key, tweaked by the block
/// and the collision counter. Being a permutation, distinct inputs give distinct outputs.
fn permute(key: &RedactKey, block: u32, bits: u32, value: u32, counter: u32) -> u32 {
    let half = bits / 2;
    let mask = (1u32 << half) - 1;
    let (mut left, mut right) = (value >> half & mask, value & mask);
    for round in 0u8..4 {
        let mac = key.mac(&[
            b"ipv4-permutation",
            &block.to_be_bytes(),
            &counter.to_be_bytes(),
            &[round],
            &right.to_be_bytes(),
        ]);
        let f = u32::from_be_bytes([mac[0], mac[1], mac[2], mac[3]]) & mask;
        (left, right) = (right, left ^ f);
    }
    left << half | right
}

/// An IPv6 address of the same kind: link-local stays in fe80::/64, unique-local in fd00::/8,
/// anything else goes to the documentation prefix 2001:db8::/32.
fn ipv6(addr: Ipv6Addr, random: &[u8]) -> Ipv6Addr {
    let mut b = [0u8; 16];
    b.copy_from_slice(&random[..16]);
    let first = addr.segments()[0];
    if first & 0xffc0 == 0xfe80 {
        b[..8].copy_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0]);
    } else if first & 0xfe00 == 0xfc00 {
        b[0] = 0xfd;
    } else {
        b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    }
    Ipv6Addr::from(b)
}

/// Random hex digits in the original's places, with its separators and letter case.
fn same_shape(original: &str, random: &[u8], alphabet: &[u8]) -> String {
    let upper = original.bytes().any(|c| c.is_ascii_uppercase());
    let lower = original.bytes().any(|c| c.is_ascii_lowercase());
    original
        .bytes()
        .zip(random.iter().cycle())
        .map(|(c, r)| {
            if !c.is_ascii_alphanumeric() {
                return char::from(c);
            }
            let d = char::from(alphabet[usize::from(*r) % alphabet.len()]);
            if alphabet == HEX && upper && !lower {
                d.to_ascii_uppercase()
            } else {
                d
            }
        })
        .collect()
}

/// A hardware address with the original's separator, group count and case; a six-byte one is a
/// locally administered unicast address (its first byte's low bits are `10`).
fn mac(original: &str, random: &[u8]) -> String {
    let mut out = same_shape(original, random, HEX);
    if original.len() == 17 {
        let first = u8::from_str_radix(&out[..2], 16).unwrap_or(0);
        let fixed = (first & 0xfc) | 0x02;
        let text = if original[..2].bytes().any(|c| c.is_ascii_uppercase()) {
            format!("{fixed:02X}")
        } else {
            format!("{fixed:02x}")
        };
        out.replace_range(..2, &text);
    }
    out
}

/// A random (version 4) UUID, in the original's case.
fn uuid(original: &str, random: &[u8]) -> String {
    let mut b = [0u8; 16];
    b.copy_from_slice(&random[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    let text = format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    );
    if original.bytes().any(|c| c.is_ascii_uppercase()) {
        text.to_ascii_uppercase()
    } else {
        text
    }
}

/// A host name with as many labels as the original, each label replaced on its own (`h` and 8 hex
/// digits), so that a node's short name and its full name stay related and a name's pseudonym ends
/// in its domain's: `node7` → `h1a2b3c4d`, `node7.corp.example.com` → `h1a2b3c4d.h…`.
///
/// DNS names ignore case, so a label is pseudonymized in lower case and the pseudonym then takes
/// the label's case, which keeps it reversible: `ACME` → `HA1B2C3D4`, `Acme` → `Ha1b2c3d4`. A label
/// in any other mixed case (`AcMe`) is pseudonymized as it is written.
fn host_name(key: &RedactKey, original: &str, counter: u32) -> String {
    original
        .split('.')
        .map(|label| host_label(key, label, counter))
        .collect::<Vec<_>>()
        .join(".")
}

fn host_label(key: &RedactKey, label: &str, counter: u32) -> String {
    let upper = |c: &u8| c.is_ascii_uppercase();
    let lowered = label.to_ascii_lowercase();
    let pseudonym =
        |text: &str, kind: &str| format!("h{}", hex(&key.stream(kind, text, counter, 4)));
    let bytes = label.as_bytes();
    if !bytes.iter().any(upper) {
        pseudonym(label, "label")
    } else if !bytes.iter().any(u8::is_ascii_lowercase) {
        pseudonym(&lowered, "label").to_ascii_uppercase()
    } else if bytes.first().is_some_and(upper) && !bytes[1..].iter().any(upper) {
        let p = pseudonym(&lowered, "label");
        format!("H{}", &p[1..])
    } else {
        pseudonym(label, "mixed-case-label")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RedactKey {
        RedactKey::given("test key").unwrap()
    }

    #[test]
    fn ipv4_pseudonyms_stay_in_their_block() {
        let k = key();
        for (original, prefix) in [
            ("10.1.2.3", "10."),
            ("192.168.7.9", "192.168."),
            ("172.20.1.1", "172."),
            ("8.8.8.8", ""),
        ] {
            let p = pseudonym(&k, Kind::Ipv4, original, 0);
            let addr: Ipv4Addr = p.parse().unwrap();
            assert!(p.starts_with(prefix), "{original} → {p}");
            if original.starts_with("172.") {
                assert!((16..=31).contains(&addr.octets()[1]), "{p}");
            }
            if original == "8.8.8.8" {
                assert!(addr.octets()[0] >= 240, "{p}");
            }
        }
    }

    #[test]
    fn private_blocks_are_permuted_so_no_two_addresses_share_a_pseudonym() {
        let k = key();
        // Every address of a /16 gets its own pseudonym.
        let mut seen = std::collections::HashSet::new();
        for host in 0..1u32 << 16 {
            assert!(seen.insert(permute(&k, 0xc0a8_0000, 16, host, 0)), "{host}");
        }
        assert!(seen.iter().all(|p| *p < 1 << 16));
        let blocks = [
            ("192.168", "192.168."),
            ("169.254", "169.254."),
            ("10", "10."),
            ("172.16", "172."),
            ("100.64", "100."),
        ];
        for (block, prefix) in blocks {
            for host in ["0.1", "7.9", "255.254"] {
                let original = format!("{block}.{host}");
                let original = if original.split('.').count() == 3 {
                    format!("{block}.3.{host}")
                } else {
                    original
                };
                let p = pseudonym(&k, Kind::Ipv4, &original, 0);
                assert!(p.starts_with(prefix), "{original} → {p}");
                let second = p.parse::<Ipv4Addr>().unwrap().octets()[1];
                match block {
                    "172.16" => assert!((16..=31).contains(&second), "{p}"),
                    "100.64" => assert!((64..=127).contains(&second), "{p}"),
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn shapes_are_kept() {
        let k = key();
        let v6: Ipv6Addr = pseudonym(&k, Kind::Ipv6, "fe80::1c2:3ff:fe44:5566", 0)
            .parse()
            .unwrap();
        assert_eq!(v6.segments()[..4], [0xfe80, 0, 0, 0]);
        let v6: Ipv6Addr = pseudonym(&k, Kind::Ipv6, "2600:1f18::5", 0)
            .parse()
            .unwrap();
        assert_eq!(v6.segments()[..2], [0x2001, 0x0db8]);
        let m = pseudonym(&k, Kind::Mac, "0C:42:A1:00:11:22", 0);
        assert_eq!(m.len(), 17);
        assert_eq!(m.matches(':').count(), 5);
        assert_eq!(u8::from_str_radix(&m[..2], 16).unwrap() & 0x03, 0x02, "{m}");
        assert_eq!(m, m.to_ascii_uppercase());
        let u = pseudonym(&k, Kind::Uuid, "5c1e0a43-8d2f-4b6e-9f31-27a0c8e4d915", 0);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        let h = pseudonym(&k, Kind::Hostname, "ip-10-0-71-203.ec2.internal", 0);
        assert_eq!(h.matches('.').count(), 2, "{h}");
        let short = pseudonym(&k, Kind::Hostname, "ip-10-0-71-203", 0);
        assert!(h.starts_with(&format!("{short}.")), "{short} / {h}");
        let e = pseudonym(&k, Kind::Email, "ops@corp.example.com", 0);
        assert!(e.starts_with("user-") && e.contains('@') && e.matches('.').count() == 2);
        let t = pseudonym(&k, Kind::HexToken, "ABCDEF0123456789ABCDEF0123456789", 0);
        assert_eq!(t.len(), 32);
        assert_eq!(t, t.to_ascii_uppercase());
    }

    #[test]
    fn the_key_decides_and_nothing_else() {
        let a = pseudonym(&key(), Kind::Ipv4, "10.0.0.1", 0);
        assert_eq!(a, pseudonym(&key(), Kind::Ipv4, "10.0.0.1", 0));
        let other = RedactKey::given("another key").unwrap();
        assert_ne!(a, pseudonym(&other, Kind::Ipv4, "10.0.0.1", 0));
        assert_ne!(a, pseudonym(&key(), Kind::Ipv4, "10.0.0.1", 1));
        let r1 = RedactKey::random();
        let r2 = RedactKey::random();
        assert_ne!(
            pseudonym(&r1, Kind::Secret, "hunter2", 0),
            pseudonym(&r2, Kind::Secret, "hunter2", 0)
        );
        assert!(!format!("{:?}", key()).contains("test key"));
        assert_eq!(RedactKey::given("  ").unwrap_err(), KeyError::Empty);
    }
}

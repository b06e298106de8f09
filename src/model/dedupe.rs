//! The key a row is deduplicated by, in the compact form the state database stores.

/// Marks a key that is the hash of a row's content (see [`DedupeKey::of_content`]).
const CONTENT_MARKER: u8 = 0xFE;
/// Marks a key that is an id's text (not a GUID).
const TEXT_MARKER: u8 = 0xFF;

/// A row's key in the compact form the state database stores: 16 bytes for a GUID
/// (any letter case), the text behind a marker byte for another id, and a marker byte
/// plus a SHA-256 for a row known only by its content. The three forms cannot collide
/// (different lengths or first bytes), and state treats all of them as opaque bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey(Vec<u8>);

impl DedupeKey {
    /// The key of an id.
    pub fn of(id: &str) -> DedupeKey {
        match parse_guid(id) {
            Some(bytes) => DedupeKey(bytes.to_vec()),
            None => {
                let mut key = Vec::with_capacity(id.len() + 1);
                key.push(TEXT_MARKER);
                key.extend_from_slice(id.as_bytes());
                DedupeKey(key)
            }
        }
    }

    /// The key of a row without a documented key: SHA-256 over its canonical content,
    /// the same on every re-read of the same row (what "same" means is in
    /// `content_key.rs`). A row that is not JSON at all is hashed byte for byte.
    pub fn of_content(raw: &str) -> DedupeKey {
        let canonical = super::content_key::canonical(raw);
        let bytes = canonical.as_deref().unwrap_or(raw.as_bytes());
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        let mut key = Vec::with_capacity(1 + digest.as_ref().len());
        key.push(CONTENT_MARKER);
        key.extend_from_slice(digest.as_ref());
        DedupeKey(key)
    }

    #[cfg(any(test, feature = "__internals"))]
    /// Whether this key was derived from the row's content rather than an id.
    pub fn is_content_hash(&self) -> bool {
        self.0.len() == 33 && self.0[0] == CONTENT_MARKER
    }

    /// The stored bytes, owned (what the state database keeps).
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

fn parse_guid(text: &str) -> Option<[u8; 16]> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = 0usize;
    for (index, &byte) in bytes.iter().enumerate() {
        if matches!(index, 8 | 13 | 18 | 23) {
            if byte != b'-' {
                return None;
            }
            continue;
        }
        let value = (byte as char).to_digit(16)? as u8;
        out[nibbles / 2] |= if nibbles.is_multiple_of(2) {
            value << 4
        } else {
            value
        };
        nibbles += 1;
    }
    Some(out)
}

impl AsRef<[u8]> for DedupeKey {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_ids_dedupe_regardless_of_letter_case() {
        let lower = DedupeKey::of("9c4984c7-6c3c-427d-a30c-bd0b2eacee90");
        let upper = DedupeKey::of("9C4984C7-6C3C-427D-A30C-BD0B2EACEE90");
        assert_eq!(lower, upper);
        assert_eq!(lower.clone().into_bytes().len(), 16);
        assert_ne!(DedupeKey::of("not-a-guid"), lower);
    }

    #[test]
    fn content_keys_follow_the_canonical_form_and_never_meet_id_keys() {
        let a = DedupeKey::of_content(r#"{"sentDateTime":"2024-05-01T08:00:00Z","smsUnits":1}"#);
        let again = DedupeKey::of_content(
            r#"{ "smsUnits":1.0, "sentDateTime":"2024-05-01T08:00:00.0000000Z" }"#,
        );
        let other =
            DedupeKey::of_content(r#"{"sentDateTime":"2024-05-01T08:00:00Z","smsUnits":2}"#);
        assert_eq!(a, again);
        assert_ne!(a, other);
        assert!(a.is_content_hash() && !DedupeKey::of("x").is_content_hash());
        assert_eq!(a.clone().into_bytes().len(), 33);
    }
}

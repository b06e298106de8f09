//! The key a row is deduplicated by, in the compact form the state database stores.

/// A row id in the compact form the state database stores: 16 bytes for a GUID
/// (any letter case), the text behind a marker byte otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DedupeKey(Vec<u8>);

impl DedupeKey {
    /// The key of an id.
    pub fn of(id: &str) -> DedupeKey {
        match parse_guid(id) {
            Some(bytes) => DedupeKey(bytes.to_vec()),
            None => {
                let mut key = Vec::with_capacity(id.len() + 1);
                key.push(0xFF);
                key.extend_from_slice(id.as_bytes());
                DedupeKey(key)
            }
        }
    }

    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
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
        assert_eq!(lower.as_bytes().len(), 16);
        assert_ne!(DedupeKey::of("not-a-guid"), lower);
    }
}

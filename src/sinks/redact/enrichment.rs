//! The enrichment beside the call (`other_party_country`, `user`) under a sink's
//! redaction: hashed or dropped in the line, and the typed envelope kept in step.

use super::{Action, Members, OTHER_PARTY_COUNTRY, RedactingSink, hash_text};
use crate::model::UserAttributes;
use crate::sinks::{Batch, EventSpan};
use std::sync::Arc;

/// What redacting the enrichment changed, for the envelope.
#[derive(Default)]
pub(super) struct Changed {
    /// The envelope's new `user` (`Some(None)`: removed), when it changed.
    pub(super) user: Option<Option<Arc<UserAttributes>>>,
    /// `other_party_country` was hashed or removed.
    pub(super) country: bool,
}

/// The byte that opens a JSON object.
const OPEN_OBJECT: u8 = b'{';

/// The enrichment beside event `index`'s call as one JSON object, as the line has it
/// (after any redaction): `{"other_party_country":"CA","user":{...}}`; `None` when the
/// event carries none.
pub(in crate::sinks) fn enrichment_object(batch: &Batch, index: usize) -> Option<Vec<u8>> {
    let span = &batch.events[index];
    let tail = &batch.lines[span.call.end..span.line.end];
    // `,"other_party_country":"CA","user":{...}}\n`, or `}\n` without enrichment.
    let members = tail.strip_prefix(b",")?.strip_suffix(b"\n")?;
    let mut object = Vec::with_capacity(members.len() + 1);
    object.push(OPEN_OBJECT);
    object.extend_from_slice(members);
    Some(object)
}

impl RedactingSink {
    /// Whether this sink changes anything beside the call.
    fn redacts_enrichment(&self) -> bool {
        self.country != Action::Pass
            || self.drop_user
            || !self.user_hash.is_empty()
            || !self.user_drop.is_empty()
    }

    /// The user's attributes with this sink's `user.*` redaction applied: `None` when
    /// this sink redacts nothing of `user`, `Some(None)` when it drops the whole object.
    /// A hashed value without a key is left out (as a hashed call field becomes null).
    fn redact_user(&self, user: &UserAttributes) -> Option<Option<Arc<UserAttributes>>> {
        if self.drop_user {
            return Some(None);
        }
        if self.user_hash.is_empty() && self.user_drop.is_empty() {
            return None;
        }
        let values = user
            .values()
            .iter()
            .filter(|(key, _)| !self.user_drop.contains(key))
            .filter_map(|(key, value)| {
                if !self.user_hash.contains(key) {
                    return Some((key.clone(), value.clone()));
                }
                let hmac_key = self.key.as_ref()?;
                Some((key.clone(), hash_text(hmac_key, value)))
            })
            .collect();
        Some(Some(Arc::new(UserAttributes::new(values))))
    }

    /// Writes what follows the call (the enrichment members, the closing brace and the
    /// newline) with this sink's redaction of them; says what changed for the envelope.
    pub(super) fn write_tail(
        &self,
        span: &EventSpan,
        tail: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Changed, serde_json::Error> {
        let mut changed = Changed::default();
        let object = match tail.strip_prefix(b",").and_then(|t| t.strip_suffix(b"\n")) {
            Some(members) if self.redacts_enrichment() => [b"{", members].concat(),
            _ => {
                out.extend_from_slice(tail);
                return Ok(changed);
            }
        };
        let members: Members<'_> = serde_json::from_slice(&object)?;
        for (key, value) in &members.0 {
            let write_key = |out: &mut Vec<u8>| -> Result<(), serde_json::Error> {
                out.push(b',');
                serde_json::to_writer(&mut *out, key.as_ref())?;
                out.push(b':');
                Ok(())
            };
            match key.as_ref() {
                OTHER_PARTY_COUNTRY if self.country != Action::Pass => {
                    changed.country = true;
                    if self.country == Action::Hash {
                        write_key(out)?;
                        self.write_hashed(value, out)?;
                    }
                }
                "user" => {
                    let redacted = span
                        .envelope
                        .user
                        .as_deref()
                        .and_then(|user| self.redact_user(user));
                    match &redacted {
                        None => {
                            write_key(out)?;
                            out.extend_from_slice(value.get().as_bytes());
                        }
                        Some(None) => {}
                        Some(Some(user)) => {
                            write_key(out)?;
                            out.extend_from_slice(user.json().as_bytes());
                        }
                    }
                    changed.user = redacted;
                }
                _ => {
                    write_key(out)?;
                    out.extend_from_slice(value.get().as_bytes());
                }
            }
        }
        out.extend_from_slice(b"}\n");
        Ok(changed)
    }
}

//! From Graph's user objects to the event's `user`: each configured attribute under
//! its last path segment, string values only. A change from `/users/delta` may carry
//! only the properties that changed, so it is merged over what was kept: a property
//! present replaces (null clears), a property absent stays as it was.

use crate::model::{DirectoryAttribute, UserAttributes};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Longest attribute value kept (characters): directory fields are short; a longer
/// one is cut rather than copied into every event.
pub const MAX_ATTRIBUTE_CHARS: usize = 256;

/// The attributes of `user` (a Graph user object), merged over `stored`.
pub fn merge_user(
    attributes: &[DirectoryAttribute],
    stored: Option<&BTreeMap<String, String>>,
    user: &Map<String, Value>,
) -> BTreeMap<String, String> {
    let mut merged = stored.cloned().unwrap_or_default();
    for attribute in attributes {
        let Some(property) = user.get(attribute.property()) else {
            continue;
        };
        let value = match attribute.member() {
            None => Some(property),
            // `employeeOrgData: null` clears its members; an object without a member
            // leaves that member as it was only when the object is a partial change,
            // which Graph does not send for complex properties: it is cleared.
            Some(member) => property.as_object().and_then(|object| object.get(member)),
        };
        match value.and_then(Value::as_str).map(str::trim) {
            Some(text) if !text.is_empty() => {
                merged.insert(
                    attribute.key().to_owned(),
                    text.chars().take(MAX_ATTRIBUTE_CHARS).collect(),
                );
            }
            _ => {
                merged.remove(attribute.key());
            }
        }
    }
    merged
}

/// Whether a delta entry says the user left the directory (`@removed`).
pub fn is_removed(user: &Map<String, Value>) -> bool {
    user.contains_key("@removed")
}

/// The stored bytes of a user (its `user` object as JSON), read back with only the
/// `attributes` configured now: a user stored before an attribute was taken off the
/// list never carries it again (the next full read rewrites the user anyway).
pub fn attributes_from_bytes(
    attributes: &[DirectoryAttribute],
    bytes: &[u8],
) -> Option<UserAttributes> {
    let mut values = serde_json::from_slice::<BTreeMap<String, String>>(bytes).ok()?;
    values.retain(|key, _| attributes.iter().any(|attribute| attribute.key() == key));
    Some(UserAttributes::new(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_full_user_gives_each_attribute_under_its_last_segment() {
        let attributes = DirectoryAttribute::defaults();
        let user = object(
            r#"{"id":"u","department":"Sales","officeLocation":null,"usageLocation":"US","companyName":"  ","employeeOrgData":{"costCenter":"CC-7","division":"EMEA"}}"#,
        );
        let merged = merge_user(&attributes, None, &user);
        let keys: Vec<(&str, &str)> = merged
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("costCenter", "CC-7"),
                ("department", "Sales"),
                ("division", "EMEA"),
                ("usageLocation", "US")
            ]
        );
        let bytes = UserAttributes::new(merged).json().as_bytes().to_vec();
        let back = attributes_from_bytes(&attributes, &bytes).unwrap();
        assert_eq!(back.get("costCenter"), Some("CC-7"));
        let fewer: Vec<DirectoryAttribute> = ["department"]
            .into_iter()
            .filter_map(DirectoryAttribute::parse)
            .collect();
        let back = attributes_from_bytes(&fewer, &bytes).unwrap();
        assert_eq!(
            back.values().keys().collect::<Vec<_>>(),
            ["department"],
            "an attribute taken off the list is not read back"
        );
    }

    #[test]
    fn a_partial_change_replaces_what_it_carries_and_keeps_the_rest() {
        let attributes = DirectoryAttribute::defaults();
        let first = merge_user(
            &attributes,
            None,
            &object(
                r#"{"id":"u","department":"Sales","usageLocation":"US","employeeOrgData":{"costCenter":"CC-7"}}"#,
            ),
        );
        let changed = merge_user(
            &attributes,
            Some(&first),
            &object(r#"{"id":"u","department":"Marketing","employeeOrgData":null}"#),
        );
        assert_eq!(
            changed.get("department").map(String::as_str),
            Some("Marketing")
        );
        assert_eq!(changed.get("usageLocation").map(String::as_str), Some("US"));
        assert!(!changed.contains_key("costCenter"));
        assert!(is_removed(&object(
            r#"{"id":"u","@removed":{"reason":"deleted"}}"#
        )));
    }
}

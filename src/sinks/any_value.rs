//! JSON text straight to an OTLP `AnyValue`, in one pass with no `serde_json::Value`
//! in between: the OTLP sink converts each raw row once, as it exports it.
//!
//! Mapping: objects → Map (a `null` member is left out: OTLP has no null), arrays →
//! ListAny (nulls left out too), strings → String, booleans → Boolean, integers that
//! fit an i64 → Int, every other number (fractions, exponents, beyond i64) → Double.

use opentelemetry::logs::AnyValue;
use opentelemetry::{Key, StringValue};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashMap;
use std::fmt;

/// Reads one JSON value as an `AnyValue`; `None` for JSON `null`.
pub(super) fn from_json(text: &[u8]) -> Result<Option<AnyValue>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(text);
    let value = AnyValueSeed.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Deserializes any self-describing value into an `AnyValue` (`None` for null).
#[derive(Debug, Clone, Copy)]
struct AnyValueSeed;

impl<'de> DeserializeSeed<'de> for AnyValueSeed {
    type Value = Option<AnyValue>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(AnyValueSeed)
    }
}

impl<'de> Visitor<'de> for AnyValueSeed {
    type Value = Option<AnyValue>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::Boolean(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::Int(value)))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(match i64::try_from(value) {
            Ok(value) => AnyValue::Int(value),
            Err(_) => AnyValue::Double(value as f64),
        }))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::Double(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::String(StringValue::from(value.to_owned()))))
    }

    fn visit_string<E>(self, value: String) -> Result<Self::Value, E> {
        Ok(Some(AnyValue::String(StringValue::from(value))))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(AnyValueSeed)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(AnyValueSeed)? {
            items.extend(item);
        }
        Ok(Some(AnyValue::ListAny(Box::new(items))))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = HashMap::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(key) = map.next_key::<String>()? {
            match map.next_value_seed(AnyValueSeed)? {
                Some(value) => {
                    members.insert(Key::from(key), value);
                }
                // A later null of the same key clears an earlier value, as it does
                // when JSON is read into a map.
                None => {
                    members.remove(&Key::from(key));
                }
            }
        }
        Ok(Some(AnyValue::Map(Box::new(members))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(value: Option<AnyValue>) -> HashMap<Key, AnyValue> {
        match value {
            Some(AnyValue::Map(map)) => *map,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn json_becomes_a_structured_map_without_nulls_in_one_pass() {
        let text = br#"{"charge":"0.10","duration":219,"rate":0.5,"ok":true,"gone":null,
            "list":[1,null,"x"],"nested":{"deeper":{"n":-3,"none":null}},
            "big":18446744073709551615,"huge":1e300,"max":9223372036854775807,
            "escaped":"a\"b\u00e9"}"#;
        let map = map(from_json(text).unwrap());
        let get = |key: &str| map.get(&Key::from(key.to_owned())).cloned();
        assert_eq!(get("charge"), Some(AnyValue::String("0.10".into())));
        assert_eq!(get("duration"), Some(AnyValue::Int(219)));
        assert_eq!(get("rate"), Some(AnyValue::Double(0.5)));
        assert_eq!(get("ok"), Some(AnyValue::Boolean(true)));
        assert_eq!(get("gone"), None, "nulls are left out of maps");
        assert_eq!(
            get("list"),
            Some(AnyValue::ListAny(Box::new(vec![
                AnyValue::Int(1),
                AnyValue::String("x".into())
            ])))
        );
        let nested = map_of(get("nested"));
        let deeper = map_of(nested.get(&Key::from("deeper")).cloned());
        assert_eq!(deeper.get(&Key::from("n")), Some(&AnyValue::Int(-3)));
        assert!(!deeper.contains_key(&Key::from("none")));
        assert_eq!(get("big"), Some(AnyValue::Double(u64::MAX as f64)));
        assert_eq!(get("huge"), Some(AnyValue::Double(1e300)));
        assert_eq!(get("max"), Some(AnyValue::Int(i64::MAX)));
        assert_eq!(get("escaped"), Some(AnyValue::String("a\"bé".into())));
        assert_eq!(from_json(b"null").unwrap(), None);
    }

    fn map_of(value: Option<AnyValue>) -> HashMap<Key, AnyValue> {
        map(value)
    }

    #[test]
    fn invalid_or_too_deep_json_is_an_error_not_a_panic() {
        assert!(from_json(b"{\"a\":").is_err());
        assert!(from_json(b"{} trailing").is_err());
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(from_json(deep.as_bytes()).is_err());
    }
}

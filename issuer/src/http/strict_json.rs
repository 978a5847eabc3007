//! JSON bodies read strictly: a struct is filled only from a JSON object, never from an array
//! by position (serde's derive accepts both, so `[10, 5, 3, 2]` would complete a settlement).
//!
//! [`Strict`] wraps a parsed [`Value`] and refuses a sequence wherever serde asks for a
//! struct, at any depth. Written here because no maintained crate offers this switch.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;

/// A JSON value whose structs must be objects.
#[derive(Debug)]
pub struct Strict(pub Value);

/// Deserializes `value` into `T`, refusing arrays in place of objects.
///
/// # Errors
///
/// serde's error: a missing, unknown or mistyped field, or an array where an object belongs.
pub fn from_value<T: de::DeserializeOwned>(value: Value) -> Result<T, serde_json::Error> {
    T::deserialize(Strict(value))
}

impl<'de> IntoDeserializer<'de, serde_json::Error> for Strict {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for Strict {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter().map(Strict));
                let out = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(out)
            }
            Value::Object(map) => {
                let mut entries =
                    MapDeserializer::new(map.into_iter().map(|(k, v)| (k, Strict(v))));
                let out = visitor.visit_map(&mut entries)?;
                entries.end()?;
                Ok(out)
            }
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a JSON object",
            )),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // Our enums are unit variants written as strings: serde_json's own rules apply.
        self.0.deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("a number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::from_value;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Amounts {
        total: u64,
        fund: u64,
        #[serde(default)]
        note: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Batch {
        items: Vec<Amounts>,
    }

    #[test]
    fn objects_fill_structs_and_arrays_do_not() {
        let ok: Amounts = from_value(json!({"total": 10, "fund": 5})).expect("object");
        assert_eq!(
            ok,
            Amounts {
                total: 10,
                fund: 5,
                note: None
            }
        );
        assert!(from_value::<Amounts>(json!([10, 5])).is_err());
        let nested = from_value::<Batch>(json!({"items": [[10, 5]]}));
        assert!(nested.is_err(), "{nested:?}");
        let batch: Batch =
            from_value(json!({"items": [{"total": 1, "fund": 1, "note": null}]})).expect("ok");
        assert_eq!(batch.items.len(), 1);
        let unknown = from_value::<Amounts>(json!({"total": 1, "fund": 1, "x": 2}));
        assert!(
            unknown
                .expect_err("unknown")
                .to_string()
                .contains("unknown field")
        );
        assert!(from_value::<Amounts>(json!({"total": -1, "fund": 1})).is_err());
    }
}

//! A JSON document read without building it whole: the records of a
//! CloudTrail `Records` array are read and handed on one at a time, so a
//! file of a million records never holds more than its bytes and one
//! record's tree. Other documents are built as values and unwrapped as
//! usual.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{Decoder, Via};

/// The top-level value of a document starting at `line`.
pub(super) struct Top<'d, 'h> {
    pub dec: &'d mut Decoder<'h>,
    pub line: usize,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut rest = Map::new();
        let mut streamed = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" && !streamed {
                let records = Records {
                    dec: &mut *self.dec,
                    line: self.line,
                };
                match map.next_value_seed(records)? {
                    None => streamed = true,
                    Some(v) => {
                        rest.insert(key, v);
                    }
                }
            } else {
                rest.insert(key, map.next_value()?);
            }
        }
        // As `expand` reads a document with `Records`: the rest of it
        // holds no event.
        if !streamed {
            self.dec.expand(Value::Object(rest), self.line, Via::Raw, 0);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            self.dec.expand(item, self.line, Via::Raw, 1);
        }
        Ok(())
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.scalar(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.scalar(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.scalar(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.scalar(v.into())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.scalar(v.into())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.scalar(Value::Null)
    }
}

impl Top<'_, '_> {
    /// Not an object or array: the decoder says what it is not.
    fn scalar<E>(self, v: Value) -> Result<(), E> {
        self.dec.expand(v, self.line, Via::Raw, 0);
        Ok(())
    }
}

/// The value of `Records`: its elements handed on one by one (`None`), or,
/// not an array, the value itself.
struct Records<'d, 'h> {
    dec: &'d mut Decoder<'h>,
    line: usize,
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<Value>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Records<'_, '_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Value>, A::Error> {
        // Each record's text, borrowed from the document (read from a
        // slice): the fast path reads only the fields rules use.
        while let Some(record) = seq.next_element::<&'de RawValue>()? {
            self.dec.record(record.get().as_bytes(), self.line);
        }
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Value>, A::Error> {
        let de = serde::de::value::MapAccessDeserializer::new(map);
        Ok(Some(serde::Deserialize::deserialize(de)?))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Option<Value>, E> {
        Ok(Some(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Option<Value>, E> {
        Ok(Some(v.into()))
    }

    fn visit_unit<E>(self) -> Result<Option<Value>, E> {
        Ok(Some(Value::Null))
    }
}

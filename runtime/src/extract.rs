//! Extraction: one pass over an event's JSON text that keeps only the
//! projected paths and skips everything else without building it.
//!
//! The result is a sparse `serde_json::Value` holding exactly the values any
//! rule reads (present, null or of a drifted type, as in the event), so the
//! evaluator sees the same answers as on the full event. Skipped values go
//! through serde's `IgnoredAny`: the floor a JSON validator pays anyway.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use ward_compiler::plan::Projection;

/// Parses `text` keeping only what `proj` names; `None` when the text is
/// not valid JSON (the caller's full parse then reports why).
pub fn extract(text: &[u8], proj: &Projection) -> Option<Value> {
    // Skipped strings are not checked for UTF-8 by serde_json; a full parse
    // would reject such a line, so this must too. Validation is SIMD-fast.
    let text = std::str::from_utf8(text).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Seed(proj).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(v)
}

struct Seed<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.0.whole {
            return Value::deserialize(d);
        }
        d.deserialize_any(self)
    }
}

use serde::Deserialize as _;

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        match &self.0.elems {
            Some(e) => {
                while let Some(v) = seq.next_element_seed(Seed(e))? {
                    out.push(v);
                }
            }
            None => while seq.next_element::<IgnoredAny>()?.is_some() {},
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key(self.0))? {
            match key {
                Some((name, child)) => {
                    let v = map.next_value_seed(Seed(child))?;
                    out.insert(name, v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// A key: the projected child it leads to, or `None` to skip its value.
struct Key<'p>(&'p Projection);

impl<'de, 'p> DeserializeSeed<'de> for Key<'p> {
    type Value = Option<(String, &'p Projection)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'p> Visitor<'de> for Key<'p> {
    type Value = Option<(String, &'p Projection)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.keys.get_key_value(v).map(|(k, p)| (k.clone(), p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn proj(paths: &[&[Option<&str>]]) -> Projection {
        let mut p = Projection::default();
        for steps in paths {
            p.insert(steps);
        }
        p
    }

    #[test]
    fn keeps_only_projected_paths() {
        let text = br#"{"verb":"create","user":{"username":"a","groups":["g"]},"objectRef":null,
            "requestObject":{"spec":{"containers":[{"image":"x","securityContext":{"privileged":true}},{"image":"y"}]}},
            "big":{"deep":[1,2,{"x":"\u00e9"}]}}"#;
        let p = proj(&[
            &[Some("verb")],
            &[Some("objectRef"), Some("resource")],
            &[
                Some("requestObject"),
                Some("spec"),
                Some("containers"),
                None,
                Some("securityContext"),
                Some("privileged"),
            ],
            &[Some("user"), Some("groups")],
        ]);
        let v = extract(text, &p).expect("valid JSON");
        assert_eq!(
            v,
            json!({"verb": "create", "user": {"groups": ["g"]}, "objectRef": null,
                   "requestObject": {"spec": {"containers": [{"securityContext": {"privileged": true}}, {}]}}})
        );
    }

    #[test]
    fn drifted_types_are_kept_as_they_are() {
        let p = proj(&[
            &[Some("responseStatus"), Some("code")],
            &[Some("objectRef"), Some("resource")],
        ]);
        let v = extract(
            br#"{"responseStatus":{"code":"403"},"objectRef":"pods"}"#,
            &p,
        )
        .expect("valid");
        assert_eq!(
            v,
            json!({"responseStatus": {"code": "403"}, "objectRef": "pods"})
        );
    }

    #[test]
    fn rejects_what_json_rejects() {
        let p = proj(&[&[Some("a")]]);
        assert!(extract(br#"{"a":1} trailing"#, &p).is_none());
        assert!(extract(br#"{"b":[1,2"#, &p).is_none());
        assert!(
            extract(b"{\"b\":\"\xff\"}", &p).is_none(),
            "invalid UTF-8 in a skipped value"
        );
        let deep = format!("{{\"b\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
        // Skipping is iterative in serde_json, so deep nesting in a value no
        // rule reads costs no stack and is not an error here.
        assert_eq!(extract(deep.as_bytes(), &p), Some(json!({})));
    }
}

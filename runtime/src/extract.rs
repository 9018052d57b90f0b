//! Extraction: one pass over an event's JSON text that keeps only the
//! projected paths and skips everything else without building it.
//!
//! The result is a small arena ([`Sparse`]) holding exactly the values any
//! rule reads (present, null or of a drifted type, as in the event); keys
//! are borrowed from the projection and unescaped strings from the text, so
//! a typical event costs a few allocations. Read through `Doc`, it gives the
//! evaluator the same answers as the full event. Skipped values go through
//! serde's `IgnoredAny`: the floor a JSON validator pays anyway.
//!
//! Matching needs a whole object only for its presence, so [`extract`]
//! keeps it empty; alerts show whole values as they are, so
//! [`extract_entire`] keeps each whole value entire (as a JSON tree).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use ward_compiler::doc::{Doc, Kind};
use ward_compiler::plan::Projection;

/// The extracted values of one event.
#[derive(Debug, Default)]
pub struct Sparse<'t> {
    nodes: Vec<Node<'t>>,
    /// Object entries, each object's contiguous.
    entries: Vec<(&'t str, u32)>,
    /// Array elements, each array's contiguous.
    elems: Vec<u32>,
    /// Children of the objects and arrays still open.
    stack_entries: Vec<(&'t str, u32)>,
    stack_elems: Vec<u32>,
}

#[derive(Debug)]
enum Node<'t> {
    Null,
    Bool(bool),
    Num(f64, bool),
    Str(Cow<'t, str>),
    Arr { first: u32, len: u32 },
    Obj { first: u32, len: u32 },
    /// A whole value kept entire ([`extract_entire`]).
    Json(Box<serde_json::Value>),
}

impl<'t> Sparse<'t> {
    /// The root value.
    pub fn root(&self) -> At<'_, 't> {
        At::node(self, self.nodes.len().saturating_sub(1) as u32)
    }

    fn push(&mut self, n: Node<'t>) -> u32 {
        self.nodes.push(n);
        (self.nodes.len() - 1) as u32
    }

    /// The extracted values as JSON (for tests and debugging).
    pub fn to_value(&self) -> serde_json::Value {
        fn conv(a: At<'_, '_>) -> serde_json::Value {
            match a.kind() {
                Kind::Null => serde_json::Value::Null,
                Kind::Bool(b) => serde_json::Value::Bool(b),
                Kind::Num(n, true) => serde_json::Value::from(n as i64),
                Kind::Num(n, false) => serde_json::Value::from(n),
                Kind::Str(s) => serde_json::Value::from(s),
                Kind::Arr(len) => (0..len).filter_map(|i| a.at(i)).map(conv).collect(),
                Kind::Obj => {
                    let mut m = serde_json::Map::new();
                    a.each_entry(&mut |k, v| {
                        m.insert(k.to_string(), conv(v));
                    });
                    serde_json::Value::Object(m)
                }
            }
        }
        if self.nodes.is_empty() {
            return serde_json::Value::Null;
        }
        conv(self.root())
    }
}

/// A cursor into a [`Sparse`]: a node of the arena, or a place inside a
/// value kept entire.
#[derive(Clone, Copy, Debug)]
pub enum At<'s, 't> {
    Node { doc: &'s Sparse<'t>, i: u32 },
    Json(&'s serde_json::Value),
}

impl<'s, 't: 's> At<'s, 't> {
    fn node(doc: &'s Sparse<'t>, i: u32) -> Self {
        match &doc.nodes[i as usize] {
            Node::Json(v) => At::Json(v),
            _ => At::Node { doc, i },
        }
    }
}

impl<'s, 't: 's> Doc<'s> for At<'s, 't> {
    fn kind(self) -> Kind<'s> {
        let (doc, i) = match self {
            At::Node { doc, i } => (doc, i),
            At::Json(v) => return v.kind(),
        };
        match &doc.nodes[i as usize] {
            Node::Null => Kind::Null,
            Node::Bool(b) => Kind::Bool(*b),
            Node::Num(n, int) => Kind::Num(*n, *int),
            Node::Str(s) => Kind::Str(s),
            Node::Arr { len, .. } => Kind::Arr(*len as usize),
            Node::Obj { .. } => Kind::Obj,
            Node::Json(v) => v.kind(),
        }
    }
    fn key(self, k: &str) -> Option<Self> {
        let (doc, i) = match self {
            At::Node { doc, i } => (doc, i),
            At::Json(v) => return v.key(k).map(At::Json),
        };
        let Node::Obj { first, len } = doc.nodes[i as usize] else {
            return None;
        };
        let entries = &doc.entries[first as usize..(first + len) as usize];
        entries
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, i)| At::node(doc, *i))
    }
    fn at(self, idx: usize) -> Option<Self> {
        let (doc, i) = match self {
            At::Node { doc, i } => (doc, i),
            At::Json(v) => return v.at(idx).map(At::Json),
        };
        let Node::Arr { first, len } = doc.nodes[i as usize] else {
            return None;
        };
        (idx < len as usize).then(|| At::node(doc, doc.elems[first as usize + idx]))
    }
    fn each_entry(self, f: &mut dyn FnMut(&'s str, Self)) {
        let (doc, i) = match self {
            At::Node { doc, i } => (doc, i),
            At::Json(v) => return v.each_entry(&mut |k, item| f(k, At::Json(item))),
        };
        let Node::Obj { first, len } = doc.nodes[i as usize] else {
            return;
        };
        for (k, i) in &doc.entries[first as usize..(first + len) as usize] {
            f(k, At::node(doc, *i));
        }
    }
}

/// Sizes of a [`Sparse`], to allocate the next one at once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sizes {
    nodes: usize,
    entries: usize,
    elems: usize,
}

impl Sizes {
    /// Grows to cover `s`.
    pub fn cover(&mut self, s: &Sparse<'_>) {
        self.nodes = self.nodes.max(s.nodes.len());
        self.entries = self.entries.max(s.entries.len());
        self.elems = self.elems.max(s.elems.len());
    }
}

/// Parses `text` keeping only what `proj` names; `None` when the text is
/// not valid JSON (the caller's full parse then reports why).
pub fn extract<'t>(text: &'t [u8], proj: &'t Projection) -> Option<Sparse<'t>> {
    extract_sized(text, proj, Sizes::default())
}

/// [`extract`], keeping each whole value entire: what alerts show.
pub fn extract_entire<'t>(text: &'t [u8], proj: &'t Projection) -> Option<Sparse<'t>> {
    run(text, proj, Sizes::default(), true)
}

/// [`extract`], allocating for `sizes` up front (the largest event seen so
/// far, typically), so the arena does not grow piecemeal.
pub fn extract_sized<'t>(text: &'t [u8], proj: &'t Projection, sizes: Sizes) -> Option<Sparse<'t>> {
    run(text, proj, sizes, false)
}

fn run<'t>(text: &'t [u8], proj: &'t Projection, sizes: Sizes, entire: bool) -> Option<Sparse<'t>> {
    // Skipped strings are not checked for UTF-8 by serde_json; a full parse
    // would reject such a line, so this must too. Validation is SIMD-fast.
    let text = std::str::from_utf8(text).ok()?;
    let mut out = Sparse {
        nodes: Vec::with_capacity(sizes.nodes),
        entries: Vec::with_capacity(sizes.entries),
        elems: Vec::with_capacity(sizes.elems),
        stack_entries: Vec::with_capacity(sizes.entries),
        stack_elems: Vec::with_capacity(sizes.elems),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    Seed {
        proj,
        out: &mut out,
        entire,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(out)
}

/// Builds one value into the arena, as `proj` says. Where a path ends
/// (`whole`), objects keep only their presence (nothing reads inside them),
/// or with `entire` the whole value.
struct Seed<'o, 't> {
    proj: &'t Projection,
    out: &'o mut Sparse<'t>,
    entire: bool,
}

impl<'o, 't> Seed<'o, 't> {
    fn child(&mut self, proj: &'t Projection) -> Seed<'_, 't> {
        Seed {
            proj,
            out: self.out,
            entire: self.entire,
        }
    }
}

impl<'de: 't, 't> DeserializeSeed<'de> for Seed<'_, 't> {
    type Value = u32;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u32, D::Error> {
        if self.entire && self.proj.whole {
            let v = serde_json::Value::deserialize(d)?;
            return Ok(self.out.push(Node::Json(Box::new(v))));
        }
        d.deserialize_any(self)
    }
}

impl<'de: 't, 't> Visitor<'de> for Seed<'_, 't> {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<u32, E> {
        Ok(self.out.push(Node::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<u32, E> {
        Ok(self.out.push(Node::Num(v as f64, true)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<u32, E> {
        Ok(self.out.push(Node::Num(v as f64, true)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<u32, E> {
        Ok(self.out.push(Node::Num(v, false)))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<u32, E> {
        Ok(self.out.push(Node::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<u32, E> {
        Ok(self.out.push(Node::Str(Cow::Owned(v.to_string()))))
    }
    fn visit_unit<E>(self) -> Result<u32, E> {
        Ok(self.out.push(Node::Null))
    }
    fn visit_none<E>(self) -> Result<u32, E> {
        Ok(self.out.push(Node::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<u32, A::Error> {
        // A whole value keeps its elements (lists compared by `in`); an
        // element shape keeps them as projected; otherwise only the length
        // would be visible, and nothing reads it: skip.
        let elem_proj: Option<&'t Projection> = match (&self.proj.elems, self.proj.whole) {
            (Some(e), _) => Some(e),
            (None, true) => Some(self.proj),
            (None, false) => None,
        };
        let start = self.out.stack_elems.len();
        match elem_proj {
            Some(p) => {
                while let Some(i) = seq.next_element_seed(self.child(p))? {
                    self.out.stack_elems.push(i);
                }
            }
            None => while seq.next_element::<IgnoredAny>()?.is_some() {},
        }
        let first = self.out.elems.len() as u32;
        let len = (self.out.stack_elems.len() - start) as u32;
        let done: Vec<u32> = self.out.stack_elems.drain(start..).collect();
        self.out.elems.extend(done);
        Ok(self.out.push(Node::Arr { first, len }))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<u32, A::Error> {
        let start = self.out.stack_entries.len();
        while let Some(key) = map.next_key_seed(Key(self.proj))? {
            match key {
                Some((name, child)) => {
                    let i = map.next_value_seed(self.child(child))?;
                    self.out.stack_entries.push((name, i));
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let first = self.out.entries.len() as u32;
        let len = (self.out.stack_entries.len() - start) as u32;
        let done: Vec<(&'t str, u32)> = self.out.stack_entries.drain(start..).collect();
        self.out.entries.extend(done);
        Ok(self.out.push(Node::Obj { first, len }))
    }
}

/// A key: the projected child it leads to (and the projection's copy of the
/// name), or `None` to skip its value.
struct Key<'t>(&'t Projection);

impl<'de, 't> DeserializeSeed<'de> for Key<'t> {
    type Value = Option<(&'t str, &'t Projection)>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 't> Visitor<'de> for Key<'t> {
    type Value = Option<(&'t str, &'t Projection)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.0.keys.get_key_value(v).map(|(k, p)| (k.as_str(), p)))
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

    fn sparse(text: &[u8], p: &Projection) -> Option<serde_json::Value> {
        extract(text, p).map(|s| s.to_value())
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
        assert_eq!(
            sparse(text, &p),
            Some(
                json!({"verb": "create", "user": {"groups": ["g"]}, "objectRef": null,
                   "requestObject": {"spec": {"containers": [{"securityContext": {"privileged": true}}, {}]}}})
            )
        );
    }

    #[test]
    fn drifted_types_are_kept_as_they_are() {
        let p = proj(&[
            &[Some("responseStatus"), Some("code")],
            &[Some("objectRef"), Some("resource")],
        ]);
        let v = sparse(
            br#"{"responseStatus":{"code":"403"},"objectRef":"pods"}"#,
            &p,
        );
        assert_eq!(
            v,
            Some(json!({"responseStatus": {"code": "403"}, "objectRef": "pods"}))
        );
        // A whole value that is an object keeps only its presence.
        let p = proj(&[&[Some("requestObject")]]);
        assert_eq!(
            sparse(br#"{"requestObject":{"a":1}}"#, &p),
            Some(json!({"requestObject": {}}))
        );
    }

    #[test]
    fn entire_extraction_keeps_whole_values_whole() {
        let p = proj(&[
            &[Some("spec"), Some("volumes")],
            &[Some("spec"), Some("volumes"), None, Some("hostPath"), Some("path")],
            &[Some("verb")],
        ]);
        let text = br#"{"verb":"create","spec":{"volumes":[{"name":"h","hostPath":{"path":"/","type":""}},{"name":"e","emptyDir":{}}],"other":1}}"#;
        let whole = json!({"verb": "create", "spec": {"volumes": [
            {"name": "h", "hostPath": {"path": "/", "type": ""}}, {"name": "e", "emptyDir": {}}]}});
        let entire = extract_entire(text, &p).map(|s| s.to_value());
        assert_eq!(entire, Some(whole));
        // Matching needs only the projected paths inside.
        let matching = json!({"verb": "create", "spec": {"volumes": [{"hostPath": {"path": "/"}}, {}]}});
        assert_eq!(sparse(text, &p), Some(matching));
        // Paths read through a value kept entire.
        let s = extract_entire(text, &p).expect("json");
        let path = s
            .root()
            .key("spec")
            .and_then(|v| v.key("volumes"))
            .and_then(|v| v.at(0))
            .and_then(|v| v.key("hostPath"))
            .and_then(|v| v.key("type"));
        assert_eq!(path.map(|v| v.kind()), Some(Kind::Str("")));
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let p = proj(&[&[Some("a")]]);
        assert_eq!(
            sparse(br#"{"a":"x\"y\u00e9"}"#, &p),
            Some(json!({"a": "x\"yé"}))
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
        // Skipping is iterative in serde_json, so deep nesting in a value no
        // rule reads costs no stack and is not an error here.
        let deep = format!("{{\"b\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(sparse(deep.as_bytes(), &p), Some(json!({})));
    }
}

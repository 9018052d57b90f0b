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
//! [`extract_entire`] keeps each whole value entire.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use ward_compiler::doc::{Doc, Kind};
use ward_compiler::plan::Projection;

/// The extracted values of one event.
#[derive(Debug, Default)]
pub struct Sparse<'t> {
    nodes: Vec<Node<'t>>,
    /// Per node, the id of the projection node it was read under
    /// ([`NO_ID`] inside a value kept entire).
    ids: Vec<u32>,
    /// Object entries, each object's contiguous. A projected key is the
    /// projection's; a key of a value kept entire is the text's.
    entries: Vec<(Cow<'t, str>, u32)>,
    /// Array elements, each array's contiguous.
    elems: Vec<u32>,
    /// Children of the objects and arrays still open.
    stack_entries: Vec<(Cow<'t, str>, u32)>,
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
}

impl<'t> Sparse<'t> {
    /// The root value.
    pub fn root(&self) -> At<'_, 't> {
        At {
            doc: self,
            i: self.nodes.len().saturating_sub(1) as u32,
        }
    }

    fn push(&mut self, n: Node<'t>, id: u32) -> u32 {
        self.nodes.push(n);
        self.ids.push(id);
        (self.nodes.len() - 1) as u32
    }

    /// The extracted values as JSON (for tests and debugging).
    pub fn to_value(&self) -> serde_json::Value {
        if self.nodes.is_empty() {
            return serde_json::Value::Null;
        }
        self.root().to_json()
    }
}

/// The projection id of a value kept entire.
pub const NO_ID: u32 = u32::MAX;

/// A cursor into a [`Sparse`].
#[derive(Clone, Copy, Debug)]
pub struct At<'s, 't> {
    doc: &'s Sparse<'t>,
    i: u32,
}

impl<'s, 't: 's> At<'s, 't> {
    /// The id of the projection node this value was read under.
    pub fn proj_id(self) -> u32 {
        self.doc.ids[self.i as usize]
    }

    /// An object's entries, in the document's order (none for another
    /// kind of value).
    pub fn children(self) -> impl Iterator<Item = (&'s str, At<'s, 't>)> {
        let doc = self.doc;
        self.entries()
            .iter()
            .map(move |(k, i)| (k.as_ref(), At { doc, i: *i }))
    }

    fn entries(self) -> &'s [(Cow<'t, str>, u32)] {
        match self.doc.nodes[self.i as usize] {
            Node::Obj { first, len } => &self.doc.entries[first as usize..(first + len) as usize],
            _ => &[],
        }
    }
}

impl<'s, 't: 's> Doc<'s> for At<'s, 't> {
    fn kind(self) -> Kind<'s> {
        match &self.doc.nodes[self.i as usize] {
            Node::Null => Kind::Null,
            Node::Bool(b) => Kind::Bool(*b),
            Node::Num(n, int) => Kind::Num(*n, *int),
            Node::Str(s) => Kind::Str(s),
            Node::Arr { len, .. } => Kind::Arr(*len as usize),
            Node::Obj { .. } => Kind::Obj,
        }
    }
    fn key(self, k: &str) -> Option<Self> {
        // The last of repeated keys, as a full parse keeps it.
        // Length and first byte first: most keys differ there already.
        let (len, first) = (k.len(), k.as_bytes().first());
        self.entries()
            .iter()
            .rev()
            .find(|(key, _)| key.len() == len && key.as_bytes().first() == first && key == k)
            .map(|(_, i)| At {
                doc: self.doc,
                i: *i,
            })
    }
    fn at(self, idx: usize) -> Option<Self> {
        let Node::Arr { first, len } = self.doc.nodes[self.i as usize] else {
            return None;
        };
        (idx < len as usize).then(|| At {
            doc: self.doc,
            i: self.doc.elems[first as usize + idx],
        })
    }
    fn each_entry(self, f: &mut dyn FnMut(&'s str, Self)) {
        for (k, i) in self.entries() {
            f(
                k,
                At {
                    doc: self.doc,
                    i: *i,
                },
            );
        }
    }
}

/// The storage of a [`Sparse`], kept from one event to the next: once warm,
/// an extraction allocates nothing but the strings it must unescape.
#[derive(Debug, Default)]
pub struct Buffers {
    nodes: Vec<Node<'static>>,
    ids: Vec<u32>,
    entries: Vec<(Cow<'static, str>, u32)>,
    elems: Vec<u32>,
    stack_entries: Vec<(Cow<'static, str>, u32)>,
    stack_elems: Vec<u32>,
}

/// An emptied vector, as a vector of another element type; the allocation
/// is kept when the two have the same layout (here: the same type but for
/// a lifetime), as `collect` reuses a vector it iterates in place.
fn reuse<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

impl<'t> Sparse<'t> {
    /// Gives the storage back for the next extraction.
    pub fn into_buffers(self) -> Buffers {
        Buffers {
            nodes: reuse(self.nodes),
            ids: reuse(self.ids),
            entries: reuse(self.entries),
            elems: reuse(self.elems),
            stack_entries: reuse(self.stack_entries),
            stack_elems: reuse(self.stack_elems),
        }
    }

    fn from_buffers(b: Buffers) -> Sparse<'t> {
        Sparse {
            nodes: reuse(b.nodes),
            ids: reuse(b.ids),
            entries: reuse(b.entries),
            elems: reuse(b.elems),
            stack_entries: reuse(b.stack_entries),
            stack_elems: reuse(b.stack_elems),
        }
    }
}

/// Parses `text` keeping only what `proj` names; `None` when the text is
/// not valid JSON (the caller's full parse then reports why).
pub fn extract<'t>(text: &'t [u8], proj: &'t Projection) -> Option<Sparse<'t>> {
    run(text, proj, Buffers::default(), false)
}

/// [`extract`], keeping each whole value entire: what alerts show.
pub fn extract_entire<'t>(text: &'t [u8], proj: &'t Projection) -> Option<Sparse<'t>> {
    run(text, proj, Buffers::default(), true)
}

/// [`extract`] into the storage of an earlier extraction
/// ([`Sparse::into_buffers`]).
pub fn extract_reusing<'t>(
    text: &'t [u8],
    proj: &'t Projection,
    bufs: Buffers,
) -> Option<Sparse<'t>> {
    run(text, proj, bufs, false)
}

fn run<'t>(
    text: &'t [u8],
    proj: &'t Projection,
    bufs: Buffers,
    entire: bool,
) -> Option<Sparse<'t>> {
    // Skipped strings are not checked for UTF-8 by serde_json; a full parse
    // would reject such a line, so this must too. Validation is SIMD-fast.
    let text = std::str::from_utf8(text).ok()?;
    let mut out = Sparse::from_buffers(bufs);
    let mut de = serde_json::Deserializer::from_str(text);
    Seed {
        proj: Some(proj),
        out: &mut out,
        entire,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(out)
}

/// Builds one value into the arena, as `proj` says (`None`: all of it).
/// Where a path ends (`whole`), objects keep only their presence (nothing
/// reads inside them), or with `entire` all of the value.
struct Seed<'o, 't> {
    proj: Option<&'t Projection>,
    out: &'o mut Sparse<'t>,
    entire: bool,
}

impl<'o, 't> Seed<'o, 't> {
    fn child(&mut self, proj: Option<&'t Projection>) -> Seed<'_, 't> {
        Seed {
            proj,
            out: self.out,
            entire: self.entire,
        }
    }
}

impl<'de: 't, 't> DeserializeSeed<'de> for Seed<'_, 't> {
    type Value = u32;

    fn deserialize<D: Deserializer<'de>>(mut self, d: D) -> Result<u32, D::Error> {
        if self.entire && self.proj.is_some_and(|p| p.whole) {
            self.proj = None;
        }
        d.deserialize_any(self)
    }
}

impl<'t> Seed<'_, 't> {
    /// Adds the value read under this seed's projection.
    fn add<E>(self, n: Node<'t>) -> Result<u32, E> {
        let id = self.proj.map_or(NO_ID, |p| p.id);
        Ok(self.out.push(n, id))
    }
}

impl<'de: 't, 't> Visitor<'de> for Seed<'_, 't> {
    type Value = u32;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<u32, E> {
        self.add(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<u32, E> {
        self.add(Node::Num(v as f64, true))
    }
    fn visit_u64<E>(self, v: u64) -> Result<u32, E> {
        self.add(Node::Num(v as f64, true))
    }
    fn visit_f64<E>(self, v: f64) -> Result<u32, E> {
        self.add(Node::Num(v, false))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<u32, E> {
        self.add(Node::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<u32, E> {
        self.add(Node::Str(Cow::Owned(v.to_string())))
    }
    fn visit_unit<E>(self) -> Result<u32, E> {
        self.add(Node::Null)
    }
    fn visit_none<E>(self) -> Result<u32, E> {
        self.add(Node::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<u32, A::Error> {
        // All of a value keeps all of its elements; a whole value keeps its
        // elements (lists compared by `in`); an element shape keeps them as
        // projected; otherwise only the length would be visible, and
        // nothing reads it: skip.
        let elem_proj: Option<Option<&'t Projection>> = match self.proj {
            None => Some(None),
            Some(p) => match (&p.elems, p.whole) {
                (Some(e), _) => Some(Some(e)),
                (None, true) => Some(Some(p)),
                (None, false) => None,
            },
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
        let Sparse {
            elems, stack_elems, ..
        } = &mut *self.out;
        elems.extend(stack_elems.drain(start..));
        self.add(Node::Arr { first, len })
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
        let Sparse {
            entries,
            stack_entries,
            ..
        } = &mut *self.out;
        entries.extend(stack_entries.drain(start..));
        self.add(Node::Obj { first, len })
    }
}

/// A key under `proj` (`None`: all are kept): its name and the projection
/// of its value, or `None` to skip the value.
struct Key<'t>(Option<&'t Projection>);

type KeyOut<'t> = Option<(Cow<'t, str>, Option<&'t Projection>)>;

impl<'de: 't, 't> DeserializeSeed<'de> for Key<'t> {
    type Value = KeyOut<'t>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de: 't, 't> Visitor<'de> for Key<'t> {
    type Value = KeyOut<'t>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(match self.0 {
            None => Some((Cow::Borrowed(v), None)),
            Some(p) => p
                .keys
                .get_key_value(v)
                .map(|(k, p)| (Cow::Borrowed(k.as_str()), Some(p))),
        })
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(match self.0 {
            None => Some((Cow::Owned(v.to_string()), None)),
            Some(p) => p
                .keys
                .get_key_value(v)
                .map(|(k, p)| (Cow::Borrowed(k.as_str()), Some(p))),
        })
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
            &[
                Some("spec"),
                Some("volumes"),
                None,
                Some("hostPath"),
                Some("path"),
            ],
            &[Some("verb")],
        ]);
        let text = br#"{"verb":"create","spec":{"volumes":[{"name":"h","hostPath":{"path":"/","type":""}},{"name":"e","emptyDir":{}}],"other":1}}"#;
        let whole = json!({"verb": "create", "spec": {"volumes": [
            {"name": "h", "hostPath": {"path": "/", "type": ""}}, {"name": "e", "emptyDir": {}}]}});
        let entire = extract_entire(text, &p).map(|s| s.to_value());
        assert_eq!(entire, Some(whole));
        // Matching needs only the projected paths inside.
        let matching =
            json!({"verb": "create", "spec": {"volumes": [{"hostPath": {"path": "/"}}, {}]}});
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
    fn storage_is_reused_across_extractions() {
        let p = proj(&[&[Some("a")], &[Some("b"), None, Some("c")]]);
        let text = br#"{"a":"x","b":[{"c":1},{"c":2}]}"#;
        let first = extract(text, &p).expect("json");
        let want = first.to_value();
        let bufs = first.into_buffers();
        let caps = (bufs.nodes.capacity(), bufs.entries.capacity());
        assert!(caps.0 >= 6 && caps.1 >= 3, "{caps:?}");
        let other = b"{\"a\":\"y\"}".to_vec();
        let second = extract_reusing(&other, &p, bufs).expect("json");
        assert_eq!(second.to_value(), json!({"a": "y"}));
        let bufs = second.into_buffers();
        assert_eq!(
            (bufs.nodes.capacity(), bufs.entries.capacity()),
            caps,
            "no new allocation"
        );
        let third = extract_reusing(text, &p, bufs).expect("json");
        assert_eq!(third.to_value(), want);
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

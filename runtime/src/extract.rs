//! Extraction: one pass over an event's JSON text that keeps only the
//! projected paths and skips everything else without building it.
//!
//! The result is a small arena ([`Sparse`]) holding exactly the values any
//! rule reads (present, null or of a drifted type, as in the event). Its
//! nodes are plain data: a string is borrowed from the text (a key from the
//! projection) or, where escapes were undone, is a range of one buffer of
//! such strings; so once its storage is warm an extraction allocates
//! nothing, and giving the storage back drops nothing. Read through `Doc`,
//! it gives the evaluator the same answers as the full event.
//!
//! The text is read by hand ([`lex`]), not through serde: skipping is what
//! most of the bytes get, and a value no rule reads costs a scan to its end.
//! Every object, array and number keeps where it lies in the text, so what
//! alerts show comes out as written: an object of which only some keys
//! were projected is read again, whole, from its span; an integer is its
//! digits. [`extract_entire`] builds whole values in the first pass.

use ward_compiler::doc::{self, Doc, Kind};
use ward_compiler::hash::same_key;
use ward_compiler::lower::Slot;
use ward_compiler::plan::Projection;

mod canon;
mod lex;

use lex::{ws, Bad, Lexed, Then};

/// The extracted values of one event.
#[derive(Debug, Default)]
pub struct Sparse<'t> {
    /// The event's text, which spans index.
    text: &'t str,
    nodes: Vec<Node<'t>>,
    /// Per node, the id of the projection node it was read under
    /// ([`NO_ID`] inside a value kept entire).
    ids: Vec<u32>,
    /// Object entries (key, node), each object's contiguous.
    entries: Vec<(Text<'t>, u32)>,
    /// Array elements, each array's contiguous.
    elems: Vec<u32>,
    /// Children of the objects and arrays still open.
    stack_entries: Vec<(Text<'t>, u32)>,
    stack_elems: Vec<u32>,
    /// The strings and keys whose escapes were undone, one after another.
    unescaped: String,
    /// Per projection node reached from the root through keys only: the
    /// node read under it ([`NO_NODE`] where none), so that a rule's path
    /// is one lookup (`Doc::by_slot`). Empty for a value read again whole.
    slots: Vec<u32>,
    /// A key repeated in some object on a slotted path: the slot holds one
    /// of its values and the entries the last, so paths are walked.
    repeated: bool,
    /// The numbering of the projection the slots are of (0: none).
    numbering: u32,
}

/// No node read under a slot.
const NO_NODE: u32 = u32::MAX;

/// A byte range of the text.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: u32,
    end: u32,
}

/// A string or key of the event: borrowed where it has no escapes (from
/// the text, or a projected key from the projection), else a range of
/// `Sparse::unescaped`.
#[derive(Clone, Copy, Debug)]
enum Text<'t> {
    Str(&'t str),
    Unescaped(Span),
}

#[derive(Clone, Copy, Debug)]
enum Node<'t> {
    Null,
    Bool(bool),
    /// The value, whether serde_json reads it as an integer, and its text.
    Num(f64, bool, Span),
    Str(Text<'t>),
    Arr {
        first: u32,
        len: u32,
        span: Span,
    },
    Obj {
        first: u32,
        len: u32,
        span: Span,
    },
}

impl<'t> Sparse<'t> {
    /// The root value.
    pub fn root(&self) -> At<'_, 't> {
        At {
            doc: self,
            i: self.nodes.len().saturating_sub(1) as u32,
        }
    }

    /// The text it was read from (UTF-8, as extraction checked).
    pub fn text(&self) -> &'t str {
        self.text
    }

    #[inline(always)]
    fn push(&mut self, n: Node<'t>, id: u32) -> u32 {
        self.nodes.push(n);
        self.ids.push(id);
        (self.nodes.len() - 1) as u32
    }

    /// The string `t` stands for.
    #[inline]
    fn str(&self, t: Text<'t>) -> &str {
        match t {
            Text::Str(s) => s,
            Text::Unescaped(at) => self.unescaped(at),
        }
    }

    /// A string whose escapes were undone: rare, so kept out of the way
    /// of [`Sparse::str`]'s common case.
    #[cold]
    #[inline(never)]
    fn unescaped(&self, at: Span) -> &str {
        (self.unescaped)
            .get(at.start as usize..at.end as usize)
            .unwrap_or("")
    }

    /// Records node `at` as the value of slot `id`.
    fn slot(&mut self, id: u32, at: u32) {
        let id = id as usize;
        if self.slots.len() <= id {
            self.slots.resize(id + 1, NO_NODE);
        }
        self.repeated |= self.slots[id] != NO_NODE;
        self.slots[id] = at;
    }

    /// What was extracted, as JSON (objects with their projected keys
    /// only; for tests and debugging).
    pub fn to_value(&self) -> serde_json::Value {
        fn built(at: At<'_, '_>) -> serde_json::Value {
            use serde_json::Value;
            match at.kind() {
                Kind::Arr(len) => {
                    Value::Array((0..len).filter_map(|i| at.at(i)).map(built).collect())
                }
                Kind::Obj => Value::Object(
                    at.children()
                        .map(|(k, v)| (k.to_string(), built(v)))
                        .collect(),
                ),
                _ => at.to_json(),
            }
        }
        if self.nodes.is_empty() {
            return serde_json::Value::Null;
        }
        built(self.root())
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
    /// Whether `other` is this very value (of this extraction).
    pub fn same(self, other: Self) -> bool {
        std::ptr::eq(self.doc, other.doc) && self.i == other.i
    }

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
            .map(move |(k, i)| (doc.str(*k), At { doc, i: *i }))
    }

    /// An object's values, in the document's order.
    pub fn values(self) -> impl Iterator<Item = At<'s, 't>> {
        let doc = self.doc;
        self.entries().iter().map(move |&(_, i)| At { doc, i })
    }

    fn entries(self) -> &'s [(Text<'t>, u32)] {
        match self.doc.nodes[self.i as usize] {
            Node::Obj { first, len, .. } => {
                &self.doc.entries[first as usize..(first + len) as usize]
            }
            _ => &[],
        }
    }

    fn text(self, span: Span) -> &'t str {
        self.doc
            .text
            .get(span.start as usize..span.end as usize)
            .unwrap_or("null")
    }

    /// The text of an object or array read under a projection, which may
    /// hold only some of what it has.
    fn partial(self) -> Option<&'t str> {
        match self.doc.nodes[self.i as usize] {
            Node::Arr { span, .. } | Node::Obj { span, .. } if self.proj_id() != NO_ID => {
                Some(self.text(span))
            }
            _ => None,
        }
    }

    /// An integer's digits, as serde_json writes them back.
    fn digits(self) -> Option<&'t str> {
        match self.doc.nodes[self.i as usize] {
            Node::Num(_, true, span) => Some(self.text(span)),
            _ => None,
        }
    }
}

impl<'s, 't: 's> Doc<'s> for At<'s, 't> {
    fn kind(self) -> Kind<'s> {
        match &self.doc.nodes[self.i as usize] {
            Node::Null => Kind::Null,
            Node::Bool(b) => Kind::Bool(*b),
            Node::Num(n, int, _) => Kind::Num(*n, *int),
            Node::Str(s) => Kind::Str(self.doc.str(*s)),
            Node::Arr { len, .. } => Kind::Arr(*len as usize),
            Node::Obj { .. } => Kind::Obj,
        }
    }
    fn key(self, k: &str) -> Option<Self> {
        // The last of repeated keys, as a full parse keeps it.
        let k = k.as_bytes();
        self.entries()
            .iter()
            .rev()
            .find(|(key, _)| match key {
                Text::Str(key) => same_key(key.as_bytes(), k),
                Text::Unescaped(_) => same_key(self.doc.str(*key).as_bytes(), k),
            })
            .map(|(_, i)| At {
                doc: self.doc,
                i: *i,
            })
    }
    fn at(self, idx: usize) -> Option<Self> {
        let Node::Arr { first, len, .. } = self.doc.nodes[self.i as usize] else {
            return None;
        };
        (idx < len as usize).then(|| At {
            doc: self.doc,
            i: self.doc.elems[first as usize + idx],
        })
    }
    fn by_slot(self, slot: Slot) -> Option<Option<Self>> {
        let doc = self.doc;
        let root = self.i as usize + 1 == doc.nodes.len();
        if slot.numbering != doc.numbering || doc.repeated || !root {
            return None;
        }
        let i = doc.slots.get(slot.id as usize).copied().unwrap_or(NO_NODE);
        Some((i != NO_NODE).then_some(At { doc, i }))
    }
    fn each_entry(self, f: &mut dyn FnMut(&'s str, Self)) {
        for (k, i) in self.entries() {
            f(
                self.doc.str(*k),
                At {
                    doc: self.doc,
                    i: *i,
                },
            );
        }
    }
    fn each_string_entry(self, f: &mut dyn FnMut(&str, Option<&str>)) {
        let Some(text) = self.partial() else {
            return self.each_entry(&mut |k, v| f(k, v.as_str()));
        };
        // Kept for its presence, or for some keys: read whole again from
        // its text (it read once: not expected to fail).
        if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(text) {
            for (k, v) in &m {
                f(k, v.as_str());
            }
        }
    }
    fn to_json(self) -> serde_json::Value {
        if let Some(text) = self.partial() {
            // Read whole again from its text (it read once: not expected
            // to fail).
            return serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
        }
        if let Some(n) = self
            .digits()
            .and_then(|d| d.parse::<serde_json::Number>().ok())
        {
            return serde_json::Value::Number(n);
        }
        doc::to_json(self)
    }
    fn write_json(self, out: &mut Vec<u8>) {
        if let Some(text) = self.partial() {
            // Read whole again from its text (it read once: not expected
            // to fail).
            let at = out.len();
            if canon::write(text, out).is_err() {
                out.truncate(at);
                out.extend_from_slice(b"null");
            }
        } else if let Some(d) = self.digits() {
            out.extend_from_slice(d.as_bytes());
        } else {
            doc::write_json(self, out);
        }
    }
}

/// The storage of a [`Sparse`], kept from one event to the next: once warm,
/// an extraction allocates nothing.
#[derive(Debug, Default)]
pub struct Buffers {
    nodes: Vec<Node<'static>>,
    ids: Vec<u32>,
    entries: Vec<(Text<'static>, u32)>,
    elems: Vec<u32>,
    stack_entries: Vec<(Text<'static>, u32)>,
    stack_elems: Vec<u32>,
    unescaped: String,
    slots: Vec<u32>,
}

/// An emptied vector of plain data, as one of the same type but for a
/// lifetime: `collect` reuses the allocation of a vector it iterates in
/// place (emptied first, so no element outlives its lifetime).
fn reuse<T: Copy, U: Copy>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

impl<'t> Sparse<'t> {
    /// Gives the storage back for the next extraction.
    pub fn into_buffers(mut self) -> Buffers {
        // Only slots of nodes read were set.
        for &id in &self.ids {
            if let Some(s) = self.slots.get_mut(id as usize) {
                *s = NO_NODE;
            }
        }
        self.ids.clear();
        self.elems.clear();
        self.stack_elems.clear();
        self.unescaped.clear();
        Buffers {
            slots: self.slots,
            nodes: reuse(self.nodes),
            ids: self.ids,
            entries: reuse(self.entries),
            elems: self.elems,
            stack_entries: reuse(self.stack_entries),
            stack_elems: self.stack_elems,
            unescaped: self.unescaped,
        }
    }

    /// A `Sparse` of `text` in storage given back empty.
    fn from_buffers(text: &'t str, b: Buffers) -> Sparse<'t> {
        Sparse {
            text,
            nodes: reuse(b.nodes),
            ids: b.ids,
            entries: reuse(b.entries),
            elems: b.elems,
            stack_entries: reuse(b.stack_entries),
            stack_elems: b.stack_elems,
            unescaped: b.unescaped,
            slots: b.slots,
            repeated: false,
            numbering: 0,
        }
    }
}

/// Parses `text` keeping only what `proj` names; `None` when the text is
/// not JSON a full parse takes, or not here (the caller's full parse then
/// decides and reports why).
pub fn extract<'t>(text: &'t [u8], proj: &'t Projection) -> Option<Sparse<'t>> {
    run(text, proj, Buffers::default(), false)
}

/// [`extract`], keeping each whole value entire.
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
    // Strings are sliced from the text as they are: it must be UTF-8 (a
    // full parse refuses it otherwise). simdutf8 checks it several times
    // faster than std (which costs as much as a sixth of an extraction).
    // Spans are 32-bit.
    let text = simdutf8::basic::from_utf8(text).ok()?;
    if u32::try_from(text.len()).is_err() {
        return None;
    }
    let mut out = Sparse::from_buffers(text, bufs);
    if !entire {
        out.numbering = proj.numbering;
    }
    Build {
        b: text.as_bytes(),
        text,
        out: &mut out,
        entire,
        arrays: 0,
    }
    .root(Some(proj))
    .ok()?;
    Some(out)
}

/// Builds values into the arena as a projection says.
struct Build<'o, 't> {
    b: &'t [u8],
    text: &'t str,
    out: &'o mut Sparse<'t>,
    /// Whole values are built entire rather than kept as their presence.
    entire: bool,
    /// How many arrays enclose the value being read (a slot is a path of
    /// keys from the root, so values inside arrays have none).
    arrays: u32,
}

impl<'t> Build<'_, 't> {
    /// The text's one value, and nothing after it but whitespace; all of
    /// it without a projection.
    fn root(&mut self, proj: Option<&'t Projection>) -> Lexed<()> {
        let end = self.value(ws(self.b, 0), proj, 0)?.1;
        match ws(self.b, end) == self.b.len() {
            true => Ok(()),
            false => Err(Bad),
        }
    }

    /// The string between `start` and `end` (after an opening quote, before
    /// a closing one, so on character boundaries), its escapes undone.
    fn string(&mut self, start: usize, end: usize, escaped: bool) -> Lexed<Text<'t>> {
        let raw = self.text.get(start..end).ok_or(Bad)?;
        if !escaped {
            return Ok(Text::Str(raw));
        }
        let out = &mut self.out.unescaped;
        // Never longer than its text: the offsets fit 32 bits.
        let from = out.len();
        lex::unescape_into(raw, out)?;
        Ok(Text::Unescaped(span(from, out.len())))
    }

    #[inline(always)]
    fn add(&mut self, n: Node<'t>, proj: Option<&Projection>) -> u32 {
        let Some(p) = proj else {
            return self.out.push(n, NO_ID);
        };
        let at = self.out.push(n, p.id);
        if self.arrays == 0 && !self.entire {
            self.out.slot(p.id, at);
        }
        at
    }

    /// The value at `i` (whitespace skipped) as `proj` says (`None`: all of
    /// it); its node and the index past it. `depth` containers enclose it.
    fn value(&mut self, i: usize, proj: Option<&'t Projection>, depth: u32) -> Lexed<(u32, usize)> {
        let proj = match proj {
            Some(p) if self.entire && p.whole => None,
            p => p,
        };
        let b = self.b;
        let (node, end) = match b.get(i) {
            Some(b'{') => return self.object(i, proj, depth),
            Some(b'[') => return self.array(i, proj, depth),
            Some(b'"') => {
                let (end, escaped) = lex::string_end(b, i + 1)?;
                (Node::Str(self.string(i + 1, end, escaped)?), end + 1)
            }
            Some(b't') => (Node::Bool(true), lex::literal(b, i, b"true")?),
            Some(b'f') => (Node::Bool(false), lex::literal(b, i, b"false")?),
            Some(b'n') => (Node::Null, lex::literal(b, i, b"null")?),
            Some(b'-' | b'0'..=b'9') => {
                let (end, int) = lex::number_end(b, i)?;
                let text = self.text.get(i..end).ok_or(Bad)?;
                if !lex::number_in_range(text, int) {
                    return Err(Bad);
                }
                let (n, int) = lex::number_value(text, int)?;
                (Node::Num(n, int, span(i, end)), end)
            }
            _ => return Err(Bad),
        };
        Ok((self.add(node, proj), end))
    }

    fn object(
        &mut self,
        start: usize,
        proj: Option<&'t Projection>,
        depth: u32,
    ) -> Lexed<(u32, usize)> {
        if depth >= lex::MAX_DEPTH {
            return Err(Bad);
        }
        let b = self.b;
        let mark = self.out.stack_entries.len();
        let mut i = ws(b, start + 1);
        let end = if b.get(i) == Some(&b'}') {
            i + 1
        } else {
            loop {
                if b.get(i) != Some(&b'"') {
                    return Err(Bad);
                }
                let kstart = i + 1;
                let (kend, escaped) = lex::string_end(b, kstart)?;
                i = ws(b, kend + 1);
                if b.get(i) != Some(&b':') {
                    return Err(Bad);
                }
                i = ws(b, i + 1);
                let kept = match proj {
                    None => Some((self.string(kstart, kend, escaped)?, None)),
                    // A key as written is looked up in place.
                    Some(p) if !escaped => p
                        .keys
                        .find_in(b, kstart, kend)
                        .map(|(k, child)| (Text::Str(k), Some(child))),
                    Some(p) => {
                        let mark = self.out.unescaped.len();
                        let k = self.string(kstart, kend, true)?;
                        let found = p.keys.get_key_value(self.out.str(k));
                        // The projection's key, the unescaped text dropped.
                        self.out.unescaped.truncate(mark);
                        found.map(|(k, child)| (Text::Str(k), Some(child)))
                    }
                };
                i = match kept {
                    Some((name, child)) => {
                        let (n, end) = self.value(i, child, depth + 1)?;
                        self.out.stack_entries.push((name, n));
                        end
                    }
                    None => lex::skip(b, i, depth + 1)?,
                };
                match lex::after_member(b, i, b'}')? {
                    Then::Next(next) => i = next,
                    Then::Closed(end) => break end,
                }
            }
        };
        let first = self.out.entries.len() as u32;
        let len = (self.out.stack_entries.len() - mark) as u32;
        let Sparse {
            entries,
            stack_entries,
            ..
        } = &mut *self.out;
        entries.extend(stack_entries.drain(mark..));
        let node = Node::Obj {
            first,
            len,
            span: span(start, end),
        };
        Ok((self.add(node, proj), end))
    }

    fn array(
        &mut self,
        start: usize,
        proj: Option<&'t Projection>,
        depth: u32,
    ) -> Lexed<(u32, usize)> {
        // All of a value keeps all of its elements; a whole value keeps its
        // elements (lists compared by `in`); an element shape keeps them as
        // projected; otherwise only the length would be visible, and
        // nothing reads it: skip.
        let elem_proj: Option<Option<&'t Projection>> = match proj {
            None => Some(None),
            Some(p) => match (&p.elems, p.whole) {
                (Some(e), _) => Some(Some(e)),
                (None, true) => Some(Some(p)),
                (None, false) => None,
            },
        };
        let b = self.b;
        let Some(elem_proj) = elem_proj else {
            let end = lex::skip(b, start, depth)?;
            let node = Node::Arr {
                first: 0,
                len: 0,
                span: span(start, end),
            };
            return Ok((self.add(node, proj), end));
        };
        if depth >= lex::MAX_DEPTH {
            return Err(Bad);
        }
        let mark = self.out.stack_elems.len();
        let mut i = ws(b, start + 1);
        self.arrays += 1;
        let end = if b.get(i) == Some(&b']') {
            i + 1
        } else {
            loop {
                let (n, end) = self.value(i, elem_proj, depth + 1)?;
                self.out.stack_elems.push(n);
                match lex::after_member(b, end, b']')? {
                    Then::Next(next) => i = next,
                    Then::Closed(end) => break end,
                }
            }
        };
        self.arrays -= 1;
        let first = self.out.elems.len() as u32;
        let len = (self.out.stack_elems.len() - mark) as u32;
        let Sparse {
            elems, stack_elems, ..
        } = &mut *self.out;
        elems.extend(stack_elems.drain(mark..));
        let node = Node::Arr {
            first,
            len,
            span: span(start, end),
        };
        Ok((self.add(node, proj), end))
    }
}

/// Text offsets fit 32 bits: `run` refuses longer texts.
fn span(start: usize, end: usize) -> Span {
    Span {
        start: start as u32,
        end: end as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `f` of the one value of `text` read entire; `None` if it does not
    /// read.
    fn whole<R>(text: &str, f: impl FnOnce(At<'_, '_>) -> R) -> Option<R> {
        let mut out = Sparse::from_buffers(text, Buffers::default());
        let read = Build {
            b: text.as_bytes(),
            text,
            out: &mut out,
            entire: true,
            arrays: 0,
        }
        .root(None);
        read.ok().map(|()| f(out.root()))
    }

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

    /// A path's slot finds what walking its keys finds: over realistic
    /// events, the same events with a key repeated (the last value counts,
    /// as in a full parse), and in one reused storage from event to event
    /// (a slot set by one event is unset for the next).
    #[test]
    fn slots_find_what_walking_the_keys_finds() {
        let mut p = proj(&[
            &[Some("verb")],
            &[Some("user"), Some("username")],
            &[Some("user"), Some("groups")],
            &[Some("objectRef"), Some("resource")],
            &[Some("objectRef"), Some("namespace")],
            &[Some("requestObject"), Some("spec"), Some("hostNetwork")],
            &[
                Some("requestObject"),
                Some("spec"),
                Some("containers"),
                None,
                Some("image"),
            ],
            &[Some("responseStatus"), Some("code")],
            &[Some("eventName")],
            &[Some("userIdentity"), Some("arn")],
            &[Some("requestParameters")],
        ]);
        p.number();
        // The same tree numbered again: its slots are not this one's.
        let mut other = p.clone();
        other.number();
        let slot = |id: u32| Slot {
            numbering: p.numbering,
            id,
        };
        let mut paths: Vec<(Vec<&str>, u32)> = Vec::new();
        fn walk<'p>(p: &'p Projection, at: Vec<&'p str>, out: &mut Vec<(Vec<&'p str>, u32)>) {
            out.push((at.clone(), p.id));
            for (k, child) in &p.keys {
                let mut next = at.clone();
                next.push(k);
                walk(child, next, out);
            }
        }
        walk(&p, Vec::new(), &mut paths);
        let mut texts = crate::corpus::k8s_events(40, 3);
        texts.extend(crate::corpus::cloudtrail_records(20, 3));
        // Events without a repeated key are read by slot throughout.
        let unrepeated = texts.len();
        let repeated: Vec<String> = texts
            .iter()
            .flat_map(|t| {
                let body = t.strip_prefix('{').unwrap_or(t);
                [
                    // Repeated before: the event's own value counts.
                    format!(r#"{{"objectRef":{{"resource":"x"}},"verb":7,{body}"#),
                    // Repeated after: a string where an object was.
                    format!(
                        r#"{}, "objectRef":"x","user":{{"groups":1}}}}"#,
                        &t[..t.len() - 1]
                    ),
                    format!(
                        r#"{}, "requestObject":{{"spec":null}}}}"#,
                        &t[..t.len() - 1]
                    ),
                ]
            })
            .collect();
        texts.extend(repeated);
        texts.push(r#"{"verb":{"verb":1},"user":[{"username":"a"}]}"#.to_string());
        texts.push("[1]".to_string());
        let mut bufs = Buffers::default();
        for (n, text) in texts.iter().enumerate() {
            let s = extract_reusing(text.as_bytes(), &p, bufs).expect("json");
            let root = s.root();
            for (keys, id) in &paths {
                // Through the entries, the last of a repeated key.
                let walked = keys.iter().try_fold(root, |v, k| {
                    v.children()
                        .filter(|(key, _)| key == k)
                        .last()
                        .map(|(_, v)| v)
                });
                if let [k] = keys[..] {
                    // A key of the root, the last of repeated ones.
                    assert_eq!(
                        root.key(k).map(|v| v.i),
                        walked.map(|v| v.i),
                        "{k} in {text}"
                    );
                }
                let elsewhere = Slot {
                    numbering: other.numbering,
                    id: *id,
                };
                assert!(root.by_slot(elsewhere).is_none());
                match root.by_slot(slot(*id)) {
                    Some(found) => {
                        assert_eq!(
                            found.map(|v| v.i),
                            walked.map(|v| v.i),
                            "{keys:?} in {text}"
                        )
                    }
                    None => assert!(n >= unrepeated, "not by slot: {keys:?} in {text}"),
                }
                let full: serde_json::Value = serde_json::from_str(text).expect("json");
                let pointer: String = keys.iter().map(|k| format!("/{k}")).collect();
                let by_path = crate::eval::get(
                    root,
                    &[],
                    &ward_compiler::lower::FieldPath {
                        slot: Some(slot(*id)),
                        ..ward_compiler::lower::FieldPath::from_keys(keys.iter().copied())
                    },
                );
                assert_eq!(
                    by_path.map(|v| v.to_json()),
                    full.pointer(&pointer).cloned(),
                    "{keys:?} in {text}"
                );
            }
            // Not on a value below the root.
            if let Some(user) = root.key("user") {
                assert!(user.by_slot(slot(0)).is_none());
            }
            bufs = s.into_buffers();
        }
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
    fn unescaped_strings_and_keys_share_one_buffer() {
        // Escaped keys, projected or not, between escaped strings; a whole
        // value read entire, with escaped keys of its own.
        let text = br#"{"s1":"\u00e9\n","\u0073kip":"x\ty","\u0073\u0032":"a\"b","obj":{"k\u0031":"v\u0031","k2":["\/"]},"s3":"plain"}"#;
        let p = proj(&[&[Some("s1")], &[Some("s2")], &[Some("s3")], &[Some("obj")]]);
        let full: serde_json::Value = serde_json::from_slice(text).expect("json");
        let mut want = full.clone();
        want.as_object_mut().expect("object").remove("skip");
        want["obj"] = json!({});
        assert_eq!(sparse(text, &p), Some(want));
        let entire = extract_entire(text, &p).expect("json");
        assert_eq!(
            entire.root().key("obj").map(|v| v.to_json()),
            Some(full["obj"].clone())
        );
        assert_eq!(
            entire.root().key("s2").and_then(|v| v.as_str()),
            Some("a\"b")
        );
        // Reused storage starts empty: the next event's strings are its own.
        let bufs = entire.into_buffers();
        let next = extract_reusing(br#"{"s1":"\u0041"}"#, &p, bufs).expect("json");
        assert_eq!(next.to_value(), json!({"s1": "A"}));
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
        // Deep nesting, even in a value no rule reads: a full parse refuses
        // it, so must extraction.
        let deep = format!("{{\"b\":{}{}}}", "[".repeat(1000), "]".repeat(1000));
        assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err());
        assert_eq!(sparse(deep.as_bytes(), &p), None);
    }

    /// Extraction and a full parse agree on which texts are JSON, and on
    /// what they hold, over mutants of realistic events: bytes deleted,
    /// inserted (JSON's punctuation, digits, escapes) and replaced.
    #[test]
    fn extraction_is_a_full_parse_on_mutated_events() {
        let mut seeds = crate::corpus::k8s_events(60, 7);
        seeds.extend(crate::corpus::cloudtrail_records(30, 7));
        seeds.push(
            r#"{"s":"\u00e9\ud83d\ude00\n\"\\\/","n":[0,-0,1.5e-3,-12,18446744073709551616,9007199254740993],"o":{"":{}},"e":[]}"#
                .to_string(),
        );
        let p = proj(&[
            &[Some("verb")],
            &[Some("user"), Some("username")],
            &[
                Some("requestObject"),
                Some("spec"),
                Some("containers"),
                None,
                Some("image"),
            ],
            &[Some("requestObject"), Some("spec"), Some("containers")],
            &[Some("responseStatus"), Some("code")],
            &[Some("eventName")],
            &[Some("n")],
        ]);
        let pieces: &[&[u8]] = &[
            b"{",
            b"}",
            b"[",
            b"]",
            b"\"",
            b",",
            b":",
            b"\\",
            b"\\u",
            b"\\ud800",
            b"\\udc00",
            b"0",
            b"9",
            b"-",
            b".",
            b"e",
            b"E",
            b"+",
            b" ",
            b"\n",
            b"\t",
            b"\x01",
            b"\x1f",
            b"t",
            b"null",
            b"1e400",
            b",]",
            b",}",
            b"01",
            b"\"a\":",
            b"[]",
            b"{}",
            "\u{e9}".as_bytes(),
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let (mut good, mut bad) = (0, 0);
        for seed in &seeds {
            for round in 0..60 {
                let mut text = seed.as_bytes().to_vec();
                for _ in 0..=round % 3 {
                    let at = rand(text.len() + 1);
                    match rand(4) {
                        0 if at < text.len() => {
                            text.remove(at);
                        }
                        // A trailing comma in some object or array.
                        3 => {
                            let ends: Vec<usize> = (0..text.len())
                                .filter(|&i| text[i] == b']' || text[i] == b'}')
                                .collect();
                            if !ends.is_empty() {
                                text.insert(ends[rand(ends.len())], b',');
                            }
                        }
                        1 => {
                            let piece = pieces[rand(pieces.len())];
                            text.splice(at..at, piece.iter().copied());
                        }
                        _ if at < text.len() => text[at] = pieces[rand(pieces.len())][0],
                        _ => {}
                    }
                }
                let want = serde_json::from_slice::<serde_json::Value>(&text);
                let shown = String::from_utf8_lossy(&text);
                let read = std::str::from_utf8(&text).ok().and_then(|t| {
                    whole(t, |w| {
                        let mut bytes = Vec::new();
                        w.write_json(&mut bytes);
                        (w.to_json(), bytes)
                    })
                });
                assert_eq!(read.is_some(), want.is_ok(), "{shown}");
                let mut canonical = Vec::new();
                let canon = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| canon::write(t, &mut canonical).ok());
                assert_eq!(canon.is_some(), want.is_ok(), "{shown}");
                assert_eq!(extract(&text, &p).is_some(), want.is_ok(), "{shown}");
                let (Some(read), Ok(want)) = (read, want) else {
                    bad += 1;
                    continue;
                };
                good += 1;
                let (value, bytes) = read;
                assert_eq!(value, want, "{shown}");
                let serialised = serde_json::to_vec(&want).expect("json");
                assert_eq!(
                    String::from_utf8_lossy(&bytes),
                    String::from_utf8_lossy(&serialised)
                );
                assert_eq!(
                    String::from_utf8_lossy(&canonical),
                    String::from_utf8_lossy(&serialised)
                );
                let Some(m) = extract(&text, &p) else {
                    continue;
                };
                let mut bytes = Vec::new();
                m.root().write_json(&mut bytes);
                assert_eq!(bytes, serialised, "{shown}");
            }
        }
        // Both kinds are well represented.

        assert!(good > 800 && bad > 800, "{good} good, {bad} bad");
    }
}

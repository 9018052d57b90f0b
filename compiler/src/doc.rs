//! Documents: how the evaluator and the schema validator read an event,
//! whether it is a full `serde_json::Value` or the runtime's sparse
//! extraction of the fields rules read.

/// What one JSON value is, seen from outside.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind<'a> {
    Null,
    Bool(bool),
    /// The number, and whether it was written as an integer.
    Num(f64, bool),
    Str(&'a str),
    /// An array of this many elements.
    Arr(usize),
    Obj,
}

/// A read-only cursor into a JSON document.
pub trait Doc<'a>: Copy {
    fn kind(self) -> Kind<'a>;
    /// The value of an object's key; `None` when absent or not an object.
    fn key(self, k: &str) -> Option<Self>;
    /// An array's element; `None` when out of range or not an array.
    fn at(self, i: usize) -> Option<Self>;
    /// Calls `f` with each entry of an object, in the document's order.
    fn each_entry(self, f: &mut dyn FnMut(&'a str, Self));
    /// Calls `f` with each entry of an object, its key and its value when
    /// that is a string: all of them, also where the document kept the
    /// object for its presence only (an extraction reads it again).
    fn each_string_entry(self, f: &mut dyn FnMut(&str, Option<&str>)) {
        self.each_entry(&mut |k, v| f(k, v.as_str()));
    }
    /// The value of a path whose [`FieldPath::slot`] is `slot`, called on
    /// a document's root: `Some` of what walking the path's keys finds, or
    /// `None` when this document cannot tell (it was not extracted with
    /// that numbering; the caller walks the keys).
    ///
    /// [`FieldPath::slot`]: crate::lower::FieldPath::slot
    fn by_slot(self, _slot: crate::lower::Slot) -> Option<Option<Self>> {
        None
    }

    fn is_null(self) -> bool {
        matches!(self.kind(), Kind::Null)
    }
    fn as_str(self) -> Option<&'a str> {
        match self.kind() {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }
    /// The value as an owned JSON value.
    fn to_json(self) -> serde_json::Value {
        to_json(self)
    }
    /// Appends the value as compact JSON: the bytes `serde_json` writes
    /// for `to_json()` (object keys sorted, a repeated key's last value),
    /// without building it.
    fn write_json(self, out: &mut Vec<u8>) {
        write_json(self, out)
    }
}

/// [`Doc::to_json`] from the cursor's methods; an integer beyond 2^53 is
/// its nearest f64 (a document that knows its digits says so itself).
pub fn to_json<'a, D: Doc<'a>>(d: D) -> serde_json::Value {
    use serde_json::Value;
    match d.kind() {
        Kind::Null => Value::Null,
        Kind::Bool(b) => Value::Bool(b),
        Kind::Num(n, true) if n.fract() == 0.0 && n.abs() < 9.0e15 => Value::from(n as i64),
        Kind::Num(n, _) => serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
        Kind::Str(s) => Value::from(s),
        Kind::Arr(len) => {
            Value::Array((0..len).filter_map(|i| d.at(i)).map(Doc::to_json).collect())
        }
        Kind::Obj => {
            let mut m = serde_json::Map::new();
            d.each_entry(&mut |k, v| {
                m.insert(k.to_string(), v.to_json());
            });
            Value::Object(m)
        }
    }
}

/// [`Doc::write_json`] from the cursor's methods.
pub fn write_json<'a, D: Doc<'a>>(d: D, out: &mut Vec<u8>) {
    match d.kind() {
        Kind::Null => out.extend_from_slice(b"null"),
        Kind::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Kind::Num(n, true) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
            out.extend_from_slice((n as i64).to_string().as_bytes())
        }
        Kind::Num(n, _) if n.is_finite() => {
            let _ = serde_json::to_writer(&mut *out, &n);
        }
        Kind::Num(..) => out.extend_from_slice(b"null"),
        Kind::Str(s) => crate::json_text::write_str(out, s),
        Kind::Arr(len) => {
            out.push(b'[');
            for (n, item) in (0..len).filter_map(|i| d.at(i)).enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                item.write_json(out);
            }
            out.push(b']');
        }
        Kind::Obj => {
            let mut entries: Vec<(&'a str, D)> = Vec::new();
            d.each_entry(&mut |k, v| entries.push((k, v)));
            // Stable: among repeated keys the last stays last.
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            let mut first = true;
            for (i, (k, v)) in entries.iter().enumerate() {
                if entries.get(i + 1).is_some_and(|next| next.0 == *k) {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                let _ = serde_json::to_writer(&mut *out, k);
                out.push(b':');
                v.write_json(out);
            }
            out.push(b'}');
        }
    }
}

impl<'a> Doc<'a> for &'a serde_json::Value {
    fn kind(self) -> Kind<'a> {
        use serde_json::Value as V;
        match self {
            V::Null => Kind::Null,
            V::Bool(b) => Kind::Bool(*b),
            V::Number(n) => Kind::Num(n.as_f64().unwrap_or(f64::NAN), n.is_i64() || n.is_u64()),
            V::String(s) => Kind::Str(s),
            V::Array(a) => Kind::Arr(a.len()),
            V::Object(_) => Kind::Obj,
        }
    }
    fn key(self, k: &str) -> Option<Self> {
        self.as_object()?.get(k)
    }
    fn at(self, i: usize) -> Option<Self> {
        self.as_array()?.get(i)
    }
    fn each_entry(self, f: &mut dyn FnMut(&'a str, Self)) {
        for (k, v) in self.as_object().into_iter().flatten() {
            f(k, v);
        }
    }
    fn to_json(self) -> serde_json::Value {
        self.clone()
    }
    fn write_json(self, out: &mut Vec<u8>) {
        let _ = serde_json::to_writer(out, self);
    }
}

//! Event schemas: the type environment a rule is checked in, loaded from the
//! YAML files in `spec/schemas/` (embedded in the binary).

use std::collections::{BTreeMap, HashMap};

use crate::hash::FastHash;
use std::fmt;

use serde::Deserialize;

use crate::doc::{Doc, Kind};

/// The type of a field or an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    String,
    Int,
    Float,
    Bool,
    /// A string that is usually an IP address; CIDR tests on anything else
    /// are false, never an error.
    Ip,
    /// RFC 3339 text or epoch seconds.
    Timestamp,
    Duration,
    /// Free-form JSON: any path and any operator type-check.
    Json,
    /// The type of the `null` literal.
    Null,
    List(Box<Ty>),
    /// Object with arbitrary string keys.
    Map(Box<Ty>),
    /// A named record of the schema.
    Record(String),
}

impl Ty {
    pub fn parse(text: &str) -> Option<Ty> {
        let text = text.trim();
        let inner = |prefix: &str| text.strip_prefix(prefix).and_then(|r| r.strip_suffix('>'));
        if let Some(t) = inner("list<") {
            return Some(Ty::List(Box::new(Ty::parse(t)?)));
        }
        if let Some(t) = inner("map<") {
            return Some(Ty::Map(Box::new(Ty::parse(t)?)));
        }
        Some(match text {
            "string" => Ty::String,
            "int" => Ty::Int,
            "float" => Ty::Float,
            "bool" => Ty::Bool,
            "ip" => Ty::Ip,
            "timestamp" => Ty::Timestamp,
            "duration" => Ty::Duration,
            "json" => Ty::Json,
            name if name.starts_with(|c: char| c.is_ascii_uppercase())
                && name.chars().all(|c| c.is_ascii_alphanumeric()) =>
            {
                Ty::Record(name.to_string())
            }
            _ => return None,
        })
    }

    pub fn is_list(&self) -> bool {
        matches!(self, Ty::List(_))
    }
    pub fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }
    /// Strings and the types written as strings in events.
    pub fn is_stringy(&self) -> bool {
        matches!(self, Ty::String | Ty::Ip | Ty::Timestamp)
    }
    pub fn is_scalar(&self) -> bool {
        !matches!(self, Ty::List(_) | Ty::Map(_) | Ty::Record(_))
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::String => f.write_str("string"),
            Ty::Int => f.write_str("int"),
            Ty::Float => f.write_str("float"),
            Ty::Bool => f.write_str("bool"),
            Ty::Ip => f.write_str("ip"),
            Ty::Timestamp => f.write_str("timestamp"),
            Ty::Duration => f.write_str("duration"),
            Ty::Json => f.write_str("json"),
            Ty::Null => f.write_str("null"),
            Ty::List(t) => write!(f, "list<{t}>"),
            Ty::Map(t) => write!(f, "map<{t}>"),
            Ty::Record(n) => f.write_str(n),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    pub doc: String,
    /// Known values of an enumerated string field (an open set).
    pub values: Vec<String>,
    pub case_insensitive: bool,
    pub narrow: Option<Narrow>,
    /// Why rules read this field only when a site opts in (`opt_in:` in
    /// the schema): a rule that reads it and is not `enabled false` in its
    /// own definition gets W022; a `tune rule` enables it.
    pub opt_in: Option<String>,
}

/// A field whose shape depends on another field's value.
#[derive(Clone, Debug)]
pub struct Narrow {
    /// Dotted path of the guard field from the event root.
    pub on: String,
    pub cases: Vec<NarrowCase>,
}

#[derive(Clone, Debug)]
pub struct NarrowCase {
    pub values: Vec<String>,
    pub ty: Ty,
}

#[derive(Clone, Debug, Default)]
pub struct Record {
    pub doc: String,
    pub fields: Vec<Field>,
    /// Field name -> position: the drift check looks fields up per event.
    index: HashMap<String, usize, FastHash>,
}

impl Record {
    pub fn new(doc: String, fields: Vec<Field>) -> Record {
        let index = fields
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.clone(), i))
            .collect();
        Record { doc, fields, index }
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.index.get(name).map(|&i| &self.fields[i])
    }
}

/// The schema of one source.
#[derive(Clone, Debug)]
pub struct Schema {
    pub source: String,
    pub doc: String,
    /// Dotted path of the event-time field.
    pub timestamp: String,
    /// The paths an event's time is read from, in order: `timestamp`, then
    /// the fields older shapes of the source hold it in (v1beta1 audit
    /// events have a top-level `timestamp`); the first present wins.
    pub times: Vec<String>,
    pub root: Record,
    pub types: BTreeMap<String, Record>,
    /// [`Schema::by_last_name`]'s index, built on first use.
    by_last: std::sync::OnceLock<HashMap<String, String>>,
}

impl Schema {
    pub fn record(&self, ty: &Ty) -> Option<&Record> {
        match ty {
            Ty::Record(name) => self.types.get(name),
            _ => None,
        }
    }

    /// The field at a dotted path of plain names from the root, following
    /// records only (no narrowing). Used for guards and `ward schema`.
    pub fn field_at(&self, dotted: &str) -> Option<&Field> {
        let mut record = &self.root;
        let mut parts = dotted.split('.').peekable();
        while let Some(part) = parts.next() {
            let field = record.field(part)?;
            if parts.peek().is_none() {
                return Some(field);
            }
            record = self.record(&field.ty)?;
        }
        None
    }

    /// Every field reachable from the root through records, lists and
    /// narrowed shapes, as `(dotted path, field)`, in schema order. Lists show
    /// as `path[]`. Cycles are impossible to loop on: depth is bounded.
    /// The shallowest plain field path (no list element, no narrowed
    /// shape) whose last name is `name`: `username` -> `user.username`, not
    /// `impersonatedUser.username`; ties to the shortest, then the first in
    /// order. Indexed once: a rule with thousands of unknown names asks for
    /// each (it flattened the whole schema every time).
    pub fn by_last_name(&self, name: &str) -> Option<&str> {
        let index = self.by_last.get_or_init(|| {
            let mut index: HashMap<String, String> = HashMap::new();
            for (path, _) in self.flatten() {
                if path.contains(['[', '<']) {
                    continue;
                }
                let last = path.rsplit('.').next().unwrap_or_default().to_string();
                let key = |p: &str| (p.matches('.').count(), p.len());
                match index.get(&last) {
                    Some(best) if key(best) <= key(&path) => {}
                    _ => {
                        index.insert(last, path);
                    }
                }
            }
            index
        });
        index.get(name).map(String::as_str)
    }

    pub fn flatten(&self) -> Vec<(String, &Field)> {
        let mut out = Vec::new();
        self.flatten_into(&self.root, "", 0, &mut out);
        out
    }

    fn flatten_into<'a>(
        &'a self,
        rec: &'a Record,
        prefix: &str,
        depth: usize,
        out: &mut Vec<(String, &'a Field)>,
    ) {
        if depth > 12 {
            return;
        }
        for f in &rec.fields {
            let path = if prefix.is_empty() {
                f.name.clone()
            } else {
                format!("{prefix}.{}", f.name)
            };
            out.push((path.clone(), f));
            let mut ty = &f.ty;
            let mut shown = path.clone();
            while let Ty::List(inner) = ty {
                ty = inner;
                shown.push_str("[]");
            }
            if let Some(r) = self.record(ty) {
                self.flatten_into(r, &shown, depth + 1, out);
            }
            if let Some(n) = &f.narrow {
                let mut seen = Vec::new();
                for case in &n.cases {
                    if seen.contains(&&case.ty) {
                        continue;
                    }
                    seen.push(&case.ty);
                    if let Some(r) = self.record(&case.ty) {
                        let label = format!("{path}<{}>", case.values.join("|"));
                        self.flatten_into(r, &label, depth + 1, out);
                    }
                }
            }
        }
    }
}

// ---- loading ------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchema {
    source: String,
    doc: String,
    timestamp: String,
    #[serde(default)]
    timestamp_fallbacks: Vec<String>,
    fields: serde_yaml::Mapping,
    #[serde(default)]
    types: serde_yaml::Mapping,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    doc: String,
    fields: serde_yaml::Mapping,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[serde(rename = "type")]
    ty: String,
    doc: String,
    #[serde(default)]
    values: Vec<serde_yaml::Value>,
    #[serde(default)]
    case_insensitive: bool,
    narrow: Option<RawNarrow>,
    opt_in: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNarrow {
    on: String,
    cases: Vec<RawCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    values: Vec<String>,
    #[serde(rename = "type")]
    ty: String,
}

/// Parses a schema file and checks that it is internally consistent.
pub fn load(yaml: &str) -> Result<Schema, String> {
    let raw: RawSchema = serde_yaml::from_str(yaml).map_err(|e| e.to_string())?;
    let root = record(raw.doc.clone(), &raw.fields).map_err(|e| format!("{}: {e}", raw.source))?;
    let mut types = BTreeMap::new();
    for (name, value) in &raw.types {
        let name = name
            .as_str()
            .ok_or("type names must be strings")?
            .to_string();
        let r: RawRecord =
            serde_yaml::from_value(value.clone()).map_err(|e| format!("type {name}: {e}"))?;
        types.insert(
            name.clone(),
            record(r.doc, &r.fields).map_err(|e| format!("type {name}: {e}"))?,
        );
    }
    let times = std::iter::once(raw.timestamp.clone())
        .chain(raw.timestamp_fallbacks)
        .collect();
    let schema = Schema {
        source: raw.source,
        doc: raw.doc,
        timestamp: raw.timestamp,
        times,
        root,
        types,
        by_last: Default::default(),
    };
    validate(&schema)?;
    Ok(schema)
}

fn record(doc: String, fields: &serde_yaml::Mapping) -> Result<Record, String> {
    let mut out = Vec::new();
    for (name, value) in fields {
        let name = name
            .as_str()
            .ok_or("field names must be strings")?
            .to_string();
        let raw: RawField =
            serde_yaml::from_value(value.clone()).map_err(|e| format!("field {name}: {e}"))?;
        let ty =
            Ty::parse(&raw.ty).ok_or_else(|| format!("field {name}: unknown type `{}`", raw.ty))?;
        let narrow = match raw.narrow {
            None => None,
            Some(n) => {
                let mut cases = Vec::new();
                for c in n.cases {
                    let ty = Ty::parse(&c.ty)
                        .ok_or_else(|| format!("field {name}: unknown type `{}`", c.ty))?;
                    cases.push(NarrowCase {
                        values: c.values,
                        ty,
                    });
                }
                Some(Narrow { on: n.on, cases })
            }
        };
        let values = raw
            .values
            .iter()
            .map(|v| match v {
                serde_yaml::Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            })
            .collect();
        out.push(Field {
            name,
            ty,
            doc: raw.doc,
            values,
            case_insensitive: raw.case_insensitive,
            narrow,
            opt_in: raw.opt_in,
        });
    }
    Ok(Record::new(doc, out))
}

fn validate(s: &Schema) -> Result<(), String> {
    fn names(ty: &Ty) -> Option<&str> {
        match ty {
            Ty::Record(n) => Some(n),
            Ty::List(t) | Ty::Map(t) => names(t),
            _ => None,
        }
    }
    let records =
        std::iter::once(("<root>", &s.root)).chain(s.types.iter().map(|(k, v)| (k.as_str(), v)));
    for (rname, rec) in records {
        for f in &rec.fields {
            let mut tys = vec![&f.ty];
            if let Some(n) = &f.narrow {
                if s.field_at(&n.on).is_none() {
                    return Err(format!(
                        "{rname}.{}: narrow on unknown field `{}`",
                        f.name, n.on
                    ));
                }
                tys.extend(n.cases.iter().map(|c| &c.ty));
            }
            for ty in tys {
                if let Some(n) = names(ty) {
                    if !s.types.contains_key(n) {
                        return Err(format!("{rname}.{}: unknown type `{n}`", f.name));
                    }
                }
            }
        }
    }
    for t in &s.times {
        if s.field_at(t).is_none() {
            return Err(format!("timestamp field `{t}` is not in the schema"));
        }
    }
    Ok(())
}

/// The schemas Ward ships, one per source.
pub fn bundled() -> &'static Schemas {
    static BUNDLED: std::sync::OnceLock<Schemas> = std::sync::OnceLock::new();
    BUNDLED.get_or_init(|| {
        let mut map = BTreeMap::new();
        for (name, text) in BUNDLED_YAML {
            // The bundled files are tested (`schemas_load`); a broken one is a
            // build defect, so it is skipped here rather than crashing users.
            if let Ok(s) = load(text) {
                map.insert(name.to_string(), s);
            }
        }
        Schemas { map }
    })
}

pub const BUNDLED_YAML: &[(&str, &str)] = &[
    (
        "k8s.audit",
        include_str!("../../spec/schemas/k8s.audit.yaml"),
    ),
    (
        "aws.cloudtrail",
        include_str!("../../spec/schemas/aws.cloudtrail.yaml"),
    ),
    (
        "calico.flow",
        include_str!("../../spec/schemas/calico.flow.yaml"),
    ),
    (
        "calico.dns",
        include_str!("../../spec/schemas/calico.dns.yaml"),
    ),
    (
        "calico.audit",
        include_str!("../../spec/schemas/calico.audit.yaml"),
    ),
    (
        "gcp.audit",
        include_str!("../../spec/schemas/gcp.audit.yaml"),
    ),
];

pub struct Schemas {
    map: BTreeMap<String, Schema>,
}

impl Schemas {
    pub fn get(&self, source: &str) -> Option<&Schema> {
        self.map.get(source)
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

// ---- events -------------------------------------------------------------------

/// A place where an event's value does not have the schema's type.
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    pub path: String,
    pub expected: String,
    pub found: &'static str,
}

/// Checks a decoded event against the schema: every declared field that is
/// present must have its declared type (null is accepted everywhere).
/// Undeclared fields are allowed. Runs per event: the walk allocates only
/// when it finds a mismatch.
pub fn validate_event<'a, D: Doc<'a>>(schema: &Schema, event: D) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    value_matches(
        schema,
        event,
        &Ty::Record(String::new()),
        &mut path,
        event,
        &mut out,
    );
    out
}

/// One step of the path being walked.
enum Step<'a> {
    Field(&'a str),
    Key(&'a str),
    Index(usize),
}

fn render(path: &[Step<'_>]) -> String {
    let mut s = String::new();
    for step in path {
        match step {
            Step::Field(f) if s.is_empty() => s.push_str(f),
            Step::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Step::Key(k) => s.push_str(&format!(".{k:?}")),
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn kind_name(k: Kind<'_>) -> &'static str {
    match k {
        Kind::Null => "null",
        Kind::Bool(_) => "bool",
        Kind::Num(..) => "number",
        Kind::Str(_) => "string",
        Kind::Arr(_) => "array",
        Kind::Obj => "object",
    }
}

fn value_matches<'a, D: Doc<'a>>(
    schema: &Schema,
    root: D,
    ty: &Ty,
    path: &mut Vec<Step<'a>>,
    v: D,
    out: &mut Vec<Mismatch>,
) {
    let kind = v.kind();
    let ok = match (ty, kind) {
        (_, Kind::Null) | (Ty::Json, _) => true,
        (Ty::String | Ty::Ip, Kind::Str(_)) => true,
        // Text must be a time Ward can order (RFC 3339, or the space-separated
        // UTC form some EKS exports write); numbers are epoch seconds.
        (Ty::Timestamp, Kind::Str(t)) => crate::time::parse(t).is_some(),
        (Ty::Timestamp, Kind::Num(..)) => true,
        // An integral float (`101.0`, `1.01e2`) compares as the int it is.
        (Ty::Int, Kind::Num(n, int)) => int || (n.is_finite() && n.fract() == 0.0),
        (Ty::Float, Kind::Num(..)) => true,
        (Ty::Bool, Kind::Bool(_)) => true,
        (Ty::List(inner), Kind::Arr(n)) => {
            for i in 0..n {
                let Some(item) = v.at(i) else { continue };
                path.push(Step::Index(i));
                value_matches(schema, root, inner, path, item, out);
                path.pop();
            }
            true
        }
        (Ty::Map(inner), Kind::Obj) => {
            v.each_entry(&mut |k, item| {
                path.push(Step::Key(k));
                value_matches(schema, root, inner, path, item, out);
                path.pop();
            });
            true
        }
        (Ty::Record(name), Kind::Obj) => {
            let rec = if name.is_empty() {
                Some(&schema.root)
            } else {
                schema.types.get(name)
            };
            if let Some(rec) = rec {
                v.each_entry(&mut |k, item| {
                    let Some(f) = rec.field(k) else { return };
                    let ty = narrowed(root, f).unwrap_or(&f.ty);
                    path.push(Step::Field(k));
                    value_matches(schema, root, ty, path, item, out);
                    path.pop();
                });
            }
            true
        }
        _ => false,
    };
    if !ok {
        out.push(Mismatch {
            path: render(path),
            expected: ty.to_string(),
            found: kind_name(kind),
        });
    }
}

/// The shape a narrowed field takes in this event, from its guard's value.
fn narrowed<'s, 'a, D: Doc<'a>>(root: D, f: &'s Field) -> Option<&'s Ty> {
    let n = f.narrow.as_ref()?;
    let mut v = root;
    for part in n.on.split('.') {
        v = v.key(part)?;
    }
    let guard = v.as_str()?;
    n.cases
        .iter()
        .find(|c| c.values.iter().any(|x| x == guard))
        .map(|c| &c.ty)
}

//! Type drift, fast: whether an extraction's values have the JSON types
//! their schema declares, with each value's schema field found by the id of
//! the projection node it was read under instead of by its name.
//!
//! This answers yes or no only. On "no" the caller runs the schema's own
//! validator ([`schema::validate_event`]) for the path and the message, so
//! the check only has to be exactly as strict: it mirrors that validator
//! case for case, and a test holds the two to the same verdicts.

use std::collections::HashMap;

use ward_compiler::doc::{Doc, Kind};
use ward_compiler::lower::FieldPath;
use ward_compiler::plan::{ByValue, Projection};
use ward_compiler::schema::{self, Field, Schema, Ty};

use crate::eval;
use crate::extract::{At, NO_ID};

/// The schemas of every source, compiled against one projection.
#[derive(Clone)]
pub struct Drift {
    /// By source name: a handful, compared by name for every event (a
    /// hashed lookup costs more).
    sources: Vec<(String, Compiled)>,
}

#[derive(Clone)]
struct Compiled {
    /// The root record first, then the named records.
    records: Vec<Record>,
}

#[derive(Clone)]
struct Record {
    fields: Vec<CField>,
    /// Projection id -> index into `fields` (`NONE`: not a field here).
    by_id: Vec<u32>,
}

#[derive(Clone)]
struct CField {
    ty: CTy,
    narrow: Option<Narrow>,
}

/// The guard's path (found by slot), and the type per guard value.
#[derive(Clone)]
struct Narrow {
    on: FieldPath,
    /// Guard value -> index into `types` (the first case naming it).
    cases: ByValue<usize>,
    types: Vec<CTy>,
}

#[derive(Clone)]
enum CTy {
    Json,
    Str,
    Time,
    Int,
    Float,
    Bool,
    List(Box<CTy>),
    Map(Box<CTy>),
    Record(usize),
    /// A record the schema names but does not define: any object (the
    /// validator cannot look inside).
    Object,
    /// Types no JSON value but null has (durations, the null literal's).
    Never,
}

const NONE: u32 = u32::MAX;

impl Drift {
    /// Compiles each bundled schema for values read under `proj` (whose
    /// nodes must be numbered).
    pub fn new(proj: &Projection) -> Drift {
        let nodes = proj.nodes();
        let size = nodes
            .iter()
            .map(|(_, p)| p.id as usize + 1)
            .max()
            .unwrap_or(0);
        let schemas = schema::bundled();
        let sources = schemas
            .names()
            .filter_map(|name| {
                let compiled = compile(schemas.get(name)?, proj, &nodes, size);
                Some((name.to_string(), compiled))
            })
            .collect();
        Drift { sources }
    }

    /// Whether every value of `root` (an extraction of an event of
    /// `source`) has its schema's type; `true` for an unknown source.
    /// `read` is a time the caller read already (the event's time, for
    /// stateful rules): it is not parsed again.
    pub fn fits(&self, source: &str, root: At<'_, '_>, read: Option<At<'_, '_>>) -> bool {
        let Some((_, c)) = self.sources.iter().find(|(name, _)| name == source) else {
            return true;
        };
        c.fits(Event { root, read }, &CTy::Record(0), root)
    }
}

fn compile(
    s: &Schema,
    proj: &Projection,
    nodes: &[(Option<&str>, &Projection)],
    size: usize,
) -> Compiled {
    let mut index: HashMap<&str, usize> = HashMap::new();
    index.insert("", 0);
    for (i, name) in s.types.keys().enumerate() {
        index.insert(name, i + 1);
    }
    let records: Vec<&schema::Record> = std::iter::once(&s.root).chain(s.types.values()).collect();
    let records = records
        .into_iter()
        .map(|r| {
            let fields: Vec<CField> = r.fields.iter().map(|f| field(f, &index, proj)).collect();
            let mut by_id = vec![NONE; size];
            for (key, p) in nodes {
                // The last of repeated names, as the schema's index keeps it.
                if let Some(pos) = key.and_then(|k| r.fields.iter().rposition(|f| f.name == k)) {
                    by_id[p.id as usize] = pos as u32;
                }
            }
            Record { fields, by_id }
        })
        .collect();
    Compiled { records }
}

fn field(f: &Field, index: &HashMap<&str, usize>, proj: &Projection) -> CField {
    CField {
        ty: cty(&f.ty, index),
        narrow: f.narrow.as_ref().map(|n| {
            let mut on = FieldPath::from_keys(n.on.split('.'));
            on.slot = proj.slot_of(&on);
            let mut cases = ByValue::of_values();
            for (i, c) in n.cases.iter().enumerate() {
                for v in &c.values {
                    if cases.get(v).is_none() {
                        cases.insert(v, i);
                    }
                }
            }
            let types = n.cases.iter().map(|c| cty(&c.ty, index)).collect();
            Narrow { on, cases, types }
        }),
    }
}

fn cty(t: &Ty, index: &HashMap<&str, usize>) -> CTy {
    match t {
        Ty::String | Ty::Ip => CTy::Str,
        Ty::Int => CTy::Int,
        Ty::Float => CTy::Float,
        Ty::Bool => CTy::Bool,
        Ty::Timestamp => CTy::Time,
        Ty::Json => CTy::Json,
        Ty::Duration | Ty::Null => CTy::Never,
        Ty::List(inner) => CTy::List(Box::new(cty(inner, index))),
        Ty::Map(inner) => CTy::Map(Box::new(cty(inner, index))),
        Ty::Record(name) => index
            .get(name.as_str())
            .map_or(CTy::Object, |&i| CTy::Record(i)),
    }
}

/// The event a check walks: its root, and a time read already.
#[derive(Clone, Copy)]
struct Event<'s, 't> {
    root: At<'s, 't>,
    read: Option<At<'s, 't>>,
}

impl Compiled {
    fn fits<'s, 't>(&self, ev: Event<'s, 't>, ty: &CTy, v: At<'s, 't>) -> bool {
        match (ty, v.kind()) {
            (_, Kind::Null) | (CTy::Json, _) => true,
            (CTy::Str, Kind::Str(_)) => true,
            (CTy::Time, Kind::Str(t)) => {
                ev.read.is_some_and(|r| r.same(v)) || ward_compiler::time::parse(t).is_some()
            }
            (CTy::Time, Kind::Num(..)) => true,
            (CTy::Int, Kind::Num(n, int)) => int || (n.is_finite() && n.fract() == 0.0),
            (CTy::Float, Kind::Num(..)) => true,
            (CTy::Bool, Kind::Bool(_)) => true,
            (CTy::Object, Kind::Obj) => true,
            (CTy::List(inner), Kind::Arr(n)) => {
                (0..n).all(|i| v.at(i).is_none_or(|item| self.fits(ev, inner, item)))
            }
            (CTy::Map(inner), Kind::Obj) => v.values().all(|item| self.fits(ev, inner, item)),
            (CTy::Record(r), Kind::Obj) => {
                let rec = &self.records[*r];
                v.values().all(|item| {
                    let id = item.proj_id();
                    if id == NO_ID {
                        // Not read under the projection: let the validator say.
                        return false;
                    }
                    match rec.by_id.get(id as usize) {
                        Some(&i) if i != NONE => {
                            let f = &rec.fields[i as usize];
                            self.fits(ev, narrowed(ev.root, f).unwrap_or(&f.ty), item)
                        }
                        _ => true,
                    }
                })
            }
            _ => false,
        }
    }
}

/// The type a narrowed field takes in this event, from its guard's value.
fn narrowed<'f>(root: At<'_, '_>, f: &'f CField) -> Option<&'f CTy> {
    let n = f.narrow.as_ref()?;
    let guard = eval::get(root, &[], &n.on)?.as_str()?;
    n.cases.get(guard).and_then(|&i| n.types.get(i))
}

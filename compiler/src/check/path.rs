//! Field paths: walking a path through the schema, and narrowing free-form
//! objects (`requestObject`) by the guards a condition establishes.

use std::collections::{BTreeMap, HashSet};

use super::expr::Cx;
use super::suggest;
use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::resolve::Program;
use crate::schema::{Field, NarrowCase, Record, Schema, Ty};
use crate::syntax::ast::*;

/// What a condition pins down: for a dotted field path, the only values it
/// can have when the condition holds (`objectRef.resource == "pods"`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Facts {
    pub values: BTreeMap<String, Vec<String>>,
}

impl Facts {
    fn add(&mut self, path: String, vals: Vec<String>) {
        match self.values.get_mut(&path) {
            // A hash set for long lists: two threat-intel lists of a
            // million names on one field must not take 10^12 steps.
            Some(existing) if vals.len() > 16 => {
                let vals: HashSet<&str> = vals.iter().map(String::as_str).collect();
                existing.retain(|v| vals.contains(v.as_str()));
            }
            Some(existing) => existing.retain(|v| vals.contains(v)),
            None => {
                self.values.insert(path, vals);
            }
        }
    }
}

/// Collects the facts of the top-level conjunction of `e`, through macros.
pub(crate) fn gather_facts(
    prog: &Program<'_>,
    file: FileId,
    e: &Expr,
    out: &mut Facts,
    depth: usize,
) {
    let _ = file;
    gather(prog, e, out, depth, &mut Default::default());
}

/// [`gather_facts`], each macro visited once: its facts are the same at
/// every use, and a macro used twice by a macro used twice... would be
/// visited exponentially often.
fn gather<'a>(
    prog: &Program<'a>,
    e: &Expr,
    out: &mut Facts,
    depth: usize,
    seen: &mut std::collections::HashSet<String>,
) {
    if depth > 32 {
        return;
    }
    match &e.kind {
        ExprKind::And(a, b) => {
            gather(prog, a, out, depth, seen);
            gather(prog, b, out, depth, seen);
        }
        ExprKind::Compare {
            op: CmpOp::Eq,
            lhs,
            rhs,
        } => {
            let (path, lit) = match (lhs, rhs) {
                (Operand::Path(p), Operand::Lit(l)) | (Operand::Lit(l), Operand::Path(p)) => (p, l),
                _ => return,
            };
            if let (Some(path), LitKind::Str(s)) = (dotted(path), &lit.kind) {
                out.add(path, vec![s.value.clone()]);
            }
        }
        ExprKind::In {
            negated: false,
            lhs: Operand::Path(p),
            rhs,
        } => {
            let Some(path) = dotted(p) else { return };
            let items: Option<&[Literal]> = match rhs {
                Operand::Lit(Literal {
                    kind: LitKind::List(items),
                    ..
                }) => Some(items),
                Operand::Path(name) => name
                    .as_name()
                    .and_then(|n| prog.lists.get(n.name.as_str()))
                    .map(|d| d.items.as_ref()),
                _ => None,
            };
            if let Some(items) = items {
                let vals = items
                    .iter()
                    .filter_map(|l| match &l.kind {
                        LitKind::Str(s) => Some(s.value.clone()),
                        _ => None,
                    })
                    .collect();
                out.add(path, vals);
            }
        }
        ExprKind::Value(Operand::Path(p)) => {
            let found = p
                .as_name()
                .and_then(|n| prog.macros.get_key_value(n.name.as_str()));
            if let Some((name, def)) = found {
                if seen.insert(name.to_string()) {
                    gather(prog, &def.item.body, out, depth + 1, seen);
                }
            }
        }
        // A macro call's guards, its arguments in place.
        ExprKind::Value(Operand::Call(c)) => {
            let Some(def) = prog.macros.get(c.name.name.as_str()) else {
                return;
            };
            if !seen.insert(c.to_string()) || def.item.params.len() != c.args.len() {
                return;
            }
            if let Ok(body) = crate::resolve::expand::substitute(def.item, &c.args) {
                gather(prog, &body, out, depth + 1, seen);
            }
        }
        _ => {}
    }
}

/// `a.b.c` for a path of plain field names.
pub(crate) fn dotted(p: &Path) -> Option<String> {
    let mut s = p.root.name.clone();
    for seg in &p.segments {
        match &seg.kind {
            SegKind::Field { name, .. } if !name.contains('.') => {
                s.push('.');
                s.push_str(name);
            }
            _ => return None,
        }
    }
    Some(s)
}

/// A path's type and, when it ends on a schema field, that field.
#[derive(Clone, Debug)]
pub(crate) struct Resolved<'a> {
    pub ty: Ty,
    pub field: Option<&'a Field>,
}

/// Why a walk stopped, at which segment.
enum Stop<'a> {
    NoField { record: &'a Record, name: String },
    NotRecord(Ty),
    ListField(Ty),
    NotIndexable(Ty),
}

enum Walked<'a> {
    Done(Resolved<'a>),
    /// Reached a field whose shape depends on a guard; `at` is its index.
    Narrow {
        at: usize,
        field: &'a Field,
    },
}

/// One step of a path: `(name or index)`.
#[derive(Clone, Copy)]
enum Seg<'p> {
    Field(&'p str),
    Index,
}

fn record<'a>(schema: &'a Schema, ty: &Ty) -> Option<&'a Record> {
    match ty {
        Ty::Record(n) if n.is_empty() => Some(&schema.root),
        other => schema.record(other),
    }
}

/// Walks `segs` from `ty`. With `narrowing`, stops at a narrowed field.
fn walk<'a>(
    schema: &'a Schema,
    ty: Ty,
    segs: &[Seg<'_>],
    narrowing: bool,
) -> Result<Walked<'a>, (usize, Stop<'a>)> {
    let mut cur = Resolved { ty, field: None };
    for (i, seg) in segs.iter().enumerate() {
        cur = match (&cur.ty, seg) {
            (Ty::Json, _) => Resolved {
                ty: Ty::Json,
                field: None,
            },
            (Ty::Map(inner), Seg::Field(_)) => Resolved {
                ty: (**inner).clone(),
                field: None,
            },
            (Ty::List(inner), Seg::Index) => Resolved {
                ty: (**inner).clone(),
                field: None,
            },
            (Ty::List(_), Seg::Field(_)) => return Err((i, Stop::ListField(cur.ty))),
            (ty @ Ty::Record(_), Seg::Field(name)) => {
                let Some(rec) = record(schema, ty) else {
                    return Err((i, Stop::NotRecord(cur.ty)));
                };
                let Some(f) = rec.field(name) else {
                    return Err((
                        i,
                        Stop::NoField {
                            record: rec,
                            name: name.to_string(),
                        },
                    ));
                };
                if narrowing && f.narrow.is_some() {
                    return Ok(Walked::Narrow { at: i, field: f });
                }
                Resolved {
                    ty: f.ty.clone(),
                    field: Some(f),
                }
            }
            (_, Seg::Index) => return Err((i, Stop::NotIndexable(cur.ty))),
            (_, Seg::Field(_)) => return Err((i, Stop::NotRecord(cur.ty))),
        };
    }
    Ok(Walked::Done(cur))
}

/// The first field along `segs` (from `ty`) that the schema marks
/// `opt_in`, looking through every shape a narrowed field can take.
/// The types are borrowed, from `ty` and the schema: a path is checked
/// against it at every use, and cloning a type per segment was most of that.
fn opt_in<'a>(schema: &'a Schema, ty: &'a Ty, segs: &[Seg<'_>]) -> Option<&'a Field> {
    let mut tys = vec![ty];
    for seg in segs {
        let mut next = Vec::new();
        for &ty in &tys {
            match (ty, seg) {
                (Ty::Map(inner), Seg::Field(_)) | (Ty::List(inner), Seg::Index) => {
                    next.push(&**inner)
                }
                (ty @ Ty::Record(_), Seg::Field(name)) => {
                    let Some(f) = record(schema, ty).and_then(|r| r.field(name)) else {
                        continue;
                    };
                    if f.opt_in.is_some() {
                        return Some(f);
                    }
                    next.push(&f.ty);
                    let cases = f.narrow.iter().flat_map(|n| &n.cases);
                    next.extend(cases.map(|c| &c.ty));
                }
                _ => {}
            }
        }
        next.dedup();
        tys = next;
    }
    None
}

/// The path's segments, its root included as the first.
fn segs(p: &Path) -> (Vec<Seg<'_>>, Vec<Span>) {
    let mut s = vec![Seg::Field(p.root.name.as_str())];
    let mut spans = vec![p.root.span];
    for seg in &p.segments {
        s.push(match &seg.kind {
            SegKind::Field { name, .. } => Seg::Field(name),
            SegKind::Index(_) => Seg::Index,
        });
        spans.push(seg.span);
    }
    (s, spans)
}

/// Source text of the path up to and including segment `i` (0 = root).
fn prefix(p: &Path, i: usize) -> String {
    let mut s = p.root.name.clone();
    for seg in p.segments.iter().take(i) {
        s.push_str(&seg.to_string());
    }
    s
}

/// The path with segment `i` replaced by `name`.
fn replaced(p: &Path, i: usize, name: &str) -> String {
    let mut s = if i == 0 {
        name.to_string()
    } else {
        p.root.name.clone()
    };
    for (j, seg) in p.segments.iter().enumerate() {
        if j + 1 == i {
            s.push('.');
            s.push_str(name);
        } else {
            s.push_str(&seg.to_string());
        }
    }
    s
}

impl<'a> Cx<'_, 'a> {
    /// The type of a field path (the root may be a bound variable). Reports
    /// what is wrong and returns `None` when the path does not resolve.
    pub(crate) fn resolve(&mut self, p: &Path) -> Option<Resolved<'a>> {
        let (all, spans) = segs(p);
        let (start, from) = match self.binding(&p.root.name) {
            Some(ty) => (ty.clone(), 1),
            None => (Ty::Record(String::new()), 0),
        };
        if !self.opt_in_allowed {
            if let Some(f) = opt_in(self.schema, &start, &all[from..]) {
                self.report_opt_in(p, f);
            }
        }
        match walk(self.schema, start, &all[from..], true) {
            Ok(Walked::Done(r)) => Some(r),
            Ok(Walked::Narrow { at, field }) => {
                let at = at + from;
                self.narrow(p, at, field, &all[at + 1..], spans[at])
            }
            Err((i, stop)) => {
                let i = i + from;
                self.report_stop(p, i, spans[i], stop, Code::UnknownField);
                None
            }
        }
    }

    fn report_opt_in(&mut self, p: &Path, f: &Field) {
        let why = f.opt_in.as_deref().unwrap_or_default();
        let d = Diagnostic::new(
            Code::OptInField,
            self.file,
            p.span,
            format!("`{p}` is opt-in: a rule that reads it ships disabled"),
        )
        .label(format!("the schema marks `{}` opt-in", f.name))
        .help(format!("{why}; write `enabled false` in the rule, and `tune rule NAME {{ enabled true }}` in the layer of a site that opts in"));
        self.push(d);
    }

    fn report_stop(&mut self, p: &Path, i: usize, span: Span, stop: Stop<'_>, code: Code) {
        let d = match stop {
            Stop::NoField { record, name } => {
                let owner = if i == 0 { self.schema.source.clone() } else { format!("`{}`", prefix(p, i - 1)) };
                let d = Diagnostic::new(code, self.file, span, format!("unknown field `{}`", prefix(p, i)))
                    .label(format!("{owner} has no field `{name}`"));
                let near = suggest::closest(&name, record.fields.iter().map(|f| f.name.as_str()));
                match near {
                    Some(s) => d.help(format!("did you mean `{}`?", replaced(p, i, s))),
                    None if i == 0 => match self.deep_match(&name) {
                        Some(full) => d.help(format!("did you mean `{full}`?")),
                        None => d.help(format!("`ward schema {}` lists the fields", self.schema.source)),
                    },
                    None => d.help(format!("`ward schema {} {}` lists its fields", self.schema.source, prefix(p, i - 1))),
                }
            }
            Stop::NotRecord(ty) => {
                Diagnostic::new(code, self.file, span, format!("unknown field `{}`", prefix(p, i)))
                    .label(format!("`{}` is {} and has no fields", prefix(p, i - 1), article(&ty)))
                    .help("remove the extra segment, or quote a key that contains dots: `annotations.\"a.b/c\"`")
            }
            Stop::ListField(ty) => {
                let list = prefix(p, i - 1);
                let rest: String = p.segments.iter().skip(i - 1).map(|s| s.to_string()).collect();
                Diagnostic::new(Code::ListVsScalar, self.file, span, format!("`{list}` is a list; `{rest}` needs a quantifier"))
                    .label(format!("`{list}` is {}", article(&ty)))
                    .help(format!("write `any x in {list}: x{rest} ...`, or index it: `{list}[0]{rest}`"))
            }
            Stop::NotIndexable(ty) => {
                Diagnostic::new(Code::NotAList, self.file, span, format!("`{}` is not a list", prefix(p, i - 1)))
                    .label(format!("cannot index {}", article(&ty)))
                    .help("only lists can be indexed")
            }
        };
        self.ck.diags.push(d);
    }

    /// A field anywhere in the schema whose last name is `name`:
    /// `username` -> `user.username`.
    pub(crate) fn deep_match(&self, name: &str) -> Option<String> {
        self.schema.by_last_name(name).map(str::to_string)
    }

    /// Resolves the rest of a path below a narrowed field, using the guard
    /// facts of the condition.
    fn narrow(
        &mut self,
        p: &Path,
        at: usize,
        field: &'a Field,
        rest: &[Seg<'_>],
        span: Span,
    ) -> Option<Resolved<'a>> {
        let Some(n) = &field.narrow else { return None };
        let guard = self.facts.values.get(&n.on).cloned();
        let covered = |v: &String| n.cases.iter().any(|c| c.values.contains(v));
        let cases: Vec<&NarrowCase> = match &guard {
            Some(vals) => n
                .cases
                .iter()
                .filter(|c| c.values.iter().any(|v| vals.contains(v)))
                .collect(),
            None => n.cases.iter().collect(),
        };
        let open = guard
            .as_ref()
            .is_none_or(|vals| vals.iter().any(|v| !covered(v)));
        if rest.is_empty() {
            return Some(match (cases.as_slice(), open) {
                ([one], false) => Resolved {
                    ty: one.ty.clone(),
                    field: Some(field),
                },
                _ => Resolved {
                    ty: field.ty.clone(),
                    field: Some(field),
                },
            });
        }
        if cases.is_empty() {
            // Every guard value is a kind Ward has no shape for: free-form.
            return Some(Resolved {
                ty: Ty::Json,
                field: None,
            });
        }
        let mut ok: Vec<(&NarrowCase, Resolved<'a>)> = Vec::new();
        let mut first_err = None;
        for c in &cases {
            match walk(self.schema, c.ty.clone(), rest, false) {
                Ok(Walked::Done(r)) => ok.push((c, r)),
                Ok(Walked::Narrow { .. }) => {}
                // A missing quantifier explains the failure best; else the first kind's.
                Err(e) if matches!(e.1, Stop::ListField(_)) => first_err = Some(e),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        let whole = prefix(p, at);
        // Every kind in question has the path (`metadata.name`): no guard needed.
        if ok.len() == cases.len() {
            return ok.into_iter().next().map(|(_, r)| r);
        }
        if ok.is_empty() {
            let (i, stop) = first_err?;
            let i = at + 1 + i;
            let seg_span = p.segments.get(i - 1).map_or(span, |s| s.span);
            // A list's field read without a quantifier is the real problem
            // whatever the object's kind.
            if !open || matches!(stop, Stop::ListField(_)) {
                // Guarded: the object's shape is known, so this is an error.
                self.report_stop(p, i, seg_span, stop, Code::UnknownField);
                return None;
            }
            let mut d = Diagnostic::new(
                Code::UnknownShapePath,
                self.file,
                p.span,
                format!("no known shape of `{whole}` has `{}`", p),
            )
            .label(format!(
                "not a field of any shape Ward knows for `{}`",
                n.on
            ));
            if let Stop::NoField { record, name } = stop {
                if let Some(s) =
                    suggest::closest(&name, record.fields.iter().map(|f| f.name.as_str()))
                {
                    d = d.help(format!("did you mean `{}`?", replaced(p, i, s)));
                }
            }
            if d.help.is_none() {
                d = d.help(format!(
                    "if this is a custom resource, guard the rule with `{} == \"...\"`; `ward schema {} {whole}` lists the known shapes",
                    n.on, self.schema.source
                ));
            }
            self.ck.diags.push(d);
            return Some(Resolved {
                ty: Ty::Json,
                field: None,
            });
        }
        let good: Vec<&NarrowCase> = ok.iter().map(|(c, _)| *c).collect();
        let mut kinds: Vec<&str> = good
            .iter()
            .flat_map(|c| c.values.iter().map(String::as_str))
            .collect();
        kinds.dedup();
        let fix = match kinds.as_slice() {
            [one] => format!("{} == \"{one}\"", n.on),
            many => format!(
                "{} in [{}]",
                n.on,
                many.iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let what = if guard.is_some() {
            "the guard also admits other kinds"
        } else {
            "nothing guards the object's kind"
        };
        self.ck.diags.push(
            Diagnostic::new(
                Code::UnguardedPath,
                self.file,
                p.span,
                format!("`{p}` exists only when {} is {}", n.on, kinds.join(" or ")),
            )
            .label(what)
            .help(format!(
                "add `{fix}` to the condition, so other objects cannot reach this test"
            )),
        );
        ok.into_iter().next().map(|(_, r)| r)
    }
}

fn article(ty: &Ty) -> String {
    match ty {
        Ty::Int => "an int".into(),
        Ty::Ip => "an ip".into(),
        Ty::List(_) => format!("a {ty}"),
        Ty::Record(n) => format!("a record ({n})"),
        other => format!("a {other}"),
    }
}

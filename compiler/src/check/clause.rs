//! Clauses beyond the condition: output templates, and the keys and
//! windows of `count` and `sequence`.

use super::expr::{ty_name, Cx};
use super::path::Facts;
use crate::diagnostic::{Code, Diagnostic};
use crate::schema::Ty;
use crate::syntax::ast::*;

/// The largest count threshold: each key keeps one time per counted event.
pub const MAX_THRESHOLD: i64 = 10_000;

impl Cx<'_, '_> {
    /// Checks the `{field}` references of an output template.
    pub(crate) fn template(&mut self, out: &StrLit) {
        use crate::syntax::template::{parse, Piece, Unclosed};
        // Spans point into the source when the literal has no escapes (the
        // decoded text is the source text); otherwise at the whole literal.
        let open = if out.raw { 2 } else { 1 };
        let text = self.ck.sources.get(self.file).text();
        let exact = text.get(out.span.start + open..out.span.end.saturating_sub(1))
            == Some(out.value.as_str());
        let base = out.span.start + open;
        let span_at = |start: usize, len: usize| {
            if exact {
                Span::new(base + start, base + start + len)
            } else {
                out.span
            }
        };
        let pieces = match parse(&out.value) {
            Ok(p) => p,
            Err(Unclosed(at)) => {
                let d = self
                    .err(Code::BadTemplate, span_at(at, 1), "unclosed `{` in output")
                    .label("no matching `}`")
                    .help("close it, or write `{{` for a literal brace");
                self.push(d);
                return;
            }
        };
        for piece in pieces {
            let Piece::Field { path, at } = piece else {
                continue;
            };
            let before = self.ck.diags.len();
            if let Some(d) = self.template_kind(&path, span_at(at, path.len())) {
                self.push(d);
            } else {
                match crate::syntax::parse::parse_path(
                    self.file,
                    &path,
                    if exact { base + at } else { 0 },
                ) {
                    Some(p) => self.template_path(&p),
                    None => {
                        let d = self
                            .err(
                                Code::BadTemplate,
                                span_at(at, path.len()),
                                format!("`{{{path}}}` is not a field path"),
                            )
                            .label("expected a field such as `objectRef.name`")
                            .help("write `{{` and `}}` for literal braces");
                        self.push(d);
                    }
                }
            }
            if !exact {
                for d in &mut self.ck.diags[before..] {
                    d.labels.truncate(1);
                    d.labels[0].span = out.span;
                }
            }
        }
    }

    /// A macro or a list named in an output template (`{pod_exec}`,
    /// `{in_ns(user.username)}`, `{admins}`): a condition or a set of
    /// values, where the template shows one value of the event.
    fn template_kind(&self, text: &str, span: Span) -> Option<Diagnostic> {
        let prog = self.ck.prog;
        let (name, called) = match text.split_once('(') {
            Some((name, _)) if text.ends_with(')') => (name.trim(), true),
            _ => (text, false),
        };
        if !crate::syntax::is_plain_name(name) {
            return None;
        }
        let field = !called && self.schema.root.field(name).is_some();
        let d = if let Some(m) = prog.macros.get(name).filter(|_| !field) {
            let what = if called { "calls" } else { "names" };
            self.err(
                Code::BadTemplate,
                span,
                format!("output {what} macro `{name}`, a condition"),
            )
            .label("a macro is true or false for an event; an output shows the event's values")
            .with_label(m.file, m.item.name.span, "declared here")
            .help(
                "put the macro in `when` and show the fields it tests, such as `{objectRef.namespace}`",
            )
        } else if let Some(l) = prog.lists.get(name).filter(|_| !field && !called) {
            self.err(
                Code::BadTemplate,
                span,
                format!("output names list `{name}`"),
            )
            .label("a list is a set of values to test against, not a value of the event")
            .with_label(l.file, l.item.name.span, "declared here")
            .help("show the field tested against the list instead")
        } else if called && crate::func::Func::by_name(name).is_some() {
            self.err(Code::BadTemplate, span, format!("output calls `{name}`"))
                .label("an output shows field paths, not derived values")
                .help("show the field itself; the alert holds the whole event")
        } else {
            return None;
        };
        Some(d)
    }

    fn template_path(&mut self, p: &Path) {
        let before = self.ck.diags.len();
        if p.segments.is_empty() && self.schema.root.field(&p.root.name).is_none() {
            self.unknown_name(&p.root);
        } else {
            self.resolve(p);
        }
        for d in &mut self.ck.diags[before..] {
            if matches!(d.code, Code::UnknownField | Code::UnknownName) {
                d.code = Code::BadTemplate;
                d.message = format!("output names {}", d.message);
            }
        }
    }

    pub(crate) fn count(&mut self, c: &Count) {
        for key in c.by.iter().chain(c.distinct.iter()) {
            self.key(key);
        }
        self.window(&c.within);
        if !matches!(c.op, CmpOp::Gt | CmpOp::Ge) {
            let d = self
                .err(
                    Code::BadRule,
                    c.span,
                    format!("a count fires on `>` or `>=`, not `{}`", c.op.as_str()),
                )
                .label("this comparison")
                .help(
                    "a count fires the moment its window holds enough events; \
                     to find too few, count the opposite events",
                );
            self.push(d);
        }
        match &c.threshold.kind {
            LitKind::Int(n) if *n > MAX_THRESHOLD => {
                let d = self
                    .err(
                        Code::BadRule,
                        c.threshold.span,
                        format!("a count threshold is at most {MAX_THRESHOLD}"),
                    )
                    .label("too large")
                    .help("each key keeps one time per counted event; count over a shorter window");
                self.push(d);
            }
            LitKind::Int(n) if *n >= 0 => {}
            _ => {
                let d = self
                    .err(
                        Code::TypeMismatch,
                        c.threshold.span,
                        "a count threshold is a whole number",
                    )
                    .label("not a non-negative integer")
                    .help("write, for example, `> 5`");
                self.push(d);
            }
        }
    }

    pub(crate) fn sequence(&mut self, s: &Sequence) {
        for key in &s.by {
            self.key(key);
        }
        self.window(&s.within);
        if s.steps.len() < 2 {
            let d = self
                .err(Code::BadRule, s.span, "a sequence needs at least two steps")
                .label(format!("{} step(s)", s.steps.len()))
                .help("for one step, use `when` (and `count` for repetitions)");
            self.push(d);
        } else if s.steps.iter().all(|st| st.negated) {
            let d = self
                .err(
                    Code::BadRule,
                    s.span,
                    "a sequence needs a step that is not `not`",
                )
                .label("every step is an absence")
                .help("an absence is measured from a step that happened");
            self.push(d);
        }
        if let Some(first) = s.steps.first() {
            for st in &s.steps[1..] {
                if st.by.len() != first.by.len() {
                    let d = self
                        .err(
                            Code::BadKey,
                            st.name.span,
                            format!(
                                "step `{}` has {} `by` key(s), step `{}` has {}",
                                st.name.name,
                                st.by.len(),
                                first.name.name,
                                first.by.len()
                            ),
                        )
                        .label("different number of step keys")
                        .help("steps are joined on their `by` keys in order; give every step the same number");
                    self.push(d);
                }
            }
        }
        self.unreachable_steps(s);
        let mut names: Vec<&Ident> = Vec::new();
        for step in &s.steps {
            if let Some(prev) = names.iter().find(|n| n.name == step.name.name) {
                let d = self
                    .err(
                        Code::Duplicate,
                        step.name.span,
                        format!("step `{}` is named twice", step.name.name),
                    )
                    .label("second step")
                    .with_label(self.file, prev.span, "first step")
                    .help("give each step its own name; alerts refer to steps by name");
                self.push(d);
            }
            names.push(&step.name);
            let outer = std::mem::take(&mut self.facts);
            let mut facts = Facts::default();
            super::path::gather_facts(self.ck.prog, self.file, &step.when, &mut facts, 0);
            self.facts = facts;
            self.condition(&step.when);
            for key in &step.by {
                self.key(key);
            }
            self.facts = outer;
        }
        if let Some(u) = &s.until {
            self.condition(u);
        }
    }

    /// W006: a step whose pinned values contradict the rule's `when`, or,
    /// on a `by` key, another step's: the sequence can never complete.
    fn unreachable_steps(&mut self, s: &Sequence) {
        let facts = |e: &Expr| {
            let mut f = Facts::default();
            super::path::gather_facts(self.ck.prog, self.file, e, &mut f, 0);
            f
        };
        let steps: Vec<(&Step, Facts)> = s.steps.iter().map(|st| (st, facts(&st.when))).collect();
        let keys: Vec<String> = s.by.iter().map(|k| k.to_string()).collect();
        let mut found = Vec::new();
        for (i, (step, mine)) in steps.iter().enumerate() {
            let clash = mine.values.iter().find_map(|(path, vals)| {
                if let Some(rule) = self.facts.values.get(path) {
                    if !vals.iter().any(|v| rule.contains(v)) {
                        return Some(format!(
                            "the rule's `when` requires `{path}` in {rule:?}, this step in {vals:?}"
                        ));
                    }
                }
                if step.negated || !keys.contains(path) {
                    return None;
                }
                steps[..i].iter().filter(|(o, _)| !o.negated).find_map(|(other, theirs)| {
                    let t = theirs.values.get(path)?;
                    (!vals.iter().any(|v| t.contains(v))).then(|| {
                        format!(
                            "the steps are joined on `{path}`, which step `{}` requires in {t:?} and this step in {vals:?}",
                            other.name.name
                        )
                    })
                })
            });
            if let Some(why) = clash {
                found.push((step.name.span, step.name.name.clone(), why));
            }
        }
        for (span, name, why) in found {
            let d = self
                .err(
                    Code::UnreachableStep,
                    span,
                    format!("step `{name}` can never match"),
                )
                .label(why)
                .help("fix the values, or drop the key the steps cannot share");
            self.push(d);
        }
    }

    fn key(&mut self, key: &Path) {
        let Some(r) = self.operand(&Operand::Path(key.clone())) else {
            return;
        };
        if !r.ty.is_scalar() {
            let d = self
                .err(
                    Code::BadKey,
                    key.span,
                    format!("`{key}` is not a scalar field"),
                )
                .label(format!("this is {}", ty_name(&r.ty)))
                .help(match r.ty {
                    Ty::List(_) => format!("group by one value, such as `{key}[0]`"),
                    _ => format!(
                        "group by one of its fields; `ward schema {} {key}` lists them",
                        self.schema.source
                    ),
                });
            self.push(d);
        }
    }

    fn window(&mut self, within: &Literal) {
        match within.kind {
            LitKind::Duration(ms) if ms > 0 => {}
            _ => {
                let d = self
                    .err(
                        Code::BadDuration,
                        within.span,
                        "a window must be longer than zero",
                    )
                    .label("zero-length window")
                    .help("write a duration such as `5m`; the longest is 30d");
                self.push(d);
            }
        }
    }
}

//! Lints: warnings about rules that check but are probably not what their
//! author meant (contradictions, dead `except`s, unused definitions,
//! duplicate titles, missing metadata or samples), and the suppression
//! comments that silence them: `# ward:allow(code) reason: ...`.
//!
//! Everything here is sound in one direction: a lint never fires on a rule
//! that is fine. Where deciding needs more than the syntax tree and the
//! schema, the lint stays quiet.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path as FsPath;
use std::rc::Rc;

use crate::diagnostic::{Code, Diagnostic, FileId, Severity};
use crate::load::Loaded;
use crate::resolve::{names, Def, Program};
use crate::schema::{Schemas, Ty};
use crate::syntax::ast::*;

/// Whether a rule's samples exist, for `missing-samples`: `None` when the
/// rule's directory does not use the samples layout at all.
pub type SampleProbe<'a> = &'a dyn Fn(&FsPath, &str) -> Option<bool>;

/// Lints for maintained rule repositories, which need more than the rule
/// text. [`crate::check`] (used by the docs and by `ward scan`) leaves them
/// off; `ward check` gives a probe of the samples layout, so both apply to
/// rules whose directory has a `samples/` directory.
#[derive(Clone, Copy, Default)]
pub struct Options<'a> {
    /// `missing-metadata` for every rule: a title, a severity and tags.
    pub require_metadata: bool,
    /// `missing-samples`: asks whether a rule (file, id) has samples; also
    /// turns on `missing-metadata` for rules in the samples layout.
    pub samples: Option<SampleProbe<'a>>,
}

impl Options<'_> {
    /// Whether `code` can be reported in the file `path` under these options.
    pub fn enabled(&self, code: Code, path: &FsPath) -> bool {
        match code {
            Code::MissingMetadata => self.require_metadata || self.in_repo(path, "-"),
            Code::MissingSamples => self.in_repo(path, "-"),
            _ => true,
        }
    }

    /// Whether rule `rule` of file `path` sits in the samples layout. (With
    /// `-`, which no rule id contains, only the layout is probed.)
    fn in_repo(&self, path: &FsPath, rule: &str) -> bool {
        self.samples
            .is_some_and(|probe| probe(path, rule).is_some())
    }
}

/// The program-wide lints.
pub(crate) fn program(
    prog: &Program<'_>,
    schemas: &Schemas,
    opts: &Options<'_>,
    loaded: &Loaded,
    diags: &mut Vec<Diagnostic>,
) {
    unused(prog, diags);
    titles(prog, diags);
    let expansions = Expansions::of(prog);
    for def in &prog.rules {
        let path = &loaded.sources.get(def.file).path;
        // A rule kept in the samples layout is in a maintained rule
        // repository: it gets the repository lints.
        if opts.require_metadata || opts.in_repo(path, &def.item.name.name) {
            metadata(def, diags);
        }
        // `ward test` skips disabled rules, so they need none; stateful
        // rules run their samples as streams and need them like the rest.
        let testable = !matches!(
            def.item.meta("enabled").map(|m| &m.value),
            Some(MetaValue::Bool(false, _))
        );
        if let Some(probe) = opts.samples.filter(|_| testable) {
            if probe(path, &def.item.name.name) == Some(false) {
                diags.push(
                    Diagnostic::new(
                        Code::MissingSamples,
                        def.file,
                        def.item.name.span,
                        format!("rule `{}` has no samples", def.item.name.name),
                    )
                    .label("no samples/ directory for this rule")
                    .help(format!(
                        "add events that must fire it as samples/{0}/alert.jsonl and events that must not as samples/{0}/quiet.jsonl, next to this file; then `ward test --bless` writes the golden file",
                        def.item.name.name
                    )),
                );
            }
        }
        let source = def.item.source.as_ref().or(def.source);
        if let Some(schema) = source.and_then(|s| schemas.get(&s.name)) {
            Contra {
                prog,
                schema,
                sources: &loaded.sources,
                expansions: &expansions,
                diags,
                budget: std::cell::Cell::new(BUDGET),
            }
            .rule(def);
        }
    }
}

// ---------------------------------------------------------------------------
// unused-definition

/// Lists and macros no rule reaches, directly or through macros.
fn unused(prog: &Program<'_>, diags: &mut Vec<Diagnostic>) {
    let mut reached: HashSet<&str> = HashSet::new();
    let mut todo: Vec<&Expr> = Vec::new();
    for def in &prog.rules {
        let r = def.item;
        todo.extend(r.when.iter().chain(&r.excepts));
        if let Some(s) = &r.sequence {
            todo.extend(s.steps.iter().map(|st| &st.when));
            todo.extend(s.until.iter());
        }
    }
    for tunes in prog.tunes.values() {
        todo.extend(tunes.iter().flat_map(|t| &t.item.excepts));
    }
    while let Some(e) = todo.pop() {
        names(e, &mut |name| {
            let name = name.name.as_str();
            if let Some((key, m)) = prog.macros.get_key_value(name) {
                if reached.insert(key) {
                    todo.push(&m.item.body);
                }
            } else if let Some((key, _)) = prog.lists.get_key_value(name) {
                reached.insert(key);
            }
        });
    }
    let defs = prog
        .lists
        .iter()
        .map(|(n, d)| (*n, d.file, d.item.name.span, "list"))
        .chain(
            prog.macros
                .iter()
                .map(|(n, d)| (*n, d.file, d.item.name.span, "macro")),
        );
    for (name, file, span, kind) in defs {
        if reached.contains(name) {
            continue;
        }
        diags.push(
            Diagnostic::new(
                Code::UnusedDefinition,
                file,
                span,
                format!("{kind} `{name}` is not used by any rule"),
            )
            .label("defined here, used nowhere")
            .help("delete it, or use it in a rule; `ward check` the whole rule directory so rules in other files count"),
        );
    }
}

// ---------------------------------------------------------------------------
// duplicate-title, missing-metadata

fn titles(prog: &Program<'_>, diags: &mut Vec<Diagnostic>) {
    let mut seen: BTreeMap<String, (FileId, Span, &str)> = BTreeMap::new();
    for def in &prog.rules {
        let Some(MetaValue::Str(t)) = def.item.meta("title").map(|m| &m.value) else {
            continue;
        };
        let key = t.value.trim().to_lowercase();
        if key.is_empty() {
            continue;
        }
        if let Some((file, span, first)) = seen.get(&key) {
            diags.push(
                Diagnostic::new(
                    Code::DuplicateTitle,
                    def.file,
                    t.span,
                    format!(
                        "rule `{}` has the same title as rule `{first}`",
                        def.item.name.name
                    ),
                )
                .label("this title")
                .with_label(*file, *span, format!("also the title of `{first}`"))
                .help("alerts are read by title; say what differs, as in \"... by a service account\""),
            );
        } else {
            seen.insert(key, (def.file, t.span, &def.item.name.name));
        }
    }
}

fn metadata(def: &Def<'_, RuleDecl>, diags: &mut Vec<Diagnostic>) {
    let r = def.item;
    let missing: Vec<&str> = ["title", "severity", "tags"]
        .into_iter()
        .filter(|k| r.meta(k).is_none())
        .collect();
    if missing.is_empty() {
        return;
    }
    let example: Vec<&str> = missing
        .iter()
        .map(|k| match *k {
            "title" => "title \"...\"",
            "severity" => "severity medium",
            _ => "tags [attack.execution]",
        })
        .collect();
    diags.push(
        Diagnostic::new(
            Code::MissingMetadata,
            def.file,
            r.name.span,
            format!("rule `{}` has no {}", r.name.name, or_list(&missing)),
        )
        .label("alerts from this rule lack them")
        .help(format!("add `{}`", example.join("`, `"))),
    );
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

// ---------------------------------------------------------------------------
// constant-condition, dead-except

/// A comparable value of a string, int or bool field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Val<'v> {
    Str(&'v str),
    Int(i64),
    Bool(bool),
}

impl std::fmt::Display for Val<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Val::Str(s) => write!(f, "{s:?}"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One test of a field against literals: `x == v`, `x != v`, `x [not] in [...]`.
/// Every such test is false when `x` is missing (spec/language.md, section 6),
/// so a set of them can contradict each other whatever the event.
/// The values borrow from the rules, and are shared between the copies of
/// an atom that every enclosing context takes: a threat-intel list may hold
/// a million.
#[derive(Clone, Debug)]
struct Atom<'v> {
    field: String,
    file: FileId,
    span: Span,
    /// In a parameterised macro's expansion: the call, where written.
    call: Option<Site>,
    negated: bool,
    vals: Rc<Vals<'v>>,
}

/// A test's values as written, and as a set once a second test of the field
/// needs one: most fields have one test, and a list may hold a million.
#[derive(Debug)]
struct Vals<'v> {
    items: Vec<Val<'v>>,
    set: std::cell::OnceCell<HashSet<Val<'v>>>,
}

impl<'v> Vals<'v> {
    fn set(&self) -> &HashSet<Val<'v>> {
        self.set
            .get_or_init(|| self.items.iter().copied().collect())
    }

    fn contains(&self, v: &Val<'v>) -> bool {
        self.set().contains(v)
    }

    /// Distinct values.
    fn len(&self) -> usize {
        self.set().len()
    }
}

struct Contra<'p, 'a, 'd> {
    prog: &'p Program<'a>,
    schema: &'p crate::schema::Schema,
    sources: &'p crate::diagnostic::SourceMap,
    expansions: &'p Expansions,
    diags: &'d mut Vec<Diagnostic>,
    /// Nodes left to visit for this rule: macros that use macros can
    /// expand exponentially, and the lint then gives up (silently).
    budget: std::cell::Cell<usize>,
}

/// A conjunction: its field tests, and the other conditions in it.
#[derive(Default)]
struct Chain<'e> {
    atoms: Vec<Atom<'e>>,
    rest: Vec<(In, &'e Expr)>,
}

/// Where a condition was written: a file, and if it comes from a
/// parameterised macro's expansion (whose spans lie in the macro's body),
/// the call that a diagnostic is shown at.
#[derive(Clone, Copy, Debug)]
struct In {
    file: FileId,
    call: Option<Site>,
}

impl In {
    fn file(file: FileId) -> In {
        In { file, call: None }
    }
}

/// A call of a parameterised macro as written in a file (for a call in
/// another call's expansion, the outermost call).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Site {
    file: FileId,
    span: Span,
}

/// The expansion of each call of a parameterised macro that the rules
/// reach, by the address of the call node: each call written, and each
/// call in an expansion, is its own node. Built once, before the
/// analysis, so the expansions outlive the chains that borrow from them.
#[derive(Default)]
struct Expansions {
    by_call: HashMap<*const Call, Expansion>,
    /// For each call written in a rule or a plain macro: the label that
    /// says whose body a finding lies in, and with what arguments.
    notes: HashMap<(FileId, Span), String>,
}

struct Expansion {
    body: Box<Expr>,
    /// The macro's file, where the body's spans lie.
    file: FileId,
    call: Site,
}

/// Calls expanded for the whole rule set, at most: past it, the lint
/// stays quiet about what the rest would have shown.
const EXPANSIONS: usize = 20_000;

impl Expansion {
    /// Where the body's conditions are: the macro's file, shown at the call.
    fn within(&self) -> In {
        In {
            file: self.file,
            call: Some(self.call),
        }
    }
}

impl Expansions {
    fn of(prog: &Program<'_>) -> Expansions {
        let mut out = Expansions::default();
        if prog.macros.values().all(|m| m.item.params.is_empty()) {
            return out;
        }
        for def in &prog.rules {
            for e in def.item.when.iter().chain(&def.item.excepts) {
                out.walk(prog, e, In::file(def.file), 0);
            }
        }
        for def in prog.macros.values() {
            if def.item.params.is_empty() {
                out.walk(prog, &def.item.body, In::file(def.file), 0);
            }
        }
        out
    }

    fn get(&self, c: &Call) -> Option<&Expansion> {
        self.by_call.get(&std::ptr::from_ref(c))
    }

    fn walk(&mut self, prog: &Program<'_>, e: &Expr, at: In, depth: usize) {
        match &e.kind {
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                self.walk(prog, a, at, depth);
                self.walk(prog, b, at, depth);
            }
            ExprKind::Not(a) => self.walk(prog, a, at, depth),
            ExprKind::Value(Operand::Call(c)) => {
                let key = std::ptr::from_ref(c);
                if depth >= MAX_DEPTH
                    || self.by_call.len() >= EXPANSIONS
                    || self.by_call.contains_key(&key)
                {
                    return;
                }
                let Some(def) = prog.macros.get(c.name.name.as_str()) else {
                    return;
                };
                let params = &def.item.params;
                if params.is_empty() || params.len() != c.args.len() {
                    return;
                }
                let Ok(body) = crate::resolve::expand::substitute(def.item, &c.args) else {
                    return;
                };
                let call = at.call.unwrap_or(Site {
                    file: at.file,
                    span: c.span,
                });
                if at.call.is_none() {
                    let note = super::macros::in_the_body(&c.name.name, params, &c.args);
                    self.notes.insert((call.file, call.span), note);
                }
                let body = Box::new(body);
                let inner = In {
                    file: def.file,
                    call: Some(call),
                };
                // The body's calls first: the box keeps its place when
                // moved into the map.
                self.walk(prog, &body, inner, depth + 1);
                self.by_call.insert(
                    key,
                    Expansion {
                        body,
                        file: def.file,
                        call,
                    },
                );
            }
            // Quantifiers' bodies are not analysed; the other tests hold
            // no conditions.
            _ => {}
        }
    }
}

/// Deepest macro nesting (and `or`/`not` nesting) followed.
const MAX_DEPTH: usize = 32;
/// Expression nodes one rule's analysis may visit.
const BUDGET: usize = 20_000;

impl Contra<'_, '_, '_> {
    /// Takes one unit of the budget; `false` once it is spent.
    fn spend(&self) -> bool {
        let left = self.budget.get();
        self.budget.set(left.saturating_sub(1));
        left > 0
    }
}

impl<'p, 'a> Contra<'p, 'a, '_> {
    fn rule(&mut self, def: &Def<'a, RuleDecl>) {
        let r = def.item;
        let Some(when) = r.when.first() else { return };
        let at = In::file(def.file);
        let mut chain = Chain::default();
        self.chain(at, when, 0, &mut chain);
        let when_false = self.analyse(&[], chain, 0);
        for e in &r.excepts {
            let mut ex = Chain::default();
            self.chain(at, e, 0, &mut ex);
            if contradiction(&ex.atoms, 0).is_some() || when_false {
                // Contradictory on its own: the analysis below reports it.
                self.analyse(&[], ex, 0);
                continue;
            }
            let mut when_atoms = Chain::default();
            self.chain(at, when, 0, &mut when_atoms);
            let ctx = when_atoms.atoms;
            let mut all = ctx.clone();
            all.extend(ex.atoms.iter().cloned());
            if let Some((i, involved)) = contradiction(&all, ctx.len()) {
                let a = &all[i];
                let mut d = Diagnostic::new(
                    Code::DeadExcept,
                    a.file,
                    a.span,
                    "this `except` can never apply",
                )
                .label(format!(
                    "never true where `when` holds: {}",
                    explain(&all, i)
                ));
                for j in involved {
                    let label = if j < ctx.len() {
                        "required by `when`"
                    } else {
                        "in the `except`"
                    };
                    d = self.label(d, a, &all[j], label);
                }
                let d = self.at_call(d, a.call);
                self.diags.push(d.help(
                    "every event the rule fires on fails this test, so the exception excludes nothing; fix or remove it",
                ));
            } else {
                self.analyse(&[], ex, 0);
            }
        }
    }

    /// Reports contradictions in `chain` (given the tests `ctx` that hold
    /// around it) and in the conditions nested in it. Returns whether the
    /// chain itself is always false.
    fn analyse<'e>(&mut self, ctx: &[Atom<'e>], chain: Chain<'e>, depth: usize) -> bool
    where
        'a: 'e,
        'p: 'e,
    {
        let mut all = ctx.to_vec();
        all.extend(chain.atoms);
        if let Some((i, involved)) = contradiction(&all, ctx.len()) {
            let a = &all[i];
            // Around an alternative of an `or` (or inside a `not`), the
            // tests of the enclosing `and` hold too.
            let msg = if ctx.is_empty() {
                "this condition is always false"
            } else {
                "this test can never be true here"
            };
            let mut d = Diagnostic::new(Code::ConstantCondition, a.file, a.span, msg)
                .label(explain(&all, i));
            for j in &involved {
                d = self.label(d, a, &all[*j], "contradicted by this test");
            }
            let d = self.at_call(d, a.call);
            let help = match involved.as_slice() {
                [j] if !all[*j].negated
                    && !a.negated
                    && all[*j].vals.len() == 1
                    && a.vals.len() == 1 =>
                {
                    let vals: Vec<String> = all[*j]
                        .vals
                        .set()
                        .iter()
                        .chain(a.vals.set())
                        .map(|v| v.to_string())
                        .collect();
                    format!(
                        "a field holds one value; to accept either, write `{} in [{}]`",
                        a.field,
                        vals.join(", ")
                    )
                }
                _ => "no value passes all these tests together; fix or remove one of them".into(),
            };
            self.diags.push(d.help(help));
            return true;
        }
        if depth >= MAX_DEPTH {
            return false;
        }
        for (at, e) in chain.rest {
            let mut branches = Vec::new();
            match &e.kind {
                ExprKind::Or(..) => self.or_branches(at, e, 0, &mut branches),
                ExprKind::Not(inner) => branches.push((at, &**inner)),
                _ => {}
            }
            self.tautology(at, e);
            for (bf, b) in branches {
                let mut c = Chain::default();
                self.chain(bf, b, 0, &mut c);
                self.analyse(&all, c, depth + 1);
            }
        }
        false
    }

    /// Flattens `a and b and macro ...` into field tests and other conditions.
    fn chain<'e>(&self, at: In, e: &'e Expr, depth: usize, out: &mut Chain<'e>)
    where
        'a: 'e,
        'p: 'e,
    {
        if !self.spend() {
            return;
        }
        match &e.kind {
            ExprKind::And(a, b) => {
                self.chain(at, a, depth, out);
                self.chain(at, b, depth, out);
            }
            ExprKind::Value(Operand::Path(p)) if depth < MAX_DEPTH => {
                match p
                    .as_name()
                    .and_then(|n| self.prog.macros.get(n.name.as_str()))
                {
                    Some(m) => self.chain(In::file(m.file), &m.item.body, depth + 1, out),
                    None => out.rest.push((at, e)),
                }
            }
            ExprKind::Value(Operand::Call(c)) if depth < MAX_DEPTH => {
                match self.expansions.get(c) {
                    Some(x) => self.chain(x.within(), &x.body, depth + 1, out),
                    None => out.rest.push((at, e)),
                }
            }
            _ => match self.atom(at, e) {
                Some(a) => out.atoms.push(a),
                None => out.rest.push((at, e)),
            },
        }
    }

    fn or_branches<'e>(&self, at: In, e: &'e Expr, depth: usize, out: &mut Vec<(In, &'e Expr)>)
    where
        'a: 'e,
        'p: 'e,
    {
        if !self.spend() {
            return;
        }
        match &e.kind {
            ExprKind::Or(a, b) => {
                self.or_branches(at, a, depth, out);
                self.or_branches(at, b, depth, out);
            }
            ExprKind::Value(Operand::Path(p)) if depth < MAX_DEPTH => {
                match p
                    .as_name()
                    .and_then(|n| self.prog.macros.get(n.name.as_str()))
                {
                    Some(m) => self.or_branches(In::file(m.file), &m.item.body, depth + 1, out),
                    None => out.push((at, e)),
                }
            }
            ExprKind::Value(Operand::Call(c)) if depth < MAX_DEPTH => {
                match self.expansions.get(c) {
                    Some(x) => self.or_branches(x.within(), &x.body, depth + 1, out),
                    None => out.push((at, e)),
                }
            }
            _ => out.push((at, e)),
        }
    }

    /// A label at `b`, a test involved in a diagnostic about test `a`: in
    /// the body of a macro, or at its call when `b` comes from another
    /// call than `a` (the body's text there is not what the call means).
    fn label(&self, d: Diagnostic, a: &Atom<'_>, b: &Atom<'_>, msg: &str) -> Diagnostic {
        match b.call {
            Some(site) if a.call != b.call => {
                let name = self.called(site);
                d.with_label(
                    site.file,
                    site.span,
                    format!("{msg}, in this call of `{name}`"),
                )
            }
            _ => d.with_label(b.file, b.span, msg),
        }
    }

    /// `d`, about test `a`: if `a` comes from a call's expansion, shown at
    /// the call first (as the checker shows what it finds in a call),
    /// with the test in the macro's body second.
    fn at_call(&self, d: Diagnostic, call: Option<Site>) -> Diagnostic {
        let Some(site) = call else { return d };
        let name = self.called(site);
        let note = (self.expansions.notes.get(&(site.file, site.span)).cloned())
            .unwrap_or_else(|| format!("in the body of macro `{name}`"));
        super::macros::at_call(d, site.file, site.span, name, &note, |_| true)
    }

    /// The name of the macro called at `site`, from its text.
    fn called(&self, site: Site) -> &str {
        let text = self.prog_text(site.file);
        let call = text.get(site.span.start..site.span.end).unwrap_or("");
        call.split('(').next().unwrap_or(call).trim()
    }

    /// `P or not P` (as written) is always true: `not` negates the whole test.
    fn tautology(&mut self, at: In, e: &Expr) {
        if !matches!(e.kind, ExprKind::Or(..)) {
            return;
        }
        let mut branches = Vec::new();
        self.or_branches(at, e, 0, &mut branches);
        if branches.len() > 256 {
            return; // compared pairwise; leave giant disjunctions alone
        }
        // In an expansion the body's text is not what the call means (an
        // argument is where its parameter was written): compare the
        // conditions as printed then.
        let expanded = branches.iter().any(|(at, e)| {
            at.call.is_some()
                || matches!(&e.kind, ExprKind::Not(i) if matches!(&i.kind,
                    ExprKind::Value(Operand::Call(c)) if self.expansions.get(c).is_some()))
        });
        let text = |at: In, x: &Expr| -> String {
            if expanded {
                let s = x.to_string();
                let s = s.trim();
                return s
                    .strip_prefix('(')
                    .and_then(|t| t.strip_suffix(')'))
                    .unwrap_or(s)
                    .to_string();
            }
            let src = self.prog_text(at.file);
            let s = src.get(x.span.start..x.span.end).unwrap_or("");
            let s = s.trim();
            let s = s
                .strip_prefix('(')
                .and_then(|t| t.strip_suffix(')'))
                .unwrap_or(s);
            s.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        let mut found = None;
        for (nf, n) in &branches {
            let ExprKind::Not(inner) = &n.kind else {
                continue;
            };
            // `not m(a)`: the call's expansion, as its alternatives are.
            let mut inner: &Expr = inner;
            let mut inner_at = *nf;
            for _ in 0..MAX_DEPTH {
                let ExprKind::Value(Operand::Call(c)) = &inner.kind else {
                    break;
                };
                let Some(x) = self.expansions.get(c) else {
                    break;
                };
                (inner, inner_at) = (&x.body, x.within());
            }
            let want = text(inner_at, inner);
            if let Some((pf, p)) = branches
                .iter()
                .find(|(pf, p)| !std::ptr::eq(*p, *n) && text(*pf, p) == want)
            {
                found = Some((*nf, n.span, want, *pf, p.span));
                break;
            }
        }
        if let Some((nf, nspan, want, pf, pspan)) = found {
            let d = Diagnostic::new(
                Code::ConstantCondition,
                nf.file,
                nspan,
                "this condition is always true",
            )
            .label(format!("the negation of `{want}`"));
            let d = match pf.call {
                Some(site) if pf.call != nf.call => {
                    let name = self.called(site);
                    d.with_label(
                        site.file,
                        site.span,
                        format!("this test, in this call of `{name}`"),
                    )
                }
                _ => d.with_label(pf.file, pspan, "this test"),
            };
            let d = self.at_call(d, nf.call);
            self.diags.push(
                d.help("`P or not P` holds for every event; drop both, or fix the one you meant"),
            );
        }
    }

    fn prog_text(&self, file: FileId) -> &str {
        self.sources.get(file).text()
    }

    /// A field test against literals, if `e` is one on a string, int or
    /// bool field (whose equality is exact).
    fn atom<'e>(&self, at: In, e: &'e Expr) -> Option<Atom<'e>>
    where
        'a: 'e,
        'p: 'e,
    {
        let (negated, field, vals) = match &e.kind {
            ExprKind::Compare {
                op: op @ (CmpOp::Eq | CmpOp::Ne),
                lhs,
                rhs,
            } => {
                let (p, l) = match (lhs, rhs) {
                    (Operand::Path(p), Operand::Lit(l)) | (Operand::Lit(l), Operand::Path(p)) => {
                        (p, l)
                    }
                    _ => return None,
                };
                (*op == CmpOp::Ne, p, std::slice::from_ref(l))
            }
            ExprKind::In {
                negated,
                lhs: Operand::Path(p),
                rhs,
            } => {
                let items = match rhs {
                    Operand::Lit(Literal {
                        kind: LitKind::List(items),
                        ..
                    }) => items.as_slice(),
                    Operand::Path(l) => {
                        let name = l.as_name()?;
                        let def = self.prog.lists.get(name.name.as_str())?;
                        // An empty `fill list` is no contradiction: its
                        // rules are inactive until a site fills it.
                        if def.unfilled() {
                            return None;
                        }
                        def.items.as_ref()
                    }
                    _ => return None,
                };
                (*negated, p, items)
            }
            _ => return None,
        };
        let ty = self.field_ty(field)?;
        let mut items = Vec::with_capacity(vals.len());
        for l in vals {
            items.push(match (&ty, &l.kind) {
                (Ty::String, LitKind::Str(s)) => Val::Str(&s.value),
                (Ty::Int, LitKind::Int(i)) => Val::Int(*i),
                (Ty::Bool, LitKind::Bool(b)) => Val::Bool(*b),
                _ => return None,
            });
        }
        Some(Atom {
            field: dotted(field)?,
            file: at.file,
            span: e.span,
            call: at.call,
            negated,
            vals: Rc::new(Vals {
                items,
                set: Default::default(),
            }),
        })
    }

    /// The type of an event field written as plain names, if it is a
    /// string, int or bool (not free-form JSON, not a list or name).
    fn field_ty(&self, p: &Path) -> Option<Ty> {
        if let Some(n) = p.as_name() {
            if self.prog.lists.contains_key(n.name.as_str())
                || self.prog.macros.contains_key(n.name.as_str())
            {
                return None;
            }
        }
        let f = self.schema.field_at(&dotted(p)?)?;
        matches!(f.ty, Ty::String | Ty::Int | Ty::Bool).then(|| f.ty.clone())
    }
}

fn dotted(p: &Path) -> Option<String> {
    let mut s = p.root.name.clone();
    for seg in &p.segments {
        match &seg.kind {
            SegKind::Field { name, .. } => {
                s.push('.');
                s.push_str(name);
            }
            SegKind::Index(_) => return None,
        }
    }
    Some(s)
}

/// The first test, at or after `first_new`, after which no value of its
/// field passes every test so far; with the earlier tests of that field.
fn contradiction(atoms: &[Atom], first_new: usize) -> Option<(usize, Vec<usize>)> {
    /// Per field: the values every positive test allows, those a negated
    /// test excludes, and the tests seen.
    type State<'s, 'v> = (Option<Allowed<'s, 'v>>, Vec<&'s Vals<'v>>, Vec<usize>);
    let mut fields: BTreeMap<&str, State<'_, '_>> = BTreeMap::new();
    for (i, a) in atoms.iter().enumerate() {
        let (allowed, excluded, seen) = fields.entry(&a.field).or_default();
        if a.negated {
            excluded.push(&a.vals);
        } else {
            *allowed = Some(Allowed::and(allowed.take(), &a.vals));
        }
        let empty = allowed
            .as_ref()
            .is_some_and(|s| s.iter().all(|v| excluded.iter().any(|x| x.contains(v))));
        if empty {
            if i < first_new {
                return None;
            }
            return Some((i, seen.clone()));
        }
        seen.push(i);
    }
    None
}

/// The values the positive tests of a field allow together: the first
/// test's own set until a second narrows it (a list of a million values is
/// then not copied).
enum Allowed<'s, 'v> {
    One(&'s Vals<'v>),
    Both(HashSet<&'s Val<'v>>),
}

impl<'s, 'v> Allowed<'s, 'v> {
    fn and(prev: Option<Self>, vals: &'s Vals<'v>) -> Self {
        match prev {
            None => Allowed::One(vals),
            Some(prev) => Allowed::Both(prev.iter().filter(|v| vals.contains(v)).collect()),
        }
    }

    fn iter(&self) -> Box<dyn Iterator<Item = &'s Val<'v>> + '_> {
        match self {
            Allowed::One(s) => Box::new(s.items.iter()),
            Allowed::Both(s) => Box::new(s.iter().copied()),
        }
    }
}

/// Why test `i` cannot hold with the earlier ones.
fn explain(atoms: &[Atom], i: usize) -> String {
    let a = &atoms[i];
    let mut allowed: Option<Allowed> = None;
    let mut excluded: HashSet<&Val> = HashSet::new();
    for b in atoms[..i].iter().filter(|b| b.field == a.field) {
        if b.negated {
            excluded.extend(b.vals.set());
        } else {
            allowed = Some(Allowed::and(allowed, &b.vals));
        }
    }
    if !a.negated && a.vals.items.is_empty() {
        return format!("no value of `{}` is in an empty list", a.field);
    }
    let left: Option<Vec<&Val>> =
        allowed.map(|s| s.iter().filter(|v| !excluded.contains(v)).collect());
    match left {
        Some(left) if !left.is_empty() && !a.negated => format!(
            "`{}` is already {}, so it cannot be {}",
            a.field,
            either(left),
            either(a.vals.set().iter().collect())
        ),
        Some(left) if !left.is_empty() => format!(
            "`{}` is already {}, which this excludes",
            a.field,
            either(left)
        ),
        _ => format!("with the tests marked, no value of `{}` passes", a.field),
    }
}

/// `"a" or "b"`, in order; a long list by its first values and a count of
/// the rest.
fn either(mut vals: Vec<&Val>) -> String {
    const SHOWN: usize = 8;
    vals.sort_unstable();
    vals.dedup();
    let n = vals.len();
    let mut out: Vec<String> = vals.into_iter().take(SHOWN).map(Val::to_string).collect();
    if n > SHOWN {
        out.push(format!("{} other values", n - SHOWN));
    }
    out.join(" or ")
}

// ---------------------------------------------------------------------------
// literal-regex

/// What a regex that is really a plain string can be written as: the
/// operator (`==` or a string test) and the literal.
pub(crate) fn literal_regex(pattern: &str, ci: bool) -> Option<(&'static str, String)> {
    let (start, rest) = match pattern.strip_prefix('^') {
        Some(r) => (true, r),
        None => (false, pattern),
    };
    // A final `$` is an anchor unless an odd run of backslashes escapes it.
    let (end, body) = match rest.strip_suffix('$') {
        Some(b) if (b.len() - b.trim_end_matches('\\').len()) % 2 == 0 => (true, b),
        _ => (false, rest),
    };
    let mut lit = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let n = chars.next()?;
                // Only escaped punctuation stands for itself (`\d`, `\b`,
                // `\n` are classes, assertions or escapes; so are `\<`, `\>`).
                if !n.is_ascii_punctuation() || n == '<' || n == '>' {
                    return None;
                }
                lit.push(n);
            }
            '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' => {
                return None
            }
            c if c.is_whitespace() && c != ' ' => return None,
            c => lit.push(c),
        }
    }
    // Case-insensitive regexes fold case by Unicode rules, `icontains`
    // compares lower-case forms; they differ on non-ASCII letters and on
    // `k` and `s` (`(?i)k` matches the Kelvin sign, `(?i)s` the long s).
    if lit.is_empty() || (ci && (!lit.is_ascii() || lit.contains(['k', 'K', 's', 'S']))) {
        return None;
    }
    let op = match (start, end, ci) {
        (true, true, false) => "==",
        (true, true, true) => return None,
        (true, false, false) => "startswith",
        (true, false, true) => "istartswith",
        (false, true, false) => "endswith",
        (false, true, true) => "iendswith",
        (false, false, false) => "contains",
        (false, false, true) => "icontains",
    };
    Some((op, lit))
}

// ---------------------------------------------------------------------------
// Suppressions

/// One `# ward:allow...` comment.
struct Allow {
    file: FileId,
    /// Where it applies: a whole file, or one item's span.
    scope: Option<Span>,
    /// The codes it names, each with its span in the comment.
    codes: Vec<(Code, Span)>,
    used: Vec<bool>,
}

/// Removes the warnings that a suppression comment covers, and reports
/// malformed and unused suppressions.
pub(crate) fn suppress(loaded: &Loaded, opts: &Options<'_>, diags: &mut Vec<Diagnostic>) {
    let mut allows = Vec::new();
    let mut found = Vec::new();
    for (file, f) in &loaded.files {
        let text = loaded.sources.get(*file).text();
        let spans = crate::syntax::comments(text);
        let items: Vec<Span> = f
            .items
            .iter()
            .filter_map(|i| match i {
                Item::List(l) => Some(l.span),
                // A macro ends with its condition, whose span takes in the
                // blank lines and comments after it: the comment above the
                // next item is not inside the macro.
                Item::Macro(m) => Some(without_trailing(text, m.span, &spans)),
                Item::Rule(r) | Item::Tune(r) => Some(r.span),
                Item::Extend(e) => Some(e.span),
                Item::Source(_) | Item::Import(_) => None,
            })
            .collect();
        for (start, comment) in comments(text) {
            parse_allow(*file, start, comment, &items, &mut allows, &mut found);
        }
    }
    diags.retain(|d| {
        if d.severity() != Severity::Warning {
            return true;
        }
        let mut hit = false;
        for a in allows.iter_mut().filter(|a| a.file == d.file()) {
            if a.scope
                .is_some_and(|s| !(s.start <= d.span().start && d.span().end <= s.end))
            {
                continue;
            }
            for (k, (code, _)) in a.codes.iter().enumerate() {
                if *code == d.code {
                    a.used[k] = true;
                    hit = true;
                }
            }
        }
        !hit
    });
    for a in &allows {
        for (k, (code, span)) in a.codes.iter().enumerate() {
            if !a.used[k] && opts.enabled(*code, &loaded.sources.get(a.file).path) {
                found.push(
                    Diagnostic::new(
                        Code::UnusedSuppression,
                        a.file,
                        *span,
                        format!("nothing here triggers {} {}", code.as_str(), code.name()),
                    )
                    .label("this suppression is not needed")
                    .help("remove it, so it cannot hide a future finding"),
                );
            }
        }
    }
    diags.extend(found);
}

/// `span` without the spaces and comments at its end.
fn without_trailing(text: &str, span: Span, comments: &[std::ops::Range<usize>]) -> Span {
    let mut end = span.end;
    loop {
        let kept = text.get(span.start..end).unwrap_or("").trim_end();
        end = span.start + kept.len();
        match comments
            .iter()
            .find(|c| c.start >= span.start && c.start < end && end <= c.end)
        {
            Some(c) => end = c.start,
            None => return Span::new(span.start, end),
        }
    }
}

fn parse_allow(
    file: FileId,
    start: usize,
    comment: &str,
    items: &[Span],
    allows: &mut Vec<Allow>,
    diags: &mut Vec<Diagnostic>,
) {
    let body = comment.trim_start_matches('#');
    let lead = comment.len() - body.len() + (body.len() - body.trim_start().len());
    let body = body.trim_start();
    let Some(after) = body.strip_prefix("ward:") else {
        return;
    };
    let whole = Span::new(start, start + comment.trim_end().len());
    let bad = |msg: String, label: &str| {
        Diagnostic::new(Code::BadSuppression, file, whole, msg)
            .label(label.to_string())
            .help("write `# ward:allow(unused-definition) reason: ...` before a list, macro or rule, or `# ward:allow-file(...) reason: ...` for the whole file")
    };
    let (file_wide, args) = if let Some(a) = after.strip_prefix("allow-file(") {
        (true, a)
    } else if let Some(a) = after.strip_prefix("allow(") {
        (false, a)
    } else {
        diags.push(bad(
            "unknown `ward:` comment".into(),
            "not `ward:allow(...)` or `ward:allow-file(...)`",
        ));
        return;
    };
    let Some(close) = args.find(')') else {
        diags.push(bad("unclosed `(`".into(), "expected `)` after the codes"));
        return;
    };
    // Offset of `args` in the file.
    let args_at = start + lead + (body.len() - args.len());
    let mut codes = Vec::new();
    let mut at = 0;
    for part in args[..close].split(',') {
        let name = part.trim();
        let off = args_at + at + (part.len() - part.trim_start().len());
        at += part.len() + 1;
        let span = Span::new(off, off + name.len());
        let code = Code::ALL
            .iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name) || c.name() == name);
        match code {
            None => diags.push(
                Diagnostic::new(
                    Code::BadSuppression,
                    file,
                    span,
                    format!("unknown diagnostic `{name}`"),
                )
                .label("not a code or name from spec/diagnostics.md")
                .help("name a warning by code (`W010`) or by name (`unused-definition`)"),
            ),
            Some(c) if c.severity() == Severity::Error => diags.push(
                Diagnostic::new(
                    Code::BadSuppression,
                    file,
                    span,
                    format!(
                        "{} {} is an error and cannot be suppressed",
                        c.as_str(),
                        c.name()
                    ),
                )
                .label("only warnings can be allowed")
                .help("fix the error; an error means the rule cannot work"),
            ),
            Some(c @ (Code::BadSuppression | Code::UnusedSuppression)) => diags.push(
                Diagnostic::new(
                    Code::BadSuppression,
                    file,
                    span,
                    format!("{} {} cannot be suppressed", c.as_str(), c.name()),
                )
                .label("fix the suppression instead"),
            ),
            Some(c) => codes.push((*c, span)),
        }
    }
    let reason = args[close + 1..].trim();
    let reason = reason
        .strip_prefix("reason:")
        .map(str::trim)
        .unwrap_or_default();
    if reason.is_empty() {
        diags.push(bad(
            "a suppression needs a reason".into(),
            "add `reason: <why this is fine>` after the codes",
        ));
    }
    let scope = if file_wide {
        None
    } else {
        // The item the comment sits in, or else the next one.
        let inside = items.iter().find(|s| s.start <= start && start < s.end);
        let next = items.iter().find(|s| s.start >= start);
        match inside.or(next) {
            Some(s) => Some(*s),
            None => {
                diags.push(bad(
                    "this suppression applies to nothing".into(),
                    "no list, macro or rule follows it",
                ));
                return;
            }
        }
    };
    let used = vec![false; codes.len()];
    allows.push(Allow {
        file,
        scope,
        codes,
        used,
    });
}

/// Every `#` comment in a file, with its byte offset.
pub(crate) fn comments(text: &str) -> Vec<(usize, &str)> {
    crate::syntax::comments(text)
        .into_iter()
        .map(|r| (r.start, &text[r]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_skip_strings() {
        let t = "a \"#x\" # one\nr\"\\\" # two\n\"\\\"#\" b # three";
        let got: Vec<&str> = comments(t).into_iter().map(|(_, c)| c).collect();
        assert_eq!(got, ["# one", "# two", "# three"]);
    }

    #[test]
    fn literal_regexes() {
        assert_eq!(literal_regex("^foo$", false), Some(("==", "foo".into())));
        assert_eq!(literal_regex("^foo$", true), None);
        assert_eq!(
            literal_regex("^/api", false),
            Some(("startswith", "/api".into()))
        );
        assert_eq!(
            literal_regex(r"\.exe$", true),
            Some(("iendswith", ".exe".into()))
        );
        assert_eq!(
            literal_regex("^/tmp/", true),
            Some(("istartswith", "/tmp/".into()))
        );
        assert_eq!(literal_regex("sh$", true), None, "(?i)s matches the long s");
        assert_eq!(literal_regex(r"\<word", false), None, "a word boundary");
        assert_eq!(
            literal_regex("miner", false),
            Some(("contains", "miner".into()))
        );
        for not in [
            "a.b", r"\d", "a|b", "(a)", "a*", "^$", "", r"\bword", "x{2}", "[ab]",
        ] {
            assert_eq!(literal_regex(not, false), None, "{not}");
        }
        assert_eq!(
            literal_regex(r"a\\$", false),
            Some(("endswith", "a\\".into()))
        );
        assert_eq!(
            literal_regex(r"a\$", false),
            Some(("contains", "a$".into()))
        );
        assert_eq!(
            literal_regex(r"^a\\\$", false),
            Some(("startswith", "a\\$".into()))
        );
    }
}

//! Checking: every rule against the schema of its source. Rule-level checks
//! (source, metadata, clauses) live here; conditions in `expr`, field paths
//! and narrowing in `path`, function calls in `call`.

pub mod attack;
mod call;
mod clause;
mod expr;
pub mod lint;
mod macros;
mod path;
pub mod suggest;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::diagnostic::{Code, Diagnostic, FileId, SourceMap};
use crate::load::Loaded;
use crate::resolve::{Def, Program};
use crate::schema::{Schema, Schemas, Ty};
use crate::syntax::ast::*;

pub use lint::Options;
pub use path::Facts;

/// Statuses a rule may declare (Sigma's).
pub const STATUSES: [&str; 4] = ["experimental", "test", "stable", "deprecated"];

/// `2024-05-01` or `2024/05/01`, a real day of the Gregorian calendar.
fn is_day(s: &str) -> bool {
    let parts: Vec<&str> = s.split(['-', '/']).collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    let num = |t: &str, len: usize| {
        (t.len() == len && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse::<u32>().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(y, 4), num(m, 2), num(d, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// Severities a rule may declare, lowest first.
pub const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

/// The metadata keys a rule may hold (for editors' completion).
pub fn meta_keys() -> impl Iterator<Item = &'static str> {
    META.iter().map(|(k, _)| *k)
}

/// Metadata keys and the kind of value each takes.
const META: [(&str, MetaKind); 13] = [
    ("id", MetaKind::Str),
    ("status", MetaKind::Status),
    ("date", MetaKind::Date),
    ("modified", MetaKind::Date),
    ("false_positives", MetaKind::Tags),
    ("title", MetaKind::Str),
    ("description", MetaKind::Str),
    ("severity", MetaKind::Severity),
    ("tags", MetaKind::Tags),
    ("references", MetaKind::Tags),
    ("author", MetaKind::Str),
    ("enabled", MetaKind::Bool),
    ("response", MetaKind::Str),
];

#[derive(Clone, Copy, PartialEq)]
enum MetaKind {
    Str,
    Severity,
    /// experimental, test, stable, deprecated (Sigma's statuses).
    Status,
    /// A day, `2024-05-01` (Sigma's `2024/05/01` too).
    Date,
    Tags,
    Bool,
}

impl MetaKind {
    fn describe(self) -> &'static str {
        match self {
            MetaKind::Str => "a string",
            MetaKind::Severity => "one of info, low, medium, high, critical",
            MetaKind::Status => "one of experimental, test, stable, deprecated",
            MetaKind::Date => "a day as a string, \"2024-05-01\"",
            MetaKind::Tags => "a list `[...]`",
            MetaKind::Bool => "true or false",
        }
    }
}

/// What a check found.
#[derive(Debug)]
pub struct Report {
    /// Every diagnostic (load, parse, resolve, check), sorted by place.
    pub diagnostics: Vec<Diagnostic>,
    pub rules: usize,
    /// Rules inactive until the `fill list`s they read are filled, each
    /// with those lists' names.
    pub inactive: Vec<(String, Vec<String>)>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity() == crate::Severity::Error)
            .count()
    }
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Reads nothing: checks what `loaded` holds, with the lints that need
/// only the rule text.
pub fn check(loaded: &Loaded, schemas: &Schemas) -> Report {
    check_with(loaded, schemas, &Options::default())
}

/// [`check`] with the lints `opts` turns on (`ward check` turns on all).
pub fn check_with(loaded: &Loaded, schemas: &Schemas, opts: &Options<'_>) -> Report {
    check_on(loaded, schemas, opts, crate::threads::available())
}

/// [`check_with`] on at most `threads` threads.
pub(crate) fn check_on(
    loaded: &Loaded,
    schemas: &Schemas,
    opts: &Options<'_>,
    threads: usize,
) -> Report {
    let mut diags = loaded.diags.clone();
    let prog = Program::resolve(loaded, &mut diags);
    let mut ck = Checker::new(&prog, schemas, &loaded.sources, diags);
    ck.rules(&prog.rules, threads);
    for rule in &prog.rules {
        ck.tunes(rule);
    }
    ck.generic_macros();
    ck.unused();
    let mut diags = ck.diags;
    lint::program(&prog, schemas, opts, loaded, &mut diags);
    diags.sort_by_key(|d| (d.file(), d.span(), d.code));
    diags.dedup();
    lint::suppress(loaded, opts, &mut diags);
    diags.sort_by_key(|d| (d.file(), d.span(), d.code));
    let inactive = (prog.rules.iter())
        .filter(|r| {
            !matches!(
                prog.meta(r.item, "enabled"),
                Some(MetaValue::Bool(false, _))
            )
        })
        .filter_map(|r| {
            let lists = prog.unfilled_lists(r.item);
            let names = lists.into_iter().map(str::to_string).collect::<Vec<_>>();
            (!names.is_empty()).then(|| (r.item.name.name.clone(), names))
        })
        .collect();
    Report {
        diagnostics: diags,
        rules: prog.rules.len(),
        inactive,
    }
}

pub(crate) struct Checker<'a> {
    pub(crate) prog: &'a Program<'a>,
    schemas: &'a Schemas,
    pub(crate) sources: &'a SourceMap,
    pub(crate) diags: Vec<Diagnostic>,
    /// Lists and macros some rule reached.
    pub(crate) used: HashSet<&'a str>,
    /// Where a macro body reads a caller's variable (`E017`): file and
    /// offset of the name.
    pub(crate) captured: HashSet<(FileId, usize)>,
    /// Whether each regex or glob compiles, by (text, glob, case
    /// insensitive): a list of patterns is read by every rule that tests
    /// it, and compiling one is most of the cost of a check.
    pub(crate) patterns: HashMap<(String, bool, bool), Result<(), String>>,
}

/// Rule sets of this many rules or more are checked on several threads.
const PARALLEL_RULES: usize = 128;

impl<'a> Checker<'a> {
    fn new(
        prog: &'a Program<'a>,
        schemas: &'a Schemas,
        sources: &'a SourceMap,
        diags: Vec<Diagnostic>,
    ) -> Checker<'a> {
        Checker {
            prog,
            schemas,
            sources,
            diags,
            used: HashSet::new(),
            captured: HashSet::new(),
            patterns: HashMap::new(),
        }
    }

    /// Checks `rules`, side by side on up to `threads` threads when there
    /// are many. Rules are checked independently; what they find is merged
    /// here, and the caller sorts the diagnostics, so the report is the
    /// one of checking them in order.
    fn rules(&mut self, rules: &[Def<'a, RuleDecl>], threads: usize) {
        let threads = crate::threads::for_items(rules.len(), PARALLEL_RULES, threads);
        let (prog, schemas, sources) = (self.prog, self.schemas, self.sources);
        let parts = crate::threads::parts(rules, threads);
        let found = crate::threads::map(&parts, threads, |part| {
            let mut ck = Checker::new(prog, schemas, sources, Vec::new());
            part.iter().for_each(|r| ck.rule(r));
            (ck.diags, ck.used, ck.captured)
        });
        for (diags, used, captured) in found {
            self.diags.extend(diags);
            self.used.extend(used);
            self.captured.extend(captured);
        }
    }

    fn schema_for(
        &mut self,
        file: FileId,
        span: Span,
        source: Option<&Ident>,
    ) -> Option<&'a Schema> {
        let Some(source) = source else {
            self.diags.push(
                Diagnostic::new(Code::UnknownSource, file, span, "no source for this rule")
                    .label("which events does this read?")
                    .help(format!(
                        "add `source k8s.audit` at the top of the file or inside the rule; sources: {}",
                        self.schemas.names().collect::<Vec<_>>().join(", ")
                    )),
            );
            return None;
        };
        if let Some(s) = self.schemas.get(&source.name) {
            return Some(s);
        }
        let mut d = Diagnostic::new(
            Code::UnknownSource,
            file,
            source.span,
            format!("unknown source `{}`", source.name),
        )
        .label("no schema for this source");
        d = match suggest::closest(&source.name, self.schemas.names()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!(
                "sources: {}",
                self.schemas.names().collect::<Vec<_>>().join(", ")
            )),
        };
        self.diags.push(d);
        None
    }

    fn rule(&mut self, def: &Def<'a, RuleDecl>) {
        let r = def.item;
        let file = def.file;
        self.meta(file, r);
        let source = r.source.as_ref().or(def.source);
        let Some(schema) = self.schema_for(file, r.name.span, source) else {
            return;
        };

        match (r.when.as_slice(), &r.sequence) {
            ([], None) => self.diags.push(
                Diagnostic::new(
                    Code::BadRule,
                    file,
                    r.name.span,
                    format!("rule `{}` has no `when`", r.name.name),
                )
                .label("this rule can never match")
                .help("add `when <condition>`, or a `sequence { ... }` of steps"),
            ),
            ([_, second, ..], _) => self.diags.push(
                Diagnostic::new(Code::BadRule, file, second.span, "a rule has one `when`")
                    .label("second `when`")
                    .help("join the conditions with `and`"),
            ),
            _ => {}
        }

        // Facts from `when` hold everywhere in the rule: in `except`, in
        // the output, in stateful keys.
        let facts = r
            .when
            .first()
            .map(|w| self.facts(file, w))
            .unwrap_or_default();
        let mut cx = expr::Cx::new(self, schema, file, facts);
        cx.opt_in_allowed = matches!(
            r.meta("enabled").map(|m| &m.value),
            Some(MetaValue::Bool(false, _))
        );
        for w in &r.when {
            cx.condition(w);
        }
        for e in &r.excepts {
            cx.condition(e);
        }
        if let Some(out) = &r.output {
            cx.template(out);
        }
        if let Some(c) = &r.count {
            cx.count(c);
        }
        if let Some(s) = &r.sequence {
            cx.sequence(s);
        }
    }

    /// Checks the `tune rule` items of `def`: their `except`s against the
    /// rule's source (with the guards of its `when`), and that they set
    /// nothing but `except`, `enabled` and `severity`.
    fn tunes(&mut self, def: &Def<'a, RuleDecl>) {
        let Some(tunes) = self.prog.tunes.get(def.item.name.name.as_str()) else {
            return;
        };
        let r = def.item;
        let source = r.source.as_ref().or(def.source);
        let schema = source.and_then(|s| self.schemas.get(&s.name));
        for t in tunes {
            let (file, tune) = (t.file, t.item);
            let mut wrong: Vec<(Span, &str)> = Vec::new();
            wrong.extend(tune.when.iter().map(|w| (w.span, "when")));
            wrong.extend(tune.output.iter().map(|o| (o.span, "output")));
            wrong.extend(tune.source.iter().map(|s| (s.span, "source")));
            wrong.extend(tune.count.iter().map(|c| (c.span, "count")));
            wrong.extend(tune.sequence.iter().map(|q| (q.span, "sequence")));
            for m in &tune.meta {
                if !matches!(m.key.name.as_str(), "enabled" | "severity") {
                    wrong.push((m.key.span, m.key.name.as_str()));
                }
            }
            for (span, what) in wrong {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadRule,
                        file,
                        span,
                        format!("a tune cannot set `{what}`"),
                    )
                    .label("not tunable")
                    .help("a `tune rule` adds `except` clauses and sets `enabled` or `severity`; change anything else in a rule of your own"),
                );
            }
            self.meta(file, tune);
            let Some(schema) = schema else { continue };
            let facts = r
                .when
                .first()
                .map(|w| self.facts(def.file, w))
                .unwrap_or_default();
            let mut cx = expr::Cx::new(self, schema, file, facts);
            for e in &tune.excepts {
                cx.condition(e);
            }
        }
    }

    /// Guard facts of a condition, expanding macros.
    fn facts(&self, file: FileId, e: &Expr) -> Facts {
        let mut f = Facts::default();
        path::gather_facts(self.prog, file, e, &mut f, 0);
        f
    }

    /// Reports `w` unless it is one of `allowed` (a severity, a status),
    /// with the nearest as a did-you-mean.
    fn one_of(&mut self, file: FileId, w: &Ident, what: &str, plural: &str, allowed: &[&str]) {
        if allowed.contains(&w.name.as_str()) {
            return;
        }
        let d = Diagnostic::new(
            Code::BadRule,
            file,
            w.span,
            format!("unknown {what} `{}`", w.name),
        )
        .label(format!("not a {what}"));
        self.diags
            .push(match suggest::closest(&w.name, allowed.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("{plural}: {}", allowed.join(", "))),
            });
    }

    fn meta(&mut self, file: FileId, r: &RuleDecl) {
        let mut seen: BTreeMap<&str, Span> = BTreeMap::new();
        for m in &r.meta {
            let key = m.key.name.as_str();
            if let Some(prev) = seen.insert(key, m.key.span) {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadRule,
                        file,
                        m.key.span,
                        format!("`{key}` is set twice"),
                    )
                    .label("second value")
                    .with_label(file, prev, "first value")
                    .help("keep one"),
                );
            }
            let Some((_, kind)) = META.iter().find(|(k, _)| *k == key) else {
                let mut d = Diagnostic::new(
                    Code::UnknownMeta,
                    file,
                    m.key.span,
                    format!("unknown rule entry `{key}`"),
                )
                .label("Ward ignores this");
                d = match suggest::closest(key, META.iter().map(|(k, _)| *k)) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None => d.help(format!(
                        "rule entries: when, except, output, count, sequence, source, {}",
                        META.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
                    )),
                };
                self.diags.push(d);
                continue;
            };
            let ok = match (&m.value, kind) {
                (MetaValue::Str(_), MetaKind::Str) => true,
                (MetaValue::Tags(tags), MetaKind::Tags) => {
                    if key == "tags" {
                        let found = tags.iter().filter_map(|t| attack::check_tag(file, t));
                        self.diags.extend(found);
                    }
                    true
                }
                (MetaValue::Bool(..), MetaKind::Bool) => true,
                (MetaValue::Word(w), MetaKind::Status) => {
                    self.one_of(file, w, "status", "statuses", &STATUSES);
                    true
                }
                (MetaValue::Str(s), MetaKind::Date) => {
                    if !is_day(&s.value) {
                        self.diags.push(
                            Diagnostic::new(
                                Code::BadRule,
                                file,
                                s.span,
                                format!("`{}` is not a day", s.value),
                            )
                            .label("expected YYYY-MM-DD")
                            .help("write the day as \"2024-05-01\""),
                        );
                    }
                    true
                }
                (MetaValue::Word(w), MetaKind::Severity) => {
                    self.one_of(file, w, "severity", "severities", &SEVERITIES);
                    true
                }
                _ => false,
            };
            if !ok {
                self.diags.push(
                    Diagnostic::new(
                        Code::BadRule,
                        file,
                        m.value.span(),
                        format!("`{key}` takes {}", kind.describe()),
                    )
                    .label("wrong kind of value")
                    .help(meta_example(key)),
                );
            }
        }
    }

    /// Each parameterised macro on its own, its parameters of any type:
    /// what is wrong with it whatever the arguments.
    fn generic_macros(&mut self) {
        let prog = self.prog;
        for (name, def) in &prog.macros {
            if def.item.params.is_empty() {
                continue;
            }
            if let Some(schema) = def.source.and_then(|s| self.schemas.get(&s.name)) {
                let facts = self.facts(def.file, &def.item.body);
                let mut cx = expr::Cx::new(self, schema, def.file, facts);
                cx.macro_generic(name, def.item);
            }
        }
    }

    /// Lists and macros no rule uses are still checked, standalone.
    fn unused(&mut self) {
        let prog = self.prog;
        for (name, def) in &prog.macros {
            if self.used.contains(name) || !def.item.params.is_empty() {
                continue;
            }
            if let Some(schema) = def.source.and_then(|s| self.schemas.get(&s.name)) {
                let facts = self.facts(def.file, &def.item.body);
                let mut cx = expr::Cx::new(self, schema, def.file, facts);
                cx.macro_standalone(name, def.item);
            }
        }
        for def in prog.lists.values() {
            expr::list_items(self, def);
        }
        let defs: Vec<(&str, FileId, Span, Option<&Ident>)> = prog
            .lists
            .iter()
            .map(|(n, d)| (*n, d.file, d.item.name.span, d.source))
            .chain(
                prog.macros
                    .iter()
                    .map(|(n, d)| (*n, d.file, d.item.name.span, d.source)),
            )
            .collect();
        for (name, file, span, source) in defs {
            let Some(schema) = source.and_then(|s| self.schemas.get(&s.name)) else {
                continue;
            };
            if schema.root.field(name).is_some() {
                self.diags.push(
                    Diagnostic::new(
                        Code::Shadowing,
                        file,
                        span,
                        format!("`{name}` hides the field `{name}`"),
                    )
                    .label(format!("`{name}` is also a field of {}", schema.source))
                    .help("a bare name means the list or macro, never the field; rename it"),
                );
            }
        }
    }
}

fn meta_example(key: &str) -> String {
    match key {
        "severity" => "write `severity high`".into(),
        "tags" => "write `tags [attack.execution, attack.t1609]`".into(),
        "references" => "write `references [\"https://...\"]`".into(),
        "enabled" => "write `enabled false`".into(),
        "status" => "write `status stable`".into(),
        "date" | "modified" => format!("write `{key} \"2024-05-01\"`"),
        "false_positives" => "write `false_positives [\"backup jobs\"]`".into(),
        _ => format!("write `{key} \"...\"`"),
    }
}

/// Whether two types can be compared with `==` (and be members of one `in`).
pub(crate) fn comparable(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Json, _) | (_, Ty::Json) | (Ty::Null, _) | (_, Ty::Null) => true,
        (x, y) if x.is_stringy() && y.is_stringy() => true,
        (x, y) if x.is_numeric() && y.is_numeric() => true,
        (Ty::Bool, Ty::Bool) | (Ty::Duration, Ty::Duration) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests;

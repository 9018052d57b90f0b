//! Lowering: checked rules to an owned IR with every name resolved: macros
//! expanded, lists inlined, bound variables numbered, regexes, globs and
//! CIDRs compiled. Runs only on a rule set without errors.
//!
//! The IR is what evaluators execute; the shared-predicate planner works on
//! it too, so its semantics (spec/language.md, "Missing, null and empty")
//! are fixed here in the types, not left to each evaluator.

use std::sync::{Arc, OnceLock};

use hashbrown::HashTable;
use regex_automata::meta::Regex;

use crate::func::Func;
use crate::load::Loaded;
use crate::pattern::{self, Cidr};
use crate::resolve::{Def, Program};
use crate::syntax::ast::{
    self, CmpOp, ExprKind, LitKind, Operand as AstOperand, SegKind, StrOp, StrOpKind,
};
use crate::syntax::template::{self, Piece};

/// A rule set ready to run.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    /// The file the rule is written in.
    pub file: crate::diagnostic::FileId,
    pub title: String,
    pub description: String,
    pub severity: String,
    pub tags: Vec<String>,
    pub response: Option<String>,
    /// Provenance metadata: the stable `id` and the `status`, if written.
    pub meta_id: Option<String>,
    pub status: Option<String>,
    pub enabled: bool,
    /// The `fill list`s the rule reads that no file filled: while any is
    /// left, the rule is inactive (not run, and reported once).
    pub unfilled: Vec<String>,
    /// The `tune rule` items applied to the rule (file, span), in load
    /// order: their excepts follow the rule's own, their `enabled` and
    /// `severity` replace the rule's (the last one written wins).
    pub tunes: Vec<(crate::diagnostic::FileId, ast::Span)>,
    /// Macros the rule uses that an `override macro` replaced: name, the
    /// override's place, the original's place.
    pub overrides: Vec<(String, Place, Place)>,
    pub source: String,
    pub when: Cond,
    pub excepts: Vec<Cond>,
    pub output: Vec<OutPiece>,
    /// `count` or `sequence`: evaluated by the stateful operators.
    pub stateful: Option<Stateful>,
    /// Event fields the rule reads, in first-use order, as written.
    pub fields: Vec<(String, FieldPath)>,
    /// The macros the rule uses outside quantifier bodies (directly or
    /// through other macros), each with its lowered body, in first-use
    /// order: what `ward test --coverage` reports per macro use.
    pub macros: Vec<(String, Cond)>,
}

/// A place in the rule files: a file and a span in it.
pub type Place = (crate::diagnostic::FileId, ast::Span);

impl Rule {
    /// Enabled, and every `fill list` it reads filled: the rule runs.
    pub fn active(&self) -> bool {
        self.enabled && self.unfilled.is_empty()
    }
}

/// What a stateful rule keeps per key (spec/language.md, "Stateful rules").
#[derive(Clone, Debug)]
pub enum Stateful {
    Count(Count),
    Sequence(Sequence),
}

/// `count [distinct FIELD] [by KEYS] within DURATION OP N`
#[derive(Clone, Debug)]
pub struct Count {
    pub distinct: Option<Key>,
    pub by: Vec<Key>,
    /// Window length in milliseconds.
    pub within_ms: u64,
    /// `>=` when true, `>` otherwise (the checker rejects the rest).
    pub inclusive: bool,
    pub threshold: u64,
}

impl Count {
    /// The number of events (or distinct values) at which the rule fires.
    pub fn fires_at(&self) -> u64 {
        if self.inclusive {
            self.threshold.max(1)
        } else {
            self.threshold + 1
        }
    }
}

/// `sequence [by KEYS] within DURATION { step: cond [by KEYS] ... until: cond }`
#[derive(Clone, Debug)]
pub struct Sequence {
    pub by: Vec<Key>,
    pub within_ms: u64,
    pub steps: Vec<Step>,
    pub until: Option<Cond>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    /// `not step`: no such event may occur at this point of the sequence.
    pub negated: bool,
    pub when: Cond,
    /// Per-step join keys, compared across steps after the sequence's keys.
    pub by: Vec<Key>,
}

/// A grouping key or counted field: a path and its text as written.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub name: String,
    pub path: FieldPath,
}

#[derive(Clone, Debug)]
pub enum OutPiece {
    Text(String),
    Field(FieldPath),
}

/// A path into the event, or into the element a quantifier bound.
#[derive(Clone, Debug)]
pub struct FieldPath {
    /// `None`: from the event root. `Some(n)`: from the n-th enclosing
    /// quantifier's element (0 = innermost).
    pub var: Option<usize>,
    pub segs: Vec<Seg>,
    /// For a path from the root through keys only: where extraction with
    /// the projection a matcher numbered keeps its value (set by that
    /// matcher; `None` until then). Where the path is found, not what it
    /// is: equality ignores it.
    pub slot: Option<Slot>,
}

/// A path's node in one numbering of a projection
/// ([`crate::plan::Projection::number`]). A document extracted with
/// another projection (or another numbering) does not answer by slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub numbering: u32,
    pub id: u32,
}

impl PartialEq for FieldPath {
    fn eq(&self, other: &FieldPath) -> bool {
        self.var == other.var && self.segs == other.segs
    }
}

impl FieldPath {
    /// The path from the root through `keys`.
    pub fn from_keys<'k>(keys: impl IntoIterator<Item = &'k str>) -> FieldPath {
        FieldPath {
            var: None,
            segs: keys.into_iter().map(|k| Seg::Key(k.to_string())).collect(),
            slot: None,
        }
    }

    /// The keys of a path from the root through keys only.
    pub fn rooted_keys(&self) -> Option<Vec<&str>> {
        if self.var.is_some() {
            return None;
        }
        self.segs
            .iter()
            .map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Index(_) => None,
            })
            .collect()
    }
}

impl Cond {
    /// Calls `f` with every field path the condition reads, quantifier
    /// bodies and call arguments included.
    pub fn each_path_mut(&mut self, f: &mut dyn FnMut(&mut FieldPath)) {
        match self {
            Cond::Const(_) => {}
            Cond::And(items) | Cond::Or(items) => {
                for c in items {
                    c.each_path_mut(f);
                }
            }
            Cond::Not(inner) => inner.each_path_mut(f),
            Cond::Quant { list, body, .. } => {
                list.each_path_mut(f);
                body.each_path_mut(f);
            }
            Cond::Cmp { lhs, rhs, .. }
            | Cond::StrField { lhs, rhs, .. }
            | Cond::InField { lhs, list: rhs, .. } => {
                lhs.each_path_mut(f);
                rhs.each_path_mut(f);
            }
            Cond::InSet { lhs, .. }
            | Cond::Cidr { lhs, .. }
            | Cond::Str { lhs, .. }
            | Cond::IsNull { operand: lhs, .. }
            | Cond::Truthy(lhs) => lhs.each_path_mut(f),
            Cond::Exists(p) => f(p),
        }
    }
}

impl Operand {
    /// Calls `f` with every field path the operand reads: its own, or its
    /// call's arguments'.
    pub fn each_path_mut(&mut self, f: &mut dyn FnMut(&mut FieldPath)) {
        match self {
            Operand::Field(p) => f(p),
            Operand::Call(c) => c.args.iter_mut().for_each(|a| a.each_path_mut(f)),
            Operand::Lit(_) | Operand::Elem(_) => {}
        }
    }

    /// Calls `f` with every field path the operand reads.
    pub fn each_path<'o>(&'o self, f: &mut dyn FnMut(&'o FieldPath)) {
        match self {
            Operand::Field(p) => f(p),
            Operand::Call(c) => c.args.iter().for_each(|a| a.each_path(f)),
            Operand::Lit(_) | Operand::Elem(_) => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Key(String),
    /// Negative counts from the end: -1 is the last element.
    Index(i64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Duration(u64),
}

/// The literals of `x [not] in [...]` as written (in order, duplicates
/// kept: what planning, display and `Debug` see), and their strings in a
/// hash table, so that membership of a string is one lookup whatever the
/// length: a feed of a million names costs an event what a short list does.
/// Clones share one set.
#[derive(Clone)]
pub struct LitSet(Arc<SetInner>);

struct SetInner {
    lits: Vec<Lit>,
    /// Indexes into `lits` of its distinct strings, by their hash.
    strs: HashTable<usize>,
    /// Indexes of the literals that are not strings.
    others: Vec<usize>,
    /// [`LitSet::digest`], once asked for.
    digest: std::sync::OnceLock<(u64, u64)>,
}

fn str_hash(s: &str) -> u64 {
    use std::hash::BuildHasher;
    crate::hash::FastHash::default().hash_one(s)
}

impl LitSet {
    pub fn new(lits: Vec<Lit>) -> LitSet {
        let mut strs = HashTable::with_capacity(lits.len());
        let mut others = Vec::new();
        fn text(l: &Lit) -> &str {
            match l {
                Lit::Str(s) => s,
                _ => "",
            }
        }
        for (i, l) in lits.iter().enumerate() {
            let Lit::Str(s) = l else {
                others.push(i);
                continue;
            };
            let h = str_hash(s);
            if strs.find(h, |&j| text(&lits[j]) == s).is_none() {
                strs.insert_unique(h, i, |&j| str_hash(text(&lits[j])));
            }
        }
        LitSet(Arc::new(SetInner {
            lits,
            strs,
            others,
            digest: Default::default(),
        }))
    }

    /// A digest of the literals in order, for telling sets apart without
    /// comparing them: equal for equal lists; a randomly keyed (once per
    /// process) SipHash and a fast hash, so unequal lists agree with
    /// probability about 2^-64 even when chosen to.
    pub fn digest(&self) -> (u64, u64) {
        use std::hash::{BuildHasher, Hasher};
        static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
            std::sync::OnceLock::new();
        *self.0.digest.get_or_init(|| {
            let mut sip = KEYS.get_or_init(Default::default).build_hasher();
            let mut fast = crate::hash::Words::default();
            for l in &self.0.lits {
                let (tag, word, text) = match l {
                    Lit::Null => (0u8, 0u64, ""),
                    Lit::Bool(b) => (1, u64::from(*b), ""),
                    Lit::Int(i) => (2, *i as u64, ""),
                    Lit::Float(f) => (3, f.to_bits(), ""),
                    Lit::Str(s) => (4, s.len() as u64, s.as_str()),
                    Lit::Duration(ms) => (5, *ms, ""),
                };
                for h in [&mut sip as &mut dyn Hasher, &mut fast] {
                    h.write_u8(tag);
                    h.write_u64(word);
                    h.write(text.as_bytes());
                }
            }
            (sip.finish(), fast.finish())
        })
    }

    /// Whether any literal is a string.
    pub fn has_str(&self) -> bool {
        !self.0.strs.is_empty()
    }

    /// Whether the string `s` is one of the literals.
    pub fn contains_str(&self, s: &str) -> bool {
        let lits = &self.0.lits;
        self.0
            .strs
            .find(str_hash(s), |&j| matches!(&lits[j], Lit::Str(t) if t == s))
            .is_some()
    }

    /// The literals that are not strings.
    pub fn others(&self) -> impl Iterator<Item = &Lit> {
        self.0.others.iter().map(|&i| &self.0.lits[i])
    }
}

impl std::ops::Deref for LitSet {
    type Target = [Lit];
    fn deref(&self) -> &[Lit] {
        &self.0.lits
    }
}

impl std::fmt::Debug for LitSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // As the list it is: `Debug` is the planner's identity of a leaf.
        f.debug_list().entries(self.iter()).finish()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Lit(Lit),
    Field(FieldPath),
    /// A derived value (spec/language.md, "Derived values").
    Call(Box<Call>),
    /// The element bound by the n-th enclosing quantifier (0 = innermost),
    /// a quantifier over a derived list (its elements are computed strings,
    /// not parts of the event, so no path reaches them).
    Elem(usize),
}

/// `func(args...)`: the arguments are checked to fit the function.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub func: Func,
    pub args: Vec<Operand>,
}

/// A string pattern, compiled.
#[derive(Clone)]
pub enum Pattern {
    /// For case-insensitive tests, already lower-cased.
    Text(String),
    /// The regex, and the text it was compiled from (its identity).
    Regex(LazyRegex, String),
}

/// A regex, built (with the DFAs [`pattern::regex`] determinizes for a
/// small regex) when it is first matched. The planner tests most regexes
/// in the automata of its string groups, so a rule set's own regexes are
/// seldom needed, and building each when lowered was most of the start-up
/// of a rule set with many. Clones share the one build. Lowering runs only
/// on rules the checker passed, which compiled every pattern; one that does
/// not compile all the same matches nothing, the answer of the test it was
/// left out of before.
#[derive(Clone)]
pub struct LazyRegex {
    src: Box<str>,
    ci: bool,
    built: Arc<OnceLock<Option<Regex>>>,
}

impl LazyRegex {
    fn new(src: &str, ci: bool) -> LazyRegex {
        LazyRegex {
            src: src.into(),
            ci,
            built: Arc::default(),
        }
    }

    /// Whether the regex matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.built
            .get_or_init(|| pattern::regex(&self.src, self.ci).ok())
            .as_ref()
            .is_some_and(|r| r.is_match(text))
    }
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The source text, not the compiled automaton: Debug output is the
        // key under which the planner shares identical predicates.
        match self {
            Pattern::Text(t) => write!(f, "Text({t:?})"),
            Pattern::Regex(_, src) => write!(f, "Regex({src:?})"),
        }
    }
}

/// Several regexes compiled into one ([`Cond::Str::any`]), built when
/// first matched: a rule set's lists of regexes and globs are seldom all
/// needed (the planner's string groups test most of them), and building
/// each list's automaton when lowered was a large part of start-up. Clones
/// share the one build. Its `Debug` is empty: the patterns it is made of
/// say what it is.
#[derive(Clone)]
pub struct AnyOf {
    sources: Arc<[(String, bool)]>,
    built: Arc<OnceLock<Option<Regex>>>,
}

impl std::fmt::Debug for AnyOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AnyOf")
    }
}

impl AnyOf {
    /// The regexes of `pats` to be matched as one, when there are two or
    /// more and nothing else.
    fn of(pats: &[Pattern], ci: bool) -> Option<AnyOf> {
        let sources: Vec<(String, bool)> = pats
            .iter()
            .map(|p| match p {
                Pattern::Regex(_, src) => Some((src.clone(), ci)),
                Pattern::Text(_) => None,
            })
            .collect::<Option<_>>()?;
        if sources.len() < 2 {
            return None;
        }
        Some(AnyOf {
            sources: sources.into(),
            built: Arc::default(),
        })
    }

    /// The one regex, built on first use; `None` when the regexes together
    /// exceed the size limit, and then each is matched alone.
    pub fn regex(&self) -> Option<&Regex> {
        self.built
            .get_or_init(|| pattern::regex_set(&self.sources).ok())
            .as_ref()
    }
}

#[derive(Clone, Debug)]
pub enum Cond {
    Const(bool),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// `any`/`all` over a list field, or over a derived list (`query(...)`).
    Quant {
        all: bool,
        list: Operand,
        body: Box<Cond>,
    },
    Cmp {
        op: CmpOp,
        lhs: Operand,
        rhs: Operand,
    },
    /// `x [not] in [literals]`
    InSet {
        negated: bool,
        lhs: Operand,
        set: LitSet,
    },
    /// `x [not] in some.list.field`, or in a derived list.
    InField {
        negated: bool,
        lhs: Operand,
        list: Operand,
    },
    Cidr {
        negated: bool,
        lhs: Operand,
        nets: Vec<Cidr>,
    },
    /// String test against literal patterns (true if any matches).
    Str {
        negated: bool,
        op: StrOp,
        lhs: Operand,
        pats: Vec<Pattern>,
        /// Two or more regexes as one automaton: whether any matches, in
        /// one pass over the text.
        any: Option<AnyOf>,
    },
    /// String test against another field's value.
    StrField {
        negated: bool,
        op: StrOp,
        lhs: Operand,
        rhs: Operand,
    },
    IsNull {
        negated: bool,
        operand: Operand,
    },
    Exists(FieldPath),
    /// A bare operand: true only for JSON `true`.
    Truthy(Operand),
}

/// Lowers every rule of a checked, error-free program.
pub fn lower(loaded: &Loaded) -> RuleSet {
    lower_on(loaded, crate::threads::available())
}

/// [`lower`] on at most `threads` threads.
pub(crate) fn lower_on(loaded: &Loaded, threads: usize) -> RuleSet {
    let mut sink = Vec::new();
    let prog = Program::resolve(loaded, &mut sink);
    let lists = std::sync::Mutex::new(std::collections::HashMap::new());
    let (prog, lists) = (&prog, &lists);
    let lower_all = move |defs: &[Def<'_, ast::RuleDecl>]| -> Vec<Rule> {
        (defs.iter())
            .map(|def| {
                Lower {
                    prog,
                    scopes: Vec::new(),
                    fields: Vec::new(),
                    macros: Vec::new(),
                    memo: Default::default(),
                    depth: 0,
                    lists,
                }
                .rule(def)
            })
            .collect()
    };
    // Rules lower independently: contiguous parts on several threads,
    // joined in order.
    let threads = crate::threads::for_items(prog.rules.len(), PARALLEL_RULES, threads);
    let parts = crate::threads::parts(&prog.rules, threads);
    let rules = crate::threads::map(&parts, threads, |part| lower_all(part));
    RuleSet {
        rules: rules.into_iter().flatten().collect(),
    }
}

/// Rule sets of this many rules or more are lowered on several threads.
const PARALLEL_RULES: usize = 256;

struct Lower<'p, 'a> {
    prog: &'p Program<'a>,
    /// Names bound by enclosing quantifiers, innermost last, each with
    /// whether it ranges over a derived list.
    scopes: Vec<(String, bool)>,
    fields: Vec<(String, FieldPath)>,
    macros: Vec<(String, Cond)>,
    /// Macros lowered where no variable is bound, by name.
    memo: std::collections::HashMap<String, Cond>,
    /// Macros being lowered, one inside the other.
    depth: usize,
    /// Named lists made sets, by name, for all rules (of every thread).
    lists: &'p std::sync::Mutex<std::collections::HashMap<String, LitSet>>,
}

impl Lower<'_, '_> {
    fn rule(mut self, def: &Def<'_, ast::RuleDecl>) -> Rule {
        let r = def.item;
        let text = |key: &str| match r.meta(key).map(|m| &m.value) {
            Some(ast::MetaValue::Str(s)) => Some(s.value.clone()),
            _ => None,
        };
        let tunes = self.prog.tunes.get(r.name.name.as_str());
        let tunes = tunes.map(Vec::as_slice).unwrap_or_default();
        let meta = |key: &str| self.prog.meta(r, key);
        let severity = match meta("severity") {
            Some(ast::MetaValue::Word(w)) => w.name.clone(),
            _ => "medium".to_string(),
        };
        let tags = match r.meta("tags").map(|m| &m.value) {
            Some(ast::MetaValue::Tags(t)) => t.iter().map(|s| s.value.clone()).collect(),
            _ => Vec::new(),
        };
        let enabled = !matches!(meta("enabled"), Some(ast::MetaValue::Bool(false, _)));
        let when = r.when.first().map_or(Cond::Const(true), |w| self.cond(w));
        let tuned_excepts = tunes.iter().flat_map(|t| &t.item.excepts);
        let excepts = r
            .excepts
            .iter()
            .chain(tuned_excepts)
            .map(|e| self.cond(e))
            .collect();
        let output = r
            .output
            .as_ref()
            .map(|o| self.output(&o.value))
            .unwrap_or_default();
        let stateful = match (&r.count, &r.sequence) {
            (Some(c), _) => Some(Stateful::Count(self.count(c))),
            (None, Some(q)) => Some(Stateful::Sequence(self.sequence(q))),
            (None, None) => None,
        };
        let source = r
            .source
            .as_ref()
            .or(def.source)
            .map(|s| s.name.clone())
            .unwrap_or_default();
        Rule {
            id: r.name.name.clone(),
            file: def.file,
            title: text("title").unwrap_or_else(|| r.name.name.clone()),
            description: text("description").unwrap_or_default(),
            severity,
            tags,
            response: text("response"),
            meta_id: text("id"),
            status: match r.meta("status").map(|m| &m.value) {
                Some(ast::MetaValue::Word(w)) => Some(w.name.clone()),
                _ => None,
            },
            enabled,
            tunes: tunes.iter().map(|t| (t.file, t.item.span)).collect(),
            overrides: (self.macros.iter())
                .filter_map(|(name, _)| {
                    let old = self.prog.overridden.get(name.as_str())?;
                    let new = self.prog.macros.get(name.as_str())?;
                    Some((
                        name.clone(),
                        (new.file, new.item.span),
                        (old.file, old.item.span),
                    ))
                })
                .collect(),
            unfilled: (self.prog.unfilled_lists(r).into_iter())
                .map(str::to_string)
                .collect(),
            source,
            when,
            excepts,
            output,
            stateful,
            fields: self.fields,
            macros: self.macros,
        }
    }

    fn count(&mut self, c: &ast::Count) -> Count {
        Count {
            distinct: c.distinct.as_ref().map(|p| self.key(p)),
            by: c.by.iter().map(|p| self.key(p)).collect(),
            within_ms: duration(&c.within),
            inclusive: c.op == CmpOp::Ge,
            threshold: match c.threshold.kind {
                LitKind::Int(n) => u64::try_from(n).unwrap_or(0),
                _ => 0,
            },
        }
    }

    fn sequence(&mut self, q: &ast::Sequence) -> Sequence {
        Sequence {
            by: q.by.iter().map(|p| self.key(p)).collect(),
            within_ms: duration(&q.within),
            steps: q
                .steps
                .iter()
                .map(|s| Step {
                    name: s.name.name.clone(),
                    negated: s.negated,
                    when: self.cond(&s.when),
                    by: s.by.iter().map(|p| self.key(p)).collect(),
                })
                .collect(),
            until: q.until.as_ref().map(|u| self.cond(u)),
        }
    }

    fn key(&mut self, p: &ast::Path) -> Key {
        Key {
            name: p.to_string(),
            path: self.path(p),
        }
    }

    fn output(&mut self, value: &str) -> Vec<OutPiece> {
        let Ok(pieces) = template::parse(value) else {
            return vec![OutPiece::Text(value.to_string())];
        };
        pieces
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => OutPiece::Text(t),
                Piece::Field { path, .. } => {
                    match crate::syntax::parse::parse_path(Default::default(), &path, 0) {
                        Some(p) => OutPiece::Field(self.path(&p)),
                        None => OutPiece::Text(format!("{{{path}}}")),
                    }
                }
            })
            .collect()
    }

    fn cond(&mut self, e: &ast::Expr) -> Cond {
        match &e.kind {
            // `m and m`, `m or m`: one `m` (a generated chain of such
            // macros would otherwise double at each level).
            ExprKind::And(a, b) | ExprKind::Or(a, b) if self.same_macro(a, b) => self.cond(a),
            ExprKind::And(a, b) => flatten(true, self.cond(a), self.cond(b)),
            ExprKind::Or(a, b) => flatten(false, self.cond(a), self.cond(b)),
            ExprKind::Not(a) => Cond::Not(Box::new(self.cond(a))),
            ExprKind::Quant {
                kind,
                var,
                list,
                body,
            } => {
                let list = self.operand(list);
                let derived = matches!(list, Operand::Call(_));
                self.scopes.push((var.name.clone(), derived));
                let body = self.cond(body);
                self.scopes.pop();
                Cond::Quant {
                    all: *kind == ast::Quant::All,
                    list,
                    body: Box::new(body),
                }
            }
            ExprKind::Compare { op, lhs, rhs } => Cond::Cmp {
                op: *op,
                lhs: self.operand(lhs),
                rhs: self.operand(rhs),
            },
            ExprKind::In { negated, lhs, rhs } => {
                let lhs = self.operand(lhs);
                match self.set(rhs) {
                    Some(set) => Cond::InSet {
                        negated: *negated,
                        lhs,
                        set,
                    },
                    None => match self.operand(rhs) {
                        Operand::Lit(l) => Cond::InSet {
                            negated: *negated,
                            lhs,
                            set: LitSet::new(vec![l]),
                        },
                        list => Cond::InField {
                            negated: *negated,
                            lhs,
                            list,
                        },
                    },
                }
            }
            ExprKind::Cidr { negated, lhs, rhs } => {
                let nets = self
                    .literals(rhs)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|l| match l {
                        Lit::Str(s) => Cidr::parse(&s).ok(),
                        _ => None,
                    })
                    .collect();
                Cond::Cidr {
                    negated: *negated,
                    lhs: self.operand(lhs),
                    nets,
                }
            }
            ExprKind::Str {
                negated,
                op,
                lhs,
                rhs,
            } => {
                let lhs = self.operand(lhs);
                match self.literals(rhs) {
                    Some(lits) => {
                        let pats = lits
                            .into_iter()
                            .filter_map(|l| match l {
                                Lit::Str(s) => compile(*op, &s),
                                _ => None,
                            })
                            .collect::<Vec<_>>();
                        Cond::Str {
                            negated: *negated,
                            op: *op,
                            lhs,
                            any: AnyOf::of(&pats, op.ci),
                            pats,
                        }
                    }
                    None => Cond::StrField {
                        negated: *negated,
                        op: *op,
                        lhs,
                        rhs: self.operand(rhs),
                    },
                }
            }
            ExprKind::IsNull { negated, operand } => Cond::IsNull {
                negated: *negated,
                operand: self.operand(operand),
            },
            ExprKind::Exists(o) => match self.operand(o) {
                Operand::Field(f) => Cond::Exists(f),
                // An element of a derived list is always there.
                Operand::Lit(_) | Operand::Elem(_) => Cond::Const(true),
                // Rejected by the checker (a derived value has no key).
                Operand::Call(_) => Cond::Const(false),
            },
            ExprKind::Value(AstOperand::Call(c))
                if self.prog.macros.contains_key(c.name.name.as_str()) =>
            {
                self.call(c)
            }
            ExprKind::Value(op) => {
                if let AstOperand::Path(p) = op {
                    if let Some((name, def)) = self
                        .name(p)
                        .and_then(|n| self.prog.macros.get(n).map(|d| (n, d)))
                    {
                        // Lowered once per rule where no variable is bound.
                        let memo = self.scopes.is_empty();
                        if let Some(body) = self.memo.get(name).filter(|_| memo) {
                            return body.clone();
                        }
                        if self.depth >= crate::resolve::MAX_MACRO_DEPTH {
                            return Cond::Const(false); // an error already
                        }
                        self.depth += 1;
                        let body = self.cond(&def.item.body);
                        self.depth -= 1;
                        if memo {
                            self.memo.insert(name.to_string(), body.clone());
                        }
                        if self.scopes.is_empty() && !self.macros.iter().any(|(m, _)| m == name) {
                            self.macros.push((name.to_string(), body.clone()));
                        }
                        return body;
                    }
                }
                match self.operand(op) {
                    Operand::Lit(Lit::Bool(b)) => Cond::Const(b),
                    other => Cond::Truthy(other),
                }
            }
        }
    }

    /// A call of a parameterised macro: its expansion, lowered in the
    /// caller's scope (the arguments may name the caller's variables).
    fn call(&mut self, c: &ast::Call) -> Cond {
        let Some((name, def)) = self.prog.macros.get_key_value(c.name.name.as_str()) else {
            return Cond::Const(false);
        };
        // Lowered once per rule and call where no variable is bound.
        let key = c.to_string();
        let memo = self.scopes.is_empty();
        if let Some(body) = self.memo.get(&key).filter(|_| memo) {
            return body.clone();
        }
        // A cycle, too deep, or a call the checker rejected: an error already.
        let body = match crate::resolve::expand::substitute(def.item, &c.args) {
            Ok(body) if self.depth < crate::resolve::MAX_MACRO_DEPTH => body,
            _ => return Cond::Const(false),
        };
        self.depth += 1;
        let cond = self.cond(&body);
        self.depth -= 1;
        if memo {
            self.memo.insert(key, cond.clone());
        }
        if memo && !self.macros.iter().any(|(m, _)| m == name) {
            self.macros.push((name.to_string(), cond.clone()));
        }
        cond
    }

    /// Whether `a` and `b` both name the same macro (or call it with the
    /// same arguments).
    fn same_macro(&self, a: &ast::Expr, b: &ast::Expr) -> bool {
        let named = |e: &ast::Expr| match &e.kind {
            ExprKind::Value(AstOperand::Path(p)) => self
                .name(p)
                .filter(|n| self.prog.macros.contains_key(n))
                .map(str::to_string),
            ExprKind::Value(AstOperand::Call(c))
                if self.prog.macros.contains_key(c.name.name.as_str()) =>
            {
                Some(c.to_string())
            }
            _ => None,
        };
        named(a).is_some_and(|n| named(b) == Some(n))
    }

    /// A lone name that is not a bound variable: a list or macro candidate.
    fn name<'n>(&self, p: &'n ast::Path) -> Option<&'n str> {
        p.as_name()
            .map(|n| n.name.as_str())
            .filter(|n| !self.scopes.iter().any(|(s, _)| s == n))
    }

    /// The literals an operand stands for: a literal, a list literal or a
    /// named list. `None` for a field.
    fn literals(&self, op: &AstOperand) -> Option<Vec<Lit>> {
        match op {
            AstOperand::Lit(ast::Literal {
                kind: LitKind::List(items),
                ..
            }) => Some(items.iter().map(lit).collect()),
            AstOperand::Lit(l) => Some(vec![lit(l)]),
            AstOperand::Path(p) => {
                let def = self.name(p).and_then(|n| self.prog.lists.get(n))?;
                Some(def.items.iter().map(lit).collect())
            }
            AstOperand::Call(_) => None,
        }
    }

    /// [`Lower::literals`] as a set; a named list is made a set once, and
    /// every rule that reads it shares it.
    fn set(&mut self, op: &AstOperand) -> Option<LitSet> {
        let named = match op {
            AstOperand::Path(p) => self.name(p).filter(|n| self.prog.lists.contains_key(n)),
            AstOperand::Lit(_) | AstOperand::Call(_) => None,
        };
        let known = |n: &str| self.lists.lock().ok()?.get(n).cloned();
        if let Some(set) = named.and_then(known) {
            return Some(set);
        }
        let set = LitSet::new(self.literals(op)?);
        // Two threads may make the same list at once: the first one's set
        // is the one every rule shares.
        match (named, self.lists.lock()) {
            (Some(n), Ok(mut lists)) => Some(lists.entry(n.to_string()).or_insert(set).clone()),
            _ => Some(set),
        }
    }

    fn operand(&mut self, op: &AstOperand) -> Operand {
        match op {
            AstOperand::Lit(l) => Operand::Lit(lit(l)),
            AstOperand::Path(p) => {
                let var = self
                    .scopes
                    .iter()
                    .rev()
                    .position(|(s, _)| *s == p.root.name);
                match var {
                    // The checker allows no segment on a derived element
                    // (a string).
                    Some(n) if self.scopes[self.scopes.len() - 1 - n].1 => Operand::Elem(n),
                    _ => Operand::Field(self.path(p)),
                }
            }
            AstOperand::Call(c) => match Func::by_name(&c.name.name) {
                Some(func) => Operand::Call(Box::new(Call {
                    func,
                    args: c.args.iter().map(|a| self.operand(a)).collect(),
                })),
                // Rejected by the checker.
                None => Operand::Lit(Lit::Null),
            },
        }
    }

    fn path(&mut self, p: &ast::Path) -> FieldPath {
        let var = self
            .scopes
            .iter()
            .rev()
            .position(|(s, _)| *s == p.root.name);
        let mut segs = Vec::new();
        if var.is_none() {
            segs.push(Seg::Key(p.root.name.clone()));
        }
        for s in &p.segments {
            segs.push(match &s.kind {
                SegKind::Field { name, .. } => Seg::Key(name.clone()),
                SegKind::Index(i) => Seg::Index(*i),
            });
        }
        let fp = FieldPath {
            var,
            segs,
            slot: None,
        };
        if var.is_none() && !self.fields.iter().any(|(_, f)| *f == fp) {
            self.fields.push((p.to_string(), fp.clone()));
        }
        fp
    }
}

fn duration(l: &ast::Literal) -> u64 {
    match l.kind {
        LitKind::Duration(ms) => ms,
        _ => 0,
    }
}

/// `and`/`or` as flat n-ary nodes.
fn flatten(and: bool, a: Cond, b: Cond) -> Cond {
    let mut items = Vec::new();
    for c in [a, b] {
        match (and, c) {
            (true, Cond::And(v)) | (false, Cond::Or(v)) => items.extend(v),
            (_, c) => items.push(c),
        }
    }
    if and {
        Cond::And(items)
    } else {
        Cond::Or(items)
    }
}

fn lit(l: &ast::Literal) -> Lit {
    match &l.kind {
        LitKind::Str(s) => Lit::Str(s.value.clone()),
        LitKind::Int(i) => Lit::Int(*i),
        LitKind::Float(f) => Lit::Float(*f),
        LitKind::Bool(b) => Lit::Bool(*b),
        LitKind::Null | LitKind::List(_) => Lit::Null,
        LitKind::Duration(ms) => Lit::Duration(*ms),
    }
}

/// Compiles one pattern; the checker has already rejected bad ones.
fn compile(op: StrOp, s: &str) -> Option<Pattern> {
    Some(match op.kind {
        StrOpKind::Matches => Pattern::Regex(LazyRegex::new(s, op.ci), s.to_string()),
        StrOpKind::Glob => {
            let re = pattern::glob_to_regex(s).ok()?;
            Pattern::Regex(LazyRegex::new(&re, op.ci), re)
        }
        _ if op.ci => Pattern::Text(s.to_lowercase()),
        _ => Pattern::Text(s.to_string()),
    })
}

#[cfg(test)]
mod lazy_tests {
    use super::LazyRegex;

    #[test]
    fn lazy_regexes_build_once_and_a_bad_one_matches_nothing() {
        let r = LazyRegex::new("^app-[0-9]+$", true);
        let copy = r.clone();
        assert!(r.is_match("APP-12") && !r.is_match("app-x"));
        assert!(copy.built.get().is_some(), "clones share the build");
        // Only unchecked rules reach lowering with such a pattern.
        let bad = LazyRegex::new("(a", false);
        assert!(!bad.is_match("(a") && !bad.is_match(""));
    }
}

#[cfg(test)]
mod threads_tests {
    #[test]
    fn rules_lowered_side_by_side_are_those_lowered_in_order() {
        // Lists and macros read from every part, and one list read only
        // by the last rules, so that threads make the same list at once.
        let mut text = String::from(
            "source k8s.audit\nlist users = [\"a\", \"b\"]\nlist late = [\"z\"]\n\
             macro pods = objectRef.resource == \"pods\"\n\
             macro image(x) = any c in requestObject.spec.containers: c.image contains x\n",
        );
        for i in 0..600 {
            let when = match i % 4 {
                0 => format!("pods and user.username in users and verb == \"v{i}\""),
                1 => format!("image(\"miner{i}\") and userAgent matches r\"^k{i}\""),
                2 if i > 550 => "user.username in late".to_string(),
                _ => format!("responseStatus.code >= {i} and not pods"),
            };
            text += &format!("rule r{i} {{ when {when} }}\n");
        }
        let loaded = crate::load::load_texts(&[("t.ward", &text)]);
        let one = super::lower_on(&loaded, 1);
        assert_eq!(one.rules.len(), 600);
        for threads in [2, 3, 8] {
            let many = super::lower_on(&loaded, threads);
            let ids: Vec<&str> = many.rules.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(
                ids,
                one.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>()
            );
            assert_eq!(format!("{one:?}"), format!("{many:?}"), "{threads} threads");
        }
    }
}

//! Planning: the lowered rule set as one program per source.
//!
//! - Constant folding of `and`/`or`/`not`.
//! - Shared predicates: every leaf test (a comparison, a string test, a whole
//!   quantifier...) is stored once across all rules and evaluated at most
//!   once per event.
//! - Dispatch: a rule whose `when` requires `verb == "create"` (or `in` a
//!   set) is only a candidate for events with that value; the field is the
//!   most selective discriminator of the source the rule constrains.
//! - Case-insensitive equality (`iequals`, with one value or a list) is
//!   a pin and an equality test like `==` and `in`, of the field's value
//!   lower-cased as the evaluator lower-cases it: its tables are keyed by
//!   the lower-cased literals, and the runtime lower-cases a field at most
//!   once per event, and only a field some such table is looked up by.
//! - Grouped tests: `field == "literal"` and `field in [strings]` leaves
//!   of one field are answered by one hash lookup (`iequals` leaves of a
//!   field by another, of the lower-cased value); string tests
//!   (`contains`, `startswith`, `endswith`, `glob`, `matches` and their
//!   `i`-forms) of one field, or quantifiers whose body is one such test
//!   of the element, by one multi-pattern automaton pass over the value
//!   per event, or, when they are a few prefixes, suffixes and whole
//!   literals, by comparing each with the value. Tests of derived values
//!   (calls, elements of derived lists) are neither grouped nor dispatch
//!   keys: their leaves run through the evaluator.
//! - Projection: the trie of paths any rule reads, so the runtime extracts
//!   only those fields from each event.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use regex_automata::PatternSet;
use regex_automata::{meta::Regex, Input, PatternID};

pub use crate::hash::FastHash;
use crate::lower::{Cond, FieldPath, Lit, Operand, Pattern, Rule, RuleSet, Seg, Slot, Stateful};
use crate::pattern;
use crate::syntax::ast::{CmpOp, StrOp, StrOpKind};

mod identity;
mod keys;
pub use keys::Keys;

/// Discriminating fields per source, most selective first.
pub const DISPATCH_FIELDS: &[(&str, &[&str])] = &[
    (
        "k8s.audit",
        &["objectRef.subresource", "objectRef.resource", "verb"],
    ),
    ("calico.audit", &["objectRef.resource", "verb"]),
    ("aws.cloudtrail", &["eventName", "eventSource"]),
    ("calico.flow", &["action", "proto"]),
    ("calico.dns", &["qtype"]),
    (
        "gcp.audit",
        &["protoPayload.methodName", "protoPayload.serviceName"],
    ),
];

/// A condition over shared leaves.
#[derive(Clone, Debug, PartialEq)]
pub enum PCond {
    Const(bool),
    Leaf(usize),
    And(Vec<PCond>),
    Or(Vec<PCond>),
    Not(Box<PCond>),
}

/// One condition the matcher answers per event: a stateless rule, or one
/// part of a stateful rule (its filter, a sequence step, its `until`).
#[derive(Clone, Debug)]
pub struct PlannedRule {
    /// The rule this belongs to (an index into the rule set).
    pub rule: usize,
    pub role: Role,
    pub when: PCond,
    pub excepts: Vec<PCond>,
}

/// What a matching unit means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A stateless rule: the match is an alert.
    Alert,
    /// The events a `count` rule counts.
    Count,
    /// The n-th step of a sequence.
    Step(usize),
    /// A sequence's `until`.
    Until,
}

/// The paths to extract: object keys to descend into, an element shape for
/// arrays, and whether to keep the whole value here.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Projection {
    pub keys: Keys,
    pub elems: Option<Box<Projection>>,
    pub whole: bool,
    /// This node's number in its tree, once [`Projection::number`] ran
    /// (extraction records it on each value, so that a value's schema
    /// field is found by number rather than by name).
    pub id: u32,
    /// On the root: which numbering `number` gave the tree (distinct per
    /// call; 0 before it), so that slots of another are told apart.
    pub numbering: u32,
}

impl Projection {
    /// Adds a path; `steps` are keys, with `None` for "each element".
    pub fn insert(&mut self, steps: &[Option<&str>]) {
        let Some((first, rest)) = steps.split_first() else {
            self.whole = true;
            return;
        };
        let child = match first {
            Some(k) => self.keys.entry(k),
            None => self.elems.get_or_insert_with(Default::default),
        };
        child.insert(rest);
    }

    /// Creates the nodes of a path without keeping anything at its end.
    pub fn touch(&mut self, steps: &[Option<&str>]) {
        let Some((first, rest)) = steps.split_first() else {
            return;
        };
        let child = match first {
            Some(k) => self.keys.entry(k),
            None => self.elems.get_or_insert_with(Default::default),
        };
        child.touch(rest);
    }

    /// The slot of the node a path from the root through keys only leads
    /// to (once [`Projection::number`] ran on this root).
    pub fn slot_of(&self, path: &FieldPath) -> Option<Slot> {
        if self.numbering == 0 {
            return None;
        }
        let mut p = self;
        for k in path.rooted_keys()? {
            p = p.keys.get(k)?;
        }
        Some(Slot {
            numbering: self.numbering,
            id: p.id,
        })
    }

    /// Numbers the nodes of the tree from 0 (this one), depth first;
    /// returns how many there are.
    pub fn number(&mut self) -> u32 {
        fn walk(p: &mut Projection, next: &mut u32) {
            p.id = *next;
            *next += 1;
            for child in p.keys.values_mut() {
                walk(child, next);
            }
            if let Some(e) = &mut p.elems {
                walk(e, next);
            }
        }
        let mut next = 0;
        walk(self, &mut next);
        static NUMBERINGS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        self.numbering = NUMBERINGS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        next
    }

    /// Every node with its key (`None` for the element shape and the root),
    /// depth first.
    pub fn nodes(&self) -> Vec<(Option<&str>, &Projection)> {
        fn walk<'p>(
            p: &'p Projection,
            key: Option<&'p str>,
            out: &mut Vec<(Option<&'p str>, &'p Projection)>,
        ) {
            out.push((key, p));
            for (k, child) in &p.keys {
                walk(child, Some(k), out);
            }
            if let Some(e) = &p.elems {
                walk(e, None, out);
            }
        }
        let mut out = Vec::new();
        walk(self, None, &mut out);
        out
    }

    /// Number of paths kept, for `ward explain`.
    pub fn leaves(&self) -> usize {
        usize::from(self.whole)
            + self.keys.values().map(Projection::leaves).sum::<usize>()
            + self.elems.as_ref().map_or(0, |e| e.leaves())
    }

    /// Dotted paths, `[]` for elements.
    pub fn paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.collect("", &mut out);
        out
    }

    fn collect(&self, prefix: &str, out: &mut Vec<String>) {
        if self.whole {
            out.push(prefix.to_string());
        }
        let mut keys: Vec<(&String, &Projection)> = self.keys.iter().collect();
        keys.sort_by_key(|(k, _)| *k);
        for (k, p) in keys {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            p.collect(&path, out);
        }
        if let Some(e) = &self.elems {
            e.collect(&format!("{prefix}[]"), out);
        }
    }
}

/// A table from a field's text value, built from rules (so trusted keys).
pub type ByValue<T> = keys::Table<T>;

/// A field whose value a table (of dispatch, of an equality group) is
/// looked up by: the value as it is (`==`, `in`), or lower-cased as the
/// evaluator lower-cases it for `iequals`.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyField {
    pub path: FieldPath,
    /// For a case-insensitive table: the number of the lower-cased value
    /// in [`Plan::folds`], so that the runtime lower-cases each field at
    /// most once per event, whichever tables read it.
    pub fold: Option<usize>,
}

/// The rules that need one value of a dispatch field.
#[derive(Clone, Debug, Default)]
pub struct Bucket {
    /// Candidates whenever the value matches.
    pub rules: Vec<usize>,
    /// Rules that also pin a second field, indexed by its value, so that
    /// (`objectRef.resource == "pods"`, `verb == "create"`) rules are not
    /// even visited for a pod `get`.
    pub refine: Option<(KeyField, ByValue<Vec<usize>>)>,
}

/// Rules of one source: how to find candidates and what to extract.
#[derive(Clone, Debug, Default)]
pub struct SourcePlan {
    pub projection: Projection,
    /// For each dispatch field: value -> the rules that need it.
    pub dispatch: Vec<(KeyField, ByValue<Bucket>)>,
    /// Rules with no dispatch constraint: candidates for every event.
    pub always: Vec<usize>,
    /// Rules with no dispatch constraint that share a test their `when`
    /// requires: candidates only when it holds (one answer for them all).
    pub guarded: Vec<(usize, Vec<usize>)>,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Parallel to the rule set's rules.
    pub rules: Vec<PlannedRule>,
    /// Distinct leaf predicates.
    pub leaves: Vec<Cond>,
    pub sources: BTreeMap<String, SourcePlan>,
    /// How many leaf occurrences the rules have in all (before sharing).
    pub leaf_uses: usize,
    /// Equality and membership tests of one field against strings,
    /// answered by one hash lookup per event: `user.username == "a"`,
    /// `in ["b", "c"]`, ...; and, in groups of their own, `iequals` tests.
    pub eq_groups: Vec<EqGroup>,
    /// The fields that some table is looked up by lower-cased (see
    /// [`KeyField::fold`], [`EqGroup::fold`]), each once.
    pub folds: Vec<FieldPath>,
    /// For each leaf, the group that answers it.
    pub leaf_group: Vec<Option<usize>>,
    /// String tests of one field against literal patterns, answered by one
    /// multi-pattern regex pass over the field's value per event.
    pub str_groups: Vec<StrGroup>,
    /// For each leaf, the string group that answers it and its index in
    /// the group's `leaves`.
    pub leaf_str_group: Vec<Option<(usize, usize)>>,
}

/// String tests (`contains`, `startswith`, `endswith`, `glob`, `matches`)
/// of one event field: every pattern of every test compiled into one
/// automaton (`MatchKind::All`), so one pass over the value tells which
/// patterns match. The case-insensitive forms of a field form a group of
/// their own, run over the lower-cased value exactly as the evaluator
/// lower-cases it, so that a grouped test and a test alone agree.
#[derive(Clone, Debug)]
pub struct StrGroup {
    /// For tests inside quantifiers (`any c in L: c.image icontains "x"`):
    /// the list `L`, whose every element is searched; `path` is then
    /// relative to the element (`var` 0).
    pub list: Option<FieldPath>,
    pub path: FieldPath,
    /// The value is lower-cased first (the `i`-forms).
    pub folded: bool,
    pub regex: Regex,
    /// Each pattern as compiled: its regex and whether it ignores case.
    pub patterns: Vec<(String, bool)>,
    /// Per test: its leaf, whether it is negated, and its pattern ids.
    pub leaves: Vec<StrLeaf>,
    /// When every pattern is a literal anchored at an end of the value
    /// (`startswith`, `endswith`, `equals`) and they are few: the same
    /// answers by comparing bytes (the automaton, still built, is then
    /// not run; its overlapping search reads the whole value at several
    /// times the cost).
    pub anchored: Option<Anchored>,
}

/// The patterns of a string group that are literals anchored at the start
/// or the end of the value, each with its pattern id.
#[derive(Clone, Debug, Default)]
pub struct Anchored {
    prefixes: Vec<(Box<[u8]>, PatternID)>,
    suffixes: Vec<(Box<[u8]>, PatternID)>,
    exact: Vec<(Box<[u8]>, PatternID)>,
}

/// Groups of up to this many anchored literals compare them one by one.
/// Each comparison is a length check and a short memcmp (a few ns), the
/// automaton's search a few ns per byte of the value: a user name of 50
/// bytes against 19 prefixes and suffixes (the bundled rules) costs 723
/// cycles in the automaton.
const MAX_ANCHORED: usize = 32;

/// Where a literal pattern must match the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Start,
    Finish,
    Whole,
}

impl Anchored {
    /// The group's patterns as anchored literals, if all of them are
    /// (and they are few enough that comparing each beats the automaton).
    fn of(lits: &[Option<(End, String)>]) -> Option<Anchored> {
        if lits.len() > MAX_ANCHORED {
            return None;
        }
        let mut a = Anchored::default();
        for (i, lit) in lits.iter().enumerate() {
            let (end, text) = lit.as_ref()?;
            let to = match end {
                End::Start => &mut a.prefixes,
                End::Finish => &mut a.suffixes,
                End::Whole => &mut a.exact,
            };
            to.push((text.as_bytes().into(), PatternID::new(i).ok()?));
        }
        Some(a)
    }

    /// Adds to `set` the patterns that match `text`.
    #[inline]
    fn search(&self, text: &[u8], set: &mut PatternSet) {
        for (lit, id) in &self.prefixes {
            if text.starts_with(lit) {
                set.insert(*id);
            }
        }
        for (lit, id) in &self.suffixes {
            if text.ends_with(lit) {
                set.insert(*id);
            }
        }
        for (lit, id) in &self.exact {
            if text == &**lit {
                set.insert(*id);
            }
        }
    }
}

#[derive(Clone, Debug)]
pub struct StrLeaf {
    pub leaf: usize,
    /// For a quantifier over the group's list: `Some(true)` for `all`.
    pub all: Option<bool>,
    pub negated: bool,
    pub patterns: Vec<usize>,
}

impl StrGroup {
    /// A set to collect one search's matching patterns in.
    pub fn new_set(&self) -> PatternSet {
        PatternSet::new(self.regex.pattern_len())
    }

    /// Clears `set` and adds the patterns that match anywhere in `text`
    /// (the value itself, lower-cased already if the group is `folded`).
    pub fn search(&self, text: &str, set: &mut PatternSet) {
        set.clear();
        match &self.anchored {
            Some(a) => a.search(text.as_bytes(), set),
            None => self.regex.which_overlapping_matches(&Input::new(text), set),
        }
    }

    /// Whether test `k` holds given the patterns `set` found in a string
    /// value (the test of a quantifier's body, for a quantifier's leaf).
    pub fn holds(&self, k: usize, set: &PatternSet) -> bool {
        let t = &self.leaves[k];
        t.patterns
            .iter()
            .any(|&p| set.contains(PatternID::new_unchecked(p)))
            != t.negated
    }
}

/// `field == "literal"` and `field in [string literals]` tests of one
/// field, or its `iequals` tests (of one value or a list): a value's entry
/// names the tests that hold for it.
#[derive(Clone, Debug)]
pub struct EqGroup {
    pub path: FieldPath,
    /// For `iequals` tests: the value is lower-cased first (as the
    /// evaluator lower-cases it; the keys are the lower-cased literals),
    /// and this is its number in [`Plan::folds`].
    pub fold: Option<usize>,
    /// Value -> the leaves that hold for it, ascending: one for `==`
    /// (leaves are distinct), any number for `iequals` lists.
    pub leaves: ByValue<Vec<usize>>,
}

/// Plans the enabled rules of `set`. `plan.rules[i]` is rule `i` itself
/// (for a stateful rule: its filter, or its first step); the parts of
/// sequences beyond their first step follow, after the last rule. A rule
/// that cannot run gets `Const(false)` and no dispatch entry.
pub fn plan(set: &RuleSet) -> Plan {
    let mut p = Planner::default();
    let mut plan = Plan::default();
    let mut pending: BTreeMap<String, Vec<(usize, Vec<Pin>)>> = BTreeMap::new();
    let mut extra = Vec::new();
    for (i, r) in set.rules.iter().enumerate() {
        let mut units = units(r);
        let (role, cond) = units.remove(0);
        plan.rules
            .push(p.unit(i, role, cond, r, &mut plan.sources, &mut pending, i));
        extra.push((i, units));
    }
    for (i, units) in extra {
        let r = &set.rules[i];
        for (role, cond) in units {
            let at = plan.rules.len();
            let unit = p.unit(i, role, cond, r, &mut plan.sources, &mut pending, at);
            plan.rules.push(unit);
        }
    }
    // Stateful rules also read their keys and counted fields.
    for r in set.rules.iter().filter(|r| r.active()) {
        let keys: Vec<&FieldPath> = match &r.stateful {
            Some(Stateful::Count(c)) => c.by.iter().chain(&c.distinct).map(|k| &k.path).collect(),
            Some(Stateful::Sequence(q)) => {
                q.by.iter()
                    .chain(q.steps.iter().flat_map(|s| &s.by))
                    .map(|k| &k.path)
                    .collect()
            }
            None => continue,
        };
        if let Some(sp) = plan.sources.get_mut(&r.source) {
            for k in keys {
                let steps = absolute(k, &Vec::new());
                let refs: Vec<Option<&str>> = steps.iter().map(|s| s.as_deref()).collect();
                sp.projection.insert(&refs);
            }
        }
    }
    for (source, rules) in pending {
        if let Some(sp) = plan.sources.get_mut(&source) {
            build_dispatch(sp, rules, &mut plan.folds);
        }
    }
    plan.leaves = p.leaves;
    plan.leaf_uses = p.uses;
    guard_always(&mut plan);
    group_equalities(&mut plan);
    group_string_tests(&mut plan);
    plan
}

/// The conditions a rule needs answered per event, first its own. A
/// sequence's `when` holds for every step and for `until`; `except` hides
/// an event from every part of a rule.
fn units(r: &Rule) -> Vec<(Role, Cow<'_, Cond>)> {
    let Some(Stateful::Sequence(q)) = &r.stateful else {
        let role = if r.stateful.is_some() {
            Role::Count
        } else {
            Role::Alert
        };
        return vec![(role, Cow::Borrowed(&r.when))];
    };
    // Flat, so that dispatch sees the pins of both.
    let both = |c: &Cond| match &r.when {
        Cond::Const(true) => c.clone(),
        w => Cond::And(
            [w, c]
                .into_iter()
                .flat_map(|x| match x {
                    Cond::And(items) => items.clone(),
                    other => vec![other.clone()],
                })
                .collect(),
        ),
    };
    let mut out: Vec<(Role, Cow<'_, Cond>)> = q
        .steps
        .iter()
        .enumerate()
        .map(|(n, s)| (Role::Step(n), Cow::Owned(both(&s.when))))
        .collect();
    if let Some(u) = &q.until {
        out.push((Role::Until, Cow::Owned(both(u))));
    }
    out
}

impl Planner {
    /// Plans one unit; registers its projection and dispatch under `at`.
    #[allow(clippy::too_many_arguments)]
    fn unit(
        &mut self,
        rule: usize,
        role: Role,
        cond: Cow<'_, Cond>,
        r: &Rule,
        sources: &mut BTreeMap<String, SourcePlan>,
        pending: &mut BTreeMap<String, Vec<(usize, Vec<Pin>)>>,
        at: usize,
    ) -> PlannedRule {
        let off = || PlannedRule {
            rule,
            role,
            when: PCond::Const(false),
            excepts: Vec::new(),
        };
        if !r.active() {
            return off();
        }
        let when = fold(self.cond(&cond));
        if when == PCond::Const(false) {
            return off();
        }
        let excepts = r.excepts.iter().map(|e| fold(self.cond(e))).collect();
        let sp = sources.entry(r.source.clone()).or_default();
        for c in std::iter::once(&*cond).chain(&r.excepts) {
            project(c, &mut Vec::new(), &mut sp.projection);
        }
        pending
            .entry(r.source.clone())
            .or_default()
            .push((at, pins(&r.source, &cond)));
        PlannedRule {
            rule,
            role,
            when,
            excepts,
        }
    }
}

/// Groups `field == "literal"` and `field in [string literals]` leaves by
/// field when a field has several (one lookup of the value answers them),
/// and `field iequals ...` leaves (not negated) by field whatever their
/// number: one lookup of the lower-cased value answers them, where the
/// evaluator would lower-case the value for each.
fn group_equalities(plan: &mut Plan) {
    // Per field and case mode: value -> leaves, and how many leaves.
    let mut by_path: Vec<(FieldPath, bool, ByValue<Vec<usize>>, usize)> = Vec::new();
    for (id, leaf) in plan.leaves.iter().enumerate() {
        let (f, folded, values) = match (equality(leaf), ci_equality(leaf), membership(leaf)) {
            (Some((f, s)), _, _) => (f, false, vec![s]),
            (None, Some((f, values)), _) => (f, true, values),
            (None, None, Some((f, values))) => (f, false, values),
            (None, None, None) => continue,
        };
        let at = match by_path
            .iter()
            .position(|(p, c, _, _)| p == f && *c == folded)
        {
            Some(at) => at,
            None => {
                by_path.push((f.clone(), folded, ByValue::of_values(), 0));
                by_path.len() - 1
            }
        };
        let (_, _, m, n) = &mut by_path[at];
        *n += 1;
        for s in values {
            let ids = m.entry(s);
            // A list may name a value twice.
            if ids.last() != Some(&id) {
                ids.push(id);
            }
        }
    }
    plan.leaf_group = vec![None; plan.leaves.len()];
    for (path, folded, leaves, n) in by_path {
        if !folded && n < 2 {
            continue;
        }
        let g = plan.eq_groups.len();
        for &id in leaves.values().flatten() {
            plan.leaf_group[id] = Some(g);
        }
        let fold = folded.then(|| fold_number(&mut plan.folds, &path));
        plan.eq_groups.push(EqGroup { path, fold, leaves });
    }
}

/// The number of `path` in `folds` (the fields looked up lower-cased),
/// added if it is not there.
fn fold_number(folds: &mut Vec<FieldPath>, path: &FieldPath) -> usize {
    match folds.iter().position(|p| p == path) {
        Some(i) => i,
        None => {
            folds.push(path.clone());
            folds.len() - 1
        }
    }
}

/// Groups the string tests of each absolute field (and case mode) when the
/// field has several; and the quantifiers whose body is one string test of
/// the element (`any c in L: c.image icontains "x"`), per list, element
/// field and case mode. Other quantifier bodies stay as they are.
fn group_string_tests(plan: &mut Plan) {
    type Key = (Option<FieldPath>, FieldPath, bool);
    let mut by_field: Vec<(Key, Vec<usize>)> = Vec::new();
    for (id, leaf) in plan.leaves.iter().enumerate() {
        // `iequals` tests an equality group answers already.
        if plan.leaf_group[id].is_some() {
            continue;
        }
        let Some((list, test)) = grouped_test(leaf) else {
            continue;
        };
        let Some((path, folded)) = string_test(test, list.is_some()) else {
            continue;
        };
        let key = (list.cloned(), path.clone(), folded);
        match by_field.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ids)) => ids.push(id),
            None => by_field.push((key, vec![id])),
        }
    }
    plan.leaf_str_group = vec![None; plan.leaves.len()];
    by_field.retain(|(_, ids)| ids.len() > 1);
    // Each field's automaton is built on its own, side by side; they are
    // installed in field order, as one by one.
    let gathered: Vec<_> = by_field.iter().map(|(_, ids)| gather(plan, ids)).collect();
    let sets: Vec<&[(String, bool)]> = gathered.iter().map(|g| g.patterns.as_slice()).collect();
    let built = compile_sets(&sets);
    for ((((list, path, folded), ids), gathered), regex) in
        by_field.into_iter().zip(gathered).zip(built)
    {
        let field = (list.as_ref(), &path, folded);
        install_str_group(plan, field, &ids, gathered, regex);
    }
}

/// [`pattern::regex_set`] of each set, on several threads when there is
/// enough to build: each is a separate automaton.
fn compile_sets(sets: &[&[(String, bool)]]) -> Vec<Result<Regex, String>> {
    let patterns: usize = sets.iter().map(|s| s.len()).sum();
    let threads =
        crate::threads::for_items(patterns, PARALLEL_PATTERNS, crate::threads::available());
    crate::threads::map(sets, threads, |set| pattern::regex_set(set))
}

/// Fields with string tests of this many patterns in all or more have
/// their automata built on several threads.
const PARALLEL_PATTERNS: usize = 64;

/// A leaf as (the list a quantifier ranges over, the string test it
/// makes): `(None, leaf)` for a test of its own.
fn grouped_test(c: &Cond) -> Option<(Option<&FieldPath>, &Cond)> {
    match c {
        Cond::Quant {
            list: Operand::Field(list),
            body,
            ..
        } if list.var.is_none() => Some((Some(list), body)),
        Cond::Quant { .. } => None,
        other => Some((None, other)),
    }
}

/// A string test against compiled patterns of an absolute field (or, in a
/// quantifier's body, of the element): the field and whether it is
/// case-insensitive.
fn string_test(c: &Cond, in_element: bool) -> Option<(&FieldPath, bool)> {
    let var = in_element.then_some(0);
    match c {
        Cond::Str {
            op,
            lhs: Operand::Field(f),
            pats,
            ..
        } if f.var == var && pats.iter().all(|p| pattern_source(*op, p).is_some()) => {
            Some((f, op.ci))
        }
        _ => None,
    }
}

/// One pattern as a regex over the value the evaluator tests: literal
/// texts (already lower-cased for the `i`-forms, and tested against the
/// lower-cased value) match case-sensitively; regexes and globs keep the
/// case mode they were compiled with.
fn pattern_source(op: StrOp, p: &Pattern) -> Option<(String, bool)> {
    Some(match p {
        Pattern::Regex(_, src) => (src.clone(), op.ci),
        Pattern::Text(t) => {
            let lit = regex_syntax::escape(t);
            let re = match op.kind {
                StrOpKind::Contains => lit,
                StrOpKind::StartsWith => format!(r"\A{lit}"),
                StrOpKind::EndsWith => format!(r"{lit}\z"),
                StrOpKind::Equals => format!(r"\A{lit}\z"),
                StrOpKind::Glob | StrOpKind::Matches => return None,
            };
            (re, false)
        }
    })
}

/// Compiles the tests `ids` into one group, or, when the automaton would
/// exceed the size limit, into groups of halves; a test that cannot be
/// compiled with others stays a leaf of its own.
fn build_str_groups(
    plan: &mut Plan,
    list: Option<&FieldPath>,
    path: &FieldPath,
    folded: bool,
    ids: &[usize],
) {
    let gathered = gather(plan, ids);
    let regex = pattern::regex_set(&gathered.patterns);
    install_str_group(plan, (list, path, folded), ids, gathered, regex);
}

/// The distinct patterns of the string tests `ids`, and each test as a
/// leaf of their group.
fn gather(plan: &Plan, ids: &[usize]) -> Gathered {
    let mut patterns: Vec<(String, bool)> = Vec::new();
    let mut lits: Vec<Option<(End, String)>> = Vec::new();
    // Where each pattern is in `patterns`: a list of a million patterns is
    // gathered in linear time.
    let mut seen: std::collections::HashMap<(String, bool), usize> = Default::default();
    let mut leaves = Vec::new();
    for &id in ids {
        let (all, test) = match &plan.leaves[id] {
            Cond::Quant { all, body, .. } => (Some(*all), &**body),
            other => (None, other),
        };
        let Cond::Str {
            negated, op, pats, ..
        } = test
        else {
            continue;
        };
        let mut mine = Vec::new();
        let mut taken = std::collections::HashSet::new();
        for p in pats {
            let Some(src) = pattern_source(*op, p) else {
                continue;
            };
            let pid = *seen.entry(src.clone()).or_insert_with(|| {
                patterns.push(src);
                lits.push(anchored_literal(*op, p));
                patterns.len() - 1
            });
            if taken.insert(pid) {
                mine.push(pid);
            }
        }
        leaves.push(StrLeaf {
            leaf: id,
            all,
            negated: *negated,
            patterns: mine,
        });
    }
    Gathered {
        patterns,
        leaves,
        anchored: Anchored::of(&lits),
    }
}

/// A group's distinct patterns (as regexes), its tests, and the patterns
/// as anchored literals when all of them are.
struct Gathered {
    patterns: Vec<(String, bool)>,
    leaves: Vec<StrLeaf>,
    anchored: Option<Anchored>,
}

/// Pattern `p` of a test `op` as a literal anchored at the start or the
/// end of the value (or both), as [`pattern_source`] anchors it.
fn anchored_literal(op: StrOp, p: &Pattern) -> Option<(End, String)> {
    let Pattern::Text(t) = p else {
        return None;
    };
    let end = match op.kind {
        StrOpKind::StartsWith => End::Start,
        StrOpKind::EndsWith => End::Finish,
        StrOpKind::Equals => End::Whole,
        _ => return None,
    };
    Some((end, t.clone()))
}

/// Adds the group of the tests `ids` of `field` (list, path, folded) with
/// its automaton; one that could not be built (over the size limit) is
/// split in halves, built again.
fn install_str_group(
    plan: &mut Plan,
    field: (Option<&FieldPath>, &FieldPath, bool),
    ids: &[usize],
    gathered: Gathered,
    regex: Result<Regex, String>,
) {
    let (list, path, folded) = field;
    let Gathered {
        patterns,
        leaves,
        anchored,
    } = gathered;
    match regex {
        Ok(regex) => {
            let g = plan.str_groups.len();
            for (k, t) in leaves.iter().enumerate() {
                plan.leaf_str_group[t.leaf] = Some((g, k));
            }
            plan.str_groups.push(StrGroup {
                list: list.cloned(),
                path: path.clone(),
                folded,
                regex,
                patterns,
                leaves,
                anchored,
            });
        }
        Err(_) if ids.len() > 1 => {
            let (a, b) = ids.split_at(ids.len() / 2);
            build_str_groups(plan, list, path, folded, a);
            build_str_groups(plan, list, path, folded, b);
        }
        Err(_) => {}
    }
}

struct Planner {
    leaves: Vec<Cond>,
    keys: HashMap<identity::Identity, usize>,
    uses: usize,
    hashers: RandomState,
}

impl Default for Planner {
    fn default() -> Planner {
        Planner {
            leaves: Vec::new(),
            keys: HashMap::new(),
            uses: 0,
            hashers: RandomState::new(),
        }
    }
}

impl Planner {
    fn cond(&mut self, c: &Cond) -> PCond {
        match c {
            Cond::Const(b) => PCond::Const(*b),
            Cond::And(items) => PCond::And(items.iter().map(|i| self.cond(i)).collect()),
            Cond::Or(items) => PCond::Or(items.iter().map(|i| self.cond(i)).collect()),
            Cond::Not(inner) => PCond::Not(Box::new(self.cond(inner))),
            leaf => {
                self.uses += 1;
                let key = identity::identity(leaf, &self.hashers);
                let next = self.leaves.len();
                let id = *self.keys.entry(key).or_insert(next);
                if id == next {
                    self.leaves.push(leaf.clone());
                }
                PCond::Leaf(id)
            }
        }
    }
}

/// Folds constants: `x and false` is false, `x or true` is true, `not true` is false.
pub fn fold(c: PCond) -> PCond {
    match c {
        PCond::And(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(fold) {
                match i {
                    PCond::Const(true) => {}
                    PCond::Const(false) => return PCond::Const(false),
                    PCond::And(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => PCond::Const(true),
                1 => out.pop().unwrap_or(PCond::Const(true)),
                _ => PCond::And(out),
            }
        }
        PCond::Or(items) => {
            let mut out = Vec::new();
            for i in items.into_iter().map(fold) {
                match i {
                    PCond::Const(false) => {}
                    PCond::Const(true) => return PCond::Const(true),
                    PCond::Or(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            match out.len() {
                0 => PCond::Const(false),
                1 => out.pop().unwrap_or(PCond::Const(false)),
                _ => PCond::Or(out),
            }
        }
        PCond::Not(inner) => match fold(*inner) {
            PCond::Const(b) => PCond::Const(!b),
            PCond::Not(x) => *x,
            other => PCond::Not(Box::new(other)),
        },
        other => other,
    }
}

/// Adds every path `c` reads to the projection. `scopes` holds, per
/// enclosing quantifier (innermost last), the absolute steps of its element.
fn project(c: &Cond, scopes: &mut Vec<Vec<Option<String>>>, proj: &mut Projection) {
    let path = |f: &FieldPath, scopes: &Vec<Vec<Option<String>>>, proj: &mut Projection| {
        let steps = absolute(f, scopes);
        let refs: Vec<Option<&str>> = steps.iter().map(|s| s.as_deref()).collect();
        proj.insert(&refs);
    };
    let operand = |o: &Operand, scopes: &Vec<Vec<Option<String>>>, proj: &mut Projection| {
        o.each_path(&mut |f| path(f, scopes, proj));
    };
    match c {
        Cond::Const(_) => {}
        Cond::And(items) | Cond::Or(items) => items.iter().for_each(|i| project(i, scopes, proj)),
        Cond::Not(inner) => project(inner, scopes, proj),
        Cond::Quant {
            list: Operand::Field(list),
            body,
            ..
        } => {
            let mut elem = absolute(list, scopes);
            elem.push(None);
            // The elements must be kept (as empty shells at least) even if
            // the body reads none of their fields: `any c in L: true`.
            let refs: Vec<Option<&str>> = elem.iter().map(|s| s.as_deref()).collect();
            proj.touch(&refs);
            scopes.push(elem);
            project(body, scopes, proj);
            scopes.pop();
        }
        Cond::Quant { list, body, .. } => {
            // A derived list: its call reads fields; its elements are no
            // part of the event (the body names them as `Operand::Elem`,
            // never by path), so their scope is empty.
            operand(list, scopes, proj);
            scopes.push(Vec::new());
            project(body, scopes, proj);
            scopes.pop();
        }
        Cond::Cmp { lhs, rhs, .. } | Cond::StrField { lhs, rhs, .. } => {
            operand(lhs, scopes, proj);
            operand(rhs, scopes, proj);
        }
        Cond::InSet { lhs, .. } | Cond::Cidr { lhs, .. } | Cond::Str { lhs, .. } => {
            operand(lhs, scopes, proj)
        }
        Cond::InField { lhs, list, .. } => {
            operand(lhs, scopes, proj);
            operand(list, scopes, proj);
        }
        Cond::IsNull { operand: o, .. } | Cond::Truthy(o) => operand(o, scopes, proj),
        Cond::Exists(f) => operand(&Operand::Field(f.clone()), scopes, proj),
    }
}

/// A field path as absolute steps from the event root; an index keeps every
/// element (negative indexes count from the end).
fn absolute(f: &FieldPath, scopes: &[Vec<Option<String>>]) -> Vec<Option<String>> {
    let mut steps = match f.var {
        None => Vec::new(),
        Some(n) => scopes
            .get(scopes.len().wrapping_sub(n + 1))
            .cloned()
            .unwrap_or_default(),
    };
    for s in &f.segs {
        steps.push(match s {
            Seg::Key(k) => Some(k.clone()),
            Seg::Index(_) => None,
        });
    }
    steps
}

/// A field a rule's `when` requires to hold one of a set of strings, and
/// whether it is compared lower-cased (`iequals`; the strings are then
/// lower-cased too).
type Pin = (FieldPath, bool, BTreeSet<String>);

/// Largest set of values a rule is indexed under. A longer one (a
/// threat-intel list of a million user names) would cost an index as large
/// as the set test it stands for, which is one hash lookup per event
/// either way, so the rule is indexed by its other pins or guarded.
const MAX_PIN_VALUES: usize = 4096;

/// The fields `when` pins, most selective first: the source's known
/// discriminators, then any other pinned field (an annotation, a user
/// name), since an index on it still beats evaluating the rule everywhere.
fn pins(source: &str, when: &Cond) -> Vec<Pin> {
    let conjuncts: Vec<&Cond> = match when {
        Cond::And(items) => items.iter().collect(),
        other => vec![other],
    };
    let raw: Vec<(&FieldPath, bool, BTreeSet<&str>)> =
        conjuncts.iter().filter_map(|c| pinned(c)).collect();
    let known = DISPATCH_FIELDS
        .iter()
        .find(|(s, _)| *s == source)
        .map_or(&[][..], |(_, f)| *f);
    // A known field compared lower-cased is as selective as the field.
    let mut order: Vec<(FieldPath, bool)> = known
        .iter()
        .map(|f| FieldPath::from_keys(f.split('.')))
        .flat_map(|p| [(p.clone(), false), (p, true)])
        .collect();
    for (p, folded, _) in &raw {
        if !order.iter().any(|(q, f)| q == *p && f == folded) {
            order.push(((*p).clone(), *folded));
        }
    }
    let mut out = Vec::new();
    for (path, folded) in order {
        // Several conjuncts on one field: the values all of them allow.
        let mut values: Option<BTreeSet<&str>> = None;
        for (p, f, v) in &raw {
            if **p == path && *f == folded {
                values = Some(match values {
                    Some(prev) => prev.intersection(v).copied().collect(),
                    None => v.clone(),
                });
            }
        }
        if let Some(values) = values {
            out.push((
                path,
                folded,
                values.into_iter().map(str::to_string).collect(),
            ));
        }
    }
    out
}

/// Puts the rules checked on every event behind a test their `when`
/// requires (a leaf of its top-level `and`) when two or more share it: the
/// test shared by the most such rules, for each rule.
fn guard_always(plan: &mut Plan) {
    fn required(c: &PCond) -> Vec<usize> {
        match c {
            PCond::Leaf(l) => vec![*l],
            PCond::And(items) => items
                .iter()
                .filter_map(|i| match i {
                    PCond::Leaf(l) => Some(*l),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
    let rules = &plan.rules;
    for sp in plan.sources.values_mut() {
        let mut uses: BTreeMap<usize, usize> = BTreeMap::new();
        for &i in &sp.always {
            for l in required(&rules[i].when) {
                *uses.entry(l).or_default() += 1;
            }
        }
        let mut always = Vec::new();
        let mut guarded: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &i in &sp.always {
            let best = required(&rules[i].when)
                .into_iter()
                .map(|l| (uses[&l], std::cmp::Reverse(l)))
                .max();
            match best {
                Some((n, std::cmp::Reverse(l))) if n >= 2 => guarded.entry(l).or_default().push(i),
                _ => always.push(i),
            }
        }
        sp.always = always;
        sp.guarded = guarded.into_iter().collect();
    }
}

/// Indexes each rule under its first pin, and within a bucket under the
/// one of the rules' other pins that leaves the fewest rules to check for
/// an event (see [`refine_field`]).
fn build_dispatch(sp: &mut SourcePlan, rules: Vec<(usize, Vec<Pin>)>, folds: &mut Vec<FieldPath>) {
    // Per first field: value -> (rule, its other pins).
    type Members<'r> = BTreeMap<String, Vec<(usize, &'r [Pin])>>;
    let mut buckets: Vec<((FieldPath, bool), Members<'_>)> = Vec::new();
    for (i, pins) in &rules {
        let Some((path, folded, values)) = pins.first() else {
            sp.always.push(*i);
            continue;
        };
        let k = match buckets
            .iter()
            .position(|((p, f), _)| p == path && f == folded)
        {
            Some(k) => k,
            None => {
                buckets.push(((path.clone(), *folded), BTreeMap::new()));
                buckets.len() - 1
            }
        };
        for v in values {
            buckets[k]
                .1
                .entry(v.clone())
                .or_default()
                .push((*i, &pins[1..]));
        }
    }
    let mut key = |(path, folded): (FieldPath, bool)| KeyField {
        fold: folded.then(|| fold_number(folds, &path)),
        path,
    };
    for (first, by_value) in buckets {
        let mut index: ByValue<Bucket> = ByValue::of_values();
        for (value, members) in by_value {
            let second = refine_field(&members);
            let mut bucket = Bucket::default();
            let mut refine: ByValue<Vec<usize>> = ByValue::of_values();
            for (i, rest) in members {
                let pin = rest
                    .iter()
                    .find(|(p, f, _)| second.as_ref().is_some_and(|(sp, sf)| sp == p && sf == f));
                match pin {
                    Some((_, _, vals)) => {
                        for v in vals {
                            refine.entry(v).push(i);
                        }
                    }
                    None => bucket.rules.push(i),
                }
            }
            bucket.refine = second.map(|s| (key(s), refine));
            index.insert(&value, bucket);
        }
        sp.dispatch.push((key(first), index));
    }
}

/// The field to index a bucket's rules by within it: of the fields their
/// other pins name, the one that leaves the fewest rules to check per
/// event: those not pinning it, plus those pinning it divided among its
/// values (as if values were equally likely). A user name pinned by 250
/// rules beats a verb pinned by all of them with two values. `None` when
/// no rule pins another field. Ties go to the field met first.
fn refine_field(members: &[(usize, &[Pin])]) -> Option<(FieldPath, bool)> {
    type Field<'p> = ((&'p FieldPath, bool), usize, BTreeSet<&'p str>);
    let mut fields: Vec<Field<'_>> = Vec::new();
    for (_, rest) in members {
        for (p, folded, vals) in *rest {
            let at = match fields.iter().position(|(q, _, _)| *q == (p, *folded)) {
                Some(at) => at,
                None => {
                    fields.push(((p, *folded), 0, BTreeSet::new()));
                    fields.len() - 1
                }
            };
            fields[at].1 += 1;
            fields[at].2.extend(vals.iter().map(String::as_str));
        }
    }
    let left = |(_, n, vals): &Field<'_>| {
        (members.len() - n) as f64 + *n as f64 / vals.len().max(1) as f64
    };
    let mut best: Option<((&FieldPath, bool), f64)> = None;
    for f in &fields {
        let cost = left(f);
        if best.is_none_or(|(_, b)| cost < b) {
            best = Some((f.0, cost));
        }
    }
    best.map(|((p, folded), _)| (p.clone(), folded))
}

/// `event.field == "literal"` (either way round).
fn equality(c: &Cond) -> Option<(&FieldPath, &str)> {
    match c {
        Cond::Cmp {
            op: CmpOp::Eq,
            lhs: Operand::Field(f),
            rhs: Operand::Lit(Lit::Str(s)),
        }
        | Cond::Cmp {
            op: CmpOp::Eq,
            lhs: Operand::Lit(Lit::Str(s)),
            rhs: Operand::Field(f),
        } if f.var.is_none() => Some((f, s)),
        _ => None,
    }
}

/// `event.field in [string literals]`, not negated, of at most
/// [`MAX_PIN_VALUES`] literals: the field and the literals. Like `==`, it
/// holds exactly when the value is a string among them (a value of another
/// type, null or none: false), so one lookup of the value in the field's
/// equality group answers it. A longer list (a threat-intel feed of a
/// million names) keeps its own set: one lookup either way, and copying
/// it into the group doubled the start-up and the memory of bench_lists.
/// Dispatch pins a rule to the same memberships ([`pinned`]).
fn membership(c: &Cond) -> Option<(&FieldPath, Vec<&str>)> {
    match c {
        Cond::InSet {
            negated: false,
            lhs: Operand::Field(f),
            set,
        } if f.var.is_none() && set.len() <= MAX_PIN_VALUES => set
            .iter()
            .map(|l| match l {
                Lit::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|values| (f, values)),
        _ => None,
    }
}

/// `event.field iequals "literal"` or `iequals [literals]`, not negated:
/// the field and the literals (lower-cased when lowered).
fn ci_equality(c: &Cond) -> Option<(&FieldPath, Vec<&str>)> {
    match c {
        Cond::Str {
            negated: false,
            op:
                StrOp {
                    kind: StrOpKind::Equals,
                    ci: true,
                },
            lhs: Operand::Field(f),
            pats,
            ..
        } if f.var.is_none() => {
            let values = pats.iter().map(|p| match p {
                Pattern::Text(t) => Some(t.as_str()),
                Pattern::Regex(..) => None,
            });
            Some((f, values.collect::<Option<_>>()?))
        }
        _ => None,
    }
}

/// The event field a conjunct pins to a set of strings, whether it is
/// compared lower-cased, and the set.
fn pinned(c: &Cond) -> Option<(&FieldPath, bool, BTreeSet<&str>)> {
    if let Some((f, s)) = equality(c) {
        return Some((f, false, BTreeSet::from([s])));
    }
    if let Some((f, values)) = ci_equality(c) {
        return (values.len() <= MAX_PIN_VALUES).then(|| (f, true, values.into_iter().collect()));
    }
    membership(c).map(|(f, values)| (f, false, values.into_iter().collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{load, lower};

    fn planned(text: &str) -> (lower::RuleSet, Plan) {
        let loaded = load::load_texts(&[("t.ward", text)]);
        let set = lower::lower(&loaded);
        let plan = plan(&set);
        (set, plan)
    }

    #[test]
    fn string_groups_built_side_by_side_keep_their_fields_and_order() {
        // Three fields with 40 tests each: 120 patterns, enough to build
        // the automata on several threads.
        let mut text = String::from("source k8s.audit\n");
        for i in 0..40 {
            text += &format!(
                "rule u{i} {{ when userAgent startswith \"agent-{i}/\" }}\n\
                 rule n{i} {{ when objectRef.name contains \"name-{i}-\" }}\n\
                 rule s{i} {{ when any c in requestObject.spec.containers: c.image endswith \":tag{i}\" }}\n"
            );
        }
        let (_, p) = planned(&text);
        assert_eq!(p.str_groups.len(), 3);
        let fields: Vec<Vec<&str>> = (p.str_groups.iter())
            .map(|g| {
                g.path
                    .segs
                    .iter()
                    .filter_map(|s| match s {
                        Seg::Key(k) => Some(k.as_str()),
                        Seg::Index(_) => None,
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            fields,
            [vec!["userAgent"], vec!["objectRef", "name"], vec!["image"]]
        );
        for (g, word) in p
            .str_groups
            .iter()
            .zip(["agent-7/x", "a-name-7-b", "x:tag7"])
        {
            assert_eq!(g.patterns.len(), 40);
            // Each group's automaton is its own: it finds its own pattern,
            // and only that one.
            let mut set = g.new_set();
            g.regex
                .which_overlapping_matches(&Input::new(word), &mut set);
            let found: Vec<usize> = set.iter().map(|p| p.as_usize()).collect();
            assert_eq!(found, [7], "{:?}", g.path);
            for other in ["agent-7/x", "a-name-7-b", "x:tag7"]
                .iter()
                .filter(|w| **w != word)
            {
                assert!(!g.regex.is_match(*other), "{:?} matched {other}", g.path);
            }
        }
    }

    #[test]
    fn shares_identical_predicates() {
        let (_, p) = planned(
            "source k8s.audit\nmacro pod = objectRef.resource == \"pods\"\n\
             rule a { when pod and verb == \"create\" }\nrule b { when pod and verb == \"delete\" }\n\
             rule c { when objectRef.resource == \"pods\" and user.username matches r\"^sys\" }\n",
        );
        assert_eq!(p.leaf_uses, 6);
        assert_eq!(p.leaves.len(), 4, "pods test stored once: {:#?}", p.leaves);
        assert_eq!(
            p.rules[0].when,
            PCond::And(vec![PCond::Leaf(0), PCond::Leaf(1)])
        );
        assert_eq!(
            p.rules[1].when,
            PCond::And(vec![PCond::Leaf(0), PCond::Leaf(2)])
        );
    }

    /// A macro call is expanded before planning: two rules calling one
    /// macro share the expansion's tests with each other and with the
    /// same test written out.
    #[test]
    fn macro_calls_share_predicates() {
        let (_, p) = planned(
            "source k8s.audit
macro res(x, v) = objectRef.resource == x and verb == v
             rule a { when res(\"pods\", \"create\") }
rule b { when res(\"pods\", \"delete\") }
             rule c { when objectRef.resource == \"pods\" and verb == \"create\" }
",
        );
        assert_eq!(p.leaf_uses, 6);
        assert_eq!(p.leaves.len(), 3, "three distinct tests: {:#?}", p.leaves);
        assert_eq!(p.rules[0].when, p.rules[2].when);
        assert_eq!(
            p.rules[1].when,
            PCond::And(vec![PCond::Leaf(0), PCond::Leaf(2)])
        );
    }

    /// Sets are known by their digest: a named list and an inline list of
    /// the same values are one leaf; a different order, value, field or
    /// negation is another. A set longer than [`MAX_PIN_VALUES`] does not
    /// index its rule.
    #[test]
    fn sets_are_shared_by_their_values() {
        let big: Vec<String> = (0..=MAX_PIN_VALUES).map(|i| format!("\"u{i}\"")).collect();
        let big = big.join(", ");
        let (_, p) = planned(&format!(
            "source k8s.audit\nlist feed = [{big}]\nlist two = [\"a\", \"b\"]\n\
             rule a {{ when user.username in feed }}\nrule b {{ when user.username in [{big}] }}\n\
             rule c {{ when user.username not in feed }}\nrule d {{ when verb in feed }}\n\
             rule e {{ when verb in two }}\nrule f {{ when verb in [\"a\", \"b\"] }}\n\
             rule g {{ when verb in [\"b\", \"a\"] }}\nrule h {{ when verb in [\"a\", \"c\"] }}\n"
        ));
        let leaf = |r: usize| match &p.rules[r].when {
            PCond::Leaf(l) => *l,
            other => panic!("rule {r}: {other:?}"),
        };
        assert_eq!(leaf(0), leaf(1));
        assert_eq!(leaf(4), leaf(5));
        let distinct: BTreeSet<usize> = [0, 2, 3, 4, 6, 7].into_iter().map(leaf).collect();
        assert_eq!(distinct.len(), 6, "{:#?}", p.leaves);
        let sp = &p.sources["k8s.audit"];
        let unindexed: Vec<usize> = (sp.always.iter().copied())
            .chain(
                sp.guarded
                    .iter()
                    .flat_map(|(_, rules)| rules.iter().copied()),
            )
            .collect();
        for r in [0, 1, 2, 3] {
            assert!(unindexed.contains(&r), "rule {r}: {unindexed:?}");
        }
        assert!(!unindexed.contains(&4), "a short list indexes its rule");
    }

    #[test]
    fn rules_checked_on_every_event_share_a_required_test() {
        let (_, p) = planned(
            "source k8s.audit\n\
             rule a { when responseStatus.code >= 500 and userAgent startswith \"a\" }\n\
             rule b { when userAgent startswith \"b\" and responseStatus.code >= 500 }\n\
             rule c { when responseStatus.code >= 500 or userAgent startswith \"c\" }\n\
             rule d { when userAgent contains \"d\" and not (responseStatus.code >= 500) }\n\
             rule e { when userAgent contains \"e\" }\n",
        );
        let sp = &p.sources["k8s.audit"];
        // a and b require the shared test; c (an or), d (a negation) and e
        // (a test of its own) are checked on every event.
        assert_eq!(sp.guarded.len(), 1, "{:?}", sp.guarded);
        let (leaf, rules) = &sp.guarded[0];
        assert_eq!(rules, &[0, 1]);
        let shared = format!("{:?}", p.leaves[*leaf]);
        assert!(
            shared.contains("responseStatus") && shared.contains("500"),
            "{shared}"
        );
        assert_eq!(sp.always, [2, 3, 4]);
    }

    #[test]
    fn folds_constants() {
        let (_, p) = planned("source k8s.audit\nrule a { when verb == \"get\" and not false }\nrule b { when false or true }\n");
        assert_eq!(p.rules[0].when, PCond::Leaf(0));
        assert_eq!(p.rules[1].when, PCond::Const(true));
    }

    /// A source's dispatch as `field=value [and field=value] -> rules`.
    fn dispatch_lines(sp: &SourcePlan) -> Vec<String> {
        let name = |f: &FieldPath| {
            f.segs
                .iter()
                .map(|s| match s {
                    Seg::Key(k) => k.clone(),
                    Seg::Index(i) => i.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".")
        };
        // `~=` for a field compared lower-cased.
        let eq = |k: &KeyField| if k.fold.is_some() { "~=" } else { "=" };
        let mut lines = Vec::new();
        for (f, m) in &sp.dispatch {
            for (v, b) in m {
                lines.push(format!("{}{}{v} -> {:?}", name(&f.path), eq(f), b.rules));
                if let Some((g, refine)) = &b.refine {
                    for (v2, rs) in refine {
                        lines.push(format!(
                            "{}{}{v} and {}{}{v2} -> {rs:?}",
                            name(&f.path),
                            eq(f),
                            name(&g.path),
                            eq(g)
                        ));
                    }
                }
            }
        }
        lines.sort();
        lines
    }

    #[test]
    fn dispatches_on_the_most_selective_field() {
        let (_, p) = planned(
            "source k8s.audit\n\
             rule a { when verb == \"create\" and objectRef.resource in [\"pods\", \"deployments\"] }\n\
             rule b { when verb in [\"get\", \"list\"] }\n\
             rule c { when user.username == \"x\" or verb == \"get\" }\n\
             rule d { when objectRef.subresource == \"exec\" and objectRef.resource == \"pods\" }\n",
        );
        let sp = &p.sources["k8s.audit"];
        assert_eq!(
            dispatch_lines(sp),
            [
                "objectRef.resource=deployments -> []",
                "objectRef.resource=deployments and verb=create -> [0]",
                "objectRef.resource=pods -> []",
                "objectRef.resource=pods and verb=create -> [0]",
                "objectRef.subresource=exec -> []",
                "objectRef.subresource=exec and objectRef.resource=pods -> [3]",
                "verb=get -> [1]",
                "verb=list -> [1]",
            ]
        );
        assert_eq!(sp.always, [2], "an or cannot dispatch");
    }

    /// `iequals` pins and groups like `==` and `in`, on the lower-cased
    /// value (`~=`): its literals lower-cased as the evaluator lower-cases
    /// them, its tables apart from the exact ones of the same field.
    #[test]
    fn case_insensitive_equality_dispatches_and_groups() {
        let (_, p) = planned(
            "source k8s.audit\n\
             rule a { when verb iequals \"CREATE\" and objectRef.resource iequals [\"Pods\", \"Secrets\"] }\n\
             rule b { when verb iequals [\"Get\", \"LIST\"] }\n\
             rule c { when verb == \"get\" }\n\
             rule d { when objectRef.resource iequals \"PODS\" and user.username iequals \"\u{212A}ELVIN\" }\n\
             rule e { when objectRef.resource iequals \"Pods\" and user.username iequals \"İ\" }\n\
             rule f { when user.username not iequals \"x\" and verb == \"list\" }\n\
             rule g { when user.username iequals \"ADMIN\" or verb == \"watch\" }\n",
        );
        let sp = &p.sources["k8s.audit"];
        assert_eq!(
            dispatch_lines(sp),
            [
                "objectRef.resource~=pods -> [0]",
                "objectRef.resource~=pods and user.username~=i\u{307} -> [4]",
                "objectRef.resource~=pods and user.username~=kelvin -> [3]",
                "objectRef.resource~=secrets -> []",
                "objectRef.resource~=secrets and verb~=create -> [0]",
                "verb=get -> [2]",
                "verb=list -> [5]",
                "verb~=get -> [1]",
                "verb~=list -> [1]",
            ]
        );
        assert_eq!(sp.always, [6], "an or cannot dispatch");
        // One fold per field, whichever tables read it.
        let mut folds: Vec<String> = p.folds.iter().map(dotted).collect();
        folds.sort();
        assert_eq!(folds, ["objectRef.resource", "user.username", "verb"]);
        // Equality groups: the exact `verb` tests (two), and every
        // field's `iequals` tests, one test or several; `not iequals`
        // stays a string test.
        let mut groups: Vec<String> = p
            .eq_groups
            .iter()
            .map(|g| {
                let mut values: Vec<String> = g
                    .leaves
                    .iter()
                    .map(|(v, ids)| format!("{v}:{ids:?}"))
                    .collect();
                values.sort();
                let op = if g.fold.is_some() { "~=" } else { "=" };
                format!("{}{op}{}", dotted(&g.path), values.join(" "))
            })
            .collect();
        groups.sort();
        let leaf = |text: &str| {
            p.leaves
                .iter()
                .position(|l| format!("{l:?}").contains(text))
                .unwrap_or_else(|| panic!("{text}: {:#?}", p.leaves))
        };
        let (create, pods_secrets, get_list, pods) = (
            leaf("\"create\""),
            leaf("\"secrets\""),
            leaf("\"get\"), Text(\"list"),
            leaf("[Text(\"pods\")]"),
        );
        let (get, list, watch) = (leaf("Str(\"get"), leaf("Str(\"list"), leaf("Str(\"watch"));
        let (kelvin, dotted_i, admin) = (leaf("kelvin"), leaf(r"i\u{307}"), leaf("admin"));
        assert_eq!(
            groups,
            [
                format!(
                    "objectRef.resource~=pods:[{pods_secrets}, {pods}] secrets:[{pods_secrets}]"
                ),
                format!("user.username~=admin:[{admin}] i\u{307}:[{dotted_i}] kelvin:[{kelvin}]"),
                format!("verb=get:[{get}] list:[{list}] watch:[{watch}]"),
                format!("verb~=create:[{create}] get:[{get_list}] list:[{get_list}]"),
            ]
        );
        let negated = leaf("negated: true");
        assert_eq!(p.leaf_group[negated], None);
        assert!(p.leaf_str_group.iter().all(Option::is_none));
    }

    #[test]
    fn a_bucket_is_refined_by_the_field_that_leaves_fewest_rules() {
        // Secrets rules: three pin a user besides the verb, one only the
        // verb. By verb, each read would check all four; by user, a read
        // checks the verb-only rule and at most one other.
        let (_, p) = planned(
            "source k8s.audit\n\
             rule a { when objectRef.resource == \"secrets\" and verb in [\"get\", \"list\"] and user.username == \"u1\" }\n\
             rule b { when objectRef.resource == \"secrets\" and verb in [\"get\", \"list\"] and user.username == \"u2\" }\n\
             rule c { when objectRef.resource == \"secrets\" and verb == \"get\" and user.username in [\"u3\", \"u4\"] }\n\
             rule d { when objectRef.resource == \"secrets\" and verb == \"list\" }\n\
             rule e { when objectRef.resource == \"pods\" and verb == \"create\" }\n\
             rule f { when objectRef.resource == \"pods\" and verb == \"delete\" and user.username == \"u1\" }\n",
        );
        assert_eq!(
            dispatch_lines(&p.sources["k8s.audit"]),
            [
                "objectRef.resource=pods -> []",
                "objectRef.resource=pods and verb=create -> [4]",
                "objectRef.resource=pods and verb=delete -> [5]",
                "objectRef.resource=secrets -> [3]",
                "objectRef.resource=secrets and user.username=u1 -> [0]",
                "objectRef.resource=secrets and user.username=u2 -> [1]",
                "objectRef.resource=secrets and user.username=u3 -> [2]",
                "objectRef.resource=secrets and user.username=u4 -> [2]",
            ]
        );
    }

    #[test]
    fn value_tables_spread_values_alike_but_in_the_middle() {
        let rules: String = (0..300)
            .map(|i| {
                format!(
                    "rule r{i} {{ when user.username == \"system:serviceaccount:ns-{i:03}:default\" and objectRef.namespace == \"n{i}\" }}\n"
                )
            })
            .collect();
        let (_, p) = planned(&format!("source k8s.audit\n{rules}"));
        assert_eq!(p.eq_groups.len(), 2);
        for g in &p.eq_groups {
            assert_eq!(g.leaves.len(), 300);
            assert!(
                g.leaves.longest_probe() <= 12,
                "{}",
                g.leaves.longest_probe()
            );
        }
    }

    #[test]
    fn projects_only_what_rules_read() {
        let (_, p) = planned(
            "source k8s.audit\nrule a { when objectRef.resource == \"pods\" and \
             any c in requestObject.spec.containers: c.securityContext.privileged == true \
             except sourceIPs[0] in cidr [\"10.0.0.0/8\"] }\n",
        );
        let paths = p.sources["k8s.audit"].projection.paths();
        assert_eq!(
            paths,
            [
                "objectRef.resource",
                "requestObject.spec.containers[].securityContext.privileged",
                "sourceIPs[]"
            ]
        );
    }

    /// Calls read their arguments' fields, and are neither grouped nor
    /// dispatch keys; the rules' plain guards still index them.
    #[test]
    fn derived_values_are_projected_but_not_grouped_or_indexed() {
        let (_, p) = planned(
            "source k8s.audit\n\
             rule a { when lower(verb) == \"get\" }\n\
             rule b { when lower(verb) == \"list\" }\n\
             rule c { when lower(userAgent) contains \"curl\" }\n\
             rule d { when lower(userAgent) contains \"wget\" }\n\
             rule e { when objectRef.subresource == \"exec\" and any v in query(requestURI, \"command\"): v == \"sh\" }\n\
             rule f { when len(user.groups) > 1 and \"x\" in query(requestURI, \"c\") }\n",
        );
        assert!(p.eq_groups.is_empty(), "{:#?}", p.eq_groups);
        assert!(p.str_groups.is_empty(), "{:#?}", p.str_groups);
        let sp = &p.sources["k8s.audit"];
        assert_eq!(sp.dispatch.len(), 1, "only the subresource pin");
        assert_eq!(dotted(&sp.dispatch[0].0.path), "objectRef.subresource");
        assert_eq!(
            sp.projection.paths(),
            [
                "objectRef.subresource",
                "requestURI",
                "user.groups",
                "userAgent",
                "verb"
            ]
        );
    }

    /// `a.b.0`: a path's segments joined by dots.
    fn dotted(p: &FieldPath) -> String {
        let segs: Vec<String> = p
            .segs
            .iter()
            .map(|s| match s {
                Seg::Key(k) => k.clone(),
                Seg::Index(i) => i.to_string(),
            })
            .collect();
        segs.join(".")
    }

    /// The grouped tests, as `path[/i]: leaf ids`, sorted.
    fn str_groups(p: &Plan) -> Vec<String> {
        let mut out: Vec<String> = p
            .str_groups
            .iter()
            .map(|g| {
                let name = dotted(&g.path);
                let ids: Vec<String> = g.leaves.iter().map(|t| t.leaf.to_string()).collect();
                let list = g
                    .list
                    .as_ref()
                    .map_or(String::new(), |l| format!("{}[]/", dotted(l)));
                format!(
                    "{list}{}{}: {}",
                    name,
                    if g.folded { "/i" } else { "" },
                    ids.join(",")
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn groups_string_tests_per_field_and_case_mode() {
        let (_, p) = planned(
            "source k8s.audit\n\
             rule a { when userAgent startswith \"kubectl/\" }\n\
             rule b { when userAgent not contains [\"curl\", \"wget\"] }\n\
             rule c { when userAgent glob \"kube-*\" or userAgent matches r\"^x\\d\" }\n\
             rule d { when userAgent istartswith \"KUBECTL\" and userAgent imatches r\"v1\" }\n\
             rule e { when user.username endswith \"@example.com\" }\n\
             rule f { when user.username iendswith \"@EXAMPLE.COM\" }\n\
             rule g { when requestURI contains \"?\" and requestURI contains \"?\" }\n\
             rule h { when any c in requestObject.spec.containers: c.image contains \"x\" }\n\
             rule i { when any c in requestObject.spec.containers: c.image contains \"y\" }\n",
        );
        // Leaves: 0-3 userAgent cased, 4-5 userAgent /i, 6 and 7 the only
        // test of their field and mode, 8 one test (shared), 9-10
        // quantifiers whose body is one string test of the element.
        assert_eq!(
            str_groups(&p),
            [
                "requestObject.spec.containers[]/image: 9,10",
                "userAgent/i: 4,5",
                "userAgent: 0,1,2,3"
            ]
        );
        for id in [6, 7, 8] {
            assert_eq!(p.leaf_str_group[id], None, "leaf {id}: {:?}", p.leaves[id]);
        }
        let cased = p.str_groups.iter().find(|g| !g.folded).unwrap();
        assert_eq!(
            cased.patterns,
            [
                (r"\Akubectl/".to_string(), false),
                ("curl".to_string(), false),
                ("wget".to_string(), false),
                ("^(?s:kube\\-.*)$".to_string(), false),
                (r"^x\d".to_string(), false),
            ]
        );
        assert!(cased.leaves[1].negated);
        // The i-forms: literal text is lower-cased and matched as is (the
        // value is lower-cased too); regexes keep their case flag.
        let folded = p.str_groups.iter().find(|g| g.folded).unwrap();
        assert_eq!(
            folded.patterns,
            [(r"\Akubectl".to_string(), false), ("v1".to_string(), true)]
        );
        let mut set = folded.new_set();
        folded.search("kubectl/v1.29", &mut set);
        assert!(folded.holds(0, &set) && folded.holds(1, &set));
        folded.search("xkubectl", &mut set);
        assert!(!folded.holds(0, &set) && !folded.holds(1, &set));
    }

    #[test]
    fn groups_only_quantifiers_whose_body_is_one_element_test() {
        let (_, p) = planned(
            "source k8s.audit\n\
             rule a { when any c in requestObject.spec.containers: c.image contains \"x\" }\n\
             rule b { when all c in requestObject.spec.containers: c.image not icontains \"y\" }\n\
             rule c { when all c in requestObject.spec.containers: c.image icontains \"z\" }\n\
             rule d { when any c in requestObject.spec.containers: c.image contains \"x\" and c.name contains \"n\" }\n\
             rule e { when any c in requestObject.spec.containers: userAgent contains \"u\" }\n\
             rule f { when any g in user.groups: g startswith \"system:\" }\n\
             rule g { when any g in user.groups: g endswith \":masters\" }\n",
        );
        assert_eq!(
            str_groups(&p),
            [
                "requestObject.spec.containers[]/image/i: 1,2",
                "user.groups[]/: 5,6"
            ]
        );
        assert_eq!(p.str_groups[0].leaves[0].all, Some(true));
        for id in [0, 3, 4] {
            assert_eq!(p.leaf_str_group[id], None, "leaf {id}: {:?}", p.leaves[id]);
        }
    }

    #[test]
    fn string_groups_share_patterns_and_split_at_the_size_limit() {
        // `contains "x"` and `not contains "x"` share one pattern.
        let (_, p) = planned(
            "source k8s.audit\nrule a { when userAgent contains \"x\" }\n\
             rule b { when userAgent not contains \"x\" }\n",
        );
        assert_eq!(p.str_groups.len(), 1);
        assert_eq!(p.str_groups[0].patterns.len(), 1);
        // Each of these regexes fits the limit alone, not all together: the
        // group is split, and every test is still answered by some group.
        let big = r"\w{5}";
        let mut text = String::from("source k8s.audit\n");
        for i in 0..12 {
            text.push_str(&format!(
                "rule r{i} {{ when userAgent matches r\"{big}{i}\" }}\n"
            ));
        }
        let (_, p) = planned(&text);
        assert!(
            p.str_groups.len() > 1,
            "split: {} group(s)",
            p.str_groups.len()
        );
        assert!(p.leaf_str_group.iter().all(Option::is_some));
    }

    #[test]
    fn short_string_memberships_join_the_equality_group_long_ones_keep_their_set() {
        let long: Vec<String> = (0..=MAX_PIN_VALUES).map(|i| format!("\"u{i}\"")).collect();
        let (_, p) = planned(&format!(
            "source k8s.audit\n\
             rule a {{ when verb == \"get\" }}\n\
             rule b {{ when verb in [\"get\", \"list\"] }}\n\
             rule c {{ when verb not in [\"get\", \"list\"] }}\n\
             rule d {{ when user.username == \"root\" }}\n\
             rule e {{ when user.username in [{}] }}\n",
            long.join(", ")
        ));
        let group_of = |needle: &str| {
            let id = (0..p.leaves.len())
                .find(|&l| format!("{:?}", p.leaves[l]).contains(needle))
                .unwrap_or_else(|| panic!("no leaf with {needle}"));
            p.leaf_group[id]
        };
        // `in` shares verb's group with `==`; `not in` does not.
        assert!(group_of("InSet { negated: false").is_some());
        assert!(group_of("InSet { negated: true").is_none());
        // A list longer than MAX_PIN_VALUES is not copied into a group.
        assert!(group_of("u4096").is_none());
        assert!(p.eq_groups.iter().all(|g| g.leaves.len() < 100));
    }

    #[test]
    fn anchored_literals_are_compared_in_place_of_the_automaton() {
        let (_, p) = planned(
            "source k8s.audit\n\
             rule a { when user.username startswith [\"system:\", \"eks:\"] }\n\
             rule b { when user.username endswith \"@example.com\" }\n\
             rule c { when any g in user.groups: g endswith \":masters\" }\n\
             rule d { when any g in user.groups: g startswith \"dev:\" }\n\
             rule e { when userAgent startswith \"kubectl/\" }\n\
             rule f { when userAgent contains \"curl\" }\n",
        );
        let by_path = |name: &str| {
            let label = |g: &&StrGroup| match &g.list {
                Some(l) => format!("{}[]/{}", dotted(l), dotted(&g.path)),
                None => dotted(&g.path),
            };
            (p.str_groups.iter())
                .find(|g| label(g) == name)
                .unwrap_or_else(|| panic!("no group of {name}: {:#?}", p.str_groups))
        };
        assert!(by_path("user.username").anchored.is_some());
        assert!(by_path("user.groups[]/").anchored.is_some());
        // A `contains` needs the automaton: the whole group keeps it.
        assert!(by_path("userAgent").anchored.is_none());
        let mut set = by_path("user.username").new_set();
        for (name, a, b) in [
            ("system:node:n1", true, false),
            ("eks:addon-manager", true, false),
            ("alice@example.com", false, true),
            ("system:x@example.com", true, true),
            ("xsystem:", false, false),
            ("", false, false),
        ] {
            let g = by_path("user.username");
            g.search(name, &mut set);
            assert_eq!((g.holds(0, &set), g.holds(1, &set)), (a, b), "{name}");
        }
    }

    /// Patterns for the anchored-literal property: short texts over an
    /// alphabet with regex metacharacters and multi-byte characters.
    fn literal_text() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(vec![
                "a", "b", ":", ".", "*", "\\", "é", "😀", "ab", "(", "$",
            ]),
            0..5,
        )
        .prop_map(|parts| parts.concat())
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        #[test]
        fn anchored_literals_find_what_the_automaton_finds(
            lits in proptest::collection::vec(
                (proptest::sample::select(vec![StrOpKind::StartsWith, StrOpKind::EndsWith, StrOpKind::Equals]), literal_text()),
                1..12,
            ),
            texts in proptest::collection::vec(literal_text(), 1..20),
        ) {
            let mut patterns = Vec::new();
            let mut forms = Vec::new();
            for (kind, text) in &lits {
                let op = StrOp { kind: *kind, ci: false };
                let pat = Pattern::Text(text.clone());
                let src = pattern_source(op, &pat).expect("a literal");
                if !patterns.contains(&src) {
                    patterns.push(src);
                    forms.push(anchored_literal(op, &pat));
                }
            }
            let regex = pattern::regex_set(&patterns).expect("regex");
            let anchored = Anchored::of(&forms).expect("all anchored");
            for text in &texts {
                let mut want = regex_automata::PatternSet::new(patterns.len());
                regex.which_overlapping_matches(&Input::new(text), &mut want);
                let mut got = regex_automata::PatternSet::new(patterns.len());
                anchored.search(text.as_bytes(), &mut got);
                let ids = |s: &regex_automata::PatternSet| s.iter().map(|p| p.as_usize()).collect::<Vec<_>>();
                proptest::prop_assert_eq!(ids(&got), ids(&want), "{:?} in {:?}", text, patterns);
            }
        }
    }
}

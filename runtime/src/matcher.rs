//! The planned matcher: dispatch to candidate rules, shared leaf predicates
//! evaluated at most once per event, over the extracted fields. Groups of
//! tests of one field are answered together: an equality group by one
//! lookup, a string group by one search, a network group by one lookup per
//! prefix length; each marks the tests it makes true, so an event costs
//! what it matches rather than a test per rule ([`Gate`]).

use std::collections::HashMap;
use std::net::IpAddr;

use ward_compiler::doc::{Doc, Kind};
use ward_compiler::lower::{Cond, FieldPath, Operand, OutPiece, Rule, RuleSet, Seg, Stateful};
use ward_compiler::pattern::{v4_mask, v6_mask};
use ward_compiler::plan::{self, KeyField, PCond, PatternSet, Plan, Projection};

use crate::decode::{self, Detect};
use crate::drift::Drift;
use crate::eval;

/// Top-level keys that mark a wrapper or a mapped format; a line holding one
/// takes the full decoding path.
pub const WRAPPER_KEYS: &[&str] = &[
    "Records",
    "items",
    "logEvents",
    "events",
    "awslogs",
    "protoPayload",
    "records",
    "properties",
];

#[derive(Clone)]
pub struct Matcher {
    pub rules: RuleSet,
    pub plan: Plan,
    /// What to extract from a line of unknown source: every source's paths,
    /// the detection fields, the wrapper keys (presence only), and what
    /// alerts show: every rule's fields (those its output names among
    /// them) and each source's time field.
    pub projection: Projection,
    /// The schemas' types by node of `projection`.
    pub drift: Drift,
    /// Per source, the paths of its time fields, in order.
    times: Vec<(String, Vec<FieldPath>)>,
    /// The paths of `WRAPPER_KEYS`.
    wrappers: Vec<FieldPath>,
    /// The paths of the fields that name a source, by `Detect`.
    detection: Vec<FieldPath>,
    /// Per leaf: what answers it once per event for all its uses.
    gates: Vec<Gate>,
    /// Per string group, per pattern: the leaves (ids) its search marks
    /// true in the memo when a value matches the pattern ([`Gate::Marked`]).
    marks: Vec<Vec<Vec<u32>>>,
    /// `in cidr` tests of one field, each group's answered at once
    /// ([`Gate::Net`]).
    nets: Vec<NetGroup>,
}

/// How a leaf is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gate {
    /// Evaluated on first use, then read from the memo.
    Memo,
    /// By its equality group's lookup (index), which marks the leaves that
    /// hold true in the memo; the others are false.
    Eq(u32),
    /// By its string group's search (index), which marks the leaves that
    /// hold true in the memo: a test that is not negated and not an `all`
    /// quantifier holds when a value matched one of its patterns, so with
    /// hundreds of rules testing one field, an event costs its matches,
    /// not a test per rule.
    Marked(u32),
    /// By its network group (index): the address is read once and looked
    /// up per prefix length, marking the tests whose networks hold it.
    Net(u32),
}

/// Whether leaf `id`, answered by `gate`, has its answer in the memo this
/// event (a group's leaves once the group ran: those it did not mark are
/// false).
#[inline(always)]
fn answered<D>(gate: Gate, id: usize, st: &State<'_, D>) -> bool {
    match gate {
        Gate::Memo => st.memo[id] != 0,
        Gate::Eq(g) => st.groups[g as usize],
        Gate::Marked(g) => st.str_state[g as usize] != 0,
        Gate::Net(g) => st.nets[g as usize],
    }
}

/// The `in cidr` tests (not negated; `any` quantifiers over a list of
/// addresses, or one address) of one field, or of one path in each element
/// of one list: an address is read once per event and looked up once per
/// prefix length its networks have, instead of once per test and network.
#[derive(Clone, Debug)]
struct NetGroup {
    /// For quantifiers: the list, whose every element's `path` (relative
    /// to the element, `var` 0) is an address.
    list: Option<FieldPath>,
    path: FieldPath,
    /// Per prefix length (as a mask): network -> the tests (leaf ids)
    /// naming it. IPv4 networks also hold IPv4-mapped IPv6 addresses, as
    /// [`ward_compiler::pattern::Cidr::contains`] says.
    v4: Vec<(u32, HashMap<u32, Vec<u32>>)>,
    v6: Vec<(u128, HashMap<u128, Vec<u32>>)>,
}

impl NetGroup {
    fn add(&mut self, net: &ward_compiler::pattern::Cidr, leaf: u32) {
        fn entry<T: Copy + Eq + std::hash::Hash>(
            by: &mut Vec<(T, HashMap<T, Vec<u32>>)>,
            mask: T,
            net: T,
            leaf: u32,
        ) {
            let at = match by.iter().position(|(m, _)| *m == mask) {
                Some(at) => at,
                None => {
                    by.push((mask, HashMap::new()));
                    by.len() - 1
                }
            };
            let leaves = by[at].1.entry(net).or_default();
            if !leaves.contains(&leaf) {
                leaves.push(leaf);
            }
        }
        // A network's address has no host bits (`Cidr::parse`).
        match net.addr {
            IpAddr::V4(a) => entry(&mut self.v4, v4_mask(net.prefix), u32::from(a), leaf),
            IpAddr::V6(a) => entry(&mut self.v6, v6_mask(net.prefix), u128::from(a), leaf),
        }
    }

    /// Marks true the tests whose networks hold the address `text`
    /// (nothing if it is not one).
    fn mark(&self, text: &str, memo: &mut [u8]) {
        let Some(ip) = ward_compiler::pattern::parse_ip(text) else {
            return;
        };
        let v4 = match ip {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(a) => a.to_ipv4_mapped(),
        };
        let mut hit = |leaves: Option<&Vec<u32>>| {
            for &leaf in leaves.into_iter().flatten() {
                memo[leaf as usize] = 2;
            }
        };
        if let Some(a) = v4 {
            let a = u32::from(a);
            for (mask, nets) in &self.v4 {
                hit(nets.get(&(a & mask)));
            }
        }
        if let IpAddr::V6(a) = ip {
            let a = u128::from(a);
            for (mask, nets) in &self.v6 {
                hit(nets.get(&(a & mask)));
            }
        }
    }
}

/// Per-event scratch space, reused across events.
#[derive(Default)]
pub struct Scratch {
    /// Leaf results: 0 unknown, 1 false, 2 true.
    memo: Vec<u8>,
    /// Rules whose dispatch admits the event.
    admitted: Vec<usize>,
    /// Per equality group: whether it was looked up (its leaves that hold
    /// are then marked true in `memo`).
    groups: Vec<bool>,
    /// Per string group: 0 not searched yet, 1 a quantifier's list is
    /// missing or no list (each of its tests is false), 2 searched (into
    /// `found`).
    str_state: Vec<u8>,
    /// Per network group: whether its addresses were read (the tests they
    /// satisfy are then marked true in `memo`).
    nets: Vec<bool>,
    /// Per string group, what the search found.
    found: Vec<Found>,
    /// The lower-cased value, for the case-insensitive groups.
    folded: String,
    /// The lower-cased values the case-insensitive tables look up.
    folds: Folds,
    /// The rules that fired.
    pub candidates: Vec<usize>,
}

impl Matcher {
    pub fn new(mut rules: RuleSet) -> Matcher {
        let mut plan = plan::plan(&rules);
        let mut projection = Projection::default();
        for sp in plan.sources.values() {
            merge(&mut projection, &sp.projection);
        }
        for d in Detect::ALL.into_iter().filter(|d| d.fast()) {
            let steps: Vec<Option<&str>> = d.path().iter().map(|k| Some(*k)).collect();
            match d.presence_only() {
                true => projection.touch(&steps),
                false => projection.insert(&steps),
            }
        }
        for k in WRAPPER_KEYS {
            projection.touch(&[Some(k)]);
        }
        // What alerts show: their fields and the time (also the windows'
        // clock), each whole (an object read only in part is read again
        // whole from its text).
        for r in &rules.rules {
            for (_, f) in &r.fields {
                let steps: Vec<Option<&str>> = f
                    .segs
                    .iter()
                    .map(|s| match s {
                        Seg::Key(k) => Some(k.as_str()),
                        Seg::Index(_) => None,
                    })
                    .collect();
                projection.insert(&steps);
            }
        }
        let schemas = ward_compiler::schema::bundled();
        let mut times: Vec<(String, Vec<FieldPath>)> = schemas
            .names()
            .filter_map(|n| Some((n.to_string(), schemas.get(n)?)))
            .map(|(n, s)| {
                let paths = s.times.iter();
                (
                    n,
                    paths.map(|t| FieldPath::from_keys(t.split('.'))).collect(),
                )
            })
            .collect();
        // Only each source's first time field: a line without it is
        // decoded in full (`Matcher::line_time`).
        for path in times.iter().filter_map(|(_, paths)| paths.first()) {
            let keys = path.rooted_keys().unwrap_or_default();
            let steps: Vec<Option<&str>> = keys.into_iter().map(Some).collect();
            projection.insert(&steps);
        }
        projection.number();
        slot_paths(&projection, &mut plan, &mut rules);
        for path in times.iter_mut().flat_map(|(_, paths)| paths) {
            path.slot = projection.slot_of(path);
        }
        let slotted = |keys: &[&str]| {
            let mut path = FieldPath::from_keys(keys.iter().copied());
            path.slot = projection.slot_of(&path);
            path
        };
        let wrappers = WRAPPER_KEYS.iter().map(|k| slotted(&[k])).collect();
        let detection = Detect::ALL.iter().map(|d| slotted(d.path())).collect();
        let drift = Drift::new(&projection);
        let (gates, marks, nets) = gates(&plan);
        Matcher {
            rules,
            plan,
            projection,
            drift,
            times,
            wrappers,
            detection,
            gates,
            marks,
            nets,
        }
    }

    /// The source of `event` ([`decode::source_of`]), its fields found by
    /// slot.
    pub fn source_of<'a, D: Doc<'a>>(&self, event: D) -> Option<&'static str> {
        decode::source_by(|d| eval::get(event, &[], self.detection.get(d as usize)?))
    }

    /// The time of a line's extraction, which holds only each source's
    /// first time field: that field (`None` inside when the source has no
    /// other), or `None` when the line lacks it and the source has
    /// fallbacks, so that the line must be decoded in full.
    pub fn line_time<'a, D: Doc<'a>>(&self, source: &str, event: D) -> Option<Option<D>> {
        let Some((_, paths)) = self.times.iter().find(|(s, _)| s == source) else {
            return Some(None);
        };
        let first = paths.first().and_then(|p| eval::get(event, &[], p));
        match first.filter(|t| !t.is_null()) {
            None if paths.len() > 1 => None,
            time => Some(time),
        }
    }

    /// Whether `event`, taken as of `source`, holds one of the
    /// `WRAPPER_KEYS`. `protoPayload` is one unless the source is
    /// gcp.audit: Kubernetes API entries are mapped onto k8s.audit by the
    /// full decoding, other Cloud Audit Logs entries are read as they are.
    pub fn wrapped<'a, D: Doc<'a>>(&self, event: D, source: &str) -> bool {
        (WRAPPER_KEYS.iter().zip(&self.wrappers))
            .filter(|(k, _)| source != "gcp.audit" || **k != "protoPayload")
            .any(|(_, p)| eval::get(event, &[], p).is_some())
    }

    /// The time field of `event`, an event of `source`.
    pub fn time_of<'a, D: Doc<'a>>(&self, source: &str, event: D) -> Option<D> {
        let (_, paths) = self.times.iter().find(|(s, _)| s == source)?;
        paths
            .iter()
            .find_map(|p| eval::get(event, &[], p).filter(|t| !t.is_null()))
    }

    pub fn rule(&self, i: usize) -> &Rule {
        &self.rules.rules[i]
    }

    /// Fills `scratch.candidates` with the rules that fire on `event` of
    /// `source`, in rule order.
    pub fn matching<'a, D: Doc<'a>>(&self, source: &str, event: D, scratch: &mut Scratch) {
        scratch.candidates.clear();
        let Some(sp) = self.plan.sources.get(source) else {
            return;
        };
        scratch.memo.clear();
        scratch.memo.resize(self.plan.leaves.len(), 0);
        scratch.groups.clear();
        scratch.groups.resize(self.plan.eq_groups.len(), false);
        scratch.str_state.clear();
        scratch.str_state.resize(self.plan.str_groups.len(), 0);
        scratch.nets.clear();
        scratch.nets.resize(self.nets.len(), false);
        let Scratch {
            memo,
            admitted,
            groups,
            str_state,
            nets,
            found,
            folded,
            folds,
            candidates,
        } = scratch;
        folds.reset(self.plan.folds.len());
        admitted.clear();
        admitted.extend_from_slice(&sp.always);
        for (key, index) in &sp.dispatch {
            if let Some(bucket) = folds.value(event, key).and_then(|s| index.get(s)) {
                admitted.extend_from_slice(&bucket.rules);
                if let Some((second, refine)) = &bucket.refine {
                    let hit = folds.value(event, second).and_then(|v| refine.get(v));
                    admitted.extend_from_slice(hit.map_or(&[][..], Vec::as_slice));
                }
            }
        }
        let mut st = State {
            event,
            memo,
            groups,
            str_state,
            nets,
            found,
            folded,
            folds,
            vars: Vec::new(),
        };
        for (leaf, rules) in &sp.guarded {
            if self.holds(&PCond::Leaf(*leaf), &mut st) {
                admitted.extend_from_slice(rules);
            }
        }
        for &i in admitted.iter() {
            let r = &self.plan.rules[i];
            // A conjunction's items in place: most admitted rules of a
            // large set fail on an item answered already (a group's).
            let when = match &r.when {
                PCond::And(items) => items.iter().all(|c| self.known(c, &mut st)),
                when => self.known(when, &mut st),
            };
            if when && !r.excepts.iter().any(|e| self.known(e, &mut st)) {
                candidates.push(i);
            }
        }
        // Fired rules in rule order; only the few that fired are sorted.
        candidates.sort_unstable();
    }

    fn holds<'a, D: Doc<'a>>(&self, c: &PCond, st: &mut State<'_, D>) -> bool {
        match c {
            PCond::Const(b) => *b,
            PCond::And(items) => items.iter().all(|i| self.known(i, st)),
            PCond::Or(items) => items.iter().any(|i| self.known(i, st)),
            PCond::Not(inner) => !self.known(inner, st),
            PCond::Leaf(id) => {
                let gate = self.gates[*id];
                if gate != Gate::Memo {
                    if !answered(gate, *id, st) {
                        match gate {
                            Gate::Eq(g) => self.look_up(g as usize, st),
                            Gate::Marked(g) => self.search(g as usize, st),
                            Gate::Net(g) => self.addresses(g as usize, st),
                            Gate::Memo => {}
                        }
                    }
                    return st.memo[*id] == 2;
                }
                match st.memo[*id] {
                    1 => false,
                    2 => true,
                    _ => {
                        let r = match self.plan.leaf_str_group[*id] {
                            Some((g, k)) => self.str_hit(g, k, st),
                            None => eval::eval(&self.plan.leaves[*id], st.event, &mut st.vars),
                        };
                        st.memo[*id] = if r { 2 } else { 1 };
                        r
                    }
                }
            }
        }
    }

    /// [`Matcher::holds`], answered in place when `c` is a leaf this event
    /// has answered already (most leaves of most conditions, once the
    /// first rules ran): a condition's items cost a call only when they
    /// need work.
    #[inline(always)]
    fn known<'a, D: Doc<'a>>(&self, c: &PCond, st: &mut State<'_, D>) -> bool {
        if let PCond::Leaf(id) = c {
            if answered(self.gates[*id], *id, st) {
                return st.memo[*id] == 2;
            }
        }
        self.holds(c, st)
    }

    /// Marks the leaves of equality group `g` that the event's value
    /// satisfies true in the memo (the others are false): one hash lookup
    /// per group and event.
    fn look_up<'a, D: Doc<'a>>(&self, g: usize, st: &mut State<'_, D>) {
        st.groups[g] = true;
        let group = &self.plan.eq_groups[g];
        let value = match group.fold {
            None => eval::get(st.event, &[], &group.path).and_then(|v| v.as_str()),
            Some(i) => st.folds.get(i, st.event, &group.path),
        };
        for &leaf in value
            .and_then(|s| group.leaves.get(s))
            .into_iter()
            .flatten()
        {
            st.memo[leaf] = 2;
        }
    }

    /// Whether test `k` of string group `g` holds: the group's automaton
    /// runs once per event over the field's value (over each element's,
    /// for a group of quantifiers).
    fn str_hit<'a, D: Doc<'a>>(&self, g: usize, k: usize, st: &mut State<'_, D>) -> bool {
        let group = &self.plan.str_groups[g];
        if st.str_state[g] == 0 {
            self.search(g, st);
        }
        if st.str_state[g] != 2 {
            return false;
        }
        let found = &st.found[g];
        // A missing, null or non-string value makes the test false,
        // negated or not.
        let test = |i: usize| found.is_str[i] && group.holds(k, &found.sets[i]);
        match group.leaves[k].all {
            None => test(0),
            Some(false) => (0..found.n).any(test),
            Some(true) => (0..found.n).all(test),
        }
    }
}

impl Matcher {
    /// Reads network group `g`'s addresses in this event and marks the
    /// tests whose networks hold one.
    fn addresses<'a, D: Doc<'a>>(&self, g: usize, st: &mut State<'_, D>) {
        st.nets[g] = true;
        let group = &self.nets[g];
        let memo = &mut *st.memo;
        each_text(st.event, group.list.as_ref(), &group.path, |text| {
            if let Some(text) = text {
                group.mark(text, memo);
            }
        });
    }

    /// Runs string group `g` over this event's value (each element's, for
    /// a group of quantifiers) into `st.found[g]`, and marks the leaves
    /// its matches make true ([`Gate::Marked`]).
    fn search<'a, D: Doc<'a>>(&self, g: usize, st: &mut State<'_, D>) {
        let group = &self.plan.str_groups[g];
        if st.found.len() <= g {
            st.found.resize_with(g + 1, Found::default);
        }
        let found = &mut st.found[g];
        found.n = 0;
        let folded = &mut *st.folded;
        let searched = each_text(st.event, group.list.as_ref(), &group.path, |value| {
            found.push(group, value, folded)
        });
        st.str_state[g] = if searched { 2 } else { 1 };
        let marks = &self.marks[g];
        if st.str_state[g] != 2 || marks.is_empty() {
            return;
        }
        // A missing, null or non-string value matched nothing.
        for (set, _) in (found.sets.iter().zip(&found.is_str))
            .take(found.n)
            .filter(|(_, is_str)| **is_str)
        {
            for p in set.iter() {
                for &leaf in &marks[p.as_usize()] {
                    st.memo[leaf as usize] = 2;
                }
            }
        }
    }
}

/// Calls `f` with the text at `path` (`None`: missing, or not a string),
/// or, given a `list`, with the text at `path` in each of its elements
/// (`var` 0, as the evaluator binds a quantifier's element). `false` when
/// the list is missing or not a list (`f` is not called).
fn each_text<'a, D: Doc<'a>>(
    event: D,
    list: Option<&FieldPath>,
    path: &FieldPath,
    mut f: impl FnMut(Option<&str>),
) -> bool {
    let Some(list) = list else {
        f(eval::get(event, &[], path).and_then(|v| v.as_str()));
        return true;
    };
    let Some((l, Kind::Arr(len))) = eval::get(event, &[], list).map(|l| (l, l.kind())) else {
        return false;
    };
    for i in 0..len {
        f(l.at(i)
            .and_then(|item| eval::get(event, &[item], path))
            .and_then(|v| v.as_str()));
    }
    true
}

/// Per leaf, how it is answered; per string group and pattern, the leaves
/// a match marks true. A string test is marked by its group's search when
/// it is not negated and not an `all` quantifier: it then holds exactly
/// when some value searched (the one value, or any element) matched one of
/// its patterns.
fn gates(plan: &Plan) -> (Vec<Gate>, Vec<Vec<Vec<u32>>>, Vec<NetGroup>) {
    let mut gates: Vec<Gate> = (plan.leaf_group.iter())
        .map(|g| g.map_or(Gate::Memo, |g| Gate::Eq(g as u32)))
        .collect();
    let marks = (plan.str_groups.iter().enumerate())
        .map(|(g, group)| {
            let mut by_pattern = vec![Vec::new(); group.regex.pattern_len()];
            for t in group
                .leaves
                .iter()
                .filter(|t| !t.negated && t.all != Some(true))
            {
                gates[t.leaf] = Gate::Marked(g as u32);
                for &p in &t.patterns {
                    by_pattern[p].push(t.leaf as u32);
                }
            }
            match by_pattern.iter().all(Vec::is_empty) {
                true => Vec::new(),
                false => by_pattern,
            }
        })
        .collect();
    let mut nets: Vec<NetGroup> = Vec::new();
    for (id, leaf) in plan.leaves.iter().enumerate() {
        if gates[id] != Gate::Memo {
            continue;
        }
        let Some((list, path, cidrs)) = net_test(leaf) else {
            continue;
        };
        let g = match (nets.iter()).position(|n| n.list.as_ref() == list && &n.path == path) {
            Some(g) => g,
            None => {
                nets.push(NetGroup {
                    list: list.cloned(),
                    path: path.clone(),
                    v4: Vec::new(),
                    v6: Vec::new(),
                });
                nets.len() - 1
            }
        };
        for net in cidrs {
            nets[g].add(net, id as u32);
        }
        gates[id] = Gate::Net(g as u32);
    }
    (gates, marks, nets)
}

/// A network group as `ward explain` tells it.
pub struct NetSummary {
    pub list: Option<FieldPath>,
    pub path: FieldPath,
    /// The tests it answers (leaf ids).
    pub leaves: Vec<usize>,
    /// Distinct networks, and distinct prefix lengths (one lookup each).
    pub networks: usize,
    pub lengths: usize,
}

/// The `in cidr` tests the matcher of `plan` answers by network group.
pub fn network_groups(plan: &Plan) -> Vec<NetSummary> {
    let (gates, _, nets) = gates(plan);
    (nets.into_iter().enumerate())
        .map(|(g, n)| NetSummary {
            leaves: (gates.iter().enumerate())
                .filter(|(_, x)| **x == Gate::Net(g as u32))
                .map(|(l, _)| l)
                .collect(),
            networks: n.v4.iter().map(|(_, m)| m.len()).sum::<usize>()
                + n.v6.iter().map(|(_, m)| m.len()).sum::<usize>(),
            lengths: n.v4.len() + n.v6.len(),
            list: n.list,
            path: n.path,
        })
        .collect()
}

/// A test that holds exactly when an address it reads is in one of its
/// networks: `path in cidr [...]` (not negated), or `any x in list: x.path
/// in cidr [...]`; its list, path and networks.
#[allow(clippy::type_complexity)]
fn net_test(
    c: &Cond,
) -> Option<(
    Option<&FieldPath>,
    &FieldPath,
    &[ward_compiler::pattern::Cidr],
)> {
    match c {
        Cond::Cidr {
            negated: false,
            lhs: Operand::Field(path),
            nets,
        } if path.var.is_none() => Some((None, path, nets)),
        Cond::Quant {
            all: false,
            list: Operand::Field(list),
            body,
        } if list.var.is_none() => match &**body {
            Cond::Cidr {
                negated: false,
                lhs: Operand::Field(path),
                nets,
            } if path.var == Some(0) => Some((Some(list), path, nets)),
            _ => None,
        },
        _ => None,
    }
}

/// The patterns one string group found in each value it searched (one
/// value, or one per element of a quantifier's list). Sets are reused
/// across events.
#[derive(Default)]
struct Found {
    /// Values searched for this event.
    n: usize,
    is_str: Vec<bool>,
    sets: Vec<PatternSet>,
}

impl Found {
    fn push(&mut self, group: &plan::StrGroup, value: Option<&str>, folded: &mut String) {
        let i = self.n;
        self.n += 1;
        if self.sets.len() <= i {
            self.sets.push(group.new_set());
            self.is_str.push(false);
        }
        if self.sets[i].capacity() != group.regex.pattern_len() {
            self.sets[i] = group.new_set();
        }
        self.is_str[i] = value.is_some();
        let Some(s) = value else {
            return;
        };
        let text = match group.folded {
            false => s,
            true => {
                lower_into(s, folded);
                folded.as_str()
            }
        };
        group.search(text, &mut self.sets[i]);
    }
}

/// `s` lower-cased into `out`, exactly as the evaluator lower-cases the
/// value of a case-insensitive test (`str::to_lowercase`), in place for
/// ASCII text.
fn lower_into(s: &str, out: &mut String) {
    if s.is_ascii() {
        out.clear();
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        // Unicode lower-casing depends on context (a final sigma), so not
        // character by character: as the evaluator does it.
        *out = s.to_lowercase();
    }
}

/// The lower-cased values of one event's fields that case-insensitive
/// tables look up ([`Plan::folds`]): each field is read and lower-cased
/// at most once per event, when a table first needs it.
#[derive(Default)]
struct Folds {
    /// Per field: 0 not read yet, 1 missing or not a string, 2 in `texts`.
    state: Vec<u8>,
    texts: Vec<String>,
}

impl Folds {
    /// Forgets the last event's values.
    fn reset(&mut self, n: usize) {
        self.state.clear();
        self.state.resize(n, 0);
        if self.texts.len() < n {
            self.texts.resize_with(n, String::new);
        }
    }

    /// The string value of field `path` (number `i` of `Plan::folds`),
    /// lower-cased.
    fn get<'a, D: Doc<'a>>(&mut self, i: usize, event: D, path: &FieldPath) -> Option<&str> {
        if self.state[i] == 0 {
            self.state[i] = match eval::get(event, &[], path).and_then(|v| v.as_str()) {
                Some(s) => {
                    lower_into(s, &mut self.texts[i]);
                    2
                }
                None => 1,
            };
        }
        (self.state[i] == 2).then(|| self.texts[i].as_str())
    }

    /// The string value a table of `key` is looked up by.
    #[inline]
    fn value<'s, 'a: 's, D: Doc<'a>>(&'s mut self, event: D, key: &KeyField) -> Option<&'s str> {
        match key.fold {
            None => eval::get(event, &[], &key.path).and_then(|v| v.as_str()),
            Some(i) => self.get(i, event, &key.path),
        }
    }
}

/// One event's evaluation state.
struct State<'s, D> {
    event: D,
    memo: &'s mut [u8],
    groups: &'s mut [bool],
    str_state: &'s mut [u8],
    /// Per network group: whether its addresses were read this event.
    nets: &'s mut [bool],
    found: &'s mut Vec<Found>,
    folded: &'s mut String,
    folds: &'s mut Folds,
    /// The quantifiers' elements while a leaf is evaluated (empty between
    /// leaves; one allocation per event at most).
    vars: Vec<D>,
}

/// Gives every path from the root through keys that the plan and the
/// rules read its slot in `proj`, where extraction keeps its value.
fn slot_paths(proj: &Projection, plan: &mut Plan, rules: &mut RuleSet) {
    let set = &mut |p: &mut FieldPath| p.slot = proj.slot_of(p);
    for leaf in &mut plan.leaves {
        leaf.each_path_mut(set);
    }
    for g in &mut plan.eq_groups {
        set(&mut g.path);
    }
    for p in &mut plan.folds {
        set(p);
    }
    for g in &mut plan.str_groups {
        set(&mut g.path);
        if let Some(list) = &mut g.list {
            set(list);
        }
    }
    for sp in plan.sources.values_mut() {
        for (key, index) in &mut sp.dispatch {
            set(&mut key.path);
            for bucket in index.values_mut() {
                if let Some((second, _)) = &mut bucket.refine {
                    set(&mut second.path);
                }
            }
        }
    }
    for r in &mut rules.rules {
        for (_, f) in &mut r.fields {
            set(f);
        }
        match &mut r.stateful {
            Some(Stateful::Count(c)) => {
                for k in c.by.iter_mut().chain(&mut c.distinct) {
                    set(&mut k.path);
                }
            }
            Some(Stateful::Sequence(q)) => {
                for k in &mut q.by {
                    set(&mut k.path);
                }
                for step in &mut q.steps {
                    for k in &mut step.by {
                        set(&mut k.path);
                    }
                    step.when.each_path_mut(set);
                }
                if let Some(until) = &mut q.until {
                    until.each_path_mut(set);
                }
            }
            None => {}
        }
        for piece in &mut r.output {
            if let OutPiece::Field(f) = piece {
                set(f);
            }
        }
    }
}

fn merge(into: &mut Projection, from: &Projection) {
    into.whole |= from.whole;
    for (k, p) in &from.keys {
        merge(into.keys.entry(k), p);
    }
    if let Some(e) = &from.elems {
        merge(into.elems.get_or_insert_with(Default::default), e);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use ward_compiler::{check, load, lower, schema};

    use super::{Gate, Matcher, Scratch};

    fn matcher(rules: &str) -> Matcher {
        let text = format!("source k8s.audit\n{rules}");
        let loaded = load::load_texts(&[("t.ward", &text)]);
        let report = check(&loaded, schema::bundled());
        assert_eq!(report.errors(), 0, "{:#?}", report.diagnostics);
        Matcher::new(lower::lower(&loaded))
    }

    /// Tests that hold when a searched value matched one of their patterns
    /// are marked by the search; a negated test and an `all` quantifier are
    /// not (a match makes them false, or says nothing of other elements),
    /// and keep their own test. Marked answers are the evaluator's, on one
    /// value and on any element of a list.
    #[test]
    fn a_string_search_marks_the_tests_its_matches_make_true() {
        let m = matcher(
            r#"rule a { when userAgent startswith "kubectl/" }
rule b { when userAgent contains "curl" }
rule c { when not userAgent contains "curl" }
rule d { when userAgent not contains "helm" }
rule e { when any c in requestObject.spec.containers: c.image contains "miner" }
rule f { when all c in requestObject.spec.containers: c.image contains "registry.local/" }
"#,
        );
        let gate = |rule: usize| {
            let when = &m.plan.rules[rule].when;
            let super::PCond::Leaf(id) = when else {
                return None;
            };
            Some(m.gates[*id])
        };
        assert!(matches!(gate(0), Some(Gate::Marked(_))));
        assert!(matches!(gate(1), Some(Gate::Marked(_))));
        // `not (leaf)`: the leaf itself is marked, the rule is its negation.
        assert!(matches!(m.plan.rules[2].when, super::PCond::Not(_)));
        assert_eq!(gate(3), Some(Gate::Memo));
        assert!(matches!(gate(4), Some(Gate::Marked(_))));
        assert_eq!(gate(5), Some(Gate::Memo));
        let fired = |event: serde_json::Value| {
            let mut scratch = Scratch::default();
            m.matching("k8s.audit", &event, &mut scratch);
            let fired: Vec<&str> = (scratch.candidates.iter())
                .map(|&i| m.rules.rules[i].id.as_str())
                .collect();
            let wanted: Vec<&str> = (m.rules.rules.iter())
                .filter(|r| crate::eval::matches(r, &event))
                .map(|r| r.id.as_str())
                .collect();
            assert_eq!(fired, wanted, "{event}");
            fired.join(" ")
        };
        let pod = |images: serde_json::Value| json!({"userAgent": "kubectl/1.29 curl", "requestObject": {"spec": {"containers": images}}});
        assert_eq!(
            fired(pod(
                json!([{"image": "registry.local/a"}, {"image": "x/miner:1"}])
            )),
            "a b d e"
        );
        assert_eq!(
            fired(pod(json!([{"image": "registry.local/a"}, {"image": 5}]))),
            "a b d"
        );
        assert_eq!(fired(json!({"userAgent": "helm"})), "c");
        assert_eq!(fired(json!({"userAgent": 7})), "c");
        assert_eq!(fired(json!({})), "c");
    }
}

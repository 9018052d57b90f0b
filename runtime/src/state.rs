//! Stateful rules: `count` and `sequence` per key within a window of event
//! time, with bounded memory. The semantics are specified in
//! spec/language.md ("Stateful rules"); this module is their executable
//! form.
//!
//! Events reach the operators in event-time order: an event that matched
//! some stateful rule waits in a reorder buffer until the latest time seen
//! has moved `lateness` past it, so an input that is out of order by less
//! than that gives the same alerts as the sorted input. An event older than
//! that is *late*: counted, reported, and not given to stateful rules.
//!
//! Memory: the buffer holds at most `lateness` worth of matching events;
//! per rule, at most `max_keys` keys are live (the least recently seen are
//! evicted beyond that, counted and reported); per key, a count holds at
//! most its threshold of times, a sequence one pending match per step.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use hashbrown::hash_map::RawEntryMut;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ward_compiler::doc::{Doc, Kind};
use ward_compiler::lower::{Count, FieldPath, Key, RuleSet, Sequence, Stateful};
use ward_compiler::plan::Role;

use crate::decode::Event;
use crate::eval::get;

mod reorder;
pub mod snapshot;

use reorder::Reorder;

/// How the operators keep time and memory.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// How far behind the latest event time an event may arrive and still
    /// count, in nanoseconds.
    pub lateness_ns: i64,
    /// Live keys per rule.
    pub max_keys: usize,
    /// Stamp events with the time they are read instead of their own.
    pub processing_time: bool,
    /// Bytes of events held for ordering (`--lateness`) at most; past it
    /// the oldest are released early, and counted.
    pub max_held_bytes: usize,
    /// On a stream ([`Engine::set_stream`]), how long by the wall clock
    /// event time may stand still before the events held are released:
    /// events without a time, and the last events before a quiet spell,
    /// are then not held until more input comes (or forever).
    pub max_idle: std::time::Duration,
}

/// Default allowed lateness: CloudTrail delivers within about 5 minutes.
pub const DEFAULT_LATENESS_NS: i64 = 5 * 60 * 1_000_000_000;
/// Default cap on live keys per rule.
pub const DEFAULT_MAX_KEYS: usize = 100_000;
/// Default bound on the events held for ordering.
pub const DEFAULT_MAX_HELD_BYTES: usize = 256 << 20;
/// Contributing events an alert lists.
pub const SAMPLE_EVENTS: usize = 10;

impl Default for Config {
    fn default() -> Config {
        Config {
            lateness_ns: DEFAULT_LATENESS_NS,
            max_keys: DEFAULT_MAX_KEYS,
            processing_time: false,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            max_idle: std::time::Duration::from_nanos(DEFAULT_LATENESS_NS as u64),
        }
    }
}

/// An event that matched at least one part of a stateful rule, as held
/// until it is final: where it came from, its time, and the event itself
/// in its most compact form (it is needed again only if it completes an
/// alert). What the operators read of it was taken out beforehand (`Hit`).
#[derive(Debug)]
pub struct Held {
    pub payload: Payload,
    pub source: &'static str,
    pub file: Arc<str>,
    pub line: usize,
    /// Event time, nanoseconds since the epoch.
    pub time: i64,
    /// The time field as written (null when it had none).
    pub time_text: Value,
}

/// The event of a held match.
#[derive(Debug)]
pub enum Payload {
    /// A JSON line (or a CloudTrail record) as read, and how it came;
    /// parsed again only for an alert.
    Line(Box<[u8]>, crate::decode::Via),
    /// A decoded event (from a wrapping, a document or a mapped format).
    Event(Event),
}

impl Held {
    /// About what holding it costs in memory.
    fn bytes(&self) -> usize {
        let payload = match &self.payload {
            Payload::Line(bytes, _) => bytes.len(),
            Payload::Event(e) => value_bytes(&e.value) + e.original.as_ref().map_or(0, value_bytes),
        };
        std::mem::size_of::<Held>() + payload
    }

    /// The event, for an alert. A held line parsed once already, so this
    /// fails only past serde_json's nesting limit; then `None`.
    pub fn event(&self) -> Option<std::borrow::Cow<'_, Event>> {
        match &self.payload {
            Payload::Event(e) => Some(std::borrow::Cow::Borrowed(e)),
            Payload::Line(bytes, via) => {
                let value = serde_json::from_slice(bytes).ok()?;
                Some(std::borrow::Cow::Owned(Event {
                    source: self.source,
                    value,
                    original: None,
                    line: self.line,
                    via: *via,
                }))
            }
        }
    }
}

/// One part of a stateful rule that an event matched, with the values of
/// the event its operator reads.
#[derive(Debug)]
pub struct Hit {
    pub rule: usize,
    pub role: Role,
    /// The rule's `by` values as one map key; `None` when one is missing
    /// or null (the event then takes no part in the rule).
    key: Option<String>,
    /// `count distinct`: the counted value (`None`: missing or null).
    distinct: Option<Value>,
    /// A sequence step's own `by` values.
    join: Option<String>,
    /// The shard of `key` ([`route`]), read where the event is.
    route: u64,
    /// A positive sequence step: the values of the fields its condition
    /// reads, in the order of `PosStep::fields`, as JSON text (read into
    /// values only for an alert: most partial matches never complete).
    fields: Vec<Box<str>>,
}

impl Hit {
    /// About what holding it costs in memory.
    fn bytes(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        std::mem::size_of::<Hit>()
            + text(&self.key)
            + text(&self.join)
            + self.distinct.as_ref().map_or(0, value_bytes)
            + self.fields.iter().map(|f| f.len() + 16).sum::<usize>()
    }
}

/// About the memory a JSON value takes: its strings, and a node each.
fn value_bytes(v: &Value) -> usize {
    const NODE: usize = std::mem::size_of::<Value>();
    match v {
        Value::String(s) => NODE + s.len(),
        Value::Array(items) => NODE + items.iter().map(value_bytes).sum::<usize>(),
        Value::Object(m) => {
            NODE + m
                .iter()
                .map(|(k, v)| k.len() + 32 + value_bytes(v))
                .sum::<usize>()
        }
        _ => NODE,
    }
}

/// An event on its way to the operators: what `Engine::arrival` read of it.
#[derive(Debug)]
pub struct Arrival {
    pub payload: Payload,
    pub source: &'static str,
    pub line: usize,
    pub time: Option<i64>,
    pub time_text: Value,
    pub hits: Vec<Hit>,
}

/// What a stateful rule emits.
#[derive(Debug)]
pub enum Out {
    Alert {
        rule: usize,
        /// The event that completed the match; the alert's output, fields
        /// and time are this event's.
        trigger: Arc<Held>,
        window: Window,
    },
    /// The key cap bit: keys were evicted.
    Evicted {
        rule: usize,
        evicted: usize,
        cap: usize,
        time: Value,
    },
}

impl Out {
    /// The rule it is of.
    pub fn rule(&self) -> usize {
        match self {
            Out::Alert { rule, .. } | Out::Evicted { rule, .. } => *rule,
        }
    }
}

/// The window an alert of a stateful rule summarises.
#[derive(Clone, Debug, Serialize)]
pub struct Window {
    /// The `by` keys, by name as written, with their values (filled in
    /// from the completing event when the alert is built).
    pub key: Map<String, Value>,
    /// Events counted (`count`), distinct values (`count distinct`) or
    /// steps matched (`sequence`).
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct: Option<Vec<Value>>,
    /// Times of the first and last contributing events, RFC 3339 UTC.
    pub first: String,
    pub last: String,
    /// The last contributing events (at most [`SAMPLE_EVENTS`]), oldest
    /// first; for a sequence, one per step.
    pub events: Vec<Ref>,
}

/// A contributing event, by where it was read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ref {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<Arc<str>>,
    pub file: Arc<str>,
    pub line: usize,
    pub time: Value,
    /// For a sequence step: the fields its condition reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Map<String, Value>>,
}

/// What the stateful operators saw, for the summary.
#[derive(Debug, Default)]
pub struct StateStats {
    /// Events older than the allowed lateness.
    pub late: u64,
    pub late_samples: Vec<String>,
    /// Events with no readable time, placed at the latest time seen.
    pub untimed: u64,
    pub untimed_samples: Vec<String>,
    /// Keys evicted by the cap, per rule id.
    pub evicted: BTreeMap<String, u64>,
    /// Sequences still waiting for their window to close at the end.
    pub open_at_end: u64,
    /// The most keys live at once, over all rules (sampled every 256
    /// arrivals and at the end).
    pub peak_keys: usize,
    /// Events released before their lateness allowed, because the events
    /// held reached `max_held_bytes`.
    pub released_early: u64,
    pub released_early_samples: Vec<String>,
    /// The most bytes of events held at once.
    pub peak_held_bytes: usize,
    /// Events released before their lateness allowed, because event time
    /// stood still for `max_idle` on a stream.
    pub released_idle: u64,
    pub released_idle_samples: Vec<String>,
}

const SAMPLES: usize = 10;

/// The stateful operators of a rule set.
pub struct Engine {
    cfg: Config,
    ops: Vec<Option<Op>>,
    /// The rules whose sequence ends in a `not` step.
    absences: Vec<usize>,
    active: bool,
    ids: Vec<String>,
    /// Per rule, the identity of its stateful definition
    /// ([`snapshot::fingerprint`]); `None` for the rules with no operator.
    fingerprints: Vec<Option<String>>,
    buffer: Reorder,
    /// Bytes of the events in `buffer` (as [`Held::bytes`] counts them).
    held_bytes: usize,
    arrivals: u64,
    /// Latest event time offered.
    max_time: Option<i64>,
    /// Time of the last event released to the operators.
    now: i64,
    /// Whether the input is a stream (stdin, a pipe): only then does the
    /// wall clock release held events ([`Config::max_idle`]).
    stream: bool,
    /// When event time last moved on (or the engine last released on
    /// idling), by the wall clock.
    progress: std::time::Instant,
    pub stats: StateStats,
    /// In a parallel scan, the front of shards (see [`Step`]): the rules'
    /// parts go to the shards that own their keys instead of `ops`.
    router: Option<Router>,
    /// Keys are routed to shards: [`Engine::arrival`] reads their route.
    routes: bool,
}

/// A parallel scan's stateful work, cut by key. The merging thread's
/// engine is the *front*: it keeps event time, orders events and decides
/// when each is final, as a one-thread engine does, and where that engine
/// would run a rule's operator it numbers the command and hands the parts
/// of the event to the *shard* that owns their key (each worker's engine;
/// a key always goes to the same shard). Every shard is told every time an
/// absence's window may close. Shards run their commands in order, so each
/// key sees what it would on one thread; their outputs are put back in the
/// one-thread order by (command, rule, [`Order`]).
#[derive(Debug)]
pub enum Step {
    /// The parts of stateful rules an event matched whose keys the shard
    /// owns, and per rule, how many keys the front evicted to make room
    /// for the event's key (the shard reports them, as one thread would).
    Process {
        held: Arc<Held>,
        hits: Vec<Hit>,
        evicted: Vec<(usize, usize)>,
    },
    /// Keys of a rule that the front evicted at the cap: the shard drops
    /// them. The cap is the front's to keep (it sees every key in the
    /// order one thread does), so that which keys go is the same as on
    /// one thread.
    Drop { rule: usize, keys: Vec<String> },
    /// Event time reached this: absences whose window closed before it fire.
    Close(i64),
}

/// Where an output of a shard goes among the outputs of one command and
/// rule.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Order {
    /// The n-th output of a [`Step::Process`] (one shard gives all of a
    /// rule's for an event).
    Nth(usize),
    /// A sequence whose trailing absence held: its timer (deadline, key,
    /// join value), the order a one-thread engine fires them in.
    Timer(i64, String, String),
}

/// An output of a shard, with where it goes.
#[derive(Debug)]
pub struct Tagged {
    pub cmd: u64,
    pub rule: usize,
    pub order: Order,
    pub out: Out,
}

/// The front's side of [`Step`].
struct Router {
    /// Per shard, the steps not yet taken ([`Engine::take_steps`]), each
    /// with its command number.
    outbox: Vec<Vec<(u64, Step)>>,
    /// Commands numbered so far.
    cmds: u64,
    /// Commands numbered when the steps were last taken.
    taken: u64,
    /// The last time every shard was told to close windows before.
    closed: i64,
    /// Per rule, its live keys as one thread would hold them (without
    /// their state), under the cap: the front decides evictions.
    keys: Vec<Option<Keys<()>>>,
}

impl Router {
    fn command(&mut self) -> u64 {
        self.cmds += 1;
        self.cmds - 1
    }

    /// The parts of an event, each to the shard of its key. A part with
    /// no key takes no part in its rule: it goes nowhere.
    fn dispatch(&mut self, ops: &[Option<Op>], held: Arc<Held>, mut hits: Vec<Hit>) {
        hits.retain(|h| h.key.is_some());
        let Some(first) = hits.first() else { return };
        let shards = self.outbox.len() as u64;
        let cmd = self.command();
        let evicted = self.make_room(ops, held.time, &hits);
        let mut counts = Vec::new();
        for (rule, keys) in evicted {
            counts.push((rule, keys.len()));
            let mut parts: Vec<Vec<String>> = (0..shards).map(|_| Vec::new()).collect();
            for key in keys {
                parts[(route(rule, Some(&key)) % shards) as usize].push(key);
            }
            for (shard, keys) in parts.into_iter().enumerate() {
                if !keys.is_empty() {
                    self.outbox[shard].push((cmd, Step::Drop { rule, keys }));
                }
            }
        }
        let home = (first.route % shards) as usize;
        if hits.iter().all(|h| (h.route % shards) as usize == home) {
            let step = Step::Process {
                held,
                hits,
                evicted: counts,
            };
            return self.outbox[home].push((cmd, step));
        }
        let mut parts: Vec<Vec<Hit>> = (0..shards).map(|_| Vec::new()).collect();
        for h in hits {
            parts[(h.route % shards) as usize].push(h);
        }
        for (shard, hits) in parts.into_iter().enumerate() {
            if !hits.is_empty() {
                // A rule's parts share its key, so one shard gets them all.
                let evicted = (counts.iter())
                    .filter(|(rule, _)| hits.iter().any(|h| h.rule == *rule))
                    .copied()
                    .collect();
                let held = held.clone();
                self.outbox[shard].push((
                    cmd,
                    Step::Process {
                        held,
                        hits,
                        evicted,
                    },
                ));
            }
        }
    }

    /// Touches the keys of an event's parts as the operators of one thread
    /// would (`Counter::event`, `Sequencer::event`: a rule's first part, a
    /// count's only with its distinct value). Returns, per rule, the keys
    /// evicted to make room.
    fn make_room(
        &mut self,
        ops: &[Option<Op>],
        time: i64,
        hits: &[Hit],
    ) -> Vec<(usize, Vec<String>)> {
        let mut out = Vec::new();
        let mut seen: Vec<usize> = Vec::new();
        for h in hits {
            if seen.contains(&h.rule) {
                continue;
            }
            seen.push(h.rule);
            let (Some(key), Some(Some(keys))) = (&h.key, self.keys.get_mut(h.rule)) else {
                continue;
            };
            if let Some(Some(Op::Count(c))) = ops.get(h.rule) {
                if c.distinct.is_some() && h.distinct.is_none() {
                    continue;
                }
            }
            let (_, evicted) = keys.touch_evicting(key, time, || ());
            if !evicted.is_empty() {
                out.push((h.rule, evicted));
            }
        }
        out
    }

    fn close(&mut self, now: i64) {
        if now <= self.closed {
            return;
        }
        self.closed = now;
        let cmd = self.command();
        for steps in &mut self.outbox {
            steps.push((cmd, Step::Close(now)));
        }
    }
}

/// Which shard a rule's key goes to (of any number): a hash of the rule
/// and the key, the same on every run.
fn route(rule: usize, key: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    (rule, key).hash(&mut h);
    h.finish()
}

struct Queued {
    time: i64,
    /// What holding it costs, about.
    bytes: usize,
    arrival: u64,
    held: Arc<Held>,
    hits: Vec<Hit>,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Queued) -> bool {
        (self.time, self.arrival) == (o.time, o.arrival)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Queued) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Queued) -> std::cmp::Ordering {
        (self.time, self.arrival).cmp(&(o.time, o.arrival))
    }
}

enum Op {
    Count(Counter),
    Sequence(Sequencer),
}

impl Engine {
    pub fn new(rules: &RuleSet, cfg: Config) -> Engine {
        Engine::with_cap(rules, cfg, cfg.max_keys)
    }

    /// One of the shards of a parallel scan's stateful work (see
    /// [`Step`]): it runs the [`Engine::step`]s a front gives it. The cap
    /// on live keys is the front's: a shard evicts the keys it is told to
    /// ([`Step::Drop`]), never on its own.
    pub fn shard(rules: &RuleSet, cfg: Config) -> Engine {
        let mut e = Engine::with_cap(rules, cfg, usize::MAX);
        e.routes = true;
        e
    }

    fn with_cap(rules: &RuleSet, cfg: Config, cap: usize) -> Engine {
        let ops: Vec<Option<Op>> = rules
            .rules
            .iter()
            .map(|r| match &r.stateful {
                _ if !r.active() => None,
                Some(Stateful::Count(c)) => Some(Op::Count(Counter::new(c, cap))),
                Some(Stateful::Sequence(q)) => Some(Op::Sequence(Sequencer::new(q, cap))),
                None => None,
            })
            .collect();
        let absences = ops
            .iter()
            .enumerate()
            .filter(|(_, op)| match op {
                Some(Op::Sequence(s)) => s.negated.iter().any(|n| n.1 == s.steps.len()),
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        let fingerprints = (rules.rules.iter().zip(&ops))
            .map(|(r, op)| op.as_ref().map(|_| snapshot::fingerprint(r)))
            .collect();
        Engine {
            cfg,
            fingerprints,
            absences,
            active: ops.iter().any(Option::is_some),
            ops,
            ids: rules.rules.iter().map(|r| r.id.clone()).collect(),
            buffer: Reorder::default(),
            held_bytes: 0,
            arrivals: 0,
            max_time: None,
            now: i64::MIN,
            stream: false,
            progress: std::time::Instant::now(),
            stats: StateStats::default(),
            router: None,
            routes: false,
        }
    }

    /// Makes this engine the front of `shards` shards (see [`Step`]): from
    /// here on the rules' operators run there, on the steps
    /// [`Engine::take_steps`] gives.
    pub fn route(&mut self, shards: usize) {
        self.routes = true;
        let cap = self.cfg.max_keys;
        let keys = (self.ops.iter())
            .map(|op| {
                op.as_ref().map(|op| match op {
                    Op::Count(c) => Keys::new(cap, c.keys.window),
                    Op::Sequence(s) => Keys::new(cap, s.keys.window),
                })
            })
            .collect();
        self.router = Some(Router {
            outbox: (0..shards.max(1)).map(|_| Vec::new()).collect(),
            cmds: 0,
            taken: 0,
            closed: i64::MIN,
            keys,
        });
    }

    /// Commands numbered so far, when this is a front; an output of a
    /// shard goes before whatever is written once this many are.
    pub fn commands(&self) -> Option<u64> {
        self.router.as_ref().map(|r| r.cmds)
    }

    /// Commands a front numbered that no shard was given yet.
    pub fn commands_unsent(&self) -> u64 {
        (self.router.as_ref()).map_or(0, |r| r.cmds - r.taken)
    }

    /// A front's steps for shard `shard` since the last call.
    pub fn take_steps(&mut self, shard: usize) -> Vec<(u64, Step)> {
        let Some(r) = self.router.as_mut() else {
            return Vec::new();
        };
        r.taken = r.cmds;
        r.outbox
            .get_mut(shard)
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// A shard runs a front's command `cmd`; its outputs go to `out`.
    pub fn step(&mut self, cmd: u64, step: Step, out: &mut Vec<Tagged>) {
        match step {
            Step::Process {
                held,
                hits,
                evicted,
            } => {
                let mut outs = Vec::new();
                self.arrivals += 1;
                self.apply(&held, hits, &evicted, &mut outs);
                out.extend(outs.into_iter().enumerate().map(|(n, o)| Tagged {
                    cmd,
                    rule: o.rule(),
                    order: Order::Nth(n),
                    out: o,
                }));
                if self.arrivals.is_multiple_of(256) {
                    self.note_live_keys();
                }
            }
            Step::Drop { rule, keys } => {
                if let Some(Some(op)) = self.ops.get_mut(rule) {
                    for key in &keys {
                        match op {
                            Op::Count(c) => c.keys.map.remove(key).map(drop),
                            Op::Sequence(s) => s.keys.map.remove(key).map(drop),
                        };
                    }
                }
            }
            Step::Close(now) => {
                self.now = now;
                self.fire_absences(&mut |rule, o, (d, key, join)| {
                    out.push(Tagged {
                        cmd,
                        rule,
                        order: Order::Timer(d, key, join),
                        out: o,
                    })
                });
            }
        }
    }

    /// True when some rule is stateful.
    pub fn active(&self) -> bool {
        self.active
    }

    /// How the operators keep time and memory.
    pub fn config(&self) -> Config {
        self.cfg
    }

    /// Whether [`Engine::set_stream`] said the input is a stream.
    pub fn is_stream(&self) -> bool {
        self.stream
    }

    /// Says whether the input now read is a stream (stdin, a pipe, a
    /// socket) rather than a file: see [`Config::max_idle`].
    pub fn set_stream(&mut self, stream: bool) {
        self.stream = stream;
        self.progress = std::time::Instant::now();
    }

    /// On a stream, releases every held event once event time has stood
    /// still for [`Config::max_idle`] by the wall clock, in time order, as
    /// at the end of input (windows stay open). Each is counted as released
    /// early: a later event older than them is late. Called on every event
    /// and while the input is idle.
    pub fn idle(&mut self, out: &mut Vec<Out>) {
        if !self.stream || self.buffer.is_empty() || self.progress.elapsed() < self.cfg.max_idle {
            return;
        }
        self.progress = std::time::Instant::now();
        while let Some(q) = self.buffer.pop() {
            let s = &mut self.stats;
            note(&mut s.released_idle, &mut s.released_idle_samples, &q.held);
            self.process(q, out);
        }
    }

    /// Reads what the stateful `units` (rule, role) that `doc` matched
    /// need of it; `time` is its time field (`Matcher::time_of`) and that
    /// read as a time,
    /// `payload` the event to keep for a possible alert.
    pub fn arrival<'a, D: Doc<'a>>(
        &self,
        source: &'static str,
        line: usize,
        doc: D,
        time: Stamp<D>,
        units: &[(usize, Role)],
        payload: Payload,
    ) -> Arrival {
        let time_text = time.field.map_or(Value::Null, to_value);
        let time = if self.cfg.processing_time {
            Some(now_ns())
        } else {
            time.ns
        };
        let mut hits: Vec<Hit> = units
            .iter()
            .filter_map(|&(rule, role)| match self.ops.get(rule)? {
                Some(Op::Count(c)) => Some(Hit {
                    rule,
                    role,
                    key: key_of(doc, &c.by),
                    distinct: c
                        .distinct
                        .as_ref()
                        .and_then(|p| get(doc, &[], p).filter(|v| !v.is_null()).map(to_value)),
                    join: None,
                    fields: Vec::new(),
                    route: 0,
                }),
                Some(Op::Sequence(q)) => {
                    let step = match role {
                        Role::Step(n) => Some(n),
                        _ => None,
                    };
                    let by = step.and_then(|n| q.step_keys(n)).unwrap_or(&[]);
                    let fields = step
                        .and_then(|n| q.steps.iter().find(|s| s.index == n))
                        .map(|s| s.fields.iter().map(|(_, p)| json_text(doc, p)).collect())
                        .unwrap_or_default();
                    Some(Hit {
                        rule,
                        role,
                        key: key_of(doc, &q.by),
                        distinct: None,
                        join: key_of(doc, by),
                        fields,
                        route: 0,
                    })
                }
                None => None,
            })
            .collect();
        if self.routes {
            for h in &mut hits {
                h.route = route(h.rule, h.key.as_deref());
            }
        }
        Arrival {
            payload,
            source,
            line,
            time,
            time_text,
            hits,
        }
    }

    /// Offers an event that matched parts of stateful rules. Alerts of
    /// events now old enough to be final go to `out`.
    pub fn offer(&mut self, file: &Arc<str>, a: Arrival, out: &mut Vec<Out>) {
        // In processing time an event is never late: it is stamped now.
        let stamp = if self.cfg.processing_time {
            self.max_time.map(|m| m.max(now_ns())).or(a.time)
        } else {
            a.time
        };
        let time = match stamp {
            Some(t) => t,
            None => {
                self.stats.untimed += 1;
                if self.stats.untimed_samples.len() < SAMPLES {
                    self.stats
                        .untimed_samples
                        .push(format!("{file}:line {}", a.line));
                }
                self.max_time.unwrap_or(0)
            }
        };
        let lateness = if self.cfg.processing_time {
            0
        } else {
            self.cfg.lateness_ns
        };
        if let Some(max) = self.max_time {
            if time < max.saturating_sub(lateness) || time < self.now {
                self.stats.late += 1;
                if self.stats.late_samples.len() < SAMPLES {
                    self.stats.late_samples.push(format!(
                        "{file}:line {}: {} is more than {} behind the latest event",
                        a.line,
                        a.time_text,
                        human(lateness)
                    ));
                }
                return;
            }
        }
        // An event with no time before any event with one: nothing to order
        // it against, so holding it (forever, on a stream) serves nothing.
        let first_untimed = stamp.is_none() && self.max_time.is_none();
        if !first_untimed {
            self.moved_to(time);
        }
        self.arrivals += 1;
        let held = Arc::new(Held {
            payload: a.payload,
            source: a.source,
            file: file.clone(),
            line: a.line,
            time,
            time_text: a.time_text,
        });
        let bytes = held.bytes() + a.hits.iter().map(Hit::bytes).sum::<usize>();
        let q = Queued {
            time,
            bytes,
            arrival: self.arrivals,
            held,
            hits: a.hits,
        };
        if first_untimed {
            // Never held: nothing to give back.
            return self.process(Queued { bytes: 0, ..q }, out);
        }
        self.held_bytes += bytes;
        self.stats.peak_held_bytes = self.stats.peak_held_bytes.max(self.held_bytes);
        self.buffer.push(q);
        self.release(out);
        // Past the bound, the oldest go to the operators before their
        // lateness ran out: a later event older than them is then late.
        while self.held_bytes > self.cfg.max_held_bytes {
            let Some(q) = self.buffer.pop() else {
                break;
            };
            let s = &mut self.stats;
            note(
                &mut s.released_early,
                &mut s.released_early_samples,
                &q.held,
            );
            self.process(q, out);
        }
        self.idle(out);
    }

    /// Notes event time `time`: the latest seen, and (if it moved on) when.
    fn moved_to(&mut self, time: i64) {
        if self.max_time.is_none_or(|m| time > m) {
            self.max_time = Some(time);
            // Only streams read the clock: not once per event of a file.
            if self.stream {
                self.progress = std::time::Instant::now();
            }
        }
    }

    /// Moves event time to `time` (any event of the stream, matching or
    /// not, or now in processing-time mode): releases the held events it
    /// makes final and fires the absences whose window it closes.
    pub fn advance(&mut self, time: Option<i64>, out: &mut Vec<Out>) {
        let time = if self.cfg.processing_time {
            Some(now_ns())
        } else {
            time
        };
        let Some(time) = time else {
            return self.idle(out);
        };
        if self.max_time.is_some_and(|m| m >= time) {
            return self.idle(out);
        }
        self.moved_to(time);
        self.release(out);
    }

    fn release(&mut self, out: &mut Vec<Out>) {
        let Some(max) = self.max_time else { return };
        let lateness = if self.cfg.processing_time {
            0
        } else {
            self.cfg.lateness_ns
        };
        let release = max.saturating_sub(lateness);
        while self.buffer.peek_time().is_some_and(|t| t <= release) {
            if let Some(q) = self.buffer.pop() {
                self.process(q, out);
            }
        }
        if release > self.now {
            self.now = release;
            self.close(out);
        }
    }

    fn close(&mut self, out: &mut Vec<Out>) {
        // Only sequences ending in a `not` step have windows to close;
        // time moves with every event, so skip the rest cheaply.
        if self.absences.is_empty() {
            return;
        }
        if let Some(r) = &mut self.router {
            return r.close(self.now);
        }
        self.fire_absences(&mut |_, o, _| out.push(o));
    }

    /// The absences whose window closed before `now` fire, rule by rule,
    /// each with its rule and timer.
    fn fire_absences(&mut self, emit: &mut dyn FnMut(usize, Out, (i64, String, String))) {
        for &i in &self.absences {
            if let Some(Some(Op::Sequence(s))) = self.ops.get_mut(i) {
                s.close_until(i, self.now, &mut |o, timer| emit(i, o, timer));
            }
        }
    }

    /// End of input: releases every buffered event. Sequences waiting for
    /// an absence whose window has not closed stay silent (the input ended
    /// inside their window) and are counted.
    pub fn finish(&mut self, out: &mut Vec<Out>) {
        while let Some(q) = self.buffer.pop() {
            self.process(q, out);
        }
        self.note_live_keys();
        self.stats.open_at_end = self
            .ops
            .iter()
            .flatten()
            .map(|op| match op {
                Op::Sequence(s) => s.awaiting(),
                Op::Count(_) => 0,
            })
            .sum();
    }

    fn process(&mut self, q: Queued, out: &mut Vec<Out>) {
        self.held_bytes = self.held_bytes.saturating_sub(q.bytes);
        self.now = self.now.max(q.time);
        // Windows that closed before this event fire first.
        self.close(out);
        if let Some(r) = &mut self.router {
            return r.dispatch(&self.ops, q.held, q.hits);
        }
        self.apply(&q.held, q.hits, &[], out);
        // Sampled, not per event: summing every rule's keys is O(rules).
        if self.arrivals.is_multiple_of(256) {
            self.note_live_keys();
        }
    }

    /// Runs the operators of the rules an event's parts are of; `front`
    /// holds, per rule, the keys a front evicted for them (on a shard).
    fn apply(
        &mut self,
        held: &Arc<Held>,
        mut hits: Vec<Hit>,
        front: &[(usize, usize)],
        out: &mut Vec<Out>,
    ) {
        hits.sort_by_key(|h| h.rule);
        let mut start = 0;
        while start < hits.len() {
            let rule = hits[start].rule;
            let end = start + hits[start..].iter().take_while(|h| h.rule == rule).count();
            let group = &hits[start..end];
            start = end;
            let Some(Some(op)) = self.ops.get_mut(rule) else {
                continue;
            };
            let evicted = match op {
                Op::Count(c) => c.event(rule, &group[0], held, out),
                Op::Sequence(s) => s.event(rule, group, held, out),
            } + (front.iter())
                .find(|(r, _)| *r == rule)
                .map_or(0, |(_, n)| *n);
            if evicted > 0 {
                *self
                    .stats
                    .evicted
                    .entry(self.ids[rule].clone())
                    .or_default() += evicted as u64;
                out.push(Out::Evicted {
                    rule,
                    evicted,
                    cap: self.cfg.max_keys,
                    time: held.time_text.clone(),
                });
            }
        }
    }

    fn note_live_keys(&mut self) {
        let live: usize = self
            .ops
            .iter()
            .flatten()
            .map(|op| match op {
                Op::Count(c) => c.keys.map.len(),
                Op::Sequence(s) => s.keys.map.len(),
            })
            .sum();
        self.stats.peak_keys = self.stats.peak_keys.max(live);
    }
}

/// Counts an event released early, and lists the first few.
fn note(count: &mut u64, samples: &mut Vec<String>, h: &Held) {
    *count += 1;
    if samples.len() < SAMPLES {
        samples.push(format!("{}:line {}", h.file, h.line));
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// An event's time field (`Matcher::time_of`) and its time, read once.
#[derive(Clone, Copy)]
pub struct Stamp<D> {
    pub field: Option<D>,
    /// [`time_ns`] of the field.
    pub ns: Option<i64>,
}

impl<'a, D: Doc<'a>> Stamp<D> {
    pub fn of(field: Option<D>) -> Stamp<D> {
        Stamp {
            field,
            ns: field.and_then(time_ns),
        }
    }
}

/// A time field's value (`Matcher::time_of`) in nanoseconds since the
/// epoch: RFC 3339 text, or a number of epoch seconds (Calico's
/// `end_time`).
pub fn time_ns<'a, D: Doc<'a>>(v: D) -> Option<i64> {
    match v.kind() {
        Kind::Str(s) => ward_compiler::time::parse(s).and_then(|n| i64::try_from(n).ok()),
        Kind::Num(secs, _) => {
            let ns = secs * 1e9;
            (ns.is_finite() && ns.abs() < 9.2e18).then_some(ns as i64)
        }
        _ => None,
    }
}

/// `5m`, `90s`, `250ms`: a duration in nanoseconds as a rule would write it.
pub fn human(ns: i64) -> String {
    let ms = ns / 1_000_000;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms >= size && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

// ---- keys --------------------------------------------------------------

/// The values of `keys` in an event, as one map key; `None` when one is
/// missing or null (such an event does not take part in the rule).
fn key_of<'a, D: Doc<'a>>(event: D, keys: &[Key]) -> Option<String> {
    // Room for a user name and an address: growing from empty cost four
    // reallocations per key.
    let mut out = Vec::with_capacity(64);
    for k in keys {
        let v = get(event, &[], &k.path)?;
        // As `Value::to_string` writes it: the same value, the same key.
        let written = match v.kind() {
            Kind::Null => return None,
            Kind::Str(s) => {
                ward_compiler::json_text::write_str(&mut out, s);
                Ok(())
            }
            _ => serde_json::to_writer(&mut out, &to_value(v)),
        };
        written.ok()?;
        // JSON text never holds a raw NUL, so NUL separates values.
        out.push(0);
    }
    String::from_utf8(out).ok()
}

/// The values of a stateful rule's `by` keys in `event`, by name, for its
/// alert (`Window::key`).
pub fn key_map<'a, D: Doc<'a>>(event: D, rule: &ward_compiler::lower::Rule) -> Map<String, Value> {
    let keys: &[Key] = match &rule.stateful {
        Some(Stateful::Count(c)) => &c.by,
        Some(Stateful::Sequence(q)) => &q.by,
        None => &[],
    };
    keys.iter()
        .map(|k| {
            (
                k.name.clone(),
                get(event, &[], &k.path).map_or(Value::Null, to_value),
            )
        })
        .collect()
}

/// The value at `path` as compact JSON text (`null` when missing).
fn json_text<'a, D: Doc<'a>>(doc: D, path: &FieldPath) -> Box<str> {
    let mut out = Vec::with_capacity(32);
    match get(doc, &[], path) {
        Some(v) => v.write_json(&mut out),
        None => out.extend_from_slice(b"null"),
    }
    String::from_utf8(out).map_or_else(|_| "null".into(), String::into_boxed_str)
}

/// A document's value as an owned JSON value.
pub fn to_value<'a, D: Doc<'a>>(d: D) -> Value {
    d.to_json()
}

fn window_ns(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX / 2_000_000) * 1_000_000
}

/// Live keys of one rule, each with its state and the time it was last
/// touched, under a cap.
struct Keys<T> {
    map: hashbrown::HashMap<String, (i64, T), std::hash::RandomState>,
    cap: usize,
    /// Size after the last sweep: the next sweep runs when it has doubled.
    swept: usize,
    window: i64,
}

impl<T> Keys<T> {
    fn new(cap: usize, window: i64) -> Keys<T> {
        Keys {
            map: hashbrown::HashMap::with_hasher(std::hash::RandomState::new()),
            cap: cap.max(1),
            swept: 0,
            window,
        }
    }

    /// The state of `key`, created with `init` if new. Returns how many
    /// keys were evicted to make room.
    fn touch(&mut self, key: &str, now: i64, init: impl FnOnce() -> T) -> (&mut T, usize) {
        let (state, evicted) = self.touch_evicting(key, now, init);
        (state, evicted.len())
    }

    /// [`Keys::touch`], returning the keys evicted to make room: if `key`
    /// is new and the cap is reached, the keys whose window has passed go
    /// and, if that is not enough, the oldest.
    fn touch_evicting(
        &mut self,
        key: &str,
        now: i64,
        init: impl FnOnce() -> T,
    ) -> (&mut T, Vec<String>) {
        // The key is hashed once (SipHash, its text is the input's): most
        // events touch a live key, which is then looked up twice by that
        // hash and neither hashed again nor copied.
        let hash = std::hash::BuildHasher::hash_one(self.map.hasher(), key);
        let live = (self.map.raw_entry())
            .from_key_hashed_nocheck(hash, key)
            .is_some();
        let evicted = if live {
            Vec::new()
        } else {
            self.make_room(now)
        };
        let slot = match self.map.raw_entry_mut().from_key_hashed_nocheck(hash, key) {
            RawEntryMut::Occupied(o) => o.into_mut(),
            RawEntryMut::Vacant(v) => {
                (v.insert_hashed_nocheck(hash, key.to_owned(), (now, init()))).1
            }
        };
        slot.0 = now;
        (&mut slot.1, evicted)
    }

    /// Before a new key is added at `now`: if the cap is reached, drops
    /// the keys whose window has passed and, if that is not enough, evicts
    /// the oldest. Returns the keys evicted.
    fn make_room(&mut self, now: i64) -> Vec<String> {
        if self.map.len() >= self.cap || self.map.len() > 2 * self.swept.max(512) {
            self.sweep(now);
        }
        if self.map.len() >= self.cap {
            return self.evict_oldest();
        }
        Vec::new()
    }

    /// Drops keys whose window has passed: nothing they hold can match.
    fn sweep(&mut self, now: i64) {
        let horizon = now.saturating_sub(self.window);
        self.map.retain(|_, (t, _)| *t >= horizon);
        self.swept = self.map.len();
    }

    /// Evicts the least recently touched tenth of the cap; of keys last
    /// touched at the same time, the first by their text (not the table's
    /// order, which is seeded at random: which keys go is the same on
    /// every run). Returns them.
    fn evict_oldest(&mut self) -> Vec<String> {
        let n = (self.cap / 10).max(1).min(self.map.len());
        if n == 0 {
            return Vec::new();
        }
        let mut order: Vec<(i64, &str)> = (self.map.iter())
            .map(|(k, (t, _))| (*t, k.as_str()))
            .collect();
        let (_, &mut (t, k), _) = order.select_nth_unstable(n - 1);
        let cut = (t, k.to_owned());
        let evicted = (self.map)
            .extract_if(|k, (t, _)| (*t, k.as_str()) <= (cut.0, cut.1.as_str()))
            .map(|(k, _)| k)
            .collect();
        self.swept = self.map.len();
        evicted
    }
}

// ---- count -------------------------------------------------------------

struct Counter {
    by: Vec<Key>,
    distinct: Option<FieldPath>,
    window: i64,
    fires_at: u64,
    keys: Keys<Tally>,
}

/// Each value's last sighting, oldest first: the sightings that decide
/// when the values leave the window.
fn last_sightings(values: &HashMap<Rc<str>, (i64, Value)>) -> VecDeque<(i64, Rc<str>)> {
    let mut last: Vec<(i64, Rc<str>)> = (values.iter())
        .map(|(text, (seen, _))| (*seen, text.clone()))
        .collect();
    last.sort();
    VecDeque::from(last)
}

#[derive(Default)]
struct Tally {
    /// Times of the events in the window, oldest first.
    times: VecDeque<i64>,
    /// `count distinct`: value -> time last seen.
    values: HashMap<Rc<str>, (i64, Value)>,
    /// `count distinct`: each sighting of a value, oldest first; a value
    /// leaves `values` when its last sighting leaves the window, so
    /// expiring costs what arrived, not what is held.
    sightings: VecDeque<(i64, Rc<str>)>,
    /// The last contributing events.
    recent: VecDeque<(i64, Ref)>,
    /// After an alert the key is quiet until this time.
    quiet_until: i64,
}

impl Counter {
    fn new(c: &Count, cap: usize) -> Counter {
        let window = window_ns(c.within_ms);
        Counter {
            by: c.by.clone(),
            distinct: c.distinct.as_ref().map(|k| k.path.clone()),
            window,
            fires_at: c.fires_at(),
            keys: Keys::new(cap, window),
        }
    }

    /// Counts one event; returns the keys evicted.
    fn event(&mut self, rule: usize, hit: &Hit, h: &Arc<Held>, out: &mut Vec<Out>) -> usize {
        let Some(key) = &hit.key else {
            return 0;
        };
        let distinct = match (&self.distinct, &hit.distinct) {
            (Some(_), None) => return 0,
            (_, d) => d.clone(),
        };
        let t = h.time;
        let (tally, evicted) = self.keys.touch(key, t, Tally::default);
        if t < tally.quiet_until {
            return evicted;
        }
        let start = t.saturating_sub(self.window);
        while tally.times.front().is_some_and(|&x| x < start) {
            tally.times.pop_front();
        }
        while tally.recent.front().is_some_and(|(x, _)| *x < start) {
            tally.recent.pop_front();
        }
        let n = match distinct {
            Some(v) => {
                while let Some((seen, text)) = tally.sightings.front() {
                    if *seen >= start {
                        break;
                    }
                    if tally.values.get(text).is_some_and(|(last, _)| last == seen) {
                        tally.values.remove(text);
                    }
                    tally.sightings.pop_front();
                }
                let text = v.to_string();
                let text = match tally.values.get_key_value(text.as_str()) {
                    Some((known, _)) => known.clone(),
                    None => Rc::from(text),
                };
                tally.sightings.push_back((t, text.clone()));
                tally.values.insert(text, (t, v));
                // A value seen again leaves its earlier sightings behind:
                // past twice the values, only the last ones are kept, so
                // one value seen all day holds one sighting, not a day's.
                if tally.sightings.len() > 2 * tally.values.len() + 64 {
                    tally.sightings = last_sightings(&tally.values);
                }
                tally.values.len() as u64
            }
            None => {
                tally.times.push_back(t);
                tally.times.len() as u64
            }
        };
        tally.recent.push_back((
            t,
            Ref {
                step: None,
                file: h.file.clone(),
                line: h.line,
                time: h.time_text.clone(),
                fields: None,
            },
        ));
        if tally.recent.len() > SAMPLE_EVENTS {
            tally.recent.pop_front();
        }
        if n < self.fires_at {
            return evicted;
        }
        let distinct = self.distinct.as_ref().map(|_| {
            let mut vals: Vec<(i64, Value)> = tally.values.values().cloned().collect();
            vals.sort_by(|a, b| {
                a.0.cmp(&b.0)
                    .then_with(|| a.1.to_string().cmp(&b.1.to_string()))
            });
            vals.into_iter().map(|(_, v)| v).collect::<Vec<_>>()
        });
        let events: Vec<Ref> = tally.recent.iter().map(|(_, r)| r.clone()).collect();
        let first = match &self.distinct {
            Some(_) => tally.values.values().map(|(seen, _)| *seen).min(),
            None => tally.times.front().copied(),
        };
        out.push(Out::Alert {
            rule,
            trigger: h.clone(),
            window: Window {
                key: Map::new(),
                count: n,
                distinct,
                first: rfc3339(first.unwrap_or(t)),
                last: rfc3339(t),
                events,
            },
        });
        // Re-arm: the window starts again, empty, once it has passed.
        *tally = Tally {
            quiet_until: t.saturating_add(self.window),
            ..Tally::default()
        };
        evicted
    }
}

// ---- sequence ----------------------------------------------------------

struct Sequencer {
    by: Vec<Key>,
    window: i64,
    /// Positive steps, in order: (step index, name, per-step keys, fields).
    steps: Vec<PosStep>,
    /// Negated steps: (step index, position, per-step keys); position 0
    /// is before the first positive step, n after the n-th.
    negated: Vec<(usize, usize, Vec<Key>)>,
    keys: Keys<Vec<Machine>>,
    /// Absence deadlines: (deadline, key, join key).
    timers: BinaryHeap<Reverse<(i64, String, String)>>,
}

struct PosStep {
    index: usize,
    name: Arc<str>,
    by: Vec<Key>,
    fields: Vec<(Rc<str>, FieldPath)>,
}

/// The pending matches of one key (and one join value).
struct Machine {
    join: String,
    /// `pending[j]`: a match of the first j positive steps (j >= 1),
    /// waiting for step j. One per state: a newer one replaces the older.
    pending: Vec<Option<Partial>>,
    /// All positive steps matched; waiting for the window to close
    /// without a trailing `not` step.
    awaiting: Option<(Partial, Arc<Held>)>,
    /// Latest time each leading `not` step was seen.
    leading_seen: Option<i64>,
}

#[derive(Clone)]
struct Partial {
    start: i64,
    events: Vec<StepRef>,
}

/// A step's event in a partial match: its [`Ref`] but for the fields its
/// condition reads, kept as (name, JSON text) until an alert shows them.
#[derive(Clone)]
struct StepRef {
    at: Ref,
    fields: Vec<(Rc<str>, Box<str>)>,
}

impl StepRef {
    fn done(self) -> Ref {
        let fields = self.fields.iter().map(|(name, text)| {
            // Written by `json_text`: it reads.
            let value = serde_json::from_str(text).unwrap_or(Value::Null);
            (name.to_string(), value)
        });
        Ref {
            fields: Some(fields.collect()),
            ..self.at
        }
    }
}

impl Sequencer {
    fn new(q: &Sequence, cap: usize) -> Sequencer {
        let window = window_ns(q.within_ms);
        let mut steps = Vec::new();
        let mut negated = Vec::new();
        for (i, s) in q.steps.iter().enumerate() {
            if s.negated {
                negated.push((i, steps.len(), s.by.clone()));
            } else {
                let mut fields = Vec::new();
                collect_fields(&s.when, &mut fields);
                steps.push(PosStep {
                    index: i,
                    name: Arc::from(s.name.as_str()),
                    by: s.by.clone(),
                    fields,
                });
            }
        }
        Sequencer {
            by: q.by.clone(),
            window,
            steps,
            negated,
            keys: Keys::new(cap, window),
            timers: BinaryHeap::new(),
        }
    }

    /// The `by` keys of step `index` (positive or `not`).
    fn step_keys(&self, index: usize) -> Option<&[Key]> {
        self.steps
            .iter()
            .find(|s| s.index == index)
            .map(|s| s.by.as_slice())
            .or_else(|| {
                self.negated
                    .iter()
                    .find(|n| n.0 == index)
                    .map(|n| n.2.as_slice())
            })
    }

    fn awaiting(&self) -> u64 {
        self.keys
            .map
            .values()
            .flat_map(|(_, ms)| ms.iter())
            .filter(|m| m.awaiting.is_some())
            .count() as u64
    }

    /// Fires the matches whose trailing absence held until their window
    /// closed before `now`.
    /// Each goes to `emit` with its timer.
    fn close_until(
        &mut self,
        rule: usize,
        now: i64,
        emit: &mut dyn FnMut(Out, (i64, String, String)),
    ) {
        while self.timers.peek().is_some_and(|t| t.0 .0 < now) {
            let Some(Reverse((deadline, key, join))) = self.timers.pop() else {
                break;
            };
            let Some((_, machines)) = self.keys.map.get_mut(&key) else {
                continue;
            };
            let Some(m) = machines.iter_mut().find(|m| m.join == join) else {
                continue;
            };
            let due = m
                .awaiting
                .as_ref()
                .is_some_and(|(p, _)| p.start.saturating_add(self.window) == deadline);
            if !due {
                continue;
            }
            if let Some((p, trigger)) = m.awaiting.take() {
                emit(alert(rule, p, trigger), (deadline, key, join));
            }
        }
    }

    fn event(&mut self, rule: usize, hits: &[Hit], h: &Arc<Held>, out: &mut Vec<Out>) -> usize {
        let Some(first) = hits.first() else {
            return 0;
        };
        let Some(key) = &first.key else {
            return 0;
        };
        let hit = |role: Role| hits.iter().find(|x| x.role == role);
        let t = h.time;
        let window = self.window;
        let (machines, evicted) = self.keys.touch(key, t, Vec::new);
        if hit(Role::Until).is_some() {
            machines.clear();
        }
        // Absences first: an event that is both a `not` step and a step
        // cancels before it advances.
        for (index, at, _) in &self.negated {
            let at = *at;
            let Some(Hit {
                join: Some(join), ..
            }) = hit(Role::Step(*index))
            else {
                continue;
            };
            let m = machine(machines, join, self.steps.len());
            if at == 0 {
                m.leading_seen = Some(t);
            } else if at == self.steps.len() {
                m.awaiting = None;
            } else {
                m.pending[at] = None;
            }
        }
        // Positive steps from the last to the first, so one event never
        // takes a match through two steps.
        let last = self.steps.len() - 1;
        for (j, step) in self.steps.iter().enumerate().rev() {
            let Some(Hit {
                join: Some(join),
                fields,
                ..
            }) = hit(Role::Step(step.index))
            else {
                continue;
            };
            let m = machine(machines, join, self.steps.len());
            let here = StepRef {
                at: Ref {
                    step: Some(step.name.clone()),
                    file: h.file.clone(),
                    line: h.line,
                    time: h.time_text.clone(),
                    fields: None,
                },
                fields: (step.fields.iter().map(|(n, _)| n.clone()))
                    .zip(fields.iter().cloned())
                    .collect(),
            };
            let partial = if j == 0 {
                if m.leading_seen
                    .is_some_and(|s| s >= t.saturating_sub(window))
                {
                    continue;
                }
                Partial {
                    start: t,
                    events: vec![here],
                }
            } else {
                match m.pending[j].take() {
                    Some(mut p) if t.saturating_sub(p.start) <= window => {
                        p.events.push(here);
                        p
                    }
                    _ => continue,
                }
            };
            if j < last {
                m.pending[j + 1] = Some(partial);
            } else if self.negated.iter().any(|n| n.1 == self.steps.len()) {
                let deadline = partial.start.saturating_add(window);
                m.awaiting = Some((partial, h.clone()));
                self.timers
                    .push(Reverse((deadline, key.clone(), join.clone())));
            } else {
                out.push(alert(rule, partial, h.clone()));
            }
        }
        // Matches whose window has passed can never complete.
        for m in machines.iter_mut() {
            for p in m.pending.iter_mut() {
                if p.as_ref()
                    .is_some_and(|p| t.saturating_sub(p.start) > window)
                {
                    *p = None;
                }
            }
        }
        machines.retain(|m| {
            m.pending.iter().any(Option::is_some)
                || m.awaiting.is_some()
                || m.leading_seen
                    .is_some_and(|s| s >= t.saturating_sub(window))
        });
        // Per-step join values of one key are capped too; the oldest go,
        // counted with the evicted keys.
        let mut evicted = evicted;
        if machines.len() > MAX_JOINS {
            let extra = machines.len() - MAX_JOINS;
            machines.drain(..extra);
            evicted += extra;
        }
        evicted
    }
}

/// The alert of a completed sequence match.
fn alert(rule: usize, p: Partial, trigger: Arc<Held>) -> Out {
    let window = Window {
        key: Map::new(),
        count: p.events.len() as u64,
        distinct: None,
        first: rfc3339(p.start),
        last: rfc3339(trigger.time),
        events: p.events.into_iter().map(StepRef::done).collect(),
    };
    Out::Alert {
        rule,
        trigger,
        window,
    }
}

/// Join values kept per key when steps have their own `by`.
const MAX_JOINS: usize = 64;

fn machine<'m>(machines: &'m mut Vec<Machine>, join: &str, steps: usize) -> &'m mut Machine {
    let at = match machines.iter().position(|m| m.join == join) {
        Some(at) => at,
        None => {
            machines.push(Machine {
                join: join.to_string(),
                pending: vec![None; steps],
                awaiting: None,
                leading_seen: None,
            });
            machines.len() - 1
        }
    };
    &mut machines[at]
}

/// The event fields a condition reads, named as in the rule's `fields`.
fn collect_fields(c: &ward_compiler::lower::Cond, out: &mut Vec<(Rc<str>, FieldPath)>) {
    use ward_compiler::lower::{Cond, Operand};
    let mut push = |o: &Operand| {
        o.each_path(&mut |f| {
            if f.var.is_none() && !out.iter().any(|(_, p)| p == f) {
                out.push((crate::describe::path(f).into(), f.clone()));
            }
        })
    };
    match c {
        Cond::And(v) | Cond::Or(v) => v.iter().for_each(|x| collect_fields(x, out)),
        Cond::Not(x) => collect_fields(x, out),
        Cond::Quant { list, .. } => push(list),
        Cond::Cmp { lhs, rhs, .. }
        | Cond::StrField { lhs, rhs, .. }
        | Cond::InField { lhs, list: rhs, .. } => {
            push(lhs);
            push(rhs);
        }
        Cond::InSet { lhs, .. }
        | Cond::Cidr { lhs, .. }
        | Cond::Str { lhs, .. }
        | Cond::IsNull { operand: lhs, .. }
        | Cond::Truthy(lhs) => push(lhs),
        Cond::Exists(f) => push(&Operand::Field(f.clone())),
        Cond::Const(_) => {}
    }
}

/// Nanoseconds since the epoch as RFC 3339 UTC, with as many fraction
/// digits as needed (none, 3, 6 or 9).
pub fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (h, mi, s) = (sod / 3600, sod % 3600 / 60, sod % 60);
    let fraction = match frac {
        0 => String::new(),
        f if f % 1_000_000 == 0 => format!(".{:03}", f / 1_000_000),
        f if f % 1_000 == 0 => format!(".{:06}", f / 1_000),
        f => format!(".{f:09}"),
    };
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}{fraction}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_through_the_parser() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2023-12-07T14:44:53.358394Z",
            "2024-02-29T23:59:59.001Z",
            "2000-03-01T00:00:00.000000001Z",
            "1969-12-31T23:59:59Z",
        ] {
            let ns = ward_compiler::time::parse(text).expect("parses");
            assert_eq!(rfc3339(i64::try_from(ns).expect("fits")), text);
        }
    }

    #[test]
    fn times_are_text_or_epoch_seconds() {
        assert_eq!(
            time_ns(&Value::from("1970-01-01T00:00:01.5Z")),
            Some(1_500_000_000)
        );
        assert_eq!(
            time_ns(&Value::from(1_577_834_965)),
            Some(1_577_834_965_000_000_000)
        );
        assert_eq!(time_ns(&Value::from(1.5)), Some(1_500_000_000));
        assert_eq!(time_ns(&Value::from("yesterday")), None);
        assert_eq!(time_ns(&Value::from(1e300)), None);
        assert_eq!(time_ns(&Value::Null), None);
    }

    #[test]
    fn durations_print_as_written() {
        assert_eq!(human(5 * 60 * 1_000_000_000), "5m");
        assert_eq!(human(90 * 1_000_000_000), "90s");
        assert_eq!(human(250_000_000), "250ms");
        assert_eq!(human(0), "0ms");
    }
}

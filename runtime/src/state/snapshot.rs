//! Snapshots of the stateful operators: what [`Engine`] holds (open
//! windows, partial sequences, events held for ordering, its clock) as a
//! versioned JSON document, written atomically and restored into an
//! engine of the same or a changed rule set (spec/serve.md, "State across
//! restarts").
//!
//! Each rule's state carries the rule's id and a fingerprint of its
//! stateful definition: restored only into a rule with the same id and
//! fingerprint, so a changed rule starts empty instead of reading state
//! that meant something else.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ward_compiler::lower::{Rule, Stateful};
use ward_compiler::plan::Role;

use super::{
    last_sightings, route, Counter, Engine, Held, Hit, Machine, Op, Partial, Payload, Queued, Ref,
    Sequencer, StepRef, Tally,
};
use crate::decode::{Event, Via};

/// The format written; a file of another is set aside, not read.
pub const FORMAT: u32 = 1;

/// Everything the operators hold, at one point between events.
#[derive(Debug, Serialize, Deserialize)]
pub struct Snapshot {
    pub format: u32,
    /// When it was taken, by the wall clock (RFC 3339).
    pub taken: String,
    pub clock: Clock,
    pub rules: Vec<RuleState>,
    /// Events held for ordering (`lateness`), not yet given to the rules.
    pub held: Vec<HeldState>,
}

/// The engine's event-time clock.
#[derive(Debug, Serialize, Deserialize)]
pub struct Clock {
    /// Latest event time seen (ns since the epoch).
    pub max_time: Option<i64>,
    /// Time of the last event released to the operators.
    pub now: i64,
    pub arrivals: u64,
}

/// One stateful rule's state.
#[derive(Debug, Serialize, Deserialize)]
pub struct RuleState {
    pub id: String,
    pub fingerprint: String,
    #[serde(flatten)]
    pub op: OpState,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OpState {
    Count { keys: Vec<CountKey> },
    Sequence { keys: Vec<SequenceKey> },
}

impl OpState {
    /// Live keys.
    pub fn keys(&self) -> usize {
        match self {
            OpState::Count { keys } => keys.len(),
            OpState::Sequence { keys } => keys.len(),
        }
    }
}

/// A `count` rule's window for one key.
#[derive(Debug, Serialize, Deserialize)]
pub struct CountKey {
    pub key: String,
    /// Event time the key was last touched.
    pub touched: i64,
    pub times: Vec<i64>,
    /// `count distinct`: (value as JSON text, time last seen, value).
    #[serde(default)]
    pub values: Vec<(String, i64, Value)>,
    pub recent: Vec<(i64, Ref)>,
    pub quiet_until: i64,
}

/// A `sequence` rule's pending matches for one key.
#[derive(Debug, Serialize, Deserialize)]
pub struct SequenceKey {
    pub key: String,
    pub touched: i64,
    pub machines: Vec<MachineState>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct MachineState {
    pub join: String,
    /// Per positive step j, a match of the steps before it, waiting.
    pub pending: Vec<Option<PartialState>>,
    /// All steps matched, waiting for a trailing `not` step's window.
    pub awaiting: Option<(PartialState, HeldState)>,
    pub leading_seen: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PartialState {
    pub start: i64,
    pub events: Vec<StepState>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StepState {
    pub at: Ref,
    /// The fields the step's condition reads: (name, JSON text).
    pub fields: Vec<(String, String)>,
}

/// An event kept whole: held for ordering (with what the rules read of
/// it), or the trigger of a sequence awaiting its window.
#[derive(Debug, Serialize, Deserialize)]
pub struct HeldState {
    pub payload: PayloadState,
    pub source: String,
    pub file: String,
    pub line: usize,
    pub time: i64,
    pub time_text: Value,
    /// Order of arrival among events of the same time.
    #[serde(default)]
    pub arrival: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hits: Vec<HitState>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadState {
    /// A JSON line as it came.
    Line { text: String, via: Via },
    /// The same, were it not UTF-8.
    LineBase64 { bytes: String, via: Via },
    Event {
        value: Value,
        #[serde(default)]
        original: Option<Value>,
        via: Via,
    },
}

/// What a stateful rule read of a held event.
#[derive(Debug, Serialize, Deserialize)]
pub struct HitState {
    /// The rule's id (indexes change from one rule set to the next).
    pub rule: String,
    /// `count`, `until` or `step N`.
    pub role: String,
    pub key: Option<String>,
    #[serde(default)]
    pub distinct: Option<Value>,
    #[serde(default)]
    pub join: Option<String>,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// What [`Engine::restore`] did, per rule: (id, keys).
#[derive(Debug, Default)]
pub struct Restored {
    /// Same id and fingerprint: state taken.
    pub taken: Vec<(String, usize)>,
    /// Same id, another definition: state dropped.
    pub changed: Vec<(String, usize)>,
    /// No such active stateful rule now: state dropped.
    pub unknown: Vec<(String, usize)>,
    /// Events held for ordering, taken and dropped (for rules changed or
    /// gone, or of a source no longer known).
    pub held: usize,
    pub held_dropped: usize,
}

impl Restored {
    /// One line for the log.
    pub fn summary(&self) -> String {
        let list = |v: &[(String, usize)]| {
            let each: Vec<String> = v
                .iter()
                .map(|(id, n)| format!("{id} ({n} key(s))"))
                .collect();
            each.join(", ")
        };
        let mut s = format!(
            "state of {} rule(s) restored{}; {} held event(s) restored",
            self.taken.len(),
            match self.taken.is_empty() {
                true => String::new(),
                false => format!(": {}", list(&self.taken)),
            },
            self.held
        );
        if !self.changed.is_empty() {
            s += &format!(
                "; state DROPPED for {} changed rule(s): {}",
                self.changed.len(),
                list(&self.changed)
            );
        }
        if !self.unknown.is_empty() {
            s += &format!(
                "; state DROPPED for {} rule(s) no longer loaded or active: {}",
                self.unknown.len(),
                list(&self.unknown)
            );
        }
        if self.held_dropped > 0 {
            s += &format!(
                "; {} held event(s) dropped (their rules changed or went)",
                self.held_dropped
            );
        }
        s
    }
}

/// The identity of a rule's stateful definition: its source, conditions,
/// keys, window, threshold and steps (not its output, severity or
/// metadata), as a hash of their debug form with the matcher's slot
/// numbers cleared (they depend on the other rules).
pub fn fingerprint(rule: &Rule) -> String {
    let mut when = rule.when.clone();
    let mut excepts = rule.excepts.clone();
    let mut stateful = rule.stateful.clone();
    let clear = &mut |p: &mut ward_compiler::lower::FieldPath| p.slot = None;
    when.each_path_mut(clear);
    excepts.iter_mut().for_each(|c| c.each_path_mut(clear));
    match &mut stateful {
        Some(Stateful::Count(c)) => {
            c.by.iter_mut().for_each(|k| clear(&mut k.path));
            if let Some(k) = &mut c.distinct {
                clear(&mut k.path);
            }
        }
        Some(Stateful::Sequence(q)) => {
            q.by.iter_mut().for_each(|k| clear(&mut k.path));
            for s in &mut q.steps {
                s.when.each_path_mut(clear);
                s.by.iter_mut().for_each(|k| clear(&mut k.path));
            }
            if let Some(u) = &mut q.until {
                u.each_path_mut(clear);
            }
        }
        None => {}
    }
    let text = format!("{:?}\n{when:?}\n{excepts:?}\n{stateful:?}", rule.source);
    // FNV-1a, 64 bits: stable across builds and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn role_text(role: Role) -> String {
    match role {
        Role::Alert => "alert".into(),
        Role::Count => "count".into(),
        Role::Until => "until".into(),
        Role::Step(n) => format!("step {n}"),
    }
}

fn role_of(text: &str) -> Option<Role> {
    match text {
        "count" => Some(Role::Count),
        "until" => Some(Role::Until),
        _ => text.strip_prefix("step ")?.parse().ok().map(Role::Step),
    }
}

fn held_state(h: &Held, arrival: u64, hits: Vec<HitState>) -> HeldState {
    let payload = match &h.payload {
        Payload::Line(bytes, via) => match std::str::from_utf8(bytes) {
            Ok(text) => PayloadState::Line {
                text: text.to_string(),
                via: *via,
            },
            Err(_) => PayloadState::LineBase64 {
                bytes: base64::engine::general_purpose::STANDARD.encode(bytes),
                via: *via,
            },
        },
        Payload::Event(e) => PayloadState::Event {
            value: e.value.clone(),
            original: e.original.clone(),
            via: e.via,
        },
    };
    HeldState {
        payload,
        source: h.source.to_string(),
        file: h.file.to_string(),
        line: h.line,
        time: h.time,
        time_text: h.time_text.clone(),
        arrival,
        hits,
    }
}

/// The held event again; `None` for a source this build does not know or
/// bytes that do not decode.
fn held_of(s: HeldState) -> Option<Held> {
    let source = crate::decode::source_named(&s.source)?;
    let payload = match s.payload {
        PayloadState::Line { text, via } => Payload::Line(text.into_bytes().into(), via),
        PayloadState::LineBase64 { bytes, via } => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(bytes)
                .ok()?;
            Payload::Line(bytes.into(), via)
        }
        PayloadState::Event {
            value,
            original,
            via,
        } => Payload::Event(Event {
            source,
            value,
            original,
            line: s.line,
            via,
        }),
    };
    Some(Held {
        payload,
        source,
        file: Arc::from(s.file),
        line: s.line,
        time: s.time,
        time_text: s.time_text,
    })
}

fn partial_state(p: &Partial) -> PartialState {
    PartialState {
        start: p.start,
        events: (p.events.iter())
            .map(|e| StepState {
                at: e.at.clone(),
                fields: (e.fields.iter())
                    .map(|(n, t)| (n.to_string(), t.to_string()))
                    .collect(),
            })
            .collect(),
    }
}

fn partial_of(p: PartialState) -> Partial {
    Partial {
        start: p.start,
        events: (p.events.into_iter())
            .map(|e| StepRef {
                at: e.at,
                fields: (e.fields.into_iter())
                    .map(|(n, t)| (Rc::from(n), t.into_boxed_str()))
                    .collect(),
            })
            .collect(),
    }
}

/// The `cap` most recently touched of `keys` (a snapshot of a larger
/// `max_keys` restored under a smaller one).
fn newest<K>(mut keys: Vec<K>, cap: usize, touched: impl Fn(&K) -> i64) -> Vec<K> {
    if keys.len() > cap {
        keys.sort_by_key(|k| std::cmp::Reverse(touched(k)));
        keys.truncate(cap);
    }
    keys
}

impl Counter {
    fn state(&self) -> OpState {
        let keys = (self.keys.map.iter())
            .map(|(key, (touched, t))| CountKey {
                key: key.clone(),
                touched: *touched,
                times: t.times.iter().copied().collect(),
                values: (t.values.iter())
                    .map(|(k, (seen, v))| (k.to_string(), *seen, v.clone()))
                    .collect(),
                recent: t.recent.iter().cloned().collect(),
                quiet_until: t.quiet_until,
            })
            .collect();
        OpState::Count { keys }
    }

    fn restore(&mut self, keys: Vec<CountKey>) {
        for k in newest(keys, self.keys.cap, |k| k.touched) {
            let values: HashMap<Rc<str>, (i64, Value)> = (k.values.into_iter())
                .map(|(text, seen, v)| (Rc::from(text), (seen, v)))
                .collect();
            let tally = Tally {
                times: VecDeque::from(k.times),
                sightings: last_sightings(&values),
                values,
                recent: VecDeque::from(k.recent),
                quiet_until: k.quiet_until,
            };
            self.keys.map.insert(k.key, (k.touched, tally));
        }
        self.keys.swept = self.keys.map.len();
    }
}

impl Sequencer {
    fn state(&self) -> OpState {
        let keys = (self.keys.map.iter())
            .map(|(key, (touched, machines))| SequenceKey {
                key: key.clone(),
                touched: *touched,
                machines: (machines.iter())
                    .map(|m| MachineState {
                        join: m.join.clone(),
                        pending: m
                            .pending
                            .iter()
                            .map(|p| p.as_ref().map(partial_state))
                            .collect(),
                        awaiting: (m.awaiting.as_ref())
                            .map(|(p, h)| (partial_state(p), held_state(h, 0, Vec::new()))),
                        leading_seen: m.leading_seen,
                    })
                    .collect(),
            })
            .collect();
        OpState::Sequence { keys }
    }

    fn restore(&mut self, keys: Vec<SequenceKey>) {
        let steps = self.steps.len();
        for k in newest(keys, self.keys.cap, |k| k.touched) {
            let mut machines = Vec::new();
            for m in k.machines.into_iter().take(super::MAX_JOINS) {
                let mut pending: Vec<Option<Partial>> =
                    m.pending.into_iter().map(|p| p.map(partial_of)).collect();
                // Same fingerprint, same steps; a hand-edited file may lie.
                pending.resize_with(steps, || None);
                let awaiting = m
                    .awaiting
                    .and_then(|(p, h)| Some((partial_of(p), Arc::new(held_of(h)?))));
                if let Some((p, _)) = &awaiting {
                    let deadline = p.start.saturating_add(self.window);
                    let (key, join) = (k.key.clone(), m.join.clone());
                    self.timers.push(std::cmp::Reverse((deadline, key, join)));
                }
                machines.push(Machine {
                    join: m.join,
                    pending,
                    awaiting,
                    leading_seen: m.leading_seen,
                });
            }
            self.keys.map.insert(k.key, (k.touched, machines));
        }
        self.keys.swept = self.keys.map.len();
    }
}

impl Engine {
    /// Everything the operators hold, to be restored later (into this
    /// rule set or another).
    pub fn snapshot(&self) -> Snapshot {
        let rules = (self.ops.iter().enumerate())
            .filter_map(|(i, op)| {
                let op = match op.as_ref()? {
                    Op::Count(c) => c.state(),
                    Op::Sequence(s) => s.state(),
                };
                Some(RuleState {
                    id: self.ids[i].clone(),
                    fingerprint: self.fingerprints[i].clone()?,
                    op,
                })
            })
            .collect();
        let mut held: Vec<&Queued> = self.buffer.iter().collect();
        held.sort();
        let held = (held.into_iter())
            .map(|q| {
                let hits = (q.hits.iter())
                    .map(|h| HitState {
                        rule: self.ids[h.rule].clone(),
                        role: role_text(h.role),
                        key: h.key.clone(),
                        distinct: h.distinct.clone(),
                        join: h.join.clone(),
                        fields: h.fields.iter().map(|f| f.to_string()).collect(),
                    })
                    .collect();
                held_state(&q.held, q.arrival, hits)
            })
            .collect();
        Snapshot {
            format: FORMAT,
            taken: super::rfc3339(super::now_ns()),
            clock: Clock {
                max_time: self.max_time,
                now: self.now,
                arrivals: self.arrivals,
            },
            rules,
            held,
        }
    }

    /// Takes the state of `snap` for the rules whose id and fingerprint
    /// match, and its clock; meant for an engine that has seen no event.
    pub fn restore(&mut self, snap: Snapshot) -> Restored {
        let mut done = Restored::default();
        let index: HashMap<&str, usize> = (self.ids.iter().enumerate())
            .filter(|(i, _)| matches!(self.ops.get(*i), Some(Some(_))))
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut taken: HashMap<String, usize> = HashMap::new();
        for r in snap.rules {
            let keys = r.op.keys();
            let Some(&i) = index.get(r.id.as_str()) else {
                done.unknown.push((r.id, keys));
                continue;
            };
            if self.fingerprints[i].as_deref() != Some(r.fingerprint.as_str()) {
                done.changed.push((r.id, keys));
                continue;
            }
            let fits = match (&mut self.ops[i], r.op) {
                (Some(Op::Count(c)), OpState::Count { keys }) => {
                    c.restore(keys);
                    true
                }
                (Some(Op::Sequence(s)), OpState::Sequence { keys }) => {
                    s.restore(keys);
                    true
                }
                _ => false,
            };
            if fits {
                taken.insert(r.id.clone(), i);
                done.taken.push((r.id, keys));
            } else {
                done.changed.push((r.id, keys));
            }
        }
        self.max_time = match (self.max_time, snap.clock.max_time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.now = self.now.max(snap.clock.now);
        self.arrivals = self.arrivals.max(snap.clock.arrivals);
        for mut h in snap.held {
            let hits: Vec<Hit> = (std::mem::take(&mut h.hits).into_iter())
                .filter_map(|x| {
                    let rule = *taken.get(&x.rule)?;
                    Some(Hit {
                        rule,
                        role: role_of(&x.role)?,
                        route: route(rule, x.key.as_deref()),
                        key: x.key,
                        distinct: x.distinct,
                        join: x.join,
                        fields: x.fields.into_iter().map(String::into_boxed_str).collect(),
                    })
                })
                .collect();
            let arrival = h.arrival;
            let held = match held_of(h) {
                Some(held) if !hits.is_empty() => held,
                _ => {
                    done.held_dropped += 1;
                    continue;
                }
            };
            let bytes = held.bytes() + hits.iter().map(Hit::bytes).sum::<usize>();
            self.held_bytes += bytes;
            self.buffer.push(Queued {
                time: held.time,
                bytes,
                arrival,
                held: Arc::new(held),
                hits,
            });
            done.held += 1;
        }
        self.progress = std::time::Instant::now();
        done
    }
}

/// What was found at a snapshot's path.
#[derive(Debug)]
pub enum Found {
    /// No file: a first start.
    Missing,
    Snapshot(Snapshot),
    /// Not a snapshot of this format; moved aside to `moved` (when the
    /// rename worked) so that the next snapshot does not overwrite it.
    Bad {
        error: String,
        moved: Result<PathBuf, String>,
    },
    /// There, but not readable (permissions): left where it is.
    Unreadable(String),
}

/// Reads the snapshot at `path`; a file that is not one is renamed to
/// `PATH.corrupt-TIME`.
pub fn load(path: &Path) -> Found {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Found::Missing,
        Err(e) => return Found::Unreadable(e.to_string()),
    };
    match parse(&bytes) {
        Ok(s) => Found::Snapshot(s),
        Err(error) => {
            let stamp: String = super::rfc3339(super::now_ns())
                .chars()
                .filter(|c| !matches!(c, '-' | ':'))
                .collect();
            let mut aside = path.as_os_str().to_owned();
            aside.push(format!(".corrupt-{stamp}"));
            let aside = PathBuf::from(aside);
            let moved = std::fs::rename(path, &aside)
                .map(|()| aside)
                .map_err(|e| e.to_string());
            Found::Bad { error, moved }
        }
    }
}

/// A snapshot from its bytes: the format first, so that a file of
/// another version says so rather than where its fields differ.
pub fn parse(bytes: &[u8]) -> Result<Snapshot, String> {
    #[derive(Deserialize)]
    struct Header {
        format: Option<u32>,
    }
    let header: Header =
        serde_json::from_slice(bytes).map_err(|e| format!("not a state snapshot: {e}"))?;
    match header.format {
        Some(FORMAT) => {}
        Some(n) => return Err(format!("format {n}; this ward reads format {FORMAT}")),
        None => return Err("not a state snapshot: no `format`".into()),
    }
    serde_json::from_slice(bytes).map_err(|e| format!("not a state snapshot: {e}"))
}

/// Writes `snap` to `path` atomically: a temporary file in the same
/// directory, synced, renamed over `path`, the directory synced. Returns
/// the bytes written.
pub fn save(path: &Path, snap: &Snapshot) -> std::io::Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
        serde_json::to_writer(&mut w, snap)?;
        w.write_all(b"\n")?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let len = file.metadata()?.len();
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()?;
        Ok(len)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests;

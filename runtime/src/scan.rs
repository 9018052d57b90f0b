//! Scanning: events through the planned matcher, alerts out, with the
//! counts the summary reports.
//!
//! A JSON line takes the fast path: only the fields rules read (and alerts
//! show) are extracted, into storage reused from line to line; the matcher
//! and the compiled type check run on them, and an alert is written from
//! them and the line's text (an object the extraction read only in part is
//! read again whole from its span). Documents, wrappings and lines the fast
//! path declines are decoded in full and run through the same matcher.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use ward_compiler::doc::{Doc, Kind};
use ward_compiler::lower::RuleSet;
use ward_compiler::plan::Role;
use ward_compiler::schema;

use crate::alert::{self, EventJson};
use crate::decode::{self, Event, Problem, Via};
use crate::extract::{extract_reusing, At, Buffers};
use crate::matcher::{Matcher, Scratch};
use crate::parallel::{Lines, Rendered, Shards};
use crate::state::{self, Engine, Out, Payload};

/// What a scan saw.
#[derive(Debug, Default)]
pub struct Stats {
    pub events: u64,
    pub bytes: u64,
    pub per_source: BTreeMap<&'static str, u64>,
    pub alerts: BTreeMap<String, u64>,
    /// JSON of no known source.
    pub unknown: u64,
    /// Not JSON.
    pub malformed: u64,
    /// Longer than the line limit.
    pub too_long: u64,
    /// The first problems.
    pub problem_samples: Vec<ProblemSample>,
    /// Events with a field whose JSON type is not the schema's.
    pub type_drift: u64,
    pub drift_samples: Vec<String>,
    /// Per input file, in the order read.
    pub files: Vec<FileStats>,
}

impl Stats {
    /// Lines (or documents) that held no event, of all kinds.
    pub fn problems(&self) -> u64 {
        self.unknown + self.malformed + self.too_long
    }

    /// Adds the counts of a part of the input read after what these
    /// counts cover (a batch of a parallel scan, of the input file
    /// `files[file]`): the totals add up and the samples are the first in
    /// input order, as if one scan had read both.
    pub fn absorb(&mut self, part: Stats, file: usize) {
        self.events += part.events;
        self.bytes += part.bytes;
        for (source, n) in part.per_source {
            *self.per_source.entry(source).or_default() += n;
        }
        for (rule, n) in part.alerts {
            *self.alerts.entry(rule).or_default() += n;
        }
        self.unknown += part.unknown;
        self.malformed += part.malformed;
        self.too_long += part.too_long;
        let room = SAMPLES.saturating_sub(self.problem_samples.len());
        (self.problem_samples).extend(part.problem_samples.into_iter().take(room));
        self.type_drift += part.type_drift;
        let room = SAMPLES.saturating_sub(self.drift_samples.len());
        (self.drift_samples).extend(part.drift_samples.into_iter().take(room));
        let Some(into) = self.files.get_mut(file) else {
            return;
        };
        for f in part.files {
            into.events += f.events;
            into.unknown += f.unknown;
            into.malformed += f.malformed;
            into.too_long += f.too_long;
            into.drifted += f.drifted;
            if into.first_problem.is_none() {
                into.first_problem = f.first_problem;
            }
        }
    }
}

/// What one input file held.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FileStats {
    pub file: String,
    pub events: u64,
    pub unknown: u64,
    pub malformed: u64,
    pub too_long: u64,
    pub drifted: u64,
    /// Its first problem, to say why a file gave no event.
    #[serde(skip)]
    pub first_problem: Option<String>,
}

impl FileStats {
    pub fn problems(&self) -> u64 {
        self.unknown + self.malformed + self.too_long
    }

    /// A file of which nothing was read: why, and what to do.
    pub fn warning(&self) -> Option<String> {
        if self.events > 0 || self.problems() == 0 {
            return None;
        }
        let mut w = format!(
            "{}: no event read; {} line(s) held none",
            self.file,
            self.problems()
        );
        w += &format!(
            " ({})",
            problem_kinds(self.unknown, self.malformed, self.too_long)
        );
        if let Some(first) = &self.first_problem {
            w += &format!("; the first: {first}");
        }
        if self.unknown > 0 {
            w += ". If these are events of one source in a shape Ward does not \
                  recognise, name it with --source SOURCE (spec/inputs.md)";
        }
        Some(w)
    }
}

/// Counts of problem lines by kind, as the summary words them (`3 of
/// unknown source, 1 not JSON`); kinds with none left out.
pub fn problem_kinds(unknown: u64, malformed: u64, too_long: u64) -> String {
    let kinds = [
        (unknown, "of unknown source"),
        (malformed, "not JSON"),
        (too_long, "too long"),
    ];
    let kinds: Vec<String> = kinds
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    kinds.join(", ")
}

/// One problem line, as the summary lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProblemSample {
    pub file: String,
    pub line: usize,
    /// `unknown`, `malformed` or `too-long`.
    pub kind: &'static str,
    pub message: String,
}

impl std::fmt::Display for ProblemSample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.message)
    }
}

/// How many problems the summary lists one by one.
pub const SAMPLES: usize = 10;

/// How alerts are written.
#[derive(Clone, Copy)]
pub struct Output {
    pub text: bool,
    pub with_event: bool,
}

/// A scan in progress: matcher, counters and the alert sink.
pub struct Scan<'w> {
    pub matcher: Matcher,
    pub stats: Stats,
    scratch: Scratch,
    sink: &'w mut dyn Write,
    out: Output,
    /// The first error writing alerts; the scan stops reporting after it.
    pub write_error: Option<std::io::Error>,
    /// Show a progress line on the terminal (stderr is one).
    pub progress: bool,
    /// The source every event is taken as (`--source`), whatever its shape.
    pub source: Option<&'static str>,
    /// The extraction arena's storage, reused from line to line.
    bufs: Buffers,
    /// The stateful rules' operators.
    pub engine: Engine,
    /// The name of the file being read, shared by the events it holds.
    file: Option<Arc<str>>,
    outs: Vec<Out>,
    /// The parts of stateful rules an event matched, as (rule, role).
    units: Vec<(usize, Role)>,
    /// Per rule, what its alert lines share.
    templates: Vec<alert::Template>,
    /// Alert lines rendered and not yet written, kept from event to event.
    pending: Pending,
    /// In a worker of a parallel scan: what the events of a batch leave to
    /// the merging thread, in order, instead of doing it here.
    lane: Option<Lane>,
    /// On the merging thread of a parallel scan with stateful rules: the
    /// shards the engine (a front, see [`state::Step`]) hands its work to,
    /// and the alert lines waiting for theirs.
    shards: Option<Shards>,
    /// Replaying a batch: the shards are given its work at the end.
    holding: bool,
    /// A worker of the shards failed (a bug): the message.
    pub shard_failure: Option<String>,
}

/// What a worker of a parallel scan leaves to the thread that merges, per
/// batch of events: the steps that must run in input order (event time
/// moving on, alert lines written, events offered to the stateful rules),
/// in the order a single-threaded scan takes them. Extraction, matching
/// and the rendering of stateless alerts are done.
#[derive(Default)]
pub struct Lane {
    /// Alert lines, each with its newline.
    bytes: Vec<u8>,
    /// Per line, its rule.
    rules: Vec<usize>,
    /// The events for the stateful operators, in order (one allocation
    /// per batch, not per event).
    arrivals: Vec<state::Arrival>,
    ops: Vec<LaneOp>,
}

impl Lane {
    /// An empty lane with room for what `self` holds and a quarter more:
    /// the next batch's alert lines are not copied on every doubling.
    fn sized_like(&self) -> Lane {
        fn room<T>(v: &[T]) -> Vec<T> {
            Vec::with_capacity(v.len() + v.len() / 4)
        }
        Lane {
            bytes: room(&self.bytes),
            rules: room(&self.rules),
            arrivals: room(&self.arrivals),
            ops: room(&self.ops),
        }
    }
}

enum LaneOp {
    /// [`Engine::advance`] to the event's time.
    Advance(Option<i64>),
    /// Alert lines up to these ends of `bytes` and `rules`.
    Alerts { bytes: usize, rules: usize },
    /// The next of `arrivals` for the stateful operators.
    Offer,
}

/// Alert lines waiting to be written, one after another in one buffer,
/// each with its newline.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// Per line, the rule it alerts for.
    rules: Vec<usize>,
}

impl Pending {
    /// Ends the line just rendered, an alert of `rule`.
    fn end(&mut self, rule: usize) {
        self.bytes.push(b'\n');
        self.rules.push(rule);
    }
}

/// Steps of the stateful rules a stream's events may leave for the shards
/// between two reads before they are handed out.
const STREAM_STEPS: u64 = 4096;

/// Events between two progress updates.
const PROGRESS_EVERY: u64 = 1 << 17;

impl<'w> Scan<'w> {
    pub fn new(rules: RuleSet, sink: &'w mut dyn Write, out: Output) -> Scan<'w> {
        Scan::with_state(rules, sink, out, state::Config::default())
    }

    pub fn with_state(
        rules: RuleSet,
        sink: &'w mut dyn Write,
        out: Output,
        cfg: state::Config,
    ) -> Scan<'w> {
        Scan::with_matcher(Matcher::new(rules), sink, out, cfg)
    }

    /// [`Scan::with_state`] of a matcher built already (a worker's copy of
    /// the reading thread's: planning a rule set again costs more than
    /// copying its plan).
    pub fn with_matcher(
        matcher: Matcher,
        sink: &'w mut dyn Write,
        out: Output,
        cfg: state::Config,
    ) -> Scan<'w> {
        let templates = matcher
            .rules
            .rules
            .iter()
            .map(alert::Template::new)
            .collect();
        Scan {
            templates,
            pending: Pending::default(),
            // Of the matcher's rules: their paths have slots.
            engine: Engine::new(&matcher.rules, cfg),
            file: None,
            outs: Vec::new(),
            units: Vec::new(),
            matcher,
            stats: Stats::default(),
            scratch: Scratch::default(),
            sink,
            out,
            write_error: None,
            progress: false,
            source: None,
            bufs: Buffers::default(),
            lane: None,
            shards: None,
            holding: false,
            shard_failure: None,
        }
    }

    /// Runs `rules` from here on (a reload between events): the matcher,
    /// alert templates and stateful operators are new, the counts and the
    /// sink go on. Returns the old operators, whose state the caller may
    /// carry over ([`Engine::snapshot`], [`Engine::restore`]).
    pub fn swap_rules(&mut self, rules: RuleSet) -> Engine {
        self.templates = rules.rules.iter().map(alert::Template::new).collect();
        self.matcher = Matcher::new(rules);
        let mut engine = Engine::new(&self.matcher.rules, self.engine.config());
        engine.set_stream(self.engine.is_stream());
        self.bufs = Buffers::default();
        self.scratch = Scratch::default();
        std::mem::replace(&mut self.engine, engine)
    }

    /// Makes this scan a worker of a parallel one: the steps that must
    /// run in input order are kept (see [`Lane`]) for [`Scan::replay`] on
    /// the merging thread's scan, and the sink is not written.
    pub fn into_lane(mut self) -> Self {
        self.lane = Some(Lane::default());
        self
    }

    /// A worker's batch done: what it leaves to the merging thread, and
    /// its counts (one file's, begun with [`Scan::begin_file`]).
    pub fn take_lane(&mut self) -> (Lane, Stats) {
        let next = self
            .lane
            .as_ref()
            .map_or_else(Lane::default, Lane::sized_like);
        let lane = self.lane.replace(next).unwrap_or_default();
        (lane, std::mem::take(&mut self.stats))
    }

    /// On the merging thread, a worker's batch of the file `file`, in
    /// input order: event time moves on, alert lines are counted and
    /// written, stateful rules see their events, as if this scan had read
    /// the batch itself.
    pub fn replay(&mut self, file: &str, lane: Lane) {
        self.holding = true;
        let (mut bytes, mut rules) = (0, 0);
        // Lines that wait for the shards stay in the lane's buffer.
        let shared = std::rc::Rc::new(lane.bytes);
        let mut arrivals = lane.arrivals.into_iter();
        for op in lane.ops {
            match op {
                LaneOp::Advance(time) => self.advance(time),
                LaneOp::Alerts { bytes: b, rules: r } => {
                    for &rule in &lane.rules[rules..r] {
                        self.count_alert(rule);
                    }
                    match self.shards_behind() {
                        Some((shards, cmds)) => {
                            shards.queue(cmds, Lines::Part(shared.clone(), bytes..b));
                        }
                        None => self.write_now(shared.get(bytes..b).unwrap_or_default()),
                    }
                    (bytes, rules) = (b, r);
                }
                LaneOp::Offer => {
                    if let Some(a) = arrivals.next() {
                        self.offer(file, a);
                    }
                }
            }
        }
        self.holding = false;
        self.sync_shards(false);
    }

    /// Makes this worker's engine one of the shards of the stateful rules
    /// (see [`state::Step`]).
    pub fn be_shard(&mut self) {
        self.engine = Engine::shard(&self.matcher.rules, self.engine.config());
    }

    /// A shard runs the front's steps and renders their outputs; with
    /// `finish` (the end of input), it also says what it saw.
    pub fn shard_steps(
        &mut self,
        steps: Vec<(u64, state::Step)>,
        finish: bool,
    ) -> (Vec<Rendered>, Option<state::StateStats>) {
        let mut tagged = Vec::new();
        for (cmd, step) in steps {
            self.engine.step(cmd, step, &mut tagged);
        }
        let mut lines = Vec::with_capacity(tagged.len());
        for t in tagged {
            let mut line = Vec::new();
            let alert = self.render_state(t.out, &mut line).is_some();
            lines.push(Rendered {
                cmd: t.cmd,
                rule: t.rule,
                order: t.order,
                alert,
                line,
            });
        }
        let stats = finish.then(|| {
            self.engine.finish(&mut Vec::new());
            std::mem::take(&mut self.engine.stats)
        });
        (lines, stats)
    }

    /// Makes this scan's engine the front of `shards` (see [`state::Step`]).
    pub fn be_front(&mut self, shards: Shards) {
        self.engine.route(shards.count());
        self.shards = Some(shards);
    }

    /// Gives the shards the engine's work, and writes what they have done
    /// in order; with `all`, waits until they have done everything.
    fn sync_shards(&mut self, all: bool) {
        let Some(mut shards) = self.shards.take() else {
            return;
        };
        shards.send(&mut self.engine);
        shards.collect(all, &mut |alert, line| {
            if let Some(rule) = alert {
                self.count_alert(rule);
            }
            self.write_now(line);
        });
        if let Some(e) = shards.failure.take() {
            self.shard_failure.get_or_insert(e);
        }
        self.shards = Some(shards);
    }

    /// After the engine ran: the shards get its work now, unless a batch
    /// is being replayed (they get it at its end) or a stream is read
    /// (they get it before the stream is read again: [`Scan::flush`]).
    fn engine_ran(&mut self) {
        if self.shards.is_none() || self.holding {
            return;
        }
        match self.engine.is_stream() {
            false => self.sync_shards(true),
            // Bounded between reads all the same.
            true if self.engine.commands_unsent() > STREAM_STEPS => self.sync_shards(false),
            true => {}
        }
    }

    /// The fast path for one JSON line; `false` hands it to full decoding.
    pub fn line(&mut self, file: &str, text: &[u8], line: usize) -> bool {
        self.line_via(file, text, line, Via::Raw)
    }

    /// [`Scan::line`] for a JSON text that came `via` a wrapping (a record
    /// of a CloudTrail `Records` document), as its alerts say.
    pub fn line_via(&mut self, file: &str, text: &[u8], line: usize, via: Via) -> bool {
        let bufs = std::mem::take(&mut self.bufs);
        let Some(sparse) = extract_reusing(text, &self.matcher.projection, bufs) else {
            return false;
        };
        let root = sparse.root();
        if root.kind() != Kind::Obj {
            return false;
        }
        let Some(source) = self.source.or_else(|| self.matcher.source_of(root)) else {
            return false;
        };
        if self.matcher.wrapped(root, source) {
            return false;
        }
        let Some(time_field) = self.matcher.line_time(source, root) else {
            self.bufs = sparse.into_buffers();
            return false;
        };
        let stateful = self.engine.active();
        let time = state::Stamp::of(time_field.filter(|_| stateful));
        let time_ns = time.ns;
        self.matcher.matching(source, root, &mut self.scratch);
        // The compiled check first; the schema's validator says where.
        // A time read as one (stateful rules') is not parsed again.
        let read = time.field.filter(|_| time_ns.is_some());
        let drift = match self.matcher.drift.fits(source, root, read) {
            true => None,
            false => first_drift(source, root),
        };
        if self.scratch.candidates.is_empty() {
            self.bufs = sparse.into_buffers();
            count(&mut self.stats, self.progress, file, source, drift, line);
            if stateful {
                self.advance(time_ns);
            }
            return true;
        }
        let mut units = std::mem::take(&mut self.units);
        stateful_parts(&self.matcher, &self.scratch.candidates, &mut units);
        // A stateless rule fired: its alerts are rendered from the line.
        let mut pending = std::mem::take(&mut self.pending);
        if units.len() < self.scratch.candidates.len() {
            let at = (file, line, via);
            self.alerts_from_line(at, source, sparse.text(), root, &mut pending);
        }
        count(&mut self.stats, self.progress, file, source, drift, line);
        // Parts of stateful rules read their keys here; the line itself is
        // kept as text, parsed again only if it completes an alert.
        let arrival = (!units.is_empty()).then(|| {
            let payload = Payload::Line(text.into(), via);
            (self.engine).arrival(source, line, root, time, &units, payload)
        });
        self.units = units;
        self.bufs = sparse.into_buffers();
        if stateful {
            self.advance(time_ns);
        }
        self.emit(&mut pending);
        self.pending = pending;
        if let Some(a) = arrival {
            self.offer(file, a);
        }
        true
    }

    /// A fully decoded event.
    pub fn event(&mut self, file: &str, ev: &Event) {
        let drift = first_drift(ev.source, &ev.value);
        count(
            &mut self.stats,
            self.progress,
            file,
            ev.source,
            drift,
            ev.line,
        );
        let time = state::Stamp::of(self.matcher.time_of(ev.source, &ev.value));
        if self.engine.active() {
            self.advance(time.ns);
        }
        self.matcher
            .matching(ev.source, &ev.value, &mut self.scratch);
        self.emit_stateless(file, ev);
        let mut units = std::mem::take(&mut self.units);
        stateful_parts(&self.matcher, &self.scratch.candidates, &mut units);
        if !units.is_empty() {
            let payload = Payload::Event(ev.clone());
            let a = (self.engine).arrival(ev.source, ev.line, &ev.value, time, &units, payload);
            self.offer(file, a);
        }
        self.units = units;
    }

    /// Event time moves on with every event, matching or not.
    pub fn advance(&mut self, time: Option<i64>) {
        if let Some(lane) = &mut self.lane {
            return lane.ops.push(LaneOp::Advance(time));
        }
        let mut outs = std::mem::take(&mut self.outs);
        self.engine.advance(time, &mut outs);
        self.emit_state(&mut outs);
        self.outs = outs;
        self.engine_ran();
    }

    /// Alerts of the stateless rules among the candidates.
    fn emit_stateless(&mut self, file: &str, ev: &Event) {
        let time_path = time_paths(ev.source);
        let mut pending = std::mem::take(&mut self.pending);
        let plan = &self.matcher.plan.rules;
        for &u in &self.scratch.candidates {
            if plan[u].role == Role::Alert {
                let rule = plan[u].rule;
                self.decoded_alert(rule, ev, file, time_path, None, &mut pending.bytes);
                pending.end(rule);
            }
        }
        self.emit(&mut pending);
        self.pending = pending;
    }

    /// The same from a JSON line without parsing it into a tree: from the
    /// matching extraction, which holds what alerts show (an object read
    /// in part is read whole from its text); the event goes out as the
    /// text it came in.
    fn alerts_from_line(
        &self,
        (file, line, via): (&str, usize, Via),
        source: &'static str,
        text: &str,
        doc: At<'_, '_>,
        pending: &mut Pending,
    ) {
        let time_path = time_paths(source);
        let plan = &self.matcher.plan.rules;
        // Extraction took it: UTF-8, one JSON value.
        let raw = self.out.with_event.then_some(text);
        // Room for the lines, grown once at most.
        pending.bytes.reserve(raw.map_or(0, str::len) + 1024);
        for &u in &self.scratch.candidates {
            if plan[u].role != Role::Alert {
                continue;
            }
            let from = alert::From {
                source,
                file,
                line,
                via,
            };
            let rule = plan[u].rule;
            let shown = raw.map(EventJson::Line);
            self.alert_line(rule, doc, time_path, from, None, shown, &mut pending.bytes);
            pending.end(rule);
        }
    }

    /// Counts and writes the pending alert lines, in one write.
    fn emit(&mut self, pending: &mut Pending) {
        if let Some(lane) = &mut self.lane {
            if !pending.rules.is_empty() {
                lane.bytes.extend_from_slice(&pending.bytes);
                lane.rules.extend_from_slice(&pending.rules);
                let (bytes, rules) = (lane.bytes.len(), lane.rules.len());
                lane.ops.push(LaneOp::Alerts { bytes, rules });
            }
            pending.bytes.clear();
            pending.rules.clear();
            return;
        }
        for &r in &pending.rules {
            self.count_alert(r);
        }
        self.write(&pending.bytes);
        pending.bytes.clear();
        pending.rules.clear();
    }

    fn count_alert(&mut self, rule: usize) {
        let id = &self.matcher.rules.rules[rule].id;
        match self.stats.alerts.get_mut(id) {
            Some(n) => *n += 1,
            None => {
                self.stats.alerts.insert(id.clone(), 1);
            }
        }
    }

    /// An event for the stateful operators.
    fn offer(&mut self, file: &str, a: state::Arrival) {
        if let Some(lane) = &mut self.lane {
            lane.arrivals.push(a);
            return lane.ops.push(LaneOp::Offer);
        }
        let name = match &self.file {
            Some(f) if &**f == file => f.clone(),
            _ => {
                let f: Arc<str> = Arc::from(file);
                self.file = Some(f.clone());
                f
            }
        };
        let mut outs = std::mem::take(&mut self.outs);
        self.engine.offer(&name, a, &mut outs);
        self.emit_state(&mut outs);
        self.outs = outs;
        self.engine_ran();
    }

    /// End of input: the stateful operators release what they hold.
    pub fn finish(&mut self) {
        let mut outs = std::mem::take(&mut self.outs);
        self.engine.finish(&mut outs);
        self.emit_state(&mut outs);
        if self.shards.is_some() {
            // The last steps out first, then the end.
            self.sync_shards(false);
            if let Some(shards) = &mut self.shards {
                shards.finish();
            }
            self.sync_shards(true);
            // What the shards saw joins what the front did.
            if let Some(shards) = self.shards.take() {
                shards.stats_into(&mut self.engine.stats);
            }
        }
    }

    fn emit_state(&mut self, outs: &mut Vec<Out>) {
        let mut line = Vec::new();
        for o in outs.drain(..) {
            line.clear();
            if let Some(rule) = self.render_state(o, &mut line) {
                self.count_alert(rule);
            }
            self.write(&line);
        }
    }

    /// Appends the line of a stateful operator's output (with its
    /// newline); for an alert, returns its rule (whose alert count it
    /// adds to even when the event cannot be shown again).
    pub(crate) fn render_state(&mut self, o: Out, line: &mut Vec<u8>) -> Option<usize> {
        match o {
            Out::Alert {
                rule,
                trigger,
                mut window,
            } => {
                if !self.held_line_alert(rule, &trigger, &mut window, line) {
                    // Past serde_json's nesting limit: counted, not shown.
                    let Some(event) = trigger.event() else {
                        return Some(rule);
                    };
                    let time_path = time_paths(event.source);
                    window.key = state::key_map(&event.value, &self.matcher.rules.rules[rule]);
                    let (file, w) = (&trigger.file, Some(&window));
                    self.decoded_alert(rule, &event, file, time_path, w, line);
                }
                line.push(b'\n');
                Some(rule)
            }
            Out::Evicted {
                rule,
                evicted,
                cap,
                time,
            } => {
                let id = &self.matcher.rules.rules[rule].id;
                let message = format!(
                    "rule {id} reached its cap of {cap} live keys; the {evicted} least \
                     recently seen were evicted and their partial windows lost"
                );
                let text = if self.out.text {
                    format!(
                        "{} [diagnostic] state-cap: {message}",
                        time.as_str().unwrap_or("-")
                    )
                } else {
                    serde_json::json!({
                        "diagnostic": "state-cap",
                        "rule": id,
                        "time": time,
                        "evicted": evicted,
                        "cap": cap,
                        "message": message,
                    })
                    .to_string()
                };
                line.extend_from_slice(text.as_bytes());
                line.push(b'\n');
                None
            }
        }
    }

    /// The alert of stateful rule `r` completed by a held JSON line, as a
    /// stateless rule's from a line: from the line's extraction, the event
    /// going out as the line's text. `false` for a held decoded event.
    fn held_line_alert(
        &mut self,
        r: usize,
        trigger: &state::Held,
        window: &mut state::Window,
        out: &mut Vec<u8>,
    ) -> bool {
        let Payload::Line(bytes, via) = &trigger.payload else {
            return false;
        };
        let bufs = std::mem::take(&mut self.bufs);
        // It was extracted once already: not expected to fail.
        let Some(sparse) = extract_reusing(bytes, &self.matcher.projection, bufs) else {
            return false;
        };
        let root = sparse.root();
        window.key = state::key_map(root, &self.matcher.rules.rules[r]);
        let time_path = time_paths(trigger.source);
        let from = alert::From {
            source: trigger.source,
            file: &trigger.file,
            line: trigger.line,
            via: *via,
        };
        let shown = self.out.with_event.then(|| EventJson::Line(sparse.text()));
        self.alert_line(r, root, time_path, from, Some(window), shown, out);
        self.bufs = sparse.into_buffers();
        true
    }

    /// The alert of rule `r` on a decoded event.
    fn decoded_alert(
        &self,
        r: usize,
        ev: &Event,
        file: &str,
        time_path: &[String],
        window: Option<&state::Window>,
        out: &mut Vec<u8>,
    ) {
        let from = alert::From {
            source: ev.source,
            file,
            line: ev.line,
            via: ev.via,
        };
        let shown = self
            .out
            .with_event
            .then(|| EventJson::Value(ev.original.as_ref().unwrap_or(&ev.value)));
        self.alert_line(r, &ev.value, time_path, from, window, shown, out);
    }

    /// One alert of rule `r`, as JSON or in the text form, appended to
    /// `out`.
    #[allow(clippy::too_many_arguments)]
    fn alert_line<'d, D: Doc<'d>>(
        &self,
        r: usize,
        doc: D,
        time_path: &[String],
        from: alert::From<'_>,
        window: Option<&state::Window>,
        event: Option<EventJson<'_>>,
        out: &mut Vec<u8>,
    ) {
        let rule = &self.matcher.rules.rules[r];
        if self.out.text {
            let time = alert::event_time(doc, time_path);
            let _ = write!(
                out,
                "{} [{}] {}: {}",
                time.and_then(|t| t.as_str()).unwrap_or("-"),
                rule.severity,
                rule.id,
                alert::render(&rule.output, doc)
            );
            return;
        }
        let tpl = &self.templates[r];
        alert::write_line(out, rule, tpl, doc, time_path, from, window, event);
    }

    /// Sends the alerts written so far on to the sink's destination; on a
    /// stream, once the shards have written theirs (called before each
    /// read, so nothing waits on more input).
    pub fn flush(&mut self) {
        if self.shards.is_some() && self.engine.is_stream() {
            self.sync_shards(true);
        }
        if self.write_error.is_none() {
            if let Err(e) = self.sink.flush() {
                self.write_error = Some(e);
            }
        }
    }

    /// Writes alert lines (each with its newline); on a front whose
    /// shards have work outstanding, after what that work writes.
    fn write(&mut self, lines: &[u8]) {
        match self.shards_behind() {
            Some((shards, cmds)) if !lines.is_empty() => {
                shards.queue(cmds, Lines::Own(lines.to_vec()));
            }
            _ => self.write_now(lines),
        }
    }

    /// The shards and the commands numbered so far, when a line written
    /// now must wait for work of theirs.
    fn shards_behind(&mut self) -> Option<(&mut Shards, u64)> {
        let cmds = self.engine.commands()?;
        let shards = self.shards.as_mut().filter(|s| s.behind(cmds))?;
        Some((shards, cmds))
    }

    fn write_now(&mut self, lines: &[u8]) {
        if self.write_error.is_none() && !lines.is_empty() {
            if let Err(e) = self.sink.write_all(lines) {
                self.write_error = Some(e);
            }
        }
    }

    /// From here on, lines are of the input file `name`.
    /// On a stream, releases the held events if event time has stood still
    /// too long by the wall clock ([`state::Config::max_idle`]), writes
    /// their alerts and flushes. Called while the input is idle.
    pub fn idle(&mut self) {
        let mut outs = std::mem::take(&mut self.outs);
        self.engine.idle(&mut outs);
        self.emit_state(&mut outs);
        self.outs = outs;
        self.engine_ran();
        self.flush();
    }

    /// Reads all of `input` as the file `name` and scans it (without
    /// closing stateful windows: [`Scan::finish`] does).
    pub fn read_all(
        &mut self,
        name: &str,
        input: impl std::io::Read,
        opts: impl Into<decode::Options>,
    ) -> Result<(), decode::ReadError> {
        self.begin_file(name);
        self.handlers(name, |h| decode::read_with(input, opts, h))
    }

    /// Runs `f` with the decoder's callbacks that scan what the file
    /// `name` holds on this scan (lines and records by the fast path).
    pub fn handlers<R>(&mut self, name: &str, f: impl FnOnce(decode::Handlers<'_>) -> R) -> R {
        // The callbacks share the scan; they never run at once.
        let scan = std::cell::RefCell::new(self);
        f(decode::Handlers {
            line: Some(&mut |text, line| scan.borrow_mut().line(name, text, line)),
            record: Some(&mut |text, line| {
                let records = Via::CloudtrailRecords;
                scan.borrow_mut().line_via(name, text, line, records)
            }),
            event: &mut |ev| scan.borrow_mut().event(name, &ev),
            problem: &mut |p| scan.borrow_mut().problem(name, &p),
        })
    }

    pub fn begin_file(&mut self, name: &str) {
        self.stats.files.push(FileStats {
            file: name.to_string(),
            ..FileStats::default()
        });
    }

    pub fn problem(&mut self, file: &str, p: &Problem) {
        let s = &mut self.stats;
        let (kind, total) = match p {
            Problem::UnknownShape { .. } => ("unknown", &mut s.unknown),
            Problem::Malformed { .. } => ("malformed", &mut s.malformed),
            Problem::TooLong { .. } => ("too-long", &mut s.too_long),
        };
        *total += 1;
        if let Some(f) = s.files.last_mut() {
            match p {
                Problem::UnknownShape { .. } => f.unknown += 1,
                Problem::Malformed { .. } => f.malformed += 1,
                Problem::TooLong { .. } => f.too_long += 1,
            }
            if f.first_problem.is_none() {
                f.first_problem = Some(p.to_string());
            }
        }
        if s.problem_samples.len() < SAMPLES {
            s.problem_samples.push(ProblemSample {
                file: file.to_string(),
                line: p.line(),
                kind,
                message: p.to_string(),
            });
        }
    }
}

/// Into `units`, the parts of stateful rules among the `candidates`, as
/// (rule, role).
fn stateful_parts(m: &Matcher, candidates: &[usize], units: &mut Vec<(usize, Role)>) {
    units.clear();
    let parts = candidates.iter().map(|&u| &m.plan.rules[u]);
    units.extend(
        parts
            .filter(|p| p.role != Role::Alert)
            .map(|p| (p.rule, p.role)),
    );
}

/// The dotted paths of `source`'s time fields, in order (none for an
/// unknown source).
pub fn time_paths(source: &str) -> &'static [String] {
    schema::bundled()
        .get(source)
        .map_or(&[], |s| s.times.as_slice())
}

/// The first field of `value` whose JSON type is not its schema's.
fn first_drift<'a, D: Doc<'a>>(source: &str, value: D) -> Option<schema::Mismatch> {
    let schema = schema::bundled().get(source)?;
    schema::validate_event(schema, value).into_iter().next()
}

/// Counts an event, and whether the fields it has fit the schema's types.
fn count(
    s: &mut Stats,
    progress: bool,
    file: &str,
    source: &'static str,
    drift: Option<schema::Mismatch>,
    line: usize,
) {
    s.events += 1;
    if let Some(f) = s.files.last_mut() {
        f.events += 1;
        f.drifted += u64::from(drift.is_some());
    }
    if progress && s.events.is_multiple_of(PROGRESS_EVERY) {
        let alerts: u64 = s.alerts.values().sum();
        eprint!(
            "\r\x1b[2K{} events, {} alerts, {} problem lines",
            s.events,
            alerts,
            s.problems()
        );
    }
    *s.per_source.entry(source).or_default() += 1;
    if let Some(first) = drift {
        s.type_drift += 1;
        if s.drift_samples.len() < SAMPLES {
            s.drift_samples.push(format!(
                "{file}:line {line}: `{}` is a JSON {}, the schema says {}",
                first.path, first.found, first.expected
            ));
        }
    }
}

//! Rules over batches of lines, for engines that split the input among
//! workers (ward-spark, `runtime/python/`).
//!
//! A retro-hunt over files too large for one process runs in two stages:
//!
//! 1. Every batch of JSON lines (consecutive lines of one file, from a
//!    first line number on) goes through [`Hunt::batch`]: the stateless
//!    rules' alerts, exactly as `ward scan` writes them, and for each event
//!    that takes part in a stateful rule a [`Keyed`] record: the rule, its
//!    `by` values, the event time and the event itself.
//! 2. The engine groups the records by (rule, key), orders each group by
//!    event time (then file and line, the order `ward scan` reads them in)
//!    and runs each rule over its records with a [`RuleScan`]: the same
//!    [`Scan`] and stateful operators as `ward scan`, restricted to that
//!    one rule, so windows and sequences give the alerts of a single scan.
//!
//! Each stage-2 scan sees only its keys' events, in time order: nothing
//! is late, so the records go to the operators at once (lateness 0). What
//! the rest of the input does to a key's windows is to move event time:
//! a sequence ending in `not` fires once time passes its window. At the
//! end of a single scan time stands at the latest event time less the
//! lateness, or at the latest event that matched a stateful rule if later
//! (held events are released then); [`Batch::max_time`] and
//! [`Batch::max_keyed`], combined over all batches by [`end_time`], give
//! that time, and [`RuleScan::finish`] moves each stage-2 scan to it.

use std::io::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use ward_compiler::doc::{Doc, Kind};
use ward_compiler::load::Loaded;
use ward_compiler::lower::{self, Key, RuleSet, Stateful};
use ward_compiler::plan::Role;

use crate::decode::{self, Event, Via};
use crate::extract::{extract_reusing, Buffers};
use crate::matcher::{Matcher, Scratch};
use crate::scan::{Output, Scan};
use crate::state;

/// The path that names the bundled library among rule paths.
pub const BUNDLED: &str = "bundled";

/// How a hunt reads events and writes alerts.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Alerts carry the event (`ward scan` without `--no-event`).
    pub with_event: bool,
    /// Every event taken as of this source (`--source`).
    pub source: Option<&'static str>,
    /// `--lateness` of the single scan the hunt stands for: how far
    /// behind the latest event time event time stands at the end.
    pub lateness_ns: i64,
    /// Live keys per rule (`--max-keys`).
    pub max_keys: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            with_event: true,
            source: None,
            lateness_ns: state::DEFAULT_LATENESS_NS,
            max_keys: state::DEFAULT_MAX_KEYS,
        }
    }
}

/// Loads rule files and directories as `ward scan --rules` does (`bundled`
/// names the embedded library, alone or under the other layers) and
/// checks them; the error is the rendered diagnostics.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, String> {
    let library = |p: &PathBuf| p.as_os_str() == BUNDLED;
    let texts = match paths.is_empty() || paths.iter().any(library) {
        true => crate::bundled::RULES,
        false => &[],
    };
    let rest: Vec<PathBuf> = paths.iter().filter(|p| !library(p)).cloned().collect();
    let loaded = match rest.is_empty() {
        true => ward_compiler::load::load_texts(texts),
        false => ward_compiler::load::load_layers(texts, &rest).map_err(|e| e.to_string())?,
    };
    let report = ward_compiler::check(&loaded, ward_compiler::schema::bundled());
    if report.errors() > 0 {
        let text =
            ward_compiler::diagnostic::render_plain(&loaded.sources, &report.diagnostics, 100);
        return Err(format!(
            "{text}ward: the rules have {} error(s); `ward check` shows them too",
            report.errors()
        ));
    }
    Ok(loaded)
}

/// Lowers `loaded` with only the rules `keep` says active (indices stay
/// those of the whole set).
fn lowered(loaded: &Loaded, keep: impl Fn(usize, &lower::Rule) -> bool) -> RuleSet {
    let mut set = lower::lower(loaded);
    for (i, r) in set.rules.iter_mut().enumerate() {
        r.enabled = r.enabled && keep(i, r);
    }
    set
}

/// The sink of the scans a hunt keeps: alert lines go to a buffer of the
/// thread, taken after each call ([`take_written`]). A unit struct, so
/// that a `'static` one costs nothing ([`sink`]).
struct ThreadSink;

thread_local! {
    static WRITTEN: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Write for ThreadSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        WRITTEN.with(|w| w.borrow_mut().extend_from_slice(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn sink() -> &'static mut ThreadSink {
    // A zero-sized value: leaking it allocates nothing.
    Box::leak(Box::new(ThreadSink))
}

/// What the scans of this thread wrote since the last call.
fn take_written() -> Vec<u8> {
    WRITTEN.with(|w| std::mem::take(&mut *w.borrow_mut()))
}

/// A checked rule set, ready for batches: the stateless rules in one
/// scan kept from batch to batch, the stateful rules' parts in a matcher
/// that finds the records to group.
pub struct Hunt {
    loaded: Loaded,
    opts: Options,
    /// Rule ids, by index.
    pub ids: Vec<String>,
    /// The active stateful rules, by index.
    pub stateful: Vec<usize>,
    /// Active rules kept inactive by unfilled lists: id and lists.
    pub inactive: Vec<(String, Vec<String>)>,
    stateless: Scan<'static>,
    keys: Matcher,
    scratch: Scratch,
    bufs: Buffers,
    /// Finished stage-2 scans by rule, to run again ([`Hunt::recycle`]):
    /// lowering and planning a rule costs more than its records.
    pool: std::collections::HashMap<usize, Scan<'static>>,
}

/// What a batch gave.
#[derive(Debug, Default)]
pub struct Batch {
    /// Alert lines of the stateless rules, each with its newline.
    pub alerts: Vec<u8>,
    /// The records of events that take part in stateful rules.
    pub keyed: Vec<Keyed>,
    /// The latest event time of the batch (ns since the epoch).
    pub max_time: Option<i64>,
    /// The latest time of an event that matched a part of a stateful rule.
    pub max_keyed: Option<i64>,
    pub events: u64,
    /// Lines of unknown source, not JSON, too long.
    pub unknown: u64,
    pub malformed: u64,
    pub too_long: u64,
}

/// One event's part in one stateful rule.
#[derive(Debug)]
pub struct Keyed {
    pub rule: usize,
    /// The rule's `by` values, as a JSON array.
    pub key: String,
    /// Event time (ns since the epoch), `None` when it has none.
    pub time: Option<i64>,
    /// The line it was read from.
    pub line: usize,
    /// The event, for [`RuleScan::feed`].
    pub payload: Vec<u8>,
}

/// A decoded event as a stage-2 record carries it.
#[derive(Serialize, Deserialize)]
struct Carried {
    source: String,
    /// [`Via`] as it serialises (kebab-case).
    via: String,
    line: usize,
    value: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    original: Option<Value>,
}

impl Hunt {
    pub fn new(loaded: Loaded, opts: Options) -> Hunt {
        let all = lower::lower(&loaded);
        let ids = all.rules.iter().map(|r| r.id.clone()).collect();
        let stateful = (all.rules.iter().enumerate())
            .filter(|(_, r)| r.active() && r.stateful.is_some())
            .map(|(i, _)| i)
            .collect();
        let inactive = (all.rules.iter())
            .filter(|r| r.enabled && !r.unfilled.is_empty())
            .map(|r| (r.id.clone(), r.unfilled.clone()))
            .collect();
        let output = Output {
            text: false,
            with_event: opts.with_event,
        };
        let mut stateless = Scan::new(
            lowered(&loaded, |_, r| r.stateful.is_none()),
            sink(),
            output,
        );
        stateless.source = opts.source;
        let keys = Matcher::new(lowered(&loaded, |_, r| r.stateful.is_some()));
        Hunt {
            loaded,
            opts,
            ids,
            stateful,
            inactive,
            stateless,
            keys,
            scratch: Scratch::default(),
            bufs: Buffers::default(),
            pool: std::collections::HashMap::new(),
        }
    }

    /// Runs consecutive `lines` of `file`, the first of them line
    /// `first_line` (1-based), as `ward scan` reads a file of JSON lines.
    pub fn batch<'l>(
        &mut self,
        file: &str,
        first_line: usize,
        lines: impl IntoIterator<Item = &'l [u8]>,
    ) -> Batch {
        let before = counts(&self.stateless.stats);
        let mut out = Batch::default();
        for (i, raw) in lines.into_iter().enumerate() {
            let n = first_line + i;
            let text = trim(raw);
            if text.is_empty() {
                continue;
            }
            self.stateless_line(file, text, n);
            if !self.stateful.is_empty() {
                self.keyed_line(text, n, &mut out);
            }
        }
        take_written_into(&mut out.alerts);
        let after = counts(&self.stateless.stats);
        out.events = after[0] - before[0];
        out.unknown = after[1] - before[1];
        out.malformed = after[2] - before[2];
        out.too_long = after[3] - before[3];
        out
    }

    /// A line through the stateless scan: its fast path, else decoded in
    /// full as `ward scan` decodes a line the fast path declines.
    fn stateless_line(&mut self, file: &str, text: &[u8], n: usize) {
        if text.len() < decode::MAX_LINE && self.stateless.line(file, text, n) {
            return;
        }
        // The two callbacks share the scan; they never run at once.
        let scan = std::cell::RefCell::new(&mut self.stateless);
        decode_at(
            text,
            n,
            self.opts.source,
            &mut |ev| scan.borrow_mut().event(file, &ev),
            &mut |p| scan.borrow_mut().problem(file, &p),
        );
    }

    /// The records of a line's events that take part in stateful rules.
    fn keyed_line(&mut self, text: &[u8], n: usize, out: &mut Batch) {
        if text.len() < decode::MAX_LINE && self.keyed_fast(text, n, out) {
            return;
        }
        let mut events = Vec::new();
        decode_at(
            text,
            n,
            self.opts.source,
            &mut |ev| events.push(ev),
            &mut |_| {},
        );
        for ev in events {
            let time = self.keys.time_of(ev.source, &ev.value);
            let time = time.and_then(state::time_ns);
            self.keys.matching(ev.source, &ev.value, &mut self.scratch);
            let payload = || {
                let carried = Carried {
                    source: ev.source.to_string(),
                    via: ev.via.name().to_string(),
                    line: ev.line,
                    value: ev.value.clone(),
                    original: ev.original.clone(),
                };
                let mut p = b"E".to_vec();
                let _ = serde_json::to_writer(&mut p, &carried);
                p
            };
            keyed(&self.keys, &self.scratch, &ev.value, time, n, payload, out);
        }
    }

    /// The same from a line's extraction, as `Scan::line` takes it;
    /// `false` where it would decode the line in full.
    fn keyed_fast(&mut self, text: &[u8], n: usize, out: &mut Batch) -> bool {
        let bufs = std::mem::take(&mut self.bufs);
        let Some(sparse) = extract_reusing(text, &self.keys.projection, bufs) else {
            return false;
        };
        let root = sparse.root();
        let m = &self.keys;
        let source = match root.kind() == Kind::Obj {
            true => self.opts.source.or_else(|| m.source_of(root)),
            false => None,
        };
        let source = source.filter(|s| !m.wrapped(root, s));
        let time = source.and_then(|s| m.line_time(s, root));
        let (Some(source), Some(time)) = (source, time) else {
            self.bufs = sparse.into_buffers();
            return false;
        };
        let time = time.and_then(state::time_ns);
        m.matching(source, root, &mut self.scratch);
        let payload = || [b"L", text].concat();
        keyed(m, &self.scratch, root, time, n, payload, out);
        self.bufs = sparse.into_buffers();
        true
    }

    /// A scan of stateful rule `rule` alone, for its records in time order;
    /// `end` is the event time a single scan ends at ([`end_time`]).
    pub fn rule_scan(&mut self, rule: usize, end: Option<i64>) -> RuleScan {
        let cfg = state::Config {
            // Records come in time order: none waits for a later one.
            lateness_ns: 0,
            max_keys: self.opts.max_keys,
            ..state::Config::default()
        };
        let scan = self.pool.remove(&rule).unwrap_or_else(|| {
            let output = Output {
                text: false,
                with_event: self.opts.with_event,
            };
            let set = lowered(&self.loaded, |i, _| i == rule);
            let mut scan = Scan::with_state(set, sink(), output, cfg);
            scan.source = self.opts.source;
            scan
        });
        RuleScan {
            scan,
            end,
            rule,
            cfg,
            finished: false,
        }
    }

    /// Keeps a finished scan to run its rule again, afresh.
    pub fn recycle(&mut self, mut done: RuleScan) {
        if !done.finished {
            return;
        }
        let scan = &mut done.scan;
        scan.engine = state::Engine::new(&scan.matcher.rules, done.cfg);
        scan.stats = crate::scan::Stats::default();
        self.pool.insert(done.rule, done.scan);
    }
}

/// Events, unknown, malformed and too long so far.
fn counts(s: &crate::scan::Stats) -> [u64; 4] {
    [s.events, s.unknown, s.malformed, s.too_long]
}

fn take_written_into(out: &mut Vec<u8>) {
    let written = take_written();
    if out.is_empty() {
        *out = written;
    } else {
        out.extend_from_slice(&written);
    }
}

/// Records of the stateful rules among the matcher's candidates, one per
/// rule (an event that matches several steps of a sequence is one event
/// of it); times noted.
fn keyed<'a, D: Doc<'a>>(
    m: &Matcher,
    scratch: &Scratch,
    doc: D,
    time: Option<i64>,
    line: usize,
    payload: impl Fn() -> Vec<u8>,
    out: &mut Batch,
) {
    out.max_time = out.max_time.max(time);
    let mut rules: Vec<usize> = (scratch.candidates.iter())
        .map(|&u| &m.plan.rules[u])
        .filter(|p| p.role != Role::Alert)
        .map(|p| p.rule)
        .collect();
    if rules.is_empty() {
        return;
    }
    out.max_keyed = out.max_keyed.max(time);
    rules.dedup();
    for rule in rules {
        let by: &[Key] = match &m.rules.rules[rule].stateful {
            Some(Stateful::Count(c)) => &c.by,
            Some(Stateful::Sequence(q)) => &q.by,
            None => continue,
        };
        // A missing or null key: the event takes no part in the rule.
        let Some(key) = key_text(doc, by) else {
            continue;
        };
        out.keyed.push(Keyed {
            rule,
            key,
            time,
            line,
            payload: payload(),
        });
    }
}

/// The values of `by` in `doc` as a JSON array; `None` when one is missing
/// or null.
fn key_text<'a, D: Doc<'a>>(doc: D, by: &[Key]) -> Option<String> {
    let mut values = Vec::with_capacity(by.len());
    for k in by {
        let v = crate::eval::get(doc, &[], &k.path)?;
        if v.is_null() {
            return None;
        }
        values.push(v.to_json());
    }
    serde_json::to_string(&values).ok()
}

/// Decodes one line in full as line `n` of its file.
fn decode_at(
    text: &[u8],
    n: usize,
    source: Option<&'static str>,
    on_event: &mut dyn FnMut(Event),
    on_problem: &mut dyn FnMut(decode::Problem),
) {
    let opts = decode::Options {
        source,
        ..decode::Options::from(decode::Format::Auto)
    };
    let at = |line: usize| line + n - 1;
    let result = decode::read(
        text,
        opts,
        &mut |mut ev| {
            ev.line = at(ev.line);
            on_event(ev)
        },
        &mut |p| on_problem(renumber(p, at)),
    );
    // Reading from memory does not fail.
    debug_assert!(result.is_ok());
}

fn renumber(p: decode::Problem, at: impl Fn(usize) -> usize) -> decode::Problem {
    use decode::Problem::*;
    match p {
        UnknownShape { line, hint } => UnknownShape {
            line: at(line),
            hint,
        },
        Malformed { line, error } => Malformed {
            line: at(line),
            error,
        },
        TooLong { line, bytes, limit } => TooLong {
            line: at(line),
            bytes,
            limit,
        },
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = (b.iter())
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = (b.iter())
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// The event time a single scan of the whole input ends at: the latest
/// event time less the lateness, or the latest event that matched a part
/// of a stateful rule if later; from the batches' [`Batch::max_time`] and
/// [`Batch::max_keyed`] combined (the greatest of each).
pub fn end_time(max_time: Option<i64>, max_keyed: Option<i64>, lateness_ns: i64) -> Option<i64> {
    let watermark = max_time.map(|t| t.saturating_sub(lateness_ns));
    watermark.max(max_keyed)
}

/// One stateful rule over its records (of any keys), in the order of
/// their event time, then file and line.
pub struct RuleScan {
    scan: Scan<'static>,
    end: Option<i64>,
    rule: usize,
    cfg: state::Config,
    finished: bool,
}

impl RuleScan {
    /// Runs records `(file, line, payload)` ([`Keyed`]); returns the alert
    /// lines they completed, each with its newline.
    pub fn feed<'r>(
        &mut self,
        records: impl IntoIterator<Item = (&'r str, usize, &'r [u8])>,
    ) -> Vec<u8> {
        for (file, line, payload) in records {
            self.record(file, line, payload);
        }
        take_written()
    }

    fn record(&mut self, file: &str, line: usize, payload: &[u8]) {
        let scan = &mut self.scan;
        match payload.split_first() {
            Some((b'L', text)) => {
                if text.len() < decode::MAX_LINE && scan.line(file, text, line) {
                    return;
                }
                let source = scan.source;
                decode_at(
                    text,
                    line,
                    source,
                    &mut |ev| scan.event(file, &ev),
                    &mut |_| {},
                );
            }
            Some((b'E', json)) => {
                let Ok(c) = serde_json::from_slice::<Carried>(json) else {
                    return;
                };
                let Some(source) = decode::source_named(&c.source) else {
                    return;
                };
                let ev = Event {
                    source,
                    value: c.value,
                    original: c.original,
                    line: c.line,
                    via: via_named(&c.via),
                };
                scan.event(file, &ev);
            }
            _ => {}
        }
    }

    /// Moves event time to where a single scan ends ([`end_time`]) and
    /// closes the windows as at the end of input; returns the last alert
    /// lines.
    pub fn finish(&mut self) -> Vec<u8> {
        if self.finished {
            return Vec::new();
        }
        self.finished = true;
        if let Some(end) = self.end {
            self.scan.advance(Some(end));
        }
        self.scan.finish();
        take_written()
    }

    /// The rule it runs.
    pub fn rule(&self) -> usize {
        self.rule
    }
}

fn via_named(name: &str) -> Via {
    (Via::ALL.into_iter())
        .find(|v| v.name() == name)
        .unwrap_or(Via::Raw)
}

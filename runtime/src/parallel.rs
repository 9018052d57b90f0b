//! Scanning on every core (`ward scan --threads N`).
//!
//! The thread that reads the input cuts it at line boundaries into
//! batches (a batch holds lines of one file, and the events and problems
//! that decoding a document gave), and hands them round to `N` workers.
//! Each worker runs its own [`Scan`] as a lane: it extracts, matches and
//! renders the alerts of stateless rules, and leaves in a [`Lane`] what
//! must happen in input order. The reading thread takes the batches back
//! in the order it sent them and replays their lanes on its own scan:
//! event time moves on, alert lines are written, stateful rules see their
//! events, exactly as in a single-threaded scan. So the output is the
//! single-threaded scan's, byte for byte, in the same order.
//!
//! Stateful rules are cut by key: the reading thread's engine keeps event
//! time and the order of events (it is the *front*, see [`state::Step`]),
//! and each worker is also a *shard* that runs the counts and sequences of
//! the keys that fall to it, and renders their alerts. The front numbers
//! what it hands out; the shards' alert lines are written in that order,
//! among the stateless ones, as on one thread.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::Scope;

use crate::decode::{self, Event, Format, Problem, Via};
use crate::matcher::Matcher;
use crate::scan::{Lane, Output, Scan, Stats};
use crate::state;

/// Input bytes per batch, by default.
pub const BATCH_BYTES: usize = 1 << 19;
/// Decoded events per batch (from documents and wrappings read whole).
const BATCH_ITEMS: usize = 4096;
/// Batches each worker may have waiting for it.
const QUEUED_PER_WORKER: usize = 2;
/// Hand-outs of stateful work not yet done by every shard, per shard,
/// before the reader waits for them.
const OPEN_PER_SHARD: usize = 4;

/// A gzip file at most this large is read whole by one worker
/// ([`Pool::whole_file`]).
pub const WHOLE_FILE_BYTES: u64 = 16 << 20;

/// What a worker is given.
enum Job {
    Batch(Batch),
    /// A whole file, read by the worker (a small gzip file: inflating it
    /// is most of the work).
    File(FileJob),
    /// Steps of the stateful rules for this worker's shard, numbered;
    /// with `finish`, the end of input.
    State {
        flush: u64,
        steps: Vec<(u64, state::Step)>,
        finish: bool,
    },
}

struct FileJob {
    seq: u64,
    file: Arc<str>,
    file_index: usize,
    input: std::fs::File,
    opts: decode::Options,
}

/// A shard's answer to [`Job::State`].
struct Answer {
    flush: u64,
    result: Result<Vec<Rendered>, String>,
    /// At the end of input, what the shard saw.
    stats: Option<state::StateStats>,
}

/// A line a shard rendered (an alert or a diagnostic), with where it
/// goes among the outputs of the other shards.
pub struct Rendered {
    pub cmd: u64,
    pub rule: usize,
    pub order: state::Order,
    /// An alert (counted for `rule`), not a diagnostic.
    pub alert: bool,
    /// The line with its newline (empty for an alert whose event could not
    /// be shown again).
    pub line: Vec<u8>,
}

/// Lines of the front waiting for the shards: copied, or a part of a
/// worker's batch of alert lines (not copied again).
pub enum Lines {
    Own(Vec<u8>),
    Part(std::rc::Rc<Vec<u8>>, std::ops::Range<usize>),
}

impl Lines {
    fn bytes(&self) -> &[u8] {
        match self {
            Lines::Own(b) => b,
            Lines::Part(b, r) => b.get(r.clone()).unwrap_or_default(),
        }
    }
}

/// The front's link to the shards: work handed out, their answers, and the
/// front's own lines waiting for them, so that everything is written in
/// the order of a one-thread scan.
pub struct Shards {
    workers: Vec<SyncSender<Job>>,
    answers: Receiver<Answer>,
    /// Hand-outs not yet answered by every shard they went to, in order:
    /// (hand-out, the commands numbered before its end, answers awaited).
    open: VecDeque<(u64, u64, usize)>,
    flushes: u64,
    /// Commands numbered at the last hand-out.
    sent: u64,
    /// Every command before this is done.
    done: u64,
    /// The shards' lines, not yet written.
    outputs: Vec<Rendered>,
    /// The front's lines, each to go after the shards' lines of the
    /// commands before `.0`.
    queued: VecDeque<(u64, Lines)>,
    stats: Vec<state::StateStats>,
    pub failure: Option<String>,
}

impl Shards {
    pub fn count(&self) -> usize {
        self.workers.len()
    }

    /// Whether a line written now must wait for the shards: commands
    /// before `cmds` are not all done, or lines already wait.
    pub fn behind(&self, cmds: u64) -> bool {
        self.done < cmds || !self.queued.is_empty()
    }

    /// Lines of the front, to go after the shards' lines of the commands
    /// before `cmds`.
    pub fn queue(&mut self, cmds: u64, lines: Lines) {
        if let (Some((at, Lines::Own(bytes))), Lines::Own(more)) = (self.queued.back_mut(), &lines)
        {
            if *at == cmds {
                return bytes.extend_from_slice(more);
            }
        }
        self.queued.push_back((cmds, lines));
    }

    /// Hands each shard the steps the front numbered since the last time.
    pub fn send(&mut self, engine: &mut state::Engine) {
        let end = engine.commands().unwrap_or(0);
        if end == self.sent {
            return;
        }
        self.sent = end;
        let flush = self.flushes;
        self.flushes += 1;
        let mut awaited = 0;
        for (shard, worker) in self.workers.iter().enumerate() {
            let steps = engine.take_steps(shard);
            if steps.is_empty() {
                continue;
            }
            let job = Job::State {
                flush,
                steps,
                finish: false,
            };
            if worker.send(job).is_err() {
                self.failure.get_or_insert("a scan worker stopped".into());
                continue;
            }
            awaited += 1;
        }
        self.open.push_back((flush, end, awaited));
    }

    /// The end of input: every shard reports what it saw.
    pub fn finish(&mut self) {
        let flush = self.flushes;
        self.flushes += 1;
        let mut awaited = 0;
        for worker in &self.workers {
            let job = Job::State {
                flush,
                steps: Vec::new(),
                finish: true,
            };
            if worker.send(job).is_ok() {
                awaited += 1;
            }
        }
        self.open.push_back((flush, self.sent, awaited));
    }

    /// Takes the shards' answers (waiting for all of them with `all`, or
    /// while too many are open), and gives `write` the lines that can be
    /// written now, in order, each with its rule if it is an alert.
    pub fn collect(&mut self, all: bool, write: &mut dyn FnMut(Option<usize>, &[u8])) {
        let limit = OPEN_PER_SHARD * self.workers.len();
        loop {
            while let Ok(a) = self.answers.try_recv() {
                self.answer(a);
            }
            let wait = match all {
                true => !self.open.is_empty(),
                false => self.open.len() > limit,
            };
            if !wait || self.failure.is_some() {
                break;
            }
            match self.answers.recv() {
                Ok(a) => self.answer(a),
                Err(_) => {
                    self.failure = Some("the scan workers stopped".into());
                    break;
                }
            }
        }
        self.ready(write);
    }

    fn answer(&mut self, a: Answer) {
        let Some(first) = self.open.front().map(|o| o.0) else {
            return;
        };
        match a.result {
            Ok(lines) => self.outputs.extend(lines),
            Err(e) => {
                self.failure.get_or_insert(e);
            }
        }
        self.stats.extend(a.stats);
        let open = (a.flush.checked_sub(first)).and_then(|i| self.open.get_mut(i as usize));
        if let Some(open) = open {
            open.2 = open.2.saturating_sub(1);
        }
        while let Some(&(_, end, 0)) = self.open.front() {
            self.done = end;
            self.open.pop_front();
        }
    }

    /// The lines that can go out: the shards' of the commands done, and
    /// the front's that wait for no more than those.
    fn ready(&mut self, write: &mut dyn FnMut(Option<usize>, &[u8])) {
        let done = self.done;
        if self.outputs.iter().all(|r| r.cmd >= done)
            && self.queued.front().is_none_or(|q| q.0 > done)
        {
            return;
        }
        (self.outputs).sort_by(|a, b| (a.cmd, a.rule, &a.order).cmp(&(b.cmd, b.rule, &b.order)));
        let n = self.outputs.partition_point(|r| r.cmd < done);
        let mut outputs = self.outputs.drain(..n).peekable();
        while let Some((at, _)) = self.queued.front() {
            if *at > done {
                break;
            }
            let at = *at;
            while let Some(r) = outputs.next_if(|r| r.cmd < at) {
                write(r.alert.then_some(r.rule), &r.line);
            }
            if let Some((_, lines)) = self.queued.pop_front() {
                write(None, lines.bytes());
            }
        }
        for r in outputs {
            write(r.alert.then_some(r.rule), &r.line);
        }
    }

    /// What the shards saw, added to the front's.
    pub fn stats_into(self, into: &mut state::StateStats) {
        for s in self.stats {
            for (rule, n) in s.evicted {
                *into.evicted.entry(rule).or_default() += n;
            }
            into.open_at_end += s.open_at_end;
            into.peak_keys += s.peak_keys;
        }
    }
}

/// What the workers are given: how the scan runs (the rules come as a copy
/// of the reading thread's matcher).
pub struct Setup {
    pub out: Output,
    pub state: state::Config,
    /// How input is read: format, `--source`, line and document limits.
    pub read: decode::Options,
    pub threads: usize,
    pub batch_bytes: usize,
}

/// A part of one input file, in input order.
struct Batch {
    seq: u64,
    file: Arc<str>,
    /// The file's index in the scan's [`Stats::files`].
    file_index: usize,
    /// The lines' text, one after another.
    bytes: Vec<u8>,
    items: Vec<Item>,
}

enum Item {
    /// A JSON line (or a CloudTrail record, `via` says):
    /// `bytes[start..end]`, line number `line`.
    Line {
        start: usize,
        end: usize,
        line: usize,
        via: Via,
    },
    /// Whole lines as read, `bytes[start..end]`, the first numbered
    /// `line`: handled as a one-thread scan handles them in a file
    /// ([`decode::read_block`]).
    Block {
        start: usize,
        end: usize,
        line: usize,
    },
    Event(Event),
    Problem(Problem),
}

/// A batch done by a worker.
struct Done {
    seq: u64,
    file: Arc<str>,
    file_index: usize,
    lane: Lane,
    stats: Stats,
    /// The batch's storage, emptied, for a batch to come.
    spare: (Vec<u8>, Vec<Item>),
    /// A whole file that could not be read to its end: why.
    error: Option<String>,
}

/// The workers and the batches in flight, driven by the reading thread.
pub struct Pool<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    setup: Setup,
    /// Started on the first batch that fills (small inputs never start
    /// them: they are scanned on the reading thread), or at once when the
    /// rules are stateful (the workers are the shards).
    workers: Vec<SyncSender<Job>>,
    results: Option<Receiver<Result<Done, String>>>,
    done_tx: Option<Sender<Result<Done, String>>>,
    /// The batch being filled.
    batch: Batch,
    sent: u64,
    merged: u64,
    /// Batches done out of order, until those before them are.
    waiting: BTreeMap<u64, Done>,
    /// Storage of batches done, reused.
    spares: Vec<(Vec<u8>, Vec<Item>)>,
    /// A worker failed (a bug): the message, reported by [`Pool::finish`].
    pub failure: Option<String>,
    /// Whole files that could not be read to their end, as `name: why`.
    pub errors: Vec<String>,
}

impl<'scope, 'env> Pool<'scope, 'env> {
    /// The pool of `scan`, the reading thread's: with stateful rules, its
    /// engine becomes the front of the workers' shards.
    pub fn new(
        scope: &'scope Scope<'scope, 'env>,
        setup: Setup,
        scan: &mut Scan<'_>,
    ) -> Pool<'scope, 'env> {
        let mut pool = Pool {
            scope,
            setup,
            workers: Vec::new(),
            results: None,
            done_tx: None,
            batch: Batch {
                seq: 0,
                file: Arc::from(""),
                file_index: 0,
                bytes: Vec::new(),
                items: Vec::new(),
            },
            sent: 0,
            merged: 0,
            waiting: BTreeMap::new(),
            spares: Vec::new(),
            failure: None,
            errors: Vec::new(),
        };
        if scan.engine.active() {
            let shards = pool.start(true, &scan.matcher);
            scan.be_front(shards);
        }
        pool
    }

    /// From here on, input is of the file `name`, whose counts are
    /// `files[index]` of the scan's stats. The batch of the file before
    /// is sent (or scanned here).
    pub fn begin_file(&mut self, scan: &mut Scan<'_>, name: &str, index: usize) {
        self.end_file(scan);
        self.batch.file = Arc::from(name);
        self.batch.file_index = index;
    }

    /// A JSON line for the fast path; `false` for a first line that opens
    /// a pretty-printed document, which the reader then reads whole.
    pub fn line(&mut self, scan: &mut Scan<'_>, text: &[u8], line: usize) -> bool {
        if line == 1 && self.setup.read.format == Format::Auto && decode::opens_document(text) {
            return false;
        }
        // A CloudTrail `Records` document on one line: the reader streams
        // its records, which come back one by one through `record`.
        if decode::names_records(text) {
            return false;
        }
        self.text(scan, text, line, Via::Raw);
        true
    }

    /// A record of a CloudTrail `Records` document, as written.
    pub fn record(&mut self, scan: &mut Scan<'_>, text: &[u8], line: usize) -> bool {
        self.text(scan, text, line, Via::CloudtrailRecords);
        true
    }

    fn text(&mut self, scan: &mut Scan<'_>, text: &[u8], line: usize, via: Via) {
        let start = self.batch.bytes.len();
        self.batch.bytes.extend_from_slice(text);
        let end = self.batch.bytes.len();
        self.batch.items.push(Item::Line {
            start,
            end,
            line,
            via,
        });
        if end >= self.setup.batch_bytes {
            self.send(scan);
        }
    }

    /// A buffer for the reader to read a block into: a batch's storage
    /// done with, not cleared (see [`decode::BlockSink`]), or a new one.
    pub fn block_buffer(&mut self) -> Vec<u8> {
        self.spares
            .pop()
            .map(|(bytes, _)| bytes)
            .unwrap_or_default()
    }

    /// Whole lines as read, `bytes[range]`, the first numbered `line`: a
    /// batch of their own, after the lines offered one by one before them;
    /// `last`, the last of its file.
    pub fn block(
        &mut self,
        scan: &mut Scan<'_>,
        bytes: Vec<u8>,
        range: Range<usize>,
        line: usize,
        last: bool,
    ) {
        if !self.batch.items.is_empty() {
            self.send(scan);
        }
        if self.failure.is_some() {
            // Nothing more is scanned; the reader is told through `failure`.
            return;
        }
        let batch = Batch {
            seq: self.sent,
            file: self.batch.file.clone(),
            file_index: self.batch.file_index,
            bytes,
            items: vec![Item::Block {
                start: range.start,
                end: range.end,
                line,
            }],
        };
        // A small input (one block) does not start threads.
        if self.workers.is_empty() && last {
            run_batch(scan, &batch, self.setup.read);
            self.spares.push((batch.bytes, Vec::new()));
            return;
        }
        self.dispatch(scan, Job::Batch(batch));
    }

    /// An event decoded whole by the reader.
    pub fn event(&mut self, scan: &mut Scan<'_>, ev: Event) {
        self.batch.items.push(Item::Event(ev));
        if self.batch.items.len() >= BATCH_ITEMS {
            self.send(scan);
        }
    }

    pub fn problem(&mut self, p: Problem) {
        self.batch.items.push(Item::Problem(p));
    }

    /// The end of a file: its last batch goes out. When no batch is in
    /// flight and the workers never started, it is scanned here (a small
    /// input does not pay for threads).
    pub fn end_file(&mut self, scan: &mut Scan<'_>) {
        if self.batch.items.is_empty() {
            return;
        }
        if self.workers.is_empty() {
            let batch = self.take_batch();
            return run_batch(scan, &batch, self.setup.read);
        }
        self.send(scan);
    }

    /// Every batch done and replayed on `scan`, in order (before a stream
    /// is read on this thread, and at the end of input).
    pub fn drain(&mut self, scan: &mut Scan<'_>) {
        self.end_file(scan);
        while self.merged < self.sent && self.failure.is_none() {
            self.wait_one(scan);
        }
    }

    fn take_batch(&mut self) -> Batch {
        // A new batch's buffer is made its full size at once: grown line
        // by line, it was copied a dozen times on the reading thread.
        let batch_bytes = self.setup.batch_bytes;
        let (mut bytes, items) = (self.spares.pop())
            .unwrap_or_else(|| (Vec::with_capacity(batch_bytes + (1 << 12)), Vec::new()));
        bytes.clear();
        let fresh = Batch {
            seq: 0,
            file: self.batch.file.clone(),
            file_index: self.batch.file_index,
            bytes,
            items,
        };
        std::mem::replace(&mut self.batch, fresh)
    }

    fn send(&mut self, scan: &mut Scan<'_>) {
        if self.failure.is_some() {
            // Nothing more is scanned; the reader is told through `failure`.
            self.batch.bytes.clear();
            self.batch.items.clear();
            return;
        }
        let mut batch = self.take_batch();
        batch.seq = self.sent;
        self.dispatch(scan, Job::Batch(batch));
    }

    /// The file `input` (the scan's `files[index]`, named `name`), read
    /// whole by a worker, its events in order among the batches: a small
    /// gzip file, whose inflating would otherwise be the reading thread's
    /// work. The batch of the file before goes first.
    pub fn whole_file(
        &mut self,
        scan: &mut Scan<'_>,
        input: std::fs::File,
        name: &str,
        index: usize,
        opts: decode::Options,
    ) {
        self.end_file(scan);
        if self.failure.is_some() {
            return;
        }
        let job = FileJob {
            seq: self.sent,
            file: Arc::from(name),
            file_index: index,
            input,
            opts,
        };
        self.dispatch(scan, Job::File(job));
    }

    /// Sends job number `self.sent` to its worker, and replays what is
    /// done; the reader waits when the workers are behind.
    fn dispatch(&mut self, scan: &mut Scan<'_>, job: Job) {
        if self.workers.is_empty() {
            self.start(false, &scan.matcher);
        }
        let worker = &self.workers[(self.sent % self.workers.len() as u64) as usize];
        if worker.send(job).is_err() {
            self.failure = Some("a scan worker stopped".into());
            return;
        }
        self.sent += 1;
        self.collect(scan);
        // Bounded: the reader waits when the workers are behind.
        let limit = (self.workers.len() * (QUEUED_PER_WORKER + 2)) as u64;
        while self.sent - self.merged > limit && self.failure.is_none() {
            self.wait_one(scan);
        }
    }

    /// Starts the workers; `sharded`, each is also a shard of the
    /// stateful rules. Returns the link to the shards.
    fn start(&mut self, sharded: bool, matcher: &Matcher) -> Shards {
        // The workers copy the reading thread's matcher, each on its own
        // thread (planning the rules again would cost more).
        let shared = Arc::new(matcher.clone());
        let (done_tx, results) = channel();
        let (answer_tx, answers) = channel();
        let threads = self.setup.threads;
        for _ in 0..threads {
            let (tx, jobs) = sync_channel::<Job>(QUEUED_PER_WORKER);
            let matcher = Arc::clone(&shared);
            let (out, read) = (self.setup.out, self.setup.read);
            let cfg = self.setup.state;
            let done = done_tx.clone();
            let answer = answer_tx.clone();
            self.scope.spawn(move || {
                let mut null = std::io::sink();
                // Each worker its own copy: the automata are shared, their
                // caches are not.
                let matcher = Matcher::clone(&matcher);
                let mut scan = Scan::with_matcher(matcher, &mut null, out, cfg).into_lane();
                if sharded {
                    scan.be_shard();
                }
                scan.source = read.source;
                work(scan, read, &jobs, &done, &answer)
            });
            self.workers.push(tx);
        }
        self.results = Some(results);
        self.done_tx = Some(done_tx);
        Shards {
            workers: self.workers.clone(),
            answers,
            open: VecDeque::new(),
            flushes: 0,
            sent: 0,
            done: 0,
            outputs: Vec::new(),
            queued: VecDeque::new(),
            stats: Vec::new(),
            failure: None,
        }
    }

    /// Replays the batches done so far that are next in order.
    fn collect(&mut self, scan: &mut Scan<'_>) {
        while let Some(Ok(r)) = self.results.as_ref().map(Receiver::try_recv) {
            self.arrived(scan, r);
        }
    }

    /// Waits for one more batch to be done, and replays what is in order.
    fn wait_one(&mut self, scan: &mut Scan<'_>) {
        match self.results.as_ref().map(Receiver::recv) {
            Some(Ok(r)) => self.arrived(scan, r),
            _ => self.failure = Some("the scan workers stopped".into()),
        }
    }

    fn arrived(&mut self, scan: &mut Scan<'_>, r: Result<Done, String>) {
        match r {
            Ok(done) => {
                self.waiting.insert(done.seq, done);
            }
            Err(e) => {
                self.failure.get_or_insert(e);
                return;
            }
        }
        while let Some(done) = self.waiting.remove(&self.merged) {
            self.spares.push(done.spare);
            self.errors.extend(done.error);
            scan.replay(&done.file, done.lane);
            scan.stats.absorb(done.stats, done.file_index);
            self.merged += 1;
        }
    }
}

impl Drop for Pool<'_, '_> {
    fn drop(&mut self) {
        // The workers end when their queues close.
        self.workers.clear();
    }
}

/// A worker: batches in, lanes out, and (as a shard) steps of stateful
/// rules in, their alert lines out, until the queue closes. After a
/// failure (a bug) it does no more work but still answers, so that the
/// reader never waits for it.
fn work(
    mut scan: Scan<'_>,
    read: decode::Options,
    jobs: &Receiver<Job>,
    done: &Sender<Result<Done, String>>,
    answers: &Sender<Answer>,
) {
    let mut failed: Option<String> = None;
    for job in jobs {
        let result = match job {
            Job::State {
                flush,
                steps,
                finish,
            } => {
                let result = match &failed {
                    Some(e) => Err(e.clone()),
                    None => guarded("the stateful rules", || scan.shard_steps(steps, finish)),
                };
                if let Err(e) = &result {
                    failed = Some(e.clone());
                }
                let (result, stats) = match result {
                    Ok((lines, stats)) => (Ok(lines), stats),
                    Err(e) => (Err(e), None),
                };
                let answer = Answer {
                    flush,
                    result,
                    stats,
                };
                if answers.send(answer).is_err() {
                    return;
                }
                continue;
            }
            Job::Batch(_) | Job::File(_) if failed.is_some() => continue,
            Job::Batch(mut batch) => guarded(&batch.file, || {
                scan.begin_file(&batch.file);
                run_batch(&mut scan, &batch, read);
                scan.take_lane()
            })
            .map(|(lane, stats)| Done {
                seq: batch.seq,
                file: batch.file,
                file_index: batch.file_index,
                lane,
                stats,
                spare: {
                    // The bytes are kept as they are: a buffer read into
                    // whole is not zeroed again (`Pool::block_buffer`).
                    batch.items.clear();
                    (batch.bytes, batch.items)
                },
                error: None,
            }),
            Job::File(job) => {
                let FileJob {
                    seq,
                    file,
                    file_index,
                    input,
                    opts,
                } = job;
                guarded(&file, || {
                    let mut input = Counted { input, bytes: 0 };
                    let read = scan.read_all(&file, &mut input, opts);
                    let (lane, mut stats) = scan.take_lane();
                    stats.bytes += input.bytes;
                    (lane, stats, read.err().map(|e| format!("{file}: {e}")))
                })
                .map(|(lane, stats, error)| Done {
                    seq,
                    file: file.clone(),
                    file_index,
                    lane,
                    stats,
                    spare: (Vec::new(), Vec::new()),
                    error,
                })
            }
        };
        if let Err(e) = &result {
            failed = Some(e.clone());
        }
        if done.send(result).is_err() {
            return;
        }
    }
}

/// Runs `f`; a panic (a bug) becomes the message the reader reports.
fn guarded<T>(what: &str, f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|_| {
        format!("a scan worker failed on {what} (a bug: please report it with the input)")
    })
}

/// A file read by a worker, counting its bytes (as the summary does).
struct Counted {
    input: std::fs::File,
    bytes: u64,
}

impl std::io::Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Scans a batch's items on `scan`, as the reader would have.
fn run_batch(scan: &mut Scan<'_>, batch: &Batch, read: decode::Options) {
    let (file, source) = (&*batch.file, read.source);
    for item in &batch.items {
        match item {
            Item::Line {
                start,
                end,
                line,
                via,
            } => {
                let text = &batch.bytes[*start..*end];
                if scan.line_via(file, text, *line, *via) {
                    continue;
                }
                let decode = match via {
                    Via::CloudtrailRecords => decode::decode_record,
                    _ => decode::decode_line,
                };
                let scan = std::cell::RefCell::new(&mut *scan);
                decode(
                    text,
                    *line,
                    source,
                    &mut |ev| scan.borrow_mut().event(file, &ev),
                    &mut |p| scan.borrow_mut().problem(file, &p),
                );
            }
            Item::Block { start, end, line } => {
                let text = batch.bytes.get(*start..*end).unwrap_or_default();
                scan.handlers(file, |h| decode::read_block(text, *line, read, h));
            }
            Item::Event(ev) => scan.event(file, ev),
            Item::Problem(p) => scan.problem(file, p),
        }
    }
}

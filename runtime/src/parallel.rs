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
//! single-threaded scan's, byte for byte, in the same order; stateful
//! rules run on one thread, but only their bookkeeping: the workers have
//! already read what they need from each event.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::Scope;

use ward_compiler::lower::RuleSet;

use crate::decode::{self, Event, Format, Problem, Via};
use crate::scan::{Lane, Output, Scan, Stats};
use crate::state;

/// Input bytes per batch, by default.
pub const BATCH_BYTES: usize = 1 << 19;
/// Decoded events per batch (from documents and wrappings read whole).
const BATCH_ITEMS: usize = 4096;
/// Batches each worker may have waiting for it.
const QUEUED_PER_WORKER: usize = 2;

/// What the workers are given: the rules and how the scan runs.
pub struct Setup {
    pub rules: RuleSet,
    pub out: Output,
    pub state: state::Config,
    pub source: Option<&'static str>,
    pub format: Format,
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
}

/// The workers and the batches in flight, driven by the reading thread.
pub struct Pool<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    setup: Setup,
    /// Started on the first batch that fills (small inputs never start
    /// them: they are scanned on the reading thread).
    workers: Vec<SyncSender<Batch>>,
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
}

impl<'scope, 'env> Pool<'scope, 'env> {
    pub fn new(scope: &'scope Scope<'scope, 'env>, setup: Setup) -> Pool<'scope, 'env> {
        Pool {
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
        }
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
        if line == 1 && self.setup.format == Format::Auto && decode::opens_document(text) {
            return false;
        }
        // A CloudTrail `Records` document on one line: the reader streams
        // its records, which come back one by one through `record`.
        if memchr::memmem::find(text, b"\"Records\"").is_some() {
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
            return run_batch(scan, &batch, self.setup.source);
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
        let (bytes, items) = self.spares.pop().unwrap_or_default();
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
        if self.workers.is_empty() {
            self.start();
        }
        let mut batch = self.take_batch();
        batch.seq = self.sent;
        let worker = &self.workers[(self.sent % self.workers.len() as u64) as usize];
        if worker.send(batch).is_err() {
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

    fn start(&mut self) {
        let (done_tx, results) = channel();
        for _ in 0..self.setup.threads {
            let (tx, jobs) = sync_channel::<Batch>(QUEUED_PER_WORKER);
            let rules = self.setup.rules.clone();
            let (out, cfg, source) = (self.setup.out, self.setup.state, self.setup.source);
            let done = done_tx.clone();
            self.scope
                .spawn(move || work(rules, out, cfg, source, &jobs, &done));
            self.workers.push(tx);
        }
        self.results = Some(results);
        self.done_tx = Some(done_tx);
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

/// A worker: batches in, lanes out, until the queue closes.
fn work(
    rules: RuleSet,
    out: Output,
    cfg: state::Config,
    source: Option<&'static str>,
    jobs: &Receiver<Batch>,
    done: &Sender<Result<Done, String>>,
) {
    let mut null = std::io::sink();
    let mut scan = Scan::with_state(rules, &mut null, out, cfg).into_lane();
    scan.source = source;
    for mut batch in jobs {
        let run = std::panic::AssertUnwindSafe(|| {
            scan.begin_file(&batch.file);
            run_batch(&mut scan, &batch, source);
            scan.take_lane()
        });
        let result = match std::panic::catch_unwind(run) {
            Ok((lane, stats)) => Ok(Done {
                seq: batch.seq,
                file: batch.file,
                file_index: batch.file_index,
                lane,
                stats,
                spare: {
                    batch.bytes.clear();
                    batch.items.clear();
                    (batch.bytes, batch.items)
                },
            }),
            Err(_) => Err(format!(
                "a scan worker failed on {} (a bug: please report it with the input)",
                batch.file
            )),
        };
        let failed = result.is_err();
        if done.send(result).is_err() || failed {
            return;
        }
    }
}

/// Scans a batch's items on `scan`, as the reader would have.
fn run_batch(scan: &mut Scan<'_>, batch: &Batch, source: Option<&'static str>) {
    let file = &*batch.file;
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
            Item::Event(ev) => scan.event(file, ev),
            Item::Problem(p) => scan.problem(file, p),
        }
    }
}

//! `ward scan`: rules over event files, alerts out.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use std::cell::RefCell;

use super::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};
use crate::decode::{self, Format};
use crate::parallel;
use crate::scan::{Output, Scan, Stats};

pub(super) struct Options {
    pub rules: Vec<PathBuf>,
    pub files: Vec<PathBuf>,
    pub text: bool,
    pub output: Option<PathBuf>,
    pub input_format: Format,
    pub source: Option<&'static str>,
    pub max_line: usize,
    pub max_document: usize,
    pub strict: bool,
    pub allow_problems: bool,
    pub summary_json: Option<PathBuf>,
    pub no_event: bool,
    pub exit_zero: bool,
    pub state: crate::state::Config,
    /// Workers (`--threads`); 1 scans on the reading thread alone.
    pub threads: usize,
    /// Input bytes per batch handed to a worker.
    pub batch_bytes: usize,
}

impl Options {
    /// How input is read.
    fn read(&self) -> decode::Options {
        decode::Options {
            format: self.input_format,
            source: self.source,
            max_line: self.max_line,
            max_document: self.max_document,
        }
    }
}

pub(super) fn run(
    opts: Options,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    let loaded = super::load_rules(opts.rules.as_slice(), true)?;
    let Some(rules) = super::runnable(&loaded, err)? else {
        return Ok(EXIT_USAGE);
    };
    let inactive: Vec<(String, Vec<String>)> = (rules.rules.iter())
        .filter(|r| r.enabled && !r.unfilled.is_empty())
        .map(|r| (r.id.clone(), r.unfilled.clone()))
        .collect();
    if let Some(line) = super::inactive_line(&inactive) {
        writeln!(err, "ward: {line}")?;
    }
    let mut sink: Box<dyn Write> = match &opts.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(out)),
    };
    let output = Output {
        text: opts.text,
        with_event: !opts.no_event,
    };
    // Files smaller together than one batch are scanned on this thread
    // alone: no worker would get a second batch.
    let small = !opts.files.is_empty()
        && (opts.files.iter())
            .map(|f| {
                std::fs::metadata(f)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
            })
            .try_fold(0u64, |sum, len| Some(sum + len?))
            .is_some_and(|sum| sum < opts.batch_bytes.max(1) as u64);
    let setup = (opts.threads > 1 && !small).then(|| parallel::Setup {
        out: output,
        state: opts.state,
        read: opts.read(),
        threads: opts.threads,
        batch_bytes: opts.batch_bytes.max(1),
    });
    let mut scan = Scan::with_state(rules, &mut sink, output, opts.state);
    let scanned = std::thread::scope(|s| {
        let pool = setup.map(|setup| parallel::Pool::new(s, setup, &mut scan));
        scan_files(&opts, scan, pool, stdin, err)
    })?;
    let Scanned {
        stats,
        state,
        secs,
        failed,
    } = scanned;
    sink.flush()?;
    summary(&stats, secs, err)?;
    state_summary(&state, &opts.state, err)?;
    let alerts: u64 = stats.alerts.values().sum();
    // Lines that could not be read are lost events: exit 2 unless allowed.
    // Lines of unknown source were read; with --strict they count too.
    let unreadable = stats.malformed + stats.too_long;
    let lost = if opts.allow_problems {
        0
    } else if opts.strict {
        stats.problems()
    } else {
        unreadable
    };
    if lost > 0 {
        let why = match opts.strict {
            true => "held no event (--strict)",
            false => "could not be read (not JSON or too long)",
        };
        writeln!(
            err,
            "ward scan: {lost} line(s) {why}; their events are lost; exit {EXIT_USAGE} \
             (--allow-problems to exit by alerts alone)"
        )?;
    }
    let code = if failed || lost > 0 {
        EXIT_USAGE
    } else if alerts > 0 && !opts.exit_zero {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    };
    if let Some(path) = &opts.summary_json {
        let json = summary_json(&stats, &state, secs, code);
        let text = serde_json::to_string_pretty(&json)? + "\n";
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(code)
}

/// Whether `f` is a gzip file small enough to be read whole by a worker.
fn small_gzip(f: &std::fs::File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let small = f
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() <= parallel::WHOLE_FILE_BYTES);
        let mut magic = [0u8; 2];
        small && f.read_exact_at(&mut magic, 0).is_ok() && magic == [0x1f, 0x8b]
    }
    #[cfg(not(unix))]
    {
        let _ = f;
        false
    }
}

/// What reading the inputs gave.
struct Scanned {
    stats: Stats,
    state: crate::state::StateStats,
    secs: f64,
    /// An input could not be opened or read to its end.
    failed: bool,
}

/// Reads every input through `scan`, with the workers of `pool` if there
/// are (streams are read on this thread alone, so that their alerts go out
/// as soon as their events come in).
fn scan_files(
    opts: &Options,
    mut scan: Scan<'_>,
    pool: Option<parallel::Pool<'_, '_>>,
    stdin: &mut dyn Read,
    err: &mut dyn Write,
) -> Result<Scanned, Box<dyn std::error::Error>> {
    // A progress line only where a person watches (not in pipes or tests).
    scan.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    scan.source = opts.source;
    let scan = RefCell::new(scan);
    let pool = RefCell::new(pool);
    let mut failed = false;
    let start = Instant::now();
    let files = if opts.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        opts.files.clone()
    };
    let read = opts.read();
    for file in &files {
        let name = file.display().to_string();
        let mut waits = None;
        let input: Box<dyn Read + '_> = if name == "-" {
            if super::PROCESS_STDIN.load(std::sync::atomic::Ordering::Relaxed) {
                waits = stream_fd(&std::io::stdin());
            }
            Box::new(&mut *stdin)
        } else {
            match std::fs::File::open(file) {
                Ok(f) => {
                    waits = stream_fd(&f);
                    // A small gzip file goes whole to a worker, which
                    // inflates it: see spec/inputs.md "Threads".
                    if waits.is_none() && pool.borrow().is_some() && small_gzip(&f) {
                        if super::signals::stopped() {
                            break;
                        }
                        let mut scan = scan.borrow_mut();
                        scan.begin_file(&name);
                        scan.engine.set_stream(false);
                        let index = scan.stats.files.len() - 1;
                        if let Some(p) = pool.borrow_mut().as_mut() {
                            p.whole_file(&mut scan, f, &name, index, read);
                        }
                        continue;
                    }
                    Box::new(f)
                }
                Err(e) => {
                    writeln!(err, "ward: cannot read {name}: {e}")?;
                    failed = true;
                    continue;
                }
            }
        };
        if super::signals::stopped() {
            break;
        }
        let flush = || scan.borrow_mut().flush();
        let idle = || scan.borrow_mut().idle();
        let tick = (opts.state.max_idle / 2).clamp(MIN_TICK, MAX_TICK);
        let mut counted = Counting {
            inner: input,
            bytes: 0,
            before_read: &flush,
            waits: waits.map(|fd| Waits {
                fd,
                tick,
                on_idle: &idle,
            }),
        };
        scan.borrow_mut().begin_file(&name);
        scan.borrow_mut().engine.set_stream(waits.is_some());
        let index = scan.borrow().stats.files.len() - 1;
        // A stream is read here alone: what the workers hold goes first.
        let parallel = waits.is_none() && pool.borrow().is_some();
        if let Some(p) = pool.borrow_mut().as_mut() {
            match parallel {
                true => p.begin_file(&mut scan.borrow_mut(), &name, index),
                false => p.drain(&mut scan.borrow_mut()),
            }
        }
        // The callbacks share the scan and the pool; they never run at once.
        let result = if parallel {
            let with_pool = |f: &mut dyn FnMut(&mut parallel::Pool, &mut Scan) -> bool| {
                let mut pool = pool.borrow_mut();
                pool.as_mut().is_some_and(|p| f(p, &mut scan.borrow_mut()))
            };
            // Whole blocks of lines go to the workers as read: the reader
            // does not copy them line by line (a document is read whole).
            let mut sink = decode::BlockSink {
                block_bytes: opts.batch_bytes.max(1),
                buffer: &mut || {
                    let mut pool = pool.borrow_mut();
                    pool.as_mut().map(|p| p.block_buffer()).unwrap_or_default()
                },
                block: &mut |bytes, range, line, last| {
                    let mut bytes = Some(bytes);
                    with_pool(&mut |p, s| {
                        let bytes = bytes.take().unwrap_or_default();
                        p.block(s, bytes, range.clone(), line, last);
                        true
                    });
                },
            };
            let handlers = decode::Handlers {
                line: Some(&mut |text, line| with_pool(&mut |p, s| p.line(s, text, line))),
                record: Some(&mut |text, line| with_pool(&mut |p, s| p.record(s, text, line))),
                event: &mut |ev| {
                    let mut ev = Some(ev);
                    with_pool(&mut |p, s| {
                        ev.take().is_some_and(|ev| {
                            p.event(s, ev);
                            true
                        })
                    });
                },
                problem: &mut |pr| {
                    let mut pr = Some(pr);
                    with_pool(&mut |p, _| {
                        pr.take().is_some_and(|pr| {
                            p.problem(pr);
                            true
                        })
                    });
                },
            };
            decode::read_in_blocks(&mut counted, read, handlers, &mut sink)
        } else {
            decode::read_with(
                &mut counted,
                read,
                decode::Handlers {
                    line: Some(&mut |text, line| scan.borrow_mut().line(&name, text, line)),
                    record: Some(&mut |text, line| {
                        let records = decode::Via::CloudtrailRecords;
                        scan.borrow_mut().line_via(&name, text, line, records)
                    }),
                    event: &mut |ev| scan.borrow_mut().event(&name, &ev),
                    problem: &mut |p| scan.borrow_mut().problem(&name, &p),
                },
            )
        };
        if let (true, Some(p)) = (parallel, pool.borrow_mut().as_mut()) {
            p.end_file(&mut scan.borrow_mut());
        }
        scan.borrow_mut().stats.bytes += counted.bytes;
        if let Some(e) = scan.borrow_mut().write_error.take() {
            return Err(format!("cannot write alerts: {e}").into());
        }
        if let Err(e) = result {
            writeln!(err, "ward: {name}: {e}")?;
            failed = true;
        }
    }
    let mut scan = scan.into_inner();
    if let Some(mut p) = pool.into_inner() {
        p.drain(&mut scan);
        for e in p.errors.drain(..) {
            writeln!(err, "ward: {e}")?;
            failed = true;
        }
        if let Some(e) = p.failure.take() {
            return Err(format!("ward scan: {e}").into());
        }
    }
    scan.finish();
    if let Some(e) = scan.shard_failure.take() {
        return Err(format!("ward scan: {e}").into());
    }
    if let Some(e) = scan.write_error.take() {
        return Err(format!("cannot write alerts: {e}").into());
    }
    if scan.progress && scan.stats.events >= 1 << 17 {
        eprint!("\r\x1b[2K");
    }
    if super::signals::stopped() {
        writeln!(
            err,
            "ward scan: stopped by a signal; what was read before it is scanned and its windows closed"
        )?;
    }
    Ok(Scanned {
        secs: start.elapsed().as_secs_f64(),
        state: scan.engine.stats,
        stats: scan.stats,
        failed,
    })
}

/// The summary as JSON (`--summary-json`; spec/inputs.md).
fn summary_json(
    s: &Stats,
    state: &crate::state::StateStats,
    secs: f64,
    exit: u8,
) -> serde_json::Value {
    let files: Vec<serde_json::Value> = s
        .files
        .iter()
        .map(|f| {
            let mut v = serde_json::to_value(f).unwrap_or_default();
            v["warning"] = f.warning().into();
            v
        })
        .collect();
    let warnings: Vec<String> = s.files.iter().filter_map(|f| f.warning()).collect();
    serde_json::json!({
        "counts": {
            "known": s.events,
            "unknown": s.unknown,
            "malformed": s.malformed,
            "too_long": s.too_long,
            "drifted": s.type_drift,
            "alerts": s.alerts.values().sum::<u64>(),
        },
        "sources": s.per_source,
        "alerts": s.alerts,
        "files": files,
        "problems": s.problem_samples,
        "drift": s.drift_samples,
        "warnings": warnings,
        "state": {
            "late": state.late,
            "untimed": state.untimed,
            "evicted": state.evicted,
            "open_at_end": state.open_at_end,
            "released_early": state.released_early,
            "released_idle": state.released_idle,
            "peak_held_bytes": state.peak_held_bytes,
        },
        "bytes": s.bytes,
        "seconds": secs,
        "exit": exit,
    })
}

/// The input as the scan reads it: bytes counted for throughput; alerts
/// written so far flushed before each read, so that they go out before
/// the scan waits for more input (on a pipe, as soon as the event that
/// raised them is read; from a file, every 64 KiB read); the end of input
/// when a signal asked the scan to stop.
struct Counting<'f, R> {
    inner: R,
    bytes: u64,
    before_read: &'f dyn Fn(),
    /// On a stream: wait for input in ticks, idling between them.
    waits: Option<Waits<'f>>,
}

/// Waiting on a stream's descriptor for input, `tick` at a time, calling
/// `on_idle` after each tick without input (held events of stateful rules
/// are released on the wall clock: `--max-idle`).
struct Waits<'f> {
    fd: Fd,
    tick: std::time::Duration,
    on_idle: &'f dyn Fn(),
}

const MIN_TICK: std::time::Duration = std::time::Duration::from_millis(10);
const MAX_TICK: std::time::Duration = std::time::Duration::from_secs(1);

#[cfg(unix)]
type Fd = std::os::fd::RawFd;
#[cfg(not(unix))]
type Fd = ();

/// The descriptor of `input` if it is a stream (a pipe, socket or
/// terminal) rather than a regular file: what `--max-idle` applies to.
#[cfg(unix)]
fn stream_fd(input: &impl std::os::fd::AsRawFd) -> Option<Fd> {
    use std::os::unix::fs::FileTypeExt;
    let fd = input.as_raw_fd();
    // SAFETY: `input` keeps the descriptor open for the call; the File is
    // not dropped (it does not own the descriptor).
    let file = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd)
    });
    let kind = file.metadata().ok()?.file_type();
    (kind.is_fifo() || kind.is_socket() || kind.is_char_device()).then_some(fd)
}

#[cfg(not(unix))]
fn stream_fd<T>(_: &T) -> Option<Fd> {
    None
}

impl<R> Counting<'_, R> {
    /// Returns once input is ready (or the scan is asked to stop), idling
    /// every tick until then.
    #[cfg(unix)]
    fn wait(&self) {
        let Some(w) = &self.waits else { return };
        let ms = libc::c_int::try_from(w.tick.as_millis()).unwrap_or(1000);
        loop {
            if super::signals::stopped() {
                return;
            }
            let mut p = libc::pollfd {
                fd: w.fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            match unsafe { libc::poll(&mut p, 1, ms) } {
                0 => (w.on_idle)(),
                // A signal: check for a stop, then wait on.
                n if n < 0
                    && std::io::Error::last_os_error().kind()
                        == std::io::ErrorKind::Interrupted => {}
                // Ready, at its end, or an error the read will report.
                _ => return,
            }
        }
    }

    #[cfg(not(unix))]
    fn wait(&self) {}

    /// On a stream, whether input is there to be read without waiting.
    #[cfg(unix)]
    fn ready_now(&self) -> bool {
        let Some(w) = &self.waits else { return false };
        let mut p = libc::pollfd {
            fd: w.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        unsafe { libc::poll(&mut p, 1, 0) > 0 }
    }

    #[cfg(not(unix))]
    fn ready_now(&self) -> bool {
        false
    }
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // Alerts go out before the scan may wait for input (a stream with
        // more input already there reads on).
        if !self.ready_now() {
            (self.before_read)();
        }
        loop {
            self.wait();
            if super::signals::stopped() {
                return Ok(0);
            }
            match self.inner.read(buf) {
                Ok(n) => {
                    self.bytes += n as u64;
                    return Ok(n);
                }
                // A signal: stop if it asked to, else read on.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

fn summary(s: &Stats, secs: f64, err: &mut dyn Write) -> std::io::Result<()> {
    let per_source: Vec<String> = s
        .per_source
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let alerts: u64 = s.alerts.values().sum();
    let problems = match s.problems() {
        0 => "0 problem lines".to_string(),
        n => format!(
            "{n} problem line(s): {}",
            crate::scan::problem_kinds(s.unknown, s.malformed, s.too_long)
        ),
    };
    writeln!(
        err,
        "ward scan: {} event(s) ({}), {} alert(s), {problems}, {} drifted, {:.0} events/s, {:.1} MB/s",
        s.events,
        if per_source.is_empty() {
            "none".to_string()
        } else {
            per_source.join(", ")
        },
        alerts,
        s.type_drift,
        s.events as f64 / secs.max(1e-9),
        s.bytes as f64 / 1e6 / secs.max(1e-9),
    )?;
    for (rule, n) in &s.alerts {
        writeln!(err, "  {n:>8}  {rule}")?;
    }
    for p in &s.problem_samples {
        writeln!(err, "  problem: {p}")?;
    }
    if s.problems() as usize > s.problem_samples.len() {
        writeln!(
            err,
            "  ... and {} more problem line(s)",
            s.problems() as usize - s.problem_samples.len()
        )?;
    }
    // Per file, where a file held lines that are not events.
    if s.files.len() > 1 {
        for f in s.files.iter().filter(|f| f.problems() > 0) {
            writeln!(
                err,
                "  {}: {} event(s), {} of unknown source, {} not JSON, {} too long",
                f.file, f.events, f.unknown, f.malformed, f.too_long
            )?;
        }
    }
    for w in s.files.iter().filter_map(|f| f.warning()) {
        writeln!(err, "warning: {w}")?;
    }
    if s.type_drift > 0 {
        writeln!(
            err,
            "  {} event(s) with a field of the wrong type; tests of such a field are false:",
            s.type_drift
        )?;
        for d in &s.drift_samples {
            writeln!(err, "    {d}")?;
        }
    }
    Ok(())
}

/// What the stateful operators had to leave out or cut, if anything.
fn state_summary(
    s: &crate::state::StateStats,
    cfg: &crate::state::Config,
    err: &mut dyn Write,
) -> std::io::Result<()> {
    if s.late > 0 {
        writeln!(
            err,
            "  {} late event(s), more than --lateness {} behind the latest event time; stateful rules did not count them:",
            s.late,
            crate::state::human(cfg.lateness_ns)
        )?;
        for l in &s.late_samples {
            writeln!(err, "    {l}")?;
        }
    }
    if s.untimed > 0 {
        writeln!(
            err,
            "  {} event(s) without a readable time; stateful rules placed them at the latest time seen:",
            s.untimed
        )?;
        for l in &s.untimed_samples {
            writeln!(err, "    {l}")?;
        }
    }
    if s.released_early > 0 {
        writeln!(
            err,
            "  {} event(s) released to stateful rules before --lateness {} ran out: the events held reached --max-held-bytes {}; a later event older than them counted as late:",
            s.released_early,
            crate::state::human(cfg.lateness_ns),
            cfg.max_held_bytes
        )?;
        for l in &s.released_early_samples {
            writeln!(err, "    {l}")?;
        }
    }
    if s.released_idle > 0 {
        writeln!(
            err,
            "  {} event(s) released to stateful rules before --lateness {} ran out: event time stood still for --max-idle {} on a stream; a later event older than them counted as late:",
            s.released_idle,
            crate::state::human(cfg.lateness_ns),
            crate::state::human(i64::try_from(cfg.max_idle.as_nanos()).unwrap_or(i64::MAX))
        )?;
        for l in &s.released_idle_samples {
            writeln!(err, "    {l}")?;
        }
    }
    for (rule, n) in &s.evicted {
        writeln!(
            err,
            "  {rule}: {n} key(s) evicted at the cap of {} live keys (--max-keys); their partial windows were lost",
            cfg.max_keys
        )?;
    }
    if s.open_at_end > 0 {
        writeln!(
            err,
            "  {} sequence match(es) still waiting at the end of input for a window to close without their `not` step",
            s.open_at_end
        )?;
    }
    Ok(())
}

/// The process's standard input, unbuffered: `ward scan -` waits on its
/// descriptor with `poll`, which a buffer in between would defeat (input
/// already in the buffer would wait for the next tick).
#[cfg(unix)]
pub(super) struct RawStdin;

#[cfg(unix)]
impl Read for RawStdin {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
    }
}

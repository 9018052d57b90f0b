//! `ward serve`: rules run continuously on the Kubernetes audit webhook,
//! followed files, syslog over TCP or TLS and stdin (spec/serve.md).
//!
//! Every input puts what it reads in ONE queue bounded by a count of
//! events (queue.rs): the webhook (tokio tasks) answers 429 when it is
//! full, the followers (a thread per file pattern), the syslog
//! connections (tokio tasks) and stdin (a thread) wait for room. ONE
//! matching thread owns the [`Scan`], takes batches in order, writes
//! alerts to the sinks and marks each batch done (a file's checkpoint
//! waits for it). On SIGTERM or SIGINT: no new connection, in-flight
//! requests finish, the inputs stop and the followers write their last
//! checkpoints, the queue is drained, stateful windows are closed
//! (`finish`), or snapshotted when `state.snapshot` is set (keep.rs), and
//! the sinks flushed. On SIGHUP the rules are reloaded (reload.rs).

pub mod checkpoint;
pub mod client;
pub mod config;
pub mod deliver;
pub mod follow;
pub mod keep;
pub mod lines;
pub mod log;
pub mod metrics;
pub mod queue;
pub mod reload;
pub mod sink;
pub mod sink_http;
pub mod sink_syslog;
pub mod spool;
pub mod stdin;
pub mod syslog;
pub mod tls;
pub mod webhook;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use hyper_util::server::graceful::GracefulShutdown;
use ward_compiler::lower::RuleSet;

use crate::decode::{self, Problem};
use crate::scan::{Output, Scan, Stats};
use log::log;
use metrics::{Metrics, Seen};
use queue::{Batch, Item, Queue};
use webhook::Shared;

/// The input name alerts and problems give for events of the webhook;
/// their line is the event's number since the server started.
pub const INPUT: &str = "webhook";

/// Time the in-flight requests have to finish once a stop is asked.
const DRAIN: Duration = Duration::from_secs(10);

/// What the matching thread counted of one input.
#[derive(Default, Clone, Copy)]
pub struct InputCount {
    pub events: u64,
    pub problems: u64,
}

/// Runs the server until a signal stops it; the exit code.
pub fn run(cfg: config::Config, rules: RuleSet) -> Result<u8, Box<dyn std::error::Error>> {
    let mut tokens = Vec::new();
    let mut webhook_tls = None;
    if let Some(webhook) = &cfg.webhook {
        webhook_tls = Some(tls::server_config(
            &webhook.tls,
            webhook.auth.client_ca.as_deref(),
        )?);
        tokens = webhook.auth.bearer_tokens.clone();
        if let Some(file) = &webhook.auth.token_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                format!(
                    "webhook.auth.token_file: cannot read {}: {e}",
                    file.display()
                )
            })?;
            let lines = text.lines().map(str::trim);
            tokens.extend(
                lines
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
    }
    let mut syslog_tls = Vec::new();
    for (i, s) in cfg.inputs.syslog.iter().enumerate() {
        let at = format!("inputs.syslog[{i}]");
        syslog_tls.push(match &s.tls {
            Some(t) => Some(tls::syslog_config(&at, t)?),
            None => None,
        });
    }
    let checkpoints = match (&cfg.data_dir, cfg.inputs.files.is_empty()) {
        (Some(dir), false) => Some(Arc::new(checkpoint::Checkpoints::open(dir)?)),
        _ => None,
    };
    let metrics = Metrics::default();
    let (sinks, delivery) = sink::Sinks::open(&cfg.sinks, &metrics)?;
    let (queue, rx) = Queue::new(cfg.queue.max_events, metrics.queue_depth.clone());
    let shared = Arc::new(Shared {
        metrics,
        queue,
        retry_after: cfg.queue.retry_after_secs,
        sink_ok: AtomicBool::new(true),
        matching: AtomicBool::new(true),
        tokens,
        client_names: (cfg.webhook.as_ref()).map_or_else(Vec::new, |w| w.auth.client_names.clone()),
        query_token: cfg.webhook.as_ref().is_some_and(|w| w.auth.query_token),
        max_body: cfg.webhook.as_ref().map_or(0, |w| w.max_body_bytes),
    });
    let output = Output {
        text: cfg.alerts.format == config::AlertFormat::Text,
        with_event: cfg.alerts.event,
    };
    let state = cfg.state.config();
    let (reloaded, reloads) = mpsc::channel();
    let keep = shared.metrics.keep.clone();
    let keeper = keep::Keeper::new(cfg.state.snapshot.as_ref(), reloads, keep.clone());
    let matcher = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("ward-match".into())
            .spawn(move || matching(rules, sinks, output, state, &shared, rx, keeper))?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // The files' followers, each on a thread.
    let following = Arc::new(AtomicBool::new(false));
    let mut followers = Vec::new();
    for (f, checkpoints) in cfg.inputs.files.iter().zip(std::iter::repeat(checkpoints)) {
        let Some(checkpoints) = checkpoints else {
            break;
        };
        let cfg = config::FileInput {
            path: f.path.clone(),
            format: f.format,
            source: f.source,
            start_at: f.start_at,
        };
        let follower = follow::Follower::new(cfg, shared.clone(), checkpoints, following.clone());
        followers.push(
            std::thread::Builder::new()
                .name("ward-follow".into())
                .spawn(move || follower.run())?,
        );
        log!(
            Info,
            "input.file.following",
            {path: f.path.display().to_string()},
            "following {}",
            f.path.display()
        );
    }
    // stdin as the only input: its end stops the server as SIGTERM does.
    let eof = Arc::new(tokio::sync::Notify::new());
    if let Some(s) = &cfg.inputs.stdin {
        let only =
            cfg.webhook.is_none() && cfg.inputs.files.is_empty() && cfg.inputs.syslog.is_empty();
        let input = config::StdinInput {
            format: s.format,
            source: s.source,
        };
        let (shared, eof) = (shared.clone(), eof.clone());
        std::thread::Builder::new()
            .name("ward-stdin".into())
            .spawn(move || {
                stdin::run(input, shared, || {
                    if only {
                        log!(Info, "input.stdin.ended", "stdin: end of input; stopping");
                        eof.notify_one();
                    }
                })
            })?;
        log!(Info, "input.stdin.reading", "reading stdin");
    }
    let how = Listen {
        tls: webhook_tls,
        syslog_tls,
        eof,
    };
    // Installed now, before the server says it listens: SIGHUP's default
    // action ends the process.
    let hangup = {
        let _runtime = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?
    };
    // Taken now: a change once the server listens is a change.
    let watch = (cfg.reload.watch).then(|| {
        let every = Duration::from_millis(cfg.reload.interval);
        (every, reload::stamps(&cfg.rules))
    });
    let paths = cfg.rules.clone();
    runtime.spawn(reload::run(hangup, paths, watch, reloaded, keep));
    let served = runtime.block_on(listen(&cfg, how, shared.clone()));
    // Whatever ended the listening, the inputs stop: the followers wait
    // for what they queued to be matched and write their checkpoints;
    // then the queue is closed, and the matching thread drains it (into
    // the spools past their bound), closes the windows and flushes; the
    // network sinks then get their drain time.
    delivery.lift_bounds();
    following.store(true, Ordering::Relaxed);
    for f in followers {
        let _ = f.join();
    }
    shared.queue.close();
    drop(runtime);
    let done = matcher.join().map_err(|_| "the matching thread panicked");
    delivery.close();
    let (stats, inputs) = done?;
    served?;
    let alerts: u64 = stats.alerts.values().sum();
    for (input, n) in &inputs {
        log!(
            Info,
            "input.stopped",
            {input: &**input, events: n.events, problems: n.problems},
            "input {input}: {} event(s), {} line(s) with no event",
            n.events,
            n.problems
        );
    }
    log!(
        Info,
        "serve.stopped",
        {
            events: stats.events,
            alerts: alerts,
            unknown: stats.unknown,
            malformed: stats.malformed,
            drifted: stats.type_drift,
        },
        "stopped; {} event(s) matched, {alerts} alert(s), {} without a known source, {} not JSON, {} drifted",
        stats.events,
        stats.unknown,
        stats.malformed,
        stats.type_drift
    );
    Ok(crate::cli::EXIT_CLEAN)
}

/// What [`listen`] serves with besides the config.
struct Listen {
    tls: Option<Arc<rustls::ServerConfig>>,
    syslog_tls: Vec<Option<Arc<rustls::ServerConfig>>>,
    /// Notified when stdin, the only input, has ended.
    eof: Arc<tokio::sync::Notify>,
}

/// Binds the listeners, serves until SIGTERM or SIGINT (or the end of
/// stdin when it is the only input), then stops accepting and lets
/// in-flight requests and syslog connections finish.
async fn listen(
    cfg: &config::Config,
    how: Listen,
    shared: Arc<Shared>,
) -> Result<(), Box<dyn std::error::Error>> {
    let bind = |addr| async move {
        (tokio::net::TcpListener::bind(addr).await)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))
    };
    let webhook = match &cfg.webhook {
        Some(w) => Some(bind(w.listen).await?),
        None => None,
    };
    let metrics = match &cfg.metrics {
        Some(m) => Some(bind(m.listen).await?),
        None => None,
    };
    let mut syslog = Vec::new();
    for s in &cfg.inputs.syslog {
        syslog.push(match s.protocol {
            config::Protocol::Tcp => syslog::Bound::Tcp(bind(s.listen).await?),
            config::Protocol::Udp => {
                let socket = (tokio::net::UdpSocket::bind(s.listen).await)
                    .map_err(|e| format!("cannot listen on udp {}: {e}", s.listen))?;
                if let Some(bytes) = s.receive_buffer_bytes {
                    syslog::receive_buffer(&socket, &s.input_name(), bytes)?;
                }
                syslog::Bound::Udp(socket)
            }
        });
    }
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    if let (Some(listener), Some(w)) = (&webhook, &cfg.webhook) {
        let url = format!("https://{}{}", listener.local_addr()?, w.path);
        log!(Info, "input.webhook.listening", {url: url.as_str()}, "webhook on {url}");
    }
    for ((listener, s), tls) in syslog.iter().zip(&cfg.inputs.syslog).zip(&how.syslog_tls) {
        let scheme = match (listener, tls) {
            (syslog::Bound::Udp(_), _) => "udp",
            (_, Some(_)) => "tls",
            (_, None) => "tcp",
        };
        let url = format!("{scheme}://{}", listener.local_addr()?);
        let input = s.input_name();
        log!(
            Info,
            "input.syslog.listening",
            {input: input.as_str(), url: url.as_str()},
            "syslog {input} on {url}"
        );
    }
    if let Some(m) = &metrics {
        let url = format!("http://{}/metrics", m.local_addr()?);
        log!(Info, "metrics.listening", {url: url.as_str()}, "metrics on {url}");
    }
    log!(Info, "serve.started", "started");
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut servers = Vec::new();
    if let (Some(listener), Some(w), Some(tls)) = (webhook, &cfg.webhook, how.tls) {
        servers.push(tokio::spawn(webhook::serve(
            listener,
            Some(tokio_rustls::TlsAcceptor::from(tls)),
            webhook::webhook_routes(&w.path, shared.clone()),
            graceful.clone(),
            stopped.clone(),
        )));
    }
    if let Some(listener) = metrics {
        servers.push(tokio::spawn(webhook::serve(
            listener,
            None,
            webhook::metrics_routes(shared.clone()),
            graceful.clone(),
            stopped.clone(),
        )));
    }
    // Each syslog connection holds a sender: all are done when recv ends.
    let (alive, mut connections) = tokio::sync::mpsc::channel::<()>(1);
    let listeners = syslog
        .into_iter()
        .zip(&cfg.inputs.syslog)
        .zip(how.syslog_tls);
    for ((listener, s), tls) in listeners {
        let input = Arc::new(syslog::Listener {
            input: Arc::from(s.input_name()),
            source: s.source.map(|s| s.0),
            max: s.max_message_bytes,
        });
        servers.push(match listener {
            syslog::Bound::Tcp(listener) => tokio::spawn(syslog::serve(
                listener,
                tls.map(tokio_rustls::TlsAcceptor::from),
                input,
                shared.clone(),
                stopped.clone(),
                alive.clone(),
            )),
            syslog::Bound::Udp(socket) => tokio::spawn(syslog::serve_udp(
                socket,
                input,
                shared.clone(),
                stopped.clone(),
                alive.clone(),
            )),
        });
    }
    drop(alive);
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
        _ = how.eof.notified() => {}
    }
    log!(
        Info,
        "serve.stopping",
        "stopping: no new connections; draining the queue"
    );
    let _ = stop.send(true);
    for s in servers {
        let _ = s.await;
    }
    if tokio::time::timeout(DRAIN, connections.recv())
        .await
        .is_err()
    {
        log!(
            Warn,
            "input.syslog.cut_at_stop",
            "syslog connections still open after {DRAIN:?} were cut"
        );
    }
    // The accept loops are done: this is the last handle.
    if let Ok(graceful) = Arc::try_unwrap(graceful) {
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            log!(
                Warn,
                "input.webhook.cut_at_stop",
                "requests still open after {DRAIN:?} were cut"
            );
        }
    }
    Ok(())
}

/// The matching thread: batches from `rx` through one scan, in order,
/// until the queue is closed and empty; then the stateful windows are
/// snapshotted or closed, and the sinks flushed. Returns the scan's
/// counts and each input's.
fn matching(
    rules: RuleSet,
    mut sinks: sink::Sinks,
    output: Output,
    state: crate::state::Config,
    shared: &Shared,
    rx: mpsc::Receiver<Batch>,
    mut keeper: keep::Keeper,
) -> (Stats, BTreeMap<Arc<str>, InputCount>) {
    let tick = (state.max_idle / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let hold = std::env::var_os(HOLD).map(std::path::PathBuf::from);
    let mut scan = Scan::with_state(rules, &mut sinks, output, state);
    scan.engine.set_stream(true);
    scan.begin_file(INPUT);
    keeper.start(&mut scan);
    let mut seen = Seen::default();
    let mut webhook_number = 0;
    let mut inputs: BTreeMap<Arc<str>, InputCount> = BTreeMap::new();
    let mut problems = Problems::default();
    loop {
        while hold.as_ref().is_some_and(|h| h.exists()) {
            std::thread::sleep(Duration::from_millis(10));
        }
        match rx.recv_timeout(tick) {
            Ok(batch) => {
                let n = batch.items.len();
                if let Some(at) = batch.queued {
                    shared.metrics.queue_lag.set(at.elapsed().as_secs_f64());
                }
                scan.source = batch.source;
                let (events, before) = (scan.stats.events, scan.stats.problems());
                let file = &*batch.file;
                for item in batch.items {
                    match item {
                        Item::Line(mut number, text) => {
                            if number == 0 {
                                webhook_number += 1;
                                number = webhook_number;
                            }
                            let mut report = |scan: &mut Scan<'_>, p: Problem| {
                                problems.note(&batch.input, file, &p);
                                scan.problem(file, &p);
                            };
                            one_event(&mut scan, file, &text, number, batch.source, &mut report);
                        }
                        Item::Event(ev) => scan.event(file, &ev),
                        Item::Problem(p) => {
                            problems.note(&batch.input, file, &p);
                            scan.problem(file, &p);
                        }
                    }
                }
                scan.flush();
                let count = inputs.entry(batch.input.clone()).or_default();
                count.events += scan.stats.events - events;
                let bad = scan.stats.problems() - before;
                count.problems += bad;
                if bad > 0 {
                    shared.metrics.input(&batch.input).problems.inc_by(bad);
                }
                if let Some(done) = &batch.done {
                    done.store(true, Ordering::Release);
                }
                shared.queue.taken(n);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => scan.idle(),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        problems.tick(false);
        report(&mut scan, shared, &mut seen);
        keeper.between(&mut scan);
    }
    // With snapshots, the windows stay open for the next start.
    if !keeper.stop(&mut scan) {
        scan.finish();
    }
    scan.flush();
    problems.tick(true);
    report(&mut scan, shared, &mut seen);
    shared.matching.store(false, Ordering::Relaxed);
    (std::mem::take(&mut scan.stats), inputs)
}

/// Problems logged: the first ten of each input, then a count a minute.
#[derive(Default)]
struct Problems {
    per_input: BTreeMap<Arc<str>, (usize, u64)>,
    since: Option<Instant>,
}

/// Problems of an input logged one by one.
const LOGGED: usize = 10;

impl Problems {
    fn note(&mut self, input: &Arc<str>, file: &str, p: &Problem) {
        let (logged, more) = self.per_input.entry(input.clone()).or_default();
        if *logged < LOGGED {
            *logged += 1;
            let then = match *logged == LOGGED {
                true => " (further ones of this input are counted, one log line a minute)",
                false => "",
            };
            let kind = match p {
                Problem::Malformed { .. } => "malformed",
                Problem::TooLong { .. } => "too-long",
                Problem::UnknownShape { .. } => "unknown",
            };
            log!(
                Warn,
                "input.problem",
                {input: &**input, file: file, line: p.line(), kind: kind, problem: p.to_string()},
                "{file}: {p}{then}"
            );
        } else {
            *more += 1;
            self.since.get_or_insert_with(Instant::now);
        }
    }

    /// Logs the counts of the last minute (all of them at `last`).
    fn tick(&mut self, last: bool) {
        let due = self
            .since
            .is_some_and(|t| t.elapsed() >= Duration::from_secs(60));
        if !(due || (last && self.since.is_some())) {
            return;
        }
        self.since = None;
        for (input, (_, more)) in &mut self.per_input {
            if *more > 0 {
                log!(
                    Warn,
                    "input.problems",
                    {input: &**input, lines: *more},
                    "{input}: {more} more line(s) with no event since the last report"
                );
                *more = 0;
            }
        }
    }
}

/// For tests only: while the file this variable names exists, the
/// matching thread takes nothing from the queue, so that a test can fill
/// it deterministically.
pub const HOLD: &str = "WARD_SERVE_TEST_HOLD";

/// One event (a JSON line, numbered `number` in `file`): the scan's
/// fast path, or full decoding when it declines the line.
fn one_event(
    scan: &mut Scan<'_>,
    file: &str,
    event: &[u8],
    number: usize,
    source: Option<&'static str>,
    problem: &mut dyn FnMut(&mut Scan<'_>, Problem),
) {
    if event.trim_ascii().is_empty() || scan.line(file, event, number) {
        return;
    }
    let scan = std::cell::RefCell::new(scan);
    decode::decode_line(
        event,
        number,
        source,
        &mut |ev| scan.borrow_mut().event(file, &ev),
        &mut |p| problem(&mut scan.borrow_mut(), p),
    );
}

/// Moves the scan's counts to the metrics, and a write error to stderr
/// and the readiness (the next write tries again).
fn report(scan: &mut Scan<'_>, shared: &Shared, seen: &mut Seen) {
    shared.metrics.observe(&scan.stats, seen);
    match scan.write_error.take() {
        Some(e) => {
            shared.metrics.sink_errors.inc();
            if shared.sink_ok.swap(false, Ordering::Relaxed) {
                log!(Error, "sink.write_failed", {error: e.to_string()}, "cannot write alerts: {e}");
            }
        }
        None => shared.sink_ok.store(true, Ordering::Relaxed),
    }
}

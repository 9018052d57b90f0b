//! `ward serve`: rules run continuously on the Kubernetes audit webhook
//! (spec/serve.md).
//!
//! The HTTP side (tokio, several tasks) authenticates each POST, reads its
//! `EventList` and puts the events in a queue bounded by a count of
//! events; ONE matching thread owns the [`Scan`], takes batches in order
//! and writes alerts to the sinks. A request is answered 200 only once its
//! events are in the queue, 429 when they would not fit. On SIGTERM or
//! SIGINT: no new connection, in-flight requests finish, the queue is
//! drained, stateful windows are closed (`finish`) and the sinks flushed.

pub mod client;
pub mod config;
pub mod deliver;
pub mod log;
pub mod metrics;
pub mod sink;
pub mod sink_http;
pub mod sink_syslog;
pub mod spool;
pub mod tls;
pub mod webhook;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use ward_compiler::lower::RuleSet;

use crate::decode::{self, Problem};
use crate::scan::{Output, Scan, Stats};
use metrics::{Metrics, Seen};
use webhook::{Batch, Shared};

/// The input name alerts and problems give for events of the webhook;
/// their line is the event's number since the server started.
pub const INPUT: &str = "webhook";

/// Time the in-flight requests have to finish once a stop is asked.
const DRAIN: Duration = Duration::from_secs(10);

/// Runs the server until a signal stops it; the exit code.
pub fn run(
    cfg: config::Config,
    rules: RuleSet,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    let tls = tls::server_config(&cfg.webhook.tls, cfg.webhook.auth.client_ca.as_deref())?;
    let mut tokens = cfg.webhook.auth.bearer_tokens.clone();
    if let Some(file) = &cfg.webhook.auth.token_file {
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
    let metrics = Metrics::default();
    let (sinks, delivery) = sink::Sinks::open(&cfg.sinks, &metrics)?;
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        metrics,
        queued: AtomicUsize::new(0),
        max_queued: cfg.queue.max_events,
        retry_after: cfg.queue.retry_after_secs,
        tx: Mutex::new(Some(tx)),
        sink_ok: AtomicBool::new(true),
        matching: AtomicBool::new(true),
        tokens,
        max_body: cfg.webhook.max_body_bytes,
    });
    let output = Output {
        text: cfg.alerts.format == config::AlertFormat::Text,
        with_event: cfg.alerts.event,
    };
    let state = cfg.state.config();
    let matcher = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("ward-match".into())
            .spawn(move || matching(rules, sinks, output, state, &shared, rx))?
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let served = runtime.block_on(listen(&cfg, tls, shared.clone(), err));
    // Whatever ended the listening, the queue is closed: the matching
    // thread drains it (into the spools past their bound), closes the
    // windows and flushes; the network sinks then get their drain time.
    delivery.lift_bounds();
    shared.tx.lock().map(|mut tx| tx.take()).ok();
    drop(runtime);
    let stats = matcher.join().map_err(|_| "the matching thread panicked");
    delivery.close();
    let stats = stats?;
    served?;
    let alerts: u64 = stats.alerts.values().sum();
    writeln!(
        err,
        "ward serve: stopped; {} event(s) matched, {alerts} alert(s), {} without a known source, {} not JSON, {} drifted",
        stats.events, stats.unknown, stats.malformed, stats.type_drift
    )?;
    Ok(crate::cli::EXIT_CLEAN)
}

/// Binds the listeners, serves until SIGTERM or SIGINT, then stops
/// accepting and lets in-flight requests finish.
async fn listen(
    cfg: &config::Config,
    tls: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    err: &mut dyn Write,
) -> Result<(), Box<dyn std::error::Error>> {
    let bind = |addr| async move {
        (tokio::net::TcpListener::bind(addr).await)
            .map_err(|e| format!("cannot listen on {addr}: {e}"))
    };
    let webhook = bind(cfg.webhook.listen).await?;
    let metrics = match &cfg.metrics {
        Some(m) => Some(bind(m.listen).await?),
        None => None,
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    writeln!(
        err,
        "ward serve: webhook on https://{}{}",
        webhook.local_addr()?,
        cfg.webhook.path
    )?;
    if let Some(m) = &metrics {
        writeln!(
            err,
            "ward serve: metrics on http://{}/metrics",
            m.local_addr()?
        )?;
    }
    err.flush()?;
    let graceful = Arc::new(GracefulShutdown::new());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut servers = vec![tokio::spawn(webhook::serve(
        webhook,
        Some(tokio_rustls::TlsAcceptor::from(tls)),
        webhook::webhook_routes(&cfg.webhook.path, shared.clone()),
        graceful.clone(),
        stopped.clone(),
    ))];
    if let Some(listener) = metrics {
        servers.push(tokio::spawn(webhook::serve(
            listener,
            None,
            webhook::metrics_routes(shared.clone()),
            graceful.clone(),
            stopped,
        )));
    }
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    writeln!(
        err,
        "ward serve: stopping: no new connections; draining the queue"
    )?;
    let _ = stop.send(true);
    for s in servers {
        let _ = s.await;
    }
    // The accept loops are done: this is the last handle.
    if let Ok(graceful) = Arc::try_unwrap(graceful) {
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            writeln!(
                err,
                "ward serve: requests still open after {DRAIN:?} were cut"
            )?;
        }
    }
    Ok(())
}

/// The matching thread: batches from `rx` through one scan, in order,
/// until the queue is closed and empty; then the stateful windows are
/// closed and the sinks flushed. Returns the scan's counts.
fn matching(
    rules: RuleSet,
    mut sinks: sink::Sinks,
    output: Output,
    state: crate::state::Config,
    shared: &Shared,
    rx: mpsc::Receiver<Batch>,
) -> Stats {
    let tick = (state.max_idle / 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let hold = std::env::var_os(HOLD).map(std::path::PathBuf::from);
    let mut scan = Scan::with_state(rules, &mut sinks, output, state);
    scan.engine.set_stream(true);
    scan.begin_file(INPUT);
    let mut seen = Seen::default();
    let mut number = 0;
    loop {
        while hold.as_ref().is_some_and(|h| h.exists()) {
            std::thread::sleep(Duration::from_millis(10));
        }
        match rx.recv_timeout(tick) {
            Ok(batch) => {
                let n = batch.events.len();
                for event in &batch.events {
                    number += 1;
                    one_event(&mut scan, event, number);
                }
                scan.flush();
                shared.queued.fetch_sub(n, Ordering::Relaxed);
                let depth = shared.queued.load(Ordering::Relaxed);
                shared.metrics.queue_depth.set(depth as i64);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => scan.idle(),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        report(&mut scan, shared, &mut seen);
    }
    scan.finish();
    scan.flush();
    report(&mut scan, shared, &mut seen);
    shared.matching.store(false, Ordering::Relaxed);
    std::mem::take(&mut scan.stats)
}

/// For tests only: while the file this variable names exists, the
/// matching thread takes nothing from the queue, so that a test can fill
/// it deterministically.
pub const HOLD: &str = "WARD_SERVE_TEST_HOLD";

/// One event (a compact JSON line): the scan's fast path, or full
/// decoding when it declines the line.
fn one_event(scan: &mut Scan<'_>, event: &[u8], number: usize) {
    if scan.line(INPUT, event, number) {
        return;
    }
    let opts = decode::Options {
        format: decode::Format::JsonLines,
        source: None,
        max_line: event.len() + 1,
        max_document: decode::MAX_DOCUMENT,
    };
    let scan = std::cell::RefCell::new(scan);
    // Reading from memory cannot fail.
    let _ = decode::read(
        event,
        opts,
        &mut |mut ev| {
            ev.line = number;
            scan.borrow_mut().event(INPUT, &ev);
        },
        &mut |p| scan.borrow_mut().problem(INPUT, &renumber(p, number)),
    );
}

/// A problem of the one-line input, at the event's number instead.
fn renumber(p: Problem, number: usize) -> Problem {
    match p {
        Problem::Malformed { error, .. } => Problem::Malformed {
            line: number,
            error,
        },
        Problem::TooLong { bytes, limit, .. } => Problem::TooLong {
            line: number,
            bytes,
            limit,
        },
        Problem::UnknownShape { hint, .. } => Problem::UnknownShape { line: number, hint },
    }
}

/// Moves the scan's counts to the metrics, and a write error to stderr
/// and the readiness (the next write tries again).
fn report(scan: &mut Scan<'_>, shared: &Shared, seen: &mut Seen) {
    shared.metrics.observe(&scan.stats, seen);
    match scan.write_error.take() {
        Some(e) => {
            shared.metrics.sink_errors.inc();
            if shared.sink_ok.swap(false, Ordering::Relaxed) {
                log::log(format_args!("cannot write alerts: {e}"));
            }
        }
        None => shared.sink_ok.store(true, Ordering::Relaxed),
    }
}

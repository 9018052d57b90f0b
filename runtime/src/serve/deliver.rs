//! Delivery to the network sinks: per sink, a sender thread reads the
//! sink's spool from the acknowledged position, sends batches, retries
//! with backoff, dead-letters what the sink rejects, and acknowledges.

use std::borrow::Cow;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::watch;

use super::config;
use super::log::log;
use super::metrics::{Metrics, SinkMetrics};
use super::sink_http::HttpSink;
use super::sink_syslog::SyslogSink;
use super::spool::{Chunk, Limits, Spool};

/// What became of one attempt to send a batch.
pub enum Outcome {
    Delivered,
    /// Not delivered, worth sending again (the sink is down or busy).
    Retry(String),
    /// Refused by the sink as it is: sending it again would not help.
    Rejected(String),
}

enum Transport {
    Http(HttpSink),
    Syslog(SyslogSink),
}

impl Transport {
    async fn send(&mut self, lines: &[u8]) -> Outcome {
        match self {
            Transport::Http(s) => s.send(lines).await,
            Transport::Syslog(s) => s.send(lines).await,
        }
    }
}

/// The senders of the network sinks, running.
pub struct Delivery {
    running: Vec<Running>,
    /// `Some(deadline)` once stopping: senders end when their spool is
    /// empty or at the deadline.
    closing: watch::Sender<Option<Instant>>,
    drain: Duration,
}

struct Running {
    name: String,
    spool: Arc<Spool>,
    thread: Option<JoinHandle<()>>,
}

impl Delivery {
    /// Opens each network sink's spool (logging what recovery did and
    /// what is left from before) and starts its sender. The spools are
    /// returned for the matching thread to append to.
    pub fn start(
        cfg: &config::Sinks,
        metrics: &Metrics,
    ) -> Result<(Delivery, Vec<Arc<Spool>>), String> {
        let (closing, watching) = watch::channel(None);
        let mut delivery = Delivery {
            running: Vec::new(),
            closing,
            drain: Duration::from_millis(cfg.drain_timeout),
        };
        let http = cfg.http.iter().enumerate().map(|(i, h)| {
            let at = format!("sinks.http[{i}]");
            let batch = (h.batch_max_alerts, h.batch_max_bytes);
            HttpSink::new(&at, h).map(|s| (h.name.clone(), Transport::Http(s), batch))
        });
        let syslog = cfg.syslog.iter().enumerate().map(|(i, s)| {
            let at = format!("sinks.syslog[{i}]");
            let batch = (s.batch_max_alerts, s.batch_max_bytes);
            SyslogSink::new(&at, s).map(|t| (s.name.clone(), Transport::Syslog(t), batch))
        });
        let mut spools = Vec::new();
        for sink in http.chain(syslog) {
            let (name, transport, (max_alerts, max_bytes)) = sink?;
            let Some(spool_cfg) = &cfg.spool else {
                return Err(format!("sinks.spool: required by the sink `{name}`"));
            };
            let dir = spool_cfg.dir.join(&name);
            let metrics = metrics.sinks.sink(&name);
            let limits = Limits::new(spool_cfg.max_bytes as u64);
            let (spool, notes) = Spool::open(&dir, limits, metrics.spool.clone())
                .map_err(|e| format!("sinks.spool.dir: {}: {e}", dir.display()))?;
            for note in notes {
                log!(Warn, "sink.spool.repaired", {sink: name.as_str()}, "sink {name}: {note}");
            }
            let (alerts, bytes) = spool.pending();
            if alerts > 0 {
                log!(
                    Info,
                    "sink.spool.pending",
                    {sink: name.as_str(), alerts: alerts, bytes: bytes, spool: dir.display().to_string()},
                    "sink {name}: {alerts} alert(s) ({bytes} bytes) in {} from before, sent first",
                    dir.display()
                );
            }
            let spool = Arc::new(spool);
            let sender = Sender {
                name: name.clone(),
                spool: spool.clone(),
                transport,
                metrics,
                initial: Duration::from_millis(cfg.retry.initial),
                max: Duration::from_millis(cfg.retry.max),
                max_alerts,
                max_bytes,
                closing: watching.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("ward-sink-{name}"))
                .spawn(move || sender.run_here())
                .map_err(|e| format!("cannot start the sender of `{name}`: {e}"))?;
            delivery.running.push(Running {
                name,
                spool: spool.clone(),
                thread: Some(thread),
            });
            spools.push(spool);
        }
        Ok((delivery, spools))
    }

    /// For the stop: the spools take what the queue still holds past
    /// their bound, rather than keeping the matching thread waiting on a
    /// sink that is down.
    pub fn lift_bounds(&self) {
        for r in &self.running {
            r.spool.lift_bound();
        }
    }

    /// Gives the senders `drain_timeout` to deliver what is spooled, then
    /// stops them; what is left stays spooled for the next start.
    pub fn close(mut self) {
        let _ = self.closing.send(Some(Instant::now() + self.drain));
        for r in &mut self.running {
            if let Some(thread) = r.thread.take() {
                let _ = thread.join();
            }
            let (alerts, bytes) = r.spool.pending();
            if alerts > 0 {
                log!(
                    Warn,
                    "sink.undelivered_at_stop",
                    {
                        sink: r.name.as_str(),
                        alerts: alerts,
                        bytes: bytes,
                        spool: r.spool.dir().display().to_string(),
                    },
                "sink {}: {alerts} alert(s) ({bytes} bytes) not delivered within {:?}; kept in {} for the next start",
                    r.name,
                    self.drain,
                    r.spool.dir().display()
                );
            }
        }
    }
}

/// One sink's sender.
struct Sender {
    name: String,
    spool: Arc<Spool>,
    transport: Transport,
    metrics: SinkMetrics,
    initial: Duration,
    max: Duration,
    max_alerts: usize,
    max_bytes: usize,
    closing: watch::Receiver<Option<Instant>>,
}

impl Sender {
    /// Runs on this thread until closed.
    fn run_here(self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match runtime {
            Ok(r) => r.block_on(self.run()),
            Err(e) => log!(
                Error,
                "sink.failed",
                {sink: self.name.as_str(), error: e.to_string()},
                "sink {}: cannot start: {e}",
                self.name
            ),
        }
    }

    async fn run(mut self) {
        let mut at = self.spool.acked();
        loop {
            let chunk = match self.spool.read(at, self.max_alerts, self.max_bytes) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => {
                    if self.closing.borrow().is_some() {
                        return;
                    }
                    tokio::select! {
                        _ = self.spool.appended.notified() => {}
                        changed = self.closing.changed() => if changed.is_err() { return },
                    }
                    continue;
                }
                Err(e) => {
                    log!(
                        Error,
                        "sink.spool.unreadable",
                        {sink: self.name.as_str(), error: e.to_string()},
                        "sink {}: cannot read the spool: {e}",
                        self.name
                    );
                    if !self.pause(self.max).await {
                        return;
                    }
                    continue;
                }
            };
            if !self.deliver(&chunk).await {
                return;
            }
            if let Err(e) = self.spool.ack(chunk.end, chunk.alerts) {
                log!(
                    Error,
                    "sink.spool.ack_failed",
                    {sink: self.name.as_str(), alerts: chunk.alerts, error: e.to_string()},
                "sink {}: cannot record {} alert(s) as delivered: {e}; a restart sends them again",
                    self.name, chunk.alerts
                );
            }
            at = chunk.end;
        }
    }

    /// Sends the chunk until the sink takes it (true) or rejects it, then
    /// dead-lettered (true); false when stopped at the drain's deadline.
    async fn deliver(&mut self, chunk: &Chunk) -> bool {
        let mut delay = self.initial;
        let mut failed = 0u64;
        loop {
            let outcome = tokio::select! {
                o = self.transport.send(&chunk.lines) => o,
                _ = past_deadline(&mut self.closing) => return false,
            };
            let why = match outcome {
                Outcome::Delivered => {
                    self.metrics.delivered.inc_by(chunk.alerts);
                    self.metrics.up.set(1);
                    if failed > 0 {
                        log!(
                            Info,
                            "sink.recovered",
                            {sink: self.name.as_str(), failed_attempts: failed},
                            "sink {}: delivered after {failed} failed attempt(s)",
                            self.name
                        );
                    }
                    return true;
                }
                Outcome::Rejected(why) => {
                    self.metrics.failures.inc();
                    self.metrics.up.set(1);
                    match self.dead_letter(&chunk.lines) {
                        Ok(path) => {
                            self.metrics.rejected.inc_by(chunk.alerts);
                            log!(
                                Error,
                                "sink.rejected",
                                {
                                    sink: self.name.as_str(),
                                    alerts: chunk.alerts,
                                    reason: why.as_str(),
                                    dead_letter: path.display().to_string(),
                                },
                            "sink {}: REJECTED {} alert(s): {why}; not sent again, written to {}",
                                self.name,
                                chunk.alerts,
                                path.display()
                            );
                            return true;
                        }
                        Err(e) => format!("{why}; and the dead-letter file cannot be written: {e}"),
                    }
                }
                Outcome::Retry(why) => {
                    self.metrics.failures.inc();
                    self.metrics.up.set(0);
                    why
                }
            };
            failed += 1;
            let wait = jitter(delay);
            // The first failure of an outage, then one in ten.
            if failed % 10 == 1 {
                log!(
                    Warn,
                    "sink.retry",
                    {
                        sink: self.name.as_str(),
                        reason: why.as_str(),
                        alerts: chunk.alerts,
                        attempt: failed + 1,
                        wait_seconds: wait.as_secs_f64(),
                    },
                    "sink {}: {why}; {} alert(s) kept in the spool, attempt {} in {wait:.1?}",
                    self.name,
                    chunk.alerts,
                    failed + 1
                );
            }
            if !self.pause(wait).await {
                return false;
            }
            self.metrics.retries.inc();
            delay = (delay * 2).min(self.max);
        }
    }

    /// Sleeps; false if the drain's deadline came first.
    async fn pause(&mut self, wait: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(wait) => true,
            _ = past_deadline(&mut self.closing) => false,
        }
    }

    /// Appends rejected alert lines, as they are, to the spool's
    /// `dead-letter.jsonl`, synced.
    fn dead_letter(&self, lines: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.spool.dir().join("dead-letter.jsonl");
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(lines)?;
        file.sync_data()?;
        Ok(path)
    }
}

/// Resolves once stopping and the drain's deadline has passed.
async fn past_deadline(closing: &mut watch::Receiver<Option<Instant>>) {
    loop {
        let deadline = *closing.borrow_and_update();
        if let Some(d) = deadline {
            tokio::time::sleep_until(d.into()).await;
            return;
        }
        if closing.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A wait drawn at random between half of `d` and all of it, so that
/// senders that failed together do not come back together.
fn jitter(d: Duration) -> Duration {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    let half = d / 2;
    let nanos = half.as_nanos().min(u128::from(u64::MAX)) as u64;
    half + Duration::from_nanos(random % nanos.saturating_add(1))
}

/// What the sinks read of an alert line.
#[derive(Deserialize)]
pub struct AlertHead<'a> {
    #[serde(borrow)]
    pub rule: Option<Cow<'a, str>>,
    #[serde(borrow)]
    severity: Option<Cow<'a, str>>,
    /// Set on diagnostic lines (spec/alerts.md), which have no severity.
    #[serde(borrow)]
    diagnostic: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<&'a serde_json::value::RawValue>,
}

/// The head of an alert line; `None` if it is not a JSON object.
pub fn alert_head(line: &[u8]) -> Option<AlertHead<'_>> {
    serde_json::from_slice(line).ok()
}

impl AlertHead<'_> {
    /// The event's time in nanoseconds since the epoch, from an RFC 3339
    /// string.
    fn time_ns(&self) -> Option<i64> {
        let text: &str = serde_json::from_str(self.time?.get()).ok()?;
        i64::try_from(ward_compiler::time::parse(text)?).ok()
    }

    /// The event's time in seconds since the epoch (microseconds kept):
    /// an RFC 3339 string converted, a number as it is.
    pub fn epoch_seconds(&self) -> Option<String> {
        if let Some(ns) = self.time_ns() {
            let (s, us) = (
                ns.div_euclid(1_000_000_000),
                ns.rem_euclid(1_000_000_000) / 1000,
            );
            return Some(format!("{s}.{us:06}"));
        }
        let number: serde_json::Number = serde_json::from_str(self.time?.get()).ok()?;
        Some(number.to_string())
    }

    /// The event's time as RFC 5424 writes it (UTC, at most six fraction
    /// digits).
    pub fn rfc5424_time(&self) -> Option<String> {
        let ns = self.time_ns()?;
        Some(crate::state::rfc3339(ns - ns.rem_euclid(1000)))
    }

    /// The alert's severity as a syslog severity: critical 2 (crit),
    /// high 3 (err), medium 4 (warning), low 5 (notice), info 6
    /// (informational); a diagnostic line 4, anything else 5.
    pub fn syslog_severity(&self) -> u8 {
        if self.diagnostic.is_some() {
            return 4;
        }
        match self.severity.as_deref() {
            Some("critical") => 2,
            Some("high") => 3,
            Some("medium") => 4,
            Some("info") => 6,
            _ => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_between_half_and_all() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(200));
            assert!(j >= Duration::from_millis(100) && j <= Duration::from_millis(200));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}

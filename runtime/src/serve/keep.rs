//! The matching thread's keeping of state: the snapshot read at start,
//! written on an interval and at a stop, and reloaded rule sets swapped in
//! between batches with the state of the rules that did not change.
//!
//! Only the matching thread touches the engine: the snapshots are taken
//! there, between batches, and the loader ([`super::reload`]) hands it a
//! checked rule set over a channel.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use ward_compiler::lower::RuleSet;

use super::log::log;
use crate::scan::Scan;
use crate::state::snapshot::{self, Found};

type Labels = Vec<(&'static str, String)>;

/// The metrics of reloads and snapshots (handles sharing the registered
/// values).
#[derive(Clone, Default)]
pub struct KeepMetrics {
    reloads: Family<Labels, Counter>,
    rules: Gauge,
    reloaded_at: Gauge,
    snapshots: Family<Labels, Counter>,
    snapshot_bytes: Gauge,
}

impl KeepMetrics {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "rule_reloads",
            "Rule reloads (SIGHUP or a rule file changed), by result: ok (swapped in) or failed (the rules before keep running)",
            self.reloads.clone(),
        );
        r.register(
            "rules_loaded",
            "Rules in the rule set running",
            self.rules.clone(),
        );
        r.register(
            "rules_last_load_timestamp_seconds",
            "When the rule set running was loaded (at start or by the last good reload), seconds since the epoch",
            self.reloaded_at.clone(),
        );
        r.register(
            "state_snapshots",
            "Snapshots of the stateful windows written, by result (ok or failed)",
            self.snapshots.clone(),
        );
        r.register(
            "state_snapshot_bytes",
            "Size of the last snapshot of the stateful windows written",
            self.snapshot_bytes.clone(),
        );
    }

    fn reload(&self, result: &str) {
        let labels = vec![("result", result.to_string())];
        self.reloads.get_or_create(&labels).inc();
    }

    /// A reload that did not check: the rules before keep running.
    pub fn reload_failed(&self) {
        self.reload("failed");
    }

    fn loaded(&self, rules: &RuleSet) {
        self.rules.set(rules.rules.len() as i64);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        self.reloaded_at.set(now.map_or(0, |d| d.as_secs() as i64));
    }

    fn snapshot(&self, result: &str) {
        let labels = vec![("result", result.to_string())];
        self.snapshots.get_or_create(&labels).inc();
    }
}

/// Snapshots and reloads, on the matching thread.
pub struct Keeper {
    snapshot: Option<Snapshotting>,
    reloads: mpsc::Receiver<RuleSet>,
    metrics: KeepMetrics,
}

struct Snapshotting {
    path: PathBuf,
    /// `None`: only at a stop.
    every: Option<Duration>,
    last: Instant,
}

impl Keeper {
    /// `snapshot` as configured; reloaded rule sets arrive on `reloads`.
    pub fn new(
        snapshot: Option<&super::config::Snapshot>,
        reloads: mpsc::Receiver<RuleSet>,
        metrics: KeepMetrics,
    ) -> Keeper {
        Keeper {
            snapshot: snapshot.map(|s| Snapshotting {
                path: s.path.clone(),
                every: (s.interval > 0).then(|| Duration::from_millis(s.interval)),
                last: Instant::now(),
            }),
            reloads,
            metrics,
        }
    }

    /// Before the first batch: restores the snapshot, if any. A file that
    /// is not a snapshot is set aside and the scan starts empty.
    pub fn start(&mut self, scan: &mut Scan<'_>) {
        self.metrics.loaded(&scan.matcher.rules);
        let Some(s) = &mut self.snapshot else {
            return;
        };
        s.last = Instant::now();
        let path = s.path.display();
        match snapshot::load(&s.path) {
            Found::Missing => log!(
                Info,
                "state.snapshot.missing",
                {path: path.to_string()},
                "state: no snapshot at {path}; starting with empty windows"
            ),
            Found::Snapshot(snap) => {
                let taken = snap.taken.clone();
                let restored = scan.engine.restore(snap);
                log!(
                    Info,
                    "state.snapshot.restored",
                    {path: path.to_string(), taken: taken.as_str()},
                    "state: snapshot of {taken} read from {path}: {}",
                    restored.summary()
                );
            }
            Found::Bad { error, moved } => {
                let moved = match moved {
                    Ok(to) => format!("moved aside to {}", to.display()),
                    Err(e) => format!("could NOT be moved aside ({e})"),
                };
                log!(
                    Error,
                    "state.snapshot.unusable",
                    {path: path.to_string(), error: error.to_string(), moved: moved.as_str()},
                    "ERROR: state: {path} is not a usable snapshot ({error}); it was {moved}; \
                     starting with EMPTY windows: alerts that needed the state it held will not fire"
                );
            }
            Found::Unreadable(e) => log!(
                Error,
                "state.snapshot.unreadable",
                {path: path.to_string(), error: e.to_string()},
                "ERROR: state: cannot read the snapshot {path} ({e}); starting with EMPTY \
                 windows; the next snapshot replaces it"
            ),
        }
    }

    /// Between batches: swaps in a reloaded rule set, and writes a
    /// snapshot when one is due.
    pub fn between(&mut self, scan: &mut Scan<'_>) {
        // Of several reloads waiting, the last is the one to run.
        if let Some(rules) = self.reloads.try_iter().last() {
            self.swap(scan, rules);
        }
        let due = self
            .snapshot
            .as_ref()
            .is_some_and(|s| s.every.is_some_and(|every| s.last.elapsed() >= every));
        if due {
            self.write(scan);
        }
    }

    /// At a stop, once the queue is drained: with snapshots, writes one
    /// and returns true (the windows stay open, for the next start);
    /// false when the caller should close them (`finish`) instead, as
    /// also when the snapshot could not be written.
    pub fn stop(&mut self, scan: &mut Scan<'_>) -> bool {
        if self.snapshot.is_none() {
            return false;
        }
        let written = self.write(scan);
        if !written {
            log!(
                Error,
                "state.snapshot.not_at_stop",
                "ERROR: state: no snapshot at the stop; closing the windows instead (their alerts fire now)"
            );
        }
        written
    }

    /// Writes a snapshot; whether it was written.
    fn write(&mut self, scan: &Scan<'_>) -> bool {
        let Some(s) = &mut self.snapshot else {
            return false;
        };
        s.last = Instant::now();
        let snap = scan.engine.snapshot();
        match snapshot::save(&s.path, &snap) {
            Ok(bytes) => {
                self.metrics.snapshot("ok");
                self.metrics.snapshot_bytes.set(bytes as i64);
                true
            }
            Err(e) => {
                self.metrics.snapshot("failed");
                log!(
                    Error,
                    "state.snapshot.write_failed",
                    {path: s.path.display().to_string(), error: e.to_string()},
                    "ERROR: state: cannot write the snapshot {}: {e}",
                    s.path.display()
                );
                false
            }
        }
    }

    /// Runs `rules` from here on, with the state of the stateful rules
    /// whose definition did not change.
    fn swap(&mut self, scan: &mut Scan<'_>, rules: RuleSet) {
        let before = identities(&scan.matcher.rules);
        let after = identities(&rules);
        let added: Vec<&str> = (after.keys())
            .filter(|id| !before.contains_key(*id))
            .map(String::as_str)
            .collect();
        let removed: Vec<&str> = (before.keys())
            .filter(|id| !after.contains_key(*id))
            .map(String::as_str)
            .collect();
        let changed: Vec<&str> = (after.iter())
            .filter(|(id, f)| before.get(*id).is_some_and(|b| b != *f))
            .map(|(id, _)| id.as_str())
            .collect();
        self.metrics.loaded(&rules);
        let old = scan.swap_rules(rules);
        let restored = scan.engine.restore(old.snapshot());
        self.metrics.reload("ok");
        let list = |v: &[&str]| match v.is_empty() {
            true => String::new(),
            false => format!(" ({})", v.join(", ")),
        };
        log!(
            Info,
            "rules.reloaded",
            {rules: after.len(), added: added.clone(), removed: removed.clone(), changed: changed.clone()},
            "rules reloaded: {} rule(s); {} added{}, {} removed{}, {} changed{}; {}",
            after.len(),
            added.len(),
            list(&added),
            removed.len(),
            list(&removed),
            changed.len(),
            list(&changed),
            restored.summary()
        );
    }
}

/// Each rule's id and the identity of its definition.
fn identities(rules: &RuleSet) -> BTreeMap<String, (bool, String)> {
    (rules.rules.iter())
        .map(|r| (r.id.clone(), (r.active(), snapshot::fingerprint(r))))
        .collect()
}

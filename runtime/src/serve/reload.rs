//! Reloading the rules: on SIGHUP, and (with `reload.watch`) when a rule
//! file changes. The rules are loaded and checked here, off the matching
//! thread, exactly as at start; a rule set with errors is reported and
//! the one running keeps running; a good one goes to the matching thread,
//! which swaps it in between batches ([`super::keep`]).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use tokio::signal::unix::Signal;
use ward_compiler::lower::RuleSet;

use super::keep::KeepMetrics;
use super::log::log;

/// Waits for SIGHUP (`hangup`, installed before the server says it
/// listens) or a change of the files under `paths` from `seen` (their
/// [`stamps`] when the server started), and sends each rule set that
/// checks on `to`; ends when the matching thread is gone.
pub async fn run(
    mut hangup: Signal,
    paths: Vec<PathBuf>,
    watch: Option<(Duration, Stamps)>,
    to: mpsc::Sender<RuleSet>,
    metrics: KeepMetrics,
) {
    let (every, mut seen) = match watch {
        Some((every, seen)) => (Some(every), seen),
        None => (None, Vec::new()),
    };
    let watch = every;
    let mut tick = tokio::time::interval(watch.unwrap_or(Duration::from_secs(3600)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let why = tokio::select! {
            got = hangup.recv() => match got {
                Some(()) => "SIGHUP",
                None => return,
            },
            _ = tick.tick(), if watch.is_some() => {
                let now = stamps(&paths);
                if now == seen {
                    continue;
                }
                seen = now;
                "a rule file changed"
            }
        };
        // Stamps as of this load: a change during it loads again.
        if why == "SIGHUP" && watch.is_some() {
            seen = stamps(&paths);
        }
        log!(Info, "rules.reloading", {reason: why}, "reloading the rules ({why})");
        let load = paths.clone();
        let checked = tokio::task::spawn_blocking(move || crate::cli::reload_rules(&load)).await;
        match checked {
            Ok(Ok(rules)) => {
                if to.send(rules).is_err() {
                    return;
                }
            }
            Ok(Err(diagnostics)) => {
                metrics.reload_failed();
                log!(
                    Error,
                    "rules.reload_failed",
                    {diagnostics: diagnostics.as_str()},
                    "rule reload FAILED; the rules loaded before keep running:\n{diagnostics}"
                );
            }
            Err(e) => {
                metrics.reload_failed();
                log!(
                    Error,
                    "rules.reload_failed",
                    {error: e.to_string()},
                    "rule reload FAILED ({e}); the rules loaded before keep running"
                );
            }
        }
    }
}

/// Rule files with their size and modification time.
pub type Stamps = Vec<(PathBuf, Option<(u64, SystemTime)>)>;

/// The files under `paths` (directories walked), each with its size and
/// modification time, in order: what a change of the rules changes.
pub fn stamps(paths: &[PathBuf]) -> Stamps {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() != crate::cli::BUNDLED {
            walk(p, &mut out, 0);
        }
    }
    out.sort();
    out
}

fn walk(p: &Path, out: &mut Vec<(PathBuf, Option<(u64, SystemTime)>)>, depth: usize) {
    let meta = std::fs::metadata(p).ok();
    match meta {
        Some(m) if m.is_dir() && depth < 16 => {
            if let Ok(entries) = std::fs::read_dir(p) {
                for e in entries.flatten() {
                    walk(&e.path(), out, depth + 1);
                }
            }
        }
        m => out.push((
            p.to_path_buf(),
            m.and_then(|m| Some((m.len(), m.modified().ok()?))),
        )),
    }
}

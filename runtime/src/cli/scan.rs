//! `ward scan`: rules over event files, alerts out.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use std::cell::RefCell;

use super::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};
use crate::decode::{self, Format};
use crate::scan::{Output, Scan, Stats};

pub(super) struct Options {
    pub rules: Option<PathBuf>,
    pub files: Vec<PathBuf>,
    pub text: bool,
    pub output: Option<PathBuf>,
    pub input_format: Format,
    pub no_event: bool,
    pub exit_zero: bool,
    pub state: crate::state::Config,
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
    let mut scan = Scan::with_state(rules, &mut sink, output, opts.state);
    // A progress line only where a person watches (not in pipes or tests).
    scan.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let scan = RefCell::new(scan);
    let mut failed = false;
    let start = Instant::now();
    let files = if opts.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        opts.files.clone()
    };
    for file in &files {
        let name = file.display().to_string();
        let input: Box<dyn Read + '_> = if name == "-" {
            Box::new(&mut *stdin)
        } else {
            match std::fs::File::open(file) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    writeln!(err, "ward: cannot read {name}: {e}")?;
                    failed = true;
                    continue;
                }
            }
        };
        let mut counted = Counting {
            inner: input,
            bytes: 0,
        };
        // The three callbacks share the scan; they never run at once.
        let result = decode::read_with(
            &mut counted,
            opts.input_format,
            decode::Handlers {
                line: Some(&mut |text, line| scan.borrow_mut().line(&name, text, line)),
                event: &mut |ev| scan.borrow_mut().event(&name, &ev),
                problem: &mut |p| scan.borrow_mut().problem(&name, &p),
            },
        );
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
    scan.finish();
    if let Some(e) = scan.write_error.take() {
        return Err(format!("cannot write alerts: {e}").into());
    }
    if scan.progress && scan.stats.events >= 1 << 17 {
        eprint!("\r\x1b[2K");
    }
    let stats = scan.stats;
    let state = scan.engine.stats;
    sink.flush()?;
    summary(&stats, start.elapsed().as_secs_f64(), err)?;
    state_summary(&state, &opts.state, err)?;
    let alerts: u64 = stats.alerts.values().sum();
    Ok(if failed {
        EXIT_USAGE
    } else if alerts > 0 && !opts.exit_zero {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}

/// Counts the bytes read, for throughput.
struct Counting<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

fn summary(s: &Stats, secs: f64, err: &mut dyn Write) -> std::io::Result<()> {
    let per_source: Vec<String> = s
        .per_source
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let alerts: u64 = s.alerts.values().sum();
    writeln!(
        err,
        "ward scan: {} event(s) ({}), {} alert(s), {} problem line(s), {:.0} events/s, {:.1} MB/s",
        s.events,
        if per_source.is_empty() {
            "none".to_string()
        } else {
            per_source.join(", ")
        },
        alerts,
        s.problems,
        s.events as f64 / secs.max(1e-9),
        s.bytes as f64 / 1e6 / secs.max(1e-9),
    )?;
    for (rule, n) in &s.alerts {
        writeln!(err, "  {n:>8}  {rule}")?;
    }
    for p in &s.problem_samples {
        writeln!(err, "  problem: {p}")?;
    }
    if s.problems as usize > s.problem_samples.len() {
        writeln!(
            err,
            "  ... and {} more problem line(s)",
            s.problems as usize - s.problem_samples.len()
        )?;
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

//! `ward test --baseline FILE`: the alert rate of every rule on benign
//! traffic, against the false-positive budget.
//!
//! Budget (rules/README.md): a rule of severity medium or higher fires
//! less than once per million benign events, any rule less than 100 times.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::test::TestFormat;
use super::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE};
use crate::scan::{Output, Scan};

/// Alerts per million benign events a rule of `severity` may raise (less
/// than this).
pub fn budget(severity: &str) -> f64 {
    match severity {
        "medium" | "high" | "critical" => 1.0,
        _ => 100.0,
    }
}

#[derive(serde::Serialize)]
struct RuleRate<'r> {
    rule: &'r str,
    severity: &'r str,
    alerts: u64,
    per_million: f64,
    budget_per_million: f64,
    over: bool,
}

pub(super) fn run(
    paths: &[PathBuf],
    baseline: &Path,
    format: TestFormat,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    let loaded = super::load_rules(paths, false)?;
    let Some(rules) = super::runnable(&loaded, err)? else {
        return Ok(EXIT_USAGE);
    };
    let meta: Vec<(String, String, bool)> = (rules.rules.iter())
        .map(|r| (r.id.clone(), r.severity.clone(), r.active()))
        .collect();
    let input = std::fs::File::open(baseline)
        .map_err(|e| format!("cannot read {}: {e}", baseline.display()))?;
    let mut sink = std::io::sink();
    let output = Output {
        text: false,
        with_event: false,
    };
    let mut scan = Scan::new(rules, &mut sink, output);
    let name = baseline.display().to_string();
    scan.read_all(&name, input, crate::decode::Format::Auto)
        .map_err(|e| format!("{name}: {e}"))?;
    scan.finish();
    let stats = &scan.stats;
    if stats.events == 0 || stats.problems() > 0 {
        writeln!(
            err,
            "ward: {name}: {} event(s) read, {} line(s) lost: a baseline must read whole",
            stats.events,
            stats.problems()
        )?;
        return Ok(EXIT_USAGE);
    }
    let events = stats.events;
    let mut rates: Vec<RuleRate> = meta
        .iter()
        .filter(|(_, _, enabled)| *enabled)
        .map(|(id, severity, _)| {
            let alerts = stats.alerts.get(id).copied().unwrap_or(0);
            let per_million = alerts as f64 * 1e6 / events as f64;
            let budget = budget(severity);
            RuleRate {
                rule: id,
                severity,
                alerts,
                per_million,
                budget_per_million: budget,
                over: per_million >= budget,
            }
        })
        .collect();
    rates.sort_by(|a, b| {
        b.per_million
            .total_cmp(&a.per_million)
            .then(a.rule.cmp(b.rule))
    });
    let over = rates.iter().filter(|r| r.over).count();
    match format {
        TestFormat::Json => {
            let doc = serde_json::json!({"baseline": name, "events": events, "over_budget": over, "rules": rates});
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
        TestFormat::Human | TestFormat::Junit => {
            writeln!(
                out,
                "{:<44} {:<8} {:>8} {:>12}  budget",
                "rule", "severity", "alerts", "per million"
            )?;
            for r in &rates {
                writeln!(
                    out,
                    "{:<44} {:<8} {:>8} {:>12.2}  < {}{}",
                    r.rule,
                    r.severity,
                    r.alerts,
                    r.per_million,
                    r.budget_per_million,
                    if r.over { "  OVER" } else { "" }
                )?;
            }
            writeln!(
                out,
                "{events} benign event(s) from {name}; {} rule(s), {over} over budget (medium and above: < 1 per million; all: < 100 per million)",
                rates.len()
            )?;
        }
    }
    Ok(if over > 0 { EXIT_FINDINGS } else { EXIT_CLEAN })
}

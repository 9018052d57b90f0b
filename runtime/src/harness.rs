//! The golden-file harness behind `ward test`: every rule's samples run
//! through the same matcher as `ward scan`, and what the rule does on them
//! is compared with what its samples and golden file say it must do.
//!
//! Layout (spec/testing.md): next to a rule file `DIR/x.ward`, the samples
//! of rule `r` sit in `DIR/samples/r/`: files named `alert*` hold events
//! each of which must fire `r`, files named `quiet*` events none of which
//! may, in any format `ward scan` reads; `expected.jsonl` holds the exact
//! alerts of `r` over all of them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;
use ward_compiler::diagnostic::SourceMap;
use ward_compiler::lower::RuleSet;

use ward_compiler::plan::PCond;

use ward_compiler::lower::{Cond, Rule};
use ward_compiler::plan::Role;

use crate::decode::{self, Event, Format};
use crate::matcher::{Matcher, Scratch};
use crate::state::{self, Engine, Out, Window};
use crate::{alert, describe, eval};

/// The golden file of a rule's samples.
pub const GOLDEN: &str = "expected.jsonl";

/// What the harness requires of every rule.
#[derive(Clone, Copy, Debug)]
pub struct Require {
    /// At least one `alert*` sample.
    pub alert: bool,
    /// At least one `quiet*` sample.
    pub quiet: bool,
}

/// The outcome for one rule.
#[derive(Debug, Serialize)]
pub struct RuleReport {
    pub rule: String,
    pub file: String,
    pub status: Status,
    pub alert_events: usize,
    pub quiet_events: usize,
    pub failures: Vec<String>,
    /// The golden diff, `-` expected and `+` actual lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<String>,
    /// Each leaf test of the rule's `when` and `except`s, and whether some
    /// sample made it true and some false.
    pub coverage: Vec<Leaf>,
}

#[derive(Debug, Serialize)]
pub struct Leaf {
    /// `leaf` (one test), `macro` (a macro use) or `except`.
    pub kind: &'static str,
    pub test: String,
    pub made_true: bool,
    pub made_false: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Not evaluated: stateful or disabled.
    Skip,
}

/// One alert as the golden file records it: stable, without the event.
#[derive(Serialize)]
struct Golden<'a> {
    sample: &'a str,
    line: usize,
    time: &'a Value,
    output: &'a str,
    fields: &'a serde_json::Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<&'a Window>,
}

/// Runs every rule's samples. With `bless`, writes the golden files instead
/// of comparing them (never in CI).
pub fn run(sources: &SourceMap, rules: RuleSet, require: Require, bless: bool) -> Vec<RuleReport> {
    let matcher = Matcher::new(rules);
    let mut scratch = Scratch::default();
    let mut reports = Vec::new();
    let mut known_dirs = BTreeSet::new();
    for (i, rule) in matcher.rules.rules.iter().enumerate() {
        let rule_file = sources.get(rule.file).path.clone();
        let dir = samples_dir(&rule_file, &rule.id);
        known_dirs.insert(dir.clone());
        let mut report = RuleReport {
            rule: rule.id.clone(),
            file: rule_file.display().to_string(),
            status: Status::Pass,
            alert_events: 0,
            quiet_events: 0,
            failures: Vec::new(),
            diff: Vec::new(),
            coverage: Vec::new(),
        };
        let mut leaves = Vec::new();
        for planned in matcher.plan.rules.iter().filter(|p| p.rule == i) {
            for c in std::iter::once(&planned.when).chain(&planned.excepts) {
                leaf_ids(c, &mut leaves);
            }
        }
        // Each leaf test, then each macro use and each `except` as a whole.
        let mut probes: Vec<(&str, String, Probe)> = leaves
            .iter()
            .map(|&l| {
                (
                    "leaf",
                    describe::leaf(&matcher.plan.leaves[l]),
                    Probe::Leaf(l),
                )
            })
            .collect();
        probes.extend(
            rule.macros
                .iter()
                .map(|(name, body)| ("macro", format!("macro {name}"), Probe::Cond(body))),
        );
        probes.extend(rule.excepts.iter().map(|e| {
            (
                "except",
                format!("except {}", describe::leaf(e)),
                Probe::Cond(e),
            )
        }));
        report.coverage = probes
            .iter()
            .map(|(kind, test, _)| Leaf {
                kind,
                test: test.clone(),
                made_true: false,
                made_false: false,
            })
            .collect();
        let probes: Vec<Probe> = probes.into_iter().map(|(_, _, p)| p).collect();
        if !rule.enabled {
            report.status = Status::Skip;
            report.failures.push("disabled".to_string());
            reports.push(report);
            continue;
        }
        if !rule.unfilled.is_empty() {
            report.status = Status::Skip;
            report.failures.push(format!(
                "inactive until filled: {} (load a file that extends it to test the rule)",
                rule.unfilled.join(", ")
            ));
            reports.push(report);
            continue;
        }
        let files = sample_files(&dir);
        let mut actual = Vec::new();
        for (name, path, must_fire) in &files {
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) => {
                    report.failures.push(format!("{name}: cannot read: {e}"));
                    continue;
                }
            };
            let mut events = Vec::new();
            let mut problems = Vec::new();
            let opts = decode::Options {
                source: sample_source(name),
                ..Format::Auto.into()
            };
            if let Err(e) = decode::read(&bytes[..], opts, &mut |ev| events.push(ev), &mut |p| {
                problems.push(p)
            }) {
                report.failures.push(format!("{name}: {e}"));
            }
            for p in problems {
                report.failures.push(format!("{name}:{p}"));
            }
            for ev in &events {
                cover(&matcher, rule, &probes, ev, &mut report);
            }
            if rule.stateful.is_some() {
                stream(
                    &matcher,
                    i,
                    name,
                    *must_fire,
                    &events,
                    &mut report,
                    &mut actual,
                );
                continue;
            }
            for ev in &events {
                matcher.matching(ev.source, &ev.value, &mut scratch);
                let fired = scratch.candidates.contains(&i);
                if *must_fire {
                    report.alert_events += 1;
                } else {
                    report.quiet_events += 1;
                }
                match (must_fire, fired) {
                    (true, false) => report
                        .failures
                        .push(format!("{name}:{}: must alert, did not", ev.line)),
                    (false, true) => report
                        .failures
                        .push(format!("{name}:{}: must not alert, did", ev.line)),
                    _ => {}
                }
                if fired {
                    let time_path = crate::scan::time_paths(ev.source);
                    let a = alert::build(rule, ev, time_path, name, false);
                    let g = Golden {
                        sample: name,
                        line: ev.line,
                        time: &a.time,
                        output: &a.output,
                        fields: &a.fields,
                        window: None,
                    };
                    actual.push(serde_json::to_string(&g).unwrap_or_default());
                }
            }
        }
        if files.is_empty() {
            if require.alert || require.quiet {
                report.failures.push(format!(
                    "no samples: add {}/alert.jsonl and quiet.jsonl",
                    dir.display()
                ));
            }
        } else {
            if require.alert && report.alert_events == 0 {
                report
                    .failures
                    .push("no event that must alert (an alert* sample)".into());
            }
            if require.quiet && report.quiet_events == 0 {
                report
                    .failures
                    .push("no near miss that must not alert (a quiet* sample)".into());
            }
        }
        golden(&dir, &actual, bless, !files.is_empty(), &mut report);
        if !report.failures.is_empty() || !report.diff.is_empty() {
            report.status = Status::Fail;
        }
        reports.push(report);
    }
    for stale in stale_dirs(&known_dirs, sources) {
        reports.push(RuleReport {
            rule: stale
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            file: stale.display().to_string(),
            status: Status::Fail,
            alert_events: 0,
            quiet_events: 0,
            failures: vec!["samples for a rule that does not exist (renamed or deleted?)".into()],
            diff: Vec::new(),
            coverage: Vec::new(),
        });
    }
    reports
}

/// Records which leaves of `rule` the event made true and false.
/// What coverage watches: a shared leaf of the plan, or a whole condition
/// (a macro's body, an `except`).
enum Probe<'a> {
    Leaf(usize),
    Cond(&'a Cond),
}

/// Records which probes of `rule` the event made true and false.
fn cover(matcher: &Matcher, rule: &Rule, probes: &[Probe], ev: &Event, report: &mut RuleReport) {
    if ev.source != rule.source {
        return;
    }
    for (k, probe) in probes.iter().enumerate() {
        let c = match probe {
            Probe::Leaf(l) => &matcher.plan.leaves[*l],
            Probe::Cond(c) => c,
        };
        let v = eval::eval(c, &ev.value, &mut Vec::new());
        let c = &mut report.coverage[k];
        c.made_true |= v;
        c.made_false |= !v;
    }
}

/// A stateful rule over one sample file, as one ordered stream: an
/// `alert*` file must make the rule fire at least once, a `quiet*` file
/// never.
fn stream(
    matcher: &Matcher,
    rule: usize,
    name: &str,
    must_fire: bool,
    events: &[Event],
    report: &mut RuleReport,
    actual: &mut Vec<String>,
) {
    let mut engine = Engine::new(&matcher.rules, state::Config::default());
    let mut scratch = Scratch::default();
    let mut outs = Vec::new();
    let file: std::sync::Arc<str> = std::sync::Arc::from(name);
    for ev in events {
        matcher.matching(ev.source, &ev.value, &mut scratch);
        let units: Vec<(usize, Role)> = scratch
            .candidates
            .iter()
            .map(|&u| &matcher.plan.rules[u])
            .filter(|p| p.rule == rule)
            .map(|p| (p.rule, p.role))
            .collect();
        let time = state::Stamp::of(matcher.time_of(ev.source, &ev.value));
        engine.advance(time.ns, &mut outs);
        if !units.is_empty() {
            let a = engine.arrival(
                ev.source,
                ev.line,
                &ev.value,
                time,
                &units,
                state::Payload::Event(ev.clone()),
            );
            engine.offer(&file, a, &mut outs);
        }
    }
    engine.finish(&mut outs);
    if must_fire {
        report.alert_events += events.len();
    } else {
        report.quiet_events += events.len();
    }
    let mut fired = 0;
    for o in &outs {
        let Out::Alert {
            trigger, window, ..
        } = o
        else {
            continue;
        };
        fired += 1;
        if !must_fire {
            report
                .failures
                .push(format!("{name}:{}: must not alert, did", trigger.line));
        }
        let Some(event) = trigger.event() else {
            continue;
        };
        let time_path = crate::scan::time_paths(event.source);
        let r = matcher.rule(rule);
        let a = alert::build(r, &event, time_path, name, false);
        let mut window = window.clone();
        window.key = state::key_map(&event.value, r);
        let g = Golden {
            sample: name,
            line: trigger.line,
            time: &a.time,
            output: &a.output,
            fields: &a.fields,
            window: Some(&window),
        };
        actual.push(serde_json::to_string(&g).unwrap_or_default());
    }
    if must_fire && fired == 0 {
        report
            .failures
            .push(format!("{name}: must alert (as a stream), did not"));
    }
}

/// The distinct leaves of a planned condition, in order.
fn leaf_ids(c: &PCond, out: &mut Vec<usize>) {
    match c {
        PCond::Leaf(i) if !out.contains(i) => out.push(*i),
        PCond::And(v) | PCond::Or(v) => v.iter().for_each(|x| leaf_ids(x, out)),
        PCond::Not(x) => leaf_ids(x, out),
        _ => {}
    }
}

/// `DIR/samples/RULE` for a rule written in `DIR/x.ward`.
pub fn samples_dir(rule_file: &Path, rule: &str) -> PathBuf {
    rule_file
        .parent()
        .unwrap_or(Path::new("."))
        .join("samples")
        .join(rule)
}

/// Whether rule `rule` of `rule_file` has samples, for the `missing-samples`
/// lint: `None` when the file's directory has no `samples/` at all (a rule
/// set that does not use the layout), else whether the rule's own directory
/// holds at least one `alert*` or `quiet*` file.
pub fn has_samples(rule_file: &Path, rule: &str) -> Option<bool> {
    let root = samples_dir(rule_file, rule);
    if !root.parent().is_some_and(Path::is_dir) {
        return None;
    }
    Some(!sample_files(&root).is_empty())
}

/// The sample files of a rule: (name, path, must fire), in name order.
fn sample_files(dir: &Path) -> Vec<(String, PathBuf, bool)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, PathBuf, bool)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let must = if name.starts_with("alert") {
                true
            } else if name.starts_with("quiet") {
                false
            } else {
                return None;
            };
            Some((name, e.path(), must))
        })
        .collect();
    out.sort();
    out
}

/// Compares (or with `bless`, writes) the golden file.
/// The source a sample's file name forces on its events, as `--source`
/// does: `alert-siem.k8s.audit.jsonl` holds k8s.audit events whatever
/// their shape.
fn sample_source(name: &str) -> Option<&'static str> {
    let mut parts = name.split('.');
    parts.next();
    let inner: Vec<&str> = parts.collect();
    // Every run of the name's inner parts, as `a.b` of `x.a.b.jsonl`.
    let last = inner.len().saturating_sub(1);
    (0..last)
        .find_map(|i| (i + 1..=last).find_map(|j| decode::source_named(&inner[i..j].join("."))))
}

fn golden(dir: &Path, actual: &[String], bless: bool, has_samples: bool, report: &mut RuleReport) {
    let path = dir.join(GOLDEN);
    if bless {
        if has_samples {
            let mut text = actual.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            if let Err(e) = std::fs::write(&path, text) {
                report
                    .failures
                    .push(format!("cannot write {}: {e}", path.display()));
            }
        }
        return;
    }
    let expected = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) if !has_samples => return,
        Err(_) => {
            report.failures.push(format!(
                "no golden file {}: review the alerts, then run `ward test --bless`",
                path.display()
            ));
            return;
        }
    };
    let expected: Vec<&str> = expected.lines().filter(|l| !l.trim().is_empty()).collect();
    if expected.len() != actual.len() || expected.iter().zip(actual).any(|(e, a)| !same_json(e, a))
    {
        report
            .failures
            .push(format!("alerts differ from {}", path.display()));
        report.diff = diff(&expected, actual);
    }
}

/// Equal as JSON (so key order and spacing in a hand-edited golden do not matter).
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// A line diff: common lines unmarked, `-` only expected, `+` only actual.
fn diff(expected: &[&str], actual: &[String]) -> Vec<String> {
    // Longest common subsequence; goldens are small.
    let (n, m) = (expected.len(), actual.len());
    let mut l = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            l[i][j] = if same_json(expected[i], &actual[j]) {
                l[i + 1][j + 1] + 1
            } else {
                l[i + 1][j].max(l[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && same_json(expected[i], &actual[j]) {
            out.push(format!("  {}", expected[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || l[i][j + 1] >= l[i + 1][j]) {
            out.push(format!("+ {}", actual[j]));
            j += 1;
        } else {
            out.push(format!("- {}", expected[i]));
            i += 1;
        }
    }
    out
}

/// Sample directories next to the checked rule files that no rule owns.
fn stale_dirs(known: &BTreeSet<PathBuf>, sources: &SourceMap) -> Vec<PathBuf> {
    let mut roots = BTreeSet::new();
    for i in 0..sources.len() {
        let p = &sources.get(ward_compiler::diagnostic::FileId(i)).path;
        roots.insert(p.parent().unwrap_or(Path::new(".")).join("samples"));
    }
    let mut out = Vec::new();
    for root in roots {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        out.extend(dirs.into_iter().filter(|d| !known.contains(d)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_name_may_force_its_source() {
        assert_eq!(
            sample_source("alert-siem.k8s.audit.jsonl"),
            Some("k8s.audit")
        );
        assert_eq!(
            sample_source("quiet.aws.cloudtrail.json.gz"),
            Some("aws.cloudtrail")
        );
        assert_eq!(
            sample_source("alert.calico.flow.jsonl"),
            Some("calico.flow")
        );
        assert_eq!(sample_source("alert-k8s.audit.jsonl"), None);
        assert_eq!(sample_source("alert.jsonl"), None);
        assert_eq!(sample_source("alert.k8s.jsonl"), None);
    }

    #[test]
    fn diff_marks_changes() {
        let d = diff(
            &["{\"a\":1}", "{\"b\":2}"],
            &["{\"a\": 1}".to_string(), "{\"c\":3}".to_string()],
        );
        assert_eq!(d, ["  {\"a\":1}", "+ {\"c\":3}", "- {\"b\":2}"]);
    }
}

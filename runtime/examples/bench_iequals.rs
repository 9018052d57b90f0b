//! Case-insensitive equality against exact equality, in one run.
//!
//! `cargo run --release -p ward --example bench_iequals [EVENTS] [RULES]`
//! (defaults: 200,000 events, 200 rules) generates Kubernetes audit events
//! (Ward's benchmark corpus, every 40th event rewritten to fire one of the
//! generated rules) and the same rule set twice, from six templates of
//! distinct literals (equality, lists, `>=`, prefix, substring in a list of
//! containers, regex, CIDR over a list, as runtime/bench-sigma has them):
//! once with `==` and `in`, once with `iequals` wherever the first has
//! `==` or `in` on a string (as `ward import sigma` writes Sigma's
//! case-insensitive values). Then, best of 3 each (the two sets taking
//! turns):
//! - the floor: serde_json validating each line (`IgnoredAny`);
//! - the scan engine (line splitting, extraction, dispatch, matching,
//!   alert lines rendered without the event) with each set;
//!
//! and prints events/s, the ratio to the floor, and how much slower the
//! `iequals` set is. The corpus is lower-case, so both sets fire the same
//! alerts: the run fails if they do not. `BENCH_PROFILE=iequals` (or
//! `exact`) only scans with that set, five times, to profile it.

use std::time::Instant;

use serde::de::IgnoredAny;
use ward_compiler::{check, load, lower, schema};
use ward_runtime::decode::{self, Format, Handlers};
use ward_runtime::scan::{Output, Scan};

#[path = "../bench-sigma/src/templates.rs"]
#[allow(dead_code)] // its Sigma detections
mod templates;
use templates::{best, corpus, fill, EXACT, FOLDED, TEMPLATES};

fn rules(n: usize, ci: bool) -> String {
    let ops = if ci { FOLDED } else { EXACT };
    let mut s = String::from("source k8s.audit\n");
    for i in 0..n {
        let when = fill(TEMPLATES[i % TEMPLATES.len()].ward, i, ops);
        s += &format!("rule generated_{i} {{\n  severity medium\n  when {when}\n}}\n");
    }
    s
}

/// One timed run.
fn best1<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

fn lowered(text: &str) -> Result<ward_compiler::lower::RuleSet, String> {
    let loaded = load::load_texts(&[("generated.ward", text)]);
    let report = check(&loaded, schema::bundled());
    if report.errors() > 0 {
        return Err(format!("{:#?}", report.diagnostics));
    }
    Ok(lower::lower(&loaded))
}

/// Scans `bytes`; returns the alert lines.
fn scan(set: ward_compiler::lower::RuleSet, bytes: &[u8]) -> Vec<u8> {
    let mut sink = Vec::new();
    let out = Output {
        text: false,
        with_event: false,
    };
    let mut scan = Scan::new(set, &mut sink, out);
    {
        let cell = std::cell::RefCell::new(&mut scan);
        let _ = decode::read_with(
            bytes,
            Format::JsonLines,
            Handlers {
                line: Some(&mut |t, n| cell.borrow_mut().line("bench", t, n)),
                record: None,
                event: &mut |ev| cell.borrow_mut().event("bench", &ev),
                problem: &mut |p| cell.borrow_mut().problem("bench", &p),
            },
        );
    }
    scan.finish();
    drop(scan);
    sink
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let bytes = corpus(events, n.max(1));
    let mb = bytes.len() as f64 / 1e6;
    let (exact, folded) = (lowered(&rules(n, false))?, lowered(&rules(n, true))?);
    if let Ok(which) = std::env::var("BENCH_PROFILE") {
        let set = if which == "exact" { exact } else { folded };
        for _ in 0..5 {
            std::hint::black_box(scan(set.clone(), &bytes));
        }
        return Ok(());
    }
    let (floor_s, ()) = best(|| {
        for l in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let _: IgnoredAny = serde_json::from_slice(l).unwrap_or(IgnoredAny);
        }
    });
    // The two sets take turns, so that a change in the machine's load
    // (or the heap's state) between runs favours neither.
    let (mut exact_s, mut folded_s) = (f64::INFINITY, f64::INFINITY);
    let (mut exact_alerts, mut folded_alerts) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (s, a) = best1(|| scan(exact.clone(), &bytes));
        (exact_s, exact_alerts) = (exact_s.min(s), a);
        let (s, a) = best1(|| scan(folded.clone(), &bytes));
        (folded_s, folded_alerts) = (folded_s.min(s), a);
    }
    let per = |s: f64| events as f64 / s;
    println!("{n} rules, {events} events, {mb:.1} MB");
    println!(
        "  {:<34} {:>10.0} events/s",
        "floor: serde_json IgnoredAny",
        per(floor_s)
    );
    for (label, s) in [("== and in", exact_s), ("iequals", folded_s)] {
        println!(
            "  {label:<34} {:>10.0} events/s  {:.2} of floor",
            per(s),
            floor_s / s
        );
    }
    println!(
        "  iequals takes x{:.2} the time of == and in",
        folded_s / exact_s
    );
    let count = |a: &[u8]| a.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    println!(
        "  alerts: == and in {}, iequals {}",
        count(&exact_alerts),
        count(&folded_alerts)
    );
    if exact_alerts != folded_alerts {
        return Err("the two sets fired different alerts".into());
    }
    Ok(())
}

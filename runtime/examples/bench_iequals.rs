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
use serde_json::{json, Value};
use ward_compiler::{check, load, lower, schema};
use ward_runtime::decode::{self, Format, Handlers};
use ward_runtime::scan::{Output, Scan};

/// One detection with `{i}` for the rule's number and `{eq}`/`{in}` for
/// the equality and membership operators, and how to make an event fire
/// it.
struct Template {
    ward: &'static str,
    fire: fn(&mut Value, usize),
}

const TEMPLATES: &[Template] = &[
    Template {
        ward: r#"verb {eq} "create" and objectRef.resource {eq} "pods" and user.username {eq} "user{i}@example.com""#,
        fire: |e, i| {
            e["verb"] = json!("create");
            e["objectRef"]["resource"] = json!("pods");
            e["user"]["username"] = json!(format!("user{i}@example.com"));
        },
    },
    Template {
        ward: r#"objectRef.resource {eq} "secrets" and verb {in} ["get", "list"] and objectRef.namespace {eq} "ns-{i}""#,
        fire: |e, i| {
            e["verb"] = json!("list");
            e["objectRef"]["resource"] = json!("secrets");
            e["objectRef"]["namespace"] = json!(format!("ns-{i}"));
        },
    },
    Template {
        ward: r#"responseStatus.code >= 500 and userAgent startswith "client-{i}/""#,
        fire: |e, i| {
            e["responseStatus"]["code"] = json!(503);
            e["userAgent"] = json!(format!("client-{i}/1.2.3 (linux/amd64)"));
        },
    },
    Template {
        ward: r#"verb {eq} "create" and any c in requestObject.spec.containers: c.image contains "miner{i}""#,
        fire: |e, i| {
            e["verb"] = json!("create");
            e["requestObject"] = json!({"spec": {"containers": [
                {"name": "app", "image": "nginx:1.25"},
                {"name": "side", "image": format!("docker.io/evil/miner{i}:latest")}
            ]}});
        },
    },
    Template {
        ward: r#"objectRef.resource {eq} "configmaps" and verb {eq} "delete" and objectRef.name matches r"^app-{i}-[a-z0-9]+$""#,
        fire: |e, i| {
            e["verb"] = json!("delete");
            e["objectRef"]["resource"] = json!("configmaps");
            e["objectRef"]["name"] = json!(format!("app-{i}-x7k2p"));
        },
    },
    Template {
        ward: r#"verb {eq} "delete" and any ip in sourceIPs: ip in cidr ["10.{a}.{b}.0/24"]"#,
        fire: |e, i| {
            e["verb"] = json!("delete");
            e["sourceIPs"] = json!([format!("10.{}.{}.17", 100 + i / 256, i % 256)]);
        },
    },
];

fn rules(n: usize, ci: bool) -> String {
    let (eq, within) = match ci {
        true => ("iequals", "iequals"),
        false => ("==", "in"),
    };
    let mut s = String::from("source k8s.audit\n");
    for i in 0..n {
        let t = &TEMPLATES[i % TEMPLATES.len()];
        let when = t
            .ward
            .replace("{i}", &i.to_string())
            .replace("{a}", &(100 + i / 256).to_string())
            .replace("{b}", &(i % 256).to_string())
            .replace("{eq}", eq)
            .replace("{in}", within);
        s += &format!("rule generated_{i} {{\n  severity medium\n  when {when}\n}}\n");
    }
    s
}

/// The corpus: every 40th event rewritten to fire rule `(k / 40) % rules`.
fn corpus(events: usize, rules: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (k, line) in ward_runtime::corpus::k8s_events(events, 1)
        .into_iter()
        .enumerate()
    {
        if k % 40 == 0 {
            if let Ok(mut v) = serde_json::from_str::<Value>(&line) {
                let i = (k / 40) % rules;
                (TEMPLATES[i % TEMPLATES.len()].fire)(&mut v, i);
                bytes.extend_from_slice(v.to_string().as_bytes());
                bytes.push(b'\n');
                continue;
            }
        }
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

fn best<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = None;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("three runs"))
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

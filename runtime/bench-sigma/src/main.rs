//! Ward against a published Sigma engine, side by side on one core.
//!
//! `cd runtime/bench-sigma && cargo run --release [EVENTS] [RULES...]`
//! (defaults: 200,000 events; 20, 200 and 2,000 rules) generates
//! Kubernetes audit events (Ward's benchmark corpus, with every 40th event
//! rewritten to fire one of the generated rules) and, per rule-set size,
//! the same detections twice: as Ward rules and as Sigma rules (six
//! templates of distinct literals: equality, lists, `>=`, prefix,
//! substring in a list of containers, regex, CIDR over a list). Then, in
//! one run, best of 3:
//! - the floor: serde_json validating each line (`IgnoredAny`);
//! - Ward: the scan engine over the buffer (line splitting, extraction,
//!   dispatch, matching, alert lines rendered without the event);
//! - rsigma-eval: each line parsed into a `serde_json::Value`, then
//!   `Engine::evaluate`;
//!
//! and prints events/s, the ratio to the floor, Ward's speed-up, the
//! start-up of each (Ward: load, check, lower, plan; rsigma: parse the
//! YAML, add the collection), and compares the verdicts rule by rule and
//! event by event: any difference is printed and fails the run.
//! `BENCH_DUMP=FILE cargo run --release EVENTS N` writes instead the
//! corpus and the N Ward rules (`FILE.ward`), to profile `ward scan`.
//!
//! Sigma's string equality is case-insensitive and Ward's `==` is not; the
//! corpus and the literals are lower-case, so the verdicts are the same.

use std::collections::BTreeSet;

use serde::de::IgnoredAny;
use serde_json::Value;
use ward_compiler::{check, load, lower, schema};
use ward_runtime::decode::{self, Format, Handlers};
use ward_runtime::scan::{Output, Scan};

mod templates;
use templates::{best, corpus, fill, EXACT, TEMPLATES};

fn ward_rules(n: usize) -> String {
    let mut s = String::from("source k8s.audit\n");
    for i in 0..n {
        let t = &TEMPLATES[i % TEMPLATES.len()];
        s += &format!(
            "rule generated_{i} {{\n  severity medium\n  when {}\n}}\n",
            fill(t.ward, i, EXACT)
        );
    }
    s
}

fn sigma_rules(n: usize) -> String {
    let docs: Vec<String> = (0..n)
        .map(|i| {
            let t = &TEMPLATES[i % TEMPLATES.len()];
            format!(
                "title: generated_{i}\nlogsource:\n  product: kubernetes\n  service: audit\n\
                 detection:\n  sel:\n{}\n  condition: sel\nlevel: medium\n",
                fill(t.sigma, i, EXACT)
            )
        })
        .collect();
    docs.join("---\n")
}

/// The non-empty lines of `bytes`, numbered from 1, found as `ward scan`
/// finds them (memchr): a split that tests byte by byte costs about half
/// a floor more per event, which made the floor slower and every ratio to
/// it look better than `bench_scan`'s.
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut rest = bytes;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        rest = rest.get(end + 1..).unwrap_or(&[]);
        if !line.is_empty() {
            return Some(line);
        }
    })
    .enumerate()
    .map(|(i, l)| (i + 1, l))
}

/// (rule, line) of every verdict.
type Verdicts = BTreeSet<(String, usize)>;

fn ward_start(text: &str) -> ward_compiler::lower::RuleSet {
    let loaded = load::load_texts(&[("generated.ward", text)]);
    let report = check(&loaded, schema::bundled());
    assert_eq!(report.errors(), 0, "{:#?}", report.diagnostics);
    lower::lower(&loaded)
}

fn ward_run(set: ward_compiler::lower::RuleSet, bytes: &[u8]) -> Verdicts {
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
    sink.split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .filter_map(|a| {
            Some((
                a["rule"].as_str()?.to_string(),
                a["input"]["line"].as_u64()? as usize,
            ))
        })
        .collect()
}

fn sigma_start(yaml: &str) -> rsigma_eval::Engine {
    let collection = rsigma_parser::parse_sigma_yaml(yaml).expect("Sigma YAML");
    assert!(collection.errors.is_empty(), "{:?}", collection.errors);
    let mut engine = rsigma_eval::Engine::new();
    engine.add_collection(&collection).expect("rules compile");
    engine
}

fn sigma_run(engine: &rsigma_eval::Engine, bytes: &[u8]) -> Verdicts {
    let mut verdicts = Verdicts::new();
    for (n, line) in lines(bytes) {
        let Ok(v) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let event = rsigma_eval::JsonEvent::borrow(&v);
        for m in engine.evaluate(&event) {
            verdicts.insert((m.header.rule_title.clone(), n));
        }
    }
    verdicts
}

fn main() {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let mut sizes: Vec<usize> = args.filter_map(|a| a.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![20, 200, 2000];
    }
    let mut failed = false;
    for &n in &sizes {
        let bytes = corpus(events, n);
        // `BENCH_DUMP=FILE`: the corpus to FILE and the Ward rules to
        // FILE.ward, to profile `ward scan --rules FILE.ward FILE` itself.
        if let Some(dump) = std::env::var_os("BENCH_DUMP") {
            let dump = std::path::PathBuf::from(dump);
            std::fs::write(&dump, &bytes).expect("write the corpus");
            let mut rules = dump.into_os_string();
            rules.push(".ward");
            std::fs::write(rules, ward_rules(n)).expect("write the rules");
            return;
        }
        let mb = bytes.len() as f64 / 1e6;
        let (floor_s, ()) = best(|| {
            for (_, l) in lines(&bytes) {
                let _: IgnoredAny = serde_json::from_slice(l).unwrap_or(IgnoredAny);
            }
        });
        let (wtext, stext) = (ward_rules(n), sigma_rules(n));
        let (ward_start_s, set) = best(|| ward_start(&wtext));
        let (sigma_start_s, engine) = best(|| sigma_start(&stext));
        let (ward_s, ward_v) = best(|| ward_run(set.clone(), &bytes));
        let (sigma_s, sigma_v) = best(|| sigma_run(&engine, &bytes));
        let per = |s: f64| events as f64 / s;
        println!("\n{n} rules, {events} events, {mb:.1} MB");
        println!(
            "  {:<34} {:>10.0} events/s",
            "floor: serde_json IgnoredAny",
            per(floor_s)
        );
        println!(
            "  {:<34} {:>10.0} events/s  {:.2} of floor  start-up {:.1} ms",
            "ward",
            per(ward_s),
            floor_s / ward_s,
            ward_start_s * 1e3
        );
        println!(
            "  {:<34} {:>10.0} events/s  {:.2} of floor  start-up {:.1} ms",
            "rsigma-eval 0.23 (parse + evaluate)",
            per(sigma_s),
            floor_s / sigma_s,
            sigma_start_s * 1e3
        );
        println!("  ward speed-up: x{:.2}", sigma_s / ward_s);
        let fired: BTreeSet<&str> = ward_v.iter().map(|(r, _)| r.as_str()).collect();
        println!(
            "  verdicts: ward {}, rsigma {}, rules fired {} of {n}",
            ward_v.len(),
            sigma_v.len(),
            fired.len()
        );
        let only_ward: Vec<_> = ward_v.difference(&sigma_v).take(5).collect();
        let only_sigma: Vec<_> = sigma_v.difference(&ward_v).take(5).collect();
        if !only_ward.is_empty() || !only_sigma.is_empty() {
            failed = true;
            println!("  DIFFERENT verdicts: only ward {only_ward:?}, only rsigma {only_sigma:?}");
        }
    }
    if failed {
        std::process::exit(1);
    }
}

//! Start-up of a scan, stage by stage: load (parse), check, lower, plan
//! (the matcher with its automata and dispatch tables).
//!
//! `cargo run --release -p ward --example bench_startup [RULES] [FILE]`
//! (default: 2,000 rules of distinct literals, the templates of
//! runtime/bench-sigma; or the rules of FILE) prints the best of 5 of each
//! stage and their sum.

use std::time::Instant;

use ward_compiler::{check, load, lower, schema};

const TEMPLATES: &[&str] = &[
    r#"verb == "create" and objectRef.resource == "pods" and user.username == "user{i}@example.com""#,
    r#"objectRef.resource == "secrets" and verb in ["get", "list"] and objectRef.namespace == "ns-{i}""#,
    r#"responseStatus.code >= 500 and userAgent startswith "client-{i}/""#,
    r#"verb == "create" and any c in requestObject.spec.containers: c.image contains "miner{i}""#,
    r#"objectRef.resource == "configmaps" and verb == "delete" and objectRef.name matches r"^app-{i}-[a-z0-9]+$""#,
    r#"verb == "delete" and any ip in sourceIPs: ip in cidr ["10.{a}.{b}.0/24"]"#,
];

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let text = match args.next() {
        Some(f) => std::fs::read_to_string(f).expect("rules file"),
        None => {
            let mut s = String::from("source k8s.audit\n");
            for i in 0..n {
                let t = TEMPLATES[i % TEMPLATES.len()]
                    .replace("{i}", &i.to_string())
                    .replace("{a}", &(100 + i / 256).to_string())
                    .replace("{b}", &(i % 256).to_string());
                s += &format!("rule generated_{i} {{\n  severity medium\n  when {t}\n}}\n");
            }
            s
        }
    };
    let mut best = [f64::INFINITY; 4];
    for _ in 0..5 {
        let t = Instant::now();
        let loaded = load::load_texts(&[("rules.ward", &text)]);
        let t1 = t.elapsed().as_secs_f64();
        let report = check(&loaded, schema::bundled());
        assert_eq!(report.errors(), 0, "{:#?}", report.diagnostics);
        let t2 = t.elapsed().as_secs_f64();
        let set = lower::lower(&loaded);
        let t3 = t.elapsed().as_secs_f64();
        let m = ward_runtime::matcher::Matcher::new(set);
        let t4 = t.elapsed().as_secs_f64();
        std::hint::black_box(&m);
        for (b, v) in best.iter_mut().zip([t1, t2 - t1, t3 - t2, t4 - t3]) {
            *b = b.min(v);
        }
    }
    let names = ["load (parse)", "check", "lower", "plan (matcher)"];
    for (name, s) in names.iter().zip(best) {
        println!("{name:<16} {:>8.1} ms", s * 1e3);
    }
    println!("{:<16} {:>8.1} ms", "total", best.iter().sum::<f64>() * 1e3);
}

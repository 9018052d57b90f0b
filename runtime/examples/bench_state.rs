//! Memory of the stateful operators on a high-cardinality stream.
//!
//! `cargo run --release -p ward --example bench_state [EVENTS] [USERS] [MAX_KEYS] [LATENESS_S]`
//! (defaults: 10,000,000 events, 1,000,000 distinct users, the default cap
//! and lateness) streams refused (403) Kubernetes audit events, one per
//! millisecond of event time, users cycling through USERS, through `ward
//! scan`'s engine with a brute-force count and a two-step sequence keyed by
//! user. Every 10% of the stream it prints the resident memory (VmRSS and
//! VmHWM from /proc/self/status), the peak of live keys, the evictions and
//! the throughput. Events are generated one at a time, so the stream itself
//! takes no memory; every event matches both rules (the worst case for the
//! reorder buffer, which holds `lateness` worth of matching events).

use std::io::Write as _;
use std::time::Instant;

use ward_compiler::{check, load, lower, schema};
use ward_runtime::scan::{Output, Scan};
use ward_runtime::state;

const RULES: &str = r#"source k8s.audit
rule brute_force {
  severity medium
  when     responseStatus.code in [401, 403]
  count    by user.username, sourceIPs[0] within 5m > 5
}
rule refused_then_secret {
  severity high
  sequence by user.username within 10m {
    refused: responseStatus.code == 403
    read:    verb == "get" and objectRef.resource == "secrets" and responseStatus.code == 200
  }
}
"#;

fn status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .map(|l| l[key.len()..].trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

fn main() -> Result<(), String> {
    let arg = |i: usize, d: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let events = arg(1, 10_000_000);
    let users = arg(2, 1_000_000).max(1);
    let max_keys = arg(3, state::DEFAULT_MAX_KEYS);
    let loaded = load::load_texts(&[("bench.ward", RULES)]);
    if check(&loaded, schema::bundled()).errors() > 0 {
        return Err("bench rules do not check".into());
    }
    let mut sink = std::io::sink();
    let lateness_s = arg(4, (state::DEFAULT_LATENESS_NS / 1_000_000_000) as usize);
    let cfg = state::Config {
        max_keys,
        lateness_ns: lateness_s as i64 * 1_000_000_000,
        ..state::Config::default()
    };
    let mut scan = Scan::with_state(
        lower::lower(&loaded),
        &mut sink,
        Output {
            text: false,
            with_event: false,
        },
        cfg,
    );
    println!(
        "{events} events, {users} distinct users, cap {max_keys} keys per rule, lateness {lateness_s} s; start: VmRSS {}",
        status("VmRSS:")
    );
    let start = Instant::now();
    let base: i64 = 1_714_557_600_000; // 2024-05-01T10:00:00Z, ms
    let mut line = Vec::with_capacity(1024);
    for i in 0..events {
        let ms = base + i as i64;
        let t = state::rfc3339(ms * 1_000_000);
        let user = i % users;
        line.clear();
        let _ = write!(
            line,
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{i:032x}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns-{ns}/secrets","verb":"list","user":{{"username":"user-{user}@example.com","groups":["system:authenticated"]}},"sourceIPs":["10.{a}.{b}.{c}"],"userAgent":"kubectl/v1.29.0 (linux/amd64) kubernetes/3f7a50f","objectRef":{{"resource":"secrets","namespace":"ns-{ns}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"status":"Failure","reason":"Forbidden","code":403}},"requestReceivedTimestamp":"{t}","stageTimestamp":"{t}","annotations":{{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":""}}}}"#,
            ns = user % 50,
            a = user >> 16 & 255,
            b = user >> 8 & 255,
            c = user & 255,
        );
        if !scan.line("bench", &line, i + 1) {
            return Err(format!("line {} was not taken by the fast path", i + 1));
        }
        if (i + 1) % (events / 10).max(1) == 0 {
            let live: usize = scan.engine.stats.peak_keys;
            println!(
                "  {:>10} events  VmRSS {:>10}  VmHWM {:>10}  peak live keys {live:>8}  evicted {:>8}  alerts {:>7}  {:.0} events/s",
                i + 1,
                status("VmRSS:"),
                status("VmHWM:"),
                scan.engine.stats.evicted.values().sum::<u64>(),
                scan.stats.alerts.values().sum::<u64>(),
                (i + 1) as f64 / start.elapsed().as_secs_f64()
            );
        }
    }
    scan.finish();
    println!(
        "done in {:.1} s; late {}, evicted {:?}",
        start.elapsed().as_secs_f64(),
        scan.engine.stats.late,
        scan.engine.stats.evicted
    );
    Ok(())
}

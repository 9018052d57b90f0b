//! Throughput of `ward scan` against the floor of parsing the same bytes.
//!
//! `cargo run --release -p ward --example bench_scan [EVENTS]` generates
//! EVENTS (default 100,000) realistic Kubernetes audit events (~1.8 KB, pod
//! specs, varied verbs, resources and users) as JSON lines, then in one run:
//! - the floor: serde_json validating each line (`IgnoredAny`) of the very
//!   buffer the scan reads, split at newlines as the scan splits it (this
//!   runs about 15% faster than parsing the same lines held as separate
//!   `String`s, the floor used before: a stricter yardstick);
//! - `ward scan`'s engine (line splitting, extraction, dispatch, matching,
//!   alert rendering into a sink) with the bundled rules, and with 20, 200
//!   and 2,000 rules (the bundled ones plus generated variants);
//!
//! and prints events/s, MB/s and the ratio to the floor. Single-threaded.
//! Then a CloudTrail corpus with four CloudTrail rules of its own.
//! `BENCH_ONLY=200` runs one rule-set size; `BENCH_DUMP=FILE` only writes
//! the k8s corpus (to profile `ward scan FILE`; with `BENCH_ONLY=N` also
//! the N generated rules, to `FILE.ward`: `ward scan --rules bundled
//! --rules FILE.ward FILE` is the N-rule row); `BENCH_STAGES=200` prints
//! what each stage of the fast path costs per event with that many
//! generated rules (each stage timed with the ones before it, best of 3).
//! `BENCH_ALERTS=1` measures alert rendering: one rule (an output
//! template of three fields) that fires on no event, on one event in 16
//! and on every event, written as JSON with and without the event and as
//! text; it prints events/s, alerts/s, bytes written per alert and the
//! cost of one alert (the time over the silent rule's, per alert).

use std::time::Instant;

use serde::de::IgnoredAny;
use ward_compiler::{check, load, lower, schema};
use ward_runtime::decode::{self, Format, Handlers};
use ward_runtime::scan::{Output, Scan};

const K8S_TEMPLATES: &[&str] = &[
    r#"when verb == "create" and objectRef.resource == "pods"
       and any c in requestObject.spec.containers: c.image icontains ["miner{i}", "xmr{i}"]
  output "{user.username} ran a miner in {objectRef.namespace}""#,
    r#"when objectRef.resource == "secrets" and verb in ["get", "list"] and user.username == "user{i}@example.com""#,
    r#"when objectRef.subresource == "exec" and objectRef.namespace == "ns-{i}"
  output "{user.username} exec {objectRef.name}""#,
    r#"when responseStatus.code >= 500 and userAgent startswith "client-{i}/""#,
    r#"when verb == "create" and objectRef.resource == "clusterrolebindings" and requestObject.roleRef.name == "role-{i}""#,
    r#"when annotations."authorization.k8s.io/decision" == "forbid" and user.username endswith "-{i}"
       and sourceIPs[0] in cidr ["10.{m}.0.0/16"]"#,
    r#"when verb in ["update", "patch"] and objectRef.resource == "deployments" and objectRef.namespace == "team-{i}"
       and requestObject.spec.template.spec.hostNetwork == true"#,
    r#"when objectRef.resource == "configmaps" and verb == "delete" and objectRef.name matches r"^app-{i}-[a-z0-9]+$""#,
];

const CT_RULES: &str = r#"source aws.cloudtrail
rule ct_stop_logging { severity high when eventSource == "cloudtrail.amazonaws.com" and eventName in ["StopLogging", "DeleteTrail"] }
rule ct_console_fail { severity medium when eventName == "ConsoleLogin" and responseElements.ConsoleLogin == "Failure" }
rule ct_eks_public { severity high when eventSource == "eks.amazonaws.com" and eventName == "UpdateClusterConfig" }
rule ct_access_denied { severity low when errorCode in ["AccessDenied", "UnauthorizedOperation"] and sourceIPAddress not in cidr ["10.0.0.0/8"] }
"#;

fn rules(extra: usize) -> Vec<(String, String)> {
    let mut texts: Vec<(String, String)> = ward_runtime::bundled::RULES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let mut gen = String::from("source k8s.audit\n");
    for i in 0..extra {
        let body = K8S_TEMPLATES[i % K8S_TEMPLATES.len()]
            .replace("{i}", &i.to_string())
            .replace("{m}", &(i % 256).to_string());
        gen.push_str(&format!(
            "rule generated_{i} {{\n  severity medium\n  {body}\n}}\n"
        ));
    }
    texts.push(("generated.ward".into(), gen));
    texts.push(("cloudtrail.ward".into(), CT_RULES.into()));
    texts
}

fn lowered(texts: &[(String, String)]) -> Result<(ward_compiler::lower::RuleSet, usize), String> {
    let refs: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let loaded = load::load_texts(&refs);
    let report = check(&loaded, schema::bundled());
    if report.errors() > 0 {
        return Err(format!("{:#?}", report.diagnostics));
    }
    Ok((lower::lower(&loaded), report.rules))
}

/// Best of `runs` wall-clock seconds.
fn best(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn floor(bytes: &[u8]) -> f64 {
    best(3, || {
        let mut rest = bytes;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let _: IgnoredAny = serde_json::from_slice(&rest[..end]).unwrap_or(IgnoredAny);
            rest = &rest[end + 1..];
        }
    })
}

fn ward(
    lines: &[String],
    bytes: &[u8],
    texts: &[(String, String)],
    stateful: bool,
) -> Result<(f64, u64, usize), String> {
    let output = Output {
        text: false,
        with_event: true,
    };
    ward_to(lines, bytes, texts, stateful, output, &mut std::io::sink())
}

/// [`ward`] writing its alerts in `output`'s form to `sink`.
fn ward_to(
    lines: &[String],
    bytes: &[u8],
    texts: &[(String, String)],
    stateful: bool,
    output: Output,
    sink: &mut dyn std::io::Write,
) -> Result<(f64, u64, usize), String> {
    let mut best_s = f64::INFINITY;
    let mut alerts = 0;
    let mut n_rules = 0;
    for _ in 0..3 {
        // A fresh scan per run: stateful rules keep windows across events.
        let (mut set, _) = lowered(texts)?;
        if !stateful {
            set.rules.retain(|r| r.stateful.is_none());
        }
        n_rules = set.rules.len();
        let mut scan = Scan::new(set, &mut *sink, output);
        let t = Instant::now();
        {
            let scan_cell = std::cell::RefCell::new(&mut scan);
            let _ = decode::read_with(
                bytes,
                Format::Auto,
                Handlers {
                    line: Some(&mut |t, n| scan_cell.borrow_mut().line("bench", t, n)),
                    record: None,
                    event: &mut |ev| scan_cell.borrow_mut().event("bench", &ev),
                    problem: &mut |p| scan_cell.borrow_mut().problem("bench", &p),
                },
            );
        }
        scan.finish();
        best_s = best_s.min(t.elapsed().as_secs_f64());
        alerts = scan.stats.alerts.values().sum::<u64>();
        if scan.stats.events != lines.len() as u64 {
            return Err(format!(
                "read {} events of {}",
                scan.stats.events,
                lines.len()
            ));
        }
        if scan.engine.stats.late > 0 {
            return Err(format!("{} late events", scan.engine.stats.late));
        }
    }
    Ok((best_s, alerts, n_rules))
}

/// Nanoseconds per event of each stage of a JSON line's fast path.
fn stages(lines: &[String], extra: usize) -> Result<(), String> {
    use ward_runtime::extract::{extract_reusing, Buffers};
    use ward_runtime::matcher::{Matcher, Scratch};
    let matcher = Matcher::new(lowered(&rules(extra))?.0);
    let per = |s: f64| s * 1e9 / lines.len() as f64;
    let mut bufs = Some(Buffers::default());
    let mut scratch = Scratch::default();
    // Extraction, then as much of the rest as `upto` says (1: source and
    // matching, 2: also the drift check); how many events fit their schema.
    let mut fast = |upto: u8| {
        let mut fit = 0;
        for l in lines {
            let Some(s) = extract_reusing(
                l.as_bytes(),
                &matcher.projection,
                bufs.take().unwrap_or_default(),
            ) else {
                continue;
            };
            let root = s.root();
            if upto >= 1 {
                let source = decode::source_of(root).unwrap_or("");
                matcher.matching(source, root, &mut scratch);
                if upto >= 2 && matcher.drift.fits(source, root, None) {
                    fit += 1;
                }
            }
            bufs = Some(s.into_buffers());
        }
        fit
    };
    let bytes = joined(lines);
    let rows = [
        ("floor: serde_json IgnoredAny", per(floor(&bytes))),
        (
            "UTF-8 check (first touch of the bytes)",
            per(best(3, || {
                for l in lines {
                    let _ = std::hint::black_box(simdutf8::basic::from_utf8(l.as_bytes()).is_ok());
                }
            })),
        ),
        (
            "extraction",
            per(best(3, || {
                std::hint::black_box(fast(0));
            })),
        ),
        (
            "+ source and matching",
            per(best(3, || {
                std::hint::black_box(fast(1));
            })),
        ),
        (
            "+ type drift check",
            per(best(3, || {
                std::hint::black_box(fast(2));
            })),
        ),
    ];
    let (scan_s, _, n_rules) = ward(lines, &bytes, &rules(extra), true)?;
    println!("\nstages of the fast path, {n_rules} rules, ns/event (best of 3)");
    for (label, ns) in rows
        .iter()
        .chain([&("whole scan (+ alerts, stateful)", per(scan_s))])
    {
        println!("  {label:<42} {ns:>8.0}");
    }
    Ok(())
}

/// Counts the bytes written.
struct Counting(u64);

impl std::io::Write for Counting {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The cost of alerts: one rule firing on none, a tenth and all of the
/// events, in each output form.
fn alert_rates(lines: &[String], bytes: &[u8]) -> Result<(), String> {
    let rule = |when: &str| {
        vec![(
            "alerts.ward".to_string(),
            format!(
                "source k8s.audit\nrule fires {{\n  severity low\n  when {when}\n  \
                 output \"{{user.username}} {{verb}} {{objectRef.resource}}\"\n}}\n"
            ),
        )]
    };
    let floor_s = floor(bytes);
    let n = lines.len() as f64;
    println!(
        "\nalert rendering, {} k8s events, floor {:.0} events/s",
        lines.len(),
        n / floor_s
    );
    println!(
        "  {:<28} {:<16} {:>11} {:>11} {:>8} {:>11} {:>10}",
        "rule fires on", "written as", "events/s", "alerts/s", "ratio", "bytes/alert", "ns/alert"
    );
    let forms = [
        ("json with event", false, true),
        ("json, no event", false, false),
        ("text", true, false),
    ];
    for (label, text, with_event) in forms {
        let output = Output { text, with_event };
        let mut silent_s = 0.0;
        // One field read by all three (auditIDs are random hex).
        let cases = [
            ("no event", r#"auditID == "none""#),
            ("1 event in 16", r#"auditID endswith "0""#),
            ("every event", r#"auditID != """#),
        ];
        for (what, when) in cases {
            let mut count = Counting(0);
            let (s, alerts, _) = ward_to(lines, bytes, &rule(when), true, output, &mut count)?;
            if alerts == 0 {
                silent_s = s;
            }
            let per_alert = match alerts {
                0 => "-".to_string(),
                a => format!("{:.0}", (s - silent_s) * 1e9 / a as f64),
            };
            let bytes_per = match alerts {
                0 => "-".to_string(),
                // Three runs wrote to the counter.
                a => format!("{:.0}", count.0 as f64 / 3.0 / a as f64),
            };
            println!(
                "  {what:<28} {label:<16} {:>11.0} {:>11.0} {:>8.2} {bytes_per:>11} {per_alert:>10}",
                n / s,
                alerts as f64 / s,
                floor_s / s
            );
        }
    }
    Ok(())
}

fn report(name: &str, lines: &[String], floor_s: f64, rows: &[(String, f64, u64)]) {
    let mb = lines.iter().map(|l| l.len() + 1).sum::<usize>() as f64 / 1e6;
    let n = lines.len() as f64;
    println!(
        "\n{name}: {} events, {:.1} MB, {:.0} bytes/event",
        lines.len(),
        mb,
        mb * 1e6 / n
    );
    println!(
        "  {:<34} {:>12} {:>9} {:>8} {:>9}",
        "", "events/s", "MB/s", "ratio", "alerts"
    );
    println!(
        "  {:<34} {:>12.0} {:>9.1} {:>8} {:>9}",
        "floor: serde_json IgnoredAny",
        n / floor_s,
        mb / floor_s,
        "1.00",
        "-"
    );
    for (label, s, alerts) in rows {
        println!(
            "  {label:<34} {:>12.0} {:>9.1} {:>8.2} {alerts:>9}",
            n / s,
            mb / s,
            floor_s / s
        );
    }
}

fn main() -> Result<(), String> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let k8s = ward_runtime::corpus::k8s_events(n, 42);
    let k8s_bytes = joined(&k8s);
    // BENCH_DUMP=FILE writes the corpus, to profile `ward scan FILE` alone;
    // with BENCH_ONLY=N also the N generated rules, to FILE.ward.
    if let Ok(path) = std::env::var("BENCH_DUMP") {
        if let Some(extra) = std::env::var("BENCH_ONLY")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            let texts = rules(extra);
            if let Some((_, text)) = texts.iter().find(|(n, _)| n == "generated.ward") {
                let to = format!("{path}.ward");
                std::fs::write(&to, text).map_err(|e| format!("{to}: {e}"))?;
            }
        }
        return std::fs::write(&path, &k8s_bytes).map_err(|e| format!("{path}: {e}"));
    }
    if let Some(extra) = std::env::var("BENCH_STAGES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return stages(&k8s, extra);
    }
    if std::env::var("BENCH_ALERTS").is_ok() {
        return alert_rates(&k8s, &k8s_bytes);
    }
    let floor_s = floor(&k8s_bytes);
    let mut rows = Vec::new();
    // BENCH_ONLY=200 runs one configuration (for profiling).
    let only: Option<usize> = std::env::var("BENCH_ONLY")
        .ok()
        .and_then(|v| v.parse().ok());
    for extra in [0, 20, 200, 2000]
        .into_iter()
        .filter(|e| only.is_none_or(|o| o == *e))
    {
        let texts = rules(extra);
        if extra == 0 {
            let (secs, alerts, n_rules) = ward(&k8s, &k8s_bytes, &texts, false)?;
            rows.push((
                format!("ward scan, {n_rules} rules, stateful off"),
                secs,
                alerts,
            ));
        }
        let (secs, alerts, n_rules) = ward(&k8s, &k8s_bytes, &texts, true)?;
        rows.push((format!("ward scan, {n_rules} rules"), secs, alerts));
    }
    report("k8s.audit", &k8s, floor_s, &rows);

    bundled_row(
        "aws.cloudtrail",
        &ward_runtime::corpus::cloudtrail_records(n, 42),
    )?;
    bundled_row("gcp.audit", &gcp_entries(n))?;
    Ok(())
}

/// The floor and the bundled rules over `lines` of one source, reported.
fn bundled_row(name: &str, lines: &[String]) -> Result<(), String> {
    let bytes = joined(lines);
    let floor_s = floor(&bytes);
    let (secs, alerts, n_rules) = ward(lines, &bytes, &rules(0), true)?;
    let row = (format!("ward scan, {n_rules} rules"), secs, alerts);
    report(name, lines, floor_s, &[row]);
    Ok(())
}

/// The lines, each ended by a newline.
fn joined(lines: &[String]) -> Vec<u8> {
    (lines.iter())
        .flat_map(|l| l.bytes().chain(std::iter::once(b'\n')))
        .collect()
}

/// `n` Cloud Audit Logs entries: the nine real GKE container-API entries
/// (create and delete of a cluster and a node pool, first and last, one
/// refused) in turn, each with its own insertId and a time one second
/// after the one before.
fn gcp_entries(n: usize) -> Vec<String> {
    const REAL: &str = include_str!(
        "../../tests/samples/k8s-audit/gke_container_api_cloud_audit_logentries.jsonl"
    );
    let real: Vec<serde_json::Value> = REAL
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let start = 1_726_190_000i64;
    (0..n)
        .map(|i| {
            let mut e = real[i % real.len()].clone();
            e["insertId"] = format!("bench{i:010}").into();
            let t = start + i as i64;
            let (h, m, s) = ((t / 3600) % 24, (t / 60) % 60, t % 60);
            let day = 13 + (t / 86_400 - start / 86_400);
            e["timestamp"] = format!("2024-09-{day:02}T{h:02}:{m:02}:{s:02}.114Z").into();
            e.to_string()
        })
        .collect()
}

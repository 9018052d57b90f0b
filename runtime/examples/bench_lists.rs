//! Measures `ward scan` start-up with long named lists (threat-intel feeds).
//!
//! `cargo run --release -p ward --example bench_lists [ENTRIES]` writes a
//! rule file with a list of ENTRIES user names (default 1,000,000) read by
//! two rules (`in` and `not in`), then times in-process the whole scan of a
//! one-event file (read, parse, check, lower, plan, match) over several
//! runs. As a baseline in the same run, it times serde_json parsing the
//! same names as a JSON array of strings, and prints the ratio.

use std::time::{Duration, Instant};

fn best_and_median(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    (
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("ward-bench-lists-{}", std::process::id()));
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules)?;
    let names: Vec<String> = (0..n)
        .map(|i| format!("\"user-{i:07}@example.com\""))
        .collect();
    let list = format!("list feed = [\n  {},\n]\n", names.join(",\n  "));
    std::fs::write(
        rules.join("feed.ward"),
        format!(
            "source k8s.audit\n\n{list}\n\
             rule feed_user {{\n  title \"User from the feed\"\n  severity high\n  when user.username in feed\n}}\n\n\
             rule feed_user_refused {{\n  title \"Refused, not from the feed\"\n  severity low\n  \
             when responseStatus.code == 403 and user.username not in feed\n}}\n"
        ),
    )?;
    let last = n.saturating_sub(1);
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        format!(
            "{{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"verb\":\"get\",\"requestURI\":\"/api\",\
             \"stage\":\"ResponseComplete\",\"requestReceivedTimestamp\":\"2026-01-01T00:00:00Z\",\
             \"user\":{{\"username\":\"user-{last:07}@example.com\"}}}}\n"
        ),
    )?;
    let (rules_arg, event_arg) = (
        rules.to_str().ok_or("temp dir is not UTF-8")?,
        event.to_str().ok_or("temp dir is not UTF-8")?,
    );
    let mut times = Vec::new();
    for _ in 0..5 {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let start = Instant::now();
        let code = ward_runtime::cli::run(
            [
                "ward",
                "scan",
                "--rules",
                rules_arg,
                "--no-event",
                event_arg,
            ],
            &mut out,
            &mut err,
        );
        times.push(start.elapsed());
        let alerts = String::from_utf8_lossy(&out);
        if code != 1 || alerts.lines().count() != 1 || !alerts.contains("feed_user") {
            return Err(format!(
                "scan gave {code}: {alerts}{}",
                String::from_utf8_lossy(&err)
            )
            .into());
        }
    }
    let json = format!("[{}]", names.join(","));
    let mut base = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let v: Vec<String> = serde_json::from_str(&json)?;
        std::hint::black_box(&v);
        base.push(start.elapsed());
    }
    let (best, median) = best_and_median(times);
    let (base_best, _) = best_and_median(base);
    println!(
        "ward scan start-up, list of {n} names ({:.1} MiB of rules): best {best:.0} ms, median {median:.0} ms; \
         serde_json parse of the names: {base_best:.0} ms (ratio {:.1}x)",
        std::fs::metadata(rules.join("feed.ward"))?.len() as f64 / (1 << 20) as f64,
        best / base_best
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

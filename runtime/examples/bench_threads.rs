//! `ward scan --threads N` against one thread and the JSON floor.
//!
//! `cargo run --release -p ward --example bench_threads [EVENTS] [THREADS...]`
//! writes EVENTS (default 400,000) generated Kubernetes audit events (the
//! corpus of bench_scan) as a JSON-lines file in the temporary directory,
//! then in one run measures, best of 3 each:
//! - the floor: serde_json validating every line (`IgnoredAny`) on one
//!   thread;
//! - `ward scan` (the command, in-process: reading the file, batching,
//!   extraction, matching, rendering, writing alerts to /dev/null) with the
//!   bundled rules, at each thread count (default 1, 2, 4, 8 and the
//!   machine's cores);
//!
//! and prints events/s, the ratio to the floor and the speed-up over one
//! thread with the efficiency (speed-up / threads). Figures on a machine
//! with fewer cores than threads show the overhead of oversubscription,
//! not scaling.

use std::io::Write as _;
use std::time::Instant;

use serde::de::IgnoredAny;

fn floor(bytes: &[u8]) -> f64 {
    let t = Instant::now();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let _: IgnoredAny = serde_json::from_slice(line).unwrap_or(IgnoredAny);
    }
    t.elapsed().as_secs_f64()
}

fn best<F: FnMut() -> f64>(mut f: F) -> f64 {
    (0..3).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(400_000);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut threads: Vec<usize> = args.filter_map(|a| a.parse().ok()).collect();
    if threads.is_empty() {
        threads = vec![1, 2, 4, 8, cores];
        threads.sort_unstable();
        threads.dedup();
    }
    let path = std::env::temp_dir().join(format!("ward-bench-threads-{events}.jsonl"));
    let mut bytes = Vec::new();
    for e in ward_runtime::corpus::k8s_events(events, 1) {
        bytes.extend_from_slice(e.as_bytes());
        bytes.push(b'\n');
    }
    std::fs::File::create(&path)?.write_all(&bytes)?;
    println!(
        "{events} k8s audit events, {:.1} MB, bundled rules, {cores} core(s) on this machine",
        bytes.len() as f64 / 1e6
    );
    let floor_s = best(|| floor(&bytes));
    let per = |s: f64| events as f64 / s;
    println!(
        "{:<28} {:>12.0} events/s  {:>7.1} MB/s",
        "floor: serde_json IgnoredAny",
        per(floor_s),
        bytes.len() as f64 / 1e6 / floor_s
    );
    let file = path.display().to_string();
    let mut one = None;
    for &n in &threads {
        let n_text = n.to_string();
        let secs = best(|| {
            let args = [
                "ward",
                "scan",
                "--exit-zero",
                "--output",
                "/dev/null",
                "--threads",
                &n_text,
                &file,
            ];
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let t = Instant::now();
            let code = ward_runtime::cli::run_io(args, &mut &b""[..], &mut out, &mut err);
            let s = t.elapsed().as_secs_f64();
            assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
            s
        });
        let base = *one.get_or_insert(secs);
        let speedup = base / secs;
        println!(
            "{:<28} {:>12.0} events/s  {:>7.1} MB/s  {:.2} of floor  x{:.2} over 1 thread ({:.0}% per thread)",
            format!("ward scan --threads {n}"),
            per(secs),
            bytes.len() as f64 / 1e6 / secs,
            floor_s / secs,
            speedup,
            100.0 * speedup / n as f64
        );
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

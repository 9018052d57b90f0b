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
//! thread with the efficiency (speed-up / threads); `BENCH_KEEP=1` leaves
//! the k8s corpus file in place for profiling. Figures on a machine
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
    let k8s = [path.display().to_string()];
    run(&k8s, events, bytes.len(), floor_s, &threads);
    // BENCH_KEEP=1 leaves the corpus for profiling the binary on it.
    if std::env::var_os("BENCH_KEEP").is_none() {
        let _ = std::fs::remove_file(&path);
    }

    // CloudTrail as delivered: gzip files of 1,000 records each, one
    // `Records` document per file.
    let dir = std::env::temp_dir().join(format!("ward-bench-threads-ct-{events}"));
    std::fs::create_dir_all(&dir)?;
    let records = ward_runtime::corpus::cloudtrail_records(events, 1);
    let (mut files, mut raw, mut lines) = (Vec::new(), 0, Vec::new());
    for (k, chunk) in records.chunks(1000).enumerate() {
        let doc = format!("{{\"Records\":[{}]}}", chunk.join(","));
        raw += doc.len();
        lines.extend(chunk.iter().map(|r| r.as_bytes().to_vec()));
        let f = dir.join(format!("trail-{k:05}.json.gz"));
        let mut gz =
            flate2::write::GzEncoder::new(std::fs::File::create(&f)?, flate2::Compression::fast());
        gz.write_all(doc.as_bytes())?;
        gz.finish()?;
        files.push(f.display().to_string());
    }
    println!(
        "\n{events} CloudTrail records in {} gzip files ({:.1} MB of JSON), bundled rules",
        files.len(),
        raw as f64 / 1e6
    );
    let floor_s = best(|| {
        let t = Instant::now();
        for l in &lines {
            let _: IgnoredAny = serde_json::from_slice(l).unwrap_or(IgnoredAny);
        }
        t.elapsed().as_secs_f64()
    });
    println!(
        "{:<28} {:>12.0} events/s",
        "floor: serde_json IgnoredAny",
        events as f64 / floor_s
    );
    run(&files, events, raw, floor_s, &threads);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// CPU time of the calling thread, in seconds (Linux).
fn thread_cpu() -> Option<f64> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getrusage fills the struct it is given.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
            return None;
        }
        let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
        Some(t(ru.ru_utime) + t(ru.ru_stime))
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// `ward scan` over `files` at each thread count. With more than one
/// thread it also prints the reading thread's CPU per event (start-up
/// included): the serial part, whose inverse bounds the speed-up however
/// many cores there are.
fn run(files: &[String], events: usize, bytes: usize, floor_s: f64, threads: &[usize]) {
    let per = |s: f64| events as f64 / s;
    let mut one = None;
    for &n in threads {
        let n_text = n.to_string();
        let mut runs = Vec::new();
        for _ in 0..3 {
            let mut args = vec![
                "ward",
                "scan",
                "--exit-zero",
                "--output",
                "/dev/null",
                "--threads",
                &n_text,
            ];
            args.extend(files.iter().map(String::as_str));
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let (t, cpu) = (Instant::now(), thread_cpu());
            let code = ward_runtime::cli::run_io(args, &mut &b""[..], &mut out, &mut err);
            let s = t.elapsed().as_secs_f64();
            let reader = cpu.zip(thread_cpu()).map(|(a, b)| b - a);
            assert_eq!(code, 0, "{}", String::from_utf8_lossy(&err));
            runs.push((s, reader));
        }
        let (secs, reader) =
            runs.into_iter()
                .fold((f64::INFINITY, None), |b, r| if r.0 < b.0 { r } else { b });
        // Start-up (load, check, plan; the workers' start) is paid once per
        // run: measured on an empty input and set apart below.
        let startup = (0..3)
            .filter_map(|_| {
                let empty = std::env::temp_dir().join("ward-bench-threads-empty.jsonl");
                std::fs::write(&empty, b"").ok()?;
                let empty = empty.display().to_string();
                let args = ["ward", "scan", "--exit-zero", "--output", "/dev/null"];
                let mut args = args.to_vec();
                args.extend(["--threads", &n_text, &empty]);
                let (mut out, mut err) = (Vec::new(), Vec::new());
                let cpu = thread_cpu();
                ward_runtime::cli::run_io(args, &mut &b""[..], &mut out, &mut err);
                cpu.zip(thread_cpu()).map(|(a, b)| b - a)
            })
            .fold(f64::INFINITY, f64::min);
        let base = *one.get_or_insert(secs);
        let speedup = base / secs;
        println!(
            "{:<28} {:>12.0} events/s  {:>7.1} MB/s  {:.2} of floor  x{:.2} over 1 thread ({:.0}% per thread)",
            format!("ward scan --threads {n}"),
            per(secs),
            bytes as f64 / 1e6 / secs,
            floor_s / secs,
            speedup,
            100.0 * speedup / n as f64
        );
        if let (true, Some(r)) = (n > 1, reader) {
            println!(
                "{:<28} {:>12.2} µs/event on the reading thread: at most x{:.1} over 1 thread on any number of cores",
                "",
                r * 1e6 / events as f64,
                base / r
            );
            if startup.is_finite() {
                let steady = (r - startup).max(f64::EPSILON);
                println!(
                    "{:<28} {:>12.2} µs/event of it past start-up ({:.1} ms): at most x{:.1} on a long input",
                    "",
                    steady * 1e6 / events as f64,
                    startup * 1e3,
                    (base - startup) / steady
                );
            }
        }
    }
}

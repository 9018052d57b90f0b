//! The "SIMD-accelerated JSON scanning" try of issue 20, measured: on the
//! k8s corpus of bench_scan, in one run, best of 3, nanoseconds per event
//! and the ratio to serde_json's validation (the floor bench_scan divides
//! by) of:
//! - serde_json validating each line (`IgnoredAny`): the floor;
//! - simd-json building its tape (a validating parse; the line is copied
//!   first, as simd-json parses in place: the copy is timed and taken off);
//! - sonic-rs validating each line (`IgnoredAny`);
//! - Ward's extraction with no field projected (UTF-8 check and a
//!   validating skip of the whole line) and with the bundled rules'
//!   projection (what `ward scan` does per line).
//!
//! `cd runtime/bench-sigma && cargo run --release --bin json_floor [EVENTS]`
//! (default 50,000). Outside Ward's workspace, so that simd-json and
//! sonic-rs are built for this comparison only.

use std::time::Instant;

use serde::de::IgnoredAny;
use ward_compiler::{check, load, lower, schema};
use ward_runtime::extract::{extract_reusing, Buffers};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50_000);
    let lines = ward_runtime::corpus::k8s_events(n, 42);
    let bytes: usize = lines.iter().map(String::len).sum();
    let texts: Vec<(&str, &str)> = ward_runtime::bundled::RULES.to_vec();
    let loaded = load::load_texts(&texts);
    let report = check(&loaded, schema::bundled());
    assert_eq!(report.errors(), 0, "the bundled rules check");
    let matcher = ward_runtime::matcher::Matcher::new(lower::lower(&loaded));
    let nothing = ward_compiler::plan::Projection::default();

    let per = |secs: f64| secs * 1e9 / n as f64;
    let floor = per(best(|| {
        for l in &lines {
            let v: IgnoredAny = serde_json::from_str(l).expect("JSON");
            std::hint::black_box(v);
        }
    }));
    let mut tape_buffers = simd_json::Buffers::default();
    let simd = per(best(|| {
        for l in &lines {
            let mut copy = l.as_bytes().to_vec();
            let tape = simd_json::to_tape_with_buffers(&mut copy, &mut tape_buffers).expect("JSON");
            std::hint::black_box(tape.as_value());
        }
    }));
    let copies = per(best(|| {
        for l in &lines {
            std::hint::black_box(l.as_bytes().to_vec());
        }
    }));
    let sonic = per(best(|| {
        for l in &lines {
            let v: IgnoredAny = sonic_rs::from_str(l).expect("JSON");
            std::hint::black_box(v);
        }
    }));
    let extraction = |proj| {
        let mut bufs = Some(Buffers::default());
        per(best(|| {
            for l in &lines {
                let s = extract_reusing(l.as_bytes(), proj, bufs.take().unwrap_or_default())
                    .expect("JSON");
                std::hint::black_box(s.root());
                bufs = Some(s.into_buffers());
            }
        }))
    };
    let skip = extraction(&nothing);
    let projected = extraction(&matcher.projection);

    println!(
        "k8s.audit: {n} events, {:.0} bytes/event",
        bytes as f64 / n as f64
    );
    println!("{:<52} {:>9} {:>7}", "", "ns/event", "ratio");
    for (label, ns) in [
        ("floor: serde_json IgnoredAny", floor),
        ("simd-json tape (its input copy taken off)", simd - copies),
        ("sonic-rs IgnoredAny", sonic),
        ("ward extraction, nothing projected", skip),
        ("ward extraction, the bundled rules' projection", projected),
    ] {
        println!("{label:<52} {ns:>9.0} {:>7.2}", ns / floor);
    }
}

/// Best of 3 wall-clock seconds.
fn best(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

//! The language server's latency after a change: the time to check the
//! whole bundled library (110 rules, every file) with one buffer edited,
//! as `ward lsp` does before it publishes diagnostics.
//!
//! `cargo run --release -p ward --example bench_lsp [ROUNDS]`

use std::time::Instant;

use ward_runtime::lsp::analysis::Workspace;

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let mut ws = Workspace::new(vec![root.clone()]);
    let file = root.join("k8s/rbac.ward");
    let text = std::fs::read_to_string(&file).expect("rbac.ward");
    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        // A keystroke: the buffer differs from the disk, and from the last.
        let edited = format!("{text}\n# edit {i}\n");
        ws.open(&file, edited, i as i32 + 1);
        let t = Instant::now();
        let a = ws.analyze();
        let diags = a.diagnostics();
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(
            diags.values().all(Vec::is_empty),
            "the library checks clean"
        );
    }
    // Where the time goes: loading (parsing) against checking.
    let texts: Vec<(String, String)> = ward_compiler::load::ward_files(std::slice::from_ref(&root))
        .unwrap_or_default()
        .iter()
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?)))
        .collect();
    let pairs: Vec<(&str, &str)> = texts
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let t = Instant::now();
    let loaded = ward_compiler::load::load_texts(&pairs);
    let parse = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let _ = ward_compiler::check(&loaded, ward_compiler::schema::bundled());
    let check = t.elapsed().as_secs_f64() * 1e3;
    println!("one round split: load and parse {parse:.1} ms, check {check:.1} ms");
    times.sort_by(f64::total_cmp);
    let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    println!(
        "check of the bundled library after a change ({} files, {rounds} rounds): median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        ws_files(&root),
        p(0.5),
        p(0.9),
        p(1.0)
    );
}

fn ws_files(root: &std::path::Path) -> usize {
    ward_compiler::load::ward_files(&[root.to_path_buf()]).map_or(0, |f| f.len())
}

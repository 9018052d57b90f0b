//! Writes the benign baseline: audit events of a busy cluster's ordinary
//! control-plane traffic (controllers, kubelets, the scheduler, system and
//! add-on service accounts, EKS and GKE platform identities, CI deploys,
//! people running kubectl get), deterministic per seed.
//!
//! `cargo run --release -p ward --example gen_baseline -- [EVENTS] [SEED] > baseline.jsonl`
//! (default 1,000,000 events, seed 1), then
//! `ward test rules/ --baseline baseline.jsonl` reports every rule's alerts
//! per million events against the false-positive budget.

use std::io::Write;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    for event in ward_runtime::corpus::benign_k8s(seed).take(events) {
        out.write_all(event.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

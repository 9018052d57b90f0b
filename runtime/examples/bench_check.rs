//! Measures `ward check` on a generated directory of rules.
//!
//! `cargo run --release -p ward --example bench_check [RULES]` writes RULES
//! (default 1,000) varied rules into 50 files under a temp directory, then
//! times the whole `ward check` path (read, parse, resolve, check) in-process
//! over several runs and prints the best and median.

use std::time::Instant;

const TEMPLATES: &[&str] = &[
    r#"when pod_create and any c in requestObject.spec.containers: c.image icontains ["xmrig{i}", "miner{i}"]
  output "pod {objectRef.namespace}/{objectRef.name} by {user.username}""#,
    r#"when verb in ["create", "update", "patch"] and objectRef.resource == "clusterrolebindings" and requestObject.roleRef.name == "role-{i}"
  except user.username in trusted_users"#,
    r#"when objectRef.resource == "pods" and objectRef.subresource in ["exec", "attach"] and objectRef.namespace == "ns-{i}"
  output "{user.username} ran {requestURI}""#,
    r#"when responseStatus.code >= 500 and userAgent matches r"^kubectl/v1\.{i}\." and sourceIPs[0] in cidr ["10.{m}.0.0/16"]"#,
    r#"when annotations."authorization.k8s.io/decision" == "allow" and user.username startswith "system:serviceaccount:ns-{i}:"
  count by user.username, sourceIPs[0] within 5m > {i}"#,
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let dir = std::env::temp_dir().join(format!("ward-bench-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("common.ward"),
        "source k8s.audit\nlist trusted_users = [\"admin\", \"system:kube-controller-manager\"]\n\
         macro pod_create = verb == \"create\" and objectRef.resource == \"pods\" and objectRef.subresource is null\n",
    )?;
    let files = 50;
    let mut bytes = 0;
    for f in 0..files {
        let mut text = String::from("source k8s.audit\n\n");
        for i in (f..n).step_by(files) {
            let body = TEMPLATES[i % TEMPLATES.len()]
                .replace("{i}", &i.to_string())
                .replace("{m}", &(i % 256).to_string());
            text.push_str(&format!(
                "rule generated_{i} {{\n  title \"Generated rule {i}\"\n  severity medium\n  tags [attack.execution, attack.t1609]\n  {body}\n}}\n\n"
            ));
        }
        bytes += text.len();
        std::fs::write(dir.join(format!("rules_{f:02}.ward")), text)?;
    }
    let path = dir.to_str().ok_or("temp dir is not UTF-8")?.to_string();
    let mut times = Vec::new();
    for _ in 0..7 {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let start = Instant::now();
        let code = ward_runtime::cli::run(["ward", "check", &path], &mut out, &mut err);
        times.push(start.elapsed());
        if code != 0 {
            return Err(format!(
                "check failed: {}{}",
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&err)
            )
            .into());
        }
    }
    times.sort();
    let (best, median) = (times[0], times[times.len() / 2]);
    println!(
        "ward check: {n} rules, {files} files, {:.0} KiB: best {:.1} ms, median {:.1} ms ({:.0} rules/s)",
        bytes as f64 / 1024.0,
        best.as_secs_f64() * 1e3,
        median.as_secs_f64() * 1e3,
        n as f64 / median.as_secs_f64()
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

//! `ward serve` under load: sustained events/s through the audit webhook,
//! latency from receipt to alert written, and memory under an overload burst.
//!
//! `cargo build --release -p ward && cargo run --release -p ward --example bench_serve [SECONDS] [CLIENTS] [EVENTS_PER_POST]`
//! (defaults: 10 s per phase, 4 clients, 100 events per post).
//!
//! It starts the release binary (`target/release/ward`, or `WARD_BIN`) as
//! `ward serve` with the bundled rules, HTTPS with a bearer token, a file
//! sink, and a queue of 20,000 events, pinned to CPU 0 with `taskset` when
//! there is one (one core, as the issue asks; the clients run elsewhere).
//! Then, in three phases:
//!
//! 1. **Baseline in the same run**: the same bytes parsed with serde_json
//!    (an `EventList` per post), on this process's core: the floor
//!    `ward scan` figures are compared with.
//! 2. **Sustained**: CLIENTS connections post EventLists of generated
//!    audit events (runtime/src/corpus, the benchmark corpus of `ward
//!    scan`) as fast as they are answered; a 429 makes the client wait its
//!    Retry-After (as the API server's buffered backend does). Meanwhile a
//!    probe posts one alerting event every 20 ms with a unique user name
//!    and waits for its alert in the sink file: receipt-to-alert latency
//!    (p50, p99, max). Printed: events accepted per second, 429 answers.
//! 3. **Overload**: 10 times as many clients, posting without waiting on
//!    429 (a burst ten times what the server takes): the server's peak
//!    resident memory (VmHWM of /proc/PID/status) against its start, and
//!    the queue bound; every accepted event must be matched (checked at
//!    the stop from the summary line).

use std::io::{BufRead, Read, Seek};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use ward_runtime::serve::client::Endpoint;
use ward_runtime::serve::config::ClientTls;

const TOKEN: &str = "bench-token";
const QUEUE: usize = 20_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    let secs = arg(0, 10);
    let clients = arg(1, 4) as usize;
    let per_post = arg(2, 100) as usize;
    let dir = std::env::temp_dir().join(format!("ward-bench-serve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    certificates(&dir);

    // The posts: EventLists of the benchmark corpus.
    let events = ward_runtime::corpus::k8s_events(per_post * 200, 1);
    let posts: Vec<Bytes> = events
        .chunks(per_post)
        .map(|c| {
            let items = c.join(",");
            Bytes::from(format!(
                r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{items}]}}"#
            ))
        })
        .collect();
    let bytes: usize = posts.iter().map(|p| p.len()).sum();

    // 1. serde_json over the same bytes.
    let start = Instant::now();
    let mut parsed = 0usize;
    while start.elapsed() < Duration::from_secs(2) {
        for p in &posts {
            let v: serde_json::Value = serde_json::from_slice(p).expect("json");
            parsed += v["items"].as_array().map_or(0, Vec::len);
        }
    }
    let floor = parsed as f64 / start.elapsed().as_secs_f64();
    println!(
        "serde_json parse of the same EventLists: {:.0} events/s ({} posts of {per_post}, {:.0} bytes/event)",
        floor,
        posts.len(),
        bytes as f64 / (posts.len() * per_post) as f64
    );

    let mut server = Server::start(&dir);
    let target = format!("https://127.0.0.1:{}/audit", server.port);
    let endpoint = Arc::new(
        Endpoint::new(
            "bench",
            "127.0.0.1",
            server.port,
            Some(&ClientTls {
                ca: Some(dir.join("ca.pem")),
                server_name: Some("localhost".into()),
                cert: None,
                key: None,
            }),
        )
        .expect("endpoint"),
    );
    let posts = Arc::new(posts);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");

    // 2. Sustained, with the probe.
    let rss_start = server.hwm();
    let sustained = runtime.block_on(load(
        &endpoint, &target, &posts, clients, secs, true, &dir, true,
    ));
    println!(
        "sustained ({clients} clients, {per_post} events a post, server on one core): {:.0} events/s accepted, {} answers 429, {} errors",
        sustained.accepted as f64 / sustained.elapsed,
        sustained.busy,
        sustained.errors
    );
    println!(
        "  ratio to the serde_json floor measured above: {:.2}",
        sustained.accepted as f64 / sustained.elapsed / floor
    );
    let mut lat = sustained.latencies;
    lat.sort();
    if !lat.is_empty() {
        let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "  receipt to alert written ({} probes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            lat.len(),
            q(0.50).as_secs_f64() * 1e3,
            q(0.99).as_secs_f64() * 1e3,
            lat[lat.len() - 1].as_secs_f64() * 1e3
        );
    }

    // 3. Overload: ten times the clients, no back-off.
    let burst = runtime.block_on(load(
        &endpoint,
        &target,
        &posts,
        clients * 10,
        secs,
        false,
        &dir,
        false,
    ));
    let hwm = server.hwm();
    let mean_event = bytes as f64 / (posts.len() * per_post) as f64;
    println!(
        "overload ({} clients, no back-off): {:.0} events/s accepted, {} answers 429 ({:.0}% of posts), {} errors",
        clients * 10,
        burst.accepted as f64 / burst.elapsed,
        burst.busy,
        100.0 * burst.busy as f64 / (burst.busy + burst.ok).max(1) as f64,
        burst.errors
    );
    println!(
        "  server memory: {:.1} MiB resident at start, peak {:.1} MiB; the queue's bound is {QUEUE} events ({:.1} MiB of event text at {:.0} bytes/event)",
        rss_start as f64 / 1024.0,
        hwm as f64 / 1024.0,
        QUEUE as f64 * mean_event / (1 << 20) as f64,
        mean_event
    );
    let accepted = sustained.accepted + burst.accepted + sustained.probes;
    let (code, err) = server.stop();
    let summary = err
        .lines()
        .find(|l| l.contains("stopped;"))
        .unwrap_or("")
        .to_string();
    println!("server: exit {code}; {summary}");
    let matched: u64 = summary
        .split("stopped; ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    println!(
        "accepted {accepted} event(s), matched {matched}: {}",
        if matched == accepted {
            "none lost"
        } else {
            "MISMATCH"
        }
    );
    let _ = std::fs::remove_dir_all(&dir);
}

struct Load {
    accepted: u64,
    probes: u64,
    ok: u64,
    busy: u64,
    errors: u64,
    elapsed: f64,
    latencies: Vec<Duration>,
}

/// `clients` connections posting for `secs`; with `backoff`, a 429 waits
/// its Retry-After (1 s) as the API server does; with `probe`, one
/// alerting event every 20 ms is timed to its alert in the sink.
#[allow(clippy::too_many_arguments)]
async fn load(
    endpoint: &Arc<Endpoint>,
    target: &str,
    posts: &Arc<Vec<Bytes>>,
    clients: usize,
    secs: u64,
    backoff: bool,
    dir: &Path,
    probe: bool,
) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let (accepted, ok, busy, errors) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (endpoint, posts, stop) = (endpoint.clone(), posts.clone(), stop.clone());
        let (accepted, ok, busy, errors) =
            (accepted.clone(), ok.clone(), busy.clone(), errors.clone());
        let target = target.to_string();
        tasks.push(tokio::spawn(async move {
            let mut conn: Option<SendRequest<Full<Bytes>>> = None;
            let mut i = c;
            while !stop.load(Ordering::Relaxed) {
                let body = posts[i % posts.len()].clone();
                i += clients;
                match post(&endpoint, &mut conn, &target, body).await {
                    Some((200, n)) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        accepted.fetch_add(n, Ordering::Relaxed);
                    }
                    Some((429, _)) => {
                        busy.fetch_add(1, Ordering::Relaxed);
                        if backoff {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut probes = 0;
    if probe {
        let sink = dir.join("alerts.jsonl");
        let mut read_to = std::fs::metadata(&sink).map_or(0, |m| m.len());
        let mut conn = None;
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs(secs) {
            n += 1;
            let user = format!("probe-{n}-{}", std::process::id());
            let body = Bytes::from(format!(
                r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{}]}}"#,
                probe_event(&user)
            ));
            let sent = Instant::now();
            if let Some((200, k)) = post(endpoint, &mut conn, target, body).await {
                probes += k;
                // Wait for its alert (5 s at most).
                let mut found = false;
                while sent.elapsed() < Duration::from_secs(5) && !found {
                    found = scan_sink(&sink, &mut read_to, &user);
                    if !found {
                        tokio::time::sleep(Duration::from_micros(500)).await;
                    }
                }
                if found {
                    latencies.push(sent.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    } else {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    Load {
        accepted: accepted.load(Ordering::Relaxed),
        probes,
        ok: ok.load(Ordering::Relaxed),
        busy: busy.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed: start.elapsed().as_secs_f64(),
        latencies,
    }
}

/// Whether the sink's new lines since `from` hold `user`; moves `from`
/// past the whole lines read.
fn scan_sink(sink: &Path, from: &mut u64, user: &str) -> bool {
    let Ok(mut f) = std::fs::File::open(sink) else {
        return false;
    };
    if f.seek(std::io::SeekFrom::Start(*from)).is_err() {
        return false;
    }
    let mut text = String::new();
    if f.read_to_string(&mut text).is_err() {
        return false;
    }
    let whole = text.rfind('\n').map_or(0, |i| i + 1);
    *from += whole as u64;
    text[..whole].contains(user)
}

/// An exec into a pod by `user` (k8s_exec_into_pod fires on it).
fn probe_event(user: &str) -> String {
    let now = chrono_now();
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"{user}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods/web-1/exec?command=sh&container=web&stdin=true&stdout=true&tty=true","verb":"create","user":{{"username":"{user}","groups":["system:authenticated"]}},"sourceIPs":["198.51.100.7"],"userAgent":"kubectl/v1.30.0","objectRef":{{"resource":"pods","namespace":"default","name":"web-1","apiVersion":"v1","subresource":"exec"}},"responseStatus":{{"metadata":{{}},"code":101}},"requestReceivedTimestamp":"{now}","stageTimestamp":"{now}"}}"#
    )
}

/// Now as RFC 3339 (UTC, microseconds).
fn chrono_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ward_runtime::state::rfc3339(d.as_nanos() as i64)
}

/// One POST on a kept connection (opened when there is none); the status
/// and the events the answer says were accepted.
async fn post(
    endpoint: &Endpoint,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    target: &str,
    body: Bytes,
) -> Option<(u16, u64)> {
    if conn.as_ref().is_none_or(|c| c.is_closed()) {
        let io = endpoint.connect(Duration::from_secs(5)).await.ok()?;
        let (sender, c) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .ok()?;
        tokio::spawn(async move {
            let _ = c.await;
        });
        *conn = Some(sender);
    }
    let sender = conn.as_mut()?;
    sender.ready().await.ok()?;
    let request = hyper::Request::post(target)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(body))
        .ok()?;
    let response = match sender.send_request(request).await {
        Ok(r) => r,
        Err(_) => {
            *conn = None;
            return None;
        }
    };
    let status = response.status().as_u16();
    let text = response.into_body().collect().await.ok()?.to_bytes();
    let n = serde_json::from_slice::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["accepted"].as_u64())
        .unwrap_or(0);
    Some((status, n))
}

/// A CA and a server certificate for localhost, as PEM files in `dir`.
fn certificates(dir: &Path) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("write");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write");
}

struct Server {
    child: Child,
    port: u16,
    stderr: Arc<std::sync::Mutex<String>>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let bin = std::env::var_os("WARD_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/ward")
            });
        let d = dir.display();
        let config = format!(
            "webhook:\n  listen: 127.0.0.1:0\n  tls: {{cert: {d}/cert.pem, key: {d}/key.pem}}\n  auth: {{bearer_tokens: [{TOKEN}]}}\n  max_body_bytes: 64MiB\nqueue: {{max_events: {QUEUE}, retry_after_secs: 1}}\nsinks:\n  stdout: false\n  file: {{path: {d}/alerts.jsonl, max_bytes: 10GiB}}\nalerts: {{event: false}}\n"
        );
        std::fs::write(dir.join("serve.yaml"), config).expect("config");
        let pinned = Command::new("taskset").arg("-V").output().is_ok();
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let mut child = cmd
            .args(["serve", "--config"])
            .arg(dir.join("serve.yaml"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stderr = Arc::new(std::sync::Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        let keep = stderr.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("webhook on https://127.0.0.1:").nth(1) {
                    let port = rest.split('/').next().and_then(|p| p.parse::<u16>().ok());
                    let _ = tx.send(port);
                }
                if let Ok(mut s) = keep.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                panic!(
                    "ward serve did not start: {}",
                    stderr.lock().map(|s| s.clone()).unwrap_or_default()
                )
            });
        println!(
            "ward serve: {} (pid {}){}",
            bin.display(),
            child.id(),
            if pinned { ", pinned to CPU 0" } else { "" }
        );
        Server {
            child,
            port,
            stderr,
        }
    }

    /// The server's peak resident memory so far, KiB.
    fn hwm(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    fn stop(&mut self) -> (i32, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let code = self.child.wait().map_or(-1, |s| s.code().unwrap_or(-1));
        std::thread::sleep(Duration::from_millis(100));
        let err = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        (code, err)
    }
}

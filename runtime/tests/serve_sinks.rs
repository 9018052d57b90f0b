//! `ward serve`'s network sinks end to end: the binary posted to with
//! curl over TLS, HTTP sink servers (axum, plain and TLS) and syslog
//! listeners (TCP and TLS) run here, that go down and come back; the
//! spool across a restart, dead letters, and a full spool's 429.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use common::*;
use serde_json::Value;
use ward_runtime::serve::{config, tls, webhook};

/// One request an HTTP sink server received.
#[derive(Clone, Debug)]
struct Request {
    path: String,
    authorization: String,
    content_type: String,
    extra: String,
    body: String,
}

#[derive(Default)]
struct Recorder {
    requests: Mutex<Vec<Request>>,
    status: AtomicU16,
}

/// An HTTP server standing in for a SIEM, answering `status`.
struct SinkServer {
    recorder: Arc<Recorder>,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    port: u16,
}

impl SinkServer {
    /// Listens on `port` (0: any), over TLS with `dir`'s certificate when
    /// `tls`.
    fn start(port: u16, dir: Option<&Path>, status: u16) -> SinkServer {
        let recorder = Arc::new(Recorder::default());
        recorder.status.store(status, Ordering::Relaxed);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (tx, rx) = std::sync::mpsc::channel();
        let acceptor = dir.map(|d| {
            let files = config::Tls {
                cert: d.join("cert.pem"),
                key: d.join("key.pem"),
            };
            tokio_rustls::TlsAcceptor::from(tls::server_config(&files, None).unwrap())
        });
        let app = Router::new().fallback(record).with_state(recorder.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                    .await
                    .unwrap();
                tx.send(listener.local_addr().unwrap().port()).unwrap();
                let graceful = Arc::new(hyper_util::server::graceful::GracefulShutdown::new());
                webhook::serve(listener, acceptor, app, graceful, stopped).await;
            });
            // The runtime goes: open connections are cut, as by a crash.
        });
        let port = rx.recv().unwrap();
        SinkServer {
            recorder,
            stop,
            thread: Some(thread),
            port,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.recorder.requests.lock().unwrap().clone()
    }

    /// Waits (10 s at most) until the bodies hold `n` lines.
    fn wait_lines(&self, n: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let lines: Vec<String> = (self.requests().iter())
                .flat_map(|r| r.body.lines().map(String::from).collect::<Vec<_>>())
                .collect();
            if lines.len() >= n || start.elapsed() > Duration::from_secs(10) {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SinkServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn record(
    State(r): State<Arc<Recorder>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, &'static str) {
    let header = |name: &str| {
        let value = headers.get(name).and_then(|v| v.to_str().ok());
        value.unwrap_or_default().to_string()
    };
    r.requests.lock().unwrap().push(Request {
        path: uri.path().to_string(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        extra: header("x-ward-test"),
        body,
    });
    let status = StatusCode::from_u16(r.status.load(Ordering::Relaxed)).unwrap();
    let text = match status.is_success() {
        true => "{\"text\":\"Success\",\"code\":0}",
        false => "bad token",
    };
    (status, text)
}

/// A port nothing listens on (yet).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of the metric line starting with `name` (labels included).
fn metric(server: &Server, name: &str) -> f64 {
    let (code, text) = server.get(server.metrics.as_ref().unwrap(), "/metrics", None);
    assert_eq!(code, 200);
    let line = text.lines().find_map(|l| l.strip_prefix(name));
    let value = line.and_then(|v| v.strip_prefix(' ')?.parse().ok());
    value.unwrap_or(f64::NAN)
}

/// Waits (10 s at most) until `f` holds of the metric `name`.
fn wait_metric(server: &Server, name: &str, f: impl Fn(f64) -> bool) -> f64 {
    let start = Instant::now();
    loop {
        let v = metric(server, name);
        if f(v) || start.elapsed() > Duration::from_secs(10) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Posts one EventList per event of `users` reading a secret, at
/// seconds `from`, `from + 1`...; each must be accepted.
fn post_reads(server: &Server, from: i64, users: &[&str]) {
    for (i, user) in users.iter().enumerate() {
        let list = event_list(&[secret_read(from + i as i64, user)]);
        let (code, body) = server.post(&list, Some(TOKEN));
        assert_eq!(code, 200, "{body}");
    }
}

fn outputs(lines: &[String]) -> Vec<String> {
    let alerts = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap());
    alerts
        .map(|a| a["output"].as_str().unwrap().to_string())
        .collect()
}

fn reads(users: &[&str]) -> Vec<String> {
    (users.iter())
        .map(|u| format!("secret prod/web read by {u}"))
        .collect()
}

const METRICS: &str = "metrics: {listen: 127.0.0.1:0}\n";

fn spool_and_retry(dir: &Path) -> String {
    format!(
        "  spool: {{dir: {}/spool}}\n  retry: {{initial: 50ms, max: 200ms}}\n  drain_timeout: 500ms\n",
        dir.display()
    )
}

/// A fresh directory with certificates, and the `sinks` lines of one
/// HTTP sink `siem` posting to 127.0.0.1:`port`.
fn siem(name: &str, port: u16) -> (PathBuf, String) {
    let dir = fresh_dir(name);
    certificates(&dir);
    let sinks = format!(
        "  http:\n    - {{name: siem, url: 'http://127.0.0.1:{port}/'}}\n{}",
        spool_and_retry(&dir)
    );
    (dir, sinks)
}

#[test]
fn http_sinks_get_every_alert_in_order_as_json_lines_and_splunk_hec() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("sink-http");
    certificates(&dir);
    let json = SinkServer::start(0, None, 200);
    let hec = SinkServer::start(0, Some(&dir), 200);
    let sinks = format!(
        "  http:\n\
         \x20   - {{name: lines, url: 'http://127.0.0.1:{}/ingest', token: tok-json, headers: {{X-Ward-Test: yes}}}}\n\
         \x20   - {{name: splunk, url: 'https://localhost:{}/services/collector/event', format: splunk_hec,\n\
         \x20       token: hec-token, host: ward-test, tls: {{ca: {d}/ca.pem}}, batch_max_alerts: 2}}\n{}",
        json.port,
        hec.port,
        spool_and_retry(&dir),
        d = dir.display()
    );
    let server = Server::start_sinks(&dir, &sinks, METRICS);
    let users = ["alice", "bob", "carol", "dave", "erin"];
    post_reads(&server, 1, &users[..2]);
    let list = event_list(&[
        secret_read(3, "carol"),
        secret_read(4, "dave"),
        secret_read(5, "erin"),
    ]);
    assert_eq!(server.post(&list, Some(TOKEN)).0, 200);

    // The JSON lines are the alerts as the file sink has them, in order.
    let lines = json.wait_lines(5);
    let file = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap();
    assert_eq!(lines, file.lines().collect::<Vec<_>>());
    assert_eq!(outputs(&lines), reads(&users));
    for r in json.requests() {
        assert_eq!(r.path, "/ingest");
        assert_eq!(r.authorization, "Bearer tok-json");
        assert_eq!(r.content_type, "application/x-ndjson");
        assert_eq!(r.extra, "yes");
    }

    // Splunk HEC: the envelope around each alert, batches of two at most.
    let events = hec.wait_lines(5);
    assert_eq!(events.len(), 5);
    for (i, (event, alert)) in events.iter().zip(file.lines()).enumerate() {
        let event: Value = serde_json::from_str(event).unwrap();
        let alert: Value = serde_json::from_str(alert).unwrap();
        // secret_read(n) happened at 2024-05-01T10:00:0n.000000Z.
        let time = 1_714_557_600.0 + (i + 1) as f64;
        assert_eq!(event["time"].as_f64(), Some(time), "{event}");
        assert_eq!(event["host"], "ward-test");
        assert_eq!(event["source"], "ward");
        assert_eq!(event["sourcetype"], "ward:alert");
        assert_eq!(event["event"], alert);
        assert_eq!(event.as_object().unwrap().len(), 5, "{event}");
    }
    for r in hec.requests() {
        assert_eq!(r.path, "/services/collector/event");
        assert_eq!(r.authorization, "Splunk hec-token");
        assert!(r.body.lines().count() <= 2, "{}", r.body);
    }
    for sink in ["lines", "splunk"] {
        let delivered = format!("ward_sink_alerts_delivered_total{{sink=\"{sink}\"}}");
        assert_eq!(wait_metric(&server, &delivered, |v| v == 5.0), 5.0);
        let pending = format!("ward_sink_spool_alerts{{sink=\"{sink}\"}}");
        assert_eq!(wait_metric(&server, &pending, |v| v == 0.0), 0.0);
        assert_eq!(
            metric(&server, &format!("ward_sink_up{{sink=\"{sink}\"}}")),
            1.0
        );
    }
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("kept in"), "{err}");
}

#[test]
fn a_sink_down_then_up_gets_every_alert_exactly_once() {
    if curl_missing() {
        return;
    }
    let port = free_port();
    let (dir, sinks) = siem("sink-down", port);
    let server = Server::start_sinks(&dir, &sinks, METRICS);
    let users = ["alice", "bob", "carol"];
    post_reads(&server, 1, &users);
    assert_eq!(
        wait_metric(&server, "ward_sink_spool_alerts{sink=\"siem\"}", |v| v
            == 3.0),
        3.0
    );
    wait_metric(&server, "ward_sink_retries_total{sink=\"siem\"}", |v| {
        v >= 2.0
    });
    assert_eq!(metric(&server, "ward_sink_up{sink=\"siem\"}"), 0.0);
    // Down, with room in the spool: still ready.
    let metrics = server.metrics.clone().unwrap();
    assert_eq!(server.get(&metrics, "/readyz", None).0, 200);
    assert!(
        server
            .stderr()
            .contains("ward serve: sink siem: request failed")
            || server
                .stderr()
                .contains("ward serve: sink siem: cannot connect"),
        "{}",
        server.stderr()
    );

    let up = SinkServer::start(port, None, 200);
    let lines = up.wait_lines(3);
    // Time for a duplicate to show, were there one.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(outputs(&up.wait_lines(3)), reads(&users));
    assert_eq!(lines.len(), 3);
    assert_eq!(
        wait_metric(&server, "ward_sink_up{sink=\"siem\"}", |v| v == 1.0),
        1.0
    );
    assert_eq!(
        metric(&server, "ward_sink_alerts_delivered_total{sink=\"siem\"}"),
        3.0
    );
    assert_eq!(
        metric(&server, "ward_sink_spool_alerts{sink=\"siem\"}"),
        0.0
    );
    let failures = metric(&server, "ward_sink_send_failures_total{sink=\"siem\"}");
    assert!(failures >= 2.0, "{failures}");
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("delivered after"), "{err}");
}

#[test]
fn alerts_spooled_while_the_sink_is_down_survive_a_restart() {
    if curl_missing() {
        return;
    }
    let port = free_port();
    let (dir, sinks) = siem("sink-restart", port);
    let server = Server::start_sinks(&dir, &sinks, METRICS);
    post_reads(&server, 1, &["alice", "bob", "carol"]);
    assert_eq!(
        wait_metric(&server, "ward_sink_spool_alerts{sink=\"siem\"}", |v| v
            == 3.0),
        3.0
    );
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("ward serve: sink siem: 3 alert(s)") && err.contains("kept in"),
        "{err}"
    );

    let up = SinkServer::start(port, None, 200);
    let server = Server::start_sinks(&dir, &sinks, METRICS);
    assert!(
        server.stderr().contains("3 alert(s)"),
        "{}",
        server.stderr()
    );
    post_reads(&server, 4, &["dave"]);
    let lines = up.wait_lines(4);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(lines.len(), 4);
    assert_eq!(outputs(&lines), reads(&["alice", "bob", "carol", "dave"]));
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("kept in"), "{err}");
}

#[test]
fn a_rejected_batch_is_dead_lettered_and_counted_not_retried() {
    if curl_missing() {
        return;
    }
    let server_400 = SinkServer::start(0, None, 400);
    let (dir, sinks) = siem("sink-reject", server_400.port);
    let siem = server_400;
    let server = Server::start_sinks(&dir, &sinks, METRICS);
    let list = event_list(&[secret_read(1, "alice"), secret_read(2, "bob")]);
    assert_eq!(server.post(&list, Some(TOKEN)).0, 200);
    let rejected = "ward_sink_alerts_rejected_total{sink=\"siem\"}";
    assert_eq!(wait_metric(&server, rejected, |v| v == 2.0), 2.0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(siem.requests().len(), 1, "sent again");
    let dead = std::fs::read_to_string(dir.join("spool/siem/dead-letter.jsonl")).unwrap();
    let file = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap();
    assert_eq!(dead, file);
    assert!(
        server
            .stderr()
            .contains("REJECTED 2 alert(s): HTTP 400 Bad Request: bad token"),
        "{}",
        server.stderr()
    );
    assert_eq!(
        metric(&server, "ward_sink_spool_alerts{sink=\"siem\"}"),
        0.0
    );

    // The next batch goes on its own.
    siem.recorder.status.store(200, Ordering::Relaxed);
    post_reads(&server, 3, &["carol"]);
    let lines = siem.wait_lines(3);
    assert_eq!(siem.requests().len(), 2);
    assert_eq!(outputs(&lines[2..]), reads(&["carol"]));
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
}

/// Syslog messages received by a listener here: octet-counted or
/// newline-framed frames, over TCP or TLS.
struct SyslogServer {
    port: u16,
    frames: Arc<Mutex<Vec<String>>>,
}

impl SyslogServer {
    fn start(octets: bool, tls_dir: Option<&Path>) -> SyslogServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let config = tls_dir.map(|d| {
            let files = config::Tls {
                cert: d.join("cert.pem"),
                key: d.join("key.pem"),
            };
            tls::server_config(&files, None).unwrap()
        });
        let got = frames.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming().map_while(Result::ok) {
                let got = got.clone();
                let stream: Box<dyn Read + Send> = match &config {
                    None => Box::new(tcp),
                    Some(c) => {
                        let conn = rustls::ServerConnection::new(c.clone()).unwrap();
                        Box::new(rustls::StreamOwned::new(conn, tcp))
                    }
                };
                std::thread::spawn(move || read_frames(stream, octets, &got));
            }
        });
        SyslogServer { port, frames }
    }

    fn wait(&self, n: usize) -> Vec<String> {
        let start = Instant::now();
        loop {
            let frames = self.frames.lock().unwrap().clone();
            if frames.len() >= n || start.elapsed() > Duration::from_secs(10) {
                return frames;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn read_frames(stream: Box<dyn Read + Send>, octets: bool, got: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut head = Vec::new();
        let end = if octets { b' ' } else { b'\n' };
        match reader.read_until(end, &mut head) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let frame = if octets {
            let len: usize = std::str::from_utf8(&head).unwrap().trim().parse().unwrap();
            let mut message = vec![0; len];
            reader.read_exact(&mut message).unwrap();
            message
        } else {
            head.pop();
            head
        };
        got.lock().unwrap().push(String::from_utf8(frame).unwrap());
    }
}

#[test]
fn syslog_sinks_send_rfc5424_over_tcp_and_tls() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("sink-syslog");
    certificates(&dir);
    let plain = SyslogServer::start(true, None);
    let lines = SyslogServer::start(false, None);
    let secure = SyslogServer::start(true, Some(&dir));
    let sinks = format!(
        "  syslog:\n\
         \x20   - {{name: plain, address: '127.0.0.1:{}', hostname: ward-test}}\n\
         \x20   - {{name: lines, address: '127.0.0.1:{}', framing: newline, facility: daemon, hostname: ward-test}}\n\
         \x20   - {{name: secure, address: 'localhost:{}', facility: auth, hostname: ward-test, tls: {{ca: {d}/ca.pem}}}}\n{}",
        plain.port,
        lines.port,
        secure.port,
        spool_and_retry(&dir),
        d = dir.display()
    );
    let server = Server::start_sinks(&dir, &sinks, METRICS);
    let users = ["alice", "bob", "carol"];
    post_reads(&server, 1, &users);
    let file = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap();
    // local0 (16), daemon (3), auth (4); high is err (3).
    for (listener, pri) in [(&plain, 131), (&lines, 27), (&secure, 35)] {
        let frames = listener.wait(3);
        assert_eq!(frames.len(), 3, "{frames:?}");
        for (i, (frame, alert)) in frames.iter().zip(file.lines()).enumerate() {
            let head = format!(
                "<{pri}>1 2024-05-01T10:00:0{}Z ward-test ward - secret_read - ",
                i + 1
            );
            let msg = frame
                .strip_prefix(&head)
                .unwrap_or_else(|| panic!("{frame}"));
            assert_eq!(msg, alert);
        }
    }
    for sink in ["plain", "lines", "secure"] {
        let delivered = format!("ward_sink_alerts_delivered_total{{sink=\"{sink}\"}}");
        assert_eq!(wait_metric(&server, &delivered, |v| v == 3.0), 3.0);
    }
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_full_spool_makes_the_webhook_answer_429_and_loses_nothing() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("sink-full");
    certificates(&dir);
    let port = free_port();
    let sinks = format!(
        "  http:\n    - {{name: siem, url: 'http://127.0.0.1:{port}/'}}\n  spool: {{dir: {}/spool, max_bytes: 1}}\n  retry: {{initial: 50ms, max: 200ms}}\n",
        dir.display()
    );
    let extra = format!("queue: {{max_events: 1}}\n{METRICS}");
    let server = Server::start_sinks(&dir, &sinks, &extra);
    let users = ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7"];
    let mut accepted = Vec::new();
    let mut refused = None;
    for (i, user) in users.iter().enumerate() {
        let list = event_list(&[secret_read(i as i64 + 1, user)]);
        let (code, body) = server.post(&list, Some(TOKEN));
        if code == 429 {
            refused = Some((list, *user));
            break;
        }
        assert_eq!(code, 200, "{body}");
        accepted.push(*user);
        // Let the matching thread take it.
        std::thread::sleep(Duration::from_millis(100));
    }
    let Some((list, user)) = refused else {
        panic!("never 429: {}", server.stderr());
    };
    // The first batch fills the spool; the second waits to go in; the
    // third fills the queue.
    assert_eq!(accepted.len(), 2, "{accepted:?}");
    assert!(metric(&server, "ward_sink_spool_waits_total{sink=\"siem\"}") >= 1.0);
    assert_eq!(metric(&server, "ward_webhook_queue_full_total"), 1.0);
    let metrics = server.metrics.clone().unwrap();
    assert_eq!(server.get(&metrics, "/readyz", None).0, 503);

    let up = SinkServer::start(port, None, 200);
    up.wait_lines(2);
    let (code, body) = server.post(&list, Some(TOKEN));
    assert_eq!(code, 200, "{body}");
    accepted.push(user);
    let lines = up.wait_lines(accepted.len());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(outputs(&up.wait_lines(accepted.len())), reads(&accepted));
    assert_eq!(lines.len(), accepted.len());
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
}

/// `rsyslogd`, installed with apt-get when missing; `None` (the test is
/// skipped, saying why) only when apt-get is not there or cannot install.
fn rsyslogd() -> Option<&'static str> {
    const PATH: &str = "/usr/sbin/rsyslogd";
    if Path::new(PATH).exists() {
        return Some(PATH);
    }
    let install = std::process::Command::new("apt-get")
        .args(["install", "-y", "rsyslog"])
        .output();
    match install {
        Ok(o) if o.status.success() && Path::new(PATH).exists() => Some(PATH),
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            eprintln!("SKIPPED: rsyslog is not installed and apt-get could not install it: {err}");
            None
        }
        Err(e) => {
            eprintln!("SKIPPED: rsyslog is not installed and there is no apt-get: {e}");
            None
        }
    }
}

/// A child process killed when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The syslog sink as rsyslog, a real syslog server, reads it: imtcp
/// takes the octet-counted RFC 5424 frames, the properties it parsed are
/// written out.
#[test]
fn rsyslog_receives_the_syslog_sink() {
    if curl_missing() {
        return;
    }
    let Some(rsyslogd) = rsyslogd() else {
        return;
    };
    let dir = fresh_dir("sink-rsyslog");
    certificates(&dir);
    let port = free_port();
    let conf = format!(
        "global(workDirectory=\"{d}\")\n\
         module(load=\"imtcp\")\n\
         input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
         template(name=\"fields\" type=\"string\" string=\"%pri%|%hostname%|%app-name%|%msgid%|%timereported:::date-rfc3339%|%msg%\\n\")\n\
         *.* action(type=\"omfile\" file=\"{d}/received.log\" template=\"fields\")\n",
        d = dir.display()
    );
    std::fs::write(dir.join("rsyslog.conf"), conf).unwrap();
    let _rsyslog = Killed(
        std::process::Command::new(rsyslogd)
            .args(["-n", "-f"])
            .arg(dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "rsyslogd does not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sinks = format!(
        "  syslog:\n    - {{name: rsyslog, address: '127.0.0.1:{port}', facility: local3, hostname: ward-test}}\n{}",
        spool_and_retry(&dir)
    );
    let server = Server::start_sinks(&dir, &sinks, METRICS);
    post_reads(&server, 1, &["alice", "bob", "carol"]);
    let path = dir.join("received.log");
    let start = Instant::now();
    let received = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.lines().count() >= 3 || start.elapsed() > Duration::from_secs(10) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let file = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap();
    assert_eq!(received.lines().count(), 3, "{received}");
    for (i, (line, alert)) in received.lines().zip(file.lines()).enumerate() {
        let fields: Vec<&str> = line.splitn(6, '|').collect();
        // local3 (19) * 8 + err (3).
        assert_eq!(
            fields[..4],
            ["155", "ward-test", "ward", "secret_read"],
            "{line}"
        );
        assert_eq!(fields[4], format!("2024-05-01T10:00:0{}Z", i + 1), "{line}");
        let msg: Value = serde_json::from_str(fields[5].trim_start()).unwrap();
        assert_eq!(msg, serde_json::from_str::<Value>(alert).unwrap());
    }
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
}

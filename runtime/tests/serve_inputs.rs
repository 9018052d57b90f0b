//! `ward serve`'s inputs besides the webhook, end to end with real
//! writers and clients: files appended to, rotated (rename, copytruncate)
//! and followed across restarts; syslog over TCP from `logger` and over
//! TLS from a rustls client; stdin; back-pressure with the test hold.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The users of the secret_read alerts, sorted.
fn users(alerts: &[Value]) -> Vec<String> {
    let mut u: Vec<String> = alerts
        .iter()
        .filter(|a| a["rule"] == "secret_read")
        .map(|a| {
            let out = a["output"].as_str().unwrap();
            out.rsplit(' ').next().unwrap().to_string()
        })
        .collect();
    u.sort();
    u
}

fn names(prefix: &str, range: std::ops::Range<i64>) -> Vec<String> {
    let mut v: Vec<String> = range.map(|i| format!("{prefix}{i:03}")).collect();
    v.sort();
    v
}

/// Appends a secret read by each user, one JSON line each.
fn append(path: &Path, users: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for (i, u) in users.iter().enumerate() {
        writeln!(f, "{}", secret_read(i as i64, u)).unwrap();
    }
}

fn files_config(dir: &Path, extra: &str) -> String {
    format!(
        "data_dir: {d}/data\ninputs:\n  files:\n    - path: {d}/logs/audit.log\n{extra}",
        d = dir.display()
    )
}

/// A fresh directory with `logs/audit.log` holding events of users a0..a2;
/// the directory, the log and those users.
fn first_log(name: &str) -> (PathBuf, PathBuf, Vec<String>) {
    let dir = fresh_dir(name);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let log = dir.join("logs/audit.log");
    let want = names("a", 0..3);
    append(&log, &want);
    (dir, log, want)
}

/// The server following `logs/audit.log` of `dir` (files_config).
fn follow(dir: &Path) -> Server {
    Server::start_inputs(dir, &files_config(dir, ""), &[], false)
}

fn wait_users(server: &Server, want: &[String]) -> Vec<String> {
    server.wait_alerts(|a| users(a).len() >= want.len());
    // Time for a repeat, if there were one, to show.
    std::thread::sleep(Duration::from_millis(300));
    users(&server.alerts())
}

#[test]
fn a_followed_file_rotated_by_rename_and_copytruncate_alerts_each_event_once() {
    let (dir, log, mut want) = first_log("follow");
    let server = follow(&dir);
    assert_eq!(wait_users(&server, &want), want);

    // Appended to, with a line that is not JSON in the middle and a last
    // line written in two parts.
    append(&log, &names("b", 0..2));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"{not json\n")
        .unwrap();
    let half = secret_read(9, "b002").to_string();
    let (first, second) = half.split_at(40);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(first.as_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(format!("{second}\n").as_bytes())
        .unwrap();
    want.extend(names("b", 0..3));
    want.sort();
    assert_eq!(wait_users(&server, &want), want);
    let alerts = server.alerts();
    let b002 = alerts
        .iter()
        .find(|a| a["output"].as_str().unwrap().ends_with("b002"))
        .unwrap();
    assert_eq!(b002["input"]["file"], log.display().to_string());
    assert_eq!(b002["input"]["line"], 7);
    let err = server.stderr();
    assert!(
        err.contains(&format!("{}: line 6: not JSON", log.display())),
        "{err}"
    );

    // Rotated by rename; the writer still appends to the old file before
    // it opens the new one.
    std::fs::rename(&log, dir.join("logs/audit.log.1")).unwrap();
    append(&dir.join("logs/audit.log.1"), &names("c", 0..2));
    std::thread::sleep(Duration::from_millis(50));
    append(&log, &names("d", 0..3));
    want.extend(names("c", 0..2));
    want.extend(names("d", 0..3));
    want.sort();
    assert_eq!(wait_users(&server, &want), want);

    // Copied and truncated (logrotate's copytruncate).
    std::fs::copy(&log, dir.join("logs/audit.log.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    append(&log, &names("e", 0..2));
    want.extend(names("e", 0..2));
    want.sort();
    assert_eq!(wait_users(&server, &want), want);

    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("rotated"), "{err}");
    assert!(err.contains("truncated"), "{err}");
    assert!(
        err.contains(&format!(
            "input {}: 13 event(s), 1 line(s) with no event",
            log.display()
        )),
        "{err}"
    );
}

#[test]
fn a_restart_resumes_from_the_checkpoint_even_across_a_rotation_while_stopped() {
    let (dir, log, mut want) = first_log("resume");
    let server = follow(&dir);
    assert_eq!(wait_users(&server, &want), want);
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    let cp = std::fs::read_to_string(dir.join("data/checkpoints.json")).unwrap();
    assert!(cp.contains("\"line\": 3"), "{cp}");

    // While stopped: appended to, rotated, a new file written.
    append(&log, &names("b", 0..2));
    std::fs::rename(&log, dir.join("logs/audit.log.1")).unwrap();
    append(&log, &names("c", 0..2));
    want.extend(names("b", 0..2));
    want.extend(names("c", 0..2));
    want.sort();
    let server = follow(&dir);
    assert_eq!(wait_users(&server, &want), want);
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("rotated while stopped"), "{err}");

    // A restart with nothing new repeats nothing.
    let server = follow(&dir);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(users(&server.alerts()), want);
    let (code, _) = server.terminate();
    assert_eq!(code, 0);

    // The file gone while stopped, the rotated one too: LOST, loudly.
    // (The new file is made first, so that it cannot reuse the inode.)
    let new = dir.join("logs/audit.log.new");
    append(&new, &names("d", 0..1));
    std::fs::remove_file(&log).unwrap();
    std::fs::remove_file(dir.join("logs/audit.log.1")).unwrap();
    std::fs::rename(&new, &log).unwrap();
    want.extend(names("d", 0..1));
    want.sort();
    let server = follow(&dir);
    assert_eq!(wait_users(&server, &want), want);
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("LOST: "), "{err}");
}

#[test]
fn a_full_queue_makes_a_file_wait_and_loses_nothing() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("backpressure");
    certificates(&dir);
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    let log = dir.join("logs/audit.log");
    let hold = dir.join("hold");
    std::fs::write(&hold, "").unwrap();
    let first = names("a", 0..20);
    append(&log, &first);
    let config = files_config(
        &dir,
        "queue: {max_events: 4}\nmetrics: {listen: 127.0.0.1:0}\n",
    );
    let server = Server::start_inputs(&dir, &config, &[("WARD_SERVE_TEST_HOLD", &hold)], false);
    let origin = server.metrics.clone().unwrap();
    let metric = |want: &str| {
        let start = Instant::now();
        loop {
            let (_, text) = server.get(&origin, "/metrics", None);
            if text.contains(want) || start.elapsed() > Duration::from_secs(10) {
                return text;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // The first batch fills the queue (an empty queue takes any batch);
    // the next one waits.
    let events_in = |n: usize| format!("ward_events_in_total{{input=\"{}\"}} {n}", log.display());
    let text = metric(&events_in(20));
    assert!(text.contains(&events_in(20)), "{text}");
    append(&log, &names("b", 0..20));
    let wait = format!(
        "ward_input_backpressure_waits_total{{input=\"{}\"}} 1",
        log.display()
    );
    let text = metric(&wait);
    assert!(text.contains(&wait), "{text}");
    assert!(text.contains(&events_in(20)), "{text}");
    assert!(text.contains("ward_queue_events 20"), "{text}");
    assert!(server.alerts().is_empty());
    std::fs::remove_file(&hold).unwrap();
    let mut want = first;
    want.extend(names("b", 0..20));
    want.sort();
    assert_eq!(wait_users(&server, &want), want);
    let text = metric(&events_in(40));
    assert!(text.contains(&events_in(40)), "{text}");
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
}

fn logger_missing() -> bool {
    let found = |cmd: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !found("logger") && found("apt-get") {
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "bsdutils"])
            .output();
    }
    let missing = !found("logger");
    if missing {
        eprintln!(
            "SKIPPED: logger (util-linux, bsdutils) is not on PATH and could not be installed"
        );
    }
    missing
}

#[test]
fn syslog_from_logger_over_tcp_and_a_rustls_client_over_tls() {
    if logger_missing() {
        return;
    }
    let dir = fresh_dir("syslog");
    certificates(&dir);
    let config = format!(
        "inputs:\n  syslog:\n    - {{listen: 127.0.0.1:0}}\n    - {{name: secure, listen: 127.0.0.1:0, tls: {{cert: {d}/cert.pem, key: {d}/key.pem}}, max_message_bytes: 4KiB}}\n",
        d = dir.display()
    );
    let server = Server::start_inputs(&dir, &config, &[], false);
    assert_eq!(server.syslog.len(), 2, "{}", server.stderr());
    let (host, port) = server.syslog[0].rsplit_once(':').unwrap();
    let logger = |args: &[&str], msg: &str| {
        let out = Command::new("timeout")
            .args(["10", "logger", "--tcp", "-n", host, "-P", port])
            .args(args)
            .arg(msg)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    logger(
        &["--octet-count", "--rfc5424"],
        &secret_read(1, "oct001").to_string(),
    );
    logger(&["--rfc5424"], &secret_read(2, "nl001").to_string());
    logger(&["--rfc3164"], &secret_read(3, "bsd001").to_string());
    logger(&["--octet-count"], "hello, not an event");
    let want = ["bsd001", "nl001", "oct001"].map(String::from).to_vec();
    assert_eq!(wait_users(&server, &want), want);
    let err = server.stderr();
    assert!(
        err.contains("line 1: not JSON: no JSON event in the syslog message"),
        "{err}"
    );

    // TLS (RFC 5425): octet counted, several messages on one connection,
    // an oversized one skipped in between and one that is not JSON.
    let mut stream = tls_client(&dir, &server.syslog[1]);
    let mut frames = Vec::new();
    let mut frame = |msg: &str| {
        frames.extend(format!("{} {msg}", msg.len()).into_bytes());
    };
    frame(&format!(
        "<14>1 2024-05-01T10:00:00Z h app - - - {}",
        secret_read(4, "tls001")
    ));
    frame(&format!("<14>1 - h app - - - {}", "x".repeat(5000)));
    frame("<14>1 - h app - - - no json here");
    frame(&format!(
        "<14>1 - h app - - [a b=\"c\\]\"] {}",
        secret_read(5, "tls002")
    ));
    stream.write_all(&frames).unwrap();
    stream.flush().unwrap();
    let mut want = want;
    want.extend(["tls001", "tls002"].map(String::from));
    want.sort();
    assert_eq!(wait_users(&server, &want), want);
    drop(stream);
    let err = server.stderr();
    assert!(
        err.contains("line 2: 5020 bytes, longer than 4096"),
        "{err}"
    );
    assert!(err.contains("line 3: not JSON"), "{err}");
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("input secure: 2 event(s), 2 line(s) with no event"),
        "{err}"
    );
}

#[test]
fn a_syslog_listener_that_requires_client_certificates_refuses_clients_without_one() {
    let dir = fresh_dir("syslog-mtls");
    let (_, issuer) = certificates(&dir);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "node-shipper");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("client.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("client-key.pem"), key.serialize_pem()).unwrap();
    let config = format!(
        "inputs:\n  syslog:\n    - {{listen: 127.0.0.1:0, tls: {{cert: {d}/cert.pem, key: {d}/key.pem, client_ca: {d}/ca.pem, require_client_cert: true}}}}\n",
        d = dir.display()
    );
    let server = Server::start_inputs(&dir, &config, &[], false);
    let frame = |user: &str| {
        let msg = format!("<14>1 - h app - - - {}", secret_read(1, user));
        format!("{} {msg}", msg.len())
    };
    // Without a certificate the handshake fails: nothing is read.
    let mut anonymous = tls_client_with(&dir, &server.syslog[0], false);
    let _ = anonymous.write_all(frame("mallory").as_bytes());
    let _ = anonymous.flush();
    let mut with_cert = tls_client_with(&dir, &server.syslog[0], true);
    with_cert.write_all(frame("node001").as_bytes()).unwrap();
    with_cert.flush().unwrap();
    let want = vec!["node001".to_string()];
    assert_eq!(wait_users(&server, &want), want);
    drop((anonymous, with_cert));
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("TLS handshake failed"), "{err}");
}

/// A TLS connection to `addr` trusting the test CA.
fn tls_client(
    dir: &Path,
    addr: &str,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    tls_client_with(dir, addr, false)
}

/// [`tls_client`], with the client certificate `client.pem` if `cert`.
fn tls_client_with(
    dir: &Path,
    addr: &str,
    cert: bool,
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match cert {
        false => config.with_no_client_auth(),
        true => {
            let chain = rustls_pki_types::CertificateDer::pem_file_iter(dir.join("client.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key =
                rustls_pki_types::PrivateKeyDer::from_pem_file(dir.join("client-key.pem")).unwrap();
            config.with_client_auth_cert(chain, key).unwrap()
        }
    };
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

#[test]
fn stdin_as_the_only_input_drains_and_exits_at_its_end() {
    let dir = fresh_dir("stdin");
    let mut server = Server::start_inputs(&dir, "inputs: {stdin: true}\n", &[], true);
    let mut stdin = server.child.stdin.take().unwrap();
    let want = names("s", 0..50);
    for (i, u) in want.iter().enumerate() {
        writeln!(stdin, "{}", secret_read(i as i64, u)).unwrap();
        if i == 10 {
            writeln!(stdin, "not json").unwrap();
        }
    }
    // The last line without its newline: the end of input ends it.
    write!(stdin, "{}", secret_read(99, "s999")).unwrap();
    drop(stdin);
    let (code, err) = server.wait_exit(Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    let mut want = want;
    want.push("s999".into());
    assert_eq!(users(&server.alerts()), want);
    assert!(err.contains("stdin: line 12: not JSON"), "{err}");
    assert!(
        err.contains("input stdin: 51 event(s), 1 line(s) with no event"),
        "{err}"
    );
}

#[test]
fn json_logs_are_one_object_a_line_with_levels_events_and_fields() {
    let dir = fresh_dir("json-logs");
    let inputs = "log: {format: json}\ninputs: {stdin: true}\n";
    let mut server = Server::start_inputs(&dir, inputs, &[], true);
    let mut stdin = server.child.stdin.take().unwrap();
    writeln!(stdin, "{}", secret_read(1, "alice")).unwrap();
    // Thirteen lines with no event: ten logged one by one, then a count
    // (written at the stop, as it is a minute after the first one).
    for i in 0..12 {
        writeln!(stdin, "not json {i}").unwrap();
    }
    writeln!(stdin, r#"{{"kind": "Something"}}"#).unwrap();
    writeln!(stdin, "{}", secret_read(2, "bob")).unwrap();
    drop(stdin);
    let (code, err) = server.wait_exit(Duration::from_secs(30));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<Value> = (err.lines())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for l in &lines {
        assert!(l["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{l}");
        assert!(
            ["info", "warn", "error"].contains(&l["level"].as_str().unwrap()),
            "{l}"
        );
        assert!(l["msg"].is_string(), "{l}");
    }
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    let of = |e: &str| lines.iter().filter(|l| l["event"] == e).collect::<Vec<_>>();
    assert_eq!(events.first(), Some(&"input.stdin.reading"), "{events:?}");
    assert!(events.contains(&"serve.started"), "{events:?}");
    assert_eq!(events.last(), Some(&"serve.stopped"), "{events:?}");
    let problems = of("input.problem");
    assert_eq!(problems.len(), 10, "{err}");
    assert_eq!(problems[0]["level"], "warn");
    assert_eq!(problems[0]["input"], "stdin");
    assert_eq!(problems[0]["line"], 2);
    assert_eq!(problems[0]["kind"], "malformed");
    assert_eq!(
        problems[0]["msg"].as_str().unwrap().split(": ").nth(1),
        Some("line 2")
    );
    assert_eq!(problems[9]["line"], 11);
    let more = of("input.problems");
    assert_eq!(more.len(), 1, "{err}");
    assert_eq!(
        (more[0]["input"].as_str(), more[0]["lines"].as_u64()),
        (Some("stdin"), Some(3))
    );
    let input = of("input.stopped");
    assert_eq!(input.len(), 1);
    assert_eq!(
        (input[0]["events"].as_u64(), input[0]["problems"].as_u64()),
        (Some(2), Some(13))
    );
    let stopped = of("serve.stopped")[0];
    assert_eq!(stopped["level"], "info");
    assert_eq!(
        (stopped["events"].as_u64(), stopped["alerts"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        (stopped["malformed"].as_u64(), stopped["unknown"].as_u64()),
        (Some(12), Some(1))
    );
    assert_eq!(users(&server.alerts()), ["alice", "bob"]);
}

#[test]
fn a_rule_set_that_fails_its_check_is_one_json_error_line() {
    let dir = fresh_dir("json-logs-bad-rules");
    std::fs::write(
        dir.join("rules.ward"),
        "source k8s.audit\nrule r {\n  severity high\n  when objectRef.resorce == \"pods\"\n  output \"x\"\n}\n",
    )
    .unwrap();
    let config = format!(
        "rules: [{d}/rules.ward]\nlog: {{format: json}}\ninputs: {{stdin: true}}\n\
         sinks:\n  file: {{path: {d}/alerts.jsonl}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("ward.yaml"), config).unwrap();
    let out = serve_until_exit(&dir.join("ward.yaml"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert_eq!(
        (lines[0]["level"].as_str(), lines[0]["event"].as_str()),
        (Some("error"), Some("serve.failed"))
    );
    let msg = lines[0]["msg"].as_str().unwrap();
    assert!(
        msg.contains("E020") && msg.contains("objectRef.resource"),
        "{msg}"
    );
}

#[test]
fn syslog_over_udp_from_logger_and_every_datagram_the_kernel_drops_is_counted() {
    if logger_missing() || curl_missing() {
        return;
    }
    let dir = fresh_dir("syslog-udp");
    let hold = dir.join("hold");
    let config = "queue: {max_events: 4}\nmetrics: {listen: 127.0.0.1:0}\n\
                  inputs:\n  syslog:\n    - {listen: 127.0.0.1:0, protocol: udp}\n    \
                  - {name: big, listen: 127.0.0.1:0, protocol: udp, receive_buffer_bytes: 1GiB}\n";
    let server = Server::start_inputs(&dir, config, &[("WARD_SERVE_TEST_HOLD", &hold)], false);
    assert_eq!(server.syslog.len(), 2, "{}", server.stderr());
    let rmem_max: u64 = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .map_or(0, |t| t.trim().parse().unwrap_or(0));
    if rmem_max < 1 << 30 {
        let err = server.stderr();
        assert!(
            err.contains("big: receive buffer of ") && err.contains("not the 1073741824 asked"),
            "{err}"
        );
    }
    let addr = server.syslog[0].clone();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let logger = |args: &[&str], msg: &str| {
        let out = Command::new("timeout")
            .args(["10", "logger", "--udp", "-n", host, "-P", port])
            .args(args)
            .arg(msg)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    logger(&["--rfc5424"], &secret_read(1, "udp001").to_string());
    logger(&["--rfc3164"], &secret_read(2, "udp002").to_string());
    logger(&["--rfc5424"], "hello, not an event");
    let want = ["udp001", "udp002"].map(String::from).to_vec();
    assert_eq!(wait_users(&server, &want), want);
    let err = server.wait_stderr("no JSON event in the syslog message");
    // The input is named by its config (`listen` with port 0 here).
    assert!(err.contains("syslog-udp:127.0.0.1:0/127.0.0.1:"), "{err}");

    // Matching held and the queue full: the socket is not read, its
    // receive buffer fills and the kernel drops datagrams. Each one sent
    // is then either matched (an alert) or counted as dropped.
    std::fs::write(&hold, "").unwrap();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let pad = "x".repeat(1200);
    let sent = 3000;
    for i in 0..sent {
        let mut event = secret_read(10 + i, &format!("flood{i:05}"));
        event["annotations"] = serde_json::json!({ "pad": pad });
        let msg = format!("<14>1 - h app - - - {event}");
        socket.send_to(msg.as_bytes(), &addr).unwrap();
    }
    std::fs::remove_file(&hold).unwrap();
    let origin = server.metrics.clone().unwrap();
    let drops_metric = "ward_input_udp_drops_total{input=\"syslog-udp:127.0.0.1:0\"} ";
    let flooded = |alerts: &[Value]| {
        let n = users(alerts)
            .iter()
            .filter(|u| u.starts_with("flood"))
            .count();
        let (_, text) = server.get(&origin, "/metrics", None);
        let drops: u64 = (text.lines())
            .find_map(|l| l.strip_prefix(drops_metric)?.parse().ok())
            .unwrap_or(0);
        (n, drops)
    };
    let start = Instant::now();
    let (matched, dropped) = loop {
        let (n, d) = flooded(&server.alerts());
        if n as u64 + d == sent as u64 || start.elapsed() > Duration::from_secs(20) {
            break (n, d);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("udp flood of {sent}: {matched} matched, {dropped} dropped by the kernel");
    assert_eq!(matched as u64 + dropped, sent as u64, "{}", server.stderr());
    assert!(
        dropped > 0,
        "nothing dropped: the flood did not fill the buffer"
    );
    let err = server.stderr();
    assert!(err.contains("datagram(s) (receive buffer full"), "{err}");
    assert!(err.contains("their events are LOST"), "{err}");
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
}

/// `users`' secret reads, one JSON line each, as gzip bytes.
fn gzip_lines(users: &[String]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for (i, u) in users.iter().enumerate() {
        writeln!(gz, "{}", secret_read(i as i64, u)).unwrap();
    }
    gz.finish().unwrap()
}

#[test]
fn a_glob_at_end_follows_new_files_from_their_start_reads_gzip_and_documents_whole() {
    let dir = fresh_dir("glob");
    std::fs::create_dir_all(dir.join("logs")).unwrap();
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    let live = dir.join("logs/a.log");
    append(&live, &names("old", 0..3));
    let config = format!(
        "data_dir: {d}/data\ninputs:\n  files:\n    - {{path: '{d}/logs/*', start_at: end}}\n    \
         - {{path: '{d}/docs/*.json', format: document}}\n",
        d = dir.display()
    );
    let server = Server::start_inputs(&dir, &config, &[], false);
    // start_at: end skips what the file held at the first start only.
    std::thread::sleep(Duration::from_millis(400));
    append(&live, &names("a", 0..2));
    let mut want = names("a", 0..2);
    assert_eq!(wait_users(&server, &want), want);

    // Files that appear later under the glob are read from their start:
    // a plain one, and gzip (detected by its magic bytes, read whole).
    append(&dir.join("logs/b.log"), &names("b", 0..3));
    // (Written beside the glob's directory, then moved in whole.)
    std::fs::write(dir.join("c.gz"), gzip_lines(&names("gz", 0..4))).unwrap();
    std::fs::rename(dir.join("c.gz"), dir.join("logs/c.gz")).unwrap();
    // A document: an EventList written pretty, across lines.
    let list = serde_json::json!({
        "kind": "EventList",
        "apiVersion": "audit.k8s.io/v1",
        "items": [secret_read(1, "doc001"), secret_read(2, "doc002")],
    });
    let doc = serde_json::to_string_pretty(&list).unwrap();
    std::fs::write(dir.join("docs/list.json.tmp"), &doc).unwrap();
    std::fs::rename(dir.join("docs/list.json.tmp"), dir.join("docs/list.json")).unwrap();
    want.extend(names("b", 0..3));
    want.extend(names("gz", 0..4));
    want.extend(["doc001", "doc002"].map(String::from));
    want.sort();
    assert_eq!(wait_users(&server, &want), want);
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");

    // While stopped: a.log truncated and written anew, shorter than what
    // was read (copytruncate while ward is down).
    std::fs::write(&live, "").unwrap();
    append(&live, &names("t", 0..1));
    let server = Server::start_inputs(&dir, &config, &[], false);
    want.extend(names("t", 0..1));
    want.sort();
    // Nothing read before is read again: not the gzip file, the document
    // or b.log; and start_at: end does not apply to a known file.
    assert_eq!(wait_users(&server, &want), want);
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("{}: truncated while stopped", live.display())),
        "{err}"
    );
}

//! Shared by the `ward serve` tests: the binary on an ephemeral port with
//! certificates made here, curl as the client, SIGTERM to stop it.
// Each test crate uses a different subset.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const TOKEN: &str = "s3cret-token";

pub const RULES: &str = r#"source k8s.audit

rule secret_read {
  severity high
  when     verb == "get" and objectRef.resource == "secrets" and responseStatus.code == 200
  output   "secret {objectRef.namespace}/{objectRef.name} read by {user.username}"
}

rule refused_thrice {
  severity medium
  when     responseStatus.code == 403
  count    by user.username within 5m > 2
  output   "{user.username} refused"
}
"#;

/// A k8s audit event at `secs` seconds after 2024-05-01T10:00:00Z.
pub fn audit(secs: i64, verb: &str, resource: &str, user: &str, code: i64) -> Value {
    let t = format!(
        "2024-05-01T10:{:02}:{:02}.000000Z",
        secs / 60 % 60,
        secs % 60
    );
    json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": format!("00000000-0000-0000-0000-{secs:012}"),
        "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/prod/{resource}/web"),
        "verb": verb,
        "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["203.0.113.7"],
        "userAgent": "kubectl/v1.29.0 (linux/amd64) kubernetes/3f7a50f",
        "objectRef": {"resource": resource, "namespace": "prod", "name": "web", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": t,
        "stageTimestamp": t,
    })
}

pub fn event_list(items: &[Value]) -> String {
    json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items})
        .to_string()
}

pub fn curl_missing() -> bool {
    let found = Command::new("sh")
        .args(["-c", "command -v curl"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: curl is not on PATH");
    }
    !found
}

/// `ward serve --config CONFIG` run to its end: a start that fails.
pub fn serve_until_exit(config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["serve", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

pub fn fresh_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ward-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A CA and a server certificate it signed, for localhost and 127.0.0.1,
/// written as PEM files into `dir`: `ca.pem`, `cert.pem`, `key.pem`.
pub fn certificates(dir: &Path) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "ward test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
    (ca_cert, issuer)
}

/// A running `ward serve`.
pub struct Server {
    pub child: Child,
    pub dir: PathBuf,
    pub webhook: String,
    pub metrics: Option<String>,
    /// The syslog listeners' addresses (`127.0.0.1:PORT`), in order.
    pub syslog: Vec<String>,
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `ward serve` in `dir` (which holds the certificates) with
    /// `extra` appended to the config, and waits for it to listen.
    pub fn start(dir: &Path, extra: &str, env: &[(&str, &Path)]) -> Server {
        Server::start_with(dir, &format!("{{bearer_tokens: [{TOKEN}]}}"), extra, env)
    }

    /// [`Server::start`] with the `webhook.auth` given.
    pub fn start_with(dir: &Path, auth: &str, extra: &str, env: &[(&str, &Path)]) -> Server {
        Server::launch(dir, auth, "", extra, env)
    }

    /// [`Server::start`] with `sinks`, lines under the config's `sinks:`
    /// (indented by two), besides the file sink.
    pub fn start_sinks(dir: &Path, sinks: &str, extra: &str) -> Server {
        let auth = format!("{{bearer_tokens: [{TOKEN}]}}");
        Server::launch(dir, &auth, sinks, extra, &[])
    }

    /// Writes [`RULES`] to `rules.ward` unless the test wrote its own;
    /// `extra` may give its own `state:`.
    fn launch(dir: &Path, auth: &str, sinks: &str, extra: &str, env: &[(&str, &Path)]) -> Server {
        if !dir.join("rules.ward").exists() {
            std::fs::write(dir.join("rules.ward"), RULES).unwrap();
        }
        let state = match extra.contains("state:") {
            true => "",
            false => "state: {max_idle: 1h}\n",
        };
        let config = format!(
            "rules: [{d}/rules.ward]\n\
             webhook:\n  listen: 127.0.0.1:0\n  tls: {{cert: {d}/cert.pem, key: {d}/key.pem}}\n  \
             auth: {auth}\n  max_body_bytes: 64KiB\n\
             sinks:\n  file: {{path: {d}/alerts.jsonl}}\n{sinks}\
             alerts: {{event: false}}\n\
             {state}{extra}",
            d = dir.display()
        );
        Server::spawn(dir, &config, env, false)
    }

    /// Starts `ward serve` in `dir` with `inputs`, the config's lines
    /// besides rules, the file sink, alerts and state (no webhook unless
    /// given), and waits for it to have started. With `stdin`, the
    /// child's stdin is a pipe (`child.stdin`).
    pub fn start_inputs(dir: &Path, inputs: &str, env: &[(&str, &Path)], stdin: bool) -> Server {
        std::fs::write(dir.join("rules.ward"), RULES).unwrap();
        let config = format!(
            "rules: [{d}/rules.ward]\n\
             sinks:\n  file: {{path: {d}/alerts.jsonl}}\n\
             alerts: {{event: false}}\n\
             state: {{max_idle: 1h}}\n{inputs}",
            d = dir.display()
        );
        Server::spawn(dir, &config, env, stdin)
    }

    fn spawn(dir: &Path, config: &str, env: &[(&str, &Path)], stdin: bool) -> Server {
        std::fs::write(dir.join("ward.yaml"), config).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ward"));
        cmd.args(["serve", "--config"])
            .arg(dir.join("ward.yaml"))
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("ward runs");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let (mut webhook, mut metrics, mut seen) = (None, None, String::new());
        let mut syslog = Vec::new();
        loop {
            let Some(Ok(line)) = lines.next() else {
                panic!("ward serve ended before listening:\n{seen}");
            };
            seen += &line;
            seen.push('\n');
            // `log.format: json`: the same lines as objects.
            let line = match serde_json::from_str::<Value>(&line) {
                Ok(v) if line.starts_with('{') => {
                    let url = v["url"].as_str().unwrap_or_default();
                    match v["event"].as_str().unwrap_or_default() {
                        "input.webhook.listening" => format!("ward serve: webhook on {url}"),
                        "metrics.listening" => format!("ward serve: metrics on {url}"),
                        "input.syslog.listening" => format!("ward serve: syslog on {url}"),
                        "serve.started" => "ward serve: started".to_string(),
                        _ => line,
                    }
                }
                _ => line,
            };
            if let Some(url) = line.strip_prefix("ward serve: webhook on ") {
                webhook = Some(url.to_string());
            }
            if let Some(url) = line.strip_prefix("ward serve: metrics on ") {
                metrics = Some(url.trim_end_matches("/metrics").to_string());
            }
            if line.starts_with("ward serve: syslog ") {
                if let Some((_, addr)) = line.rsplit_once("://") {
                    syslog.push(addr.to_string());
                }
            }
            if line == "ward serve: started" {
                break;
            }
        }
        let stderr = Arc::new(Mutex::new(seen));
        let rest = stderr.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut s = rest.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Server {
            child,
            dir: dir.to_path_buf(),
            webhook: webhook.unwrap_or_default(),
            metrics,
            syslog,
            stderr,
        }
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The origin of the webhook listener (`https://127.0.0.1:PORT`).
    pub fn origin(&self) -> String {
        self.webhook.trim_end_matches("/audit").to_string()
    }

    /// POSTs `body` to the webhook with curl; (status, response body).
    pub fn post(&self, body: &str, token: Option<&str>) -> (u16, String) {
        self.post_with(body, token, &[])
    }

    /// [`Server::post`] with more curl arguments.
    pub fn post_with(&self, body: &str, token: Option<&str>, more: &[&str]) -> (u16, String) {
        let file = self.dir.join(format!("body-{}.json", body.len()));
        std::fs::write(&file, body).unwrap();
        let mut args = vec!["-X".to_string(), "POST".into(), "--data-binary".into()];
        args.push(format!("@{}", file.display()));
        args.extend(["-H".into(), "Content-Type: application/json".into()]);
        if let Some(t) = token {
            args.extend(["-H".into(), format!("Authorization: Bearer {t}")]);
        }
        args.extend(more.iter().map(|a| a.to_string()));
        args.push(self.webhook.clone());
        curl(&self.dir, &args)
    }

    /// GETs `path` of `origin`.
    pub fn get(&self, origin: &str, path: &str, token: Option<&str>) -> (u16, String) {
        let mut args = Vec::new();
        if let Some(t) = token {
            args.extend(["-H".into(), format!("Authorization: Bearer {t}")]);
        }
        args.push(format!("{origin}{path}"));
        curl(&self.dir, &args)
    }

    pub fn alerts(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.join("alerts.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until `f` holds of the alerts written (a second at most).
    pub fn wait_alerts(&self, f: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let alerts = self.alerts();
            if f(&alerts) || start.elapsed() > Duration::from_secs(10) {
                return alerts;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`HUP`, `TERM`) to the server.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }

    /// Waits until stderr holds `text` (ten seconds at most); stderr.
    pub fn wait_stderr(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let err = self.stderr();
            if err.contains(text) || start.elapsed() > Duration::from_secs(10) {
                return err;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the exit code and stderr (killed, -1, if it has not
    /// stopped within 30 s).
    pub fn terminate(mut self) -> (i32, String) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        self.wait_exit(Duration::from_secs(30))
    }

    /// Waits for the process to end by itself (killed after `limit`);
    /// the exit code (-1 when killed) and stderr.
    pub fn wait_exit(&mut self, limit: Duration) -> (i32, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(100));
        let err = self.stderr.lock().unwrap().clone();
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs curl against the test CA; (status, body).
pub fn curl(dir: &Path, args: &[String]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(dir.join("ca.pem"))
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let code = code.trim().parse().unwrap_or_else(|_| {
        panic!(
            "curl gave no status: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, body.to_string())
}

pub fn rules_of(alerts: &[Value]) -> Vec<&str> {
    alerts.iter().map(|a| a["rule"].as_str().unwrap()).collect()
}

pub fn secret_read(secs: i64, user: &str) -> Value {
    audit(secs, "get", "secrets", user, 200)
}

pub fn refused(secs: i64, user: &str) -> Value {
    audit(secs, "get", "pods", user, 403)
}

pub fn read_alerts(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("alerts.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

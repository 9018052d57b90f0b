//! `ward serve` end to end: the binary on an ephemeral port with a
//! self-signed certificate made here, real HTTPS clients (curl), alerts
//! read back from the file sink, SIGTERM to stop it.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

#[test]
fn tokens_guard_the_webhook_and_sigterm_flushes_the_windows() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("tokens");
    certificates(&dir);
    let server = Server::start(&dir, "", &[]);
    let origin = server.origin();
    assert_eq!(server.get(&origin, "/healthz", None).0, 200);
    assert_eq!(server.get(&origin, "/readyz", None).0, 200);

    // Refused credentials: 401, and nothing is evaluated.
    let by_mallory = event_list(&[secret_read(1, "mallory")]);
    let (code, body) = server.post(&by_mallory, None);
    assert_eq!(code, 401, "{body}");
    let (code, body) = server.post(&by_mallory, Some("not-the-token"));
    assert_eq!(code, 401, "{body}");

    let (code, body) = server.post(&event_list(&[secret_read(2, "alice")]), Some(TOKEN));
    assert_eq!((code, body.trim()), (200, r#"{"accepted":1}"#));
    let alerts = server.wait_alerts(|a| !a.is_empty());
    assert_eq!(rules_of(&alerts), ["secret_read"]);
    assert_eq!(alerts[0]["output"], "secret prod/web read by alice");

    // Too large: 413; not an EventList: 400 with why.
    let big = event_list(&vec![secret_read(3, "carol"); 200]);
    assert!(big.len() > 64 << 10);
    assert_eq!(server.post(&big, Some(TOKEN)).0, 413);
    // A client still sending when the server knows the answer gets it (the
    // server reads on and drops the rest), not a reset connection.
    let slow = ["--limit-rate", "100k", "-H", "Expect:"];
    let (code, body) = server.post_with(&big, Some(TOKEN), &slow);
    assert_eq!(code, 413, "{body}");
    let (code, body) = server.post(r#"{"kind":"PodList","apiVersion":"v1"}"#, Some(TOKEN));
    assert_eq!(code, 400);
    assert!(body.contains("not an audit EventList"), "{body}");
    let (code, body) = server.post("{not json", Some(TOKEN));
    assert_eq!(code, 400, "{body}");

    // Three refusals: the count completes once the lateness is over, here
    // at the stop, when the held events are released.
    let refusals: Vec<Value> = (10..13).map(|s| refused(s, "bob")).collect();
    assert_eq!(server.post(&event_list(&refusals), Some(TOKEN)).0, 200);
    // An item of no known source is counted, not dropped silently.
    let odd = event_list(&[json!({"hello": "world"})]);
    assert_eq!(server.post(&odd, Some(TOKEN)).0, 200);

    // /metrics needs the token on the webhook's listener.
    assert_eq!(server.get(&origin, "/metrics", None).0, 401);
    let start = Instant::now();
    let metrics = loop {
        let (code, text) = server.get(&origin, "/metrics", Some(TOKEN));
        assert_eq!(code, 200);
        if text.contains(r#"ward_events_problems_total{kind="unknown"} 1"#)
            || start.elapsed() > Duration::from_secs(10)
        {
            break text;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    for line in [
        r#"ward_events_total{source="k8s.audit"} 4"#,
        r#"ward_alerts_total{rule="secret_read"} 1"#,
        r#"ward_webhook_requests_total{code="401"} 2"#,
        r#"ward_webhook_requests_total{code="413"} 2"#,
        r#"ward_webhook_requests_total{code="400"} 2"#,
        r#"ward_webhook_requests_total{code="200"} 3"#,
        "ward_webhook_events_accepted_total 5",
        r#"ward_events_problems_total{kind="unknown"} 1"#,
        "ward_queue_events 0",
        "ward_webhook_queue_full_total 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no `{line}` in\n{metrics}"
        );
    }
    assert_eq!(rules_of(&server.alerts()), ["secret_read"]);

    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    let alerts = read_alerts(&dir);
    assert_eq!(
        rules_of(&alerts),
        ["secret_read", "refused_thrice"],
        "{err}"
    );
    assert_eq!(alerts[1]["output"], "bob refused");
    let summary = "ward serve: stopped; 4 event(s) matched, 2 alert(s), 1 without a known source";
    assert!(err.contains(summary), "{err}");
}

#[test]
fn a_full_queue_answers_429_and_loses_nothing() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("queue");
    certificates(&dir);
    let hold = dir.join("hold");
    std::fs::write(&hold, "").unwrap();
    let extra = "queue: {max_events: 2, retry_after_secs: 3}\nmetrics: {listen: 127.0.0.1:0}\n";
    let server = Server::start(&dir, extra, &[("WARD_SERVE_TEST_HOLD", &hold)]);
    let metrics = server.metrics.clone().unwrap();

    let two = event_list(&[secret_read(1, "alice"), secret_read(2, "bob")]);
    assert_eq!(server.post(&two, Some(TOKEN)).0, 200);
    let one = event_list(&[secret_read(3, "carol")]);
    let (code, body) = server.post(&one, Some(TOKEN));
    assert_eq!(code, 429, "{body}");
    assert!(
        body.contains("the queue is full (2 of 2 events waiting)"),
        "{body}"
    );
    // The Retry-After the API server's buffered backend waits for.
    let file = dir.join("one.json");
    std::fs::write(&file, &one).unwrap();
    let head = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-D", "-", "--cacert"])
        .arg(dir.join("ca.pem"))
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .arg("--data-binary")
        .arg(format!("@{}", file.display()))
        .arg(&server.webhook)
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).to_lowercase();
    assert!(head.contains("retry-after: 3"), "{head}");

    let (code, body) = server.get(&metrics, "/readyz", None);
    assert_eq!((code, body.trim()), (503, "the queue is full"));
    let (code, text) = server.get(&metrics, "/metrics", None);
    assert_eq!(code, 200);
    for line in [
        "ward_webhook_queue_full_total 2",
        "ward_webhook_events_refused_total 2",
        "ward_queue_events 2",
        r#"ward_webhook_requests_total{code="429"} 2"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    assert!(server.alerts().is_empty());
    let lag = |text: &str| -> f64 {
        (text.lines())
            .find_map(|l| l.strip_prefix("ward_queue_lag_seconds "))
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0)
    };
    assert_eq!(lag(&text), 0.0, "nothing taken yet:\n{text}");

    // The matching thread takes the queue again; the refused batch, sent
    // again, is accepted.
    std::thread::sleep(std::time::Duration::from_millis(50));
    std::fs::remove_file(&hold).unwrap();
    server.wait_alerts(|a| a.len() == 2);
    // The batch waited at least the 50 ms of the hold since the scrape.
    let waited = lag(&server.get(&metrics, "/metrics", None).1);
    assert!(waited >= 0.05, "ward_queue_lag_seconds {waited}");
    assert_eq!(server.get(&metrics, "/readyz", None).0, 200);
    assert_eq!(server.post(&one, Some(TOKEN)).0, 200);
    let alerts = server.wait_alerts(|a| a.len() == 3);
    let outputs: Vec<&str> = alerts
        .iter()
        .map(|a| a["output"].as_str().unwrap())
        .collect();
    assert_eq!(
        outputs,
        [
            "secret prod/web read by alice",
            "secret prod/web read by bob",
            "secret prod/web read by carol"
        ]
    );
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn client_certificates_signed_by_the_client_ca_are_accepted() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("mtls");
    let (_, issuer) = certificates(&dir);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kube-apiserver");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("client.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("client-key.pem"), key.serialize_pem()).unwrap();
    let auth = format!("{{client_ca: {}/ca.pem}}", dir.display());
    let server = Server::start_with(&dir, &auth, "", &[]);
    let list = event_list(&[secret_read(1, "alice")]);
    std::fs::write(dir.join("list.json"), &list).unwrap();
    let post = |cert: bool| {
        let mut args: Vec<String> = [
            "--data-binary".to_string(),
            format!("@{}/list.json", dir.display()),
        ]
        .into();
        if cert {
            args.extend(["--cert".into(), format!("{}/client.pem", dir.display())]);
            args.extend(["--key".into(), format!("{}/client-key.pem", dir.display())]);
        }
        args.push(server.webhook.clone());
        curl(&dir, &args)
    };
    assert_eq!(post(false).0, 401);
    assert_eq!(server.post(&list, Some(TOKEN)).0, 401);
    let (code, body) = post(true);
    assert_eq!(code, 200, "{body}");
    let alerts = server.wait_alerts(|a| !a.is_empty());
    assert_eq!(rules_of(&alerts), ["secret_read"]);
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
}

/// Writes a client certificate (and key) named `name.pem` with common
/// name `cn` and DNS names `dns`, signed by `issuer`.
fn client_cert(
    dir: &std::path::Path,
    issuer: &rcgen::Issuer<'static, rcgen::KeyPair>,
    name: &str,
    cn: &str,
    dns: &[&str],
) {
    let key = rcgen::KeyPair::generate().unwrap();
    let dns: Vec<String> = dns.iter().map(|d| d.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(dns).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, issuer).unwrap();
    std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
    std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
}

/// A certificate the client CA signed but `client_names` does not list is
/// authenticated and refused: 403, and none of its events is evaluated;
/// the API server's certificate, by common name or by DNS name, posts.
#[test]
fn client_names_refuse_other_certificates_of_the_ca_with_403() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("mtls-names");
    let (_, issuer) = certificates(&dir);
    client_cert(&dir, &issuer, "apiserver", "kube-apiserver", &[]);
    client_cert(
        &dir,
        &issuer,
        "by-dns",
        "someone",
        &["audit.apiserver.example"],
    );
    client_cert(
        &dir,
        &issuer,
        "kubelet",
        "system:node:ip-10-0-0-1",
        &["ip-10-0-0-1.ec2.internal"],
    );
    let auth = format!(
        "{{client_ca: {}/ca.pem, client_names: [kube-apiserver, audit.apiserver.example]}}",
        dir.display()
    );
    let server = Server::start_with(&dir, &auth, "", &[]);
    let post = |who: &str, user: &str| {
        let list = event_list(&[secret_read(1, user)]);
        std::fs::write(dir.join(format!("{who}.json")), &list).unwrap();
        let args: Vec<String> = vec![
            "--data-binary".into(),
            format!("@{}/{who}.json", dir.display()),
            "--cert".into(),
            format!("{}/{who}.pem", dir.display()),
            "--key".into(),
            format!("{}/{who}-key.pem", dir.display()),
            server.webhook.clone(),
        ];
        curl(&dir, &args)
    };
    let (code, body) = post("kubelet", "mallory");
    assert_eq!(code, 403, "{body}");
    assert!(
        body.contains("system:node:ip-10-0-0-1, ip-10-0-0-1.ec2.internal"),
        "{body}"
    );
    assert!(
        body.contains("is not one of webhook.auth.client_names"),
        "{body}"
    );
    assert_eq!(post("apiserver", "alice").0, 200);
    assert_eq!(post("by-dns", "bob").0, 200);
    let alerts = server.wait_alerts(|a| a.len() >= 2);
    let users: Vec<&str> = alerts
        .iter()
        .filter_map(|a| a["fields"]["user.username"].as_str())
        .collect();
    assert_eq!(users, ["alice", "bob"], "{alerts:?}");
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    // The refused request's events were never matched.
    assert!(err.contains("stopped; 2 event(s) matched"), "{err}");
}

#[test]
fn rule_and_config_errors_stop_the_start() {
    let dir = fresh_dir("errors");
    certificates(&dir);
    let bad_key = format!(
        "webhook:\n  listen: 127.0.0.1:0\n  tls: {{cert: {d}/cert.pem, key: {d}/key.pem}}\n  \
         auth: {{bearer_token: [x]}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("bad.yaml"), bad_key).unwrap();
    let out = serve_until_exit(&dir.join("bad.yaml"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("webhook.auth.bearer_token: unknown field `bearer_token`"),
        "{err}"
    );

    std::fs::write(
        dir.join("rules.ward"),
        "source k8s.audit\nrule r {\n  when objectRef.resorce == \"pods\"\n}\n",
    )
    .unwrap();
    let config = format!(
        "rules: [{d}/rules.ward]\nwebhook:\n  listen: 127.0.0.1:0\n  tls: {{cert: {d}/cert.pem, key: {d}/key.pem}}\n  \
         auth: {{bearer_tokens: [x]}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("ward.yaml"), config).unwrap();
    let out = serve_until_exit(&dir.join("ward.yaml"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("unknown field `objectRef.resorce`"), "{err}");
    assert!(!err.contains("webhook on"), "{err}");
}

/// A Cloud Logging sink to Pub/Sub with a push subscription to the
/// webhook: each request is one message, its base64 `data` a LogEntry.
/// Pub/Sub cannot set our header (it sends its own OIDC token there), so
/// with `query_token` the token is in the endpoint URL.
#[test]
fn pubsub_push_messages_of_cloud_audit_logs_are_read() {
    use base64::Engine;
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("pubsub");
    certificates(&dir);
    let rules = format!(
        "{RULES}\nsource gcp.audit\n\nrule gke_deleted {{\n  severity medium\n  \
         when protoPayload.methodName endswith \".DeleteCluster\" and operation.first == true\n  \
         output \"{{protoPayload.authenticationInfo.principalEmail}} deleted {{resource.labels.cluster_name}}\"\n}}\n"
    );
    std::fs::write(dir.join("rules.ward"), rules).unwrap();
    let auth = format!("{{bearer_tokens: [{TOKEN}], query_token: true}}");
    let server = Server::start_with(&dir, &auth, "", &[]);
    // The real first entry of a DeleteCluster operation.
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/samples/k8s-audit/gke_container_api_cloud_audit_logentries.jsonl");
    let text = std::fs::read_to_string(sample).unwrap();
    let entry = text.lines().nth(4).unwrap();
    let push = |data: &str, id: u32| {
        let data = base64::engine::general_purpose::STANDARD.encode(data);
        json!({"message": {"data": data, "messageId": id.to_string(),
                           "publishTime": "2024-09-13T01:37:14.123Z",
                           "attributes": {"logging.googleapis.com/timestamp": "2024-09-13T01:37:13Z"}},
               "subscription": "projects/p/subscriptions/ward"})
        .to_string()
    };
    let oidc = ["-H", "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"];
    let with_token = |token: &str| {
        let mut args: Vec<String> = oidc.iter().map(|s| s.to_string()).collect();
        args.extend(["-X".into(), "POST".into(), "--data-binary".into()]);
        args.push(push(entry, 1));
        args.push(format!("{}?token={token}", server.webhook));
        curl(&dir, &args)
    };
    let (code, body) = with_token(TOKEN);
    assert_eq!(
        (code, body.trim()),
        (200, r#"{"accepted":1}"#),
        "{}",
        server.stderr()
    );
    let alerts = server.wait_alerts(|a| !a.is_empty());
    assert_eq!(rules_of(&alerts), ["gke_deleted"]);
    assert_eq!(alerts[0]["output"], "user@example.com deleted gke-basic-1");
    assert_eq!(alerts[0]["input"]["via"], "pubsub");
    // A wrong token in the query is refused, whatever the header holds.
    let (code, body) = with_token("guess");
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("the token query parameter"), "{body}");
    // A body that is neither an EventList nor a push message says so.
    let (code, body) = server.post(r#"{"message": {"data": "e30="}}"#, Some(TOKEN));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("nor a Pub/Sub push message"), "{body}");
    // A message whose data is not a LogEntry is a problem counted, not an
    // event: the request was accepted (Pub/Sub would otherwise send it
    // again forever).
    let (code, _) = server.post(&push("not json", 2), Some(TOKEN));
    assert_eq!(code, 200);
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("message.data"), "{err}");
    assert_eq!(read_alerts(&dir).len(), 1);

    // Without query_token, a token in the query is not looked at.
    let dir = fresh_dir("pubsub-no-query");
    certificates(&dir);
    let server = Server::start(&dir, "", &[]);
    let url = format!("{}?token={TOKEN}", server.webhook);
    let args = ["-X", "POST", "--data-binary", "{}", &url].map(String::from);
    let (code, body) = curl(&dir, &args);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("credentials required"), "{body}");
}

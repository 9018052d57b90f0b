//! `ward serve` keeping state: a sequence's first step survives a restart
//! through the state snapshot, and rules reload on SIGHUP (a broken rule
//! file keeps the rules before running).

mod common;

use common::*;
use serde_json::Value;

const SEQUENCE: &str = r#"source k8s.audit

rule read_then_wipe {
  severity high
  sequence by user.username within 10m {
    read: verb == "get" and objectRef.resource == "secrets"
    wipe: verb == "delete" and objectRef.resource == "secrets"
  }
  output "{user.username} read then deleted a secret"
}
"#;

fn of_rule<'a>(alerts: &'a [Value], rule: &str) -> Vec<&'a Value> {
    alerts.iter().filter(|a| a["rule"] == rule).collect()
}

/// The first step, a restart, the second step: one alert with both steps
/// when the state is snapshotted; none without (the control).
fn first_step_restart_last_step(name: &str, snapshot: bool) -> (Vec<Value>, String) {
    let dir = fresh_dir(name);
    certificates(&dir);
    std::fs::write(dir.join("rules.ward"), SEQUENCE).unwrap();
    let extra = match snapshot {
        true => format!(
            "state: {{max_idle: 1h, snapshot: {{path: {}/state.json, interval: 1h}}}}\n",
            dir.display()
        ),
        false => String::new(),
    };
    let server = Server::start(&dir, &extra, &[]);
    let first = event_list(&[audit(0, "get", "secrets", "mallory", 200)]);
    let posted = server.post(&first, Some(TOKEN));
    assert_eq!(posted.0, 200, "{posted:?} {}", server.stderr());
    // Accepted is not yet matched: wait for the matching thread to count it.
    let origin = server.origin();
    let start = std::time::Instant::now();
    while !server
        .get(&origin, "/metrics", Some(TOKEN))
        .1
        .contains(r#"ward_events_total{source="k8s.audit"} 1"#)
    {
        assert!(start.elapsed().as_secs() < 10, "the event was not matched");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (code, err1) = server.terminate();
    assert_eq!(code, 0, "{err1}");
    assert!(read_alerts(&dir).is_empty(), "{err1}");
    assert_eq!(dir.join("state.json").exists(), snapshot, "{err1}");

    let server = Server::start(&dir, &extra, &[]);
    if snapshot {
        let err = server.wait_stderr("state: snapshot of");
        assert!(
            err.contains(
                "state of 1 rule(s) restored: read_then_wipe (0 key(s)); 1 held event(s) restored"
            ),
            "{err}"
        );
    }
    // The last step, then an event past the lateness (5m) that makes it
    // final.
    let last = event_list(&[
        audit(60, "delete", "secrets", "mallory", 200),
        audit(400, "list", "pods", "nobody", 200),
    ]);
    assert_eq!(server.post(&last, Some(TOKEN)).0, 200);
    if snapshot {
        server.wait_alerts(|a| !a.is_empty());
    }
    let (code, err2) = server.terminate();
    assert_eq!(code, 0, "{err2}");
    (read_alerts(&dir), format!("{err1}{err2}"))
}

#[test]
fn a_sequence_begun_before_a_restart_completes_after_it() {
    if curl_missing() {
        return;
    }
    let (alerts, err) = first_step_restart_last_step("state-snapshot", true);
    let fired = of_rule(&alerts, "read_then_wipe");
    assert_eq!(fired.len(), 1, "{alerts:?}\n{err}");
    let a = fired[0];
    assert_eq!(a["output"], "mallory read then deleted a secret");
    let w = &a["window"];
    assert_eq!(w["key"]["user.username"], "mallory");
    assert_eq!(w["count"], 2);
    assert_eq!(w["first"], "2024-05-01T10:00:00Z");
    assert_eq!(w["last"], "2024-05-01T10:01:00Z");
    let steps: Vec<&str> = (w["events"].as_array().unwrap().iter())
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["read", "wipe"]);
    // The first server's event (line 1) and the second's (line 1 again:
    // event numbers start over).
    assert_eq!(w["events"][0]["file"], "webhook");

    // The control: without a snapshot the stop closes the window.
    let (alerts, err) = first_step_restart_last_step("state-none", false);
    assert!(
        of_rule(&alerts, "read_then_wipe").is_empty(),
        "{alerts:?}\n{err}"
    );
}

#[test]
fn a_corrupt_snapshot_is_set_aside_and_the_server_starts_empty() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("state-corrupt");
    certificates(&dir);
    std::fs::write(dir.join("state.json"), "{\"format\": 1, \"clo").unwrap();
    let extra = format!(
        "state: {{max_idle: 1h, snapshot: {{path: {}/state.json}}}}\n",
        dir.display()
    );
    let server = Server::start(&dir, &extra, &[]);
    let err = server.wait_stderr("starting with EMPTY windows");
    assert!(err.contains("is not a usable snapshot"), "{err}");
    let aside: Vec<String> = (std::fs::read_dir(&dir).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("state.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "{err}");
    // It runs: a stateless alert, and at the stop a good snapshot.
    let list = event_list(&[secret_read(1, "alice")]);
    assert_eq!(server.post(&list, Some(TOKEN)).0, 200);
    server.wait_alerts(|a| !a.is_empty());
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(dir.join("state.json")).unwrap();
    assert!(text.starts_with("{\"format\":1,"), "{text}");
}

#[test]
fn sighup_reloads_the_rules_and_a_broken_file_keeps_the_old_ones() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("reload");
    certificates(&dir);
    let server = Server::start(&dir, "metrics: {listen: 127.0.0.1:0}\n", &[]);
    let metrics = server.metrics.clone().unwrap();
    let patch = event_list(&[audit(1, "patch", "configmaps", "alice", 200)]);
    // Two refusals of three: the count's state crosses the reload.
    let two = event_list(&[refused(10, "bob"), refused(11, "bob")]);
    assert_eq!(server.post(&two, Some(TOKEN)).0, 200);
    assert_eq!(server.post(&patch, Some(TOKEN)).0, 200);

    let added = format!(
        "{RULES}\nrule configmap_patch {{\n  severity low\n  \
         when verb == \"patch\" and objectRef.resource == \"configmaps\"\n  \
         output \"{{user.username}} patched a configmap\"\n}}\n"
    );
    std::fs::write(dir.join("rules.ward"), &added).unwrap();
    server.signal("HUP");
    let err = server.wait_stderr("rules reloaded");
    assert!(
        err.contains("rules reloaded: 3 rule(s); 1 added (configmap_patch), 0 removed, 0 changed; state of 1 rule(s) restored"),
        "{err}"
    );
    assert!(server.alerts().is_empty(), "{err}");
    assert_eq!(server.post(&patch, Some(TOKEN)).0, 200);
    let alerts = server.wait_alerts(|a| !a.is_empty());
    assert_eq!(rules_of(&alerts), ["configmap_patch"]);
    assert_eq!(alerts[0]["output"], "alice patched a configmap");

    // A broken file: the diagnostic is logged, the rules before go on.
    std::fs::write(
        dir.join("rules.ward"),
        added.replace(
            "objectRef.resource == \"configmaps\"",
            "objectRef.resorce == \"configmaps\"",
        ),
    )
    .unwrap();
    server.signal("HUP");
    let err = server.wait_stderr("rule reload FAILED");
    assert!(
        err.contains("the rules loaded before keep running"),
        "{err}"
    );
    assert!(err.contains("unknown field `objectRef.resorce`"), "{err}");
    assert_eq!(server.post(&patch, Some(TOKEN)).0, 200);
    let alerts = server.wait_alerts(|a| a.len() == 2);
    assert_eq!(rules_of(&alerts), ["configmap_patch", "configmap_patch"]);

    let (code, text) = server.get(&metrics, "/metrics", None);
    assert_eq!(code, 200);
    for line in [
        r#"ward_rule_reloads_total{result="ok"} 1"#,
        r#"ward_rule_reloads_total{result="failed"} 1"#,
        "ward_rules_loaded 3",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }

    // The third refusal: with the two from before the reload, the count
    // fires (at the stop, when the held events are released).
    assert_eq!(
        server
            .post(&event_list(&[refused(12, "bob")]), Some(TOKEN))
            .0,
        200
    );
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    let alerts = read_alerts(&dir);
    let refusals = of_rule(&alerts, "refused_thrice");
    assert_eq!(refusals.len(), 1, "{alerts:?}\n{err}");
    assert_eq!(refusals[0]["window"]["count"], 3);
}

#[test]
fn after_a_crash_the_last_interval_snapshot_is_restored() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("state-crash");
    certificates(&dir);
    std::fs::write(dir.join("rules.ward"), SEQUENCE).unwrap();
    let extra = format!(
        "state: {{max_idle: 1h, lateness: 0s, snapshot: {{path: {}/state.json, interval: 100ms}}}}\n\
         metrics: {{listen: 127.0.0.1:0}}\n",
        dir.display()
    );
    let mut server = Server::start(&dir, &extra, &[]);
    let metrics = server.metrics.clone().unwrap();
    let first = event_list(&[audit(0, "get", "secrets", "mallory", 200)]);
    assert_eq!(server.post(&first, Some(TOKEN)).0, 200);
    // A snapshot taken after the event was matched holds its key.
    let start = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(dir.join("state.json")).unwrap_or_default();
        if text.contains("mallory") {
            break;
        }
        assert!(start.elapsed().as_secs() < 10, "no snapshot with the key");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The file is renamed into place before the counter moves: wait for
    // the counter too, rather than read it in the gap between the two.
    loop {
        let (_, text) = server.get(&metrics, "/metrics", None);
        if text.contains(r#"ward_state_snapshots_total{result="ok"}"#) {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 10,
            "no snapshot counted\n{text}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // No stop: killed.
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    let server = Server::start(&dir, &extra, &[]);
    let err = server.wait_stderr("state: snapshot of");
    assert!(
        err.contains("state of 1 rule(s) restored: read_then_wipe (1 key(s))"),
        "{err}"
    );
    let last = event_list(&[audit(60, "delete", "secrets", "mallory", 200)]);
    assert_eq!(server.post(&last, Some(TOKEN)).0, 200);
    let alerts = server.wait_alerts(|a| !a.is_empty());
    assert_eq!(rules_of(&alerts), ["read_then_wipe"]);
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
    assert_eq!(read_alerts(&dir).len(), 1);
}

#[test]
fn a_changed_rule_file_is_reloaded_when_watched() {
    if curl_missing() {
        return;
    }
    let dir = fresh_dir("reload-watch");
    certificates(&dir);
    let server = Server::start(&dir, "reload: {watch: true, interval: 100ms}\n", &[]);
    let patch = event_list(&[audit(1, "patch", "configmaps", "alice", 200)]);
    let added = format!(
        "{RULES}\nrule configmap_patch {{\n  severity low\n  \
         when verb == \"patch\" and objectRef.resource == \"configmaps\"\n}}\n"
    );
    // Longer: the size changes even if the clock's grain hides the time.
    std::fs::write(dir.join("rules.ward"), added).unwrap();
    let err = server.wait_stderr("rules reloaded");
    assert!(
        err.contains("reloading the rules (a rule file changed)"),
        "{err}"
    );
    assert!(err.contains("1 added (configmap_patch)"), "{err}");
    assert_eq!(server.post(&patch, Some(TOKEN)).0, 200);
    let alerts = server.wait_alerts(|a| !a.is_empty());
    assert_eq!(rules_of(&alerts), ["configmap_patch"]);
    let (code, err) = server.terminate();
    assert_eq!(code, 0, "{err}");
}

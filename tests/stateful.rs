//! Stateful rules end to end: `ward scan` over ordered, disordered, late,
//! untimed and high-cardinality streams, with the exact alerts that
//! spec/language.md section 9 says they give.

mod common;

use common::{alerts_schema, conforms, dir, ward_in};
use serde_json::{json, Value};

/// A k8s audit event at `secs` seconds after 2024-05-01T10:00:00Z.
fn audit(secs: i64, verb: &str, resource: &str, user: &str, code: i64) -> Value {
    let t = format!(
        "2024-05-01T{:02}:{:02}:{:02}.000000Z",
        10 + secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": format!("00000000-0000-0000-0000-{secs:012}"),
        "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/prod/{resource}"),
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

fn lines(events: &[Value]) -> String {
    events.iter().map(|e| format!("{e}\n")).collect()
}

/// Scans `events` with `rules` (one file) and extra flags; returns (exit
/// code, alert lines as JSON, stderr).
fn scan(name: &str, rules: &str, events: &[Value], flags: &[&str]) -> (u8, Vec<Value>, String) {
    let d = dir(name, &[("r.ward", rules)]);
    let r = d.join("r.ward").display().to_string();
    let mut args = vec!["scan", "--no-event", "--rules", &r];
    args.extend_from_slice(flags);
    args.push("-");
    let (code, out, err) = ward_in(&args, lines(events).as_bytes());
    let alerts = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("alert lines are JSON"))
        .collect();
    (code, alerts, err)
}

const FAILURES: &str = r#"source k8s.audit
rule failures {
  severity medium
  when     responseStatus.code == 403
  count    by user.username within 5m > 2
  output   "{user.username} refused"
}
"#;

fn refused(secs: i64, user: &str) -> Value {
    audit(secs, "get", "secrets", user, 403)
}

fn lines_of(alerts: &[Value]) -> Vec<Vec<u64>> {
    alerts
        .iter()
        .map(|a| {
            a["window"]["events"]
                .as_array()
                .expect("events")
                .iter()
                .map(|e| e["line"].as_u64().expect("line"))
                .collect()
        })
        .collect()
}

#[test]
fn count_fires_once_per_window_at_the_threshold() {
    // Three refusals in 2 minutes (> 2): an alert at the third. The next
    // three fall in the quiet period after it; three more after the
    // period give a second alert.
    let times = [0, 60, 120, 130, 140, 150, 430, 440, 450];
    let events: Vec<Value> = times.iter().map(|&t| refused(t, "mallory")).collect();
    let (code, alerts, err) = scan("count-rearm", FAILURES, &events, &[]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let w = &alerts[0]["window"];
    assert_eq!(w["key"], json!({"user.username": "mallory"}));
    assert_eq!(w["count"], 3);
    assert_eq!(w["first"], "2024-05-01T10:00:00Z");
    assert_eq!(w["last"], "2024-05-01T10:02:00Z");
    assert_eq!(alerts[0]["input"]["line"], 3);
    assert_eq!(alerts[0]["output"], "mallory refused");
    assert_eq!(lines_of(&alerts), [vec![1, 2, 3], vec![7, 8, 9]]);
}

#[test]
fn count_window_edges() {
    // Exactly N (= 2) events: quiet.
    let (_, alerts, _) = scan(
        "count-exactly-n",
        FAILURES,
        &[refused(0, "a"), refused(10, "a")],
        &[],
    );
    assert!(alerts.is_empty());
    // The third exactly 5m after the first: inside the window.
    let (_, alerts, _) = scan(
        "count-at-edge",
        FAILURES,
        &[refused(0, "a"), refused(100, "a"), refused(300, "a")],
        &[],
    );
    assert_eq!(alerts.len(), 1);
    // One second later: the first has left the window.
    let (_, alerts, _) = scan(
        "count-past-edge",
        FAILURES,
        &[refused(0, "a"), refused(100, "a"), refused(301, "a")],
        &[],
    );
    assert!(alerts.is_empty());
    // Different keys do not add up.
    let (_, alerts, _) = scan(
        "count-keys",
        FAILURES,
        &[
            refused(0, "a"),
            refused(1, "b"),
            refused(2, "a"),
            refused(3, "b"),
        ],
        &[],
    );
    assert!(alerts.is_empty());
}

#[test]
fn disorder_within_the_lateness_gives_the_sorted_alerts() {
    let sorted = [refused(0, "a"), refused(60, "a"), refused(120, "a")];
    let shuffled = [refused(120, "a"), refused(0, "a"), refused(60, "a")];
    let (_, a, _) = scan("order-sorted", FAILURES, &sorted, &[]);
    let (_, b, err) = scan("order-shuffled", FAILURES, &shuffled, &[]);
    assert_eq!(a.len(), 1);
    assert_eq!(b.len(), 1, "{err}");
    assert_eq!(a[0]["window"]["first"], b[0]["window"]["first"]);
    assert_eq!(a[0]["window"]["last"], b[0]["window"]["last"]);
    // The trigger is the latest event, which is line 1 of the shuffled file.
    assert_eq!(b[0]["input"]["line"], 1);
    assert_eq!(lines_of(&b), [vec![2, 3, 1]]);
    assert!(!err.contains("late"), "{err}");
}

#[test]
fn late_events_are_counted_and_reported_not_dropped_silently() {
    // The third refusal arrives 4 minutes behind the latest event time.
    let events = [
        refused(0, "a"),
        refused(60, "a"),
        audit(300, "get", "pods", "someone", 200),
        refused(61, "a"),
    ];
    let (code, alerts, err) = scan("late", FAILURES, &events, &["--lateness", "1m"]);
    assert_eq!(code, 0, "{err}");
    assert!(alerts.is_empty());
    assert!(
        err.contains("1 late event(s), more than --lateness 1m behind the latest event time"),
        "{err}"
    );
    assert!(err.contains("-:line 4:"), "{err}");
    // With enough lateness the same input alerts.
    let (_, alerts, err) = scan("late-ok", FAILURES, &events, &["--lateness", "5m"]);
    assert_eq!(alerts.len(), 1, "{err}");
    assert!(!err.contains("late event"), "{err}");
}

#[test]
fn events_without_a_time_are_placed_at_the_latest_time_and_reported() {
    let mut untimed = refused(0, "a");
    // Neither the event time nor the fields it falls back to.
    let fields = untimed.as_object_mut().expect("object");
    for time in [
        "stageTimestamp",
        "requestReceivedTimestamp",
        "timestamp",
        "metadata",
    ] {
        fields.remove(time);
    }
    let events = [refused(0, "a"), refused(10, "a"), untimed];
    let (_, alerts, err) = scan("untimed", FAILURES, &events, &[]);
    assert_eq!(alerts.len(), 1, "{err}");
    assert!(err.contains("1 event(s) without a readable time"), "{err}");
    assert!(err.contains("-:line 3"), "{err}");
}

#[test]
fn processing_time_needs_no_timestamps() {
    let mut events = Vec::new();
    for _ in 0..3 {
        let mut e = refused(0, "a");
        e.as_object_mut().expect("object").remove("stageTimestamp");
        events.push(e);
    }
    let (_, alerts, err) = scan("processing", FAILURES, &events, &["--time", "processing"]);
    assert_eq!(alerts.len(), 1, "{err}");
    assert!(!err.contains("without a readable time"), "{err}");
}

#[test]
fn the_key_cap_evicts_counts_and_reports() {
    // 30 users with one refusal each fill a cap of 10 three times over;
    // then "a" (evicted long ago) needs three fresh refusals again.
    let mut events: Vec<Value> = (0..30).map(|i| refused(i, &format!("u{i}"))).collect();
    events.insert(0, refused(0, "a"));
    events.insert(1, refused(0, "a"));
    events.push(refused(40, "a"));
    let (_, alerts, err) = scan("cap", FAILURES, &events, &["--max-keys", "10"]);
    let diags: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["diagnostic"].is_string())
        .collect();
    let fired: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"].is_string() && a["diagnostic"].is_null())
        .collect();
    assert!(
        fired.is_empty(),
        "a's first two refusals were evicted: {alerts:?}"
    );
    assert!(!diags.is_empty());
    assert_eq!(diags[0]["diagnostic"], "state-cap");
    assert_eq!(diags[0]["rule"], "failures");
    assert_eq!(diags[0]["cap"], 10);
    let evicted: u64 = diags
        .iter()
        .map(|d| d["evicted"].as_u64().expect("n"))
        .sum();
    assert!(
        err.contains(&format!(
            "failures: {evicted} key(s) evicted at the cap of 10 live keys"
        )),
        "{err}"
    );
    // Without the cap the same stream alerts for "a".
    let (_, alerts, _) = scan("nocap", FAILURES, &events, &[]);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["window"]["key"]["user.username"], "a");
}

const SPREAD: &str = r#"source k8s.audit
rule spread {
  when  verb == "get" and objectRef.resource == "secrets"
  count distinct objectRef.namespace by user.username within 1h > 2
}
"#;

/// eve reads a secret in namespace `ns` at `secs`.
fn secret_read_in(secs: i64, ns: &str) -> Value {
    let mut e = audit(secs, "get", "secrets", "eve", 200);
    e["objectRef"]["namespace"] = json!(ns);
    e
}

#[test]
fn count_distinct_counts_values_not_events() {
    let (rules, at) = (SPREAD, secret_read_in);
    // prod twice, dev, then staging: the fourth distinct... the third
    // distinct value arrives with the fourth event.
    let events = [
        at(0, "prod"),
        at(10, "prod"),
        at(20, "dev"),
        at(30, "staging"),
    ];
    let (_, alerts, err) = scan("distinct", rules, &events, &[]);
    assert_eq!(alerts.len(), 1, "{err}");
    let w = &alerts[0]["window"];
    assert_eq!(w["count"], 3);
    assert_eq!(w["distinct"], json!(["prod", "dev", "staging"]));
    assert_eq!(alerts[0]["input"]["line"], 4);
    let (_, alerts, _) = scan("distinct-dupes", rules, &events[..3], &[]);
    assert!(alerts.is_empty());
}

/// A value counts while it was last seen within the window: one seen
/// only before it is gone, one seen again stays.
#[test]
fn count_distinct_forgets_values_last_seen_before_the_window() {
    let (rules, at) = (SPREAD, secret_read_in);
    // prod falls out of the hour before staging arrives: two values.
    let gone = [at(0, "prod"), at(1800, "dev"), at(3700, "staging")];
    let (_, alerts, err) = scan("distinct-gone", rules, &gone, &[]);
    assert!(alerts.is_empty(), "{alerts:?} {err}");
    // prod seen again at 3000 s is still in the hour at 3800 s.
    let again = [
        at(0, "prod"),
        at(3000, "prod"),
        at(3700, "dev"),
        at(3800, "staging"),
    ];
    let (_, alerts, err) = scan("distinct-again", rules, &again, &[]);
    assert_eq!(alerts.len(), 1, "{err}");
    let w = &alerts[0]["window"];
    assert_eq!(w["count"], 3);
    assert_eq!(w["distinct"], json!(["prod", "dev", "staging"]));
    assert_eq!(alerts[0]["input"]["line"], 4);
}

/// A value read many times keeps only its last sighting (the earlier
/// ones are dropped as they pile up: here at the 67th read, the last),
/// and that one still decides when it leaves the window.
#[test]
fn count_distinct_keeps_the_last_sighting_of_a_value_seen_often() {
    let (rules, at) = (SPREAD, secret_read_in);
    let mut events: Vec<Value> = (0..67).map(|s| at(s, "prod")).collect();
    events.push(at(3600, "dev"));
    // prod last seen at 66 s: in the hour at 3,650 s, out of it at 3,680 s.
    events.push(at(3650, "staging"));
    let (_, alerts, err) = scan("distinct-often", rules, &events, &[]);
    assert_eq!(alerts.len(), 1, "{err}");
    assert_eq!(
        alerts[0]["window"]["distinct"],
        json!(["prod", "dev", "staging"])
    );
    events.pop();
    events.push(at(3680, "staging"));
    let (_, alerts, err) = scan("distinct-often-gone", rules, &events, &[]);
    assert!(alerts.is_empty(), "{alerts:?} {err}");
}

const GRANT_EXEC: &str = r#"source k8s.audit
rule grant_exec {
  sequence by user.username within 10m {
    grant: verb == "create" and objectRef.resource == "clusterrolebindings"
    exec:  verb == "create" and objectRef.resource == "pods"
  }
}
"#;

fn grant(secs: i64, user: &str) -> Value {
    audit(secs, "create", "clusterrolebindings", user, 201)
}
fn exec(secs: i64, user: &str) -> Value {
    audit(secs, "create", "pods", user, 201)
}

#[test]
fn sequences_in_order_by_key_within_the_window() {
    let (_, a, _) = scan("seq", GRANT_EXEC, &[grant(0, "x"), exec(60, "x")], &[]);
    assert_eq!(a.len(), 1);
    let w = &a[0]["window"];
    assert_eq!(w["count"], 2);
    assert_eq!(w["events"][0]["step"], "grant");
    assert_eq!(w["events"][1]["step"], "exec");
    assert_eq!(w["events"][0]["fields"]["verb"], "create");
    assert_eq!(
        w["events"][0]["fields"]["objectRef.resource"],
        "clusterrolebindings"
    );
    // Wrong order, other user, past the window: nothing.
    for (name, events) in [
        ("seq-order", vec![exec(0, "x"), grant(60, "x")]),
        ("seq-user", vec![grant(0, "x"), exec(60, "y")]),
        ("seq-late", vec![grant(0, "x"), exec(601, "x")]),
    ] {
        let (_, a, _) = scan(name, GRANT_EXEC, &events, &[]);
        assert!(a.is_empty(), "{name}: {a:?}");
    }
    // Exactly at the window's end: inside.
    let (_, a, _) = scan(
        "seq-edge",
        GRANT_EXEC,
        &[grant(0, "x"), exec(600, "x")],
        &[],
    );
    assert_eq!(a.len(), 1);
}

#[test]
fn a_newer_partial_match_replaces_the_older() {
    // Two grants, then an exec 9 minutes after the second (11 after the
    // first): the match is the second grant's.
    let events = [grant(0, "x"), grant(120, "x"), exec(660, "x")];
    let (_, a, _) = scan("seq-newer", GRANT_EXEC, &events, &[]);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["window"]["events"][0]["line"], 2);
    // One exec completes one match: a second exec needs a new grant.
    let events = [grant(0, "x"), exec(10, "x"), exec(20, "x")];
    let (_, a, _) = scan("seq-once", GRANT_EXEC, &events, &[]);
    assert_eq!(a.len(), 1);
}

#[test]
fn one_event_moves_a_match_one_step() {
    let rules = r#"source k8s.audit
rule three_failures_then_success {
  sequence by user.username within 10m {
    f1: responseStatus.code == 401
    f2: responseStatus.code == 401
    f3: responseStatus.code == 401
    ok: responseStatus.code == 200
  }
}
"#;
    let fail = |s| audit(s, "get", "pods", "x", 401);
    let ok = |s| audit(s, "get", "pods", "x", 200);
    let (_, a, _) = scan("seq-steps-2", rules, &[fail(0), fail(1), ok(2)], &[]);
    assert!(a.is_empty(), "two failures are not three: {a:?}");
    let (_, a, _) = scan(
        "seq-steps-3",
        rules,
        &[fail(0), fail(1), fail(2), ok(3)],
        &[],
    );
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["window"]["count"], 4);
}

#[test]
fn until_and_not_steps_cancel() {
    let rules = r#"source k8s.audit
rule grant_exec_guarded {
  sequence by user.username within 10m {
    grant:      verb == "create" and objectRef.resource == "clusterrolebindings"
    not revoke: verb == "delete" and objectRef.resource == "clusterrolebindings"
    exec:       verb == "create" and objectRef.resource == "pods"
    until:      verb == "delete" and objectRef.resource == "serviceaccounts"
  }
}
"#;
    let revoke = audit(30, "delete", "clusterrolebindings", "x", 200);
    let sa_gone = audit(30, "delete", "serviceaccounts", "x", 200);
    let (_, a, _) = scan(
        "seq-not",
        rules,
        &[grant(0, "x"), revoke, exec(60, "x")],
        &[],
    );
    assert!(a.is_empty(), "{a:?}");
    let (_, a, _) = scan(
        "seq-until",
        rules,
        &[grant(0, "x"), sa_gone, exec(60, "x")],
        &[],
    );
    assert!(a.is_empty(), "{a:?}");
    let (_, a, _) = scan("seq-neither", rules, &[grant(0, "x"), exec(60, "x")], &[]);
    assert_eq!(a.len(), 1);
}

const NOT_RESTORED: &str = r#"source k8s.audit
rule policy_not_restored {
  sequence by objectRef.namespace, objectRef.name within 15m {
    deleted:      verb == "delete" and objectRef.resource == "networkpolicies"
    not restored: verb == "create" and objectRef.resource == "networkpolicies"
  }
}
"#;

fn policy(secs: i64, verb: &str, name: &str) -> Value {
    let mut e = audit(secs, verb, "networkpolicies", "ops", 200);
    e["objectRef"]["name"] = json!(name);
    e
}

#[test]
fn a_trailing_absence_fires_when_the_window_has_passed() {
    // Deleted, not restored; a later event of the rule moves time past
    // the window, and the match fires on the deletion.
    let events = [
        policy(0, "delete", "deny-all"),
        policy(901, "create", "other"),
    ];
    let (_, a, err) = scan("absent", NOT_RESTORED, &events, &[]);
    assert_eq!(a.len(), 1, "{err}");
    assert_eq!(a[0]["input"]["line"], 1);
    assert_eq!(a[0]["window"]["key"]["objectRef.name"], "deny-all");
    // Restored inside the window (at its very end): no alert.
    let events = [
        policy(0, "delete", "deny-all"),
        policy(900, "create", "deny-all"),
        policy(2000, "create", "other"),
    ];
    let (_, a, _) = scan("restored", NOT_RESTORED, &events, &[]);
    assert!(a.is_empty(), "{a:?}");
    // The input ends inside the window: no alert, and the summary says so.
    let (_, a, err) = scan(
        "open",
        NOT_RESTORED,
        &[policy(0, "delete", "deny-all")],
        &[],
    );
    assert!(a.is_empty());
    assert!(err.contains("1 sequence match(es) still waiting"), "{err}");
}

#[test]
fn a_leading_absence_keeps_a_match_from_starting() {
    let rules = r#"source k8s.audit
rule exec_without_ticket {
  sequence by user.username within 10m {
    not approved: verb == "create" and objectRef.resource == "configmaps"
    exec:         verb == "create" and objectRef.resource == "pods"
    second:       verb == "delete" and objectRef.resource == "pods"
  }
}
"#;
    let approve = audit(0, "create", "configmaps", "x", 201);
    let del = audit(120, "delete", "pods", "x", 200);
    let (_, a, _) = scan(
        "lead-approved",
        rules,
        &[approve, exec(60, "x"), del.clone()],
        &[],
    );
    assert!(a.is_empty(), "{a:?}");
    let (_, a, _) = scan("lead-none", rules, &[exec(60, "x"), del], &[]);
    assert_eq!(a.len(), 1);
}

#[test]
fn per_step_keys_join_across_fields() {
    // A service account is granted a role, then that service account (its
    // username) creates a pod.
    let rules = r#"source k8s.audit
rule sa_granted_then_acts {
  sequence within 10m {
    grant: verb == "create" and objectRef.resource == "rolebindings" by objectRef.name
    act:   verb == "create" and objectRef.resource == "pods" by user.username
  }
}
"#;
    let mut g = audit(0, "create", "rolebindings", "admin", 201);
    g["objectRef"]["name"] = json!("system:serviceaccount:prod:builder");
    let act = exec(60, "system:serviceaccount:prod:builder");
    let other = exec(60, "system:serviceaccount:prod:web");
    let (_, a, _) = scan("join", rules, &[g.clone(), act], &[]);
    assert_eq!(a.len(), 1);
    let (_, a, _) = scan("join-other", rules, &[g, other], &[]);
    assert!(a.is_empty());
}

#[test]
fn text_output_and_explain_describe_stateful_rules() {
    let d = dir("text", &[("r.ward", FAILURES)]);
    let r = d.join("r.ward").display().to_string();
    let events = lines(&[refused(0, "a"), refused(1, "a"), refused(2, "a")]);
    let (_, out, _) = ward_in(
        &["scan", "--format", "text", "--rules", &r, "-"],
        events.as_bytes(),
    );
    assert_eq!(
        out,
        "2024-05-01T10:00:02.000000Z [medium] failures: a refused\n"
    );
    let (_, out, _) = ward_in(&["explain", "--rules", &r], b"");
    assert!(
        out.contains("stateful: per user.username, counts matching events within a sliding 5m window; fires at 3 and is then quiet for 5m"),
        "{out}"
    );
    assert!(
        out.contains("counts events when: responseStatus.code == 403"),
        "{out}"
    );
}

#[test]
fn bad_stateful_flags_are_usage_errors() {
    let (code, _, err) = ward_in(&["scan", "--lateness", "soon", "-"], b"");
    assert_eq!(code, 2);
    assert!(err.contains("not a duration"), "{err}");
}

#[test]
fn stateful_alerts_and_diagnostic_lines_conform_to_the_documented_schemas() {
    let alert = alerts_schema("Ward alert");
    let diagnostic = alerts_schema("Ward diagnostic line");
    let mut events: Vec<Value> = (0..30).map(|i| refused(i, &format!("u{i}"))).collect();
    events.extend([refused(40, "a"), refused(41, "a"), refused(42, "a")]);
    let d = dir("schema", &[("r.ward", FAILURES), ("s.ward", GRANT_EXEC)]);
    let mut seq = vec![grant(50, "x"), exec(60, "x")];
    events.append(&mut seq);
    let (_, out, _) = ward_in(
        &[
            "scan",
            "--max-keys",
            "10",
            "--rules",
            &d.display().to_string(),
            "-",
        ],
        lines(&events).as_bytes(),
    );
    let (mut alerts, mut diags) = (0, 0);
    for l in out.lines() {
        let v: Value = serde_json::from_str(l).expect("JSON line");
        if v.get("diagnostic").is_some() {
            conforms(&diagnostic, &v, "diagnostic").unwrap_or_else(|e| panic!("{e}"));
            diags += 1;
        } else {
            conforms(&alert, &v, "alert").unwrap_or_else(|e| panic!("{e}"));
            assert!(v["window"].is_object());
            alerts += 1;
        }
    }
    assert_eq!((alerts, diags > 0), (2, true), "{out}");
    // The schema is strict: a stray key in a window fails.
    let mut bad: Value = serde_json::from_str(
        out.lines()
            .find(|l| l.contains("\"window\""))
            .expect("an alert"),
    )
    .expect("JSON");
    bad["window"]["extra"] = json!(1);
    assert!(conforms(&alert, &bad, "alert").is_err());
}

#[test]
fn keys_read_by_no_condition_are_extracted_and_agree_across_input_paths() {
    // The key (`objectRef.namespace`) and counted field (`objectRef.name`)
    // appear in no condition: the fast path must extract them, and give
    // what full decoding of the same events (an EventList) gives.
    let rules = r#"source k8s.audit
rule names_per_namespace {
  when  verb == "delete"
  count distinct objectRef.name by objectRef.namespace within 10m >= 2
}
"#;
    let del = |secs: i64, name: &str| {
        let mut e = audit(secs, "delete", "configmaps", "ops", 200);
        e["objectRef"]["name"] = json!(name);
        e
    };
    let events = [del(0, "a"), del(10, "a"), del(20, "b")];
    let (_, fast, _) = scan("path-lines", rules, &events, &[]);
    let list = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": events});
    let (_, full, _) = scan("path-list", rules, &[list], &[]);
    assert_eq!(fast.len(), 1);
    assert_eq!(full.len(), 1);
    assert_eq!(
        fast[0]["window"]["key"],
        json!({"objectRef.namespace": "prod"})
    );
    assert_eq!(fast[0]["window"]["distinct"], json!(["a", "b"]));
    assert_eq!(fast[0]["window"]["key"], full[0]["window"]["key"]);
    assert_eq!(fast[0]["window"]["distinct"], full[0]["window"]["distinct"]);
    assert_eq!(fast[0]["window"]["count"], full[0]["window"]["count"]);
}

#[test]
fn keys_are_values_not_spellings() {
    // One user's name spelled three ways in the JSON text (plain, with a
    // `\u` escape, with an escaped `/`): one key, so three refusals make
    // one alert. The same letters in another case are another user.
    let line = |t: i64, spelled: &str| {
        let plain = refused(t, "mallory/").to_string();
        plain.replace(r#""mallory/""#, spelled)
    };
    let input = [
        line(0, r#""Mallory/""#),
        line(10, r#""mallory/""#),
        line(20, r#""mall\u006fry/""#),
        line(30, r#""mallory\/""#),
    ]
    .join("\n");
    let d = dir("key-spellings", &[("r.ward", FAILURES)]);
    let r = d.join("r.ward").display().to_string();
    let (code, out, err) = ward_in(
        &["scan", "--no-event", "--rules", &r, "-"],
        input.as_bytes(),
    );
    assert_eq!(code, 1, "{err}");
    let alerts: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(alerts.len(), 1, "{out}");
    assert_eq!(
        alerts[0]["window"]["key"],
        json!({"user.username": "mallory/"})
    );
    assert_eq!(lines_of(&alerts), [vec![2, 3, 4]]);
}

/// Alerts as (rule, key, first, last, count): what does not depend on
/// where in the input an event sat.
fn summary(alerts: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = alerts
        .iter()
        .filter(|a| a["diagnostic"].is_null())
        .map(|a| {
            let w = &a["window"];
            format!(
                "{} {} {} {} {}",
                a["rule"], w["key"], w["first"], w["last"], w["count"]
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn disorder_below_the_lateness_never_changes_the_alerts() {
    // Random streams (a fixed-seed generator): five users refusing, granting
    // and exec'ing over 40 minutes, each event at its own second. Shuffled
    // so that no event arrives more than 90 s of event time after a later
    // one, they must give exactly the alerts of the sorted stream.
    let rules = format!(
        "{FAILURES}\n{}",
        GRANT_EXEC.replace("source k8s.audit\n", "")
    );
    let mut seed: u64 = 0x5eed;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for round in 0..8 {
        let mut times: Vec<i64> = (0..2400).collect();
        let mut timed = Vec::new();
        for _ in 0..150 {
            let t = times.swap_remove(next(times.len() as u64) as usize);
            let user = format!("u{}", next(5));
            timed.push((
                t,
                match next(4) {
                    0 => grant(t, &user),
                    1 => exec(t, &user),
                    _ => refused(t, &user),
                },
            ));
        }
        timed.sort_by_key(|(t, _)| *t);
        let events: Vec<Value> = timed.iter().map(|(_, e)| e.clone()).collect();
        // Bounded disorder: arrival order is time plus a random delay of up
        // to 90 s (in tenths, so that ties are rare).
        let mut delayed: Vec<(i64, Value)> = timed
            .iter()
            .map(|(t, e)| (t * 10 + next(900) as i64, e.clone()))
            .collect();
        delayed.sort_by_key(|(k, _)| *k);
        let shuffled: Vec<Value> = delayed.into_iter().map(|(_, e)| e).collect();
        assert_ne!(shuffled, events, "round {round}: the shuffle moved nothing");
        let (_, sorted_alerts, _) = scan(&format!("disorder-sorted-{round}"), &rules, &events, &[]);
        let (_, shuffled_alerts, err) = scan(
            &format!("disorder-shuffled-{round}"),
            &rules,
            &shuffled,
            &[],
        );
        assert!(!err.contains("late event"), "round {round}: {err}");
        assert!(
            !sorted_alerts.is_empty(),
            "round {round}: the stream alerts"
        );
        assert_eq!(
            summary(&sorted_alerts),
            summary(&shuffled_alerts),
            "round {round}"
        );
        // The shuffle is real disorder: with a lateness below it, events
        // come late and the alerts may differ.
        let (_, _, err) = scan(
            &format!("disorder-tight-{round}"),
            &rules,
            &shuffled,
            &["--lateness", "10s"],
        );
        assert!(err.contains("late event"), "round {round}: {err}");
    }
}

#[test]
fn a_stateful_alert_shows_its_line_as_written() {
    // Lines with their keys in reverse order and spaced out: the alert a
    // line completes carries that line's text unchanged, as a stateless
    // rule's alert does (spec/alerts.md), and reads its key from it.
    let written = |t: i64| {
        let v = refused(t, "mallory");
        let members: Vec<String> = (v.as_object().expect("object").iter().rev())
            .map(|(k, v)| format!("{}: {v}", json!(k)))
            .collect();
        format!("{{ {} }}", members.join(",  "))
    };
    let input: Vec<String> = (0..3).map(|i| written(i * 10)).collect();
    let d = dir("stateful-line-as-written", &[("r.ward", FAILURES)]);
    let r = d.join("r.ward").display().to_string();
    let (code, out, err) = ward_in(&["scan", "--rules", &r, "-"], input.join("\n").as_bytes());
    assert_eq!(code, 1, "{err}");
    let alerts: Vec<&str> = out.lines().collect();
    assert_eq!(alerts.len(), 1, "{out}");
    assert!(
        alerts[0].ends_with(&format!(r#""event":{}}}"#, input[2])),
        "{}",
        alerts[0]
    );
    let alert: Value = serde_json::from_str(alerts[0]).expect("JSON");
    assert_eq!(alert["window"]["key"], json!({"user.username": "mallory"}));
    assert_eq!(alert["fields"]["responseStatus.code"], 403);
    assert_eq!(alert["input"]["line"], 3);
    conforms(&alerts_schema("Ward alert"), &alert, "alert").unwrap_or_else(|e| panic!("{e}"));
}

/// Events held for ordering are bounded by --max-held-bytes: 3,000 events
/// of one timestamp (none ever final by time alone) are released early
/// past the bound, counted and listed; the count still fires once per key
/// and window, as without the bound.
#[test]
fn events_held_for_ordering_are_bounded() {
    let events: Vec<Value> = (0..3000)
        .map(|i| refused(0, &format!("u{}", i % 3)))
        .collect();
    let summary = std::env::temp_dir().join(format!("ward-held-{}.json", std::process::id()));
    let s = summary.to_str().expect("path");
    let (_, unbounded, _) = scan("held-all", FAILURES, &events, &[]);
    let flags = ["--max-held-bytes", "64KiB", "--summary-json", s];
    let (code, alerts, err) = scan("held", FAILURES, &events, &flags);
    assert_eq!(code, 1, "{err}");
    assert_eq!(alerts.len(), 3, "one per user: {err}");
    assert_eq!(alerts.len(), unbounded.len());
    assert!(
        err.contains("released to stateful rules before --lateness 5m ran out"),
        "{err}"
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    let early = json["state"]["released_early"].as_u64().expect("count");
    assert!(early > 2000, "{early}");
    let peak = json["state"]["peak_held_bytes"].as_u64().expect("peak");
    // The bound, and at most the one event that crossed it.
    assert!(peak <= 64 * 1024 + 4096, "{peak}");
    let _ = std::fs::remove_file(summary);
}

/// Events without a time before any with one are not held: on a stream
/// that has no times at all, nothing waits for the end of input.
#[test]
fn untimed_events_on_an_untimed_stream_are_not_held() {
    let untimed: Vec<Value> = (0..5)
        .map(|_| {
            let mut e = refused(0, "a");
            e.as_object_mut().expect("object").remove("stageTimestamp");
            e.as_object_mut()
                .expect("object")
                .remove("requestReceivedTimestamp");
            e
        })
        .collect();
    let summary = std::env::temp_dir().join(format!("ward-untimed-{}.json", std::process::id()));
    let s = summary.to_str().expect("path");
    let (_, alerts, err) = scan("untimed-stream", FAILURES, &untimed, &["--summary-json", s]);
    assert_eq!(alerts.len(), 1, "{err}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    assert_eq!(json["state"]["peak_held_bytes"], json!(0));
    assert_eq!(json["state"]["untimed"], json!(5));
    let _ = std::fs::remove_file(summary);
}

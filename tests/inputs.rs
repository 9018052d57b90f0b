//! End-to-end tests of reading input (spec/inputs.md): public events in
//! the shapes other tools write them are read, not skipped; lines of no
//! known source are counted, listed, warned about and, with `--strict`,
//! fail the scan; `--source` names the source of odd exports; the summary
//! counts known, unknown, malformed and drifted lines in text and JSON.

mod common;

use common::ward;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

fn shapes(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples/k8s-audit/shapes")
        .join(name)
        .display()
        .to_string()
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("ward-inputs-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).expect("write temp file");
    p
}

/// `ward scan ARGS --summary-json`: exit code, alerts, stderr, summary.
fn scan(args: &[&str], tag: &str) -> (u8, Vec<Value>, String, Value) {
    let summary = std::env::temp_dir().join(format!(
        "ward-inputs-{}-{tag}-summary.json",
        std::process::id()
    ));
    let mut all = vec!["scan", "--no-event", "--summary-json"];
    all.push(summary.to_str().expect("path"));
    all.extend_from_slice(args);
    let (code, out, err) = ward(&all);
    let alerts = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("alert line"))
        .collect();
    let text = std::fs::read_to_string(&summary).expect("summary written");
    let _ = std::fs::remove_file(&summary);
    (
        code,
        alerts,
        err,
        serde_json::from_str(&text).expect("summary JSON"),
    )
}

/// (input line, rule) of each alert.
fn fired(alerts: &[Value]) -> Vec<(u64, String)> {
    alerts
        .iter()
        .map(|a| {
            let line = a["input"]["line"].as_u64().unwrap_or_default();
            (line, a["rule"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn pairs(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|(l, r)| (*l, r.to_string())).collect()
}

/// A sample file: events read, lines of unknown source, (line, rule) of
/// each alert.
type Case = (&'static str, u64, u64, &'static [(u64, &'static str)]);

/// Every public sample of an unusual shape is read as events, and the
/// detections that concern them fire. Reviewed against each event: see
/// tests/samples/k8s-audit/shapes/README.md for what each line is.
#[test]
fn public_events_in_every_shape_are_read() {
    let cases: &[Case] = &[
        // Falco traces without apiVersion (exec, attach, binding), the
        // Kubernetes docs' v1alpha1 EventList item without kind, a
        // detection repository's event with `kind` only.
        (
            "no_apiversion.jsonl",
            5,
            0,
            &[
                (1, "k8s_exec_into_pod"),
                (2, "k8s_exec_into_pod"),
                (3, "k8s_rbac_binding_changed"),
                (3, "k8s_role_binding_created_or_deleted"),
            ],
        ),
        // Anonymous namespace create, a privileged pod.
        (
            "v1beta1.jsonl",
            3,
            0,
            &[
                (1, "k8s_anonymous_request_allowed"),
                (1, "k8s_namespace_created_or_deleted"),
                (2, "k8s_namespace_created_or_deleted"),
                (3, "k8s_privileged_container"),
            ],
        ),
        ("v1alpha1.jsonl", 2, 0, &[]),
        // Panther re-exports: SIEM times, p_* keys, `at_sign_type`.
        (
            "siem_panther.jsonl",
            7,
            0,
            &[
                (1, "k8s_anonymous_request_allowed"),
                // Panther's anonymous request refused (403, forbid).
                (3, "k8s_anonymous_request_refused"),
                (6, "k8s_privileged_container"),
            ],
        ),
        (
            "gke_no_servicename.jsonl",
            4,
            0,
            &[
                (1, "k8s_exec_into_pod"),
                (2, "k8s_exec_into_pod"),
                (3, "k8s_exec_into_pod"),
                (4, "k8s_sensitive_host_path"),
                (4, "k8s_host_path_volume"),
            ],
        ),
        // HNAP1 refused, a readyz probe (excepted), discovery by a
        // controller, and two entries with only an authoritySelector.
        (
            "gke_anonymous.jsonl",
            5,
            0,
            &[
                // The HNAP1 probe, refused.
                (1, "k8s_anonymous_request_refused"),
                (4, "k8s_anonymous_request_allowed"),
                (5, "k8s_anonymous_request_allowed"),
            ],
        ),
        // Line 2 is Elastic's stub record whose log is `{"kind":"Event"}`:
        // no event, and said so.
        (
            "aks_diagnostic.jsonl",
            5,
            1,
            &[
                (5, "k8s_anonymous_request_allowed"),
                (6, "k8s_exec_into_pod"),
            ],
        ),
        ("constructed_aks_records.json", 3, 0, &[]),
    ];
    for (file, known, unknown, want) in cases {
        let (_, alerts, err, summary) = scan(&[&shapes(file)], file);
        assert_eq!(summary["counts"]["known"], json!(known), "{file}: {err}");
        assert_eq!(
            summary["counts"]["unknown"],
            json!(unknown),
            "{file}: {err}"
        );
        assert_eq!(summary["counts"]["malformed"], json!(0), "{file}: {err}");
        let mut got = fired(&alerts);
        let mut want = pairs(want);
        got.sort();
        want.sort();
        assert_eq!(got, want, "{file}");
    }
}

/// The time of an event without `stageTimestamp` is its v1beta1
/// `timestamp`; a SIEM's time without `T` and zone is read as UTC.
#[test]
fn older_and_re_exported_times_are_event_times() {
    let (_, alerts, _, _) = scan(&[&shapes("v1alpha1.jsonl")], "alpha");
    assert!(alerts.is_empty());
    let ev = json!({"verb": "create", "user": {"username": "system:anonymous", "groups": ["system:unauthenticated"]},
        "requestURI": "/api/v1/namespaces", "objectRef": {"resource": "namespaces"},
        "responseStatus": {"code": 201}, "timestamp": "2018-10-25T13:58:49Z",
        "annotations": {"authorization.k8s.io/decision": "allow"}});
    let f = temp("beta-time.jsonl", format!("{ev}\n").as_bytes());
    let (_, alerts, _, summary) = scan(&[f.to_str().expect("path")], "beta-time");
    assert_eq!(summary["counts"]["known"], json!(1));
    assert_eq!(alerts[0]["time"], json!("2018-10-25T13:58:49Z"));
    assert_eq!(summary["state"]["untimed"], json!(0));
}

/// A file of lines of no known source: every line listed with its reason
/// (the first ten), a warning that names the likely cause and --source,
/// exit 0 (nothing fired) but exit 2 under --strict.
#[test]
fn unknown_lines_are_loud() {
    let mut text = String::new();
    for i in 0..12 {
        // A trace that kept only who did what: no requestURI or objectRef.
        text += &format!(
            "{}\n",
            json!({"verb": "get", "user": {"username": format!("u{i}")}, "ts": i})
        );
    }
    let f = temp("unknown.jsonl", text.as_bytes());
    let path = f.to_str().expect("path");
    let (code, alerts, err, summary) = scan(&[path], "unknown");
    assert_eq!((code, alerts.len()), (0, 0), "{err}");
    assert!(
        err.contains("0 event(s) (none), 0 alert(s), 12 problem line(s): 12 of unknown source"),
        "{err}"
    );
    assert_eq!(
        err.matches("not an event of a known source").count(),
        10 + 1,
        "{err}"
    );
    assert!(err.contains("... and 2 more problem line(s)"), "{err}");
    let warning = err
        .lines()
        .find(|l| l.starts_with("warning: "))
        .expect("a warning");
    assert!(
        warning
            .contains("unknown.jsonl: no event read; 12 line(s) held none (12 of unknown source)"),
        "{warning}"
    );
    assert!(
        warning.contains("has `verb`, `user` of k8s.audit, which needs a string `verb`, `requestURI` or `objectRef`"),
        "the likely cause: {warning}"
    );
    assert!(warning.contains("--source SOURCE"), "{warning}");
    assert_eq!(summary["counts"]["unknown"], json!(12));
    assert_eq!(
        summary["files"][0]["warning"].as_str(),
        Some(&warning["warning: ".len()..])
    );
    assert_eq!(summary["problems"].as_array().map(Vec::len), Some(10));
    assert_eq!(summary["problems"][0]["kind"], json!("unknown"));
    assert_eq!(summary["problems"][3]["line"], json!(4));
    assert_eq!(summary["exit"], json!(0));

    let (code, _, err, summary) = scan(&["--strict", path], "unknown-strict");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("12 line(s) held no event (--strict); their events are lost; exit 2"),
        "{err}"
    );
    // --allow-problems and --strict contradict each other.
    let (code, _, err) = ward(&["scan", "--strict", "--allow-problems", path]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot be used with"), "{err}");
    assert_eq!(summary["exit"], json!(2));
}

/// `--source` takes every event as the named source: the same trace
/// lines are then read and matched.
#[test]
fn a_forced_source_reads_an_odd_export() {
    let line = json!({"verb": "create", "user": {"username": "alice"},
        "objectRef": {"resource": "pods", "subresource": "exec", "namespace": "prod", "name": "web"},
        "requestURI": "/api/v1/namespaces/prod/pods/web/exec?command=sh",
        "responseStatus": {"code": 101}});
    // Without `user`, `auditID`, `stage` or `kind`, its shape is unsure.
    let mut odd = line.clone();
    odd.as_object_mut().expect("object").remove("user");
    odd["actor"] = json!("alice");
    let f = temp("odd.jsonl", format!("{odd}\n{odd}\n").as_bytes());
    let path = f.to_str().expect("path");
    let (_, alerts, _, summary) = scan(&[path], "odd");
    assert_eq!(
        (alerts.len(), summary["counts"]["unknown"].clone()),
        (0, json!(2))
    );
    let (code, alerts, err, summary) = scan(&["--source", "k8s.audit", path], "odd-forced");
    assert_eq!(code, 1, "{err}");
    assert_eq!(summary["counts"]["known"], json!(2));
    assert_eq!(summary["sources"], json!({"k8s.audit": 2}));
    assert_eq!(
        fired(&alerts),
        pairs(&[(1, "k8s_exec_into_pod"), (2, "k8s_exec_into_pod")])
    );
    let (code, _, err) = ward(&["scan", "--source", "k8s", path]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown source `k8s`"), "{err}");
}

/// Cloud Audit Logs entries of Google Cloud services are events of
/// gcp.audit; the Kubernetes API's are mapped onto k8s.audit, unless
/// `--source gcp.audit` asks for them as they are.
#[test]
fn google_cloud_audit_entries_are_gcp_audit() {
    let sample = |f: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/samples/k8s-audit")
            .join(f)
            .display()
            .to_string()
    };
    let gke_ops = sample("gke_container_api_cloud_audit_logentries.jsonl");
    let rules = temp(
        "gcp.ward",
        br#"source gcp.audit

rule node_pool_op {
  severity low
  when protoPayload.methodName endswith "NodePool"
       and operation.first == true
  output "{protoPayload.authenticationInfo.principalEmail} {protoPayload.methodName} {resource.labels.cluster_name}"
}
"#,
    );
    let rules = rules.to_str().expect("path");
    let (code, alerts, err, summary) = scan(&["--rules", rules, &gke_ops], "gcp");
    assert_eq!(code, 1, "{err}");
    assert_eq!(summary["sources"], json!({"gcp.audit": 9}), "{err}");
    assert_eq!(summary["counts"]["unknown"], json!(0));
    assert_eq!(summary["counts"]["drifted"], json!(0));
    assert_eq!(
        fired(&alerts),
        pairs(&[(7, "node_pool_op"), (9, "node_pool_op")])
    );
    assert_eq!(
        alerts[0]["output"],
        "user@example.com google.container.v1.ClusterManager.CreateNodePool gke-basic-1"
    );

    // An entry read from a JSON line is that line's text in the alert,
    // unchanged (read on the fast path, not decoded and written again).
    let line = r#"{"timestamp":"2024-09-13T01:40:00Z","protoPayload":{"serviceName":"container.googleapis.com","methodName":"google.container.v1.ClusterManager.DeleteNodePool","status":{}},"operation":{"first":true,"id":"op-1"},"insertId":"z1","logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity"}"#;
    let one = temp("gcp-one.jsonl", format!("{line}\n").as_bytes());
    let (code, out, err) = ward(&["scan", "--rules", rules, one.to_str().expect("path")]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains(&format!(r#""event":{line}"#)), "{out}");

    // An export that dropped serviceName: known by logName, in full.
    let bare = r#"{"logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity","protoPayload":{"methodName":"SetIamPolicy"},"timestamp":"2024-09-13T01:41:00Z"}"#;
    let bare = temp("gcp-bare.jsonl", format!("{bare}\n").as_bytes());
    let (_, _, err, summary) = scan(&[bare.to_str().expect("path")], "gcp-bare");
    assert_eq!(summary["sources"], json!({"gcp.audit": 1}), "{err}");

    let gke_k8s = sample("gke_k8s_audit_logentries.jsonl");
    let (_, _, err, summary) = scan(&[&gke_k8s], "gke-k8s");
    assert_eq!(summary["sources"], json!({"k8s.audit": 3}), "{err}");
    let (_, _, err, summary) = scan(&["--source", "gcp.audit", &gke_k8s], "gke-raw");
    assert_eq!(summary["sources"], json!({"gcp.audit": 3}), "{err}");
    assert_eq!(summary["counts"]["drifted"], json!(0));
}

/// The summary's counts of known, unknown, malformed, over-long and
/// drifted lines, per file and in all, in text and JSON.
#[test]
fn the_summary_counts_every_kind_of_line() {
    let good = json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "get",
        "requestURI": "/api/v1/pods", "user": {"username": "u"}, "stageTimestamp": "2024-01-01T00:00:00Z"});
    let mut drifted = good.clone();
    // A SIEM flattened the status code to a string.
    drifted["responseStatus"] = json!({"code": "200"});
    let a = temp(
        "counts-a.jsonl",
        format!("\u{feff}{good}\nnot json\n{drifted}\n{{\"x\": 1}}\n").as_bytes(),
    );
    let b = temp("counts-b.jsonl", b"[1, 2]\n");
    let (code, _, err, summary) = scan(
        &[a.to_str().expect("path"), b.to_str().expect("path")],
        "counts",
    );
    // A line that is not JSON is a lost event: exit 2.
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "1 line(s) could not be read (not JSON or too long); their events are lost; exit 2"
        ),
        "{err}"
    );
    assert_eq!(
        summary["counts"],
        json!({"known": 2, "unknown": 3, "malformed": 1, "too_long": 0, "drifted": 1, "alerts": 0})
    );
    let files: Vec<Value> = summary["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            json!([
                f["events"],
                f["unknown"],
                f["malformed"],
                f["drifted"],
                f["warning"].is_string()
            ])
        })
        .collect();
    assert_eq!(
        files,
        [json!([2, 1, 1, 1, false]), json!([0, 2, 0, 0, true])]
    );
    assert!(
        err.contains("2 event(s) (k8s.audit 2), 0 alert(s), 4 problem line(s): 3 of unknown source, 1 not JSON, 1 drifted"),
        "{err}"
    );
    assert!(
        err.contains("counts-a.jsonl: 2 event(s), 1 of unknown source, 1 not JSON, 0 too long"),
        "{err}"
    );
    assert!(
        err.contains("counts-b.jsonl: 0 event(s), 2 of unknown source"),
        "{err}"
    );
    assert!(
        err.contains("warning: ") && err.contains("counts-b.jsonl: no event read"),
        "{err}"
    );
    assert!(
        err.contains("`responseStatus.code` is a JSON string, the schema says int"),
        "{err}"
    );
}

/// Shapes told apart by fields the fast path does not extract (an audit
/// event with neither `user` nor `kind`, a CloudTrail record with only
/// `eventTime`) are still read, through full decoding, and match.
#[test]
fn rarer_shapes_are_read_off_the_fast_path() {
    let failed_auth = json!({"auditID": "1f0c", "stage": "ResponseStarted", "verb": "list",
        "requestURI": "/api/v1/secrets", "responseStatus": {"code": 401},
        "stageTimestamp": "2024-01-01T00:00:00Z"});
    let trail = json!({"eventSource": "eks.amazonaws.com", "eventName": "UpdateClusterConfig",
        "eventTime": "2024-01-01T00:00:00Z", "requestParameters": {"name": "prod",
        "logging": {"clusterLogging": [{"types": ["audit"], "enabled": false}]}}});
    let f = temp("rare.jsonl", format!("{failed_auth}\n{trail}\n").as_bytes());
    let (_, alerts, err, summary) = scan(&[f.to_str().expect("path")], "rare");
    assert_eq!(
        summary["sources"],
        json!({"k8s.audit": 1, "aws.cloudtrail": 1}),
        "{err}"
    );
    assert_eq!(
        fired(&alerts),
        pairs(&[(2, "eks_cluster_logging_disabled")]),
        "{err}"
    );
}

/// A number written with a fraction or an exponent but integral (`101.0`,
/// `1.01e2`) is the int the schema asks for: the rule fires on it and the
/// summary does not call it drift; a string `"101"` is drift and does not
/// fire.
#[test]
fn drift_reporting_agrees_with_evaluation() {
    let rules = common::dir(
        "drift-rules",
        &[(
            "r.ward",
            "source k8s.audit\nrule upgraded { when responseStatus.code == 101 }\n",
        )],
    );
    let line = |code: &str| {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","requestURI":"/x","user":{{}},"responseStatus":{{"code":{code}}},"stageTimestamp":"2024-01-01T00:00:00Z"}}"#
        ) + "\n"
    };
    let text = ["101.0", "1.01e2", "101", "\"101\""].map(line).concat();
    let f = temp("numbers.jsonl", text.as_bytes());
    let dir = rules.display().to_string();
    let (code, alerts, err, summary) =
        scan(&["--rules", &dir, f.to_str().expect("path")], "numbers");
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        fired(&alerts),
        pairs(&[(1, "upgraded"), (2, "upgraded"), (3, "upgraded")])
    );
    assert_eq!(summary["counts"]["drifted"], json!(1), "{err}");
    assert!(
        err.contains("line 4: `responseStatus.code` is a JSON string"),
        "{err}"
    );
}

/// A CloudTrail file as CloudTrail writes it, one line, here past the
/// 16 MiB line limit: every record is read, plain, gzipped and with
/// `--input-format document`; with a smaller `--max-document-bytes` it is
/// reported with the limit, not dropped silently.
#[test]
fn a_cloudtrail_file_of_one_long_line_is_read() {
    let record = |i: usize| {
        json!({"eventVersion": "1.08", "eventSource": "eks.amazonaws.com",
            "eventName": "UpdateClusterConfig", "awsRegion": "eu-west-1",
            "eventTime": "2024-01-01T00:00:00Z", "eventID": format!("{i:08}"),
            "requestParameters": {"name": format!("c{i}"), "padding": "p".repeat(2000),
                "logging": {"clusterLogging": [{"types": ["audit"], "enabled": !i.is_multiple_of(1000)}]}}})
    };
    let records: Vec<Value> = (0..8500).map(record).collect();
    let doc = json!({ "Records": records }).to_string();
    assert!(doc.len() > 16 << 20, "{} bytes", doc.len());
    let plain = temp("trail.json", doc.as_bytes());
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, doc.as_bytes()).expect("gzip");
    let gzipped = temp("trail.json.gz", &gz.finish().expect("gzip"));
    for (args, tag) in [
        (vec![plain.to_str().expect("path")], "long-plain"),
        (vec![gzipped.to_str().expect("path")], "long-gz"),
        (
            vec!["--input-format", "document", plain.to_str().expect("path")],
            "long-doc",
        ),
    ] {
        let (code, alerts, err, summary) = scan(&args, tag);
        assert_eq!(code, 1, "{tag}: {err}");
        assert_eq!(summary["counts"]["known"], json!(8500), "{tag}: {err}");
        assert_eq!(summary["counts"]["too_long"], json!(0), "{tag}: {err}");
        // Logging disabled in records 0, 1000, ..., 8000.
        assert_eq!(alerts.len(), 9, "{tag}");
    }
    let (code, _, err, summary) = scan(
        &[
            "--max-line-bytes",
            "64KiB",
            "--max-document-bytes",
            "1MiB",
            plain.to_str().expect("path"),
        ],
        "long-limited",
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(summary["counts"]["too_long"], json!(1));
    assert!(err.contains("longer than 1048576; skipped"), "{err}");
    assert!(
        err.contains("warning: "),
        "no event read from the file: {err}"
    );
    let _ = std::fs::remove_file(plain);
    let _ = std::fs::remove_file(gzipped);
}

/// The records of a CloudTrail `Records` document written on one line (as
/// CloudTrail delivers them) take the fast path, record by record; those of
/// a pretty-printed one are decoded whole. Both give the same alerts, with
/// `via` and line alike; only the event's text differs (as written against
/// re-serialised), so alerts are compared as JSON values.
#[test]
fn cloudtrail_records_on_the_fast_path_alert_as_decoded_records() {
    let records: Vec<Value> = ward_runtime::corpus::cloudtrail_records(3_000, 11)
        .iter()
        .map(|r| serde_json::from_str(r).expect("generated record"))
        .collect();
    let doc = json!({ "Records": records });
    // Keys in reverse order: an alert from the fast path carries the record
    // as written, one from decoding re-serialises it (keys sorted).
    let written: Vec<String> = records
        .iter()
        .map(|r| {
            let members = r.as_object().expect("a record is an object").iter().rev();
            let members: Vec<String> = members.map(|(k, v)| format!("{}:{v}", json!(k))).collect();
            format!("{{{}}}", members.join(","))
        })
        .collect();
    let doc_text = format!("{{\"Records\":[{}]}}", written.join(","));
    let compact = temp("records-compact.json", doc_text.as_bytes());
    let pretty_text = serde_json::to_string_pretty(&doc).expect("pretty");
    let pretty = temp("records-pretty.json", pretty_text.as_bytes());
    let run = |p: &PathBuf, tag: &str| {
        let (code, mut alerts, err, summary) = scan(&[&p.display().to_string()], tag);
        for a in &mut alerts {
            a["input"]["file"] = Value::Null;
        }
        (code, alerts, err, summary)
    };
    let (c1, fast, e1, s1) = run(&compact, "records-compact");
    let (c2, decoded, e2, s2) = run(&pretty, "records-pretty");
    assert_eq!(c1, c2, "{e1}\n{e2}");
    assert!(fast.len() > 10, "alerts: {}\n{e1}", fast.len());
    assert_eq!(fast.len(), decoded.len());
    for (i, (a, b)) in fast.iter().zip(&decoded).enumerate() {
        assert_eq!(a, b, "alert {i}");
    }
    assert!(fast
        .iter()
        .all(|a| a["input"]["via"] == "cloudtrail-records"));
    // The fast path read them: the events go out as written.
    let (_, out, _) = ward(&["scan", &compact.display().to_string()]);
    let as_written = written.iter().filter(|w| out.contains(w.as_str())).count();
    assert!(as_written > 10, "records shown as written: {as_written}");
    assert_eq!(s1["counts"], s2["counts"]);
}

/// A file that starts like gzip but does not inflate is an error of that
/// file, named on stderr with exit 2; the files after it are still read.
#[test]
fn a_corrupt_gzip_file_is_an_error_named_loudly_and_the_scan_goes_on() {
    let bad = temp("corrupt.jsonl.gz", b"\x1f\x8bnot deflate at all\n");
    let good = temp(
        "after-corrupt.jsonl",
        json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "verb": "get",
               "user": {"username": "u"}, "objectRef": {"resource": "pods"}})
        .to_string()
        .as_bytes(),
    );
    let (bad_s, good_s) = (bad.display().to_string(), good.display().to_string());
    let (code, _, err) = ward(&["scan", "--no-event", &bad_s, &good_s]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("{bad_s}: invalid gzip header")),
        "{err}"
    );
    assert!(err.contains("ward scan: 1 event(s)"), "{err}");
    let _ = std::fs::remove_file(bad);
    let _ = std::fs::remove_file(good);
}

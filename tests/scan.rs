//! End-to-end tests of `ward scan`: every input format, exact alerts on the
//! real samples, one rule across raw/EKS/GKE wrappings, and bad input.

mod common;

use common::{ward, ward_in};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

fn sample(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(rel)
        .display()
        .to_string()
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("ward-scan-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).expect("write temp file");
    p
}

/// `ward scan --no-event` of one file: the exit code, the input line of
/// each alert, and what it wrote on stderr.
fn alerted_lines(dir: &str, file: &std::path::Path) -> (u8, Vec<Value>, String) {
    let (code, out, err) = ward(&[
        "scan",
        "--rules",
        dir,
        "--no-event",
        file.to_str().expect("path"),
    ]);
    let lines = alerts(&out)
        .iter()
        .map(|a| a["input"]["line"].clone())
        .collect();
    (code, lines, err)
}

fn alerts(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).expect("each alert line is JSON"))
        .collect()
}

/// A rule file in a temp dir.
fn rules(name: &str, text: &str) -> String {
    common::dir(&format!("rules-{name}"), &[("r.ward", text)])
        .display()
        .to_string()
}

/// The alerts of the bundled rules over every sample file, one line each:
/// the exact expected alerts, reviewed.
#[test]
fn bundled_rules_on_every_sample() {
    let files = [
        "k8s-audit/oss_k8s_audit_event.jsonl",
        "k8s-audit/openshift_audit_kubectl-dev_tool_formula.jsonl",
        "k8s-audit/kubernetes_audit_example_log.jsonl",
        "k8s-audit/gke_k8s_audit_logentries.jsonl",
        "k8s-audit/eks-cloudwatch/filter_log_events_output.json",
        "k8s-audit/eks-cloudwatch/subscription_data_message.json",
        "k8s-audit/eks-cloudwatch/lambda_awslogs_event.json",
        "cloudtrail/stratus_detonations.jsonl",
        "cloudtrail/cloudtrail_example_logs.jsonl",
        "calico/flowlogs_calico_felix_testdata.jsonl",
        "calico/flowlogs_tigera_docs_examples.jsonl",
    ];
    let mut report = String::new();
    for f in files {
        let (code, out, err) = ward(&["scan", "--no-event", &sample(f)]);
        let summary = (err.lines())
            .find(|l| l.starts_with("ward scan:"))
            .unwrap_or_default();
        let summary = summary.split(", ").take(3).collect::<Vec<_>>().join(", ");
        report.push_str(&format!("== {f} (exit {code})\n{summary}\n"));
        for a in alerts(&out) {
            report.push_str(&format!(
                "{} {} line {} via {}: {}\n",
                a["rule"].as_str().unwrap_or(""),
                a["time"],
                a["input"]["line"],
                a["input"]["via"].as_str().unwrap_or(""),
                a["output"].as_str().unwrap_or("")
            ));
        }
    }
    insta::assert_snapshot!(report);
}

#[test]
fn alert_shape() {
    let (code, out, _) = ward(&[
        "scan",
        &sample("k8s-audit/eks-cloudwatch/filter_log_events_output.json"),
    ]);
    assert_eq!(code, 1, "alerts found");
    let all = alerts(&out);
    let a = all
        .iter()
        .find(|a| a["rule"] == "k8s_anonymous_request_allowed")
        .expect("the anonymous request");
    let keys: Vec<&str> = a
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "event", "fields", "input", "output", "rule", "severity", "source", "tags", "time",
            "title"
        ]
    );
    assert_eq!(a["rule"], "k8s_anonymous_request_allowed");
    assert_eq!(a["severity"], "high");
    assert_eq!(a["source"], "k8s.audit");
    assert_eq!(a["tags"], json!(["attack.initial_access", "attack.t1190"]));
    assert_eq!(a["fields"]["user.username"], "system:anonymous");
    assert_eq!(a["fields"]["responseStatus.code"], 200);
    assert_eq!(
        a["event"]["user"]["username"], "system:anonymous",
        "the original event rides along"
    );
    let (_, out, _) = ward(&[
        "scan",
        "--no-event",
        &sample("k8s-audit/eks-cloudwatch/filter_log_events_output.json"),
    ]);
    assert!(alerts(&out)[0].get("event").is_none());
}

const EXEC_RULE: &str = r#"source k8s.audit
rule exec_by_user {
  severity high
  when objectRef.resource == "pods" and objectRef.subresource == "exec" and responseStatus.code == 101
  output "{user.username} exec {objectRef.namespace}/{objectRef.name} from {sourceIPs[0]}"
}
"#;

fn raw_exec() -> Value {
    json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "a1",
        "stage": "ResponseStarted",
        "requestURI": "/api/v1/namespaces/prod/pods/web-1/exec?command=sh&container=web&stdin=true&tty=true",
        "verb": "create", "user": {"username": "alice@example.com", "groups": ["system:authenticated"]},
        "sourceIPs": ["203.0.113.7"], "userAgent": "kubectl/v1.29.0",
        "objectRef": {"resource": "pods", "namespace": "prod", "name": "web-1", "apiVersion": "v1", "subresource": "exec"},
        "responseStatus": {"metadata": {}, "code": 101},
        "requestReceivedTimestamp": "2024-01-02T03:04:05.123456Z", "stageTimestamp": "2024-01-02T03:04:05.223456Z"
    })
}

#[test]
fn one_rule_alerts_identically_raw_eks_and_gke() {
    let dir = rules("wrappings", EXEC_RULE);
    let raw = raw_exec();
    let line = serde_json::to_string(&raw).expect("json");
    let eks = json!({"events": [{"logStreamName": "kube-apiserver-audit-1", "timestamp": 1704164645223u64, "message": line, "ingestionTime": 1704164646000u64, "eventId": "1"}]});
    let gke = json!({
        "insertId": "a1", "timestamp": "2024-01-02T03:04:05.223456Z",
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog", "serviceName": "k8s.io",
            "methodName": "io.k8s.core.v1.pods.exec.create",
            "resourceName": "core/v1/namespaces/prod/pods/web-1/exec",
            "authenticationInfo": {"principalEmail": "alice@example.com"},
            "requestMetadata": {"callerIp": "203.0.113.7", "callerSuppliedUserAgent": "kubectl/v1.29.0"},
            "status": {}
        }
    });
    let event_list = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": [raw]});
    let mut outputs = Vec::new();
    for (name, doc) in [
        ("raw", &raw),
        ("eks", &eks),
        ("gke", &gke),
        ("eventlist", &event_list),
    ] {
        let f = temp(
            &format!("wrap-{name}.json"),
            serde_json::to_string_pretty(doc).expect("json").as_bytes(),
        );
        let (code, out, err) = ward(&[
            "scan",
            "--rules",
            &dir,
            "--no-event",
            f.to_str().expect("path"),
        ]);
        assert_eq!(code, 1, "{name}: {err}");
        let a = alerts(&out);
        assert_eq!(a.len(), 1, "{name}");
        outputs.push((
            a[0]["rule"].clone(),
            a[0]["output"].clone(),
            a[0]["time"].clone(),
        ));
    }
    let want = (
        json!("exec_by_user"),
        json!("alice@example.com exec prod/web-1 from 203.0.113.7"),
        json!("2024-01-02T03:04:05.223456Z"),
    );
    assert!(outputs.iter().all(|o| *o == want), "{outputs:#?}");
}

#[test]
fn gzip_and_stdin() {
    let line = serde_json::to_string(&raw_exec()).expect("json");
    let mut gz = flate2_writer();
    writeln!(gz, "{line}").expect("gzip");
    let bytes = gz.finish().expect("gzip");
    let dir = rules("gzip", EXEC_RULE);
    let f = temp("events.jsonl.gz", &bytes);
    let (code, out, _) = ward(&["scan", "--rules", &dir, f.to_str().expect("path")]);
    assert_eq!((code, alerts(&out).len()), (1, 1));
    let (code, out, _) = ward_in(&["scan", "--rules", &dir, "-"], &bytes);
    assert_eq!((code, alerts(&out).len()), (1, 1), "gzip on stdin");
    // A truncated gzip is an error naming the file and how far it got.
    let cut = temp("cut.jsonl.gz", &bytes[..bytes.len() - 12]);
    let (code, _, err) = ward(&["scan", "--rules", &dir, cut.to_str().expect("path")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cut.jsonl.gz") && err.contains("after"),
        "{err}"
    );
}

/// Deep nesting in a value no rule reads: the line is what a full parse
/// says it is (serde_json's limit is 127 levels), whichever path reads it.
#[test]
fn deep_values_no_rule_reads_are_judged_as_a_full_parse_judges_them() {
    let dir = rules("deep", EXEC_RULE);
    let with_depth = |n: usize| {
        let mut ev = serde_json::to_string(&raw_exec()).expect("json");
        ev.pop();
        format!("{ev},\"x\":{}{}}}", "[".repeat(n), "]".repeat(n))
    };
    let input = format!("{}\n{}\n", with_depth(125), with_depth(200));
    let f = temp("deep.jsonl", input.as_bytes());
    let (code, lines, err) = alerted_lines(&dir, &f);
    // A line refused is a lost event: exit 2, after the alerts.
    assert_eq!(code, 2);
    assert_eq!(lines, [json!(1)], "125 levels read; 200 refused");
    assert!(
        err.contains(":line 2: not JSON: recursion limit exceeded"),
        "{err}"
    );
}

fn flate2_writer() -> flate2::write::GzEncoder<Vec<u8>> {
    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default())
}

#[test]
fn bad_lines_are_counted_with_their_line_and_the_stream_goes_on() {
    let dir = rules("bad", EXEC_RULE);
    let good = serde_json::to_string(&raw_exec()).expect("json");
    let mut drift = raw_exec();
    drift["responseStatus"]["code"] = json!("101");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let mut input = Vec::new();
    input.extend_from_slice(
        format!("{good}\nnot json at all\n{{\"hello\": \"world\"}}\n").as_bytes(),
    );
    input.extend_from_slice(
        b"{\"kind\": \"Event\", \"apiVersion\": \"audit.k8s.io/v1\", \"verb\": \"\xff\xfe\"}\n",
    );
    input.extend_from_slice(
        format!(
            "{deep}\n{}\n{good}\n",
            serde_json::to_string(&drift).expect("json")
        )
        .as_bytes(),
    );
    let f = temp("bad.jsonl", &input);
    let (code, lines, err) = alerted_lines(&dir, &f);
    // Three lines could not be read: exit 2, the alerts all written.
    assert_eq!(code, 2);
    assert_eq!(
        lines,
        [json!(1), json!(7)],
        "both good events alert; the drifted one does not"
    );
    assert!(
        err.contains("3 event(s) (k8s.audit 3), 2 alert(s), 4 problem line(s)"),
        "{err}"
    );
    assert!(err.contains(":line 2: not JSON"), "{err}");
    assert!(
        err.contains(":line 3: not an event of a known source"),
        "{err}"
    );
    assert!(err.contains(":line 4: not JSON"), "invalid UTF-8: {err}");
    assert!(
        err.contains(":line 5: not JSON: recursion limit exceeded"),
        "deep nesting: {err}"
    );
    assert!(
        err.contains("line 6: `responseStatus.code` is a JSON string, the schema says int"),
        "{err}"
    );
}

#[test]
fn an_over_long_line_is_skipped_not_buffered() {
    let dir = rules("long", EXEC_RULE);
    let good = serde_json::to_string(&raw_exec()).expect("json");
    // Not an object or array: past the line limit it cannot be a
    // document (those are read up to the document limit, tests/inputs.rs).
    let long = format!("\"{}\"", "x".repeat(ward_runtime::decode::MAX_LINE + 10));
    let f = temp("long.jsonl", format!("{long}\n{good}\n").as_bytes());
    let (code, out, err) = ward(&["scan", "--rules", &dir, f.to_str().expect("path")]);
    assert_eq!((code, alerts(&out).len()), (2, 1), "{err}");
    assert!(
        err.contains(":line 1:") && err.contains("longer than 16777216; skipped"),
        "{err}"
    );
    // --allow-problems: the exit status is the alerts'.
    let path = f.to_str().expect("path");
    let (code, _, err) = ward(&["scan", "--allow-problems", "--rules", &dir, path]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("1 too long"), "{err}");
}

#[test]
fn cloudtrail_records_documents() {
    let rule = "source aws.cloudtrail\nrule eks_public {\n  severity high\n  when eventSource == \"eks.amazonaws.com\" and eventName == \"CreateCluster\"\n  output \"{userIdentity.arn} created {requestParameters.name}\"\n}\n";
    let dir = rules("records", rule);
    let text = std::fs::read_to_string(sample(
        "cloudtrail/eks_user_guide_cloudtrail_examples.jsonl",
    ))
    .expect("sample");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let doc = serde_json::to_string_pretty(&json!({"Records": records})).expect("json");
    let f = temp("records.json", doc.as_bytes());
    let (code, out, err) = ward(&[
        "scan",
        "--rules",
        &dir,
        "--no-event",
        f.to_str().expect("path"),
    ]);
    assert_eq!(code, 1, "{err}");
    let a = alerts(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0]["input"]["via"], "cloudtrail-records");
    assert!(err.contains("2 event(s) (aws.cloudtrail 2)"), "{err}");
}

#[test]
fn exit_codes() {
    let f = sample("k8s-audit/oss_k8s_audit_event.jsonl");
    let (code, out, _) = ward(&["scan", &f]);
    assert_eq!((code, out.as_str()), (0, ""), "no alerts");
    let eks = sample("k8s-audit/eks-cloudwatch/filter_log_events_output.json");
    assert_eq!(ward(&["scan", &eks]).0, 1);
    assert_eq!(ward(&["scan", "--exit-zero", &eks]).0, 0);
    assert_eq!(ward(&["scan", "/no/such/file.jsonl"]).0, 2);
    let broken = rules("broken", "source k8s.audit\nrule r { when verb == 1 }\n");
    let (code, _, err) = ward(&["scan", "--rules", &broken, &f]);
    assert_eq!(code, 2);
    assert!(err.contains("E021"), "{err}");
}

#[test]
fn text_format_and_output_file() {
    let eks = sample("k8s-audit/eks-cloudwatch/subscription_data_message.json");
    let out_file =
        std::env::temp_dir().join(format!("ward-scan-{}-alerts.txt", std::process::id()));
    let (code, out, _) = ward(&[
        "scan",
        "--format",
        "text",
        "-o",
        out_file.to_str().expect("path"),
        &eks,
    ]);
    assert_eq!((code, out.as_str()), (1, ""));
    let text = std::fs::read_to_string(&out_file).expect("alerts written");
    assert_eq!(
        text,
        // A create of a Job the API server refused (RBAC forbid), then an
        // event without stageTimestamp: its time is the v1beta1-era
        // `timestamp`.
        "2023-12-07T14:44:53.375985Z [medium] k8s_forbidden_create: k8s-test-user was refused create /apis/batch/v1/namespaces/test2/jobs?fieldManager=kubectl-create&fieldValidation=Strict (code 403: jobs.batch is forbidden: User \"k8s-test-user\" cannot create resource \"jobs\" in API group \"batch\" in the namespace \"test2\") from 176.95.188.101 (kubectl/v1.27.2 (darwin/arm64) kubernetes/7f6f68f)\n\
         2022-11-29 00:09:04.38 [high] k8s_anonymous_request_allowed: anonymous  /api/v1/namespaces/default/pods/test-pod allowed from [\"8.8.8.8\"]\n"
    );
}

#[test]
fn embedded_library_is_the_rules_directory() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut on_disk = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("rules dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "ward") {
                let rel = p
                    .strip_prefix(env!("CARGO_MANIFEST_DIR"))
                    .expect("inside repo")
                    .display()
                    .to_string();
                on_disk.push((rel, std::fs::read_to_string(&p).expect("rule file")));
            }
        }
    }
    on_disk.sort();
    let embedded: Vec<(String, String)> = ward_runtime::bundled::RULES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    assert_eq!(
        embedded, on_disk,
        "runtime/src/bundled.rs must list every file in rules/"
    );
}

#[test]
fn alerts_conform_to_the_documented_schema() {
    let schema = common::alerts_schema("Ward alert");
    let mut seen = 0;
    let dir = rules("schema", EXEC_RULE);
    let meta_dir = rules(
        "schema-meta",
        &EXEC_RULE.replace(
            "  severity high",
            "  id \"k8s-exec\"\n  status test\n  severity high",
        ),
    );
    let f = temp(
        "schema-exec.json",
        serde_json::to_string(&raw_exec()).expect("json").as_bytes(),
    );
    let runs = [
        ward(&[
            "scan",
            &sample("k8s-audit/eks-cloudwatch/lambda_awslogs_event.json"),
        ]),
        ward(&[
            "scan",
            "--no-event",
            &sample("k8s-audit/eks-cloudwatch/filter_log_events_output.json"),
        ]),
        ward(&["scan", "--rules", &dir, f.to_str().expect("path")]),
        // With provenance metadata: `id` and `status` in the alert.
        ward(&["scan", "--rules", &meta_dir, f.to_str().expect("path")]),
    ];
    for (_, out, _) in runs {
        for a in alerts(&out) {
            common::conforms(&schema, &a, "alert").unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert_eq!(seen, 6);
    // The checker itself can fail.
    assert!(common::conforms(&schema, &json!({"rule": 1}), "x").is_err());
}

#[test]
fn explain_prints_the_plan() {
    let dir = rules(
        "explain",
        "source k8s.audit\n\
         macro pod_create = verb == \"create\" and objectRef.resource == \"pods\"\n\
         rule priv { when pod_create and any c in requestObject.spec.containers: c.securityContext.privileged == true }\n\
         rule host { when pod_create and requestObject.spec.hostNetwork == true }\n\
         rule anon { when user.username == \"system:anonymous\" or \"system:unauthenticated\" in user.groups }\n",
    );
    let (code, out, _) = ward(&["explain", "--rules", &dir, "priv"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "candidates: only events with objectRef.resource in [pods] and verb in [create]"
        ),
        "{out}"
    );
    assert!(
        out.contains("objectRef.resource == \"pods\" [#1, shared by 2]"),
        "{out}"
    );
    let (code, out, _) = ward(&["explain", "--rules", &dir]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("3 rule(s); 8 leaf test(s) in all, 6 distinct"),
        "{out}"
    );
    assert!(out.contains("checked on every event: 1 rule(s)"), "{out}");
    assert!(out.contains("extracts 6 path(s): objectRef.resource, requestObject.spec.containers[].securityContext.privileged, requestObject.spec.hostNetwork, user.groups, user.username, verb"), "{out}");
    let (code, _, err) = ward(&["explain", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("no rule `nope`"));
}

/// `iequals` rules are indexed and grouped by lower-cased values, beside
/// the exact tables of the same field.
#[test]
fn explain_shows_case_insensitive_dispatch() {
    let dir = rules(
        "explain-iequals",
        "source k8s.audit\n\
         rule a { when verb iequals \"CREATE\" and objectRef.resource iequals [\"Pods\", \"Deployments\"] }\n\
         rule b { when objectRef.resource iequals \"SECRETS\" and user.username iequals [\"Admin\", \"Root\"] }\n\
         rule c { when objectRef.resource == \"pods\" and verb == \"delete\" }\n",
    );
    let (code, out, _) = ward(&["explain", "--rules", &dir]);
    assert_eq!(code, 0);
    for line in [
        "dispatch on: lower(objectRef.resource) (3 values), objectRef.resource (1 values)",
        "checked on every event: 0 rule(s)",
        "candidates: only events with lower(objectRef.resource) in [deployments, pods] and lower(verb) in [create]",
        "candidates: only events with lower(objectRef.resource) in [secrets] and lower(user.username) in [admin, root]",
        "candidates: only events with objectRef.resource in [pods] and verb in [delete]",
        "objectRef.resource iequals one of 3 strings, one hash lookup of the lower-cased value",
        "user.username iequals one of 2 strings, one hash lookup of the lower-cased value",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
}

#[test]
fn calico_unlogged_dns_records_are_events_not_problems() {
    // Calico writes this when DNSLogsFilePerNodeLimit dropped detail.
    let lines = concat!(
        r#"{"start_time":"2024-05-01T10:00:00Z","end_time":"2024-05-01T10:05:00Z","type":"UNLOGGED","count":1290,"host":"ip-10-0-1-12.ec2.internal"}"#,
        "\n",
        r#"{"start_time":"2024-05-01T10:00:00Z","end_time":"2024-05-01T10:05:00Z","type":"LOG","count":3,"host":"node-1"}"#,
        "\n"
    );
    let (code, _, err) = ward_in(&["scan", "-"], lines.as_bytes());
    assert_eq!(code, 0, "{err}");
    // The first is a calico.dns event; the second (no qname, not UNLOGGED)
    // is still an event of unknown shape.
    assert!(
        err.contains("1 event(s) (calico.dns 1), 0 alert(s), 1 problem line(s)"),
        "{err}"
    );
}

#[test]
fn explain_shows_grouped_tests() {
    let dir = rules(
        "explain-groups",
        "source k8s.audit\n\
         rule a { when userAgent startswith \"kubectl/\" }\n\
         rule b { when userAgent not contains [\"curl\", \"wget\"] }\n\
         rule c { when userAgent imatches r\"^helm\" }\n\
         rule d { when any c in requestObject.spec.containers: c.image icontains \"xmrig\" }\n\
         rule e { when all c in requestObject.spec.containers: c.image istartswith \"registry.k8s.io/\" }\n\
         rule f { when verb == \"get\" or verb == \"list\" }\n\
         rule g { when verb in [\"watch\", \"get\"] }\n\
         rule h { when user.username startswith [\"system:\", \"eks:\"] }\n\
         rule i { when user.username endswith \"@example.com\" }\n\
         rule j { when sourceIPs[0] in cidr [\"10.0.0.0/8\", \"192.168.0.0/16\"] }\n\
         rule k { when sourceIPs[0] in cidr [\"10.1.0.0/16\", \"fd00::/8\"] }\n\
         rule l { when any ip in sourceIPs: ip in cidr [\"10.0.0.0/8\"] }\n\
         rule m { when sourceIPs[0] not in cidr [\"10.0.0.0/8\"] }\n",
    );
    let (code, out, _) = ward(&["explain", "--rules", &dir]);
    assert_eq!(code, 0);
    for line in [
        "n0: 2 `in cidr` test(s) of sourceIPs[0], 4 network(s), one lookup per prefix length (3)",
        "n1: 1 `in cidr` test(s) of sourceIPs[] ($0 of each element), 1 network(s), one lookup per prefix length (1)",
        "sourceIPs[0] in cidr [10.0.0.0/8, 192.168.0.0/16] [#10, group n0]",
        "any element $0 of sourceIPs: $0 in cidr [10.0.0.0/8] [#12, group n1]",
        "sourceIPs[0] not in cidr [10.0.0.0/8] [#13]",
        "e0: verb == or in one of 3 strings, one hash lookup",
        "s0: 2 string test(s) of userAgent, 3 pattern(s) in one automaton",
        "s1: 2 string test(s) of requestObject.spec.containers[] ($0.image of each element) (lower-cased), 2 pattern(s) in one automaton",
        "s2: 2 string test(s) of user.username, 3 pattern(s) compared as prefixes, suffixes or whole values",
        "userAgent startswith [\"kubectl/\"] [#0, group s0]",
        "verb in [\"watch\", \"get\"] [#",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
    assert!(
        !out.contains("group s3"),
        "a lone i-form test is not grouped: {out}"
    );
    // A negated test keeps its own evaluation.
    assert!(
        out.contains("group n0]") && !out.contains("group n2"),
        "{out}"
    );
}

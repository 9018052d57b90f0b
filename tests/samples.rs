//! The real events in `tests/samples/` must fit the schemas in `spec/schemas/`.

use std::path::Path;

use serde_json::Value;
use ward_compiler::schema::{self, validate_event, Schema};

fn schema(source: &str) -> &'static Schema {
    schema::bundled()
        .get(source)
        .unwrap_or_else(|| panic!("no bundled schema {source}"))
}

fn lines(path: &str) -> Vec<Value> {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(path);
    let text = std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("{path}:{}: {e}", i + 1)))
        .collect()
}

fn whole(path: &str) -> Value {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/samples")
        .join(path);
    serde_json::from_str(&std::fs::read_to_string(full).expect("sample readable"))
        .expect("sample is JSON")
}

/// Validates every event and returns how many there were.
fn assert_fit(source: &str, what: &str, events: &[Value]) -> usize {
    let s = schema(source);
    for (i, e) in events.iter().enumerate() {
        let bad = validate_event(s, e);
        assert!(
            bad.is_empty(),
            "{what} event {}: does not fit {source}: {bad:#?}",
            i + 1
        );
    }
    events.len()
}

/// The audit events inside a CloudWatch Logs wrapping (`events` or `logEvents`).
fn unwrap_cloudwatch(doc: &Value, key: &str) -> Vec<Value> {
    doc[key]
        .as_array()
        .expect("wrapping holds a list of log events")
        .iter()
        .map(|e| {
            serde_json::from_str(e["message"].as_str().expect("message is a string"))
                .expect("message is JSON")
        })
        .collect()
}

#[test]
fn k8s_audit_events_fit_the_schema() {
    let mut n = 0;
    for f in [
        "oss_k8s_audit_event.jsonl",
        "openshift_audit_kubectl-dev_tool_formula.jsonl",
        "kubernetes_audit_example_log.jsonl",
    ] {
        n += assert_fit("k8s.audit", f, &lines(&format!("k8s-audit/{f}")));
    }
    let eks = whole("k8s-audit/eks-cloudwatch/filter_log_events_output.json");
    n += assert_fit(
        "k8s.audit",
        "eks filter_log_events",
        &unwrap_cloudwatch(&eks, "events"),
    );
    let sub = whole("k8s-audit/eks-cloudwatch/subscription_data_message.json");
    n += assert_fit(
        "k8s.audit",
        "eks subscription",
        &unwrap_cloudwatch(&sub, "logEvents"),
    );
    assert_eq!(n, 14, "every sample event was read");
}

#[test]
fn cloudtrail_records_fit_the_schema() {
    let mut n = 0;
    for f in [
        "stratus_detonations.jsonl",
        "cloudtrail_example_logs.jsonl",
        "ec2_proxy_s3_exfiltration_2020-09-14011940.jsonl",
        "eks_user_guide_cloudtrail_examples.jsonl",
    ] {
        n += assert_fit("aws.cloudtrail", f, &lines(&format!("cloudtrail/{f}")));
    }
    assert_eq!(n, 463);
}

#[test]
fn cloud_audit_entries_fit_the_schema() {
    let f = "k8s-audit/gke_container_api_cloud_audit_logentries.jsonl";
    let entries = lines(f);
    assert_eq!(assert_fit("gcp.audit", f, &entries), 9);
    // The fields the bundled GKE rules read are where the schema says.
    let methods: Vec<&str> = (entries.iter())
        .filter_map(|e| e.pointer("/protoPayload/methodName")?.as_str())
        .collect();
    assert_eq!(methods.len(), 9);
    assert!(methods
        .iter()
        .all(|m| m.starts_with("google.container.v1.ClusterManager.")));
    let callers = (entries.iter())
        .filter(|e| {
            e.pointer("/protoPayload/authenticationInfo/principalEmail")
                .is_some()
        })
        .count();
    assert_eq!(callers, 5, "an operation's first entry names the caller");
}

#[test]
fn calico_flows_fit_the_schema() {
    let mut n = 0;
    for f in [
        "flowlogs_calico_felix_testdata.jsonl",
        "flowlogs_tigera_docs_examples.jsonl",
    ] {
        n += assert_fit("calico.flow", f, &lines(&format!("calico/{f}")));
    }
    assert_eq!(n, 6);
}

#[test]
fn a_wrongly_typed_field_is_found() {
    let mut e = lines("k8s-audit/oss_k8s_audit_event.jsonl").remove(0);
    e["responseStatus"]["code"] = Value::from("403");
    e["sourceIPs"] = Value::from("10.0.0.1");
    let bad = validate_event(schema("k8s.audit"), &e);
    let paths: Vec<&str> = bad.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["responseStatus.code", "sourceIPs"]);
    assert_eq!(bad[0].expected, "int");
    assert_eq!(bad[0].found, "string");
}

#[test]
fn narrowed_pod_specs_are_validated() {
    let mut e = lines("k8s-audit/oss_k8s_audit_event.jsonl").remove(0);
    e["objectRef"]["resource"] = Value::from("pods");
    e["requestObject"] = serde_json::json!({
        "kind": "Pod",
        "spec": {"containers": [{"name": "c", "image": "nginx", "securityContext": {"privileged": "yes"}}]}
    });
    let bad = validate_event(schema("k8s.audit"), &e);
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert_eq!(
        bad[0].path,
        "requestObject.spec.containers[0].securityContext.privileged"
    );
}

#[test]
fn every_bundled_schema_loads() {
    for (name, text) in schema::BUNDLED_YAML {
        let s = schema::load(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(&s.source, name);
        for (path, f) in s.flatten() {
            assert!(!f.doc.trim().is_empty(), "{name}: {path} has no doc");
        }
    }
}

#[test]
fn a_malformed_timestamp_is_drift() {
    let mut e = lines("k8s-audit/oss_k8s_audit_event.jsonl").remove(0);
    e["stageTimestamp"] = Value::from("2025-03-17T13:44:12911215Z");
    let bad = validate_event(schema("k8s.audit"), &e);
    assert_eq!(bad.len(), 1, "{bad:#?}");
    assert_eq!(
        (bad[0].path.as_str(), bad[0].expected.as_str()),
        ("stageTimestamp", "timestamp")
    );
    e["stageTimestamp"] = Value::from("2022-11-29 00:09:04.38");
    assert!(
        validate_event(schema("k8s.audit"), &e).is_empty(),
        "the EKS export form is a time"
    );
}

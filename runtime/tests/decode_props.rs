//! The decoder never panics and never drops a line silently: property
//! tests over random bytes, random JSON shapes and mutations of the real
//! samples. Every non-blank line of a JSON-lines input gives at least one
//! event or one reported problem. `PROPTEST_CASES` scales them up for long
//! runs.

use proptest::prelude::*;
use ward_runtime::decode::{self, Format, Problem};

/// The lines of `bytes` read as `format` at which an event or a problem
/// starts, and how many problems there were.
fn decode(bytes: &[u8], format: Format) -> (std::collections::BTreeSet<usize>, usize) {
    decode_or_error(bytes, format).0
}

/// [`decode`], and whether reading stopped at an error: on a slice only a
/// gzip stream (detected by its magic bytes) that does not inflate, which
/// `ward scan` reports as an error of the whole file (exit 2).
fn decode_or_error(
    bytes: &[u8],
    format: Format,
) -> ((std::collections::BTreeSet<usize>, usize), bool) {
    let (mut lines, mut problems) = (std::collections::BTreeSet::new(), 0);
    let mut at = |line| {
        lines.insert(line);
    };
    let mut problem_lines = Vec::new();
    let read = decode::read(bytes, format, &mut |e| at(e.line), &mut |p: Problem| {
        problem_lines.push(p.line())
    });
    if read.is_err() {
        assert!(bytes.starts_with(&[0x1f, 0x8b]), "{read:?}");
    }
    problems += problem_lines.len();
    lines.extend(problem_lines);
    ((lines, problems), read.is_err())
}

/// Whether a JSON value could hold no event at all: an array, or an
/// empty array inside (an empty `Records` file, `[]`).
fn may_be_empty(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(_) => true,
        serde_json::Value::Object(m) => m.values().any(|v| match v {
            serde_json::Value::Array(a) => a.is_empty() || a.iter().any(may_be_empty),
            serde_json::Value::Object(_) => may_be_empty(v),
            _ => false,
        }),
        _ => false,
    }
}

/// Each non-blank line of `bytes` read as JSON lines has an event or a
/// problem of its own, unless it is a wrapping that may hold none.
fn every_line_accounted(bytes: &[u8]) {
    let ((seen, _), failed) = decode_or_error(bytes, Format::JsonLines);
    if failed {
        // Not silent: the file's error is reported (see decode_or_error).
        return;
    }
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = serde_json::from_slice::<serde_json::Value>(line);
        if parsed.is_ok_and(|v| may_be_empty(&v)) {
            continue;
        }
        assert!(
            seen.contains(&(i + 1)),
            "line {} gave no event and no problem: {}",
            i + 1,
            String::from_utf8_lossy(line)
        );
    }
}

const SAMPLES: &[&str] = &[
    include_str!("../../tests/samples/k8s-audit/oss_k8s_audit_event.jsonl"),
    include_str!("../../tests/samples/k8s-audit/gke_k8s_audit_logentries.jsonl"),
    include_str!("../../tests/samples/k8s-audit/gke_container_api_cloud_audit_logentries.jsonl"),
    include_str!("../../tests/samples/k8s-audit/shapes/aks_diagnostic.jsonl"),
    include_str!("../../tests/samples/k8s-audit/shapes/no_apiversion.jsonl"),
    include_str!("../../tests/samples/k8s-audit/shapes/siem_panther.jsonl"),
    include_str!("../../tests/samples/calico/flowlogs_tigera_docs_examples.jsonl"),
    include_str!("../../tests/samples/k8s-audit/eks-cloudwatch/filter_log_events_output.json"),
];

/// Random JSON, nested up to a few levels, with the keys detection and
/// the wrappings look at.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let keys = prop::sample::select(vec![
        "kind",
        "apiVersion",
        "verb",
        "user",
        "requestURI",
        "objectRef",
        "auditID",
        "stage",
        "Records",
        "records",
        "items",
        "events",
        "logEvents",
        "message",
        "log",
        "properties",
        "category",
        "protoPayload",
        "serviceName",
        "methodName",
        "eventSource",
        "eventName",
        "awsRegion",
        "qname",
        "qtype",
        "action",
        "reporter",
        "source_ip",
        "awslogs",
        "data",
        "messageId",
        "logName",
        "insertId",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "Event",
            "EventList",
            "audit.k8s.io/v1",
            "k8s.io",
            "io.k8s.core.v1.pods.create",
            "kube-audit",
            "{\"verb\":\"get\"}",
            "{",
            "",
            "get",
            "container.googleapis.com",
            "google.container.v1.ClusterManager.DeleteCluster",
            // base64 of `{}` and of `{"verb":"get"}` (Pub/Sub data)
            "e30=",
            "eyJ2ZXJiIjoiZ2V0In0=",
        ])
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(keys.clone(), inner, 0..8).prop_map(|m| {
                serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        every_line_accounted(&bytes);
        let _ = decode(&bytes, Format::Auto);
        let _ = decode(&bytes, Format::Document);
    }

    #[test]
    fn random_json_lines(values in prop::collection::vec(json(), 1..12)) {
        let text: String = values.iter().map(|v| format!("{v}\n")).collect();
        every_line_accounted(text.as_bytes());
        let _ = decode(text.as_bytes(), Format::Auto);
        let pretty: String = values
            .iter()
            .map(|v| serde_json::to_string_pretty(v).unwrap_or_default())
            .collect();
        let _ = decode(pretty.as_bytes(), Format::Auto);
    }

    #[test]
    fn mutated_samples(which in 0..SAMPLES.len(), at in any::<prop::sample::Index>(),
                       cut in 0usize..64, insert in "[\\PC\\n{}\\[\\]\",:]{0,16}") {
        let text = SAMPLES[which];
        let mut start = at.index(text.len().max(1)).min(text.len());
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + cut).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..start], insert, &text[end..]);
        every_line_accounted(mutated.as_bytes());
        let _ = decode(mutated.as_bytes(), Format::Auto);
    }
}

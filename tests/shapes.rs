//! Every k8s.audit rule's alert samples, rewritten into each shape audit
//! events arrive in (no `apiVersion`/`kind`, v1beta1, v1beta1 with one
//! time, AKS diagnostic records one per line and in a `records` array, a
//! log shipper's `log` string, a SIEM re-export, GKE entries without
//! `serviceName`, anonymous GKE entries without a principal), give exactly
//! the alerts of their canonical shape (spec/inputs.md).
//!
//! One `ward test --bless` over a copy of the library with the rewritten
//! samples beside the originals writes every sample's alerts into the
//! golden files; the test then holds each rewritten sample's alerts to
//! those of the sample it came from.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// A rewriting of one canonical event into another shape, or `None` where
/// the shape does not apply to it.
type Shape = fn(&Value) -> Option<Value>;

/// The shapes of canonical audit events (lines of `alert*.jsonl`).
const AUDIT_SHAPES: &[(&str, Shape)] = &[
    ("no-apiversion", no_api_version),
    ("v1beta1", v1beta1),
    ("v1beta1-one-time", v1beta1_one_time),
    ("aks", aks_record),
    ("embedded", embedded),
    ("siem", siem),
];

/// The shapes of GKE entries (lines of `alert-gke.jsonl`).
const GKE_SHAPES: &[(&str, Shape)] = &[
    ("gke-no-servicename", gke_without_service_name),
    (
        "gke-anonymous-no-principal",
        gke_anonymous_without_principal,
    ),
    ("gke-anonymous-selector", gke_anonymous_selector),
];

fn no_api_version(e: &Value) -> Option<Value> {
    let mut e = e.clone();
    let m = e.as_object_mut()?;
    m.remove("apiVersion");
    m.remove("kind");
    Some(e)
}

fn v1beta1(e: &Value) -> Option<Value> {
    let mut e = e.clone();
    e["apiVersion"] = json!("audit.k8s.io/v1beta1");
    e["timestamp"] = e.get("stageTimestamp")?.clone();
    e["metadata"] = json!({"creationTimestamp": e["requestReceivedTimestamp"].clone()});
    Some(e)
}

/// As recorded traces keep it: the stage times gone, only `timestamp`.
fn v1beta1_one_time(e: &Value) -> Option<Value> {
    let mut e = v1beta1(e)?;
    let m = e.as_object_mut()?;
    m.remove("stageTimestamp");
    m.remove("requestReceivedTimestamp");
    m.remove("metadata");
    Some(e)
}

fn aks_record(e: &Value) -> Option<Value> {
    Some(json!({
        "category": "kube-audit",
        "operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
        "resourceId": "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-1",
        "time": e.get("stageTimestamp").cloned().unwrap_or(Value::Null),
        "properties": {"log": format!("{e}\n"), "stream": "stdout", "pod": "kube-apiserver-0"},
    }))
}

fn embedded(e: &Value) -> Option<Value> {
    Some(json!({"log": format!("{e}\n"), "stream": "stdout", "time": "2025-01-01T00:00:00Z"}))
}

/// A SIEM's re-export: enrichment keys, times without `T` and `Z`.
fn siem(e: &Value) -> Option<Value> {
    let mut e = siem_times(e);
    let m = e.as_object_mut()?;
    m.insert("p_log_type".into(), json!("Amazon.EKS.Audit"));
    m.insert("p_row_id".into(), json!("a1b2c3"));
    m.insert("@timestamp".into(), json!("2025-01-01T00:00:00.000Z"));
    m.insert("@version".into(), json!("1"));
    Some(e)
}

/// Every RFC 3339 UTC time in `v` as SIEMs write it: `2022-11-29
/// 00:09:04.38`.
fn siem_times(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            let time = b.len() >= 20 && b[4] == b'-' && b[10] == b'T' && s.ends_with('Z');
            match time {
                true => json!(format!("{} {}", &s[..10], &s[11..s.len() - 1])),
                false => v.clone(),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(siem_times).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), siem_times(v))).collect())
        }
        other => other.clone(),
    }
}

fn gke_without_service_name(e: &Value) -> Option<Value> {
    let mut e = e.clone();
    e.get_mut("protoPayload")?
        .as_object_mut()?
        .remove("serviceName")?;
    Some(e)
}

fn anonymous(e: &Value) -> bool {
    e.pointer("/protoPayload/authenticationInfo/principalEmail") == Some(&json!("system:anonymous"))
}

fn gke_anonymous_without_principal(e: &Value) -> Option<Value> {
    let mut e = e.clone();
    if !anonymous(&e) {
        return None;
    }
    e["protoPayload"]["authenticationInfo"] = json!({});
    Some(e)
}

fn gke_anonymous_selector(e: &Value) -> Option<Value> {
    let mut e = e.clone();
    if !anonymous(&e) {
        return None;
    }
    e["protoPayload"]["authenticationInfo"] = json!({"authoritySelector": "system:anonymous"});
    Some(e)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The JSON lines of a sample file, if each is an object.
fn lines(path: &Path) -> Option<Vec<Value>> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(Value::is_object)
        })
        .collect()
}

/// The rule library's `.ward` files, copied under `to` in their folders.
fn copy_rules(to: &Path) {
    for group in std::fs::read_dir(repo().join("rules")).expect("rules/") {
        let group = group.expect("entry").path();
        let Ok(files) = std::fs::read_dir(&group) else {
            continue;
        };
        for f in files {
            let f = f.expect("entry").path();
            if f.extension().is_some_and(|e| e == "ward") {
                let dest = to.join(group.file_name().expect("name"));
                std::fs::create_dir_all(&dest).expect("mkdir");
                std::fs::copy(&f, dest.join(f.file_name().expect("name"))).expect("copy");
            }
        }
    }
}

/// A golden line without where its event was (sample, line, the lines of
/// a window's events): what any shape of the same events must give.
fn what(golden: &Value) -> Value {
    let mut g = golden.clone();
    if let Some(m) = g.as_object_mut() {
        m.remove("sample");
        m.remove("line");
    }
    if let Some(events) = g
        .pointer_mut("/window/events")
        .and_then(Value::as_array_mut)
    {
        for e in events {
            if let Some(m) = e.as_object_mut() {
                m.remove("line");
                m.remove("file");
            }
        }
    }
    g
}

#[test]
fn every_k8s_rule_alerts_alike_in_every_shape() {
    let tmp = common::dir("shapes", &[]);
    copy_rules(&tmp);
    // Per rule: (variant sample, the sample it came from, its shape).
    let mut made: BTreeMap<String, Vec<(String, String, &str)>> = BTreeMap::new();
    let samples = repo().join("rules/k8s/samples");
    for dir in std::fs::read_dir(&samples).expect("samples") {
        let dir = dir.expect("entry").path();
        let rule = dir
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let dest = tmp.join("k8s/samples").join(&rule);
        std::fs::create_dir_all(&dest).expect("mkdir");
        for f in std::fs::read_dir(&dir).expect("rule samples") {
            let f = f.expect("entry").path();
            let name = f.file_name().expect("name").to_string_lossy().into_owned();
            if !name.starts_with("alert") {
                continue;
            }
            std::fs::copy(&f, dest.join(&name)).expect("copy");
            let Some(events) = lines(&f) else {
                continue;
            };
            let gke = events.iter().all(|e| e.get("protoPayload").is_some());
            let audit = events
                .iter()
                .all(|e| e.get("apiVersion") == Some(&json!("audit.k8s.io/v1")));
            let shapes = match (gke, audit) {
                (true, _) => GKE_SHAPES,
                (_, true) => AUDIT_SHAPES,
                _ => continue,
            };
            for (shape, rewrite) in shapes {
                let rewritten: Option<Vec<Value>> = events.iter().map(rewrite).collect();
                let Some(rewritten) = rewritten else {
                    continue;
                };
                let stem = name.trim_end_matches(".jsonl");
                let variant = format!("alert-{shape}-{stem}.jsonl");
                let text: String = rewritten.iter().map(|e| format!("{e}\n")).collect();
                std::fs::write(dest.join(&variant), text).expect("write");
                made.entry(rule.clone())
                    .or_default()
                    .push((variant, name.clone(), shape));
            }
            // AKS as Event Hubs deliver it: one `records` array.
            if audit {
                let records: Option<Vec<Value>> = events.iter().map(aks_record).collect();
                let variant = format!("alert-aks-records-{}", name.replace(".jsonl", ".json"));
                let doc = json!({ "records": records });
                std::fs::write(dest.join(&variant), doc.to_string()).expect("write");
                made.entry(rule.clone())
                    .or_default()
                    .push((variant, name.clone(), "aks-records"));
            }
        }
    }
    let shapes: std::collections::BTreeSet<&str> =
        made.values().flatten().map(|(_, _, s)| *s).collect();
    let all: Vec<&str> = AUDIT_SHAPES
        .iter()
        .chain(GKE_SHAPES)
        .map(|(s, _)| *s)
        .chain(["aks-records"])
        .collect();
    for s in &all {
        assert!(shapes.contains(s), "no sample was rewritten as {s}");
    }

    let dir = tmp.display().to_string();
    // The example site layer fills the `fill list`s, so that every rule runs.
    let site = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/site");
    let (code, out, err) = common::ward(&[
        "test",
        "--bless",
        "--allow-missing-samples",
        "--format",
        "json",
        &dir,
        &site.display().to_string(),
    ]);
    assert!(code <= 1, "ward test: {code}\n{err}");
    let reports: Vec<Value> = serde_json::from_str(&out).expect("JSON report");
    let mut failures = Vec::new();
    for r in &reports {
        let rule = r["rule"].as_str().unwrap_or_default();
        if !made.contains_key(rule) {
            continue;
        }
        for f in r["failures"].as_array().into_iter().flatten() {
            let f = f.as_str().unwrap_or_default();
            // Samples must alert and must read as events.
            if !f.starts_with("no event that must") && !f.starts_with("no samples") {
                failures.push(format!("{rule}: {f}"));
            }
        }
    }
    let mut checked = 0;
    for (rule, variants) in &made {
        let golden = tmp.join("k8s/samples").join(rule).join("expected.jsonl");
        let text = std::fs::read_to_string(&golden).expect("blessed golden");
        let mut by_sample: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for line in text.lines() {
            let g: Value = serde_json::from_str(line).expect("golden line");
            let sample = g["sample"].as_str().unwrap_or_default().to_string();
            by_sample.entry(sample).or_default().push(what(&g));
        }
        for (variant, from, shape) in variants {
            let mut want = by_sample.get(from).cloned().unwrap_or_default();
            if *shape == "siem" {
                // Times as the events have them; a window's bounds are
                // Ward's own, RFC 3339 whatever the events said.
                want = want
                    .iter()
                    .map(|g| {
                        let mut s = siem_times(g);
                        for bound in ["first", "last"] {
                            if let Some(t) = g.pointer(&format!("/window/{bound}")) {
                                s["window"][bound] = t.clone();
                            }
                        }
                        s
                    })
                    .collect();
            }
            let got = by_sample.get(variant).cloned().unwrap_or_default();
            assert!(!want.is_empty(), "{rule}/{from} gave no alert");
            if got != want {
                failures.push(format!(
                    "{rule}: {variant} ({shape}) differs from {from}:\n  want {}\n  got  {}",
                    Value::Array(want),
                    Value::Array(got)
                ));
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // 42 rules, at least one canonical and one GKE sample each.
    assert!(
        checked >= 42 * 5,
        "only {checked} rewritten samples checked"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

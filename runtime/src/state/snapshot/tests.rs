//! Snapshots restored into a fresh engine give the alerts one engine
//! would have given; changed rules and bad files are reported.

use super::*;
use crate::scan::{Output, Scan};
use crate::state::Config;
use ward_compiler::lower::{lower, RuleSet};

fn rules(text: &str) -> RuleSet {
    let loaded = ward_compiler::load::load_texts(&[("r.ward", text)]);
    let report = ward_compiler::check(&loaded, ward_compiler::schema::bundled());
    assert_eq!(report.errors(), 0, "{:?}", report.diagnostics);
    lower(&loaded)
}

/// A k8s audit event `secs` seconds after 10:00.
fn audit(secs: i64, verb: &str, name: &str, user: &str) -> String {
    let t = format!("2024-05-01T10:{:02}:{:02}Z", secs / 60, secs % 60);
    serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
        "auditID": format!("id-{secs}"), "stage": "ResponseComplete",
        "verb": verb, "user": {"username": user},
        "objectRef": {"resource": "pods", "namespace": "prod", "name": name},
        "responseStatus": {"code": 200},
        "requestReceivedTimestamp": t, "stageTimestamp": t,
    })
    .to_string()
}

const OUT: Output = Output {
    text: false,
    with_event: false,
};

/// Feeds `lines` (numbered from `first`) to a scan of `rules`, restoring
/// `from` first; returns the snapshot at the end (taken instead of
/// finishing when `keep`), the alerts, and what the restore did.
fn run(
    rules_text: &str,
    cfg: Config,
    from: Option<Snapshot>,
    lines: &[String],
    first: usize,
    keep: bool,
) -> (Snapshot, Vec<Value>, Restored) {
    let mut sink = Vec::new();
    let mut scan = Scan::with_state(rules(rules_text), &mut sink, OUT, cfg);
    scan.begin_file("t");
    let restored = from.map(|s| scan.engine.restore(s)).unwrap_or_default();
    for (i, l) in lines.iter().enumerate() {
        assert!(scan.line("t", l.as_bytes(), first + i));
    }
    let snap = scan.engine.snapshot();
    if !keep {
        scan.finish();
    }
    scan.flush();
    drop(scan);
    let alerts = (String::from_utf8(sink).unwrap().lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (snap, alerts, restored)
}

/// Through its JSON text, as a file holds it.
fn through_text(s: Snapshot) -> Snapshot {
    parse(serde_json::to_string(&s).unwrap().as_bytes()).unwrap()
}

const SEQUENCE: &str = r#"source k8s.audit
rule create_then_delete {
  severity high
  sequence by user.username within 10m {
    made: verb == "create"
    gone: verb == "delete"
  }
  output "{user.username} created and deleted"
}
"#;

fn both_lateness() -> [Config; 2] {
    // Default lateness: the first event is still held for ordering at the
    // snapshot. None: it already reached the operator.
    [
        Config::default(),
        Config {
            lateness_ns: 0,
            ..Config::default()
        },
    ]
}

#[test]
fn a_sequence_completes_across_a_restore() {
    for cfg in both_lateness() {
        let first = [audit(0, "create", "web", "alice")];
        let (snap, alerts, _) = run(SEQUENCE, cfg, None, &first, 1, true);
        assert!(alerts.is_empty());
        let last = [audit(60, "delete", "web", "alice")];
        let (_, alerts, restored) = run(SEQUENCE, cfg, Some(through_text(snap)), &last, 2, false);
        assert_eq!(restored.taken.len(), 1, "{restored:?}");
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!(a["rule"], "create_then_delete");
        assert_eq!(a["output"], "alice created and deleted");
        let w = &a["window"];
        assert_eq!(w["count"], 2);
        assert_eq!(w["first"], "2024-05-01T10:00:00Z");
        assert_eq!(w["last"], "2024-05-01T10:01:00Z");
        assert_eq!(w["events"][0]["step"], "made");
        assert_eq!(w["events"][0]["line"], 1);
        assert_eq!(w["events"][1]["step"], "gone");
        assert_eq!(w["key"]["user.username"], "alice");

        // Without the snapshot the second step alone is nothing.
        let (_, alerts, _) = run(SEQUENCE, cfg, None, &last, 2, false);
        assert!(alerts.is_empty(), "{alerts:?}");
    }
}

#[test]
fn a_threshold_counts_across_a_restore() {
    let text = r#"source k8s.audit
rule deletes {
  severity medium
  when verb == "delete"
  count by user.username within 5m > 2
  output "{user.username} deleted"
}
"#;
    for cfg in both_lateness() {
        let two: Vec<String> = (0..2).map(|s| audit(s, "delete", "web", "bob")).collect();
        let (snap, alerts, _) = run(text, cfg, None, &two, 1, true);
        assert!(alerts.is_empty());
        let third = [audit(30, "delete", "web", "bob")];
        let (_, alerts, _) = run(text, cfg, Some(through_text(snap)), &third, 3, false);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0]["window"]["count"], 3);
        assert_eq!(alerts[0]["window"]["first"], "2024-05-01T10:00:00Z");
        assert_eq!(alerts[0]["window"]["events"].as_array().unwrap().len(), 3);
    }
}

#[test]
fn a_distinct_count_keeps_its_values_across_a_restore() {
    let text = r#"source k8s.audit
rule many_names {
  severity medium
  when verb == "get"
  count distinct objectRef.name by user.username within 5m >= 3
  output "{user.username} read many"
}
"#;
    for cfg in both_lateness() {
        let two = [audit(0, "get", "a", "eve"), audit(1, "get", "b", "eve")];
        let (snap, _, _) = run(text, cfg, None, &two, 1, true);
        // A value seen before does not count again; a new one completes.
        let more = [audit(2, "get", "a", "eve"), audit(3, "get", "c", "eve")];
        let (_, alerts, _) = run(text, cfg, Some(through_text(snap)), &more, 3, false);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(
            alerts[0]["window"]["distinct"],
            serde_json::json!(["b", "a", "c"])
        );
    }
}

#[test]
fn a_changed_rule_drops_its_state_and_others_keep_theirs() {
    let first = [audit(0, "create", "web", "alice")];
    let cfg = Config {
        lateness_ns: 0,
        ..Config::default()
    };
    let (snap, _, _) = run(SEQUENCE, cfg, None, &first, 1, true);
    let changed = SEQUENCE.replace("within 10m", "within 20m");
    let last = [audit(60, "delete", "web", "alice")];
    let (_, alerts, restored) = run(&changed, cfg, Some(through_text(snap)), &last, 2, false);
    assert!(alerts.is_empty(), "{alerts:?}");
    assert_eq!(restored.changed, [("create_then_delete".to_string(), 1)]);
    assert!(restored.summary().contains("DROPPED for 1 changed rule(s)"));

    // Output and severity are not the definition: the state is kept.
    let (snap, _, _) = run(SEQUENCE, cfg, None, &first, 1, true);
    let reworded = SEQUENCE.replace("severity high", "severity low");
    let (_, alerts, restored) = run(&reworded, cfg, Some(through_text(snap)), &last, 2, false);
    assert_eq!(alerts.len(), 1);
    assert_eq!(restored.taken.len(), 1);

    // A rule gone is reported as such.
    let (snap, _, _) = run(SEQUENCE, cfg, None, &first, 1, true);
    let other = SEQUENCE.replace("create_then_delete", "renamed");
    let (_, _, restored) = run(&other, cfg, Some(snap), &[], 2, false);
    assert_eq!(restored.unknown, [("create_then_delete".to_string(), 1)]);
}

#[test]
fn fingerprints_ignore_the_other_rules() {
    let alone = rules(SEQUENCE);
    let more = rules(&format!(
        "{SEQUENCE}\nrule other {{\n  severity low\n  when objectRef.namespace == \"kube-system\"\n}}\n"
    ));
    // As the matcher numbers them: slots differ, fingerprints do not.
    let a = crate::matcher::Matcher::new(alone);
    let b = crate::matcher::Matcher::new(more);
    assert_eq!(
        fingerprint(&a.rules.rules[0]),
        fingerprint(&b.rules.rules[0])
    );
}

#[test]
fn files_are_written_whole_and_bad_ones_set_aside() {
    let dir = std::env::temp_dir().join(format!("ward-snapshot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("state.json");
    assert!(matches!(load(&path), Found::Missing));

    let first = [audit(0, "create", "web", "alice")];
    let (snap, _, _) = run(SEQUENCE, Config::default(), None, &first, 1, true);
    let bytes = save(&path, &snap).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), bytes);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["state.json"], "no temporary file is left");
    let Found::Snapshot(back) = load(&path) else {
        panic!("not read back");
    };
    assert_eq!(back.held.len(), 1);

    for (text, want) in [
        ("{\"format\": 1, \"clock\": ", "not a state snapshot"),
        ("{\"format\": 99}", "format 99; this ward reads format 1"),
        ("[1, 2]", "not a state snapshot"),
    ] {
        std::fs::write(&path, text).unwrap();
        let Found::Bad { error, moved } = load(&path) else {
            panic!("{text}: taken as good");
        };
        assert!(error.contains(want), "{error}");
        let moved = moved.unwrap();
        assert!(!path.exists());
        let name = moved.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with("state.json.corrupt-"), "{name}");
        assert_eq!(std::fs::read_to_string(&moved).unwrap(), text);
        std::fs::remove_file(moved).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

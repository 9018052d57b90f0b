//! `ward test`: the golden-file harness on small rule sets, its output in
//! snapshots (passing, failing, missing golden, stale samples), `--bless`,
//! and the JSON and JUnit formats.

mod common;

use common::{dir, ward};
use std::path::{Path, PathBuf};

/// Output with the temp directory replaced by `$DIR`.
fn clean(text: &str, d: &Path) -> String {
    text.replace(&d.display().to_string(), "$DIR")
}

const RULE: &str = r#"source k8s.audit
rule exec_in_prod {
  title "Exec in prod"
  severity high
  when objectRef.subresource == "exec" and objectRef.namespace == "prod"
  output "{user.username} exec {objectRef.name}"
}
"#;

const ALERT: &str = concat!(
    r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseStarted","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"prod","name":"web-1","subresource":"exec"},"responseStatus":{"code":101},"stageTimestamp":"2024-01-02T03:04:05Z"}"#,
    "\n"
);
const QUIET: &str = concat!(
    r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","stage":"ResponseStarted","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"dev","name":"web-1","subresource":"exec"},"responseStatus":{"code":101},"stageTimestamp":"2024-01-02T03:04:06Z"}"#,
    "\n"
);
const GOLDEN: &str = "{\"sample\":\"alert.jsonl\",\"line\":1,\"time\":\"2024-01-02T03:04:05Z\",\"output\":\"alice exec web-1\",\"fields\":{\"objectRef.subresource\":\"exec\",\"objectRef.namespace\":\"prod\",\"user.username\":\"alice\",\"objectRef.name\":\"web-1\"}}\n";

fn passing_set(name: &str) -> PathBuf {
    dir(
        name,
        &[
            ("rules.ward", RULE),
            ("samples/exec_in_prod/alert.jsonl", ALERT),
            ("samples/exec_in_prod/quiet.jsonl", QUIET),
            ("samples/exec_in_prod/expected.jsonl", GOLDEN),
        ],
    )
}

#[test]
fn passing() {
    let d = passing_set("pass");
    let (code, out, _) = ward(&["test", d.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}");
    insta::assert_snapshot!(clean(&out, &d), @r"
    PASS exec_in_prod (1 alert, 1 quiet event(s))
    1 rule(s): 1 passed, 0 failed, 0 skipped
    ");
}

#[test]
fn a_broken_condition_or_a_mutated_golden_fails() {
    // The condition loses its namespace test: the near miss now fires, and
    // the golden file gains an alert.
    let broken = RULE.replace(" and objectRef.namespace == \"prod\"", "");
    let d = dir(
        "broken",
        &[
            ("rules.ward", &broken),
            ("samples/exec_in_prod/alert.jsonl", ALERT),
            ("samples/exec_in_prod/quiet.jsonl", QUIET),
            (
                "samples/exec_in_prod/expected.jsonl",
                &GOLDEN.replace("alice exec", "bob exec"),
            ),
        ],
    );
    let (code, out, _) = ward(&["test", d.to_str().expect("path")]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(clean(&out, &d));
}

#[test]
fn missing_golden_and_missing_samples() {
    let d = dir(
        "missing",
        &[
            (
                "rules.ward",
                &format!("{RULE}rule no_samples {{ when verb == \"get\" }}\n"),
            ),
            ("samples/exec_in_prod/alert.jsonl", ALERT),
        ],
    );
    let (code, out, _) = ward(&["test", d.to_str().expect("path")]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(clean(&out, &d));
    // Third-party rule sets may allow missing samples; the golden is still required.
    let (code, out, _) = ward(&["test", "--allow-missing-samples", d.to_str().expect("path")]);
    assert_eq!(code, 1);
    assert!(
        out.contains("PASS no_samples") && out.contains("no golden file"),
        "{out}"
    );
}

#[test]
fn stale_samples() {
    let d = passing_set("stale");
    std::fs::create_dir_all(d.join("samples/renamed_rule")).expect("mkdir");
    std::fs::write(d.join("samples/renamed_rule/expected.jsonl"), GOLDEN).expect("write");
    let (code, out, _) = ward(&["test", d.to_str().expect("path")]);
    assert_eq!(code, 1);
    insta::assert_snapshot!(clean(&out, &d));
}

#[test]
fn bless_writes_the_golden_file() {
    let d = dir(
        "bless",
        &[
            ("rules.ward", RULE),
            ("samples/exec_in_prod/alert.jsonl", ALERT),
            ("samples/exec_in_prod/quiet.jsonl", QUIET),
        ],
    );
    let (code, out, _) = ward(&["test", "--bless", d.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}");
    let written = std::fs::read_to_string(d.join("samples/exec_in_prod/expected.jsonl"))
        .expect("golden written");
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(written.trim()).expect("json"),
        serde_json::from_str(GOLDEN.trim()).expect("json"),
    );
    assert_eq!(a, b);
    assert_eq!(ward(&["test", d.to_str().expect("path")]).0, 0);
}

#[test]
fn json_and_junit() {
    let d = passing_set("formats");
    std::fs::write(d.join("samples/exec_in_prod/quiet.jsonl"), ALERT).expect("write");
    let (code, out, _) = ward(&["test", "--format", "json", d.to_str().expect("path")]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(doc[0]["rule"], "exec_in_prod");
    assert_eq!(doc[0]["status"], "fail");
    assert_eq!(doc[0]["failures"][0], "quiet.jsonl:1: must not alert, did");
    let (_, out, _) = ward(&["test", "--format", "junit", d.to_str().expect("path")]);
    assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"ward test\" tests=\"1\" failures=\"1\" skipped=\"0\">"), "{out}");
    assert!(
        out.contains("<testcase name=\"exec_in_prod\"")
            && out.contains("<failure message=\"quiet.jsonl:1: must not alert, did\">"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("</testsuites>"));
}

#[test]
fn coverage_names_the_tests_no_sample_decided() {
    let d = passing_set("coverage");
    let (code, out, _) = ward(&["test", "--coverage", d.to_str().expect("path")]);
    assert_eq!(code, 1, "the subresource test is never false: {out}");
    insta::assert_snapshot!(clean(&out, &d), @r#"
    FAIL exec_in_prod (1 alert, 1 quiet event(s), 1/2 tests seen true and false)
        coverage: never false: objectRef.subresource == "exec"
    1 rule(s): 0 passed, 1 failed, 0 skipped
    "#);
    // A near miss on the subresource completes the coverage.
    let log = QUIET
        .replace("\"dev\"", "\"prod\"")
        .replace("\"exec\"", "\"log\"");
    std::fs::write(d.join("samples/exec_in_prod/quiet-log.jsonl"), log).expect("write");
    let (code, out, _) = ward(&["test", "--coverage", d.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn coverage_reports_macro_uses_and_excepts_as_wholes() {
    // The macro use is decided both ways by the samples; the except never
    // excludes anything (no event by `deploy-bot`), which coverage reports
    // both for its leaf and for the except as a whole.
    let rule = r#"source k8s.audit
macro prod_exec = objectRef.subresource == "exec" and objectRef.namespace == "prod"
rule exec_in_prod {
  title "Exec in prod"
  severity high
  when prod_exec
  except user.username == "deploy-bot"
  output "{user.username} exec {objectRef.name}"
}
"#;
    let log = QUIET
        .replace("\"dev\"", "\"prod\"")
        .replace("\"exec\"", "\"log\"");
    let bot = ALERT.replace("\"alice\"", "\"deploy-bot\"");
    let d = dir(
        "coverage-wholes",
        &[
            ("rules.ward", rule),
            ("samples/exec_in_prod/alert.jsonl", ALERT),
            ("samples/exec_in_prod/quiet.jsonl", QUIET),
            ("samples/exec_in_prod/quiet-log.jsonl", &log),
            ("samples/exec_in_prod/expected.jsonl", GOLDEN),
        ],
    );
    let (code, out, _) = ward(&["test", "--coverage", d.to_str().expect("path")]);
    assert_eq!(code, 1, "{out}");
    insta::assert_snapshot!(clean(&out, &d), @r#"
    FAIL exec_in_prod (1 alert, 2 quiet event(s), 3/5 tests seen true and false)
        coverage: never true: user.username == "deploy-bot"
        coverage: never true: except user.username == "deploy-bot"
    1 rule(s): 0 passed, 1 failed, 0 skipped
    "#);
    // A near miss by the excepted user completes it.
    std::fs::write(d.join("samples/exec_in_prod/quiet-bot.jsonl"), bot).expect("write");
    let (code, out, _) = ward(&["test", "--coverage", d.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}");
    let (_, json, _) = ward(&[
        "test",
        "--coverage",
        "--format",
        "json",
        d.to_str().expect("path"),
    ]);
    let report: serde_json::Value = serde_json::from_str(&json).expect("json");
    let kinds: Vec<&str> = report[0]["coverage"]
        .as_array()
        .expect("coverage")
        .iter()
        .map(|c| c["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["leaf", "leaf", "leaf", "macro", "except"]);
}

/// A sample file named `*.k8s.audit.*` is read as k8s.audit events
/// whatever their shape; named plainly, the same lines are of unknown
/// source and fail the rule.
#[test]
fn a_sample_name_forces_its_source() {
    // A trace that kept neither apiVersion, kind, user, auditID nor stage.
    let odd = r#"{"verb":"create","objectRef":{"resource":"pods","namespace":"prod","name":"web-1","subresource":"exec"},"actor":"alice"}"#;
    let golden = "{\"sample\":\"alert-trace.k8s.audit.jsonl\",\"line\":1,\"time\":null,\"output\":\" exec web-1\",\"fields\":{\"objectRef.subresource\":\"exec\",\"objectRef.namespace\":\"prod\",\"user.username\":null,\"objectRef.name\":\"web-1\"}}\n{\"sample\":\"alert.jsonl\",\"line\":1,\"time\":\"2024-01-02T03:04:05Z\",\"output\":\"alice exec web-1\",\"fields\":{\"objectRef.subresource\":\"exec\",\"objectRef.namespace\":\"prod\",\"user.username\":\"alice\",\"objectRef.name\":\"web-1\"}}\n";
    let files = |name: &'static str| {
        [
            ("rules.ward", RULE),
            ("samples/exec_in_prod/alert.jsonl", ALERT),
            ("samples/exec_in_prod/quiet.jsonl", QUIET),
            ("samples/exec_in_prod/expected.jsonl", golden),
            (name, odd),
        ]
    };
    let d = dir(
        "forced",
        &files("samples/exec_in_prod/alert-trace.k8s.audit.jsonl"),
    );
    let (code, out, _) = ward(&["test", d.to_str().expect("path")]);
    assert_eq!(code, 0, "{out}");
    let d = dir(
        "not-forced",
        &files("samples/exec_in_prod/alert-trace.jsonl"),
    );
    let (code, out, _) = ward(&["test", d.to_str().expect("path")]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("alert-trace.jsonl:line 1: not an event of a known source"),
        "{out}"
    );
}

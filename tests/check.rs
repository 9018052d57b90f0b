//! End-to-end tests of `ward check` and `ward schema`: exit codes, output
//! shapes, multi-file rule sets.

mod common;

use common::{dir, ward};
use std::path::Path;

use serde_json::Value;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).expect("--format json prints JSON")
}

fn codes(doc: &Value) -> Vec<String> {
    doc["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}

const CLEAN: &str = r#"source k8s.audit
rule exec_into_pod {
  title    "Exec into a pod"
  severity medium
  when     objectRef.resource == "pods" and objectRef.subresource == "exec"
  output   "{user.username} exec {objectRef.namespace}/{objectRef.name}"
}
"#;

#[test]
fn bundled_rules_are_clean() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let (code, out, err) = ward(&["check", "--deny", "warnings", s(&rules)]);
    assert_eq!(out, "", "no diagnostics on the bundled rules");
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 error(s), 0 warning(s)"), "{err}");
}

#[test]
fn clean_file_exits_zero() {
    let d = dir("clean", &[("r.ward", CLEAN)]);
    let (code, out, err) = ward(&["check", s(&d)]);
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(
        err.contains("1 file(s), 1 rule(s): 0 error(s), 0 warning(s)"),
        "{err}"
    );
}

#[test]
fn errors_exit_one_and_every_error_is_reported() {
    let bad = r#"source k8s.audit
rule a { when objectRef.resorce == "pods" }
rule b { when responseStatus.code == "403" }
rule c { when verb = "get" }
rule d { when user.groups == "system:masters" }
"#;
    let d = dir("errors", &[("r.ward", bad)]);
    let (code, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(code, 1);
    let doc = json(&out);
    assert_eq!(codes(&doc), ["E020", "E021", "E001", "E028"]);
    assert_eq!(doc["errors"], 4);
    assert_eq!(
        doc["rules"], 3,
        "the rule with a syntax error is not counted"
    );
}

#[test]
fn json_shape_is_stable() {
    let d = dir(
        "shape",
        &[(
            "r.ward",
            "source k8s.audit\nrule a {\n  when objectRef.resorce == \"pods\"\n}\n",
        )],
    );
    let (_, out, _) = ward(&["check", "--format", "json", s(&d)]);
    let doc = json(&out);
    let diag = &doc["diagnostics"][0];
    assert_eq!(diag["file"], d.join("r.ward").display().to_string());
    assert_eq!(
        (diag["line"].as_u64(), diag["column"].as_u64()),
        (Some(3), Some(18))
    );
    assert_eq!(
        (diag["end"]["line"].as_u64(), diag["end"]["column"].as_u64()),
        (Some(3), Some(25))
    );
    assert_eq!(diag["code"], "E020");
    assert_eq!(diag["name"], "unknown-field");
    assert_eq!(diag["severity"], "error");
    assert_eq!(diag["message"], "unknown field `objectRef.resorce`");
    assert_eq!(diag["help"], "did you mean `objectRef.resource`?");
    assert_eq!(
        diag["labels"][0]["message"],
        "`objectRef` has no field `resorce`"
    );
    let keys: Vec<&str> = doc
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "diagnostics",
            "errors",
            "files",
            "rules",
            "version",
            "warnings"
        ]
    );
}

#[test]
fn warnings_pass_unless_denied() {
    let w = "source k8s.audit\nrule a { when verb == \"craete\" }\n";
    let d = dir("warn", &[("r.ward", w)]);
    let (code, out, _) = ward(&["check", s(&d)]);
    assert_eq!(code, 0);
    assert!(
        out.contains("W003") && out.contains("did you mean \"create\"?"),
        "{out}"
    );
    let (code, _, _) = ward(&["check", "--deny", "warnings", s(&d)]);
    assert_eq!(code, 1);
}

#[test]
fn usage_and_io_errors_exit_two() {
    let (code, _, err) = ward(&["check", "/nonexistent/ward/rules"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent/ward/rules"), "{err}");
    let (code, _, err) = ward(&["chek"]);
    assert_eq!(code, 2);
    assert!(err.contains("unrecognized subcommand"), "{err}");
    let (code, _, _) = ward(&["check", "--format", "yaml", "."]);
    assert_eq!(code, 2);
    let (code, out, _) = ward(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Exit codes: 0 clean, 1 findings, 2 usage or I/O error"));
}

#[test]
fn lists_and_macros_are_shared_across_files_of_a_directory() {
    let lists = "source k8s.audit\nlist exec_subresources = [\"exec\", \"attach\"]\nmacro pod_exec = objectRef.resource == \"pods\" and objectRef.subresource in exec_subresources\n";
    let rule = "source k8s.audit\nrule r { when pod_exec and user.username != \"admin\" }\n";
    let d = dir("shared", &[("a/lists.ward", lists), ("b/rule.ward", rule)]);
    let (code, out, _) = ward(&["check", s(&d)]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn imports_load_files_from_elsewhere() {
    let lib = "source k8s.audit\nmacro pod_exec = objectRef.resource == \"pods\" and objectRef.subresource == \"exec\"\n";
    let rule = "source k8s.audit\nimport \"../lib/common.ward\"\nimport \"../lib/common.ward\"\nrule r { when pod_exec }\n";
    let d = dir(
        "imports",
        &[("lib/common.ward", lib), ("rules/r.ward", rule)],
    );
    // Only the rule directory is named; the import brings the macro.
    let (code, out, _) = ward(&["check", s(&d.join("rules"))]);
    assert_eq!((code, out.as_str()), (0, ""));
    // One file reached by two spellings loads once (no false E011).
    let main = "source k8s.audit\nimport \"sub/common.ward\"\nrule r { when pod_exec }\n";
    let d = dir(
        "imports-spelling",
        &[("sub/common.ward", lib), ("main.ward", main)],
    );
    let (code, out, _) = ward(&["check", s(&d.join("sub/..")), s(&d.join("sub/common.ward"))]);
    assert_eq!((code, out.as_str()), (0, ""));
    let missing = "source k8s.audit\nimport \"nope.ward\"\nrule r { when verb == \"get\" }\n";
    let d = dir("imports-missing", &[("r.ward", missing)]);
    let (code, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(code, 1);
    assert_eq!(codes(&json(&out)), ["E004"]);
}

#[test]
fn duplicates_across_files_show_both_places() {
    let a = "source k8s.audit\nlist users = [\"a\"]\n";
    let b = "source k8s.audit\nmacro users = verb == \"get\"\nrule r { when users }\n";
    let d = dir("dups", &[("a.ward", a), ("b.ward", b)]);
    let (code, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(code, 1);
    let doc = json(&out);
    let dup = doc["diagnostics"]
        .as_array()
        .and_then(|v| v.iter().find(|x| x["code"] == "E011"))
        .expect("E011");
    let files: Vec<&str> = dup["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| l["file"].as_str().unwrap_or(""))
        .collect();
    assert!(
        files[0].ends_with("b.ward") && files[1].ends_with("a.ward"),
        "{files:?}"
    );
    // The human rendering shows the second file as related.
    let (_, human, _) = ward(&["check", s(&d)]);
    assert!(
        human.contains("b.ward:2:7") && human.contains("a.ward:2:6"),
        "{human}"
    );
}

#[test]
fn macro_cycles_are_reported_once() {
    let r = "source k8s.audit\nmacro a = verb == \"get\" and b\nmacro b = c\nmacro c = a\nrule r { when a }\n";
    let d = dir("cycle", &[("r.ward", r)]);
    let (code, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(code, 1);
    let doc = json(&out);
    assert_eq!(codes(&doc), ["E012"]);
    assert!(
        doc["diagnostics"][0]["help"]
            .as_str()
            .unwrap_or("")
            .contains("a -> b -> c -> a"),
        "{doc}"
    );
}

#[test]
fn schema_lists_sources_and_fields() {
    let (code, out, _) = ward(&["schema"]);
    assert_eq!(code, 0);
    for src in [
        "k8s.audit",
        "aws.cloudtrail",
        "calico.flow",
        "calico.dns",
        "calico.audit",
    ] {
        assert!(out.contains(src), "{src} listed");
    }
    let (code, out, _) = ward(&["schema", "k8s.audit", "objectRef"]);
    assert_eq!(code, 0);
    let first: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert!(
        first.contains(&"objectRef.resource") && first.contains(&"objectRef.subresource"),
        "{out}"
    );
    assert!(first.iter().all(|p| p.starts_with("objectRef")), "{out}");
    let (code, _, err) = ward(&["schema", "k8s.audti"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `k8s.audit`?"), "{err}");
    let (code, out, _) = ward(&["schema", "k8s.audit", "requestObject"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("requestObject<pods>.spec.containers[].securityContext.privileged"),
        "{out}"
    );
}

#[test]
fn github_annotations() {
    let d = dir("github", &[("r,1.ward", "source k8s.audit\nrule a {\n  when objectRef.resorce == \"pods\" and verb == \"craete\"\n}\n")]);
    let (code, out, _) = ward(&["check", "--format", "github", s(&d)]);
    assert_eq!(code, 1);
    let file = d
        .join("r,1.ward")
        .display()
        .to_string()
        .replace(':', "%3A")
        .replace(',', "%2C");
    assert_eq!(
        out,
        format!(
            "::error file={file},line=3,col=18,endLine=3,endColumn=25,title=E020 unknown-field::unknown field `objectRef.resorce`%0Ahelp: did you mean `objectRef.resource`?\n\
             ::warning file={file},line=3,col=48,endLine=3,endColumn=56,title=W003 unknown-value::`craete` is not a known value of `verb`%0Ahelp: did you mean \"create\"?\n"
        )
    );
}

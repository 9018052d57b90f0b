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
            "inactive",
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

/// What a macro call's expansion finds in the body (here an error, a
/// warning of the checker and one of the lints, the macro in another file) is placed at the call in every
/// format, with the body as a related place in the macro's file.
#[test]
fn findings_in_a_macro_body_are_placed_at_the_call() {
    let m = "source k8s.audit\nmacro bad(x) = x == 3\nmacro verb_is(v) = verb == v and verb == \"gett\"\n";
    let r = "source k8s.audit\nrule r {\n  title \"R\"\n  when verb_is(\"get\") and bad(user.username)\n}\n";
    let d = dir("macro-body", &[("m.ward", m), ("r.ward", r)]);
    let (code, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(code, 1);
    let doc = json(&out);
    // (code, line, column, file) of the diagnostic, then of each label.
    let place = |x: &Value| {
        let file = x["file"].as_str().unwrap_or("");
        let file = Path::new(file)
            .file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("");
        (x["line"].as_u64(), x["column"].as_u64(), file.to_string())
    };
    let found: Vec<_> = (doc["diagnostics"].as_array().expect("diagnostics").iter())
        .map(|x| {
            let labels: Vec<_> = (x["labels"].as_array().expect("labels").iter())
                .map(|l| (place(l), l["message"].as_str().unwrap_or("").to_string()))
                .collect();
            (
                x["code"].as_str().unwrap_or("").to_string(),
                place(x),
                labels,
            )
        })
        .collect();
    let at = |line, col, file: &str| (Some(line), Some(col), file.to_string());
    assert_eq!(
        found,
        [
            (
                "W003".to_string(),
                at(4, 8, "r.ward"),
                vec![
                    (at(4, 8, "r.ward"), "in this call of `verb_is`".to_string()),
                    (
                        at(3, 42, "m.ward"),
                        "never seen in this field; in the body of macro `verb_is`, with v = \"get\"".to_string()
                    ),
                ]
            ),
            (
                "W012".to_string(),
                at(4, 8, "r.ward"),
                vec![
                    (at(4, 8, "r.ward"), "in this call of `verb_is`".to_string()),
                    (
                        at(3, 34, "m.ward"),
                        "`verb` is already \"get\", so it cannot be \"gett\"; in the body of macro `verb_is`, with v = \"get\"".to_string()
                    ),
                    (at(3, 20, "m.ward"), "contradicted by this test".to_string()),
                ]
            ),
            (
                "E021".to_string(),
                at(4, 27, "r.ward"),
                vec![
                    (at(4, 27, "r.ward"), "in this call of `bad`".to_string()),
                    (
                        at(2, 21, "m.ward"),
                        "this is an int; in the body of macro `bad`, with x = user.username".to_string()
                    ),
                    (at(2, 16, "m.ward"), "this is a string".to_string()),
                ]
            ),
        ]
    );
    // SARIF: the call is the location, the body a related location (its
    // columns in UTF-16 units, the same here).
    let (_, out, _) = ward(&["check", "--format", "sarif", s(&d)]);
    let doc = json(&out);
    let results = doc["runs"][0]["results"].as_array().expect("results");
    let region = |loc: &Value| {
        let p = &loc["physicalLocation"];
        let uri = p["artifactLocation"]["uri"].as_str().unwrap_or("");
        let file = uri.rsplit('/').next().unwrap_or("").to_string();
        let r = &p["region"];
        (r["startLine"].as_u64(), r["startColumn"].as_u64(), file)
    };
    let sarif: Vec<_> = results
        .iter()
        .map(|x| {
            let related: Vec<_> = (x["relatedLocations"].as_array().expect("related").iter())
                .map(region)
                .collect();
            (
                x["ruleId"].as_str().unwrap_or("").to_string(),
                region(&x["locations"][0]),
                related,
            )
        })
        .collect();
    assert_eq!(
        sarif,
        [
            (
                "W003".to_string(),
                at(4, 8, "r.ward"),
                vec![at(3, 42, "m.ward")]
            ),
            (
                "W012".to_string(),
                at(4, 8, "r.ward"),
                vec![at(3, 34, "m.ward"), at(3, 20, "m.ward")]
            ),
            (
                "E021".to_string(),
                at(4, 27, "r.ward"),
                vec![at(2, 21, "m.ward"), at(2, 16, "m.ward")]
            ),
        ]
    );
    // Human: each finding's header is the call, the body follows.
    let (_, human, _) = ward(&["check", s(&d)]);
    let headers: Vec<&str> = (human.lines())
        .filter_map(|l| l.split_once("╭─[").map(|(_, h)| h.trim_end_matches(']')))
        .map(|h| h.rsplit(['/', '\\']).next().unwrap_or(h))
        .collect();
    assert_eq!(
        headers,
        [
            "r.ward:4:8",
            "m.ward:3:42",
            "r.ward:4:8",
            "m.ward:3:34",
            "r.ward:4:27",
            "m.ward:2:21"
        ],
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

/// A rule that checks but has a lint finding (`literal-regex`).
const LINTED: &str = r#"source k8s.audit
rule api_probe {
  title    "API probe"
  severity low
  tags     [attack.discovery]
  when     requestURI matches "^/api"
}
"#;

#[test]
fn exit_codes_with_deny_warnings_and_suppressions() {
    let d = dir("deny", &[("r.ward", LINTED)]);
    for format in ["human", "json", "github", "sarif"] {
        let (code, out, _) = ward(&["check", "--format", format, s(&d)]);
        assert_eq!(code, 0, "{format}: warnings alone pass");
        assert!(out.contains("W015"), "{format}: {out}");
        let (code, _, _) = ward(&["check", "--format", format, "--deny", "warnings", s(&d)]);
        assert_eq!(code, 1, "{format}: --deny warnings fails on a warning");
    }
    let allowed = LINTED.replace(
        "rule api_probe",
        "# ward:allow(literal-regex) reason: kept as a regex to match the upstream rule\nrule api_probe",
    );
    let d = dir("deny-allowed", &[("r.ward", &allowed)]);
    let (code, out, err) = ward(&["check", "--deny", "warnings", s(&d)]);
    assert_eq!((code, out.as_str()), (0, ""), "suppressed: {err}");
    // Without a reason the suppression works, but is itself a warning.
    let no_reason = LINTED.replace(
        "rule api_probe",
        "# ward:allow(literal-regex)\nrule api_probe",
    );
    let d = dir("deny-no-reason", &[("r.ward", &no_reason)]);
    let (code, out, _) = ward(&["check", "--format", "json", "--deny", "warnings", s(&d)]);
    assert_eq!(code, 1);
    assert_eq!(codes(&json(&out)), ["W018"]);
    // Errors cannot be suppressed and always give 1.
    let err_rule = "source k8s.audit\n# ward:allow-file(E020) reason: no\nrule r { when objectRef.resorce == \"pods\" }\n";
    let d = dir("deny-error", &[("r.ward", err_rule)]);
    let (code, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(code, 1);
    assert_eq!(codes(&json(&out)), ["W018", "E020"]);
}

#[test]
fn usage_errors_exit_two_in_every_format() {
    for format in ["human", "json", "github", "sarif"] {
        let (code, out, err) = ward(&["check", "--format", format, "/nonexistent/ward/rules"]);
        assert_eq!((code, out.as_str()), (2, ""), "{format}");
        assert!(err.contains("cannot read"), "{err}");
    }
    let (code, _, err) = ward(&["check", "--deny", "errors", "."]);
    assert_eq!(code, 2);
    assert!(err.contains("invalid value 'errors'"), "{err}");
}

#[test]
fn repository_lints_follow_the_samples_layout() {
    let rule = "source k8s.audit\nrule exec_into_pod {\n  title \"Exec into a pod\"\n  when objectRef.subresource == \"exec\"\n}\n";
    // Not in the samples layout: no repository lints.
    let d = dir("repo-none", &[("r.ward", rule)]);
    let (code, out, _) = ward(&["check", "--deny", "warnings", s(&d)]);
    assert_eq!((code, out.as_str()), (0, ""));
    // A samples/ directory makes it a rule repository.
    let d = dir(
        "repo",
        &[("r.ward", rule), ("samples/other_rule/alert.jsonl", "{}\n")],
    );
    let (code, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(code, 0);
    assert_eq!(codes(&json(&out)), ["W014", "W017"]);
    assert!(out.contains("has no severity or tags"), "{out}");
    let d = dir(
        "repo-samples",
        &[
            ("r.ward", rule),
            ("samples/exec_into_pod/quiet_get.jsonl", "{}\n"),
        ],
    );
    let (_, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(codes(&json(&out)), ["W014"]);
    // A suppression of a repository lint is unused only where it could fire.
    let allowed = format!("# ward:allow-file(missing-samples) reason: generated\n{rule}");
    let d = dir("repo-allow-outside", &[("r.ward", &allowed)]);
    let (code, out, _) = ward(&["check", "--deny", "warnings", s(&d)]);
    assert_eq!((code, out.as_str()), (0, ""));
    let d = dir(
        "repo-allow-inside",
        &[
            ("r.ward", &allowed),
            ("samples/exec_into_pod/alert.jsonl", "{}\n"),
        ],
    );
    let (_, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(codes(&json(&out)), ["W019", "W014"]);
}

#[test]
fn sarif_shape() {
    let text = "source k8s.audit\n# é𝕏\nrule a {\n  when objectRef.resorce == \"pods\" # ünïcode 𝕏\n}\nrule b { when objectRef.resource == \"pods\" and verb == \"get\" and verb == \"list\" }\n";
    let text = text.replace(
        "when objectRef.resorce",
        "when \"𝕏\" == \"𝕏\" and objectRef.resorce",
    );
    let d = dir("sarif", &[("a b/r.ward", &text)]);
    let (code, out, _) = ward(&["check", "--format", "sarif", s(&d)]);
    assert_eq!(code, 1);
    let doc = json(&out);
    assert_eq!(doc["version"], "2.1.0");
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "one run per invocation");
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "ward");
    let rules = driver["rules"].as_array().expect("rules");
    assert_eq!(rules.len(), ward_compiler::Code::ALL.len());
    let results = runs[0]["results"].as_array().expect("results");
    let e020 = results
        .iter()
        .find(|r| r["ruleId"] == "E020")
        .expect("E020 result");
    let idx = e020["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(rules[idx]["id"], "E020");
    assert_eq!(rules[idx]["name"], "unknown-field");
    assert!(rules[idx]["helpUri"]
        .as_str()
        .unwrap_or("")
        .ends_with("spec/diagnostics.md#e020-unknown-field"));
    assert_eq!(rules[idx]["defaultConfiguration"]["level"], "error");
    assert_eq!(e020["level"], "error");
    let loc = &e020["locations"][0]["physicalLocation"];
    // Absolute temp paths are outside the current directory: file:// URIs.
    let uri = loc["artifactLocation"]["uri"].as_str().unwrap_or("");
    assert!(
        uri.starts_with("file:///") && uri.ends_with("/a%20b/r.ward"),
        "{uri}"
    );
    // `  when "𝕏" == "𝕏" and objectRef.` is 32 characters but 34 UTF-16
    // units: SARIF says column 35 where the JSON output says 33.
    let region = &loc["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(4), Some(35))
    );
    assert_eq!(
        (region["endLine"].as_u64(), region["endColumn"].as_u64()),
        (Some(4), Some(42))
    );
    let (_, out, _) = ward(&["check", "--format", "json", s(&d)]);
    assert_eq!(json(&out)["diagnostics"][0]["column"], 33);
    let w012 = results
        .iter()
        .find(|r| r["ruleId"] == "W012")
        .expect("W012 result");
    assert_eq!(w012["level"], "warning");
    assert_eq!(
        w012["relatedLocations"][0]["message"]["text"],
        "contradicted by this test"
    );
    // Paths below the current directory are relative, under %SRCROOT%.
    let cwd = std::env::current_dir().expect("cwd");
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sarif-rel");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    std::fs::write(tmp.join("r.ward"), LINTED).expect("write");
    let Ok(rel) = tmp.strip_prefix(&cwd) else {
        return; // a target directory elsewhere (CARGO_TARGET_DIR)
    };
    let arg = format!("./{}/../sarif-rel", rel.display());
    let (code, out, _) = ward(&["check", "--format", "sarif", &arg]);
    assert_eq!(code, 0);
    let doc = json(&out);
    let artifact =
        &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"];
    assert_eq!(
        artifact["uri"],
        format!("{}/r.ward", rel.display().to_string().replace('\\', "/"))
    );
    assert_eq!(artifact["uriBaseId"], "%SRCROOT%");
    let (_, out, _) = ward(&["check", "--format", "sarif", "rules"]);
    assert_eq!(json(&out)["runs"][0]["results"], serde_json::json!([]));
}

/// The CI recipe in the README and the hooks in .pre-commit-hooks.yaml run
/// real commands: each `ward check`/`ward test` there passes on the
/// bundled library (`ward fmt` too, once the command exists).
#[test]
fn ci_recipes_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules = root.join("rules");
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let hooks = std::fs::read_to_string(root.join(".pre-commit-hooks.yaml")).expect("hooks");
    let mut commands: Vec<String> = readme
        .lines()
        .filter_map(|l| l.trim().strip_prefix("run: ward "))
        .map(|c| c.split(" > ").next().unwrap_or(c).to_string())
        .collect();
    commands.extend(
        hooks
            .lines()
            .filter_map(|l| l.trim().strip_prefix("entry: ward "))
            .map(|c| format!("{c} rules/")),
    );
    let mut ran = 0;
    for c in &commands {
        let args: Vec<String> = c
            .split_whitespace()
            .map(|a| {
                if a == "rules/" {
                    s(&rules).to_string()
                } else {
                    a.to_string()
                }
            })
            .collect();
        if args[0] == "fmt" && ward(&["fmt", "--help"]).0 != 0 {
            continue; // no `ward fmt` in this build yet
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, _, err) = ward(&args);
        assert_eq!(code, 0, "ward {c}: {err}");
        ran += 1;
    }
    assert!(ran >= 4, "only {ran} commands found: {commands:?}");
}

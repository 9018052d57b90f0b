//! `ward check --format sarif` is valid SARIF 2.1.0: validated against the
//! official schema (vendored in tests/sarif/, provenance in its README).

mod common;

use common::{dir, ward};
use serde_json::Value;

/// The `language` pattern of `run` and `toolComponent`, as the schema
/// writes it: ECMAScript reads the stray `]` as a literal, Rust's regex
/// rejects it.
const ECMA_LANGUAGE: &str = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$""#;
/// The same pattern with the `]` escaped, so it means what it means in
/// ECMAScript. Ward never writes `language`.
const RUST_LANGUAGE: &str = r#""^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$""#;

fn validator() -> jsonschema::Validator {
    let text = include_str!("sarif/sarif-schema-2.1.0.json");
    assert_eq!(
        text.matches(ECMA_LANGUAGE).count(),
        2,
        "the vendored schema changed"
    );
    let text = text.replace(ECMA_LANGUAGE, RUST_LANGUAGE);
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

/// Every schema violation of `doc`, one per line.
fn violations(doc: &Value) -> Vec<String> {
    validator()
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn sarif(args: &[&str]) -> (u8, Value) {
    let mut argv = vec!["check", "--format", "sarif"];
    argv.extend_from_slice(args);
    let (code, out, err) = ward(&argv);
    let doc = serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}{err}"));
    (code, doc)
}

#[test]
fn findings_are_valid_sarif() {
    let a = "source k8s.audit\nlist users = [\"a\"]\n";
    let b = "source k8s.audit\n# ward:allow(W015)\nmacro users = verb == \"get\"\nrule r {\n  when users and objectRef.resorce == \"pods\" # ünïcode 𝕏\n}\nrule s { when requestURI matches \"^/api\" and verb == \"get\" and verb == \"list\" }\n";
    let d = dir("sarif-valid", &[("a.ward", a), ("b c/b.ward", b)]);
    let (code, doc) = sarif(&[d.to_str().expect("utf-8")]);
    assert_eq!(code, 1);
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert!(results.len() >= 4, "{doc:#}");
    assert!(
        results.iter().any(|r| r["relatedLocations"].is_array()),
        "secondary labels are exercised"
    );
    assert_eq!(violations(&doc), Vec::<String>::new());
}

#[test]
fn a_clean_run_is_valid_sarif() {
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let (code, doc) = sarif(&["--deny", "warnings", rules.to_str().expect("utf-8")]);
    assert_eq!(code, 0);
    assert_eq!(doc["runs"][0]["results"], serde_json::json!([]));
    assert_eq!(violations(&doc), Vec::<String>::new());
}

/// The validation can fail: broken documents are caught.
#[test]
fn broken_sarif_is_rejected() {
    let d = dir(
        "sarif-broken",
        &[(
            "r.ward",
            "source k8s.audit\nrule r { when objectRef.resorce == \"pods\" }\n",
        )],
    );
    let (_, doc) = sarif(&[d.to_str().expect("utf-8")]);
    assert_eq!(violations(&doc), Vec::<String>::new());

    let mut bad = doc.clone();
    bad["version"] = "2.0.0".into();
    assert!(!violations(&bad).is_empty(), "wrong version accepted");

    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        0.into();
    let v = violations(&bad);
    assert!(
        v.iter().any(|e| e.contains("startLine")),
        "a 0 line accepted: {v:?}"
    );

    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(!violations(&bad).is_empty(), "unknown level accepted");

    let mut bad = doc;
    bad["runs"][0]["tool"]["driver"]
        .as_object_mut()
        .expect("driver")
        .remove("name");
    assert!(
        !violations(&bad).is_empty(),
        "a driver without name accepted"
    );
}

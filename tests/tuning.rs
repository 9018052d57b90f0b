//! Tuning without forking: a site's own file, layered over the bundled
//! library with `--rules bundled --rules DIR`, extends a bundled list,
//! overrides a macro, adds an `except`, re-ranks a rule and disables
//! another; the library's files stay as they are, and `ward explain`
//! shows where each part comes from.

mod common;

use common::{dir, ward};
use serde_json::Value;

const SITE: &str = r#"source k8s.audit

# Our own miner image, seen in an incident.
extend list miner_images ["evilminer"]

# `guest` is how our proxy forwards unauthenticated callers.
override macro anonymous = user.username in ["system:anonymous", "guest"]
                           or "system:unauthenticated" in user.groups

list site_ci_users = ["github-actions"]

tune rule k8s_secret_read_by_human {
  except   user.username in site_ci_users
  severity low
}

tune rule k8s_exec_into_pod {
  enabled false
}
"#;

fn event(verb: &str, user: &str, resource: &str, sub: Option<&str>, body: Value) -> String {
    let mut ev = serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request",
        "auditID": format!("{verb}-{user}-{resource}"), "stage": "ResponseComplete",
        "requestURI": format!("/api/v1/namespaces/prod/{resource}/x"),
        "verb": verb, "user": {"username": user, "groups": ["system:authenticated"]},
        "sourceIPs": ["10.0.0.9"], "userAgent": "kubectl/v1.30.2",
        "objectRef": {"resource": resource, "namespace": "prod", "name": "x", "apiVersion": "v1"},
        "responseStatus": {"code": 200},
        "stageTimestamp": "2025-06-01T10:00:00Z"
    });
    if let Some(s) = sub {
        ev["objectRef"]["subresource"] = s.into();
        ev["responseStatus"]["code"] = 101.into();
    }
    if !body.is_null() {
        ev["requestObject"] = body;
        ev["responseStatus"]["code"] = 201.into();
    }
    ev.to_string()
}

fn events() -> String {
    let pod = serde_json::json!({"kind": "Pod", "apiVersion": "v1",
        "spec": {"containers": [{"name": "m", "image": "evilminer:latest"}]}});
    [
        event("create", "alice", "pods", None, pod),
        event("get", "guest", "configmaps", None, Value::Null),
        event("get", "github-actions", "secrets", None, Value::Null),
        event("get", "alice", "secrets", None, Value::Null),
        event("create", "alice", "pods", Some("exec"), Value::Null),
    ]
    .join("\n")
        + "\n"
}

/// (rule, severity, user) of each alert of `ward scan ARGS`.
fn alerts(args: &[&str]) -> Vec<(String, String, String)> {
    let (code, out, err) = ward(args);
    assert!(code <= 1, "{err}");
    let mut got: Vec<(String, String, String)> = out
        .lines()
        .map(|l| {
            let a: Value = serde_json::from_str(l).expect("alert JSON");
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (
                s(&a["rule"]),
                s(&a["severity"]),
                s(&a["event"]["user"]["username"]),
            )
        })
        .collect();
    got.sort();
    got
}

#[test]
fn a_site_file_tunes_the_bundled_library() {
    let d = dir(
        "tuning",
        &[("site/site.ward", SITE), ("events.jsonl", &events())],
    );
    let site = d.join("site").display().to_string();
    let file = d.join("events.jsonl").display().to_string();
    let library = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/k8s/rbac.ward"),
    )
    .expect("rbac.ward");

    // The library alone: no miner (unknown image), no anonymous (guest is
    // a user), both secret reads, the exec.
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        alerts(&["scan", &file]),
        [
            s("k8s_exec_into_pod", "medium", "alice"),
            s("k8s_secret_read_by_human", "medium", "alice"),
            s("k8s_secret_read_by_human", "medium", "github-actions"),
        ]
    );
    // With the site layer: the extended list and the overridden macro
    // fire, the CI user is excepted, the rule re-ranked, the exec rule off.
    assert_eq!(
        alerts(&["scan", "--rules", "bundled", "--rules", &site, &file]),
        [
            s("k8s_anonymous_request_allowed", "high", "guest"),
            s("k8s_miner_image", "critical", "alice"),
            s("k8s_secret_read_by_human", "low", "alice"),
        ]
    );
    // The library's files are what they were.
    let after = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/k8s/rbac.ward"),
    )
    .expect("rbac.ward");
    assert_eq!(library, after);

    // `ward explain` says where each part comes from.
    let (code, out, err) = ward(&[
        "explain",
        "--rules",
        "bundled",
        "--rules",
        &site,
        "k8s_secret_read_by_human",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("rule k8s_secret_read_by_human (k8s.audit, low)"),
        "{out}"
    );
    assert!(out.contains("written in rules/k8s/rbac.ward"), "{out}");
    assert!(
        out.contains(&format!("tuned by {site}/site.ward:12")),
        "{out}"
    );
    assert!(
        out.contains(r#"unless: user.username in ["github-actions"]"#),
        "{out}"
    );
    let (_, out, _) = ward(&[
        "explain",
        "--rules",
        "bundled",
        "--rules",
        &site,
        "k8s_anonymous_request_allowed",
    ]);
    assert!(
        out.contains(&format!(
            "macro anonymous from {site}/site.ward:7 (overrides the one in rules/k8s/lists.ward:"
        )),
        "{out}"
    );
    let (_, out, _) = ward(&[
        "explain",
        "--rules",
        "bundled",
        "--rules",
        &site,
        "k8s_exec_into_pod",
    ]);
    assert!(out.contains("  disabled"), "{out}");
    // The site file is as `ward fmt` writes tunes and overrides.
    let (code, out, err) = ward(&["fmt", "--check", &site]);
    assert_eq!(code, 0, "{out}{err}");
}

/// Tuning what does not exist, or what a tune may not change, is an error
/// with a did-you-mean; so is overriding a list or a macro twice.
#[test]
fn bad_tuning_is_reported() {
    let cases: &[(&str, &str, &str)] = &[
        ("tune rule k8s_secret_read_by_humn {\n  enabled false\n}\n", "E010", "did you mean `k8s_secret_read_by_human`?"),
        ("tune rule k8s_exec_into_pod {\n  when verb == \"get\"\n}\n", "E029", "a tune cannot set `when`"),
        ("tune rule k8s_exec_into_pod {\n  severity hgh\n}\n", "E029", "did you mean `high`?"),
        ("override macro anonymus = verb == \"get\"\n", "E010", "did you mean `anonymous`?"),
        ("override macro miner_images = verb == \"get\"\n", "E013", "add items with `extend list miner_images [...]`"),
        (
            "override macro anonymous = verb == \"get\"\noverride macro anonymous = verb == \"list\"\n",
            "E011",
            "macro `anonymous` is overridden twice",
        ),
        ("extend list miner_image [\"x\"]\n", "E010", "did you mean `miner_images`?"),
        ("tune rule k8s_exec_into_pod {\n  except user.usrname == \"x\"\n}\n", "E020", "did you mean `user.username`?"),
    ];
    for (i, (text, code, want)) in cases.iter().enumerate() {
        let d = dir(
            &format!("bad-tuning-{i}"),
            &[("site.ward", &format!("source k8s.audit\n{text}"))],
        );
        let site = d.join("site.ward").display().to_string();
        let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let (exit, out, err) = ward(&["check", rules.to_str().expect("path"), &site]);
        assert_eq!(exit, 1, "{text}: {out}{err}");
        assert!(
            out.contains(code) && out.contains(want),
            "{text}: want {code} {want}:\n{out}"
        );
    }
}

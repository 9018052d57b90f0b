//! Checker tests: which codes a rule gets, and where.

use crate::diagnostic::Code;
use crate::{check, load, schema};

/// Codes for a file (source k8s.audit unless the text names one).
fn codes(text: &str) -> Vec<Code> {
    let text = if text.starts_with("source") {
        text.to_string()
    } else {
        format!("source k8s.audit\n{text}")
    };
    let loaded = load::load_texts(&[("t.ward", &text)]);
    check(&loaded, schema::bundled())
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect()
}

fn when(cond: &str) -> Vec<Code> {
    codes(&format!("rule r {{ when {cond} }}"))
}

fn help(text: &str) -> Vec<String> {
    let loaded = load::load_texts(&[("t.ward", text)]);
    check(&loaded, schema::bundled())
        .diagnostics
        .iter()
        .filter_map(|d| d.help.clone())
        .collect()
}

#[test]
fn clean_conditions() {
    for c in [
        r#"verb == "create" and objectRef.resource == "pods""#,
        r#"responseStatus.code in [401, 403] and sourceIPs[0] in cidr ["10.0.0.0/8", "fd00::/8"]"#,
        r#""system:masters" in user.groups"#,
        r#"annotations."authorization.k8s.io/decision" == "allow""#,
        r#"objectRef.subresource is null and requestURI contains "command=""#,
        r#"userAgent imatches r"^kubectl/v1\.\d+" and requestURI iglob "/api/v1/*""#,
        r#"any g in user.groups: g startswith "system:""#,
        r#"user.extra."authentication.kubernetes.io/pod-name"[0] == "p""#,
        r#"stageTimestamp > "2024-01-01T00:00:00Z""#,
        r#"requestObject exists and not (verb == "get")"#,
    ] {
        assert_eq!(when(c), [], "{c}");
    }
}

#[test]
fn type_errors() {
    assert_eq!(
        when(r#"responseStatus.code == "403""#),
        [Code::TypeMismatch]
    );
    assert_eq!(when(r#"verb < "z""#), [Code::TypeMismatch]);
    assert_eq!(
        when(r#"responseStatus.code contains "40""#),
        [Code::TypeMismatch]
    );
    assert_eq!(when(r#"verb in "create""#), [Code::TypeMismatch]);
    assert_eq!(
        when(r#"user.groups == "system:masters""#),
        [Code::ListVsScalar]
    );
    assert_eq!(
        when(r#"sourceIPs in cidr ["10.0.0.0/8"]"#),
        [Code::ListVsScalar]
    );
    assert_eq!(when(r#"user.groups contains "a""#), [Code::ListVsScalar]);
    assert_eq!(when(r#"any c in verb: c == "x""#), [Code::NotAList]);
    assert_eq!(when("verb"), [Code::NotBoolean]);
    assert_eq!(when(r#"objectRef.resorce == "pods""#), [Code::UnknownField]);
    assert_eq!(when(r#"verb.x == "a""#), [Code::UnknownField]);
    assert_eq!(when(r#"objectRef[0] == "a""#), [Code::NotAList]);
    assert_eq!(when(r#"usr == "a""#), [Code::UnknownName]);
    assert_eq!(when(r#"verb matches "(a""#), [Code::BadRegex]);
    assert_eq!(when(r#"verb iglob "[a""#), [Code::BadRegex]);
    assert_eq!(
        when(r#"sourceIPs[0] in cidr "10.0.0.1/8""#),
        [Code::BadCidr]
    );
    assert_eq!(
        when(r#"responseStatus.code in [401, "403"]"#),
        [Code::TypeMismatch]
    );
}

#[test]
fn help_suggests_the_fix() {
    let h = help("source k8s.audit\nrule r { when responseStatus.code == \"403\" }");
    assert_eq!(h, ["write the number without quotes: `403`"]);
    let h = help("source k8s.audit\nrule r { when username == \"bob\" }");
    assert_eq!(h, ["did you mean `user.username`?"]);
    let h = help("source k8s.audit\nrule r { when user.groups == \"system:masters\" }");
    assert_eq!(h[0], "test membership: `\"system:masters\" in user.groups`, or the elements: `any x in user.groups: x == ...`");
}

#[test]
fn request_object_narrows_on_guards() {
    let priv_ = "any c in requestObject.spec.containers: c.securityContext.privileged == true";
    assert_eq!(when(priv_), [Code::UnguardedPath]);
    assert_eq!(
        when(&format!(r#"objectRef.resource == "pods" and {priv_}"#)),
        []
    );
    // The guard may come later in the chain, or from a macro.
    assert_eq!(
        when(&format!(r#"{priv_} and objectRef.resource == "pods""#)),
        []
    );
    assert_eq!(
        codes(&format!(
            "macro pods = objectRef.resource == \"pods\"\nrule r {{ when pods and {priv_} }}"
        )),
        []
    );
    // A guard admitting a kind without that path still warns.
    assert_eq!(
        when(&format!(
            r#"objectRef.resource in ["pods", "services"] and {priv_}"#
        )),
        [Code::UnguardedPath]
    );
    // Under `or` nothing is known.
    assert_eq!(
        when(&format!(
            r#"(objectRef.resource == "pods" or verb == "get") and {priv_}"#
        )),
        [Code::UnguardedPath]
    );
    // Guarded typos are errors; unguarded ones warnings.
    assert_eq!(
        when(r#"objectRef.resource == "pods" and requestObject.spec.hostNetwrk == true"#),
        [Code::UnknownField]
    );
    assert_eq!(
        when("requestObject.spec.hostNetwrk == true"),
        [Code::UnknownShapePath]
    );
    // Pod specs at three depths.
    assert_eq!(
        when(
            r#"objectRef.resource == "deployments" and requestObject.spec.template.spec.hostPID == true"#
        ),
        []
    );
    assert_eq!(
        when(
            r#"objectRef.resource == "cronjobs" and requestObject.spec.jobTemplate.spec.template.spec.hostIPC == true"#
        ),
        []
    );
    assert_eq!(
        when(r#"objectRef.resource == "deployments" and requestObject.spec.hostPID == true"#),
        [Code::UnknownField]
    );
    // Paths every kind has need no guard; unknown kinds are free-form.
    assert_eq!(when("requestObject.metadata.name == \"x\""), []);
    assert_eq!(
        when(r#"objectRef.resource == "widgets" and requestObject.spec.anything == 1"#),
        []
    );
    // A list's field without a quantifier is E028 even when unguarded.
    assert_eq!(
        when(r#"requestObject.spec.containers.image == "x""#),
        [Code::ListVsScalar]
    );
}

#[test]
fn names_lists_and_macros() {
    assert_eq!(
        codes("list l = [\"a\"]\nrule r { when l }"),
        [Code::WrongKind]
    );
    assert_eq!(
        codes("macro m = verb == \"get\"\nrule r { when verb in m }"),
        [Code::WrongKind]
    );
    assert_eq!(
        codes("list l = [\"a\", 1]\nrule r { when verb in l }"),
        [Code::BadList]
    );
    assert_eq!(
        codes("list verb = [\"a\"]\nrule r { when objectRef.name in verb }"),
        [Code::Shadowing]
    );
    assert_eq!(
        when(r#"any verb in user.groups: verb == "x""#),
        [Code::Shadowing]
    );
    assert_eq!(codes("macro m = m\nrule r { when m }"), [Code::MacroCycle]);
    assert_eq!(
        codes(
            "list cidrs = [\"10.0.0.0/8\", \"nope\"]\nrule r { when sourceIPs[0] in cidr cidrs }"
        ),
        [Code::BadCidr]
    );
    // Unused macros are still checked.
    assert_eq!(
        codes("macro m = verb == 1\nrule r { when verb == \"get\" }"),
        [Code::TypeMismatch]
    );
}

#[test]
fn rules_and_metadata() {
    assert_eq!(codes("rule r { title \"t\" }"), [Code::BadRule]);
    assert_eq!(
        codes("rule r { when verb == \"get\" when verb == \"list\" }"),
        [Code::BadRule]
    );
    assert_eq!(
        codes("rule r { severity hgih when verb == \"get\" }"),
        [Code::BadRule]
    );
    assert_eq!(
        codes("rule r { title high when verb == \"get\" }"),
        [Code::BadRule]
    );
    assert_eq!(
        codes("rule r { title \"a\" title \"b\" when verb == \"get\" }"),
        [Code::BadRule]
    );
    assert_eq!(
        codes("rule r { tittle \"a\" when verb == \"get\" }"),
        [Code::UnknownMeta]
    );
    assert_eq!(
        codes("rule r { when verb == \"get\" }\nrule r { when verb == \"list\" }"),
        [Code::Duplicate]
    );
    assert_eq!(
        codes("source k8s.audti\nrule r { when verb == \"get\" }"),
        [Code::UnknownSource]
    );
    assert_eq!(codes("source aws.cloudtrail\nrule r { when eventName == \"CreateCluster\" and sourceIPAddress in cidr [\"10.0.0.0/8\"] }"), []);
    assert_eq!(
        codes("source calico.flow\nrule r { when action == \"deny\" and dest_port == 3333 }"),
        []
    );
}

#[test]
fn templates() {
    assert_eq!(
        codes("rule r { when verb == \"get\" output \"{user.username} {{literal}} {sourceIPs}\" }"),
        []
    );
    assert_eq!(
        codes("rule r { when verb == \"get\" output \"{objectRef.nam}\" }"),
        [Code::BadTemplate]
    );
    assert_eq!(
        codes("rule r { when verb == \"get\" output \"{nope}\" }"),
        [Code::BadTemplate]
    );
    assert_eq!(
        codes("rule r { when verb == \"get\" output \"{user.\" }"),
        [Code::BadTemplate]
    );
    assert_eq!(
        codes("rule r { when verb == \"get\" output \"{a b}\" }"),
        [Code::BadTemplate]
    );
    let quoted = r#"rule r { when verb == "get" output "{annotations.\"authorization.k8s.io/decision\"} \t{user.nme}" }"#;
    let loaded = load::load_texts(&[("t.ward", &format!("source k8s.audit\n{quoted}"))]);
    let diags = check(&loaded, schema::bundled()).diagnostics;
    assert_eq!(
        diags.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::BadTemplate],
        "quoted segments work"
    );
    assert_eq!(diags[0].message, "output names unknown field `user.nme`");
}

#[test]
fn stateful_clauses() {
    assert_eq!(
        codes("rule r { when verb == \"get\" count by user.username, sourceIPs[0] within 5m > 5 }"),
        []
    );
    assert_eq!(codes("rule r { when verb == \"get\" count distinct objectRef.namespace by sourceIPs[0] within 1h > 10 }"), []);
    assert_eq!(
        codes("rule r { when verb == \"get\" count by user within 5m > 5 }"),
        [Code::BadKey]
    );
    assert_eq!(
        codes("rule r { when verb == \"get\" count by user.username within 0s > 5 }"),
        [Code::BadDuration]
    );
    assert_eq!(
        codes("rule r { when verb == \"get\" count by user.nme within 1m > 5 }"),
        [Code::UnknownField]
    );
    assert_eq!(
        codes("rule r { sequence by user.username within 10m { a: verb == \"create\" } }"),
        [Code::BadRule]
    );
    assert_eq!(
        codes("rule r { sequence by user.username within 10m { a: verb == \"create\" a: verb == \"get\" } }"),
        [Code::Duplicate]
    );
    assert_eq!(
        codes("rule r { sequence within 10m { a: objectRef.resource == \"pods\" and requestObject.spec.hostPID == true b: verb == \"get\" } }"),
        [],
        "each step narrows on its own guards"
    );
}

#[test]
fn enumerated_values() {
    assert_eq!(when(r#"verb == "craete""#), [Code::UnknownValue]);
    assert_eq!(when(r#"verb in ["create", "delet"]"#), [Code::UnknownValue]);
    assert_eq!(when(r#"stage == "ResponseStarted""#), []);
}

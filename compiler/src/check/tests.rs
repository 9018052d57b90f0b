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
    // Each pattern compiles once per check. The list's bad item is
    // reported once, at the item; the literal regex once; the glob of the
    // same text, `(a` taken literally, is no regex and is valid.
    assert_eq!(
        codes(
            r#"list bad = ["(a", "ok"]
rule r1 { when verb matches bad }
rule r2 { when objectRef.name matches bad }
rule r3 { when verb glob "(a" and userAgent matches "(a" }"#
        ),
        [Code::BadRegex, Code::BadRegex]
    );
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
    // Unused macros are still checked (and reported as unused).
    assert_eq!(
        codes("macro m = verb == 1\nrule r { when verb == \"get\" }"),
        [Code::UnusedDefinition, Code::TypeMismatch]
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

fn except(when: &str, except: &str) -> Vec<Code> {
    codes(&format!("rule r {{ when {when} except {except} }}"))
}

#[test]
fn contradictions_are_always_false() {
    for c in [
        r#"verb == "create" and verb == "delete""#,
        r#"verb == "create" and verb != "create""#,
        r#""create" == verb and verb != "create""#,
        r#"verb in ["get", "list"] and verb == "watch""#,
        r#"verb in ["get", "list"] and verb in ["watch", "create"]"#,
        r#"verb in ["get", "list"] and verb != "get" and verb not in ["list"]"#,
        r#"verb == "get" and verb not in ["get", "list"]"#,
        r#"responseStatus.code == 403 and responseStatus.code == 401"#,
        r#"verb == "get" and (verb == "list" or user.username == "x")"#,
        r#"verb == "get" and not (verb == "list" and verb == "watch")"#,
        r#"objectRef.resource == "pods" or (verb == "a" and verb == "b")"#,
    ] {
        assert!(
            when(c).contains(&Code::ConstantCondition),
            "{c}: {:?}",
            when(c)
        );
    }
    // Through macros and named lists, in another order.
    assert!(codes(
        "list reads = [\"get\", \"list\"]\nmacro write = verb == \"create\"\nrule r { when write and verb in reads }"
    )
    .contains(&Code::ConstantCondition));
    assert!(when(r#"verb == "get" or not verb == "get""#).contains(&Code::ConstantCondition));
}

#[test]
fn satisfiable_conditions_are_not_flagged() {
    for c in [
        r#"verb == "create" or verb == "delete""#,
        r#"verb in ["get", "list"] and verb != "get""#,
        r#"verb != "get" and verb != "list""#,
        r#"verb == "get" and objectRef.resource == "pods""#,
        r#"verb != "get" or verb == "get""#,
        r#"not (verb == "get") and not (verb == "list")"#,
        r#"verb == "get" and not (verb == "get" and user.username == "x")"#,
        // Numbers compare numerically: 403 and 403.0 are one value.
        r#"responseStatus.code == 403 and responseStatus.code == 403.0"#,
        // Free-form JSON and IPs are not analysed.
        r#"requestObject.kind == "Pod" and requestObject.kind == "Deployment""#,
        r#"sourceIPs[0] == "::1" and sourceIPs[0] == "0:0::1""#,
        // Each element is its own value.
        r#"any g in user.groups: g == "a" and any h in user.groups: h == "b""#,
    ] {
        assert_eq!(when(c), [], "{c}");
    }
}

#[test]
fn dead_excepts() {
    assert_eq!(
        except(r#"verb in ["get", "list"]"#, r#"verb == "watch""#),
        [Code::DeadExcept]
    );
    assert_eq!(
        except(
            r#"verb == "get""#,
            r#"verb != "get" and user.username == "x""#
        ),
        [Code::DeadExcept]
    );
    assert_eq!(except(r#"verb in ["get", "list"]"#, r#"verb == "get""#), []);
    assert_eq!(except(r#"verb == "get""#, r#"user.username == "x""#), []);
    // A contradiction inside the except is W012, not also W013.
    assert_eq!(
        except(
            r#"verb == "get""#,
            r#"user.username == "a" and user.username == "b""#
        ),
        [Code::ConstantCondition]
    );
}

#[test]
fn unused_and_duplicate_titles() {
    assert_eq!(
        codes("list l = [\"a\"]\nmacro m = verb == \"get\"\nrule r { when verb == \"get\" }"),
        [Code::UnusedDefinition, Code::UnusedDefinition]
    );
    assert_eq!(
        codes("list l = [\"a\"]\nmacro m = verb in l\nmacro n = m\nrule r { when n }"),
        []
    );
    assert_eq!(
        codes(
            "list l = [\"a\"]\nrule r { sequence within 1m { a: verb in l b: verb == \"get\" } }"
        ),
        []
    );
    assert_eq!(
        codes("rule a { title \"Same\" when verb == \"get\" }\nrule b { title \" same \" when verb == \"list\" }"),
        [Code::DuplicateTitle]
    );
}

#[test]
fn literal_regexes_and_case() {
    assert_eq!(when(r#"requestURI matches "^/api""#), [Code::LiteralRegex]);
    assert_eq!(when(r#"requestURI matches "^/api/.*""#), []);
    assert_eq!(when(r#"requestURI imatches "^/api$""#), []);
    assert_eq!(
        help("source k8s.audit\nrule r { when requestURI not matches r\"/healthz$\" }"),
        ["write `requestURI not endswith \"/healthz\"`: it says what it means and is faster"]
    );
    let dns = |c: &str| codes(&format!("source calico.dns\nrule r {{ when {c} }}"));
    assert_eq!(dns(r#"qname == "evil.example""#), [Code::CaseSensitive]);
    assert_eq!(dns(r#"qname in ["evil.example"]"#), [Code::CaseSensitive]);
    assert_eq!(
        codes("source calico.dns\nlist bad = [\"evil.example\"]\nrule r { when qname not in bad }"),
        [Code::CaseSensitive]
    );
    assert_eq!(
        help("source calico.dns\nlist bad = [\"evil.example\"]\nrule r { when qname not in bad }"),
        ["`qname` is compared ignoring case by DNS and HTTP; write `qname not iglob bad` (a glob without `*`, `?` or `[` is the exact text, ignoring case)"]
    );
    assert_eq!(dns(r#"qname endswith ".onion""#), [Code::CaseSensitive]);
    assert_eq!(dns(r#"qname iendswith ".onion""#), []);
    assert_eq!(dns(r#"qname == "1.2.3.4""#), [], "no letters, no case");
    assert_eq!(
        dns(r#"client_name == "Pod""#),
        [],
        "not a case-insensitive field"
    );
    assert_eq!(
        dns(r#"any r in rrsets: r.name endswith ".onion""#),
        [Code::CaseSensitive]
    );
    let flow = |c: &str| codes(&format!("source calico.flow\nrule r {{ when {c} }}"));
    assert_eq!(
        flow(r#"any d in dest_domains: d endswith ".onion""#),
        [Code::CaseSensitive]
    );
    assert_eq!(flow(r#"any d in dest_domains: d iendswith ".onion""#), []);
    assert_eq!(
        flow(r#"any d in dest_domains: any d in process_args: d == "x""#),
        [Code::Shadowing],
        "an inner binding of the name is not a domain"
    );
}

/// Codes after suppression, for a k8s.audit file.
fn suppressed(text: &str) -> Vec<Code> {
    codes(&format!("source k8s.audit\n{text}"))
}

#[test]
fn suppressions() {
    let unused = "list l = [\"a\"]\nrule r { when verb == \"get\" }";
    assert_eq!(suppressed(unused), [Code::UnusedDefinition]);
    assert_eq!(
        suppressed(&format!(
            "# ward:allow(unused-definition) reason: kept\n{unused}"
        )),
        []
    );
    assert_eq!(
        suppressed(&format!("# ward:allow(W010) reason: kept\n{unused}")),
        [],
        "by code"
    );
    assert_eq!(
        suppressed(&format!(
            "{unused}\n# ward:allow-file(W010) reason: a library"
        )),
        [],
        "file-wide, anywhere"
    );
    assert_eq!(
        suppressed(&format!("# ward:allow(unused-definition)\n{unused}")),
        [Code::BadSuppression],
        "no reason: reported, still applies"
    );
    // Inside a rule, it covers that rule.
    assert_eq!(
        suppressed("rule r {\n  # ward:allow(literal-regex) reason: kept for parity\n  when requestURI matches \"^/api\"\n}"),
        []
    );
    // It covers only the next item.
    assert_eq!(
        suppressed("# ward:allow(literal-regex) reason: x\nrule a { when verb == \"get\" }\nrule b { when requestURI matches \"^/api\" }"),
        [Code::UnusedSuppression, Code::LiteralRegex]
    );
    assert_eq!(
        suppressed("# ward:allow(E020) reason: x\nrule r { when verb == \"get\" }"),
        [Code::BadSuppression]
    );
    assert_eq!(
        suppressed("# ward:allow(nope, W019) reason: x\nrule r { when verb == \"get\" }"),
        [Code::BadSuppression, Code::BadSuppression]
    );
    assert_eq!(
        suppressed("# ward:alow(W010) reason: x\nrule r { when verb == \"get\" }"),
        [Code::BadSuppression]
    );
    assert_eq!(
        suppressed("rule r { when verb == \"get\" }\n# ward:allow(W010) reason: x"),
        [Code::BadSuppression]
    );
    // `#` in a string is not a comment.
    assert_eq!(
        suppressed("rule r { when requestURI == \"# ward:allow(W010)\" }"),
        []
    );
    // Repository lints that are off are not unused.
    assert_eq!(
        suppressed(
            "# ward:allow(missing-samples) reason: generated\nrule r { when verb == \"get\" }"
        ),
        []
    );
}

/// Macros of macros expand exponentially; the lints visit a bounded number
/// of nodes per rule. (The type checker expands each use, so the depth here
/// is what it handles quickly.)
#[test]
fn exponential_macros_stay_fast() {
    let mut text = String::from("macro m0 = verb == \"get\" or not verb == \"get\"\n");
    for i in 1..16 {
        text.push_str(&format!("macro m{i} = m{0} or m{0}\n", i - 1));
    }
    text.push_str("rule r { when m15 and m15 }\n");
    let loaded = load::load_texts(&[("t.ward", &format!("source k8s.audit\n{text}"))]);
    let start = std::time::Instant::now();
    let report = crate::check::check_with(&loaded, schema::bundled(), &Default::default());
    assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
    let _ = report;
}

/// Codes and messages for a rule set of several files.
fn layered(files: &[(&str, &str)]) -> check::Report {
    let loaded = load::load_texts(files);
    check(&loaded, schema::bundled())
}

#[test]
fn lists_are_extended_across_files() {
    let base = "source k8s.audit\nlist verbs = [\"delete\"]\n\
                rule r { title \"R\" when verb in verbs }\n";
    let site = "extend list verbs [\"patch\"]\n";
    let report = layered(&[("base.ward", base), ("site.ward", site)]);
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    // The extension's items are checked with the declaration's: a number
    // among strings is reported in the extending file.
    let report = layered(&[
        ("base.ward", base),
        ("site.ward", "extend list verbs [3]\n"),
    ]);
    let d: Vec<_> = report
        .diagnostics
        .iter()
        .map(|d| (d.code, d.file()))
        .collect();
    assert_eq!(d.len(), 1, "{:?}", report.diagnostics);
    assert_eq!(d[0].0, Code::BadList);
    assert_eq!(report.diagnostics[0].file(), crate::diagnostic::FileId(1));
    // A name that is no list: unknown (with a did-you-mean), or a macro.
    let report = layered(&[
        ("base.ward", base),
        ("site.ward", "extend list verb [\"x\"]\n"),
    ]);
    assert_eq!(report.diagnostics.len(), 1);
    assert_eq!(report.diagnostics[0].code, Code::UnknownName);
    assert_eq!(
        report.diagnostics[0].help.as_deref(),
        Some("did you mean `verbs`?")
    );
    let with_macro = "source k8s.audit\nmacro m = verb == \"get\"\nrule r { title \"R\" when m }\n";
    let report = layered(&[
        ("base.ward", with_macro),
        ("site.ward", "extend list m [\"x\"]\n"),
    ]);
    assert_eq!(report.diagnostics.len(), 1);
    assert_eq!(report.diagnostics[0].code, Code::WrongKind);
}

#[test]
fn fill_lists_make_their_rules_inactive_until_filled() {
    let base = "source k8s.audit\nfill list bad = []\nmacro from_bad = any ip in sourceIPs: ip in cidr bad\n\
                rule r { title \"R\" when from_bad }\n\
                rule s { title \"S\" when verb == \"get\" and user.username not in bad }\n\
                rule t { title \"T\" when verb == \"get\" }\n\
                rule u { title \"U\" enabled false when from_bad }\n\
                rule v { title \"V\" when verb == \"get\" except from_bad }\n";
    // Empty and read: no always-false or always-true warning, and the two
    // enabled rules that match on it (through a macro, or negated) are
    // inactive; the one that reads it in an `except` runs (excepting nothing).
    let report = layered(&[("base.ward", base)]);
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    assert_eq!(
        report.inactive,
        [
            ("r".to_string(), vec!["bad".to_string()]),
            ("s".to_string(), vec!["bad".to_string()]),
        ]
    );
    // A plain empty list is still a contradiction.
    assert_eq!(
        codes("list empty = []\nrule r { title \"R\" when verb == \"get\" and verb in empty }"),
        [Code::ConstantCondition]
    );
    // Filled from another file: active.
    let report = layered(&[
        ("base.ward", base),
        ("site.ward", "extend list bad [\"192.0.2.0/24\"]\n"),
    ]);
    assert!(report.inactive.is_empty(), "{:?}", report.inactive);
    let loaded = load::load_texts(&[("base.ward", base)]);
    let set = crate::lower::lower(&loaded);
    let active: Vec<(&str, bool)> = set
        .rules
        .iter()
        .map(|r| (r.id.as_str(), r.active()))
        .collect();
    assert_eq!(
        active,
        [
            ("r", false),
            ("s", false),
            ("t", true),
            ("u", false),
            ("v", true)
        ]
    );
    assert_eq!(set.rules[0].unfilled, ["bad"]);
}

#[test]
fn provenance_metadata() {
    let rule = |meta: &str| {
        codes(&format!(
            "rule r {{\n  title \"R\"\n  {meta}\n  when verb == \"get\"\n}}"
        ))
    };
    for ok in [
        "id \"5b2e3c1a-7f7e-4a55-9d3f-0c1d7b2f4a11\"",
        "status stable",
        "date \"2024-02-29\"",
        "modified \"2024/11/30\"",
        "false_positives [\"backup jobs\"]",
    ] {
        assert_eq!(rule(ok), [], "{ok}");
    }
    assert_eq!(rule("status stabel"), [Code::BadRule]);
    assert_eq!(rule("date \"2023-02-29\""), [Code::BadRule]);
    assert_eq!(rule("modified \"30.11.2024\""), [Code::BadRule]);
    assert_eq!(rule("date today"), [Code::BadRule]);
    assert_eq!(
        help("source k8s.audit\nrule r {\n  status stabel\n  when verb == \"get\"\n}\n"),
        ["did you mean `stable`?"]
    );
}

/// Parameterised macros: each misuse has its code, and a call is typed
/// with its arguments in place.
#[test]
fn macro_parameters() {
    let m = "list regs = [\"docker.io\"]\nmacro image_in(x, L) = registry(x) in L\n\
             macro priv(c) = c.securityContext.privileged == true\nmacro plain = verb == \"get\"\n";
    let pods = "objectRef.resource == \"pods\" and ";
    let rule = |cond: &str| {
        let mut c = codes(&format!("{m}rule r {{ when {pods}{cond} }}"));
        c.retain(|c| *c != Code::UnusedDefinition);
        c
    };
    // Clean: a field path, a quantifier variable, a path under it, a list.
    assert_eq!(
        rule("any c in requestObject.spec.containers: (image_in(c.image, regs) and priv(c)) and plain"),
        []
    );
    assert_eq!(rule("image_in(user.username, [\"a\"]) and plain"), []);
    // Arity, both ways, and a plain macro called.
    assert_eq!(rule("image_in(verb)"), [Code::MacroArity]);
    assert_eq!(rule("image_in"), [Code::MacroArity]);
    assert_eq!(rule("plain(verb)"), [Code::MacroArity]);
    // Typed per call: a string where `in` wants a list, an int for a bool.
    assert_eq!(rule("image_in(verb, \"x\")"), [Code::TypeMismatch]);
    assert_eq!(
        rule("any c in requestObject.spec.containers: priv(c.name)"),
        [Code::UnknownField]
    );
    // A literal has no fields; a macro is no value; arguments checked where written.
    assert_eq!(rule("priv(\"x\")"), [Code::TypeMismatch]);
    assert_eq!(rule("image_in(plain, regs)"), [Code::WrongKind]);
    assert_eq!(rule("image_in(verbb, regs)"), [Code::UnknownName]);
    // Recursion, direct and through another macro.
    assert_eq!(
        codes("macro f(x) = f(x)\nrule r { when f(verb) }"),
        [Code::MacroCycle]
    );
    assert_eq!(
        codes("macro f(x) = g(x)\nmacro g(y) = f(y)\nrule r { when f(verb) }"),
        [Code::MacroCycle]
    );
    // A mistake that does not involve a parameter: once, in the body,
    // however many calls.
    assert_eq!(
        codes("macro f(x) = x == \"get\" and verbb == \"b\"\nrule r { when f(verb) or f(user.username) }"),
        [Code::UnknownName]
    );
    // A parameter named like a field; one named twice.
    assert_eq!(
        codes("macro f(verb) = verb == \"a\"\nrule r { when f(user.username) }"),
        [Code::Shadowing]
    );
    assert_eq!(
        codes("macro f(x, x) = x == \"a\"\nrule r { when f(user.username, user.username) }"),
        [Code::Duplicate]
    );
    // A parameterised macro may not take a function's name.
    assert_eq!(
        codes("macro len(x) = x == \"a\"\nrule r { when len(user.username) }"),
        [Code::Duplicate, Code::UnusedDefinition]
    );
}

/// Hygiene: a macro body cannot read the caller's quantifier variable.
#[test]
fn macro_bodies_do_not_see_the_callers_variables() {
    let cond = "objectRef.resource == \"pods\" and any c in requestObject.spec.containers:";
    assert_eq!(
        codes(&format!(
            "macro m = c.name == \"x\"\nrule r {{ when {cond} m }}"
        )),
        [Code::CapturedVariable]
    );
    assert_eq!(
        codes(&format!(
            "macro m(x) = x == c.name\nrule r {{ when {cond} m(\"y\") }}"
        )),
        [Code::CapturedVariable]
    );
    // Passed as a parameter, it is fine; and the body's own variable does
    // not capture an argument of the same name.
    assert_eq!(
        codes(&format!(
            "macro m(c) = c.name == \"x\"\nrule r {{ when {cond} m(c) }}"
        )),
        []
    );
    assert_eq!(
        codes(&format!(
            "macro m(x) = any c in requestObject.spec.initContainers: c.name == x\n\
             rule r {{ when {cond} m(c.name) }}"
        )),
        []
    );
    // Outside a quantifier the name is simply unknown.
    assert_eq!(
        codes("macro m = c.name == \"x\"\nrule r { when m }"),
        [Code::UnknownField]
    );
}

/// An override keeps the parameters of the macro it replaces.
#[test]
fn overrides_keep_the_parameters() {
    let base =
        "source k8s.audit\nmacro f(x) = x == \"a\"\nrule r { title \"R\" when f(user.username) }\n";
    let run = |over: &str| {
        let loaded = load::load_texts(&[("base.ward", base), ("site.ward", over)]);
        check(&loaded, schema::bundled())
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        run("source k8s.audit\noverride macro f(y) = y == \"b\"\n"),
        []
    );
    // The override, and the call it no longer fits.
    assert_eq!(
        run("source k8s.audit\noverride macro f(x, y) = x == y\n"),
        [Code::MacroArity, Code::MacroArity]
    );
    assert_eq!(
        run("source k8s.audit\noverride macro f = verb == \"get\"\n"),
        [Code::MacroArity, Code::MacroArity]
    );
}

/// The lints see through calls of parameterised macros: what they find in
/// a call's expansion is shown at the call, with the test in the body.
#[test]
fn lints_see_into_macro_calls() {
    let m = "source k8s.audit\nmacro in_ns(x) = objectRef.namespace == x\n\
             macro not_ns(x) = not objectRef.namespace == x\nmacro verb_is(v) = verb == v\n\
             macro name_like(p) = user.username matches p\n";
    // Each diagnostic: its code, then the text under each label.
    let found = |rule: &str| -> Vec<(Code, Vec<String>)> {
        let text = format!("{m}{rule}\n");
        let loaded = load::load_texts(&[("t.ward", &text)]);
        check(&loaded, schema::bundled())
            .diagnostics
            .iter()
            .filter(|d| d.code != Code::UnusedDefinition)
            .map(|d| {
                let labels = d
                    .labels
                    .iter()
                    .map(|l| text[l.span.start..l.span.end].to_string());
                (d.code, labels.collect())
            })
            .collect()
    };
    let when = |cond: &str| found(&format!("rule r {{ when {cond} }}"));
    let w012 = Code::ConstantCondition;
    // A call that contradicts a test written in the rule: at the test,
    // with the call.
    assert_eq!(
        when(r#"in_ns("a") and objectRef.namespace == "b""#),
        [(
            w012,
            vec![
                r#"objectRef.namespace == "b""#.into(),
                r#"in_ns("a")"#.into()
            ]
        )]
    );
    // The other way round: at the call, then the test in the body.
    assert_eq!(
        when(r#"objectRef.namespace == "b" and in_ns("a")"#),
        [(
            w012,
            vec![
                r#"in_ns("a")"#.into(),
                "objectRef.namespace == x".into(),
                r#"objectRef.namespace == "b""#.into()
            ]
        )]
    );
    // Two calls of one macro.
    assert_eq!(
        when(r#"in_ns("a") and verb == "get" and in_ns("b")"#),
        [(
            w012,
            vec![
                r#"in_ns("b")"#.into(),
                "objectRef.namespace == x".into(),
                r#"in_ns("a")"#.into()
            ]
        )]
    );
    // A `not` in a body that the caller's test makes always true (as
    // `verb == "get" and not verb == "list"` written out).
    assert_eq!(
        when(r#"in_ns("a") and not_ns("b")"#),
        [(
            w012,
            vec![
                r#"not_ns("b")"#.into(),
                "objectRef.namespace == x".into(),
                r#"in_ns("a")"#.into()
            ]
        )]
    );
    // `P or not P` through calls; through two macros whose bodies read
    // alike but whose arguments differ, nothing.
    assert_eq!(
        when(r#"verb_is("get") or not verb_is("get")"#)
            .into_iter()
            .map(|(c, l)| (c, l[0].trim().to_string()))
            .collect::<Vec<_>>(),
        [(w012, r#"not verb_is("get")"#.to_string())]
    );
    // A dead except through a call.
    assert_eq!(
        found(r#"rule r { when in_ns("a") except in_ns("b") }"#)
            .into_iter()
            .map(|(c, l)| (c, l[0].clone()))
            .collect::<Vec<_>>(),
        [(Code::DeadExcept, r#"in_ns("b")"#.to_string())]
    );
    // Satisfiable through calls: nothing.
    for cond in [
        r#"in_ns("a") or in_ns("b")"#,
        r#"in_ns("a") and in_ns("a")"#,
        r#"in_ns("a") or not in_ns("b")"#,
        r#"in_ns("a") or not_ns("b")"#,
        r#"in_ns(user.username) and in_ns("b")"#,
    ] {
        assert_eq!(when(cond), [], "{cond}");
    }
    // Suppressed above the rule, as any warning there.
    assert_eq!(
        found("# ward:allow(constant-condition) reason: testing\nrule r { when in_ns(\"a\") and in_ns(\"b\") }"),
        []
    );
    // The checker's own warnings on an argument (an unknown value, a regex
    // that is a plain string) are shown at the call, too.
    assert_eq!(
        when(r#"verb_is("gett") and name_like("^x$")"#)
            .into_iter()
            .map(|(c, l)| (c, l[0].clone()))
            .collect::<Vec<_>>(),
        [
            (Code::UnknownValue, r#"verb_is("gett")"#.to_string()),
            (Code::LiteralRegex, r#"name_like("^x$")"#.to_string())
        ]
    );
}

/// A suppression comment right after a macro is about the item below it:
/// the macro's condition does not take the comment in.
#[test]
fn suppressions_after_a_macro_cover_the_next_item() {
    assert_eq!(
        suppressed(
            "macro m = verb == \"get\"\n# ward:allow(constant-condition) reason: testing\n\
             rule r { when m and verb == \"list\" }"
        ),
        []
    );
}

/// Macros, lists and calls where a value of the event goes: an output
/// template, a `by` key, the field of `count distinct`. Each is its own
/// diagnostic at what was written, not an unknown name or a bare syntax
/// error.
#[test]
fn macros_are_no_output_values_or_keys() {
    let m = "source k8s.audit\nmacro pod_exec = objectRef.resource == \"pods\"\n\
             macro in_ns(x) = objectRef.namespace == x\nlist admins = [\"a\"]\n";
    // Code, message and the text under the primary label.
    let found = |clause: &str| -> Vec<(Code, String, String)> {
        let text = format!(
            "{m}rule r {{ title \"R\" when pod_exec and in_ns(\"a\") and user.username in admins\n  {clause}\n}}\n"
        );
        let loaded = load::load_texts(&[("t.ward", &text)]);
        check(&loaded, schema::bundled())
            .diagnostics
            .iter()
            .filter(|d| d.code != Code::UnusedDefinition)
            .map(|d| {
                let s = d.span();
                (d.code, d.message.clone(), text[s.start..s.end].to_string())
            })
            .collect()
    };
    let one = |code: Code, msg: &str, at: &str| vec![(code, msg.to_string(), at.to_string())];
    assert_eq!(
        found("output \"{pod_exec} by {user.username}\""),
        one(
            Code::BadTemplate,
            "output names macro `pod_exec`, a condition",
            "pod_exec"
        )
    );
    assert_eq!(
        found("output \"{ in_ns(user.username) }\""),
        one(
            Code::BadTemplate,
            "output calls macro `in_ns`, a condition",
            "in_ns(user.username)"
        )
    );
    assert_eq!(
        found("output \"{admins}\""),
        one(Code::BadTemplate, "output names list `admins`", "admins")
    );
    assert_eq!(
        found("output \"{lower(user.username)}\""),
        one(
            Code::BadTemplate,
            "output calls `lower`",
            "lower(user.username)"
        )
    );
    // A field named in the template is still fine.
    assert_eq!(found("output \"{objectRef.namespace}\""), []);
    // Keys: a macro's name is a condition used as a value; a call is no
    // key at all.
    assert_eq!(
        found("count by pod_exec within 5m > 3"),
        one(
            Code::WrongKind,
            "macro `pod_exec` is a condition, not a value",
            "pod_exec"
        )
    );
    assert_eq!(
        found("count distinct pod_exec within 5m > 3"),
        one(
            Code::WrongKind,
            "macro `pod_exec` is a condition, not a value",
            "pod_exec"
        )
    );
    assert_eq!(
        found("count by user.username, in_ns(user.username) within 5m > 3"),
        one(
            Code::BadKey,
            "a `by` key is a field, not a call",
            "in_ns(user.username)"
        )
    );
    assert_eq!(
        found("count distinct in_ns(user.username) within 5m > 3"),
        one(
            Code::BadKey,
            "`count distinct` counts a field, not a call",
            "in_ns(user.username)"
        )
    );
    assert_eq!(
        found(
            "sequence by lower(user.username) within 5m { a: verb == \"get\" b: verb == \"list\" }"
        ),
        one(
            Code::BadKey,
            "a `by` key is a field, not a call",
            "lower(user.username)"
        )
    );
}

/// What a call's expansion finds in the macro's body, error or warning,
/// is shown at the call: the call is the primary label (the header's
/// line and column, the position JSON, SARIF and the editor give), and
/// the offending test in the body follows, saying whose body it is and
/// what the parameters stood for. The body, above the rule, is drawn
/// after the call, as a note.
#[test]
fn findings_in_a_macro_body_are_shown_at_the_call() {
    let text = "source k8s.audit\n\
                macro image_in(x, L) =\n  x in L and verb == \"gett\"\n\
                macro bad(x) = x == 3\n\
                list allowed = [\"a\"]\n\n\
                rule r {\n  title \"R\"\n  \
                when objectRef.resource == \"pods\" and any c in requestObject.spec.containers:\n    \
                image_in(c.image, allowed) and bad(user.username)\n}\n";
    let loaded = load::load_texts(&[("t.ward", text)]);
    let report = check(&loaded, schema::bundled());
    let at = |d: &crate::diagnostic::Diagnostic| -> Vec<(String, String)> {
        (d.labels.iter())
            .map(|l| {
                (
                    text[l.span.start..l.span.end].to_string(),
                    l.message.clone(),
                )
            })
            .collect()
    };
    let found: Vec<_> = report.diagnostics.iter().map(|d| (d.code, at(d))).collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        found,
        [
            (
                Code::UnknownValue,
                vec![
                    pair("image_in(c.image, allowed)", "in this call of `image_in`"),
                    pair(
                        "\"gett\"",
                        "never seen in this field; in the body of macro `image_in`, with x = c.image, L = allowed"
                    ),
                ]
            ),
            (
                Code::TypeMismatch,
                vec![
                    pair("bad(user.username)", "in this call of `bad`"),
                    pair(
                        "3",
                        "this is an int; in the body of macro `bad`, with x = user.username"
                    ),
                    pair("x", "this is a string"),
                ]
            ),
        ]
    );
    insta::assert_snapshot!(crate::diagnostic::render_plain(
        &loaded.sources,
        &report.diagnostics,
        100
    ));
}

/// A macro in another file than its call: the call's file first, the
/// macro's named in the note.
#[test]
fn findings_in_a_macro_of_another_file_name_both_files() {
    let macros = "source k8s.audit\nmacro bad(x) = x == 3\n";
    let rules = "source k8s.audit\nrule r {\n  title \"R\"\n  when bad(user.username)\n}\n";
    let loaded = load::load_texts(&[("macros.ward", macros), ("rules.ward", rules)]);
    let report = check(&loaded, schema::bundled());
    let files: Vec<Vec<String>> = (report.diagnostics.iter())
        .map(|d| {
            (d.labels.iter())
                .map(|l| loaded.sources.get(l.file).path.display().to_string())
                .collect()
        })
        .collect();
    assert_eq!(files, [["rules.ward", "macros.ward", "macros.ward"]]);
    insta::assert_snapshot!(crate::diagnostic::render_plain(
        &loaded.sources,
        &report.diagnostics,
        100
    ));
}

#[test]
fn rules_checked_side_by_side_give_the_report_of_one_thread() {
    // Errors and warnings in every part of the rule set, a list and a
    // macro used only by late rules (one thread sees their uses), a
    // macro reading a late rule's variable (reported at the call, and not
    // again when the macro is checked on its own), and a pattern each
    // thread compiles for itself.
    let mut text = String::from(
        "source k8s.audit\nlist late_only = [\"a\"]\nlist never = [\"b\"]\n\
         macro late_macro = verb == \"get\"\nmacro has_image(x) = c.image contains x\n",
    );
    for i in 0..400 {
        let when = match i % 7 {
            0 => format!("verb == \"v{i}\""),
            1 => format!("objectRef.resorce == \"r{i}\""),
            2 => "userAgent matches \"(a\"".to_string(),
            3 => format!("responseStatus.code == \"{i}\""),
            4 if i > 300 => "verb in late_only and late_macro".to_string(),
            5 if i > 380 => {
                "any c in requestObject.spec.containers: has_image(\"xmr\")".to_string()
            }
            5 => "user.username matches r\"^[a-z]+$\"".to_string(),
            _ => format!("verb == \"x\" and verb == \"y{i}\""),
        };
        text += &format!("rule r{i} {{\n  when {when}\n}}\n");
    }
    let loaded = load::load_texts(&[("t.ward", &text)]);
    let opts = super::Options::default();
    let one = super::check_on(&loaded, schema::bundled(), &opts, 1);
    assert!(one.errors() >= 100, "{}", one.errors());
    let codes: std::collections::HashSet<_> = one.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&Code::UnknownField) && codes.contains(&Code::BadRegex));
    assert!(
        one.diagnostics.iter().any(|d| d.message.contains("never")),
        "the unused list is reported"
    );
    assert!(
        !one.diagnostics
            .iter()
            .any(|d| d.message.contains("late_only") || d.message.contains("late_macro")),
        "lists used by late rules are used"
    );
    for threads in [2, 3, 8] {
        let many = super::check_on(&loaded, schema::bundled(), &opts, threads);
        assert_eq!(
            format!("{:?}", one.diagnostics),
            format!("{:?}", many.diagnostics),
            "{threads} threads"
        );
        assert_eq!(one.rules, many.rules);
    }
}

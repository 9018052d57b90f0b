//! The planned matcher (dispatch, shared predicates, projected extraction)
//! and the reference evaluator give the same verdicts: on every sample
//! event and on generated ones, for the bundled rules and for every rule in
//! the executable examples of spec/language.md.

use std::path::Path;

use serde_json::{json, Value};
use ward_compiler::lower::Stateful;
use ward_compiler::plan::Role;
use ward_compiler::{check, load, lower, schema, Severity};
use ward_runtime::decode::{self, source_of};
use ward_runtime::extract::extract;
use ward_runtime::matcher::{Matcher, Scratch};
use ward_runtime::{corpus, eval};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The bundled rules plus every clean `ward` example of the language spec.
fn rule_texts() -> Vec<(String, String)> {
    let mut texts: Vec<(String, String)> = ward_runtime::bundled::RULES
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let md = std::fs::read_to_string(root().join("spec/language.md")).expect("spec/language.md");
    let mut in_block = false;
    let mut body = String::new();
    for line in md.lines() {
        if in_block {
            if line.starts_with("```") {
                in_block = false;
                texts.push((
                    format!("language-{}.ward", texts.len()),
                    std::mem::take(&mut body),
                ));
            } else {
                body.push_str(line);
                body.push('\n');
            }
        } else if line.trim() == "```ward" {
            in_block = true;
        }
    }
    texts
}

/// The matcher of rule files that must check without errors; `context` is
/// shown if they do not.
fn matcher(files: &[(&str, &str)], context: &str) -> Matcher {
    let loaded = load::load_texts(files);
    let report = check(&loaded, schema::bundled());
    let errors: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity() == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{context}\n{errors:#?}");
    Matcher::new(lower::lower(&loaded))
}

const SHARED: &str = r#"source k8s.audit
rule s1 { when responseStatus.code >= 500 and userAgent startswith "kube" }
rule s2 { when userAgent contains "/" and responseStatus.code >= 500 except user.username startswith "system:" }
rule s3 { when responseStatus.code >= 500 and not (userAgent contains "kubectl") }
rule s4 { when responseStatus.code >= 500 or userAgent contains "curl" }
rule s5 { when user.username endswith "@example.com" and sourceIPs[0] in cidr ["10.0.0.0/8"] }
rule s6 { when sourceIPs[0] in cidr ["10.0.0.0/8"] and responseStatus.code >= 400 }
rule s7 { when responseStatus.code >= 400 and user.username endswith "@example.com" }
"#;

/// Rules indexed by resource and refined by user or verb, and one that sits
/// in a refined bucket unrefined: what dispatch answers is not checked
/// again, what it does not is.
const INDEXED: &str = r#"source k8s.audit
rule a { when objectRef.resource == "secrets" and verb in ["get", "list"] and user.username == "alice@example.com" }
rule b { when objectRef.resource == "secrets" and verb in ["get", "list"] and user.username == "bob@example.com" }
rule c { when objectRef.resource == "secrets" and verb == "get" and user.username in ["carol@example.com", "system:admin"] }
rule d { when objectRef.resource == "secrets" and verb == "list" }
rule e { when objectRef.resource == "pods" and verb == "create" }
rule f { when objectRef.resource == "pods" and verb == "delete" and user.username endswith "@example.com" }
rule g { when objectRef.resource in ["pods", "secrets"] and verb == "get" and objectRef.namespace == "kube-system" }
rule h { when objectRef.resource == "secrets" and verb == "get" and user.username == "dave@example.com" }
rule i { when objectRef.resource == "secrets" and verb == "list" and user.username == "system:kube-controller-manager" }
rule j { when objectRef.resource == "pods" and verb in ["get", "list"] and (verb == "list" and objectRef.namespace != "x") }
"#;

/// One matcher per rule set: the bundled library, and each language example
/// alone, so that one rule set's projection cannot hide another's gaps.
fn matchers() -> Vec<Matcher> {
    let texts = rule_texts();
    let bundled = texts.len()
        - texts
            .iter()
            .filter(|(n, _)| n.starts_with("language-"))
            .count();
    let mut sets: Vec<Vec<(&str, &str)>> = vec![texts[..bundled]
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect()];
    sets.extend(
        texts[bundled..]
            .iter()
            .map(|(n, t)| vec![(n.as_str(), t.as_str())]),
    );
    // Rules checked on every event that share required tests (planned
    // behind them), with negations, ors and excepts around them.
    sets.push(vec![("shared.ward", SHARED)]);
    sets.push(vec![("indexed.ward", INDEXED)]);
    let out: Vec<Matcher> = sets.iter().map(|refs| matcher(refs, "")).collect();
    assert!(
        out.len() > 30,
        "the bundled rules and the language examples: {}",
        out.len()
    );
    out
}

/// The units (plan entries: stateless rules, and the filter, steps and
/// `until` of stateful ones) that hold on `event`, by direct evaluation of
/// the lowered rules.
fn reference(m: &Matcher, source: &str, event: &Value) -> Vec<usize> {
    m.plan
        .rules
        .iter()
        .enumerate()
        .filter(|(_, p)| {
            let r = m.rule(p.rule);
            let hidden = r
                .excepts
                .iter()
                .any(|e| eval::eval(e, event, &mut Vec::new()));
            let own = |c: &lower::Cond| {
                eval::eval(&r.when, event, &mut Vec::new()) && eval::eval(c, event, &mut Vec::new())
            };
            r.source == source
                && r.active()
                && !hidden
                && match (p.role, &r.stateful) {
                    (Role::Step(n), Some(Stateful::Sequence(q))) => own(&q.steps[n].when),
                    (Role::Until, Some(Stateful::Sequence(q))) => q.until.as_ref().is_some_and(own),
                    _ => eval::matches(r, event),
                }
        })
        .map(|(i, _)| i)
        .collect()
}

/// Compares the three paths on one JSON text; returns how many rules fired.
fn agree(m: &Matcher, scratch: &mut Scratch, text: &[u8], what: &str) -> usize {
    let full: Value = serde_json::from_slice(text).expect("test events are JSON");
    let Some(source) = source_of(&full) else {
        return 0;
    };
    let want = reference(m, source, &full);
    m.matching(source, &full, scratch);
    assert_eq!(
        scratch.candidates, want,
        "{what}: planned on the full event"
    );
    let sparse = extract(text, &m.projection).expect("extractable");
    assert_eq!(
        source_of(sparse.root()),
        Some(source),
        "{what}: detection survives projection"
    );
    assert_eq!(
        m.source_of(sparse.root()),
        Some(source),
        "{what}: detection by slot"
    );
    m.matching(source, sparse.root(), scratch);
    assert_eq!(
        scratch.candidates, want,
        "{what}: planned on the extracted fields"
    );
    want.len()
}

#[test]
fn samples_agree() {
    let ms = matchers();
    let mut scratch = Scratch::default();
    let mut events = 0;
    let mut fired = 0;
    let dirs = [
        "tests/samples/k8s-audit",
        "tests/samples/k8s-audit/eks-cloudwatch",
        "tests/samples/cloudtrail",
        "tests/samples/calico",
    ];
    for dir in dirs {
        for e in std::fs::read_dir(root().join(dir)).expect("sample dir") {
            let p = e.expect("entry").path();
            if !p.is_file() {
                continue;
            }
            // Every event as decoded (wrappings unwrapped, GKE mapped).
            let bytes = std::fs::read(&p).expect("sample");
            let mut decoded = Vec::new();
            decode::read(
                &bytes[..],
                decode::Format::Auto,
                &mut |ev| decoded.push(ev),
                &mut |_| {},
            )
            .expect("readable");
            for ev in decoded {
                let text = serde_json::to_vec(&ev.value).expect("json");
                for m in &ms {
                    fired += agree(
                        m,
                        &mut scratch,
                        &text,
                        &format!("{}:{}", p.display(), ev.line),
                    );
                }
                events += 1;
            }
        }
    }
    assert!(events > 480, "{events} sample events");
    assert!(fired > 0, "some rule fired on the samples");
}

#[test]
fn generated_events_agree() {
    let ms = matchers();
    let mut scratch = Scratch::default();
    let mut fired = 0;
    for (i, text) in corpus::k8s_events(3000, 7)
        .iter()
        .chain(corpus::cloudtrail_records(1000, 7).iter())
        .enumerate()
    {
        for m in &ms {
            fired += agree(
                m,
                &mut scratch,
                text.as_bytes(),
                &format!("generated event {i}: {text}"),
            );
        }
    }
    assert!(fired > 50, "rules fire on generated events: {fired}");
}

/// Many string tests of every kind on a few fields, so that the planner
/// groups them (one automaton per field and case mode): cased and `i`
/// forms, negated forms, lists, globs, regexes, empty patterns, tests
/// combined and in `except`, and non-ASCII patterns whose lower-casing is
/// special (final sigma, long s, Kelvin sign, dotted I).
const GROUPED: &str = r#"source k8s.audit
list agents = ["kubectl/", "kube-controller-manager/", "ΣΑΣ"]
rule ua1 { when userAgent startswith ["kubectl/", "kube-"] }
rule ua2 { when userAgent istartswith "KUBECTL" }
rule ua3 { when userAgent contains "/v1." }
rule ua4 { when userAgent icontains ["STRASSE", "straße", "σας", "ΣΑΣ"] }
rule ua5 { when userAgent not contains "controller" }
rule ua6 { when userAgent not icontains "LEADER" }
rule ua7 { when userAgent endswith "leader-election" }
rule ua8 { when userAgent iendswith ["ELECTION", "ς", "Σ"] }
rule eq1 { when verb iequals ["GET", "List"] }
rule eq2 { when user.username iequals "SYSTEM:KUBE-SCHEDULER" or user.username equals "system:anonymous" }
rule eq3 { when objectRef.resource not iequals ["PODS", "ſecrets"] }
rule eq4 { when any g in user.groups: g iequals "SYSTEM:MASTERS" }
rule ua9 { when userAgent glob "kube-*/v1.*" }
rule ua10 { when userAgent iglob "KUBE?CONTROLLER*" }
rule ua11 { when userAgent matches r"^[a-z-]+/v\d+\.\d+" }
rule ua12 { when userAgent imatches [r"ſ", r"\x{212A}", r"^İ"] }
rule ua13 { when userAgent not matches r"^$" }
rule ua14 { when userAgent startswith "" }
rule ua15 { when userAgent contains "" and userAgent not endswith "/" }
rule ua16 { when userAgent matches r"\bcurl\b" }
rule ua17 { when userAgent istartswith agents }
rule ua18 { when userAgent startswith agents except userAgent contains "leader" }
rule ua19 { when userAgent icontains "k" and not (userAgent contains "K") }
rule ua20 { when userAgent not iglob "*/*" }
rule ua21 { when userAgent not imatches r"(?-i:Kube)" }
rule ua22 { when userAgent iendswith "ſ" or userAgent icontains "k" }
rule ua23 { when userAgent not istartswith ["", "x"] }
rule un1 { when user.username startswith "system:" }
rule un2 { when user.username endswith ["@example.com", ":default"] }
rule un3 { when user.username not endswith "@example.com" }
rule un4 { when user.username icontains "ADMIN" }
rule un5 { when user.username imatches r"^system:serviceaccount:[^:]+:(default|ΣΑΣ)$" }
rule un6 { when user.username glob "system:node:*" }
rule un7 { when user.username iglob "*@EXAMPLE.COM" }
rule un8 { when user.username not icontains ["node", "straße"] }
rule un9 { when user.username contains ":" and user.username not startswith "system:" }
rule ns1 { when objectRef.namespace startswith ["kube-", "ΣΑΣ", ""] }
rule ns2 { when objectRef.namespace endswith ["-system", "ς", "default"] }
rule ns3 { when objectRef.namespace not startswith "system:" }
rule ns4 { when objectRef.namespace equals "default" or objectRef.namespace equals "" }
rule ns5 { when objectRef.namespace istartswith ["KUBE", "İ", "STRASSE"] }
rule ns6 { when objectRef.namespace iendswith "SYSTEM" and objectRef.namespace not iendswith ["Σ", "/V1.29"] }
rule uri1 { when requestURI contains "?" }
rule uri2 { when requestURI startswith "/api/v1/namespaces/" }
rule uri3 { when requestURI matches r"/(exec|attach|portforward)\b" }
rule uri4 { when requestURI icontains ["COMMAND=", "watch=TRUE"] }
rule uri5 { when requestURI not glob "/apis/*" }
rule uri6 { when requestURI iendswith "/LOG" }
rule on1 { when objectRef.name startswith "app-" }
rule on2 { when objectRef.name matches r"^app-\d+-[a-z0-9]+$" }
rule on3 { when objectRef.name not contains "-" }
rule on4 { when objectRef.name iglob "*-CONFIG" }
rule on5 { when objectRef.name iendswith ["-TLS", "ς"] }
rule on6 { when objectRef.name not imatches r"^kube" }
rule img { when any c in requestObject.spec.containers: c.image icontains ["xmrig", "MINER"] and userAgent not icontains "ſ" }
rule q1 { when any c in requestObject.spec.containers: c.image icontains ["xmrig", "MINER", "σας"] }
rule q2 { when any c in requestObject.spec.containers: c.image icontains "Straße" }
rule q3 { when all c in requestObject.spec.containers: c.image not icontains "LATEST" }
rule q4 { when all c in requestObject.spec.containers: c.image istartswith ["registry.k8s.io/", "123456789012."] }
rule q5 { when any c in requestObject.spec.containers: c.image contains ":" }
rule q6 { when any c in requestObject.spec.containers: c.image not contains ":" }
rule q7 { when all c in requestObject.spec.containers: c.image glob "*:*" }
rule q8 { when any c in requestObject.spec.containers: c.image matches r"@sha256:[0-9a-f]{8}" }
rule q9 { when any c in requestObject.spec.containers: c.image endswith ":latest" }
rule q10 { when any c in requestObject.spec.initContainers: c.image icontains "busybox" }
rule q11 { when all c in requestObject.spec.initContainers: c.image not istartswith "BUSYBOX" }
rule q12 { when any c in requestObject.spec.initContainers: c.image imatches r"^(alpine|ΣΑΣ)" }
rule q13 { when any g in user.groups: g startswith "system:" }
rule q14 { when all g in user.groups: g startswith "system:" }
rule q15 { when any g in user.groups: g iendswith ":MASTERS" }
rule q16 { when any g in user.groups: g not icontains "ς" }
rule q17 { when not (any g in user.groups: g contains "auth") }
"#;

/// Values substituted into generated events to reach every branch of the
/// grouped tests: non-ASCII text, empty text, and values that are no
/// string at all (`None`: the field removed).
fn odd_values() -> Vec<Option<Value>> {
    let strings = [
        "",
        "/",
        "kubectl/v1.29.0 (linux/amd64)",
        "KUBECTL/V1.29",
        "Kube-Controller-Manager/v1.29.1/leader-election",
        "ΣΑΣ",
        "ΟΔΟΣ",
        "ὈΔΥΣΣΕΎΣ kubectl/",
        "Straße",
        "STRASSE",
        "ſtraſſe",
        "\u{212A}elvin",
        "İstanbul",
        "istanbul",
        "curl/8.6.0",
        "xcurl/8",
        "system:serviceaccount:kube-system:default",
        "system:serviceaccount:ns:σας",
        "alice@EXAMPLE.com",
        "app-12-abc9",
        "app-x-config",
        "/api/v1/namespaces/default/pods/x/exec?command=sh",
        "/apis/apps/v1/watch=true",
        "a\nb",
        "日本語/v1.2",
    ];
    let mut out: Vec<Option<Value>> = strings
        .iter()
        .map(|s| Some(Value::String(s.to_string())))
        .collect();
    out.extend([
        None,
        Some(Value::Null),
        Some(serde_json::json!(42)),
        Some(serde_json::json!(true)),
        Some(serde_json::json!(["kubectl/"])),
        Some(serde_json::json!({"a": "kubectl/"})),
    ]);
    out
}

#[test]
fn grouped_string_tests_agree() {
    let m = matcher(&[("grouped.ward", GROUPED)], "");
    let grouped = m.plan.leaf_str_group.iter().flatten().count();
    assert!(
        m.plan.str_groups.len() >= 10 && grouped > 60,
        "the tests are grouped: {} groups, {grouped} tests",
        m.plan.str_groups.len()
    );
    // Fields whose every test is a prefix, suffix or whole literal are
    // answered by comparing bytes, not by the automaton: cased and folded.
    let anchored: Vec<(String, bool)> = (m.plan.str_groups.iter())
        .filter(|g| g.anchored.is_some())
        .map(|g| (format!("{:?}", g.path.segs), g.folded))
        .collect();
    assert!(
        anchored.iter().any(|(p, f)| p.contains("namespace") && !f)
            && anchored.iter().any(|(p, f)| p.contains("namespace") && *f),
        "anchored groups: {anchored:?}"
    );
    let odd = odd_values();
    let fields: [&[&str]; 5] = [
        &["userAgent"],
        &["user", "username"],
        &["requestURI"],
        &["objectRef", "name"],
        &["objectRef", "namespace"],
    ];
    // Lists for the quantifiers: elements with odd images, no image, or
    // that are no object; an empty list; no list.
    let lists = |k: usize| -> Option<Value> {
        let img = |j: usize| odd[(k + j) % odd.len()].clone();
        let elem = |j: usize| match img(j) {
            Some(v) => serde_json::json!({"name": "c", "image": v}),
            None => serde_json::json!({"name": "c"}),
        };
        Some(match k % 7 {
            0 => return None,
            1 => serde_json::json!([]),
            2 => serde_json::json!([elem(0)]),
            3 => serde_json::json!([elem(0), elem(5), elem(11)]),
            4 => serde_json::json!([elem(2), null, "busybox"]),
            5 => serde_json::json!("xmrig"),
            _ => Value::Array((0..4).filter_map(img).collect()),
        })
    };
    let mut scratch = Scratch::default();
    let mut fired = 0;
    for (i, text) in corpus::k8s_events(2000, 11).iter().enumerate() {
        let mut ev: Value = serde_json::from_str(text).expect("json");
        // Most events keep their own values; the others get odd ones, a
        // different mix per field.
        for (f, path) in fields.iter().enumerate() {
            let k = i * (f + 3) + f;
            if k % 3 == 0 {
                continue;
            }
            let (last, parents) = path.split_last().expect("a path");
            let mut at = &mut ev;
            for p in parents {
                at = &mut at[*p];
            }
            let Some(obj) = at.as_object_mut() else {
                continue;
            };
            match &odd[k % odd.len()] {
                Some(v) => obj.insert(last.to_string(), v.clone()),
                None => obj.remove(*last),
            };
        }
        // Lists in half of the events: containers and init containers
        // (of objects), user groups (of strings, or whatever `lists` gives).
        if i % 2 == 1 {
            let k = i / 2;
            if !ev["requestObject"].is_object() {
                ev["requestObject"] = serde_json::json!({});
            }
            if !ev["requestObject"]["spec"].is_object() {
                ev["requestObject"]["spec"] = serde_json::json!({});
            }
            for (j, key) in ["containers", "initContainers"].iter().enumerate() {
                let spec = ev["requestObject"]["spec"]
                    .as_object_mut()
                    .expect("an object");
                match lists(k + j * 3) {
                    Some(l) => spec.insert(key.to_string(), l),
                    None => spec.remove(*key),
                };
            }
            if let Some(user) = ev["user"].as_object_mut() {
                let groups = match k % 5 {
                    0 => lists(k),
                    1 => Some(serde_json::json!(["system:masters", "ΣΑΣ", "dev"])),
                    _ => Some(Value::Array(
                        (0..3)
                            .filter_map(|j| odd[(k * 7 + j) % odd.len()].clone())
                            .collect(),
                    )),
                };
                match groups {
                    Some(g) => user.insert("groups".into(), g),
                    None => user.remove("groups"),
                };
            }
        }
        let bytes = serde_json::to_vec(&ev).expect("json");
        fired += agree(&m, &mut scratch, &bytes, &format!("event {i}: {ev}"));
    }
    assert!(fired > 2000, "grouped rules fire: {fired}");
}

/// Random string tests (every operator, both cases, negated or not, one to
/// three patterns) over random short values from an alphabet of letters
/// whose lower-casing and case folding disagree, grouped by the planner and
/// compared with the evaluator.
#[test]
fn random_grouped_string_tests_agree() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n
    };
    const ALPHABET: &[&str] = &[
        "a", "b", "k", "K", "\u{212A}", "s", "S", "ſ", "σ", "ς", "Σ", "ß", "i", "İ", "/", ".", " ",
    ];
    const REGEX: &[&str] = &[
        "a", "k", "s", "(?i:s)", "ſ", "^", "$", ".", "a*", "[a-k]", r"\w", r"\b", "σ|ς", "Σ", "ß",
        "(?-i:K)",
    ];
    let ops = ["contains", "startswith", "endswith", "glob", "matches"];
    let fields = ["userAgent", "user.username", "requestURI"];
    let word = |next: &mut dyn FnMut(usize) -> usize, glob: bool| {
        let len = next(4);
        let mut w = String::new();
        for _ in 0..len {
            match next(if glob { 10 } else { 8 }) {
                8 => w.push('*'),
                9 => w.push('?'),
                _ => w.push_str(ALPHABET[next(ALPHABET.len())]),
            }
        }
        w
    };
    for round in 0..6 {
        let mut text = String::from("source k8s.audit\n");
        for r in 0..60 {
            let op = ops[next(ops.len())];
            let ci = if next(2) == 1 { "i" } else { "" };
            let not = if next(3) == 0 { "not " } else { "" };
            let pats: Vec<String> = (0..1 + next(3))
                .map(|_| match op {
                    "matches" => {
                        let mut re = String::new();
                        for _ in 0..1 + next(3) {
                            re.push_str(REGEX[next(REGEX.len())]);
                        }
                        format!("r\"{re}\"")
                    }
                    _ => format!("\"{}\"", word(&mut next, op == "glob")),
                })
                .collect();
            let field = fields[next(fields.len())];
            text.push_str(&format!(
                "rule r{r} {{ when {field} {not}{ci}{op} [{}] }}\n",
                pats.join(", ")
            ));
        }
        let m = matcher(&[("random.ward", text.as_str())], &text);
        let grouped = m.plan.leaf_str_group.iter().flatten().count();
        assert!(grouped > 40, "round {round}: {grouped} grouped\n{text}");
        let mut scratch = Scratch::default();
        let base: Value =
            serde_json::from_str(&corpus::k8s_events(1, 3)[0]).expect("a generated event");
        for i in 0..400 {
            let mut ev = base.clone();
            ev["userAgent"] = Value::String(word(&mut next, false));
            ev["user"]["username"] = Value::String(word(&mut next, false));
            ev["requestURI"] = Value::String(word(&mut next, true));
            let bytes = serde_json::to_vec(&ev).expect("json");
            agree(
                &m,
                &mut scratch,
                &bytes,
                &format!("round {round}, event {i}: {ev}\n{text}"),
            );
        }
    }
}

/// Case-insensitive equality and membership (`iequals`, which the planner
/// indexes and groups by lower-cased values) beside exact tests of the
/// same fields, with values whose lower-casing is special: sharp s and its
/// capital (`ß`, `ẞ`, `SS`), the Kelvin sign (`\u{212A}`), dotted and
/// dotless I (`İ` lower-cases to `i\u{307}`), final sigma (`ΟΔΟΣ`), long s.
const CASELESS: &str = r#"source k8s.audit
list admins = ["Admin", "ROOT", "ẞ"]
rule c1 { when verb iequals "GET" }
rule c2 { when verb == "get" }
rule c3 { when verb iequals ["List", "WATCH", "ß"] and objectRef.resource iequals "PODS" }
rule c4 { when verb in ["list", "LIST"] and objectRef.resource == "pods" }
rule c5 { when objectRef.resource iequals ["\u{212A}", "İ"] }
rule c6 { when objectRef.resource iequals "k" or objectRef.resource == "K" }
rule c7 { when user.username iequals ["STRASSE", "straße", "ΣΑΣ"] and verb iequals "get" }
rule c8 { when user.username not iequals "ß" and verb == "list" }
rule c9 { when user.username iequals "ΟΔΟΣ" }
rule c10 { when objectRef.namespace iequals "İSTANBUL" and objectRef.resource iequals ["pods", "secrets"] and verb iequals ["get", "list"] }
rule c11 { when objectRef.namespace == "istanbul" and objectRef.resource iequals "PODS" }
rule c12 { when verb iequals "GET" except user.username iequals admins }
rule c13 { when objectRef.subresource iequals "EXEC" and objectRef.resource iequals "pods" }
rule c14 { when verb iequals "" or objectRef.subresource iequals ["LOG", "log"] }
rule c15 { when objectRef.resource iequals ["Secrets", "SECRETS", "ſecrets"] and user.username iequals "system:ADMIN" }
rule c16 { when not (verb iequals "delete") and objectRef.resource == "secrets" }
rule c17 { when user.username iequals admins and objectRef.namespace iequals ["default", "İstanbul"] }
rule c18 { when verb == "GET" and user.username == "ADMIN" }
rule c19 { when objectRef.resource == "pods" except verb in ["get", "GET", "ß"] }
rule c20 { when verb in ["list", "watch"] or objectRef.resource in ["secrets", "PODS", "k"] }
rule c21 { when verb not in ["get", "list"] and objectRef.resource in ["pods", "secrets"] }
"#;

#[test]
fn case_insensitive_equality_agrees() {
    let m = matcher(&[("caseless.ward", CASELESS)], "");
    // The tests are indexed and grouped, lower-cased, beside exact ones.
    let sp = &m.plan.sources["k8s.audit"];
    let folded = sp.dispatch.iter().filter(|(k, _)| k.fold.is_some()).count();
    let exact = sp.dispatch.iter().filter(|(k, _)| k.fold.is_none()).count();
    assert!(folded >= 2 && exact >= 1, "dispatch: {:?}", sp.dispatch);
    assert!(
        m.plan.eq_groups.iter().filter(|g| g.fold.is_some()).count() >= 3,
        "{:#?}",
        m.plan.eq_groups
    );
    let unindexed = sp.always.len() + sp.guarded.iter().map(|(_, r)| r.len()).sum::<usize>();
    assert!(unindexed <= 4, "most rules are dispatched: {sp:?}");
    // Memberships of string lists are answered by the exact groups too.
    let grouped_in = (0..m.plan.leaves.len())
        .filter(|&l| m.plan.leaf_group[l].is_some_and(|g| m.plan.eq_groups[g].fold.is_none()))
        .filter(|&l| matches!(m.plan.leaves[l], lower::Cond::InSet { .. }))
        .count();
    assert!(grouped_in >= 4, "{:#?}", m.plan.eq_groups);

    let odd = [
        None,
        Some(Value::Null),
        Some(serde_json::json!(42)),
        Some(serde_json::json!(["get"])),
    ];
    let strings = |vals: &[&str]| -> Vec<Option<Value>> {
        let mut out: Vec<Option<Value>> = vals
            .iter()
            .map(|v| Some(Value::String(v.to_string())))
            .collect();
        out.extend(odd.iter().cloned());
        out
    };
    let fields: [(&[&str], Vec<Option<Value>>); 5] = [
        (
            &["verb"],
            strings(&[
                "get", "GET", "Get", "list", "LIST", "watch", "WATCH", "delete", "ß", "SS", "ẞ", "",
            ]),
        ),
        (
            &["objectRef", "resource"],
            strings(&[
                "pods", "PODS", "Pods", "secrets", "SECRETS", "ſecrets", "K", "k", "\u{212A}", "İ",
                "i\u{307}", "i", "I",
            ]),
        ),
        (
            &["user", "username"],
            strings(&[
                "straße",
                "STRASSE",
                "ß",
                "ẞ",
                "ss",
                "ΣΑΣ",
                "σας",
                "σασ",
                "ΟΔΟΣ",
                "οδος",
                "οδοσ",
                "admin",
                "ADMIN",
                "root",
                "system:admin",
                "System:Admin",
                "ſystem:admin",
            ]),
        ),
        (
            &["objectRef", "namespace"],
            strings(&[
                "İSTANBUL",
                "istanbul",
                "i\u{307}stanbul",
                "İstanbul",
                "ISTANBUL",
                "default",
                "DEFAULT",
            ]),
        ),
        (
            &["objectRef", "subresource"],
            strings(&["exec", "EXEC", "Exec", "log", "LOG"]),
        ),
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) as usize) % n
    };
    let events = 4000;
    let mut scratch = Scratch::default();
    let mut counts = vec![0; m.plan.rules.len()];
    for (i, text) in corpus::k8s_events(events, 17).iter().enumerate() {
        let mut ev: Value = serde_json::from_str(text).expect("json");
        for (path, values) in &fields {
            let (last, parents) = path.split_last().expect("a path");
            let mut at = &mut ev;
            for p in parents {
                if !at[*p].is_object() {
                    at[*p] = serde_json::json!({});
                }
                at = &mut at[*p];
            }
            let Some(obj) = at.as_object_mut() else {
                continue;
            };
            match &values[next(values.len())] {
                Some(v) => obj.insert(last.to_string(), v.clone()),
                None => obj.remove(*last),
            };
        }
        let bytes = serde_json::to_vec(&ev).expect("json");
        agree(&m, &mut scratch, &bytes, &format!("event {i}: {ev}"));
        for r in reference(&m, "k8s.audit", &ev) {
            counts[r] += 1;
        }
    }
    // Each rule both fires and stays quiet on some events.
    for (r, n) in counts.iter().enumerate() {
        assert!(*n > 0 && *n < events, "rule c{}: fired {n} times", r + 1);
    }
}

/// Derived values beside the tests the planner groups and indexes on the
/// same fields: calls are never grouped or indexed (their leaves run
/// through the evaluator), but they read fields that extraction must keep.
const DERIVED: &str = r#"source k8s.audit
rule d1 { when "sh" in query(requestURI, "command") }
rule d2 { when any v in query(requestURI, "command"): v icontains ["shadow", "BASH"] }
rule d3 { when all v in query(requestURI, "command"): len(v) < 3 }
rule d4 { when len(query(requestURI, "command")) >= 2 and requestURI contains "exec" }
rule d5 { when "sh" not in query(requestURI, "command") and requestURI startswith "/api" }
rule d6 { when lower(user.username) == "admin" or user.username == "admin" }
rule d7 { when upper(user.username) startswith "SYSTEM:" and user.username startswith "system:" }
rule d8 { when lower(user.username) != user.username }
rule d9 { when len(user.groups) > 1 and "system:masters" in user.groups }
rule d10 { when len(user.username) == 0 or lower(user.username) is null }
rule d11 { when is_private(sourceIPs[0]) }
rule d12 { when not is_private(sourceIPs[0]) and sourceIPs[0] not in cidr ["192.0.2.0/24"] }
rule d13 { when is_private(sourceIPs[0]) == false }
rule d14 { when any ip in sourceIPs: (is_loopback(ip) or is_private(ip) != true) }
rule d15 { when verb == "create" and objectRef.resource == "pods" and any c in requestObject.spec.containers: registry(c.image) != "docker.io" }
rule d16 { when objectRef.resource == "pods" and any c in requestObject.spec.containers: (tag(c.image) == "latest" or digest(c.image) is null) }
rule d17 { when objectRef.resource == "pods" and all c in requestObject.spec.containers: repository(c.image) startswith "library/" }
rule d18 { when objectRef.resource == "pods" and len(requestObject.spec.containers) >= 2 }
rule d19 { when objectRef.resource == "pods" and any c in requestObject.spec.containers: c.image icontains "xmrig" }
rule d20 { when verb == "get" except lower(user.username) endswith "@example.com" }
rule d21 { when base64(userAgent) == "curl" or base64(userAgent) is not null }
rule d22 { when any v in query(requestURI, "command"): any g in user.groups: lower(g) == lower(v) }
rule d23 { when any g in user.groups: any v in query(requestURI, "command"): (v == g and len(g) > 0) }
rule d24 { when objectRef.resource == "pods" and any c in requestObject.spec.containers: any v in query(requestURI, "container"): v == repository(c.image) }
rule d25 { when requestURI contains lower(objectRef.name) and objectRef.subresource == "exec" }
rule d26 { when any k in keys(requestObject.metadata.labels): k icontains "debug" }
rule d27 { when len(values(requestObject.metadata.labels)) >= 2 and objectRef.resource == "pods" }
rule d28 { when "ops" in values(requestObject.metadata.labels) or len(keys(requestObject.metadata.labels)) == 0 }
rule d29 { when all v in values(requestObject.metadata.labels): v == lower(v) }
"#;

#[test]
fn derived_values_agree() {
    let m = matcher(&[("derived.ward", DERIVED)], "");
    let uris: &[Value] = &[
        Value::String("/api/v1/namespaces/x/pods/y/exec?command=sh&command=-c&command=cat%20%2Fetc%2Fshadow&container=c".into()),
        Value::String("/api/v1/namespaces/x/pods/y/exec?command=sh".into()),
        Value::String("/api/v1/namespaces/x/pods/y/exec?command=BASH&container=library%2Fnginx".into()),
        Value::String("/api/v1/pods?command=&command=%zz&command=a+b".into()),
        Value::String("/api/v1/pods".into()),
        Value::String("/api/v1/namespaces/x/pods/y/exec?command=dev&command=ops".into()),
        Value::String("".into()),
        Value::Null,
        serde_json::json!(5),
    ];
    let names: &[Value] = &[
        Value::String("admin".into()),
        Value::String("ADMIN".into()),
        Value::String("system:node:a".into()),
        Value::String("Alice@Example.com".into()),
        Value::String("".into()),
        Value::String("ΣΑΣ".into()),
        Value::Null,
        serde_json::json!(7),
    ];
    let ips: &[Value] = &[
        serde_json::json!(["10.1.2.3"]),
        serde_json::json!(["8.8.8.8", "127.0.0.1"]),
        serde_json::json!(["AWS Internal", "fd00::1"]),
        serde_json::json!(["100.64.0.1"]),
        serde_json::json!(["::ffff:192.168.0.1", "192.0.2.4"]),
        serde_json::json!([]),
        serde_json::json!([null, 5]),
        Value::Null,
    ];
    let images: &[Value] = &[
        serde_json::json!("nginx"),
        serde_json::json!("ghcr.io/a/b:1.2@sha256:abc"),
        serde_json::json!("localhost:5000/xmrig"),
        serde_json::json!("nginx@sha256:abc"),
        serde_json::json!(""),
        serde_json::json!("docker.io/library/nginx:latest"),
        Value::Null,
        serde_json::json!(3),
    ];
    let groups: &[Value] = &[
        serde_json::json!(["system:masters", "dev"]),
        serde_json::json!(["sh", "ops"]),
        serde_json::json!([]),
        serde_json::json!(["OPS", null, 4]),
        Value::Null,
    ];
    let labels: &[Value] = &[
        serde_json::json!({"Debug-Session": "alice", "app": "ops"}),
        serde_json::json!({"app": "web"}),
        serde_json::json!({}),
        serde_json::json!({"a": 1, "b": "ops", "c": null}),
        serde_json::json!({"tier": "Front", "debugger": "no", "x": {"y": "ops"}}),
        serde_json::json!("debug"),
        serde_json::json!(["debug"]),
        Value::Null,
    ];
    let mut scratch = Scratch::default();
    let mut fired = 0;
    let mut counts = vec![0; m.plan.rules.len()];
    for (i, text) in corpus::k8s_events(1500, 13).iter().enumerate() {
        let mut ev: Value = serde_json::from_str(text).expect("json");
        let pick = |vals: &[Value], k: usize| vals[(i * (k + 3) + k) % vals.len()].clone();
        if i % 4 != 0 {
            ev["requestURI"] = pick(uris, 1);
            ev["sourceIPs"] = pick(ips, 2);
            ev["userAgent"] = match i % 3 {
                0 => Value::String("Y3VybA==".into()),
                1 => Value::String("/w==".into()),
                _ => ev["userAgent"].take(),
            };
            if let Some(user) = ev["user"].as_object_mut() {
                user.insert("username".into(), pick(names, 3));
                user.insert("groups".into(), pick(groups, 4));
            }
        }
        if i % 2 == 1 {
            ev["objectRef"]["resource"] = Value::String("pods".into());
            let containers: Vec<Value> = (0..i % 4)
                .map(|j| serde_json::json!({"name": "c", "image": pick(images, 5 + j)}))
                .collect();
            ev["requestObject"] = serde_json::json!({"spec": {"containers": containers}});
        }
        if i % 3 != 2 {
            if !ev["requestObject"].is_object() {
                ev["requestObject"] = serde_json::json!({});
            }
            ev["requestObject"]["metadata"] = serde_json::json!({"labels": pick(labels, 6)});
        }
        let bytes = serde_json::to_vec(&ev).expect("json");
        fired += agree(&m, &mut scratch, &bytes, &format!("event {i}: {ev}"));
        for r in reference(&m, "k8s.audit", &ev) {
            counts[r] += 1;
        }
    }
    assert!(fired > 1000, "derived rules fire: {fired}");
    // Each rule both fires and stays quiet on some events.
    for (r, n) in counts.iter().enumerate() {
        assert!(*n > 0 && *n < 1500, "rule d{}: fired {n} times", r + 1);
    }
}

/// Every event of the bundled library's samples (wrappings unwrapped), with
/// where it was read.
fn library_sample_events() -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for top in [
        "rules/k8s/samples",
        "rules/aws/samples",
        "rules/calico/samples",
    ] {
        for rule in std::fs::read_dir(root().join(top)).expect("samples dir") {
            for f in std::fs::read_dir(rule.expect("entry").path()).expect("rule samples") {
                let p = f.expect("entry").path();
                if p.file_name().is_some_and(|n| n == "expected.jsonl") {
                    continue;
                }
                let bytes = std::fs::read(&p).expect("sample");
                decode::read(
                    &bytes[..],
                    decode::Format::Auto,
                    &mut |ev| events.push((format!("{}:{}", p.display(), ev.line), ev.value)),
                    &mut |_| {},
                )
                .expect("readable");
            }
        }
    }
    assert!(events.len() > 400, "{} library sample events", events.len());
    events
}

/// The alerts a JSON line gets on the fast path (projected extraction,
/// alerts rendered from a second extraction and the line's text) are byte
/// for byte the alerts of the same event decoded in full: over every event
/// of the bundled samples and the generated corpus, with the bundled
/// stateless rules. Fields that are lists of objects (containers, volumes)
/// must come out whole.
#[test]
fn fast_path_alerts_are_the_full_decoding_alerts() {
    use ward_runtime::scan::{Output, Scan};
    let texts: Vec<(&str, &str)> = ward_runtime::bundled::RULES.to_vec();
    let loaded = load::load_texts(&texts);
    let stateless = || {
        let mut set = lower::lower(&loaded);
        set.rules.retain(|r| r.stateful.is_none());
        set
    };
    let out = Output {
        text: false,
        with_event: true,
    };
    let mut events: Vec<(String, Vec<u8>)> = library_sample_events()
        .into_iter()
        .map(|(what, v)| (what, serde_json::to_vec(&v).expect("json")))
        .collect();
    for (i, t) in corpus::k8s_events(2000, 11)
        .into_iter()
        .chain(corpus::cloudtrail_records(500, 11))
        .enumerate()
    {
        events.push((format!("generated {i}"), t.into_bytes()));
    }
    let mut fast_out = Vec::new();
    let mut full_out = Vec::new();
    {
        let mut fast = Scan::new(stateless(), &mut fast_out, out);
        let mut full = Scan::new(stateless(), &mut full_out, out);
        for (n, (what, text)) in events.iter().enumerate() {
            assert!(fast.line("f", text, n), "{what}: the fast path takes it");
            let value: Value = serde_json::from_slice(text).expect("json");
            let source = source_of(&value).expect("a known source");
            let via = decode::Via::Raw;
            let (original, line) = (None, n);
            full.event(
                "f",
                &decode::Event {
                    source,
                    value,
                    original,
                    line,
                    via,
                },
            );
        }
        fast.finish();
        full.finish();
    }
    let (fast_s, full_s) = (
        String::from_utf8(fast_out).expect("utf-8"),
        String::from_utf8(full_out).expect("utf-8"),
    );
    let (fast_l, full_l): (Vec<&str>, Vec<&str>) =
        (fast_s.lines().collect(), full_s.lines().collect());
    assert_eq!(fast_l.len(), full_l.len(), "as many alerts");
    for (f, g) in fast_l.iter().zip(&full_l) {
        let line: Value = serde_json::from_str(g).expect("alert json");
        let what = &events[line["input"]["line"].as_u64().unwrap_or(0) as usize].0;
        assert_eq!(f, g, "{what}");
    }
    let alerted = full_l.len();
    let lists_of_objects = full_l
        .iter()
        .filter(|l| l.contains("\"requestObject.spec.volumes\":[{"))
        .count();
    assert!(events.len() > 2500, "{} events", events.len());
    assert!(alerted > 300, "{alerted} alerts");
    assert!(lists_of_objects > 0, "some alert shows a list of objects");
}

/// Every place in a JSON value, as a path of keys and indices.
fn places(v: &Value, at: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                at.push(Value::from(k.as_str()));
                places(x, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                at.push(Value::from(i));
                places(x, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn place_mut<'v>(v: &'v mut Value, path: &[Value]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |v, step| match step {
        Value::String(k) => v.get_mut(k.as_str()),
        Value::Number(n) => v.get_mut(n.as_u64()? as usize),
        _ => None,
    })
}

/// The compiled drift check (`Drift::fits`, schema fields found by
/// projection id) gives the schema validator's verdict on every event:
/// the samples, the generated corpus, and the same events with values
/// swapped for values of other types (numbers as text, text as numbers,
/// objects, lists, floats where integers go, bad timestamps).
#[test]
fn compiled_drift_check_is_the_validator() {
    let m = matchers().swap_remove(0);
    let swaps = [
        serde_json::json!("403"),
        serde_json::json!(403),
        serde_json::json!(4.5),
        serde_json::json!(true),
        serde_json::json!({"a": 1}),
        serde_json::json!(["x", 1]),
        serde_json::json!([{"image": 1}]),
        serde_json::json!("not a time"),
        serde_json::json!("2024-01-02T03:04:05Z"),
        Value::Null,
    ];
    let mut events: Vec<String> = corpus::k8s_events(1500, 5);
    events.extend(corpus::cloudtrail_records(500, 5));
    events.extend(library_sample_events().iter().map(|(_, v)| v.to_string()));
    // Values of a map, elements of a whole list (nested, too), a narrowed
    // object's fields: drifted, and as they should be.
    let pod = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"create","objectRef":{"resource":"pods"},
        "annotations":{"authorization.k8s.io/decision":"allow"},"user":{"username":"u","groups":["g"]},
        "requestObject":{"metadata":{"annotations":{"alb.ingress.kubernetes.io/certificate-arn":"a"}},
        "spec":{"containers":[{"image":"i","securityContext":{"privileged":true}}]}}}"#;
    for (from, to) in [
        (r#"decision":"allow""#, r#"decision":1"#),
        (r#"certificate-arn":"a""#, r#"certificate-arn":1"#),
        (r#""groups":["g"]"#, r#""groups":[1]"#),
        (r#""groups":["g"]"#, r#""groups":[["g"]]"#),
        (r#""groups":["g"]"#, r#""groups":[null,"h"]"#),
        (r#""image":"i""#, r#""image":5"#),
        (r#""privileged":true"#, r#""privileged":"yes""#),
        (r#""resource":"pods""#, r#""resource":"nodes""#),
        ("", ""),
    ] {
        events.push(pod.replace(from, to).replace('\n', ""));
    }
    let (mut drifted, mut checked) = (0, 0);
    for (i, text) in events.iter().enumerate() {
        let ev: Value = serde_json::from_str(text).expect("json");
        let mut all = Vec::new();
        places(&ev, &mut Vec::new(), &mut all);
        // The event as it is, then with one, and with three, values swapped.
        for round in 0..3 {
            let mut ev = ev.clone();
            for j in 0..[0, 1, 3][round] {
                let k = (i * 31 + j * 17 + round * 7) % all.len().max(1);
                if let Some(v) = all.get(k).and_then(|p| place_mut(&mut ev, p)) {
                    *v = swaps[(i + j + round) % swaps.len()].clone();
                }
            }
            let text = serde_json::to_vec(&ev).expect("json");
            let Some(source) = source_of(&ev) else {
                continue;
            };
            let sparse = extract(&text, &m.projection).expect("json");
            let schema = schema::bundled().get(source).expect("schema");
            let slow = schema::validate_event(schema, sparse.root());
            let fast = m.drift.fits(source, sparse.root(), None);
            assert_eq!(
                fast,
                slow.is_empty(),
                "event {i} round {round}: {slow:?}\n{ev}"
            );
            // With the event's time read already (stateful rules read it),
            // as a scan checks: the same answer.
            let read = (m.time_of(source, sparse.root()))
                .filter(|t| ward_runtime::state::time_ns(*t).is_some());
            assert_eq!(
                m.drift.fits(source, sparse.root(), read),
                fast,
                "event {i} round {round}, its time read: {slow:?}\n{ev}"
            );
            checked += 1;
            drifted += usize::from(!slow.is_empty());
        }
    }
    assert!(checked > 5000, "{checked} events checked");
    assert!(drifted > 300, "{drifted} drifted events among them");
}

/// `in cidr` tests answered by network groups (an address read once per
/// event, looked up per prefix length) give the evaluator's verdicts:
/// overlapping networks of several lengths, IPv6 networks, bare addresses,
/// `/0`, one network in several rules, IPv4-mapped IPv6 addresses, text
/// that is no address, values that are no text; one address, `any` over a
/// list of addresses and over a list of objects; negated tests and `all`
/// quantifiers beside them (not grouped).
#[test]
fn network_tests_agree() {
    const NETS: &str = r#"source k8s.audit
rule n1 { when sourceIPs[0] in cidr ["10.0.0.0/8"] }
rule n2 { when sourceIPs[0] in cidr ["10.1.0.0/16", "192.168.0.0/16"] }
rule n3 { when sourceIPs[0] in cidr ["10.1.2.0/24"] and verb == "get" }
rule n4 { when sourceIPs[0] in cidr ["10.1.2.3"] }
rule n5 { when sourceIPs[0] in cidr ["fd00::/8", "2001:db8::/32"] }
rule n6 { when sourceIPs[0] in cidr ["0.0.0.0/0"] }
rule n7 { when sourceIPs[0] in cidr ["::/0"] }
rule n8 { when sourceIPs[0] not in cidr ["10.0.0.0/8"] }
rule n9 { when any ip in sourceIPs: ip in cidr ["10.1.2.0/24", "fd00::/8"] }
rule n10 { when any ip in sourceIPs: ip in cidr ["10.0.0.0/8"] }
rule n11 { when all ip in sourceIPs: ip in cidr ["10.0.0.0/8"] }
rule n12 { when any ip in sourceIPs: ip not in cidr ["10.0.0.0/8"] }
rule n13 { when any ip in requestObject.spec.externalIPs: ip in cidr ["203.0.113.0/24", "10.1.0.0/16"] }
rule n14 { when any s in requestObject.subjects: s.name in cidr ["10.1.2.3/32", "2001:db8::1/128"] }
rule n15 { when not (sourceIPs[0] in cidr ["10.1.0.0/16"]) or any ip in sourceIPs: ip in cidr ["192.168.1.0/24"] }
"#;
    let m = matcher(&[("nets.ward", NETS)], "");
    let addresses = [
        json!("10.1.2.3"),
        json!("10.1.2.4"),
        json!("10.1.9.9"),
        json!("10.200.0.1"),
        json!("11.0.0.1"),
        json!("192.168.1.7"),
        json!("::ffff:10.1.2.3"),
        json!("::ffff:192.168.1.7"),
        json!("fd00::1"),
        json!("fd12:3456::9"),
        json!("2001:db8::1"),
        json!("2001:db9::1"),
        json!("::1"),
        json!("10.1.2.300"),
        json!("010.1.2.3"),
        json!("10.1.2"),
        json!(" 10.1.2.3"),
        json!(""),
        json!("not an address"),
        json!(10),
        json!(null),
        json!(["10.1.2.3"]),
        json!({"ip": "10.1.2.3"}),
    ];
    let pick = |k: usize| addresses[k % addresses.len()].clone();
    let mut scratch = Scratch::default();
    let mut fired = 0;
    for (i, text) in corpus::k8s_events(1500, 23).iter().enumerate() {
        let mut ev: Value = serde_json::from_str(text).expect("json");
        ev["sourceIPs"] = match i % 6 {
            0 => Value::Array(vec![pick(i)]),
            1 => Value::Array(vec![pick(i), pick(i * 7 + 3)]),
            2 => Value::Array((0..4).map(|j| pick(i * 3 + j * 5)).collect()),
            3 => json!([]),
            4 => pick(i),
            _ => Value::Array(vec![pick(i / 6), pick(i / 6 + 1), pick(i)]),
        };
        if i % 3 == 0 {
            ev["requestObject"] = json!({
                "spec": {"externalIPs": [pick(i + 1), pick(i * 5)]},
                "subjects": [{"name": pick(i + 2)}, {"kind": "User"}, "x", {"name": pick(i * 11)}],
            });
        }
        let bytes = serde_json::to_vec(&ev).expect("json");
        fired += agree(&m, &mut scratch, &bytes, &format!("event {i}: {ev}"));
    }
    assert!(fired > 1500, "network rules fire: {fired}");
}

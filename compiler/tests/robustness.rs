//! A malformed rule never panics: property tests over random text, random
//! token soups and mutations of the bundled rules. `PROPTEST_CASES` scales
//! them up for long runs (the figures are recorded in the issue notes).

use proptest::prelude::*;
use ward_compiler::{check, load, schema};

fn check_text(text: &str) -> usize {
    let loaded = load::load_texts(&[("fuzz.ward", text)]);
    let report = check(&loaded, schema::bundled());
    // Rendering walks every span: a bad span would panic here.
    let rendered =
        ward_compiler::diagnostic::render_plain(&loaded.sources, &report.diagnostics, 80);
    for d in &report.diagnostics {
        for l in &d.labels {
            assert!(
                l.span.start <= l.span.end && l.span.end <= text.len(),
                "span {:?} outside {} bytes",
                l.span,
                text.len()
            );
            assert!(
                text.is_char_boundary(l.span.start) && text.is_char_boundary(l.span.end),
                "span {:?} splits a char",
                l.span
            );
        }
    }
    rendered.len()
}

const TOKENS: &[&str] = &[
    "source",
    "k8s.audit",
    "aws.cloudtrail",
    "calico.flow",
    "import",
    "\"x.ward\"",
    "list",
    "macro",
    "rule",
    "r",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    "==",
    "!=",
    "<",
    ">=",
    "and",
    "or",
    "not",
    "in",
    "cidr",
    "is",
    "null",
    "exists",
    "any",
    "all",
    "c",
    "c.image",
    "contains",
    "icontains",
    "startswith",
    "glob",
    "matches",
    "imatches",
    "when",
    "except",
    "output",
    "title",
    "severity",
    "high",
    "tags",
    "count",
    "distinct",
    "by",
    "within",
    "sequence",
    "until",
    "5m",
    "0s",
    "31d",
    "5",
    "-1",
    "1.5",
    "99999999999999999999",
    "true",
    "\"pods\"",
    "\"(a\"",
    "\"10.0.0.0/8\"",
    "\"{objectRef.name}\"",
    "\"{\"",
    "\"\\q\"",
    "\"\\u{110000}\"",
    "r\"\\d+\"",
    "verb",
    "objectRef.resource",
    "objectRef.subresource",
    "requestObject.spec.containers",
    "requestObject.spec.containers[0].image",
    "sourceIPs[0]",
    "sourceIPs[-1]",
    "annotations.\"a.b/c\"",
    "user.groups",
    "responseStatus.code",
    "m",
    "l",
    "\n",
    " ",
    "#c\n",
    "é",
    "\u{0}",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|t| t.join(" "))
}

fn bundled_rules() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/k8s");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("rules/k8s exists") {
        let p = e.expect("dir entry").path();
        if p.extension().is_some_and(|x| x == "ward") {
            out.push(std::fs::read_to_string(p).expect("rule file"));
        }
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(text in "\\PC{0,200}") {
        check_text(&text);
    }

    #[test]
    fn token_soup_never_panics(text in soup()) {
        check_text(&text);
    }

    #[test]
    fn valid_prefix_then_soup_never_panics(tail in soup()) {
        let text = format!("source k8s.audit\nrule r {{\n  when {tail}\n}}\n");
        check_text(&text);
    }

    #[test]
    fn mutated_rules_never_panic(file in 0usize..3, at in 0.0f64..1.0, len in 0usize..40, insert in soup()) {
        let rules = bundled_rules();
        let text = &rules[file % rules.len()];
        let mut start = (text.len() as f64 * at) as usize;
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..start], insert, &text[end..]);
        check_text(&mutated);
    }
}

fn codes(text: &str) -> Vec<&'static str> {
    let loaded = load::load_texts(&[("t.ward", text)]);
    check(&loaded, schema::bundled())
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

#[test]
fn nesting_up_to_the_limit_is_fine_and_beyond_is_a_diagnostic() {
    let nest = |d: usize| {
        format!(
            "source k8s.audit\nrule r {{ when {}verb == \"get\"{} }}\n",
            "(".repeat(d),
            ")".repeat(d)
        )
    };
    assert_eq!(codes(&nest(64)), Vec::<&str>::new());
    assert_eq!(codes(&nest(65)), ["E001"]);
    let alternatives: Vec<String> = (0..5000)
        .map(|i| format!("user.username == \"u{i}\""))
        .collect();
    let long = format!(
        "source k8s.audit\nrule r {{ when {} }}\n",
        alternatives.join(" or ")
    );
    assert_eq!(codes(&long), Vec::<&str>::new());
    let nots = |n: usize| {
        format!(
            "source k8s.audit\nrule r {{ when {}verb == \"get\" }}\n",
            "not ".repeat(n)
        )
    };
    assert_eq!(codes(&nots(64)), Vec::<&str>::new());
    assert_eq!(codes(&nots(10_000)), ["E001"]);
}

#[test]
fn deep_nesting_does_not_overflow() {
    // pest recurses per nesting level; deep input must parse or fail cleanly.
    let depth = 200;
    let text = format!(
        "source k8s.audit\nrule r {{ when {}verb == \"get\"{} }}\n",
        "(".repeat(depth),
        ")".repeat(depth)
    );
    check_text(&text);
    let nots = format!(
        "source k8s.audit\nrule r {{ when {}verb == \"get\" }}\n",
        "not ".repeat(depth)
    );
    check_text(&nots);
}

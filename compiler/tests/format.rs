//! `ward fmt` properties over the bundled rules, re-spaced and commented at
//! random: formatting is idempotent, keeps every comment in order, and the
//! formatted rules compile to the same rules as the original. Scale with
//! `PROPTEST_CASES`.

use proptest::prelude::*;
use ward_compiler::diagnostic::FileId;
use ward_compiler::syntax::format::{comment_texts, format};
use ward_compiler::{check, load, lower, schema};

/// Every bundled rule file as (name, text), in name order.
fn bundled_rules() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules");
    let files = load::ward_files(std::slice::from_ref(&root)).expect("rules/ exists");
    files
        .into_iter()
        .map(|p| {
            let name = p
                .strip_prefix(&root)
                .expect("below rules/")
                .display()
                .to_string();
            let text = std::fs::read_to_string(&p).expect("rule file");
            (name, text)
        })
        .collect()
}

/// The compiled rules of a set of files, without spans: the lowered rules'
/// Debug text, and the codes of the checker's diagnostics.
fn compiled(files: &[(String, String)]) -> (String, Vec<&'static str>) {
    let texts: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let loaded = load::load_texts(&texts);
    let report = check(&loaded, schema::bundled());
    let codes = report.diagnostics.iter().map(|d| d.code.as_str()).collect();
    if report.errors() > 0 {
        return (String::new(), codes);
    }
    (format!("{:#?}", lower::lower(&loaded).rules), codes)
}

/// Byte offsets of whitespace between tokens: outside strings and comments,
/// and not the newline that ends a comment.
fn gaps(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let raw = i > 0 && b[i - 1] == b'r';
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if !raw && b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'#' => {
                // Skip the comment and the newline ending it.
                i = text[i..].find('\n').map_or(b.len(), |n| i + n + 1);
            }
            c if c.is_ascii_whitespace() => {
                out.push(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    out
}

/// What replaces one whitespace byte.
const EDITS: &[&str] = &[
    " ",
    "\n",
    "   ",
    "\n\n\n",
    "\t",
    " # trailing {}\n",
    "\n# own line {}\n",
    "\n\n# after a blank {}\n\n",
];

/// Applies `(where, which)` edits to `text` at whitespace between tokens.
fn mutate(text: &str, edits: &[(f64, usize)]) -> String {
    let gaps = gaps(text);
    if gaps.is_empty() {
        return text.to_string();
    }
    let mut chosen: Vec<(usize, usize)> = edits
        .iter()
        .map(|(at, which)| {
            (
                gaps[((gaps.len() as f64) * at) as usize % gaps.len()],
                *which,
            )
        })
        .collect();
    chosen.sort();
    chosen.dedup_by_key(|(at, _)| *at);
    let mut out = String::new();
    let mut prev = 0;
    for (n, (at, which)) in chosen.into_iter().enumerate() {
        out.push_str(&text[prev..at]);
        out.push_str(&EDITS[which % EDITS.len()].replace("{}", &n.to_string()));
        prev = at + 1;
    }
    out.push_str(&text[prev..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn formatting_is_idempotent_keeps_comments_and_compiles_the_same(
        file in 0usize..64,
        edits in prop::collection::vec((0.0f64..1.0, 0usize..64), 0..24),
    ) {
        let mut files = bundled_rules();
        let i = file % files.len();
        let mutated = mutate(&files[i].1, &edits);
        files[i].1 = mutated.clone();
        let before = compiled(&files);
        prop_assume!(!before.0.is_empty());

        let once = format(FileId(0), &mutated).map_err(|d| TestCaseError::fail(format!("{d:#?}")))?;
        let twice = format(FileId(0), &once).map_err(|d| TestCaseError::fail(format!("{d:#?}")))?;
        prop_assert_eq!(&once, &twice, "not idempotent on\n{}", mutated);
        prop_assert_eq!(comment_texts(&mutated), comment_texts(&once));
        files[i].1 = once;
        prop_assert_eq!(before, compiled(&files), "compiles differently");
    }
}

#[test]
fn every_bundled_file_formats_and_compiles_the_same() {
    let files = bundled_rules();
    let before = compiled(&files);
    assert!(!before.0.is_empty(), "bundled rules have errors");
    let formatted: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.clone(), format(FileId(0), t).expect("formats")))
        .collect();
    assert_eq!(before, compiled(&formatted));
}

#[test]
fn a_generated_rule_with_thousands_of_alternatives_formats() {
    let alternatives: Vec<String> = (0..5000)
        .map(|i| format!("user.username == \"u{i}\""))
        .collect();
    let text = format!(
        "source k8s.audit\nrule r {{ when {} }}\n",
        alternatives.join(" or ")
    );
    let out = format(FileId(0), &text).expect("formats");
    assert_eq!(out.lines().count(), 5000 + 4);
    let deep = format!(
        "source k8s.audit\nrule r {{ when {}verb == \"get\"{} }}\n",
        "(".repeat(64),
        ")".repeat(64)
    );
    assert_eq!(
        format(FileId(0), &format(FileId(0), &deep).expect("formats")).expect("again"),
        format(FileId(0), &deep).expect("formats")
    );
}

//! The planned matcher (dispatch, shared predicates, projected extraction)
//! and the reference evaluator give the same verdicts: on every sample
//! event and on generated ones, for the bundled rules and for every rule in
//! the executable examples of spec/language.md.

use std::path::Path;

use serde_json::Value;
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
    let mut out = Vec::new();
    for refs in sets {
        let loaded = load::load_texts(&refs);
        let report = check(&loaded, schema::bundled());
        let errors: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity() == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        out.push(Matcher::new(lower::lower(&loaded)));
    }
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
                && r.enabled
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

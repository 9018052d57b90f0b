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
    "len(",
    "query(",
    "lower",
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

/// Macros nested past the limit are an E012 at the macro where the limit
/// is passed, at once, from any order of definition: a generated chain of
/// thousands is not followed down the stack (it overflowed it before).
/// Up to the limit, a chain checks and lowers.
#[test]
fn macro_nesting_has_a_limit_with_a_diagnostic() {
    let chain = |n: usize, reversed: bool| {
        let mut defs: Vec<String> = (1..n)
            .map(|i| format!("macro m{i} = m{}\n", i - 1))
            .collect();
        if reversed {
            defs.reverse();
        }
        format!(
            "source k8s.audit\nmacro m0 = verb == \"get\"\n{}rule r {{ when m{} }}\n",
            defs.concat(),
            n - 1
        )
    };
    let limit = ward_compiler::resolve::MAX_MACRO_DEPTH;
    assert_eq!(codes(&chain(limit, false)), Vec::<&str>::new());
    let loaded = load::load_texts(&[("t.ward", chain(limit, false).as_str())]);
    assert_eq!(ward_compiler::lower::lower(&loaded).rules.len(), 1);
    assert_eq!(codes(&chain(limit + 1, false)), ["E012"]);
    for reversed in [false, true] {
        let text = chain(5_000, reversed);
        let loaded = load::load_texts(&[("t.ward", text.as_str())]);
        let report = check(&loaded, schema::bundled());
        let codes: Vec<&str> = report.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["E012"]);
        assert!(
            report.diagnostics[0].message.contains(&format!(
                "macro `m{limit}` nests macros more than {limit} deep"
            )),
            "{}",
            report.diagnostics[0].message
        );
    }
}

/// A macro using a macro twice, 40 levels deep, is checked and lowered
/// once per macro, not 2^40 times.
#[test]
fn macros_used_twice_are_expanded_once() {
    let mut text = String::from("source k8s.audit\nmacro b0 = verb == \"get\"\n");
    for i in 1..=40 {
        text += &format!(
            "macro b{i} = b{} and b{}\nmacro c{i} = c{} or b{i}\n",
            i - 1,
            i - 1,
            i - 1
        );
    }
    text = text.replace("c0 or", "b0 or");
    text +=
        "rule r { when b40 and c40 }\nrule s { when any g in user.groups: g == \"x\" and b40 }\n";
    assert_eq!(codes(&text), Vec::<&str>::new());
    let loaded = load::load_texts(&[("t.ward", text.as_str())]);
    let rules = ward_compiler::lower::lower(&loaded);
    assert_eq!(rules.rules.len(), 2);
}

/// Ten thousand diagnostics in one file render in linear time, with the
/// lines and columns a scan from the start gives.
#[test]
fn many_diagnostics_render_with_their_lines() {
    let mut text = String::from("source k8s.audit\n");
    for i in 0..10_000 {
        text += &format!("rule r{i} {{ when verb == \"get\" or not verb == \"get\" }}\n");
    }
    let loaded = load::load_texts(&[("t.ward", text.as_str())]);
    let report = check(&loaded, schema::bundled());
    assert_eq!(report.diagnostics.len(), 10_000);
    let rendered =
        ward_compiler::diagnostic::render_plain(&loaded.sources, &report.diagnostics, 100);
    assert!(rendered.contains("[t.ward:10001:"), "the last rule's line");
    for d in report.diagnostics.iter().step_by(997) {
        let file = d.file();
        let start = d.labels[0].span.start;
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        assert_eq!(loaded.sources.line_col(file, start), (line, col));
    }
}

/// A list of 100,000 values is planned in linear time (adding each value
/// scanned every value before it).
#[test]
fn a_long_list_is_planned() {
    let users: Vec<String> = (0..100_000)
        .map(|i| format!("\"user{i}@example.com\""))
        .collect();
    let text = format!(
        "source k8s.audit\nlist users = [{}]\nrule r {{ when user.username in users or user.username startswith users }}\n",
        users.join(", ")
    );
    let loaded = load::load_texts(&[("t.ward", text.as_str())]);
    assert_eq!(codes(&text), Vec::<&str>::new());
    let rules = ward_compiler::lower::lower(&loaded);
    let plan = ward_compiler::plan::plan(&rules);
    assert_eq!(plan.sources.len(), 1);
}

/// Lists of 200,000 values on one field, twice over (as two threat-intel
/// feeds would be), are checked in linear time: the facts of `when` and the
/// contradiction lint intersect them through hash sets, and a contradiction
/// involving a long list names a few of its values, not all of them.
#[test]
fn long_lists_on_one_field_are_checked_in_linear_time() {
    let list = |name: &str, from: usize| {
        let items: Vec<String> = (from..from + 200_000)
            .map(|i| format!("\"user{i}@example.com\""))
            .collect();
        format!("list {name} = [\n{}\n]\n", items.join(",\n"))
    };
    let text = format!(
        "source k8s.audit\n{}{}{}\
         rule both {{ when user.username in feed_a and user.username in feed_b }}\n\
         rule allowed {{ when user.username in feed_a and user.username not in allow }}\n\
         rule never {{ when user.username in feed_a and user.username == \"root\" }}\n",
        list("feed_a", 0),
        list("feed_b", 100_000),
        list("allow", 300_000),
    );
    let loaded = load::load_texts(&[("t.ward", text.as_str())]);
    let report = check(&loaded, schema::bundled());
    let found: Vec<(&str, &str)> = report
        .diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.message.as_str()))
        .collect();
    assert_eq!(found, [("W012", "this condition is always false")]);
    let label = &report.diagnostics[0].labels[0].message;
    assert!(
        label.contains("\"user0@example.com\" or ") && label.contains(" or 199992 other values"),
        "{label}"
    );
    assert!(label.len() < 400, "{} bytes", label.len());
}

/// A label on a line longer than a snippet shows (here at column 108,000,
/// beyond miette's 16-bit padding, which panicked) is reported by line and
/// column, and the rest of the diagnostic renders as usual.
#[test]
fn labels_on_very_long_lines_render_by_line_and_column() {
    let text = format!(
        "source k8s.audit\nrule r {{ when {}objectRef.resourse == \"pods\" }}\nrule s {{ when objectRef.resourse == \"x\" }}\n",
        "verb == \"get\" and ".repeat(6000)
    );
    let loaded = load::load_texts(&[("t.ward", text.as_str())]);
    let report = check(&loaded, schema::bundled());
    let rendered =
        ward_compiler::diagnostic::render_plain(&loaded.sources, &report.diagnostics, 100);
    assert!(
        rendered.contains(
            "at t.ward:2:108025 (a line too long to show): `objectRef` has no field `resourse`"
        ),
        "{}",
        &rendered[..rendered.len().min(2000)]
    );
    assert!(
        rendered.contains("╭─[t.ward:3:25]"),
        "short lines keep their snippet"
    );
    assert!(
        rendered.len() < 2000,
        "the long line is not drawn as context: {} bytes",
        rendered.len()
    );
}

/// Thousands of unknown names in one rule each get their diagnostic and
/// did-you-mean in linear time: the deep match of a bare name flattened the
/// whole schema for every one (found by tests/fuzz.rs: 14,000 in one
/// `when` took 21 s).
#[test]
fn many_unknown_names_are_reported_in_linear_time() {
    let text = format!(
        "source k8s.audit\nrule r {{ when verb == \"get\"{} }}\n",
        " and usernme == \"x\" and username == \"y\"".repeat(3000)
    );
    let loaded = load::load_texts(&[("t.ward", text.as_str())]);
    let report = check(&loaded, schema::bundled());
    assert_eq!(report.errors(), 6000);
    let helps: Vec<&str> = report
        .diagnostics
        .iter()
        .filter_map(|d| d.help.as_deref())
        .collect();
    assert_eq!(helps.len(), 6000);
    let deep = helps
        .iter()
        .filter(|h| **h == "did you mean `user.username`?")
        .count();
    assert_eq!(deep, 3000, "{:?}", &helps[..2]);
}

/// Columns on a line of a megabyte, in characters and in UTF-16 units,
/// agree with counting from the line's start (they are read from marks
/// every 4 KiB, so that thousands of labels on one line cost linear time).
#[test]
fn columns_on_long_lines_count_chars_and_utf16_units() {
    use ward_compiler::diagnostic::{SourceMap, Unit};
    let line: String = (0..200_000)
        .map(|i| match i % 7 {
            0 => 'é',
            3 => '😀',
            _ => 'a',
        })
        .collect();
    let text = format!("first\n{line}\nlast {line}");
    let mut map = SourceMap::default();
    let id = map.add("t.ward".into(), text.clone());
    let file = map.get(id);
    let offsets: Vec<usize> = (0..text.len()).step_by(7919).chain([text.len()]).collect();
    for offset in offsets {
        let mut at = offset;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let before = &text[..at];
        let line_no = before.matches('\n').count() + 1;
        let in_line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
        let chars = in_line.chars().count() + 1;
        let units = in_line.chars().map(char::len_utf16).sum::<usize>() + 1;
        assert_eq!(
            file.position(offset, Unit::Chars),
            (line_no, chars),
            "{offset}"
        );
        assert_eq!(
            file.position(offset, Unit::Utf16),
            (line_no, units),
            "{offset}"
        );
    }
}

//! The docs are executable: every code in the registry has a page in
//! `spec/diagnostics.md` whose example triggers it (and whose rendered
//! diagnostics are snapshot-tested), every example in `spec/language.md`
//! checks as its fence says, its `ward-events` examples fire the rules they
//! name; README's commands run.

mod common;

use std::path::Path;

use ward_compiler::check::Options;
use ward_compiler::diagnostic::render_plain;
use ward_compiler::{check_with, load, schema, Code};

fn read(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A fenced code block: its info string, its body, and the line it opens on.
struct Block {
    info: String,
    body: String,
    line: usize,
}

fn blocks(md: &str) -> Vec<(Option<String>, Block)> {
    let mut out = Vec::new();
    let mut heading = None;
    let mut lines = md.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        if let Some(h) = line.strip_prefix("## ") {
            heading = Some(h.trim().to_string());
        } else if let Some(info) = line.strip_prefix("```") {
            let mut body = String::new();
            for (_, l) in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            out.push((
                heading.clone(),
                Block {
                    info: info.trim().to_string(),
                    body,
                    line: i + 1,
                },
            ));
        }
    }
    out
}

/// A samples layout in which no rule has samples.
static NO_SAMPLES: fn(&Path, &str) -> Option<bool> = |_, _| Some(false);

/// The lints a page's examples run with: the repository lints only on
/// their own pages (elsewhere the examples are not in a rule repository).
fn options_for(code: Option<Code>) -> Options<'static> {
    match code {
        Some(Code::MissingMetadata) => Options {
            require_metadata: true,
            samples: None,
        },
        Some(Code::MissingSamples) => Options {
            require_metadata: false,
            samples: Some(&NO_SAMPLES),
        },
        _ => Options::default(),
    }
}

/// Checks `text` as a lone file; returns the codes and the rendered report.
fn check_one(text: &str) -> (Vec<Code>, String) {
    check_one_with(text, &Options::default())
}

fn check_one_with(text: &str, opts: &Options<'_>) -> (Vec<Code>, String) {
    let loaded = load::load_texts(&[("example.ward", text)]);
    let report = check_with(&loaded, schema::bundled(), opts);
    let codes = report.diagnostics.iter().map(|d| d.code).collect();
    (
        codes,
        render_plain(&loaded.sources, &report.diagnostics, 90),
    )
}

#[test]
fn every_code_has_a_page_with_a_triggering_example() {
    let md = read("spec/diagnostics.md");
    let all = blocks(&md);
    let mut missing = Vec::new();
    for code in Code::ALL {
        let heading = format!("{} {}", code.as_str(), code.name());
        let Some((_, example)) = all
            .iter()
            .find(|(h, b)| h.as_deref() == Some(&heading) && b.info == "ward")
        else {
            missing.push(heading);
            continue;
        };
        let (codes, rendered) = check_one_with(&example.body, &options_for(Some(*code)));
        assert!(
            codes.contains(code),
            "spec/diagnostics.md:{}: the example for {heading} does not trigger it; it gives:\n{rendered}",
            example.line
        );
        insta::assert_snapshot!(
            format!("diagnostic_{}", code.as_str()),
            format!("{}\n----- ward check -----\n{rendered}", example.body)
        );
    }
    assert!(
        missing.is_empty(),
        "codes without a page (## CODE name + ```ward example): {missing:?}"
    );
}

#[test]
fn no_page_documents_an_unknown_code() {
    let md = read("spec/diagnostics.md");
    for line in md.lines() {
        let Some(h) = line.strip_prefix("## ") else {
            continue;
        };
        let Some(code) = h
            .split_whitespace()
            .next()
            .filter(|c| c.len() == 4 && (c.starts_with('E') || c.starts_with('W')))
        else {
            continue;
        };
        assert!(
            Code::ALL
                .iter()
                .any(|c| c.as_str() == code && h.trim() == format!("{code} {}", c.name())),
            "stale page: {h}"
        );
    }
}

#[test]
fn fixed_examples_do_not_trigger_their_code() {
    let md = read("spec/diagnostics.md");
    let mut fixed_next = false;
    let mut heading = None;
    let mut lines = md.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        if let Some(h) = line.strip_prefix("## ") {
            heading = Code::ALL
                .iter()
                .find(|c| h.trim() == format!("{} {}", c.as_str(), c.name()))
                .copied();
            fixed_next = false;
        } else if line.trim() == "Fixed:" {
            fixed_next = true;
        } else if line.trim() == "```ward" && fixed_next {
            let body: String = lines
                .by_ref()
                .take_while(|(_, l)| !l.starts_with("```"))
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            let (codes, rendered) = check_one_with(&body, &options_for(heading));
            if let Some(code) = heading {
                assert!(
                    !codes.contains(&code),
                    "spec/diagnostics.md:{}: the fix still triggers {code}:\n{rendered}",
                    i + 1
                );
            }
            fixed_next = false;
        }
    }
}

#[test]
fn language_examples_check_as_their_fences_say() {
    let md = read("spec/language.md");
    let mut checked = 0;
    for (_, b) in blocks(&md) {
        let mut words = b.info.split_whitespace();
        if words.next() != Some("ward") {
            continue;
        }
        let (codes, rendered) = check_one(&b.body);
        match (words.next(), words.next()) {
            (None, _) => assert!(
                codes.is_empty(),
                "spec/language.md:{}: expected no diagnostics, got:\n{rendered}",
                b.line
            ),
            (Some("error"), Some(want)) => assert!(
                codes.iter().any(|c| c.as_str() == want),
                "spec/language.md:{}: expected {want}, got:\n{rendered}",
                b.line
            ),
            other => panic!(
                "spec/language.md:{}: unknown fence `ward {other:?}`",
                b.line
            ),
        }
        checked += 1;
    }
    assert!(
        checked >= 25,
        "only {checked} executable examples in spec/language.md"
    );
}

/// `ward-events` blocks of spec/language.md run: each line names the rules
/// of the `ward` block before it that fire on an event (ids separated by
/// commas, or `-` for none), then the event as one JSON object. The
/// reference evaluator and the planned matcher (on the event and on its
/// extraction) must both fire exactly those rules.
#[test]
fn language_event_examples_fire_as_written() {
    use std::collections::BTreeSet;
    use ward_runtime::extract::extract;
    use ward_runtime::matcher::{Matcher, Scratch};

    let md = read("spec/language.md");
    let mut rules: Option<(usize, ward_compiler::lower::RuleSet)> = None;
    let mut events = 0;
    for (_, b) in blocks(&md) {
        if b.info == "ward" {
            let loaded = load::load_texts(&[("example.ward", b.body.as_str())]);
            rules = Some((b.line, ward_compiler::lower::lower(&loaded)));
            continue;
        }
        if b.info != "ward-events" {
            continue;
        }
        let (at, set) = rules
            .take()
            .unwrap_or_else(|| panic!("spec/language.md:{}: no `ward` block before", b.line));
        let ids: Vec<String> = set.rules.iter().map(|r| r.id.clone()).collect();
        let sources: BTreeSet<String> = set.rules.iter().map(|r| r.source.clone()).collect();
        let m = Matcher::new(set);
        let mut scratch = Scratch::default();
        for (k, line) in b.body.lines().enumerate() {
            let place = format!("spec/language.md:{} (rules at line {at})", b.line + 1 + k);
            let Some(brace) = line.find('{') else {
                assert!(line.trim().is_empty(), "{place}: no event");
                continue;
            };
            let want: BTreeSet<&str> = match line[..brace].trim() {
                "-" => BTreeSet::new(),
                names => names.split(',').map(str::trim).collect(),
            };
            for w in &want {
                assert!(ids.iter().any(|i| i == w), "{place}: no rule `{w}`");
            }
            let text = &line[brace..];
            let event: serde_json::Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{place}: not JSON: {e}"));
            let reference: BTreeSet<&str> = m
                .rules
                .rules
                .iter()
                .filter(|r| r.active() && ward_runtime::eval::matches(r, &event))
                .map(|r| r.id.as_str())
                .collect();
            assert_eq!(reference, want, "{place}: the evaluator");
            let sparse = extract(text.as_bytes(), &m.projection).expect("extractable");
            for (how, planned) in [("event", true), ("extraction", false)] {
                let mut fired = BTreeSet::new();
                for source in &sources {
                    if planned {
                        m.matching(source, &event, &mut scratch);
                    } else {
                        m.matching(source, sparse.root(), &mut scratch);
                    }
                    for &u in &scratch.candidates {
                        fired.insert(m.rule(m.plan.rules[u].rule).id.as_str());
                    }
                }
                assert_eq!(fired, want, "{place}: the planned matcher on the {how}");
            }
            events += 1;
        }
    }
    assert!(
        events >= 20,
        "only {events} executed events in spec/language.md"
    );
}

/// README's commands stay true: the first command scans a bundled sample
/// with the bundled rules and finds alerts; the install command names the
/// crate that holds the `ward` binary; a root `cargo build` builds it.
#[test]
fn readme_commands_stay_true() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = read("README.md");
    let commands: Vec<&str> = readme.lines().filter(|l| l.starts_with("cargo ")).collect();
    let scan = commands
        .iter()
        .find_map(|c| c.strip_prefix("cargo run --release -p ward -- "))
        .expect("README runs ward with cargo run");
    let args: Vec<&str> = scan.split_whitespace().collect();
    assert_eq!(args[0], "scan", "{scan}");
    for a in &args[1..] {
        assert!(
            root.join(a).exists(),
            "README scans {a}, which does not exist"
        );
    }
    let paths: Vec<String> = args[1..]
        .iter()
        .map(|a| root.join(a).display().to_string())
        .collect();
    let mut argv = vec!["scan", "--no-event", "--strict"];
    argv.extend(paths.iter().map(String::as_str));
    let (code, out, err) = common::ward(&argv);
    assert_eq!(code, 1, "alerts expected, and no problem line: {err}");
    assert!(!out.is_empty() && !err.contains("warning"), "{err}");
    assert!(commands.contains(&"cargo test --workspace"), "{commands:?}");

    let install = commands
        .iter()
        .find_map(|c| c.strip_prefix("cargo install --path "))
        .expect("README has an install command");
    let krate = install.split_whitespace().next().unwrap_or_default();
    let manifest = std::fs::read_to_string(root.join(krate).join("Cargo.toml")).expect("crate");
    assert!(
        manifest.contains("[[bin]]\nname = \"ward\""),
        "{krate} holds no ward binary"
    );
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).expect("manifest");
    let defaults = workspace
        .lines()
        .find(|l| l.starts_with("default-members"))
        .expect("default-members");
    assert!(defaults.contains(&format!("\"{krate}\"")), "{defaults}");
}

//! End-to-end tests of `ward fmt`: in-place writes, --check, --diff, stdin,
//! exit codes; the bundled rules are formatted; spec/formatting.md's
//! examples are what the formatter prints.

mod common;

use common::{dir, ward, ward_in};
use std::path::Path;

use ward_compiler::diagnostic::FileId;
use ward_compiler::syntax::format::format;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

const MESSY: &str =
    "source k8s.audit\nrule r { # why\nseverity low\nwhen verb == \"get\"   and  x }\n";
const TIDY: &str =
    "source k8s.audit\n\nrule r { # why\n  severity low\n  when     verb == \"get\" and x\n}\n";

#[test]
fn writes_changed_files_in_place_and_leaves_the_rest() {
    let d = dir(
        "fmt-write",
        &[
            ("a.ward", MESSY),
            ("sub/b.ward", TIDY),
            ("notes.txt", "x  y"),
        ],
    );
    let before = std::fs::metadata(d.join("sub/b.ward"))
        .and_then(|m| m.modified())
        .ok();
    let (code, out, err) = ward(&["fmt", s(&d)]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("1 of 2 file(s) reformatted"), "{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("a.ward")).ok().as_deref(),
        Some(TIDY)
    );
    let after = std::fs::metadata(d.join("sub/b.ward"))
        .and_then(|m| m.modified())
        .ok();
    assert_eq!(before, after, "an unchanged file is not rewritten");
    assert_eq!(
        std::fs::read_to_string(d.join("notes.txt")).ok().as_deref(),
        Some("x  y")
    );
}

#[test]
fn check_lists_files_that_would_change_and_exits_1() {
    let d = dir("fmt-check", &[("a.ward", MESSY), ("b.ward", TIDY)]);
    let (code, out, err) = ward(&["fmt", "--check", s(&d)]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, format!("{}\n", d.join("a.ward").display()));
    assert!(err.contains("1 of 2 file(s) would be reformatted"), "{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("a.ward")).ok().as_deref(),
        Some(MESSY)
    );
    let (code, out, _) = ward(&["fmt", "--check", s(&d.join("b.ward"))]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn diff_prints_a_unified_diff_and_exits_1() {
    let d = dir("fmt-diff", &[("a.ward", MESSY)]);
    let f = d.join("a.ward");
    let (code, out, err) = ward(&["fmt", "--diff", s(&f)]);
    assert_eq!(code, 1, "{err}");
    let name = f.display().to_string();
    let want = format!(
        "--- {name}\n+++ {name}\n@@ -1,4 +1,6 @@\n source k8s.audit\n+\n rule r {{ # why\n-severity low\n-when verb == \"get\"   and  x }}\n+  severity low\n+  when     verb == \"get\" and x\n+}}\n"
    );
    assert_eq!(out, want);
    assert_eq!(std::fs::read_to_string(&f).ok().as_deref(), Some(MESSY));
    let (code, _, _) = ward(&["fmt", "--check", "--diff", s(&f)]);
    assert_eq!(code, 2, "--check and --diff are exclusive");
}

#[test]
fn dash_formats_stdin_to_stdout() {
    let (code, out, err) = ward_in(&["fmt", "-"], MESSY.as_bytes());
    assert_eq!((code, out.as_str()), (0, TIDY), "{err}");
    let (code, out, _) = ward_in(&["fmt", "--check", "-"], MESSY.as_bytes());
    assert_eq!((code, out.as_str()), (1, "<stdin>\n"));
    let (code, out, _) = ward_in(&["fmt", "--check", "-"], TIDY.as_bytes());
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, out, _) = ward_in(&["fmt", "--diff", "-"], MESSY.as_bytes());
    assert_eq!(code, 1);
    assert!(out.starts_with("--- <stdin>\n+++ <stdin>\n@@"), "{out}");
}

#[test]
fn a_file_with_syntax_errors_is_reported_and_left_alone() {
    let bad = "rule r { when verb == }\n";
    let d = dir("fmt-syntax", &[("bad.ward", bad), ("ok.ward", MESSY)]);
    let (code, out, err) = ward(&["fmt", s(&d)]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert!(err.contains("E001"), "{err}");
    assert!(err.contains("bad.ward"), "{err}");
    assert!(err.contains("1 not formatted: syntax errors"), "{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("bad.ward")).ok().as_deref(),
        Some(bad)
    );
    // The other files are still formatted.
    assert_eq!(
        std::fs::read_to_string(d.join("ok.ward")).ok().as_deref(),
        Some(TIDY)
    );
    let (code, out, err) = ward_in(&["fmt", "-"], bad.as_bytes());
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("E001"), "{err}");
}

#[test]
fn an_unreadable_path_exits_2() {
    let (code, _, err) = ward(&["fmt", "/nonexistent/ward-fmt-test"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read /nonexistent/ward-fmt-test"),
        "{err}"
    );
    let d = dir("fmt-utf8", &[]);
    std::fs::create_dir_all(&d).expect("mkdir");
    std::fs::write(d.join("bin.ward"), b"rule \xff {}").expect("write");
    let (code, _, err) = ward(&["fmt", s(&d)]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn the_bundled_rules_are_formatted() {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let (code, out, err) = ward(&["fmt", "--check", s(&rules)]);
    assert_eq!(code, 0, "run `ward fmt rules/`: {out}{err}");
}

/// spec/formatting.md: each ```ward-unformatted block formats to the
/// ```ward block after it, and every ```ward block is already formatted.
#[test]
fn formatting_examples_are_what_the_formatter_prints() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/formatting.md");
    let md = std::fs::read_to_string(&p).expect("spec/formatting.md");
    let mut blocks: Vec<(usize, String, String)> = Vec::new();
    let mut lines = md.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let Some(info) = line.strip_prefix("```") else {
            continue;
        };
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        blocks.push((i + 1, info.trim().to_string(), body));
    }
    let fmt = |text: &str, line: usize| {
        format(FileId(0), text).unwrap_or_else(|d| panic!("spec/formatting.md:{line}: {d:#?}"))
    };
    let mut pairs = 0;
    for (k, (line, info, body)) in blocks.iter().enumerate() {
        match info.as_str() {
            "ward-unformatted" => {
                let (_, next_info, want) = blocks.get(k + 1).expect("a ```ward block follows");
                assert_eq!(
                    next_info, "ward",
                    "spec/formatting.md:{line}: no ```ward after"
                );
                assert_eq!(&fmt(body, *line), want, "spec/formatting.md:{line}");
                pairs += 1;
            }
            "ward" => assert_eq!(
                &fmt(body, *line),
                body,
                "spec/formatting.md:{line}: not formatted"
            ),
            _ => {}
        }
    }
    assert!(pairs >= 5, "only {pairs} examples in spec/formatting.md");
}

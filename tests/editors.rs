//! The editor grammars keep up with the language: the TextMate grammar
//! (VS Code) and the Vim syntax highlight every function Ward has, and no
//! other (each editor's own test.sh checks the rest, with its tools).

use std::path::Path;

use ward_compiler::func::Func;

fn read(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The names in the first `(a|b|c)` (TextMate) or `\%(a\|b\|c\)` (Vim)
/// group after `marker` in `text`.
fn alternatives<'t>(text: &'t str, marker: &str, open: &str, sep: &str) -> Vec<&'t str> {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not found"));
    let rest = &text[at..];
    let start = rest.find(open).expect("a group") + open.len();
    let end = start + rest[start..].find(')').expect("closed");
    rest[start..end].trim_end_matches('\\').split(sep).collect()
}

#[test]
fn editors_highlight_exactly_the_functions() {
    let want: Vec<&str> = Func::ALL.iter().map(|f| f.name()).collect();
    let tm = read("editors/vscode/syntaxes/ward.tmLanguage.json");
    assert_eq!(
        alternatives(&tm, "\"call\"", "(?<![A-Za-z0-9_.])(", "|"),
        want,
        "editors/vscode/syntaxes/ward.tmLanguage.json, repository.call"
    );
    let vim = read("editors/vim/syntax/ward.vim");
    assert_eq!(
        alternatives(&vim, "syn match wardFunction", "\\%(", "\\|"),
        want,
        "editors/vim/syntax/ward.vim, wardFunction"
    );
}

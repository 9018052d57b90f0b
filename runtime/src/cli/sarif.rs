//! `ward check --format sarif`: SARIF 2.1.0, as GitHub code scanning reads
//! it. One run per invocation; every diagnostic code is a reporting rule
//! (so `ruleIndex` is stable); regions are 1-based, columns in UTF-16 code
//! units (SARIF's default `columnKind`), end columns exclusive.

use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};
use ward_compiler::diagnostic::{Diagnostic, Label, SourceMap};
use ward_compiler::{Code, Severity};

/// SARIF's schema, as the `$schema` of the document.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Where each code's section is: `{DOCS}#w010-unused-definition`.
pub const DOCS: &str = "https://github.com/ward-lang/ward/blob/main/spec/diagnostics.md";

/// The SARIF log of one `ward check`.
pub fn log(map: &SourceMap, diags: &[Diagnostic], cwd: Option<&Path>) -> Value {
    let rules: Vec<Value> = Code::ALL.iter().map(|c| rule(*c)).collect();
    let results: Vec<Value> = diags.iter().map(|d| result(map, d, cwd)).collect();
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "ward",
                    "informationUri": DOCS,
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "columnKind": "utf16CodeUnits",
            "results": results,
        }]
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// The anchor GitHub gives the heading `## W010 unused-definition`.
pub fn help_uri(c: Code) -> String {
    format!("{DOCS}#{}-{}", c.as_str().to_ascii_lowercase(), c.name())
}

fn rule(c: Code) -> Value {
    let uri = help_uri(c);
    json!({
        "id": c.as_str(),
        "name": c.name(),
        "shortDescription": { "text": c.summary() },
        "helpUri": uri,
        "help": {
            "text": format!("{} See {uri}", c.summary()),
            "markdown": format!("{} See [{} {}]({uri}).", c.summary(), c.as_str(), c.name()),
        },
        "defaultConfiguration": { "level": level(c.severity()) },
        "properties": { "tags": [if c.severity() == Severity::Error { "error" } else { "warning" }] },
    })
}

fn result(map: &SourceMap, d: &Diagnostic, cwd: Option<&Path>) -> Value {
    let index = Code::ALL.iter().position(|c| *c == d.code).unwrap_or(0);
    let mut text = d.message.clone();
    if let Some(h) = &d.help {
        text.push_str("\nhelp: ");
        text.push_str(h);
    }
    let primary = &d.labels[0];
    let mut primary_loc = location(map, primary, cwd);
    if !primary.message.is_empty() {
        primary_loc["message"] = json!({ "text": primary.message });
    }
    let mut r = json!({
        "ruleId": d.code.as_str(),
        "ruleIndex": index,
        "level": level(d.severity()),
        "message": { "text": text },
        "locations": [primary_loc],
    });
    let related: Vec<Value> = d.labels[1..]
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut loc = location(map, l, cwd);
            loc["id"] = json!(i + 1);
            loc["message"] =
                json!({ "text": if l.message.is_empty() { "see also" } else { &l.message } });
            loc
        })
        .collect();
    if !related.is_empty() {
        r["relatedLocations"] = json!(related);
    }
    r
}

fn location(map: &SourceMap, l: &Label, cwd: Option<&Path>) -> Value {
    let file = map.get(l.file);
    let (sl, sc) = utf16_position(file, l.span.start);
    let (el, ec) = utf16_position(file, l.span.end);
    let mut artifact = json!({});
    let abs = absolute(&file.path, cwd);
    match cwd.and_then(|c| abs.strip_prefix(c).ok()) {
        Some(rel) => {
            artifact["uri"] = json!(encode(&slashes(rel)));
            artifact["uriBaseId"] = json!("%SRCROOT%");
        }
        None if abs.is_absolute() => {
            artifact["uri"] = json!(format!("file://{}", encode(&slashes(&abs))))
        }
        None => artifact["uri"] = json!(encode(&slashes(&abs))),
    }
    json!({
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": {
                "startLine": sl,
                "startColumn": sc,
                "endLine": el,
                "endColumn": ec,
            }
        }
    })
}

/// 1-based line, and 1-based column counted in UTF-16 code units, of a
/// byte offset (clamped to a character boundary), through the file's line
/// index.
fn utf16_position(file: &ward_compiler::diagnostic::SourceFile, offset: usize) -> (usize, usize) {
    file.position(offset, ward_compiler::diagnostic::Unit::Utf16)
}

/// `path` made absolute against `cwd` (when known), with `.` and `..`
/// resolved lexically.
fn absolute(path: &Path, cwd: Option<&Path>) -> PathBuf {
    let joined = match cwd {
        Some(c) if path.is_relative() => c.join(path),
        _ => path.to_path_buf(),
    };
    ward_compiler::load::normalize(&joined)
}

/// A path with `/` separators, as URIs write it.
fn slashes(p: &Path) -> String {
    let parts: Vec<String> = p
        .components()
        .filter_map(|c| match c {
            Component::RootDir => Some(String::new()),
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    parts.join("/")
}

/// Percent-encodes what may not stand in a URI path.
fn encode(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The position read from the start of the text, as the reference.
    fn utf16_line_col(text: &str, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let start = before.rfind('\n').map_or(0, |i| i + 1);
        let col: usize = before[start..].chars().map(char::len_utf16).sum();
        (line, col + 1)
    }

    #[test]
    fn columns_count_utf16_units() {
        // "é" is 2 bytes and 1 unit; "𝕏" 4 bytes and 2 units.
        let t = "ab\né𝕏x";
        let mut map = SourceMap::default();
        let id = map.add("t.ward".into(), t.to_string());
        let at = |offset| utf16_position(map.get(id), offset);
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(3), (2, 1));
        assert_eq!(at(5), (2, 2));
        assert_eq!(at(9), (2, 4));
        assert_eq!(at(10), (2, 5));
    }

    /// Through the line index, the same positions as reading from the start.
    #[test]
    fn indexed_positions_agree() {
        let t = "ab\né𝕏x\n\n  rule r {}\r\nlast";
        let mut map = SourceMap::default();
        let id = map.add("t.ward".into(), t.to_string());
        for offset in 0..=t.len() + 2 {
            assert_eq!(
                utf16_position(map.get(id), offset),
                utf16_line_col(t, offset),
                "{offset}"
            );
        }
    }

    #[test]
    fn uris_are_relative_and_encoded() {
        let cwd = Some(Path::new("/repo"));
        let rel = |p: &str| {
            let abs = absolute(Path::new(p), cwd);
            abs.strip_prefix("/repo").ok().map(|r| encode(&slashes(r)))
        };
        assert_eq!(rel("/repo/rules/a b.ward"), Some("rules/a%20b.ward".into()));
        assert_eq!(rel("./rules/x.ward"), Some("rules/x.ward".into()));
        assert_eq!(rel("tests/../rules/x.ward"), Some("rules/x.ward".into()));
        assert_eq!(rel("../x.ward"), None);
        assert_eq!(rel("/elsewhere/x.ward"), None);
        assert_eq!(slashes(&absolute(Path::new("../x.ward"), cwd)), "/x.ward");
    }
}

//! `ward import sigma|falco FILES... --out DIR`: converts other rule
//! languages into formatted `.ward` files, checks what it wrote with
//! `ward check`, and reports per source rule what became of it: converted,
//! converted in part (with what was left out), or skipped (with why), and
//! the checker's findings on the output, which are usually defects of the
//! original (a field that does not exist, an int compared to a string).
//!
//! A converter ([`sigma`], [`falco`]) only translates text to text; this
//! module writes the files, checks them and reports.

pub mod falco;
pub mod sigma;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// What a converter made of its inputs.
#[derive(Debug, Default)]
pub struct Output {
    /// `.ward` files to write: a path relative to the output directory,
    /// and the text (formatted by `ward fmt` before it is written).
    pub files: Vec<(String, String)>,
    /// One entry per rule of the inputs, in input order.
    pub rules: Vec<RuleReport>,
    /// The checker's findings outside any rule (in a converted list or
    /// macro), filled in by [`write_and_check`].
    pub findings: Vec<String>,
}

/// What became of one rule of the inputs.
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    /// The input file, as given.
    pub source_file: String,
    /// The rule's name in its language (Sigma title, Falco rule name).
    pub name: String,
    /// The Ward rule id written, if any.
    pub ward_rule: Option<String>,
    pub status: Status,
    /// Why it was skipped, or what a partial conversion left out.
    pub reasons: Vec<String>,
    /// The checker's diagnostics on the converted rule (`E020 unknown
    /// field ...`), filled in by [`run`].
    pub findings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Converted,
    Partial,
    Skipped,
}

/// The source languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Sigma,
    Falco,
}

/// Converts `inputs` (path, text), writes the output under `out_dir`, checks
/// it, and returns the report.
pub fn convert(language: Language, inputs: &[(String, String)]) -> Output {
    match language {
        Language::Sigma => sigma::convert(inputs),
        Language::Falco => falco::convert(inputs),
    }
}

/// A Ward string literal of `s`, escaped as spec/language.md says.
pub(crate) fn string_lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A `[a-z0-9_]` slug of `name` for an id: `prefix` when nothing is left of
/// it, `prefix_` before one that starts with a digit.
pub(crate) fn slug(name: &str, prefix: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_');
    if out.is_empty() {
        prefix.to_string()
    } else if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("{prefix}_{out}")
    } else {
        out.to_string()
    }
}

/// The summary `--report json` prints.
#[derive(Serialize)]
pub struct Report<'a> {
    pub version: u32,
    pub language: &'static str,
    pub rules: usize,
    pub converted: usize,
    pub partial: usize,
    pub skipped: usize,
    /// Converted rules with checker findings.
    pub with_findings: usize,
    pub files: Vec<&'a str>,
    /// Checker findings outside any rule (converted lists and macros).
    pub other_findings: &'a [String],
    pub details: &'a [RuleReport],
}

/// Formats and writes the files, checks the output directory as one rule
/// set, and attaches each diagnostic to the rule it is in.
pub fn write_and_check(out: &mut Output, out_dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let mut written: Vec<PathBuf> = Vec::new();
    for (i, (rel, text)) in out.files.iter_mut().enumerate() {
        let formatted =
            ward_compiler::syntax::format::format(ward_compiler::diagnostic::FileId(i), text)
                .unwrap_or_else(|_| text.clone());
        *text = formatted;
        let path = out_dir.join(rel.as_str());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        written.push(path);
    }
    let loaded = ward_compiler::load::load_paths(&written).map_err(|e| e.to_string())?;
    let report = ward_compiler::check(&loaded, ward_compiler::schema::bundled());
    // Rule spans per file, to attach each diagnostic to its rule.
    let mut spans: BTreeMap<usize, Vec<(String, ward_compiler::syntax::ast::Span)>> =
        BTreeMap::new();
    for (file, f) in &loaded.files {
        for item in &f.items {
            if let ward_compiler::syntax::ast::Item::Rule(r) = item {
                spans
                    .entry(file.0)
                    .or_default()
                    .push((r.name.name.clone(), r.span));
            }
        }
    }
    for d in &report.diagnostics {
        let (line, col) = loaded.sources.line_col(d.file(), d.span().start);
        let text = format!(
            "{} {}: {} ({}:{line}:{col})",
            d.code.as_str(),
            d.code.name(),
            d.message,
            loaded.sources.get(d.file()).path.display()
        );
        let rule = spans
            .get(&d.file().0)
            .and_then(|v| {
                v.iter()
                    .find(|(_, s)| s.start <= d.span().start && d.span().end <= s.end)
            })
            .map(|(n, _)| n.clone());
        match rule.and_then(|n| {
            out.rules
                .iter_mut()
                .find(|r| r.ward_rule.as_deref() == Some(&n))
        }) {
            Some(r) => r.findings.push(text),
            None => out.findings.push(text),
        }
    }
    Ok(())
}

/// `ward import LANGUAGE FILES... --out DIR [--report json]`.
pub fn run(
    language: Language,
    files: &[PathBuf],
    out_dir: &Path,
    json: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    let mut inputs = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        inputs.push((f.display().to_string(), text));
    }
    let mut output = convert(language, &inputs);
    write_and_check(&mut output, out_dir)?;
    let count = |s: Status| output.rules.iter().filter(|r| r.status == s).count();
    let with_findings = output
        .rules
        .iter()
        .filter(|r| r.status != Status::Skipped && !r.findings.is_empty())
        .count();
    let name = match language {
        Language::Sigma => "sigma",
        Language::Falco => "falco",
    };
    if json {
        let report = Report {
            version: 1,
            language: name,
            rules: output.rules.len(),
            converted: count(Status::Converted),
            partial: count(Status::Partial),
            skipped: count(Status::Skipped),
            with_findings,
            files: output.files.iter().map(|(p, _)| p.as_str()).collect(),
            other_findings: &output.findings,
            details: &output.rules,
        };
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        for r in &output.rules {
            let what = match r.status {
                Status::Converted => "converted",
                Status::Partial => "partial",
                Status::Skipped => "skipped",
            };
            let id = r
                .ward_rule
                .as_deref()
                .map(|i| format!(" -> {i}"))
                .unwrap_or_default();
            writeln!(out, "{what:9} {}{id} ({})", r.name, r.source_file)?;
            for reason in &r.reasons {
                writeln!(out, "          {reason}")?;
            }
            for f in &r.findings {
                writeln!(out, "          finding: {f}")?;
            }
        }
        for f in &output.findings {
            writeln!(out, "finding: {f}")?;
        }
        writeln!(
            err,
            "ward import {name}: {} rule(s): {} converted, {} partial, {} skipped; {} with checker findings; written to {}",
            output.rules.len(),
            count(Status::Converted),
            count(Status::Partial),
            count(Status::Skipped),
            with_findings,
            out_dir.display()
        )?;
    }
    let clean = count(Status::Skipped) == 0 && with_findings == 0 && output.findings.is_empty();
    Ok(if clean { 0 } else { 1 })
}

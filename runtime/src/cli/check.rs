//! `ward check`: load, check, report.

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;
use ward_compiler::diagnostic::{render_plain, Diagnostic, SourceMap};
use ward_compiler::{schema, Severity};

use super::{Format, EXIT_CLEAN, EXIT_FINDINGS};

pub(super) fn run(
    paths: &[PathBuf],
    format: Format,
    deny_warnings: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    let loaded = super::load_rules(paths, false)?;
    let probe = crate::harness::has_samples;
    let opts = ward_compiler::check::Options {
        require_metadata: false,
        samples: Some(&probe),
    };
    let report = ward_compiler::check_with(&loaded, schema::bundled(), &opts);
    let (errors, warnings) = (report.errors(), report.warnings());
    match format {
        Format::Human => {
            let width = terminal_width();
            out.write_all(render_plain(&loaded.sources, &report.diagnostics, width).as_bytes())?;
            writeln!(
                err,
                "checked {} file(s), {} rule(s): {} error(s), {} warning(s)",
                loaded.sources.len(),
                report.rules,
                errors,
                warnings
            )?;
            if let Some(line) = super::inactive_line(&report.inactive) {
                writeln!(err, "{line}")?;
            }
        }
        Format::Json => {
            let doc = JsonReport {
                version: 1,
                files: loaded.sources.len(),
                rules: report.rules,
                errors,
                warnings,
                inactive: (report.inactive.iter())
                    .map(|(rule, lists)| Inactive { rule, lists })
                    .collect(),
                diagnostics: report
                    .diagnostics
                    .iter()
                    .map(|d| json_diag(&loaded.sources, d))
                    .collect(),
            };
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
        Format::Github => {
            for d in &report.diagnostics {
                writeln!(out, "{}", github(&loaded.sources, d))?;
            }
        }
        Format::Sarif => {
            let cwd = std::env::current_dir().ok();
            let doc = super::sarif::log(&loaded.sources, &report.diagnostics, cwd.as_deref());
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
    }
    let failing = errors > 0 || (deny_warnings && warnings > 0);
    Ok(if failing { EXIT_FINDINGS } else { EXIT_CLEAN })
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100)
}

/// The stable machine shape of `ward check --format json` (see spec/diagnostics.md).
#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    files: usize,
    rules: usize,
    errors: usize,
    warnings: usize,
    /// Rules inactive until the `fill list`s they read are filled.
    inactive: Vec<Inactive<'a>>,
    diagnostics: Vec<JsonDiag>,
}

#[derive(Serialize)]
struct Inactive<'a> {
    rule: &'a str,
    lists: &'a [String],
}

#[derive(Serialize)]
struct JsonDiag {
    file: String,
    line: usize,
    column: usize,
    end: Position,
    code: &'static str,
    name: &'static str,
    severity: Severity,
    message: String,
    help: Option<String>,
    labels: Vec<JsonLabel>,
}

#[derive(Serialize)]
struct Position {
    line: usize,
    column: usize,
}

#[derive(Serialize)]
struct JsonLabel {
    file: String,
    line: usize,
    column: usize,
    end: Position,
    message: String,
}

fn json_diag(map: &SourceMap, d: &Diagnostic) -> JsonDiag {
    let primary = json_label(map, &d.labels[0]);
    JsonDiag {
        file: primary.file.clone(),
        line: primary.line,
        column: primary.column,
        end: Position {
            line: primary.end.line,
            column: primary.end.column,
        },
        code: d.code.as_str(),
        name: d.code.name(),
        severity: d.severity(),
        message: d.message.clone(),
        help: d.help.clone(),
        labels: d.labels.iter().map(|l| json_label(map, l)).collect(),
    }
}

/// A GitHub Actions workflow command: the annotation shows on the line in
/// the pull request's diff.
fn github(map: &SourceMap, d: &Diagnostic) -> String {
    let l = json_label(map, &d.labels[0]);
    let level = match d.severity() {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let mut message = d.message.clone();
    if let Some(h) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    format!(
        "::{level} file={},line={},col={},endLine={},endColumn={},title={}::{}",
        escape_property(&l.file),
        l.line,
        l.column,
        l.end.line,
        l.end.column,
        escape_property(&format!("{} {}", d.code.as_str(), d.code.name())),
        escape_data(&message)
    )
}

/// Workflow-command escaping of a message (`%`, CR, LF).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command escaping of a property (also `:` and `,`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn json_label(map: &SourceMap, l: &ward_compiler::diagnostic::Label) -> JsonLabel {
    let (line, column) = map.line_col(l.file, l.span.start);
    let (eline, ecol) = map.line_col(l.file, l.span.end);
    JsonLabel {
        file: map.get(l.file).path.display().to_string(),
        line,
        column,
        end: Position {
            line: eline,
            column: ecol,
        },
        message: l.message.clone(),
    }
}

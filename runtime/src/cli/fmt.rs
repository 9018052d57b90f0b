//! `ward fmt`: rewrite rule files in the canonical layout (spec/formatting.md).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use ward_compiler::diagnostic::{render_plain, SourceMap};
use ward_compiler::load::{ward_files, LoadError};
use ward_compiler::syntax::format::format;

use super::{EXIT_CLEAN, EXIT_FINDINGS};

/// What to do with a file whose layout differs from the canonical one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Rewrite it in place.
    Write,
    /// List it; exit 1.
    Check,
    /// Print the change as a unified diff; exit 1.
    Diff,
}

pub(super) fn run(
    paths: &[PathBuf],
    mode: Mode,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    if paths.len() == 1 && paths[0] == Path::new("-") {
        return run_stdin(mode, stdin, out, err);
    }
    let cwd = [PathBuf::from(".")];
    let files = ward_files(if paths.is_empty() { &cwd } else { paths })?;
    let mut map = SourceMap::default();
    let (mut changed, mut broken) = (0usize, 0usize);
    for path in &files {
        let text = read_text(path)?;
        let id = map.add(path.clone(), text.clone());
        let formatted = match format(id, &text) {
            Ok(f) => f,
            Err(diags) => {
                err.write_all(render_plain(&map, &diags, 100).as_bytes())?;
                broken += 1;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        changed += 1;
        match mode {
            Mode::Write => std::fs::write(path, &formatted).map_err(|error| LoadError {
                path: path.clone(),
                error,
            })?,
            Mode::Check => writeln!(out, "{}", path.display())?,
            Mode::Diff => write_diff(out, &path.display().to_string(), &text, &formatted)?,
        }
    }
    let verb = match mode {
        Mode::Write => "reformatted",
        Mode::Check | Mode::Diff => "would be reformatted",
    };
    write!(err, "{changed} of {} file(s) {verb}", files.len())?;
    if broken > 0 {
        write!(err, "; {broken} not formatted: syntax errors")?;
    }
    writeln!(err)?;
    let findings = broken > 0 || (mode != Mode::Write && changed > 0);
    Ok(if findings { EXIT_FINDINGS } else { EXIT_CLEAN })
}

/// `ward fmt -`: standard input to standard output (or, with --check or
/// --diff, only the verdict).
fn run_stdin(
    mode: Mode,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    let mut text = String::new();
    stdin.read_to_string(&mut text).map_err(|error| LoadError {
        path: PathBuf::from("<stdin>"),
        error,
    })?;
    let mut map = SourceMap::default();
    let id = map.add(PathBuf::from("<stdin>"), text.clone());
    let formatted = match format(id, &text) {
        Ok(f) => f,
        Err(diags) => {
            err.write_all(render_plain(&map, &diags, 100).as_bytes())?;
            return Ok(EXIT_FINDINGS);
        }
    };
    let changed = formatted != text;
    match mode {
        Mode::Write => {
            out.write_all(formatted.as_bytes())?;
            return Ok(EXIT_CLEAN);
        }
        Mode::Check if changed => writeln!(out, "<stdin>")?,
        Mode::Diff if changed => write_diff(out, "<stdin>", &text, &formatted)?,
        _ => {}
    }
    Ok(if changed { EXIT_FINDINGS } else { EXIT_CLEAN })
}

/// Reads a rule file; a file that is not UTF-8 is an I/O error here, since
/// rewriting it could not keep its bytes.
fn read_text(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|error| LoadError {
        path: path.to_path_buf(),
        error,
    })?;
    String::from_utf8(bytes).map_err(|e| LoadError {
        path: path.to_path_buf(),
        error: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

/// A unified diff, three lines of context, headed `--- name` / `+++ name`.
fn write_diff(out: &mut dyn Write, name: &str, old: &str, new: &str) -> std::io::Result<()> {
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(name, name)
        .to_string();
    out.write_all(text.as_bytes())
}

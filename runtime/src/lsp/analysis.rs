//! The language server's model of the workspace: every `.ward` file under
//! the workspace folders as on disk, with the editor's open buffers in
//! their place, checked as one rule set (so imports, lists and macros
//! resolve across files as `ward check DIR` resolves them), and positions
//! converted between byte offsets and the protocol's UTF-16 columns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tower_lsp_server::ls_types::{
    self as lsp, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString,
    Position, Range, Uri,
};
use ward_compiler::check::{self, Report};
use ward_compiler::diagnostic::{Diagnostic, FileId, Severity, Unit};
use ward_compiler::load::{self, Loaded};
use ward_compiler::schema;
use ward_compiler::syntax::ast::Span;

/// An open buffer.
#[derive(Clone, Debug)]
pub struct Doc {
    pub text: String,
    pub version: i32,
}

/// The workspace: its folders, the `.ward` files read from disk under
/// them, and the open buffers (which win over the disk).
#[derive(Debug, Default)]
pub struct Workspace {
    roots: Vec<PathBuf>,
    disk: BTreeMap<PathBuf, String>,
    open: BTreeMap<PathBuf, Doc>,
    /// Files parsed by earlier checks, reused when their text is unchanged.
    parsed: load::ParseCache,
}

impl Workspace {
    pub fn new(roots: Vec<PathBuf>) -> Workspace {
        let mut ws = Workspace {
            roots,
            ..Workspace::default()
        };
        ws.rescan();
        ws
    }

    /// Reads the `.ward` files under the roots again (after a save, or
    /// files created or deleted outside the editor).
    pub fn rescan(&mut self) {
        self.disk.clear();
        for root in &self.roots {
            let Ok(files) = load::ward_files(std::slice::from_ref(root)) else {
                continue;
            };
            for f in files {
                if let Ok(text) = std::fs::read_to_string(&f) {
                    self.disk.insert(canonical(&f), text);
                }
            }
        }
    }

    pub fn open(&mut self, path: &Path, text: String, version: i32) {
        self.open.insert(canonical(path), Doc { text, version });
    }

    pub fn close(&mut self, path: &Path) {
        let path = canonical(path);
        self.open.remove(&path);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                self.disk.insert(path, text);
            }
            Err(_) => {
                self.disk.remove(&path);
            }
        }
    }

    /// The text of `path`: the open buffer, else the disk.
    pub fn text(&self, path: &Path) -> Option<&str> {
        let path = canonical(path);
        (self.open.get(&path).map(|d| d.text.as_str()))
            .or_else(|| self.disk.get(&path).map(String::as_str))
    }

    pub fn version(&self, path: &Path) -> Option<i32> {
        self.open.get(&canonical(path)).map(|d| d.version)
    }

    /// Every file of the rule set (disk files under the roots, and open
    /// buffers anywhere), checked together.
    pub fn analyze(&mut self) -> Analysis {
        let mut texts: BTreeMap<&Path, &str> = BTreeMap::new();
        for (p, t) in &self.disk {
            texts.insert(p, t);
        }
        for (p, d) in &self.open {
            texts.insert(p, &d.text);
        }
        let names: Vec<(String, &str)> = texts
            .iter()
            .map(|(p, t)| (p.display().to_string(), *t))
            .collect();
        let pairs: Vec<(&str, &str)> = names.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        // Imports of files outside the workspace are read from disk.
        let loaded = load::load_layers_cached(&pairs, &[], &mut self.parsed)
            .unwrap_or_else(|_| load::load_texts(&pairs));
        let probe = crate::harness::has_samples;
        let opts = check::Options {
            require_metadata: false,
            samples: Some(&probe),
        };
        let report = check::check_with(&loaded, schema::bundled(), &opts);
        Analysis { loaded, report }
    }
}

/// One check of the whole rule set.
pub struct Analysis {
    pub loaded: Loaded,
    pub report: Report,
}

impl Analysis {
    pub fn file(&self, path: &Path) -> Option<FileId> {
        self.loaded.sources.find(&canonical(path))
    }

    pub fn text(&self, file: FileId) -> &str {
        self.loaded.sources.get(file).text()
    }

    pub fn path(&self, file: FileId) -> &Path {
        &self.loaded.sources.get(file).path
    }

    /// The protocol range of `span` in `file`.
    pub fn range(&self, file: FileId, span: Span) -> Range {
        let src = self.loaded.sources.get(file);
        let pos = |offset: usize| {
            let (line, col) = src.position(offset, Unit::Utf16);
            Position::new(
                u32::try_from(line.saturating_sub(1)).unwrap_or(u32::MAX),
                u32::try_from(col.saturating_sub(1)).unwrap_or(u32::MAX),
            )
        };
        Range::new(pos(span.start), pos(span.end))
    }

    pub fn location(&self, file: FileId, span: Span) -> Option<Location> {
        Some(Location::new(uri(self.path(file))?, self.range(file, span)))
    }

    /// The diagnostics of every file, by path, an empty list for a file
    /// without any (so that the editor clears what it showed).
    pub fn diagnostics(&self) -> BTreeMap<PathBuf, Vec<lsp::Diagnostic>> {
        let mut out: BTreeMap<PathBuf, Vec<lsp::Diagnostic>> = BTreeMap::new();
        for i in 0..self.loaded.sources.len() {
            out.entry(self.path(FileId(i)).to_path_buf()).or_default();
        }
        for d in &self.report.diagnostics {
            let path = self.path(d.file()).to_path_buf();
            out.entry(path).or_default().push(self.convert(d));
        }
        out
    }

    /// A compiler diagnostic as the protocol's: the primary label's range,
    /// the code (with a link-free description), the message with the
    /// primary label's text and the help, the other labels as related
    /// information.
    pub fn convert(&self, d: &Diagnostic) -> lsp::Diagnostic {
        let primary = &d.labels[0];
        let mut message = d.message.clone();
        if !primary.message.is_empty() {
            message = format!("{message}: {}", primary.message);
        }
        if let Some(help) = &d.help {
            message = format!("{message}\nhelp: {help}");
        }
        let related: Vec<DiagnosticRelatedInformation> = d.labels[1..]
            .iter()
            .filter_map(|l| {
                Some(DiagnosticRelatedInformation {
                    location: self.location(l.file, l.span)?,
                    message: l.message.clone(),
                })
            })
            .collect();
        lsp::Diagnostic {
            range: self.range(primary.file, primary.span),
            severity: Some(match d.severity() {
                Severity::Error => DiagnosticSeverity::ERROR,
                Severity::Warning => DiagnosticSeverity::WARNING,
            }),
            code: Some(NumberOrString::String(d.code.as_str().to_string())),
            source: Some("ward".to_string()),
            message,
            related_information: (!related.is_empty()).then_some(related),
            data: Some(serde_json::json!({
                "name": d.code.name(),
                "help": d.help,
            })),
            ..lsp::Diagnostic::default()
        }
    }
}

/// The canonical form of a path, so a file opened by the editor and the
/// same file found under a root are one.
pub fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| load::normalize(p))
}

pub fn uri(p: &Path) -> Option<Uri> {
    Uri::from_file_path(p)
}

pub fn path_of(u: &Uri) -> Option<PathBuf> {
    u.to_file_path().map(|p| p.into_owned())
}

/// The byte offset of protocol position `pos` (UTF-16 column) in `text`,
/// clamped to the line and the text.
pub fn offset_at(text: &str, pos: Position) -> usize {
    let mut line_start = 0;
    for _ in 0..pos.line {
        match text[line_start..].find('\n') {
            Some(n) => line_start += n + 1,
            None => return text.len(),
        }
    }
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |n| line_start + n);
    let mut units = 0u32;
    for (i, c) in text[line_start..line_end].char_indices() {
        if units >= pos.character {
            return line_start + i;
        }
        units += u32::try_from(c.len_utf16()).unwrap_or(2);
    }
    line_end
}

/// The protocol position of byte `offset` in `text`.
pub fn position_at(text: &str, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |n| n + 1);
    let col: usize = before[start..].chars().map(char::len_utf16).sum();
    Position::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reused parse keeps its diagnostics on its own file when the files
    /// around it change (ids are given in path order on every check).
    #[test]
    fn reused_parses_keep_their_diagnostics_on_their_file() {
        let mut ws = Workspace::new(Vec::new());
        let (b, c) = (Path::new("/ws-test/b.ward"), Path::new("/ws-test/c.ward"));
        ws.open(b, "source k8s.audit\nrule b { when verb == }\n".into(), 1);
        ws.open(
            c,
            "source k8s.audit\nrule c { title \"C\" when verb == \"get\" }\n".into(),
            1,
        );
        let first = ws.analyze().diagnostics();
        assert_eq!(first[&canonical(b)].len(), 1, "{first:?}");
        assert!(first[&canonical(c)].is_empty());
        // A file sorting first shifts every id; b.ward's parse is reused.
        ws.open(Path::new("/ws-test/a.ward"), "source k8s.audit\n".into(), 1);
        let second = ws.analyze().diagnostics();
        assert_eq!(second[&canonical(b)], first[&canonical(b)]);
        assert!(second[&canonical(c)].is_empty(), "{second:?}");
    }

    #[test]
    fn utf16_positions_round_trip() {
        let text = "# é𝄞x\nrule r { when verb == \"é\" }\n";
        // `x` is after é (1 unit) and 𝄞 (2 units) and `# `.
        let x = text.find('x').expect("x");
        assert_eq!(position_at(text, x), Position::new(0, 5));
        assert_eq!(offset_at(text, Position::new(0, 5)), x);
        let verb = text.find("verb").expect("verb");
        assert_eq!(position_at(text, verb), Position::new(1, 14));
        assert_eq!(offset_at(text, Position::new(1, 14)), verb);
        // Past the end of a line: its end; past the last line: the end.
        assert_eq!(
            offset_at(text, Position::new(0, 99)),
            text.find('\n').expect("nl")
        );
        assert_eq!(offset_at(text, Position::new(9, 0)), text.len());
    }
}

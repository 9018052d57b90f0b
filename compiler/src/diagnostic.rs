//! Diagnostics: a registry of stable codes, the data of one finding, and its
//! rendering through miette.
//!
//! A diagnostic is data (code, message, labelled spans, help); prose layout
//! is miette's job. Codes never change meaning once published; every code has
//! a section in `spec/diagnostics.md` with an example that triggers it, and a
//! test keeps the two in step.

use std::fmt;
use std::path::PathBuf;

use crate::syntax::ast::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

macro_rules! codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = $code:literal, $name:literal, $sev:ident; )*) => {
        /// Every diagnostic Ward can emit. Ranges: E00x syntax and files,
        /// E01x names, E020–E030 types and values, E031–E032 functions,
        /// W00x checker warnings, W010 and up lints and suppressions.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $( $(#[doc = $doc])* $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];
            /// The stable code, `E020`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }
            /// The kebab-case short name, `unknown-field`.
            pub fn name(self) -> &'static str {
                match self { $( Code::$variant => $name, )* }
            }
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }
            /// One sentence on what the code means (its doc comment).
            pub fn summary(self) -> &'static str {
                match self { $( Code::$variant => concat!($($doc),*).trim_ascii(), )* }
            }
        }
    };
}

codes! {
    /// The text does not follow the grammar.
    Syntax = "E001", "syntax", Error;
    /// A string escape that is not one of `\" \\ \n \r \t \u{...}`.
    BadEscape = "E002", "bad-escape", Error;
    /// A number or index that does not fit its type.
    BadNumber = "E003", "bad-number", Error;
    /// A file, import or path that cannot be read.
    Io = "E004", "io", Error;
    /// A name that is neither a list, a macro nor a field.
    UnknownName = "E010", "unknown-name", Error;
    /// Two lists, macros or rules with the same name.
    Duplicate = "E011", "duplicate-definition", Error;
    /// A macro that expands to itself.
    MacroCycle = "E012", "macro-cycle", Error;
    /// A list where a condition is expected, or a macro where a list is.
    WrongKind = "E013", "wrong-kind", Error;
    /// A rule without a source, or a source Ward has no schema for.
    UnknownSource = "E014", "unknown-source", Error;
    /// A list item that is not a literal of one type.
    BadList = "E015", "bad-list", Error;
    /// A macro called with the wrong number of arguments, a plain macro called, a parameterised one used without arguments, or an override that changes the parameters.
    MacroArity = "E016", "macro-arity", Error;
    /// A macro body naming a variable that the condition using the macro binds.
    CapturedVariable = "E017", "captured-variable", Error;
    /// A field path the source's schema does not have.
    UnknownField = "E020", "unknown-field", Error;
    /// An operator applied to operands of types it does not accept.
    TypeMismatch = "E021", "type-mismatch", Error;
    /// `any`/`all` over something that is not a list.
    NotAList = "E022", "not-a-list", Error;
    /// A regular expression or glob that does not compile within limits.
    BadRegex = "E023", "bad-regex", Error;
    /// A CIDR or IP literal that does not parse.
    BadCidr = "E024", "bad-cidr", Error;
    /// A duration that is zero, too long, or not a duration.
    BadDuration = "E025", "bad-duration", Error;
    /// An output template naming a field the schema does not have.
    BadTemplate = "E026", "bad-template", Error;
    /// A condition that is not boolean.
    NotBoolean = "E027", "not-boolean", Error;
    /// A list compared with a scalar, or a list's element field read without a quantifier.
    ListVsScalar = "E028", "list-vs-scalar", Error;
    /// A rule without `when`, with two, or with a malformed metadata entry.
    BadRule = "E029", "bad-rule", Error;
    /// A stateful clause whose key or counted field is not a scalar field.
    BadKey = "E030", "bad-key", Error;
    /// A call to a function Ward does not have.
    UnknownFunction = "E031", "unknown-function", Error;
    /// A function called with the wrong number of arguments, or an argument of a type it does not take.
    BadArguments = "E032", "bad-arguments", Error;
    /// A `requestObject` path used without a guard that fixes the object's kind.
    UnguardedPath = "W001", "unguarded-path", Warning;
    /// A path into free-form JSON that no known shape of the object has.
    UnknownShapePath = "W002", "unknown-shape-path", Warning;
    /// A literal that is not among the known values of an enumerated field.
    UnknownValue = "W003", "unknown-value", Warning;
    /// A list or macro named like a field, or a bound variable hiding one.
    Shadowing = "W004", "shadowing", Warning;
    /// A metadata key Ward does not know.
    UnknownMeta = "W005", "unknown-metadata", Warning;
    /// A sequence step that the rule's other constraints keep from matching.
    UnreachableStep = "W006", "unreachable-step", Warning;
    /// A list or macro that no rule reaches.
    UnusedDefinition = "W010", "unused-definition", Warning;
    /// Two rules with the same title.
    DuplicateTitle = "W011", "duplicate-title", Warning;
    /// A condition that is always false (contradictory tests) or always true.
    ConstantCondition = "W012", "constant-condition", Warning;
    /// An `except` that contradicts `when`, so it never excludes anything.
    DeadExcept = "W013", "dead-except", Warning;
    /// A rule in a rule repository without a title, a severity or tags.
    MissingMetadata = "W014", "missing-metadata", Warning;
    /// A regex that is a plain string: `==`, `contains` or a prefix/suffix test says it.
    LiteralRegex = "W015", "literal-regex", Warning;
    /// A case-sensitive test of a field whose values are case-insensitive.
    CaseSensitive = "W016", "case-sensitive-comparison", Warning;
    /// A rule with no samples in a directory that uses the samples layout.
    MissingSamples = "W017", "missing-samples", Warning;
    /// A `# ward:allow` comment that is malformed, has no reason, or names an error.
    BadSuppression = "W018", "bad-suppression", Warning;
    /// A `# ward:allow` comment that suppresses nothing.
    UnusedSuppression = "W019", "unused-suppression", Warning;
    /// An `attack.` tag that is no ATT&CK Enterprise tactic or technique id.
    UnknownAttackTag = "W020", "unknown-attack-tag", Warning;
    /// An `attack.` tag naming a revoked or deprecated ATT&CK technique.
    DeprecatedAttackTag = "W021", "deprecated-attack-tag", Warning;
    /// An enabled rule reads a field the schema marks `opt_in`.
    OptInField = "W022", "opt-in-field", Warning;
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Index of a file in a [`SourceMap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FileId(pub usize);

/// A labelled span: the primary label comes first.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Self {
        let message = message.into();
        Diagnostic {
            code,
            labels: vec![Label {
                file,
                span,
                message: String::new(),
            }],
            message,
            help: None,
        }
    }
    /// Sets the text of the primary label.
    pub fn label(mut self, text: impl Into<String>) -> Self {
        self.labels[0].message = text.into();
        self
    }
    pub fn with_label(mut self, file: FileId, span: Span, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            file,
            span,
            message: text.into(),
        });
        self
    }
    pub fn help(mut self, text: impl Into<String>) -> Self {
        self.help = Some(text.into());
        self
    }
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }
    pub fn file(&self) -> FileId {
        self.labels[0].file
    }
    pub fn span(&self) -> Span {
        self.labels[0].span
    }
}

/// The text of every file a check read, so spans can be shown.
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    /// The path as snippet headers show it.
    name: String,
    text: String,
    /// Byte offset where each line starts: a span's line is found by
    /// binary search, so ten thousand diagnostics in one file render in
    /// linear time (miette's own lookup reads the text from its start for
    /// every snippet).
    line_starts: Vec<usize>,
    /// Every 4 KiB (at a char boundary): the offset, and the characters
    /// and UTF-16 units before it; built when a column on a long line is
    /// asked for, so that thousands of labels on one line of a megabyte do
    /// not each count from the line's start.
    marks: std::sync::OnceLock<Vec<(usize, usize, usize)>>,
}

/// What a column is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Chars,
    /// UTF-16 code units (SARIF, the language server protocol).
    Utf16,
}

impl SourceFile {
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The 0-based line holding byte `offset`.
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1)
    }

    /// The length in bytes of 0-based `line`, its newline included.
    fn line_len(&self, line: usize) -> usize {
        let end = (self.line_starts.get(line + 1).copied()).unwrap_or(self.text.len());
        end - self.line_starts[line]
    }

    /// The 1-based line and column of byte `offset` (clamped to the text
    /// and to a character boundary), the column counted in `unit`.
    pub fn position(&self, offset: usize, unit: Unit) -> (usize, usize) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_of(offset);
        let start = self.line_starts[line];
        let count = |text: &str| match unit {
            Unit::Chars => text.chars().count(),
            Unit::Utf16 => text.chars().map(char::len_utf16).sum(),
        };
        if offset - start <= LONG_LINE {
            return (line + 1, count(&self.text[start..offset]) + 1);
        }
        let marks = self.marks.get_or_init(|| {
            let (mut marks, mut at, mut chars, mut units) = (vec![(0, 0, 0)], 0, 0, 0);
            for (i, c) in self.text.char_indices() {
                if i >= at + 4096 {
                    marks.push((i, chars, units));
                    at = i;
                }
                chars += 1;
                units += c.len_utf16();
            }
            marks
        });
        let before = |x: usize| {
            let k = marks.partition_point(|m| m.0 <= x).saturating_sub(1);
            let (pos, chars, units) = marks[k];
            let base = if unit == Unit::Chars { chars } else { units };
            base + count(&self.text[pos..x])
        };
        (line + 1, before(offset) - before(start) + 1)
    }
}

impl miette::SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        // miette's reading, over only the lines the snippet shows: the
        // context lines around the span, up to any too long to draw.
        let (span_first, span_last) = (
            self.line_of(span.offset()),
            self.line_of(span.offset() + span.len()),
        );
        let long = |line: usize| self.line_len(line) > LONG_LINE;
        let first = (span_first.saturating_sub(context_lines_before)..span_first)
            .rev()
            .find(|&l| long(l))
            .map_or(span_first.saturating_sub(context_lines_before), |l| l + 1);
        let last = (span_last + 1..span_last + 1 + context_lines_after)
            .take_while(|&l| l < self.line_starts.len())
            .find(|&l| long(l))
            .unwrap_or(span_last + 1 + context_lines_after);
        let start = self.line_starts[first];
        let end = self
            .line_starts
            .get(last)
            .copied()
            .unwrap_or(self.text.len());
        let window = &self.text.as_bytes()[start..end];
        let local = miette::SourceSpan::new((span.offset() - start).into(), span.len());
        // The window holds no more lines than those: the counts asked for
        // still tell miette to start at a line's start.
        let inner = window.read_span(&local, context_lines_before, context_lines_after)?;
        let found = inner.span();
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            miette::SourceSpan::new((found.offset() + start).into(), found.len()),
            inner.line() + first,
            inner.column(),
            inner.line_count(),
        )))
    }
}

impl SourceMap {
    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        let line_starts = std::iter::once(0).chain(line_ends(&text)).collect();
        let name = path.display().to_string();
        self.files.push(SourceFile {
            path,
            name,
            text,
            line_starts,
            marks: Default::default(),
        });
        FileId(self.files.len() - 1)
    }
    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }
    pub fn find(&self, path: &std::path::Path) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path).map(FileId)
    }
    pub fn len(&self) -> usize {
        self.files.len()
    }
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: FileId, offset: usize) -> (usize, usize) {
        self.get(id).position(offset, Unit::Chars)
    }

    /// A miette-renderable view of `diag`.
    pub fn render<'a>(&'a self, diag: &'a Diagnostic) -> Rendered<'a> {
        let (labels, related) = split(self, diag);
        Rendered {
            map: self,
            diag,
            file: diag.file(),
            primary: true,
            labels,
            related,
        }
    }
}

/// The offsets just past each newline of `text`.
fn line_ends(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|(_, b)| *b == b'\n')
        .map(|(i, _)| i + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The labels drawn with the message, and the rest as notes that follow.
///
/// miette draws a file's labels in the order of their offsets, and the
/// header of the first snippet names the place its snippet starts: a label
/// far above the primary one (a macro's body, above the rule that calls
/// it) would put its own line and column in the header. So only the labels
/// that share the primary label's snippet, or come after it, are drawn with
/// the message; those further up, then those of each other file, follow as
/// `see also` notes.
fn split<'a>(map: &'a SourceMap, diag: &'a Diagnostic) -> (Vec<&'a Label>, Vec<Rendered<'a>>) {
    let primary = &diag.labels[0];
    let src = map.get(primary.file);
    let line = |at: usize| src.line_of(at.min(src.text.len()));
    let first = line(primary.span.start);
    // Two snippets merge when their context lines (one on each side) meet.
    let with_primary =
        |l: &Label| l.span.start >= primary.span.start || line(l.span.end) + 3 >= first;
    let (here, above): (Vec<&Label>, Vec<&Label>) = (diag.labels.iter())
        .filter(|l| l.file == primary.file)
        .partition(|l| with_primary(l));
    let mut others: Vec<FileId> = Vec::new();
    for l in &diag.labels {
        if l.file != primary.file && !others.contains(&l.file) {
            others.push(l.file);
        }
    }
    let note = |file: FileId, labels: Vec<&'a Label>| Rendered {
        map,
        diag,
        file,
        primary: false,
        labels,
        related: Vec::new(),
    };
    let mut related = Vec::new();
    if !above.is_empty() {
        related.push(note(primary.file, above));
    }
    for file in others {
        let labels = diag.labels.iter().filter(|l| l.file == file).collect();
        related.push(note(file, labels));
    }
    (here, related)
}

/// One diagnostic, or some of its labels in one file, for miette to draw.
pub struct Rendered<'a> {
    map: &'a SourceMap,
    diag: &'a Diagnostic,
    file: FileId,
    /// The message and its primary label, or a note that follows.
    primary: bool,
    /// The labels drawn, all in `file`.
    labels: Vec<&'a Label>,
    related: Vec<Rendered<'a>>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered").field("diag", self.diag).finish()
    }
}

/// Longest line drawn in a snippet. A label further along a line is
/// reported by line and column instead: miette pads to the column with a
/// width that must fit 16 bits (and a megabyte of one line helps no one).
pub const LONG_LINE: usize = 4096;

impl Rendered<'_> {
    /// The labels in this file, each with where it starts, when one of them
    /// lies on a line too long to draw; `None` when all can be drawn.
    fn on_long_lines(&self) -> Option<Vec<(&Label, usize, usize)>> {
        let src = self.map.get(self.file);
        let labels = &self.labels;
        let long = labels.iter().any(|l| {
            [l.span.start, l.span.end]
                .into_iter()
                .any(|at| src.line_len(src.line_of(at.min(src.text.len()))) > LONG_LINE)
        });
        long.then(|| {
            labels
                .iter()
                .map(|&l| {
                    let (line, col) = src.position(l.span.start, Unit::Chars);
                    (l, line, col)
                })
                .collect()
        })
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.primary {
            f.write_str(&self.diag.message)?;
        } else {
            write!(f, "see also {}", self.map.get(self.file).path.display())?;
        }
        for (l, line, col) in self.on_long_lines().unwrap_or_default() {
            let name = &self.map.get(self.file).name;
            write!(f, "\n  at {name}:{line}:{col} (a line too long to show)")?;
            if !l.message.is_empty() {
                write!(f, ": {}", l.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.primary
            .then(|| Box::new(self.diag.code) as Box<dyn fmt::Display>)
    }
    fn severity(&self) -> Option<miette::Severity> {
        if !self.primary {
            // Labels elsewhere: context, not a second finding.
            return Some(miette::Severity::Advice);
        }
        Some(match self.diag.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        let help = self.diag.help.as_ref().filter(|_| self.primary)?;
        Some(Box::new(help))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.on_long_lines().is_some() {
            return None;
        }
        Some(self.map.get(self.file) as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.on_long_lines().is_some() {
            return None;
        }
        // The header's line and column are the primary label's, or in a
        // note, its first label's (the one it is about).
        let primary = if self.primary {
            &self.diag.labels[0]
        } else {
            self.labels[0]
        };
        let labels = self.labels.iter().map(move |&l| {
            let text = (!l.message.is_empty()).then(|| l.message.clone());
            if std::ptr::eq(l, primary) {
                miette::LabeledSpan::new_primary_with_span(text, l.span)
            } else {
                miette::LabeledSpan::new_with_span(text, l.span)
            }
        });
        Some(Box::new(labels))
    }
    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn miette::Diagnostic> + 'b>> {
        if self.related.is_empty() {
            return None;
        }
        Some(Box::new(
            self.related.iter().map(|r| r as &dyn miette::Diagnostic),
        ))
    }
}

/// Renders diagnostics as miette draws them, without colour, with the file
/// name in each snippet's header. Used by the CLI and by snapshot tests.
pub fn render_plain(map: &SourceMap, diags: &[Diagnostic], width: usize) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(width);
    let mut out = String::new();
    for d in diags {
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &map.render(d));
    }
    out
}

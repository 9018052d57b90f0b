//! Decoding: bytes in the formats users have (JSON lines, gzip, JSON
//! documents: CloudTrail `Records`, audit `EventList`, the three EKS
//! CloudWatch Logs wrappings, GKE LogEntries, AKS diagnostic records,
//! events held as JSON strings by log shippers) to events of a known
//! source (spec/inputs.md).
//!
//! Bad input never stops a stream: each malformed line, over-long line or
//! event of unknown shape is reported with its line and reading goes on.
//! Memory is bounded by the line limit ([`MAX_LINE`] by default) per line
//! and the document limit ([`MAX_DOCUMENT`]) per document.

pub mod aks;
mod blocks;
pub mod detect;
mod document;
pub mod gke;

pub use blocks::BlockSink;
pub use detect::{source_by, source_of, Detect};

use std::io::{BufRead, Read};

use base64::Engine as _;
use serde::de::IgnoredAny;
use serde_json::Value;

/// Longest JSON line read as a line by default (`--max-line-bytes`); a
/// longer one is read as a document, or skipped and reported.
pub const MAX_LINE: usize = 16 << 20;
/// Largest JSON document read by default (`--max-document-bytes`): a
/// pretty-printed `Records` file, or a CloudTrail file written as one line.
pub const MAX_DOCUMENT: usize = 1 << 30;
/// Deepest wrapping followed (a CloudWatch message holding a document...).
const MAX_WRAP: usize = 4;

/// How an event reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    Raw,
    EventList,
    CloudtrailRecords,
    EksCloudwatch,
    Gke,
    Aks,
    Embedded,
    Pubsub,
}

impl Via {
    pub const ALL: [Via; 8] = [
        Via::Raw,
        Via::EventList,
        Via::CloudtrailRecords,
        Via::EksCloudwatch,
        Via::Gke,
        Via::Aks,
        Via::Embedded,
        Via::Pubsub,
    ];

    /// Its name in alerts (as serialised).
    pub fn name(self) -> &'static str {
        match self {
            Via::Raw => "raw",
            Via::EventList => "event-list",
            Via::CloudtrailRecords => "cloudtrail-records",
            Via::EksCloudwatch => "eks-cloudwatch",
            Via::Gke => "gke",
            Via::Aks => "aks",
            Via::Embedded => "embedded",
            Via::Pubsub => "pubsub",
        }
    }
}

/// One decoded event.
#[derive(Clone, Debug)]
pub struct Event {
    /// The schema it fits: `k8s.audit`, `aws.cloudtrail`, ...
    pub source: &'static str,
    /// In the canonical shape of its source.
    pub value: Value,
    /// The event as it arrived, when `value` was mapped from it (GKE) or
    /// unwrapped from a record that carries it as a string (AKS).
    pub original: Option<Value>,
    /// 1-based line of the input where the event (or its document) starts.
    pub line: usize,
    pub via: Via,
}

/// Something in the input that is not an event.
#[derive(Debug, PartialEq)]
pub enum Problem {
    /// Not JSON (the parser's message).
    Malformed { line: usize, error: String },
    /// Longer than the limit (the line limit, or for a line that could be
    /// a document, the document limit).
    TooLong {
        line: usize,
        bytes: usize,
        limit: usize,
    },
    /// JSON, but no known event shape.
    UnknownShape { line: usize, hint: String },
}

impl Problem {
    pub fn line(&self) -> usize {
        match self {
            Problem::Malformed { line, .. }
            | Problem::TooLong { line, .. }
            | Problem::UnknownShape { line, .. } => *line,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Malformed { line, error } => write!(f, "line {line}: not JSON: {error}"),
            Problem::TooLong { line, bytes, limit } => write!(
                f,
                "line {line}: {bytes} bytes, longer than {limit}; skipped"
            ),
            Problem::UnknownShape { line, hint } => {
                write!(f, "line {line}: not an event of a known source ({hint})")
            }
        }
    }
}

/// A forced input format (`--input-format`); `Auto` detects per file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Auto,
    JsonLines,
    Document,
}

/// How a stream is read: its format, and the source its events are taken
/// as (`--source`) instead of the one their shape names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub format: Format,
    pub source: Option<&'static str>,
    /// Longest line read as a line.
    pub max_line: usize,
    /// Largest document read (a line longer than `max_line` that starts a
    /// JSON object or array is read as one).
    pub max_document: usize,
}

impl Options {
    /// How much of a line past the line limit is kept: it may be a
    /// document (CloudTrail writes each file as one line), kept up to the
    /// document limit, unless the input is JSON lines.
    fn keep(&self) -> usize {
        match self.format {
            Format::JsonLines => self.max_line,
            _ => self.max_document.max(self.max_line),
        }
    }
}

impl From<Format> for Options {
    fn from(format: Format) -> Options {
        Options {
            format,
            source: None,
            max_line: MAX_LINE,
            max_document: MAX_DOCUMENT,
        }
    }
}

/// The sources `--source` may name: those with a bundled schema.
pub fn source_named(name: &str) -> Option<&'static str> {
    ward_compiler::schema::bundled()
        .names()
        .find(|s| *s == name)
}

/// A fast path offered each JSON line: (bytes, line number) -> handled?
pub type LineHook<'h> = &'h mut dyn FnMut(&[u8], usize) -> bool;

/// The callbacks of [`read`].
pub struct Handlers<'h> {
    /// Offered each JSON line first (bytes, line number); returns whether it
    /// handled the line. Lines it declines are decoded in full.
    pub line: Option<LineHook<'h>>,
    /// Offered each record of a CloudTrail `Records` document first, as
    /// the record's text (one line, as written) and the document's line;
    /// returns whether it handled the record. Records it declines are
    /// decoded in full (`Via::CloudtrailRecords`).
    pub record: Option<LineHook<'h>>,
    pub event: &'h mut dyn FnMut(Event),
    pub problem: &'h mut dyn FnMut(Problem),
}

/// Reads a whole stream, calling `on_event` for each event and `on_problem`
/// for each bad line. An error is an I/O failure (a truncated gzip, a read
/// error); it says how many lines were read before it.
pub fn read(
    input: impl Read,
    opts: impl Into<Options>,
    on_event: &mut dyn FnMut(Event),
    on_problem: &mut dyn FnMut(Problem),
) -> Result<(), ReadError> {
    read_with(
        input,
        opts,
        Handlers {
            line: None,
            record: None,
            event: on_event,
            problem: on_problem,
        },
    )
}

/// [`read`] with a fast path for JSON lines.
pub fn read_with(
    input: impl Read,
    opts: impl Into<Options>,
    h: Handlers<'_>,
) -> Result<(), ReadError> {
    read_handled(input, opts.into(), h, None)
}

/// [`read_with`] that hands whole blocks of lines to `sink` after the
/// first line of each file (or gzip member stream), instead of offering
/// them to the `line` hook one by one: lines that no block takes (longer
/// than the reader's buffer, or the last one without a newline) are still
/// offered. The caller handles a block with [`read_block`]. Not for
/// `Format::Document`, whose files are read whole.
pub fn read_in_blocks(
    input: impl Read,
    opts: impl Into<Options>,
    h: Handlers<'_>,
    sink: &mut BlockSink<'_>,
) -> Result<(), ReadError> {
    read_handled(input, opts.into(), h, Some(sink))
}

fn read_handled(
    input: impl Read,
    opts: Options,
    h: Handlers<'_>,
    sink: Option<&mut BlockSink<'_>>,
) -> Result<(), ReadError> {
    let (mut line, mut dec) = Decoder::of(h, opts.source);
    read_dyn(Box::new(input), &opts, &mut line, &mut dec, sink)
}

/// Whether a JSON text holds the name `"Records"` (a CloudTrail `Records`
/// document may): the finder is built once, not per line.
pub fn names_records(text: &[u8]) -> bool {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"Records\""));
    FINDER.find(text).is_some()
}

/// The UTF-8 byte-order mark that files saved on Windows start with.
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn read_dyn<'h>(
    input: Box<dyn Read + '_>,
    opts: &Options,
    on_line: &mut Option<LineHook<'h>>,
    dec: &mut Decoder<'h>,
    blocks: Option<&mut BlockSink<'_>>,
) -> Result<(), ReadError> {
    let format = opts.format;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, input);
    let head = reader
        .fill_buf()
        .map_err(|e| ReadError { line: 0, error: e })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::read::MultiGzDecoder::new(reader);
        return read_dyn(Box::new(gz), opts, on_line, dec, blocks);
    }
    if head.starts_with(BOM) {
        reader.consume(BOM.len());
    }
    let head = reader
        .fill_buf()
        .map_err(|e| ReadError { line: 0, error: e })?;
    let first = head.iter().copied().find(|b| !b.is_ascii_whitespace());
    let mut lines = Lines {
        line_no: 0,
        buf: Vec::new(),
        ctx: LineCtx {
            format,
            max_line: opts.max_line,
            first,
            on_line,
            dec,
        },
    };
    // Handing out blocks starts after the first line, which decides whether
    // the file is one document.
    let blocks = blocks.filter(|_| format != Format::Document);
    let next = loop {
        match lines.next(&mut reader, opts)? {
            Next::Line if blocks.is_some() => break Next::Line,
            Next::Line => {}
            end => break end,
        }
    };
    let next = match (next, blocks) {
        (Next::Line, Some(sink)) => {
            let rest = reader.buffer().to_vec();
            let mut reader = blocks::Blocks::new(&rest, reader.into_inner(), sink);
            loop {
                let handed = reader.block(&mut lines.line_no);
                let handed = handed.map_err(|e| ReadError {
                    line: lines.line_no,
                    error: e,
                })?;
                if handed {
                    continue;
                }
                match lines.next(&mut reader, opts)? {
                    Next::Line => {}
                    Next::End => return Ok(()),
                    Next::Document(doc, line) => {
                        return read_document(&mut reader, doc, line, opts, lines.ctx.dec)
                    }
                }
            }
        }
        (next, _) => next,
    };
    match next {
        Next::Document(doc, line) => read_document(&mut reader, doc, line, opts, lines.ctx.dec),
        Next::Line | Next::End => Ok(()),
    }
}

/// What reading one line found.
enum Next {
    /// A line (or a blank one, or one reported): more may follow.
    Line,
    /// The end of input.
    End,
    /// The first line opens a document: its text so far, and its line.
    Document(Vec<u8>, usize),
}

/// Lines read one at a time, as the reader's buffer holds them or
/// gathered past it.
struct Lines<'c, 'h> {
    line_no: usize,
    /// A line that runs past the reader's buffer, gathered.
    buf: Vec<u8>,
    ctx: LineCtx<'c, 'h>,
}

impl Lines<'_, '_> {
    fn next(&mut self, reader: &mut impl BufRead, opts: &Options) -> Result<Next, ReadError> {
        let line_no = self.line_no;
        let err = |e| ReadError {
            line: line_no,
            error: e,
        };
        // A line wholly inside the reader's buffer is handled in place; one
        // that runs past it is gathered into `buf` first.
        let chunk = reader.fill_buf().map_err(err)?;
        if chunk.is_empty() {
            return Ok(Next::End);
        }
        if let Some(i) = memchr::memchr(b'\n', chunk) {
            self.line_no += 1;
            let document = self.ctx.whole_line(&chunk[..=i], self.line_no, opts);
            let next = match document {
                true => Next::Document(chunk[..=i].to_vec(), self.line_no),
                false => Next::Line,
            };
            reader.consume(i + 1);
            return Ok(next);
        }
        self.buf.clear();
        let keep = opts.keep();
        let long = read_line(reader, &mut self.buf, opts.max_line, keep).map_err(err)?;
        if long.bytes == 0 {
            return Ok(Next::End);
        }
        self.line_no += 1;
        if long.bytes > opts.max_line {
            self.ctx.long_line(&self.buf, &long, self.line_no, keep);
            return Ok(Next::Line);
        }
        if self.ctx.line(&self.buf, self.line_no) {
            return Ok(Next::Document(self.buf.clone(), self.line_no));
        }
        Ok(Next::Line)
    }
}

/// The rest of a file whose first line opened a document, read whole (up
/// to the document limit) after `doc`, the text read so far.
fn read_document(
    reader: &mut impl Read,
    mut doc: Vec<u8>,
    line: usize,
    opts: &Options,
    dec: &mut Decoder<'_>,
) -> Result<(), ReadError> {
    let limit = opts.max_document as u64;
    reader
        .take(limit + 1)
        .read_to_end(&mut doc)
        .map_err(|e| ReadError { line, error: e })?;
    if doc.len() as u64 > limit {
        (dec.on_problem)(Problem::TooLong {
            line,
            bytes: doc.len(),
            limit: opts.max_document,
        });
        return Ok(());
    }
    dec.values(&doc, line);
    Ok(())
}

/// Handles a block of whole lines (each ending in a newline), the first
/// numbered `first_line`, as [`read_with`] handles them in a file after
/// its first line: what a worker of a parallel scan does with a block the
/// reader handed out ([`BlockSink`]).
pub fn read_block(text: &[u8], first_line: usize, opts: impl Into<Options>, h: Handlers<'_>) {
    let opts = opts.into();
    let (mut line, mut dec) = Decoder::of(h, opts.source);
    let mut ctx = LineCtx {
        format: opts.format,
        max_line: opts.max_line,
        first: None,
        on_line: &mut line,
        dec: &mut dec,
    };
    let (mut start, mut line_no) = (0, first_line);
    for end in memchr::memchr_iter(b'\n', text) {
        // Not a first line: never the start of a document.
        ctx.whole_line(&text[start..=end], line_no, &opts);
        (start, line_no) = (end + 1, line_no + 1);
    }
    // A block ends in a newline; bytes after the last one are a line too.
    if start < text.len() {
        ctx.whole_line(&text[start..], line_no, &opts);
    }
}

/// An I/O failure after `line` lines.
#[derive(Debug)]
pub struct ReadError {
    pub line: usize,
    pub error: std::io::Error,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (after {} lines)", self.error, self.line)
    }
}

/// What handling one JSON line needs.
struct LineCtx<'c, 'h> {
    format: Format,
    max_line: usize,
    /// The file's first non-blank byte.
    first: Option<u8>,
    on_line: &'c mut Option<LineHook<'h>>,
    dec: &'c mut Decoder<'h>,
}

impl LineCtx<'_, '_> {
    /// A line longer than the line limit: a document if it starts one and
    /// was kept whole (up to `keep`), else skipped and reported.
    fn long_line(&mut self, raw: &[u8], long: &Long, line_no: usize, keep: usize) {
        let document = long.document && self.format != Format::JsonLines && keep > self.max_line;
        if document && !long.cut {
            return self.dec.values(trim(raw), line_no);
        }
        // The limit it passed: the document limit for what may be one.
        let limit = if document { keep } else { self.max_line };
        (self.dec.on_problem)(Problem::TooLong {
            line: line_no,
            bytes: long.bytes,
            limit,
        });
    }

    /// Handles one line read whole, `raw` with its newline: within the
    /// line limit as a line, past it as [`LineCtx::long_line`]; `true` when
    /// the file turns out to be one pretty-printed document.
    fn whole_line(&mut self, raw: &[u8], line_no: usize, opts: &Options) -> bool {
        if raw.len() > self.max_line {
            let text = raw.strip_suffix(b"\n").unwrap_or(raw);
            let first = text.iter().copied().find(|b| !b.is_ascii_whitespace());
            let keep = opts.keep();
            let long = Long::new(raw.len(), keep, first);
            self.long_line(raw, &long, line_no, keep);
            return false;
        }
        self.line(raw.strip_suffix(b"\n").unwrap_or(raw), line_no)
    }

    /// Handles one line; `true` when the file turns out to be one
    /// pretty-printed document (its first line is an incomplete value).
    fn line(&mut self, raw: &[u8], line_no: usize) -> bool {
        let text = trim(raw);
        if text.is_empty() {
            return false;
        }
        if self.format != Format::Document {
            if let Some(fast) = self.on_line.as_mut() {
                if fast(text, line_no) {
                    return false;
                }
            }
        }
        if let Some(e) = self.dec.line(text, line_no) {
            let document = self.format == Format::Document
                || (self.format == Format::Auto
                    && line_no == 1
                    && matches!(self.first, Some(b'{' | b'['))
                    && e.is_eof());
            if document {
                return true;
            }
            (self.dec.on_problem)(Problem::Malformed {
                line: line_no,
                error: e.to_string(),
            });
        }
        false
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Reads one line into `buf`, keeping at most `line_limit` bytes, or
/// `keep` if it starts a JSON object or array; returns the line's full
/// length and whether it was cut.
fn read_line(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    line_limit: usize,
    keep: usize,
) -> std::io::Result<Long> {
    let mut total = 0;
    let mut limit = keep;
    let mut first = None;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(Long::new(total, limit, first));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if first.is_none() {
            first = chunk[..take]
                .iter()
                .copied()
                .find(|b| !b.is_ascii_whitespace());
        }
        // Past the line limit only what may be a document is kept.
        if total + take > line_limit && !matches!(first, Some(b'{' | b'[')) {
            limit = limit.min(line_limit);
        }
        if total + take <= limit {
            buf.extend_from_slice(&chunk[..take]);
        } else {
            buf.clear();
        }
        total += take;
        r.consume(take);
        if done {
            return Ok(Long::new(total, limit, first));
        }
    }
}

/// A line as [`read_line`] read it.
struct Long {
    /// Its length.
    bytes: usize,
    /// Longer than what was kept of it.
    cut: bool,
    /// It starts a JSON object or array.
    document: bool,
}

impl Long {
    fn new(bytes: usize, limit: usize, first: Option<u8>) -> Long {
        Long {
            bytes,
            cut: bytes > limit,
            document: matches!(first, Some(b'{' | b'[')),
        }
    }
}

/// Unwraps documents and wrappings down to events and names their
/// source, reporting what is none.
struct Decoder<'h> {
    /// The source every event is taken as (`--source`).
    source: Option<&'static str>,
    /// The fast path offered each CloudTrail record first.
    on_record: Option<LineHook<'h>>,
    on_event: &'h mut dyn FnMut(Event),
    on_problem: &'h mut dyn FnMut(Problem),
}

/// Decodes one JSON line in full, as a line the fast path declined: its
/// events (a wrapping expanded) to `on_event`, a line that is not JSON to
/// `on_problem`. What [`read_with`] does with such a line, except that a
/// first line that opens a pretty-printed document is not detected: the
/// caller offers only lines that are complete values or not documents.
pub fn decode_line(
    text: &[u8],
    line: usize,
    source: Option<&'static str>,
    on_event: &mut dyn FnMut(Event),
    on_problem: &mut dyn FnMut(Problem),
) {
    let mut dec = Decoder {
        source,
        on_record: None,
        on_event,
        on_problem,
    };
    if let Some(e) = dec.line(text, line) {
        (dec.on_problem)(Problem::Malformed {
            line,
            error: e.to_string(),
        });
    }
}

/// Decodes one record of a CloudTrail `Records` document in full (given
/// as its text), as a record the `record` hook of [`Handlers`] declined.
pub fn decode_record(
    text: &[u8],
    line: usize,
    source: Option<&'static str>,
    on_event: &mut dyn FnMut(Event),
    on_problem: &mut dyn FnMut(Problem),
) {
    let mut dec = Decoder {
        source,
        on_record: None,
        on_event,
        on_problem,
    };
    dec.record(text, line);
}

/// Whether a file's first line (trimmed) opens a JSON document that runs
/// past it (a pretty-printed object or array): then the file is read as
/// one document, not as lines.
pub fn opens_document(first_line: &[u8]) -> bool {
    matches!(first_line.first(), Some(b'{' | b'['))
        && serde_json::from_slice::<IgnoredAny>(first_line).is_err_and(|e| e.is_eof())
}

impl<'h> Decoder<'h> {
    /// The decoder of `h`'s callbacks, and its line hook.
    fn of(h: Handlers<'h>, source: Option<&'static str>) -> (Option<LineHook<'h>>, Decoder<'h>) {
        let dec = Decoder {
            source,
            on_record: h.record,
            on_event: h.event,
            on_problem: h.problem,
        };
        (h.line, dec)
    }

    /// One record of a `Records` array, as written: offered to the fast
    /// path if it is one line, else (or if declined) decoded in full.
    fn record(&mut self, text: &[u8], line: usize) {
        if let Some(hook) = self.on_record.as_mut() {
            if !text.contains(&b'\n') && hook(text, line) {
                return;
            }
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(v) => self.expand(v, line, Via::CloudtrailRecords, 1),
            Err(e) => (self.on_problem)(Problem::Malformed {
                line,
                error: e.to_string(),
            }),
        }
    }

    /// One JSON line: its events, or the error that made it no JSON value.
    fn line(&mut self, text: &[u8], line: usize) -> Option<serde_json::Error> {
        // A CloudTrail `Records` document on one line: streamed, so that
        // its records are offered to the fast path one by one.
        if self.on_record.is_some() && names_records(text) {
            return match serde_json::from_slice::<IgnoredAny>(text) {
                Err(e) if !e.to_string().starts_with("trailing characters") => Some(e),
                _ => {
                    self.values(text, line);
                    None
                }
            };
        }
        match serde_json::from_slice::<Value>(text) {
            Ok(v) => self.expand(v, line, Via::Raw, 0),
            // Values back to back on one line (`cat` of files without a
            // final newline).
            Err(e) if e.to_string().starts_with("trailing characters") => self.values(text, line),
            Err(e) => return Some(e),
        }
        None
    }

    /// JSON values one after another from line `line` on: a pretty-printed
    /// document, several (`jq .` output, `cat a.json b.json`), or values
    /// back to back on one line. Each is read as it ends, at the line it
    /// starts on; the first error ends the reading, as nothing after it
    /// can be trusted to start a value.
    fn values(&mut self, bytes: &[u8], line: usize) {
        // Where each value ends, found by skipping (nothing is built); each
        // is then read for its events, a `Records` array record by record.
        let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<IgnoredAny>();
        // Lines counted up to `counted`, as the stream moves on.
        let (mut counted, mut at) = (0, line);
        loop {
            let start = stream.byte_offset();
            let begins = start
                + bytes[start..]
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())
                    .unwrap_or(bytes.len() - start);
            at += memchr::memchr_iter(b'\n', &bytes[counted..begins]).count();
            counted = begins;
            // An error's line counts from the start of what was parsed.
            let (error, from) = match stream.next() {
                None => return,
                Some(Ok(_)) => {
                    let value = &bytes[begins..stream.byte_offset()];
                    let mut de = serde_json::Deserializer::from_slice(value);
                    let top = document::Top {
                        dec: &mut *self,
                        line: at,
                    };
                    match serde::de::DeserializeSeed::deserialize(top, &mut de) {
                        Ok(()) => continue,
                        Err(e) => (e, at),
                    }
                }
                Some(Err(e)) => (e, line),
            };
            let unread = bytes.len() - begins;
            return (self.on_problem)(Problem::Malformed {
                line: from + error.line().saturating_sub(1),
                error: format!("{error}; the {unread} bytes from line {at} on were not read"),
            });
        }
    }

    fn unknown(&mut self, line: usize, hint: String) {
        (self.on_problem)(Problem::UnknownShape { line, hint })
    }

    /// Unwraps documents and wrappings down to events.
    fn expand(&mut self, v: Value, line: usize, via: Via, depth: usize) {
        if depth > MAX_WRAP {
            return self.unknown(line, "wrapped too deeply".into());
        }
        let mut m = match v {
            Value::Array(items) => return self.each(items, line, via, depth),
            Value::Object(m) => m,
            other => return self.unknown(line, format!("a JSON {}", kind(&other))),
        };
        if let Some(Value::Array(records)) = m.remove("Records") {
            return self.each(records, line, Via::CloudtrailRecords, depth);
        }
        if m.get("kind").and_then(Value::as_str) == Some("EventList") {
            if let Some(Value::Array(items)) = m.remove("items") {
                return self.each(items, line, Via::EventList, depth);
            }
        }
        // CloudWatch Logs: FilterLogEvents output (`events`) and the
        // subscription DATA_MESSAGE (`logEvents`) hold JSON messages.
        for key in ["logEvents", "events"] {
            let messages = |items: &Vec<Value>| {
                items
                    .iter()
                    .all(|i| i.get("message").is_some_and(Value::is_string))
            };
            if let Some(Value::Array(items)) =
                m.get(key).filter(|v| v.as_array().is_some_and(messages))
            {
                for item in items {
                    let msg = item
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let parsed = serde_json::from_str::<Value>(msg).map_err(|e| e.to_string());
                    self.wrapped(
                        parsed,
                        "CloudWatch message",
                        line,
                        Via::EksCloudwatch,
                        depth,
                    );
                }
                return;
            }
        }
        // A Lambda subscription event: base64(gzip(DATA_MESSAGE)).
        if let Some(data) = m
            .get("awslogs")
            .and_then(|a| a.get("data"))
            .and_then(Value::as_str)
        {
            let parsed = unpack_awslogs(data);
            return self.wrapped(parsed, "awslogs.data", line, Via::EksCloudwatch, depth);
        }
        // A Pub/Sub message: a push request's body, or an element of
        // `gcloud pubsub subscriptions pull --format=json`; a Cloud Logging
        // sink publishes one LogEntry per message, base64 in `data`.
        if let Some(data) = pubsub_data(&m) {
            let parsed = unpack_pubsub(data);
            return self.wrapped(parsed, "message.data", line, Via::Pubsub, depth);
        }
        // Azure Monitor: a `records` array (Event Hubs, storage exports) of
        // diagnostic records, or one record.
        if let Some(Value::Array(records)) = m.get("records") {
            if records
                .iter()
                .all(|r| r.as_object().is_some_and(aks::is_record))
            {
                let Some(Value::Array(records)) = m.remove("records") else {
                    return;
                };
                return self.each(records, line, Via::Aks, depth);
            }
        }
        if aks::is_record(&m) {
            return match aks::audit_event(&m) {
                Ok(inner) => self.wrapped(inner, "properties.log", line, Via::Aks, depth),
                Err(hint) => self.unknown(line, hint),
            };
        }
        self.classify(Value::Object(m), line, via, depth)
    }

    /// The elements of a wrapping's array, one level deeper.
    fn each(&mut self, items: Vec<Value>, line: usize, via: Via, depth: usize) {
        for item in items {
            self.expand(item, line, via, depth + 1);
        }
    }

    /// An event unwrapped from a wrapping that holds it as a string, or
    /// why it is not one.
    fn wrapped(
        &mut self,
        parsed: Result<Value, String>,
        what: &str,
        line: usize,
        via: Via,
        depth: usize,
    ) {
        match parsed {
            Ok(inner) => self.expand(inner, line, via, depth + 1),
            Err(e) => (self.on_problem)(Problem::Malformed {
                line,
                error: format!("{what}: {e}"),
            }),
        }
    }

    /// Names the source of one object, or says why it has none.
    fn classify(&mut self, v: Value, line: usize, via: Via, depth: usize) {
        let gke = gke::is_gke_k8s(&v);
        if gke && self.source.is_none_or(|s| s == "k8s.audit") {
            let value = gke::to_audit_event(&v);
            return (self.on_event)(Event {
                source: "k8s.audit",
                value,
                original: Some(v),
                line,
                via: Via::Gke,
            });
        }
        if let Some(source) = self.source.or_else(|| source_of(&v)) {
            return (self.on_event)(Event {
                source,
                value: v,
                original: None,
                line,
                via,
            });
        }
        let Value::Object(m) = v else {
            return self.unknown(line, format!("a JSON {}", kind(&v)));
        };
        // Log shippers (Fluent Bit, Fluentd, Vector, syslog relays) keep
        // the line they read as a string.
        if let Some((key, inner)) = embedded(&m) {
            let parsed = serde_json::from_str::<Value>(inner).map_err(|e| e.to_string());
            return self.wrapped(parsed, key, line, Via::Embedded, depth);
        }
        let hint = match m.get("protoPayload") {
            Some(p) => {
                let service = p.get("serviceName").and_then(Value::as_str);
                let method = p.get("methodName").and_then(Value::as_str);
                format!(
                    "a Cloud Audit Log entry of {} ({})? gcp.audit needs a string \
                     protoPayload.methodName, and protoPayload.serviceName, logName or insertId",
                    service.unwrap_or("no serviceName"),
                    method.unwrap_or("no methodName"),
                )
            }
            None => detect::why_unknown(&m),
        };
        self.unknown(line, hint)
    }
}

/// A string member, `log` or `message`, that holds a JSON object.
fn embedded(m: &serde_json::Map<String, Value>) -> Option<(&'static str, &str)> {
    ["log", "message"].into_iter().find_map(|key| {
        let s = m.get(key)?.as_str()?;
        s.trim_start().starts_with('{').then_some((key, s))
    })
}

/// The `data` of a Pub/Sub message, when `m` is one (a `message` object
/// with a string `data` and the message's id or publish time). The
/// webhook takes a push request's body by the same test.
pub fn pubsub_data(m: &serde_json::Map<String, Value>) -> Option<&str> {
    let msg = m.get("message")?.as_object()?;
    let ids = ["messageId", "message_id", "publishTime", "publish_time"];
    ids.iter().any(|k| msg.contains_key(*k)).then_some(())?;
    msg.get("data")?.as_str()
}

fn unpack_pubsub(data: &str) -> Result<Value, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

fn unpack_awslogs(data: &str) -> Result<Value, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| e.to_string())?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .take(MAX_DOCUMENT as u64)
        .read_to_end(&mut json)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&json).map_err(|e| e.to_string())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_names_are_their_serialised_form() {
        for via in Via::ALL {
            let json = serde_json::to_string(&via).unwrap();
            assert_eq!(json, format!("\"{}\"", via.name()));
        }
    }

    /// Events and problems of `text` read with `opts`.
    fn decode(text: &[u8], opts: impl Into<Options>) -> (Vec<Event>, Vec<Problem>) {
        let (mut events, mut problems) = (Vec::new(), Vec::new());
        let read = read(text, opts, &mut |e| events.push(e), &mut |p| {
            problems.push(p)
        });
        assert!(read.is_ok());
        (events, problems)
    }

    /// Pub/Sub messages of a Cloud Logging sink: a push request's body,
    /// and `gcloud pubsub subscriptions pull --format=json` output.
    #[test]
    fn pubsub_messages_hold_log_entries() {
        use base64::Engine;
        let b64 = |v: &Value| base64::engine::general_purpose::STANDARD.encode(v.to_string());
        let gke_op = serde_json::json!({"insertId": "a", "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
            "protoPayload": {"serviceName": "container.googleapis.com",
                             "methodName": "google.container.v1.ClusterManager.DeleteCluster"}});
        let k8s = serde_json::json!({"insertId": "b", "timestamp": "2024-01-01T00:00:00Z",
            "protoPayload": {"serviceName": "k8s.io", "methodName": "io.k8s.core.v1.pods.create",
                             "resourceName": "core/v1/namespaces/default/pods/web",
                             "authenticationInfo": {"principalEmail": "alice@example.com"}}});
        let push = serde_json::json!({"message": {"data": b64(&gke_op), "messageId": "1",
            "publishTime": "2024-01-01T00:00:00Z", "attributes": {}},
            "subscription": "projects/p/subscriptions/ward"});
        let pull = serde_json::json!([
            {"ackId": "x", "message": {"data": b64(&k8s), "message_id": "2"}},
            {"ackId": "y", "message": {"data": "%%% not base64", "message_id": "3"}}
        ]);
        let text = format!("{push}\n{pull}\n");
        let (events, problems) = decode(text.as_bytes(), Format::Auto);
        let got: Vec<_> = events.iter().map(|e| (e.line, e.source, e.via)).collect();
        assert_eq!(
            got,
            [(1, "gcp.audit", Via::Pubsub), (2, "k8s.audit", Via::Gke)]
        );
        assert_eq!(events[1].value["user"]["username"], "alice@example.com");
        assert_eq!(problems.len(), 1, "{problems:?}");
        let Problem::Malformed { line, error } = &problems[0] else {
            panic!("{problems:?}")
        };
        assert_eq!(*line, 2);
        assert!(error.starts_with("message.data: not base64"), "{error}");
        // A `message` object without an id or a publish time is not one.
        let other = r#"{"message": {"data": "e30="}}"#;
        let (events, problems) = decode(other.as_bytes(), Format::Auto);
        assert!(events.is_empty());
        assert!(
            matches!(problems[..], [Problem::UnknownShape { .. }]),
            "{problems:?}"
        );
    }

    const AUDIT: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","requestURI":"/api","user":{"username":"u"}}"#;

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let text = [
            b"\xEF\xBB\xBF".as_slice(),
            AUDIT.as_bytes(),
            b"\r\n",
            AUDIT.as_bytes(),
        ]
        .concat();
        let (events, problems) = decode(&text, Format::Auto);
        assert_eq!((events.len(), problems), (2, vec![]));
        assert_eq!(events[0].line, 1);
        // Before a pretty-printed document too.
        let doc = "\u{feff}{\n\"Records\": [{\"eventSource\": \"s\", \"eventName\": \"n\", \"awsRegion\": \"r\"}]\n}\n";
        let (events, problems) = decode(doc.as_bytes(), Format::Auto);
        assert_eq!((events.len(), problems), (1, vec![]));
        assert_eq!(events[0].via, Via::CloudtrailRecords);
    }

    #[test]
    fn aks_records_one_per_line_and_in_an_array() {
        let record = serde_json::json!({"category": "kube-audit", "properties": {"log": AUDIT}});
        let other = serde_json::json!({"category": "guard", "properties": {"log": "x"}});
        let text = format!(
            "{record}\n{}\n",
            serde_json::json!({"records": [record, other]})
        );
        let (events, problems) = decode(text.as_bytes(), Format::Auto);
        let vias: Vec<_> = events.iter().map(|e| (e.source, e.via, e.line)).collect();
        assert_eq!(
            vias,
            [("k8s.audit", Via::Aks, 1), ("k8s.audit", Via::Aks, 2)]
        );
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].to_string().contains("category guard"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn events_a_log_shipper_kept_as_a_string() {
        let line = serde_json::json!({"log": format!("{AUDIT}\n"), "stream": "stdout"});
        let (events, problems) = decode(line.to_string().as_bytes(), Format::Auto);
        assert_eq!(problems, vec![]);
        assert_eq!(
            (events[0].source, events[0].via),
            ("k8s.audit", Via::Embedded)
        );
        let bad = serde_json::json!({"message": "{not json"});
        let (_, problems) = decode(bad.to_string().as_bytes(), Format::Auto);
        assert!(
            matches!(problems[..], [Problem::Malformed { line: 1, .. }]),
            "{problems:?}"
        );
        // A string that does not look like JSON is not a wrapping.
        let plain = serde_json::json!({"message": "GET /healthz 200"});
        let (_, problems) = decode(plain.to_string().as_bytes(), Format::Auto);
        assert!(matches!(
            problems[..],
            [Problem::UnknownShape { line: 1, .. }]
        ));
    }

    /// `jq .` output: one pretty-printed event after another.
    #[test]
    fn pretty_printed_values_one_after_another() {
        let one: Value = serde_json::from_str(AUDIT).unwrap_or_default();
        let pretty = serde_json::to_string_pretty(&one).unwrap_or_default();
        let lines = pretty.lines().count();
        let text = format!("{pretty}\n{pretty}\n\n{pretty}\n");
        let (events, problems) = decode(text.as_bytes(), Format::Auto);
        assert_eq!(problems, vec![]);
        let at: Vec<usize> = events.iter().map(|e| e.line).collect();
        assert_eq!(at, [1, 1 + lines, 2 + 2 * lines]);
        // A broken one ends the reading, and says where and how much.
        let text = format!("{pretty}\n{{\"kind\": oops}}\n{pretty}\n");
        let (events, problems) = decode(text.as_bytes(), Format::Auto);
        assert_eq!(events.len(), 1);
        let [Problem::Malformed { line, error }] = &problems[..] else {
            panic!("{problems:?}");
        };
        assert_eq!(*line, lines + 1);
        assert!(error.contains("bytes from line"), "{error}");
    }

    /// `cat a.json b.json` of files without a final newline: documents
    /// back to back, on one line or pretty-printed.
    #[test]
    fn documents_back_to_back() {
        let doc = r#"{"Records":[{"eventSource":"s","eventName":"n","awsRegion":"r"}]}"#;
        let (events, problems) = decode(format!("{doc}{doc}\n{doc}").as_bytes(), Format::Auto);
        assert_eq!(problems, vec![]);
        let at: Vec<usize> = events.iter().map(|e| e.line).collect();
        assert_eq!(at, [1, 1, 2]);
        let pretty = "{\n \"Records\": [\n  {\"eventSource\": \"s\", \"eventName\": \"n\", \"awsRegion\": \"r\"}\n ]\n}";
        let (events, problems) = decode(format!("{pretty}{pretty}").as_bytes(), Format::Auto);
        assert_eq!(problems, vec![]);
        let at: Vec<usize> = events.iter().map(|e| e.line).collect();
        assert_eq!(at, [1, 5]);
    }

    /// A CloudTrail file written as one line longer than the line limit is
    /// a document, read record by record; past the document limit, or not
    /// a document, a long line is skipped and reported with its limit.
    #[test]
    fn a_line_past_the_line_limit_is_a_document() {
        let record = r#"{"eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","requestParameters":{"key":"PADDING"}}"#;
        let records: Vec<String> = (0..50)
            .map(|i| record.replace("PADDING", &"x".repeat(i * 10)))
            .collect();
        let doc = format!("{{\"Records\":[{}]}}", records.join(","));
        let text = format!("{doc}\n{AUDIT}\n{doc}\n");
        let opts = Options {
            max_line: 1000,
            ..Format::Auto.into()
        };
        let (events, problems) = decode(text.as_bytes(), opts);
        assert_eq!(problems, vec![]);
        let lines: Vec<(usize, Via)> = events.iter().map(|e| (e.line, e.via)).collect();
        assert_eq!(lines.len(), 101);
        assert_eq!(lines[0], (1, Via::CloudtrailRecords));
        assert_eq!(lines[50], (2, Via::Raw));
        assert_eq!(lines[100], (3, Via::CloudtrailRecords));
        // Records in order, each whole.
        assert_eq!(
            events[49].value["requestParameters"]["key"],
            "x".repeat(490)
        );

        let small = Options {
            max_line: 1000,
            max_document: 2000,
            ..Format::Auto.into()
        };
        let (events, problems) = decode(text.as_bytes(), small);
        assert_eq!(events.len(), 1);
        assert_eq!(
            problems.iter().map(Problem::line).collect::<Vec<_>>(),
            [1, 3]
        );
        assert!(
            problems[0].to_string().contains("longer than 2000"),
            "{}",
            problems[0]
        );
        // Forced JSON lines: the line limit holds.
        let lines_only = Options {
            max_line: 1000,
            ..Format::JsonLines.into()
        };
        let (events, problems) = decode(text.as_bytes(), lines_only);
        assert_eq!((events.len(), problems.len()), (1, 2));
        assert!(problems[0].to_string().contains("longer than 1000"));
    }

    /// A `Records` document's other keys, and a `Records` that is not an
    /// array, are as before: the other keys hold no event; a non-array
    /// leaves an object of no known source.
    #[test]
    fn records_streamed_as_the_tree_reads_them() {
        let (events, problems) = decode(
            br#"{"x": 1, "Records": [{"eventSource":"s","eventName":"n","awsRegion":"r"}], "y": [1]}"#,
            Format::Document,
        );
        assert_eq!((events.len(), problems), (1, vec![]));
        let (events, problems) = decode(br#"{"Records": {"a": 1}}"#, Format::Document);
        assert_eq!(events.len(), 0);
        assert!(matches!(
            problems[..],
            [Problem::UnknownShape { line: 1, .. }]
        ));
    }

    #[test]
    fn a_forced_source_names_every_event() {
        let odd = r#"{"who":"alice","what":"get"}"#;
        let (_, problems) = decode(odd.as_bytes(), Format::Auto);
        assert_eq!(problems.len(), 1);
        let opts = Options {
            source: Some("k8s.audit"),
            ..Format::Auto.into()
        };
        let wrapped = format!("{odd}\n{{\"Records\":[{odd}]}}\n");
        let (events, problems) = decode(wrapped.as_bytes(), opts);
        assert_eq!(problems, vec![]);
        let got: Vec<_> = events.iter().map(|e| (e.source, e.via)).collect();
        assert_eq!(
            got,
            [
                ("k8s.audit", Via::Raw),
                ("k8s.audit", Via::CloudtrailRecords)
            ]
        );
    }
}

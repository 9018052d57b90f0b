//! Decoding: bytes in the formats users have (JSON lines, gzip, JSON
//! documents: CloudTrail `Records`, audit `EventList`, the three EKS
//! CloudWatch Logs wrappings, GKE LogEntries) to events of a known source.
//!
//! Bad input never stops a stream: each malformed line, over-long line or
//! event of unknown shape is reported with its line and reading goes on.
//! Memory is bounded by [`MAX_LINE`] per line and [`MAX_DOCUMENT`] per
//! whole-file document.

pub mod gke;

use std::io::{BufRead, Read};

use base64::Engine as _;
use serde_json::Value;
use ward_compiler::doc::Doc;

/// Longest JSON line accepted; longer lines are skipped and reported.
pub const MAX_LINE: usize = 16 << 20;
/// Largest file read as one JSON document (a pretty-printed `Records` file).
pub const MAX_DOCUMENT: usize = 256 << 20;
/// Deepest wrapping followed (a CloudWatch message holding a document...).
const MAX_WRAP: usize = 4;

/// How an event reached us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    Raw,
    EventList,
    CloudtrailRecords,
    EksCloudwatch,
    Gke,
}

/// One decoded event.
#[derive(Clone, Debug)]
pub struct Event {
    /// The schema it fits: `k8s.audit`, `aws.cloudtrail`, ...
    pub source: &'static str,
    /// In the canonical shape of its source.
    pub value: Value,
    /// The event as it arrived, when `value` was mapped from it (GKE).
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
    /// Longer than [`MAX_LINE`].
    TooLong { line: usize, bytes: usize },
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
            Problem::TooLong { line, bytes } => write!(
                f,
                "line {line}: {bytes} bytes, longer than {MAX_LINE}; skipped"
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

/// A fast path offered each JSON line: (bytes, line number) -> handled?
pub type LineHook<'h> = &'h mut dyn FnMut(&[u8], usize) -> bool;

/// The callbacks of [`read`].
pub struct Handlers<'h> {
    /// Offered each JSON line first (bytes, line number); returns whether it
    /// handled the line. Lines it declines are decoded in full.
    pub line: Option<LineHook<'h>>,
    pub event: &'h mut dyn FnMut(Event),
    pub problem: &'h mut dyn FnMut(Problem),
}

/// Reads a whole stream, calling `on_event` for each event and `on_problem`
/// for each bad line. An error is an I/O failure (a truncated gzip, a read
/// error); it says how many lines were read before it.
pub fn read(
    input: impl Read,
    format: Format,
    on_event: &mut dyn FnMut(Event),
    on_problem: &mut dyn FnMut(Problem),
) -> Result<(), ReadError> {
    read_with(
        input,
        format,
        Handlers {
            line: None,
            event: on_event,
            problem: on_problem,
        },
    )
}

/// [`read`] with a fast path for JSON lines.
pub fn read_with(input: impl Read, format: Format, h: Handlers<'_>) -> Result<(), ReadError> {
    let Handlers {
        mut line,
        event,
        problem,
    } = h;
    read_dyn(Box::new(input), format, &mut line, event, problem)
}

fn read_dyn(
    input: Box<dyn Read + '_>,
    format: Format,
    on_line: &mut Option<LineHook<'_>>,
    on_event: &mut dyn FnMut(Event),
    on_problem: &mut dyn FnMut(Problem),
) -> Result<(), ReadError> {
    let mut reader = std::io::BufReader::with_capacity(1 << 16, input);
    let head = reader
        .fill_buf()
        .map_err(|e| ReadError { line: 0, error: e })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::read::MultiGzDecoder::new(reader);
        return read_dyn(Box::new(gz), format, on_line, on_event, on_problem);
    }
    let first = head.iter().copied().find(|b| !b.is_ascii_whitespace());
    let mut line_no = 0;
    let mut buf = Vec::new();
    let mut first_line: Option<(Vec<u8>, usize)> = None;
    let mut ctx = LineCtx {
        format,
        first,
        on_line,
        on_event,
        on_problem,
    };
    loop {
        let err = |line_no, e| ReadError {
            line: line_no,
            error: e,
        };
        // A line wholly inside the reader's buffer is handled in place; one
        // that runs past it is gathered into `buf` first.
        let chunk = reader.fill_buf().map_err(|e| err(line_no, e))?;
        if chunk.is_empty() {
            break;
        }
        if let Some(i) = memchr::memchr(b'\n', chunk) {
            line_no += 1;
            if ctx.line(&chunk[..i], line_no) {
                first_line = Some((chunk[..=i].to_vec(), line_no));
                reader.consume(i + 1);
                break;
            }
            reader.consume(i + 1);
            continue;
        }
        buf.clear();
        let (n, too_long) = read_line(&mut reader, &mut buf).map_err(|e| err(line_no, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if too_long {
            (ctx.on_problem)(Problem::TooLong {
                line: line_no,
                bytes: n,
            });
            continue;
        }
        if ctx.line(&buf, line_no) {
            first_line = Some((buf.clone(), line_no));
            break;
        }
    }
    let LineCtx {
        on_event,
        on_problem,
        ..
    } = ctx;
    if let Some((mut doc, line)) = first_line {
        (&mut reader)
            .take(MAX_DOCUMENT as u64)
            .read_to_end(&mut doc)
            .map_err(|e| ReadError { line, error: e })?;
        match serde_json::from_slice::<Value>(&doc) {
            Ok(v) => expand(v, line, Via::Raw, 0, on_event, on_problem),
            Err(e) => on_problem(Problem::Malformed {
                line: e.line().max(1),
                error: e.to_string(),
            }),
        }
    }
    Ok(())
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
    /// The file's first non-blank byte.
    first: Option<u8>,
    on_line: &'c mut Option<LineHook<'h>>,
    on_event: &'c mut dyn FnMut(Event),
    on_problem: &'c mut dyn FnMut(Problem),
}

impl LineCtx<'_, '_> {
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
        match serde_json::from_slice::<Value>(text) {
            Ok(v) => expand(v, line_no, Via::Raw, 0, self.on_event, self.on_problem),
            Err(e) => {
                let document = self.format == Format::Document
                    || (self.format == Format::Auto
                        && line_no == 1
                        && matches!(self.first, Some(b'{' | b'['))
                        && e.is_eof());
                if document {
                    return true;
                }
                (self.on_problem)(Problem::Malformed {
                    line: line_no,
                    error: e.to_string(),
                });
            }
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

/// Reads one line into `buf`, keeping at most [`MAX_LINE`] bytes; returns
/// the line's full length and whether it was cut.
fn read_line(r: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<(usize, bool)> {
    let mut total = 0;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((total, total > MAX_LINE));
        }
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        if total + take <= MAX_LINE {
            buf.extend_from_slice(&chunk[..take]);
        } else {
            buf.clear();
        }
        total += take;
        r.consume(take);
        if done {
            return Ok((total, total > MAX_LINE));
        }
    }
}

/// Unwraps documents and wrappings down to events.
fn expand(
    v: Value,
    line: usize,
    via: Via,
    depth: usize,
    on_event: &mut dyn FnMut(Event),
    on_problem: &mut dyn FnMut(Problem),
) {
    if depth > MAX_WRAP {
        on_problem(Problem::UnknownShape {
            line,
            hint: "wrapped too deeply".into(),
        });
        return;
    }
    let each = |items: Vec<Value>,
                via: Via,
                on_event: &mut dyn FnMut(Event),
                on_problem: &mut dyn FnMut(Problem)| {
        for item in items {
            expand(item, line, via, depth + 1, on_event, on_problem);
        }
    };
    match v {
        Value::Array(items) => each(items, via, on_event, on_problem),
        Value::Object(mut m) => {
            if let Some(Value::Array(records)) = m.remove("Records") {
                return each(records, Via::CloudtrailRecords, on_event, on_problem);
            }
            if m.get("kind").and_then(Value::as_str) == Some("EventList") {
                if let Some(Value::Array(items)) = m.remove("items") {
                    return each(items, Via::EventList, on_event, on_problem);
                }
            }
            // CloudWatch Logs: FilterLogEvents output (`events`) and the
            // subscription DATA_MESSAGE (`logEvents`) hold JSON messages.
            for key in ["logEvents", "events"] {
                if let Some(Value::Array(items)) = m.get(key) {
                    if items
                        .iter()
                        .all(|i| i.get("message").is_some_and(Value::is_string))
                    {
                        let Some(Value::Array(items)) = m.remove(key) else {
                            return;
                        };
                        for item in items {
                            let msg = item
                                .get("message")
                                .and_then(Value::as_str)
                                .unwrap_or_default();
                            let parsed =
                                serde_json::from_str::<Value>(msg).map_err(|e| e.to_string());
                            wrapped(
                                parsed,
                                "CloudWatch message",
                                line,
                                depth,
                                on_event,
                                on_problem,
                            );
                        }
                        return;
                    }
                }
            }
            // A Lambda subscription event: base64(gzip(DATA_MESSAGE)).
            if let Some(data) = m
                .get("awslogs")
                .and_then(|a| a.get("data"))
                .and_then(Value::as_str)
            {
                wrapped(
                    unpack_awslogs(data),
                    "awslogs.data",
                    line,
                    depth,
                    on_event,
                    on_problem,
                );
                return;
            }
            classify(Value::Object(m), line, via, on_event, on_problem);
        }
        other => on_problem(Problem::UnknownShape {
            line,
            hint: format!("a JSON {}", kind(&other)),
        }),
    }
}

/// An event unwrapped from a CloudWatch Logs delivery, or why it is not one.
fn wrapped(
    parsed: Result<Value, String>,
    what: &str,
    line: usize,
    depth: usize,
    on_event: &mut dyn FnMut(Event),
    on_problem: &mut dyn FnMut(Problem),
) {
    match parsed {
        Ok(inner) => expand(
            inner,
            line,
            Via::EksCloudwatch,
            depth + 1,
            on_event,
            on_problem,
        ),
        Err(e) => on_problem(Problem::Malformed {
            line,
            error: format!("{what}: {e}"),
        }),
    }
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

/// The fields [`source_of`] reads to name an event's source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Detect {
    Kind,
    ApiVersion,
    ApiGroup,
    EventSource,
    EventName,
    EventVersion,
    AwsRegion,
    Qname,
    Qtype,
    Type,
    Count,
    StartTime,
    EndTime,
    Action,
    Reporter,
    SourceNameAggr,
    DestNameAggr,
    SourceIp,
    DestIp,
}

impl Detect {
    pub const ALL: [Detect; 19] = [
        Detect::Kind,
        Detect::ApiVersion,
        Detect::ApiGroup,
        Detect::EventSource,
        Detect::EventName,
        Detect::EventVersion,
        Detect::AwsRegion,
        Detect::Qname,
        Detect::Qtype,
        Detect::Type,
        Detect::Count,
        Detect::StartTime,
        Detect::EndTime,
        Detect::Action,
        Detect::Reporter,
        Detect::SourceNameAggr,
        Detect::DestNameAggr,
        Detect::SourceIp,
        Detect::DestIp,
    ];

    /// The field's keys from the event's root.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            Detect::Kind => &["kind"],
            Detect::ApiVersion => &["apiVersion"],
            Detect::ApiGroup => &["objectRef", "apiGroup"],
            Detect::EventSource => &["eventSource"],
            Detect::EventName => &["eventName"],
            Detect::EventVersion => &["eventVersion"],
            Detect::AwsRegion => &["awsRegion"],
            Detect::Qname => &["qname"],
            Detect::Qtype => &["qtype"],
            Detect::Type => &["type"],
            Detect::Count => &["count"],
            Detect::StartTime => &["start_time"],
            Detect::EndTime => &["end_time"],
            Detect::Action => &["action"],
            Detect::Reporter => &["reporter"],
            Detect::SourceNameAggr => &["source_name_aggr"],
            Detect::DestNameAggr => &["dest_name_aggr"],
            Detect::SourceIp => &["source_ip"],
            Detect::DestIp => &["dest_ip"],
        }
    }
}

/// Names the source of a single event, by the fields only it has.
pub fn source_of<'a, D: Doc<'a>>(v: D) -> Option<&'static str> {
    source_by(|d| d.path().iter().try_fold(v, |v, k| v.key(k)))
}

/// [`source_of`], with `field` finding each field it reads in the event.
pub fn source_by<'a, D: Doc<'a>>(field: impl Fn(Detect) -> Option<D>) -> Option<&'static str> {
    use Detect::*;
    let has = |d| field(d).is_some();
    let s = |d| field(d).and_then(|x| x.as_str());
    if s(Kind) == Some("Event") && s(ApiVersion).is_some_and(|a| a.starts_with("audit.k8s.io/")) {
        let calico = s(ApiGroup) == Some("projectcalico.org");
        return Some(if calico { "calico.audit" } else { "k8s.audit" });
    }
    if has(EventSource) && has(EventName) && (has(EventVersion) || has(AwsRegion)) {
        return Some("aws.cloudtrail");
    }
    if has(Qname) && has(Qtype) {
        return Some("calico.dns");
    }
    // The record Calico writes when the per-node limit dropped DNS detail:
    // only the interval, the host and how many responses went unlogged.
    if s(Type) == Some("UNLOGGED") && has(Count) && has(StartTime) && has(EndTime) {
        return Some("calico.dns");
    }
    let flow_ends = has(SourceNameAggr) || has(DestNameAggr) || has(SourceIp) || has(DestIp);
    if has(Action) && (has(Reporter) || (has(StartTime) && has(EndTime))) && flow_ends {
        return Some("calico.flow");
    }
    None
}

fn classify(
    v: Value,
    line: usize,
    via: Via,
    on_event: &mut dyn FnMut(Event),
    on_problem: &mut dyn FnMut(Problem),
) {
    if gke::is_gke_k8s(&v) {
        let value = gke::to_audit_event(&v);
        return on_event(Event {
            source: "k8s.audit",
            value,
            original: Some(v),
            line,
            via: Via::Gke,
        });
    }
    match source_of(&v) {
        Some(source) => on_event(Event {
            source,
            value: v,
            original: None,
            line,
            via,
        }),
        None if v.pointer("/protoPayload/serviceName").is_some() => {
            let service = v
                .pointer("/protoPayload/serviceName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            on_problem(Problem::UnknownShape {
                line,
                hint: format!(
                    "a Cloud Audit Log entry of {service}; only k8s.io entries map to k8s.audit"
                ),
            })
        }
        None => {
            let keys: Vec<&str> = v
                .as_object()
                .map(|m| m.keys().take(5).map(String::as_str).collect())
                .unwrap_or_default();
            on_problem(Problem::UnknownShape {
                line,
                hint: format!("keys: {}", keys.join(", ")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Detect::ALL` lists each field once, at its own index (the matcher
    /// keeps the fields' paths by that index).
    #[test]
    fn detection_fields_are_listed_by_their_index() {
        for (i, d) in Detect::ALL.iter().enumerate() {
            assert_eq!(*d as usize, i, "{d:?}");
        }
        let paths: std::collections::BTreeSet<_> = Detect::ALL.iter().map(|d| d.path()).collect();
        assert_eq!(paths.len(), Detect::ALL.len());
    }
}

//! The `ward serve` configuration file (YAML; spec/serve.md).
//!
//! Every key is known: a misspelt one is an error that names its path
//! (`webhook.auth.bearer_token: unknown field ...`), never a default
//! silently taken instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// As `ward scan --rules`: files and directories layered in order,
    /// `bundled` naming the bundled library [default: the bundled library].
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// The Kubernetes audit webhook; optional when `inputs` has another.
    #[serde(default)]
    pub webhook: Option<Webhook>,
    /// Files followed, syslog listeners, stdin.
    #[serde(default)]
    pub inputs: Inputs,
    /// Where the followed files' checkpoints are kept
    /// (`DATA_DIR/checkpoints.json`); required with `inputs.files`.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub queue: Queue,
    #[serde(default)]
    pub sinks: Sinks,
    #[serde(default)]
    pub alerts: Alerts,
    #[serde(default)]
    pub state: State,
    #[serde(default)]
    pub metrics: Option<Metrics>,
    #[serde(default)]
    pub reload: Reload,
    #[serde(default)]
    pub log: Log,
}

/// The server's own log lines on stderr.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// `text` (`ward serve: ...`) or `json` (one object a line).
    #[serde(default)]
    pub format: super::log::Format,
}

/// The Kubernetes audit webhook input.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `0.0.0.0:8443`; port 0 takes a free port (printed at start).
    pub listen: SocketAddr,
    /// The path the API server posts to.
    #[serde(default = "default_path")]
    pub path: String,
    pub tls: Tls,
    pub auth: Auth,
    /// Largest request body accepted; a larger one is answered 413.
    #[serde(default = "default_max_body", deserialize_with = "size")]
    pub max_body_bytes: usize,
}

fn default_path() -> String {
    "/audit".into()
}

fn default_max_body() -> usize {
    16 << 20
}

/// The inputs besides the webhook.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    #[serde(default)]
    pub files: Vec<FileInput>,
    #[serde(default)]
    pub syslog: Vec<SyslogInput>,
    #[serde(default, deserialize_with = "stdin")]
    pub stdin: Option<StdinInput>,
}

/// Files followed as `tail -F` does.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileInput {
    /// A path; its file name may be a glob (`*`, `?`, `[a-z]`).
    pub path: PathBuf,
    #[serde(default)]
    pub format: InputFormat,
    /// Every event taken as one of this source (as `ward scan --source`).
    #[serde(default)]
    pub source: Option<Source>,
    /// Where a file with no checkpoint starts, if it is there at start
    /// (a file that appears later is read from its beginning).
    #[serde(default)]
    pub start_at: StartAt,
}

/// As `ward scan --input-format`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// JSON lines, each one an event or a wrapping of events on one line;
    /// a gzip file is read whole once.
    #[default]
    Auto,
    /// JSON lines.
    Jsonl,
    /// Each file one JSON document, read whole once.
    Document,
}

impl InputFormat {
    pub fn decode(self) -> crate::decode::Format {
        match self {
            InputFormat::Auto => crate::decode::Format::Auto,
            InputFormat::Jsonl => crate::decode::Format::JsonLines,
            InputFormat::Document => crate::decode::Format::Document,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    #[default]
    Beginning,
    End,
}

/// A syslog listener (RFC 6587 over TCP, RFC 5425 over TLS, RFC 5426
/// over UDP).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogInput {
    /// The input's name in alerts and metrics [default: `syslog:LISTEN`,
    /// `syslog-udp:LISTEN` over UDP].
    #[serde(default)]
    pub name: Option<String>,
    pub listen: SocketAddr,
    /// `tcp` (with or without `tls`) or `udp`: a message a datagram.
    #[serde(default)]
    pub protocol: Protocol,
    /// UDP only: the socket's receive buffer (SO_RCVBUF), which holds
    /// the datagrams that arrive while the queue is full; the kernel caps
    /// it at `net.core.rmem_max` [default: the kernel's].
    #[serde(default, deserialize_with = "some_size")]
    pub receive_buffer_bytes: Option<usize>,
    #[serde(default)]
    pub tls: Option<SyslogTls>,
    /// Longest message; a longer frame is reported and skipped.
    #[serde(default = "default_max_message", deserialize_with = "size")]
    pub max_message_bytes: usize,
    #[serde(default)]
    pub source: Option<Source>,
}

fn default_max_message() -> usize {
    1 << 20
}

/// The transport of a syslog listener.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl SyslogInput {
    /// The input's name.
    pub fn input_name(&self) -> String {
        let kind = match self.protocol {
            Protocol::Tcp => "syslog",
            Protocol::Udp => "syslog-udp",
        };
        (self.name.clone()).unwrap_or_else(|| format!("{kind}:{}", self.listen))
    }
}

/// The syslog listener's certificate, and the client certificates it takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// PEM file of the CAs whose client certificates are accepted.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Refuse a client without a certificate (needs `client_ca`).
    #[serde(default)]
    pub require_client_cert: bool,
}

/// Lines of stdin.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinInput {
    #[serde(default)]
    pub format: InputFormat,
    #[serde(default)]
    pub source: Option<Source>,
}

/// `stdin: true`, `stdin: false` or `stdin: {format, source}`.
fn stdin<'de, D: Deserializer<'de>>(d: D) -> Result<Option<StdinInput>, D::Error> {
    struct Visit;
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Option<StdinInput>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("true, false or a map of format and source")
        }
        fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Self::Value, E> {
            Ok(on.then(StdinInput::default))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let de = serde::de::value::MapAccessDeserializer::new(map);
            StdinInput::deserialize(de).map(Some)
        }
    }
    d.deserialize_any(Visit)
}

/// A bundled source's name (as `ward scan --source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source(pub &'static str);

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Source, D::Error> {
        let name = String::deserialize(d)?;
        crate::decode::source_named(&name)
            .map(Source)
            .ok_or_else(|| {
                let names: Vec<&str> = ward_compiler::schema::bundled().names().collect();
                serde::de::Error::custom(format!(
                    "unknown source `{name}`; the sources are {}",
                    names.join(", ")
                ))
            })
    }
}

/// PEM files of the server's certificate chain and private key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Who may post events: any one of these is enough.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    #[serde(default)]
    pub bearer_tokens: Vec<String>,
    /// A file of tokens, one per line (blank lines and `#` comments
    /// skipped), read at start.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// PEM file of the CAs whose client certificates are accepted.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// The client certificates allowed to post, by a subject common name
    /// or DNS subject alternative name; empty: every certificate
    /// `client_ca` verifies. Another verified certificate gets 403.
    #[serde(default)]
    pub client_names: Vec<String>,
    /// Also accept a bearer token as the `token` query parameter
    /// (`POST /audit?token=...`), for clients that cannot set a header:
    /// a Pub/Sub push subscription's endpoint URL.
    #[serde(default)]
    pub query_token: bool,
}

/// The queue between the webhook and the matching thread.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// Events waiting at most; a request that would go past it is
    /// answered 429 with Retry-After.
    #[serde(default = "default_max_events")]
    pub max_events: usize,
    /// Seconds the 429's Retry-After asks the client to wait.
    #[serde(default = "default_retry_after")]
    pub retry_after_secs: u32,
}

fn default_max_events() -> usize {
    100_000
}

fn default_retry_after() -> u32 {
    1
}

impl Default for Queue {
    fn default() -> Queue {
        Queue {
            max_events: default_max_events(),
            retry_after_secs: default_retry_after(),
        }
    }
}

/// Where alerts go: stdout, a file, HTTP endpoints, syslog servers. With
/// none of them, stdout.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sinks {
    #[serde(default)]
    pub stdout: Option<bool>,
    #[serde(default)]
    pub file: Option<FileSink>,
    #[serde(default)]
    pub http: Vec<HttpSink>,
    #[serde(default)]
    pub syslog: Vec<SyslogSink>,
    /// Where the network sinks keep what they have not delivered.
    #[serde(default)]
    pub spool: Option<Spool>,
    #[serde(default)]
    pub retry: Retry,
    /// At a stop, how long the network sinks may go on delivering what
    /// is spooled before the process exits (the rest stays spooled).
    #[serde(default = "default_drain", deserialize_with = "duration")]
    pub drain_timeout: u64,
}

fn default_drain() -> u64 {
    10_000
}

/// A file appended to, rotated by size.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSink {
    pub path: PathBuf,
    /// Size past which the file is rotated (`PATH.1`, `PATH.2`, ...);
    /// 0 never rotates.
    #[serde(default = "default_rotate", deserialize_with = "size_or_zero")]
    pub max_bytes: usize,
    /// Rotated files kept.
    #[serde(default = "default_keep")]
    pub keep: usize,
}

/// Alerts POSTed in batches to an HTTP endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSink {
    /// Names the spool directory and the metrics' `sink` label.
    pub name: String,
    /// `http://` or `https://`, with the path posted to.
    pub url: String,
    #[serde(default)]
    pub format: HttpFormat,
    /// Sent as `Authorization: Bearer TOKEN` (json) or `Splunk TOKEN`
    /// (splunk_hec).
    #[serde(default)]
    pub token: Option<String>,
    /// A file holding the token (read at start, trimmed).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Extra request headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub tls: Option<ClientTls>,
    /// The `host` of Splunk HEC events [default: this machine's name].
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default = "default_batch_alerts")]
    pub batch_max_alerts: usize,
    #[serde(default = "default_batch_bytes", deserialize_with = "size")]
    pub batch_max_bytes: usize,
    /// For one attempt: connecting, sending and the response.
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpFormat {
    /// The alert lines as they are, `application/x-ndjson`.
    #[default]
    Json,
    /// Splunk HTTP Event Collector events, concatenated.
    SplunkHec,
}

/// Alerts as RFC 5424 messages to a syslog server over TCP or TLS.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSink {
    pub name: String,
    /// `HOST:PORT`.
    pub address: String,
    /// TLS (RFC 5425) when given.
    #[serde(default)]
    pub tls: Option<ClientTls>,
    #[serde(default)]
    pub framing: Framing,
    #[serde(default)]
    pub facility: Facility,
    /// HOSTNAME of the messages [default: this machine's name].
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default = "default_batch_alerts")]
    pub batch_max_alerts: usize,
    #[serde(default = "default_batch_bytes", deserialize_with = "size")]
    pub batch_max_bytes: usize,
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: u64,
}

/// How syslog messages are delimited on the stream (RFC 6587).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// `LENGTH SP MESSAGE`, as RFC 5425 requires over TLS.
    #[default]
    OctetCounting,
    /// `MESSAGE LF`.
    Newline,
}

/// The syslog facility of the messages.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Facility {
    Kern,
    User,
    Mail,
    Daemon,
    Auth,
    Syslog,
    Lpr,
    News,
    Uucp,
    Cron,
    Authpriv,
    Ftp,
    Ntp,
    Security,
    Console,
    Solaris,
    #[default]
    Local0,
    Local1,
    Local2,
    Local3,
    Local4,
    Local5,
    Local6,
    Local7,
}

impl Facility {
    /// Its RFC 5424 code (0 to 23).
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A TLS client's trust and identity.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTls {
    /// PEM file of the CAs trusted [default: the system's roots].
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// The name the server's certificate must show [default: the host].
    #[serde(default)]
    pub server_name: Option<String>,
    /// A client certificate chain and key (PEM), for servers that ask.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
}

fn default_batch_alerts() -> usize {
    500
}

fn default_batch_bytes() -> usize {
    1 << 20
}

fn default_timeout() -> u64 {
    10_000
}

/// The network sinks' disk spool: a directory per sink under `dir`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spool {
    pub dir: PathBuf,
    /// Per sink: bytes not yet delivered at most; past it the matching
    /// thread waits.
    #[serde(default = "default_spool_bytes", deserialize_with = "size")]
    pub max_bytes: usize,
}

fn default_spool_bytes() -> usize {
    1 << 30
}

/// Backoff between attempts: `initial`, doubled after each failure up to
/// `max`, each wait drawn at random between half of it and all of it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    #[serde(default = "default_initial", deserialize_with = "duration")]
    pub initial: u64,
    #[serde(default = "default_max_backoff", deserialize_with = "duration")]
    pub max: u64,
}

fn default_initial() -> u64 {
    500
}

fn default_max_backoff() -> u64 {
    30_000
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            initial: default_initial(),
            max: default_max_backoff(),
        }
    }
}

impl Sinks {
    /// Checks what the types cannot: unique names, URLs, addresses.
    fn check(&self, format: AlertFormat) -> Result<(), String> {
        let mut names = std::collections::BTreeSet::new();
        let http = self.http.iter().enumerate().map(|(i, h)| {
            let batch = (h.batch_max_alerts, h.timeout);
            (format!("sinks.http[{i}]"), &h.name, batch)
        });
        let syslog = self.syslog.iter().enumerate().map(|(i, s)| {
            let batch = (s.batch_max_alerts, s.timeout);
            (format!("sinks.syslog[{i}]"), &s.name, batch)
        });
        for (at, name, (batch, timeout)) in http.chain(syslog) {
            let fine = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
            if name.is_empty() || !name.chars().all(fine) || name.starts_with('.') {
                return Err(format!(
                    "{at}.name: `{name}` must be letters, digits, `-`, `_` or `.` (it names a directory)"
                ));
            }
            if !names.insert(name) {
                return Err(format!("{at}.name: `{name}` names another sink too"));
            }
            if batch == 0 {
                return Err(format!("{at}.batch_max_alerts: must be at least 1"));
            }
            if timeout == 0 {
                return Err(format!("{at}.timeout: must be above 0"));
            }
            if format == AlertFormat::Text {
                return Err(format!(
                    "{at}: network sinks send JSON alerts; set alerts.format: json"
                ));
            }
            if self.spool.is_none() {
                return Err(format!(
                    "sinks.spool: required by {at} (`{name}`): undelivered alerts are kept there"
                ));
            }
        }
        for (i, h) in self.http.iter().enumerate() {
            let at = format!("sinks.http[{i}]");
            let url = parse_url(&h.url).map_err(|e| format!("{at}.url: {e}"))?;
            if h.tls.is_some() && url.scheme_str() != Some("https") {
                return Err(format!("{at}.tls: given for a URL that is not https"));
            }
            if h.token.is_some() && h.token_file.is_some() {
                return Err(format!("{at}: give token or token_file, not both"));
            }
            for (k, v) in &h.headers {
                let name = axum::http::HeaderName::from_bytes(k.as_bytes())
                    .map_err(|e| format!("{at}.headers.{k}: {e}"))?;
                axum::http::HeaderValue::from_str(v)
                    .map_err(|e| format!("{at}.headers.{k}: {e}"))?;
                let token = h.token.is_some() || h.token_file.is_some();
                let own = name == axum::http::header::CONTENT_TYPE
                    || (token && name == axum::http::header::AUTHORIZATION);
                if own {
                    return Err(format!("{at}.headers.{k}: set by the sink itself"));
                }
            }
            check_tls(&at, h.tls.as_ref())?;
        }
        for (i, s) in self.syslog.iter().enumerate() {
            let at = format!("sinks.syslog[{i}]");
            split_address(&s.address).map_err(|e| format!("{at}.address: {e}"))?;
            check_tls(&at, s.tls.as_ref())?;
        }
        if self.retry.initial == 0 || self.retry.initial > self.retry.max {
            return Err("sinks.retry: initial must be above 0 and at most max".into());
        }
        Ok(())
    }
}

fn check_tls(at: &str, tls: Option<&ClientTls>) -> Result<(), String> {
    match tls {
        Some(t) if t.cert.is_some() != t.key.is_some() => Err(format!(
            "{at}.tls: a client certificate needs both cert and key"
        )),
        _ => Ok(()),
    }
}

/// An `http://` or `https://` URL with a host.
pub fn parse_url(text: &str) -> Result<axum::http::Uri, String> {
    let url: axum::http::Uri = text.parse().map_err(|e| format!("`{text}`: {e}"))?;
    if !matches!(url.scheme_str(), Some("http" | "https")) {
        return Err(format!("`{text}` is not an http:// or https:// URL"));
    }
    if url.host().is_none_or(str::is_empty) {
        return Err(format!("`{text}` has no host"));
    }
    Ok(url)
}

/// `HOST:PORT` (an IPv6 host in brackets) as host and port.
pub fn split_address(text: &str) -> Result<(String, u16), String> {
    let (host, port) =
        (text.rsplit_once(':')).ok_or_else(|| format!("`{text}` is not HOST:PORT"))?;
    let port = port
        .parse()
        .map_err(|_| format!("`{text}`: `{port}` is not a port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("`{text}` has no host"));
    }
    Ok((host.to_string(), port))
}

fn default_rotate() -> usize {
    100 << 20
}

fn default_keep() -> usize {
    5
}

/// How alerts are written (as `ward scan --format`, `--no-event`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    #[serde(default)]
    pub format: AlertFormat,
    /// Include the event in each alert.
    #[serde(default = "yes")]
    pub event: bool,
}

impl Default for Alerts {
    fn default() -> Alerts {
        Alerts {
            format: AlertFormat::Json,
            event: true,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertFormat {
    #[default]
    Json,
    Text,
}

/// Stateful rules, as `ward scan`'s options of the same names.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[serde(default = "default_lateness", deserialize_with = "duration")]
    pub lateness: u64,
    #[serde(default)]
    pub time: TimeMode,
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
    #[serde(default = "default_max_held", deserialize_with = "size")]
    pub max_held_bytes: usize,
    /// [default: the lateness]
    #[serde(default, deserialize_with = "some_duration")]
    pub max_idle: Option<u64>,
    /// Where the stateful windows are kept across restarts [default:
    /// nowhere; a stop closes them].
    #[serde(default)]
    pub snapshot: Option<Snapshot>,
}

/// The stateful windows, written to a file on an interval and at a stop,
/// read back at start (spec/serve.md, "State across restarts").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub path: PathBuf,
    /// Between snapshots while running; 0: only at a stop.
    #[serde(default = "default_snapshot_interval", deserialize_with = "duration")]
    pub interval: u64,
}

fn default_snapshot_interval() -> u64 {
    30_000
}

/// Reloading the rules: always on SIGHUP; with `watch`, also when a rule
/// file changes (checked every `interval`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reload {
    #[serde(default)]
    pub watch: bool,
    #[serde(default = "default_watch_interval", deserialize_with = "duration")]
    pub interval: u64,
}

fn default_watch_interval() -> u64 {
    5_000
}

impl Default for Reload {
    fn default() -> Reload {
        Reload {
            watch: false,
            interval: default_watch_interval(),
        }
    }
}

fn default_lateness() -> u64 {
    5 * 60 * 1000
}

fn default_max_keys() -> usize {
    crate::state::DEFAULT_MAX_KEYS
}

fn default_max_held() -> usize {
    crate::state::DEFAULT_MAX_HELD_BYTES
}

impl Default for State {
    fn default() -> State {
        State {
            lateness: default_lateness(),
            time: TimeMode::Event,
            max_keys: default_max_keys(),
            max_held_bytes: default_max_held(),
            max_idle: None,
            snapshot: None,
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeMode {
    #[default]
    Event,
    Processing,
}

impl State {
    /// The stateful operators' configuration.
    pub fn config(&self) -> crate::state::Config {
        crate::state::Config {
            lateness_ns: i64::try_from(self.lateness)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000),
            max_keys: self.max_keys.max(1),
            processing_time: self.time == TimeMode::Processing,
            max_held_bytes: self.max_held_bytes,
            max_idle: std::time::Duration::from_millis(self.max_idle.unwrap_or(self.lateness)),
        }
    }
}

/// A plain-HTTP listener for `/metrics`, `/healthz` and `/readyz`, for
/// Prometheus and probes on a private address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metrics {
    pub listen: SocketAddr,
}

impl Webhook {
    fn check(&self) -> Result<(), String> {
        let auth = &self.auth;
        if auth.bearer_tokens.is_empty() && auth.token_file.is_none() && auth.client_ca.is_none() {
            return Err(
                "webhook.auth: no credentials configured; give bearer_tokens, \
                        token_file or client_ca (the webhook never accepts anonymous posts)"
                    .into(),
            );
        }
        if auth.bearer_tokens.iter().any(|t| t.trim().is_empty()) {
            return Err("webhook.auth.bearer_tokens: a token is empty".into());
        }
        if auth.query_token && auth.bearer_tokens.is_empty() && auth.token_file.is_none() {
            return Err("webhook.auth.query_token: needs bearer_tokens or token_file (the tokens it accepts)".into());
        }
        if !auth.client_names.is_empty() && auth.client_ca.is_none() {
            return Err("webhook.auth.client_names: needs client_ca (the names are read from client certificates it verifies)".into());
        }
        if !self.path.starts_with('/') {
            return Err(format!("webhook.path: `{}` must start with /", self.path));
        }
        Ok(())
    }
}

impl Inputs {
    /// At least one input; what the types cannot say.
    fn check(&self, webhook: bool, data_dir: bool) -> Result<(), String> {
        if !webhook && self.files.is_empty() && self.syslog.is_empty() && self.stdin.is_none() {
            return Err("no input configured: give webhook, or inputs with files, \
                 syslog or stdin"
                .into());
        }
        if !self.files.is_empty() && !data_dir {
            return Err(
                "data_dir: required by inputs.files (the files' checkpoints are kept there)".into(),
            );
        }
        for (i, f) in self.files.iter().enumerate() {
            let name = f.path.file_name().and_then(|n| n.to_str());
            if name.is_none_or(str::is_empty) {
                return Err(format!(
                    "inputs.files[{i}].path: `{}` names no file",
                    f.path.display()
                ));
            }
            let parent = f
                .path
                .parent()
                .map(|p| p.to_string_lossy())
                .unwrap_or_default();
            if parent.contains(['*', '?', '[']) {
                return Err(format!(
                    "inputs.files[{i}].path: `{}`: only the file name may be a glob",
                    f.path.display()
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, s) in self.syslog.iter().enumerate() {
            if !names.insert(s.input_name()) {
                return Err(format!(
                    "inputs.syslog[{i}]: `{}` names another syslog input too",
                    s.input_name()
                ));
            }
            if s.receive_buffer_bytes.is_some() && s.protocol != Protocol::Udp {
                return Err(format!(
                    "inputs.syslog[{i}].receive_buffer_bytes: only with protocol udp"
                ));
            }
            if s.tls.is_some() && s.protocol == Protocol::Udp {
                return Err(format!(
                    "inputs.syslog[{i}].tls: not over udp (TLS needs a stream: protocol tcp)"
                ));
            }
            if let Some(t) = &s.tls {
                if t.require_client_cert && t.client_ca.is_none() {
                    return Err(format!(
                        "inputs.syslog[{i}].tls.require_client_cert: needs client_ca"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Reads and checks the file at `path`.
pub fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses a configuration; an error names the path of the bad key.
pub fn parse(text: &str) -> Result<Config, String> {
    let de = serde_yaml::Deserializer::from_str(text);
    let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // The YAML parser names a path too, of the key or of its map.
        let own = message
            .split_once(": ")
            .filter(|(head, _)| path == *head || path.starts_with(&format!("{head}.")));
        let message = own.map_or(message.as_str(), |(_, rest)| rest);
        match path.as_str() {
            "." | "" => message.to_string(),
            _ => format!("{path}: {message}"),
        }
    })?;
    if let Some(webhook) = &config.webhook {
        webhook.check()?;
    }
    config
        .inputs
        .check(config.webhook.is_some(), config.data_dir.is_some())?;
    if config.queue.max_events == 0 {
        return Err("queue.max_events: must be at least 1".into());
    }
    config.sinks.check(config.alerts.format)?;
    if config.reload.watch && config.reload.interval == 0 {
        return Err("reload.interval: must be above 0".into());
    }
    Ok(config)
}

/// A size as `16MiB`, `512KiB` or a number of bytes.
#[derive(Deserialize)]
#[serde(untagged)]
enum SizeText {
    Bytes(u64),
    Text(String),
}

fn size<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match SizeText::deserialize(d)? {
        SizeText::Bytes(0) => Err(serde::de::Error::custom("a size must be above 0")),
        SizeText::Bytes(n) => usize::try_from(n).map_err(serde::de::Error::custom),
        SizeText::Text(t) => crate::cli::parse_size(&t).map_err(serde::de::Error::custom),
    }
}

fn some_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    size(d).map(Some)
}

fn size_or_zero<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match SizeText::deserialize(d)? {
        SizeText::Bytes(n) => usize::try_from(n).map_err(serde::de::Error::custom),
        SizeText::Text(t) if t.trim() == "0" => Ok(0),
        SizeText::Text(t) => crate::cli::parse_size(&t).map_err(serde::de::Error::custom),
    }
}

/// A duration as rules write it (`30s`, `5m`), in milliseconds.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match SizeText::deserialize(d)? {
        SizeText::Bytes(0) => Ok(0),
        SizeText::Bytes(n) => Err(serde::de::Error::custom(format!(
            "`{n}` has no unit; write a duration such as 30s, 5m or 1h"
        ))),
        SizeText::Text(t) => crate::cli::parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

fn some_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    duration(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "webhook:\n  listen: 127.0.0.1:0\n  tls: {cert: c.pem, key: k.pem}\n  auth: {bearer_tokens: [t]}\n";

    #[test]
    fn minimal_takes_defaults() {
        let c = parse(MINIMAL).unwrap();
        let webhook = c.webhook.as_ref().unwrap();
        assert_eq!(webhook.path, "/audit");
        assert_eq!(webhook.max_body_bytes, 16 << 20);
        assert_eq!(c.queue.max_events, 100_000);
        assert_eq!(c.state.config().lateness_ns, 300_000_000_000);
        assert!(c.rules.is_empty() && c.metrics.is_none());
    }

    #[test]
    fn unknown_key_names_its_path() {
        let text = MINIMAL.replace("bearer_tokens", "bearer_token");
        let e = parse(&text).unwrap_err();
        assert!(
            e.starts_with("webhook.auth.bearer_token: unknown field"),
            "{e}"
        );
    }

    #[test]
    fn bad_size_and_duration_name_their_path() {
        let e = parse(&format!("{MINIMAL}state: {{lateness: 5}}\n")).unwrap_err();
        assert!(e.starts_with("state.lateness: `5` has no unit"), "{e}");
        let text = MINIMAL.replace("auth:", "max_body_bytes: 3XB\n  auth:");
        let e = parse(&text).unwrap_err();
        assert!(
            e.starts_with("webhook.max_body_bytes: unknown size unit"),
            "{e}"
        );
    }

    #[test]
    fn anonymous_webhook_is_refused() {
        let e = parse(&MINIMAL.replace("{bearer_tokens: [t]}", "{}")).unwrap_err();
        assert!(e.contains("no credentials"), "{e}");
    }

    const NETWORK: &str = "sinks:\n  http:\n    - {name: siem, url: 'https://siem:8088/services/collector/event', format: splunk_hec, token: t}\n  syslog:\n    - {name: qradar, address: 'siem:6514', facility: local3, tls: {ca: ca.pem}}\n  spool: {dir: /tmp/spool, max_bytes: 1MiB}\n  retry: {initial: 100ms, max: 2s}\n";

    #[test]
    fn network_sinks_take_defaults() {
        let c = parse(&format!("{MINIMAL}{NETWORK}")).unwrap();
        let http = &c.sinks.http[0];
        assert_eq!(http.format, HttpFormat::SplunkHec);
        assert_eq!((http.batch_max_alerts, http.timeout), (500, 10_000));
        let syslog = &c.sinks.syslog[0];
        assert_eq!(syslog.framing, Framing::OctetCounting);
        assert_eq!(syslog.facility.code(), 19);
        assert_eq!((c.sinks.retry.initial, c.sinks.retry.max), (100, 2000));
        assert_eq!(c.sinks.spool.unwrap().max_bytes, 1 << 20);
        assert_eq!(c.sinks.drain_timeout, 10_000);
    }

    #[test]
    fn network_sinks_are_checked() {
        let bad = |from: &str, to: &str| {
            let text = format!("{MINIMAL}{NETWORK}").replace(from, to);
            parse(&text).unwrap_err()
        };
        let cases = [
            (
                "name: qradar",
                "name: siem",
                "sinks.syslog[0].name: `siem` names another sink too",
            ),
            (
                "name: siem",
                "name: ../x",
                "sinks.http[0].name: `../x` must be",
            ),
            (
                "'https://siem:8088",
                "'ftp://siem:8088",
                "sinks.http[0].url: `ftp://",
            ),
            (
                "'siem:6514'",
                "'siem'",
                "sinks.syslog[0].address: `siem` is not HOST:PORT",
            ),
            (
                "  spool: {dir: /tmp/spool, max_bytes: 1MiB}\n",
                "",
                "sinks.spool: required by sinks.http[0]",
            ),
            (
                "local3",
                "local9",
                "sinks.syslog[0].facility: unknown variant `local9`",
            ),
            (
                "format: splunk_hec",
                "format: splunk",
                "sinks.http[0].format: unknown variant `splunk`",
            ),
            (
                "initial: 100ms",
                "initial: 5s",
                "sinks.retry: initial must be above 0 and at most max",
            ),
            (
                "{ca: ca.pem}",
                "{ca: ca.pem, cert: c.pem}",
                "sinks.syslog[0].tls: a client certificate needs both",
            ),
            (
                "token: t}",
                "token: t, headers: {Authorization: x}}",
                "sinks.http[0].headers.Authorization: set by the sink",
            ),
        ];
        for (from, to, want) in cases {
            let e = bad(from, to);
            assert!(e.starts_with(want), "{from} -> {to}: {e}");
        }
        let text = format!("{MINIMAL}{NETWORK}alerts: {{format: text}}\n");
        let e = parse(&text).unwrap_err();
        assert!(e.contains("network sinks send JSON alerts"), "{e}");
    }

    #[test]
    fn snapshot_and_reload_take_defaults() {
        let text = format!("{MINIMAL}state: {{snapshot: {{path: /var/lib/ward/state.json}}}}\nreload: {{watch: true}}\n");
        let c = parse(&text).unwrap();
        let snap = c.state.snapshot.unwrap();
        assert_eq!(
            (snap.path.to_str(), snap.interval),
            (Some("/var/lib/ward/state.json"), 30_000)
        );
        assert_eq!((c.reload.watch, c.reload.interval), (true, 5_000));
        let e = parse(&format!("{MINIMAL}state: {{snapshot: {{interval: 1m}}}}\n")).unwrap_err();
        assert!(e.starts_with("state.snapshot: missing field `path`"), "{e}");
    }

    /// The example of spec/serve.md is a valid config.
    #[test]
    fn the_documented_example_parses() {
        let spec = include_str!("../../../spec/serve.md");
        let from = spec.find("## Config").unwrap();
        let block = &spec[from..];
        let start = block.find("```yaml\n").unwrap() + "```yaml\n".len();
        let end = start + block[start..].find("```").unwrap();
        let c = parse(&block[start..end]).unwrap();
        assert_eq!(c.sinks.http[0].format, HttpFormat::SplunkHec);
        assert_eq!(c.sinks.syslog[0].framing, Framing::OctetCounting);
        assert_eq!(c.sinks.spool.as_ref().unwrap().max_bytes, 1 << 30);
        assert_eq!(c.sinks.file.unwrap().max_bytes, 100 << 20);
        assert_eq!(c.metrics.unwrap().listen.port(), 9090);
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.state.snapshot.unwrap().interval, 30_000);
        assert!(!c.reload.watch);
        assert_eq!(c.inputs.files[0].format, InputFormat::Auto);
        assert_eq!(c.inputs.files[1].start_at, StartAt::End);
        assert_eq!(c.inputs.syslog[0].input_name(), "syslog:0.0.0.0:6514");
        assert!(c.inputs.syslog[0].tls.is_some());
        assert!(c.inputs.stdin.is_none());
    }

    #[test]
    fn inputs_take_defaults_and_are_checked() {
        let text = "data_dir: /var/lib/ward\ninputs:\n  files: [{path: /var/log/k/*.log}]\n  syslog: [{listen: 127.0.0.1:514}]\n  stdin: true\n";
        let c = parse(text).unwrap();
        assert!(c.webhook.is_none());
        let f = &c.inputs.files[0];
        assert_eq!(
            (f.format, f.start_at, f.source),
            (InputFormat::Auto, StartAt::Beginning, None)
        );
        assert_eq!(c.inputs.syslog[0].max_message_bytes, 1 << 20);
        assert!(c.inputs.stdin.is_some());
        let c = parse("inputs: {stdin: {format: jsonl, source: k8s.audit}}\n").unwrap();
        let stdin = c.inputs.stdin.unwrap();
        assert_eq!(
            (stdin.format, stdin.source),
            (InputFormat::Jsonl, Some(Source("k8s.audit")))
        );
        let cases = [
            ("queue: {max_events: 5}\n", "no input configured"),
            ("inputs: {stdin: false}\n", "no input configured"),
            ("inputs: {files: [{path: /a.log}]}\n", "data_dir: required by inputs.files"),
            ("data_dir: /d\ninputs: {files: [{path: '/l*/a.log'}]}\n", "inputs.files[0].path: `/l*/a.log`: only the file name"),
            ("data_dir: /d\ninputs: {files: [{path: /a.log, start_at: middle}]}\n", "inputs.files[0].start_at: unknown variant `middle`"),
            ("inputs: {stdin: {source: k8s.audlt}}\n", "inputs.stdin.source: unknown source `k8s.audlt`"),
            ("inputs: {syslog: [{listen: 127.0.0.1:1, tls: {cert: c, key: k, require_client_cert: true}}]}\n", "inputs.syslog[0].tls.require_client_cert: needs client_ca"),
            ("webhook: {listen: 127.0.0.1:1, tls: {cert: c, key: k}, auth: {bearer_tokens: [t], client_names: [kube-apiserver]}}\n", "webhook.auth.client_names: needs client_ca"),
            ("webhook: {listen: 127.0.0.1:1, tls: {cert: c, key: k}, auth: {client_ca: ca.pem, query_token: true}}\n", "webhook.auth.query_token: needs bearer_tokens or token_file"),
            ("inputs: {syslog: [{listen: 127.0.0.1:1, framing: x}]}\n", "inputs.syslog[0].framing: unknown field `framing`"),
            ("inputs: {syslog: [{listen: 127.0.0.1:1, protocol: udp, tls: {cert: c, key: k}}]}\n", "inputs.syslog[0].tls: not over udp"),
            ("inputs: {syslog: [{listen: 127.0.0.1:1, receive_buffer_bytes: 8MiB}]}\n", "inputs.syslog[0].receive_buffer_bytes: only with protocol udp"),
            ("inputs: {syslog: [{listen: 127.0.0.1:1, protocol: sctp}]}\n", "inputs.syslog[0].protocol: unknown variant `sctp`"),
            ("inputs: {syslog: [{listen: 127.0.0.1:1}, {listen: 127.0.0.1:1, protocol: udp}, {listen: 127.0.0.1:1, protocol: udp}]}\n", "inputs.syslog[2]: `syslog-udp:127.0.0.1:1` names another syslog input too"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with(want), "{text}: {e}");
        }
    }
}

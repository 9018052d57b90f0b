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
    pub webhook: Webhook,
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

/// Where alerts go: stdout, a file, or both. With neither key, stdout.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sinks {
    #[serde(default)]
    pub stdout: Option<bool>,
    #[serde(default)]
    pub file: Option<FileSink>,
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
    let auth = &config.webhook.auth;
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
    if !config.webhook.path.starts_with('/') {
        return Err(format!(
            "webhook.path: `{}` must start with /",
            config.webhook.path
        ));
    }
    if config.queue.max_events == 0 {
        return Err("queue.max_events: must be at least 1".into());
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
        assert_eq!(c.webhook.path, "/audit");
        assert_eq!(c.webhook.max_body_bytes, 16 << 20);
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

    /// The example of spec/serve.md is a valid config.
    #[test]
    fn the_documented_example_parses() {
        let spec = include_str!("../../../spec/serve.md");
        let from = spec.find("## Config").unwrap();
        let block = &spec[from..];
        let start = block.find("```yaml\n").unwrap() + "```yaml\n".len();
        let end = start + block[start..].find("```").unwrap();
        let c = parse(&block[start..end]).unwrap();
        assert_eq!(c.sinks.file.unwrap().max_bytes, 100 << 20);
        assert_eq!(c.metrics.unwrap().listen.port(), 9090);
        assert_eq!(c.rules.len(), 2);
    }
}

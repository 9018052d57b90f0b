//! The server's log lines, on stderr: `ward serve: MESSAGE` for people,
//! or one JSON object a line for a log pipeline (`log.format: json`,
//! spec/serve.md "Logs").
//!
//! Every line has a level, an event name that does not change between
//! versions (`sink.retry`, `input.file.rotated`, ...), the message a
//! person reads, and the values the message names as their own fields
//! (`sink`, `path`, `alerts`, ...), so that a pipeline can alert on
//! `level == "error"` or count `event == "sink.retry"` without parsing
//! prose.
//!
//! The main thread holds `std::io::stderr()`'s lock for the whole run
//! (main.rs), so `eprintln!` from another thread would wait for ever:
//! lines go to a duplicate of file descriptor 2 instead, each in one
//! `write`, so that lines of different threads do not mix.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// `ward serve: MESSAGE`.
    #[default]
    Text,
    /// `{"time": ..., "level": ..., "event": ..., "msg": ..., FIELDS}`.
    Json,
}

/// How bad it is: `info` for what the server does as it should, `warn`
/// for what it recovers from (a retry, a line that is not an event),
/// `error` for what loses or may lose data or state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

static FORMAT: OnceLock<Format> = OnceLock::new();
static STDERR: OnceLock<Option<File>> = OnceLock::new();

/// Sets the format of every later line; the first call wins (the config
/// is read once). Lines written before it are text.
pub fn set_format(format: Format) {
    let _ = FORMAT.set(format);
}

/// The format in force.
pub fn format() -> Format {
    FORMAT.get().copied().unwrap_or_default()
}

/// Writes one line in the format in force; a failure to log is ignored
/// (there is nowhere left to report it). Use [`log!`].
pub fn emit(level: Level, event: &str, fields: &[(&str, Value)], msg: std::fmt::Arguments<'_>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let line = render(format(), now, level, event, fields, msg);
    let file = STDERR.get_or_init(|| {
        let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
        Some(File::from(fd))
    });
    if let Some(mut f) = file.as_ref() {
        let _ = f.write_all(line.as_bytes());
    }
}

/// One line with its newline. In JSON the time has millisecond
/// precision; a field named like one of the four fixed keys is written
/// as `field.NAME` so that no key repeats.
pub fn render(
    format: Format,
    now_ns: i64,
    level: Level,
    event: &str,
    fields: &[(&str, Value)],
    msg: std::fmt::Arguments<'_>,
) -> String {
    match format {
        Format::Text => format!("ward serve: {msg}\n"),
        Format::Json => {
            let quote = |s: &str| Value::from(s).to_string();
            let ms = now_ns - now_ns.rem_euclid(1_000_000);
            let mut line = format!(
                "{{\"time\":\"{}\",\"level\":\"{}\",\"event\":{},\"msg\":{}",
                crate::state::rfc3339(ms),
                level.name(),
                quote(event),
                quote(&msg.to_string()),
            );
            for (key, value) in fields {
                let key = match *key {
                    "time" | "level" | "event" | "msg" => format!("field.{key}"),
                    k => k.to_string(),
                };
                let _ = write!(line, ",{}:{value}", quote(&key));
            }
            line.push_str("}\n");
            line
        }
    }
}

/// `log!(Warn, "sink.retry", {sink: name, attempt: n}, "sink {name}: ...")`:
/// a line with its level, event name, fields (any `serde_json::Value`
/// conversion) and message.
macro_rules! log {
    ($level:ident, $event:literal, { $($key:ident : $value:expr),* $(,)? }, $($msg:tt)+) => {
        $crate::serve::log::emit(
            $crate::serve::log::Level::$level,
            $event,
            &[$((stringify!($key), ::serde_json::Value::from($value))),*],
            format_args!($($msg)+),
        )
    };
    ($level:ident, $event:literal, $($msg:tt)+) => {
        $crate::serve::log::emit(
            $crate::serve::log::Level::$level,
            $event,
            &[],
            format_args!($($msg)+),
        )
    };
}
pub(crate) use log;

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_525_306_123_456_789; // 2026-12-06T02:48:26.123Z

    #[test]
    fn text_lines_are_the_message_after_the_prefix() {
        let fields = [("sink", Value::from("siem"))];
        let line = render(
            Format::Text,
            NOW,
            Level::Warn,
            "sink.retry",
            &fields,
            format_args!("sink {}: down", "siem"),
        );
        assert_eq!(line, "ward serve: sink siem: down\n");
    }

    #[test]
    fn json_lines_carry_level_event_message_and_typed_fields() {
        let fields = [
            ("sink", Value::from("si\"em")),
            ("alerts", Value::from(3u64)),
            ("msg", Value::from("clash")),
        ];
        let line = render(
            Format::Json,
            NOW,
            Level::Error,
            "sink.rejected",
            &fields,
            format_args!("sink {}: REJECTED\n3 alert(s)", "si\"em"),
        );
        assert!(
            line.ends_with("}\n") && line.matches('\n').count() == 1,
            "{line}"
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["time"], "2026-12-06T02:48:26.123Z");
        assert_eq!(v["level"], "error");
        assert_eq!(v["event"], "sink.rejected");
        assert_eq!(v["msg"], "sink si\"em: REJECTED\n3 alert(s)");
        assert_eq!(v["sink"], "si\"em");
        assert_eq!(v["alerts"], 3);
        assert_eq!(v["field.msg"], "clash");
        // The fixed keys come first, in this order.
        assert!(line.starts_with("{\"time\":"), "{line}");
        let at = |k: &str| line.find(&format!("\"{k}\":")).unwrap();
        assert!(at("time") < at("level") && at("level") < at("event") && at("event") < at("msg"));
    }
}

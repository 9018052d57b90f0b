//! The syslog sink: each alert an RFC 5424 message, over TCP or TLS
//! (RFC 5425), framed by octet counting or newlines (RFC 6587).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::client::{Endpoint, Stream};
use super::config::{self, Framing};
use super::deliver::{alert_head, Outcome};

/// One syslog server and the connection to it.
pub struct SyslogSink {
    endpoint: Endpoint,
    framing: Framing,
    facility: u8,
    hostname: String,
    timeout: Duration,
    conn: Option<Box<dyn Stream>>,
}

impl SyslogSink {
    /// Errors name `at`, the sink's config path.
    pub fn new(at: &str, cfg: &config::SyslogSink) -> Result<SyslogSink, String> {
        let (host, port) =
            config::split_address(&cfg.address).map_err(|e| format!("{at}.address: {e}"))?;
        let endpoint = Endpoint::new(at, &host, port, cfg.tls.as_ref())?;
        let hostname = cfg.hostname.clone().unwrap_or_else(super::client::hostname);
        Ok(SyslogSink {
            endpoint,
            framing: cfg.framing,
            facility: cfg.facility.code(),
            hostname: header_field(&hostname, 255),
            timeout: Duration::from_millis(cfg.timeout),
            conn: None,
        })
    }

    /// Writes the messages of the alert lines; delivered once written to
    /// the connection (syslog has no acknowledgement).
    pub async fn send(&mut self, lines: &[u8]) -> Outcome {
        let mut out = Vec::with_capacity(lines.len() + lines.len() / 2);
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let message = message(line, self.facility, &self.hostname);
            match self.framing {
                Framing::OctetCounting => {
                    out.extend_from_slice(format!("{} ", message.len()).as_bytes());
                    out.extend_from_slice(&message);
                }
                Framing::Newline => {
                    out.extend_from_slice(&message);
                    out.push(b'\n');
                }
            }
        }
        match tokio::time::timeout(self.timeout, self.write(&out)).await {
            Ok(Ok(())) => Outcome::Delivered,
            Ok(Err(e)) => {
                self.conn = None;
                Outcome::Retry(e)
            }
            Err(_) => {
                self.conn = None;
                Outcome::Retry(format!("not written within {:?}", self.timeout))
            }
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        // A connection the server has closed still takes a first write
        // (the kernel buffers it, then the peer resets): look first.
        if let Some(conn) = &mut self.conn {
            if !open(conn.as_mut()).await {
                self.conn = None;
            }
        }
        let conn = match &mut self.conn {
            Some(c) => c,
            None => self.conn.insert(self.endpoint.connect(self.timeout).await?),
        };
        let to = format!("{}:{}", self.endpoint.host, self.endpoint.port);
        let failed = |e: std::io::Error| format!("writing to {to}: {e}");
        conn.write_all(bytes).await.map_err(failed)?;
        conn.flush().await.map_err(failed)
    }
}

/// False when the server has closed the connection (or it broke): a
/// read that does not wait tells.
async fn open(conn: &mut dyn Stream) -> bool {
    let mut buf = [0u8; 512];
    match tokio::time::timeout(Duration::ZERO, conn.read(&mut buf)).await {
        // Nothing to read: open.
        Err(_) => true,
        Ok(Ok(0)) | Ok(Err(_)) => false,
        // The server said something; syslog servers do not, ignored.
        Ok(Ok(_)) => true,
    }
}

/// `<PRI>1 TIMESTAMP HOSTNAME ward - MSGID - MSG`: PRI from the facility
/// and the alert's severity, TIMESTAMP the event's time (`-` without
/// one), MSGID the rule id (cut to 32 characters), MSG the alert line.
fn message(line: &[u8], facility: u8, hostname: &str) -> Vec<u8> {
    let head = alert_head(line);
    let severity = head.as_ref().map_or(5, |h| h.syslog_severity());
    let time = head.as_ref().and_then(|h| h.rfc5424_time());
    let msgid = head.as_ref().and_then(|h| h.rule.as_deref());
    let pri = u16::from(facility) * 8 + u16::from(severity);
    let mut out = format!(
        "<{pri}>1 {} {hostname} ward - {} - ",
        time.as_deref().unwrap_or("-"),
        header_field(msgid.unwrap_or(""), 32)
    )
    .into_bytes();
    out.extend_from_slice(line);
    out
}

/// A header field of RFC 5424: printable US-ASCII but space, at most
/// `max` characters, `-` when nothing is left.
fn header_field(text: &str, max: usize) -> String {
    let kept: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    match kept.is_empty() {
        true => "-".into(),
        false => kept,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_follow_rfc5424() {
        let line =
            br#"{"rule":"secret_read","severity":"high","time":"2024-05-01T10:00:01.123456789Z"}"#;
        let m = String::from_utf8(message(line, 16, "node-1")).unwrap();
        // local0 (16) * 8 + err (3).
        let want = "<131>1 2024-05-01T10:00:01.123456Z node-1 ward - secret_read - {\"rule\"";
        assert!(m.starts_with(want), "{m}");
        let line = br#"{"diagnostic":"state-cap","rule":"a_rule_with_a_very_long_name_past_32","time":null}"#;
        let m = String::from_utf8(message(line, 1, "h")).unwrap();
        assert!(
            m.starts_with("<12>1 - h ward - a_rule_with_a_very_long_name_pas - {"),
            "{m}"
        );
        let m = String::from_utf8(message(b"not json", 23, "h")).unwrap();
        assert_eq!(m, "<189>1 - h ward - - - not json");
    }
}

//! The HTTP sink: batches of alerts POSTed as JSON lines
//! (`application/x-ndjson`) or as Splunk HTTP Event Collector events.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use super::client::Endpoint;
use super::config::{self, HttpFormat};
use super::deliver::{alert_head, Outcome};

/// One HTTP endpoint and its connection, kept open between batches.
pub struct HttpSink {
    endpoint: Endpoint,
    /// The path and query posted to.
    target: String,
    headers: HeaderMap,
    format: HttpFormat,
    /// The `host` of Splunk events, as a JSON string.
    host: String,
    timeout: Duration,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl HttpSink {
    /// Errors name `at`, the sink's config path.
    pub fn new(at: &str, cfg: &config::HttpSink) -> Result<HttpSink, String> {
        let url = config::parse_url(&cfg.url).map_err(|e| format!("{at}.url: {e}"))?;
        let https = url.scheme_str() == Some("https");
        let host = url.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
        let default_tls = config::ClientTls::default();
        let tls = https.then(|| cfg.tls.as_ref().unwrap_or(&default_tls));
        let endpoint = Endpoint::new(at, host, port, tls)?;
        let mut headers = HeaderMap::new();
        let authority = url.authority().map_or(host, |a| a.as_str());
        let bad = |key: &str, e: &dyn std::fmt::Display| format!("{at}.{key}: {e}");
        headers.insert(
            header::HOST,
            HeaderValue::from_str(authority).map_err(|e| bad("url", &e))?,
        );
        let content_type = match cfg.format {
            HttpFormat::Json => "application/x-ndjson",
            HttpFormat::SplunkHec => "application/json",
        };
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        for (k, v) in &cfg.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|e| bad("headers", &e))?;
            let value = HeaderValue::from_str(v).map_err(|e| bad("headers", &e))?;
            headers.insert(name, value);
        }
        let token = match (&cfg.token, &cfg.token_file) {
            (Some(t), _) => Some(t.trim().to_string()),
            (None, Some(file)) => {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| format!("{at}.token_file: cannot read {}: {e}", file.display()))?;
                Some(text.trim().to_string())
            }
            (None, None) => None,
        };
        if let Some(token) = token {
            let scheme = match cfg.format {
                HttpFormat::Json => "Bearer",
                HttpFormat::SplunkHec => "Splunk",
            };
            let mut value = HeaderValue::from_str(&format!("{scheme} {token}"))
                .map_err(|e| bad("token", &e))?;
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
        let name = cfg.host.clone().unwrap_or_else(super::client::hostname);
        Ok(HttpSink {
            endpoint,
            target: url.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            headers,
            format: cfg.format,
            host: serde_json::Value::from(name).to_string(),
            timeout: Duration::from_millis(cfg.timeout),
            conn: None,
        })
    }

    /// POSTs the alert lines as one request: 2xx delivers them; 408, 429,
    /// 5xx, connection errors and timeouts are retried; any other status
    /// rejects them.
    pub async fn send(&mut self, lines: &[u8]) -> Outcome {
        let body = match self.format {
            HttpFormat::Json => Bytes::copy_from_slice(lines),
            HttpFormat::SplunkHec => Bytes::from(hec(lines, &self.host)),
        };
        match tokio::time::timeout(self.timeout, self.post(body)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                self.conn = None;
                Outcome::Retry(format!("no answer within {:?}", self.timeout))
            }
        }
    }

    async fn post(&mut self, body: Bytes) -> Outcome {
        let reuse = self.conn.take().filter(|c| !c.is_closed());
        let mut sender = match reuse {
            Some(s) => s,
            None => match self.connect().await {
                Ok(s) => s,
                Err(e) => return Outcome::Retry(e),
            },
        };
        if let Err(e) = sender.ready().await {
            return Outcome::Retry(format!("the connection closed: {e}"));
        }
        let mut request = Request::post(self.target.as_str());
        if let Some(h) = request.headers_mut() {
            h.extend(self.headers.clone());
        }
        let request = match request.body(Full::new(body)) {
            Ok(r) => r,
            Err(e) => return Outcome::Rejected(format!("cannot make the request: {e}")),
        };
        let response = match sender.send_request(request).await {
            Ok(r) => r,
            Err(e) => return Outcome::Retry(format!("request failed: {e}")),
        };
        let status = response.status();
        // The answer's text, for the log; read whole, the connection is
        // kept for the next batch.
        let text = match Limited::new(response.into_body(), 4096).collect().await {
            Ok(b) => {
                self.conn = Some(sender);
                String::from_utf8_lossy(&b.to_bytes()).trim().to_string()
            }
            Err(_) => String::new(),
        };
        classify(status, &text)
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let io = self.endpoint.connect(self.timeout).await?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| {
                format!(
                    "HTTP with {}:{}: {e}",
                    self.endpoint.host, self.endpoint.port
                )
            })?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}

fn classify(status: StatusCode, text: &str) -> Outcome {
    let said = match text.is_empty() {
        true => format!("HTTP {status}"),
        false => format!("HTTP {status}: {text}"),
    };
    match status.as_u16() {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => Outcome::Retry(said),
        _ => Outcome::Rejected(said),
    }
}

/// Splunk HEC events, one per alert line, each on a line of its own:
/// `{"time":SECONDS,"host":HOST,"source":"ward","sourcetype":"ward:alert","event":ALERT}`.
/// `time` is the alert's event time (left out when it has none, so that
/// Splunk takes the time of receipt).
fn hec(lines: &[u8], host: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.len() + lines.len() / 4);
    for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        out.push(b'{');
        if let Some(time) = alert_head(line).and_then(|h| h.epoch_seconds()) {
            out.extend_from_slice(format!("\"time\":{time},").as_bytes());
        }
        out.extend_from_slice(b"\"host\":");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b",\"source\":\"ward\",\"sourcetype\":\"ward:alert\",\"event\":");
        match serde_json::from_slice::<&serde_json::value::RawValue>(line) {
            Ok(raw) => out.extend_from_slice(raw.get().as_bytes()),
            Err(_) => {
                let text = serde_json::Value::from(String::from_utf8_lossy(line));
                out.extend_from_slice(text.to_string().as_bytes());
            }
        }
        out.extend_from_slice(b"}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hec_events_wrap_each_alert_with_its_time() {
        let lines = b"{\"rule\":\"a\",\"time\":\"2024-05-01T10:00:01.5Z\"}\n{\"rule\":\"b\",\"time\":null}\n";
        let body = String::from_utf8(hec(lines, "\"node-1\"")).unwrap();
        let events: Vec<serde_json::Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events[0]["time"], 1714557601.5);
        assert_eq!(events[0]["host"], "node-1");
        assert_eq!(events[0]["source"], "ward");
        assert_eq!(events[0]["sourcetype"], "ward:alert");
        assert_eq!(events[0]["event"]["rule"], "a");
        assert!(events[1].get("time").is_none());
        assert_eq!(events[1]["event"]["rule"], "b");
    }

    #[test]
    fn statuses_deliver_retry_or_reject() {
        let of = |code: u16| match classify(StatusCode::from_u16(code).unwrap(), "why") {
            Outcome::Delivered => "delivered",
            Outcome::Retry(_) => "retry",
            Outcome::Rejected(_) => "rejected",
        };
        let codes = [200, 204, 301, 400, 401, 403, 404, 408, 413, 429, 500, 503];
        let got: Vec<&str> = codes.iter().map(|c| of(*c)).collect();
        let want = [
            "delivered",
            "delivered",
            "rejected",
            "rejected",
            "rejected",
            "rejected",
            "rejected",
            "retry",
            "rejected",
            "retry",
            "retry",
            "retry",
        ];
        assert_eq!(got, want);
    }
}

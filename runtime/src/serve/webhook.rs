//! The HTTP side of `ward serve`: the audit webhook (an `EventList` per
//! POST), the probes and `/metrics`, served on our own accept loop so that
//! each request knows whether its TLS peer showed a client certificate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use serde_json::value::RawValue;
use tokio::net::TcpListener;

use super::metrics::Metrics;
use super::queue::{Batch, Item, Queue, Refused};

/// What the inputs, the handlers and the matching thread share.
pub struct Shared {
    pub metrics: Metrics,
    /// Into the matching thread, from every input.
    pub queue: Queue,
    pub retry_after: u32,
    /// The last write to the sinks succeeded.
    pub sink_ok: AtomicBool,
    /// The matching thread runs.
    pub matching: AtomicBool,
    pub tokens: Vec<String>,
    /// `webhook.auth.client_names`: empty allows every verified certificate.
    pub client_names: Vec<String>,
    /// `webhook.auth.query_token`: a token may come as `?token=`.
    pub query_token: bool,
    pub max_body: usize,
}

/// The TLS peer of a connection.
#[derive(Clone)]
pub struct Peer {
    /// Showed a client certificate that verified against `client_ca`.
    pub client_cert: bool,
    /// That certificate's subject common names and DNS alternative names.
    pub names: Arc<Vec<String>>,
}

impl Peer {
    /// A peer with no client certificate.
    fn anonymous() -> Peer {
        Peer {
            client_cert: false,
            names: Arc::default(),
        }
    }

    /// The peer of a handshake that ended with `certs` (the client's
    /// chain, its own first), verified by rustls against `client_ca`.
    fn of(certs: Option<&[rustls_pki_types::CertificateDer<'_>]>) -> Peer {
        let Some(leaf) = certs.and_then(|c| c.first()) else {
            return Peer::anonymous();
        };
        Peer {
            client_cert: true,
            names: Arc::new(cert_names(leaf)),
        }
    }
}

/// The subject common names and DNS subject alternative names of a DER
/// certificate (none if it does not parse: rustls verified it, so it does).
fn cert_names(der: &[u8]) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = (cert.subject().iter_common_name())
        .filter_map(|cn| cn.as_str().ok())
        .map(String::from)
        .collect();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            if let GeneralName::DNSName(d) = n {
                names.push(d.to_string());
            }
        }
    }
    names
}

/// Why a client is turned away: no or unknown credentials (401), or a
/// verified certificate that is not allowed to post (403).
enum Denied {
    Unauthenticated(&'static str),
    Forbidden(String),
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Unauthenticated(why) => unauthorized(why),
            Denied::Forbidden(why) => (StatusCode::FORBIDDEN, why).into_response(),
        }
    }
}

/// The routes of the webhook listener: `/healthz` and `/readyz` open to
/// probes; the webhook path and `/metrics` for authenticated clients.
pub fn webhook_routes(path: &str, shared: Arc<Shared>) -> Router {
    Router::new()
        .route(path, post(audit))
        .route("/metrics", get(metrics_authenticated))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(shared)
}

/// The routes of the plain metrics listener, all open.
pub fn metrics_routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(shared)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let mut not = Vec::new();
    if !s.matching.load(Ordering::Relaxed) {
        not.push("the matching thread has stopped");
    }
    if !s.sink_ok.load(Ordering::Relaxed) {
        not.push("the last write to the alert sinks failed");
    }
    if s.queue.full() {
        not.push("the queue is full");
    }
    if s.queue.closed() {
        not.push("shutting down");
    }
    match not.is_empty() {
        true => "ready\n".into_response(),
        false => (StatusCode::SERVICE_UNAVAILABLE, not.join("; ") + "\n").into_response(),
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, content_type)], s.metrics.render()).into_response()
}

async fn metrics_authenticated(
    State(s): State<Arc<Shared>>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Response {
    if let Err(refused) = authenticate(&s, &peer, &headers, None) {
        return refused.into_response();
    }
    metrics(State(s)).await
}

/// `Ok` for a client with a known bearer token (in the `Authorization`
/// header, or with `query_token` in the `token` query parameter) or a
/// verified client certificate that `client_names` allows; else why it is
/// refused.
fn authenticate(
    s: &Shared,
    peer: &Peer,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(), Denied> {
    let known = |t: &str| (s.tokens.iter()).any(|k| same(k.as_bytes(), t.as_bytes()));
    // A Pub/Sub push also sends its own OIDC token in the header, which is
    // not one of ours: the query's token is tried first.
    if let Some(t) = query.filter(|_| s.query_token).and_then(query_token) {
        return match known(&t) {
            true => Ok(()),
            false => Err(Denied::Unauthenticated(
                "the token query parameter is not a token this server accepts\n",
            )),
        };
    }
    if peer.client_cert {
        if s.client_names.is_empty() || peer.names.iter().any(|n| s.client_names.contains(n)) {
            return Ok(());
        }
        return Err(Denied::Forbidden(format!(
            "the client certificate ({}) is not one of webhook.auth.client_names\n",
            match peer.names.is_empty() {
                true => "no common name or DNS name".to_string(),
                false => peer.names.join(", "),
            }
        )));
    }
    let token = (headers.get(header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let why = match token {
        Some(t) if known(t) => return Ok(()),
        Some(_) => "the bearer token is not one this server accepts\n",
        None => "credentials required: a bearer token or a client certificate\n",
    };
    Err(Denied::Unauthenticated(why))
}

/// The `token` parameter of a query string, URL-decoded as the rules'
/// `query()` reads a request URI's.
fn query_token(query: &str) -> Option<String> {
    crate::func::query::in_query(query, "token")
        .into_iter()
        .next()
}

/// The 401 for a refused client.
fn unauthorized(why: &'static str) -> Response {
    let bearer = [(header::WWW_AUTHENTICATE, "Bearer")];
    (StatusCode::UNAUTHORIZED, bearer, why).into_response()
}

/// Compares without stopping at the first difference, so that the time
/// taken does not tell how much of a token was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |d, (x, y)| d | (x ^ y)) == 0
}

async fn audit(
    State(s): State<Arc<Shared>>,
    Extension(peer): Extension<Peer>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = accept(&s, &peer, query.as_deref(), &headers, body).await;
    s.metrics.request(response.status().as_u16());
    response
}

/// Authenticates, reads and admits one EventList or Pub/Sub push
/// message; 200 once its events are in the queue.
async fn accept(
    s: &Shared,
    peer: &Peer,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    if let Err(refused) = authenticate(s, peer, headers, query) {
        return refused.into_response();
    }
    let too_large = || {
        let text = format!("the body is larger than max_body_bytes ({})\n", s.max_body);
        (StatusCode::PAYLOAD_TOO_LARGE, text).into_response()
    };
    let length = (headers.get(header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A client that waits for `100 Continue` has sent nothing yet: it is
    // told at once. One that is sending is read to the end (up to a bound)
    // before it is told: closing on a body half read resets the
    // connection, and the client may never see the 413.
    let waits = (headers.get(header::EXPECT))
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let drain = drain_bound(s.max_body);
    if length.is_some_and(|n| n > s.max_body as u64 && (waits || n > drain as u64)) {
        return too_large();
    }
    let bytes: Bytes = match read_body(body, s.max_body, drain).await {
        Ok(Some(b)) => b,
        Ok(None) => return too_large(),
        Err(e) => {
            let text = format!("cannot read the body: {e}\n");
            return (StatusCode::BAD_REQUEST, text).into_response();
        }
    };
    let events = match payload(&bytes) {
        Ok(events) => events,
        Err(why) => return (StatusCode::BAD_REQUEST, why + "\n").into_response(),
    };
    admit(s, events)
}

/// How much of a body over the limit is read (and dropped) before the 413
/// goes out: four times the limit, at least 8 MiB.
fn drain_bound(max_body: usize) -> usize {
    max_body.saturating_mul(4).max(8 << 20)
}

/// The body, if it holds at most `max` bytes; `None` past it, once the
/// body has ended or `drain` bytes of it were read (the rest is not).
async fn read_body(mut body: Body, max: usize, drain: usize) -> Result<Option<Bytes>, String> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= max {
            kept.extend_from_slice(&data);
        } else if seen > drain {
            return Ok(None);
        } else {
            kept = Vec::new();
        }
    }
    Ok((seen <= max).then(|| Bytes::from(kept)))
}

/// Sends the events to the matching thread if the queue has room.
fn admit(s: &Shared, events: Vec<Vec<u8>>) -> Response {
    let n = events.len();
    if n > 0 {
        let input: Arc<str> = Arc::from(super::INPUT);
        let mut batch = Batch::new(input.clone(), input, None);
        // Numbered by the matching thread, in the order it takes them.
        batch.items = events.into_iter().map(|e| Item::Line(0, e)).collect();
        match s.queue.try_send(batch) {
            Ok(()) => {}
            Err((Refused::Closed, _)) if !s.matching.load(Ordering::Relaxed) => {
                let text = "the matching thread has stopped\n";
                return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
            }
            Err((Refused::Closed, _)) => {
                let text = "shutting down; send again later\n";
                return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
            }
            Err((Refused::Full(queued), _)) => {
                s.metrics.queue_full.inc();
                s.metrics.refused_events.inc_by(n as u64);
                let text = format!(
                    "the queue is full ({queued} of {} events waiting); send again later\n",
                    s.queue.max
                );
                let retry = s.retry_after.to_string();
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [(header::RETRY_AFTER, retry)],
                    text,
                )
                    .into_response();
            }
        }
        s.metrics.accepted.inc_by(n as u64);
        s.metrics.input(super::INPUT).events_in.inc_by(n as u64);
    }
    let body = format!("{{\"accepted\":{n}}}\n");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The lines a request's body holds: the items of an audit `EventList`,
/// or a Pub/Sub push message whole (one line: the decoder opens its base64
/// `data`, a LogEntry a Cloud Logging sink published).
fn payload(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let not_a_list = match event_list(body) {
        Ok(events) => return Ok(events),
        Err(why) => why,
    };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Err(not_a_list);
    };
    let pushed = value.as_object().and_then(crate::decode::pubsub_data);
    match pushed.is_some() {
        // One line: a pretty-printed body is written again compactly.
        true => Ok(vec![value.to_string().into_bytes()]),
        false => Err(format!(
            "{not_a_list}; nor a Pub/Sub push message ({{\"message\": {{\"data\": BASE64, \"messageId\": ...}}}})"
        )),
    }
}

/// The items of an `audit.k8s.io` `EventList`, each as one line of JSON.
fn event_list(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    #[derive(serde::Deserialize)]
    struct List<'a> {
        kind: Option<String>,
        #[serde(rename = "apiVersion")]
        api_version: Option<String>,
        #[serde(borrow)]
        items: Option<Vec<&'a RawValue>>,
    }
    let list: List<'_> = serde_json::from_slice(body)
        .map_err(|e| format!("not an audit EventList: not a JSON object of one: {e}"))?;
    let api = list.api_version.as_deref().unwrap_or("");
    if list.kind.as_deref() != Some("EventList") || !api.starts_with("audit.k8s.io/") {
        return Err(format!(
            "not an audit EventList: kind {:?}, apiVersion {:?} (expected kind EventList, apiVersion audit.k8s.io/v1)",
            list.kind.as_deref().unwrap_or(""),
            api
        ));
    }
    let items = list.items.unwrap_or_default();
    let events = items
        .into_iter()
        .map(|item| {
            let text = item.get().as_bytes();
            // The scan reads lines: a pretty-printed item is made compact.
            match memchr::memchr2(b'\n', b'\r', text) {
                None => text.to_vec(),
                Some(_) => serde_json::from_str::<serde_json::Value>(item.get())
                    .map(|v| v.to_string().into_bytes())
                    .unwrap_or_else(|_| text.to_vec()),
            }
        })
        .collect();
    Ok(events)
}

/// Serves `app` on `listener` (over TLS with `tls`) until `stop` turns
/// true; the connections are watched by `graceful` to drain them.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    graceful: Arc<GracefulShutdown>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                // Out of descriptors and the like: wait, then go on.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let (app, tls, watcher) = (app.clone(), tls.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            match tls {
                None => {
                    let peer = Peer::anonymous();
                    connection(TokioIo::new(tcp), app, peer, watcher).await;
                }
                Some(acceptor) => {
                    let handshake = acceptor.accept(tcp);
                    let Ok(Ok(stream)) = tokio::time::timeout(HANDSHAKE, handshake).await else {
                        return;
                    };
                    let peer = Peer::of(stream.get_ref().1.peer_certificates());
                    connection(TokioIo::new(stream), app, peer, watcher).await;
                }
            }
        });
    }
}

/// Time a client has to finish the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Serves one HTTP/1.1 connection with `app`, each request carrying
/// `peer`, until it closes or a graceful shutdown ends it.
async fn connection<I>(io: I, app: Router, peer: Peer, watcher: Watcher)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(peer.clone());
        let mut app = app.clone();
        async move { tower_service::Service::call(&mut app, req.map(Body::new)).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(io, service);
    let _ = watcher.watch(conn).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_list_items_become_lines() {
        let body = br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},
            "items":[{"a":1},
            {"b":
              2}]}"#;
        let events = event_list(body).unwrap();
        assert_eq!(events, vec![b"{\"a\":1}".to_vec(), b"{\"b\":2}".to_vec()]);
    }

    #[test]
    fn a_pubsub_push_message_is_one_line() {
        let body = b"{\n  \"message\": {\"data\": \"e30=\", \"messageId\": \"7\"},\n  \"subscription\": \"projects/p/subscriptions/s\"\n}";
        let lines = payload(body).unwrap();
        assert_eq!(lines.len(), 1);
        let line = String::from_utf8(lines[0].clone()).unwrap();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains(r#""data":"e30=""#), "{line}");
        // An EventList is still its items; anything else says both shapes.
        let list =
            br#"{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"a":1},{"b":2}]}"#;
        assert_eq!(payload(list).unwrap().len(), 2);
        let e = payload(br#"{"message": {"data": "e30="}}"#).unwrap_err();
        assert!(e.starts_with("not an audit EventList"), "{e}");
        assert!(e.contains("nor a Pub/Sub push message"), "{e}");
    }

    #[test]
    fn the_query_token_is_percent_decoded() {
        assert_eq!(query_token("token=abc").as_deref(), Some("abc"));
        assert_eq!(
            query_token("x=1&token=a%2Bb%3D&y=2").as_deref(),
            Some("a+b=")
        );
        assert_eq!(query_token("token=a+b").as_deref(), Some("a b"));
        assert_eq!(query_token("tokens=abc"), None);
    }

    #[test]
    fn other_documents_are_refused_with_why() {
        let e = event_list(br#"{"kind":"PodList","apiVersion":"v1","items":[]}"#).unwrap_err();
        assert!(e.contains("kind \"PodList\""), "{e}");
        let e = event_list(b"[1,2]").unwrap_err();
        assert!(
            e.starts_with("not an audit EventList: not a JSON object"),
            "{e}"
        );
    }
}

//! The syslog input: RFC 6587 over TCP and RFC 5425 over TLS, each
//! connection's frames cut, their payload's JSON queued as one event;
//! RFC 5426 over UDP, a message a datagram, with the datagrams the kernel
//! dropped counted and logged.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};

use super::lines::{Cutter, Piece};
use super::log::log;
use super::queue::{Batch, Item};
use super::webhook::Shared;
use crate::decode::Problem;

/// One frame of the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Message(Vec<u8>),
    /// Longer than the limit: skipped (its length).
    TooLong(usize),
    /// An octet count that is not one: the bytes up to the next newline
    /// were skipped to find the next frame.
    Bad(String),
}

/// How a connection's frames are delimited, from its first byte on.
enum Mode {
    /// Nothing seen yet.
    Unknown,
    /// `LENGTH SP MESSAGE` (RFC 6587 octet counting, RFC 5425).
    Octets,
    /// `MESSAGE LF`.
    Lines(Cutter),
}

/// Cuts a connection's bytes into frames. The framing is the first
/// frame's: octet counting when it starts with digits and a space, else
/// newline-delimited.
pub struct Framer {
    mode: Mode,
    buf: Vec<u8>,
    max: usize,
    /// Bytes still to skip of an over-long octet-counted frame.
    skip: usize,
    /// Skipping to the next newline after a bad octet count.
    resync: bool,
}

/// Digits an octet count may have (a message of up to 999,999,999 bytes).
const MAX_DIGITS: usize = 9;

impl Framer {
    pub fn new(max: usize) -> Framer {
        Framer {
            mode: Mode::Unknown,
            buf: Vec::new(),
            max,
            skip: 0,
            resync: false,
        }
    }

    /// Frames completed by `data`, in order.
    pub fn push(&mut self, data: &[u8], out: &mut dyn FnMut(Frame)) {
        if let Mode::Unknown = self.mode {
            self.buf.extend_from_slice(data);
            let start = self.buf.iter().position(|b| !b.is_ascii_whitespace());
            let Some(start) = start else {
                self.buf.clear();
                return;
            };
            let digits = self.buf[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let after = self.buf.get(start + digits).copied();
            self.mode = match (digits, after) {
                (_, None) if digits <= MAX_DIGITS => return,
                (1..=MAX_DIGITS, Some(b' ')) => Mode::Octets,
                _ => Mode::Lines(Cutter::new(self.max)),
            };
            let held = std::mem::take(&mut self.buf);
            return self.push(&held, out);
        }
        if let Mode::Lines(cutter) = &mut self.mode {
            return cutter.push(data, &mut |p| match p {
                Piece::Line([]) => {}
                Piece::Line(l) => out(Frame::Message(l.to_vec())),
                Piece::TooLong(n) => out(Frame::TooLong(n)),
            });
        }
        self.octets(data, out);
    }

    fn octets(&mut self, mut data: &[u8], out: &mut dyn FnMut(Frame)) {
        let n = self.skip.min(data.len());
        self.skip -= n;
        data = &data[n..];
        self.buf.extend_from_slice(data);
        let mut at = 0;
        loop {
            let rest = &self.buf[at..];
            if self.resync {
                match memchr::memchr(b'\n', rest) {
                    Some(i) => {
                        at += i + 1;
                        self.resync = false;
                        continue;
                    }
                    None => {
                        at = self.buf.len();
                        break;
                    }
                }
            }
            // A newline or spaces between frames (some senders add one).
            let blank = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
            at += blank;
            let rest = &rest[blank..];
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            if digits == rest.len() && digits <= MAX_DIGITS {
                break;
            }
            let len = match (digits, rest.get(digits)) {
                (1..=MAX_DIGITS, Some(b' ')) => std::str::from_utf8(&rest[..digits])
                    .ok()
                    .and_then(|d| d.parse::<usize>().ok()),
                _ => None,
            };
            let Some(len) = len else {
                let shown = String::from_utf8_lossy(&rest[..rest.len().min(20)]).into_owned();
                out(Frame::Bad(format!(
                    "expected an octet count and a space, found `{shown}`; skipped to the next newline"
                )));
                self.resync = true;
                continue;
            };
            let body = &rest[digits + 1..];
            if len > self.max {
                out(Frame::TooLong(len));
                let have = body.len().min(len);
                self.skip = len - have;
                at += digits + 1 + have;
                continue;
            }
            if body.len() < len {
                break;
            }
            out(Frame::Message(body[..len].to_vec()));
            at += digits + 1 + len;
        }
        self.buf.drain(..at);
    }

    /// Bytes held of a frame not complete.
    pub fn pending(&self) -> usize {
        match &self.mode {
            Mode::Lines(c) => c.pending(),
            _ => self.buf.len(),
        }
    }
}

/// The MSG of an RFC 5424 or RFC 3164 message (a BOM stripped); a
/// message with no `<PRI>` is all MSG.
pub fn payload(msg: &[u8]) -> &[u8] {
    let msg = msg.trim_ascii_start();
    let Some(rest) = pri(msg) else {
        return msg;
    };
    let version = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = match (version, rest.get(version)) {
        (1..=2, Some(b' ')) => rfc5424(&rest[version + 1..]),
        _ => rfc3164(rest),
    };
    rest.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(rest)
}

/// What follows `<PRI>`.
fn pri(msg: &[u8]) -> Option<&[u8]> {
    let rest = msg.strip_prefix(b"<")?;
    let digits = rest
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    (digits > 0 && rest.get(digits) == Some(&b'>')).then(|| &rest[digits + 1..])
}

/// After `VERSION SP`: TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
/// STRUCTURED-DATA, then MSG.
fn rfc5424(mut rest: &[u8]) -> &[u8] {
    for _ in 0..5 {
        match memchr::memchr(b' ', rest) {
            Some(i) => rest = &rest[i + 1..],
            None => return &[],
        }
    }
    if let Some(r) = rest.strip_prefix(b"-") {
        rest = r;
    } else {
        while rest.first() == Some(&b'[') {
            rest = element(rest);
        }
    }
    rest.strip_prefix(b" ").unwrap_or(rest)
}

/// Past one `[SD-ID PARAM="VALUE"...]`: `\]`, `\"` and `\\` are escapes
/// in a value, and a `]` inside quotes does not end it.
fn element(sd: &[u8]) -> &[u8] {
    let (mut quoted, mut escaped) = (false, false);
    for (i, &b) in sd.iter().enumerate().skip(1) {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => quoted = !quoted,
            b']' if !quoted => return &sd[i + 1..],
            _ => {}
        }
    }
    &[]
}

/// After `<PRI>`: `Mmm dd hh:mm:ss HOSTNAME TAG: MSG`, as far as it is so.
fn rfc3164(rest: &[u8]) -> &[u8] {
    let stamp = rest.len() > 16
        && rest[..3].iter().all(u8::is_ascii_alphabetic)
        && rest[3] == b' '
        && rest[9] == b':'
        && rest[12] == b':'
        && rest[15] == b' ';
    if !stamp {
        return rest;
    }
    let rest = &rest[16..];
    let host = memchr::memchr(b' ', rest).map_or(rest, |i| &rest[i + 1..]);
    match memchr::memchr(b' ', host) {
        Some(i) if host[..i].ends_with(b":") => &host[i + 1..],
        _ => host,
    }
}

/// The JSON event of a payload: from its first `{` (a prefix such as a
/// tag some senders put before it is skipped); `None` without one.
pub fn json_of(payload: &[u8]) -> Option<&[u8]> {
    let start = memchr::memchr(b'{', payload)?;
    Some(payload[start..].trim_ascii_end())
}

/// A syslog listener's settings.
pub struct Listener {
    pub input: Arc<str>,
    pub source: Option<&'static str>,
    pub max: usize,
}

/// A syslog listener's socket.
pub enum Bound {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

impl Bound {
    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        match self {
            Bound::Tcp(l) => l.local_addr(),
            Bound::Udp(u) => u.local_addr(),
        }
    }
}

/// Datagrams read into one batch at most, when more are waiting.
const DATAGRAMS: usize = 512;

/// How often the kernel's drop count of a UDP socket is looked at.
const DROPS_EVERY: Duration = Duration::from_secs(1);

/// Reads datagrams on `socket` until `stop`, each one message (RFC 5426):
/// those waiting are queued together while they come from one peer
/// (`NAME/PEER` in alerts, numbered per input). UDP cannot slow a sender:
/// while the queue is full the socket is not read, its receive buffer
/// fills and the kernel drops what does not fit; those drops are read
/// from `/proc/net/udp` (Linux), counted in `ward_input_udp_drops_total`
/// and logged as errors, never silent.
pub async fn serve_udp(
    socket: UdpSocket,
    cfg: Arc<Listener>,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    alive: tokio::sync::mpsc::Sender<()>,
) {
    let metrics = shared.metrics.input(&cfg.input);
    let drops = Drops::of(&socket);
    let mut seen = drops.read().unwrap_or(0);
    let mut tick = tokio::time::interval(DROPS_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = vec![0; 1 << 16];
    let mut number = 0;
    let check = |seen: &mut u64| {
        let Some(now) = drops.read() else { return };
        if now > *seen {
            let dropped = now - *seen;
            metrics.udp_drops.inc_by(dropped);
            log!(
                Error,
                "input.syslog.udp_dropped",
                {input: &*cfg.input, datagrams: dropped, total: now},
                "{}: the kernel dropped {dropped} datagram(s) (receive buffer full; {now} since start): \
                 their events are LOST",
                cfg.input
            );
        }
        *seen = now;
    };
    // At the stop, what the socket holds is read before it closes.
    let mut stopping = false;
    loop {
        let got = match stopping {
            true => match socket.try_recv_from(&mut buf) {
                Ok(got) => Ok(got),
                Err(_) => break,
            },
            false => tokio::select! {
                got = socket.recv_from(&mut buf) => got,
                _ = tick.tick() => {
                    check(&mut seen);
                    continue;
                }
                _ = stop.changed() => {
                    stopping = true;
                    continue;
                }
            },
        };
        let (n, peer) = match got {
            Ok(got) => got,
            Err(e) => {
                log!(
                    Warn,
                    "input.syslog.receive_failed",
                    {input: &*cfg.input, error: e.to_string()},
                    "{}: cannot receive: {e}",
                    cfg.input
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let file: Arc<str> = Arc::from(format!("{}/{peer}", cfg.input));
        let mut batch = Batch::new(cfg.input.clone(), file, cfg.source);
        number += 1;
        batch
            .items
            .push(item(datagram(&buf[..n], cfg.max), number, cfg.max));
        // What else is waiting from the same peer, without waiting.
        while batch.items.len() < DATAGRAMS {
            match socket.try_peek_from(&mut buf) {
                Ok((_, from)) if from == peer => {}
                _ => break,
            }
            let Ok((n, _)) = socket.try_recv_from(&mut buf) else {
                break;
            };
            number += 1;
            batch
                .items
                .push(item(datagram(&buf[..n], cfg.max), number, cfg.max));
        }
        let count = batch.items.len() as u64;
        if let Err(b) = shared.queue.send(batch, &metrics.waits).await {
            log!(
                Error,
                "input.unmatched_at_stop",
                {input: &*cfg.input, lines: b.items.len()},
                "{}: {} message(s) read after the queue closed were not matched",
                cfg.input,
                b.items.len()
            );
            break;
        }
        metrics.events_in.inc_by(count);
    }
    check(&mut seen);
    drop(alive);
}

/// Asks for a receive buffer of `bytes` on `socket` (SO_RCVBUF); the
/// kernel caps it at `net.core.rmem_max`, which is logged when it does.
pub fn receive_buffer(socket: &UdpSocket, input: &str, bytes: usize) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let want = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    let size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: fd is the socket's open descriptor; the option's value is a
    // c_int of the size given.
    let set = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw const want).cast(),
            size,
        )
    };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let (mut got, mut len): (libc::c_int, libc::socklen_t) = (0, size);
    // SAFETY: as above; got and len are valid for writing.
    let read = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&raw mut got).cast(),
            &raw mut len,
        )
    };
    if read != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // Linux reports twice what it grants (the rest is its bookkeeping).
    let granted = usize::try_from(got / 2).unwrap_or(0);
    if granted < bytes {
        log!(
            Warn,
            "input.syslog.receive_buffer_capped",
            {input: input, asked: bytes, granted: granted},
            "{input}: receive buffer of {granted} bytes, not the {bytes} asked: \
             the kernel caps it at net.core.rmem_max (sysctl -w net.core.rmem_max={bytes})"
        );
    }
    Ok(())
}

/// A datagram as a frame: one message, without the trailing newline or
/// NUL some senders add.
fn datagram(bytes: &[u8], max: usize) -> Frame {
    let mut msg = bytes;
    while let [rest @ .., b'\n' | b'\r' | 0] = msg {
        msg = rest;
    }
    match msg.len() > max {
        true => Frame::TooLong(msg.len()),
        false => Frame::Message(msg.to_vec()),
    }
}

/// The kernel's count of datagrams dropped for a UDP socket: the `drops`
/// column of its row (found by the socket's inode) in `/proc/net/udp` or
/// `/proc/net/udp6`. `None` where there is no such file (not Linux).
struct Drops {
    inode: Option<u64>,
}

impl Drops {
    fn of(socket: &UdpSocket) -> Drops {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let fd = socket.as_raw_fd();
        let inode = std::fs::metadata(format!("/proc/self/fd/{fd}")).map(|m| m.ino());
        Drops { inode: inode.ok() }
    }

    fn read(&self) -> Option<u64> {
        let inode = self.inode?;
        ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .find_map(|table| {
                let text = std::fs::read_to_string(table).ok()?;
                udp_drops(&text, inode)
            })
    }
}

/// The `drops` (last) column of the row of `/proc/net/udp` text whose
/// `inode` (tenth) column is `inode`.
fn udp_drops(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|row| {
        let cols: Vec<&str> = row.split_whitespace().collect();
        let this = cols.get(9)?.parse::<u64>().ok()?;
        (this == inode).then(|| cols.last()?.parse().ok())?
    })
}

/// Accepts connections on `listener` until `stop`; each one read by its
/// own task, which holds a clone of `alive` until it ends.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    cfg: Arc<Listener>,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
    alive: tokio::sync::mpsc::Sender<()>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        let (cfg, shared, stop, alive) = (cfg.clone(), shared.clone(), stop.clone(), alive.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            let file: Arc<str> = Arc::from(format!("{}/{peer}", cfg.input));
            match tls {
                None => connection(tcp, file, &cfg, &shared, stop).await,
                Some(acceptor) => {
                    let handshake = tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await;
                    match handshake {
                        Ok(Ok(stream)) => connection(stream, file, &cfg, &shared, stop).await,
                        Ok(Err(e)) => log!(
                            Warn,
                            "input.syslog.handshake_failed",
                            {input: &*cfg.input, peer: peer.to_string(), error: e.to_string()},
                            "{file}: TLS handshake failed: {e}"
                        ),
                        Err(_) => log!(
                            Warn,
                            "input.syslog.handshake_failed",
                            {input: &*cfg.input, peer: peer.to_string(), error: "timed out"},
                            "{file}: no TLS handshake within {HANDSHAKE:?}"
                        ),
                    }
                }
            }
            drop(alive);
        });
    }
}

const HANDSHAKE: Duration = Duration::from_secs(10);

/// Reads one connection until it closes or the server stops, queueing
/// each read's messages (waiting for room: the socket is not read
/// meanwhile, so TCP flow control slows the sender).
async fn connection<S: AsyncRead + Unpin>(
    mut stream: S,
    file: Arc<str>,
    cfg: &Listener,
    shared: &Shared,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let metrics = shared.metrics.input(&cfg.input);
    let mut framer = Framer::new(cfg.max);
    let mut number = 0;
    let mut buf = vec![0; 64 << 10];
    loop {
        let n = tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    log!(
                        Warn,
                        "input.syslog.connection_broken",
                        {input: &*cfg.input, connection: &*file, messages: number, error: e.to_string()},
                        "{file}: connection broken after {number} message(s): {e}"
                    );
                    break;
                }
            },
            _ = stop.changed() => break,
        };
        let mut batch = Batch::new(cfg.input.clone(), file.clone(), cfg.source);
        framer.push(&buf[..n], &mut |frame| {
            number += 1;
            batch.items.push(item(frame, number, cfg.max));
        });
        if batch.items.is_empty() {
            continue;
        }
        let count = batch.items.len() as u64;
        if let Err(b) = shared.queue.send(batch, &metrics.waits).await {
            let lost = b.items.len();
            log!(
                Error,
                "input.unmatched_at_stop",
                {input: &*cfg.input, connection: &*file, lines: lost},
                "{file}: {lost} message(s) read after the queue closed were not matched"
            );
            return;
        }
        metrics.events_in.inc_by(count);
    }
    if framer.pending() > 0 {
        log!(
            Warn,
            "input.syslog.partial_message",
            {input: &*cfg.input, connection: &*file, bytes: framer.pending()},
            "{file}: the connection ended inside a message ({} byte(s) of it dropped)",
            framer.pending()
        );
    }
}

/// What the matching thread gets for one frame, message `number` of its
/// connection.
fn item(frame: Frame, number: usize, max: usize) -> Item {
    match frame {
        Frame::Message(msg) => match json_of(payload(&msg)) {
            Some(json) => Item::Line(number, json.to_vec()),
            None => {
                let shown = String::from_utf8_lossy(&msg[..msg.len().min(80)]).into_owned();
                Item::Problem(Problem::Malformed {
                    line: number,
                    error: format!("no JSON event in the syslog message `{shown}`"),
                })
            }
        },
        Frame::TooLong(bytes) => Item::Problem(Problem::TooLong {
            line: number,
            bytes,
            limit: max,
        }),
        Frame::Bad(why) => Item::Problem(Problem::Malformed {
            line: number,
            error: format!("bad syslog framing: {why}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drops_of_a_udp_socket_are_read_from_its_row() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  412: 0100007F:0202 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 771234 2 0000000000000000 0
  413: 0100007F:9C41 00000000:0000 07 00000000:00034000 00:00000000 00000000  1000        0 771299 2 0000000000000000 4471
";
        assert_eq!(udp_drops(table, 771299), Some(4471));
        assert_eq!(udp_drops(table, 771234), Some(0));
        assert_eq!(udp_drops(table, 5), None);
        assert_eq!(udp_drops("", 5), None);
    }

    #[test]
    fn a_datagram_is_one_message_without_its_trailing_newline() {
        assert_eq!(
            datagram(b"<13>1 - - - - - - {}\n\0", 100),
            msg("<13>1 - - - - - - {}")
        );
        assert_eq!(datagram(b"{\"a\":1}\r\n", 100), msg("{\"a\":1}"));
        assert_eq!(datagram(b"0123456789", 5), Frame::TooLong(10));
        assert_eq!(datagram(b"", 5), msg(""));
    }

    fn frames(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::new(max);
        let mut got = Vec::new();
        for c in chunks {
            f.push(c, &mut |fr| got.push(fr));
        }
        got
    }

    fn msg(s: &str) -> Frame {
        Frame::Message(s.as_bytes().to_vec())
    }

    #[test]
    fn octet_counting_across_reads() {
        let got = frames(100, &[b"5 hel", b"lo3 abc\n1", b"2 hello world!"]);
        assert_eq!(got, [msg("hello"), msg("abc"), msg("hello world!")]);
        // The count split between reads, at the start too.
        let got = frames(100, &[b"1", b"1 hello", b" world"]);
        assert_eq!(got, [msg("hello world")]);
    }

    #[test]
    fn octet_counting_skips_an_oversized_frame_and_goes_on() {
        let got = frames(4, &[b"6 abc", b"def4 ok!!"]);
        assert_eq!(got, [Frame::TooLong(6), msg("ok!!")]);
        let got = frames(10, &[b"3 abcxx yy\n2 ok"]);
        assert!(
            matches!(&got[1], Frame::Bad(w) if w.contains("`xx yy")),
            "{got:?}"
        );
        assert_eq!(got[2], msg("ok"));
    }

    #[test]
    fn newline_framing_when_the_first_frame_has_no_count() {
        let got = frames(100, &[b"<13>1 - - - - - - {\"a\":1}\n\n<13>1 ", b"x\r\n"]);
        assert_eq!(got, [msg("<13>1 - - - - - - {\"a\":1}"), msg("<13>1 x")]);
        let got = frames(5, &[b"abcdefgh\nabc\n"]);
        assert_eq!(got, [Frame::TooLong(9), msg("abc")]);
    }

    #[test]
    fn rfc5424_payloads() {
        let with_sd = br#"<14>1 2024-05-01T10:00:00Z host app 123 ID47 [timeQuality tzKnown="1" isSynced="0"][x@1 v="a\]b" w="]"] {"a":1}"#;
        assert_eq!(payload(with_sd), br#"{"a":1}"#);
        let bom = b"<14>1 2024-05-01T10:00:00Z host app - - - \xEF\xBB\xBF{\"b\":2}";
        assert_eq!(payload(bom), b"{\"b\":2}");
        assert_eq!(payload(b"<14>1 - - - - -"), b"");
    }

    #[test]
    fn rfc3164_payloads_and_json() {
        let m = b"<13>May  1 10:00:00 node1 kube-audit[42]: {\"c\":3}";
        assert_eq!(payload(m), b"{\"c\":3}");
        let m = b"<13>May  1 10:00:00 node1 audit: prefix {\"d\":4}\n";
        assert_eq!(json_of(payload(m)), Some(&b"{\"d\":4}"[..]));
        assert_eq!(json_of(payload(b"{\"e\":5}")), Some(&b"{\"e\":5}"[..]));
        assert_eq!(json_of(payload(b"<13>hello")), None);
    }
}

//! The disk spool of a network sink: alert lines the matching thread
//! appends, its sender reads, sends and acknowledges.
//!
//! A spool is a directory of segments (`00000000000000000001.spool`, ...),
//! each holding whole alert lines, and a file `acked` holding the
//! position (segment and byte offset) up to which the sink acknowledged
//! them. The matching thread appends and syncs at each batch flush; the
//! sender reads from the acknowledged position, and once the sink has
//! acknowledged a batch, the position is written (to `acked.tmp`,
//! synced, renamed over `acked`) and the segments wholly before it are
//! deleted. So a restart sends again at most what was sent and not yet
//! recorded as acknowledged: delivery is at least once, in order.
//!
//! The pending bytes (from the acknowledged position to the end) are
//! bounded by `max_bytes`: an append that would go past it waits until the
//! sender has acknowledged enough, unless the spool is empty (so that one
//! batch larger than the bound is not refused for ever) or the bound has
//! been lifted for the stop ([`Spool::lift_bound`]).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

/// A place in the spool: a segment and a byte offset in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

/// The spool's bounds.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Pending bytes at most (see the module's documentation).
    pub max_bytes: u64,
    /// A segment is closed, and a new one begun, once it holds this many.
    pub segment_bytes: u64,
}

impl Limits {
    /// Segments of a quarter of the bound, at most 64 MiB each.
    pub fn new(max_bytes: u64) -> Limits {
        Limits {
            max_bytes,
            segment_bytes: (max_bytes / 4).clamp(1, 64 << 20),
        }
    }
}

/// The gauges and counter a spool keeps up to date.
#[derive(Clone, Default)]
pub struct Gauges {
    pub bytes: Gauge,
    pub alerts: Gauge,
    /// Appends that waited for room.
    pub waits: Counter,
}

/// Lines read for sending: whole lines, each with its newline.
#[derive(Debug)]
pub struct Chunk {
    pub lines: Vec<u8>,
    pub alerts: u64,
    /// Where the next read starts; acknowledging the chunk records it.
    pub end: Position,
}

/// One sink's spool, shared by the matching thread and the sender.
pub struct Spool {
    dir: PathBuf,
    limits: Limits,
    state: Mutex<State>,
    /// Signalled when acknowledged lines make room, or the bound is lifted.
    room: Condvar,
    /// Signalled when lines are appended.
    pub appended: tokio::sync::Notify,
    gauges: Gauges,
}

struct State {
    /// Segments on disk, oldest first: their number and length.
    segments: VecDeque<(u64, u64)>,
    /// The last segment, open for appending.
    writer: Option<File>,
    /// A segment was created since the last sync: the directory needs one.
    created: bool,
    /// Lines were appended since the last sync.
    dirty: bool,
    acked: Position,
    /// Lines after `acked`.
    alerts: u64,
    unbounded: bool,
}

impl State {
    fn pending_bytes(&self) -> u64 {
        let total: u64 = self.segments.iter().map(|(_, len)| len).sum();
        total.saturating_sub(self.acked.offset)
    }
}

impl Spool {
    /// Opens (creating it if need be) the spool in `dir`, recovering from
    /// a crash: segments wholly acknowledged are deleted, and bytes after
    /// the last newline of a segment (a line torn by a crash while it was
    /// written, never synced as part of a finished batch) are cut off.
    /// Returns the spool and what recovery did, to be logged.
    pub fn open(dir: &Path, limits: Limits, gauges: Gauges) -> io::Result<(Spool, Vec<String>)> {
        std::fs::create_dir_all(dir)?;
        let mut notes = Vec::new();
        let mut numbers = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(n) = name.strip_suffix(".spool").and_then(|n| n.parse().ok()) {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        // None: nothing acknowledged yet, all is to be sent.
        let recorded = match std::fs::read_to_string(dir.join(ACKED)) {
            Ok(text) => parse_position(&text).or_else(|| {
                notes.push(format!(
                    "{}: unreadable ({:?}); everything spooled is sent again",
                    dir.join(ACKED).display(),
                    text.trim()
                ));
                None
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut acked = recorded.unwrap_or_default();
        let mut segments = VecDeque::new();
        for n in numbers {
            let path = segment_path(dir, n);
            if n < acked.segment {
                std::fs::remove_file(&path)?;
                continue;
            }
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            let len = file.metadata()?.len();
            let whole = whole_lines(&file, len)?;
            if whole < len {
                file.set_len(whole)?;
                file.sync_all()?;
                notes.push(format!(
                    "{}: cut a torn last line of {} byte(s) (written when ward stopped mid-write; not sent)",
                    path.display(),
                    len - whole
                ));
            }
            segments.push_back((n, whole));
        }
        match segments.front() {
            None => acked = Position::default(),
            Some(&(first, _)) if first > acked.segment => {
                if recorded.is_some() {
                    notes.push(format!(
                        "{}: the acknowledged segment {} is gone; sending from segment {first}",
                        dir.display(),
                        acked.segment
                    ));
                }
                acked = Position {
                    segment: first,
                    offset: 0,
                };
            }
            Some(&(_, len)) if acked.offset > len => {
                notes.push(format!(
                    "{}: acknowledged offset {} past the end of its segment ({len}); taken as its end",
                    dir.display(),
                    acked.offset
                ));
                acked.offset = len;
            }
            Some(_) => {}
        }
        let writer = match segments.back() {
            Some(&(n, _)) => Some(OpenOptions::new().append(true).open(segment_path(dir, n))?),
            None => None,
        };
        let mut alerts = 0;
        for &(n, len) in &segments {
            let from = if n == acked.segment { acked.offset } else { 0 };
            alerts += count_lines(&segment_path(dir, n), from, len)?;
        }
        let state = State {
            segments,
            writer,
            created: false,
            dirty: false,
            acked,
            alerts,
            unbounded: false,
        };
        let spool = Spool {
            dir: dir.to_path_buf(),
            limits,
            state: Mutex::new(state),
            room: Condvar::new(),
            appended: tokio::sync::Notify::new(),
            gauges,
        };
        spool.publish(&spool.lock());
        Ok((spool, notes))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data: each
        // change is made whole before anything can fail.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, state: &State) {
        self.gauges.bytes.set(state.pending_bytes() as i64);
        self.gauges.alerts.set(state.alerts as i64);
    }

    /// Pending (unacknowledged) alerts and bytes.
    pub fn pending(&self) -> (u64, u64) {
        let state = self.lock();
        (state.alerts, state.pending_bytes())
    }

    /// The acknowledged position, where a sender starts.
    pub fn acked(&self) -> Position {
        self.lock().acked
    }

    /// Appends whole lines (each ending in a newline), waiting for room
    /// while the spool is full. A failed write leaves no part of them.
    pub fn append(&self, lines: &[u8]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let len = lines.len() as u64;
        let mut state = self.lock();
        let mut waited = false;
        while !state.unbounded
            && state.pending_bytes() > 0
            && state.pending_bytes() + len > self.limits.max_bytes
        {
            if !waited {
                self.gauges.waits.inc();
                waited = true;
            }
            state = self.room.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        let full = state
            .segments
            .back()
            .is_none_or(|&(_, size)| size >= self.limits.segment_bytes);
        if full || state.writer.is_none() {
            let next = state.segments.back().map_or(1, |&(n, _)| n + 1);
            if let Some(old) = &state.writer {
                old.sync_data()?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(segment_path(&self.dir, next))?;
            if state.segments.is_empty() {
                state.acked = Position {
                    segment: next,
                    offset: 0,
                };
            }
            state.segments.push_back((next, 0));
            state.writer = Some(file);
            state.created = true;
        }
        let size = state.segments.back().map_or(0, |&(_, size)| size);
        let Some(file) = state.writer.as_mut() else {
            return Err(io::Error::other("the spool has no segment open"));
        };
        if let Err(e) = file.write_all(lines) {
            // Whatever part went out is cut off again: no torn line.
            let _ = file.set_len(size);
            return Err(e);
        }
        if let Some(last) = state.segments.back_mut() {
            last.1 += len;
        }
        state.alerts += memchr::memchr_iter(b'\n', lines).count() as u64;
        state.dirty = true;
        self.publish(&state);
        drop(state);
        self.appended.notify_one();
        Ok(())
    }

    /// Makes what was appended durable: the batch is done after this.
    /// Without appends since the last sync, nothing to do.
    pub fn sync(&self) -> io::Result<()> {
        let mut state = self.lock();
        if !std::mem::take(&mut state.dirty) {
            return Ok(());
        }
        if let Some(file) = &state.writer {
            if let Err(e) = file.sync_data() {
                state.dirty = true;
                return Err(e);
            }
        }
        if std::mem::take(&mut state.created) {
            sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Lets appends go past `max_bytes` from now on (for the stop: the
    /// queue drains into the spool rather than waiting on a sink).
    pub fn lift_bound(&self) {
        self.lock().unbounded = true;
        self.room.notify_all();
    }

    /// Reads whole lines from `from`: at most `max_alerts` lines and,
    /// unless a single line is longer, `max_bytes` bytes. `None` when no
    /// line follows `from`.
    pub fn read(
        &self,
        from: Position,
        max_alerts: usize,
        max_bytes: usize,
    ) -> io::Result<Option<Chunk>> {
        let (from, len) = {
            let state = self.lock();
            let mut at = from;
            let mut found = None;
            for &(n, len) in &state.segments {
                if n < at.segment {
                    continue;
                }
                if n > at.segment {
                    at = Position {
                        segment: n,
                        offset: 0,
                    };
                }
                if len > at.offset {
                    found = Some((at, len));
                    break;
                }
            }
            match found {
                Some(f) => f,
                None => return Ok(None),
            }
        };
        let file = File::open(segment_path(&self.dir, from.segment))?;
        let available = len - from.offset;
        let mut want = available.min(max_bytes.max(1) as u64);
        loop {
            let mut buf = vec![0; want as usize];
            file.read_exact_at(&mut buf, from.offset)?;
            let mut end = 0;
            let mut alerts = 0;
            for nl in memchr::memchr_iter(b'\n', &buf) {
                end = nl + 1;
                alerts += 1;
                if alerts == max_alerts.max(1) as u64 {
                    break;
                }
            }
            if end > 0 {
                buf.truncate(end);
                let end = Position {
                    segment: from.segment,
                    offset: from.offset + end as u64,
                };
                return Ok(Some(Chunk {
                    lines: buf,
                    alerts,
                    end,
                }));
            }
            if want == available {
                // Appends are whole lines: a segment's length ends one.
                return Err(io::Error::other(format!(
                    "{}: no line end after offset {}",
                    segment_path(&self.dir, from.segment).display(),
                    from.offset
                )));
            }
            want = available;
        }
    }

    /// Records that the sink acknowledged everything before `to` (the
    /// `alerts` lines since the last acknowledgement): the position is
    /// persisted, then wholly acknowledged segments are deleted.
    pub fn ack(&self, to: Position, alerts: u64) -> io::Result<()> {
        let mut state = self.lock();
        let mut to = to;
        // A segment read to its end, with a later one begun, is done.
        let done = |state: &State, to: Position| {
            let mut it = state.segments.iter();
            let here = it.find(|(n, _)| *n == to.segment);
            match (here, it.next()) {
                (Some(&(_, len)), Some(&(next, _))) if to.offset >= len => Some(next),
                _ => None,
            }
        };
        while let Some(next) = done(&state, to) {
            to = Position {
                segment: next,
                offset: 0,
            };
        }
        write_position(&self.dir, to)?;
        state.acked = to;
        while let Some(&(n, _)) = state.segments.front() {
            if n >= to.segment {
                break;
            }
            state.segments.pop_front();
            std::fs::remove_file(segment_path(&self.dir, n))?;
        }
        state.alerts = state.alerts.saturating_sub(alerts);
        self.publish(&state);
        drop(state);
        self.room.notify_all();
        Ok(())
    }
}

const ACKED: &str = "acked";

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.spool"))
}

/// `SEGMENT OFFSET`.
fn parse_position(text: &str) -> Option<Position> {
    let (segment, offset) = text.trim().split_once(' ')?;
    Some(Position {
        segment: segment.parse().ok()?,
        offset: offset.parse().ok()?,
    })
}

/// Replaces `acked` whole: written aside, synced, renamed over it.
fn write_position(dir: &Path, to: Position) -> io::Result<()> {
    let tmp = dir.join("acked.tmp");
    let mut file = File::create(&tmp)?;
    writeln!(file, "{} {}", to.segment, to.offset)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(ACKED))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The length of the file's prefix that ends with its last newline.
fn whole_lines(file: &File, len: u64) -> io::Result<u64> {
    const STEP: u64 = 64 << 10;
    let mut end = len;
    while end > 0 {
        let from = end.saturating_sub(STEP);
        let mut buf = vec![0; (end - from) as usize];
        file.read_exact_at(&mut buf, from)?;
        if let Some(nl) = memchr::memrchr(b'\n', &buf) {
            return Ok(from + nl as u64 + 1);
        }
        end = from;
    }
    Ok(0)
}

fn count_lines(path: &Path, from: u64, to: u64) -> io::Result<u64> {
    let file = File::open(path)?;
    let mut buf = vec![0; 1 << 20];
    let (mut at, mut lines) = (from, 0);
    while at < to {
        let n = (to - at).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], at)?;
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        at += n as u64;
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ward-spool-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn open(dir: &Path, max_bytes: u64) -> (Spool, Vec<String>) {
        Spool::open(dir, Limits::new(max_bytes), Gauges::default()).unwrap()
    }

    /// Reads and acknowledges everything; the lines read.
    fn drain(spool: &Spool) -> Vec<String> {
        let mut at = spool.acked();
        let mut lines = Vec::new();
        while let Some(chunk) = spool.read(at, 2, 1 << 20).unwrap() {
            let text = String::from_utf8(chunk.lines).unwrap();
            lines.extend(text.lines().map(String::from));
            spool.ack(chunk.end, chunk.alerts).unwrap();
            at = chunk.end;
        }
        lines
    }

    fn segments(dir: &Path) -> usize {
        let entries = std::fs::read_dir(dir).unwrap();
        let names = entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned());
        names.filter(|n| n.ends_with(".spool")).count()
    }

    #[test]
    fn the_acknowledged_offset_survives_a_restart() {
        let dir = fresh("offset");
        let (spool, notes) = open(&dir, 1 << 20);
        assert!(notes.is_empty());
        spool.append(b"a\nb\nc\n").unwrap();
        spool.sync().unwrap();
        let chunk = spool.read(spool.acked(), 2, 1 << 20).unwrap().unwrap();
        assert_eq!(chunk.lines, b"a\nb\n");
        spool.ack(chunk.end, chunk.alerts).unwrap();
        // Read but never acknowledged: sent again after the restart.
        let unacked = spool.read(chunk.end, 2, 1 << 20).unwrap().unwrap();
        assert_eq!(unacked.lines, b"c\n");
        drop(spool);
        let (spool, notes) = open(&dir, 1 << 20);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(spool.pending(), (1, 2));
        assert_eq!(drain(&spool), ["c"]);
        assert_eq!(spool.pending(), (0, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn segments_rotate_and_go_once_acknowledged() {
        let dir = fresh("rotate");
        // Segments of 8 bytes.
        let (spool, _) = open(&dir, 32);
        for line in ["one\n", "two\n", "three\n", "four\n", "five\n"] {
            spool.append(line.as_bytes()).unwrap();
        }
        spool.sync().unwrap();
        assert_eq!(segments(&dir), 3);
        assert_eq!(spool.pending(), (5, 24));
        let lines = drain(&spool);
        assert_eq!(lines, ["one", "two", "three", "four", "five"]);
        // The last segment stays, read to its end, for the next appends.
        assert_eq!(segments(&dir), 1);
        spool.append(b"six\n").unwrap();
        assert_eq!(drain(&spool), ["six"]);
        drop(spool);
        let (spool, _) = open(&dir, 32);
        assert_eq!(spool.pending(), (0, 0));
        assert!(spool.read(spool.acked(), 10, 100).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_torn_last_line_is_cut_at_recovery_and_never_sent() {
        let dir = fresh("torn");
        let (spool, _) = open(&dir, 1 << 20);
        spool.append(b"{\"rule\":\"a\"}\n").unwrap();
        spool.sync().unwrap();
        drop(spool);
        // A crash in the middle of the next write.
        let path = segment_path(&dir, 1);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"rule\":\"b\",\"ti").unwrap();
        drop(f);
        let (spool, notes) = open(&dir, 1 << 20);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("cut a torn last line of 15 byte(s)"),
            "{notes:?}"
        );
        spool.append(b"{\"rule\":\"c\"}\n").unwrap();
        assert_eq!(drain(&spool), ["{\"rule\":\"a\"}", "{\"rule\":\"c\"}"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_full_spool_waits_for_acknowledgements() {
        let dir = fresh("full");
        let (spool, _) = open(&dir, 8);
        spool.append(b"aaaaaaa\n").unwrap();
        let spool = std::sync::Arc::new(spool);
        let appender = {
            let spool = spool.clone();
            std::thread::spawn(move || spool.append(b"bbbbbbb\n").unwrap())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(!appender.is_finished());
        assert_eq!(spool.gauges.waits.get(), 1);
        let chunk = spool.read(spool.acked(), 10, 100).unwrap().unwrap();
        spool.ack(chunk.end, chunk.alerts).unwrap();
        appender.join().unwrap();
        assert_eq!(drain(&spool), ["bbbbbbb"]);
        // An empty spool takes a batch larger than its bound.
        spool.append(b"a line longer than eight bytes\n").unwrap();
        spool.lift_bound();
        spool.append(b"and one more past it\n").unwrap();
        assert_eq!(spool.pending().0, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unreadable_position_sends_everything_again() {
        let dir = fresh("badpos");
        let (spool, _) = open(&dir, 1 << 20);
        spool.append(b"x\n").unwrap();
        drop(spool);
        std::fs::write(dir.join(ACKED), "garbage").unwrap();
        let (spool, notes) = open(&dir, 1 << 20);
        assert!(
            notes[0].contains("everything spooled is sent again"),
            "{notes:?}"
        );
        assert_eq!(drain(&spool), ["x"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

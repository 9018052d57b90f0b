//! Files followed as `tail -F` does (spec/serve.md, "Files"): complete
//! lines queued as they are written, rotation by rename (the path's
//! device and inode change) and by truncation followed, files of a glob
//! that appear later picked up, and a checkpoint per path written once
//! the matching thread has matched what it covers.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::checkpoint::{Checkpoints, Entry};
use super::config::{FileInput, InputFormat, StartAt};
use super::lines::{Cutter, Piece};
use super::log::log;
use super::metrics::InputMetrics;
use super::queue::{Batch, Item};
use super::webhook::Shared;
use crate::decode::{self, Problem};

/// Time between two looks at the files.
pub const POLL: Duration = Duration::from_millis(100);
/// Bytes read from a file in one go (one batch at most).
const CHUNK: usize = 256 << 10;

/// One followed file: the open file read so far, under its path's name.
struct Tail {
    name: Arc<str>,
    file: File,
    id: (u64, u64),
    /// Bytes read (fed to the cutter).
    read_to: u64,
    /// Lines cut.
    line: usize,
    cutter: Cutter,
    /// A gzip file or a document, read whole once.
    whole: bool,
    /// Read whole already.
    done: bool,
    metrics: InputMetrics,
}

enum Ack {
    Set(Entry),
    Remove(PathBuf),
}

/// The follower of one `inputs.files` entry.
pub struct Follower {
    cfg: FileInput,
    dir: PathBuf,
    shared: Arc<Shared>,
    checkpoints: Arc<Checkpoints>,
    stop: Arc<AtomicBool>,
    tails: BTreeMap<PathBuf, Tail>,
    /// Checkpoints to write once the batch before them is matched, in order.
    pending: VecDeque<(Arc<AtomicBool>, Ack)>,
    /// Paths with a checkpoint at start: `start_at: end` is not for them.
    known: std::collections::BTreeSet<PathBuf>,
    /// Files read to their end this run (rotated away): another name of
    /// the glob for one of them is not a new file.
    finished: std::collections::BTreeSet<(u64, u64)>,
    first: bool,
    write_failed: bool,
}

impl Follower {
    pub fn new(
        cfg: FileInput,
        shared: Arc<Shared>,
        checkpoints: Arc<Checkpoints>,
        stop: Arc<AtomicBool>,
    ) -> Follower {
        let dir = match cfg.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Follower {
            cfg,
            dir,
            shared,
            checkpoints,
            stop,
            tails: BTreeMap::new(),
            pending: VecDeque::new(),
            known: Default::default(),
            finished: Default::default(),
            first: true,
            write_failed: false,
        }
    }

    /// Follows until the stop; then waits for the matching thread to
    /// match what was queued and writes the last checkpoints.
    pub fn run(mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            self.poll();
            self.acks();
            std::thread::sleep(POLL);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.pending.is_empty() && Instant::now() < deadline {
            self.acks();
            std::thread::sleep(Duration::from_millis(10));
        }
        self.acks();
        if !self.pending.is_empty() {
            log!(
                Warn,
                "input.file.unmatched_at_stop",
                {path: self.cfg.path.display().to_string(), batches: self.pending.len()},
                "{}: {} batch(es) not matched before the stop: read again at the next start",
                self.cfg.path.display(),
                self.pending.len()
            );
        }
    }

    /// The file name part of the pattern matches `path`'s, in its directory.
    fn matches(&self, path: &Path) -> bool {
        let pattern = self.cfg.path.file_name().map(|n| n.as_encoded_bytes());
        let name = path.file_name().map(|n| n.as_encoded_bytes());
        match (pattern, name) {
            (Some(p), Some(n)) => path.parent() == self.cfg.path.parent() && glob(p, n),
            _ => false,
        }
    }

    /// The paths the pattern names now, in order.
    fn expand(&self) -> Vec<PathBuf> {
        let pattern = self.cfg.path.file_name().map(|n| n.as_encoded_bytes());
        if !pattern.is_some_and(|p| p.iter().any(|b| b"*?[".contains(b))) {
            return vec![self.cfg.path.clone()];
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| self.cfg.path.with_file_name(e.file_name()))
            .filter(|p| self.matches(p))
            .collect();
        paths.sort();
        paths
    }

    fn poll(&mut self) {
        if self.first {
            self.resume();
        }
        // What was written to the files followed, before any rotation.
        let mut tails = std::mem::take(&mut self.tails);
        let mut gone = Vec::new();
        for (path, tail) in &mut tails {
            self.read(tail, false);
            // Deleted (not renamed): nothing more will be written to it.
            let deleted = tail.file.metadata().is_ok_and(|m| m.nlink() == 0);
            if deleted && std::fs::metadata(path).is_err() {
                gone.push(path.clone());
            }
        }
        for path in gone {
            if let Some(mut tail) = tails.remove(&path) {
                self.read(&mut tail, true);
                self.after_last(Ack::Remove(path));
            }
        }
        self.tails = tails;
        for path in self.expand() {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let id = (meta.dev(), meta.ino());
            let offset = match self.tails.remove(&path) {
                Some(tail) if tail.id == id => {
                    self.tails.insert(path, tail);
                    continue;
                }
                Some(mut old) => {
                    // Rotated: the old file to its end, then the new one.
                    self.read(&mut old, true);
                    self.finished.insert(old.id);
                    log!(
                        Info,
                        "input.file.rotated",
                        {path: path.display().to_string(), inode: id.1, old_lines: old.line},
                        "{}: rotated (now inode {}); read the old file to its end ({} line(s)), reading the new one from its start",
                        path.display(),
                        id.1,
                        old.line
                    );
                    0
                }
                None if self.finished.contains(&id) || self.tails.values().any(|t| t.id == id) => {
                    continue
                }
                None => {
                    let at_end = self.first
                        && self.cfg.start_at == StartAt::End
                        && !self.known.contains(&path);
                    if at_end {
                        meta.len()
                    } else {
                        0
                    }
                }
            };
            match self.open(&path, &path, (offset, 0)) {
                Ok(mut tail) => {
                    // The new file's start, recorded once the old one's
                    // batches are matched.
                    self.after_last(Ack::Set(entry(&path, &tail, offset, 0)));
                    self.read(&mut tail, false);
                    self.tails.insert(path, tail);
                }
                Err(e) => unreadable(&path, &e),
            }
        }
        self.first = false;
    }

    /// At start: each checkpointed path of this pattern where it was, a
    /// file rotated while stopped finished from its checkpoint, or LOST.
    fn resume(&mut self) {
        let entries = self.checkpoints.matching(&|p| self.matches(p));
        for e in entries {
            self.known.insert(e.path.clone());
            let now = std::fs::metadata(&e.path).map(|m| (m.dev(), m.ino()));
            if now.as_ref().ok() == Some(&(e.dev, e.inode)) {
                match self.open(&e.path, &e.path, (e.offset, e.line)) {
                    Ok(tail) => {
                        self.tails.insert(e.path.clone(), tail);
                    }
                    Err(err) => unreadable(&e.path, &err),
                }
                continue;
            }
            match find_inode(&self.dir, (e.dev, e.inode)) {
                Some(old) => {
                    log!(
                        Info,
                        "input.file.rotated_while_stopped",
                        {
                            path: e.path.display().to_string(),
                            rotated_to: old.display().to_string(),
                            inode: e.inode,
                            offset: e.offset,
                            line: e.line,
                        },
                        "{}: rotated while stopped: reading {} (inode {}) on from byte {} (line {}), then {} from its start",
                        e.path.display(),
                        old.display(),
                        e.inode,
                        e.offset,
                        e.line,
                        e.path.display()
                    );
                    match self.open(&old, &e.path, (e.offset, e.line)) {
                        Ok(mut tail) => {
                            self.read(&mut tail, true);
                            self.finished.insert(tail.id);
                            self.after_last(Ack::Remove(e.path.clone()));
                        }
                        Err(err) => unreadable(&old, &err),
                    }
                }
                None => log!(
                    Error,
                    "input.file.lost",
                    {path: e.path.display().to_string(), offset: e.offset, line: e.line, inode: e.inode},
                    "LOST: {}: the file read up to byte {} (line {}) before the stop (inode {}) is gone; \
                     whatever was written to it after that was not read and is lost; its size then is unknown. \
                     Reading {} from its start",
                    e.path.display(),
                    e.offset,
                    e.line,
                    e.inode,
                    e.path.display()
                ),
            }
        }
    }

    /// Opens `path` (followed as `name`) at (offset, line).
    fn open(
        &self,
        path: &Path,
        name: &Path,
        (offset, line): (u64, usize),
    ) -> std::io::Result<Tail> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        let mut head = [0; 2];
        let n = file.read(&mut head)?;
        let gzip = n == 2 && head == [0x1f, 0x8b];
        let whole = gzip || self.cfg.format == InputFormat::Document;
        let (mut offset, mut line) = (offset, line);
        if offset > meta.len() {
            log!(
                Warn,
                "input.file.truncated_while_stopped",
                {path: name.display().to_string(), bytes: meta.len(), offset: offset},
                "{}: truncated while stopped (now {} bytes, read to {}): reading it from its start",
                name.display(),
                meta.len(),
                offset
            );
            (offset, line) = (0, 0);
        }
        file.seek(SeekFrom::Start(if whole { 0 } else { offset }))?;
        let text = name.to_string_lossy();
        Ok(Tail {
            name: Arc::from(text.as_ref()),
            file,
            id: (meta.dev(), meta.ino()),
            read_to: offset,
            line,
            cutter: Cutter::new(decode::MAX_LINE),
            whole,
            // A gzip file or document fully read before the stop is done.
            done: whole && offset > 0 && offset >= meta.len(),
            metrics: self.shared.metrics.input(&text),
        })
    }

    /// Queues what `tail` has that was not read; at `last`, a last line
    /// without its newline too (the file will not grow).
    fn read(&mut self, tail: &mut Tail, last: bool) {
        if tail.whole {
            if !tail.done {
                self.read_whole(tail);
            }
            return;
        }
        let len = tail.file.metadata().map_or(0, |m| m.len());
        if len < tail.read_to {
            log!(
                Warn,
                "input.file.truncated",
                {path: &*tail.name, bytes: len, offset: tail.read_to},
                "{}: truncated (now {len} bytes, read to {}): reading it again from its start",
                tail.name,
                tail.read_to
            );
            tail.cutter.reset();
            tail.read_to = 0;
            tail.line = 0;
            if tail.file.seek(SeekFrom::Start(0)).is_err() {
                return;
            }
        }
        let mut buf = vec![0; CHUNK];
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let n = match tail.file.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    unreadable(Path::new(&*tail.name), &e);
                    return;
                }
            };
            let mut batch = Batch::new(
                tail.name.clone(),
                tail.name.clone(),
                self.cfg.source.map(|s| s.0),
            );
            let line = &mut tail.line;
            let mut cut = |p: Piece<'_>| {
                *line += 1;
                batch.items.push(match p {
                    Piece::Line(l) => Item::Line(*line, l.to_vec()),
                    Piece::TooLong(bytes) => Item::Problem(Problem::TooLong {
                        line: *line,
                        bytes,
                        limit: decode::MAX_LINE,
                    }),
                });
            };
            if n == 0 {
                if last {
                    tail.cutter.finish(&mut cut);
                    if !batch.items.is_empty() {
                        let entry = entry_at(tail, tail.read_to);
                        self.send(batch, &tail.metrics, Ack::Set(entry));
                    }
                }
                return;
            }
            tail.read_to += n as u64;
            tail.cutter.push(&buf[..n], &mut cut);
            if !batch.items.is_empty() {
                let entry = entry_at(tail, tail.read_to - tail.cutter.pending() as u64);
                if !self.send(batch, &tail.metrics, Ack::Set(entry)) {
                    return;
                }
            }
        }
    }

    /// A gzip file or a document: decoded whole, its events queued.
    fn read_whole(&mut self, tail: &mut Tail) {
        let opts = decode::Options {
            format: self.cfg.format.decode(),
            source: self.cfg.source.map(|s| s.0),
            max_line: decode::MAX_LINE,
            max_document: decode::MAX_DOCUMENT,
        };
        if tail.file.seek(SeekFrom::Start(0)).is_err() {
            return;
        }
        let size = tail.file.metadata().map_or(0, |m| m.len());
        let new = || {
            Batch::new(
                tail.name.clone(),
                tail.name.clone(),
                self.cfg.source.map(|s| s.0),
            )
        };
        let batch = std::cell::RefCell::new(new());
        let full = |b: &std::cell::RefCell<Batch>| b.borrow().items.len() >= 1000;
        let mut sent = Vec::new();
        let read = decode::read(
            &mut tail.file,
            opts,
            &mut |ev| {
                batch.borrow_mut().items.push(Item::Event(Box::new(ev)));
                if full(&batch) {
                    sent.push(batch.replace(new()));
                }
            },
            &mut |p| batch.borrow_mut().items.push(Item::Problem(p)),
        );
        // Queued once the whole file is decoded: a file that cannot be
        // read to its end is reported, what it held matched.
        sent.push(batch.into_inner());
        if let Err(e) = read {
            log!(
                Error,
                "input.file.read_failed",
                {path: &*tail.name, error: e.to_string()},
                "{}: {e}",
                tail.name
            );
        }
        tail.done = true;
        tail.read_to = size;
        let count = sent.len();
        for (i, b) in sent.into_iter().enumerate() {
            let ack = match i + 1 == count {
                true => Ack::Set(entry_at(tail, size)),
                false => Ack::Set(entry_at(tail, 0)),
            };
            if !self.send(b, &tail.metrics, ack) {
                return;
            }
        }
    }

    /// Queues a batch (waiting for room); `ack` is written once the
    /// matching thread is done with it. `false` once the queue is closed.
    fn send(&mut self, mut batch: Batch, metrics: &InputMetrics, ack: Ack) -> bool {
        self.acks();
        let done = Arc::new(AtomicBool::new(false));
        batch.done = Some(done.clone());
        let n = batch.items.len() as u64;
        if self
            .shared
            .queue
            .send_blocking(batch, &metrics.waits)
            .is_err()
        {
            return false;
        }
        metrics.events_in.inc_by(n);
        self.pending.push_back((done, ack));
        true
    }

    /// `ack`, to be written after every batch queued before it.
    fn after_last(&mut self, ack: Ack) {
        let done = match self.pending.back() {
            Some((done, _)) => done.clone(),
            None => Arc::new(AtomicBool::new(true)),
        };
        self.pending.push_back((done, ack));
    }

    /// Writes the checkpoints of the batches the matching thread is done with.
    fn acks(&mut self) {
        while let Some((done, _)) = self.pending.front() {
            if !done.load(Ordering::Acquire) {
                break;
            }
            let Some((_, ack)) = self.pending.pop_front() else {
                break;
            };
            let written = match ack {
                Ack::Set(e) => self.checkpoints.set(e),
                Ack::Remove(p) => self.checkpoints.remove(&p),
            };
            match written {
                Err(e) if !self.write_failed => {
                    self.write_failed = true;
                    log!(
                        Error,
                        "input.file.checkpoint_failed",
                        {error: e.to_string()},
                        "cannot write the checkpoints: {e}"
                    );
                }
                Err(_) => {}
                Ok(()) => self.write_failed = false,
            }
        }
    }
}

fn entry(path: &Path, tail: &Tail, offset: u64, line: usize) -> Entry {
    Entry {
        path: path.to_path_buf(),
        dev: tail.id.0,
        inode: tail.id.1,
        offset,
        line,
    }
}

fn entry_at(tail: &Tail, offset: u64) -> Entry {
    entry(Path::new(&*tail.name), tail, offset, tail.line)
}

/// A file of `dir` with the device and inode `id`.
fn find_inode(dir: &Path, id: (u64, u64)) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file() && (m.dev(), m.ino()) == id))
}

/// Whether `name` matches the glob `pattern`: `*`, `?`, `[abc]`, `[a-z]`,
/// `[!a-z]`; a name starting with `.` only by a pattern that does too.
pub fn glob(pattern: &[u8], name: &[u8]) -> bool {
    if name.first() == Some(&b'.') && pattern.first() != Some(&b'.') {
        return false;
    }
    fn at(p: &[u8], n: &[u8]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some(b'*') => (0..=n.len()).any(|i| at(&p[1..], &n[i..])),
            Some(b'?') => !n.is_empty() && at(&p[1..], &n[1..]),
            Some(b'[') => {
                let Some(close) = p.iter().skip(2).position(|&b| b == b']').map(|i| i + 2) else {
                    return n.first() == Some(&b'[') && at(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else {
                    return false;
                };
                let (negate, set) = match p[1] {
                    b'!' | b'^' => (true, &p[2..close]),
                    _ => (false, &p[1..close]),
                };
                let mut found = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == b'-' {
                        found |= (set[i]..=set[i + 2]).contains(&c);
                        i += 3;
                    } else {
                        found |= set[i] == c;
                        i += 1;
                    }
                }
                found != negate && at(&p[close + 1..], &n[1..])
            }
            Some(&b) => n.first() == Some(&b) && at(&p[1..], &n[1..]),
        }
    }
    at(pattern, name)
}

/// A file that cannot be opened or read.
fn unreadable(path: &Path, e: &dyn std::fmt::Display) {
    log!(
        Error,
        "input.file.unreadable",
        {path: path.display().to_string(), error: e.to_string()},
        "{}: cannot read: {e}",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let yes = [
            ("*.log", "audit.log"),
            ("audit-?.log", "audit-1.log"),
            ("audit-[0-9].log", "audit-7.log"),
            ("audit-[!0-9].log", "audit-x.log"),
            ("a*b*c", "aXbYc"),
            ("audit.log", "audit.log"),
        ];
        for (p, n) in yes {
            assert!(glob(p.as_bytes(), n.as_bytes()), "{p} {n}");
        }
        let no = [
            ("*.log", "audit.log.1"),
            ("*.log", ".hidden.log"),
            ("audit-[0-9].log", "audit-x.log"),
            ("audit-?.log", "audit-10.log"),
        ];
        for (p, n) in no {
            assert!(!glob(p.as_bytes(), n.as_bytes()), "{p} {n}");
        }
    }

    #[test]
    fn rotation_is_a_new_inode_at_the_path() {
        let dir = std::env::temp_dir().join(format!("ward-follow-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.log");
        std::fs::write(&path, "x\n").unwrap();
        let m = std::fs::metadata(&path).unwrap();
        let id = (m.dev(), m.ino());
        std::fs::rename(&path, dir.join("a.log.1")).unwrap();
        std::fs::write(&path, "y\n").unwrap();
        let m = std::fs::metadata(&path).unwrap();
        assert_ne!((m.dev(), m.ino()), id);
        assert_eq!(find_inode(&dir, id), Some(dir.join("a.log.1")));
        std::fs::remove_file(dir.join("a.log.1")).unwrap();
        assert_eq!(find_inode(&dir, id), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

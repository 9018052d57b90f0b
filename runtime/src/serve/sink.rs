//! Alert sinks of `ward serve`: stdout, a file rotated by size, and the
//! spools of the network sinks (serve/deliver.rs sends from them).
//!
//! The scan writes whole alert lines in each `write`; they are kept in a
//! buffer and go out on `flush` (after each batch of events) or when the
//! buffer is full, so a file is only ever rotated between lines. A flush
//! syncs the spools: the batch is on disk before the next is taken.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::deliver::Delivery;
use super::metrics::Metrics;
use super::spool::Spool;

/// Bytes buffered before they are written without waiting for a flush.
const BUFFER: usize = 64 << 10;

/// Every configured sink, written alike.
pub struct Sinks {
    stdout: Option<io::Stdout>,
    file: Option<Rotating>,
    spools: Vec<Arc<Spool>>,
    buf: Vec<u8>,
}

impl Sinks {
    /// Opens the sinks of the configuration and starts the network
    /// sinks' senders; a file or spool that cannot be opened is a startup
    /// error.
    pub fn open(
        cfg: &super::config::Sinks,
        metrics: &Metrics,
    ) -> Result<(Sinks, Delivery), String> {
        let file = match &cfg.file {
            Some(f) => Some(Rotating::open(&f.path, f.max_bytes as u64, f.keep)?),
            None => None,
        };
        let (delivery, spools) = Delivery::start(cfg, metrics)?;
        let stdout = cfg.stdout.unwrap_or(file.is_none() && spools.is_empty());
        let sinks = Sinks {
            stdout: stdout.then(io::stdout),
            file,
            spools,
            buf: Vec::new(),
        };
        Ok((sinks, delivery))
    }

    fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let mut result = Ok(());
        if let Some(out) = &mut self.stdout {
            let mut out = out.lock();
            result = out.write_all(&buf).and_then(|()| out.flush());
        }
        if let Some(f) = &mut self.file {
            let r = f.write_lines(&buf);
            result = result.and(r);
        }
        for spool in &self.spools {
            // Waits while the spool is full: back-pressure on the queue.
            result = result.and(spool.append(&buf));
        }
        self.buf = buf;
        self.buf.clear();
        result
    }
}

impl Write for Sinks {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BUFFER {
            self.write_out()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut result = self.write_out();
        for spool in &self.spools {
            result = result.and(spool.sync());
        }
        result
    }
}

/// A file opened for appending, moved to `PATH.1` (and `PATH.1` to
/// `PATH.2`, ... up to `keep`) when a write would take it past
/// `max_bytes`.
struct Rotating {
    path: PathBuf,
    file: File,
    size: u64,
    max_bytes: u64,
    keep: usize,
}

impl Rotating {
    fn open(path: &Path, max_bytes: u64, keep: usize) -> Result<Rotating, String> {
        let file = append(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(Rotating {
            path: path.to_path_buf(),
            file,
            size,
            max_bytes,
            keep,
        })
    }

    /// Writes whole lines, rotating first if they would not fit.
    fn write_lines(&mut self, lines: &[u8]) -> io::Result<()> {
        let full = self.size > 0 && self.size + lines.len() as u64 > self.max_bytes;
        if self.max_bytes > 0 && full {
            self.rotate()?;
        }
        self.file.write_all(lines)?;
        self.size += lines.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let numbered = |n: usize| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            // The oldest goes; each other moves up one.
            let _ = std::fs::remove_file(numbered(self.keep));
            for n in (1..self.keep).rev() {
                let from = numbered(n);
                if from.exists() {
                    std::fs::rename(&from, numbered(n + 1))?;
                }
            }
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.file = append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_between_lines_and_keeps_n() {
        let dir = std::env::temp_dir().join(format!("ward-sink-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("alerts.jsonl");
        let mut f = Rotating::open(&path, 10, 2).unwrap();
        for line in ["aaaa\n", "bbbb\n", "cccc\n", "dddd\n", "eeee\n"] {
            f.write_lines(line.as_bytes()).unwrap();
        }
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        assert_eq!(read(&path), "eeee\n");
        assert_eq!(read(&dir.join("alerts.jsonl.1")), "cccc\ndddd\n");
        assert_eq!(read(&dir.join("alerts.jsonl.2")), "aaaa\nbbbb\n");
        assert!(!dir.join("alerts.jsonl.3").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

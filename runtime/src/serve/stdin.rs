//! The stdin input: lines (or one document) read on a thread of their own.

use std::io::Read;
use std::os::fd::AsFd;
use std::sync::Arc;

use super::config::{InputFormat, StdinInput};
use super::lines::{Cutter, Piece};
use super::log::log;
use super::queue::{Batch, Item};
use super::webhook::Shared;
use crate::decode::{self, Problem};

pub const INPUT: &str = "stdin";

/// Reads stdin to its end, queueing its lines (waiting for room); then
/// calls `eof`.
pub fn run(cfg: StdinInput, shared: Arc<Shared>, eof: impl FnOnce()) {
    // A duplicate of descriptor 0: the main thread's locks are not taken.
    let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
        log!(Error, "input.stdin.unreadable", "stdin: cannot read it");
        return eof();
    };
    let mut input = std::fs::File::from(fd);
    let name: Arc<str> = Arc::from(INPUT);
    let metrics = shared.metrics.input(INPUT);
    let send = |batch: Batch| -> bool {
        let n = batch.items.len() as u64;
        if n == 0 {
            return true;
        }
        match shared.queue.send_blocking(batch, &metrics.waits) {
            Ok(()) => {
                metrics.events_in.inc_by(n);
                true
            }
            Err(b) => {
                log!(
                    Error,
                    "input.unmatched_at_stop",
                    {input: INPUT, lines: b.items.len()},
                    "stdin: {} line(s) read after the queue closed were not matched",
                    b.items.len()
                );
                false
            }
        }
    };
    let new = || Batch::new(name.clone(), name.clone(), cfg.source.map(|s| s.0));
    if cfg.format == InputFormat::Document {
        let opts = decode::Options {
            format: decode::Format::Document,
            source: cfg.source.map(|s| s.0),
            max_line: decode::MAX_LINE,
            max_document: decode::MAX_DOCUMENT,
        };
        let batch = std::cell::RefCell::new(new());
        let read = decode::read(
            &mut input,
            opts,
            &mut |ev| batch.borrow_mut().items.push(Item::Event(Box::new(ev))),
            &mut |p| batch.borrow_mut().items.push(Item::Problem(p)),
        );
        if let Err(e) = read {
            log!(Error, "input.stdin.read_failed", {error: e.to_string()}, "stdin: {e}");
        }
        send(batch.into_inner());
        return eof();
    }
    let mut cutter = Cutter::new(decode::MAX_LINE);
    let mut line = 0;
    let mut buf = vec![0; 256 << 10];
    loop {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                log!(
                    Error,
                    "input.stdin.read_failed",
                    {line: line, error: e.to_string()},
                    "stdin: cannot read after line {line}: {e}"
                );
                0
            }
        };
        let mut batch = new();
        let mut cut = |p: Piece<'_>| {
            line += 1;
            batch.items.push(match p {
                Piece::Line(l) => Item::Line(line, l.to_vec()),
                Piece::TooLong(bytes) => Item::Problem(Problem::TooLong {
                    line,
                    bytes,
                    limit: decode::MAX_LINE,
                }),
            });
        };
        if n == 0 {
            cutter.finish(&mut cut);
            send(batch);
            break;
        }
        cutter.push(&buf[..n], &mut cut);
        if !send(batch) {
            break;
        }
    }
    eof();
}

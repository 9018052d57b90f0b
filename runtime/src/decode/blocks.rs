//! Reading in blocks: a parallel scan's reader hands the lines of a file
//! to its workers in the buffer they were read into, instead of offering
//! them one by one to be copied into a batch ([`BlockSink`]). The
//! reader's own work per line is then only finding where the last line of
//! a block ends; splitting, trimming and offering lines is done by the
//! workers ([`super::read_block`]).

use std::io::{BufRead, ErrorKind, Read};
use std::ops::Range;

/// Where a reader hands whole blocks of lines.
pub struct BlockSink<'h> {
    /// Bytes of lines per block, at most; a longer line goes alone.
    pub block_bytes: usize,
    /// A buffer to read into (a batch's storage done with, or a new one);
    /// its length need not be zero: what it holds is overwritten.
    pub buffer: &'h mut dyn FnMut() -> Vec<u8>,
    /// `bytes[range]` holds whole lines, each ending in a newline, the
    /// first numbered (the third argument); the fourth says whether it is
    /// the last block of the input (nothing was left to read after it).
    pub block: &'h mut dyn FnMut(Vec<u8>, Range<usize>, usize, bool),
}

/// The least the reader's buffer holds, whatever the block size: lines
/// longer than it are read through [`BufRead`], a piece at a time.
const MIN_BUFFER: usize = 1 << 16;

/// A buffered reader whose buffer goes out whole as a block, its unread
/// rest moved to a new buffer (the smaller part is copied: a block much
/// smaller than the buffer is copied out instead). Lines that no block
/// takes (one longer than the buffer, the last one without a newline) are
/// read through its [`BufRead`].
pub(super) struct Blocks<'s, 'h, R> {
    inner: R,
    /// Its length is the buffer's size: all of it initialized once.
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    eof: bool,
    /// A read failed: the lines read before it go out first, then this.
    error: Option<std::io::Error>,
    sink: &'s mut BlockSink<'h>,
}

/// `buf` at length `size`, its bytes kept: only what it never held is
/// zeroed (a buffer that comes back is not zeroed again).
fn sized(buf: &mut Vec<u8>, size: usize) {
    buf.resize(size, 0);
}

impl<'s, 'h, R: Read> Blocks<'s, 'h, R> {
    /// Reads `inner` on from `rest`, what a reader before had buffered.
    pub(super) fn new(rest: &[u8], inner: R, sink: &'s mut BlockSink<'h>) -> Self {
        let size = sink.block_bytes.max(MIN_BUFFER).max(rest.len());
        let mut buf = (sink.buffer)();
        sized(&mut buf, size);
        buf[..rest.len()].copy_from_slice(rest);
        Blocks {
            inner,
            buf,
            pos: 0,
            filled: rest.len(),
            eof: false,
            error: None,
            sink,
        }
    }

    /// Hands the next block to the sink, its first line numbered
    /// `*line_no + 1`, and counts its lines into `line_no`; `false` when
    /// no whole line is buffered: at the end of input, or before a line
    /// longer than the buffer (the caller reads it through [`BufRead`]).
    pub(super) fn block(&mut self, line_no: &mut usize) -> std::io::Result<bool> {
        let limit = self.sink.block_bytes.max(1);
        let end = loop {
            // A block's worth buffered, or as much as there is room for.
            while !self.eof && self.filled < self.buf.len() && self.filled - self.pos < limit {
                self.read_more();
            }
            let avail = &self.buf[self.pos..self.filled];
            let window = &avail[..avail.len().min(limit)];
            let end = memchr::memrchr(b'\n', window).or_else(|| memchr::memchr(b'\n', avail));
            if let Some(i) = end {
                break self.pos + i + 1;
            }
            if self.eof {
                // After a failed read, what follows the last whole line is
                // dropped, as a line read to the failure is.
                return self.error.take().map_or(Ok(false), Err);
            }
            if self.filled < self.buf.len() {
                self.read_more();
            } else if self.pos > 0 {
                self.buf.copy_within(self.pos..self.filled, 0);
                self.filled -= self.pos;
                self.pos = 0;
            } else {
                return Ok(false);
            }
        };
        let range = self.pos..end;
        let lines = bytecount::count(&self.buf[range.clone()], b'\n');
        let last = self.eof && end == self.filled;
        let mut fresh = (self.sink.buffer)();
        let (bytes, range) = if range.len() < self.filled - end {
            // The block is the smaller part: it goes out copied.
            fresh.clear();
            fresh.extend_from_slice(&self.buf[range.clone()]);
            self.pos = end;
            let len = fresh.len();
            (fresh, 0..len)
        } else {
            sized(&mut fresh, self.buf.len());
            let rest = self.filled - end;
            fresh[..rest].copy_from_slice(&self.buf[end..self.filled]);
            self.pos = 0;
            self.filled = rest;
            (std::mem::replace(&mut self.buf, fresh), range)
        };
        (self.sink.block)(bytes, range, *line_no + 1, last);
        *line_no += lines;
        Ok(true)
    }

    /// One read into the room after what is buffered (there is some). A
    /// failure ends the input once the whole lines before it are out.
    fn read_more(&mut self) {
        loop {
            match self.inner.read(&mut self.buf[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.error = Some(e);
                    self.eof = true;
                }
            }
            return;
        }
    }
}

impl<R: Read> Read for Blocks<'_, '_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Blocks<'_, '_, R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.pos == self.filled && !self.eof {
            self.pos = 0;
            self.filled = 0;
            self.read_more();
        }
        if self.pos == self.filled {
            if let Some(e) = self.error.take() {
                return Err(e);
            }
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use proptest::prelude::*;

    use super::super::{read_block, read_in_blocks, read_with, Format, Handlers, Options};
    use super::*;

    /// Runs `f` with handlers that note what they are called with: lines
    /// offered (a line holding `decline` is declined, so it is decoded in
    /// full), records offered, events and problems, with their lines.
    fn noting<R>(note: &dyn Fn(String), f: impl FnOnce(Handlers<'_>) -> R) -> R {
        let mut line = |t: &[u8], n: usize| {
            note(format!("line {n}: {}", String::from_utf8_lossy(t)));
            !t.windows(7).any(|w| w == b"decline")
        };
        let mut record = |t: &[u8], n: usize| {
            note(format!("record {n}: {}", String::from_utf8_lossy(t)));
            true
        };
        let mut event = |e: super::super::Event| note(format!("event {}: {}", e.line, e.value));
        let mut problem = |p: super::super::Problem| note(format!("problem {p:?}"));
        f(Handlers {
            line: Some(&mut line),
            record: Some(&mut record),
            event: &mut event,
            problem: &mut problem,
        })
    }

    /// `data`, then (with `at`) a failed read after `at` bytes of it.
    struct Failing<'a> {
        data: &'a [u8],
        at: Option<usize>,
    }

    impl Read for Failing<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            if self.at == Some(0) {
                return Err(std::io::Error::other("the disk went away"));
            }
            let n = out
                .len()
                .min(self.data.len())
                .min(self.at.unwrap_or(usize::MAX));
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.at = self.at.map(|a| a - n);
            Ok(n)
        }
    }

    /// What reading `text` calls, in order, read line by line or (with a
    /// block size) in blocks, each block read as a worker reads it.
    fn calls(text: &[u8], opts: Options, block_bytes: Option<usize>) -> Vec<String> {
        calls_failing(text, None, opts, block_bytes)
    }

    /// [`calls`] on a read that fails after `fail_at` bytes.
    fn calls_failing(
        text: &[u8],
        fail_at: Option<usize>,
        opts: Options,
        block_bytes: Option<usize>,
    ) -> Vec<String> {
        let text = Failing {
            data: text,
            at: fail_at,
        };
        let log = RefCell::new(Vec::new());
        let note = |s: String| log.borrow_mut().push(s);
        let read = match block_bytes {
            None => noting(&note, |h| read_with(text, opts, h)),
            Some(block_bytes) => {
                let spares = RefCell::new(Vec::<Vec<u8>>::new());
                let mut sink = BlockSink {
                    block_bytes,
                    buffer: &mut || spares.borrow_mut().pop().unwrap_or_default(),
                    block: &mut |bytes, range, line, _last| {
                        // Whole lines, numbered on from those before.
                        assert!(bytes[range.clone()].ends_with(b"\n"));
                        noting(&note, |h| read_block(&bytes[range], line, opts, h));
                        // Given back dirty, as a worker gives it back.
                        spares.borrow_mut().push(bytes);
                    },
                };
                noting(&note, |h| read_in_blocks(text, opts, h, &mut sink))
            }
        };
        let mut log = log.into_inner();
        log.push(format!("end: {:?}", read.map_err(|e| e.to_string())));
        log
    }

    const LINES: &[&str] = &[
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"get","user":{"username":"a"}}"#,
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","verb":"decline","user":{"username":"b"}}"#,
        r#"{"Records":[{"eventVersion":"1.08","eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}"#,
        "",
        "   \t",
        "not json",
        r#"{"half":"#,
        r#"{"a":1}{"b":2}"#,
        "[1,2,3]",
        r#"{"long":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#,
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ];

    fn text_of(picks: &[(usize, bool)], end_newline: bool) -> Vec<u8> {
        let mut text = Vec::new();
        for (i, &(k, crlf)) in picks.iter().enumerate() {
            text.extend_from_slice(LINES[k % LINES.len()].as_bytes());
            if i + 1 < picks.len() || end_newline {
                text.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
        }
        text
    }

    fn gzipped(text: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).expect("gzip in memory");
        gz.finish().expect("gzip in memory")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Handing out blocks and reading them in turn calls exactly what
        /// reading line by line calls: the same lines, records, events and
        /// problems with the same numbers, whatever the block size (down to
        /// blocks shorter than a line), the line limit (lines past it kept
        /// as documents or reported), the format, and whether the text ends
        /// in a newline, with a byte-order mark or gzip, and when a read
        /// fails part way. Numbering a block one line off, dropping the
        /// bytes after a block, or the whole lines read before a failure,
        /// fails it.
        #[test]
        fn blocks_read_as_lines_read(
            picks in proptest::collection::vec((0..LINES.len(), any::<bool>()), 0..40),
            end_newline in any::<bool>(),
            block_bytes in prop_oneof![Just(1usize), 1..300usize, Just(4096), Just(1 << 16)],
            max_line in prop_oneof![Just(super::super::MAX_LINE), 20..120usize],
            lines_only in any::<bool>(),
            bom in any::<bool>(),
            gzip in any::<bool>(),
            fail in proptest::option::of(0..3000usize),
        ) {
            let mut text = text_of(&picks, end_newline);
            if bom {
                text.splice(0..0, b"\xEF\xBB\xBF".iter().copied());
            }
            if gzip {
                text = gzipped(&text);
            }
            let opts = Options {
                format: if lines_only { Format::JsonLines } else { Format::Auto },
                source: None,
                max_line,
                max_document: 1 << 20,
            };
            // A read that fails part way: the lines before it are read,
            // then the failure is reported after as many lines.
            let fail = fail.filter(|at| *at < text.len());
            let want = calls_failing(&text, fail, opts, None);
            let got = calls_failing(&text, fail, opts, Some(block_bytes));
            prop_assert_eq!(got, want);
        }
    }

    /// A file much larger than the buffer: blocks go out whole (the buffer
    /// handed away) and small (copied out), lines run across the end of
    /// the buffer, and one line is longer than the buffer.
    #[test]
    fn a_large_file_reads_as_lines_read() {
        let mut text = Vec::new();
        for i in 0..20_000 {
            let pad = "p".repeat(i * 7919 % 3000);
            let line = format!(r#"{{"kind":"Event","n":{i},"pad":"{pad}"}}"#);
            text.extend_from_slice(line.as_bytes());
            text.push(b'\n');
            if i == 12_345 {
                let huge = format!(r#"{{"huge":"{}"}}"#, "h".repeat(3 * MIN_BUFFER));
                text.extend_from_slice(huge.as_bytes());
                text.push(b'\n');
            }
        }
        let opts = Options::from(Format::Auto);
        let want = calls(&text, opts, None);
        assert!(want.len() > 20_000);
        for block_bytes in [1000, MIN_BUFFER, 1 << 19] {
            assert!(
                calls(&text, opts, Some(block_bytes)) == want,
                "{block_bytes}"
            );
        }
        // Inflated as it is read: the gzip reader gives what it has.
        let gz = gzipped(&text);
        assert!(calls(&gz, opts, Some(1 << 19)) == want, "gzip");
    }
}

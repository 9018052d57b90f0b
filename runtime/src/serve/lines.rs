//! Cutting a byte stream into lines, as it arrives: followed files,
//! newline-framed syslog and stdin share it.

/// What [`Cutter::push`] finds.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A complete line, without its `\n` (nor a `\r` before it).
    Line(&'a [u8]),
    /// A line longer than the limit, newline included: skipped.
    TooLong(usize),
}

/// Holds the partial last line until its newline comes; a line past
/// `max` bytes is not held but skipped to its newline and reported.
pub struct Cutter {
    buf: Vec<u8>,
    max: usize,
    /// Bytes of an over-long line skipped so far, its newline not yet seen.
    skipping: Option<usize>,
}

impl Cutter {
    pub fn new(max: usize) -> Cutter {
        Cutter {
            buf: Vec::new(),
            max,
            skipping: None,
        }
    }

    /// Cuts `data`, after what was held, into lines given to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut dyn FnMut(Piece<'_>)) {
        while let Some(i) = memchr::memchr(b'\n', data) {
            let (head, rest) = (&data[..i], &data[i + 1..]);
            data = rest;
            if let Some(skipped) = self.skipping.take() {
                out(Piece::TooLong(skipped + i + 1));
                continue;
            }
            let len = self.buf.len() + i + 1;
            if len > self.max {
                self.buf.clear();
                out(Piece::TooLong(len));
            } else if self.buf.is_empty() {
                out(Piece::Line(trim_cr(head)));
            } else {
                self.buf.extend_from_slice(head);
                out(Piece::Line(trim_cr(&self.buf)));
                self.buf.clear();
            }
        }
        if let Some(skipped) = &mut self.skipping {
            *skipped += data.len();
        } else if self.buf.len() + data.len() > self.max {
            self.skipping = Some(self.buf.len() + data.len());
            self.buf.clear();
        } else {
            self.buf.extend_from_slice(data);
        }
    }

    /// Bytes held of a line whose newline has not come.
    pub fn pending(&self) -> usize {
        self.skipping.unwrap_or(self.buf.len())
    }

    /// The end of the stream: a last line without its newline is a line.
    pub fn finish(&mut self, out: &mut dyn FnMut(Piece<'_>)) {
        if let Some(skipped) = self.skipping.take() {
            out(Piece::TooLong(skipped));
        } else if !self.buf.is_empty() {
            out(Piece::Line(trim_cr(&self.buf)));
        }
        self.buf.clear();
    }

    /// Forgets a partial line (the file was truncated under it).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.skipping = None;
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(c: &mut Cutter, data: &[u8]) -> Vec<String> {
        let mut got = Vec::new();
        c.push(data, &mut |p| {
            got.push(match p {
                Piece::Line(l) => String::from_utf8_lossy(l).into_owned(),
                Piece::TooLong(n) => format!("too long: {n}"),
            })
        });
        got
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let mut c = Cutter::new(10);
        assert_eq!(cut(&mut c, b"ab\r\ncd"), ["ab"]);
        assert_eq!(c.pending(), 2);
        assert_eq!(cut(&mut c, b"e"), Vec::<String>::new());
        assert_eq!(cut(&mut c, b"f\n\ng\n"), ["cdef", "", "g"]);
        assert_eq!(c.pending(), 0);
        cut(&mut c, b"tail");
        let mut last = Vec::new();
        c.finish(&mut |p| last.push(format!("{p:?}")));
        assert_eq!(last, ["Line([116, 97, 105, 108])"]);
    }

    #[test]
    fn long_lines_are_skipped_to_their_newline_and_counted() {
        let mut c = Cutter::new(5);
        assert_eq!(cut(&mut c, b"abcdef\nok\n"), ["too long: 7", "ok"]);
        assert_eq!(cut(&mut c, b"abc"), Vec::<String>::new());
        assert_eq!(cut(&mut c, b"defgh"), Vec::<String>::new());
        assert_eq!(c.pending(), 8);
        assert_eq!(cut(&mut c, b"ij\nxy\n"), ["too long: 11", "xy"]);
        // Exactly at the limit, newline included.
        assert_eq!(cut(&mut c, b"abcd\n"), ["abcd"]);
    }
}

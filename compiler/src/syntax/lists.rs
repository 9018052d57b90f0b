//! Long lists of plain strings, read without pest.
//!
//! Threat-intel and allow lists run to a million entries, and pest spends
//! microseconds on each (a rule call, a stack check and a snapshot per
//! token). Before a file is parsed, [`plain_lists`] finds each top-level
//! `list NAME = [ ... ]` in column 0 whose items are all string literals
//! and reads it by hand. The parser is then given the text with those items
//! cut out (`[]`), and the items are put back into the tree with their spans
//! in the original text ([`Cuts`]).
//!
//! The hand-written lexer follows the grammar for the little it reads
//! (whitespace, `#` comments, cooked and raw strings, commas). Anything else
//! in a list, such as a number or a nested list, leaves that list to pest.
//! If the cut text does not parse, or a cut list is not where the parser
//! finds a list declaration, the file is parsed whole as before, so errors
//! are always reported from the original text.

use super::ast::Span;

/// Lists shorter than this are left to pest: the saving is nil and one
/// path reads the files people write by hand.
pub(super) const MIN_ITEMS: usize = 256;

/// A list declaration's literal, read by hand.
#[derive(Debug)]
pub(super) struct PlainList {
    /// Offset of the `[` in the original text.
    pub open: usize,
    /// Offset of the `]` in the original text.
    pub close: usize,
    /// Each item's span in the original text (quotes, and the `r` of a raw
    /// string, included) and whether it is raw.
    pub items: Vec<(Span, bool)>,
}

/// Finds the top-level list declarations of `text` that hold at least
/// `min_items` items, all strings.
pub(super) fn plain_lists(text: &str, min_items: usize) -> Vec<PlainList> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let line_start = i == 0 || b[i - 1] == b'\n';
        if line_start
            && b[i..].starts_with(b"list")
            && !b.get(i + 4).is_some_and(|&c| ident_char(c))
        {
            if let Some(list) = declaration(b, i + 4).filter(|l| l.items.len() >= min_items) {
                i = list.close + 1;
                out.push(list);
                continue;
            }
        }
        i = match b[i] {
            b'"' => string_end(b, i, raw_quote(b, i)).unwrap_or(b.len()),
            b'#' => comment_end(b, i),
            b'\n' => i + 1,
            // Nothing else matters until the next quote, comment or line
            // (whose start may be a `list`).
            _ => match memchr::memchr3(b'"', b'#', b'\n', &b[i + 1..]) {
                Some(n) if b[i + 1 + n] == b'\n' => i + 2 + n,
                Some(n) => i + 1 + n,
                None => b.len(),
            },
        };
    }
    out
}

/// Reads `NAME = [ "a", r"b", ... ]` after the `list` keyword.
fn declaration(b: &[u8], at: usize) -> Option<PlainList> {
    let mut i = skip_trivia(b, at);
    if i == at
        || !b
            .get(i)
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
    {
        return None;
    }
    while b.get(i).is_some_and(|&c| ident_char(c)) {
        i += 1;
    }
    i = skip_trivia(b, i);
    if b.get(i) != Some(&b'=') {
        return None;
    }
    i = skip_trivia(b, i + 1);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    let open = i;
    let mut items = Vec::new();
    i = skip_trivia(b, i + 1);
    loop {
        if b.get(i) == Some(&b']') {
            return Some(PlainList {
                open,
                close: i,
                items,
            });
        }
        let raw = b.get(i) == Some(&b'r');
        let quote = if raw { i + 1 } else { i };
        if b.get(quote) != Some(&b'"') {
            return None;
        }
        let end = string_end(b, quote, raw)?;
        items.push((Span::new(i, end), raw));
        i = skip_trivia(b, end);
        match b.get(i) {
            Some(b',') => i = skip_trivia(b, i + 1),
            Some(b']') => {}
            _ => return None,
        }
    }
}

/// The offset after the string whose opening quote is at `quote`; `None`
/// if it is not closed where the grammar wants it (a cooked string ends
/// on its line).
fn string_end(b: &[u8], quote: usize, raw: bool) -> Option<usize> {
    let close = string_close(b, quote + 1, raw);
    (b.get(close) == Some(&b'"')).then_some(close + 1)
}

/// Where the string whose text starts at `i` stops: its closing quote, or
/// (a cooked string left open) the end of its line, or the end of `b`.
/// Escapes (`\` and the byte after it) are skipped in a cooked string; a
/// raw one has none and may span lines.
pub(super) fn string_close(b: &[u8], mut i: usize, raw: bool) -> usize {
    if raw {
        return memchr::memchr(b'"', b.get(i..).unwrap_or(&[])).map_or(b.len(), |n| i + n);
    }
    while let Some(n) = memchr::memchr3(b'"', b'\\', b'\n', b.get(i..).unwrap_or(&[])) {
        i += n;
        if b[i] != b'\\' {
            return i;
        }
        i += 2;
    }
    b.len()
}

/// Whether the quote at `i` opens a raw string: `r"`, unless the `r` ends a
/// longer word (as [`super::comments`] decides).
fn raw_quote(b: &[u8], i: usize) -> bool {
    i > 0 && b[i - 1] == b'r' && (i < 2 || !ident_char(b[i - 2]))
}

fn comment_end(b: &[u8], i: usize) -> usize {
    memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n)
}

/// Skips the grammar's WHITESPACE and COMMENT.
fn skip_trivia(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => i = comment_end(b, i),
            _ => break,
        }
    }
    i
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The way back from offsets in the text given to the parser, once plain
/// lists are cut out, to offsets in the original.
pub(super) struct Cuts {
    /// For each cut, the offset of its `]` in the cut text and the bytes
    /// removed up to and including this cut.
    shifts: Vec<(usize, usize)>,
}

impl Cuts {
    /// Cuts the items of `lists` (in order of offset) out of `text`.
    pub fn new(text: &str, lists: &[PlainList]) -> (String, Cuts) {
        let mut out = String::with_capacity(text.len());
        let mut shifts = Vec::with_capacity(lists.len());
        let mut from = 0;
        let mut removed = 0;
        for l in lists {
            out.push_str(&text[from..=l.open]);
            removed += l.close - l.open - 1;
            shifts.push((out.len(), removed));
            from = l.close;
        }
        out.push_str(&text[from..]);
        (out, Cuts { shifts })
    }

    /// The offset in the cut text of the `[` of the `k`-th cut list.
    pub fn start(&self, k: usize) -> usize {
        self.shifts[k].0 - 1
    }

    /// The original offset of `pos` in the cut text.
    pub fn original(&self, pos: usize) -> usize {
        let n = self.shifts.partition_point(|&(at, _)| at <= pos);
        pos + n.checked_sub(1).map_or(0, |k| self.shifts[k].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list found: its brackets, and its items (span, raw).
    type Found = (usize, usize, Vec<(usize, usize, bool)>);

    /// `plain_lists` and `super::super::comments` as they read a byte at
    /// a time before they skipped to the next byte that matters with
    /// memchr: the reference the fast scans are held to.
    fn lists_bytewise(text: &str, min_items: usize) -> Vec<Found> {
        let b = text.as_bytes();
        let end_of = |b: &[u8], quote: usize, raw: bool| -> Option<usize> {
            let mut i = quote + 1;
            while i < b.len() {
                match b[i] {
                    b'"' => return Some(i + 1),
                    b'\\' if !raw => i += 2,
                    b'\n' if !raw => return None,
                    _ => i += 1,
                }
            }
            None
        };
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let line_start = i == 0 || b[i - 1] == b'\n';
            if line_start
                && b[i..].starts_with(b"list")
                && !b.get(i + 4).is_some_and(|&c| ident_char(c))
            {
                if let Some(l) = declaration(b, i + 4).filter(|l| l.items.len() >= min_items) {
                    i = l.close + 1;
                    let items = l.items.iter().map(|(s, r)| (s.start, s.end, *r)).collect();
                    out.push((l.open, l.close, items));
                    continue;
                }
            }
            i = match b[i] {
                b'"' => end_of(b, i, raw_quote(b, i)).unwrap_or(b.len()),
                b'#' => b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |n| i + n),
                _ => i + 1,
            };
        }
        out
    }

    fn comments_bytewise(text: &str) -> Vec<std::ops::Range<usize>> {
        let b = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    let raw = i > 0
                        && b[i - 1] == b'r'
                        && (i < 2 || !(b[i - 2].is_ascii_alphanumeric() || b[i - 2] == b'_'));
                    i += 1;
                    while i < b.len() && b[i] != b'"' && (raw || b[i] != b'\n') {
                        i += if !raw && b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'#' => {
                    let end = text[i..].find('\n').map_or(b.len(), |n| i + n);
                    out.push(i..end);
                    i = end;
                }
                _ => i += 1,
            }
        }
        out
    }

    proptest::proptest! {
        /// Texts of the bytes the scans stop at (quotes, escapes, `#`,
        /// newlines, the `r` of raw strings, `list`, brackets) and filler:
        /// the fast scans find what reading a byte at a time finds.
        #[test]
        fn fast_scans_find_what_bytewise_scans_find(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "\"", "\\", "#", "\n", "r", "r\"", "list a = [", "list b = [\"x\", r\"y\"]\n",
                "]", ",", " ", "\"v\"", "é", "x", "\nlist c = [\"q\"]", "# c\n",
            ]), 0..40)
        ) {
            let text: String = parts.concat();
            let fast: Vec<_> = plain_lists(&text, 1)
                .into_iter()
                .map(|l| (l.open, l.close, l.items.iter().map(|(s, r)| (s.start, s.end, *r)).collect::<Vec<_>>()))
                .collect();
            proptest::prop_assert_eq!(fast, lists_bytewise(&text, 1));
            proptest::prop_assert_eq!(super::super::comments(&text), comments_bytewise(&text));
        }
    }

    fn items<'t>(text: &'t str, l: &PlainList) -> Vec<&'t str> {
        l.items.iter().map(|(s, _)| &text[s.start..s.end]).collect()
    }

    #[test]
    fn reads_strings_raw_strings_comments_and_a_trailing_comma() {
        let text = "list a = [ # first\n  \"x\\\"y\", r\"a\\b\" ,\n# c\n\"z\",\n]\n";
        let lists = plain_lists(text, 1);
        assert_eq!(lists.len(), 1);
        assert_eq!(items(text, &lists[0]), ["\"x\\\"y\"", "r\"a\\b\"", "\"z\""]);
        assert_eq!(
            lists[0].items.iter().map(|i| i.1).collect::<Vec<_>>(),
            [false, true, false]
        );
        assert_eq!((lists[0].open, lists[0].close), (9, text.len() - 2));
    }

    #[test]
    fn leaves_to_pest_what_is_not_a_plain_list() {
        for text in [
            "list a = [\"x\", 1]\n",
            "list a = [\"x\" \"y\"]\n",
            "list a = [\"x\n\"]\n",
            "list a = [[\"x\"]]\n",
            "list a = [\"x\"\n",
            "  list a = [\"x\"]\n",
            "lists a = [\"x\"]\n",
            "list = [\"x\"]\n",
            "# list a = [\"x\"]\n",
            "macro m = x == \"\nlist a = [\\\"x\\\"]\"\n",
            "macro m = x == r\"\nlist a = [\"x\"]\"\n",
        ] {
            assert!(plain_lists(text, 1).is_empty(), "{text:?}");
        }
    }

    #[test]
    fn counts_items_against_the_minimum() {
        let text = "list a = [\"x\", \"y\"]\nlist b = [\"z\"]\n";
        assert_eq!(plain_lists(text, 2).len(), 1);
        assert_eq!(plain_lists(text, 1).len(), 2);
        assert_eq!(plain_lists(text, 3).len(), 0);
    }

    #[test]
    fn maps_cut_offsets_back() {
        let text = "list a = [\"x\", \"y\"]\nlist b = [\"z\"]\nrule r {}\n";
        let lists = plain_lists(text, 1);
        let (cut_text, cuts) = Cuts::new(text, &lists);
        assert_eq!(cut_text, "list a = []\nlist b = []\nrule r {}\n");
        for (cut, orig) in [
            (0, 0),
            (9, 9),
            (10, 18),
            (11, 19),
            (21, 29),
            (22, 33),
            (23, 34),
        ] {
            assert_eq!(cuts.original(cut), orig, "{cut}");
            assert_eq!(&cut_text[cut..=cut], &text[orig..=orig]);
        }
    }
}

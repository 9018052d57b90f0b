//! Syntax: the grammar, the tree and the parser.

pub mod ast;
pub mod format;
mod lists;
pub mod parse;
mod recover;
pub mod template;
pub mod tokens;

pub use parse::parse;

/// The reserved words of the grammar (`keyword` in ward.pest): never a
/// name, a list, a macro or a path's first segment.
pub const RESERVED: [&str; 24] = [
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "true",
    "false",
    "any",
    "all",
    "exists",
    "cidr",
    "icontains",
    "contains",
    "istartswith",
    "startswith",
    "iendswith",
    "endswith",
    "iglob",
    "glob",
    "imatches",
    "matches",
    "iequals",
    "equals",
];

/// Whether `s` may be written bare as a name or path segment (`ident` in
/// ward.pest): ASCII letters, digits and `_`, not starting with a digit,
/// and not reserved.
pub fn is_plain_name(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&s)
}

/// The byte ranges of the `#` comments of `text`, in order (each up to, not
/// including, its newline). A `#` inside a string is not a comment: cooked
/// strings (`"..."`, `\` escapes) end at their quote or, unterminated, at
/// the line's end; raw strings (`r"..."`, no escapes) may span lines.
pub(crate) fn comments(text: &str) -> Vec<std::ops::Range<usize>> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                // `r"` opens a raw string unless the `r` ends a longer word.
                let raw = i > 0
                    && b[i - 1] == b'r'
                    && (i < 2 || !(b[i - 2].is_ascii_alphanumeric() || b[i - 2] == b'_'));
                i = lists::string_close(b, i + 1, raw) + 1;
            }
            b'#' => {
                let end = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n);
                out.push(i..end);
                i = end;
            }
            // Nothing else matters until the next quote or comment.
            _ => i = memchr::memchr2(b'"', b'#', &b[i..]).map_or(b.len(), |n| i + n),
        }
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod format_tests;

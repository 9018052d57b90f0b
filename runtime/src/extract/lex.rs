//! The JSON text under extraction, read byte by byte: whitespace, strings,
//! numbers, literals and skipped values.
//!
//! Strict in the way a full parse into a `serde_json::Value` is strict, so
//! that a line extraction accepts is a line full decoding accepts: escapes
//! checked (`\u` surrogates paired), no control characters in strings,
//! numbers in JSON's grammar and within f64 range, nesting limited. What is
//! refused here ([`Bad`]) goes to full decoding, which says what is wrong;
//! so refusing more than serde_json is safe (only slower) and accepting
//! more is a bug. The caller has checked the text is UTF-8.

/// The text is not what a full parse accepts, or not something extraction
/// handles: full decoding decides.
#[derive(Debug, PartialEq)]
pub struct Bad;

pub type Lexed<T> = Result<T, Bad>;

/// Objects and arrays nested deeper than this are refused (serde_json's
/// limit for a `Value` is 127).
pub const MAX_DEPTH: u32 = 120;

/// The index of the first byte at or after `i` that is not whitespace.
#[inline]
pub fn ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\t' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// A string's end: `i` is just past its opening quote; returns the index
/// of the closing quote and whether an escape occurs in between.
#[inline(always)]
pub fn string_end(b: &[u8], i: usize) -> Lexed<(usize, bool)> {
    // Most strings have no escape: their end is the first byte flagged.
    let end = ward_compiler::json_text::special(b, i);
    match b.get(end) {
        Some(b'"') => Ok((end, false)),
        _ => string_end_from(b, end),
    }
}

/// [`string_end`] past its first flagged byte, at `i`.
#[inline(never)]
fn string_end_from(b: &[u8], mut i: usize) -> Lexed<(usize, bool)> {
    let mut escaped = false;
    loop {
        match b.get(i) {
            Some(b'"') => return Ok((i, escaped)),
            Some(b'\\') => {
                escaped = true;
                i = escape_end(b, i + 1)?;
            }
            Some(0..=0x1f) | None => return Err(Bad),
            Some(_) => i += 1,
        }
        i = ward_compiler::json_text::special(b, i);
    }
}

/// Past one escape; `i` is just past its backslash. A `\u` escape of a
/// leading surrogate must be followed by one of a trailing surrogate.
fn escape_end(b: &[u8], i: usize) -> Lexed<usize> {
    match b.get(i) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
        Some(b'u') => match hex4(b, i + 1)? {
            0xDC00..=0xDFFF => Err(Bad),
            0xD800..=0xDBFF => {
                if b.get(i + 5) != Some(&b'\\') || b.get(i + 6) != Some(&b'u') {
                    return Err(Bad);
                }
                match hex4(b, i + 7)? {
                    0xDC00..=0xDFFF => Ok(i + 11),
                    _ => Err(Bad),
                }
            }
            _ => Ok(i + 5),
        },
        _ => Err(Bad),
    }
}

fn hex4(b: &[u8], i: usize) -> Lexed<u32> {
    let digits = b.get(i..i + 4).ok_or(Bad)?;
    digits.iter().try_fold(0u32, |n, &d| {
        let v = (d as char).to_digit(16).ok_or(Bad)?;
        Ok(n * 16 + v)
    })
}

/// A string's text with its escapes decoded; `raw` is what lies between
/// the quotes, already checked by [`string_end`].
pub fn unescape(raw: &str) -> Lexed<String> {
    let mut out = String::with_capacity(raw.len());
    unescape_into(raw, &mut out)?;
    Ok(out)
}

/// [`unescape`], appended to `out`.
pub fn unescape_into(raw: &str, out: &mut String) -> Lexed<()> {
    let b = raw.as_bytes();
    let mut i = 0;
    while let Some(at) = memchr::memchr(b'\\', &b[i..]).map(|p| p + i) {
        out.push_str(raw.get(i..at).ok_or(Bad)?);
        let c = match b.get(at + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let n = hex4(b, at + 2)?;
                if (0xD800..=0xDBFF).contains(&n) {
                    let low = hex4(b, at + 8)?;
                    i = at + 12;
                    let c = 0x1_0000 + ((n - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3ff);
                    out.push(char::from_u32(c).ok_or(Bad)?);
                } else {
                    i = at + 6;
                    out.push(char::from_u32(n).ok_or(Bad)?);
                }
                continue;
            }
            _ => return Err(Bad),
        };
        out.push(c);
        i = at + 2;
    }
    out.push_str(raw.get(i..).ok_or(Bad)?);
    Ok(())
}

/// A number's end, `i` at its first byte; whether it is written as an
/// integer (no fraction, no exponent).
#[inline]
pub fn number_end(b: &[u8], mut i: usize) -> Lexed<(usize, bool)> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits_end(b, i + 1),
        _ => return Err(Bad),
    }
    let mut int = true;
    if b.get(i) == Some(&b'.') {
        let end = digits_end(b, i + 1);
        if end == i + 1 {
            return Err(Bad);
        }
        (i, int) = (end, false);
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits_end(b, i);
        if end == i {
            return Err(Bad);
        }
        (i, int) = (end, false);
    }
    // A digit right after a leading zero ("01") is no JSON number; the
    // parent's comma-or-end check refuses it too, but say so here.
    if let Some(b'0'..=b'9') = b.get(i) {
        return Err(Bad);
    }
    Ok((i, int))
}

fn digits_end(b: &[u8], mut i: usize) -> usize {
    while let Some(b'0'..=b'9') = b.get(i) {
        i += 1;
    }
    i
}

/// Whether a full parse takes this number (`text` in JSON's grammar): it
/// refuses those beyond f64's range, which need an exponent or more than
/// 300 digits. Those few are handed to serde_json itself.
/// `int`: written as an integer ([`number_end`] says), so no exponent to
/// look for.
pub fn number_in_range(text: &str, int: bool) -> bool {
    let long = text.len() > 300 || (!int && text.bytes().any(|c| c == b'e' || c == b'E'));
    !long || text.parse::<serde_json::Number>().is_ok()
}

/// A number's value as serde_json reads it, and whether it read it as an
/// integer (i64 or u64; `-0` and integers beyond u64 are floats there).
pub fn number_value(text: &str, int: bool) -> Lexed<(f64, bool)> {
    if int && text.len() <= 15 && !text.starts_with('-') {
        let n = text.bytes().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        return Ok((n as f64, true));
    }
    let n: serde_json::Number = text.parse().map_err(|_| Bad)?;
    Ok((n.as_f64().ok_or(Bad)?, !n.is_f64()))
}

/// `word` (`true`, `false`, `null`) at `i`; the index past it.
#[inline]
pub fn literal(b: &[u8], i: usize, word: &[u8]) -> Lexed<usize> {
    match b.get(i..i + word.len()) {
        Some(w) if w == word => Ok(i + word.len()),
        _ => Err(Bad),
    }
}

/// Past one value starting at `i` (whitespace skipped), checked as a full
/// parse checks it; `depth` containers already enclose it.
pub fn skip(b: &[u8], mut i: usize, depth: u32) -> Lexed<usize> {
    // The open containers, innermost in the low bit: 1 object, 0 array.
    let mut open: u128 = 0;
    let mut n: u32 = 0;
    loop {
        // A value at `i`.
        match b.get(i) {
            Some(b'"') => i = string_end(b, i + 1)?.0 + 1,
            Some(b'{' | b'[') => {
                let object = b[i] == b'{';
                n += 1;
                if depth + n > MAX_DEPTH {
                    return Err(Bad);
                }
                open = open << 1 | u128::from(object);
                i = ws(b, i + 1);
                match (b.get(i), object) {
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        i += 1;
                        open >>= 1;
                        n -= 1;
                    }
                    (_, true) => {
                        i = ws(b, key_end(b, i)?);
                        continue;
                    }
                    (_, false) => continue,
                }
            }
            Some(b't') => i = literal(b, i, b"true")?,
            Some(b'f') => i = literal(b, i, b"false")?,
            Some(b'n') => i = literal(b, i, b"null")?,
            Some(b'-' | b'0'..=b'9') => {
                let start = i;
                let int;
                (i, int) = number_end(b, i)?;
                // Whole line checked for UTF-8: a number is ASCII.
                let text = std::str::from_utf8(&b[start..i]).map_err(|_| Bad)?;
                if !number_in_range(text, int) {
                    return Err(Bad);
                }
            }
            _ => return Err(Bad),
        }
        // After a value: a comma and the next, or the end of containers.
        loop {
            if n == 0 {
                return Ok(i);
            }
            let object = open & 1 == 1;
            i = ws(b, i);
            match (b.get(i), object) {
                (Some(b','), true) => {
                    i = ws(b, key_end(b, ws(b, i + 1))?);
                    break;
                }
                (Some(b','), false) => {
                    i = ws(b, i + 1);
                    break;
                }
                (Some(b'}'), true) | (Some(b']'), false) => {
                    i += 1;
                    open >>= 1;
                    n -= 1;
                }
                _ => return Err(Bad),
            }
        }
    }
}

/// What follows a member of an object or array.
pub enum Then {
    /// A comma: the next member starts here.
    Next(usize),
    /// The container closed; it ends here.
    Closed(usize),
}

/// After a member ending at `i` of a container that `close` closes.
#[inline]
pub fn after_member(b: &[u8], i: usize, close: u8) -> Lexed<Then> {
    let i = ws(b, i);
    match b.get(i) {
        Some(b',') => Ok(Then::Next(ws(b, i + 1))),
        Some(&c) if c == close => Ok(Then::Closed(i + 1)),
        _ => Err(Bad),
    }
}

/// Past an object's key and its colon, `i` at the key's quote.
fn key_end(b: &[u8], i: usize) -> Lexed<usize> {
    if b.get(i) != Some(&b'"') {
        return Err(Bad);
    }
    let end = ws(b, string_end(b, i + 1)?.0 + 1);
    match b.get(end) {
        Some(b':') => Ok(ws(b, end + 1)),
        _ => Err(Bad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips(text: &str) -> bool {
        let b = text.as_bytes();
        skip(b, ws(b, 0), 0).is_ok_and(|end| ws(b, end) == b.len())
    }

    fn full(text: &str) -> bool {
        serde_json::from_str::<serde_json::Value>(text).is_ok()
    }

    #[test]
    fn skipping_accepts_what_a_full_parse_accepts() {
        for text in [
            r#"{"a":[1,-2.5e3,true,false,null,"x\"\u00e9\ud83d\ude00"],"b":{},"c":[]}"#,
            " [ { \"k\" : 0 } , [ ] , 1E+2 , 0.5 ] ",
            "\"\\/\\b\\f\\n\\r\\t\"",
            "-0",
            "1e-400",
        ] {
            assert!(full(text), "{text}");
            assert!(skips(text), "{text}");
        }
    }

    #[test]
    fn skipping_refuses_what_a_full_parse_refuses() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for text in [
            "[1,]",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            "{1:2}",
            "[1 2]",
            "[1}",
            r#"{"a":1]"#,
            "01",
            "1.",
            "1e",
            "-",
            ".5",
            "tru",
            "nul",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\ud800\"",
            "\"\\ud800\\u0041\"",
            "\"\\udc00\"",
            "\"a\u{1}b\"",
            "\"open",
            "1e400",
            "-1e309",
            &deep,
            "",
            "[",
            "{\"a\":",
        ] {
            assert!(!full(text), "serde_json takes {text:?}");
            assert!(!skips(text), "{text:?}");
        }
    }

    #[test]
    fn strings_end_at_their_quote() {
        // Quotes and escapes at every offset of the eight-byte stride.
        for pad in 0..17 {
            let body = format!("{}\\\"{}", "a".repeat(pad), "é".repeat(pad));
            let text = format!("\"{body}\" tail");
            let (end, escaped) = string_end(text.as_bytes(), 1).expect("string");
            assert_eq!(&text[1..end], body);
            assert!(escaped);
            let text = format!("\"{}\"", "b".repeat(pad));
            assert_eq!(string_end(text.as_bytes(), 1), Ok((pad + 1, false)));
        }
    }

    /// `string_end` one byte at a time.
    fn string_end_slowly(b: &[u8], mut i: usize) -> Lexed<(usize, bool)> {
        let mut escaped = false;
        while let Some(&c) = b.get(i) {
            if c == b'"' {
                return Ok((i, escaped));
            }
            if c < 0x20 {
                return Err(Bad);
            }
            if c == b'\\' {
                escaped = true;
                i = escape_end(b, i + 1)?;
            } else {
                i += 1;
            }
        }
        Err(Bad)
    }

    #[test]
    fn strings_end_where_a_byte_by_byte_reading_ends_them() {
        // Each kind of byte at every offset of the 16- and 8-byte strides,
        // in strings ending before, at and past a stride, with text after
        // the string or none: quotes, escapes, control characters (0x1f
        // refused, 0x20 and 0x7f taken) and bytes of 0x80 and over (a
        // signed comparison would take them for control characters).
        let kinds: [&[u8]; 7] = [
            b"\"",
            b"\\n",
            b"\x1f",
            b" ",
            b"\x7f",
            "\u{e9}".as_bytes(),
            b"\\u00e9",
        ];
        let mut checked = 0;
        for len in 0..40 {
            for at in 0..=len {
                for kind in kinds {
                    for tail in [&b""[..], b"\" ,\"k\":[1,2,3]}"] {
                        let mut text = b"\"".to_vec();
                        text.extend(std::iter::repeat_n(b'a', at));
                        text.extend_from_slice(kind);
                        text.extend(std::iter::repeat_n(b'z', len - at));
                        text.extend_from_slice(tail);
                        assert_eq!(
                            string_end(&text, 1),
                            string_end_slowly(&text, 1),
                            "{:?}",
                            String::from_utf8_lossy(&text)
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 820 * 7 * 2);
    }

    #[test]
    fn unescaping_is_serde_json_reading_the_string() {
        for raw in [
            r#"plain"#,
            r#"a\"b\\c\/d\be\ff\ng\rh\ti"#,
            r#"\u00e9\u4e2d\ud83d\ude00x"#,
            r#"\u0000"#,
        ] {
            let want: String = serde_json::from_str(&format!("\"{raw}\"")).expect("json");
            assert_eq!(unescape(raw), Ok(want), "{raw}");
        }
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        for text in [
            "0",
            "7",
            "123456789012345",
            "1234567890123456789",
            "18446744073709551616",
            "-5",
            "-0",
            "2.5",
            "1e3",
            "-9223372036854775808",
        ] {
            let (end, int) = number_end(text.as_bytes(), 0).expect("number");
            assert_eq!(end, text.len());
            let n: serde_json::Number = text.parse().expect("number");
            assert_eq!(
                number_value(text, int),
                Ok((n.as_f64().expect("f64"), !n.is_f64())),
                "{text}"
            );
        }
    }
}

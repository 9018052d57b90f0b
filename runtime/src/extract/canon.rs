//! A value's JSON text written as serde_json writes the value it parses to
//! (compact, object keys sorted, a repeated key's last value, strings and
//! numbers in serde_json's forms), in one pass over the text and without
//! building the value.
//!
//! This is how an alert shows an object the extraction read only in part.
//! Each object's members are written in the text's order, and only an
//! object whose keys are not already in order (or repeat) has its written
//! members moved into order once it closes.

use std::borrow::Cow;

use super::lex::{self, after_member, ws, Bad, Lexed, Then};

/// Appends the canonical JSON of the one value in `text` to `out`. On
/// `Err`, `out` may hold part of it: the caller truncates.
pub fn write(text: &str, out: &mut Vec<u8>) -> Lexed<()> {
    let mut w = Canon {
        text,
        b: text.as_bytes(),
        out,
        entries: Vec::new(),
        scratch: Vec::new(),
    };
    let end = w.value(ws(w.b, 0), 0)?;
    match ws(w.b, end) == w.b.len() {
        true => Ok(()),
        false => Err(Bad),
    }
}

struct Canon<'t, 'o> {
    text: &'t str,
    b: &'t [u8],
    out: &'o mut Vec<u8>,
    /// The members of the objects still open, innermost last.
    entries: Vec<Member<'t>>,
    /// An object's written members while they are put in order.
    scratch: Vec<u8>,
}

/// An object member as written to `out`: its key (to order by) and where
/// its `"key":value` lies.
struct Member<'t> {
    key: Cow<'t, str>,
    start: usize,
    end: usize,
}

impl<'t> Canon<'t, '_> {
    /// Writes the value at `i`; returns the index past it.
    fn value(&mut self, i: usize, depth: u32) -> Lexed<usize> {
        if depth > lex::MAX_DEPTH {
            return Err(Bad);
        }
        match self.b.get(i) {
            Some(b'"') => {
                let (s, end) = self.string(i)?;
                self.string_out(i, end, &s);
                Ok(end + 1)
            }
            Some(b'{') => self.object(i, depth),
            Some(b'[') => self.array(i, depth),
            Some(b't') => self.word(i, b"true"),
            Some(b'f') => self.word(i, b"false"),
            Some(b'n') => self.word(i, b"null"),
            Some(b'-' | b'0'..=b'9') => {
                let (end, int) = lex::number_end(self.b, i)?;
                let digits = self.text.get(i..end).ok_or(Bad)?;
                match lex::number_value(digits, int)? {
                    // An integer serde_json keeps as one: its digits.
                    (_, true) => self.out.extend_from_slice(digits.as_bytes()),
                    (f, false) => serde_json::to_writer(&mut *self.out, &f).map_err(|_| Bad)?,
                }
                Ok(end)
            }
            _ => Err(Bad),
        }
    }

    /// The string whose opening quote is at `i`, unescaped, and the index
    /// of its closing quote.
    fn string(&self, i: usize) -> Lexed<(Cow<'t, str>, usize)> {
        let (end, escaped) = lex::string_end(self.b, i + 1)?;
        let raw = self.text.get(i + 1..end).ok_or(Bad)?;
        match escaped {
            false => Ok((Cow::Borrowed(raw), end)),
            true => Ok((Cow::Owned(lex::unescape(raw)?), end)),
        }
    }

    /// Writes a string read by [`Canon::string`]: as it is written when
    /// it has no escape (serde_json escapes only what the text could not
    /// hold raw), else written again. Every escape is longer than what it
    /// stands for, so the string has one exactly when it got shorter.
    fn string_out(&mut self, i: usize, end: usize, s: &str) {
        if end - (i + 1) == s.len() {
            self.out.extend_from_slice(&self.b[i..=end]);
        } else {
            ward_compiler::json_text::write_str(self.out, s);
        }
    }

    fn word(&mut self, i: usize, word: &[u8]) -> Lexed<usize> {
        let end = lex::literal(self.b, i, word)?;
        self.out.extend_from_slice(word);
        Ok(end)
    }

    fn array(&mut self, i: usize, depth: u32) -> Lexed<usize> {
        self.out.push(b'[');
        let mut j = ws(self.b, i + 1);
        if self.b.get(j) == Some(&b']') {
            self.out.push(b']');
            return Ok(j + 1);
        }
        loop {
            j = self.value(j, depth + 1)?;
            match after_member(self.b, j, b']')? {
                Then::Next(k) => {
                    self.out.push(b',');
                    j = k;
                }
                Then::Closed(k) => {
                    self.out.push(b']');
                    return Ok(k);
                }
            }
        }
    }

    fn object(&mut self, i: usize, depth: u32) -> Lexed<usize> {
        self.out.push(b'{');
        let base = self.entries.len();
        let first = self.out.len();
        let mut j = ws(self.b, i + 1);
        if self.b.get(j) == Some(&b'}') {
            self.out.push(b'}');
            return Ok(j + 1);
        }
        loop {
            if self.b.get(j) != Some(&b'"') {
                return Err(Bad);
            }
            let (key, end) = self.string(j)?;
            if self.entries.len() > base {
                self.out.push(b',');
            }
            let start = self.out.len();
            self.string_out(j, end, &key);
            let colon = ws(self.b, end + 1);
            if self.b.get(colon) != Some(&b':') {
                return Err(Bad);
            }
            self.out.push(b':');
            j = self.value(ws(self.b, colon + 1), depth + 1)?;
            let end = self.out.len();
            self.entries.push(Member { key, start, end });
            match after_member(self.b, j, b'}')? {
                Then::Next(k) => j = k,
                Then::Closed(k) => {
                    self.order(base, first);
                    self.out.push(b'}');
                    return Ok(k);
                }
            }
        }
    }

    /// Puts the members of the object just written (from `entries[base]`
    /// on, written from `out[first]` on) in key order, a repeated key's
    /// last value kept, as a map that sorts its keys holds them.
    fn order(&mut self, base: usize, first: usize) {
        let members = &mut self.entries[base..];
        if members.windows(2).all(|w| w[0].key < w[1].key) {
            self.entries.truncate(base);
            return;
        }
        // Stable: among repeated keys the last stays last.
        members.sort_by(|a, b| a.key.cmp(&b.key));
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.out[first..]);
        self.out.truncate(first);
        let mut written = 0;
        for (n, m) in members.iter().enumerate() {
            if members.get(n + 1).is_some_and(|next| next.key == m.key) {
                continue;
            }
            if written > 0 {
                self.out.push(b',');
            }
            written += 1;
            let at = m.start - first..m.end - first;
            self.out.extend_from_slice(&self.scratch[at]);
        }
        self.entries.truncate(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json writes for the value it reads from `text`.
    fn serde(text: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(v.to_string())
    }

    fn canon(text: &str) -> Option<String> {
        let mut out = Vec::new();
        write(text, &mut out).ok()?;
        String::from_utf8(out).ok()
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        for text in [
            r#"{"b":1,"a":2}"#,
            r#" { "z" : [ 3 , { "y" : null , "x" : true } ] , "a" : "s" } "#,
            r#"{"k":1,"j":2,"k":3}"#,
            r#"{"k":{"b":1},"k":{"a":2}}"#,
            r#"{"a":{"d":1,"c":2},"b":[{"f":1,"e":2},{}],"c":[]}"#,
            r#"{"\u0062":1,"a":2,"b\"":3,"b":4}"#,
            r#"{"é":1,"e":2,"z":3,"ä":4}"#,
            r#"["\/","\u00e9\ud83d\ude00","a\"b\\c\n","\u0000\u001f","é"]"#,
            r#"[0,-0,1.0,-5,2.5e3,1E2,1e-7,0.1,123456789012345678,18446744073709551615]"#,
            r#"[18446744073709551616,-9223372036854775808,-9223372036854775809]"#,
            r#"[1.7976931348623157e308,5e-324,1e-400,123.456e-2]"#,
            "[true,false,null]",
            "\"plain\"",
            "12",
            r#"{"a":1,"a":2}"#,
            r#"{"":1," ":2}"#,
        ] {
            assert_eq!(canon(text), serde(text), "{text}");
        }
    }

    #[test]
    fn real_events_are_written_as_serde_json_writes_them() {
        let mut n = 0;
        for line in crate::corpus::k8s_events(300, 7)
            .iter()
            .chain(&crate::corpus::cloudtrail_records(100, 7))
        {
            assert_eq!(canon(line), serde(line), "{line}");
            n += 1;
        }
        assert_eq!(n, 400);
    }

    #[test]
    fn what_serde_json_refuses_is_refused() {
        for text in [
            "[1,]",
            r#"{"a":1,}"#,
            "{1:2}",
            "[1 2]",
            "01",
            "1e400",
            "",
            "[",
            "1 2",
        ] {
            assert_eq!(serde(text), None, "{text}");
            assert_eq!(canon(text), None, "{text}");
        }
    }
}

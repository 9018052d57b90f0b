//! JSON text, fast: where a string's plain run ends, and strings written
//! as JSON exactly as serde_json writes them.

const ONES: u64 = u64::MAX / 255;
const HIGH: u64 = ONES << 7;

/// The index of the first quote, backslash or control character at or
/// after `i`: sixteen bytes at a time, then eight near the end of the
/// text; the last few bytes are left to the caller (the index of the
/// first of them comes back).
#[inline(always)]
pub fn special(b: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = b.get(i..).and_then(|r| r.first_chunk::<16>()) {
        let hit = special16(chunk);
        if hit != 0 {
            return i + hit.trailing_zeros() as usize;
        }
        i += 16;
    }
    // The lowest flagged byte is exact; any after it may not be.
    while let Some(chunk) = b.get(i..).and_then(|r| r.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*chunk);
        let ctrl = w.wrapping_sub(ONES * 0x20) & !w;
        let q = w ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let s = w ^ (ONES * u64::from(b'\\'));
        let slash = s.wrapping_sub(ONES) & !s;
        let hit = (ctrl | quote | slash) & HIGH;
        if hit != 0 {
            return i + hit.trailing_zeros() as usize / 8;
        }
        i += 8;
    }
    i
}

/// A bit for each of 16 bytes that is a quote, a backslash or a control
/// character (SSE2, which every x86-64 processor has).
#[cfg(target_arch = "x86_64")]
#[inline]
fn special16(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of x86-64, so its instructions are always
    // there; the load reads the 16 bytes of `chunk`, unaligned.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let slash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // Unsigned v <= 0x1f: max(v, 0x1f) is 0x1f.
        let low = _mm_set1_epi8(0x1f);
        let ctrl = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, slash), ctrl)) as u32
    }
}

/// `s` escaped as the inside of a JSON string, appended to `out`, as
/// serde_json escapes it: quotes and backslashes, `\b \f \n \r \t`, other
/// control characters as `\u00XX`, everything else as it is.
pub fn escape_into(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut from = 0;
    let mut i = 0;
    // The bytes JSON escapes are those that end a string's run of plain
    // text: quotes, backslashes and control characters.
    loop {
        i = special(s, i);
        let Some(&c) = s.get(i) else {
            break;
        };
        let short = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\t' => b't',
            b'\r' => b'r',
            0x08 => b'b',
            0x0c => b'f',
            0..=0x1f => 0,
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&s[from..i]);
        match short {
            0 => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]),
            e => out.extend_from_slice(&[b'\\', e]),
        }
        i += 1;
        from = i;
    }
    out.extend_from_slice(&s[from..]);
}

/// `s` as a JSON string (quoted), appended to `out`.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s.as_bytes());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        // Every ASCII byte and some of UTF-8, at every offset of the 16-
        // and 8-byte strides and in the short tail after them.
        let mut checked = 0;
        for c in (0u8..0x80).map(char::from).chain(['é', '€', '😀']) {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 31, 40] {
                for at in 0..=len {
                    let text: String = (0..len)
                        .map(|k| if k == at { c } else { 'a' })
                        .chain((at == len).then_some(c))
                        .collect();
                    let mut out = Vec::new();
                    write_str(&mut out, &text);
                    let want = serde_json::to_string(&text).expect("json");
                    assert_eq!(String::from_utf8_lossy(&out), want);
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 131 * 154);
    }
}

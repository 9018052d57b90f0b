//! A fast hasher for small tables of short, trusted keys.

/// Word-at-a-time multiplicative hashing (the scheme of rustc's FxHash).
/// Projection keys, schema field names and dispatch values are looked up
/// for every key of every event and are short; SipHash's resistance to
/// chosen keys buys nothing for tables whose keys the rule and schema
/// authors chose (an event's keys are only looked up, never inserted, so
/// colliding keys cost at most a probe through a table of known size).
#[derive(Clone, Copy, Debug, Default)]
pub struct Words(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl Words {
    fn add(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(K).rotate_left(26);
    }
}

impl std::hash::Hasher for Words {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length tells "ab" from "ab\0".
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
}

pub type FastHash = std::hash::BuildHasherDefault<Words>;

/// Whether two short keys are equal, compared inline: first the lengths,
/// then (for eight bytes or more) the first and the last eight bytes as
/// words, then whatever lies between. A call to `memcmp` for each of the
/// many keys compared per event costs more than the comparison.
#[inline]
pub fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        (Some(ah), Some(bh)) => {
            let (Some(at), Some(bt)) = (a.last_chunk::<8>(), b.last_chunk::<8>()) else {
                return false;
            };
            ah == bh && at == bt && (a.len() <= 16 || a[8..a.len() - 8] == b[8..b.len() - 8])
        }
        _ => a.iter().zip(b).all(|(x, y)| x == y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn close_keys_hash_apart() {
        let h = |s: &str| FastHash::default().hash_one(s);
        let keys = [
            "",
            "a",
            "ab",
            "ab\0",
            "verb",
            "verbs",
            "objectRef",
            "objectRef.",
            "user",
            "username",
            "requestObject",
            "responseObject",
            "kind",
            "kinds",
            "12345678",
            "123456789",
        ];
        let mut seen = std::collections::HashSet::new();
        for k in keys {
            assert!(seen.insert(h(k)), "{k:?} collides");
        }
    }

    #[test]
    fn same_key_is_equality() {
        let mut words: Vec<String> = ["", "a", "b", "ab", "ba", "verb", "verB", "objectRef"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // Lengths around the 8 and 16 byte edges, differing at each place.
        for len in [7, 8, 9, 15, 16, 17, 24, 40] {
            let base = "k".repeat(len);
            words.push(base.clone());
            for at in 0..len {
                let mut w = base.clone().into_bytes();
                w[at] = b'x';
                words.push(String::from_utf8(w).expect("ascii"));
            }
        }
        for a in &words {
            for b in &words {
                assert_eq!(same_key(a.as_bytes(), b.as_bytes()), a == b, "{a:?} {b:?}");
            }
        }
    }
}

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
}

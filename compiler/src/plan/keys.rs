//! The keys of a projection node: the table extraction looks every key of
//! a read object up in, so lookups are what it is built for.
//!
//! A key's slot comes from its length and its first and last eight bytes
//! (two loads and one multiply, whatever its length); a slot holds the
//! entry's index, and the key is confirmed by comparing lengths, then
//! bytes. Object keys in events are few and chosen by schema authors, so
//! keys sharing length and both ends are rare, and they cost a probe.

use super::Projection;

/// Keys and the projection under each, in insertion order.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    entries: Vec<(String, Projection)>,
    /// Open addressing over `entries`; `EMPTY` where none. A power of two
    /// at least twice as long as `entries`.
    slots: Vec<u32>,
}

const EMPTY: u32 = u32::MAX;

/// Where `key` starts probing in a table of `len` slots (a power of two).
#[inline]
fn slot(key: &[u8], len: usize) -> usize {
    let head = match key.first_chunk::<8>() {
        Some(w) => u64::from_le_bytes(*w),
        None => {
            let mut w = [0u8; 8];
            w[..key.len()].copy_from_slice(key);
            u64::from_le_bytes(w)
        }
    };
    let tail = key.last_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w));
    let h = (head ^ tail.rotate_left(29) ^ (key.len() as u64) << 56)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as usize & (len - 1)
}

impl Keys {
    /// The entry of `key` and its projection.
    #[inline]
    pub fn get_key_value(&self, key: &str) -> Option<(&str, &Projection)> {
        if self.entries.is_empty() {
            return None;
        }
        let b = key.as_bytes();
        let mask = self.slots.len() - 1;
        let mut at = slot(b, self.slots.len());
        loop {
            let i = *self.slots.get(at)?;
            let (k, p) = self.entries.get(i as usize)?;
            if crate::hash::same_key(k.as_bytes(), b) {
                return Some((k, p));
            }
            at = (at + 1) & mask;
        }
    }

    pub fn get(&self, key: &str) -> Option<&Projection> {
        self.get_key_value(key).map(|(_, p)| p)
    }

    /// The projection under `key`, added empty if it is not there.
    pub fn entry(&mut self, key: &str) -> &mut Projection {
        let i = match self.entries.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.entries.push((key.to_string(), Projection::default()));
                self.index();
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    fn index(&mut self) {
        let len = (self.entries.len() * 2).next_power_of_two();
        self.slots = vec![EMPTY; len];
        for (i, (k, _)) in self.entries.iter().enumerate() {
            let mut at = slot(k.as_bytes(), len);
            while self.slots[at] != EMPTY {
                at = (at + 1) & (len - 1);
            }
            self.slots[at] = i as u32;
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Projection)> {
        self.entries.iter().map(|(k, p)| (k, p))
    }

    pub fn values(&self) -> impl Iterator<Item = &Projection> {
        self.entries.iter().map(|(_, p)| p)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Projection> {
        self.entries.iter_mut().map(|(_, p)| p)
    }
}

impl<'k> IntoIterator for &'k Keys {
    type Item = (&'k String, &'k Projection);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'k, (String, Projection)>,
        fn(&'k (String, Projection)) -> (&'k String, &'k Projection),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, p)| (k, p))
    }
}

/// The same keys with equal projections, in any order.
impl PartialEq for Keys {
    fn eq(&self, other: &Keys) -> bool {
        self.len() == other.len() && self.iter().all(|(k, p)| other.get(k) == Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_key_and_no_other() {
        let names: Vec<String> = (0..300)
            .map(|i| match i % 4 {
                0 => format!("k{i}"),
                1 => format!("authorization.k8s.io/{i}"),
                2 => format!("{i}-same-tail-and-long-middle-section"),
                _ => "x".repeat(i % 40 + 1),
            })
            .collect();
        let mut keys = Keys::default();
        for (i, n) in names.iter().enumerate() {
            keys.entry(n).id = i as u32;
        }
        let distinct: std::collections::BTreeSet<&String> = names.iter().collect();
        assert_eq!(keys.len(), distinct.len());
        for n in &names {
            let (k, p) = keys.get_key_value(n).expect("present");
            assert_eq!(k, n);
            // The last entry() of a repeated name numbered it.
            let last = names.iter().rposition(|m| m == n).expect("named");
            assert_eq!(p.id, last as u32);
        }
        for absent in [
            "",
            "k",
            "k1x",
            "authorization.k8s.io/",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ] {
            assert!(keys.get(absent).is_none(), "{absent}");
        }
        assert!(Keys::default().get("a").is_none());
    }

    #[test]
    fn equal_whatever_the_order() {
        let (mut a, mut b) = (Keys::default(), Keys::default());
        a.entry("x").whole = true;
        a.entry("y");
        b.entry("y");
        b.entry("x").whole = true;
        assert_eq!(a, b);
        b.entry("z");
        assert_ne!(a, b);
    }
}

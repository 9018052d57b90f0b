//! Tables of short strings chosen by rule and schema authors, built for
//! lookups: the keys of a projection node (extraction looks every key of a
//! read object up in one) and the values dispatch and equality groups look
//! an event's field up by.
//!
//! A key is known by its length and its first and last eight bytes (the
//! bytes past a short key's end zeroed): its slot is those three mixed by
//! one multiply, and an entry keeps them, so a key of up to 16 bytes is
//! confirmed by comparing three words, without reading the entry's
//! string. A key read from an event's text is loaded from the text in
//! place ([`Keys::find_in`]). Object keys in events are few and chosen by
//! schema authors, so keys sharing length and both ends are rare, and they
//! cost a probe.

use super::Projection;

/// The keys of a projection node and the projection under each.
pub type Keys = Table<Projection>;

/// Strings and a value for each, in insertion order.
#[derive(Clone, Debug)]
pub struct Table<T> {
    entries: Vec<(String, T)>,
    /// Per entry: its key's words.
    words: Vec<Words>,
    /// Open addressing over `entries`; `EMPTY` where none. A power of two
    /// at least twice as long as `entries`.
    slots: Vec<u32>,
    /// Keys are also told apart by their middle bytes ([`Table::of_values`]).
    middles: bool,
    /// Bit `n` set when a key is `n` bytes long (bit 63: 63 or more), so
    /// that most keys an event has and the table has not are turned away
    /// before hashing.
    lengths: u64,
}

/// A key length's bit in `Table::lengths`.
#[inline]
fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// A table of object keys (projection nodes): few per node, chosen by
/// schema and rule authors, so told apart by their ends; every key of every
/// event read is looked up, so lookups stay at three words.
impl<T> Default for Table<T> {
    fn default() -> Table<T> {
        Table {
            entries: Vec::new(),
            words: Vec::new(),
            slots: Vec::new(),
            middles: false,
            lengths: 0,
        }
    }
}

impl<T> Table<T> {
    /// The most slots a lookup of a present key probes.
    #[cfg(test)]
    pub(crate) fn longest_probe(&self) -> usize {
        let len = self.slots.len();
        (self.slots.iter().enumerate())
            .filter(|(_, &i)| i != EMPTY)
            .map(|(at, &i)| (at + len - self.home(i as usize, len)) % len + 1)
            .max()
            .unwrap_or(0)
    }

    /// A table of field values (dispatch, equality groups): rules written
    /// in bulk name values that often differ only in the middle (user
    /// names, `system:serviceaccount:ns-01:default`), and an event looks
    /// up only a few, so a long key's middle bytes are hashed too.
    pub fn of_values() -> Table<T> {
        Table {
            middles: true,
            ..Table::default()
        }
    }
}

const EMPTY: u32 = u32::MAX;

/// A key's length, its first eight bytes (zero past its end) and its last
/// eight (zero if it is shorter than eight).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Words {
    head: u64,
    tail: u64,
    len: usize,
}

/// A hash of the bytes of `text[start..end]` between its first and last
/// eight (zero up to sixteen bytes), for a table of values to start probing
/// from: keys that differ only in the middle, such as
/// `system:serviceaccount:ns-01:default` and `-02`, then take different
/// slots rather than one long probe.
fn middle(text: &[u8], start: usize, end: usize) -> u64 {
    match text.get(start + 8..end.saturating_sub(8)) {
        Some(middle) if end - start > 16 => middle.chunks(8).fold(0u64, |h, c| {
            let w = match c.first_chunk::<8>() {
                Some(w) => u64::from_le_bytes(*w),
                None => {
                    let mut w = [0u8; 8];
                    w[..c.len()].copy_from_slice(c);
                    u64::from_le_bytes(w)
                }
            };
            (h ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31)
        }),
        _ => 0,
    }
}

impl Words {
    /// The words of `text[start..end]`, loaded in place where the text
    /// goes on for eight bytes.
    #[inline]
    fn of(text: &[u8], start: usize, end: usize) -> Words {
        let len = end - start;
        let head = match text.get(start..).and_then(|r| r.first_chunk::<8>()) {
            Some(w) if len >= 8 => u64::from_le_bytes(*w),
            Some(w) => u64::from_le_bytes(*w) & ((1u64 << (8 * len)) - 1),
            None => {
                let mut w = [0u8; 8];
                let n = len.min(8);
                w[..n].copy_from_slice(&text[start..start + n]);
                u64::from_le_bytes(w)
            }
        };
        let tail = match len >= 8 {
            true => text[..end]
                .last_chunk::<8>()
                .map_or(0, |w| u64::from_le_bytes(*w)),
            false => 0,
        };
        Words { head, tail, len }
    }

    /// Where probing starts in a table of `len` slots (a power of two),
    /// given the key's [`middle`] (or zero).
    #[inline]
    fn slot(self, len: usize, middle: u64) -> usize {
        let h = (self.head ^ self.tail.rotate_left(29) ^ middle ^ (self.len as u64) << 56)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 32) as usize & (len - 1)
    }
}

impl<T> Table<T> {
    /// The entry of `key` and its value.
    #[inline]
    pub fn get_key_value(&self, key: &str) -> Option<(&str, &T)> {
        let b = key.as_bytes();
        self.find_in(b, 0, b.len())
    }

    /// The entry of the key `text[start..end]` (as it is: no escapes
    /// undone) and its value.
    #[inline]
    pub fn find_in(&self, text: &[u8], start: usize, end: usize) -> Option<(&str, &T)> {
        let (k, p) = self.entries.get(self.index_in(text, start, end)?)?;
        Some((k, p))
    }

    /// The index in `entries` of the key `text[start..end]`.
    #[inline]
    fn index_in(&self, text: &[u8], start: usize, end: usize) -> Option<usize> {
        if self.lengths & length_bit(end.wrapping_sub(start)) == 0 {
            return None;
        }
        let w = Words::of(text, start, end);
        let mask = self.slots.len() - 1;
        let mid = match self.middles {
            true => middle(text, start, end),
            false => 0,
        };
        let mut at = w.slot(self.slots.len(), mid);
        loop {
            let i = *self.slots.get(at)?;
            if i == EMPTY {
                return None;
            }
            let i = i as usize;
            if self.words.get(i) == Some(&w) {
                let (k, _) = self.entries.get(i)?;
                // Equal ends and length: only a long key's middle is left.
                if w.len <= 16 || k.as_bytes().get(8..w.len - 8) == text.get(start + 8..end - 8) {
                    return Some(i);
                }
            }
            at = (at + 1) & mask;
        }
    }

    pub fn get(&self, key: &str) -> Option<&T> {
        self.get_key_value(key).map(|(_, p)| p)
    }

    /// The value of `key`, added as `T::default()` if it is not there.
    pub fn entry(&mut self, key: &str) -> &mut T
    where
        T: Default,
    {
        // Through the index: a list of a million values is added in
        // linear time.
        let b = key.as_bytes();
        let i = match self.index_in(b, 0, b.len()) {
            Some(i) => i,
            None => {
                self.entries.push((key.to_string(), T::default()));
                self.index();
                self.entries.len() - 1
            }
        };
        &mut self.entries[i].1
    }

    /// Sets the value of `key`.
    pub fn insert(&mut self, key: &str, value: T)
    where
        T: Default,
    {
        *self.entry(key) = value;
    }

    /// Indexes the entry just pushed: in place while the table stays at
    /// most half full, else by building a table twice as long (so that
    /// adding n keys costs O(n)).
    fn index(&mut self) {
        let Some((k, _)) = self.entries.last() else {
            return;
        };
        self.words.push(Words::of(k.as_bytes(), 0, k.len()));
        self.lengths |= length_bit(k.len());
        if self.slots.len() < self.entries.len() * 2 {
            let len = (self.entries.len() * 2).next_power_of_two();
            self.slots = vec![EMPTY; len];
            for i in 0..self.words.len() {
                self.place(i);
            }
        } else {
            self.place(self.words.len() - 1);
        }
    }

    /// The slot entry `i` is looked up from in a table of `len` slots.
    fn home(&self, i: usize, len: usize) -> usize {
        let k = self.entries[i].0.as_bytes();
        let mid = match self.middles {
            true => middle(k, 0, k.len()),
            false => 0,
        };
        self.words[i].slot(len, mid)
    }

    /// Puts entry `i` in the first free slot from its own.
    fn place(&mut self, i: usize) {
        let len = self.slots.len();
        let mut at = self.home(i, len);
        while self.slots[at] != EMPTY {
            at = (at + 1) & (len - 1);
        }
        self.slots[at] = i as u32;
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &T)> {
        self.entries.iter().map(|(k, p)| (k, p))
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|(_, p)| p)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().map(|(_, p)| p)
    }
}

impl<'k, T> IntoIterator for &'k Table<T> {
    type Item = (&'k String, &'k T);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'k, (String, T)>,
        fn(&'k (String, T)) -> (&'k String, &'k T),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(k, p)| (k, p))
    }
}

/// The same keys with equal values, in any order.
impl<T: PartialEq> PartialEq for Table<T> {
    fn eq(&self, other: &Table<T>) -> bool {
        self.len() == other.len() && self.iter().all(|(k, p)| other.get(k) == Some(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_alike_but_in_the_middle_spread_out() {
        let mut t: Table<usize> = Table::of_values();
        for i in 0..300 {
            t.insert(&format!("system:serviceaccount:ns-{i:03}:default"), i);
        }
        for i in 0..300 {
            assert_eq!(
                t.get(&format!("system:serviceaccount:ns-{i:03}:default")),
                Some(&i)
            );
        }
        assert!(t.get("system:serviceaccount:ns-300:default").is_none());
        let probe = t.longest_probe();
        assert!(probe <= 12, "a lookup probes up to {probe} slots");
    }

    #[test]
    fn finds_every_key_and_no_other() {
        let mut names: Vec<String> = (0..300)
            .map(|i| match i % 4 {
                0 => format!("k{i}"),
                1 => format!("authorization.k8s.io/{i}"),
                2 => format!("{i}-same-tail-and-long-middle-section"),
                _ => "x".repeat(i % 40 + 1),
            })
            .collect();
        // Keys of 63 bytes and more share one length bit.
        names.extend(["y".repeat(63), "y".repeat(64), "y".repeat(200)]);
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
            &"y".repeat(62),
            &"y".repeat(65),
            &"y".repeat(199),
        ] {
            assert!(keys.get(absent).is_none(), "{absent}");
        }
        assert!(Keys::default().get("a").is_none());
    }

    /// A key read in place from a text (its words loaded with the bytes
    /// after it, masked off) is found as the same key alone, and a key that
    /// is a prefix or an extension of another is not taken for it.
    #[test]
    fn keys_in_a_text_are_found_in_place() {
        let names = [
            "",
            "a",
            "ab",
            "verb",
            "verbs",
            "objectRef",
            "objectRe",
            "kind",
            "k",
            "user",
            "username",
            "usernames",
            "authorization.k8s.io/decision",
            "authorization.k8s.io/decisio",
            "sixteen-bytes-ok",
            "seventeen-bytes-x",
        ];
        let mut keys = Keys::default();
        for (i, n) in names.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
            keys.entry(n).id = i as u32;
        }
        for (i, n) in names.iter().enumerate() {
            for (before, after) in [
                ("", ""),
                ("{\"", "\":1}"),
                ("xx\"", "\": {\"verb\": 12345678}"),
            ] {
                let text = format!("{before}{n}{after}");
                let (start, end) = (before.len(), before.len() + n.len());
                let found = keys.find_in(text.as_bytes(), start, end);
                assert_eq!(found.map(|(k, _)| k), keys.get_key_value(n).map(|(k, _)| k));
                match i % 2 == 0 {
                    true => assert_eq!(found.map(|(k, p)| (k, p.id)), Some((*n, i as u32))),
                    false => assert!(found.is_none(), "{n:?} in {text:?}"),
                }
            }
        }
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

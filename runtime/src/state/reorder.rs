//! The reorder buffer: events held until they are final, released oldest
//! first by (event time, arrival).
//!
//! Most inputs are in order, or nearly: an event that is not older than the
//! last one held goes to the back of a queue (no comparison but that one,
//! no moves), and only the events that arrive older than it go to a heap.
//! The oldest held event is the older of the queue's front and the heap's
//! top. With the default 5 minutes of lateness a busy stream holds hundreds
//! of thousands of events: a heap alone cost a sift of ~18 levels of
//! 56-byte moves per event in and out.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::Queued;

#[derive(Default)]
pub(super) struct Reorder {
    /// Events in (time, arrival) order: each pushed here was not older
    /// than the one before it.
    sorted: VecDeque<Queued>,
    /// The events that arrived older than the back of `sorted`.
    late: BinaryHeap<Reverse<Queued>>,
}

impl Reorder {
    pub(super) fn push(&mut self, q: Queued) {
        match self.sorted.back() {
            Some(back) if q < *back => self.late.push(Reverse(q)),
            _ => self.sorted.push_back(q),
        }
    }

    /// Whether the oldest held event comes from `sorted` (rather than
    /// `late`); `None` when nothing is held.
    fn oldest_sorted(&self) -> Option<bool> {
        match (self.sorted.front(), self.late.peek()) {
            (None, None) => None,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (Some(s), Some(Reverse(l))) => Some(s < l),
        }
    }

    /// The time of the oldest held event.
    pub(super) fn peek_time(&self) -> Option<i64> {
        match self.oldest_sorted()? {
            true => self.sorted.front().map(|q| q.time),
            false => self.late.peek().map(|q| q.0.time),
        }
    }

    /// Takes the oldest held event.
    pub(super) fn pop(&mut self) -> Option<Queued> {
        match self.oldest_sorted()? {
            true => self.sorted.pop_front(),
            false => self.late.pop().map(|Reverse(q)| q),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.sorted.is_empty() && self.late.is_empty()
    }

    /// Every held event, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Queued> {
        self.sorted.iter().chain(self.late.iter().map(|q| &q.0))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::state::{Held, Payload};

    fn queued(time: i64, arrival: u64) -> Queued {
        Queued {
            time,
            bytes: 0,
            arrival,
            held: Arc::new(Held {
                payload: Payload::Line(Box::default(), crate::decode::Via::Raw),
                source: "k8s.audit",
                file: "f".into(),
                line: arrival as usize,
                time,
                time_text: serde_json::Value::Null,
            }),
            hits: Vec::new(),
        }
    }

    /// Against a plain heap, on times in order, reversed, repeated and
    /// shuffled, with pops interleaved with pushes.
    #[test]
    fn releases_in_time_then_arrival_order_as_a_heap_would() {
        let mut seed = 7u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200 {
            let mut r = Reorder::default();
            let mut heap = BinaryHeap::new();
            let mut arrival = 0;
            let mut base = 1_000;
            for _ in 0..300 {
                arrival += 1;
                // Mostly in order, sometimes older, sometimes equal.
                let time = match (round % 4, next() % 10) {
                    (0, _) => base + arrival as i64,
                    (1, _) => base - arrival as i64,
                    (2, n) => base + (n as i64 % 3),
                    (_, n) if n < 7 => base + arrival as i64,
                    (_, n) => base + arrival as i64 - (n as i64 * 17),
                };
                base += (next() % 3) as i64 - 1;
                r.push(queued(time, arrival));
                heap.push(Reverse((time, arrival)));
                if next() % 4 == 0 {
                    assert_eq!(r.peek_time(), heap.peek().map(|k| k.0 .0));
                    let got = r.pop().map(|q| (q.time, q.arrival));
                    assert_eq!(got, heap.pop().map(|k| k.0));
                }
            }
            assert_eq!(r.iter().count(), heap.len());
            while let Some(Reverse(want)) = heap.pop() {
                let got = r.pop().map(|q| (q.time, q.arrival));
                assert_eq!(got, Some(want));
            }
            assert!(r.is_empty());
            assert!(r.pop().is_none());
            assert_eq!(r.peek_time(), None);
        }
    }
}

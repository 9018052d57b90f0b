//! Start-up work spread over the machine's cores: parsing files, checking
//! and lowering rules, building automata. Each is a map over independent
//! items whose results are used in order, as if computed one by one.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The threads start-up work may use: the machine's cores, at most 8.
pub(crate) fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// `items` mapped by `f`, in order, on up to `threads` threads (the
/// calling one among them). Items are taken one at a time, so a slow one
/// does not hold up the rest. Threads get the main thread's 8 MiB stack:
/// parsing, checking and lowering recurse per level of nesting. An item
/// whose thread could not start or panicked (a bug) is mapped again on
/// the calling thread, which then panics as a one-thread run would.
pub(crate) fn map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(items.len());
    if threads < 2 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let work = || {
            let mut out = Vec::new();
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(k) else {
                    return out;
                };
                out.push((k, f(item)));
            }
        };
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| {
                std::thread::Builder::new()
                    .stack_size(8 << 20)
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut all = work();
        for h in helpers {
            all.extend(h.join().unwrap_or_default());
        }
        for (k, r) in all {
            done[k] = Some(r);
        }
    });
    done.into_iter()
        .zip(items)
        .map(|(r, item)| r.unwrap_or_else(|| f(item)))
        .collect()
}

/// The threads for `n` items of work: `threads` from `min` items up, one
/// below (too little to pay for starting threads).
pub(crate) fn for_items(n: usize, min: usize, threads: usize) -> usize {
    if n < min {
        1
    } else {
        threads
    }
}

/// `items` cut into at most `threads` contiguous parts of equal length.
pub(crate) fn parts<T>(items: &[T], threads: usize) -> Vec<&[T]> {
    let per = items.len().div_ceil(threads.max(1)).max(1);
    items.chunks(per).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn maps_in_order_on_any_number_of_threads() {
        let items: Vec<u64> = (0..1000).collect();
        for threads in [0, 1, 2, 3, 8, 2000] {
            let out = super::map(&items, threads, |&i| {
                // Uneven work, so that threads finish out of order.
                (0..(i % 7) * 1000).fold(i, |a, b| a ^ b)
                    ^ (0..(i % 7) * 1000).fold(0, |a, b| a ^ b)
            });
            assert_eq!(out, items, "{threads} threads");
        }
        let parts = super::parts(&items, 3);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), items);
        assert!(super::parts(&[0u8; 0], 4).is_empty());
    }

    #[test]
    fn an_item_whose_thread_panicked_is_mapped_on_the_calling_thread() {
        let main = std::thread::current().id();
        let items: Vec<u32> = (0..64).collect();
        // Item 40 panics anywhere but on the calling thread: the map still
        // has every result, in order.
        let out = super::map(&items, 4, |&i| {
            if i == 40 && std::thread::current().id() != main {
                panic!("planted");
            }
            i * 2
        });
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }
}

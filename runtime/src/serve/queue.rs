//! The queue every input feeds and the matching thread empties, bounded
//! by a count of events: the webhook is refused when it is full (429),
//! the other inputs wait for room (back-pressure, nothing dropped).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;

use crate::decode::{Event, Problem};

/// One thing an input read, in its order.
pub enum Item {
    /// A JSON line (or a message's JSON) and its number in the input.
    Line(usize, Vec<u8>),
    /// An event the input decoded itself (a gzip file, a document).
    Event(Box<Event>),
    /// Something that is not an event, with its line number.
    Problem(Problem),
}

/// What an input sends in one go.
pub struct Batch {
    /// The input's name in the metrics: `webhook`, a followed file's
    /// path, `syslog:ADDR` (or the configured name), `stdin`.
    pub input: Arc<str>,
    /// The input as alerts and problems name it: the same, but for a
    /// syslog connection, `INPUT/PEER` (its line numbers are its own).
    pub file: Arc<str>,
    /// Every event taken as one of this source.
    pub source: Option<&'static str>,
    pub items: Vec<Item>,
    /// Set by the matching thread once the batch is matched and its
    /// alerts flushed to the sinks (a followed file's checkpoint waits
    /// for it).
    pub done: Option<Arc<AtomicBool>>,
    /// When it went into the queue (set by the queue).
    pub queued: Option<std::time::Instant>,
}

impl Batch {
    pub fn new(input: Arc<str>, file: Arc<str>, source: Option<&'static str>) -> Batch {
        Batch {
            input,
            file,
            source,
            items: Vec::new(),
            queued: None,
            done: None,
        }
    }
}

/// Why a batch was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The queue holds this many events: no room.
    Full(usize),
    /// Shutting down, or the matching thread has stopped.
    Closed,
}

/// The queue's sending side, shared by the inputs.
pub struct Queue {
    /// `None` once shutting down: nothing more is taken.
    tx: Mutex<Option<mpsc::Sender<Batch>>>,
    /// Events sent to the matching thread and not yet matched.
    queued: AtomicUsize,
    pub max: usize,
    /// Waiters for room: threads on the condition variable, tasks on
    /// the notification (both also wake on a short timeout, so that a
    /// wake-up lost to a race costs a few milliseconds, not a hang).
    lock: Mutex<()>,
    room: Condvar,
    notify: tokio::sync::Notify,
    /// `ward_queue_events`.
    gauge: Gauge,
}

/// How long a waiter sleeps before it looks again without a wake-up.
const RECHECK: Duration = Duration::from_millis(50);

impl Queue {
    /// A queue of `max` events, its depth shown on `gauge`.
    pub fn new(max: usize, gauge: Gauge) -> (Queue, mpsc::Receiver<Batch>) {
        let (tx, rx) = mpsc::channel();
        let queue = Queue {
            tx: Mutex::new(Some(tx)),
            queued: AtomicUsize::new(0),
            max,
            lock: Mutex::new(()),
            room: Condvar::new(),
            notify: tokio::sync::Notify::new(),
            gauge,
        };
        (queue, rx)
    }

    /// Events waiting.
    pub fn depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    pub fn full(&self) -> bool {
        self.depth() >= self.max
    }

    /// Shutting down: nothing more is taken.
    pub fn closed(&self) -> bool {
        self.tx.lock().map_or(true, |tx| tx.is_none())
    }

    /// Takes nothing more; the matching thread drains what is queued.
    pub fn close(&self) {
        if let Ok(mut tx) = self.tx.lock() {
            tx.take();
        }
        self.wake();
    }

    /// Room for `n` events reserved, or how many are queued. An empty
    /// queue takes any batch, so that one larger than the queue is not
    /// refused for ever.
    fn reserve(&self, n: usize) -> Result<(), usize> {
        let mut queued = self.queued.load(Ordering::Relaxed);
        loop {
            if queued > 0 && queued + n > self.max {
                return Err(queued);
            }
            match (self.queued).compare_exchange(
                queued,
                queued + n,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => queued = now,
            }
        }
    }

    /// Queues `batch` if there is room now.
    pub fn try_send(&self, mut batch: Batch) -> Result<(), (Refused, Batch)> {
        let n = batch.items.len();
        if self.closed() {
            return Err((Refused::Closed, batch));
        }
        if let Err(queued) = self.reserve(n) {
            return Err((Refused::Full(queued), batch));
        }
        batch.queued = Some(std::time::Instant::now());
        let sent = match self.tx.lock() {
            Ok(tx) => match tx.as_ref() {
                Some(tx) => tx.send(batch).map_err(|e| e.0),
                None => Err(batch),
            },
            Err(_) => Err(batch),
        };
        match sent {
            Ok(()) => {
                self.gauge.set(self.depth() as i64);
                Ok(())
            }
            Err(batch) => {
                self.queued.fetch_sub(n, Ordering::AcqRel);
                Err((Refused::Closed, batch))
            }
        }
    }

    /// Queues `batch`, waiting on this thread for room as long as it
    /// takes; `Err` with the batch only once the queue is closed. A wait
    /// is counted in `waits`.
    pub fn send_blocking(&self, mut batch: Batch, waits: &Counter) -> Result<(), Batch> {
        let mut counted = false;
        loop {
            match self.try_send(batch) {
                Ok(()) => return Ok(()),
                Err((Refused::Closed, b)) => return Err(b),
                Err((Refused::Full(_), b)) => batch = b,
            }
            if !counted {
                waits.inc();
                counted = true;
            }
            let Ok(guard) = self.lock.lock() else {
                return Err(batch);
            };
            let _ = self.room.wait_timeout(guard, RECHECK);
        }
    }

    /// [`Queue::send_blocking`] for a task: the task waits, not the thread.
    pub async fn send(&self, mut batch: Batch, waits: &Counter) -> Result<(), Batch> {
        let mut counted = false;
        loop {
            let notified = self.notify.notified();
            match self.try_send(batch) {
                Ok(()) => return Ok(()),
                Err((Refused::Closed, b)) => return Err(b),
                Err((Refused::Full(_), b)) => batch = b,
            }
            if !counted {
                waits.inc();
                counted = true;
            }
            let _ = tokio::time::timeout(RECHECK, notified).await;
        }
    }

    /// The matching thread has taken `n` events off the queue.
    pub fn taken(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::AcqRel);
        self.gauge.set(self.depth() as i64);
        self.wake();
    }

    fn wake(&self) {
        self.room.notify_all();
        self.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(n: usize) -> Batch {
        let mut b = Batch::new("t".into(), "t".into(), None);
        b.items = (1..=n).map(|i| Item::Line(i, b"{}".to_vec())).collect();
        b
    }

    #[test]
    fn full_queue_refuses_then_a_waiter_gets_in_once_room_is_made() {
        let (q, rx) = Queue::new(3, Gauge::default());
        let q = Arc::new(q);
        q.try_send(batch(2)).map_err(|e| e.0).unwrap();
        assert_eq!(
            q.try_send(batch(2)).err().map(|e| e.0),
            Some(Refused::Full(2))
        );
        let waits = Counter::default();
        let sender = {
            let (q, waits) = (q.clone(), waits.clone());
            std::thread::spawn(move || q.send_blocking(batch(2), &waits).is_ok())
        };
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(waits.get(), 1);
        let first = rx.recv().unwrap();
        q.taken(first.items.len());
        assert!(sender.join().unwrap());
        assert_eq!(rx.recv().unwrap().items.len(), 2);
        // An empty queue takes a batch larger than the bound.
        q.taken(2);
        assert!(q.try_send(batch(5)).is_ok());
        q.close();
        assert_eq!(
            q.try_send(batch(1)).err().map(|e| e.0),
            Some(Refused::Closed)
        );
    }
}

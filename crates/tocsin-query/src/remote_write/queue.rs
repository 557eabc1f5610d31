//! [`RemoteWriteQueue`]: samples handed over without waiting on the network, sent in order
//! by one task.
//!
//! A rule evaluator must not stall on a slow or unreachable receiver, so samples are queued
//! and one task sends them, oldest first, one request (at most
//! [`RemoteWriteClient::max_series_per_request`] series) at a time:
//!
//! - **Each request is encoded once.** The oldest samples are *moved* out of the queue,
//!   encoded and compressed into one shared buffer, and every retry sends that same buffer;
//!   nothing is cloned per try, and the queue's lock is never held across a send.
//! - **Order and retries.** A request that fails in a way that may succeed later (connection
//!   refused, timeout, 5xx, 429) is sent again — after the client's own retries, with a
//!   backoff from 100 ms doubling to 10 s — until it lands; later samples wait behind it, so
//!   a series' samples arrive in time order. A request the receiver refuses for good (a 4xx:
//!   out-of-order or duplicate samples) is dropped and counted as rejected, as Prometheus's
//!   own sender does, and the next one goes.
//! - **A documented bound.** While the receiver is down, at most `capacity` samples wait
//!   (plus the one request in flight); past that the *oldest* waiting samples are dropped and
//!   counted ([`WriteQueueStats::dropped`]). Nothing else is ever dropped.
//! - **Flush.** [`RemoteWriteQueue::flush`] resolves once every sample queued before the
//!   call has been sent (or rejected), or when its wait runs out: the engine awaits it after
//!   a rule that wrote samples, so the next rule of the group reads this evaluation's value,
//!   as inside Prometheus, without a down receiver stalling evaluation.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tracing::warn;

use super::{encode_batch, validate, RemoteWriteClient, WriteSample};

/// Samples kept waiting while the receiver is unreachable, by default: at about 200 bytes
/// a sample, some 200 MB.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1_000_000;

/// How long a flush waits for the queue to drain, by default, before evaluation goes on
/// without it.
pub const DEFAULT_FLUSH_WAIT: Duration = Duration::from_secs(10);

/// Pause after the first failed request; doubled per further failure up to
/// [`MAX_BACKOFF`], reset by a success.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Counters of a [`RemoteWriteQueue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteQueueStats {
    /// Samples waiting (not counting the request in flight).
    pub queued: usize,
    /// Samples dropped because more than the capacity waited (oldest first).
    pub dropped: u64,
    /// Samples refused for good: by the receiver (a 4xx) or before sending (no labels).
    pub rejected: u64,
    /// Requests that failed (each counted once per failed [`RemoteWriteClient::write_encoded`],
    /// retried or not).
    pub failures: u64,
}

/// A queue of samples in front of a [`RemoteWriteClient`]; see the module documentation.
/// Dropping it stops the sending task (what was not sent yet is lost).
pub struct RemoteWriteQueue {
    shared: Arc<Shared>,
}

struct Shared {
    pending: Mutex<Pending>,
    /// Wakes the sender: samples arrived, or the queue was dropped.
    wake: Notify,
    closed: AtomicBool,
    /// Sequence number of the last sample sent or rejected.
    written: watch::Sender<u64>,
    rejected: AtomicU64,
    failures: AtomicU64,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RemoteWriteQueue {
    /// Starts the sending task on the current tokio runtime (panics outside one). At most
    /// `capacity` samples (at least 1) wait while the receiver is down.
    pub fn start(client: RemoteWriteClient, capacity: usize) -> RemoteWriteQueue {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::new(capacity)),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            written: watch::channel(0).0,
            rejected: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        });
        tokio::spawn(send_loop(shared.clone(), client));
        RemoteWriteQueue { shared }
    }

    /// Queues samples, in order, without waiting. A sample whose labels are all empty is
    /// refused (counted as rejected); past the capacity the oldest waiting samples are
    /// dropped.
    pub fn push(&self, samples: impl IntoIterator<Item = WriteSample>) {
        let mut refused = 0;
        {
            let mut pending = self.shared.pending();
            for sample in samples {
                if validate(std::slice::from_ref(&sample)).is_err() {
                    refused += 1;
                    continue;
                }
                pending.push(sample);
            }
        }
        if refused > 0 {
            self.shared.rejected.fetch_add(refused, Ordering::Relaxed);
            warn!(
                samples = refused,
                "remote write: samples without labels refused"
            );
        }
        self.shared.wake.notify_one();
    }

    /// Resolves to `true` once every sample queued before this call has been sent or
    /// rejected, or to `false` when `wait` passes first (the samples stay queued).
    pub fn flush(&self, wait: Duration) -> impl Future<Output = bool> + Send + 'static {
        let target = self.shared.pending().queued;
        let mut written = self.shared.written.subscribe();
        async move {
            tokio::time::timeout(wait, written.wait_for(|w| *w >= target))
                .await
                .is_ok_and(|r| r.is_ok())
        }
    }

    /// The counters.
    pub fn stats(&self) -> WriteQueueStats {
        let pending = self.shared.pending();
        WriteQueueStats {
            queued: pending.samples.len(),
            dropped: pending.dropped,
            rejected: self.shared.rejected.load(Ordering::Relaxed),
            failures: self.shared.failures.load(Ordering::Relaxed),
        }
    }
}

impl Drop for RemoteWriteQueue {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Relaxed);
        self.shared.wake.notify_one();
    }
}

impl std::fmt::Debug for RemoteWriteQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriteQueue")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Sends the oldest samples, one request at a time, until the queue is dropped.
async fn send_loop(shared: Arc<Shared>, client: RemoteWriteClient) {
    let max = client.max_series_per_request();
    let mut backoff = INITIAL_BACKOFF;
    while !shared.closed.load(Ordering::Relaxed) {
        let taken = shared.pending().take(max);
        let Some((batch, last)) = taken else {
            shared.wake.notified().await;
            continue;
        };
        let n = batch.len() as u64;
        // The samples are moved into one encoded body; the batch itself is not kept.
        let request = encode_batch(&batch);
        drop(batch);
        match request {
            Ok(request) => loop {
                match client.write_encoded(&request).await {
                    Ok(()) => {
                        backoff = INITIAL_BACKOFF;
                        break;
                    }
                    Err(e) if !e.is_retryable() => {
                        shared.failures.fetch_add(1, Ordering::Relaxed);
                        shared.rejected.fetch_add(n, Ordering::Relaxed);
                        warn!(err = %e, samples = n, "remote write rejected; samples dropped");
                        break;
                    }
                    Err(e) => {
                        shared.failures.fetch_add(1, Ordering::Relaxed);
                        warn!(err = %e, samples = n, "remote write failed; will retry");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        if shared.closed.load(Ordering::Relaxed) {
                            return;
                        }
                    }
                }
            },
            Err(e) => {
                shared.rejected.fetch_add(n, Ordering::Relaxed);
                warn!(err = %e, samples = n, "remote write: samples cannot be encoded; dropped");
            }
        }
        shared.written.send_replace(last);
    }
}

/// The waiting samples and their sequence numbers: the queue's logic without I/O.
#[derive(Debug)]
struct Pending {
    samples: VecDeque<WriteSample>,
    capacity: usize,
    /// Sequence number of the last sample pushed (the first is 1).
    queued: u64,
    dropped: u64,
}

impl Pending {
    fn new(capacity: usize) -> Pending {
        Pending {
            samples: VecDeque::new(),
            capacity: capacity.max(1),
            queued: 0,
            dropped: 0,
        }
    }

    /// Appends a sample; past the capacity, drops the oldest.
    fn push(&mut self, sample: WriteSample) {
        self.samples.push_back(sample);
        self.queued += 1;
        if self.samples.len() > self.capacity {
            self.samples.pop_front();
            self.dropped += 1;
        }
    }

    /// Moves the oldest `max` (at least 1) samples out, with the sequence number of the
    /// last of them; `None` when nothing waits.
    fn take(&mut self, max: usize) -> Option<(Vec<WriteSample>, u64)> {
        if self.samples.is_empty() {
            return None;
        }
        let n = max.max(1).min(self.samples.len());
        let batch: Vec<WriteSample> = self.samples.drain(..n).collect();
        Some((batch, self.queued - self.samples.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Labels;

    fn sample(i: i64) -> WriteSample {
        let labels: Labels = [("__name__", "m")].into_iter().collect();
        (labels, i as f64, i)
    }

    fn values(batch: &[WriteSample]) -> Vec<i64> {
        batch.iter().map(|(_, _, t)| *t).collect()
    }

    #[test]
    fn batches_leave_oldest_first_in_order_with_the_last_sequence_number() {
        let mut p = Pending::new(100);
        assert!(p.take(3).is_none());
        for i in 1..=7 {
            p.push(sample(i));
        }
        let (a, last_a) = p.take(3).unwrap();
        let (b, last_b) = p.take(3).unwrap();
        p.push(sample(8));
        let (c, last_c) = p.take(3).unwrap();
        assert_eq!(
            (values(&a), values(&b), values(&c)),
            (vec![1, 2, 3], vec![4, 5, 6], vec![7, 8])
        );
        assert_eq!((last_a, last_b, last_c), (3, 6, 8));
        assert!(p.take(3).is_none());
        assert_eq!(p.dropped, 0);
    }

    #[test]
    fn past_the_capacity_only_the_oldest_waiting_samples_are_dropped_and_counted() {
        let mut p = Pending::new(4);
        for i in 1..=10 {
            p.push(sample(i));
        }
        assert_eq!(p.dropped, 6);
        let (batch, last) = p.take(100).unwrap();
        assert_eq!(values(&batch), [7, 8, 9, 10]);
        // The sequence number still counts the dropped samples, so a flush waiting for
        // sample 10 is released by this batch.
        assert_eq!(last, 10);
    }

    #[test]
    fn a_batch_in_flight_is_outside_the_bound_and_is_never_dropped() {
        let mut p = Pending::new(2);
        p.push(sample(1));
        p.push(sample(2));
        let (in_flight, _) = p.take(2).unwrap();
        for i in 3..=5 {
            p.push(sample(i));
        }
        assert_eq!(values(&in_flight), [1, 2]);
        assert_eq!(p.dropped, 1);
        assert_eq!(values(&p.take(10).unwrap().0), [4, 5]);
    }

    #[test]
    fn zero_capacity_and_zero_batch_size_mean_one() {
        let mut p = Pending::new(0);
        p.push(sample(1));
        p.push(sample(2));
        assert_eq!(p.dropped, 1);
        assert_eq!(values(&p.take(0).unwrap().0), [2]);
    }
}

//! Rule outputs written to Prometheus with the remote-write protocol.
//!
//! [`Outputs::write`] runs on a group task and must not wait on the network, so samples
//! queue here and one task sends them in order. [`Outputs::flush`] — which the engine awaits
//! after a rule that wrote samples and before the group's next rule — resolves once the
//! queue as it stood has been written, so a rule that reads an earlier recording rule of
//! its group sees this evaluation's value, as inside Prometheus. A datasource that is down
//! must not stall evaluation: a flush waits at most [`FLUSH_WAIT`], and unsent samples stay
//! queued (bounded by [`MAX_QUEUED`]; the oldest are dropped and counted past it).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tocsin_engine::runner::{FlushFuture, Outputs};
use tocsin_engine::{Sample, Timestamp};
use tocsin_query::remote_write::WriteSample;
use tocsin_query::{LabelsBuilder, RemoteWriteClient};
use tokio::sync::{watch, Notify};
use tracing::warn;

/// How long a flush waits for the write to land before evaluation goes on without it.
const FLUSH_WAIT: Duration = Duration::from_secs(10);
/// Samples kept while the receiver is unreachable.
const MAX_QUEUED: usize = 1_000_000;

pub struct RemoteWriteOutputs {
    queue: Mutex<Queue>,
    wake: Notify,
    /// Sequence number of the last sample written.
    written: watch::Sender<u64>,
    pub dropped: AtomicU64,
    pub failures: AtomicU64,
}

#[derive(Default)]
struct Queue {
    samples: VecDeque<WriteSample>,
    /// Sequence number of the last sample queued.
    queued: u64,
}

impl RemoteWriteOutputs {
    /// Starts the sending task on the current runtime.
    pub fn start(client: RemoteWriteClient) -> Arc<Self> {
        let outputs = Arc::new(RemoteWriteOutputs {
            queue: Mutex::new(Queue::default()),
            wake: Notify::new(),
            written: watch::channel(0).0,
            dropped: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        });
        let sender = outputs.clone();
        tokio::spawn(async move { sender.send_loop(client).await });
        outputs
    }

    async fn send_loop(&self, client: RemoteWriteClient) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let (batch, last) = {
                let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                (
                    queue.samples.iter().cloned().collect::<Vec<_>>(),
                    queue.queued,
                )
            };
            if batch.is_empty() {
                self.wake.notified().await;
                continue;
            }
            match client.write(&batch).await {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    self.sent(batch.len(), last);
                }
                Err(e) if !e.is_retryable() => {
                    // Prometheus refuses these samples for good (e.g. out of order).
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    warn!(err = %e, samples = batch.len(), "remote write rejected; samples dropped");
                    self.sent(batch.len(), last);
                }
                Err(e) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    warn!(err = %e, samples = batch.len(), "remote write failed; will retry");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// The first `n` queued samples (sequence up to `last`) are done.
    fn sent(&self, n: usize, last: u64) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let n = n.min(queue.samples.len());
        queue.samples.drain(..n);
        drop(queue);
        self.written.send_replace(last);
    }
}

impl Outputs for RemoteWriteOutputs {
    fn write(&self, _group: &str, ts: Timestamp, samples: &[Sample]) {
        let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        for s in samples {
            let mut b = LabelsBuilder::with_capacity(8, 128);
            for (k, v) in s.labels.iter() {
                b.push(k, v);
            }
            queue
                .samples
                .push_back((b.build(), s.value, ts.unix_millis()));
            queue.queued += 1;
        }
        let excess = queue.samples.len().saturating_sub(MAX_QUEUED);
        if excess > 0 {
            queue.samples.drain(..excess);
            self.dropped.fetch_add(excess as u64, Ordering::Relaxed);
        }
        drop(queue);
        self.wake.notify_one();
    }

    fn flush(&self) -> FlushFuture<'_> {
        let target = self.queue.lock().unwrap_or_else(|p| p.into_inner()).queued;
        let mut written = self.written.subscribe();
        Box::pin(async move {
            let landed = tokio::time::timeout(FLUSH_WAIT, written.wait_for(|w| *w >= target)).await;
            if landed.is_err() {
                warn!("remote write is behind; evaluation continues without waiting for it");
            }
        })
    }
}

/// Both outputs: `/metrics` always, remote write when configured.
pub struct Tee<A, B>(pub Arc<A>, pub Option<Arc<B>>);

impl<A: Outputs, B: Outputs> Outputs for Tee<A, B> {
    fn write(&self, group: &str, ts: Timestamp, samples: &[Sample]) {
        self.0.write(group, ts, samples);
        if let Some(b) = &self.1 {
            b.write(group, ts, samples);
        }
    }

    fn flush(&self) -> FlushFuture<'_> {
        match &self.1 {
            Some(b) => b.flush(),
            None => self.0.flush(),
        }
    }
}

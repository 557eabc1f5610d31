//! Rule outputs written to Prometheus with the remote-write protocol: the engine's
//! [`Outputs`] on tocsin-query's [`RemoteWriteQueue`], which owns the queueing, ordering,
//! retries and bound (see its documentation). This adapter only turns the engine's samples
//! into write samples and gives a flush its wait.

use std::sync::Arc;

use tocsin_engine::runner::{FlushFuture, Outputs};
use tocsin_engine::{Sample, Timestamp};
use tocsin_query::remote_write::DEFAULT_FLUSH_WAIT;
use tocsin_query::{LabelsBuilder, RemoteWriteQueue};
use tracing::warn;

pub struct RemoteWriteOutputs(pub RemoteWriteQueue);

impl Outputs for RemoteWriteOutputs {
    fn write(&self, _group: &str, ts: Timestamp, samples: &[Sample]) {
        let at = ts.unix_millis();
        self.0.push(samples.iter().map(|s| {
            let mut b = LabelsBuilder::with_capacity(8, 128);
            for (k, v) in s.labels.iter() {
                b.push(k, v);
            }
            (b.build(), s.value, at)
        }));
    }

    fn flush(&self) -> FlushFuture<'_> {
        let landed = self.0.flush(DEFAULT_FLUSH_WAIT);
        Box::pin(async move {
            if !landed.await {
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

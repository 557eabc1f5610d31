//! Keeping the state file current: after group evaluations, at most once per second, and
//! once more at shutdown. Capturing locks each group briefly; the write (JSON, fsync,
//! rename) runs on the blocking pool.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::persist;
use crate::runner::group::lock;
use crate::runner::Inner;
use crate::state::{GroupSnapshot, Snapshot, SNAPSHOT_VERSION};

/// The shortest time between two writes.
pub(crate) const MIN_WRITE_INTERVAL: Duration = Duration::from_secs(1);

pub(crate) async fn save_loop(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    if inner.opts.state_file.is_none() {
        return;
    }
    loop {
        tokio::select! {
            _ = inner.dirty.notified() => {}
            _ = stop.changed() => return,
        }
        save_now(&inner).await;
        tokio::select! {
            _ = tokio::time::sleep(MIN_WRITE_INTERVAL) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Captures every group's state and writes the file now.
pub(crate) async fn save_now(inner: &Arc<Inner>) {
    let Some(path) = inner.opts.state_file.clone() else {
        return;
    };
    let handles: Vec<_> = lock(&inner.groups).by_key.values().cloned().collect();
    let groups = handles
        .iter()
        .filter_map(|h| {
            let rt = lock(&h.rt);
            let at = rt.state_as_of?;
            Some(GroupSnapshot::capture(&h.def, &rt.state, at))
        })
        .collect();
    let snapshot = Snapshot {
        version: SNAPSHOT_VERSION,
        groups,
    };
    let written =
        tokio::task::spawn_blocking(move || persist::write_atomic(&path, &snapshot)).await;
    let failure = match written {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(error) = failure {
        inner.state_write_failures.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%error, "cannot write the alert state file");
    }
}

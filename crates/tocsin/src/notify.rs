//! The bridge from the engine's alerts to the notification pipeline.
//!
//! The engine calls [`AlertNotifier::send`] from its group tasks and must never wait on the
//! network, so alerts go through a channel to one task that owns the [`Notifier`]: it feeds
//! them in, and flushes whenever the pipeline says something is due (group_wait,
//! group_interval, repeat_interval, a rate-limit window reopening).

use std::time::Duration;

use tocsin_engine::runner::{AlertNotifier, OutgoingAlert, OutgoingState};
use tocsin_notify::alert::{AlertStatus, NotifyAlert};
use tocsin_notify::pipeline::Notifier;
use tocsin_notify::time::Timestamp;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tracing::{info, warn};

/// Hands alerts to the pipeline task.
pub struct ChannelNotifier {
    tx: UnboundedSender<Vec<OutgoingAlert>>,
}

impl AlertNotifier for ChannelNotifier {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        if self.tx.send(alerts).is_err() {
            warn!("notification pipeline has stopped; alerts not queued");
        }
    }
}

pub fn channel() -> (ChannelNotifier, UnboundedReceiver<Vec<OutgoingAlert>>) {
    let (tx, rx) = unbounded_channel();
    (ChannelNotifier { tx }, rx)
}

/// Logs what would be sent: `--dry-run` without a `notify:` section, or no receivers.
pub struct LogNotifier;

impl AlertNotifier for LogNotifier {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        for alert in alerts {
            info!(
                alertname = alert.labels.get("alertname").unwrap_or(""),
                state = alert.state.as_str(),
                labels = %alert.labels,
                "notification (no receiver configured)"
            );
        }
    }
}

/// Runs the pipeline until the channel closes (the engine stopped), then flushes once more.
pub async fn drive(mut rx: UnboundedReceiver<Vec<OutgoingAlert>>, mut notifier: Notifier) {
    loop {
        let now = Timestamp::now();
        let wait = notifier
            .next_due(now)
            .map(|due| {
                Duration::from_millis(due.as_millis().saturating_sub(now.as_millis()).max(0) as u64)
            })
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        tokio::select! {
            received = rx.recv() => match received {
                Some(alerts) => notifier.ingest(alerts.into_iter().map(convert), Timestamp::now()),
                None => break,
            },
            () = tokio::time::sleep(wait) => {}
        }
        if let Err(e) = notifier.flush(Timestamp::now()).await {
            warn!(err = %e, "sending notifications failed; they stay queued");
        }
    }
    if let Err(e) = notifier.flush(Timestamp::now()).await {
        warn!(err = %e, "final notification flush failed; queued notifications stay in the outbox");
    }
}

fn convert(a: OutgoingAlert) -> NotifyAlert {
    let labels = a
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let annotations = a
        .annotations
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut alert = NotifyAlert::firing(
        labels,
        annotations,
        Timestamp::from_millis(a.starts_at.unix_millis()),
    );
    alert.generator_url = a.generator_url;
    let ends = Timestamp::from_millis(a.ends_at.unix_millis());
    match a.state {
        OutgoingState::Firing => alert.ends_at = Some(ends),
        OutgoingState::Resolved => {
            alert = alert.resolved_at(ends);
            debug_assert_eq!(alert.status, AlertStatus::Resolved);
        }
    }
    alert
}

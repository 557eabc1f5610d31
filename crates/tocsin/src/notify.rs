//! The notification task shared by `tocsin run` and `tocsin gateway`.
//!
//! The engine calls [`AlertNotifier::send`] from its group tasks and must never wait on the
//! network, and gateway posts (`POST /dingtalk/<receiver>/send`) arrive on HTTP tasks, so
//! both go through one channel to one task that owns the [`Notifier`]: it feeds them in,
//! and flushes whenever the pipeline says something is due (group_wait, group_interval,
//! repeat_interval, a rate-limit window reopening). After each round it publishes its
//! counters for `/metrics`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use tocsin_engine::runner::{AlertNotifier, OutgoingAlert, OutgoingState};
use tocsin_notify::alert::NotifyAlert;
use tocsin_notify::config::NotifyConfig;
use tocsin_notify::gateway;
use tocsin_notify::pipeline::{Delivered, Notifier, PipelineError, PipelineOptions, PipelineStats};
use tocsin_notify::time::Timestamp;
use tocsin_notify::zoned::TimeZone;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::web::exposition::Exposition;

/// What the notification task is told.
enum Event {
    /// Alerts the engine (re)sends.
    Alerts(Vec<OutgoingAlert>),
    /// An Alertmanager webhook payload for a DingTalk receiver, answered once stored.
    Gateway {
        receiver: String,
        body: Vec<u8>,
        reply: oneshot::Sender<Result<(), GatewayRefusal>>,
    },
}

/// Why a gateway post was not taken, as the HTTP answer says it.
#[derive(Debug)]
pub struct GatewayRefusal {
    pub status: u16,
    pub message: String,
}

/// Hands alerts to the notification task.
pub struct ChannelNotifier {
    tx: UnboundedSender<Event>,
}

impl AlertNotifier for ChannelNotifier {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        if self.tx.send(Event::Alerts(alerts)).is_err() {
            warn!("notification pipeline has stopped; alerts not queued");
        }
    }
}

/// Posts gateway payloads to the notification task (cloned into the HTTP handlers).
#[derive(Clone)]
pub struct GatewayHandle {
    tx: UnboundedSender<Event>,
}

impl GatewayHandle {
    /// Queues `body` for `receiver`'s robot; `Ok` once it is in the outbox.
    pub async fn post(&self, receiver: &str, body: Vec<u8>) -> Result<(), GatewayRefusal> {
        let stopped = || GatewayRefusal {
            status: 503,
            message: "the notification pipeline is shutting down".to_owned(),
        };
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Event::Gateway {
                receiver: receiver.to_owned(),
                body,
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// The pipeline's counters as of its last round, for `/metrics`.
#[derive(Default)]
pub struct NotifyStatus {
    stats: PipelineStats,
    queued: BTreeMap<String, usize>,
    /// Robots held back by a throttle, until when.
    throttled: BTreeMap<String, Timestamp>,
    outbox_evicted: u64,
    /// Aggregation groups alive, and alerts in them.
    groups: (usize, usize),
}

impl NotifyStatus {
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Notifications waiting, all destinations together.
    pub fn queued_total(&self) -> usize {
        self.queued.values().sum()
    }

    pub fn outbox_evicted(&self) -> u64 {
        self.outbox_evicted
    }

    /// Aggregation groups alive, and alerts in them.
    pub fn groups(&self) -> (usize, usize) {
        self.groups
    }

    pub fn expose(&self, page: &mut Exposition) {
        let s = &self.stats;
        let counters: [(&str, &str, u64); 10] = [
            (
                "tocsin_notifications_total",
                "Notifications produced (groups flushed, gateway posts taken).",
                s.notifications,
            ),
            (
                "tocsin_notifications_duplicate_total",
                "Notifications not sent because the same content was delivered just before.",
                s.duplicates_skipped,
            ),
            (
                "tocsin_notifications_superseded_total",
                "Unsent notifications folded into a newer one of the same group.",
                s.superseded,
            ),
            (
                "tocsin_notification_batches_delivered_total",
                "Batches a receiver accepted.",
                s.batches_delivered,
            ),
            (
                "tocsin_notification_messages_sent_total",
                "DingTalk messages a robot accepted.",
                s.messages_sent,
            ),
            (
                "tocsin_notification_digests_total",
                "Digest batches (groups merged under a robot's rate limit).",
                s.digests,
            ),
            (
                "tocsin_notification_rate_limited_total",
                "Sends a receiver throttled (DingTalk 130101 or HTTP 429).",
                s.rate_limited,
            ),
            (
                "tocsin_notification_throttles_total",
                "Times a DingTalk robot answered 130101 and was left alone for its throttle.",
                s.throttles,
            ),
            (
                "tocsin_notification_failures_total",
                "Sends that failed and will be retried.",
                s.transient_failures,
            ),
            (
                "tocsin_notifications_dropped_total",
                "Notifications given up on after a permanent rejection.",
                s.dropped,
            ),
        ];
        for (name, help, value) in counters {
            page.family(name, "counter", help)
                .sample(name, [], value as f64);
        }
        page.family(
            "tocsin_notification_outbox_evicted_total",
            "counter",
            "Notifications evicted because the outbox reached its size bound.",
        )
        .sample(
            "tocsin_notification_outbox_evicted_total",
            [],
            self.outbox_evicted as f64,
        );
        let name = "tocsin_notification_throttled_until_seconds";
        page.family(
            name,
            "gauge",
            "Until when a throttled DingTalk robot is left alone (Unix seconds), per destination.",
        );
        for (destination, until) in &self.throttled {
            page.sample(
                name,
                [("destination", destination.as_str())],
                until.unix_millis() as f64 / 1000.0,
            );
        }
        let name = "tocsin_notifications_queued";
        page.family(name, "gauge", "Notifications waiting per destination.");
        for (destination, n) in &self.queued {
            page.sample(name, [("destination", destination.as_str())], *n as f64);
        }
    }
}

/// A started notification task and the ways to reach it.
pub struct Started {
    pub notifier: ChannelNotifier,
    pub gateway: GatewayHandle,
    pub status: Arc<Mutex<NotifyStatus>>,
    pub task: JoinHandle<()>,
}

/// Builds the pipeline for `config` (reading robot tokens and secrets; with `outbox_dir`,
/// reloading what was pending) and starts its task; messages show times in `time_zone`.
pub fn start(
    config: &NotifyConfig,
    external_url: &str,
    time_zone: TimeZone,
    outbox_dir: Option<std::path::PathBuf>,
    dry_run: bool,
) -> anyhow::Result<Started> {
    start_observed(config, external_url, time_zone, outbox_dir, dry_run, None)
}

/// [`start`], telling `observer` of every delivered message (`tocsin loadtest`).
pub fn start_observed(
    config: &NotifyConfig,
    external_url: &str,
    time_zone: TimeZone,
    outbox_dir: Option<std::path::PathBuf>,
    dry_run: bool,
    observer: Option<std::sync::mpsc::Sender<Delivered>>,
) -> anyhow::Result<Started> {
    let options = PipelineOptions {
        outbox_dir,
        ..PipelineOptions::daemon(external_url, time_zone)
    };
    let mut pipeline = Notifier::from_config(config, &options, dry_run).context("notify")?;
    if let Some(tx) = observer {
        pipeline.observe(tx);
    }
    let (tx, rx) = unbounded_channel();
    let status = Arc::new(Mutex::new(NotifyStatus::default()));
    let task = tokio::spawn(drive(rx, pipeline, status.clone()));
    Ok(Started {
        notifier: ChannelNotifier { tx: tx.clone() },
        gateway: GatewayHandle { tx },
        status,
        task,
    })
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

/// Runs the pipeline until every sender is gone, then flushes once more.
async fn drive(
    mut rx: UnboundedReceiver<Event>,
    mut notifier: Notifier,
    status: Arc<Mutex<NotifyStatus>>,
) {
    loop {
        let now = Timestamp::now();
        let wait = notifier
            .next_due(now)
            .map(|due| {
                Duration::from_millis(
                    due.unix_millis().saturating_sub(now.unix_millis()).max(0) as u64
                )
            })
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        tokio::select! {
            received = rx.recv() => match received {
                Some(event) => {
                    // Take everything already waiting, so a burst of gateway posts is
                    // stored with one write.
                    let mut events = vec![event];
                    while events.len() < MAX_EVENTS_AT_ONCE {
                        match rx.try_recv() {
                            Ok(e) => events.push(e),
                            Err(_) => break,
                        }
                    }
                    handle(&mut notifier, events);
                }
                None => break,
            },
            () = tokio::time::sleep(wait) => {}
        }
        if let Err(e) = notifier.flush(Timestamp::now()).await {
            warn!(err = %e, "sending notifications failed; they stay queued");
        }
        publish(&notifier, &status);
    }
    if let Err(e) = notifier.flush(Timestamp::now()).await {
        warn!(err = %e, "final notification flush failed; queued notifications stay in the outbox");
    }
    publish(&notifier, &status);
}

/// Events handled in one round at most.
const MAX_EVENTS_AT_ONCE: usize = 10_000;

fn handle(notifier: &mut Notifier, events: Vec<Event>) {
    let now = Timestamp::now();
    let mut posts = Vec::new();
    let mut replies = Vec::new();
    for event in events {
        match event {
            Event::Alerts(alerts) => notifier.ingest(alerts.into_iter().map(convert), now),
            Event::Gateway {
                receiver,
                body,
                reply,
            } => match gateway::decode(&receiver, &body, now) {
                Ok(n) => {
                    posts.push(n);
                    replies.push((receiver, reply));
                }
                Err(e) => answer(
                    &receiver,
                    reply,
                    Err(GatewayRefusal {
                        status: 400,
                        message: e.to_string(),
                    }),
                ),
            },
        }
    }
    if posts.is_empty() {
        return;
    }
    match notifier.submit_all(posts, now) {
        Ok(results) => {
            for ((receiver, reply), result) in replies.into_iter().zip(results) {
                let result = result.map_err(|e| GatewayRefusal {
                    status: match e {
                        PipelineError::UnknownReceiver(_) | PipelineError::NotDingTalk(_) => 404,
                        _ => 503,
                    },
                    message: e.to_string(),
                });
                answer(&receiver, reply, result);
            }
        }
        Err(e) => {
            for (receiver, reply) in replies {
                let refusal = GatewayRefusal {
                    status: 503,
                    message: e.to_string(),
                };
                answer(&receiver, reply, Err(refusal));
            }
        }
    }
}

/// Answers a gateway post, logging a refusal.
fn answer(
    receiver: &str,
    reply: oneshot::Sender<Result<(), GatewayRefusal>>,
    result: Result<(), GatewayRefusal>,
) {
    if let Err(refusal) = &result {
        warn!(receiver = %receiver, status = refusal.status, err = %refusal.message,
            "gateway post refused");
    }
    // The poster may have hung up; the notification is stored either way.
    let _ = reply.send(result);
}

fn publish(notifier: &Notifier, status: &Mutex<NotifyStatus>) {
    let pipeline = notifier.pipeline();
    if let Ok(mut s) = status.lock() {
        s.stats = pipeline.stats();
        s.queued = pipeline.queued();
        s.throttled = pipeline.throttled(Timestamp::now());
        s.outbox_evicted = pipeline.outbox_overflowed();
        s.groups = pipeline.dispatcher().stats();
    }
}

/// The engine's alert as the pipeline takes it (`tocsin diff --config` converts alike:
/// tocsin-diff's `notify` module).
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
    NotifyAlert::sent(
        labels,
        annotations,
        Timestamp::from_millis(a.starts_at.unix_millis()),
        Timestamp::from_millis(a.ends_at.unix_millis()),
        a.state == OutgoingState::Resolved,
        a.generator_url,
    )
}

//! The pipeline in front of every receiver, wired: dispatcher (routing, grouping, timing)
//! → outbox (durable) → lanes (per destination; rate limits and digests for DingTalk
//! robots) → jobs for the receivers. [`Pipeline`] is synchronous and takes time as an
//! argument; [`Notifier`] is the small async driver `tocsin run` uses around it.
//!
//! Destinations ("lanes") are [`Destination`]s, written `dingtalk:<receiver>`,
//! `alertmanager:<receiver>`, `webhook:<receiver>`; receivers on the same DingTalk robot
//! (same URL and token source) share the first one's lane, and so its send window (one
//! per robot, for `run` and gateway traffic alike). Names hold no secrets (they go into the
//! outbox files) and survive a change of URL, so what is pending still goes out after the
//! config is fixed and tocsin restarted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::alert::NotifyAlert;
use crate::config::NotifyConfig;
use crate::dingtalk::{ClientError, DingTalkClient, DingTalkReceiverConfig, SharedWindow};
use crate::group::Dispatcher;
use crate::lane::{Batch, Lane, LaneMode, RobotLane, SendResult};
use crate::notification::Notification;
use crate::outbox::{Outbox, OutboxError, OutboxOptions};
use crate::receiver::{
    part_text, AlertmanagerReceiver, DeliveryError, DingTalkReceiver, EndpointError, LogReceiver,
    Receiver, WebhookReceiver,
};
use crate::render::RenderOptions;
use crate::route::{RouteError, RouteTree};
use crate::time::Timestamp;

/// How the pipeline is set up, beyond the `notify:` config.
#[derive(Clone, Debug)]
pub struct PipelineOptions {
    /// Message layout; `format` is overridden per robot by its `message:` setting.
    pub render: RenderOptions,
    /// How long a robot's lane waits for a burst of notifications to end before planning
    /// ([`crate::lane`]); the daemon uses [`DAEMON_SETTLE`].
    pub settle: Duration,
    /// Where the outbox lives (`<state dir>/outbox`); `None` keeps notifications in memory
    /// only (tests, `--dry-run`).
    pub outbox_dir: Option<PathBuf>,
    pub outbox: OutboxOptions,
    /// `external_url` for webhook payloads.
    pub external_url: String,
    /// Timeout of Alertmanager and webhook requests without their own.
    pub http_timeout: Duration,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            render: RenderOptions::default(),
            settle: Duration::ZERO,
            outbox_dir: None,
            outbox: OutboxOptions::default(),
            external_url: String::new(),
            http_timeout: Duration::from_secs(10),
        }
    }
}

impl PipelineOptions {
    /// What `tocsin run` runs with (and `tocsin diff --config` simulates): messages linking
    /// to `external_url` and showing times in `time_zone` (`global.time_zone`), the daemon's
    /// settle time; the outbox is the caller's to set.
    pub fn daemon(external_url: &str, time_zone: crate::zoned::TimeZone) -> PipelineOptions {
        PipelineOptions {
            render: RenderOptions {
                external_url: external_url.to_owned(),
                time_zone,
                ..RenderOptions::default()
            },
            external_url: external_url.to_owned(),
            settle: DAEMON_SETTLE,
            ..PipelineOptions::default()
        }
    }
}

/// The daemon's settle time: half a second of quiet (bursts are cut off after 2.5 s).
pub const DAEMON_SETTLE: Duration = Duration::from_millis(500);

/// Where a lane's notifications go: a receiver's DingTalk robot, Alertmanager or webhook.
/// Written `dingtalk:<receiver>` (the outbox stores that form).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Destination {
    DingTalk(String),
    Alertmanager(String),
    Webhook(String),
}

impl Destination {
    /// Reads what [`Destination`]'s `Display` writes.
    pub fn parse(s: &str) -> Option<Destination> {
        let (kind, receiver) = s.split_once(':')?;
        let receiver = receiver.to_owned();
        match kind {
            "dingtalk" => Some(Destination::DingTalk(receiver)),
            "alertmanager" => Some(Destination::Alertmanager(receiver)),
            "webhook" => Some(Destination::Webhook(receiver)),
            _ => None,
        }
    }

    pub fn receiver(&self) -> &str {
        match self {
            Destination::DingTalk(r) | Destination::Alertmanager(r) | Destination::Webhook(r) => r,
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Destination::DingTalk(_) => "dingtalk",
            Destination::Alertmanager(_) => "alertmanager",
            Destination::Webhook(_) => "webhook",
        };
        write!(f, "{kind}:{}", self.receiver())
    }
}

/// A gateway post whose content was delivered this recently is an Alertmanager retry of a
/// post whose answer it missed, not news: it is not sent twice. Alertmanager's own repeats
/// come after its `group_interval`, far later.
const GATEWAY_DEDUP: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("no receiver named {0:?}")]
    UnknownReceiver(String),
    #[error("receiver {0:?} has no dingtalk robot")]
    NotDingTalk(String),
    #[error(transparent)]
    Route(#[from] RouteError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    // The cause is the error's `source`, not part of its message: callers print the chain
    // (`{:#}`), and a cause in both said everything twice.
    #[error("receiver {receiver:?}")]
    DingTalk {
        receiver: String,
        source: ClientError,
    },
    #[error(transparent)]
    Template(#[from] crate::templates::TemplateConfigError),
    #[error("receiver {receiver:?}")]
    Endpoint {
        receiver: String,
        source: EndpointError,
    },
}

/// Counters for `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PipelineStats {
    /// Notifications the dispatcher produced.
    pub notifications: u64,
    /// Notifications skipped because the same content was delivered just before a restart.
    pub duplicates_skipped: u64,
    /// Pending notifications folded into a newer one of the same group.
    pub superseded: u64,
    /// Batches delivered, and DingTalk messages in them.
    pub batches_delivered: u64,
    pub messages_sent: u64,
    /// Digest batches (rate limit reached, or groups too large for one message).
    pub digests: u64,
    /// Failed sends, by what happens next.
    pub rate_limited: u64,
    /// Times a robot was found throttled (130101) and held back for its throttle.
    pub throttles: u64,
    pub transient_failures: u64,
    /// Notifications given up on after a permanent failure.
    pub dropped: u64,
}

/// A batch for one destination; send it with the lane's receiver and hand the result to
/// [`Pipeline::complete`].
#[derive(Clone, Debug)]
pub struct Job {
    pub lane: Destination,
    pub batch: Batch,
}

/// Dispatcher, outbox and lanes.
#[derive(Debug)]
pub struct Pipeline {
    dispatcher: Dispatcher,
    outbox: Option<Outbox>,
    lanes: BTreeMap<Destination, Lane>,
    /// Receiver name → its lanes for grouped notifications (DingTalk, webhook).
    fan_out: HashMap<String, Vec<Destination>>,
    /// Receiver name → its Alertmanager lane. Alertmanager groups by itself and expects
    /// every alert on every resend, as Prometheus sends them: alerts routed to such a
    /// receiver skip the aggregation groups.
    direct: HashMap<String, Destination>,
    /// Alerts for `direct` lanes, queued by [`Pipeline::ingest`] until the next tick.
    direct_pending: Vec<(Destination, Notification)>,
    /// Notifications the dispatcher produced (its group state is already advanced) whose
    /// outbox write failed: stored, in order, before anything newer on the next tick.
    unstored: VecDeque<Unstored>,
    /// Receiver name → shortest repeat_interval of the routes using it (the window in which
    /// content delivered before a restart is not repeated).
    repeat: HashMap<String, Duration>,
    next_seq: u64,
    stats: PipelineStats,
    /// Told of every delivered message ([`Pipeline::observe`]).
    observer: Option<std::sync::mpsc::Sender<Delivered>>,
}

/// One message a receiver accepted, as an observer ([`Pipeline::observe`]; `tocsin
/// loadtest`) is told of it: for a DingTalk robot each message of a batch, for webhook and
/// Alertmanager lanes each notification (its alerts all carried in full).
#[derive(Clone, Debug)]
pub struct Delivered {
    pub lane: Destination,
    /// When the receiver's answer arrived.
    pub at: Timestamp,
    /// Receiver names of the groups in it.
    pub receiver: String,
    /// The group key, or `digest`.
    pub about: String,
    /// `(k, n)` when the message is part k of n.
    pub part: Option<(usize, usize)>,
    /// Part of a digest batch.
    pub digest: bool,
    /// Alerts it reports (listed or counted).
    pub alerts: usize,
    /// The rendered title and text (DingTalk); empty for other lanes.
    pub title: String,
    pub text: String,
    /// Fingerprints of the alerts carried in full (webhook and Alertmanager lanes).
    pub fingerprints: Vec<u64>,
}

/// A notification on its way into a lane and the outbox.
#[derive(Debug)]
struct Unstored {
    lane: Destination,
    notification: Notification,
    /// Content delivered this recently is not sent again.
    dedup: Duration,
    /// Pending notifications already folded into this one: discarded once it is stored.
    superseded: Vec<u64>,
}

/// What identifies a DingTalk robot: endpoint and token source.
fn robot_identity(cfg: &DingTalkReceiverConfig) -> String {
    let source = match (&cfg.access_token_file, &cfg.access_token_env) {
        (Some(f), _) => format!("file:{}", f.display()),
        (None, Some(e)) => format!("env:{e}"),
        (None, None) => String::new(),
    };
    format!("{}#{source}", cfg.url)
}

/// Lane per DingTalk receiver: receivers on the same robot share the first's lane.
fn dingtalk_lanes(config: &NotifyConfig) -> HashMap<String, Destination> {
    let mut by_robot: HashMap<String, Destination> = HashMap::new();
    let mut out = HashMap::new();
    for r in &config.receivers {
        if let Some(d) = &r.dingtalk {
            let lane = by_robot
                .entry(robot_identity(d))
                .or_insert_with(|| Destination::DingTalk(r.name.clone()))
                .clone();
            out.insert(r.name.clone(), lane);
        }
    }
    out
}

impl Pipeline {
    /// Builds the pipeline for `config` and, with an outbox, reloads what was pending.
    pub fn new(
        config: &NotifyConfig,
        options: &PipelineOptions,
    ) -> Result<Pipeline, PipelineError> {
        let tree = RouteTree::from_config(config)?;
        let mut repeat: HashMap<String, Duration> = HashMap::new();
        for r in &tree.routes {
            let e = repeat
                .entry(r.receiver.clone())
                .or_insert(r.timers.repeat_interval);
            *e = (*e).min(r.timers.repeat_interval);
        }
        let mut lanes = BTreeMap::new();
        let mut fan_out: HashMap<String, Vec<Destination>> = HashMap::new();
        let mut direct = HashMap::new();
        let robots = dingtalk_lanes(config);
        let templates = config.message_templates()?;
        for r in &config.receivers {
            let mut mine = Vec::new();
            if let (Some(d), Some(name)) = (&r.dingtalk, robots.get(&r.name)) {
                let name = name.clone();
                lanes.entry(name.clone()).or_insert_with(|| {
                    Lane::robot(RobotLane {
                        window: SharedWindow::new(d.rate_limit),
                        render: RenderOptions {
                            format: d.message,
                            templates: templates.clone(),
                            ..options.render.clone()
                        },
                        storm: d.storm,
                        settle: options.settle,
                    })
                });
                mine.push(name);
            }
            if r.alertmanager.is_some() {
                let name = Destination::Alertmanager(r.name.clone());
                lanes.insert(name.clone(), Lane::new(LaneMode::AllAtOnce));
                direct.insert(r.name.clone(), name);
            }
            if r.webhook.is_some() {
                let name = Destination::Webhook(r.name.clone());
                lanes.insert(name.clone(), Lane::new(LaneMode::PerNotification));
                mine.push(name);
            }
            fan_out.insert(r.name.clone(), mine);
        }
        let send_resolved = config
            .receivers
            .iter()
            .map(|r| (r.name.clone(), r.send_resolved))
            .collect();
        let mut p = Pipeline {
            dispatcher: Dispatcher::new(tree, send_resolved),
            outbox: None,
            lanes,
            fan_out,
            direct,
            direct_pending: Vec::new(),
            unstored: VecDeque::new(),
            repeat,
            next_seq: 1,
            stats: PipelineStats::default(),
            observer: None,
        };
        if let Some(dir) = &options.outbox_dir {
            let (outbox, pending) = Outbox::open(dir, options.outbox)?;
            let mut outbox = outbox;
            for entry in pending {
                let lane = Destination::parse(&entry.target).and_then(|d| p.lanes.get_mut(&d));
                match lane {
                    Some(lane) => {
                        lane.push(entry.seq, entry.notification);
                    }
                    None => {
                        tracing::warn!(
                            lane = %entry.target,
                            group = %entry.notification.group_key,
                            "outbox: destination no longer configured; notification dropped"
                        );
                        outbox.discard(entry.seq);
                    }
                }
            }
            p.outbox = Some(outbox);
        }
        Ok(p)
    }

    /// Hands the engine's alerts to the dispatcher, and those routed to an Alertmanager
    /// receiver straight to its lane.
    pub fn ingest(&mut self, alerts: impl IntoIterator<Item = NotifyAlert>, now: Timestamp) {
        if self.direct.is_empty() {
            self.dispatcher.ingest(alerts, now);
            return;
        }
        let alerts: Vec<NotifyAlert> = alerts.into_iter().collect();
        let mut by_lane: BTreeMap<(Destination, String), Vec<NotifyAlert>> = BTreeMap::new();
        for alert in &alerts {
            let mut receivers: Vec<&str> = self
                .dispatcher
                .tree()
                .matching(&alert.labels)
                .into_iter()
                .map(|r| r.receiver.as_str())
                .collect();
            receivers.dedup();
            for receiver in receivers {
                if let Some(lane) = self.direct.get(receiver) {
                    by_lane
                        .entry((lane.clone(), receiver.to_owned()))
                        .or_default()
                        .push(alert.clone());
                }
            }
        }
        for ((lane, receiver), alerts) in by_lane {
            let n = Notification {
                receiver,
                group_key: "{}:{}".to_owned(),
                group_labels: Default::default(),
                alerts,
                created_at: now,
                mention: None,
            };
            self.direct_pending.push((lane, n));
        }
        self.dispatcher.ingest(alerts, now);
    }

    /// Writes the alerts queued for Alertmanager lanes to the outbox and their lanes. Every
    /// resend is kept: Alertmanager extends an alert's life only when it hears of it again.
    /// What cannot be stored stays queued, in order.
    fn enqueue_direct(&mut self) -> Result<(), PipelineError> {
        let mut pending = std::mem::take(&mut self.direct_pending).into_iter();
        while let Some((lane_name, n)) = pending.next() {
            match self.store(&lane_name, &n) {
                Ok(seq) => {
                    if let Some(lane) = self.lanes.get_mut(&lane_name) {
                        lane.push_unmerged(seq, n);
                    }
                }
                Err(e) => {
                    self.direct_pending = std::iter::once((lane_name, n)).chain(pending).collect();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Queues each `(lane, n, dedup)`, folding in an unsent older notification of the same
    /// group; unless it was folded, content delivered within `dedup` before (a restart, a
    /// re-post) is skipped. What is queued is stored in the outbox first, all at once.
    /// When the outbox write fails, the notifications come back (with what each absorbed)
    /// so that the caller can keep them: nothing is taken before it is stored.
    fn enqueue_all(
        &mut self,
        items: Vec<Unstored>,
        now: Timestamp,
    ) -> Result<(), Box<(PipelineError, Vec<Unstored>)>> {
        let mut keep = Vec::with_capacity(items.len());
        for mut u in items {
            let Some(lane) = self.lanes.get_mut(&u.lane) else {
                continue;
            };
            u.superseded
                .extend(lane.absorb_pending(&mut u.notification));
            if u.superseded.is_empty()
                && self.outbox.as_ref().is_some_and(|o| {
                    o.delivered_recently(&u.lane.to_string(), &u.notification, u.dedup, now)
                })
            {
                self.stats.duplicates_skipped += 1;
                continue;
            }
            keep.push(u);
        }
        let seqs = match self.store_all(keep.iter().map(|u| (&u.lane, &u.notification))) {
            Ok(seqs) => seqs,
            Err(e) => return Err(Box::new((e, keep))),
        };
        for (u, seq) in keep.into_iter().zip(seqs) {
            for old in u.superseded {
                self.stats.superseded += 1;
                if let Some(outbox) = &mut self.outbox {
                    outbox.discard(old);
                }
            }
            if let Some(lane) = self.lanes.get_mut(&u.lane) {
                lane.push(seq, u.notification);
            }
        }
        Ok(())
    }

    /// Writes `n` to the outbox (when there is one) and returns its sequence number.
    fn store(&mut self, lane_name: &Destination, n: &Notification) -> Result<u64, PipelineError> {
        let seqs = self.store_all(std::iter::once((lane_name, n)))?;
        Ok(seqs.first().copied().unwrap_or_default())
    }

    /// Writes notifications to the outbox in one go and returns their sequence numbers.
    fn store_all<'a>(
        &mut self,
        items: impl Iterator<Item = (&'a Destination, &'a Notification)>,
    ) -> Result<Vec<u64>, PipelineError> {
        match &mut self.outbox {
            Some(outbox) => {
                let items: Vec<(String, &Notification)> =
                    items.map(|(l, n)| (l.to_string(), n)).collect();
                let refs: Vec<(&str, &Notification)> =
                    items.iter().map(|(l, n)| (l.as_str(), *n)).collect();
                let (seqs, evicted) = outbox.append_all(&refs)?;
                for old in evicted {
                    for l in self.lanes.values_mut() {
                        l.remove(old);
                    }
                }
                Ok(seqs)
            }
            None => Ok(items
                .map(|_| {
                    self.next_seq += 1;
                    self.next_seq
                })
                .collect()),
        }
    }

    /// Gateway mode: a notification Alertmanager already grouped (see [`crate::gateway`])
    /// for `n.receiver`'s DingTalk robot, stored in the outbox before this returns.
    pub fn submit(&mut self, n: Notification, now: Timestamp) -> Result<(), PipelineError> {
        let mut results = self.submit_all(vec![n], now)?;
        results.pop().unwrap_or(Ok(()))
    }

    /// [`Pipeline::submit`] for several posts, stored with one write: per post, whether it
    /// has a robot; the outer error when storing failed (then none was taken).
    pub fn submit_all(
        &mut self,
        posts: Vec<Notification>,
        now: Timestamp,
    ) -> Result<Vec<Result<(), PipelineError>>, PipelineError> {
        let mut results = Vec::with_capacity(posts.len());
        let mut items = Vec::new();
        for n in posts {
            let lane = match self.fan_out.get(&n.receiver) {
                None => Err(PipelineError::UnknownReceiver(n.receiver.clone())),
                Some(lanes) => lanes
                    .iter()
                    .find(|l| matches!(l, Destination::DingTalk(_)))
                    .cloned()
                    .ok_or_else(|| PipelineError::NotDingTalk(n.receiver.clone())),
            };
            match lane {
                Ok(lane) => {
                    self.stats.notifications += 1;
                    items.push(Unstored {
                        lane,
                        notification: n,
                        dedup: GATEWAY_DEDUP,
                        superseded: Vec::new(),
                    });
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if let Err(failed) = self.enqueue_all(items, now) {
            let (e, refused) = *failed;
            // Refused: Alertmanager posts them again. But what they absorbed was taken with
            // an OK earlier and must not be lost with them.
            self.unstored
                .extend(refused.into_iter().filter(|u| !u.superseded.is_empty()));
            return Err(e);
        }
        Ok(results)
    }

    /// Flushes due groups into the outbox and lanes, and returns the batches that may be
    /// sent now (at most one per lane in flight).
    ///
    /// Nothing is lost when the outbox cannot be written (a full disk): the dispatcher's
    /// notifications are queued in memory first and stored in order on this and later
    /// ticks, and the error is returned until they all are.
    pub fn tick(&mut self, now: Timestamp) -> Result<Vec<Job>, PipelineError> {
        self.enqueue_direct()?;
        let mut due = Vec::new();
        for n in self.dispatcher.tick(now) {
            self.stats.notifications += 1;
            let repeat = self.repeat.get(&n.receiver).copied().unwrap_or_default();
            let mut lanes = self.fan_out.get(&n.receiver).cloned().unwrap_or_default();
            // A copy per further lane; the last takes the notification itself.
            let Some(last) = lanes.pop() else {
                continue;
            };
            let unstored = |lane, notification| Unstored {
                lane,
                notification,
                dedup: repeat,
                superseded: Vec::new(),
            };
            for lane in lanes {
                due.push(unstored(lane, n.clone()));
            }
            due.push(unstored(last, n));
        }
        // The dispatcher's state has moved on: these are kept until they are stored.
        self.unstored.extend(due);
        if !self.unstored.is_empty() {
            let started = std::time::Instant::now();
            let count = self.unstored.len();
            let items: Vec<Unstored> = self.unstored.drain(..).collect();
            if let Err(failed) = self.enqueue_all(items, now) {
                let (e, kept) = *failed;
                // In order, before anything newer.
                for u in kept.into_iter().rev() {
                    self.unstored.push_front(u);
                }
                return Err(e);
            }
            tracing::debug!(notifications = count, took = ?started.elapsed(), "groups flushed and stored");
        }
        let mut jobs = Vec::new();
        for (name, lane) in &mut self.lanes {
            if let Some(batch) = lane.plan(now) {
                jobs.push(Job {
                    lane: name.clone(),
                    batch,
                });
            }
        }
        Ok(jobs)
    }

    /// Records how `job` went: logs each delivered DingTalk message, acknowledges what was
    /// delivered in the outbox, and says once when a robot holds us back.
    pub fn complete(
        &mut self,
        job: &Job,
        result: Result<(), DeliveryError>,
        now: Timestamp,
    ) -> Result<(), PipelineError> {
        let Some(lane) = self.lanes.get_mut(&job.lane) else {
            return Ok(());
        };
        let (outcome, delivered) = match &result {
            Ok(()) => (SendResult::Delivered, job.batch.messages.len()),
            Err(e) => (e.result.clone(), e.delivered.min(job.batch.messages.len())),
        };
        let done = lane.done(&job.batch, delivered, outcome.clone(), now);
        for m in &job.batch.messages[..delivered] {
            tracing::info!(
                destination = %job.lane,
                receiver = %m.receiver,
                group = %m.about,
                part = %part_text(m.part),
                alerts = m.alerts,
                latency = %m.newest_start.map_or_else(String::new, |t| {
                    crate::time::format_duration(now.saturating_duration_since(t))
                }),
                "message delivered"
            );
        }
        self.tell_observer(job, delivered, &outcome, now);
        self.stats.messages_sent += delivered as u64;
        if outcome == SendResult::Delivered {
            self.stats.batches_delivered += 1;
            self.stats.digests += u64::from(job.batch.digest);
        }
        if let Some(outbox) = &mut self.outbox {
            outbox.ack_all(&done.finished, now)?;
            for seq in &done.dropped {
                outbox.discard(*seq);
            }
        }
        match (&outcome, &result) {
            (SendResult::Permanent, Err(e)) => {
                self.stats.dropped += done.dropped.len() as u64;
                tracing::error!(lane = %job.lane, error = %e, notifications = done.dropped.len(),
                    "notification rejected for good; dropped");
            }
            (SendResult::Throttled, Err(e)) => {
                self.stats.rate_limited += 1;
                self.stats.throttles += 1;
                let until = done.throttled_until.unwrap_or(now);
                tracing::warn!(lane = %job.lane, error = %e,
                    wait = %crate::time::format_duration(until.saturating_duration_since(now)), until = %until.rfc3339_nano(),
                    "robot throttled: over its rate limit (another sender on the same robot?); holding every message back until the throttle is over, nothing is dropped");
            }
            (SendResult::RateLimited(wait), Err(e)) => {
                self.stats.rate_limited += 1;
                tracing::warn!(lane = %job.lane, error = %e, wait_secs = wait.as_secs(),
                    "receiver throttled; holding notifications back");
            }
            (SendResult::Held, Err(e)) => {
                tracing::debug!(lane = %job.lane, error = %e, "waiting for a free slot");
            }
            (_, Err(e)) => {
                self.stats.transient_failures += 1;
                tracing::warn!(lane = %job.lane, error = %e, "send failed; will retry");
            }
            (_, Ok(())) => {}
        }
        Ok(())
    }

    /// Sends a [`Delivered`] to `tx` for every message delivered from now on; additive, for
    /// `tocsin loadtest` (the pipeline does not depend on anyone listening).
    pub fn observe(&mut self, tx: std::sync::mpsc::Sender<Delivered>) {
        self.observer = Some(tx);
    }

    fn tell_observer(&mut self, job: &Job, delivered: usize, outcome: &SendResult, now: Timestamp) {
        let Some(tx) = &self.observer else {
            return;
        };
        let mut told = Vec::new();
        for m in &job.batch.messages[..delivered] {
            told.push(Delivered {
                lane: job.lane.clone(),
                at: now,
                receiver: m.receiver.clone(),
                about: m.about.clone(),
                part: m.part,
                digest: job.batch.digest,
                alerts: m.alerts,
                title: m.rendered.title.clone(),
                text: m.rendered.text.clone(),
                fingerprints: Vec::new(),
            });
        }
        if *outcome == SendResult::Delivered {
            for n in &job.batch.notifications {
                told.push(Delivered {
                    lane: job.lane.clone(),
                    at: now,
                    receiver: n.receiver.clone(),
                    about: n.group_key.clone(),
                    part: None,
                    digest: false,
                    alerts: n.alerts.len(),
                    title: String::new(),
                    text: String::new(),
                    fingerprints: n.alerts.iter().map(|a| a.fingerprint).collect(),
                });
            }
        }
        for d in told {
            if tx.send(d).is_err() {
                self.observer = None;
                return;
            }
        }
    }

    /// Robots held back by a throttle at `now`, and until when.
    pub fn throttled(&self, now: Timestamp) -> BTreeMap<String, Timestamp> {
        self.lanes
            .iter()
            .filter_map(|(d, l)| {
                let until = l.window()?.lock().blocked_until(now)?;
                Some((d.to_string(), until))
            })
            .collect()
    }

    /// A robot lane's send window (the client of that robot counts its requests in it).
    pub fn window(&self, lane: &Destination) -> Option<SharedWindow> {
        self.lanes.get(lane)?.window().cloned()
    }

    /// When [`Pipeline::tick`] next has work (a group due, a lane free again).
    pub fn next_due(&mut self, now: Timestamp) -> Option<Timestamp> {
        let lanes = self
            .lanes
            .values_mut()
            .filter_map(|l| l.next_due(now))
            .min();
        [self.dispatcher.next_due(), lanes]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Notifications waiting per lane (those not yet stored included).
    pub fn queued(&self) -> BTreeMap<String, usize> {
        let mut queued: BTreeMap<String, usize> = self
            .lanes
            .iter()
            .map(|(k, l)| (k.to_string(), l.len()))
            .collect();
        let unstored = self.unstored.iter().map(|u| &u.lane);
        for lane in unstored.chain(self.direct_pending.iter().map(|(l, _)| l)) {
            *queued.entry(lane.to_string()).or_default() += 1;
        }
        queued
    }

    /// Outbox evictions since start.
    pub fn outbox_overflowed(&self) -> u64 {
        self.outbox.as_ref().map_or(0, Outbox::overflowed)
    }

    pub fn lane_names(&self) -> impl Iterator<Item = &Destination> {
        self.lanes.keys()
    }

    pub fn dispatcher(&self) -> &Dispatcher {
        &self.dispatcher
    }
}

/// The pipeline with its receivers: what `tocsin run` drives.
///
/// ```text
/// loop {
///     notifier.ingest(engine_alerts, now);      // after each evaluation
///     notifier.flush(now).await?;               // sends what is due
///     sleep until min(next evaluation, notifier.next_due(now)), at most ~1s
/// }
/// ```
pub struct Notifier {
    pipeline: Pipeline,
    receivers: HashMap<Destination, Arc<dyn Receiver>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("pipeline", &self.pipeline)
            .field("receivers", &self.receivers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Notifier {
    /// Builds receivers from `config` (reading tokens and secrets) and the pipeline. With
    /// `dry_run`, every destination only logs.
    pub fn from_config(
        config: &NotifyConfig,
        options: &PipelineOptions,
        dry_run: bool,
    ) -> Result<Notifier, PipelineError> {
        let pipeline = Pipeline::new(config, options)?;
        let robots = dingtalk_lanes(config);
        let mut receivers: HashMap<Destination, Arc<dyn Receiver>> = HashMap::new();
        for r in &config.receivers {
            let timeout =
                |u: &crate::config::UrlConfig| u.timeout.map_or(options.http_timeout, |d| d.0);
            if let (Some(d), Some(lane)) = (&r.dingtalk, robots.get(&r.name)) {
                let lane = lane.clone();
                if receivers.contains_key(&lane) {
                    continue;
                }
                let rx: Arc<dyn Receiver> = if dry_run {
                    Arc::new(LogReceiver)
                } else {
                    let mut client = DingTalkClient::from_config(d).map_err(|source| {
                        PipelineError::DingTalk {
                            receiver: r.name.clone(),
                            source,
                        }
                    })?;
                    if let Some(window) = pipeline.window(&lane) {
                        client = client.with_window(window);
                    }
                    Arc::new(DingTalkReceiver::new(client))
                };
                receivers.insert(lane, rx);
            }
            if let Some(a) = &r.alertmanager {
                let rx: Arc<dyn Receiver> =
                    if dry_run {
                        Arc::new(LogReceiver)
                    } else {
                        Arc::new(AlertmanagerReceiver::new(&a.url, timeout(a)).map_err(
                            |source| PipelineError::Endpoint {
                                receiver: r.name.clone(),
                                source,
                            },
                        )?)
                    };
                receivers.insert(Destination::Alertmanager(r.name.clone()), rx);
            }
            if let Some(w) = &r.webhook {
                let rx: Arc<dyn Receiver> = if dry_run {
                    Arc::new(LogReceiver)
                } else {
                    Arc::new(
                        WebhookReceiver::new(&w.url, timeout(w), &options.external_url).map_err(
                            |source| PipelineError::Endpoint {
                                receiver: r.name.clone(),
                                source,
                            },
                        )?,
                    )
                };
                receivers.insert(Destination::Webhook(r.name.clone()), rx);
            }
        }
        Ok(Notifier::new(pipeline, receivers))
    }

    /// A notifier with receivers given by lane name (tests plug in their own).
    pub fn new(pipeline: Pipeline, receivers: HashMap<Destination, Arc<dyn Receiver>>) -> Notifier {
        Notifier {
            pipeline,
            receivers,
        }
    }

    pub fn ingest(&mut self, alerts: impl IntoIterator<Item = NotifyAlert>, now: Timestamp) {
        self.pipeline.ingest(alerts, now);
    }

    /// Runs the pipeline at `now` and sends what is due, destinations in parallel. Returns
    /// the number of batches attempted.
    pub async fn flush(&mut self, now: Timestamp) -> Result<usize, PipelineError> {
        let jobs = self.pipeline.tick(now)?;
        let started = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        let count = jobs.len();
        for job in jobs {
            let rx = self.receivers.get(&job.lane).cloned();
            set.spawn(async move {
                let result = match rx {
                    Some(rx) => rx.send(&job.batch).await,
                    None => Err(DeliveryError {
                        result: SendResult::Permanent,
                        message: "no receiver for this destination".into(),
                        delivered: 0,
                    }),
                };
                (job, result)
            });
        }
        // Every result is recorded even when one fails to be (an ack that cannot be
        // written): returning early would leave the other lanes busy for good.
        let mut failed = None;
        while let Some(joined) = set.join_next().await {
            let Ok((job, result)) = joined else {
                // A panicking receiver: its lane stays busy; log it.
                tracing::error!("a receiver task panicked");
                continue;
            };
            if let Err(e) = self
                .pipeline
                .complete(&job, result, now + started.elapsed())
            {
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(count), Err)
    }

    pub fn next_due(&mut self, now: Timestamp) -> Option<Timestamp> {
        self.pipeline.next_due(now)
    }

    /// Gateway mode ([`Pipeline::submit`]); the next [`Notifier::flush`] sends it.
    pub fn submit(&mut self, n: Notification, now: Timestamp) -> Result<(), PipelineError> {
        self.pipeline.submit(n, now)
    }

    /// Gateway mode, several posts at once ([`Pipeline::submit_all`]).
    pub fn submit_all(
        &mut self,
        posts: Vec<Notification>,
        now: Timestamp,
    ) -> Result<Vec<Result<(), PipelineError>>, PipelineError> {
        self.pipeline.submit_all(posts, now)
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// [`Pipeline::observe`].
    pub fn observe(&mut self, tx: std::sync::mpsc::Sender<Delivered>) {
        self.pipeline.observe(tx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;

    #[test]
    fn a_receiver_error_says_its_cause_once_along_its_chain() {
        let cfg: NotifyConfig = serde_json::from_str(
            r#"{"route": {"receiver": "robot"}, "receivers": [{"name": "robot",
                "dingtalk": {"access_token_env": "TOCSIN_TEST_SURELY_UNSET_VARIABLE"}}]}"#,
        )
        .expect("config");
        let Err(err) = Notifier::from_config(&cfg, &PipelineOptions::default(), false) else {
            panic!("an unset token variable is an error");
        };
        let mut chain = err.to_string();
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            chain.push_str(": ");
            chain.push_str(&c.to_string());
            cause = c.source();
        }
        assert!(chain.starts_with("receiver \"robot\": "), "{chain}");
        assert_eq!(
            chain.matches("TOCSIN_TEST_SURELY_UNSET_VARIABLE").count(),
            1,
            "{chain}"
        );
    }

    fn alert(instance: &str, at: Timestamp) -> NotifyAlert {
        NotifyAlert::firing(
            labels([("alertname", "DiskFull"), ("instance", instance)]),
            labels([("summary", "disk almost full")]),
            at,
        )
    }

    fn alerts_in(jobs: &[Job], lane: &str) -> Vec<usize> {
        jobs.iter()
            .filter(|j| j.lane.to_string() == lane)
            .map(|j| {
                j.batch
                    .notifications
                    .iter()
                    .map(|n| n.alerts.len())
                    .sum::<usize>()
                    + j.batch.messages.iter().map(|m| m.alerts).sum::<usize>()
            })
            .collect()
    }

    fn gateway_post(receiver: &str, at: Timestamp) -> Notification {
        let body = format!(
            r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"DiskFull\"}}",
                "groupLabels":{{"alertname":"DiskFull"}},
                "alerts":[{{"status":"firing","labels":{{"alertname":"DiskFull","instance":"a"}},
                            "annotations":{{}},"startsAt":"{}","endsAt":"0001-01-01T00:00:00Z"}}]}}"#,
            at.rfc3339_nano()
        );
        crate::gateway::decode(receiver, body.as_bytes(), at).unwrap()
    }

    #[test]
    fn gateway_posts_go_to_the_receivers_robot_once() {
        let dir = tocsin_testkit::TempDir::new("pipeline-gateway").unwrap();
        let config: NotifyConfig = serde_json::from_str(
            r#"{"route": {"receiver": "robot"},
                "receivers": [{"name": "robot", "dingtalk": {"access_token_env": "T"},
                               "webhook": {"url": "http://hook/x"}},
                              {"name": "hook", "webhook": {"url": "http://hook/y"}}]}"#,
        )
        .unwrap();
        let options = PipelineOptions {
            outbox_dir: Some(dir.path().join("outbox")),
            ..PipelineOptions::default()
        };
        let mut p = Pipeline::new(&config, &options).unwrap();
        let t0 = Timestamp::from_secs(1_000);
        assert!(matches!(
            p.submit(gateway_post("nobody", t0), t0),
            Err(PipelineError::UnknownReceiver(_))
        ));
        assert!(matches!(
            p.submit(gateway_post("hook", t0), t0),
            Err(PipelineError::NotDingTalk(_))
        ));
        p.submit(gateway_post("robot", t0), t0).unwrap();
        let jobs = p.tick(t0).unwrap();
        assert_eq!(alerts_in(&jobs, "dingtalk:robot"), [1]);
        assert!(
            alerts_in(&jobs, "webhook:robot").is_empty(),
            "only the robot"
        );
        for j in &jobs {
            p.complete(j, Ok(()), t0).unwrap();
        }
        // Alertmanager re-posting what it thinks failed: not sent twice.
        let t1 = t0 + std::time::Duration::from_secs(2);
        p.submit(gateway_post("robot", t0), t1).unwrap();
        assert!(p.tick(t1).unwrap().is_empty());
        assert_eq!(p.stats().duplicates_skipped, 1);
        // Its repeat, a group_interval later, is news again.
        let t2 = t0 + std::time::Duration::from_secs(300);
        p.submit(gateway_post("robot", t0), t2).unwrap();
        assert_eq!(alerts_in(&p.tick(t2).unwrap(), "dingtalk:robot"), [1]);
    }

    #[test]
    fn an_observer_hears_of_each_delivered_notification_and_not_of_failed_ones() {
        let config: NotifyConfig = serde_json::from_str(
            r#"{"route": {"receiver": "hook", "group_by": ["instance"], "group_wait": "0s"},
                "receivers": [{"name": "hook", "webhook": {"url": "http://hook/x"}}]}"#,
        )
        .unwrap();
        let mut p = Pipeline::new(&config, &PipelineOptions::default()).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        p.observe(tx);
        let t0 = Timestamp::from_secs(1_000);
        p.ingest([alert("a", t0), alert("b", t0)], t0);
        let jobs = p.tick(t0).unwrap();
        assert_eq!(jobs.len(), 1, "one webhook request at a time");
        let failed = DeliveryError {
            result: SendResult::Transient,
            message: "connection refused".into(),
            delivered: 0,
        };
        p.complete(&jobs[0], Err(failed), t0).unwrap();
        assert!(rx.try_recv().is_err(), "a failed send is not a delivery");
        let mut told = Vec::new();
        let mut t = t0;
        while told.len() < 2 {
            t = t + std::time::Duration::from_secs(60);
            for j in p.tick(t).unwrap() {
                p.complete(&j, Ok(()), t).unwrap();
            }
            told.extend(rx.try_iter());
            assert!(t < t0 + std::time::Duration::from_secs(3600), "{told:?}");
        }
        assert_eq!(told.len(), 2, "{told:?}");
        let mut carried: Vec<u64> = told.iter().flat_map(|d| d.fingerprints.clone()).collect();
        carried.sort_unstable();
        let mut want = vec![alert("a", t0).fingerprint, alert("b", t0).fingerprint];
        want.sort_unstable();
        assert_eq!(carried, want);
        assert!(told
            .iter()
            .all(|d| d.lane.to_string() == "webhook:hook" && d.alerts == 1));
    }

    #[test]
    fn alertmanager_receivers_get_every_resend_while_robots_get_groups() {
        let config: NotifyConfig = serde_json::from_str(
            r#"{"route": {"receiver": "both", "group_by": ["alertname"], "group_wait": "0s",
                          "group_interval": "1m", "repeat_interval": "4h"},
                "receivers": [{"name": "both", "alertmanager": {"url": "http://am:9093"},
                               "webhook": {"url": "http://hook/x"}}]}"#,
        )
        .unwrap();
        let mut p = Pipeline::new(&config, &PipelineOptions::default()).unwrap();
        let t0 = Timestamp::from_secs(1_000);
        p.ingest([alert("a", t0), alert("b", t0)], t0);
        let jobs = p.tick(t0).unwrap();
        assert_eq!(alerts_in(&jobs, "alertmanager:both"), [2]);
        assert_eq!(alerts_in(&jobs, "webhook:both"), [2]);
        for j in &jobs {
            p.complete(j, Ok(()), t0).unwrap();
        }
        // The engine resends a minute later: Alertmanager hears of both alerts again (or
        // it would resolve them when their endsAt passes); the group has nothing new.
        let t1 = t0 + std::time::Duration::from_secs(60);
        p.ingest([alert("a", t0), alert("b", t0)], t1);
        let jobs = p.tick(t1).unwrap();
        assert_eq!(alerts_in(&jobs, "alertmanager:both"), [2]);
        assert!(alerts_in(&jobs, "webhook:both").is_empty());
    }
}

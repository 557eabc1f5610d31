//! Per-destination queues between the dispatcher and the receivers: what is waiting for a
//! robot (or a webhook, or an Alertmanager), when the next send may happen, and — for
//! DingTalk robots — how pending notifications become messages under the robot's rate
//! limit without losing an alert.
//!
//! A DingTalk robot takes at most 20 messages a rolling minute, shared by every group
//! routed to it (DingTalk throttles it for 10 minutes past that). The lane plans against
//! the robot's [`SharedWindow`], which the client fills as each request is actually made
//! and answered. When what is pending fits in the slots the window has left, each
//! notification is its own message. When it does not, the pending notifications become
//! one storm digest ([`crate::storm`]): a summary, then numbered parts listing every
//! alert, sent as slots free up, nothing dropped. A 130101 answer (another sender used
//! the robot's quota) blocks the lane for the robot's throttle, 10 minutes by default.
//!
//! A robot's lane waits a moment (`settle`) after the last notification arrived before
//! planning, so a burst — Alertmanager posting thousands of groups to the gateway — is
//! seen as one storm rather than twenty single messages and then a digest.
//!
//! Pure: time is an argument; the caller sends the [`Batch`] and reports back with
//! [`Lane::done`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use crate::dingtalk::{Mention, SharedWindow, StormConfig};
use crate::notification::Notification;
use crate::render::{render_own, render_templated, RenderOptions, Rendered};
use crate::storm::render_storm;
use crate::time::Timestamp;

/// How a lane turns pending notifications into sends.
#[derive(Clone, Debug)]
pub enum LaneMode {
    /// Rendered DingTalk messages under the robot's rate limit, digests when over it.
    DingTalk(RobotLane),
    /// One notification per request (webhook payload v4).
    PerNotification,
    /// Everything pending in one request (Alertmanager's `POST /api/v2/alerts` takes a list).
    AllAtOnce,
}

/// A DingTalk robot's lane settings.
#[derive(Clone, Debug)]
pub struct RobotLane {
    pub window: SharedWindow,
    pub render: RenderOptions,
    pub storm: StormConfig,
    /// Quiet time after the last arrival before planning (see the module doc).
    pub settle: Duration,
}

impl RobotLane {
    pub fn new(window: SharedWindow, render: RenderOptions) -> RobotLane {
        RobotLane {
            window,
            render,
            storm: StormConfig::default(),
            settle: Duration::ZERO,
        }
    }
}

/// Planning waits at most this long for a burst to end.
const MAX_SETTLE_FACTOR: u32 = 5;

/// A notification waiting in a lane; `id` is its outbox sequence number.
#[derive(Clone, Debug)]
pub struct Pending {
    pub id: u64,
    pub notification: Notification,
    /// Alerts not yet reported (a digest reports a group's alerts over several messages).
    remaining: usize,
    /// Part of the digest being sent.
    in_digest: bool,
}

/// One DingTalk message of a batch, with what it reports.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub rendered: Rendered,
    /// Whom it mentions.
    pub mentions: Mentions,
    /// Outbox ids and how many of each one's alerts this message reports.
    pub covers: Vec<(u64, usize)>,
    /// Receiver names of the groups in it.
    pub receiver: String,
    /// The group key, or `digest`.
    pub about: String,
    /// `(k, n)` when the message is part k of n.
    pub part: Option<(usize, usize)>,
    /// Alerts it reports.
    pub alerts: usize,
    /// The latest start among its alerts (for the delivery latency).
    pub newest_start: Option<Timestamp>,
    /// Requests the client will make for it (an oversized templated message is split).
    pub requests: usize,
}

/// One send: the notifications it carries (webhook, Alertmanager) or, for DingTalk, the
/// messages rendered for the robot.
#[derive(Clone, Debug)]
pub struct Batch {
    pub notifications: Vec<Notification>,
    pub messages: Vec<Outgoing>,
    /// Outbox ids completely reported once this batch is delivered (non-DingTalk lanes).
    pub completes: Vec<u64>,
    /// Whether the messages are a digest (several groups merged, or compact layout).
    pub digest: bool,
}

/// Whom one DingTalk message mentions: the robot's configured people unless every group
/// in it came through a route with its own `mention:`, plus those routes' people.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mentions {
    pub robot: bool,
    pub routes: Mention,
}

impl Mentions {
    /// For a message carrying these groups (a digest carries several).
    fn of<'a>(groups: impl Iterator<Item = &'a Notification>) -> Mentions {
        let mut out = Mentions::default();
        for n in groups {
            match &n.mention {
                None => out.robot = true,
                Some(m) => out.routes = out.routes.union(m),
            }
        }
        out
    }

    /// The message's `at`, given the robot's configured mentions.
    pub fn resolve(&self, robot: &Mention) -> Mention {
        if self.robot {
            robot.union(&self.routes)
        } else {
            self.routes.clone()
        }
    }
}

/// How a send went, as a lane needs to know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendResult {
    Delivered,
    /// Throttled by the receiver; wait at least this long.
    RateLimited(Duration),
    /// The robot's rate limit was exceeded (DingTalk 130101, by another sender when not
    /// by us): hold back for the robot's configured throttle.
    Throttled,
    /// Not sent: the robot's window had no free slot; try when one frees.
    Held,
    /// Might work later.
    Transient,
    /// Will never work (bad token, rejected content): the batch is dropped.
    Permanent,
}

/// What [`Lane::done`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Done {
    /// Outbox ids delivered.
    pub finished: Vec<u64>,
    /// Outbox ids given up on after a permanent failure.
    pub dropped: Vec<u64>,
    /// Set when this result started a throttle: sending resumes then.
    pub throttled_until: Option<Timestamp>,
}

/// A digest being sent: its messages, made once, and how many went out.
#[derive(Clone, Debug)]
struct Digest {
    parts: Vec<Outgoing>,
    sent: usize,
}

/// One destination's queue.
#[derive(Clone, Debug)]
pub struct Lane {
    mode: LaneMode,
    pending: VecDeque<Pending>,
    /// Group keys of `pending`, counted: most arrivals have nothing to fold, and a storm
    /// brings thousands at once.
    keys: HashMap<String, usize>,
    in_flight: HashSet<u64>,
    digest: Option<Digest>,
    retry_at: Option<Timestamp>,
    failures: u32,
}

/// Backoff after transient failures: 1s doubling to 5 minutes.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl Lane {
    pub fn new(mode: LaneMode) -> Lane {
        Lane {
            mode,
            pending: VecDeque::new(),
            keys: HashMap::new(),
            in_flight: HashSet::new(),
            digest: None,
            retry_at: None,
            failures: 0,
        }
    }

    /// A DingTalk robot's lane.
    pub fn robot(robot: RobotLane) -> Lane {
        Lane::new(LaneMode::DingTalk(robot))
    }

    /// The robot's window, for a DingTalk lane.
    pub fn window(&self) -> Option<&SharedWindow> {
        match &self.mode {
            LaneMode::DingTalk(r) => Some(&r.window),
            _ => None,
        }
    }

    fn pending(id: u64, notification: Notification) -> Pending {
        Pending {
            id,
            remaining: notification.alerts.len(),
            notification,
            in_digest: false,
        }
    }

    /// Queues a notification. A pending, not yet sent notification of the same group is
    /// folded into it (the newer one has the group's current state); its id is returned so
    /// the caller can drop it from the outbox.
    pub fn push(&mut self, id: u64, mut notification: Notification) -> Option<u64> {
        let superseded = self.absorb_pending(&mut notification);
        self.queue(Lane::pending(id, notification));
        superseded
    }

    /// Queues a notification as it is, next to any others (alerts for Alertmanager: each
    /// carries other alerts, nothing to fold).
    pub fn push_unmerged(&mut self, id: u64, notification: Notification) {
        self.queue(Lane::pending(id, notification));
    }

    fn queue(&mut self, p: Pending) {
        *self
            .keys
            .entry(p.notification.group_key.clone())
            .or_default() += 1;
        self.pending.push_back(p);
    }

    /// Keeps the pending notifications `keep` says to keep.
    fn retain_pending(&mut self, mut keep: impl FnMut(&Pending) -> bool) {
        let keys = &mut self.keys;
        self.pending.retain(|p| {
            let k = keep(p);
            if !k {
                forget(keys, &p.notification.group_key);
            }
            k
        });
    }

    /// Takes a pending, not yet sent notification of the same group out of the lane and
    /// folds it into `notification`; returns its id. The pipeline calls this before
    /// storing `notification`, so what is on disk is what will be sent.
    pub fn absorb_pending(&mut self, notification: &mut Notification) -> Option<u64> {
        if !self.keys.contains_key(&notification.group_key) {
            return None;
        }
        let older = self.pending.iter().position(|p| {
            p.notification.group_key == notification.group_key
                && p.notification.receiver == notification.receiver
                && !p.in_digest
                && !self.in_flight.contains(&p.id)
        });
        older.and_then(|i| self.pending.remove(i)).map(|old| {
            forget(&mut self.keys, &old.notification.group_key);
            notification.absorb_older(&old.notification);
            old.id
        })
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn busy(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Drops a pending notification (the outbox evicted it).
    pub fn remove(&mut self, id: u64) {
        self.retain_pending(|p| p.id != id);
    }

    /// When a robot lane's burst is over: `settle` after the newest arrival not yet
    /// planned, and no later than a few times that after the oldest.
    fn settled_at(&self) -> Option<Timestamp> {
        let LaneMode::DingTalk(robot) = &self.mode else {
            return None;
        };
        if robot.settle.is_zero() || self.digest.is_some() {
            return None;
        }
        let arrivals = self
            .pending
            .iter()
            .filter(|p| !p.in_digest)
            .map(|p| p.notification.created_at);
        let (oldest, newest) = arrivals.fold((None, None), |(lo, hi), t| {
            (
                Some(lo.map_or(t, |l: Timestamp| l.min(t))),
                Some(hi.map_or(t, |h: Timestamp| h.max(t))),
            )
        });
        let (oldest, newest) = (oldest?, newest?);
        Some((newest + robot.settle).min(oldest + robot.settle * MAX_SETTLE_FACTOR))
    }

    /// When this lane next wants [`Lane::plan`] called, if it has anything pending.
    pub fn next_due(&mut self, now: Timestamp) -> Option<Timestamp> {
        if self.pending.is_empty() || self.busy() {
            return None;
        }
        let mut due = self.retry_at.unwrap_or(now).max(now);
        if let Some(settled) = self.settled_at() {
            due = due.max(settled);
        }
        if let LaneMode::DingTalk(robot) = &self.mode {
            due = due.max(robot.window.lock().next_free(due));
        }
        Some(due)
    }

    /// The next batch to send at `now`, if any may be sent. For a robot, the batch's
    /// requests are reserved in its window until [`Lane::done`], which must be called
    /// with the result before planning again.
    pub fn plan(&mut self, now: Timestamp) -> Option<Batch> {
        if self.pending.is_empty() || self.busy() || self.retry_at.is_some_and(|r| now < r) {
            return None;
        }
        if self.settled_at().is_some_and(|s| now < s) {
            return None;
        }
        let batch = match &mut self.mode {
            LaneMode::PerNotification => {
                let p = self.pending.front()?;
                Batch {
                    notifications: vec![p.notification.clone()],
                    messages: Vec::new(),
                    completes: vec![p.id],
                    digest: false,
                }
            }
            LaneMode::AllAtOnce => Batch {
                notifications: self
                    .pending
                    .iter()
                    .map(|p| p.notification.clone())
                    .collect(),
                messages: Vec::new(),
                completes: self.pending.iter().map(|p| p.id).collect(),
                digest: false,
            },
            LaneMode::DingTalk(robot) => {
                let slots = robot.window.lock().available(now);
                if slots == 0 {
                    return None;
                }
                if self.digest.is_none() {
                    match plan_dingtalk(&mut self.pending, slots, robot) {
                        Planned::Each(messages) => {
                            let b = Batch {
                                notifications: Vec::new(),
                                digest: messages.iter().any(|m| m.part.is_some()),
                                messages,
                                completes: Vec::new(),
                            };
                            robot.window.lock().reserve(now, requests(&b));
                            self.in_flight.extend(covered(&b));
                            return Some(b);
                        }
                        Planned::Digest(parts) => {
                            self.digest = Some(Digest { parts, sent: 0 });
                        }
                    }
                }
                let d = self.digest.as_ref()?;
                let take = slots.min(d.parts.len() - d.sent);
                let b = Batch {
                    notifications: Vec::new(),
                    messages: d.parts[d.sent..d.sent + take].to_vec(),
                    completes: Vec::new(),
                    digest: true,
                };
                robot.window.lock().reserve(now, requests(&b));
                b
            }
        };
        self.in_flight.extend(batch.completes.iter().copied());
        self.in_flight.extend(covered(&batch));
        // A digest part may cover nothing (the summary): the lane is busy all the same.
        if batch.completes.is_empty() && batch.messages.iter().all(|m| m.covers.is_empty()) {
            self.in_flight.insert(u64::MAX);
        }
        Some(batch)
    }

    /// Reports how `batch` went at `now`: the first `delivered` of its messages reached
    /// the robot (all of them when `result` is [`SendResult::Delivered`]), then `result`
    /// happened.
    pub fn done(
        &mut self,
        batch: &Batch,
        delivered: usize,
        result: SendResult,
        now: Timestamp,
    ) -> Done {
        self.in_flight.clear();
        let mut out = Done::default();
        let LaneMode::DingTalk(robot) = &self.mode else {
            self.done_requests(batch, &result, now, &mut out);
            return out;
        };
        let window = robot.window.clone();
        let throttle = robot.window.lock().limit().throttle;
        window.lock().release();
        let delivered = if result == SendResult::Delivered {
            batch.messages.len()
        } else {
            delivered.min(batch.messages.len())
        };
        self.report(&batch.messages[..delivered], &mut out.finished);
        let mut advanced = delivered;
        match result {
            SendResult::Delivered => {
                self.failures = 0;
                self.retry_at = None;
            }
            SendResult::Held => {}
            SendResult::RateLimited(wait) => {
                out.throttled_until = Some(window.lock().throttled(now, wait));
            }
            SendResult::Throttled => {
                out.throttled_until = Some(window.lock().throttled(now, throttle));
            }
            SendResult::Transient => self.back_off(now),
            SendResult::Permanent => {
                // The message the robot refused is given up on; the rest stay queued.
                if let Some(m) = batch.messages.get(delivered) {
                    let gone: HashSet<u64> = m.covers.iter().map(|(id, _)| *id).collect();
                    let dropped = &mut out.dropped;
                    self.retain_pending(|p| {
                        let keep = !gone.contains(&p.id);
                        if !keep {
                            dropped.push(p.id);
                        }
                        keep
                    });
                    advanced += 1;
                }
            }
        }
        if batch.digest {
            if let Some(d) = &mut self.digest {
                d.sent = (d.sent + advanced).min(d.parts.len());
                if d.sent == d.parts.len() {
                    self.digest = None;
                    // Nothing of a finished digest stays behind, but never strand a
                    // notification: what is left goes out again.
                    for p in &mut self.pending {
                        p.in_digest = false;
                    }
                }
            }
        }
        out
    }

    /// Counts delivered messages' alerts against their notifications; those fully
    /// reported leave the lane.
    fn report(&mut self, messages: &[Outgoing], finished: &mut Vec<u64>) {
        let mut reported: HashMap<u64, usize> = HashMap::new();
        for (id, n) in messages.iter().flat_map(|m| m.covers.iter()) {
            *reported.entry(*id).or_default() += n;
        }
        if reported.is_empty() {
            return;
        }
        for p in &mut self.pending {
            if let Some(n) = reported.get(&p.id) {
                p.remaining = p.remaining.saturating_sub(*n);
                if p.remaining == 0 {
                    finished.push(p.id);
                }
            }
        }
        self.retain_pending(|p| p.remaining > 0 || !reported.contains_key(&p.id));
    }

    fn back_off(&mut self, now: Timestamp) {
        let backoff = MIN_BACKOFF
            .saturating_mul(2u32.saturating_pow(self.failures.min(16)))
            .min(MAX_BACKOFF);
        self.failures += 1;
        self.retry_at = Some(now + backoff);
    }

    /// `done` for webhook and Alertmanager lanes: whole batches.
    fn done_requests(
        &mut self,
        batch: &Batch,
        result: &SendResult,
        now: Timestamp,
        out: &mut Done,
    ) {
        match result {
            SendResult::Delivered => {
                self.failures = 0;
                self.retry_at = None;
                let done: HashSet<u64> = batch.completes.iter().copied().collect();
                self.retain_pending(|p| !done.contains(&p.id));
                out.finished = batch.completes.clone();
            }
            SendResult::RateLimited(wait) => {
                self.retry_at = Some(now + *wait);
                out.throttled_until = self.retry_at;
            }
            SendResult::Throttled | SendResult::Held | SendResult::Transient => self.back_off(now),
            SendResult::Permanent => {
                let gone: HashSet<u64> = batch.completes.iter().copied().collect();
                self.retain_pending(|p| !gone.contains(&p.id));
                out.dropped = batch.completes.clone();
            }
        }
    }
}

fn forget(keys: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = keys.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            keys.remove(key);
        }
    }
}

fn covered(b: &Batch) -> impl Iterator<Item = u64> + '_ {
    b.messages
        .iter()
        .flat_map(|m| m.covers.iter().map(|(id, _)| *id))
}

fn requests(b: &Batch) -> usize {
    b.messages.iter().map(|m| m.requests).sum()
}

enum Planned {
    /// Each notification its own message(s).
    Each(Vec<Outgoing>),
    /// Over the limit: a storm digest of everything pending.
    Digest(Vec<Outgoing>),
}

fn newest_start(alerts: &[crate::alert::NotifyAlert]) -> Option<Timestamp> {
    alerts.iter().map(|a| a.starts_at).max()
}

/// Chooses the messages for a robot with `slots` free: one full message per notification
/// when they all fit (groups too large for one message use the compact layout on their
/// own), else a storm digest of everything pending.
fn plan_dingtalk(pending: &mut VecDeque<Pending>, slots: usize, robot: &RobotLane) -> Planned {
    let opts = &robot.render;
    let mut own: Vec<Outgoing> = Vec::new();
    let mut total = 0;
    for p in pending.iter().filter(|p| !p.in_digest) {
        if total > slots {
            break;
        }
        let n = &p.notification;
        let one = |rendered: Rendered, requests: usize| Outgoing {
            rendered,
            mentions: Mentions::of(std::iter::once(n)),
            covers: vec![(p.id, n.alerts.len())],
            receiver: n.receiver.clone(),
            about: n.group_key.clone(),
            part: None,
            alerts: n.alerts.len(),
            newest_start: newest_start(&n.alerts),
            requests,
        };
        // A templated message over the size budget is sent as is: the DingTalk client
        // splits it into numbered parts, each of which takes a slot.
        if let Some(r) = render_templated(n, opts) {
            let requests = body_len(&r).div_ceil(opts.max_bytes.max(1)).max(1);
            total += requests;
            own.push(one(r, requests));
            continue;
        }
        let mut parts = render_own(n, opts);
        if let [single] = parts.as_mut_slice() {
            if single.spans.len() == 1 && single.spans[0].1.len() == n.alerts.len() {
                total += 1;
                let rendered = std::mem::replace(
                    &mut single.rendered,
                    Rendered {
                        title: String::new(),
                        text: String::new(),
                    },
                );
                own.push(one(rendered, 1));
                continue;
            }
        }
        let count = parts.len();
        total += count;
        for (k, part) in parts.into_iter().enumerate() {
            let alerts: usize = part.spans.iter().map(|(_, r)| r.len()).sum();
            let range = part.spans.first().map_or(0..0, |(_, r)| r.clone());
            own.push(Outgoing {
                rendered: part.rendered,
                // Mentions ring once, with the first part.
                mentions: if k == 0 {
                    Mentions::of(std::iter::once(n))
                } else {
                    Mentions::default()
                },
                covers: vec![(p.id, alerts)],
                receiver: n.receiver.clone(),
                about: n.group_key.clone(),
                part: (count > 1).then_some((k + 1, count)),
                alerts,
                newest_start: newest_start(n.alerts.get(range).unwrap_or(&[])),
                requests: 1,
            });
        }
    }
    if total <= slots {
        return Planned::Each(own);
    }
    // Over the budget: one digest of everything pending, sent as slots free up.
    let members: Vec<&Pending> = pending.iter().filter(|p| !p.in_digest).collect();
    let notes: Vec<&Notification> = members.iter().map(|p| &p.notification).collect();
    let parts = render_storm(&notes, opts, &robot.storm);
    let n = parts.len();
    let mentions = Mentions::of(notes.iter().copied());
    let receivers: std::collections::BTreeSet<&str> =
        notes.iter().map(|n| n.receiver.as_str()).collect();
    let receiver = receivers.into_iter().collect::<Vec<_>>().join(",");
    let mut newest: HashMap<u64, Option<Timestamp>> = HashMap::new();
    for p in &members {
        newest.insert(p.id, newest_start(&p.notification.alerts));
    }
    let out = parts
        .into_iter()
        .enumerate()
        .map(|(k, part)| Outgoing {
            mentions: if part.summary {
                mentions.clone()
            } else {
                Mentions::default()
            },
            covers: part
                .covers
                .iter()
                .map(|(i, c)| (members[*i].id, *c))
                .collect(),
            receiver: receiver.clone(),
            about: "digest".to_owned(),
            part: (n > 1).then_some((k + 1, n)),
            alerts: part.alerts,
            newest_start: part
                .covers
                .iter()
                .filter_map(|(i, _)| newest.get(&members[*i].id).copied().flatten())
                .max(),
            requests: 1,
            rendered: part.rendered,
        })
        .collect();
    for p in pending.iter_mut() {
        p.in_digest = true;
    }
    Planned::Digest(out)
}

fn body_len(r: &Rendered) -> usize {
    crate::dingtalk::Message::markdown(&r.title, &r.text).body_len()
}

/// Test support: the robot answers every message of `batch` at `now` (its window counts
/// them as the client would) and the lane hears so.
#[cfg(test)]
pub(crate) fn deliver(lane: &mut Lane, batch: &Batch, now: Timestamp) -> Done {
    if let Some(w) = lane.window() {
        let mut w = w.lock();
        for m in &batch.messages {
            for _ in 0..m.requests {
                assert!(w.begin(now), "a request beyond the window");
                w.end(now);
            }
        }
    }
    lane.done(batch, batch.messages.len(), SendResult::Delivered, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{labels, Labels, NotifyAlert};
    use crate::dingtalk::RateLimit;
    use crate::group::Dispatcher;
    use crate::route::RouteTree;
    use std::collections::HashMap;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn limit(messages: usize) -> RateLimit {
        RateLimit {
            messages,
            per: Duration::from_secs(60),
            throttle: Duration::from_secs(600),
        }
    }

    fn dingtalk_lane() -> Lane {
        Lane::robot(RobotLane::new(
            SharedWindow::new(limit(20)),
            RenderOptions::default(),
        ))
    }

    fn dispatcher() -> Dispatcher {
        let tree = RouteTree::compile(
            &serde_json::from_str(
                r#"{"receiver": "robot", "group_by": ["alertname"], "group_wait": "30s",
                    "group_interval": "1m", "repeat_interval": "4h"}"#,
            )
            .unwrap(),
        )
        .unwrap();
        Dispatcher::new(tree, HashMap::new())
    }

    fn storm_alert(g: usize, i: usize, at: i64) -> NotifyAlert {
        NotifyAlert::firing(
            labels([
                ("alertname", format!("FlinkJobDown{g:02}").as_str()),
                (
                    "instance",
                    format!("tm-{g:02}-{i:03}.flink.svc:9249").as_str(),
                ),
                ("job", "flink-taskmanager"),
                ("severity", "critical"),
            ]),
            labels([
                ("summary", "Flink task manager is down"),
                (
                    "description",
                    "The task manager has not reported for 2 minutes.",
                ),
            ]),
            t(at),
        )
    }

    /// Simulation of a robot: what it received and when.
    struct Robot {
        received: Vec<(Timestamp, Outgoing)>,
    }

    /// Drives dispatcher → lane → robot once a second from `from` to `to`; `answer` decides
    /// the robot's reply per request number.
    fn drive(
        d: &mut Dispatcher,
        lane: &mut Lane,
        robot: &mut Robot,
        seq: &mut u64,
        from: i64,
        to: i64,
        answer: &dyn Fn(usize) -> SendResult,
    ) {
        for s in from..=to {
            for n in d.tick(t(s)) {
                *seq += 1;
                lane.push(*seq, n);
            }
            while let Some(batch) = lane.plan(t(s)) {
                let result = answer(robot.received.len());
                if result == SendResult::Delivered {
                    robot
                        .received
                        .extend(batch.messages.iter().map(|m| (t(s), m.clone())));
                    deliver(lane, &batch, t(s));
                } else {
                    lane.done(&batch, 0, result, t(s));
                }
            }
        }
    }

    fn max_in_any_minute(times: &[Timestamp]) -> usize {
        times
            .iter()
            .map(|start| {
                times
                    .iter()
                    .filter(|x| **x >= *start && **x < *start + Duration::from_secs(60))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    fn assert_storm_reported(robot: &Robot, deadline: Timestamp) {
        let times: Vec<Timestamp> = robot.received.iter().map(|(t, _)| *t).collect();
        assert!(
            max_in_any_minute(&times) <= 20,
            "{}",
            max_in_any_minute(&times)
        );
        let words: HashSet<&str> = robot
            .received
            .iter()
            .filter(|(at, _)| *at <= deadline)
            .flat_map(|(_, m)| m.rendered.text.split(['\n', ' ']))
            .collect();
        for g in 0..50 {
            for i in 0..100 {
                let needle = format!("instance=tm-{g:02}-{i:03}.flink.svc:9249");
                assert!(
                    words.contains(needle.as_str()),
                    "{needle} not reported by {deadline}"
                );
            }
        }
    }

    #[test]
    fn storm_of_5000_alerts_in_50_groups_reaches_the_robot_within_the_rate_limit_and_3_minutes() {
        let mut d = dispatcher();
        let mut lane = dingtalk_lane();
        let mut robot = Robot {
            received: Vec::new(),
        };
        let mut seq = 0;
        // The storm arrives over the first 10 seconds.
        for s in 0..10 {
            let alerts: Vec<NotifyAlert> = (0..50)
                .flat_map(|g| (0..10).map(move |k| storm_alert(g, s as usize * 10 + k, s)))
                .collect();
            d.ingest(alerts, t(s));
            drive(&mut d, &mut lane, &mut robot, &mut seq, s, s, &|_| {
                SendResult::Delivered
            });
        }
        drive(&mut d, &mut lane, &mut robot, &mut seq, 10, 600, &|_| {
            SendResult::Delivered
        });
        assert_storm_reported(&robot, t(180));
        assert!(lane.is_empty());
        assert!(
            robot.received.len() <= 40,
            "{} messages",
            robot.received.len()
        );
        // One digest: the summary first, with the mentions; the parts without.
        let first = &robot.received[0].1;
        assert!(first
            .rendered
            .title
            .contains("Alert storm: 5,000 alerts in 50 groups"));
        assert!(first.mentions.robot);
        assert!(robot.received[1..].iter().all(|(_, m)| !m.mentions.robot));
    }

    #[test]
    fn storm_still_fully_reported_when_the_robot_throttles_the_first_request() {
        let mut d = dispatcher();
        let mut lane = dingtalk_lane();
        let mut robot = Robot {
            received: Vec::new(),
        };
        let mut seq = 0;
        let alerts: Vec<NotifyAlert> = (0..50)
            .flat_map(|g| (0..100).map(move |i| storm_alert(g, i, 0)))
            .collect();
        d.ingest(alerts, t(0));
        let throttled_once = std::cell::Cell::new(false);
        let answer = |_: usize| {
            if throttled_once.replace(true) {
                SendResult::Delivered
            } else {
                SendResult::RateLimited(Duration::from_secs(60))
            }
        };
        drive(&mut d, &mut lane, &mut robot, &mut seq, 0, 600, &answer);
        assert_storm_reported(&robot, t(180));
        // Nothing went out during the back-off.
        assert!(robot.received.iter().all(|(at, _)| *at >= t(90)));
    }

    #[test]
    fn after_a_130101_the_robot_is_left_alone_for_its_throttle_and_nothing_is_lost() {
        let mut d = dispatcher();
        let mut lane = dingtalk_lane();
        let mut robot = Robot {
            received: Vec::new(),
        };
        let mut seq = 0;
        let alerts: Vec<NotifyAlert> = (0..5).map(|g| storm_alert(g, 0, 0)).collect();
        d.ingest(alerts, t(0));
        let tries = std::cell::Cell::new(0);
        let answer = |_: usize| {
            tries.set(tries.get() + 1);
            if tries.get() == 1 {
                SendResult::Throttled
            } else {
                SendResult::Delivered
            }
        };
        drive(&mut d, &mut lane, &mut robot, &mut seq, 0, 1200, &answer);
        assert_eq!(
            tries.get(),
            2,
            "one refused try, then one that went through"
        );
        assert_eq!(robot.received.len(), 5);
        // Refused at 30 s (group_wait), the next try 10 minutes later.
        assert!(robot.received.iter().all(|(at, _)| *at == t(630)));
        assert!(lane.is_empty());
    }

    #[test]
    fn a_window_filled_by_another_batch_holds_the_next_until_a_minute_after_the_answers() {
        let mut lane = dingtalk_lane();
        let note = |g: usize| Notification {
            receiver: "robot".into(),
            group_key: format!("g{g}"),
            group_labels: Labels::new(),
            alerts: vec![storm_alert(g, 0, 0)],
            created_at: t(0),
            mention: None,
        };
        for g in 0..20 {
            lane.push(g as u64, note(g));
        }
        let b = lane.plan(t(0)).unwrap();
        assert_eq!(b.messages.len(), 20);
        // The robot answers 5 s later: the slots count from then.
        deliver(&mut lane, &b, t(5));
        lane.push(20, note(20));
        assert!(lane.plan(t(60)).is_none());
        assert_eq!(lane.next_due(t(60)), Some(t(65)));
        assert!(lane.plan(t(65)).is_some());
    }

    #[test]
    fn a_partly_delivered_batch_resends_only_what_did_not_arrive() {
        let mut lane = dingtalk_lane();
        for g in 0..3 {
            lane.push(
                g as u64,
                Notification {
                    receiver: "robot".into(),
                    group_key: format!("g{g}"),
                    group_labels: Labels::new(),
                    alerts: vec![storm_alert(g, 0, 0)],
                    created_at: t(0),
                    mention: None,
                },
            );
        }
        let b = lane.plan(t(0)).unwrap();
        let done = lane.done(&b, 1, SendResult::Transient, t(0));
        assert_eq!(done.finished, [0]);
        let b = lane.plan(t(1)).unwrap();
        assert_eq!(b.messages.len(), 2);
        assert_eq!(deliver(&mut lane, &b, t(1)).finished, [1, 2]);
    }

    #[test]
    fn few_notifications_go_out_one_message_each() {
        let mut lane = dingtalk_lane();
        for g in 0..3 {
            let n = Notification {
                receiver: "robot".into(),
                group_key: format!("g{g}"),
                group_labels: Labels::new(),
                alerts: vec![storm_alert(g, 0, 0)],
                created_at: t(0),
                mention: None,
            };
            lane.push(g as u64, n);
        }
        let b = lane.plan(t(0)).unwrap();
        assert_eq!(b.messages.len(), 3);
        assert!(!b.digest);
        assert_eq!(deliver(&mut lane, &b, t(1)).finished, [0, 1, 2]);
        assert!(lane.is_empty());
    }

    #[test]
    fn a_burst_is_planned_once_it_settles() {
        let mut lane = Lane::robot(RobotLane {
            settle: Duration::from_secs(1),
            ..RobotLane::new(SharedWindow::new(limit(20)), RenderOptions::default())
        });
        let note = |g: usize, at: i64| Notification {
            receiver: "robot".into(),
            group_key: format!("g{g}"),
            group_labels: Labels::new(),
            alerts: vec![storm_alert(g, 0, at)],
            created_at: t(at),
            mention: None,
        };
        lane.push(0, note(0, 0));
        assert!(lane.plan(t(0)).is_none());
        assert_eq!(lane.next_due(t(0)), Some(t(1)));
        // Arrivals keep coming: at most 5 s after the first, it is planned anyway.
        for s in 1..10 {
            lane.push(s as u64, note(s, s as i64));
            if s < 5 {
                assert!(lane.plan(t(s as i64)).is_none(), "{s}");
            }
        }
        assert_eq!(lane.plan(t(5)).unwrap().messages.len(), 10);
    }

    #[test]
    fn messages_mention_their_routes_people_and_digests_everyones() {
        let oncall = Mention {
            mobiles: vec!["13800000000".into()],
            ..Mention::default()
        };
        let robot = Mention {
            user_ids: vec!["manager01".into()],
            ..Mention::default()
        };
        let mk = |g: usize, mention: Option<Mention>| Notification {
            receiver: "robot".into(),
            group_key: format!("g{g}"),
            group_labels: Labels::new(),
            alerts: vec![storm_alert(g, 0, 0)],
            created_at: t(0),
            mention,
        };
        let mut lane = dingtalk_lane();
        lane.push(0, mk(0, Some(oncall.clone())));
        lane.push(1, mk(1, None));
        let b = lane.plan(t(0)).unwrap();
        let resolved: Vec<Mention> = b
            .messages
            .iter()
            .map(|m| m.mentions.resolve(&robot))
            .collect();
        assert_eq!(resolved, [oncall.clone(), robot.clone()]);

        // Over the rate limit: one digest for both groups mentions both routes' people.
        let mut lane = Lane::robot(RobotLane::new(
            SharedWindow::new(limit(1)),
            RenderOptions::default(),
        ));
        lane.push(0, mk(0, Some(oncall.clone())));
        lane.push(1, mk(1, None));
        let b = lane.plan(t(0)).unwrap();
        assert!(b.digest);
        assert_eq!(b.messages.len(), 1);
        assert_eq!(b.messages[0].mentions.resolve(&robot), robot.union(&oncall));
    }

    #[test]
    fn a_newer_notification_of_the_same_group_replaces_the_pending_one() {
        let mut lane = dingtalk_lane();
        let mk = |alerts| Notification {
            receiver: "robot".into(),
            group_key: "g".into(),
            group_labels: Labels::new(),
            alerts,
            created_at: t(0),
            mention: None,
        };
        lane.push(1, mk(vec![storm_alert(0, 0, 0).resolved_at(t(5))]));
        assert_eq!(lane.push(2, mk(vec![storm_alert(0, 1, 0)])), Some(1));
        assert_eq!(lane.len(), 1);
        let b = lane.plan(t(0)).unwrap();
        assert_eq!(b.messages[0].alerts, 2, "the resolved alert is kept");
    }

    #[test]
    fn transient_failures_back_off_and_keep_the_notification() {
        let mut lane = Lane::new(LaneMode::PerNotification);
        lane.push(
            7,
            Notification {
                receiver: "hook".into(),
                group_key: "g".into(),
                group_labels: Labels::new(),
                alerts: vec![storm_alert(0, 0, 0)],
                created_at: t(0),
                mention: None,
            },
        );
        let b = lane.plan(t(0)).unwrap();
        assert!(lane.plan(t(0)).is_none(), "one batch in flight at a time");
        assert!(lane
            .done(&b, 0, SendResult::Transient, t(0))
            .finished
            .is_empty());
        assert!(lane.plan(t(0)).is_none());
        assert_eq!(lane.next_due(t(0)), Some(t(1)));
        let b = lane.plan(t(1)).unwrap();
        lane.done(&b, 0, SendResult::Transient, t(1));
        assert_eq!(lane.next_due(t(1)), Some(t(3)));
        let b = lane.plan(t(3)).unwrap();
        assert_eq!(lane.done(&b, 1, SendResult::Delivered, t(3)).finished, [7]);
        assert!(lane.is_empty());
    }

    #[test]
    fn a_permanent_failure_drops_the_batch() {
        let mut lane = Lane::new(LaneMode::AllAtOnce);
        for id in 0..2 {
            lane.push(
                id,
                Notification {
                    receiver: "am".into(),
                    group_key: format!("g{id}"),
                    group_labels: Labels::new(),
                    alerts: vec![storm_alert(0, 0, 0)],
                    created_at: t(0),
                    mention: None,
                },
            );
        }
        let b = lane.plan(t(0)).unwrap();
        assert_eq!(b.notifications.len(), 2);
        assert_eq!(
            lane.done(&b, 0, SendResult::Permanent, t(0)).dropped,
            [0, 1]
        );
        assert!(lane.is_empty());
    }
}

//! Per-destination queues between the dispatcher and the receivers: what is waiting for a
//! robot (or a webhook, or an Alertmanager), when the next send may happen, and — for
//! DingTalk robots — how pending notifications become messages under the robot's rate
//! limit without losing an alert.
//!
//! A DingTalk robot takes at most 20 messages a rolling minute, shared by every group
//! routed to it (DingTalk throttles it for 10 minutes past that). When what is pending
//! fits in the slots the window has left, each notification is its own message. When it
//! does not, the pending notifications are merged into compact digests (one line per
//! alert) that fill the free slots; whatever does not fit waits for the next free slot,
//! with nothing dropped. A 130101 answer blocks the lane until the window is over and the
//! wait DingTalk asked for has passed.
//!
//! Pure: time is an argument; the caller sends the [`Batch`] and reports back with
//! [`Lane::done`].

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use crate::dingtalk::Mention;
use crate::notification::Notification;
use crate::render::{render_compact, render_full, render_templated, Part, RenderOptions, Rendered};
use crate::time::Timestamp;

/// Messages per window for one robot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub max: usize,
    pub per: Duration,
}

impl Default for RateLimit {
    /// DingTalk's documented limit: 20 messages a minute per robot.
    fn default() -> Self {
        RateLimit {
            max: 20,
            per: Duration::from_secs(60),
        }
    }
}

/// A rolling-window counter of messages sent, with a block for throttling answers.
#[derive(Clone, Debug)]
pub struct Limiter {
    limit: RateLimit,
    sent: VecDeque<Timestamp>,
    blocked_until: Option<Timestamp>,
}

impl Limiter {
    pub fn new(limit: RateLimit) -> Limiter {
        Limiter {
            limit,
            sent: VecDeque::new(),
            blocked_until: None,
        }
    }

    /// Messages that may be sent at `now`.
    pub fn available(&mut self, now: Timestamp) -> usize {
        if self.blocked_until.is_some_and(|b| now < b) {
            return 0;
        }
        while self
            .sent
            .front()
            .is_some_and(|t| *t + self.limit.per <= now)
        {
            self.sent.pop_front();
        }
        self.limit.max.saturating_sub(self.sent.len())
    }

    pub fn record(&mut self, now: Timestamp, messages: usize) {
        self.sent.extend(std::iter::repeat_n(now, messages));
    }

    /// The robot said "too fast": nothing until the current window is over and at least
    /// `retry_after` has passed.
    pub fn throttled(&mut self, now: Timestamp, retry_after: Duration) {
        let window_end = self.sent.back().map_or(now, |t| *t + self.limit.per);
        let until = (now + retry_after).max(window_end);
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// When a slot is next free (`now` when one is).
    pub fn next_free(&mut self, now: Timestamp) -> Timestamp {
        if self.available(now) > 0 {
            return now;
        }
        let slot = self
            .sent
            .front()
            .map_or(now, |t| *t + self.limit.per)
            .max(now);
        self.blocked_until.map_or(slot, |b| b.max(slot))
    }
}

/// How a lane turns pending notifications into sends.
#[derive(Clone, Debug)]
pub enum LaneMode {
    /// Rendered DingTalk messages under a rate limit, digests when over it.
    DingTalk {
        limiter: Limiter,
        render: RenderOptions,
    },
    /// One notification per request (webhook payload v4).
    PerNotification,
    /// Everything pending in one request (Alertmanager's `POST /api/v2/alerts` takes a list).
    AllAtOnce,
}

/// A notification waiting in a lane; `id` is its outbox sequence number.
#[derive(Clone, Debug)]
pub struct Pending {
    pub id: u64,
    pub notification: Notification,
}

/// One send: the notifications it carries (partly sent ones trimmed to the alerts in
/// this batch) and, for DingTalk, the messages rendered from them.
#[derive(Clone, Debug)]
pub struct Batch {
    pub notifications: Vec<Notification>,
    pub messages: Vec<Rendered>,
    /// Per message: whom it mentions.
    pub mentions: Vec<Mentions>,
    /// Outbox ids completely reported once this batch is delivered.
    pub completes: Vec<u64>,
    /// Ids partly reported, with the indices of their alerts this batch carries.
    pub partial: Vec<(u64, Vec<usize>)>,
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
    /// Might work later.
    Transient,
    /// Will never work (bad token, rejected content): the batch is dropped.
    Permanent,
}

/// One destination's queue.
#[derive(Clone, Debug)]
pub struct Lane {
    mode: LaneMode,
    pending: VecDeque<Pending>,
    in_flight: HashSet<u64>,
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
            in_flight: HashSet::new(),
            retry_at: None,
            failures: 0,
        }
    }

    /// Queues a notification. A pending, not yet sent notification of the same group is
    /// folded into it (the newer one has the group's current state); its id is returned so
    /// the caller can drop it from the outbox.
    pub fn push(&mut self, id: u64, mut notification: Notification) -> Option<u64> {
        let superseded = self.absorb_pending(&mut notification);
        self.pending.push_back(Pending { id, notification });
        superseded
    }

    /// Queues a notification as it is, next to any others (alerts for Alertmanager: each
    /// carries other alerts, nothing to fold).
    pub fn push_unmerged(&mut self, id: u64, notification: Notification) {
        self.pending.push_back(Pending { id, notification });
    }

    /// Takes a pending, not yet sent notification of the same group out of the lane and
    /// folds it into `notification`; returns its id. The pipeline calls this before
    /// storing `notification`, so what is on disk is what will be sent.
    pub fn absorb_pending(&mut self, notification: &mut Notification) -> Option<u64> {
        let older = self.pending.iter().position(|p| {
            p.notification.group_key == notification.group_key
                && p.notification.receiver == notification.receiver
                && !self.in_flight.contains(&p.id)
        });
        older.and_then(|i| self.pending.remove(i)).map(|old| {
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
        self.pending.retain(|p| p.id != id);
    }

    /// When this lane next wants [`Lane::plan`] called, if it has anything pending.
    pub fn next_due(&mut self, now: Timestamp) -> Option<Timestamp> {
        if self.pending.is_empty() || self.busy() {
            return None;
        }
        let mut due = self.retry_at.unwrap_or(now).max(now);
        if let LaneMode::DingTalk { limiter, .. } = &mut self.mode {
            due = due.max(limiter.next_free(due));
        }
        Some(due)
    }

    /// The next batch to send at `now`, if any may be sent. Rate-limit slots are taken
    /// when the batch is planned. Call [`Lane::done`] with the result before planning
    /// again.
    pub fn plan(&mut self, now: Timestamp) -> Option<Batch> {
        if self.pending.is_empty() || self.busy() || self.retry_at.is_some_and(|r| now < r) {
            return None;
        }
        let batch = match &mut self.mode {
            LaneMode::PerNotification => {
                let p = self.pending.front()?;
                Batch {
                    notifications: vec![p.notification.clone()],
                    messages: Vec::new(),
                    mentions: Vec::new(),
                    completes: vec![p.id],
                    partial: Vec::new(),
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
                mentions: Vec::new(),
                completes: self.pending.iter().map(|p| p.id).collect(),
                partial: Vec::new(),
                digest: false,
            },
            LaneMode::DingTalk { limiter, render } => {
                let slots = limiter.available(now);
                if slots == 0 {
                    return None;
                }
                let b = plan_dingtalk(&self.pending, slots, render);
                // An oversized templated message goes out as several requests.
                let requests = b
                    .messages
                    .iter()
                    .map(|m| body_len(m).div_ceil(render.max_bytes.max(1)).max(1))
                    .sum();
                limiter.record(now, requests);
                b
            }
        };
        self.in_flight.extend(batch.completes.iter().copied());
        self.in_flight
            .extend(batch.partial.iter().map(|(id, _)| *id));
        Some(batch)
    }

    /// Reports how `batch` went at `now`. Returns the outbox ids that are finished with:
    /// delivered, or dropped for a permanent failure.
    pub fn done(&mut self, batch: &Batch, result: SendResult, now: Timestamp) -> Vec<u64> {
        self.in_flight.clear();
        match result {
            SendResult::Delivered => {
                self.failures = 0;
                self.retry_at = None;
                let done: HashSet<u64> = batch.completes.iter().copied().collect();
                self.pending.retain(|p| !done.contains(&p.id));
                for (id, sent) in &batch.partial {
                    if let Some(p) = self.pending.iter_mut().find(|p| p.id == *id) {
                        let sent: HashSet<usize> = sent.iter().copied().collect();
                        let mut i = 0;
                        p.notification.alerts.retain(|_| {
                            i += 1;
                            !sent.contains(&(i - 1))
                        });
                    }
                }
                batch.completes.clone()
            }
            SendResult::RateLimited(wait) => {
                if let LaneMode::DingTalk { limiter, .. } = &mut self.mode {
                    limiter.throttled(now, wait);
                } else {
                    self.retry_at = Some(now + wait);
                }
                Vec::new()
            }
            SendResult::Transient => {
                let backoff = MIN_BACKOFF
                    .saturating_mul(2u32.saturating_pow(self.failures.min(16)))
                    .min(MAX_BACKOFF);
                self.failures += 1;
                self.retry_at = Some(now + backoff);
                Vec::new()
            }
            SendResult::Permanent => {
                let mut ids = batch.completes.clone();
                ids.extend(batch.partial.iter().map(|(id, _)| *id));
                let gone: HashSet<u64> = ids.iter().copied().collect();
                self.pending.retain(|p| !gone.contains(&p.id));
                ids
            }
        }
    }
}

/// Chooses the messages for a robot with `slots` free: one full message per notification
/// when they all fit (groups too large for one message use the compact layout on their
/// own), else digests of everything pending, as many as the slots allow.
fn plan_dingtalk(pending: &VecDeque<Pending>, slots: usize, opts: &RenderOptions) -> Batch {
    let notes: Vec<&Notification> = pending.iter().map(|p| &p.notification).collect();
    // Each notification alone: full when it fits in one message, else compact parts.
    let mut own: Vec<Vec<Part>> = Vec::with_capacity(notes.len());
    let mut total = 0;
    for n in &notes {
        if total > slots {
            break;
        }
        // A templated message over the size budget is sent as is: the DingTalk client
        // splits it into numbered parts, each of which takes a slot.
        if let Some(r) = render_templated(n, opts) {
            total += body_len(&r).div_ceil(opts.max_bytes.max(1)).max(1);
            own.push(vec![Part {
                rendered: r,
                spans: vec![(0, 0..n.alerts.len())],
            }]);
            continue;
        }
        let full = render_full(n, opts);
        let parts = if body_len(&full) <= opts.max_bytes {
            vec![Part {
                rendered: full,
                spans: vec![(0, 0..n.alerts.len())],
            }]
        } else {
            render_compact(std::slice::from_ref(*n), opts)
        };
        total += parts.len();
        own.push(parts);
    }
    if total <= slots {
        let mut b = empty_batch(false);
        for (i, parts) in own.into_iter().enumerate() {
            b.digest |= parts.len() > 1 || parts.first().is_some_and(|p| p.spans.len() != 1);
            b.notifications.push(notes[i].clone());
            b.completes.push(pending[i].id);
            for p in parts {
                b.mentions.push(Mentions::of([notes[i]].into_iter()));
                b.messages.push(p.rendered);
            }
        }
        return b;
    }
    // Over the budget: digest everything pending into as few messages as possible and
    // send what the slots allow.
    let owned: Vec<Notification> = notes.iter().map(|n| (*n).clone()).collect();
    let parts = render_compact(&owned, opts);
    let mut b = empty_batch(true);
    let mut sent: Vec<Vec<usize>> = vec![Vec::new(); owned.len()];
    for p in parts.into_iter().take(slots) {
        for (i, r) in &p.spans {
            sent[*i].extend(r.clone());
        }
        b.mentions
            .push(Mentions::of(p.spans.iter().map(|(i, _)| &owned[*i])));
        b.messages.push(p.rendered);
    }
    for (i, idx) in sent.into_iter().enumerate() {
        if idx.is_empty() {
            continue;
        }
        let n = &owned[i];
        if idx.len() == n.alerts.len() {
            b.completes.push(pending[i].id);
            b.notifications.push(n.clone());
        } else {
            let mut part = n.clone();
            part.alerts = idx.iter().map(|j| n.alerts[*j].clone()).collect();
            b.notifications.push(part);
            b.partial.push((pending[i].id, idx));
        }
    }
    b
}

fn empty_batch(digest: bool) -> Batch {
    Batch {
        notifications: Vec::new(),
        messages: Vec::new(),
        mentions: Vec::new(),
        completes: Vec::new(),
        partial: Vec::new(),
        digest,
    }
}

fn body_len(r: &Rendered) -> usize {
    crate::dingtalk::Message::markdown(&r.title, &r.text).body_len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{labels, Labels, NotifyAlert};
    use crate::group::Dispatcher;
    use crate::route::RouteTree;
    use std::collections::HashMap;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    fn dingtalk_lane() -> Lane {
        Lane::new(LaneMode::DingTalk {
            limiter: Limiter::new(RateLimit::default()),
            render: RenderOptions::default(),
        })
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
        received: Vec<(Timestamp, Rendered)>,
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
                }
                lane.done(&batch, result, t(s));
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
            .flat_map(|(_, m)| m.text.split(['\n', ' ']))
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
        assert_eq!(b.completes, [0, 1, 2]);
        assert_eq!(lane.done(&b, SendResult::Delivered, t(1)), [0, 1, 2]);
        assert!(lane.is_empty());
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
        let resolved: Vec<Mention> = b.mentions.iter().map(|m| m.resolve(&robot)).collect();
        assert_eq!(resolved, [oncall.clone(), robot.clone()]);

        // Over the rate limit: one digest for both groups mentions both routes' people.
        let mut lane = Lane::new(LaneMode::DingTalk {
            limiter: Limiter::new(RateLimit {
                max: 1,
                ..RateLimit::default()
            }),
            render: RenderOptions::default(),
        });
        lane.push(0, mk(0, Some(oncall.clone())));
        lane.push(1, mk(1, None));
        let b = lane.plan(t(0)).unwrap();
        assert!(b.digest);
        assert_eq!(b.mentions.len(), 1);
        assert_eq!(b.mentions[0].resolve(&robot), robot.union(&oncall));
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
        assert_eq!(
            b.notifications[0].alerts.len(),
            2,
            "the resolved alert is kept"
        );
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
        assert!(lane.done(&b, SendResult::Transient, t(0)).is_empty());
        assert!(lane.plan(t(0)).is_none());
        assert_eq!(lane.next_due(t(0)), Some(t(1)));
        let b = lane.plan(t(1)).unwrap();
        lane.done(&b, SendResult::Transient, t(1));
        assert_eq!(lane.next_due(t(1)), Some(t(3)));
        let b = lane.plan(t(3)).unwrap();
        assert_eq!(lane.done(&b, SendResult::Delivered, t(3)), [7]);
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
        assert_eq!(lane.done(&b, SendResult::Permanent, t(0)), [0, 1]);
        assert!(lane.is_empty());
    }

    #[test]
    fn throttling_blocks_until_the_window_ends_and_the_wait_passes() {
        let mut l = Limiter::new(RateLimit::default());
        l.record(t(0), 5);
        l.throttled(t(10), Duration::from_secs(5));
        assert_eq!(l.available(t(59)), 0);
        assert_eq!(l.available(t(60)), 20);
        let mut l = Limiter::new(RateLimit::default());
        l.throttled(t(10), Duration::from_secs(600));
        assert_eq!(l.available(t(609)), 0);
        assert_eq!(l.next_free(t(100)), t(610));
    }
}

//! Aggregation groups with Alertmanager's timing, as a pure state machine: alerts go in
//! with [`Dispatcher::ingest`], notifications come out of [`Dispatcher::tick`]; time is
//! always an argument.
//!
//! The rules (Alertmanager's dispatcher and dedup stage):
//! - a new group waits `group_wait` before its first flush, so alerts that arrive together
//!   go out together — unless its alert started more than `group_wait` ago (a restart),
//!   then it flushes at once;
//! - after a flush the next one is `group_interval` later;
//! - a flush notifies when a firing alert is new since the last notification, when an
//!   alert resolved since then (`send_resolved`), or when everything resolved; otherwise
//!   it repeats only once `repeat_interval` has passed since the last notification;
//! - resolved alerts leave the group after the flush that reported them; an empty group is
//!   dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::alert::{AlertStatus, Labels, NotifyAlert};
use crate::notification::{sort_alerts, Notification};
use crate::route::RouteTree;
use crate::time::Timestamp;

/// What was last notified for a group (Alertmanager's notification log entry).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sent {
    firing: BTreeSet<u64>,
    resolved: BTreeSet<u64>,
    at: Timestamp,
}

#[derive(Clone, Debug)]
struct Group {
    key: String,
    route: usize,
    labels: Labels,
    alerts: BTreeMap<u64, NotifyAlert>,
    next_flush: Timestamp,
    flushed: bool,
    last: Option<Sent>,
}

/// Routes alerts into aggregation groups and decides when each group notifies.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    tree: RouteTree,
    send_resolved: HashMap<String, bool>,
    /// By route and a hash of the group labels (groups whose labels collide share the
    /// bucket): finding an alert's group builds no label map.
    groups: HashMap<(usize, u64), Vec<Group>>,
    /// The routes of the alert being ingested (reused from alert to alert).
    matched: Vec<usize>,
}

impl Dispatcher {
    /// `send_resolved` per receiver name; receivers not listed send resolved notices.
    pub fn new(tree: RouteTree, send_resolved: HashMap<String, bool>) -> Dispatcher {
        Dispatcher {
            tree,
            send_resolved,
            groups: HashMap::new(),
            matched: Vec::new(),
        }
    }

    pub fn tree(&self) -> &RouteTree {
        &self.tree
    }

    /// Takes the engine's alerts at `now`: firing ones and ones resolved since the last
    /// call. An alert replaces the group's previous version of it (same fingerprint).
    pub fn ingest(&mut self, alerts: impl IntoIterator<Item = NotifyAlert>, now: Timestamp) {
        let mut matched = std::mem::take(&mut self.matched);
        for alert in alerts {
            self.tree.matching_ids(&alert.labels, &mut matched);
            let last = matched.len().saturating_sub(1);
            let mut alert = Some(alert);
            for (k, &route) in matched.iter().enumerate() {
                // Clone only for the routes before the last one (`continue`).
                let Some(this) = (if k == last {
                    alert.take()
                } else {
                    alert.clone()
                }) else {
                    continue;
                };
                let alert = this;
                let group_by = &self.tree.routes[route].group_by;
                let wait = self.tree.routes[route].timers.group_wait;
                let hash = group_by.hash_of(&alert.labels);
                let bucket = self.groups.entry((route, hash)).or_default();
                let found = bucket
                    .iter()
                    .position(|g| group_by.same_group(&alert.labels, &g.labels));
                let i = match found {
                    Some(i) => i,
                    // A resolved alert for a group nobody heard of has nothing to tell.
                    None if alert.is_resolved_at(now) => {
                        if bucket.is_empty() {
                            self.groups.remove(&(route, hash));
                        }
                        continue;
                    }
                    None => {
                        let labels = group_by.group_labels(&alert.labels);
                        bucket.push(Group {
                            key: group_key(&self.tree.routes[route].key, &labels),
                            route,
                            labels,
                            alerts: BTreeMap::new(),
                            next_flush: now + wait,
                            flushed: false,
                            last: None,
                        });
                        bucket.len() - 1
                    }
                };
                let group = &mut bucket[i];
                if !group.flushed && alert.starts_at + wait < now {
                    group.next_flush = group.next_flush.min(now);
                }
                group.alerts.insert(alert.fingerprint, alert);
            }
        }
        self.matched = matched;
    }

    /// Flushes every group that is due at `now` and returns the notifications to send.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Notification> {
        let mut out = Vec::new();
        let mut empty = Vec::new();
        for (map_key, group) in self
            .groups
            .iter_mut()
            .flat_map(|(k, bucket)| bucket.iter_mut().map(move |g| (k, g)))
        {
            if group.next_flush > now {
                continue;
            }
            let route = &self.tree.routes[group.route];
            let send_resolved = self
                .send_resolved
                .get(&route.receiver)
                .copied()
                .unwrap_or(true);
            if let Some(mut n) = flush(
                group,
                &route.receiver,
                route.timers.repeat_interval,
                send_resolved,
                now,
            ) {
                n.mention = route.mention.clone();
                out.push((group.route, n));
            }
            group.flushed = true;
            group.next_flush = now + route.timers.group_interval;
            if group.alerts.is_empty() {
                empty.push(*map_key);
            }
        }
        for k in empty {
            if let Some(bucket) = self.groups.get_mut(&k) {
                bucket.retain(|g| !g.alerts.is_empty());
                if bucket.is_empty() {
                    self.groups.remove(&k);
                }
            }
        }
        // In route and group-label order, as the groups' own order is a hash's.
        out.sort_by(|(r, a), (q, b)| (r, &a.group_labels).cmp(&(q, &b.group_labels)));
        out.into_iter().map(|(_, n)| n).collect()
    }

    /// When [`Dispatcher::tick`] next has something to do (for the driver's sleep).
    pub fn next_due(&self) -> Option<Timestamp> {
        self.groups.values().flatten().map(|g| g.next_flush).min()
    }

    /// Groups alive, and alerts in them.
    pub fn stats(&self) -> (usize, usize) {
        (
            self.groups.values().map(Vec::len).sum(),
            self.groups.values().flatten().map(|g| g.alerts.len()).sum(),
        )
    }
}

fn flush(
    group: &mut Group,
    receiver: &str,
    repeat: std::time::Duration,
    send_resolved: bool,
    now: Timestamp,
) -> Option<Notification> {
    let mut firing = BTreeSet::new();
    let mut resolved = BTreeSet::new();
    let mut alerts = Vec::with_capacity(group.alerts.len());
    for (fp, a) in &group.alerts {
        let mut a = a.clone();
        if a.is_resolved_at(now) {
            a.status = AlertStatus::Resolved;
            resolved.insert(*fp);
        } else {
            a.status = AlertStatus::Firing;
            firing.insert(*fp);
        }
        alerts.push(a);
    }
    let notify = needs_update(
        group.last.as_ref(),
        &firing,
        &resolved,
        send_resolved,
        repeat,
        now,
    );
    // Reported (or not worth reporting): resolved alerts leave the group.
    if !resolved.is_empty() {
        group.alerts.retain(|fp, _| !resolved.contains(fp));
    }
    if !notify {
        return None;
    }
    group.last = Some(Sent {
        firing,
        resolved,
        at: now,
    });
    if !send_resolved {
        alerts.retain(|a| a.status == AlertStatus::Firing);
        if alerts.is_empty() {
            return None;
        }
    }
    sort_alerts(&mut alerts);
    Some(Notification {
        receiver: receiver.to_owned(),
        group_key: group.key.clone(),
        group_labels: group.labels.clone(),
        alerts,
        created_at: now,
        mention: None,
    })
}

/// Alertmanager's `DedupStage.needsUpdate`.
fn needs_update(
    last: Option<&Sent>,
    firing: &BTreeSet<u64>,
    resolved: &BTreeSet<u64>,
    send_resolved: bool,
    repeat: std::time::Duration,
    now: Timestamp,
) -> bool {
    let Some(last) = last else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&last.firing) {
        return true;
    }
    if firing.is_empty() {
        // All resolved: tell the receiver, unless it never heard of these alerts.
        return !last.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&last.resolved) {
        return true;
    }
    last.at < now - repeat
}

/// `<route key>:{a="1", b="2"}` — Alertmanager's group key.
fn group_key(route_key: &str, labels: &Labels) -> String {
    let mut s = String::with_capacity(route_key.len() + 32);
    s.push_str(route_key);
    s.push_str(":{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{k}={v:?}");
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;
    use std::time::Duration;

    const WAIT: i64 = 30;
    const INTERVAL: i64 = 300;
    const REPEAT: i64 = 3600;

    fn dispatcher(send_resolved: bool) -> Dispatcher {
        let tree = RouteTree::compile(
            &serde_json::from_str(
                r#"{"receiver": "ops", "group_by": ["alertname"], "group_wait": "30s",
                    "group_interval": "5m", "repeat_interval": "1h",
                    "routes": [{"matchers": ["severity=\"critical\""], "receiver": "pager",
                                "continue": true, "group_by": ["..."]},
                               {"matchers": ["alertname=~\".+\""]}]}"#,
            )
            .unwrap(),
        )
        .unwrap();
        let flags = [
            ("ops".to_owned(), send_resolved),
            ("pager".to_owned(), send_resolved),
        ];
        Dispatcher::new(tree, flags.into_iter().collect())
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    fn alert(name: &str, inst: &str, at: i64) -> NotifyAlert {
        NotifyAlert::firing(
            labels([("alertname", name), ("instance", inst)]),
            Labels::new(),
            t(at),
        )
    }

    /// Ticks every second from `from` to `to` inclusive, returning (time, notification).
    fn run(d: &mut Dispatcher, from: i64, to: i64) -> Vec<(i64, Notification)> {
        (from..=to)
            .flat_map(|s| d.tick(t(s)).into_iter().map(move |n| (s, n)))
            .collect()
    }

    fn instances(n: &Notification) -> Vec<(String, AlertStatus)> {
        n.alerts
            .iter()
            .map(|a| (a.labels["instance"].clone(), a.status))
            .collect()
    }

    #[test]
    fn new_group_waits_group_wait() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0)], t(0));
        assert!(run(&mut d, 0, WAIT - 1).is_empty());
        let sent = run(&mut d, WAIT, WAIT);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].1.group_key,
            r#"{}/{alertname=~".+"}:{alertname="A"}"#
        );
    }

    #[test]
    fn alerts_arriving_during_group_wait_share_the_first_notification() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0)], t(0));
        d.ingest([alert("A", "2", 10)], t(10));
        let sent = run(&mut d, 0, WAIT + 5);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, WAIT);
        assert_eq!(sent[0].1.alerts.len(), 2);
    }

    #[test]
    fn alerts_with_different_group_labels_form_separate_groups() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0), alert("B", "1", 0)], t(0));
        let sent = run(&mut d, 0, WAIT);
        assert_eq!(sent.len(), 2);
        assert_eq!(d.stats(), (2, 2));
    }

    #[test]
    fn an_alert_that_started_long_ago_skips_group_wait() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", -600)], t(0));
        assert_eq!(run(&mut d, 0, 0).len(), 1);
    }

    #[test]
    fn changed_group_notifies_at_the_next_group_interval_not_before() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0)], t(0));
        assert_eq!(run(&mut d, 0, WAIT).len(), 1);
        d.ingest([alert("A", "2", 40)], t(40));
        assert!(run(&mut d, WAIT + 1, WAIT + INTERVAL - 1).is_empty());
        let sent = run(&mut d, WAIT + INTERVAL, WAIT + INTERVAL);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].1.alerts.len(),
            2,
            "an update carries the whole group"
        );
    }

    #[test]
    fn unchanged_group_repeats_after_repeat_interval_not_before() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0)], t(0));
        let sent = run(&mut d, 0, WAIT + REPEAT + INTERVAL);
        let times: Vec<i64> = sent.iter().map(|(s, _)| *s).collect();
        // Flushes run every group_interval after the first; the repeat goes out at the
        // first flush strictly more than repeat_interval after the last notification.
        let first_repeat = (1..)
            .map(|k| WAIT + k * INTERVAL)
            .find(|s| *s > WAIT + REPEAT)
            .unwrap();
        assert_eq!(times, vec![WAIT, first_repeat]);
    }

    #[test]
    fn an_identical_flush_is_not_resent_before_repeat_interval() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0)], t(0));
        assert_eq!(run(&mut d, 0, WAIT).len(), 1);
        // The engine re-sends the same alert every evaluation: nothing new to tell.
        for s in (WAIT..WAIT + 3 * INTERVAL).step_by(15) {
            d.ingest([alert("A", "1", 0)], t(s));
            assert!(d.tick(t(s)).is_empty(), "at {s}");
        }
    }

    #[test]
    fn resolved_alert_sends_one_resolved_notice() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0), alert("A", "2", 0)], t(0));
        assert_eq!(run(&mut d, 0, WAIT).len(), 1);
        d.ingest([alert("A", "1", 0).resolved_at(t(100))], t(100));
        let sent = run(&mut d, WAIT + 1, WAIT + 3 * INTERVAL);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0, WAIT + INTERVAL);
        assert_eq!(
            instances(&sent[0].1),
            [
                ("2".to_owned(), AlertStatus::Firing),
                ("1".to_owned(), AlertStatus::Resolved)
            ]
        );
        assert_eq!(sent[0].1.status(), AlertStatus::Firing);
    }

    #[test]
    fn group_resolving_completely_sends_a_resolved_notification_and_disappears() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0)], t(0));
        run(&mut d, 0, WAIT);
        d.ingest([alert("A", "1", 0).resolved_at(t(60))], t(60));
        let sent = run(&mut d, WAIT + 1, WAIT + INTERVAL);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1.status(), AlertStatus::Resolved);
        assert_eq!(d.stats(), (0, 0));
        assert!(run(&mut d, WAIT + INTERVAL + 1, REPEAT * 2).is_empty());
    }

    #[test]
    fn without_send_resolved_a_partial_resolution_sends_nothing() {
        let mut d = dispatcher(false);
        d.ingest([alert("A", "1", 0), alert("A", "2", 0)], t(0));
        run(&mut d, 0, WAIT);
        d.ingest([alert("A", "1", 0).resolved_at(t(60))], t(60));
        assert!(run(&mut d, WAIT + 1, WAIT + 2 * INTERVAL).is_empty());
        // Full resolution is logged but not delivered.
        d.ingest([alert("A", "2", 0).resolved_at(t(700))], t(700));
        assert!(run(&mut d, 700, 700 + INTERVAL).is_empty());
        assert_eq!(d.stats(), (0, 0));
    }

    #[test]
    fn an_alert_resolved_before_the_first_flush_is_never_notified() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0)], t(0));
        d.ingest([alert("A", "1", 0).resolved_at(t(10))], t(10));
        assert!(run(&mut d, 0, WAIT + INTERVAL).is_empty());
        assert_eq!(d.stats(), (0, 0));
    }

    #[test]
    fn an_alert_whose_ends_at_passed_is_reported_resolved() {
        let mut d = dispatcher(true);
        let mut a = alert("A", "1", 0);
        a.ends_at = Some(t(120));
        d.ingest([a], t(0));
        assert_eq!(run(&mut d, 0, WAIT).len(), 1);
        let sent = run(&mut d, WAIT + 1, WAIT + INTERVAL);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1.alerts[0].status, AlertStatus::Resolved);
    }

    #[test]
    fn a_refiring_alert_is_notified_again() {
        let mut d = dispatcher(true);
        d.ingest([alert("A", "1", 0), alert("A", "2", 0)], t(0));
        run(&mut d, 0, WAIT);
        d.ingest([alert("A", "1", 0).resolved_at(t(60))], t(60));
        assert_eq!(run(&mut d, 61, WAIT + INTERVAL).len(), 1);
        d.ingest([alert("A", "1", 400)], t(400));
        let sent = run(&mut d, WAIT + INTERVAL + 1, WAIT + 2 * INTERVAL);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].1.firing().count(), 2);
    }

    #[test]
    fn continue_routes_give_an_alert_one_group_per_route() {
        let mut d = dispatcher(true);
        let mut a = alert("A", "1", 0);
        a.labels.insert("severity".into(), "critical".into());
        d.ingest([a], t(0));
        let sent = run(&mut d, 0, WAIT);
        let receivers: Vec<&str> = sent.iter().map(|(_, n)| n.receiver.as_str()).collect();
        assert_eq!(receivers, ["pager", "ops"]);
        assert!(sent[0]
            .1
            .group_key
            .starts_with(r#"{}/{severity="critical"}:{alertname="A", "#));
        assert_eq!(
            sent[1].1.group_key,
            r#"{}/{alertname=~".+"}:{alertname="A"}"#
        );
    }

    #[test]
    fn next_due_tells_the_driver_when_to_wake() {
        let mut d = dispatcher(true);
        assert_eq!(d.next_due(), None);
        d.ingest([alert("A", "1", 0)], t(0));
        assert_eq!(d.next_due(), Some(t(0) + Duration::from_secs(30)));
    }
}

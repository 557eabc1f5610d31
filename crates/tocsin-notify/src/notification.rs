//! A [`Notification`]: what one aggregation group has to say at one flush — the unit the
//! outbox stores and the receivers send (Alertmanager's webhook message, minus transport).

use serde::{Deserialize, Serialize};

use crate::alert::{AlertStatus, Labels, NotifyAlert};
use crate::dingtalk::Mention;
use crate::time::Timestamp;

/// One group's notification: its current alerts (firing first, then resolved, each in
/// label order).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub receiver: String,
    /// Alertmanager's group key: `<route key>:<group labels>`.
    pub group_key: String,
    pub group_labels: Labels,
    pub alerts: Vec<NotifyAlert>,
    /// The flush that produced it.
    #[serde(with = "tocsin_core::time::millis")]
    pub created_at: Timestamp,
    /// DingTalk mentions set by the route, replacing the receiver's; `None`: the
    /// receiver's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<Mention>,
}

impl Notification {
    /// `firing` when any alert is firing, else `resolved`.
    pub fn status(&self) -> AlertStatus {
        if self.firing().next().is_some() {
            AlertStatus::Firing
        } else {
            AlertStatus::Resolved
        }
    }

    pub fn firing(&self) -> impl Iterator<Item = &NotifyAlert> {
        self.alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Firing)
    }

    pub fn resolved(&self) -> impl Iterator<Item = &NotifyAlert> {
        self.alerts
            .iter()
            .filter(|a| a.status == AlertStatus::Resolved)
    }

    /// Labels every alert has with the same value.
    pub fn common_labels(&self) -> Labels {
        common(self.alerts.iter().map(|a| &*a.labels))
    }

    /// Annotations every alert has with the same value.
    pub fn common_annotations(&self) -> Labels {
        common(self.alerts.iter().map(|a| &*a.annotations))
    }

    /// A stable hash of what the notification says (alerts' labels, annotations, status and
    /// start): equal hashes mean "nothing new to tell". Stable across builds (FNV-1a), since
    /// it is persisted in the outbox's acknowledgement log.
    pub fn content_hash(&self) -> u64 {
        let mut h = Fnv::new();
        h.eat(self.group_key.as_bytes());
        for a in &self.alerts {
            h.eat(&a.fingerprint.to_le_bytes());
            h.eat(a.status.as_str().as_bytes());
            h.eat(&a.starts_at.unix_millis().to_le_bytes());
            for (k, v) in &a.annotations {
                h.eat(k.as_bytes());
                h.eat(&[0xff]);
                h.eat(v.as_bytes());
                h.eat(&[0xff]);
            }
        }
        h.0
    }

    /// Folds an older, still unsent notification of the same group into this one: alerts
    /// this one has win; resolved alerts only the older one reports are kept (the group
    /// forgot them after the older flush, but nobody has been told yet).
    pub fn absorb_older(&mut self, older: &Notification) {
        for a in older.resolved() {
            if !self.alerts.iter().any(|b| b.fingerprint == a.fingerprint) {
                self.alerts.push(a.clone());
            }
        }
        sort_alerts(&mut self.alerts);
    }
}

/// Firing before resolved, then by labels.
pub(crate) fn sort_alerts(alerts: &mut [NotifyAlert]) {
    alerts.sort_by(|a, b| (a.status, &a.labels).cmp(&(b.status, &b.labels)));
}

fn common<'a>(mut sets: impl Iterator<Item = &'a Labels>) -> Labels {
    let Some(first) = sets.next() else {
        return Labels::new();
    };
    let mut out = first.clone();
    for s in sets {
        out.retain(|k, v| s.get(k) == Some(v));
        if out.is_empty() {
            break;
        }
    }
    out
}

/// FNV-1a 64, for hashes that are persisted (std's hasher may change between releases).
pub(crate) struct Fnv(pub u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    pub fn eat(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;

    fn alert(name: &str, inst: &str) -> NotifyAlert {
        NotifyAlert::firing(
            labels([("alertname", name), ("instance", inst), ("job", "node")]),
            labels([("summary", "s")]),
            Timestamp::from_secs(0),
        )
    }

    fn n(alerts: Vec<NotifyAlert>) -> Notification {
        Notification {
            receiver: "r".into(),
            group_key: "{}:{}".into(),
            group_labels: Labels::new(),
            alerts,
            created_at: Timestamp::from_secs(0),
            mention: None,
        }
    }

    #[test]
    fn status_is_firing_while_any_alert_fires() {
        let a = alert("A", "1");
        let b = alert("A", "2").resolved_at(Timestamp::from_secs(5));
        assert_eq!(n(vec![a, b.clone()]).status(), AlertStatus::Firing);
        assert_eq!(n(vec![b]).status(), AlertStatus::Resolved);
    }

    #[test]
    fn common_labels_are_those_all_alerts_share() {
        let x = n(vec![alert("A", "1"), alert("A", "2")]);
        assert_eq!(
            x.common_labels(),
            labels([("alertname", "A"), ("job", "node")])
        );
        assert_eq!(x.common_annotations(), labels([("summary", "s")]));
    }

    #[test]
    fn content_hash_changes_with_status_not_with_creation_time() {
        let a = n(vec![alert("A", "1")]);
        let mut later = a.clone();
        later.created_at = Timestamp::from_secs(99);
        assert_eq!(a.content_hash(), later.content_hash());
        let r = n(vec![alert("A", "1").resolved_at(Timestamp::from_secs(5))]);
        assert_ne!(a.content_hash(), r.content_hash());
    }

    #[test]
    fn absorbing_an_older_notification_keeps_its_resolved_alerts() {
        let older = n(vec![
            alert("A", "1").resolved_at(Timestamp::from_secs(5)),
            alert("A", "2"),
        ]);
        let mut newer = n(vec![alert("A", "2"), alert("A", "3")]);
        newer.absorb_older(&older);
        assert_eq!(newer.alerts.len(), 3);
        assert_eq!(newer.resolved().count(), 1);
        assert_eq!(newer.alerts[2].labels["instance"], "1");
    }
}

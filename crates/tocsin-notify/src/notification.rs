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

/// Firing before resolved, then by labels (as `(status, labels)` compare). Each alert's
/// labels are written once into bytes that sort as its label map does
/// ([`label_order_key`]), so the sort compares flat byte strings instead of walking two
/// maps per comparison (for 100,000 alerts, most of a flush's time).
pub(crate) fn sort_alerts(alerts: &mut [NotifyAlert]) {
    if alerts.len() > 1 {
        alerts.sort_by_cached_key(|a| (a.status, label_order_key(&a.labels)));
    }
}

/// Bytes whose order is the order of label maps: each name and value with its zero bytes
/// written as `0 1` and ended by `0 0`. The encoding of a string never is a prefix of
/// another's, so comparing two keys compares the maps pair by pair, name then value.
fn label_order_key(labels: &Labels) -> Vec<u8> {
    let mut key = Vec::with_capacity(labels.iter().map(|(k, v)| k.len() + v.len() + 4).sum());
    for (k, v) in labels {
        for s in [k, v] {
            let bytes = s.as_bytes();
            if bytes.contains(&0) {
                for &b in bytes {
                    if b == 0 {
                        key.extend_from_slice(&[0, 1]);
                    } else {
                        key.push(b);
                    }
                }
            } else {
                key.extend_from_slice(bytes);
            }
            key.extend_from_slice(&[0, 0]);
        }
    }
    key
}

fn common<'a>(mut sets: impl Iterator<Item = &'a Labels>) -> Labels {
    let Some(first) = sets.next() else {
        return Labels::new();
    };
    // Both sides are sorted by name: one merge walk per set, no lookups.
    let mut shared: Vec<(&String, &String)> = first.iter().collect();
    for s in sets {
        let mut theirs = s.iter().peekable();
        shared.retain(|(k, v)| {
            while theirs.next_if(|(k2, _)| k2 < k).is_some() {}
            theirs
                .next_if(|(k2, _)| k2 == k)
                .is_some_and(|(_, v2)| v2 == *v)
        });
        if shared.is_empty() {
            break;
        }
    }
    shared
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
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
    fn label_order_keys_sort_as_the_label_maps_do() {
        let sets: Vec<Labels> = [
            vec![],
            vec![("a", "")],
            vec![("a", "\0")],
            vec![("a", "\0\0")],
            vec![("a", "\0x")],
            vec![("a", "x")],
            vec![("a", "x\0")],
            vec![("a", "xy")],
            vec![("a", "x"), ("b", "1")],
            vec![("a", "x"), ("b", "")],
            vec![("a", "x"), ("c", "")],
            vec![("a\0", "x")],
            vec![("ab", "")],
            vec![("b", "")],
            vec![("é", "z")],
            vec![("z", "é")],
        ]
        .into_iter()
        .map(labels)
        .collect();
        for x in &sets {
            for y in &sets {
                assert_eq!(
                    label_order_key(x).cmp(&label_order_key(y)),
                    x.cmp(y),
                    "{x:?} vs {y:?}"
                );
            }
        }
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

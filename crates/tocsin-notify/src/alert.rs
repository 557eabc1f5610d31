//! What the engine hands over after each evaluation: firing alerts, and alerts resolved
//! since the last hand-over. The notifier never evaluates anything; it only compares,
//! groups and reports these.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Label or annotation names to values, sorted by name (so output is deterministic and
/// group keys are canonical).
pub type Labels = BTreeMap<String, String>;

/// A label or annotation set shared by an alert's copies (its group, each notification,
/// the outbox): copying an alert counts a reference instead of copying every name and
/// value, which is what a storm of 100,000 alerts spent its time on. Reads go through
/// `Deref`; a write copies the set first if it is shared.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedLabels(Arc<Labels>);

impl Deref for SharedLabels {
    type Target = Labels;
    fn deref(&self) -> &Labels {
        &self.0
    }
}

impl DerefMut for SharedLabels {
    fn deref_mut(&mut self) -> &mut Labels {
        Arc::make_mut(&mut self.0)
    }
}

impl From<Labels> for SharedLabels {
    fn from(l: Labels) -> Self {
        SharedLabels(Arc::new(l))
    }
}

impl FromIterator<(String, String)> for SharedLabels {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        Labels::from_iter(iter).into()
    }
}

impl<'a> IntoIterator for &'a SharedLabels {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Debug for SharedLabels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for SharedLabels {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedLabels {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Labels::deserialize(d).map(SharedLabels::from)
    }
}

/// Whether an alert is firing or resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}

/// One alert as the notifier sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotifyAlert {
    pub labels: SharedLabels,
    pub annotations: SharedLabels,
    /// When it started firing.
    #[serde(with = "tocsin_core::time::millis")]
    pub starts_at: Timestamp,
    /// When it resolved; for a firing alert, optionally the time after which it counts as
    /// resolved unless re-sent (Prometheus's `valid_until`), as Alertmanager treats it.
    #[serde(default, with = "tocsin_core::time::millis::option")]
    pub ends_at: Option<Timestamp>,
    pub generator_url: String,
    pub status: AlertStatus,
    /// Identity of the label set; [`fingerprint`] computes Alertmanager's.
    pub fingerprint: u64,
}

impl NotifyAlert {
    /// A firing alert with Alertmanager's fingerprint of `labels`.
    pub fn firing(labels: Labels, annotations: Labels, starts_at: Timestamp) -> NotifyAlert {
        NotifyAlert {
            fingerprint: fingerprint(&labels),
            labels: labels.into(),
            annotations: annotations.into(),
            starts_at,
            ends_at: None,
            generator_url: String::new(),
            status: AlertStatus::Firing,
        }
    }

    /// An alert as a rule engine hands it over after an evaluation, the way Prometheus's
    /// notifier posts it: a firing alert's `ends_at` is the engine's `valid_until` (it
    /// counts as resolved once that passes without a re-send); a resolved alert's is when
    /// it resolved. `tocsin run` and `tocsin diff --config` both feed the pipeline with
    /// this.
    pub fn sent(
        labels: SharedLabels,
        annotations: SharedLabels,
        starts_at: Timestamp,
        ends_at: Timestamp,
        resolved: bool,
        generator_url: String,
    ) -> NotifyAlert {
        let alert = NotifyAlert {
            fingerprint: fingerprint(&labels),
            labels,
            annotations,
            starts_at,
            ends_at: Some(ends_at),
            generator_url,
            status: AlertStatus::Firing,
        };
        if resolved {
            alert.resolved_at(ends_at)
        } else {
            alert
        }
    }

    /// This alert, resolved at `at`.
    pub fn resolved_at(mut self, at: Timestamp) -> NotifyAlert {
        self.status = AlertStatus::Resolved;
        self.ends_at = Some(at);
        self
    }

    /// Resolved either explicitly or because its `ends_at` has passed (an alert the
    /// engine stopped re-sending), as Alertmanager's `Alert.Resolved()`.
    pub fn is_resolved_at(&self, now: Timestamp) -> bool {
        self.status == AlertStatus::Resolved || self.ends_at.is_some_and(|e| e <= now)
    }

    /// `alertname`, or empty.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
}

/// Alertmanager's fingerprint of a label set (`model.LabelSet.Fingerprint`): FNV-1a 64 over
/// name, 0xff, value, 0xff for each label in name order.
pub fn fingerprint(labels: &Labels) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    for (k, v) in labels {
        eat(k.as_bytes());
        eat(&[0xff]);
        eat(v.as_bytes());
        eat(&[0xff]);
    }
    h
}

/// Builds a label set from pairs (tests, examples).
pub fn labels<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_of_empty_set_is_the_fnv_offset() {
        assert_eq!(fingerprint(&Labels::new()), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn fingerprint_depends_on_names_and_values_not_insertion_order() {
        let a = labels([("a", "1"), ("b", "2")]);
        let b = labels([("b", "2"), ("a", "1")]);
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&labels([("a", "12")])));
    }

    #[test]
    fn an_alert_whose_end_passed_counts_as_resolved() {
        let mut a = NotifyAlert::firing(
            labels([("alertname", "X")]),
            Labels::new(),
            Timestamp::from_secs(0),
        );
        assert!(!a.is_resolved_at(Timestamp::from_secs(100)));
        a.ends_at = Some(Timestamp::from_secs(50));
        assert!(a.is_resolved_at(Timestamp::from_secs(50)));
        assert!(!a.is_resolved_at(Timestamp::from_secs(49)));
    }
}

//! A load-test scenario: how many alerts, their labels, and when each fires, flaps and
//! resolves, as offsets from the start of the run. Pure; the drivers put it on the clock.
//!
//! Alert `i` is named `LoadTest` (or `LoadTest<k>` with several alert names), carries
//! `loadtest_id="lt0000042"` (so every alert is distinct and can be found in a message)
//! plus, per configured label `L` with `c` values, `L="L-<i mod c>"`, and a `summary`
//! annotation starting with its id.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use tocsin_notify::config::PromDuration;

/// The scenario file (YAML), every field optional; command-line flags override it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Alerts in all.
    pub alerts: usize,
    /// Distinct alert names the alerts are spread over.
    pub alertnames: usize,
    /// Label name → how many distinct values it takes.
    pub labels: BTreeMap<String, usize>,
    /// Overrides the root route's `group_by` (and is how `--target gateway` groups).
    pub group_by: Option<Vec<String>>,
    /// Alerts that fire at the start; the rest arrive evenly over `ramp`. Default: all.
    pub at_once: Option<usize>,
    pub ramp: PromDuration,
    /// Fraction (0–1) of alerts that flap: resolve `flap_after` after firing and fire
    /// again `flap_after` later.
    pub flap_rate: f64,
    pub flap_after: PromDuration,
    /// How long each alert fires before it resolves; unset, alerts fire to the end.
    pub fire_for: Option<PromDuration>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            alerts: 1000,
            alertnames: 1,
            labels: BTreeMap::new(),
            group_by: None,
            at_once: None,
            ramp: PromDuration(Duration::ZERO),
            flap_rate: 0.0,
            flap_after: PromDuration(Duration::from_secs(30)),
            fire_for: None,
        }
    }
}

/// Fires or resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Fire,
    Resolve,
}

/// Alert `alert` changes at `at` after the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: Duration,
    pub alert: usize,
    pub change: Change,
}

/// What marks an alert in message text: `lt` and seven digits.
pub fn id(i: usize) -> String {
    format!("lt{i:07}")
}

impl Scenario {
    pub fn validate(&self) -> Result<(), String> {
        if self.alerts == 0 || self.alerts > 9_999_999 {
            return Err(format!(
                "alerts must be 1 to 9,999,999; got {}",
                self.alerts
            ));
        }
        if self.alertnames == 0 {
            return Err("alertnames must be at least 1".into());
        }
        if let Some((name, _)) = self.labels.iter().find(|(_, n)| **n == 0) {
            return Err(format!("label {name:?} needs at least 1 value"));
        }
        for name in self.labels.keys() {
            if matches!(name.as_str(), "alertname" | "loadtest_id") {
                return Err(format!("label {name:?} is set by the load test itself"));
            }
        }
        if !(0.0..=1.0).contains(&self.flap_rate) {
            return Err(format!("flap_rate must be 0 to 1; got {}", self.flap_rate));
        }
        if self.flap_rate > 0.0 && self.flap_after.0.is_zero() {
            return Err("flap_after must be more than 0".into());
        }
        Ok(())
    }

    pub fn alertname(&self, i: usize) -> String {
        if self.alertnames == 1 {
            "LoadTest".to_owned()
        } else {
            format!("LoadTest{}", i % self.alertnames + 1)
        }
    }

    /// Alert `i`'s labels.
    pub fn labels(&self, i: usize) -> Vec<(String, String)> {
        let mut out = vec![
            ("alertname".to_owned(), self.alertname(i)),
            ("loadtest_id".to_owned(), id(i)),
        ];
        for (name, n) in &self.labels {
            out.push((name.clone(), format!("{name}-{}", i % n)));
        }
        out
    }

    /// Alert `i`'s `summary` annotation.
    pub fn summary(&self, i: usize) -> String {
        format!("{} {} firing (load test)", id(i), self.alertname(i))
    }

    /// When alert `i` first fires.
    pub fn arrival(&self, i: usize) -> Duration {
        let at_once = self.at_once.unwrap_or(self.alerts).min(self.alerts);
        if i < at_once || self.ramp.0.is_zero() {
            return Duration::ZERO;
        }
        let late = (self.alerts - at_once) as f64;
        self.ramp.0.mul_f64((i - at_once + 1) as f64 / late)
    }

    /// Whether alert `i` flaps (spread evenly over the alerts).
    pub fn flaps(&self, i: usize) -> bool {
        let before = (i as f64 * self.flap_rate).floor();
        let after = ((i + 1) as f64 * self.flap_rate).floor();
        after > before
    }

    /// Whether every alert resolves before the run ends.
    pub fn resolves(&self) -> bool {
        self.fire_for.is_some()
    }

    /// Every change, in time order.
    pub fn events(&self) -> Vec<Event> {
        let mut out = Vec::with_capacity(self.alerts * 2);
        for i in 0..self.alerts {
            let at = self.arrival(i);
            let event = |at, change| Event {
                at,
                alert: i,
                change,
            };
            out.push(event(at, Change::Fire));
            let end = self.fire_for.map(|d| at + d.0);
            if self.flaps(i) {
                let gap = self.flap_after.0;
                if end.is_none_or(|e| at + gap < e) {
                    out.push(event(at + gap, Change::Resolve));
                    out.push(event(at + gap * 2, Change::Fire));
                }
            }
            if let Some(end) = end {
                out.push(event(end.max(at + self.flap_after.0 * 2), Change::Resolve));
            }
        }
        out.sort_by_key(|e| (e.at, e.alert));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_spread_over_their_values_and_each_alert_is_distinct() {
        let s = Scenario {
            alerts: 10,
            alertnames: 2,
            labels: [("namespace".to_owned(), 3)].into(),
            ..Scenario::default()
        };
        assert_eq!(
            s.labels(4),
            [
                ("alertname".to_owned(), "LoadTest1".to_owned()),
                ("loadtest_id".to_owned(), "lt0000004".to_owned()),
                ("namespace".to_owned(), "namespace-1".to_owned()),
            ]
        );
        let ids: std::collections::HashSet<String> = (0..10).map(id).collect();
        assert_eq!(ids.len(), 10);
        assert!(s.summary(4).starts_with("lt0000004 LoadTest1"));
    }

    #[test]
    fn a_ramp_spreads_the_late_alerts_up_to_its_end() {
        let s = Scenario {
            alerts: 5,
            at_once: Some(1),
            ramp: PromDuration(Duration::from_secs(40)),
            ..Scenario::default()
        };
        let at: Vec<u64> = (0..5).map(|i| s.arrival(i).as_secs()).collect();
        assert_eq!(at, [0, 10, 20, 30, 40]);
    }

    #[test]
    fn flapping_alerts_resolve_and_fire_again_then_all_resolve() {
        let s = Scenario {
            alerts: 4,
            flap_rate: 0.5,
            flap_after: PromDuration(Duration::from_secs(10)),
            fire_for: Some(PromDuration(Duration::from_secs(60))),
            ..Scenario::default()
        };
        let events = s.events();
        let flapping: Vec<usize> = (0..4).filter(|i| s.flaps(*i)).collect();
        assert_eq!(flapping.len(), 2);
        assert_eq!(events.len(), 4 * 2 + 2 * 2);
        for i in 0..4 {
            let mine: Vec<Change> = events
                .iter()
                .filter(|e| e.alert == i)
                .map(|e| e.change)
                .collect();
            assert_eq!(mine.last(), Some(&Change::Resolve));
            assert_eq!(mine.first(), Some(&Change::Fire));
        }
        assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn bad_scenarios_say_what_is_wrong() {
        let s = Scenario {
            labels: [("alertname".to_owned(), 2)].into(),
            ..Scenario::default()
        };
        assert!(s.validate().unwrap_err().contains("alertname"));
        let s = Scenario {
            flap_rate: 2.0,
            ..Scenario::default()
        };
        assert!(s.validate().unwrap_err().contains("flap_rate"));
    }
}

//! `--config`: what each rule set's alerts would have made the notification pipeline send
//! over the window.
//!
//! The backtest records what the engine hands over after each evaluation
//! ([`crate::backtest::AlertReplay::sends`]: firing alerts when they fire and every resend
//! delay with `endsAt` a few intervals ahead, resolved alerts for 15 minutes), exactly the
//! alerts `tocsin run` passes to its pipeline. They go through tocsin-notify's real
//! pipeline — routing, grouping, group_wait/group_interval/repeat_interval, each robot's
//! rate limit, storm digests, split messages — on simulated time
//! ([`tocsin_notify::simulate::Simulation`]), every receiver answering at once. Nothing is
//! contacted.
//!
//! Each side runs once with all its alerting rules (the summary and the per-receiver
//! figures: rules share groups, robots and their rate limits), and once per alerting rule
//! that sent anything, alone (the per-rule figures).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use tocsin_engine::{Labels, Timestamp};
use tocsin_notify::alert::{NotifyAlert, SharedLabels};
use tocsin_notify::config::NotifyConfig;
use tocsin_notify::pipeline::{Destination, PipelineError, PipelineOptions};
use tocsin_notify::simulate::{Delivery, Simulation};
use tocsin_notify::time::Timestamp as NotifyTime;

use crate::backtest::SendLog;
use crate::report::{NotifyCounts, ReceiverNotifications, SideNotifications};

fn notify_time(ts: Timestamp) -> NotifyTime {
    NotifyTime::from_millis(ts.unix_millis())
}

/// Engine label sets as the pipeline's, converted once per distinct set.
#[derive(Default)]
struct Converter {
    cache: HashMap<Labels, SharedLabels>,
}

impl Converter {
    fn labels(&mut self, l: &Labels) -> SharedLabels {
        self.cache
            .entry(l.clone())
            .or_insert_with(|| {
                l.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .clone()
    }

    /// Hand-over `i` of `log` as `tocsin run` converts the engine's alert (its
    /// `notify::convert`), through [`NotifyAlert::sent`].
    fn alert(&mut self, log: &SendLog, i: usize) -> Option<NotifyAlert> {
        let s = log.sends.get(i)?;
        let (labels, annotations, starts_at) = log.alerts.get(s.alert as usize)?;
        Some(NotifyAlert::sent(
            self.labels(labels),
            self.labels(annotations),
            notify_time(*starts_at),
            notify_time(s.ends_at),
            s.resolved,
            log.generator_url.clone(),
        ))
    }
}

/// Runs the pipeline for `config` over `[start, end]` fed with the hand-overs of `rules`
/// (merged in time order; at one instant, in the order given). Deliveries due after `end`
/// are not counted.
pub fn simulate(
    config: &NotifyConfig,
    options: &PipelineOptions,
    rules: &[&SendLog],
    start: Timestamp,
    end: Timestamp,
) -> Result<Vec<Delivery>, PipelineError> {
    let mut sim = Simulation::new(config, options, notify_time(start))?;
    let mut convert = Converter::default();
    // The rules' logs merged in time order (each is in time order), a cursor per rule.
    let mut cursor = vec![0usize; rules.len()];
    let mut heap: BinaryHeap<Reverse<(Timestamp, usize)>> = rules
        .iter()
        .enumerate()
        .filter_map(|(r, log)| Some(Reverse((log.sends.first()?.at, r))))
        .collect();
    while let Some(Reverse((ts, _))) = heap.peek().copied() {
        let mut batch = Vec::new();
        while let Some(Reverse((at, r))) = heap.peek().copied() {
            if at != ts {
                break;
            }
            heap.pop();
            let log = rules[r];
            while log.sends.get(cursor[r]).is_some_and(|s| s.at == ts) {
                batch.extend(convert.alert(log, cursor[r]));
                cursor[r] += 1;
            }
            if let Some(next) = log.sends.get(cursor[r]) {
                heap.push(Reverse((next.at, r)));
            }
        }
        sim.ingest(batch, notify_time(ts))?;
    }
    sim.advance_to(notify_time(end))?;
    Ok(sim.deliveries().to_vec())
}

/// Totals of deliveries.
pub fn counts(deliveries: &[Delivery]) -> NotifyCounts {
    let mut c = NotifyCounts::default();
    for d in deliveries {
        c.notifications += d.notifications as u64;
        c.requests += d.requests as u64;
        if matches!(d.lane, Destination::DingTalk(_)) {
            c.dingtalk_messages += d.requests as u64;
            c.digest_messages += d.digest_messages as u64;
            c.split_parts += d.split_parts as u64;
        }
    }
    c
}

/// Deliveries per lane, with DingTalk messages per UTC day and per week.
pub fn side_report(deliveries: &[Delivery], start: Timestamp, end: Timestamp) -> SideNotifications {
    let mut by_lane: BTreeMap<String, Vec<Delivery>> = BTreeMap::new();
    for d in deliveries {
        by_lane
            .entry(d.lane.to_string())
            .or_default()
            .push(d.clone());
    }
    let weeks = window_weeks(start, end);
    let receivers = by_lane
        .into_iter()
        .map(|(lane, ds)| {
            let mut per_day: BTreeMap<String, u64> = BTreeMap::new();
            for d in &ds {
                let day = crate::report::rfc3339(d.at);
                *per_day.entry(day[..10].to_string()).or_default() += d.requests as u64;
            }
            let counts = counts(&ds);
            let per_week = per_week(counts.requests, weeks);
            (
                lane,
                ReceiverNotifications {
                    counts,
                    per_day,
                    requests_per_week: per_week,
                },
            )
        })
        .collect();
    let total = counts(deliveries);
    SideNotifications {
        dingtalk_messages_per_week: per_week(total.dingtalk_messages, weeks),
        total,
        receivers,
    }
}

/// The window's length in weeks.
pub fn window_weeks(start: Timestamp, end: Timestamp) -> f64 {
    (end.unix_millis() - start.unix_millis()).max(1) as f64 / (7.0 * 86_400_000.0)
}

/// A count over the window as a weekly rate, to one decimal.
pub fn per_week(n: u64, weeks: f64) -> f64 {
    (n as f64 / weeks * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NotifyConfig {
        serde_json::from_str(
            r#"{"route": {"receiver": "robot", "group_by": ["alertname"],
                          "group_wait": "30s", "group_interval": "5m", "repeat_interval": "1h"},
                "receivers": [{"name": "robot", "send_resolved": true,
                               "dingtalk": {"access_token_env": "T"}}]}"#,
        )
        .expect("config")
    }

    use tocsin_engine::{OutgoingAlert, OutgoingState};

    fn alert(name: &str, at_s: i64, state: OutgoingState, ends_s: i64) -> OutgoingAlert {
        OutgoingAlert {
            labels: Labels::new([("alertname", name)]),
            annotations: Labels::new([("summary", "x")]),
            starts_at: Timestamp::from_secs(at_s),
            ends_at: Timestamp::from_secs(ends_s),
            generator_url: String::new(),
            state,
        }
    }

    #[test]
    fn two_rules_in_one_group_key_share_notifications_and_each_alone_sends_its_own() {
        // Both rules fire at 0 and resolve at 600 (sent every 2 minutes meanwhile).
        let sends = |name: &str| {
            let mut log = SendLog::default();
            for t in (0..600).step_by(120) {
                log.push(
                    Timestamp::from_secs(t),
                    alert(name, 0, OutgoingState::Firing, t + 240),
                );
            }
            log.push(
                Timestamp::from_secs(600),
                alert(name, 0, OutgoingState::Resolved, 600),
            );
            assert_eq!(log.alerts.len(), 1, "one alert, interned");
            assert_eq!(
                log.outgoing(5),
                Some(alert(name, 0, OutgoingState::Resolved, 600))
            );
            log
        };
        let (a, b) = (sends("A"), sends("B"));
        let (start, end) = (Timestamp::from_secs(0), Timestamp::from_secs(7200));
        let options = PipelineOptions::daemon("", tocsin_notify::zoned::TimeZone::UTC);
        let both = simulate(&config(), &options, &[&a, &b], start, end).unwrap();
        let alone = simulate(&config(), &options, &[&a], start, end).unwrap();
        // Per rule (grouped by alertname): fired after group_wait, resolved on the
        // group_interval tick after 600 s.
        assert_eq!(counts(&alone).dingtalk_messages, 2, "{alone:#?}");
        assert_eq!(counts(&both).dingtalk_messages, 4, "{both:#?}");
        let report = side_report(&both, start, end);
        assert_eq!(report.receivers["dingtalk:robot"].counts.notifications, 4);
        assert_eq!(
            report.receivers["dingtalk:robot"].per_day.get("1970-01-01"),
            Some(&4)
        );
        // Two hours of a week: 4 messages are 336 a week.
        assert_eq!(report.dingtalk_messages_per_week, 336.0);
    }
}

//! The pipeline on simulated time, with every receiver answering at once: what
//! `tocsin diff --config` reports a rule set would have sent over a backtest window.
//!
//! It drives the same [`Pipeline`] `tocsin run` drives ([`crate::pipeline::Notifier`]):
//! alerts go in with [`Pipeline::ingest`] at the instant the engine handed them over,
//! [`Pipeline::tick`] runs at that instant and at every instant [`Pipeline::next_due`]
//! names (group_wait, group_interval, repeat_interval, a robot's window reopening, the
//! settle time), and each batch is reported delivered with [`Pipeline::complete`]. A robot's
//! requests (split parts included) are counted in its send window as the DingTalk client
//! counts them, answered at the instant they are made. Nothing is contacted: each delivery
//! is recorded instead.
//!
//! Timers fire [`TIMER_LATENESS`] after they are due. A live timer never fires early and
//! the daemon's loop wakes a little late, so each aggregation group's next flush (set from
//! the instant it actually flushed) drifts later tick by tick; Alertmanager's strict
//! `repeat_interval` test (`last sent < now − repeat_interval`) therefore passes on the
//! tick that is a whole repeat_interval after the last send, live. Acting exactly on time
//! would put every such tick on the boundary and repeat one group_interval later.

use crate::alert::NotifyAlert;
use crate::config::NotifyConfig;
use crate::pipeline::{Destination, Job, Pipeline, PipelineError, PipelineOptions};
use crate::time::Timestamp;

/// One batch a receiver would have received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub at: Timestamp,
    /// The lane: `dingtalk:<receiver>` (receivers on one robot share the first one's),
    /// `webhook:<receiver>`, `alertmanager:<receiver>`.
    pub lane: Destination,
    /// HTTP requests: a DingTalk lane's messages (each split part and digest part is
    /// one), else one.
    pub requests: usize,
    /// DingTalk messages that are parts of a storm digest.
    pub digest_messages: usize,
    /// DingTalk messages beyond the first of a notification split into parts.
    pub split_parts: usize,
    /// Notifications carried (each group flush that went out; a digest carries many).
    pub notifications: usize,
    /// Alerts listed or counted.
    pub alerts: usize,
}

/// A pipeline driven on simulated time.
#[derive(Debug)]
pub struct Simulation {
    pipeline: Pipeline,
    now: Timestamp,
    deliveries: Vec<Delivery>,
}

/// How late the simulation acts on a timer that is due (see the module doc).
pub const TIMER_LATENESS: std::time::Duration = std::time::Duration::from_millis(1);

/// Rounds of ticks at one instant before time moves on (a lane plans one batch at a time;
/// a storm digest takes as many rounds as its window has slots).
const MAX_ROUNDS_PER_INSTANT: usize = 10_000;

impl Simulation {
    /// The pipeline for `config`, starting at `start`. An outbox in `options` is ignored:
    /// a simulation keeps everything in memory.
    pub fn new(
        config: &NotifyConfig,
        options: &PipelineOptions,
        start: Timestamp,
    ) -> Result<Simulation, PipelineError> {
        let options = PipelineOptions {
            outbox_dir: None,
            ..options.clone()
        };
        Ok(Simulation {
            pipeline: Pipeline::new(config, &options)?,
            now: start,
            deliveries: Vec::new(),
        })
    }

    /// Runs everything due before `at`, then hands `alerts` over at `at` and runs what is
    /// due then. Instants earlier than the simulation's clock are taken as the clock.
    pub fn ingest(
        &mut self,
        alerts: impl IntoIterator<Item = NotifyAlert>,
        at: Timestamp,
    ) -> Result<(), PipelineError> {
        self.advance_to(at)?;
        self.now = self.now.max(at);
        self.pipeline.ingest(alerts, self.now);
        self.run_now()
    }

    /// Runs every instant the pipeline has work for up to and including `until`.
    pub fn advance_to(&mut self, until: Timestamp) -> Result<(), PipelineError> {
        self.run_now()?;
        while let Some(due) = self.pipeline.next_due(self.now) {
            if due > until {
                break;
            }
            // Also when something is due now that a tick did not take (a lane waiting on
            // a window it shares): time always moves.
            self.now = due.max(self.now) + TIMER_LATENESS;
            if self.now > until {
                break;
            }
            self.run_now()?;
        }
        Ok(())
    }

    /// Ticks at the clock until nothing more goes out at this instant.
    fn run_now(&mut self) -> Result<(), PipelineError> {
        for _ in 0..MAX_ROUNDS_PER_INSTANT {
            let jobs = self.pipeline.tick(self.now)?;
            if jobs.is_empty() {
                break;
            }
            for job in jobs {
                self.deliver(&job)?;
            }
        }
        Ok(())
    }

    /// The receiver answers `job` at once.
    fn deliver(&mut self, job: &Job) -> Result<(), PipelineError> {
        let now = self.now;
        let batch = &job.batch;
        let requests = if batch.messages.is_empty() {
            1
        } else {
            batch.messages.iter().map(|m| m.requests).sum()
        };
        if let Some(window) = self.pipeline.window(&job.lane) {
            let mut w = window.lock();
            for _ in 0..requests {
                // The lane reserved these slots when it planned the batch.
                w.begin(now);
                w.end(now);
            }
        }
        let mut notifications: Vec<u64> = batch
            .messages
            .iter()
            .flat_map(|m| m.covers.iter().map(|(id, _)| *id))
            .collect();
        notifications.sort_unstable();
        notifications.dedup();
        let digest_messages = batch
            .messages
            .iter()
            .filter(|m| m.about == "digest")
            .count();
        let split_parts = batch
            .messages
            .iter()
            .filter(|m| m.about != "digest")
            .map(|m| match m.part {
                Some((k, _)) if k > 1 => m.requests,
                _ => m.requests - 1,
            })
            .sum();
        self.deliveries.push(Delivery {
            at: now,
            lane: job.lane.clone(),
            requests,
            digest_messages,
            split_parts,
            notifications: if batch.messages.is_empty() {
                batch.notifications.len()
            } else {
                notifications.len()
            },
            alerts: if batch.messages.is_empty() {
                batch.notifications.iter().map(|n| n.alerts.len()).sum()
            } else {
                batch.messages.iter().map(|m| m.alerts).sum()
            },
        });
        self.pipeline.complete(job, Ok(()), now)
    }

    /// What went out so far, in time order.
    pub fn deliveries(&self) -> &[Delivery] {
        &self.deliveries
    }

    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::alert::labels;

    fn config(rate: &str) -> NotifyConfig {
        serde_json::from_str(&format!(
            r#"{{"route": {{"receiver": "robot", "group_by": ["alertname", "instance"],
                          "group_wait": "10s", "group_interval": "1m", "repeat_interval": "5m"}},
                "receivers": [{{"name": "robot", "send_resolved": true,
                               "dingtalk": {{"access_token_env": "T"{rate}}}}}]}}"#
        ))
        .expect("config")
    }

    fn firing(instance: &str, at: i64, ends: i64) -> NotifyAlert {
        NotifyAlert::sent(
            labels([("alertname", "Down"), ("instance", instance)]).into(),
            labels([("summary", "down")]).into(),
            Timestamp::from_secs(at),
            Timestamp::from_secs(ends),
            false,
            String::new(),
        )
    }

    #[test]
    fn group_wait_repeat_and_resolve_each_send_one_message_at_their_time() {
        let mut sim = Simulation::new(
            &config(""),
            &PipelineOptions::daemon("", crate::zoned::TimeZone::UTC),
            Timestamp::from_secs(0),
        )
        .unwrap();
        // The engine's rhythm: sent at once, re-sent every two minutes, valid 4 minutes.
        for t in (0..=600).step_by(120) {
            sim.ingest([firing("a", 0, t + 240)], Timestamp::from_secs(t))
                .unwrap();
        }
        let resolved = NotifyAlert::sent(
            labels([("alertname", "Down"), ("instance", "a")]).into(),
            labels([("summary", "down")]).into(),
            Timestamp::from_secs(0),
            Timestamp::from_secs(660),
            true,
            String::new(),
        );
        sim.ingest([resolved], Timestamp::from_secs(660)).unwrap();
        sim.advance_to(Timestamp::from_secs(3600)).unwrap();
        let at: Vec<i64> = sim
            .deliveries()
            .iter()
            .map(|d| d.at.unix_millis() / 1000)
            .collect();
        // First after group_wait (+ the settle time); repeats on the group_interval ticks
        // every 5m (timers act a little late, as live); the resolution on the next tick.
        assert_eq!(at, [10, 310, 610, 670], "{:#?}", sim.deliveries());
        assert!(sim.deliveries().iter().all(|d| d.requests == 1));
    }

    #[test]
    fn a_burst_over_the_robots_limit_becomes_a_digest_and_nothing_is_lost() {
        let mut sim = Simulation::new(
            &config(r#", "rate_limit": {"messages": 3, "per": "1m"}"#),
            &PipelineOptions::daemon("", crate::zoned::TimeZone::UTC),
            Timestamp::from_secs(0),
        )
        .unwrap();
        let alerts: Vec<NotifyAlert> = (0..8).map(|i| firing(&format!("h{i}"), 0, 240)).collect();
        sim.ingest(alerts, Timestamp::from_secs(0)).unwrap();
        sim.advance_to(Timestamp::from_secs(200)).unwrap();
        let d = sim.deliveries();
        let listed: usize = d.iter().map(|d| d.alerts).sum();
        assert_eq!(listed, 8, "{d:#?}");
        assert!(d.iter().all(|d| d.digest_messages == d.requests), "{d:#?}");
        // Never more than three requests in a minute.
        for x in d {
            let window: usize = d
                .iter()
                .filter(|y| y.at >= x.at && y.at < x.at + Duration::from_secs(60))
                .map(|y| y.requests)
                .sum();
            assert!(window <= 3, "{d:#?}");
        }
    }
}

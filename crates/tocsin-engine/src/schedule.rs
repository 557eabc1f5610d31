//! Where a group's evaluations fall in time (Prometheus 2.42 `rules/manager.go`; docs/rule-semantics.md, "Slot offsets").
//!
//! A group evaluates on a fixed grid `k·interval + offset`, where `offset` is the
//! xxHash64 of the label set `{file="<file>", name="<group>"}` — in 2.42 (and any
//! "slicelabels" build, Debian's included) the bytes `file 0xFF <file> 0xFF name 0xFF
//! <name> 0xFF` — modulo the interval in nanoseconds. With the same file string (the path as
//! globbed from the configured pattern) and group name, tocsin evaluates at exactly
//! Prometheus's timestamps.
//!
//! The first evaluation is the first slot after start (never immediately). After that, a
//! group that overran skips the slots it missed and evaluates at the latest slot: it never
//! queues catch-up evaluations.

use std::time::Duration;

use crate::labels::Labels;
use crate::time::{nanos, Timestamp};

/// Prometheus's `Group.hash()`: the fingerprint of `{file, name}`.
pub fn group_hash(file: &str, name: &str) -> u64 {
    Labels::new([("file", file), ("name", name)]).fingerprint()
}

/// The slot grid of one group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupSchedule {
    interval: i64,
    offset: i64,
}

/// One evaluation the scheduler asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tick {
    /// The slot time to evaluate at (`ts` of every rule in the iteration).
    pub ts: Timestamp,
    /// Slots skipped since the previous evaluation
    /// (`prometheus_rule_group_iterations_missed_total`).
    pub missed: u64,
}

impl GroupSchedule {
    /// The grid of group `name` in `file` evaluated every `interval` (a zero interval is
    /// taken as one nanosecond; rule loading never produces one).
    pub fn new(file: &str, name: &str, interval: Duration) -> Self {
        let interval = nanos(interval).max(1);
        let offset = (group_hash(file, name) % interval as u64) as i64;
        GroupSchedule { interval, offset }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval as u64)
    }

    /// The phase of the grid inside each interval.
    pub fn offset(&self) -> Duration {
        Duration::from_nanos(self.offset as u64)
    }

    /// The latest slot at or before `now` (Prometheus's `EvalTimestamp`).
    pub fn eval_timestamp(&self, now: Timestamp) -> Timestamp {
        let adjusted = now.as_nanos() - self.offset;
        Timestamp::from_nanos(adjusted - adjusted.rem_euclid(self.interval) + self.offset)
    }

    /// The first evaluation of a group started at `start`: the next slot after it.
    pub fn first_evaluation(&self, start: Timestamp) -> Timestamp {
        self.eval_timestamp(start) + self.interval()
    }

    /// The evaluation due at `now` after the one at slot `last`: `None` before
    /// `last + interval`; otherwise the latest slot at or before `now`, with the number of
    /// slots skipped in between.
    pub fn next(&self, last: Timestamp, now: Timestamp) -> Option<Tick> {
        let elapsed = now.since(last);
        if elapsed < self.interval {
            return None;
        }
        let steps = elapsed / self.interval;
        Some(Tick {
            ts: Timestamp::from_nanos(last.as_nanos() + steps * self.interval),
            missed: (steps - 1) as u64,
        })
    }
}

/// A group's evaluation clock: when to wake, which slot to evaluate, what was missed.
///
/// The runner's loop is `sleep until ticker.wake_at(); if let Some(tick) =
/// ticker.poll(now) { evaluate the group at tick.ts }`; nothing here reads a clock.
#[derive(Clone, Debug)]
pub struct GroupTicker {
    schedule: GroupSchedule,
    first: Timestamp,
    last: Option<Timestamp>,
    /// Iterations run or skipped (`prometheus_rule_group_iterations_total`).
    pub iterations: u64,
    /// Iterations skipped (`prometheus_rule_group_iterations_missed_total`).
    pub missed: u64,
}

impl GroupTicker {
    /// A ticker for a group started at `start`.
    pub fn new(schedule: GroupSchedule, start: Timestamp) -> Self {
        GroupTicker {
            schedule,
            first: schedule.first_evaluation(start),
            last: None,
            iterations: 0,
            missed: 0,
        }
    }

    pub fn schedule(&self) -> &GroupSchedule {
        &self.schedule
    }

    /// The slot of the last evaluation handed out.
    pub fn last(&self) -> Option<Timestamp> {
        self.last
    }

    /// When the next evaluation is due.
    pub fn wake_at(&self) -> Timestamp {
        match self.last {
            None => self.first,
            Some(last) => last + self.schedule.interval(),
        }
    }

    /// The evaluation due at `now`, if any. The first one is the first slot after start
    /// even when the wake-up comes late, as in Prometheus.
    pub fn poll(&mut self, now: Timestamp) -> Option<Tick> {
        let tick = match self.last {
            None if now >= self.first => Tick {
                ts: self.first,
                missed: 0,
            },
            None => return None,
            Some(last) => self.schedule.next(last, now)?,
        };
        self.last = Some(tick.ts);
        self.iterations += 1 + tick.missed;
        self.missed += tick.missed;
        Some(tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: i64 = 1_000_000_000;

    #[test]
    fn group_offsets_match_prometheus_2_42() {
        // Spec B11, read off live Debian 2.42 servers.
        let cases = [
            ("rules.yml", "live", 0x720f_359f_94da_5202, 5, 4_487_852_546),
            ("rules2.yml", "notif", 0xd792_ea47_1dbc_490c, 5, 916_718_348),
            (
                "rules.yml",
                "live",
                0x720f_359f_94da_5202,
                60,
                4_487_852_546,
            ),
            (
                "/etc/prometheus/rules.yml",
                "example",
                0x3d2a_087a_3c9b_f619,
                60,
                46_431_338_009,
            ),
        ];
        for (file, name, hash, interval, offset) in cases {
            assert_eq!(group_hash(file, name), hash, "{file};{name}");
            let s = GroupSchedule::new(file, name, Duration::from_secs(interval));
            assert_eq!(
                s.offset(),
                Duration::from_nanos(offset),
                "{file};{name} every {interval}s"
            );
        }
        // docs/rule-semantics.md, "Slot offsets": group `alerts` in `rules/a.yml` every 5s sits 3.826202645 s into the interval.
        let s = GroupSchedule::new("rules/a.yml", "alerts", Duration::from_secs(5));
        assert_eq!(s.offset(), Duration::from_nanos(3_826_202_645));
    }

    #[test]
    fn eval_timestamp_is_the_latest_slot_at_or_before_now() {
        let s = GroupSchedule::new("rules.yml", "live", Duration::from_secs(5));
        let off = 4_487_852_546;
        let slot = 1_700_000_000 * SEC + off; // 1_700_000_000 is a multiple of 5
        for now in [slot, slot + 1, slot + 5 * SEC - 1] {
            assert_eq!(
                s.eval_timestamp(Timestamp::from_nanos(now)).as_nanos(),
                slot
            );
        }
        assert_eq!(
            s.eval_timestamp(Timestamp::from_nanos(slot - 1)).as_nanos(),
            slot - 5 * SEC
        );
    }

    #[test]
    fn first_evaluation_is_one_slot_after_start_never_immediately() {
        let s = GroupSchedule::new("rules.yml", "live", Duration::from_secs(5));
        let slot = Timestamp::from_nanos(1_700_000_000 * SEC + 4_487_852_546);
        assert_eq!(
            s.first_evaluation(slot).as_nanos(),
            slot.as_nanos() + 5 * SEC
        );
        assert_eq!(
            s.first_evaluation(Timestamp::from_nanos(slot.as_nanos() - 1)),
            slot
        );
    }

    #[test]
    fn slow_group_skips_missed_slots_instead_of_piling_up() {
        let s = GroupSchedule::new("rules.yml", "live", Duration::from_secs(10));
        let start = Timestamp::from_secs(1_700_000_000);
        let mut t = GroupTicker::new(s, start);
        let first = t.wake_at();
        assert_eq!(t.poll(Timestamp::from_nanos(first.as_nanos() - 1)), None);
        assert_eq!(
            t.poll(first),
            Some(Tick {
                ts: first,
                missed: 0
            })
        );
        // On time: the next slot.
        let on_time = Timestamp::from_nanos(first.as_nanos() + 10 * SEC + 300);
        let tick = t.poll(on_time).expect("due");
        assert_eq!(
            (tick.ts.as_nanos() - first.as_nanos(), tick.missed),
            (10 * SEC, 0)
        );
        // An evaluation that took 35 s: three slots skipped, the latest one evaluated.
        let late = Timestamp::from_nanos(tick.ts.as_nanos() + 35 * SEC);
        let tick2 = t.poll(late).expect("due");
        assert_eq!(tick2.ts.as_nanos() - tick.ts.as_nanos(), 30 * SEC);
        assert_eq!(tick2.missed, 2);
        assert_eq!(s.eval_timestamp(late), tick2.ts, "stays on the grid");
        assert_eq!((t.iterations, t.missed), (5, 2));
        assert_eq!(t.poll(late), None, "nothing due twice");
    }
}

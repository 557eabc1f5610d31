//! One DingTalk robot's rolling send window, shared by everything that posts to that robot
//! in this process: the lane that plans messages (`tocsin run` groups and `tocsin gateway`
//! posts alike) and the client that makes each HTTP request, split parts and retries
//! included.
//!
//! DingTalk takes at most 20 messages a rolling minute per robot; the 21st is answered
//! with errcode 130101 and the robot is then throttled for 10 minutes. A request is
//! counted here from the moment it starts until the window after its *answer* has passed
//! (an answer that never came counts from when the client gave up on it), so a message
//! always counts at least as long as DingTalk counts it, whatever the network latency.
//! The default limit keeps a margin on top: 20 messages per 63 seconds.
//!
//! Pure: time is an argument. [`SharedWindow`] is the one handle both sides hold.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Deserialize;

use crate::config::PromDuration;
use crate::time::Timestamp;

/// A robot's limit: at most `messages` requests in any `per`, and how long to hold back
/// after the robot says "too fast" anyway (130101: another sender used its quota).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub messages: usize,
    pub per: Duration,
    pub throttle: Duration,
}

/// DingTalk's documented limit, 20 a minute, with 3 s of margin on the window.
pub const DEFAULT_MESSAGES: usize = 20;
pub const DEFAULT_PER: Duration = Duration::from_secs(63);
/// DingTalk's documented throttle after the limit is exceeded.
pub const DEFAULT_THROTTLE: Duration = Duration::from_secs(600);

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            messages: DEFAULT_MESSAGES,
            per: DEFAULT_PER,
            throttle: DEFAULT_THROTTLE,
        }
    }
}

/// `rate_limit: {messages: 20, per: 63s, throttle: 10m}` in a `dingtalk:` receiver; unset
/// fields keep their defaults.
impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            messages: Option<usize>,
            per: Option<PromDuration>,
            throttle: Option<PromDuration>,
        }
        let raw = Raw::deserialize(d)?;
        let limit = RateLimit {
            messages: raw.messages.unwrap_or(DEFAULT_MESSAGES),
            per: raw.per.map_or(DEFAULT_PER, |p| p.0),
            throttle: raw.throttle.map_or(DEFAULT_THROTTLE, |p| p.0),
        };
        if limit.messages == 0 {
            return Err(serde::de::Error::custom(
                "rate_limit.messages must be at least 1",
            ));
        }
        if limit.per.is_zero() {
            return Err(serde::de::Error::custom(
                "rate_limit.per must be longer than 0s",
            ));
        }
        Ok(limit)
    }
}

/// The rolling window of one robot.
#[derive(Clone, Debug)]
pub struct SendWindow {
    limit: RateLimit,
    /// When each request in the window was answered (or given up on), oldest first.
    answered: VecDeque<Timestamp>,
    /// Requests started and not yet answered: counted, never expiring.
    in_flight: usize,
    /// Slots a planned batch holds for its messages; its requests take these first.
    reserved: usize,
    /// Nothing may be sent before this (the robot throttled us).
    blocked_until: Option<Timestamp>,
}

impl SendWindow {
    pub fn new(limit: RateLimit) -> SendWindow {
        SendWindow {
            limit,
            answered: VecDeque::new(),
            in_flight: 0,
            reserved: 0,
            blocked_until: None,
        }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    fn expire(&mut self, now: Timestamp) {
        while self
            .answered
            .front()
            .is_some_and(|t| *t + self.limit.per <= now)
        {
            self.answered.pop_front();
        }
    }

    /// Requests that may start at `now` beyond those already reserved.
    pub fn available(&mut self, now: Timestamp) -> usize {
        if self.blocked_until.is_some_and(|b| now < b) {
            return 0;
        }
        self.expire(now);
        self.limit
            .messages
            .saturating_sub(self.answered.len() + self.in_flight + self.reserved)
    }

    /// Holds `n` slots for a planned batch (at most what is available).
    pub fn reserve(&mut self, now: Timestamp, n: usize) -> usize {
        let n = n.min(self.available(now));
        self.reserved += n;
        n
    }

    /// Gives back what a finished batch did not use.
    pub fn release(&mut self) {
        self.reserved = 0;
    }

    /// A request is about to start: takes a reserved slot, else a free one. False when
    /// none is left (the request must not be made now).
    pub fn begin(&mut self, now: Timestamp) -> bool {
        if self.blocked_until.is_some_and(|b| now < b) {
            return false;
        }
        if self.reserved > 0 {
            self.reserved -= 1;
        } else if self.available(now) == 0 {
            return false;
        }
        self.in_flight += 1;
        true
    }

    /// The request begun last was answered — or failed, or timed out: DingTalk may have
    /// counted it all the same — at `now`.
    pub fn end(&mut self, now: Timestamp) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let at = self.answered.back().map_or(now, |last| now.max(*last));
        self.answered.push_back(at);
    }

    /// The robot said "too fast" at `now`: nothing until `wait` has passed and the window
    /// is over. Returns when sending may resume.
    pub fn throttled(&mut self, now: Timestamp, wait: Duration) -> Timestamp {
        let window_end = self.answered.back().map_or(now, |t| *t + self.limit.per);
        let until = (now + wait).max(window_end);
        let until = self.blocked_until.map_or(until, |b| b.max(until));
        self.blocked_until = Some(until);
        until
    }

    /// When sending is blocked by a throttle, until when.
    pub fn blocked_until(&self, now: Timestamp) -> Option<Timestamp> {
        self.blocked_until.filter(|b| now < *b)
    }

    /// When a slot is next free (`now` when one is). With requests in flight, no earlier
    /// than `now`: the caller asks again once they are answered.
    pub fn next_free(&mut self, now: Timestamp) -> Timestamp {
        if self.available(now) > 0 {
            return now;
        }
        let slot = self
            .answered
            .front()
            .map_or(now, |t| *t + self.limit.per)
            .max(now);
        self.blocked_until.map_or(slot, |b| b.max(slot))
    }
}

/// The window as the lane and the client share it.
#[derive(Clone, Debug)]
pub struct SharedWindow(Arc<Mutex<SendWindow>>);

impl SharedWindow {
    pub fn new(limit: RateLimit) -> SharedWindow {
        SharedWindow(Arc::new(Mutex::new(SendWindow::new(limit))))
    }

    /// The window; a panic elsewhere while it was held leaves plain counters, still usable.
    pub fn lock(&self) -> MutexGuard<'_, SendWindow> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_request_counts_from_its_start_until_a_window_after_its_answer() {
        let mut w = SendWindow::new(limit(2));
        assert!(w.begin(t(0)));
        assert!(w.begin(t(0)));
        assert!(!w.begin(t(0)), "two in flight fill the window");
        // Answered (or timed out) at 10 s: counted until 70 s, not 60 s.
        w.end(t(10));
        w.end(t(10));
        assert_eq!(w.available(t(69)), 0);
        assert_eq!(w.available(t(70)), 2);
    }

    #[test]
    fn reserved_slots_are_taken_first_and_released_when_the_batch_ends() {
        let mut w = SendWindow::new(limit(3));
        assert_eq!(w.reserve(t(0), 5), 3);
        assert_eq!(w.available(t(0)), 0);
        assert!(w.begin(t(0)), "a reserved slot");
        w.end(t(1));
        w.release();
        assert_eq!(w.available(t(1)), 2);
    }

    #[test]
    fn a_throttle_blocks_until_its_wait_and_the_window_are_over() {
        let mut w = SendWindow::new(limit(20));
        for _ in 0..5 {
            assert!(w.begin(t(0)));
            w.end(t(0));
        }
        assert_eq!(w.throttled(t(10), Duration::from_secs(5)), t(60));
        assert_eq!(w.available(t(59)), 0);
        assert!(!w.begin(t(59)));
        assert_eq!(w.available(t(60)), 20);
        let mut w = SendWindow::new(limit(20));
        w.throttled(t(10), Duration::from_secs(600));
        assert_eq!(w.available(t(609)), 0);
        assert_eq!(w.next_free(t(100)), t(610));
        assert_eq!(w.blocked_until(t(100)), Some(t(610)));
        assert_eq!(w.blocked_until(t(610)), None);
    }

    #[test]
    fn rate_limit_config_defaults_each_unset_field_and_refuses_zero() {
        let r: RateLimit = serde_json::from_str(r#"{"messages": 10}"#).unwrap();
        assert_eq!(
            r,
            RateLimit {
                messages: 10,
                ..RateLimit::default()
            }
        );
        let r: RateLimit = serde_json::from_str(r#"{"per": "1m", "throttle": "30s"}"#).unwrap();
        assert_eq!(r.per, Duration::from_secs(60));
        assert_eq!(r.throttle, Duration::from_secs(30));
        assert!(serde_json::from_str::<RateLimit>(r#"{"messages": 0}"#).is_err());
        assert!(serde_json::from_str::<RateLimit>(r#"{"mesages": 1}"#).is_err());
    }
}

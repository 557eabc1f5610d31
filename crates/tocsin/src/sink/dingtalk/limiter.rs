//! DingTalk's rate limit: at most `limit` messages in any rolling window per robot
//! (token); the message past it is refused and the robot throttled for a while, during
//! which everything is refused.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

pub struct RateLimiter {
    limit: usize,
    window: Duration,
    throttle: Duration,
    robots: HashMap<String, Robot>,
}

#[derive(Default)]
struct Robot {
    accepted: VecDeque<Instant>,
    throttled_until: Option<Instant>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Counted in the window.
    Allow,
    /// Refused; `tripped` when this request put the robot into its throttle period.
    Throttled { tripped: bool },
}

impl RateLimiter {
    pub fn new(limit: usize, window: Duration, throttle: Duration) -> Self {
        RateLimiter {
            limit,
            window,
            throttle,
            robots: HashMap::new(),
        }
    }

    /// Counts one message for `token` at `now`, or refuses it.
    pub fn admit(&mut self, token: &str, now: Instant) -> Verdict {
        let robot = self.robots.entry(token.to_owned()).or_default();
        if let Some(until) = robot.throttled_until {
            if now < until {
                return Verdict::Throttled { tripped: false };
            }
            robot.throttled_until = None;
            robot.accepted.clear();
        }
        while robot
            .accepted
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            robot.accepted.pop_front();
        }
        if robot.accepted.len() >= self.limit {
            robot.throttled_until = Some(now + self.throttle);
            return Verdict::Throttled { tripped: true };
        }
        robot.accepted.push_back(now);
        Verdict::Allow
    }

    /// Robots in their throttle period at `now`.
    pub fn throttled_robots(&self, now: Instant) -> usize {
        self.robots
            .values()
            .filter(|r| r.throttled_until.is_some_and(|u| now < u))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_twenty_first_message_in_a_minute_is_refused_and_throttles_the_robot() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(20, MIN, Duration::from_secs(600));
        for i in 0..20 {
            assert_eq!(l.admit("tok", t0 + Duration::from_secs(i)), Verdict::Allow);
        }
        assert_eq!(
            l.admit("tok", t0 + Duration::from_secs(30)),
            Verdict::Throttled { tripped: true }
        );
        // The window has rolled on, but the robot is throttled for ten minutes.
        assert_eq!(
            l.admit("tok", t0 + Duration::from_secs(120)),
            Verdict::Throttled { tripped: false }
        );
        assert_eq!(l.throttled_robots(t0 + Duration::from_secs(120)), 1);
        assert_eq!(
            l.admit("tok", t0 + Duration::from_secs(631)),
            Verdict::Allow
        );
        assert_eq!(l.throttled_robots(t0 + Duration::from_secs(631)), 0);
    }

    #[test]
    fn the_window_rolls_and_robots_are_counted_separately() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(2, MIN, Duration::from_secs(600));
        assert_eq!(l.admit("a", t0), Verdict::Allow);
        assert_eq!(l.admit("a", t0 + Duration::from_secs(30)), Verdict::Allow);
        assert_eq!(l.admit("b", t0 + Duration::from_secs(31)), Verdict::Allow);
        assert_eq!(l.admit("a", t0 + Duration::from_secs(60)), Verdict::Allow);
    }
}

//! `tocsin loadtest`: load the notification pipeline (`alerts`) or the rule engine
//! (`rules`) the way production would, on the real clock, and report what it cost.
//!
//! - [`scenario`]: what alerts arrive when (pure: offsets from the start).
//! - [`tally`]: what the robots were told, alert by alert (pure: messages in, report out).
//! - [`alerts`]: drives `tocsin run`'s own notification task ([`crate::notify`]), or posts
//!   to an Alertmanager or a DingTalk gateway and reads what a `tocsin sink dingtalk` got.
//! - [`rules`]: generated rules ([`gen_rules`]) through `tocsin run`'s engine against a
//!   real Prometheus, with what it cost both.
//! - [`progress`]: a progress bar on a terminal, periodic lines otherwise.

pub mod alerts;
pub mod gen_rules;
pub mod progress;
pub mod rules;
pub mod scenario;
pub mod tally;

use std::time::Duration;

/// p50, p95 and the maximum of some durations, in seconds (nearest rank).
#[derive(Debug, Default, serde::Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl Quantiles {
    pub fn of(mut xs: Vec<Duration>) -> Quantiles {
        xs.sort_unstable();
        let pick = |q: f64| {
            if xs.is_empty() {
                return 0.0;
            }
            let k = ((xs.len() as f64 * q).ceil() as usize).clamp(1, xs.len());
            xs[k - 1].as_secs_f64()
        };
        Quantiles {
            p50: pick(0.5),
            p95: pick(0.95),
            max: xs.last().map_or(0.0, Duration::as_secs_f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank_and_nothing_is_zero() {
        let q = Quantiles::of((1..=100).rev().map(Duration::from_secs).collect());
        assert_eq!((q.p50, q.p95, q.max), (50.0, 95.0, 100.0));
        let none = Quantiles::of(Vec::new());
        assert_eq!((none.p50, none.p95, none.max), (0.0, 0.0, 0.0));
    }
}

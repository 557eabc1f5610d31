//! Staleness markers for series a rule stopped producing (docs/rule-semantics.md, "Staleness markers").
//!
//! After each successful evaluation, every series the rule wrote last time but not this time
//! gets a sample with Prometheus's stale-marker NaN at the evaluation timestamp. Failed
//! evaluations leave the remembered set alone (their series stay fresh until the server's
//! lookback expires). Whether tocsin writes its outputs anywhere is the runner's decision;
//! this only computes them.

use std::collections::HashSet;

use crate::labels::{Labels, Sample};

/// The bit pattern of Prometheus's stale marker (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// True for Prometheus's stale marker (an ordinary NaN is not one).
pub fn is_stale_marker(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The series one rule wrote at its last successful evaluation.
#[derive(Clone, Debug, Default)]
pub struct StaleTracker {
    previous: HashSet<Labels>,
}

impl StaleTracker {
    /// Records the series of a successful evaluation and appends a stale marker to `out`
    /// for each series of the previous one that is gone.
    pub fn update(&mut self, written: &[Sample], out: &mut Vec<Sample>) {
        let current: HashSet<Labels> = written.iter().map(|s| s.labels.clone()).collect();
        let marker = f64::from_bits(STALE_NAN_BITS);
        out.extend(
            self.previous
                .difference(&current)
                .map(|l| Sample::new(l.clone(), marker)),
        );
        self.previous = current;
    }

    /// Forgets everything, returning stale markers for all of it (a deleted rule).
    pub fn retire(&mut self, out: &mut Vec<Sample>) {
        let marker = f64::from_bits(STALE_NAN_BITS);
        out.extend(self.previous.drain().map(|l| Sample::new(l, marker)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(job: &str) -> Sample {
        Sample::new(Labels::new([("__name__", "r"), ("job", job)]), 1.0)
    }

    #[test]
    fn series_that_vanish_get_one_stale_marker() {
        let mut t = StaleTracker::default();
        let mut out = Vec::new();
        t.update(&[s("a"), s("b")], &mut out);
        assert!(out.is_empty());
        t.update(&[s("b")], &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].labels, s("a").labels);
        assert!(is_stale_marker(out[0].value));
        assert!(!is_stale_marker(f64::NAN));
        out.clear();
        t.update(&[s("b")], &mut out);
        assert!(out.is_empty(), "marked once");
        t.retire(&mut out);
        assert_eq!(out.len(), 1);
    }
}

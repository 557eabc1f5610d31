//! Per-rule health, as `/api/v1/rules` reports it.

use crate::error::RuleError;
use crate::time::Timestamp;

/// `unknown` before the first evaluation, then `ok` or `err` after each one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Health {
    #[default]
    Unknown,
    Ok,
    Err,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Ok => "ok",
            Health::Err => "err",
        }
    }
}

/// The outcome of a rule's last evaluation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleStatus {
    pub health: Health,
    /// The error of the last evaluation (`lastError`), `None` after a success.
    pub last_error: Option<RuleError>,
    /// The slot time of the last evaluation. Prometheus reports the wall time the rule
    /// started; a caller that wants that keeps it next to this.
    pub last_evaluation: Option<Timestamp>,
}

impl RuleStatus {
    pub(crate) fn record<T>(&mut self, ts: Timestamp, outcome: &Result<T, RuleError>) {
        self.last_evaluation = Some(ts);
        match outcome {
            Ok(_) => {
                self.health = Health::Ok;
                self.last_error = None;
            }
            Err(e) => {
                self.health = Health::Err;
                self.last_error = Some(e.clone());
            }
        }
    }
}

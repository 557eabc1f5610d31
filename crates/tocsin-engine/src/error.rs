//! Why a rule evaluation failed, in Prometheus's words (they become the rule's `lastError`).

use thiserror::Error;

/// A failed rule evaluation. For alerting rules none of these changes any alert's state,
/// except [`RuleError::AlertLimit`], which drops all of the rule's alerts as Prometheus does.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RuleError {
    /// The query failed; the text is the datasource's error, reported as is.
    #[error("{0}")]
    Query(String),
    #[error("rule result is not a vector or scalar")]
    NotVector,
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlertLabels,
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateRuleLabels,
    #[error("exceeded limit of {limit} with {count} alerts")]
    AlertLimit { limit: usize, count: usize },
    #[error("exceeded limit of {limit} with {count} series")]
    SeriesLimit { limit: usize, count: usize },
}

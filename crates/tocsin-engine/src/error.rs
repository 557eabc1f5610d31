//! Why a rule evaluation failed, in Prometheus's words (they become the rule's `lastError`).

use thiserror::Error;
pub use tocsin_query::ErrorKind;

/// A failed rule evaluation. For alerting rules none of these changes any alert's state,
/// except [`RuleError::AlertLimit`], which drops all of the rule's alerts as Prometheus does.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RuleError {
    /// The query failed; the text is the datasource's error, reported as is, and `kind`
    /// says what failed (a query cancelled at shutdown is no failed evaluation).
    #[error("{message}")]
    Query { kind: ErrorKind, message: Box<str> },
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

impl RuleError {
    /// A failed query of this kind.
    pub fn query(kind: ErrorKind, message: impl Into<String>) -> Self {
        RuleError::Query {
            kind,
            message: message.into().into_boxed_str(),
        }
    }

    /// A query cancelled (at shutdown): not an evaluation failure.
    pub fn is_canceled(&self) -> bool {
        matches!(
            self,
            RuleError::Query {
                kind: ErrorKind::Canceled,
                ..
            }
        )
    }
}

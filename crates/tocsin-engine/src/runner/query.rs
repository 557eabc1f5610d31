//! Running one instant query for the engine: bounded concurrency, a per-query timeout, and
//! the answer turned into the engine's samples or a rule error in Prometheus's words.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tocsin_query::{Datasource, QueryError};
use tocsin_template::TemplateContext;
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

use crate::error::{ErrorKind, RuleError};
use crate::expand::seconds;
use crate::labels::{QueryValue, Sample};
use crate::time::Timestamp;

/// Prometheus's text when a query runs past its timeout.
pub const QUERY_TIMEOUT_MESSAGE: &str = "query timed out in expression evaluation";

/// The datasource as the runner uses it.
#[derive(Clone)]
pub(crate) struct Querier {
    pub ds: Arc<dyn Datasource>,
    pub permits: Arc<Semaphore>,
    /// Zero: no timeout of our own (the datasource's still applies).
    pub timeout: Duration,
}

impl Querier {
    /// `expr` at slot `ts`, waiting for a permit first. Errors keep the datasource's kind
    /// ([`ErrorKind`]); our own timeout is [`ErrorKind::Timeout`].
    pub async fn instant(&self, expr: &str, ts: Timestamp) -> Result<Vec<Sample>, RuleError> {
        let _permit = self.permits.acquire().await.map_err(|_| {
            RuleError::query(
                ErrorKind::Canceled,
                "query canceled: the engine is stopping",
            )
        })?;
        let query = self.ds.instant_query(expr, ts.to_system_time());
        let answer = if self.timeout.is_zero() {
            query.await
        } else {
            tokio::time::timeout(self.timeout, query)
                .await
                .map_err(|_| RuleError::query(ErrorKind::Timeout, QUERY_TIMEOUT_MESSAGE))?
        };
        let result = answer.map_err(|e| RuleError::query(e.kind(), error_text(&e)))?;
        convert(result.value).into_samples()
    }
}

/// The rule's `lastError` for a failed query: the server's own message when it answered
/// with an error (what Prometheus's engine would have reported), else our description.
pub(crate) fn error_text(e: &QueryError) -> String {
    match e {
        QueryError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The client's result as the engine's [`QueryValue`]. The client decodes labels straight
/// into the engine's [`Labels`], so a vector's samples move over (an `Arc` each), without
/// re-encoding or copying label text.
pub(crate) fn convert(value: tocsin_query::QueryValue) -> QueryValue {
    match value {
        tocsin_query::QueryValue::Vector(samples) => QueryValue::Vector(
            samples
                .into_iter()
                .map(|s| Sample::new(s.labels, s.value))
                .collect(),
        ),
        tocsin_query::QueryValue::Scalar { value, .. } => QueryValue::Scalar(value),
        tocsin_query::QueryValue::String { .. } | tocsin_query::QueryValue::Matrix(_) => {
            QueryValue::Other
        }
    }
}

/// Runs template queries on the datasource from a blocking-pool thread.
pub(crate) struct BridgeContext {
    pub handle: Handle,
    pub querier: Querier,
    pub ts: Timestamp,
    /// Some template query was cancelled.
    pub canceled: AtomicBool,
}

impl TemplateContext for BridgeContext {
    fn query(&self, expr: &str) -> Result<Vec<tocsin_template::Sample>, String> {
        let samples = self
            .handle
            .block_on(self.querier.instant(expr, self.ts))
            .map_err(|e| {
                if e.is_canceled() {
                    self.canceled.store(true, Ordering::Relaxed);
                }
                e.to_string()
            })?;
        Ok(samples
            .into_iter()
            .map(|s| tocsin_template::Sample {
                labels: s
                    .labels
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                value: s.value,
            })
            .collect())
    }

    fn eval_time(&self) -> f64 {
        seconds(self.ts)
    }
}

//! An in-process [`Datasource`]: canned answers per expression, for tests and benchmarks
//! (docs/architecture.md, "Seams"). Answers can change between evaluations, depend on
//! the query time, or fail with a Prometheus error; every query is recorded with its time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tocsin_query::{
    Datasource, ErrorType, Labels, QueryError, QueryFuture, QueryResult, QueryValue, Sample,
};

use crate::runner::group::lock;
use crate::time::Timestamp;

/// What an expression answers at a time.
pub type Answer = Arc<dyn Fn(Timestamp) -> Result<Vec<(Labels, f64)>, String> + Send + Sync>;

/// Canned instant-query answers by expression text. Unknown expressions answer an empty
/// vector.
#[derive(Default)]
pub struct MemorySource {
    answers: Mutex<HashMap<String, Answer>>,
    queries: Mutex<Vec<(String, Timestamp)>>,
}

impl MemorySource {
    pub fn new() -> Self {
        Self::default()
    }

    /// `expr` answers these series (name/value pairs, value) from now on.
    pub fn set<'a>(
        &self,
        expr: &str,
        series: impl IntoIterator<Item = (&'a [(&'a str, &'a str)], f64)>,
    ) {
        let series: Vec<(Labels, f64)> = series
            .into_iter()
            .map(|(labels, v)| (labels.iter().copied().collect(), v))
            .collect();
        self.set_fn(expr, move |_| Ok(series.clone()));
    }

    /// `expr` answers whatever `f` returns for the query time; `Err(message)` becomes a
    /// Prometheus `execution` error with that message.
    pub fn set_fn(
        &self,
        expr: &str,
        f: impl Fn(Timestamp) -> Result<Vec<(Labels, f64)>, String> + Send + Sync + 'static,
    ) {
        lock(&self.answers).insert(expr.to_string(), Arc::new(f));
    }

    /// `expr` fails with a Prometheus `execution` error saying `message`.
    pub fn fail(&self, expr: &str, message: &str) {
        let message = message.to_string();
        self.set_fn(expr, move |_| Err(message.clone()));
    }

    /// Every query so far: expression and query time.
    pub fn queries(&self) -> Vec<(String, Timestamp)> {
        lock(&self.queries).clone()
    }

    fn answer(&self, expr: &str, at: SystemTime) -> Result<QueryResult, QueryError> {
        let ts = Timestamp::from_system_time(at);
        lock(&self.queries).push((expr.to_string(), ts));
        let answer = lock(&self.answers).get(expr).cloned();
        let series = match answer {
            Some(f) => f(ts).map_err(|message| QueryError::Api {
                endpoint: "memory".into(),
                status: 422,
                error_type: ErrorType::Execution,
                message,
                warnings: Vec::new(),
            })?,
            None => Vec::new(),
        };
        Ok(QueryResult {
            value: QueryValue::Vector(
                series
                    .into_iter()
                    .map(|(labels, value)| Sample {
                        labels,
                        timestamp_ms: ts.unix_millis(),
                        value,
                    })
                    .collect(),
            ),
            warnings: Vec::new(),
        })
    }
}

impl Datasource for MemorySource {
    fn instant_query<'a>(&'a self, expr: &'a str, at: SystemTime) -> QueryFuture<'a> {
        Box::pin(std::future::ready(self.answer(expr, at)))
    }
}

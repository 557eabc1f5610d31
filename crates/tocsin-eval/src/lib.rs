//! A PromQL evaluator with Prometheus **2.42**'s semantics over an in-memory series
//! store ([`Storage`]), on `tocsin-promql`'s syntax tree. It is a pure library: no I/O,
//! time is passed in. `tocsin test rules` runs promtool's unit tests on it, and the
//! conformance test (`tests/conformance.rs`) runs Prometheus v2.42.0's own engine tests
//! (`testdata/promql-conformance/`) against it.
//!
//! Covered: instant and range evaluation, the 5-minute lookback delta and staleness
//! markers, `offset` and `@` (including `start()`/`end()`), subqueries, every 2.42
//! function, every aggregation, binary operators with `bool`, `on`/`ignoring`,
//! `group_left`/`group_right` and the set operators, with Prometheus's error messages.
//!
//! Not covered: native histograms (experimental in 2.42). The store holds float samples
//! only, so `histogram_count`, `histogram_sum` and `histogram_fraction` always return
//! an empty vector, as they do in Prometheus for float series.
//!
//! Design: the evaluator follows Prometheus's engine (`promql/engine.go`): every node is
//! evaluated over all steps into a matrix, and step functions combine the per-step
//! vectors, so ordering, label handling and the errors raised across steps match.
//! `@` is applied directly (a selector under `@ t` reads at `t - offset`), which gives
//! the results Prometheus's step-invariant rewriting gives.

mod aggregate;
mod binop;
mod engine;
mod functions;
mod gosort;
pub mod labels;
pub mod series_desc;
mod storage;

pub use engine::{Engine, Sample, Series, Value};
pub use labels::Labels;
pub use storage::{is_stale_nan, stale_nan, Point, Storage, StoredSeries, STALE_NAN_BITS};

/// An evaluation error; `Display` is Prometheus's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

impl EvalError {
    pub(crate) fn new(msg: impl Into<String>) -> EvalError {
        EvalError(msg.into())
    }
}

/// A sample the store refuses, worded as the TSDB appender's errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("out of order sample")]
    OutOfOrder,
    #[error("duplicate sample for timestamp")]
    Duplicate,
}

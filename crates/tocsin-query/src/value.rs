//! Query results: what `/api/v1/query` and `/api/v1/query_range` return.

use tocsin_core::Labels;

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels (`__name__` present or not, as the server sent it).
    pub labels: Labels,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The value; `NaN`, `+Inf` and `-Inf` arrive as such.
    pub value: f64,
}

/// One point of a range-vector series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The value.
    pub value: f64,
}

/// One series of a matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Points in time order.
    pub points: Vec<Point>,
}

/// `data.result` by `data.resultType`.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryValue {
    /// `vector`.
    Vector(Vec<Sample>),
    /// `scalar`.
    Scalar {
        /// Milliseconds since the Unix epoch.
        timestamp_ms: i64,
        /// The value.
        value: f64,
    },
    /// `string`.
    String {
        /// Milliseconds since the Unix epoch.
        timestamp_ms: i64,
        /// The string.
        value: String,
    },
    /// `matrix`.
    Matrix(Vec<Series>),
}

impl QueryValue {
    /// `vector`, `scalar`, `string` or `matrix`: the wire name of the type.
    pub fn type_name(&self) -> &'static str {
        match self {
            QueryValue::Vector(_) => "vector",
            QueryValue::Scalar { .. } => "scalar",
            QueryValue::String { .. } => "string",
            QueryValue::Matrix(_) => "matrix",
        }
    }

    /// What a rule evaluation makes of a result, as Prometheus's rule manager does: a
    /// vector as is, a scalar as one sample with empty labels; `None` for string and
    /// matrix results (the caller's "rule result is not a vector or scalar" error).
    pub fn into_samples(self) -> Option<Vec<Sample>> {
        match self {
            QueryValue::Vector(v) => Some(v),
            QueryValue::Scalar {
                timestamp_ms,
                value,
            } => Some(vec![Sample {
                labels: Labels::empty(),
                timestamp_ms,
                value,
            }]),
            QueryValue::String { .. } | QueryValue::Matrix(_) => None,
        }
    }
}

/// A successful query answer.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The result.
    pub value: QueryValue,
    /// `warnings` from the response (empty when none). Prometheus's own rule engine
    /// ignores them; they are kept for `shadow` reports.
    pub warnings: Vec<String>,
}

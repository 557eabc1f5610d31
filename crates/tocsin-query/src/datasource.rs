//! [`Datasource`]: what the engine needs from a query backend.
//!
//! The trait is object-safe: methods return a boxed future ([`QueryFuture`]) instead of
//! being `async fn`. The binary picks the implementation at run time (HTTP client,
//! recorded/replayed source, in-process source for benchmarks) and the engine holds an
//! `Arc<dyn Datasource>` without a type parameter spreading through its types. The cost,
//! one allocation per query, is noise next to an HTTP round trip or a PromQL evaluation.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use crate::client::PrometheusClient;
use crate::error::QueryError;
use crate::value::QueryResult;

/// The future a [`Datasource`] returns.
pub type QueryFuture<'a> =
    Pin<Box<dyn Future<Output = Result<QueryResult, QueryError>> + Send + 'a>>;

/// A source of instant-query results.
pub trait Datasource: Send + Sync {
    /// Evaluates `expr` at `at` (the rule group's slot time, ms precision on the wire).
    fn instant_query<'a>(&'a self, expr: &'a str, at: SystemTime) -> QueryFuture<'a>;
}

impl Datasource for PrometheusClient {
    fn instant_query<'a>(&'a self, expr: &'a str, at: SystemTime) -> QueryFuture<'a> {
        Box::pin(PrometheusClient::instant_query(self, expr, at))
    }
}

impl<T: Datasource + ?Sized> Datasource for Arc<T> {
    fn instant_query<'a>(&'a self, expr: &'a str, at: SystemTime) -> QueryFuture<'a> {
        (**self).instant_query(expr, at)
    }
}

impl<T: Datasource + ?Sized> Datasource for Box<T> {
    fn instant_query<'a>(&'a self, expr: &'a str, at: SystemTime) -> QueryFuture<'a> {
        (**self).instant_query(expr, at)
    }
}

impl<T: Datasource + ?Sized> Datasource for &T {
    fn instant_query<'a>(&'a self, expr: &'a str, at: SystemTime) -> QueryFuture<'a> {
        (**self).instant_query(expr, at)
    }
}

//! Prometheus HTTP API client for tocsin.
//!
//! This crate owns everything tocsin says to a Prometheus-compatible server: instant and
//! range queries, the rules/alerts/buildinfo endpoints, authentication, TLS, timeouts and
//! retries, and the decoding of results. It knows nothing about rule files or alerts; the
//! engine hands it PromQL strings and evaluation timestamps.
//!
//! # Pieces
//!
//! - [`Datasource`] is the seam the engine evaluates against. [`PrometheusClient`]
//!   implements it over HTTP; tests and benchmarks provide their own implementations.
//! - [`PrometheusClient`] speaks `/api/v1/query` (POST, form-encoded, `time` in Unix
//!   seconds with millisecond precision), `/api/v1/query_range`, `/api/v1/rules`,
//!   `/api/v1/alerts` and `/api/v1/status/buildinfo` (and, for `tocsin check
//!   --datasource`, `/api/v1/status/config`, `/api/v1/metadata` and `/api/v1/labels`),
//!   on one pooled keep-alive `reqwest` client with rustls on the `ring` provider. Each
//!   attempt has a timeout (also sent to the server as `timeout`); connection failures,
//!   timeouts and 5xx answers are retried with exponential backoff and jitter, all
//!   within an overall deadline; 4xx answers (`bad_data`, `execution`) never are.
//! - [`QueryError`] keeps Prometheus's `errorType`, message and HTTP status. Error text
//!   never contains credentials: URL userinfo is turned into basic auth and stripped,
//!   header values and secrets are never formatted, and [`Secret`]'s `Debug` is redacted.
//! - Results ([`QueryResult`], [`QueryValue`]) are decoded in one streaming serde pass
//!   without `serde_json::Value`; labels decode straight into the engine's [`Labels`]
//!   (`tocsin-core`: sorted, one `Arc`, Prometheus's fingerprint, O(1) clone), so a query
//!   answer reaches the alert state machine without being re-encoded.
//! - [`RemoteWriteClient`] ([`remote_write`]) pushes recording-rule results and `ALERTS`
//!   series into Prometheus with the remote-write protocol (protobuf + snappy), on the
//!   same URL/header/auth/TLS handling as the query client, in batches of at most 500
//!   series, retrying 5xx/429/connection failures and surfacing the server's message for
//!   permanent 4xx rejections. [`RemoteWriteQueue`] sits in front of it for a caller that
//!   must not wait on the network (the rule engine): one task sends the queued samples in
//!   order, each request encoded once and retried until it lands, with a bound on what
//!   waits while the receiver is down.
//! - [`HttpClientConfig`] is the one set of connection settings both clients take (URL,
//!   headers, basic/bearer auth from values or files, TLS, timeouts, retries), and the
//!   place of their defaults: [`DEFAULT_QUERY_TIMEOUT`] (Prometheus's `--query.timeout`)
//!   and [`DEFAULT_REMOTE_WRITE_TIMEOUT`] (its `remote_timeout`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), tocsin_query::QueryError> {
//! use std::time::SystemTime;
//! use tocsin_query::{HttpClientConfig, Datasource, PrometheusClient};
//!
//! let client = PrometheusClient::new(HttpClientConfig::new("http://127.0.0.1:9090"))?;
//! let result = Datasource::instant_query(&client, "up == 0", SystemTime::now()).await?;
//! for sample in result.value.into_samples().unwrap_or_default() {
//!     println!("{} {}", sample.labels, sample.value);
//! }
//! # Ok(()) }
//! ```

mod api;
mod client;
mod config;
mod datasource;
mod decode;
mod error;
mod range;
pub mod remote_write;
mod status;
mod tls;
mod transport;
mod value;

pub use api::{
    Alert, AlertState, AlertingRule, BuildInfo, RecordingRule, Rule, RuleGroup, RuleHealth,
    RuleKind,
};
pub use client::PrometheusClient;
pub use config::{
    redact_url, Auth, BasicAuth, HttpClientConfig, RetryPolicy, Secret, SecretSource, TlsConfig,
    DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_QUERY_TIMEOUT, DEFAULT_REMOTE_WRITE_TIMEOUT,
};
pub use datasource::{Datasource, QueryFuture};
pub use decode::decode_query_response;
pub use error::{ErrorKind, ErrorType, QueryError};
pub use range::QueryStats;
pub use remote_write::{
    RemoteWriteClient, RemoteWriteConfig, RemoteWriteError, RemoteWriteQueue, WriteQueueStats,
};
pub use status::MetricMetadata;
pub use tocsin_core::{write_label_set, Labels, LabelsBuilder};
pub use value::{Point, QueryResult, QueryValue, Sample, Series};

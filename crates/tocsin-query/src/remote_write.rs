//! Prometheus remote write (protocol 0.1.0): recording-rule results and `ALERTS` series
//! pushed into Prometheus.
//!
//! # Why it looks like this
//!
//! A rule evaluator that is not Prometheus cannot append to Prometheus's TSDB; remote write
//! is the one ingestion path Prometheus 2.42 offers (`--web.enable-remote-write-receiver`,
//! `POST /api/v1/write`). The protocol is a protobuf `WriteRequest`, compressed with snappy's
//! *block* format (not the framed/stream format), sent with `Content-Encoding: snappy`,
//! `Content-Type: application/x-protobuf` and `X-Prometheus-Remote-Write-Version: 0.1.0`.
//!
//! - **No protoc, no generated code.** Only four messages of `prompb` are needed, so they
//!   are written here by hand as [`prost::Message`] derives ([`WriteRequest`],
//!   [`TimeSeries`], [`Label`], [`Sample`]) with the field numbers of `remote.proto` and
//!   `types.proto`. They are the schema: tests and receivers decode with them.
//! - **Encoding writes bytes straight from [`Labels`]s.** Building the derived structs
//!   for 10,000 series would copy every label name and value into a fresh `String` (about
//!   150,000 allocations per write) just to serialise them once. [`encode_write_request`]
//!   emits the identical wire format from borrowed labels into one buffer; a unit test
//!   checks it byte for byte against prost's own encoding of the derived structs.
//! - **Values are bit-exact.** Doubles are written as their 8 IEEE-754 bytes, so
//!   Prometheus's staleness marker ([`STALE_NAN_BITS`], a NaN with a particular payload)
//!   survives and makes the series disappear from later queries, while an ordinary NaN
//!   stays a NaN sample. `-0.0` is written too (prost would drop it as the default value).
//! - **Batches of at most 500 series** ([`DEFAULT_MAX_SERIES_PER_REQUEST`], Prometheus's
//!   `max_samples_per_send`) keep request bodies and the receiver's per-request work
//!   bounded. Prometheus appends one request in one transaction and rolls it back whole on
//!   the first out-of-order sample, so one bad series costs only its own batch.
//! - **Retries like Prometheus's sender**: 5xx, 429 and connection failures are retried
//!   with exponential backoff and jitter inside the call's deadline; any other 4xx is
//!   permanent (a 400 for an out-of-order sample will never succeed) and carries the
//!   server's message.
//! - **Same settings as the query client.** [`RemoteWriteConfig::http`] is the
//!   [`HttpClientConfig`] the datasource takes: URL userinfo, headers, basic/bearer auth
//!   from values or files and TLS are handled by the code [`crate::PrometheusClient`] uses,
//!   with the same guarantee: no password, token or header value in any error or `Debug`
//!   output.
//! - **A queue for callers that must not wait** ([`RemoteWriteQueue`], in `queue.rs`): one
//!   task sends queued samples in order, each request encoded once into a shared buffer and
//!   retried until it lands, with a documented bound on what waits while the receiver is
//!   down.

use std::fmt;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{CONTENT_ENCODING, CONTENT_TYPE};

use crate::config::{HttpClientConfig, RetryPolicy, DEFAULT_REMOTE_WRITE_TIMEOUT};
use crate::error::QueryError;
use crate::transport::{backoff, transport_error, Transport};
use tocsin_core::Labels;

mod queue;
pub use queue::{RemoteWriteQueue, WriteQueueStats, DEFAULT_FLUSH_WAIT, DEFAULT_QUEUE_CAPACITY};

/// prost's trait for encoding and decoding the messages below, re-exported so callers
/// (receivers, tests, benchmarks) need no prost dependency of their own.
pub use prost::Message;

/// The bit pattern of Prometheus's staleness marker (`value.StaleNaN`). Writing a sample
/// with `f64::from_bits(STALE_NAN_BITS)` ends the series: instant queries after it no
/// longer return the series, instead of repeating its last value for 5 minutes.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Prometheus's `max_samples_per_send` default; the default batch size.
pub const DEFAULT_MAX_SERIES_PER_REQUEST: usize = 500;

/// `prompb.WriteRequest` (remote.proto). Only `timeseries` (field 1): tocsin sends no
/// metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    /// The series, each with its samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prompb.TimeSeries` (types.proto). Labels sorted by name, `__name__` included.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Labels, sorted by name, names unique.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Samples in timestamp order.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prompb.Label`.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prompb.Sample`.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    /// The value (`double`).
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the Unix epoch (`int64`).
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// One sample to write: its series' labels, the value and the timestamp in Unix
/// milliseconds.
pub type WriteSample = (Labels, f64, i64);

/// Why a remote write failed. No variant holds a password, token or header value;
/// endpoints are named without userinfo or query string.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteWriteError {
    /// A 4xx other than 429: the receiver refused the request and will refuse it again
    /// (out-of-order or duplicate samples, bad labels, authentication). Not retried.
    #[error("remote write rejected: HTTP {status} from {endpoint}: {message}")]
    Rejected {
        /// `POST <url>`.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The server's answer (at most 512 bytes, lossy UTF-8, trimmed), e.g.
        /// Prometheus's `out of order sample`.
        message: String,
    },
    /// A 5xx or 429 that was still failing when retries or the deadline ran out.
    #[error("remote write failed: HTTP {status} from {endpoint}: {message}")]
    Server {
        /// The endpoint.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the answer.
        message: String,
    },
    /// Could not connect (refused, DNS, TLS handshake).
    #[error("cannot connect to {endpoint}: {message}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The cause chain.
        message: String,
    },
    /// No answer within the per-attempt timeout (or what was left of the deadline).
    #[error("{endpoint} did not answer within {timeout:?}")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The time allowed for the attempt.
        timeout: Duration,
    },
    /// The connection failed after it was made.
    #[error("request to {endpoint} failed: {message}")]
    Transport {
        /// The endpoint.
        endpoint: String,
        /// The cause chain.
        message: String,
    },
    /// A series cannot be written (checked before anything is sent).
    #[error("series {index} cannot be remote-written: {reason}")]
    InvalidSeries {
        /// Its index in the slice given to [`RemoteWriteClient::write`].
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Snappy compression failed (only for bodies beyond snappy's size limit).
    #[error("cannot compress the write request: {0}")]
    Compress(String),
    /// The client could not be built (bad URL, header, CA/cert/key file).
    #[error("invalid remote_write configuration: {0}")]
    Config(String),
    /// A password or token file could not be read (the path is named, never the content).
    #[error("cannot read credentials: {0}")]
    Credentials(String),
}

impl RemoteWriteError {
    /// Whether the same request may succeed later: connection failures, timeouts,
    /// transport errors, 5xx and 429.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            RemoteWriteError::Server { .. }
                | RemoteWriteError::Connect { .. }
                | RemoteWriteError::Timeout { .. }
                | RemoteWriteError::Transport { .. }
        )
    }

    /// The HTTP status code, when the server answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            RemoteWriteError::Rejected { status, .. } | RemoteWriteError::Server { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}

/// The shared transport speaks [`QueryError`]; only these variants come out of it.
impl From<QueryError> for RemoteWriteError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Config(m) => RemoteWriteError::Config(m),
            QueryError::Credentials(m) => RemoteWriteError::Credentials(m),
            QueryError::Connect { endpoint, message } => {
                RemoteWriteError::Connect { endpoint, message }
            }
            QueryError::Timeout { endpoint, timeout } => {
                RemoteWriteError::Timeout { endpoint, timeout }
            }
            QueryError::Transport { endpoint, message } => {
                RemoteWriteError::Transport { endpoint, message }
            }
            QueryError::Api {
                endpoint,
                status,
                message,
                ..
            } => status_error(endpoint, status, message),
            QueryError::Http {
                endpoint,
                status,
                body,
            } => status_error(endpoint, status, body),
            QueryError::Decode { endpoint, message } => {
                RemoteWriteError::Transport { endpoint, message }
            }
            e @ QueryError::TooLarge { .. } => {
                let message = e.to_string();
                let QueryError::TooLarge { endpoint, .. } = e else {
                    unreachable!("matched above")
                };
                RemoteWriteError::Transport { endpoint, message }
            }
        }
    }
}

fn status_error(endpoint: String, status: u16, message: String) -> RemoteWriteError {
    if status >= 500 || status == 429 {
        RemoteWriteError::Server {
            endpoint,
            status,
            message,
        }
    } else {
        RemoteWriteError::Rejected {
            endpoint,
            status,
            message,
        }
    }
}

/// Everything [`RemoteWriteClient::new`] needs; Prometheus's `remote_write` entry. The
/// connection settings are the datasource's type, so both take the same auth and TLS
/// options; its `Debug` redacts the URL's password and all header values.
#[derive(Clone, Debug)]
pub struct RemoteWriteConfig {
    /// The full write endpoint (e.g. `http://prometheus:9090/api/v1/write`; a query
    /// string is kept), headers, auth, TLS, retries of one request. `timeout` is the time
    /// for one attempt, `deadline` for a whole [`RemoteWriteClient::write`] (all batches,
    /// retries and backoff).
    pub http: HttpClientConfig,
    /// Most series in one request (default [`DEFAULT_MAX_SERIES_PER_REQUEST`]; 0 means 1).
    pub max_series_per_request: usize,
}

impl RemoteWriteConfig {
    /// Defaults for `url`: [`DEFAULT_REMOTE_WRITE_TIMEOUT`] per attempt, twice that per
    /// write, 3 retries, [`DEFAULT_MAX_SERIES_PER_REQUEST`] series per request, no auth.
    pub fn new(url: impl Into<String>) -> RemoteWriteConfig {
        RemoteWriteConfig::from_http(
            HttpClientConfig::new(url).with_timeout(DEFAULT_REMOTE_WRITE_TIMEOUT),
        )
    }

    /// Remote write over `http` as given, [`DEFAULT_MAX_SERIES_PER_REQUEST`] series per
    /// request.
    pub fn from_http(http: HttpClientConfig) -> RemoteWriteConfig {
        RemoteWriteConfig {
            http,
            max_series_per_request: DEFAULT_MAX_SERIES_PER_REQUEST,
        }
    }
}

/// A remote-write client: one pooled keep-alive connection set, batches sent in order.
pub struct RemoteWriteClient {
    transport: Transport,
    /// The URL without userinfo (query string kept: some receivers want one).
    url: String,
    /// `POST <url without query>`, for errors.
    endpoint: String,
    timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
    max_series: usize,
}

impl fmt::Debug for RemoteWriteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteWriteClient")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("max_series_per_request", &self.max_series)
            .finish_non_exhaustive()
    }
}

impl RemoteWriteClient {
    /// Builds the client. Fails on a bad URL, header, CA/cert/key file; credential files
    /// are read per request.
    pub fn new(config: RemoteWriteConfig) -> Result<RemoteWriteClient, RemoteWriteError> {
        let http = config.http;
        let transport = Transport::new(&http.url, &http.headers, http.auth, &http.tls, true)?;
        let url = transport.url.as_str().to_string();
        let mut bare = transport.url.clone();
        bare.set_query(None);
        Ok(RemoteWriteClient {
            endpoint: format!("POST {bare}"),
            url,
            transport,
            timeout: http.timeout,
            deadline: http.deadline,
            retry: http.retry,
            max_series: config.max_series_per_request.max(1),
        })
    }

    /// `POST <url>` (userinfo and query string removed), as errors name it.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Writes one sample per entry, in requests of at most `max_series_per_request`
    /// series, sent one after another in slice order.
    ///
    /// Every series is checked before anything is sent ([`RemoteWriteError::InvalidSeries`]
    /// for an empty label set). A batch the server rejects permanently
    /// ([`RemoteWriteError::Rejected`]) is dropped — Prometheus rolled it back whole — and
    /// the remaining batches are still sent, since their samples are independent; the first
    /// rejection is returned at the end. Any other failure (server down, retries or
    /// deadline exhausted) stops the write: later batches would fail the same way. Either
    /// way, batches before the failing one were written.
    pub async fn write(&self, series: &[WriteSample]) -> Result<(), RemoteWriteError> {
        validate(series)?;
        let deadline = Instant::now() + self.deadline;
        let mut first_rejection = None;
        let mut buf = Vec::new();
        for batch in series.chunks(self.max_series) {
            let body = encode_compressed(batch, &mut buf)?;
            match self.send(&body, deadline).await {
                Ok(()) => {}
                Err(e @ RemoteWriteError::Rejected { .. }) => {
                    first_rejection.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        match first_rejection {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Most series in one request.
    pub fn max_series_per_request(&self) -> usize {
        self.max_series
    }

    /// Sends one request made by [`encode_batch`], with the retries and deadline of one
    /// [`RemoteWriteClient::write`]. The body is shared, not copied, by every attempt.
    pub async fn write_encoded(&self, request: &EncodedRequest) -> Result<(), RemoteWriteError> {
        self.send(&request.body, Instant::now() + self.deadline)
            .await
    }

    /// Sends one compressed `WriteRequest`, retrying until it succeeds, fails for good,
    /// retries run out or the deadline would pass.
    async fn send(&self, body: &Bytes, deadline: Instant) -> Result<(), RemoteWriteError> {
        let mut retries = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let timeout = self.timeout.min(remaining);
            let err = match self.attempt(body, timeout).await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if !err.is_retryable() || retries >= self.retry.max_retries {
                return Err(err);
            }
            let pause = backoff(&self.retry, retries);
            if Instant::now() + pause + Duration::from_millis(1) >= deadline {
                return Err(err);
            }
            tokio::time::sleep(pause).await;
            retries += 1;
        }
    }

    async fn attempt(&self, body: &Bytes, timeout: Duration) -> Result<(), RemoteWriteError> {
        if timeout.is_zero() {
            return Err(RemoteWriteError::Timeout {
                endpoint: self.endpoint.clone(),
                timeout,
            });
        }
        let req = self
            .transport
            .http
            .post(&self.url)
            .header(CONTENT_ENCODING, "snappy")
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            // A reference-counted handle on the same bytes: retries copy nothing.
            .body(body.clone())
            .timeout(timeout);
        let resp = self
            .transport
            .authorize(req)?
            .send()
            .await
            .map_err(|e| transport_error(e, &self.endpoint, timeout))?;
        let status = resp.status();
        if status.is_success() {
            // Drain the (empty) body so the connection goes back to the pool; a server
            // that sends more than a little is not waited for.
            let _ = tocsin_wire::read_prefix(resp, MESSAGE_BYTES).await;
            return Ok(());
        }
        let text = tocsin_wire::read_prefix(resp, MESSAGE_BYTES).await;
        Err(status_error(
            self.endpoint.clone(),
            status.as_u16(),
            self.transport.redact(&message_of(&text)),
        ))
    }
}

/// How much of an answer is read for its message.
const MESSAGE_BYTES: usize = 512;

/// The start of an error answer: at most 512 bytes, lossy UTF-8, whitespace trimmed.
fn message_of(body: &[u8]) -> String {
    let cut = &body[..body.len().min(MESSAGE_BYTES)];
    String::from_utf8_lossy(cut).trim().to_string()
}

fn validate(series: &[WriteSample]) -> Result<(), RemoteWriteError> {
    for (index, (labels, _, _)) in series.iter().enumerate() {
        if labels.iter().all(|(_, v)| v.is_empty()) {
            return Err(RemoteWriteError::InvalidSeries {
                index,
                reason: "no labels with a value",
            });
        }
    }
    Ok(())
}

/// One `WriteRequest`, protobuf-encoded and snappy-compressed, ready to be sent (and
/// re-sent) by [`RemoteWriteClient::write_encoded`] without copying.
#[derive(Debug, Clone)]
pub struct EncodedRequest {
    body: Bytes,
    series: usize,
}

impl EncodedRequest {
    /// How many series (one sample each) it carries.
    pub fn series(&self) -> usize {
        self.series
    }

    /// The compressed body's size in bytes.
    pub fn len(&self) -> usize {
        self.body.len()
    }

    /// Whether the body is empty (never, for a request made by [`encode_batch`]).
    pub fn is_empty(&self) -> bool {
        self.body.is_empty()
    }
}

/// Checks and encodes `batch` as one request. Fails on a series that cannot be written
/// ([`RemoteWriteError::InvalidSeries`]) or on compression.
pub fn encode_batch(batch: &[WriteSample]) -> Result<EncodedRequest, RemoteWriteError> {
    validate(batch)?;
    Ok(EncodedRequest {
        body: encode_compressed(batch, &mut Vec::new())?,
        series: batch.len(),
    })
}

/// `batch` encoded into `buf` (cleared first) and compressed.
fn encode_compressed(batch: &[WriteSample], buf: &mut Vec<u8>) -> Result<Bytes, RemoteWriteError> {
    buf.clear();
    encode_write_request_into(batch, buf);
    compress(buf).map(Bytes::from)
}

/// Snappy block compression (what remote write's `Content-Encoding: snappy` means; the
/// framed format is not accepted).
pub fn compress(protobuf: &[u8]) -> Result<Vec<u8>, RemoteWriteError> {
    snap::raw::Encoder::new()
        .compress_vec(protobuf)
        .map_err(|e| RemoteWriteError::Compress(e.to_string()))
}

/// The protobuf bytes of a `WriteRequest` with one `TimeSeries` (one sample) per entry.
/// See [`encode_write_request_into`].
pub fn encode_write_request(series: &[WriteSample]) -> Vec<u8> {
    let mut buf = Vec::new();
    encode_write_request_into(series, &mut buf);
    buf
}

/// Appends the protobuf bytes of a `WriteRequest` to `buf`, one `TimeSeries` with one
/// `Sample` per entry, in order. Labels are written in [`Labels`] order (sorted by name);
/// labels with an empty value are left out, as Prometheus treats them as absent. The bytes
/// are what prost encodes for the equivalent [`WriteRequest`], except that `-0.0` is kept
/// (prost omits it as the field default, which would turn it into `+0.0`).
pub fn encode_write_request_into(series: &[WriteSample], buf: &mut Vec<u8>) {
    const TIMESERIES: u8 = 1 << 3 | 2; // WriteRequest.timeseries, length-delimited
    const LABELS: u8 = 1 << 3 | 2; // TimeSeries.labels
    const SAMPLES: u8 = 2 << 3 | 2; // TimeSeries.samples
    const NAME: u8 = 1 << 3 | 2; // Label.name
    const VALUE: u8 = 2 << 3 | 2; // Label.value
    const DOUBLE: u8 = 1 << 3 | 1; // Sample.value, 64-bit
    const INT64: u8 = 2 << 3; // Sample.timestamp, varint

    buf.reserve(series.len() * 128);
    for (labels, value, timestamp) in series {
        let sample_len = sample_len(*value, *timestamp);
        let mut series_len = 1 + varint_len(sample_len as u64) + sample_len;
        for (n, v) in labels.iter().filter(|(_, v)| !v.is_empty()) {
            let l = label_len(n, v);
            series_len += 1 + varint_len(l as u64) + l;
        }
        buf.push(TIMESERIES);
        put_varint(buf, series_len as u64);
        for (n, v) in labels.iter().filter(|(_, v)| !v.is_empty()) {
            buf.push(LABELS);
            put_varint(buf, label_len(n, v) as u64);
            if !n.is_empty() {
                buf.push(NAME);
                put_varint(buf, n.len() as u64);
                buf.extend_from_slice(n.as_bytes());
            }
            buf.push(VALUE);
            put_varint(buf, v.len() as u64);
            buf.extend_from_slice(v.as_bytes());
        }
        buf.push(SAMPLES);
        put_varint(buf, sample_len as u64);
        if value.to_bits() != 0 {
            buf.push(DOUBLE);
            buf.extend_from_slice(&value.to_bits().to_le_bytes());
        }
        if *timestamp != 0 {
            buf.push(INT64);
            put_varint(buf, *timestamp as u64);
        }
    }
}

fn label_len(name: &str, value: &str) -> usize {
    let field = |s: &str| {
        if s.is_empty() {
            0
        } else {
            1 + varint_len(s.len() as u64) + s.len()
        }
    };
    field(name) + field(value)
}

fn sample_len(value: f64, timestamp: i64) -> usize {
    let v = if value.to_bits() != 0 { 9 } else { 0 };
    let t = if timestamp != 0 {
        1 + varint_len(timestamp as u64)
    } else {
        0
    };
    v + t
}

fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits; 0 takes one byte.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn ls(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().copied().collect()
    }

    fn derived(series: &[WriteSample]) -> WriteRequest {
        WriteRequest {
            timeseries: series
                .iter()
                .map(|(labels, value, timestamp)| TimeSeries {
                    labels: labels
                        .iter()
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(n, v)| Label {
                            name: n.to_string(),
                            value: v.to_string(),
                        })
                        .collect(),
                    samples: vec![Sample {
                        value: *value,
                        timestamp: *timestamp,
                    }],
                })
                .collect(),
        }
    }

    fn sample_series() -> Vec<WriteSample> {
        let long = "x".repeat(300);
        vec![
            (
                ls(&[("__name__", "job:up:sum"), ("job", "flink"), ("a", "é\"\n")]),
                1.5,
                1_700_000_000_123,
            ),
            (ls(&[("__name__", "inf")]), f64::INFINITY, 1),
            (ls(&[("__name__", "tiny")]), 1e-300, i64::MAX),
            (ls(&[("__name__", "zero")]), 0.0, 0),
            (ls(&[("__name__", "neg_time")]), -2.0, -1),
            (ls(&[("__name__", "long"), ("v", &long)]), f64::MIN, 5),
            (
                ls(&[("__name__", "stale")]),
                f64::from_bits(STALE_NAN_BITS),
                7,
            ),
        ]
    }

    #[test]
    fn encoding_is_byte_identical_to_prost_for_the_derived_messages() {
        let series = sample_series();
        assert_eq!(
            encode_write_request(&series),
            derived(&series).encode_to_vec()
        );
    }

    #[test]
    fn encoded_bytes_decode_back_to_the_same_series_with_sorted_labels() {
        let series = sample_series();
        let decoded = WriteRequest::decode(encode_write_request(&series).as_slice()).unwrap();
        assert_eq!(decoded.timeseries.len(), series.len());
        for (ts, (labels, value, timestamp)) in decoded.timeseries.iter().zip(&series) {
            let names: Vec<&str> = ts.labels.iter().map(|l| l.name.as_str()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted);
            let back: Labels = ts.labels.iter().map(|l| (&l.name, &l.value)).collect();
            assert_eq!(&back, labels);
            assert_eq!(ts.samples.len(), 1);
            assert_eq!(ts.samples[0].value.to_bits(), value.to_bits());
            assert_eq!(ts.samples[0].timestamp, *timestamp);
        }
        assert_eq!(decoded.timeseries[0].labels[0].name, "__name__");
    }

    #[test]
    fn staleness_marker_and_negative_zero_keep_their_bits() {
        let stale = f64::from_bits(STALE_NAN_BITS);
        let plain_nan = f64::NAN;
        let series = vec![
            (ls(&[("__name__", "a")]), stale, 1),
            (ls(&[("__name__", "b")]), plain_nan, 1),
            (ls(&[("__name__", "c")]), -0.0, 1),
        ];
        let decoded = WriteRequest::decode(encode_write_request(&series).as_slice()).unwrap();
        let bits: Vec<u64> = decoded
            .timeseries
            .iter()
            .map(|t| t.samples[0].value.to_bits())
            .collect();
        assert_eq!(
            bits,
            [STALE_NAN_BITS, plain_nan.to_bits(), (-0.0f64).to_bits()]
        );
        assert_ne!(bits[0], bits[1]);
    }

    #[test]
    fn labels_with_empty_values_are_left_out() {
        let series = vec![(ls(&[("__name__", "m"), ("gone", "")]), 1.0, 1)];
        let decoded = WriteRequest::decode(encode_write_request(&series).as_slice()).unwrap();
        let names: Vec<&str> = decoded.timeseries[0]
            .labels
            .iter()
            .map(|l| l.name.as_str())
            .collect();
        assert_eq!(names, ["__name__"]);
        assert!(validate(&[(ls(&[("only", "")]), 1.0, 1)]).is_err());
        assert!(validate(&[(Labels::empty(), 1.0, 1)]).is_err());
        assert!(validate(&series).is_ok());
    }

    #[test]
    fn snappy_block_format_round_trips() {
        let series: Vec<WriteSample> = (0..1000)
            .map(|i| {
                let inst = format!("10.0.{}.{}:9249", i / 256, i % 256);
                (
                    ls(&[("__name__", "flink_up"), ("instance", &inst)]),
                    i as f64,
                    1_700_000_000_000 + i,
                )
            })
            .collect();
        let raw = encode_write_request(&series);
        let body = compress(&raw).unwrap();
        assert!(
            body.len() < raw.len() / 2,
            "{} vs {}",
            body.len(),
            raw.len()
        );
        // Block format: no stream identifier chunk ("\xff\x06\x00\x00sNaPpY").
        assert_ne!(body.first(), Some(&0xff));
        let back = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        assert_eq!(back, raw);
    }

    #[test]
    fn varints_match_protobuf_lengths() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX, (-1i64) as u64] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v), "{v}");
            assert_eq!(buf.len(), prost::encoding::encoded_len_varint(v), "{v}");
        }
    }

    #[test]
    fn debug_output_redacts_url_password_and_header_values() {
        let mut c = RemoteWriteConfig::new("http://u:hunter2@h:9090/api/v1/write");
        c.http
            .headers
            .push(("X-Scope-OrgID".into(), "tenant-secret".into()));
        let text = format!("{c:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("tenant-secret"),
            "{text}"
        );
        let client = RemoteWriteClient::new(c).unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("hunter2") && !text.contains("u:"), "{text}");
        assert_eq!(client.endpoint(), "POST http://h:9090/api/v1/write");
    }

    #[test]
    fn statuses_split_into_retryable_and_permanent() {
        let e = |s| status_error("e".into(), s, String::new());
        assert!(e(500).is_retryable());
        assert!(e(503).is_retryable());
        assert!(e(429).is_retryable());
        assert!(!e(400).is_retryable());
        assert!(!e(401).is_retryable());
        assert!(!e(404).is_retryable());
        assert!(matches!(
            e(400),
            RemoteWriteError::Rejected { status: 400, .. }
        ));
        assert_eq!(e(429).http_status(), Some(429));
    }
}

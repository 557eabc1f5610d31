//! [`PrometheusClient`]: the HTTP implementation of the Prometheus API.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::CONTENT_TYPE;
use reqwest::RequestBuilder;

use crate::api::{Alert, AlertsData, BuildInfo, RuleGroup, RuleKind, RulesData};
use crate::config::{HttpClientConfig, RetryPolicy};
use crate::decode::{decode_envelope, decode_query};
use crate::error::QueryError;
use crate::transport::{backoff, read_body, transport_error, Transport};
use crate::value::QueryResult;

/// A Prometheus HTTP API client: one pooled keep-alive connection set, per-attempt
/// timeouts, bounded retries inside an overall deadline. Cheap to clone (shared state).
#[derive(Clone)]
pub struct PrometheusClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    /// Base URL without userinfo and without a trailing slash.
    base: String,
    timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
    max_response_size: u64,
}

impl fmt::Debug for PrometheusClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusClient")
            .field("url", &self.inner.base)
            .field("timeout", &self.inner.timeout)
            .field("deadline", &self.inner.deadline)
            .field("max_response_size", &self.inner.max_response_size)
            .finish_non_exhaustive()
    }
}

impl PrometheusClient {
    /// Builds the client. Fails on a bad URL, header, CA/cert/key file; credential files
    /// are read per request, so a missing token file surfaces as a request error.
    pub fn new(config: HttpClientConfig) -> Result<PrometheusClient, QueryError> {
        let transport = Transport::new(
            &config.url,
            &config.headers,
            config.auth,
            &config.tls,
            false,
        )?;
        let base = transport.url.as_str().trim_end_matches('/').to_string();
        Ok(PrometheusClient {
            inner: Arc::new(Inner {
                transport,
                base,
                timeout: config.timeout,
                deadline: config.deadline,
                retry: config.retry,
                max_response_size: config.max_response_size,
            }),
        })
    }

    /// The base URL (userinfo removed).
    pub fn url(&self) -> &str {
        &self.inner.base
    }

    /// `POST /api/v1/query` with `query=expr`, `time=at` (Unix seconds, ms precision) and
    /// `timeout` = the per-attempt timeout.
    pub async fn instant_query(
        &self,
        expr: &str,
        at: SystemTime,
    ) -> Result<QueryResult, QueryError> {
        let time = unix_seconds(at);
        self.post_query("/api/v1/query", &[("query", expr), ("time", &time)])
            .await
    }

    /// `POST /api/v1/query_range` from `start` to `end` every `step`.
    pub async fn range_query(
        &self,
        expr: &str,
        start: SystemTime,
        end: SystemTime,
        step: Duration,
    ) -> Result<QueryResult, QueryError> {
        let (start, end) = (unix_seconds(start), unix_seconds(end));
        let step = duration_seconds(step);
        self.post_query(
            "/api/v1/query_range",
            &[
                ("query", expr),
                ("start", &start),
                ("end", &end),
                ("step", &step),
            ],
        )
        .await
    }

    /// `GET /api/v1/rules`, optionally only alerting or recording rules.
    pub async fn rules(&self, kind: Option<RuleKind>) -> Result<Vec<RuleGroup>, QueryError> {
        let path = match kind {
            Some(k) => format!("/api/v1/rules?type={}", k.param()),
            None => "/api/v1/rules".to_string(),
        };
        let data: RulesData = self.get(&path).await?;
        Ok(data.groups)
    }

    /// `GET /api/v1/alerts`: pending and firing alerts.
    pub async fn alerts(&self) -> Result<Vec<Alert>, QueryError> {
        let data: AlertsData = self.get("/api/v1/alerts").await?;
        Ok(data.alerts)
    }

    /// `GET /api/v1/status/buildinfo`.
    pub async fn build_info(&self) -> Result<BuildInfo, QueryError> {
        self.get("/api/v1/status/buildinfo").await
    }

    async fn post_query(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<QueryResult, QueryError> {
        let url = format!("{}{path}", self.inner.base);
        let endpoint = format!("POST {url}");
        let mut form = String::with_capacity(64);
        for (k, v) in params {
            form_pair(&mut form, k, v);
        }
        self.call(
            &endpoint,
            |http, timeout| {
                let mut body = form.clone();
                form_pair(&mut body, "timeout", &duration_seconds(timeout));
                http.post(&url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body)
            },
            |status, body| decode_query(status, body, &endpoint),
        )
        .await
    }

    pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, QueryError> {
        self.get(path).await
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, QueryError> {
        let url = format!("{}{path}", self.inner.base);
        let endpoint = format!("GET {}", url.split('?').next().unwrap_or(&url));
        self.call(
            &endpoint,
            |http, _| http.get(&url),
            |status, body| decode_envelope(status, body, &endpoint),
        )
        .await
    }

    /// Runs attempts until one succeeds, fails for good, retries run out or the deadline
    /// would pass.
    pub(crate) async fn call<T>(
        &self,
        endpoint: &str,
        make: impl Fn(&reqwest::Client, Duration) -> RequestBuilder,
        decode: impl Fn(u16, &[u8]) -> Result<T, QueryError>,
    ) -> Result<T, QueryError> {
        let inner = &*self.inner;
        let deadline = Instant::now() + inner.deadline;
        let mut retries = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let timeout = inner.timeout.min(remaining);
            let result = self.attempt(endpoint, &make, &decode, timeout).await;
            let err = match result {
                Ok(v) => return Ok(v),
                // Error text may quote the server, which may echo a credential.
                Err(e) => inner.transport.redact_error(e),
            };
            if !err.is_retryable() || retries >= inner.retry.max_retries {
                return Err(err);
            }
            let backoff = backoff(&inner.retry, retries);
            let now = Instant::now();
            // Sleeping past the deadline, or waking with no time left, is pointless.
            if now + backoff + Duration::from_millis(1) >= deadline {
                return Err(err);
            }
            tokio::time::sleep(backoff).await;
            retries += 1;
        }
    }

    async fn attempt<T>(
        &self,
        endpoint: &str,
        make: &impl Fn(&reqwest::Client, Duration) -> RequestBuilder,
        decode: &impl Fn(u16, &[u8]) -> Result<T, QueryError>,
        timeout: Duration,
    ) -> Result<T, QueryError> {
        if timeout.is_zero() {
            return Err(QueryError::Timeout {
                endpoint: endpoint.to_string(),
                timeout,
            });
        }
        let req = self
            .inner
            .transport
            .authorize(make(&self.inner.transport.http, timeout))?
            .timeout(timeout);
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(e, endpoint, timeout))?;
        let status = resp.status().as_u16();
        let body = read_body(resp, self.inner.max_response_size, endpoint, timeout).await?;
        decode(status, &body)
    }
}

/// Unix seconds with millisecond precision: `1700000000.500`.
pub(crate) fn unix_seconds(t: SystemTime) -> String {
    let ms: i128 = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i128,
        Err(e) => -(e.duration().as_millis() as i128),
    };
    let sign = if ms < 0 { "-" } else { "" };
    let a = ms.abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// A duration as seconds with millisecond precision (Prometheus accepts float seconds for
/// `step` and `timeout`).
pub(crate) fn duration_seconds(d: Duration) -> String {
    let ms = d.as_millis();
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Appends `k=v` form-urlencoded (`&`-separated).
pub(crate) fn form_pair(out: &mut String, k: &str, v: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    form_encode(out, k);
    out.push('=');
    form_encode(out, v);
}

fn form_encode(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_unix_seconds_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        assert_eq!(unix_seconds(t), "1700000000.500");
        assert_eq!(unix_seconds(UNIX_EPOCH), "0.000");
        assert_eq!(
            unix_seconds(UNIX_EPOCH - Duration::from_millis(1500)),
            "-1.500"
        );
        assert_eq!(duration_seconds(Duration::from_millis(250)), "0.250");
    }

    #[test]
    fn form_encoding_escapes_promql() {
        let mut s = String::new();
        form_pair(&mut s, "query", r#"up{job="a b"} > 1 & x+y/é"#);
        assert_eq!(s, "query=up%7Bjob%3D%22a+b%22%7D+%3E+1+%26+x%2By%2F%C3%A9");
    }
}

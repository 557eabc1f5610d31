//! [`PrometheusClient`]: the HTTP implementation of the Prometheus API.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::{RequestBuilder, Url};

use crate::api::{Alert, AlertsData, BuildInfo, RuleGroup, RuleKind, RulesData};
use crate::config::{
    Auth, BasicAuth, CachedSecret, ClientConfig, RetryPolicy, Secret, SecretSource,
};
use crate::decode::{decode_envelope, decode_query};
use crate::error::{chain, QueryError};
use crate::value::QueryResult;

/// A Prometheus HTTP API client: one pooled keep-alive connection set, per-attempt
/// timeouts, bounded retries inside an overall deadline. Cheap to clone (shared state).
#[derive(Clone)]
pub struct PrometheusClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// Base URL without userinfo and without a trailing slash.
    base: String,
    timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
    auth: RequestAuth,
}

enum RequestAuth {
    None,
    Basic {
        username: String,
        password: Option<CachedSecret>,
    },
    Bearer(CachedSecret),
}

impl fmt::Debug for PrometheusClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrometheusClient")
            .field("url", &self.inner.base)
            .field("timeout", &self.inner.timeout)
            .field("deadline", &self.inner.deadline)
            .finish_non_exhaustive()
    }
}

impl PrometheusClient {
    /// Builds the client. Fails on a bad URL, header, CA/cert/key file; credential files
    /// are read per request, so a missing token file surfaces as a request error.
    pub fn new(config: ClientConfig) -> Result<PrometheusClient, QueryError> {
        // url's parse errors do not echo the input, which may hold a password.
        let mut url =
            Url::parse(&config.url).map_err(|e| QueryError::Config(format!("url: {e}")))?;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(QueryError::Config(format!(
                    "url: scheme {other:?} is not http or https"
                )))
            }
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(QueryError::Config(
                "url: must not have a query string or fragment".into(),
            ));
        }
        let mut auth = config.auth;
        if !url.username().is_empty() || url.password().is_some() {
            if matches!(auth, Auth::None) {
                auth = Auth::Basic(BasicAuth {
                    username: percent_decode(url.username()),
                    password: url
                        .password()
                        .map(|p| SecretSource::Value(Secret::new(percent_decode(p)))),
                });
            }
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        let base = url.as_str().trim_end_matches('/').to_string();

        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| QueryError::Config(format!("header {name:?}: invalid name")))?;
            let mut v = HeaderValue::from_str(value)
                .map_err(|_| QueryError::Config(format!("header {name}: invalid value")))?;
            v.set_sensitive(true);
            headers.append(n, v);
        }

        let tls = crate::tls::client_config(&config.tls, https)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .default_headers(headers)
            .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")))
            // Deterministic: no HTTP(S)_PROXY from the environment.
            .no_proxy()
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| QueryError::Config(chain(&e.without_url())))?;

        let auth = match auth {
            Auth::None => RequestAuth::None,
            Auth::Basic(b) => RequestAuth::Basic {
                username: b.username,
                password: b.password.map(CachedSecret::new),
            },
            Auth::Bearer(s) => RequestAuth::Bearer(CachedSecret::new(s)),
        };
        Ok(PrometheusClient {
            inner: Arc::new(Inner {
                http,
                base,
                timeout: config.timeout,
                deadline: config.deadline,
                retry: config.retry,
                auth,
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
    async fn call<T>(
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
                Err(e) => e,
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
            .authorize(make(&self.inner.http, timeout))?
            .timeout(timeout);
        let resp = req
            .send()
            .await
            .map_err(|e| transport_error(e, endpoint, timeout))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| transport_error(e, endpoint, timeout))?;
        decode(status, &body)
    }

    fn authorize(&self, req: RequestBuilder) -> Result<RequestBuilder, QueryError> {
        Ok(match &self.inner.auth {
            RequestAuth::None => req,
            RequestAuth::Basic { username, password } => {
                let password = password
                    .as_ref()
                    .map(|p| p.get("basic auth password"))
                    .transpose()?;
                req.basic_auth(username, password.as_ref().map(Secret::expose))
            }
            RequestAuth::Bearer(token) => req.bearer_auth(token.get("bearer token")?.expose()),
        })
    }
}

fn transport_error(e: reqwest::Error, endpoint: &str, timeout: Duration) -> QueryError {
    let endpoint = endpoint.to_string();
    if e.is_timeout() {
        return QueryError::Timeout { endpoint, timeout };
    }
    let connect = e.is_connect();
    let message = chain(&e.without_url());
    if connect {
        QueryError::Connect { endpoint, message }
    } else {
        QueryError::Transport { endpoint, message }
    }
}

/// Exponential backoff with "equal jitter": half the step fixed, half random.
fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    let exp = policy
        .initial_backoff
        .saturating_mul(1u32 << retry.min(20))
        .min(policy.max_backoff);
    let half = exp / 2;
    let nanos = half.as_nanos().min(u64::MAX as u128) as u64;
    let jitter = if nanos == 0 { 0 } else { random_u64() % nanos };
    half + Duration::from_nanos(jitter)
}

/// A small xorshift generator seeded from the clock and a counter: jitter needs spread,
/// not cryptographic quality.
fn random_u64() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
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
fn duration_seconds(d: Duration) -> String {
    let ms = d.as_millis();
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Appends `k=v` form-urlencoded (`&`-separated).
fn form_pair(out: &mut String, k: &str, v: &str) {
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

/// Decodes `%XX` escapes (URL userinfo); invalid escapes are kept literally.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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

    #[test]
    fn userinfo_is_percent_decoded() {
        assert_eq!(percent_decode("p%40ss%3Aw0rd"), "p@ss:w0rd");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn backoff_grows_within_bounds() {
        let p = RetryPolicy {
            max_retries: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for retry in 0..10 {
            let step = Duration::from_millis(100)
                .saturating_mul(1 << retry)
                .min(Duration::from_secs(1));
            let b = backoff(&p, retry);
            assert!(b >= step / 2 && b <= step, "retry {retry}: {b:?}");
        }
    }
}

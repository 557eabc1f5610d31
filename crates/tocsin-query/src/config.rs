//! [`HttpClientConfig`]: where a Prometheus-compatible server is and how to talk to it —
//! one type for the query API and for remote write, so both take the same URL, header,
//! auth, TLS, timeout and retry settings — and the defaults of those settings, each in one
//! place.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::error::QueryError;

/// A secret string. `Debug` prints `<redacted>`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<Arc<str>>) -> Secret {
        Secret(value.into())
    }

    /// The value, for putting on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A secret given inline or read from a file.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// The value itself.
    Value(Secret),
    /// A file whose content (surrounding whitespace trimmed, like Prometheus) is the
    /// secret. It is re-read whenever its modification time or size changes, so rotated
    /// tokens are picked up without a restart.
    File(PathBuf),
}

/// `basic_auth`.
#[derive(Debug, Clone)]
pub struct BasicAuth {
    /// User name (not treated as secret).
    pub username: String,
    /// Password, inline or from a file; `None` sends an empty password.
    pub password: Option<SecretSource>,
}

/// How requests authenticate.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No `Authorization` header.
    #[default]
    None,
    /// `Authorization: Basic ...`.
    Basic(BasicAuth),
    /// `Authorization: Bearer ...` (Prometheus's `bearer_token` / `bearer_token_file`).
    Bearer(SecretSource),
}

/// `tls_config`.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// PEM CA bundle that replaces the system roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain (with `key_file`).
    pub cert_file: Option<PathBuf>,
    /// PEM client private key (with `cert_file`).
    pub key_file: Option<PathBuf>,
    /// Accept any server certificate (signatures are still checked).
    pub insecure_skip_verify: bool,
}

/// Bounded retries with exponential backoff and jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: none).
    pub max_retries: u32,
    /// Backoff before the first retry; doubled each time.
    pub initial_backoff: Duration,
    /// Cap on the backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

/// Prometheus's `--query.timeout` default (2 minutes): the default time allowed for one
/// query attempt ([`HttpClientConfig::timeout`] of a datasource), and the engine's default
/// bound on one rule's query.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// Prometheus's `remote_write` `remote_timeout` default (30 seconds): the default time
/// allowed for one remote-write request.
pub const DEFAULT_REMOTE_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// [`HttpClientConfig::max_response_size`]'s default: 64 MiB, room for a few hundred
/// thousand series in one answer.
pub const DEFAULT_MAX_RESPONSE_SIZE: u64 = 64 << 20;

/// How to reach a Prometheus-compatible server over HTTP: everything
/// [`crate::PrometheusClient::new`] needs, and the connection part of
/// [`crate::RemoteWriteConfig`]. The datasource and remote write take the same options
/// (URL with optional userinfo, headers, basic auth or bearer token from a value or a
/// file, TLS, timeouts, retries). Its `Debug` redacts the URL's password and all header
/// values; secrets are [`Secret`]s, whose `Debug` is redacted too.
#[derive(Clone)]
pub struct HttpClientConfig {
    /// Base URL, e.g. `http://prometheus:9090` or `https://host/prefix` (for remote write
    /// the full write endpoint). Userinfo in it (`http://user:pass@host`) becomes basic
    /// auth and is stripped from the URL.
    pub url: String,
    /// Time allowed for one attempt (connect to last body byte); for queries also sent to
    /// the server as the query's `timeout` parameter.
    pub timeout: Duration,
    /// Time allowed for a whole call including retries and backoff.
    pub deadline: Duration,
    /// Retries.
    pub retry: RetryPolicy,
    /// Extra headers on every request (e.g. `X-Scope-OrgID`). Values are marked
    /// sensitive and never appear in errors.
    pub headers: Vec<(String, String)>,
    /// Authentication.
    pub auth: Auth,
    /// TLS.
    pub tls: TlsConfig,
    /// The largest query answer read, in bytes. Bytes are counted as they arrive and the
    /// request fails with [`QueryError::TooLarge`] past this, so a server streaming a huge
    /// or endless answer costs at most this much memory per query in flight. (Remote
    /// write reads at most the first 512 bytes of an answer, whatever this says.)
    pub max_response_size: u64,
}

impl HttpClientConfig {
    /// Defaults for `url`: [`DEFAULT_QUERY_TIMEOUT`] per attempt (see
    /// [`HttpClientConfig::with_timeout`] for the deadline), 3 retries, no auth, answers
    /// up to [`DEFAULT_MAX_RESPONSE_SIZE`].
    pub fn new(url: impl Into<String>) -> HttpClientConfig {
        HttpClientConfig {
            url: url.into(),
            // Both set by `with_timeout` below.
            timeout: Duration::ZERO,
            deadline: Duration::ZERO,
            retry: RetryPolicy::default(),
            headers: Vec::new(),
            auth: Auth::None,
            tls: TlsConfig::default(),
            max_response_size: DEFAULT_MAX_RESPONSE_SIZE,
        }
        .with_timeout(DEFAULT_QUERY_TIMEOUT)
    }

    /// Sets the per-attempt `timeout` and the whole call's `deadline` to twice it: room
    /// for a retry after an attempt that used all its time.
    pub fn with_timeout(mut self, timeout: Duration) -> HttpClientConfig {
        self.timeout = timeout;
        self.deadline = timeout.saturating_mul(2);
        self
    }
}

impl fmt::Debug for HttpClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers = redacted_headers(&self.headers);
        f.debug_struct("HttpClientConfig")
            .field("url", &redact_url(&self.url))
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("retry", &self.retry)
            .field("headers", &headers)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("max_response_size", &self.max_response_size)
            .finish()
    }
}

/// Header names with their values hidden (they may hold tenant ids or tokens), for
/// `Debug` output.
pub(crate) fn redacted_headers(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, _)| (k.as_str(), "<redacted>"))
        .collect()
}

/// `scheme://user:xxxxx@host/...` (Go's `url.Redacted`), also for unparsable URLs: a URL
/// as it may be shown in logs and `Debug` output.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:xxxxx@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    match scheme {
        Some(s) => format!("{s}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// A [`SecretSource`] with the file's last content cached by (mtime, size).
#[derive(Debug)]
pub(crate) struct CachedSecret {
    source: SecretSource,
    cache: Mutex<Option<(SystemTime, u64, Secret)>>,
}

impl CachedSecret {
    pub fn new(source: SecretSource) -> CachedSecret {
        CachedSecret {
            source,
            cache: Mutex::new(None),
        }
    }

    /// The current value. For a file: one `stat` per call, a read when it changed. The
    /// file is small and local, so this blocking I/O is not moved off the async thread.
    pub fn get(&self, what: &str) -> Result<Secret, QueryError> {
        let path = match &self.source {
            SecretSource::Value(s) => return Ok(s.clone()),
            SecretSource::File(p) => p,
        };
        let fail = |e: std::io::Error| {
            QueryError::Credentials(format!("cannot read {what} file {}: {e}", path.display()))
        };
        let meta = std::fs::metadata(path).map_err(fail)?;
        let stamp = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
        );
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((mtime, len, secret)) = cache.as_ref() {
            if (*mtime, *len) == stamp {
                return Ok(secret.clone());
            }
        }
        let text = std::fs::read_to_string(path).map_err(fail)?;
        let secret = Secret::new(text.trim());
        *cache = Some((stamp.0, stamp.1, secret.clone()));
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_are_redacted_like_go_does() {
        assert_eq!(
            redact_url("http://u:p@h:9090/x?y"),
            "http://u:xxxxx@h:9090/x?y"
        );
        assert_eq!(redact_url("http://u@h/"), "http://u@h/");
        assert_eq!(redact_url("h:1"), "h:1");
        assert_eq!(redact_url("https://a:b:c@[::1"), "https://a:xxxxx@[::1");
    }
}

//! The HTTP plumbing shared by the query API client and the remote-write client.
//!
//! Both talk to the same kind of server with the same operator-facing settings (URL with
//! optional userinfo, extra headers, `basic_auth`/bearer token from a value or a file,
//! `tls_config`, retries), so the rules for those settings live here once: userinfo
//! becomes basic auth and is stripped from the URL, header values are marked sensitive,
//! TLS is rustls on `ring`, credential files are re-read when they change, and error text
//! never carries a secret. Each client keeps its own request shapes and answer decoding.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{RequestBuilder, Url};

use crate::config::{Auth, BasicAuth, CachedSecret, RetryPolicy, Secret, SecretSource, TlsConfig};
use crate::error::{chain, QueryError};

/// A configured `reqwest` client, the target URL without userinfo, and how to
/// authenticate each request.
pub(crate) struct Transport {
    pub http: reqwest::Client,
    /// The URL with userinfo removed (query string kept, if the caller allows one).
    pub url: Url,
    auth: RequestAuth,
    /// The extra headers' values: secrets as far as error text is concerned.
    header_values: Vec<String>,
}

enum RequestAuth {
    None,
    Basic {
        username: String,
        password: Option<CachedSecret>,
    },
    Bearer(CachedSecret),
}

impl Transport {
    /// Builds the client. Fails on a bad URL (or one with a query string/fragment unless
    /// `allow_query`), header, CA/cert/key file. Credential files are read per request.
    pub fn new(
        url: &str,
        headers: &[(String, String)],
        auth: Auth,
        tls: &TlsConfig,
        allow_query: bool,
    ) -> Result<Transport, QueryError> {
        // url's parse errors do not echo the input, which may hold a password.
        let mut url = Url::parse(url).map_err(|e| QueryError::Config(format!("url: {e}")))?;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => {
                return Err(QueryError::Config(format!(
                    "url: scheme {other:?} is not http or https"
                )))
            }
        };
        if url.fragment().is_some() || (!allow_query && url.query().is_some()) {
            return Err(QueryError::Config(if allow_query {
                "url: must not have a fragment".into()
            } else {
                "url: must not have a query string or fragment".into()
            }));
        }
        let mut auth = auth;
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

        let mut header_map = HeaderMap::new();
        for (name, value) in headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| QueryError::Config(format!("header {name:?}: invalid name")))?;
            let mut v = HeaderValue::from_str(value)
                .map_err(|_| QueryError::Config(format!("header {name}: invalid value")))?;
            v.set_sensitive(true);
            header_map.append(n, v);
        }

        let tls = crate::tls::client_config(tls, https)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .default_headers(header_map)
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
        let header_values = headers.iter().map(|(_, v)| v.clone()).collect();
        Ok(Transport {
            http,
            url,
            auth,
            header_values,
        })
    }

    /// Every secret this transport sends, in the forms a server could echo: the password
    /// and `user:password` (a basic-auth header is its base64), the bearer token, the
    /// extra header values. Credential files are read through the cache.
    fn secrets(&self) -> Vec<String> {
        let mut out = self.header_values.clone();
        match &self.auth {
            RequestAuth::None => {}
            RequestAuth::Basic { username, password } => {
                if let Some(p) = password.as_ref().and_then(|p| p.get("").ok()) {
                    out.push(format!("{username}:{}", p.expose()));
                    out.push(p.expose().to_string());
                }
            }
            RequestAuth::Bearer(token) => {
                if let Ok(t) = token.get("") {
                    out.push(t.expose().to_string());
                }
            }
        }
        out
    }

    /// `text` from a server's answer with every encoding of every secret removed.
    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        tocsin_wire::redact(text, &secrets)
    }

    /// `err` with the text that came from the server redacted (see [`Transport::redact`]).
    pub fn redact_error(&self, err: QueryError) -> QueryError {
        match err {
            QueryError::Api {
                endpoint,
                status,
                error_type,
                message,
                warnings,
            } => QueryError::Api {
                endpoint,
                status,
                error_type,
                message: self.redact(&message),
                warnings: warnings.iter().map(|w| self.redact(w)).collect(),
            },
            QueryError::Http {
                endpoint,
                status,
                body,
            } => QueryError::Http {
                endpoint,
                status,
                body: self.redact(&body),
            },
            QueryError::Decode { endpoint, message } => QueryError::Decode {
                endpoint,
                message: self.redact(&message),
            },
            QueryError::Transport { endpoint, message } => QueryError::Transport {
                endpoint,
                message: self.redact(&message),
            },
            QueryError::Connect { endpoint, message } => QueryError::Connect {
                endpoint,
                message: self.redact(&message),
            },
            other => other,
        }
    }

    /// Adds the `Authorization` header. Fails only when a credential file cannot be read
    /// (the error names the file, never its content).
    pub fn authorize(&self, req: RequestBuilder) -> Result<RequestBuilder, QueryError> {
        Ok(match &self.auth {
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

/// Classifies a `reqwest` failure (the URL is dropped from the message: it is named by
/// `endpoint` already, without userinfo).
pub(crate) fn transport_error(e: reqwest::Error, endpoint: &str, timeout: Duration) -> QueryError {
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

/// Reads an answer's body, at most `limit` bytes of it (see [`tocsin_wire::read_capped`]).
pub(crate) async fn read_body(
    resp: reqwest::Response,
    limit: u64,
    endpoint: &str,
    timeout: Duration,
) -> Result<Vec<u8>, QueryError> {
    tocsin_wire::read_capped(resp, limit)
        .await
        .map_err(|e| match e {
            tocsin_wire::BodyError::TooLarge { limit } => QueryError::TooLarge {
                endpoint: endpoint.to_string(),
                limit,
            },
            tocsin_wire::BodyError::Read(e) => transport_error(e, endpoint, timeout),
        })
}

/// Exponential backoff with "equal jitter": half the step fixed, half random.
pub(crate) fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
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

/// Decodes `%XX` escapes (URL userinfo); invalid escapes are kept literally.
fn percent_decode(s: &str) -> String {
    String::from_utf8_lossy(&tocsin_wire::percent_decode(s, false)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

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

//! [`QueryError`]: everything a request can end in, without credentials in any text.

use std::fmt;
use std::time::Duration;

/// Prometheus's `errorType`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ErrorType {
    /// `bad_data` (HTTP 400): parse errors, bad parameters.
    BadData,
    /// `execution` (HTTP 422): the query failed while running.
    Execution,
    /// `timeout` (HTTP 503).
    Timeout,
    /// `canceled` (HTTP 503 in 2.42, 499 later).
    Canceled,
    /// `unavailable` (HTTP 503).
    Unavailable,
    /// `internal` (HTTP 500).
    Internal,
    /// `not_found` (HTTP 404).
    NotFound,
    /// Any other string a server sends.
    Other(Box<str>),
}

impl ErrorType {
    /// Parses the wire form (`bad_data`, ...).
    pub fn parse(s: &str) -> ErrorType {
        match s {
            "bad_data" => ErrorType::BadData,
            "execution" => ErrorType::Execution,
            "timeout" => ErrorType::Timeout,
            "canceled" => ErrorType::Canceled,
            "unavailable" => ErrorType::Unavailable,
            "internal" => ErrorType::Internal,
            "not_found" => ErrorType::NotFound,
            other => ErrorType::Other(other.into()),
        }
    }

    /// The wire form.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorType::BadData => "bad_data",
            ErrorType::Execution => "execution",
            ErrorType::Timeout => "timeout",
            ErrorType::Canceled => "canceled",
            ErrorType::Unavailable => "unavailable",
            ErrorType::Internal => "internal",
            ErrorType::NotFound => "not_found",
            ErrorType::Other(s) => s,
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request failed. `endpoint` fields name the URL without userinfo or query string;
/// no variant ever holds a password, token or header value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The server answered `"status":"error"`.
    #[error("{error_type}: {message} (HTTP {status} from {endpoint})")]
    Api {
        /// `POST /api/v1/query` etc.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// `errorType`.
        error_type: ErrorType,
        /// `error`, verbatim.
        message: String,
        /// `warnings`, if any came with the error.
        warnings: Vec<String>,
    },
    /// A non-success HTTP status without a Prometheus error body (a proxy's 502 page, say).
    #[error("HTTP {status} from {endpoint}: {body}")]
    Http {
        /// The endpoint.
        endpoint: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the body (at most 512 bytes, lossy UTF-8).
        body: String,
    },
    /// Could not connect (refused, DNS, TLS handshake).
    #[error("cannot connect to {endpoint}: {message}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The cause chain, `: `-separated.
        message: String,
    },
    /// No complete answer within the per-query timeout (or what was left of the deadline).
    #[error("{endpoint} did not answer within {timeout:?}")]
    Timeout {
        /// The endpoint.
        endpoint: String,
        /// The time allowed for the attempt.
        timeout: Duration,
    },
    /// The connection failed after it was made (reset, truncated body, protocol error).
    #[error("request to {endpoint} failed: {message}")]
    Transport {
        /// The endpoint.
        endpoint: String,
        /// The cause chain.
        message: String,
    },
    /// The answer was larger than `max_response_size`; reading stopped at the limit.
    #[error("the answer from {endpoint} is larger than max_response_size ({limit} bytes)")]
    TooLarge {
        /// The endpoint.
        endpoint: String,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The answer was not the JSON expected.
    #[error("cannot decode the answer from {endpoint}: {message}")]
    Decode {
        /// The endpoint.
        endpoint: String,
        /// What was wrong (serde's message, with line and column).
        message: String,
    },
    /// The client could not be built (bad URL, unreadable CA file, bad header name...).
    #[error("invalid datasource configuration: {0}")]
    Config(String),
    /// A password or token file could not be read (the path is named, never the content).
    #[error("cannot read credentials: {0}")]
    Credentials(String),
}

/// What kind of failure a [`QueryError`] is, for callers that treat kinds differently
/// (the rule engine does not count a query cancelled at shutdown as a failed evaluation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// No answer in time: ours ([`QueryError::Timeout`]) or the server's (`timeout`).
    Timeout,
    /// The query was cancelled (the server's `canceled`, or the caller gave up on it).
    Canceled,
    /// The server refused or failed the query itself (`bad_data`, `execution`,
    /// `not_found`).
    BadQuery,
    /// The server failed (`unavailable`, `internal`, other error types, HTTP 5xx).
    Server,
    /// An HTTP 4xx without a Prometheus error body (a proxy refusing, bad credentials).
    Rejected,
    /// No connection could be made.
    Unreachable,
    /// The connection failed after it was made.
    Transport,
    /// The answer was not the JSON expected.
    Decode,
    /// The client's configuration or credentials are unusable.
    Config,
}

impl ErrorKind {
    /// A short lowercase name (`timeout`, `canceled`, `bad_query`, …) for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Canceled => "canceled",
            ErrorKind::BadQuery => "bad_query",
            ErrorKind::Server => "server",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Transport => "transport",
            ErrorKind::Decode => "decode",
            ErrorKind::Config => "config",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl QueryError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            QueryError::Api { error_type, .. } => match error_type {
                ErrorType::Timeout => ErrorKind::Timeout,
                ErrorType::Canceled => ErrorKind::Canceled,
                ErrorType::BadData | ErrorType::Execution | ErrorType::NotFound => {
                    ErrorKind::BadQuery
                }
                ErrorType::Unavailable | ErrorType::Internal | ErrorType::Other(_) => {
                    ErrorKind::Server
                }
            },
            QueryError::Http { status, .. } if *status >= 500 => ErrorKind::Server,
            QueryError::Http { .. } => ErrorKind::Rejected,
            QueryError::Connect { .. } => ErrorKind::Unreachable,
            QueryError::Timeout { .. } => ErrorKind::Timeout,
            QueryError::Transport { .. } => ErrorKind::Transport,
            QueryError::Decode { .. } => ErrorKind::Decode,
            // An answer past the size cap is unusable as it is, as one that does not decode.
            QueryError::TooLarge { .. } => ErrorKind::Decode,
            QueryError::Config(_) | QueryError::Credentials(_) => ErrorKind::Config,
        }
    }

    /// Prometheus's `errorType`, for [`QueryError::Api`].
    pub fn error_type(&self) -> Option<&ErrorType> {
        match self {
            QueryError::Api { error_type, .. } => Some(error_type),
            _ => None,
        }
    }

    /// The HTTP status code, when the server answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            QueryError::Api { status, .. } | QueryError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether another attempt may succeed: connection failures, timeouts, transport
    /// errors and 5xx answers. Never 4xx (`bad_data`, `execution`), decode, too-large,
    /// configuration or credential errors.
    pub fn is_retryable(&self) -> bool {
        match self {
            QueryError::Connect { .. }
            | QueryError::Timeout { .. }
            | QueryError::Transport { .. } => true,
            QueryError::Api { status, .. } | QueryError::Http { status, .. } => *status >= 500,
            QueryError::Decode { .. }
            | QueryError::TooLarge { .. }
            | QueryError::Config(_)
            | QueryError::Credentials(_) => false,
        }
    }
}

/// The cause chain of an error, `: `-separated, skipping repeats.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(error_type: &str, status: u16) -> QueryError {
        QueryError::Api {
            endpoint: "POST /api/v1/query".into(),
            status,
            error_type: ErrorType::parse(error_type),
            message: "m".into(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn errors_keep_their_kind() {
        assert_eq!(api("timeout", 503).kind(), ErrorKind::Timeout);
        assert_eq!(api("canceled", 503).kind(), ErrorKind::Canceled);
        assert_eq!(api("bad_data", 400).kind(), ErrorKind::BadQuery);
        assert_eq!(api("execution", 422).kind(), ErrorKind::BadQuery);
        assert_eq!(api("internal", 500).kind(), ErrorKind::Server);
        let http = |status| QueryError::Http {
            endpoint: "e".into(),
            status,
            body: String::new(),
        };
        assert_eq!(http(502).kind(), ErrorKind::Server);
        assert_eq!(http(401).kind(), ErrorKind::Rejected);
        let timeout = QueryError::Timeout {
            endpoint: "e".into(),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(timeout.kind(), ErrorKind::Timeout);
    }
}

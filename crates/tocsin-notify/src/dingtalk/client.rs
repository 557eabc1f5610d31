//! [`DingTalkClient`]: sends one message to one robot — signed, keyword-guaranteed,
//! split to fit, transient failures retried with bounded backoff — and reports what
//! DingTalk said. It never shows the access token or signature: URLs print as
//! `…?access_token=***`, and errors and `Debug` go through the same redaction.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::CONTENT_TYPE;
use reqwest::Url;

use super::classify::{classify, Outcome, RejectKind};
use super::config::{DingTalkReceiverConfig, RobotCredentials};
use super::message::{Mention, Message, MessageFormat};
use super::retry::{jitter, RetryPolicy};
use super::secret::{Secret, SecretError};
use super::sign::sign;
use super::split::{fit, SplitOptions};
use super::window::SharedWindow;
use crate::time::Timestamp;

/// The most of a robot's answer that is read. DingTalk answers
/// `{"errcode":0,"errmsg":"ok"}`; a robot or proxy sending more is not to be believed, and
/// must not be able to fill memory.
pub const MAX_ANSWER_BYTES: u64 = 64 << 10;

/// How a client behaves, apart from which robot it talks to.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Guaranteed present in every message (robots secured by keywords).
    pub keyword: Option<String>,
    pub split: SplitOptions,
    pub retry: RetryPolicy,
    /// Whole-request timeout.
    pub timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            keyword: None,
            split: SplitOptions::default(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// A client for one DingTalk robot.
pub struct DingTalkClient {
    http: reqwest::Client,
    base: Url,
    credentials: RobotCredentials,
    options: ClientOptions,
    format: MessageFormat,
    mention: Mention,
    /// The robot's send window: every request takes a slot in it, or is not made.
    window: Option<SharedWindow>,
}

/// What [`DingTalkClient::send`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Messages the input became (1 unless it had to be split).
    pub parts: usize,
    /// Requests made in all, retries included.
    pub attempts: u32,
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid DingTalk robot url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// A message that did not get through. Its `Display` names the robot by redacted URL.
#[derive(Debug)]
pub struct SendError {
    /// The robot's URL with the token shown as `***`.
    pub robot: String,
    /// `(i, n)` when the failure hit part `i` of a message split into `n`.
    pub part: Option<(usize, usize)>,
    /// Parts delivered before the failure.
    pub delivered: usize,
    /// Requests made for the failed part.
    pub attempts: u32,
    pub kind: SendErrorKind,
}

/// What went wrong, by what the caller should do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendErrorKind {
    /// Never retry: fix the configuration or the content.
    Rejected {
        kind: RejectKind,
        errcode: i64,
        errmsg: String,
    },
    /// The robot is throttled: hold messages back for `retry_after` at least.
    RateLimited {
        errcode: Option<i64>,
        errmsg: String,
        retry_after: Duration,
    },
    /// Transient failures until the retry budget ran out.
    GaveUp { last: String },
    /// Not sent: the robot's send window had no free slot (nothing was asked of DingTalk).
    HeldBack,
}

impl SendError {
    /// Retrying the same message cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(self.kind, SendErrorKind::Rejected { .. })
    }

    pub fn is_rate_limited(&self) -> bool {
        matches!(self.kind, SendErrorKind::RateLimited { .. })
    }

    /// The DingTalk errcode, when DingTalk gave one.
    pub fn errcode(&self) -> Option<i64> {
        match &self.kind {
            SendErrorKind::Rejected { errcode, .. } => Some(*errcode),
            SendErrorKind::RateLimited { errcode, .. } => *errcode,
            SendErrorKind::GaveUp { .. } | SendErrorKind::HeldBack => None,
        }
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DingTalk robot {}", self.robot)?;
        if let Some((i, n)) = self.part {
            write!(f, " (part {i} of {n}, {} delivered)", self.delivered)?;
        }
        match &self.kind {
            SendErrorKind::Rejected {
                kind,
                errcode,
                errmsg,
            } => write!(
                f,
                " rejected the message, not retrying: {kind} (errcode {errcode}: {errmsg})"
            ),
            SendErrorKind::RateLimited {
                errcode,
                errmsg,
                retry_after,
            } => {
                write!(f, " is throttled")?;
                if let Some(code) = errcode {
                    write!(f, " (errcode {code}: {errmsg})")?;
                } else {
                    write!(f, " ({errmsg})")?;
                }
                write!(f, "; wait {}s before sending again", retry_after.as_secs())
            }
            SendErrorKind::GaveUp { last } => write!(
                f,
                " did not take the message after {} attempts; last failure: {last}",
                self.attempts
            ),
            SendErrorKind::HeldBack => {
                write!(f, ": held back, the robot's rate limit has no free slot")
            }
        }
    }
}

impl std::error::Error for SendError {}

impl DingTalkClient {
    /// A client for the robot at `url` (without query string) with these credentials.
    pub fn new(
        url: &str,
        credentials: RobotCredentials,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let base = parse_base_url(url)?;
        // reqwest is built without a default TLS provider; ring builds fastest. Another
        // part of the program may have installed one already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .build()
            .map_err(|e| ClientError::Http(error_chain(&e.without_url())))?;
        Ok(DingTalkClient {
            http,
            base,
            credentials,
            options,
            format: MessageFormat::default(),
            mention: Mention::default(),
            window: None,
        })
    }

    /// Counts every request (parts and retries included) in `window`, and makes none
    /// while it is full.
    pub fn with_window(mut self, window: SharedWindow) -> Self {
        self.window = Some(window);
        self
    }

    /// A client for a configured receiver: reads the token and secret, takes the keyword,
    /// message format and mentions from the config, and defaults for the rest.
    pub fn from_config(config: &DingTalkReceiverConfig) -> Result<Self, ClientError> {
        let credentials = config.load_credentials()?;
        let options = ClientOptions {
            keyword: config.keyword.clone(),
            ..ClientOptions::default()
        };
        let mut client = DingTalkClient::new(&config.url, credentials, options)?;
        client.format = config.message;
        client.mention = config.mention.clone();
        Ok(client)
    }

    /// A message in this receiver's format with its configured mentions.
    pub fn message(&self, title: &str, text: &str) -> Message {
        Message::with_format(self.format, title, text).with_mention(self.mention.clone())
    }

    /// The robot's URL as it may be shown: `…?access_token=***`.
    pub fn redacted_url(&self) -> String {
        format!("{}?access_token=***", self.base)
    }

    /// Sends `message`: prepared (keyword, mentions), split when over the size budget,
    /// each part retried on transient failures. Stops at the first part that fails.
    pub async fn send(&self, message: &Message) -> Result<Delivery, SendError> {
        let parts = fit(message, self.keyword(), &self.options.split);
        let n = parts.len();
        let mut attempts = 0;
        for (i, part) in parts.iter().enumerate() {
            match self.send_with_retries(part).await {
                Ok(a) => attempts += a,
                Err((kind, a)) => {
                    return Err(SendError {
                        robot: self.redacted_url(),
                        part: (n > 1).then_some((i + 1, n)),
                        delivered: i,
                        attempts: a,
                        kind,
                    })
                }
            }
        }
        Ok(Delivery { parts: n, attempts })
    }

    async fn send_with_retries(&self, part: &Message) -> Result<u32, (SendErrorKind, u32)> {
        let max = self.options.retry.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            if let Some(w) = &self.window {
                if !w.lock().begin(Timestamp::now()) {
                    return Err((SendErrorKind::HeldBack, attempt - 1));
                }
            }
            let outcome = self.send_once(part).await;
            if let Some(w) = &self.window {
                w.lock().end(Timestamp::now());
            }
            match outcome {
                Outcome::Ok => return Ok(attempt),
                Outcome::Rejected {
                    kind,
                    errcode,
                    errmsg,
                } => {
                    let errmsg = self.redact(&errmsg);
                    return Err((
                        SendErrorKind::Rejected {
                            kind,
                            errcode,
                            errmsg,
                        },
                        attempt,
                    ));
                }
                Outcome::RateLimited {
                    errcode,
                    errmsg,
                    retry_after,
                } => {
                    let errmsg = self.redact(&errmsg);
                    return Err((
                        SendErrorKind::RateLimited {
                            errcode,
                            errmsg,
                            retry_after,
                        },
                        attempt,
                    ));
                }
                Outcome::Transient { reason } if attempt >= max => {
                    let last = self.redact(&reason);
                    return Err((SendErrorKind::GaveUp { last }, attempt));
                }
                Outcome::Transient { .. } => {
                    let delay = self.options.retry.backoff(attempt - 1, jitter());
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    /// One request, no splitting and no retry: the message is prepared (keyword,
    /// mentions), signed when the robot has a secret, posted, and the answer classified.
    pub async fn send_once(&self, message: &Message) -> Outcome {
        let body = message.prepared(self.keyword()).to_body();
        let request = self
            .http
            .post(self.request_url(now_ms()))
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body(body);
        match request.send().await {
            Err(e) => Outcome::Transient {
                reason: self.redact(&error_chain(&e.without_url())),
            },
            Ok(response) => {
                let status = response.status().as_u16();
                match tocsin_wire::read_capped(response, MAX_ANSWER_BYTES).await {
                    Ok(bytes) => classify(status, &bytes),
                    // Whether the robot took the message is unknown: retrying risks a
                    // duplicate, not retrying risks losing it.
                    Err(tocsin_wire::BodyError::TooLarge { limit }) => Outcome::Transient {
                        reason: format!(
                            "HTTP {status}, an answer larger than {limit} bytes (a DingTalk \
                             answer is under 100); not read further"
                        ),
                    },
                    Err(tocsin_wire::BodyError::Read(e)) => Outcome::Transient {
                        reason: self.redact(&format!(
                            "HTTP {status}, reading the body: {}",
                            error_chain(&e.without_url())
                        )),
                    },
                }
            }
        }
    }

    fn keyword(&self) -> Option<&str> {
        self.options.keyword.as_deref()
    }

    /// The URL with token and, for signing robots, timestamp and signature. Query values
    /// are encoded once, by the URL builder, so the raw Base64 goes in.
    fn request_url(&self, timestamp_ms: u64) -> Url {
        let mut url = self.base.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("access_token", self.credentials.access_token.expose());
            if let Some(secret) = &self.credentials.secret {
                let sig = sign(secret, timestamp_ms);
                q.append_pair("timestamp", &sig.timestamp_ms().to_string());
                q.append_pair("sign", sig.base64());
            }
        }
        url
    }

    /// `text` with the token and secret replaced by `***`, in any encoding they might echo
    /// back in (the token goes out percent-encoded in the URL).
    fn redact(&self, text: &str) -> String {
        let secrets: Vec<&str> = std::iter::once(&self.credentials.access_token)
            .chain(self.credentials.secret.as_ref())
            .map(Secret::expose)
            .collect();
        tocsin_wire::redact(text, &secrets)
    }
}

impl fmt::Debug for DingTalkClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DingTalkClient")
            .field("url", &self.redacted_url())
            .field("signed", &self.credentials.secret.is_some())
            .field("keyword", &self.options.keyword)
            .field("format", &self.format)
            .field("mention", &self.mention)
            .finish_non_exhaustive()
    }
}

fn parse_base_url(url: &str) -> Result<Url, ClientError> {
    let bad = |reason: &str| ClientError::Url {
        // Never echo a query string: it may hold a token pasted into the URL.
        url: url.split('?').next().unwrap_or("").to_owned(),
        reason: reason.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if parsed.query().is_some_and(|q| q.contains("access_token")) {
        return Err(bad(
            "the access token must not be in the url; use access_token_file or access_token_env",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("the url must not have a query string or fragment"));
    }
    Ok(parsed)
}

/// An error and its sources, `: `-joined (reqwest's own message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(url: &str) -> DingTalkClient {
        DingTalkClient::new(
            url,
            RobotCredentials {
                access_token: Secret::new("tok3n0123456789abcdef"),
                secret: Some(Secret::new("SEC0123456789abcdef")),
            },
            ClientOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn request_url_carries_token_timestamp_and_sign_encoded_once() {
        let c = client("http://127.0.0.1:1/robot/send");
        let url = c.request_url(1_700_000_000_002);
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:1/robot/send?access_token=tok3n0123456789abcdef\
             &timestamp=1700000000002&sign=VGvd0brDJp%2FnMZtR%2BXnA3yBIlhowT%2BTwkRPua0q1%2Fjg%3D"
        );
    }

    #[test]
    fn debug_and_redacted_url_hide_the_token() {
        let c = client("http://127.0.0.1:1/robot/send");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("tok3n"), "{dbg}");
        assert!(dbg.contains("access_token=***"), "{dbg}");
        assert_eq!(
            c.redacted_url(),
            "http://127.0.0.1:1/robot/send?access_token=***"
        );
    }

    #[test]
    fn a_token_pasted_into_the_url_is_refused_without_echoing_it() {
        let err = DingTalkClient::new(
            "https://oapi.dingtalk.com/robot/send?access_token=abcdef123",
            RobotCredentials {
                access_token: Secret::new("x"),
                secret: None,
            },
            ClientOptions::default(),
        )
        .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("abcdef123"), "{text}");
        assert!(text.contains("access_token_file"), "{text}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_retried_then_reported_without_the_token() {
        // Port 9 on loopback: nothing listens there, so every attempt is refused.
        let mut c = client("http://127.0.0.1:9/robot/send");
        c.options.retry = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        };
        let err = c.send(&Message::text("hello")).await.unwrap_err();
        assert_eq!(err.attempts, 3);
        assert!(matches!(err.kind, SendErrorKind::GaveUp { .. }));
        let text = format!("{err} {err:?}");
        assert!(!text.contains("tok3n"), "{text}");
        assert!(!text.contains("SEC0123"), "{text}");
        assert!(text.contains("access_token=***"), "{text}");
    }

    /// Answers each request on `listener` with the next of `answers` (status, body) and
    /// counts the requests.
    async fn serve(
        listener: tokio::net::TcpListener,
        answers: Vec<(u16, &'static str)>,
        count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        for (status, body) in answers {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head, then as much body as Content-Length says.
            loop {
                let n = stream.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_lowercase();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if request.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let response = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    }

    #[tokio::test]
    async fn bad_gateway_and_html_bodies_are_retried_until_dingtalk_answers_ok() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let answers = vec![
            (502, "<html>bad gateway</html>"),
            (200, "<html>maintenance</html>"),
            (200, r#"{"errcode":0,"errmsg":"ok"}"#),
        ];
        let server = tokio::spawn(serve(listener, answers, count.clone()));
        let mut c = client(&format!("http://{addr}/robot/send"));
        c.options.retry = RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        };
        let delivery = c.send(&Message::text("hello")).await.unwrap();
        assert_eq!(
            delivery,
            Delivery {
                parts: 1,
                attempts: 3
            }
        );
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 3);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn a_permanent_rejection_is_sent_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let answers = vec![(200, r#"{"errcode":"300001","errmsg":"token is not exist"}"#)];
        let server = tokio::spawn(serve(listener, answers, count.clone()));
        let c = client(&format!("http://{addr}/robot/send"));
        let err = c.send(&Message::text("hello")).await.unwrap_err();
        assert!(err.is_permanent());
        assert_eq!(err.errcode(), Some(300001));
        assert!(err.to_string().contains("token does not exist"), "{err}");
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
        server.await.unwrap();
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_at_the_answer_limit_and_retried() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 8192];
                    let _ = s.read(&mut buf).await;
                    let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"errmsg\":\"";
                    if s.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let chunk = vec![b'x'; 64 << 10];
                    while s.write_all(&chunk).await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                });
            }
        });
        let mut c = client(&format!("http://{addr}/robot/send"));
        c.options.timeout = Duration::from_secs(3);
        c.options.retry = RetryPolicy {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        };
        let err = c.send(&Message::text("hello")).await.unwrap_err();
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);
        let SendErrorKind::GaveUp { last } = &err.kind else {
            panic!("{err}");
        };
        assert!(last.contains("larger than 65536 bytes"), "{err}");
    }

    #[tokio::test]
    async fn a_token_echoed_in_any_encoding_is_redacted() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // The robot (or a proxy) quotes the request URL: the token percent-encoded in
        // both hex cases, the signing secret in base64.
        let answer = r#"{"errcode":300001,"errmsg":"token is not exist: /robot/send?access_token=t0k%2Ben%2F9876%3Dxyz (t0k%2ben%2f9876%3dxyz) secret=U0VDZGVhZGJlZWYwMTIzNDU2Nzg5"}"#;
        let server = tokio::spawn(serve(listener, vec![(200, answer)], count));
        let c = DingTalkClient::new(
            &format!("http://{addr}/robot/send"),
            RobotCredentials {
                access_token: Secret::new("t0k+en/9876=xyz"),
                secret: Some(Secret::new("SECdeadbeef0123456789")),
            },
            ClientOptions::default(),
        )
        .unwrap();
        let err = c.send(&Message::text("hello")).await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(err.is_permanent(), "{text}");
        for leak in ["t0k", "9876", "xyz", "U0VDZGVhZGJlZWYw", "deadbeef"] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
        assert!(text.contains("access_token=***"), "{text}");
        server.await.unwrap();
    }
}

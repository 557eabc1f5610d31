//! The sink's state: the checks of one `/robot/send` request in DingTalk's order, the
//! accepted messages, the optional store file and the counters behind `/metrics`.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};

use super::check::{check_body, Reject};
use super::limiter::{RateLimiter, Verdict};
use super::verify::{verify, SignatureError};
use super::SinkConfig;
use crate::query_string::param;

/// DingTalk's limit on a request body.
pub const MAX_BODY_BYTES: usize = 20_000;
/// Accepted messages kept for `GET /messages`; older ones are dropped first.
const KEEP_MESSAGES: usize = 100_000;

/// One `/robot/send` request, as the checks need it.
pub struct SendRequest<'a> {
    pub method: &'a str,
    pub query: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// Set when the body was larger than the sink reads at all.
    pub body_truncated: bool,
    pub now_ms: u64,
    pub now: Instant,
}

pub struct Sink {
    config: SinkConfig,
    inner: Mutex<Inner>,
}

struct Inner {
    limiter: RateLimiter,
    messages: VecDeque<Value>,
    seq: u64,
    accepted: u64,
    rejected: BTreeMap<i64, u64>,
    throttled: u64,
    store: Option<File>,
}

impl Sink {
    pub fn new(config: SinkConfig, store: Option<File>) -> Self {
        let limiter = RateLimiter::new(config.rate_limit, config.window, config.throttle);
        Sink {
            config,
            inner: Mutex::new(Inner {
                limiter,
                messages: VecDeque::new(),
                seq: 0,
                accepted: 0,
                rejected: BTreeMap::new(),
                throttled: 0,
                store,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain counters and lists: still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers one `/robot/send` request: `Ok(line)` with the line to print when the
    /// message is accepted, or the DingTalk error.
    pub fn robot_send(&self, req: &SendRequest<'_>) -> Result<String, Reject> {
        let result = self.check_and_accept(req);
        if let Err(r) = &result {
            let mut inner = self.lock();
            *inner.rejected.entry(r.errcode).or_default() += 1;
            if r.errcode == 130101 {
                inner.throttled += 1;
            }
        }
        result
    }

    fn check_and_accept(&self, req: &SendRequest<'_>) -> Result<String, Reject> {
        if req.method != "POST" {
            return Err(Reject::new(43002, "需要POST请求"));
        }
        let token = param(req.query, "access_token").unwrap_or_default();
        if token.is_empty() {
            return Err(Reject::new(40035, "缺少参数 access_token"));
        }
        if !self.config.tokens.is_empty() && !self.config.tokens.contains(&token) {
            return Err(Reject::new(300001, "token is not exist"));
        }
        let json_type = req.content_type.is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
        if !json_type {
            return Err(Reject::new(43004, "无效的HTTP HEADER Content-Type"));
        }
        if let Some(secret) = &self.config.secret {
            let timestamp = param(req.query, "timestamp");
            let sign = param(req.query, "sign");
            match verify(secret, timestamp.as_deref(), sign.as_deref(), req.now_ms) {
                Ok(()) => {}
                Err(SignatureError::Mismatch) => return Err(Reject::new(310000, "sign not match")),
                Err(SignatureError::Timestamp) => {
                    return Err(Reject::new(310000, "invalid timestamp"))
                }
            }
        }
        if req.body_truncated || req.body.len() > MAX_BODY_BYTES {
            return Err(Reject::new(460101, "message too long, exceed 20000 bytes"));
        }
        let checked = check_body(req.body, &self.config.keywords)?;

        let mut inner = self.lock();
        match inner.limiter.admit(&token, req.now) {
            Verdict::Allow => {}
            Verdict::Throttled { .. } => {
                return Err(Reject::new(
                    130101,
                    "send too fast, exceed 20 times per minute",
                ))
            }
        }
        inner.seq += 1;
        inner.accepted += 1;
        let time =
            tocsin_core::Timestamp::from_millis(i64::try_from(req.now_ms).unwrap_or(i64::MAX))
                .rfc3339_millis();
        let suffix = token_suffix(&token);
        let record = json!({
            "seq": inner.seq,
            "time": time,
            "token_suffix": suffix,
            "msgtype": checked.msgtype,
            "title": checked.title,
            "body": checked.body,
        });
        let mut line = format!("{time} …{suffix} {} {:?}", checked.msgtype, checked.title);
        if self.config.show_text {
            line.push_str(&indented_text(&checked.body));
        }
        if let Some(store) = inner.store.as_mut() {
            if let Err(e) = writeln!(store, "{record}") {
                eprintln!("tocsin sink dingtalk: cannot append to the store file: {e}");
            }
        }
        if inner.messages.len() >= KEEP_MESSAGES {
            inner.messages.pop_front();
        }
        inner.messages.push_back(record);
        Ok(line)
    }

    /// `GET /messages`: the accepted messages, oldest first.
    pub fn messages_json(&self) -> String {
        let inner = self.lock();
        Value::Array(inner.messages.iter().cloned().collect()).to_string()
    }

    /// `GET /metrics` in the Prometheus text format.
    pub fn metrics_text(&self, now: Instant) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str("# HELP tocsin_sink_messages_accepted_total Messages accepted (errcode 0).\n");
        out.push_str("# TYPE tocsin_sink_messages_accepted_total counter\n");
        out.push_str(&format!(
            "tocsin_sink_messages_accepted_total {}\n",
            inner.accepted
        ));
        out.push_str("# HELP tocsin_sink_requests_rejected_total Requests answered with a DingTalk error, by errcode.\n");
        out.push_str("# TYPE tocsin_sink_requests_rejected_total counter\n");
        for (code, n) in &inner.rejected {
            out.push_str(&format!(
                "tocsin_sink_requests_rejected_total{{errcode=\"{code}\"}} {n}\n"
            ));
        }
        out.push_str("# HELP tocsin_sink_throttled_total Requests refused with 130101 (over the rate limit or throttled).\n");
        out.push_str("# TYPE tocsin_sink_throttled_total counter\n");
        out.push_str(&format!(
            "tocsin_sink_throttled_total {}\n",
            inner.throttled
        ));
        out.push_str(
            "# HELP tocsin_sink_robots_throttled Robots (tokens) in their throttle period.\n",
        );
        out.push_str("# TYPE tocsin_sink_robots_throttled gauge\n");
        out.push_str(&format!(
            "tocsin_sink_robots_throttled {}\n",
            inner.limiter.throttled_robots(now)
        ));
        out
    }

    pub fn accepted(&self) -> u64 {
        self.lock().accepted
    }
}

/// At most the last 4 characters of a token, and none of a token shorter than 12.
pub fn token_suffix(token: &str) -> String {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() < 12 {
        return "****".to_owned();
    }
    chars[chars.len() - 4..].iter().collect()
}

/// A text or markdown message's text, each line indented, for `--show-text`.
fn indented_text(body: &Value) -> String {
    let text = body["markdown"]["text"]
        .as_str()
        .or_else(|| body["text"]["content"].as_str())
        .unwrap_or("");
    let mut out = String::new();
    for line in text.lines() {
        out.push_str("\n    ");
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sink(secret: Option<&str>) -> Sink {
        Sink::new(
            SinkConfig {
                secret: secret.map(str::to_owned),
                keywords: vec![],
                tokens: vec![],
                rate_limit: 20,
                window: Duration::from_secs(60),
                throttle: Duration::from_secs(600),
                show_text: false,
            },
            None,
        )
    }

    fn req<'a>(
        method: &'a str,
        query: &'a str,
        ct: Option<&'a str>,
        body: &'a [u8],
    ) -> SendRequest<'a> {
        SendRequest {
            method,
            query,
            content_type: ct,
            body,
            body_truncated: false,
            now_ms: 1_700_000_000_500,
            now: Instant::now(),
        }
    }

    const TEXT: &[u8] = br#"{"msgtype":"text","text":{"content":"hi"}}"#;
    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn show_text_prints_the_message_text_indented_under_the_summary() {
        let mut s = sink(None);
        let md =
            br#"{"msgtype":"markdown","markdown":{"title":"FIRING","text":"**FIRING**\n- a"}}"#;
        let line = s
            .robot_send(&req("POST", "access_token=abcdef", JSON, md))
            .unwrap();
        assert!(!line.contains('\n'), "{line}");
        s.config.show_text = true;
        let line = s
            .robot_send(&req("POST", "access_token=abcdef", JSON, md))
            .unwrap();
        assert!(
            line.ends_with("markdown \"FIRING\"\n    **FIRING**\n    - a"),
            "{line}"
        );
    }

    #[test]
    fn method_token_and_content_type_are_checked_first() {
        let s = sink(None);
        let code = |r: SendRequest| s.robot_send(&r).unwrap_err().errcode;
        assert_eq!(code(req("GET", "access_token=abc", JSON, TEXT)), 43002);
        assert_eq!(code(req("POST", "", JSON, TEXT)), 40035);
        assert_eq!(code(req("POST", "access_token=", JSON, TEXT)), 40035);
        assert_eq!(
            code(req("POST", "access_token=abc", Some("text/plain"), TEXT)),
            43004
        );
        assert_eq!(code(req("POST", "access_token=abc", None, TEXT)), 43004);
        assert!(s
            .robot_send(&req(
                "POST",
                "access_token=abc",
                Some("Application/JSON"),
                TEXT
            ))
            .is_ok());
    }

    #[test]
    fn signed_robots_need_a_valid_signature() {
        let s = sink(Some("SEC0123456789abcdef"));
        let good = "access_token=abc&timestamp=1700000000002&sign=VGvd0brDJp%2FnMZtR%2BXnA3yBIlhowT%2BTwkRPua0q1%2Fjg%3D";
        assert!(s.robot_send(&req("POST", good, JSON, TEXT)).is_ok());
        let unsigned = s
            .robot_send(&req("POST", "access_token=abc", JSON, TEXT))
            .unwrap_err();
        assert_eq!(unsigned, Reject::new(310000, "sign not match"));
        let double = good.replace("%2F", "%252F");
        assert_eq!(
            s.robot_send(&req("POST", &double, JSON, TEXT))
                .unwrap_err()
                .errmsg,
            "sign not match"
        );
    }

    #[test]
    fn oversized_bodies_are_460101() {
        let s = sink(None);
        let big = format!(
            r#"{{"msgtype":"text","text":{{"content":"{}"}}}}"#,
            "x".repeat(20_000)
        );
        let e = s
            .robot_send(&req("POST", "access_token=abc", JSON, big.as_bytes()))
            .unwrap_err();
        assert_eq!(e.errcode, 460101);
    }

    #[test]
    fn accepted_messages_are_listed_and_counted_with_only_a_token_suffix() {
        let s = sink(None);
        let token = "0123456789abcdef0123456789abcdef";
        let q = format!("access_token={token}");
        let line = s.robot_send(&req("POST", &q, JSON, TEXT)).unwrap();
        assert!(line.ends_with("…cdef text \"hi\""), "{line}");
        assert!(!line.contains(token));
        let list = s.messages_json();
        assert!(list.contains(r#""token_suffix":"cdef""#), "{list}");
        assert!(!list.contains(token));
        s.robot_send(&req("GET", &q, JSON, TEXT)).unwrap_err();
        let m = s.metrics_text(Instant::now());
        assert!(m.contains("tocsin_sink_messages_accepted_total 1\n"), "{m}");
        assert!(
            m.contains("tocsin_sink_requests_rejected_total{errcode=\"43002\"} 1\n"),
            "{m}"
        );
    }

    #[test]
    fn short_tokens_show_no_suffix() {
        assert_eq!(token_suffix("abc"), "****");
        assert_eq!(token_suffix("abcdefghijkl"), "ijkl");
    }
}

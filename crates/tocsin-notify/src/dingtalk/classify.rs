//! What a DingTalk answer means. DingTalk answers HTTP 200 for most errors, so the
//! `errcode` in the body decides (a number, or a numeric string in some examples), then
//! keywords in `errmsg`; an anti-abuse body (`status`, `wait`, no `errcode`) means
//! throttled; HTTP 5xx and bodies that are not JSON are transient.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// The verdict on one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `errcode` 0: the message is in the group.
    Ok,
    /// The robot is throttled (130101 and relatives, or the anti-abuse body). Retrying now
    /// fails again; wait at least `retry_after` (DingTalk may keep the robot throttled for
    /// 10 minutes after the 20-a-minute limit is exceeded).
    RateLimited {
        errcode: Option<i64>,
        errmsg: String,
        retry_after: Duration,
    },
    /// Retrying the same request can never succeed: a configuration error or a message
    /// DingTalk will not take. Report it loudly.
    Rejected {
        kind: RejectKind,
        errcode: i64,
        errmsg: String,
    },
    /// May succeed later: DingTalk busy, 5xx, a body that is not JSON, a network error.
    Transient { reason: String },
}

/// Why a request was rejected for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectKind {
    /// 310000 `keywords not in content`.
    Keyword,
    /// 310000 `sign not match`: wrong secret, or signing on/off mismatch.
    Signature,
    /// 310000 `invalid timestamp`: the clock is more than an hour off.
    Timestamp,
    /// 310000 `ip X not in whitelist`.
    IpNotAllowed,
    /// Another 310000 security failure.
    Security,
    /// 300001/300005/400101: the access token does not exist.
    Token,
    /// 400013: the group was dissolved.
    GroupDissolved,
    /// 410100 (not a throttling message), 400102/400103: the robot is disabled or gone.
    RobotDisabled,
    /// 460101/101002: body over 20,000 bytes.
    TooLarge,
    /// 430101–430105: content moderation refused the text, links or images.
    Content,
    /// 43002/43004/40035/400105/400401…: the request itself is malformed.
    BadRequest,
}

impl fmt::Display for RejectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectKind::Keyword => {
                "keyword check failed: the message holds none of the robot's keywords (set `keyword`)"
            }
            RejectKind::Signature => {
                "signature rejected: check the signing secret and whether the robot has signing on"
            }
            RejectKind::Timestamp => "timestamp rejected: this machine's clock is off by over an hour",
            RejectKind::IpNotAllowed => "this machine's egress IP is not in the robot's allowlist",
            RejectKind::Security => "the robot's security settings rejected the request",
            RejectKind::Token => "the access token does not exist (robot removed or token pasted wrong)",
            RejectKind::GroupDissolved => "the group was dissolved",
            RejectKind::RobotDisabled => "the robot is disabled or no longer in the group",
            RejectKind::TooLarge => "the message is larger than DingTalk's 20,000-byte limit",
            RejectKind::Content => "DingTalk's content check refused the message",
            RejectKind::BadRequest => "DingTalk says the request is malformed",
        })
    }
}

/// How long to wait after 130101 before the next window.
const NEXT_WINDOW: Duration = Duration::from_secs(60);
/// How long to wait after the organisation's webhook quota (90030) ran out.
const QUOTA_WAIT: Duration = Duration::from_secs(3600);

/// Classifies an answer from its HTTP status and body.
pub fn classify(http_status: u16, body: &[u8]) -> Outcome {
    let server_error = (500..600).contains(&http_status);
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(body) else {
        return Outcome::Transient {
            reason: format!(
                "HTTP {http_status} with a body that is not a JSON object ({} bytes)",
                body.len()
            ),
        };
    };
    let errmsg = obj
        .get("errmsg")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let errcode = match obj.get("errcode") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    let Some(errcode) = errcode else {
        let status = obj.get("status").and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        });
        if status.is_some_and(|s| s != 0) || obj.contains_key("punish") {
            let wait = obj
                .get("wait")
                .and_then(|v| {
                    v.as_u64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .map(Duration::from_secs)
                .unwrap_or(NEXT_WINDOW);
            return Outcome::RateLimited {
                errcode: None,
                errmsg: format!("anti-abuse throttle (status {})", status.unwrap_or(0)),
                retry_after: wait.max(Duration::from_secs(1)),
            };
        }
        return Outcome::Transient {
            reason: format!("HTTP {http_status} with no errcode in the body"),
        };
    };
    if errcode == 0 {
        return Outcome::Ok;
    }
    let throttled = |retry_after| Outcome::RateLimited {
        errcode: Some(errcode),
        errmsg: errmsg.clone(),
        retry_after,
    };
    let rejected = |kind| Outcome::Rejected {
        kind,
        errcode,
        errmsg: errmsg.clone(),
    };
    match errcode {
        130101 | 660026 => return throttled(NEXT_WINDOW),
        90030 => return throttled(QUOTA_WAIT),
        _ if mentions_throttling(&errmsg) => return throttled(NEXT_WINDOW),
        _ => {}
    }
    match errcode {
        -1 => Outcome::Transient {
            reason: format!("DingTalk busy (errcode -1: {errmsg})"),
        },
        310000 => rejected(security_kind(&errmsg)),
        300001 | 300005 | 400101 => rejected(RejectKind::Token),
        400013 => rejected(RejectKind::GroupDissolved),
        410100 | 410101 | 400102 | 400103 | 400107 => rejected(RejectKind::RobotDisabled),
        460101 | 101002 => rejected(RejectKind::TooLarge),
        430101..=430105 => rejected(RejectKind::Content),
        43002 | 43004 | 40035 | 400105 | 400106 | 400401 => rejected(RejectKind::BadRequest),
        _ if server_error => Outcome::Transient {
            reason: format!("HTTP {http_status} (errcode {errcode}: {errmsg})"),
        },
        _ => Outcome::Transient {
            reason: format!("unknown errcode {errcode}: {errmsg}"),
        },
    }
}

fn mentions_throttling(errmsg: &str) -> bool {
    let lower = errmsg.to_lowercase();
    ["too fast", "too many", "frequency", "限流", "太快"]
        .iter()
        .any(|k| lower.contains(k))
}

fn security_kind(errmsg: &str) -> RejectKind {
    let lower = errmsg.to_lowercase();
    if lower.contains("keyword") || lower.contains("关键词") {
        RejectKind::Keyword
    } else if lower.contains("whitelist") || lower.contains("白名单") {
        RejectKind::IpNotAllowed
    } else if lower.contains("timestamp") || lower.contains("时间戳") {
        RejectKind::Timestamp
    } else if lower.contains("sign") || lower.contains("签名") {
        RejectKind::Signature
    } else {
        RejectKind::Security
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(body: &str) -> Outcome {
        classify(200, body.as_bytes())
    }

    fn kind(body: &str) -> RejectKind {
        match c(body) {
            Outcome::Rejected { kind, .. } => kind,
            other => panic!("{body}: {other:?}"),
        }
    }

    #[test]
    fn errcode_zero_is_ok_as_number_or_string() {
        assert_eq!(c(r#"{"errcode":0,"errmsg":"ok"}"#), Outcome::Ok);
        assert_eq!(c(r#"{"errcode":"0","errmsg":"ok"}"#), Outcome::Ok);
    }

    #[test]
    fn send_too_fast_is_rate_limited_until_the_next_window() {
        let o = c(r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#);
        assert_eq!(
            o,
            Outcome::RateLimited {
                errcode: Some(130101),
                errmsg: "send too fast, exceed 20 times per minute".into(),
                retry_after: Duration::from_secs(60),
            }
        );
        assert!(matches!(
            c(r#"{"errcode":"130101"}"#),
            Outcome::RateLimited { .. }
        ));
        assert!(matches!(
            c(r#"{"errcode":410100,"errmsg":"发送速度太快而限流"}"#),
            Outcome::RateLimited { .. }
        ));
    }

    #[test]
    fn anti_abuse_body_without_errcode_is_rate_limited_for_its_wait() {
        let o = c(r#"{"status":1111,"wait":5,"source":"x5","punish":"deny","uuid":"u"}"#);
        assert!(
            matches!(o, Outcome::RateLimited { errcode: None, retry_after, .. } if retry_after == Duration::from_secs(5)),
            "{o:?}"
        );
    }

    #[test]
    fn security_failures_are_permanent_and_told_apart_by_errmsg() {
        assert_eq!(
            kind(r#"{"errcode":310000,"errmsg":"keywords not in content"}"#),
            RejectKind::Keyword
        );
        assert_eq!(
            kind(r#"{"errcode":310000,"errmsg":"sign not match"}"#),
            RejectKind::Signature
        );
        assert_eq!(
            kind(r#"{"errcode":310000,"errmsg":"invalid timestamp"}"#),
            RejectKind::Timestamp
        );
        assert_eq!(
            kind(r#"{"errcode":310000,"errmsg":"ip 1.2.3.4 not in whitelist"}"#),
            RejectKind::IpNotAllowed
        );
        assert_eq!(
            kind(r#"{"errcode":"310000","errmsg":"?"}"#),
            RejectKind::Security
        );
    }

    #[test]
    fn configuration_and_content_errors_are_permanent() {
        assert_eq!(
            kind(r#"{"errcode":300001,"errmsg":"token is not exist"}"#),
            RejectKind::Token
        );
        assert_eq!(
            kind(r#"{"errcode":400013,"errmsg":"群已被解散"}"#),
            RejectKind::GroupDissolved
        );
        assert_eq!(
            kind(r#"{"errcode":410100,"errmsg":"robot stopped"}"#),
            RejectKind::RobotDisabled
        );
        assert_eq!(
            kind(r#"{"errcode":43004,"errmsg":"无效的HTTP HEADER Content-Type"}"#),
            RejectKind::BadRequest
        );
        assert_eq!(
            kind(r#"{"errcode":40035,"errmsg":"缺少参数 access_token"}"#),
            RejectKind::BadRequest
        );
        assert_eq!(
            kind(r#"{"errcode":460101,"errmsg":"message too long, exceed 20000 bytes"}"#),
            RejectKind::TooLarge
        );
        assert_eq!(
            kind(r#"{"errcode":101002,"errmsg":"message is too long"}"#),
            RejectKind::TooLarge
        );
    }

    #[test]
    fn server_errors_html_and_busy_are_transient() {
        assert!(matches!(
            classify(502, b"<html>bad gateway</html>"),
            Outcome::Transient { .. }
        ));
        assert!(matches!(
            classify(200, b"not json"),
            Outcome::Transient { .. }
        ));
        assert!(matches!(
            classify(503, br#"{"errcode":12345}"#),
            Outcome::Transient { .. }
        ));
        assert!(matches!(
            c(r#"{"errcode":-1,"errmsg":"系统繁忙"}"#),
            Outcome::Transient { .. }
        ));
        assert!(matches!(c(r#"{"errmsg":"ok"}"#), Outcome::Transient { .. }));
    }
}

//! `POST /dingtalk/<receiver>/send`: Alertmanager webhook payloads for a DingTalk receiver,
//! served by `tocsin run` and `tocsin gateway` alike. The answer is 200 only once the
//! notification is in the outbox, so anything refused or lost before that is retried by
//! Alertmanager itself.

use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use crate::http::{reply, Reply};
use crate::notify::GatewayHandle;

/// Alertmanager posts at most a group's alerts; this leaves room for thousands.
const MAX_BODY_BYTES: usize = 16 << 20;

/// Bodies read at once. Each may hold up to [`MAX_BODY_BYTES`], so without this bound the
/// connection cap alone (512 × 16 MiB) would allow gigabytes; further posts wait their
/// turn (within the read timeout). Alertmanager sends one post per group at a time.
static BODIES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);
const TEXT: &str = "text/plain; charset=utf-8";

/// The receiver named by a gateway path, percent-decoded (Alertmanager sends the URL as
/// configured, so `钉钉 值班` arrives as `%E9%92%89…`), or `None` when `path` is not one:
/// not of the form `/dingtalk/<segment>/send`, or a segment that decodes to nothing, to a
/// `/` (which would name no receiver and could only confuse) or to invalid UTF-8.
pub fn receiver_of(path: &str) -> Option<String> {
    let segment = path
        .strip_prefix("/dingtalk/")?
        .strip_suffix("/send")
        .filter(|r| !r.is_empty() && !r.contains('/'))?;
    crate::query_string::decode_path_segment(segment).filter(|r| !r.is_empty() && !r.contains('/'))
}

/// Handles a request whose path is a gateway path; `gateway` is `None` when no `notify:`
/// section is configured.
pub async fn handle(
    gateway: Option<&GatewayHandle>,
    receiver: &str,
    read_timeout: Duration,
    req: Request<Incoming>,
) -> Reply {
    if req.method() != Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "use POST\n");
    }
    let Some(gateway) = gateway else {
        return reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "no notify: section is configured, so there are no DingTalk receivers\n",
        );
    };
    let too_large = || {
        reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            TEXT,
            format!("payload over {MAX_BODY_BYTES} bytes\n"),
        )
    };
    // A Content-Length over the limit is refused before a byte of the body is read.
    if hyper::body::Body::size_hint(req.body()).lower() > MAX_BODY_BYTES as u64 {
        return too_large();
    }
    // Bounded in size (counted as it arrives), in number (`BODIES`) and in time (a body
    // trickled in slowly, or a long wait for a turn).
    // The turn is held until the body is stored.
    let read = tokio::time::timeout(read_timeout, async {
        let turn = BODIES.acquire().await;
        let body = Limited::new(req.into_body(), MAX_BODY_BYTES)
            .collect()
            .await;
        (turn, body)
    });
    let Ok((_turn, body)) = read.await else {
        return reply(
            StatusCode::REQUEST_TIMEOUT,
            TEXT,
            format!("the body did not arrive within {read_timeout:?}\n"),
        );
    };
    let body = match body {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(_) => return reply(StatusCode::BAD_REQUEST, TEXT, "cannot read the body\n"),
    };
    match gateway.post(receiver, body).await {
        Ok(()) => reply(StatusCode::OK, TEXT, "OK\n"),
        Err(refusal) => reply(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            TEXT,
            format!("{}\n", refusal.message),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::receiver_of;

    #[test]
    fn gateway_paths_name_one_receiver() {
        assert_eq!(
            receiver_of("/dingtalk/flink-oncall/send").as_deref(),
            Some("flink-oncall")
        );
        assert_eq!(receiver_of("/dingtalk/%72%31/send").as_deref(), Some("r1"));
        assert_eq!(
            receiver_of("/dingtalk/%E9%92%89%E9%92%89%20%E5%80%BC%E7%8F%AD/send").as_deref(),
            Some("钉钉 值班")
        );
        // A decoded slash names no receiver.
        assert_eq!(receiver_of("/dingtalk/a%2Fb/send"), None);
        assert_eq!(receiver_of("/dingtalk/%2f/send"), None);
        assert_eq!(receiver_of("/dingtalk/%FF/send"), None);
        assert_eq!(receiver_of("/dingtalk//send"), None);
        assert_eq!(receiver_of("/dingtalk/a/b/send"), None);
        assert_eq!(receiver_of("/dingtalk/a/sendx"), None);
        assert_eq!(receiver_of("/api/v1/alerts"), None);
    }
}

//! The sink's routes; the accept loop and shutdown are `crate::http`'s.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, StatusCode};
use tokio::net::TcpListener;

use crate::http::Reply;

use super::state::{SendRequest, Sink, MAX_BODY_BYTES};

/// Serves until SIGTERM or ctrl-c, then lets open connections finish (bounded).
pub async fn serve(sink: Arc<Sink>, listener: TcpListener) {
    let handler = move |req| handle(sink.clone(), req);
    crate::http::serve(
        "tocsin sink dingtalk",
        listener,
        crate::http::Limits::default(),
        handler,
        crate::http::shutdown_signal(),
    )
    .await;
}

async fn handle(sink: Arc<Sink>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    match (req.method(), path.as_str()) {
        (_, "/robot/send") => robot_send(&sink, req).await,
        (&Method::GET, "/messages") => {
            reply(StatusCode::OK, "application/json", sink.messages_json())
        }
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            sink.metrics_text(Instant::now()),
        ),
        (&Method::GET, "/-/healthy" | "/-/ready") => {
            reply(StatusCode::OK, "text/plain", "OK\n".into())
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

async fn robot_send(sink: &Sink, req: Request<Incoming>) -> Reply {
    let (parts, body) = req.into_parts();
    let (body, truncated) = match Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
        Ok(collected) => (collected.to_bytes(), false),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => (Bytes::new(), true),
        Err(_) => {
            return reply(
                StatusCode::BAD_REQUEST,
                "text/plain",
                "cannot read the body\n".into(),
            )
        }
    };
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let request = SendRequest {
        method: parts.method.as_str(),
        query: parts.uri.query().unwrap_or(""),
        content_type,
        body: &body,
        body_truncated: truncated,
        now_ms,
        now: Instant::now(),
    };
    let (errcode, errmsg) = match sink.robot_send(&request) {
        Ok(line) => {
            println!("{line}");
            (0, "ok".to_owned())
        }
        Err(r) => (r.errcode, r.errmsg),
    };
    let body = serde_json::json!({"errcode": errcode, "errmsg": errmsg}).to_string();
    reply(StatusCode::OK, "application/json;charset=utf-8", body)
}

fn reply(status: StatusCode, content_type: &'static str, body: String) -> Reply {
    crate::http::reply(status, content_type, body)
}

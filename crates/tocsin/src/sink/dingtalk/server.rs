//! HTTP plumbing: hyper HTTP/1 connections, routes, graceful shutdown.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use super::state::{SendRequest, Sink, MAX_BODY_BYTES};

/// How long open connections get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves until SIGTERM or ctrl-c, then lets open connections finish (bounded).
pub async fn serve(sink: Arc<Sink>, listener: TcpListener) {
    let graceful = GracefulShutdown::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        eprintln!("tocsin sink dingtalk: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let sink = sink.clone();
                let service = service_fn(move |req| handle(sink.clone(), req));
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // A client that hangs up mid-request is not the sink's problem.
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            eprintln!("tocsin sink dingtalk: connections still open after {}s; closing", DRAIN.as_secs());
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

type Reply = Response<Full<Bytes>>;

async fn handle(sink: Arc<Sink>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_owned();
    Ok(match (req.method(), path.as_str()) {
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
    })
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
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

//! HTTP/1 serving shared by every subcommand that listens (`run`, `gateway`, `sink`):
//! one accept loop, graceful shutdown on SIGTERM or ctrl-c, and small reply helpers.
//!
//! Clients are not trusted to be quick or few (as Prometheus's `--web.read-timeout` and
//! `--web.max-connections`): request headers must arrive within the read timeout, which
//! also closes a keep-alive connection idle that long (its clock runs while a connection
//! waits for a request); at most `max_connections` connections are served at once, and
//! further ones wait in the listen backlog until one closes, as Go's `LimitListener`
//! makes Prometheus do.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How long open connections get to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(5);

pub type Reply = Response<Full<Bytes>>;

/// Limits on clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once (`--web.max-connections`, Prometheus's default 512).
    pub max_connections: usize,
    /// Time for a request's headers to arrive, which is also how long a keep-alive
    /// connection may sit idle, and for a gateway post's body (`--web.read-timeout`,
    /// Prometheus's default 5m).
    pub read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            read_timeout: Duration::from_secs(300),
        }
    }
}

/// Serves `handler` on `listener` until `shutdown` completes, then lets open connections
/// finish (bounded by [`DRAIN`]). `name` names the server in the few lines this loop logs.
pub async fn serve<H, F>(
    name: &str,
    listener: TcpListener,
    limits: Limits,
    handler: H,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // After a failed accept (out of file descriptors, say), wait before the next one:
    // 5 ms doubling to 1 s, as Go's http.Server does, so a lasting failure neither spins
    // nor floods the log.
    let mut backoff = Duration::ZERO;
    tokio::pin!(shutdown);
    loop {
        // A slot first: at the cap, connections wait in the backlog, not in memory.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => {
                        backoff = Duration::ZERO;
                        stream
                    }
                    Err(e) => {
                        backoff = (backoff * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
                        accept_failed(name, &e, backoff);
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                };
                let handler = handler.clone();
                let service = service_fn(move |req| {
                    let reply = handler(req);
                    async move { Ok::<_, Infallible>(reply.await) }
                });
                let conn = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.read_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    // A client that hangs up mid-request is its own problem.
                    let _ = conn.await;
                    drop(slot);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN) => {
            if tracing::dispatcher::has_been_set() {
                tracing::warn!(server = name, drain_secs = DRAIN.as_secs(),
                    "connections still open after the drain time; closing");
            } else {
                eprintln!("{name}: connections still open after {}s; closing", DRAIN.as_secs());
            }
        }
    }
}

/// A duration flag in Prometheus's syntax (`30s`, `5m`), more than zero.
pub fn parse_duration_flag(text: &str) -> Result<Duration, String> {
    let d = tocsin_rules::Duration::parse(text)?.as_std();
    if d.is_zero() {
        return Err("must be more than 0".into());
    }
    Ok(d)
}

/// Logs a failed `accept` in the configured log format (stderr when no logger is set up,
/// as in `tocsin sink`).
fn accept_failed(name: &str, e: &std::io::Error, retry_in: Duration) {
    let retry_ms = retry_in.as_millis() as u64;
    if tracing::dispatcher::has_been_set() {
        tracing::error!(server = name, err = %e, retry_ms, "accept failed");
    } else {
        eprintln!("{name}: accept failed: {e}; retrying in {retry_ms}ms");
    }
}

/// Completes on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
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

pub fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

//! `tocsin sink dingtalk`: a DingTalk-compatible robot endpoint for tests, demos and load
//! tests. It answers `POST /robot/send?access_token=…[&timestamp=…&sign=…]` as DingTalk
//! does — HTTP 200 with `{"errcode":…,"errmsg":…}` — after the same checks: method,
//! token, Content-Type, signature (verified by its own code, not the sender's), body size,
//! message shape, keywords, and the 20-messages-a-minute limit with a throttle period.
//! Accepted messages are printed (one line each, with at most the token's last 4
//! characters), kept for `GET /messages`, optionally appended to a JSON-lines store, and
//! counted on `GET /metrics`.

mod check;
mod limiter;
mod server;
mod state;
mod verify;

use std::fs::OpenOptions;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use state::Sink;

/// What the sink enforces.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    /// Signing secret; requests must then carry a valid `timestamp` and `sign`.
    pub secret: Option<String>,
    /// The message must contain one of these (none: no keyword check).
    pub keywords: Vec<String>,
    /// Known tokens (none: any token is accepted).
    pub tokens: Vec<String>,
    /// Messages per `window` per token.
    pub rate_limit: usize,
    pub window: Duration,
    /// How long a robot stays throttled after exceeding the limit.
    pub throttle: Duration,
    /// Print each accepted message's text under its summary line (demos).
    pub show_text: bool,
}

/// Binds `listen`, prints the bound address, and serves until SIGTERM or ctrl-c.
pub fn run(config: SinkConfig, listen: &str, store: Option<PathBuf>) -> anyhow::Result<()> {
    let store = match &store {
        Some(path) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open the store file {}", path.display()))?,
        ),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener
            .local_addr()
            .with_context(|| format!("cannot listen on {listen}"))?;
        println!("tocsin sink dingtalk listening on http://{addr}/robot/send");
        let sink = Arc::new(Sink::new(config, store));
        server::serve(sink.clone(), listener).await;
        eprintln!(
            "tocsin sink dingtalk: stopped after accepting {} messages",
            sink.accepted()
        );
        Ok(())
    })
}

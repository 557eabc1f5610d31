//! `tocsin gateway`: only the Alertmanager-webhook-to-DingTalk part of `tocsin run`, to
//! replace a DingTalk gateway deployment. Alertmanager's `webhook_configs` post to
//! `/dingtalk/<receiver>/send`; the receivers, limits and outbox are those of the config
//! file's `notify:` section, exactly as `tocsin run` uses them.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use tracing::{info, warn};

use crate::config::Config;
use crate::http::{reply, Reply};
use crate::logging::{self, LogFormat, LogLevel};
use crate::notify::{self, GatewayHandle, NotifyStatus};
use crate::web::exposition::Exposition;
use crate::web::gateway;

#[derive(Args)]
pub struct GatewayArgs {
    /// Configuration file: its `notify:`, `state:`, `web:` and `global.external_url` are
    /// used; datasource and rule files are not needed.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Address of the HTTP server (overrides web.listen_address).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Directory for the notification outbox (overrides state.dir).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Most HTTP connections served at once; more wait to be accepted (as Prometheus's).
    #[arg(long = "web.max-connections", value_name = "N", default_value_t = 512)]
    max_connections: usize,
    /// Time for a request's headers (and a gateway post's body) to arrive; keep-alive
    /// connections idle this long are closed (as Prometheus's).
    #[arg(long = "web.read-timeout", value_name = "DURATION", default_value = "5m",
          value_parser = crate::http::parse_duration_flag)]
    read_timeout: std::time::Duration,
    #[arg(long = "log.format", value_enum, default_value_t = LogFormat::Logfmt)]
    log_format: LogFormat,
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,
}

pub fn run(args: GatewayArgs) -> anyhow::Result<ExitCode> {
    logging::init(args.log_format, args.log_level);
    let mut config = Config::load(&args.config)?;
    if let Some(listen) = args.listen {
        config.web.listen_address = listen;
    }
    if let Some(dir) = args.state_dir {
        config.state.dir = Some(dir);
    }
    if config.notify.is_none() {
        bail!(
            "{}: no notify: section, so no DingTalk receivers to deliver to",
            args.config.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let limits = crate::http::Limits {
        max_connections: args.max_connections,
        read_timeout: args.read_timeout,
    };
    runtime.block_on(serve(config, limits))?;
    Ok(ExitCode::SUCCESS)
}

struct State {
    gateway: GatewayHandle,
    status: Arc<Mutex<NotifyStatus>>,
    read_timeout: Duration,
}

async fn serve(config: Config, limits: crate::http::Limits) -> anyhow::Result<()> {
    let Some(notify_config) = &config.notify else {
        bail!("no notify: section");
    };
    if let Some(dir) = &config.state.dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the state directory {}", dir.display()))?;
    }
    let external_url = config.global.external_url.clone().unwrap_or_default();
    let started = notify::start(
        notify_config,
        &external_url,
        crate::cmd::run::outbox_dir(&config),
        false,
    )?;
    // The gateway has no engine: the alert side of the channel is unused.
    drop(started.notifier);
    let listener = tokio::net::TcpListener::bind(&config.web.listen_address)
        .await
        .with_context(|| format!("cannot listen on {}", config.web.listen_address))?;
    info!(address = %listener.local_addr()?, "listening");
    let state = Arc::new(State {
        read_timeout: limits.read_timeout,
        gateway: started.gateway,
        status: started.status,
    });
    let handler = {
        let state = state.clone();
        move |req| handle(state.clone(), req)
    };
    crate::http::serve(
        "tocsin gateway",
        listener,
        limits,
        handler,
        crate::http::shutdown_signal(),
    )
    .await;
    info!("shutting down");
    drop(state);
    if tokio::time::timeout(Duration::from_secs(10), started.task)
        .await
        .is_err()
    {
        warn!("notifications still unsent at shutdown; they stay in the outbox");
    }
    Ok(())
}

const TEXT: &str = "text/plain; charset=utf-8";

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    if let Some(receiver) = gateway::receiver_of(&path) {
        return gateway::handle(Some(&state.gateway), &receiver, state.read_timeout, req).await;
    }
    match (req.method(), path.as_str()) {
        (&Method::GET, "/metrics") => {
            let mut page = Exposition::default();
            if let Ok(status) = state.status.lock() {
                status.expose(&mut page);
            }
            reply(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                page.finish(),
            )
        }
        (&Method::GET | &Method::HEAD, "/-/healthy") => {
            reply(StatusCode::OK, TEXT, "tocsin gateway is Healthy.\n")
        }
        (&Method::GET | &Method::HEAD, "/-/ready") => {
            reply(StatusCode::OK, TEXT, "tocsin gateway is Ready.\n")
        }
        _ => reply(StatusCode::NOT_FOUND, TEXT, "404 page not found\n"),
    }
}

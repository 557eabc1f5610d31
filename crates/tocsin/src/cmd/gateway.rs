//! `tocsin gateway`: only the Alertmanager-webhook-to-DingTalk part of `tocsin run`, to
//! replace a DingTalk gateway deployment. Alertmanager's `webhook_configs` post to
//! `/dingtalk/<receiver>/send`; the receivers, limits and outbox are those of the config
//! file's `notify:` section, exactly as `tocsin run` uses them.
//!
//! SIGHUP, and a change to the config file (unless `--no-watch`), run one reload: the file
//! is read and its receivers built (robot tokens and secrets read) while the running
//! pipeline keeps serving; only then is that pipeline stopped (it flushes into the outbox)
//! and a new one started on the same outbox. A file that does not load keeps the running
//! receivers. Posts that arrive during the switch are answered 503, which Alertmanager
//! retries.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use tocsin_notify::config::NotifyConfig;
use tocsin_notify::pipeline::{Notifier, PipelineOptions};
use tocsin_notify::zoned::TimeZone;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::http::{reply, Reply};
use crate::logging::{self, LogFormat, LogLevel};
use crate::notify::{self, GatewayHandle, NotifyStatus};
use crate::web::exposition::Exposition;
use crate::web::gateway;

#[derive(Args)]
pub struct GatewayArgs {
    /// Configuration file: its `notify:`, `state:`, `web:`, `global.external_url` and
    /// `global.time_zone` are used; datasource and rule files are not needed.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Address of the HTTP server (overrides web.listen_address).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Directory for the notification outbox (overrides state.dir).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Do not watch the config file; reload only on SIGHUP.
    #[arg(long)]
    no_watch: bool,
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

/// How long a stopping pipeline gets to flush (at shutdown and on a reload).
const FLUSH: Duration = Duration::from_secs(10);

pub fn run(args: GatewayArgs) -> anyhow::Result<ExitCode> {
    logging::init(args.log_format, args.log_level);
    let config = load(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args, config))?;
    Ok(ExitCode::SUCCESS)
}

/// The config file with the flags applied; it must have a `notify:` section.
fn load(args: &GatewayArgs) -> anyhow::Result<Config> {
    let mut config = Config::load(&args.config)?;
    if let Some(listen) = &args.listen {
        config.web.listen_address = listen.clone();
    }
    if let Some(dir) = &args.state_dir {
        config.state.dir = Some(dir.clone());
    }
    if config.notify.is_none() {
        bail!(
            "{}: no notify: section, so no DingTalk receivers to deliver to",
            args.config.display()
        );
    }
    Ok(config)
}

/// What a pipeline is started from.
#[derive(Clone)]
struct PipelineConfig {
    notify: NotifyConfig,
    external_url: String,
    time_zone: TimeZone,
    outbox: Option<PathBuf>,
}

impl PipelineConfig {
    fn of(config: &Config) -> anyhow::Result<PipelineConfig> {
        Ok(PipelineConfig {
            notify: config.notify.clone().context("no notify: section")?,
            external_url: config.global.external_url.clone().unwrap_or_default(),
            time_zone: config.global.time_zone,
            outbox: crate::cmd::run::outbox_dir(config),
        })
    }

    /// Builds the receivers (reading tokens and secrets) without an outbox and drops them:
    /// what would fail to start fails here, while the running pipeline still serves.
    fn check(&self) -> anyhow::Result<()> {
        let options = PipelineOptions::daemon(&self.external_url, self.time_zone);
        Notifier::from_config(&self.notify, &options, false).context("notify")?;
        Ok(())
    }

    fn start(&self) -> anyhow::Result<Running> {
        let started = notify::start(
            &self.notify,
            &self.external_url,
            self.time_zone,
            self.outbox.clone(),
            false,
        )?;
        // The gateway has no engine: the alert side of the channel is unused.
        drop(started.notifier);
        Ok(Running {
            gateway: started.gateway,
            status: started.status,
            task: started.task,
            config: self.clone(),
        })
    }
}

/// A started notification pipeline.
struct Running {
    gateway: GatewayHandle,
    status: Arc<Mutex<NotifyStatus>>,
    task: JoinHandle<()>,
    config: PipelineConfig,
}

impl Running {
    /// Drops the last handle the server holds and waits (bounded) for the task's last flush;
    /// what it could not send stays in the outbox.
    async fn stop(self) {
        drop(self.gateway);
        let mut task = self.task;
        if tokio::time::timeout(FLUSH, &mut task).await.is_err() {
            warn!("notifications still unsent after {FLUSH:?}; they stay in the outbox");
            task.abort();
            let _ = task.await;
        }
    }
}

struct State {
    args: GatewayArgs,
    /// `None` only while a reload switches pipelines.
    running: Mutex<Option<Running>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    last_reload_successful: AtomicBool,
    reload_failures: AtomicU64,
}

impl State {
    fn running<T>(&self, f: impl FnOnce(&Running) -> T) -> Option<T> {
        self.running.lock().ok()?.as_ref().map(f)
    }

    fn take(&self) -> Option<Running> {
        self.running.lock().ok()?.take()
    }

    fn put(&self, running: Running) {
        if let Ok(mut slot) = self.running.lock() {
            *slot = Some(running);
        }
    }

    /// Re-reads the config file and restarts the pipeline on it. An invalid file keeps the
    /// running receivers (and sets `tocsin_config_last_reload_successful` to 0).
    async fn reload(&self) -> anyhow::Result<()> {
        let _one = self.reloading.lock().await;
        let result = self.switch().await;
        match &result {
            Ok(()) => info!("config reloaded"),
            Err(e) => {
                error!(err = %format!("{e:#}"), "reload failed; the previous receivers keep running");
                self.reload_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.last_reload_successful
            .store(result.is_ok(), Ordering::Relaxed);
        result
    }

    async fn switch(&self) -> anyhow::Result<()> {
        let next = PipelineConfig::of(&load(&self.args)?)?;
        next.check()?;
        let Some(old) = self.take() else {
            // The last switch failed to start anything: start this one.
            self.put(next.start()?);
            return Ok(());
        };
        let previous = old.config.clone();
        old.stop().await;
        match next.start() {
            Ok(running) => {
                self.put(running);
                Ok(())
            }
            Err(e) => {
                // Back to what ran before, so the gateway keeps delivering.
                match previous.start() {
                    Ok(running) => self.put(running),
                    Err(e) => {
                        error!(err = %format!("{e:#}"), "cannot restart the previous receivers; posts are refused until a reload succeeds")
                    }
                }
                Err(e)
            }
        }
    }
}

async fn serve(args: GatewayArgs, config: Config) -> anyhow::Result<()> {
    let limits = crate::http::Limits {
        max_connections: args.max_connections,
        read_timeout: args.read_timeout,
    };
    if let Some(dir) = &config.state.dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the state directory {}", dir.display()))?;
    }
    let changes = if args.no_watch {
        None
    } else {
        crate::watch::Changes::start(Some(&args.config), &[])
            .inspect_err(|e| warn!(err = %format!("{e:#}"), "not watching for changes"))
            .ok()
    };
    let running = PipelineConfig::of(&config)?.start()?;
    let listener = tokio::net::TcpListener::bind(&config.web.listen_address)
        .await
        .with_context(|| format!("cannot listen on {}", config.web.listen_address))?;
    info!(address = %listener.local_addr()?, "listening");
    let state = Arc::new(State {
        args,
        running: Mutex::new(Some(running)),
        reloading: tokio::sync::Mutex::new(()),
        last_reload_successful: AtomicBool::new(true),
        reload_failures: AtomicU64::new(0),
    });
    let reload_task = {
        let state = state.clone();
        tokio::spawn(async move { reload_on_sighup(state, changes).await })
    };
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
    reload_task.abort();
    let _ = reload_task.await;
    if let Some(running) = state.take() {
        running.stop().await;
    }
    Ok(())
}

/// Reloads on SIGHUP and, unless `--no-watch`, when the config file changes: the same
/// reload either way.
#[cfg(unix)]
async fn reload_on_sighup(state: Arc<State>, mut changes: Option<crate::watch::Changes>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        warn!("cannot listen for SIGHUP");
        return;
    };
    loop {
        tokio::select! {
            signal = hup.recv() => if signal.is_none() { return },
            _ = crate::cmd::run::next_change(&mut changes) => info!("config file changed; reloading"),
        }
        let _ = state.reload().await;
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(_state: Arc<State>, _changes: Option<crate::watch::Changes>) {}

const TEXT: &str = "text/plain; charset=utf-8";

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    if let Some(receiver) = gateway::receiver_of(&path) {
        let read_timeout = state.args.read_timeout;
        let Some(handle) = state.running(|r| r.gateway.clone()) else {
            return reply(
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                "reloading the receivers; retry\n",
            );
        };
        return gateway::handle(Some(&handle), &receiver, read_timeout, req).await;
    }
    match (req.method(), path.as_str()) {
        (&Method::GET, "/metrics") => {
            let mut page = Exposition::default();
            page.family(
                "tocsin_config_last_reload_successful",
                "gauge",
                "Whether the last config (re)load succeeded.",
            )
            .sample(
                "tocsin_config_last_reload_successful",
                [],
                if state.last_reload_successful.load(Ordering::Relaxed) {
                    1.0
                } else {
                    0.0
                },
            );
            page.family(
                "tocsin_config_reload_failures_total",
                "counter",
                "Config reloads that failed and kept the previous receivers.",
            )
            .sample(
                "tocsin_config_reload_failures_total",
                [],
                state.reload_failures.load(Ordering::Relaxed) as f64,
            );
            state.running(|r| {
                if let Ok(status) = r.status.lock() {
                    status.expose(&mut page);
                }
            });
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
            if state.running(|_| ()).is_some() {
                reply(StatusCode::OK, TEXT, "tocsin gateway is Ready.\n")
            } else {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    TEXT,
                    "Service Unavailable\n",
                )
            }
        }
        _ => reply(StatusCode::NOT_FOUND, TEXT, "404 page not found\n"),
    }
}

//! `tocsin run`: the daemon. Evaluates rule files against a Prometheus datasource, serves
//! the Prometheus-shaped API and `/metrics`, reloads on SIGHUP and `/-/reload`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use anyhow::{bail, Context};
use clap::Args;
use tocsin_engine::runner::{AlertNotifier, Engine, EngineOptions};
use tocsin_engine::RestorePolicy;
use tocsin_query::remote_write::DEFAULT_QUEUE_CAPACITY;
use tocsin_query::{PrometheusClient, RemoteWriteClient, RemoteWriteQueue};
use tracing::{error, info, warn};

use crate::notify;
use crate::remote::{RemoteWriteOutputs, Tee};

use crate::config::{self, Config};
use crate::logging::{self, LogFormat, LogLevel};
use crate::web::{self, WebState};

#[derive(Args)]
pub struct RunArgs {
    /// Configuration file (see README). Quick flags below override or extend it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Prometheus base URL to query, e.g. http://127.0.0.1:9090.
    #[arg(long, value_name = "URL")]
    datasource: Option<String>,
    /// Rule files or globs (repeatable); added to the config's rule_files.
    #[arg(long = "rules", value_name = "GLOB")]
    rules: Vec<String>,
    /// Address of the HTTP server (API, /metrics, reload).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Directory for persisted alert state (and the notification outbox).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Default evaluation interval for groups without one (Prometheus syntax, e.g. 30s).
    #[arg(long, value_name = "DURATION")]
    evaluation_interval: Option<String>,
    /// Evaluate and log what would be notified, without sending anything.
    #[arg(long)]
    dry_run: bool,
    /// Run as a shadow next to production: no remote write, `shadow="true"` on exposed
    /// series, notifications only logged (README, "A safe shadow next to production").
    #[arg(long)]
    shadow: bool,
    /// With --shadow: send notifications anyway (they carry `shadow="true"`).
    #[arg(long, requires = "shadow")]
    shadow_notify: bool,
    /// Enable POST /-/reload (as Prometheus's --web.enable-lifecycle).
    #[arg(long = "web.enable-lifecycle")]
    enable_lifecycle: bool,
    /// Do not watch the config file and the rule globs' directories; reload only on SIGHUP
    /// or POST /-/reload.
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

/// How long shutdown waits for the last notification flush.
const SHUTDOWN_FLUSH: StdDuration = StdDuration::from_secs(10);

pub fn run(mut args: RunArgs) -> anyhow::Result<std::process::ExitCode> {
    logging::init(args.log_format, args.log_level);
    let (mut config, base) = settings(&args)?;
    if args.shadow {
        args.dry_run = crate::shadow::apply(&mut config, args.dry_run, args.shadow_notify);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args, config, base))?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// The config file (or an empty one) with the quick flags applied, and the directory
/// relative rule globs are resolved against.
fn settings(args: &RunArgs) -> anyhow::Result<(Config, PathBuf)> {
    let (mut config, base) = match &args.config {
        Some(path) => (
            Config::load(path)?,
            path.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        ),
        None => (Config::default(), PathBuf::from(".")),
    };
    if let Some(url) = &args.datasource {
        match &mut config.datasource {
            Some(ds) => ds.url = url.clone(),
            None => config.datasource = Some(config::HttpClient::from_url(url.clone())),
        }
    }
    // Quick-flag globs are relative to the working directory, config ones to the file.
    let cwd = std::env::current_dir().context("reading the working directory")?;
    config.rule_files = config
        .rule_files
        .iter()
        .map(|g| absolute(&base, g))
        .chain(args.rules.iter().map(|g| absolute(&cwd, g)))
        .collect();
    if let Some(listen) = &args.listen {
        config.web.listen_address = listen.clone();
    }
    if let Some(dir) = &args.state_dir {
        config.state.dir = Some(dir.clone());
    }
    if let Some(interval) = &args.evaluation_interval {
        config.global.evaluation_interval = tocsin_rules::Duration::parse(interval)
            .map_err(|e| anyhow::anyhow!("--evaluation-interval: {e}"))?;
    }
    if config.datasource.is_none() {
        bail!("no datasource: give --datasource URL or a config file with datasource.url");
    }
    if config.rule_files.is_empty() {
        bail!("no rule files: give --rules GLOB or rule_files in the config file");
    }
    Ok((config, base))
}

/// `<state dir>/outbox`, where notifications wait until a receiver takes them.
pub fn outbox_dir(config: &Config) -> Option<PathBuf> {
    config.state.dir.as_ref().map(|d| d.join("outbox"))
}

fn absolute(base: &Path, glob: &str) -> String {
    if Path::new(glob).is_absolute() {
        glob.to_string()
    } else {
        base.join(glob).to_string_lossy().into_owned()
    }
}

/// Expands the rule globs: lexical order per pattern, a pattern matching nothing is not an
/// error (as in Prometheus). Every match is kept, as Go's `filepath.Glob` keeps it: a
/// dangling symbolic link, a link loop or a directory then fails loading the rule set with
/// the reason (`open rules/a.yaml: too many levels of symbolic links`), as in Prometheus,
/// instead of being skipped.
pub fn expand_rule_globs(globs: &[String]) -> anyhow::Result<Vec<String>> {
    let mut files = Vec::new();
    for pattern in globs {
        let mut matched: Vec<String> = glob::glob(pattern)
            .with_context(|| format!("bad rule_files pattern {pattern:?}"))?
            .filter_map(Result::ok)
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        matched.sort();
        for f in matched {
            if !files.contains(&f) {
                files.push(f);
            }
        }
    }
    Ok(files)
}

async fn serve(args: RunArgs, config: Config, _base: PathBuf) -> anyhow::Result<()> {
    let Some(ds) = &config.datasource else {
        bail!("no datasource configured");
    };
    if let Some(dir) = &config.state.dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the state directory {}", dir.display()))?;
    }
    let ds_config = ds.datasource_config().context("datasource")?;
    let query_timeout = ds_config.timeout;
    let client = PrometheusClient::new(ds_config).context("datasource")?;
    let outputs = Arc::new(match args.shadow {
        true => web::outputs::LatestOutputs::labelled(crate::shadow::LABEL),
        false => web::outputs::LatestOutputs::default(),
    });
    let remote = match &config.remote_write {
        Some(rw) => {
            let client = RemoteWriteClient::new(rw.remote_write_config().context("remote_write")?)
                .context("remote_write")?;
            let queue = RemoteWriteQueue::start(client, DEFAULT_QUEUE_CAPACITY);
            Some(Arc::new(RemoteWriteOutputs(queue)))
        }
        None => None,
    };
    let engine_outputs = Arc::new(Tee(outputs.clone(), remote));
    let external_url = config.global.external_url.clone().unwrap_or_default();
    let (notifier, notify_task, notify_web): (Arc<dyn AlertNotifier>, _, _) = match &config.notify {
        Some(notify_config) => {
            let started = notify::start(
                notify_config,
                &external_url,
                config.global.time_zone,
                outbox_dir(&config),
                args.dry_run,
            )?;
            (
                Arc::new(started.notifier),
                Some(started.task),
                Some((started.gateway, started.status)),
            )
        }
        None => (Arc::new(notify::LogNotifier), None, None),
    };
    let options = EngineOptions {
        default_interval: config.global.evaluation_interval.as_std(),
        external_labels: config.global.external_labels.clone(),
        external_url,
        resend_delay: config.global.resend_delay.as_std(),
        max_concurrent_queries: config.global.max_concurrent_queries,
        state_file: config.state.dir.as_ref().map(|d| d.join("alerts.json")),
        restore: RestorePolicy::default(),
        query_timeout,
    };
    let client = Arc::new(client);
    let state_file = options.state_file.clone();
    let (interval, tolerance) = (options.default_interval, options.restore.outage_tolerance);
    let engine = Engine::new(options, client.clone(), engine_outputs, notifier);

    // Watching starts before the first load, so an edit made while it runs is seen.
    let changes = if args.no_watch {
        None
    } else {
        crate::watch::Changes::start(args.config.as_deref(), &config.rule_files)
            .inspect_err(|e| warn!(err = %format!("{e:#}"), "not watching for changes"))
            .ok()
    };
    let globs = config.rule_files.clone();
    let files = tokio::task::spawn_blocking(move || expand_rule_globs(&globs))
        .await
        .context("expanding the rule globs")??;
    if config.remote_write.is_some() {
        restore_for_timers(&client, &files, state_file.as_deref(), interval, tolerance).await;
    }
    let loader = engine.clone();
    let load_files = files.clone();
    let loaded = tokio::task::spawn_blocking(move || loader.apply(&load_files))
        .await
        .context("loading the rule files")?;
    match loaded {
        Ok(summary) => info!(
            files = files.len(),
            groups = summary.groups,
            rules = summary.rules,
            "rules loaded"
        ),
        Err(reports) => {
            for report in &reports {
                for d in report.diagnostics.iter().filter(|d| d.is_error()) {
                    error!(err = %d.located(&report.path), "loading rules failed");
                }
            }
            bail!("invalid rule files; nothing started");
        }
    }

    let listener = tokio::net::TcpListener::bind(&config.web.listen_address)
        .await
        .with_context(|| format!("cannot listen on {}", config.web.listen_address))?;
    let address = listener.local_addr()?;
    info!(address = %address, "listening");

    let state = Arc::new(WebState::new(
        engine.clone(),
        outputs,
        config.rule_files.clone(),
        args.enable_lifecycle,
        notify_web,
        args.read_timeout,
    ));
    let reload_state = state.clone();
    let sighup_task = tokio::spawn(async move { reload_on_sighup(reload_state, changes).await });

    let shutdown = crate::http::shutdown_signal();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let engine_task = {
        let engine = engine.clone();
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            engine
                .run(async move {
                    let _ = stop_rx.wait_for(|stop| *stop).await;
                })
                .await
        })
    };
    let handler = {
        let state = state.clone();
        move |req| web::handle(state.clone(), req)
    };
    let limits = crate::http::Limits {
        max_connections: args.max_connections,
        read_timeout: args.read_timeout,
    };
    crate::http::serve("tocsin run", listener, limits, handler, shutdown).await;
    info!("shutting down");
    let _ = stop_tx.send(true);
    if let Err(e) = engine_task.await {
        warn!(err = %e, "engine task ended abnormally");
    }
    // The engine holds the only sender: with it and every handle on it gone (the SIGHUP
    // task holds one), the pipeline flushes once more and stops. A receiver that does not
    // answer must not hold the shutdown: what is unsent stays in the outbox.
    sighup_task.abort();
    let _ = sighup_task.await;
    drop(engine);
    drop(state);
    if let Some(task) = notify_task {
        if tokio::time::timeout(SHUTDOWN_FLUSH, task).await.is_err() {
            warn!("notifications still unsent at shutdown; they stay in the outbox");
        }
    }
    Ok(())
}

/// With no state file (an empty state directory) and remote write on, the `for` timers are
/// in the datasource's `ALERTS_FOR_STATE`: written as a state file for the first load.
async fn restore_for_timers(
    client: &PrometheusClient,
    files: &[String],
    state_file: Option<&Path>,
    interval: StdDuration,
    tolerance: StdDuration,
) {
    let Some(state_file) = state_file.filter(|f| !f.exists()) else {
        return;
    };
    let groups = tocsin_engine::restore::group_defs(files, interval);
    let now = std::time::SystemTime::now();
    match tocsin_engine::restore::restore_from_for_state(
        client, &groups, state_file, now, tolerance,
    )
    .await
    {
        Ok(r) => info!(
            alerts = r.alerts,
            groups = r.groups,
            "no state file: for timers restored from ALERTS_FOR_STATE"
        ),
        Err(e) => warn!(
            err = %e,
            "no state file, and ALERTS_FOR_STATE could not be read; starting afresh"
        ),
    }
}

/// Reloads on SIGHUP and, unless `--no-watch`, when a watched file changes: the same
/// reload either way.
#[cfg(unix)]
async fn reload_on_sighup(state: Arc<WebState>, mut changes: Option<crate::watch::Changes>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        warn!("cannot listen for SIGHUP; reload with POST /-/reload");
        return;
    };
    loop {
        tokio::select! {
            signal = hup.recv() => if signal.is_none() { return },
            changed = next_change(&mut changes) => {
                if changed.config {
                    warn!("config file changed; a reload re-reads the rule files only, restart for other settings");
                }
                info!("watched files changed; reloading");
            }
        }
        let _ = state.reload().await;
    }
}

pub async fn next_change(changes: &mut Option<crate::watch::Changes>) -> crate::watch::Changed {
    match changes {
        Some(changes) => changes.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn reload_on_sighup(_state: Arc<WebState>, _changes: Option<crate::watch::Changes>) {}

//! The daemon's HTTP surface: Prometheus-shaped `/api/v1/rules` and `/api/v1/alerts`,
//! `/metrics`, health, readiness, reload, and the DingTalk gateway endpoint.

mod api;
pub mod exposition;
pub mod gateway;
pub mod outputs;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use tocsin_engine::runner::Engine;
use tracing::{error, info};

use crate::http::{reply, Reply};
use crate::notify::{GatewayHandle, NotifyStatus};
use exposition::Exposition;
use outputs::LatestOutputs;

/// What the handlers share.
pub struct WebState {
    engine: Engine,
    outputs: Arc<LatestOutputs>,
    rule_globs: Vec<String>,
    lifecycle: bool,
    reload_failures: AtomicU64,
    /// `--web.read-timeout`, for gateway bodies.
    read_timeout: std::time::Duration,
    /// The notification task, when `notify:` is configured.
    notify: Option<(GatewayHandle, Arc<Mutex<NotifyStatus>>)>,
}

impl WebState {
    pub fn new(
        engine: Engine,
        outputs: Arc<LatestOutputs>,
        rule_globs: Vec<String>,
        lifecycle: bool,
        notify: Option<(GatewayHandle, Arc<Mutex<NotifyStatus>>)>,
        read_timeout: std::time::Duration,
    ) -> Self {
        WebState {
            engine,
            outputs,
            rule_globs,
            lifecycle,
            reload_failures: AtomicU64::new(0),
            read_timeout,
            notify,
        }
    }

    /// Re-reads the rule files; any invalid file keeps every old rule running. The one
    /// reload entry point (SIGHUP, `POST /-/reload`, and anything else that wants the
    /// rules re-read): globbing, file I/O and parsing run on the blocking pool, never on
    /// the async threads that serve the API.
    pub async fn reload(self: &Arc<Self>) -> Result<(), String> {
        let state = Arc::clone(self);
        tokio::task::spawn_blocking(move || state.reload_now())
            .await
            .map_err(|e| format!("the reload task failed: {e}"))?
    }

    /// [`WebState::reload`] on the calling thread (blocking file I/O).
    fn reload_now(&self) -> Result<(), String> {
        let result = crate::cmd::run::expand_rule_globs(&self.rule_globs)
            .map_err(|e| e.to_string())
            .and_then(|files| {
                self.engine.apply(&files).map_err(|reports| {
                    let mut lines = Vec::new();
                    for report in &reports {
                        for d in report.diagnostics.iter().filter(|d| d.is_error()) {
                            lines.push(d.located(&report.path).to_string());
                        }
                    }
                    lines.join("\n")
                })
            });
        match &result {
            Ok(summary) => {
                info!(
                    groups = summary.groups,
                    rules = summary.rules,
                    "rules reloaded"
                );
            }
            Err(e) => {
                error!(err = %e, "reload failed; the previous rules keep running");
                self.reload_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        result.map(|_| ())
    }

    fn metrics(&self) -> String {
        let mut page = Exposition::default();
        page.family(
            "tocsin_config_reload_failures_total",
            "counter",
            "Rule reloads that failed and kept the previous rules.",
        )
        .sample(
            "tocsin_config_reload_failures_total",
            [],
            self.reload_failures.load(Ordering::Relaxed) as f64,
        );
        api::engine_metrics(&self.engine, &mut page);
        if let Some((_, status)) = &self.notify {
            if let Ok(status) = status.lock() {
                status.expose(&mut page);
            }
        }
        self.outputs.expose(&mut page);
        page.finish()
    }
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

pub async fn handle(state: Arc<WebState>, req: Request<Incoming>) -> Reply {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    if let Some(receiver) = gateway::receiver_of(&path) {
        let handle = state.notify.as_ref().map(|(h, _)| h);
        return gateway::handle(handle, &receiver, state.read_timeout, req).await;
    }
    match (req.method(), path.as_str()) {
        (&Method::GET, "/api/v1/rules") => match api::rules(&state.engine, &query) {
            Ok(body) => reply(StatusCode::OK, JSON, body),
            Err(body) => reply(StatusCode::BAD_REQUEST, JSON, body),
        },
        (&Method::GET, "/api/v1/alerts") => reply(StatusCode::OK, JSON, api::alerts(&state.engine)),
        (&Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            state.metrics(),
        ),
        (&Method::GET | &Method::HEAD, "/-/healthy") => {
            reply(StatusCode::OK, TEXT, "tocsin is Healthy.\n")
        }
        (&Method::GET | &Method::HEAD, "/-/ready") => {
            reply(StatusCode::OK, TEXT, "tocsin is Ready.\n")
        }
        (&Method::POST | &Method::PUT, "/-/reload") => {
            if !state.lifecycle {
                return reply(
                    StatusCode::FORBIDDEN,
                    TEXT,
                    "Lifecycle API is not enabled.\n",
                );
            }
            match state.reload().await {
                Ok(()) => reply(StatusCode::OK, TEXT, ""),
                Err(e) => reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    TEXT,
                    format!("failed to reload rules: {e}\n"),
                ),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, TEXT, "404 page not found\n"),
    }
}

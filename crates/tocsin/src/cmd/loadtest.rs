//! `tocsin loadtest`: load tests as a command (README.md, "`tocsin loadtest alerts|rules`").

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use tocsin_notify::config::PromDuration;

use crate::config::Config;
use crate::loadtest::alerts::{self, Target};
use crate::loadtest::progress::Progress;
use crate::loadtest::scenario::Scenario;
use crate::logging::{self, LogFormat, LogLevel};

#[derive(Args)]
pub struct LoadtestArgs {
    #[command(subcommand)]
    kind: Kind,
}

#[derive(Subcommand)]
enum Kind {
    /// Alerts through the notification pipeline (`--config`), or into an existing
    /// Alertmanager or DingTalk gateway (`--target`); exit 1 when an alert is lost or the
    /// deadline passes.
    Alerts(Box<AlertsArgs>),
    /// N generated rules (the shapes of benches/gen_rules.py) at one interval against a real
    /// Prometheus for a while: evaluations per second, missed iterations, latencies, and
    /// what it cost tocsin (CPU, peak memory) and Prometheus (queries, its query time).
    Rules(RulesArgs),
}

#[derive(Args)]
struct RulesArgs {
    /// Prometheus base URL, e.g. http://127.0.0.1:9090.
    #[arg(long, value_name = "URL")]
    datasource: String,
    /// Rules to generate.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    rules: usize,
    /// Rules per group.
    #[arg(long, value_name = "N", default_value_t = 20)]
    group_size: usize,
    /// Every group's evaluation interval.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "15s")]
    interval: Duration,
    /// How long to run.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "2m")]
    duration: Duration,
    /// Queries in flight at once (as global.max_concurrent_queries).
    #[arg(long, value_name = "N", default_value_t = 16)]
    max_concurrent_queries: usize,
    /// Seed of the rule generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Warn)]
    log_level: LogLevel,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(Args)]
struct AlertsArgs {
    /// Config file whose `notify:` section (and `global.external_url`) is used as `tocsin
    /// run` uses it. Its `state.dir` is not: a running daemon's outbox is left alone.
    #[arg(long, value_name = "FILE", required_unless_present = "target")]
    config: Option<PathBuf>,
    /// Load an existing chain instead: `alertmanager URL` (POST /api/v2/alerts) or
    /// `gateway URL` (webhook v4 posts, e.g. http://gw:9096/dingtalk/robot/send).
    #[arg(long, num_args = 2, value_names = ["KIND", "URL"], conflicts_with = "config")]
    target: Vec<String>,
    /// The `tocsin sink dingtalk` the chain delivers to (base URL); what it accepted is
    /// what the report counts. Required with --target.
    #[arg(long, value_name = "URL", requires = "target")]
    sink: Option<String>,
    /// Scenario file (YAML: alerts, alertnames, labels, group_by, at_once, ramp,
    /// flap_rate, flap_after, fire_for); the flags below override it.
    #[arg(long, value_name = "FILE")]
    scenario: Option<PathBuf>,
    /// Alerts in all.
    #[arg(long, value_name = "N")]
    alerts: Option<usize>,
    /// Distinct alert names.
    #[arg(long, value_name = "N")]
    alertnames: Option<usize>,
    /// A label and how many distinct values it takes, e.g. namespace=100 (repeatable).
    #[arg(long = "label", value_name = "NAME=COUNT")]
    labels: Vec<String>,
    /// Labels the root route groups by (comma-separated), instead of the config's.
    #[arg(long, value_name = "LABELS", value_delimiter = ',')]
    group_by: Option<Vec<String>>,
    /// Alerts that fire at the start; the rest arrive evenly over --ramp.
    #[arg(long, value_name = "N")]
    at_once: Option<usize>,
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    ramp: Option<Duration>,
    /// Fraction (0–1) of alerts that resolve --flap-after after firing and fire again.
    #[arg(long, value_name = "F")]
    flap_rate: Option<f64>,
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    flap_after: Option<Duration>,
    /// How long each alert fires before it resolves (default: to the end).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    fire_for: Option<Duration>,
    /// State directory for the load test's outbox (default: a temporary one, removed at
    /// the end).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Give up (exit 1, saying what is pending) when not everything is delivered by then.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30m")]
    deadline: Duration,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[arg(long = "log.level", value_enum, default_value_t = LogLevel::Warn)]
    log_level: LogLevel,
}

fn duration(text: &str) -> Result<Duration, String> {
    tocsin_notify::time::parse_duration(text)
}

pub fn run(args: LoadtestArgs) -> anyhow::Result<ExitCode> {
    match args.kind {
        Kind::Alerts(a) => run_alerts(*a),
        Kind::Rules(a) => run_rules(a),
    }
}

fn scenario(a: &AlertsArgs) -> anyhow::Result<Scenario> {
    let mut s = match &a.scenario {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading scenario file {}", path.display()))?;
            serde_saphyr::from_str::<Scenario>(&text).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!(":{}:{}", l.line(), l.column()))
                    .unwrap_or_default();
                anyhow::anyhow!("{}{at}: {}", path.display(), e.without_snippet())
            })?
        }
        None => Scenario::default(),
    };
    if let Some(n) = a.alerts {
        s.alerts = n;
    }
    if let Some(n) = a.alertnames {
        s.alertnames = n;
    }
    for l in &a.labels {
        let parsed = l
            .split_once('=')
            .and_then(|(k, v)| Some((k.trim(), v.trim().parse::<usize>().ok()?)))
            .filter(|(k, _)| !k.is_empty());
        let Some((name, n)) = parsed else {
            bail!("--label {l:?}: expected NAME=COUNT, e.g. namespace=100");
        };
        s.labels.insert(name.to_owned(), n);
    }
    if let Some(g) = &a.group_by {
        s.group_by = Some(g.clone());
    }
    if let Some(n) = a.at_once {
        s.at_once = Some(n);
    }
    if let Some(d) = a.ramp {
        s.ramp = PromDuration(d);
    }
    if let Some(f) = a.flap_rate {
        s.flap_rate = f;
    }
    if let Some(d) = a.flap_after {
        s.flap_after = PromDuration(d);
    }
    if let Some(d) = a.fire_for {
        s.fire_for = Some(PromDuration(d));
    }
    s.validate().map_err(|e| anyhow::anyhow!("scenario: {e}"))?;
    Ok(s)
}

fn run_alerts(a: AlertsArgs) -> anyhow::Result<ExitCode> {
    logging::init(LogFormat::Logfmt, a.log_level);
    let scenario = scenario(&a)?;
    let target = match (a.target.as_slice(), &a.config) {
        ([kind, url], _) => {
            if a.sink.is_none() {
                bail!("--target needs --sink URL: the `tocsin sink dingtalk` the chain delivers to, where the load test sees what arrived");
            }
            match kind.as_str() {
                "alertmanager" => Target::Alertmanager(url.clone()),
                "gateway" => Target::Gateway(url.clone()),
                other => bail!("--target {other:?}: expected alertmanager or gateway"),
            }
        }
        (_, Some(path)) => {
            let config = Config::load(path)?;
            let Some(notify) = config.notify.clone() else {
                bail!("{}: no notify: section to load", path.display());
            };
            Target::Pipeline {
                notify: Box::new(notify),
                external_url: config.global.external_url.clone().unwrap_or_default(),
                time_zone: config.global.time_zone,
                state_dir: a.state_dir.clone(),
            }
        }
        _ => bail!("give --config FILE or --target KIND URL"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let run = alerts::Run {
        scenario,
        target,
        sink: a.sink.clone(),
        deadline: a.deadline,
    };
    let mut progress = Progress::new();
    let report = runtime.block_on(alerts::run(run, &mut progress))?;
    match a.format {
        Format::Text => print!("{}", report.text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).context("writing the report")?
        ),
    }
    if let Some(p) = &report.pending {
        eprintln!("tocsin: loadtest: the deadline passed with work pending: {p}");
    } else if report.alerts_lost > 0 {
        eprintln!(
            "tocsin: loadtest: {} alerts lost (neither listed nor counted in a delivered message)",
            report.alerts_lost
        );
    } else if report.undelivered_notifications.unwrap_or(0) > 0 {
        eprintln!("tocsin: loadtest: notifications left undelivered");
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_rules(a: RulesArgs) -> anyhow::Result<ExitCode> {
    logging::init(LogFormat::Logfmt, a.log_level);
    if a.interval.is_zero() || a.duration.is_zero() {
        bail!("--interval and --duration must be more than 0");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let run = crate::loadtest::rules::Run {
        datasource: a.datasource,
        rules: a.rules,
        group_size: a.group_size,
        interval: a.interval,
        duration: a.duration,
        max_concurrent_queries: a.max_concurrent_queries.max(1),
        seed: a.seed,
    };
    let mut progress = Progress::new();
    let report = runtime.block_on(crate::loadtest::rules::run(run, &mut progress))?;
    match a.format {
        Format::Text => print!("{}", report.text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).context("writing the report")?
        ),
    }
    Ok(ExitCode::SUCCESS)
}

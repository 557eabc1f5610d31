//! `tocsin diff`: backtest two rule sets over a Prometheus's history, or evaluate them live
//! (`--live`), and compare them alert by alert (docs/diff.md). Flags and output here; the
//! work is in `tocsin-diff`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use tocsin_diff::{BacktestOptions, Counter, LoadFailure, RuleSet};
use tocsin_engine::Timestamp;

#[derive(Args)]
pub struct DiffArgs {
    /// Prometheus holding the history (base URL).
    #[arg(long, value_name = "URL")]
    datasource: String,
    /// The deployed rule set: files, directories or globs.
    #[arg(long, value_name = "PATH", num_args = 1.., required_unless_present = "baseline")]
    old: Vec<String>,
    /// Evaluate live for this long (Prometheus duration) instead of over history, on
    /// Prometheus's own slots (docs/diff.md, "Live").
    #[arg(long, value_name = "DURATION")]
    live: Option<String>,
    /// With --live: compare with the alerts the datasource itself reports.
    #[arg(long, value_enum, requires = "live", conflicts_with = "old")]
    baseline: Option<BaselineArg>,
    /// With --live: how long the start is not compared (default: the longest
    /// `for` + `keep_firing_for` + interval of the rules).
    #[arg(long, value_name = "DURATION", requires = "live")]
    warm_up: Option<String>,
    /// The candidate rule set: files, directories or globs.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    new: Vec<String>,
    /// How far back to replay (Prometheus duration).
    #[arg(long, default_value = "7d", conflicts_with = "live")]
    range: String,
    /// End of the window: `now`, Unix seconds, or RFC 3339 (`2026-01-02T15:04:05Z`).
    #[arg(long, default_value = "now", conflicts_with = "live")]
    end: String,
    /// Evaluation step for every rule (default: each group's interval).
    #[arg(long, conflicts_with = "live")]
    step: Option<String>,
    /// The interval of groups that set none (Prometheus's global evaluation_interval).
    #[arg(long, default_value = "1m")]
    evaluation_interval: String,
    /// Firing intervals the new set may add before the verdict fails.
    #[arg(long, default_value_t = 0)]
    allow_added: usize,
    /// Firing intervals the new set may lose before the verdict fails.
    #[arg(long, default_value_t = 0)]
    allow_removed: usize,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Also write a self-contained HTML report with a timeline per rule.
    #[arg(long, value_name = "FILE")]
    html: Option<String>,
    /// Steps per range query (Prometheus allows at most 11,000).
    #[arg(long, default_value_t = tocsin_diff::backtest::MAX_POINTS_PER_SERIES)]
    max_points: usize,
    /// Samples one range query may hold at once on the server (its peakSamples; keep
    /// under Prometheus's --query.max-samples, 50,000,000 by default).
    #[arg(long, default_value_t = 25_000_000)]
    max_samples: u64,
    /// Rules replayed at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// `$externalLabels` for templates, `NAME=VALUE` (repeatable).
    #[arg(long = "external-label", value_name = "NAME=VALUE")]
    external_labels: Vec<String>,
    /// `$externalURL` for templates.
    #[arg(long, default_value = "")]
    external_url: String,
    /// Timeout of one range query.
    #[arg(long, default_value = "2m")]
    query_timeout: String,
    /// `tocsin run`'s config file: its `notify:` section's route is run over both sets'
    /// alerts on simulated time, and the report says what it would have sent (its
    /// `global.resend_delay`, `external_labels` and `external_url` apply too, unless the
    /// flags above set them, and `global.time_zone`).
    #[arg(long, value_name = "FILE", conflicts_with = "live")]
    config: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BaselineArg {
    /// The deployed Prometheus's own `/api/v1/rules`.
    Prometheus,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
    Markdown,
}

fn duration(flag: &str, text: &str) -> anyhow::Result<Duration> {
    let d = tocsin_rules::Duration::parse(text).map_err(|e| anyhow!("--{flag}: {e}"))?;
    Ok(d.as_std())
}

fn parse_end(text: &str) -> anyhow::Result<Timestamp> {
    if text == "now" {
        return Ok(Timestamp::now());
    }
    if let Ok(secs) = text.parse::<f64>() {
        if secs.is_finite() {
            return Ok(Timestamp::from_millis((secs * 1000.0).round() as i64));
        }
    }
    tocsin_diff::report::parse_rfc3339(text)
        .map(Timestamp::from_millis)
        .ok_or_else(|| {
            anyhow!("--end: {text:?} is not `now`, Unix seconds or RFC 3339 (UTC, ending in Z)")
        })
}

/// Loads one set; invalid files print as `tocsin check` prints them.
fn load(paths: &[String], interval: Duration, which: &str) -> anyhow::Result<Result<RuleSet, ()>> {
    match tocsin_diff::load_rule_set(paths, interval) {
        Ok(set) => Ok(Ok(set)),
        Err(LoadFailure::Usage(e)) => bail!("--{which}: {e}"),
        Err(LoadFailure::Invalid(reports)) => {
            let mut err = std::io::stderr().lock();
            writeln!(err, "tocsin diff: the {which} rule set does not load:")?;
            for report in &reports {
                for d in report.diagnostics.iter().filter(|d| d.is_error()) {
                    writeln!(err, "{}", d.located(&report.path))?;
                }
            }
            Ok(Err(()))
        }
    }
}

pub fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let range = duration("range", &args.range)?;
    let default_interval = duration("evaluation-interval", &args.evaluation_interval)?;
    let step = args
        .step
        .as_deref()
        .map(|s| duration("step", s))
        .transpose()?;
    if step.is_some_and(|s| s.is_zero()) || default_interval.is_zero() || range.is_zero() {
        bail!("--range, --step and --evaluation-interval must be more than 0");
    }
    let end = parse_end(&args.end)?;
    let timeout = duration("query-timeout", &args.query_timeout)?;
    let mut external_labels = BTreeMap::new();
    for pair in &args.external_labels {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("--external-label {pair:?}: expected NAME=VALUE"))?;
        external_labels.insert(k.to_string(), v.to_string());
    }
    if args.max_points == 0 || args.max_points > tocsin_diff::backtest::MAX_POINTS_PER_SERIES {
        bail!("--max-points must be between 1 and 11000");
    }

    // An invalid baseline is a usage problem (2); an invalid candidate is the regression (1).
    let old = if args.old.is_empty() {
        None
    } else {
        match load(&args.old, default_interval, "old")? {
            Ok(set) => Some(set),
            Err(()) => return Ok(ExitCode::from(2)),
        }
    };
    let new = match load(&args.new, default_interval, "new")? {
        Ok(set) => set,
        Err(()) => return Ok(ExitCode::from(1)),
    };

    let client = super::datasource_client(&args.datasource, timeout)?;

    let mut options = BacktestOptions::new(end - range, end);
    if let Some(path) = &args.config {
        let config = crate::config::Config::load(path)?;
        let Some(notify) = config.notify else {
            bail!(
                "--config {}: no notify: section, so no route to simulate",
                path.display()
            );
        };
        let global = config.global;
        if external_labels.is_empty() {
            external_labels = global.external_labels;
        }
        let external_url = match args.external_url.is_empty() {
            true => global.external_url.unwrap_or_default(),
            false => args.external_url.clone(),
        };
        // A route the daemon would refuse is refused here, before any query.
        tocsin_notify::pipeline::Pipeline::new(
            &notify,
            &tocsin_notify::pipeline::PipelineOptions::daemon(&external_url, global.time_zone),
        )
        .with_context(|| format!("--config {}: notify", path.display()))?;
        options.notify = Some(Arc::new(notify));
        options.resend_delay = global.resend_delay.as_std();
        options.time_zone = global.time_zone;
        options.external_url = external_url;
    } else {
        options.external_url = args.external_url.clone();
    }
    options.step = step;
    options.max_points = args.max_points;
    options.max_samples = args.max_samples;
    options.concurrency = args.concurrency.max(1);
    options.external_labels = external_labels;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    if let Some(live) = &args.live {
        let length = duration("live", live)?;
        let warm_up = args
            .warm_up
            .as_deref()
            .map(|w| duration("warm-up", w))
            .transpose()?;
        let baseline = match old {
            Some(set) => tocsin_diff::live::Baseline::Rules(set),
            None => tocsin_diff::live::Baseline::Prometheus,
        };
        let (computed, reason) = match &baseline {
            tocsin_diff::live::Baseline::Rules(set) => tocsin_diff::live::warm_up(&[set, &new]),
            tocsin_diff::live::Baseline::Prometheus => tocsin_diff::live::warm_up(&[&new]),
        };
        let warm = warm_up.unwrap_or(computed);
        if length <= warm {
            bail!(
                "--live {live}: not longer than the warm-up ({}, {reason}): nothing would be compared",
                tocsin_diff::load::fmt_duration(warm)
            );
        }
        let options = tocsin_diff::live::LiveOptions {
            duration: length,
            warm_up,
            backtest: options,
        };
        let report = runtime.block_on(async {
            client
                .instant_query("vector(1)", Timestamp::now().to_system_time())
                .await
                .map_err(|e| anyhow!("--datasource: {e}"))?;
            let counter = Arc::new(Counter::default());
            let ticker = tokio::spawn(show_progress(counter.clone(), "seconds"));
            let report = tocsin_diff::live::diff_live(
                &client,
                baseline,
                &new,
                options,
                args.allow_added,
                args.allow_removed,
                counter.clone(),
            )
            .await
            .map_err(|e| anyhow!("{e}"));
            ticker.abort();
            finish_progress(&counter, "seconds");
            report
        })?;
        return print(&args, &report);
    }
    let Some(old) = old else {
        bail!("--baseline prometheus needs --live");
    };
    let mut report = runtime.block_on(async {
        // A datasource that does not answer would make both sides fail alike and pass.
        client
            .instant_query("vector(1)", end.to_system_time())
            .await
            .map_err(|e| anyhow!("--datasource: {e}"))?;
        let counter = Arc::new(Counter::default());
        let ticker = tokio::spawn(show_progress(counter.clone(), "steps"));
        let report = tocsin_diff::diff(
            &client,
            &old,
            &new,
            options,
            args.allow_added,
            args.allow_removed,
            counter.clone(),
        )
        .await;
        ticker.abort();
        finish_progress(&counter, "steps");
        anyhow::Ok(report)
    })?;
    if let (Some(n), Some(path)) = (&mut report.notifications, &args.config) {
        n.config = path.display().to_string();
    }
    print(&args, &report)
}

/// Prints the report in the chosen format (and the HTML page); the verdict as exit code.
fn print(args: &DiffArgs, report: &tocsin_diff::Report) -> anyhow::Result<ExitCode> {
    let body = match args.format {
        Format::Text => tocsin_diff::render::text(report),
        Format::Markdown => tocsin_diff::render::markdown(report),
        Format::Json => serde_json::to_string_pretty(report)? + "\n",
    };
    let mut out = std::io::stdout().lock();
    out.write_all(body.as_bytes())?;
    out.flush()?;
    if let Some(path) = &args.html {
        std::fs::write(path, tocsin_diff::render::html(report))
            .with_context(|| format!("writing {path}"))?;
    }
    Ok(ExitCode::from(if report.regressed { 1 } else { 0 }))
}

/// A progress bar on a terminal; a line every 10 seconds otherwise (CI logs).
async fn show_progress(counter: Arc<Counter>, unit: &'static str) {
    let tty = std::io::stderr().is_terminal();
    let period = if tty {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(10)
    };
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        let done = counter.done.load(Ordering::Relaxed);
        let total = counter.total.load(Ordering::Relaxed).max(1);
        let pct = (done.min(total) * 100 / total) as usize;
        let mut err = std::io::stderr().lock();
        if tty {
            let bar = "#".repeat(pct * 30 / 100) + &" ".repeat(30 - pct * 30 / 100);
            let _ = write!(err, "\r[{bar}] {pct:3}% {done}/{total} {unit}");
        } else {
            let _ = writeln!(err, "tocsin diff: {pct}% ({done}/{total} {unit})");
        }
        let _ = err.flush();
    }
}

fn finish_progress(counter: &Counter, unit: &str) {
    if std::io::stderr().is_terminal() {
        let done = counter.done.load(Ordering::Relaxed);
        eprintln!("\r[{}] 100% {done}/{done} {unit}", "#".repeat(30));
    }
}

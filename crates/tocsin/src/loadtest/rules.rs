//! `tocsin loadtest rules`: N generated rules ([`super::gen_rules`]) at one interval
//! against a real Prometheus, run by the engine `tocsin run` runs, for a while; then what
//! it did (evaluations, missed iterations, latencies), what it cost tocsin (CPU time and
//! peak memory from `/proc/self`) and what it cost Prometheus (queries issued, and the
//! deltas of its own `prometheus_engine_query_duration_seconds`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use serde::Serialize;
use tocsin_engine::runner::{Engine, EngineOptions, Outputs};
use tocsin_engine::{Sample, Timestamp};
use tocsin_query::{Datasource, HttpClientConfig, PrometheusClient, QueryFuture};

use super::progress::Progress;
use super::Quantiles;

pub struct Run {
    pub datasource: String,
    pub rules: usize,
    pub group_size: usize,
    pub interval: Duration,
    pub duration: Duration,
    pub max_concurrent_queries: usize,
    pub seed: u64,
}

/// Counts the queries the engine makes (and those that failed).
struct Counting {
    inner: PrometheusClient,
    queries: AtomicU64,
    failures: Arc<AtomicU64>,
}

impl Datasource for Counting {
    fn instant_query<'a>(&'a self, expr: &'a str, at: SystemTime) -> QueryFuture<'a> {
        self.queries.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move {
            let r = self.inner.instant_query(expr, at).await;
            if r.is_err() {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
            r
        })
    }
}

/// Recording-rule output is counted, not kept (the load test has no remote write).
#[derive(Default)]
struct CountSamples(AtomicU64);

impl Outputs for CountSamples {
    fn write(&self, _group: &str, _ts: Timestamp, samples: &[Sample]) {
        self.0.fetch_add(samples.len() as u64, Ordering::Relaxed);
    }
}

/// Deltas of one `slice` of `prometheus_engine_query_duration_seconds`.
#[derive(Debug, Default, Serialize)]
pub struct Slice {
    pub count: f64,
    pub sum_seconds: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct PrometheusCost {
    /// Instant queries tocsin issued.
    pub queries: u64,
    pub query_failures: u64,
    /// Prometheus's own query engine timings during the run, per `slice` (from its
    /// /metrics; absent when it could not be read).
    pub engine_query_duration: Option<BTreeMap<String, Slice>>,
}

#[derive(Debug, Default, Serialize)]
pub struct TocsinCost {
    /// User + system CPU time of the tocsin process during the run.
    pub cpu_seconds: f64,
    /// The same as a share of one core.
    pub cpu_percent_of_one_core: f64,
    /// Peak resident memory (VmHWM) of the process.
    pub peak_rss_bytes: u64,
}

/// `tocsin loadtest rules`'s report.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub rules: usize,
    pub groups: usize,
    pub interval_seconds: f64,
    pub seconds: f64,
    pub iterations: u64,
    pub missed_iterations: u64,
    pub evaluations: u64,
    pub evaluations_per_second: f64,
    pub evaluation_failures: u64,
    pub samples_recorded: u64,
    /// Duration of each group iteration seen.
    pub group_iteration_seconds: Quantiles,
    /// Duration of each rule evaluation seen.
    pub rule_evaluation_seconds: Quantiles,
    pub tocsin: TocsinCost,
    pub prometheus: PrometheusCost,
}

impl Report {
    pub fn text(&self) -> String {
        let mut out = format!(
            "tocsin loadtest rules: {} rules in {} groups every {} s, for {:.0} s\n",
            self.rules, self.groups, self.interval_seconds, self.seconds
        );
        out.push_str(&format!(
            "  evaluations:          {} ({:.1}/s), {} failed\n",
            self.evaluations, self.evaluations_per_second, self.evaluation_failures
        ));
        out.push_str(&format!(
            "  group iterations:     {} ({} missed)\n",
            self.iterations, self.missed_iterations
        ));
        let q = |q: &Quantiles| {
            format!(
                "p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
                q.p50 * 1000.0,
                q.p95 * 1000.0,
                q.max * 1000.0
            )
        };
        out.push_str(&format!(
            "  group iteration time: {}\n  rule evaluation time: {}\n",
            q(&self.group_iteration_seconds),
            q(&self.rule_evaluation_seconds)
        ));
        out.push_str(&format!(
            "  tocsin:               {:.1} s CPU ({:.1}% of one core), peak RSS {:.1} MiB\n",
            self.tocsin.cpu_seconds,
            self.tocsin.cpu_percent_of_one_core,
            self.tocsin.peak_rss_bytes as f64 / (1 << 20) as f64
        ));
        out.push_str(&format!(
            "  prometheus:           {} queries ({} failed)\n",
            self.prometheus.queries, self.prometheus.query_failures
        ));
        if let Some(slices) = &self.prometheus.engine_query_duration {
            for (slice, s) in slices {
                out.push_str(&format!(
                    "    engine {slice}: {:.0} × {:.3} ms = {:.2} s\n",
                    s.count,
                    if s.count > 0.0 {
                        1000.0 * s.sum_seconds / s.count
                    } else {
                        0.0
                    },
                    s.sum_seconds
                ));
            }
        }
        out
    }
}

/// utime + stime of this process (`/proc/self/stat`, in clock ticks of 1/100 s, Linux's
/// USER_HZ).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// VmHWM of this process, in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// `prometheus_engine_query_duration_seconds_{sum,count}` per slice.
async fn engine_metrics(client: &reqwest::Client, base: &str) -> Option<BTreeMap<String, Slice>> {
    let text = client
        .get(format!("{}/metrics", base.trim_end_matches('/')))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut out: BTreeMap<String, Slice> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("prometheus_engine_query_duration_seconds_") else {
            continue;
        };
        let (kind, rest) = rest.split_once("{slice=\"")?;
        let (slice, value) = rest.split_once("\"}")?;
        let value: f64 = value.trim().parse().ok()?;
        let e = out.entry(slice.to_owned()).or_default();
        match kind {
            "sum" => e.sum_seconds = value,
            "count" => e.count = value,
            _ => {}
        }
    }
    Some(out)
}

pub async fn run(run: Run, progress: &mut Progress) -> anyhow::Result<Report> {
    if run.rules == 0 {
        bail!("--rules must be at least 1");
    }
    let interval = tocsin_notify::time::format_duration(run.interval);
    let text = super::gen_rules::generate(run.rules, run.group_size, &interval, run.seed);
    let dir = std::env::temp_dir().join(format!(
        "tocsin-loadtest-rules-{}-{}",
        std::process::id(),
        tocsin_notify::time::Timestamp::now().unix_millis()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = dir.join("rules.yaml");
    std::fs::write(&file, &text).with_context(|| format!("writing {}", file.display()))?;
    let result = measure(&run, file.display().to_string(), progress).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(run: &Run, file: String, progress: &mut Progress) -> anyhow::Result<Report> {
    let client = PrometheusClient::new(HttpClientConfig::new(run.datasource.clone()))
        .context("datasource")?;
    let failures = Arc::new(AtomicU64::new(0));
    let ds = Arc::new(Counting {
        inner: client,
        queries: AtomicU64::new(0),
        failures: failures.clone(),
    });
    let outputs = Arc::new(CountSamples::default());
    let options = EngineOptions {
        default_interval: run.interval,
        max_concurrent_queries: run.max_concurrent_queries,
        query_timeout: Duration::from_secs(30),
        ..EngineOptions::default()
    };
    let engine = Engine::new(
        options,
        ds.clone(),
        outputs.clone(),
        Arc::new(crate::notify::LogNotifier),
    );
    let loader = engine.clone();
    let files = vec![file];
    let summary = tokio::task::spawn_blocking(move || loader.apply(&files))
        .await
        .context("loading the generated rules")?
        .map_err(|reports| {
            let first = reports
                .iter()
                .flat_map(|r| {
                    r.diagnostics
                        .iter()
                        .filter(|d| d.is_error())
                        .map(move |d| d.located(&r.path).to_string())
                })
                .next()
                .unwrap_or_default();
            anyhow::anyhow!("the generated rules do not load: {first}")
        })?;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let prom_before = engine_metrics(&http, &run.datasource).await;
    let cpu_before = cpu_time();
    let started = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = {
        let engine = engine.clone();
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            engine
                .run(async move {
                    let _ = stop_rx.wait_for(|s| *s).await;
                })
                .await;
        })
    };
    let mut group_times = Vec::new();
    let mut rule_times = Vec::new();
    let mut seen_groups: HashMap<String, Timestamp> = HashMap::new();
    let mut seen_rules: HashMap<(String, usize), Timestamp> = HashMap::new();
    let mut sample = |engine: &Engine| {
        for g in engine.rules_status() {
            let key = format!("{};{}", g.file, g.name);
            if let Some(at) = g.last_evaluation {
                if seen_groups.insert(key.clone(), at) != Some(at) {
                    group_times.push(g.evaluation_time);
                }
            }
            for (i, r) in g.rules.iter().enumerate() {
                if let Some(at) = r.last_evaluation {
                    if seen_rules.insert((key.clone(), i), at) != Some(at) {
                        rule_times.push(r.evaluation_time);
                    }
                }
            }
        }
    };
    while started.elapsed() < run.duration {
        tokio::time::sleep(Duration::from_millis(500)).await;
        sample(&engine);
        let elapsed = started.elapsed();
        let evaluations: u64 = engine.metrics().groups.iter().map(|g| g.evaluations).sum();
        progress.show(
            elapsed.as_secs().min(run.duration.as_secs()) as usize,
            run.duration.as_secs() as usize,
            "seconds",
            &format!(
                "{evaluations} evaluations · {} queries",
                ds.queries.load(Ordering::Relaxed)
            ),
            elapsed >= run.duration,
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    let metrics = engine.metrics();
    let queries = ds.queries.load(Ordering::Relaxed);
    let cpu = match (cpu_before, cpu_time()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => Duration::ZERO,
    };
    let prom_after = engine_metrics(&http, &run.datasource).await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    progress.finish();

    let engine_query_duration = match (prom_before, prom_after) {
        (Some(before), Some(after)) => Some(
            after
                .into_iter()
                .map(|(slice, a)| {
                    let b = before.get(&slice);
                    let d = Slice {
                        count: a.count - b.map_or(0.0, |b| b.count),
                        sum_seconds: a.sum_seconds - b.map_or(0.0, |b| b.sum_seconds),
                    };
                    (slice, d)
                })
                .collect(),
        ),
        _ => None,
    };
    let evaluations = metrics.groups.iter().map(|g| g.evaluations).sum();
    Ok(Report {
        rules: summary.rules,
        groups: summary.groups,
        interval_seconds: run.interval.as_secs_f64(),
        seconds,
        iterations: metrics.groups.iter().map(|g| g.iterations).sum(),
        missed_iterations: metrics.groups.iter().map(|g| g.missed_iterations).sum(),
        evaluations,
        evaluations_per_second: evaluations as f64 / seconds.max(f64::EPSILON),
        evaluation_failures: metrics.groups.iter().map(|g| g.evaluation_failures).sum(),
        samples_recorded: outputs.0.load(Ordering::Relaxed),
        group_iteration_seconds: Quantiles::of(group_times),
        rule_evaluation_seconds: Quantiles::of(rule_times),
        tocsin: TocsinCost {
            cpu_seconds: cpu.as_secs_f64(),
            cpu_percent_of_one_core: 100.0 * cpu.as_secs_f64() / seconds.max(f64::EPSILON),
            peak_rss_bytes: peak_rss().unwrap_or(0),
        },
        prometheus: PrometheusCost {
            queries,
            query_failures: failures.load(Ordering::Relaxed),
            engine_query_duration,
        },
    })
}

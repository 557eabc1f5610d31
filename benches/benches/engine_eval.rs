//! One evaluation step of 10,000 alerting rules, each receiving 10 series from an
//! in-process result (no HTTP, no PromQL), in the steady state where every alert already
//! exists and fires: the alert state machine, duplicate detection, the send decision.
//!
//! Two variants: `literal` (labels and annotations pre-expanded, so alerts share one
//! annotation set) and `templated` (two annotations per alert built through a trivial
//! expander: the engine's per-alert allocation without the template engine's cost).
//!
//! Memory is measured, not estimated: a counting global allocator in this binary reports
//! live heap bytes after building the rules and after the first evaluation; the figures are
//! printed before the timings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tocsin_engine::alert::DEFAULT_RESEND_DELAY;
use tocsin_engine::{
    AlertingRule, AlertingState, ExpandError, Expander, Labels, Sample, Scratch, TemplateData,
    Timestamp, Verbatim,
};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

const RULES: usize = 10_000;
const SERIES: usize = 10;
const INTERVAL: Duration = Duration::from_secs(60);

fn rules(templated: bool) -> Vec<AlertingRule> {
    (0..RULES)
        .map(|i| {
            let (summary, description) = if templated {
                (
                    "{{ $labels.instance }} of {{ $labels.job }} is down".to_string(),
                    "{{ $labels.instance }} has reported no heartbeat for 5 minutes".to_string(),
                )
            } else {
                (
                    format!("Flink job {i} is unhealthy"),
                    format!("Flink job {i} has had failing checkpoints for more than 5 minutes; see the runbook."),
                )
            };
            AlertingRule::new(
                &format!("FlinkCheckpointFailing{i}"),
                &format!("increase(flink_jobmanager_job_numberOfFailedCheckpoints{{job=\"flink-{i}\"}}[5m]) > 0"),
                Duration::from_secs(300),
                Duration::ZERO,
                [("severity", "critical"), ("team", "streaming")],
                [("summary", summary.as_str()), ("description", description.as_str())],
            )
        })
        .collect()
}

/// The query results: per rule, 10 series with 5 labels each.
fn results() -> Vec<Vec<Sample>> {
    (0..RULES)
        .map(|i| {
            (0..SERIES)
                .map(|s| {
                    let job = format!("flink-{i}");
                    let instance = format!("10.0.{}.{s}:9249", i % 250);
                    let pod = format!("flink-{i}-taskmanager-{s}");
                    Sample::new(
                        Labels::new([
                            ("__name__", "flink_jobmanager_job_numberOfFailedCheckpoints"),
                            ("instance", instance.as_str()),
                            ("job", job.as_str()),
                            ("namespace", "flink"),
                            ("pod", pod.as_str()),
                        ]),
                        1.0 + s as f64,
                    )
                })
                .collect()
        })
        .collect()
}

/// A stand-in for the template engine: substitutes `$labels.instance`/`$labels.job`.
struct Substitute;

impl Expander for Substitute {
    fn expand(&self, data: &TemplateData<'_>, text: &str) -> Result<String, ExpandError> {
        let mut out = String::with_capacity(text.len() + 32);
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find("}}")
                .map_or(rest.len(), |e| start + e + 2);
            let name = rest[start..end]
                .trim_matches(|c| c == '{' || c == '}' || c == ' ')
                .trim_start_matches("$labels.");
            out.push_str(data.labels.get(name).unwrap_or(""));
            rest = &rest[end..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

struct World {
    rules: Vec<AlertingRule>,
    states: Vec<AlertingState>,
    results: Vec<Vec<Sample>>,
    scratch: Scratch,
    minute: i64,
}

impl World {
    fn step(&mut self, expander: &dyn Expander) -> usize {
        let ts = Timestamp::from_secs(1_700_000_000 + self.minute * 60);
        self.minute += 1;
        let mut sent = 0;
        for ((rule, state), result) in self.rules.iter().zip(&mut self.states).zip(&self.results) {
            if rule
                .eval(state, ts, Ok(result), 0, expander, &mut self.scratch)
                .is_ok()
            {
                sent += state.send(ts, DEFAULT_RESEND_DELAY, INTERVAL, |_| {});
            }
        }
        sent
    }
}

fn world(templated: bool, expander: &dyn Expander, report: bool) -> World {
    let results = results();
    let base = live();
    let rules = rules(templated);
    let states = vec![AlertingState::default(); RULES];
    let after_rules = live();
    let mut w = World {
        rules,
        states,
        results,
        scratch: Scratch::default(),
        minute: 0,
    };
    // Six evaluations: pending at 0–4m, firing from 5m (for: 5m); the steady state.
    for _ in 0..6 {
        w.step(expander);
    }
    let after_alerts = live();
    if report {
        let alerts: usize = w.states.iter().map(AlertingState::len).sum();
        let scratch = std::mem::size_of::<Scratch>();
        println!(
            "engine_eval/{}: {} rules, {} alerts; per rule {} B (definition + empty state), \
             per active alert {} B (map slot + labels{}); sizes: AlertingRule {} B, \
             AlertingState {} B, Alert {} B, Labels {} B, Scratch {} B + buffers",
            if templated { "templated" } else { "literal" },
            RULES,
            alerts,
            (after_rules - base) / RULES as isize,
            (after_alerts - after_rules) / alerts as isize,
            if templated {
                " + own annotations"
            } else {
                ", shared annotations"
            },
            std::mem::size_of::<AlertingRule>(),
            std::mem::size_of::<AlertingState>(),
            std::mem::size_of::<tocsin_engine::Alert>(),
            std::mem::size_of::<Labels>(),
            scratch,
        );
    }
    w
}

fn eval_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine_eval");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(RULES as u64));
    for (name, templated, expander) in [
        ("literal", false, &Verbatim as &dyn Expander),
        ("templated", true, &Substitute as &dyn Expander),
    ] {
        let mut w = world(templated, expander, true);
        group.bench_function(BenchmarkId::new("10k_rules_x_10_series", name), |b| {
            b.iter(|| w.step(expander))
        });
    }
    group.finish();
}

criterion_group!(benches, eval_step);
criterion_main!(benches);

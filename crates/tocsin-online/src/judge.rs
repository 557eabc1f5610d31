//! Judging one rule by what the server answered: every online check's verdict and
//! wording, with no I/O (the answers are gathered first, in [`crate::check`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use tocsin_diff::backtest::AlertReplay;
use tocsin_diff::selectors::Selector;
use tocsin_query::MetricMetadata;
use tocsin_rules::{checks, Diagnostic, RuleGroup, RuleRef};

use crate::analyse::{Analysis, Carried, COUNTER_FUNCTIONS, NEEDS_TWO_SAMPLES};
use crate::{OnlineOptions, ServerConfig};

/// Everything the server answered, for every rule.
pub(crate) struct Answers {
    pub config: Result<ServerConfig, String>,
    /// By selector text.
    pub facts: BTreeMap<String, Facts>,
    /// By metric name.
    pub metadata: BTreeMap<String, Result<Vec<MetricMetadata>, String>>,
    /// By site index: the alerting rules' replays over the lookback.
    pub replays: BTreeMap<usize, AlertReplay>,
}

/// What the server says about one selector.
#[derive(Clone, Debug)]
pub(crate) struct Facts {
    /// Series it matches now.
    pub now: Result<u64, String>,
    /// Label names of the series it matched over the lookback (empty: none).
    pub names: Result<BTreeSet<String>, String>,
    /// When it last matched a series (Unix ms), asked when it matches none now.
    pub last_seen_ms: Option<Result<Option<i64>, String>>,
    /// Whether the metric alone had series over the lookback, asked when the selector
    /// matched none and has label matchers.
    pub metric_present: Option<Result<bool, String>>,
    /// The `job`s of the series it matches now, asked for range functions.
    pub jobs: Option<Result<Vec<String>, String>>,
}

/// One rule with where it is.
pub(crate) struct Site<'a> {
    pub file: usize,
    pub rule: &'a tocsin_rules::Rule,
    pub group: &'a RuleGroup,
    pub reference: RuleRef,
    pub analysis: Option<Analysis>,
    /// The file's lines, to place findings inside the expression.
    pub lines: &'a [&'a str],
}

/// A Prometheus duration, to the second.
pub(crate) fn human(d: Duration) -> String {
    tocsin_promql::format_duration((d.as_secs() as i64).max(1) * 1000)
}

/// The findings about one rule (the `index`th site) from what the server answered, and
/// how many of its checks could not run. Pure: every answer is in `answers`.
pub(crate) fn judge(
    site: &Site<'_>,
    index: usize,
    answers: &Answers,
    recorded_by_files: &HashSet<String>,
    options: &OnlineOptions,
) -> (Vec<Diagnostic>, usize) {
    let Answers {
        config,
        facts,
        metadata,
        replays,
    } = answers;
    let lookback = human(options.lookback);
    let mut found = Vec::new();
    let mut failures = 0;
    let expr_pos = site.rule.expr.as_ref().map(|e| e.pos);
    let warning = |check: &'static str, message: String| {
        Diagnostic::warning(check, expr_pos, message).in_rule(site.reference.clone())
    };
    // At byte `offset` of the expression, where the file's layout allows.
    let at = |offset: Option<usize>| match (&site.rule.expr, offset) {
        (Some(expr), Some(offset)) => Some(crate::locate::locate(site.lines, expr, offset)),
        _ => expr_pos,
    };
    let warning_at = |check: &'static str, offset: Option<usize>, message: String| {
        Diagnostic::warning(check, at(offset), message).in_rule(site.reference.clone())
    };
    if let Some(a) = &site.analysis {
        // promql/series
        for sel in &a.selectors {
            if sel
                .metric
                .as_ref()
                .is_some_and(|m| recorded_by_files.contains(m))
            {
                continue;
            }
            let Some(f) = facts.get(&sel.text) else {
                continue;
            };
            let sel_at = a.selector_offsets.get(&sel.text).copied();
            match (&f.now, &f.names) {
                (Ok(n), _) if *n > 0 => {}
                (Err(e), _) | (Ok(_), Err(e)) => {
                    failures += 1;
                    found.push(warning_at(
                        checks::SERIES,
                        sel_at,
                        format!("could not check {}: {e}", sel.text),
                    ));
                }
                (Ok(_), Ok(names)) if names.is_empty() => {
                    let why = match (&f.metric_present, &sel.metric) {
                        (Some(Ok(true)), Some(m)) => {
                            format!("; metric {m} has series, but none with these labels")
                        }
                        (Some(Err(e)), _) => {
                            failures += 1;
                            format!("; could not check the metric alone: {e}")
                        }
                        (_, Some(m)) => format!("; metric {m} was never present"),
                        (_, None) => String::new(),
                    };
                    found.push(warning_at(
                        checks::SERIES,
                        sel_at,
                        format!(
                            "{} matches no series now, nor any over the last {lookback}{why}",
                            sel.text
                        ),
                    ));
                }
                (Ok(_), Ok(_)) => {
                    let when = match &f.last_seen_ms {
                        Some(Ok(Some(ms))) => {
                            let ago = options.now.unix_millis() - ms;
                            format!(
                                "; its last sample is {} old",
                                human(Duration::from_millis(ago.max(0) as u64))
                            )
                        }
                        Some(Err(e)) => {
                            failures += 1;
                            format!("; could not tell when it last had one: {e}")
                        }
                        _ => String::new(),
                    };
                    found.push(warning_at(
                        checks::SERIES,
                        sel_at,
                        format!(
                            "{} matches no series now, but had some over the last {lookback}{when}",
                            sel.text
                        ),
                    ));
                }
            }
        }
        // promql/rate
        for r in a
            .ranges
            .iter()
            .filter(|r| NEEDS_TWO_SAMPLES.contains(&r.func))
        {
            let config = match config {
                Ok(c) => c,
                Err(e) => {
                    failures += 1;
                    found.push(warning(
                        checks::RATE,
                        format!("could not read the server's scrape intervals: {e}"),
                    ));
                    continue;
                }
            };
            let jobs: Vec<String> = match (
                &r.job,
                facts.get(&r.selector.text).and_then(|f| f.jobs.clone()),
            ) {
                (Some(job), _) => vec![job.clone()],
                (None, Some(Ok(jobs))) => jobs,
                (None, Some(Err(e))) => {
                    failures += 1;
                    found.push(warning_at(
                        checks::RATE,
                        Some(r.offset),
                        format!("could not find the jobs of {}: {e}", r.selector.text),
                    ));
                    continue;
                }
                (None, None) => Vec::new(),
            };
            let slowest = jobs
                .iter()
                .filter_map(|j| config.jobs.get(j).map(|d| (j, *d)))
                .max_by_key(|(_, d)| *d);
            if let Some((job, interval)) = slowest {
                if (r.range_ms as u128) < 2 * interval.as_millis() {
                    let message = format!(
                        "{}({}[{}]): the window is shorter than two scrape intervals of job \
                         {job:?} ({} each), so it often holds fewer than the two samples {}() \
                         needs",
                        r.func,
                        r.selector.text,
                        tocsin_promql::format_duration(r.range_ms),
                        human(interval),
                        r.func
                    );
                    found.push(warning_at(checks::RATE, Some(r.offset), message));
                }
            }
        }
        // promql/counter
        for r in a
            .ranges
            .iter()
            .filter(|r| COUNTER_FUNCTIONS.contains(&r.func))
        {
            let Some(m) = &r.selector.metric else {
                continue;
            };
            match metadata.get(m) {
                Some(Ok(entries))
                    if !entries.is_empty() && entries.iter().all(|e| e.kind == "gauge") =>
                {
                    let message = format!(
                        "{}() over {m}, which the server's metadata says is a gauge: {}() \
                         expects a counter (for a gauge use deriv() or delta())",
                        r.func, r.func
                    );
                    found.push(warning_at(checks::COUNTER, Some(r.offset), message));
                }
                Some(Err(e)) => {
                    failures += 1;
                    found.push(warning_at(
                        checks::COUNTER,
                        Some(r.offset),
                        format!("could not read the metadata of {m}: {e}"),
                    ));
                }
                _ => {}
            }
        }
        // promql/labels and alerts/template: only when every selector involved had
        // series (else promql/series speaks) and nothing makes labels up.
        let names_of = |sels: &[Selector]| -> Option<BTreeSet<String>> {
            if sels.is_empty() {
                return None;
            }
            let mut all = BTreeSet::new();
            for s in sels {
                match facts.get(&s.text).map(|f| &f.names) {
                    Some(Ok(n)) if !n.is_empty() => all.extend(n.iter().cloned()),
                    _ => return None,
                }
            }
            Some(all)
        };
        let texts = |sels: &[Selector]| {
            sels.iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        // alerts/template from the expression's shape: a label its aggregations or
        // matchings drop, whatever the series carry.
        for t in a
            .template_labels
            .iter()
            .filter(|t| !a.carried.may_carry(&t.label))
        {
            let kept = match &a.carried {
                Carried::Only(s) if s.is_empty() => "carries no label".to_string(),
                Carried::Only(s) => format!(
                    "carries only {}",
                    s.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
                Carried::AllBut(x) => {
                    format!("drops {}", x.iter().cloned().collect::<Vec<_>>().join(", "))
                }
            };
            let message = format!(
                "{} reads $labels.{}, but the expression's result {kept}: its aggregations \
                 and matchings drop {:?}",
                t.place, t.label, t.label
            );
            let d = Diagnostic::warning(checks::TEMPLATE, Some(t.pos), message);
            found.push(d.in_rule(site.reference.clone()));
        }
        if !a.makes_labels {
            for l in &a.labels {
                for side in &l.sides {
                    let Some(names) = names_of(side) else {
                        continue;
                    };
                    if !names.contains(&l.label) {
                        let message = format!(
                            "{} ({}): no series of {} carries the label {:?} over the last \
                             {lookback}",
                            l.clause,
                            l.label,
                            texts(side),
                            l.label
                        );
                        found.push(warning_at(checks::LABELS, l.offset, message));
                    }
                }
            }
            if let Some(names) = names_of(&a.all_selectors) {
                for t in &a.template_labels {
                    if a.carried.may_carry(&t.label) && !names.contains(&t.label) {
                        let message = format!(
                            "{} reads $labels.{}, but no series of {} carries the label {:?} \
                             over the last {lookback}",
                            t.place,
                            t.label,
                            texts(&a.all_selectors),
                            t.label
                        );
                        let d = Diagnostic::warning(checks::TEMPLATE, Some(t.pos), message);
                        found.push(d.in_rule(site.reference.clone()));
                    }
                }
            }
        }
    }
    // alerts/count
    if let Some(replay) = replays.get(&index) {
        let alerts = replay.alerts.len();
        let intervals: usize = replay.alerts.values().map(Vec::len).sum();
        let message = if alerts == 0 {
            format!("would not have fired over the last {lookback}")
        } else {
            format!(
                "would have fired {alerts} alert{} ({intervals} firing interval{}) over the last {lookback}",
                if alerts == 1 { "" } else { "s" },
                if intervals == 1 { "" } else { "s" }
            )
        };
        let mut d = Diagnostic::info(checks::ALERTS_COUNT, expr_pos, message);
        if let Some(e) = &replay.errors.first_error {
            d = Diagnostic::warning(
                checks::ALERTS_COUNT,
                expr_pos,
                format!(
                    "{} of {} evaluations over the last {lookback} failed: {e}",
                    replay.errors.failed_evaluations, replay.evaluations
                ),
            );
        }
        found.push(d.in_rule(site.reference.clone()));
    }
    (found, failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_engine::Timestamp;
    use tocsin_rules::{Pos, Rule, Spanned};

    fn rule(expr: &str) -> Rule {
        Rule {
            alert: Some(Spanned {
                value: "A".into(),
                pos: Pos::new(4, 16),
            }),
            expr: Some(Spanned {
                value: expr.into(),
                pos: Pos::new(5, 15),
            }),
            ..Rule::default()
        }
    }

    fn options() -> OnlineOptions {
        OnlineOptions {
            lookback: Duration::from_secs(86_400),
            now: Timestamp::from_secs(1_000_000),
            concurrency: 1,
            cardinality: false,
        }
    }

    fn facts(now: Result<u64, &str>, names: &[&str]) -> Facts {
        Facts {
            now: now.map_err(str::to_string),
            names: Ok(names.iter().map(|n| n.to_string()).collect()),
            last_seen_ms: None,
            metric_present: None,
            jobs: None,
        }
    }

    fn judged(expr: &str, answers: &Answers) -> (Vec<Diagnostic>, usize) {
        let rule = rule(expr);
        let group = RuleGroup::default();
        let site = Site {
            file: 0,
            rule: &rule,
            group: &group,
            reference: RuleRef {
                group: "g".into(),
                index: 1,
                name: "A".into(),
            },
            analysis: crate::analyse::analyse(&rule),
            lines: &[],
        };
        judge(&site, 0, answers, &HashSet::new(), &options())
    }

    fn answers(facts: Vec<(&str, Facts)>) -> Answers {
        Answers {
            config: Ok(ServerConfig {
                scrape_interval: Duration::from_secs(60),
                evaluation_interval: Duration::from_secs(60),
                jobs: [("api".to_string(), Duration::from_secs(15))].into(),
            }),
            facts: facts.into_iter().map(|(k, f)| (k.to_string(), f)).collect(),
            metadata: BTreeMap::new(),
            replays: BTreeMap::new(),
        }
    }

    fn messages(found: &[Diagnostic], check: &str) -> Vec<String> {
        found
            .iter()
            .filter(|d| d.check == Some(check))
            .map(|d| d.message.clone())
            .collect()
    }

    #[test]
    fn series_findings_tell_never_from_gone_and_count_what_could_not_run() {
        let mut gone = facts(Ok(0), &["__name__", "job"]);
        gone.last_seen_ms = Some(Ok(Some(1_000_000_000 - 7_200_000)));
        let a = answers(vec![
            ("never", facts(Ok(0), &[])),
            ("gone", gone),
            ("broken", facts(Err("server said no"), &[])),
            ("here", facts(Ok(3), &["__name__"])),
        ]);
        let (found, failures) = judged("never > 0 or gone > 0 or broken > 0 or here > 0", &a);
        assert_eq!(
            messages(&found, checks::SERIES),
            [
                "never matches no series now, nor any over the last 1d; metric never was never present",
                "gone matches no series now, but had some over the last 1d; its last sample is 2h old",
                "could not check broken: server said no",
            ]
        );
        assert_eq!(failures, 1);
        assert!(found.iter().all(|d| d.pos == Some(Pos::new(5, 15))));
    }

    #[test]
    fn a_window_under_two_scrape_intervals_warns_and_two_exactly_does_not() {
        let a = answers(vec![(
            r#"x{job="api"}"#,
            facts(Ok(1), &["__name__", "job"]),
        )]);
        let (found, failures) = judged(
            r#"rate(x{job="api"}[29s]) > 0 or increase(x{job="api"}[30s]) > 0"#,
            &a,
        );
        let rate = messages(&found, checks::RATE);
        assert_eq!(rate.len(), 1, "{rate:?}");
        assert!(
            rate[0].starts_with(r#"rate(x{job="api"}[29s]): the window is shorter than two scrape intervals of job "api" (15s each)"#),
            "{rate:?}"
        );
        assert_eq!(failures, 0);
    }

    #[test]
    fn rate_of_a_gauge_warns_and_of_a_counter_does_not() {
        let meta = |kind: &str| {
            Ok(vec![MetricMetadata {
                kind: kind.into(),
                help: String::new(),
                unit: String::new(),
            }])
        };
        let mut a = answers(vec![
            ("g", facts(Ok(1), &["__name__"])),
            ("c", facts(Ok(1), &["__name__"])),
        ]);
        a.metadata.insert("g".into(), meta("gauge"));
        a.metadata.insert("c".into(), meta("counter"));
        let (found, _) = judged("rate(g[5m]) > 0 or rate(c[5m]) > 0", &a);
        let counter = messages(&found, checks::COUNTER);
        assert_eq!(counter.len(), 1, "{counter:?}");
        assert!(
            counter[0].starts_with("rate() over g, which the server's metadata says is a gauge")
        );
    }
}

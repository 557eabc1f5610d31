//! Runs Prometheus v2.42.0's own PromQL engine tests (`testdata/promql-conformance/*.test`,
//! Apache-2.0, see the README there) against tocsin-eval, the way Prometheus's
//! `promql/test.go` runs them: every `eval` is checked as an instant query, again with all
//! selectors pinned by `@` at five other evaluation times (unless the expression uses a
//! function whose result depends on the evaluation time), and each of those again as a
//! range query around the evaluation time.
//!
//! Every `eval` command must pass, except the ones in [`EXCEPTIONS`], which are gaps named
//! with their reason. An exception that starts passing fails the test too, so the list
//! stays true.

use regex::Regex;
use std::collections::HashMap;
use std::path::Path;
use tocsin_eval::series_desc::{parse_metric, parse_series_desc};
use tocsin_eval::{Engine, Labels, Sample, Storage, Value};
use tocsin_promql::{At, Expr};

/// `file:line` of eval commands that are known not to pass, with the reason.
const EXCEPTIONS: &[(&str, &str)] = &[];

/// The number of `eval` commands in the vendored files.
const EXPECTED_EVALS: usize = 566;

const MIN_NORMAL: f64 = f64::MIN_POSITIVE; // 0x0010000000000000
const EPSILON: f64 = 0.000001;

/// `almostEqual` of `promql/test.go`.
fn almost_equal(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || diff < MIN_NORMAL {
        return diff < EPSILON * MIN_NORMAL;
    }
    diff / (a.abs() + b.abs()) < EPSILON
}

/// `parseNumber` of `promql/test.go`: `strconv.ParseInt(s, 0, 64)`, else `ParseFloat`.
fn parse_number(s: &str) -> Option<f64> {
    tocsin_promql::parse_number(s).ok()
}

fn duration_ms(s: &str) -> Result<i64, String> {
    tocsin_promql::parse_model_duration(s)
        .map(|d| d as i64)
        .map_err(|e| format!("invalid duration {s:?}: {e}"))
}

struct Expectation {
    /// Label set -> (position, value); a scalar expectation has no labels and position 0.
    metrics: HashMap<Labels, (usize, f64)>,
    scalar: Option<f64>,
}

enum Command {
    Clear,
    Load(Vec<(Labels, Vec<(i64, f64)>)>),
    Eval {
        line: usize,
        expr: String,
        at: i64,
        fail: bool,
        ordered: bool,
        expect: Expectation,
    },
}

fn parse_file(text: &str) -> Result<Vec<Command>, String> {
    let eval_re =
        Regex::new(r"^eval(?:_(fail|ordered))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$").unwrap();
    let lines: Vec<String> = text
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') {
                String::new()
            } else {
                l.to_owned()
            }
        })
        .collect();
    let mut cmds = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let l = &lines[i];
        if l.is_empty() {
            i += 1;
            continue;
        }
        let word = l.split([' ', '\t']).next().unwrap_or("").to_lowercase();
        if word == "clear" {
            cmds.push(Command::Clear);
        } else if word == "load" {
            let gap = duration_ms(l[4..].trim())?;
            let mut defs: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
            while i + 1 < lines.len() && !lines[i + 1].is_empty() {
                i += 1;
                let d = parse_series_desc(&lines[i]).map_err(|e| format!("line {}: {e}", i + 1))?;
                let samples: Vec<(i64, f64)> = d
                    .values
                    .iter()
                    .enumerate()
                    .filter_map(|(k, v)| v.map(|v| (k as i64 * gap, v)))
                    .collect();
                // A label set defined twice in one load keeps its last definition.
                defs.retain(|(l, _)| *l != d.labels);
                defs.push((d.labels, samples));
            }
            cmds.push(Command::Load(defs));
        } else if word.starts_with("eval") {
            let caps = eval_re
                .captures(l)
                .ok_or_else(|| format!("line {}: invalid evaluation command", i + 1))?;
            let line = i + 1;
            let mode = caps.get(1).map_or("", |m| m.as_str());
            let at = duration_ms(caps.get(2).map_or("", |m| m.as_str()))?;
            let expr = caps[3].to_owned();
            let mut expect = Expectation {
                metrics: HashMap::new(),
                scalar: None,
            };
            let mut pos = 1;
            while i + 1 < lines.len() && !lines[i + 1].is_empty() {
                i += 1;
                if let Some(f) = parse_number(&lines[i]) {
                    expect.scalar = Some(f);
                    break;
                }
                let d = parse_series_desc(&lines[i]).map_err(|e| format!("line {}: {e}", i + 1))?;
                if d.values.len() > 1 {
                    return Err(format!(
                        "line {}: expecting multiple values in instant evaluation not allowed",
                        i + 1
                    ));
                }
                let v = d.values.first().copied().flatten().unwrap_or(f64::NAN);
                expect.metrics.insert(d.labels, (pos, v));
                pos += 1;
            }
            cmds.push(Command::Eval {
                line,
                expr,
                at,
                fail: mode == "fail",
                ordered: mode == "ordered",
                expect,
            });
        } else {
            return Err(format!("line {}: invalid command {l:?}", i + 1));
        }
        i += 1;
    }
    Ok(cmds)
}

/// `compareResult` of `promql/test.go` for vectors.
fn compare_vector(exp: &Expectation, ordered: bool, vec: &[Sample]) -> Result<(), String> {
    let mut seen = 0;
    for (pos, s) in vec.iter().enumerate() {
        let Some(&(epos, ev)) = exp.metrics.get(&s.metric) else {
            return Err(format!("unexpected metric {} in result", s.metric));
        };
        if ordered && epos != pos + 1 {
            return Err(format!(
                "expected metric {} at position {epos} but was at {}",
                s.metric,
                pos + 1
            ));
        }
        if !almost_equal(ev, s.v) {
            return Err(format!("expected {ev} for {} but got {}", s.metric, s.v));
        }
        seen += 1;
    }
    if exp.scalar.is_some() || seen != exp.metrics.len() {
        return Err(format!(
            "expected {} series{}, got {}",
            exp.metrics.len(),
            if exp.scalar.is_some() {
                " (a scalar)"
            } else {
                ""
            },
            seen
        ));
    }
    Ok(())
}

fn compare_scalar(exp: &Expectation, v: f64) -> Result<(), String> {
    match exp.scalar {
        Some(e) if almost_equal(e, v) => Ok(()),
        Some(e) => Err(format!("expected Scalar {e} but got {v}")),
        None => Err("got a scalar, expected series".to_owned()),
    }
}

/// Functions whose result can change with the evaluation time even when their arguments
/// are pinned by `@` (`AtModifierUnsafeFunctions`).
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

/// Pins every selector and subquery outside subqueries at `ts`, as `atModifierTestCases`
/// does; returns whether an `@`-unsafe function occurs.
fn pin_at(e: &mut Expr, ts: i64, in_subquery: bool) -> bool {
    let pin = |at: &mut Option<At>| {
        if !in_subquery && !matches!(at, Some(At::Timestamp(_))) {
            *at = Some(At::Timestamp(ts));
        }
    };
    match e {
        Expr::VectorSelector(vs) => {
            pin(&mut vs.at);
            false
        }
        Expr::MatrixSelector { selector, .. } => pin_at(selector, ts, in_subquery),
        Expr::Subquery { expr, at, .. } => {
            pin(at);
            pin_at(expr, ts, true)
        }
        Expr::Call { func, args, .. } => {
            let mut unsafe_fn = AT_UNSAFE.contains(&func.name);
            for a in args {
                unsafe_fn |= pin_at(a, ts, in_subquery);
            }
            unsafe_fn
        }
        Expr::Aggregate { expr, param, .. } => {
            let mut u = pin_at(expr, ts, in_subquery);
            if let Some(p) = param {
                u |= pin_at(p, ts, in_subquery);
            }
            u
        }
        Expr::Binary { lhs, rhs, .. } => {
            let l = pin_at(lhs, ts, in_subquery);
            pin_at(rhs, ts, in_subquery) | l
        }
        Expr::Unary { expr, .. } | Expr::Paren { expr, .. } => pin_at(expr, ts, in_subquery),
        Expr::Number { .. } | Expr::String { .. } => false,
    }
}

fn run_eval(
    engine: &Engine,
    store: &Storage,
    expr_text: &str,
    at: i64,
    fail: bool,
    ordered: bool,
    exp: &Expectation,
) -> Result<(), String> {
    let expr = tocsin_promql::parse(expr_text).map_err(|e| format!("parse error: {e}"))?;
    let mut queries = vec![(expr_text.to_owned(), at)];
    let mut pinned = expr.clone();
    if !pin_at(&mut pinned, at, false) {
        let text = pinned.to_string();
        let times: Vec<i64> = if at == 0 {
            vec![-1000, 0, 1000]
        } else {
            vec![-10 * at, 0, at / 5, at, 10 * at]
        };
        queries.extend(times.into_iter().map(|t| (text.clone(), t)));
    }
    for (q, t) in queries {
        let expr = tocsin_promql::parse(&q).map_err(|e| format!("parse error in {q}: {e}"))?;
        let res = match engine.instant(store, &expr, t) {
            Err(e) if fail => {
                let _ = e;
                continue;
            }
            Err(e) => return Err(format!("error evaluating query {q:?} at {t}: {e}")),
            Ok(_) if fail => {
                return Err(format!(
                    "expected error evaluating query {q:?} but got none"
                ))
            }
            Ok(v) => v,
        };
        match &res {
            Value::Vector(v) => compare_vector(exp, ordered, v),
            Value::Scalar { v, .. } => compare_scalar(exp, *v),
            Value::Matrix(_) => Err("received range result on instant evaluation".to_owned()),
            Value::String { .. } => Err("unexpected string result".to_owned()),
        }
        .map_err(|e| format!("{q} at {t}: {e}"))?;
        let mat = engine
            .range(store, &expr, t - 60_000, t + 60_000, 60_000)
            .map_err(|e| format!("error evaluating query {q:?} at {t} in range mode: {e}"))?;
        if ordered {
            continue;
        }
        let vec: Vec<Sample> = mat
            .iter()
            .filter_map(|s| {
                let p = s.points.iter().find(|p| p.t == t)?;
                Some(Sample {
                    metric: s.metric.clone(),
                    t,
                    v: p.v,
                })
            })
            .collect();
        match res {
            Value::Scalar { .. } => match vec.first() {
                Some(s) => compare_scalar(exp, s.v),
                None => Err("no scalar in range mode".to_owned()),
            },
            _ => compare_vector(exp, false, &vec),
        }
        .map_err(|e| format!("{q} at {t} range mode: {e}"))?;
    }
    Ok(())
}

#[test]
fn prometheus_2_42_engine_tests_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/promql-conformance");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/promql-conformance exists")
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    let engine = Engine::default();
    let exceptions: HashMap<&str, &str> = EXCEPTIONS.iter().copied().collect();
    let (mut total, mut passed) = (0, 0);
    let mut unexpected = Vec::new();
    let mut stale_exceptions = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).expect("readable test file");
        let cmds = parse_file(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut store = Storage::new();
        for cmd in cmds {
            match cmd {
                Command::Clear => store.clear(),
                Command::Load(defs) => {
                    for (labels, samples) in defs {
                        for (t, v) in samples {
                            store
                                .append(&labels, t, v)
                                .unwrap_or_else(|e| panic!("{name}: load {labels}: {e}"));
                        }
                    }
                }
                Command::Eval {
                    line,
                    expr,
                    at,
                    fail,
                    ordered,
                    expect,
                } => {
                    total += 1;
                    let id = format!("{name}:{line}");
                    let result = run_eval(&engine, &store, &expr, at, fail, ordered, &expect);
                    match (result, exceptions.get(id.as_str())) {
                        (Ok(()), None) => passed += 1,
                        (Ok(()), Some(_)) => stale_exceptions.push(id),
                        (Err(e), None) => unexpected.push(format!("{id}: {expr}\n    {e}")),
                        (Err(e), Some(reason)) => {
                            println!("exception {id} ({reason}): {e}");
                        }
                    }
                }
            }
        }
    }
    println!("{passed} of {total} eval commands pass");
    for (id, reason) in EXCEPTIONS {
        println!("gap: {id}: {reason}");
    }
    assert_eq!(
        total, EXPECTED_EVALS,
        "eval commands found in the test files"
    );
    assert!(
        unexpected.is_empty(),
        "{} eval commands fail:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        stale_exceptions.is_empty(),
        "listed as exceptions but now pass (remove them): {stale_exceptions:?}"
    );
}

#[test]
fn metric_part_of_expectations_parses_without_values() {
    let (labels, rest) = parse_metric(r#"{job="a"}"#).unwrap();
    assert_eq!(labels.get("job"), "a");
    assert!(rest.is_empty());
}

//! The evaluator: Prometheus's `promql/engine.go` structure over [`Storage`]. Each node
//! evaluates to a matrix over the query's steps; `range_eval` hands the per-step vectors
//! of its operands to a step function, as Prometheus's `rangeEval` does.

use crate::aggregate::aggregate;
use crate::binop::{
    scalar_binop, vector_and, vector_binop, vector_or, vector_scalar_binop, vector_unless,
};
use crate::functions::{self, FuncState, RangeArgs};
use crate::labels::{FxHashMap, FxHashSet, Labels, METRIC_NAME};
use crate::storage::{is_stale_nan, Point, Storage, StoredSeries};
use crate::EvalError;
use regex::Regex;
use std::collections::{HashMap, HashSet};
use tocsin_promql::{At, Expr, MatchOp, Matcher, ValueType, VectorSelector};

/// One sample of an instant vector. `t` is the evaluation time, except under
/// `timestamp()`-style access where Prometheus keeps the sample's own time.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub metric: Labels,
    pub t: i64,
    pub v: f64,
}

/// A series of a range result.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub metric: Labels,
    pub points: Vec<Point>,
}

/// The result of an instant query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
    String { t: i64, v: String },
}

/// Evaluation settings, as Prometheus's `EngineOpts`.
#[derive(Debug, Clone)]
pub struct Engine {
    /// How far back an instant selector looks for a sample (milliseconds), 5m by default.
    pub lookback_delta: i64,
    /// Step of a subquery written without one (`x[1h:]`), in milliseconds. Prometheus uses
    /// the global evaluation interval; promtool the test group's `evaluation_interval`.
    pub default_subquery_step: i64,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine {
            lookback_delta: 5 * 60 * 1000,
            default_subquery_step: 60 * 1000,
        }
    }
}

impl Engine {
    /// Evaluates `expr` at `t` (milliseconds), as an instant query.
    pub fn instant(&self, store: &Storage, expr: &Expr, t: i64) -> Result<Value, EvalError> {
        let mut ev = Evaluator::new(self, store, t, t, 1);
        match ev.eval(expr)? {
            Val::String(s) => Ok(Value::String { t, v: s }),
            Val::Matrix(mat) => match expr.value_type() {
                ValueType::Scalar => Ok(Value::Scalar {
                    t,
                    v: mat
                        .first()
                        .and_then(|s| s.points.first())
                        .map_or(f64::NAN, |p| p.v),
                }),
                ValueType::Matrix => Ok(Value::Matrix(mat)),
                _ => Ok(Value::Vector(
                    mat.into_iter()
                        .filter_map(|s| {
                            let v = s.points.first()?.v;
                            Some(Sample {
                                metric: s.metric,
                                t,
                                v,
                            })
                        })
                        .collect(),
                )),
            },
        }
    }

    /// Evaluates `expr` from `start` to `end` every `step` milliseconds, as a range query;
    /// series come back sorted by labels.
    pub fn range(
        &self,
        store: &Storage,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Vec<Series>, EvalError> {
        let ty = expr.value_type();
        if ty != ValueType::Vector && ty != ValueType::Scalar {
            return Err(EvalError::new(format!(
                "invalid expression type {} for range query, must be Scalar or instant Vector",
                tocsin_promql::go_quote(ty.documented())
            )));
        }
        if step <= 0 {
            return Err(EvalError::new(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        let mut ev = Evaluator::new(self, store, start, end, step);
        let mut mat = match ev.eval(expr)? {
            Val::Matrix(m) => m,
            Val::String(_) => return Err(EvalError::new("unexpected string result")),
        };
        mat.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(mat)
    }
}

pub(crate) type Vector = Vec<Sample>;
pub(crate) type Matrix = Vec<Series>;

pub(crate) enum Val {
    Matrix(Matrix),
    String(String),
}

impl Val {
    fn into_matrix(self) -> Matrix {
        match self {
            Val::Matrix(m) => m,
            Val::String(_) => Vec::new(),
        }
    }
}

pub(crate) fn unparen(mut e: &Expr) -> &Expr {
    while let Expr::Paren { expr, .. } = e {
        e = expr;
    }
    e
}

pub(crate) fn same_labelset_error() -> EvalError {
    EvalError::new("vector cannot contain metrics with the same labelset")
}

fn has_duplicate<'a>(metrics: impl Iterator<Item = &'a Labels>) -> bool {
    let mut seen = FxHashSet::default();
    for m in metrics {
        if !seen.insert(m) {
            return true;
        }
    }
    false
}

/// A series fed to a range-vector function: stored samples or a subquery's output.
enum RangeSource<'a> {
    Stored(&'a StoredSeries),
    Owned(Series),
}

impl RangeSource<'_> {
    fn metric(&self) -> &Labels {
        match self {
            RangeSource::Stored(s) => &s.labels,
            RangeSource::Owned(s) => &s.metric,
        }
    }
    fn points(&self) -> &[Point] {
        match self {
            RangeSource::Stored(s) => &s.points,
            RangeSource::Owned(s) => &s.points,
        }
    }
}

/// Samples of `points` in `[mint, maxt]`, without staleness markers.
fn window(points: &[Point], mint: i64, maxt: i64, out: &mut Vec<Point>) {
    out.clear();
    let lo = points.partition_point(|p| p.t < mint);
    let hi = points.partition_point(|p| p.t <= maxt);
    if lo < hi {
        out.extend(points[lo..hi].iter().filter(|p| !is_stale_nan(p.v)));
    }
}

pub(crate) struct Evaluator<'a> {
    store: &'a Storage,
    start: i64,
    end: i64,
    interval: i64,
    lookback: i64,
    default_subquery_step: i64,
    /// The query's own start and end, which `@ start()` and `@ end()` refer to.
    query_start: i64,
    query_end: i64,
    regexes: HashMap<String, Regex>,
}

impl<'a> Evaluator<'a> {
    fn new(engine: &Engine, store: &'a Storage, start: i64, end: i64, interval: i64) -> Self {
        Evaluator {
            store,
            start,
            end,
            interval,
            lookback: engine.lookback_delta,
            default_subquery_step: engine.default_subquery_step,
            query_start: start,
            query_end: end,
            regexes: HashMap::new(),
        }
    }

    fn steps(&self) -> impl Iterator<Item = i64> {
        let (start, end, interval) = (self.start, self.end, self.interval);
        let n = if end < start {
            0
        } else {
            (end - start) / interval + 1
        };
        (0..n).map(move |i| start + i * interval)
    }

    /// The time a selector under `@` reads at for the step `ts` (before its offset).
    fn at_time(&self, at: Option<At>, ts: i64) -> i64 {
        match at {
            None => ts,
            Some(At::Timestamp(t)) => t,
            Some(At::Start) => self.query_start,
            Some(At::End) => self.query_end,
        }
    }

    fn matches(&mut self, m: &Matcher, value: &str) -> Result<bool, EvalError> {
        Ok(match m.op {
            MatchOp::Equal => value == m.value,
            MatchOp::NotEqual => value != m.value,
            MatchOp::Regex | MatchOp::NotRegex => {
                let re = match self.regexes.get(&m.value) {
                    Some(re) => re,
                    None => {
                        let re = Regex::new(&format!("^(?:{})$", m.value))
                            .map_err(|e| EvalError::new(format!("error parsing regexp: {e}")))?;
                        self.regexes.entry(m.value.clone()).or_insert(re)
                    }
                };
                re.is_match(value) == (m.op == MatchOp::Regex)
            }
        })
    }

    /// The stored series a selector matches, in label order.
    fn select(&mut self, vs: &VectorSelector) -> Result<Vec<&'a StoredSeries>, EvalError> {
        let store = self.store;
        let name_eq = if !vs.name.is_empty() {
            Some(vs.name.as_str())
        } else {
            vs.matchers
                .iter()
                .find(|m| m.name == METRIC_NAME && m.op == MatchOp::Equal)
                .map(|m| m.value.as_str())
        };
        let candidates: Box<dyn Iterator<Item = &'a StoredSeries>> = match name_eq {
            Some(n) => Box::new(store.with_name(n)),
            None => Box::new(store.all()),
        };
        let mut out = Vec::new();
        'series: for s in candidates {
            if s.points.is_empty() {
                continue;
            }
            if !vs.name.is_empty() && s.labels.get(METRIC_NAME) != vs.name {
                continue;
            }
            for m in &vs.matchers {
                if !self.matches(m, s.labels.get(&m.name))? {
                    continue 'series;
                }
            }
            out.push(s);
        }
        Ok(out)
    }

    /// The sample an instant selector sees at `ref_time`: the latest at or before it,
    /// within the lookback delta, unless it is a staleness marker.
    fn lookup(&self, points: &[Point], ref_time: i64) -> Option<Point> {
        let idx = points.partition_point(|p| p.t <= ref_time);
        let p = *points.get(idx.checked_sub(1)?)?;
        if p.t < ref_time - self.lookback || is_stale_nan(p.v) {
            return None;
        }
        Some(p)
    }

    pub(crate) fn eval(&mut self, expr: &Expr) -> Result<Val, EvalError> {
        match expr {
            Expr::Number { value, .. } => {
                let v = *value;
                self.range_eval(&[], |_, _| {
                    Ok(vec![Sample {
                        metric: Labels::empty(),
                        t: 0,
                        v,
                    }])
                })
                .map(Val::Matrix)
            }
            Expr::String { value, .. } => Ok(Val::String(value.clone())),
            Expr::Paren { expr, .. } => self.eval(expr),
            Expr::Unary { negate, expr, .. } => {
                let mut mat = self.eval(expr)?.into_matrix();
                if *negate {
                    for s in &mut mat {
                        s.metric = s.metric.without_name();
                        for p in &mut s.points {
                            p.v = -p.v;
                        }
                    }
                    if has_duplicate(mat.iter().map(|s| &s.metric)) {
                        return Err(same_labelset_error());
                    }
                }
                Ok(Val::Matrix(mat))
            }
            Expr::VectorSelector(vs) => self.eval_vector_selector(vs).map(Val::Matrix),
            Expr::MatrixSelector {
                selector, range, ..
            } => {
                let Expr::VectorSelector(vs) = unparen(selector) else {
                    return Err(EvalError::new("matrix selector without a vector selector"));
                };
                if self.start != self.end {
                    return Err(EvalError::new(
                        "cannot do range evaluation of matrix selector",
                    ));
                }
                let maxt = self.at_time(vs.at, self.start) - vs.offset;
                let mint = maxt - range;
                let mut out = Vec::new();
                for s in self.select(vs)? {
                    let mut pts = Vec::new();
                    window(&s.points, mint, maxt, &mut pts);
                    if !pts.is_empty() {
                        out.push(Series {
                            metric: s.labels.clone(),
                            points: pts,
                        });
                    }
                }
                Ok(Val::Matrix(out))
            }
            Expr::Subquery {
                expr,
                range,
                step,
                offset,
                at,
                ..
            } => self
                .eval_subquery(expr, *range, *step, *offset, *at)
                .map(Val::Matrix),
            Expr::Call { func, args, .. } => self.eval_call(func.name, args).map(Val::Matrix),
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
                ..
            } => {
                let mut grouping = grouping.clone();
                grouping.sort();
                let without = *without;
                let op = *op;
                if let Some(Expr::String { value, .. }) = param.as_deref().map(unparen) {
                    let label = value.clone();
                    return self
                        .range_eval(&[Some(expr)], |v, _| {
                            aggregate(op, &grouping, without, None, Some(&label), &v[0])
                        })
                        .map(Val::Matrix);
                }
                self.range_eval(&[param.as_deref(), Some(expr)], |v, _| {
                    let p = v[0].first().map(|s| s.v);
                    aggregate(op, &grouping, without, p, None, &v[1])
                })
                .map(Val::Matrix)
            }
            Expr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => {
                let (op, rb) = (*op, *return_bool);
                let (lt, rt) = (lhs.value_type(), rhs.value_type());
                let mat = match (lt, rt) {
                    (ValueType::Scalar, ValueType::Scalar) => {
                        self.range_eval(&[Some(lhs), Some(rhs)], |v, _| {
                            Ok(vec![Sample {
                                metric: Labels::empty(),
                                t: 0,
                                v: scalar_binop(op, v[0][0].v, v[1][0].v),
                            }])
                        })?
                    }
                    (ValueType::Vector, ValueType::Vector) => {
                        self.range_eval(&[Some(lhs), Some(rhs)], |v, _| match op {
                            tocsin_promql::BinaryOp::And => Ok(vector_and(&v[0], &v[1], matching)),
                            tocsin_promql::BinaryOp::Or => Ok(vector_or(&v[0], &v[1], matching)),
                            tocsin_promql::BinaryOp::Unless => {
                                Ok(vector_unless(&v[0], &v[1], matching))
                            }
                            _ => vector_binop(op, &v[0], &v[1], matching, rb),
                        })?
                    }
                    (ValueType::Vector, _) => self
                        .range_eval(&[Some(lhs), Some(rhs)], |v, _| {
                            Ok(vector_scalar_binop(op, &v[0], v[1][0].v, false, rb))
                        })?,
                    _ => self.range_eval(&[Some(lhs), Some(rhs)], |v, _| {
                        Ok(vector_scalar_binop(op, &v[1], v[0][0].v, true, rb))
                    })?,
                };
                Ok(Val::Matrix(mat))
            }
        }
    }

    fn eval_vector_selector(&mut self, vs: &VectorSelector) -> Result<Matrix, EvalError> {
        let series = self.select(vs)?;
        let steps: Vec<i64> = self.steps().collect();
        let mut out = Vec::with_capacity(series.len());
        for s in series {
            let mut points = Vec::new();
            for &ts in &steps {
                let r = self.at_time(vs.at, ts) - vs.offset;
                if let Some(p) = self.lookup(&s.points, r) {
                    points.push(Point { t: ts, v: p.v });
                }
            }
            if !points.is_empty() {
                out.push(Series {
                    metric: s.labels.clone(),
                    points,
                });
            }
        }
        Ok(out)
    }

    fn eval_subquery(
        &mut self,
        expr: &Expr,
        range: i64,
        step: i64,
        offset: i64,
        at: Option<At>,
    ) -> Result<Matrix, EvalError> {
        let interval = if step != 0 {
            step
        } else {
            self.default_subquery_step
        };
        if interval <= 0 {
            return Err(EvalError::new("subquery step must be positive"));
        }
        let new_end = self.at_time(at, self.end) - offset;
        let first = self.at_time(at, self.start) - offset - range;
        let mut new_start = interval * (first / interval);
        if new_start < first {
            new_start += interval;
        }
        let saved = (self.start, self.end, self.interval);
        self.start = new_start;
        self.end = new_end;
        self.interval = interval;
        let res = self.eval(expr);
        (self.start, self.end, self.interval) = saved;
        Ok(res?.into_matrix())
    }

    /// Evaluates `exprs` (skipping `None` and strings) and calls `f` with their vectors at
    /// every step, assembling the outputs into series.
    pub(crate) fn range_eval(
        &mut self,
        exprs: &[Option<&Expr>],
        mut f: impl FnMut(&[Vector], i64) -> Result<Vector, EvalError>,
    ) -> Result<Matrix, EvalError> {
        let mut mats = Vec::with_capacity(exprs.len());
        for e in exprs {
            mats.push(match e {
                Some(e) if e.value_type() != ValueType::String => self.eval(e)?.into_matrix(),
                _ => Vec::new(),
            });
        }
        let mut cursors: Vec<Vec<usize>> = mats.iter().map(|m| vec![0; m.len()]).collect();
        let mut vectors: Vec<Vector> = vec![Vec::new(); mats.len()];
        let instant = self.start == self.end;
        let mut out: Matrix = Vec::new();
        let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
        let steps: Vec<i64> = self.steps().collect();
        for ts in steps {
            for (i, mat) in mats.iter().enumerate() {
                vectors[i].clear();
                for (si, s) in mat.iter().enumerate() {
                    let c = &mut cursors[i][si];
                    if let Some(p) = s.points.get(*c) {
                        if p.t == ts {
                            vectors[i].push(Sample {
                                metric: s.metric.clone(),
                                t: ts,
                                v: p.v,
                            });
                            *c += 1;
                        }
                    }
                }
            }
            let result = f(&vectors, ts)?;
            if has_duplicate(result.iter().map(|s| &s.metric)) {
                return Err(same_labelset_error());
            }
            if instant {
                return Ok(result
                    .into_iter()
                    .map(|s| Series {
                        metric: s.metric,
                        points: vec![Point { t: ts, v: s.v }],
                    })
                    .collect());
            }
            for s in result {
                let p = Point { t: ts, v: s.v };
                match index.get(&s.metric) {
                    Some(&i) => out[i].points.push(p),
                    None => {
                        index.insert(s.metric.clone(), out.len());
                        out.push(Series {
                            metric: s.metric,
                            points: vec![p],
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    fn eval_call(&mut self, name: &'static str, args: &[Expr]) -> Result<Matrix, EvalError> {
        if name == "timestamp" {
            if let Expr::VectorSelector(vs) = unparen(&args[0]) {
                // The sample's own timestamp, not the step's.
                let series = self.select(vs)?;
                let lookups: Vec<&StoredSeries> = series;
                return self.range_eval_with_self(|ev, ts| {
                    let r = ev.at_time(vs.at, ts) - vs.offset;
                    let mut out = Vec::new();
                    for s in &lookups {
                        if let Some(p) = ev.lookup(&s.points, r) {
                            out.push(Sample {
                                metric: s.labels.without_name(),
                                t: ts,
                                v: p.t as f64 / 1000.0,
                            });
                        }
                    }
                    Ok(out)
                });
            }
        }
        let matrix_arg = args.iter().position(|a| {
            matches!(
                unparen(a),
                Expr::MatrixSelector { .. } | Expr::Subquery { .. }
            )
        });
        let Some(mi) = matrix_arg else {
            let mut state = FuncState::default();
            let exprs: Vec<Option<&Expr>> = args.iter().map(Some).collect();
            return self.range_eval(&exprs, |v, ts| {
                functions::call_instant(name, v, args, ts, &mut state)
            });
        };

        // The series of the range argument, with its range, offset and `@`.
        let (sources, range, offset, at) = match unparen(&args[mi]) {
            Expr::MatrixSelector {
                selector, range, ..
            } => {
                let Expr::VectorSelector(vs) = unparen(selector) else {
                    return Err(EvalError::new("matrix selector without a vector selector"));
                };
                let s: Vec<RangeSource> = self
                    .select(vs)?
                    .into_iter()
                    .map(RangeSource::Stored)
                    .collect();
                (s, *range, vs.offset, vs.at)
            }
            Expr::Subquery {
                expr,
                range,
                step,
                offset,
                at,
                ..
            } => {
                let m = self.eval_subquery(expr, *range, *step, *offset, *at)?;
                let s: Vec<RangeSource> = m.into_iter().map(RangeSource::Owned).collect();
                (s, *range, *offset, *at)
            }
            _ => {
                return Err(EvalError::new(
                    "range argument is neither a matrix selector nor a subquery",
                ))
            }
        };
        // The other arguments are scalars: one value per step.
        let mut scalars: Vec<Vec<f64>> = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i == mi {
                continue;
            }
            let m = self.eval(a)?.into_matrix();
            scalars.push(
                m.into_iter()
                    .next()
                    .map(|s| s.points.into_iter().map(|p| p.v).collect())
                    .unwrap_or_default(),
            );
        }
        let steps: Vec<i64> = self.steps().collect();
        let mut out: Matrix = Vec::new();
        let mut buf = Vec::new();
        let mut sc = vec![0.0; scalars.len()];
        for src in &sources {
            let metric = if name == "last_over_time" {
                src.metric().clone()
            } else {
                src.metric().without_name()
            };
            let mut points = Vec::new();
            for (step, &ts) in steps.iter().enumerate() {
                for (j, s) in scalars.iter().enumerate() {
                    sc[j] = s.get(step).copied().unwrap_or(f64::NAN);
                }
                let maxt = self.at_time(at, ts) - offset;
                let mint = maxt - range;
                window(src.points(), mint, maxt, &mut buf);
                if buf.is_empty() {
                    continue;
                }
                let a = RangeArgs {
                    points: &buf,
                    scalars: &sc,
                    ts,
                    range_start: mint,
                    range_end: maxt,
                    range,
                };
                if let Some(v) = functions::call_range(name, &a)? {
                    points.push(Point { t: ts, v });
                }
            }
            if !points.is_empty() {
                out.push(Series { metric, points });
            }
        }
        if name == "absent_over_time" {
            let n = steps.len();
            if out.iter().any(|s| s.points.len() == n) {
                return Ok(Vec::new());
            }
            let found: HashSet<i64> = out
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.t))
                .collect();
            if found.len() == n && out.len() > 1 {
                return Ok(Vec::new());
            }
            let points: Vec<Point> = steps
                .iter()
                .filter(|t| !found.contains(t))
                .map(|&t| Point { t, v: 1.0 })
                .collect();
            return Ok(vec![Series {
                metric: functions::absent_labels(unparen(&args[0])),
                points,
            }]);
        }
        // Distinct stored series sharing one name stay distinct without it.
        let one_name = sources
            .windows(2)
            .all(|w| w[0].metric().get(METRIC_NAME) == w[1].metric().get(METRIC_NAME));
        if !one_name && has_duplicate(out.iter().map(|s| &s.metric)) {
            return Err(same_labelset_error());
        }
        Ok(out)
    }

    /// `range_eval` without operands, whose step function may read the store.
    fn range_eval_with_self(
        &mut self,
        mut f: impl FnMut(&Self, i64) -> Result<Vector, EvalError>,
    ) -> Result<Matrix, EvalError> {
        let steps: Vec<i64> = self.steps().collect();
        let mut per_step = Vec::with_capacity(steps.len());
        for &ts in &steps {
            per_step.push(f(self, ts)?);
        }
        let mut it = per_step.into_iter();
        self.range_eval(&[], move |_, _| Ok(it.next().unwrap_or_default()))
    }
}

//! PromQL functions as `promql/functions.go` and `promql/quantile.go` of Prometheus 2.42:
//! instant-vector functions get the step's argument vectors, range-vector functions one
//! series' samples in the window at a time.

use crate::engine::{Sample, Vector};
use crate::gosort;
use crate::labels::{is_valid_label_name, FxHashMap, Labels, METRIC_NAME};
use crate::storage::Point;
use crate::EvalError;
use regex::Regex;
use std::collections::HashMap;
use tocsin_promql::{Expr, MatchOp};

/// Per-node state kept across steps (`EvalNodeHelper`'s compiled `label_replace` regex).
#[derive(Default)]
pub(crate) struct FuncState {
    regex: Option<Regex>,
}

/// The window of one series handed to a range-vector function.
pub(crate) struct RangeArgs<'a> {
    pub points: &'a [Point],
    /// The scalar arguments at this step, in argument order without the range argument.
    pub scalars: &'a [f64],
    pub ts: i64,
    pub range_start: i64,
    pub range_end: i64,
    /// The selector's (or subquery's) range in milliseconds.
    pub range: i64,
}

fn string_arg(args: &[Expr], i: usize) -> &str {
    match args.get(i).map(crate::engine::unparen) {
        Some(Expr::String { value, .. }) => value,
        _ => "",
    }
}

fn simple(vec: &[Sample], f: impl Fn(f64) -> f64) -> Vector {
    vec.iter()
        .map(|s| Sample {
            metric: s.metric.without_name(),
            t: s.t,
            v: f(s.v),
        })
        .collect()
}

fn scalar_out(v: f64) -> Vector {
    vec![Sample {
        metric: Labels::empty(),
        t: 0,
        v,
    }]
}

/// Go's `math.Max`/`math.Min`: NaN wins, and +0 beats -0 for max.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { b } else { a };
    }
    if a > b {
        a
    } else {
        b
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b {
        a
    } else {
        b
    }
}

/// Calls an instant-vector (or scalar, or argument-less) function for one step.
pub(crate) fn call_instant(
    name: &str,
    v: &[Vector],
    args: &[Expr],
    ts: i64,
    state: &mut FuncState,
) -> Result<Vector, EvalError> {
    let arg = |i: usize| -> &[Sample] { v.get(i).map(|x| x.as_slice()).unwrap_or(&[]) };
    let scalar = |i: usize| -> f64 { arg(i).first().map_or(f64::NAN, |s| s.v) };
    Ok(match name {
        "time" => scalar_out(ts as f64 / 1000.0),
        "pi" => scalar_out(std::f64::consts::PI),
        "abs" => simple(arg(0), f64::abs),
        "ceil" => simple(arg(0), f64::ceil),
        "floor" => simple(arg(0), f64::floor),
        "exp" => simple(arg(0), f64::exp),
        "sqrt" => simple(arg(0), f64::sqrt),
        "ln" => simple(arg(0), f64::ln),
        "log2" => simple(arg(0), f64::log2),
        "log10" => simple(arg(0), f64::log10),
        "sin" => simple(arg(0), f64::sin),
        "cos" => simple(arg(0), f64::cos),
        "tan" => simple(arg(0), f64::tan),
        "asin" => simple(arg(0), f64::asin),
        "acos" => simple(arg(0), f64::acos),
        "atan" => simple(arg(0), f64::atan),
        "sinh" => simple(arg(0), f64::sinh),
        "cosh" => simple(arg(0), f64::cosh),
        "tanh" => simple(arg(0), f64::tanh),
        "asinh" => simple(arg(0), f64::asinh),
        "acosh" => simple(arg(0), f64::acosh),
        "atanh" => simple(arg(0), f64::atanh),
        "rad" => simple(arg(0), |x| x * std::f64::consts::PI / 180.0),
        "deg" => simple(arg(0), |x| x * 180.0 / std::f64::consts::PI),
        "sgn" => simple(arg(0), |x| {
            if x < 0.0 {
                -1.0
            } else if x > 0.0 {
                1.0
            } else {
                x
            }
        }),
        "timestamp" => arg(0)
            .iter()
            .map(|s| Sample {
                metric: s.metric.without_name(),
                t: s.t,
                v: s.t as f64 / 1000.0,
            })
            .collect(),
        "clamp" => {
            let (min, max) = (scalar(1), scalar(2));
            if max < min {
                return Ok(Vec::new());
            }
            simple(arg(0), |x| go_max(min, go_min(max, x)))
        }
        "clamp_max" => {
            let max = scalar(1);
            simple(arg(0), |x| go_min(max, x))
        }
        "clamp_min" => {
            let min = scalar(1);
            simple(arg(0), |x| go_max(min, x))
        }
        "round" => {
            let to_nearest = if args.len() >= 2 { scalar(1) } else { 1.0 };
            let inv = 1.0 / to_nearest;
            simple(arg(0), |x| (x * inv + 0.5).floor() / inv)
        }
        "scalar" => {
            let vec = arg(0);
            scalar_out(if vec.len() == 1 { vec[0].v } else { f64::NAN })
        }
        "vector" => scalar_out(scalar(0)),
        "sort" => {
            let mut out = arg(0).to_vec();
            gosort::sort(&mut out, &|a: &Sample, b: &Sample| {
                b.v.is_nan() || b.v > a.v
            });
            out
        }
        "sort_desc" => {
            let mut out = arg(0).to_vec();
            gosort::sort(&mut out, &|a: &Sample, b: &Sample| {
                b.v.is_nan() || b.v < a.v
            });
            out
        }
        "absent" => {
            if !arg(0).is_empty() {
                return Ok(Vec::new());
            }
            vec![Sample {
                metric: absent_labels(crate::engine::unparen(&args[0])),
                t: 0,
                v: 1.0,
            }]
        }
        "histogram_quantile" => histogram_quantile(scalar(0), arg(1)),
        // Native histograms only; float series give nothing, as in Prometheus.
        "histogram_count" | "histogram_sum" | "histogram_fraction" => Vec::new(),
        "label_replace" => label_replace(arg(0), args, state)?,
        "label_join" => label_join(arg(0), args)?,
        "days_in_month" | "day_of_month" | "day_of_week" | "day_of_year" | "hour" | "minute"
        | "month" | "year" => {
            let f = |secs: i64| date_part(name, secs);
            if args.is_empty() {
                scalar_out(f(ts.div_euclid(1000)))
            } else {
                simple(arg(0), |x| f(go_f64_to_i64(x)))
            }
        }
        other => {
            return Err(EvalError::new(format!(
                "function {other:?} is not implemented"
            )))
        }
    })
}

/// Go's `int64(f)` on amd64: out-of-range and NaN give the minimum int64.
fn go_f64_to_i64(x: f64) -> i64 {
    // 2^63 as f64: int64 conversion is exact below it.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() || !(-LIMIT..LIMIT).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

/// Go's `time.Unix(secs, 0).UTC()` broken down as `time.Time` does it: seconds since the
/// absolute zero year as a wrapping `uint64` (so even `int64(NaN)` gives Go's answer), then
/// 400/100/4/1-year cycles (`absDate` of Go's `time` package).
struct GoDate {
    abs: u64,
    year: i64,
    /// 0-based day of the year.
    yday: u64,
}

const UNIX_TO_ABSOLUTE: i64 = 9_223_372_028_715_321_600;
const ABSOLUTE_ZERO_YEAR: i64 = -292_277_022_399;

fn go_date(secs: i64) -> GoDate {
    let abs = secs.wrapping_add(UNIX_TO_ABSOLUTE) as u64;
    let mut d = abs / 86_400;
    let mut n = d / 146_097;
    let mut y = 400 * n;
    d -= 146_097 * n;
    n = d / 36_524;
    n -= n >> 2;
    y += 100 * n;
    d -= 36_524 * n;
    n = d / 1461;
    y += 4 * n;
    d -= 1461 * n;
    n = d / 365;
    n -= n >> 2;
    y += n;
    d -= 365 * n;
    GoDate {
        abs,
        year: (y as i64).wrapping_add(ABSOLUTE_ZERO_YEAR),
        yday: d,
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Month (1-12) and day of month from a 0-based day of the year.
fn month_day(year: i64, yday: u64) -> (u64, u64) {
    const BEFORE: [u64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    let mut day = yday;
    if is_leap(year) {
        if day == 31 + 29 - 1 {
            return (2, 29);
        }
        if day > 31 + 29 - 1 {
            day -= 1;
        }
    }
    let mut month = (day / 31) as usize;
    let end = BEFORE[month + 1];
    let begin = if day >= end {
        month += 1;
        end
    } else {
        BEFORE[month]
    };
    (month as u64 + 1, day - begin + 1)
}

fn date_part(name: &str, secs: i64) -> f64 {
    let g = go_date(secs);
    let (month, day) = month_day(g.year, g.yday);
    (match name {
        "days_in_month" => match month {
            2 if is_leap(g.year) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        },
        "day_of_month" => day as i64,
        // Weekday(((abs + Monday*86400) % 604800) / 86400)
        "day_of_week" => ((g.abs.wrapping_add(86_400) % 604_800) / 86_400) as i64,
        "day_of_year" => g.yday as i64 + 1,
        "hour" => (g.abs % 86_400 / 3600) as i64,
        "minute" => (g.abs % 3600 / 60) as i64,
        "month" => month as i64,
        _ => g.year,
    }) as f64
}

/// `createLabelsForAbsentFunction`: the labels of equality matchers, except names matched
/// more than once and `__name__`.
pub(crate) fn absent_labels(expr: &Expr) -> Labels {
    let vs = match expr {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector { selector, .. } => match crate::engine::unparen(selector) {
            Expr::VectorSelector(vs) => vs,
            _ => return Labels::empty(),
        },
        _ => return Labels::empty(),
    };
    let mut out = Labels::empty();
    let mut has: HashMap<&str, bool> = HashMap::new();
    for m in &vs.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == MatchOp::Equal && !has.get(m.name.as_str()).copied().unwrap_or(false) {
            out.set(&m.name, m.value.clone());
            has.insert(&m.name, true);
        } else {
            out.del(&m.name);
        }
    }
    out
}

fn label_replace(
    vec: &[Sample],
    args: &[Expr],
    state: &mut FuncState,
) -> Result<Vector, EvalError> {
    let (dst, repl, src, regex) = (
        string_arg(args, 1),
        string_arg(args, 2),
        string_arg(args, 3),
        string_arg(args, 4),
    );
    if state.regex.is_none() {
        let re = Regex::new(&format!("^(?:{regex})$")).map_err(|_| {
            EvalError::new(format!(
                "invalid regular expression in label_replace(): {regex}"
            ))
        })?;
        if !is_valid_label_name(dst) {
            return Err(EvalError::new(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        state.regex = Some(re);
    }
    let Some(re) = state.regex.as_ref() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(vec.len());
    for s in vec {
        let src_val = s.metric.get(src);
        let metric = match re.captures(src_val) {
            None => s.metric.clone(),
            Some(caps) => {
                let mut res = String::new();
                caps.expand(repl, &mut res);
                let mut m = s.metric.clone();
                m.set(dst, res);
                m
            }
        };
        out.push(Sample {
            metric,
            t: s.t,
            v: s.v,
        });
    }
    Ok(out)
}

fn label_join(vec: &[Sample], args: &[Expr]) -> Result<Vector, EvalError> {
    let (dst, sep) = (string_arg(args, 1), string_arg(args, 2));
    let mut srcs = Vec::new();
    for i in 3..args.len() {
        let src = string_arg(args, i);
        if !is_valid_label_name(src) {
            return Err(EvalError::new(format!(
                "invalid source label name in label_join(): {src}"
            )));
        }
        srcs.push(src);
    }
    if !is_valid_label_name(dst) {
        return Err(EvalError::new(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    Ok(vec
        .iter()
        .map(|s| {
            let joined: Vec<&str> = srcs.iter().map(|l| s.metric.get(l)).collect();
            let mut m = s.metric.clone();
            m.set(dst, joined.join(sep));
            Sample {
                metric: m,
                t: s.t,
                v: s.v,
            }
        })
        .collect())
}

/// `funcHistogramQuantile` over classic buckets: series grouped by all labels but `le`,
/// output without `le` and `__name__`.
fn histogram_quantile(q: f64, vec: &[Sample]) -> Vector {
    let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for s in vec {
        let Some(upper) = parse_go_float(s.metric.get("le")) else {
            continue;
        };
        let mut key = s.metric.clone();
        key.del("le");
        let gi = match index.get(&key) {
            Some(&i) => i,
            None => {
                let out = key.without_name();
                index.insert(key, groups.len());
                groups.push((out, Vec::new()));
                groups.len() - 1
            }
        };
        groups[gi].1.push((upper, s.v));
    }
    groups
        .into_iter()
        .map(|(metric, mut buckets)| Sample {
            metric,
            t: 0,
            v: bucket_quantile(q, &mut buckets),
        })
        .collect()
}

/// Go's `strconv.ParseFloat(s, 64)` for the shapes bucket bounds take.
fn parse_go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains('_') {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if body.starts_with("0x") {
        return None;
    }
    match body {
        "inf" | "infinity" | "nan" => {}
        _ if body.bytes().any(|b| b.is_ascii_alphabetic() && b != b'e') => return None,
        _ => {}
    }
    lower.parse::<f64>().ok()
}

/// `bucketQuantile`: buckets are (upper bound, cumulative count).
fn bucket_quantile(q: f64, buckets: &mut [(f64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    gosort::sort(buckets, &|a: &(f64, f64), b: &(f64, f64)| a.0 < b.0);
    match buckets.last() {
        Some(b) if b.0 == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    // coalesceBuckets
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for &b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.0 == b.0 => last.1 += b.1,
            _ => merged.push(b),
        }
    }
    // ensureMonotonic
    let mut max = merged[0].1;
    for b in merged.iter_mut().skip(1) {
        if b.1 > max {
            max = b.1;
        } else if b.1 < max {
            b.1 = max;
        }
    }
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let n = merged.len() - 1;
    let b = merged[..n].partition_point(|x| x.1 < rank);
    if b == n {
        return merged[n - 1].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let mut bucket_start = 0.0;
    let bucket_end = merged[b].0;
    let mut count = merged[b].1;
    if b > 0 {
        bucket_start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    bucket_start + (bucket_end - bucket_start) * (rank / count)
}

/// `quantile`: sorts `values` (NaN first) and interpolates.
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    gosort::sort(values, &|a: &f64, b: &f64| a.is_nan() || a < b);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = go_max(0.0, rank.floor());
    let upper = go_min(n - 1.0, lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// `kahanSumInc`.
fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// `linearRegression`: slope and intercept at `intercept_time`.
fn linear_regression(points: &[Point], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sx, mut cx, mut sy, mut cy, mut sxy, mut cxy, mut sx2, mut cx2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let init_y = points[0].v;
    let mut const_y = true;
    for (i, p) in points.iter().enumerate() {
        if const_y && i > 0 && p.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t - intercept_time) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// `extrapolatedRate` for `rate`, `increase` and `delta`.
fn extrapolated_rate(a: &RangeArgs, is_counter: bool, is_rate: bool) -> Option<f64> {
    let pts = a.points;
    if pts.len() < 2 {
        return None;
    }
    let first = pts[0];
    let last = pts[pts.len() - 1];
    let mut result = last.v - first.v;
    if is_counter {
        let mut prev = first.v;
        for p in &pts[1..] {
            if p.v < prev {
                result += prev;
            }
            prev = p.v;
        }
    }
    let mut duration_to_start = (first.t - a.range_start) as f64 / 1000.0;
    let duration_to_end = (a.range_end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let avg_between = sampled / (pts.len() - 1) as f64;
    if is_counter && result > 0.0 && first.v >= 0.0 {
        let to_zero = sampled * (first.v / result);
        if to_zero < duration_to_start {
            duration_to_start = to_zero;
        }
    }
    let threshold = avg_between * 1.1;
    let mut interval = sampled;
    interval += if duration_to_start < threshold {
        duration_to_start
    } else {
        avg_between / 2.0
    };
    interval += if duration_to_end < threshold {
        duration_to_end
    } else {
        avg_between / 2.0
    };
    let mut factor = interval / sampled;
    if is_rate {
        factor /= a.range as f64 / 1000.0;
    }
    Some(result * factor)
}

/// `instantValue` for `irate` and `idelta`.
fn instant_value(pts: &[Point], is_rate: bool) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let last = pts[pts.len() - 1];
    let prev = pts[pts.len() - 2];
    let mut result = if is_rate && last.v < prev.v {
        last.v
    } else {
        last.v - prev.v
    };
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// `%f` as Go prints it in the `holt_winters` messages.
fn go_percent_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v:.6}")
    }
}

fn holt_winters(a: &RangeArgs) -> Result<Option<f64>, EvalError> {
    let sf = a.scalars.first().copied().unwrap_or(f64::NAN);
    let tf = a.scalars.get(1).copied().unwrap_or(f64::NAN);
    if sf <= 0.0 || sf >= 1.0 {
        return Err(EvalError::new(format!(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {}",
            go_percent_f(sf)
        )));
    }
    if tf <= 0.0 || tf >= 1.0 {
        return Err(EvalError::new(format!(
            "invalid trend factor. Expected: 0 < tf < 1, got: {}",
            go_percent_f(tf)
        )));
    }
    let pts = a.points;
    if pts.len() < 2 {
        return Ok(None);
    }
    let (mut s0, mut s1) = (0.0, pts[0].v);
    let mut b = pts[1].v - pts[0].v;
    for (i, p) in pts.iter().enumerate().skip(1) {
        let x = sf * p.v;
        // calcTrendValue(i-1, ...)
        b = if i - 1 == 0 {
            b
        } else {
            tf * (s1 - s0) + (1.0 - tf) * b
        };
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Ok(Some(s1))
}

/// Calls a range-vector function on one series' window; `None` drops the element.
pub(crate) fn call_range(name: &str, a: &RangeArgs) -> Result<Option<f64>, EvalError> {
    let pts = a.points;
    Ok(match name {
        "rate" => extrapolated_rate(a, true, true),
        "increase" => extrapolated_rate(a, true, false),
        "delta" => extrapolated_rate(a, false, false),
        "irate" => instant_value(pts, true),
        "idelta" => instant_value(pts, false),
        "holt_winters" => return holt_winters(a),
        "deriv" => {
            if pts.len() < 2 {
                None
            } else {
                Some(linear_regression(pts, pts[0].t).0)
            }
        }
        "predict_linear" => {
            if pts.len() < 2 {
                None
            } else {
                let duration = a.scalars.first().copied().unwrap_or(f64::NAN);
                let (slope, intercept) = linear_regression(pts, a.ts);
                Some(slope * duration + intercept)
            }
        }
        "avg_over_time" => {
            let (mut mean, mut count, mut c) = (0.0f64, 0.0, 0.0);
            for p in pts {
                count += 1.0;
                if mean.is_infinite() {
                    if p.v.is_infinite() && (mean > 0.0) == (p.v > 0.0) {
                        continue;
                    }
                    if !p.v.is_infinite() && !p.v.is_nan() {
                        continue;
                    }
                }
                (mean, c) = kahan_inc(p.v / count - mean / count, mean, c);
            }
            Some(if mean.is_infinite() { mean } else { mean + c })
        }
        "count_over_time" => Some(pts.len() as f64),
        "last_over_time" => Some(pts[pts.len() - 1].v),
        "present_over_time" | "absent_over_time" => Some(1.0),
        "max_over_time" => {
            let mut max = pts[0].v;
            for p in pts {
                if p.v > max || max.is_nan() {
                    max = p.v;
                }
            }
            Some(max)
        }
        "min_over_time" => {
            let mut min = pts[0].v;
            for p in pts {
                if p.v < min || min.is_nan() {
                    min = p.v;
                }
            }
            Some(min)
        }
        "sum_over_time" => {
            let (mut sum, mut c) = (0.0f64, 0.0);
            for p in pts {
                (sum, c) = kahan_inc(p.v, sum, c);
            }
            Some(if sum.is_infinite() { sum } else { sum + c })
        }
        "quantile_over_time" => {
            let q = a.scalars.first().copied().unwrap_or(f64::NAN);
            let mut vals: Vec<f64> = pts.iter().map(|p| p.v).collect();
            Some(quantile(q, &mut vals))
        }
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for p in pts {
                count += 1.0;
                let delta = p.v - (mean + cmean);
                (mean, cmean) = kahan_inc(delta / count, mean, cmean);
                (aux, caux) = kahan_inc(delta * (p.v - (mean + cmean)), aux, caux);
            }
            let var: f64 = (aux + caux) / count;
            Some(if name == "stddev_over_time" {
                var.sqrt()
            } else {
                var
            })
        }
        "resets" => {
            let mut n = 0;
            let mut prev = pts[0].v;
            for p in &pts[1..] {
                if p.v < prev {
                    n += 1;
                }
                prev = p.v;
            }
            Some(n as f64)
        }
        "changes" => {
            let mut n = 0;
            let mut prev = pts[0].v;
            for p in &pts[1..] {
                if p.v != prev && !(p.v.is_nan() && prev.is_nan()) {
                    n += 1;
                }
                prev = p.v;
            }
            Some(n as f64)
        }
        other => {
            return Err(EvalError::new(format!(
                "function {other:?} is not implemented"
            )))
        }
    })
}

//! Aggregation operators as `promql/engine.go`'s `aggregation`: groups in order of first
//! appearance, Go's heap for `topk`/`bottomk`, incremental mean and variance.

use crate::engine::Sample;
use crate::functions::quantile;
use crate::gosort;
use crate::labels::{is_valid_label_name, FxHashMap, Labels};
use crate::EvalError;
use tocsin_promql::AggregateOp;

struct Group {
    labels: Labels,
    value: f64,
    mean: f64,
    count: usize,
    heap: Vec<Sample>,
}

/// `vectorByValueHeap.Less`.
fn by_value(a: &Sample, b: &Sample) -> bool {
    a.v.is_nan() || a.v < b.v
}

/// `vectorByReverseValueHeap.Less`.
fn by_reverse_value(a: &Sample, b: &Sample) -> bool {
    a.v.is_nan() || a.v > b.v
}

/// `convertibleToInt64`.
fn convertible_to_i64(v: f64) -> bool {
    v <= i64::MAX as f64 && v >= i64::MIN as f64
}

/// Formats as Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
pub(crate) fn format_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

/// Aggregates one step's vector. `param` is the scalar parameter (`topk`, `bottomk`,
/// `quantile`), `value_label` the label of `count_values`. `grouping` is sorted.
pub(crate) fn aggregate(
    op: AggregateOp,
    grouping: &[String],
    without: bool,
    param: Option<f64>,
    value_label: Option<&str>,
    vec: &[Sample],
) -> Result<Vec<Sample>, EvalError> {
    let mut k: i64 = 0;
    if matches!(op, AggregateOp::Topk | AggregateOp::Bottomk) {
        let f = param.unwrap_or(f64::NAN);
        if !convertible_to_i64(f) {
            return Err(EvalError::new(format!(
                "Scalar value {} overflows int64",
                tocsin_promql::go_float(f)
            )));
        }
        k = f as i64;
        if k < 1 {
            return Ok(Vec::new());
        }
    }
    let q = param.unwrap_or(f64::NAN);
    let mut grouping: Vec<String> = grouping.to_vec();
    if let Some(label) = value_label {
        if !is_valid_label_name(label) {
            return Err(EvalError::new(format!(
                "invalid label name {}",
                tocsin_promql::go_quote(label)
            )));
        }
        if !without {
            grouping.push(label.to_owned());
            grouping.sort();
        }
    }
    let mut index: FxHashMap<Labels, usize> = FxHashMap::default();
    let mut groups: Vec<Group> = Vec::new();
    for s in vec {
        let mut metric = s.metric.clone();
        if let Some(label) = value_label {
            metric.set(label, format_float_f(s.v));
        }
        let key = if without {
            metric.drop(&grouping, true)
        } else {
            metric.keep(&grouping)
        };
        let Some(&gi) = index.get(&key) else {
            let labels = if without || !grouping.is_empty() {
                key.clone()
            } else {
                Labels::empty()
            };
            let mut g = Group {
                labels,
                value: s.v,
                mean: s.v,
                count: 1,
                heap: Vec::new(),
            };
            match op {
                AggregateOp::Stddev | AggregateOp::Stdvar => g.value = 0.0,
                AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Quantile => {
                    g.heap.push(Sample {
                        metric: s.metric.clone(),
                        t: s.t,
                        v: s.v,
                    })
                }
                AggregateOp::Group => g.value = 1.0,
                _ => {}
            }
            index.insert(key, groups.len());
            groups.push(g);
            continue;
        };
        let g = &mut groups[gi];
        match op {
            AggregateOp::Sum => g.value += s.v,
            AggregateOp::Avg => {
                g.count += 1;
                if g.mean.is_infinite() {
                    if s.v.is_infinite() && (g.mean > 0.0) == (s.v > 0.0) {
                        continue;
                    }
                    if !s.v.is_infinite() && !s.v.is_nan() {
                        continue;
                    }
                }
                let n = g.count as f64;
                g.mean += s.v / n - g.mean / n;
            }
            AggregateOp::Group => {}
            AggregateOp::Max => {
                if g.value < s.v || g.value.is_nan() {
                    g.value = s.v;
                }
            }
            AggregateOp::Min => {
                if g.value > s.v || g.value.is_nan() {
                    g.value = s.v;
                }
            }
            AggregateOp::Count | AggregateOp::CountValues => g.count += 1,
            AggregateOp::Stddev | AggregateOp::Stdvar => {
                g.count += 1;
                let delta = s.v - g.mean;
                g.mean += delta / g.count as f64;
                g.value += delta * (s.v - g.mean);
            }
            AggregateOp::Topk | AggregateOp::Bottomk => {
                let less = if op == AggregateOp::Topk {
                    by_value
                } else {
                    by_reverse_value
                };
                let top = g.heap[0].v;
                let better = if op == AggregateOp::Topk {
                    top < s.v
                } else {
                    top > s.v
                };
                if (g.heap.len() as i64) < k || better || top.is_nan() {
                    let entry = Sample {
                        metric: s.metric.clone(),
                        t: s.t,
                        v: s.v,
                    };
                    if g.heap.len() as i64 == k {
                        if k == 1 {
                            g.heap[0] = entry;
                            continue;
                        }
                        gosort::heap_pop(&mut g.heap, &less);
                    }
                    gosort::heap_push(&mut g.heap, entry, &less);
                }
            }
            AggregateOp::Quantile => g.heap.push(s.clone()),
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for mut g in groups {
        let value = match op {
            AggregateOp::Avg => g.mean,
            AggregateOp::Count | AggregateOp::CountValues => g.count as f64,
            AggregateOp::Stdvar => g.value / g.count as f64,
            AggregateOp::Stddev => (g.value / g.count as f64).sqrt(),
            AggregateOp::Topk | AggregateOp::Bottomk => {
                let less = if op == AggregateOp::Topk {
                    by_value
                } else {
                    by_reverse_value
                };
                if g.heap.len() > 1 {
                    gosort::sort(&mut g.heap, &|a: &Sample, b: &Sample| less(b, a));
                }
                for s in g.heap {
                    out.push(Sample {
                        metric: s.metric,
                        t: s.t,
                        v: s.v,
                    });
                }
                continue;
            }
            AggregateOp::Quantile => {
                let mut vals: Vec<f64> = g.heap.iter().map(|s| s.v).collect();
                quantile(q, &mut vals)
            }
            _ => g.value,
        };
        out.push(Sample {
            metric: g.labels,
            t: 0,
            v: value,
        });
    }
    Ok(out)
}

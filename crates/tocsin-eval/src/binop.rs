//! Binary operators as `promql/engine.go`: arithmetic and comparisons between vectors
//! (with `on`/`ignoring`, `group_left`/`group_right` and the cardinality errors),
//! between a vector and a scalar, between scalars, and the set operators.

use crate::engine::Sample;
use crate::labels::{FxHashMap, FxHashSet, Labels};
use crate::EvalError;
use tocsin_promql::{BinaryOp, Cardinality, VectorMatching};

/// Go's `math.Pow`, `math.Mod` and `math.Atan2` agree with Rust's on the special cases.
fn arith(op: BinaryOp, l: f64, r: f64) -> f64 {
    match op {
        BinaryOp::Add => l + r,
        BinaryOp::Sub => l - r,
        BinaryOp::Mul => l * r,
        BinaryOp::Div => l / r,
        BinaryOp::Pow => l.powf(r),
        BinaryOp::Mod => l % r,
        BinaryOp::Atan2 => l.atan2(r),
        _ => f64::NAN,
    }
}

fn compare(op: BinaryOp, l: f64, r: f64) -> Option<bool> {
    Some(match op {
        BinaryOp::Eql => l == r,
        BinaryOp::Neq => l != r,
        BinaryOp::Gtr => l > r,
        BinaryOp::Lss => l < r,
        BinaryOp::Gte => l >= r,
        BinaryOp::Lte => l <= r,
        _ => return None,
    })
}

/// `scalarBinop`.
pub(crate) fn scalar_binop(op: BinaryOp, l: f64, r: f64) -> f64 {
    match compare(op, l, r) {
        Some(b) => btos(b),
        None => arith(op, l, r),
    }
}

/// `vectorElemBinop`: the value and whether to keep the element.
fn elem_binop(op: BinaryOp, l: f64, r: f64) -> (f64, bool) {
    match compare(op, l, r) {
        Some(keep) => (l, keep),
        None => (arith(op, l, r), true),
    }
}

fn btos(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn drops_name(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Pow
            | BinaryOp::Mod
    )
}

fn signature(l: &Labels, m: &VectorMatching) -> Labels {
    l.match_labels(m.on, &m.labels)
}

pub(crate) fn vector_and(lhs: &[Sample], rhs: &[Sample], m: &VectorMatching) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let right: FxHashSet<Labels> = rhs.iter().map(|s| signature(&s.metric, m)).collect();
    lhs.iter()
        .filter(|s| right.contains(&signature(&s.metric, m)))
        .cloned()
        .collect()
}

pub(crate) fn vector_or(lhs: &[Sample], rhs: &[Sample], m: &VectorMatching) -> Vec<Sample> {
    if lhs.is_empty() {
        return rhs.to_vec();
    }
    if rhs.is_empty() {
        return lhs.to_vec();
    }
    let left: FxHashSet<Labels> = lhs.iter().map(|s| signature(&s.metric, m)).collect();
    let mut out = lhs.to_vec();
    out.extend(
        rhs.iter()
            .filter(|s| !left.contains(&signature(&s.metric, m)))
            .cloned(),
    );
    out
}

pub(crate) fn vector_unless(lhs: &[Sample], rhs: &[Sample], m: &VectorMatching) -> Vec<Sample> {
    if lhs.is_empty() || rhs.is_empty() {
        return lhs.to_vec();
    }
    let right: FxHashSet<Labels> = rhs.iter().map(|s| signature(&s.metric, m)).collect();
    lhs.iter()
        .filter(|s| !right.contains(&signature(&s.metric, m)))
        .cloned()
        .collect()
}

/// `resultMetric`: the output labels of a matched pair (`lhs` is the "many" side).
fn result_metric(lhs: &Labels, rhs: &Labels, op: BinaryOp, m: &VectorMatching) -> Labels {
    let mut out = if drops_name(op) {
        lhs.without_name()
    } else {
        lhs.clone()
    };
    if m.card == Cardinality::OneToOne {
        out = if m.on {
            out.keep(&m.labels)
        } else {
            out.drop(&m.labels, false)
        };
    }
    for name in &m.include {
        out.set(name, rhs.get(name).to_owned());
    }
    out
}

/// `VectorBinop`: arithmetic and comparison between two vectors.
pub(crate) fn vector_binop(
    op: BinaryOp,
    lhs: &[Sample],
    rhs: &[Sample],
    m: &VectorMatching,
    return_bool: bool,
) -> Result<Vec<Sample>, EvalError> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let one_to_many = m.card == Cardinality::OneToMany;
    let (lhs, rhs) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut right: FxHashMap<Labels, &Sample> = FxHashMap::default();
    for rs in rhs {
        let sig = signature(&rs.metric, m);
        if let Some(dup) = right.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            return Err(EvalError::new(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                rs.metric.match_labels(m.on, &m.labels),
                rs.metric,
                dup.metric
            )));
        }
        right.insert(sig, rs);
    }
    let mut matched: FxHashMap<Labels, Option<FxHashSet<Labels>>> = FxHashMap::default();
    let mut out = Vec::new();
    for ls in lhs {
        let sig = signature(&ls.metric, m);
        let Some(rs) = right.get(&sig) else {
            continue;
        };
        let (vl, vr) = if one_to_many {
            (rs.v, ls.v)
        } else {
            (ls.v, rs.v)
        };
        let (mut value, keep) = elem_binop(op, vl, vr);
        if return_bool {
            value = btos(keep);
        } else if !keep {
            continue;
        }
        let mut metric = result_metric(&ls.metric, &rs.metric, op, m);
        if return_bool {
            metric = metric.without_name();
        }
        if m.card == Cardinality::OneToOne {
            if matched.contains_key(&sig) {
                return Err(EvalError::new(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                ));
            }
            matched.insert(sig, None);
        } else {
            let set = matched
                .entry(sig)
                .or_insert_with(|| Some(FxHashSet::default()))
                .get_or_insert_with(FxHashSet::default);
            if !set.insert(metric.clone()) {
                return Err(EvalError::new(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
        }
        out.push(Sample {
            metric,
            t: ls.t,
            v: value,
        });
    }
    Ok(out)
}

/// `VectorscalarBinop`; `swap` when the scalar is the left operand.
pub(crate) fn vector_scalar_binop(
    op: BinaryOp,
    vec: &[Sample],
    scalar: f64,
    swap: bool,
    return_bool: bool,
) -> Vec<Sample> {
    let mut out = Vec::with_capacity(vec.len());
    for s in vec {
        let (l, r) = if swap { (scalar, s.v) } else { (s.v, scalar) };
        let (mut value, mut keep) = elem_binop(op, l, r);
        if compare(op, l, r).is_some() && swap {
            value = r;
        }
        if return_bool {
            value = btos(keep);
            keep = true;
        }
        if keep {
            let metric = if drops_name(op) || return_bool {
                s.metric.without_name()
            } else {
                s.metric.clone()
            };
            out.push(Sample {
                metric,
                t: s.t,
                v: value,
            });
        }
    }
    out
}

//! What a rule's expression and templates ask of the series they read: pure, no server.

use std::collections::BTreeSet;

use regex::Regex;
use tocsin_diff::selectors::{selector_of, selectors_of, Selector};
use tocsin_promql::{Expr, MatchOp};
use tocsin_rules::{Pos, Rule, RuleKind};

/// Functions that need two samples in their window (rate-family and slope functions).
pub const NEEDS_TWO_SAMPLES: &[&str] = &[
    "rate",
    "irate",
    "increase",
    "delta",
    "idelta",
    "deriv",
    "predict_linear",
];

/// Functions that assume a counter (they compensate for resets).
pub const COUNTER_FUNCTIONS: &[&str] = &["rate", "irate", "increase", "resets"];

/// A range function over a selector: `rate(x[5m])`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeUse {
    pub func: &'static str,
    pub range_ms: i64,
    pub selector: Selector,
    /// The value of an equality `job` matcher of the selector, if it has one.
    pub job: Option<String>,
    /// Where the call starts in the expression (bytes).
    pub offset: usize,
}

/// A label an aggregation or a vector matching names, and the series it applies to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelUse {
    /// `by`, `without`, `on` or `ignoring`, with the operator: `sum by`, `/ on`.
    pub clause: String,
    pub label: String,
    /// The selectors whose series must carry the label, per side (one side for
    /// aggregations; for `on` each side on its own; for `ignoring` both together).
    pub sides: Vec<Vec<Selector>>,
    /// Where the aggregation starts in the expression (bytes); `None` for a vector
    /// matching (binary operators carry no position).
    pub offset: Option<usize>,
}

/// A `$labels.x` (or `index $labels "x"`) in a label or annotation template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateLabel {
    /// `annotation summary` or `label team`.
    pub place: String,
    pub label: String,
    pub pos: Pos,
}

/// Everything the online checks ask about one rule.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Selectors that should match series (not those inside `absent*`).
    pub selectors: Vec<Selector>,
    pub ranges: Vec<RangeUse>,
    pub labels: Vec<LabelUse>,
    pub template_labels: Vec<TemplateLabel>,
    /// Every selector of the expression (for template labels).
    pub all_selectors: Vec<Selector>,
    /// Where each selector (by text) first appears in the expression (bytes).
    pub selector_offsets: std::collections::BTreeMap<String, usize>,
    /// Which labels the expression's result can carry, whatever the series hold.
    pub carried: Carried,
    /// The expression can make labels its selectors' series do not carry
    /// (`label_replace`, `label_join`, `count_values`, `absent`): label checks stay off.
    pub makes_labels: bool,
}

/// Analyses a rule; `None` when its expression does not parse (such a file is invalid).
pub fn analyse(rule: &Rule) -> Option<Analysis> {
    let expr = tocsin_promql::parse(rule.expr_text()).ok()?;
    let mut a = Analysis {
        all_selectors: selectors_of(&expr),
        carried: carried(&expr),
        ..Analysis::default()
    };
    let mut absent = BTreeSet::new();
    walk(&expr, &mut a, &mut absent);
    a.selectors = a
        .all_selectors
        .iter()
        .filter(|s| !absent.contains(&s.text))
        .cloned()
        .collect();
    if rule.kind() == RuleKind::Alerting {
        a.template_labels = template_labels(rule);
    }
    Some(a)
}

fn walk(e: &Expr, a: &mut Analysis, absent: &mut BTreeSet<String>) {
    match e {
        Expr::Number { .. } | Expr::String { .. } => {}
        Expr::VectorSelector(vs) => {
            a.selector_offsets
                .entry(selector_of(vs).text)
                .or_insert(vs.span.start as usize);
        }
        Expr::MatrixSelector { selector, .. } => walk(selector, a, absent),
        Expr::Subquery { expr, .. } | Expr::Unary { expr, .. } | Expr::Paren { expr, .. } => {
            walk(expr, a, absent)
        }
        Expr::Call { func, args, span } => {
            match func.name {
                "absent" | "absent_over_time" => {
                    a.makes_labels = true;
                    absent.extend(args.iter().flat_map(selectors_of).map(|s| s.text));
                }
                "label_replace" | "label_join" => a.makes_labels = true,
                _ => {}
            }
            if NEEDS_TWO_SAMPLES.contains(&func.name) || COUNTER_FUNCTIONS.contains(&func.name) {
                if let Some(Expr::MatrixSelector {
                    selector, range, ..
                }) = args.first()
                {
                    if let Expr::VectorSelector(vs) = selector.as_ref() {
                        let job = vs
                            .matchers
                            .iter()
                            .find(|m| m.name == "job" && m.op == MatchOp::Equal)
                            .map(|m| m.value.clone());
                        a.ranges.push(RangeUse {
                            func: func.name,
                            range_ms: *range,
                            selector: selector_of(vs),
                            job,
                            offset: span.start as usize,
                        });
                    }
                }
            }
            args.iter().for_each(|x| walk(x, a, absent));
        }
        Expr::Aggregate {
            op,
            expr,
            param,
            grouping,
            without,
            span,
        } => {
            if op.as_str() == "count_values" {
                a.makes_labels = true;
            }
            let side = selectors_of(expr);
            let clause = format!(
                "{} {}",
                op.as_str(),
                if *without { "without" } else { "by" }
            );
            for label in grouping {
                a.labels.push(LabelUse {
                    clause: clause.clone(),
                    label: label.clone(),
                    sides: vec![side.clone()],
                    offset: Some(span.start as usize),
                });
            }
            if let Some(p) = param {
                walk(p, a, absent);
            }
            walk(expr, a, absent);
        }
        Expr::Binary {
            op,
            lhs,
            rhs,
            matching,
            ..
        } => {
            let vectors = lhs.value_type() == tocsin_promql::ValueType::Vector
                && rhs.value_type() == tocsin_promql::ValueType::Vector;
            if vectors && !matching.labels.is_empty() {
                let (l, r) = (selectors_of(lhs), selectors_of(rhs));
                let (clause, sides) = if matching.on {
                    (format!("{} on", op.as_str()), vec![l, r])
                } else {
                    (
                        format!("{} ignoring", op.as_str()),
                        vec![l.into_iter().chain(r).collect()],
                    )
                };
                for label in &matching.labels {
                    a.labels.push(LabelUse {
                        clause: clause.clone(),
                        label: label.clone(),
                        sides: sides.clone(),
                        offset: None,
                    });
                }
            }
            walk(lhs, a, absent);
            walk(rhs, a, absent);
        }
    }
}

/// The labels an expression's result can carry, from its shape alone: aggregations keep
/// their `by` labels or drop their `without` ones, one-to-one matchings with `on` keep only
/// those labels (as Prometheus's `resultMetric` does), `group_left`/`group_right` add
/// theirs, `label_replace`/`label_join` add their target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Carried {
    /// At most these.
    Only(BTreeSet<String>),
    /// Any label but these.
    AllBut(BTreeSet<String>),
}

impl Default for Carried {
    fn default() -> Self {
        Carried::AllBut(BTreeSet::new())
    }
}

impl Carried {
    pub fn may_carry(&self, label: &str) -> bool {
        match self {
            Carried::Only(s) => s.contains(label),
            Carried::AllBut(x) => !x.contains(label),
        }
    }

    fn keep(self, labels: &[String]) -> Carried {
        let ls: BTreeSet<String> = labels.iter().cloned().collect();
        match self {
            Carried::Only(s) => Carried::Only(s.intersection(&ls).cloned().collect()),
            Carried::AllBut(x) => Carried::Only(ls.difference(&x).cloned().collect()),
        }
    }

    fn drop(self, labels: &[String]) -> Carried {
        match self {
            Carried::Only(mut s) => {
                labels.iter().for_each(|l| {
                    s.remove(l);
                });
                Carried::Only(s)
            }
            Carried::AllBut(mut x) => {
                x.extend(labels.iter().cloned());
                Carried::AllBut(x)
            }
        }
    }

    fn add(self, labels: &[String]) -> Carried {
        match self {
            Carried::Only(mut s) => {
                s.extend(labels.iter().cloned());
                Carried::Only(s)
            }
            Carried::AllBut(mut x) => {
                labels.iter().for_each(|l| {
                    x.remove(l);
                });
                Carried::AllBut(x)
            }
        }
    }

    fn union(self, other: Carried) -> Carried {
        match (self, other) {
            (Carried::Only(a), Carried::Only(b)) => Carried::Only(a.union(&b).cloned().collect()),
            (Carried::AllBut(x), Carried::Only(b)) | (Carried::Only(b), Carried::AllBut(x)) => {
                Carried::AllBut(x.difference(&b).cloned().collect())
            }
            (Carried::AllBut(x), Carried::AllBut(y)) => {
                Carried::AllBut(x.intersection(&y).cloned().collect())
            }
        }
    }
}

fn string_arg(args: &[Expr], i: usize) -> Vec<String> {
    match args.get(i) {
        Some(Expr::String { value, .. }) => vec![value.clone()],
        _ => Vec::new(),
    }
}

/// See [`Carried`].
pub fn carried(e: &Expr) -> Carried {
    use tocsin_promql::{BinaryOp, Cardinality, ValueType};
    let none = || Carried::Only(BTreeSet::new());
    match e {
        Expr::Number { .. } | Expr::String { .. } => none(),
        Expr::VectorSelector(_) | Expr::MatrixSelector { .. } => Carried::default(),
        Expr::Subquery { expr, .. } | Expr::Unary { expr, .. } | Expr::Paren { expr, .. } => {
            carried(expr)
        }
        Expr::Call { func, args, .. } => match func.name {
            _ if func.return_type != ValueType::Vector => none(),
            "label_replace" | "label_join" => match args.first() {
                Some(v) => carried(v).add(&string_arg(args, 1)),
                None => none(),
            },
            // Labels from the selector's equality matchers: not worth modelling.
            "absent" | "absent_over_time" => Carried::default(),
            "histogram_quantile" => match args.get(1) {
                Some(v) => carried(v).drop(&["le".to_string()]),
                None => none(),
            },
            _ => args
                .iter()
                .find(|a| matches!(a.value_type(), ValueType::Vector | ValueType::Matrix))
                .map_or_else(none, carried),
        },
        Expr::Aggregate {
            op,
            expr,
            param,
            grouping,
            without,
            ..
        } => {
            let inner = carried(expr);
            match op.as_str() {
                "topk" | "bottomk" => inner,
                name => {
                    let grouped = if *without {
                        inner.drop(grouping)
                    } else {
                        inner.keep(grouping)
                    };
                    if name == "count_values" {
                        let label = match param.as_deref() {
                            Some(Expr::String { value, .. }) => vec![value.clone()],
                            _ => Vec::new(),
                        };
                        grouped.add(&label)
                    } else {
                        grouped
                    }
                }
            }
        }
        Expr::Binary {
            op,
            lhs,
            rhs,
            matching,
            ..
        } => {
            let (l, r) = (lhs.value_type(), rhs.value_type());
            if l != ValueType::Vector && r != ValueType::Vector {
                return none();
            }
            if l != ValueType::Vector {
                return carried(rhs);
            }
            if r != ValueType::Vector {
                return carried(lhs);
            }
            match op {
                BinaryOp::And | BinaryOp::Unless => carried(lhs),
                BinaryOp::Or => carried(lhs).union(carried(rhs)),
                _ => match matching.card {
                    Cardinality::OneToOne if matching.on => carried(lhs).keep(&matching.labels),
                    Cardinality::OneToOne => carried(lhs).drop(&matching.labels),
                    Cardinality::ManyToOne => carried(lhs).add(&matching.include),
                    Cardinality::OneToMany => carried(rhs).add(&matching.include),
                    Cardinality::ManyToMany => carried(lhs),
                },
            }
        }
    }
}

/// The labels a rule's templates read from `$labels`, with where each template is.
fn template_labels(rule: &Rule) -> Vec<TemplateLabel> {
    let dotted = Regex::new(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)").expect("a valid regex");
    let indexed =
        Regex::new(r#"index\s+\$labels\s+"([A-Za-z_][A-Za-z0-9_]*)""#).expect("a valid regex");
    let mut out = Vec::new();
    let places = rule
        .labels
        .iter()
        .map(|e| ("label", e))
        .chain(rule.annotations.iter().map(|e| ("annotation", e)));
    for (kind, entry) in places {
        let text = &entry.value.value;
        if !text.contains("$labels") {
            continue;
        }
        let mut seen = BTreeSet::new();
        for c in dotted
            .captures_iter(text)
            .chain(indexed.captures_iter(text))
        {
            let label = c[1].to_string();
            if seen.insert(label.clone()) {
                out.push(TemplateLabel {
                    place: format!("{kind} {}", entry.name.value),
                    label,
                    pos: entry.value.pos,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tocsin_rules::Spanned;

    fn rule(expr: &str) -> Rule {
        Rule {
            alert: Some(Spanned {
                value: "A".into(),
                pos: Pos::new(1, 1),
            }),
            expr: Some(Spanned {
                value: expr.into(),
                pos: Pos::new(2, 11),
            }),
            ..Rule::default()
        }
    }

    #[test]
    fn range_uses_grouping_labels_and_absent_selectors_are_found() {
        let a = analyse(&rule(
            r#"sum by (job, cluster) (rate(http_total{job="api"}[1m])) / on (job) sum by (job) (up) > 0 unless absent(gone)"#,
        ))
        .expect("parses");
        assert_eq!(a.ranges.len(), 1);
        assert_eq!(a.ranges[0].func, "rate");
        assert_eq!(a.ranges[0].range_ms, 60_000);
        assert_eq!(a.ranges[0].job.as_deref(), Some("api"));
        let labels: Vec<(&str, &str)> = a
            .labels
            .iter()
            .map(|l| (l.clause.as_str(), l.label.as_str()))
            .collect();
        assert!(labels.contains(&("sum by", "cluster")), "{labels:?}");
        assert!(labels.contains(&("/ on", "job")), "{labels:?}");
        let selectors: Vec<&str> = a.selectors.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(selectors, vec![r#"http_total{job="api"}"#, "up"]);
        assert!(a.makes_labels);
        assert_eq!(a.ranges[0].offset, 23);
        assert_eq!(a.selector_offsets["up"], 81);
    }

    fn carries(expr: &str) -> Carried {
        carried(&tocsin_promql::parse(expr).expect("parses"))
    }

    fn only(labels: &[&str]) -> Carried {
        Carried::Only(labels.iter().map(|l| l.to_string()).collect())
    }

    #[test]
    fn aggregations_and_matchings_narrow_the_labels_a_result_carries() {
        assert_eq!(carries("sum by (job) (rate(x[5m])) > 1"), only(&["job"]));
        assert_eq!(carries("up / on (instance) up"), only(&["instance"]));
        assert_eq!(
            carries("up * on (instance) group_left (team) owner"),
            Carried::default()
        );
        assert_eq!(
            carries("sum by (job) (up) * on (job) group_left (team) owner"),
            only(&["job", "team"])
        );
        assert_eq!(
            carries(r#"label_replace(sum by (job) (up), "svc", "$1", "job", "(.*)")"#),
            only(&["job", "svc"])
        );
        assert_eq!(
            carries("histogram_quantile(0.9, sum by (le, path) (rate(h_bucket[5m])))"),
            only(&["path"])
        );
        assert!(!carries("sum without (instance) (up)").may_carry("instance"));
        assert!(carries("sum without (instance) (up)").may_carry("job"));
        assert_eq!(
            carries("sum by (a) (x) or sum by (b) (y)"),
            only(&["a", "b"])
        );
        assert_eq!(carries("vector(1)"), only(&[]));
    }
}

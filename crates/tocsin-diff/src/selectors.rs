//! The series selectors of a rule's expression, for "matches no series over the window"
//! (`tocsin diff`) and the online checks of `tocsin check --datasource` (`tocsin-online`).

use tocsin_promql::{Expr, MatchOp, VectorSelector};

/// One selector of an expression: its text (without `offset`/`@`) and metric name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Selector {
    pub text: String,
    /// The metric name, when the selector names one (`foo{}` or `{__name__="foo"}`).
    pub metric: Option<String>,
}

/// Every distinct selector of `expr`, in order of appearance; empty when it does not parse.
pub fn selectors(expr: &str) -> Vec<Selector> {
    match tocsin_promql::parse(expr) {
        Ok(e) => selectors_of(&e),
        Err(_) => Vec::new(),
    }
}

/// Every distinct selector of a parsed expression (or part of one), in order of appearance.
pub fn selectors_of(expr: &Expr) -> Vec<Selector> {
    let mut out = Vec::new();
    walk(expr, &mut out);
    let mut seen = std::collections::HashSet::new();
    out.retain(|s| seen.insert(s.text.clone()));
    out
}

/// The selector of one parsed vector selector (its text without `offset`/`@`).
pub fn selector_of(vs: &VectorSelector) -> Selector {
    selector(vs)
}

fn walk(e: &Expr, out: &mut Vec<Selector>) {
    match e {
        Expr::VectorSelector(vs) => out.push(selector(vs)),
        Expr::Number { .. } | Expr::String { .. } => {}
        Expr::MatrixSelector { selector, .. } => walk(selector, out),
        Expr::Subquery { expr, .. } | Expr::Unary { expr, .. } | Expr::Paren { expr, .. } => {
            walk(expr, out)
        }
        Expr::Call { args, .. } => args.iter().for_each(|a| walk(a, out)),
        Expr::Aggregate { expr, param, .. } => {
            if let Some(p) = param {
                walk(p, out);
            }
            walk(expr, out);
        }
        Expr::Binary { lhs, rhs, .. } => {
            walk(lhs, out);
            walk(rhs, out);
        }
    }
}

fn selector(vs: &VectorSelector) -> Selector {
    let plain = VectorSelector {
        offset: 0,
        at: None,
        ..vs.clone()
    };
    let metric = if vs.name.is_empty() {
        vs.matchers
            .iter()
            .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
            .map(|m| m.value.clone())
    } else {
        Some(vs.name.clone())
    };
    Selector {
        text: Expr::VectorSelector(plain).to_string(),
        metric,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_are_found_everywhere_once_without_offsets() {
        let got = selectors(
            r#"sum by (job) (rate(http_errors_total{code=~"5.."}[5m] offset 1h)) / on (job) group_left sum by (job) (rate(http_errors_total{code=~"5.."}[5m])) > 0 and {__name__="up"}"#,
        );
        let texts: Vec<&str> = got.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            vec![r#"http_errors_total{code=~"5.."}"#, r#"{__name__="up"}"#]
        );
        assert_eq!(got[1].metric.as_deref(), Some("up"));
    }
}

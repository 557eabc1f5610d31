//! Type checks run after a successful parse (Prometheus's `checkAST`).
//! Like Prometheus, the first error found in evaluation order wins.

use crate::ast::*;
use crate::functions::Function;
use crate::goregex;
use crate::strutil::quote;

pub(crate) type CheckResult<T> = Result<T, (u32, String)>;

fn fail<T>(at: u32, msg: String) -> CheckResult<T> {
    Err((at, msg))
}

pub(crate) struct Checker<'a> {
    pub input: &'a str,
}

impl Checker<'_> {
    fn expect_type(
        &self,
        e: &Expr,
        want: ValueType,
        context: impl FnOnce() -> String,
    ) -> CheckResult<()> {
        let got = self.check(e)?;
        if got != want {
            return fail(
                e.span().start,
                format!(
                    "expected type {} in {}, got {}",
                    want.documented(),
                    context(),
                    got.documented()
                ),
            );
        }
        Ok(())
    }

    /// Where the operator of a binary expression starts (after the LHS and
    /// any whitespace), as Prometheus positions operator errors.
    fn op_start(&self, lhs: &Expr) -> u32 {
        let b = self.input.as_bytes();
        let mut i = lhs.span().end as usize;
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i as u32
    }

    pub(crate) fn check(&self, e: &Expr) -> CheckResult<ValueType> {
        let ty = e.value_type();
        match e {
            Expr::Number { .. } | Expr::String { .. } => {}
            Expr::Paren { expr, .. } => {
                self.check(expr)?;
            }
            Expr::MatrixSelector { selector, .. } => {
                self.check(selector)?;
            }
            Expr::VectorSelector(vs) => self.check_selector(vs)?,
            Expr::Subquery { expr, span, .. } => {
                let inner = self.check(expr)?;
                if inner != ValueType::Vector {
                    return fail(
                        span.start,
                        format!("subquery is only allowed on instant vector, got {inner} instead"),
                    );
                }
            }
            Expr::Unary { expr, start, .. } => {
                let t = self.check(expr)?;
                if t != ValueType::Scalar && t != ValueType::Vector {
                    return fail(
                        *start,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            quote(t.documented())
                        ),
                    );
                }
            }
            Expr::Aggregate {
                op, expr, param, ..
            } => {
                self.expect_type(expr, ValueType::Vector, || {
                    "aggregation expression".to_owned()
                })?;
                if let Some(param) = param {
                    let want = if *op == AggregateOp::CountValues {
                        ValueType::String
                    } else {
                        ValueType::Scalar
                    };
                    self.expect_type(param, want, || "aggregation parameter".to_owned())?;
                }
            }
            Expr::Call { func, args, span } => self.check_call(func, args, *span)?,
            Expr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } => self.check_binary(*op, lhs, rhs, *return_bool, matching, e.span())?,
        }
        Ok(ty)
    }

    fn check_selector(&self, vs: &VectorSelector) -> CheckResult<()> {
        if !vs.name.is_empty() {
            if let Some(m) = vs.matchers.iter().find(|m| m.name == "__name__") {
                return fail(
                    vs.span.start,
                    format!(
                        "metric name must not be set twice: {} or {}",
                        quote(&vs.name),
                        quote(&m.value)
                    ),
                );
            }
            return Ok(());
        }
        let non_empty = vs.matchers.iter().any(|m| !matcher_matches_empty(m));
        if !non_empty {
            return fail(
                vs.span.start,
                "vector selector must contain at least one non-empty matcher".to_owned(),
            );
        }
        Ok(())
    }

    fn check_call(&self, func: &Function, args: &[Expr], span: Span) -> CheckResult<()> {
        let nargs = func.arg_types.len();
        let name = || quote(func.name);
        if func.variadic == 0 {
            if nargs != args.len() {
                return fail(
                    span.start,
                    format!(
                        "expected {nargs} argument(s) in call to {}, got {}",
                        name(),
                        args.len()
                    ),
                );
            }
        } else {
            let min = nargs.saturating_sub(1);
            if min > args.len() {
                return fail(
                    span.start,
                    format!(
                        "expected at least {min} argument(s) in call to {}, got {}",
                        name(),
                        args.len()
                    ),
                );
            }
            if func.variadic > 0 {
                let max = min + func.variadic as usize;
                if max < args.len() {
                    return fail(
                        span.start,
                        format!(
                            "expected at most {max} argument(s) in call to {}, got {}",
                            name(),
                            args.len()
                        ),
                    );
                }
            }
        }
        for (i, arg) in args.iter().enumerate() {
            let idx = if i >= nargs {
                if func.variadic == 0 || nargs == 0 {
                    break;
                }
                nargs - 1
            } else {
                i
            };
            self.expect_type(arg, func.arg_types[idx], || {
                format!("call to function {}", name())
            })?;
        }
        Ok(())
    }

    fn check_binary(
        &self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        return_bool: bool,
        matching: &VectorMatching,
        span: Span,
    ) -> CheckResult<()> {
        let lt = self.check(lhs)?;
        let rt = self.check(rhs)?;
        if return_bool && !op.is_comparison() {
            return fail(
                self.op_start(lhs),
                "bool modifier can only be used on comparison operators".to_owned(),
            );
        }
        if op.is_comparison() && !return_bool && rt == ValueType::Scalar && lt == ValueType::Scalar
        {
            return fail(
                self.op_start(lhs),
                "comparisons between scalars must use BOOL modifier".to_owned(),
            );
        }
        let mut card = matching.card;
        if op.is_set() && card == Cardinality::OneToOne {
            card = Cardinality::ManyToMany;
        }
        if matching.on {
            for l in &matching.labels {
                if matching.include.contains(l) {
                    return fail(
                        self.op_start(lhs),
                        format!(
                            "label {} must not occur in ON and GROUP clause at once",
                            quote(l)
                        ),
                    );
                }
            }
        }
        let valid = |t: ValueType| t == ValueType::Scalar || t == ValueType::Vector;
        if !valid(lt) {
            return fail(
                lhs.span().start,
                "binary expression must contain only scalar and instant vector types".to_owned(),
            );
        }
        if !valid(rt) {
            return fail(
                rhs.span().start,
                "binary expression must contain only scalar and instant vector types".to_owned(),
            );
        }
        if lt != ValueType::Vector || rt != ValueType::Vector {
            if !matching.labels.is_empty() {
                return fail(
                    span.start,
                    "vector matching only allowed between instant vectors".to_owned(),
                );
            }
        } else if op.is_set() {
            if matches!(card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                return fail(
                    span.start,
                    format!("no grouping allowed for {} operation", quote(op.as_str())),
                );
            }
            if card != Cardinality::ManyToMany {
                return fail(
                    span.start,
                    "set operations must always be many-to-many".to_owned(),
                );
            }
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set() {
            return fail(
                span.start,
                format!(
                    "set operator {} not allowed in binary scalar expression",
                    quote(op.as_str())
                ),
            );
        }
        Ok(())
    }
}

fn matcher_matches_empty(m: &Matcher) -> bool {
    match m.op {
        MatchOp::Equal => m.value.is_empty(),
        MatchOp::NotEqual => !m.value.is_empty(),
        MatchOp::Regex => goregex::matches_empty(&m.value),
        MatchOp::NotRegex => !goregex::matches_empty(&m.value),
    }
}

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
        let ty = match e {
            Expr::Binary { .. } => return self.check_chain(e),
            // The inner expression's type, known once it is checked.
            Expr::Paren { .. } | Expr::Unary { .. } => ValueType::None,
            _ => e.value_type(),
        };
        match e {
            Expr::Number { .. } | Expr::String { .. } => {}
            Expr::Paren { expr, .. } => return self.check(expr),
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
                return Ok(t);
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
            Expr::Binary { .. } => {}
        }
        Ok(ty)
    }

    /// A chain of binary operations, checked in Prometheus's order (the first operand, then
    /// each operation's right side and the operation itself, innermost first) without
    /// recursing once per operand.
    fn check_chain(&self, e: &Expr) -> CheckResult<ValueType> {
        let spine = e.left_spine();
        let mut lt = self.check(e.leftmost_operand())?;
        for node in spine.into_iter().rev() {
            let Expr::Binary {
                op,
                lhs,
                rhs,
                return_bool,
                matching,
            } = node
            else {
                continue;
            };
            let rt = self.check(rhs)?;
            self.check_binary(*op, lhs, rhs, (lt, rt), *return_bool, matching, node)?;
            lt = ValueType::of_binary(lt, rt);
        }
        Ok(lt)
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

    /// One binary operation whose sides are checked and have types `(lt, rt)`; `node` is
    /// the operation (its span is computed only for an error).
    #[allow(clippy::too_many_arguments)]
    fn check_binary(
        &self,
        op: BinaryOp,
        lhs: &Expr,
        rhs: &Expr,
        (lt, rt): (ValueType, ValueType),
        return_bool: bool,
        matching: &VectorMatching,
        node: &Expr,
    ) -> CheckResult<()> {
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
                    node.span().start,
                    "vector matching only allowed between instant vectors".to_owned(),
                );
            }
        } else if op.is_set() {
            if matches!(card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                return fail(
                    node.span().start,
                    format!("no grouping allowed for {} operation", quote(op.as_str())),
                );
            }
            if card != Cardinality::ManyToMany {
                return fail(
                    node.span().start,
                    "set operations must always be many-to-many".to_owned(),
                );
            }
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set() {
            return fail(
                node.span().start,
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

//! Expressions printed back as Prometheus 2.42's `String()` methods print them
//! (`promql/parser/printer.go`): the canonical one-line form Prometheus shows as a
//! rule's `query` in `/api/v1/rules` and puts into an alert's generator URL.
//!
//! Canonical means: one space around binary operators, `sum by (a, b) (x)`, matchers
//! sorted, numbers as Go's `%v`, strings and matcher values as Go's `%q`, durations as
//! `model.Duration` (`90m` → `1h30m`), the metric-name matcher folded into the name.

use std::fmt::{self, Display, Formatter, Write as _};

use crate::ast::{At, Cardinality, Expr, ValueType, VectorMatching, VectorSelector};
use crate::strutil::quote;

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number { value, .. } => f.write_str(&go_float(*value)),
            Expr::String { value, .. } => f.write_str(&quote(value)),
            Expr::VectorSelector(vs) => {
                write_selector(f, vs)?;
                write_modifiers(f, vs.at, vs.offset)
            }
            Expr::MatrixSelector {
                selector, range, ..
            } => match &**selector {
                Expr::VectorSelector(vs) => {
                    write_selector(f, vs)?;
                    write!(f, "[{}]", format_duration(*range))?;
                    write_modifiers(f, vs.at, vs.offset)
                }
                other => write!(f, "{other}[{}]", format_duration(*range)),
            },
            Expr::Subquery {
                expr,
                range,
                step,
                offset,
                at,
                ..
            } => {
                write!(f, "{expr}[{}:", format_duration(*range))?;
                if *step != 0 {
                    f.write_str(&format_duration(*step))?;
                }
                f.write_char(']')?;
                write_modifiers(f, *at, *offset)
            }
            Expr::Call { func, args, .. } => {
                write!(f, "{}(", func.name)?;
                write_list(f, args)?;
                f.write_char(')')
            }
            Expr::Aggregate {
                op,
                expr,
                param,
                grouping,
                without,
                ..
            } => {
                f.write_str(op.as_str())?;
                if *without {
                    write!(f, " without ({}) ", grouping.join(", "))?;
                } else if !grouping.is_empty() {
                    write!(f, " by ({}) ", grouping.join(", "))?;
                }
                f.write_char('(')?;
                if let Some(param) = param {
                    write!(f, "{param}, ")?;
                }
                write!(f, "{expr})")
            }
            Expr::Binary { .. } => write_chain(f, self),
            Expr::Unary { negate, expr, .. } => {
                write!(f, "{}{expr}", if *negate { "-" } else { "+" })
            }
            Expr::Paren { expr, .. } => write!(f, "({expr})"),
        }
    }
}

/// A chain of binary operations, printed operand by operand without recursing per operand.
fn write_chain(f: &mut Formatter<'_>, e: &Expr) -> fmt::Result {
    let first = e.leftmost_operand();
    write!(f, "{first}")?;
    let mut lt = first.value_type();
    for node in e.left_spine().into_iter().rev() {
        let Expr::Binary {
            op,
            rhs,
            return_bool,
            matching,
            ..
        } = node
        else {
            continue;
        };
        write!(f, " {}", op.as_str())?;
        if *return_bool {
            f.write_str(" bool")?;
        }
        let rt = rhs.value_type();
        // Prometheus drops the matching of an operation with a scalar side.
        if lt == ValueType::Vector && rt == ValueType::Vector {
            write_matching(f, matching)?;
        }
        write!(f, " {rhs}")?;
        lt = ValueType::of_binary(lt, rt);
    }
    Ok(())
}

fn write_list(f: &mut Formatter<'_>, args: &[Expr]) -> fmt::Result {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{a}")?;
    }
    Ok(())
}

/// `name{matchers}`, matchers sorted by their printed form; a `__name__="<name>"`
/// matcher is part of the name, as Prometheus keeps it.
fn write_selector(f: &mut Formatter<'_>, vs: &VectorSelector) -> fmt::Result {
    let mut matchers: Vec<String> = vs
        .matchers
        .iter()
        .filter(|m| !(m.name == "__name__" && m.op == crate::MatchOp::Equal && m.value == vs.name))
        .map(|m| format!("{}{}{}", m.name, m.op.as_str(), quote(&m.value)))
        .collect();
    f.write_str(&vs.name)?;
    if matchers.is_empty() {
        return Ok(());
    }
    matchers.sort();
    write!(f, "{{{}}}", matchers.join(","))
}

/// ` @ <ts>` then ` offset <d>`, in the order Prometheus prints them.
fn write_modifiers(f: &mut Formatter<'_>, at: Option<At>, offset: i64) -> fmt::Result {
    match at {
        Some(At::Timestamp(ms)) => write!(f, " @ {:.3}", ms as f64 / 1000.0)?,
        Some(At::Start) => f.write_str(" @ start()")?,
        Some(At::End) => f.write_str(" @ end()")?,
        None => {}
    }
    if offset > 0 {
        write!(f, " offset {}", format_duration(offset))?;
    } else if offset < 0 {
        write!(f, " offset -{}", format_duration(-offset))?;
    }
    Ok(())
}

fn write_matching(f: &mut Formatter<'_>, m: &VectorMatching) -> fmt::Result {
    if m.labels.is_empty() && !m.on {
        return Ok(());
    }
    let tag = if m.on { "on" } else { "ignoring" };
    write!(f, " {tag} ({})", m.labels.join(", "))?;
    match m.card {
        Cardinality::ManyToOne => write!(f, " group_left ({})", m.include.join(", ")),
        Cardinality::OneToMany => write!(f, " group_right ({})", m.include.join(", ")),
        Cardinality::OneToOne | Cardinality::ManyToMany => Ok(()),
    }
}

pub use tocsin_core::format_duration;

/// A float as Go's `fmt.Sprint` prints it: shortest round-trip digits, `%e` form when
/// the exponent is below -4 or at least 6 (`1e+06`, `1.5e-07`), `NaN`, `+Inf`, `-Inf`.
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    // Rust's `{:e}` gives the same shortest digits Go uses: "-1.2345e-7", "0e0".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let point = exp as usize + 1;
        if digits.len() <= point {
            out.push_str(&digits);
            for _ in digits.len()..point {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(input: &str) -> String {
        crate::parse(input)
            .unwrap_or_else(|e| panic!("{input}: {e}"))
            .to_string()
    }

    #[test]
    fn floats_print_as_go_sprint() {
        for (v, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (0.1, "0.1"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (1e21, "1e+21"),
            (123.456, "123.456"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(go_float(v), want, "{v}");
        }
    }

    #[test]
    fn expressions_print_in_prometheus_canonical_form() {
        for (input, want) in [
            ("sum(rate(x[5m]))by(job)", "sum by (job) (rate(x[5m]))"),
            ("sum without(a,b)(x)", "sum without (a, b) (x)"),
            ("topk(3, x)", "topk(3, x)"),
            ("foo{b=\"2\",a=~\"1.*\"}", "foo{a=~\"1.*\",b=\"2\"}"),
            ("{__name__=\"foo\"}", "{__name__=\"foo\"}"),
            ("x offset 90m", "x offset 1h30m"),
            ("x[5m] offset -1m", "x[5m] offset -1m"),
            ("x @ 100 offset 1m", "x @ 100.000 offset 1m"),
            ("rate(x[1h:5m])", "rate(x[1h:5m])"),
            ("x[1h:]", "x[1h:]"),
            ("a * on(b) group_left(c) d", "a * on (b) group_left (c) d"),
            ("a and ignoring(b) c", "a and ignoring (b) c"),
            ("a > bool 1", "a > bool 1"),
            ("foo + on() 1", "foo + 1"),
            ("-x", "-x"),
            ("-1", "-1"),
            ("1e6 + 0x10", "1e+06 + 16"),
            (
                "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\\\\.\")",
                "label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\\\\.\")",
            ),
            ("(\n  a\n    /\n  b\n) > 0.9", "(a / b) > 0.9"),
        ] {
            assert_eq!(canonical(input), want, "{input}");
        }
    }
}

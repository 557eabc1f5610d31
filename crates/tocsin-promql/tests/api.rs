//! The public API: AST shape, value types and error formatting.

use tocsin_promql::{parse, BinaryOp, Expr, ValueType};

#[test]
fn value_type_follows_prometheus_types() {
    let cases = [
        ("1", ValueType::Scalar),
        ("\"s\"", ValueType::String),
        ("foo", ValueType::Vector),
        ("foo[5m]", ValueType::Matrix),
        ("foo[5m:1m]", ValueType::Matrix),
        ("time()", ValueType::Scalar),
        ("1 + 2", ValueType::Scalar),
        ("foo + 2", ValueType::Vector),
        ("sum(foo)", ValueType::Vector),
        ("-(foo)", ValueType::Vector),
    ];
    for (input, want) in cases {
        let expr = parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(expr.value_type(), want, "{input}");
    }
}

#[test]
fn pow_is_right_associative_and_binds_tighter_than_unary_minus() {
    let Ok(Expr::Binary { op, rhs, .. }) = parse("a ^ b ^ c") else {
        panic!("expected a binary expression");
    };
    assert_eq!(op, BinaryOp::Pow);
    assert!(matches!(
        *rhs,
        Expr::Binary {
            op: BinaryOp::Pow,
            ..
        }
    ));
    assert!(matches!(parse("-a ^ b"), Ok(Expr::Unary { .. })));
}

#[test]
fn negative_number_literal_is_folded() {
    assert!(matches!(parse("-1"), Ok(Expr::Number { value, .. }) if value == -1.0));
}

#[test]
fn error_display_is_prometheus_text_with_line_and_byte_column() {
    let err = parse("rate(foo)").expect_err("instant vector in rate");
    assert_eq!(
        err.to_string(),
        "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"
    );
    let err = parse("foo +\n  bar{").expect_err("unterminated braces");
    assert_eq!((err.position.line, err.position.column), (2, 7));
    assert_eq!(err.message, "unexpected end of input inside braces");
    let err = parse("\"é\" + foo{").expect_err("columns count bytes");
    assert_eq!(err.position.column, 12);
}

#[test]
fn function_table_is_sorted_for_lookup() {
    let names: Vec<&str> = tocsin_promql::functions::FUNCTIONS
        .iter()
        .map(|f| f.name)
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert!(tocsin_promql::functions::lookup("holt_winters").is_some());
    assert!(tocsin_promql::functions::lookup("info").is_none());
}

//! The public API: AST shape, value types and error formatting.

use tocsin_promql::{parse, BinaryOp, Expr, ValueType, MAX_DEPTH};

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
    let Ok(Expr::Binary { op, ref rhs, .. }) = parse("a ^ b ^ c") else {
        panic!("expected a binary expression");
    };
    assert_eq!(op, BinaryOp::Pow);
    assert!(matches!(
        **rhs,
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

/// Runs `f` on a thread with a stack of `mib` MiB, so stack use is what the test says.
fn on_stack<T: Send + 'static>(mib: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(mib << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow")
}

#[test]
fn a_chain_of_a_hundred_thousand_or_operands_parses_prints_and_drops_without_recursion() {
    let printed = on_stack(2, || {
        let text = vec!["up"; 100_000].join(" or ");
        let expr = parse(&text).expect("valid, as promtool says");
        assert_eq!(expr.span().end as usize, text.len());
        let printed = expr.to_string();
        assert_eq!(printed, text);
        printed.len()
    });
    assert_eq!(printed, 100_000 * 2 + 99_999 * 4);
}

#[test]
fn nesting_up_to_the_limit_parses_and_beyond_it_is_an_error_not_a_crash() {
    on_stack(16, || {
        let nested = |n: usize| format!("{}up{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nested(201)).is_ok());
        // n parentheses are n + 1 levels: the whole expression and each pair.
        assert!(parse(&nested(MAX_DEPTH as usize - 1)).is_ok());
        assert!(parse(&nested(MAX_DEPTH as usize)).is_err());
        let err = parse(&nested(100_000)).expect_err("too deep");
        assert!(
            err.message
                .contains(&format!("nests too deeply (more than {MAX_DEPTH} levels)")),
            "{err}"
        );
    });
}

#[test]
fn scalar_and_vector_chains_keep_prometheus_types_and_checks() {
    let scalars = vec!["1"; 500].join(" + ");
    assert_eq!(
        parse(&scalars).expect("scalar chain").value_type(),
        ValueType::Scalar
    );
    let mixed = format!("{} + up", scalars);
    assert_eq!(
        parse(&mixed).expect("vector chain").value_type(),
        ValueType::Vector
    );
    // The set-operator check still sees the scalar side deep in a chain.
    let err = parse("up or up or 1 or up").expect_err("scalar in set operation");
    assert!(
        err.message
            .contains("set operator \"or\" not allowed in binary scalar expression"),
        "{err}"
    );
}

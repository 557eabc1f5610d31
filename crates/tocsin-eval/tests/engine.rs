//! Behaviour the Prometheus engine tests do not pin in `.test` files (they live in Go
//! tests there): the cardinality error messages, staleness and lookback, range queries.

use tocsin_eval::series_desc::parse_series_desc;
use tocsin_eval::{Engine, Storage, Value};

/// Loads `metric{...} values` lines with samples every `step` ms from 0.
fn store(step: i64, lines: &[&str]) -> Storage {
    let mut s = Storage::new();
    for l in lines {
        let d = parse_series_desc(l).unwrap();
        for (i, v) in d.values.iter().enumerate() {
            if let Some(v) = v {
                s.append(&d.labels, i as i64 * step, *v).unwrap();
            }
        }
    }
    s
}

fn instant(s: &Storage, q: &str, t: i64) -> Result<Value, String> {
    let e = tocsin_promql::parse(q).unwrap();
    Engine::default()
        .instant(s, &e, t)
        .map_err(|e| e.to_string())
}

fn vector(s: &Storage, q: &str, t: i64) -> Vec<(String, f64)> {
    match instant(s, q, t).unwrap() {
        Value::Vector(v) => v.into_iter().map(|s| (s.metric.to_string(), s.v)).collect(),
        other => panic!("not a vector: {other:?}"),
    }
}

#[test]
fn duplicate_series_on_the_one_side_is_reported_with_prometheus_words() {
    let s = store(
        60_000,
        &[
            r#"a{job="x", i="1"} 1"#,
            r#"b{job="x", i="1"} 1"#,
            r#"b{job="x", i="2"} 1"#,
        ],
    );
    let err = instant(&s, "a + on(job) b", 0).unwrap_err();
    assert_eq!(
        err,
        r#"found duplicate series for the match group {job="x"} on the right hand-side of the operation: [{__name__="b", i="2", job="x"}, {__name__="b", i="1", job="x"}];many-to-many matching not allowed: matching labels must be unique on one side"#
    );
    let err = instant(&s, "b + on(job) group_right a", 0).unwrap_err();
    assert!(err.contains("on the left hand-side"), "{err}");
}

#[test]
fn one_to_one_with_several_matches_asks_for_group_left() {
    let s = store(
        60_000,
        &[
            r#"a{job="x", i="1"} 1"#,
            r#"a{job="x", i="2"} 1"#,
            r#"b{job="x"} 1"#,
        ],
    );
    assert_eq!(
        instant(&s, "a + on(job) b", 0).unwrap_err(),
        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
    );
    assert_eq!(vector(&s, "a + on(job) group_left b", 0).len(), 2);
    assert_eq!(
        instant(&s, "a + ignoring(i) group_left(i) b", 0).unwrap_err(),
        "multiple matches for labels: grouping labels must ensure unique matches"
    );
}

#[test]
fn dropping_the_name_may_collide_and_fails_as_prometheus_does() {
    let s = store(60_000, &[r#"a{job="x"} 1 2"#, r#"b{job="x"} 1 2"#]);
    assert_eq!(
        instant(&s, r#"rate({__name__=~"a|b"}[5m])"#, 60_000).unwrap_err(),
        "vector cannot contain metrics with the same labelset"
    );
}

#[test]
fn staleness_marker_ends_a_series_and_lookback_is_five_minutes() {
    let s = store(60_000, &[r#"up{job="x"} 1 1 stale"#, r#"old{job="y"} 1"#]);
    assert_eq!(vector(&s, "up", 60_000).len(), 1);
    assert!(
        vector(&s, "up", 120_000).is_empty(),
        "stale marker hides the series"
    );
    assert_eq!(
        vector(&s, "old", 300_000).len(),
        1,
        "5m lookback includes t-5m"
    );
    assert!(vector(&s, "old", 300_001).is_empty());
    // Range functions skip the marker but see the earlier samples.
    assert_eq!(vector(&s, "count_over_time(up[5m])", 180_000)[0].1, 2.0);
}

#[test]
fn range_query_returns_sorted_series_with_one_point_per_step() {
    let s = store(60_000, &[r#"m{i="2"} 0+1x10"#, r#"m{i="1"} 0+2x10"#]);
    let e = tocsin_promql::parse("m * 2").unwrap();
    let mat = Engine::default().range(&s, &e, 0, 300_000, 60_000).unwrap();
    assert_eq!(mat.len(), 2);
    assert_eq!(mat[0].metric.to_string(), r#"{i="1"}"#);
    assert_eq!(mat[1].points.len(), 6);
    assert_eq!(mat[1].points[5].v, 10.0);
    let e = tocsin_promql::parse("m[5m]").unwrap();
    assert_eq!(
        Engine::default()
            .range(&s, &e, 0, 60_000, 60_000)
            .unwrap_err()
            .to_string(),
        r#"invalid expression type "range vector" for range query, must be Scalar or instant Vector"#
    );
}

#[test]
fn topk_parameter_that_overflows_int64_is_an_error() {
    let s = store(60_000, &["m 1"]);
    assert_eq!(
        instant(&s, "topk(1e20, m)", 0).unwrap_err(),
        "Scalar value 1e+20 overflows int64"
    );
    assert_eq!(
        instant(&s, r#"count_values("a-b", m)"#, 0).unwrap_err(),
        r#"invalid label name "a-b""#
    );
}

#[test]
fn holt_winters_rejects_factors_outside_zero_one() {
    let s = store(60_000, &["m 1 2 3"]);
    assert_eq!(
        instant(&s, "holt_winters(m[5m], 1, 0.5)", 120_000).unwrap_err(),
        "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"
    );
}

#[test]
fn date_functions_of_values_beyond_int64_follow_go_time_arithmetic() {
    // Go converts such floats to the minimum int64 and its time package wraps; values
    // as promtool 2.42 prints them.
    let s = Storage::new();
    let v = |q: &str| vector(&s, q, 0)[0].1;
    assert_eq!(v("minute(vector(1e300))"), 30.0);
    assert_eq!(v("year(vector(1e300))"), 292277026596.0);
    assert_eq!(v("day_of_week(vector(-1e19))"), 0.0);
    assert_eq!(v("month(vector(0/0))"), 12.0);
    assert_eq!(v("day_of_year(vector(951782400))"), 60.0, "2000-02-29");
}

//! promtool 2.42's rule unit tests (`promtool test rules`, `cmd/promtool/unittest.go`) on
//! the embedded evaluator: input series in expanding notation go into a
//! `tocsin_eval::Storage`, rule groups are evaluated on the test's clock by the daemon's
//! own step (`GroupDef::eval_rule` on a `GroupState`, templates through the engine's
//! `RuleExpander`), and the expectations are compared and reported in promtool's words and
//! layout.
//!
//! [`run_file`] returns the lines promtool would print for one file; the command prints them.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tocsin_engine::{
    AlertState, EvalOptions, GroupDef, GroupState, Labels as EngineLabels, RuleDef, RuleError,
    RuleExpander, RuleState, Sample as EngineSample, Scratch, Timestamp,
};
use tocsin_eval::series_desc::{parse_metric, parse_series_desc};
use tocsin_eval::{Engine, Labels, Storage, Value};
use tocsin_template::TemplateContext;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UnitTestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    #[serde(default)]
    evaluation_interval: Option<String>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    /// Decoded and run one group at a time by [`TestsSeed`], so a file of thousands of
    /// groups never sits in memory decoded; this pass only checks it is present or not.
    #[serde(default)]
    tests: Option<serde::de::IgnoredAny>,
}

/// The file again, skipping all but `tests`, whose groups go to `run` as they decode.
struct FileSeed<F>(F);

/// The `tests` sequence, each group handed to the callback as soon as it is decoded.
struct TestsSeed<'f, F>(&'f mut F);

impl<'de, F: FnMut(TestGroup)> serde::de::DeserializeSeed<'de> for FileSeed<F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(mut self, d: D) -> Result<(), D::Error> {
        struct V<'f, F>(&'f mut F);
        impl<'de, F: FnMut(TestGroup)> serde::de::Visitor<'de> for V<'_, F> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a unit-test file")
            }
            fn visit_unit<E>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
                while let Some(key) = map.next_key::<String>()? {
                    if key == "tests" {
                        map.next_value_seed(TestsSeed(&mut *self.0))?;
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(())
            }
        }
        d.deserialize_any(V(&mut self.0))
    }
}

impl<'de, F: FnMut(TestGroup)> serde::de::DeserializeSeed<'de> for TestsSeed<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        struct V<'f, F>(&'f mut F);
        impl<'de, F: FnMut(TestGroup)> serde::de::Visitor<'de> for V<'_, F> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence of test groups")
            }
            fn visit_unit<E>(self) -> Result<(), E> {
                Ok(())
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
                while let Some(group) = seq.next_element::<TestGroup>()? {
                    (self.0)(group);
                }
                Ok(())
            }
        }
        d.deserialize_any(V(self.0))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(default)]
    interval: Option<String>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTestCase>,
    #[serde(default)]
    promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default)]
    external_labels: BTreeMap<String, String>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    #[serde(default)]
    series: String,
    #[serde(default)]
    values: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AlertTestCase {
    #[serde(default)]
    eval_time: Option<String>,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, String>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PromqlTestCase {
    #[serde(default)]
    expr: String,
    #[serde(default)]
    eval_time: Option<String>,
    #[serde(default)]
    exp_samples: Vec<ExpSample>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExpSample {
    #[serde(default)]
    labels: String,
    #[serde(default)]
    value: f64,
}

/// The outcome of one test file, as promtool prints it.
pub struct FileOutcome {
    /// Warnings printed to stderr before the verdict (`  WARNING: no file match pattern …`).
    pub warnings: Vec<String>,
    /// Empty on success; otherwise each error's text (promtool prints each on stderr
    /// followed by an empty line on stdout).
    pub errors: Vec<String>,
}

/// yaml.v2's name for the Go type a misplaced field was found in, told apart by the
/// fields serde lists as expected.
fn go_type_for(expected: &str) -> &'static str {
    if expected.contains("rule_files") {
        "main.unitTestFile"
    } else if expected.contains("input_series") {
        "main.testGroup"
    } else if expected.contains("alertname") {
        "main.alertTestCase"
    } else if expected.contains("exp_labels") {
        "main.alert"
    } else if expected.contains("exp_samples") {
        "main.promqlTestCase"
    } else if expected.contains("labels") {
        "main.sample"
    } else {
        "main.series"
    }
}

/// A decode error in yaml.v2's words where we can tell (unknown fields), otherwise the
/// decoder's own message.
fn yaml_error(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let line = text
        .split("line ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<usize>().ok());
    if let (Some(field), Some(line)) = (
        text.split("unknown field `")
            .nth(1)
            .and_then(|r| r.split('`').next()),
        line,
    ) {
        let expected = text.split("expected").nth(1).unwrap_or("");
        return format!(
            "yaml: unmarshal errors:\n  line {line}: field {field} not found in type {}",
            go_type_for(expected)
        );
    }
    format!("yaml: {}", text.lines().next().unwrap_or(&text))
}

fn duration_ms(text: Option<&str>) -> Result<i64, String> {
    match text {
        None => Ok(0),
        Some(t) => tocsin_promql::parse_model_duration(t)
            .map(|d| d as i64)
            .map_err(|e| format!("not a valid duration string: {t:?}: {e}")),
    }
}

/// Go's `time.Duration.String()` for whole milliseconds: `0s`, `1m0s`, `1h0m0s`, `1.5s`.
pub fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let neg = ms < 0;
    let ms = ms.unsigned_abs();
    let mut out = String::new();
    if ms < 1000 {
        out = format!("{ms}ms");
    } else {
        let (h, m) = (ms / 3_600_000, ms / 60_000 % 60);
        let (s, frac) = (ms / 1000 % 60, ms % 1000);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        if frac == 0 {
            out.push_str(&format!("{s}s"));
        } else {
            let f = format!("{frac:03}");
            out.push_str(&format!("{s}.{}s", f.trim_end_matches('0')));
        }
    }
    if neg {
        format!("-{out}")
    } else {
        out
    }
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `1.5E-07`, `NaN`, `+Inf` (the
/// engine's `'e'` printer, upper-cased exponent mark).
pub fn go_float_e(v: f64) -> String {
    tocsin_engine::runner::format_value(v).replacen('e', "E", 1)
}

/// `filepath.Join(dir, rf)` for a relative `rf`, cleaned as Go cleans it.
fn join_clean(dir: &Path, rf: &str) -> String {
    if rf.is_empty() || Path::new(rf).is_absolute() {
        return rf.to_owned();
    }
    let joined: PathBuf = dir.join(rf);
    let mut parts: Vec<String> = Vec::new();
    let s = joined.to_string_lossy().into_owned();
    let absolute = s.starts_with('/');
    for p in s.split('/') {
        match p {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| l != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            p => parts.push(p.to_owned()),
        }
    }
    let body = parts.join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

/// `filepath.Glob`: the pattern itself when it has no metacharacters and exists.
fn go_glob(pattern: &str) -> Result<Vec<String>, String> {
    if !pattern.contains(['*', '?', '[', '\\']) {
        return Ok(if std::fs::symlink_metadata(pattern).is_ok() {
            vec![pattern.to_owned()]
        } else {
            Vec::new()
        });
    }
    let paths = glob::glob(pattern).map_err(|_| "syntax error in pattern".to_owned())?;
    let mut out: Vec<String> = paths
        .filter_map(Result::ok)
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    out.sort();
    Ok(out)
}

/// Template queries on the test's storage at the evaluation time.
struct EvalContext<'a> {
    engine: &'a Engine,
    store: &'a Storage,
    ts_ms: i64,
}

impl TemplateContext for EvalContext<'_> {
    fn query(&self, expr: &str) -> Result<Vec<tocsin_template::Sample>, String> {
        let samples = instant_query(self.engine, self.store, expr, self.ts_ms)?;
        Ok(samples
            .into_iter()
            .map(|(labels, value)| tocsin_template::Sample {
                labels: labels
                    .iter()
                    .map(|(n, v)| (n.to_owned(), v.to_owned()))
                    .collect(),
                value,
            })
            .collect())
    }

    fn eval_time(&self) -> f64 {
        self.ts_ms as f64 / 1000.0
    }

    fn has_external_url(&self) -> bool {
        false
    }
}

/// An instant query as promtool's `query` helper: a vector, or a scalar as one sample
/// without labels.
fn instant_query(
    engine: &Engine,
    store: &Storage,
    expr: &str,
    ts_ms: i64,
) -> Result<Vec<(Labels, f64)>, String> {
    let parsed = tocsin_promql::parse(expr).map_err(|e| e.to_string())?;
    match engine
        .instant(store, &parsed, ts_ms)
        .map_err(|e| e.to_string())?
    {
        Value::Vector(v) => Ok(v.into_iter().map(|s| (s.metric, s.v)).collect()),
        Value::Scalar { v, .. } => Ok(vec![(Labels::empty(), v)]),
        _ => Err("rule result is not a vector or scalar".to_owned()),
    }
}

fn to_engine_labels(l: &Labels) -> EngineLabels {
    // Already sorted and unique: the builder encodes without sorting again.
    l.iter().collect()
}

fn to_eval_labels(l: &EngineLabels) -> Labels {
    Labels::from_pairs(l.iter().map(|(n, v)| (n.to_owned(), v.to_owned())))
}

fn labels_string(pairs: &[(String, String)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", tocsin_promql::go_quote(v)))
        .collect();
    format!("{{{}}}", inner.join(", "))
}

/// One alert as promtool compares and prints it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LabelsAndAnnotations {
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
}

fn alerts_string(list: &[LabelsAndAnnotations]) -> String {
    if list.is_empty() {
        return "[]".to_owned();
    }
    let mut s = String::from("[\n");
    for (i, a) in list.iter().enumerate() {
        if i > 0 {
            s.push_str(",\n");
        }
        s.push_str(&format!(
            "{i}:\n  Labels:{}\n  Annotations:{}",
            labels_string(&a.labels),
            labels_string(&a.annotations)
        ));
    }
    s.push_str("\n]");
    s
}

/// `indentLines`: every line after the first prefixed with `indent`.
fn indent_lines(text: &str, indent: &str) -> String {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_owned()
            } else {
                format!("{indent}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs one unit-test file; `run` selects test groups by name (all when `None`).
pub fn run_file(filename: &str, run: Option<&regex::Regex>) -> FileOutcome {
    let mut outcome = FileOutcome {
        warnings: Vec::new(),
        errors: Vec::new(),
    };
    let text = match std::fs::read_to_string(filename) {
        Ok(t) => t,
        Err(e) => {
            outcome
                .errors
                .push(format!("open {filename}: {}", io_error_text(&e)));
            return outcome;
        }
    };
    let file: UnitTestFile = if text.trim().is_empty() {
        UnitTestFile::default()
    } else {
        match serde_saphyr::from_str(&text) {
            Ok(f) => f,
            Err(e) => {
                outcome.errors.push(yaml_error(&e));
                return outcome;
            }
        }
    };
    let base = Path::new(filename).parent().unwrap_or(Path::new(""));
    let mut rule_files = Vec::new();
    for rf in &file.rule_files {
        let pattern = join_clean(base, rf);
        match go_glob(&pattern) {
            Ok(m) if m.is_empty() => outcome
                .warnings
                .push(format!("  WARNING: no file match pattern {pattern}")),
            Ok(m) => rule_files.extend(m),
            Err(e) => {
                outcome.errors.push(e);
                return outcome;
            }
        }
    }
    let eval_interval = match duration_ms(file.evaluation_interval.as_deref()) {
        Ok(0) => 60_000,
        Ok(d) => d,
        Err(e) => {
            outcome.errors.push(e);
            return outcome;
        }
    };
    let mut order: HashMap<&str, usize> = HashMap::new();
    for (i, g) in file.group_eval_order.iter().enumerate() {
        if order.insert(g, i).is_some() {
            outcome
                .errors
                .push(format!("group name repeated in evaluation order: {g}"));
            return outcome;
        }
    }
    if file.tests.is_none() {
        return outcome;
    }
    let mut group_errors = Vec::new();
    let decoded = serde_saphyr::with_deserializer_from_str(&text, |d| {
        serde::de::DeserializeSeed::deserialize(
            FileSeed(|tg: TestGroup| {
                if run.is_some_and(|re| !re.is_match(&tg.name)) {
                    return;
                }
                group_errors.extend(run_group(&tg, eval_interval, &order, &rule_files));
            }),
            d,
        )
    });
    match decoded {
        // Like promtool, a file that does not decode runs nothing: only the YAML error.
        Err(e) => outcome.errors.push(yaml_error(&e)),
        Ok(()) => outcome.errors.extend(group_errors),
    }
    outcome
}

/// `os.PathError`'s text for the common cases.
fn io_error_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// Loads the rule files as the rule manager does: the first file with errors stops it.
/// Each group is the daemon's [`GroupDef`]; `interval` (the test's evaluation interval)
/// only matters to when alerts would be re-sent, which a test never looks at.
fn load_groups(rule_files: &[String], interval: Duration) -> Result<Vec<GroupDef>, Vec<String>> {
    let mut groups = Vec::new();
    for path in rule_files {
        match tocsin_rules::load_file(path) {
            Ok((loaded, _)) => {
                groups.extend(
                    loaded
                        .iter()
                        .map(|g| GroupDef::from_group(path, g, interval)),
                );
            }
            Err(report) => {
                return Err(report
                    .diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .map(|d| format!("{path}: {d}"))
                    .collect())
            }
        }
    }
    Ok(groups)
}

fn run_group(
    tg: &TestGroup,
    eval_interval: i64,
    order: &HashMap<&str, usize>,
    rule_files: &[String],
) -> Vec<String> {
    let interval = match duration_ms(tg.interval.as_deref()) {
        Ok(d) => d,
        Err(e) => return vec![e],
    };
    // Input series: the last definition of a label set wins, as in promtool's map.
    let mut inputs: Vec<(Labels, Vec<(i64, f64)>)> = Vec::new();
    for s in &tg.input_series {
        let line = format!("{} {}", s.series, s.values);
        let desc = match parse_series_desc(line.trim()) {
            Ok(d) => d,
            Err(e) => return vec![e.prometheus_text()],
        };
        let samples: Vec<(i64, f64)> = desc
            .values
            .iter()
            .enumerate()
            .filter_map(|(k, v)| v.map(|v| (k as i64 * interval, v)))
            .collect();
        inputs.retain(|(l, _)| *l != desc.labels);
        inputs.push((desc.labels, samples));
    }
    let group_interval = Duration::from_millis(u64::try_from(eval_interval).unwrap_or(0));
    let mut loaded = match load_groups(rule_files, group_interval) {
        Ok(g) => g,
        Err(errs) => return errs,
    };
    // Groups named in group_eval_order first, in that order; others keep file order.
    loaded.sort_by_key(|g| order.get(&*g.name).copied().unwrap_or(0));
    // The daemon's group records (templates compiled, stale tracking), evaluated by its
    // one step, `GroupDef::eval_rule`.
    let mut groups: Vec<(GroupDef, GroupState)> = loaded
        .into_iter()
        .map(|def| {
            let state = GroupState::new(&def, &tg.external_url);
            (def, state)
        })
        .collect();
    let options = EvalOptions::default();
    let mut scratch = Scratch::default();

    let mut errs = Vec::new();
    let mut alert_times: Vec<i64> = Vec::new();
    for a in &tg.alert_rule_test {
        if a.alertname.is_empty() {
            let in_group = if tg.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", tg.name)
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                tocsin_promql::format_duration(duration_ms(a.eval_time.as_deref()).unwrap_or(0))
            )];
        }
        match duration_ms(a.eval_time.as_deref()) {
            Ok(t) => alert_times.push(t),
            Err(e) => return vec![e],
        }
    }
    let mut max_eval = alert_times.iter().copied().max().unwrap_or(0);
    for p in &tg.promql_expr_test {
        match duration_ms(p.eval_time.as_deref()) {
            Ok(t) => max_eval = max_eval.max(t),
            Err(e) => return vec![e],
        }
    }
    alert_times.sort_unstable();
    alert_times.dedup();

    let engine = Engine {
        default_subquery_step: eval_interval,
        ..Engine::default()
    };
    let mut store = Storage::new();
    let mut cursors = vec![0usize; inputs.len()];
    let mut curr = 0;
    let mut ts = 0i64;
    while ts <= max_eval {
        // Input samples up to and including ts.
        for (i, (labels, samples)) in inputs.iter().enumerate() {
            while let Some(&(t, v)) = samples.get(cursors[i]) {
                if t > ts {
                    break;
                }
                if let Err(e) = store.append(labels, t, v) {
                    errs.push(e.to_string());
                }
                cursors[i] += 1;
            }
        }
        let mut eval_errs = Vec::new();
        let when = Timestamp::from_millis(ts);
        for (def, state) in groups.iter_mut() {
            for i in 0..def.rules.len() {
                let rule = &def.rules[i];
                let result: Result<Vec<EngineSample>, RuleError> =
                    instant_query(&engine, &store, rule.expr(), ts)
                        .map(|v| {
                            v.iter()
                                .map(|(l, val)| EngineSample::new(to_engine_labels(l), *val))
                                .collect()
                        })
                        .map_err(|e| {
                            if e == "rule result is not a vector or scalar" {
                                RuleError::NotVector
                            } else {
                                RuleError::query(tocsin_query::ErrorKind::BadQuery, e)
                            }
                        });
                let context = EvalContext {
                    engine: &engine,
                    store: &store,
                    ts_ms: ts,
                };
                let templates = Arc::clone(&state.rules[i].templates);
                let expander =
                    RuleExpander::new(&templates, &tg.external_labels, &tg.external_url, &context);
                let outcome = def.eval_rule(
                    state,
                    i,
                    when,
                    result.as_deref().map_err(Clone::clone),
                    &expander,
                    &options,
                    &mut scratch,
                );
                match outcome.error {
                    None => {
                        for s in &outcome.samples {
                            // Rejected samples (duplicates, out of order) are dropped, as the
                            // rule manager drops them.
                            let _ = store.append(&to_eval_labels(&s.labels), ts, s.value);
                        }
                    }
                    Some(e) => eval_errs.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        rule.name(),
                        go_duration(ts)
                    )),
                }
            }
        }
        let stop = !eval_errs.is_empty();
        errs.extend(eval_errs);
        if stop {
            return errs;
        }

        while curr < alert_times.len()
            && ts <= alert_times[curr]
            && alert_times[curr] < ts + eval_interval
        {
            let t = alert_times[curr];
            for tc in tg
                .alert_rule_test
                .iter()
                .filter(|a| duration_ms(a.eval_time.as_deref()).ok() == Some(t))
            {
                let mut got: Vec<LabelsAndAnnotations> = Vec::new();
                for (def, state) in &groups {
                    for (rule, run) in def.rules.iter().zip(&state.rules) {
                        let (RuleDef::Alerting(rule), RuleState::Alerting(state)) =
                            (rule, &run.state)
                        else {
                            continue;
                        };
                        if rule.name() != tc.alertname {
                            continue;
                        }
                        for a in state.alerts() {
                            if a.state == AlertState::Firing {
                                got.push(LabelsAndAnnotations {
                                    labels: a
                                        .labels
                                        .iter()
                                        .map(|(n, v)| (n.to_owned(), v.to_owned()))
                                        .collect(),
                                    annotations: a
                                        .annotations
                                        .iter()
                                        .map(|(n, v)| (n.to_owned(), v.to_owned()))
                                        .collect(),
                                });
                            }
                        }
                    }
                }
                let mut exp: Vec<LabelsAndAnnotations> = tc
                    .exp_alerts
                    .iter()
                    .map(|a| {
                        let mut labels = a.exp_labels.clone();
                        labels.insert("alertname".to_owned(), tc.alertname.clone());
                        LabelsAndAnnotations {
                            labels: labels.into_iter().collect(),
                            annotations: a.exp_annotations.clone().into_iter().collect(),
                        }
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    let name = if tg.name.is_empty() {
                        String::new()
                    } else {
                        format!("    name: {},\n", tg.name)
                    };
                    let indent = "            ";
                    errs.push(format!(
                        "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        tc.alertname,
                        tocsin_promql::format_duration(t),
                        indent_lines(&alerts_string(&exp), indent),
                        indent_lines(&alerts_string(&got), indent)
                    ));
                }
            }
            curr += 1;
        }
        ts += eval_interval;
    }

    'cases: for tc in &tg.promql_expr_test {
        let t = duration_ms(tc.eval_time.as_deref()).unwrap_or(0);
        let time = tocsin_promql::format_duration(t);
        let expr_q = tocsin_promql::go_quote(&tc.expr);
        let got = match instant_query(&engine, &store, &tc.expr, t) {
            Ok(g) => g,
            Err(e) => {
                errs.push(format!("    expr: {expr_q}, time: {time}, err: {e}"));
                continue;
            }
        };
        let mut exp: Vec<(Labels, f64)> = Vec::new();
        for s in &tc.exp_samples {
            match parse_metric(s.labels.trim()) {
                Ok((labels, rest)) if rest.trim().is_empty() => exp.push((labels, s.value)),
                Ok(_) | Err(_) if s.labels.trim().is_empty() => {
                    exp.push((Labels::empty(), s.value))
                }
                Ok((_, rest)) => {
                    errs.push(format!(
                        "    expr: {expr_q}, time: {time}, err: labels {}: unexpected {:?}",
                        tocsin_promql::go_quote(&s.labels),
                        rest.trim()
                    ));
                    continue 'cases;
                }
                Err(e) => {
                    errs.push(format!(
                        "    expr: {expr_q}, time: {time}, err: labels {}: {}",
                        tocsin_promql::go_quote(&s.labels),
                        e.prometheus_text()
                    ));
                    continue 'cases;
                }
            }
        }
        let mut got = got;
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        // reflect.DeepEqual: exact floats, NaN never equal.
        let equal =
            exp.len() == got.len() && exp.iter().zip(&got).all(|(e, g)| e.0 == g.0 && e.1 == g.1);
        if !equal {
            let fmt = |v: &[(Labels, f64)]| {
                if v.is_empty() {
                    "nil".to_owned()
                } else {
                    v.iter()
                        .map(|(l, x)| format!("{l} {}", go_float_e(*x)))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            };
            errs.push(format!(
                "    expr: {expr_q}, time: {time},\n        exp: {}\n        got: {}",
                fmt(&exp),
                fmt(&got)
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_number_and_duration_formats() {
        assert_eq!(go_float_e(1.0), "1E+00");
        assert_eq!(go_float_e(0.0), "0E+00");
        assert_eq!(go_float_e(1234.5), "1.2345E+03");
        assert_eq!(go_float_e(1.5e-7), "1.5E-07");
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
        assert_eq!(go_duration(1_500), "1.5s");
        assert_eq!(join_clean(Path::new("."), "rules.yml"), "rules.yml");
        assert_eq!(join_clean(Path::new("a/b"), "../r.yml"), "a/r.yml");
    }
}

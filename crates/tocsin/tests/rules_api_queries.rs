//! Every rule's `query` is printed exactly as Prometheus 2.42 prints it in `/api/v1/rules`
//! (and in generator URLs): the real Prometheus loads our valid testdata, the corpus, and
//! a rule per valid expression of the PromQL case table, and its answers are compared
//! with `tocsin_rules::Rule::canonical_expr` on the same files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tocsin_query::{HttpClientConfig, PrometheusClient};
use tocsin_testkit::{rule_files, Prometheus, PrometheusOptions, TempDir};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One recording rule per expression the case table marks valid, 100 to a group. The
/// inputs are JSON strings, which YAML reads the same way as double-quoted scalars.
fn promql_case_rules(dir: &Path) -> PathBuf {
    let table = std::fs::read_to_string(repo().join("testdata/promql/cases.txt"))
        .expect("testdata/promql/cases.txt");
    let inputs: Vec<&str> = table
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .filter(|(input, verdict)| *verdict == "ok" && *input != "\"\"")
        .map(|(input, _)| input)
        .collect();
    assert!(inputs.len() > 250, "only {} valid cases", inputs.len());
    let mut yaml = String::from("groups:\n");
    for (i, input) in inputs.iter().enumerate() {
        if i % 100 == 0 {
            yaml.push_str(&format!(
                "  - name: cases-{}\n    interval: 1h\n    rules:\n",
                i / 100
            ));
        }
        yaml.push_str(&format!(
            "      - record: case_{i}\n        expr: {input}\n"
        ));
    }
    let path = dir.join("promql_cases.yaml");
    std::fs::write(&path, yaml).expect("write the case rules");
    path
}

/// `(file, group, rule index) → query` for the files tocsin loads as valid.
fn tocsin_queries(files: &[PathBuf]) -> BTreeMap<(String, String, usize), String> {
    let mut out = BTreeMap::new();
    for file in files {
        let path = file.to_string_lossy().into_owned();
        let (groups, _) = tocsin_rules::load_file(&path)
            .unwrap_or_else(|r| panic!("{path} was selected as valid: {r:?}"));
        for g in groups {
            for (i, rule) in g.rules.iter().enumerate() {
                out.insert(
                    (path.clone(), g.name.value.clone(), i),
                    rule.canonical_expr(),
                );
            }
        }
    }
    out
}

fn prometheus_queries(prometheus: &Prometheus) -> BTreeMap<(String, String, usize), String> {
    let client =
        PrometheusClient::new(HttpClientConfig::new(prometheus.url())).expect("API client");
    let groups = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(client.rules(None))
        .unwrap_or_else(|e| panic!("/api/v1/rules: {e}"));
    let mut out = BTreeMap::new();
    for g in groups {
        for (i, rule) in g.rules.iter().enumerate() {
            out.insert((g.file.clone(), g.name.clone(), i), rule.query().to_owned());
        }
    }
    out
}

#[test]
fn rule_queries_are_printed_as_prometheus_prints_them() {
    let dir = TempDir::new("rules-api-queries").expect("temp dir");
    let mut candidates = rule_files(&repo().join("testdata/rules/good"));
    candidates.extend(rule_files(
        &repo().join("testdata/corpus/awesome-prometheus-alerts"),
    ));
    // Prometheus refuses to start on an invalid file; the corpus has some.
    let mut files: Vec<PathBuf> = candidates
        .into_iter()
        .map(|f| f.canonicalize().expect("canonical path"))
        .filter(|f| tocsin_rules::load_file(&f.to_string_lossy()).is_ok())
        .collect();
    files.push(promql_case_rules(dir.path()));

    let ours = tocsin_queries(&files);
    let prometheus = Prometheus::start(PrometheusOptions {
        rule_files: files.clone(),
        ..PrometheusOptions::default()
    });
    let theirs = prometheus_queries(&prometheus);

    assert!(ours.len() > 1000, "only {} rules compared", ours.len());
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "the same rules are loaded"
    );
    // Strings holding bytes that are not UTF-8 (`"\xff"`): Prometheus prints the byte
    // escape; tocsin keeps such an expression as written (Rust strings are UTF-8), so that
    // what it evaluates is exactly the user's query.
    let not_utf8 = |q: &str| {
        [
            "\\x8", "\\x9", "\\xa", "\\xb", "\\xc", "\\xd", "\\xe", "\\xf",
        ]
        .iter()
        .any(|escape| q.contains(escape))
    };
    let differ: Vec<String> = ours
        .iter()
        .filter(|(k, q)| theirs.get(*k) != Some(q))
        .filter(|(k, _)| !not_utf8(&theirs[*k]))
        .map(|((file, group, i), q)| {
            format!(
                "{file} group {group:?} rule {i}:\n  tocsin:     {q}\n  prometheus: {}",
                theirs[&(file.clone(), group.clone(), *i)]
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "{} of {} queries differ:\n{}",
        differ.len(),
        ours.len(),
        differ.join("\n")
    );
}

//! Every label and annotation template of the awesome-prometheus-alerts corpus
//! parses, and renders as Prometheus 2.42 rendered it for a synthetic sample
//! (testdata/templates/corpus_cases.json, captured by gen_corpus_cases.py).

use std::collections::BTreeMap;
use tocsin_template::{parse_alert_template, AlertTemplateData, Sample, TemplateContext};

struct NoQueries;

impl TemplateContext for NoQueries {
    fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        Err(format!("unexpected query {expr:?}"))
    }
}

#[test]
fn corpus_templates_parse_and_render_like_prometheus() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/templates/corpus_cases.json"
    );
    let rules: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let rules = rules.as_array().unwrap();
    assert!(rules.len() > 900, "corpus table has {} rules", rules.len());
    let mut failures = Vec::new();
    let mut checked = 0;
    for (i, r) in rules.iter().enumerate() {
        let labels: BTreeMap<String, String> = r["labels"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let data = AlertTemplateData {
            labels,
            external_labels: [("cluster", "prod"), ("region", "eu")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            external_url: "http://prom.example.com:9090/prefix".into(),
            value: r["value"].as_str().unwrap().parse().unwrap(),
        };
        let name = format!("__alert_C{i}");
        for (key, text) in r["templates"].as_object().unwrap() {
            let text = text.as_str().unwrap();
            let want = r["outputs"].get(key).and_then(|v| v.as_str()).unwrap_or("");
            let got = match parse_alert_template(&name, text) {
                Err(e) => format!("parse error: {e}"),
                Ok(t) => t.render(&data, &NoQueries).unwrap_or_else(|e| {
                    format!("<error expanding template: error executing template {name}: {e}>")
                }),
            };
            checked += 1;
            if got != want {
                failures.push(format!(
                    "{} {} {key}: {text:?}\n   want {want:?}\n    got {got:?}",
                    r["file"], r["alert"]
                ));
            }
        }
    }
    assert!(checked > 2500);
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

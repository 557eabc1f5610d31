//! Parse arbitrary text as an alert template (and as a plain template) and,
//! when it parses, render it: neither may panic or hang (execution is
//! bounded by MAX_STEPS/MAX_OUTPUT), and output stays within MAX_OUTPUT.
//! Run (stable toolchain; cargo-fuzz needs nightly flags):
//! `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run template_parse_render -- -dict=template.dict -max_total_time=300`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin_template::{
    parse_alert_template, parse_template, AlertTemplateData, Sample, TemplateContext, MAX_OUTPUT,
};

struct Fixed;

impl TemplateContext for Fixed {
    fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
        Ok(vec![Sample {
            labels: [("job".to_string(), "a".to_string())].into_iter().collect(),
            value: 1.5,
        }])
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let d = AlertTemplateData {
        labels: [("instance".to_string(), "h:1".to_string())]
            .into_iter()
            .collect(),
        value: 2.5,
        ..Default::default()
    };
    for t in [
        parse_alert_template("__alert_F", text),
        parse_template("f", text),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(out) = t.render(&d, &Fixed) {
            assert!(out.len() <= MAX_OUTPUT);
        }
    }
});

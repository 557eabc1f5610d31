//! Parse arbitrary text as an alert template and, when it parses, render it:
//! neither may panic or hang (execution is bounded by MAX_STEPS/MAX_OUTPUT).
//! Run: `cd fuzz && cargo +nightly fuzz run template_parse_render`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin_template::{parse_alert_template, AlertTemplateData, Sample, TemplateContext};

struct Fixed;

impl TemplateContext for Fixed {
    fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
        Ok(vec![Sample { labels: [("job".to_string(), "a".to_string())].into_iter().collect(), value: 1.5 }])
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(t) = parse_alert_template("__alert_F", text) {
        let d = AlertTemplateData {
            labels: [("instance".to_string(), "h:1".to_string())].into_iter().collect(),
            value: 2.5,
            ..Default::default()
        };
        let _ = t.render(&d, &Fixed);
    }
});

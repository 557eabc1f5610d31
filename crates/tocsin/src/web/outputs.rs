//! Rule outputs kept for `/metrics`: the latest value of every recording-rule series and
//! every `ALERTS`/`ALERTS_FOR_STATE` series, so a Prometheus scraping tocsin (with
//! `honor_labels: true`) stores them as if it had evaluated the rules itself.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tocsin_engine::runner::Outputs;
use tocsin_engine::stale::is_stale_marker;
use tocsin_engine::{Labels, Sample, Timestamp};

use super::exposition::Exposition;

/// Latest sample per series, keyed by the output's full label set (`__name__` included).
#[derive(Default)]
pub struct LatestOutputs {
    series: Mutex<BTreeMap<Labels, f64>>,
    /// A label added to every exposed series, replacing one of the same name
    /// (`shadow="true"` of `run --shadow`).
    extra: Option<(&'static str, &'static str)>,
}

impl Outputs for LatestOutputs {
    fn write(&self, _group: &str, _ts: Timestamp, samples: &[Sample]) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        for s in samples {
            if is_stale_marker(s.value) {
                series.remove(&s.labels);
            } else {
                series.insert(s.labels.clone(), s.value);
            }
        }
    }
}

impl LatestOutputs {
    /// Outputs exposed with `label` added to every series.
    pub fn labelled(label: (&'static str, &'static str)) -> Self {
        LatestOutputs {
            extra: Some(label),
            ..LatestOutputs::default()
        }
    }

    /// Appends every series, one `untyped` family per metric name.
    pub fn expose(&self, page: &mut Exposition) {
        let Ok(series) = self.series.lock() else {
            return;
        };
        let mut by_name: BTreeMap<&str, Vec<(&Labels, f64)>> = BTreeMap::new();
        for (labels, value) in series.iter() {
            by_name
                .entry(labels.get("__name__").unwrap_or(""))
                .or_default()
                .push((labels, *value));
        }
        for (name, samples) in by_name {
            if name.is_empty() {
                continue;
            }
            page.family(name, "untyped", "Rule output evaluated by tocsin.");
            for (labels, value) in samples {
                let own = labels.iter().filter(|(k, _)| *k != "__name__");
                match self.extra {
                    // `Labels::new` sorts and keeps the last of a repeated name.
                    Some(extra) => {
                        let all = Labels::new(own.chain(std::iter::once(extra)));
                        page.sample(name, all.iter(), value);
                    }
                    None => {
                        page.sample(name, own, value);
                    }
                }
            }
        }
    }
}

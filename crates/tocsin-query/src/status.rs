//! What the server knows besides samples: its configuration (`/api/v1/status/config`),
//! metric metadata (`/api/v1/metadata`) and the label names of matching series
//! (`/api/v1/labels`), for `tocsin check --datasource`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;

use crate::client::{form_pair, unix_seconds, PrometheusClient};
use crate::decode::decode_envelope;
use crate::error::QueryError;

/// One metadata entry of a metric, as `/api/v1/metadata` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MetricMetadata {
    /// `counter`, `gauge`, `histogram`, `summary`, `gaugehistogram`, `info`, `stateset`
    /// or `unknown`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub help: String,
    #[serde(default)]
    pub unit: String,
}

#[derive(Deserialize)]
struct ConfigData {
    yaml: String,
}

impl PrometheusClient {
    /// `GET /api/v1/status/config`: the loaded configuration as YAML (Prometheus prints
    /// secrets in it as `<secret>`).
    pub async fn status_config(&self) -> Result<String, QueryError> {
        let data: ConfigData = self.get_json("/api/v1/status/config").await?;
        Ok(data.yaml)
    }

    /// `GET /api/v1/metadata?metric=NAME`: every distinct metadata entry the scraped
    /// targets expose for the metric (empty when none says anything).
    pub async fn metadata(&self, metric: &str) -> Result<Vec<MetricMetadata>, QueryError> {
        let mut query = String::new();
        form_pair(&mut query, "metric", metric);
        let mut data: BTreeMap<String, Vec<MetricMetadata>> =
            self.get_json(&format!("/api/v1/metadata?{query}")).await?;
        Ok(data.remove(metric).unwrap_or_default())
    }

    /// `POST /api/v1/labels` with one `match[]` per selector, between `start` and `end`:
    /// the label names of the series they match (`__name__` included), sorted. Empty when
    /// nothing matches. Reads only the index.
    pub async fn label_names(
        &self,
        selectors: &[&str],
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Vec<String>, QueryError> {
        self.post_matchers("/api/v1/labels", selectors, start, end)
            .await
    }

    /// `POST path` with one `match[]` per selector and `start`/`end`: what the series and
    /// labels endpoints share.
    pub(crate) async fn post_matchers<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        selectors: &[&str],
        start: SystemTime,
        end: SystemTime,
    ) -> Result<T, QueryError> {
        let url = format!("{}{path}", self.url());
        let endpoint = format!("POST {url}");
        let mut form = String::with_capacity(64);
        for s in selectors {
            form_pair(&mut form, "match[]", s);
        }
        form_pair(&mut form, "start", &unix_seconds(start));
        form_pair(&mut form, "end", &unix_seconds(end));
        self.call(
            &endpoint,
            |http, _| {
                http.post(&url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.clone())
            },
            |status, body| decode_envelope::<T>(status, body, &endpoint),
        )
        .await
    }
}

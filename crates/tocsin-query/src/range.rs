//! Backtest queries: `/api/v1/query_range` with Prometheus's own query statistics, and
//! `/api/v1/series` over a time range.
//!
//! `tocsin diff` replays rules over history with range queries and reports what they cost
//! the server. Prometheus (since 2.35) answers `stats=all` with `data.stats.samples`:
//! `totalQueryableSamples` (samples the query touched) and `peakSamples` (the most it held
//! in memory at once, which `--query.max-samples` limits). The result itself is decoded by
//! the same streaming decoder as every other query; the statistics are read by a second,
//! skipping pass over the same bytes.

use std::time::{Duration, SystemTime};

use reqwest::header::CONTENT_TYPE;
use serde::Deserialize;

use crate::client::{duration_seconds, form_pair, unix_seconds, PrometheusClient};
use crate::decode::decode_query;
use crate::error::QueryError;
use crate::value::QueryResult;
use tocsin_core::Labels;

/// What one query cost the server, as Prometheus reports it with `stats=all`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// `totalQueryableSamples`: samples read to answer the query.
    pub total_samples: u64,
    /// `peakSamples`: the most samples held at once (what `--query.max-samples` caps).
    pub peak_samples: u64,
}

#[derive(Deserialize)]
struct StatsEnvelope {
    #[serde(default)]
    data: Option<StatsData>,
}

#[derive(Deserialize)]
struct StatsData {
    #[serde(default)]
    stats: Option<Stats>,
}

#[derive(Deserialize)]
struct Stats {
    #[serde(default)]
    samples: Option<SampleStats>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SampleStats {
    #[serde(default)]
    total_queryable_samples: u64,
    #[serde(default)]
    peak_samples: u64,
}

/// The statistics of an answer, `None` when the server sent none (older than 2.35, or not
/// Prometheus).
fn decode_stats(body: &[u8]) -> Option<QueryStats> {
    let env: StatsEnvelope = serde_json::from_slice(body).ok()?;
    let samples = env.data?.stats?.samples?;
    Some(QueryStats {
        total_samples: samples.total_queryable_samples,
        peak_samples: samples.peak_samples,
    })
}

impl PrometheusClient {
    /// `POST /api/v1/query_range` from `start` to `end` every `step`, with `stats=all`:
    /// the result and what it cost the server (`None` if it did not say).
    pub async fn range_query_with_stats(
        &self,
        expr: &str,
        start: SystemTime,
        end: SystemTime,
        step: Duration,
    ) -> Result<(QueryResult, Option<QueryStats>), QueryError> {
        let url = format!("{}/api/v1/query_range", self.url());
        let endpoint = format!("POST {url}");
        let mut form = String::with_capacity(64 + expr.len());
        form_pair(&mut form, "query", expr);
        form_pair(&mut form, "start", &unix_seconds(start));
        form_pair(&mut form, "end", &unix_seconds(end));
        form_pair(&mut form, "step", &duration_seconds(step));
        form_pair(&mut form, "stats", "all");
        self.call(
            &endpoint,
            |http, timeout| {
                let mut body = form.clone();
                form_pair(&mut body, "timeout", &duration_seconds(timeout));
                http.post(&url)
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body)
            },
            |status, body| {
                let result = decode_query(status, body, &endpoint)?;
                Ok((result, decode_stats(body)))
            },
        )
        .await
    }

    /// `POST /api/v1/series` with one `match[]` per selector, between `start` and `end`:
    /// the label sets of every series any selector matches in that window. Reads only the
    /// index, never samples.
    pub async fn series(
        &self,
        selectors: &[&str],
        start: SystemTime,
        end: SystemTime,
    ) -> Result<Vec<Labels>, QueryError> {
        self.post_matchers("/api/v1/series", selectors, start, end)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_are_read_from_a_range_answer() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[],
            "stats":{"timings":{"evalTotalTime":0.1},
            "samples":{"totalQueryableSamples":1234,"peakSamples":56}}}}"#;
        assert_eq!(
            decode_stats(body),
            Some(QueryStats {
                total_samples: 1234,
                peak_samples: 56
            })
        );
        let without = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert_eq!(decode_stats(without), None);
    }
}

//! One module per subcommand.

pub mod check;
pub mod diff;
pub mod gateway;
pub mod loadtest;
pub mod run;
pub mod sink;
pub mod test_rules;

use anyhow::Context;
use tocsin_query::{HttpClientConfig, PrometheusClient};

/// The client of a `--datasource URL` flag (`check`, `diff`): `timeout` per attempt, and
/// three times that for the whole call, so a slow attempt still leaves room for a retry.
pub fn datasource_client(
    url: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<PrometheusClient> {
    let mut config = HttpClientConfig::new(url);
    config.timeout = timeout;
    config.deadline = timeout.saturating_mul(3);
    PrometheusClient::new(config).context("--datasource")
}

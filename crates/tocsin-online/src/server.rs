//! What the server's configuration says about scraping and evaluation
//! (`/api/v1/status/config`).

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

/// Prometheus's defaults when the configuration sets none.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Scrape intervals per job and the global intervals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub scrape_interval: Duration,
    pub evaluation_interval: Duration,
    /// `scrape_interval` per `job_name` (the global one where a job sets none).
    pub jobs: HashMap<String, Duration>,
}

#[derive(Deserialize, Default)]
struct Config {
    #[serde(default)]
    global: Global,
    #[serde(default)]
    scrape_configs: Vec<Scrape>,
}

#[derive(Deserialize, Default)]
struct Global {
    scrape_interval: Option<String>,
    evaluation_interval: Option<String>,
}

#[derive(Deserialize)]
struct Scrape {
    job_name: String,
    scrape_interval: Option<String>,
}

fn duration(text: Option<&str>, default: Duration) -> Result<Duration, String> {
    match text {
        None => Ok(default),
        Some(t) => tocsin_rules::Duration::parse(t).map(|d| d.as_std()),
    }
}

impl ServerConfig {
    /// Reads the YAML `/api/v1/status/config` answers.
    pub fn parse(yaml: &str) -> Result<ServerConfig, String> {
        let config: Config = serde_saphyr::from_str(yaml).map_err(|e| e.to_string())?;
        let scrape_interval = duration(config.global.scrape_interval.as_deref(), DEFAULT_INTERVAL)?;
        let evaluation_interval = duration(
            config.global.evaluation_interval.as_deref(),
            DEFAULT_INTERVAL,
        )?;
        let mut jobs = HashMap::new();
        for job in config.scrape_configs {
            let interval = duration(job.scrape_interval.as_deref(), scrape_interval)?;
            jobs.insert(job.job_name, interval);
        }
        Ok(ServerConfig {
            scrape_interval,
            evaluation_interval,
            jobs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_take_their_own_interval_or_the_global_one() {
        let yaml = "global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\n  evaluation_interval: 30s\nscrape_configs:\n- job_name: fast\n  scrape_interval: 5s\n  basic_auth:\n    username: u\n    password: <secret>\n- job_name: plain\n";
        let c = ServerConfig::parse(yaml).expect("parses");
        assert_eq!(c.scrape_interval, Duration::from_secs(15));
        assert_eq!(c.evaluation_interval, Duration::from_secs(30));
        assert_eq!(c.jobs["fast"], Duration::from_secs(5));
        assert_eq!(c.jobs["plain"], Duration::from_secs(15));
    }
}

//! Test support for tocsin: real Prometheus and Alertmanager servers on loopback ports.
//!
//! tocsin's tests run against the real servers (docs/architecture.md, "Testing"): Debian's
//! `prometheus` (2.42) and `prometheus-alertmanager` (0.25). This crate starts them on free
//! `127.0.0.1` ports with a config, storage and log in a fresh temp dir, waits for
//! `/-/ready`, and on drop kills the process, waits for it and removes the dir. A missing
//! binary panics with the `apt-get` line that installs it: tests fail, never skip.
//!
//! It also has a blocking HTTP/1.1 helper on `std::net` ([`http_get`], [`http_post`],
//! [`http_request`]) so tests need no client crate, and a request [`Recorder`] for
//! checking what a client sends; [`wait_until`] and [`eventually`] (and
//! [`eventually_async`]) poll for something to happen with a deadline, and
//! [`Prometheus::restart`] brings a stopped server back on the same port, for outage
//! tests. It is a dev-dependency only and uses std alone, except for the `engine` feature:
//! `engine::RunningEngine`, the rule engine's runner started with collecting outputs and
//! notifier (for the engine's own tests and the binary's).
//!
//! ```no_run
//! use tocsin_testkit::{http_get, Prometheus, PrometheusOptions};
//! let prom = Prometheus::start(PrometheusOptions::default());
//! let (status, body) = http_get(&format!("{}/api/v1/query?query=vector(1)", prom.url()));
//! assert_eq!(status, 200, "{body}");
//! ```

mod alertmanager;
#[cfg(feature = "engine")]
pub mod engine;
mod http;
mod process;
mod prometheus;
mod recorder;
mod tempdir;
mod wait;

pub use alertmanager::{Alertmanager, NULL_RECEIVER_CONFIG};
pub use http::{http_get, http_post, http_request, HttpResponse, HTTP_TIMEOUT};
pub use process::{free_port, tail, INSTALL_HINT};
pub use prometheus::{Prometheus, PrometheusOptions};
pub use recorder::{CannedResponse, RecordedRequest, Recorder};
pub use tempdir::TempDir;
pub use wait::{eventually, eventually_async, eventually_with, wait_until, POLL_INTERVAL};

/// The `*.yaml` and `*.yml` files directly in `dir`, sorted: how tests walk rule-file
/// directories (testdata, the shared corpus). Panics if `dir` cannot be read.
pub fn rule_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    #[test]
    #[should_panic(expected = "apt-get install -y --no-install-recommends prometheus")]
    fn a_missing_binary_panics_naming_the_debian_packages() {
        crate::process::find_binary("tocsin-no-such-binary", "TOCSIN_TEST_UNSET_VARIABLE");
    }
}

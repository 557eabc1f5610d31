//! A real Prometheus server for tests.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::{find_binary, Server};
use crate::tempdir::TempDir;

/// How to configure and start Prometheus. `Default` gives a 1 s evaluation interval, no
/// rule files, no scraping and no remote-write receiver.
#[derive(Debug, Clone)]
pub struct PrometheusOptions {
    /// Rule files for `rule_files:`. Relative paths are resolved against the test's
    /// current directory and written absolute, so `/api/v1/rules` reports them absolute.
    pub rule_files: Vec<PathBuf>,
    /// `global.evaluation_interval` (also `scrape_interval` when `scrape_self`).
    pub evaluation_interval: Duration,
    /// Add a `prometheus` job scraping this server itself. The first scrape comes 5–6 s
    /// after start, so prefer `vector(...)` or remote-written data in tests.
    pub scrape_self: bool,
    /// Start with `--web.enable-remote-write-receiver` (`POST /api/v1/write`).
    pub remote_write_receiver: bool,
    /// Alertmanager base URL (e.g. [`crate::Alertmanager::url`]) for an `alerting:` section.
    pub alertmanager_url: Option<String>,
    /// YAML appended verbatim to the generated config (top-level keys not generated
    /// above; `scrape_configs` only when `scrape_self` is false).
    pub extra_config_yaml: String,
    /// Extra command-line flags, e.g. `--query.timeout=1s`.
    pub extra_args: Vec<String>,
}

impl Default for PrometheusOptions {
    fn default() -> Self {
        PrometheusOptions {
            rule_files: Vec::new(),
            evaluation_interval: Duration::from_secs(1),
            scrape_self: false,
            remote_write_receiver: false,
            alertmanager_url: None,
            extra_config_yaml: String::new(),
            extra_args: Vec::new(),
        }
    }
}

/// A running Prometheus on `127.0.0.1:<free port>` with its TSDB, config and log in a temp
/// dir. Dropping it kills the process, waits for it and removes the dir.
#[derive(Debug)]
pub struct Prometheus {
    server: Server,
    config_path: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus and waits until `/-/ready` answers. Panics (with the log tail)
    /// when the binary is missing or the server does not come up.
    pub fn start(options: PrometheusOptions) -> Prometheus {
        let binary = find_binary("prometheus", "TOCSIN_PROMETHEUS_BIN");
        let dir = TempDir::new("prometheus")
            .unwrap_or_else(|e| panic!("cannot create a temp dir for Prometheus: {e}"));
        let config_path = dir.path().join("prometheus.yml");
        let data_path = dir.path().join("data");
        let cwd = std::env::current_dir().unwrap_or_default();
        let rule_files: Vec<PathBuf> = options.rule_files.iter().map(|p| cwd.join(p)).collect();

        let prepare = |port: u16| {
            let yaml = render_config(&options, &rule_files, port);
            if let Err(e) = std::fs::write(&config_path, yaml) {
                panic!("cannot write {}: {e}", config_path.display());
            }
        };
        let args = |port: u16| {
            let mut a = vec![
                format!("--config.file={}", config_path.display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
                format!("--storage.tsdb.path={}", data_path.display()),
                "--web.enable-lifecycle".to_string(),
            ];
            if options.remote_write_receiver {
                a.push("--web.enable-remote-write-receiver".to_string());
            }
            a.extend(options.extra_args.iter().cloned());
            a
        };
        let server = Server::start("prometheus", &binary, dir, prepare, args);
        Prometheus {
            server,
            config_path,
        }
    }

    /// Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The generated config file; rewrite it and call [`Prometheus::reload`] to change it.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The temp dir holding config, TSDB (`data/`) and log.
    pub fn dir(&self) -> &Path {
        self.server.dir.path()
    }

    /// The captured stdout+stderr.
    pub fn log_path(&self) -> &Path {
        &self.server.log_path
    }

    /// `POST /-/reload`; panics unless Prometheus answers 200 (a bad config answers 500).
    pub fn reload(&self) {
        self.server.reload();
    }

    /// The process id, or `None` after [`Prometheus::stop`].
    pub fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    /// Kills the process and waits for it. The temp dir stays until drop, and `url()`
    /// keeps naming the (now closed) port, which is what connection-failure tests need.
    pub fn stop(&mut self) {
        self.server.stop();
    }

    /// Starts it again on the same port with the same config and TSDB (stopping it first
    /// if it runs) and waits for `/-/ready`: a datasource or receiver that goes away and
    /// comes back at the same address, as in an outage. Samples written before the stop
    /// are still there (the TSDB's write-ahead log is replayed).
    pub fn restart(&mut self) {
        self.server.restart();
    }
}

/// `1s`, `250ms`: Prometheus duration syntax, at least 1 ms.
pub(crate) fn prom_duration(d: Duration) -> String {
    let ms = d.as_millis().max(1);
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// A YAML double-quoted scalar (the JSON escapes are valid YAML).
pub(crate) fn yaml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render_config(options: &PrometheusOptions, rule_files: &[PathBuf], port: u16) -> String {
    let interval = prom_duration(options.evaluation_interval);
    let mut y = String::new();
    let _ = writeln!(y, "global:\n  evaluation_interval: {interval}");
    if options.scrape_self {
        let _ = writeln!(y, "  scrape_interval: {interval}");
    }
    if !rule_files.is_empty() {
        y.push_str("rule_files:\n");
        for f in rule_files {
            let _ = writeln!(y, "  - {}", yaml_str(&f.to_string_lossy()));
        }
    }
    if let Some(am) = &options.alertmanager_url {
        let (scheme, rest) = am.split_once("://").unwrap_or(("http", am.as_str()));
        let (host, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let _ = writeln!(
            y,
            "alerting:\n  alertmanagers:\n    - scheme: {scheme}\n      path_prefix: {}\n      static_configs:\n        - targets: [{}]",
            yaml_str(prefix),
            yaml_str(host)
        );
    }
    if options.scrape_self {
        let _ = writeln!(
            y,
            "scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: [\"127.0.0.1:{port}\"]"
        );
    }
    y.push_str(&options.extra_config_yaml);
    y.push('\n');
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_prometheus_syntax() {
        assert_eq!(prom_duration(Duration::from_secs(60)), "60s");
        assert_eq!(prom_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(prom_duration(Duration::ZERO), "1ms");
    }

    #[test]
    fn config_has_rule_files_alerting_and_self_scrape() {
        let opts = PrometheusOptions {
            scrape_self: true,
            alertmanager_url: Some("http://127.0.0.1:9999".into()),
            ..Default::default()
        };
        let y = render_config(&opts, &[PathBuf::from("/r/a \"b\".yml")], 4242);
        assert!(y.contains("evaluation_interval: 1s"), "{y}");
        assert!(y.contains(r#"- "/r/a \"b\".yml""#), "{y}");
        assert!(y.contains(r#"targets: ["127.0.0.1:9999"]"#), "{y}");
        assert!(y.contains(r#"targets: ["127.0.0.1:4242"]"#), "{y}");
    }
}

//! Processes the end-to-end notification tests drive: `tocsin run` and `tocsin sink
//! dingtalk`, each killed on drop, plus the sink's store file read back as messages; and
//! the normalisation under which `tocsin check`'s and promtool's messages are compared;
//! and the remote write that feeds a real Prometheus its samples.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tocsin_query::remote_write::WriteSample;
use tocsin_query::{
    Alert, HttpClientConfig, PrometheusClient, RemoteWriteClient, RemoteWriteConfig, Rule,
};
use tocsin_testkit::{free_port, http_get, http_request};

/// `tocsin ARGS…` run to completion, as a user runs it.
pub fn tocsin(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(args)
        .output()
        .expect("run tocsin")
}

/// Output bytes as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one poll-with-deadline helper, from the testkit (the tests here import it from
/// this module).
pub use tocsin_testkit::wait_until;

/// A `tocsin run` process; killed on drop. Its stderr (the log) goes to a file.
pub struct Daemon {
    child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `tocsin run ARGS --listen=…` and waits for `/-/ready`.
    pub fn start(args: &[String], log: PathBuf) -> Daemon {
        Daemon::start_with_env(args, log, &[])
    }

    pub fn start_with_env(args: &[String], log: PathBuf, env: &[(&str, &str)]) -> Daemon {
        Daemon::start_under(&[], "run", args, log, env)
    }

    /// `tocsin COMMAND ARGS --listen=…` for a serving command (`run`, `gateway`).
    pub fn start_command(
        command: &str,
        args: &[String],
        log: PathBuf,
        env: &[(&str, &str)],
    ) -> Daemon {
        Daemon::start_under(&[], command, args, log, env)
    }

    /// Starts `tocsin COMMAND` through `wrapper` (say `prlimit --as=N --`), which must exec
    /// it so that the process is tocsin's own.
    pub fn start_under(
        wrapper: &[&str],
        subcommand: &str,
        args: &[String],
        log: PathBuf,
        env: &[(&str, &str)],
    ) -> Daemon {
        let port = free_port();
        let file = std::fs::File::create(&log).expect("log file");
        let tocsin = env!("CARGO_BIN_EXE_tocsin");
        let mut command = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(tocsin);
                c
            }
            None => Command::new(tocsin),
        };
        let child = command
            .arg(subcommand)
            .args(args)
            .arg(format!("--listen=127.0.0.1:{port}"))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start tocsin run");
        let daemon = Daemon {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        wait_until(
            "tocsin to be ready",
            Duration::from_secs(30),
            || {
                http_request("GET", &format!("{}/-/ready", daemon.url), &[], b"")
                    .is_ok_and(|r| r.status == 200)
            },
            || daemon.log_text(),
        );
        daemon
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A `kB` line of `/proc/<pid>/status` (`VmHWM`: peak resident memory).
    pub fn proc_status_kb(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// A client for the daemon's Prometheus-shaped API (tocsin-query's typed one).
    pub fn api(&self) -> PrometheusClient {
        PrometheusClient::new(HttpClientConfig::new(self.url.clone())).expect("API client")
    }

    /// The firing/pending alerts `/api/v1/alerts` lists.
    pub fn alerts(&self) -> Vec<Alert> {
        block_on(self.api().alerts()).unwrap_or_else(|e| panic!("/api/v1/alerts: {e}"))
    }

    /// The alert `/api/v1/alerts` lists under `alertname`.
    pub fn alert(&self, name: &str) -> Option<Alert> {
        self.alerts()
            .into_iter()
            .find(|a| a.labels.get("alertname") == Some(name))
    }

    /// Every rule `/api/v1/rules` lists, groups flattened.
    pub fn rules(&self) -> Vec<Rule> {
        block_on(self.api().rules(None))
            .unwrap_or_else(|e| panic!("/api/v1/rules: {e}"))
            .into_iter()
            .flat_map(|g| g.rules)
            .collect()
    }

    /// The value of an unlabelled sample of `/metrics`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let (_, body) = http_get(&format!("{}/metrics", self.url));
        body.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// Polls `done` until it holds or `limit` passes (then panics with the log).
    pub fn wait_for(&self, what: &str, limit: Duration, done: impl FnMut() -> bool) {
        wait_until(what, limit, done, || self.log_text());
    }

    /// Sends a signal (`-HUP`, `-TERM`) with kill(1).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// The exit status once the process has ended.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("wait for tocsin run")
    }

    pub fn kill_9(&mut self) {
        let _ = self.child.kill(); // SIGKILL: no shutdown path runs
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// `tocsin sink dingtalk` on a given port (0: one the kernel picks, read back from the
/// sink's first line, so no other process can take it in between), storing accepted
/// messages in a JSON-lines file.
pub struct Sink {
    child: Child,
    pub port: u16,
    pub store: PathBuf,
}

impl Sink {
    pub fn start(port: u16, store: PathBuf, args: &[&str]) -> Sink {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(["sink", "dingtalk", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--store")
            .arg(&store)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tocsin sink dingtalk");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, rx) = mpsc::channel();
        // Keeps draining stdout so the sink never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the sink printed its address");
        assert!(first.contains("listening on"), "{first}");
        let port = if port == 0 {
            first
                .rsplit_once("127.0.0.1:")
                .and_then(|(_, rest)| rest.split('/').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("no port in the sink's first line: {first}"))
        } else {
            port
        };
        Sink { child, port, store }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/robot/send", self.port)
    }

    /// Accepted messages, oldest first, from the store file.
    pub fn messages(&self) -> Vec<Stored> {
        read_store(&self.store)
    }

    pub fn metrics(&self) -> String {
        let (status, body) = http_get(&format!("http://127.0.0.1:{}/metrics", self.port));
        assert_eq!(status, 200, "{body}");
        body
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message the sink accepted.
#[derive(Clone, Debug)]
pub struct Stored {
    /// When the sink received it, Unix milliseconds.
    pub at_ms: i64,
    pub msgtype: String,
    pub title: String,
    /// The request body DingTalk would have received.
    pub body: Value,
}

impl Stored {
    /// The markdown or text content.
    pub fn text(&self) -> &str {
        self.body["markdown"]["text"]
            .as_str()
            .or_else(|| self.body["text"]["content"].as_str())
            .unwrap_or("")
    }
}

pub fn read_store(path: &Path) -> Vec<Stored> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        // A line still being written has no newline yet and fails to parse: skip it.
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| Stored {
            at_ms: rfc3339_millis(v["time"].as_str().unwrap_or("")),
            msgtype: v["msgtype"].as_str().unwrap_or("").to_owned(),
            title: v["title"].as_str().unwrap_or("").to_owned(),
            body: v["body"].clone(),
        })
        .collect()
}

/// `2026-11-25T08:00:00.123Z` → Unix milliseconds.
pub fn rfc3339_millis(s: &str) -> i64 {
    tocsin_core::Timestamp::parse_rfc3339(s)
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {s:?}"))
        .unix_millis()
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A counter or gauge's value in a Prometheus text exposition (0 when absent).
pub fn metric_value(exposition: &str, series: &str) -> f64 {
    exposition
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The findings of a checker's stderr in a form both checkers can be compared in, one
/// string per finding, sorted. What is normalised away, and why:
///
/// - `  FAILED:`, promtool's `yaml: unmarshal errors:` header (it lists unmarshal errors
///   under it as `  line N: msg`; tocsin prints each as a finding of its own), and tocsin's
///   warnings (promtool runs no lint on a file that fails).
/// - The file name and every position: tocsin always prints `FILE:LINE:COL:` at the node the
///   error is about, promtool `FILE: L:C:` for some errors (often `0:0`, sometimes twice),
///   `line N:` for YAML errors (often the start of the enclosing block) and nothing for
///   others.
/// - tocsin's ` (template line L, column C)` after a template error: a position promtool
///   does not give.
/// - promtool decodes each file twice (into its structs, then into YAML nodes) and prints
///   errors of both passes: the second pass's repeats (identical lines, or type errors into
///   its internal `[]yaml.Node` / `rulefmt.ruleGroups`) are dropped.
/// - Order: promtool reports label and annotation errors in Go's random map order.
/// - Bytes that are not UTF-8 (promtool echoes an invalid label value raw; tocsin prints
///   U+FFFD): both are read lossily.
pub fn normalise(stderr: &[u8], file: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(stderr);
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && l.trim() != "FAILED:")
        .filter_map(|line| {
            let rest = line.strip_prefix(file).unwrap_or(line);
            let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
            let rest = strip_position(rest);
            if rest == "yaml: unmarshal errors:" || rest.starts_with("warning: ") {
                return None;
            }
            if rest.contains("into []yaml.Node") || rest.contains("into rulefmt.ruleGroups") {
                return None;
            }
            let rest = match rest.strip_prefix("yaml: line ") {
                Some(r) => match r.split_once(": ") {
                    Some((n, msg)) if n.bytes().all(|b| b.is_ascii_digit()) => {
                        format!("yaml: {msg}")
                    }
                    _ => rest.to_string(),
                },
                None => rest.to_string(),
            };
            let rest = match rest.strip_prefix("line ") {
                Some(r) => match r.split_once(": ") {
                    Some((n, msg)) if n.bytes().all(|b| b.is_ascii_digit()) => msg.to_string(),
                    _ => rest,
                },
                None => rest,
            };
            Some(strip_template_position(&rest).to_string())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `msg` from `L:C: msg` (promtool sometimes prints two positions: `5:17: 6:16: msg`);
/// anything else unchanged.
pub fn strip_position(text: &str) -> &str {
    let stripped = strip_one_position(text);
    if stripped.len() == text.len() {
        text
    } else {
        strip_position(stripped)
    }
}

fn strip_one_position(text: &str) -> &str {
    let mut parts = text.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(c), Some(body))
            if !l.is_empty()
                && !c.is_empty()
                && l.bytes().all(|b| b.is_ascii_digit())
                && c.bytes().all(|b| b.is_ascii_digit()) =>
        {
            body.trim_start()
        }
        _ => text,
    }
}

/// A template error without tocsin's trailing ` (template line L, column C)`.
fn strip_template_position(text: &str) -> &str {
    match text.rfind(" (template line ") {
        Some(i) if text.ends_with(')') => &text[..i],
        _ => text,
    }
}

/// Writes `samples` to the remote-write receiver of the Prometheus at `base_url` with
/// tocsin-query's client (the one `tocsin run` writes with), 500 a request and in order (a
/// series' samples must arrive in time order); panics unless every request is accepted.
/// Not for use inside an async runtime (it runs one of its own).
pub fn remote_write(base_url: &str, samples: &[WriteSample]) {
    let config = RemoteWriteConfig::new(format!("{base_url}/api/v1/write"));
    let client = RemoteWriteClient::new(config).expect("remote write client");
    block_on(client.write(samples)).unwrap_or_else(|e| panic!("remote write: {e}"));
}

/// Runs `f` to completion on a runtime of its own: the typed clients from blocking tests.
/// Not for use inside an async runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(f)
}

/// `application/x-www-form-urlencoded` value encoding (unreserved bytes kept, the rest
/// `%XX`), for queries sent to Prometheus's HTTP API.
pub fn form_encode(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

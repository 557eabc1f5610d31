//! Processes the end-to-end notification tests drive: `tocsin run` and `tocsin sink
//! dingtalk`, each killed on drop, plus the sink's store file read back as messages.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tocsin_testkit::{free_port, http_get, http_request};

/// Polls `done` every 100 ms until it holds or `limit` passes; then panics with `context()`.
pub fn wait_until(
    what: &str,
    limit: Duration,
    mut done: impl FnMut() -> bool,
    context: impl Fn() -> String,
) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}:\n{}", context());
}

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
        Daemon::start_command("run", args, log, env)
    }

    /// `tocsin COMMAND ARGS --listen=…` for a serving command (`run`, `gateway`).
    pub fn start_command(
        command: &str,
        args: &[String],
        log: PathBuf,
        env: &[(&str, &str)],
    ) -> Daemon {
        let port = free_port();
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .arg(command)
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

    /// The firing/pending alerts `/api/v1/alerts` lists.
    pub fn alerts(&self) -> Vec<Value> {
        let (status, body) = http_get(&format!("{}/api/v1/alerts", self.url));
        assert_eq!(status, 200, "{body}");
        let doc: Value = serde_json::from_str(&body).expect("alerts JSON");
        doc["data"]["alerts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The alert `/api/v1/alerts` lists under `alertname`.
    pub fn alert(&self, name: &str) -> Option<Value> {
        self.alerts()
            .into_iter()
            .find(|a| a["labels"]["alertname"] == name)
    }

    /// Every rule `/api/v1/rules` lists, groups flattened.
    pub fn rules(&self) -> Vec<Value> {
        let (status, body) = http_get(&format!("{}/api/v1/rules", self.url));
        assert_eq!(status, 200, "{body}");
        let doc: Value = serde_json::from_str(&body).expect("rules JSON");
        doc["data"]["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
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

/// `tocsin sink dingtalk` on a given port, storing accepted messages in a JSON-lines file.
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
    let n = |r: std::ops::Range<usize>| -> i64 {
        s.get(r)
            .and_then(|x| x.parse().ok())
            .expect("RFC 3339 time")
    };
    let (y, mo, d) = (n(0..4), n(5..7), n(8..10));
    let (h, mi, sec) = (n(11..13), n(14..16), n(17..19));
    let ms = if s.as_bytes().get(19) == Some(&b'.') {
        n(20..23)
    } else {
        0
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + h * 3600 + mi * 60 + sec) * 1000) + ms
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

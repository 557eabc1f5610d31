//! Issue 10, defect 1: a template `query` that the datasource answers slowly must not
//! stop the daemon. The engine used to render such templates while holding the group's
//! lock and waiting for the query on the blocking pool; `/api/v1/alerts`, `/api/v1/rules`
//! and `/metrics` take that lock on the async worker threads, so with as many concurrent
//! API requests as workers every worker blocked, the I/O driver stopped, the query never
//! completed, and the daemon was dead for good (no evaluation, no HTTP, SIGTERM ignored).
//!
//! Set-up: a real Prometheus behind a small loopback proxy (in this file) that holds every
//! query mentioning the template's marker series for 5 s before forwarding it; `tocsin
//! run` on two async workers (tokio's `TOKIO_WORKER_THREADS`, so the test does not depend
//! on the machine's core count), and six threads polling `/api/v1/alerts` and `/metrics`
//! without pause. Then: evaluations keep being counted, the alert carries the rendered
//! query answer, `/-/healthy` answers, and SIGTERM stops the daemon. Each wait has a
//! deadline, so the old code fails with a message instead of hanging.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use common::{wait_until, Daemon};
use tocsin_testkit::{eventually_with, http_request, Prometheus, PrometheusOptions, TempDir};

/// The series name the slow template query mentions; the proxy delays any request whose
/// body or target contains it.
const MARKER: &str = "tocsin_slow_probe";
const DELAY: Duration = Duration::from_secs(5);

/// A loopback HTTP proxy in front of `upstream`: one request per connection, answered
/// with `Connection: close`; requests mentioning [`MARKER`] wait [`DELAY`] first.
struct DelayingProxy {
    port: u16,
    delayed: Arc<AtomicU64>,
}

impl DelayingProxy {
    fn start(upstream: String) -> DelayingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let delayed = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&delayed);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (upstream, counter) = (upstream.clone(), Arc::clone(&counter));
                std::thread::spawn(move || {
                    let _ = forward(stream, &upstream, &counter);
                });
            }
        });
        DelayingProxy { port, delayed }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn forward(mut client: TcpStream, upstream: &str, delayed: &AtomicU64) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut parts = request_line.split(' ');
    let (method, target) = (
        parts.next().unwrap_or("GET").to_string(),
        parts.next().unwrap_or("/").to_string(),
    );
    let mut headers = Vec::new();
    let mut length = 0usize;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_string(), value.trim().to_string());
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("content-type")
                || name.eq_ignore_ascii_case("accept")
            {
                headers.push((name, value));
            }
        }
    }
    let mut body = raw[head_end + 4..].to_vec();
    while body.len() < length {
        let n = client.read(&mut buf)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    if target.contains(MARKER) || String::from_utf8_lossy(&body).contains(MARKER) {
        std::thread::sleep(DELAY);
        delayed.fetch_add(1, Ordering::Relaxed);
    }
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let answer = http_request(&method, &format!("{upstream}{target}"), &header_refs, &body)?;
    let mut reply = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    if let Some(ct) = answer.header("content-type") {
        reply.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    reply.push_str("\r\n");
    client.write_all(reply.as_bytes())?;
    client.write_all(&answer.body)?;
    client.flush()
}

/// Threads requesting `paths` of `url` back to back until `stop` is set.
fn pollers(url: &str, paths: &[&str], n: usize, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|k| {
            let target = format!("{url}{}", paths[k % paths.len()]);
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = http_request("GET", &target, &[], b"");
                }
            })
        })
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write the rule file");
}

#[test]
fn a_slow_template_query_under_api_polling_neither_stops_evaluation_nor_http_nor_sigterm() {
    let prom = Prometheus::start(PrometheusOptions::default());
    let proxy = DelayingProxy::start(prom.url());
    let dir = TempDir::new("tocsin-slow-template").expect("temp dir");
    let rules = dir.path().join("rules.yaml");
    write(
        &rules,
        &format!(
            r#"groups:
  - name: slow
    interval: 1s
    rules:
      - alert: SlowTemplate
        expr: vector(1)
        annotations:
          answer: '{{{{ with query "absent({MARKER})" }}}}{{{{ . | first | value }}}}{{{{ end }}}}'
      - record: fast:heartbeat
        expr: vector(2)
"#
        ),
    );
    let mut daemon = Daemon::start_with_env(
        &[
            format!("--datasource={}", proxy.url()),
            format!("--rules={}", rules.display()),
        ],
        dir.path().join("tocsin.log"),
        // As many concurrent API requests as workers, whatever the machine's core count.
        &[("TOKIO_WORKER_THREADS", "2")],
    );

    let stop = Arc::new(AtomicBool::new(false));
    let polling = pollers(&daemon.url, &["/api/v1/alerts", "/metrics"], 6, &stop);

    // Evaluations go on while the template query is slow and the API is hammered. The
    // metric is read with the test kit's 30 s request timeout; a dead daemon never answers.
    let evaluations = |d: &Daemon| -> Option<f64> {
        let r = http_request("GET", &format!("{}/metrics", d.url), &[], b"").ok()?;
        r.text()
            .lines()
            .filter(|l| l.starts_with("tocsin_rule_evaluations_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .reduce(f64::max)
    };
    wait_until(
        "three slow template queries to be answered",
        Duration::from_secs(90),
        || proxy.delayed.load(Ordering::Relaxed) >= 3,
        || daemon.log_text(),
    );
    let before = evaluations(&daemon);
    wait_until(
        "evaluations to continue (the daemon answers /metrics and counts more)",
        Duration::from_secs(90),
        || {
            let now = evaluations(&daemon);
            matches!((before, now), (Some(b), Some(n)) if n >= b + 4.0)
        },
        || format!("before: {before:?}\n{}", daemon.log_text()),
    );
    let alert = daemon.alert("SlowTemplate").expect("the alert is listed");
    assert_eq!(
        alert.annotations.get("answer"),
        Some("1"),
        "the template rendered the query's answer: {alert:?}"
    );
    stop.store(true, Ordering::Relaxed);
    for t in polling {
        t.join().expect("poller");
    }

    let healthy = http_request("GET", &format!("{}/-/healthy", daemon.url), &[], b"")
        .expect("/-/healthy answers");
    assert_eq!(healthy.status, 200);

    daemon.signal("-TERM");
    let log = daemon.log.clone();
    eventually_with(
        "SIGTERM to stop the daemon",
        Duration::from_secs(60),
        || daemon.try_wait(),
        || std::fs::read_to_string(&log).unwrap_or_default(),
    );
}

//! Hostile input against `tocsin run` as a process (issue 10): servers that never stop
//! answering, clients that never finish asking or never leave. What must hold: memory
//! stays bounded, the query or send fails with an error naming the limit, and the process
//! keeps answering `/-/healthy`. The probes and their outcomes are listed in
//! docs/hostile-input.md.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::Daemon;
use tocsin_query::RuleHealth;
use tocsin_testkit::{http_get, http_post, TempDir};

/// A server on loopback that answers every request with a 200 head and then a chunked
/// body that never ends (64 KiB chunks, as fast as the client reads), until the client
/// hangs up. Stands in for a misbehaving Prometheus or DingTalk robot (or a proxy before
/// one): no real one can be made to do this.
fn endless_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let start = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                             Transfer-Encoding: chunked\r\n\r\n";
                if s.write_all(start.as_bytes()).is_err() {
                    return;
                }
                let mut chunk = format!("{:x}\r\n", 64 << 10).into_bytes();
                chunk.extend(std::iter::repeat_n(b' ', 64 << 10));
                chunk.extend_from_slice(b"\r\n");
                while s.write_all(&chunk).is_ok() {}
            });
        }
    });
    format!("http://{addr}")
}

fn connect(url: &str) -> TcpStream {
    TcpStream::connect(url.trim_start_matches("http://")).expect("connect")
}

/// Whether the server closed `s`: a read returns end of file (or a reset) within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).expect("timeout");
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// The status line of the answer on `s`, if one arrives within `limit`.
fn status_line(s: &mut TcpStream, limit: Duration) -> Option<String> {
    s.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.split("\r\n")
        .next()
        .filter(|l| l.starts_with("HTTP/"))
        .map(str::to_owned)
}

fn rules_file(dir: &TempDir) -> String {
    let path = dir.path().join("rules.yaml");
    std::fs::write(
        &path,
        "groups:\n  - name: hostile\n    interval: 1s\n    rules:\n      \
         - alert: Always\n        expr: vector(1)\n",
    )
    .expect("rules");
    path.display().to_string()
}

#[test]
fn idle_and_half_sent_connections_are_closed_after_the_read_timeout() {
    let dir = TempDir::new("hostile-idle").expect("temp dir");
    let rules = rules_file(&dir);
    let daemon = Daemon::start(
        &[
            "--datasource=http://127.0.0.1:9".into(),
            format!("--rules={rules}"),
            "--web.read-timeout=2s".into(),
        ],
        dir.path().join("tocsin.log"),
    );
    // Never says anything.
    let mut silent = connect(&daemon.url);
    // Starts a request and never finishes its headers (slowloris).
    let mut half = connect(&daemon.url);
    half.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .expect("write");
    // Asks once, keeps the connection open and goes quiet.
    let mut kept = connect(&daemon.url);
    kept.write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let first = status_line(&mut kept, Duration::from_secs(30));
    assert_eq!(first.as_deref(), Some("HTTP/1.1 200 OK"));

    for (what, s) in [
        ("the silent connection", &mut silent),
        ("the half-sent request", &mut half),
        ("the idle keep-alive connection", &mut kept),
    ] {
        assert!(
            closed_within(s, Duration::from_secs(60)),
            "{what} is still open:\n{}",
            daemon.log_text()
        );
    }
    let (status, _) = http_get(&format!("{}/-/healthy", daemon.url));
    assert_eq!(status, 200);
}

#[test]
fn connections_over_the_cap_wait_until_one_closes() {
    let dir = TempDir::new("hostile-cap").expect("temp dir");
    let rules = rules_file(&dir);
    let daemon = Daemon::start(
        &[
            "--datasource=http://127.0.0.1:9".into(),
            format!("--rules={rules}"),
            "--web.max-connections=4".into(),
        ],
        dir.path().join("tocsin.log"),
    );
    let mut idle: Vec<TcpStream> = (0..4).map(|_| connect(&daemon.url)).collect();
    let mut fifth = connect(&daemon.url);
    fifth
        .write_all(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    // While four connections are open, the fifth is not served (a slow machine could
    // only make this pass, never fail).
    assert_eq!(status_line(&mut fifth, Duration::from_secs(1)), None);
    drop(idle.pop());
    assert_eq!(
        status_line(&mut fifth, Duration::from_secs(30)).as_deref(),
        Some("HTTP/1.1 200 OK"),
        "{}",
        daemon.log_text()
    );
}

#[test]
fn accept_failures_are_logged_in_the_configured_format_and_served_again_after() {
    let dir = TempDir::new("hostile-accept").expect("temp dir");
    let rules = rules_file(&dir);
    // Few file descriptors: accepting the connections below runs out of them.
    let daemon = Daemon::start_under(
        &["prlimit", "--nofile=48:48", "--"],
        "run",
        &[
            "--datasource=http://127.0.0.1:9".into(),
            format!("--rules={rules}"),
            "--web.max-connections=1000".into(),
            "--log.format=json".into(),
        ],
        dir.path().join("tocsin.log"),
        &[],
    );
    let held: Vec<TcpStream> = (0..80).map(|_| connect(&daemon.url)).collect();
    daemon.wait_for(
        "an accept failure in the log",
        Duration::from_secs(60),
        || {
            daemon
                .log_text()
                .lines()
                .any(|l| l.contains(r#""msg":"accept failed""#))
        },
    );
    let line = daemon
        .log_text()
        .lines()
        .find(|l| l.contains("accept failed"))
        .map(str::to_owned)
        .unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(parsed["level"], "error", "{line}");
    assert!(
        parsed["err"].as_str().unwrap_or("").contains("open files"),
        "{line}"
    );
    drop(held);
    daemon.wait_for("/-/healthy again", Duration::from_secs(60), || {
        tocsin_testkit::http_request("GET", &format!("{}/-/healthy", daemon.url), &[], b"")
            .is_ok_and(|r| r.status == 200)
    });
}

/// Every probe against one `tocsin run` whose address space is limited to 4 GiB (its idle
/// size is about 1.2 GiB of mostly reserved address space): a datasource and a robot that
/// stream endless answers, 64 simultaneous webhook posts far over the limit (announced and
/// streamed), and 600 idle connections against a cap of 512. Before the fixes the
/// datasource alone took 1.5 GB in 5 s and the process died at the limit.
#[test]
fn hostile_probes_leave_tocsin_alive_healthy_and_within_bounded_memory() {
    let dir = TempDir::new("hostile-all").expect("temp dir");
    let rules = rules_file(&dir);
    let datasource = endless_server();
    let robot = endless_server();
    std::fs::write(dir.path().join("token"), "hostile-token\n").expect("token");
    let config = dir.path().join("tocsin.yaml");
    std::fs::write(
        &config,
        format!(
            "datasource: {{url: '{datasource}'}}\n\
             rule_files: ['{rules}']\n\
             state: {{dir: '{state}'}}\n\
             notify:\n  route: {{receiver: robot, group_wait: 1s}}\n  receivers:\n    \
             - name: robot\n      dingtalk:\n        url: {robot}/robot/send\n        \
             access_token_file: '{token}'\n",
            state = dir.path().join("state").display(),
            token = dir.path().join("token").display(),
        ),
    )
    .expect("config");
    let mut daemon = Daemon::start_under(
        &["prlimit", "--as=4294967296", "--"],
        "run",
        &[format!("--config={}", config.display())],
        dir.path().join("tocsin.log"),
        &[],
    );

    // The datasource: the rule's query fails, naming the limit.
    daemon.wait_for(
        "the rule to report the answer limit",
        Duration::from_secs(120),
        || {
            daemon.rules().iter().any(|r| {
                r.health() == RuleHealth::Err
                    && r.last_error().is_some_and(|e| {
                        e.contains("larger than max_response_size (67108864 bytes)")
                    })
            })
        },
    );

    // The robot: a gateway post goes to it, and its endless answer is cut.
    let payload =
        br#"{"version":"4","groupKey":"{}:{alertname=\"X\"}","groupLabels":{"alertname":"X"},
        "alerts":[{"status":"firing","labels":{"alertname":"X"},"annotations":{},
        "startsAt":"2026-11-25T08:00:00Z","endsAt":"0001-01-01T00:00:00Z"}]}"#;
    let (status, text) = http_post(
        &format!("{}/dingtalk/robot/send", daemon.url),
        "application/json",
        payload,
    );
    assert_eq!(status, 200, "{text}");
    daemon.wait_for(
        "the robot's answer to be cut",
        Duration::from_secs(120),
        || daemon.log_text().contains("larger than 65536 bytes"),
    );

    // 64 webhook posts over the 16 MiB limit at once: announced by Content-Length (refused
    // before the body is read), and streamed without a length (refused once 16 MiB have
    // arrived; at most 8 bodies are read at a time, so 48 of them cannot add up to 768 MiB).
    let mut refused = Vec::new();
    let mut posts = Vec::new();
    for i in 0..64 {
        let mut s = connect(&daemon.url);
        if i % 4 == 0 {
            s.write_all(
                b"POST /dingtalk/robot/send HTTP/1.1\r\nHost: x\r\n\
                  Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n",
            )
            .expect("write");
        } else {
            s.write_all(
                b"POST /dingtalk/robot/send HTTP/1.1\r\nHost: x\r\n\
                  Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            )
            .expect("write");
            let mut writer = s.try_clone().expect("clone");
            posts.push(std::thread::spawn(move || {
                let mut chunk = format!("{:x}\r\n", 64 << 10).into_bytes();
                chunk.extend(std::iter::repeat_n(b'[', 64 << 10));
                chunk.extend_from_slice(b"\r\n");
                while writer.write_all(&chunk).is_ok() {}
            }));
        }
        refused.push(s);
    }
    for s in &mut refused {
        assert_eq!(
            status_line(s, Duration::from_secs(120)).as_deref(),
            Some("HTTP/1.1 413 Payload Too Large"),
            "{}",
            daemon.log_text()
        );
    }
    drop(refused);
    for p in posts {
        p.join().expect("writer");
    }

    // More idle connections than the cap, held for a while, then gone.
    let idle: Vec<TcpStream> = (0..600).map(|_| connect(&daemon.url)).collect();
    std::thread::sleep(Duration::from_secs(2));
    drop(idle);

    daemon.wait_for(
        "/-/healthy after the probes",
        Duration::from_secs(60),
        || {
            tocsin_testkit::http_request("GET", &format!("{}/-/healthy", daemon.url), &[], b"")
                .is_ok_and(|r| r.status == 200)
        },
    );
    assert!(daemon.try_wait().is_none(), "{}", daemon.log_text());
    // Peak resident memory: the answer limits (64 MiB per query, 64 KiB per robot
    // answer, 16 MiB per webhook body, 8 bodies at a time) and the connection cap, with
    // room.
    let peak_kb = daemon.proc_status_kb("VmHWM").expect("VmHWM");
    eprintln!("tocsin run's peak RSS under the probes: {peak_kb} kB");
    assert!(
        peak_kb < 768 * 1024,
        "peak RSS {peak_kb} kB\n{}",
        daemon.log_text()
    );
    // Evaluation goes on: the rule is still evaluated (and still fails the same way).
    let evaluations = |d: &Daemon| d.metric("tocsin_rule_evaluations_total");
    let before = evaluations(&daemon);
    daemon.wait_for("another evaluation", Duration::from_secs(60), || {
        evaluations(&daemon) > before
    });
    assert!(
        !daemon.log_text().contains("hostile-token"),
        "the token leaked into the log"
    );
}

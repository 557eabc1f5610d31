//! `tocsin sink dingtalk` as a real process on a loopback port, driven by tocsin-notify's
//! real `DingTalkClient`: signing, keywords, mentions, the rate limit, splitting, DingTalk's
//! error answers, and that the token never shows in the client's errors or the sink's output.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tocsin_notify::dingtalk::{
    ClientOptions, DingTalkClient, DingTalkReceiverConfig, Mention, Message, RejectKind,
    RetryPolicy, RobotCredentials, Secret, SendErrorKind, SplitOptions,
};
use tocsin_testkit::{eventually, wait_until};

/// 64 hex characters, like a real robot token.
const TOKEN: &str = "5f1d0c2b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817063a7e";
const SECRET: &str = "SEC4f9e2d1c0b7a6958473625140f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8";
/// How long any wait on the sink may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running sink; killed when dropped.
struct Sink {
    child: Child,
    addr: String,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    fn start(args: &[&str]) -> Sink {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tocsin"))
            .args(["sink", "dingtalk", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tocsin sink dingtalk");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let lines = stdout.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                lines.lock().unwrap().push(line);
            }
        });
        let err = BufReader::new(child.stderr.take().expect("stderr"));
        let lines = stderr.clone();
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let first = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("the sink printed no address; stderr: {:?}", stderr));
        let addr = first
            .strip_prefix("tocsin sink dingtalk listening on http://")
            .and_then(|rest| rest.strip_suffix("/robot/send"))
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .to_owned();
        Sink {
            child,
            addr,
            stdout,
            stderr,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/robot/send", self.addr)
    }

    fn stdout(&self) -> String {
        self.stdout.lock().unwrap().join("\n")
    }

    fn messages(&self) -> Vec<Value> {
        let (status, body) = http(&self.addr, "GET", "/messages", None, b"");
        assert_eq!(status, 200);
        let v: Value = serde_json::from_slice(&body).expect("/messages is JSON");
        v.as_array().expect("an array").clone()
    }

    fn metrics(&self) -> String {
        let (status, body) = http(&self.addr, "GET", "/metrics", None, b"");
        assert_eq!(status, 200);
        String::from_utf8(body).expect("UTF-8 metrics")
    }

    /// Waits until the sink has printed `n` message lines (the address line excluded).
    fn wait_for_lines(&self, n: usize) {
        wait_until(
            &format!("{n} message lines"),
            PATIENCE,
            || self.stdout.lock().unwrap().len() > n, // the address line and n messages
            || format!("sink printed: {}", self.stdout()),
        );
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request over a fresh connection: (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect to the sink");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response");
    let status_line = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, raw[split + 4..].to_vec())
}

fn errcode_of(body: &[u8]) -> i64 {
    let v: Value = serde_json::from_slice(body).expect("a JSON answer");
    v["errcode"].as_i64().expect("a numeric errcode")
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

fn client(sink: &Sink, secret: Option<&str>, keyword: Option<&str>) -> DingTalkClient {
    DingTalkClient::new(
        &sink.url(),
        RobotCredentials {
            access_token: Secret::new(TOKEN),
            secret: secret.map(Secret::new),
        },
        ClientOptions {
            keyword: keyword.map(str::to_owned),
            retry: fast_retries(),
            ..ClientOptions::default()
        },
    )
    .expect("a client")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tocsin-sink-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_signed_markdown_message_is_accepted_and_listed_with_its_mentions() {
    let dir = temp_dir("accepted");
    let store = dir.join("messages.jsonl");
    let sink = Sink::start(&[
        "--secret",
        SECRET,
        "--keyword",
        "tocsin",
        "--store",
        store.to_str().unwrap(),
    ]);
    // Built from config as the daemon would: token and secret read from files.
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let config = DingTalkReceiverConfig {
        url: sink.url(),
        access_token_file: Some(dir.join("token")),
        secret_file: Some(dir.join("secret")),
        keyword: Some("tocsin".into()),
        mention: Mention {
            mobiles: vec!["13800000000".into()],
            ..Mention::default()
        },
        ..DingTalkReceiverConfig::default()
    };
    let client = DingTalkClient::from_config(&config).expect("client from config");
    let message = client.message("[FIRING:1] HighCPU", "#### HighCPU\n\nnode-1 at 97%");
    let delivery = client.send(&message).await.expect("accepted");
    assert_eq!((delivery.parts, delivery.attempts), (1, 1));

    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let m = &messages[0];
    assert_eq!(m["msgtype"], "markdown");
    assert_eq!(m["title"], "[FIRING:1] HighCPU [tocsin]");
    assert_eq!(m["token_suffix"], &TOKEN[TOKEN.len() - 4..]);
    assert_eq!(m["body"]["at"]["atMobiles"][0], "13800000000");
    assert_eq!(m["body"]["at"]["isAtAll"], false);
    let text = m["body"]["markdown"]["text"].as_str().unwrap();
    assert!(text.contains("@13800000000"), "{text}");
    assert!(text.contains("tocsin"), "{text}");

    sink.wait_for_lines(1);
    let line = sink.stdout().lines().nth(1).unwrap().to_owned();
    assert!(
        line.contains(" markdown \"[FIRING:1] HighCPU [tocsin]\""),
        "{line}"
    );
    let stored = std::fs::read_to_string(&store).unwrap();
    assert_eq!(stored.lines().count(), 1);
    let stored: Value = serde_json::from_str(stored.trim()).unwrap();
    assert_eq!(stored["body"], m["body"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_wrong_secret_is_refused_310000_and_not_retried() {
    let sink = Sink::start(&["--secret", SECRET]);
    let client = client(&sink, Some("SECnotthesecret0123456789"), None);
    let err = client
        .send(&Message::markdown("t", "disk full"))
        .await
        .expect_err("a wrong secret must be refused");
    assert!(err.is_permanent(), "{err}");
    assert_eq!(err.errcode(), Some(310000));
    assert_eq!(err.attempts, 1, "permanent errors are not retried");
    assert!(
        matches!(
            err.kind,
            SendErrorKind::Rejected {
                kind: RejectKind::Signature,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("sign not match"), "{err}");
    let metrics = sink.metrics();
    assert!(
        metrics.contains("tocsin_sink_requests_rejected_total{errcode=\"310000\"} 1\n"),
        "{metrics}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_message_without_a_keyword_is_refused_and_the_configured_keyword_fixes_it() {
    let sink = Sink::start(&["--keyword", "告警", "--keyword", "alert"]);
    let plain = client(&sink, None, None);
    let err = plain
        .send(&Message::text("disk full on db-3"))
        .await
        .expect_err("no keyword");
    assert_eq!(err.errcode(), Some(310000));
    assert!(
        matches!(
            err.kind,
            SendErrorKind::Rejected {
                kind: RejectKind::Keyword,
                ..
            }
        ),
        "{err:?}"
    );
    let with_keyword = client(&sink, None, Some("告警"));
    with_keyword
        .send(&Message::text("disk full on db-3"))
        .await
        .expect("the client adds the keyword");
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0]["body"]["text"]["content"],
        "disk full on db-3\n\n告警"
    );
}

#[tokio::test]
async fn the_twenty_first_message_in_a_minute_gets_130101_until_the_throttle_ends() {
    let sink = Sink::start(&["--throttle", "2s"]);
    let client = client(&sink, None, None);
    for i in 0..20 {
        client
            .send(&Message::text(format!("message {i}")))
            .await
            .unwrap_or_else(|e| panic!("message {i}: {e}"));
    }
    let err = client
        .send(&Message::text("message 20"))
        .await
        .expect_err("the 21st in a minute");
    assert!(err.is_rate_limited(), "{err}");
    assert_eq!(err.errcode(), Some(130101));
    assert_eq!(
        err.attempts, 1,
        "throttling is left to the caller, not retried"
    );
    let metrics = sink.metrics();
    assert!(
        metrics.contains("tocsin_sink_throttled_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tocsin_sink_robots_throttled 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tocsin_sink_messages_accepted_total 20\n"),
        "{metrics}"
    );

    // The throttle lasts --throttle (2s here); then the robot takes messages again.
    let deadline = Instant::now() + PATIENCE;
    loop {
        match client.send(&Message::text("after the throttle")).await {
            Ok(_) => break,
            Err(e) => assert!(e.is_rate_limited(), "{e}"),
        }
        assert!(Instant::now() < deadline, "still throttled");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(sink.messages().len(), 21);
}

#[tokio::test]
async fn an_oversized_message_is_split_by_the_sender_and_every_part_accepted() {
    let sink = Sink::start(&["--secret", SECRET, "--keyword", "tocsin"]);
    let mut options = ClientOptions {
        keyword: Some("tocsin".into()),
        retry: fast_retries(),
        ..ClientOptions::default()
    };
    options.split = SplitOptions {
        item_marker: Some("#### ".into()),
        ..SplitOptions::default()
    };
    let client = DingTalkClient::new(
        &sink.url(),
        RobotCredentials {
            access_token: Secret::new(TOKEN),
            secret: Some(Secret::new(SECRET)),
        },
        options,
    )
    .unwrap();
    let text: Vec<String> = (0..120)
        .map(|i| {
            format!(
                "#### 磁盘告警 {i}\n\n**instance**: db-{i}:9100  \n{}",
                "详情 ".repeat(60)
            )
        })
        .collect();
    let message = Message::markdown("[FIRING:120] DiskFull", text.join("\n\n"));
    assert!(message.body_len() > 20_000);
    let delivery = client.send(&message).await.expect("every part accepted");
    assert!(delivery.parts >= 3, "{delivery:?}");

    let messages = sink.messages();
    assert_eq!(messages.len(), delivery.parts);
    for (i, m) in messages.iter().enumerate() {
        let title = m["title"].as_str().unwrap();
        assert!(
            title.starts_with(&format!(
                "[FIRING:120] DiskFull ({}/{})",
                i + 1,
                delivery.parts
            )),
            "{title}"
        );
        assert!(m["body"].to_string().len() <= 20_000);
    }
    let shown: usize = messages
        .iter()
        .map(|m| {
            m["body"]["markdown"]["text"]
                .as_str()
                .unwrap()
                .matches("#### 磁盘告警")
                .count()
        })
        .sum();
    assert_eq!(shown, 120, "no alert is lost across the parts");
}

#[tokio::test]
async fn the_token_never_shows_in_client_errors_or_sink_output() {
    let sink = Sink::start(&["--secret", SECRET]);
    let good = client(&sink, Some(SECRET), None);
    good.send(&Message::text("hello")).await.expect("accepted");
    let bad = client(&sink, Some("SECwrong000000000000"), None);
    let err = bad
        .send(&Message::text("hello"))
        .await
        .expect_err("refused");
    sink.wait_for_lines(1);

    for shown in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{good:?}"),
        sink.stdout(),
    ] {
        assert!(!shown.contains(TOKEN), "token in {shown}");
        assert!(!shown.contains(&TOKEN[..8]), "token prefix in {shown}");
        assert!(
            !shown.contains(&TOKEN[TOKEN.len() - 8..]),
            "more than 4 token chars in {shown}"
        );
        assert!(!shown.contains(SECRET), "secret in {shown}");
    }
    assert!(format!("{err}").contains("access_token=***"), "{err}");
    assert!(sink.stdout().contains(&TOKEN[TOKEN.len() - 4..]));
}

/// A raw request and the errcode DingTalk answers it with.
struct Case<'a> {
    method: &'a str,
    path: &'a str,
    content_type: Option<&'a str>,
    body: &'a [u8],
    errcode: i64,
}

impl<'a> Case<'a> {
    fn new(
        method: &'a str,
        path: &'a str,
        content_type: Option<&'a str>,
        body: &'a [u8],
        errcode: i64,
    ) -> Self {
        Case {
            method,
            path,
            content_type,
            body,
            errcode,
        }
    }
}

#[test]
fn malformed_requests_get_dingtalk_errcodes_with_http_200() {
    let sink = Sink::start(&["--token", TOKEN]);
    let path = format!("/robot/send?access_token={TOKEN}");
    let json = Some("application/json; charset=utf-8");
    let text = br#"{"msgtype":"text","text":{"content":"hi"}}"#;
    let too_long = format!(
        r#"{{"msgtype":"text","text":{{"content":"{}"}}}}"#,
        "x".repeat(20_001)
    );
    let no_title = br#"{"msgtype":"markdown","markdown":{"text":"x"}}"#;
    let cases = [
        Case::new("GET", &path, None, b"", 43002),
        Case::new("POST", "/robot/send", json, text, 40035),
        Case::new("POST", "/robot/send?access_token=nope", json, text, 300001),
        Case::new("POST", &path, Some("text/plain"), text, 43004),
        Case::new("POST", &path, json, no_title, 40035),
        Case::new("POST", &path, json, b"not json", 40035),
        Case::new("POST", &path, json, too_long.as_bytes(), 460101),
        Case::new("POST", &path, json, text, 0),
    ];
    for c in cases {
        let (status, answer) = http(&sink.addr, c.method, c.path, c.content_type, c.body);
        assert_eq!(status, 200, "{} {}", c.method, c.path);
        assert_eq!(
            errcode_of(&answer),
            c.errcode,
            "{} {} {:?}",
            c.method,
            c.path,
            c.content_type
        );
    }
    let (status, _) = http(&sink.addr, "GET", "/nowhere", None, b"");
    assert_eq!(status, 404);
}

#[test]
fn sigterm_stops_the_sink_gracefully() {
    let mut sink = Sink::start(&[]);
    let (_, answer) = http(
        &sink.addr,
        "POST",
        &format!("/robot/send?access_token={TOKEN}"),
        Some("application/json"),
        br#"{"msgtype":"text","text":{"content":"one"}}"#,
    );
    assert_eq!(errcode_of(&answer), 0);
    let pid = sink.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = eventually("the sink to stop on SIGTERM", PATIENCE, || {
        sink.child.try_wait().unwrap()
    });
    assert!(status.success(), "{status:?}");
    wait_until(
        "the sink's last log line",
        PATIENCE,
        || {
            sink.stderr
                .lock()
                .unwrap()
                .join("\n")
                .contains("stopped after accepting 1 messages")
        },
        || format!("stderr: {:?}", sink.stderr),
    );
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_tocsin"))
        .args(["sink", "dingtalk", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("in use"), "{stderr}");
}

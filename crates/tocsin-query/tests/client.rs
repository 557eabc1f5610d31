//! What the client sends, how it retries and times out, and that secrets stay out of
//! errors — checked with tocsin-testkit's request recorder (a canned answer, not a model
//! of Prometheus; semantics are tested against the real server in `prometheus.rs`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tocsin_query::{
    Auth, BasicAuth, ErrorType, HttpClientConfig, PrometheusClient, QueryError, RetryPolicy,
    Secret, SecretSource, TlsConfig,
};
use tocsin_testkit::{CannedResponse, Recorder, TempDir};

const VECTOR_1: &str = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.500,"1"]}]}}"#;

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)
}

fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    }
}

#[tokio::test]
async fn basic_auth_and_custom_headers_reach_the_server() {
    let rec = Recorder::start(CannedResponse::json(VECTOR_1));
    let mut cfg = HttpClientConfig::new(rec.url());
    cfg.headers = vec![("X-Scope-OrgID".into(), "tenant-a".into())];
    cfg.auth = Auth::Basic(BasicAuth {
        username: "alice".into(),
        password: Some(SecretSource::Value(Secret::new("s3cret"))),
    });
    let c = PrometheusClient::new(cfg).unwrap();
    c.instant_query(r#"up{job="a b"}"#, at()).await.unwrap();

    let reqs = rec.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(
        (r.method.as_str(), r.target.as_str()),
        ("POST", "/api/v1/query")
    );
    // base64("alice:s3cret")
    assert_eq!(r.header("authorization"), Some("Basic YWxpY2U6czNjcmV0"));
    assert_eq!(r.header("x-scope-orgid"), Some("tenant-a"));
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8_lossy(&r.body),
        "query=up%7Bjob%3D%22a+b%22%7D&time=1700000000.500&timeout=120.000"
    );
}

#[tokio::test]
async fn basic_auth_password_is_read_from_a_file() {
    let rec = Recorder::start(CannedResponse::json(VECTOR_1));
    let dir = TempDir::new("query-auth").unwrap();
    let pw = dir.path().join("password");
    std::fs::write(&pw, "s3cret\n").unwrap();
    let mut cfg = HttpClientConfig::new(rec.url());
    cfg.auth = Auth::Basic(BasicAuth {
        username: "alice".into(),
        password: Some(SecretSource::File(pw)),
    });
    PrometheusClient::new(cfg)
        .unwrap()
        .instant_query("1", at())
        .await
        .unwrap();
    assert_eq!(
        rec.requests()[0].header("authorization"),
        Some("Basic YWxpY2U6czNjcmV0")
    );
}

#[tokio::test]
async fn bearer_token_file_is_reread_when_it_changes() {
    let rec = Recorder::start(CannedResponse::json(VECTOR_1));
    let dir = TempDir::new("query-token").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "first-token\n").unwrap();
    let mut cfg = HttpClientConfig::new(rec.url());
    cfg.auth = Auth::Bearer(SecretSource::File(token.clone()));
    let c = PrometheusClient::new(cfg).unwrap();
    c.instant_query("1", at()).await.unwrap();
    c.instant_query("1", at()).await.unwrap();
    std::fs::write(&token, "second-token-rotated").unwrap();
    c.instant_query("1", at()).await.unwrap();
    let auth: Vec<_> = rec
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or("").to_string())
        .collect();
    assert_eq!(
        auth,
        [
            "Bearer first-token",
            "Bearer first-token",
            "Bearer second-token-rotated"
        ]
    );
}

#[tokio::test]
async fn url_userinfo_becomes_basic_auth_and_leaves_the_url() {
    let rec = Recorder::start(CannedResponse::json(VECTOR_1));
    let url = rec.url().replace("http://", "http://bob:p%40ss@");
    let c = PrometheusClient::new(HttpClientConfig::new(url)).unwrap();
    assert_eq!(c.url(), rec.url());
    c.instant_query("1", at()).await.unwrap();
    // base64("bob:p@ss")
    assert_eq!(
        rec.requests()[0].header("authorization"),
        Some("Basic Ym9iOnBAc3M=")
    );
}

#[tokio::test]
async fn a_slow_server_times_out_per_attempt() {
    let rec = Recorder::start(CannedResponse {
        delay: Duration::from_secs(600),
        ..CannedResponse::json(VECTOR_1)
    });
    let mut cfg = HttpClientConfig::new(rec.url());
    cfg.timeout = Duration::from_millis(200);
    cfg.retry = fast_retries(0);
    let err = PrometheusClient::new(cfg)
        .unwrap()
        .instant_query("1", at())
        .await
        .unwrap_err();
    assert!(
        matches!(err, QueryError::Timeout { timeout, .. } if timeout == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(err.is_retryable());
    // The server was told the same limit.
    let body = String::from_utf8_lossy(&rec.requests()[0].body).into_owned();
    assert!(body.ends_with("&timeout=0.200"), "{body}");
}

#[tokio::test]
async fn timeouts_are_retried_up_to_the_limit() {
    let rec = Recorder::start(CannedResponse {
        delay: Duration::from_secs(600),
        ..CannedResponse::json(VECTOR_1)
    });
    let mut cfg = HttpClientConfig::new(rec.url());
    cfg.timeout = Duration::from_millis(100);
    cfg.deadline = Duration::from_secs(30);
    cfg.retry = fast_retries(2);
    let err = PrometheusClient::new(cfg)
        .unwrap()
        .instant_query("1", at())
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::Timeout { .. }), "{err:?}");
    assert_eq!(rec.requests().len(), 3);
}

#[tokio::test]
async fn the_deadline_ends_unlimited_timeout_retries() {
    let rec = Recorder::start(CannedResponse {
        delay: Duration::from_secs(600),
        ..CannedResponse::json(VECTOR_1)
    });
    let mut cfg = HttpClientConfig::new(rec.url());
    cfg.timeout = Duration::from_millis(100);
    cfg.deadline = Duration::from_millis(300);
    cfg.retry = fast_retries(u32::MAX);
    let c = PrometheusClient::new(cfg).unwrap();
    // A watchdog, not a timing assertion: without the deadline this never returns.
    let err = tokio::time::timeout(Duration::from_secs(60), c.instant_query("1", at()))
        .await
        .expect("the deadline must stop the retries")
        .unwrap_err();
    assert!(matches!(err, QueryError::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn unavailable_answers_are_retried_up_to_the_limit() {
    let rec = Recorder::start(CannedResponse {
        status: 503,
        ..CannedResponse::json(
            r#"{"status":"error","errorType":"unavailable","error":"overloaded"}"#,
        )
    });
    let mut cfg = HttpClientConfig::new(rec.url());
    cfg.retry = fast_retries(2);
    let err = PrometheusClient::new(cfg)
        .unwrap()
        .instant_query("1", at())
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), Some(&ErrorType::Unavailable));
    assert_eq!(err.http_status(), Some(503));
    assert_eq!(rec.requests().len(), 3);
}

#[tokio::test]
async fn a_proxy_502_without_a_prometheus_body_is_retried() {
    let rec = Recorder::start(CannedResponse {
        status: 502,
        content_type: "text/html".into(),
        body: b"<html>Bad Gateway</html>".to_vec(),
        delay: Duration::ZERO,
    });
    let mut cfg = HttpClientConfig::new(rec.url());
    cfg.retry = fast_retries(1);
    let err = PrometheusClient::new(cfg)
        .unwrap()
        .instant_query("1", at())
        .await
        .unwrap_err();
    assert!(
        matches!(err, QueryError::Http { status: 502, .. }),
        "{err:?}"
    );
    assert_eq!(rec.requests().len(), 2);
}

#[tokio::test]
async fn bad_data_and_execution_errors_are_never_retried() {
    for (status, kind) in [(400, "bad_data"), (422, "execution")] {
        let rec = Recorder::start(CannedResponse {
            status,
            ..CannedResponse::json(&format!(
                r#"{{"status":"error","errorType":"{kind}","error":"nope"}}"#
            ))
        });
        let mut cfg = HttpClientConfig::new(rec.url());
        cfg.retry = fast_retries(5);
        let err = PrometheusClient::new(cfg)
            .unwrap()
            .instant_query("1", at())
            .await
            .unwrap_err();
        assert_eq!(err.error_type().map(|t| t.as_str()), Some(kind));
        assert_eq!(rec.requests().len(), 1, "{kind} was retried");
    }
}

#[tokio::test]
async fn a_missing_token_file_is_a_credentials_error_naming_only_the_path() {
    let rec = Recorder::start(CannedResponse::json(VECTOR_1));
    let mut cfg = HttpClientConfig::new(rec.url());
    cfg.auth = Auth::Bearer(SecretSource::File("/nonexistent/tocsin/token".into()));
    cfg.retry = fast_retries(3);
    let err = PrometheusClient::new(cfg)
        .unwrap()
        .instant_query("1", at())
        .await
        .unwrap_err();
    assert!(matches!(err, QueryError::Credentials(_)), "{err:?}");
    assert!(
        err.to_string().contains("/nonexistent/tocsin/token"),
        "{err}"
    );
    assert!(rec.requests().is_empty());
}

#[tokio::test]
async fn secrets_never_appear_in_errors_or_debug_output() {
    const SECRETS: [&str; 4] = [
        "pw-SECRET-1",
        "hdr-SECRET-2",
        "url-SECRET-3",
        "tok-SECRET-4",
    ];
    let check = |text: String| {
        for s in SECRETS {
            assert!(!text.contains(s), "{s} leaked in: {text}");
        }
    };

    // Connection refused (a port nobody listens on any more).
    let closed = {
        let rec = Recorder::start(CannedResponse::json(VECTOR_1));
        rec.url()
    };
    // An HTTP error from a live server.
    let failing = Recorder::start(CannedResponse {
        status: 500,
        ..CannedResponse::json(r#"{"status":"error","errorType":"internal","error":"boom"}"#)
    });

    for base in [closed.clone(), failing.url()] {
        let url = base.replace("http://", "http://carol:url-SECRET-3@");
        let mut configs = vec![HttpClientConfig::new(url)];
        let mut basic = HttpClientConfig::new(base.clone());
        basic.auth = Auth::Basic(BasicAuth {
            username: "alice".into(),
            password: Some(SecretSource::Value(Secret::new("pw-SECRET-1"))),
        });
        basic.headers = vec![("X-Api-Key".into(), "hdr-SECRET-2".into())];
        configs.push(basic);
        let mut bearer = HttpClientConfig::new(base.clone());
        bearer.auth = Auth::Bearer(SecretSource::Value(Secret::new("tok-SECRET-4")));
        configs.push(bearer);

        for mut cfg in configs {
            cfg.retry = fast_retries(1);
            check(format!("{cfg:?}"));
            let c = PrometheusClient::new(cfg).unwrap();
            check(format!("{c:?}"));
            for err in [
                c.instant_query("1", at()).await.unwrap_err(),
                c.rules(None).await.unwrap_err(),
            ] {
                check(format!("{err}"));
                check(format!("{err:?}"));
            }
        }
    }

    // Construction errors do not echo header values or URLs.
    let mut cfg = HttpClientConfig::new("http://dave:url-SECRET-3@[bad-host");
    check(PrometheusClient::new(cfg.clone()).unwrap_err().to_string());
    cfg.url = closed;
    cfg.headers = vec![("X-Api-Key".into(), "hdr-SECRET-2\n".into())];
    let err = PrometheusClient::new(cfg).unwrap_err();
    assert!(matches!(err, QueryError::Config(_)), "{err:?}");
    check(format!("{err} {err:?}"));
}

#[tokio::test]
async fn tls_files_are_checked_when_the_client_is_built() {
    let mut cfg = HttpClientConfig::new("https://127.0.0.1:1");
    cfg.tls = TlsConfig {
        ca_file: Some("/nonexistent/ca.pem".into()),
        ..Default::default()
    };
    let err = PrometheusClient::new(cfg.clone()).unwrap_err();
    assert!(
        err.to_string().contains("CA file /nonexistent/ca.pem"),
        "{err}"
    );

    cfg.tls = TlsConfig {
        cert_file: Some("/nonexistent/cert.pem".into()),
        ..Default::default()
    };
    let err = PrometheusClient::new(cfg.clone()).unwrap_err();
    assert!(err.to_string().contains("together"), "{err}");

    cfg.tls = TlsConfig {
        insecure_skip_verify: true,
        ..Default::default()
    };
    PrometheusClient::new(cfg).unwrap();
}

/// Serves every connection on a loopback port with a 200 head and then an endless body
/// (64 KiB chunks, about 64 MB/s), until the client hangs up.
async fn endless_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                            Transfer-Encoding: chunked\r\n\r\n";
                if s.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut chunk = format!("{:x}\r\n", 64 << 10).into_bytes();
                chunk.extend(std::iter::repeat_n(b' ', 64 << 10));
                chunk.extend_from_slice(b"\r\n");
                while s.write_all(&chunk).await.is_ok() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_endless_answer_fails_at_max_response_size_without_retrying() {
    let url = endless_server().await;
    let mut cfg = HttpClientConfig::new(url);
    cfg.max_response_size = 1 << 20;
    cfg.timeout = Duration::from_secs(3);
    cfg.deadline = Duration::from_secs(6);
    cfg.retry = fast_retries(2);
    let err = PrometheusClient::new(cfg)
        .unwrap()
        .instant_query("up", at())
        .await
        .unwrap_err();
    assert!(
        matches!(err, QueryError::TooLarge { limit, .. } if limit == 1 << 20),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .ends_with("is larger than max_response_size (1048576 bytes)"),
        "{err}"
    );
}

#[tokio::test]
async fn credentials_echoed_by_a_proxy_are_redacted_in_every_encoding() {
    const TOKEN: &str = "tok+en/SECRET=5";
    const PASSWORD: &str = "pw SECRET/6";
    let bearer_echo = format!(
        "<html>bad request for /api/v1/query?access_token=tok%2Ben%2FSECRET%3D5 \
         (tok%2ben%2fSECRET%3d5), Authorization: Bearer {TOKEN}</html>"
    );
    // YWxpY2U6cHcgU0VDUkVULzY= is base64("alice:pw SECRET/6").
    let basic_echo = "<html>Authorization: Basic YWxpY2U6cHcgU0VDUkVULzY= \
                      pass=pw+SECRET%2F6 p=cHcgU0VDUkVULzY</html>"
        .to_string();
    let mut bearer = HttpClientConfig::new(String::new());
    bearer.auth = Auth::Bearer(SecretSource::Value(Secret::new(TOKEN)));
    let mut basic = HttpClientConfig::new(String::new());
    basic.auth = Auth::Basic(BasicAuth {
        username: "alice".into(),
        password: Some(SecretSource::Value(Secret::new(PASSWORD))),
    });
    for (mut cfg, echo) in [(bearer, bearer_echo), (basic, basic_echo)] {
        let rec = Recorder::start(CannedResponse {
            status: 502,
            content_type: "text/html".into(),
            body: echo.into_bytes(),
            delay: Duration::ZERO,
        });
        cfg.url = rec.url();
        cfg.retry = fast_retries(0);
        let err = PrometheusClient::new(cfg)
            .unwrap()
            .instant_query("1", at())
            .await
            .unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            matches!(err, QueryError::Http { status: 502, .. }),
            "{text}"
        );
        assert!(!text.contains("SECRET"), "{text}");
        // "SECRET" in base64, as it sits in both encodings above.
        assert!(!text.contains("U0VDUkVU"), "{text}");
        assert!(text.contains("***"), "{text}");
    }
}

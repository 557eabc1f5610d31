//! Remote write against a real Prometheus 2.42 (`--web.enable-remote-write-receiver`),
//! read back through the query API, and against a request recorder for what goes on the
//! wire; and the queue in front of it through an outage of the real receiver.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message;
use tocsin_query::remote_write::{
    WriteRequest, WriteSample, DEFAULT_QUEUE_CAPACITY, STALE_NAN_BITS,
};
use tocsin_query::{
    Auth, BasicAuth, HttpClientConfig, Labels, PrometheusClient, QueryValue, RemoteWriteClient,
    RemoteWriteConfig, RemoteWriteError, RemoteWriteQueue, RetryPolicy, Secret, SecretSource,
};
use tocsin_testkit::{free_port, CannedResponse, Prometheus, PrometheusOptions, Recorder};

const PASSWORD: &str = "s3cr3t-pw";

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().copied().collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn at(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms as u64)
}

fn receiver() -> Prometheus {
    Prometheus::start(PrometheusOptions {
        remote_write_receiver: true,
        ..Default::default()
    })
}

fn writer(prom: &Prometheus) -> RemoteWriteClient {
    RemoteWriteClient::new(RemoteWriteConfig::new(format!(
        "{}/api/v1/write",
        prom.url()
    )))
    .unwrap()
}

fn fast_retries(url: String) -> RemoteWriteConfig {
    let mut c = RemoteWriteConfig::new(url);
    c.http.retry = RetryPolicy {
        max_retries: 2,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    };
    c
}

/// `expr` at `t` as (labels, value) pairs sorted by labels.
async fn vector(prom: &Prometheus, expr: &str, t: i64) -> Vec<(Labels, f64)> {
    let c = PrometheusClient::new(HttpClientConfig::new(prom.url())).unwrap();
    let r = c.instant_query(expr, at(t)).await.unwrap();
    let QueryValue::Vector(v) = r.value else {
        panic!("{:?}", r.value)
    };
    let mut out: Vec<(Labels, f64)> = v.into_iter().map(|s| (s.labels, s.value)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn decode_body(body: &[u8]) -> WriteRequest {
    let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
    WriteRequest::decode(raw.as_slice()).unwrap()
}

#[tokio::test]
async fn written_series_read_back_with_exact_labels_and_values() {
    let prom = receiver();
    let t = now_ms();
    let series: Vec<WriteSample> = vec![
        (
            labels(&[
                ("__name__", "tocsin_rw"),
                ("job", "flink"),
                ("case", "plain"),
            ]),
            42.5,
            t,
        ),
        (
            labels(&[("__name__", "tocsin_rw"), ("case", "inf")]),
            f64::INFINITY,
            t,
        ),
        (
            labels(&[("__name__", "tocsin_rw"), ("case", "tiny")]),
            1e-300,
            t,
        ),
        (
            labels(&[("__name__", "tocsin_rw"), ("case", "escapes \"é\"\n")]),
            -0.1,
            t,
        ),
    ];
    writer(&prom).write(&series).await.unwrap();

    let got = vector(&prom, "tocsin_rw", t).await;
    let mut want: Vec<(Labels, f64)> = series.iter().map(|(l, v, _)| (l.clone(), *v)).collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), want.len(), "{got:?}");
    for ((gl, gv), (wl, wv)) in got.iter().zip(&want) {
        assert_eq!(gl, wl);
        assert_eq!(gv.to_bits(), wv.to_bits(), "{gl}: {gv} vs {wv}");
    }
}

#[tokio::test]
async fn a_staleness_marker_ends_the_series_but_a_plain_nan_does_not() {
    let prom = receiver();
    let t = now_ms() - 10_000;
    let stale = labels(&[("__name__", "tocsin_rw_stale"), ("case", "marker")]);
    let nan = labels(&[("__name__", "tocsin_rw_stale"), ("case", "plain_nan")]);
    let w = writer(&prom);
    w.write(&[(stale.clone(), 1.0, t), (nan.clone(), 1.0, t)])
        .await
        .unwrap();
    w.write(&[
        (stale.clone(), f64::from_bits(STALE_NAN_BITS), t + 1000),
        (nan.clone(), f64::NAN, t + 1000),
    ])
    .await
    .unwrap();

    let before = vector(&prom, "tocsin_rw_stale", t + 500).await;
    assert_eq!(before, [(stale.clone(), 1.0), (nan.clone(), 1.0)]);
    let after = vector(&prom, "tocsin_rw_stale", t + 2000).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].0, nan);
    assert!(after[0].1.is_nan());
}

#[tokio::test]
async fn an_out_of_order_sample_is_a_permanent_error_with_the_servers_message() {
    let prom = receiver();
    let t = now_ms();
    let s = labels(&[("__name__", "tocsin_rw_ooo")]);
    let w = writer(&prom);
    w.write(&[(s.clone(), 1.0, t)]).await.unwrap();
    let err = w.write(&[(s.clone(), 2.0, t - 60_000)]).await.unwrap_err();
    match &err {
        RemoteWriteError::Rejected {
            status, message, ..
        } => {
            assert_eq!(*status, 400);
            assert!(message.contains("out of order sample"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("out of order sample"), "{err}");
}

#[tokio::test]
async fn ten_thousand_series_arrive_in_batches_of_five_hundred() {
    let prom = receiver();
    let t = now_ms();
    let series: Vec<WriteSample> = (0..10_000)
        .map(|i| {
            let pod = format!("taskmanager-{i}");
            (
                labels(&[("__name__", "tocsin_rw_bulk"), ("pod", &pod)]),
                i as f64,
                t,
            )
        })
        .collect();
    writer(&prom).write(&series).await.unwrap();
    let got = vector(&prom, "count(tocsin_rw_bulk)", t).await;
    assert_eq!(got, [(Labels::empty(), 10_000.0)]);
    let got = vector(&prom, "sum(tocsin_rw_bulk)", t).await;
    assert_eq!(got, [(Labels::empty(), (0..10_000).sum::<i64>() as f64)]);
}

#[tokio::test]
async fn large_writes_are_split_into_requests_in_order() {
    let rec = Recorder::start(CannedResponse {
        status: 204,
        content_type: "text/plain".into(),
        body: Vec::new(),
        delay: Duration::ZERO,
    });
    let mut c = RemoteWriteConfig::new(format!("{}/api/v1/write", rec.url()));
    c.max_series_per_request = 500;
    let series: Vec<WriteSample> = (0..1201)
        .map(|i| (labels(&[("__name__", "m"), ("i", &i.to_string())]), 1.0, i))
        .collect();
    RemoteWriteClient::new(c)
        .unwrap()
        .write(&series)
        .await
        .unwrap();
    let reqs = rec.requests();
    let sizes: Vec<usize> = reqs
        .iter()
        .map(|r| decode_body(&r.body).timeseries.len())
        .collect();
    assert_eq!(sizes, [500, 500, 201]);
    let timestamps: Vec<i64> = reqs
        .iter()
        .flat_map(|r| decode_body(&r.body).timeseries)
        .map(|ts| ts.samples[0].timestamp)
        .collect();
    assert_eq!(timestamps, (0..1201).collect::<Vec<i64>>());
}

#[tokio::test]
async fn protocol_headers_basic_auth_and_extra_headers_reach_the_server() {
    let rec = Recorder::start(CannedResponse {
        status: 204,
        content_type: "text/plain".into(),
        body: Vec::new(),
        delay: Duration::ZERO,
    });
    let mut c = RemoteWriteConfig::new(format!("{}/api/v1/write?tenant=t1", rec.url()));
    c.http.auth = Auth::Basic(BasicAuth {
        username: "tocsin".into(),
        password: Some(SecretSource::Value(Secret::new(PASSWORD))),
    });
    c.http
        .headers
        .push(("X-Scope-OrgID".into(), "flink-team".into()));
    let w = RemoteWriteClient::new(c).unwrap();
    w.write(&[(labels(&[("__name__", "up")]), 1.0, 1_700_000_000_000)])
        .await
        .unwrap();

    let reqs = rec.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/api/v1/write?tenant=t1");
    assert_eq!(r.header("content-encoding"), Some("snappy"));
    assert_eq!(r.header("content-type"), Some("application/x-protobuf"));
    assert_eq!(r.header("x-prometheus-remote-write-version"), Some("0.1.0"));
    // base64("tocsin:s3cr3t-pw")
    assert_eq!(
        r.header("authorization"),
        Some("Basic dG9jc2luOnMzY3IzdC1wdw==")
    );
    assert_eq!(r.header("x-scope-orgid"), Some("flink-team"));
    let body = decode_body(&r.body);
    assert_eq!(body.timeseries[0].labels[0].name, "__name__");
    assert_eq!(body.timeseries[0].samples[0].timestamp, 1_700_000_000_000);
}

#[tokio::test]
async fn a_rejection_is_sent_once_and_its_text_has_no_password() {
    let rec = Recorder::start(CannedResponse {
        status: 401,
        content_type: "text/plain".into(),
        body: b"unauthorized\n".to_vec(),
        delay: Duration::ZERO,
    });
    let url = rec
        .url()
        .replacen("http://", &format!("http://tocsin:{PASSWORD}@"), 1);
    let w = RemoteWriteClient::new(fast_retries(format!("{url}/api/v1/write"))).unwrap();
    let err = w
        .write(&[(labels(&[("__name__", "up")]), 1.0, 1)])
        .await
        .unwrap_err();
    assert_eq!(rec.requests().len(), 1);
    assert!(
        matches!(&err, RemoteWriteError::Rejected { status: 401, message, .. } if message == "unauthorized"),
        "{err:?}"
    );
    // Userinfo became basic auth and was stripped from every name the error carries.
    assert!(rec.requests()[0].header("authorization").is_some());
    for text in [err.to_string(), format!("{err:?}"), format!("{w:?}")] {
        assert!(!text.contains(PASSWORD), "{text}");
    }
}

#[tokio::test]
async fn server_errors_are_retried_until_retries_run_out() {
    let rec = Recorder::start(CannedResponse {
        status: 503,
        content_type: "text/plain".into(),
        body: b"TSDB not ready".to_vec(),
        delay: Duration::ZERO,
    });
    let w = RemoteWriteClient::new(fast_retries(format!("{}/api/v1/write", rec.url()))).unwrap();
    let err = w
        .write(&[(labels(&[("__name__", "up")]), 1.0, 1)])
        .await
        .unwrap_err();
    // One attempt and max_retries = 2 retries.
    assert_eq!(rec.requests().len(), 3);
    assert!(
        matches!(&err, RemoteWriteError::Server { status: 503, message, .. } if message == "TSDB not ready"),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn too_many_requests_is_retried_like_a_server_error() {
    let rec = Recorder::start(CannedResponse {
        status: 429,
        content_type: "text/plain".into(),
        body: b"slow down".to_vec(),
        delay: Duration::ZERO,
    });
    let w = RemoteWriteClient::new(fast_retries(format!("{}/api/v1/write", rec.url()))).unwrap();
    let err = w
        .write(&[(labels(&[("__name__", "up")]), 1.0, 1)])
        .await
        .unwrap_err();
    assert_eq!(rec.requests().len(), 3);
    assert_eq!(err.http_status(), Some(429));
}

#[tokio::test]
async fn an_unreachable_server_is_a_connect_error_without_the_password() {
    let url = format!("http://tocsin:{PASSWORD}@127.0.0.1:{}", free_port());
    let w = RemoteWriteClient::new(fast_retries(format!("{url}/api/v1/write"))).unwrap();
    let err = w
        .write(&[(labels(&[("__name__", "up")]), 1.0, 1)])
        .await
        .unwrap_err();
    assert!(matches!(err, RemoteWriteError::Connect { .. }), "{err:?}");
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(PASSWORD), "{text}");
    }
}

#[tokio::test]
async fn series_without_labels_are_refused_before_anything_is_sent() {
    let rec = Recorder::start(CannedResponse::json(""));
    let w = RemoteWriteClient::new(RemoteWriteConfig::new(rec.url())).unwrap();
    let err = w
        .write(&[
            (labels(&[("__name__", "up")]), 1.0, 1),
            (Labels::empty(), 1.0, 1),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(err, RemoteWriteError::InvalidSeries { index: 1, .. }),
        "{err:?}"
    );
    assert!(rec.requests().is_empty());
}

/// The points of `name` from `t - 10m` to `t`, oldest first, as (timestamp, value).
async fn points(prom: &Prometheus, name: &str, t: i64) -> Vec<(i64, f64)> {
    let c = PrometheusClient::new(HttpClientConfig::new(prom.url())).unwrap();
    let r = c
        .instant_query(&format!("{name}[10m]"), at(t))
        .await
        .unwrap();
    let QueryValue::Matrix(m) = r.value else {
        panic!("{:?}", r.value)
    };
    m.into_iter()
        .flat_map(|s| s.points)
        .map(|p| (p.timestamp_ms, p.value))
        .collect()
}

/// A queue of `capacity` in front of `prom`'s receiver, three series a request.
fn queue(prom: &Prometheus, capacity: usize) -> RemoteWriteQueue {
    let mut c = RemoteWriteConfig::new(format!("{}/api/v1/write", prom.url()));
    c.max_series_per_request = 3;
    RemoteWriteQueue::start(RemoteWriteClient::new(c).unwrap(), capacity)
}

/// Samples `from..to` of one series, one a second from `t0`, value = index.
fn run_of(name: &str, t0: i64, from: i64, to: i64) -> Vec<WriteSample> {
    (from..to)
        .map(|i| (labels(&[("__name__", name)]), i as f64, t0 + i * 1000))
        .collect()
}

const LONG: Duration = Duration::from_secs(120);

#[tokio::test]
async fn the_queue_delivers_every_sample_in_order_through_a_receiver_outage() {
    let mut prom = receiver();
    let t0 = now_ms() - 120_000;
    let q = queue(&prom, DEFAULT_QUEUE_CAPACITY);
    q.push(run_of("tocsin_q_outage", t0, 0, 4));
    assert!(q.flush(LONG).await, "{:?}", q.stats());

    prom.stop();
    // Pushed in several pieces while the receiver is down: one request fails and is
    // retried, the rest wait behind it.
    for (from, to) in [(4, 9), (9, 10), (10, 20)] {
        q.push(run_of("tocsin_q_outage", t0, from, to));
    }
    assert!(
        !q.flush(Duration::from_millis(300)).await,
        "nothing can be written while the receiver is down"
    );
    prom.restart();
    assert!(q.flush(LONG).await, "{:?}", q.stats());

    let got = points(&prom, "tocsin_q_outage", t0 + 30_000).await;
    let want: Vec<(i64, f64)> = (0..20).map(|i| (t0 + i * 1000, i as f64)).collect();
    // Any sample sent out of order would have been refused (Prometheus rejects a sample
    // older than the series' last), so all twenty arriving is the ordering check too.
    assert_eq!(got, want);
    let stats = q.stats();
    assert_eq!((stats.dropped, stats.rejected, stats.queued), (0, 0, 0));
}

#[tokio::test]
async fn past_its_capacity_a_queue_for_a_down_receiver_drops_only_the_oldest_samples() {
    let mut prom = receiver();
    prom.stop();
    let t0 = now_ms() - 120_000;
    let q = queue(&prom, 5);
    q.push(run_of("tocsin_q_bound", t0, 0, 20));
    assert_eq!(q.stats().dropped, 15);
    prom.restart();
    assert!(q.flush(LONG).await, "{:?}", q.stats());
    let got = points(&prom, "tocsin_q_bound", t0 + 30_000).await;
    let want: Vec<(i64, f64)> = (15..20).map(|i| (t0 + i * 1000, i as f64)).collect();
    assert_eq!(got, want);
    assert_eq!(q.stats().dropped, 15);
}

#[tokio::test]
async fn a_request_the_receiver_refuses_is_dropped_and_later_samples_still_land() {
    let prom = receiver();
    let t0 = now_ms() - 120_000;
    let q = queue(&prom, DEFAULT_QUEUE_CAPACITY);
    let name = "tocsin_q_refused";
    q.push(run_of(name, t0, 10, 11));
    assert!(q.flush(LONG).await);
    // Older than the series' last sample: Prometheus answers 400 "out of order sample".
    q.push(run_of(name, t0, 5, 6));
    assert!(
        q.flush(LONG).await,
        "a refused request still completes a flush"
    );
    q.push(run_of(name, t0, 12, 13));
    // Series without labels are refused before anything is sent.
    q.push([(Labels::empty(), 1.0, t0)]);
    assert!(q.flush(LONG).await);
    let got = points(&prom, name, t0 + 30_000).await;
    assert_eq!(got, [(t0 + 10_000, 10.0), (t0 + 12_000, 12.0)]);
    let stats = q.stats();
    assert_eq!((stats.rejected, stats.failures, stats.dropped), (2, 1, 0));
}

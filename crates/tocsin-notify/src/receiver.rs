//! Receivers behind one trait: a DingTalk robot (the existing [`DingTalkClient`]), an
//! Alertmanager (`POST /api/v2/alerts`), and a generic webhook (Alertmanager's webhook
//! payload, version 4). The pipeline hands each a [`Batch`]; a receiver only sends it and
//! says how that went, in the terms a lane understands ([`SendResult`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{json, Value};

use crate::alert::NotifyAlert;
use crate::dingtalk::{DingTalkClient, SendErrorKind};
use crate::lane::{Batch, SendResult};
use crate::notification::Notification;
use crate::time::GO_ZERO_TIME;

/// A boxed future, so receivers can sit behind `dyn Receiver`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Somewhere notifications go.
pub trait Receiver: Send + Sync {
    /// Sends `batch`. The error says whether trying again can help.
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), DeliveryError>>;
}

/// A failed delivery; its text never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub result: SendResult,
    pub message: String,
    /// Messages of the batch delivered before the failure (DingTalk sends them in order).
    pub delivered: usize,
}

/// Sends rendered messages to one DingTalk robot, in order, stopping at the first failure.
#[derive(Debug)]
pub struct DingTalkReceiver {
    client: DingTalkClient,
}

impl DingTalkReceiver {
    pub fn new(client: DingTalkClient) -> Self {
        DingTalkReceiver { client }
    }
}

impl Receiver for DingTalkReceiver {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            for (i, m) in batch.messages.iter().enumerate() {
                let mut message = self.client.message(&m.rendered.title, &m.rendered.text);
                message.mention = m.mentions.resolve(&message.mention);
                if let Err(e) = self.client.send(&message).await {
                    let result = match &e.kind {
                        SendErrorKind::Rejected { .. } => SendResult::Permanent,
                        // "Too fast": the robot's own limit, then its throttle.
                        SendErrorKind::RateLimited {
                            errcode: Some(130101 | 660026),
                            ..
                        } => SendResult::Throttled,
                        SendErrorKind::RateLimited { retry_after, .. } => {
                            SendResult::RateLimited(*retry_after)
                        }
                        SendErrorKind::GaveUp { .. } => SendResult::Transient,
                        SendErrorKind::HeldBack => SendResult::Held,
                    };
                    return Err(DeliveryError {
                        result,
                        message: e.to_string(),
                        delivered: i,
                    });
                }
            }
            Ok(())
        })
    }
}

/// Why an Alertmanager or webhook receiver could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("invalid receiver url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// `url` without user info and query string: credentials in either must not be echoed.
fn redact_url(url: &str) -> String {
    let no_query = url.split(['?', '#']).next().unwrap_or("");
    match no_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or("");
            format!("{scheme}://{host}{path}")
        }
        None => no_query.split('@').next_back().unwrap_or("").to_owned(),
    }
}

/// An HTTP endpoint taking JSON.
#[derive(Debug, Clone)]
struct JsonEndpoint {
    http: reqwest::Client,
    url: reqwest::Url,
}

impl JsonEndpoint {
    fn new(url: &str, timeout: Duration) -> Result<Self, EndpointError> {
        let bad = |reason: String| EndpointError::Url {
            url: redact_url(url),
            reason,
        };
        let url = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https".into()));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| EndpointError::Http(e.without_url().to_string()))?;
        Ok(JsonEndpoint { http, url })
    }

    /// The URL without user info and query, for messages.
    fn shown(&self) -> String {
        format!(
            "{}://{}{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or(""),
            self.url.port().map(|p| format!(":{p}")).unwrap_or_default()
        ) + self.url.path()
    }

    /// `text` from the receiver's answer without the URL's password or query values
    /// (where a token in a webhook URL usually sits), in any encoding.
    fn redact(&self, text: &str) -> String {
        let mut secrets: Vec<String> = self
            .url
            .query_pairs()
            .map(|(_, v)| v.into_owned())
            .collect();
        if let Some(p) = self.url.password() {
            secrets.push(p.to_owned());
        }
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        tocsin_wire::redact(text, &secrets)
    }

    /// POSTs `body`: 2xx is delivered, 429 and 5xx and network errors are transient, other
    /// 4xx permanent (unlike Alertmanager, which gives up on 429).
    async fn post(&self, url: reqwest::Url, body: &Value) -> Result<(), DeliveryError> {
        let shown = self.shown();
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| DeliveryError {
                result: SendResult::Transient,
                message: format!("{shown}: {}", e.without_url()),
                delivered: 0,
            })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        // Only the start of the answer is read: it is for a log line, and a receiver
        // streaming an endless error page must not fill memory.
        let text = tocsin_wire::read_prefix(response, 1024).await;
        let snippet: String = self
            .redact(&String::from_utf8_lossy(&text))
            .chars()
            .take(200)
            .collect();
        let result = if status == 429 || status >= 500 {
            SendResult::Transient
        } else {
            SendResult::Permanent
        };
        Err(DeliveryError {
            result,
            message: format!("{shown}: HTTP {status}: {snippet}"),
            delivered: 0,
        })
    }
}

/// Posts alerts to an Alertmanager's v2 API, which does its own grouping downstream.
#[derive(Debug, Clone)]
pub struct AlertmanagerReceiver {
    endpoint: JsonEndpoint,
}

impl AlertmanagerReceiver {
    /// `url` is Alertmanager's base URL (`http://am:9093`).
    pub fn new(url: &str, timeout: Duration) -> Result<Self, EndpointError> {
        Ok(AlertmanagerReceiver {
            endpoint: JsonEndpoint::new(url, timeout)?,
        })
    }
}

impl Receiver for AlertmanagerReceiver {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            let mut url = self.endpoint.url.clone();
            let path = format!("{}/api/v2/alerts", url.path().trim_end_matches('/'));
            url.set_path(&path);
            self.endpoint
                .post(url, &alertmanager_alerts(&batch.notifications))
                .await
        })
    }
}

/// Posts Alertmanager's webhook payload (version 4), one request per notification.
#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    endpoint: JsonEndpoint,
    external_url: String,
}

impl WebhookReceiver {
    pub fn new(url: &str, timeout: Duration, external_url: &str) -> Result<Self, EndpointError> {
        Ok(WebhookReceiver {
            endpoint: JsonEndpoint::new(url, timeout)?,
            external_url: external_url.to_owned(),
        })
    }
}

impl Receiver for WebhookReceiver {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            for n in &batch.notifications {
                let body = webhook_payload(n, &self.external_url);
                self.endpoint.post(self.endpoint.url.clone(), &body).await?;
            }
            Ok(())
        })
    }
}

/// Logs what would be sent (`tocsin run --dry-run`).
#[derive(Debug, Clone, Default)]
pub struct LogReceiver;

impl Receiver for LogReceiver {
    fn send<'a>(&'a self, batch: &'a Batch) -> BoxFuture<'a, Result<(), DeliveryError>> {
        Box::pin(async move {
            for n in &batch.notifications {
                tracing::info!(
                    receiver = %n.receiver,
                    group = %n.group_key,
                    status = n.status().as_str(),
                    alerts = n.alerts.len(),
                    "dry run: notification not sent"
                );
            }
            // DingTalk messages in full, as they would be sent, for reviewing wording.
            for m in &batch.messages {
                tracing::info!(
                    receiver = %m.receiver,
                    group = %m.about,
                    part = %part_text(m.part),
                    alerts = m.alerts,
                    title = %m.rendered.title,
                    text = %m.rendered.text,
                    "dry run: message not sent"
                );
            }
            Ok(())
        })
    }
}

/// `2/47`, or `1/1` for a message that is not split.
pub fn part_text(part: Option<(usize, usize)>) -> String {
    let (k, n) = part.unwrap_or((1, 1));
    format!("{k}/{n}")
}

/// Alertmanager's webhook message, version 4.
pub fn webhook_payload(n: &Notification, external_url: &str) -> Value {
    json!({
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": 0,
        "status": n.status().as_str(),
        "receiver": n.receiver,
        "groupLabels": n.group_labels,
        "commonLabels": n.common_labels(),
        "commonAnnotations": n.common_annotations(),
        "externalURL": external_url,
        "alerts": n.alerts.iter().map(|a| json!({
            "status": a.status.as_str(),
            "labels": a.labels,
            "annotations": a.annotations,
            "startsAt": a.starts_at.rfc3339_nano(),
            "endsAt": ends_at(a),
            "generatorURL": a.generator_url,
            "fingerprint": format!("{:016x}", a.fingerprint),
        })).collect::<Vec<_>>(),
    })
}

/// The body of `POST /api/v2/alerts`: every alert of every notification, once.
pub fn alertmanager_alerts(ns: &[Notification]) -> Value {
    // Queued resends of one alert: only its newest version (the last queued) goes out.
    let mut seen = std::collections::HashSet::new();
    let mut newest: Vec<&crate::alert::NotifyAlert> = ns
        .iter()
        .rev()
        .flat_map(|n| n.alerts.iter().rev())
        .filter(|a| seen.insert(a.fingerprint))
        .collect();
    newest.reverse();
    let alerts: Vec<Value> = newest
        .into_iter()
        .map(|a| {
            let mut v = json!({
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": a.starts_at.rfc3339_nano(),
                "generatorURL": a.generator_url,
            });
            // A firing alert without an end lets Alertmanager apply its resolve_timeout.
            if let Some(end) = a.ends_at {
                v["endsAt"] = json!(end.rfc3339_nano());
            }
            v
        })
        .collect();
    Value::Array(alerts)
}

fn ends_at(a: &NotifyAlert) -> String {
    match (a.status, a.ends_at) {
        (crate::alert::AlertStatus::Resolved, Some(e)) => e.rfc3339_nano(),
        _ => GO_ZERO_TIME.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{labels, Labels};
    use crate::time::Timestamp;

    fn n() -> Notification {
        let mut a = NotifyAlert::firing(
            labels([
                ("alertname", "HighCPU"),
                ("instance", "n1"),
                ("severity", "critical"),
            ]),
            labels([("summary", "CPU above 90%")]),
            Timestamp::from_millis(1_787_214_060_000),
        );
        a.generator_url = "http://prom/graph".into();
        let mut b = a.clone();
        b.labels.insert("instance".into(), "n2".into());
        b.fingerprint = crate::alert::fingerprint(&b.labels);
        let b = b.resolved_at(Timestamp::from_millis(1_787_214_120_000));
        Notification {
            receiver: "ops".into(),
            group_key: "{}:{alertname=\"HighCPU\"}".into(),
            group_labels: labels([("alertname", "HighCPU")]),
            alerts: vec![a, b],
            created_at: Timestamp::from_secs(0),
            mention: None,
        }
    }

    #[test]
    fn webhook_payload_has_version_4_fields() {
        let v = webhook_payload(&n(), "http://tocsin:9096");
        assert_eq!(v["version"], "4");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["groupLabels"], json!({"alertname": "HighCPU"}));
        assert_eq!(
            v["commonLabels"],
            json!({"alertname": "HighCPU", "severity": "critical"})
        );
        assert_eq!(v["commonAnnotations"], json!({"summary": "CPU above 90%"}));
        assert_eq!(v["alerts"][0]["endsAt"], GO_ZERO_TIME);
        assert_eq!(v["alerts"][0]["startsAt"], "2026-08-20T08:21:00Z");
        assert_eq!(v["alerts"][1]["status"], "resolved");
        assert_eq!(v["alerts"][1]["endsAt"], "2026-08-20T08:22:00Z");
        assert_eq!(v["alerts"][0]["fingerprint"].as_str().unwrap().len(), 16);
        assert_eq!(v["externalURL"], "http://tocsin:9096");
    }

    #[test]
    fn alertmanager_body_lists_each_alert_once_with_end_only_when_known() {
        let v = alertmanager_alerts(&[n(), n()]);
        let arr = v.as_array().unwrap();
        assert_eq!(arr.len(), 2);
        assert!(arr[0].get("endsAt").is_none());
        assert_eq!(arr[1]["endsAt"], "2026-08-20T08:22:00Z");
        assert_eq!(arr[0]["generatorURL"], "http://prom/graph");
        let _ = Labels::new();
    }

    #[test]
    fn endpoint_errors_never_show_user_info_or_query() {
        let e = JsonEndpoint::new("ftp://user:pw@host/x?token=abc", Duration::from_secs(1))
            .unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(!text.contains("pw") && !text.contains("abc"), "{text}");
        let ok = JsonEndpoint::new(
            "http://user:pw@host:81/hook?token=abc",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(ok.shown(), "http://host:81/hook");
    }
}

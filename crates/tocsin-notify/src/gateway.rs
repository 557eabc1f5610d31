//! Gateway mode: Alertmanager's webhook payload (version 4), as its `webhook_configs` post
//! it, turned into a [`Notification`] for one of tocsin's DingTalk receivers. Alertmanager
//! has already routed, grouped and timed it, so it skips tocsin's aggregation groups and
//! goes straight to the robot's lane ([`crate::pipeline::Pipeline::submit`]): the same
//! rate limit, digests, retries and outbox as tocsin's own alerts.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::alert::{fingerprint, AlertStatus, Labels, NotifyAlert};
use crate::notification::{sort_alerts, Notification};
use crate::time::Timestamp;

/// Why a posted payload was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("not an Alertmanager webhook payload: {0}")]
    Malformed(String),
    #[error("unsupported webhook payload version {0:?} (Alertmanager sends \"4\")")]
    Version(String),
    #[error("alert {index}: {field} {value:?} is not an RFC 3339 time")]
    Time {
        index: usize,
        field: &'static str,
        value: String,
    },
    #[error("the payload holds no alerts")]
    Empty,
}

/// The fields of Alertmanager's `webhook.Message` that tocsin uses; others are ignored,
/// as the DingTalk gateway it replaces ignores them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    version: String,
    #[serde(default)]
    group_key: String,
    #[serde(default)]
    group_labels: BTreeMap<String, String>,
    #[serde(default)]
    alerts: Vec<Alert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(rename = "generatorURL", default)]
    generator_url: String,
}

/// Go's zero `time.Time`, which Alertmanager sends as the end of a firing alert.
fn is_zero_time(s: &str) -> bool {
    s.is_empty() || s.starts_with("0001-01-01")
}

fn time(index: usize, field: &'static str, value: &str) -> Result<Timestamp, PayloadError> {
    // The pipeline works in milliseconds.
    Timestamp::parse_rfc3339(value)
        .map(|t| Timestamp::from_millis(t.unix_millis()))
        .ok_or_else(|| PayloadError::Time {
            index,
            field,
            value: value.to_owned(),
        })
}

/// Decodes `body` into a notification for tocsin's receiver `receiver`.
pub fn decode(receiver: &str, body: &[u8], now: Timestamp) -> Result<Notification, PayloadError> {
    let message: Message =
        serde_json::from_slice(body).map_err(|e| PayloadError::Malformed(e.to_string()))?;
    if message.version != "4" {
        return Err(PayloadError::Version(message.version));
    }
    if message.alerts.is_empty() {
        return Err(PayloadError::Empty);
    }
    let mut alerts = Vec::with_capacity(message.alerts.len());
    for (index, a) in message.alerts.into_iter().enumerate() {
        let labels: Labels = a.labels.into_iter().collect();
        let starts_at = time(index, "startsAt", &a.starts_at)?;
        let ends_at = if is_zero_time(&a.ends_at) {
            None
        } else {
            Some(time(index, "endsAt", &a.ends_at)?)
        };
        let status = if a.status == "resolved" {
            AlertStatus::Resolved
        } else {
            AlertStatus::Firing
        };
        alerts.push(NotifyAlert {
            fingerprint: fingerprint(&labels),
            labels: labels.into(),
            annotations: a.annotations.into_iter().collect(),
            starts_at,
            ends_at,
            generator_url: a.generator_url,
            status,
        });
    }
    sort_alerts(&mut alerts);
    Ok(Notification {
        receiver: receiver.to_owned(),
        group_key: format!("gateway:{}", message.group_key),
        group_labels: message.group_labels.into_iter().collect(),
        alerts,
        created_at: now,
        mention: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Alertmanager 0.25 posted in the gateway end-to-end test, trimmed.
    const PAYLOAD: &str = r#"{"receiver":"dingtalk","status":"firing",
      "alerts":[
        {"status":"firing","labels":{"alertname":"FlinkJobRestarting","job_name":"orders"},
         "annotations":{"summary":"orders restarts"},"startsAt":"2026-11-25T08:00:00.123456789Z",
         "endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prom/graph?g0.expr=x",
         "fingerprint":"6d2f8d5d1c7b0e3a"},
        {"status":"resolved","labels":{"alertname":"FlinkJobRestarting","job_name":"billing"},
         "annotations":{},"startsAt":"2026-11-25T07:00:00+08:00",
         "endsAt":"2026-11-25T08:01:00Z","generatorURL":"","fingerprint":"00"}],
      "groupLabels":{"alertname":"FlinkJobRestarting"},
      "commonLabels":{"alertname":"FlinkJobRestarting"},"commonAnnotations":{},
      "externalURL":"http://am:9093","version":"4",
      "groupKey":"{}:{alertname=\"FlinkJobRestarting\"}","truncatedAlerts":0}"#;

    #[test]
    fn a_webhook_payload_becomes_one_notification() {
        let n = decode("flink-oncall", PAYLOAD.as_bytes(), Timestamp::from_secs(9)).unwrap();
        assert_eq!(n.receiver, "flink-oncall");
        assert_eq!(n.group_key, "gateway:{}:{alertname=\"FlinkJobRestarting\"}");
        assert_eq!(
            n.group_labels.get("alertname").unwrap(),
            "FlinkJobRestarting"
        );
        assert_eq!(n.alerts.len(), 2);
        let firing = &n.alerts[0];
        assert_eq!(firing.status, AlertStatus::Firing);
        assert_eq!(firing.ends_at, None, "Go's zero time means no end");
        assert_eq!(
            firing.annotations.get("summary").unwrap(),
            "orders restarts"
        );
        assert_eq!(firing.fingerprint, fingerprint(&firing.labels));
        let resolved = &n.alerts[1];
        assert_eq!(resolved.status, AlertStatus::Resolved);
        assert_eq!(
            resolved.starts_at,
            Timestamp::parse_rfc3339("2026-11-24T23:00:00Z").unwrap()
        );
        assert!(resolved.ends_at.is_some());
    }

    #[test]
    fn payloads_that_are_not_alertmanagers_are_refused_with_the_reason() {
        let at = Timestamp::from_secs(0);
        assert!(matches!(
            decode("r", b"{not json", at),
            Err(PayloadError::Malformed(_))
        ));
        assert_eq!(
            decode("r", br#"{"version":"3","alerts":[]}"#, at),
            Err(PayloadError::Version("3".into()))
        );
        assert_eq!(
            decode("r", br#"{"version":"4","alerts":[]}"#, at),
            Err(PayloadError::Empty)
        );
        let bad_time = PAYLOAD.replace("2026-11-25T08:00:00.123456789Z", "yesterday");
        let err = decode("r", bad_time.as_bytes(), at).unwrap_err();
        assert_eq!(
            err.to_string(),
            "alert 0: startsAt \"yesterday\" is not an RFC 3339 time"
        );
    }
}

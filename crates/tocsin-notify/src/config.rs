//! The `notify:` section of tocsin's config file (README.md, "tocsin run"; docs/architecture.md, "Notification pipeline"): a routing tree and the
//! receivers it names. Field names and defaults follow Alertmanager's `route` and
//! `receivers`, so an Alertmanager config's routing part carries over as is.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::dingtalk::{DingTalkReceiverConfig, Mention};
use crate::time::parse_duration;

/// `notify:`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    pub route: RouteConfig,
    #[serde(default)]
    pub receivers: Vec<ReceiverConfig>,
}

/// One node of the routing tree. Unset fields are inherited from the parent; the root's
/// unset timers take Alertmanager's defaults (30s, 5m, 4h).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub receiver: Option<String>,
    /// Labels to group by; `['...']` groups by all labels (one group per alert).
    pub group_by: Option<Vec<String>>,
    pub group_wait: Option<PromDuration>,
    pub group_interval: Option<PromDuration>,
    pub repeat_interval: Option<PromDuration>,
    /// `['severity="critical"', 'job=~"flink.*"']`.
    #[serde(default)]
    pub matchers: Vec<String>,
    /// Deprecated in Alertmanager but common: equality matchers.
    #[serde(default, rename = "match")]
    pub match_eq: BTreeMap<String, String>,
    /// Deprecated in Alertmanager but common: regex matchers (anchored).
    #[serde(default)]
    pub match_re: BTreeMap<String, String>,
    /// Keep looking at later siblings after this route matched.
    #[serde(default, rename = "continue")]
    pub continue_matching: bool,
    /// DingTalk `@` mentions for what this route sends, instead of the receiver's own
    /// `mention:` (e.g. page the on-call only for critical alerts); inherited by child
    /// routes that set none.
    pub mention: Option<Mention>,
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// A named receiver: any of a DingTalk robot, an Alertmanager, a webhook.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverConfig {
    pub name: String,
    pub dingtalk: Option<DingTalkReceiverConfig>,
    pub alertmanager: Option<UrlConfig>,
    pub webhook: Option<UrlConfig>,
    /// Whether resolved notices are sent (Alertmanager's default: true).
    #[serde(default = "yes")]
    pub send_resolved: bool,
}

fn yes() -> bool {
    true
}

/// An HTTP endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlConfig {
    pub url: String,
    /// Per-request timeout (default 10s).
    pub timeout: Option<PromDuration>,
}

/// A duration written in Prometheus syntax (`30s`, `5m`, `4h`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PromDuration(pub Duration);

impl fmt::Debug for PromDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&tocsin_core::format_duration(
            i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX),
        ))
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(PromDuration)
            .map_err(serde::de::Error::custom)
    }
}

impl NotifyConfig {
    pub fn receiver(&self, name: &str) -> Option<&ReceiverConfig> {
        self.receivers.iter().find(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_md_example_deserializes() {
        let json = r#"{
          "route": {"receiver": "flink-oncall", "group_by": ["alertname", "job"],
                    "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
                    "routes": [{"matchers": ["severity=\"critical\""], "receiver": "pager",
                                "continue": true, "match_re": {"job": "flink.*"}}]},
          "receivers": [
            {"name": "flink-oncall", "dingtalk": {"access_token_file": "/etc/t",
              "secret_file": "/etc/s", "message": "markdown",
              "mention": {"all": false, "mobiles": ["13800000000"]}}},
            {"name": "pager", "alertmanager": {"url": "http://am:9093"},
             "webhook": {"url": "http://hook/x", "timeout": "5s"}, "send_resolved": false}
          ]
        }"#;
        let c: NotifyConfig = serde_json::from_str(json).unwrap();
        assert_eq!(
            c.route.group_wait,
            Some(PromDuration(Duration::from_secs(30)))
        );
        assert!(c.route.routes[0].continue_matching);
        assert!(c.receiver("flink-oncall").unwrap().send_resolved);
        assert!(!c.receiver("pager").unwrap().send_resolved);
        assert_eq!(
            c.receiver("pager")
                .unwrap()
                .webhook
                .as_ref()
                .unwrap()
                .timeout,
            Some(PromDuration(Duration::from_secs(5)))
        );
    }

    #[test]
    fn unknown_fields_and_bad_durations_are_rejected() {
        let e =
            serde_json::from_str::<NotifyConfig>(r#"{"route": {"receiver": "x", "grup_by": []}}"#)
                .unwrap_err();
        assert!(e.to_string().contains("grup_by"), "{e}");
        let e = serde_json::from_str::<NotifyConfig>(r#"{"route": {"group_wait": "30 s"}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("not a valid duration"), "{e}");
    }
}

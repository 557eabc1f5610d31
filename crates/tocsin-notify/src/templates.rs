//! User templates for a DingTalk receiver's messages (`title:` / `text:` in its
//! `dingtalk:` block), written as for Alertmanager: Go `text/template` over Alertmanager's
//! notification data (`.Status`, `.Alerts.Firing`, `.CommonLabels.SortedPairs`, …), with
//! Alertmanager's functions. Parsed once, when the config is loaded; rendered per message.
//!
//! They replace the full layout of one group's message ([`crate::render::render_full`]).
//! Digests — several groups merged while the robot's rate limit is exhausted — keep the
//! built-in compact layout: they must report every pending alert within the size limit,
//! which no user template can promise.

use std::collections::BTreeMap;
use std::sync::Arc;

use thiserror::Error;
use tocsin_template::{
    parse_notification_template, NotificationAlert, NotificationData, RenderError, Template,
    TimeZone,
};

use crate::config::NotifyConfig;
use crate::dingtalk::DingTalkReceiverConfig;
use crate::notification::Notification;
use crate::render::{render_full, RenderOptions, Rendered};

/// A receiver's parsed `title` and `text` templates.
#[derive(Clone, Debug)]
pub struct MessageTemplates {
    title: Option<Template>,
    text: Option<Template>,
}

/// Templates per receiver name (cheap to clone into every lane's options).
pub type ReceiverTemplates = Arc<BTreeMap<String, MessageTemplates>>;

/// A template in the config that does not parse.
#[derive(Debug, Error)]
#[error("receiver {receiver:?}: dingtalk.{field} template, line {line}{column}: {message}")]
pub struct TemplateConfigError {
    pub receiver: String,
    /// `title` or `text`.
    pub field: &'static str,
    /// 1-based, within the template text.
    pub line: usize,
    /// `, column N` when known.
    column: String,
    pub message: String,
}

impl MessageTemplates {
    /// Parses `cfg`'s templates; None when it has neither.
    pub fn from_config(
        receiver: &str,
        cfg: &DingTalkReceiverConfig,
    ) -> Result<Option<MessageTemplates>, TemplateConfigError> {
        let parse = |field: &'static str, text: &Option<String>| {
            text.as_deref()
                .map(|t| {
                    parse_notification_template(&format!("{receiver}.{field}"), t).map_err(|e| {
                        TemplateConfigError {
                            receiver: receiver.to_owned(),
                            field,
                            line: e.line(),
                            column: e
                                .column()
                                .map(|c| format!(", column {c}"))
                                .unwrap_or_default(),
                            message: e.message().to_owned(),
                        }
                    })
                })
                .transpose()
        };
        let title = parse("title", &cfg.title)?;
        let text = parse("text", &cfg.text)?;
        if title.is_none() && text.is_none() {
            return Ok(None);
        }
        Ok(Some(MessageTemplates { title, text }))
    }

    /// Renders `n`'s message: the templates set, and the full layout's title or text for
    /// the one not set. An error is the template's execution error (Go's text).
    pub fn render(&self, n: &Notification, opts: &RenderOptions) -> Result<Rendered, RenderError> {
        let data = notification_data(n, &opts.external_url, opts.time_zone);
        let title = self
            .title
            .as_ref()
            .map(|t| t.render_notification(&data))
            .transpose()?;
        let text = self
            .text
            .as_ref()
            .map(|t| t.render_notification(&data))
            .transpose()?;
        Ok(match (title, text) {
            (Some(title), Some(text)) => Rendered { title, text },
            (title, text) => {
                let full = render_full(n, opts);
                Rendered {
                    title: title.unwrap_or(full.title),
                    text: text.unwrap_or(full.text),
                }
            }
        })
    }
}

impl NotifyConfig {
    /// Every DingTalk receiver's templates, parsed; the first that does not parse is the
    /// error.
    pub fn message_templates(&self) -> Result<ReceiverTemplates, TemplateConfigError> {
        let mut out = BTreeMap::new();
        for r in &self.receivers {
            if let Some(d) = &r.dingtalk {
                if let Some(t) = MessageTemplates::from_config(&r.name, d)? {
                    out.insert(r.name.clone(), t);
                }
            }
        }
        Ok(Arc::new(out))
    }
}

/// Alertmanager's `template.Data` for `n`. Firing alerts carry no end (Go's zero time), as
/// in Alertmanager's webhook payloads. Their times are in `zone` (`global.time_zone`), as
/// an Alertmanager's are in the zone of its `TZ`.
pub fn notification_data(n: &Notification, external_url: &str, zone: TimeZone) -> NotificationData {
    const NS_PER_MS: i64 = 1_000_000;
    NotificationData {
        receiver: n.receiver.clone(),
        status: n.status().as_str().to_owned(),
        alerts: n
            .alerts
            .iter()
            .map(|a| NotificationAlert {
                status: a.status.as_str().to_owned(),
                labels: (*a.labels).clone(),
                annotations: (*a.annotations).clone(),
                starts_at: a.starts_at.unix_millis().saturating_mul(NS_PER_MS),
                ends_at: match a.status {
                    crate::alert::AlertStatus::Resolved => {
                        a.ends_at.map(|t| t.unix_millis().saturating_mul(NS_PER_MS))
                    }
                    crate::alert::AlertStatus::Firing => None,
                },
                generator_url: a.generator_url.clone(),
                fingerprint: format!("{:016x}", a.fingerprint),
                time_zone: zone,
            })
            .collect(),
        group_labels: n.group_labels.clone(),
        common_labels: n.common_labels(),
        common_annotations: n.common_annotations(),
        external_url: external_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{labels, NotifyAlert};
    use crate::dingtalk::{RateLimit, SharedWindow};
    use crate::lane::{deliver, Lane, RobotLane};
    use crate::time::Timestamp;
    use std::time::Duration;

    fn note(group: &str, alerts: Vec<NotifyAlert>) -> Notification {
        Notification {
            receiver: "oncall".into(),
            group_key: format!("{{}}:{{alertname=\"{group}\"}}"),
            group_labels: labels([("alertname", group)]),
            alerts,
            created_at: Timestamp::from_secs(100),
            mention: None,
        }
    }

    fn alert(name: &str, inst: &str) -> NotifyAlert {
        NotifyAlert::firing(
            labels([("alertname", name), ("instance", inst)]),
            labels([("summary", "down")]),
            Timestamp::from_secs(60),
        )
    }

    fn templates(title: Option<&str>, text: Option<&str>) -> ReceiverTemplates {
        let cfg = DingTalkReceiverConfig {
            title: title.map(str::to_owned),
            text: text.map(str::to_owned),
            ..DingTalkReceiverConfig::default()
        };
        let t = MessageTemplates::from_config("oncall", &cfg)
            .expect("parses")
            .expect("some");
        Arc::new(BTreeMap::from([("oncall".to_owned(), t)]))
    }

    #[test]
    fn data_has_alertmanager_shape_firing_alerts_end_at_go_zero_time() {
        let mut r = alert("A", "2").resolved_at(Timestamp::from_secs(90));
        r.fingerprint = 0xab;
        let d = notification_data(
            &note("A", vec![alert("A", "1"), r]),
            "http://t",
            TimeZone::UTC,
        );
        assert_eq!(d.status, "firing");
        assert_eq!(d.alerts[0].ends_at, None);
        assert_eq!(d.alerts[1].status, "resolved");
        assert_eq!(d.alerts[1].ends_at, Some(90_000_000_000));
        assert_eq!(d.alerts[1].starts_at, 60_000_000_000);
        assert_eq!(d.alerts[1].fingerprint, "00000000000000ab");
        assert_eq!(d.common_labels, labels([("alertname", "A")]));
        assert_eq!(d.common_annotations, labels([("summary", "down")]));
        assert_eq!(d.external_url, "http://t");
        assert_eq!(d.group_labels, labels([("alertname", "A")]));
    }

    #[test]
    fn parse_errors_name_receiver_field_line_and_column() {
        let cfg = DingTalkReceiverConfig {
            title: Some("ok".into()),
            text: Some("line one\n  {{ .Status | nosuch }}".into()),
            ..DingTalkReceiverConfig::default()
        };
        let e = MessageTemplates::from_config("oncall", &cfg).unwrap_err();
        assert_eq!(
            e.to_string(),
            "receiver \"oncall\": dingtalk.text template, line 2, column 16: function \"nosuch\" not defined"
        );
        let none = MessageTemplates::from_config("oncall", &DingTalkReceiverConfig::default());
        assert!(none.unwrap().is_none());
    }

    #[test]
    fn render_error_falls_back_to_the_full_layout() {
        let opts = RenderOptions {
            templates: templates(None, Some("{{ index .Alerts 3 }}")),
            ..RenderOptions::default()
        };
        let n = note("A", vec![alert("A", "1")]);
        assert_eq!(crate::render::render_templated(&n, &opts), None);
        let other = Notification {
            receiver: "someone-else".into(),
            ..n
        };
        assert_eq!(crate::render::render_templated(&other, &opts), None);
    }

    #[test]
    fn digests_under_the_rate_limit_keep_the_compact_layout() {
        let opts = RenderOptions {
            templates: templates(Some("CUSTOM {{ .Status }}"), Some("CUSTOM")),
            ..RenderOptions::default()
        };
        let mut lane = Lane::robot(RobotLane::new(
            SharedWindow::new(RateLimit {
                messages: 2,
                per: Duration::from_secs(60),
                throttle: Duration::from_secs(600),
            }),
            opts,
        ));
        // Two groups, two slots: one templated message each.
        for (i, g) in ["A", "B"].into_iter().enumerate() {
            lane.push(i as u64, note(g, vec![alert(g, "1")]));
        }
        let now = Timestamp::from_secs(100);
        let b = lane.plan(now).expect("a batch");
        assert!(!b.digest);
        assert_eq!(b.messages.len(), 2);
        assert!(b
            .messages
            .iter()
            .all(|m| m.rendered.title == "CUSTOM firing"));
        deliver(&mut lane, &b, now);
        // A minute later, five groups for two slots: a digest, in the built-in layout.
        let later = now + Duration::from_secs(61);
        for (i, g) in ["C", "D", "E", "F", "G"].into_iter().enumerate() {
            lane.push(10 + i as u64, note(g, vec![alert(g, "1")]));
        }
        let b = lane.plan(later).expect("a batch");
        assert!(b.digest, "{:?}", b.messages);
        assert!(b
            .messages
            .iter()
            .all(|m| !m.rendered.text.contains("CUSTOM")));
        let all: String = b
            .messages
            .iter()
            .map(|m| m.rendered.text.as_str())
            .collect();
        for g in ["C", "D", "E", "F", "G"] {
            assert!(all.contains(g), "{all}");
        }
    }

    #[test]
    fn unset_title_or_text_come_from_the_full_layout() {
        let n = note("A", vec![alert("A", "1")]);
        let opts = RenderOptions::default();
        let full = render_full(&n, &opts);
        let t = templates(None, Some("{{ len .Alerts }} {{ .CommonLabels }}"));
        let r = t["oncall"].render(&n, &opts).unwrap();
        assert_eq!(r.title, full.title);
        assert_eq!(r.text, "1 map[alertname:A instance:1]");
    }

    /// The example in README.md's config section.
    #[test]
    fn readme_example_renders_firing_and_resolved_alerts() {
        let title = r#"[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }}"#;
        let text = concat!(
            r#"{{ define "alert" }}- **{{ .Labels.severity }}** {{ .Annotations.summary }} (since {{ .StartsAt.Format "2006-01-02 15:04:05" }})"#,
            "\n",
            r#"{{ end }}{{ range .Alerts.Firing }}{{ template "alert" . }}{{ end }}"#,
            "\n",
            r#"{{ range .Alerts.Resolved }}- resolved: {{ .Annotations.summary }} at {{ .EndsAt.Format "15:04:05" }}"#,
            "\n",
            r#"{{ end }}{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}"#,
            "\n",
        );
        let t = templates(Some(title), Some(text));
        let mut a = alert("HighCPU", "1");
        a.labels.insert("severity".into(), "critical".into());
        let b = alert("HighCPU", "2").resolved_at(Timestamp::from_secs(3725));
        let r = t["oncall"]
            .render(&note("HighCPU", vec![a, b]), &RenderOptions::default())
            .unwrap();
        assert_eq!(r.title, "[FIRING:1] HighCPU");
        assert_eq!(
            r.text,
            "- **critical** down (since 1970-01-01 00:01:00)\n\n- resolved: down at 01:02:05\nalertname=HighCPU \n"
        );
    }
}

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
                            column: e.column().map(|c| format!(", column {c}")).unwrap_or_default(),
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
        let data = notification_data(n, &opts.external_url);
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
/// in Alertmanager's webhook payloads.
pub fn notification_data(n: &Notification, external_url: &str) -> NotificationData {
    const NS_PER_MS: i64 = 1_000_000;
    NotificationData {
        receiver: n.receiver.clone(),
        status: n.status().as_str().to_owned(),
        alerts: n
            .alerts
            .iter()
            .map(|a| NotificationAlert {
                status: a.status.as_str().to_owned(),
                labels: a.labels.clone(),
                annotations: a.annotations.clone(),
                starts_at: a.starts_at.as_millis().saturating_mul(NS_PER_MS),
                ends_at: match a.status {
                    crate::alert::AlertStatus::Resolved => {
                        a.ends_at.map(|t| t.as_millis().saturating_mul(NS_PER_MS))
                    }
                    crate::alert::AlertStatus::Firing => None,
                },
                generator_url: a.generator_url.clone(),
                fingerprint: format!("{:016x}", a.fingerprint),
            })
            .collect(),
        group_labels: n.group_labels.clone(),
        common_labels: n.common_labels(),
        common_annotations: n.common_annotations(),
        external_url: external_url.to_owned(),
    }
}

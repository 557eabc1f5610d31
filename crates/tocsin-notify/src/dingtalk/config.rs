//! The `dingtalk:` block of a receiver in tocsin's config file.

use std::path::PathBuf;

use serde::Deserialize;

use super::message::{Mention, MessageFormat};
use super::secret::{Secret, SecretError, SecretSource};
use super::window::RateLimit;

/// DingTalk's robot endpoint; tests point `url` at `tocsin sink dingtalk` instead.
pub const DEFAULT_URL: &str = "https://oapi.dingtalk.com/robot/send";

/// One DingTalk robot as configured. The token and secret are never inline: they are read
/// from a file or an environment variable when the receiver is built.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DingTalkReceiverConfig {
    /// The robot endpoint without query string.
    #[serde(default = "default_url")]
    pub url: String,
    pub access_token_file: Option<PathBuf>,
    pub access_token_env: Option<String>,
    /// Present when the robot has signing (加签) on.
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
    #[serde(default)]
    pub message: MessageFormat,
    #[serde(default)]
    pub mention: Mention,
    /// One of the robot's custom keywords, for robots secured by keywords.
    pub keyword: Option<String>,
    /// Message title template (Alertmanager-style, see [`crate::templates`]); default:
    /// the built-in `[FIRING:2] HighCPU`.
    pub title: Option<String>,
    /// Message text template; default: the built-in full layout.
    pub text: Option<String>,
    /// The robot's limit as tocsin keeps it (default 20 messages per 63 s, 10 minutes
    /// held back after a 130101); receivers on the same robot use the first one's.
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// How alert storms are reported.
    #[serde(default)]
    pub storm: StormConfig,
}

/// `storm:` of a `dingtalk:` receiver: the layout used when more is due than the robot's
/// rate limit lets through (a summary message, then numbered parts listing the alerts).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StormConfig {
    /// Messages one storm digest may take, summary included; alerts beyond are counted
    /// per alertname (`… and 3,200 more FlinkJobNotRunning`) instead of listed.
    pub max_messages: usize,
    /// A listed alert's `summary` annotation is cut to this many characters.
    pub summary_chars: usize,
}

impl Default for StormConfig {
    /// 60 messages go out within three windows (about two minutes at DingTalk's limit) and
    /// list about 14,000 alerts with short summaries.
    fn default() -> Self {
        StormConfig {
            max_messages: 60,
            summary_chars: 80,
        }
    }
}

fn default_url() -> String {
    DEFAULT_URL.to_owned()
}

impl Default for DingTalkReceiverConfig {
    fn default() -> Self {
        DingTalkReceiverConfig {
            url: default_url(),
            access_token_file: None,
            access_token_env: None,
            secret_file: None,
            secret_env: None,
            message: MessageFormat::default(),
            mention: Mention::default(),
            keyword: None,
            title: None,
            text: None,
            rate_limit: RateLimit::default(),
            storm: StormConfig::default(),
        }
    }
}

/// A robot's credentials, loaded.
#[derive(Clone, Debug)]
pub struct RobotCredentials {
    pub access_token: Secret,
    pub secret: Option<Secret>,
}

impl DingTalkReceiverConfig {
    /// Reads the access token (required) and the signing secret (optional).
    pub fn load_credentials(&self) -> Result<RobotCredentials, SecretError> {
        let token = SecretSource::from_pair(
            "access token",
            self.access_token_file.as_deref(),
            self.access_token_env.as_deref(),
        )?
        .ok_or(SecretError::Missing {
            what: "access token",
            hint: "set access_token_file or access_token_env",
        })?;
        let secret = SecretSource::from_pair(
            "signing secret",
            self.secret_file.as_deref(),
            self.secret_env.as_deref(),
        )?;
        Ok(RobotCredentials {
            access_token: token.load("access token")?,
            secret: secret.map(|s| s.load("signing secret")).transpose()?,
        })
    }
}

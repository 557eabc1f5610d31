//! The DingTalk custom group robot ("自定义机器人") protocol: message bodies, signing,
//! keyword and mention rules, the size limit, what DingTalk's answers mean, and a client
//! that sends one message to one robot.
//!
//! Pure parts (testable without a network): [`Message`] and its wire JSON, [`sign`],
//! [`fit`] (splitting under the 20,000-byte limit), [`classify`] (errcode → [`Outcome`]),
//! [`RetryPolicy::backoff`]. The routing/grouping pipeline sits on top of
//! [`DingTalkClient`] and is not here yet.
//!
//! Secrets (access token, signing secret) are [`Secret`]s: they print as `***`, and the
//! client shows robot URLs as `…?access_token=***`.

mod classify;
mod client;
mod config;
mod message;
mod retry;
mod secret;
mod sign;
mod split;
mod window;

pub use classify::{classify, Outcome, RejectKind};
pub use client::{ClientError, ClientOptions, Delivery, DingTalkClient, SendError, SendErrorKind};
pub use config::{DingTalkReceiverConfig, RobotCredentials, StormConfig, DEFAULT_URL};
pub use message::{Body, Mention, Message, MessageFormat};
pub use retry::RetryPolicy;
pub use secret::{Secret, SecretError, SecretSource};
pub use sign::{sign, Signature};
pub use split::{fit, SplitOptions, MAX_BODY_BYTES};
pub use window::{RateLimit, SendWindow, SharedWindow};

//! Notifications: routing, grouping, repeat/resolve, rate limits, retries and the durable
//! outbox in front of every receiver (DingTalk robots, Alertmanager, generic webhooks).
//!
//! It sees alerts as label sets with state and timestamps; it knows nothing about PromQL
//! or rule files.
//!
//! Receivers so far: [`dingtalk`] (the robot protocol and a client for one robot).

pub mod alert;
pub mod config;
pub mod dingtalk;
pub mod group;
pub mod lane;
pub mod matcher;
pub mod notification;
pub mod outbox;
pub mod render;
pub mod route;
pub mod time;

//! Notifications: routing, grouping, repeat/resolve, rate limits, retries and the durable
//! outbox in front of every receiver (DingTalk robots, Alertmanager, generic webhooks).
//!
//! It sees alerts as label sets with state and timestamps; it knows nothing about PromQL
//! or rule files.
//!
//! Flow: [`group::Dispatcher`] (routing tree, aggregation groups, Alertmanager timing) →
//! [`outbox::Outbox`] (durable) → [`lane::Lane`] (per destination; DingTalk rate limit and
//! digests, [`render`]) → [`receiver::Receiver`]s ([`dingtalk`], Alertmanager v2, webhook
//! v4). [`pipeline::Pipeline`] wires them with time as an argument; [`pipeline::Notifier`]
//! is the async driver; [`simulate::Simulation`] drives it on simulated time (`tocsin diff
//! --config`).

pub mod alert;
pub mod config;
pub mod dingtalk;
pub mod gateway;
pub mod group;
pub mod lane;
pub mod matcher;
pub mod notification;
pub mod outbox;
pub mod pipeline;
pub mod receiver;
pub mod render;
pub mod route;
pub mod simulate;
pub mod storm;
pub mod templates;
pub mod time;
pub mod zoned;

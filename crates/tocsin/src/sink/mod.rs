//! Test receivers that speak a notification service's protocol on loopback, so tests,
//! demos and load tests never post to a real group.

pub mod dingtalk;

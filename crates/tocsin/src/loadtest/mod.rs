//! `tocsin loadtest`: load the notification pipeline (`alerts`) or the rule engine
//! (`rules`) the way production would, on the real clock, and report what it cost.
//!
//! - [`scenario`]: what alerts arrive when (pure: offsets from the start).
//! - [`tally`]: what the robots were told, alert by alert (pure: messages in, report out).
//! - [`alerts`]: drives `tocsin run`'s own notification task ([`crate::notify`]), or posts
//!   to an Alertmanager or a DingTalk gateway and reads what a `tocsin sink dingtalk` got.
//! - [`rules`]: generated rules ([`gen_rules`]) through `tocsin run`'s engine against a
//!   real Prometheus, with what it cost both.
//! - [`progress`]: a progress bar on a terminal, periodic lines otherwise.

pub mod alerts;
pub mod gen_rules;
pub mod progress;
pub mod rules;
pub mod scenario;
pub mod tally;

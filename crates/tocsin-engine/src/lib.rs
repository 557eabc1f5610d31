//! The rule engine: group scheduling, rule evaluation and the alert state machine.
//!
//! It takes loaded rule groups from `tocsin-rules` and a datasource (the HTTP client in
//! `tocsin-query`, or an in-process source in tests and benchmarks), and keeps alert state
//! exactly as Prometheus's rule manager does. It knows nothing about DingTalk or the HTTP
//! server: alerts leave it as plain values for `tocsin-notify`.
//!
//! The core is pure: time is an argument ([`Timestamp`]), query results are passed in
//! ([`Sample`]s), templates are expanded through a caller's [`Expander`]. Modules:
//!
//! - [`alert`]: the alert state machine (Prometheus's `rules/alerting.go`);
//! - [`recording`]: recording-rule outputs (`rules/recording.go`);
//! - [`schedule`]: the slot grid of a group and missed iterations (`rules/group.go`);
//! - [`stale`]: staleness markers for series rules stopped producing;
//! - [`group`]: a group's compiled rules, one record per rule ([`Rule`]), the one
//!   evaluation step both the runner and the tests call ([`GroupDef::eval_rule`]), reload
//!   carry-over;
//! - [`state`] and [`persist`]: snapshots of alert state that survive restarts;
//! - [`restore`]: a state file made from the datasource's `ALERTS_FOR_STATE` when there is
//!   none (a pod rescheduled with an empty state directory);
//! - [`runner`]: the async engine `tocsin run` drives — group tasks on the slot grid over a
//!   `tocsin_query::Datasource`, templates, outputs, notifications, the state file.

pub mod alert;
mod error;
mod expand;
pub mod group;
mod labels;
mod outgoing;
pub mod persist;
pub mod recording;
pub mod restore;
pub mod runner;
pub mod schedule;
pub mod stale;
pub mod state;
mod status;
mod template;
mod time;

pub use alert::{Alert, AlertState, AlertingRule, AlertingState, Scratch};
pub use error::RuleError;
pub use expand::{RuleExpander, RuleTemplates};
pub use group::{EvalOptions, GroupDef, GroupState, Rule, RuleDef, RuleOutcome, RuleState};
pub use labels::{BuildFingerprint, FingerprintHasher, Labels, QueryValue, Sample};
pub use outgoing::{OutgoingAlert, OutgoingState};
pub use persist::PersistError;
pub use recording::RecordingRule;
pub use schedule::{GroupSchedule, GroupTicker, Tick};
pub use state::{RestorePolicy, Snapshot};
pub use status::{Health, RuleStatus};
pub use template::{ExpandError, Expander, TemplateData, Verbatim};
pub use time::Timestamp;

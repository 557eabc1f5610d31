//! The shared vocabulary of tocsin: the basic types and their text forms that every stage
//! (rule loading, PromQL, queries, the engine, notifications, the binary) speaks.
//!
//! Its place: the bottom of the crate graph. It depends on no other tocsin crate and does
//! no I/O — no clock reads except [`Timestamp::now`] for the driving loops, no files, no
//! network. Everything here has exactly one definition in the workspace; other crates
//! re-export it where that keeps their own API stable.
//!
//! - [`time`]: [`Timestamp`] (nanoseconds since the epoch, as Go's `time.Time` holds a
//!   rule-evaluation slot), RFC 3339 formatting and parsing, the civil-calendar helpers;
//! - [`labels`]: [`Labels`], the one label-set type (sorted, one `Arc`'d allocation, with
//!   Prometheus's own fingerprint), its builder and JSON decoding, and [`Sample`];
//! - [`duration`]: Prometheus's `model.Duration` text form (`1h30m`, `500ms`, `0`), parsed
//!   and printed with Prometheus's exact error words;
//! - [`MatchOp`]: the four label-matcher operators PromQL and Alertmanager share.

pub mod duration;
pub mod gostr;
pub mod labels;
pub mod time;

pub use duration::{format_duration, parse_duration, parse_model_duration, DURATION_UNITS};
pub use gostr::go_quote;
pub use labels::{
    write_label_set, BuildFingerprint, FingerprintHasher, Labels, LabelsBuilder, LabelsSeed, Sample,
};
pub use time::{civil_from_days, days_from_civil, Timestamp, GO_ZERO_TIME};

/// The comparison a label matcher makes: `=`, `!=`, `=~`, `!~` (PromQL's operators, the
/// same in Alertmanager's routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

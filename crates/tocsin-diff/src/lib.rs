//! `tocsin diff`: what a rule change would have done, backtested over history — or does,
//! evaluated live next to the deployed Prometheus.
//!
//! Its place: between `tocsin-rules` (loading both rule sets, with `tocsin check`'s errors),
//! `tocsin-query` (range queries and `/api/v1/series` against the Prometheus holding the
//! history), `tocsin-engine` (the pure alert state machine and recording outputs the
//! daemon runs) and `tocsin-notify` (the notification pipeline, run on simulated time). It
//! replays each rule of both sets step by step on the same slots and compares the outcomes
//! alert by alert; the binary only parses flags and prints.
//!
//! Modules:
//! - [`load`]: rule sets as flat lists of rules with their group's interval and limit;
//! - [`backtest`]: the slot grid, chunked range queries, the state machine per step;
//! - [`compare`]: pairing rules across the sets, alert differences and the verdict;
//! - [`live`]: `--live`, the candidate evaluated on Prometheus's own slots and compared
//!   with the server's `/api/v1/rules` or another set evaluated live;
//! - [`notify`]: `--config`, both sides' alerts through the notification pipeline on
//!   simulated time;
//! - [`report`]: the [`Report`] they make (the JSON document) and its time formats;
//! - [`render`]: terminal text, Markdown for a pull request, a self-contained HTML page;
//! - [`selectors`]: the series selectors of an expression;
//! - [`substitute`]: the candidate's added or changed recording rules evaluated first and
//!   fed to the rules reading them.
//!
//! What it does not do (docs/diff.md, "Limitations"): templates calling `query` expand to
//! an error; slots ignore Prometheus's per-group phase.

pub mod backtest;
pub mod compare;
pub mod live;
pub mod load;
pub mod notify;
pub mod render;
pub mod report;
pub mod selectors;
pub mod substitute;

pub use backtest::{BacktestOptions, Cost, Counter, Grid, NoProgress, Progress};
pub use compare::{diff, pair_rules};
pub use load::{expand_paths, load_rule_set, LoadFailure, RuleEntry, RuleSet};
pub use report::{Regression, Report, RuleDiff, Status};

/// An error of `tocsin diff`'s own making (rule and query errors are reported, not raised).
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// Bad paths or flags: exit code 2.
    #[error("{0}")]
    Usage(String),
}

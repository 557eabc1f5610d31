//! Prometheus rule files: the model, strict YAML loading with positions, and every check
//! `promtool check rules` (Prometheus 2.42) makes, in its wording.
//!
//! This crate is where a rule file becomes data. `tocsin check` uses [`check_files`]; the
//! engine loads groups through the same decoder, so a file the checker accepts is exactly a
//! file the engine runs. It knows nothing about HTTP, time or notifications. PromQL is
//! parsed by `tocsin-promql` and templates by `tocsin-template`; this crate decides which
//! parts of a rule are which.
//!
//! Positions: every finding carries a 1-based `line:column` in the file: the value's first
//! character for value errors, the key for name errors and unknown fields, the first key of
//! the mapping for group- and rule-level errors (where promtool prints `0:0`).

mod check;
mod decode;
mod diag;
mod duration;
pub mod layout;
mod lint;
mod model;
mod names;
mod pos;
mod validate;
mod yaml;

pub use check::{
    check_bytes, check_file, check_files, check_text, load_file, missing_dependencies,
    missing_recordings, CheckOptions, Disabled, FileReport, SeriesRead,
};
pub use diag::{checks, Diagnostic, RuleRef, Severity};
pub use duration::Duration;
pub use model::{Entry, Rule, RuleGroup, RuleKind, Spanned};
pub use names::{is_valid_label_name, is_valid_metric_name};
pub use pos::Pos;

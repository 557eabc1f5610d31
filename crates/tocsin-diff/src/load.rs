//! Loading a rule set: files, directories or globs through `tocsin-rules`, the same decoder
//! and checks as `tocsin check` and the daemon, flattened into one entry per rule.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tocsin_engine::{AlertingRule, RecordingRule};
use tocsin_rules::{FileReport, RuleKind};

use crate::DiffError;

/// What a rule is, compiled for evaluation.
#[derive(Clone, Debug)]
pub enum Compiled {
    Alerting(Arc<AlertingRule>),
    Recording(Arc<RecordingRule>),
}

/// One rule of a rule set, with where it came from and how its group runs.
#[derive(Clone, Debug)]
pub struct RuleEntry {
    pub file: String,
    pub line: usize,
    pub group: String,
    /// The group's `interval`, else the default evaluation interval.
    pub interval: Duration,
    /// The group's `limit` (0: none).
    pub limit: usize,
    /// `alert:` or `record:` name.
    pub name: String,
    pub kind: RuleKind,
    /// The expression as Prometheus prints it (what is queried).
    pub expr: String,
    /// How many rules of the same group, kind and name come before this one.
    pub occurrence: usize,
    pub compiled: Compiled,
}

impl RuleEntry {
    pub fn kind_str(&self) -> &'static str {
        match self.kind {
            RuleKind::Alerting => "alerting",
            RuleKind::Recording => "recording",
        }
    }

    /// The differences between two definitions, as short phrases (empty: same rule).
    /// Formatting, comments and file layout never count: expressions are compared in
    /// Prometheus's printed form.
    pub fn definition_changes(&self, new: &RuleEntry) -> Vec<String> {
        let mut out = Vec::new();
        if self.name != new.name {
            out.push(format!("renamed {} → {}", self.name, new.name));
        }
        if self.group != new.group {
            out.push(format!("moved from group {} to {}", self.group, new.group));
        }
        if self.expr != new.expr {
            out.push("expr changed".to_string());
        }
        if self.interval != new.interval {
            out.push(format!(
                "interval {} → {}",
                fmt_duration(self.interval),
                fmt_duration(new.interval)
            ));
        }
        if self.limit != new.limit {
            out.push(format!("limit {} → {}", self.limit, new.limit));
        }
        match (&self.compiled, &new.compiled) {
            (Compiled::Alerting(a), Compiled::Alerting(b)) => {
                if a.hold_duration() != b.hold_duration() {
                    out.push(format!(
                        "for {} → {}",
                        fmt_duration(a.hold_duration()),
                        fmt_duration(b.hold_duration())
                    ));
                }
                if a.keep_firing_for() != b.keep_firing_for() {
                    out.push(format!(
                        "keep_firing_for {} → {}",
                        fmt_duration(a.keep_firing_for()),
                        fmt_duration(b.keep_firing_for())
                    ));
                }
                if a.labels() != b.labels() {
                    out.push("labels changed".to_string());
                }
                if !a.annotations().eq(b.annotations()) {
                    out.push("annotations changed".to_string());
                }
            }
            (Compiled::Recording(a), Compiled::Recording(b)) => {
                if a.labels() != b.labels() {
                    out.push("labels changed".to_string());
                }
            }
            _ => out.push("kind changed".to_string()),
        }
        out
    }
}

/// Prometheus's duration notation (`1h30m`, `0s`).
pub fn fmt_duration(d: Duration) -> String {
    tocsin_promql::format_duration(d.as_millis() as i64)
}

/// A loaded rule set.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub files: Vec<String>,
    pub rules: Vec<RuleEntry>,
}

/// Files as given, directories as their `*.yaml`/`*.yml` files (sorted, not recursive),
/// anything else as a glob (as `tocsin check` takes them).
pub fn expand_paths(paths: &[String]) -> Result<Vec<String>, DiffError> {
    let mut files = Vec::new();
    for path in paths {
        let p = Path::new(path);
        if p.is_dir() {
            let entries = std::fs::read_dir(p)
                .map_err(|e| DiffError::Usage(format!("reading directory {path}: {e}")))?;
            let mut found: Vec<String> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| f.is_file())
                .filter(|f| matches!(f.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
                .map(|f| f.to_string_lossy().into_owned())
                .collect();
            found.sort();
            files.extend(found);
        } else if p.exists() {
            files.push(path.clone());
        } else if path.contains(['*', '?', '[']) {
            let pattern = glob::glob(path)
                .map_err(|e| DiffError::Usage(format!("bad glob pattern {path:?}: {e}")))?;
            let mut matched: Vec<String> = pattern
                .filter_map(Result::ok)
                .filter(|f| f.is_file())
                .map(|f| f.to_string_lossy().into_owned())
                .collect();
            if matched.is_empty() {
                return Err(DiffError::Usage(format!("no file matches {path:?}")));
            }
            matched.sort();
            files.extend(matched);
        } else {
            return Err(DiffError::Usage(format!("path {path:?} does not exist")));
        }
    }
    Ok(files)
}

/// Loads every file; on any invalid file, every file's report with errors (in the order
/// given), as `tocsin check` prints them.
pub fn load_rule_set(paths: &[String], default_interval: Duration) -> Result<RuleSet, LoadFailure> {
    let files = expand_paths(paths).map_err(LoadFailure::Usage)?;
    let mut set = RuleSet {
        files: files.clone(),
        rules: Vec::new(),
    };
    let mut failed = Vec::new();
    for file in &files {
        match tocsin_rules::load_file(file) {
            Ok((groups, _)) => {
                for group in groups {
                    let interval = group
                        .interval
                        .as_ref()
                        .map(|d| d.value.as_std())
                        .filter(|d| !d.is_zero())
                        .unwrap_or(default_interval);
                    let limit = usize::try_from(group.limit.max(0)).unwrap_or(usize::MAX);
                    let start = set.rules.len();
                    for rule in &group.rules {
                        let kind = rule.kind();
                        let name = rule.name().to_string();
                        let occurrence = set.rules[start..]
                            .iter()
                            .filter(|r| r.kind == kind && r.name == name)
                            .count();
                        let compiled = match kind {
                            RuleKind::Alerting => {
                                Compiled::Alerting(Arc::new(AlertingRule::from_rule(rule)))
                            }
                            RuleKind::Recording => {
                                Compiled::Recording(Arc::new(RecordingRule::from_rule(rule)))
                            }
                        };
                        set.rules.push(RuleEntry {
                            file: file.clone(),
                            line: rule.pos.line,
                            group: group.name.value.clone(),
                            interval,
                            limit,
                            name,
                            kind,
                            expr: rule.canonical_expr(),
                            occurrence,
                            compiled,
                        });
                    }
                }
            }
            Err(report) => failed.push(report),
        }
    }
    if failed.is_empty() {
        Ok(set)
    } else {
        Err(LoadFailure::Invalid(failed))
    }
}

/// Why a rule set did not load.
#[derive(Debug)]
pub enum LoadFailure {
    /// A path that names nothing, a bad glob.
    Usage(DiffError),
    /// Files with errors, each with its report.
    Invalid(Vec<FileReport>),
}

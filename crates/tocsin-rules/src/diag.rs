//! Findings about a rule file, and how they print.

use std::fmt;

use crate::pos::Pos;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// What a check reports without judging it (`alerts/count`); never fails `--strict`.
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The rule a finding is about, as promtool names it: group, 1-based index, rule name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub group: String,
    pub index: usize,
    pub name: String,
}

/// One finding. `message` uses promtool's wording where promtool has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Where in the file; `None` for findings about the file as a whole.
    pub pos: Option<Pos>,
    /// The group, when the finding is about a group but no single rule.
    pub group: Option<String>,
    pub rule: Option<RuleRef>,
    pub message: String,
    /// The stable name of the check that found it, for warnings (`layout/not-loaded`,
    /// `promtool/duplicate-rules`, …): what `# tocsin disable <check>` names. Errors, which
    /// make a file invalid for Prometheus, have none and cannot be disabled.
    pub check: Option<&'static str>,
}

/// The stable check names of `tocsin check`'s warnings.
pub mod checks {
    /// promtool's `duplicate-rules` lint (`--lint`); `--lint-fatal` makes it exit 3.
    pub const DUPLICATE_RULES: &str = "promtool/duplicate-rules";
    /// `--layout ack`: the pod's rule globs would not load this file.
    pub const LAYOUT_NOT_LOADED: &str = "layout/not-loaded";
    /// `--layout ack`: a rule in the file for the other kind of rule.
    pub const LAYOUT_MISFILED: &str = "layout/misfiled";
    /// A rule reads a series named like a recording rule's output (`level:metric:op`) that
    /// no checked file records.
    pub const MISSING_RECORDING: &str = "rules/missing-recording";
    /// `--datasource`: a selector matches no series now (and maybe none over the lookback).
    pub const SERIES: &str = "promql/series";
    /// `--datasource`: a rate-family window shorter than two scrape intervals of the job.
    pub const RATE: &str = "promql/rate";
    /// `--datasource`: a rate-family function over a series the metadata calls a gauge.
    pub const COUNTER: &str = "promql/counter";
    /// `--datasource`: a `by`/`without`/`on`/`ignoring` label no matching series carries.
    pub const LABELS: &str = "promql/labels";
    /// `--datasource`: a `$labels.x` in a template that no matching series carries.
    pub const TEMPLATE: &str = "alerts/template";
    /// `--datasource`: how many alerts the rule would have raised over the lookback (info).
    pub const ALERTS_COUNT: &str = "alerts/count";
    /// `--datasource`: a rule reads a recording-rule-like series that neither the checked
    /// files nor the server's rules record (replaces `rules/missing-recording` online).
    pub const DEPENDENCY: &str = "rule/dependency";
    /// Every check name, for documentation and validation of `disable` comments.
    pub const ALL: &[&str] = &[
        DUPLICATE_RULES,
        LAYOUT_NOT_LOADED,
        LAYOUT_MISFILED,
        MISSING_RECORDING,
        SERIES,
        RATE,
        COUNTER,
        LABELS,
        TEMPLATE,
        ALERTS_COUNT,
        DEPENDENCY,
    ];
}

impl Diagnostic {
    pub fn error(pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            pos: Some(pos),
            group: None,
            rule: None,
            message: message.into(),
            check: None,
        }
    }

    /// A warning found by the check named `check` (one of [`checks`]).
    pub fn warning(check: &'static str, pos: Option<Pos>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            pos,
            group: None,
            rule: None,
            message: message.into(),
            check: Some(check),
        }
    }

    /// What the check named `check` reports without judging it (one of [`checks`]).
    pub fn info(check: &'static str, pos: Option<Pos>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Info,
            ..Diagnostic::warning(check, pos, message)
        }
    }

    pub fn in_rule(mut self, rule: RuleRef) -> Self {
        self.rule = Some(rule);
        self
    }

    pub fn in_group(mut self, group: &str) -> Self {
        self.group = Some(group.to_string());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl Diagnostic {
    /// The finding without its position: `group "g", rule 1, "Name": message`.
    pub fn body(&self) -> Body<'_> {
        Body(self)
    }

    /// `FILE:L:C: [warning: ]body`, or `FILE: …` without a position.
    pub fn located<'a>(&'a self, path: &'a str) -> Located<'a> {
        Located(self, path)
    }
}

/// See [`Diagnostic::body`].
pub struct Body<'a>(&'a Diagnostic);

/// See [`Diagnostic::located`].
pub struct Located<'a>(&'a Diagnostic, &'a str);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Located(d, path) = self;
        match d.pos {
            Some(pos) => write!(f, "{path}:{pos}: ")?,
            None => write!(f, "{path}: ")?,
        }
        match d.severity {
            Severity::Warning => f.write_str("warning: ")?,
            Severity::Info => f.write_str("info: ")?,
            Severity::Error => {}
        }
        write!(f, "{}", d.body())
    }
}

impl fmt::Display for Diagnostic {
    /// `L:C: group "g", rule 1, "Name": message` — promtool's shape, with a position always
    /// first when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(pos) = self.pos {
            write!(f, "{pos}: ")?;
        }
        write!(f, "{}", self.body())
    }
}

impl fmt::Display for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if let Some(rule) = &d.rule {
            write!(
                f,
                "group {}, rule {}, {}: ",
                tocsin_promql::go_quote(&rule.group),
                rule.index,
                tocsin_promql::go_quote(&rule.name)
            )?;
        } else if let Some(group) = &d.group {
            write!(f, "group {}: ", tocsin_promql::go_quote(group))?;
        }
        f.write_str(&d.message)
    }
}

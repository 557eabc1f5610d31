//! The rule-file model: what a group and a rule hold once decoded, with positions.

use crate::duration::Duration;
use crate::pos::Pos;

/// A value and where it was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

/// A rule group as Prometheus's `rulefmt.RuleGroup` holds it.
#[derive(Clone, Debug, Default)]
pub struct RuleGroup {
    /// Where the group's mapping starts (its first key).
    pub pos: Pos,
    pub name: Spanned<String>,
    /// `None` when unset or `0`: the global evaluation interval applies.
    pub interval: Option<Spanned<Duration>>,
    /// 0 or negative: no limit.
    pub limit: i64,
    pub rules: Vec<Rule>,
}

/// One rule. `record`, `alert` and `expr` keep their raw YAML text as Prometheus 2.42 does
/// (it decodes them as YAML nodes), so `expr: null` is the selector `null`.
#[derive(Clone, Debug, Default)]
pub struct Rule {
    /// Where the rule's mapping starts (its first key).
    pub pos: Pos,
    pub record: Option<Spanned<String>>,
    pub alert: Option<Spanned<String>>,
    pub expr: Option<Spanned<String>>,
    pub for_: Option<Spanned<Duration>>,
    pub keep_firing_for: Option<Spanned<Duration>>,
    pub labels: Vec<Entry>,
    pub annotations: Vec<Entry>,
}

/// A label or annotation: its name and value, each with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: Spanned<String>,
    pub value: Spanned<String>,
    /// False only for a `!!binary` value whose bytes are not UTF-8.
    pub value_is_utf8: bool,
}

/// Whether a rule records a series or raises alerts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    Alerting,
    Recording,
}

impl Rule {
    fn text(field: &Option<Spanned<String>>) -> &str {
        field.as_ref().map_or("", |s| s.value.as_str())
    }

    pub fn alert_name(&self) -> &str {
        Self::text(&self.alert)
    }

    pub fn record_name(&self) -> &str {
        Self::text(&self.record)
    }

    pub fn expr_text(&self) -> &str {
        Self::text(&self.expr)
    }

    /// The expression in the one-line form Prometheus prints it: the rule's `query` in
    /// `/api/v1/rules`, what its generator URL carries, and what tocsin sends to be
    /// evaluated. The text as written when it does not parse (such a file never gets past
    /// validation) or when a string in it holds bytes that are not UTF-8 (`"\xff"`), which
    /// the printed form cannot carry.
    pub fn canonical_expr(&self) -> String {
        let text = self.expr_text();
        match tocsin_promql::parse(text) {
            Ok(e) => {
                let printed = e.to_string();
                if printed.contains('\u{fffd}') && !text.contains('\u{fffd}') {
                    text.to_owned()
                } else {
                    printed
                }
            }
            Err(_) => text.to_owned(),
        }
    }

    /// The name Prometheus reports the rule by: the alert name if set, else the record name.
    pub fn name(&self) -> &str {
        if self.alert_name().is_empty() {
            self.record_name()
        } else {
            self.alert_name()
        }
    }

    /// `alert` set makes an alerting rule, as in Prometheus; otherwise a recording rule.
    pub fn kind(&self) -> RuleKind {
        if self.alert_name().is_empty() {
            RuleKind::Recording
        } else {
            RuleKind::Alerting
        }
    }

    pub fn for_duration(&self) -> Duration {
        self.for_.as_ref().map_or(Duration::ZERO, |d| d.value)
    }

    pub fn keep_firing_for_duration(&self) -> Duration {
        self.keep_firing_for
            .as_ref()
            .map_or(Duration::ZERO, |d| d.value)
    }
}

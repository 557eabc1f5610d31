//! Label and annotation templates through `tocsin-template`, compiled once per rule.
//!
//! Each alerting rule's templated values are parsed when the rule is loaded
//! ([`RuleTemplates::compile`]) and looked up by text on every expansion: the core's
//! [`Expander`] seam hands over the text, and a rule has a handful of them.
//!
//! The `query` template function is synchronous in the template engine but the datasource
//! is async. The bridge: for a rule whose templates mention `query`, every template is
//! rendered for every sample of the query result *before* the state-machine step
//! ([`prerender`]), on tokio's blocking pool (`spawn_blocking`), where the runner's
//! `BridgeContext` runs each template query with `Handle::block_on` at the evaluation's
//! `ts`, through the same permits and timeout as rule queries. No lock is held meanwhile: the step itself then
//! reads the rendered texts from a table ([`Prerendered`]) under the group's lock, so the
//! API, `/metrics` and the state saver never wait on a datasource (issue 10: they take that
//! lock on async worker threads, and waiting on it behind a query starves the very I/O
//! driver the query needs). The step expands exactly the (sample, text) pairs rendered
//! here: every templated label and annotation for every sample. That works on both runtime
//! flavours (`block_in_place` would panic on a current-thread runtime); rules without
//! `query` never leave the group's task.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use tocsin_template::{parse_alert_template, AlertTemplateData, Template, TemplateContext};

use crate::alert::AlertingRule;
use crate::template::{ExpandError, Expander, TemplateData};
use crate::time::Timestamp;

/// The compiled templates of one rule (empty for recording rules and literal values).
#[derive(Debug, Default)]
pub struct RuleTemplates {
    by_text: HashMap<Box<str>, Result<Template, String>>,
    /// Some template calls `query`: evaluate through the blocking bridge.
    pub(crate) uses_query: bool,
}

impl RuleTemplates {
    /// Parses every templated label and annotation value of `rule`.
    pub fn compile(rule: &AlertingRule) -> Self {
        let name = format!("__alert_{}", rule.name());
        let mut by_text = HashMap::new();
        let texts = rule
            .labels()
            .iter()
            .filter(|(n, _)| *n != "alertname")
            .map(|(_, v)| v)
            .chain(rule.annotations().map(|(_, v)| v));
        let mut uses_query = false;
        for text in texts.filter(|t| t.contains("{{")) {
            uses_query |= text.contains("query");
            by_text.entry(text.into()).or_insert_with(|| {
                parse_alert_template(&name, text)
                    .map_err(|e| format!("error parsing template {name}: {e}"))
            });
        }
        RuleTemplates {
            by_text,
            uses_query,
        }
    }
}

/// Expands one rule's templates for the samples of one evaluation. The one expander of
/// the daemon, `tocsin test rules` and the backtest of `tocsin diff`: they differ only in
/// the `context` that answers the `query` template function.
pub struct RuleExpander<'a> {
    pub(crate) templates: &'a RuleTemplates,
    pub(crate) external_labels: &'a BTreeMap<String, String>,
    pub(crate) external_url: &'a str,
    pub(crate) context: &'a dyn TemplateContext,
    /// The template data of the last sample (labels fingerprint, value bits): a sample's
    /// labels and annotations all share it.
    pub(crate) last: RefCell<Option<(u64, u64, AlertTemplateData)>>,
}

impl<'a> RuleExpander<'a> {
    /// `templates` expanded with the external labels and URL (`$externalLabels`,
    /// `$externalURL`), template queries answered by `context` at its evaluation time.
    pub fn new(
        templates: &'a RuleTemplates,
        external_labels: &'a BTreeMap<String, String>,
        external_url: &'a str,
        context: &'a dyn TemplateContext,
    ) -> Self {
        RuleExpander {
            templates,
            external_labels,
            external_url,
            context,
            last: RefCell::default(),
        }
    }
}

impl Expander for RuleExpander<'_> {
    fn expand(&self, data: &TemplateData<'_>, text: &str) -> Result<String, ExpandError> {
        let template = match self.templates.by_text.get(text) {
            Some(Ok(t)) => t,
            Some(Err(e)) => return Err(ExpandError(e.clone())),
            None => return Ok(text.to_string()),
        };
        let key = (data.labels.fingerprint(), data.value.to_bits());
        let mut last = self.last.borrow_mut();
        let fresh = !matches!(&*last, Some((f, v, _)) if (*f, *v) == key);
        if fresh {
            *last = Some((
                key.0,
                key.1,
                AlertTemplateData {
                    labels: data
                        .labels
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect(),
                    external_labels: self.external_labels.clone(),
                    external_url: self.external_url.to_string(),
                    value: data.value,
                },
            ));
        }
        let Some((_, _, td)) = &*last else {
            return Err(ExpandError("template data missing".into()));
        };
        template
            .render(td, self.context)
            .map_err(|e| ExpandError(format!("error executing template {}: {e}", template.name())))
    }
}

/// Every parsed template of `templates` rendered for every sample, through `expander`
/// (whose context may run queries: call this without holding any lock).
pub(crate) fn prerender(
    templates: &RuleTemplates,
    expander: &RuleExpander<'_>,
    rule_name: &str,
    samples: &[crate::labels::Sample],
    ts: Timestamp,
) -> Prerendered {
    let mut by_sample = HashMap::with_capacity(samples.len());
    for sample in samples {
        let data = TemplateData {
            rule_name,
            labels: &sample.labels,
            value: sample.value,
            ts,
        };
        let texts: Rendered = templates
            .by_text
            .iter()
            .filter(|(_, t)| t.is_ok())
            .map(|(text, _)| (text.clone(), expander.expand(&data, text)))
            .collect();
        by_sample.insert((sample.labels.fingerprint(), sample.value.to_bits()), texts);
    }
    Prerendered { by_sample }
}

/// One sample's rendered templates, by text.
type Rendered = HashMap<Box<str>, Result<String, ExpandError>>;

/// Templates already rendered by [`prerender`], by sample (labels fingerprint, value
/// bits) and text. Texts it does not hold (literals, templates that failed to parse) go
/// to the query-less expander it is used with.
#[derive(Debug, Default)]
pub(crate) struct Prerendered {
    by_sample: HashMap<(u64, u64), Rendered>,
}

/// [`Prerendered`] texts, falling back to `rest` for the others.
pub(crate) struct PrerenderedExpander<'a> {
    pub rendered: &'a Prerendered,
    pub rest: &'a dyn Expander,
}

impl Expander for PrerenderedExpander<'_> {
    fn expand(&self, data: &TemplateData<'_>, text: &str) -> Result<String, ExpandError> {
        let key = (data.labels.fingerprint(), data.value.to_bits());
        match self.rendered.by_sample.get(&key).and_then(|t| t.get(text)) {
            Some(r) => r.clone(),
            None => self.rest.expand(data, text),
        }
    }
}

/// Unix seconds of `ts` as a float (the template's evaluation time).
pub(crate) fn seconds(ts: Timestamp) -> f64 {
    ts.as_nanos() as f64 / 1e9
}

/// The context of rules whose templates never call `query`.
pub(crate) struct NoQuery(pub Timestamp);

impl TemplateContext for NoQuery {
    fn query(&self, _expr: &str) -> Result<Vec<tocsin_template::Sample>, String> {
        Err("query is not available here".into())
    }

    fn eval_time(&self) -> f64 {
        seconds(self.0)
    }
}

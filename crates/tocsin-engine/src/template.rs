//! The seam for label and annotation templates.
//!
//! Alerting rules expand every label and annotation value for every sample (docs/rule-semantics.md, "One evaluation" and "Templates").
//! The template language lives in `tocsin-template`; the engine only needs "expand this text
//! for this sample", so it takes an [`Expander`] from the caller. Values without `{{` hold no
//! template action and expand to themselves in Go's `text/template`, so the engine never
//! calls the expander for them.

use std::fmt;

use crate::labels::Labels;
use crate::time::Timestamp;

/// What a template sees for one sample (Prometheus's `AlertTemplateData` plus the time).
/// External labels and the external URL belong to the expander's own configuration.
#[derive(Clone, Copy, Debug)]
pub struct TemplateData<'a> {
    /// The alert name; Prometheus names the template `__alert_<name>`.
    pub rule_name: &'a str,
    /// `$labels`: the query result sample's labels, `__name__` included.
    pub labels: &'a Labels,
    /// `$value`.
    pub value: f64,
    /// The evaluation time, for the `query` template function.
    pub ts: Timestamp,
}

/// A template that failed to parse or execute; its text is Go's error message. The engine
/// turns it into the value `<error expanding template: MESSAGE>` as Prometheus does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpandError(pub String);

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Expands one label or annotation template for one sample.
pub trait Expander {
    fn expand(&self, data: &TemplateData<'_>, template: &str) -> Result<String, ExpandError>;
}

impl<F> Expander for F
where
    F: Fn(&TemplateData<'_>, &str) -> Result<String, ExpandError>,
{
    fn expand(&self, data: &TemplateData<'_>, template: &str) -> Result<String, ExpandError> {
        self(data, template)
    }
}

/// An expander for rules whose values are already expanded: returns the text unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Verbatim;

impl Expander for Verbatim {
    fn expand(&self, _: &TemplateData<'_>, template: &str) -> Result<String, ExpandError> {
        Ok(template.to_string())
    }
}

/// True when `text` holds a template action; otherwise it expands to itself.
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{")
}

/// Expands `text`, mapping an error to Prometheus's in-band error value.
pub(crate) fn expand_or_error(
    expander: &dyn Expander,
    data: &TemplateData<'_>,
    text: &str,
) -> String {
    match expander.expand(data, text) {
        Ok(s) => s,
        Err(e) => format!("<error expanding template: {e}>"),
    }
}

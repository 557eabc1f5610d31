//! Error types. Their `Display` output is exactly Go's error text.

use thiserror::Error;

/// A template that does not parse. Displays as Go does, e.g.
/// `template: __alert_X:1: function "nosuchfunc" not defined`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    name: String,
    line: usize,
    message: String,
    offset: Option<usize>,
    column: Option<usize>,
}

impl ParseError {
    pub(crate) fn new(
        name: &str,
        line: usize,
        message: String,
        pos: usize,
        user_offset: usize,
        text: &str,
    ) -> Self {
        let (offset, column) = if pos >= user_offset && pos <= text.len() {
            let user = &text[user_offset..];
            let off = pos - user_offset;
            let line_start = user[..off].rfind('\n').map_or(0, |i| i + 1);
            let col = user[line_start..off].chars().count() + 1;
            (Some(off), Some(col))
        } else {
            (None, None)
        };
        ParseError {
            name: name.to_string(),
            line,
            message,
            offset,
            column,
        }
    }

    /// The template name (`__alert_<alertname>` for alert templates).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// 1-based line of the error within the template text, as Go reports it.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The message after Go's `template: NAME:LINE: ` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte offset within the user's template text of the token at which
    /// the error was detected, when it lies in the user's text.
    pub fn offset(&self) -> Option<usize> {
        self.offset
    }

    /// 1-based column (in characters) of that token on its line.
    pub fn column(&self) -> Option<usize> {
        self.column
    }
}

/// A template execution error. Displays as Go's `ExecError`, e.g.
/// `template: __alert_X:1:115: executing "__alert_X" at <.Foo>: can't evaluate field Foo in type ...`.
/// Prometheus shows it in the alert as
/// `<error expanding template: error executing template __alert_X: {this}>`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct RenderError {
    pub(crate) message: String,
}

impl RenderError {
    /// The full Go error text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

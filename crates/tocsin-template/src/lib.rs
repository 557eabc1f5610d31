//! Go `text/template`, reimplemented in Rust as Prometheus rule files use
//! it, with Prometheus's template functions (`template/template.go` of
//! Prometheus 2.42, built with Go 1.19).
//!
//! `tocsin-rules` uses [`parse_alert_template`] to validate alert label and
//! annotation templates exactly as `promtool check rules` does (same error
//! text, same line numbers); `tocsin-engine` renders them per alert.
//! Output is meant to be byte-for-byte what Prometheus 2.42 produces.

mod ast;
mod digits;
mod error;
mod exec;
mod funcs;
mod gofmt;
mod lexer;
mod notification;
mod numparse;
mod parse;
mod stack;
mod unquote;
mod value;
mod vars;
pub mod zone;

pub use exec::{TemplateContext, MAX_CALL_DEPTH, MAX_OUTPUT, MAX_STEPS};
pub use notification::{NotificationAlert, NotificationData};
pub use parse::MAX_DEPTH;
pub use value::{AlertTemplateData, Labels, Sample};
pub use zone::{TimeZone, UnknownTimeZone};

pub use error::{ParseError, RenderError};

/// The definitions Prometheus puts before every alert template (112 bytes,
/// no newline, so line numbers are those of the user's text).
pub const ALERT_TEMPLATE_PREFIX: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// A parsed template, ready to render many times.
#[derive(Debug, Clone)]
pub struct Template {
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) trees: parse::TreeSet,
}

impl Template {
    /// The template's name (e.g. `__alert_HighErrors`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Render with `data` as dot. Errors carry Go's execution error text;
    /// Prometheus shows them as
    /// `<error expanding template: error executing template NAME: ERR>`.
    pub fn render(
        &self,
        data: &AlertTemplateData,
        ctx: &dyn TemplateContext,
    ) -> Result<String, RenderError> {
        exec::render(self, data, ctx).map_err(|message| RenderError { message })
    }

    /// Render a notification template (from [`parse_notification_template`])
    /// with `data` as dot, as Alertmanager renders its templates.
    pub fn render_notification(&self, data: &NotificationData) -> Result<String, RenderError> {
        exec::render_notification(self, data).map_err(|message| RenderError { message })
    }

    /// The full parsed text (prefix included).
    pub fn source(&self) -> &str {
        &self.text
    }
}

/// Parse `text` as template `name` the way Prometheus validates alert templates:
/// the four variables $labels, $externalLabels, $externalURL, $value are predefined,
/// and the function set is Go's builtins plus Prometheus's (query, humanize, ...).
pub fn parse_alert_template(name: &str, text: &str) -> Result<Template, ParseError> {
    let mut full = String::with_capacity(ALERT_TEMPLATE_PREFIX.len() + text.len());
    full.push_str(ALERT_TEMPLATE_PREFIX);
    full.push_str(text);
    let trees = parse::parse(name, &full, parse::Prelude::Alert)?;
    Ok(Template {
        name: name.to_string(),
        text: full,
        trees,
    })
}

/// Parse `text` as a plain template `name` (no predefined variables).
pub fn parse_template(name: &str, text: &str) -> Result<Template, ParseError> {
    let trees = parse::parse(name, text, parse::Prelude::None)?;
    Ok(Template {
        name: name.to_string(),
        text: text.to_string(),
        trees,
    })
}

/// Parse `text` as notification template `name`, the way Alertmanager
/// parses its templates: dot is [`NotificationData`], no predefined
/// variables, and the function set is Go's builtins plus Alertmanager's
/// (`toUpper`, `toLower`, `title`, `join`, `match`,
/// `reReplaceAll`, `safeHtml`, `stringSlice`). `{{ define }}`s in the text
/// can be called with `{{ template }}`.
pub fn parse_notification_template(name: &str, text: &str) -> Result<Template, ParseError> {
    let trees = parse::parse(name, text, parse::Prelude::Notification)?;
    Ok(Template {
        name: name.to_string(),
        text: text.to_string(),
        trees,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ParseError {
        parse_alert_template("__alert_X", text).unwrap_err()
    }

    #[test]
    fn parse_duration_errors_use_prometheus_words() {
        struct NoQuery;
        impl TemplateContext for NoQuery {
            fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
                Err("no queries here".into())
            }
        }
        let render = |text: &str| {
            parse_alert_template("__alert_X", text)
                .unwrap()
                .render(&AlertTemplateData::default(), &NoQuery)
        };
        assert_eq!(
            render(r#"{{ parseDuration "1h2m10ms" }}"#).unwrap(),
            "3720.01"
        );
        // promtool 2.42 on `for: ""`: "empty duration string" (model.ParseDuration).
        let e = render(r#"{{ parseDuration "" }}"#).unwrap_err().to_string();
        assert!(e.ends_with("empty duration string"), "{e}");
        let e = render(r#"{{ parseDuration "30m1h" }}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(r#"not a valid duration string: "30m1h""#),
            "{e}"
        );
    }

    #[test]
    fn predefined_variables_are_visible() {
        assert!(parse_alert_template(
            "__alert_X",
            "{{ $labels.job }}{{ $value }}{{ $externalURL }}{{ $externalLabels }}"
        )
        .is_ok());
    }

    #[test]
    fn unknown_field_parses() {
        assert!(parse_alert_template("__alert_X", "{{ .Foo }}").is_ok());
    }

    #[test]
    fn unclosed_action_reports_line() {
        assert_eq!(
            err("{{ .Foo").to_string(),
            "template: __alert_X:1: unclosed action"
        );
        let e = err("a\nb\n{{ .Foo");
        assert_eq!(e.line(), 3);
    }

    #[test]
    fn unknown_function_is_an_error_with_offset_and_column() {
        let e = err("ab {{ nosuchfunc }}");
        assert_eq!(
            e.to_string(),
            "template: __alert_X:1: function \"nosuchfunc\" not defined"
        );
        assert_eq!(e.message(), "function \"nosuchfunc\" not defined");
        assert_eq!(e.offset(), Some(6));
        assert_eq!(e.column(), Some(7));
    }

    #[test]
    fn undefined_variable_is_an_error() {
        assert_eq!(
            err("{{ $label }}").to_string(),
            "template: __alert_X:1: undefined variable \"$label\""
        );
    }

    #[test]
    fn stray_brace_on_second_line() {
        let e = err("a\n{{ } }}");
        assert_eq!(
            e.to_string(),
            "template: __alert_X:2: unexpected \"}\" in command"
        );
        assert_eq!(e.column(), Some(4));
    }

    #[test]
    fn trim_markers_need_a_space() {
        assert!(parse_alert_template("__alert_X", "a {{- $value -}} b").is_ok());
        assert_eq!(err("{{-$value}}").message(), "illegal number syntax: \"-\"");
    }

    #[test]
    fn break_outside_range_is_an_error() {
        assert_eq!(err("{{ break }}").message(), "{{break}} outside {{range}}");
        assert!(
            parse_alert_template("__alert_X", "{{ range $labels }}{{ break }}{{ end }}").is_ok()
        );
    }

    /// `n` levels of each nesting construct, with what each renders to.
    fn nested(n: usize) -> Vec<(&'static str, String, String)> {
        let calls = (1..n).fold(r#"{{define "t0"}}x{{end}}"#.to_string(), |mut s, i| {
            s.push_str(&format!(
                r#"{{{{define "t{i}"}}}}{{{{template "t{}"}}}}{{{{end}}}}"#,
                i - 1
            ));
            s
        }) + &format!(r#"{{{{template "t{}"}}}}"#, n - 1);
        vec![
            (
                "if",
                format!("{}x{}", "{{if true}}".repeat(n), "{{end}}".repeat(n)),
                "x".into(),
            ),
            (
                "range",
                format!("{}x{}", "{{range args 1}}".repeat(n), "{{end}}".repeat(n)),
                "x".into(),
            ),
            (
                "with",
                format!("{}{{{{.}}}}{}", "{{with 1}}".repeat(n), "{{end}}".repeat(n)),
                "1".into(),
            ),
            (
                "else if",
                format!(
                    "{{{{if false}}}}{}{{{{else if true}}}}x{{{{end}}}}",
                    "{{else if false}}".repeat(n - 2)
                ),
                "x".into(),
            ),
            (
                "parentheses",
                format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n)),
                "1".into(),
            ),
            ("template calls", calls, "x".into()),
        ]
    }

    /// Run `f` on a thread with the stack a tokio worker or blocking-pool
    /// thread has (2 MiB), not one sized for the test.
    fn on_a_default_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("no stack overflow")
    }

    #[test]
    fn nesting_as_deep_as_promtool_accepts_parses_and_renders_on_a_default_thread() {
        // promtool 2.42 accepts and renders each of these 100,000 deep
        // (docs/hostile-input.md).
        on_a_default_thread(|| {
            for (what, text, want) in nested(100_000) {
                let t = parse_alert_template("__alert_A", &text)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let copy = t.clone();
                drop(t);
                let got = copy
                    .render(&AlertTemplateData::default(), &NoQueries)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(got, want, "{what}");
                assert!(format!("{copy:?}").len() > text.len() / 2, "{what}");
            }
        });
    }

    #[test]
    fn nesting_one_deeper_is_gos_error_not_a_stack_overflow() {
        on_a_default_thread(|| {
            for (what, text, _) in nested(100_001) {
                if what == "template calls" {
                    // Parsed flat; Go's exec refuses the 100,001st call.
                    let e = parse_alert_template("__alert_A", &text)
                        .expect("parses")
                        .render(&AlertTemplateData::default(), &NoQueries)
                        .unwrap_err();
                    assert!(
                        e.message().ends_with(
                            r#"executing "t1" at <{{template "t0"}}>: exceeded maximum template depth (100000)"#
                        ),
                        "{e}"
                    );
                } else {
                    assert_eq!(
                        err(&text).message(),
                        "max expression depth exceeded",
                        "{what}"
                    );
                }
            }
            // Endless recursion.
            let e = parse_alert_template(
                "__alert_A",
                r#"{{define "r"}}{{template "r"}}{{end}}{{template "r"}}"#,
            )
            .expect("parses")
            .render(&AlertTemplateData::default(), &NoQueries)
            .unwrap_err();
            assert_eq!(
                e.message(),
                r#"template: __alert_A:1:137: executing "r" at <{{template "r"}}>: exceeded maximum template depth (100000)"#
            );
        });
    }

    /// A datasource client that needs 384 KiB of stack per query.
    struct StackHungryQueries(std::cell::Cell<usize>);

    impl TemplateContext for StackHungryQueries {
        fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
            let buf = std::hint::black_box([1u8; 384 << 10]);
            self.0.set(self.0.get() + usize::from(buf[buf.len() - 1]));
            Ok(Vec::new())
        }
    }

    #[test]
    fn a_query_at_any_depth_runs_with_the_stack_of_a_fresh_thread() {
        // The queries run at every depth to 2,000, so some of them where
        // the nesting has left little of a stack segment.
        let calls = on_a_default_thread(|| {
            let n = 2_000;
            let text = format!(
                "{}{}",
                r#"{{if true}}{{$x := query "up"}}"#.repeat(n),
                "{{end}}".repeat(n)
            );
            let queries = StackHungryQueries(std::cell::Cell::new(0));
            parse_alert_template("__alert_A", &text)
                .expect("parses")
                .render(&AlertTemplateData::default(), &queries)
                .expect("renders");
            queries.0.get()
        });
        assert_eq!(calls, 2_000);
    }

    struct NoQueries;

    impl TemplateContext for NoQueries {
        fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
            Ok(Vec::new())
        }
    }

    fn render(text: &str) -> String {
        let data = AlertTemplateData {
            labels: [("job".to_string(), "api".to_string())]
                .into_iter()
                .collect(),
            value: 3.0,
            ..Default::default()
        };
        parse_alert_template("__alert_X", text)
            .unwrap()
            .render(&data, &NoQueries)
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn redeclared_prefix_variables_shadow_then_restore() {
        assert_eq!(
            render("{{ $labels := 7 }}{{ $labels }}{{ with 1 }}{{ $value := 2 }}{{ $value }}{{ end }}{{ $value }}"),
            "723"
        );
        assert_eq!(render("{{ $value = 5 }}{{ $value }}"), "5");
    }

    #[test]
    fn template_call_frames_see_only_their_own_dollar() {
        assert_eq!(
            render(
                r#"{{ $x := 1 }}{{ define "t" }}{{ $ }}{{ range $i, $e := args 8 9 }}{{ $e }}{{ end }}{{ end }}{{ template "t" 5 }}{{ $x }}{{ $labels.job }}"#
            ),
            "5891api"
        );
    }

    #[test]
    fn root_template_called_with_other_dot_reevaluates_the_prefix() {
        // The prefix's `.Labels` then fails on the new dot, as in Go.
        assert_eq!(
            render(r#"{{ if eq $value 3.0 }}{{ template "__alert_X" "s" }}{{ end }}"#),
            "template: __alert_X:1:13: executing \"__alert_X\" at <.Labels>: can't evaluate field Labels in type string"
        );
    }
}

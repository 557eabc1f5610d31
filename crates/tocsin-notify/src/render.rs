//! DingTalk message text for notifications, in a fixed, documented layout, unless the
//! receiver has its own `title`/`text` templates ([`crate::templates`], used through
//! [`render_templated`] for one group's message; digests always use the compact layout).
//!
//! Full layout (one notification, one message), markdown:
//!
//! ```text
//! #### [FIRING:2] HighCPU
//! job=node · [alert list](EXTERNAL_URL)
//!
//! **[CRITICAL] CPU above 90%**
//! node-1 at 97%
//! Started 2026-08-20 16:21:00 +08:00 · instance=node-1:9100 · [source](GENERATOR_URL)
//!
//! **[RESOLVED] …**
//! Resolved after 1h2m (2026-08-20 17:23:00 +08:00)
//! ```
//!
//! Compact layout (digests, and groups too large for one full message): one line per
//! alert — status mark, the labels that tell it apart, start or resolution — so thousands
//! of alerts fit in a few messages and none is left out.
//!
//! Every piece is sized as the JSON body DingTalk measures, so each returned message fits
//! in `max_bytes` and DingTalk's client never has to split it further.

use std::fmt::Write as _;
use std::ops::Range;

use crate::alert::{AlertStatus, Labels, NotifyAlert};
use crate::dingtalk::MessageFormat;
use crate::notification::Notification;
use crate::templates::ReceiverTemplates;
use crate::time::{format_duration, Timestamp};
use crate::zoned::{self, TimeZone};

/// How messages are rendered.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// tocsin's alert list, linked from every message (`global.external_url`).
    pub external_url: String,
    /// Times are shown in this zone, with its offset (`global.time_zone`; UTC by default).
    pub time_zone: TimeZone,
    /// Markdown or plain text.
    pub format: MessageFormat,
    /// Budget for one message's JSON body; below DingTalk's 20,000 with room for the
    /// keyword and mentions the client appends.
    pub max_bytes: usize,
    /// Receivers' own `title`/`text` templates, by receiver name ([`render_templated`]).
    pub templates: ReceiverTemplates,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            external_url: String::new(),
            time_zone: TimeZone::UTC,
            format: MessageFormat::Markdown,
            max_bytes: 17_000,
            templates: ReceiverTemplates::default(),
        }
    }
}

/// One message's title and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub title: String,
    pub text: String,
}

/// A rendered message and the alerts it reports: `(index of the notification in the
/// input, range of its alerts)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    pub rendered: Rendered,
    pub spans: Vec<(usize, Range<usize>)>,
}

/// The title: `[FIRING:2] HighCPU` / `[RESOLVED] HighCPU`.
pub fn title(n: &Notification) -> String {
    let firing = n.firing().count();
    let status = if firing > 0 {
        format!("[FIRING:{firing}]")
    } else {
        "[RESOLVED]".to_owned()
    };
    format!("{status} {}", subject(n))
}

/// What the group is about: its alertname, else the common alertname, else a count.
fn subject(n: &Notification) -> String {
    if let Some(name) = n.group_labels.get("alertname") {
        return name.clone();
    }
    let names: std::collections::BTreeSet<&str> = n.alerts.iter().map(|a| a.name()).collect();
    match names.len() {
        1 => names.into_iter().next().unwrap_or("").to_owned(),
        k => format!("{k} alert rules"),
    }
}

/// Renders `n` with its receiver's templates, when it has some. None: render the
/// built-in layout. A template that fails is logged and None returned, so the
/// notification still goes out, in the built-in layout.
pub fn render_templated(n: &Notification, opts: &RenderOptions) -> Option<Rendered> {
    let t = opts.templates.get(&n.receiver)?;
    match t.render(n, opts) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(receiver = %n.receiver, error = %e,
                "message template failed; sending the default layout");
            None
        }
    }
}

/// `n`'s own messages in the built-in layout: the full layout when it fits one message,
/// else the compact layout (numbered parts when one is not enough).
pub fn render_own(n: &Notification, opts: &RenderOptions) -> Vec<Part> {
    if full_layout_floor(n, opts.format) <= opts.max_bytes {
        let full = render_full(n, opts);
        // The body `Message::markdown(title, text)` makes, without building it.
        let size = MARKDOWN_BODY + json_len(&full.title) + json_len(&full.text);
        if size <= opts.max_bytes {
            return vec![Part {
                rendered: full,
                spans: vec![(0, 0..n.alerts.len())],
            }];
        }
    }
    render_compact(std::slice::from_ref(n), opts)
}

/// A lower bound of the full layout's body size: per alert its summary, description, start
/// time (`Started 2026-08-20 16:21:00 +08:00`), the labels that tell it apart, and the
/// marks and breaks around them. A group whose bound is over the budget goes straight to
/// the compact layout, without rendering the full one only to find it too large.
fn full_layout_floor(n: &Notification, format: MessageFormat) -> usize {
    let md = format == MessageFormat::Markdown;
    // `\n\n` before the alert, `[` `]` and a space in `[MARK] summary`, and the line
    // break before the time; markdown adds `**…**` and two spaces to each break.
    let fixed = if md { 2 + 4 + 3 + 3 } else { 2 + 3 + 1 };
    let br = if md { 3 } else { 1 };
    let per_alert: usize = n
        .alerts
        .iter()
        .map(|a| {
            let (mut labels, mut distinct) = (0, 0);
            for (k, v) in a.labels.iter() {
                if !matches!(k.as_str(), "alertname" | "severity")
                    && n.group_labels.get(k) != Some(v)
                {
                    labels += 1;
                    distinct += k.len() + v.len() + 1;
                }
            }
            if labels > 0 {
                // ` · ` and the spaces between labels.
                distinct += " · ".len() + labels - 1;
            }
            let mark = match (a.status, a.labels.get("severity")) {
                (AlertStatus::Resolved, _) => "RESOLVED".len(),
                (AlertStatus::Firing, Some(s)) if s.is_ascii() => s.len(),
                (AlertStatus::Firing, Some(s)) if !s.is_empty() => 0,
                (AlertStatus::Firing, _) => "FIRING".len(),
            };
            a.annotations
                .get("summary")
                .map_or(a.name().len(), String::len)
                + a.annotations.get("description").map_or(0, |d| br + d.len())
                + "Started 2026-08-20 16:21:00 +08:00".len()
                + fixed
                + mark
                + distinct
        })
        .sum();
    ENVELOPE + title(n).len() + per_alert
}

/// Renders `n` as one message in the full layout.
pub fn render_full(n: &Notification, opts: &RenderOptions) -> Rendered {
    let st = Style(opts.format);
    let title = title(n);
    let mut text = String::new();
    text.push_str(&st.heading(&title));
    text.push('\n');
    text.push_str(&header_line(n, &st, opts));
    let mut times = TimeText::new(opts.time_zone);
    for a in &n.alerts {
        text.push_str("\n\n");
        full_alert(&mut text, a, n, &st, &mut times);
    }
    Rendered { title, text }
}

fn header_line(n: &Notification, st: &Style, opts: &RenderOptions) -> String {
    let mut parts: Vec<String> = n
        .group_labels
        .iter()
        .filter(|(k, _)| *k != "alertname")
        .map(|(k, v)| st.escape(&format!("{k}={v}")))
        .collect();
    let resolved = n.resolved().count();
    if resolved > 0 && resolved < n.alerts.len() {
        parts.push(format!("{resolved} resolved"));
    }
    if !opts.external_url.is_empty() {
        parts.push(st.link("alert list", &opts.external_url));
    }
    if parts.is_empty() {
        parts.push(format!("{} alerts", n.alerts.len()));
    }
    parts.join(" · ")
}

/// One alert of the full layout, written in place: `**[SEVERITY] summary**`, the
/// description and other annotations, the start (or resolution), the labels that tell it
/// apart within the notification (all but the group's labels, `alertname` and `severity`)
/// and its source link.
fn full_alert(
    out: &mut String,
    a: &NotifyAlert,
    n: &Notification,
    st: &Style,
    times: &mut TimeText,
) {
    if st.md() {
        out.push_str("**");
    }
    match (a.status, a.labels.get("severity")) {
        (AlertStatus::Resolved, _) => out.push_str("[RESOLVED]"),
        (AlertStatus::Firing, Some(s)) if !s.is_empty() => {
            out.push('[');
            if s.is_ascii() {
                out.extend(s.chars().map(|c| c.to_ascii_uppercase()));
            } else {
                out.push_str(&s.to_uppercase());
            }
            out.push(']');
        }
        (AlertStatus::Firing, _) => out.push_str("[FIRING]"),
    }
    out.push(' ');
    st.escape_into(
        out,
        a.annotations
            .get("summary")
            .map_or(a.name(), String::as_str),
    );
    if st.md() {
        out.push_str("**");
    }
    if let Some(d) = a.annotations.get("description") {
        out.push_str(st.br());
        st.escape_into(out, d);
    }
    for (k, v) in &a.annotations {
        if matches!(k.as_str(), "summary" | "description") {
            continue;
        }
        out.push_str(st.br());
        st.escape_into(out, k);
        out.push_str(": ");
        st.escape_into(out, v);
    }
    out.push_str(st.br());
    match (a.status, a.ends_at) {
        (AlertStatus::Resolved, Some(end)) => {
            let _ = write!(
                out,
                "Resolved after {} ({})",
                format_duration(end.saturating_duration_since(a.starts_at)),
                times.human(end)
            );
        }
        _ => {
            out.push_str("Started ");
            out.push_str(times.human(a.starts_at));
        }
    }
    let mut first = true;
    for (k, v) in a.labels.iter() {
        if matches!(k.as_str(), "alertname" | "severity") || n.group_labels.get(k) == Some(v) {
            continue;
        }
        out.push_str(if first { " · " } else { " " });
        first = false;
        st.escape_into(out, k);
        out.push('=');
        st.escape_into(out, v);
    }
    if !a.generator_url.is_empty() {
        let _ = write!(out, " · {}", st.link("source", &a.generator_url));
    }
}

fn distinct_from(labels: &Labels, shared: &Labels) -> String {
    labels
        .iter()
        .filter(|(k, v)| {
            !matches!(k.as_str(), "alertname" | "severity") && shared.get(*k) != Some(v)
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One alert's line of the compact layout, written into `line` (cleared first; one
/// buffer serves every line).
fn compact_alert(
    line: &mut String,
    a: &NotifyAlert,
    n: &Notification,
    shared: &Labels,
    st: &Style,
    since: &mut TimeText,
) {
    line.clear();
    line.push_str(match a.status {
        AlertStatus::Firing => "- 🔥 ",
        AlertStatus::Resolved => "- ✅ ",
    });
    if !n.group_labels.contains_key("alertname") {
        st.escape_into(line, a.name());
        line.push(' ');
    }
    // The labels that tell it apart (as `distinct_from`), written in place.
    let mut first = true;
    for (k, v) in a.labels.iter() {
        if matches!(k.as_str(), "alertname" | "severity") || shared.get(k) == Some(v) {
            continue;
        }
        if !first {
            line.push(' ');
        }
        first = false;
        st.escape_into(line, k);
        line.push('=');
        st.escape_into(line, v);
    }
    match (a.status, a.ends_at) {
        (AlertStatus::Resolved, Some(end)) => {
            let _ = write!(
                line,
                " resolved after {}",
                format_duration(end.saturating_duration_since(a.starts_at))
            );
        }
        _ => {
            line.push_str(" since ");
            line.push_str(since.short(a.starts_at));
        }
    }
}

/// Times as the layouts write them ([`zoned::human`], [`zoned::short`]), the last one of
/// each kept: a group's alerts mostly started together, and the zone's rules are looked
/// up once for them.
struct TimeText {
    zone: TimeZone,
    human: Option<(Timestamp, String)>,
    short: Option<(Timestamp, String)>,
}

impl TimeText {
    fn new(zone: TimeZone) -> TimeText {
        TimeText {
            zone,
            human: None,
            short: None,
        }
    }

    fn human(&mut self, t: Timestamp) -> &str {
        let zone = self.zone;
        Self::cached(&mut self.human, t, |t| zoned::human(t, zone))
    }

    fn short(&mut self, t: Timestamp) -> &str {
        let zone = self.zone;
        Self::cached(&mut self.short, t, |t| zoned::short(t, zone))
    }

    fn cached(
        slot: &mut Option<(Timestamp, String)>,
        t: Timestamp,
        make: impl FnOnce(Timestamp) -> String,
    ) -> &str {
        if slot.as_ref().is_none_or(|(at, _)| *at != t) {
            *slot = Some((t, make(t)));
        }
        slot.as_ref().map_or("", |(_, s)| s.as_str())
    }
}

/// Renders `ns` in as few messages as the compact layout allows, every alert included.
/// One notification keeps its own title; several become a digest.
pub fn render_compact(ns: &[Notification], opts: &RenderOptions) -> Vec<Part> {
    let st = Style(opts.format);
    let firing: usize = ns.iter().map(|n| n.firing().count()).sum();
    let total: usize = ns.iter().map(|n| n.alerts.len()).sum();
    let title = match ns {
        [one] => title(one),
        _ if firing > 0 => format!("[FIRING:{firing}] digest of {} groups", ns.len()),
        _ => format!("[RESOLVED] digest of {} groups", ns.len()),
    };
    let mut intro = st.heading(&title);
    intro.push('\n');
    if ns.len() > 1 {
        let _ = write!(
            intro,
            "{total} alerts ({firing} firing) merged to stay under the robot's rate limit"
        );
    } else if let [one] = ns {
        intro.push_str(&header_line(one, &st, opts));
    }
    if ns.len() > 1 && !opts.external_url.is_empty() {
        let _ = write!(intro, " · {}", st.link("alert list", &opts.external_url));
    }
    let mut packer = Packer::new(title, intro, opts.max_bytes);
    let mut since = TimeText::new(opts.time_zone);
    let mut line = String::with_capacity(128);
    for (i, n) in ns.iter().enumerate() {
        // Labels every alert of the group shares are said once, in the group's header.
        let shared = n.common_labels();
        let common = distinct_from(&shared, &n.group_labels);
        let mut head = String::new();
        if ns.len() > 1 {
            head = format!(
                "{} ({} firing, {} resolved)",
                st.escape(&group_name(n)),
                n.firing().count(),
                n.resolved().count()
            );
        }
        if !common.is_empty() && n.alerts.len() > 1 {
            if !head.is_empty() {
                head.push(' ');
            }
            head.push_str(&st.escape(&common));
        }
        if !head.is_empty() {
            packer.paragraph(st.bold(&head));
        }
        let shared = if n.alerts.len() > 1 {
            shared
        } else {
            n.group_labels.clone()
        };
        for (j, a) in n.alerts.iter().enumerate() {
            compact_alert(&mut line, a, n, &shared, &st, &mut since);
            packer.line(&line, i, j);
        }
    }
    packer.finish()
}

fn group_name(n: &Notification) -> String {
    if n.group_labels.is_empty() {
        return subject(n);
    }
    n.group_labels
        .values()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fills messages line by line against the JSON size of the body.
struct Packer {
    title: String,
    intro: String,
    max: usize,
    parts: Vec<Part>,
    text: String,
    size: usize,
    spans: Vec<(usize, Range<usize>)>,
    fresh: bool,
}

/// `{"msgtype":"markdown","markdown":{"title":"","text":""}}`.
pub(crate) const ENVELOPE: usize = 52;
/// The same, exactly as serde_json writes it: the size of `Message::markdown("", "")`.
const MARKDOWN_BODY: usize = 56;
/// The `(i/n)` numbering added to continued parts' titles and text.
const NUMBERING: usize = 24;

impl Packer {
    fn new(title: String, intro: String, max: usize) -> Packer {
        let mut p = Packer {
            title,
            intro,
            max: max.max(1024),
            parts: Vec::new(),
            text: String::new(),
            size: 0,
            spans: Vec::new(),
            fresh: true,
        };
        p.start();
        p
    }

    fn start(&mut self) {
        self.text = self.intro.clone();
        self.size = ENVELOPE + NUMBERING * 2 + json_len(&self.title) + json_len(&self.intro);
        self.spans.clear();
        self.fresh = true;
    }

    fn push(&mut self, sep: &str, s: &str) {
        let add = json_len(sep) + json_len(s);
        if self.size + add > self.max && !self.fresh {
            self.flush();
        }
        self.text.push_str(sep);
        self.text.push_str(s);
        self.size += add;
        self.fresh = false;
    }

    fn paragraph(&mut self, s: String) {
        self.push("\n\n", &s);
    }

    fn line(&mut self, s: &str, n: usize, a: usize) {
        self.push("\n", s);
        match self.spans.last_mut() {
            Some((i, r)) if *i == n && r.end == a => r.end = a + 1,
            _ => self.spans.push((n, a..a + 1)),
        }
    }

    fn flush(&mut self) {
        let text = std::mem::take(&mut self.text);
        self.parts.push(Part {
            rendered: Rendered {
                title: self.title.clone(),
                text,
            },
            spans: std::mem::take(&mut self.spans),
        });
        self.start();
    }

    fn finish(mut self) -> Vec<Part> {
        if !self.fresh || self.parts.is_empty() {
            self.flush();
        }
        let n = self.parts.len();
        if n > 1 {
            for (i, p) in self.parts.iter_mut().enumerate() {
                p.rendered.title = format!("{} ({}/{n})", p.rendered.title, i + 1);
                p.rendered.text = format!("{}\n\n({}/{n})", p.rendered.text, i + 1);
            }
        }
        self.parts
    }
}

/// Bytes `s` takes inside a JSON string as serde_json writes it.
pub(crate) fn json_len(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

/// Markdown or plain-text decorations.
pub(crate) struct Style(pub(crate) MessageFormat);

impl Style {
    pub(crate) fn md(&self) -> bool {
        self.0 == MessageFormat::Markdown
    }
    pub(crate) fn heading(&self, s: &str) -> String {
        if self.md() {
            format!("#### {}", escape_md(s))
        } else {
            s.to_owned()
        }
    }
    pub(crate) fn bold(&self, s: &str) -> String {
        if self.md() {
            format!("**{s}**")
        } else {
            s.to_owned()
        }
    }
    pub(crate) fn link(&self, text: &str, url: &str) -> String {
        if self.md() {
            format!("[{text}]({})", url.replace(' ', "%20").replace(')', "%29"))
        } else {
            format!("{text}: {url}")
        }
    }
    /// A line break that survives DingTalk's markdown (single newlines collapse there).
    pub(crate) fn br(&self) -> &'static str {
        if self.md() {
            "  \n"
        } else {
            "\n"
        }
    }
    pub(crate) fn escape(&self, s: &str) -> String {
        if self.md() {
            escape_md(s)
        } else {
            s.to_owned()
        }
    }

    /// [`Style::escape`], appended to `out`.
    pub(crate) fn escape_into(&self, out: &mut String, s: &str) {
        if self.md() {
            escape_md_into(out, s);
        } else {
            out.push_str(s);
        }
    }
}

/// Backslash-escapes markdown's emphasis, code and link characters, and folds newlines, so
/// label values cannot restyle or break the message.
fn escape_md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_md_into(&mut out, s);
    out
}

fn escape_md_into(out: &mut String, s: &str) {
    if !s.bytes().any(|b| {
        matches!(
            b,
            b'*' | b'_' | b'`' | b'[' | b']' | b'#' | b'<' | b'>' | b'\\' | b'\n' | b'\r'
        )
    }) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '*' | '_' | '`' | '[' | ']' | '#' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
}

/// The labels of `a` (for tests and callers that show raw label sets).
pub fn label_text(l: &Labels) -> String {
    l.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// For callers that want the alert timestamps shown like the messages show them.
pub fn human_time(t: Timestamp, opts: &RenderOptions) -> String {
    zoned::human(t, opts.time_zone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::labels;
    use crate::dingtalk::Message;

    fn alert(inst: &str) -> NotifyAlert {
        let mut a = NotifyAlert::firing(
            labels([
                ("alertname", "HighCPU"),
                ("instance", inst),
                ("job", "node"),
                ("severity", "critical"),
            ]),
            labels([
                ("summary", "CPU above 90%"),
                ("description", "at 97% *now*"),
            ]),
            Timestamp::from_millis(1_787_214_060_000),
        );
        a.generator_url = "http://prom:9090/graph?g0.expr=x".into();
        a
    }

    fn notification(alerts: Vec<NotifyAlert>) -> Notification {
        Notification {
            receiver: "ops".into(),
            group_key: "{}:{alertname=\"HighCPU\"}".into(),
            group_labels: labels([("alertname", "HighCPU")]),
            alerts,
            created_at: Timestamp::from_secs(0),
            mention: None,
        }
    }

    fn opts() -> RenderOptions {
        RenderOptions {
            external_url: "http://tocsin:9096/alerts".into(),
            time_zone: TimeZone::named("Asia/Shanghai").unwrap(),
            ..RenderOptions::default()
        }
    }

    #[test]
    fn full_layout_has_status_header_severity_summary_time_labels_and_links() {
        let resolved = alert("node-2").resolved_at(Timestamp::from_millis(1_787_217_783_000));
        let r = render_full(&notification(vec![alert("node-1"), resolved]), &opts());
        assert_eq!(r.title, "[FIRING:1] HighCPU");
        let expected = "#### \\[FIRING:1\\] HighCPU\n\
            1 resolved · [alert list](http://tocsin:9096/alerts)\n\n\
            **[CRITICAL] CPU above 90%**  \nat 97% \\*now\\*  \n\
            Started 2026-08-20 16:21:00 +08:00 · instance=node-1 job=node · [source](http://prom:9090/graph?g0.expr=x)\n\n\
            **[RESOLVED] CPU above 90%**  \nat 97% \\*now\\*  \n\
            Resolved after 1h2m3s (2026-08-20 17:23:03 +08:00) · instance=node-2 job=node · [source](http://prom:9090/graph?g0.expr=x)";
        assert_eq!(r.text, expected);
    }

    /// `render_own` skips the full layout when this bound is over the budget: it must
    /// never exceed the real size, whatever the alerts look like; and the size it computes
    /// is the body `Message::markdown` sends.
    #[test]
    fn full_layout_floor_never_exceeds_the_rendered_body() {
        let mut odd = alert("node-3");
        odd.labels.insert("zone".into(), "a_b".into());
        odd.annotations
            .insert("runbook".into(), "http://wiki/x".into());
        let mut cases = vec![alert("node-1"), odd];
        let mut no_severity = alert("node-4");
        no_severity.labels.remove("severity");
        no_severity.annotations.remove("description");
        cases.push(no_severity);
        let mut unicode = alert("节点-5");
        unicode.labels.insert("severity".into(), "ſ".into());
        unicode
            .annotations
            .insert("description".into(), "CPU *过高* [x]\n\"q\"".into());
        unicode.annotations.remove("summary");
        cases.push(unicode);
        let mut empty_severity = alert("node-6");
        empty_severity
            .labels
            .insert("severity".into(), String::new());
        empty_severity.generator_url.clear();
        cases.push(empty_severity);
        cases.push(alert("node-7").resolved_at(Timestamp::from_millis(1_787_217_783_000)));
        for format in [MessageFormat::Markdown, MessageFormat::Text] {
            let o = RenderOptions { format, ..opts() };
            for k in 1..=cases.len() {
                let mut n = notification(cases[..k].to_vec());
                for group_labels in [labels([("alertname", "HighCPU")]), Labels::new()] {
                    n.group_labels = group_labels;
                    let r = render_full(&n, &o);
                    let body = Message::markdown(&r.title, &r.text).body_len();
                    assert_eq!(body, MARKDOWN_BODY + json_len(&r.title) + json_len(&r.text));
                    let floor = full_layout_floor(&n, format);
                    assert!(floor <= body, "{floor} > {body}: {format:?}\n{}", r.text);
                }
            }
        }
    }

    #[test]
    fn all_resolved_title_says_resolved() {
        let r = render_full(
            &notification(vec![
                alert("a").resolved_at(Timestamp::from_millis(1_787_214_070_000))
            ]),
            &opts(),
        );
        assert_eq!(r.title, "[RESOLVED] HighCPU");
    }

    #[test]
    fn text_format_has_no_markdown() {
        let o = RenderOptions {
            format: MessageFormat::Text,
            ..opts()
        };
        let r = render_full(&notification(vec![alert("node-1")]), &o);
        assert!(
            !r.text.contains("**") && !r.text.contains("####"),
            "{}",
            r.text
        );
        assert!(r.text.contains("source: http://prom:9090"), "{}", r.text);
    }

    #[test]
    fn compact_layout_reports_every_alert_within_the_size_budget() {
        let groups: Vec<Notification> = (0..20)
            .map(|g| {
                let mut n = notification(
                    (0..250)
                        .map(|i| alert(&format!("host-{g}-{i}:9100")))
                        .collect(),
                );
                n.group_labels = labels([("alertname", "HighCPU"), ("team", "t")]);
                n.group_key = format!("g{g}");
                n
            })
            .collect();
        let parts = render_compact(&groups, &opts());
        assert!(parts.len() > 1);
        let mut seen = 0;
        for p in &parts {
            let body = Message::markdown(&p.rendered.title, &p.rendered.text).body_len();
            assert!(body <= 17_000, "{body}");
            seen += p.spans.iter().map(|(_, r)| r.len()).sum::<usize>();
        }
        assert_eq!(seen, 20 * 250);
        let reported: std::collections::HashSet<&str> = parts
            .iter()
            .flat_map(|p| p.rendered.text.split(['\n', ' ']))
            .collect();
        for g in 0..20 {
            for i in 0..250 {
                let needle = format!("instance=host-{g}-{i}:9100");
                assert!(reported.contains(needle.as_str()), "{needle}");
            }
        }
        assert!(parts[0]
            .rendered
            .title
            .starts_with("[FIRING:5000] digest of 20 groups (1/"));
    }
}

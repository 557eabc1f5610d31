//! The report as terminal text, as Markdown (a pull-request comment) and as one
//! self-contained HTML page with an inline-SVG timeline per rule (nothing is fetched).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::{
    fmt_labels, parse_rfc3339, AlertDiff, NotifyCounts, Report, RuleDiff, SideReport, Status,
};

/// Whether a rule deserves a section: anything but an unchanged rule with identical
/// outcomes and no findings.
fn interesting(r: &RuleDiff) -> bool {
    let alerts_differ = r.alerts.as_ref().is_some_and(|d| {
        !d.added.is_empty()
            || !d.removed.is_empty()
            || !d.identity_changes.is_empty()
            || !d.annotation_changes.is_empty()
            || d.timing_changes > 0
    });
    let values_differ = r
        .recording
        .as_ref()
        .is_some_and(|c| c.points_changed > 0 || c.series_only_old > 0 || c.series_only_new > 0);
    let findings = r
        .new
        .as_ref()
        .is_some_and(|s| s.errors.failed_evaluations > 0 || !s.empty_selectors.is_empty());
    let notifications_differ = r
        .notifications
        .as_ref()
        .is_some_and(|n| n.old.is_some() && n.new.is_some() && n.old != n.new);
    r.status != Status::Unchanged
        || alerts_differ
        || notifications_differ
        || values_differ
        || findings
        || !r.notes.is_empty()
}

fn side_line(s: &SideReport, kind: &str) -> String {
    let mut out = if kind == "alerting" {
        format!(
            "{} alert(s), {} firing interval(s)",
            s.alerts, s.firing_intervals
        )
    } else {
        format!("{} series", s.series)
    };
    if let (Some(f), Some(l)) = (&s.first_firing, &s.last_firing) {
        let _ = write!(out, ", first firing {f}, last {l}");
    }
    let _ = write!(out, "; {} evaluations every {}", s.evaluations, s.step);
    if s.errors.failed_evaluations > 0 {
        let _ = write!(
            out,
            "; {} failed: {}",
            s.errors.failed_evaluations,
            s.errors.first_error.as_deref().unwrap_or("")
        );
    }
    out
}

fn alert_lines(d: &AlertDiff, limit: usize, out: &mut Vec<String>) {
    for c in &d.identity_changes {
        out.push(format!(
            "~ identity {} → {} ({})",
            fmt_labels(&c.old_labels),
            fmt_labels(&c.new_labels),
            c.changes.join(", ")
        ));
    }
    for (sign, list) in [("+ added", &d.added), ("- removed", &d.removed)] {
        for f in list.iter().take(limit) {
            out.push(format!(
                "{sign} {} firing {} → {}",
                fmt_labels(&f.labels),
                f.start,
                f.end
            ));
        }
        if list.len() > limit {
            out.push(format!("{sign}: {} more", list.len() - limit));
        }
    }
    for a in d.annotation_changes.iter().take(limit) {
        out.push(format!(
            "annotation {} of {}: {:?} → {:?}",
            a.name,
            fmt_labels(&a.labels),
            a.old.as_deref().unwrap_or("(none)"),
            a.new.as_deref().unwrap_or("(none)")
        ));
    }
    if d.annotation_changes.len() > limit {
        out.push(format!(
            "annotation changes: {} more",
            d.annotation_changes.len() - limit
        ));
    }
    if d.timing_changes > 0 {
        out.push(format!(
            "{} firing interval(s) start or end at other slots",
            d.timing_changes
        ));
    }
}

fn rule_lines(r: &RuleDiff) -> Vec<String> {
    let mut lines = Vec::new();
    if !r.definition_changes.is_empty() {
        lines.push(r.definition_changes.join("; "));
    }
    if let (Some(o), Some(n)) = (&r.old, &r.new) {
        if o.expr != n.expr {
            lines.push(format!("old expr: {}", o.expr));
            lines.push(format!("new expr: {}", n.expr));
        }
    }
    if let Some(s) = &r.old {
        lines.push(format!("old: {}", side_line(s, r.kind)));
    }
    if let Some(s) = &r.new {
        lines.push(format!("new: {}", side_line(s, r.kind)));
        for sel in &s.empty_selectors {
            lines.push(format!("selector {sel} matches no series over the window"));
        }
    }
    if let Some(d) = &r.alerts {
        alert_lines(d, 10, &mut lines);
    }
    if let Some(c) = &r.recording {
        let mut l = format!(
            "series {} → {} ({} only old, {} only new)",
            c.series_old, c.series_new, c.series_only_old, c.series_only_new
        );
        if c.values_compared {
            let _ = write!(
                l,
                "; {} of {} values changed",
                c.points_changed, c.points_compared
            );
            if let Some((series, at, o, n)) = &c.example {
                let _ = write!(l, ", e.g. {series} at {at}: {o} → {n}");
            }
        } else {
            l.push_str("; values not compared (different steps)");
        }
        lines.push(l);
    }
    if let Some(n) = &r.notifications {
        let side = |c: &Option<NotifyCounts>| c.as_ref().map_or("–".to_string(), counts_text);
        lines.push(format!(
            "notifications (this rule's alerts alone through the route): old {}; new {}",
            side(&n.old),
            side(&n.new)
        ));
    }
    for n in &r.notes {
        lines.push(format!("note: {n}"));
    }
    lines
}

fn counts_text(c: &NotifyCounts) -> String {
    let mut out = format!(
        "{} notification(s), {} DingTalk message(s)",
        c.notifications, c.dingtalk_messages
    );
    if c.digest_messages > 0 || c.split_parts > 0 {
        let _ = write!(
            out,
            " ({} digest part(s), {} split part(s))",
            c.digest_messages, c.split_parts
        );
    }
    if c.requests > c.dingtalk_messages {
        let _ = write!(
            out,
            ", {} other request(s)",
            c.requests - c.dingtalk_messages
        );
    }
    out
}

/// `adds 3 alerts`, `removes 2 alerts`.
fn change(n: i64, what: &str) -> String {
    if n < 0 {
        format!("removes {} {what}", -n)
    } else {
        format!("adds {n} {what}")
    }
}

/// `--config`: the headline and each side's deliveries per destination.
fn notification_lines(report: &Report) -> Vec<String> {
    let Some(n) = &report.notifications else {
        return Vec::new();
    };
    let mut lines = vec![format!(
        "this change {} and {} ({:+} a week), {:+} notification(s), through the route of {}",
        change(n.alerts_added, "alerts"),
        change(n.dingtalk_messages_added, "DingTalk messages"),
        n.dingtalk_messages_added_per_week,
        n.notifications_added,
        n.config
    )];
    for (name, side) in [("old", &n.old), ("new", &n.new)] {
        lines.push(format!(
            "notifications, {name} set: {} ({} DingTalk messages a week)",
            counts_text(&side.total),
            side.dingtalk_messages_per_week
        ));
    }
    let lanes: std::collections::BTreeSet<&String> = n
        .old
        .receivers
        .keys()
        .chain(n.new.receivers.keys())
        .collect();
    for lane in lanes {
        let get = |side: &crate::report::SideNotifications| {
            side.receivers.get(lane).map_or("nothing".to_string(), |r| {
                format!(
                    "{} ({} requests a week)",
                    counts_text(&r.counts),
                    r.requests_per_week
                )
            })
        };
        lines.push(format!(
            "  {lane}: old {}; new {}",
            get(&n.old),
            get(&n.new)
        ));
    }
    for e in &n.errors {
        lines.push(format!("notification simulation failed: {e}"));
    }
    lines
}

fn header_lines(report: &Report) -> Vec<String> {
    let s = &report.summary;
    let mut lines = live_lines(report);
    lines.extend(notification_lines(report));
    lines.extend([
        format!(
            "window {} … {}{}",
            report.window.start,
            report.window.end,
            report
                .window
                .step
                .as_ref()
                .map_or(String::new(), |st| format!(", step {st}"))
        ),
        format!(
            "rules: {} old, {} new — {} unchanged, {} changed, {} renamed, {} added, {} removed",
            s.rules_old, s.rules_new, s.unchanged, s.changed, s.renamed, s.added, s.removed
        ),
        format!(
            "alerts: {} firing interval(s) added, {} removed, {} identity change(s), {} annotation change(s)",
            s.alerts_added, s.alerts_removed, s.identity_changes, s.annotation_changes
        ),
        format!(
            "cost: old {} requests / {} samples, new {} requests / {} samples; issued {} requests, {} samples read, peak {} samples; {} series lookups",
            report.cost.old.requests,
            report.cost.old.samples,
            report.cost.new.requests,
            report.cost.new.samples,
            report.cost.issued.requests,
            report.cost.issued.samples,
            report.cost.issued.peak_samples,
            report.cost.series_requests
        ),
    ]);
    lines
}

/// `--live`: what was compared with what, the warm-up and the slots.
fn live_lines(report: &Report) -> Vec<String> {
    let Some(l) = &report.live else {
        return Vec::new();
    };
    let mut lines = vec![
        format!(
            "live for {} against {}; warm-up {} ({}), not compared",
            l.duration,
            if l.baseline == "prometheus" { "the alerts the server reports" } else { "the old rules evaluated live" },
            l.warm_up,
            l.warm_up_reason
        ),
        format!(
            "slots after the warm-up: {} old, {} new; states compared at {} (rule, slot) pairs, {} differ",
            l.slots_old, l.slots_new, l.slots_compared, l.state_mismatches
        ),
    ];
    if !l.groups_not_compared.is_empty() {
        lines.push(format!(
            "server groups not in the candidate, not compared: {}",
            l.groups_not_compared.join(", ")
        ));
    }
    lines
}

/// Terminal text.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for l in header_lines(report) {
        let _ = writeln!(out, "{l}");
    }
    for r in report.rules.iter().filter(|r| interesting(r)) {
        let _ = writeln!(
            out,
            "\n{} {} rule {} (group {})",
            r.status.as_str().to_uppercase(),
            r.kind,
            r.name,
            r.group
        );
        for l in rule_lines(r) {
            let _ = writeln!(out, "  {l}");
        }
    }
    let _ = writeln!(out);
    if report.regressed {
        let _ = writeln!(out, "REGRESSED:");
        for g in &report.regressions {
            let _ = writeln!(out, "  {}/{}: {}: {}", g.group, g.rule, g.kind, g.message);
        }
    } else {
        let _ = writeln!(out, "OK: nothing regressed");
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'")
}

/// Markdown for a pull-request comment.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let verdict = if report.regressed {
        "❌ regressed"
    } else {
        "✅ nothing regressed"
    };
    let _ = writeln!(out, "### tocsin diff: {verdict}\n");
    for l in header_lines(report) {
        let _ = writeln!(out, "- {}", md_escape(&l));
    }
    if report.regressed {
        let _ = writeln!(
            out,
            "\n| group | rule | finding | detail |\n|---|---|---|---|"
        );
        for g in &report.regressions {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} |",
                md_escape(&g.group),
                md_escape(&g.rule),
                g.kind,
                md_escape(&g.message)
            );
        }
    }
    let rules: Vec<&RuleDiff> = report.rules.iter().filter(|r| interesting(r)).collect();
    if !rules.is_empty() {
        let _ = writeln!(
            out,
            "\n| rule | group | status | old alerts | new alerts | added | removed | identity |\n|---|---|---|---|---|---|---|---|"
        );
        for r in &rules {
            let count = |s: &Option<SideReport>| {
                s.as_ref().map_or("–".to_string(), |s| {
                    if r.kind == "alerting" {
                        format!("{} ({} firing)", s.alerts, s.firing_intervals)
                    } else {
                        format!("{} series", s.series)
                    }
                })
            };
            let (a, rm, id) = r.alerts.as_ref().map_or((0, 0, 0), |d| {
                (d.added.len(), d.removed.len(), d.identity_changes.len())
            });
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {a} | {rm} | {id} |",
                md_escape(&r.name),
                md_escape(&r.group),
                r.status.as_str(),
                count(&r.old),
                count(&r.new)
            );
        }
        let _ = writeln!(out, "\n<details><summary>Details</summary>\n");
        for r in &rules {
            let _ = writeln!(
                out,
                "**{}** `{}` ({})\n",
                r.status.as_str(),
                md_escape(&r.name),
                md_escape(&r.group)
            );
            for l in rule_lines(r) {
                let _ = writeln!(out, "- {}", md_escape(&l));
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "</details>");
    }
    out
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Firing spans `[start, end)` in Unix milliseconds.
type Spans = Vec<(i64, i64)>;

/// One SVG timeline: a row per alert, the old set's firing above the new set's.
fn timeline(report: &Report, r: &RuleDiff, step_ms: i64) -> String {
    let (Some(t0), Some(t1)) = (
        parse_rfc3339(&report.window.start),
        parse_rfc3339(&report.window.end),
    ) else {
        return String::new();
    };
    let span = (t1 - t0).max(1) as f64;
    let mut rows: BTreeMap<String, [Spans; 2]> = BTreeMap::new();
    for (k, side) in [&r.old, &r.new].into_iter().enumerate() {
        let Some(s) = side else { continue };
        for a in &s.firing {
            // Every row is this rule's: its alertname adds nothing.
            let mut labels = a.labels.clone();
            labels.remove("alertname");
            let row = rows.entry(fmt_labels(&labels)).or_default();
            for i in &a.intervals {
                if let (Some(a0), Some(a1)) = (parse_rfc3339(&i.start), parse_rfc3339(&i.end)) {
                    let v = (a0, a1 + step_ms);
                    row[k].push(v);
                }
            }
        }
    }
    const MAX_ROWS: usize = 40;
    let shown = rows.len().min(MAX_ROWS);
    let (label_w, plot_w, row_h) = (360.0, 640.0, 22.0);
    let height = 30.0 + shown as f64 * row_h + 10.0;
    let x = |t: i64| label_w + ((t - t0) as f64 / span).clamp(0.0, 1.0) * plot_w;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{w}" height="{height}" viewBox="0 0 {w} {height}" role="img" aria-label="firing timeline of {name}">"#,
        w = label_w + plot_w + 10.0,
        name = esc(&r.name)
    );
    let _ = write!(
        svg,
        r##"<text x="{label_w}" y="14" class="axis">{}</text><text x="{}" y="14" class="axis" text-anchor="end">{}</text><line x1="{label_w}" y1="20" x2="{}" y2="20" stroke="#999"/>"##,
        esc(&report.window.start),
        label_w + plot_w,
        esc(&report.window.end),
        label_w + plot_w
    );
    if rows.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="{label_w}" y="40" class="axis">no alert fired in either set</text>"#
        );
    }
    for (i, (labels, [old, new])) in rows.iter().take(MAX_ROWS).enumerate() {
        let y = 26.0 + i as f64 * row_h;
        let _ = write!(
            svg,
            r#"<text x="4" y="{}" class="lbl">{}</text>"#,
            y + 14.0,
            esc(&truncate(labels, 58))
        );
        for (k, spans) in [old, new].into_iter().enumerate() {
            let (class, yy) = if k == 0 {
                ("old", y + 2.0)
            } else {
                ("new", y + 11.0)
            };
            for (a, b) in spans {
                let x0 = x(*a);
                let w = (x(*b) - x0).max(1.5);
                let _ = write!(
                    svg,
                    r#"<rect class="{class}" x="{x0:.1}" y="{yy}" width="{w:.1}" height="8"><title>{} {}</title></rect>"#,
                    if k == 0 { "old" } else { "new" },
                    esc(labels)
                );
            }
        }
    }
    svg.push_str("</svg>");
    if rows.len() > MAX_ROWS {
        let _ = write!(
            svg,
            "<p class=\"more\">{} more alerts not drawn</p>",
            rows.len() - MAX_ROWS
        );
    }
    svg
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

fn step_ms(r: &RuleDiff) -> i64 {
    r.new
        .as_ref()
        .or(r.old.as_ref())
        .and_then(|s| tocsin_promql::parse_model_duration(&s.step).ok())
        .map_or(60_000, |d| d as i64)
}

/// One self-contained HTML page: summary, verdict, and a section with a timeline per rule.
pub fn html(report: &Report) -> String {
    let mut out = String::from(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tocsin diff</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
.ok{color:#1a7f37} .bad{color:#cf222e}
ul.lines{margin:4px 0 8px 0;padding-left:18px}
.status{font-size:12px;padding:1px 6px;border-radius:8px;background:#eee;margin-left:6px}
svg.timeline{display:block;margin:6px 0 4px 0;background:#fafafa;border:1px solid #ddd}
svg .axis{font-size:11px;fill:#555} svg .lbl{font-size:11px;fill:#222;font-family:monospace}
svg rect.old{fill:#0969da} svg rect.new{fill:#e16f24}
.legend span{display:inline-block;width:12px;height:8px;margin:0 4px 0 12px}
table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
</style></head><body>
"#,
    );
    let verdict = if report.regressed {
        "<span class=\"bad\">regressed</span>"
    } else {
        "<span class=\"ok\">nothing regressed</span>"
    };
    let _ = writeln!(out, "<h1>tocsin diff: {verdict}</h1>");
    let _ = writeln!(out, "<ul class=\"lines\">");
    for l in header_lines(report) {
        let _ = writeln!(out, "<li>{}</li>", esc(&l));
    }
    let _ = writeln!(out, "</ul>");
    let _ = writeln!(
        out,
        "<p class=\"legend\">Firing:<span style=\"background:#0969da\"></span>old set<span style=\"background:#e16f24\"></span>new set</p>"
    );
    if report.regressed {
        let _ = writeln!(out, "<table id=\"regressions\"><tr><th>group</th><th>rule</th><th>finding</th><th>detail</th></tr>");
        for g in &report.regressions {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&g.group),
                esc(&g.rule),
                g.kind,
                esc(&g.message)
            );
        }
        let _ = writeln!(out, "</table>");
    }
    let mut ordered: Vec<&RuleDiff> = report.rules.iter().filter(|r| interesting(r)).collect();
    ordered.extend(
        report
            .rules
            .iter()
            .filter(|r| !interesting(r) && r.kind == "alerting"),
    );
    for r in ordered {
        let _ = writeln!(
            out,
            "<section class=\"rule\"><h2>{} <small>({}, {})</small><span class=\"status\">{}</span></h2>",
            esc(&r.name),
            esc(&r.group),
            r.kind,
            r.status.as_str()
        );
        let _ = writeln!(out, "<ul class=\"lines\">");
        for l in rule_lines(r) {
            let _ = writeln!(out, "<li>{}</li>", esc(&l));
        }
        let _ = writeln!(out, "</ul>");
        if r.kind == "alerting" {
            out.push_str(&timeline(report, r, step_ms(r)));
            out.push('\n');
        }
        let _ = writeln!(out, "</section>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        let ts = tocsin_engine::Timestamp::from_millis(1_700_000_123_456);
        assert_eq!(
            parse_rfc3339(&crate::report::rfc3339(ts)),
            Some(1_700_000_123_456)
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:00.000Z"),
            Some(951_868_800_000)
        );
        assert_eq!(parse_rfc3339("2000-03-01T00:00:01Z"), Some(951_868_801_000));
        assert_eq!(
            parse_rfc3339("2000-03-01T00:00:01.5Z"),
            Some(951_868_801_500)
        );
        assert_eq!(parse_rfc3339("2000-03-01 00:00:01"), None);
    }

    #[test]
    fn the_notification_headline_says_what_the_change_adds_and_removes_in_every_format() {
        use crate::report::{
            CostReport, NotificationReport, ReceiverNotifications, SideNotifications, Summary,
            WindowReport,
        };
        let side = |messages: u64| {
            let counts = NotifyCounts {
                notifications: messages,
                requests: messages,
                dingtalk_messages: messages,
                ..NotifyCounts::default()
            };
            SideNotifications {
                total: counts,
                dingtalk_messages_per_week: messages as f64,
                receivers: [(
                    "dingtalk:oncall".to_string(),
                    ReceiverNotifications {
                        counts,
                        per_day: Default::default(),
                        requests_per_week: messages as f64,
                    },
                )]
                .into_iter()
                .collect(),
            }
        };
        let report = Report {
            schema: 1,
            datasource: "http://prometheus:9090".into(),
            window: WindowReport {
                start: "2026-01-01T00:00:00.000Z".into(),
                end: "2026-01-08T00:00:00.000Z".into(),
                step: None,
            },
            old_files: vec![],
            new_files: vec![],
            allow_added: 0,
            allow_removed: 0,
            summary: Summary::default(),
            regressed: false,
            regressions: vec![],
            rules: vec![],
            cost: CostReport::default(),
            notifications: Some(NotificationReport {
                config: "tocsin.yaml".into(),
                old: side(50),
                new: side(9),
                alerts_added: 3,
                notifications_added: -41,
                dingtalk_messages_added: -41,
                dingtalk_messages_added_per_week: -41.0,
                errors: vec![],
            }),
            live: None,
        };
        let headline = "this change adds 3 alerts and removes 41 DingTalk messages (-41 a week), -41 notification(s), through the route of tocsin.yaml";
        let lane = "dingtalk:oncall: old 50 notification(s), 50 DingTalk message(s) (50 requests a week); new 9 notification(s), 9 DingTalk message(s) (9 requests a week)";
        for (what, body) in [
            ("text", text(&report)),
            ("markdown", markdown(&report)),
            ("html", html(&report)),
        ] {
            assert!(body.contains(headline), "{what}:\n{body}");
            assert!(body.contains(lane), "{what}:\n{body}");
        }
    }

    #[test]
    fn html_escapes_what_it_prints() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}

//! The storm layout: what a robot gets when more groups are due than its rate limit lets
//! through. A storm becomes one *digest*: a summary message first, then numbered parts
//! listing every alert one line each, so a person on a phone learns what is happening
//! from the first message and can scroll the rest.
//!
//! ```text
//! #### [FIRING:5000] Alert storm: 5,000 alerts in 5,000 groups (1/47)
//! 5,000 firing · since 2026-12-04 14:31:36 +08:00 · [alert list](EXTERNAL_URL)
//!
//! **By alert and severity**
//! FlinkJobNotRunning · critical: 5,000
//!
//! **Most common labels**
//! job_name: 5,000 distinct
//! namespace: flink ×5,000
//!
//! Every alert is listed in the next 46 messages (2/47 to 47/47).
//! ```
//!
//! ```text
//! #### [FIRING:5000] Alert storm (2/47)
//! - 🔥 job_name=job-0001 · Flink job job-0001 is not running
//! - …
//! ```
//!
//! The parts are numbered `(k/N)` with `N` fixed when the digest is made. Only the first
//! message carries the @-mentions. A digest takes at most `storm.max_messages` messages;
//! alerts beyond what they hold are counted in the last one
//! (`… and 3,200 more FlinkJobNotRunning`), never silently dropped.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use crate::alert::{AlertStatus, NotifyAlert};
use crate::dingtalk::StormConfig;
use crate::notification::Notification;
use crate::render::{json_len, RenderOptions, Rendered, Style, ENVELOPE};

/// One message of a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StormPart {
    pub rendered: Rendered,
    /// `(index of the notification in the input, how many of its alerts this part
    /// reports)`: listed or counted.
    pub covers: Vec<(usize, usize)>,
    /// Alerts this part lists or counts.
    pub alerts: usize,
    /// The summary (first) message.
    pub summary: bool,
}

/// Room kept in the last allowed part for the `… and N more` lines.
const COUNT_RESERVE: usize = 2_000;
/// Room for the heading with its `(k/N)`, and the envelope.
const HEAD_RESERVE: usize = 300;
/// `… and N more X` lines at most; the rest are summed in one line.
const COUNT_LINES: usize = 10;
/// Lines of the summary's tables.
const TABLE_ROWS: usize = 8;

/// `5,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `s` cut to `max` characters, with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((i, _)) => format!("{}…", s[..i].trim_end()),
    }
}

fn severity(a: &NotifyAlert) -> &str {
    a.labels.get("severity").map_or("", String::as_str)
}

/// What the summary says about the alerts.
struct Stats<'a> {
    total: usize,
    firing: usize,
    by_rule: Vec<((&'a str, &'a str), usize)>,
    /// Label name → value counts, for labels other than alertname and severity.
    labels: BTreeMap<&'a str, HashMap<&'a str, usize>>,
    rules: usize,
    severities: usize,
}

impl<'a> Stats<'a> {
    fn of(alerts: &[&'a NotifyAlert]) -> Stats<'a> {
        let mut by_rule: HashMap<(&str, &str), usize> = HashMap::new();
        let mut labels: BTreeMap<&str, HashMap<&str, usize>> = BTreeMap::new();
        let mut firing = 0;
        for a in alerts {
            firing += usize::from(a.status == AlertStatus::Firing);
            *by_rule.entry((a.name(), severity(a))).or_default() += 1;
            for (k, v) in &a.labels {
                if matches!(k.as_str(), "alertname" | "severity") {
                    continue;
                }
                *labels
                    .entry(k.as_str())
                    .or_default()
                    .entry(v.as_str())
                    .or_default() += 1;
            }
        }
        let rules = by_rule
            .keys()
            .map(|(r, _)| *r)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let severities = by_rule
            .keys()
            .map(|(_, s)| *s)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let mut by_rule: Vec<_> = by_rule.into_iter().collect();
        by_rule.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Stats {
            total: alerts.len(),
            firing,
            by_rule,
            labels,
            rules,
            severities,
        }
    }

    /// Labels whose value differs between alerts: they tell the listed alerts apart.
    fn varying(&self) -> Vec<&'a str> {
        self.labels
            .iter()
            .filter(|(_, values)| {
                values.len() > 1 || values.values().next().is_some_and(|n| *n < self.total)
            })
            .map(|(k, _)| *k)
            .collect()
    }
}

/// Renders the alerts of `ns` as a storm digest.
pub fn render_storm(
    ns: &[&Notification],
    opts: &RenderOptions,
    storm: &StormConfig,
) -> Vec<StormPart> {
    let st = Style(opts.format);
    // Firing first, then by alert rule, then in group order.
    let mut items: Vec<(usize, &NotifyAlert)> = ns
        .iter()
        .enumerate()
        .flat_map(|(i, n)| n.alerts.iter().map(move |a| (i, a)))
        .collect();
    items.sort_by(|(i, a), (j, b)| (a.status, a.name(), *i).cmp(&(b.status, b.name(), *j)));
    let alerts: Vec<&NotifyAlert> = items.iter().map(|(_, a)| *a).collect();
    let stats = Stats::of(&alerts);
    let varying = stats.varying();
    let status = if stats.firing > 0 {
        format!("[FIRING:{}]", stats.firing)
    } else {
        "[RESOLVED]".to_owned()
    };

    // The listing, packed against the JSON size of each message.
    let max_parts = storm.max_messages.saturating_sub(1).max(1);
    let max = opts.max_bytes.max(4 * COUNT_RESERVE);
    let mut parts: Vec<Listing> = vec![Listing::default()];
    let mut rest = items.len();
    for (k, (i, a)) in items.iter().enumerate() {
        let line = list_line(a, &st, &stats, &varying, storm.summary_chars);
        let cost = json_len(&line) + 2;
        let last_allowed = parts.len() == max_parts;
        let cap = max - HEAD_RESERVE - if last_allowed { COUNT_RESERVE } else { 0 };
        let cur = parts.last_mut().expect("one part");
        if cur.size + cost > cap && cur.alerts > 0 {
            if last_allowed {
                rest = k;
                break;
            }
            parts.push(Listing::default());
        }
        parts.last_mut().expect("one part").add(line, cost, *i);
    }
    // Whatever did not fit is counted, per alert rule, in the last part.
    if rest < items.len() {
        let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, a) in &items[rest..] {
            *counted.entry(a.name()).or_default() += 1;
        }
        let mut counted: Vec<(&str, usize)> = counted.into_iter().collect();
        counted.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let last = parts.last_mut().expect("one part");
        for (name, n) in counted.iter().take(COUNT_LINES) {
            let line = format!(
                "- … and {} more {}",
                thousands(*n),
                st.escape(&cut(name, 60))
            );
            last.lines.push(line);
        }
        if counted.len() > COUNT_LINES {
            let others = &counted[COUNT_LINES..];
            let n: usize = others.iter().map(|(_, n)| n).sum();
            last.lines.push(format!(
                "- … and {} more of {} other alert rules",
                thousands(n),
                others.len()
            ));
        }
        for (i, _) in &items[rest..] {
            last.cover(*i);
        }
        last.alerts += items.len() - rest;
    }

    let summary = summary_text(&stats, &items, ns.len(), rest, parts.len(), &st, opts);
    let listing_len: usize = parts[0].lines.iter().map(|l| json_len(l) + 2).sum();
    if parts.len() == 1
        && rest == items.len()
        && ENVELOPE + json_len(&summary.0) * 2 + json_len(&summary.1) + listing_len + 4
            <= opts.max_bytes
    {
        // All in one message: the summary with the list under it.
        let p = parts.pop().expect("one part");
        let title = format!("{status} {}", summary.0);
        let mut text = st.heading(&title);
        text.push('\n');
        text.push_str(&summary.1);
        text.push_str("\n\n");
        text.push_str(&p.lines.join("\n"));
        return vec![StormPart {
            rendered: Rendered { title, text },
            covers: p.covers,
            alerts: p.alerts,
            summary: true,
        }];
    }
    let n = parts.len() + 1;
    let mut out = Vec::with_capacity(n);
    let title = format!("{status} {} (1/{n})", summary.0);
    let mut text = st.heading(&title);
    text.push('\n');
    text.push_str(&summary.1);
    out.push(StormPart {
        rendered: Rendered { title, text },
        covers: Vec::new(),
        alerts: 0,
        summary: true,
    });
    for (k, p) in parts.into_iter().enumerate() {
        let title = format!("{status} Alert storm ({}/{n})", k + 2);
        let mut text = st.heading(&title);
        text.push('\n');
        text.push_str(&p.lines.join("\n"));
        out.push(StormPart {
            rendered: Rendered { title, text },
            covers: p.covers,
            alerts: p.alerts,
            summary: false,
        });
    }
    out
}

/// Lines of one listing message.
#[derive(Default)]
struct Listing {
    lines: Vec<String>,
    size: usize,
    covers: Vec<(usize, usize)>,
    alerts: usize,
}

impl Listing {
    fn add(&mut self, line: String, cost: usize, notification: usize) {
        self.lines.push(line);
        self.size += cost;
        self.alerts += 1;
        self.cover(notification);
    }

    fn cover(&mut self, notification: usize) {
        match self.covers.last_mut() {
            Some((i, n)) if *i == notification => *n += 1,
            _ => self.covers.push((notification, 1)),
        }
    }
}

/// `- 🔥 job_name=job-0042 · Flink job job-0042 is not running`: the status, the rule and
/// severity when the storm has several, the labels that tell alerts apart, the summary.
fn list_line(
    a: &NotifyAlert,
    st: &Style,
    stats: &Stats,
    varying: &[&str],
    summary_chars: usize,
) -> String {
    let mut line = String::from(match a.status {
        AlertStatus::Firing => "- 🔥 ",
        AlertStatus::Resolved => "- ✅ ",
    });
    if stats.rules > 1 {
        line.push_str(&st.escape(a.name()));
        line.push(' ');
    }
    if stats.severities > 1 && !severity(a).is_empty() {
        let _ = write!(line, "\\[{}\\] ", st.escape(severity(a)));
    }
    let labels: Vec<String> = varying
        .iter()
        .filter_map(|k| a.labels.get(*k).map(|v| format!("{k}={v}")))
        .collect();
    line.push_str(&st.escape(&cut(&labels.join(" "), 100)));
    if let Some(s) = a.annotations.get("summary") {
        let _ = write!(line, " · {}", st.escape(&cut(s, summary_chars)));
    }
    line
}

/// The summary message's subject (`Alert storm: 5,000 alerts in 5,000 groups`) and text.
fn summary_text(
    stats: &Stats,
    items: &[(usize, &NotifyAlert)],
    groups: usize,
    listed: usize,
    listing_parts: usize,
    st: &Style,
    opts: &RenderOptions,
) -> (String, String) {
    let subject = format!(
        "Alert storm: {} alerts in {} groups",
        thousands(stats.total),
        thousands(groups)
    );
    let br = st.br();
    let mut head = vec![format!("{} firing", thousands(stats.firing))];
    let resolved = stats.total - stats.firing;
    if resolved > 0 {
        head.push(format!("{} resolved", thousands(resolved)));
    }
    if let Some(first) = items
        .iter()
        .filter(|(_, a)| a.status == AlertStatus::Firing)
        .map(|(_, a)| a.starts_at)
        .min()
    {
        head.push(format!(
            "since {}",
            crate::zoned::human(first, opts.time_zone)
        ));
    }
    if !opts.external_url.is_empty() {
        head.push(st.link("alert list", &opts.external_url));
    }
    let mut text = head.join(" · ");

    text.push_str("\n\n");
    text.push_str(&st.bold("By alert and severity"));
    for ((rule, sev), n) in stats.by_rule.iter().take(TABLE_ROWS) {
        let sev = if sev.is_empty() { "no severity" } else { sev };
        let _ = write!(
            text,
            "{br}{} · {}: {}",
            st.escape(&cut(rule, 60)),
            st.escape(&cut(sev, 20)),
            thousands(*n)
        );
    }
    if stats.by_rule.len() > TABLE_ROWS {
        let others = &stats.by_rule[TABLE_ROWS..];
        let n: usize = others.iter().map(|(_, n)| n).sum();
        let _ = write!(
            text,
            "{br}… {} more in {} other rule/severity pairs",
            thousands(n),
            others.len()
        );
    }

    // The labels most alerts have, most common values first.
    let mut labels: Vec<(&str, &HashMap<&str, usize>)> =
        stats.labels.iter().map(|(k, v)| (*k, v)).collect();
    labels.sort_by_key(|(k, values)| (std::cmp::Reverse(values.values().sum::<usize>()), *k));
    if !labels.is_empty() {
        text.push_str("\n\n");
        text.push_str(&st.bold("Most common labels"));
    }
    for (name, values) in labels.iter().take(TABLE_ROWS) {
        let with: usize = values.values().sum();
        let line = if values.len() > 3 && values.values().all(|n| *n == 1) {
            format!("{name}: {} distinct", thousands(values.len()))
        } else {
            let mut top: Vec<(&str, usize)> = values.iter().map(|(v, n)| (*v, *n)).collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            let mut shown: Vec<String> = top
                .iter()
                .take(3)
                .map(|(v, n)| format!("{} ×{}", cut(v, 40), thousands(*n)))
                .collect();
            if top.len() > 3 {
                shown.push(format!("{} more values", thousands(top.len() - 3)));
            }
            let mut line = format!("{name}: {}", shown.join(", "));
            if with < stats.total {
                let _ = write!(line, " (on {} alerts)", thousands(with));
            }
            line
        };
        let _ = write!(text, "{br}{}", st.escape(&line));
    }

    text.push_str("\n\n");
    let range = if listing_parts == 1 {
        "message (2/2)".to_owned()
    } else {
        format!(
            "{} messages (2/{n} to {n}/{n})",
            listing_parts,
            n = listing_parts + 1
        )
    };
    if listed == stats.total {
        let _ = write!(text, "Every alert is listed in the next {range}.");
    } else {
        let _ = write!(
            text,
            "The first {} alerts are listed in the next {range}; the other {} are counted at the end, by alert rule.",
            thousands(listed),
            thousands(stats.total - listed)
        );
    }
    (subject, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{labels, Labels};
    use crate::dingtalk::Message;
    use crate::time::Timestamp;

    fn storm(n: usize, rules: usize) -> Vec<Notification> {
        (0..n)
            .map(|i| {
                let name = format!("FlinkJob{}", i % rules);
                let job = format!("job-{i:05}");
                let summary = format!("Flink job {job} is not running; the last checkpoint failed and the job manager restarted it {i} times");
                Notification {
                    receiver: "robot".into(),
                    group_key: format!("g{i}"),
                    group_labels: Labels::new(),
                    alerts: vec![NotifyAlert::firing(
                        labels([
                            ("alertname", name.as_str()),
                            ("job_name", job.as_str()),
                            ("namespace", "flink"),
                            ("severity", "critical"),
                        ]),
                        labels([("summary", summary.as_str())]),
                        Timestamp::from_secs(1_787_214_000),
                    )],
                    created_at: Timestamp::from_secs(1_787_214_030),
                    mention: None,
                }
            })
            .collect()
    }

    fn render(ns: &[Notification], storm: StormConfig) -> Vec<StormPart> {
        let refs: Vec<&Notification> = ns.iter().collect();
        let opts = RenderOptions {
            external_url: "http://tocsin:9096/alerts".into(),
            time_zone: crate::zoned::TimeZone::named("Asia/Shanghai").unwrap(),
            ..RenderOptions::default()
        };
        render_storm(&refs, &opts, &storm)
    }

    #[test]
    fn a_storm_of_5000_is_a_summary_then_numbered_parts_listing_every_alert_with_its_summary() {
        let ns = storm(5000, 1);
        let parts = render(&ns, StormConfig::default());
        let n = parts.len();
        assert!(n <= 60, "{n} messages");
        let first = &parts[0];
        assert!(first.summary);
        assert_eq!(
            first.rendered.title,
            format!("[FIRING:5000] Alert storm: 5,000 alerts in 5,000 groups (1/{n})")
        );
        let text = &first.rendered.text;
        for want in [
            "FlinkJob0 · critical: 5,000",
            "job\\_name: 5,000 distinct",
            "namespace: flink ×5,000",
            "[alert list](http://tocsin:9096/alerts)",
            "since 2026-08-20 16:20:00 +08:00",
            "Every alert is listed",
        ] {
            assert!(text.contains(want), "{want} not in\n{text}");
        }
        let mut listed = 0;
        for (k, p) in parts.iter().enumerate().skip(1) {
            assert!(
                p.rendered.title.ends_with(&format!("({}/{n})", k + 1)),
                "{}",
                p.rendered.title
            );
            let body = Message::markdown(&p.rendered.title, &p.rendered.text).body_len();
            assert!(body <= 17_000, "{body}");
            listed += p.alerts;
            assert_eq!(p.covers.iter().map(|(_, c)| c).sum::<usize>(), p.alerts);
        }
        assert_eq!(listed, 5000);
        let all: String = parts.iter().map(|p| p.rendered.text.as_str()).collect();
        for i in (0..5000).step_by(7) {
            let line = format!("job\\_name=job-{i:05} · Flink job job-{i:05} is not running;");
            assert!(all.contains(&line), "{line}");
        }
        // Summaries are cut to 80 characters.
        assert!(
            all.contains("the job manag…\n"),
            "{}",
            parts[1].rendered.text
        );
    }

    #[test]
    fn beyond_the_budget_alerts_are_counted_per_rule_in_the_last_part() {
        let ns = storm(20_000, 3);
        let parts = render(
            &ns,
            StormConfig {
                max_messages: 5,
                ..StormConfig::default()
            },
        );
        assert_eq!(parts.len(), 5);
        let reported: usize = parts.iter().map(|p| p.alerts).sum();
        assert_eq!(reported, 20_000, "every alert listed or counted");
        let last = &parts[4].rendered.text;
        let counted: usize = last
            .lines()
            .filter_map(|l| l.strip_prefix("- … and "))
            .map(|l| {
                l.split(' ')
                    .next()
                    .unwrap()
                    .replace(',', "")
                    .parse::<usize>()
                    .unwrap()
            })
            .sum();
        let listed = last.lines().filter(|l| l.starts_with("- 🔥")).count()
            + parts[1..4]
                .iter()
                .map(|p| {
                    p.rendered
                        .text
                        .lines()
                        .filter(|l| l.starts_with("- 🔥"))
                        .count()
                })
                .sum::<usize>();
        assert_eq!(listed + counted, 20_000);
        assert!(last.contains("more FlinkJob2"), "{last}");
        assert!(parts[0].rendered.text.contains("are counted at the end"));
    }

    #[test]
    fn a_small_digest_is_one_message() {
        let ns = storm(5, 2);
        let parts = render(&ns, StormConfig::default());
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].alerts, 5);
        assert!(parts[0]
            .rendered
            .text
            .contains("FlinkJob1 job\\_name=job-00001"));
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}

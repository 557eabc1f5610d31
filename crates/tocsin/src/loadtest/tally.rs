//! What the robots were told, alert by alert, and the report made of it. Pure: delivered
//! messages (time, receiver, text) go in; the report comes out.
//!
//! An alert is *listed* when a delivered message's text carries its id (`lt0000042`, in its
//! `loadtest_id` label and its summary), and *counted* when a delivered `… and N more
//! NAME` line takes it into account: counts are matched, per alert name, to the alerts of
//! that name not listed, earliest fired first. An alert is *lost* when it fired and is
//! neither listed nor matched to a count by the end. Its delivery latency runs from its
//! first firing to the answer to the first message that listed or counted it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde::Serialize;
use tocsin_notify::time::Timestamp;

use super::Quantiles;

/// One `… and N more NAME` line (`name` is `None` for `… of K other alert rules`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Count {
    name: Option<String>,
    n: usize,
    at: Timestamp,
}

/// What has been delivered so far.
#[derive(Debug)]
pub struct Tally {
    start: Timestamp,
    names: Vec<String>,
    fired: Vec<Option<Timestamp>>,
    listed: Vec<Option<Timestamp>>,
    listed_count: usize,
    counts: Vec<Count>,
    counted: usize,
    /// Receiver → minute since the start → messages.
    per_minute: BTreeMap<String, BTreeMap<u64, usize>>,
    messages: usize,
    digests: usize,
    digest_messages: usize,
    /// Alert fingerprint → index, for lanes that carry alerts in full (webhook).
    by_fingerprint: HashMap<u64, usize>,
}

impl Tally {
    /// For alerts named `names[i]`, the run starting at `start`.
    pub fn new(start: Timestamp, names: Vec<String>) -> Tally {
        let n = names.len();
        Tally {
            start,
            names,
            fired: vec![None; n],
            listed: vec![None; n],
            listed_count: 0,
            counts: Vec::new(),
            counted: 0,
            per_minute: BTreeMap::new(),
            messages: 0,
            digests: 0,
            digest_messages: 0,
            by_fingerprint: HashMap::new(),
        }
    }

    /// Alert `i` fired (first time counts).
    pub fn fired(&mut self, i: usize, at: Timestamp) {
        if let Some(f) = self.fired.get_mut(i) {
            f.get_or_insert(at);
        }
    }

    pub fn alerts_in(&self) -> usize {
        self.fired.iter().flatten().count()
    }

    /// Fingerprints of the alerts, for [`Tally::carried`].
    pub fn set_fingerprints(&mut self, fps: impl IntoIterator<Item = (u64, usize)>) {
        self.by_fingerprint = fps.into_iter().collect();
    }

    /// A delivered message to `receiver`, answered at `at`. `digest` is `Some(first)` for
    /// a part of a storm digest (`first` for its first message).
    pub fn message(&mut self, receiver: &str, at: Timestamp, text: &str, digest: Option<bool>) {
        self.messages += 1;
        let minute = at.saturating_duration_since(self.start).as_secs() / 60;
        *self
            .per_minute
            .entry(receiver.to_owned())
            .or_default()
            .entry(minute)
            .or_default() += 1;
        if let Some(first) = digest {
            self.digest_messages += 1;
            self.digests += usize::from(first);
        }
        for i in ids(text) {
            self.list(i, at);
        }
        for (name, n) in counted_lines(text) {
            self.counted += n;
            self.counts.push(Count { name, n, at });
        }
    }

    /// A delivered notification that carries these alerts in full (webhook lanes).
    pub fn carried(&mut self, receiver: &str, at: Timestamp, fingerprints: &[u64]) {
        self.message(receiver, at, "", None);
        for fp in fingerprints {
            if let Some(i) = self.by_fingerprint.get(fp).copied() {
                self.list(i, at);
            }
        }
    }

    fn list(&mut self, i: usize, at: Timestamp) {
        if let Some(l) = self.listed.get_mut(i) {
            if l.is_none() {
                *l = Some(at);
                self.listed_count += 1;
            }
        }
    }

    /// Alerts that fired and are neither listed nor counted yet.
    pub fn unreported(&self) -> usize {
        self.match_counts().1.len()
    }

    pub fn listed(&self) -> usize {
        self.listed_count
    }

    pub fn messages(&self) -> usize {
        self.messages
    }

    /// Latencies of reported alerts, and the alerts left unreported.
    fn match_counts(&self) -> (Vec<Duration>, Vec<usize>) {
        let mut latencies = Vec::with_capacity(self.fired.len());
        let mut unlisted: Vec<(Timestamp, usize)> = Vec::new();
        for (i, fired) in self.fired.iter().enumerate() {
            let Some(fired) = fired else { continue };
            match self.listed[i] {
                Some(at) => latencies.push(at.saturating_duration_since(*fired)),
                None => unlisted.push((*fired, i)),
            }
        }
        unlisted.sort();
        let mut by_name: HashMap<&str, VecDeque<(Timestamp, usize)>> = HashMap::new();
        for (at, i) in unlisted {
            by_name
                .entry(self.names[i].as_str())
                .or_default()
                .push_back((at, i));
        }
        let mut counts: Vec<&Count> = self.counts.iter().collect();
        // Named counts first, so that `other alert rules` takes what is left.
        counts.sort_by_key(|c| (c.name.is_none(), c.at));
        for c in counts {
            let mut left = c.n;
            match &c.name {
                Some(name) => {
                    if let Some(q) = by_name.get_mut(name.as_str()) {
                        take(q, &mut left, c.at, &mut latencies);
                    }
                }
                None => {
                    let mut names: Vec<&str> = by_name.keys().copied().collect();
                    names.sort_unstable();
                    for name in names {
                        if let Some(q) = by_name.get_mut(name) {
                            take(q, &mut left, c.at, &mut latencies);
                        }
                    }
                }
            }
        }
        let mut left: Vec<usize> = by_name.into_values().flatten().map(|(_, i)| i).collect();
        left.sort_unstable();
        (latencies, left)
    }

    /// The report; `pipeline` has what only the in-process driver knows.
    pub fn report(&self, target: &str, elapsed: Duration, extra: Extra) -> Report {
        let (latencies, lost) = self.match_counts();
        let messages_per_receiver = self
            .per_minute
            .iter()
            .map(|(r, minutes)| {
                let last = minutes.keys().next_back().copied().unwrap_or(0);
                let per_minute = (0..=last)
                    .map(|m| minutes.get(&m).copied().unwrap_or(0))
                    .collect();
                let total = minutes.values().sum();
                (r.clone(), ReceiverMessages { total, per_minute })
            })
            .collect();
        let undelivered = extra.undelivered_notifications.unwrap_or(0);
        Report {
            target: target.to_owned(),
            seconds: elapsed.as_secs_f64(),
            complete: extra.complete,
            pending: extra.pending,
            alerts_in: self.alerts_in(),
            notifications: extra.notifications,
            messages: self.messages,
            messages_per_receiver,
            digests: self.digests,
            digest_messages: self.digest_messages,
            answers_130101: extra.answers_130101,
            latency_seconds: Quantiles::of(latencies),
            alerts_listed: self.listed_count,
            alerts_counted: self.counted,
            alerts_lost: lost.len(),
            lost_examples: lost
                .iter()
                .take(5)
                .map(|i| super::scenario::id(*i))
                .collect(),
            undelivered_notifications: extra.undelivered_notifications,
            outbox_evicted: extra.outbox_evicted,
            ok: lost.is_empty() && undelivered == 0 && extra.complete,
        }
    }
}

fn take(
    q: &mut VecDeque<(Timestamp, usize)>,
    left: &mut usize,
    at: Timestamp,
    latencies: &mut Vec<Duration>,
) {
    while *left > 0 {
        let Some((fired, _)) = q.front().copied() else {
            return;
        };
        if fired > at {
            return;
        }
        q.pop_front();
        *left -= 1;
        latencies.push(at.saturating_duration_since(fired));
    }
}

/// Alert indices whose id (`lt` and seven digits, not inside a longer word) is in `text`.
pub fn ids(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut k = 0;
    while let Some(pos) = text[k..].find("lt") {
        let at = k + pos;
        k = at + 2;
        let before_ok = at == 0 || !b[at - 1].is_ascii_alphanumeric();
        let digits = &b[at + 2..b.len().min(at + 9)];
        let after_ok = b.get(at + 9).is_none_or(|c| !c.is_ascii_alphanumeric());
        if before_ok && digits.len() == 7 && digits.iter().all(u8::is_ascii_digit) && after_ok {
            if let Ok(i) = text[at + 2..at + 9].parse() {
                out.push(i);
            }
            k = at + 9;
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// `- … and 3,200 more LoadTest` → `(Some("LoadTest"), 3200)`; `… more of 4 other alert
/// rules` → `(None, n)`.
pub fn counted_lines(text: &str) -> Vec<(Option<String>, usize)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.trim().strip_prefix("- … and ") else {
            continue;
        };
        let digits: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .collect();
        let Ok(n) = digits.replace(',', "").parse::<usize>() else {
            continue;
        };
        let Some(what) = rest[digits.len()..].strip_prefix(" more ") else {
            continue;
        };
        let name = if what.starts_with("of ") && what.ends_with(" other alert rules") {
            None
        } else {
            Some(what.replace('\\', ""))
        };
        out.push((name, n));
    }
    out
}

/// What only some drivers know.
#[derive(Debug, Default)]
pub struct Extra {
    pub complete: bool,
    pub pending: Option<String>,
    pub notifications: Option<u64>,
    pub answers_130101: Option<u64>,
    pub undelivered_notifications: Option<usize>,
    pub outbox_evicted: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ReceiverMessages {
    pub total: usize,
    /// Messages in each minute since the start.
    pub per_minute: Vec<usize>,
}

/// `tocsin loadtest alerts`'s report (`--format json` prints it as is).
#[derive(Debug, Serialize)]
pub struct Report {
    pub target: String,
    pub seconds: f64,
    /// Every notification delivered before the deadline.
    pub complete: bool,
    /// What was still pending at the deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
    pub alerts_in: usize,
    pub notifications: Option<u64>,
    pub messages: usize,
    pub messages_per_receiver: BTreeMap<String, ReceiverMessages>,
    pub digests: usize,
    pub digest_messages: usize,
    pub answers_130101: Option<u64>,
    pub latency_seconds: Quantiles,
    pub alerts_listed: usize,
    pub alerts_counted: usize,
    pub alerts_lost: usize,
    pub lost_examples: Vec<String>,
    pub undelivered_notifications: Option<usize>,
    pub outbox_evicted: Option<u64>,
    pub ok: bool,
}

impl Report {
    pub fn text(&self) -> String {
        let opt = |v: Option<u64>| v.map_or_else(|| "unknown".to_owned(), |v| v.to_string());
        let mut out = format!(
            "tocsin loadtest alerts ({}): {} in {:.1} s\n",
            self.target,
            if self.complete {
                "every notification delivered"
            } else {
                "NOT complete"
            },
            self.seconds
        );
        if let Some(p) = &self.pending {
            out.push_str(&format!("  pending at the deadline: {p}\n"));
        }
        out.push_str(&format!("  alerts in:            {}\n", self.alerts_in));
        out.push_str(&format!(
            "  notifications:        {}\n",
            opt(self.notifications)
        ));
        out.push_str(&format!(
            "  messages:             {} ({} digests in {} messages)\n",
            self.messages, self.digests, self.digest_messages
        ));
        for (r, m) in &self.messages_per_receiver {
            let minutes: Vec<String> = m.per_minute.iter().map(usize::to_string).collect();
            out.push_str(&format!(
                "    {r}: {} (per minute: {})\n",
                m.total,
                minutes.join(" ")
            ));
        }
        out.push_str(&format!(
            "  130101 answers:       {}\n",
            opt(self.answers_130101)
        ));
        out.push_str(&format!(
            "  latency (fire → ack): p50 {:.1} s, p95 {:.1} s, max {:.1} s\n",
            self.latency_seconds.p50, self.latency_seconds.p95, self.latency_seconds.max
        ));
        out.push_str(&format!(
            "  alerts listed:        {}\n  alerts counted:       {}\n  alerts lost:          {}",
            self.alerts_listed, self.alerts_counted, self.alerts_lost
        ));
        if !self.lost_examples.is_empty() {
            out.push_str(&format!(" (e.g. {})", self.lost_examples.join(", ")));
        }
        out.push('\n');
        if let Some(u) = self.undelivered_notifications {
            out.push_str(&format!("  undelivered notifications: {u}\n"));
        }
        if let Some(e) = self.outbox_evicted {
            out.push_str(&format!("  outbox evictions:     {e}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_found_once_and_not_inside_longer_words() {
        let text = "- 🔥 loadtest\\_id=lt0000042 · lt0000042 LoadTest firing\nsalt0000001 lt00000011 lt0000007";
        assert_eq!(ids(text), [7, 42]);
    }

    #[test]
    fn count_lines_are_read_with_their_thousands_and_names() {
        let text = "- … and 3,200 more Load\\_Test\n- … and 5 more of 12 other alert rules\n- x";
        assert_eq!(
            counted_lines(text),
            [(Some("Load_Test".to_owned()), 3200), (None, 5)]
        );
    }

    #[test]
    fn an_alert_neither_listed_nor_counted_is_lost_and_counts_go_to_unlisted_alerts() {
        let t0 = Timestamp::from_millis(1_000_000);
        let names = vec!["A".to_owned(); 4];
        let mut t = Tally::new(t0, names);
        for i in 0..4 {
            t.fired(i, t0);
        }
        t.message(
            "robot",
            t0 + Duration::from_secs(10),
            "lt0000000 lt0000001",
            None,
        );
        assert_eq!(t.unreported(), 2);
        t.message(
            "robot",
            t0 + Duration::from_secs(70),
            "- … and 1 more A",
            Some(false),
        );
        let r = t.report("pipeline", Duration::from_secs(80), Extra::default());
        assert_eq!(
            (r.alerts_listed, r.alerts_counted, r.alerts_lost),
            (2, 1, 1)
        );
        assert_eq!(r.lost_examples, ["lt0000003"]);
        assert_eq!(r.messages_per_receiver["robot"].per_minute, [1, 1]);
        assert_eq!(r.latency_seconds.max, 70.0);
        assert!(!r.ok);
    }
}

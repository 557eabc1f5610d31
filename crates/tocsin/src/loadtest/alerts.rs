//! `tocsin loadtest alerts`: puts a [`Scenario`] on the real clock.
//!
//! With `--config`, the alerts go into the same notification task `tocsin run` starts
//! ([`crate::notify::start_observed`]: routing, grouping, limits, storm digests, outbox,
//! receivers), as the engine hands them over (`OutgoingAlert`s, firing ones re-sent every
//! minute as `resend_delay` does); the pipeline tells the load test of each delivered
//! message. With `--target alertmanager|gateway URL`, the alerts are posted to an existing
//! chain, and what arrived is read from the `tocsin sink dingtalk` given by `--sink`.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tocsin_engine::{OutgoingAlert, OutgoingState};
use tocsin_notify::config::NotifyConfig;
use tocsin_notify::time::Timestamp;

use super::progress::Progress;
use super::scenario::{Change, Event, Scenario};
use super::tally::{Extra, Report, Tally};

/// The engine re-sends firing alerts this often (Prometheus's `resend_delay`), valid for
/// four times as long.
const RESEND: Duration = Duration::from_secs(60);
const TICK: Duration = Duration::from_millis(200);

/// Where the alerts go.
pub enum Target {
    /// The notification pipeline of `tocsin run`, built from a `notify:` section.
    Pipeline {
        notify: Box<NotifyConfig>,
        external_url: String,
        /// `global.time_zone`: messages show times as the daemon would.
        time_zone: tocsin_notify::zoned::TimeZone,
        state_dir: Option<PathBuf>,
    },
    /// Alertmanager's `POST /api/v2/alerts` at this base URL.
    Alertmanager(String),
    /// A DingTalk gateway endpoint taking Alertmanager webhook v4 payloads.
    Gateway(String),
}

pub struct Run {
    pub scenario: Scenario,
    pub target: Target,
    /// A `tocsin sink dingtalk` base URL whose `/messages` show what arrived.
    pub sink: Option<String>,
    pub deadline: Duration,
}

/// An alert's current state in the run.
#[derive(Clone, Copy)]
struct Live {
    firing: bool,
    starts_at: Timestamp,
    resolved_at: Timestamp,
}

/// The scenario's alerts as they stand, and which changed since the last look.
struct Alerts<'a> {
    scenario: &'a Scenario,
    events: Vec<Event>,
    next: usize,
    live: Vec<Option<Live>>,
}

impl<'a> Alerts<'a> {
    fn new(scenario: &'a Scenario) -> Alerts<'a> {
        Alerts {
            scenario,
            events: scenario.events(),
            next: 0,
            live: vec![None; scenario.alerts],
        }
    }

    fn all_in(&self) -> bool {
        self.next == self.events.len()
    }

    /// Applies the events due `elapsed` after `t0`; returns the alerts that changed.
    fn advance(&mut self, t0: Timestamp, elapsed: Duration, tally: &mut Tally) -> Vec<usize> {
        let mut changed = Vec::new();
        while let Some(e) = self.events.get(self.next) {
            if e.at > elapsed {
                break;
            }
            let at = t0 + e.at;
            let live = &mut self.live[e.alert];
            match e.change {
                Change::Fire => {
                    *live = Some(Live {
                        firing: true,
                        starts_at: at,
                        resolved_at: at,
                    });
                    tally.fired(e.alert, at);
                }
                Change::Resolve => {
                    if let Some(l) = live {
                        l.firing = false;
                        l.resolved_at = at;
                    }
                }
            }
            changed.push(e.alert);
            self.next += 1;
        }
        changed.sort_unstable();
        changed.dedup();
        changed
    }

    fn firing(&self) -> Vec<usize> {
        (0..self.live.len())
            .filter(|i| self.live[*i].is_some_and(|l| l.firing))
            .collect()
    }

    /// As the engine hands it to the notifier.
    fn outgoing(&self, i: usize, now: Timestamp) -> Option<OutgoingAlert> {
        let l = self.live[i]?;
        // Whole milliseconds, as the times of the daemon's alerts are.
        let ms = |t: Timestamp| Timestamp::from_millis(t.unix_millis());
        Some(OutgoingAlert {
            labels: tocsin_engine::Labels::new(self.scenario.labels(i)),
            annotations: tocsin_engine::Labels::new([("summary", self.scenario.summary(i))]),
            starts_at: ms(l.starts_at),
            ends_at: if l.firing {
                ms(now + RESEND * 4)
            } else {
                ms(l.resolved_at)
            },
            generator_url: String::new(),
            state: if l.firing {
                OutgoingState::Firing
            } else {
                OutgoingState::Resolved
            },
        })
    }

    /// As Alertmanager's API and webhook payloads write it.
    fn json(&self, i: usize, now: Timestamp) -> Option<Value> {
        let l = self.live[i]?;
        let labels: serde_json::Map<String, Value> = self
            .scenario
            .labels(i)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let ends = if l.firing {
            now + RESEND * 4
        } else {
            l.resolved_at
        };
        Some(json!({
            "status": if l.firing { "firing" } else { "resolved" },
            "labels": labels,
            "annotations": {"summary": self.scenario.summary(i)},
            "startsAt": l.starts_at.rfc3339_nano(),
            "endsAt": ends.rfc3339_nano(),
            "generatorURL": "",
        }))
    }
}

pub async fn run(run: Run, progress: &mut Progress) -> anyhow::Result<Report> {
    match &run.target {
        Target::Pipeline { .. } => pipeline(run, progress).await,
        Target::Alertmanager(_) | Target::Gateway(_) => chain(run, progress).await,
    }
}

fn names(s: &Scenario) -> Vec<String> {
    (0..s.alerts).map(|i| s.alertname(i)).collect()
}

fn progress_line(tally: &Tally, elapsed: Duration, extra: &str) -> String {
    format!(
        "{} messages · {} listed · {:.0} s{extra}",
        tally.messages(),
        tally.listed(),
        elapsed.as_secs_f64()
    )
}

/// A temporary state directory, removed when dropped.
struct TempState(PathBuf);

impl Drop for TempState {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn pipeline(run: Run, progress: &mut Progress) -> anyhow::Result<Report> {
    let Target::Pipeline {
        mut notify,
        external_url,
        time_zone,
        state_dir,
    } = run.target
    else {
        unreachable!("pipeline() is called for Target::Pipeline");
    };
    let scenario = &run.scenario;
    if let Some(g) = &scenario.group_by {
        notify.route.group_by = Some(g.clone());
    }
    let (dir, _temp) = match state_dir {
        Some(d) => (d, None),
        None => {
            let millis = Timestamp::now().unix_millis();
            let d = std::env::temp_dir()
                .join(format!("tocsin-loadtest-{}-{millis}", std::process::id()));
            (d.clone(), Some(TempState(d)))
        }
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the state directory {}", dir.display()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let started = crate::notify::start_observed(
        &notify,
        &external_url,
        time_zone,
        Some(dir.join("outbox")),
        false,
        Some(tx),
    )?;
    let t0 = Timestamp::now();
    let clock = Instant::now();
    let mut tally = Tally::new(t0, names(scenario));
    let fps = (0..scenario.alerts).map(|i| {
        let labels = scenario.labels(i);
        let pairs = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        (
            tocsin_notify::alert::fingerprint(&tocsin_notify::alert::labels(pairs)),
            i,
        )
    });
    tally.set_fingerprints(fps);
    let mut alerts = Alerts::new(scenario);
    let mut last_resend = Duration::ZERO;
    let mut idle_rounds = 0;
    use tocsin_engine::runner::AlertNotifier;
    let outcome = loop {
        let elapsed = clock.elapsed();
        let now = Timestamp::now();
        let changed = alerts.advance(t0, elapsed, &mut tally);
        let resend = elapsed.saturating_sub(last_resend) >= RESEND;
        let send: Vec<usize> = if resend {
            last_resend = elapsed;
            let mut all = alerts.firing();
            all.extend(changed);
            all.sort_unstable();
            all.dedup();
            all
        } else {
            changed
        };
        if !send.is_empty() {
            let batch: Vec<OutgoingAlert> = send
                .iter()
                .filter_map(|i| alerts.outgoing(*i, now))
                .collect();
            started.notifier.send(batch);
        }
        for d in rx.try_iter() {
            if d.fingerprints.is_empty() {
                let digest = d.digest.then(|| d.part.is_none_or(|(k, _)| k == 1));
                tally.message(&d.receiver, d.at, &d.text, digest);
            } else {
                tally.carried(&d.receiver, d.at, &d.fingerprints);
            }
        }
        let (stats, queued, evicted, groups) = {
            let s = started
                .status
                .lock()
                .map_err(|_| anyhow::anyhow!("notification status poisoned"))?;
            (s.stats(), s.queued_total(), s.outbox_evicted(), s.groups())
        };
        let unreported = tally.unreported();
        let settled = alerts.all_in()
            && queued == 0
            && unreported == 0
            && (!scenario.resolves() || groups.0 == 0);
        // The status is published after each round: seen settled twice in a row, the
        // round that saw the last change is over.
        idle_rounds = if settled { idle_rounds + 1 } else { 0 };
        let extra = |complete: bool, pending: Option<String>| Extra {
            complete,
            pending,
            notifications: Some(stats.notifications),
            answers_130101: Some(stats.throttles),
            undelivered_notifications: Some(queued + stats.dropped as usize),
            outbox_evicted: Some(evicted),
        };
        progress.show(
            tally.alerts_in() - unreported,
            scenario.alerts,
            "alerts reported",
            &progress_line(
                &tally,
                elapsed,
                &format!(" · {queued} queued · {} × 130101", stats.throttles),
            ),
            idle_rounds >= 2 || elapsed >= run.deadline,
        );
        if idle_rounds >= 2 {
            break extra(true, None);
        }
        if elapsed >= run.deadline {
            let pending = format!(
                "{} of {} events not yet due, {queued} notifications queued, {unreported} alerts neither listed nor counted, {} groups alive",
                alerts.events.len() - alerts.next,
                alerts.events.len(),
                groups.0
            );
            break extra(false, Some(pending));
        }
        tokio::time::sleep(TICK).await;
    };
    progress.finish();
    let report = tally.report("pipeline", clock.elapsed(), outcome);
    // What is still queued stays in the state directory's outbox; the task stops.
    let crate::notify::Started {
        notifier,
        gateway,
        task,
        ..
    } = started;
    drop((notifier, gateway));
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    Ok(report)
}

/// Reads what a `tocsin sink dingtalk` accepted after a given sequence number.
struct SinkReader {
    base: String,
    seen: u64,
    client: reqwest::Client,
}

impl SinkReader {
    async fn new(base: &str, client: reqwest::Client) -> anyhow::Result<SinkReader> {
        let mut r = SinkReader {
            base: base.trim_end_matches('/').to_owned(),
            seen: 0,
            client,
        };
        // Only what arrives from now on is this run's.
        r.seen = r
            .fetch()
            .await?
            .iter()
            .filter_map(|m| m["seq"].as_u64())
            .max()
            .unwrap_or(0);
        Ok(r)
    }

    async fn fetch(&self) -> anyhow::Result<Vec<Value>> {
        let url = format!("{}/messages", self.base);
        let body = self
            .client
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("reading {url}"))?
            .text()
            .await
            .with_context(|| format!("reading {url}"))?;
        let v: Value =
            serde_json::from_str(&body).with_context(|| format!("{url}: not a JSON list"))?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    async fn read(&mut self, tally: &mut Tally) -> anyhow::Result<()> {
        for m in self.fetch().await? {
            let seq = m["seq"].as_u64().unwrap_or(0);
            if seq <= self.seen {
                continue;
            }
            self.seen = seq;
            let at = m["time"]
                .as_str()
                .and_then(Timestamp::parse_rfc3339)
                .unwrap_or_else(Timestamp::now);
            let body = &m["body"];
            let text = body["markdown"]["text"]
                .as_str()
                .or_else(|| body["text"]["content"].as_str())
                .unwrap_or("");
            let title = m["title"].as_str().unwrap_or("");
            let digest = if title.contains("Alert storm: ") {
                Some(true)
            } else if title.contains("Alert storm (") {
                Some(false)
            } else {
                None
            };
            tally.message("sink", at, text, digest);
        }
        Ok(())
    }

    /// 130101 answers the sink gave.
    async fn refused(&self) -> anyhow::Result<u64> {
        let url = format!("{}/metrics", self.base);
        let text = self
            .client
            .get(&url)
            .send()
            .await
            .with_context(|| format!("reading {url}"))?
            .text()
            .await
            .with_context(|| format!("reading {url}"))?;
        let series = "tocsin_sink_requests_rejected_total{errcode=\"130101\"}";
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(series))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64))
    }
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> anyhow::Result<()> {
    let r = client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("posting to {url}"))?;
    let status = r.status();
    if !status.is_success() {
        let text = r.text().await.unwrap_or_default();
        bail!("{url} answered {status}: {}", text.trim());
    }
    Ok(())
}

/// The gateway's groups: the scenario's `group_by` labels (alertname by default).
fn group_of(s: &Scenario, i: usize) -> Vec<(String, String)> {
    let by = s
        .group_by
        .clone()
        .unwrap_or_else(|| vec!["alertname".to_owned()]);
    let labels = s.labels(i);
    by.iter()
        .filter_map(|k| labels.iter().find(|(n, _)| n == k).cloned())
        .collect()
}

/// A webhook v4 payload for one group, as Alertmanager posts it.
fn webhook_payload(group: &[(String, String)], alerts: Vec<Value>, receiver: &str) -> Vec<u8> {
    let key = group
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let labels: serde_json::Map<String, Value> = group
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let firing = alerts.iter().any(|a| a["status"] == "firing");
    let body = json!({
        "version": "4",
        "groupKey": format!("{{}}:{{{key}}}"),
        "truncatedAlerts": 0,
        "status": if firing { "firing" } else { "resolved" },
        "receiver": receiver,
        "groupLabels": labels,
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "",
        "alerts": alerts,
    });
    body.to_string().into_bytes()
}

async fn chain(run: Run, progress: &mut Progress) -> anyhow::Result<Report> {
    let scenario = &run.scenario;
    // reqwest is built without a default TLS provider (as tocsin's other clients are).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let (kind, url) = match &run.target {
        Target::Alertmanager(u) => (
            "alertmanager",
            format!("{}/api/v2/alerts", u.trim_end_matches('/')),
        ),
        Target::Gateway(u) => ("gateway", u.clone()),
        Target::Pipeline { .. } => unreachable!("chain() is called for the chain targets"),
    };
    let mut sink = match &run.sink {
        Some(s) => Some(SinkReader::new(s, client.clone()).await?),
        None => None,
    };
    let refused_before = match &sink {
        Some(s) => s.refused().await?,
        None => 0,
    };
    let receiver = url
        .rsplit('/')
        .nth(1)
        .filter(|_| kind == "gateway")
        .unwrap_or("")
        .to_owned();
    let t0 = Timestamp::now();
    let clock = Instant::now();
    let mut tally = Tally::new(t0, names(scenario));
    let mut alerts = Alerts::new(scenario);
    let mut last_resend = Duration::ZERO;
    let mut posted = 0usize;
    let outcome = loop {
        let elapsed = clock.elapsed();
        let now = Timestamp::now();
        let changed = alerts.advance(t0, elapsed, &mut tally);
        let resend = elapsed.saturating_sub(last_resend) >= RESEND;
        if resend {
            last_resend = elapsed;
        }
        match &run.target {
            Target::Alertmanager(_) => {
                // Prometheus re-sends every firing alert; resolved ones go once.
                let mut send = if resend { alerts.firing() } else { Vec::new() };
                send.extend(changed);
                send.sort_unstable();
                send.dedup();
                for chunk in send.chunks(5000) {
                    let list: Vec<Value> =
                        chunk.iter().filter_map(|i| alerts.json(*i, now)).collect();
                    posted += list.len();
                    post(&client, &url, Value::Array(list).to_string().into_bytes()).await?;
                }
            }
            _ => {
                // Alertmanager posts a group when it changed: every alert of the group.
                let mut groups: BTreeMap<Vec<(String, String)>, ()> = BTreeMap::new();
                for i in &changed {
                    groups.insert(group_of(scenario, *i), ());
                }
                if !groups.is_empty() {
                    let mut members: HashMap<Vec<(String, String)>, Vec<usize>> = HashMap::new();
                    for i in 0..scenario.alerts {
                        if alerts.live[i].is_some() {
                            let g = group_of(scenario, i);
                            if groups.contains_key(&g) {
                                members.entry(g).or_default().push(i);
                            }
                        }
                    }
                    for (g, ids) in members {
                        let list: Vec<Value> =
                            ids.iter().filter_map(|i| alerts.json(*i, now)).collect();
                        posted += 1;
                        post(&client, &url, webhook_payload(&g, list, &receiver)).await?;
                    }
                }
            }
        }
        let mut refused = None;
        if let Some(s) = &mut sink {
            s.read(&mut tally).await?;
            refused = Some(s.refused().await?.saturating_sub(refused_before));
        }
        let unreported = tally.unreported();
        let extra = |complete: bool, pending: Option<String>| Extra {
            complete,
            pending,
            notifications: None,
            answers_130101: refused,
            undelivered_notifications: None,
            outbox_evicted: None,
        };
        let done = alerts.all_in() && (sink.is_none() || unreported == 0);
        progress.show(
            tally.alerts_in() - unreported,
            scenario.alerts,
            "alerts reported",
            &progress_line(&tally, elapsed, &format!(" · {posted} posted")),
            done || elapsed >= run.deadline,
        );
        if done {
            break extra(true, None);
        }
        if elapsed >= run.deadline {
            let pending = format!(
                "{} of {} events not yet due, {unreported} alerts neither listed nor counted at the sink",
                alerts.events.len() - alerts.next,
                alerts.events.len(),
            );
            break extra(false, Some(pending));
        }
        tokio::time::sleep(if sink.is_some() {
            Duration::from_secs(1)
        } else {
            TICK
        })
        .await;
    };
    progress.finish();
    Ok(tally.report(kind, clock.elapsed(), outcome))
}

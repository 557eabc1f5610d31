//! Restoring `for` timers from the datasource's `ALERTS_FOR_STATE` series when there is no
//! state file (issue 14 item 5): a pod rescheduled with an `emptyDir` starts without one,
//! but with remote write configured the series tocsin wrote are in Prometheus.
//!
//! Prometheus restores from its own TSDB (docs/rule-semantics.md, "Restore after a
//! restart"): for each alerting rule with a `for`, the last sample of each
//! `ALERTS_FOR_STATE{alertname="…"}` series within the outage tolerance gives the alert's
//! `activeAt` (its value, in whole Unix seconds) and when it was last known (its timestamp).
//! Here those become a state file, written before the engine's first load, so the one
//! restore path ([`crate::state::Snapshot::restore`]) applies them with the engine's
//! [`crate::RestorePolicy`]: state older than the outage tolerance is dropped, and with
//! `pause_for_during_outage` Prometheus's grace-period formula is used. The alerts come
//! back pending, with no annotations or value: the first evaluation fills those in, and
//! drops any whose condition no longer holds. An alert that was firing fires again on that
//! evaluation (as after Prometheus's restore, where Alertmanager deduplicates).

use std::path::Path;
use std::time::{Duration, SystemTime};

use thiserror::Error;
use tocsin_query::{Datasource, QueryValue};

use crate::alert::{Alert, AlertState, ALERTS_FOR_STATE_METRIC};
use crate::group::{GroupDef, GroupState, RuleDef, RuleState};
use crate::labels::Labels;
use crate::persist::{self, PersistError};
use crate::state::Snapshot;
use crate::time::Timestamp;

#[derive(Debug, Error)]
pub enum RestoreError {
    #[error("querying {query}: {message}")]
    Query { query: String, message: String },
    #[error(transparent)]
    Persist(#[from] PersistError),
}

/// What [`restore_from_for_state`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ForStateRestore {
    /// Groups written to the state file.
    pub groups: usize,
    /// Alerts written to the state file.
    pub alerts: usize,
}

/// Writes a state file at `state_file` from the `ALERTS_FOR_STATE` series `datasource`
/// holds for the alerting rules (with a `for`) of `groups`, looking back `tolerance` from
/// `now`. Writes nothing when no series is found. The caller checks that there is no state
/// file and that remote write is on (without it the series are not tocsin's).
pub async fn restore_from_for_state<D: Datasource + ?Sized>(
    datasource: &D,
    groups: &[GroupDef],
    state_file: &Path,
    now: SystemTime,
    tolerance: Duration,
) -> Result<ForStateRestore, RestoreError> {
    let mut captured = Vec::new();
    let mut done = ForStateRestore::default();
    for def in groups {
        // Templates and generator URLs are not part of a state file.
        let mut state = GroupState::new(def, "");
        let mut last_seen: Option<Timestamp> = None;
        for (rule, record) in def.rules.iter().zip(state.rules.iter_mut()) {
            let (RuleDef::Alerting(r), RuleState::Alerting(s)) = (rule, &mut record.state) else {
                continue;
            };
            if r.hold_duration().is_zero() {
                continue;
            }
            let query = for_state_query(r.name(), tolerance);
            let result =
                datasource
                    .instant_query(&query, now)
                    .await
                    .map_err(|e| RestoreError::Query {
                        query: query.clone(),
                        message: e.to_string(),
                    })?;
            let QueryValue::Matrix(series) = result.value else {
                continue;
            };
            for series in series {
                let Some(last) = series.points.last() else {
                    continue;
                };
                let labels: Labels =
                    Labels::new(series.labels.iter().filter(|(name, _)| *name != "__name__"));
                // Another rule of the same name (different static labels) is not this one.
                if r.labels()
                    .iter()
                    .any(|(n, v)| !v.contains("{{") && labels.get(n) != Some(v))
                {
                    continue;
                }
                let seen = Timestamp::from_nanos(last.timestamp_ms * 1_000_000);
                last_seen = Some(last_seen.map_or(seen, |t| t.max(seen)));
                s.insert(Alert {
                    state: AlertState::Pending,
                    labels,
                    annotations: Labels::default(),
                    value: f64::NAN,
                    active_at: Timestamp::from_secs(last.value as i64),
                    fired_at: None,
                    resolved_at: None,
                    keep_firing_since: None,
                    last_sent_at: None,
                    valid_until: None,
                });
                done.alerts += 1;
            }
        }
        if let Some(at) = last_seen {
            done.groups += 1;
            captured.push((def, state, at));
        }
    }
    if done.alerts > 0 {
        let snapshot = Snapshot::capture(captured.iter().map(|(d, s, at)| (*d, s, *at)));
        persist::write_atomic(state_file, &snapshot)?;
    }
    Ok(done)
}

/// The groups of `files` as the engine's load builds them; files that do not load are
/// left out (the load that follows reports them).
pub fn group_defs(files: &[String], default_interval: Duration) -> Vec<GroupDef> {
    files
        .iter()
        .filter_map(|path| {
            tocsin_rules::load_file(path)
                .ok()
                .map(|(groups, _)| (path, groups))
        })
        .flat_map(|(path, groups)| {
            groups
                .iter()
                .map(|g| GroupDef::from_group(path, g, default_interval))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `ALERTS_FOR_STATE{alertname="<name>"}[<tolerance>]`, the name quoted as PromQL wants.
fn for_state_query(name: &str, tolerance: Duration) -> String {
    let quoted = name.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "{ALERTS_FOR_STATE_METRIC}{{alertname=\"{quoted}\"}}[{}s]",
        tolerance.as_secs().max(1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_selects_one_alertname_over_the_tolerance() {
        assert_eq!(
            for_state_query("Flink\"Job", Duration::from_secs(3600)),
            r#"ALERTS_FOR_STATE{alertname="Flink\"Job"}[3600s]"#
        );
    }
}

//! Loading rule files into the running engine (Prometheus's `Manager.Update`; docs/rule-semantics.md, "Reload").
//!
//! Three steps: **load** (read and compile every file: file I/O and parsing, no lock),
//! **plan** (a pure comparison of the running definitions with the loaded ones) and
//! **commit** (build the new groups' records, then swap the map under the groups' lock,
//! held for nothing else). Reloads are serialised by a lock no API path takes.
//!
//! All or nothing: every file is loaded and checked before anything changes, so a reload
//! with one bad file keeps every old group evaluating. Then, per group key `file;name`: an
//! identical group keeps running untouched (same task, same timing); a changed one is
//! replaced by a new group that takes over its alerts when it starts; a new one starts on
//! its next slot; a vanished one stops and marks its series stale. On the first successful
//! load the state file, if any, is restored into the new groups.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tocsin_rules::FileReport;

use crate::group::{GroupDef, GroupState};
use crate::persist;
use crate::runner::group::{lock, GroupHandle, GroupRuntime};
use crate::runner::{GroupKey, Inner};

/// What a successful [`crate::runner::Engine::apply`] did.
#[derive(Clone, Debug, Default)]
pub struct LoadSummary {
    pub files: usize,
    pub groups: usize,
    pub rules: usize,
    /// Groups identical to a running one (left untouched).
    pub unchanged: usize,
    /// Groups replaced by an edited definition (alert state carried over).
    pub changed: usize,
    pub added: usize,
    pub removed: usize,
    /// Alerts restored from the state file (first load only).
    pub restored_alerts: usize,
    /// Why the state file could not be restored, if it could not (startup goes on).
    pub restore_error: Option<String>,
    /// The reports of files with warnings (lint findings).
    pub warnings: Vec<FileReport>,
}

/// Rule files read and compiled, not yet applied.
struct Loaded {
    files: usize,
    defs: Vec<GroupDef>,
    warnings: Vec<FileReport>,
}

/// Load: reads and checks every file (file I/O and parsing; no lock). All or nothing.
fn load(files: &[String], default_interval: Duration) -> Result<Loaded, Vec<FileReport>> {
    let mut seen = HashSet::new();
    let mut loaded = Loaded {
        files: 0,
        defs: Vec::new(),
        warnings: Vec::new(),
    };
    let mut failed = Vec::new();
    for path in files.iter().filter(|p| seen.insert(p.as_str())) {
        match tocsin_rules::load_file(path) {
            Ok((groups, report)) => {
                if !report.diagnostics.is_empty() {
                    loaded.warnings.push(report);
                }
                loaded.files += 1;
                loaded.defs.extend(
                    groups
                        .iter()
                        .map(|g| GroupDef::from_group(path, g, default_interval)),
                );
            }
            Err(report) => failed.push(report),
        }
    }
    if failed.is_empty() {
        Ok(loaded)
    } else {
        Err(failed)
    }
}

/// What a reload does to one group key.
#[derive(Debug, PartialEq)]
pub(crate) enum Step {
    /// Identical to the running group: it keeps running untouched.
    Keep,
    /// Edited: a new group replaces the running one and takes over its alerts.
    Replace(GroupDef),
    /// New: starts on its next slot.
    Add(GroupDef),
}

/// The changes from the running groups to the loaded ones.
#[derive(Debug, PartialEq)]
pub(crate) struct Plan {
    /// Every loaded group, in key order.
    pub steps: Vec<(GroupKey, Step)>,
    /// Running groups the files no longer hold: they stop and mark their series stale.
    pub removed: Vec<GroupKey>,
}

/// Plan: compares the running definitions with the loaded ones, by key `file;name`
/// (pure).
pub(crate) fn plan(running: &BTreeMap<GroupKey, Arc<GroupDef>>, defs: Vec<GroupDef>) -> Plan {
    let mut steps = BTreeMap::new();
    for def in defs {
        let key = (Arc::clone(&def.file), Arc::clone(&def.name));
        let step = match running.get(&key) {
            Some(old) if **old == def => Step::Keep,
            Some(_) => Step::Replace(def),
            None => Step::Add(def),
        };
        // A repeated key (two groups of one name in one file) is refused by the loader;
        // were it not, the last would win, as in a map.
        steps.insert(key, step);
    }
    let removed = running
        .keys()
        .filter(|k| !steps.contains_key(*k))
        .cloned()
        .collect();
    Plan {
        steps: steps.into_iter().collect(),
        removed,
    }
}

/// Loads `files`, plans against the running groups and commits. Reloads are serialised;
/// file I/O (rule files, the state file) and template compilation happen before the
/// groups' lock is taken, which is held only to swap the map.
pub(crate) fn apply(inner: &Arc<Inner>, files: &[String]) -> Result<LoadSummary, Vec<FileReport>> {
    let _one_at_a_time = lock(&inner.reloading);
    let loaded = match load(files, inner.opts.default_interval) {
        Ok(loaded) => loaded,
        Err(failed) => {
            lock(&inner.reload).successful = Some(false);
            return Err(failed);
        }
    };
    let now = inner.clock.now();
    let mut summary = LoadSummary {
        files: loaded.files,
        groups: loaded.defs.len(),
        rules: loaded.defs.iter().map(|d| d.rules.len()).sum(),
        warnings: loaded.warnings,
        ..LoadSummary::default()
    };
    // Only `apply` changes the map, and it holds `reloading`: this copy stays current.
    let (running, first) = {
        let groups = lock(&inner.groups);
        (groups.by_key.clone(), !groups.loaded)
    };
    let running_defs = running
        .iter()
        .map(|(k, h)| (k.clone(), Arc::clone(&h.def)))
        .collect();
    let plan = plan(&running_defs, loaded.defs);
    let snapshot = match (&inner.opts.state_file, first) {
        (Some(path), true) => match persist::read(path) {
            Ok(snapshot) => snapshot,
            Err(e) => {
                tracing::warn!(error = %e, "cannot restore alert state; starting afresh");
                summary.restore_error = Some(e.to_string());
                None
            }
        },
        _ => None,
    };

    let mut next: BTreeMap<GroupKey, Arc<GroupHandle>> = BTreeMap::new();
    let mut replaced = Vec::new();
    for (key, step) in plan.steps {
        let handle = match step {
            Step::Keep => {
                summary.unchanged += 1;
                let Some(h) = running.get(&key) else { continue };
                Arc::clone(h)
            }
            Step::Replace(def) => {
                summary.changed += 1;
                let Some(old) = running.get(&key) else {
                    continue;
                };
                // Carried now from a copy (so status is right at once), and again from
                // the final state when the new group's task starts.
                let fresh = GroupState::new(&def, &inner.opts.external_url);
                let old_state = lock(&old.rt).state.clone();
                let state =
                    GroupState::carry_over(&old.def, old_state, &def, fresh, &mut Vec::new());
                let new = Arc::new(GroupHandle::new(Arc::new(def), GroupRuntime::new(state)));
                *lock(&new.predecessor) = Some(Arc::clone(old));
                replaced.push(Arc::clone(old));
                new
            }
            Step::Add(def) => {
                summary.added += 1;
                let mut state = GroupState::new(&def, &inner.opts.external_url);
                let mut rt_as_of = None;
                if let Some(snapshot) = &snapshot {
                    let restored = snapshot.restore([(&def, &mut state)], now, inner.opts.restore);
                    if restored > 0 {
                        rt_as_of = Some(now);
                    }
                    summary.restored_alerts += restored;
                }
                let mut rt = GroupRuntime::new(state);
                rt.state_as_of = rt_as_of;
                Arc::new(GroupHandle::new(Arc::new(def), rt))
            }
        };
        next.insert(key, handle);
    }

    // Commit.
    {
        let mut groups = lock(&inner.groups);
        groups.by_key = next;
        groups.loaded = true;
    }
    for h in replaced {
        h.request_stop();
    }
    for key in &plan.removed {
        if let Some(h) = running.get(key) {
            summary.removed += 1;
            h.removed.store(true, Ordering::Release);
            h.request_stop();
        }
    }
    {
        let mut reload = lock(&inner.reload);
        reload.successful = Some(true);
        reload.last_success = Some(now);
    }
    inner.changed.notify_one();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::alert::AlertingRule;
    use crate::group::RuleDef;

    fn group(name: &str, expr: &str) -> GroupDef {
        GroupDef {
            file: "rules.yml".into(),
            name: name.into(),
            interval: Duration::from_secs(60),
            limit: 0,
            rules: vec![RuleDef::Alerting(AlertingRule::new(
                "A",
                expr,
                Duration::ZERO,
                Duration::ZERO,
                [],
                [],
            ))],
        }
    }

    fn key(name: &str) -> GroupKey {
        ("rules.yml".into(), name.into())
    }

    #[test]
    fn a_plan_keeps_identical_groups_replaces_edited_ones_adds_and_removes() {
        let running: BTreeMap<GroupKey, Arc<GroupDef>> = [
            (key("same"), Arc::new(group("same", "up == 0"))),
            (key("edited"), Arc::new(group("edited", "up == 0"))),
            (key("gone"), Arc::new(group("gone", "up == 0"))),
        ]
        .into_iter()
        .collect();
        let plan = plan(
            &running,
            vec![
                group("same", "up == 0"),
                group("edited", "up < 1"),
                group("new", "up == 0"),
            ],
        );
        assert_eq!(
            plan.steps,
            vec![
                (key("edited"), Step::Replace(group("edited", "up < 1"))),
                (key("new"), Step::Add(group("new", "up == 0"))),
                (key("same"), Step::Keep),
            ]
        );
        assert_eq!(plan.removed, vec![key("gone")]);
    }
}

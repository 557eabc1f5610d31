//! Loading rule files into the running engine (Prometheus's `Manager.Update`; docs/rule-semantics.md, "Reload").
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

pub(crate) fn apply(inner: &Arc<Inner>, files: &[String]) -> Result<LoadSummary, Vec<FileReport>> {
    let mut seen = HashSet::new();
    let mut loaded = Vec::new();
    let mut failed = Vec::new();
    let mut warnings = Vec::new();
    for path in files.iter().filter(|p| seen.insert(p.as_str())) {
        match tocsin_rules::load_file(path) {
            Ok((groups, report)) => {
                if !report.diagnostics.is_empty() {
                    warnings.push(report);
                }
                loaded.push((path, groups));
            }
            Err(report) => failed.push(report),
        }
    }
    let now = inner.clock.now();
    if !failed.is_empty() {
        lock(&inner.reload).successful = Some(false);
        return Err(failed);
    }

    let mut defs = Vec::new();
    for (path, groups) in &loaded {
        for g in groups {
            defs.push(GroupDef::from_group(path, g, inner.opts.default_interval));
        }
    }
    let mut summary = LoadSummary {
        files: loaded.len(),
        groups: defs.len(),
        rules: defs.iter().map(|d| d.rules.len()).sum(),
        warnings,
        ..LoadSummary::default()
    };

    let mut groups = lock(&inner.groups);
    let first = !groups.loaded;
    let mut old = std::mem::take(&mut groups.by_key);
    let mut next: BTreeMap<GroupKey, Arc<GroupHandle>> = BTreeMap::new();
    let mut fresh = Vec::new();
    for def in defs {
        let key = (Arc::clone(&def.file), Arc::clone(&def.name));
        match old.remove(&key) {
            Some(h) if *h.def == def => {
                summary.unchanged += 1;
                next.insert(key, h);
            }
            Some(h) => {
                summary.changed += 1;
                // Carried now from a copy (so status is right at once), and again from
                // the final state when the new group's task starts.
                let fresh = GroupState::new(&def, &inner.opts.external_url);
                let old_state = lock(&h.rt).state.clone();
                let state = GroupState::carry_over(&h.def, old_state, &def, fresh, &mut Vec::new());
                h.request_stop();
                let new = Arc::new(GroupHandle::new(Arc::new(def), GroupRuntime::new(state)));
                *lock(&new.predecessor) = Some(h);
                next.insert(key, new);
            }
            None => {
                summary.added += 1;
                let rt = GroupRuntime::new(GroupState::new(&def, &inner.opts.external_url));
                let h = Arc::new(GroupHandle::new(Arc::new(def), rt));
                fresh.push(Arc::clone(&h));
                next.insert(key, h);
            }
        }
    }
    for h in old.into_values() {
        summary.removed += 1;
        h.removed.store(true, Ordering::Release);
        h.request_stop();
    }
    if first {
        if let Some(path) = &inner.opts.state_file {
            match persist::read(path) {
                Ok(Some(snapshot)) => {
                    for h in &fresh {
                        let mut rt = lock(&h.rt);
                        let restored =
                            snapshot.restore([(&*h.def, &mut rt.state)], now, inner.opts.restore);
                        if restored > 0 {
                            rt.state_as_of = Some(now);
                        }
                        summary.restored_alerts += restored;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot restore alert state; starting afresh");
                    summary.restore_error = Some(e.to_string());
                }
            }
        }
    }
    groups.by_key = next;
    groups.loaded = true;
    drop(groups);
    {
        let mut reload = lock(&inner.reload);
        reload.successful = Some(true);
        reload.last_success = Some(now);
    }
    inner.changed.notify_one();
    Ok(summary)
}

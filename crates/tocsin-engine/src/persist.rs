//! The state file on disk: JSON, replaced atomically.
//!
//! Writing goes to a temporary file in the same directory, which is flushed to disk
//! (`fsync`) and then renamed over the state file, and the directory is synced, so a crash
//! leaves either the old file or the new one, never a torn one.
//!
//! A state file this tocsin cannot read (damaged, or written by a newer version after a
//! downgrade) is renamed aside when it is read, before anything can overwrite it: to
//! `<name>.v<N>` for another version (move it back after upgrading again), to
//! `<name>.corrupt` otherwise, with `.1`, `.2`... added rather than replacing an earlier
//! copy. Unreadable outbox entries are kept the same way.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::state::{Snapshot, SNAPSHOT_VERSION};

#[derive(Debug, Error)]
pub enum PersistError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: not a tocsin state file: {source}{}", kept_note(.kept_as))]
    Decode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
        /// Where the unreadable file was moved (`None`: it could not be moved).
        kept_as: Option<PathBuf>,
    },
    #[error("{path}: state file version {found}, this tocsin reads version {SNAPSHOT_VERSION}{}",
        kept_note(.kept_as))]
    Version {
        path: PathBuf,
        found: u32,
        /// Where the file was moved (`None`: it could not be moved).
        kept_as: Option<PathBuf>,
    },
}

fn kept_note(kept_as: &Option<PathBuf>) -> String {
    match kept_as {
        Some(p) => format!("; the file is kept as {}", p.display()),
        None => String::new(),
    }
}

/// Renames `path` to `<path>.<suffix>` (or `.<suffix>.1`, `.2`... when taken), so that the
/// next write cannot destroy it. `None` (and a warning) when it cannot be moved.
fn set_aside(path: &Path, suffix: &str) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let target = (0..1000)
        .map(|i| match i {
            0 => path.with_file_name(format!("{name}.{suffix}")),
            i => path.with_file_name(format!("{name}.{suffix}.{i}")),
        })
        .find(|p| !p.exists())?;
    match fs::rename(path, &target) {
        Ok(()) => {
            tracing::warn!(path = %path.display(), kept_as = %target.display(),
                "unreadable state file set aside");
            Some(target)
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e,
                "cannot set the unreadable state file aside");
            None
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PersistError + '_ {
    move |source| PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `snapshot` to `path` atomically.
pub fn write_atomic(path: &Path, snapshot: &Snapshot) -> Result<(), PersistError> {
    let bytes = serde_json::to_vec(snapshot).map_err(|source| PersistError::Decode {
        path: path.to_path_buf(),
        source,
        kept_as: None,
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_string());
    let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        f.write_all(&bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
        return written;
    }
    // Make the rename itself durable; not every platform can open a directory.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads the state file; `Ok(None)` when there is none yet. A file of another version or
/// that does not decode is set aside (see the module doc) and reported as an error.
pub fn read(path: &Path) -> Result<Option<Snapshot>, PersistError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    // The version first: a newer file may not decode as this version's layout at all.
    #[derive(serde::Deserialize)]
    struct Version {
        version: u32,
    }
    if let Ok(Version { version }) = serde_json::from_slice::<Version>(&bytes) {
        if version != SNAPSHOT_VERSION {
            return Err(PersistError::Version {
                path: path.to_path_buf(),
                found: version,
                kept_as: set_aside(path, &format!("v{version}")),
            });
        }
    }
    match serde_json::from_slice::<Snapshot>(&bytes) {
        Ok(snapshot) => Ok(Some(snapshot)),
        Err(source) => Err(PersistError::Decode {
            path: path.to_path_buf(),
            source,
            kept_as: set_aside(path, "corrupt"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::alert::{AlertState, AlertingRule, Scratch};
    use crate::group::{EvalOptions, GroupDef, GroupState, RuleDef, RuleState};
    use crate::labels::{Labels, Sample};
    use crate::state::{restored_active_at, RestorePolicy};
    use crate::template::Verbatim;
    use crate::time::Timestamp;

    const MIN: i64 = 60;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tocsin-engine-{tag}-{}-{}",
            std::process::id(),
            Timestamp::now().as_nanos()
        ));
        fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    fn def(hold_min: u64) -> GroupDef {
        GroupDef {
            file: "/etc/tocsin/rules/alerting_rule_flink.yaml".into(),
            name: "flink".into(),
            interval: Duration::from_secs(60),
            limit: 0,
            rules: vec![RuleDef::Alerting(AlertingRule::new(
                "JobDown",
                "flink_up == 0",
                Duration::from_secs(hold_min * 60),
                Duration::ZERO,
                [("severity", "page")],
                [("summary", "job down")],
            ))],
        }
    }

    /// Evaluates at minute `m` with the job down (or not); returns the minutes sent.
    fn step(def: &GroupDef, state: &mut GroupState, m: i64, down: bool, sent: &mut Vec<i64>) {
        let sample = Sample::new(
            Labels::new([("__name__", "flink_up"), ("job", "wordcount")]),
            0.0,
        );
        let samples = if down { vec![sample] } else { vec![] };
        let outcome = def.eval_rule(
            state,
            0,
            Timestamp::from_secs(m * MIN),
            Ok(&samples),
            &Verbatim,
            &EvalOptions::default(),
            &mut Scratch::default(),
        );
        sent.extend(outcome.alerts.iter().map(|_| m));
    }

    fn only_alert(state: &GroupState) -> crate::Alert {
        match &state.rules[0].state {
            RuleState::Alerting(s) => s.alerts().next().cloned().expect("one alert"),
            RuleState::Recording(_) => panic!("alerting rule"),
        }
    }

    /// Runs minutes 0..=`stop`, persists, "restarts" at `restart` and returns the new state.
    fn restart(def: &GroupDef, stop: i64, restart: i64, sent: &mut Vec<i64>) -> GroupState {
        restart_with(def, stop, restart, sent, RestorePolicy::default())
    }

    fn restart_with(
        def: &GroupDef,
        stop: i64,
        restart: i64,
        sent: &mut Vec<i64>,
        policy: RestorePolicy,
    ) -> GroupState {
        let dir = temp_dir("restart");
        let path = dir.join("state.json");
        let mut state = GroupState::new(def, "");
        for m in 0..=stop {
            step(def, &mut state, m, true, sent);
        }
        let snap =
            crate::state::Snapshot::capture([(def, &state, Timestamp::from_secs(stop * MIN))]);
        write_atomic(&path, &snap).expect("write");
        let read_back = read(&path).expect("read").expect("present");
        assert_eq!(read_back, snap);
        let mut fresh = GroupState::new(def, "");
        read_back.restore(
            [(def, &mut fresh)],
            Timestamp::from_secs(restart * MIN),
            policy,
        );
        let _ = fs::remove_dir_all(&dir);
        fresh
    }

    #[test]
    fn restart_keeps_a_firing_alert_firing_without_sending_it_as_new() {
        let def = def(5);
        let mut sent = Vec::new();
        let mut state = restart(&def, 6, 7, &mut sent);
        assert_eq!(sent, [5], "fired at 5m; 6m is within the resend delay");
        let a = only_alert(&state);
        assert_eq!(
            (a.state, a.fired_at),
            (AlertState::Firing, Some(Timestamp::from_secs(5 * MIN)))
        );
        step(&def, &mut state, 7, true, &mut sent);
        step(&def, &mut state, 8, true, &mut sent);
        assert_eq!(
            sent,
            [5, 7],
            "resend schedule continues from the last send at 5m"
        );
        assert_eq!(
            only_alert(&state).starts_at(),
            Some(Timestamp::from_secs(5 * MIN))
        );
    }

    #[test]
    fn restart_never_resets_a_for_timer_and_fires_when_it_would_have() {
        // for 30m, pending since 0, down from 10m to 15m: it still fires at 30m.
        let def = def(30);
        let mut sent = Vec::new();
        let mut state = restart(&def, 10, 15, &mut sent);
        let a = only_alert(&state);
        assert_eq!(a.state, AlertState::Pending);
        assert_eq!(a.active_at, Timestamp::from_secs(0));
        step(&def, &mut state, 29, true, &mut sent);
        assert_eq!(only_alert(&state).state, AlertState::Pending);
        step(&def, &mut state, 30, true, &mut sent);
        assert_eq!(only_alert(&state).state, AlertState::Firing);
    }

    #[test]
    fn prometheus_restore_leaves_the_outage_out_of_the_for_timer() {
        // for 30m, pending since 0, down from 10m to 15m: 10m pending count, outage does not.
        let def = def(30);
        let mut sent = Vec::new();
        let policy = RestorePolicy {
            pause_for_during_outage: true,
            ..RestorePolicy::default()
        };
        let mut state = restart_with(&def, 10, 15, &mut sent, policy);
        let a = only_alert(&state);
        assert_eq!(a.state, AlertState::Pending);
        assert_eq!(a.active_at, Timestamp::from_secs(5 * MIN));
        step(&def, &mut state, 34, true, &mut sent);
        assert_eq!(only_alert(&state).state, AlertState::Pending);
        step(&def, &mut state, 35, true, &mut sent);
        assert_eq!(only_alert(&state).state, AlertState::Firing);
    }

    #[test]
    fn state_older_than_the_outage_tolerance_is_not_restored() {
        let def = def(30);
        let state = restart(&def, 10, 71, &mut Vec::new());
        match &state.rules[0].state {
            RuleState::Alerting(s) => assert!(s.is_empty()),
            RuleState::Recording(_) => panic!("alerting rule"),
        }
    }

    #[test]
    fn restore_vectors_of_prometheus_for_state_restore() {
        // B11 #8 (rules/manager_test.go TestForStateRestore): for 25m, grace 10m.
        let m = |x: i64| Timestamp::from_secs(x * MIN);
        let hold = Duration::from_secs(25 * 60);
        let grace = Duration::from_secs(10 * 60);
        assert_eq!(restored_active_at(m(0), m(5), m(15), hold, grace), m(10));
        assert_eq!(restored_active_at(m(0), m(20), m(25), hold, grace), m(10));
        // Already past `for` when it went down: unchanged.
        assert_eq!(restored_active_at(m(0), m(30), m(40), hold, grace), m(0));
    }

    #[test]
    fn missing_state_file_reads_as_none_and_garbage_is_an_error() {
        let dir = temp_dir("read");
        assert!(matches!(read(&dir.join("absent.json")), Ok(None)));
        let bad = dir.join("bad.json");
        fs::write(&bad, b"{not json").expect("write");
        let err = read(&bad).expect_err("garbage");
        assert!(err.to_string().contains("not a tocsin state file"), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_newer_or_damaged_state_file_is_kept_aside_before_the_next_write() {
        let dir = temp_dir("aside");
        let current = Snapshot {
            version: SNAPSHOT_VERSION,
            groups: Vec::new(),
        };
        let path = dir.join("alerts.json");
        let newer = br#"{"version":2,"groups":[{"a":"layout this version does not know"}]}"#;
        fs::write(&path, newer).expect("write");
        let err = read(&path).expect_err("a newer version");
        assert!(
            matches!(err, PersistError::Version { found: 2, .. }),
            "{err}"
        );
        let kept = dir.join("alerts.json.v2");
        assert!(
            err.to_string()
                .ends_with(&format!("; the file is kept as {}", kept.display())),
            "{err}"
        );
        write_atomic(&path, &current).expect("write");
        assert_eq!(fs::read(&kept).expect("kept"), newer);

        // Damaged twice: both copies kept.
        for round in ["", ".1"] {
            fs::write(&path, b"{\"version\":1,\"groups\":[tor").expect("write");
            let err = read(&path).expect_err("damaged");
            assert!(matches!(err, PersistError::Decode { .. }), "{err}");
            let kept = dir.join(format!("alerts.json.corrupt{round}"));
            assert!(kept.exists(), "{err}");
            write_atomic(&path, &current).expect("write");
        }
        assert!(read(&path).expect("readable").is_some());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn non_finite_values_survive_the_state_file() {
        let def = def(0);
        let mut state = GroupState::new(&def, "");
        let samples = [Sample::new(Labels::new([("job", "x")]), f64::INFINITY)];
        def.eval_rule(
            &mut state,
            0,
            Timestamp::from_secs(0),
            Ok(&samples),
            &Verbatim,
            &EvalOptions::default(),
            &mut Scratch::default(),
        );
        let snap = crate::state::Snapshot::capture([(&def, &state, Timestamp::from_secs(0))]);
        let json = serde_json::to_string(&snap).expect("encode");
        let back: crate::state::Snapshot = serde_json::from_str(&json).expect("decode");
        let mut fresh = GroupState::new(&def, "");
        back.restore(
            [(&def, &mut fresh)],
            Timestamp::from_secs(60),
            RestorePolicy::default(),
        );
        assert_eq!(only_alert(&fresh).value, f64::INFINITY);
        assert_eq!(only_alert(&fresh), only_alert(&state));
    }
}

//! Reload on change: watches the config file's directory and the directories the rule globs
//! read (inotify, through the `notify` crate) and says when what they name has changed, so
//! the daemon runs the same reload as SIGHUP.
//!
//! Directories are watched, not files. A Kubernetes ConfigMap volume updates by writing a
//! new `..<timestamp>` directory and renaming a `..data_tmp` symlink over `..data`, so the
//! files the globs match (symlinks through `..data`) never change themselves, and a file
//! that appears under a glob has nothing to watch until it exists. Any event in a watched
//! directory (other than a read) starts a quiet period; once nothing has happened for
//! [`QUIET`], the config file and every file the globs match are read and hashed, and only a
//! hash that differs from the last one asks for a reload. So a state file or an editor's
//! swap file beside the rules reloads nothing, and a burst of writes reloads once.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::{timeout, Instant};
use tracing::{info, warn};

/// How long the watched directories must stay quiet before the files are read.
const QUIET: Duration = Duration::from_millis(500);
/// The longest a stream of events can put the reading off.
const MAX_DELAY: Duration = Duration::from_secs(5);

/// What a change touched.
#[derive(Debug, PartialEq, Eq)]
pub struct Changed {
    /// The config file's bytes differ from the last reading.
    pub config: bool,
    /// The set of rule files the globs match, or one's bytes, differ.
    pub rules: bool,
}

/// The watch: alive as long as this value.
pub struct Changes {
    _watcher: RecommendedWatcher,
    events: UnboundedReceiver<()>,
    sources: Sources,
    last: Fingerprint,
}

#[derive(Clone)]
struct Sources {
    config: Option<PathBuf>,
    globs: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    config: u64,
    rules: u64,
}

impl Changes {
    /// Starts watching `config` (if any) and the directories of `globs` (absolute). A
    /// directory that cannot be watched is logged and skipped; only failing to start the
    /// watcher at all is an error.
    pub fn start(config: Option<&Path>, globs: &[String]) -> anyhow::Result<Changes> {
        let (tx, events) = unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<Event>| match res {
                Ok(event) if !is_read(&event.kind) => {
                    let _ = tx.send(());
                }
                Ok(_) => {}
                Err(e) => warn!(err = %e, "file watch error"),
            })
            .context("starting the file watcher")?;
        let config = config.map(std::path::absolute).transpose()?;
        for (dir, mode) in directories(config.as_deref(), globs) {
            match watcher.watch(&dir, mode) {
                Ok(()) => info!(
                    dir = %dir.display(),
                    recursive = mode == RecursiveMode::Recursive,
                    "watching for changes"
                ),
                Err(e) => warn!(
                    dir = %dir.display(),
                    err = %e,
                    "cannot watch; changes there need SIGHUP or /-/reload"
                ),
            }
        }
        let sources = Sources {
            config,
            globs: globs.to_vec(),
        };
        let last = sources.fingerprint();
        Ok(Changes {
            _watcher: watcher,
            events,
            sources,
            last,
        })
    }

    /// Waits for the next change to the config file or the rule files, debounced.
    pub async fn next(&mut self) -> Changed {
        loop {
            if self.events.recv().await.is_none() {
                // The watcher is gone: nothing more will come.
                std::future::pending::<()>().await;
            }
            let deadline = Instant::now() + MAX_DELAY;
            while Instant::now() < deadline {
                match timeout(QUIET, self.events.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) | Err(_) => break,
                }
            }
            let sources = self.sources.clone();
            let Ok(now) = tokio::task::spawn_blocking(move || sources.fingerprint()).await else {
                continue;
            };
            let changed = Changed {
                config: now.config != self.last.config,
                rules: now.rules != self.last.rules,
            };
            self.last = now;
            if changed.config || changed.rules {
                return changed;
            }
        }
    }
}

/// Opening, reading and closing without writing change nothing (and the reload's own
/// reading must not wake the watcher again).
fn is_read(kind: &EventKind) -> bool {
    matches!(kind, EventKind::Access(a) if *a != AccessKind::Close(AccessMode::Write))
}

impl Sources {
    fn fingerprint(&self) -> Fingerprint {
        let mut config = DefaultHasher::new();
        if let Some(path) = &self.config {
            std::fs::read(path).ok().hash(&mut config);
        }
        let mut rules = DefaultHasher::new();
        match crate::cmd::run::expand_rule_globs(&self.globs) {
            Ok(files) => {
                for file in files {
                    file.hash(&mut rules);
                    std::fs::read(&file).ok().hash(&mut rules);
                }
            }
            Err(e) => e.to_string().hash(&mut rules),
        }
        Fingerprint {
            config: config.finish(),
            rules: rules.finish(),
        }
    }
}

/// The directories to watch: the config file's, and for each glob the directory before its
/// first wildcard (recursively when a wildcard is in a directory name, e.g. `rules/*/a.yaml`).
fn directories(config: Option<&Path>, globs: &[String]) -> Vec<(PathBuf, RecursiveMode)> {
    let mut dirs: BTreeMap<PathBuf, bool> = BTreeMap::new();
    let mut add = |dir: PathBuf, recursive: bool| {
        let entry = dirs.entry(dir).or_insert(false);
        *entry |= recursive;
    };
    if let Some(parent) = config.and_then(Path::parent) {
        add(parent.to_path_buf(), false);
    }
    for glob in globs {
        let path = Path::new(glob);
        let components: Vec<Component> = path.components().collect();
        let wild = components
            .iter()
            .position(|c| c.as_os_str().to_string_lossy().contains(['*', '?', '[']));
        let (base, recursive) = match wild {
            Some(i) => (
                components[..i].iter().collect::<PathBuf>(),
                i + 1 < components.len(),
            ),
            None => (
                path.parent().map_or_else(PathBuf::new, Path::to_path_buf),
                false,
            ),
        };
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        add(base, recursive);
    }
    dirs.into_iter()
        .map(|(dir, recursive)| {
            let mode = if recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            (dir, mode)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_stop_at_the_first_wildcard_and_recurse_only_past_it() {
        let dirs = directories(
            Some(Path::new("/etc/tocsin/tocsin.yml")),
            &[
                "/prometheus/rules/alerting_rule*.yaml".into(),
                "/prometheus/rules/recording_rule*.yaml".into(),
                "/etc/tocsin/teams/*/rules.yaml".into(),
                "/etc/tocsin/extra.yaml".into(),
            ],
        );
        assert_eq!(
            dirs,
            vec![
                (PathBuf::from("/etc/tocsin"), RecursiveMode::NonRecursive),
                (PathBuf::from("/etc/tocsin/teams"), RecursiveMode::Recursive),
                (
                    PathBuf::from("/prometheus/rules"),
                    RecursiveMode::NonRecursive
                ),
            ]
        );
    }

    #[test]
    fn reads_are_not_changes_but_a_finished_write_is() {
        assert!(is_read(&EventKind::Access(AccessKind::Open(
            notify::event::AccessMode::Any
        ))));
        assert!(is_read(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(!is_read(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(!is_read(&EventKind::Create(notify::event::CreateKind::Any)));
    }
}

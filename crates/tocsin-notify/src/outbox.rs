//! The durable outbox: every notification is on disk before it is sent and leaves only
//! once the receiver has taken it, so a crash or restart loses none.
//!
//! Layout of the state directory:
//! - `<seq>.json`, one file per pending notification (20-digit sequence number, so names
//!   sort in order): written to a temp file, fsync'd, renamed, directory fsync'd;
//! - `<first seq>.batch`, several pending notifications stored at once (a storm's worth of
//!   groups flushed in one tick), one JSON entry per line, written and synced the same
//!   way; removed once its last entry is acknowledged or discarded;
//! - `acked.log`, one line per acknowledgement (`seq group-hash content-hash millis`),
//!   fsync'd before the message file is removed. A message whose sequence number is in the
//!   log is delivered even if its file survived a crash, and the last acknowledged content
//!   per group lets the pipeline skip re-sending what was delivered just before a restart.
//!
//! Each entry's dedup key is `<group-hash>-<content-hash>-<seq>`. The outbox is bounded
//! (messages and bytes): past either bound the oldest entries are evicted, counted in
//! [`Outbox::overflowed`] and logged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::notification::{Fnv, Notification};
use crate::time::Timestamp;

/// Bounds on what the outbox keeps on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutboxOptions {
    pub max_messages: usize,
    pub max_bytes: u64,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions {
            max_messages: 10_000,
            max_bytes: 64 << 20,
        }
    }
}

/// One stored notification and the destination it is for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub seq: u64,
    /// The lane (destination) it waits in.
    pub target: String,
    pub dedup_key: String,
    pub notification: Notification,
}

/// An [`OutboxEntry`] borrowing its parts, written the same way (no copy of a storm's
/// notifications just to store them).
#[derive(Serialize)]
struct EntryRef<'a> {
    seq: u64,
    target: &'a str,
    dedup_key: String,
    notification: &'a Notification,
}

/// What [`Outbox::append`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    /// Older entries removed to stay within bounds.
    pub evicted: Vec<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("outbox: cannot encode a notification: {0}")]
    Encode(String),
    #[error("outbox: sequence numbers exhausted; move the outbox directory aside")]
    Exhausted,
}

#[derive(Clone, Copy, Debug)]
struct Meta {
    bytes: u64,
    group: u64,
    content: u64,
    /// The batch file holding it (its first sequence number), if not its own file.
    batch: Option<u64>,
}

/// The outbox in one directory.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    options: OutboxOptions,
    next_seq: u64,
    entries: BTreeMap<u64, Meta>,
    bytes: u64,
    overflowed: u64,
    /// Per group hash: (content hash, when) of the last acknowledged notification.
    last_ack: HashMap<u64, (u64, Timestamp)>,
    ack_log: File,
    /// Batch file → entries of it still pending.
    batches: HashMap<u64, usize>,
}

const ACK_LOG: &str = "acked.log";

impl Outbox {
    /// Opens (creating) the outbox in `dir` and returns the pending entries in sequence
    /// order: what was written and never acknowledged.
    pub fn open(
        dir: &Path,
        options: OutboxOptions,
    ) -> Result<(Outbox, Vec<OutboxEntry>), OutboxError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| OutboxError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let log_path = dir.join(ACK_LOG);
        let mut acked = HashSet::new();
        let mut last_ack = HashMap::new();
        // The log is a dedup aid, compacted on every open: what cannot be read of it is
        // skipped with a warning, never a reason not to start.
        let log = match fs::read(&log_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                tracing::warn!(path = %log_path.display(), error = %e,
                    "outbox: cannot read the acknowledgement log; starting without it");
                Vec::new()
            }
        };
        let mut unreadable = 0usize;
        for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            // A torn last line (crash mid-append) or a damaged one does not parse.
            let parsed = std::str::from_utf8(line).ok().and_then(parse_ack);
            let Some((seq, group, content, at)) = parsed else {
                unreadable += 1;
                continue;
            };
            acked.insert(seq);
            let prev: Option<&(u64, Timestamp)> = last_ack.get(&group);
            if prev.is_none_or(|(_, t)| *t <= at) {
                last_ack.insert(group, (content, at));
            }
        }
        if unreadable > 0 {
            tracing::warn!(path = %log_path.display(), lines = unreadable,
                "outbox: unreadable acknowledgement lines skipped");
        }
        let mut pending = Vec::new();
        let mut max_seq = acked
            .iter()
            .copied()
            .filter(|&s| s < u64::MAX)
            .max()
            .unwrap_or(0);
        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        let mut batch_names: Vec<(u64, PathBuf)> = Vec::new();
        for e in fs::read_dir(dir).map_err(io(dir))? {
            let e = e.map_err(io(dir))?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(".tmp-") {
                // Written but never renamed: the append did not complete.
                let _ = fs::remove_file(e.path());
            } else if let Some(seq) = name.strip_suffix(".json").and_then(|s| s.parse().ok()) {
                names.push((seq, e.path()));
            } else if let Some(id) = name.strip_suffix(".batch").and_then(|s| s.parse().ok()) {
                batch_names.push((id, e.path()));
            }
        }
        names.sort();
        batch_names.sort();
        let mut entries = BTreeMap::new();
        let mut bytes = 0;
        let mut batches = HashMap::new();
        for (id, path) in batch_names {
            let raw = fs::read(&path).map_err(io(&path))?;
            let mut live = 0;
            for line in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let Ok(entry) = serde_json::from_slice::<OutboxEntry>(line) else {
                    tracing::warn!(path = %path.display(), "outbox: unreadable batch entry set aside");
                    continue;
                };
                max_seq = max_seq.max(entry.seq);
                if acked.contains(&entry.seq) {
                    continue;
                }
                let meta = Meta {
                    bytes: line.len() as u64,
                    group: group_hash(&entry.target, &entry.notification.group_key),
                    content: entry.notification.content_hash(),
                    batch: Some(id),
                };
                entries.insert(entry.seq, meta);
                bytes += meta.bytes;
                live += 1;
                pending.push(entry);
            }
            if live == 0 {
                let _ = fs::remove_file(&path);
            } else {
                batches.insert(id, live);
            }
        }
        for (seq, path) in names {
            if seq == u64::MAX {
                // No append ever writes it (see `append`): taking it would wrap the next
                // sequence number to 0 and make later entries look acknowledged or older.
                tracing::warn!(path = %path.display(),
                    "outbox: entry with the last possible sequence number set aside");
                let _ = fs::rename(&path, path.with_extension("corrupt"));
                continue;
            }
            max_seq = max_seq.max(seq);
            if acked.contains(&seq) {
                let _ = fs::remove_file(&path);
                continue;
            }
            let raw = fs::read(&path).map_err(io(&path))?;
            match serde_json::from_slice::<OutboxEntry>(&raw) {
                Ok(entry) if entry.seq == seq => {
                    let meta = Meta {
                        bytes: raw.len() as u64,
                        group: group_hash(&entry.target, &entry.notification.group_key),
                        content: entry.notification.content_hash(),
                        batch: None,
                    };
                    entries.insert(seq, meta);
                    bytes += raw.len() as u64;
                    pending.push(entry);
                }
                _ => {
                    tracing::warn!(path = %path.display(), "outbox: unreadable entry set aside");
                    let _ = fs::rename(&path, path.with_extension("corrupt"));
                }
            }
        }
        // Rewrite the log with the last acknowledgement per group only.
        let tmp = dir.join(".tmp-acked.log");
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            let mut text = String::new();
            for (group, (content, at)) in &last_ack {
                text.push_str(&format!(
                    "0 {group:016x} {content:016x} {}\n",
                    at.unix_millis()
                ));
            }
            f.write_all(text.as_bytes()).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &log_path).map_err(io(&log_path))?;
        sync_dir(dir);
        pending.sort_by_key(|e| e.seq);
        let ack_log = OpenOptions::new()
            .append(true)
            .open(&log_path)
            .map_err(io(&log_path))?;
        Ok((
            Outbox {
                dir: dir.to_path_buf(),
                options,
                next_seq: max_seq + 1,
                entries,
                bytes,
                overflowed: 0,
                last_ack,
                ack_log,
                batches,
            },
            pending,
        ))
    }

    /// Stores `notification` for `target` durably and returns its sequence number.
    pub fn append(
        &mut self,
        target: &str,
        notification: &Notification,
    ) -> Result<Appended, OutboxError> {
        let seq = self.next_seq;
        // Sequence numbers never wrap: u64::MAX is never handed out, so `open` can always
        // continue after the largest one on disk.
        if seq == u64::MAX {
            return Err(OutboxError::Exhausted);
        }
        self.next_seq += 1;
        let group = group_hash(target, &notification.group_key);
        let content = notification.content_hash();
        let entry = OutboxEntry {
            seq,
            target: target.to_owned(),
            dedup_key: format!("{group:016x}-{content:016x}-{seq}"),
            notification: notification.clone(),
        };
        let raw = serde_json::to_vec(&entry).map_err(|e| OutboxError::Encode(e.to_string()))?;
        let size = raw.len() as u64;
        // Nothing older is evicted for an entry that was not stored.
        self.write_durably(seq, &self.path(seq), &raw)?;
        let evicted = self.make_room(1, size);
        self.entries.insert(
            seq,
            Meta {
                bytes: size,
                group,
                content,
                batch: None,
            },
        );
        self.bytes += size;
        Ok(Appended { seq, evicted })
    }

    /// Stores several notifications durably with one file and one sync (a storm flushes
    /// thousands of groups at once; a file and two syncs each took a minute). Returns
    /// their sequence numbers in order, and the older entries evicted to make room.
    pub fn append_all(
        &mut self,
        items: &[(&str, &Notification)],
    ) -> Result<(Vec<u64>, Vec<u64>), OutboxError> {
        if let [(target, n)] = items {
            let a = self.append(target, n)?;
            return Ok((vec![a.seq], a.evicted));
        }
        if items.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let first = self.next_seq;
        // Sequence numbers never wrap (see `append`).
        if first
            .checked_add(items.len() as u64)
            .is_none_or(|next| next == u64::MAX)
        {
            return Err(OutboxError::Exhausted);
        }
        let mut text = Vec::new();
        let mut metas = Vec::with_capacity(items.len());
        for (i, (target, notification)) in items.iter().enumerate() {
            let seq = first + i as u64;
            let group = group_hash(target, &notification.group_key);
            let content = notification.content_hash();
            let entry = EntryRef {
                seq,
                target,
                dedup_key: format!("{group:016x}-{content:016x}-{seq}"),
                notification,
            };
            let start = text.len();
            serde_json::to_writer(&mut text, &entry)
                .map_err(|e| OutboxError::Encode(e.to_string()))?;
            let size = (text.len() - start) as u64;
            text.push(b'\n');
            metas.push((
                seq,
                Meta {
                    bytes: size,
                    group,
                    content,
                    batch: Some(first),
                },
            ));
        }
        // Nothing older is evicted for entries that were not stored.
        let path = self.dir.join(format!("{first:020}.batch"));
        self.write_durably(first, &path, &text)?;
        self.next_seq = first + items.len() as u64;
        let size: u64 = metas.iter().map(|(_, m)| m.bytes).sum();
        let evicted = self.make_room(metas.len(), size);
        self.batches.insert(first, metas.len());
        let seqs = metas.iter().map(|(seq, _)| *seq).collect();
        for (seq, meta) in metas {
            self.bytes += meta.bytes;
            self.entries.insert(seq, meta);
        }
        Ok((seqs, evicted))
    }

    /// Writes `bytes` to `path` through a temporary file (`.tmp-{id}`), synced and renamed
    /// into place. On failure (a full disk) what was written of it goes.
    fn write_durably(&self, id: u64, path: &Path, bytes: &[u8]) -> Result<(), OutboxError> {
        let tmp = self.dir.join(format!(".tmp-{id}"));
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| OutboxError::Io { path: p, source }
        };
        let written = (|| {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            f.write_all(bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
            fs::rename(&tmp, path).map_err(io(path))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Evicts the oldest entries until `count` more entries of `size` bytes in all fit;
    /// called only once those are on disk. Returns the evicted sequence numbers.
    fn make_room(&mut self, count: usize, size: u64) -> Vec<u64> {
        let mut evicted = Vec::new();
        while !self.entries.is_empty()
            && (self.entries.len() + count > self.options.max_messages
                || self.bytes + size > self.options.max_bytes)
        {
            let Some((&old, _)) = self.entries.iter().next() else {
                break;
            };
            self.remove(old);
            evicted.push(old);
        }
        if !evicted.is_empty() {
            self.overflowed += evicted.len() as u64;
            tracing::warn!(
                evicted = evicted.len(),
                overflowed_total = self.overflowed,
                max_messages = self.options.max_messages,
                max_bytes = self.options.max_bytes,
                "outbox full: oldest undelivered notifications dropped"
            );
        }
        evicted
    }

    /// Records that entries `seqs` were delivered at `now` with one sync, then removes
    /// them.
    pub fn ack_all(&mut self, seqs: &[u64], now: Timestamp) -> Result<(), OutboxError> {
        let mut lines = String::new();
        let mut known = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let Some(meta) = self.entries.get(seq).copied() else {
                continue;
            };
            lines.push_str(&format!(
                "{seq} {:016x} {:016x} {}\n",
                meta.group,
                meta.content,
                now.unix_millis()
            ));
            known.push((*seq, meta));
        }
        if known.is_empty() {
            return Ok(());
        }
        let log = self.dir.join(ACK_LOG);
        let io = |source| OutboxError::Io {
            path: log.clone(),
            source,
        };
        self.ack_log.write_all(lines.as_bytes()).map_err(io)?;
        self.ack_log.sync_data().map_err(io)?;
        for (seq, meta) in known {
            self.last_ack.insert(meta.group, (meta.content, now));
            self.remove(seq);
        }
        Ok(())
    }

    /// Records that entry `seq` was delivered at `now`, then removes it. Unknown
    /// sequence numbers (evicted meanwhile) are ignored.
    pub fn ack(&mut self, seq: u64, now: Timestamp) -> Result<(), OutboxError> {
        let Some(meta) = self.entries.get(&seq).copied() else {
            return Ok(());
        };
        let line = format!(
            "{seq} {:016x} {:016x} {}\n",
            meta.group,
            meta.content,
            now.unix_millis()
        );
        let log = self.dir.join(ACK_LOG);
        let io = |source| OutboxError::Io {
            path: log.clone(),
            source,
        };
        self.ack_log.write_all(line.as_bytes()).map_err(io)?;
        self.ack_log.sync_data().map_err(io)?;
        self.last_ack.insert(meta.group, (meta.content, now));
        self.remove(seq);
        Ok(())
    }

    /// Removes entry `seq` without recording a delivery (superseded, or dropped after a
    /// permanent failure).
    pub fn discard(&mut self, seq: u64) {
        // An entry of a batch file stays in that file: the log says it is done with (a
        // line for no group). Not synced: lost in a crash, the entry is sent again, which
        // duplicates but loses nothing.
        if self.entries.get(&seq).is_some_and(|m| m.batch.is_some()) {
            let line = format!("{seq} {:016x} {:016x} 0\n", 0, 0);
            let _ = self.ack_log.write_all(line.as_bytes());
        }
        self.remove(seq);
    }

    fn remove(&mut self, seq: u64) {
        if let Some(m) = self.entries.remove(&seq) {
            self.bytes -= m.bytes;
            match m.batch {
                None => {
                    let _ = fs::remove_file(self.path(seq));
                }
                Some(id) => {
                    let live = self.batches.entry(id).or_insert(1);
                    *live -= 1;
                    if *live == 0 {
                        self.batches.remove(&id);
                        let _ = fs::remove_file(self.dir.join(format!("{id:020}.batch")));
                    }
                }
            }
        }
    }

    /// Whether the same content for the same group and target was delivered less than
    /// `within` before `now` (so a restart does not repeat it).
    pub fn delivered_recently(
        &self,
        target: &str,
        n: &Notification,
        within: Duration,
        now: Timestamp,
    ) -> bool {
        self.last_ack
            .get(&group_hash(target, &n.group_key))
            .is_some_and(|(content, at)| *content == n.content_hash() && *at + within > now)
    }

    /// Entries evicted to stay within bounds since opening.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// Pending entries and their bytes on disk.
    pub fn usage(&self) -> (usize, u64) {
        (self.entries.len(), self.bytes)
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("{seq:020}.json"))
    }
}

fn group_hash(target: &str, group_key: &str) -> u64 {
    let mut h = Fnv::new();
    h.eat(target.as_bytes());
    h.eat(&[0]);
    h.eat(group_key.as_bytes());
    h.0
}

fn parse_ack(line: &str) -> Option<(u64, u64, u64, Timestamp)> {
    let mut f = line.split(' ');
    let seq = f.next()?.parse().ok()?;
    let group = u64::from_str_radix(f.next()?, 16).ok()?;
    let content = u64::from_str_radix(f.next()?, 16).ok()?;
    let at = Timestamp::from_millis(f.next()?.parse().ok()?);
    f.next().is_none().then_some((seq, group, content, at))
}

/// Makes a rename durable. Best effort: not every filesystem lets a directory be synced.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{labels, Labels, NotifyAlert};
    use tocsin_testkit::TempDir;

    fn n(group: &str, inst: &str) -> Notification {
        Notification {
            receiver: "ops".into(),
            group_key: group.into(),
            group_labels: Labels::new(),
            alerts: vec![NotifyAlert::firing(
                labels([("alertname", "A"), ("instance", inst)]),
                Labels::new(),
                Timestamp::from_secs(0),
            )],
            created_at: Timestamp::from_secs(1),
            mention: None,
        }
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_secs(s)
    }

    #[test]
    fn unacknowledged_entries_come_back_in_order_after_a_crash() {
        let dir = TempDir::new("outbox").unwrap();
        {
            let (mut o, pending) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
            assert!(pending.is_empty());
            for i in 0..5 {
                o.append("ops/dingtalk", &n(&format!("g{i}"), "x")).unwrap();
            }
            // "Crash": dropped without acknowledging anything.
        }
        let (_, pending) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        let groups: Vec<&str> = pending
            .iter()
            .map(|e| e.notification.group_key.as_str())
            .collect();
        assert_eq!(groups, ["g0", "g1", "g2", "g3", "g4"]);
        assert_eq!(pending[0].target, "ops/dingtalk");
        assert!(
            pending[2].dedup_key.ends_with("-3"),
            "{}",
            pending[2].dedup_key
        );
    }

    #[test]
    fn acknowledged_entries_do_not_come_back_and_sequence_keeps_growing() {
        let dir = TempDir::new("outbox").unwrap();
        let (mut o, _) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        let a = o.append("t", &n("g0", "x")).unwrap();
        let b = o.append("t", &n("g1", "x")).unwrap();
        o.ack(a.seq, t(10)).unwrap();
        assert_eq!(o.usage().0, 1);
        drop(o);
        let (mut o, pending) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        assert_eq!(pending.iter().map(|e| e.seq).collect::<Vec<_>>(), [b.seq]);
        assert!(o.append("t", &n("g2", "x")).unwrap().seq > b.seq);
    }

    #[test]
    fn an_entry_acknowledged_just_before_a_crash_is_not_resent() {
        let dir = TempDir::new("outbox").unwrap();
        let (mut o, _) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        let a = o.append("t", &n("g0", "x")).unwrap();
        let file = dir.path().join(format!("{:020}.json", a.seq));
        let saved = fs::read(&file).unwrap();
        o.ack(a.seq, t(10)).unwrap();
        drop(o);
        // The crash hit between the ack record and the file removal.
        fs::write(&file, saved).unwrap();
        let (o, pending) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        assert!(pending.is_empty());
        assert!(!file.exists());
        // And the same content regenerated after the restart counts as delivered.
        assert!(o.delivered_recently("t", &n("g0", "x"), Duration::from_secs(3600), t(20)));
        assert!(!o.delivered_recently("t", &n("g0", "y"), Duration::from_secs(3600), t(20)));
        assert!(!o.delivered_recently("t", &n("g0", "x"), Duration::from_secs(5), t(20)));
        assert!(!o.delivered_recently("other", &n("g0", "x"), Duration::from_secs(3600), t(20)));
    }

    #[test]
    fn overflow_evicts_the_oldest_and_counts() {
        let dir = TempDir::new("outbox").unwrap();
        let opts = OutboxOptions {
            max_messages: 3,
            max_bytes: u64::MAX,
        };
        let (mut o, _) = Outbox::open(dir.path(), opts).unwrap();
        for i in 0..3 {
            assert!(o
                .append("t", &n(&format!("g{i}"), "x"))
                .unwrap()
                .evicted
                .is_empty());
        }
        let d = o.append("t", &n("g3", "x")).unwrap();
        assert_eq!(d.evicted, [1]);
        assert_eq!(o.overflowed(), 1);
        assert_eq!(o.usage().0, 3);
        let size = o.usage().1 / 3;
        drop(o);
        let (mut o, pending) = Outbox::open(dir.path(), opts).unwrap();
        assert_eq!(pending.len(), 3);
        // Byte bound: room for two entries.
        o.options = OutboxOptions {
            max_messages: 100,
            max_bytes: size * 2 + size / 2,
        };
        let e = o.append("t", &n("g4", "x")).unwrap();
        assert_eq!(e.evicted.len(), 2);
        assert!(o.usage().1 <= size * 2 + size / 2);
    }

    #[test]
    fn a_torn_temp_file_and_a_corrupt_entry_are_set_aside() {
        let dir = TempDir::new("outbox").unwrap();
        fs::write(dir.path().join(".tmp-7"), b"{partial").unwrap();
        fs::write(dir.path().join(format!("{:020}.json", 3)), b"not json").unwrap();
        fs::write(dir.path().join(ACK_LOG), b"1 00 00 5\n2 zz").unwrap();
        let (mut o, pending) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        assert!(pending.is_empty());
        assert!(!dir.path().join(".tmp-7").exists());
        assert!(dir.path().join(format!("{:020}.corrupt", 3)).exists());
        assert_eq!(o.append("t", &n("g", "x")).unwrap().seq, 4);
    }

    #[test]
    fn a_damaged_ack_log_line_is_skipped_and_the_rest_still_counts() {
        let dir = TempDir::new("outbox").unwrap();
        let (mut o, _) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        let a = o.append("t", &n("g0", "x")).unwrap();
        let b = o.append("t", &n("g1", "x")).unwrap();
        let files: Vec<(PathBuf, Vec<u8>)> = [a.seq, b.seq]
            .iter()
            .map(|&s| {
                let p = dir.path().join(format!("{s:020}.json"));
                let raw = fs::read(&p).unwrap();
                (p, raw)
            })
            .collect();
        o.ack(a.seq, t(10)).unwrap();
        o.ack(b.seq, t(11)).unwrap();
        drop(o);
        // A crash left both files behind, and a bad byte sits between the two acks.
        for (p, raw) in &files {
            fs::write(p, raw).unwrap();
        }
        let log = dir.path().join(ACK_LOG);
        let text = fs::read(&log).unwrap();
        let cut = text.iter().position(|&b| b == b'\n').unwrap() + 1;
        let mut damaged = text[..cut].to_vec();
        damaged.extend_from_slice(b"7 \xff\xfe garbage\n");
        damaged.extend_from_slice(&text[cut..]);
        fs::write(&log, damaged).unwrap();

        let (o, pending) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        assert!(pending.is_empty(), "{pending:?}");
        assert!(o.delivered_recently("t", &n("g1", "x"), Duration::from_secs(60), t(20)));
    }

    #[test]
    fn an_entry_named_with_the_last_sequence_number_is_set_aside_and_numbers_never_wrap() {
        let dir = TempDir::new("outbox").unwrap();
        let entry = OutboxEntry {
            seq: u64::MAX,
            target: "t".into(),
            dedup_key: "x".into(),
            notification: n("g0", "x"),
        };
        let name = dir.path().join(format!("{:020}.json", u64::MAX));
        fs::write(&name, serde_json::to_vec(&entry).unwrap()).unwrap();
        let (mut o, pending) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        assert!(pending.is_empty(), "{pending:?}");
        assert!(name.with_extension("corrupt").exists());
        assert_eq!(o.append("t", &n("g1", "x")).unwrap().seq, 1);
        // The last number is refused rather than wrapped.
        o.next_seq = u64::MAX;
        assert!(matches!(
            o.append("t", &n("g2", "x")),
            Err(OutboxError::Exhausted)
        ));
    }

    #[test]
    fn a_failed_append_evicts_nothing() {
        let dir = TempDir::new("outbox").unwrap();
        let opts = OutboxOptions {
            max_messages: 2,
            max_bytes: u64::MAX,
        };
        let (mut o, _) = Outbox::open(dir.path(), opts).unwrap();
        o.append("t", &n("g0", "x")).unwrap();
        o.append("t", &n("g1", "x")).unwrap();
        // The directory cannot take a file (a full disk, as far as append can tell).
        let away = dir.path().with_extension("away");
        fs::rename(dir.path(), &away).unwrap();
        fs::write(dir.path(), b"").unwrap();
        assert!(matches!(
            o.append("t", &n("g2", "x")),
            Err(OutboxError::Io { .. })
        ));
        fs::remove_file(dir.path()).unwrap();
        fs::rename(&away, dir.path()).unwrap();
        assert_eq!(o.usage().0, 2, "an entry was evicted for one never stored");
        assert_eq!(o.overflowed(), 0);
        let e = o.append("t", &n("g2", "x")).unwrap();
        assert_eq!(e.evicted, [1]);
    }

    #[test]
    fn a_batch_is_one_file_whose_entries_leave_one_by_one_and_survive_a_restart() {
        let dir = TempDir::new("outbox-batch").unwrap();
        let (mut o, pending) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        assert!(pending.is_empty());
        let ns: Vec<Notification> = (0..4).map(|i| n(&format!("g{i}"), "1")).collect();
        let items: Vec<(&str, &Notification)> = ns.iter().map(|n| ("dingtalk:a", n)).collect();
        let (seqs, evicted) = o.append_all(&items).unwrap();
        assert_eq!(seqs.len(), 4);
        assert!(evicted.is_empty());
        let files = || std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files(), 2, "one batch file and the log");
        o.ack_all(&seqs[..2], Timestamp::from_secs(10)).unwrap();
        o.discard(seqs[2]);
        drop(o);
        let (mut o, pending) = Outbox::open(dir.path(), OutboxOptions::default()).unwrap();
        let left: Vec<u64> = pending.iter().map(|e| e.seq).collect();
        assert_eq!(left, [seqs[3]]);
        assert_eq!(pending[0].notification, ns[3]);
        o.ack_all(&left, Timestamp::from_secs(11)).unwrap();
        assert_eq!(files(), 1, "the batch file goes with its last entry");
        assert!(o.delivered_recently(
            "dingtalk:a",
            &ns[0],
            Duration::from_secs(60),
            Timestamp::from_secs(12)
        ));
    }
}

//! Label sets as Prometheus's `labels.Labels`: sorted by name, compared and
//! printed the same way.
//!
//! Why not the workspace's `tocsin_core::Labels`: that one is an immutable encoding
//! (`name 0xFF value 0xFF …` in one `Arc<[u8]>` with Prometheus's fingerprint), made for
//! sets that are built once and then compared, hashed and cloned — query answers, alerts,
//! notifications. The evaluator instead edits label sets at every step of every node
//! (`set`/`del` for functions such as `label_replace`, `keep`/`drop`/`match_labels` for
//! aggregations and vector matching) and shares the name and value strings between the
//! thousands of sets a range evaluation makes; pairs of interned `Arc<str>`s do that
//! without re-encoding or copying text. Only `tocsin test rules` crosses between the
//! two, once per rule result.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// The metric-name label.
pub const METRIC_NAME: &str = "__name__";

type Pairs = Box<[(Arc<str>, Arc<str>)]>;

/// A label set, sorted by label name, without empty values. Cloning shares it; its hash
/// is computed once, so maps keyed by label sets hash one word.
#[derive(Clone)]
pub struct Labels(Arc<(u64, Pairs)>);

impl Default for Labels {
    fn default() -> Labels {
        Labels::from_vec(Vec::new())
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || (self.0 .0 == other.0 .0 && self.0 .1 == other.0 .1)
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0 .0);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Labels) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// `labels.Compare`: label by label, names then values.
impl Ord for Labels {
    fn cmp(&self, other: &Labels) -> std::cmp::Ordering {
        self.pairs().cmp(other.pairs())
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Labels {
    /// An empty label set.
    pub fn empty() -> Labels {
        Labels::default()
    }

    fn from_vec(v: Vec<(Arc<str>, Arc<str>)>) -> Labels {
        let mut h = FxHasher::default();
        for (k, val) in &v {
            h.write(k.as_bytes());
            h.write_u8(0xff);
            h.write(val.as_bytes());
            h.write_u8(0xff);
        }
        // murmur3's fmix64, so every bit of the word depends on every input byte.
        let mut x = h.finish();
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^= x >> 33;
        Labels(Arc::new((x, v.into_boxed_slice())))
    }

    fn pairs(&self) -> &[(Arc<str>, Arc<str>)] {
        &self.0 .1
    }

    /// Builds a label set from pairs in any order; later pairs win, empty values are dropped.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Labels {
        let mut v: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        for (k, val) in pairs {
            let (k, val): (String, String) = (k.into(), val.into());
            v.retain(|(n, _)| **n != *k);
            if !val.is_empty() {
                v.push((k.into(), val.into()));
            }
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        Labels::from_vec(v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs().iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn len(&self) -> usize {
        self.pairs().len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs().is_empty()
    }

    /// The value of `name`, `""` when absent (as Prometheus's `Get`).
    pub fn get(&self, name: &str) -> &str {
        match self.pairs().binary_search_by(|(k, _)| (**k).cmp(name)) {
            Ok(i) => &self.pairs()[i].1,
            Err(_) => "",
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs()
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .is_ok()
    }

    /// Sets `name` to `value`; an empty value deletes the label (as `labels.Builder`).
    pub fn set(&mut self, name: &str, value: String) {
        let pos = self.pairs().binary_search_by(|(k, _)| (**k).cmp(name));
        let mut v = self.pairs().to_vec();
        match pos {
            Ok(i) if value.is_empty() => {
                v.remove(i);
            }
            Ok(i) => v[i].1 = value.into(),
            Err(_) if value.is_empty() => return,
            Err(i) => v.insert(i, (name.into(), value.into())),
        }
        *self = Labels::from_vec(v);
    }

    pub fn del(&mut self, name: &str) {
        if let Ok(i) = self.pairs().binary_search_by(|(k, _)| (**k).cmp(name)) {
            let mut v = self.pairs().to_vec();
            v.remove(i);
            *self = Labels::from_vec(v);
        }
    }

    /// The set without `__name__`.
    pub fn without_name(&self) -> Labels {
        if !self.has(METRIC_NAME) {
            return self.clone();
        }
        Labels::from_vec(
            self.pairs()
                .iter()
                .filter(|(k, _)| &**k != METRIC_NAME)
                .cloned()
                .collect(),
        )
    }

    /// Keeps only the labels named in `names`.
    pub fn keep(&self, names: &[String]) -> Labels {
        Labels::from_vec(
            self.pairs()
                .iter()
                .filter(|(k, _)| names.iter().any(|n| **n == **k))
                .cloned()
                .collect(),
        )
    }

    /// Drops the labels named in `names` (and `__name__` when `drop_name`).
    pub fn drop(&self, names: &[String], drop_name: bool) -> Labels {
        Labels::from_vec(
            self.pairs()
                .iter()
                .filter(|(k, _)| {
                    !(names.iter().any(|n| **n == **k) || drop_name && &**k == METRIC_NAME)
                })
                .cloned()
                .collect(),
        )
    }

    /// Prometheus's `MatchLabels(on, names...)`: with `on` the named labels, otherwise all
    /// but the named ones and `__name__`.
    pub fn match_labels(&self, on: bool, names: &[String]) -> Labels {
        if on {
            self.keep(names)
        } else {
            self.drop(names, true)
        }
    }
}

/// As Prometheus's `labels.Labels.String()`: `{a="1", b="2"}`.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (k, v)) in self.pairs().iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={}", tocsin_promql::go_quote(v))?;
        }
        f.write_str("}")
    }
}

/// Whether `name` is a valid label name (`model.LabelName.IsValid`).
pub fn is_valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A fast non-cryptographic hasher (FxHash) for maps keyed by label sets: label sets are
/// not attacker-chosen keys here, and SipHash dominated evaluation profiles.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }

    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;
pub(crate) type FxHashMap<K, V> = std::collections::HashMap<K, V, FxBuild>;
pub(crate) type FxHashSet<K> = std::collections::HashSet<K, FxBuild>;

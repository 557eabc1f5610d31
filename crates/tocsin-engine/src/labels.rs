//! Label sets: sorted, immutable, one allocation, with Prometheus's own fingerprint.
//!
//! Representation: the pairs sorted by name, encoded as `name 0xFF value 0xFF …` in one
//! `Arc<[u8]>`, plus the xxHash64 of exactly those bytes. That byte string is what
//! Prometheus 2.42's `labels.Labels.Hash()` feeds to xxHash64, so [`Labels::fingerprint`]
//! equals Prometheus's fingerprint of the same set, and the group hash of the scheduler
//! (docs/rule-semantics.md, "Slot offsets": the set `{file, name}`) comes out of the same function. `0xFF` never occurs in
//! UTF-8, so the encoding is unambiguous.
//!
//! Why not `Vec<(Arc<str>, Arc<str>)>`: that costs 24 bytes of vector, 32 bytes per pair
//! and a header per string; this costs 24 bytes inline and one heap block of the text plus
//! two bytes per pair. Cloning is a reference-count increment, equality is a fingerprint
//! compare then a `memcmp`, hashing is free. The alert state machine builds candidate label
//! sets as bytes in a reused buffer and allocates only for alerts it has not seen before.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use xxhash_rust::xxh64::xxh64;

/// The separator Prometheus writes between names and values when hashing a label set.
pub(crate) const SEP: u8 = 0xFF;

/// An immutable, sorted label set (also used for annotations).
#[derive(Clone)]
pub struct Labels {
    fingerprint: u64,
    bytes: Arc<[u8]>,
}

impl Labels {
    /// The empty set.
    pub fn empty() -> Self {
        Self::from_encoded(&[])
    }

    /// A set from pairs in any order; a repeated name keeps its last value.
    pub fn new<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut pairs: Vec<(N, V)> = pairs.into_iter().collect();
        // Stable sort keeps input order among equal names, so the last one wins below.
        pairs.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
        let mut buf = Vec::new();
        for (i, (n, v)) in pairs.iter().enumerate() {
            let next_same = pairs
                .get(i + 1)
                .is_some_and(|next| next.0.as_ref() == n.as_ref());
            if !next_same {
                push_pair(&mut buf, n.as_ref().as_bytes(), v.as_ref().as_bytes());
            }
        }
        Self::from_encoded(&buf)
    }

    /// A set from its encoding, which the caller guarantees is well formed: sorted pairs of
    /// UTF-8 strings, each followed by [`SEP`].
    pub(crate) fn from_encoded(bytes: &[u8]) -> Self {
        Labels {
            fingerprint: xxh64(bytes, 0),
            bytes: Arc::from(bytes),
        }
    }

    /// Like [`Labels::from_encoded`] with the fingerprint already computed.
    pub(crate) fn from_encoded_with(bytes: &[u8], fingerprint: u64) -> Self {
        Labels {
            fingerprint,
            bytes: Arc::from(bytes),
        }
    }

    /// Prometheus's `labels.Hash()` of this set: xxHash64 (seed 0) of the encoding.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The encoding: `name 0xFF value 0xFF` per pair, sorted by name.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.bytes.iter().filter(|&&b| b == SEP).count() / 2
    }

    /// The pairs in name order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            raw: RawIter { rest: &self.bytes },
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The pairs as raw bytes, without UTF-8 checks (for merging on the hot path).
    pub(crate) fn raw_pairs(&self) -> RawIter<'_> {
        RawIter { rest: &self.bytes }
    }

    /// True when both are clones of one set (one allocation).
    pub(crate) fn same_allocation(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.bytes, &other.bytes)
    }

    /// Bytes on the heap behind this set (shared between clones).
    pub fn heap_bytes(&self) -> usize {
        // An Arc block holds two counters before the data.
        2 * std::mem::size_of::<usize>() + self.bytes.len()
    }
}

pub(crate) fn push_pair(buf: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    buf.extend_from_slice(name);
    buf.push(SEP);
    buf.extend_from_slice(value);
    buf.push(SEP);
}

/// Pairs of an encoding as byte slices.
#[derive(Clone)]
pub(crate) struct RawIter<'a> {
    rest: &'a [u8],
}

impl<'a> RawIter<'a> {
    pub(crate) fn over(bytes: &'a [u8]) -> Self {
        RawIter { rest: bytes }
    }
}

impl<'a> Iterator for RawIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let n_end = self.rest.iter().position(|&b| b == SEP)?;
        let name = &self.rest[..n_end];
        let after = &self.rest[n_end + 1..];
        let v_end = after.iter().position(|&b| b == SEP)?;
        let value = &after[..v_end];
        self.rest = &after[v_end + 1..];
        Some((name, value))
    }
}

/// Pairs of a [`Labels`] as strings.
pub struct Iter<'a> {
    raw: RawIter<'a>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let (n, v) = self.raw.next()?;
        // Every encoding is built from `&str`s, so these never fail.
        Some((
            std::str::from_utf8(n).unwrap_or_default(),
            std::str::from_utf8(v).unwrap_or_default(),
        ))
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Default for Labels {
    fn default() -> Self {
        Self::empty()
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint && self.bytes == other.bytes
    }
}

impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.fingerprint);
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    /// Prometheus's `labels.Compare`: pair by pair, name then value, shorter set first.
    fn cmp(&self, other: &Self) -> Ordering {
        let mut a = self.raw_pairs();
        let mut b = other.raw_pairs();
        loop {
            match (a.next(), b.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(x), Some(y)) => match x.0.cmp(y.0).then(x.1.cmp(y.1)) {
                    Ordering::Equal => {}
                    o => return o,
                },
            }
        }
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Labels {
    /// `{a="1", b="2"}` like Prometheus's `labels.String()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        tocsin_query::write_label_set(f, self.iter())
    }
}

/// A `HashMap` hasher for keys that already are a fingerprint: passes the `u64` through.
#[derive(Default, Clone, Copy)]
pub struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-u64 keys; fold them in rather than ignore them.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// `BuildHasher` for maps keyed by fingerprints.
pub type BuildFingerprint = BuildHasherDefault<FingerprintHasher>;

/// One element of an instant vector: a label set and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

impl Sample {
    pub fn new(labels: Labels, value: f64) -> Self {
        Sample { labels, value }
    }
}

/// What an instant query returned, as far as rules care (docs/rule-semantics.md, "One evaluation", step 1).
#[derive(Clone, Debug, PartialEq)]
pub enum QueryValue {
    Vector(Vec<Sample>),
    Scalar(f64),
    /// A matrix or string result.
    Other,
}

impl QueryValue {
    /// The samples a rule evaluates: a scalar is one sample with no labels; a matrix or a
    /// string is Prometheus's `rule result is not a vector or scalar` error.
    pub fn into_samples(self) -> Result<Vec<Sample>, crate::RuleError> {
        match self {
            QueryValue::Vector(v) => Ok(v),
            QueryValue::Scalar(v) => Ok(vec![Sample::new(Labels::empty(), v)]),
            QueryValue::Other => Err(crate::RuleError::NotVector),
        }
    }
}

/// Merges sorted `base` pairs with sorted `overrides` into `buf`: an override replaces the
/// same-named base pair, an override with an empty value deletes it (Prometheus's
/// `labels.Builder.Set`), and base pairs named `drop` are left out.
pub(crate) fn merge_into<'a, 'b>(
    buf: &mut Vec<u8>,
    base: impl Iterator<Item = (&'b [u8], &'b [u8])>,
    drop: &[u8],
    overrides: impl Iterator<Item = (&'a [u8], &'a [u8])>,
) {
    let mut base = base.filter(|(n, _)| *n != drop).peekable();
    let mut overrides = overrides.peekable();
    loop {
        match (base.peek(), overrides.peek()) {
            (None, None) => return,
            (Some(&(n, v)), None) => {
                push_pair(buf, n, v);
                base.next();
            }
            (None, Some(&(n, v))) => {
                if !v.is_empty() {
                    push_pair(buf, n, v);
                }
                overrides.next();
            }
            (Some(&(bn, bv)), Some(&(on, ov))) => match bn.cmp(on) {
                Ordering::Less => {
                    push_pair(buf, bn, bv);
                    base.next();
                }
                Ordering::Greater => {
                    if !ov.is_empty() {
                        push_pair(buf, on, ov);
                    }
                    overrides.next();
                }
                Ordering::Equal => {
                    if !ov.is_empty() {
                        push_pair(buf, on, ov);
                    }
                    base.next();
                    overrides.next();
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_prometheus_labels_hash() {
        // XXH64 of the empty input, the published XXH64 test vector for empty input.
        assert_eq!(Labels::empty().fingerprint(), 0xEF46_DB37_51D8_E999);
        // B11: the set {file="rules.yml", name="live"} hashes to 0x720f359f94da5202.
        let l = Labels::new([("name", "live"), ("file", "rules.yml")]);
        assert_eq!(l.fingerprint(), 0x720f_359f_94da_5202);
        assert_eq!(l.as_bytes(), b"file\xffrules.yml\xffname\xfflive\xff");
    }

    #[test]
    fn labels_sort_and_last_duplicate_wins() {
        let l = Labels::new([("b", "1"), ("a", "2"), ("b", "3")]);
        let pairs: Vec<_> = l.iter().collect();
        assert_eq!(pairs, [("a", "2"), ("b", "3")]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("b"), Some("3"));
        assert_eq!(l.to_string(), r#"{a="2", b="3"}"#);
    }

    #[test]
    fn labels_order_like_prometheus_compare() {
        let a = Labels::new([("a", "1")]);
        let ab = Labels::new([("ab", "1")]);
        let a_b = Labels::new([("a", "1"), ("b", "1")]);
        assert!(a < ab, "name \"a\" sorts before \"ab\"");
        assert!(a < a_b, "a prefix sorts first");
    }
}

//! Label sets: sorted, immutable, one allocation, with Prometheus's own fingerprint — the
//! one label-set type from query answers (decoded straight into it by `tocsin-query`)
//! through the engine's alerts to notifications' inputs.
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

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use xxhash_rust::xxh64::xxh64;

/// The separator Prometheus writes between names and values when hashing a label set.
pub const SEP: u8 = 0xFF;

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
    #[inline]
    pub fn from_encoded(bytes: &[u8]) -> Self {
        Labels {
            fingerprint: xxh64(bytes, 0),
            bytes: Arc::from(bytes),
        }
    }

    /// Like [`Labels::from_encoded`] with the fingerprint already computed.
    #[inline]
    pub fn from_encoded_with(bytes: &[u8], fingerprint: u64) -> Self {
        Labels {
            fingerprint,
            bytes: Arc::from(bytes),
        }
    }

    /// Prometheus's `labels.Hash()` of this set: xxHash64 (seed 0) of the encoding.
    #[inline]
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The encoding: `name 0xFF value 0xFF` per pair, sorted by name.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.bytes.iter().filter(|&&b| b == SEP).count() / 2
    }

    /// The pairs in name order.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            raw: RawIter { rest: &self.bytes },
        }
    }

    #[inline]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The pairs as raw bytes, without UTF-8 checks (for merging on the hot path).
    #[inline]
    pub fn raw_pairs(&self) -> RawIter<'_> {
        RawIter { rest: &self.bytes }
    }

    /// True when both are clones of one set (one allocation).
    #[inline]
    pub fn same_allocation(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.bytes, &other.bytes)
    }

    /// Bytes on the heap behind this set (shared between clones).
    pub fn heap_bytes(&self) -> usize {
        // An Arc block holds two counters before the data.
        2 * std::mem::size_of::<usize>() + self.bytes.len()
    }
}

/// Appends one `name 0xFF value 0xFF` pair to an encoding.
#[inline]
pub fn push_pair(buf: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    buf.extend_from_slice(name);
    buf.push(SEP);
    buf.extend_from_slice(value);
    buf.push(SEP);
}

/// Pairs of an encoding as byte slices.
#[derive(Clone)]
pub struct RawIter<'a> {
    rest: &'a [u8],
}

impl<'a> RawIter<'a> {
    #[inline]
    pub fn over(bytes: &'a [u8]) -> Self {
        RawIter { rest: bytes }
    }
}

impl<'a> Iterator for RawIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
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

    #[inline]
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
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint == other.fingerprint && self.bytes == other.bytes
    }
}

impl Eq for Labels {}

impl Hash for Labels {
    #[inline]
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
    #[inline]
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
        write_label_set(f, self.iter())
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Labels {
    /// Collects pairs in any order; for a repeated name the last value wins.
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Labels {
        let mut b = LabelsBuilder::default();
        for (n, v) in iter {
            b.push(n.as_ref(), v.as_ref());
        }
        b.build()
    }
}

/// Writes `pairs` as `{a="1", b="2"}`, the form of Prometheus's `labels.String()`.
pub fn write_label_set<'a>(
    f: &mut fmt::Formatter<'_>,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> fmt::Result {
    f.write_str("{")?;
    for (i, (n, v)) in pairs.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{n}={v:?}")?;
    }
    f.write_str("}")
}

impl Serialize for Labels {
    /// A JSON object of names to values, in name order.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut m = serializer.serialize_map(Some(self.len()))?;
        for (n, v) in self {
            m.serialize_entry(n, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Labels, D::Error> {
        let mut b = LabelsBuilder::default();
        LabelsSeed(&mut b).deserialize(deserializer)
    }
}

/// Accumulates pairs straight into the encoding and builds a [`Labels`]; reusable, so a
/// decoder keeps one per response and allocates per series only the set itself (one
/// `Arc<[u8]>`). Pairs pushed in name order (as Prometheus sends them) are neither copied
/// nor sorted again; others are sorted once at [`LabelsBuilder::build`], the last value
/// of a repeated name winning.
#[derive(Debug)]
pub struct LabelsBuilder {
    buf: Vec<u8>,
    /// Where the pair being written starts.
    name_start: usize,
    /// The previous pair's name, for the order check.
    prev_name: std::ops::Range<usize>,
    pairs: usize,
    sorted: bool,
}

impl Default for LabelsBuilder {
    fn default() -> Self {
        LabelsBuilder::with_capacity(0, 0)
    }
}

impl LabelsBuilder {
    /// A builder with room for `labels` pairs totalling `bytes` bytes of text.
    pub fn with_capacity(labels: usize, bytes: usize) -> LabelsBuilder {
        LabelsBuilder {
            buf: Vec::with_capacity(bytes + 2 * labels),
            name_start: 0,
            prev_name: 0..0,
            pairs: 0,
            sorted: true,
        }
    }

    /// Adds a pair (any order; a repeated name: the last value wins).
    pub fn push(&mut self, name: &str, value: &str) {
        self.name_start = self.buf.len();
        self.buf.extend_from_slice(name.as_bytes());
        self.end_name();
        self.buf.extend_from_slice(value.as_bytes());
        self.end_value();
    }

    /// Ends the name written since `name_start`; notes when it does not sort after the
    /// previous one (or repeats it).
    fn end_name(&mut self) {
        let name = self.name_start..self.buf.len();
        if self.pairs > 0
            && self.sorted
            && self.buf[self.prev_name.clone()] >= self.buf[name.clone()]
        {
            self.sorted = false;
        }
        self.prev_name = name;
        self.pairs += 1;
        self.buf.push(SEP);
    }

    fn end_value(&mut self) {
        self.buf.push(SEP);
        self.name_start = self.buf.len();
    }

    /// Builds the set and clears the builder for reuse.
    pub fn build(&mut self) -> Labels {
        if !self.sorted {
            self.sort_dedup();
        }
        let labels = Labels::from_encoded(&self.buf);
        self.clear();
        labels
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.name_start = 0;
        self.prev_name = 0..0;
        self.pairs = 0;
        self.sorted = true;
    }

    fn sort_dedup(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        let mut pairs: Vec<(&[u8], &[u8])> = RawIter::over(&buf).collect();
        // Stable: among equal names the last pushed stays last; keep it.
        pairs.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::with_capacity(buf.len());
        for (i, (n, v)) in pairs.iter().enumerate() {
            if pairs.get(i + 1).is_some_and(|next| next.0 == *n) {
                continue;
            }
            push_pair(&mut out, n, v);
        }
        self.buf = out;
    }
}

/// Decodes a JSON object of string values (or `null`, the empty set) into the builder,
/// then builds: no intermediate `String` per name or value.
pub struct LabelsSeed<'b>(pub &'b mut LabelsBuilder);

impl<'de> DeserializeSeed<'de> for LabelsSeed<'_> {
    type Value = Labels;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Labels, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LabelsSeed<'_> {
    type Value = Labels;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of label names to string values")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Labels, A::Error> {
        let b = self.0;
        b.clear();
        while map.next_key_seed(AppendStr(&mut b.buf))?.is_some() {
            b.end_name();
            map.next_value_seed(AppendStr(&mut b.buf))?;
            b.end_value();
        }
        Ok(b.build())
    }
    fn visit_unit<E>(self) -> Result<Labels, E> {
        Ok(Labels::empty())
    }
}

/// Appends a JSON string's bytes to a buffer without an intermediate allocation.
struct AppendStr<'b>(&'b mut Vec<u8>);

impl<'de> DeserializeSeed<'de> for AppendStr<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for AppendStr<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.extend_from_slice(v.as_bytes());
        Ok(())
    }
}

/// A `HashMap` hasher for keys that already are a fingerprint: passes the `u64` through.
#[derive(Default, Clone, Copy)]
pub struct FingerprintHasher(u64);

impl Hasher for FingerprintHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-u64 keys; fold them in rather than ignore them.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    #[inline]
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
    #[inline]
    pub fn new(labels: Labels, value: f64) -> Self {
        Sample { labels, value }
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

    #[test]
    fn builder_sorts_dedups_and_is_reusable() {
        let mut b = LabelsBuilder::default();
        b.push("job", "a");
        b.push("instance", "x");
        b.push("job", "b");
        b.push("__name__", "up");
        let l = b.build();
        let pairs: Vec<_> = l.iter().collect();
        assert_eq!(pairs, [("__name__", "up"), ("instance", "x"), ("job", "b")]);
        assert_eq!(
            l,
            Labels::new([("job", "b"), ("instance", "x"), ("__name__", "up")])
        );
        assert_eq!(l.fingerprint(), Labels::new(l.iter()).fingerprint());
        // Sorted input after an unsorted one: the builder was reset.
        b.push("a", "1");
        b.push("b", "2");
        assert_eq!(b.build(), Labels::new([("a", "1"), ("b", "2")]));
        assert_eq!(b.build(), Labels::empty());
        // A repeated name in otherwise sorted input: the last value wins.
        b.push("a", "1");
        b.push("a", "2");
        assert_eq!(b.build().to_string(), r#"{a="2"}"#);
    }

    #[test]
    fn json_round_trip_with_escapes_and_unsorted_keys() {
        let l: Labels = serde_json::from_str(r#"{"z":"\"q\"\n","a":"é"}"#).unwrap();
        assert_eq!(l.get("z"), Some("\"q\"\n"));
        assert_eq!(l, Labels::new([("a", "é"), ("z", "\"q\"\n")]));
        assert_eq!(
            serde_json::to_string(&l).unwrap(),
            r#"{"a":"é","z":"\"q\"\n"}"#
        );
        let empty: Labels = serde_json::from_str("{}").unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn collected_sets_equal_built_ones() {
        let a: Labels = [("b", "2"), ("a", "1")].into_iter().collect();
        assert_eq!(a, Labels::new([("a", "1"), ("b", "2")]));
        // Same concatenated text, different split: not equal.
        let c: Labels = [("a1", ""), ("b", "2")].into_iter().collect();
        assert_ne!(a, c);
    }
}

//! Label sets and samples as the engine uses them: the workspace's one [`Labels`] and
//! [`Sample`] (from `tocsin-core`; see there for the representation), what an instant
//! query returned ([`QueryValue`]), and the merge the alert and recording rules build
//! output label sets with.

use std::cmp::Ordering;

pub(crate) use tocsin_core::labels::{push_pair, RawIter};
pub use tocsin_core::{BuildFingerprint, FingerprintHasher, Labels, Sample};

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

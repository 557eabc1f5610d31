//! Label sets as Prometheus's `labels.Labels`: sorted by name, compared and
//! printed the same way.

use std::fmt;

/// The metric-name label.
pub const METRIC_NAME: &str = "__name__";

/// A label set, sorted by label name, without empty values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// An empty label set.
    pub fn empty() -> Labels {
        Labels(Vec::new())
    }

    /// Builds a label set from pairs in any order; later pairs win, empty values are dropped.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Labels {
        let mut l = Labels::empty();
        for (k, v) in pairs {
            l.set(&k.into(), v.into());
        }
        l
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value of `name`, `""` when absent (as Prometheus's `Get`).
    pub fn get(&self, name: &str) -> &str {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            Ok(i) => &self.0[i].1,
            Err(_) => "",
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .is_ok()
    }

    /// Sets `name` to `value`; an empty value deletes the label (as `labels.Builder`).
    pub fn set(&mut self, name: &str, value: String) {
        match self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].1 = value,
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, (name.to_owned(), value)),
        }
    }

    pub fn del(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
            self.0.remove(i);
        }
    }

    /// The set without `__name__`.
    pub fn without_name(&self) -> Labels {
        if !self.has(METRIC_NAME) {
            return self.clone();
        }
        Labels(
            self.0
                .iter()
                .filter(|(k, _)| k != METRIC_NAME)
                .cloned()
                .collect(),
        )
    }

    /// Keeps only the labels named in `names`.
    pub fn keep(&self, names: &[String]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(k, _)| names.iter().any(|n| n == k))
                .cloned()
                .collect(),
        )
    }

    /// Drops the labels named in `names` (and `__name__` when `drop_name`).
    pub fn drop(&self, names: &[String], drop_name: bool) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|(k, _)| !(names.iter().any(|n| n == k) || drop_name && k == METRIC_NAME))
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
        for (i, (k, v)) in self.0.iter().enumerate() {
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

//! The in-memory series store the evaluator reads: samples per label set, in time order,
//! with Prometheus's staleness markers kept as stored values.

use crate::labels::{FxHashMap, Labels, METRIC_NAME};
use crate::StorageError;
use std::collections::HashMap;

/// The bit pattern of Prometheus's staleness marker (`value.StaleNaN`).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Prometheus's staleness marker as a float.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is a staleness marker (compared by bits, as `value.IsStaleNaN`).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One stored sample: milliseconds since the epoch and value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub t: i64,
    pub v: f64,
}

/// A stored series.
#[derive(Debug, Clone)]
pub struct StoredSeries {
    pub labels: Labels,
    /// Samples in strictly increasing time order.
    pub points: Vec<Point>,
}

/// Series in memory, found by label set and metric name. Selections come back in
/// label-set order, as Prometheus's TSDB querier returns them.
#[derive(Debug, Default, Clone)]
pub struct Storage {
    series: Vec<StoredSeries>,
    by_labels: FxHashMap<Labels, usize>,
    /// Indices of all series, sorted by label set.
    sorted: Vec<usize>,
    /// Indices per metric name, sorted by label set.
    by_name: HashMap<String, Vec<usize>>,
}

impl Storage {
    pub fn new() -> Storage {
        Storage::default()
    }

    /// Drops every series.
    pub fn clear(&mut self) {
        *self = Storage::default();
    }

    /// Appends one sample. Like the TSDB appender, a sample older than the series' last
    /// one is refused, and one at the same time is accepted only with the same value bits.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), StorageError> {
        let idx = self.series_index(labels);
        let points = &mut self.series[idx].points;
        if let Some(last) = points.last() {
            if t < last.t {
                return Err(StorageError::OutOfOrder);
            }
            if t == last.t {
                if last.v.to_bits() != v.to_bits() {
                    return Err(StorageError::Duplicate);
                }
                return Ok(());
            }
        }
        points.push(Point { t, v });
        Ok(())
    }

    fn series_index(&mut self, labels: &Labels) -> usize {
        if let Some(&i) = self.by_labels.get(labels) {
            return i;
        }
        let idx = self.series.len();
        self.series.push(StoredSeries {
            labels: labels.clone(),
            points: Vec::new(),
        });
        self.by_labels.insert(labels.clone(), idx);
        let series = &self.series;
        let pos = self.sorted.partition_point(|&i| series[i].labels < *labels);
        self.sorted.insert(pos, idx);
        let list = self
            .by_name
            .entry(labels.get(METRIC_NAME).to_owned())
            .or_default();
        let pos = list.partition_point(|&i| series[i].labels < *labels);
        list.insert(pos, idx);
        idx
    }

    /// All series, in label-set order.
    pub fn all(&self) -> impl Iterator<Item = &StoredSeries> {
        self.sorted.iter().map(|&i| &self.series[i])
    }

    /// Series with the given metric name, in label-set order.
    pub fn with_name<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a StoredSeries> {
        self.by_name
            .get(name)
            .map(|v| v.as_slice())
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.series[i])
    }

    /// The series with exactly these labels.
    pub fn get(&self, labels: &Labels) -> Option<&StoredSeries> {
        self.by_labels.get(labels).map(|&i| &self.series[i])
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }
}

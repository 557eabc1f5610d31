//! Evaluation time: the workspace's one [`Timestamp`] (nanoseconds since the epoch, from
//! `tocsin-core`). Durations are plain `std::time::Duration`s at the API and signed
//! nanoseconds inside.

pub(crate) use tocsin_core::time::nanos;
pub use tocsin_core::Timestamp;

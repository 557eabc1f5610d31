//! What leaves the engine: rule outputs ([`Outputs`]) and notifications ([`AlertNotifier`]).
//!
//! Both are called from the group tasks right after the rule that produced them, so the
//! implementations must be quick: push into a channel or a lock-protected buffer, never
//! block on the network. [`Outputs::flush`] is the one awaited hook: a remote-write
//! implementation resolves it once everything written so far is queryable, which makes a
//! recording rule's result visible to the next rule of the same group, as in Prometheus.

use std::future::Future;
use std::pin::Pin;

use crate::labels::Sample;
pub use crate::outgoing::{OutgoingAlert, OutgoingState};
use crate::time::Timestamp;

/// The future [`Outputs::flush`] returns.
pub type FlushFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Where recording-rule results, `ALERTS`/`ALERTS_FOR_STATE` series and their staleness
/// markers go (tocsin's `/metrics`, remote write).
pub trait Outputs: Send + Sync + 'static {
    /// The series one rule produced at the evaluation at slot `ts` (sample timestamp:
    /// `ts.unix_millis()`). `group` is the group key `<file>;<name>` (Prometheus's
    /// `rule_group` label). Stale markers have the value `f64::from_bits(STALE_NAN_BITS)`
    /// (see [`crate::stale::is_stale_marker`]). Never called with an empty slice.
    fn write(&self, group: &str, ts: Timestamp, samples: &[Sample]);

    /// Resolves once everything written so far is visible to the datasource's queries.
    /// The runner awaits it after a rule that wrote samples and before the group's next
    /// rule. The default resolves at once: without remote write, a later rule does not
    /// see what an earlier rule of the same evaluation recorded.
    fn flush(&self) -> FlushFuture<'_> {
        Box::pin(std::future::ready(()))
    }
}

/// Receives what Prometheus would POST to Alertmanager.
pub trait AlertNotifier: Send + Sync + 'static {
    /// The alerts one rule (re)sends after one evaluation (Prometheus's `sendAlerts`:
    /// firing ones on firing and every resend delay, resolved ones on resolution and every
    /// resend delay for 15 minutes). Never called with an empty vector.
    fn send(&self, alerts: Vec<OutgoingAlert>);
}

//! What leaves the engine: rule outputs ([`Outputs`]) and notifications ([`AlertNotifier`]).
//!
//! Both are called from the group tasks right after the rule that produced them, so the
//! implementations must be quick: push into a channel or a lock-protected buffer, never
//! block on the network. [`Outputs::flush`] is the one awaited hook: a remote-write
//! implementation resolves it once everything written so far is queryable, which makes a
//! recording rule's result visible to the next rule of the same group, as in Prometheus.

use std::future::Future;
use std::pin::Pin;

use crate::labels::{Labels, Sample};
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

/// Firing or resolved, as Alertmanager tells them apart by `endsAt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutgoingState {
    Firing,
    Resolved,
}

impl OutgoingState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutgoingState::Firing => "firing",
            OutgoingState::Resolved => "resolved",
        }
    }
}

/// One alert as Prometheus's notifier posts it to Alertmanager's `/api/v2/alerts`.
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingAlert {
    /// The alert's labels plus each external label the alert lacks (or has empty), as
    /// Prometheus's notifier adds them.
    pub labels: Labels,
    pub annotations: Labels,
    /// `FiredAt`, not `ActiveAt`.
    pub starts_at: Timestamp,
    /// `ResolvedAt` for a resolved alert; otherwise `ValidUntil`, a few intervals ahead.
    pub ends_at: Timestamp,
    /// `<external_url>/graph?g0.expr=…&g0.tab=1`.
    pub generator_url: String,
    pub state: OutgoingState,
}

/// The alert's labels with the external labels it lacks (Prometheus's notifier).
pub(crate) fn with_external_labels(labels: &Labels, external: &Labels) -> Labels {
    if external.is_empty() {
        return labels.clone();
    }
    let missing = external
        .iter()
        .filter(|(n, _)| labels.get(n).is_none_or(str::is_empty));
    Labels::new(labels.iter().filter(|(_, v)| !v.is_empty()).chain(missing))
}

//! Alerts as they leave the engine for Alertmanager-shaped receivers: the values
//! [`crate::group::GroupDef::eval_rule`] produces and `runner::AlertNotifier` receives.

use crate::alert::{Alert, AlertState};
use crate::labels::Labels;
use crate::time::Timestamp;

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

impl OutgoingAlert {
    /// What is sent for `alert` after the evaluation at `ts` marked it sent
    /// ([`crate::AlertingState::send`]): the daemon's groups and `tocsin diff`'s backtest
    /// build it here alike.
    pub fn of(alert: &Alert, ts: Timestamp, external_labels: &Labels, generator_url: &str) -> Self {
        OutgoingAlert {
            labels: with_external_labels(&alert.labels, external_labels),
            annotations: alert.annotations.clone(),
            starts_at: alert.starts_at().unwrap_or(alert.active_at),
            ends_at: alert.ends_at().unwrap_or(ts),
            generator_url: generator_url.to_string(),
            state: if alert.state == AlertState::Inactive {
                OutgoingState::Resolved
            } else {
                OutgoingState::Firing
            },
        }
    }
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

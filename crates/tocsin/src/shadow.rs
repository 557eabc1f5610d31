//! `tocsin run --shadow`: a daemon run next to production to watch a candidate rule set,
//! which must not be mistaken for production nor act like it (README, "A safe shadow next
//! to production").
//!
//! - It never remote-writes: a configured `remote_write` is ignored, with a warning, so the
//!   shadow's recording series and `ALERTS` never land in production's storage. With it
//!   goes the restore of `for` timers from `ALERTS_FOR_STATE` (run.rs does it only with
//!   remote write on): those series would be production's, not the shadow's.
//! - `shadow="true"` is added to every rule output `/metrics` exposes (recording series,
//!   `ALERTS`, `ALERTS_FOR_STATE`): a Prometheus scraping production's tocsin and the
//!   shadow with `honor_labels: true` stores them apart instead of one overwriting the other.
//!   It is also an external label, so any notification the shadow sends carries it.
//!   `/api/v1/alerts` and `/api/v1/rules` list alerts without it, as Prometheus lists
//!   alerts without its external labels: the shadow's API reads like production's and the
//!   two compare label for label.
//! - It notifies nobody: notifications are logged as with `--dry-run`, unless
//!   `--shadow-notify` asks for them (then they carry `shadow="true"`, for a route to a
//!   test channel).

use tracing::warn;

use crate::config::Config;

/// The label a shadow adds.
pub const LABEL: (&str, &str) = ("shadow", "true");

/// Applies `--shadow` to the settings. Returns whether notifications are logged only.
pub fn apply(config: &mut Config, dry_run: bool, notify: bool) -> bool {
    if let Some(rw) = config.remote_write.take() {
        warn!(
            url = %redact(&rw.url),
            "--shadow: remote_write is ignored; a shadow never writes to remote storage"
        );
    }
    config
        .global
        .external_labels
        .insert(LABEL.0.to_string(), LABEL.1.to_string());
    dry_run || !notify
}

/// A URL without its userinfo (credentials never reach the log).
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_remote_write_url_is_logged_without_credentials() {
        assert_eq!(
            redact("https://user:s3cret@rw.example:9090/api/v1/write"),
            "https://rw.example:9090/api/v1/write"
        );
        assert_eq!(redact("http://rw/api"), "http://rw/api");
    }
}

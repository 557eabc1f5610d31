//! Replays the webhook payloads in `testdata/fuzz/webhook/` (what Alertmanager posted, the
//! seeds of the `gateway_webhook_decode` fuzz target) through the gateway's decoder: each
//! becomes a notification with Alertmanager's alerts, statuses and group labels.

use tocsin_notify::alert::{AlertStatus, Labels};
use tocsin_notify::gateway::decode;
use tocsin_notify::time::Timestamp;

#[test]
fn every_payload_alertmanager_posted_decodes_with_its_alerts() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/fuzz/webhook");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("testdata/fuzz/webhook") {
        let path = entry.expect("entry").path();
        let body = std::fs::read(&path).expect("read");
        let doc: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let n = decode(
            "钉钉 值班",
            &body,
            Timestamp::from_millis(1_796_400_000_000),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let posted = doc["alerts"].as_array().expect("alerts");
        assert_eq!(n.alerts.len(), posted.len(), "{}", path.display());
        // Alerts are sorted on decoding: find each by its labels.
        for raw in posted {
            let labels: Labels = serde_json::from_value(raw["labels"].clone()).expect("labels");
            let alert = n
                .alerts
                .iter()
                .find(|a| *a.labels == labels)
                .unwrap_or_else(|| panic!("{}: {labels:?} missing", path.display()));
            let resolved = raw["status"] == "resolved";
            assert_eq!(
                alert.status == AlertStatus::Resolved,
                resolved,
                "{}",
                path.display()
            );
            assert_eq!(
                Some(&alert.annotations),
                serde_json::from_value(raw["annotations"].clone())
                    .ok()
                    .as_ref()
            );
        }
        seen += 1;
    }
    assert!(seen >= 3, "only {seen} payloads in {dir}");
}

/// Inputs the fuzzer found that once panicked the decoder (and with it the notification
/// task, so that nothing was sent any more): each is refused with an error now.
#[test]
fn fuzz_findings_are_refused_without_a_panic() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fuzz/webhook_regressions"
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("testdata/fuzz/webhook_regressions") {
        let path = entry.expect("entry").path();
        let body = std::fs::read(&path).expect("read");
        let result = decode(
            "钉钉 值班",
            &body,
            Timestamp::from_millis(1_796_400_000_000),
        );
        assert!(result.is_err(), "{}: {result:?}", path.display());
        seen += 1;
    }
    assert!(seen >= 1, "no inputs in {dir}");
}

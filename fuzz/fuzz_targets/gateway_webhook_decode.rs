//! Decode arbitrary bytes as an Alertmanager webhook payload for a gateway receiver (what
//! `POST /dingtalk/<receiver>/send` does with a body): it may refuse, never panic; what it
//! accepts the outbox can store and read back unchanged, and its content hash is stable.
//! Seeds: `testdata/fuzz/webhook` (payloads Alertmanager posted). Run:
//! `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run gateway_webhook_decode corpus/gateway_webhook_decode ../testdata/fuzz/webhook -- -max_total_time=600 -rss_limit_mb=2048`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin_notify::gateway::decode;
use tocsin_notify::outbox::OutboxEntry;
use tocsin_notify::time::Timestamp;

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_millis(1_700_000_000_000);
    let Ok(n) = decode("钉钉 值班", data, now) else {
        return;
    };
    let entry = OutboxEntry {
        seq: 1,
        target: "dingtalk:x".into(),
        dedup_key: String::new(),
        notification: n,
    };
    let stored = serde_json::to_vec(&entry).expect("an accepted notification serializes");
    let back: OutboxEntry = serde_json::from_slice(&stored).expect("and reads back");
    assert_eq!(back, entry);
    assert_eq!(
        back.notification.content_hash(),
        entry.notification.content_hash()
    );
});

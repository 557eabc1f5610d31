//! Replays the query answers in `testdata/fuzz/query_answer/` (answers Prometheus 2.42 gave,
//! the seeds of the `query_answer_decode` fuzz target, and any input the fuzzer found that
//! once failed) through the decoder: a success answer decodes, an error answer becomes
//! Prometheus's error, nothing panics.

use tocsin_query::{decode_query_response, QueryError};

#[test]
fn every_stored_answer_decodes_as_its_status_says() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fuzz/query_answer"
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("testdata/fuzz/query_answer") {
        let path = entry.expect("entry").path();
        let body = std::fs::read(&path).expect("read");
        let doc: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
        let status = doc.as_ref().and_then(|d| d["status"].as_str());
        let name = path.display();
        match decode_query_response(200, &body) {
            Ok(result) => assert_eq!(status, Some("success"), "{name}: {result:?}"),
            Err(QueryError::Api { message, .. }) => {
                assert_eq!(status, Some("error"), "{name}");
                let error = doc.as_ref().and_then(|d| d["error"].as_str());
                assert_eq!(error, Some(message.as_str()), "{name}");
            }
            Err(e) => assert_ne!(status, Some("success"), "{name}: {e}"),
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} answers in {dir}");
}

//! Decode arbitrary bytes as a Prometheus `/api/v1/query(_range)` answer, as tocsin-query
//! does with every answer (after the size cap): it may refuse, never panic or hang, and an
//! error carries at most a bounded excerpt of the body. The first byte picks the HTTP
//! status (200, 400, 422, 500, 502, 503). Seeds: `testdata/fuzz/query_answer` (answers
//! Prometheus 2.42 gave). Run:
//! `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run query_answer_decode corpus/query_answer_decode ../testdata/fuzz/query_answer -- -max_total_time=600 -rss_limit_mb=2048`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tocsin_query::{decode_query_response, QueryError};

const STATUSES: [u16; 6] = [200, 400, 422, 500, 502, 503];

fuzz_target!(|data: &[u8]| {
    // Seeds are whole answers: a leading `{` keeps them 200s.
    let (status, body) = match data.split_first() {
        Some((b'{', _)) | None => (200, data),
        Some((b, rest)) => (STATUSES[usize::from(*b) % STATUSES.len()], rest),
    };
    match decode_query_response(status, body) {
        Ok(result) => {
            let _ = format!("{result:?}");
        }
        Err(QueryError::Http { body: excerpt, .. }) => {
            // The excerpt is at most 512 bytes of the body, lossy UTF-8 (up to 3 bytes per
            // replaced byte), and a `…` when cut.
            assert!(excerpt.len() <= 512 * 3 + 3, "{}", excerpt.len());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});

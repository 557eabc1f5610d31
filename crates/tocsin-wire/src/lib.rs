//! What every tocsin HTTP client shares about the answers of remote servers (Prometheus,
//! DingTalk robots, Alertmanager, webhooks): nothing a server sends is trusted to be small
//! or to be free of the secrets tocsin sent it.
//!
//! - [`read_capped`] reads an answer body counting bytes as they arrive and stops at a
//!   limit, so an endless or huge answer costs at most the limit in memory;
//!   [`read_prefix`] keeps only the start of one (for error snippets).
//! - [`redact`] is the workspace's one redaction function: it removes every encoding of
//!   every secret (raw, percent-encoded in either hex case, `+` for space, JSON escapes,
//!   base64 and base64url at any alignment) from text that came from a remote answer
//!   before that text goes into a log line or an error.
//! - [`percent_decode`] is its one percent-decoder (URL userinfo, query strings, paths).

mod body;
mod percent;
mod redact;

pub use body::{read_capped, read_prefix, BodyError};
pub use percent::percent_decode;
pub use redact::{redact, REDACTED};

//! The rule engine: group scheduling, rule evaluation and the alert state machine.
//!
//! It takes loaded rule groups from `tocsin-rules` and a datasource (the HTTP client in
//! `tocsin-query`, or an in-process source in tests and benchmarks), and keeps alert state
//! exactly as Prometheus's rule manager does. It knows nothing about DingTalk or the HTTP
//! server: alerts leave it as plain values for `tocsin-notify`.

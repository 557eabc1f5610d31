//! Prometheus HTTP API client for tocsin.
//!
//! This crate owns everything tocsin says to a Prometheus-compatible server: instant and
//! range queries, the rules/alerts/buildinfo endpoints, authentication, TLS, timeouts and
//! retries, and the decoding of results. It knows nothing about rule files or alerts; the
//! engine hands it PromQL strings and evaluation timestamps.

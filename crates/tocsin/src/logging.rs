//! Structured logs on stderr: logfmt by default (what Prometheus and Alertmanager print),
//! JSON with `--log.format=json`.
//!
//! A small `tracing` layer rather than `tracing-subscriber`'s formatter: its default format
//! is not logfmt, and its JSON needs extra crates. Every field is written as given, so no
//! caller may put a secret in a field; secrets are redacted types that print `***`.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// Installs the global logger; later calls are no-ops (tests may call it repeatedly).
pub fn init(format: LogFormat, level: LogLevel) {
    let max = match level {
        LogLevel::Debug => Level::DEBUG,
        LogLevel::Info => Level::INFO,
        LogLevel::Warn => Level::WARN,
        LogLevel::Error => Level::ERROR,
    };
    let layer =
        LineLayer { format }.with_filter(tracing_subscriber::filter::LevelFilter::from_level(max));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

struct LineLayer {
    format: LogFormat,
}

impl<S: Subscriber> Layer<S> for LineLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let level = meta.level().as_str().to_ascii_lowercase();
        let ts = rfc3339_millis(SystemTime::now());
        let line = match self.format {
            LogFormat::Logfmt => {
                let mut line = format!("ts={ts} level={level}");
                if let Some(msg) = &fields.message {
                    let _ = write!(line, " msg={}", logfmt_value(msg));
                }
                for (k, v) in &fields.pairs {
                    let _ = write!(line, " {k}={}", logfmt_value(v));
                }
                line
            }
            LogFormat::Json => {
                let mut map = serde_json::Map::new();
                map.insert("ts".into(), ts.into());
                map.insert("level".into(), level.into());
                if let Some(msg) = fields.message {
                    map.insert("msg".into(), msg.into());
                }
                for (k, v) in fields.pairs {
                    map.insert(k, v.into());
                }
                serde_json::Value::Object(map).to_string()
            }
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

#[derive(Default)]
struct Fields {
    message: Option<String>,
    pairs: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.pairs.push((field.name().to_string(), value));
        }
    }
}

/// A logfmt value: bare when it is a plain token, else quoted with `"` and `\` escaped.
fn logfmt_value(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && c != '"' && c != '=' && !c.is_control());
    if plain {
        v.to_string()
    } else {
        format!("{v:?}")
    }
}

/// `2026-11-25T06:55:00.123Z`.
fn rfc3339_millis(t: SystemTime) -> String {
    tocsin_core::Timestamp::from_system_time(t).rfc3339_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339_millis(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            rfc3339_millis(SystemTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn logfmt_quotes_only_what_needs_it() {
        assert_eq!(logfmt_value("ok"), "ok");
        assert_eq!(logfmt_value("two words"), "\"two words\"");
        assert_eq!(logfmt_value("a=b"), "\"a=b\"");
        assert_eq!(logfmt_value(""), "\"\"");
    }
}

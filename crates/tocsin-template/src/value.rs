//! Runtime values: the Go types Prometheus templates can see, with Go's
//! type names, truthiness and `fmt` printing.

use crate::gofmt::write_float_v;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::rc::Rc;

use crate::notification::{Kv, NotificationAlert, NotificationData};
use crate::zone::TimeZone;

/// A label set (`map[string]string`), kept sorted like Go's map printing.
pub type Labels = BTreeMap<String, String>;

/// One sample of a `query` result.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
}

/// The data an alert template sees as `.` (Prometheus's `AlertTemplateData`).
#[derive(Debug, Clone, Default)]
pub struct AlertTemplateData {
    pub labels: Labels,
    pub external_labels: Labels,
    pub external_url: String,
    pub value: f64,
}

pub(crate) const DATA_TYPE: &str = "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value float64 }";

#[derive(Debug, Clone)]
pub(crate) enum Value<'a> {
    /// Go's invalid `reflect.Value` (prints `<no value>`).
    Invalid,
    /// An untyped nil interface.
    Nil,
    Bool(bool),
    Int(i64),
    Uint8(u8),
    Float(f64),
    Complex(f64, f64),
    Str(Cow<'a, str>),
    Html(Cow<'a, str>),
    Labels(&'a Labels),
    SampleLabels(Rc<Vec<Sample>>, usize),
    Args(Rc<Vec<Value<'a>>>),
    Data(&'a AlertTemplateData),
    Vector(Rc<Vec<Sample>>),
    Sample(Rc<Vec<Sample>>, usize),
    /// `*time.Time`, as Unix nanoseconds (UTC).
    Time(i64),
    // Notification templates (Alertmanager's types, see crate::notification).
    /// `*template.Data`.
    Notif(&'a NotificationData),
    /// `template.Alerts` (with `Firing`/`Resolved` when the flag is set)
    /// or the `[]template.Alert` those return.
    Alerts(Rc<Vec<&'a NotificationAlert>>, bool),
    Alert(&'a NotificationAlert),
    Kv(Kv<'a>),
    /// `KV.SortedPairs()`.
    Pairs(Kv<'a>),
    /// The `i`th of a KV's sorted pairs.
    Pair(Kv<'a>, usize),
    /// `[]string`.
    Strings(Rc<Vec<Cow<'a, str>>>),
    /// `time.Time`: Unix seconds and nanoseconds (so Go's zero time fits)
    /// and its location.
    GoTime(i64, u32, TimeZone),
}

pub(crate) enum MapRef<'v, 'a> {
    Labels(&'v Labels),
    Args(&'v [Value<'a>]),
}

impl<'a> Value<'a> {
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Invalid | Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint8(_) => "uint8",
            Value::Float(_) => "float64",
            Value::Complex(..) => "complex128",
            Value::Str(_) => "string",
            Value::Html(_) => "template.HTML",
            Value::Labels(_) | Value::SampleLabels(..) => "map[string]string",
            Value::Args(_) => "map[string]interface {}",
            Value::Data(_) => DATA_TYPE,
            Value::Vector(_) => "template.queryResult",
            Value::Sample(..) => "*template.sample",
            Value::Time(_) => "*time.Time",
            Value::Notif(_) => "*template.Data",
            Value::Alerts(_, true) => "template.Alerts",
            Value::Alerts(_, false) => "[]template.Alert",
            Value::Alert(_) => "template.Alert",
            Value::Kv(_) => "template.KV",
            Value::Pairs(_) => "template.Pairs",
            Value::Pair(..) => "template.Pair",
            Value::Strings(_) => "[]string",
            Value::GoTime(..) => "time.Time",
        }
    }

    pub fn as_map(&self) -> Option<MapRef<'_, 'a>> {
        match self {
            Value::Labels(l) => Some(MapRef::Labels(l)),
            Value::SampleLabels(v, i) => Some(MapRef::Labels(&v[*i].labels)),
            Value::Args(a) => Some(MapRef::Args(a)),
            _ => None,
        }
    }

    /// Go's `isTrue`.
    pub fn truth(&self) -> bool {
        match self {
            Value::Invalid | Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Uint8(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Complex(r, i) => *r != 0.0 || *i != 0.0,
            Value::Str(s) | Value::Html(s) => !s.is_empty(),
            Value::Labels(l) => !l.is_empty(),
            Value::SampleLabels(v, i) => !v[*i].labels.is_empty(),
            Value::Args(a) => !a.is_empty(),
            Value::Vector(v) => !v.is_empty(),
            Value::Alerts(a, _) => !a.is_empty(),
            Value::Kv(kv) | Value::Pairs(kv) => !kv.get().is_empty(),
            Value::Strings(s) => !s.is_empty(),
            Value::Data(_)
            | Value::Sample(..)
            | Value::Time(_)
            | Value::Notif(_)
            | Value::Alert(_)
            | Value::Pair(..)
            | Value::GoTime(..) => true,
        }
    }

    /// Go's `fmt` `%v` printing. `top` is true for the outermost value of a
    /// `Print` argument (pointers to structs print as `&{...}` there).
    pub fn write_v(&self, out: &mut String, top: bool) {
        match self {
            Value::Invalid | Value::Nil => out.push_str("<nil>"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Uint8(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => write_float_v(out, *f),
            Value::Complex(r, i) => {
                out.push('(');
                write_float_v(out, *r);
                if *i >= 0.0 || i.is_nan() {
                    out.push('+');
                }
                write_float_v(out, *i);
                out.push_str("i)");
            }
            Value::Str(s) | Value::Html(s) => out.push_str(s),
            Value::Labels(l) => write_labels(out, l),
            Value::SampleLabels(v, i) => write_labels(out, &v[*i].labels),
            Value::Args(a) => {
                let mut keys: Vec<(String, &Value)> = a
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("arg{i}"), v))
                    .collect();
                keys.sort_by(|x, y| x.0.cmp(&y.0));
                out.push_str("map[");
                for (n, (k, v)) in keys.iter().enumerate() {
                    if n > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_v(out, false);
                }
                out.push(']');
            }
            Value::Data(d) => {
                out.push('{');
                write_labels(out, &d.labels);
                out.push(' ');
                write_labels(out, &d.external_labels);
                out.push(' ');
                out.push_str(&d.external_url);
                out.push(' ');
                write_float_v(out, d.value);
                out.push('}');
            }
            Value::Vector(v) => {
                out.push('[');
                for i in 0..v.len() {
                    if i > 0 {
                        out.push(' ');
                    }
                    // Go prints the element pointers' addresses here.
                    let _ = write!(out, "0xc{:09x}", 0x1000 + i * 0x30);
                }
                out.push(']');
            }
            Value::Sample(v, i) => {
                if top {
                    out.push('&');
                }
                out.push('{');
                write_labels(out, &v[*i].labels);
                out.push(' ');
                write_float_v(out, v[*i].value);
                out.push('}');
            }
            Value::Time(ns) => crate::funcs::time::write_time(out, *ns),
            Value::Notif(d) => crate::notification::write_data(out, d, top),
            Value::Alerts(a, _) => crate::notification::write_alerts(out, a),
            Value::Alert(a) => crate::notification::write_alert(out, a),
            Value::Kv(kv) => crate::notification::write_kv(out, kv, false),
            Value::Pairs(kv) => crate::notification::write_kv(out, kv, true),
            Value::Pair(kv, i) => {
                out.push('{');
                if let Some((k, v)) = crate::notification::pair(kv, *i) {
                    k.write_v(out, false);
                    out.push(' ');
                    v.write_v(out, false);
                }
                out.push('}');
            }
            Value::Strings(s) => {
                out.push('[');
                for (i, s) in s.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(s);
                }
                out.push(']');
            }
            Value::GoTime(secs, nanos, zone) => {
                crate::funcs::time::write_time_parts(out, *secs, *nanos, *zone)
            }
        }
    }
}

pub(crate) fn write_labels(out: &mut String, l: &Labels) {
    out.push_str("map[");
    for (n, (k, v)) in l.iter().enumerate() {
        if n > 0 {
            out.push(' ');
        }
        out.push_str(k);
        out.push(':');
        out.push_str(v);
    }
    out.push(']');
}

//! Notification templates: the data Alertmanager hands its notification
//! templates (`template.Data` of `alertmanager/template/template.go`, v0.25)
//! and the methods its types have (`Alerts.Firing`, `KV.SortedPairs`, …).
//!
//! Rule templates see one alert ([`crate::AlertTemplateData`]); these see
//! one group's notification: `.Receiver`, `.Status`, `.Alerts`,
//! `.GroupLabels`, `.CommonLabels`, `.CommonAnnotations`, `.ExternalURL`.

use crate::value::{Labels, Value};
use crate::zone::TimeZone;
use std::borrow::Cow;
use std::rc::Rc;

/// What a notification template sees as `.` (Alertmanager's `template.Data`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationData {
    pub receiver: String,
    /// `firing` when any alert fires, else `resolved`.
    pub status: String,
    pub alerts: Vec<NotificationAlert>,
    pub group_labels: Labels,
    pub common_labels: Labels,
    pub common_annotations: Labels,
    pub external_url: String,
}

/// One alert of a [`NotificationData`] (Alertmanager's `template.Alert`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NotificationAlert {
    /// `firing` or `resolved`.
    pub status: String,
    pub labels: Labels,
    pub annotations: Labels,
    /// Unix nanoseconds, UTC.
    pub starts_at: i64,
    /// Unix nanoseconds, UTC; None is Go's zero `time.Time`
    /// (`0001-01-01 00:00:00 +0000 UTC`), what a firing alert without an
    /// end carries.
    pub ends_at: Option<i64>,
    pub generator_url: String,
    /// 16 hex digits, as Alertmanager prints a fingerprint.
    pub fingerprint: String,
    /// The location of `StartsAt` and `EndsAt` (`global.time_zone`), as the `TZ` of the
    /// process sets it in Alertmanager. Go's zero time stays UTC.
    pub time_zone: TimeZone,
}

/// Go's zero `time.Time` as Unix seconds.
pub(crate) const ZERO_TIME_SECS: i64 = -62_135_596_800;

/// A `time.Time` value in `zone`: Unix seconds and nanoseconds (wide enough
/// for the zero time, which nanoseconds in an i64 are not).
pub(crate) fn time_value<'a>(ns: Option<i64>, zone: TimeZone) -> Value<'a> {
    match ns {
        Some(ns) => Value::GoTime(
            ns.div_euclid(1_000_000_000),
            ns.rem_euclid(1_000_000_000) as u32,
            zone,
        ),
        None => Value::GoTime(ZERO_TIME_SECS, 0, TimeZone::UTC),
    }
}

/// A label set as Alertmanager's `template.KV`: borrowed from the data, or
/// built by `.Remove`.
#[derive(Debug, Clone)]
pub(crate) enum Kv<'a> {
    Borrowed(&'a Labels),
    Owned(Rc<Labels>),
}

impl Kv<'_> {
    pub fn get(&self) -> &Labels {
        match self {
            Kv::Borrowed(l) => l,
            Kv::Owned(l) => l,
        }
    }

    pub fn sorted_names(&self) -> impl Iterator<Item = (&String, &String)> {
        sorted_pairs(self.get())
    }
}

/// `KV.SortedPairs` order: `alertname` first, then by name.
pub(crate) fn sorted_pairs(l: &Labels) -> impl Iterator<Item = (&String, &String)> {
    l.get_key_value("alertname")
        .into_iter()
        .chain(l.iter().filter(|(k, _)| k.as_str() != "alertname"))
}

/// How Go prints a KV (a map, by key; Alertmanager 0.25's KV has no
/// String method) and Pairs (a slice of `{Name Value}` structs).
pub(crate) fn write_kv(out: &mut String, kv: &Kv<'_>, pairs: bool) {
    if !pairs {
        crate::value::write_labels(out, kv.get());
        return;
    }
    out.push('[');
    for (i, (k, v)) in kv.sorted_names().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push('{');
        out.push_str(k);
        out.push(' ');
        out.push_str(v);
        out.push('}');
    }
    out.push(']');
}

/// Alertmanager's `regexp.QuoteMeta(receiver)` for `.Receiver`.
pub(crate) fn quote_meta(s: &str) -> Cow<'_, str> {
    const SPECIAL: &str = "\\.+*?()|[]{}^$";
    if !s.chars().any(|c| SPECIAL.contains(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if SPECIAL.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// `fmt` printing of an alert struct (`{Status Labels Annotations StartsAt
/// EndsAt GeneratorURL Fingerprint}`, the times by their String method).
pub(crate) fn write_alert(out: &mut String, a: &NotificationAlert) {
    out.push('{');
    out.push_str(&a.status);
    out.push(' ');
    write_kv(out, &Kv::Borrowed(&a.labels), false);
    out.push(' ');
    write_kv(out, &Kv::Borrowed(&a.annotations), false);
    out.push(' ');
    time_value(Some(a.starts_at), a.time_zone).write_v(out, false);
    out.push(' ');
    time_value(a.ends_at, a.time_zone).write_v(out, false);
    out.push(' ');
    out.push_str(&a.generator_url);
    out.push(' ');
    out.push_str(&a.fingerprint);
    out.push('}');
}

pub(crate) fn write_alerts(out: &mut String, alerts: &[&NotificationAlert]) {
    out.push('[');
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_alert(out, a);
    }
    out.push(']');
}

pub(crate) fn write_data(out: &mut String, d: &NotificationData, top: bool) {
    if top {
        out.push('&');
    }
    out.push('{');
    out.push_str(&quote_meta(&d.receiver));
    out.push(' ');
    out.push_str(&d.status);
    out.push(' ');
    let all: Vec<&NotificationAlert> = d.alerts.iter().collect();
    write_alerts(out, &all);
    for kv in [&d.group_labels, &d.common_labels, &d.common_annotations] {
        out.push(' ');
        write_kv(out, &Kv::Borrowed(kv), false);
    }
    out.push(' ');
    out.push_str(&d.external_url);
    out.push('}');
}

/// Fields and argument-less methods of the notification types; None when
/// `name` is not one (the caller goes on to map keys or Go's error).
pub(crate) fn field<'a>(recv: &Value<'a>, name: &str) -> Option<Value<'a>> {
    Some(match recv {
        Value::Notif(d) => match name {
            "Receiver" => Value::Str(quote_meta(&d.receiver)),
            "Status" => Value::Str(Cow::Borrowed(&d.status)),
            "Alerts" => Value::Alerts(Rc::new(d.alerts.iter().collect()), true),
            "GroupLabels" => Value::Kv(Kv::Borrowed(&d.group_labels)),
            "CommonLabels" => Value::Kv(Kv::Borrowed(&d.common_labels)),
            "CommonAnnotations" => Value::Kv(Kv::Borrowed(&d.common_annotations)),
            "ExternalURL" => Value::Str(Cow::Borrowed(&d.external_url)),
            _ => return None,
        },
        Value::Alert(a) => match name {
            "Status" => Value::Str(Cow::Borrowed(&a.status)),
            "Labels" => Value::Kv(Kv::Borrowed(&a.labels)),
            "Annotations" => Value::Kv(Kv::Borrowed(&a.annotations)),
            "StartsAt" => time_value(Some(a.starts_at), a.time_zone),
            "EndsAt" => time_value(a.ends_at, a.time_zone),
            "GeneratorURL" => Value::Str(Cow::Borrowed(&a.generator_url)),
            "Fingerprint" => Value::Str(Cow::Borrowed(&a.fingerprint)),
            _ => return None,
        },
        // Only `template.Alerts` has these; `Firing`'s `[]Alert` does not.
        Value::Alerts(all, true) => {
            let want = match name {
                "Firing" => "firing",
                "Resolved" => "resolved",
                _ => return None,
            };
            let subset = all.iter().copied().filter(|a| a.status == want).collect();
            Value::Alerts(Rc::new(subset), false)
        }
        Value::Kv(kv) => match name {
            "SortedPairs" => Value::Pairs(kv.clone()),
            "Names" => strings(kv, |k, _| k),
            "Values" => strings(kv, |_, v| v),
            _ => return None,
        },
        Value::Pairs(kv) => match name {
            "Names" => strings(kv, |k, _| k),
            "Values" => strings(kv, |_, v| v),
            _ => return None,
        },
        Value::Pair(kv, i) => {
            let (k, v) = pair(kv, *i)?;
            match name {
                "Name" => k,
                "Value" => v,
                _ => return None,
            }
        }
        _ => return None,
    })
}

fn strings<'a>(kv: &Kv<'a>, pick: for<'s> fn(&'s String, &'s String) -> &'s String) -> Value<'a> {
    let v: Vec<Cow<'a, str>> = match kv {
        Kv::Borrowed(l) => sorted_pairs(l)
            .map(|(k, v)| Cow::Borrowed(pick(k, v).as_str()))
            .collect(),
        Kv::Owned(l) => sorted_pairs(l)
            .map(|(k, v)| Cow::Owned(pick(k, v).clone()))
            .collect(),
    };
    Value::Strings(Rc::new(v))
}

/// The `i`th of `kv`'s sorted pairs, as name and value.
pub(crate) fn pair<'a>(kv: &Kv<'a>, i: usize) -> Option<(Value<'a>, Value<'a>)> {
    Some(match kv {
        Kv::Borrowed(l) => {
            let (k, v) = sorted_pairs(l).nth(i)?;
            (Value::Str(Cow::Borrowed(k)), Value::Str(Cow::Borrowed(v)))
        }
        Kv::Owned(l) => {
            let (k, v) = sorted_pairs(l).nth(i)?;
            (
                Value::Str(Cow::Owned(k.clone())),
                Value::Str(Cow::Owned(v.clone())),
            )
        }
    })
}

/// `KV.Remove(keys)`.
pub(crate) fn remove<'a>(kv: &Kv<'a>, keys: &[Cow<'a, str>]) -> Value<'a> {
    let mut out = kv.get().clone();
    for k in keys {
        out.remove(k.as_ref());
    }
    Value::Kv(Kv::Owned(Rc::new(out)))
}

/// The elements `range` visits: index/key and element.
pub(crate) fn range_items<'a>(v: &Value<'a>) -> Option<Vec<(Value<'a>, Value<'a>)>> {
    Some(match v {
        Value::Alerts(a, _) => a
            .iter()
            .enumerate()
            .map(|(i, a)| (Value::Int(i as i64), Value::Alert(a)))
            .collect(),
        // Go ranges over a map in key order (not SortedPairs order).
        Value::Kv(Kv::Borrowed(l)) => l
            .iter()
            .map(|(k, v)| (Value::Str(Cow::Borrowed(k)), Value::Str(Cow::Borrowed(v))))
            .collect(),
        Value::Kv(Kv::Owned(l)) => l
            .iter()
            .map(|(k, v)| {
                (
                    Value::Str(Cow::Owned(k.clone())),
                    Value::Str(Cow::Owned(v.clone())),
                )
            })
            .collect(),
        Value::Pairs(kv) => (0..kv.get().len())
            .map(|i| (Value::Int(i as i64), Value::Pair(kv.clone(), i)))
            .collect(),
        Value::Strings(s) => s
            .iter()
            .enumerate()
            .map(|(i, s)| (Value::Int(i as i64), Value::Str(s.clone())))
            .collect(),
        _ => return None,
    })
}

//! Go's builtin template functions (`text/template/funcs.go`): comparison,
//! `len`, `index`, `slice` and the escapers.

use super::{msg, FR};
use crate::value::Value;
use std::borrow::Cow;
use std::fmt::Write;

#[derive(PartialEq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Uint,
    Float,
    Complex,
    Str,
    Other,
}

fn basic_kind(v: &Value) -> Kind {
    match v {
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Uint8(_) => Kind::Uint,
        Value::Float(_) => Kind::Float,
        Value::Complex(..) => Kind::Complex,
        Value::Str(_) | Value::Html(_) => Kind::Str,
        _ => Kind::Other,
    }
}

fn as_i(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Uint8(u) => *u as i64,
        _ => 0,
    }
}

fn as_s<'v>(v: &'v Value) -> &'v str {
    match v {
        Value::Str(s) | Value::Html(s) => s,
        _ => "",
    }
}

/// Go's `eq`: true if `a` equals any of `rest`.
pub(crate) fn eq(a: &Value, rest: &[Value]) -> FR<bool> {
    if rest.is_empty() {
        return msg("missing argument for comparison");
    }
    let k1 = basic_kind(a);
    for b in rest {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int) => as_i(a) == as_i(b),
                _ => {
                    let nil_a = matches!(a, Value::Nil | Value::Invalid);
                    let nil_b = matches!(b, Value::Nil | Value::Invalid);
                    if !nil_a && !nil_b {
                        return msg("incompatible types for comparison");
                    }
                    false
                }
            }
        } else {
            match k1 {
                Kind::Bool => a.truth() == b.truth(),
                Kind::Int | Kind::Uint => as_i(a) == as_i(b),
                Kind::Float => matches!((a, b), (Value::Float(x), Value::Float(y)) if x == y),
                Kind::Complex => {
                    matches!((a, b), (Value::Complex(r1, i1), Value::Complex(r2, i2)) if r1 == r2 && i1 == i2)
                }
                Kind::Str => as_s(a) == as_s(b),
                Kind::Other => other_eq(a, b)?,
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn other_eq(a: &Value, b: &Value) -> FR<bool> {
    let nil_a = matches!(a, Value::Nil | Value::Invalid);
    let nil_b = matches!(b, Value::Nil | Value::Invalid);
    if nil_a || nil_b {
        return Ok(nil_a == nil_b);
    }
    if a.type_name() != b.type_name() {
        return msg(format!(
            "non-comparable types {}: {}, {}: {}",
            short(a),
            a.type_name(),
            b.type_name(),
            short(b)
        ));
    }
    match (a, b) {
        (Value::Sample(v1, i1), Value::Sample(v2, i2)) => {
            Ok(std::rc::Rc::ptr_eq(v1, v2) && i1 == i2)
        }
        (Value::Time(x), Value::Time(y)) => Ok(x == y),
        _ => msg(format!(
            "non-comparable type {}: {}",
            short(a),
            a.type_name()
        )),
    }
}

fn short(v: &Value) -> String {
    let mut s = String::new();
    v.write_v(&mut s, true);
    s
}

/// Go's `lt`.
pub(crate) fn lt(a: &Value, b: &Value) -> FR<bool> {
    let k1 = basic_kind(a);
    let k2 = basic_kind(b);
    if k1 == Kind::Other || k2 == Kind::Other {
        return msg("invalid type for comparison");
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Kind::Int, Kind::Uint) | (Kind::Uint, Kind::Int) => Ok(as_i(a) < as_i(b)),
            _ => msg("incompatible types for comparison"),
        };
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => Ok(x < y),
        _ => match k1 {
            Kind::Bool | Kind::Complex => msg("invalid type for comparison"),
            Kind::Str => Ok(as_s(a) < as_s(b)),
            _ => Ok(as_i(a) < as_i(b)),
        },
    }
}

/// Go's `len`.
pub(crate) fn len<'a>(v: &Value<'a>) -> FR<Value<'a>> {
    let n = match v {
        Value::Str(s) | Value::Html(s) => s.len(),
        Value::Labels(l) => l.len(),
        Value::SampleLabels(v, i) => v[*i].labels.len(),
        Value::Args(a) => a.len(),
        Value::Vector(v) => v.len(),
        Value::Alerts(a, _) => a.len(),
        Value::Kv(kv) | Value::Pairs(kv) => kv.get().len(),
        Value::Strings(s) => s.len(),
        Value::Nil | Value::Invalid => return msg("len of nil pointer"),
        other => return msg(format!("len of type {}", other.type_name())),
    };
    Ok(Value::Int(n as i64))
}

fn index_arg(v: &Value, cap: usize) -> FR<usize> {
    let x = match v {
        Value::Int(i) => *i,
        Value::Uint8(u) => *u as i64,
        Value::Nil | Value::Invalid => return msg("cannot index slice/array with nil"),
        other => {
            return msg(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ))
        }
    };
    if x < 0 || x as usize >= cap {
        return msg(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

/// A map index's key, which Go requires to be a string.
fn map_key<'v>(ix: &'v Value) -> FR<&'v str> {
    match ix {
        Value::Str(k) => Ok(k.as_ref()),
        Value::Nil | Value::Invalid => msg("value is nil; should be of type string"),
        other => msg(format!(
            "value has type {}; should be string",
            other.type_name()
        )),
    }
}

/// Go's `index`.
pub(crate) fn index<'a>(a: &[Value<'a>]) -> FR<Value<'a>> {
    let mut item = a[0].clone();
    if matches!(item, Value::Nil | Value::Invalid) {
        return msg("index of untyped nil");
    }
    for ix in &a[1..] {
        item = match &item {
            Value::Str(s) | Value::Html(s) => Value::Uint8(s.as_bytes()[index_arg(ix, s.len())?]),
            Value::Vector(v) => Value::Sample(v.clone(), index_arg(ix, v.len())?),
            Value::Alerts(a, _) => Value::Alert(a[index_arg(ix, a.len())?]),
            Value::Strings(v) => Value::Str(v[index_arg(ix, v.len())?].clone()),
            Value::Pairs(kv) => Value::Pair(kv.clone(), index_arg(ix, kv.get().len())?),
            Value::Kv(kv) => {
                let key = map_key(ix)?;
                Value::Str(Cow::Owned(kv.get().get(key).cloned().unwrap_or_default()))
            }
            Value::Labels(_) | Value::SampleLabels(..) | Value::Args(_) => {
                let key = map_key(ix)?;
                match item.as_map() {
                    Some(crate::value::MapRef::Labels(l)) => {
                        Value::Str(Cow::Owned(l.get(key).cloned().unwrap_or_default()))
                    }
                    Some(crate::value::MapRef::Args(args)) => key
                        .strip_prefix("arg")
                        .and_then(|n| {
                            n.parse::<usize>()
                                .ok()
                                .filter(|_| n == "0" || !n.starts_with('0'))
                        })
                        .and_then(|i| args.get(i).cloned())
                        .unwrap_or(Value::Nil),
                    None => Value::Invalid,
                }
            }
            other => return msg(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

/// Go's `slice`.
pub(crate) fn slice<'a>(a: &[Value<'a>]) -> FR<Value<'a>> {
    let item = &a[0];
    if matches!(item, Value::Nil | Value::Invalid) {
        return msg("slice of untyped nil");
    }
    if a.len() > 4 {
        return msg(format!("too many slice indexes: {}", a.len() - 1));
    }
    let len = match item {
        Value::Str(s) | Value::Html(s) => {
            if a.len() == 4 {
                return msg("cannot 3-index slice a string");
            }
            s.len()
        }
        Value::Vector(v) => v.len(),
        other => return msg(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0usize, len, len];
    for (i, v) in a[1..].iter().enumerate() {
        idx[i] = index_arg(v, len + 1)?;
    }
    if idx[0] > idx[1] {
        return msg(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if a.len() == 4 && idx[1] > idx[2] {
        return msg(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::Str(s) => match s.get(idx[0]..idx[1]) {
            Some(t) => Value::Str(Cow::Owned(t.to_string())),
            None => Value::Str(Cow::Owned(
                String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned(),
            )),
        },
        Value::Html(s) => Value::Html(Cow::Owned(s.get(idx[0]..idx[1]).unwrap_or("").to_string())),
        Value::Vector(v) => Value::Vector(std::rc::Rc::new(v[idx[0]..idx[1]].to_vec())),
        _ => Value::Invalid,
    })
}

/// Go's `evalArgs` for the escapers: a lone string as is, else `Sprint`.
pub(crate) fn eval_args(a: &[Value]) -> String {
    if let [Value::Str(s)] = a {
        return s.to_string();
    }
    let mut out = String::new();
    crate::gofmt::sprint(&mut out, a);
    out
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c if c.is_ascii() || crate::gofmt::is_print(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out
}

//! The function table: Go's builtins plus Prometheus's template functions.
//! Identifiers are resolved to a [`Func`] at parse time.

/// Declares [`Func`] with each variant's template name, so parsing maps a
/// name to a variant and errors map it back without storing the name.
macro_rules! funcs {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every function a template may call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Func {
            $($(#[$doc])* $variant,)*
        }

        impl Func {
            // A name listed twice (Alertmanager's `title`) resolves to its
            // first variant here; `lookup_in` picks the other.
            #[allow(unreachable_patterns)]
            pub(crate) fn lookup(name: &str) -> Option<Func> {
                Some(match name {
                    $($name => Func::$variant,)*
                    _ => return None,
                })
            }

            /// The name templates call the function by.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Func::$variant => $name,)*
                }
            }
        }
    };
}

funcs! {
    // Go builtins
    And = "and",
    Call = "call",
    Html = "html",
    Index = "index",
    Slice = "slice",
    Js = "js",
    Len = "len",
    Not = "not",
    Or = "or",
    Print = "print",
    Printf = "printf",
    Println = "println",
    Urlquery = "urlquery",
    Eq = "eq",
    Ge = "ge",
    Gt = "gt",
    Le = "le",
    Lt = "lt",
    Ne = "ne",
    // Prometheus (template/template.go, v2.42)
    Query = "query",
    First = "first",
    Label = "label",
    SampleValue = "value",
    StrValue = "strvalue",
    Args = "args",
    ReReplaceAll = "reReplaceAll",
    SafeHtml = "safeHtml",
    Match = "match",
    Title = "title",
    ToUpper = "toUpper",
    ToLower = "toLower",
    GraphLink = "graphLink",
    TableLink = "tableLink",
    SortByLabel = "sortByLabel",
    Humanize = "humanize",
    Humanize1024 = "humanize1024",
    HumanizeDuration = "humanizeDuration",
    HumanizePercentage = "humanizePercentage",
    HumanizeTimestamp = "humanizeTimestamp",
    ToTime = "toTime",
    PathPrefix = "pathPrefix",
    ExternalUrl = "externalURL",
    ParseDuration = "parseDuration",
    StripPort = "stripPort",
    StripDomain = "stripDomain",
    // Alertmanager only (template/template.go DefaultFuncs)
    Join = "join",
    StringSlice = "stringSlice",
    /// Alertmanager's `title` (`cases.Title`), not Prometheus's `strings.Title`.
    AmTitle = "title",
    // Alertmanager 0.28 on: `{{ .StartsAt | tz "Asia/Shanghai" | date "15:04:05 MST" }}`
    Date = "date",
    Tz = "tz",
}

/// Which functions a template may call: Prometheus's for rule templates,
/// Alertmanager's for notification templates (Go's builtins in both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FuncSet {
    Prometheus,
    Alertmanager,
}

impl Func {
    /// `name` if `set` has it.
    pub(crate) fn lookup_in(name: &str, set: FuncSet) -> Option<Func> {
        use Func::*;
        let f = Func::lookup(name)?;
        let builtin = matches!(
            f,
            And | Call
                | Html
                | Index
                | Slice
                | Js
                | Len
                | Not
                | Or
                | Print
                | Printf
                | Println
                | Urlquery
                | Eq
                | Ge
                | Gt
                | Le
                | Lt
                | Ne
        );
        if set == FuncSet::Alertmanager && f == Title {
            return Some(AmTitle);
        }
        let alertmanager = matches!(
            f,
            ToUpper | ToLower | Join | Match | SafeHtml | ReReplaceAll | StringSlice | Date | Tz
        );
        let prometheus = !matches!(f, Join | StringSlice | AmTitle | Date | Tz);
        let ok = builtin
            || match set {
                FuncSet::Prometheus => prometheus,
                FuncSet::Alertmanager => alertmanager,
            };
        ok.then_some(f)
    }
}

mod alertmanager;
mod builtin;
mod prometheus;
pub(crate) mod time;

use crate::ast::Arg;
use crate::exec::{At, State, R};
use crate::value::Value;
use std::borrow::Cow;

/// Parameter types that change how arguments are evaluated and checked.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum P {
    /// `interface{}` or `reflect.Value`.
    Any,
    Str,
    Sample,
    Vector,
    /// `[]string`.
    Strings,
    /// `time.Time`.
    Time,
}

/// (fixed parameters, variadic element type).
fn signature(f: Func) -> (&'static [P], Option<P>) {
    use Func::*;
    use P::*;
    match f {
        And | Or | Index | Slice | Eq | Call => (&[Any], Some(Any)),
        Not | Len => (&[Any], None),
        Print | Println | Html | Js | Urlquery | Args => (&[], Some(Any)),
        Printf => (&[Str], Some(Any)),
        Ge | Gt | Le | Lt | Ne => (&[Any, Any], None),
        Query | SafeHtml | Title | ToUpper | ToLower | GraphLink | TableLink | ParseDuration
        | StripPort | StripDomain | AmTitle => (&[Str], None),
        Join => (&[Str, Strings], None),
        Date | Tz => (&[Str, Time], None),
        StringSlice => (&[], Some(Str)),
        First => (&[Vector], None),
        Label => (&[Str, Sample], None),
        SampleValue | StrValue => (&[Sample], None),
        ReReplaceAll => (&[Str, Str, Str], None),
        Match => (&[Str, Str], None),
        SortByLabel => (&[Str, Vector], None),
        Humanize | Humanize1024 | HumanizeDuration | HumanizePercentage | HumanizeTimestamp
        | ToTime => (&[Any], None),
        PathPrefix | ExternalUrl => (&[], None),
    }
}

fn type_name(p: P) -> &'static str {
    match p {
        P::Any => "interface {}",
        P::Str => "string",
        P::Sample => "*template.sample",
        P::Vector => "template.queryResult",
        P::Strings => "[]string",
        P::Time => "time.Time",
    }
}

/// Go's `evalCall` for a template function.
pub(crate) fn call<'t, 'a>(
    s: &mut State<'t, 'a>,
    dot: &Value<'a>,
    func: Func,
    node: At<'t>,
    args: &'t [Arg],
    final_: Option<Value<'a>>,
) -> R<Value<'a>>
where
    't: 'a,
{
    Ok(call_inner(s, dot, func, node, args, final_, None)?.unwrap_or(Value::Invalid))
}

/// [`call`] for a command whose result is printed: functions that produce
/// text (`printf`, `humanize`) append it to `out` and return None instead
/// of building a String value to be copied there.
pub(crate) fn call_print<'t, 'a>(
    s: &mut State<'t, 'a>,
    dot: &Value<'a>,
    func: Func,
    node: At<'t>,
    args: &'t [Arg],
    final_: Option<Value<'a>>,
    out: &mut String,
) -> R<Option<Value<'a>>>
where
    't: 'a,
{
    call_inner(s, dot, func, node, args, final_, Some(out))
}

fn call_inner<'t, 'a>(
    s: &mut State<'t, 'a>,
    dot: &Value<'a>,
    func: Func,
    node: At<'t>,
    args: &'t [Arg],
    final_: Option<Value<'a>>,
    sink: Option<&mut String>,
) -> R<Option<Value<'a>>>
where
    't: 'a,
{
    let name = func.name();
    let (fixed, variadic) = signature(func);
    let num_in = args.len() + usize::from(final_.is_some());
    if variadic.is_some() {
        if num_in < fixed.len() {
            return s.errorf(format!(
                "wrong number of args for {name}: want at least {} got {}",
                fixed.len(),
                args.len()
            ));
        }
    } else if num_in != fixed.len() {
        return s.errorf(format!(
            "wrong number of args for {name}: want {} got {num_in}",
            fixed.len()
        ));
    }
    if matches!(func, Func::And | Func::Or) {
        let want = func == Func::Or;
        let mut v = Value::Invalid;
        for a in args {
            v = s.eval_arg_any(dot, a)?;
            if v.truth() == want {
                return Ok(Some(v));
            }
        }
        if let Some(f) = final_ {
            v = f;
        }
        return Ok(Some(v));
    }
    // Nearly every call has at most 4 arguments: keep them on the stack.
    let mut inline = [const { Value::Invalid }; 4];
    let mut heap = Vec::new();
    let argv: &mut [Value<'a>] = if num_in <= inline.len() {
        &mut inline[..num_in]
    } else {
        heap.resize(num_in, Value::Invalid);
        &mut heap
    };
    for (i, a) in args.iter().enumerate() {
        let p = fixed.get(i).copied().or(variadic).unwrap_or(P::Any);
        argv[i] = eval_param(s, dot, a, p)?;
    }
    if let Some(f) = final_ {
        let p = if num_in - 1 < fixed.len() {
            fixed[num_in - 1]
        } else {
            variadic.unwrap_or(P::Any)
        };
        argv[num_in - 1] = validate(s, f, p)?;
    }
    let (r, printed) = match sink {
        Some(out) => {
            let before = out.len();
            let r = print_direct(func, argv, out);
            let printed = out.len() - before;
            match r {
                Some(r) => (r.map(|()| None), printed),
                None => (dispatch(s, func, argv).map(Some), 0),
            }
        }
        None => (dispatch(s, func, argv).map(Some), 0),
    };
    match r {
        Ok(v) => {
            match &v {
                // Printed text is bounded by the output check that follows.
                None => s.charge_bytes(printed, false, node)?,
                Some(Value::Str(Cow::Owned(t)) | Value::Html(Cow::Owned(t))) => {
                    s.charge_bytes(t.len(), true, node)?
                }
                Some(_) => {}
            }
            Ok(v)
        }
        Err(Err::Msg(m)) => {
            s.set_at(node);
            s.errorf(format!("error calling {name}: {m}"))
        }
    }
}

/// Whether [`call_print`] writes `func`'s result itself.
pub(crate) fn prints_directly(func: Func) -> bool {
    matches!(func, Func::Printf | Func::Humanize)
}

/// Append the result of a text-producing function to `out`; None for
/// other functions. Nothing is written when it fails.
fn print_direct(func: Func, a: &mut [Value], out: &mut String) -> Option<FR<()>> {
    match func {
        Func::Printf => {
            let f = take_str(&mut a[0]);
            crate::gofmt::sprintf(out, &f, &a[1..]);
            Some(Ok(()))
        }
        Func::Humanize => {
            Some(prometheus::to_float(&a[0]).map(|v| prometheus::humanize_into(out, v)))
        }
        _ => None,
    }
}

fn eval_param<'t, 'a>(s: &mut State<'t, 'a>, dot: &Value<'a>, a: &'t Arg, p: P) -> R<Value<'a>>
where
    't: 'a,
{
    match p {
        P::Any => Ok(match s.eval_arg_any(dot, a)? {
            Value::Invalid => Value::Nil,
            v => v,
        }),
        P::Str => Ok(Value::Str(s.eval_arg_string(dot, a)?)),
        P::Sample | P::Vector | P::Strings | P::Time => {
            let v = s.eval_arg_typed(dot, a, type_name(p))?;
            validate(s, v, p)
        }
    }
}

fn validate<'a>(s: &State<'_, 'a>, v: Value<'a>, p: P) -> R<Value<'a>> {
    let ok = match (&v, p) {
        (Value::Invalid, P::Any) => return Ok(Value::Nil),
        (_, P::Any) => true,
        (Value::Str(_), P::Str) => true,
        (Value::Sample(..) | Value::Nil, P::Sample) => true,
        (Value::Vector(_) | Value::Nil, P::Vector) => true,
        (Value::Strings(_) | Value::Nil, P::Strings) => true,
        (Value::GoTime(..), P::Time) => true,
        (Value::Invalid, P::Sample | P::Vector | P::Strings) => return Ok(Value::Nil),
        (Value::Invalid, _) => {
            return s.errorf(format!("invalid value; expected {}", type_name(p)));
        }
        _ => false,
    };
    if ok {
        Ok(v)
    } else {
        s.errorf(format!(
            "wrong type for value; expected {}; got {}",
            type_name(p),
            v.type_name()
        ))
    }
}

/// A function's failure: an error it returns (wrapped as
/// `error calling NAME: ...`).
pub(crate) enum Err {
    Msg(String),
}

pub(crate) type FR<T> = Result<T, Err>;

pub(crate) fn msg<T>(m: impl Into<String>) -> FR<T> {
    Err(Err::Msg(m.into()))
}

fn take_str<'a>(v: &mut Value<'a>) -> Cow<'a, str> {
    match std::mem::replace(v, Value::Invalid) {
        Value::Str(s) => s,
        _ => Cow::Borrowed(""),
    }
}

const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

fn dispatch<'t, 'a>(s: &mut State<'t, 'a>, func: Func, a: &mut [Value<'a>]) -> FR<Value<'a>>
where
    't: 'a,
{
    use Func::*;
    Ok(match func {
        And | Or => Value::Invalid,
        Not => Value::Bool(!a[0].truth()),
        Len => builtin::len(&a[0])?,
        Index => builtin::index(a)?,
        Slice => builtin::slice(a)?,
        Print | Println | Printf => {
            let mut out = String::new();
            match func {
                Print => crate::gofmt::sprint(&mut out, a),
                Println => crate::gofmt::sprintln(&mut out, a),
                _ => {
                    let f = take_str(&mut a[0]);
                    crate::gofmt::sprintf(&mut out, &f, &a[1..]);
                }
            }
            Value::Str(Cow::Owned(out))
        }
        Html | Js | Urlquery => {
            let text = builtin::eval_args(a);
            Value::Str(Cow::Owned(match func {
                Html => builtin::html_escape(&text),
                Js => builtin::js_escape(&text),
                _ => prometheus::query_escape(&text),
            }))
        }
        Eq => Value::Bool(builtin::eq(&a[0], &a[1..])?),
        Ne => Value::Bool(!builtin::eq(&a[0], &a[1..2])?),
        Lt => Value::Bool(builtin::lt(&a[0], &a[1])?),
        Le => Value::Bool(builtin::lt(&a[0], &a[1])? || builtin::eq(&a[0], &a[1..2])?),
        Gt => Value::Bool(!(builtin::lt(&a[0], &a[1])? || builtin::eq(&a[0], &a[1..2])?)),
        Ge => Value::Bool(!builtin::lt(&a[0], &a[1])?),
        Call => return msg(format!("non-function of type {}", a[0].type_name())),
        Query => {
            let q = take_str(&mut a[0]);
            match crate::stack::callout(|| s.ctx.query(&q)) {
                Ok(v) => Value::Vector(std::rc::Rc::new(v)),
                Err(e) => return msg(e),
            }
        }
        First => match &a[0] {
            Value::Vector(v) if !v.is_empty() => Value::Sample(v.clone(), 0),
            Value::Vector(_) | Value::Nil => {
                return msg("first() called on vector with no elements")
            }
            _ => return msg(NIL_DEREF),
        },
        Label => {
            let l = take_str(&mut a[0]);
            match &a[1] {
                Value::Sample(v, i) => Value::Str(Cow::Owned(
                    v[*i].labels.get(l.as_ref()).cloned().unwrap_or_default(),
                )),
                _ => return msg(NIL_DEREF),
            }
        }
        SampleValue => match &a[0] {
            Value::Sample(v, i) => Value::Float(v[*i].value),
            _ => return msg(NIL_DEREF),
        },
        StrValue => match &a[0] {
            Value::Sample(v, i) => Value::Str(Cow::Owned(
                v[*i].labels.get("__value__").cloned().unwrap_or_default(),
            )),
            _ => return msg(NIL_DEREF),
        },
        Args => Value::Args(std::rc::Rc::new(a.to_vec())),
        SortByLabel => {
            let l = take_str(&mut a[0]);
            match &a[1] {
                Value::Vector(v) => {
                    let mut v: Vec<_> = v.as_ref().clone();
                    v.sort_by(|x, y| {
                        x.labels
                            .get(l.as_ref())
                            .map_or("", |s| s.as_str())
                            .cmp(y.labels.get(l.as_ref()).map_or("", |s| s.as_str()))
                    });
                    Value::Vector(std::rc::Rc::new(v))
                }
                _ => Value::Nil,
            }
        }
        ReReplaceAll => {
            let pat = take_str(&mut a[0]);
            let repl = take_str(&mut a[1]);
            let text = take_str(&mut a[2]);
            Value::Str(Cow::Owned(prometheus::re_replace_all(&pat, &repl, &text)?))
        }
        Match => {
            let pat = take_str(&mut a[0]);
            let text = take_str(&mut a[1]);
            Value::Bool(prometheus::re_match(&pat, &text)?)
        }
        SafeHtml => Value::Html(take_str(&mut a[0])),
        Title => Value::Str(Cow::Owned(prometheus::title(&take_str(&mut a[0])))),
        ToUpper => Value::Str(Cow::Owned(prometheus::to_upper(&take_str(&mut a[0])))),
        ToLower => Value::Str(Cow::Owned(prometheus::to_lower(&take_str(&mut a[0])))),
        GraphLink => Value::Str(Cow::Owned(format!(
            "/graph?g0.expr={}&g0.tab=0",
            prometheus::query_escape(&take_str(&mut a[0]))
        ))),
        TableLink => Value::Str(Cow::Owned(format!(
            "/graph?g0.expr={}&g0.tab=1",
            prometheus::query_escape(&take_str(&mut a[0]))
        ))),
        StripPort => Value::Str(Cow::Owned(prometheus::strip_port(&take_str(&mut a[0])))),
        StripDomain => Value::Str(Cow::Owned(prometheus::strip_domain(&take_str(&mut a[0])))),
        Humanize => Value::Str(Cow::Owned(prometheus::humanize(prometheus::to_float(
            &a[0],
        )?))),
        Humanize1024 => Value::Str(Cow::Owned(prometheus::humanize1024(prometheus::to_float(
            &a[0],
        )?))),
        HumanizeDuration => Value::Str(Cow::Owned(prometheus::humanize_duration(
            prometheus::to_float(&a[0])?,
        ))),
        HumanizePercentage => {
            let v = prometheus::to_float(&a[0])?;
            Value::Str(Cow::Owned(crate::gofmt::g4(v * 100.0) + "%"))
        }
        HumanizeTimestamp => {
            let v = prometheus::to_float(&a[0])?;
            if v.is_nan() || v.is_infinite() {
                Value::Str(Cow::Owned(crate::gofmt::g4(v)))
            } else {
                let ns = time::float_to_time(v)?;
                let mut out = String::new();
                time::write_time(&mut out, ns);
                Value::Str(Cow::Owned(out))
            }
        }
        ToTime => {
            let v = prometheus::to_float(&a[0])?;
            if v.is_nan() || v.is_infinite() {
                return msg("value is NaN or Inf");
            }
            Value::Time(time::float_to_time(v)?)
        }
        PathPrefix if !s.ctx.has_external_url() => {
            return msg("runtime error: invalid memory address or nil pointer dereference")
        }
        PathPrefix => Value::Str(Cow::Owned(prometheus::path_prefix(&s.data.external_url))),
        ExternalUrl => Value::Str(Cow::Owned(s.data.external_url.clone())),
        ParseDuration => Value::Float(prometheus::parse_duration(&take_str(&mut a[0]))?),
        // join takes the separator first, for pipelines: `.Names | join ", "`.
        Join => {
            let sep = take_str(&mut a[0]);
            match &a[1] {
                Value::Strings(v) => Value::Str(Cow::Owned(v.join(sep.as_ref()))),
                _ => Value::Str(Cow::Borrowed("")),
            }
        }
        StringSlice => Value::Strings(std::rc::Rc::new(a.iter_mut().map(take_str).collect())),
        AmTitle => Value::Str(Cow::Owned(alertmanager::title(&take_str(&mut a[0])))),
        Date => {
            let layout = take_str(&mut a[0]);
            let Value::GoTime(secs, nanos, zone) = a[1] else {
                return msg(NIL_DEREF);
            };
            let mut out = String::new();
            time::format(&mut out, secs, nanos, zone, &layout);
            Value::Str(Cow::Owned(out))
        }
        Tz => {
            let name = take_str(&mut a[0]);
            let Value::GoTime(secs, nanos, _) = a[1] else {
                return msg(NIL_DEREF);
            };
            match crate::zone::TimeZone::named(&name) {
                Ok(zone) => Value::GoTime(secs, nanos, zone),
                Err(e) => return msg(e.to_string()),
            }
        }
    })
}

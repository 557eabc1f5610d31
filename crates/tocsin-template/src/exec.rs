//! Template execution with Go `text/template` semantics (Go 1.19 `exec.go`):
//! variable scoping, pipelines with a final argument, `and`/`or`
//! short-circuit, range over slices and sorted maps, `missingkey=zero`,
//! and Go's execution error text including `line:col` and node context.
//! Nested lists and parenthesised pipelines recurse on stack that grows as
//! needed ([`crate::stack`]).
//!
//! Bounds (tocsin's, not Go's): output is capped at [`MAX_OUTPUT`] bytes,
//! and so is any one string a function returns; execution at [`MAX_STEPS`]
//! node evaluations (plus one per 64 bytes of text functions produce) and
//! template calls at [`MAX_CALL_DEPTH`] levels; exceeding one is an
//! execution error.

use crate::ast::{Arg, Branch, Command, List, Node, Pipe};
use crate::funcs::{self, Func};
use crate::notification::{self, Kv, NotificationData};
use crate::value::{AlertTemplateData, MapRef, Sample, Value};
use crate::vars::Vars;
use crate::Template;
use std::borrow::Cow;

/// Maximum rendered output, in bytes.
pub const MAX_OUTPUT: usize = 1 << 20;
/// Maximum number of nodes and commands evaluated in one render.
pub const MAX_STEPS: usize = 1_000_000;
/// Bytes of function-produced text that count as one step: about what
/// producing them costs next to an ordinary node evaluation.
const BYTES_PER_STEP: usize = 64;
/// Maximum nesting of `{{template}}` calls: Go's `maxExecDepth`, with its
/// error text.
pub const MAX_CALL_DEPTH: usize = 100_000;

/// What templates need from the outside world.
pub trait TemplateContext {
    /// Run an instant PromQL query at the evaluation time. A scalar result
    /// is one sample with no labels.
    fn query(&self, expr: &str) -> Result<Vec<Sample>, String>;
    /// The evaluation time, Unix seconds.
    fn eval_time(&self) -> f64 {
        0.0
    }
    /// Whether Prometheus has a parsed external URL for `pathPrefix`. promtool's unit tests
    /// give rules none (a nil `*url.URL`), so there `pathPrefix` fails as Go's nil
    /// dereference does.
    fn has_external_url(&self) -> bool {
        true
    }
}

pub(crate) enum Flow {
    Error(String),
    Break,
    Continue,
}

pub(crate) type R<T> = Result<T, Flow>;

/// The node an error is reported at (Go's `state.node`).
#[derive(Clone, Copy)]
pub(crate) enum At<'t> {
    None,
    Arg(&'t Arg),
    Cmd(&'t Command),
    Pipe(&'t Pipe),
    Node(&'t Node, usize),
    Template(&'t Node, usize),
}

pub(crate) struct State<'t, 'a> {
    tmpl: &'t Template,
    name: &'t str,
    pub(crate) data: &'a AlertTemplateData,
    pub(crate) ctx: &'a dyn TemplateContext,
    vars: Vars<'t, 'a>,
    at: At<'t>,
    steps: usize,
    depth: usize,
    out: String,
}

pub(crate) fn render<'t, 'a>(
    tmpl: &'t Template,
    data: &'a AlertTemplateData,
    ctx: &'a dyn TemplateContext,
) -> Result<String, String>
where
    't: 'a,
{
    render_dot(tmpl, Value::Data(data), data, ctx)
}

/// No alert data and no queries: what notification templates run with
/// (their function set has nothing that reads either).
static NO_ALERT: AlertTemplateData = AlertTemplateData {
    labels: std::collections::BTreeMap::new(),
    external_labels: std::collections::BTreeMap::new(),
    external_url: String::new(),
    value: 0.0,
};

struct NoQueries;

impl TemplateContext for NoQueries {
    fn query(&self, _expr: &str) -> Result<Vec<Sample>, String> {
        Err("query is not available in notification templates".into())
    }
}

/// Render a notification template with `data` as dot.
pub(crate) fn render_notification<'t, 'a>(
    tmpl: &'t Template,
    data: &'a NotificationData,
) -> Result<String, String>
where
    't: 'a,
{
    render_dot(tmpl, Value::Notif(data), &NO_ALERT, &NoQueries)
}

fn render_dot<'t, 'a>(
    tmpl: &'t Template,
    dot: Value<'a>,
    data: &'a AlertTemplateData,
    ctx: &'a dyn TemplateContext,
) -> Result<String, String>
where
    't: 'a,
{
    let Some(root) = tmpl.trees.get(&tmpl.name, &tmpl.name) else {
        return Err(format!(
            "template: {}: \"{}\" is an incomplete or empty template",
            tmpl.name, tmpl.name
        ));
    };
    let mut s = State {
        tmpl,
        name: &tmpl.name,
        data,
        ctx,
        vars: Vars::new(),
        at: At::None,
        steps: 0,
        depth: 0,
        // The text is the prefix (112 bytes) plus the user's text: room for
        // a typical annotation's output in one allocation.
        out: String::with_capacity(tmpl.text.len()),
    };
    s.vars.push(("$", dot.clone()));
    match s.walk_list(&dot, root) {
        Ok(()) => Ok(s.out),
        Err(Flow::Error(e)) => Err(e),
        Err(_) => Ok(s.out),
    }
}

impl<'t, 'a> State<'t, 'a>
where
    't: 'a,
{
    pub(crate) fn errorf<T>(&self, msg: impl Into<String>) -> R<T> {
        let msg = msg.into();
        let (pos, ctx) = match self.at {
            At::None => return Err(Flow::Error(format!("template: {}: {}", self.name, msg))),
            At::Arg(a) => (a.pos(), a.to_string()),
            At::Cmd(c) => (c.pos, c.to_string()),
            At::Pipe(p) => (p.pos, p.to_string()),
            At::Node(n, pos) | At::Template(n, pos) => (pos, n.to_string()),
        };
        let text = &self.tmpl.text[..pos.min(self.tmpl.text.len())];
        let (line, col) = match text.rfind('\n') {
            None => (1, pos),
            Some(i) => (1 + text.matches('\n').count(), pos - (i + 1)),
        };
        Err(Flow::Error(format!(
            "template: {}:{}:{}: executing {} at <{}>: {}",
            self.tmpl.name,
            line,
            col,
            crate::gofmt::quote(self.name),
            ctx,
            msg
        )))
    }

    /// Account for `n` bytes of text a function produced: one step per
    /// [`BYTES_PER_STEP`], so building large strings in a loop (`{{ $x := printf "%1000000d"
    /// 1 }}` in nested ranges) hits the step limit instead of running for
    /// minutes; and with `capped`, no single value over [`MAX_OUTPUT`] bytes,
    /// so repeated doubling (`$x = printf "%s%s" $x $x`) cannot exhaust
    /// memory. Neither is reached by ordinary templates.
    /// Errors are reported at `call`.
    pub(crate) fn charge_bytes(&mut self, n: usize, capped: bool, call: At<'t>) -> R<()> {
        if capped && n > MAX_OUTPUT {
            self.at = call;
            return self.errorf(format!(
                "template function result exceeds {MAX_OUTPUT} bytes"
            ));
        }
        self.steps += n / BYTES_PER_STEP;
        if self.steps > MAX_STEPS {
            self.at = call;
            return self.errorf(format!("template execution exceeded {MAX_STEPS} steps"));
        }
        Ok(())
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return self.errorf(format!("template execution exceeded {MAX_STEPS} steps"));
        }
        Ok(())
    }

    fn walk_list(&mut self, dot: &Value<'a>, list: &'t List) -> R<()> {
        crate::stack::guard(|| {
            for n in &list.nodes {
                match n {
                    Node::AlertPrefix => self.alert_prefix(dot)?,
                    n => self.walk(dot, n)?,
                }
            }
            Ok(())
        })
    }

    /// Declare the alert prefix's four variables. With the alert data as
    /// dot (every render) the fields are read directly; the steps are those
    /// of walking the prefix's four actions (a node and a command each).
    /// Any other dot (the root tree called by `{{template}}`) walks the
    /// prefix's parsed actions, for Go's exact errors.
    fn alert_prefix(&mut self, dot: &Value<'a>) -> R<()> {
        let prefix = crate::parse::alert_prefix();
        let Value::Data(d) = dot else {
            return self.walk_list(dot, prefix);
        };
        if self.steps + 8 > MAX_STEPS {
            // Let the step limit trip at the node it would trip at.
            return self.walk_list(dot, prefix);
        }
        self.steps += 8;
        // Walking leaves the last action's `.Value` as the error context.
        if let Some(Node::Action(p)) = prefix.nodes.last() {
            if let Some(arg) = p.cmds.first().and_then(|c| c.args.first()) {
                self.at = At::Arg(arg);
            }
        }
        self.vars.extend([
            ("$labels", Value::Labels(&d.labels)),
            ("$externalLabels", Value::Labels(&d.external_labels)),
            (
                "$externalURL",
                Value::Str(Cow::Borrowed(d.external_url.as_str())),
            ),
            ("$value", Value::Float(d.value)),
        ]);
        Ok(())
    }

    fn walk(&mut self, dot: &Value<'a>, node: &'t Node) -> R<()> {
        self.step()?;
        match node {
            Node::Text(t) => {
                self.out.push_str(t);
                self.check_output()
            }
            Node::Action(pipe) => {
                self.at = At::Node(node, pipe.pos);
                if pipe.decl.is_empty() {
                    self.print_pipeline(dot, pipe)?;
                    self.at = At::Node(node, pipe.pos);
                } else {
                    self.eval_pipeline(dot, pipe)?;
                }
                self.check_output()
            }
            Node::If(b) | Node::With(b) => {
                self.at = At::Node(node, b.pipe.pos);
                let mark = self.vars.len();
                let r = self.walk_if_with(dot, b, matches!(node, Node::With(_)));
                self.vars.truncate(mark);
                r
            }
            Node::Range(b) => {
                self.at = At::Node(node, b.pipe.pos);
                let mark = self.vars.len();
                let r = self.walk_range(dot, b);
                self.vars.truncate(mark);
                match r {
                    Err(Flow::Break) => Ok(()),
                    r => r,
                }
            }
            Node::Template { pos, name, pipe } => {
                self.at = At::Template(node, *pos);
                let Some(list) = self.tmpl.trees.get(&self.tmpl.name, name) else {
                    return self.errorf(format!(
                        "template {} not defined",
                        crate::gofmt::quote(name)
                    ));
                };
                if self.depth >= MAX_CALL_DEPTH {
                    return self.errorf(format!(
                        "exceeded maximum template depth ({MAX_CALL_DEPTH})"
                    ));
                }
                let new_dot = match pipe {
                    Some(p) => self.eval_pipeline(dot, p)?,
                    None => Value::Invalid,
                };
                let frame = self.vars.enter(new_dot.clone());
                let saved_name = std::mem::replace(&mut self.name, name.as_str());
                self.depth += 1;
                let r = self.walk_list(&new_dot, list);
                self.depth -= 1;
                self.name = saved_name;
                self.vars.leave(frame);
                r
            }
            Node::Break => Err(Flow::Break),
            Node::Continue => Err(Flow::Continue),
            Node::AlertPrefix => self.alert_prefix(dot),
        }
    }

    fn check_output(&self) -> R<()> {
        if self.out.len() > MAX_OUTPUT {
            return self.errorf(format!("template output exceeds {MAX_OUTPUT} bytes"));
        }
        Ok(())
    }

    fn print_value(&mut self, v: &Value<'a>) {
        match v {
            Value::Invalid => self.out.push_str("<no value>"),
            v => v.write_v(&mut self.out, false),
        }
    }

    fn walk_if_with(&mut self, dot: &Value<'a>, b: &'t Branch, with: bool) -> R<()> {
        let v = self.eval_pipeline(dot, &b.pipe)?;
        if v.truth() {
            if with {
                self.walk_list(&v, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(e) = &b.else_list {
            self.walk_list(dot, e)
        } else {
            Ok(())
        }
    }

    fn walk_range(&mut self, dot: &Value<'a>, b: &'t Branch) -> R<()> {
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let mut items: Vec<(Value<'a>, Value<'a>)> = Vec::new();
        match &val {
            Value::Vector(v) => {
                for i in 0..v.len() {
                    items.push((Value::Int(i as i64), Value::Sample(v.clone(), i)));
                }
            }
            Value::Labels(l) => {
                for (k, v) in l.iter() {
                    items.push((Value::Str(Cow::Borrowed(k)), Value::Str(Cow::Borrowed(v))));
                }
            }
            Value::SampleLabels(s, i) => {
                for (k, v) in s[*i].labels.iter() {
                    items.push((
                        Value::Str(Cow::Owned(k.clone())),
                        Value::Str(Cow::Owned(v.clone())),
                    ));
                }
            }
            Value::Args(a) => {
                let mut keys: Vec<(String, usize)> =
                    (0..a.len()).map(|i| (format!("arg{i}"), i)).collect();
                keys.sort();
                for (k, i) in keys {
                    items.push((Value::Str(Cow::Owned(k)), a[i].clone()));
                }
            }
            Value::Invalid | Value::Nil => {}
            Value::Alerts(..) | Value::Kv(_) | Value::Pairs(_) | Value::Strings(_) => {
                items = notification::range_items(&val).unwrap_or_default();
            }
            Value::Notif(_) | Value::Alert(_) | Value::Pair(..) | Value::GoTime(..) => {
                let mut s = String::new();
                val.write_v(&mut s, true);
                return self.errorf(format!("range can't iterate over {s}"));
            }
            Value::Str(_)
            | Value::Html(_)
            | Value::Time(_)
            | Value::Sample(..)
            | Value::Data(_)
            | Value::Bool(_)
            | Value::Int(_)
            | Value::Uint8(_)
            | Value::Float(_)
            | Value::Complex(..) => {
                let mut s = String::new();
                val.write_v(&mut s, true);
                return self.errorf(format!("range can't iterate over {s}"));
            }
        }
        if items.is_empty() {
            if let Some(e) = &b.else_list {
                return self.walk_list(dot, e);
            }
            return Ok(());
        }
        for (index, elem) in items {
            self.step()?;
            if !b.pipe.decl.is_empty() {
                self.vars.set_from_top(0, elem.clone());
            }
            if b.pipe.decl.len() > 1 {
                self.vars.set_from_top(1, index);
            }
            let r = self.walk_list(&elem, &b.list);
            self.vars.truncate(mark);
            match r {
                Ok(()) | Err(Flow::Continue) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `eval_pipeline` then print, for an action without declarations. A
    /// final call of a text-producing function (`humanize`, `printf`)
    /// writes straight into the output instead of returning a String.
    fn print_pipeline(&mut self, dot: &Value<'a>, pipe: &'t Pipe) -> R<()> {
        let Some((last, init)) = pipe.cmds.split_last() else {
            let v = self.eval_pipeline(dot, pipe)?;
            self.print_value(&v);
            return Ok(());
        };
        self.at = At::Pipe(pipe);
        let mut value = None;
        for cmd in init {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let v = match last.args.first() {
            Some(first @ Arg::Ident { func, .. }) if funcs::prints_directly(*func) => {
                // What eval_command does before calling.
                self.step()?;
                self.at = At::Arg(first);
                let mut out = std::mem::take(&mut self.out);
                let r = funcs::call_print(
                    self,
                    dot,
                    *func,
                    At::Cmd(last),
                    &last.args[1..],
                    value,
                    &mut out,
                );
                self.out = out;
                match r? {
                    None => return Ok(()),
                    Some(v) => v,
                }
            }
            _ => self.eval_command(dot, last, value)?,
        };
        self.print_value(&v);
        Ok(())
    }

    pub(crate) fn eval_pipeline(&mut self, dot: &Value<'a>, pipe: &'t Pipe) -> R<Value<'a>> {
        crate::stack::guard(|| self.eval_pipeline_here(dot, pipe))
    }

    fn eval_pipeline_here(&mut self, dot: &Value<'a>, pipe: &'t Pipe) -> R<Value<'a>> {
        self.at = At::Pipe(pipe);
        let mut value: Option<Value<'a>> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Invalid);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, value.clone())?;
            } else {
                self.vars.push((name.as_str(), value.clone()));
            }
        }
        Ok(value)
    }

    fn set_var(&mut self, name: &str, v: Value<'a>) -> R<()> {
        if let Some(slot) = self.vars.get_mut(name) {
            *slot = v;
            return Ok(());
        }
        self.errorf(format!("undefined variable: {name}"))
    }

    fn var_value(&self, name: &str) -> R<Value<'a>> {
        if let Some(v) = self.vars.get(name) {
            return Ok(v.clone());
        }
        self.errorf(format!("undefined variable: {name}"))
    }

    fn not_a_function(&self, args: &'t [Arg], final_: &Option<Value<'a>>) -> R<()> {
        if args.len() > 1 || final_.is_some() {
            return self.errorf(format!("can't give argument to non-function {}", args[0]));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Value<'a>,
        cmd: &'t Command,
        final_: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        self.step()?;
        let first = &cmd.args[0];
        match first {
            Arg::Field { idents, .. } => {
                self.at = At::Arg(first);
                self.eval_field_chain(dot, dot.clone(), first, &idents.0, &cmd.args, final_)
            }
            Arg::Chain { node, fields, .. } => {
                self.eval_chain(dot, first, node, &fields.0, &cmd.args, final_)
            }
            Arg::Ident { func, .. } => {
                self.at = At::Arg(first);
                self.eval_call(dot, *func, cmd, &cmd.args[1..], final_)
            }
            Arg::Pipe(p) => {
                self.not_a_function(&cmd.args, &final_)?;
                self.eval_pipeline(dot, p)
            }
            Arg::Variable { idents, .. } => {
                self.at = At::Arg(first);
                let (var, fields) = idents.split_first();
                let v = self.var_value(var)?;
                let Some(fields) = fields else {
                    self.not_a_function(&cmd.args, &final_)?;
                    return Ok(v);
                };
                self.eval_field_chain(dot, v, first, fields, &cmd.args, final_)
            }
            _ => {
                self.at = At::Arg(first);
                self.not_a_function(&cmd.args, &final_)?;
                match first {
                    Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
                    Arg::Dot { .. } => Ok(dot.clone()),
                    Arg::Nil { .. } => self.errorf("nil is not a command"),
                    Arg::Number { .. } => self.ideal_constant(first),
                    Arg::Str { text, .. } => Ok(Value::Str(Cow::Borrowed(text.as_str()))),
                    _ => self.errorf(format!("can't evaluate command {first}")),
                }
            }
        }
    }

    fn eval_chain(
        &mut self,
        dot: &Value<'a>,
        chain: &'t Arg,
        node: &'t Arg,
        fields: &'t str,
        args: &'t [Arg],
        final_: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        self.at = At::Arg(chain);
        if let Arg::Nil { .. } = node {
            return self.errorf(format!("indirection through explicit nil in {chain}"));
        }
        let recv = self.eval_arg_any(dot, node)?;
        self.eval_field_chain(dot, recv, chain, fields, args, final_)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Value<'a>,
        mut recv: Value<'a>,
        node: &'t Arg,
        idents: &'t str,
        args: &'t [Arg],
        final_: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        let (init, last) = crate::ast::split_last(idents);
        for id in init {
            recv = self.eval_field(dot, id, node, &[], None, recv)?;
        }
        self.eval_field(dot, last, node, args, final_, recv)
    }

    fn eval_field(
        &mut self,
        dot: &Value<'a>,
        name: &'t str,
        node: &'t Arg,
        args: &'t [Arg],
        final_: Option<Value<'a>>,
        recv: Value<'a>,
    ) -> R<Value<'a>> {
        let has_args = args.len() > 1 || final_.is_some();
        match &recv {
            Value::Invalid => return Ok(Value::Invalid),
            Value::Nil => {
                return self.errorf(format!("nil pointer evaluating interface {{}}.{name}"))
            }
            Value::Time(ns) => {
                let t = (
                    ns.div_euclid(1_000_000_000),
                    ns.rem_euclid(1_000_000_000) as u32,
                );
                let t = (t.0, t.1, true, crate::zone::TimeZone::UTC);
                if let Some(v) = funcs::time::method(self, dot, t, name, node, args, final_)? {
                    return Ok(v);
                }
            }
            Value::GoTime(..)
            | Value::Notif(_)
            | Value::Alert(_)
            | Value::Alerts(..)
            | Value::Kv(_)
            | Value::Pairs(_)
            | Value::Pair(..) => {
                return self.eval_notification_field(dot, name, node, args, final_, recv);
            }
            Value::Data(d) => {
                let v = match name {
                    "Labels" => Some(Value::Labels(&d.labels)),
                    "ExternalLabels" => Some(Value::Labels(&d.external_labels)),
                    "ExternalURL" => Some(Value::Str(Cow::Borrowed(d.external_url.as_str()))),
                    "Value" => Some(Value::Float(d.value)),
                    _ => None,
                };
                if let Some(v) = v {
                    if has_args {
                        return self.errorf(format!(
                            "{name} has arguments but cannot be invoked as function"
                        ));
                    }
                    return Ok(v);
                }
            }
            Value::Sample(v, i) => {
                let r = match name {
                    "Labels" => Some(Value::SampleLabels(v.clone(), *i)),
                    "Value" => Some(Value::Float(v[*i].value)),
                    _ => None,
                };
                if let Some(r) = r {
                    if has_args {
                        return self.errorf(format!(
                            "{name} has arguments but cannot be invoked as function"
                        ));
                    }
                    return Ok(r);
                }
            }
            _ => {}
        }
        if let Value::Labels(l) = recv {
            if has_args {
                return self.errorf(format!("{name} is not a method but has arguments"));
            }
            return Ok(Value::Str(Cow::Borrowed(
                l.get(name).map_or("", |v| v.as_str()),
            )));
        }
        if let Some(m) = recv.as_map() {
            if has_args {
                return self.errorf(format!("{name} is not a method but has arguments"));
            }
            return Ok(match m {
                MapRef::Labels(l) => match l.get(name) {
                    Some(v) => Value::Str(Cow::Owned(v.clone())),
                    None => Value::Str(Cow::Borrowed("")),
                },
                MapRef::Args(a) => name
                    .strip_prefix("arg")
                    .and_then(|n| {
                        if n.len() > 1 && n.starts_with('0') {
                            None
                        } else {
                            n.parse::<usize>().ok()
                        }
                    })
                    .and_then(|i| a.get(i).cloned())
                    .unwrap_or(Value::Invalid),
            });
        }
        self.errorf(format!(
            "can't evaluate field {name} in type {}",
            recv.type_name()
        ))
    }

    /// [`Self::eval_field`] for the notification templates' types, apart so the rule
    /// template path's code stays as it was.
    #[inline(never)]
    fn eval_notification_field(
        &mut self,
        dot: &Value<'a>,
        name: &'t str,
        node: &'t Arg,
        args: &'t [Arg],
        final_: Option<Value<'a>>,
        recv: Value<'a>,
    ) -> R<Value<'a>> {
        let has_args = args.len() > 1 || final_.is_some();
        match &recv {
            Value::GoTime(secs, nanos, zone) => {
                let t = (*secs, *nanos, false, *zone);
                if let Some(v) = funcs::time::method(self, dot, t, name, node, args, final_)? {
                    return Ok(v);
                }
            }
            Value::Kv(kv) if name == "Remove" => {
                return self.kv_remove(dot, kv, args, final_);
            }
            Value::Notif(_)
            | Value::Alert(_)
            | Value::Alerts(..)
            | Value::Kv(_)
            | Value::Pairs(_)
            | Value::Pair(..) => {
                if let Some(v) = notification::field(&recv, name) {
                    if has_args {
                        let nargs = args.len().saturating_sub(1) + usize::from(final_.is_some());
                        return self.errorf(
                            if matches!(recv, Value::Notif(_) | Value::Alert(_))
                                && !matches!(name, "Firing" | "Resolved")
                            {
                                format!("{name} has arguments but cannot be invoked as function")
                            } else {
                                format!("wrong number of args for {name}: want 0 got {nargs}")
                            },
                        );
                    }
                    return Ok(v);
                }
            }
            _ => {}
        }
        if let Value::Kv(kv) = &recv {
            if has_args {
                return self.errorf(format!("{name} is not a method but has arguments"));
            }
            // missingkey=zero: a missing key is the zero string.
            return Ok(match kv {
                Kv::Borrowed(l) => {
                    Value::Str(Cow::Borrowed(l.get(name).map_or("", |v| v.as_str())))
                }
                Kv::Owned(l) => Value::Str(Cow::Owned(l.get(name).cloned().unwrap_or_default())),
            });
        }
        self.errorf(format!(
            "can't evaluate field {name} in type {}",
            recv.type_name()
        ))
    }

    /// `KV.Remove(keys []string)`.
    fn kv_remove(
        &mut self,
        dot: &Value<'a>,
        kv: &Kv<'a>,
        args: &'t [Arg],
        final_: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        let nargs = args.len().saturating_sub(1) + usize::from(final_.is_some());
        if nargs != 1 {
            return self.errorf(format!(
                "wrong number of args for Remove: want 1 got {nargs}"
            ));
        }
        let keys = match final_ {
            Some(v) => v,
            None => self.eval_arg_typed(dot, &args[1], "[]string")?,
        };
        match keys {
            Value::Strings(k) => Ok(notification::remove(kv, &k)),
            Value::Nil | Value::Invalid => Ok(notification::remove(kv, &[])),
            other => self.errorf(format!(
                "wrong type for value; expected []string; got {}",
                other.type_name()
            )),
        }
    }

    pub(crate) fn ideal_constant(&mut self, arg: &'t Arg) -> R<Value<'a>> {
        self.at = At::Arg(arg);
        let Arg::Number { num, .. } = arg else {
            return Ok(Value::Invalid);
        };
        if num.is_complex {
            return Ok(Value::Complex(num.float, num.imag));
        }
        let t = &num.text;
        let hex_int = t.len() > 2
            && t.trim_start_matches(['+', '-']).starts_with(['0'])
            && matches!(
                t.trim_start_matches(['+', '-']).as_bytes().get(1),
                Some(b'x' | b'X')
            )
            && !t.contains(['p', 'P']);
        let rune_int = t.starts_with('\'');
        if num.is_float && !hex_int && !rune_int && t.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Value::Float(num.float));
        }
        if num.is_int {
            return Ok(Value::Int(num.int));
        }
        if num.is_uint {
            return self.errorf(format!("{t} overflows int"));
        }
        Ok(Value::Invalid)
    }

    /// Evaluate an argument for an `interface{}` / `reflect.Value` parameter.
    pub(crate) fn eval_arg_any(&mut self, dot: &Value<'a>, arg: &'t Arg) -> R<Value<'a>> {
        self.at = At::Arg(arg);
        match arg {
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Ok(Value::Nil),
            Arg::Field { idents, .. } => self.eval_field_chain(
                dot,
                dot.clone(),
                arg,
                &idents.0,
                std::slice::from_ref(arg),
                None,
            ),
            Arg::Variable { idents, .. } => {
                let (var, fields) = idents.split_first();
                let v = self.var_value(var)?;
                let Some(fields) = fields else {
                    return Ok(v);
                };
                self.eval_field_chain(dot, v, arg, fields, &[], None)
            }
            Arg::Pipe(p) => self.eval_pipeline(dot, p),
            Arg::Ident { func, .. } => self.eval_call_ident(dot, *func, arg),
            Arg::Chain { node, fields, .. } => {
                self.eval_chain(dot, arg, node, &fields.0, &[], None)
            }
            Arg::Bool { value, .. } => Ok(Value::Bool(*value)),
            Arg::Number { .. } => self.ideal_constant(arg),
            Arg::Str { text, .. } => Ok(Value::Str(Cow::Borrowed(text.as_str()))),
        }
    }

    fn eval_call_ident(&mut self, dot: &Value<'a>, func: Func, arg: &'t Arg) -> R<Value<'a>> {
        self.at = At::Arg(arg);
        funcs::call(self, dot, func, At::Arg(arg), &[], None)
    }

    fn eval_call(
        &mut self,
        dot: &Value<'a>,
        func: Func,
        cmd: &'t Command,
        args: &'t [Arg],
        final_: Option<Value<'a>>,
    ) -> R<Value<'a>> {
        funcs::call(self, dot, func, At::Cmd(cmd), args, final_)
    }

    /// Evaluate an argument for a `string` parameter.
    pub(crate) fn eval_arg_string(&mut self, dot: &Value<'a>, arg: &'t Arg) -> R<Cow<'a, str>> {
        self.at = At::Arg(arg);
        match arg {
            Arg::Str { text, .. } => Ok(Cow::Borrowed(text.as_str())),
            Arg::Dot { .. }
            | Arg::Field { .. }
            | Arg::Variable { .. }
            | Arg::Pipe(_)
            | Arg::Ident { .. }
            | Arg::Chain { .. } => {
                let v = self.eval_arg_any(dot, arg)?;
                self.validate_string(v)
            }
            Arg::Nil { .. } => self.errorf("cannot assign nil to string"),
            _ => self.errorf(format!("expected string; found {arg}")),
        }
    }

    pub(crate) fn validate_string(&self, v: Value<'a>) -> R<Cow<'a, str>> {
        match v {
            Value::Str(s) => Ok(s),
            Value::Invalid => self.errorf("invalid value; expected string"),
            other => self.errorf(format!(
                "wrong type for value; expected string; got {}",
                other.type_name()
            )),
        }
    }

    pub(crate) fn set_at(&mut self, at: At<'t>) {
        self.at = at;
    }

    /// Evaluate a non-interface, non-string typed parameter (`*sample`,
    /// `queryResult`): literals can't be converted.
    pub(crate) fn eval_arg_typed(
        &mut self,
        dot: &Value<'a>,
        arg: &'t Arg,
        typ: &str,
    ) -> R<Value<'a>> {
        self.at = At::Arg(arg);
        match arg {
            Arg::Bool { .. } | Arg::Number { .. } | Arg::Str { .. } => {
                self.errorf(format!("can't handle {arg} for arg of type {typ}"))
            }
            Arg::Nil { .. } => Ok(Value::Nil),
            _ => self.eval_arg_any(dot, arg),
        }
    }
}

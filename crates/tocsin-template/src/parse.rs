//! Recursive-descent parser with Go `text/template/parse` semantics: the
//! same grammar, the same three-token lookahead, the same variable scoping
//! and the same error messages and line numbers.

use crate::ast::{Arg, Branch, Command, List, Node, Number, Path, Pipe};
use crate::error::ParseError;
use crate::funcs::{Func, FuncSet};
use crate::lexer::{lex, Item, ItemKind};
use crate::unquote::{unquote, unquote_char};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Bound on nesting: control structures (`if`, `range`, `with`, each
/// `else if`, and `define`/`block` bodies) and parenthesised pipelines,
/// counted together. Deeper input is "max expression depth exceeded", Go's
/// words for its own bound on parentheses (`maxStackDepth`, 10,000, in Go
/// releases later than the 1.19.8 Debian's Prometheus 2.42 is built with).
/// promtool 2.42 has no bound: it accepts every construct 100,000 deep and
/// crashes, out of goroutine stack, somewhere beyond (docs/hostile-input.md).
/// Parsing and rendering recurse once per level on stack that grows as
/// needed, so the bound is about memory, not the size of the thread's stack.
pub const MAX_DEPTH: usize = 100_000;

/// The result of parsing: the top-level tree (under the template's own
/// name) and every `define`/`block`. The root is kept apart so the common
/// template, with no definitions, needs no map entry (nor key allocation).
#[derive(Debug, Clone, Default)]
pub(crate) struct TreeSet {
    root: Option<List>,
    named: HashMap<String, List>,
}

impl TreeSet {
    /// The tree called `name` in the set of template `template`.
    pub(crate) fn get(&self, template: &str, name: &str) -> Option<&List> {
        if name == template {
            self.root.as_ref()
        } else {
            self.named.get(name)
        }
    }
}

/// Variables predeclared for the user's text after the alert prefix, in
/// the order the prefix declares them.
const ALERT_VARS: [&str; 5] = ["$", "$labels", "$externalLabels", "$externalURL", "$value"];

/// What precedes the user's text.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prelude {
    None,
    /// [`crate::ALERT_TEMPLATE_PREFIX`] starts the text. It is not lexed or
    /// parsed again: the parser starts after it in the state Go's parser
    /// reaches there (line 1, the four variables declared, no lookahead)
    /// and the tree starts with [`Node::AlertPrefix`].
    Alert,
    /// A notification template: no predefined variables, Alertmanager's
    /// function set.
    Notification,
}

/// The prefix's four declaration actions, parsed once by the ordinary
/// parser so execution (steps, error positions and context) is exactly
/// that of the prefix text.
pub(crate) fn alert_prefix() -> &'static List {
    static PREFIX: OnceLock<List> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = crate::ALERT_TEMPLATE_PREFIX;
        parse("", prefix, Prelude::None)
            .ok()
            .and_then(|mut t| t.root.take())
            .expect("the alert prefix is a valid template")
    })
}

enum Parsed {
    Node(Node),
    End,
    Else,
}

/// Variables in scope: predeclared ones (a static list, so starting a
/// parse allocates nothing) then those the template declares.
#[derive(Default)]
struct Vars<'a> {
    predeclared: &'static [&'static str],
    declared: Vec<&'a str>,
}

impl<'a> Vars<'a> {
    fn new(predeclared: &'static [&'static str]) -> Self {
        Vars {
            predeclared,
            declared: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.predeclared.len() + self.declared.len()
    }

    fn push(&mut self, name: &'a str) {
        self.declared.push(name);
    }

    /// Back to `len` variables; scopes only ever drop what they declared.
    fn truncate(&mut self, len: usize) {
        self.declared
            .truncate(len.saturating_sub(self.predeclared.len()));
    }

    fn contains(&self, name: &str) -> bool {
        self.predeclared.contains(&name) || self.declared.contains(&name)
    }
}

/// Per-tree parser state (Go creates a new `Tree` for each define/block).
#[derive(Default)]
struct TreeState<'a> {
    vars: Vars<'a>,
    range_depth: usize,
    action_line: usize,
}

pub(crate) struct Parser<'a> {
    name: &'a str,
    items: Vec<Item<'a>>,
    lex_error: String,
    cursor: usize,
    token: [usize; 3],
    peek_count: usize,
    last: usize,
    st: TreeState<'a>,
    depth: usize,
    trees: TreeSet,
    user_offset: usize,
    text: &'a str,
    funcs: FuncSet,
}

type PResult<T> = Result<T, ParseError>;

/// Parse `text` as template `name`. With [`Prelude::Alert`], `text`
/// starts with the alert prefix and error columns count from after it.
pub(crate) fn parse(name: &str, text: &str, prelude: Prelude) -> PResult<TreeSet> {
    let (start, vars): (usize, &'static [&'static str]) = match prelude {
        Prelude::None | Prelude::Notification => (0, &ALERT_VARS[..1]),
        Prelude::Alert => (crate::ALERT_TEMPLATE_PREFIX.len(), &ALERT_VARS),
    };
    let lexed = lex(text, start);
    let mut p = Parser {
        name,
        items: lexed.items,
        lex_error: lexed.error,
        cursor: 0,
        token: [0; 3],
        peek_count: 0,
        last: 0,
        st: TreeState {
            vars: Vars::new(vars),
            ..Default::default()
        },
        depth: 0,
        trees: TreeSet::default(),
        user_offset: start,
        text,
        funcs: if prelude == Prelude::Notification {
            FuncSet::Alertmanager
        } else {
            FuncSet::Prometheus
        },
    };
    let mut root = List::default();
    if prelude == Prelude::Alert {
        root.nodes.push(Node::AlertPrefix);
    }
    p.parse_top(&mut root)?;
    p.add(name, root)?;
    Ok(p.trees)
}

impl<'a> Parser<'a> {
    fn item(&self, i: usize) -> &Item<'a> {
        &self.items[i]
    }

    fn lex_next(&mut self) -> usize {
        let i = self.cursor.min(self.items.len() - 1);
        self.cursor += 1;
        self.last = i;
        i
    }

    fn next(&mut self) -> usize {
        if self.peek_count > 0 {
            self.peek_count -= 1;
        } else {
            self.token[0] = self.lex_next();
        }
        self.token[self.peek_count]
    }

    fn backup(&mut self) {
        self.peek_count += 1;
    }

    fn backup2(&mut self, t1: usize) {
        self.token[1] = t1;
        self.peek_count = 2;
    }

    fn backup3(&mut self, t2: usize, t1: usize) {
        self.token[1] = t1;
        self.token[2] = t2;
        self.peek_count = 3;
    }

    fn peek(&mut self) -> usize {
        if self.peek_count > 0 {
            return self.token[self.peek_count - 1];
        }
        self.peek_count = 1;
        self.token[0] = self.lex_next();
        self.token[0]
    }

    fn next_non_space(&mut self) -> usize {
        loop {
            let t = self.next();
            if self.item(t).kind != ItemKind::Space {
                return t;
            }
        }
    }

    fn peek_non_space(&mut self) -> usize {
        let t = self.next_non_space();
        self.backup();
        t
    }

    fn kind(&self, t: usize) -> ItemKind {
        self.items[t].kind
    }

    fn errorf(&self, msg: String) -> ParseError {
        let it = &self.items[self.last];
        ParseError::new(self.name, it.line, msg, it.pos, self.user_offset, self.text)
    }

    fn unexpected(&self, t: usize, context: &str) -> ParseError {
        let it = &self.items[t];
        if it.kind == ItemKind::Error {
            let msg = &self.lex_error;
            let mut extra = String::new();
            if self.st.action_line != 0 && self.st.action_line != it.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.name, self.st.action_line
                );
                if msg.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{msg}{extra}"));
        }
        self.errorf(format!("unexpected {it} in {context}"))
    }

    fn expect(&mut self, kind: ItemKind, context: &str) -> PResult<usize> {
        let t = self.next_non_space();
        if self.kind(t) != kind {
            return Err(self.unexpected(t, context));
        }
        Ok(t)
    }

    fn add(&mut self, name: &str, tree: List) -> PResult<()> {
        match self.trees.get(self.name, name) {
            Some(old) if !is_empty(old) => {
                if !is_empty(&tree) {
                    return Err(self.errorf(format!(
                        "template: multiple definition of template {}",
                        crate::gofmt::quote(name)
                    )));
                }
            }
            _ => {
                if name == self.name {
                    self.trees.root = Some(tree);
                } else {
                    self.trees.named.insert(name.to_string(), tree);
                }
            }
        }
        Ok(())
    }

    fn parse_top(&mut self, root: &mut List) -> PResult<()> {
        loop {
            let t = self.peek();
            if self.kind(t) == ItemKind::Eof {
                return Ok(());
            }
            if self.kind(t) == ItemKind::LeftDelim {
                let delim = self.next();
                let n = self.next_non_space();
                if self.kind(n) == ItemKind::Define {
                    let saved = std::mem::replace(
                        &mut self.st,
                        TreeState {
                            vars: Vars::new(&ALERT_VARS[..1]),
                            ..Default::default()
                        },
                    );
                    let r = self.parse_definition();
                    self.st = saved;
                    r?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.nodes.push(n),
                Parsed::End => return Err(self.errorf("unexpected {{end}}".into())),
                Parsed::Else => return Err(self.errorf("unexpected {{else}}".into())),
            }
        }
    }

    fn template_name(&mut self, t: usize, context: &str) -> PResult<String> {
        match self.kind(t) {
            ItemKind::String | ItemKind::RawString => {
                unquote(self.items[t].val).ok_or_else(|| self.errorf("invalid syntax".into()))
            }
            _ => Err(self.unexpected(t, context)),
        }
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let context = "define clause";
        let t = self.next_non_space();
        if !matches!(self.kind(t), ItemKind::String | ItemKind::RawString) {
            return Err(self.unexpected(t, context));
        }
        let name = self.template_name(t, context)?;
        self.expect(ItemKind::RightDelim, context)?;
        let (list, end) = self.item_list()?;
        if let Parsed::Else = end {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.add(&name, list)
    }

    /// Parse one level of nesting: bounded by [`MAX_DEPTH`], on stack
    /// that grows as needed.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            return Err(self.errorf("max expression depth exceeded".into()));
        }
        self.depth += 1;
        let r = crate::stack::guard(|| f(self));
        self.depth -= 1;
        r
    }

    fn item_list(&mut self) -> PResult<(List, Parsed)> {
        self.nested(Self::item_list_inner)
    }

    fn item_list_inner(&mut self) -> PResult<(List, Parsed)> {
        let mut list = List::default();
        loop {
            let t = self.peek_non_space();
            if self.kind(t) == ItemKind::Eof {
                return Err(self.errorf("unexpected EOF".into()));
            }
            match self.text_or_action()? {
                Parsed::Node(n) => list.nodes.push(n),
                end => return Ok((list, end)),
            }
        }
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match self.kind(t) {
            ItemKind::Text => Ok(Parsed::Node(Node::Text(self.items[t].val.to_string()))),
            ItemKind::LeftDelim => {
                self.st.action_line = self.items[t].line;
                let r = self.action();
                self.st.action_line = 0;
                r
            }
            _ => Err(self.unexpected(t, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let t = self.next_non_space();
        match self.kind(t) {
            ItemKind::Block => return self.block_control().map(Parsed::Node),
            ItemKind::Break => {
                return self
                    .break_control("break")
                    .map(|_| Parsed::Node(Node::Break))
            }
            ItemKind::Continue => {
                return self
                    .break_control("continue")
                    .map(|_| Parsed::Node(Node::Continue))
            }
            ItemKind::Else => return self.else_control(),
            ItemKind::End => {
                self.expect(ItemKind::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemKind::If => return self.control("if").map(|b| Parsed::Node(Node::If(b))),
            ItemKind::Range => return self.control("range").map(|b| Parsed::Node(Node::Range(b))),
            ItemKind::Template => return self.template_control().map(Parsed::Node),
            ItemKind::With => return self.control("with").map(|b| Parsed::Node(Node::With(b))),
            _ => {}
        }
        self.backup();
        let pipe = self.pipeline("command", ItemKind::RightDelim)?;
        Ok(Parsed::Node(Node::Action(pipe)))
    }

    fn break_control(&mut self, word: &str) -> PResult<()> {
        let t = self.next_non_space();
        if self.kind(t) != ItemKind::RightDelim {
            return Err(self.unexpected(t, &format!("{{{{{word}}}}}")));
        }
        if self.st.range_depth == 0 {
            return Err(self.errorf(format!("{{{{{word}}}}} outside {{{{range}}}}")));
        }
        Ok(())
    }

    fn else_control(&mut self) -> PResult<Parsed> {
        let p = self.peek_non_space();
        if self.kind(p) == ItemKind::If {
            return Ok(Parsed::Else);
        }
        self.expect(ItemKind::RightDelim, "else")?;
        Ok(Parsed::Else)
    }

    fn control(&mut self, context: &str) -> PResult<Branch> {
        let nvars = self.st.vars.len();
        let r = self.control_inner(context);
        self.st.vars.truncate(nvars);
        r
    }

    fn control_inner(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, ItemKind::RightDelim)?;
        if context == "range" {
            self.st.range_depth += 1;
        }
        let r = self.item_list();
        if context == "range" {
            self.st.range_depth -= 1;
        }
        let (list, next) = r?;
        let mut else_list = None;
        if let Parsed::Else = next {
            let p = self.peek();
            if context == "if" && self.kind(p) == ItemKind::If {
                self.next();
                // `{{else if}}` nests the second `if` in the first.
                let inner = self.nested(|p| p.control("if"))?;
                else_list = Some(List {
                    nodes: vec![Node::If(inner)],
                });
            } else {
                let (el, next) = self.item_list()?;
                if let Parsed::Else = next {
                    return Err(self.errorf("expected end; found {{else}}".into()));
                }
                else_list = Some(el);
            }
        }
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn block_control(&mut self) -> PResult<Node> {
        let context = "block clause";
        let t = self.next_non_space();
        let pos = self.items[t].pos;
        let name = self.template_name(t, context)?;
        let pipe = self.pipeline(context, ItemKind::RightDelim)?;
        let saved = std::mem::replace(
            &mut self.st,
            TreeState {
                vars: Vars::new(&ALERT_VARS[..1]),
                ..Default::default()
            },
        );
        let r = self.item_list();
        self.st = saved;
        let (list, end) = r?;
        if let Parsed::Else = end {
            return Err(self.errorf(format!("unexpected {{{{else}}}} in {context}")));
        }
        self.add(&name, list)?;
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> PResult<Node> {
        let context = "template clause";
        let t = self.next_non_space();
        let pos = self.items[t].pos;
        let name = self.template_name(t, context)?;
        let n = self.next_non_space();
        let pipe = if self.kind(n) != ItemKind::RightDelim {
            self.backup();
            Some(self.pipeline(context, ItemKind::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template { pos, name, pipe })
    }

    fn pipeline(&mut self, context: &str, end: ItemKind) -> PResult<Pipe> {
        let t = self.peek_non_space();
        let mut pipe = Pipe {
            pos: self.items[t].pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        loop {
            // declarations
            let v = self.peek_non_space();
            if self.kind(v) != ItemKind::Variable {
                break;
            }
            self.next();
            let after = self.peek();
            let nx = self.peek_non_space();
            let nk = self.kind(nx);
            if nk == ItemKind::Assign || nk == ItemKind::Declare {
                pipe.is_assign = nk == ItemKind::Assign;
                self.next_non_space();
                let name = self.items[v].val;
                pipe.decl.push(name.to_string());
                self.st.vars.push(name);
                break;
            } else if nk == ItemKind::Char && self.items[nx].val == "," {
                self.next_non_space();
                let name = self.items[v].val;
                pipe.decl.push(name.to_string());
                self.st.vars.push(name);
                if context == "range" && pipe.decl.len() < 2 {
                    let p = self.peek_non_space();
                    match self.kind(p) {
                        ItemKind::Variable | ItemKind::RightDelim | ItemKind::RightParen => {
                            continue
                        }
                        _ => return Err(self.errorf("range can only initialize variables".into())),
                    }
                }
                return Err(self.errorf(format!("too many declarations in {context}")));
            } else if self.kind(after) == ItemKind::Space {
                self.backup3(v, after);
            } else {
                self.backup2(v);
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            let k = self.kind(t);
            if k == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match k {
                ItemKind::Bool
                | ItemKind::CharConstant
                | ItemKind::Complex
                | ItemKind::Dot
                | ItemKind::Field
                | ItemKind::Identifier
                | ItemKind::Number
                | ItemKind::Nil
                | ItemKind::RawString
                | ItemKind::String
                | ItemKind::Variable
                | ItemKind::LeftParen => {
                    self.backup();
                    let c = self.command()?;
                    pipe.cmds.push(c);
                }
                _ => return Err(self.unexpected(t, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.errorf(format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot { .. }
                        | Arg::Nil { .. }
                        | Arg::Number { .. }
                        | Arg::Str { .. }
                )
            ) {
                return Err(self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                )));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let t = self.peek_non_space();
        let mut cmd = Command {
            pos: self.items[t].pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                cmd.args.push(op);
            }
            let t = self.next();
            match self.kind(t) {
                ItemKind::Space => continue,
                ItemKind::RightDelim | ItemKind::RightParen => self.backup(),
                ItemKind::Pipe => {}
                _ => return Err(self.unexpected(t, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.errorf("empty command".into()));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        let p = self.peek();
        if self.kind(p) != ItemKind::Field {
            return Ok(Some(node));
        }
        let pos = self.items[p].pos;
        let mut node = node;
        let mut fields = Path::default();
        loop {
            let p = self.peek();
            if self.kind(p) != ItemKind::Field {
                break;
            }
            let t = self.next();
            let val = self.items[t].val;
            match &mut node {
                Arg::Field { idents, .. } | Arg::Variable { idents, .. } => idents.push_field(val),
                _ => fields.push_field(val),
            }
        }
        Ok(Some(match node {
            Arg::Field { idents, .. } => Arg::Field { pos, idents },
            Arg::Variable { idents, .. } => Arg::Variable { pos, idents },
            Arg::Bool { .. }
            | Arg::Str { .. }
            | Arg::Number { .. }
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                return Err(self.errorf(format!(
                    "unexpected . after term {}",
                    crate::gofmt::quote(&node.to_string())
                )))
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let t = self.next_non_space();
        let pos = self.items[t].pos;
        let val = self.items[t].val;
        Ok(Some(match self.kind(t) {
            ItemKind::Identifier => {
                let Some(func) = Func::lookup_in(val, self.funcs) else {
                    return Err(
                        self.errorf(format!("function {} not defined", crate::gofmt::quote(val)))
                    );
                };
                Arg::Ident { pos, func }
            }
            ItemKind::Dot => Arg::Dot { pos },
            ItemKind::Nil => Arg::Nil { pos },
            ItemKind::Variable => {
                if !self.st.vars.contains(val) {
                    return Err(
                        self.errorf(format!("undefined variable {}", crate::gofmt::quote(val)))
                    );
                }
                Arg::Variable {
                    pos,
                    idents: Path::new(val),
                }
            }
            ItemKind::Field => Arg::Field {
                pos,
                idents: Path::new(&val[1..]),
            },
            ItemKind::Bool => Arg::Bool {
                pos,
                value: val == "true",
            },
            k @ (ItemKind::CharConstant | ItemKind::Complex | ItemKind::Number) => {
                let num = new_number(val, k).map_err(|e| self.errorf(e))?;
                Arg::Number {
                    pos,
                    num: Box::new(num),
                }
            }
            ItemKind::LeftParen => {
                let pipe =
                    self.nested(|p| p.pipeline("parenthesized pipeline", ItemKind::RightParen))?;
                Arg::Pipe(Box::new(pipe))
            }
            ItemKind::String | ItemKind::RawString => {
                let Some(text) = unquote(val) else {
                    return Err(self.errorf("invalid syntax".into()));
                };
                Arg::Str {
                    pos,
                    quoted: val.to_string(),
                    text,
                }
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

/// Go's `IsEmptyTree`: only whitespace text.
fn is_empty(l: &List) -> bool {
    l.nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim_matches(|c: char| c.is_whitespace()).is_empty(),
        _ => false,
    })
}

/// Go's `newNumber`: derive int/uint/float views of a number literal.
fn new_number(text: &str, kind: ItemKind) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_string(),
        is_int: false,
        is_uint: false,
        is_float: false,
        is_complex: false,
        int: 0,
        uint: 0,
        float: 0.0,
        imag: 0.0,
    };
    match kind {
        ItemKind::CharConstant => {
            let (c, tail) = unquote_char(&text[1..], '\'').ok_or("invalid syntax")?;
            if tail != "'" {
                return Err(format!("malformed character constant: {text}"));
            }
            n.int = c as i64;
            n.is_int = true;
            n.uint = c as u64;
            n.is_uint = true;
            n.float = c as u32 as f64;
            n.is_float = true;
            return Ok(n);
        }
        ItemKind::Complex => {
            let (re, im) = crate::numparse::parse_complex(text)
                .ok_or_else(|| "expected integer".to_string())?;
            n.is_complex = true;
            n.float = re;
            n.imag = im;
            simplify_complex(&mut n);
            return Ok(n);
        }
        _ => {}
    }
    if let Some(body) = text.strip_suffix('i') {
        if let Some(f) = crate::numparse::parse_float(body) {
            n.is_complex = true;
            n.float = 0.0;
            n.imag = f;
            simplify_complex(&mut n);
            return Ok(n);
        }
    }
    let u = crate::numparse::parse_uint(text);
    if let Some(u) = u {
        n.is_uint = true;
        n.uint = u;
    }
    if let Some(i) = crate::numparse::parse_int(text) {
        n.is_int = true;
        n.int = i;
        if i == 0 {
            n.is_uint = true;
            n.uint = u.unwrap_or(0);
        }
    }
    if n.is_int {
        n.is_float = true;
        n.float = n.int as f64;
    } else if n.is_uint {
        n.is_float = true;
        n.float = n.uint as f64;
    } else if let Some(f) = crate::numparse::parse_float(text) {
        if !text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Err(format!("integer overflow: {}", crate::gofmt::quote(text)));
        }
        n.is_float = true;
        n.float = f;
        if (f as i64) as f64 == f && f.fract() == 0.0 && f.abs() < 9.2e18 {
            n.is_int = true;
            n.int = f as i64;
        }
        if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 {
            n.is_uint = true;
            n.uint = f as u64;
        }
    }
    if !n.is_int && !n.is_uint && !n.is_float {
        return Err(format!(
            "illegal number syntax: {}",
            crate::gofmt::quote(text)
        ));
    }
    Ok(n)
}

fn simplify_complex(n: &mut Number) {
    if n.imag == 0.0 {
        n.is_float = true;
        let f = n.float;
        if f.fract() == 0.0 && f.abs() < 9.2e18 {
            n.is_int = true;
            n.int = f as i64;
        }
        if f >= 0.0 && f.fract() == 0.0 && f < 1.8e19 {
            n.is_uint = true;
            n.uint = f as u64;
        }
    }
}

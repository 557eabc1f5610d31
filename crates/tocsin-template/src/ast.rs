//! Parse tree for templates, mirroring the node kinds of Go's
//! `text/template/parse`. Every node keeps its byte position in the parsed
//! text so execution errors can report Go's `line:col` and node text.

use crate::funcs::Func;
use std::fmt;

/// A sequence of nodes (Go's `ListNode`).
#[derive(Debug, Clone, Default)]
pub(crate) struct List {
    pub nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// The four declarations of [`crate::ALERT_TEMPLATE_PREFIX`], parsed
    /// once (see [`crate::parse::alert_prefix`]) instead of per template.
    AlertPrefix,
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: usize,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

/// Shared shape of `if`, `range` and `with`.
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: List,
    pub else_list: Option<List>,
}

pub(crate) struct Pipe {
    pub pos: usize,
    pub is_assign: bool,
    pub decl: Vec<String>,
    pub cmds: Vec<Command>,
}

// Trees nest as deeply as templates do (up to `MAX_DEPTH`), through
// `Branch` (control structures) and `Pipe` (parentheses): their `Drop`,
// `Clone` and `Debug` recurse on stack that grows as needed, as parsing and
// rendering do. The `Display`s below recurse through `Node` and `Arg`.

impl Drop for Branch {
    fn drop(&mut self) {
        let list = std::mem::take(&mut self.list);
        let else_list = self.else_list.take();
        crate::stack::guard(move || drop((list, else_list)));
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        let cmds = std::mem::take(&mut self.cmds);
        crate::stack::guard(move || drop(cmds));
    }
}

impl Clone for Branch {
    fn clone(&self) -> Self {
        crate::stack::guard(|| Branch {
            pipe: self.pipe.clone(),
            list: self.list.clone(),
            else_list: self.else_list.clone(),
        })
    }
}

impl Clone for Pipe {
    fn clone(&self) -> Self {
        crate::stack::guard(|| Pipe {
            pos: self.pos,
            is_assign: self.is_assign,
            decl: self.decl.clone(),
            cmds: self.cmds.clone(),
        })
    }
}

impl fmt::Debug for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::guard(|| {
            f.debug_struct("Branch")
                .field("pipe", &self.pipe)
                .field("list", &self.list)
                .field("else_list", &self.else_list)
                .finish()
        })
    }
}

impl fmt::Debug for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::guard(|| {
            f.debug_struct("Pipe")
                .field("pos", &self.pos)
                .field("is_assign", &self.is_assign)
                .field("decl", &self.decl)
                .field("cmds", &self.cmds)
                .finish()
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Command {
    pub pos: usize,
    pub args: Vec<Arg>,
}

/// Identifiers joined by dots (`$x.a.b`, or `a.b` for `.a.b`), as one
/// string: names never contain a dot, and one allocation per chain beats
/// one per name on the parse hot path.
#[derive(Debug, Clone, Default)]
pub(crate) struct Path(pub String);

impl Path {
    pub fn new(first: &str) -> Self {
        Path(first.to_string())
    }

    /// Append a field token's text (`.name`, dot included).
    pub fn push_field(&mut self, token: &str) {
        if self.0.is_empty() {
            self.0.push_str(&token[1..]);
        } else {
            self.0.push_str(token);
        }
    }

    /// The first name and the rest, if any.
    pub fn split_first(&self) -> (&str, Option<&str>) {
        // A byte scan: these are a few bytes long, too short for memchr.
        match self.0.bytes().position(|b| b == b'.') {
            Some(i) => (&self.0[..i], Some(&self.0[i + 1..])),
            None => (&self.0, None),
        }
    }
}

/// The dotted names of `path` (`a.b.c`) in order, the last one apart.
pub(crate) fn split_last(path: &str) -> (impl Iterator<Item = &str>, &str) {
    let (init, last) = match path.bytes().rposition(|b| b == b'.') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    };
    let init = (!init.is_empty()).then_some(init);
    (init.into_iter().flat_map(|s| s.split('.')), last)
}

/// A number literal with every interpretation Go's parser derives from it.
#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub text: String,
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub is_complex: bool,
    pub int: i64,
    pub uint: u64,
    pub float: f64,
    /// Imaginary part, for complex literals.
    pub imag: f64,
}

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Field {
        pos: usize,
        idents: Path,
    },
    Chain {
        pos: usize,
        node: Box<Arg>,
        fields: Path,
    },
    /// A function name; `func.name()` is its text.
    Ident {
        pos: usize,
        func: Func,
    },
    Dot {
        pos: usize,
    },
    Nil {
        pos: usize,
    },
    Variable {
        pos: usize,
        idents: Path,
    },
    Bool {
        pos: usize,
        value: bool,
    },
    Number {
        pos: usize,
        num: Box<Number>,
    },
    Str {
        pos: usize,
        quoted: String,
        text: String,
    },
    Pipe(Box<Pipe>),
}

impl Arg {
    pub fn pos(&self) -> usize {
        match self {
            Arg::Field { pos, .. }
            | Arg::Chain { pos, .. }
            | Arg::Ident { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Variable { pos, .. }
            | Arg::Bool { pos, .. }
            | Arg::Number { pos, .. }
            | Arg::Str { pos, .. } => *pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl fmt::Display for Arg {
    /// Go's `Node.String()`, used as the `<context>` of execution errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::guard(|| self.fmt_here(f))
    }
}

impl Arg {
    fn fmt_here(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Field { idents, .. } => write!(f, ".{}", idents.0),
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(_) = **node {
                    write!(f, "({node})")?;
                } else {
                    write!(f, "{node}")?;
                }
                write!(f, ".{}", fields.0)
            }
            Arg::Ident { func, .. } => f.write_str(func.name()),
            Arg::Dot { .. } => f.write_str("."),
            Arg::Nil { .. } => f.write_str("nil"),
            Arg::Variable { idents, .. } => f.write_str(&idents.0),
            Arg::Bool { value, .. } => write!(f, "{value}"),
            Arg::Number { num, .. } => f.write_str(&num.text),
            Arg::Str { quoted, .. } => f.write_str(quoted),
            Arg::Pipe(p) => write!(f, "{p}"),
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if let Arg::Pipe(_) = a {
                write!(f, "({a})")?;
            } else {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            // Go prints ":=" for assignments too.
            f.write_str(" := ")?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for n in &self.nodes {
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::stack::guard(|| self.fmt_here(f))
    }
}

impl Node {
    fn fmt_here(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let branch = |f: &mut fmt::Formatter<'_>, name: &str, b: &Branch| {
            write!(f, "{{{{{name} {}}}}}{}", b.pipe, b.list)?;
            if let Some(e) = &b.else_list {
                write!(f, "{{{{else}}}}{e}")?;
            }
            f.write_str("{{end}}")
        };
        match self {
            Node::AlertPrefix => write!(f, "{}", crate::parse::alert_prefix()),
            Node::Text(t) => f.write_str(t),
            Node::Action(p) => write!(f, "{{{{{p}}}}}"),
            Node::If(b) => branch(f, "if", b),
            Node::Range(b) => branch(f, "range", b),
            Node::With(b) => branch(f, "with", b),
            Node::Template { name, pipe, .. } => match pipe {
                Some(p) => write!(f, "{{{{template {} {p}}}}}", crate::gofmt::quote(name)),
                None => write!(f, "{{{{template {}}}}}", crate::gofmt::quote(name)),
            },
            Node::Break => f.write_str("{{break}}"),
            Node::Continue => f.write_str("{{continue}}"),
        }
    }
}

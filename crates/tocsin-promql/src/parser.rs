//! Recursive-descent parser reproducing the verdicts and the *first* error
//! message of Prometheus 2.42's yacc parser.
//!
//! Prometheus reports only its first error. Semantic errors raised while
//! reducing (bad durations, regexes, unknown functions, misplaced modifiers)
//! are recorded and parsing goes on; a syntax or lexer error stops parsing.
//! Syntax errors are worded after the innermost yacc `error` rule that would
//! catch them: a label list, grouping list, offset, `@`, subquery, an
//! enclosing aggregation ("in aggregation"), or none.

use crate::ast::*;
use crate::functions::{self, Function};
use crate::goregex;
use crate::lexer::{Kind, Lexer, Token};
use crate::strutil::{parse_duration, parse_number, quote, unquote};

/// Nesting (parentheses, calls, aggregations, unary signs, `^` chains, subqueries) deeper
/// than this is rejected instead of risking stack overflow; Prometheus has no such limit.
/// Chains of left-associative operators (`a or b or …`) do not nest and have no limit.
/// Parsing, checking, printing and dropping one level take under 1 KiB of stack in a
/// release build (about 8 KiB unoptimised), so the deepest accepted expression fits the
/// 2 MiB of a spawned thread.
pub const MAX_DEPTH: u32 = 1000;

/// Parsing stopped; the error is in `Parser::err`.
pub(crate) struct Abort;

type PResult<T> = Result<T, Abort>;

static UNKNOWN_FUNCTION: Function = Function {
    name: "",
    arg_types: &[],
    variadic: -1,
    return_type: ValueType::None,
};

pub(crate) struct Parser<'a> {
    input: &'a str,
    lex: Lexer<'a>,
    peeked: Option<Token>,
    last_closing: u32,
    pub(crate) err: Option<(usize, String)>,
    agg_depth: u32,
    depth: u32,
}

fn binary_op(kind: Kind) -> Option<(BinaryOp, u8)> {
    Some(match kind {
        Kind::Lor => (BinaryOp::Or, 1),
        Kind::Land => (BinaryOp::And, 2),
        Kind::Lunless => (BinaryOp::Unless, 2),
        Kind::Eqlc => (BinaryOp::Eql, 3),
        Kind::Neq => (BinaryOp::Neq, 3),
        Kind::Gtr => (BinaryOp::Gtr, 3),
        Kind::Lss => (BinaryOp::Lss, 3),
        Kind::Gte => (BinaryOp::Gte, 3),
        Kind::Lte => (BinaryOp::Lte, 3),
        Kind::Add => (BinaryOp::Add, 4),
        Kind::Sub => (BinaryOp::Sub, 4),
        Kind::Mul => (BinaryOp::Mul, 5),
        Kind::Div => (BinaryOp::Div, 5),
        Kind::Mod => (BinaryOp::Mod, 5),
        Kind::Atan2 => (BinaryOp::Atan2, 5),
        Kind::Pow => (BinaryOp::Pow, 6),
        _ => return None,
    })
}

const POW_PREC: u8 = 6;

fn aggregate_op(kind: Kind) -> Option<AggregateOp> {
    Some(match kind {
        Kind::Sum => AggregateOp::Sum,
        Kind::Avg => AggregateOp::Avg,
        Kind::Count => AggregateOp::Count,
        Kind::Min => AggregateOp::Min,
        Kind::Max => AggregateOp::Max,
        Kind::Group => AggregateOp::Group,
        Kind::Stddev => AggregateOp::Stddev,
        Kind::Stdvar => AggregateOp::Stdvar,
        Kind::Topk => AggregateOp::Topk,
        Kind::Bottomk => AggregateOp::Bottomk,
        Kind::CountValues => AggregateOp::CountValues,
        Kind::Quantile => AggregateOp::Quantile,
        _ => return None,
    })
}

/// Tokens that can begin an expression.
fn starts_expr(kind: Kind) -> bool {
    kind.is_metric_identifier()
        || matches!(
            kind,
            Kind::Number | Kind::String | Kind::LeftParen | Kind::LeftBrace | Kind::Add | Kind::Sub
        )
}

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    match b.first() {
        Some(&c) if c == b'_' || c.is_ascii_alphabetic() => {}
        _ => return false,
    }
    b.iter().all(|&c| c == b'_' || c.is_ascii_alphanumeric())
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str) -> Parser<'a> {
        Parser {
            input,
            lex: Lexer::new(input),
            peeked: None,
            last_closing: 0,
            err: None,
            agg_depth: 0,
            depth: 0,
        }
    }

    /// Records an error unless an earlier one exists (Prometheus reports the first).
    fn record(&mut self, offset: u32, msg: impl FnOnce() -> String) {
        if self.err.is_none() {
            self.err = Some((offset as usize, msg()));
        }
    }

    fn peek(&mut self) -> PResult<Token> {
        if let Some(t) = self.peeked {
            return Ok(t);
        }
        loop {
            match self.lex.next_token() {
                Ok(t) if t.kind == Kind::Comment => continue,
                Ok(t) => {
                    if matches!(
                        t.kind,
                        Kind::RightBrace
                            | Kind::RightParen
                            | Kind::RightBracket
                            | Kind::Duration
                            | Kind::Number
                    ) {
                        self.last_closing = t.end;
                    }
                    self.peeked = Some(t);
                    return Ok(t);
                }
                Err(e) => {
                    if self.err.is_none() {
                        self.err = Some((e.offset, e.message));
                    }
                    return Err(Abort);
                }
            }
        }
    }

    fn advance(&mut self) -> PResult<Token> {
        let t = self.peek()?;
        self.peeked = None;
        Ok(t)
    }

    fn text(&self, t: Token) -> &'a str {
        t.text(self.input)
    }

    /// Records "unexpected <tok> in <ctx>, expected <exp>" for `tok`.
    fn unexpected_tok(&mut self, tok: Token, ctx: &str, exp: &str) {
        if self.err.is_some() {
            return;
        }
        let mut msg = String::from("unexpected ");
        msg.push_str(&tok.describe(self.input));
        if !ctx.is_empty() {
            msg.push_str(" in ");
            msg.push_str(ctx);
        }
        if !exp.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(exp);
        }
        self.err = Some((tok.start as usize, msg));
    }

    /// A syntax error at the lookahead token; stops parsing.
    fn unexpected(&mut self, ctx: &str, exp: &str) -> Abort {
        if let Ok(tok) = self.peek() {
            self.unexpected_tok(tok, ctx, exp);
        }
        Abort
    }

    /// A syntax error caught by the nearest enclosing aggregation, or the root.
    fn unexpected_here(&mut self) -> Abort {
        if self.agg_depth > 0 {
            self.unexpected("aggregation", "")
        } else {
            self.unexpected("", "")
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        self.check_height(0)
    }

    /// Bounds the tree height (nesting plus postfix modifier chains) so
    /// that neither parsing nor checking, printing or dropping the tree can
    /// overflow the stack. Binary chains are walked without recursion and
    /// do not count.
    fn check_height(&mut self, chain: u32) -> PResult<()> {
        if self.depth + chain > MAX_DEPTH {
            let offset = self.peek().map(|t| t.start).unwrap_or(0);
            self.record(offset, || {
                format!("expression nests too deeply (more than {MAX_DEPTH} levels)")
            });
            return Err(Abort);
        }
        Ok(())
    }

    pub(crate) fn parse_top(&mut self) -> PResult<Expr> {
        let tok = self.peek()?;
        if tok.kind == Kind::Eof {
            self.record(0, || "no expression found in input".to_owned());
            return Err(Abort);
        }
        let expr = self.parse_expr(0)?;
        if self.peek()?.kind != Kind::Eof {
            return Err(self.unexpected_here());
        }
        Ok(expr)
    }

    fn parse_expr(&mut self, min_prec: u8) -> PResult<Expr> {
        self.enter()?;
        let mut lhs = self.parse_unary()?;
        loop {
            let tok = self.peek()?;
            let Some((op, prec)) = binary_op(tok.kind) else {
                break;
            };
            if prec < min_prec {
                break;
            }
            self.advance()?;
            let (return_bool, matching) = self.parse_bin_modifiers()?;
            let next_min = if op == BinaryOp::Pow { prec } else { prec + 1 };
            let rhs = self.parse_expr(next_min)?;
            lhs = Expr::Binary {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
                return_bool,
                matching,
            };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn parse_bin_modifiers(&mut self) -> PResult<(bool, VectorMatching)> {
        let mut matching = VectorMatching {
            card: Cardinality::OneToOne,
            on: false,
            labels: Vec::new(),
            include: Vec::new(),
        };
        let mut return_bool = false;
        let mut tok = self.peek()?;
        if tok.kind == Kind::Bool {
            self.advance()?;
            return_bool = true;
            tok = self.peek()?;
        }
        if matches!(tok.kind, Kind::On | Kind::Ignoring) {
            self.advance()?;
            matching.on = tok.kind == Kind::On;
            matching.labels = self.parse_grouping_labels()?;
            let tok = self.peek()?;
            if matches!(tok.kind, Kind::GroupLeft | Kind::GroupRight) {
                self.advance()?;
                matching.card = if tok.kind == Kind::GroupLeft {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                };
                // yacc reduces the empty label list only before an
                // expression; anything else is a grouping-list error.
                let next = self.peek()?.kind;
                if next == Kind::LeftParen {
                    matching.include = self.parse_grouping_labels()?;
                } else if !starts_expr(next) {
                    return Err(self.unexpected("grouping opts", "\"(\""));
                }
            }
        }
        Ok((return_bool, matching))
    }

    fn parse_grouping_labels(&mut self) -> PResult<Vec<String>> {
        if self.peek()?.kind != Kind::LeftParen {
            return Err(self.unexpected("grouping opts", "\"(\""));
        }
        self.advance()?;
        let mut labels = Vec::new();
        if self.peek()?.kind == Kind::RightParen {
            self.advance()?;
            return Ok(labels);
        }
        loop {
            let tok = self.peek()?;
            if !tok.kind.is_maybe_label() {
                return Err(self.unexpected("grouping opts", "label"));
            }
            self.advance()?;
            let text = self.text(tok);
            if !is_label(text) {
                self.unexpected_tok(tok, "grouping opts", "label");
            }
            labels.push(text.to_owned());
            match self.peek()?.kind {
                Kind::Comma => {
                    self.advance()?;
                    if self.peek()?.kind == Kind::RightParen {
                        self.advance()?;
                        return Ok(labels);
                    }
                }
                Kind::RightParen => {
                    self.advance()?;
                    return Ok(labels);
                }
                _ => return Err(self.unexpected("grouping opts", "\",\" or \")\"")),
            }
        }
    }

    fn parse_unary(&mut self) -> PResult<Expr> {
        let tok = self.peek()?;
        if matches!(tok.kind, Kind::Add | Kind::Sub) {
            self.advance()?;
            let negate = tok.kind == Kind::Sub;
            let operand = self.parse_expr(POW_PREC)?;
            return Ok(match operand {
                Expr::Number { value, span } => Expr::Number {
                    value: if negate { -value } else { value },
                    span: Span {
                        start: tok.start,
                        end: span.end,
                    },
                },
                other => Expr::Unary {
                    negate,
                    expr: Box::new(other),
                    start: tok.start,
                },
            });
        }
        let primary = self.parse_primary()?;
        self.parse_postfix(primary)
    }

    fn parse_primary(&mut self) -> PResult<Expr> {
        let tok = self.peek()?;
        match tok.kind {
            Kind::Number => {
                self.advance()?;
                let value = match parse_number(self.text(tok)) {
                    Ok(v) => v,
                    Err(e) => {
                        self.record(tok.start, || format!("error parsing number: {e}"));
                        0.0
                    }
                };
                Ok(Expr::Number {
                    value,
                    span: Span {
                        start: tok.start,
                        end: tok.end,
                    },
                })
            }
            Kind::String => {
                self.advance()?;
                Ok(Expr::String {
                    value: unquote(self.text(tok)),
                    span: Span {
                        start: tok.start,
                        end: tok.end,
                    },
                })
            }
            Kind::LeftParen => {
                self.advance()?;
                let inner = self.parse_expr(0)?;
                let close = self.peek()?;
                if close.kind != Kind::RightParen {
                    return Err(self.unexpected_here());
                }
                self.advance()?;
                Ok(Expr::Paren {
                    expr: Box::new(inner),
                    span: Span {
                        start: tok.start,
                        end: close.end,
                    },
                })
            }
            Kind::LeftBrace => self.parse_vector_selector(None),
            Kind::Identifier => {
                self.advance()?;
                if self.peek()?.kind == Kind::LeftParen {
                    self.parse_call(tok)
                } else {
                    self.parse_vector_selector(Some(tok))
                }
            }
            k if k.is_aggregator() => {
                self.advance()?;
                let next = self.peek()?.kind;
                if matches!(next, Kind::LeftParen | Kind::By | Kind::Without) {
                    self.parse_aggregate(tok)
                } else {
                    self.parse_vector_selector(Some(tok))
                }
            }
            k if k.is_metric_identifier() => {
                self.advance()?;
                self.parse_vector_selector(Some(tok))
            }
            _ => Err(self.unexpected_here()),
        }
    }

    /// `name_tok` is already consumed; braces, if any, are next.
    fn parse_vector_selector(&mut self, name_tok: Option<Token>) -> PResult<Expr> {
        let mut span = match name_tok {
            Some(t) => Span {
                start: t.start,
                end: t.end,
            },
            None => Span::default(),
        };
        let mut matchers = Vec::new();
        let brace = self.peek()?;
        if brace.kind == Kind::LeftBrace {
            self.advance()?;
            let end = self.parse_label_matchers(&mut matchers)?;
            if name_tok.is_none() {
                span.start = brace.start;
            }
            span.end = end;
        }
        Ok(Expr::VectorSelector(VectorSelector {
            name: name_tok
                .map(|t| self.text(t).to_owned())
                .unwrap_or_default(),
            matchers,
            offset: 0,
            at: None,
            span,
        }))
    }

    /// After `{`; returns the end offset of `}`.
    fn parse_label_matchers(&mut self, out: &mut Vec<Matcher>) -> PResult<u32> {
        let tok = self.peek()?;
        if tok.kind == Kind::RightBrace {
            self.advance()?;
            return Ok(tok.end);
        }
        loop {
            let name = self.peek()?;
            if name.kind != Kind::Identifier {
                return Err(self.unexpected("label matching", "identifier or \"}\""));
            }
            self.advance()?;
            let op_tok = self.peek()?;
            let op = match op_tok.kind {
                Kind::Eql => MatchOp::Equal,
                Kind::Neq => MatchOp::NotEqual,
                Kind::EqlRegex => MatchOp::Regex,
                Kind::NeqRegex => MatchOp::NotRegex,
                _ => return Err(self.unexpected("label matching", "label matching operator")),
            };
            self.advance()?;
            let val = self.peek()?;
            if val.kind != Kind::String {
                return Err(self.unexpected("label matching", "string"));
            }
            self.advance()?;
            let value = unquote(self.text(val));
            if matches!(op, MatchOp::Regex | MatchOp::NotRegex) && self.err.is_none() {
                if let Err(msg) = goregex::validate(&value) {
                    self.record(name.start, || msg);
                }
            }
            out.push(Matcher {
                name: self.text(name).to_owned(),
                op,
                value,
            });
            let sep = self.peek()?;
            match sep.kind {
                Kind::Comma => {
                    self.advance()?;
                    let close = self.peek()?;
                    if close.kind == Kind::RightBrace {
                        self.advance()?;
                        return Ok(close.end);
                    }
                }
                Kind::RightBrace => {
                    self.advance()?;
                    return Ok(sep.end);
                }
                _ => return Err(self.unexpected("label matching", "\",\" or \"}\"")),
            }
        }
    }

    /// Parses `( args )` after a function name or aggregation; the caller
    /// checked that `(` (or, for aggregations, anything) comes next.
    fn parse_call_body(&mut self) -> PResult<Vec<Expr>> {
        if self.peek()?.kind != Kind::LeftParen {
            return Err(self.unexpected_here());
        }
        self.advance()?;
        let mut args = Vec::new();
        if self.peek()?.kind == Kind::RightParen {
            self.advance()?;
            return Ok(args);
        }
        loop {
            args.push(self.parse_expr(0)?);
            let tok = self.peek()?;
            match tok.kind {
                Kind::Comma => {
                    self.advance()?;
                    let next = self.peek()?;
                    if !starts_expr(next.kind) {
                        self.record(tok.start, || {
                            "trailing commas not allowed in function call args".to_owned()
                        });
                        if next.kind == Kind::RightParen {
                            self.advance()?;
                            return Ok(args);
                        }
                        return Err(self.unexpected_here());
                    }
                }
                Kind::RightParen => {
                    self.advance()?;
                    return Ok(args);
                }
                _ => return Err(self.unexpected_here()),
            }
        }
    }

    fn parse_call(&mut self, name_tok: Token) -> PResult<Expr> {
        let args = self.parse_call_body()?;
        let name = self.text(name_tok);
        let func = match functions::lookup(name) {
            Some(f) => f,
            None => {
                self.record(name_tok.start, || {
                    format!("unknown function with name {}", quote(name))
                });
                &UNKNOWN_FUNCTION
            }
        };
        Ok(Expr::Call {
            func,
            args,
            span: Span {
                start: name_tok.start,
                end: self.last_closing,
            },
        })
    }

    fn parse_aggregate(&mut self, op_tok: Token) -> PResult<Expr> {
        let Some(op) = aggregate_op(op_tok.kind) else {
            return Err(self.unexpected_here());
        };
        self.agg_depth += 1;
        let mut grouping = Vec::new();
        let mut without = false;
        let first = self.peek()?;
        let args = if matches!(first.kind, Kind::By | Kind::Without) {
            self.advance()?;
            without = first.kind == Kind::Without;
            grouping = self.parse_grouping_labels()?;
            self.parse_call_body()?
        } else {
            let args = self.parse_call_body()?;
            let next = self.peek()?;
            if matches!(next.kind, Kind::By | Kind::Without) {
                self.advance()?;
                without = next.kind == Kind::Without;
                grouping = self.parse_grouping_labels()?;
            }
            args
        };
        self.agg_depth -= 1;
        let span = Span {
            start: op_tok.start,
            end: self.last_closing,
        };
        let desired = if op.takes_param() { 2 } else { 1 };
        if args.is_empty() {
            self.record(span.start, || {
                "no arguments for aggregate expression provided".to_owned()
            });
        } else if args.len() != desired {
            let got = args.len();
            self.record(span.start, || {
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {desired}, got {got}"
                )
            });
        }
        let mut args = args.into_iter();
        let (param, expr) = if desired == 2 {
            (args.next().map(Box::new), args.next())
        } else {
            (None, args.next())
        };
        let expr = expr.unwrap_or(Expr::Number { value: 0.0, span });
        Ok(Expr::Aggregate {
            op,
            expr: Box::new(expr),
            param,
            grouping,
            without,
            span,
        })
    }

    fn parse_postfix(&mut self, mut expr: Expr) -> PResult<Expr> {
        let mut chain = 0;
        loop {
            let tok = self.peek()?;
            if !matches!(tok.kind, Kind::LeftBracket | Kind::Offset | Kind::At) {
                return Ok(expr);
            }
            chain += 1;
            self.check_height(chain)?;
            expr = match tok.kind {
                Kind::LeftBracket => self.parse_range(expr, tok)?,
                Kind::Offset => self.parse_offset(expr)?,
                Kind::At => self.parse_at(expr)?,
                _ => return Ok(expr),
            };
        }
    }

    fn duration_value(&mut self, tok: Token) -> i64 {
        match parse_duration(self.text(tok)) {
            Ok(d) => d,
            Err(msg) => {
                self.record(tok.start, || msg);
                0
            }
        }
    }

    fn parse_range(&mut self, expr: Expr, open: Token) -> PResult<Expr> {
        self.advance()?;
        let dur = self.peek()?;
        if dur.kind != Kind::Duration {
            return Err(self.unexpected("subquery selector", "duration"));
        }
        self.advance()?;
        let range = self.duration_value(dur);
        let tok = self.peek()?;
        match tok.kind {
            Kind::RightBracket => {
                self.advance()?;
                let problem = match &expr {
                    Expr::VectorSelector(vs) if vs.offset != 0 => {
                        Some("no offset modifiers allowed before range")
                    }
                    Expr::VectorSelector(vs) if vs.at.is_some() => {
                        Some("no @ modifiers allowed before range")
                    }
                    Expr::VectorSelector(_) => None,
                    _ => Some("ranges only allowed for vector selectors"),
                };
                if let Some(p) = problem {
                    self.record(open.start, || p.to_owned());
                }
                let span = Span {
                    start: expr.span().start,
                    end: self.last_closing,
                };
                Ok(Expr::MatrixSelector {
                    selector: Box::new(expr),
                    range,
                    span,
                })
            }
            Kind::Colon => {
                self.advance()?;
                let mut step = 0;
                let mut next = self.peek()?;
                if next.kind == Kind::Duration {
                    self.advance()?;
                    step = self.duration_value(next);
                    next = self.peek()?;
                    if next.kind != Kind::RightBracket {
                        return Err(self.unexpected("subquery selector", "\"]\""));
                    }
                } else if next.kind != Kind::RightBracket {
                    return Err(self.unexpected("subquery selector", "duration or \"]\""));
                }
                self.advance()?;
                let span = Span {
                    start: expr.span().start,
                    end: next.start + 1,
                };
                Ok(Expr::Subquery {
                    expr: Box::new(expr),
                    range,
                    step,
                    offset: 0,
                    at: None,
                    span,
                })
            }
            _ => Err(self.unexpected("subquery or range", "\":\" or \"]\"")),
        }
    }

    fn parse_offset(&mut self, mut expr: Expr) -> PResult<Expr> {
        self.advance()?;
        let mut tok = self.peek()?;
        let mut negative = false;
        if tok.kind == Kind::Sub {
            self.advance()?;
            negative = true;
            tok = self.peek()?;
        }
        if tok.kind != Kind::Duration {
            return Err(self.unexpected("offset", "duration"));
        }
        self.advance()?;
        let mut d = self.duration_value(tok);
        if negative {
            d = -d;
        }
        let start = expr.span().start;
        let last_closing = self.last_closing;
        let target: Option<(&mut i64, &mut u32)> = match &mut expr {
            Expr::VectorSelector(vs) => Some((&mut vs.offset, &mut vs.span.end)),
            Expr::MatrixSelector { selector, span, .. } => match selector.as_mut() {
                Expr::VectorSelector(vs) => Some((&mut vs.offset, &mut span.end)),
                _ => {
                    self.record(start, || {
                        "ranges only allowed for vector selectors".to_owned()
                    });
                    return Ok(expr);
                }
            },
            Expr::Subquery { offset, span, .. } => Some((offset, &mut span.end)),
            _ => None,
        };
        match target {
            Some((offset, end)) => {
                if *offset != 0 {
                    if self.err.is_none() {
                        self.err = Some((
                            start as usize,
                            "offset may not be set multiple times".to_owned(),
                        ));
                    }
                } else {
                    *offset = d;
                }
                *end = last_closing;
            }
            None => self.record(start, || {
                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery".to_owned()
            }),
        }
        Ok(expr)
    }

    fn parse_at(&mut self, mut expr: Expr) -> PResult<Expr> {
        self.advance()?;
        let tok = self.peek()?;
        let at = match tok.kind {
            Kind::Number | Kind::Add | Kind::Sub => {
                self.advance()?;
                let num = if tok.kind == Kind::Number {
                    tok
                } else {
                    let n = self.peek()?;
                    if n.kind != Kind::Number {
                        return Err(self.unexpected("@", "timestamp"));
                    }
                    self.advance()?;
                    n
                };
                let mut ts = match parse_number(self.text(num)) {
                    Ok(v) => v,
                    Err(e) => {
                        self.record(num.start, || format!("error parsing number: {e}"));
                        0.0
                    }
                };
                if tok.kind == Kind::Sub {
                    ts = -ts;
                }
                if !ts.is_finite() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
                    let start = expr.span().start;
                    self.record(start, || {
                        format!("timestamp out of bounds for @ modifier: {}", go_float_f(ts))
                    });
                }
                At::Timestamp((ts * 1000.0).round() as i64)
            }
            Kind::Start | Kind::End => {
                self.advance()?;
                if self.peek()?.kind != Kind::LeftParen {
                    return Err(self.unexpected("@", "timestamp"));
                }
                self.advance()?;
                if self.peek()?.kind != Kind::RightParen {
                    return Err(self.unexpected("@", "timestamp"));
                }
                self.advance()?;
                if tok.kind == Kind::Start {
                    At::Start
                } else {
                    At::End
                }
            }
            _ => return Err(self.unexpected("@", "timestamp")),
        };
        let start = expr.span().start;
        let last_closing = self.last_closing;
        let target: Option<(&mut Option<At>, &mut u32)> = match &mut expr {
            Expr::VectorSelector(vs) => Some((&mut vs.at, &mut vs.span.end)),
            Expr::MatrixSelector { selector, span, .. } => match selector.as_mut() {
                Expr::VectorSelector(vs) => Some((&mut vs.at, &mut span.end)),
                _ => {
                    self.record(start, || {
                        "ranges only allowed for vector selectors".to_owned()
                    });
                    return Ok(expr);
                }
            },
            Expr::Subquery { at, span, .. } => Some((at, &mut span.end)),
            _ => None,
        };
        match target {
            Some((slot, end)) => {
                if slot.is_some() {
                    if self.err.is_none() {
                        self.err = Some((
                            start as usize,
                            "@ <timestamp> may not be set multiple times".to_owned(),
                        ));
                    }
                } else {
                    *slot = Some(at);
                    *end = last_closing;
                }
            }
            None => self.record(start, || {
                "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery".to_owned()
            }),
        }
        Ok(expr)
    }
}

/// Go's `%f` for a float64.
fn go_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v:.6}")
    }
}

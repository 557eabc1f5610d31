//! A compact PromQL syntax tree. Positions are byte offsets into the input.

use std::fmt;

/// The type an expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    None,
    Scalar,
    Vector,
    Matrix,
    String,
}

impl ValueType {
    /// The type of a binary operation whose sides have types `lhs` and `rhs`: scalar only
    /// when both are.
    pub(crate) fn of_binary(lhs: ValueType, rhs: ValueType) -> ValueType {
        if lhs == ValueType::Scalar && rhs == ValueType::Scalar {
            ValueType::Scalar
        } else {
            ValueType::Vector
        }
    }

    /// Prometheus's internal name (`vector`, `matrix`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::None => "none",
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }

    /// The name Prometheus uses in documentation and most messages.
    pub fn documented(self) -> &'static str {
        match self {
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            other => other.name(),
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Byte range of a node in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

/// The operator of a label matcher (shared with Alertmanager's routes).
pub use tocsin_core::MatchOp;

#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

/// `@` modifier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum At {
    /// Milliseconds since the epoch.
    Timestamp(i64),
    Start,
    End,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// Metric name written before the braces; empty when absent.
    pub name: String,
    /// Matchers written in braces (the name is not repeated here).
    pub matchers: Vec<Matcher>,
    /// Offset in milliseconds (negative allowed), 0 when absent.
    pub offset: i64,
    pub at: Option<At>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
}

impl AggregateOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
        }
    }

    pub fn takes_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eql,
    Neq,
    Gtr,
    Lss,
    Gte,
    Lte,
    And,
    Or,
    Unless,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gtr => ">",
            BinaryOp::Lss => "<",
            BinaryOp::Gte => ">=",
            BinaryOp::Lte => "<=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eql
                | BinaryOp::Neq
                | BinaryOp::Gtr
                | BinaryOp::Lss
                | BinaryOp::Gte
                | BinaryOp::Lte
        )
    }

    pub fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cardinality {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `on`/`ignoring` and `group_left`/`group_right` of a binary expression.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    pub card: Cardinality,
    /// `true` for `on(...)`, `false` for `ignoring(...)` or no clause.
    pub on: bool,
    pub labels: Vec<String>,
    /// Labels listed in `group_left(...)`/`group_right(...)`.
    pub include: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Number {
        value: f64,
        span: Span,
    },
    String {
        value: String,
        span: Span,
    },
    VectorSelector(VectorSelector),
    MatrixSelector {
        selector: Box<Expr>,
        /// Range in milliseconds.
        range: i64,
        span: Span,
    },
    Subquery {
        expr: Box<Expr>,
        range: i64,
        /// Step in milliseconds, 0 when omitted.
        step: i64,
        offset: i64,
        at: Option<At>,
        span: Span,
    },
    Call {
        func: &'static crate::functions::Function,
        args: Vec<Expr>,
        span: Span,
    },
    Aggregate {
        op: AggregateOp,
        expr: Box<Expr>,
        param: Option<Box<Expr>>,
        grouping: Vec<String>,
        without: bool,
        span: Span,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        return_bool: bool,
        matching: VectorMatching,
    },
    Unary {
        /// `true` for `-`, `false` for `+`.
        negate: bool,
        expr: Box<Expr>,
        start: u32,
    },
    Paren {
        expr: Box<Expr>,
        span: Span,
    },
}

impl Expr {
    /// The type this expression evaluates to, as Prometheus's `Type()`.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number { .. } => ValueType::Scalar,
            Expr::String { .. } => ValueType::String,
            Expr::VectorSelector(_) | Expr::Aggregate { .. } => ValueType::Vector,
            Expr::MatrixSelector { .. } | Expr::Subquery { .. } => ValueType::Matrix,
            Expr::Call { func, .. } => func.return_type,
            // Scalar only when every operand is: walked along the left spine, so that a
            // chain of thousands of `or`s needs no recursion per operand.
            Expr::Binary { .. } => {
                let mut node = self;
                while let Expr::Binary { lhs, rhs, .. } = node {
                    if rhs.value_type() != ValueType::Scalar {
                        return ValueType::Vector;
                    }
                    node = lhs;
                }
                ValueType::of_binary(node.value_type(), ValueType::Scalar)
            }
            Expr::Unary { expr, .. } | Expr::Paren { expr, .. } => expr.value_type(),
        }
    }

    /// The node's byte range, as Prometheus's `PositionRange()`.
    pub fn span(&self) -> Span {
        match self {
            Expr::Number { span, .. }
            | Expr::String { span, .. }
            | Expr::MatrixSelector { span, .. }
            | Expr::Subquery { span, .. }
            | Expr::Call { span, .. }
            | Expr::Aggregate { span, .. }
            | Expr::Paren { span, .. } => *span,
            Expr::VectorSelector(vs) => vs.span,
            Expr::Binary { rhs, .. } => Span {
                start: self.leftmost_operand().span().start,
                end: rhs.span().end,
            },
            Expr::Unary { expr, start, .. } => Span {
                start: *start,
                end: expr.span().end,
            },
        }
    }
}

impl Expr {
    /// The first operand of a chain of binary operations (`a` in `a or b or c`), or the
    /// expression itself when it is not a binary operation.
    pub(crate) fn leftmost_operand(&self) -> &Expr {
        let mut node = self;
        while let Expr::Binary { lhs, .. } = node {
            node = lhs;
        }
        node
    }

    /// The binary operations along the left spine, outermost first: `[(a or b) or c, a or b]`
    /// for `a or b or c`. Empty when the expression is not a binary operation.
    pub(crate) fn left_spine(&self) -> Vec<&Expr> {
        let mut spine = Vec::new();
        let mut node = self;
        while let Expr::Binary { lhs, .. } = node {
            spine.push(node);
            node = lhs;
        }
        spine
    }
}

/// Dropping a chain of binary operations one link at a time: the derived drop would recurse
/// once per operand and overflow the stack on a chain of a few hundred thousand `or`s.
impl Drop for Expr {
    fn drop(&mut self) {
        let Expr::Binary { lhs, .. } = self else {
            return;
        };
        if !matches!(**lhs, Expr::Binary { .. }) {
            return;
        }
        let mut next = std::mem::replace(lhs, Box::new(Expr::placeholder()));
        loop {
            let Expr::Binary { lhs, .. } = &mut *next else {
                return;
            };
            if !matches!(**lhs, Expr::Binary { .. }) {
                return;
            }
            let inner = std::mem::replace(lhs, Box::new(Expr::placeholder()));
            // `next` now holds no chain below it, so dropping it recurses no further.
            drop(std::mem::replace(&mut next, inner));
        }
    }
}

impl Expr {
    fn placeholder() -> Expr {
        Expr::Number {
            value: 0.0,
            span: Span::default(),
        }
    }
}

impl Expr {
    /// The vector selectors of the expression, in text order, found without recursion.
    pub fn selectors(&self) -> Vec<&VectorSelector> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(e) = stack.pop() {
            match e {
                Expr::Number { .. } | Expr::String { .. } => {}
                Expr::VectorSelector(vs) => out.push(vs),
                Expr::MatrixSelector { selector: x, .. }
                | Expr::Subquery { expr: x, .. }
                | Expr::Unary { expr: x, .. }
                | Expr::Paren { expr: x, .. } => stack.push(x),
                Expr::Call { args, .. } => stack.extend(args.iter().rev()),
                Expr::Aggregate { expr, param, .. } => {
                    stack.push(expr);
                    if let Some(p) = param {
                        stack.push(p);
                    }
                }
                Expr::Binary { lhs, rhs, .. } => {
                    stack.push(rhs);
                    stack.push(lhs);
                }
            }
        }
        out
    }
}

impl VectorSelector {
    /// The metric name the selector asks for: written before the braces or as an equality
    /// `__name__` matcher.
    pub fn metric_name(&self) -> Option<&str> {
        if !self.name.is_empty() {
            return Some(&self.name);
        }
        self.matchers
            .iter()
            .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
            .map(|m| m.value.as_str())
    }
}

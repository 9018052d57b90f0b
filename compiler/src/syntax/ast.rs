//! The syntax tree of a `.ward` file, every node with its exact byte span.

use std::fmt;

/// A byte range into one source file. Spans never cross files; the file is
/// known from context (the [`File`] that owns the node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.len()).into()
    }
}

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed `.ward` file.
#[derive(Clone, Debug, Default)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug)]
pub enum Item {
    /// `source k8s.audit`: the default source of the file's rules.
    Source(Ident),
    /// `import "common.ward"`: a path relative to the importing file.
    Import(StrLit),
    List(ListDecl),
    /// `extend list name [...]`: more items for a list declared anywhere
    /// in the rule set.
    Extend(ListExtend),
    Macro(MacroDecl),
    Rule(Box<RuleDecl>),
    /// `tune rule name { ... }`: the entries a site adds to (or changes in)
    /// a rule written elsewhere, parsed as a rule body named after it.
    Tune(Box<RuleDecl>),
}

/// `list name = [...]`, or `fill list name = [...]`: a list each site
/// fills, whose rules are inactive while it is empty.
#[derive(Clone, Debug)]
pub struct ListDecl {
    pub name: Ident,
    pub items: Vec<Literal>,
    pub fill: bool,
    pub span: Span,
}

/// `extend list name [...]`
#[derive(Clone, Debug)]
pub struct ListExtend {
    pub name: Ident,
    pub items: Vec<Literal>,
    pub span: Span,
}

/// `macro name = condition`, or `macro name(x, L) = condition`.
#[derive(Clone, Debug)]
pub struct MacroDecl {
    pub name: Ident,
    /// The parameters, in order; empty for a plain macro, which is used by
    /// its bare name and never called.
    pub params: Vec<Ident>,
    pub body: Expr,
    /// `override macro`: replaces the macro of that name declared elsewhere.
    pub overrides: bool,
    pub span: Span,
}

/// `rule id { ... }`
#[derive(Clone, Debug)]
pub struct RuleDecl {
    pub name: Ident,
    /// A rule-level `source` overriding the file's.
    pub source: Option<Ident>,
    pub meta: Vec<Meta>,
    /// Every `when` written; more than one is a diagnostic, not a parse error.
    pub when: Vec<Expr>,
    pub excepts: Vec<Expr>,
    pub output: Option<StrLit>,
    pub count: Option<Count>,
    pub sequence: Option<Sequence>,
    pub span: Span,
}

impl RuleDecl {
    pub fn meta(&self, key: &str) -> Option<&Meta> {
        self.meta.iter().find(|m| m.key.name == key)
    }
}

/// `key value` in a rule body: title, severity, tags, ...
#[derive(Clone, Debug)]
pub struct Meta {
    pub key: Ident,
    pub value: MetaValue,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum MetaValue {
    Str(StrLit),
    Tags(Vec<StrLit>),
    Bool(bool, Span),
    Word(Ident),
}

impl MetaValue {
    pub fn span(&self) -> Span {
        match self {
            MetaValue::Str(s) => s.span,
            MetaValue::Tags(t) => t
                .first()
                .map(|f| f.span.to(t.last().map_or(f.span, |l| l.span)))
                .unwrap_or_default(),
            MetaValue::Bool(_, s) => *s,
            MetaValue::Word(w) => w.span,
        }
    }
}

/// A string literal, decoded, with the span of the whole literal (quotes
/// included) and whether it was raw (`r"..."`, no escapes).
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
    pub raw: bool,
}

/// `count [distinct FIELD] [by KEYS] within DURATION OP N`
#[derive(Clone, Debug)]
pub struct Count {
    pub distinct: Option<Path>,
    pub by: Vec<Path>,
    pub within: Literal,
    pub op: CmpOp,
    pub threshold: Literal,
    pub span: Span,
}

/// `sequence [by KEYS] within DURATION { step: cond ... until: cond }`
#[derive(Clone, Debug)]
pub struct Sequence {
    pub by: Vec<Path>,
    pub within: Literal,
    pub steps: Vec<Step>,
    pub until: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Step {
    /// `not step: ...`: the step must be absent within the window.
    pub negated: bool,
    pub name: Ident,
    pub when: Expr,
    pub by: Vec<Path>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum ExprKind {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    /// `any c in list: body` / `all c in list: body`; the list is a path
    /// or a call (`query(requestURI, "command")`).
    Quant {
        kind: Quant,
        var: Ident,
        list: Operand,
        body: Box<Expr>,
    },
    Compare {
        op: CmpOp,
        lhs: Operand,
        rhs: Operand,
    },
    /// `lhs [not] in rhs`, rhs a list literal, a named list or a list field.
    In {
        negated: bool,
        lhs: Operand,
        rhs: Operand,
    },
    /// `lhs [not] in cidr rhs`, rhs a CIDR string or a list of them.
    Cidr {
        negated: bool,
        lhs: Operand,
        rhs: Operand,
    },
    /// `lhs [not] contains rhs` and the other string tests.
    Str {
        negated: bool,
        op: StrOp,
        lhs: Operand,
        rhs: Operand,
    },
    /// `x is null` / `x is not null`
    IsNull {
        negated: bool,
        operand: Operand,
    },
    /// `x exists`
    Exists(Operand),
    /// A bare operand used as a condition: a bool field, `true`, or a macro.
    Value(Operand),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quant {
    Any,
    All,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
    pub fn is_ordering(self) -> bool {
        !matches!(self, CmpOp::Eq | CmpOp::Ne)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StrOpKind {
    Contains,
    StartsWith,
    EndsWith,
    Glob,
    Matches,
    /// The whole string: `iequals` is case-insensitive equality (and, with
    /// a list, membership).
    Equals,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StrOp {
    pub kind: StrOpKind,
    /// The `i`-prefixed, case-insensitive form.
    pub ci: bool,
}

impl fmt::Display for StrOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = match self.kind {
            StrOpKind::Contains => "contains",
            StrOpKind::StartsWith => "startswith",
            StrOpKind::EndsWith => "endswith",
            StrOpKind::Glob => "glob",
            StrOpKind::Matches => "matches",
            StrOpKind::Equals => "equals",
        };
        if self.ci {
            write!(f, "i{base}")
        } else {
            f.write_str(base)
        }
    }
}

#[derive(Clone, Debug)]
pub enum Operand {
    Lit(Literal),
    Path(Path),
    /// A derived value: `lower(user.username)`.
    Call(Call),
}

impl Operand {
    pub fn span(&self) -> Span {
        match self {
            Operand::Lit(l) => l.span,
            Operand::Path(p) => p.span,
            Operand::Call(c) => c.span,
        }
    }
}

/// As written, up to spacing and escapes: `lower(user.username)`.
impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Lit(l) => write!(f, "{l}"),
            Operand::Path(p) => write!(f, "{p}"),
            Operand::Call(c) => write!(f, "{c}"),
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name.name)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            LitKind::Str(s) if s.raw => write!(f, "r\"{}\"", s.value),
            LitKind::Str(s) => write!(f, "{:?}", s.value),
            LitKind::Int(i) => write!(f, "{i}"),
            LitKind::Float(x) => write!(f, "{x:?}"),
            LitKind::Bool(b) => write!(f, "{b}"),
            LitKind::Null => f.write_str("null"),
            LitKind::Duration(ms) => write!(f, "{ms}ms"),
            LitKind::List(items) => {
                f.write_str("[")?;
                for (i, l) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{l}")?;
                }
                f.write_str("]")
            }
        }
    }
}

/// `name(arg, ...)`: a function of operands. The name is checked against
/// [`crate::func::Func`] by the checker, not the parser.
#[derive(Clone, Debug)]
pub struct Call {
    pub name: Ident,
    pub args: Vec<Operand>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Literal {
    pub kind: LitKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LitKind {
    Str(StrLit),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    /// Milliseconds.
    Duration(u64),
    List(Vec<Literal>),
}

/// `root.seg."quoted seg"[0]`: the root is a field, a bound variable, or (when
/// it has no segments) possibly a list or macro name.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub root: Ident,
    pub segments: Vec<Segment>,
    pub span: Span,
}

impl Path {
    /// A lone identifier, which may name a list or a macro.
    pub fn as_name(&self) -> Option<&Ident> {
        self.segments.is_empty().then_some(&self.root)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.root.name)?;
        for s in &self.segments {
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub kind: SegKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SegKind {
    Field { name: String, quoted: bool },
    Index(i64),
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            SegKind::Field {
                name,
                quoted: false,
            } => write!(f, ".{name}"),
            SegKind::Field { name, quoted: true } => write!(f, ".{name:?}"),
            SegKind::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// As written, up to spacing, with the fewest parentheses that keep its
/// meaning: what a macro call expands to, in messages and tests.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Binding strength: or 1, and 2, not and quantifiers 3, tests 4.
        fn level(e: &Expr) -> u8 {
            match e.kind {
                ExprKind::Or(..) => 1,
                ExprKind::And(..) => 2,
                ExprKind::Not(_) | ExprKind::Quant { .. } => 3,
                _ => 4,
            }
        }
        fn sub(f: &mut fmt::Formatter<'_>, e: &Expr, min: u8) -> fmt::Result {
            if level(e) < min {
                write!(f, "({e})")
            } else {
                write!(f, "{e}")
            }
        }
        let neg = |n: bool| if n { "not " } else { "" };
        match &self.kind {
            ExprKind::Or(a, b) => {
                sub(f, a, 1)?;
                f.write_str(" or ")?;
                sub(f, b, 2)
            }
            ExprKind::And(a, b) => {
                sub(f, a, 2)?;
                f.write_str(" and ")?;
                sub(f, b, 3)
            }
            ExprKind::Not(a) => {
                f.write_str("not ")?;
                sub(f, a, 3)
            }
            ExprKind::Quant {
                kind,
                var,
                list,
                body,
            } => {
                let q = if *kind == Quant::Any { "any" } else { "all" };
                write!(f, "{q} {} in {list}: ", var.name)?;
                sub(f, body, 3)
            }
            ExprKind::Compare { op, lhs, rhs } => write!(f, "{lhs} {} {rhs}", op.as_str()),
            ExprKind::In { negated, lhs, rhs } => write!(f, "{lhs} {}in {rhs}", neg(*negated)),
            ExprKind::Cidr { negated, lhs, rhs } => {
                write!(f, "{lhs} {}in cidr {rhs}", neg(*negated))
            }
            ExprKind::Str {
                negated,
                op,
                lhs,
                rhs,
            } => write!(f, "{lhs} {}{op} {rhs}", neg(*negated)),
            ExprKind::IsNull { negated, operand } => {
                write!(f, "{operand} is {}null", neg(*negated))
            }
            ExprKind::Exists(o) => write!(f, "{o} exists"),
            ExprKind::Value(o) => write!(f, "{o}"),
        }
    }
}

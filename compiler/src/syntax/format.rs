//! `ward fmt`: one canonical layout for a `.ward` file (spec/formatting.md).
//!
//! The formatter prints the pest parse tree, not the [`ast`](super::ast):
//! the tree keeps what the AST drops (parentheses, the order of clauses, the
//! flat `and`/`or` chains, the exact text of every literal), so the output
//! parses to the same AST by construction. Literals, paths and names are
//! copied from the source byte for byte; only the whitespace between tokens
//! is chosen here.
//!
//! Comments are not in the parse tree (`COMMENT` is a silent rule), so they
//! are found by a small lexer and woven back in by position: each is emitted
//! at the first line break of the canonical layout that comes after it in the
//! source. A construct that holds a comment before its last break point is
//! always broken, so the comment stays at the same break point when the
//! output is formatted again, which keeps `format` idempotent.

use pest::iterators::Pair;
use pest::Parser as _;

use super::parse::{Grammar, Rule};
use crate::diagnostic::{Code, Diagnostic, FileId, Severity};

/// Lines are kept within this many columns where a break is allowed: strings
/// and long single tests are never split.
pub const WIDTH: usize = 100;

/// Formats one file. A file with syntax errors is not formatted: its
/// diagnostics are returned instead, in `file`.
pub fn format(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let (_, diags) = super::parse(file, text);
    let errors: Vec<Diagnostic> = diags
        .into_iter()
        .filter(|d| d.severity() == Severity::Error)
        .collect();
    if !errors.is_empty() {
        return Err(errors);
    }
    // The parse above found the nesting within bounds.
    let out = super::recover::with_stack(|| {
        let pairs = Grammar::parse(Rule::file, text).map_err(|_| vec![internal(file)])?;
        let mut p = Printer::new(text);
        if let Some(f) = pairs.into_iter().next() {
            p.file(f);
        }
        Ok::<_, Vec<Diagnostic>>(p.finish())
    })?;
    // A safety net for the user's file: never hand back text that lost a
    // comment or no longer parses.
    let (_, again) = super::parse(file, &out);
    let same_comments = comment_texts(text) == comment_texts(&out);
    if !same_comments || again.iter().any(|d| d.severity() == Severity::Error) {
        return Err(vec![internal(file)]);
    }
    Ok(out)
}

fn internal(file: FileId) -> Diagnostic {
    Diagnostic::new(
        Code::Syntax,
        file,
        crate::syntax::ast::Span::default(),
        "the formatter could not lay out this file; it is left unchanged",
    )
    .help("this is a bug in `ward fmt`; please report it with the file")
}

/// The text of every comment in `text`, in order, trailing spaces trimmed.
pub fn comment_texts(text: &str) -> Vec<&str> {
    comments(text)
        .into_iter()
        .map(|c| text[c.start..c.end].trim_end())
        .collect()
}

/// One `# ...` comment: its bytes (without the newline), and whether code
/// precedes it on its line (a trailing comment) or it stands on a line alone.
#[derive(Clone, Copy, Debug)]
struct Comment {
    start: usize,
    end: usize,
    trailing: bool,
}

/// The comments of a file that parses, and whether each follows code on
/// its line.
fn comments(text: &str) -> Vec<Comment> {
    super::comments(text)
        .into_iter()
        .map(|r| {
            let line_start = text[..r.start].rfind('\n').map_or(0, |n| n + 1);
            Comment {
                start: r.start,
                end: r.end,
                trailing: !text[line_start..r.start].trim().is_empty(),
            }
        })
        .collect()
}

/// Whether a new line may be preceded by a blank line kept from the source.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Blank {
    /// Inside an expression or a list: never.
    Never,
    /// Between clauses: one if the source had at least one; none before `}`.
    Keep,
    /// Between top-level items: as `Keep`, but always one around a rule.
    Force,
}

struct Printer<'a> {
    src: &'a str,
    out: String,
    comments: Vec<Comment>,
    /// The first comment not yet emitted.
    next: usize,
    /// Source offset just past the last token or comment emitted.
    last: usize,
    /// Whether the current output line already ends in a comment.
    line_comment: bool,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str) -> Self {
        Printer {
            src,
            out: String::new(),
            comments: comments(src),
            next: 0,
            last: 0,
            line_comment: false,
        }
    }

    fn finish(mut self) -> String {
        self.brk(usize::MAX, 0, 0, Blank::Keep, false);
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out
    }

    // ---- output primitives ------------------------------------------------

    fn push(&mut self, s: &str) {
        self.out.push_str(s);
    }

    /// Copies a token from the source.
    fn tok(&mut self, p: &Pair<'_, Rule>) {
        self.out.push_str(p.as_str());
        self.last = self.last.max(p.as_span().end());
    }

    fn column(&self) -> usize {
        let start = self.out.rfind('\n').map_or(0, |n| n + 1);
        self.out[start..].chars().count()
    }

    /// The indentation of the current output line.
    fn line_indent(&self) -> usize {
        let start = self.out.rfind('\n').map_or(0, |n| n + 1);
        self.out[start..].len() - self.out[start..].trim_start_matches(' ').len()
    }

    /// Whether the source had a blank line between what was emitted last and
    /// `pos`.
    fn blank_before(&self, pos: usize) -> bool {
        let end = pos.min(self.src.len());
        self.src.get(self.last..end).is_some_and(has_blank_line)
    }

    fn newline(&mut self, indent: usize, blank: bool) {
        let line = self.out.trim_end_matches(' ').len();
        self.out.truncate(line);
        if self.out.is_empty() {
            return;
        }
        // No blank line right after an opening brace or bracket.
        let opened = self.out.ends_with('{') || self.out.ends_with('[');
        if blank && !opened {
            self.out.push('\n');
        }
        self.out.push('\n');
        self.out.extend(std::iter::repeat_n(' ', indent));
        self.line_comment = false;
    }

    fn pending(&self, pos: usize) -> Option<Comment> {
        self.comments
            .get(self.next)
            .copied()
            .filter(|c| c.start < pos)
    }

    fn has_comment(&self, from: usize, to: usize) -> bool {
        self.comments.iter().any(|c| c.start > from && c.start < to)
    }

    /// A line break before the construct at source offset `pos`, indented to
    /// `indent`: first every comment that precedes `pos` (a trailing one at
    /// the end of the current line, the others each on a line indented to
    /// `cindent`), then the new line. `lead` says whether a blank line may
    /// come first; `node` whether one may come right before the construct.
    fn brk(&mut self, pos: usize, cindent: usize, indent: usize, lead: Blank, node: bool) {
        let mut first = true;
        while let Some(c) = self.pending(pos) {
            self.next += 1;
            let text = self.src[c.start..c.end].trim_end().to_string();
            let code_on_line = self.out.trim_end().len() > self.line_start() + self.line_indent();
            if c.trailing && code_on_line && !self.line_comment {
                let end = self.out.trim_end_matches(' ').len();
                self.out.truncate(end);
                self.push(" ");
            } else {
                let blank = match lead {
                    Blank::Never => false,
                    Blank::Force if first => true,
                    _ => self.blank_before(c.start),
                };
                self.newline(cindent, blank);
                first = false;
            }
            self.push(&text);
            self.last = self.last.max(c.end);
            self.line_comment = true;
        }
        let blank = match lead {
            Blank::Never => false,
            Blank::Force if first => true,
            _ => node && self.blank_before(pos),
        };
        self.newline(indent, blank);
    }

    fn line_start(&self) -> usize {
        self.out.rfind('\n').map_or(0, |n| n + 1)
    }

    // ---- items ------------------------------------------------------------

    fn file(&mut self, f: Pair<'_, Rule>) {
        let mut prev_rule: Option<bool> = None;
        for item in f.into_inner().filter(super::parse::meaningful) {
            if item.as_rule() == Rule::EOI {
                continue;
            }
            let is_rule = matches!(item.as_rule(), Rule::rule_decl | Rule::tune_decl);
            // A rule is set off by a blank line; if the author left one
            // anywhere between the items (say, between a file's header
            // comment and its first rule), that one will do.
            let start = item.as_span().start();
            let gap = self.src.get(self.last..start).unwrap_or("");
            let lead = match prev_rule {
                Some(prev) if (prev || is_rule) && !has_blank_line(gap) => Blank::Force,
                _ => Blank::Keep,
            };
            self.brk(item.as_span().start(), 0, 0, lead, true);
            prev_rule = Some(is_rule);
            match item.as_rule() {
                Rule::source_decl | Rule::import_decl => self.keyword_item(item),
                Rule::list_decl | Rule::extend_decl => self.list_decl(item),
                Rule::macro_decl => self.macro_decl(item),
                Rule::rule_decl | Rule::tune_decl => self.rule(item),
                _ => self.tok(&item),
            }
        }
    }

    /// `source NAME` or `import "PATH"`.
    fn keyword_item(&mut self, item: Pair<'_, Rule>) {
        let kw = if item.as_rule() == Rule::source_decl {
            "source "
        } else {
            "import "
        };
        self.push(kw);
        for x in item.into_inner().filter(super::parse::meaningful) {
            self.tok(&x);
        }
    }

    /// `list NAME = [...]`, `fill list NAME = [...]`, `extend list NAME [...]`.
    fn list_decl(&mut self, item: Pair<'_, Rule>) {
        let extend = item.as_rule() == Rule::extend_decl;
        let parts: Vec<_> = item.into_inner().filter(super::parse::meaningful).collect();
        let fill = parts.iter().any(|x| x.as_rule() == Rule::fill_mark);
        self.push(match (extend, fill) {
            (true, _) => "extend list ",
            (false, true) => "fill list ",
            (false, false) => "list ",
        });
        for x in parts {
            match x.as_rule() {
                Rule::fill_mark => {}
                Rule::ident => {
                    self.tok(&x);
                    self.push(if extend { " " } else { " = " });
                }
                _ => self.list(x, 0, 2, true),
            }
        }
    }

    /// `macro NAME(x, L) = BODY`. A comment inside the head (after the
    /// keyword, the name, the parameters or the `=`) breaks the head right
    /// there: what follows goes on a line of its own, indented, so the
    /// comment stays where the author put it instead of drifting past the
    /// body to the head's first line break.
    fn macro_decl(&mut self, item: Pair<'_, Rule>) {
        let parts: Vec<_> = item.into_inner().filter(super::parse::meaningful).collect();
        let overrides = parts.iter().any(|x| x.as_rule() == Rule::override_mark);
        self.push(if overrides { "override macro" } else { "macro" });
        for x in parts {
            match x.as_rule() {
                Rule::override_mark => {}
                Rule::ident => {
                    self.head_gap(x.as_span().start(), " ");
                    self.tok(&x);
                }
                Rule::params => {
                    self.head_gap(x.as_span().start(), "");
                    self.params(x);
                }
                _ => {
                    let body = x.as_span().start();
                    // The `=` is no pair: the first one outside a comment
                    // between the head and the body.
                    let eq = self.equals_before(body);
                    self.head_gap(eq, " ");
                    self.push("=");
                    self.head_gap(body, " ");
                    let col = self.column();
                    self.cond(x, col, 0);
                }
            }
        }
    }

    /// Between two tokens of a macro's head, the next at `pos`: `space`,
    /// or, if comments come first, they and a new line indented past the
    /// item.
    fn head_gap(&mut self, pos: usize, space: &str) {
        if self.pending(pos).is_some() {
            self.brk(pos, 2, 2, Blank::Never, false);
        } else {
            self.push(space);
        }
    }

    /// The offset of the `=` that precedes `body`, skipping comments; `body`
    /// if there is none (it cannot be missing in a file that parses).
    fn equals_before(&self, body: usize) -> usize {
        let from = self.last.min(body);
        let mut at = from;
        for c in self
            .comments
            .iter()
            .filter(|c| c.end > from && c.start < body)
        {
            if let Some(i) = self.src.get(at..c.start).and_then(|s| s.find('=')) {
                return at + i;
            }
            at = c.end.max(at);
        }
        (self.src.get(at..body).and_then(|s| s.find('='))).map_or(body, |i| at + i)
    }

    /// A macro's parameters: `(x, L)`, or, when a comment sits inside, one
    /// per line (each followed by a comma but the last), indented past
    /// the item, and `)` at the item's indentation.
    fn params(&mut self, p: Pair<'_, Rule>) {
        let span = p.as_span();
        let close = span.end().saturating_sub(1);
        let names: Vec<Pair<'_, Rule>> = p.into_inner().filter(super::parse::meaningful).collect();
        if !self.has_comment(span.start(), close) {
            let flat: Vec<&str> = names.iter().map(|n| n.as_str()).collect();
            self.push(&format!("({})", flat.join(", ")));
            self.last = self.last.max(span.end());
            return;
        }
        let indent = self.line_indent();
        self.push("(");
        let n = names.len();
        for (i, name) in names.into_iter().enumerate() {
            self.brk(
                name.as_span().start(),
                indent + 2,
                indent + 2,
                Blank::Never,
                false,
            );
            self.tok(&name);
            if i + 1 < n {
                self.push(",");
            }
        }
        self.brk(close, indent + 2, indent, Blank::Never, false);
        self.push(")");
        self.last = self.last.max(span.end());
    }

    fn rule(&mut self, item: Pair<'_, Rule>) {
        let close = item.as_span().end().saturating_sub(1);
        let start = item.as_span().start();
        self.push(if item.as_rule() == Rule::tune_decl {
            "tune rule "
        } else {
            "rule "
        });
        let mut parts = item.into_inner().filter(super::parse::meaningful);
        if let Some(name) = parts.next() {
            self.tok(&name);
        }
        self.push(" {");
        let clauses: Vec<Pair<'_, Rule>> = parts.collect();
        if clauses.is_empty() && !self.has_comment(start, close) {
            self.push("}");
            self.last = close + 1;
            return;
        }
        // Values line up one space after the longest key.
        let key_width = clauses.iter().filter_map(key_len).max().unwrap_or(0);
        for c in clauses {
            self.brk(c.as_span().start(), 2, 2, Blank::Keep, true);
            self.clause(c, 2 + key_width + 1);
        }
        self.brk(close, 2, 0, Blank::Keep, false);
        self.push("}");
        self.last = close + 1;
    }

    // ---- rule clauses -----------------------------------------------------

    /// Pushes `key`, padded to `value_col`.
    fn key(&mut self, key: &str, value_col: usize) {
        self.push(key);
        self.pad_to(value_col);
    }

    /// Spaces up to column `col`, at least one.
    fn pad_to(&mut self, col: usize) {
        let pad = col.saturating_sub(self.column()).max(1);
        self.out.extend(std::iter::repeat_n(' ', pad));
    }

    fn clause(&mut self, c: Pair<'_, Rule>, value_col: usize) {
        let rule = c.as_rule();
        if rule == Rule::sequence_clause {
            return self.sequence(c);
        }
        let mut parts = c.into_inner().filter(super::parse::meaningful);
        match rule {
            Rule::when_clause | Rule::except_clause => {
                let key = if rule == Rule::when_clause {
                    "when"
                } else {
                    "except"
                };
                self.key(key, value_col);
                if let Some(e) = parts.next() {
                    self.cond(e, value_col, 0);
                }
            }
            Rule::output_clause | Rule::rule_source => {
                let key = if rule == Rule::output_clause {
                    "output"
                } else {
                    "source"
                };
                self.key(key, value_col);
                for x in parts {
                    self.tok(&x);
                }
            }
            Rule::meta_item => {
                if let Some(k) = parts.next() {
                    self.key(k.as_str(), value_col);
                    self.last = self.last.max(k.as_span().end());
                }
                let value = parts
                    .next()
                    .and_then(|v| v.into_inner().find(super::parse::meaningful));
                match value {
                    Some(v) if v.as_rule() == Rule::tag_list => {
                        let indent = self.line_indent() + 2;
                        self.list(v, self.line_indent(), indent, false);
                    }
                    Some(v) => self.tok(&v),
                    None => {}
                }
            }
            Rule::count_clause => {
                self.key("count", value_col);
                self.count(parts);
            }
            _ => {}
        }
    }

    fn count<'i>(&mut self, parts: impl Iterator<Item = Pair<'i, Rule>>) {
        let mut first = true;
        for x in parts {
            if !first {
                self.push(" ");
            }
            first = false;
            match x.as_rule() {
                Rule::distinct => {
                    self.push("distinct ");
                    for y in x.into_inner().filter(super::parse::meaningful) {
                        self.tok(&y);
                    }
                }
                Rule::group_by => self.group_by(x),
                Rule::duration => {
                    self.push("within ");
                    self.tok(&x);
                }
                _ => self.tok(&x),
            }
        }
    }

    fn group_by(&mut self, g: Pair<'_, Rule>) {
        self.push("by ");
        for (i, path) in g.into_inner().filter(super::parse::meaningful).enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.tok(&path);
        }
    }

    /// `sequence [by KEYS] within DURATION {` and its steps, one per line,
    /// their conditions lined up one space after the longest label.
    fn sequence(&mut self, c: Pair<'_, Rule>) {
        let (start, close) = (c.as_span().start(), c.as_span().end().saturating_sub(1));
        let indent = self.line_indent();
        self.push("sequence ");
        let mut steps = Vec::new();
        for x in c.into_inner().filter(super::parse::meaningful) {
            match x.as_rule() {
                Rule::group_by => {
                    self.group_by(x);
                    self.push(" ");
                }
                Rule::duration => {
                    self.push("within ");
                    self.tok(&x);
                    self.push(" {");
                }
                _ => steps.push(x),
            }
        }
        if steps.is_empty() && !self.has_comment(start, close) {
            self.push("}");
            self.last = close + 1;
            return;
        }
        let label_width = steps
            .iter()
            .map(|s| label(s).chars().count())
            .max()
            .unwrap_or(0);
        let col = indent + 2 + label_width + 1;
        for s in steps {
            self.brk(
                s.as_span().start(),
                indent + 2,
                indent + 2,
                Blank::Keep,
                true,
            );
            self.push(&label(&s));
            self.pad_to(col);
            for x in s.into_inner().filter(super::parse::meaningful) {
                match x.as_rule() {
                    Rule::expr => self.cond(x, col, 0),
                    Rule::group_by => {
                        self.push(" ");
                        self.group_by(x);
                    }
                    _ => self.last = self.last.max(x.as_span().end()),
                }
            }
        }
        self.brk(close, indent + 2, indent, Blank::Keep, false);
        self.push("}");
        self.last = close + 1;
    }

    // ---- conditions -------------------------------------------------------

    /// Prints a condition starting at the current column. Lines it breaks
    /// start at `indent`; `trail` columns of text follow it on its last line.
    fn cond(&mut self, p: Pair<'_, Rule>, indent: usize, trail: usize) {
        match p.as_rule() {
            Rule::expr | Rule::and_expr => self.chain(p, indent, trail),
            Rule::not_expr => {
                let mut parts = p.into_inner().filter(super::parse::meaningful).peekable();
                while let Some(x) = parts.next_if(|x| x.as_rule() == Rule::not_op) {
                    self.tok(&x);
                    self.push(" ");
                }
                if let Some(term) = parts.next() {
                    self.cond(term, indent, trail);
                }
            }
            Rule::quantifier => {
                let mut parts = p.into_inner().filter(super::parse::meaningful);
                for x in parts.by_ref().take(4) {
                    let list = matches!(x.as_rule(), Rule::path | Rule::call);
                    self.operand(x);
                    self.push(if list { ": " } else { " " });
                }
                if let Some(body) = parts.next() {
                    self.cond(body, indent, trail);
                }
            }
            Rule::predicate => self.predicate(p, trail),
            _ => self.tok(&p),
        }
    }

    /// An `or` chain (`expr`) or an `and` chain: on one line if it fits and
    /// holds no comment, else one operand per line with the operator first.
    /// An `and` chain inside an `or` chain breaks at the same column as the
    /// `or`s: precedence, not indentation, groups them (spec/formatting.md).
    fn chain(&mut self, p: Pair<'_, Rule>, indent: usize, trail: usize) {
        let span = p.as_span();
        let parts: Vec<Pair<'_, Rule>> = p
            .clone()
            .into_inner()
            .filter(super::parse::meaningful)
            .collect();
        let last_start = parts.last().map_or(span.end(), |x| x.as_span().start());
        let fits = self.column() + flat(&p).chars().count() + trail <= WIDTH;
        if parts.len() == 1 || (fits && !self.has_comment(span.start(), last_start)) {
            self.flat_cond(p, indent, trail);
            return;
        }
        let n = parts.len();
        // Comments between an operator and its operand go above the
        // operator's line, with those before it.
        let starts: Vec<usize> = parts.iter().map(|x| x.as_span().start()).collect();
        for (i, x) in parts.into_iter().enumerate() {
            let t = if i + 1 == n { trail } else { 0 };
            match x.as_rule() {
                Rule::or_op | Rule::and_op => {
                    let operand = starts.get(i + 1).copied().unwrap_or(x.as_span().end());
                    self.brk(operand, indent, indent, Blank::Never, false);
                    self.tok(&x);
                    self.push(" ");
                }
                _ => self.cond(x, indent, t),
            }
        }
    }

    /// A condition that fits: printed flat, except that nested constructs
    /// holding comments (only a list literal can, here) still break.
    fn flat_cond(&mut self, p: Pair<'_, Rule>, indent: usize, trail: usize) {
        match p.as_rule() {
            Rule::expr | Rule::and_expr => {
                for x in p.into_inner().filter(super::parse::meaningful) {
                    match x.as_rule() {
                        Rule::or_op | Rule::and_op => {
                            self.push(" ");
                            self.tok(&x);
                            self.push(" ");
                        }
                        _ => self.cond(x, indent, trail),
                    }
                }
            }
            _ => self.cond(p, indent, trail),
        }
    }

    fn predicate(&mut self, p: Pair<'_, Rule>, trail: usize) {
        let mut parts = p.into_inner().filter(super::parse::meaningful);
        let Some(head) = parts.next() else { return };
        if head.as_rule() == Rule::paren {
            self.push("(");
            if let Some(inner) = head.clone().into_inner().find(super::parse::meaningful) {
                let col = self.column();
                self.cond(inner, col, trail + 1);
            }
            self.push(")");
            self.last = self.last.max(head.as_span().end());
            return;
        }
        self.operand(head);
        if let Some(tail) = parts.next() {
            for x in tail.into_inner().filter(super::parse::meaningful) {
                self.push(" ");
                self.operand(x);
            }
        }
    }

    /// A literal, path, call or keyword; a list literal or call with
    /// comments breaks.
    fn operand(&mut self, x: Pair<'_, Rule>) {
        match x.as_rule() {
            Rule::list_lit => {
                let indent = self.line_indent();
                self.list(x, indent, indent + 2, false);
            }
            Rule::call => self.call(x),
            _ => self.tok(&x),
        }
    }

    /// `name(arg, arg)` on one line, or, when a comment sits inside, one
    /// argument per line (each followed by a comma but the last), indented
    /// past the name's column, and `)` under the name.
    fn call(&mut self, p: Pair<'_, Rule>) {
        let span = p.as_span();
        let close = span.end().saturating_sub(1);
        if !self.has_comment(span.start(), close) {
            self.push(&flat(&p));
            self.last = self.last.max(span.end());
            return;
        }
        let indent = self.column();
        let mut parts = p.into_inner();
        if let Some(head) = parts.next() {
            self.push(&flat(&head));
        }
        let args: Vec<Pair<'_, Rule>> = parts.collect();
        let n = args.len();
        for (i, a) in args.into_iter().enumerate() {
            self.brk(
                a.as_span().start(),
                indent + 2,
                indent + 2,
                Blank::Never,
                false,
            );
            self.operand(a);
            if i + 1 < n {
                self.push(",");
            }
        }
        self.brk(close, indent + 2, indent, Blank::Never, false);
        self.push(")");
        self.last = self.last.max(span.end());
    }

    /// A list literal or tag list: `[a, b]` on one line when it holds no
    /// comment (and, if `wrap`, fits); else its elements filled into lines
    /// at `item_indent`, each followed by a comma, and `]` at `close_indent`.
    fn list(&mut self, p: Pair<'_, Rule>, close_indent: usize, item_indent: usize, wrap: bool) {
        let span = p.as_span();
        let close = span.end().saturating_sub(1);
        let items: Vec<Pair<'_, Rule>> = p
            .clone()
            .into_inner()
            .filter(super::parse::meaningful)
            .collect();
        let fits = !wrap || self.column() + flat(&p).chars().count() <= WIDTH;
        if fits && !self.has_comment(span.start(), close) {
            self.push(&flat(&p));
            self.last = self.last.max(span.end());
            return;
        }
        self.push("[");
        for (i, x) in items.into_iter().enumerate() {
            let text = flat(&x);
            let width = text.chars().count() + 1;
            let pending = self.pending(x.as_span().start()).is_some();
            if i == 0 || pending || self.column() + 1 + width > WIDTH {
                self.brk(
                    x.as_span().start(),
                    item_indent,
                    item_indent,
                    Blank::Never,
                    false,
                );
            } else {
                self.push(" ");
            }
            self.push(&text);
            self.push(",");
            self.last = self.last.max(x.as_span().end());
        }
        self.brk(close, item_indent, close_indent, Blank::Never, false);
        self.push("]");
        self.last = self.last.max(span.end());
    }
}

/// Whether `gap` (source between two tokens) holds an empty line.
fn has_blank_line(gap: &str) -> bool {
    let lines: Vec<&str> = gap.split('\n').collect();
    lines.len() > 2
        && lines[1..lines.len() - 1]
            .iter()
            .any(|l| l.trim().is_empty())
}

/// The length of a clause's key when it lines up with the others; `None` for
/// `sequence`, whose steps go in a block.
fn key_len(c: &Pair<'_, Rule>) -> Option<usize> {
    match c.as_rule() {
        Rule::when_clause | Rule::output_clause | Rule::count_clause | Rule::rule_source => {
            Some(keyword_of(c).len())
        }
        Rule::except_clause => Some("except".len()),
        Rule::meta_item => c
            .clone()
            .into_inner()
            .find(super::parse::meaningful)
            .map(|k| k.as_str().chars().count()),
        _ => None,
    }
}

/// A sequence entry's label: `name:`, `not name:` or `until:`.
fn label(s: &Pair<'_, Rule>) -> String {
    if s.as_rule() == Rule::seq_until {
        return "until:".into();
    }
    let mut out = String::new();
    for x in s.clone().into_inner().filter(super::parse::meaningful) {
        match x.as_rule() {
            Rule::seq_not => out.push_str("not "),
            Rule::ident => {
                out.push_str(x.as_str());
                out.push(':');
            }
            _ => {}
        }
    }
    out
}

fn keyword_of(c: &Pair<'_, Rule>) -> &'static str {
    match c.as_rule() {
        Rule::when_clause => "when",
        Rule::output_clause => "output",
        Rule::count_clause => "count",
        _ => "source",
    }
}

/// The one-line text of a construct: tokens as written, single spaces,
/// no comments.
fn flat(p: &Pair<'_, Rule>) -> String {
    let mut s = String::new();
    write_flat(p, &mut s);
    s
}

fn write_flat(p: &Pair<'_, Rule>, s: &mut String) {
    let parts = || p.clone().into_inner().filter(super::parse::meaningful);
    match p.as_rule() {
        Rule::expr | Rule::and_expr | Rule::not_expr | Rule::predicate => join(parts(), " ", s),
        Rule::compare
        | Rule::membership
        | Rule::cidr_test
        | Rule::string_test
        | Rule::null_test
        | Rule::exists_test => join(parts(), " ", s),
        Rule::quantifier => {
            for x in parts() {
                write_flat(&x, s);
                let list = matches!(x.as_rule(), Rule::path | Rule::call);
                s.push_str(if list { ": " } else { " " });
            }
            let t = s.trim_end().len();
            s.truncate(t);
        }
        Rule::paren => {
            s.push('(');
            join(parts(), " ", s);
            s.push(')');
        }
        Rule::list_lit | Rule::tag_list => {
            s.push('[');
            join(parts(), ", ", s);
            s.push(']');
        }
        Rule::tag => join(parts(), "", s),
        Rule::call => {
            let mut it = parts();
            if let Some(head) = it.next() {
                join(head.into_inner(), "", s);
            }
            s.push('(');
            join(it, ", ", s);
            s.push(')');
        }
        _ => s.push_str(p.as_str()),
    }
}

fn join<'i>(parts: impl Iterator<Item = Pair<'i, Rule>>, sep: &str, s: &mut String) {
    for (i, x) in parts.enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        write_flat(&x, s);
    }
}

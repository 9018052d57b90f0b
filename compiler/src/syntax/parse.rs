//! Parsing: pest pairs to the syntax tree, with every error as a diagnostic.
//!
//! Naming: `file_x`/`rule_x` build one node from its pair; literal decoding
//! (`string`, `number`, `duration`) reports bad values and returns a
//! placeholder so that the rest of the file is still checked.
//!
//! pest stops at the first syntax error. To report all of them, a file that
//! fails is re-parsed in chunks that start at top-level keywords in column 0;
//! every chunk that parses contributes its items.

use std::collections::HashMap;

use pest::iterators::Pair;
use pest::Parser as _;

use super::ast::*;
use super::lists::{plain_lists, Cuts, PlainList, MIN_ITEMS};
use super::recover::{
    chunks, quantifiers_too_deep, syntax_error, too_deep, with_stack, MAX_NESTING, MAX_QUANTIFIERS,
};
use crate::diagnostic::{Code, Diagnostic, FileId};

#[derive(pest_derive::Parser)]
#[grammar = "syntax/ward.pest"]
pub(crate) struct Grammar;

/// Longest duration accepted anywhere: 30 days.
pub const MAX_DURATION_MS: u64 = 30 * 24 * 3600 * 1000;

/// Parses one file. Never fails: problems are diagnostics, and the returned
/// tree holds every item that parsed.
pub fn parse(file: FileId, text: &str) -> (File, Vec<Diagnostic>) {
    parse_with(file, text, MIN_ITEMS)
}

/// [`parse`], reading lists of at least `min_items` plain strings by hand.
pub(super) fn parse_with(file: FileId, text: &str, min_items: usize) -> (File, Vec<Diagnostic>) {
    if let Some(d) = too_deep(file, text) {
        return (File::default(), vec![d]);
    }
    with_stack(|| parse_accepted(file, text, min_items))
}

/// [`parse_with`] of text that [`too_deep`] accepted.
pub(super) fn parse_accepted(
    file: FileId,
    text: &str,
    min_items: usize,
) -> (File, Vec<Diagnostic>) {
    if let Some((items, diags)) = parse_items(file, text, 0, min_items) {
        return (File { items }, diags);
    }
    let mut p = Parse::new(file);
    let mut items = Vec::new();
    for (start, end) in chunks(text) {
        match Grammar::parse(Rule::file, &text[start..end]) {
            Ok(mut pairs) => {
                if let Some(f) = pairs.next() {
                    items.extend(p.items(f, start));
                }
            }
            Err(e) => p
                .diags
                .push(syntax_error(file, &text[start..end], start, e)),
        }
    }
    (File { items }, p.diags)
}

/// The items of `text`, a part of file `file` starting at byte `base`
/// (spans are the file's), with the diagnostics of their values; `None`
/// at a syntax error, which the caller reports.
fn parse_items(file: FileId, text: &str, base: usize, min_items: usize) -> Option<Parsed> {
    let lists = plain_lists(text, min_items);
    if !lists.is_empty() {
        if let Some(parsed) = parse_cut(file, text, base, lists) {
            return Some(parsed);
        }
    }
    let mut pairs = Grammar::parse(Rule::file, text).ok()?;
    let mut p = Parse::new(file);
    let items = pairs.next().map(|f| p.items(f, base)).unwrap_or_default();
    Some((items, p.diags))
}

/// Items parsed, and the diagnostics of their values.
type Parsed = (Vec<Item>, Vec<Diagnostic>);

/// Files of at least this many bytes are cut into pieces of about this
/// size, parsed side by side (see [`parse_all`]).
const PIECE_BYTES: usize = 32 * 1024;

/// Below this many bytes in all, files are parsed on the calling thread:
/// starting threads would cost more than they save.
const PARALLEL_BYTES: usize = 64 * 1024;

/// [`parse`] of every file, in order, using the machine's cores when there
/// is enough text. A large file is cut at top-level keywords in column 0
/// (as error recovery cuts it) and its pieces parsed side by side. Items
/// never continue past a line that starts with such a keyword, so a file
/// that parses gives the same tree either way; a file with a piece that
/// does not parse (a syntax error, or a cut inside a multi-line raw
/// string or a rule body) is parsed whole again, as [`parse`] does it.
pub fn parse_all(files: &[(FileId, &str)]) -> Vec<(File, Vec<Diagnostic>)> {
    parse_on(files, crate::threads::available())
}

/// [`parse_all`] on at most `threads` threads.
pub(super) fn parse_on(files: &[(FileId, &str)], threads: usize) -> Vec<(File, Vec<Diagnostic>)> {
    let total: usize = files.iter().map(|(_, t)| t.len()).sum();
    if threads < 2 || total < PARALLEL_BYTES {
        return files.iter().map(|&(id, text)| parse(id, text)).collect();
    }
    // Each unit: (file index, start, end); a file too deep is parsed whole
    // so that its one diagnostic is the whole file's.
    let mut units = Vec::new();
    for (k, &(id, text)) in files.iter().enumerate() {
        if text.len() < 2 * PIECE_BYTES || too_deep(id, text).is_some() {
            units.push((k, 0, text.len()));
            continue;
        }
        let mut start = 0;
        for (_, end) in chunks(text) {
            if end - start >= PIECE_BYTES || end == text.len() {
                units.push((k, start, end));
                start = end;
            }
        }
    }
    let done = crate::threads::map(&units, threads, |&(k, start, end)| {
        let (id, text) = files[k];
        if end - start == text.len() {
            let (file, diags) = parse(id, text);
            Some((file.items, diags))
        } else {
            with_stack(|| parse_items(id, &text[start..end], start, MIN_ITEMS))
        }
    });
    let mut out: Vec<Option<(File, Vec<Diagnostic>)>> = files.iter().map(|_| None).collect();
    let mut failed = vec![false; files.len()];
    for (&(k, _, _), parsed) in units.iter().zip(done) {
        match parsed {
            Some((items, diags)) if !failed[k] => {
                let (file, all) = out[k].get_or_insert_with(Default::default);
                file.items.extend(items);
                all.extend(diags);
            }
            _ => failed[k] = true,
        }
    }
    files
        .iter()
        .zip(out)
        .zip(failed)
        .map(|((&(id, text), parsed), failed)| match parsed {
            Some(parsed) if !failed => parsed,
            _ => parse(id, text),
        })
        .collect()
}

/// Parses `text` with the items of `lists` cut out and read by hand (see
/// [`super::lists`]); `text` starts at `base` in its file. `None` if the
/// cut text does not parse as the whole text would: the caller then
/// parses the whole text.
fn parse_cut(file: FileId, text: &str, base: usize, lists: Vec<PlainList>) -> Option<Parsed> {
    let (cut_text, cuts) = Cuts::new(text, &lists);
    let mut pairs = Grammar::parse(Rule::file, &cut_text).ok()?;
    let mut p = Parse::new(file);
    let mut plain = HashMap::with_capacity(lists.len());
    for (k, l) in lists.into_iter().enumerate() {
        let items = l
            .items
            .into_iter()
            .map(|(sp, raw)| {
                let at = Span::new(base + sp.start, base + sp.end);
                p.plain_string(&text[sp.start..sp.end], at, raw)
            })
            .collect();
        // The `[` of the k-th cut list, in the cut text.
        plain.insert(cuts.start(k), items);
    }
    p.plain = plain;
    p.cuts = Some(cuts);
    let items = p.items(pairs.next()?, base);
    p.plain.is_empty().then_some((items, p.diags))
}

/// Parses `text` as one field path (an output template's `{...}`); spans
/// are offset by `base`. `None` if it is not exactly a path.
pub fn parse_path(file: FileId, text: &str, base: usize) -> Option<Path> {
    let pair = Grammar::parse(Rule::path, text).ok()?.next()?;
    if pair.as_str().len() != text.len() {
        return None;
    }
    Some(Parse::new(file).path(pair, base))
}

struct Parse {
    file: FileId,
    diags: Vec<Diagnostic>,
    /// Set when plain lists were cut out of the parsed text.
    cuts: Option<Cuts>,
    /// The items of the cut lists by the offset of their `[` in the cut
    /// text, taken as their declarations are built.
    plain: HashMap<usize, Vec<Literal>>,
    /// Quantifiers around the condition being built.
    quantifiers: usize,
}

impl Parse {
    fn new(file: FileId) -> Parse {
        Parse {
            file,
            diags: Vec::new(),
            cuts: None,
            plain: HashMap::new(),
            quantifiers: 0,
        }
    }

    /// A pair's span in the original text.
    fn span(&self, p: &Pair<'_, Rule>, base: usize) -> Span {
        let s = p.as_span();
        match &self.cuts {
            Some(c) => Span::new(base + c.original(s.start()), base + c.original(s.end())),
            None => Span::new(base + s.start(), base + s.end()),
        }
    }

    /// A string item of a list read by hand: `lit` is its text, at `sp`
    /// in the file.
    fn plain_string(&mut self, lit: &str, sp: Span, raw: bool) -> Literal {
        let value = if raw {
            lit[2..lit.len() - 1].to_string()
        } else {
            self.unescape(lit, sp)
        };
        Literal {
            kind: LitKind::Str(StrLit {
                value,
                span: sp,
                raw,
            }),
            span: sp,
        }
    }

    fn items(&mut self, file: Pair<'_, Rule>, base: usize) -> Vec<Item> {
        let mut items = Vec::new();
        for p in file.into_inner().filter(meaningful) {
            let item = match p.as_rule() {
                Rule::source_decl => Item::Source(self.ident(first(p), base)),
                Rule::import_decl => Item::Import(self.string(first(p), base)),
                Rule::list_decl | Rule::extend_decl => {
                    let sp = self.span(&p, base);
                    let extend = p.as_rule() == Rule::extend_decl;
                    let parts: Vec<_> = p.into_inner().filter(meaningful).collect();
                    let fill = parts.iter().any(|x| x.as_rule() == Rule::fill_mark);
                    let mut it = parts.into_iter().filter(|x| x.as_rule() != Rule::fill_mark);
                    let (Some(name), Some(list)) = (it.next(), it.next()) else {
                        continue;
                    };
                    let name = self.ident(name, base);
                    let items = self.list_items(list, base);
                    if extend {
                        Item::Extend(ListExtend {
                            name,
                            items,
                            span: sp,
                        })
                    } else {
                        Item::List(ListDecl {
                            name,
                            items,
                            fill,
                            span: sp,
                        })
                    }
                }
                Rule::macro_decl => {
                    let sp = self.span(&p, base);
                    let parts: Vec<_> = p.into_inner().filter(meaningful).collect();
                    let overrides = parts.iter().any(|x| x.as_rule() == Rule::override_mark);
                    let mut it = parts
                        .into_iter()
                        .filter(|x| x.as_rule() != Rule::override_mark);
                    let Some(name) = it.next() else { continue };
                    let name = self.ident(name, base);
                    let mut params = Vec::new();
                    let mut body = it.next();
                    if let Some(ps) = body.take_if(|b| b.as_rule() == Rule::params) {
                        params = ps.into_inner().map(|x| self.ident(x, base)).collect();
                        body = it.next();
                    }
                    let Some(body) = body else { continue };
                    Item::Macro(MacroDecl {
                        name,
                        params,
                        body: self.expr(body, base),
                        overrides,
                        span: sp,
                    })
                }
                Rule::rule_decl => Item::Rule(Box::new(self.rule(p, base))),
                Rule::tune_decl => Item::Tune(Box::new(self.rule(p, base))),
                _ => continue,
            };
            items.push(item);
        }
        items
    }

    fn ident(&self, p: Pair<'_, Rule>, base: usize) -> Ident {
        Ident {
            name: p.as_str().to_string(),
            span: self.span(&p, base),
        }
    }

    fn rule(&mut self, p: Pair<'_, Rule>, base: usize) -> RuleDecl {
        let sp = self.span(&p, base);
        let mut it = p.into_inner().filter(meaningful);
        let name = it.next().map(|n| self.ident(n, base)).unwrap_or(Ident {
            name: String::new(),
            span: sp,
        });
        let mut rule = RuleDecl {
            name,
            source: None,
            meta: Vec::new(),
            when: Vec::new(),
            excepts: Vec::new(),
            output: None,
            count: None,
            sequence: None,
            span: sp,
        };
        for item in it {
            let isp = self.span(&item, base);
            match item.as_rule() {
                Rule::when_clause => rule.when.push(self.expr(first(item), base)),
                Rule::except_clause => rule.excepts.push(self.expr(first(item), base)),
                Rule::output_clause => {
                    let s = self.string(first(item), base);
                    if rule.output.is_some() {
                        self.diags.push(
                            Diagnostic::new(
                                Code::BadRule,
                                self.file,
                                isp,
                                "a rule has one `output`",
                            )
                            .label("second `output`")
                            .help("merge the two templates into one"),
                        );
                    }
                    rule.output = Some(s);
                }
                Rule::rule_source => {
                    if rule.source.is_some() {
                        self.diags.push(
                            Diagnostic::new(
                                Code::BadRule,
                                self.file,
                                isp,
                                "a rule has one `source`",
                            )
                            .label("second `source`")
                            .help("a rule reads one source; split it in two"),
                        );
                    }
                    rule.source = Some(self.ident(first(item), base));
                }
                Rule::count_clause => {
                    let c = self.count(item, base);
                    self.once(rule.count.is_some() || rule.sequence.is_some(), isp);
                    rule.count = Some(c);
                }
                Rule::sequence_clause => {
                    let s = self.sequence(item, base);
                    self.once(rule.count.is_some() || rule.sequence.is_some(), isp);
                    rule.sequence = Some(s);
                }
                Rule::meta_item => {
                    let mut mi = item.into_inner().filter(meaningful);
                    let (Some(key), Some(value)) = (mi.next(), mi.next()) else {
                        continue;
                    };
                    let key = self.ident(key, base);
                    let value = self.meta_value(first(value), base);
                    rule.meta.push(Meta {
                        key,
                        value,
                        span: isp,
                    });
                }
                _ => {}
            }
        }
        rule
    }

    fn once(&mut self, twice: bool, sp: Span) {
        if twice {
            self.diags.push(
                Diagnostic::new(
                    Code::BadRule,
                    self.file,
                    sp,
                    "a rule has at most one `count` or `sequence`",
                )
                .label("second stateful clause")
                .help("split the rule in two"),
            );
        }
    }

    fn meta_value(&mut self, p: Pair<'_, Rule>, base: usize) -> MetaValue {
        let sp = self.span(&p, base);
        match p.as_rule() {
            Rule::string => MetaValue::Str(self.string(p, base)),
            Rule::bool_lit => MetaValue::Bool(p.as_str() == "true", sp),
            Rule::tag_list => MetaValue::Tags(
                p.into_inner()
                    .filter(meaningful)
                    .map(|t| {
                        let inner = first(t);
                        if inner.as_rule() == Rule::string {
                            self.string(inner, base)
                        } else {
                            StrLit {
                                value: inner.as_str().to_string(),
                                span: self.span(&inner, base),
                                raw: true,
                            }
                        }
                    })
                    .collect(),
            ),
            _ => MetaValue::Word(self.ident(p, base)),
        }
    }

    fn count(&mut self, p: Pair<'_, Rule>, base: usize) -> Count {
        let sp = self.span(&p, base);
        let mut c = Count {
            distinct: None,
            by: Vec::new(),
            within: placeholder(sp),
            op: CmpOp::Gt,
            threshold: placeholder(sp),
            span: sp,
        };
        for part in p.into_inner().filter(meaningful) {
            match part.as_rule() {
                Rule::distinct => c.distinct = Some(self.path(first(part), base)),
                Rule::group_by => {
                    c.by = part
                        .into_inner()
                        .filter(meaningful)
                        .map(|k| self.path(k, base))
                        .collect()
                }
                Rule::duration => c.within = self.literal(part, base),
                Rule::cmp_op => c.op = cmp_op(part.as_str()),
                Rule::number => c.threshold = self.literal(part, base),
                _ => {}
            }
        }
        c
    }

    fn sequence(&mut self, p: Pair<'_, Rule>, base: usize) -> Sequence {
        let sp = self.span(&p, base);
        let mut s = Sequence {
            by: Vec::new(),
            within: placeholder(sp),
            steps: Vec::new(),
            until: None,
            span: sp,
        };
        for part in p.into_inner().filter(meaningful) {
            let psp = self.span(&part, base);
            match part.as_rule() {
                Rule::group_by => {
                    s.by = part
                        .into_inner()
                        .filter(meaningful)
                        .map(|k| self.path(k, base))
                        .collect()
                }
                Rule::duration => s.within = self.literal(part, base),
                Rule::seq_until => {
                    if s.until.is_some() {
                        self.diags.push(
                            Diagnostic::new(
                                Code::BadRule,
                                self.file,
                                psp,
                                "a sequence has one `until`",
                            )
                            .label("second `until`")
                            .help("join the cancelling conditions with `or`"),
                        );
                    }
                    if let Some(e) = part
                        .into_inner()
                        .filter(meaningful)
                        .find(|x| x.as_rule() == Rule::expr)
                    {
                        s.until = Some(self.expr(e, base));
                    }
                }
                Rule::seq_step => {
                    let mut negated = false;
                    let mut name = None;
                    let mut when = None;
                    let mut by = Vec::new();
                    for x in part.into_inner().filter(meaningful) {
                        match x.as_rule() {
                            Rule::seq_not => negated = true,
                            Rule::ident => name = Some(self.ident(x, base)),
                            Rule::expr => when = Some(self.expr(x, base)),
                            Rule::group_by => {
                                by = x
                                    .into_inner()
                                    .filter(meaningful)
                                    .map(|k| self.path(k, base))
                                    .collect()
                            }
                            _ => {}
                        }
                    }
                    if let (Some(name), Some(when)) = (name, when) {
                        s.steps.push(Step {
                            negated,
                            name,
                            when,
                            by,
                            span: psp,
                        });
                    }
                }
                _ => {}
            }
        }
        s
    }

    // ---- expressions ------------------------------------------------------

    fn expr(&mut self, p: Pair<'_, Rule>, base: usize) -> Expr {
        match p.as_rule() {
            Rule::expr | Rule::and_expr => {
                let sp = self.span(&p, base);
                let is_or = p.as_rule() == Rule::expr;
                let operands = p
                    .into_inner()
                    .filter(meaningful)
                    .filter(|x| !matches!(x.as_rule(), Rule::or_op | Rule::and_op));
                let terms: Vec<Expr> = operands.map(|x| self.expr(x, base)).collect();
                // Balanced, not left-deep: and/or are associative, and a
                // generated rule with thousands of alternatives must not
                // recurse thousands deep in later passes.
                balance(terms, is_or).unwrap_or_else(|| bool_expr(sp))
            }
            Rule::not_expr => {
                let mut nots = Vec::new();
                let mut term = None;
                for x in p.into_inner().filter(meaningful) {
                    match x.as_rule() {
                        Rule::not_op => nots.push(self.span(&x, base)),
                        _ => term = Some(self.expr(x, base)),
                    }
                }
                let mut e = term.unwrap_or_else(|| bool_expr(Span::default()));
                if nots.len() > MAX_NESTING {
                    self.diags.push(
                        Diagnostic::new(
                            Code::Syntax,
                            self.file,
                            nots[0].to(nots[nots.len() - 1]),
                            "too many `not`s in a row",
                        )
                        .label(format!("{} `not`s", nots.len()))
                        .help("two `not`s cancel out; write at most one"),
                    );
                    nots.truncate(nots.len() % 2);
                }
                for not in nots.into_iter().rev() {
                    let span = not.to(e.span);
                    e = Expr {
                        kind: ExprKind::Not(Box::new(e)),
                        span,
                    };
                }
                e
            }
            Rule::quantifier => {
                let sp = self.span(&p, base);
                let mut it = p.into_inner().filter(meaningful);
                let kind = match it.next().map(|k| k.as_str()) {
                    Some("all") => Quant::All,
                    _ => Quant::Any,
                };
                let var = it.next().map(|v| self.ident(v, base));
                let _in = it.next();
                let list = it.next().map(|l| self.operand(l, base));
                if self.quantifiers == MAX_QUANTIFIERS {
                    self.diags.push(quantifiers_too_deep(self.file, sp));
                    return bool_expr(sp);
                }
                self.quantifiers += 1;
                let body = it.next().map(|b| self.expr(b, base));
                self.quantifiers -= 1;
                match (var, list, body) {
                    (Some(var), Some(list), Some(body)) => Expr {
                        kind: ExprKind::Quant {
                            kind,
                            var,
                            list,
                            body: Box::new(body),
                        },
                        span: sp,
                    },
                    _ => bool_expr(sp),
                }
            }
            Rule::predicate => self.predicate(p, base),
            _ => {
                let sp = self.span(&p, base);
                bool_expr(sp)
            }
        }
    }

    fn predicate(&mut self, p: Pair<'_, Rule>, base: usize) -> Expr {
        let sp = self.span(&p, base);
        let mut it = p.into_inner().filter(meaningful);
        let Some(head) = it.next() else {
            return bool_expr(sp);
        };
        let tail = it.next();
        if head.as_rule() == Rule::paren {
            let inner = self.expr(first(head), base);
            if let Some(t) = tail {
                self.diags.push(
                    Diagnostic::new(
                        Code::Syntax,
                        self.file,
                        self.span(&t, base),
                        "a parenthesised condition is not a value",
                    )
                    .label("cannot apply this to a condition")
                    .help("parentheses group conditions; compare a field or a literal instead"),
                );
            }
            return Expr { span: sp, ..inner };
        }
        let lhs = self.operand(head, base);
        let Some(tail) = tail else {
            return Expr {
                kind: ExprKind::Value(lhs),
                span: sp,
            };
        };
        let rule = tail.as_rule();
        let parts: Vec<Pair<'_, Rule>> = tail.into_inner().filter(meaningful).collect();
        let negated = parts.iter().any(|x| x.as_rule() == Rule::kw_not);
        let rhs_pair = parts
            .iter()
            .rev()
            .find(|x| is_operand(x.as_rule()))
            .cloned();
        let kind = match rule {
            Rule::null_test => ExprKind::IsNull {
                negated,
                operand: lhs,
            },
            Rule::exists_test => ExprKind::Exists(lhs),
            _ => {
                let Some(rhs_pair) = rhs_pair else {
                    return bool_expr(sp);
                };
                let rhs = self.operand(rhs_pair, base);
                match rule {
                    Rule::compare => {
                        let op = parts
                            .iter()
                            .find(|x| x.as_rule() == Rule::cmp_op)
                            .map_or(CmpOp::Eq, |x| cmp_op(x.as_str()));
                        ExprKind::Compare { op, lhs, rhs }
                    }
                    Rule::membership => ExprKind::In { negated, lhs, rhs },
                    Rule::cidr_test => ExprKind::Cidr { negated, lhs, rhs },
                    _ => {
                        let name = parts
                            .iter()
                            .find(|x| x.as_rule() == Rule::str_op)
                            .map_or("contains", |x| x.as_str());
                        ExprKind::Str {
                            negated,
                            op: str_op(name),
                            lhs,
                            rhs,
                        }
                    }
                }
            }
        };
        Expr { kind, span: sp }
    }

    fn operand(&mut self, p: Pair<'_, Rule>, base: usize) -> Operand {
        match p.as_rule() {
            Rule::path => Operand::Path(self.path(p, base)),
            Rule::call => {
                let span = self.span(&p, base);
                let mut it = p.into_inner();
                let name = it
                    .next()
                    .and_then(|head| head.into_inner().next())
                    .map(|n| self.ident(n, base))
                    .unwrap_or(Ident {
                        name: String::new(),
                        span,
                    });
                let args = it.map(|a| self.operand(a, base)).collect();
                Operand::Call(Call { name, args, span })
            }
            Rule::paren => {
                // `x == (a)`: only a literal or a field can be compared.
                let sp = self.span(&p, base);
                self.diags.push(
                    Diagnostic::new(
                        Code::Syntax,
                        self.file,
                        sp,
                        "parentheses cannot hold a value here",
                    )
                    .label("a field or literal was expected")
                    .help("remove the parentheses"),
                );
                Operand::Lit(placeholder(sp))
            }
            _ => Operand::Lit(self.literal(p, base)),
        }
    }

    fn path(&mut self, p: Pair<'_, Rule>, base: usize) -> Path {
        let sp = self.span(&p, base);
        let mut it = p.into_inner().filter(meaningful);
        let root = it.next().map(|r| self.ident(r, base)).unwrap_or(Ident {
            name: String::new(),
            span: sp,
        });
        let mut segments = Vec::new();
        for s in it {
            let ssp = self.span(&s, base);
            let kind = match s.as_rule() {
                Rule::ident_seg => SegKind::Field {
                    name: s.as_str().to_string(),
                    quoted: false,
                },
                Rule::quoted_seg => {
                    let name = self.unescape(s.as_str(), ssp);
                    SegKind::Field { name, quoted: true }
                }
                Rule::index => {
                    let digits = first(s);
                    match digits.as_str().parse::<i64>() {
                        Ok(i) => SegKind::Index(i),
                        Err(_) => {
                            self.diags.push(
                                Diagnostic::new(
                                    Code::BadNumber,
                                    self.file,
                                    ssp,
                                    "index out of range",
                                )
                                .label("does not fit a 64-bit integer")
                                .help("list indexes are small integers; -1 is the last element"),
                            );
                            SegKind::Index(0)
                        }
                    }
                }
                _ => continue,
            };
            segments.push(Segment { kind, span: ssp });
        }
        Path {
            root,
            segments,
            span: sp,
        }
    }

    fn list_items(&mut self, p: Pair<'_, Rule>, base: usize) -> Vec<Literal> {
        if let Some(items) = self.plain.remove(&p.as_span().start()) {
            return items;
        }
        p.into_inner()
            .filter(meaningful)
            .map(|x| self.literal(x, base))
            .collect()
    }

    fn literal(&mut self, p: Pair<'_, Rule>, base: usize) -> Literal {
        let sp = self.span(&p, base);
        let text = p.as_str();
        let kind = match p.as_rule() {
            Rule::string => LitKind::Str(self.string(p, base)),
            Rule::bool_lit => LitKind::Bool(text == "true"),
            Rule::null_lit => LitKind::Null,
            Rule::list_lit => LitKind::List(self.list_items(p, base)),
            Rule::duration => match parse_duration(text) {
                Some(ms) => LitKind::Duration(ms),
                None => {
                    self.diags.push(
                        Diagnostic::new(Code::BadDuration, self.file, sp, "duration out of range")
                            .label("too large")
                            .help("durations go up to 30d"),
                    );
                    // A valid stand-in, so the window check adds nothing.
                    LitKind::Duration(MAX_DURATION_MS)
                }
            },
            Rule::number if text.contains('.') => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => LitKind::Float(f),
                _ => {
                    self.diags.push(
                        Diagnostic::new(Code::BadNumber, self.file, sp, "number out of range")
                            .label("too large for a 64-bit float")
                            .help("numbers range up to about 1.8e308"),
                    );
                    LitKind::Float(0.0)
                }
            },
            Rule::number => {
                match text.parse::<i64>() {
                    Ok(i) => LitKind::Int(i),
                    Err(_) => {
                        self.diags.push(
                        Diagnostic::new(Code::BadNumber, self.file, sp, "integer out of range")
                            .label("does not fit a 64-bit integer")
                            .help("integers range from -9223372036854775808 to 9223372036854775807"),
                    );
                        LitKind::Int(0)
                    }
                }
            }
            _ => LitKind::Null,
        };
        Literal { kind, span: sp }
    }

    fn string(&mut self, p: Pair<'_, Rule>, base: usize) -> StrLit {
        let sp = self.span(&p, base);
        let inner = if p.as_rule() == Rule::string {
            first(p)
        } else {
            p
        };
        let text = inner.as_str();
        if inner.as_rule() == Rule::raw_string {
            let value = text
                .get(2..text.len().saturating_sub(1))
                .unwrap_or("")
                .to_string();
            return StrLit {
                value,
                span: sp,
                raw: true,
            };
        }
        StrLit {
            value: self.unescape(text, sp),
            span: sp,
            raw: false,
        }
    }

    /// Decodes a double-quoted literal (quotes included in `text`).
    fn unescape(&mut self, text: &str, sp: Span) -> String {
        let body = text.get(1..text.len().saturating_sub(1)).unwrap_or("");
        if !body.contains('\\') {
            return body.to_string();
        }
        let mut out = String::with_capacity(body.len());
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            let esc_start = sp.start + 1 + i;
            match chars.next() {
                Some((_, '"')) => out.push('"'),
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'u')) if chars.peek().map(|x| x.1) == Some('{') => {
                    let mut hex = String::new();
                    chars.next();
                    let mut closed = false;
                    for (_, h) in chars.by_ref() {
                        if h == '}' {
                            closed = true;
                            break;
                        }
                        hex.push(h);
                    }
                    match u32::from_str_radix(&hex, 16)
                        .ok()
                        .filter(|_| closed)
                        .and_then(char::from_u32)
                    {
                        Some(ch) => out.push(ch),
                        None => self.bad_escape(Span::new(esc_start, esc_start + 4 + hex.len())),
                    }
                }
                Some((_, other)) => {
                    self.bad_escape(Span::new(esc_start, esc_start + 1 + other.len_utf8()))
                }
                None => self.bad_escape(Span::new(esc_start, esc_start + 1)),
            }
        }
        out
    }

    fn bad_escape(&mut self, sp: Span) {
        self.diags.push(
            Diagnostic::new(Code::BadEscape, self.file, sp, "unknown escape sequence")
                .label("not a valid escape")
                .help("escapes are \\\" \\\\ \\n \\r \\t and \\u{hex}; for regexes, a raw string r\"...\" keeps backslashes"),
        );
    }
}

/// Joins terms with `and` (or `or`) into a tree of depth log2(n).
fn balance(mut terms: Vec<Expr>, is_or: bool) -> Option<Expr> {
    if terms.len() <= 1 {
        return terms.pop();
    }
    let right = terms.split_off(terms.len() / 2);
    let (l, r) = (balance(terms, is_or)?, balance(right, is_or)?);
    let span = l.span.to(r.span);
    let (l, r) = (Box::new(l), Box::new(r));
    let kind = if is_or {
        ExprKind::Or(l, r)
    } else {
        ExprKind::And(l, r)
    };
    Some(Expr { kind, span })
}

fn first(p: Pair<'_, Rule>) -> Pair<'_, Rule> {
    let fallback = p.clone();
    p.into_inner().find(meaningful).unwrap_or(fallback)
}

fn is_operand(r: Rule) -> bool {
    matches!(
        r,
        Rule::path
            | Rule::call
            | Rule::paren
            | Rule::string
            | Rule::number
            | Rule::duration
            | Rule::bool_lit
            | Rule::null_lit
            | Rule::list_lit
    )
}

fn placeholder(sp: Span) -> Literal {
    Literal {
        kind: LitKind::Null,
        span: sp,
    }
}

fn bool_expr(sp: Span) -> Expr {
    Expr {
        kind: ExprKind::Value(Operand::Lit(Literal {
            kind: LitKind::Bool(true),
            span: sp,
        })),
        span: sp,
    }
}

fn cmp_op(s: &str) -> CmpOp {
    match s {
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        ">=" => CmpOp::Ge,
        _ => CmpOp::Eq,
    }
}

fn str_op(s: &str) -> StrOp {
    let (ci, base) = match s.strip_prefix('i') {
        Some(rest) if !rest.is_empty() => (true, rest),
        _ => (false, s),
    };
    let kind = match base {
        "startswith" => StrOpKind::StartsWith,
        "endswith" => StrOpKind::EndsWith,
        "glob" => StrOpKind::Glob,
        "matches" => StrOpKind::Matches,
        "equals" => StrOpKind::Equals,
        _ => StrOpKind::Contains,
    };
    StrOp { kind, ci }
}

/// `5m` to milliseconds; `None` past [`MAX_DURATION_MS`] or on overflow.
pub fn parse_duration(text: &str) -> Option<u64> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit())?;
    let n: u64 = text[..digits_end].parse().ok()?;
    let unit = match &text[digits_end..] {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit).filter(|ms| *ms <= MAX_DURATION_MS)
}

/// False for the pairs of item and clause keywords, which only delimit.
pub(crate) fn meaningful(p: &Pair<'_, Rule>) -> bool {
    !item_keyword(p.as_rule())
}

/// The keywords of items and rule entries, whose pairs carry no meaning.
pub(crate) fn item_keyword(r: Rule) -> bool {
    matches!(
        r,
        Rule::kw_source
            | Rule::kw_import
            | Rule::kw_list
            | Rule::kw_extend
            | Rule::kw_tune
            | Rule::kw_macro
            | Rule::kw_rule
            | Rule::kw_when
            | Rule::kw_except
            | Rule::kw_output
            | Rule::kw_count
            | Rule::kw_sequence
            | Rule::kw_distinct
            | Rule::kw_by
            | Rule::kw_within
    )
}

//! What the editor asks about a place in a file: the field, list, macro or
//! rule under the cursor (hover, definition, references), what may be
//! written there (completion), and fixes for diagnostics (code actions).
//!
//! Completion and hover read the text around the cursor rather than the
//! syntax tree, so that they work in a file that does not parse while it is
//! being typed: the path at the cursor, the `source` in force, the guard on
//! `objectRef.resource` of the rule being written, and the variables its
//! quantifiers bind are all found in the text.

use std::collections::HashMap;

use tower_lsp_server::ls_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CompletionItem, CompletionItemKind,
    Documentation, Location, MarkupContent, MarkupKind, Position, Range, SemanticToken,
    SemanticTokenType, TextEdit, Uri, WorkspaceEdit,
};
use ward_compiler::diagnostic::{Code, FileId};
use ward_compiler::resolve::names as bare_names;
use ward_compiler::resolve::{expand, signature};
use ward_compiler::schema::{self, Field, Record, Schema, Ty};
use ward_compiler::syntax::ast::{self, Item, Span};

use super::analysis::{offset_at, position_at, Analysis};

// ---- the text around the cursor ------------------------------------------------

/// Characters of a path as written (`a.b[0]."c d"` is simplified: quoted
/// segments are read up to their quotes).
fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '*' | '-' | '/' | '"')
}

/// The path (or name) that ends at `offset` and the one that contains it:
/// `(start, end)` byte range.
fn word_at(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let start = text[..offset]
        .char_indices()
        .rev()
        .take_while(|(_, c)| path_char(*c))
        .last()
        .map_or(offset, |(i, _)| i);
    let end = text[offset..]
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(text.len(), |(i, _)| offset + i);
    (start, end)
}

/// The names of a written path: `requestObject.spec.containers[0].image`
/// gives `["requestObject", "spec", "containers", "[]", "image"]`.
fn names(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').unwrap_or((part, ""));
        let name = name.trim_matches('"');
        if !name.is_empty() {
            out.push(name.to_string());
        }
        for _ in rest.matches(']') {
            out.push("[]".to_string());
        }
    }
    out
}

/// The rule (or macro, or other item) text around `offset`: from the last
/// line that starts an item to the next.
fn item_bounds(text: &str, offset: usize) -> (usize, usize) {
    const TOP: [&str; 9] = [
        "rule ",
        "list ",
        "macro ",
        "source ",
        "import ",
        "fill ",
        "extend ",
        "tune ",
        "override ",
    ];
    let starts_item = |line: &str| TOP.iter().any(|k| line.starts_with(k));
    let mut start = 0;
    let mut end = text.len();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if starts_item(line) {
            if at <= offset {
                start = at;
            } else {
                end = at;
                break;
            }
        }
        at += line.len();
    }
    (start, end.max(start))
}

/// The context of a place in a file, read from its text.
pub struct Context<'t> {
    /// The source in force: the rule's own `source`, else the last
    /// `source` item above.
    pub source: Option<String>,
    /// Values `objectRef.resource` is guarded to in this item.
    pub resources: Vec<String>,
    /// Quantifier variables bound in this item before the cursor, with the
    /// names of the list each ranges over.
    pub vars: HashMap<String, Vec<String>>,
    /// In the body of a macro with parameters: its parameters, in order,
    /// and its signature.
    pub params: Vec<String>,
    pub signature: Option<String>,
    pub item: &'t str,
}

/// The parameters of the macro declared by `item` (its text), if the
/// cursor (`at`, relative to the item) is past the parameter list.
fn macro_params(item: &str, at: usize) -> Option<(String, Vec<String>)> {
    let rest = item.strip_prefix("override ").unwrap_or(item);
    let rest = rest.strip_prefix("macro ")?;
    let name_len = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let (name, rest) = rest.split_at(name_len);
    let open = rest.strip_prefix('(')?;
    let close = open.find(')')?;
    let params: Vec<String> = open[..close]
        .split(',')
        .map(|p| {
            // A comment in the list runs to its line's end.
            p.lines()
                .map(|l| l.split('#').next().unwrap_or(""))
                .collect::<String>()
                .trim()
                .to_string()
        })
        .filter(|p| !p.is_empty())
        .collect();
    let after = item.len() - open.len() + close;
    if at <= after || params.is_empty() {
        return None;
    }
    Some((format!("{name}({})", params.join(", ")), params))
}

pub fn context(text: &str, offset: usize) -> Context<'_> {
    let (start, end) = item_bounds(text, offset);
    let item = &text[start..end];
    let mut source = text[..start]
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("source "))
        .map(|s| s.trim().to_string());
    // A rule's own `source` entry.
    for line in item.lines().skip(1) {
        if let Some(s) = line.trim_start().strip_prefix("source ") {
            source = Some(s.trim().to_string());
        }
    }
    let mut resources = Vec::new();
    let mut rest = item;
    while let Some(i) = rest.find("objectRef.resource") {
        rest = &rest[i + "objectRef.resource".len()..];
        let t = rest.trim_start();
        let vals = if let Some(v) = t.strip_prefix("==") {
            v.trim_start().split('\n').next().unwrap_or("")
        } else if let Some(v) = t.strip_prefix("in") {
            let v = v.trim_start();
            v.get(..v.find(']').map_or(0, |n| n + 1)).unwrap_or("")
        } else {
            continue;
        };
        let mut q = vals;
        // Quoted strings up to the end of the literal.
        while let Some(a) = q.find('"') {
            let Some(b) = q[a + 1..].find('"') else { break };
            resources.push(q[a + 1..a + 1 + b].to_string());
            q = &q[a + 1 + b + 1..];
            if !(vals.trim_start().starts_with('[')) {
                break;
            }
        }
    }
    let mut vars = HashMap::new();
    let before = &text[start..offset.max(start).min(end)];
    for kw in ["any ", "all "] {
        let mut rest = before;
        while let Some(i) = rest.find(kw) {
            let after = &rest[i + kw.len()..];
            rest = after;
            let mut words = after.split_whitespace();
            let (Some(var), Some("in"), Some(list)) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let list = list.trim_end_matches(':');
            vars.insert(var.to_string(), names(list));
        }
    }
    let (signature, params) = match macro_params(item, offset.saturating_sub(start)) {
        Some((sig, params)) => (Some(sig), params),
        None => (None, Vec::new()),
    };
    Context {
        source,
        resources,
        vars,
        params,
        signature,
        item,
    }
}

// ---- fields ------------------------------------------------------------------------

/// A record, or for a narrowed field without a known guard, every shape.
fn records<'s>(schema: &'s Schema, f: &'s Field, resources: &[String]) -> Vec<&'s Record> {
    let mut ty = &f.ty;
    while let Ty::List(inner) = ty {
        ty = inner;
    }
    if let Some(r) = schema.record(ty) {
        return vec![r];
    }
    let Some(n) = &f.narrow else {
        return Vec::new();
    };
    let known: Vec<&schema::NarrowCase> = n
        .cases
        .iter()
        .filter(|c| c.values.iter().any(|v| resources.contains(v)))
        .collect();
    let cases: Vec<&schema::NarrowCase> = if known.is_empty() {
        n.cases.iter().collect()
    } else {
        known
    };
    let mut out: Vec<&Record> = Vec::new();
    for c in cases {
        if let Some(r) = schema.record(&c.ty) {
            if !out.iter().any(|o| std::ptr::eq(*o, r)) {
                out.push(r);
            }
        }
    }
    out
}

/// The fields at the end of a path of names (quantifier variables
/// expanded), with the records that hold their children.
fn walk<'s>(
    schema: &'s Schema,
    path: &[String],
    cx: &Context<'_>,
) -> Option<(Option<&'s Field>, Vec<&'s Record>)> {
    let mut path = path.to_vec();
    // A bound variable stands for an element of its list.
    for _ in 0..8 {
        let Some(list) = path.first().and_then(|r| cx.vars.get(r)) else {
            break;
        };
        let mut full = list.clone();
        full.push("[]".to_string());
        full.extend(path.drain(1..));
        path = full;
    }
    let mut recs: Vec<&Record> = vec![&schema.root];
    let mut last: Option<&Field> = None;
    for name in &path {
        if name == "[]" {
            continue;
        }
        let f = recs.iter().find_map(|r| r.field(name))?;
        recs = records(schema, f, &cx.resources);
        last = Some(f);
    }
    Some((last, recs))
}

fn ty_text(ty: &Ty) -> String {
    ty.to_string()
}

fn field_doc(path: &str, f: &Field) -> String {
    let mut s = format!("**`{path}`**: `{}`\n\n{}", ty_text(&f.ty), f.doc);
    if !f.values.is_empty() {
        s.push_str(&format!("\n\nKnown values: {}", f.values.join(", ")));
    }
    if f.case_insensitive {
        s.push_str("\n\nCompared case-insensitively by the services that read it: prefer the `i` string tests.");
    }
    if let Some(n) = &f.narrow {
        s.push_str(&format!(
            "\n\nIts shape depends on `{}`: guard the rule (`{} == \"...\"`) to narrow it.",
            n.on, n.on
        ));
    }
    s
}

// ---- hover -------------------------------------------------------------------------

pub fn hover(a: &Analysis, file: FileId, offset: usize) -> Option<(String, Range)> {
    let text = a.text(file);
    let (start, end) = word_at(text, offset);
    let word = text.get(start..end)?.trim_matches('"');
    if word.is_empty() {
        return None;
    }
    let range = Range::new(position_at(text, start), position_at(text, end));
    // A diagnostic code, as in `ward:allow(W012)` or `E020`.
    if let Some(code) = Code::ALL
        .iter()
        .find(|c| c.as_str() == word || c.name() == word)
    {
        return Some((
            format!(
                "**{} {}**: {}\n\nspec/diagnostics.md, section `{} {}`",
                code.as_str(),
                code.name(),
                code.summary(),
                code.as_str(),
                code.name()
            ),
            range,
        ));
    }
    // A function, where it is called.
    if let Some(f) =
        ward_compiler::func::Func::by_name(word).filter(|_| text[end..].starts_with('('))
    {
        return Some((func_doc(f), range));
    }
    let prog_text = |f: FileId, span: Span| {
        a.text(f)
            .get(span.start..span.end)
            .unwrap_or("")
            .to_string()
    };
    // A macro's parameter, in its signature or its body.
    if let Some(p) = param_at(a, file, offset) {
        let range = Range::new(
            position_at(text, p.span.start),
            position_at(text, p.span.end),
        );
        return Some((param_doc(&p), range));
    }
    if !word.contains(['.', '[']) {
        if let Some((f, _, span, kind)) = definition_of(a, word) {
            let body = prog_text(f, span);
            let body = body.trim_end();
            let body = if body.len() > 1500 {
                format!("{}…", &body[..floor(body, 1500)])
            } else {
                body.to_string()
            };
            // A parameterised macro: its signature, and at a call what
            // each parameter stands for there.
            let decl = macro_decl(a, word).filter(|m| !m.params.is_empty());
            let title = decl.map_or_else(|| word.to_string(), signature);
            let mut doc = format!("{kind} `{title}`, {}", a.path(f).display());
            if let (Some(m), Some(call)) = (decl, macro_call_at(a, file, start)) {
                if call.args.len() == m.params.len() {
                    let binds: Vec<String> = (m.params.iter().zip(&call.args))
                        .map(|(p, arg)| format!("`{}` = `{arg}`", p.name))
                        .collect();
                    doc.push_str(&format!("\n\nIn this call: {}", binds.join(", ")));
                }
            }
            return Some((format!("{doc}\n\n```ward\n{body}\n```"), range));
        }
    }
    let cx = context(text, offset);
    let schema = schema::bundled().get(cx.source.as_deref()?)?;
    // The path up to the end of the segment under the cursor.
    let path = names(&text[start..end]);
    let (field, _) = walk(schema, &path, &cx)?;
    Some((field_doc(&text[start..end], field?), range))
}

/// A function's signature and what it gives (spec/language.md, "Derived
/// values").
fn func_doc(f: ward_compiler::func::Func) -> String {
    format!(
        "**`{}`**\n\n{}\n\nspec/language.md, section \"Derived values\"",
        f.signature(),
        f.doc()
    )
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// ---- completion ----------------------------------------------------------------

/// Clause words; the reserved words come from the grammar
/// (`ward_compiler::syntax::RESERVED`).
const CLAUSES: [&str; 9] = [
    "when", "except", "output", "count", "sequence", "distinct", "by", "within", "until",
];

pub fn completion(a: &Analysis, file: FileId, offset: usize) -> Vec<CompletionItem> {
    let text = a.text(file);
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |n| n + 1);
    let line = &text[line_start..offset];
    if let Some(partial) = line.strip_prefix("source ") {
        return schema::bundled()
            .names()
            .filter(|n| n.starts_with(partial.trim()))
            .map(|n| item(n, CompletionItemKind::MODULE, "source", None))
            .collect();
    }
    let (start, _) = word_at(text, offset);
    let written = &text[start..offset];
    let cx = context(text, offset);
    let schema = cx.source.as_deref().and_then(|s| schema::bundled().get(s));
    if let Some(dot) = written.rfind('.') {
        // Fields of the record before the last dot.
        let Some(schema) = schema else {
            return Vec::new();
        };
        let Some((_, recs)) = walk(schema, &names(&written[..dot]), &cx) else {
            return Vec::new();
        };
        let mut seen = std::collections::HashSet::new();
        return recs
            .iter()
            .flat_map(|r| &r.fields)
            .filter(|f| seen.insert(f.name.as_str()))
            .map(|f| {
                item(
                    &f.name,
                    CompletionItemKind::FIELD,
                    &ty_text(&f.ty),
                    Some(field_doc(&format!("{}.{}", &written[..dot], f.name), f)),
                )
            })
            .collect();
    }
    let mut out = Vec::new();
    // At the start of a line inside a rule: its entries.
    if line.trim_start() == written && line.starts_with(' ') {
        out.extend(
            ward_compiler::check::meta_keys()
                .map(|k| item(k, CompletionItemKind::PROPERTY, "rule entry", None)),
        );
    }
    if line.trim_start() == written && !line.starts_with(' ') {
        out.extend(
            [
                "rule",
                "list",
                "fill list",
                "extend list",
                "macro",
                "override macro",
                "tune rule",
                "source",
                "import",
            ]
            .into_iter()
            .map(|k| item(k, CompletionItemKind::KEYWORD, "item", None)),
        );
    }
    out.extend(
        CLAUSES
            .iter()
            .chain(&ward_compiler::syntax::RESERVED)
            .map(|k| item(k, CompletionItemKind::KEYWORD, "keyword", None)),
    );
    out.extend(ward_compiler::func::Func::ALL.into_iter().map(|f| {
        item(
            f.name(),
            CompletionItemKind::FUNCTION,
            &f.signature(),
            Some(func_doc(f)),
        )
    }));
    if let Some(sig) = &cx.signature {
        for (i, p) in cx.params.iter().enumerate() {
            out.push(item(
                p,
                CompletionItemKind::VARIABLE,
                &format!("parameter {} of {}", i + 1, cx.params.len()),
                Some(format!("parameter `{p}` of macro `{sig}`")),
            ));
        }
    }
    for v in cx.vars.keys() {
        out.push(item(
            v,
            CompletionItemKind::VARIABLE,
            "quantifier variable",
            None,
        ));
    }
    let prog = names_defined(a);
    for (name, kind) in prog {
        let k = match kind {
            "list" => CompletionItemKind::CONSTANT,
            "macro" => CompletionItemKind::FUNCTION,
            _ => CompletionItemKind::CLASS,
        };
        if kind != "rule" {
            out.push(item(&name, k, kind, None));
        }
    }
    if let Some(schema) = schema {
        out.extend(schema.root.fields.iter().map(|f| {
            item(
                &f.name,
                CompletionItemKind::FIELD,
                &ty_text(&f.ty),
                Some(field_doc(&f.name, f)),
            )
        }));
    }
    out
}

fn item(
    label: &str,
    kind: CompletionItemKind,
    detail: &str,
    doc: Option<String>,
) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        documentation: doc.map(|d| {
            Documentation::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value: d,
            })
        }),
        ..CompletionItem::default()
    }
}

// ---- names: definitions and references ------------------------------------------

/// Lists, macros and rules of the rule set, with their kinds.
fn names_defined(a: &Analysis) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for (_, f) in &a.loaded.files {
        for it in &f.items {
            match it {
                Item::List(l) => out.push((l.name.name.clone(), "list")),
                Item::Macro(m) if !m.overrides => out.push((m.name.name.clone(), "macro")),
                Item::Rule(r) => out.push((r.name.name.clone(), "rule")),
                _ => {}
            }
        }
    }
    out
}

/// Where `name` is defined (a list, a macro, its override if there is
/// one, or a rule): the file, the span of the name, the span of the whole
/// item, and its kind.
pub fn definition_of(a: &Analysis, name: &str) -> Option<(FileId, Span, Span, &'static str)> {
    let mut found = None;
    for (file, f) in &a.loaded.files {
        for it in &f.items {
            match it {
                Item::List(l) if l.name.name == name => {
                    return Some((*file, l.name.span, l.span, "list"))
                }
                Item::Macro(m) if m.name.name == name && (m.overrides || found.is_none()) => {
                    found = Some((*file, m.name.span, m.span, "macro"));
                }
                Item::Rule(r) if r.name.name == name => {
                    found = found.or(Some((*file, r.name.span, r.span, "rule")))
                }
                _ => {}
            }
        }
    }
    found
}

/// Every place a list, macro or rule `name` is named: definitions,
/// extensions, overrides, tunes and uses in conditions.
pub fn references(a: &Analysis, name: &str) -> Vec<(FileId, Span)> {
    let mut out = Vec::new();
    for (file, f) in &a.loaded.files {
        let mut push = |id: &ast::Ident| {
            if id.name == name {
                out.push((*file, id.span));
            }
        };
        for it in &f.items {
            match it {
                Item::List(l) => push(&l.name),
                Item::Extend(e) => push(&e.name),
                Item::Macro(m) => {
                    push(&m.name);
                    bare_names(&m.body, &mut push);
                }
                Item::Rule(r) | Item::Tune(r) => {
                    push(&r.name);
                    for e in r.when.iter().chain(&r.excepts) {
                        bare_names(e, &mut push);
                    }
                    if let Some(s) = &r.sequence {
                        for st in &s.steps {
                            bare_names(&st.when, &mut push);
                        }
                        if let Some(u) = &s.until {
                            bare_names(u, &mut push);
                        }
                    }
                }
                Item::Source(_) | Item::Import(_) => {}
            }
        }
    }
    out
}

/// The bare name under the cursor, if any.
pub fn name_at(text: &str, offset: usize) -> Option<&str> {
    let (start, end) = word_at(text, offset);
    let w = text.get(start..end)?;
    let w = w.rsplit(['.', '[', '"']).next().unwrap_or(w);
    (!w.is_empty() && !text[start..end].contains('.')).then_some(w)
}

pub fn locations(a: &Analysis, places: &[(FileId, Span)]) -> Vec<Location> {
    places
        .iter()
        .filter_map(|(f, s)| a.location(*f, *s))
        .collect()
}

// ---- macro parameters and calls ---------------------------------------------------

/// A parameter of a parameterised macro under the cursor.
pub struct ParamAt<'a> {
    pub decl: &'a ast::MacroDecl,
    /// Which parameter, from 0.
    pub index: usize,
    /// The name under the cursor: in the signature or in the body.
    pub span: Span,
}

fn within(span: Span, offset: usize) -> bool {
    span.start <= offset && offset <= span.end
}

/// The parameter at `offset` of `file`: a name in a macro's parameter
/// list, or the root of a path in its body that names a parameter (not a
/// variable of the body's own quantifier that shadows it).
pub fn param_at(a: &Analysis, file: FileId, offset: usize) -> Option<ParamAt<'_>> {
    let (_, f) = a.loaded.files.iter().find(|(id, _)| *id == file)?;
    f.items.iter().find_map(|it| {
        let Item::Macro(m) = it else { return None };
        if m.params.is_empty() || !within(m.span, offset) {
            return None;
        }
        let declared = m.params.iter().enumerate().map(|(i, p)| (p, i));
        let (id, index) = declared
            .chain(expand::param_names(m))
            .find(|(id, _)| within(id.span, offset))?;
        Some(ParamAt {
            decl: m,
            index,
            span: id.span,
        })
    })
}

/// Every place parameter `p` is named: in the signature, then in the body.
pub fn param_places(p: &ParamAt<'_>) -> Vec<Span> {
    let mut out = vec![p.decl.params[p.index].span];
    out.extend(
        expand::param_names(p.decl)
            .into_iter()
            .filter(|(_, i)| *i == p.index)
            .map(|(id, _)| id.span),
    );
    out
}

fn param_doc(p: &ParamAt<'_>) -> String {
    let sig = signature(p.decl);
    let name = &p.decl.params[p.index].name;
    format!(
        "parameter `{name}` of macro `{sig}` ({} of {})\n\nEach call writes its argument in its place; the body is checked per call (spec/language.md, \"Macros with parameters\").",
        p.index + 1,
        p.decl.params.len()
    )
}

/// The macro declaration named `name` (its override if there is one).
fn macro_decl<'a>(a: &'a Analysis, name: &str) -> Option<&'a ast::MacroDecl> {
    let mut found = None;
    for (_, f) in &a.loaded.files {
        for it in &f.items {
            if let Item::Macro(m) = it {
                if m.name.name == name && (m.overrides || found.is_none()) {
                    found = Some(m);
                }
            }
        }
    }
    found
}

/// The call (of a macro, as a condition) whose name starts at `offset`.
fn macro_call_at(a: &Analysis, file: FileId, offset: usize) -> Option<&ast::Call> {
    fn find(e: &ast::Expr, offset: usize) -> Option<&ast::Call> {
        use ast::ExprKind as K;
        match &e.kind {
            K::And(x, y) | K::Or(x, y) => find(x, offset).or_else(|| find(y, offset)),
            K::Not(x) => find(x, offset),
            K::Quant { body, .. } => find(body, offset),
            K::Value(ast::Operand::Call(c)) if c.name.span.start == offset => Some(c),
            _ => None,
        }
    }
    let (_, f) = a.loaded.files.iter().find(|(id, _)| *id == file)?;
    f.items.iter().find_map(|it| match it {
        Item::Macro(m) => find(&m.body, offset),
        Item::Rule(r) | Item::Tune(r) => {
            let steps = r
                .sequence
                .iter()
                .flat_map(|s| s.steps.iter().map(|st| &st.when).chain(s.until.as_ref()));
            r.when
                .iter()
                .chain(&r.excepts)
                .chain(steps)
                .find_map(|e| find(e, offset))
        }
        _ => None,
    })
}

// ---- code actions ---------------------------------------------------------------

/// Fixes for the diagnostics of `file` that touch `range`: each
/// did-you-mean applied, and for warnings, a suppression with a reason to
/// fill in above the item.
pub fn code_actions(
    a: &Analysis,
    file: FileId,
    uri: &Uri,
    range: Range,
) -> Vec<CodeActionOrCommand> {
    let text = a.text(file);
    let (lo, hi) = (offset_at(text, range.start), offset_at(text, range.end));
    let mut out = Vec::new();
    for d in a.report.diagnostics.iter().filter(|d| d.file() == file) {
        let span = d.span();
        if span.end < lo || span.start > hi {
            continue;
        }
        let diag = a.convert(d);
        let edit = |range: Range, new_text: String| {
            let mut changes = HashMap::new();
            changes.insert(uri.clone(), vec![TextEdit { range, new_text }]);
            WorkspaceEdit {
                changes: Some(changes),
                ..WorkspaceEdit::default()
            }
        };
        if let Some(fix) = d
            .help
            .as_deref()
            .and_then(|h| h.strip_prefix("did you mean `"))
            .and_then(|h| h.strip_suffix("`?"))
        {
            let written = text.get(span.start..span.end).unwrap_or("");
            // The label covers what was written: the whole path, or one
            // name of it.
            let new = if written.contains('.') || !fix.contains('.') {
                fix.to_string()
            } else {
                fix.rsplit('.').next().unwrap_or(fix).to_string()
            };
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("Change to `{new}`"),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diag.clone()]),
                edit: Some(edit(diag.range, new)),
                is_preferred: Some(true),
                ..CodeAction::default()
            }));
        }
        if d.severity() == ward_compiler::diagnostic::Severity::Warning {
            // Above the item (list, macro, rule) that holds the warning.
            let (item_start, _) = item_bounds(text, span.start);
            let at = position_at(text, item_start);
            out.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: format!("Allow {} here, with a reason", d.code.name()),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diag.clone()]),
                edit: Some(edit(
                    Range::new(at, at),
                    format!(
                        "# ward:allow({}) reason: TODO say why this is fine\n",
                        d.code.name()
                    ),
                )),
                ..CodeAction::default()
            }));
        }
    }
    out
}

// ---- semantic tokens ----------------------------------------------------------

/// The token types `ward lsp` reports, in legend order.
pub const TOKEN_TYPES: [SemanticTokenType; 10] = [
    SemanticTokenType::KEYWORD,
    SemanticTokenType::OPERATOR,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::COMMENT,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::CLASS,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::ENUM_MEMBER,
];

/// The file's tokens, encoded as the protocol wants (each relative to the
/// one before, columns in UTF-16); tokens spanning lines (raw strings) are
/// cut at their first line.
pub fn semantic_tokens(a: &Analysis, file: FileId) -> Vec<SemanticToken> {
    use ward_compiler::syntax::tokens::{tokens, Kind};
    let text = a.text(file);
    // Bare names that the rule set defines as lists or macros.
    let defined: HashMap<String, &str> = names_defined(a).into_iter().collect();
    // Macro parameters, where declared and where used: variables.
    let mut params = std::collections::HashSet::new();
    if let Some((_, f)) = a.loaded.files.iter().find(|(id, _)| *id == file) {
        for it in &f.items {
            if let Item::Macro(m) = it {
                params.extend(m.params.iter().map(|p| p.span.start));
                params.extend(
                    expand::param_names(m)
                        .into_iter()
                        .map(|(id, _)| id.span.start),
                );
            }
        }
    }
    let mut out = Vec::new();
    let (mut line, mut col) = (0u32, 0u32);
    for (span, kind) in tokens(text) {
        let ty = match kind {
            Kind::Keyword => 0,
            Kind::Operator => 1,
            Kind::String => 2,
            Kind::Number => 3,
            Kind::Comment => 4,
            Kind::List => 5,
            Kind::Macro | Kind::Function => 6,
            Kind::Rule => 7,
            Kind::Field if params.contains(&span.start) => 5,
            Kind::Field => {
                let bare = !text[..span.start].ends_with(['.', '"']);
                match defined.get(&text[span.start..span.end]) {
                    Some(&"list") if bare => 5,
                    Some(&"macro") if bare => 6,
                    _ => 8,
                }
            }
            Kind::Property => 8,
            Kind::Value => 9,
        };
        let start = position_at(text, span.start);
        let end = text[span.start..span.end]
            .find('\n')
            .map_or(span.end, |n| span.start + n);
        let length: usize = text[span.start..end].chars().map(char::len_utf16).sum();
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 {
            start.character - col
        } else {
            start.character
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length: u32::try_from(length).unwrap_or(u32::MAX),
            token_type: ty,
            token_modifiers_bitset: 0,
        });
        (line, col) = (start.line, start.character);
    }
    out
}

/// A position as the protocol wants it, for tests.
pub fn pos(text: &str, offset: usize) -> Position {
    position_at(text, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_hover_where_called_and_complete() {
        let mut ws = super::super::analysis::Workspace::new(Vec::new());
        let path = std::path::PathBuf::from("/nowhere/f.ward");
        let text = "source k8s.audit\nrule r {\n  when len(user.groups) > 1 and len == 2\n}\n";
        ws.open(&path, text.to_string(), 1);
        let a = ws.analyze();
        let file = a.file(&path).expect("open file");
        let at = text.find("len(").expect("call") + 1;
        let (doc, _) = hover(&a, file, at).expect("hover on a call");
        assert!(
            doc.starts_with("**`len(x: string or list) -> int`**"),
            "{doc}"
        );
        // `len` alone is a name, not the function.
        let at = text.find("len ==").expect("name") + 1;
        assert!(hover(&a, file, at).is_none_or(|(d, _)| !d.contains("-> int")));
        let items = completion(&a, file, text.find("> 1").expect("at"));
        let q = items
            .iter()
            .find(|i| i.label == "query")
            .expect("query offered");
        assert_eq!(
            q.detail.as_deref(),
            Some("query(uri: string, name: string literal) -> list<string>")
        );
    }

    /// A variable of the body's own quantifier that shadows a parameter is
    /// not the parameter; the parameter's places are its own.
    #[test]
    fn parameters_shadowed_by_the_body_are_not_parameters() {
        let mut ws = super::super::analysis::Workspace::new(Vec::new());
        let path = std::path::PathBuf::from("/nowhere/m.ward");
        let text = "source k8s.audit\nmacro m(g, n) = g == \"a\" or any g in user.groups: g == n\n";
        ws.open(&path, text.to_string(), 1);
        let a = ws.analyze();
        let file = a.file(&path).expect("open file");
        let first = text.find("g ==").expect("first use");
        let p = param_at(&a, file, first).expect("a parameter");
        assert_eq!((p.index, p.span.start), (0, first));
        let declared = text.find("(g").expect("signature") + 1;
        assert_eq!(
            param_places(&p),
            [
                Span::new(declared, declared + 1),
                Span::new(first, first + 1)
            ]
        );
        let shadowed = text.find("g == n").expect("shadowed use");
        assert!(param_at(&a, file, shadowed).is_none());
        let n = param_at(&a, file, shadowed + 5).expect("n");
        assert_eq!(n.index, 1);
        assert!(param_at(&a, file, text.find("user").expect("field")).is_none());
    }

    #[test]
    fn paths_and_context_are_read_from_text() {
        assert_eq!(
            names("requestObject.spec.containers[0].image"),
            ["requestObject", "spec", "containers", "[]", "image"]
        );
        let text = "source k8s.audit\n\nrule r {\n  when objectRef.resource == \"pods\"\n       and any c in requestObject.spec.containers: c.ima\n}\n";
        let at = text.find("c.ima").expect("c.ima") + 5;
        let cx = context(text, at);
        assert_eq!(cx.source.as_deref(), Some("k8s.audit"));
        assert_eq!(cx.resources, ["pods"]);
        assert_eq!(
            cx.vars.get("c").map(Vec::as_slice),
            Some(
                &[
                    "requestObject".to_string(),
                    "spec".into(),
                    "containers".into()
                ][..]
            )
        );
        let schema = schema::bundled().get("k8s.audit").expect("schema");
        let (_, recs) = walk(schema, &names("c"), &cx).expect("c resolves");
        assert!(recs.iter().any(|r| r.field("image").is_some()));
    }
}

//! Resolution: one namespace of lists, macros and rules over all loaded
//! files; duplicates and macro cycles are reported with every span involved,
//! and macro calls are expanded ([`expand`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::load::Loaded;
use crate::syntax::ast::*;

pub mod expand;

/// A definition and the file it sits in.
#[derive(Debug, Clone, Copy)]
pub struct Def<'a, T> {
    pub file: FileId,
    pub item: &'a T,
    /// The `source` in force where the item was written.
    pub source: Option<&'a Ident>,
}

/// A list: its declaration, and its items with those of every
/// `extend list` of it, in load order.
#[derive(Debug, Clone)]
pub struct ListDef<'a> {
    pub file: FileId,
    pub item: &'a ListDecl,
    pub source: Option<&'a Ident>,
    /// The declaration's items, then each extension's. Borrowed when
    /// nothing extends the list (a million-item list is not copied).
    pub items: Cow<'a, [Literal]>,
    /// The extensions, in load order, each with its file.
    pub extends: Vec<(FileId, &'a ListExtend)>,
}

impl ListDef<'_> {
    /// The file that item `i` of [`ListDef::items`] is written in.
    pub fn file_of(&self, i: usize) -> FileId {
        let mut end = self.item.items.len();
        if i < end {
            return self.file;
        }
        for (file, e) in &self.extends {
            end += e.items.len();
            if i < end {
                return *file;
            }
        }
        self.file
    }

    /// A `fill list` that no file has filled: the rules that read it are
    /// inactive.
    pub fn unfilled(&self) -> bool {
        self.item.fill && self.items.is_empty()
    }
}

/// The resolved rule set: names to definitions.
#[derive(Debug, Default)]
pub struct Program<'a> {
    pub lists: BTreeMap<&'a str, ListDef<'a>>,
    pub macros: BTreeMap<&'a str, Def<'a, MacroDecl>>,
    pub rules: Vec<Def<'a, RuleDecl>>,
    /// Macros replaced by an `override macro`: the original definitions.
    pub overridden: BTreeMap<&'a str, Def<'a, MacroDecl>>,
    /// `tune rule` items by the id of the rule they tune, in load order.
    pub tunes: BTreeMap<&'a str, Vec<Def<'a, RuleDecl>>>,
}

impl<'a> Program<'a> {
    /// Builds the namespace. The first definition of a name wins; later ones
    /// are reported.
    pub fn resolve(loaded: &'a Loaded, diags: &mut Vec<Diagnostic>) -> Program<'a> {
        let mut prog = Program::default();
        let mut rule_ids: HashMap<&str, (FileId, Span)> = HashMap::new();
        let mut names: HashMap<&str, (FileId, Span, &str)> = HashMap::new();
        for (file, f) in &loaded.files {
            let file = *file;
            let mut source = None;
            for item in &f.items {
                match item {
                    Item::Source(s) => source = Some(s),
                    Item::Import(_) | Item::Extend(_) | Item::Tune(_) => {}
                    Item::List(l) => {
                        if define(&mut names, &l.name, file, "list", diags) {
                            prog.lists.insert(
                                &l.name.name,
                                ListDef {
                                    file,
                                    item: l,
                                    source,
                                    items: Cow::Borrowed(&l.items),
                                    extends: Vec::new(),
                                },
                            );
                        }
                    }
                    Item::Macro(m) if m.overrides => {}
                    Item::Macro(m) => {
                        if let Some(d) = function_name(file, m) {
                            diags.push(d);
                        }
                        if define(&mut names, &m.name, file, "macro", diags) {
                            prog.macros.insert(
                                &m.name.name,
                                Def {
                                    file,
                                    item: m,
                                    source,
                                },
                            );
                        }
                    }
                    Item::Rule(r) => {
                        if let Some((pf, ps)) = rule_ids.get(r.name.name.as_str()) {
                            diags.push(duplicate(&r.name, file, "rule", *pf, *ps));
                            continue;
                        }
                        rule_ids.insert(&r.name.name, (file, r.name.span));
                        prog.rules.push(Def {
                            file,
                            item: r,
                            source,
                        });
                    }
                }
            }
        }
        prog.extend_lists(loaded, diags);
        prog.tune_rules(loaded, diags);
        prog.override_macros(loaded, diags);
        prog.find_cycles(diags);
        prog
    }

    /// Metadata entry `key` of rule `r` as in force: the last `tune rule`
    /// that sets it, else the rule's own.
    pub fn meta(&self, r: &'a RuleDecl, key: &str) -> Option<&'a MetaValue> {
        let tunes = self.tunes.get(r.name.name.as_str());
        (tunes.into_iter().flatten().rev())
            .find_map(|t| t.item.meta(key))
            .or_else(|| r.meta(key))
            .map(|m| &m.value)
    }

    /// The unfilled `fill list`s rule `r` reads in what it matches (`when`,
    /// sequence steps and `until`), directly or through macros, by name:
    /// while any is left, the rule is inactive. An empty list read by an
    /// `except` only excepts nothing.
    pub fn unfilled_lists(&self, r: &'a RuleDecl) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        let mut seen: std::collections::HashSet<&'a str> = Default::default();
        let mut todo: Vec<&'a Expr> = r.when.iter().collect();
        if let Some(s) = &r.sequence {
            todo.extend(s.steps.iter().map(|st| &st.when).chain(&s.until));
        }
        while let Some(e) = todo.pop() {
            names(e, &mut |n| {
                let n = n.name.as_str();
                if !seen.insert(n) {
                    return;
                }
                if let Some(m) = self.macros.get(n) {
                    todo.push(&m.item.body);
                } else if let Some((key, l)) = self.lists.get_key_value(n) {
                    if l.unfilled() {
                        out.push(key);
                    }
                }
            });
        }
        out.sort_unstable();
        out
    }

    /// Puts every `override macro` in place of the macro it names, keeping
    /// the original in [`Program::overridden`]. One override per macro.
    fn override_macros(&mut self, loaded: &'a Loaded, diags: &mut Vec<Diagnostic>) {
        for (file, f) in &loaded.files {
            let mut source = None;
            for item in &f.items {
                let m = match item {
                    Item::Source(s) => {
                        source = Some(s);
                        continue;
                    }
                    Item::Macro(m) if m.overrides => m,
                    _ => continue,
                };
                let name = m.name.name.as_str();
                let new = Def {
                    file: *file,
                    item: m,
                    source,
                };
                if let Some(first) = self.overridden.get(name) {
                    let prev = self
                        .macros
                        .get(name)
                        .map_or(first.item.name.span, |d| d.item.name.span);
                    let prev_file = self.macros.get(name).map_or(first.file, |d| d.file);
                    diags.push(
                        Diagnostic::new(
                            Code::Duplicate,
                            *file,
                            m.name.span,
                            format!("macro `{name}` is overridden twice"),
                        )
                        .label("second override")
                        .with_label(prev_file, prev, "first override")
                        .help("one override per macro; merge the two"),
                    );
                    continue;
                }
                if let Some(old) = self.macros.insert(name, new) {
                    if old.item.params.len() != m.params.len() {
                        diags.push(changed_params(*file, m, &old));
                    }
                    self.overridden.insert(name, old);
                    continue;
                }
                self.macros.remove(name);
                let d = if let Some(l) = self.lists.get(name) {
                    Diagnostic::new(
                        Code::WrongKind,
                        *file,
                        m.name.span,
                        format!("`{name}` is a list, not a macro"),
                    )
                    .label("only macros can be overridden")
                    .with_label(l.file, l.item.name.span, "declared here")
                    .help(format!("add items with `extend list {name} [...]`"))
                } else {
                    let near = crate::check::suggest::closest(name, self.macros.keys().copied());
                    Diagnostic::new(
                        Code::UnknownName,
                        *file,
                        m.name.span,
                        format!("no macro `{name}` to override"),
                    )
                    .label("not declared in any file of the rule set")
                    .help(match near {
                        Some(n) => format!("did you mean `{n}`?"),
                        None => format!("to declare a new macro, write `macro {name} = ...`"),
                    })
                };
                diags.push(d);
            }
        }
    }

    /// Files every `tune rule` under the rule it names; tuning a rule that
    /// does not exist is an error.
    fn tune_rules(&mut self, loaded: &'a Loaded, diags: &mut Vec<Diagnostic>) {
        for (file, f) in &loaded.files {
            let mut source = None;
            for item in &f.items {
                let t = match item {
                    Item::Source(s) => {
                        source = Some(s);
                        continue;
                    }
                    Item::Tune(t) => t,
                    _ => continue,
                };
                let id = t.name.name.as_str();
                if let Some(r) = self.rules.iter().find(|r| r.item.name.name == id) {
                    let key: &'a str = r.item.name.name.as_str();
                    self.tunes.entry(key).or_default().push(Def {
                        file: *file,
                        item: t,
                        source,
                    });
                    continue;
                }
                let ids = self.rules.iter().map(|r| r.item.name.name.as_str());
                let near = crate::check::suggest::closest(id, ids);
                diags.push(
                    Diagnostic::new(
                        Code::UnknownName,
                        *file,
                        t.name.span,
                        format!("no rule `{id}` to tune"),
                    )
                    .label("not a rule of the rule set")
                    .help(match near {
                        Some(n) => format!("did you mean `{n}`?"),
                        None => "tune a rule of the files loaded with this one (`--rules bundled --rules FILE`)".to_string(),
                    }),
                );
            }
        }
    }

    /// Adds the items of every `extend list` to its list, wherever the two
    /// are written. Extending a name that is no list is an error.
    fn extend_lists(&mut self, loaded: &'a Loaded, diags: &mut Vec<Diagnostic>) {
        for (file, f) in &loaded.files {
            for item in &f.items {
                let Item::Extend(e) = item else { continue };
                let name = e.name.name.as_str();
                if let Some(def) = self.lists.get_mut(name) {
                    def.items.to_mut().extend(e.items.iter().cloned());
                    def.extends.push((*file, e));
                    continue;
                }
                let d = if let Some(m) = self.macros.get(name) {
                    Diagnostic::new(
                        Code::WrongKind,
                        *file,
                        e.name.span,
                        format!("`{name}` is a macro, not a list"),
                    )
                    .label("only lists can be extended")
                    .with_label(m.file, m.item.name.span, "defined here")
                    .help("to change a macro, edit its definition")
                } else {
                    let near = crate::check::suggest::closest(name, self.lists.keys().copied());
                    Diagnostic::new(
                        Code::UnknownName,
                        *file,
                        e.name.span,
                        format!("no list named `{name}` to extend"),
                    )
                    .label("not declared in any file of the rule set")
                    .help(match near {
                        Some(n) => format!("did you mean `{n}`?"),
                        None => format!(
                            "declare it with `list {name} = [...]`, or load the file that does"
                        ),
                    })
                };
                diags.push(d);
            }
        }
    }

    /// Reports each macro cycle once, at the macro that closes it, and
    /// each macro that nests others more than [`MAX_MACRO_DEPTH`] deep.
    ///
    /// A depth-first walk with its own stack, not recursion: a generated
    /// chain of ten thousand macros must not exhaust the thread's stack.
    fn find_cycles(&self, diags: &mut Vec<Diagnostic>) {
        // Per macro: `None` while on the walk, its nesting depth once done.
        let mut depth: HashMap<&'a str, Option<usize>> = HashMap::new();
        let frame = |name: &'a str| {
            let def = self.macros.get(name)?;
            let mut refs = Vec::new();
            macro_refs(&def.item.body, &mut refs);
            Some(Frame {
                name,
                file: def.file,
                refs,
                next: 0,
                below: 0,
            })
        };
        for root in self.macros.keys() {
            if depth.contains_key(root) {
                continue;
            }
            let Some(f) = frame(root) else { continue };
            depth.insert(root, None);
            let mut stack = vec![f];
            while let Some(top) = stack.last_mut() {
                let Some(r) = top.refs.get(top.next).copied() else {
                    let done = 1 + top.below;
                    let (name, file) = (top.name, top.file);
                    stack.pop();
                    if done == MAX_MACRO_DEPTH + 1 {
                        diags.push(self.too_deep(name, file));
                    }
                    depth.insert(name, Some(done));
                    if let Some(parent) = stack.last_mut() {
                        parent.below = parent.below.max(done);
                    }
                    continue;
                };
                top.next += 1;
                let Some((key, _)) = self.macros.get_key_value(r.name.as_str()) else {
                    continue;
                };
                match depth.get(key) {
                    Some(Some(d)) => top.below = top.below.max(*d),
                    Some(None) => diags.push(self.cycle(&stack, key)),
                    None => {
                        if let Some(f) = frame(key) {
                            depth.insert(key, None);
                            stack.push(f);
                        }
                    }
                }
            }
        }
    }

    /// The cycle closed by following `name` from the top of `stack`.
    fn cycle(&self, stack: &[Frame<'a>], name: &str) -> Diagnostic {
        let start = stack.iter().position(|f| f.name == name).unwrap_or(0);
        let cycle = &stack[start..];
        let chain: Vec<&str> = cycle.iter().map(|f| f.name).chain([name]).collect();
        let last = &cycle[cycle.len() - 1];
        // The reference just followed: the one before `next`.
        let span = last.refs[last.next - 1].span;
        let mut d = Diagnostic::new(
            Code::MacroCycle,
            last.file,
            span,
            format!("macro `{name}` expands to itself"),
        )
        .label(format!("`{}` uses `{name}` here", last.name))
        .help(if chain.len() == 2 {
            format!("`{name}` refers to itself, so its expansion never ends")
        } else {
            format!(
                "the expansion never ends: {}; break the cycle",
                chain.join(" -> ")
            )
        });
        if let Some(def) = self.macros.get(name) {
            d = d.with_label(
                def.file,
                def.item.name.span,
                format!("`{name}` is defined here"),
            );
        }
        d
    }

    fn too_deep(&self, name: &str, file: FileId) -> Diagnostic {
        let span = self.macros.get(name).map(|d| d.item.name.span);
        Diagnostic::new(
            Code::MacroCycle,
            file,
            span.unwrap_or_default(),
            format!("macro `{name}` nests macros more than {MAX_MACRO_DEPTH} deep"),
        )
        .label("its expansion goes this deep")
        .help("a chain this long is usually generated; join the conditions into fewer macros")
    }
}

/// A macro on the walk of [`Program::find_cycles`]: its references, the
/// next to follow, and the deepest nesting found below it.
struct Frame<'a> {
    name: &'a str,
    file: FileId,
    refs: Vec<&'a Ident>,
    next: usize,
    below: usize,
}

/// The deepest nesting of macros in macros that is expanded.
pub const MAX_MACRO_DEPTH: usize = 128;

/// An `override macro` whose parameters are not as many as the
/// original's: every call of it would break.
fn changed_params(file: FileId, m: &MacroDecl, old: &Def<'_, MacroDecl>) -> Diagnostic {
    let count = |n: usize| match n {
        0 => "no parameters".to_string(),
        1 => "1 parameter".to_string(),
        n => format!("{n} parameters"),
    };
    let (was, now) = (old.item.params.len(), m.params.len());
    Diagnostic::new(
        Code::MacroArity,
        file,
        params_span(m),
        format!(
            "override of `{}` takes {}, the original {}",
            m.name.name,
            count(now),
            count(was)
        ),
    )
    .label("the override's parameters")
    .with_label(old.file, params_span(old.item), "the original's")
    .help(format!(
        "an override keeps the macro's parameters, so that its calls still fit: `override macro {}`",
        signature(old.item)
    ))
}

/// The parameter list of `m` where written, or its name for a plain macro.
pub fn params_span(m: &MacroDecl) -> Span {
    match (m.params.first(), m.params.last()) {
        (Some(a), Some(b)) => a.span.to(b.span),
        _ => m.name.span,
    }
}

/// `name(x, L)`, or `name` for a plain macro.
pub fn signature(m: &MacroDecl) -> String {
    if m.params.is_empty() {
        return m.name.name.clone();
    }
    let ps: Vec<&str> = m.params.iter().map(|p| p.name.as_str()).collect();
    format!("{}({})", m.name.name, ps.join(", "))
}

/// A parameterised macro named like a function: `len(x)` would mean both.
fn function_name(file: FileId, m: &MacroDecl) -> Option<Diagnostic> {
    if m.params.is_empty() || crate::func::Func::by_name(&m.name.name).is_none() {
        return None;
    }
    Some(
        Diagnostic::new(
            Code::Duplicate,
            file,
            m.name.span,
            format!("`{}` is a function", m.name.name),
        )
        .label("a macro called like a function cannot share its name")
        .help("rename the macro"),
    )
}

fn define<'a>(
    names: &mut HashMap<&'a str, (FileId, Span, &'static str)>,
    name: &'a Ident,
    file: FileId,
    kind: &'static str,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    if let Some((pf, ps, pkind)) = names.get(name.name.as_str()) {
        diags.push(duplicate(name, file, pkind, *pf, *ps));
        return false;
    }
    names.insert(&name.name, (file, name.span, kind));
    true
}

fn duplicate(
    name: &Ident,
    file: FileId,
    prev_kind: &str,
    prev_file: FileId,
    prev: Span,
) -> Diagnostic {
    Diagnostic::new(
        Code::Duplicate,
        file,
        name.span,
        format!("`{}` is defined twice", name.name),
    )
    .label("second definition")
    .with_label(
        prev_file,
        prev,
        format!("first defined here, as a {prev_kind}"),
    )
    .help(if prev_kind == "rule" {
        "rule ids are unique across the rule set; rename one of them"
    } else {
        "lists and macros share one namespace across the rule set; rename one of them"
    })
}

/// Calls `f` with every bare name in a condition: macros, lists (and
/// quantifier variables), call arguments included.
pub fn names<'e>(e: &'e Expr, f: &mut impl FnMut(&'e Ident)) {
    fn name<'e>(o: &'e Operand, f: &mut impl FnMut(&'e Ident)) {
        match o {
            Operand::Path(p) => p.as_name().into_iter().for_each(f),
            Operand::Call(c) => {
                // A call of a macro names it.
                if crate::func::Func::by_name(&c.name.name).is_none() {
                    f(&c.name);
                }
                c.args.iter().for_each(|a| name(a, f))
            }
            Operand::Lit(_) => {}
        }
    }
    match &e.kind {
        ExprKind::And(a, b) | ExprKind::Or(a, b) => {
            names(a, f);
            names(b, f);
        }
        ExprKind::Not(a) => names(a, f),
        ExprKind::Quant { list, body, .. } => {
            if let Operand::Call(_) = list {
                name(list, f);
            }
            names(body, f)
        }
        ExprKind::Compare { lhs, rhs, .. }
        | ExprKind::In { lhs, rhs, .. }
        | ExprKind::Cidr { lhs, rhs, .. }
        | ExprKind::Str { lhs, rhs, .. } => {
            name(lhs, f);
            name(rhs, f);
        }
        ExprKind::IsNull { operand, .. } | ExprKind::Exists(operand) | ExprKind::Value(operand) => {
            name(operand, f)
        }
    }
}

/// Bare names and called names in a condition that may refer to macros
/// (or lists).
pub fn macro_refs<'e>(e: &'e Expr, out: &mut Vec<&'e Ident>) {
    match &e.kind {
        ExprKind::And(a, b) | ExprKind::Or(a, b) => {
            macro_refs(a, out);
            macro_refs(b, out);
        }
        ExprKind::Not(a) => macro_refs(a, out),
        ExprKind::Quant { body, .. } => macro_refs(body, out),
        ExprKind::Value(Operand::Path(p)) => out.extend(p.as_name()),
        ExprKind::Value(Operand::Call(c)) => out.push(&c.name),
        _ => {}
    }
}

//! Resolution: one namespace of lists, macros and rules over all loaded
//! files; duplicates and macro cycles are reported with every span involved.

use std::collections::{BTreeMap, HashMap};

use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::load::Loaded;
use crate::syntax::ast::*;

/// A definition and the file it sits in.
#[derive(Debug, Clone, Copy)]
pub struct Def<'a, T> {
    pub file: FileId,
    pub item: &'a T,
    /// The `source` in force where the item was written.
    pub source: Option<&'a Ident>,
}

/// The resolved rule set: names to definitions.
#[derive(Debug, Default)]
pub struct Program<'a> {
    pub lists: BTreeMap<&'a str, Def<'a, ListDecl>>,
    pub macros: BTreeMap<&'a str, Def<'a, MacroDecl>>,
    pub rules: Vec<Def<'a, RuleDecl>>,
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
                    Item::Import(_) => {}
                    Item::List(l) => {
                        if define(&mut names, &l.name, file, "list", diags) {
                            prog.lists.insert(
                                &l.name.name,
                                Def {
                                    file,
                                    item: l,
                                    source,
                                },
                            );
                        }
                    }
                    Item::Macro(m) => {
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
        prog.find_cycles(diags);
        prog
    }

    /// Reports each macro cycle once, at the macro that closes it.
    fn find_cycles(&self, diags: &mut Vec<Diagnostic>) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Active,
            Done,
        }
        fn visit<'a>(
            prog: &Program<'a>,
            name: &'a str,
            marks: &mut HashMap<&'a str, Mark>,
            stack: &mut Vec<(&'a str, FileId, Span)>,
            diags: &mut Vec<Diagnostic>,
        ) {
            match marks.get(name) {
                Some(Mark::Done) => return,
                Some(Mark::Active) => {
                    let start = stack.iter().position(|(n, _, _)| *n == name).unwrap_or(0);
                    let cycle = &stack[start..];
                    let chain: Vec<&str> = cycle.iter().map(|(n, _, _)| *n).chain([name]).collect();
                    let Some(def) = prog.macros.get(name) else {
                        return;
                    };
                    let (last_name, last_file, last_span) = cycle[cycle.len() - 1];
                    let mut d = Diagnostic::new(
                        Code::MacroCycle,
                        last_file,
                        last_span,
                        format!("macro `{name}` expands to itself"),
                    )
                    .label(format!("`{last_name}` uses `{name}` here"))
                    .help(if chain.len() == 2 {
                        format!("`{name}` refers to itself, so its expansion never ends")
                    } else {
                        format!(
                            "the expansion never ends: {}; break the cycle",
                            chain.join(" -> ")
                        )
                    });
                    d = d.with_label(
                        def.file,
                        def.item.name.span,
                        format!("`{name}` is defined here"),
                    );
                    diags.push(d);
                    return;
                }
                None => {}
            }
            let Some(def) = prog.macros.get(name) else {
                return;
            };
            marks.insert(name, Mark::Active);
            let mut refs = Vec::new();
            macro_refs(&def.item.body, &mut refs);
            for r in refs {
                if let Some((key, _)) = prog.macros.get_key_value(r.name.as_str()) {
                    stack.push((name, def.file, r.span));
                    visit(prog, key, marks, stack, diags);
                    stack.pop();
                }
            }
            marks.insert(name, Mark::Done);
        }
        let mut marks = HashMap::new();
        for name in self.macros.keys() {
            visit(self, name, &mut marks, &mut Vec::new(), diags);
        }
    }
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

/// Bare names in a condition that may refer to macros (or lists).
pub fn macro_refs<'e>(e: &'e Expr, out: &mut Vec<&'e Ident>) {
    match &e.kind {
        ExprKind::And(a, b) | ExprKind::Or(a, b) => {
            macro_refs(a, out);
            macro_refs(b, out);
        }
        ExprKind::Not(a) => macro_refs(a, out),
        ExprKind::Quant { body, .. } => macro_refs(body, out),
        ExprKind::Value(Operand::Path(p)) => out.extend(p.as_name()),
        _ => {}
    }
}

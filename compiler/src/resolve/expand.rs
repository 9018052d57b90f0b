//! Macro calls: a parameterised macro's body with the call's arguments in
//! place of its parameters.
//!
//! Expansion is substitution, done on the syntax tree, so that the checker
//! types each call's body as if written out by hand and lowering sees plain
//! conditions (shared tests dedup across rules as for any other). Every span
//! of an expansion lies in the macro's file: an argument takes the span of
//! the parameter it replaces, and the checker moves what it reports in an
//! expansion to the call.

use crate::syntax::ast::*;

/// A parameter followed by a field (`x.image`) whose argument is a literal
/// or a derived value, which has no fields: the span of the use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoFields {
    pub span: Span,
    pub param: usize,
}

/// The body of `decl` with `args` (as many as its parameters) in place of
/// its parameters. A variable the body binds itself is renamed (`c'`, a
/// name no one can write) when an argument names a variable of the same
/// name, so the body's quantifier does not capture the caller's.
pub fn substitute(decl: &MacroDecl, args: &[Operand]) -> Result<Expr, NoFields> {
    let mut free = Vec::new();
    for a in args {
        roots(a, &mut free);
    }
    Subst {
        params: &decl.params,
        args,
        free,
        scopes: Vec::new(),
    }
    .expr(&decl.body)
}

/// The bare names `body` reads that are neither parameters nor variables
/// it binds itself: fields, lists, macros, or (a mistake) the variables of
/// the condition that uses the macro.
pub fn free_names<'e>(decl: &'e MacroDecl, out: &mut Vec<&'e Ident>) {
    visit(decl, &mut |p, whose| {
        if whose == Whose::Free {
            out.push(&p.root);
        }
    });
}

/// The paths of the body whose root is a free name `known` rejects: not
/// a field, list or macro, so only the caller's variable (a mistake) or
/// nothing could mean it.
pub fn unknown_uses(decl: &MacroDecl, known: impl Fn(&str) -> bool) -> Vec<Span> {
    let mut out = Vec::new();
    visit(decl, &mut |p, whose| {
        if whose == Whose::Free && !known(&p.root.name) {
            out.push(p.span);
        }
    });
    out
}

/// Where the body reads its parameters: the spans of those paths.
pub fn param_uses(decl: &MacroDecl) -> Vec<Span> {
    let mut out = Vec::new();
    visit(decl, &mut |p, whose| {
        if whose == Whose::Param {
            out.push(p.span);
        }
    });
    out
}

/// Where the body names its parameters: the root name of each such path
/// and which parameter (0-based) it is. A variable of the body's own
/// quantifier that shadows a parameter is not one.
pub fn param_names(decl: &MacroDecl) -> Vec<(&Ident, usize)> {
    let mut out = Vec::new();
    visit(decl, &mut |p, whose| {
        if whose == Whose::Param {
            if let Some(i) = decl.params.iter().position(|x| x.name == p.root.name) {
                out.push((&p.root, i));
            }
        }
    });
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Whose {
    Param,
    /// A variable of the body's own quantifiers.
    Own,
    Free,
}

/// Calls `f` with every path of the body (call arguments included) and
/// what its root is.
fn visit<'e>(decl: &'e MacroDecl, f: &mut impl FnMut(&'e Path, Whose)) {
    fn op<'e>(o: &'e Operand, own: &[&str], params: &[Ident], f: &mut impl FnMut(&'e Path, Whose)) {
        match o {
            Operand::Path(p) => {
                let root = p.root.name.as_str();
                f(
                    p,
                    if own.contains(&root) {
                        Whose::Own
                    } else if params.iter().any(|x| x.name == root) {
                        Whose::Param
                    } else {
                        Whose::Free
                    },
                )
            }
            Operand::Call(c) => c.args.iter().for_each(|a| op(a, own, params, f)),
            Operand::Lit(_) => {}
        }
    }
    fn walk<'e>(
        e: &'e Expr,
        own: &mut Vec<&'e str>,
        params: &[Ident],
        f: &mut impl FnMut(&'e Path, Whose),
    ) {
        match &e.kind {
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                walk(a, own, params, f);
                walk(b, own, params, f);
            }
            ExprKind::Not(a) => walk(a, own, params, f),
            ExprKind::Quant {
                var, list, body, ..
            } => {
                op(list, own, params, f);
                own.push(&var.name);
                walk(body, own, params, f);
                own.pop();
            }
            ExprKind::Compare { lhs, rhs, .. }
            | ExprKind::In { lhs, rhs, .. }
            | ExprKind::Cidr { lhs, rhs, .. }
            | ExprKind::Str { lhs, rhs, .. } => {
                op(lhs, own, params, f);
                op(rhs, own, params, f);
            }
            ExprKind::IsNull { operand, .. }
            | ExprKind::Exists(operand)
            | ExprKind::Value(operand) => op(operand, own, params, f),
        }
    }
    walk(&decl.body, &mut Vec::new(), &decl.params, f);
}

/// The root names of the paths in `o`, arguments of calls included.
fn roots_ident<'e>(o: &'e Operand, out: &mut Vec<&'e Ident>) {
    match o {
        Operand::Path(p) => out.push(&p.root),
        Operand::Call(c) => c.args.iter().for_each(|a| roots_ident(a, out)),
        Operand::Lit(_) => {}
    }
}

fn roots(o: &Operand, out: &mut Vec<String>) {
    let mut ids = Vec::new();
    roots_ident(o, &mut ids);
    out.extend(ids.into_iter().map(|i| i.name.clone()));
}

struct Subst<'d> {
    params: &'d [Ident],
    args: &'d [Operand],
    /// Names the arguments read: a body variable of one of these names is
    /// renamed.
    free: Vec<String>,
    /// The body's own variables, innermost last: as written, as renamed.
    scopes: Vec<(String, String)>,
}

impl Subst<'_> {
    fn expr(&mut self, e: &Expr) -> Result<Expr, NoFields> {
        let two = |s: &mut Self, a: &Expr, b: &Expr| -> Result<_, NoFields> {
            Ok((Box::new(s.expr(a)?), Box::new(s.expr(b)?)))
        };
        let kind = match &e.kind {
            ExprKind::And(a, b) => {
                let (a, b) = two(self, a, b)?;
                ExprKind::And(a, b)
            }
            ExprKind::Or(a, b) => {
                let (a, b) = two(self, a, b)?;
                ExprKind::Or(a, b)
            }
            ExprKind::Not(a) => ExprKind::Not(Box::new(self.expr(a)?)),
            ExprKind::Quant {
                kind,
                var,
                list,
                body,
            } => {
                let list = self.operand(list)?;
                let mut fresh = var.name.clone();
                while self.free.contains(&fresh) || self.scopes.iter().any(|(_, r)| *r == fresh) {
                    fresh.push('\'');
                }
                self.scopes.push((var.name.clone(), fresh.clone()));
                let body = self.expr(body);
                self.scopes.pop();
                ExprKind::Quant {
                    kind: *kind,
                    var: Ident {
                        name: fresh,
                        span: var.span,
                    },
                    list,
                    body: Box::new(body?),
                }
            }
            ExprKind::Compare { op, lhs, rhs } => ExprKind::Compare {
                op: *op,
                lhs: self.operand(lhs)?,
                rhs: self.operand(rhs)?,
            },
            ExprKind::In { negated, lhs, rhs } => ExprKind::In {
                negated: *negated,
                lhs: self.operand(lhs)?,
                rhs: self.operand(rhs)?,
            },
            ExprKind::Cidr { negated, lhs, rhs } => ExprKind::Cidr {
                negated: *negated,
                lhs: self.operand(lhs)?,
                rhs: self.operand(rhs)?,
            },
            ExprKind::Str {
                negated,
                op,
                lhs,
                rhs,
            } => ExprKind::Str {
                negated: *negated,
                op: *op,
                lhs: self.operand(lhs)?,
                rhs: self.operand(rhs)?,
            },
            ExprKind::IsNull { negated, operand } => ExprKind::IsNull {
                negated: *negated,
                operand: self.operand(operand)?,
            },
            ExprKind::Exists(o) => ExprKind::Exists(self.operand(o)?),
            ExprKind::Value(o) => ExprKind::Value(self.operand(o)?),
        };
        Ok(Expr { kind, span: e.span })
    }

    fn operand(&mut self, o: &Operand) -> Result<Operand, NoFields> {
        Ok(match o {
            Operand::Lit(_) => o.clone(),
            Operand::Call(c) => Operand::Call(Call {
                name: c.name.clone(),
                args: (c.args.iter())
                    .map(|a| self.operand(a))
                    .collect::<Result<_, _>>()?,
                span: c.span,
            }),
            Operand::Path(p) => {
                let root = p.root.name.as_str();
                if let Some((_, renamed)) = self.scopes.iter().rev().find(|(n, _)| n == root) {
                    let mut p = p.clone();
                    p.root.name = renamed.clone();
                    return Ok(Operand::Path(p));
                }
                let Some(i) = self.params.iter().position(|x| x.name == root) else {
                    return Ok(o.clone());
                };
                let arg = respan(&self.args[i], p.root.span);
                match arg {
                    Operand::Path(mut a) => {
                        a.segments.extend(p.segments.iter().cloned());
                        a.span = p.span;
                        Operand::Path(a)
                    }
                    other if p.segments.is_empty() => other,
                    _ => {
                        return Err(NoFields {
                            span: p.span,
                            param: i,
                        })
                    }
                }
            }
        })
    }
}

/// `o` with every span set to `span`: an argument, moved to where its
/// parameter is used.
fn respan(o: &Operand, span: Span) -> Operand {
    match o {
        Operand::Lit(l) => Operand::Lit(respan_lit(l, span)),
        Operand::Path(p) => Operand::Path(Path {
            root: Ident {
                name: p.root.name.clone(),
                span,
            },
            segments: (p.segments.iter())
                .map(|s| Segment {
                    kind: s.kind.clone(),
                    span,
                })
                .collect(),
            span,
        }),
        Operand::Call(c) => Operand::Call(Call {
            name: Ident {
                name: c.name.name.clone(),
                span,
            },
            args: c.args.iter().map(|a| respan(a, span)).collect(),
            span,
        }),
    }
}

fn respan_lit(l: &Literal, span: Span) -> Literal {
    let kind = match &l.kind {
        LitKind::Str(s) => LitKind::Str(StrLit {
            value: s.value.clone(),
            span,
            raw: s.raw,
        }),
        LitKind::List(items) => LitKind::List(items.iter().map(|i| respan_lit(i, span)).collect()),
        k => k.clone(),
    };
    Literal { kind, span }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn decl(text: &str) -> MacroDecl {
        let (file, diags) = parse::parse(Default::default(), text);
        assert!(diags.is_empty(), "{diags:?}");
        match file.items.into_iter().next() {
            Some(Item::Macro(m)) => m,
            other => panic!("not a macro: {other:?}"),
        }
    }

    fn args(text: &str) -> Vec<Operand> {
        let m = decl(&format!("macro probe = f({text})"));
        match m.body.kind {
            ExprKind::Value(Operand::Call(c)) => c.args,
            other => panic!("not a call: {other:?}"),
        }
    }

    fn show(e: &Expr) -> String {
        e.to_string()
    }

    #[test]
    fn arguments_replace_parameters_and_extend_paths() {
        let m = decl("macro m(x, L) = x.image in L and len(x.name) > 3");
        let e = substitute(&m, &args("c, allowed")).unwrap();
        assert_eq!(show(&e), "c.image in allowed and len(c.name) > 3");
        let e = substitute(&m, &args("requestObject.spec, [\"a\"]")).unwrap();
        assert_eq!(
            show(&e),
            "requestObject.spec.image in [\"a\"] and len(requestObject.spec.name) > 3"
        );
    }

    #[test]
    fn the_bodys_own_variable_does_not_capture_an_argument() {
        let m = decl("macro m(x) = any c in x.containers: c.name == x.name");
        let e = substitute(&m, &args("c")).unwrap();
        assert_eq!(show(&e), "any c' in c.containers: c'.name == c.name");
        // No clash, no renaming.
        let e = substitute(&m, &args("requestObject.spec")).unwrap();
        assert_eq!(
            show(&e),
            "any c in requestObject.spec.containers: c.name == requestObject.spec.name"
        );
    }

    #[test]
    fn a_literal_argument_has_no_fields() {
        let m = decl("macro m(x) = x.image == \"a\"");
        let err = substitute(&m, &args("\"lit\"")).unwrap_err();
        assert_eq!(err.param, 0);
        assert_eq!(
            &"macro m(x) = x.image == \"a\""[err.span.start..err.span.end],
            "x.image"
        );
    }

    #[test]
    fn free_names_leave_out_parameters_and_own_variables() {
        let m = decl("macro m(x) = any c in x.items: c == verb and d.name == x");
        let mut out = Vec::new();
        free_names(&m, &mut out);
        let names: Vec<&str> = out.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["verb", "d"]);
    }
}

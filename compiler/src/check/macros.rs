//! Macro uses: a plain macro by its name, a parameterised one called with
//! arguments; arity, hygiene, and each call's expansion checked as if
//! written out, what it finds shown at the call.

use super::expr::Cx;
use crate::diagnostic::{Code, Diagnostic, Label, Severity};
use crate::resolve::expand::{self, NoFields};
use crate::resolve::{params_span, signature, Def};
use crate::schema::Ty;
use crate::syntax::ast::*;

impl<'a> Cx<'_, 'a> {
    /// A plain macro used by its name (`at`) as a condition. Its body is
    /// checked once per rule, without the variables bound around the use:
    /// a macro body sees fields, lists and macros, not the caller's names.
    pub(crate) fn macro_use(&mut self, name: &'a str, def: &'a Def<'a, MacroDecl>, at: Span) {
        self.ck.used.insert(name);
        if !def.item.params.is_empty() {
            let d = self
                .err(
                    Code::MacroArity,
                    at,
                    format!("macro `{name}` takes arguments"),
                )
                .label("used without arguments")
                .with_label(def.file, params_span(def.item), "its parameters")
                .help(format!(
                    "call it with one argument per parameter: `{}`",
                    signature(def.item)
                ));
            self.push(d);
            return;
        }
        if self.too_deep(name) || self.captures(name, def, at) {
            return;
        }
        if !self.expanded.insert((name, String::new())) {
            return;
        }
        let bindings = std::mem::take(&mut self.bindings);
        let ci = std::mem::take(&mut self.ci_elements);
        let file = std::mem::replace(&mut self.file, def.file);
        self.expanding.push(name.to_string());
        self.condition(&def.item.body);
        self.expanding.pop();
        self.file = file;
        self.bindings = bindings;
        self.ci_elements = ci;
    }

    /// `name(args...)` as a condition: the arguments are checked where
    /// written, then the body with the arguments in place of the
    /// parameters. What that finds about a parameter's use is reported at
    /// the call, with the place in the body; the rest is the body's own,
    /// found once by [`Cx::macro_generic`].
    pub(crate) fn macro_call(&mut self, c: &Call, name: &'a str, def: &'a Def<'a, MacroDecl>) {
        self.ck.used.insert(name);
        let params = &def.item.params;
        let n = c.args.len();
        if params.is_empty() || n != params.len() {
            let d = if params.is_empty() {
                self.err(
                    Code::MacroArity,
                    c.span,
                    format!("macro `{name}` takes no arguments"),
                )
                .label(format!("called with {}", plural(n, "argument")))
                .with_label(def.file, def.item.name.span, "declared without parameters")
                .help(format!("use it by its name alone: `{name}`"))
            } else {
                self.err(
                    Code::MacroArity,
                    c.span,
                    format!(
                        "macro `{name}` takes {}, not {n}",
                        plural(params.len(), "argument")
                    ),
                )
                .label(format!("{} here", plural(n, "argument")))
                .with_label(def.file, params_span(def.item), "its parameters")
                .help(format!("call it as `{}`", signature(def.item)))
            };
            self.push(d);
            return;
        }
        // The arguments, in the caller's scope. Their warnings come again
        // from the expansion, at the call.
        let mark = self.ck.diags.len();
        for a in &c.args {
            self.operand(a);
        }
        let errors = (self.ck.diags[mark..].iter()).any(|d| d.severity() == Severity::Error);
        if errors {
            return;
        }
        self.ck.diags.truncate(mark);
        if self.too_deep(name) || self.captures(name, def, c.span) {
            return;
        }
        if !self
            .expanded
            .insert((name, format!("{c}|{}", self.binding_key())))
        {
            return;
        }
        let body = match expand::substitute(def.item, &c.args) {
            Ok(body) => body,
            Err(NoFields { span, param }) => {
                let (p, arg) = (&params[param].name, &c.args[param]);
                let d = self
                    .err(
                        Code::TypeMismatch,
                        arg.span(),
                        format!("`{arg}` has no fields"),
                    )
                    .label(format!("passed to `{name}` as `{p}`"))
                    .with_label(def.file, span, format!("`{name}` reads a field of `{p}`"))
                    .help(format!("pass a field or a variable as `{p}`"));
                self.push(d);
                return;
            }
        };
        let uses = expand::param_uses(def.item);
        let mark = self.ck.diags.len();
        let file = std::mem::replace(&mut self.file, def.file);
        self.expanding.push(name.to_string());
        self.condition(&body);
        self.expanding.pop();
        self.file = file;
        let found: Vec<Diagnostic> = self.ck.diags.drain(mark..).collect();
        let in_body = |l: &Label| l.file == def.file && within(l.span, def.item.span);
        for d in found {
            let involves =
                (d.labels.iter()).any(|l| in_body(l) && uses.iter().any(|u| overlaps(*u, l.span)));
            // Warnings may hang on the caller's guards: shown at each call.
            if involves || (in_body(&d.labels[0]) && d.severity() == Severity::Warning) {
                let note = in_the_body(name, params, &c.args);
                self.push(at_call(d, self.file, c.span, name, &note, in_body));
            } else if !in_body(&d.labels[0]) {
                self.push(d);
            }
        }
    }

    /// A parameterised macro on its own, its parameters of any type: the
    /// errors it has whatever the arguments (an unknown field, a bad
    /// regex). What depends on a parameter, and warnings (which may hang
    /// on the caller's guards), are left to each call; a name a call
    /// already reported as the caller's variable is not reported again.
    pub(crate) fn macro_generic(&mut self, name: &str, m: &'a MacroDecl) {
        let mut seen: Vec<&Ident> = Vec::new();
        for p in &m.params {
            if let Some(first) = seen.iter().find(|s| s.name == p.name) {
                let d = self
                    .err(
                        Code::Duplicate,
                        p.span,
                        format!("parameter `{}` is declared twice", p.name),
                    )
                    .label("second")
                    .with_label(self.file, first.span, "first")
                    .help("give each parameter its own name");
                self.push(d);
            }
            seen.push(p);
            if self.schema.root.field(&p.name).is_some()
                || self.ck.prog.lists.contains_key(p.name.as_str())
                || self.ck.prog.macros.contains_key(p.name.as_str())
            {
                let d = self
                    .err(
                        Code::Shadowing,
                        p.span,
                        format!("`{}` hides another name", p.name),
                    )
                    .label("inside the macro this means the argument")
                    .help("pick a short name no field, list or macro uses, such as `x` or `L`");
                self.push(d);
            }
            self.bindings.push((p.name.clone(), Ty::Json));
            self.ci_elements.push((p.name.clone(), None));
        }
        let uses = expand::param_uses(m);
        let mark = self.ck.diags.len();
        self.expanding.push(name.to_string());
        self.condition(&m.body);
        self.expanding.pop();
        let found: Vec<Diagnostic> = self.ck.diags.drain(mark..).collect();
        for d in found {
            let involves = (d.labels.iter())
                .any(|l| l.file == self.file && uses.iter().any(|u| overlaps(*u, l.span)));
            // A name some call reported as the caller's variable.
            let captured = self.ck.captured.contains(&(self.file, d.span().start));
            if !involves && !captured && d.severity() == Severity::Error {
                self.push(d);
            }
        }
        self.bindings.clear();
        self.ci_elements.clear();
    }

    /// A cycle, or nesting past the limit: reported by resolution.
    fn too_deep(&self, name: &str) -> bool {
        self.expanding.len() >= crate::resolve::MAX_MACRO_DEPTH
            || self.expanding.iter().any(|n| n == name)
    }

    /// Reports each name in the body of `name` that only a variable bound
    /// around its use (`at`) could mean; `true` if there is one.
    fn captures(&mut self, name: &str, def: &'a Def<'a, MacroDecl>, at: Span) -> bool {
        let mut free = Vec::new();
        expand::free_names(def.item, &mut free);
        let prog = self.ck.prog;
        let mut found = false;
        for id in free {
            let n = id.name.as_str();
            if self.binding(n).is_none()
                || self.schema.root.field(n).is_some()
                || prog.lists.contains_key(n)
                || prog.macros.contains_key(n)
            {
                continue;
            }
            found = true;
            self.ck.captured.insert((def.file, id.span.start));
            let (call, decl) = if def.item.params.is_empty() {
                (n.to_string(), format!("macro {name}({n})"))
            } else {
                let ps: Vec<&str> = def.item.params.iter().map(|p| p.name.as_str()).collect();
                (
                    format!("..., {n}"),
                    format!("macro {name}({}, {n})", ps.join(", ")),
                )
            };
            let d = Diagnostic::new(
                Code::CapturedVariable,
                def.file,
                id.span,
                format!("macro `{name}` reads `{n}`, a variable of the condition that uses it"),
            )
            .label(format!("`{n}` is not a parameter of `{name}`"))
            .with_label(self.file, at, format!("`{name}` used here, where `{n}` is bound"))
            .help(format!(
                "a macro sees only its parameters, fields, lists and macros: pass `{n}` as a parameter, `{decl} = ...`, called as `{name}({call})`"
            ));
            self.push(d);
        }
        found
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn overlaps(a: Span, b: Span) -> bool {
    a.start < b.end.max(b.start + 1) && b.start < a.end.max(a.start + 1)
}

fn within(a: Span, outer: Span) -> bool {
    outer.start <= a.start && a.end <= outer.end
}

/// `d`, found in a call's expansion, shown at the call first: the call
/// is the primary label (where the header, `--format json`, SARIF and the
/// editor put the finding), and the first label in the body (`in_body`)
/// says whose body it is and with what arguments (`note`).
pub(crate) fn at_call(
    mut d: Diagnostic,
    file: crate::diagnostic::FileId,
    call: Span,
    name: &str,
    note: &str,
    in_body: impl Fn(&Label) -> bool,
) -> Diagnostic {
    let first = d.labels.iter().position(in_body).unwrap_or(0);
    for (i, l) in d.labels.iter_mut().enumerate() {
        if i == first {
            l.message = if l.message.is_empty() {
                note.to_string()
            } else {
                format!("{}; {note}", l.message)
            };
        } else if l.message.is_empty() {
            l.message = format!("in `{name}`");
        }
    }
    d.labels.insert(
        0,
        Label {
            file,
            span: call,
            message: format!("in this call of `{name}`"),
        },
    );
    d
}

/// `in the body of macro `image_in`, with x = c.image, L = allowed`: where
/// a finding of a call's expansion lies, and what the parameters stood for.
pub(crate) fn in_the_body(name: &str, params: &[Ident], args: &[Operand]) -> String {
    let with: Vec<String> = (params.iter().zip(args))
        .map(|(p, a)| format!("{} = {}", p.name, shorten(&a.to_string())))
        .collect();
    if with.is_empty() {
        format!("in the body of macro `{name}`")
    } else {
        format!("in the body of macro `{name}`, with {}", with.join(", "))
    }
}

/// An argument as shown in a label: a long list literal is cut.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        return s.to_string();
    }
    let cut: String = s.chars().take(MAX - 1).collect();
    format!("{}…", cut.trim_end())
}

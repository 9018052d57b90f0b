//! Calls: a derived value's function, its argument count and each
//! argument's type. A call's type is its function's result type; its
//! arguments are checked like any operand (fields against the schema).

use super::expr::{ty_name, Cx};
use super::path::Resolved;
use super::suggest;
use crate::diagnostic::Code;
use crate::func::{Func, Param};
use crate::schema::Ty;
use crate::syntax::ast::*;

impl<'a> Cx<'_, 'a> {
    /// The type of `c`; `None` when something about it is already reported.
    pub(crate) fn call(&mut self, c: &Call) -> Option<Resolved<'a>> {
        if self.ck.prog.macros.contains_key(c.name.name.as_str()) {
            let d = self
                .err(
                    Code::WrongKind,
                    c.span,
                    format!("macro `{}` is a condition, not a value", c.name.name),
                )
                .label("a field, literal, list or function was expected")
                .help("use the macro call on its own, as one term of a condition");
            self.push(d);
            return None;
        }
        let Some(func) = Func::by_name(&c.name.name) else {
            let names = Func::ALL.map(Func::name);
            let d = self
                .err(
                    Code::UnknownFunction,
                    c.name.span,
                    format!("unknown function `{}`", c.name.name),
                )
                .label("not a function Ward has");
            // A longer or shorter spelling of a name (`lowercase`, `length`).
            let written = c.name.name.as_str();
            let near = suggest::closest(written, names).or_else(|| {
                names.into_iter().find(|n| {
                    written.len() >= 2 && (written.starts_with(n) || n.starts_with(written))
                })
            });
            let d = match near {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("functions: {}", names.join(", "))),
            };
            self.push(d);
            // The arguments are still checked: their mistakes are their own.
            for a in &c.args {
                self.operand(a);
            }
            return None;
        };
        let params = func.params();
        if c.args.len() != params.len() {
            let n = c.args.len();
            let d = self
                .err(
                    Code::BadArguments,
                    c.span,
                    format!(
                        "`{}` takes {} argument{}, not {n}",
                        func.name(),
                        params.len(),
                        if params.len() == 1 { "" } else { "s" }
                    ),
                )
                .label(format!("{n} argument{}", if n == 1 { "" } else { "s" }))
                .help(format!("call it as `{}`", func.signature()));
            self.push(d);
            for a in &c.args {
                self.operand(a);
            }
            return None;
        }
        let mut ok = true;
        for (arg, (pname, param)) in c.args.iter().zip(params) {
            ok &= self.argument(func, arg, pname, *param);
        }
        ok.then(|| Resolved {
            ty: func.returns(),
            field: None,
        })
    }

    /// Checks one argument against what its parameter takes.
    fn argument(&mut self, func: Func, arg: &Operand, pname: &str, param: Param) -> bool {
        let bad = |cx: &Self, msg: String, label: String| {
            cx.err(Code::BadArguments, arg.span(), msg)
                .label(label)
                .help(format!("call it as `{}`", func.signature()))
        };
        match arg {
            Operand::Lit(Literal {
                kind: LitKind::Str(_),
                ..
            }) if param != Param::Map => return true,
            Operand::Lit(l)
                if param == Param::StrLit || matches!(l.kind, LitKind::List(_) | LitKind::Null) =>
            {
                let d = bad(
                    self,
                    format!("`{pname}` of `{}` is a {}", func.name(), param.describe()),
                    format!("this is {}", ty_name(&super::expr::lit_ty(l))),
                );
                self.push(d);
                return false;
            }
            _ if param == Param::StrLit => {
                let d = bad(
                    self,
                    format!("`{pname}` of `{}` is a string literal", func.name()),
                    "a value read per event".into(),
                );
                self.push(d);
                return false;
            }
            Operand::Path(p) => {
                let prog = self.ck.prog;
                let list = p
                    .as_name()
                    .filter(|n| self.binding(&n.name).is_none())
                    .and_then(|n| prog.lists.get_key_value(n.name.as_str()));
                if let Some((name, _)) = list {
                    self.ck.used.insert(name);
                    let d = bad(
                        self,
                        format!("list `{name}` cannot be an argument"),
                        "a named list of literals".into(),
                    );
                    self.push(d);
                    return false;
                }
            }
            _ => {}
        }
        let Some(r) = self.operand(arg) else {
            return false;
        };
        let fits = match param {
            Param::Str => r.ty.is_stringy() || r.ty == Ty::Json,
            Param::StrOrList => r.ty.is_stringy() || r.ty == Ty::Json || r.ty.is_list(),
            Param::StrLit => false,
            Param::Map => matches!(r.ty, Ty::Map(_) | Ty::Json),
        };
        if !fits {
            let mut d = bad(
                self,
                format!(
                    "`{}` takes {}, not {}",
                    func.name(),
                    match param {
                        Param::StrOrList => "a string or a list",
                        Param::Map => "a map (an object with arbitrary keys)",
                        _ => "a string",
                    },
                    ty_name(&r.ty)
                ),
                format!("this is {}", ty_name(&r.ty)),
            );
            if let (Ty::List(elem), Operand::Path(p)) = (&r.ty, arg) {
                let x = if matches!(**elem, Ty::Record(_)) {
                    "x.<field>"
                } else {
                    "x"
                };
                d = d.help(format!(
                    "apply it to each element: `any x in {p}: {}({x}) ...`",
                    func.name()
                ));
            }
            self.push(d);
        }
        fits
    }
}

#[cfg(test)]
mod tests {
    use crate::diagnostic::{Code, Diagnostic};
    use crate::{check, load, schema};

    fn diags(cond: &str) -> Vec<Diagnostic> {
        let text = format!("source k8s.audit\nlist l = [\"a\"]\nmacro m = verb == \"get\"\nrule r {{ when {cond} }}\n");
        let loaded = load::load_texts(&[("t.ward", &text)]);
        let mut d = check(&loaded, schema::bundled()).diagnostics;
        d.retain(|d| d.code != Code::UnusedDefinition);
        d
    }

    fn when(cond: &str) -> Vec<Code> {
        diags(cond).into_iter().map(|d| d.code).collect()
    }

    #[test]
    fn calls_type_like_fields() {
        for c in [
            r#"lower(user.username) == "admin""#,
            r#"upper(verb) in ["GET", "LIST"]"#,
            r#"len(user.groups) > 2 and len(userAgent) >= 200"#,
            r#"len(query(requestURI, "command")) == 1"#,
            r#"objectRef.resource == "pods" and registry(requestObject.spec.containers[0].image) != "docker.io""#,
            r#"objectRef.resource == "pods" and any c in requestObject.spec.containers: (tag(c.image) == "latest" or digest(c.image) is null)"#,
            r#"objectRef.resource == "pods" and any c in requestObject.spec.containers: repository(c.image) endswith "/xmrig""#,
            r#"any v in query(requestURI, "command"): v in ["sh", "bash"]"#,
            r#"all v in query(requestURI, "command"): lower(v) != "sh""#,
            r#""sh" in query(requestURI, "command") and "x" not in query(requestURI, "c")"#,
            r#"is_private(sourceIPs[0]) and not is_loopback(sourceIPs[-1])"#,
            r#"is_private(sourceIPs[0]) == false"#,
            r#"any ip in sourceIPs: is_loopback(ip)"#,
            r#"objectRef.resource == "widgets" and base64(requestObject.spec.token) contains "hunter""#,
            r#"requestURI contains lower(user.username)"#,
            r#"lower(upper(verb)) == "get" and lower("ABC") == "abc""#,
            r#"lower(objectRef.name) is not null and tag(userAgent) is null"#,
            r#"len(requestObject) > 0"#,
        ] {
            assert_eq!(when(c), [], "{c}");
        }
    }

    #[test]
    fn unknown_functions() {
        let d = diags(r#"lowr(verb) == "get""#);
        assert_eq!(
            d.iter().map(|d| d.code).collect::<Vec<_>>(),
            [Code::UnknownFunction]
        );
        assert_eq!(d[0].help.as_deref(), Some("did you mean `lower`?"));
        let d = diags(r#"length(verb) == 4"#);
        assert_eq!(d[0].help.as_deref(), Some("did you mean `len`?"));
        let d = diags(r#"frobnicate(verb) == "get""#);
        assert!(d[0]
            .help
            .as_deref()
            .unwrap_or("")
            .starts_with("functions: lower, upper, len"));
        // Its arguments are still checked.
        assert_eq!(
            when(r#"lowr(vrb) == "get""#),
            [Code::UnknownFunction, Code::UnknownName]
        );
    }

    #[test]
    fn argument_counts_and_types() {
        for c in [
            r#"lower() == "a""#,
            r#"lower(verb, verb) == "a""#,
            r#"len(query(requestURI)) > 0"#,
            r#"lower(responseStatus.code) == "a""#,
            r#"lower(user.groups) == "a""#,
            r#"len(responseStatus.code) > 1"#,
            r#"is_private(sourceIPs)"#,
            r#"query(requestURI, verb) == []"#,
            r#"query(requestURI, 1) == []"#,
            r#"lower(null) == "a""#,
            r#"lower(["A"]) == "a""#,
            r#"lower(l) == "a""#,
            r#"lower(42) == "a""#,
        ] {
            assert!(when(c).contains(&Code::BadArguments), "{c}: {:?}", when(c));
        }
        let d = diags(r#"lower(user.groups) == "a""#);
        assert_eq!(
            d[0].help.as_deref(),
            Some("apply it to each element: `any x in user.groups: lower(x) ...`")
        );
        let d = diags(r#"query(requestURI) == "a""#);
        assert_eq!(
            d[0].help.as_deref(),
            Some("call it as `query(uri: string, name: string literal) -> list<string>`")
        );
    }

    #[test]
    fn results_are_typed() {
        assert_eq!(when(r#"len(verb) == "3""#), [Code::TypeMismatch]);
        assert_eq!(when(r#"lower(verb) > 3"#), [Code::TypeMismatch]);
        assert_eq!(when("lower(verb)"), [Code::NotBoolean]);
        assert_eq!(when("len(user.groups)"), [Code::NotBoolean]);
        assert_eq!(
            when(r#"query(requestURI, "c") == "sh""#),
            [Code::ListVsScalar]
        );
        assert_eq!(
            when(r#"query(requestURI, "c") contains "sh""#),
            [Code::ListVsScalar]
        );
        assert_eq!(when(r#"any c in lower(verb): c == "x""#), [Code::NotAList]);
        assert_eq!(
            when(r#"any v in query(requestURI, "c"): v.x == "y""#),
            [Code::UnknownField]
        );
        assert_eq!(when(r#"lower(verb) exists"#), [Code::TypeMismatch]);
        assert_eq!(when(r#"verb matches lower(verb)"#), [Code::TypeMismatch]);
        assert_eq!(
            when(r#"sourceIPs[0] in cidr lower(verb)"#),
            [Code::TypeMismatch]
        );
        assert_eq!(when(r#"lower(m) == "a""#), [Code::WrongKind]);
        let d = diags("is_private(sourceIPs[0]) and lower(verb)");
        assert_eq!(
            d.last().and_then(|d| d.help.as_deref()),
            Some("compare it, as in `lower(verb) == ...`, or test it: `lower(verb) is not null`")
        );
    }
}

//! Conditions: operator and operand types, literals (regex, glob, CIDR),
//! macros, quantifiers, output templates and stateful clauses.

use super::path::{Facts, Resolved};
use super::{comparable, suggest, Checker};
use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::pattern;
use crate::resolve::ListDef;
use crate::schema::{Schema, Ty};
use crate::syntax::ast::*;

/// The state of checking one rule: its schema, the file whose spans are
/// being checked (a macro's, while inside one), the guard facts and the
/// variables bound by quantifiers.
pub(crate) struct Cx<'c, 'a> {
    pub(crate) ck: &'c mut Checker<'a>,
    pub(crate) schema: &'a Schema,
    pub(crate) file: FileId,
    pub(crate) facts: Facts,
    pub(super) bindings: Vec<(String, Ty)>,
    /// For each binding, in step with `bindings`: the list field marked
    /// `case_insensitive` (DNS names) whose elements it ranges over.
    pub(super) ci_elements: Vec<(String, Option<&'a crate::schema::Field>)>,
    pub(super) expanding: Vec<String>,
    /// Macros checked in this rule: plain ones by name, calls with their
    /// arguments and the variables bound at the time.
    pub(super) expanded: std::collections::HashSet<(&'a str, String)>,
    /// Fields the schema marks `opt_in` may be read without W022: the rule
    /// ships `enabled false`, or this is a tune's `except` or a macro
    /// checked on its own (its rules are checked with it).
    pub(crate) opt_in_allowed: bool,
}

impl<'c, 'a> Cx<'c, 'a> {
    pub(crate) fn new(
        ck: &'c mut Checker<'a>,
        schema: &'a Schema,
        file: FileId,
        facts: Facts,
    ) -> Self {
        Cx {
            ck,
            schema,
            file,
            facts,
            bindings: Vec::new(),
            ci_elements: Vec::new(),
            expanding: Vec::new(),
            expanded: Default::default(),
            opt_in_allowed: true,
        }
    }

    /// The variables bound here and their types, as one string.
    pub(super) fn binding_key(&self) -> String {
        let mut key = String::new();
        for ((name, ty), (_, ci)) in self.bindings.iter().zip(&self.ci_elements) {
            key += &format!("{name}:{ty}:{}|", ci.map_or("", |f| f.name.as_str()));
        }
        key
    }

    pub(crate) fn binding(&self, name: &str) -> Option<&Ty> {
        self.bindings
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
    }

    pub(crate) fn push(&mut self, d: Diagnostic) {
        self.ck.diags.push(d);
    }

    pub(crate) fn err(&self, code: Code, span: Span, msg: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, self.file, span, msg)
    }

    pub(crate) fn macro_standalone(&mut self, name: &str, m: &MacroDecl) {
        self.expanding.push(name.to_string());
        self.condition(&m.body);
        self.expanding.pop();
    }

    /// Checks that `e` is a well-typed boolean condition.
    pub(crate) fn condition(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::And(a, b) | ExprKind::Or(a, b) => {
                self.condition(a);
                self.condition(b);
            }
            ExprKind::Not(a) => self.condition(a),
            ExprKind::Quant {
                var, list, body, ..
            } => self.quantifier(var, list, body),
            ExprKind::Compare { op, lhs, rhs } => self.compare(*op, lhs, rhs),
            ExprKind::In { lhs, rhs, negated } => self.membership(*negated, lhs, rhs),
            ExprKind::Cidr { lhs, rhs, .. } => self.cidr(lhs, rhs),
            ExprKind::Str {
                op,
                lhs,
                rhs,
                negated,
            } => self.string_test(*op, *negated, lhs, rhs),
            ExprKind::IsNull { operand, .. } | ExprKind::Exists(operand) => {
                self.presence(e, operand)
            }
            ExprKind::Value(op) => self.value_condition(op),
        }
    }

    fn quantifier(&mut self, var: &Ident, list: &Operand, body: &Expr) {
        let resolved = self.operand(list);
        let ci_list = resolved
            .as_ref()
            .and_then(|r| r.field)
            .filter(|f| f.case_insensitive && f.ty.is_list());
        let elem = match resolved {
            Some(Resolved {
                ty: Ty::List(t), ..
            }) => *t,
            Some(Resolved { ty: Ty::Json, .. }) => Ty::Json,
            Some(r) => {
                let d = self
                    .err(
                        Code::NotAList,
                        list.span(),
                        format!("`{list}` is not a list"),
                    )
                    .label(format!("this is {}", ty_name(&r.ty)))
                    .help(format!(
                        "`any`/`all` iterate over lists; test `{list}` directly instead"
                    ));
                self.push(d);
                Ty::Json
            }
            None => Ty::Json,
        };
        let hides = self.binding(&var.name).is_some()
            || self.schema.root.field(&var.name).is_some()
            || self.ck.prog.lists.contains_key(var.name.as_str())
            || self.ck.prog.macros.contains_key(var.name.as_str());
        if hides {
            let d = self
                .err(
                    Code::Shadowing,
                    var.span,
                    format!("`{}` hides another name", var.name),
                )
                .label("inside the quantifier this means the element")
                .help("pick a short name no field, list or macro uses, such as `c` or `x`");
            self.push(d);
        }
        self.bindings.push((var.name.clone(), elem));
        self.ci_elements.push((var.name.clone(), ci_list));
        self.condition(body);
        self.ci_elements.pop();
        self.bindings.pop();
    }

    /// The case-insensitive list field whose element the lone variable
    /// `op` stands for (the innermost binding of the name decides).
    fn ci_element(&self, op: &Operand) -> Option<&'a crate::schema::Field> {
        let Operand::Path(p) = op else { return None };
        let name = p.as_name()?;
        self.ci_elements
            .iter()
            .rev()
            .find(|(n, _)| *n == name.name)
            .and_then(|(_, f)| *f)
    }

    /// The type of an operand; `None` when it is already reported as wrong.
    pub(crate) fn operand(&mut self, op: &Operand) -> Option<Resolved<'a>> {
        match op {
            Operand::Lit(l) => Some(Resolved {
                ty: lit_ty(l),
                field: None,
            }),
            Operand::Call(c) => self.call(c),
            Operand::Path(p) => {
                if let Some(name) = p.as_name().filter(|n| self.binding(&n.name).is_none()) {
                    if let Some(def) = self.ck.prog.lists.get(name.name.as_str()) {
                        self.ck.used.insert(def.item.name.name.as_str());
                        let elem = list_elem_ty(&def.items);
                        return Some(Resolved {
                            ty: Ty::List(Box::new(elem)),
                            field: None,
                        });
                    }
                    if self.ck.prog.macros.contains_key(name.name.as_str()) {
                        let d = self
                            .err(
                                Code::WrongKind,
                                p.span,
                                format!("macro `{}` is a condition, not a value", name.name),
                            )
                            .label("a field, literal or list was expected")
                            .help("use the macro on its own, as in `when my_macro and ...`");
                        self.push(d);
                        return None;
                    }
                    if self.schema.root.field(&name.name).is_none() {
                        self.unknown_name(name);
                        return None;
                    }
                }
                self.resolve(p)
            }
        }
    }

    pub(crate) fn unknown_name(&mut self, name: &Ident) {
        let prog = self.ck.prog;
        let mut candidates: Vec<&str> = self
            .schema
            .root
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        candidates.extend(prog.lists.keys().copied());
        candidates.extend(prog.macros.keys().copied());
        candidates.extend(self.bindings.iter().map(|(n, _)| n.as_str()));
        let mut d = self
            .err(
                Code::UnknownName,
                name.span,
                format!("unknown name `{}`", name.name),
            )
            .label("not a field, list or macro");
        let near = suggest::closest(&name.name, candidates)
            .map(str::to_string)
            .or_else(|| self.deep_match(&name.name));
        d = match near {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!(
                "define it with `list {0} = [...]` or `macro {0} = ...`; `ward schema {1}` lists the fields",
                name.name, self.schema.source
            )),
        };
        self.push(d);
    }

    fn value_condition(&mut self, op: &Operand) {
        if let Operand::Call(c) = op {
            if let Some((key, def)) = self.ck.prog.macros.get_key_value(c.name.name.as_str()) {
                self.macro_call(c, key, def);
                return;
            }
        }
        if let Operand::Path(p) = op {
            if let Some(name) = p.as_name().filter(|n| self.binding(&n.name).is_none()) {
                let prog = self.ck.prog;
                if let Some((key, def)) = prog.macros.get_key_value(name.name.as_str()) {
                    self.macro_use(key, def, p.span);
                    return;
                }
                if prog.lists.contains_key(name.name.as_str()) {
                    let d = self
                        .err(
                            Code::WrongKind,
                            p.span,
                            format!("list `{}` is not a condition", name.name),
                        )
                        .label("a list of values")
                        .help(format!("test membership: `field in {}`", name.name));
                    self.push(d);
                    return;
                }
            }
        }
        let Some(r) = self.operand(op) else { return };
        if matches!(r.ty, Ty::Bool | Ty::Json) {
            return;
        }
        let what = match op {
            Operand::Lit(_) => "this literal".into(),
            other => format!("`{other}`"),
        };
        let help = match (&r.ty, op) {
            (Ty::List(_), Operand::Path(p)) => {
                format!("test its elements: `any x in {p}: ...`, or its presence: `{p} exists`")
            }
            (_, Operand::Path(p)) => {
                format!("compare it, as in `{p} == ...`, or test presence: `{p} exists`")
            }
            (Ty::List(_), Operand::Call(c)) => {
                format!("test its elements: `any x in {c}: ...`, or its length: `len({c}) > 0`")
            }
            (_, Operand::Call(c)) => {
                format!("compare it, as in `{c} == ...`, or test it: `{c} is not null`")
            }
            _ => "a condition is a comparison, a test, `true` or `false`".into(),
        };
        let d = self
            .err(
                Code::NotBoolean,
                op.span(),
                format!("{what} is not a condition"),
            )
            .label(format!("this is {}, not a bool", ty_name(&r.ty)))
            .help(help);
        self.push(d);
    }

    fn presence(&mut self, e: &Expr, op: &Operand) {
        match op {
            Operand::Path(_) => {
                self.operand(op);
            }
            Operand::Call(c) if matches!(e.kind, ExprKind::Exists(_)) => {
                self.operand(op);
                let d = self
                    .err(
                        Code::TypeMismatch,
                        c.span,
                        "`exists` tests a key, and a derived value has none",
                    )
                    .label("computed, not read from a key")
                    .help(format!("test whether it has a value: `{c} is not null`"));
                self.push(d);
            }
            Operand::Call(_) => {
                self.operand(op);
            }
            Operand::Lit(l) => {
                let d = self
                    .err(Code::TypeMismatch, l.span, "presence tests apply to fields")
                    .label("a literal is always present")
                    .help("test a field, as in `objectRef.subresource is null`");
                let _ = e;
                self.push(d);
            }
        }
    }

    fn compare(&mut self, op: CmpOp, lhs: &Operand, rhs: &Operand) {
        let (Some(l), Some(r)) = (self.operand(lhs), self.operand(rhs)) else {
            return;
        };
        let (lt, rt) = (&l.ty, &r.ty);
        if op.is_ordering() {
            let ok = match (lt, rt) {
                (Ty::Null, _) | (_, Ty::Null) => false,
                (Ty::Json, t) | (t, Ty::Json) => t.is_scalar(),
                (a, b) if a.is_numeric() && b.is_numeric() => true,
                (Ty::Timestamp, b) | (b, Ty::Timestamp) => b.is_stringy(),
                (Ty::Duration, Ty::Duration) => true,
                _ => false,
            };
            if !ok {
                let d = self
                    .err(Code::TypeMismatch, rhs.span().to(lhs.span()), format!("`{}` cannot order {} and {}", op.as_str(), ty_name(lt), ty_name(rt)))
                    .label(format!("{} {} {}", ty_name(lt), op.as_str(), ty_name(rt)))
                    .help("`<`, `<=`, `>`, `>=` compare numbers, timestamps and durations; for strings use `==`, `startswith` or `matches`");
                self.push(d);
            }
            return;
        }
        let (l_list, r_list) = (lt.is_list(), rt.is_list());
        if l_list != r_list
            && !matches!(lt, Ty::Json | Ty::Null)
            && !matches!(rt, Ty::Json | Ty::Null)
        {
            let (list_side, scalar_side) = if l_list { (lhs, rhs) } else { (rhs, lhs) };
            let help = match (list_side, scalar_side) {
                (Operand::Lit(_), scalar) => format!(
                    "to test against several values write `{} in [...]`",
                    operand_text(scalar)
                ),
                (list, scalar) => format!(
                    "test membership: `{} in {list}`, or the elements: `any x in {list}: x {} ...`",
                    operand_text(scalar),
                    op.as_str()
                ),
            };
            let d = self
                .err(
                    Code::ListVsScalar,
                    lhs.span().to(rhs.span()),
                    format!("`{}` compares a list with a single value", op.as_str()),
                )
                .label(format!("{} {} {}", ty_name(lt), op.as_str(), ty_name(rt)))
                .help(help);
            self.push(d);
            return;
        }
        if !comparable(lt, rt) {
            let d = self.mismatch(lhs, &l, rhs, &r);
            self.push(d);
            return;
        }
        self.known_values(&l, rhs);
        self.known_values(&r, lhs);
        let not = if op == CmpOp::Ne { "not " } else { "" };
        self.case_sensitive(&l, lhs, rhs, op.as_str(), not);
        self.case_sensitive(&r, rhs, lhs, op.as_str(), not);
    }

    /// Warns on a case-sensitive test (`op`) of a field whose values are
    /// case-insensitive (hostnames, DNS names) against literals with letters.
    fn case_sensitive(
        &mut self,
        field_side: &Resolved<'_>,
        field_op: &Operand,
        lit_side: &Operand,
        op: &str,
        not: &str,
    ) {
        let Some(f) = field_side
            .field
            .filter(|f| f.case_insensitive && !f.ty.is_list())
            .or_else(|| self.ci_element(field_op))
        else {
            return;
        };
        let lits: Vec<&Literal> = match lit_side {
            Operand::Lit(Literal {
                kind: LitKind::List(items),
                ..
            }) => items.iter().collect(),
            Operand::Lit(l) => vec![l],
            Operand::Path(p) => match p
                .as_name()
                .and_then(|n| self.ck.prog.lists.get(n.name.as_str()))
            {
                Some(def) => def.items.iter().collect(),
                None => return,
            },
            Operand::Call(_) => return,
        };
        let cased = lits.iter().any(|l| match &l.kind {
            LitKind::Str(s) => s
                .value
                .chars()
                .any(|c| c.is_lowercase() || c.is_uppercase()),
            _ => false,
        });
        if !cased {
            return;
        }
        let field = operand_text(field_op);
        let help = match op {
            "==" | "!=" | "in" => format!(
                "`{}` is compared ignoring case by DNS and HTTP; write `{field} {not}iglob {}` (a glob without `*`, `?` or `[` is the exact text, ignoring case)",
                f.name,
                operand_text(lit_side)
            ),
            _ => format!(
                "`{}` is compared ignoring case by DNS and HTTP; write `{field} {not}i{op} {}`",
                f.name,
                operand_text(lit_side)
            ),
        };
        let d = self
            .err(
                Code::CaseSensitive,
                field_op.span().to(lit_side.span()),
                format!("`{op}` is case-sensitive, and `{}` is not", f.name),
            )
            .label(format!(
                "misses other spellings such as {}",
                other_case(&lits)
            ))
            .help(help);
        self.push(d);
    }

    fn mismatch(
        &self,
        lhs: &Operand,
        l: &Resolved<'_>,
        rhs: &Operand,
        r: &Resolved<'_>,
    ) -> Diagnostic {
        let help = match (lhs, &l.ty, rhs) {
            (
                _,
                t,
                Operand::Lit(Literal {
                    kind: LitKind::Str(s),
                    ..
                }),
            ) if t.is_numeric() && s.value.parse::<f64>().is_ok() => {
                format!("write the number without quotes: `{}`", s.value)
            }
            (
                _,
                Ty::Bool,
                Operand::Lit(Literal {
                    kind: LitKind::Str(s),
                    ..
                }),
            ) if s.value == "true" || s.value == "false" => {
                format!("write `{}` without quotes", s.value)
            }
            (Operand::Path(p), t, _) => format!(
                "`{p}` holds {} values; compare it with {}",
                t,
                example_of(t)
            ),
            _ => "both sides of a comparison must have one type".into(),
        };
        self.err(
            Code::TypeMismatch,
            rhs.span(),
            format!("cannot compare {} with {}", ty_name(&l.ty), ty_name(&r.ty)),
        )
        .label(format!("this is {}", ty_name(&r.ty)))
        .with_label(self.file, lhs.span(), format!("this is {}", ty_name(&l.ty)))
        .help(help)
    }

    /// Warns on a string literal outside the known values of an enumerated field.
    fn known_values(&mut self, field_side: &Resolved<'_>, lit_side: &Operand) {
        let Some(f) = field_side.field.filter(|f| !f.values.is_empty()) else {
            return;
        };
        let mut lits = Vec::new();
        match lit_side {
            Operand::Lit(Literal {
                kind: LitKind::Str(s),
                ..
            }) => lits.push(s),
            Operand::Lit(Literal {
                kind: LitKind::List(items),
                ..
            }) => lits.extend(items.iter().filter_map(|i| match &i.kind {
                LitKind::Str(s) => Some(s),
                _ => None,
            })),
            _ => {}
        }
        for s in lits {
            if f.values
                .iter()
                .any(|v| v == &s.value || (f.case_insensitive && v.eq_ignore_ascii_case(&s.value)))
            {
                continue;
            }
            let mut d = self
                .err(
                    Code::UnknownValue,
                    s.span,
                    format!("`{}` is not a known value of `{}`", s.value, f.name),
                )
                .label("never seen in this field");
            d = match suggest::closest(&s.value, f.values.iter().map(String::as_str)) {
                Some(near) => d.help(format!("did you mean \"{near}\"?")),
                None => d.help(format!("known values: {}", f.values.join(", "))),
            };
            self.push(d);
        }
    }

    fn membership(&mut self, negated: bool, lhs: &Operand, rhs: &Operand) {
        let (Some(l), Some(r)) = (self.operand(lhs), self.operand(rhs)) else {
            return;
        };
        let elem = match &r.ty {
            Ty::List(t) => (**t).clone(),
            Ty::Json => Ty::Json,
            other => {
                let help = if other.is_stringy() {
                    "for a substring use `contains`; for one value use `==`".to_string()
                } else {
                    "write a list literal `[...]`, a list name, or a list field".to_string()
                };
                let d = self
                    .err(
                        Code::TypeMismatch,
                        rhs.span(),
                        "`in` needs a list on its right",
                    )
                    .label(format!("this is {}", ty_name(other)))
                    .help(help);
                self.push(d);
                return;
            }
        };
        if l.ty.is_list() {
            let d = self
                .err(
                    Code::ListVsScalar,
                    lhs.span(),
                    "`in` tests one value, and this is a list",
                )
                .label(format!("this is {}", ty_name(&l.ty)))
                .help(format!(
                    "test each element: `any x in {}: x in {}`",
                    operand_text(lhs),
                    operand_text(rhs)
                ));
            self.push(d);
            return;
        }
        if let Operand::Lit(Literal {
            kind: LitKind::List(items),
            ..
        }) = rhs
        {
            for item in items {
                let it = lit_ty(item);
                if !comparable(&l.ty, &it) {
                    let d = self
                        .err(
                            Code::TypeMismatch,
                            item.span,
                            format!("cannot compare {} with {}", ty_name(&l.ty), ty_name(&it)),
                        )
                        .label(format!("this is {}", ty_name(&it)))
                        .with_label(self.file, lhs.span(), format!("this is {}", ty_name(&l.ty)))
                        .help(format!("every item must be {}", example_of(&l.ty)));
                    self.push(d);
                }
            }
            self.known_values(&l, rhs);
        } else if !comparable(&l.ty, &elem) {
            let d = self
                .err(
                    Code::TypeMismatch,
                    rhs.span(),
                    format!("cannot look for {} in a list of {}", ty_name(&l.ty), elem),
                )
                .label(format!("a list of {elem}"))
                .with_label(self.file, lhs.span(), format!("this is {}", ty_name(&l.ty)))
                .help("the value and the list items must have one type");
            self.push(d);
            return;
        }
        // A list literal or a named list (a list field is not literals).
        let not = if negated { "not " } else { "" };
        self.case_sensitive(&l, lhs, rhs, "in", not);
    }

    fn cidr(&mut self, lhs: &Operand, rhs: &Operand) {
        if let Some(l) = self.operand(lhs) {
            match &l.ty {
                Ty::Ip | Ty::String | Ty::Json => {}
                Ty::List(_) => {
                    let d = self
                        .err(Code::ListVsScalar, lhs.span(), "`in cidr` tests one address, and this is a list")
                        .label(format!("this is {}", ty_name(&l.ty)))
                        .help(format!("test each address: `any ip in {}: ip in cidr [...]`, or the first: `{0}[0]`", operand_text(lhs)));
                    self.push(d);
                }
                other => {
                    let d = self
                        .err(
                            Code::TypeMismatch,
                            lhs.span(),
                            format!("`in cidr` tests addresses, not {}", ty_name(other)),
                        )
                        .label(format!("this is {}", ty_name(other)))
                        .help(
                            "apply it to an ip field such as `sourceIPs[0]` or `sourceIPAddress`",
                        );
                    self.push(d);
                }
            }
        }
        for (lit, file) in self.literal_items(rhs, "CIDR blocks") {
            match &lit.kind {
                LitKind::Str(s) => {
                    if let Err(e) = pattern::Cidr::parse(&s.value) {
                        let d = Diagnostic::new(Code::BadCidr, file, lit.span, format!("invalid CIDR `{}`", s.value))
                            .label(e)
                            .help("write a network as `10.0.0.0/8` or `fd00::/8`, or an address as `169.254.169.254`");
                        self.push(d);
                    }
                }
                _ => {
                    let d =
                        Diagnostic::new(Code::BadCidr, file, lit.span, "a CIDR block is a string")
                            .label(format!("this is {}", ty_name(&lit_ty(&lit))))
                            .help("write it in quotes: \"10.0.0.0/8\"");
                    self.push(d);
                }
            }
        }
    }

    /// The literals a pattern operand stands for, with the file each sits
    /// in: a literal, a list literal, or a named list. Anything else is reported.
    fn literal_items(&mut self, op: &Operand, what: &str) -> Vec<(Literal, FileId)> {
        match op {
            Operand::Lit(Literal {
                kind: LitKind::List(items),
                ..
            }) => items.iter().map(|i| (i.clone(), self.file)).collect(),
            Operand::Lit(l) => vec![(l.clone(), self.file)],
            Operand::Path(p) => {
                if let Some(def) = p
                    .as_name()
                    .and_then(|n| self.ck.prog.lists.get(n.name.as_str()))
                {
                    self.ck.used.insert(def.item.name.name.as_str());
                    return def
                        .items
                        .iter()
                        .enumerate()
                        .map(|(i, l)| (l.clone(), def.file_of(i)))
                        .collect();
                }
                let d = self
                    .err(
                        Code::TypeMismatch,
                        p.span,
                        format!("{what} must be literals"),
                    )
                    .label("a field is read per event")
                    .help(format!(
                        "{what} are compiled once; write them in the rule or in a `list`"
                    ));
                self.push(d);
                Vec::new()
            }
            Operand::Call(c) => {
                let d = self
                    .err(
                        Code::TypeMismatch,
                        c.span,
                        format!("{what} must be literals"),
                    )
                    .label("a derived value is computed per event")
                    .help(format!(
                        "{what} are compiled once; write them in the rule or in a `list`"
                    ));
                self.push(d);
                Vec::new()
            }
        }
    }

    fn string_test(&mut self, op: StrOp, negated: bool, lhs: &Operand, rhs: &Operand) {
        let lhs_resolved = self.operand(lhs);
        if let Some(l) = &lhs_resolved {
            match &l.ty {
                t if t.is_stringy() || *t == Ty::Json => {}
                Ty::List(_) => {
                    let d = self
                        .err(
                            Code::ListVsScalar,
                            lhs.span(),
                            format!("`{op}` tests one string, and this is a list"),
                        )
                        .label(format!("this is {}", ty_name(&l.ty)))
                        .help(format!(
                            "test each element: `any x in {}: x {op} ...`",
                            operand_text(lhs)
                        ));
                    self.push(d);
                }
                other => {
                    let d = self
                        .err(
                            Code::TypeMismatch,
                            lhs.span(),
                            format!("`{op}` tests strings, not {}", ty_name(other)),
                        )
                        .label(format!("this is {}", ty_name(other)))
                        .help(format!("compare {} with `==`, `<` or `in`", ty_name(other)));
                    self.push(d);
                }
            }
        }
        let pattern_op = matches!(op.kind, StrOpKind::Glob | StrOpKind::Matches);
        // Substring tests may compare two fields; patterns are compiled once.
        let per_event = match rhs {
            Operand::Path(p) => !p
                .as_name()
                .is_some_and(|n| self.ck.prog.lists.contains_key(n.name.as_str())),
            Operand::Call(_) => true,
            Operand::Lit(_) => false,
        };
        if per_event && !pattern_op {
            if let Some(r) = self.operand(rhs) {
                if !(r.ty.is_stringy() || r.ty == Ty::Json) {
                    let d = self
                        .err(
                            Code::TypeMismatch,
                            rhs.span(),
                            format!("`{op}` needs a string on its right"),
                        )
                        .label(format!("this is {}", ty_name(&r.ty)))
                        .help("write a string literal, a list of them, or a string field");
                    self.push(d);
                }
            }
            return;
        }
        if let (Some(l), false) = (&lhs_resolved, op.ci) {
            let not = if negated { "not " } else { "" };
            self.case_sensitive(l, lhs, rhs, &op.to_string(), not);
        }
        for (lit, file) in self.literal_items(rhs, "patterns") {
            let LitKind::Str(s) = &lit.kind else {
                let d = Diagnostic::new(
                    Code::TypeMismatch,
                    file,
                    lit.span,
                    format!("`{op}` needs a string"),
                )
                .label(format!("this is {}", ty_name(&lit_ty(&lit))))
                .help("write it in quotes");
                self.push(d);
                continue;
            };
            let glob = op.kind == StrOpKind::Glob;
            let compiled = match op.kind {
                StrOpKind::Matches | StrOpKind::Glob => self
                    .ck
                    .patterns
                    .entry((s.value.clone(), glob, op.ci))
                    .or_insert_with(|| {
                        if glob {
                            pattern::glob_to_regex(&s.value)
                                .and_then(|r| pattern::regex_valid(&r, op.ci))
                        } else {
                            pattern::regex_valid(&s.value, op.ci)
                        }
                    })
                    .clone(),
                _ => Ok(()),
            };
            if let Err(e) = compiled {
                let kind = if op.kind == StrOpKind::Glob {
                    "glob"
                } else {
                    "regex"
                };
                let help = if !s.raw && s.value.contains('\\') {
                    "write regexes as raw strings, r\"...\", so backslashes reach the regex as written"
                } else {
                    "regexes use RE2 syntax (no backreferences or look-around); they run in linear time"
                };
                let d = Diagnostic::new(Code::BadRegex, file, lit.span, format!("invalid {kind}"))
                    .label(e)
                    .help(help);
                self.push(d);
            } else if op.kind == StrOpKind::Matches && matches!(rhs, Operand::Lit(_)) {
                if let Some((plain, text)) = super::lint::literal_regex(&s.value, op.ci) {
                    let not = match (negated, plain) {
                        (true, "==") => "",
                        (true, _) => "not ",
                        _ => "",
                    };
                    let plain = if negated && plain == "==" {
                        "!="
                    } else {
                        plain
                    };
                    let d = Diagnostic::new(
                        Code::LiteralRegex,
                        file,
                        lit.span,
                        format!("this regex is the plain string {text:?}"),
                    )
                    .label("no regex syntax here")
                    .help(format!(
                        "write `{} {not}{plain} {text:?}`: it says what it means and is faster",
                        operand_text(lhs)
                    ));
                    self.push(d);
                }
            }
        }
    }
}

/// Checks a list definition with its extensions: items are literals of one
/// scalar type.
pub(crate) fn list_items(ck: &mut Checker<'_>, def: &ListDef<'_>) {
    let mut first: Option<(Ty, FileId, Span)> = None;
    for (i, item) in def.items.iter().enumerate() {
        let file = def.file_of(i);
        let ty = lit_ty(item);
        if ty.is_list() || ty == Ty::Null {
            ck.diags.push(
                Diagnostic::new(
                    Code::BadList,
                    file,
                    item.span,
                    format!("a list item cannot be {}", ty_name(&ty)),
                )
                .label("not a scalar value")
                .help("lists hold strings, numbers or booleans; nest no lists"),
            );
            continue;
        }
        match &first {
            None => first = Some((ty, file, item.span)),
            Some((t, f, s)) if !comparable(t, &ty) => ck.diags.push(
                Diagnostic::new(
                    Code::BadList,
                    file,
                    item.span,
                    "list items of different types",
                )
                .label(format!("this is {}", ty_name(&ty)))
                .with_label(*f, *s, format!("the first item is {}", ty_name(t)))
                .help("a list holds values of one type"),
            ),
            _ => {}
        }
    }
}

pub(crate) fn lit_ty(l: &Literal) -> Ty {
    match &l.kind {
        LitKind::Str(_) => Ty::String,
        LitKind::Int(_) => Ty::Int,
        LitKind::Float(_) => Ty::Float,
        LitKind::Bool(_) => Ty::Bool,
        LitKind::Null => Ty::Null,
        LitKind::Duration(_) => Ty::Duration,
        LitKind::List(items) => Ty::List(Box::new(list_elem_ty(items))),
    }
}

fn list_elem_ty(items: &[Literal]) -> Ty {
    let mut tys = items.iter().map(lit_ty);
    let Some(first) = tys.next() else {
        return Ty::Json;
    };
    if tys.all(|t| t == first) {
        first
    } else {
        Ty::Json
    }
}

pub(crate) fn ty_name(t: &Ty) -> String {
    match t {
        Ty::Int => "an int".into(),
        Ty::Ip => "an ip".into(),
        Ty::Null => "null".into(),
        Ty::Json => "free-form json".into(),
        Ty::Record(n) => format!("a record ({n})"),
        other => format!("a {other}"),
    }
}

fn example_of(t: &Ty) -> &'static str {
    match t {
        Ty::Int | Ty::Float => "a number such as `403`",
        Ty::Bool => "`true` or `false`",
        Ty::Duration => "a duration such as `5m`",
        t if t.is_stringy() => "a string such as \"pods\"",
        Ty::List(_) => "`in`, or `any x in ...`",
        _ => "a field of it",
    }
}

/// A literal as written with its letters' case flipped, to show what a
/// case-sensitive test misses.
fn other_case(lits: &[&Literal]) -> String {
    let s = lits
        .iter()
        .find_map(|l| match &l.kind {
            LitKind::Str(s)
                if s.value
                    .chars()
                    .any(|c| c.is_lowercase() || c.is_uppercase()) =>
            {
                Some(&s.value)
            }
            _ => None,
        })
        .map_or(String::new(), |v| {
            v.chars()
                .flat_map(|c| {
                    if c.is_lowercase() {
                        c.to_uppercase().collect::<Vec<_>>()
                    } else {
                        c.to_lowercase().collect::<Vec<_>>()
                    }
                })
                .collect()
        });
    format!("{s:?}")
}

fn operand_text(op: &Operand) -> String {
    match op {
        Operand::Path(p) => p.to_string(),
        Operand::Call(c) => c.to_string(),
        Operand::Lit(Literal {
            kind: LitKind::Str(s),
            ..
        }) => format!("{:?}", s.value),
        Operand::Lit(Literal {
            kind: LitKind::Int(i),
            ..
        }) => i.to_string(),
        Operand::Lit(Literal {
            kind: LitKind::List(items),
            ..
        }) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| operand_text(&Operand::Lit(i.clone())))
                .collect();
            format!("[{}]", items.join(", "))
        }
        Operand::Lit(_) => "...".into(),
    }
}

//! `ward import falco`: Falco rules files (the k8saudit plugin's
//! `source: k8s_audit` rules) to Ward rules of source `k8s.audit`.
//!
//! Each input file becomes one `.ward` file. Lists and macros become Ward
//! lists and macros (only those the converted rules use); `append` (or
//! `override: ... append`) on a list defined in another file becomes
//! `extend list`, on a macro `override macro` with `(old) or (new)`
//! semantics, and on a rule's exceptions a `tune rule` with `except`s.
//! Rules of other sources (syscall) are skipped. The field mapping is in
//! [`field`] and documented in spec/import.md.

use std::collections::{BTreeSet, HashMap};

use serde_yaml::Value;

use super::{string_lit as quote, Output, RuleReport, Status};
use ward_compiler::syntax::{is_plain_name, RESERVED};

// ---------------------------------------------------------------------------
// Falco condition syntax

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Op(String),
    Word(String),
    Quoted(String),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '=' || c == '<' || c == '>' || c == '!' {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if ["==", "!=", "<=", ">="].contains(&two.as_str()) {
                out.push(Tok::Op(two));
                i += 2;
            } else if c == '!' {
                return Err(format!("unexpected `!` at offset {i}"));
            } else {
                out.push(Tok::Op(c.to_string()));
                i += 1;
            }
        } else if c == '"' || c == '\'' {
            let q = c;
            let mut v = String::new();
            i += 1;
            let mut closed = false;
            while i < chars.len() {
                let d = chars[i];
                if d == '\\' && i + 1 < chars.len() {
                    v.push(chars[i + 1]);
                    i += 2;
                } else if d == q {
                    closed = true;
                    i += 1;
                    break;
                } else {
                    v.push(d);
                    i += 1;
                }
            }
            if !closed {
                return Err("unterminated quoted string".into());
            }
            out.push(Tok::Quoted(v));
        } else {
            let mut v = String::new();
            while i < chars.len() {
                let d = chars[i];
                if d.is_whitespace() || "(),=<>!\"'".contains(d) {
                    break;
                }
                if d == '[' {
                    // A field argument: `jevt.value[/a/b]`, `ka.uri.param[x]`.
                    while i < chars.len() && chars[i] != ']' {
                        v.push(chars[i]);
                        i += 1;
                    }
                    if i < chars.len() {
                        v.push(']');
                        i += 1;
                    }
                    continue;
                }
                v.push(d);
                i += 1;
            }
            out.push(Tok::Word(v));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Item {
    Lit(String),
    List(String),
}

#[derive(Debug, Clone)]
enum Rhs {
    None,
    One(String),
    Set(Vec<Item>),
}

#[derive(Debug, Clone)]
enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Macro(String),
    Test { field: String, op: String, rhs: Rhs },
}

const BINARY_OPS: &[&str] = &[
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
];
const SET_OPS: &[&str] = &["in", "intersects", "pmatch"];

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    lists: &'a dyn Fn(&str) -> bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn word_is(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expr(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.and()?];
        while self.word_is("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::Or(parts)
        })
    }
    fn and(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.not()?];
        while self.word_is("and") {
            self.pos += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::And(parts)
        })
    }
    fn not(&mut self) -> Result<Cond, String> {
        if self.word_is("not") {
            self.pos += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.primary()
    }
    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) | Some(Tok::Quoted(w)) => Ok(w),
            t => Err(format!("expected a value, found {t:?}")),
        }
    }
    fn primary(&mut self) -> Result<Cond, String> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.expr()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(e),
                    t => Err(format!("expected `)`, found {t:?}")),
                }
            }
            Some(Tok::Word(w)) => {
                let op = match self.peek() {
                    Some(Tok::Op(o)) => Some(o.clone()),
                    Some(Tok::Word(o))
                        if BINARY_OPS.contains(&o.as_str())
                            || SET_OPS.contains(&o.as_str())
                            || o == "exists" =>
                    {
                        Some(o.clone())
                    }
                    _ => None,
                };
                let Some(op) = op else {
                    return Ok(Cond::Macro(w));
                };
                self.pos += 1;
                let rhs = if op == "exists" {
                    Rhs::None
                } else if SET_OPS.contains(&op.as_str()) {
                    match self.next() {
                        Some(Tok::LParen) => {}
                        t => return Err(format!("expected `(` after `{op}`, found {t:?}")),
                    }
                    let mut items = Vec::new();
                    loop {
                        match self.next() {
                            Some(Tok::RParen) => break,
                            Some(Tok::Comma) => {}
                            Some(Tok::Word(x)) => items.push(if (self.lists)(&x) {
                                Item::List(x)
                            } else {
                                Item::Lit(x)
                            }),
                            Some(Tok::Quoted(x)) => items.push(Item::Lit(x)),
                            t => return Err(format!("unexpected {t:?} in a set")),
                        }
                    }
                    Rhs::Set(items)
                } else {
                    Rhs::One(self.value()?)
                };
                Ok(Cond::Test { field: w, op, rhs })
            }
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("unexpected end of the condition".into()),
        }
    }
}

fn parse_cond(text: &str, lists: &dyn Fn(&str) -> bool) -> Result<Cond, String> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        lists,
    };
    let c = p.expr()?;
    if p.pos < p.toks.len() {
        return Err(format!(
            "unexpected {:?} after the condition",
            p.toks[p.pos]
        ));
    }
    Ok(c)
}

// ---------------------------------------------------------------------------
// Field mapping

#[derive(Clone, Copy, PartialEq, Debug)]
enum Ty {
    Str,
    Int,
    Bool,
    /// Free-form JSON (`jevt.value`): literals typed by their look.
    Json,
}

#[derive(Debug, Clone)]
enum Field {
    /// One value at a path.
    Scalar(String, Ty),
    /// Several values: the elements (through nested lists: `chain` is
    /// (list path, variable) pairs, each list path relative to the previous
    /// variable) and the path of the value in the last element.
    Multi {
        chain: Vec<(String, &'static str)>,
        leaf: Option<&'static str>,
        ty: Ty,
        repository: bool,
    },
    /// `ka.uri.param[x]`: approximated by a test on the whole request URI.
    UriParam(String),
    /// `jevt.rawtime`: the event time, only tested for existence or 0.
    Rawtime,
    /// `ka.req.configmap.obj`: the ConfigMap as JSON text, which Falco
    /// searches with `contains`; Ward searches the keys and values of
    /// its `data` (an opt-in field of the schema).
    ConfigMapObj,
    Unsupported(String),
}

fn multi(list: &str, var: &'static str, leaf: Option<&'static str>, ty: Ty) -> Field {
    Field::Multi {
        chain: vec![(list.to_string(), var)],
        leaf,
        ty,
        repository: false,
    }
}

/// The JSON pointer `/a/b/0` as the Ward path `a.b[0]`.
fn pointer_path(ptr: &str) -> Option<String> {
    let mut out = String::new();
    for seg in ptr.trim_start_matches('/').split('/') {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        if seg.is_empty() {
            return None;
        }
        if seg.chars().all(|c| c.is_ascii_digit()) {
            if out.is_empty() {
                return None;
            }
            out.push_str(&format!("[{seg}]"));
        } else if is_plain_name(&seg) {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&seg);
        } else {
            if out.is_empty() {
                return None;
            }
            out.push('.');
            out.push_str(&quote(&seg));
        }
    }
    Some(out)
}

fn field(name: &str) -> Field {
    use Ty::*;
    let s = |p: &str| Field::Scalar(p.to_string(), Str);
    let containers = "requestObject.spec.containers";
    match name {
        "ka.verb" => s("verb"),
        "ka.uri" => s("requestURI"),
        "ka.user.name" => s("user.username"),
        "ka.user.groups" => multi("user.groups", "g", None, Str),
        "ka.impuser.name" => s("impersonatedUser.username"),
        "ka.target.resource" => s("objectRef.resource"),
        "ka.target.subresource" => s("objectRef.subresource"),
        "ka.target.namespace" => s("objectRef.namespace"),
        "ka.target.name" => s("objectRef.name"),
        "ka.response.code" => Field::Scalar("responseStatus.code".into(), Int),
        "ka.response.reason" => s("responseStatus.reason"),
        "ka.useragent" => s("userAgent"),
        "ka.sourceips" => multi("sourceIPs", "ip", None, Str),
        "ka.auth.decision" => s("annotations.\"authorization.k8s.io/decision\""),
        "ka.auth.reason" => s("annotations.\"authorization.k8s.io/reason\""),
        "ka.resp.name" => s("responseObject.metadata.name"),
        "ka.req.pod.containers.image" => multi(containers, "c", Some("image"), Str),
        "ka.req.pod.containers.image.repository" => Field::Multi {
            chain: vec![(containers.to_string(), "c")],
            leaf: Some("image"),
            ty: Str,
            repository: true,
        },
        "ka.req.pod.containers.privileged" => {
            multi(containers, "c", Some("securityContext.privileged"), Bool)
        }
        "ka.req.pod.containers.allow_privilege_escalation" => multi(
            containers,
            "c",
            Some("securityContext.allowPrivilegeEscalation"),
            Bool,
        ),
        "ka.req.pod.containers.read_only_fs" => multi(
            containers,
            "c",
            Some("securityContext.readOnlyRootFilesystem"),
            Bool,
        ),
        "ka.req.pod.containers.run_as_user" => {
            multi(containers, "c", Some("securityContext.runAsUser"), Int)
        }
        "ka.req.pod.containers.add_capabilities" => Field::Multi {
            chain: vec![
                (containers.to_string(), "c"),
                ("c.securityContext.capabilities.add".to_string(), "cap"),
            ],
            leaf: None,
            ty: Str,
            repository: false,
        },
        "ka.req.pod.host_ipc" => Field::Scalar("requestObject.spec.hostIPC".into(), Bool),
        "ka.req.pod.host_network" => Field::Scalar("requestObject.spec.hostNetwork".into(), Bool),
        "ka.req.pod.host_pid" => Field::Scalar("requestObject.spec.hostPID".into(), Bool),
        "ka.req.pod.volumes.hostpath" | "ka.req.volume.hostpath" => multi(
            "requestObject.spec.volumes",
            "v",
            Some("hostPath.path"),
            Str,
        ),
        "ka.req.binding.role" => s("requestObject.roleRef.name"),
        "ka.req.binding.subjects" => multi("requestObject.subjects", "s", Some("name"), Str),
        "ka.req.role.rules.verbs"
        | "ka.req.role.rules.resources"
        | "ka.req.role.rules.apigroups" => {
            let leaf = match name.rsplit('.').next() {
                Some("verbs") => "verbs",
                Some("resources") => "resources",
                _ => "apiGroups",
            };
            Field::Multi {
                chain: vec![
                    ("requestObject.rules".to_string(), "r"),
                    (format!("r.{leaf}"), "x"),
                ],
                leaf: None,
                ty: Str,
                repository: false,
            }
        }
        "ka.req.service.type" => s("requestObject.spec.type"),
        "ka.req.service.ports" => multi("requestObject.spec.ports", "p", Some("port"), Int),
        "ka.req.configmap.name" => s("objectRef.name"),
        "ka.req.configmap.obj" => Field::ConfigMapObj,
        "jevt.rawtime" | "jevt.time" | "jevt.time.iso8601" => Field::Rawtime,
        _ => {
            if let Some(p) = name
                .strip_prefix("ka.uri.param[")
                .and_then(|r| r.strip_suffix(']'))
            {
                return Field::UriParam(p.to_string());
            }
            if let Some(p) = name
                .strip_prefix("jevt.value[")
                .or_else(|| name.strip_prefix("ka.value["))
                .and_then(|r| r.strip_suffix(']'))
            {
                return match pointer_path(p) {
                    Some(path) => Field::Scalar(path, Json),
                    None => Field::Unsupported(format!("JSON pointer {p} has no Ward path")),
                };
            }
            Field::Unsupported(format!("Falco field {name} has no Ward counterpart"))
        }
    }
}

/// The template path an output `%field` renders as.
fn output_path(name: &str) -> Result<(String, Option<String>), String> {
    Ok(match name {
        "ka.req.pod.containers.image" | "ka.req.pod.containers.image.repository" => {
            ("requestObject.spec.containers".into(), None)
        }
        "ka.req.role.rules" => ("requestObject.rules".into(), None),
        "ka.req.service.ports" => ("requestObject.spec.ports".into(), None),
        "ka.req.binding.subjects" => ("requestObject.subjects".into(), None),
        "ka.req.pod.volumes.hostpath" => ("requestObject.spec.volumes".into(), None),
        "ka.user.groups" => ("user.groups".into(), None),
        "ka.sourceips" => ("sourceIPs".into(), None),
        "jevt.rawtime" | "jevt.time" | "jevt.time.iso8601" => ("stageTimestamp".into(), None),
        _ => match field(name) {
            Field::Scalar(p, _) => (p, None),
            Field::UriParam(p) => (
                "requestURI".into(),
                Some(format!(
                    "output: %{name} rendered as the whole {{requestURI}} (Ward templates cannot extract the `{p}` query parameter)"
                )),
            ),
            Field::Multi { chain, .. } => (chain[0].0.clone(), None),
            Field::Rawtime => ("stageTimestamp".into(), None),
            Field::ConfigMapObj => ("requestObject.data".into(), None),
            Field::Unsupported(r) => return Err(r),
        },
    })
}

// ---------------------------------------------------------------------------
// Translation to Ward

/// A literal of type `ty`, or `None` when the Falco value is not one.
fn literal(v: &str, ty: Ty) -> Option<String> {
    match ty {
        Ty::Str => Some(quote(v)),
        Ty::Int => v.parse::<i64>().ok().map(|n| n.to_string()),
        Ty::Bool => match v.to_ascii_lowercase().as_str() {
            "true" => Some("true".into()),
            "false" => Some("false".into()),
            _ => None,
        },
        Ty::Json => Some(match v {
            "true" | "false" => v.to_string(),
            _ if v.parse::<i64>().is_ok() => v.to_string(),
            _ => quote(v),
        }),
    }
}

fn glob_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "*?[]\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The globs that match an image whose repository is `repo`.
fn repository_globs(repo: &str) -> Vec<String> {
    let r = glob_escape(repo);
    vec![r.clone(), format!("{r}:*"), format!("{r}@*")]
}

/// What one condition translated to, and what it needs.
#[derive(Default, Debug, Clone)]
struct Tr {
    partial: Vec<String>,
    /// Reads a field the schema marks opt-in (ConfigMap data).
    opt_in: bool,
    /// Lists used, as (Falco name, used for an image repository).
    lists: BTreeSet<(String, bool)>,
    macros: BTreeSet<String>,
}

impl Tr {
    fn merge(&mut self, o: &Tr) {
        self.opt_in |= o.opt_in;
        for p in &o.partial {
            if !self.partial.contains(p) {
                self.partial.push(p.clone());
            }
        }
        self.lists.extend(o.lists.iter().cloned());
        self.macros.extend(o.macros.iter().cloned());
    }
}

struct Ctx<'a> {
    /// Falco list name -> items, after appends, nested lists expanded.
    lists: &'a HashMap<String, Vec<String>>,
    /// Falco name -> Ward name, for lists and macros.
    list_names: &'a HashMap<String, String>,
    macro_names: &'a HashMap<String, String>,
    /// Macro name -> its translation (or why it has none).
    macro_tr: &'a HashMap<String, Result<Tr, String>>,
    /// Set while translating below a role-kind guard already written.
    guarded: std::cell::Cell<bool>,
}

const ROLE_GUARD: &str = "objectRef.resource in [\"roles\", \"clusterroles\"]";

/// Whether `c` tests only `ka.req.role.*` fields (so one guard covers it).
fn role_only(c: &Cond) -> bool {
    match c {
        Cond::Test { field, .. } => field.starts_with("ka.req.role."),
        Cond::And(v) | Cond::Or(v) => v.iter().all(role_only),
        Cond::Not(x) => role_only(x),
        Cond::Macro(_) => false,
    }
}

impl Ctx<'_> {
    fn list_ref(&self, name: &str, repository: bool, tr: &mut Tr) -> String {
        tr.lists.insert((name.to_string(), repository));
        let base = self.list_names.get(name).cloned().unwrap_or_default();
        if repository {
            format!("{base}_repository")
        } else {
            base
        }
    }

    fn cond(&self, c: &Cond, tr: &mut Tr) -> Result<String, String> {
        if !self.guarded.get() && matches!(c, Cond::Or(_)) && role_only(c) {
            // Ward narrows on a guard of the and-chain around an `or`, not
            // on one inside each alternative.
            self.guarded.set(true);
            let inner = self.cond(c, tr);
            self.guarded.set(false);
            return Ok(format!("{ROLE_GUARD} and ({})", inner?));
        }
        Ok(match c {
            Cond::And(v) | Cond::Or(v) => {
                let sep = if matches!(c, Cond::And(_)) {
                    " and "
                } else {
                    " or "
                };
                let parts = v
                    .iter()
                    .map(|x| {
                        let t = self.cond(x, tr)?;
                        Ok(match x {
                            Cond::And(_) | Cond::Or(_) => format!("({t})"),
                            _ => t,
                        })
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                parts.join(sep)
            }
            Cond::Not(x) => {
                let t = self.cond(x, tr)?;
                format!("not ({t})")
            }
            Cond::Macro(m) => match self.macro_tr.get(m) {
                Some(Ok(mt)) => {
                    tr.merge(mt);
                    tr.macros.insert(m.clone());
                    self.macro_names.get(m).cloned().unwrap_or_default()
                }
                Some(Err(e)) => return Err(format!("macro {m}: {e}")),
                None => return Err(format!("`{m}` is neither a macro nor a test")),
            },
            Cond::Test { field: f, op, rhs } => self.test(f, op, rhs, tr)?,
        })
    }

    /// The items of a set: literals, and named lists (kept by name when
    /// the set is exactly one list).
    fn set_items(&self, items: &[Item]) -> Vec<String> {
        let mut out = Vec::new();
        for i in items {
            match i {
                Item::Lit(x) => out.push(x.clone()),
                Item::List(l) => out.extend(self.lists.get(l).cloned().unwrap_or_default()),
            }
        }
        out
    }

    fn lit_list(&self, vals: &[String], ty: Ty, what: &str) -> Result<String, String> {
        let lits = vals
            .iter()
            .map(|v| {
                literal(v, ty).ok_or_else(|| format!("`{v}` is not a {ty:?} value for {what}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(format!("[{}]", lits.join(", ")))
    }

    /// `path OP rhs` for one value at `path` of type `ty`.
    #[allow(clippy::too_many_arguments)]
    fn scalar_test(
        &self,
        path: &str,
        ty: Ty,
        op: &str,
        rhs: &Rhs,
        repository: bool,
        fname: &str,
        tr: &mut Tr,
    ) -> Result<String, String> {
        let one = |rhs: &Rhs| -> Result<String, String> {
            match rhs {
                Rhs::One(v) => Ok(v.clone()),
                _ => Err(format!("`{op}` needs one value")),
            }
        };
        match op {
            "exists" => Ok(format!("{path} exists")),
            "=" | "==" | "!=" | "<" | "<=" | ">" | ">=" => {
                let v = one(rhs)?;
                let wop = if op == "=" { "==" } else { op };
                if repository && (op == "=" || op == "==") {
                    let globs = repository_globs(&v);
                    return Ok(format!(
                        "{path} glob {}",
                        self.lit_list(&globs, Ty::Str, fname)?
                    ));
                }
                if ty == Ty::Str && !["=", "==", "!="].contains(&op) {
                    return Err(format!("`{op}` orders strings ({fname})"));
                }
                let l = literal(&v, ty)
                    .ok_or_else(|| format!("`{v}` is not a {ty:?} value for {fname}"))?;
                Ok(format!("{path} {wop} {l}"))
            }
            "contains" | "icontains" | "startswith" | "endswith" | "glob" | "iglob" => {
                let v = one(rhs)?;
                if ty == Ty::Int
                    && op == "startswith"
                    && v.chars().all(|c| c.is_ascii_digit())
                    && !v.is_empty()
                    && v.len() <= 3
                {
                    // An HTTP status code's leading digits: a range.
                    let scale = 10i64.pow(3 - v.len() as u32);
                    let lo: i64 = v.parse::<i64>().map_err(|e| e.to_string())? * scale;
                    return Ok(format!("({path} >= {lo} and {path} < {})", lo + scale));
                }
                if ty != Ty::Str && ty != Ty::Json {
                    return Err(format!("`{op}` on the non-string field {fname}"));
                }
                Ok(format!("{path} {op} {}", quote(&v)))
            }
            "bcontains" | "bstartswith" | "regex" => {
                Err(format!("operator `{op}` has no Ward counterpart here"))
            }
            "in" | "intersects" | "pmatch" => {
                let Rhs::Set(items) = rhs else {
                    return Err(format!("`{op}` needs a set"));
                };
                let wop = if op == "pmatch" {
                    "startswith"
                } else if repository {
                    "glob"
                } else {
                    "in"
                };
                if items.is_empty() {
                    return Ok(format!("{path} {wop} []"));
                }
                // One named list, or the literals, each as one test.
                let mut alts = Vec::new();
                let lits: Vec<String> = items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Lit(x) => Some(x.clone()),
                        Item::List(_) => None,
                    })
                    .collect();
                for i in items {
                    if let Item::List(l) = i {
                        let name = self.list_ref(l, repository, tr);
                        if ty != Ty::Str && ty != Ty::Json {
                            // Lists hold strings; a typed field needs literals.
                            let vals = self.set_items(std::slice::from_ref(i));
                            alts.push(format!("{path} {wop} {}", self.lit_list(&vals, ty, fname)?));
                            tr.lists.remove(&(l.clone(), repository));
                        } else {
                            alts.push(format!("{path} {wop} {name}"));
                        }
                    }
                }
                if alts.is_empty() && lits.len() == 1 && wop == "in" {
                    let l = literal(&lits[0], ty).ok_or_else(|| {
                        format!("`{}` is not a {ty:?} value for {fname}", lits[0])
                    })?;
                    return Ok(format!("{path} == {l}"));
                }
                if !lits.is_empty() {
                    let vals: Vec<String> = if repository {
                        lits.iter().flat_map(|x| repository_globs(x)).collect()
                    } else {
                        lits
                    };
                    let lty = if wop == "in" { ty } else { Ty::Str };
                    alts.push(format!(
                        "{path} {wop} {}",
                        self.lit_list(&vals, lty, fname)?
                    ));
                }
                Ok(if alts.len() == 1 {
                    alts.remove(0)
                } else {
                    format!("({})", alts.join(" or "))
                })
            }
            _ => Err(format!("operator `{op}` is not supported")),
        }
    }

    fn test(&self, fname: &str, op: &str, rhs: &Rhs, tr: &mut Tr) -> Result<String, String> {
        match field(fname) {
            Field::Scalar(path, ty) => self.scalar_test(&path, ty, op, rhs, false, fname, tr),
            Field::Multi {
                chain,
                leaf,
                ty,
                repository,
            } => {
                let var = chain.last().map(|c| c.1).unwrap_or("x");
                let elem = match leaf {
                    Some(l) => format!("{var}.{l}"),
                    None => var.to_string(),
                };
                // `in` on a multi-valued field: every value is in the set;
                // the other operators: some value passes.
                let quant = if op == "in" { "all" } else { "any" };
                let inner_op = if op == "intersects" { "in" } else { op };
                let mut body = self.scalar_test(&elem, ty, inner_op, rhs, repository, fname, tr)?;
                if op == "intersects" && repository {
                    // handled by glob in scalar_test (in -> glob)
                }
                for (list, v) in chain.iter().rev() {
                    body = format!("{quant} {v} in {list}: ({body})");
                }
                if fname.starts_with("ka.req.role.") && !self.guarded.get() {
                    // Ward narrows `requestObject` on a guard of its own
                    // and-chain; `(role or clusterrole)` macros do not.
                    body = format!("({ROLE_GUARD} and {body})");
                }
                Ok(body)
            }
            Field::UriParam(p) => {
                let Rhs::One(v) = rhs else {
                    if op == "exists" {
                        tr.partial.push(format!(
                            "ka.uri.param[{p}] exists approximated by requestURI contains \"{p}=\""
                        ));
                        return Ok(format!("requestURI contains {}", quote(&format!("{p}="))));
                    }
                    return Err(format!("`{op}` on ka.uri.param[{p}]"));
                };
                let needle = match op {
                    "=" | "==" => format!("{p}={v}"),
                    "contains" | "startswith" => format!("{p}={v}"),
                    _ => return Err(format!("`{op}` on ka.uri.param[{p}] is not expressible")),
                };
                tr.partial.push(format!(
                    "ka.uri.param[{p}] {op} {v} approximated by requestURI contains \"{needle}\" (the parameter is not decoded or isolated)"
                ));
                Ok(format!("requestURI contains {}", quote(&needle)))
            }
            Field::ConfigMapObj => {
                let (Rhs::One(v), "contains" | "icontains") = (rhs, op) else {
                    return Err(format!(
                        "`{op}` on ka.req.configmap.obj (the ConfigMap as JSON text): only contains is expressible, on the keys and values of requestObject.data"
                    ));
                };
                tr.opt_in = true;
                let note = format!(
                    "ka.req.configmap.obj {op}: searched in the keys and values of requestObject.data (Falco searches the whole object's JSON text, its metadata too)"
                );
                if !tr.partial.contains(&note) {
                    tr.partial.push(note);
                }
                let v = quote(v);
                Ok(format!(
                    "(any k in keys(requestObject.data): k {op} {v} or any x in values(requestObject.data): x {op} {v})"
                ))
            }
            Field::Rawtime => match (op, rhs) {
                ("exists", _) => Ok("true".into()),
                ("=" | "==", Rhs::One(v)) if v == "0" => Ok("false".into()),
                _ => Err(format!("`{fname} {op}` is not expressible")),
            },
            Field::Unsupported(r) => Err(r),
        }
    }
}

// ---------------------------------------------------------------------------
// Rules files

#[derive(Debug, Clone)]
struct ListDef {
    file: usize,
    items: Vec<String>,
    /// Appends from other files: (file, items).
    extends: Vec<(usize, Vec<String>)>,
}

#[derive(Debug, Clone)]
struct MacroDef {
    file: usize,
    cond: String,
    /// The condition after appends and replacements from other files, and
    /// the file of the first of them.
    over: Option<(usize, String)>,
}

#[derive(Debug, Clone, Default)]
struct Exception {
    fields: Vec<String>,
    comps: Vec<String>,
    values: Vec<Vec<Vec<String>>>,
    single_field: bool,
}

#[derive(Debug, Clone)]
struct RuleDef {
    file: usize,
    name: String,
    desc: String,
    cond: Option<String>,
    output: String,
    priority: String,
    tags: Vec<String>,
    source: String,
    enabled: Option<bool>,
    exceptions: Vec<Exception>,
    skip: Option<String>,
    /// Set when this entry modifies an earlier rule.
    modifies: bool,
    /// For a modification: condition text appended.
    cond_append: Option<String>,
    notes: Vec<String>,
}

fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(s)) => s.iter().filter_map(scalar_string).collect(),
        Some(v) => scalar_string(v).into_iter().collect(),
        None => Vec::new(),
    }
}

fn get<'a>(m: &'a Value, k: &str) -> Option<&'a Value> {
    m.as_mapping().and_then(|m| m.get(k))
}

/// How an item changes an earlier one of its name: `append: true`, or
/// `override: {key: append|replace}`.
fn override_of(m: &Value, key: &str) -> Option<&'static str> {
    if get(m, "append").and_then(Value::as_bool) == Some(true) {
        return Some("append");
    }
    match get(m, "override")
        .and_then(|o| get(o, key))
        .and_then(Value::as_str)
    {
        Some("append") => Some("append"),
        Some("replace") => Some("replace"),
        _ => None,
    }
}

fn parse_exceptions(v: Option<&Value>) -> Result<Vec<Exception>, String> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let Some(seq) = v.as_sequence() else {
        return Err("exceptions is not a list".into());
    };
    let mut out = Vec::new();
    for e in seq {
        let name = get(e, "name").and_then(scalar_string).unwrap_or_default();
        let single_field = matches!(get(e, "fields"), Some(Value::String(_)));
        let fields = strings(get(e, "fields"));
        if fields.is_empty() {
            return Err(format!("exception {name} has no fields"));
        }
        let mut comps = strings(get(e, "comps"));
        if comps.is_empty() {
            comps = vec![if single_field { "in" } else { "=" }.to_string(); fields.len()];
        }
        if comps.len() != fields.len() {
            return Err(format!(
                "exception {name}: fields and comps differ in length"
            ));
        }
        let mut values = Vec::new();
        if let Some(Value::Sequence(vals)) = get(e, "values") {
            if single_field {
                // One field: values is the set itself.
                let set: Vec<String> = vals.iter().filter_map(scalar_string).collect();
                if !set.is_empty() {
                    values.push(vec![set]);
                }
            } else {
                for tuple in vals {
                    let Some(t) = tuple.as_sequence() else {
                        return Err(format!("exception {name}: a value is not a tuple"));
                    };
                    if t.len() != fields.len() {
                        return Err(format!(
                            "exception {name}: a tuple has {} values for {} fields",
                            t.len(),
                            fields.len()
                        ));
                    }
                    values.push(t.iter().map(|x| strings(Some(x))).collect());
                }
            }
        }
        out.push(Exception {
            fields,
            comps,
            values,
            single_field,
        });
    }
    Ok(out)
}

fn ward_ident(name: &str, taken: &mut BTreeSet<String>) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    let top = [
        "kind",
        "apiVersion",
        "level",
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "user",
        "impersonatedUser",
        "sourceIPs",
        "userAgent",
        "objectRef",
        "responseStatus",
        "requestObject",
        "responseObject",
        "requestReceivedTimestamp",
        "stageTimestamp",
        "annotations",
        "timestamp",
        "metadata",
        "job",
    ];
    if RESERVED.contains(&s.as_str()) || top.contains(&s.as_str()) {
        s = format!("falco_{s}");
    }
    let mut out = s.clone();
    let mut n = 2;
    while !taken.insert(out.clone()) {
        out = format!("{s}_{n}");
        n += 1;
    }
    out
}

/// A rule id for `name`, unique among `taken`.
fn slug(name: &str, taken: &mut BTreeSet<String>) -> String {
    let s = super::slug(name, "falco");
    let mut out = s.clone();
    let mut n = 2;
    while !taken.insert(out.clone()) {
        out = format!("{s}_{n}");
        n += 1;
    }
    out
}

fn severity(p: &str) -> Option<&'static str> {
    Some(match p.to_ascii_uppercase().as_str() {
        "EMERGENCY" | "ALERT" | "CRITICAL" => "critical",
        "ERROR" => "high",
        "WARNING" => "medium",
        "NOTICE" => "low",
        "INFORMATIONAL" | "INFO" | "DEBUG" => "info",
        _ => return None,
    })
}

/// ATT&CK's tactics, as Sigma and `ward check` write them.
use ward_compiler::check::attack::TACTICS;

fn tag(t: &str) -> String {
    let lower = t.to_ascii_lowercase();
    if let Some(tactic) = lower.strip_prefix("mitre_") {
        if TACTICS.contains(&tactic) {
            return format!("attack.{tactic}");
        }
    }
    let tid = lower.strip_prefix("mitre.").unwrap_or(&lower);
    let is_tid = tid.is_ascii()
        && tid.len() >= 5
        && tid.starts_with('t')
        && tid[1..5].chars().all(|c| c.is_ascii_digit())
        && (tid.len() == 5
            || (tid.len() == 9
                && tid.as_bytes()[5] == b'.'
                && tid[6..].chars().all(|c| c.is_ascii_digit())));
    if is_tid {
        return format!("attack.{tid}");
    }
    if !t.is_empty()
        && t.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:/".contains(c))
    {
        t.to_string()
    } else {
        quote(t)
    }
}

/// The output template: `%field` -> `{path}`; braces doubled.
fn output_template(text: &str, notes: &mut Vec<String>) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '%' && i + 1 < chars.len() && (chars[i + 1].is_ascii_alphabetic()) {
            let mut j = i + 1;
            let mut name = String::new();
            while j < chars.len() {
                let d = chars[j];
                if d.is_ascii_alphanumeric()
                    || d == '_'
                    || (d == '.' && j + 1 < chars.len() && chars[j + 1].is_ascii_alphanumeric())
                {
                    name.push(d);
                    j += 1;
                } else if d == '[' {
                    while j < chars.len() && chars[j] != ']' {
                        name.push(chars[j]);
                        j += 1;
                    }
                    if j < chars.len() {
                        name.push(']');
                        j += 1;
                    }
                } else {
                    break;
                }
            }
            match output_path(&name) {
                Ok((p, note)) => {
                    out.push('{');
                    out.push_str(&p);
                    out.push('}');
                    notes.extend(note);
                }
                Err(r) => {
                    notes.push(format!("output: %{name} dropped ({r})"));
                }
            }
            i = j;
            continue;
        }
        match c {
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Converts Falco rules files to Ward.
pub fn convert(inputs: &[(String, String)]) -> Output {
    let mut output = Output::default();
    let mut lists: HashMap<String, ListDef> = HashMap::new();
    let mut list_order: Vec<String> = Vec::new();
    let mut macros: HashMap<String, MacroDef> = HashMap::new();
    let mut macro_order: Vec<String> = Vec::new();
    let mut rules: Vec<RuleDef> = Vec::new();

    for (fi, (path, text)) in inputs.iter().enumerate() {
        let doc: Value = match serde_yaml::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                output.rules.push(RuleReport {
                    source_file: path.clone(),
                    name: format!("(file {path})"),
                    ward_rule: None,
                    status: Status::Skipped,
                    reasons: vec![format!("not a YAML document: {e}")],
                    findings: Vec::new(),
                });
                continue;
            }
        };
        let items = match doc {
            Value::Sequence(s) => s,
            Value::Null => Vec::new(),
            _ => {
                output.rules.push(RuleReport {
                    source_file: path.clone(),
                    name: format!("(file {path})"),
                    ward_rule: None,
                    status: Status::Skipped,
                    reasons: vec!["a Falco rules file is a YAML list of items".into()],
                    findings: Vec::new(),
                });
                continue;
            }
        };
        for item in &items {
            if let Some(name) = get(item, "list").and_then(scalar_string) {
                let new = strings(get(item, "items"));
                match (override_of(item, "items"), lists.get_mut(&name)) {
                    (Some("append"), Some(d)) => {
                        if d.file == fi {
                            d.items.extend(new);
                        } else {
                            d.extends.push((fi, new));
                        }
                    }
                    (_, Some(d)) => {
                        // A redefinition or `replace`: the last one wins.
                        d.items = new;
                        d.extends.clear();
                    }
                    (_, None) => {
                        list_order.push(name.clone());
                        lists.insert(
                            name,
                            ListDef {
                                file: fi,
                                items: new,
                                extends: Vec::new(),
                            },
                        );
                    }
                }
            } else if let Some(name) = get(item, "macro").and_then(scalar_string) {
                let cond = get(item, "condition")
                    .and_then(scalar_string)
                    .unwrap_or_default();
                match (override_of(item, "condition"), macros.get_mut(&name)) {
                    (Some(how), Some(d)) => {
                        let cur = d
                            .over
                            .as_ref()
                            .map(|o| o.1.clone())
                            .unwrap_or(d.cond.clone());
                        let new = if how == "replace" {
                            cond
                        } else {
                            let t = cond.trim_start();
                            if t.starts_with("or ") || t.starts_with("and ") {
                                format!("({cur}) {t}")
                            } else {
                                format!("({cur}) or ({t})")
                            }
                        };
                        if d.file == fi && d.over.is_none() {
                            d.cond = new;
                        } else {
                            let f = d.over.as_ref().map(|o| o.0).unwrap_or(fi);
                            d.over = Some((f, new));
                        }
                    }
                    (_, Some(d)) => {
                        d.cond = cond;
                        d.over = None;
                    }
                    (_, None) => {
                        macro_order.push(name.clone());
                        macros.insert(
                            name,
                            MacroDef {
                                file: fi,
                                cond,
                                over: None,
                            },
                        );
                    }
                }
            } else if let Some(name) = get(item, "rule").and_then(scalar_string) {
                let exists = rules.iter().any(|r| !r.modifies && r.name == name);
                let modifies = exists
                    && (get(item, "append").is_some()
                        || get(item, "override").is_some()
                        || get(item, "condition").is_none());
                let mut notes = Vec::new();
                let (exceptions, mut skip) = match parse_exceptions(get(item, "exceptions")) {
                    Ok(e) => (e, None),
                    Err(e) => (Vec::new(), Some(format!("malformed exceptions: {e}"))),
                };
                let cond = get(item, "condition").and_then(scalar_string);
                let mut cond_append = None;
                if modifies {
                    if let Some(how) = override_of(item, "condition") {
                        if how == "append" {
                            cond_append = cond.clone();
                        } else {
                            notes.push("condition replaced in another file: not expressible as a Ward tune (only except, enabled and severity)".into());
                        }
                    }
                    for k in ["output", "desc", "tags"] {
                        if get(item, k).is_some() {
                            notes.push(format!("{k} changed by this entry: not expressible as a Ward tune, left as in the original rule"));
                        }
                    }
                } else if cond.is_none() && skip.is_none() {
                    skip = Some(if get(item, "condition").is_some() {
                        "condition is not a string".into()
                    } else {
                        "rule has no condition".into()
                    });
                }
                rules.push(RuleDef {
                    file: fi,
                    name,
                    desc: get(item, "desc")
                        .and_then(scalar_string)
                        .unwrap_or_default(),
                    cond: if modifies { None } else { cond },
                    output: get(item, "output")
                        .and_then(scalar_string)
                        .unwrap_or_default(),
                    priority: get(item, "priority")
                        .and_then(scalar_string)
                        .unwrap_or_default(),
                    tags: strings(get(item, "tags")),
                    source: get(item, "source")
                        .and_then(scalar_string)
                        .unwrap_or_else(|| "syscall".into()),
                    enabled: get(item, "enabled").and_then(Value::as_bool),
                    exceptions,
                    skip,
                    modifies,
                    cond_append,
                    notes,
                });
            }
            // required_engine_version, required_plugin_versions: ignored.
        }
    }

    // Lists with nested lists expanded (at their final contents).
    fn expand(name: &str, lists: &HashMap<String, ListDef>, seen: &mut Vec<String>) -> Vec<String> {
        let Some(d) = lists.get(name) else {
            return Vec::new();
        };
        if seen.iter().any(|s| s == name) {
            return Vec::new();
        }
        seen.push(name.to_string());
        let mut out = Vec::new();
        let all = d
            .items
            .iter()
            .chain(d.extends.iter().flat_map(|e| e.1.iter()));
        for i in all {
            if lists.contains_key(i.as_str()) {
                out.extend(expand(i, lists, seen));
            } else {
                out.push(i.clone());
            }
        }
        seen.pop();
        out
    }
    let expand_items = |items: &[String]| -> Vec<String> {
        let mut out = Vec::new();
        for i in items {
            if lists.contains_key(i.as_str()) {
                out.extend(expand(i, &lists, &mut Vec::new()));
            } else {
                out.push(i.clone());
            }
        }
        out
    };
    let full_lists: HashMap<String, Vec<String>> = lists
        .keys()
        .map(|k| (k.clone(), expand(k, &lists, &mut Vec::new())))
        .collect();

    // Ward names for lists and macros (one namespace in Ward).
    let mut taken = BTreeSet::new();
    let mut list_names = HashMap::new();
    for l in &list_order {
        list_names.insert(l.clone(), ward_ident(l, &mut taken));
        // Reserve the derived repository list's name.
        taken.insert(format!("{}_repository", list_names[l]));
    }
    let mut macro_names = HashMap::new();
    for m in &macro_order {
        macro_names.insert(m.clone(), ward_ident(m, &mut taken));
    }
    let is_list = |n: &str| lists.contains_key(n);

    // Translate macros in dependency order (memoised, cycle-safe).
    let mut macro_tr: HashMap<String, Result<Tr, String>> = HashMap::new();
    let mut macro_text: HashMap<String, (String, Option<String>)> = HashMap::new();
    fn macro_deps(c: &Cond, out: &mut Vec<String>) {
        match c {
            Cond::And(v) | Cond::Or(v) => v.iter().for_each(|x| macro_deps(x, out)),
            Cond::Not(x) => macro_deps(x, out),
            Cond::Macro(m) => out.push(m.clone()),
            Cond::Test { .. } => {}
        }
    }
    let mut parsed: HashMap<String, Result<(Cond, Option<Cond>), String>> = HashMap::new();
    for m in &macro_order {
        let d = &macros[m];
        let base = parse_cond(&d.cond, &is_list);
        let over = d.over.as_ref().map(|o| parse_cond(&o.1, &is_list));
        parsed.insert(
            m.clone(),
            match (base, over) {
                (Ok(b), None) => Ok((b, None)),
                (Ok(b), Some(Ok(o))) => Ok((b, Some(o))),
                (Err(e), _) | (_, Some(Err(e))) => Err(format!("condition does not parse: {e}")),
            },
        );
    }
    let mut pending: Vec<String> = macro_order.clone();
    let mut progress = true;
    while progress && !pending.is_empty() {
        progress = false;
        let mut rest = Vec::new();
        for m in pending {
            let ready = match &parsed[&m] {
                Err(_) => true,
                Ok((b, o)) => {
                    let mut deps = Vec::new();
                    macro_deps(b, &mut deps);
                    if let Some(o) = o {
                        macro_deps(o, &mut deps);
                    }
                    deps.iter()
                        .all(|d| macro_tr.contains_key(d) || !macros.contains_key(d) || d == &m)
                }
            };
            if !ready {
                rest.push(m);
                continue;
            }
            progress = true;
            let ctx = Ctx {
                lists: &full_lists,
                list_names: &list_names,
                macro_names: &macro_names,
                macro_tr: &macro_tr,
                guarded: std::cell::Cell::new(false),
            };
            let r = match &parsed[&m] {
                Err(e) => Err(e.clone()),
                Ok((b, o)) => {
                    let mut tr = Tr::default();
                    let base = ctx.cond(b, &mut tr);
                    let over = o.as_ref().map(|o| ctx.cond(o, &mut tr)).transpose();
                    match (base, over) {
                        (Ok(b), Ok(o)) => {
                            macro_text.insert(m.clone(), (b, o));
                            Ok(tr)
                        }
                        (Err(e), _) | (_, Err(e)) => Err(e),
                    }
                }
            };
            macro_tr.insert(m, r);
        }
        pending = rest;
    }
    for m in pending {
        macro_tr.insert(m, Err("macros that use each other in a cycle".into()));
    }

    let ctx = Ctx {
        lists: &full_lists,
        list_names: &list_names,
        macro_names: &macro_names,
        macro_tr: &macro_tr,
        guarded: std::cell::Cell::new(false),
    };

    // Per-file Ward text: lists, macros, rules, tunes.
    let mut file_rules: Vec<Vec<Piece>> = vec![Vec::new(); inputs.len()];
    let mut emitted: Vec<Emitted> = Vec::new();
    let mut used = Tr::default();
    let mut rule_ids: BTreeSet<String> = BTreeSet::new();
    let mut ids: HashMap<String, String> = HashMap::new();

    let exception_excepts = |excs: &[Exception], tr: &mut Tr| -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for e in excs {
            for tuple in &e.values {
                let mut parts = Vec::new();
                for (k, f) in e.fields.iter().enumerate() {
                    let comp = e.comps.get(k).map(String::as_str).unwrap_or("=");
                    let vals = tuple.get(k).cloned().unwrap_or_default();
                    let rhs = if SET_OPS.contains(&comp) {
                        Rhs::Set(
                            vals.iter()
                                .map(|v| {
                                    if is_list(v) {
                                        Item::List(v.clone())
                                    } else {
                                        Item::Lit(v.clone())
                                    }
                                })
                                .collect(),
                        )
                    } else {
                        match vals.as_slice() {
                            [v] => Rhs::One(v.clone()),
                            _ => {
                                return Err(format!(
                                    "exception value for {f} {comp} is not one value"
                                ))
                            }
                        }
                    };
                    let c = Cond::Test {
                        field: f.clone(),
                        op: comp.to_string(),
                        rhs,
                    };
                    parts.push(ctx.cond(&c, tr)?);
                }
                if !parts.is_empty() {
                    out.push(parts.join(" and "));
                }
            }
            let _ = e.single_field;
        }
        Ok(out)
    };

    for r in &rules {
        let source_file = inputs[r.file].0.clone();
        let mut report = RuleReport {
            source_file,
            name: r.name.clone(),
            ward_rule: None,
            status: Status::Converted,
            reasons: r.notes.clone(),
            findings: Vec::new(),
        };
        if r.modifies {
            // A change of an earlier rule: a `tune rule`.
            let Some(id) = ids.get(&r.name).cloned() else {
                report.status = Status::Skipped;
                report
                    .reasons
                    .push(format!("modifies rule {} which was not converted", r.name));
                output.rules.push(report);
                continue;
            };
            report.ward_rule = Some(id.clone());
            let mut tr = Tr::default();
            let mut entries = Vec::new();
            match exception_excepts(&r.exceptions, &mut tr) {
                Ok(ex) => entries.extend(ex.into_iter().map(|e| format!("  except {e}"))),
                Err(e) => report
                    .reasons
                    .push(format!("exceptions not converted: {e}")),
            }
            if let Some(app) = &r.cond_append {
                let t = app.trim_start();
                match t
                    .strip_prefix("and not ")
                    .map(|x| parse_cond(x, &is_list))
                {
                    Some(Ok(c)) => match ctx.cond(&c, &mut tr) {
                        Ok(x) => entries.push(format!("  except {x}")),
                        Err(e) => report.reasons.push(format!("appended condition not converted: {e}")),
                    },
                    _ => report.reasons.push(format!(
                        "appended condition `{}` not expressible: a Ward tune adds only excepts (an appended `and not ...`)",
                        one_line(t)
                    )),
                }
            }
            if let Some(en) = r.enabled {
                entries.push(format!("  enabled {en}"));
            }
            if let Some(s) = severity(&r.priority) {
                entries.push(format!("  severity {s}"));
            }
            if !report.reasons.is_empty() {
                report.status = if entries.is_empty() {
                    Status::Skipped
                } else {
                    Status::Partial
                };
            }
            if !entries.is_empty() {
                used.merge(&tr);
                report.reasons.extend(tr.partial.iter().cloned());
                if !tr.partial.is_empty() && report.status == Status::Converted {
                    report.status = Status::Partial;
                }
                file_rules[r.file].push(Piece::Text(format!(
                    "tune rule {id} {{\n{}\n}}\n",
                    entries.join("\n")
                )));
            }
            output.rules.push(report);
            continue;
        }
        if r.source != "k8s_audit" {
            report.status = Status::Skipped;
            report.reasons.push(format!(
                "source {} is not k8s_audit: Ward reads Kubernetes audit events, not {} events",
                r.source, r.source
            ));
            output.rules.push(report);
            continue;
        }
        if let Some(s) = &r.skip {
            report.status = Status::Skipped;
            report.reasons.push(s.clone());
            output.rules.push(report);
            continue;
        }
        let cond_text = r.cond.clone().unwrap_or_default();
        let mut tr = Tr::default();
        let mut cond_excepts = Vec::new();
        let when = parse_cond(&cond_text, &is_list)
            .map_err(|e| format!("condition does not parse: {e}"))
            .and_then(|c| {
                // `A and not B` becomes `when A` and `except B`.
                if let Cond::And(parts) = &c {
                    let (nots, rest): (Vec<&Cond>, Vec<&Cond>) =
                        parts.iter().partition(|p| matches!(p, Cond::Not(_)));
                    if !rest.is_empty() && !nots.is_empty() {
                        for n in nots {
                            if let Cond::Not(x) = n {
                                cond_excepts.push(ctx.cond(x, &mut tr)?);
                            }
                        }
                        let rest: Vec<Cond> = rest.into_iter().cloned().collect();
                        let w = if rest.len() == 1 {
                            rest[0].clone()
                        } else {
                            Cond::And(rest)
                        };
                        return ctx.cond(&w, &mut tr);
                    }
                }
                ctx.cond(&c, &mut tr)
            });
        let when = match when {
            Ok(w) => w,
            Err(e) => {
                report.status = Status::Skipped;
                report.reasons.push(e);
                output.rules.push(report);
                continue;
            }
        };
        let excepts = match exception_excepts(&r.exceptions, &mut tr) {
            Ok(x) => cond_excepts.into_iter().chain(x).collect::<Vec<_>>(),
            Err(e) => {
                report.status = Status::Skipped;
                report
                    .reasons
                    .push(format!("exceptions not converted: {e}"));
                output.rules.push(report);
                continue;
            }
        };
        let id = slug(&r.name, &mut rule_ids);
        ids.insert(r.name.clone(), id.clone());
        report.ward_rule = Some(id.clone());
        let mut notes = Vec::new();
        let out_t = output_template(&r.output, &mut notes);
        report.reasons.extend(tr.partial.iter().cloned());
        report.reasons.extend(notes);
        let sev = severity(&r.priority);
        if sev.is_none() && !r.priority.is_empty() {
            report
                .reasons
                .push(format!("priority {} unknown: no severity", r.priority));
        }
        if !report.reasons.is_empty() {
            report.status = Status::Partial;
        }
        used.merge(&tr);
        let desc = one_line(&r.desc);
        let mut text = format!("rule {id} {{\n  title {}\n", quote(&r.name));
        text.push_str(&format!(
            "  description {}\n",
            quote(&if desc.is_empty() {
                format!("Converted from Falco rule {}.", r.name)
            } else {
                format!("Converted from Falco rule {}. {desc}", r.name)
            })
        ));
        if let Some(s) = sev {
            text.push_str(&format!("  severity {s}\n"));
        }
        if !r.tags.is_empty() {
            let tags: Vec<String> = r.tags.iter().map(|t| tag(t)).collect();
            text.push_str(&format!("  tags [{}]\n", tags.join(", ")));
        }
        match r.enabled {
            // Reads a field the audit policy must be asked to record:
            // converted disabled, as the bundled library ships such rules.
            Some(true) | None if tr.opt_in => {
                text.push_str("  enabled false\n");
                report.reasons.push(format!(
                    "converted disabled: it reads ConfigMap data, an opt-in field (W022); enable it with `tune rule {id} {{ enabled true }}` where the audit policy records ConfigMap bodies (Request level)"
                ));
                report.status = Status::Partial;
            }
            Some(en) => text.push_str(&format!("  enabled {en}\n")),
            None => {}
        }
        text.push_str(&format!("  when {when}\n"));
        for e in excepts {
            text.push_str(&format!("  except {e}\n"));
        }
        emitted.push(Emitted {
            id: id.clone(),
            pre: text,
            output: out_t,
            report: output.rules.len(),
        });
        file_rules[r.file].push(Piece::Rule(emitted.len() - 1));
        output.rules.push(report);
    }

    // Definitions the converted rules use.
    let mut files: Vec<Vec<String>> = vec![Vec::new(); inputs.len()];
    for l in &list_order {
        let d = &lists[l];
        for repo in [false, true] {
            if !used.lists.contains(&(l.clone(), repo)) {
                continue;
            }
            let name = if repo {
                format!("{}_repository", list_names[l])
            } else {
                list_names[l].clone()
            };
            let render = |items: &[String]| -> String {
                let vals: Vec<String> = if repo {
                    expand_items(items)
                        .iter()
                        .flat_map(|x| repository_globs(x))
                        .collect()
                } else {
                    expand_items(items)
                };
                vals.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", ")
            };
            // An empty Falco list is one users append to: a Ward `fill list`.
            let kw = if expand_items(&d.items).is_empty() {
                "fill list"
            } else {
                "list"
            };
            files[d.file].push(format!("{kw} {name} = [{}]\n", render(&d.items)));
            for (f, items) in &d.extends {
                files[*f].push(format!("extend list {name} [{}]\n", render(items)));
            }
        }
    }
    for m in &macro_order {
        if !used.macros.contains(m) {
            continue;
        }
        let Some((base, over)) = macro_text.get(m) else {
            continue;
        };
        let d = &macros[m];
        let name = &macro_names[m];
        files[d.file].push(format!("macro {name} = {base}\n"));
        if let (Some(o), Some((f, _))) = (over, &d.over) {
            files[*f].push(format!("override macro {name} = {o}\n"));
        }
    }
    // An output path the schema lacks (E026) is dropped from the template,
    // and the rule is partial: found by checking the text in memory.
    for _ in 0..4 {
        let texts = render(inputs, &files, &file_rules, &emitted);
        let refs: Vec<(&str, &str)> = texts
            .iter()
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        let loaded = ward_compiler::load::load_texts(&refs);
        let report = ward_compiler::check(&loaded, ward_compiler::schema::bundled());
        let mut changed = false;
        for d in &report.diagnostics {
            if d.code.as_str() != "E026" {
                continue;
            }
            let rule = loaded
                .files
                .iter()
                .filter(|(f, _)| *f == d.file())
                .flat_map(|(_, f)| f.items.iter())
                .find_map(|item| match item {
                    ward_compiler::syntax::ast::Item::Rule(r)
                        if r.span.start <= d.span().start && d.span().end <= r.span.end =>
                    {
                        Some(r.name.name.clone())
                    }
                    _ => None,
                });
            let Some(e) = rule.and_then(|n| emitted.iter_mut().find(|e| e.id == n)) else {
                continue;
            };
            let Some(bad) = d.message.split('`').nth(1) else {
                continue;
            };
            let (kept, dropped) = drop_placeholders(&e.output, bad);
            if dropped.is_empty() {
                continue;
            }
            e.output = kept;
            let rep = &mut output.rules[e.report];
            for p in dropped {
                rep.reasons.push(format!(
                    "output: {{{p}}} dropped: the k8s.audit schema has no `{bad}` ({})",
                    d.message
                ));
            }
            rep.status = Status::Partial;
            changed = true;
        }
        if !changed {
            break;
        }
    }
    for (name, text) in render(inputs, &files, &file_rules, &emitted) {
        output.files.push((name, text));
    }
    output
}

/// One rule as written: all but its output, and its output template.
struct Emitted {
    id: String,
    pre: String,
    output: String,
    /// Its index in [`Output::rules`].
    report: usize,
}

#[derive(Clone)]
enum Piece {
    Text(String),
    Rule(usize),
}

/// `template` without the placeholders whose path is `bad` or below it.
fn drop_placeholders(template: &str, bad: &str) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut dropped = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(r) = after.strip_prefix("{{") {
            out.push_str("{{");
            rest = r;
            continue;
        }
        let Some(j) = after.find('}') else {
            out.push_str(after);
            rest = "";
            break;
        };
        let p = &after[1..j];
        if p == bad || p.starts_with(&format!("{bad}.")) || p.starts_with(&format!("{bad}[")) {
            dropped.push(p.to_string());
        } else {
            out.push_str(&after[..=j]);
        }
        rest = &after[j + 1..];
    }
    out.push_str(rest);
    (out, dropped)
}

/// The `.ward` files: per input, its definitions, rules and tunes.
fn render(
    inputs: &[(String, String)],
    files: &[Vec<String>],
    file_rules: &[Vec<Piece>],
    emitted: &[Emitted],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (fi, (path, _)) in inputs.iter().enumerate() {
        let mut body = files[fi].clone();
        for p in &file_rules[fi] {
            body.push(match p {
                Piece::Text(t) => t.clone(),
                Piece::Rule(i) => {
                    let e = &emitted[*i];
                    let mut t = e.pre.clone();
                    if !e.output.trim().is_empty() {
                        t.push_str(&format!("  output {}\n", quote(&e.output)));
                    }
                    t.push_str("}\n");
                    t
                }
            });
        }
        if body.is_empty() {
            continue;
        }
        let stem = std::path::Path::new(path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("falco");
        let mut name: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if out.iter().any(|(p, _)| p == &format!("{name}.ward")) {
            name = format!("{name}_{fi}");
        }
        let text = format!(
            "# Converted by `ward import falco` from {path}.\nsource k8s.audit\n\n{}",
            body.join("\n")
        );
        out.push((format!("{name}.ward"), text));
    }
    out
}

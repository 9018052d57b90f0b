//! `ward import sigma`: Sigma rules (YAML, one rule per document) to Ward.
//!
//! Supported logsources: Kubernetes audit (`product: kubernetes`,
//! `service: audit`) to `k8s.audit`, AWS CloudTrail (`product: aws`,
//! `service: cloudtrail`) to `aws.cloudtrail`. Field names are the events'
//! JSON paths in both; a few Sigma names are mapped (see [`map_field`]).
//! Selections become macros (inline when the rule has only one), Sigma's
//! case-insensitive matching becomes Ward's `i`-operators, and what cannot be
//! expressed makes the rule partial (with what was dropped) or skipped (with
//! why). spec/import.md documents the mapping.

use std::collections::{BTreeMap, HashSet};

use base64::Engine;
use serde::Deserialize;
use serde_yaml::Value;
use ward_compiler::schema::{Record, Schema, Ty};

use super::{string_lit as lit, Output, RuleReport, Status};
use ward_compiler::syntax::is_plain_name;

fn slug(s: &str) -> String {
    super::slug(s, "sigma")
}

/// Converts Sigma YAML files, given as (path, text).
pub fn convert(inputs: &[(String, String)]) -> Output {
    let mut out = Output::default();
    let mut ids: HashSet<String> = HashSet::new();
    // Sigma id -> title of the first rule that had it.
    let mut sigma_ids: BTreeMap<String, String> = BTreeMap::new();
    let mut files: HashSet<String> = HashSet::new();
    for (path, text) in inputs {
        let stem = slug(
            std::path::Path::new(path)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("sigma"),
        );
        // Output text per source, in first-seen order.
        let mut per_source: Vec<(&'static str, String)> = Vec::new();
        let mut docs = Vec::new();
        for de in serde_yaml::Deserializer::from_str(text) {
            match Value::deserialize(de) {
                Ok(v) => docs.push(Ok(v)),
                Err(e) => {
                    docs.push(Err(format!("not valid YAML: {e}")));
                    break;
                }
            }
        }
        for doc in docs {
            let doc = match doc {
                Ok(Value::Null) => continue,
                Ok(v) => v,
                Err(reason) => {
                    out.rules.push(skipped(path, &stem, reason));
                    continue;
                }
            };
            let name = doc
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| stem.clone());
            let dup = doc.get("id").and_then(Value::as_str).and_then(|sid| {
                match sigma_ids.get(sid) {
                    Some(first) => Some(format!(
                        "note: Sigma id `{sid}` is also the id of \"{first}\" (defect of the originals: ids must be unique)"
                    )),
                    None => {
                        sigma_ids.insert(sid.to_string(), name.clone());
                        None
                    }
                }
            });
            match convert_rule(&doc, &mut ids) {
                Ok(mut c) => {
                    c.notes.extend(dup);
                    match per_source.iter_mut().find(|(s, _)| *s == c.source) {
                        Some((_, t)) => {
                            t.push('\n');
                            t.push_str(&c.text);
                        }
                        None => per_source.push((c.source, c.text)),
                    }
                    out.rules.push(RuleReport {
                        source_file: path.clone(),
                        name,
                        ward_rule: Some(c.id),
                        status: if c.dropped.is_empty() {
                            Status::Converted
                        } else {
                            Status::Partial
                        },
                        reasons: c.dropped.into_iter().chain(c.notes).collect(),
                        findings: Vec::new(),
                    });
                }
                Err(reason) => out.rules.push(skipped(path, &name, reason)),
            }
        }
        for (source, body) in per_source {
            let mut file = format!("{stem}.ward");
            let mut n = 2;
            while !files.insert(file.clone()) {
                file = format!("{stem}_{n}.ward");
                n += 1;
            }
            out.files.push((
                file,
                format!(
                    "# Converted by `ward import sigma` from {path}\nsource {source}\n\n{body}"
                ),
            ));
        }
    }
    out
}

fn skipped(path: &str, name: &str, reason: String) -> RuleReport {
    RuleReport {
        source_file: path.to_string(),
        name: name.to_string(),
        ward_rule: None,
        status: Status::Skipped,
        reasons: vec![reason],
        findings: Vec::new(),
    }
}

/// One converted rule: its macros and the rule, as text.
struct Converted {
    source: &'static str,
    id: String,
    text: String,
    /// What was left out (a partial conversion), with why.
    dropped: Vec<String>,
    /// Fields mapped to another name, metadata left out: not losses.
    notes: Vec<String>,
}

/// A condition being built.
#[derive(Clone, Debug, PartialEq)]
enum C {
    True,
    False,
    /// A Ward test, rendered.
    Test(String),
    Ref(String),
    And(Vec<C>),
    Or(Vec<C>),
    Not(Box<C>),
}

fn and(items: Vec<C>) -> C {
    let mut v = Vec::new();
    for i in items {
        match i {
            C::True => {}
            C::False => return C::False,
            C::And(inner) => v.extend(inner),
            x => v.push(x),
        }
    }
    match v.len() {
        0 => C::True,
        1 => v.pop().unwrap_or(C::True),
        _ => C::And(v),
    }
}

fn or(items: Vec<C>) -> C {
    let mut v = Vec::new();
    for i in items {
        match i {
            C::False => {}
            C::True => return C::True,
            C::Or(inner) => v.extend(inner),
            x => v.push(x),
        }
    }
    match v.len() {
        0 => C::False,
        1 => v.pop().unwrap_or(C::False),
        _ => C::Or(v),
    }
}

fn not(c: C) -> C {
    match c {
        C::True => C::False,
        C::False => C::True,
        C::Not(inner) => *inner,
        x => C::Not(Box::new(x)),
    }
}

/// Renders `c`; `level` 0 = or-level, 1 = and-level, 2 = operand of `not`.
fn render(c: &C, level: u8) -> String {
    let join = |items: &[C], sep: &str| {
        items
            .iter()
            .map(|i| render(i, 1))
            .collect::<Vec<_>>()
            .join(sep)
    };
    // The text, and the level from which it needs parentheses.
    let (s, from) = match c {
        C::True => ("true".to_string(), u8::MAX),
        C::False => ("false".to_string(), u8::MAX),
        C::Ref(r) => (r.clone(), u8::MAX),
        C::Test(t) => (t.clone(), 2),
        C::Or(items) => (join(items, " or "), 1),
        C::And(items) => (join(items, " and "), 2),
        C::Not(inner) => (format!("not {}", render(inner, 2)), 2),
    };
    if level >= from {
        format!("({s})")
    } else {
        s
    }
}

/// A regex as a raw string when it can be one.
fn regex_lit(s: &str) -> String {
    if s.contains('"') || s.contains('\n') {
        lit(s)
    } else {
        format!("r\"{s}\"")
    }
}

fn list_or_one(items: &[String]) -> String {
    if items.len() == 1 {
        items[0].clone()
    } else {
        format!("[{}]", items.join(", "))
    }
}

/// A Sigma field name (a dotted JSON path) as a Ward path.
fn ward_path(field: &str) -> Result<String, String> {
    let mut out = String::new();
    for (i, seg) in field.split('.').enumerate() {
        if i == 0 {
            if !is_plain_name(seg) {
                return Err(format!(
                    "field `{field}`: a first segment `{seg}` cannot be written as a Ward path"
                ));
            }
            out.push_str(seg);
        } else if is_plain_name(seg) {
            out.push('.');
            out.push_str(seg);
        } else {
            out.push('.');
            out.push_str(&lit(seg));
        }
    }
    Ok(out)
}

/// The type at a dotted path: records are followed, anything below a `json`
/// field is `json`. None for a field the schema does not have.
fn field_type(schema: &Schema, dotted: &str) -> Option<Ty> {
    field_type_in(schema, &schema.root, dotted)
}

/// [`field_type`] from `record`.
fn field_type_in(schema: &Schema, record: &Record, dotted: &str) -> Option<Ty> {
    let mut record = record;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = record.field(part)?;
        if parts.peek().is_none() {
            return Some(field.ty.clone());
        }
        match &field.ty {
            Ty::Json => return Some(Ty::Json),
            Ty::Map(inner) => {
                parts.next();
                if parts.peek().is_none() {
                    return Some((**inner).clone());
                }
                record = schema.record(inner)?;
            }
            ty => record = schema.record(ty)?,
        }
    }
    None
}

/// A dotted path through a list of records (`protoPayload.authorizationInfo.
/// permission`): the list's path, its element record and the rest of the
/// path. Sigma tests such a field on every element (any may match); Ward
/// says so with a quantifier.
fn list_element<'s>(schema: &'s Schema, dotted: &str) -> Option<(String, &'s Record, String)> {
    let mut record = &schema.root;
    let parts: Vec<&str> = dotted.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let field = record.field(part)?;
        match &field.ty {
            Ty::List(inner) if i + 1 < parts.len() => {
                let element = schema.record(inner)?;
                return Some((parts[..=i].join("."), element, parts[i + 1..].join(".")));
            }
            Ty::Record(_) => record = schema.record(&field.ty)?,
            _ => return None,
        }
    }
    None
}

/// Sigma field names with a Ward equivalent that is not the same path.
/// `Ok(Some(path))` is a plain rename; `Err(test)` a field whose presence
/// is a test of its own (Sigma's `hostPath: '*'`).
enum Mapped {
    Path(String, Option<String>),
    Presence(String, String),
}

fn map_field(source: &str, field: &str) -> Mapped {
    match (source, field) {
        ("k8s.audit", "apiGroup") => Mapped::Path(
            "objectRef.apiGroup".into(),
            Some("`apiGroup` is not a field of audit events; mapped to `objectRef.apiGroup`".into()),
        ),
        ("k8s.audit", "hostPath") => Mapped::Presence(
            "objectRef.resource == \"pods\" and any v in requestObject.spec.volumes: v.hostPath exists".into(),
            "`hostPath` (a pod volume of type hostPath) mapped to `any v in requestObject.spec.volumes: v.hostPath exists`".into(),
        ),
        ("k8s.audit", "capabilities") => Mapped::Presence(
            "objectRef.resource == \"pods\" and any c in requestObject.spec.containers: c.securityContext.capabilities.add exists".into(),
            "`capabilities` (capabilities added to a container) mapped to `any c in requestObject.spec.containers: c.securityContext.capabilities.add exists`".into(),
        ),
        ("gcp.audit", _) => match (gcp_field(field), gcp_payload(field)) {
            (Some(path), _) => Mapped::Path(
                path.to_string(),
                Some(format!("`{field}` mapped to `{path}` (the LogEntry's own field)")),
            ),
            (None, Some(path)) => {
                let note = format!("`{field}` (Elastic's snake_case copy of the logged {}) mapped to `{path}`, the LogEntry's camelCase", path.split('.').nth(1).unwrap_or_default());
                Mapped::Path(path, Some(note))
            }
            (None, None) => {
                Mapped::Path(field.strip_prefix("data.").unwrap_or(field).to_string(), None)
            }
        },
        _ => Mapped::Path(field.to_string(), None),
    }
}

/// Elastic's `gcp.audit.request.*` and `gcp.audit.response.*` (the
/// logged request and response, keys in snake_case) as the LogEntry's
/// `protoPayload.request.*` (proto3 JSON: lowerCamelCase).
fn gcp_payload(field: &str) -> Option<String> {
    let (part, rest) = ["request", "response"].iter().find_map(|part| {
        let rest = field
            .strip_prefix("gcp.audit.")?
            .strip_prefix(part)?
            .strip_prefix('.')?;
        Some((part, rest))
    })?;
    let camel: Vec<String> = rest.split('.').map(lower_camel).collect();
    Some(format!("protoPayload.{part}.{}", camel.join(".")))
}

/// `source_ranges` as proto3 JSON names it: `sourceRanges`.
fn lower_camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.chars() {
        match (c, upper) {
            ('_', _) if !out.is_empty() => upper = true,
            (c, true) => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            (c, false) => out.push(c),
        }
    }
    out
}

/// The LogEntry paths of the field names Sigma's gcp.audit rules use:
/// Elastic's (`gcp.audit.method_name`), and the Cloud Logging API's entry
/// under `data` (`data.protoPayload.methodName`), where the spec of the
/// log source puts `logName` and `resource` under `protoPayload` although
/// they are the entry's.
fn gcp_field(field: &str) -> Option<&'static str> {
    Some(match field {
        "gcp.audit.method_name" => "protoPayload.methodName",
        "gcp.audit.service_name" => "protoPayload.serviceName",
        "gcp.audit.resource_name" => "protoPayload.resourceName",
        "gcp.audit.authentication_info.principal_email" => {
            "protoPayload.authenticationInfo.principalEmail"
        }
        "gcp.audit.request_metadata.caller_ip" => "protoPayload.requestMetadata.callerIp",
        "gcp.audit.request_metadata.caller_supplied_user_agent" => {
            "protoPayload.requestMetadata.callerSuppliedUserAgent"
        }
        "gcp.audit.status.code" => "protoPayload.status.code",
        "gcp.audit.status.message" => "protoPayload.status.message",
        "data.protoPayload.logName" => "logName",
        "data.protoPayload.resource.type" => "resource.type",
        _ => return None,
    })
}

/// A Sigma plain value turned into a test kind.
enum Pat {
    Eq(String),
    Contains(String),
    Starts(String),
    Ends(String),
    Glob(String),
    Any,
}

/// Sigma's wildcards: `*`, `?`; `\*`, `\?` and `\\` are literal. Returns
/// the pattern as parts (literal text, or a wildcard char).
fn sigma_parts(s: &str) -> Vec<Result<String, char>> {
    let mut parts: Vec<Result<String, char>> = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '*' | '?' => {
                if !cur.is_empty() {
                    parts.push(Ok(std::mem::take(&mut cur)));
                }
                parts.push(Err(ch));
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        parts.push(Ok(cur));
    }
    parts
}

fn glob_escape(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// A Sigma value with wildcards, as the simplest Ward test.
fn pattern(s: &str) -> Pat {
    let mut parts = sigma_parts(s);
    // `**` is `*`.
    parts.dedup_by(|a, b| *a == Err('*') && *b == Err('*'));
    let lits: Vec<&str> = parts
        .iter()
        .filter_map(|p| p.as_ref().ok().map(String::as_str))
        .collect();
    let stars = parts.iter().filter(|p| **p == Err('*')).count();
    let qs = parts.iter().filter(|p| **p == Err('?')).count();
    if qs == 0 {
        match (parts.as_slice(), stars) {
            ([], _) => return Pat::Eq(String::new()),
            (_, 0) => return Pat::Eq(lits.concat()),
            ([Err('*')], _) => return Pat::Any,
            ([Err('*'), Ok(l), Err('*')], 2) => return Pat::Contains(l.clone()),
            ([Ok(l), Err('*')], 1) => return Pat::Starts(l.clone()),
            ([Err('*'), Ok(l)], 1) => return Pat::Ends(l.clone()),
            _ => {}
        }
    }
    let mut g = String::new();
    for p in &parts {
        match p {
            Ok(l) => g.push_str(&glob_escape(l)),
            Err(w) => g.push(*w),
        }
    }
    Pat::Glob(g)
}

fn has_wildcard(s: &str) -> bool {
    sigma_parts(s).iter().any(|p| p.is_err())
}

fn number_text(n: &serde_yaml::Number) -> String {
    n.to_string()
}

/// pySigma's `base64offset`: the base64 of `value` at each of the three
/// byte offsets, cut to the characters that do not depend on the
/// neighbouring bytes.
fn base64_offsets(value: &str) -> Vec<String> {
    let b = value.as_bytes();
    let starts = [0usize, 2, 3];
    let mut out = Vec::new();
    for (i, start) in starts.iter().enumerate() {
        let mut buf = vec![b' '; i];
        buf.extend_from_slice(b);
        let enc = base64::engine::general_purpose::STANDARD.encode(&buf);
        let end_cut = match (b.len() + i) % 3 {
            0 => 0,
            1 => 3,
            _ => 2,
        };
        let end = enc.len().saturating_sub(end_cut);
        if *start < end {
            out.push(enc[*start..end].to_string());
        }
    }
    out
}

/// Sigma's `windash`: every `-` at the start of the value or after a space
/// in each of its spellings (`-`, `/`, en dash, em dash, horizontal bar).
fn windash(s: &str) -> Vec<String> {
    let dashes = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];
    let mut out = Vec::new();
    for d in dashes {
        let mut v = String::new();
        let mut prev: Option<char> = None;
        for ch in s.chars() {
            if ch == '-' && prev.is_none_or(char::is_whitespace) {
                v.push(d);
            } else {
                v.push(ch);
            }
            prev = Some(ch);
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

struct Ctx<'a> {
    source: &'static str,
    schema: &'a Schema,
    /// Notes on mapped fields and dropped tests, for the report.
    dropped: Vec<String>,
    notes: Vec<String>,
    /// Building a selection the condition uses under `not`.
    negated: bool,
}

/// A test that can never match. In a selection the condition negates (a
/// filter) that is what it is: false, and the filter excludes nothing by
/// it. Elsewhere a faithful `false` would make the rule never fire, so the
/// test is dropped (true) and the rule is partial.
fn never(cx: &mut Ctx, sel: &str, why: String) -> C {
    if cx.negated {
        cx.notes.push(format!(
            "selection `{sel}` (a filter): {why}; it excludes nothing by it"
        ));
        C::False
    } else {
        cx.dropped
            .push(format!("selection `{sel}`: {why}; the test was dropped"));
        C::True
    }
}

/// One `field|mods: values` entry of a selection.
fn field_test(cx: &mut Ctx, key: &str, value: &Value, sel: &str) -> Result<C, String> {
    let mut it = key.split('|');
    let field = it.next().unwrap_or_default();
    let mods: Vec<&str> = it.collect();
    let known = [
        "contains",
        "startswith",
        "endswith",
        "all",
        "re",
        "i",
        "m",
        "s",
        "cidr",
        "base64",
        "base64offset",
        "windash",
        "exists",
        "cased",
        "gt",
        "gte",
        "lt",
        "lte",
        "fieldref",
    ];
    if let Some(m) = mods.iter().find(|m| !known.contains(m)) {
        return Err(format!(
            "selection `{sel}`: modifier `{m}` (on `{key}`) is not supported"
        ));
    }
    if field.is_empty() {
        return Err(format!("selection `{sel}`: a modifier without a field (`{key}`) is a keyword search, which Ward cannot express: rules test fields"));
    }
    let has = |m: &str| mods.contains(&m);
    let values: Vec<&Value> = match value {
        Value::Sequence(s) => s.iter().collect(),
        v => vec![v],
    };
    if values.is_empty() {
        return Err(format!(
            "selection `{sel}`: `{key}` has an empty list of values"
        ));
    }
    // The field, mapped.
    let path_str = match map_field(cx.source, field) {
        Mapped::Path(p, note) => {
            if let Some(n) = note {
                cx.notes.push(n);
            }
            p
        }
        Mapped::Presence(test, note) => {
            let any = values.iter().all(|v| {
                matches!(v.as_str(), Some("*")) || has("exists") && v.as_bool() == Some(true)
            });
            if !any || mods.iter().any(|m| *m != "exists") {
                return Err(format!("selection `{sel}`: `{key}` is mapped only for a presence test (`'*'` or `|exists: true`)"));
            }
            cx.notes.push(note);
            return Ok(C::Test(test));
        }
    };
    let kubernetes = |v: &&Value| v.as_str().is_some_and(|m| m.starts_with("io.k8s."));
    if path_str == "protoPayload.methodName" && values.iter().any(kubernetes) {
        cx.notes.push(format!(
            "`{key}` names Kubernetes API methods (io.k8s.*): Ward reads those entries as k8s.audit, so this rule fires only on `ward scan --source gcp.audit`"
        ));
    }
    // A field of a list's elements is tested on each: `any e in LIST: ...`.
    let element = list_element(cx.schema, &path_str);
    let found = match &element {
        Some((_, record, rest)) => field_type_in(cx.schema, record, rest),
        None => field_type(cx.schema, &path_str),
    };
    let Some(ty) = found else {
        let why = format!(
            "`{key}` tests a field that {} events do not have, so it never matches (defect of the original)",
            cx.source
        );
        return Ok(never(cx, sel, why));
    };
    let (path, list) = match element {
        Some((list, _, rest)) => (ward_path(&format!("e.{rest}"))?, Some(ward_path(&list)?)),
        None => (ward_path(&path_str)?, None),
    };
    let test = value_tests(cx, key, sel, &values, &mods, &path_str, &path, ty)?;
    Ok(match (list, test) {
        (_, c @ (C::True | C::False)) => c,
        (Some(list), c @ C::Test(_)) => C::Test(format!("any e in {list}: {}", render(&c, 0))),
        (Some(list), c) => C::Test(format!("any e in {list}: ({})", render(&c, 0))),
        (None, c) => c,
    })
}

/// The tests of one field's values, `path` being the field's Ward path
/// and `ty` its type.
#[allow(clippy::too_many_arguments)]
fn value_tests(
    cx: &mut Ctx,
    key: &str,
    sel: &str,
    values: &[&Value],
    mods: &[&str],
    path_str: &str,
    path: &str,
    ty: Ty,
) -> Result<C, String> {
    let has = |m: &str| mods.contains(&m);
    if ty == Ty::Json
        && !path_str.contains('.')
        && (has("contains") || has("startswith") || has("endswith") || has("re") || mods.is_empty())
    {
        // Written as the original says, but it will not behave as the
        // original means on real records: a partial conversion.
        cx.dropped.push(format!(
            "`{key}` tests the whole of `{path}`, a JSON object in real events: Ward's string tests hold only for string values (they do not search the object's text as some Sigma backends do), so this test, kept as written, matches only if `{path}` is a string; test a member path instead"
        ));
    }
    let numeric = ty.is_numeric();
    let cased = has("cased");
    let all = has("all");

    if has("exists") {
        let mut tests = Vec::new();
        for v in values {
            match v.as_bool() {
                Some(true) => tests.push(C::Test(format!("{path} exists"))),
                Some(false) => tests.push(not(C::Test(format!("{path} exists")))),
                None => return Err(format!("selection `{sel}`: `{key}` needs true or false")),
            }
        }
        return Ok(if all { and(tests) } else { or(tests) });
    }
    for (m, op) in [("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")] {
        if has(m) {
            let mut tests = Vec::new();
            for v in values {
                let n = match v {
                    Value::Number(n) => number_text(n),
                    Value::String(s) if s.parse::<f64>().is_ok() => s.clone(),
                    _ => return Err(format!("selection `{sel}`: `{key}` needs a number")),
                };
                if !numeric && ty != Ty::Json {
                    return Err(format!("selection `{sel}`: `{key}` compares `{path}`, which is not a number, by order"));
                }
                tests.push(C::Test(format!("{path} {op} {n}")));
            }
            return Ok(if all { and(tests) } else { or(tests) });
        }
    }
    if has("fieldref") {
        let mut tests = Vec::new();
        for v in values {
            let Some(other) = v.as_str() else {
                return Err(format!("selection `{sel}`: `{key}` needs a field name"));
            };
            if field_type(cx.schema, other).is_none() {
                return Err(format!(
                    "field `{other}` (in `{key}`) does not exist in {} events",
                    cx.source
                ));
            }
            let o = ward_path(other)?;
            let op = if has("contains") {
                "contains"
            } else if has("startswith") {
                "startswith"
            } else if has("endswith") {
                "endswith"
            } else {
                "=="
            };
            tests.push(C::Test(format!("{path} {op} {o}")));
        }
        return Ok(if all { and(tests) } else { or(tests) });
    }
    if has("cidr") {
        let mut nets = Vec::new();
        for v in values {
            let Some(s) = v.as_str() else {
                return Err(format!(
                    "selection `{sel}`: `{key}` needs networks as strings"
                ));
            };
            nets.push(lit(s));
        }
        if all {
            return Ok(and(nets
                .iter()
                .map(|n| C::Test(format!("{path} in cidr {n}")))
                .collect()));
        }
        return Ok(C::Test(format!("{path} in cidr {}", list_or_one(&nets))));
    }
    if has("re") {
        let mut flags = String::new();
        if has("m") {
            flags.push('m');
        }
        if has("s") {
            flags.push('s');
        }
        let op = if has("i") { "imatches" } else { "matches" };
        let mut res = Vec::new();
        for v in values {
            let Some(s) = v.as_str() else {
                return Err(format!("selection `{sel}`: `{key}` needs a regex string"));
            };
            if ["(?=", "(?!", "(?<=", "(?<!"].iter().any(|l| s.contains(l))
                || (1..=9).any(|d| s.contains(&format!("\\{d}")))
            {
                return Err(format!("selection `{sel}`: the regex of `{key}` uses look-around or a backreference, which Ward's linear-time regexes do not have"));
            }
            let r = if flags.is_empty() {
                s.to_string()
            } else {
                format!("(?{flags}){s}")
            };
            res.push(regex_lit(&r));
        }
        if all {
            return Ok(and(res
                .iter()
                .map(|r| C::Test(format!("{path} {op} {r}")))
                .collect()));
        }
        return Ok(C::Test(format!("{path} {op} {}", list_or_one(&res))));
    }

    // Plain, contains, startswith, endswith, with base64, base64offset and
    // windash transforming the values first.
    let kind = if has("contains") {
        "contains"
    } else if has("startswith") {
        "startswith"
    } else if has("endswith") {
        "endswith"
    } else {
        "plain"
    };
    // (op, literal) pairs.
    let mut atoms: Vec<(String, String)> = Vec::new();
    let mut extra: Vec<C> = Vec::new();
    let ci = |op: &str, cased: bool| -> String {
        if cased {
            op.to_string()
        } else {
            format!("i{op}")
        }
    };
    for v in values {
        match v {
            Value::Null => {
                if kind != "plain" {
                    return Err(format!(
                        "selection `{sel}`: `{key}` has a null value with a string modifier"
                    ));
                }
                extra.push(C::Test(format!("{path} is null")));
                continue;
            }
            Value::Bool(b) => {
                if matches!(ty, Ty::Bool | Ty::Json) && kind == "plain" {
                    extra.push(C::Test(format!("{path} == {b}")));
                } else if ty.is_stringy() {
                    atoms.push((ci("equals", cased), lit(&b.to_string())));
                } else {
                    return Err(format!(
                        "selection `{sel}`: `{key}` compares `{path}` ({ty:?}) with a bool"
                    ));
                }
                continue;
            }
            // A bool written as a string (`granted: 'true'`): SIEMs index
            // the bool so that the text matches it.
            Value::String(t)
                if ty == Ty::Bool && kind == "plain" && ["true", "false"].contains(&t.as_str()) =>
            {
                extra.push(C::Test(format!("{path} == {t}")));
                cx.notes.push(format!(
                    "`{key}: '{t}'`: `{path}` is a bool; the quoted value is compared as the bool {t}"
                ));
                continue;
            }
            Value::Number(n) if kind == "plain" && (numeric || ty == Ty::Json) => {
                atoms.push(("==".into(), number_text(n)));
                continue;
            }
            _ => {}
        }
        if let Value::String(s) = v {
            if s.contains('.') && !s.contains(' ') && field_type(cx.schema, s).is_some() {
                cx.notes.push(format!(
                    "`{key}: {s}`: the value is a field of {} events, compared as text; Sigma needs `|fieldref` to compare with the field (probably a defect of the original)",
                    cx.source
                ));
            }
        }
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => number_text(n),
            _ => {
                return Err(format!(
                "selection `{sel}`: `{key}` has a value that is not a string, number, bool or null"
            ))
            }
        };
        if numeric {
            if kind == "plain" && s.parse::<f64>().is_ok() {
                atoms.push(("==".into(), s));
                continue;
            }
            if kind == "plain" && s == "*" {
                extra.push(C::Test(format!("{path} is not null")));
                continue;
            }
            let why = format!(
                "`{key}: {s}` compares `{path}`, a number, with a string it can never equal (defect of the original)"
            );
            return Ok(never(cx, sel, why));
        }
        if !ty.is_stringy() && ty != Ty::Json {
            return Err(format!(
                "selection `{sel}`: `{key}` tests `{path}` ({ty:?}) as a string"
            ));
        }
        // Transformations.
        let mut variants = if has("windash") { windash(&s) } else { vec![s] };
        let encoded = has("base64") || has("base64offset");
        if has("base64offset") {
            variants = variants.iter().flat_map(|v| base64_offsets(v)).collect();
        } else if has("base64") {
            variants = variants
                .iter()
                .map(|v| base64::engine::general_purpose::STANDARD.encode(v.as_bytes()))
                .collect();
        }
        // Base64 text is case-sensitive.
        let cased = cased || encoded;
        for v in variants {
            let pat = if encoded {
                // Encoded text has no wildcards.
                match kind {
                    "contains" => Pat::Contains(v),
                    "startswith" => Pat::Starts(v),
                    "endswith" => Pat::Ends(v),
                    _ => Pat::Eq(v),
                }
            } else {
                match kind {
                    "contains" if !has_wildcard(&v) => Pat::Contains(v),
                    "startswith" if !has_wildcard(&v) => Pat::Starts(v),
                    "endswith" if !has_wildcard(&v) => Pat::Ends(v),
                    "contains" => pattern(&format!("*{v}*")),
                    "startswith" => pattern(&format!("{v}*")),
                    "endswith" => pattern(&format!("*{v}")),
                    _ => pattern(&v),
                }
            };
            match pat {
                Pat::Any => extra.push(C::Test(format!("{path} is not null"))),
                Pat::Eq(l) => {
                    atoms.push((if cased { "==".into() } else { "iequals".into() }, lit(&l)))
                }
                Pat::Contains(l) => atoms.push((ci("contains", cased), lit(&l))),
                Pat::Starts(l) => atoms.push((ci("startswith", cased), lit(&l))),
                Pat::Ends(l) => atoms.push((ci("endswith", cased), lit(&l))),
                Pat::Glob(g) => atoms.push((ci("glob", cased), lit(&g))),
            }
        }
    }
    if all {
        let mut tests: Vec<C> = atoms
            .into_iter()
            .map(|(op, l)| C::Test(format!("{path} {op} {l}")))
            .collect();
        tests.extend(extra);
        return Ok(and(tests));
    }
    // Group by operator, in first-seen order: `x icontains ["a", "b"]`.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (op, l) in atoms {
        match groups.iter_mut().find(|(o, _)| *o == op) {
            Some((_, ls)) => {
                if !ls.contains(&l) {
                    ls.push(l)
                }
            }
            None => groups.push((op, vec![l])),
        }
    }
    let mut tests: Vec<C> = groups
        .into_iter()
        .map(|(op, ls)| {
            let op = if op == "==" && ls.len() > 1 {
                "in".to_string()
            } else {
                op
            };
            C::Test(format!("{path} {op} {}", list_or_one(&ls)))
        })
        .collect();
    tests.extend(extra);
    Ok(or(tests))
}

/// A selection: a map (AND of its fields) or a list of maps (OR).
fn selection(cx: &mut Ctx, name: &str, v: &Value) -> Result<C, String> {
    match v {
        Value::Mapping(m) => {
            let mut tests = Vec::new();
            for (k, val) in m {
                let Some(k) = k.as_str() else {
                    return Err(format!("selection `{name}`: a key that is not a string"));
                };
                tests.push(field_test(cx, k, val, name)?);
            }
            Ok(and(tests))
        }
        Value::Sequence(items) => {
            if items.iter().all(|i| matches!(i, Value::Mapping(_))) {
                let mut alts = Vec::new();
                for i in items {
                    alts.push(selection(cx, name, i)?);
                }
                Ok(or(alts))
            } else {
                Err(format!("selection `{name}` is a keyword list (values without a field): Ward rules test fields, so a search of the whole event cannot be expressed"))
            }
        }
        _ => Err(format!("selection `{name}` is neither a map nor a list")),
    }
}

/// Condition tokens.
fn tokens(cond: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in cond.chars() {
        if ch == '(' || ch == ')' || ch.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if !ch.is_whitespace() {
                out.push(ch.to_string());
            }
        } else {
            cur.push(ch);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

struct CondParser<'a> {
    toks: Vec<String>,
    pos: usize,
    names: &'a [String],
}

impl CondParser<'_> {
    fn peek(&self) -> Option<String> {
        self.toks.get(self.pos).map(|t| t.to_lowercase())
    }
    fn next(&mut self) -> Option<String> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn expr(&mut self) -> Result<C, String> {
        let mut items = vec![self.and_expr()?];
        while self.peek().as_deref() == Some("or") {
            self.pos += 1;
            items.push(self.and_expr()?);
        }
        Ok(or(items))
    }
    fn and_expr(&mut self) -> Result<C, String> {
        let mut items = vec![self.not_expr()?];
        while self.peek().as_deref() == Some("and") {
            self.pos += 1;
            items.push(self.not_expr()?);
        }
        Ok(and(items))
    }
    fn not_expr(&mut self) -> Result<C, String> {
        if self.peek().as_deref() == Some("not") {
            self.pos += 1;
            return Ok(not(self.not_expr()?));
        }
        self.atom()
    }
    fn atom(&mut self) -> Result<C, String> {
        let Some(t) = self.next() else {
            return Err("condition ends early".into());
        };
        let lower = t.to_lowercase();
        if t == "(" {
            let e = self.expr()?;
            if self.next().as_deref() != Some(")") {
                return Err("condition: `(` without `)`".into());
            }
            return Ok(e);
        }
        if t == "|" || t.starts_with('|') {
            return Err("aggregation conditions (`| count() ...`) are not supported: Sigma's correlation syntax differs from Ward's `count`, rewrite it by hand".into());
        }
        if matches!(lower.as_str(), "1" | "any" | "all") && self.peek().as_deref() == Some("of") {
            self.pos += 1;
            let Some(what) = self.next() else {
                return Err("condition: `of` without a name".into());
            };
            let picked: Vec<C> = if what.to_lowercase() == "them" {
                self.names
                    .iter()
                    .filter(|n| !n.starts_with('_'))
                    .map(|n| C::Ref(n.clone()))
                    .collect()
            } else {
                self.names
                    .iter()
                    .filter(|n| glob_name(&what, n))
                    .map(|n| C::Ref(n.clone()))
                    .collect()
            };
            if picked.is_empty() {
                return Err(format!("condition: `{t} of {what}` names no selection"));
            }
            return Ok(if lower == "all" {
                and(picked)
            } else {
                or(picked)
            });
        }
        if self.names.contains(&t) {
            return Ok(C::Ref(t));
        }
        Err(format!(
            "condition names `{t}`, which is not a selection of the rule"
        ))
    }
}

/// Sigma's selection-name patterns: `*` only.
fn glob_name(pat: &str, name: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return pat == name;
    }
    let mut rest = name;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(at) => rest = &rest[at + p.len()..],
                None => return false,
            }
        }
    }
    true
}

fn collect_refs(c: &C, out: &mut Vec<String>) {
    match c {
        C::Ref(r) if !out.contains(r) => out.push(r.clone()),
        C::And(v) | C::Or(v) => v.iter().for_each(|i| collect_refs(i, out)),
        C::Not(i) => collect_refs(i, out),
        _ => {}
    }
}

/// The selections used only under an odd number of `not`s.
fn negated_refs(c: &C, neg: bool, out: &mut Vec<String>) {
    fn walk(c: &C, neg: bool, pos: &mut Vec<String>, negs: &mut Vec<String>) {
        match c {
            C::Ref(r) => {
                if neg {
                    negs.push(r.clone())
                } else {
                    pos.push(r.clone())
                }
            }
            C::And(v) | C::Or(v) => v.iter().for_each(|i| walk(i, neg, pos, negs)),
            C::Not(i) => walk(i, !neg, pos, negs),
            _ => {}
        }
    }
    let (mut pos, mut negs) = (Vec::new(), Vec::new());
    walk(c, neg, &mut pos, &mut negs);
    out.extend(negs.into_iter().filter(|n| !pos.contains(n)));
}

/// Replaces references by the selection's condition (or macro name).
fn substitute(c: C, map: &BTreeMap<String, C>) -> C {
    match c {
        C::Ref(r) => map.get(&r).cloned().unwrap_or(C::Ref(r)),
        C::And(v) => and(v.into_iter().map(|i| substitute(i, map)).collect()),
        C::Or(v) => or(v.into_iter().map(|i| substitute(i, map)).collect()),
        C::Not(i) => not(substitute(*i, map)),
        x => x,
    }
}

fn str_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(s)) => s
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

fn is_tag_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'))
}

fn date(v: Option<&Value>) -> Option<String> {
    let s = v?.as_str()?;
    let b = s.as_bytes();
    let ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-' || *c == b'/',
            _ => c.is_ascii_digit(),
        });
    ok.then(|| s.replace('/', "-"))
}

fn convert_rule(doc: &Value, ids: &mut HashSet<String>) -> Result<Converted, String> {
    if doc.get("action").is_some() {
        return Err("a Sigma rule collection document (`action:`) is not supported; give the rules as separate documents".into());
    }
    let title = doc
        .get("title")
        .and_then(Value::as_str)
        .ok_or("no `title`")?
        .to_string();
    let ls = doc.get("logsource").ok_or("no `logsource`")?;
    let lsf = |k: &str| ls.get(k).and_then(Value::as_str).map(str::to_lowercase);
    let (product, service, category) = (lsf("product"), lsf("service"), lsf("category"));
    let source: &'static str = match (product.as_deref(), service.as_deref(), category.as_deref()) {
        (Some("kubernetes"), Some("audit"), _) | (Some("kubernetes"), None, Some("audit")) => {
            "k8s.audit"
        }
        (Some("aws"), Some("cloudtrail"), _) => "aws.cloudtrail",
        (Some("gcp"), Some("gcp.audit"), _) => "gcp.audit",
        _ => {
            return Err(format!(
            "logsource {} not supported (only kubernetes/audit, aws/cloudtrail and gcp/gcp.audit)",
            [
                ("product", &product),
                ("service", &service),
                ("category", &category)
            ]
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(" ")
        ))
        }
    };
    let schema = ward_compiler::schema::bundled()
        .get(source)
        .ok_or_else(|| format!("no bundled schema for {source}"))?;
    let det = doc
        .get("detection")
        .and_then(Value::as_mapping)
        .ok_or("no `detection` map")?;
    let cond_texts = match det.get("condition") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Sequence(s)) => s
            .iter()
            .map(|c| {
                c.as_str()
                    .map(str::to_string)
                    .ok_or("a condition that is not a string")
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err("no `condition` in `detection`".into()),
    };
    let mut names = Vec::new();
    for k in det.keys() {
        match k.as_str() {
            Some("condition") | Some("timeframe") => {}
            Some(n) => names.push(n.to_string()),
            None => return Err("a detection key that is not a string".into()),
        }
    }
    // Condition.
    let mut conds = Vec::new();
    for ct in &cond_texts {
        let mut p = CondParser {
            toks: tokens(ct),
            pos: 0,
            names: &names,
        };
        let c = p.expr()?;
        if p.pos < p.toks.len() {
            return Err(format!(
                "condition `{ct}`: cannot read `{}`",
                p.toks[p.pos..].join(" ")
            ));
        }
        conds.push(c);
    }
    let cond = or(conds);
    let mut refs = Vec::new();
    collect_refs(&cond, &mut refs);

    // Rule id.
    let base = slug(&title);
    let mut id = base.clone();
    let mut n = 2;
    while ids.contains(&id) {
        id = format!("{base}_{n}");
        n += 1;
    }

    let mut cx = Ctx {
        source,
        schema,
        dropped: Vec::new(),
        notes: Vec::new(),
        negated: false,
    };
    let mut bodies: BTreeMap<String, C> = BTreeMap::new();
    let mut negated = Vec::new();
    negated_refs(&cond, false, &mut negated);
    for r in &refs {
        let v = det
            .get(r.as_str())
            .ok_or_else(|| format!("no selection `{r}`"))?;
        cx.negated = negated.contains(r);
        bodies.insert(r.clone(), selection(&mut cx, r, v)?);
    }
    // Macros when the rule has several selections; inline when one.
    let mut macros = String::new();
    let mut subst: BTreeMap<String, C> = BTreeMap::new();
    let use_macros = refs.len() > 1;
    for r in &refs {
        let body = bodies.remove(r).unwrap_or(C::True);
        if use_macros && !matches!(body, C::True | C::False) {
            let mname = format!("{id}_{}", slug(r));
            macros.push_str(&format!("macro {mname} = {}\n", render(&body, 0)));
            subst.insert(r.clone(), C::Ref(mname));
        } else {
            subst.insert(r.clone(), body);
        }
    }
    let cond = substitute(cond, &subst);
    if matches!(cond, C::True | C::False) {
        return Err(format!(
            "nothing of the detection can be expressed (the condition would be always {}): {}",
            render(&cond, 0),
            cx.dropped.join("; ")
        ));
    }
    // Top-level `and not X` become `except X`.
    let (when, excepts) = match &cond {
        C::And(items) if items.iter().any(|i| !matches!(i, C::Not(_))) => {
            let mut w = Vec::new();
            let mut e = Vec::new();
            for i in items {
                match i {
                    C::Not(x) => e.push((**x).clone()),
                    x => w.push(x.clone()),
                }
            }
            (and(w), e)
        }
        c => (c.clone(), Vec::new()),
    };

    // Metadata.
    let sigma_id = doc.get("id").and_then(Value::as_str);
    let mut m = String::new();
    m.push_str(&format!("  title {}\n", lit(&title)));
    if let Some(sid) = sigma_id {
        m.push_str(&format!("  id {}\n", lit(sid)));
    }
    if let Some(st) = doc.get("status").and_then(Value::as_str) {
        if matches!(st, "experimental" | "test" | "stable" | "deprecated") {
            m.push_str(&format!("  status {st}\n"));
        } else {
            cx.notes
                .push(format!("status `{st}` has no Ward equivalent; left out"));
        }
    }
    let orig_desc = doc
        .get("description")
        .and_then(Value::as_str)
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let mut desc = format!(
        "Converted from Sigma rule {title}{}.",
        sigma_id.map(|i| format!(" ({i})")).unwrap_or_default()
    );
    if !orig_desc.is_empty() {
        desc.push(' ');
        desc.push_str(&orig_desc);
    }
    m.push_str(&format!("  description {}\n", lit(&desc)));
    if let Some(level) = doc.get("level").and_then(Value::as_str) {
        let sev = match level {
            "informational" => Some("info"),
            "low" => Some("low"),
            "medium" => Some("medium"),
            "high" => Some("high"),
            "critical" => Some("critical"),
            _ => None,
        };
        match sev {
            Some(s) => m.push_str(&format!("  severity {s}\n")),
            None => cx.notes.push(format!(
                "level `{level}` is not a Sigma level; severity left out"
            )),
        }
    }
    let tags: Vec<String> = str_list(doc.get("tags"))
        .into_iter()
        .map(|t| {
            // Ward writes ATT&CK tactics in snake case; Sigma has used both.
            let t = if t.starts_with("attack.") {
                t.replace('-', "_")
            } else {
                t
            };
            if is_tag_word(&t) {
                t
            } else {
                lit(&t)
            }
        })
        .collect();
    if !tags.is_empty() {
        m.push_str(&format!("  tags [{}]\n", tags.join(", ")));
    }
    let refs_meta = str_list(doc.get("references"));
    if !refs_meta.is_empty() {
        m.push_str(&format!(
            "  references [{}]\n",
            refs_meta
                .iter()
                .map(|r| lit(r))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if let Some(a) = doc.get("author").and_then(Value::as_str) {
        m.push_str(&format!("  author {}\n", lit(a)));
    }
    if let Some(d) = date(doc.get("date")) {
        m.push_str(&format!("  date {}\n", lit(&d)));
    }
    if let Some(d) = date(doc.get("modified")) {
        m.push_str(&format!("  modified {}\n", lit(&d)));
    }
    let fps = str_list(doc.get("falsepositives"));
    if !fps.is_empty() {
        m.push_str(&format!(
            "  false_positives [{}]\n",
            fps.iter().map(|r| lit(r)).collect::<Vec<_>>().join(", ")
        ));
    }
    let mut text = macros;
    if !text.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("rule {id} {{\n{m}  when {}\n", render(&when, 0)));
    // `not (a or b)`: one `except` each.
    for e in &excepts {
        let parts = match e {
            C::Or(items) => items.clone(),
            x => vec![x.clone()],
        };
        for p in parts {
            text.push_str(&format!("  except {}\n", render(&p, 0)));
        }
    }
    text.push_str("}\n");

    // The text must pass the checker on its own: anything it rejects is a
    // construct this converter got wrong or Ward lacks, and a skipped rule
    // is better than an output directory that does not load.
    let whole = format!("source {source}\n\n{text}");
    let loaded = ward_compiler::load::load_texts(&[("import.ward", whole.as_str())]);
    let report = ward_compiler::check(&loaded, ward_compiler::schema::bundled());
    let errors: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.severity() == ward_compiler::Severity::Error)
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect();
    if !errors.is_empty() {
        return Err(format!(
            "the converted rule does not pass `ward check`: {}",
            errors.join("; ")
        ));
    }
    ids.insert(id.clone());
    Ok(Converted {
        source,
        id,
        text,
        dropped: cx.dropped,
        notes: cx.notes.into_iter().map(|n| format!("note: {n}")).collect(),
    })
}

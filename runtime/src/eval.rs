//! Evaluation: the reference evaluator of lowered conditions over an event
//! (a full `serde_json::Value` or a sparse extraction, through `Doc`). It
//! follows spec/language.md ("Missing, null and empty") literally; the
//! planned matcher runs its leaves through it, and the differential test
//! holds the two to the same verdicts.

use serde_json::Value;
use ward_compiler::doc::{Doc, Kind};
use ward_compiler::lower::{AnyOf, Call, Cond, FieldPath, Lit, Operand, Pattern, Rule, Seg};
use ward_compiler::syntax::ast::{CmpOp, StrOp, StrOpKind};

use crate::func::{self, Derived, Input};
use ward_compiler::time;

/// Whether `rule` fires on `event`: `when` holds and no `except` does.
pub fn matches(rule: &Rule, event: &Value) -> bool {
    let mut vars = Vec::new();
    eval(&rule.when, event, &mut vars) && !rule.excepts.iter().any(|e| eval(e, event, &mut vars))
}

/// The value at a path; `None` when missing (a null is `Some`).
pub fn get<'a, D: Doc<'a>>(event: D, vars: &[D], path: &FieldPath) -> Option<D> {
    if let Some(found) = path.slot.and_then(|slot| event.by_slot(slot)) {
        return found;
    }
    let mut v = match path.var {
        None => event,
        Some(n) => *vars.get(vars.len().checked_sub(n + 1)?)?,
    };
    for seg in &path.segs {
        v = match seg {
            Seg::Key(k) => v.key(k)?,
            Seg::Index(i) => {
                let Kind::Arr(len) = v.kind() else {
                    return None;
                };
                let idx = if *i < 0 {
                    len.checked_sub(i.unsigned_abs() as usize)?
                } else {
                    *i as usize
                };
                v.at(idx)?
            }
        };
    }
    Some(v)
}

/// What a condition is evaluated against: the event, the elements the
/// enclosing quantifiers bound (`docs`, what paths with a `var` start
/// from), and the elements of those over derived lists, each with its
/// quantifier's place in `docs` (where it has a stand-in no path reads).
/// Quantifiers over the event's lists leave `elems` alone, so that they
/// cost no allocation.
struct Env<'v, D> {
    event: D,
    docs: &'v mut Vec<D>,
    elems: Vec<(usize, String)>,
}

/// An operand's value: a literal, a present, non-null field, or a value a
/// call computed.
enum Val<'l, D> {
    Lit(&'l Lit),
    Doc(D),
    Own(Derived),
}

fn value<'l, 'a, D: Doc<'a>>(op: &'l Operand, env: &Env<'_, D>) -> Option<Val<'l, D>> {
    match op {
        Operand::Lit(Lit::Null) => None,
        Operand::Lit(l) => Some(Val::Lit(l)),
        Operand::Field(p) => get(env.event, env.docs, p)
            .filter(|v| !v.is_null())
            .map(Val::Doc),
        Operand::Call(c) => call(c, env).map(Val::Own),
        Operand::Elem(n) => {
            let at = env.docs.len().checked_sub(n + 1)?;
            let (_, s) = env.elems.iter().rev().find(|(d, _)| *d == at)?;
            Some(Val::Own(Derived::Str(s.clone())))
        }
    }
}

/// A call's value: missing when an argument is (a function of a missing or
/// null value is missing), else what the function gives.
fn call<'a, D: Doc<'a>>(c: &Call, env: &Env<'_, D>) -> Option<Derived> {
    if func::takes_object(c.func) {
        let Val::Doc(d) = value(c.args.first()?, env)? else {
            return None;
        };
        if !matches!(d.kind(), Kind::Obj) {
            return None;
        }
        let mut entries = std::collections::BTreeMap::new();
        d.each_string_entry(&mut |k, v| {
            entries.insert(k.to_string(), v.map(str::to_string));
        });
        return Some(func::of_object(c.func, entries));
    }
    let vals = c
        .args
        .iter()
        .map(|a| value(a, env))
        .collect::<Option<Vec<_>>>()?;
    let inputs: Vec<Input<'_>> = vals.iter().map(input).collect();
    func::apply(c.func, &inputs)
}

fn input<'s, 'a: 's, D: Doc<'a>>(v: &'s Val<'_, D>) -> Input<'s> {
    match v {
        Val::Lit(Lit::Str(s)) => Input::Str(s),
        Val::Doc(d) => match d.kind() {
            Kind::Str(s) => Input::Str(s),
            Kind::Arr(n) => Input::List(n),
            _ => Input::Other,
        },
        Val::Own(Derived::Str(s)) => Input::Str(s),
        Val::Own(Derived::List(l)) => Input::List(l.len()),
        _ => Input::Other,
    }
}

/// The string a test looks at: a field's or a derived value's (a literal
/// on the left of a test is never one).
fn str_of<'s, 'a: 's, D: Doc<'a>>(v: &'s Val<'_, D>) -> Option<&'s str> {
    match v {
        Val::Doc(d) => d.as_str(),
        Val::Own(Derived::Str(s)) => Some(s),
        _ => None,
    }
}

pub fn eval<'a, D: Doc<'a>>(c: &Cond, event: D, vars: &mut Vec<D>) -> bool {
    let mut env = Env {
        event,
        docs: vars,
        elems: Vec::new(),
    };
    ev(c, &mut env)
}

fn ev<'a, D: Doc<'a>>(c: &Cond, env: &mut Env<'_, D>) -> bool {
    match c {
        Cond::Const(b) => *b,
        Cond::And(items) => items.iter().all(|i| ev(i, env)),
        Cond::Or(items) => items.iter().any(|i| ev(i, env)),
        Cond::Not(inner) => !ev(inner, env),
        Cond::Quant {
            all,
            list: Operand::Field(list),
            body,
        } => {
            let Some(l) = get(env.event, env.docs, list) else {
                return false;
            };
            let Kind::Arr(len) = l.kind() else {
                return false;
            };
            let mut test = |i: usize| match l.at(i) {
                Some(item) => {
                    env.docs.push(item);
                    let r = ev(body, env);
                    env.docs.pop();
                    r
                }
                None => false,
            };
            if *all {
                (0..len).all(&mut test)
            } else {
                (0..len).any(&mut test)
            }
        }
        Cond::Quant { all, list, body } => {
            let Some(Val::Own(Derived::List(items))) = value(list, env) else {
                return false;
            };
            let mut test = |s: String| {
                env.elems.push((env.docs.len(), s));
                env.docs.push(env.event);
                let r = ev(body, env);
                env.elems.pop();
                env.docs.pop();
                r
            };
            if *all {
                items.into_iter().all(&mut test)
            } else {
                items.into_iter().any(&mut test)
            }
        }
        Cond::Cmp { op, lhs, rhs } => compare(*op, lhs, rhs, env),
        Cond::InSet { negated, lhs, set } => {
            let Some(v) = value(lhs, env) else {
                return false;
            };
            // A string is looked up (only string literals compare with
            // it); anything else is compared with the other literals (a
            // list or an object with none: false).
            let Some(want) = scalar(&v) else {
                return false;
            };
            if let Scalar::Str(s) = want {
                return set.has_str() && (set.contains_str(s) != *negated);
            }
            let mut typed = false;
            let mut hit = false;
            for l in set.others() {
                if let Some(eq) = scalar(&Val::<D>::Lit(l)).and_then(|l| same(&want, &l)) {
                    typed = true;
                    hit |= eq;
                }
            }
            typed && (hit != *negated)
        }
        // `"literal" in list.field` (`"system:masters" in user.groups`),
        // read straight from the list: as the general case below, true
        // for an element that is that string.
        Cond::InField {
            negated,
            lhs: Operand::Lit(Lit::Str(s)),
            list: Operand::Field(p),
        } => {
            let Some(l) = get(env.event, env.docs, p) else {
                return false;
            };
            let Kind::Arr(len) = l.kind() else {
                return false;
            };
            let hit = (0..len)
                .filter_map(|i| l.at(i))
                .any(|item| matches!(item.kind(), Kind::Str(t) if t == s.as_str()));
            hit != *negated
        }
        Cond::InField { negated, lhs, list } => {
            let Some(v) = value(lhs, env) else {
                return false;
            };
            let hit = match value(list, env) {
                Some(Val::Doc(l)) => {
                    let Kind::Arr(len) = l.kind() else {
                        return false;
                    };
                    (0..len)
                        .filter_map(|i| l.at(i))
                        .any(|item| equal(&v, &Val::Doc(item)) == Some(true))
                }
                Some(Val::Own(Derived::List(items))) => {
                    let Some(want) = scalar(&v) else {
                        return false;
                    };
                    items
                        .iter()
                        .any(|item| same(&want, &Scalar::Str(item)) == Some(true))
                }
                _ => return false,
            };
            hit != *negated
        }
        Cond::Cidr { negated, lhs, nets } => {
            let Some(v) = value(lhs, env) else {
                return false;
            };
            let Some(ip) = str_of(&v).and_then(ward_compiler::pattern::parse_ip) else {
                return false;
            };
            nets.iter().any(|n| n.contains(ip)) != *negated
        }
        Cond::Str {
            negated,
            op,
            lhs,
            pats,
            any,
        } => {
            let Some(v) = value(lhs, env) else {
                return false;
            };
            let Some(s) = str_of(&v) else {
                return false;
            };
            let folded = if op.ci { Some(s.to_lowercase()) } else { None };
            let text = folded.as_deref().unwrap_or(s);
            let hit = match any.as_ref().and_then(AnyOf::regex) {
                Some(all) => all.is_match(text),
                None => pats.iter().any(|p| pattern_matches(*op, p, text)),
            };
            hit != *negated
        }
        Cond::StrField {
            negated,
            op,
            lhs,
            rhs,
        } => {
            let Some(v) = value(lhs, env) else {
                return false;
            };
            let Some(a) = str_of(&v) else {
                return false;
            };
            let b = match value(rhs, env) {
                Some(Val::Lit(Lit::Str(b))) => b.clone(),
                Some(w) => match str_of(&w) {
                    Some(b) => b.to_string(),
                    None => return false,
                },
                None => return false,
            };
            let (a, b) = if op.ci {
                (a.to_lowercase(), b.to_lowercase())
            } else {
                (a.to_string(), b)
            };
            pattern_matches(*op, &Pattern::Text(b), &a) != *negated
        }
        Cond::IsNull { negated, operand } => is_null(operand, env) != *negated,
        Cond::Exists(p) => get(env.event, env.docs, p).is_some(),
        Cond::Truthy(op) => match value(op, env) {
            Some(Val::Doc(d)) => d.kind() == Kind::Bool(true),
            Some(Val::Own(Derived::Bool(b))) => b,
            _ => false,
        },
    }
}

fn is_null<'a, D: Doc<'a>>(op: &Operand, env: &Env<'_, D>) -> bool {
    match op {
        Operand::Lit(l) => *l == Lit::Null,
        Operand::Field(p) => get(env.event, env.docs, p).is_none_or(|v| v.is_null()),
        Operand::Call(c) => call(c, env).is_none(),
        Operand::Elem(_) => false,
    }
}

fn pattern_matches(op: StrOp, p: &Pattern, text: &str) -> bool {
    match p {
        Pattern::Regex(r, _) => r.is_match(text),
        Pattern::Text(t) => match op.kind {
            StrOpKind::Contains => text.contains(t.as_str()),
            StrOpKind::StartsWith => text.starts_with(t.as_str()),
            StrOpKind::EndsWith => text.ends_with(t.as_str()),
            StrOpKind::Equals => text == t.as_str(),
            StrOpKind::Glob | StrOpKind::Matches => false,
        },
    }
}

fn compare<'a, D: Doc<'a>>(op: CmpOp, lhs: &Operand, rhs: &Operand, env: &Env<'_, D>) -> bool {
    let number = match rhs {
        Operand::Lit(Lit::Int(i)) => Some(*i as f64),
        Operand::Lit(Lit::Float(f)) => Some(*f),
        _ => None,
    };
    if let (Operand::Field(p), Some(y)) = (lhs, number) {
        return compare_number(op, p, y, env);
    }
    // `x == null` / `x != null`: presence tests, not comparisons.
    let null_side = match (lhs, rhs) {
        (other, Operand::Lit(Lit::Null)) | (Operand::Lit(Lit::Null), other) => Some(other),
        _ => None,
    };
    if let Some(other) = null_side {
        let null = is_null(other, env);
        return match op {
            CmpOp::Eq => null,
            CmpOp::Ne => !null,
            _ => false,
        };
    }
    let (Some(a), Some(b)) = (value(lhs, env), value(rhs, env)) else {
        return false;
    };
    match op {
        CmpOp::Eq => equal(&a, &b) == Some(true),
        CmpOp::Ne => equal(&a, &b) == Some(false),
        _ => ordered(op, order(&a, &b)),
    }
}

/// Whether an ordering operator (`<`, `<=`, `>`, `>=`) holds of two values
/// ordered `o` (`None`: not comparable, false).
#[inline]
fn ordered(op: CmpOp, o: Option<std::cmp::Ordering>) -> bool {
    o.is_some_and(|o| match op {
        CmpOp::Lt => o.is_lt(),
        CmpOp::Le => o.is_le(),
        CmpOp::Gt => o.is_gt(),
        _ => o.is_ge(),
    })
}

/// `field OP number`, the commonest comparison (`responseStatus.code >=
/// 400`), read straight from the field: as [`compare`] answers it, a
/// value that is no number (missing, null, a string, a bool, a list)
/// makes every operator false.
#[inline]
fn compare_number<'a, D: Doc<'a>>(op: CmpOp, path: &FieldPath, y: f64, env: &Env<'_, D>) -> bool {
    let Some(Kind::Num(x, _)) = get(env.event, env.docs, path).map(|v| v.kind()) else {
        return false;
    };
    match op {
        CmpOp::Eq => x == y,
        CmpOp::Ne => x != y,
        _ => ordered(op, x.partial_cmp(&y)),
    }
}

/// Scalar view of a value for comparison.
enum Scalar<'s> {
    Num(f64),
    Str(&'s str),
    Bool(bool),
}

fn scalar<'s, 'a: 's, D: Doc<'a>>(v: &'s Val<'s, D>) -> Option<Scalar<'s>> {
    Some(match v {
        Val::Lit(Lit::Int(i)) => Scalar::Num(*i as f64),
        Val::Lit(Lit::Float(f)) => Scalar::Num(*f),
        Val::Lit(Lit::Duration(ms)) => Scalar::Num(*ms as f64),
        Val::Lit(Lit::Str(s)) => Scalar::Str(s),
        Val::Lit(Lit::Bool(b)) => Scalar::Bool(*b),
        Val::Lit(Lit::Null) => return None,
        Val::Doc(d) => match d.kind() {
            Kind::Num(n, _) => Scalar::Num(n),
            Kind::Str(s) => Scalar::Str(s),
            Kind::Bool(b) => Scalar::Bool(b),
            _ => return None,
        },
        Val::Own(Derived::Str(s)) => Scalar::Str(s),
        Val::Own(Derived::Int(i)) => Scalar::Num(*i as f64),
        Val::Own(Derived::Bool(b)) => Scalar::Bool(*b),
        Val::Own(Derived::List(_)) => return None,
    })
}

/// `Some(eq)` when the two values have one type; `None` on type drift, so
/// that both `==` and `!=` are false.
fn equal<'a, D: Doc<'a>>(a: &Val<'_, D>, b: &Val<'_, D>) -> Option<bool> {
    same(&scalar(a)?, &scalar(b)?)
}

fn same(a: &Scalar<'_>, b: &Scalar<'_>) -> Option<bool> {
    match (a, b) {
        (Scalar::Num(x), Scalar::Num(y)) => Some(x == y),
        (Scalar::Str(x), Scalar::Str(y)) => Some(x == y),
        (Scalar::Bool(x), Scalar::Bool(y)) => Some(x == y),
        _ => None,
    }
}

fn order<'a, D: Doc<'a>>(a: &Val<'_, D>, b: &Val<'_, D>) -> Option<std::cmp::Ordering> {
    match (scalar(a)?, scalar(b)?) {
        (Scalar::Num(x), Scalar::Num(y)) => x.partial_cmp(&y),
        // Strings are ordered only as timestamps.
        (Scalar::Str(x), Scalar::Str(y)) => Some(time::parse(x)?.cmp(&time::parse(y)?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    //! The "Missing, null and empty" table of spec/language.md, executed.
    use serde_json::{json, Value};
    use ward_compiler::{check, load, lower, schema};

    /// Whether `cond` (a k8s.audit condition) holds on `event`.
    fn holds(cond: &str, event: &Value) -> bool {
        let text = format!("source k8s.audit\nrule r {{ when {cond} }}\n");
        let loaded = load::load_texts(&[("t.ward", &text)]);
        let report = check(&loaded, schema::bundled());
        let errors: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.severity() == ward_compiler::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{cond}: {errors:?}");
        let set = lower::lower(&loaded);
        super::matches(&set.rules[0], event)
    }

    fn ev(sub: Value) -> Value {
        json!({"kind": "Event", "verb": "get", "objectRef": {"resource": "pods", "subresource": sub}, "user": {"groups": []}})
    }

    #[test]
    fn a_literal_is_in_a_list_field_only_as_a_string_element() {
        let lists = [
            (None, None),
            (Some(Value::Null), None),
            (Some(json!("system:masters")), None),
            (Some(json!({"a": "system:masters"})), None),
            (Some(json!([])), Some(false)),
            (
                Some(json!(["system:mastersx", "System:masters"])),
                Some(false),
            ),
            (
                Some(json!([42, null, ["system:masters"], {"a": "system:masters"}])),
                Some(false),
            ),
            (Some(json!([42, "system:masters"])), Some(true)),
            (Some(json!(["a", "system:masters", "b"])), Some(true)),
        ];
        for (list, want) in lists {
            let mut event = json!({"kind": "Event", "user": {"username": "u"}});
            if let Some(l) = &list {
                event["user"]["groups"] = l.clone();
            }
            // Not a list (or none): both forms are false.
            let (is_in, not_in) = match want {
                Some(hit) => (hit, !hit),
                None => (false, false),
            };
            assert_eq!(
                holds(r#""system:masters" in user.groups"#, &event),
                is_in,
                "{list:?}"
            );
            assert_eq!(
                holds(r#""system:masters" not in user.groups"#, &event),
                not_in,
                "{list:?}"
            );
        }
    }

    #[test]
    fn numbers_compare_only_with_numbers() {
        // `field OP number` reads the field directly (compare_number): a
        // value of another type is false under every operator, as `==`
        // and `!=` of mismatched types are.
        let values = [
            json!(403),
            json!(403.0),
            json!(402.5),
            json!(404),
            json!(-1),
            json!("403"),
            json!(true),
            Value::Null,
            json!([403]),
            json!({"code": 403}),
        ];
        type Op = fn(f64, f64) -> bool;
        let ops: [(&str, Op); 6] = [
            ("==", |x, y| x == y),
            ("!=", |x, y| x != y),
            ("<", |x, y| x < y),
            ("<=", |x, y| x <= y),
            (">", |x, y| x > y),
            (">=", |x, y| x >= y),
        ];
        for (op, f) in ops {
            for lit in ["403", "403.0", "402.5"] {
                let cond = format!("responseStatus.code {op} {lit}");
                let y: f64 = lit.parse().expect("number");
                let missing = json!({"kind": "Event", "responseStatus": {}});
                assert!(!holds(&cond, &missing), "{cond} on a missing value");
                for v in &values {
                    let event = json!({"kind": "Event", "responseStatus": {"code": v}});
                    let want = v.as_f64().is_some_and(|x| f(x, y));
                    assert_eq!(holds(&cond, &event), want, "{cond} on {v}");
                }
            }
        }
        // Memberships of numbers, likewise.
        for v in &values {
            let event = json!({"kind": "Event", "responseStatus": {"code": v}});
            let x = v.as_f64();
            let within = x.map(|x| x == 401.0 || x == 403.0);
            let cond = "responseStatus.code in [401, 403]";
            assert_eq!(holds(cond, &event), within == Some(true), "{cond} on {v}");
            let cond = "responseStatus.code not in [401, 403]";
            assert_eq!(holds(cond, &event), within == Some(false), "{cond} on {v}");
        }
    }

    #[test]
    fn missing_null_and_empty() {
        let missing =
            json!({"kind": "Event", "verb": "get", "objectRef": {"resource": "pods"}, "user": {}});
        let null = ev(Value::Null);
        let empty = ev(json!(""));
        let x = "objectRef.subresource";
        // (condition, missing, null, "")
        let table: &[(String, bool, bool, bool)] = &[
            (format!("{x} == \"a\""), false, false, false),
            (format!("{x} != \"a\""), false, false, true),
            (format!("{x} == \"\""), false, false, true),
            (format!("{x} in [\"a\", \"b\"]"), false, false, false),
            (format!("{x} not in [\"a\", \"b\"]"), false, false, true),
            (format!("{x} contains \"a\""), false, false, false),
            (format!("{x} not contains \"a\""), false, false, true),
            (format!("{x} startswith \"\""), false, false, true),
            (format!("{x} glob \"*\""), false, false, true),
            (format!("{x} matches r\"^$\""), false, false, true),
            (format!("{x} in cidr [\"10.0.0.0/8\"]"), false, false, false),
            (
                format!("{x} not in cidr [\"10.0.0.0/8\"]"),
                false,
                false,
                false,
            ),
            (format!("{x} == null"), true, true, false),
            (format!("{x} is null"), true, true, false),
            (format!("{x} != null"), false, false, true),
            (format!("{x} is not null"), false, false, true),
            (format!("{x} exists"), false, true, true),
            (format!("not ({x} == \"a\")"), true, true, true),
        ];
        for (cond, m, n, e) in table {
            assert_eq!(
                (
                    holds(cond, &missing),
                    holds(cond, &null),
                    holds(cond, &empty)
                ),
                (*m, *n, *e),
                "{cond}: (missing, null, \"\")"
            );
        }
    }

    #[test]
    fn case_insensitive_equality_and_membership() {
        let ev = json!({"kind": "Event", "verb": "get", "user": {"username": "Alice", "groups": []}, "objectRef": {"resource": "pods"}});
        for (cond, want) in [
            (r#"user.username iequals "alice""#, true),
            (r#"user.username iequals "ALICE""#, true),
            (r#"user.username iequals "alic""#, false),
            (r#"user.username equals "alice""#, false),
            (r#"user.username equals "Alice""#, true),
            (r#"user.username iequals ["bob", "ALICE"]"#, true),
            (r#"user.username iequals ["bob", "carol"]"#, false),
            (r#"user.username not iequals ["bob", "ALICE"]"#, false),
            (r#"user.username not iequals "bob""#, true),
            (r#"objectRef.subresource iequals "exec""#, false),
        ] {
            assert_eq!(holds(cond, &ev), want, "{cond}");
        }
    }

    #[test]
    fn lists_and_quantifiers() {
        let some = json!({"user": {"groups": ["system:masters", "dev"]}, "sourceIPs": ["10.1.2.3", "8.8.8.8"]});
        let empty = json!({"user": {"groups": []}, "sourceIPs": []});
        let missing = json!({"user": {}});
        let cases: &[(&str, bool, bool, bool)] = &[
            ("\"system:masters\" in user.groups", true, false, false),
            ("\"system:masters\" not in user.groups", false, true, false),
            ("any g in user.groups: g == \"dev\"", true, false, false),
            ("all g in user.groups: g != \"root\"", true, true, false),
            ("sourceIPs[0] in cidr [\"10.0.0.0/8\"]", true, false, false),
            ("sourceIPs[-1] == \"8.8.8.8\"", true, false, false),
            ("sourceIPs[5] is null", true, true, true),
            (
                "any ip in sourceIPs: ip in cidr \"8.8.8.0/24\"",
                true,
                false,
                false,
            ),
        ];
        for (cond, s, e, m) in cases {
            assert_eq!(
                (
                    holds(cond, &some),
                    holds(cond, &empty),
                    holds(cond, &missing)
                ),
                (*s, *e, *m),
                "{cond}"
            );
        }
    }

    #[test]
    fn numbers_strings_case_and_drift() {
        let e = json!({"responseStatus": {"code": 403.0}, "userAgent": "KubeCtl/v1.29", "requestURI": "/api?command=sh",
                       "stageTimestamp": "2024-01-02T00:00:00Z", "sourceIPs": ["AWS Internal"]});
        assert!(holds("responseStatus.code == 403", &e));
        assert!(holds("responseStatus.code in [401, 403]", &e));
        assert!(holds(
            "responseStatus.code >= 400 and responseStatus.code < 500",
            &e
        ));
        assert!(holds("userAgent istartswith \"kubectl/\"", &e));
        assert!(!holds("userAgent startswith \"kubectl/\"", &e));
        assert!(holds("userAgent imatches r\"^kubectl/v1\\.\\d+$\"", &e));
        assert!(holds("requestURI contains [\"command=\", \"nothing\"]", &e));
        assert!(holds("stageTimestamp > \"2024-01-01T23:59:59+00:00\"", &e));
        assert!(
            !holds("sourceIPs[0] in cidr [\"0.0.0.0/0\"]", &e),
            "not an address: false"
        );
        assert!(
            !holds("sourceIPs[0] not in cidr [\"10.0.0.0/8\"]", &e),
            "negated too"
        );
        // Type drift: a string where the schema says int is false both ways.
        let drift = json!({"responseStatus": {"code": "403"}});
        assert!(!holds("responseStatus.code == 403", &drift));
        assert!(!holds("responseStatus.code != 403", &drift));
        assert!(!holds("responseStatus.code in [403]", &drift));
        assert!(!holds("responseStatus.code not in [403]", &drift));
        // And a number where the schema says string, against a set looked
        // up by hash: false both ways too.
        let drift = json!({"user": {"username": 5}});
        assert!(!holds("user.username in [\"5\", \"x\"]", &drift));
        assert!(!holds("user.username not in [\"5\", \"x\"]", &drift));
        // A long set with duplicates: members, non-members, near misses.
        let names: Vec<String> = (0..5000).map(|i| format!("\"u{}\"", i % 4000)).collect();
        let set = format!("[{}]", names.join(", "));
        for (name, member) in [
            ("u0", true),
            ("u3999", true),
            ("u4000", false),
            ("u", false),
            ("", false),
        ] {
            let e = json!({"user": {"username": name}});
            assert_eq!(
                holds(&format!("user.username in {set}"), &e),
                member,
                "{name}"
            );
            assert_eq!(
                holds(&format!("user.username not in {set}"), &e),
                !member,
                "{name}"
            );
        }
    }

    /// The derived-value rows of the table in spec/language.md: a function
    /// of a missing or null value (or of a value it cannot take) is missing.
    #[test]
    fn derived_values_missing_null_and_empty() {
        let missing = json!({"kind": "Event", "verb": "get", "user": {}});
        let null = json!({"kind": "Event", "requestURI": null, "user": {"username": null, "groups": null}});
        let number =
            json!({"kind": "Event", "requestURI": 5, "user": {"username": 5, "groups": 5}});
        let empty = json!({"kind": "Event", "requestURI": "/api?x=1", "user": {"username": "", "groups": []}});
        let u = "lower(user.username)";
        let q = "query(requestURI, \"command\")";
        // (condition, missing, null, not a string, "" / [] / no such parameter)
        let table: &[(String, [bool; 4])] = &[
            (format!("{u} == \"a\""), [false, false, false, false]),
            (format!("{u} != \"a\""), [false, false, false, true]),
            (format!("{u} == \"\""), [false, false, false, true]),
            (format!("{u} in [\"a\"]"), [false, false, false, false]),
            (format!("{u} not in [\"a\"]"), [false, false, false, true]),
            (format!("{u} contains \"\""), [false, false, false, true]),
            (
                format!("{u} not contains \"a\""),
                [false, false, false, true],
            ),
            (format!("{u} is null"), [true, true, true, false]),
            (format!("{u} == null"), [true, true, true, false]),
            (format!("{u} is not null"), [false, false, false, true]),
            (format!("not ({u} == \"a\")"), [true, true, true, true]),
            (
                "len(user.username) == 0".to_string(),
                [false, false, false, true],
            ),
            (
                "len(user.groups) == 0".to_string(),
                [false, false, false, true],
            ),
            (
                "len(user.groups) != 0".to_string(),
                [false, false, false, false],
            ),
            (
                "len(user.groups) > -1".to_string(),
                [false, false, false, true],
            ),
            (format!("any v in {q}: true"), [false, false, false, false]),
            (format!("all v in {q}: false"), [false, false, false, true]),
            (format!("\"sh\" in {q}"), [false, false, false, false]),
            (format!("\"sh\" not in {q}"), [false, false, false, true]),
            (format!("len({q}) == 0"), [false, false, false, true]),
            (format!("{q} is null"), [true, true, true, false]),
            (
                "is_private(user.username)".to_string(),
                [false, false, false, false],
            ),
            (
                "not is_private(user.username)".to_string(),
                [true, true, true, true],
            ),
            (
                "is_private(user.username) == false".to_string(),
                [false, false, false, false],
            ),
            (
                "is_private(user.username) != true".to_string(),
                [false, false, false, false],
            ),
            (
                "is_private(user.username) is null".to_string(),
                [true, true, true, true],
            ),
        ];
        for (cond, want) in table {
            let got = [&missing, &null, &number, &empty].map(|e| holds(cond, e));
            assert_eq!(&got, want, "{cond}: (missing, null, number, empty)");
        }
    }

    #[test]
    fn derived_values() {
        let e = json!({
            "requestURI": "/api/v1/namespaces/x/pods/y/exec?command=sh&command=-c&command=cat%20%2Fetc%2Fshadow&container=c",
            "user": {"username": "Alice@Example.com", "groups": ["dev", "ops"]},
            "sourceIPs": ["10.1.2.3", "::1", "AWS Internal"],
            "objectRef": {"resource": "pods"},
            "requestObject": {"spec": {"containers": [
                {"image": "nginx"},
                {"image": "ghcr.io/a/b:1.2@sha256:abc"},
                {"image": "localhost:5000/tool"}
            ]}}
        });
        for (cond, want) in [
            (r#"lower(user.username) == "alice@example.com""#, true),
            (r#"upper(user.username) endswith "EXAMPLE.COM""#, true),
            (r#"lower(user.username) == user.username"#, false),
            (
                r#"len(user.groups) == 2 and len(user.username) == 17"#,
                true,
            ),
            (r#"len(query(requestURI, "command")) == 3"#, true),
            (r#""sh" in query(requestURI, "command")"#, true),
            (r#""bash" in query(requestURI, "command")"#, false),
            (r#""bash" not in query(requestURI, "command")"#, true),
            (r#""c" in query(requestURI, "container")"#, true),
            (
                r#"any v in query(requestURI, "command"): v contains "/etc/shadow""#,
                true,
            ),
            (
                r#"all v in query(requestURI, "command"): len(v) < 20"#,
                true,
            ),
            (r#"all v in query(requestURI, "command"): v != "sh""#, false),
            (
                r#"any v in query(requestURI, "command"): (v == "sh" and "sh" in query(requestURI, "command"))"#,
                true,
            ),
            // Nested: a derived element beside and inside event lists.
            (
                r#"any v in query(requestURI, "command"): any g in user.groups: (g == "ops" and v == "-c")"#,
                true,
            ),
            (
                r#"any g in user.groups: any v in query(requestURI, "command"): (g == "dev" and v startswith "cat ")"#,
                true,
            ),
            (
                r#"any v in query(requestURI, "command"): any w in query(requestURI, "container"): (v == "sh" and w == "c")"#,
                true,
            ),
            (
                r#"any v in query(requestURI, "command"): any w in query(requestURI, "container"): v == w"#,
                false,
            ),
            (
                r#"is_private(sourceIPs[0]) and is_loopback(sourceIPs[1])"#,
                true,
            ),
            (
                r#"is_private(sourceIPs[0]) == true and is_loopback(sourceIPs[0]) == false"#,
                true,
            ),
            (r#"any ip in sourceIPs: is_loopback(ip)"#, true),
            (r#"all ip in sourceIPs: is_private(ip) is not null"#, false),
            (
                r#"any c in requestObject.spec.containers: registry(c.image) == "ghcr.io""#,
                true,
            ),
            (
                r#"any c in requestObject.spec.containers: (repository(c.image) == "library/nginx" and tag(c.image) == "latest")"#,
                true,
            ),
            (
                r#"any c in requestObject.spec.containers: (tag(c.image) == "1.2" and digest(c.image) == "sha256:abc")"#,
                true,
            ),
            (
                r#"all c in requestObject.spec.containers: registry(c.image) in ["docker.io", "ghcr.io", "localhost:5000"]"#,
                true,
            ),
            (r#"requestURI contains lower("/API/")"#, true),
            (r#"base64("YWRtaW4=") == "admin""#, true),
        ] {
            assert_eq!(holds(cond, &e), want, "{cond}");
        }
    }

    #[test]
    fn macros_lists_and_excepts() {
        let text = "source k8s.audit\nlist admins = [\"alice\"]\nmacro exec = objectRef.subresource == \"exec\"\n\
                    rule r { when exec except user.username in admins }\n";
        let loaded = load::load_texts(&[("t.ward", text)]);
        let set = lower::lower(&loaded);
        let bob = json!({"objectRef": {"subresource": "exec"}, "user": {"username": "bob"}});
        let alice = json!({"objectRef": {"subresource": "exec"}, "user": {"username": "alice"}});
        assert!(super::matches(&set.rules[0], &bob));
        assert!(!super::matches(&set.rules[0], &alice));
    }

    #[test]
    fn several_regexes_run_as_one_with_the_same_answers() {
        use ward_compiler::lower::{AnyOf, Cond};
        let text = "source k8s.audit\nrule r { when userAgent imatches [r\"^curl/\", r\"wget\\b\", r\"\\bpy(thon)?-requests\"] or userAgent glob [\"*Go-http*\", \"k?bectl/*\"] or userAgent matches r\"^solo$\" }\n";
        let loaded = load::load_texts(&[("t.ward", text)]);
        assert_eq!(check(&loaded, schema::bundled()).errors(), 0);
        let set = lower::lower(&loaded);
        let Cond::Or(tests) = &set.rules[0].when else {
            panic!("an or: {:?}", set.rules[0].when)
        };
        let mut combined = 0;
        for t in tests {
            let Cond::Str { op, pats, any, .. } = t else {
                panic!("a string test: {t:?}")
            };
            let Some(all) = any.as_ref().and_then(AnyOf::regex) else {
                assert_eq!(pats.len(), 1, "one regex stays alone");
                continue;
            };
            combined += 1;
            for ua in [
                "curl/8.1",
                "CURL/8.1",
                "xcurl/1",
                "wget",
                "Wget/1.2 (linux)",
                "wgetx",
                "",
                "python-requests/2.31",
                "py-requests",
                "Go-http-client/1.1",
                "kubectl/v1.29",
                "kobectl/x",
                "solo",
                "Solo",
            ] {
                let text = ua.to_lowercase();
                let text = if op.ci { text.as_str() } else { ua };
                let each = pats.iter().any(|p| super::pattern_matches(*op, p, text));
                assert_eq!(all.is_match(text), each, "{ua:?} against {pats:?}");
            }
        }
        assert_eq!(combined, 2);
    }
}

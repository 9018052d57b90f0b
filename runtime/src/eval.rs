//! Evaluation: the reference evaluator of lowered conditions over a decoded
//! JSON event. It follows spec/language.md ("Missing, null and empty")
//! literally; faster evaluators are tested against it.

use serde_json::Value;
use ward_compiler::lower::{Cond, FieldPath, Lit, Operand, Pattern, Rule, Seg};
use ward_compiler::syntax::ast::{CmpOp, StrOp, StrOpKind};

use crate::time;

/// Whether `rule` fires on `event`: `when` holds and no `except` does.
pub fn matches(rule: &Rule, event: &Value) -> bool {
    let mut vars = Vec::new();
    eval(&rule.when, event, &mut vars) && !rule.excepts.iter().any(|e| eval(e, event, &mut vars))
}

/// The value at a path; `None` when missing (`Some(Null)` is null).
pub fn get<'a>(event: &'a Value, vars: &[&'a Value], path: &FieldPath) -> Option<&'a Value> {
    let mut v = match path.var {
        None => event,
        Some(n) => *vars.get(vars.len().checked_sub(n + 1)?)?,
    };
    for seg in &path.segs {
        v = match (seg, v) {
            (Seg::Key(k), Value::Object(m)) => m.get(k)?,
            (Seg::Index(i), Value::Array(a)) => {
                let idx = if *i < 0 {
                    a.len().checked_sub(i.unsigned_abs() as usize)?
                } else {
                    *i as usize
                };
                a.get(idx)?
            }
            _ => return None,
        };
    }
    Some(v)
}

/// An operand's value: a literal, or a present, non-null field.
enum Val<'a> {
    Lit(&'a Lit),
    Json(&'a Value),
}

fn value<'a>(op: &'a Operand, event: &'a Value, vars: &[&'a Value]) -> Option<Val<'a>> {
    match op {
        Operand::Lit(Lit::Null) => None,
        Operand::Lit(l) => Some(Val::Lit(l)),
        Operand::Field(p) => get(event, vars, p).filter(|v| !v.is_null()).map(Val::Json),
    }
}

pub fn eval<'a>(c: &'a Cond, event: &'a Value, vars: &mut Vec<&'a Value>) -> bool {
    match c {
        Cond::Const(b) => *b,
        Cond::And(items) => items.iter().all(|i| eval(i, event, vars)),
        Cond::Or(items) => items.iter().any(|i| eval(i, event, vars)),
        Cond::Not(inner) => !eval(inner, event, vars),
        Cond::Quant { all, list, body } => {
            let Some(Value::Array(items)) = get(event, vars, list) else {
                return false;
            };
            let mut test = |item: &'a Value| {
                vars.push(item);
                let r = eval(body, event, vars);
                vars.pop();
                r
            };
            if *all {
                items.iter().all(&mut test)
            } else {
                items.iter().any(&mut test)
            }
        }
        Cond::Cmp { op, lhs, rhs } => compare(*op, lhs, rhs, event, vars),
        Cond::InSet { negated, lhs, set } => {
            let Some(v) = value(lhs, event, vars) else {
                return false;
            };
            let mut typed = false;
            let mut hit = false;
            for l in set {
                if let Some(eq) = equal(&v, &Val::Lit(l)) {
                    typed = true;
                    hit |= eq;
                }
            }
            typed && (hit != *negated)
        }
        Cond::InField { negated, lhs, list } => {
            let Some(v) = value(lhs, event, vars) else {
                return false;
            };
            let Some(Value::Array(items)) = get(event, vars, list) else {
                return false;
            };
            let hit = items.iter().any(|i| equal(&v, &Val::Json(i)) == Some(true));
            hit != *negated
        }
        Cond::Cidr { negated, lhs, nets } => {
            let Some(Val::Json(Value::String(s))) = value(lhs, event, vars) else {
                return false;
            };
            let Ok(ip) = s.parse::<std::net::IpAddr>() else {
                return false;
            };
            nets.iter().any(|n| n.contains(ip)) != *negated
        }
        Cond::Str {
            negated,
            op,
            lhs,
            pats,
        } => {
            let Some(Val::Json(Value::String(s))) = value(lhs, event, vars) else {
                return false;
            };
            let folded = if op.ci { Some(s.to_lowercase()) } else { None };
            let text = folded.as_deref().unwrap_or(s);
            pats.iter().any(|p| pattern_matches(*op, p, text)) != *negated
        }
        Cond::StrField {
            negated,
            op,
            lhs,
            rhs,
        } => {
            let (Some(Val::Json(Value::String(a))), Some(b)) =
                (value(lhs, event, vars), value(rhs, event, vars))
            else {
                return false;
            };
            let b = match b {
                Val::Json(Value::String(b)) => b.as_str(),
                Val::Lit(Lit::Str(b)) => b.as_str(),
                _ => return false,
            };
            let (a, b) = if op.ci {
                (a.to_lowercase(), b.to_lowercase())
            } else {
                (a.clone(), b.to_string())
            };
            pattern_matches(*op, &Pattern::Text(b), &a) != *negated
        }
        Cond::IsNull { negated, operand } => {
            let null = match operand {
                Operand::Lit(l) => *l == Lit::Null,
                Operand::Field(p) => get(event, vars, p).is_none_or(Value::is_null),
            };
            null != *negated
        }
        Cond::Exists(p) => get(event, vars, p).is_some(),
        Cond::Truthy(op) => matches!(value(op, event, vars), Some(Val::Json(Value::Bool(true)))),
    }
}

fn pattern_matches(op: StrOp, p: &Pattern, text: &str) -> bool {
    match p {
        Pattern::Regex(r, _) => r.is_match(text),
        Pattern::Text(t) => match op.kind {
            StrOpKind::Contains => text.contains(t.as_str()),
            StrOpKind::StartsWith => text.starts_with(t.as_str()),
            StrOpKind::EndsWith => text.ends_with(t.as_str()),
            StrOpKind::Glob | StrOpKind::Matches => false,
        },
    }
}

fn compare(op: CmpOp, lhs: &Operand, rhs: &Operand, event: &Value, vars: &[&Value]) -> bool {
    // `x == null` / `x != null`: presence tests, not comparisons.
    let null_side = match (lhs, rhs) {
        (other, Operand::Lit(Lit::Null)) | (Operand::Lit(Lit::Null), other) => Some(other),
        _ => None,
    };
    if let Some(other) = null_side {
        let is_null = match other {
            Operand::Lit(l) => *l == Lit::Null,
            Operand::Field(p) => get(event, vars, p).is_none_or(Value::is_null),
        };
        return match op {
            CmpOp::Eq => is_null,
            CmpOp::Ne => !is_null,
            _ => false,
        };
    }
    let (Some(a), Some(b)) = (value(lhs, event, vars), value(rhs, event, vars)) else {
        return false;
    };
    match op {
        CmpOp::Eq => equal(&a, &b) == Some(true),
        CmpOp::Ne => equal(&a, &b) == Some(false),
        _ => match order(&a, &b) {
            Some(o) => match op {
                CmpOp::Lt => o.is_lt(),
                CmpOp::Le => o.is_le(),
                CmpOp::Gt => o.is_gt(),
                _ => o.is_ge(),
            },
            None => false,
        },
    }
}

/// Scalar view of a value for comparison.
enum Scalar<'a> {
    Num(f64),
    Str(&'a str),
    Bool(bool),
}

fn scalar<'a>(v: &'a Val<'a>) -> Option<Scalar<'a>> {
    Some(match v {
        Val::Lit(Lit::Int(i)) => Scalar::Num(*i as f64),
        Val::Lit(Lit::Float(f)) => Scalar::Num(*f),
        Val::Lit(Lit::Duration(ms)) => Scalar::Num(*ms as f64),
        Val::Lit(Lit::Str(s)) => Scalar::Str(s),
        Val::Lit(Lit::Bool(b)) => Scalar::Bool(*b),
        Val::Json(Value::Number(n)) => Scalar::Num(n.as_f64()?),
        Val::Json(Value::String(s)) => Scalar::Str(s),
        Val::Json(Value::Bool(b)) => Scalar::Bool(*b),
        _ => return None,
    })
}

/// `Some(eq)` when the two values have one type; `None` on type drift, so
/// that both `==` and `!=` are false.
fn equal(a: &Val<'_>, b: &Val<'_>) -> Option<bool> {
    match (scalar(a)?, scalar(b)?) {
        (Scalar::Num(x), Scalar::Num(y)) => Some(x == y),
        (Scalar::Str(x), Scalar::Str(y)) => Some(x == y),
        (Scalar::Bool(x), Scalar::Bool(y)) => Some(x == y),
        _ => None,
    }
}

fn order(a: &Val<'_>, b: &Val<'_>) -> Option<std::cmp::Ordering> {
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
}

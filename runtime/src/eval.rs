//! Evaluation: the reference evaluator of lowered conditions over an event
//! (a full `serde_json::Value` or a sparse extraction, through `Doc`). It
//! follows spec/language.md ("Missing, null and empty") literally; the
//! planned matcher runs its leaves through it, and the differential test
//! holds the two to the same verdicts.

use serde_json::Value;
use ward_compiler::doc::{Doc, Kind};
use ward_compiler::lower::{AnyOf, Cond, FieldPath, Lit, Operand, Pattern, Rule, Seg};
use ward_compiler::syntax::ast::{CmpOp, StrOp, StrOpKind};

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

/// An operand's value: a literal, or a present, non-null field.
enum Val<'l, D> {
    Lit(&'l Lit),
    Doc(D),
}

fn value<'l, 'a, D: Doc<'a>>(op: &'l Operand, event: D, vars: &[D]) -> Option<Val<'l, D>> {
    match op {
        Operand::Lit(Lit::Null) => None,
        Operand::Lit(l) => Some(Val::Lit(l)),
        Operand::Field(p) => get(event, vars, p).filter(|v| !v.is_null()).map(Val::Doc),
    }
}

fn str_of<'a, D: Doc<'a>>(v: &Val<'_, D>) -> Option<&'a str> {
    match v {
        Val::Doc(d) => d.as_str(),
        Val::Lit(_) => None,
    }
}

pub fn eval<'a, D: Doc<'a>>(c: &Cond, event: D, vars: &mut Vec<D>) -> bool {
    match c {
        Cond::Const(b) => *b,
        Cond::And(items) => items.iter().all(|i| eval(i, event, vars)),
        Cond::Or(items) => items.iter().any(|i| eval(i, event, vars)),
        Cond::Not(inner) => !eval(inner, event, vars),
        Cond::Quant { all, list, body } => {
            let Some(l) = get(event, vars, list) else {
                return false;
            };
            let Kind::Arr(len) = l.kind() else {
                return false;
            };
            let mut test = |i: usize| match l.at(i) {
                Some(item) => {
                    vars.push(item);
                    let r = eval(body, event, vars);
                    vars.pop();
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
        Cond::Cmp { op, lhs, rhs } => compare(*op, lhs, rhs, event, vars),
        Cond::InSet { negated, lhs, set } => {
            let Some(v) = value(lhs, event, vars) else {
                return false;
            };
            // A string is looked up (only string literals compare with
            // it); anything else is compared with the other literals.
            if let Some(Scalar::Str(s)) = scalar(&v) {
                return set.has_str() && (set.contains_str(s) != *negated);
            }
            let mut typed = false;
            let mut hit = false;
            for l in set.others() {
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
            let Some(l) = get(event, vars, list) else {
                return false;
            };
            let Kind::Arr(len) = l.kind() else {
                return false;
            };
            let hit = (0..len)
                .filter_map(|i| l.at(i))
                .any(|item| equal(&v, &Val::Doc(item)) == Some(true));
            hit != *negated
        }
        Cond::Cidr { negated, lhs, nets } => {
            let Some(s) = value(lhs, event, vars).and_then(|v| str_of(&v)) else {
                return false;
            };
            let Some(ip) = ward_compiler::pattern::parse_ip(s) else {
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
            let Some(s) = value(lhs, event, vars).and_then(|v| str_of(&v)) else {
                return false;
            };
            let folded = if op.ci { Some(s.to_lowercase()) } else { None };
            let text = folded.as_deref().unwrap_or(s);
            let hit = match any {
                Some(AnyOf(all)) => all.is_match(text),
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
            let Some(a) = value(lhs, event, vars).and_then(|v| str_of(&v)) else {
                return false;
            };
            let b = match value(rhs, event, vars) {
                Some(Val::Doc(d)) => match d.as_str() {
                    Some(b) => b.to_string(),
                    None => return false,
                },
                Some(Val::Lit(Lit::Str(b))) => b.clone(),
                _ => return false,
            };
            let (a, b) = if op.ci {
                (a.to_lowercase(), b.to_lowercase())
            } else {
                (a.to_string(), b)
            };
            pattern_matches(*op, &Pattern::Text(b), &a) != *negated
        }
        Cond::IsNull { negated, operand } => is_null(operand, event, vars) != *negated,
        Cond::Exists(p) => get(event, vars, p).is_some(),
        Cond::Truthy(op) => {
            matches!(value(op, event, vars), Some(Val::Doc(d)) if d.kind() == Kind::Bool(true))
        }
    }
}

fn is_null<'a, D: Doc<'a>>(op: &Operand, event: D, vars: &[D]) -> bool {
    match op {
        Operand::Lit(l) => *l == Lit::Null,
        Operand::Field(p) => get(event, vars, p).is_none_or(|v| v.is_null()),
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

fn compare<'a, D: Doc<'a>>(op: CmpOp, lhs: &Operand, rhs: &Operand, event: D, vars: &[D]) -> bool {
    // `x == null` / `x != null`: presence tests, not comparisons.
    let null_side = match (lhs, rhs) {
        (other, Operand::Lit(Lit::Null)) | (Operand::Lit(Lit::Null), other) => Some(other),
        _ => None,
    };
    if let Some(other) = null_side {
        let null = is_null(other, event, vars);
        return match op {
            CmpOp::Eq => null,
            CmpOp::Ne => !null,
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
    })
}

/// `Some(eq)` when the two values have one type; `None` on type drift, so
/// that both `==` and `!=` are false.
fn equal<'a, D: Doc<'a>>(a: &Val<'_, D>, b: &Val<'_, D>) -> Option<bool> {
    match (scalar(a)?, scalar(b)?) {
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
            let Some(AnyOf(all)) = any else {
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

//! Lowered conditions in words, for `ward explain` and `ward test --coverage`.

use ward_compiler::lower::{Cond, FieldPath, Lit, Operand, Pattern, Seg};

/// A field path as written, outside any quantifier.
pub fn path(f: &FieldPath) -> String {
    path_at(f, 0)
}

/// A field path as written at `depth` quantifiers deep: the elements of
/// quantifiers are named by nesting level, `$0` the outermost's, `$1` the
/// one inside it.
fn path_at(f: &FieldPath, depth: usize) -> String {
    let mut s = match f.var {
        None => String::new(),
        Some(n) => format!("${}", depth.saturating_sub(1 + n)),
    };
    for seg in &f.segs {
        match seg {
            Seg::Key(k) if s.is_empty() => s.push_str(k),
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn lit(l: &Lit) -> String {
    match l {
        Lit::Null => "null".into(),
        Lit::Bool(b) => b.to_string(),
        Lit::Int(i) => i.to_string(),
        Lit::Float(f) => f.to_string(),
        Lit::Str(s) => format!("{s:?}"),
        Lit::Duration(ms) => format!("{ms}ms"),
    }
}

fn operand(o: &Operand, depth: usize) -> String {
    match o {
        Operand::Lit(l) => lit(l),
        Operand::Field(f) => path_at(f, depth),
        Operand::Call(c) => format!(
            "{}({})",
            c.func.name(),
            c.args
                .iter()
                .map(|a| operand(a, depth))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Operand::Elem(n) => format!("${}", depth.saturating_sub(1 + n)),
    }
}

fn not(negated: bool) -> &'static str {
    if negated {
        "not "
    } else {
        ""
    }
}

pub fn leaf(c: &Cond) -> String {
    leaf_at(c, 0)
}

fn leaf_at(c: &Cond, depth: usize) -> String {
    match c {
        Cond::Cmp { op, lhs, rhs } => format!(
            "{} {} {}",
            operand(lhs, depth),
            op.as_str(),
            operand(rhs, depth)
        ),
        Cond::InSet { negated, lhs, set } => {
            format!(
                "{} {}in [{}]",
                operand(lhs, depth),
                not(*negated),
                set.iter().map(lit).collect::<Vec<_>>().join(", ")
            )
        }
        Cond::InField { negated, lhs, list } => {
            format!(
                "{} {}in {}",
                operand(lhs, depth),
                not(*negated),
                operand(list, depth)
            )
        }
        Cond::Cidr { negated, lhs, nets } => format!(
            "{} {}in cidr [{}]",
            operand(lhs, depth),
            not(*negated),
            nets.iter()
                .map(|n| format!("{}/{}", n.addr, n.prefix))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Cond::Str {
            negated,
            op,
            lhs,
            pats,
            ..
        } => {
            let pats: Vec<String> = pats
                .iter()
                .map(|p| match p {
                    Pattern::Text(t) => format!("{t:?}"),
                    Pattern::Regex(_, src) => format!("/{src}/"),
                })
                .collect();
            format!(
                "{} {}{op} [{}]",
                operand(lhs, depth),
                not(*negated),
                pats.join(", ")
            )
        }
        Cond::StrField {
            negated,
            op,
            lhs,
            rhs,
        } => format!(
            "{} {}{op} {}",
            operand(lhs, depth),
            not(*negated),
            operand(rhs, depth)
        ),
        Cond::IsNull {
            negated,
            operand: o,
        } => format!("{} is {}null", operand(o, depth), not(*negated)),
        Cond::Exists(f) => format!("{} exists", path_at(f, depth)),
        Cond::Truthy(o) => operand(o, depth),
        Cond::Quant { all, list, body } => {
            let kind = if *all { "all" } else { "any" };
            format!(
                "{kind} element ${depth} of {}: {}",
                operand(list, depth),
                quant_body(body, depth + 1)
            )
        }
        Cond::Const(b) => b.to_string(),
        Cond::And(_) | Cond::Or(_) | Cond::Not(_) => quant_body(c, depth),
    }
}

fn quant_body(c: &Cond, depth: usize) -> String {
    match c {
        Cond::And(v) => format!(
            "({})",
            v.iter()
                .map(|x| quant_body(x, depth))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        Cond::Or(v) => format!(
            "({})",
            v.iter()
                .map(|x| quant_body(x, depth))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        Cond::Not(x) => format!("not {}", quant_body(x, depth)),
        other => leaf_at(other, depth),
    }
}

#[cfg(test)]
mod tests {
    use ward_compiler::{load, lower};

    /// Quantifier elements are named by nesting level, so that an inner
    /// body can name both its own element and the outer one.
    #[test]
    fn nested_quantifiers_name_each_element() {
        let text = "source k8s.audit\nrule r { when any c in requestObject.spec.containers: \
                    any p in c.ports: (p.hostPort > 0 and c.image contains \"x\") }\n";
        let set = lower::lower(&load::load_texts(&[("r.ward", text)]));
        assert_eq!(
            super::leaf(&set.rules[0].when),
            "any element $0 of requestObject.spec.containers: any element $1 of $0.ports: \
             ($1.hostPort > 0 and $0.image contains [\"x\"])"
        );
    }

    /// A derived list's elements are named like a list field's.
    #[test]
    fn calls_and_derived_elements_are_written_out() {
        let text = "source k8s.audit\nrule r { when any v in query(requestURI, \"command\"): \
                    (lower(v) == \"sh\" and len(user.groups) > 1) }\n";
        let set = lower::lower(&load::load_texts(&[("r.ward", text)]));
        assert_eq!(
            super::leaf(&set.rules[0].when),
            "any element $0 of query(requestURI, \"command\"): \
             (lower($0) == \"sh\" and len(user.groups) > 1)"
        );
    }
}

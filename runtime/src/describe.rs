//! Lowered conditions in words, for `ward explain` and `ward test --coverage`.

use ward_compiler::lower::{Cond, FieldPath, Lit, Operand, Pattern, Seg};

/// A field path as written (`$0` is the innermost quantifier's element).
pub fn path(f: &FieldPath) -> String {
    let mut s = match f.var {
        None => String::new(),
        Some(n) => format!("${n}"),
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

fn operand(o: &Operand) -> String {
    match o {
        Operand::Lit(l) => lit(l),
        Operand::Field(f) => path(f),
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
    match c {
        Cond::Cmp { op, lhs, rhs } => format!("{} {} {}", operand(lhs), op.as_str(), operand(rhs)),
        Cond::InSet { negated, lhs, set } => {
            format!(
                "{} {}in [{}]",
                operand(lhs),
                not(*negated),
                set.iter().map(lit).collect::<Vec<_>>().join(", ")
            )
        }
        Cond::InField { negated, lhs, list } => {
            format!("{} {}in {}", operand(lhs), not(*negated), path(list))
        }
        Cond::Cidr { negated, lhs, nets } => format!(
            "{} {}in cidr [{}]",
            operand(lhs),
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
                operand(lhs),
                not(*negated),
                pats.join(", ")
            )
        }
        Cond::StrField {
            negated,
            op,
            lhs,
            rhs,
        } => format!("{} {}{op} {}", operand(lhs), not(*negated), operand(rhs)),
        Cond::IsNull {
            negated,
            operand: o,
        } => format!("{} is {}null", operand(o), not(*negated)),
        Cond::Exists(f) => format!("{} exists", path(f)),
        Cond::Truthy(o) => operand(o),
        Cond::Quant { all, list, body } => {
            let kind = if *all { "all" } else { "any" };
            format!("{kind} element $0 of {}: {}", path(list), quant_body(body))
        }
        Cond::Const(b) => b.to_string(),
        Cond::And(_) | Cond::Or(_) | Cond::Not(_) => quant_body(c),
    }
}

fn quant_body(c: &Cond) -> String {
    match c {
        Cond::And(v) => format!(
            "({})",
            v.iter().map(quant_body).collect::<Vec<_>>().join(" and ")
        ),
        Cond::Or(v) => format!(
            "({})",
            v.iter().map(quant_body).collect::<Vec<_>>().join(" or ")
        ),
        Cond::Not(x) => format!("not {}", quant_body(x)),
        other => leaf(other),
    }
}

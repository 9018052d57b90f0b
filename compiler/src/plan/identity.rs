//! A leaf's identity: what the planner shares equal leaves by.
//!
//! Two leaves are the same when their `Debug` texts are: what they test,
//! regexes by their source, a set of literals by its
//! [`crate::lower::LitSet::digest`] (a feed of a million names is not read
//! for every rule that reads it). The text is not written: the leaf is fed
//! to the hashers part by part, each variant by its discriminant and each
//! string and list with its length, so that two leaves feed the same words
//! exactly when their texts are equal. Writing the text cost more than the
//! rest of planning a leaf.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::{BuildHasher, Hash, Hasher};
use std::mem::discriminant;

use crate::lower::{Cond, FieldPath, Lit, Operand, Pattern, Seg};

/// A randomly keyed SipHash and a fast multiplicative hash of the leaf:
/// different leaves collide with probability about 2^-64 even when chosen
/// to collide in the second hash.
pub(super) type Identity = (u64, u64);

pub(super) fn identity(leaf: &Cond, hashers: &RandomState) -> Identity {
    let mut h = Both(hashers.build_hasher(), Default::default());
    cond(leaf, &mut h);
    (h.0.finish(), h.1.finish())
}

struct Both(DefaultHasher, crate::hash::Words);

impl Hasher for Both {
    fn finish(&self) -> u64 {
        self.0.finish()
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
        self.1.write(bytes);
    }
}

fn cond(c: &Cond, h: &mut Both) {
    discriminant(c).hash(h);
    match c {
        Cond::Const(b) => b.hash(h),
        Cond::And(items) | Cond::Or(items) => {
            items.len().hash(h);
            items.iter().for_each(|i| cond(i, h));
        }
        Cond::Not(inner) => cond(inner, h),
        Cond::Quant { all, list, body } => {
            all.hash(h);
            operand(list, h);
            cond(body, h);
        }
        Cond::Cmp { op, lhs, rhs } => {
            op.hash(h);
            operand(lhs, h);
            operand(rhs, h);
        }
        Cond::InSet { negated, lhs, set } => {
            negated.hash(h);
            operand(lhs, h);
            set.digest().hash(h);
        }
        Cond::InField { negated, lhs, list } => {
            negated.hash(h);
            operand(lhs, h);
            operand(list, h);
        }
        Cond::Cidr { negated, lhs, nets } => {
            negated.hash(h);
            operand(lhs, h);
            nets.len().hash(h);
            for n in nets {
                n.addr.hash(h);
                n.prefix.hash(h);
            }
        }
        Cond::Str {
            negated,
            op,
            lhs,
            pats,
            any,
        } => {
            negated.hash(h);
            op.hash(h);
            operand(lhs, h);
            pats.len().hash(h);
            for p in pats {
                // A regex by its source, as its `Debug` shows it.
                discriminant(p).hash(h);
                match p {
                    Pattern::Text(t) | Pattern::Regex(_, t) => t.hash(h),
                }
            }
            // `Debug` shows an `AnyOf` by its name only.
            any.is_some().hash(h);
        }
        Cond::StrField {
            negated,
            op,
            lhs,
            rhs,
        } => {
            negated.hash(h);
            op.hash(h);
            operand(lhs, h);
            operand(rhs, h);
        }
        Cond::IsNull {
            negated,
            operand: o,
        } => {
            negated.hash(h);
            operand(o, h);
        }
        Cond::Exists(f) => path(f, h),
        Cond::Truthy(o) => operand(o, h),
    }
}

fn operand(o: &Operand, h: &mut Both) {
    discriminant(o).hash(h);
    match o {
        Operand::Lit(l) => lit(l, h),
        Operand::Field(f) => path(f, h),
        Operand::Call(c) => {
            c.func.hash(h);
            c.args.len().hash(h);
            c.args.iter().for_each(|a| operand(a, h));
        }
        Operand::Elem(n) => n.hash(h),
    }
}

fn lit(l: &Lit, h: &mut Both) {
    discriminant(l).hash(h);
    match l {
        Lit::Null => {}
        Lit::Bool(b) => b.hash(h),
        Lit::Int(i) => i.hash(h),
        // Distinct bits print distinct texts (`-0.0` is not `0.0`).
        Lit::Float(f) => f.to_bits().hash(h),
        Lit::Str(s) => s.hash(h),
        Lit::Duration(ms) => ms.hash(h),
    }
}

fn path(f: &FieldPath, h: &mut Both) {
    f.var.hash(h);
    f.segs.len().hash(h);
    for s in &f.segs {
        discriminant(s).hash(h);
        match s {
            Seg::Key(k) => k.hash(h),
            Seg::Index(i) => i.hash(h),
        }
    }
    f.slot.map(|s| (s.numbering, s.id)).hash(h);
}

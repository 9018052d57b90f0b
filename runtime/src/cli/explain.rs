//! `ward explain`: the compiled plan in words.

use std::io::Write;
use std::path::PathBuf;

use ward_compiler::lower::Stateful;

use crate::describe::{leaf, path};
use ward_compiler::plan::{self, PCond, Plan, Role};

use super::{EXIT_CLEAN, EXIT_USAGE};

pub(super) fn run(
    rules: Vec<PathBuf>,
    only: Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    let loaded = super::load_rules(rules.as_slice(), true)?;
    let Some(set) = super::runnable(&loaded, err)? else {
        return Ok(EXIT_USAGE);
    };
    let plan = plan::plan(&set);
    let net_groups = crate::matcher::network_groups(&plan);
    // Per leaf, the network group that answers it.
    let mut nets = vec![None; plan.leaves.len()];
    for (g, n) in net_groups.iter().enumerate() {
        for &l in &n.leaves {
            nets[l] = Some(g);
        }
    }
    if let Some(id) = &only {
        if !set.rules.iter().any(|r| &r.id == id) {
            writeln!(err, "ward: no rule `{id}`")?;
            return Ok(EXIT_USAGE);
        }
    }
    // How many rules use each leaf.
    let mut uses = vec![0usize; plan.leaves.len()];
    for r in &plan.rules {
        for c in std::iter::once(&r.when).chain(&r.excepts) {
            count_leaves(c, &mut uses);
        }
    }
    if only.is_none() {
        writeln!(
            out,
            "{} rule(s); {} leaf test(s) in all, {} distinct, each evaluated at most once per event",
            set.rules.len(),
            plan.leaf_uses,
            plan.leaves.len()
        )?;
        for (source, sp) in &plan.sources {
            writeln!(out, "\nsource {source}")?;
            let fields: Vec<String> = sp
                .dispatch
                .iter()
                .map(|(f, m)| format!("{} ({} values)", key(f), m.len()))
                .collect();
            writeln!(
                out,
                "  dispatch on: {}",
                if fields.is_empty() {
                    "nothing".into()
                } else {
                    fields.join(", ")
                }
            )?;
            writeln!(out, "  checked on every event: {} rule(s)", sp.always.len())?;
            if !sp.guarded.is_empty() {
                let behind: usize = sp.guarded.iter().map(|(_, r)| r.len()).sum();
                writeln!(
                    out,
                    "  behind a shared test: {behind} rule(s), checked when their test holds: {}",
                    sp.guarded
                        .iter()
                        .map(|(l, r)| format!("{} ({})", leaf(&plan.leaves[*l]), r.len()))
                        .collect::<Vec<_>>()
                        .join("; ")
                )?;
            }
            writeln!(
                out,
                "  extracts {} path(s): {}",
                sp.projection.leaves(),
                sp.projection.paths().join(", ")
            )?;
        }
        if !plan.eq_groups.is_empty() || !plan.str_groups.is_empty() || !net_groups.is_empty() {
            writeln!(out, "\ngrouped tests (one lookup or one pass per event)")?;
        }
        for (g, eg) in plan.eq_groups.iter().enumerate() {
            writeln!(
                out,
                "  e{g}: {} {} one of {} strings, one hash lookup{}",
                path(&eg.path),
                if eg.fold.is_some() {
                    "iequals"
                } else {
                    "== or in"
                },
                eg.leaves.len(),
                if eg.fold.is_some() {
                    " of the lower-cased value"
                } else {
                    ""
                }
            )?;
        }
        for (g, sg) in plan.str_groups.iter().enumerate() {
            let field = match &sg.list {
                None => path(&sg.path),
                Some(l) => format!("{}[] ({} of each element)", path(l), path(&sg.path)),
            };
            let how = match sg.anchored {
                Some(_) => "compared as prefixes, suffixes or whole values",
                None => "in one automaton",
            };
            writeln!(
                out,
                "  s{g}: {} string test(s) of {}{}, {} pattern(s) {how}",
                sg.leaves.len(),
                field,
                if sg.folded { " (lower-cased)" } else { "" },
                sg.patterns.len()
            )?;
        }
        for (g, n) in net_groups.iter().enumerate() {
            let field = match &n.list {
                None => path(&n.path),
                Some(l) => format!("{}[] ({} of each element)", path(l), path(&n.path)),
            };
            writeln!(
                out,
                "  n{g}: {} `in cidr` test(s) of {field}, {} network(s), one lookup per prefix length ({})",
                n.leaves.len(),
                n.networks,
                n.lengths
            )?;
        }
    }
    for (i, r) in set.rules.iter().enumerate() {
        if only.as_ref().is_some_and(|id| *id != r.id) {
            continue;
        }
        writeln!(out, "\nrule {} ({}, {})", r.id, r.source, r.severity)?;
        // Where the rule and each layer over it come from.
        let place = |file, span: ward_compiler::syntax::ast::Span| {
            let (line, _) = loaded.sources.line_col(file, span.start);
            format!("{}:{line}", loaded.sources.get(file).path.display())
        };
        if !r.tunes.is_empty() || !r.overrides.is_empty() {
            writeln!(
                out,
                "  written in {}",
                loaded.sources.get(r.file).path.display()
            )?;
        }
        for (name, (nf, ns), (of, os)) in &r.overrides {
            writeln!(
                out,
                "  macro {name} from {} (overrides the one in {})",
                place(*nf, *ns),
                place(*of, *os)
            )?;
        }
        for (file, span) in &r.tunes {
            writeln!(
                out,
                "  tuned by {} (its excepts follow the rule's; its enabled/severity win)",
                place(*file, *span)
            )?;
        }
        if !r.enabled {
            writeln!(out, "  disabled")?;
            continue;
        }
        if !r.unfilled.is_empty() {
            writeln!(out, "  inactive until filled: {}", r.unfilled.join(", "))?;
            continue;
        }
        if let Some(st) = &r.stateful {
            writeln!(out, "  {}", stateful_words(st))?;
        }
        for (u, pr) in plan.rules.iter().enumerate().filter(|(_, p)| p.rule == i) {
            let label = match pr.role {
                Role::Alert => "fires when".to_string(),
                Role::Count => "counts events when".to_string(),
                Role::Step(n) => match &r.stateful {
                    Some(Stateful::Sequence(q)) => format!(
                        "step {}{}",
                        if q.steps[n].negated { "not " } else { "" },
                        q.steps[n].name
                    ),
                    _ => format!("step {n}"),
                },
                Role::Until => "until".to_string(),
            };
            writeln!(out, "  {label}: {}", words(&pr.when, &plan, &uses, &nets))?;
            writeln!(
                out,
                "    candidates: {}",
                candidates(&plan, &r.source, u)
                    .unwrap_or_else(|| "every event of its source".into())
            )?;
            for e in &pr.excepts {
                writeln!(out, "    unless: {}", words(e, &plan, &uses, &nets))?;
            }
        }
    }
    Ok(EXIT_CLEAN)
}

fn count_leaves(c: &PCond, uses: &mut [usize]) {
    match c {
        PCond::Leaf(i) => uses[*i] += 1,
        PCond::And(v) | PCond::Or(v) => v.iter().for_each(|x| count_leaves(x, uses)),
        PCond::Not(x) => count_leaves(x, uses),
        PCond::Const(_) => {}
    }
}

fn words(c: &PCond, plan: &Plan, uses: &[usize], nets: &[Option<usize>]) -> String {
    let leaves = &plan.leaves;
    match c {
        PCond::Const(b) => b.to_string(),
        PCond::Leaf(i) => {
            let mut notes = vec![format!("#{i}")];
            if uses[*i] > 1 {
                notes.push(format!("shared by {}", uses[*i]));
            }
            if let Some(g) = plan.leaf_group.get(*i).copied().flatten() {
                notes.push(format!("group e{g}"));
            }
            if let Some((g, _)) = plan.leaf_str_group.get(*i).copied().flatten() {
                notes.push(format!("group s{g}"));
            }
            if let Some(g) = nets.get(*i).copied().flatten() {
                notes.push(format!("group n{g}"));
            }
            format!("{} [{}]", leaf(&leaves[*i]), notes.join(", "))
        }
        PCond::And(v) => format!(
            "({})",
            v.iter()
                .map(|x| words(x, plan, uses, nets))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        PCond::Or(v) => format!(
            "({})",
            v.iter()
                .map(|x| words(x, plan, uses, nets))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        PCond::Not(x) => format!("not {}", words(x, plan, uses, nets)),
    }
}

/// Which events dispatch makes unit `unit` a candidate for; `None` for all.
fn candidates(plan: &Plan, source: &str, unit: usize) -> Option<String> {
    plan.sources.get(source).and_then(|sp| {
        let guard = sp.guarded.iter().find(|(_, rules)| rules.contains(&unit));
        if let Some((l, _)) = guard {
            return Some(format!(
                "only events where {} holds",
                leaf(&plan.leaves[*l])
            ));
        }
        sp.dispatch.iter().find_map(|(f, m)| {
            let mut vals: Vec<&str> = Vec::new();
            let mut second: Option<(String, Vec<&str>)> = None;
            for (v, b) in m {
                if b.rules.contains(&unit) {
                    vals.push(v);
                }
                if let Some((p, refine)) = &b.refine {
                    let hits: Vec<&str> = refine
                        .iter()
                        .filter(|(_, rs)| rs.contains(&unit))
                        .map(|(v2, _)| v2.as_str())
                        .collect();
                    if !hits.is_empty() {
                        vals.push(v);
                        let entry = second.get_or_insert_with(|| (key(p), Vec::new()));
                        entry.1.extend(hits);
                    }
                }
            }
            vals.sort_unstable();
            vals.dedup();
            let mut text = format!("only events with {} in [{}]", key(f), vals.join(", "));
            if let Some((p, mut v2)) = second {
                v2.sort_unstable();
                v2.dedup();
                text.push_str(&format!(" and {p} in [{}]", v2.join(", ")));
            }
            (!vals.is_empty()).then_some(text)
        })
    })
}

/// A field a table is looked up by: `verb`, or `lower(verb)` when the
/// table is of lower-cased values (`iequals`).
fn key(k: &plan::KeyField) -> String {
    match k.fold {
        None => path(&k.path),
        Some(_) => format!("lower({})", path(&k.path)),
    }
}

/// A stateful rule's window and key in words.
fn stateful_words(st: &Stateful) -> String {
    let keys = |k: &[ward_compiler::lower::Key]| {
        if k.is_empty() {
            "one key for all events".to_string()
        } else {
            format!(
                "per {}",
                k.iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    match st {
        Stateful::Count(c) => format!(
            "stateful: {}, {} within a sliding {} window; fires at {} and is then quiet for {}",
            keys(&c.by),
            match &c.distinct {
                Some(d) => format!("counts distinct values of {}", d.name),
                None => "counts matching events".to_string(),
            },
            crate::state::human(c.within_ms as i64 * 1_000_000),
            c.fires_at(),
            crate::state::human(c.within_ms as i64 * 1_000_000),
        ),
        Stateful::Sequence(q) => format!(
            "stateful: {}, steps {} in order within {}{}",
            keys(&q.by),
            q.steps
                .iter()
                .map(|s| if s.negated {
                    format!("not {}", s.name)
                } else {
                    s.name.clone()
                })
                .collect::<Vec<_>>()
                .join(", "),
            crate::state::human(q.within_ms as i64 * 1_000_000),
            if q.until.is_some() {
                "; `until` cancels"
            } else {
                ""
            }
        ),
    }
}

//! ATT&CK tags: `attack.tNNNN[.NNN]` against the Enterprise technique
//! table (`compiler/data/attack/enterprise.tsv`, ATT&CK v18.1) and
//! `attack.<tactic>` against the tactics, as Sigma writes them.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::suggest;
use crate::diagnostic::{Code, Diagnostic, FileId};
use crate::syntax::ast::StrLit;

/// The ATT&CK version of the technique table.
pub const VERSION: &str = "18.1";

/// The Enterprise tactics, snake_case as Sigma writes them.
pub const TACTICS: [&str; 14] = [
    "reconnaissance",
    "resource_development",
    "initial_access",
    "execution",
    "persistence",
    "privilege_escalation",
    "defense_evasion",
    "credential_access",
    "discovery",
    "lateral_movement",
    "collection",
    "command_and_control",
    "exfiltration",
    "impact",
];

/// One technique of the table.
pub struct Technique {
    pub name: &'static str,
    /// `active`, `deprecated` or `revoked`.
    pub status: &'static str,
    /// The technique that replaces a revoked one.
    pub replaced_by: Option<&'static str>,
}

/// The table, by id (`T1611`, `T1204.003`).
pub fn techniques() -> &'static HashMap<&'static str, Technique> {
    static TABLE: OnceLock<HashMap<&'static str, Technique>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let text: &'static str = include_str!("../../data/attack/enterprise.tsv");
        (text.lines())
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut f = l.split('\t');
                let (id, status, by, name) = (f.next()?, f.next()?, f.next()?, f.next()?);
                let replaced_by = (!by.is_empty()).then_some(by);
                Some((
                    id,
                    Technique {
                        name,
                        status,
                        replaced_by,
                    },
                ))
            })
            .collect()
    })
}

/// What is wrong with tag `t` of a rule, if it is an ATT&CK tag.
pub(crate) fn check_tag(file: FileId, t: &StrLit) -> Option<Diagnostic> {
    let rest = t.value.strip_prefix("attack.")?;
    let is_id = |s: &str, digits: usize| s.len() == digits && s.bytes().all(|b| b.is_ascii_digit());
    let lower = rest.to_ascii_lowercase();
    // Groups, software, campaigns and tactic ids (`attack.g0032`) are not validated.
    let other = ["g", "s", "c", "ta", "m", "ds"]
        .iter()
        .any(|p| lower.strip_prefix(p).is_some_and(|n| is_id(n, 4)));
    if other {
        return None;
    }
    let technique = lower.strip_prefix('t').filter(|n| {
        let (main, sub) = n.split_once('.').unwrap_or((n, "000"));
        is_id(main, 4) && is_id(sub, 3)
    });
    let table = techniques();
    let Some(_) = technique else {
        if TACTICS.contains(&rest) {
            return None;
        }
        let d = Diagnostic::new(
            Code::UnknownAttackTag,
            file,
            t.span,
            format!("`{rest}` is not an ATT&CK tactic or technique id"),
        )
        .label("not in ATT&CK Enterprise");
        let near = suggest::closest(&lower.replace('-', "_"), TACTICS.iter().copied());
        return Some(d.help(match near {
            Some(n) => format!("did you mean `attack.{n}`?"),
            None => format!(
                "tactics: {}; techniques are `attack.tNNNN` or `attack.tNNNN.NNN`",
                TACTICS.join(", ")
            ),
        }));
    };
    let id = rest.to_ascii_uppercase();
    match table.get(id.as_str()) {
        Some(tq) if tq.status == "active" => None,
        Some(tq) => {
            let d = Diagnostic::new(
                Code::DeprecatedAttackTag,
                file,
                t.span,
                format!("ATT&CK technique {id} ({}) is {}", tq.name, tq.status),
            )
            .label(format!("{} in ATT&CK v{VERSION}", tq.status));
            let replacement = tq.replaced_by.and_then(|r| Some((r, table.get(r)?)));
            Some(match replacement {
                Some((r, new)) => d.help(format!(
                    "use `attack.{}` ({}), which replaces it",
                    r.to_ascii_lowercase(),
                    new.name
                )),
                None => {
                    d.help("ATT&CK names no replacement; drop the tag or pick a current technique")
                }
            })
        }
        None => {
            let d = Diagnostic::new(
                Code::UnknownAttackTag,
                file,
                t.span,
                format!("{id} is not an ATT&CK Enterprise technique"),
            )
            .label(format!("no such technique in ATT&CK v{VERSION}"));
            let mut ids: Vec<&str> = (table.iter())
                .filter(|(_, tq)| tq.status == "active")
                .map(|(k, _)| *k)
                .collect();
            ids.sort_unstable();
            Some(match suggest::closest(&id, ids) {
                Some(n) => d.help(format!(
                    "did you mean `attack.{}` ({})?",
                    n.to_ascii_lowercase(),
                    table[n].name
                )),
                None => {
                    d.help("the techniques are listed at attack.mitre.org/techniques/enterprise")
                }
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::ast::Span;

    fn code(tag: &str) -> Option<(Code, String)> {
        let t = StrLit {
            value: tag.to_string(),
            span: Span::default(),
            raw: false,
        };
        check_tag(FileId(0), &t).map(|d| (d.code, d.help.unwrap_or_default()))
    }

    #[test]
    fn the_table_is_the_real_one() {
        let t = techniques();
        assert!(t.len() > 800, "{}", t.len());
        assert_eq!(t["T1611"].name, "Escape to Host");
        assert_eq!(t["T1609"].name, "Container Administration Command");
        assert_eq!(t["T1204.003"].name, "Malicious Image");
    }

    #[test]
    fn tags_are_validated() {
        for ok in [
            "attack.t1611",
            "attack.T1204.003",
            "attack.execution",
            "attack.g0032",
            "other.x",
        ] {
            assert_eq!(code(ok), None, "{ok}");
        }
        // A typo in a technique id: the closest current one, with its name.
        let (c, help) = code("attack.t1616").unwrap();
        assert_eq!(c, Code::UnknownAttackTag);
        assert!(help.starts_with("did you mean `attack.t1"), "{help}");
        assert!(help.ends_with(")?"), "names the technique: {help}");
        // A misspelt tactic.
        let (c, help) = code("attack.privilege_escalaton").unwrap();
        assert_eq!(c, Code::UnknownAttackTag);
        assert_eq!(help, "did you mean `attack.privilege_escalation`?");
        // Revoked: T1002 (Data Compressed) became T1560 (Archive Collected Data).
        let (c, help) = code("attack.t1002").unwrap();
        assert_eq!(c, Code::DeprecatedAttackTag);
        assert!(help.contains("attack.t1560"), "{help}");
    }
}

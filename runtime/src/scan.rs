//! Scanning: decoded events through the rule set, alerts out, with the
//! counts the summary reports.

use std::collections::BTreeMap;

use ward_compiler::lower::{Rule, RuleSet};
use ward_compiler::schema;

use crate::decode::{Event, Problem};
use crate::eval;

/// A rule set ready to scan, rules grouped by source.
pub struct Scanner {
    rules: RuleSet,
    by_source: BTreeMap<String, Vec<usize>>,
    /// Rules not evaluated per event: stateful ones, until their operators land.
    pub skipped_stateful: Vec<String>,
}

/// What a scan saw.
#[derive(Debug, Default)]
pub struct Stats {
    pub events: u64,
    pub bytes: u64,
    pub per_source: BTreeMap<&'static str, u64>,
    pub alerts: BTreeMap<String, u64>,
    pub problems: u64,
    /// The first problems, as `file:line: message`.
    pub problem_samples: Vec<String>,
    /// Events with a field whose JSON type is not the schema's.
    pub type_drift: u64,
    pub drift_samples: Vec<String>,
}

/// How many problems the summary lists one by one.
pub const SAMPLES: usize = 10;

impl Scanner {
    pub fn new(rules: RuleSet) -> Scanner {
        let mut by_source: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut skipped_stateful = Vec::new();
        for (i, r) in rules.rules.iter().enumerate() {
            if !r.enabled {
                continue;
            }
            if r.stateful {
                skipped_stateful.push(r.id.clone());
                continue;
            }
            by_source.entry(r.source.clone()).or_default().push(i);
        }
        Scanner {
            rules,
            by_source,
            skipped_stateful,
        }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules.rules
    }

    /// Every rule that fires on `event` (all of them, not the first).
    pub fn matching<'s>(&'s self, event: &'s Event) -> impl Iterator<Item = &'s Rule> + 's {
        let ids = self
            .by_source
            .get(event.source)
            .map(Vec::as_slice)
            .unwrap_or_default();
        ids.iter()
            .map(|&i| &self.rules.rules[i])
            .filter(|r| eval::matches(r, &event.value))
    }
}

impl Stats {
    pub fn problem(&mut self, file: &str, p: &Problem) {
        self.problems += 1;
        if self.problem_samples.len() < SAMPLES {
            self.problem_samples.push(format!("{file}:{p}"));
        }
    }

    /// Counts an event, and whether its fields fit the schema's types.
    pub fn event(&mut self, file: &str, ev: &Event) {
        self.events += 1;
        *self.per_source.entry(ev.source).or_default() += 1;
        if let Some(s) = schema::bundled().get(ev.source) {
            let drift = schema::validate_event(s, &ev.value);
            if let Some(first) = drift.first() {
                self.type_drift += 1;
                if self.drift_samples.len() < SAMPLES {
                    self.drift_samples.push(format!(
                        "{file}:line {}: `{}` is a JSON {}, the schema says {}",
                        ev.line, first.path, first.found, first.expected
                    ));
                }
            }
        }
    }
}

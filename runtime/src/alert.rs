//! Alerts: what a matching rule emits, one JSON line each (spec/alerts.md).

use serde::Serialize;
use serde_json::{Map, Value};
use ward_compiler::lower::{OutPiece, Rule};

use crate::decode::{Event, Via};
use crate::eval::get;

#[derive(Debug, Serialize)]
pub struct Alert<'a> {
    pub rule: &'a str,
    pub title: &'a str,
    pub severity: &'a str,
    pub tags: &'a [String],
    pub source: &'a str,
    /// The event's time field as written, or null.
    pub time: Value,
    pub output: String,
    /// The value of every event field the rule reads (null when missing).
    pub fields: Map<String, Value>,
    pub input: Input<'a>,
    /// For a stateful rule: the key, count and contributing events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<crate::state::Window>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a Value>,
}

#[derive(Debug, Serialize)]
pub struct Input<'a> {
    pub file: &'a str,
    pub line: usize,
    pub via: Via,
}

/// Builds the alert of `rule` on `event`.
pub fn build<'a>(
    rule: &'a Rule,
    event: &'a Event,
    time_path: &str,
    file: &'a str,
    with_event: bool,
) -> Alert<'a> {
    let mut time = &event.value;
    for part in time_path.split('.') {
        time = time.get(part).unwrap_or(&Value::Null);
    }
    let fields = rule
        .fields
        .iter()
        .map(|(name, path)| {
            (
                name.clone(),
                get(&event.value, &[], path).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    Alert {
        rule: &rule.id,
        title: &rule.title,
        severity: &rule.severity,
        tags: &rule.tags,
        source: event.source,
        time: time.clone(),
        output: render(&rule.output, &event.value),
        fields,
        input: Input {
            file,
            line: event.line,
            via: event.via,
        },
        window: None,
        event: with_event.then(|| event.original.as_ref().unwrap_or(&event.value)),
    }
}

/// Renders an output template: strings as text, missing and null as
/// nothing, anything else as compact JSON.
pub fn render(pieces: &[OutPiece], event: &Value) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            OutPiece::Text(t) => out.push_str(t),
            OutPiece::Field(path) => match get(event, &[], path) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
            },
        }
    }
    out
}

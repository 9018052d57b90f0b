//! Alerts: what a matching rule emits, one JSON line each (spec/alerts.md).

use serde::Serialize;
use serde_json::{Map, Value};
use ward_compiler::doc::{Doc, Kind};
use ward_compiler::lower::{OutPiece, Rule};

use crate::decode::{Event, Via};
use crate::eval::get;
use crate::state::to_value;

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
    /// Written last; a line's text is spliced in by [`to_json`].
    #[serde(skip_serializing_if = "not_a_value")]
    pub event: Option<EventJson<'a>>,
}

fn not_a_value(e: &Option<EventJson<'_>>) -> bool {
    !matches!(e, Some(EventJson::Value(_)))
}

/// The alert as one line of JSON. An event given as its text goes out as
/// that text, not parsed and serialised again.
pub fn to_json(a: &Alert<'_>) -> String {
    let mut out = serde_json::to_string(a).unwrap_or_default();
    if let (Some(EventJson::Line(text)), Some(b'}')) = (&a.event, out.as_bytes().last()) {
        out.pop();
        out.push_str(",\"event\":");
        out.push_str(text.trim_matches([' ', '\t', '\n', '\r']));
        out.push('}');
    }
    out
}

#[derive(Debug, Serialize)]
pub struct Input<'a> {
    pub file: &'a str,
    pub line: usize,
    pub via: Via,
}

/// The event an alert carries: decoded, or the text of a line that parsed
/// as one JSON value (whitespace around it is dropped).
#[derive(Debug)]
pub enum EventJson<'a> {
    Value(&'a Value),
    Line(&'a str),
}

impl Serialize for EventJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            EventJson::Value(v) => v.serialize(s),
            // Never reached: `to_json` splices the text in.
            EventJson::Line(_) => s.serialize_none(),
        }
    }
}

/// Where an alert's event was read.
pub struct From<'a> {
    pub source: &'a str,
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
    build_doc(
        rule,
        &event.value,
        time_path,
        From {
            source: event.source,
            file,
            line: event.line,
            via: event.via,
        },
        with_event.then(|| EventJson::Value(event.original.as_ref().unwrap_or(&event.value))),
    )
}

/// Builds the alert of `rule` on an event read through `doc`, which must
/// hold the rule's fields, its output's fields and the time field whole
/// (a full event, or an extraction with `alert_projection`).
pub fn build_doc<'a, 'd, D: Doc<'d>>(
    rule: &'a Rule,
    doc: D,
    time_path: &str,
    from: From<'a>,
    event: Option<EventJson<'a>>,
) -> Alert<'a> {
    let mut time = Some(doc);
    for part in time_path.split('.') {
        time = time.and_then(|t| t.key(part));
    }
    let fields = rule
        .fields
        .iter()
        .map(|(name, path)| {
            (
                name.clone(),
                get(doc, &[], path).map_or(Value::Null, to_value),
            )
        })
        .collect();
    Alert {
        rule: &rule.id,
        title: &rule.title,
        severity: &rule.severity,
        tags: &rule.tags,
        source: from.source,
        time: time.map_or(Value::Null, to_value),
        output: render(&rule.output, doc),
        fields,
        input: Input {
            file: from.file,
            line: from.line,
            via: from.via,
        },
        window: None,
        event,
    }
}

/// Renders an output template: strings as text, missing and null as
/// nothing, anything else as compact JSON.
pub fn render<'d, D: Doc<'d>>(pieces: &[OutPiece], event: D) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            OutPiece::Text(t) => out.push_str(t),
            OutPiece::Field(path) => match get(event, &[], path).map(|v| v.kind()) {
                None | Some(Kind::Null) => {}
                Some(Kind::Str(s)) => out.push_str(s),
                Some(_) => {
                    if let Some(v) = get(event, &[], path) {
                        out.push_str(&to_value(v).to_string());
                    }
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert<'a>(event: Option<EventJson<'a>>, tags: &'a [String]) -> Alert<'a> {
        Alert {
            rule: "r",
            title: "t \"quoted\"",
            severity: "high",
            tags,
            source: "k8s.audit",
            time: Value::Null,
            output: "o".into(),
            fields: Map::new(),
            input: Input {
                file: "f",
                line: 3,
                via: Via::Raw,
            },
            window: None,
            event,
        }
    }

    #[test]
    fn a_line_is_spliced_in_as_the_event() {
        let line = " \t{\"verb\": \"get\", \"n\": [1, 2.50, {\"é\": \"\\u00e9\"}]}\r\n";
        let tags = ["a".to_string()];
        let out = to_json(&alert(Some(EventJson::Line(line)), &tags));
        assert!(
            out.ends_with(
                ",\"event\":{\"verb\": \"get\", \"n\": [1, 2.50, {\"é\": \"\\u00e9\"}]}}"
            ),
            "the text as read, without the whitespace around it: {out}"
        );
        let v: Value = serde_json::from_str(&out).expect("one JSON object");
        assert_eq!(v["event"]["n"][2]["é"], "é");
        assert_eq!(v["title"], "t \"quoted\"");
        // The same alert with the decoded event: the same JSON.
        let decoded: Value = serde_json::from_str(line).expect("json");
        let from_value = to_json(&alert(Some(EventJson::Value(&decoded)), &tags));
        assert_eq!(serde_json::from_str::<Value>(&from_value).expect("json"), v);
        // No event: no key.
        let none: Value = serde_json::from_str(&to_json(&alert(None, &tags))).expect("json");
        assert!(none.get("event").is_none());
    }
}

//! Alerts: what a matching rule emits, one JSON line each (spec/alerts.md).

use serde::Serialize;
use serde_json::{Map, Value};
use ward_compiler::doc::{Doc, Kind};
use ward_compiler::lower::{OutPiece, Rule};

use crate::decode::{Event, Via};
use crate::eval::get;
use crate::state::to_value;

/// An alert as a value: what the harness compares with its goldens, and
/// the shape [`write_line`] writes (the two are held equal by a test).
#[derive(Debug, Serialize)]
pub struct Alert<'a> {
    pub rule: &'a str,
    pub title: &'a str,
    /// The rule's stable `id` and `status` metadata, when written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'a str>,
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

/// The event an alert carries: decoded, or the text of a line that parsed
/// as one JSON value (written as it is, without the whitespace around it).
#[derive(Clone, Copy, Debug)]
pub enum EventJson<'a> {
    Value(&'a Value),
    Line(&'a str),
}

/// Where an alert's event was read.
pub struct From<'a> {
    pub source: &'a str,
    pub file: &'a str,
    pub line: usize,
    pub via: Via,
}

/// The time of an event: the first of its source's time fields (the
/// schema's `times`, dotted paths) that it holds, not null.
pub fn event_time<'d, D: Doc<'d>>(doc: D, times: &[String]) -> Option<D> {
    times.iter().find_map(|path| {
        let t = path.split('.').try_fold(doc, |t, part| t.key(part))?;
        (!t.is_null()).then_some(t)
    })
}

/// Builds the alert of `rule` on `event`.
pub fn build<'a>(
    rule: &'a Rule,
    event: &'a Event,
    times: &[String],
    file: &'a str,
    with_event: bool,
) -> Alert<'a> {
    build_doc(
        rule,
        &event.value,
        times,
        From {
            source: event.source,
            file,
            line: event.line,
            via: event.via,
        },
        with_event.then(|| event.original.as_ref().unwrap_or(&event.value)),
    )
}

/// Builds the alert of `rule` on an event read through `doc`, which must
/// hold the rule's fields, its output's fields and the time field whole
/// (a full event, or an extraction with `alert_projection`).
pub fn build_doc<'a, 'd, D: Doc<'d>>(
    rule: &'a Rule,
    doc: D,
    times: &[String],
    from: From<'a>,
    event: Option<&'a Value>,
) -> Alert<'a> {
    let time = event_time(doc, times);
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
        id: rule.meta_id.as_deref(),
        status: rule.status.as_deref(),
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

/// What a rule's alert lines share, written once: the JSON up to the
/// source, and the `fields` object's keys in the order written.
#[derive(Debug)]
pub struct Template {
    /// `{"rule":…,"title":…,"severity":…,"tags":[…],"source":`
    head: Vec<u8>,
    /// Per field shown: its key as JSON with the colon after it, and its
    /// index in the rule's `fields`. In name order, a repeated name's last
    /// path winning: as a map keeps them.
    fields: Vec<(Vec<u8>, usize)>,
}

impl Template {
    pub fn new(rule: &Rule) -> Template {
        let mut head = Vec::new();
        let str = ward_compiler::json_text::write_str;
        head.extend_from_slice(b"{\"rule\":");
        str(&mut head, &rule.id);
        head.extend_from_slice(b",\"title\":");
        str(&mut head, &rule.title);
        if let Some(id) = &rule.meta_id {
            head.extend_from_slice(b",\"id\":");
            str(&mut head, id);
        }
        if let Some(status) = &rule.status {
            head.extend_from_slice(b",\"status\":");
            str(&mut head, status);
        }
        head.extend_from_slice(b",\"severity\":");
        str(&mut head, &rule.severity);
        head.extend_from_slice(b",\"tags\":");
        let _ = serde_json::to_writer(&mut head, &rule.tags);
        head.extend_from_slice(b",\"source\":");
        let mut order: Vec<usize> = (0..rule.fields.len()).collect();
        // Stable: among equal names the last stays last.
        order.sort_by(|&a, &b| rule.fields[a].0.cmp(&rule.fields[b].0));
        let fields = order
            .iter()
            .enumerate()
            .filter(|&(k, &i)| {
                order
                    .get(k + 1)
                    .is_none_or(|&next| rule.fields[next].0 != rule.fields[i].0)
            })
            .map(|(_, &i)| {
                let mut key = Vec::new();
                str(&mut key, &rule.fields[i].0);
                key.push(b':');
                (key, i)
            })
            .collect();
        Template { head, fields }
    }
}

/// The alert of `rule` on an event read through `doc`, as one line of JSON
/// appended to `out`, written straight from the document: the bytes
/// `to_json` gives for the [`build_doc`] alert (with `window` set), without
/// building its values. `tpl` is the rule's [`Template`].
#[allow(clippy::too_many_arguments)]
pub fn write_line<'d, D: Doc<'d>>(
    out: &mut Vec<u8>,
    rule: &Rule,
    tpl: &Template,
    doc: D,
    times: &[String],
    from: From<'_>,
    window: Option<&crate::state::Window>,
    event: Option<EventJson<'_>>,
) {
    let str = ward_compiler::json_text::write_str;
    out.extend_from_slice(&tpl.head);
    str(out, from.source);
    out.extend_from_slice(b",\"time\":");
    match event_time(doc, times) {
        Some(t) => t.write_json(out),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"output\":");
    write_output(out, &rule.output, doc);
    out.extend_from_slice(b",\"fields\":{");
    for (n, (key, i)) in tpl.fields.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(key);
        match get(doc, &[], &rule.fields[*i].1) {
            Some(v) => v.write_json(out),
            None => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b"},\"input\":{\"file\":");
    str(out, from.file);
    out.extend_from_slice(b",\"line\":");
    // Written in place: no String per alert.
    let _ = std::io::Write::write_fmt(out, format_args!("{}", from.line));
    out.extend_from_slice(b",\"via\":\"");
    out.extend_from_slice(from.via.name().as_bytes());
    out.extend_from_slice(b"\"}");
    if let Some(w) = window {
        out.extend_from_slice(b",\"window\":");
        let _ = serde_json::to_writer(&mut *out, w);
    }
    match event {
        Some(EventJson::Value(v)) => {
            out.extend_from_slice(b",\"event\":");
            let _ = serde_json::to_writer(&mut *out, v);
        }
        Some(EventJson::Line(text)) => {
            out.extend_from_slice(b",\"event\":");
            out.extend_from_slice(text.trim_matches([' ', '\t', '\n', '\r']).as_bytes());
        }
        None => {}
    }
    out.push(b'}');
}

/// Renders an output template: strings as text, missing and null as
/// nothing, anything else as compact JSON.
pub fn render<'d, D: Doc<'d>>(pieces: &[OutPiece], event: D) -> String {
    let mut out = Vec::new();
    each_piece(pieces, event, &mut |text| out.extend_from_slice(text));
    // Pieces are UTF-8 text and JSON written from UTF-8 text.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`render`] as a JSON string, written straight into `out`: escaping
/// text piece by piece is escaping it whole.
fn write_output<'d, D: Doc<'d>>(out: &mut Vec<u8>, pieces: &[OutPiece], event: D) {
    out.push(b'"');
    each_piece(pieces, event, &mut |text| {
        ward_compiler::json_text::escape_into(out, text)
    });
    out.push(b'"');
}

/// The rendered text of each piece of an output template, in order.
fn each_piece<'d, D: Doc<'d>>(pieces: &[OutPiece], event: D, f: &mut dyn FnMut(&[u8])) {
    for p in pieces {
        match p {
            OutPiece::Text(t) => f(t.as_bytes()),
            OutPiece::Field(path) => match get(event, &[], path) {
                None => {}
                Some(v) => match v.kind() {
                    Kind::Null => {}
                    Kind::Str(s) => f(s.as_bytes()),
                    _ => {
                        let mut json = Vec::new();
                        v.write_json(&mut json);
                        f(&json);
                    }
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use ward_compiler::{check, load, lower, schema};

    fn rule() -> Rule {
        let text = r#"source k8s.audit
rule r {
  title "t \"quoted\" é"
  id "5b2e3c1a-7f7e-4a55-9d3f-0c1d7b2f4a11"
  status stable
  severity high
  tags ["a", "b"]
  when verb == "get" and any c in requestObject.spec.containers: c.image != ""
  output "{user.username} {requestObject.spec.containers} {responseStatus.code} [{user.uid}{objectRef.name}]"
}
"#;
        let loaded = load::load_texts(&[("r.ward", text)]);
        assert_eq!(check(&loaded, schema::bundled()).errors(), 0);
        lower::lower(&loaded).rules.remove(0)
    }

    fn event() -> Value {
        json!({"kind": "Event", "verb": "get", "user": {"username": "ä\u{1}\"x\\\n\t\r\u{8}\u{c}\u{1f}\u{7f}/", "uid": null},
            "stageTimestamp": "2024-01-02T03:04:05Z", "responseStatus": {"code": 200.5},
            "requestObject": {"spec": {"containers": [
                {"zeta": 1, "image": "a", "alpha": [true, null, 1e300, -0.0, 12345678901234u64,
                    12345678901234567891u64, -9007199254740993i64]},
                {"image": "b\n", "env": {"b": 1, "a": 2}}]}}})
    }

    fn from() -> From<'static> {
        From {
            source: "k8s.audit",
            file: "f \"1\"",
            line: 7,
            via: Via::EksCloudwatch,
        }
    }

    fn written<'d, D: Doc<'d>>(rule: &Rule, doc: D, event: Option<EventJson<'_>>) -> Vec<u8> {
        let mut out = Vec::new();
        let tpl = Template::new(rule);
        write_line(
            &mut out,
            rule,
            &tpl,
            doc,
            &["stageTimestamp".to_string()],
            from(),
            None,
            event,
        );
        out
    }

    /// The written line is the serialised [`Alert`], byte for byte, from a
    /// full event and from an extraction of the alert's fields.
    #[test]
    fn written_lines_are_the_serialised_alert() {
        let rule = rule();
        let ev = event();
        let want = serde_json::to_string(&build_doc(
            &rule,
            &ev,
            &["stageTimestamp".to_string()],
            from(),
            Some(&ev),
        ))
        .expect("json");
        let got = written(&rule, &ev, Some(EventJson::Value(&ev)));
        assert_eq!(String::from_utf8_lossy(&got), want);
        assert!(
            want.contains(
                r#""id":"5b2e3c1a-7f7e-4a55-9d3f-0c1d7b2f4a11","status":"stable","severity":"high""#
            ),
            "{want}"
        );

        let text = serde_json::to_vec(&ev).expect("json");
        let mut proj = ward_compiler::plan::Projection::default();
        for (_, f) in &rule.fields {
            let steps: Vec<Option<&str>> = f
                .segs
                .iter()
                .map(|s| match s {
                    lower::Seg::Key(k) => Some(k.as_str()),
                    lower::Seg::Index(_) => None,
                })
                .collect();
            proj.insert(&steps);
        }
        proj.insert(&[Some("stageTimestamp")]);
        let line = std::str::from_utf8(&text).expect("utf-8");
        // Whole values built in the extraction, and read again whole from
        // the text where the extraction kept only their projected keys.
        let entire = crate::extract::extract_entire(&text, &proj).expect("json");
        let got = written(&rule, entire.root(), Some(EventJson::Line(line)));
        assert_eq!(String::from_utf8_lossy(&got), want);
        proj.insert(&[
            Some("requestObject"),
            Some("spec"),
            Some("containers"),
            None,
            Some("image"),
        ]);
        let matching = crate::extract::extract(&text, &proj).expect("json");
        let got = written(&rule, matching.root(), Some(EventJson::Line(line)));
        assert_eq!(String::from_utf8_lossy(&got), want);
    }

    #[test]
    fn a_line_is_written_as_it_is() {
        let rule = rule();
        let line = " \t{\"verb\": \"get\", \"n\": [1, 2.50, {\"é\": \"\\u00e9\"}]}\r\n";
        let ev: Value = serde_json::from_str(line).expect("json");
        let got = written(&rule, &ev, Some(EventJson::Line(line)));
        let got = String::from_utf8(got).expect("utf-8");
        assert!(
            got.ends_with(
                ",\"event\":{\"verb\": \"get\", \"n\": [1, 2.50, {\"é\": \"\\u00e9\"}]}}"
            ),
            "the text as read, without the whitespace around it: {got}"
        );
        let v: Value = serde_json::from_str(&got).expect("one JSON object");
        assert_eq!(v["event"], ev);
        let none: Value = serde_json::from_slice(&written(&rule, &ev, None)).expect("json");
        assert!(none.get("event").is_none());
    }
}

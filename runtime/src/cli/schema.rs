//! `ward schema`: browse the event schemas.

use std::io::Write;

use ward_compiler::check::suggest;
use ward_compiler::schema;

use super::{EXIT_CLEAN, EXIT_USAGE};

pub(super) fn run(
    source: Option<&str>,
    prefix: Option<&str>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, Box<dyn std::error::Error>> {
    let schemas = schema::bundled();
    let Some(source) = source else {
        for name in schemas.names() {
            if let Some(s) = schemas.get(name) {
                writeln!(out, "{name:<16} {}", s.doc)?;
            }
        }
        return Ok(EXIT_CLEAN);
    };
    let Some(s) = schemas.get(source) else {
        let hint = suggest::closest(source, schemas.names())
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        writeln!(
            err,
            "ward: unknown source `{source}`{hint}; sources: {}",
            schemas.names().collect::<Vec<_>>().join(", ")
        )?;
        return Ok(EXIT_USAGE);
    };
    let fields = s.flatten();
    let shown: Vec<_> = fields
        .iter()
        .filter(|(path, _)| {
            prefix.is_none_or(|p| {
                path == p
                    || path.starts_with(&format!("{p}."))
                    || path.starts_with(&format!("{p}["))
                    || path.starts_with(&format!("{p}<"))
            })
        })
        .collect();
    if shown.is_empty() {
        let p = prefix.unwrap_or_default();
        let hint = suggest::closest(p, fields.iter().map(|(path, _)| path.as_str()))
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        writeln!(err, "ward: {source} has no field `{p}`{hint}")?;
        return Ok(EXIT_USAGE);
    }
    let width = shown
        .iter()
        .map(|(p, _)| p.len())
        .max()
        .unwrap_or(0)
        .min(60);
    for (path, f) in shown {
        let ty = f.ty.to_string();
        writeln!(out, "{path:<width$}  {ty:<16} {}", f.doc)?;
    }
    Ok(EXIT_CLEAN)
}

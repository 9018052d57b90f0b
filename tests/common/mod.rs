//! Helpers shared by the end-to-end tests: run the CLI in-process.
// Each test crate uses a different subset.
#![allow(dead_code)]

/// Runs `ward ARGS...` with `stdin`; returns (exit code, stdout, stderr).
pub fn ward_in(args: &[&str], stdin: &[u8]) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("ward").chain(args.iter().copied());
    let code = ward_runtime::cli::run_io(argv, &mut &stdin[..], &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// Runs `ward ARGS...` with an empty stdin.
pub fn ward(args: &[&str]) -> (u8, String, String) {
    ward_in(args, b"")
}

/// A fresh temporary directory holding `files` (path relative to it, text).
pub fn dir(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ward-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for (f, text) in files {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().expect("file in a dir")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    d
}

/// Checks `v` against the subset of JSON Schema spec/alerts.md uses.
pub fn conforms(schema: &serde_json::Value, v: &serde_json::Value, at: &str) -> Result<(), String> {
    if let Some(t) = schema.get("type") {
        let kinds: Vec<&str> = match t {
            serde_json::Value::String(s) => vec![s.as_str()],
            serde_json::Value::Array(a) => a.iter().filter_map(serde_json::Value::as_str).collect(),
            _ => vec![],
        };
        let ok = kinds.iter().any(|k| match *k {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.is_u64() || v.is_i64(),
            "null" => v.is_null(),
            _ => false,
        });
        if !ok {
            return Err(format!("{at}: {v} is not {kinds:?}"));
        }
    }
    if let Some(serde_json::Value::Array(allowed)) = schema.get("enum") {
        if !allowed.contains(v) {
            return Err(format!("{at}: {v} not in enum"));
        }
    }
    if let Some(serde_json::Value::Array(req)) = schema.get("required") {
        for r in req.iter().filter_map(serde_json::Value::as_str) {
            if v.get(r).is_none() {
                return Err(format!("{at}: missing {r}"));
            }
        }
    }
    if let (Some(serde_json::Value::Object(props)), Some(obj)) =
        (schema.get("properties"), v.as_object())
    {
        for (k, val) in obj {
            match props.get(k) {
                Some(s) => conforms(s, val, &format!("{at}.{k}"))?,
                None if schema.get("additionalProperties")
                    == Some(&serde_json::Value::Bool(false)) =>
                {
                    return Err(format!("{at}: unexpected {k}"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            conforms(items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The JSON Schema titled `title` in spec/alerts.md.
pub fn alerts_schema(title: &str) -> serde_json::Value {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/alerts.md"),
    )
    .expect("spec/alerts.md");
    doc.split("```json")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .find(|s| s["title"] == title)
        .unwrap_or_else(|| panic!("spec/alerts.md has no JSON Schema titled {title:?}"))
}

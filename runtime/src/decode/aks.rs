//! Azure Monitor diagnostic records of AKS: the audit event as a JSON
//! string in `properties.log`, one record per line or in a `records`
//! array as Event Hubs and storage-account exports deliver them.

use serde_json::{Map, Value};

/// The diagnostic categories that hold audit events.
const AUDIT_CATEGORIES: [&str; 2] = ["kube-audit", "kube-audit-admin"];

/// Whether an object is an Azure diagnostic record: a `category` and the
/// `properties` it logged (or, exported from a Log Analytics
/// `AzureDiagnostics` table, `Category` and `log_s`).
pub fn is_record(m: &Map<String, Value>) -> bool {
    let category = m.get("category").or_else(|| m.get("Category"));
    category.is_some_and(Value::is_string)
        && (m.get("properties").is_some_and(Value::is_object) || m.contains_key("log_s"))
}

/// The audit event text of a record, or why the record holds none.
pub fn audit_event(m: &Map<String, Value>) -> Result<Result<Value, String>, String> {
    let category = m
        .get("category")
        .or_else(|| m.get("Category"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !AUDIT_CATEGORIES
        .iter()
        .any(|c| c.eq_ignore_ascii_case(category))
    {
        return Err(format!(
            "an Azure diagnostic record of category {category}; only kube-audit and \
             kube-audit-admin records hold audit events"
        ));
    }
    let log = m
        .get("properties")
        .and_then(|p| p.get("log"))
        .or_else(|| m.get("log_s"));
    match log {
        Some(Value::String(text)) => Ok(serde_json::from_str(text).map_err(|e| e.to_string())),
        // Some exporters parse the string for us.
        Some(v @ Value::Object(_)) => Ok(Ok(v.clone())),
        _ => Err(format!(
            "an Azure diagnostic record of category {category} without `properties.log`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn reads_the_event_string() {
        let r = map(
            json!({"category": "kube-audit", "time": "2024-01-01T00:00:00Z",
            "properties": {"log": "{\"kind\":\"Event\",\"verb\":\"get\"}\n", "stream": "stdout"}}),
        );
        assert!(is_record(&r));
        assert_eq!(
            audit_event(&r),
            Ok(Ok(json!({"kind": "Event", "verb": "get"})))
        );
        let r = map(json!({"Category": "kube-audit-admin", "log_s": "{\"verb\":\"create\"}"}));
        assert!(is_record(&r));
        assert_eq!(audit_event(&r), Ok(Ok(json!({"verb": "create"}))));
    }

    #[test]
    fn other_categories_say_so() {
        let r = map(json!({"category": "kube-apiserver", "properties": {"log": "I0101 started"}}));
        assert!(is_record(&r));
        let why = audit_event(&r).unwrap_err();
        assert!(why.contains("category kube-apiserver"), "{why}");
        let r = map(json!({"category": "kube-audit", "properties": {}}));
        assert!(audit_event(&r)
            .unwrap_err()
            .contains("without `properties.log`"));
        assert!(!is_record(&map(json!({"category": "x"}))));
    }
}

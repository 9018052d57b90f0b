//! GKE Cloud Audit Logs (`protoPayload.serviceName == "k8s.io"`) mapped onto
//! the audit.k8s.io/v1 Event shape, as Falco's k8saudit-gke plugin does.
//!
//! GKE logs no HTTP status, only a gRPC code; `responseStatus.code` is the
//! standard google.rpc-to-HTTP mapping (spec/alerts.md lists it), with one
//! addition: a successful exec/attach/portforward is 101, as the API server
//! logs the upgraded connection.

use serde_json::{json, Map, Value};

/// Whether a LogEntry is a GKE Kubernetes API audit entry.
pub fn is_gke_k8s(v: &Value) -> bool {
    v.pointer("/protoPayload/serviceName")
        .and_then(Value::as_str)
        == Some("k8s.io")
}

/// HTTP status for a gRPC code (google.rpc.Code).
pub fn http_status(grpc: i64) -> i64 {
    match grpc {
        0 => 200,
        1 => 499,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => 500,
    }
}

/// Maps a GKE LogEntry to an audit Event.
pub fn to_audit_event(entry: &Value) -> Value {
    let p = &entry["protoPayload"];
    let method = p["methodName"].as_str().unwrap_or_default();
    let verb = method.rsplit('.').next().unwrap_or_default().to_string();
    let resource_name = p["resourceName"].as_str().unwrap_or_default();
    let object_ref = object_ref(resource_name);
    let subresource = object_ref
        .get("subresource")
        .and_then(Value::as_str)
        .map(str::to_string);
    let grpc = p
        .pointer("/status/code")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let mut code = http_status(grpc);
    if grpc == 0
        && matches!(
            subresource.as_deref(),
            Some("exec" | "attach" | "portforward")
        )
    {
        code = 101;
    }
    let time = entry["timestamp"].clone();
    let mut ev = Map::new();
    ev.insert("kind".into(), json!("Event"));
    ev.insert("apiVersion".into(), json!("audit.k8s.io/v1"));
    let level = if p.get("request").is_some_and(|r| !r.is_null()) {
        "RequestResponse"
    } else {
        "Metadata"
    };
    ev.insert("level".into(), json!(level));
    ev.insert(
        "auditID".into(),
        entry.get("insertId").cloned().unwrap_or(Value::Null),
    );
    ev.insert("stage".into(), json!("ResponseComplete"));
    ev.insert(
        "requestURI".into(),
        json!(request_uri(resource_name, &object_ref)),
    );
    ev.insert("verb".into(), json!(verb));
    ev.insert("user".into(), json!({"username": p.pointer("/authenticationInfo/principalEmail").cloned().unwrap_or(Value::Null)}));
    if let Some(ip) = p.pointer("/requestMetadata/callerIp") {
        ev.insert("sourceIPs".into(), json!([ip]));
    }
    if let Some(ua) = p.pointer("/requestMetadata/callerSuppliedUserAgent") {
        ev.insert("userAgent".into(), ua.clone());
    }
    if !object_ref.is_empty() {
        ev.insert("objectRef".into(), Value::Object(object_ref));
    }
    let mut status = Map::new();
    status.insert("code".into(), json!(code));
    if let Some(m) = p
        .pointer("/status/message")
        .filter(|m| m.as_str().is_some_and(|s| !s.is_empty()))
    {
        status.insert("message".into(), m.clone());
    }
    ev.insert("responseStatus".into(), Value::Object(status));
    for (from, to) in [("request", "requestObject"), ("response", "responseObject")] {
        if let Some(Value::Object(o)) = p.get(from) {
            let mut o = o.clone();
            o.remove("@type");
            ev.insert(to.into(), Value::Object(o));
        }
    }
    ev.insert("requestReceivedTimestamp".into(), time.clone());
    ev.insert("stageTimestamp".into(), time);
    if let Some(labels) = entry.get("labels") {
        ev.insert("annotations".into(), labels.clone());
    }
    Value::Object(ev)
}

/// `core/v1/namespaces/ns/pods/name/exec` or `rbac.authorization.k8s.io/v1/clusterrolebindings/name`.
fn object_ref(resource_name: &str) -> Map<String, Value> {
    let parts: Vec<&str> = resource_name.split('/').filter(|s| !s.is_empty()).collect();
    let mut r = Map::new();
    if parts.len() < 3 {
        return r;
    }
    let (group, version) = (parts[0], parts[1]);
    let rest = &parts[2..];
    let (namespace, rest) = match rest {
        ["namespaces", ns, more @ ..] if !more.is_empty() => (Some(*ns), more),
        _ => (None, rest),
    };
    let Some((resource, tail)) = rest.split_first() else {
        return r;
    };
    r.insert("resource".into(), json!(resource));
    if let Some(ns) = namespace {
        r.insert("namespace".into(), json!(ns));
    }
    if let Some(name) = tail.first() {
        r.insert("name".into(), json!(name));
    }
    if let Some(sub) = tail.get(1) {
        r.insert("subresource".into(), json!(sub));
    }
    r.insert(
        "apiGroup".into(),
        json!(if group == "core" { "" } else { group }),
    );
    r.insert("apiVersion".into(), json!(version));
    r
}

/// The request path the API server would have logged.
fn request_uri(resource_name: &str, r: &Map<String, Value>) -> String {
    let Some((group, rest)) = resource_name.split_once('/') else {
        return format!("/{resource_name}");
    };
    if r.is_empty() {
        return format!("/{resource_name}");
    }
    if group == "core" {
        format!("/api/{rest}")
    } else {
        format!("/apis/{resource_name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_an_exec() {
        let entry = json!({
            "insertId": "abc",
            "timestamp": "2024-01-02T03:04:05.123456Z",
            "labels": {"authorization.k8s.io/decision": "allow"},
            "protoPayload": {
                "serviceName": "k8s.io",
                "methodName": "io.k8s.core.v1.pods.exec.create",
                "resourceName": "core/v1/namespaces/prod/pods/web-1/exec",
                "authenticationInfo": {"principalEmail": "alice@example.com"},
                "requestMetadata": {"callerIp": "203.0.113.7", "callerSuppliedUserAgent": "kubectl/v1.29.0"},
                "status": {}
            }
        });
        let ev = to_audit_event(&entry);
        assert_eq!(ev["verb"], "create");
        assert_eq!(
            ev["objectRef"],
            json!({"resource": "pods", "namespace": "prod", "name": "web-1", "subresource": "exec", "apiGroup": "", "apiVersion": "v1"})
        );
        assert_eq!(ev["requestURI"], "/api/v1/namespaces/prod/pods/web-1/exec");
        assert_eq!(ev["responseStatus"]["code"], 101);
        assert_eq!(ev["user"]["username"], "alice@example.com");
        assert_eq!(ev["sourceIPs"], json!(["203.0.113.7"]));
        assert_eq!(ev["annotations"]["authorization.k8s.io/decision"], "allow");
    }

    #[test]
    fn maps_cluster_scoped_and_denied() {
        let entry = json!({"protoPayload": {
            "serviceName": "k8s.io",
            "methodName": "io.k8s.authorization.rbac.v1.clusterrolebindings.create",
            "resourceName": "rbac.authorization.k8s.io/v1/clusterrolebindings/evil",
            "status": {"code": 7, "message": "forbidden"}
        }});
        let ev = to_audit_event(&entry);
        assert_eq!(ev["objectRef"]["resource"], "clusterrolebindings");
        assert_eq!(ev["objectRef"]["apiGroup"], "rbac.authorization.k8s.io");
        assert!(ev["objectRef"].get("namespace").is_none());
        assert_eq!(ev["responseStatus"]["code"], 403);
        assert_eq!(
            ev["requestURI"],
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/evil"
        );
    }
}

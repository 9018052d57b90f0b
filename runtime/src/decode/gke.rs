//! GKE Cloud Audit Logs (`protoPayload.serviceName == "k8s.io"`) mapped onto
//! the audit.k8s.io/v1 Event shape, as Falco's k8saudit-gke plugin does.
//!
//! GKE logs no HTTP status, only a gRPC code; `responseStatus.code` is the
//! standard google.rpc-to-HTTP mapping (spec/alerts.md lists it), with one
//! addition: a successful exec/attach/portforward is 101, as the API server
//! logs the upgraded connection.

use serde_json::{json, Map, Value};

/// Whether a LogEntry is a GKE Kubernetes API audit entry: of service
/// `k8s.io`, or, where an export dropped `serviceName`, of a Kubernetes
/// method (`io.k8s.core.v1.pods.create`).
pub fn is_gke_k8s(v: &Value) -> bool {
    let Some(p) = v.get("protoPayload") else {
        return false;
    };
    match p.get("serviceName").and_then(Value::as_str) {
        Some(service) => service == "k8s.io",
        None => p
            .get("methodName")
            .and_then(Value::as_str)
            .is_some_and(|m| m.starts_with("io.k8s.")),
    }
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
    let logged = p["resourceName"].as_str().filter(|r| !r.is_empty());
    // No resourceName (some exports drop it): what the method names.
    let derived = logged
        .is_none()
        .then(|| resource_of_method(method))
        .flatten();
    let resource_name = match (&logged, &derived) {
        (Some(r), _) => r,
        (None, Some((r, _))) => r.as_str(),
        (None, None) => "",
    };
    let mut object_ref = object_ref(resource_name);
    if let Some((_, Some(sub))) = &derived {
        object_ref.insert("subresource".into(), json!(sub));
    }
    let subresource = object_ref
        .get("subresource")
        .and_then(Value::as_str)
        .map(str::to_string);
    let grpc = p
        .pointer("/status/code")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // Allowed entries log an empty status; a refusal the authorizer logged
    // without one is still a refusal.
    let refused = p
        .get("authorizationInfo")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|i| i.get("granted") == Some(&json!(false))));
    let mut code = match (grpc, refused) {
        (0, true) => 403,
        _ => http_status(grpc),
    };
    if grpc == 0
        && matches!(
            subresource.as_deref(),
            Some("exec" | "attach" | "portforward")
        )
    {
        code = 101;
    }
    let time = ["timestamp", "receiveTimestamp"]
        .into_iter()
        .find_map(|k| entry.get(k).filter(|t| !t.is_null()))
        .cloned()
        .unwrap_or(Value::Null);
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
    let (user, impersonated) = users(&p["authenticationInfo"]);
    ev.insert("user".into(), user);
    if let Some(target) = impersonated {
        ev.insert("impersonatedUser".into(), target);
    }
    // `callerIP` in some SIEM re-exports.
    let meta = &p["requestMetadata"];
    if let Some(ip) = meta.get("callerIp").or_else(|| meta.get("callerIP")) {
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
            // Panther writes `@type` as `at_sign_type`.
            o.remove("@type");
            o.remove("at_sign_type");
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

/// The caller, and whom they acted as.
///
/// An entry without a principal is an anonymous request (GKE logs
/// `system:anonymous` as the principal, or only an `authoritySelector`);
/// it gets the user and group the API server gives anonymous requests.
/// With `serviceAccountDelegationInfo`, the principal is the service
/// account acted as and the first delegation the caller who did it: in
/// audit terms the user and the impersonated user.
fn users(auth: &Value) -> (Value, Option<Value>) {
    let principal = auth
        .get("principalEmail")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let Some(principal) = principal else {
        let anonymous = json!({
            "username": "system:anonymous",
            "groups": ["system:unauthenticated"],
        });
        return (anonymous, None);
    };
    let delegator = auth
        .get("serviceAccountDelegationInfo")
        .and_then(Value::as_array)
        .and_then(|d| d.first())
        .and_then(|d| {
            let first = d.pointer("/firstPartyPrincipal/principalEmail");
            first.or_else(|| d.get("principalSubject"))?.as_str()
        });
    let mut user = json!({ "username": principal });
    if principal == "system:anonymous" {
        user["groups"] = json!(["system:unauthenticated"]);
    }
    match delegator {
        Some(caller) => (json!({ "username": caller }), Some(user)),
        None => (user, None),
    }
}

/// The resource a Kubernetes method acts on, as a `resourceName` without
/// namespace or name: `io.k8s.core.v1.pods.exec.create` ->
/// `core/v1/pods` and subresource `exec`,
/// `io.k8s.authorization.rbac.v1.clusterrolebindings.create` ->
/// `rbac.authorization.k8s.io/v1/clusterrolebindings`. GKE writes a
/// group's name reversed and without `k8s.io`; the groups whose names have
/// no dots stay as they are.
fn resource_of_method(method: &str) -> Option<(String, Option<String>)> {
    let rest = method.strip_prefix("io.k8s.")?;
    let parts: Vec<&str> = rest.split('.').collect();
    let is_version = |p: &str| {
        let Some(n) = p.strip_prefix('v') else {
            return false;
        };
        let digits = n.bytes().take_while(u8::is_ascii_digit).count();
        let tail = &n[digits..];
        digits > 0
            && (tail.is_empty()
                || ["alpha", "beta"].iter().any(|s| {
                    tail.strip_prefix(s)
                        .is_some_and(|d| d.bytes().all(|b| b.is_ascii_digit()))
                }))
    };
    let v = parts.iter().position(|p| is_version(p))?;
    // group . version . resource [. subresource] . verb
    let (group, after) = (&parts[..v], &parts[v + 1..]);
    if group.is_empty() || after.len() < 2 {
        return None;
    }
    let group = match group {
        ["core"] => "core".to_string(),
        [g @ ("apps" | "batch" | "autoscaling" | "policy" | "extensions")] => g.to_string(),
        more => {
            let mut names: Vec<&str> = more.to_vec();
            names.reverse();
            format!("{}.k8s.io", names.join("."))
        }
    };
    let sub = (after.len() > 2).then(|| after[1..after.len() - 1].join("/"));
    Some((format!("{group}/{}/{}", parts[v], after[0]), sub))
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
    fn anonymous_requests() {
        for auth in [
            json!({"principalEmail": "system:anonymous"}),
            json!({"authoritySelector": "system:anonymous"}),
            json!({"principalEmail": ""}),
            json!({}),
        ] {
            let entry = json!({"protoPayload": {
                "serviceName": "k8s.io", "methodName": "io.k8s.core.v1.secrets.list",
                "resourceName": "core/v1/secrets", "authenticationInfo": auth, "status": {}
            }});
            let ev = to_audit_event(&entry);
            assert_eq!(
                ev["user"],
                json!({"username": "system:anonymous", "groups": ["system:unauthenticated"]}),
                "{auth}"
            );
        }
    }

    #[test]
    fn health_probes_keep_their_paths() {
        for (resource, uri) in [
            ("readyz", "/readyz"),
            ("healthz", "/healthz"),
            ("livez", "/livez"),
            ("version", "/version"),
            ("healthz/etcd", "/healthz/etcd"),
            ("api/v1", "/api/v1"),
        ] {
            let entry = json!({"protoPayload": {
                "serviceName": "k8s.io", "methodName": "io.k8s.get", "resourceName": resource,
                "authenticationInfo": {"principalEmail": "system:anonymous"}, "status": {}
            }});
            let ev = to_audit_event(&entry);
            assert_eq!(ev["requestURI"], uri);
            assert_eq!(ev["verb"], "get");
            assert!(ev.get("objectRef").is_none(), "{ev}");
        }
    }

    #[test]
    fn a_refusal_without_a_status_is_403() {
        let entry = |granted: bool, status: Value| {
            json!({"protoPayload": {
                "serviceName": "k8s.io", "methodName": "io.k8s.get", "resourceName": "HNAP1",
                "authorizationInfo": [{"granted": granted, "permission": "io.k8s.get"}],
                "status": status
            }})
        };
        let code = |e: &Value| to_audit_event(e)["responseStatus"]["code"].clone();
        assert_eq!(code(&entry(false, json!({}))), 403);
        assert_eq!(code(&entry(false, json!({"code": 7}))), 403);
        assert_eq!(code(&entry(false, json!({"code": 5}))), 404);
        assert_eq!(code(&entry(true, json!({}))), 200);
    }

    #[test]
    fn delegation_is_impersonation() {
        let entry = json!({"protoPayload": {
            "serviceName": "k8s.io", "methodName": "io.k8s.core.v1.secrets.get",
            "resourceName": "core/v1/namespaces/prod/secrets/db",
            "authenticationInfo": {
                "principalEmail": "deployer@proj.iam.gserviceaccount.com",
                "serviceAccountDelegationInfo": [
                    {"firstPartyPrincipal": {"principalEmail": "mallory@example.com"}}
                ]
            },
            "requestMetadata": {"callerIP": "198.51.100.4"},
            "status": {}
        }});
        let ev = to_audit_event(&entry);
        assert_eq!(ev["user"], json!({"username": "mallory@example.com"}));
        assert_eq!(
            ev["impersonatedUser"],
            json!({"username": "deployer@proj.iam.gserviceaccount.com"})
        );
        assert_eq!(ev["sourceIPs"], json!(["198.51.100.4"]));
    }

    #[test]
    fn entries_without_service_name_are_known_by_method() {
        let no_service = json!({"protoPayload": {"methodName": "io.k8s.core.v1.pods.create"}});
        assert!(is_gke_k8s(&no_service));
        let other = json!({"protoPayload": {"methodName": "google.container.v1.ClusterManager.CreateCluster"}});
        assert!(!is_gke_k8s(&other));
        let named = json!({"protoPayload": {"serviceName": "container.googleapis.com",
                                            "methodName": "io.k8s.core.v1.pods.create"}});
        assert!(!is_gke_k8s(&named));
    }

    #[test]
    fn the_method_names_the_resource_when_no_resource_name_is_logged() {
        for (method, resource, group, sub, uri) in [
            (
                "io.k8s.core.v1.componentstatuses.list",
                "componentstatuses",
                "",
                None,
                "/api/v1/componentstatuses",
            ),
            (
                "io.k8s.core.v1.pods.exec.create",
                "pods",
                "",
                Some("exec"),
                "/api/v1/pods",
            ),
            (
                "io.k8s.authorization.rbac.v1.clusterrolebindings.create",
                "clusterrolebindings",
                "rbac.authorization.k8s.io",
                None,
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            ),
            (
                "io.k8s.apps.v1.deployments.patch",
                "deployments",
                "apps",
                None,
                "/apis/apps/v1/deployments",
            ),
            (
                "io.k8s.networking.v1beta1.ingresses.create",
                "ingresses",
                "networking.k8s.io",
                None,
                "/apis/networking.k8s.io/v1beta1/ingresses",
            ),
        ] {
            let entry = json!({"protoPayload": {"methodName": method, "status": {}}});
            let ev = to_audit_event(&entry);
            assert_eq!(ev["objectRef"]["resource"], resource, "{method}");
            assert_eq!(ev["objectRef"]["apiGroup"], group, "{method}");
            assert_eq!(
                ev["objectRef"].get("subresource").and_then(Value::as_str),
                sub,
                "{method}"
            );
            assert_eq!(ev["requestURI"], uri, "{method}");
        }
        // Not a resource method: nothing derived.
        let entry = json!({"protoPayload": {"methodName": "io.k8s.get", "status": {}}});
        assert!(to_audit_event(&entry).get("objectRef").is_none());
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

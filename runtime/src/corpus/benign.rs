//! Benign Kubernetes audit traffic of a busy production cluster: the
//! background against which false-positive rates of the bundled rules are
//! measured. No attacks; but the refusals and permission checks of ordinary
//! work are there (section 10): people whose Role is limited to their own
//! namespace refused a cluster-wide `kubectl get`, operators deployed
//! without enough RBAC retrying one refused request for a long time, the
//! Kubernetes Dashboard and `kubectl auth can-i` sending
//! SelfSubjectAccessReviews, and now and then an unauthenticated request
//! from inside the network refused.

use super::*;
use std::fmt::Write;

/// An event being written: its JSON text without level, body and closing brace.
struct Ev {
    s: String,
    level: &'static str,
    obj: Option<Value>,
}

impl Ev {
    fn finish(mut self) -> String {
        let _ = write!(self.s, r#","level":"{}""#, self.level);
        if let Some(obj) = &self.obj {
            let _ = write!(self.s, r#","requestObject":{}"#, text(obj));
        }
        self.s.push('}');
        self.s
    }
}

/// A JSON string literal.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// Benign audit events of a busy cluster, one JSON document per string (no trailing newline), deterministic per seed, in time order.
pub fn benign_k8s(seed: u64) -> impl Iterator<Item = String> {
    let mut g = Gen {
        r: Rng::new(seed),
        now: START_US,
        rv: 91_204_551,
        due: Vec::new(),
    };
    g.start_processes();
    std::iter::from_fn(move || Some(g.event().finish()))
}

const KV: &str = "v1.29.3-eks-adc7111 (linux/amd64) kubernetes/e3a5d4f";
const KUBECTL: &[&str] = &[
    "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
    "kubectl/v1.29.3 (darwin/arm64) kubernetes/6813625",
];
const APP_NS: &[&str] = &["production", "staging", "payments", "default"];
const APPS: &[&str] = &[
    "web",
    "api",
    "checkout",
    "payments-api",
    "frontend",
    "worker",
    "cart",
    "search",
];
const NODES: &[&str] = &[
    "ip-10-0-1-23.ec2.internal",
    "ip-10-0-2-117.ec2.internal",
    "ip-10-0-3-45.ec2.internal",
    "ip-10-0-1-201.ec2.internal",
    "ip-10-0-2-88.ec2.internal",
    "ip-10-0-3-154.ec2.internal",
];
const COORD: &str = "coordination.k8s.io";
const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

/// A requester.
#[derive(Clone)]
struct Who {
    name: String,
    uid: Option<String>,
    groups: Vec<String>,
    agent: String,
    ip: String,
    reason: String,
}

fn who(name: &str, groups: &[&str], agent: &str, ip: &str, reason: String) -> Who {
    Who {
        name: name.into(),
        uid: None,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        agent: agent.into(),
        ip: ip.into(),
        reason,
    }
}

fn rbac(role: &str, name: &str) -> String {
    let subject = if let Some(sa) = name.strip_prefix("system:serviceaccount:") {
        let (ns, n) = sa.split_once(':').unwrap_or(("default", sa));
        format!("ServiceAccount \"{n}/{ns}\"")
    } else {
        format!("User \"{name}\"")
    };
    format!("RBAC: allowed by ClusterRoleBinding \"{role}\" of ClusterRole \"{role}\" to {subject}")
}

/// What a request targets.
struct T {
    res: &'static str,
    group: &'static str,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<&'static str>,
    /// The request addresses the collection (a create, a watch with a
    /// `metadata.name` field selector): the name is not in the URI, but the
    /// API server still records it in objectRef.name.
    collection: bool,
}

fn t(res: &'static str, group: &'static str, ns: Option<&str>, name: Option<&str>) -> T {
    T {
        res,
        group,
        ns: ns.map(str::to_string),
        name: name.map(str::to_string),
        sub: None,
        collection: false,
    }
}

impl T {
    fn sub(mut self, sub: &'static str) -> T {
        self.sub = Some(sub);
        self
    }
    fn uri(&self, query: &str) -> String {
        let mut s = if self.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}/v1", self.group)
        };
        if let Some(ns) = &self.ns {
            s += "/namespaces/";
            s += ns;
        }
        let name = self.name.as_deref().filter(|_| !self.collection);
        for part in [Some(self.res), name, self.sub].into_iter().flatten() {
            s.push('/');
            s += part;
        }
        if !query.is_empty() {
            s.push('?');
            s += query;
        }
        s
    }
    fn what(&self) -> String {
        let gr = if self.group.is_empty() {
            self.res.to_string()
        } else {
            format!("{}.{}", self.res, self.group)
        };
        self.name
            .as_ref()
            .map_or(gr.clone(), |n| format!("{gr} \"{n}\""))
    }
}

// ---- generator ----------------------------------------------------------------

struct Gen {
    r: Rng,
    now: i64,
    rv: u64,
    /// Requests decided ahead, by the time they fall due: the rest of a
    /// burst, the next retry of a loop, the next session of a person.
    due: Vec<(i64, Due)>,
}

/// A request that falls due later; it may schedule others.
type Due = Box<dyn FnOnce(&mut Gen) -> Ev + Send>;

type Family = fn(&mut Gen) -> Ev;
const MIX: &[(u32, Family)] = &[
    (200, Gen::control_plane),
    (250, Gen::kubelet),
    (100, Gen::non_resource),
    (150, |g| g.act(KSYS)),
    (110, |g| g.act(ADDONS)),
    (40, |g| g.act(EKS)),
    (30, |g| g.act(GKE)),
    (30, Gen::ci),
    (60, Gen::human),
];

/// (weight, user, verb, resource, group, namespace, name, subresource). Namespace
/// "" is cluster scope, "*" an application namespace, "-" all namespaces; name ""
/// is none, "*" a generated one.
type Act = (
    u32,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);
const SA: &str = "system:serviceaccount:";
const KS: &str = "system:serviceaccount:kube-system:";

/// 3. kube-system service accounts.
#[rustfmt::skip]
const KSYS: &[Act] = &[
    (10, "replicaset-controller", "update", "replicasets", "apps", "*", "*", "status"),
    (6, "replicaset-controller", "create", "pods", "", "*", "", ""),
    (4, "replicaset-controller", "delete", "pods", "", "*", "*", ""),
    (3, "replicaset-controller", "watch", "replicasets", "apps", "-", "", ""),
    (8, "deployment-controller", "update", "deployments", "apps", "*", "*", "status"),
    (3, "deployment-controller", "create", "replicasets", "apps", "*", "", ""),
    (4, "deployment-controller", "update", "replicasets", "apps", "*", "*", ""),
    (3, "deployment-controller", "list", "replicasets", "apps", "*", "", ""),
    (10, "endpointslice-controller", "update", "endpointslices", "discovery.k8s.io", "*", "*", ""),
    (2, "endpointslice-controller", "create", "endpointslices", "discovery.k8s.io", "*", "", ""),
    (3, "endpointslice-controller", "watch", "services", "", "-", "", ""),
    (2, "namespace-controller", "list", "secrets", "", "pr-1842", "", ""),
    (2, "namespace-controller", "list", "configmaps", "", "pr-1842", "", ""),
    (1, "namespace-controller", "deletecollection", "pods", "", "pr-1842", "", ""),
    (1, "namespace-controller", "delete", "namespaces", "", "", "pr-1842", ""),
    (6, "generic-garbage-collector", "watch", "replicasets", "apps", "-", "", ""),
    (4, "generic-garbage-collector", "list", "secrets", "", "-", "", ""),
    (3, "generic-garbage-collector", "delete", "replicasets", "apps", "*", "*", ""),
    (3, "generic-garbage-collector", "delete", "pods", "", "*", "*", ""),
    (6, "coredns", "watch", "endpointslices", "discovery.k8s.io", "-", "", ""),
    (4, "coredns", "watch", "services", "", "-", "", ""),
    (2, "coredns", "list", "namespaces", "", "", "", ""),
    (5, "aws-node", "get", "nodes", "", "", "ip-10-0-2-117.ec2.internal", ""),
    (4, "aws-node", "watch", "pods", "", "-", "", ""),
    (2, "aws-node", "patch", "pods", "", "*", "*", ""),
    (6, "kube-proxy", "watch", "endpointslices", "discovery.k8s.io", "-", "", ""),
    (3, "kube-proxy", "watch", "services", "", "-", "", ""),
    (2, "kube-proxy", "get", "nodes", "", "", "ip-10-0-1-23.ec2.internal", ""),
    (5, "cluster-autoscaler", "list", "pods", "", "-", "", ""),
    (3, "cluster-autoscaler", "watch", "nodes", "", "", "", ""),
    (4, "cluster-autoscaler", "update", "configmaps", "", "kube-system", "cluster-autoscaler-status", ""),
    (4, "cluster-autoscaler", "update", "leases", COORD, "kube-system", "cluster-autoscaler", ""),
];

/// 4. Add-ons in their own namespaces (users are namespace:service-account).
#[rustfmt::skip]
const ADDONS: &[Act] = &[
    (6, "cert-manager:cert-manager", "update", "secrets", "", "*", "*", ""),
    (5, "cert-manager:cert-manager", "watch", "certificates", "cert-manager.io", "-", "", ""),
    (4, "cert-manager:cert-manager", "update", "certificates", "cert-manager.io", "*", "*", "status"),
    (4, "cert-manager:cert-manager", "update", "leases", COORD, "kube-system", "cert-manager-controller", ""),
    (2, "cert-manager:cert-manager-cainjector", "patch", "validatingwebhookconfigurations", "admissionregistration.k8s.io", "", "cert-manager-webhook", ""),
    (2, "cert-manager:cert-manager-cainjector", "patch", "mutatingwebhookconfigurations", "admissionregistration.k8s.io", "", "cert-manager-webhook", ""),
    (3, "cert-manager:cert-manager-cainjector", "get", "secrets", "", "cert-manager", "cert-manager-webhook-ca", ""),
    (6, "ingress-nginx:ingress-nginx", "watch", "ingresses", "networking.k8s.io", "-", "", ""),
    (4, "ingress-nginx:ingress-nginx", "update", "ingresses", "networking.k8s.io", "*", "*", "status"),
    (4, "ingress-nginx:ingress-nginx", "update", "leases", COORD, "ingress-nginx", "ingress-nginx-leader", ""),
    (4, "external-dns:external-dns", "list", "services", "", "-", "", ""),
    (4, "external-dns:external-dns", "list", "ingresses", "networking.k8s.io", "-", "", ""),
    (8, "argocd:argocd-application-controller", "get", "deployments", "apps", "*", "*", ""),
    (6, "argocd:argocd-application-controller", "watch", "deployments", "apps", "-", "", ""),
    (4, "argocd:argocd-application-controller", "list", "configmaps", "", "*", "", ""),
    (4, "argocd:argocd-application-controller", "patch", "applications", "argoproj.io", "argocd", "*", ""),
    (3, "argocd:argocd-application-controller", "patch", "deployments", "apps", "*", "*", ""),
    (8, "monitoring:prometheus-server", "get", "pods", "", "*", "*", ""),
    (6, "monitoring:prometheus-server", "watch", "endpointslices", "discovery.k8s.io", "-", "", ""),
    (6, "monitoring:kube-state-metrics", "list", "pods", "", "-", "", ""),
    (6, "logging:fluent-bit", "watch", "pods", "", "-", "", ""),
    (6, "logging:fluent-bit", "get", "pods", "", "*", "*", ""),
];

/// 5. EKS platform users.
#[rustfmt::skip]
const EKS: &[Act] = &[
    (6, "eks:certificate-controller", "watch", "certificatesigningrequests", "certificates.k8s.io", "", "", ""),
    (4, "eks:certificate-controller", "update", "certificatesigningrequests", "certificates.k8s.io", "", "*", "approval"),
    (3, "eks:certificate-controller", "get", "configmaps", "", "kube-system", "extension-apiserver-authentication", ""),
    (6, "eks:node-manager", "get", "configmaps", "", "kube-system", "aws-auth", ""),
    (3, "eks:node-manager", "list", "nodes", "", "", "", ""),
    (3, "eks:node-manager", "patch", "nodes", "", "", "ip-10-0-3-45.ec2.internal", ""),
    (4, "eks:addon-manager", "get", "daemonsets", "apps", "kube-system", "aws-node", ""),
    (3, "eks:addon-manager", "patch", "deployments", "apps", "kube-system", "coredns", ""),
    (3, "eks:addon-manager", "get", "configmaps", "", "kube-system", "coredns", ""),
    (8, "eks:k8s-metrics", "list", "pods", "", "-", "", ""),
    (6, "eks:k8s-metrics", "list", "nodes", "", "", "", ""),
    (5, "eks:pod-identity-mutating-webhook", "get", "serviceaccounts", "", "*", "*", ""),
    (3, "eks:pod-identity-mutating-webhook", "watch", "serviceaccounts", "", "-", "", ""),
    (5, "eks:cloud-controller-manager", "get", "nodes", "", "", "ip-10-0-1-201.ec2.internal", ""),
    (3, "eks:cloud-controller-manager", "patch", "nodes", "", "", "ip-10-0-2-88.ec2.internal", "status"),
    (3, "eks:cloud-controller-manager", "update", "leases", COORD, "kube-system", "cloud-controller-manager", ""),
];

/// 6. GKE platform identities.
#[rustfmt::skip]
const GKE: &[Act] = &[
    (6, "system:gke-common-webhooks", "get", "nodes", "", "", "gke-prod-pool-1-3f2a9c1e-x7kq", ""),
    (4, "system:gke-common-webhooks", "get", "leases", COORD, "kube-system", "gke-common-webhook-lock", ""),
    (5, "system:gcp-controller-manager", "watch", "nodes", "", "", "", ""),
    (4, "system:gcp-controller-manager", "update", "certificatesigningrequests", "certificates.k8s.io", "", "*", "approval"),
    (3, "system:gcp-controller-manager", "get", "serviceaccounts", "", "*", "*", ""),
    (4, "system:managed-certificate-controller", "list", "managedcertificates", "networking.gke.io", "-", "", ""),
    (2, "system:managed-certificate-controller", "update", "managedcertificates", "networking.gke.io", "*", "*", "status"),
    (4, "service-123456789012@container-engine-robot.iam.gserviceaccount.com", "get", "deployments", "apps", "kube-system", "kube-dns", ""),
    (2, "service-123456789012@container-engine-robot.iam.gserviceaccount.com", "patch", "daemonsets", "apps", "kube-system", "fluentbit-gke", ""),
    (4, "gke-system:gke-metrics-agent", "list", "pods", "", "-", "", ""),
    (3, "gke-managed-system:dcgm-exporter", "get", "nodes", "", "", "gke-prod-pool-1-3f2a9c1e-x7kq", ""),
    (3, "gke-managed-system:gke-metrics-collector", "watch", "pods", "", "-", "", ""),
];

impl Gen {
    fn event(&mut self) -> Ev {
        // ~100 events per second of event time.
        self.now += self.r.range(500, 19_500) as i64;
        self.rv += self.r.range(1, 9);
        // A request that fell due is sent now, in place of a drawn one (the
        // earliest first; among equals, the first scheduled).
        let ripe = (0..self.due.len())
            .filter(|&i| self.due[i].0 <= self.now)
            .min_by_key(|&i| self.due[i].0);
        if let Some(i) = ripe {
            let (_, f) = self.due.remove(i);
            return f(self);
        }
        let family = self.r.weighted(MIX);
        family(self)
    }

    /// A span of `lo` to `hi` minutes, to the millisecond, in microseconds.
    fn minutes(&mut self, lo: u64, hi: u64) -> i64 {
        self.r.range(lo * 60_000, hi * 60_000) as i64 * MS
    }

    /// Schedules `f` `us` microseconds from now.
    fn after(&mut self, us: i64, f: impl FnOnce(&mut Gen) -> Ev + Send + 'static) {
        self.due.push((self.now + us, Box::new(f)));
    }

    /// The code of a request that may fail the ordinary ways.
    fn code(&mut self, verb: &str) -> u16 {
        match (self.r.range(0, 999), verb) {
            (0..=9, "get") => 404,
            (0..=7, "update") => 409,
            _ if verb == "create" => 201,
            _ => 200,
        }
    }

    /// The event, without bodies.
    fn emit(&mut self, w: &Who, verb: &'static str, t: Option<&T>, uri: String, code: u16) -> Ev {
        let latency = match verb {
            "watch" => self.r.range(300, 3_000),
            "get" | "list" => self.r.range(800, 12_000),
            _ => self.r.range(2_000, 40_000),
        } as i64;
        let stage = if verb == "watch" {
            "ResponseStarted"
        } else {
            "ResponseComplete"
        };
        let mut status = json!({"metadata": {}, "code": code});
        if code >= 400 {
            let what = t.map(T::what).unwrap_or_default();
            let (reason, message) = match code {
                403 => ("Forbidden", forbidden(w, verb, t, &uri)),
                404 => ("NotFound", format!("{what} not found")),
                409 if verb == "create" => ("AlreadyExists", format!("{what} already exists")),
                409 => ("Conflict", format!("Operation cannot be fulfilled on {what}: the object has been modified; please apply your changes to the latest version and try again")),
                _ => ("Invalid", format!("{what} is invalid: spec.template.spec.containers[0].image: Required value")),
            };
            status = json!({"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code});
            if let Some(t) = t {
                let group = Some(t.group).filter(|g| !g.is_empty());
                status["details"] = compact(json!({"name": t.name, "group": group, "kind": t.res}));
            } else if code == 403 {
                status["details"] = json!({});
            }
        }
        // Written directly: building a serde_json tree per event is too slow.
        let mut s = String::with_capacity(1024);
        let _ = write!(
            s,
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"{}","stage":"{stage}","requestURI":{},"verb":"{verb}","user":{{"username":{}"#,
            self.r.uuid(),
            q(&uri),
            q(&w.name)
        );
        if let Some(uid) = &w.uid {
            let _ = write!(s, r#","uid":{}"#, q(uid));
        }
        let groups: Vec<String> = w.groups.iter().map(|g| q(g)).collect();
        let _ = write!(
            s,
            r#","groups":[{}]}},"sourceIPs":[{}],"userAgent":{},"responseStatus":{},"requestReceivedTimestamp":"{}","stageTimestamp":"{}","annotations":{{"authorization.k8s.io/decision":"{}","authorization.k8s.io/reason":{}}}"#,
            groups.join(","),
            q(&w.ip),
            q(&w.agent),
            text(&status),
            stamp(self.now - latency, true),
            stamp(self.now, true),
            // The authorizer refused it: RBAC gives no reason for a refusal.
            if code == 403 { "forbid" } else { "allow" },
            q(if code == 403 { "" } else { &w.reason })
        );
        if let Some(t) = t {
            let _ = write!(s, r#","objectRef":{{"resource":"{}""#, t.res);
            let parts = [
                ("namespace", t.ns.as_deref()),
                ("name", t.name.as_deref()),
                ("apiGroup", Some(t.group).filter(|g| !g.is_empty())),
                ("apiVersion", Some("v1")),
                ("subresource", t.sub),
            ];
            for (k, v) in parts {
                if let Some(v) = v {
                    let _ = write!(s, r#","{k}":{}"#, q(v));
                }
            }
            s.push('}');
        }
        Ev {
            s,
            level: "Metadata",
            obj: None,
        }
    }

    /// A resource request with the ordinary failure odds.
    fn req(&mut self, w: &Who, verb: &'static str, t: &T, query: &str) -> Ev {
        let code = self.code(verb);
        self.emit(w, verb, Some(t), t.uri(query), code)
    }

    /// Adds a request body, at level Request.
    fn body(&mut self, mut ev: Ev, obj: Value) -> Ev {
        ev.level = "Request";
        ev.obj = Some(obj);
        ev
    }

    fn watch_query(&mut self) -> String {
        let secs = self.r.range(300, 600);
        format!(
            "allowWatchBookmarks=true&resourceVersion={}&timeout={}m{}s&timeoutSeconds={secs}&watch=true",
            self.rv - self.r.range(100, 5_000),
            secs / 60,
            secs % 60
        )
    }

    /// A name for an object of `res` in an application namespace.
    fn name(&mut self, res: &str) -> String {
        let app = self.r.pick(APPS);
        match res {
            "pods" => format!("{app}-{}-{}", Rng::of(app).hex(10), self.r.hex(5)),
            "replicasets" => format!("{app}-{}", Rng::of(app).hex(10)),
            "secrets" => {
                let kind = self.r.pick(&["tls", "db-credentials", "token", "env"]);
                format!("{app}-{kind}")
            }
            "configmaps" => self
                .r
                .pick(&["kube-root-ca.crt", "app-config", "feature-flags"])
                .to_string(),
            "events" => format!("{app}-{}.{}", Rng::of(app).hex(10), self.r.hex(16)),
            "endpointslices" => format!("{app}-{}", self.r.hex(5)),
            "serviceaccounts" => app.to_string(),
            _ => app.to_string(),
        }
    }

    // ---- 1. control plane ----

    fn control_plane(&mut self) -> Ev {
        let c = self
            .r
            .weighted(&[(60, "kube-controller-manager"), (40, "kube-scheduler")]);
        let name = format!("system:{c}");
        let ip = self.r.pick(&["10.0.0.17", "10.0.32.146"]);
        let agent = if self.r.odds(600) {
            format!("{c}/{KV}/leader-election")
        } else {
            format!("{c}/{KV}")
        };
        let mut w = who(
            &name,
            &["system:authenticated"],
            &agent,
            ip,
            rbac(&name, &name),
        );
        w.uid = None;
        let ns = self.r.pick(APP_NS);
        let roll = self.r.range(0, 99);
        match (c, roll) {
            (_, 0..=29) => {
                let t = t("leases", COORD, Some("kube-system"), Some(c));
                self.req(&w, "get", &t, "timeout=5s")
            }
            (_, 30..=59) => {
                let t = t("leases", COORD, Some("kube-system"), Some(c));
                self.req(&w, "update", &t, "timeout=5s")
            }
            ("kube-scheduler", 60..=83) => {
                let pod = self.name("pods");
                let t = t("pods", "", Some(ns), Some(&pod)).sub("binding");
                let ev = self.emit(&w, "create", Some(&t), t.uri(""), 201);
                let node = self.r.pick(NODES);
                let obj = json!({"kind": "Binding", "apiVersion": "v1",
                    "metadata": {"name": pod, "namespace": ns, "uid": self.r.uuid()},
                    "target": {"kind": "Node", "name": node}});
                self.body(ev, obj)
            }
            ("kube-scheduler", _) => {
                let t = t("events", "events.k8s.io", Some(ns), None);
                self.emit(&w, "create", Some(&t), t.uri(""), 201)
            }
            (_, 60..=71) => {
                let res = self.r.pick(&["replicasets", "deployments"]);
                let n = self.name(res);
                let t = t(res, "apps", Some(ns), Some(&n)).sub("status");
                self.req(&w, "update", &t, "")
            }
            (_, 72..=83) => {
                let n = self.name("endpointslices");
                let t = t("endpointslices", "discovery.k8s.io", Some(ns), Some(&n));
                self.req(&w, "update", &t, "")
            }
            (_, 84..=93) => {
                let t = t("events", "", Some(ns), None);
                self.emit(&w, "create", Some(&t), t.uri(""), 201)
            }
            _ => {
                let sa = self.r.pick(&[
                    "generic-garbage-collector",
                    "replicaset-controller",
                    "endpointslice-controller",
                    "deployment-controller",
                    "namespace-controller",
                ]);
                let t = t("serviceaccounts", "", Some("kube-system"), Some(sa)).sub("token");
                self.emit(&w, "create", Some(&t), t.uri(""), 201)
            }
        }
    }

    // ---- 2. kubelets ----

    fn kubelet(&mut self) -> Ev {
        let node = self.r.pick(NODES);
        let ip = node_ip(node);
        let name = format!("system:node:{node}");
        let w = who(
            &name,
            &["system:nodes", "system:authenticated"],
            &format!("kubelet/{KV}"),
            &ip,
            String::new(),
        );
        let ns = self.r.pick(APP_NS);
        match self.r.range(0, 99) {
            0..=39 => {
                let t = t("leases", COORD, Some("kube-node-lease"), Some(node));
                self.req(&w, "update", &t, "timeout=10s")
            }
            40..=49 => {
                let t = t("nodes", "", None, Some(node)).sub("status");
                self.emit(&w, "patch", Some(&t), t.uri("timeout=10s"), 200)
            }
            50..=69 => {
                let res = self.r.pick(&["configmaps", "secrets"]);
                let n = self.name(res);
                let t = t(res, "", Some(ns), Some(&n));
                if self.r.odds(500) {
                    self.req(&w, "get", &t, "")
                } else {
                    let t = T {
                        collection: true,
                        ..t
                    };
                    let q = format!("fieldSelector=metadata.name%3D{n}&{}", self.watch_query());
                    self.req(&w, "watch", &t, &q)
                }
            }
            70..=81 => {
                let n = self.name("pods");
                let t = t("pods", "", Some(ns), Some(&n)).sub("status");
                self.req(&w, "patch", &t, "")
            }
            82..=89 => {
                let sa = self.r.pick(APPS);
                let t = t("serviceaccounts", "", Some(ns), Some(sa)).sub("token");
                self.emit(&w, "create", Some(&t), t.uri(""), 201)
            }
            90..=96 => {
                let t = t("pods", "", None, None);
                let q = format!("fieldSelector=spec.nodeName%3D{node}&limit=500&resourceVersion=0");
                self.req(&w, "list", &t, &q)
            }
            _ => {
                let csr = format!(
                    "csr-{}",
                    self.r.chars(5, b"abcdefghijklmnopqrstuvwxyz0123456789")
                );
                let t = t(
                    "certificatesigningrequests",
                    "certificates.k8s.io",
                    None,
                    None,
                );
                let ev = self.emit(&w, "create", Some(&t), t.uri(""), 201);
                let obj = json!({"kind": "CertificateSigningRequest", "apiVersion": "certificates.k8s.io/v1",
                    "metadata": {"generateName": "csr-", "name": csr},
                    "spec": {"request": format!("LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K{}", self.r.hex(32)),
                        "signerName": "kubernetes.io/kubelet-serving",
                        "usages": ["digital signature", "server auth"]}});
                self.body(ev, obj)
            }
        }
    }

    /// A service or platform identity, by its short table name.
    fn svc(&mut self, user: &str) -> Who {
        let user = identity(user);
        let sa_ns = user.strip_prefix(SA).and_then(|u| u.split(':').next());
        let mut groups = vec!["system:authenticated".to_string()];
        if let Some(n) = sa_ns {
            groups = vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{n}"),
                groups[0].clone(),
            ];
        }
        let short = user.rsplit([':', '@']).next().unwrap_or_default();
        let agent = match short {
            "prometheus-server" => "Prometheus/2.50.1".to_string(),
            "iam.gserviceaccount.com" | "container-engine-robot" => {
                format!("kube-addon-manager/{KV}")
            }
            _ => format!("{short}/v0.0.0 (linux/amd64) kubernetes/$Format"),
        };
        let ip =
            if user.starts_with("eks:") || user.starts_with("system:g") || !user.starts_with(SA) {
                self.r
                    .pick(&["10.0.0.17", "10.0.32.146", "172.16.0.2"])
                    .to_string()
            } else {
                self.r.private_ip()
            };
        Who {
            name: user.clone(),
            uid: None,
            groups,
            agent,
            ip,
            reason: rbac(short, &user),
        }
    }

    /// One request from a table of service and platform identities.
    fn act(&mut self, acts: &[Act]) -> Ev {
        let mut roll = self.r.bits() % acts.iter().map(|a| u64::from(a.0)).sum::<u64>();
        let i = acts.iter().position(|a| {
            let hit = roll < u64::from(a.0);
            roll = roll.saturating_sub(u64::from(a.0));
            hit
        });
        let (_, user, verb, res, group, ns, name, sub) = acts[i.unwrap_or(0)];
        let w = self.svc(user);
        let ns = match ns {
            "" | "-" => None,
            "*" => Some(self.r.pick(APP_NS).to_string()),
            n => Some(n.to_string()),
        };
        let name = match name {
            "" => None,
            "*" => Some(self.name(res)),
            n => Some(n.to_string()),
        };
        let t = T {
            res,
            group,
            ns,
            name,
            sub: Some(sub).filter(|s| !s.is_empty()),
            collection: verb == "create",
        };
        let ev = match verb {
            "watch" => {
                let q = self.watch_query();
                self.req(&w, verb, &t, &q)
            }
            "list" | "deletecollection" => self.req(&w, verb, &t, "resourceVersion=0"),
            _ => self.req(&w, verb, &t, ""),
        };
        if res.ends_with("webhookconfigurations") {
            let ca = format!(
                "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM{}",
                self.r.hex(40)
            );
            let obj = json!({"webhooks": [{"name": "webhook.cert-manager.io", "clientConfig": {"caBundle": ca}}]});
            return self.body(ev, obj);
        }
        ev
    }

    // ---- 7. CI/CD ----

    fn ci(&mut self) -> Ev {
        let helm = self.r.odds(450);
        let agent = if helm { "Helm/3.14.2" } else { KUBECTL[0] };
        let mut w = if self.r.odds(500) {
            let groups = [
                "system:serviceaccounts",
                "system:serviceaccounts:ci",
                "system:authenticated",
            ];
            let name = format!("{SA}ci:deployer");
            who(
                &name,
                &groups,
                agent,
                &self.r.private_ip(),
                rbac("ci-deployer", &name),
            )
        } else {
            let ip = format!("20.57.{}.{}", self.r.range(0, 255), self.r.range(1, 254));
            let reason = "RBAC: allowed by RoleBinding \"deployers\" of ClusterRole \"edit\" to Group \"ci-deployers\"";
            who(
                "github-actions",
                &["ci-deployers", "system:authenticated"],
                agent,
                &ip,
                reason.into(),
            )
        };
        if w.name == "github-actions" {
            w.uid = Some("aws-iam-authenticator:123456789012:AROAY5BLEXAMPLECIDEPL3".into());
        }
        let ns = self.r.pick(&["production", "staging", "payments"]);
        let app = self.r.pick(APPS);
        if helm {
            let rev = Rng::of(app).range(3, 60) + self.r.range(0, 2);
            let (verb, name) = self.r.weighted(&[
                (40, ("list", None)),
                (25, ("create", Some(rev))),
                (20, ("update", Some(rev - 1))),
                (15, ("delete", Some(rev.saturating_sub(10)))),
            ]);
            let name = name.map(|v| format!("sh.helm.release.v1.{app}.v{v}"));
            let t = T {
                name,
                collection: verb != "update" && verb != "delete",
                ..t("secrets", "", Some(ns), None)
            };
            let q = if verb == "list" {
                format!("labelSelector=name%3D{app}%2Cowner%3Dhelm")
            } else {
                String::new()
            };
            return self.req(&w, verb, &t, &q);
        }
        let (verb, res, group) = self.r.weighted(&[
            (35, ("patch", "deployments", "apps")),
            (20, ("get", "deployments", "apps")),
            (15, ("patch", "services", "")),
            (15, ("update", "configmaps", "")),
            (10, ("patch", "ingresses", "networking.k8s.io")),
            (5, ("create", "configmaps", "")),
        ]);
        let name = if verb == "create" { None } else { Some(app) };
        let t = t(res, group, Some(ns), name);
        if res == "configmaps" {
            // The application's configuration, as a site that logs
            // ConfigMaps at level Request sees it (the opt-in data of
            // k8s_configmap_with_credentials): no credential, but the
            // spellings that come close (a password placeholder filled
            // from the environment, a feature named passwordless-login).
            let ev = self.req(&w, verb, &t, "");
            return self.body(ev, app_config(app, ns));
        }
        if res != "deployments" || verb != "patch" {
            return self.req(&w, verb, &t, "");
        }
        let code = self.r.weighted(&[(95, 200), (3, 409), (2, 422)]);
        let ev = self.emit(
            &w,
            "patch",
            Some(&t),
            t.uri("fieldManager=kubectl-client-side-apply"),
            code,
        );
        let tag = self.r.hex(7);
        let c = json!({"name": app, "image": format!("{ECR}/{app}:{tag}"), "ports": [{"containerPort": 8080}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
            "securityContext": {"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true}});
        let obj = json!({"metadata": {"labels": {"app.kubernetes.io/name": app, "app.kubernetes.io/version": tag}},
            "spec": {"replicas": Rng::of(app).range(2, 12), "template": {"metadata": {"labels": {"app": app}},
                "spec": {"serviceAccountName": app, "containers": [c]}}}});
        self.body(ev, obj)
    }

    // ---- 8. humans ----

    /// A person at their workstation, with kubectl.
    fn person(&mut self, name: &str, team: &str) -> Who {
        let net = self.r.pick(&["198.51.100", "203.0.113"]);
        let ip = format!("{net}.{}", Rng::of(name).range(2, 250));
        let agent = self.r.pick(KUBECTL);
        let reason = match limited_to(name) {
            Some(ns) => format!("RBAC: allowed by RoleBinding \"{team}/{ns}\" of ClusterRole \"edit\" to Group \"{team}\""),
            None => format!("RBAC: allowed by ClusterRoleBinding \"{team}-view\" of ClusterRole \"view\" to Group \"{team}\""),
        };
        who(name, &[team, "system:authenticated"], agent, &ip, reason)
    }

    fn human(&mut self) -> Ev {
        let (name, team) = self.r.pick(PEOPLE);
        let w = self.person(name, team);
        let ns = match limited_to(name) {
            Some(ns) => ns,
            None => self.r.pick(APP_NS),
        };
        #[rustfmt::skip]
        let (verb, res, group, sub) = self.r.weighted(&[
            (30, ("list", "pods", "", None)),
            (15, ("get", "pods", "", None)),
            (10, ("watch", "pods", "", None)),
            (15, ("list", "deployments", "apps", None)),
            (12, ("list", "events", "", None)),
            (12, ("get", "pods", "", Some("log"))),
            (4, ("list", "nodes", "", None)),
            (2, ("patch", "deployments", "apps", Some("scale"))),
        ]);
        // Nodes are cluster-scoped: a namespace-limited person is refused
        // them, at the rate of section 10.
        let (verb, res) = match (verb, res) {
            ("list", "nodes") if limited_to(name).is_some() => ("list", "pods"),
            x => x,
        };
        let mut t = t(res, group, Some(ns).filter(|_| res != "nodes"), None);
        t.sub = sub;
        if verb == "get" || verb == "patch" {
            t.name = Some(match res {
                "pods" => self.name("pods"),
                _ => self.r.pick(APPS).to_string(),
            });
        }
        match verb {
            "watch" => {
                let q = self.watch_query();
                self.req(&w, verb, &t, &q)
            }
            "list" => self.req(&w, verb, &t, "limit=500"),
            "patch" if team == "sre" => {
                let n = self.r.range(3, 10);
                let ev = self.req(&w, verb, &t, "");
                self.body(ev, json!({"spec": {"replicas": n}}))
            }
            "patch" => self.req(&w, "get", &T { sub: None, ..t }, ""),
            _ if sub.is_some() => self.req(&w, verb, &t, "container=app&tailLines=200"),
            _ => self.req(&w, verb, &t, ""),
        }
    }

    // ---- 9. non-resource URLs ----

    fn non_resource(&mut self) -> Ev {
        let path = self.r.weighted(&[
            (30, "/healthz"),
            (25, "/readyz"),
            (20, "/livez"),
            (10, "/version"),
            (8, "/metrics"),
            (4, "/api?timeout=32s"),
            (4, "/apis?timeout=32s"),
        ]);
        let node = self.r.pick(NODES);
        let user = match (path, self.r.range(0, 5)) {
            ("/metrics", _) | (_, 0) => "monitoring:prometheus-server",
            (_, 1) => "argocd:argocd-application-controller",
            (_, 2) => "aws-node",
            (_, 3) => "coredns",
            _ => "",
        };
        let w = if user.is_empty() {
            let groups = ["system:nodes", "system:authenticated"];
            who(
                &format!("system:node:{node}"),
                &groups,
                &format!("kubelet/{KV}"),
                &node_ip(node),
                String::new(),
            )
        } else {
            self.svc(user)
        };
        self.emit(&w, "get", None, path.into(), 200)
    }

    // ---- 10. refusals and permission checks ----
    //
    // Processes, not families: each request schedules the next one (the rest
    // of a burst, the next retry, the next session), so a person's burst,
    // an operator's retry loop and a dashboard session keep one identity and
    // one address over their span, as the rules that count them see it.

    /// Starts the processes of section 10, all within the first half hour
    /// (about 180,000 events).
    fn start_processes(&mut self) {
        let at = self.r.range(1, 60) as i64 * SEC;
        self.after(at, Gen::informer_retry);
        let (at, span) = (self.minutes(3, 15), self.minutes(20, 40));
        self.after(at, move |g| {
            let until = g.now + span;
            g.lease_retry(until)
        });
        for i in 0..LIMITED.len() {
            let at = self.minutes(1, 30);
            self.after(at, move |g| g.refused_person(i));
        }
        let at = self.minutes(2, 20);
        self.after(at, Gen::dashboard_session);
        let at = self.minutes(1, 20);
        self.after(at, Gen::can_i);
        let at = self.minutes(1, 15);
        self.after(at, Gen::anonymous_refused);
    }

    /// kube-state-metrics with its VerticalPodAutoscaler collector enabled
    /// and no RBAC for it: its reflector lists the resource, is refused, and
    /// retries for as long as the stream lasts, backing off as client-go's
    /// reflector does to a retry every 30 to 60 seconds. One resource,
    /// always the same request, from one pod.
    fn informer_retry(&mut self) -> Ev {
        let mut w = self.svc("monitoring:kube-state-metrics");
        w.ip = "10.0.21.84".into();
        let t = t("verticalpodautoscalers", "autoscaling.k8s.io", None, None);
        let ev = self.emit(
            &w,
            "list",
            Some(&t),
            t.uri("limit=500&resourceVersion=0"),
            403,
        );
        let next = self.r.range(30_000, 60_000) as i64 * MS;
        self.after(next, Gen::informer_retry);
        ev
    }

    /// Reloader deployed with leader election but without its Role on
    /// Leases: the elector is refused `get` on its lock every retry period
    /// (2 s, jittered up to 4.4 s) until someone fixes the chart, 20 to 40
    /// minutes on; an upgrade an hour or two later breaks it again (a new
    /// pod, a new address).
    fn lease_retry(&mut self, until: i64) -> Ev {
        let mut w = self.svc("platform:reloader");
        w.ip = Rng::of(&until.to_string()).private_ip();
        let t = t(
            "leases",
            COORD,
            Some("platform"),
            Some("stakater-reloader-lock"),
        );
        let ev = self.emit(&w, "get", Some(&t), t.uri(""), 403);
        let next = self.r.range(2_000, 4_400) as i64 * MS;
        if self.now + next < until {
            self.after(next, move |g| g.lease_retry(until));
        } else {
            let (gap, span) = (self.minutes(60, 120), self.minutes(20, 40));
            self.after(gap, move |g| {
                let until = g.now + span;
                g.lease_retry(until)
            });
        }
        ev
    }

    /// A namespace-limited person runs a cluster-wide `kubectl get` (or one
    /// in another team's namespace) and is refused: 1 to 3 refusals within
    /// a minute (the command run again, or a second one), on one or two
    /// kinds of object; the same person again 8 to 45 minutes later.
    fn refused_person(&mut self, i: usize) -> Ev {
        let (name, _) = LIMITED[i];
        let team = PEOPLE.iter().find(|p| p.0 == name).map_or("", |p| p.1);
        let w = self.person(name, team);
        let first = self.r.weighted(REFUSED_GETS);
        let second = self.r.weighted(REFUSED_GETS);
        let n = self.r.weighted(&[(50, 1), (35, 2), (15, 3)]);
        let mut at = 0;
        for _ in 1..n {
            at += self.r.range(3, 25) as i64 * SEC;
            let get = if self.r.odds(500) { first } else { second };
            let w = w.clone();
            self.after(at, move |g| g.refused_get(&w, get));
        }
        let next = self.minutes(8, 45);
        self.after(next, move |g| g.refused_person(i));
        self.refused_get(&w, first)
    }

    fn refused_get(&mut self, w: &Who, (res, group, ns): RefusedGet) -> Ev {
        let t = t(res, group, Some(ns).filter(|n| !n.is_empty()), None);
        self.emit(w, "list", Some(&t), t.uri("limit=500"), 403)
    }

    /// The Kubernetes Dashboard, signed in with a person's token (so their
    /// identity, from the dashboard's pod): every page asks with
    /// SelfSubjectAccessReviews which of its actions to offer, a handful of
    /// verbs on the page's kind of object. A session browses 2 to 6 pages,
    /// 10 to 90 seconds apart; the next session is 15 to 50 minutes later.
    fn dashboard_session(&mut self) -> Ev {
        let (name, team) = self.r.pick(PEOPLE);
        let mut w = self.person(name, team);
        w.agent = "dashboard/v2.7.0".into();
        w.ip = "10.0.34.19".into();
        let ns = match limited_to(name) {
            Some(ns) => ns,
            None => self.r.pick(APP_NS),
        };
        let mut at = 0;
        let mut first = None;
        for _ in 0..self.r.range(2, 6) {
            let (res, group, checks) = self.r.pick(DASHBOARD_PAGES);
            let name = Some(self.r.pick(APPS)).filter(|_| self.r.odds(500));
            for &(verb, sub) in checks {
                let mut attrs = json!({"namespace": ns, "verb": verb, "resource": res});
                for (k, v) in [("group", group), ("subresource", sub)] {
                    if !v.is_empty() {
                        attrs[k] = json!(v);
                    }
                }
                if let Some(n) = name {
                    attrs["name"] = json!(n);
                }
                if first.is_none() {
                    first = Some(attrs);
                    continue;
                }
                at += self.r.range(3_000, 60_000) as i64;
                let w = w.clone();
                self.after(at, move |g| g.review(&w, attrs));
            }
            at += self.r.range(10, 90) as i64 * SEC;
        }
        let next = self.minutes(15, 50);
        self.after(next, Gen::dashboard_session);
        self.review(&w, first.unwrap_or_default())
    }

    /// `kubectl auth can-i` run once by a person, every 10 to 40 minutes
    /// someone.
    fn can_i(&mut self) -> Ev {
        let (name, team) = self.r.pick(PEOPLE);
        let w = self.person(name, team);
        let ns = match limited_to(name) {
            Some(ns) => ns,
            None => self.r.pick(APP_NS),
        };
        let (verb, res, group, sub) = self.r.pick(&[
            ("create", "deployments", "apps", ""),
            ("delete", "pods", "", ""),
            ("create", "pods", "", "exec"),
            ("patch", "deployments", "apps", "scale"),
            ("get", "secrets", "", ""),
            ("create", "jobs", "batch", ""),
        ]);
        let mut attrs = json!({"namespace": ns, "verb": verb, "resource": res});
        for (k, v) in [("group", group), ("subresource", sub)] {
            if !v.is_empty() {
                attrs[k] = json!(v);
            }
        }
        let next = self.minutes(10, 40);
        self.after(next, Gen::can_i);
        self.review(&w, attrs)
    }

    /// A SelfSubjectAccessReview of `attrs` (its spec.resourceAttributes),
    /// at level Request as the audit policy logs creates.
    fn review(&mut self, w: &Who, attrs: Value) -> Ev {
        let mut w = w.clone();
        w.reason = "RBAC: allowed by ClusterRoleBinding \"system:basic-user\" of ClusterRole \"system:basic-user\" to Group \"system:authenticated\"".into();
        let t = T {
            collection: true,
            ..t(
                "selfsubjectaccessreviews",
                "authorization.k8s.io",
                None,
                None,
            )
        };
        let ev = self.emit(&w, "create", Some(&t), t.uri(""), 201);
        let obj = json!({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"resourceAttributes": attrs}, "status": {"allowed": false}});
        self.body(ev, obj)
    }

    /// Now and then a request without credentials from inside the network
    /// (someone's curl at the API endpoint, an HTTP check of `/`), refused:
    /// the discovery and root paths are not open to system:anonymous
    /// (system:public-info-viewer opens only the health and version paths).
    /// One request, every 5 to 25 minutes.
    fn anonymous_refused(&mut self) -> Ev {
        let (agent, path) = self.r.pick(&[
            ("curl/8.5.0", "/"),
            ("curl/8.5.0", "/api"),
            ("curl/7.81.0", "/apis"),
            ("Go-http-client/1.1", "/"),
            ("python-requests/2.31.0", "/api/v1/namespaces"),
        ]);
        let ip = self.r.private_ip();
        let w = who(
            "system:anonymous",
            &["system:unauthenticated"],
            agent,
            &ip,
            String::new(),
        );
        let next = self.minutes(5, 25);
        self.after(next, Gen::anonymous_refused);
        if path.starts_with("/api/v1/") {
            let t = t("namespaces", "", None, None);
            return self.emit(&w, "list", Some(&t), path.into(), 403);
        }
        self.emit(&w, "get", None, path.into(), 403)
    }
}

const MS: i64 = 1_000;
const SEC: i64 = 1_000 * MS;

/// What a namespace-limited person is refused: (resource, group, namespace;
/// "" for the cluster scope), each a list.
type RefusedGet = (&'static str, &'static str, &'static str);
#[rustfmt::skip]
const REFUSED_GETS: &[(u32, RefusedGet)] = &[
    (30, ("pods", "", "")),                     // kubectl get pods -A
    (20, ("nodes", "", "")),                    // kubectl get nodes
    (15, ("namespaces", "", "")),               // kubectl get namespaces
    (10, ("pods", "", "kube-system")),          // kubectl get pods -n kube-system
    (8, ("deployments", "apps", "production")), // another team's namespace
    (7, ("events", "", "")),                    // kubectl get events -A
    (5, ("persistentvolumes", "", "")),         // kubectl get pv
    (5, ("customresourcedefinitions", "apiextensions.k8s.io", "")),
];

/// The Kubernetes Dashboard's pages: (resource, group, the checks of the
/// page as (verb, subresource)).
type Page = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);
#[rustfmt::skip]
const DASHBOARD_PAGES: &[Page] = &[
    ("pods", "", &[("get", "log"), ("create", "exec"), ("delete", "")]),
    ("deployments", "apps", &[("update", "scale"), ("update", ""), ("delete", "")]),
    ("services", "", &[("update", ""), ("delete", "")]),
    ("configmaps", "", &[("update", ""), ("delete", "")]),
    ("replicasets", "apps", &[("update", "scale"), ("delete", "")]),
    ("statefulsets", "apps", &[("update", "scale"), ("update", ""), ("delete", "")]),
    ("jobs", "batch", &[("update", ""), ("delete", "")]),
    ("cronjobs", "batch", &[("update", ""), ("delete", "")]),
    ("ingresses", "networking.k8s.io", &[("update", ""), ("delete", "")]),
];

/// The message of the API server's 403, as `apierrors.NewForbidden` and the
/// RBAC authorizer write it.
fn forbidden(w: &Who, verb: &str, t: Option<&T>, uri: &str) -> String {
    let user = &w.name;
    let Some(t) = t else {
        let path = uri.split('?').next().unwrap_or(uri);
        return format!("forbidden: User \"{user}\" cannot {verb} path \"{path}\"");
    };
    let res = match t.sub {
        Some(sub) => format!("{}/{sub}", t.res),
        None => t.res.to_string(),
    };
    let scope = match &t.ns {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    format!(
        "{} is forbidden: User \"{user}\" cannot {verb} resource \"{res}\" in API group \"{}\" {scope}",
        t.what(),
        t.group
    )
}

/// People running kubectl: (user, group). The first four read the whole
/// cluster (ClusterRole view); the others have ClusterRole edit through a
/// RoleBinding in their own namespace only ([`LIMITED`]).
const PEOPLE: &[(&str, &str)] = &[
    ("alice@example.com", "developers"),
    ("bob@example.com", "sre"),
    ("carol@example.com", "developers"),
    ("dave@example.com", "sre"),
    ("erin@example.com", "payments-devs"),
    ("frank@example.com", "staging-devs"),
    ("grace@example.com", "payments-devs"),
    ("heidi@example.com", "staging-devs"),
];

/// The namespace-limited people of [`PEOPLE`], and their namespace.
const LIMITED: &[(&str, &str)] = &[
    ("erin@example.com", "payments"),
    ("frank@example.com", "staging"),
    ("grace@example.com", "payments"),
    ("heidi@example.com", "staging"),
];

fn limited_to(name: &str) -> Option<&'static str> {
    LIMITED.iter().find(|l| l.0 == name).map(|l| l.1)
}

/// The username of a table's identity.
fn identity(u: &str) -> String {
    if u.contains('@') || u.starts_with("system:") || u.starts_with("eks:") {
        u.to_string()
    } else if u.contains(':') {
        format!("{SA}{u}")
    } else {
        format!("{KS}{u}")
    }
}

/// `ip-10-0-1-23.ec2.internal` -> `10.0.1.23`.
fn node_ip(node: &str) -> String {
    node.trim_start_matches("ip-")
        .split('.')
        .next()
        .unwrap_or_default()
        .replace('-', ".")
}

/// An application's ConfigMap (deterministic per application: the
/// generator's own random stream is not drawn on).
fn app_config(app: &str, ns: &str) -> Value {
    let mut r = Rng::of(app);
    let port = r.range(8000, 8099);
    let level = r.pick(&["info", "warn", "debug"]);
    json!({"kind": "ConfigMap", "apiVersion": "v1",
    "metadata": {"name": format!("{app}-config"), "namespace": ns, "labels": {"app.kubernetes.io/name": app}},
    "data": {
        "LOG_LEVEL": level,
        "SERVICE_PORT": port.to_string(),
        "DATABASE_HOST": format!("postgres.{ns}.svc.cluster.local"),
        "DATABASE_USER": app,
        "CACHE_URL": format!("redis://redis.{ns}.svc:6379/0"),
        "FEATURE_FLAGS": "new-checkout,passwordless-login",
        "application.yaml": format!("server:\n  port: {port}\nspring:\n  datasource:\n    url: jdbc:postgresql://postgres.{ns}.svc:5432/{app}\n    username: {app}\n    password: ${{DB_PASSWORD}}\nmanagement:\n  endpoints:\n    web:\n      exposure:\n        include: health,prometheus\n"),
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(n: usize, seed: u64) -> Vec<String> {
        benign_k8s(seed).take(n).collect()
    }

    #[test]
    fn benign_deterministic_per_seed() {
        assert_eq!(take(1_000, 7), take(1_000, 7));
        assert_ne!(take(1_000, 7), take(1_000, 8));
    }

    #[test]
    fn benign_events_well_formed_in_time_order() {
        let mut last = i128::MIN;
        for doc in benign_k8s(1).take(20_000) {
            assert!(!doc.contains('\n'), "{doc}");
            let v: Value = serde_json::from_str(&doc).expect("valid JSON");
            assert_eq!(v["kind"], "Event", "{doc}");
            assert_eq!(v["apiVersion"], "audit.k8s.io/v1", "{doc}");
            assert!(v["verb"].as_str().is_some_and(|s| !s.is_empty()), "{doc}");
            let t = ward_compiler::time::parse(v["stageTimestamp"].as_str().expect("time"))
                .expect("RFC 3339");
            assert!(t >= last, "time goes back at {doc}");
            last = t;
        }
    }

    #[test]
    fn benign_every_family_appears() {
        let evs: Vec<Value> = benign_k8s(3)
            .take(20_000)
            .map(|d| serde_json::from_str(&d).expect("valid JSON"))
            .collect();
        let user = |v: &Value| {
            v["user"]["username"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        let by = |f: &dyn Fn(&str) -> bool| evs.iter().filter(|v| f(&user(v))).count();
        let code = |c: u64| {
            evs.iter()
                .filter(|v| v["responseStatus"]["code"] == c)
                .count()
        };
        let addon = [
            "cert-manager:",
            "ingress-nginx:",
            "external-dns:",
            "argocd:",
            "monitoring:",
            "logging:",
        ];
        let gke = [
            "system:gke-",
            "system:gcp-",
            "system:managed-cert",
            "service-1234",
            "system:serviceaccount:gke-",
        ];
        let families = [
            (
                "control plane",
                by(&|u| u == "system:kube-controller-manager" || u == "system:kube-scheduler"),
            ),
            ("kubelets", by(&|u| u.starts_with("system:node:"))),
            ("kube-system", by(&|u| u.starts_with(KS))),
            (
                "add-ons",
                by(&|u| {
                    addon
                        .iter()
                        .any(|a| u.strip_prefix(SA).is_some_and(|x| x.starts_with(a)))
                }),
            ),
            ("eks", by(&|u| u.starts_with("eks:"))),
            ("gke", by(&|u| gke.iter().any(|g| u.starts_with(g)))),
            (
                "ci",
                by(&|u| u == "system:serviceaccount:ci:deployer" || u == "github-actions"),
            ),
            ("humans", by(&|u| u.ends_with("@example.com"))),
            (
                "non-resource",
                evs.iter().filter(|v| v.get("objectRef").is_none()).count(),
            ),
            ("403", code(403)),
            ("404", code(404)),
            ("409", code(409)),
        ];
        eprintln!("per 20,000: {families:?}, 422: {}", code(422));
        for (what, n) in families {
            assert!(n > 0, "{what} missing");
        }
        let helm = evs
            .iter()
            .filter(|v| {
                v["requestURI"]
                    .as_str()
                    .is_some_and(|u| u.contains("sh.helm.release.v1."))
            })
            .count();
        assert!(helm > 0, "no helm release secrets");
    }

    #[test]
    fn benign_holds_no_attacks() {
        for doc in benign_k8s(5).take(20_000) {
            let v: Value = serde_json::from_str(&doc).expect("valid JSON");
            let sub = v["objectRef"]["subresource"].as_str().unwrap_or_default();
            assert!(!["exec", "attach", "portforward"].contains(&sub), "{doc}");
            // Refusals are the authorizer's, read requests only, with its
            // empty reason; anonymous requests are all refused.
            let refused = v["responseStatus"]["code"] == 403;
            let decision = if refused { "forbid" } else { "allow" };
            assert_eq!(
                v["annotations"]["authorization.k8s.io/decision"], decision,
                "{doc}"
            );
            if refused {
                assert!(["get", "list"].contains(&v["verb"].as_str().unwrap_or_default()));
                assert_eq!(v["annotations"]["authorization.k8s.io/reason"], "", "{doc}");
                assert_eq!(v["responseStatus"]["reason"], "Forbidden", "{doc}");
                assert_ne!(v["objectRef"]["resource"], "secrets", "{doc}");
            }
            if v["user"]["username"] == "system:anonymous" {
                assert!(refused, "{doc}");
            }
            let compact = doc.replace(' ', "");
            for bad in [
                "\"privileged\":true",
                "hostPath",
                "\"hostNetwork\":true",
                "cluster-admin",
            ] {
                assert!(!compact.contains(bad), "{bad} in {doc}");
            }
        }
    }

    /// The refusals and permission checks of section 10 are spread through
    /// the stream: all of their kinds are in the first 200,000 events of
    /// seed 1 (what tests/baseline.rs measures), at a few per thousand, and
    /// each has the shape that the rules counting them need.
    #[test]
    fn benign_refusals_and_reviews_in_the_first_200_000() {
        let n = 200_000;
        let mut refused: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
        let mut reviews = Vec::new();
        for doc in benign_k8s(1).take(n) {
            if !doc.contains(r#""code":403"#) && !doc.contains("selfsubjectaccessreviews") {
                continue;
            }
            let v: Value = serde_json::from_str(&doc).expect("valid JSON");
            let user = v["user"]["username"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if v["responseStatus"]["code"] == 403 {
                let msg = v["responseStatus"]["message"].as_str().unwrap_or_default();
                assert!(msg.contains(&format!("User \"{user}\" cannot ")), "{doc}");
                refused.entry(user).or_default().push(v);
            } else {
                assert_eq!(v["verb"], "create", "{doc}");
                assert_eq!(v["responseStatus"]["code"], 201, "{doc}");
                let attrs = &v["requestObject"]["spec"]["resourceAttributes"];
                assert!(
                    attrs["resource"].is_string() && attrs["verb"].is_string(),
                    "{doc}"
                );
                reviews.push(v);
            }
        }
        let count = |u: &str| refused.get(u).map_or(0, Vec::len);
        let resources = |u: &str| -> std::collections::BTreeSet<String> {
            refused
                .get(u)
                .into_iter()
                .flatten()
                .map(|v| {
                    v["objectRef"]["resource"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        };
        let people: usize = LIMITED.iter().map(|l| count(l.0)).sum();
        let (ksm, reloader) = (
            "system:serviceaccount:monitoring:kube-state-metrics",
            "system:serviceaccount:platform:reloader",
        );
        let anonymous = count("system:anonymous");
        let all: usize = refused.values().map(Vec::len).sum();
        eprintln!(
            "per {n}: {all} refused (people {people}, {ksm} {}, {reloader} {}, anonymous {anonymous}), {} reviews",
            count(ksm),
            count(reloader),
            reviews.len()
        );
        assert_eq!(
            all,
            people + count(ksm) + count(reloader) + anonymous,
            "{:?}",
            refused.keys()
        );
        assert!(people > 0 && anonymous > 0);
        // The operators retry one request each, many times.
        assert!(count(ksm) > 20 && count(reloader) > 100);
        assert_eq!(resources(ksm).len(), 1);
        assert_eq!(resources(reloader).len(), 1);
        // Reviews come from people, through the dashboard and kubectl.
        assert!(reviews.iter().any(|v| v["userAgent"] == "dashboard/v2.7.0"));
        assert!(reviews.iter().any(|v| v["userAgent"]
            .as_str()
            .is_some_and(|a| a.starts_with("kubectl/"))));
        assert!(reviews.iter().all(|v| v["user"]["username"]
            .as_str()
            .is_some_and(|u| u.ends_with("@example.com"))));
        // A few per thousand in all.
        let per_mille = (all + reviews.len()) as f64 * 1000.0 / n as f64;
        assert!((0.5..10.0).contains(&per_mille), "{per_mille} per thousand");
    }

    #[test]
    fn benign_throughput() {
        let n = if cfg!(debug_assertions) {
            10_000
        } else {
            300_000
        };
        let t = std::time::Instant::now();
        let bytes: usize = benign_k8s(9).take(n).map(|d| d.len()).sum();
        let secs = t.elapsed().as_secs_f64();
        eprintln!(
            "{n} events in {secs:.3}s: {:.0} events/s, mean {} B",
            n as f64 / secs,
            bytes / n
        );
    }
}

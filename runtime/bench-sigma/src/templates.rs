//! The generated rule sets and corpus that runtime/bench-sigma and
//! runtime/examples/bench_iequals share: detections of distinct literals
//! (equality, lists, `>=`, prefix, substring in a list of containers,
//! regex, CIDR over a list) and Ward's benchmark corpus with every 40th
//! event rewritten to fire one of them. Included by both with `#[path]`
//! (bench-sigma is a workspace of its own).

use std::time::Instant;

use serde_json::{json, Value};

/// One detection, as a Ward condition and a Sigma detection, with `{i}`
/// for the rule's number (and `{a}`, `{b}` for an address), `{eq}` and
/// `{in}` for Ward's equality and membership operators, and how to make an
/// event fire it.
pub struct Template {
    pub ward: &'static str,
    pub sigma: &'static str,
    pub fire: fn(&mut Value, usize),
}

pub const TEMPLATES: &[Template] = &[
    Template {
        ward: r#"verb {eq} "create" and objectRef.resource {eq} "pods" and user.username {eq} "user{i}@example.com""#,
        sigma: "    verb: create\n    objectRef.resource: pods\n    user.username: user{i}@example.com",
        fire: |e, i| {
            e["verb"] = json!("create");
            e["objectRef"]["resource"] = json!("pods");
            e["user"]["username"] = json!(format!("user{i}@example.com"));
        },
    },
    Template {
        ward: r#"objectRef.resource {eq} "secrets" and verb {in} ["get", "list"] and objectRef.namespace {eq} "ns-{i}""#,
        sigma: "    objectRef.resource: secrets\n    verb:\n      - get\n      - list\n    objectRef.namespace: ns-{i}",
        fire: |e, i| {
            e["verb"] = json!("list");
            e["objectRef"]["resource"] = json!("secrets");
            e["objectRef"]["namespace"] = json!(format!("ns-{i}"));
        },
    },
    Template {
        ward: r#"responseStatus.code >= 500 and userAgent startswith "client-{i}/""#,
        sigma: "    responseStatus.code|gte: 500\n    userAgent|startswith: client-{i}/",
        fire: |e, i| {
            e["responseStatus"]["code"] = json!(503);
            e["userAgent"] = json!(format!("client-{i}/1.2.3 (linux/amd64)"));
        },
    },
    Template {
        ward: r#"verb {eq} "create" and any c in requestObject.spec.containers: c.image contains "miner{i}""#,
        sigma: "    verb: create\n    requestObject.spec.containers.image|contains: miner{i}",
        fire: |e, i| {
            e["verb"] = json!("create");
            e["requestObject"] = json!({"spec": {"containers": [
                {"name": "app", "image": "nginx:1.25"},
                {"name": "side", "image": format!("docker.io/evil/miner{i}:latest")}
            ]}});
        },
    },
    Template {
        ward: r#"objectRef.resource {eq} "configmaps" and verb {eq} "delete" and objectRef.name matches r"^app-{i}-[a-z0-9]+$""#,
        sigma: "    objectRef.resource: configmaps\n    verb: delete\n    objectRef.name|re: '^app-{i}-[a-z0-9]+$'",
        fire: |e, i| {
            e["verb"] = json!("delete");
            e["objectRef"]["resource"] = json!("configmaps");
            e["objectRef"]["name"] = json!(format!("app-{i}-x7k2p"));
        },
    },
    Template {
        ward: r#"verb {eq} "delete" and any ip in sourceIPs: ip in cidr ["10.{a}.{b}.0/24"]"#,
        sigma: "    verb: delete\n    sourceIPs|cidr: 10.{a}.{b}.0/24",
        fire: |e, i| {
            e["verb"] = json!("delete");
            e["sourceIPs"] = json!([format!("10.{}.{}.17", 100 + i / 256, i % 256)]);
        },
    },
];

/// `t` for rule `i`, with `ops` as Ward's (equality, membership).
pub fn fill(t: &str, i: usize, (eq, within): (&str, &str)) -> String {
    t.replace("{i}", &i.to_string())
        .replace("{a}", &(100 + i / 256).to_string())
        .replace("{b}", &(i % 256).to_string())
        .replace("{eq}", eq)
        .replace("{in}", within)
}

/// Ward's exact operators, and the case-insensitive ones.
pub const EXACT: (&str, &str) = ("==", "in");
#[allow(dead_code)] // used by bench_iequals only
pub const FOLDED: (&str, &str) = ("iequals", "iequals");

/// The corpus: every 40th event rewritten to fire rule `(k / 40) % rules`.
pub fn corpus(events: usize, rules: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (k, line) in ward_runtime::corpus::k8s_events(events, 1)
        .into_iter()
        .enumerate()
    {
        if k % 40 == 0 {
            if let Ok(mut v) = serde_json::from_str::<Value>(&line) {
                let i = (k / 40) % rules;
                (TEMPLATES[i % TEMPLATES.len()].fire)(&mut v, i);
                bytes.extend_from_slice(v.to_string().as_bytes());
                bytes.push(b'\n');
                continue;
            }
        }
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    bytes
}

pub fn best<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = None;
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("three runs"))
}

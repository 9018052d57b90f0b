//! Synthetic events for benchmarks and differential tests: realistic
//! Kubernetes audit events and CloudTrail records, deterministic per seed.

mod benign;
mod cloudtrail;
mod k8s;

pub use benign::benign_k8s;
pub use cloudtrail::cloudtrail_records;
pub use k8s::k8s_events;

use serde_json::{json, Value};

/// The AWS account every generated principal belongs to.
const ACCT: &str = "123456789012";

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
            let t = ward_compiler::time::parse(v[time_field].as_str().expect("time"))
                .expect("RFC 3339");
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

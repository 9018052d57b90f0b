//! `ward import falco`: the k8saudit plugin's rules (tests/import/falco/,
//! vendored from falcosecurity/plugins) convert to Ward rules that check
//! clean and fire on a real sample.

mod common;

use common::ward;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn vendored() -> Vec<String> {
    [
        "k8s_audit_rules.yaml",
        "k8s_audit_rules_gke.yaml",
        "k8s_audit_rules_eks.yaml",
    ]
    .iter()
    .map(|f| {
        root()
            .join("tests/import/falco")
            .join(f)
            .display()
            .to_string()
    })
    .collect()
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ward-import-falco-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Imports `files` into `out`; returns the exit code and the JSON report.
fn import(files: &[String], out: &Path) -> (u8, Value) {
    let out_s = out.display().to_string();
    let mut args = vec!["import", "falco"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--out", out_s.as_str(), "--report", "json"]);
    let (code, stdout, stderr) = ward(&args);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}): {stdout}\n{stderr}"));
    (code, report)
}

fn detail<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["details"]
        .as_array()
        .expect("details")
        .iter()
        .find(|d| d["name"] == name)
        .unwrap_or_else(|| panic!("no report entry for {name}"))
}

/// The text of rule (or tune) `head` in `text`, up to its closing brace.
fn block(text: &str, head: &str) -> String {
    let start = text
        .find(head)
        .unwrap_or_else(|| panic!("no `{head}` in:\n{text}"));
    let end = text[start..].find("\n}\n").expect("closing brace") + start;
    text[start..end + 3].to_string()
}

#[test]
fn vendored_rules_convert_and_check_clean() {
    let out = out_dir("vendored");
    let (code, report) = import(&vendored(), &out);
    assert_eq!(report["language"], "falco");

    // The main file holds 48 k8s_audit rules; GKE adds an exception to
    // one, EKS a rule of its own.
    let details = report["details"].as_array().expect("details");
    assert_eq!(details.len(), 50, "{report:#}");
    let total = report["rules"].as_u64().expect("rules");
    let ok = report["converted"].as_u64().expect("converted")
        + report["partial"].as_u64().expect("partial");
    assert!(
        ok * 100 >= total * 95,
        "only {ok} of {total} converted or partial: {report:#}"
    );
    assert!(report["converted"].as_u64().expect("converted") >= 45);

    // Every skipped or partial rule says why; none converted has findings.
    for d in details {
        match d["status"].as_str() {
            Some("skipped") | Some("partial") => {
                assert!(
                    !d["reasons"].as_array().expect("reasons").is_empty(),
                    "{d:#}"
                );
            }
            Some("converted") => {
                assert!(d["reasons"].as_array().expect("reasons").is_empty());
            }
            s => panic!("status {s:?}"),
        }
        assert_eq!(d["findings"], Value::Array(vec![]), "{d:#}");
    }
    assert_eq!(report["other_findings"], Value::Array(vec![]));

    // Falco searches the ConfigMap's JSON text: converted as a search of
    // the keys and values of the opt-in `data`, and so disabled.
    let cm = detail(&report, "Create/Modify Configmap With Private Credentials");
    assert_eq!(cm["status"], "partial", "{cm:#}");
    assert_eq!(
        cm["ward_rule"],
        "create_modify_configmap_with_private_credentials"
    );
    let reasons: Vec<&str> = (cm["reasons"].as_array().expect("reasons").iter())
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(reasons.len(), 2, "{cm:#}");
    assert!(
        reasons[0].contains("keys and values of requestObject.data"),
        "{cm:#}"
    );
    assert!(reasons[1].starts_with("converted disabled"), "{cm:#}");
    // Output fields Ward cannot render make a rule partial, saying which.
    let exec = detail(&report, "Attach/Exec Pod");
    assert_eq!(exec["status"], "partial");
    assert!(exec["reasons"][0]
        .as_str()
        .expect("reason")
        .contains("ka.uri.param[command]"));
    // A path of the original the schema does not have is reported (a
    // defect of the original: the ephemeralcontainers body is a Pod).
    let eph = detail(&report, "EphemeralContainers Created");
    assert_eq!(eph["status"], "partial");
    assert!(
        eph["reasons"][0]
            .as_str()
            .expect("reason")
            .contains("requestObject.ephemeralContainers"),
        "{eph:#}"
    );

    // `ward check` on the output: no error, no warning.
    let out_s = out.display().to_string();
    let (check_code, _, check_err) = ward(&["check", out_s.as_str()]);
    assert_eq!(check_code, 0, "{check_err}");
    assert!(
        check_err.contains("0 error(s), 0 warning(s)"),
        "{check_err}"
    );
    // No rule skipped and no findings (four are partial, saying why).
    assert_eq!(code, 0);

    let main = std::fs::read_to_string(out.join("k8s_audit_rules.ward")).expect("main");
    assert_eq!(
        block(&main, "rule create_privileged_pod {"),
        r#"rule create_privileged_pod {
  title       "Create Privileged Pod"
  description "Converted from Falco rule Create Privileged Pod. Detect an attempt to start a pod with a privileged container"
  severity    medium
  tags        [k8s]
  when        kevt
              and pod
              and kcreate
              and any c in requestObject.spec.containers: (c.securityContext.privileged == true)
  except      all c in requestObject.spec.containers: (c.image glob k8s_audit_privileged_images_repository)
  output      "Pod started with privileged container (user={user.username} pod={responseObject.metadata.name} resource={objectRef.resource} ns={objectRef.namespace} images={requestObject.spec.containers})"
}
"#
    );
    assert_eq!(
        block(&main, "rule clusterrole_with_wildcard_created {"),
        r#"rule clusterrole_with_wildcard_created {
  title       "ClusterRole With Wildcard Created"
  description "Converted from Falco rule ClusterRole With Wildcard Created. Detect any attempt to create a Role/ClusterRole with wildcard resources or verbs"
  severity    medium
  tags        [k8s]
  when        kevt
              and (role or clusterrole)
              and kcreate
              and (objectRef.resource in ["roles", "clusterroles"]
                   and (any r in requestObject.rules: (any x in r.resources: (x == "*"))
                        or any r in requestObject.rules: (any x in r.verbs: (x == "*"))))
  output      "Created Role/ClusterRole with wildcard (user={user.username} role={objectRef.name} resource={objectRef.resource} rules={requestObject.rules})"
}
"#
    );
    // `and not ...` conjuncts become excepts; an empty Falco list a site
    // appends to becomes a `fill list`.
    assert_eq!(
        block(
            &main,
            "rule untrusted_node_successfully_joined_the_cluster {"
        ),
        r#"rule untrusted_node_successfully_joined_the_cluster {
  title       "Untrusted Node Successfully Joined the Cluster"
  description "Converted from Falco rule Untrusted Node Successfully Joined the Cluster. Detect a node successfully joined the cluster outside of the list of allowed nodes."
  severity    high
  tags        [k8s]
  when        kevt and node and kcreate and response_successful
  except      allow_all_k8s_nodes
  except      objectRef.name in allowed_k8s_nodes
  output      "Node not in allowed list successfully joined the cluster (user={user.username} node={objectRef.name} resource={objectRef.resource})"
}
"#
    );
    assert!(main.contains("fill list allowed_k8s_nodes = []\n"));
    assert!(main.contains(
        "macro response_successful = (responseStatus.code >= 200 and responseStatus.code < 300)\n"
    ));
    assert!(main.contains("macro kevt = stage in k8s_audit_stages\n"));

    // GKE's rule exception (override: exceptions: append) is a tune with
    // an except; its list appends extend the lists of the main file.
    let gke = std::fs::read_to_string(out.join("k8s_audit_rules_gke.ward")).expect("gke");
    assert!(
        gke.contains(
            "tune rule disallowed_k8s_user {\n  except user.username endswith \"@container-engine-robot.iam.gserviceaccount.com\"\n}\n"
        ),
        "{gke}"
    );
    assert!(gke.contains("extend list k8s_audit_privileged_images_repository ["));
    assert_eq!(
        detail(&report, "Dummy rule")["ward_rule"],
        "dummy_rule",
        "the EKS file's rule"
    );
}

#[test]
fn converted_privileged_pod_rule_fires_on_the_sample() {
    let out = out_dir("scan");
    let (_, report) = import(&vendored(), &out);
    assert_eq!(
        detail(&report, "Create Privileged Pod")["status"],
        "converted"
    );
    let sample = root()
        .join("rules/k8s/samples/k8s_privileged_container/alert.jsonl")
        .display()
        .to_string();
    let out_s = out.display().to_string();
    let (_, stdout, stderr) = ward(&["scan", "--no-event", "--rules", out_s.as_str(), &sample]);
    let alerts: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let fired: Vec<&Value> = alerts
        .iter()
        .filter(|a| a["rule"] == "create_privileged_pod")
        .collect();
    assert!(!fired.is_empty(), "{stdout}\n{stderr}");
    let first = fired[0];
    assert_eq!(first["severity"], "medium");
    assert_eq!(first["input"]["line"], 1);
    assert!(
        first["output"]
            .as_str()
            .expect("output")
            .starts_with("Pod started with privileged container (user=k8s-test-user pod="),
        "{first:#}"
    );
}

#[test]
fn converted_configmap_rule_is_disabled_until_a_site_enables_it() {
    let out = out_dir("configmap");
    import(&vendored(), &out);
    let text = std::fs::read_to_string(out.join("k8s_audit_rules.ward")).expect("converted");
    let rule = block(
        &text,
        "rule create_modify_configmap_with_private_credentials {",
    );
    assert!(rule.contains("  enabled     false\n"), "{rule}");
    let sample = root()
        .join("rules/k8s/samples/k8s_configmap_with_credentials/alert.jsonl")
        .display()
        .to_string();
    // The site layer beside the converted files, not among them.
    let site = out_dir("configmap-site");
    std::fs::create_dir_all(&site).expect("site dir");
    std::fs::write(
        site.join("opt_in.ward"),
        "tune rule create_modify_configmap_with_private_credentials {\n  enabled true\n}\n",
    )
    .expect("site file");
    let fired = |rules: &[&str]| -> Vec<u64> {
        let mut args = vec!["scan", "--no-event"];
        for r in rules {
            args.extend(["--rules", r]);
        }
        args.push(&sample);
        let (_, stdout, _) = ward(&args);
        (stdout.lines())
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|a| a["rule"] == "create_modify_configmap_with_private_credentials")
            .filter_map(|a| a["input"]["line"].as_u64())
            .collect()
    };
    let (out_s, site_s) = (out.display().to_string(), site.display().to_string());
    assert_eq!(fired(&[&out_s]), Vec::<u64>::new());
    // Falco's substrings, case-sensitive: the AWS key file (line 2) and
    // `spring.datasource.password=` (line 3); not `DB_PASSWORD`, a Slack
    // token or a private key, which the bundled rule also finds.
    assert_eq!(fired(&[&out_s, &site_s]), vec![2, 3]);
}

#[test]
fn other_sources_and_modifications() {
    let dir = common::dir(
        "falco-inline",
        &[(
            "rules.yaml",
            r#"
- list: shells
  items: [bash, sh]
- list: admins
  items: [alice]
- macro: exec_like
  condition: ka.target.subresource in (exec, attach)
- rule: Shell Spawned
  desc: A syscall rule.
  condition: spawned_process and proc.name in (shells)
  output: shell %proc.name
  priority: ERROR
- rule: Exec By Group
  desc: Exec by a member of a group.
  condition: exec_like and ka.user.groups intersects (devs, ops) and ka.uri.param[command] = sh
  output: exec by %ka.user.name groups=%ka.user.groups
  priority: CRITICAL
  source: k8s_audit
  enabled: false
  tags: [k8s, mitre_execution, T1609]
  exceptions:
    - name: trusted
      fields: [ka.user.name, ka.target.namespace]
      comps: [in, startswith]
      values:
        - [admins, ci-]
        - [[bob, carol], kube-]
- list: admins
  items: [dave]
  append: true
- macro: exec_like
  condition: or ka.target.subresource = portforward
  append: true
- rule: Broken
  condition: ka.verb = = get
  source: k8s_audit
"#,
        )],
    );
    let out = out_dir("inline");
    let input = dir.join("rules.yaml").display().to_string();
    let (_, report) = import(&[input], &out);
    let shell = detail(&report, "Shell Spawned");
    assert_eq!(shell["status"], "skipped");
    assert!(shell["reasons"][0]
        .as_str()
        .expect("reason")
        .contains("source syscall is not k8s_audit"));
    let broken = detail(&report, "Broken");
    assert_eq!(broken["status"], "skipped");
    assert!(broken["reasons"][0]
        .as_str()
        .expect("reason")
        .contains("does not parse"));
    let ex = detail(&report, "Exec By Group");
    assert_eq!(ex["status"], "partial", "{ex:#}");
    assert_eq!(ex["findings"], Value::Array(vec![]), "{ex:#}");

    let text = std::fs::read_to_string(out.join("rules.ward")).expect("written");
    assert!(
        text.contains("list admins = [\"alice\", \"dave\"]\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "macro exec_like = objectRef.subresource in [\"exec\", \"attach\"]\n                  or objectRef.subresource == \"portforward\"\n"
        ),
        "{text}"
    );
    assert_eq!(
        block(&text, "rule exec_by_group {"),
        r#"rule exec_by_group {
  title       "Exec By Group"
  description "Converted from Falco rule Exec By Group. Exec by a member of a group."
  severity    critical
  tags        [k8s, attack.execution, attack.t1609]
  enabled     false
  when        exec_like
              and any g in user.groups: (g in ["devs", "ops"])
              and requestURI contains "command=sh"
  except      user.username in admins and objectRef.namespace startswith "ci-"
  except      user.username in ["bob", "carol"] and objectRef.namespace startswith "kube-"
  output      "exec by {user.username} groups={user.groups}"
}
"#
    );
    let out_s = out.display().to_string();
    let (code, _, err) = ward(&["check", out_s.as_str()]);
    assert_eq!(code, 0, "{err}");
}

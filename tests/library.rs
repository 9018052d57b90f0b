//! The bundled library: it checks without a warning, and every rule's
//! samples pass `ward test` with full leaf coverage.

fn ward(args: &[&str]) -> (u8, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("ward").chain(args.iter().copied());
    let code = ward_runtime::cli::run(argv, &mut out, &mut err);
    (
        code,
        format!(
            "{}{}",
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        ),
    )
}

fn rules() -> String {
    repo("rules")
}

/// The example site layer that fills the library's `fill list`s.
fn site() -> String {
    repo("tests/site")
}

fn repo(path: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .display()
        .to_string()
}

/// The rules that read a `fill list`, and the list each reads.
const INACTIVE: &[(&str, &str)] = &[
    ("eks_change_in_unexpected_region", "eks_expected_regions"),
    ("k8s_request_from_threat_intel_ip", "threat_intel_cidrs"),
    ("k8s_image_from_disallowed_registry", "allowed_registries"),
    (
        "k8s_public_source_to_system_namespace",
        "known_public_cidrs",
    ),
    (
        "k8s_namespace_created_outside_allowed",
        "allowed_namespaces",
    ),
    ("k8s_user_outside_allowed", "allowed_k8s_users"),
    ("k8s_full_admin_user_activity", "full_admin_k8s_users"),
    ("k8s_untrusted_node_joined", "allowed_k8s_nodes"),
    ("k8s_untrusted_node_join_refused", "allowed_k8s_nodes"),
    ("k8s_untrusted_node_create_failed", "allowed_k8s_nodes"),
    (
        "k8s_system_identity_from_public_address",
        "known_public_cidrs",
    ),
    (
        "k8s_config_written_by_helm_or_automation",
        "routine_config_writers",
    ),
    (
        "k8s_secret_read_by_service_account",
        "routine_secret_readers",
    ),
];

#[test]
fn bundled_rules_check_clean() {
    let (code, out) = ward(&["check", "--deny", "warnings", &rules()]);
    assert_eq!(code, 0, "{out}");
    // The rules that read an unfilled `fill list` are named, each once.
    for (rule, list) in INACTIVE {
        assert_eq!(out.matches(&format!("{rule} ({list})")).count(), 1, "{out}");
    }
    assert!(
        out.contains("13 rule(s) inactive until their lists are filled"),
        "{out}"
    );
    let (code, out) = ward(&["check", "--deny", "warnings", &rules(), &site()]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("inactive"), "{out}");
}

/// Without a site layer, the rules of `fill list`s are skipped (and said
/// to be inactive), the rule that ships disabled (it reads opt-in
/// ConfigMap data) is skipped as disabled, the others pass.
#[test]
fn bundled_rules_of_unfilled_lists_are_inactive() {
    let (code, out) = ward(&["test", &rules()]);
    assert_eq!(code, 0, "{out}");
    let mut skipped: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIP")).collect();
    skipped.sort_unstable();
    let mut want: Vec<String> = INACTIVE
        .iter()
        .map(|(rule, list)| {
            format!("SKIP {rule}: inactive until filled: {list} (load a file that extends it to test the rule)")
        })
        .collect();
    want.push("SKIP k8s_configmap_with_credentials: disabled".to_string());
    want.sort_unstable();
    assert_eq!(skipped, want, "{out}");
}

#[test]
fn bundled_rules_pass_their_samples_with_full_coverage() {
    let (code, out) = ward(&["test", "--coverage", &rules(), &site()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 failed"), "{out}");
    // Every rule is tested, stateful ones included; none is skipped.
    let skipped: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIP")).collect();
    assert!(skipped.is_empty(), "no rule may be skipped: {out}");
}

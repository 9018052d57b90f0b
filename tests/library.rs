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
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rules")
        .display()
        .to_string()
}

#[test]
fn bundled_rules_check_clean() {
    let (code, out) = ward(&["check", "--deny", "warnings", &rules()]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn bundled_rules_pass_their_samples_with_full_coverage() {
    let (code, out) = ward(&["test", "--coverage", &rules()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 failed"), "{out}");
    // Every rule is tested, stateful ones included; none is skipped.
    let skipped: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIP")).collect();
    assert!(skipped.is_empty(), "no rule may be skipped: {out}");
}

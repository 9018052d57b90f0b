//! The `ward` process itself (its main thread's stack, not a test
//! thread's) on rules written to exhaust it: a diagnostic, never an abort.

use std::process::Command;

mod common;

/// A chain of a thousand quantifiers or more overflowed the checker's
/// stack and the process aborted (at 1,000 in a debug build, 3,000 in a
/// release one; in a test thread pest's own limit stops it first, so this
/// runs the binary). It is an E001 now, from check and scan alike.
#[test]
fn quantifiers_nested_thousands_deep_are_an_error_not_an_abort() {
    for n in [1500, 5000] {
        let body: String = (0..n).map(|i| format!("any x{i} in l: ")).collect();
        let text =
            format!("source k8s.audit\nlist l = [\"a\"]\nrule r {{ when {body}x0 == \"a\" }}\n");
        let d = common::fresh_dir("hostile-quantifiers");
        std::fs::write(d.join("r.ward"), &text).expect("write");
        let check = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args(["check".as_ref(), d.as_os_str()])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&check.stderr);
        let out = String::from_utf8_lossy(&check.stdout);
        assert_eq!(check.status.code(), Some(1), "{n}: {err}");
        assert!(out.contains("E001"), "{out}");
        let scan = Command::new(env!("CARGO_BIN_EXE_ward"))
            .args([
                "scan".as_ref(),
                "--rules".as_ref(),
                d.as_os_str(),
                "/dev/null".as_ref(),
            ])
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&scan.stderr);
        assert_eq!(scan.status.code(), Some(2), "{n}: {err}");
        assert!(err.contains("E001"), "{err}");
    }
}

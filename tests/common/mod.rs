//! Helpers shared by the end-to-end tests: run the CLI in-process.
// Each test crate uses a different subset.
#![allow(dead_code)]

/// Runs `ward ARGS...` with `stdin`; returns (exit code, stdout, stderr).
pub fn ward_in(args: &[&str], stdin: &[u8]) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("ward").chain(args.iter().copied());
    let code = ward_runtime::cli::run_io(argv, &mut &stdin[..], &mut out, &mut err);
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

/// Runs `ward ARGS...` with an empty stdin.
pub fn ward(args: &[&str]) -> (u8, String, String) {
    ward_in(args, b"")
}

/// A fresh temporary directory holding `files` (path relative to it, text).
pub fn dir(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ward-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for (f, text) in files {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().expect("file in a dir")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }
    d
}

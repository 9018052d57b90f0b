//! A parallel scan whose stateful rules are cut across the workers (see
//! spec/inputs.md "Threads"), reading a pipe between two files: the pipe is
//! read on the reading thread, each of its events answered by the shards
//! before the next is read, and the output is the one-thread scan's. This
//! runs the binary: only a real pipe makes standard input a stream.

use std::io::Write;
use std::process::{Command, Stdio};

mod common;

/// The rules of tests/parallel.rs: counts, a distinct count, sequences
/// (one ending in an absence) and a stateless rule.
const RULES: &str = include_str!("../../tests/common/parallel.ward");

fn scan(d: &std::path::Path, threads: &str, stdin: &[u8]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(["scan", "--threads", threads, "--batch-bytes", "4096"])
        .arg("--rules")
        .arg(d.join("rules.ward"))
        .arg(d.join("a.jsonl"))
        .arg("-")
        .arg(d.join("c.jsonl"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || pipe.write_all(&input));
    let out = child.wait_with_output().expect("ends");
    feeder.join().expect("feeds").expect("writes");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("worker"), "{err}");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_pipe_between_files_gives_the_one_thread_alerts_with_stateful_rules_sharded() {
    let d = common::fresh_dir("parallel-stream");
    let events = ward_runtime::corpus::k8s_events(9_000, 7);
    std::fs::write(d.join("rules.ward"), RULES).expect("write");
    std::fs::write(d.join("a.jsonl"), events[..3_000].join("\n") + "\n").expect("write");
    std::fs::write(d.join("c.jsonl"), events[6_000..].join("\n") + "\n").expect("write");
    let piped = events[3_000..6_000].join("\n") + "\n";
    let (code, one) = scan(&d, "1", piped.as_bytes());
    assert_eq!(code, Some(1));
    for rule in [
        "refused_then_write",
        "deleted_and_not_recreated",
        "exec_anywhere",
    ] {
        assert!(
            one.contains(&format!("\"rule\":\"{rule}\"")),
            "{rule} never fired: the comparison would prove nothing"
        );
    }
    // Alerts of events read from the pipe are among them.
    assert!(one.contains("\"file\":\"-\""), "no alert from the pipe");
    for threads in ["2", "4"] {
        let (c, many) = scan(&d, threads, piped.as_bytes());
        assert_eq!(c, code, "exit code at {threads} threads");
        assert!(many == one, "alerts differ at {threads} threads");
    }
}

//! A parallel scan whose stateful rules are cut across the workers (see
//! spec/inputs.md "Threads"), reading a pipe between two files: the pipe is
//! read on the reading thread, each of its events answered by the shards
//! before the next is read, and the output is the one-thread scan's. This
//! runs the binary: only a real pipe makes standard input a stream.

use std::io::Write;
use std::process::{Command, Stdio};

mod common;

const RULES: &str = r#"source k8s.audit

rule refused_burst {
  severity medium
  when     responseStatus.code in [401, 403]
  count    by user.username within 5m > 5
  output   "refused burst by {user.username}"
}

rule refused_then_write {
  severity high
  sequence by user.username within 10m {
    refused: responseStatus.code == 403
    write:   responseStatus.code < 300 and verb in ["create", "patch", "update", "delete"]
  }
  output   "refused then a write by {user.username}"
}

rule deleted_and_not_recreated {
  severity low
  sequence by objectRef.namespace, objectRef.name within 1m {
    deleted:       verb == "delete"
    not recreated: verb == "create"
  }
  output   "{objectRef.name} deleted and not created again"
}

rule exec_anywhere {
  severity low
  when     objectRef.subresource == "exec"
  output   "exec in {objectRef.namespace}"
}
"#;

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

//! `ward scan -` on a live pipe, as `tail -F file | ward scan -` runs it:
//! an alert goes out as soon as its event is read, not when input ends;
//! SIGINT and SIGTERM end the scan as the end of input would (alerts
//! written, summary printed, exit status as usual). Runs the real binary,
//! with two threads: the stateful rules are then cut across the workers,
//! whose alerts must go out before the scan waits for more input.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const EXEC: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"a1","stage":"ResponseStarted","requestURI":"/api/v1/namespaces/prod/pods/web/exec?command=sh","verb":"create","user":{"username":"alice"},"sourceIPs":["198.51.100.7"],"objectRef":{"resource":"pods","namespace":"prod","name":"web","subresource":"exec","apiVersion":"v1"},"responseStatus":{"code":101},"stageTimestamp":"2024-01-01T00:00:00Z","annotations":{"authorization.k8s.io/decision":"allow"}}"#;

/// Runs `ward ARGS` with piped input; its output lines arrive on the
/// receiver as they are written.
fn spawn(args: &[&std::ffi::OsStr]) -> (Child, ChildStdin, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ward"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ward runs");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                return;
            }
        }
    });
    (child, stdin, rx)
}

/// Waits for `child` to exit; its status and what it wrote on stderr.
fn wait(mut child: Child) -> (std::process::ExitStatus, String) {
    let status = child.wait().expect("ward exits");
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    (status, err)
}

fn stops_on(signal: libc::c_int) {
    let args = ["scan", "--threads", "2", "--no-event", "-"].map(std::ffi::OsStr::new);
    let (child, mut stdin, rx) = spawn(&args);
    writeln!(stdin, "{EXEC}").expect("write an event");
    stdin.flush().expect("flush");
    // The input stays open: the alert must come anyway.
    let alert = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("an alert while the input is still open");
    assert!(alert.contains("\"rule\":\"k8s_exec_into_pod\""), "{alert}");
    let pid = i32::try_from(child.id()).expect("pid");
    // SAFETY: a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let (status, err) = wait(child);
    drop(stdin);
    assert_eq!(status.code(), Some(1), "alerts were found: {err}");
    assert!(err.contains("stopped by a signal"), "{err}");
    assert!(err.contains("1 event(s) (k8s.audit 1), "), "{err}");
}

#[test]
fn sigint_ends_a_scan_as_end_of_input_does() {
    stops_on(libc::SIGINT);
}

#[test]
fn sigterm_ends_a_scan_as_end_of_input_does() {
    stops_on(libc::SIGTERM);
}

/// A stateful rule on a live pipe: the second event has no time, so it is
/// placed at the first one's and held with it until event time moves 5m on,
/// which on a quiet stream it never does. `--max-idle 1s` releases both
/// once event time has stood still a second by the wall clock: the alert
/// comes while the input is still open, and the summary counts the two
/// events released early.
#[test]
fn held_events_are_released_when_a_stream_idles() {
    let dir = std::env::temp_dir().join(format!("ward-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("twice.ward"),
        "source k8s.audit\nrule exec_twice {\n  title \"Two execs\"\n  severity low\n  \
         when objectRef.subresource == \"exec\"\n  count by user.username within 5m >= 2\n}\n",
    )
    .expect("rule file");
    let args = [
        "scan",
        "--threads",
        "2",
        "--no-event",
        "--max-idle",
        "1s",
        "--rules",
    ]
    .map(std::ffi::OsStr::new);
    let (child, mut stdin, rx) = spawn(&[&args[..], &[dir.as_os_str(), "-".as_ref()]].concat());
    let untimed = EXEC.replace(r#","stageTimestamp":"2024-01-01T00:00:00Z""#, "");
    assert_ne!(untimed, EXEC);
    writeln!(stdin, "{EXEC}\n{untimed}").expect("write events");
    stdin.flush().expect("flush");
    let start = std::time::Instant::now();
    let alert = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("an alert while the input is still open");
    assert!(alert.contains("\"rule\":\"exec_twice\""), "{alert}");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "not before the stream idled"
    );
    drop(stdin);
    let (status, err) = wait(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("2 event(s) released to stateful rules before --lateness 5m ran out: event time stood still for --max-idle 1s on a stream"),
        "{err}"
    );
    assert!(err.contains("1 event(s) without a readable time"), "{err}");
}

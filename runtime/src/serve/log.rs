//! Log lines from the server's threads, on stderr.
//!
//! The main thread holds `std::io::stderr()`'s lock for the whole run
//! (main.rs), so `eprintln!` from another thread would wait for ever:
//! lines go to a duplicate of file descriptor 2 instead, each in one
//! `write`, so that lines of different threads do not mix.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::OnceLock;

static STDERR: OnceLock<Option<File>> = OnceLock::new();

/// Writes `ward serve: LINE` and a newline to stderr; a failure to log is
/// ignored (there is nowhere left to report it).
pub fn log(line: std::fmt::Arguments<'_>) {
    let file = STDERR.get_or_init(|| {
        let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
        Some(File::from(fd))
    });
    if let Some(mut f) = file.as_ref() {
        let _ = f.write_all(format!("ward serve: {line}\n").as_bytes());
    }
}
